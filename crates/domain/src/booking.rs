//! The booking rules (DESIGN §2, rules 1–4 and 7), one implementation for both sides: the desk
//! runs them to predict, the central platform runs them to decide.
//!
//! Every function here is pure. The caller loads what the rule needs — the target slot with
//! the queue numbers already held in it, the patient's live bookings, the alternatives to
//! suggest — and gets back a decision or a [`Refusal`] with a stable machine code.
//! [`decide_in_day`] is the whole decision over one department-day (choosing the target, the
//! number, the suggestions), as the platform's back-ends ask it; [`Booking::granted`] builds
//! the booking a grant makes.

use jiff::civil::{Date, DateTime, Time};
use serde::{Deserialize, Serialize};

use crate::Lang;
use crate::schedule::{
    BookingId, Channel, DepartmentId, DeviceId, PatientId, Pool, ProviderId, Session, SessionId, SessionStatus, SiteId,
    Slot, SlotId,
};
use crate::ticket::TicketCode;

/// Where a booking is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BookingStatus {
    /// Holds a number; the patient has not arrived yet.
    Booked,
    /// The patient arrived and is in the queue.
    CheckedIn,
    /// Seen by the provider.
    Done,
    /// Cancelled: the number is free again.
    Cancelled,
    /// The patient never came.
    NoShow,
}

impl BookingStatus {
    /// True while the booking still holds its queue number (everything but cancelled): a
    /// number that was used or missed is not handed out again the same session.
    pub fn holds_number(self) -> bool {
        self != BookingStatus::Cancelled
    }

    /// True while the booking is live for the one-booking-per-department-per-day rule.
    pub fn is_active(self) -> bool {
        matches!(self, BookingStatus::Booked | BookingStatus::CheckedIn)
    }

    /// Stable code.
    pub fn code(self) -> &'static str {
        match self {
            BookingStatus::Booked => "booked",
            BookingStatus::CheckedIn => "checked_in",
            BookingStatus::Done => "done",
            BookingStatus::Cancelled => "cancelled",
            BookingStatus::NoShow => "no_show",
        }
    }

    /// Parses [`BookingStatus::code`].
    pub fn parse(s: &str) -> Option<BookingStatus> {
        match s {
            "booked" => Some(BookingStatus::Booked),
            "checked_in" => Some(BookingStatus::CheckedIn),
            "done" => Some(BookingStatus::Done),
            "cancelled" => Some(BookingStatus::Cancelled),
            "no_show" => Some(BookingStatus::NoShow),
            _ => None,
        }
    }

    /// Display name.
    pub fn label(self, lang: Lang) -> &'static str {
        match self {
            BookingStatus::Booked => lang.pick("已预约", "Booked"),
            BookingStatus::CheckedIn => lang.pick("已签到", "Checked in"),
            BookingStatus::Done => lang.pick("已就诊", "Done"),
            BookingStatus::Cancelled => lang.pick("已取消", "Cancelled"),
            BookingStatus::NoShow => lang.pick("未到诊", "No-show"),
        }
    }

    /// The status after `action`, or why the action is not possible now.
    pub fn apply(self, action: BookingAction) -> Result<BookingStatus, BookingError> {
        use BookingAction as A;
        use BookingStatus as S;
        match (self, action) {
            (S::Booked, A::CheckIn) => Ok(S::CheckedIn),
            (S::CheckedIn, A::Complete) => Ok(S::Done),
            (S::Booked, A::Cancel) => Ok(S::Cancelled),
            (S::Booked, A::MarkNoShow) => Ok(S::NoShow),
            (S::CheckedIn | S::Done, A::CheckIn) => Err(BookingError::TicketAlreadyUsed),
            (S::Cancelled, _) => Err(BookingError::BookingCancelled),
            (from, action) => Err(BookingError::InvalidTransition { from, action }),
        }
    }
}

/// Something done to an existing booking.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BookingAction {
    /// The patient arrived.
    CheckIn,
    /// The visit is over.
    Complete,
    /// The booking is withdrawn.
    Cancel,
    /// The patient did not come.
    MarkNoShow,
}

