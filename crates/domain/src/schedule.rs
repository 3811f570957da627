//! Sites, departments, providers, sessions (排班) and slots (号源): what can be booked.
//!
//! Queue numbers are laid out by the schedule: within a session, each slot owns a contiguous
//! block of numbers starting at [`Slot::first_queue_no`], the online pool first, then the desk
//! pool. A booking takes a free number of its pool in its slot, so "at most capacity bookings
//! per slot and pool" and "queue numbers unique per session" are one fact: a number is held by
//! at most one live booking. Overbooking (admins only, with a reason) takes numbers after the
//! session's last regular number.

use std::fmt;

use jiff::civil::{Date, DateTime, Time};
use jiff::{SignedDuration, ToSpan};
use serde::{Deserialize, Serialize};

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub String);

        impl $name {
            /// The id's text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                $name(s.to_string())
            }
        }

        impl From<String> for $name {
            fn from(s: String) -> Self {
                $name(s)
            }
        }
    };
}

id_type!(
    /// A clinic or campus (院区).
    SiteId
);
id_type!(
    /// A department (科室), unique platform-wide.
    DepartmentId
);
id_type!(
    /// A provider (医生).
    ProviderId
);
id_type!(
    /// A provider's half-day (排班).
    SessionId
);
id_type!(
    /// A bookable time segment of a session (号源).
    SlotId
);
id_type!(
    /// A patient. Minted as a UUIDv7 by whoever registers the patient first.
    PatientId
);
id_type!(
    /// A booking. Minted as a UUIDv7 by the desk or the platform that takes it.
    BookingId
);
id_type!(
    /// An enrolled desk device.
    DeviceId
);
id_type!(
    /// A member of staff (nurse or admin).
    StaffId
);

/// A clinic or campus.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Site {
    /// Platform-wide id.
    pub id: SiteId,
    /// Display name, e.g. 城东社区卫生服务中心.
    pub name: String,
    /// IANA time zone the clinic's schedule is written in, e.g. `Asia/Shanghai`.
    pub timezone: String,
}

/// A department of a site.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Department {
    /// Platform-wide id.
    pub id: DepartmentId,
    /// The site it belongs to.
    pub site_id: SiteId,
    /// Short code nurses type, unique within the site, e.g. `NK`.
    pub code: String,
    /// Chinese name, e.g. 内科.
    pub name: String,
    /// English name, e.g. Internal Medicine.
    pub name_en: String,
}

/// A provider (doctor).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Provider {
    /// Platform-wide id.
    pub id: ProviderId,
    /// The site.
    pub site_id: SiteId,
    /// The department the provider sees patients for.
    pub department_id: DepartmentId,
    /// Name.
    pub name: String,
    /// Title, e.g. 主任医师.
    pub title: String,
    /// Registration fee in fen (0.01 CNY).
    pub fee_fen: i64,
}

/// Which half-day a session covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Period {
    /// 上午
    Morning,
    /// 下午
    Afternoon,
    /// 晚上
    Evening,
}

impl Period {
    /// Stable code used in ids and on the wire.
    pub fn code(self) -> &'static str {
        match self {
            Period::Morning => "am",
            Period::Afternoon => "pm",
            Period::Evening => "ev",
        }
    }

    /// Parses a code produced by [`Period::code`] or the serde name.
    pub fn parse(s: &str) -> Option<Period> {
        match s {
            "am" | "morning" => Some(Period::Morning),
            "pm" | "afternoon" => Some(Period::Afternoon),
            "ev" | "evening" => Some(Period::Evening),
            _ => None,
        }
    }

    /// Display name.
    pub fn label(self, lang: crate::Lang) -> &'static str {
        match self {
            Period::Morning => lang.pick("上午", "Morning"),
            Period::Afternoon => lang.pick("下午", "Afternoon"),
            Period::Evening => lang.pick("晚上", "Evening"),
        }
    }
}

/// Whether a session can take bookings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionStatus {
    /// Taking bookings.
    Open,
    /// 停诊: temporarily not taking bookings (may resume).
    Suspended,
    /// Cancelled for good.
    Cancelled,
}