impl BookingAction {
    fn label(self, lang: Lang) -> &'static str {
        match self {
            BookingAction::CheckIn => lang.pick("签到", "check in"),
            BookingAction::Complete => lang.pick("完成就诊", "complete"),
            BookingAction::Cancel => lang.pick("取消", "cancel"),
            BookingAction::MarkNoShow => lang.pick("标记爽约", "mark as no-show"),
        }
    }
}

/// A booking (预约/挂号).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Booking {
    /// Platform-wide id (UUIDv7).
    pub id: BookingId,
    /// The site.
    pub site_id: SiteId,
    /// Who.
    pub patient_id: PatientId,
    /// Which slot.
    pub slot_id: SlotId,
    /// The slot's session.
    pub session_id: SessionId,
    /// The session's department.
    pub department_id: DepartmentId,
    /// The session's date.
    pub date: Date,
    /// The number the patient is called by; unique in the session.
    pub queue_no: u32,
    /// Where it was made.
    pub channel: Channel,
    /// Where it is in its life.
    pub status: BookingStatus,
    /// The code on the printed ticket; unique platform-wide.
    pub ticket_code: TicketCode,
    /// Set when an admin booked beyond capacity, with the reason they gave.
    pub overbook_reason: Option<String>,
}

impl Booking {
    /// The booking a [`Grant`] makes in `state`'s slot: status booked, site, session,
    /// department and date from the slot's session, and the admin's reason kept only when the
    /// grant is an overbook.
    pub fn granted(
        id: BookingId,
        patient_id: PatientId,
        state: &SlotState,
        grant: Grant,
        channel: Channel,
        ticket_code: TicketCode,
        overbook_reason: Option<&str>,
    ) -> Booking {
        Booking {
            id,
            site_id: state.session.site_id.clone(),
            patient_id,
            slot_id: state.slot.id.clone(),
            session_id: state.session.id.clone(),
            department_id: state.session.department_id.clone(),
            date: state.session.date,
            queue_no: grant.queue_no,
            channel,
            status: BookingStatus::Booked,
            ticket_code,
            overbook_reason: if grant.overbooked { overbook_reason.map(str::to_string) } else { None },
        }
    }
}

/// A slot as the rules see it: the slot, its session and the numbers already held in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlotState {
    /// The session the slot belongs to.
    pub session: Session,
    /// The slot.
    pub slot: Slot,
    /// Queue numbers held by live (not cancelled) bookings in this slot, overbooks excluded.
    pub taken: Vec<u32>,
    /// Desk-pool numbers of this slot leased to a desk and not spent yet, with the desk
    /// (capacity leases, [`crate::lease`]): nobody else may take them while the lease lives.
    pub leased: Vec<(u32, DeviceId)>,
}

impl SlotState {
    /// True when `n` is held by a booking or leased to a desk.
    pub fn is_held(&self, n: u32) -> bool {
        self.taken.contains(&n) || self.leased.iter().any(|(m, _)| *m == n)
    }

    /// The desk `n` is leased to, if it is leased.
    pub fn lessee(&self, n: u32) -> Option<&DeviceId> {
        self.leased.iter().find(|(m, _)| *m == n).map(|(_, d)| d)
    }

    /// The numbers of this slot leased to `device` and not spent, lowest first.
    pub fn leased_to(&self, device: &DeviceId) -> Vec<u32> {
        let mut v: Vec<u32> = self.leased.iter().filter(|(_, d)| d == device).map(|(n, _)| *n).collect();
        v.sort_unstable();
        v
    }

    /// Free numbers of a pool (neither booked nor leased), lowest first.
    pub fn free_numbers(&self, pool: Pool) -> impl Iterator<Item = u32> + '_ {
        self.slot.pool_numbers(pool).filter(move |n| !self.is_held(*n))
    }

    /// How many numbers of a pool are still free (neither booked nor leased).
    pub fn remaining(&self, pool: Pool) -> u32 {
        self.free_numbers(pool).count() as u32
    }

    /// When the slot starts and ends, on its session's date.
    pub fn window(&self) -> (DateTime, DateTime) {
        (self.slot.starts_at(self.session.date), self.slot.ends_at(self.session.date))
    }

    /// True once the slot is over at `now` (its end instant included).
    pub fn ended(&self, now: DateTime) -> bool {
        now >= self.window().1
    }

    /// Rule 3: is the slot open to `channel` at `now`, capacity aside? The session must be
    /// open and the slot not ended; only the desk may take a slot that has started (a walk-in).
    pub fn open_for(&self, channel: Channel, now: DateTime) -> Result<(), BookingError> {
        match self.session.status {
            SessionStatus::Open => {}
            SessionStatus::Suspended => {
                return Err(BookingError::SessionSuspended { reason: self.session.status_reason.clone() });
            }
            SessionStatus::Cancelled => return Err(BookingError::SessionCancelled),
        }
        if self.ended(now) {
            return Err(BookingError::SlotEnded);
        }
        // A walk-in may take the current slot until it ends; other channels book ahead.
        if now >= self.window().0 && channel != Channel::Desk {
            return Err(BookingError::SlotStarted);
        }
        Ok(())
    }

    /// How many numbers `channel` could still book here at `now`: the free numbers of its
    /// pool while the slot is open to it ([`SlotState::open_for`]), otherwise none.
    pub fn open_remaining(&self, channel: Channel, now: DateTime) -> u32 {
        match self.open_for(channel, now) {
            Ok(()) => self.remaining(channel.pool()),
            Err(_) => 0,
        }
    }

    /// Whether a booking from `channel` could go into this slot at `now` as far as the slot
    /// itself is concerned (session open, not ended, a free number in the pool).
    pub fn bookable(&self, channel: Channel, now: DateTime) -> bool {
        self.open_remaining(channel, now) > 0
    }

    /// The order in which the rules offer slots: date, start, first queue number, id. The one
    /// ranking behind [`earliest_bookable`], [`bookable_in_order`] and every suggestion.
    pub fn rank(&self) -> (Date, Time, u32, &SlotId) {
        (self.session.date, self.slot.start, self.slot.first_queue_no, &self.slot.id)
    }
}

/// Which queue number a booking asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueueChoice {
    /// The lowest free number of the channel's pool.
    Lowest,
    /// Exactly this number, when it is free (one the desk already printed).
    Exactly(u32),
    /// This number when it is free and one of the channel's pool, else the lowest free one
    /// (a number the desk chose without a lease).
    Prefer(u32),
    /// A number the desk spent from its capacity lease ([`crate::lease`]): granted whatever
    /// happened to the slot since (it filled up, it started or ended — the desk checked it
    /// was open when it spent the number), unless the session was suspended or cancelled or
    /// the patient already holds a booking in the department that day. When the number is no
    /// longer leased to the desk ([`BookingRequest::device`]) — the lease expired while the
    /// desk was away, or an old copy of the desk spent it again — it is granted only if
    /// still free, and otherwise refused with [`BookingError::LeaseLost`].
    Leased(u32),
}

/// A request to book a patient into a slot.
#[derive(Debug, Clone, Copy)]
pub struct BookingRequest<'a> {
    /// Who.
    pub patient_id: &'a PatientId,
    /// Through which channel.
    pub channel: Channel,
    /// Now, in the site's time zone.
    pub now: DateTime,
    /// Which number.
    pub queue_no: QueueChoice,
    /// An admin's reason to book beyond capacity; `None` for every ordinary booking.
    pub overbook_reason: Option<&'a str>,
    /// The desk booking, when a desk books (whose lease a [`QueueChoice::Leased`] spends).
    pub device: Option<&'a DeviceId>,
}

/// The number a booking gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Grant {
    /// The queue number.
    pub queue_no: u32,
    /// True when the number lies beyond the slot's capacity (an admin's overbook).
    pub overbooked: bool,
}

/// A better slot to offer when a booking is refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Suggestion {
    /// The slot.
    pub slot_id: SlotId,
    /// Its session.
    pub session_id: SessionId,
    /// Its provider.
    pub provider_id: ProviderId,
    /// Its date.
    pub date: Date,
    /// Start.
    pub start: Time,
    /// End.
    pub end: Time,
    /// Free numbers left in the channel's pool.
    pub remaining: u32,
}