impl SessionStatus {
    /// Stable code.
    pub fn code(self) -> &'static str {
        match self {
            SessionStatus::Open => "open",
            SessionStatus::Suspended => "suspended",
            SessionStatus::Cancelled => "cancelled",
        }
    }

    /// Parses [`SessionStatus::code`].
    pub fn parse(s: &str) -> Option<SessionStatus> {
        match s {
            "open" => Some(SessionStatus::Open),
            "suspended" => Some(SessionStatus::Suspended),
            "cancelled" => Some(SessionStatus::Cancelled),
            _ => None,
        }
    }
}

/// A provider's half-day on a date.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    /// Platform-wide id.
    pub id: SessionId,
    /// The site.
    pub site_id: SiteId,
    /// The department.
    pub department_id: DepartmentId,
    /// The provider.
    pub provider_id: ProviderId,
    /// The date, in the site's time zone.
    pub date: Date,
    /// Which half-day.
    pub period: Period,
    /// Open, suspended or cancelled.
    pub status: SessionStatus,
    /// Why it was suspended or cancelled, when it was.
    pub status_reason: Option<String>,
    /// The consultation room the waiting room is called to (诊室), when the site numbers its
    /// rooms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub room: Option<u32>,
}

/// The channel a booking came through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    /// At a front desk (walk-in or a nurse booking).
    Desk,
    /// A patient booking online.
    Online,
    /// By telephone (served from the online pool).
    Phone,
}

impl Channel {
    /// The capacity pool the channel books from.
    pub fn pool(self) -> Pool {
        match self {
            Channel::Desk => Pool::Desk,
            Channel::Online | Channel::Phone => Pool::Online,
        }
    }

    /// Stable code.
    pub fn code(self) -> &'static str {
        match self {
            Channel::Desk => "desk",
            Channel::Online => "online",
            Channel::Phone => "phone",
        }
    }

    /// The channel's name as shown and printed.
    pub fn label(self, lang: crate::Lang) -> &'static str {
        match self {
            Channel::Desk => lang.pick("窗口挂号", "Desk"),
            Channel::Online => lang.pick("网上预约", "Online"),
            Channel::Phone => lang.pick("电话预约", "Phone"),
        }
    }

    /// Parses [`Channel::code`].
    pub fn parse(s: &str) -> Option<Channel> {
        match s {
            "desk" => Some(Channel::Desk),
            "online" => Some(Channel::Online),
            "phone" => Some(Channel::Phone),
            _ => None,
        }
    }
}

/// A capacity pool of a slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Pool {
    /// Numbers kept for the front desk (walk-ins).
    Desk,
    /// Numbers released to online and phone booking.
    Online,
}

impl Pool {
    /// Stable code.
    pub fn code(self) -> &'static str {
        match self {
            Pool::Desk => "desk",
            Pool::Online => "online",
        }
    }
}

/// A bookable time segment of a session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Slot {
    /// Platform-wide id.
    pub id: SlotId,
    /// The session it belongs to.
    pub session_id: SessionId,
    /// Start, in the site's time zone, on the session's date.
    pub start: Time,
    /// End (exclusive).
    pub end: Time,
    /// First queue number of the slot's block.
    pub first_queue_no: u32,
    /// Numbers in the online pool (they come first in the block).
    pub online_capacity: u32,
    /// Numbers in the desk pool (after the online ones).
    pub desk_capacity: u32,
}

impl Slot {
    /// Total capacity.
    pub fn capacity(&self) -> u32 {
        self.online_capacity + self.desk_capacity
    }

    /// The queue numbers of one pool, in order.
    pub fn pool_numbers(&self, pool: Pool) -> std::ops::Range<u32> {
        let online_end = self.first_queue_no + self.online_capacity;
        match pool {
            Pool::Online => self.first_queue_no..online_end,
            Pool::Desk => online_end..online_end + self.desk_capacity,
        }
    }