impl Suggestion {
    fn of(state: &SlotState, pool: Pool) -> Suggestion {
        Suggestion {
            slot_id: state.slot.id.clone(),
            session_id: state.session.id.clone(),
            provider_id: state.session.provider_id.clone(),
            date: state.session.date,
            start: state.slot.start,
            end: state.slot.end,
            remaining: state.remaining(pool),
        }
    }
}

/// Why a booking rule refused. Each has a stable machine code ([`BookingError::code`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[serde(tag = "code", rename_all = "snake_case")]
pub enum BookingError {
    /// Rule 1: no free number left in the channel's pool of the slot.
    #[error("the slot has no free number left in the {pool:?} pool")]
    SlotFull {
        /// The pool that is full.
        pool: Pool,
    },
    /// Rule 2: the patient already holds a live booking in this department that day.
    #[error("the patient already has a booking in this department that day")]
    PatientAlreadyBooked {
        /// The booking they hold.
        existing: BookingId,
    },
    /// Rule 3: the session is suspended (停诊).
    #[error("the session is suspended")]
    SessionSuspended {
        /// The reason given, if any.
        reason: Option<String>,
    },
    /// Rule 3: the session is cancelled.
    #[error("the session is cancelled")]
    SessionCancelled,
    /// Rule 3: the slot is over.
    #[error("the slot has ended")]
    SlotEnded,
    /// Rule 3: only the desk may take a slot that has already started (a walk-in).
    #[error("the slot has already started")]
    SlotStarted,
    /// Rule 4: the queue number asked for is held by another booking.
    #[error("queue number {queue_no} is already taken")]
    QueueNumberTaken {
        /// The number asked for.
        queue_no: u32,
    },
    /// The queue number asked for is not one of the pool's numbers in this slot.
    #[error("queue number {queue_no} does not belong to this slot's {pool:?} pool")]
    QueueNumberOutOfPool {
        /// The number asked for.
        queue_no: u32,
        /// The pool.
        pool: Pool,
    },
    /// No slot of the department or provider can take a booking now.
    #[error("no bookable slot")]
    NoSlotAvailable,
    /// Rule 7: the ticket belongs to another site.
    #[error("the ticket belongs to another site")]
    TicketForeignSite,
    /// Rule 7: the ticket was already used to check in.
    #[error("the ticket was already used")]
    TicketAlreadyUsed,
    /// Rule 7: the ticket is for another day.
    #[error("the ticket is for {date}, not today")]
    TicketNotToday {
        /// The booking's date.
        date: Date,
    },
    /// The booking was cancelled.
    #[error("the booking was cancelled")]
    BookingCancelled,
    /// The action does not fit the booking's state.
    #[error("cannot {action:?} a booking that is {from:?}")]
    InvalidTransition {
        /// The state it is in.
        from: BookingStatus,
        /// What was tried.
        action: BookingAction,
    },
    /// Overbooking needs a reason.
    #[error("an overbook needs a reason")]
    OverbookReasonMissing,
    /// A number spent from a capacity lease that the desk no longer held (the lease expired
    /// while the desk was away, or an old copy of the desk spent it again) and that someone
    /// else holds now.
    #[error("queue number {queue_no} was no longer leased to this desk and is taken")]
    LeaseLost {
        /// The number the desk printed.
        queue_no: u32,
    },
}