    /// The pool a queue number belongs to, if it is one of this slot's regular numbers.
    pub fn pool_of(&self, queue_no: u32) -> Option<Pool> {
        if self.pool_numbers(Pool::Online).contains(&queue_no) {
            Some(Pool::Online)
        } else if self.pool_numbers(Pool::Desk).contains(&queue_no) {
            Some(Pool::Desk)
        } else {
            None
        }
    }

    /// Capacity of one pool.
    pub fn pool_capacity(&self, pool: Pool) -> u32 {
        match pool {
            Pool::Desk => self.desk_capacity,
            Pool::Online => self.online_capacity,
        }
    }

    /// The instant the slot starts, as a civil date-time on `date`.
    pub fn starts_at(&self, date: Date) -> DateTime {
        date.to_datetime(self.start)
    }

    /// The instant the slot ends.
    pub fn ends_at(&self, date: Date) -> DateTime {
        date.to_datetime(self.end)
    }
}

/// How to lay out a provider's sessions: e.g. Mon–Fri mornings 08:00–12:00 in 30-minute
/// slots of 6, 2 of them desk-only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionTemplate {
    /// ISO weekdays the template applies to (1 = Monday … 7 = Sunday).
    pub weekdays: Vec<i8>,
    /// Which half-day.
    pub period: Period,
    /// First slot's start.
    pub start: Time,
    /// Last slot's end.
    pub end: Time,
    /// Length of a slot in minutes.
    pub slot_minutes: u16,
    /// Numbers per slot.
    pub per_slot: u32,
    /// Of those, how many are kept for the desk.
    pub desk_per_slot: u32,
    /// The consultation room its sessions are called to, if numbered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub room: Option<u32>,
}

/// Why a template cannot be expanded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    /// Start is not before end.
    #[error("session start must be before its end")]
    EmptyWindow,
    /// Slot length is zero or longer than the session.
    #[error("slot length must be between 1 minute and the session's length")]
    SlotLength,
    /// More desk numbers than numbers.
    #[error("desk numbers per slot exceed numbers per slot")]
    DeskShare,
    /// No numbers at all.
    #[error("a slot needs at least one number")]
    NoCapacity,
}

impl TemplateError {
    /// Stable machine code.
    pub fn code(&self) -> &'static str {
        match self {
            TemplateError::EmptyWindow => "template_empty_window",
            TemplateError::SlotLength => "template_slot_length",
            TemplateError::DeskShare => "template_desk_share",
            TemplateError::NoCapacity => "template_no_capacity",
        }
    }
}

/// The id of a provider's session on a date: readable and unique when provider ids are.
pub fn session_id(provider: &ProviderId, date: Date, period: Period) -> SessionId {
    SessionId(format!("{}-{}-{}", provider, date.strftime("%Y%m%d"), period.code()))
}

/// The id of the `index`-th (1-based) slot of a session.
pub fn slot_id(session: &SessionId, index: usize) -> SlotId {
    SlotId(format!("{session}-{index:02}"))
}

/// Lays out one session and its slots for a provider on a date.
pub fn expand_session(
    provider: &Provider,
    template: &SessionTemplate,
    date: Date,
) -> Result<(Session, Vec<Slot>), TemplateError> {
    if template.start >= template.end {
        return Err(TemplateError::EmptyWindow);
    }
    if template.per_slot == 0 {
        return Err(TemplateError::NoCapacity);
    }
    if template.desk_per_slot > template.per_slot {
        return Err(TemplateError::DeskShare);
    }
    let window_minutes = template.start.duration_until(template.end).as_mins();
    let step = i64::from(template.slot_minutes);
    if step == 0 || step > window_minutes {
        return Err(TemplateError::SlotLength);
    }
    let id = session_id(&provider.id, date, template.period);
    let session = Session {
        id: id.clone(),
        site_id: provider.site_id.clone(),
        department_id: provider.department_id.clone(),
        provider_id: provider.id.clone(),
        date,
        period: template.period,
        status: SessionStatus::Open,
        status_reason: None,
        room: template.room,
    };
    let mut slots = Vec::new();
    let mut start = template.start;
    let mut next_no = 1;
    while let Ok(end) = start.checked_add(SignedDuration::from_mins(step)) {
        if end > template.end || end <= start {
            break;
        }
        slots.push(Slot {
            id: slot_id(&id, slots.len() + 1),
            session_id: id.clone(),
            start,
            end,
            first_queue_no: next_no,
            online_capacity: template.per_slot - template.desk_per_slot,
            desk_capacity: template.desk_per_slot,
        });
        next_no += template.per_slot;
        start = end;
    }
    Ok((session, slots))
}