impl BookingError {
    /// Stable machine code, the same on the desk, the wire and the platform.
    pub fn code(&self) -> &'static str {
        match self {
            BookingError::SlotFull { .. } => "slot_full",
            BookingError::PatientAlreadyBooked { .. } => "patient_already_booked",
            BookingError::SessionSuspended { .. } => "session_suspended",
            BookingError::SessionCancelled => "session_cancelled",
            BookingError::SlotEnded => "slot_ended",
            BookingError::SlotStarted => "slot_started",
            BookingError::QueueNumberTaken { .. } => "queue_number_taken",
            BookingError::QueueNumberOutOfPool { .. } => "queue_number_out_of_pool",
            BookingError::NoSlotAvailable => "no_slot_available",
            BookingError::TicketForeignSite => "ticket_foreign_site",
            BookingError::TicketAlreadyUsed => "ticket_already_used",
            BookingError::TicketNotToday { .. } => "ticket_not_today",
            BookingError::BookingCancelled => "booking_cancelled",
            BookingError::InvalidTransition { .. } => "invalid_transition",
            BookingError::OverbookReasonMissing => "overbook_reason_missing",
            BookingError::LeaseLost { .. } => "lease_lost",
        }
    }

    /// A message a nurse understands.
    pub fn message(&self, lang: Lang) -> String {
        let pool_name = |p: &Pool| match p {
            Pool::Desk => lang.pick("窗口", "desk"),
            Pool::Online => lang.pick("线上", "online"),
        };
        match self {
            BookingError::SlotFull { pool } => match lang {
                Lang::Zh => format!("该时段{}号源已约满", pool_name(pool)),
                Lang::En => format!("This slot has no {} numbers left", pool_name(pool)),
            },
            BookingError::PatientAlreadyBooked { existing } => match lang {
                Lang::Zh => format!("该患者当天在本科室已有挂号（{existing}），同一科室每天限挂一个号"),
                Lang::En => format!(
                    "The patient already has a booking in this department that day ({existing}); one per department per day"
                ),
            },
            BookingError::SessionSuspended { reason } => {
                let r = reason.as_deref().filter(|r| !r.is_empty());
                match (lang, r) {
                    (Lang::Zh, Some(r)) => format!("该医生本时段已停诊（{r}）"),
                    (Lang::Zh, None) => "该医生本时段已停诊".to_string(),
                    (Lang::En, Some(r)) => format!("The provider's session is suspended ({r})"),
                    (Lang::En, None) => "The provider's session is suspended".to_string(),
                }
            }
            BookingError::SessionCancelled => {
                lang.pick("该出诊时段已取消", "The session has been cancelled").to_string()
            }
            BookingError::SlotEnded => lang.pick("该时段已结束", "The slot has ended").to_string(),
            BookingError::SlotStarted => lang
                .pick("该时段已开始，只能在窗口挂号", "The slot has started; only the desk can book it now")
                .to_string(),
            BookingError::QueueNumberTaken { queue_no } => match lang {
                Lang::Zh => format!("{queue_no} 号已被占用"),
                Lang::En => format!("Queue number {queue_no} is already taken"),
            },
            BookingError::QueueNumberOutOfPool { queue_no, pool } => match lang {
                Lang::Zh => format!("{queue_no} 号不属于该时段的{}号源", pool_name(pool)),
                Lang::En => format!("Queue number {queue_no} is not one of this slot's {} numbers", pool_name(pool)),
            },
            BookingError::NoSlotAvailable => lang.pick("没有可挂的号源", "No slot can take a booking").to_string(),
            BookingError::TicketForeignSite => lang
                .pick(
                    "这张挂号单属于其他院区，不能在本院区签到",
                    "This ticket belongs to another site and cannot be checked in here",
                )
                .to_string(),
            BookingError::TicketAlreadyUsed => {
                lang.pick("这张挂号单已签到过", "This ticket has already been checked in").to_string()
            }
            BookingError::TicketNotToday { date } => match lang {
                Lang::Zh => format!("这张挂号单是 {date} 的，不是今天的"),
                Lang::En => format!("This ticket is for {date}, not today"),
            },
            BookingError::BookingCancelled => lang.pick("该挂号已取消", "This booking was cancelled").to_string(),
            BookingError::InvalidTransition { from, action } => match lang {
                Lang::Zh => format!("挂号状态为“{}”，不能{}", from.label(lang), action.label(lang)),
                Lang::En => {
                    format!("Cannot {} a booking that is {}", action.label(lang), from.label(lang).to_lowercase())
                }
            },
            BookingError::OverbookReasonMissing => {
                lang.pick("加号必须填写原因", "An overbook needs a reason").to_string()
            }
            BookingError::LeaseLost { queue_no } => match lang {
                Lang::Zh => format!("{queue_no} 号的保留已过期（本机离线期间），且已被他人占用"),
                Lang::En => format!(
                    "Queue number {queue_no} was no longer reserved for this desk (its lease ended while the desk was offline) and is taken"
                ),
            },
        }
    }
}

/// A refusal: the rule that refused and, where one exists, a slot to offer instead.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refusal {
    /// The rule that refused.
    pub error: BookingError,
    /// The next slot that could take the booking, when there is one (boxed: refusals travel
    /// in `Result`s and should stay small).
    pub suggestion: Option<Box<Suggestion>>,
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.error)
    }
}

impl std::error::Error for Refusal {}

/// The earliest slot (in [`SlotState::rank`] order) among `candidates` that `channel` can
/// book at `now`.
pub fn earliest_bookable(candidates: &[SlotState], channel: Channel, now: DateTime) -> Option<&SlotState> {
    candidates.iter().filter(|s| s.bookable(channel, now)).min_by_key(|&s| s.rank())
}

/// The first `limit` slots among `candidates` that `channel` can book at `now`, in
/// [`SlotState::rank`] order (the first is [`earliest_bookable`]'s).
pub fn bookable_in_order<'a>(
    candidates: impl IntoIterator<Item = &'a SlotState>,
    channel: Channel,
    now: DateTime,
    limit: usize,
) -> Vec<&'a SlotState> {
    let mut open: Vec<&SlotState> = candidates.into_iter().filter(|s| s.bookable(channel, now)).collect();
    open.sort_by_key(|&s| s.rank());
    open.truncate(limit);
    open
}

/// The slot to offer instead of `refused` (never `refused` itself).
pub fn suggest(candidates: &[SlotState], refused: &SlotId, channel: Channel, now: DateTime) -> Option<Suggestion> {
    candidates
        .iter()
        .filter(|s| &s.slot.id != refused && s.bookable(channel, now))
        .min_by_key(|&s| s.rank())
        .map(|s| Suggestion::of(s, channel.pool()))
}

/// What rules 1–4 say about one slot, before any suggestion is attached.
enum Ruling {
    /// A regular number.
    Grant(Grant),
    /// The slot is full and an admin gave a reason: the session's next overbook number.
    Overbook,
    /// Refused; `true` when another slot could take the booking (worth suggesting one).
    Refuse(BookingError, bool),
}

fn rule(req: &BookingRequest<'_>, target: &SlotState, patient_bookings: &[Booking]) -> Ruling {
    if let Some(reason) = req.overbook_reason
        && reason.trim().is_empty()
    {
        return Ruling::Refuse(BookingError::OverbookReasonMissing, false);
    }
    if let QueueChoice::Leased(n) = req.queue_no {
        return leased_rule(req, target, patient_bookings, n);
    }
    if let Err(e) = target.open_for(req.channel, req.now) {
        return Ruling::Refuse(e, true);
    }
    if let Some(refused) = already_booked(req, target, patient_bookings) {
        return refused;
    }
    let pool = req.channel.pool();
    let free = |n: u32| target.slot.pool_of(n) == Some(pool) && !target.is_held(n);
    match req.queue_no {
        QueueChoice::Exactly(n) => {
            if target.slot.pool_of(n) != Some(pool) {
                return Ruling::Refuse(BookingError::QueueNumberOutOfPool { queue_no: n, pool }, true);
            }
            if target.is_held(n) {
                return Ruling::Refuse(BookingError::QueueNumberTaken { queue_no: n }, true);
            }
            Ruling::Grant(Grant { queue_no: n, overbooked: false })
        }
        QueueChoice::Prefer(n) if free(n) => Ruling::Grant(Grant { queue_no: n, overbooked: false }),
        // (`Leased` was decided by `leased_rule` above.)
        QueueChoice::Prefer(_) | QueueChoice::Lowest | QueueChoice::Leased(_) => match target.free_numbers(pool).next()
        {
            Some(n) => Ruling::Grant(Grant { queue_no: n, overbooked: false }),
            None if req.overbook_reason.is_some() => Ruling::Overbook,
            None => Ruling::Refuse(BookingError::SlotFull { pool }, true),
        },
    }
}