/// Lays out every session a provider's templates give on the dates `from..from+days`.
pub fn expand_templates(
    provider: &Provider,
    templates: &[SessionTemplate],
    from: Date,
    days: u16,
) -> Result<Vec<(Session, Vec<Slot>)>, TemplateError> {
    let mut out = Vec::new();
    for d in 0..i64::from(days) {
        let Ok(date) = from.checked_add(d.days()) else { break };
        for t in templates {
            if t.weekdays.contains(&date.weekday().to_monday_one_offset()) {
                out.push(expand_session(provider, t, date)?);
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::{Weekday, date, time};

    fn provider() -> Provider {
        Provider {
            id: ProviderId::from("demo-nk-1"),
            site_id: SiteId::from("demo"),
            department_id: DepartmentId::from("demo-nk"),
            name: "王建国".into(),
            title: "主任医师".into(),
            fee_fen: 5000,
        }
    }

    fn morning() -> SessionTemplate {
        SessionTemplate {
            weekdays: vec![1, 2, 3, 4, 5],
            period: Period::Morning,
            start: time(8, 0, 0, 0),
            end: time(12, 0, 0, 0),
            slot_minutes: 30,
            per_slot: 6,
            desk_per_slot: 2,
            room: None,
        }
    }

    #[test]
    fn weekday_morning_template_gives_eight_slots_of_six() {
        let (session, slots) = expand_session(&provider(), &morning(), date(2026, 11, 23)).unwrap();
        assert_eq!(session.id.as_str(), "demo-nk-1-20261123-am");
        assert_eq!(slots.len(), 8);
        assert_eq!(slots[0].start, time(8, 0, 0, 0));
        assert_eq!(slots[7].end, time(12, 0, 0, 0));
        assert_eq!(slots[1].first_queue_no, 7);
        assert_eq!(slots[1].pool_numbers(Pool::Online), 7..11);
        assert_eq!(slots[1].pool_numbers(Pool::Desk), 11..13);
        assert_eq!(slots[1].pool_of(12), Some(Pool::Desk));
        assert_eq!(slots[1].pool_of(13), None);
        assert_eq!(slots[7].id.as_str(), "demo-nk-1-20261123-am-08");
    }

    #[test]
    fn templates_follow_weekdays() {
        // 2026-11-21 is a Saturday: a week from then has five weekdays.
        let all = expand_templates(&provider(), &[morning()], date(2026, 11, 21), 7).unwrap();
        assert_eq!(all.len(), 5);
        assert!(all.iter().all(|(s, _)| s.date.weekday() != Weekday::Saturday && s.date.weekday() != Weekday::Sunday));
    }

    #[test]
    fn bad_templates_are_refused() {
        let mut t = morning();
        t.desk_per_slot = 7;
        assert_eq!(expand_session(&provider(), &t, date(2026, 11, 23)).unwrap_err(), TemplateError::DeskShare);
        let mut t = morning();
        t.end = t.start;
        assert_eq!(expand_session(&provider(), &t, date(2026, 11, 23)).unwrap_err(), TemplateError::EmptyWindow);
        let mut t = morning();
        t.slot_minutes = 0;
        assert_eq!(expand_session(&provider(), &t, date(2026, 11, 23)).unwrap_err(), TemplateError::SlotLength);
        let mut t = morning();
        t.per_slot = 0;
        t.desk_per_slot = 0;
        assert_eq!(expand_session(&provider(), &t, date(2026, 11, 23)).unwrap_err(), TemplateError::NoCapacity);
    }
}