/// Rule 2: the patient already holds a live booking in the target's department that day.
fn already_booked(req: &BookingRequest<'_>, target: &SlotState, patient_bookings: &[Booking]) -> Option<Ruling> {
    patient_bookings
        .iter()
        .find(|b| {
            b.patient_id == *req.patient_id
                && b.status.is_active()
                && b.date == target.session.date
                && b.department_id == target.session.department_id
        })
        .map(|existing| Ruling::Refuse(BookingError::PatientAlreadyBooked { existing: existing.id.clone() }, false))
}

/// [`QueueChoice::Leased`]: a desk spends a number of its capacity lease.
fn leased_rule(req: &BookingRequest<'_>, target: &SlotState, patient_bookings: &[Booking], n: u32) -> Ruling {
    match target.session.status {
        SessionStatus::Open => {}
        SessionStatus::Suspended => {
            let reason = target.session.status_reason.clone();
            return Ruling::Refuse(BookingError::SessionSuspended { reason }, true);
        }
        SessionStatus::Cancelled => return Ruling::Refuse(BookingError::SessionCancelled, true),
    }
    if let Some(refused) = already_booked(req, target, patient_bookings) {
        return refused;
    }
    if target.slot.pool_of(n) != Some(Pool::Desk) || req.channel != Channel::Desk {
        return Ruling::Refuse(BookingError::QueueNumberOutOfPool { queue_no: n, pool: req.channel.pool() }, true);
    }
    let ours = req.device.is_some_and(|d| target.lessee(n) == Some(d));
    if ours || !target.is_held(n) {
        Ruling::Grant(Grant { queue_no: n, overbooked: false })
    } else {
        Ruling::Refuse(BookingError::LeaseLost { queue_no: n }, true)
    }
}

/// Rules 1–4: may this patient be booked into `target`, and under which number?
///
/// `patient_bookings` are the patient's bookings (any date or department: the rule picks the
/// ones that matter); `overbook_next` is the number an overbook would take (one after the
/// highest number the session has given out or owns); `alternatives` are the slots to suggest
/// from when refusing (usually the department's slots from the target's date on).
pub fn decide_booking(
    req: &BookingRequest<'_>,
    target: &SlotState,
    patient_bookings: &[Booking],
    overbook_next: u32,
    alternatives: &[SlotState],
) -> Result<Grant, Refusal> {
    match rule(req, target, patient_bookings) {
        Ruling::Grant(grant) => Ok(grant),
        Ruling::Overbook => Ok(Grant { queue_no: overbook_next, overbooked: true }),
        Ruling::Refuse(error, with_suggestion) => Err(Refusal {
            suggestion: if with_suggestion {
                suggest(alternatives, &target.slot.id, req.channel, req.now).map(Box::new)
            } else {
                None
            },
            error,
        }),
    }
}

/// How many slots a refusal suggests at most, on every channel of the platform.
pub const MAX_SUGGESTIONS: usize = 3;

/// What to book into among the slots given to [`decide_in_day`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DayTarget<'a> {
    /// This slot.
    Slot(&'a SlotId),
    /// The earliest slot the channel can book now ([`earliest_bookable`]).
    Earliest,
}

/// The answer of [`decide_in_day`], borrowing from its inputs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DayDecision<'a> {
    /// Booked: the slot and the number it gives.
    Granted {
        /// The slot decided on.
        state: &'a SlotState,
        /// The number.
        grant: Grant,
    },
    /// Refused by a rule.
    Refused {
        /// The rule that refused.
        error: BookingError,
        /// The next slots that could take the booking instead, in [`SlotState::rank`] order,
        /// never the refused one (empty when the refusal is not about the slot).
        suggestions: Vec<Suggestion>,
        /// The slot decided on (`None` when no slot could be chosen at all).
        state: Option<&'a SlotState>,
        /// The booking the patient already holds, on [`BookingError::PatientAlreadyBooked`].
        existing: Option<&'a Booking>,
    },
    /// The target slot is not among the slots given.
    NotFound,
}

/// Rules 1–4 over a set of slots — usually one department's slots on one day: choose the
/// target (a slot, or the earliest bookable one), decide with the same rule as
/// [`decide_booking`], and on a refusal suggest up to `max_suggestions` other slots of `day`
/// that the channel can book now, earliest first.
///
/// `req.queue_no` is the number asked for ([`QueueChoice::Prefer`] falls back to the lowest
/// free number). `patient_bookings` are the patient's bookings (the rule picks the ones that
/// matter; on [`BookingError::PatientAlreadyBooked`] the one held is returned).
/// `overbook_next` gives the number an overbook in the chosen slot's session takes (see
/// [`overbook_next`]); it is called only when an overbook is granted, so a caller may load
/// what it needs there, and its error is returned as is.
pub fn decide_in_day<'a, E>(
    day: &'a [SlotState],
    target: DayTarget<'_>,
    req: &BookingRequest<'_>,
    patient_bookings: &'a [Booking],
    overbook_next: impl FnOnce(&SlotState) -> Result<u32, E>,
    max_suggestions: usize,
) -> Result<DayDecision<'a>, E> {
    let state = match target {
        DayTarget::Slot(id) => match day.iter().find(|s| &s.slot.id == id) {
            Some(s) => s,
            None => return Ok(DayDecision::NotFound),
        },
        DayTarget::Earliest => match earliest_bookable(day, req.channel, req.now) {
            Some(s) => s,
            None => {
                return Ok(DayDecision::Refused {
                    error: BookingError::NoSlotAvailable,
                    suggestions: Vec::new(),
                    state: None,
                    existing: None,
                });
            }
        },
    };
    let (error, with_suggestions) = match rule(req, state, patient_bookings) {
        Ruling::Grant(grant) => return Ok(DayDecision::Granted { state, grant }),
        Ruling::Overbook => {
            let grant = Grant { queue_no: overbook_next(state)?, overbooked: true };
            return Ok(DayDecision::Granted { state, grant });
        }
        Ruling::Refuse(error, with_suggestions) => (error, with_suggestions),
    };
    let suggestions = if with_suggestions {
        let others = day.iter().filter(|s| s.slot.id != state.slot.id);
        bookable_in_order(others, req.channel, req.now, max_suggestions)
            .into_iter()
            .map(|s| Suggestion::of(s, req.channel.pool()))
            .collect()
    } else {
        Vec::new()
    };
    let existing = match &error {
        BookingError::PatientAlreadyBooked { existing } => patient_bookings.iter().find(|b| &b.id == existing),
        _ => None,
    };
    Ok(DayDecision::Refused { error, suggestions, state: Some(state), existing })
}

/// The number an overbook in a session takes: one after both the session's last regular
/// number and the highest number handed out so far.
pub fn overbook_next(session_slots: &[Slot], session_numbers_held: &[u32]) -> u32 {
    let last_regular = session_slots.iter().map(|s| s.first_queue_no + s.capacity()).max().unwrap_or(1);
    let highest_held = session_numbers_held.iter().map(|n| n + 1).max().unwrap_or(1);
    last_regular.max(highest_held)
}

/// Rule 7 (check-in): may this booking be checked in at `site` on `today`?
pub fn decide_check_in(booking: &Booking, session: &Session, site: &SiteId, today: Date) -> Result<(), BookingError> {
    if &booking.site_id != site {
        return Err(BookingError::TicketForeignSite);
    }
    booking.status.apply(BookingAction::CheckIn)?;
    if booking.date != today {
        return Err(BookingError::TicketNotToday { date: booking.date });
    }
    match session.status {
        SessionStatus::Open => Ok(()),
        SessionStatus::Suspended => Err(BookingError::SessionSuspended { reason: session.status_reason.clone() }),
        SessionStatus::Cancelled => Err(BookingError::SessionCancelled),
    }
}

/// May this booking be cancelled? (Rule 4: cancelling frees its number.)
pub fn decide_cancel(booking: &Booking) -> Result<BookingStatus, BookingError> {
    booking.status.apply(BookingAction::Cancel)
}
