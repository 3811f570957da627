//! Capacity leases on the desk (docs/SYNC.md, "Capacity leases"): which leased numbers this
//! desk may spend now, what it holds, when it should ask for more, and giving numbers back.
//!
//! Time: a desk counts a lease's time from when it received it, on its own clock, and that
//! clock is the physical part of its hybrid logical clock ([`lease_now_ms`]) — the latest time
//! the desk has seen, so setting the computer's clock back never lengthens a lease.

use std::collections::{BTreeMap, HashMap, HashSet};

use frontdesk_domain::Lang;
use frontdesk_domain::booking::SlotState;
use frontdesk_domain::clock::Clock;
use frontdesk_domain::hlc::Hlc;
use frontdesk_domain::lease::{LeasePolicy, pick_leased};
use frontdesk_domain::patient::FieldError;
use frontdesk_domain::schedule::{
    Channel, DepartmentId, DeviceId, Period, Pool, ProviderId, SessionId, SessionStatus, SlotId,
};
use frontdesk_protocol::sync::{LeaseAnswer, LeaseRequest, LeasedNumber};
use jiff::Timestamp;
use jiff::ToSpan;
use jiff::civil::{Date, DateTime, Time};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use serde::Serialize;

use crate::engine::{SlotFilter, load_slot_states, meta, set_meta};
use crate::{Desk, DeskError, rows};

/// A leased number whose deadline is this close counts as expiring.
pub const EXPIRING_WITHIN_MS: i64 = 60 * 60 * 1000;

/// The sync loop asks for more numbers on its own at most this often (an explicit top-up
/// always goes); the platform's own round tops every desk up every 30 s anyway.
pub const TOP_UP_INTERVAL_MS: i64 = 60 * 1000;

/// `meta` key of the site's lease policy (JSON).
const POLICY_KEY: &str = "lease_policy";
/// `meta` key of when this desk last asked for a top-up (lease clock, ms).
const TOP_UP_KEY: &str = "lease_top_up_at";

/// A booking holds the number, or this desk spent it from its lease and the spend is still
/// pending (even if cancelled since: the platform sees the spend first): `l` is the lease row.
/// (A regular number belongs to one slot: the slot narrows the search to that slot's bookings.)
pub(crate) const SPENT_SQL: &str = "EXISTS (SELECT 1 FROM bookings b WHERE b.slot_id = l.slot_id
     AND b.session_id = l.session_id AND b.queue_no = l.queue_no
     AND (b.status <> 'cancelled' OR (b.leased = 1 AND b.confirmed = 0)))";

fn corrupt(what: &'static str, e: impl std::fmt::Display) -> DeskError {
    DeskError::Corrupt { what, detail: e.to_string() }
}

fn last_hlc(conn: &Connection) -> Result<Hlc, DeskError> {
    Ok(meta(conn, "hlc")?.unwrap_or_default().parse().unwrap_or_default())
}

/// The desk's "now" for leases, in milliseconds: the physical part of its hybrid logical
/// clock — the later of the clock and the latest time the desk recorded — so it never goes
/// back when the computer's clock is set back.
pub(crate) fn lease_now_ms(conn: &Connection, clock: &dyn Clock) -> Result<i64, DeskError> {
    Ok(clock.now().as_millisecond().max(last_hlc(conn)?.wall_ms))
}

/// [`lease_now_ms`], recorded in the hybrid logical clock (inside the caller's write
/// transaction), so that a later reading never falls behind it.
pub(crate) fn advance_lease_clock(tx: &Connection, clock: &dyn Clock) -> Result<i64, DeskError> {
    let last = last_hlc(tx)?;
    let now = clock.now().as_millisecond();
    if now > last.wall_ms {
        set_meta(tx, "hlc", &Hlc { wall_ms: now, counter: 0 }.to_string())?;
    }
    Ok(now.max(last.wall_ms))
}

/// The device whose leases are this desk's own: only an enrolled desk has leases.
pub(crate) fn lease_device(conn: &Connection) -> Result<Option<DeviceId>, DeskError> {
    if meta(conn, "device_token")?.is_none() {
        return Ok(None);
    }
    Ok(meta(conn, "device_id")?.map(DeviceId))
}

/// The site's lease policy, as last pulled.
pub(crate) fn load_policy(conn: &Connection) -> Result<Option<LeasePolicy>, DeskError> {
    meta(conn, POLICY_KEY)?
        .map(|json| serde_json::from_str(&json).map_err(|e| corrupt("meta.lease_policy", e)))
        .transpose()
}

/// Stores (or, with `None`, removes) the site's lease policy.
pub(crate) fn store_policy(tx: &Connection, policy: Option<&LeasePolicy>) -> Result<(), DeskError> {
    match policy {
        Some(p) => set_meta(tx, POLICY_KEY, &serde_json::to_string(p).map_err(|e| corrupt("meta.lease_policy", e))?),
        None => {
            tx.execute("DELETE FROM meta WHERE key = ?1", [POLICY_KEY])?;
            Ok(())
        }
    }
}

/// Forgets every lease and the policy (a new enrollment starts from the platform's snapshot).
pub(crate) fn forget_all(tx: &Connection) -> Result<(), DeskError> {
    tx.execute("DELETE FROM leases", [])?;
    tx.execute("DELETE FROM meta WHERE key IN (?1, ?2)", params![POLICY_KEY, TOP_UP_KEY])?;
    Ok(())
}

/// This desk's own leased numbers with their deadlines, and the lease clock's reading: what
/// decides whether a leased number may be spent now.
pub(crate) struct OwnLeases {
    /// This desk (`None`: not enrolled, no leases).
    pub(crate) device: Option<DeviceId>,
    /// The lease clock (ms).
    pub(crate) now_ms: i64,
    /// (session, number) → the deadline, `None` when the number may not be spent at all
    /// (received without the platform's time, or given back).
    deadlines: HashMap<(String, u32), Option<i64>>,
}

impl OwnLeases {
    /// Loads this desk's own leases (all of them: a desk holds a few dozen numbers at most).
    pub(crate) fn load(conn: &Connection, clock: &dyn Clock) -> Result<OwnLeases, DeskError> {
        let now_ms = lease_now_ms(conn, clock)?;
        let Some(device) = lease_device(conn)? else {
            return Ok(OwnLeases { device: None, now_ms, deadlines: HashMap::new() });
        };
        let deadlines = conn
            .prepare_cached(
                "SELECT session_id, queue_no, CASE WHEN given_back = 1 THEN NULL ELSE usable_until_ms END
                 FROM leases WHERE device_id = ?1",
            )?
            .query_map([device.as_str()], |r| Ok(((r.get::<_, String>(0)?, r.get::<_, u32>(1)?), r.get(2)?)))?
            .collect::<Result<HashMap<_, _>, _>>()?;
        Ok(OwnLeases { device: Some(device), now_ms, deadlines })
    }

    /// This desk's deadline for `n` of `session`, when it may spend it at all.
    pub(crate) fn deadline(&self, session: &SessionId, n: u32) -> Option<i64> {
        self.deadlines.get(&(session.to_string(), n)).copied().flatten()
    }

    /// True while this desk may spend `n` of `session` (before its deadline).
    pub(crate) fn usable(&self, session: &SessionId, n: u32) -> bool {
        self.deadline(session, n).is_some_and(|d| self.now_ms < d)
    }

    /// The leased number a booking into `state` spends now ([`pick_leased`]), if any.
    pub(crate) fn pick(&self, state: &SlotState, now: DateTime) -> Option<u32> {
        let device = self.device.as_ref()?;
        pick_leased(state, device, now, |n| self.usable(&state.session.id, n))
    }

    /// Every number of `state` this desk could spend now, lowest first (the first is
    /// [`OwnLeases::pick`]'s).
    pub(crate) fn spendable(&self, state: &SlotState, now: DateTime) -> Vec<u32> {
        let Some(device) = &self.device else { return Vec::new() };
        if state.open_for(Channel::Desk, now).is_err() {
            return Vec::new();
        }
        state.leased_to(device).into_iter().filter(|n| self.usable(&state.session.id, *n)).collect()
    }

    /// Whether this desk can book into `state` now: a free desk number, or one of its own
    /// leased numbers it may still spend.
    pub(crate) fn bookable(&self, state: &SlotState, now: DateTime) -> bool {
        state.bookable(Channel::Desk, now) || self.pick(state, now).is_some()
    }

    /// Numbers of `state` leased to other desks.
    pub(crate) fn leased_elsewhere(&self, state: &SlotState) -> u32 {
        state.leased.iter().filter(|(_, d)| Some(d) != self.device.as_ref()).count() as u32
    }
}

/// The earliest slot (the rules' ranking) among `candidates` this desk can book now, counting
/// its own leased numbers. With `prefer_lease` (the desk cannot reach the platform), the
/// earliest slot where it may spend a leased number comes first — a booking there is
/// guaranteed, one elsewhere only tentative —, and the earliest bookable slot otherwise.
pub(crate) fn earliest_for_desk<'a>(
    candidates: &'a [SlotState],
    own: &OwnLeases,
    now: DateTime,
    prefer_lease: bool,
) -> Option<&'a SlotState> {
    let guaranteed = || candidates.iter().filter(|s| own.pick(s, now).is_some()).min_by_key(|s| s.rank());
    let leased = if prefer_lease { guaranteed() } else { None };
    leased.or_else(|| candidates.iter().filter(|s| own.bookable(s, now)).min_by_key(|s| s.rank()))
}

/// Where a leased number of this desk stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LeaseState {
    /// This desk may spend it now: a booking from it is guaranteed.
    Usable,
    /// A booking of this desk took it; the platform has not confirmed the spend yet.
    Spent,
    /// Given back; the platform has not taken it back yet.
    Returning,
    /// Past this desk's deadline (or received without the platform's time): not spent any
    /// more, and still nobody else's until the platform takes it back.
    Lapsed,
    /// The slot is not open to this desk now (the session is suspended or cancelled, or the
    /// slot ended).
    Closed,
}

impl LeaseState {
    /// Display name.
    pub fn label(self, lang: Lang) -> &'static str {
        match self {
            LeaseState::Usable => lang.pick("可用", "usable"),
            LeaseState::Spent => lang.pick("已用（待平台确认）", "spent (awaiting the platform)"),
            LeaseState::Returning => lang.pick("归还中", "being returned"),
            LeaseState::Lapsed => lang.pick("已过本机期限", "past this desk's deadline"),
            LeaseState::Closed => lang.pick("时段不可挂", "slot closed"),
        }
    }
}

/// One number leased to this desk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LeaseEntry {
    /// The session.
    pub session_id: SessionId,
    /// The slot the number belongs to.
    pub slot_id: SlotId,
    /// The queue number.
    pub queue_no: u32,
    /// The session's date.
    pub date: Date,
    /// The slot's start.
    pub start: Time,
    /// The slot's end.
    pub end: Time,
    /// Half-day.
    pub period: Period,
    /// Department code, e.g. `NK`.
    pub department_code: String,
    /// The provider's name.
    pub provider_name: String,
    /// When the platform takes it back if unspent, on the platform's clock.
    pub expires_at: Timestamp,
    /// Until when this desk may spend it, on this desk's own clock (`None`: never usable).
    pub usable_until: Option<Timestamp>,
    /// Where it stands.
    pub state: LeaseState,
    /// Usable, with less than an hour left.
    pub expiring: bool,
}

/// This desk's leases in one session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SessionLeases {
    /// The session.
    pub session_id: SessionId,
    /// Its date.
    pub date: Date,
    /// Half-day.
    pub period: Period,
    /// Its department.
    pub department_id: DepartmentId,
    /// Its provider.
    pub provider_id: ProviderId,
    /// The provider's name.
    pub provider_name: String,
    /// Numbers this desk may spend now (guaranteed bookings left).
    pub held: u32,
    /// Live bookings this desk made from its lease.
    pub spent: u32,
    /// Of `held`, those whose deadline is less than an hour away.
    pub expiring: u32,
    /// Numbers leased to this desk it cannot spend now (past its deadline, given back, or the
    /// slot is closed).
    pub unusable: u32,
    /// The nearest deadline of a held number, on this desk's clock.
    pub next_deadline: Option<Timestamp>,
    /// Below the policy's `low_water` in a session this desk may still book, with numbers the
    /// platform could still lease: the desk asks for more when online.
    pub wants_top_up: bool,
}

/// This desk's leases at a glance.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct LeaseStatus {
    /// The site's policy (`None`: the site leases nothing).
    pub policy: Option<LeasePolicy>,
    /// Numbers this desk may spend now.
    pub held: u32,
    /// Live bookings made from its leases (today and later).
    pub spent: u32,
    /// Of `held`, those whose deadline is less than an hour away.
    pub expiring: u32,
    /// Numbers leased to this desk it cannot spend now.
    pub unusable: u32,
    /// The nearest deadline of a held number, on this desk's clock.
    pub next_deadline: Option<Timestamp>,
    /// Some session wants a top-up (see [`SessionLeases::wants_top_up`]).
    pub wants_top_up: bool,
    /// Per session, today and later, those with something to say.
    pub sessions: Vec<SessionLeases>,
}

/// Whether the platform could lease more numbers of a session's slots: free desk numbers
/// beyond the part the policy holds back, some of them in a slot whose lease would not have
/// expired yet.
fn grantable(states: &[&SlotState], policy: &LeasePolicy, now: DateTime) -> bool {
    let pool: u32 = states.iter().map(|s| s.slot.desk_capacity).sum();
    let free: u32 = states.iter().map(|s| s.remaining(Pool::Desk)).sum();
    let leasable: u32 =
        states.iter().filter(|s| policy.expires_at(s.window().0) > now).map(|s| s.remaining(Pool::Desk)).sum();
    free > policy.held_back(pool) && leasable > 0
}

fn ms_to_timestamp(ms: i64) -> Option<Timestamp> {
    Timestamp::from_millisecond(ms).ok()
}

impl Desk {
    /// The site's lease policy, as last pulled (`None`: the site leases nothing).
    pub fn lease_policy(&self) -> Result<Option<LeasePolicy>, DeskError> {
        load_policy(self.conn())
    }

    /// This desk's leases at a glance: what it holds, has spent and will lose within the hour,
    /// per session, and whether it should ask for more.
    pub fn lease_status(&self) -> Result<LeaseStatus, DeskError> {
        let conn = self.conn();
        let policy = load_policy(conn)?;
        let own = OwnLeases::load(conn, &**self.clock())?;
        let Some(device) = own.device.clone() else {
            return Ok(LeaseStatus { policy, ..LeaseStatus::default() });
        };
        let now = self.now_local();
        let today = now.date();
        let horizon_end = policy.map(|p| today.checked_add(i64::from(p.horizon_days).days()).unwrap_or(today));
        // Sessions with something to say: own leases or own leased bookings from today on, and
        // the sessions the policy leases.
        let mut wanted: HashSet<String> = conn
            .prepare_cached(
                "SELECT DISTINCT l.session_id FROM leases l JOIN sessions s ON s.id = l.session_id
                 WHERE l.device_id = ?1 AND s.date >= ?2
                 UNION SELECT DISTINCT session_id FROM bookings WHERE leased = 1 AND date >= ?2",
            )?
            .query_map(params![device.as_str(), today.to_string()], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        let spent: HashMap<String, u32> = conn
            .prepare_cached(
                "SELECT session_id, count(*) FROM bookings WHERE leased = 1 AND status <> 'cancelled' AND date >= ?1
                 GROUP BY session_id",
            )?
            .query_map([today.to_string()], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<_, _>>()?;
        let last_date: Option<String> = conn.query_row(
            "SELECT max(s.date) FROM sessions s WHERE s.id IN (SELECT session_id FROM leases WHERE device_id = ?1)
                 OR s.id IN (SELECT session_id FROM bookings WHERE leased = 1)",
            [device.as_str()],
            |r| r.get(0),
        )?;
        let mut to = horizon_end.unwrap_or(today);
        if let Some(d) = last_date {
            to = to.max(rows::date("sessions.date", &d)?);
        }
        let states = load_slot_states(conn, &SlotFilter { from: Some(today), to: Some(to), ..SlotFilter::default() })?;
        let mut by_session: BTreeMap<(Date, Period, String, String), Vec<&SlotState>> = BTreeMap::new();
        for st in &states {
            let s = &st.session;
            by_session.entry((s.date, s.period, s.provider_id.to_string(), s.id.to_string())).or_default().push(st);
            if horizon_end.is_some_and(|end| s.date <= end) {
                wanted.insert(s.id.to_string());
            }
        }
        let provider_names: HashMap<String, String> = conn
            .prepare_cached("SELECT id, name FROM providers")?
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<_, _>>()?;
        let mut status = LeaseStatus { policy, ..LeaseStatus::default() };
        for ((_, _, _, session_id), slots) in by_session {
            if !wanted.contains(&session_id) {
                continue;
            }
            let session = &slots[0].session;
            let mut held = 0;
            let mut expiring = 0;
            let mut unusable = 0;
            let mut next: Option<i64> = None;
            for st in &slots {
                let spendable = own.spendable(st, now);
                unusable += (st.leased_to(&device).len() - spendable.len()) as u32;
                for n in spendable {
                    held += 1;
                    if let Some(d) = own.deadline(&session.id, n) {
                        if d - own.now_ms <= EXPIRING_WITHIN_MS {
                            expiring += 1;
                        }
                        next = Some(next.map_or(d, |m| m.min(d)));
                    }
                }
            }
            let may_book =
                session.status == SessionStatus::Open && slots.iter().any(|st| st.open_for(Channel::Desk, now).is_ok());
            let wants_top_up = match (&policy, horizon_end) {
                (Some(p), Some(end)) => {
                    session.date <= end && may_book && held < p.low_water && grantable(&slots, p, now)
                }
                _ => false,
            };
            let entry = SessionLeases {
                session_id: session.id.clone(),
                date: session.date,
                period: session.period,
                department_id: session.department_id.clone(),
                provider_id: session.provider_id.clone(),
                provider_name: provider_names.get(session.provider_id.as_str()).cloned().unwrap_or_default(),
                held,
                spent: spent.get(&session_id).copied().unwrap_or(0),
                expiring,
                unusable,
                next_deadline: next.and_then(ms_to_timestamp),
                wants_top_up,
            };
            if entry.held + entry.spent + entry.unusable == 0 && !entry.wants_top_up {
                continue;
            }
            status.held += entry.held;
            status.spent += entry.spent;
            status.expiring += entry.expiring;
            status.unusable += entry.unusable;
            status.wants_top_up |= entry.wants_top_up;
            status.next_deadline = match (status.next_deadline, entry.next_deadline) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            status.sessions.push(entry);
        }
        Ok(status)
    }

    /// Every number leased to this desk, by date, slot and number.
    pub fn leases(&self) -> Result<Vec<LeaseEntry>, DeskError> {
        let conn = self.conn();
        let own = OwnLeases::load(conn, &**self.clock())?;
        let Some(device) = own.device.clone() else { return Ok(Vec::new()) };
        let now = self.now_local();
        let sql = format!(
            "SELECT l.queue_no, l.expires_at, l.usable_until_ms, l.given_back, {SPENT_SQL}, d.code, pr.name, {}, {}
             FROM leases l JOIN slots sl ON sl.id = l.slot_id JOIN sessions s ON s.id = sl.session_id
             JOIN departments d ON d.id = s.department_id JOIN providers pr ON pr.id = s.provider_id
             WHERE l.device_id = ?1 ORDER BY s.date, sl.start_time, l.queue_no",
            rows::SESSION_COLUMNS,
            rows::SLOT_COLUMNS
        );
        let found = conn
            .prepare_cached(&sql)?
            .query_and_then([device.as_str()], |r| {
                let queue_no: u32 = r.get(0)?;
                let expires: String = r.get(1)?;
                let usable_until: Option<i64> = r.get(2)?;
                let given_back = r.get::<_, i64>(3)? != 0;
                let spent = r.get::<_, i64>(4)? != 0;
                let session = rows::session(r, 7)?;
                let slot = rows::slot(r, 7 + rows::SESSION_WIDTH)?;
                let state = SlotState { session, slot, taken: vec![], leased: vec![] };
                let lease_state = if spent {
                    LeaseState::Spent
                } else if given_back {
                    LeaseState::Returning
                } else if usable_until.is_none_or(|d| own.now_ms >= d) {
                    LeaseState::Lapsed
                } else if state.open_for(Channel::Desk, now).is_err() {
                    LeaseState::Closed
                } else {
                    LeaseState::Usable
                };
                Ok::<_, DeskError>(LeaseEntry {
                    session_id: state.session.id.clone(),
                    slot_id: state.slot.id.clone(),
                    queue_no,
                    date: state.session.date,
                    start: state.slot.start,
                    end: state.slot.end,
                    period: state.session.period,
                    department_code: r.get(5)?,
                    provider_name: r.get(6)?,
                    expires_at: expires.parse().map_err(|e| corrupt("leases.expires_at", e))?,
                    usable_until: usable_until.and_then(ms_to_timestamp),
                    expiring: lease_state == LeaseState::Usable
                        && usable_until.is_some_and(|d| d - own.now_ms <= EXPIRING_WITHIN_MS),
                    state: lease_state,
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(found)
    }

    /// Gives numbers of `session` leased to this desk back early: `numbers`, or every unspent
    /// one when empty. They are never spent from then on, and go back to the platform with the
    /// next lease request ([`crate::sync::request_leases`], or the next sync cycle). A number
    /// this desk does not hold unspent is refused and nothing changes. Returns the numbers
    /// given back. (The platform's round may lease numbers to the desk again later, up to its
    /// share.)
    pub fn give_back(&mut self, session: &SessionId, numbers: &[u32], lang: Lang) -> Result<Vec<u32>, DeskError> {
        self.authorize(crate::Action::Leases)?;
        let tx = self.conn_mut().transaction_with_behavior(TransactionBehavior::Immediate)?;
        let device = lease_device(&tx)?.ok_or_else(|| {
            DeskError::Invalid(vec![FieldError {
                field: "device".into(),
                code: "not_enrolled".into(),
                message: lang
                    .pick("本机尚未接入平台，没有保留号", "This desk is not enrolled: it holds no reserved numbers")
                    .into(),
            }])
        })?;
        let exists: bool =
            tx.query_row("SELECT EXISTS (SELECT 1 FROM sessions WHERE id = ?1)", [session.as_str()], |r| r.get(0))?;
        if !exists {
            return Err(DeskError::NotFound { entity: "session", id: session.to_string() });
        }
        let held: Vec<u32> = tx
            .prepare_cached(&format!(
                "SELECT l.queue_no FROM leases l WHERE l.session_id = ?1 AND l.device_id = ?2 AND l.given_back = 0
                 AND NOT {SPENT_SQL} ORDER BY l.queue_no"
            ))?
            .query_map(params![session.as_str(), device.as_str()], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        let chosen: Vec<u32> = if numbers.is_empty() {
            held
        } else {
            let mut chosen: Vec<u32> = numbers.to_vec();
            chosen.sort_unstable();
            chosen.dedup();
            let foreign: Vec<String> = chosen.iter().filter(|n| !held.contains(n)).map(u32::to_string).collect();
            if !foreign.is_empty() {
                let list = foreign.join(", ");
                return Err(DeskError::Invalid(vec![FieldError {
                    field: "number".into(),
                    code: "not_leased_to_desk".into(),
                    message: match lang {
                        Lang::Zh => format!("本机在该出诊时段没有未用的保留号：{list}"),
                        Lang::En => format!("This desk holds no unspent reserved number {list} in that session"),
                    },
                }]));
            }
            chosen
        };
        for n in &chosen {
            tx.execute(
                "UPDATE leases SET given_back = 1 WHERE session_id = ?1 AND queue_no = ?2",
                params![session.as_str(), n],
            )?;
        }
        tx.commit()?;
        Ok(chosen)
    }

    /// The lease request to send now: the numbers given back and not yet taken back, and a
    /// top-up when `top_up`. `None` when there is nothing to ask, or the desk is not enrolled.
    pub fn lease_request(&self, top_up: bool) -> Result<Option<LeaseRequest>, DeskError> {
        let conn = self.conn();
        let Some(device) = lease_device(conn)? else { return Ok(None) };
        let give_back: Vec<LeasedNumber> = conn
            .prepare_cached(
                "SELECT session_id, queue_no FROM leases WHERE device_id = ?1 AND given_back = 1
                 ORDER BY session_id, queue_no",
            )?
            .query_map([device.as_str()], |r| {
                Ok(LeasedNumber { session_id: SessionId(r.get(0)?), queue_no: r.get(1)? })
            })?
            .collect::<Result<_, _>>()?;
        if !top_up && give_back.is_empty() {
            return Ok(None);
        }
        Ok(Some(LeaseRequest { protocol: frontdesk_protocol::PROTOCOL_VERSION, device_id: device, top_up, give_back }))
    }

    /// Records the platform's answer to `request`: numbers given back that the platform no
    /// longer leases to this desk leave the replica (the pull that follows brings the rest),
    /// and a top-up's time is noted.
    pub fn apply_lease_answer(&mut self, request: &LeaseRequest, answer: &LeaseAnswer) -> Result<(), DeskError> {
        let clock = self.clock().clone();
        let tx = self.conn_mut().transaction_with_behavior(TransactionBehavior::Immediate)?;
        let now_ms = advance_lease_clock(&tx, &*clock)?;
        let still: HashSet<(&SessionId, u32)> = answer
            .leases
            .iter()
            .filter(|l| l.device_id == request.device_id)
            .map(|l| (&l.session_id, l.queue_no))
            .collect();
        for n in &request.give_back {
            if !still.contains(&(&n.session_id, n.queue_no)) {
                tx.execute(
                    "DELETE FROM leases WHERE session_id = ?1 AND queue_no = ?2 AND device_id = ?3 AND given_back = 1",
                    params![n.session_id.as_str(), n.queue_no, request.device_id.as_str()],
                )?;
            }
        }
        if request.top_up {
            set_meta(&tx, TOP_UP_KEY, &now_ms.to_string())?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Whether the sync loop should ask for more numbers now: some session wants a top-up
    /// ([`LeaseStatus::wants_top_up`]) and the last automatic request is at least
    /// [`TOP_UP_INTERVAL_MS`] old.
    pub fn lease_top_up_due(&self) -> Result<bool, DeskError> {
        // A display holds no numbers: the platform leases only to desks.
        if self.role()? == frontdesk_protocol::enroll::DeviceRole::Display || !self.lease_status()?.wants_top_up {
            return Ok(false);
        }
        let now_ms = lease_now_ms(self.conn(), &**self.clock())?;
        let last: Option<i64> = meta(self.conn(), TOP_UP_KEY)?.and_then(|s| s.parse().ok());
        Ok(last.is_none_or(|t| now_ms - t >= TOP_UP_INTERVAL_MS))
    }
}

/// Applies a pulled `lease` record: a new grant (or one whose expiry or desk changed) gets this
/// desk's deadline counted from `received_ms` when it is this desk's own and the page said the
/// platform's time; a grant seen before keeps the deadline it got at first receipt.
pub(crate) fn upsert_lease(
    tx: &Connection,
    lease: &frontdesk_domain::lease::Lease,
    own: Option<&DeviceId>,
    received_ms: i64,
    server_now: Option<Timestamp>,
) -> Result<(), DeskError> {
    let existing: Option<(String, String)> = tx
        .prepare_cached("SELECT device_id, expires_at FROM leases WHERE session_id = ?1 AND queue_no = ?2")?
        .query_row(params![lease.session_id.as_str(), lease.queue_no], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    let seen_before = existing.is_some_and(|(device, expires)| {
        device == lease.device_id.as_str() && expires.parse::<Timestamp>().ok() == Some(lease.expires_at)
    });
    if seen_before {
        tx.prepare_cached("UPDATE leases SET slot_id = ?3 WHERE session_id = ?1 AND queue_no = ?2")?
            .execute(params![lease.session_id.as_str(), lease.queue_no, lease.slot_id.as_str()])?;
        return Ok(());
    }
    let usable_until = match (own, server_now) {
        (Some(me), Some(server_now)) if *me == lease.device_id => {
            Some(frontdesk_domain::lease::desk_deadline_ms(received_ms, lease.expires_at, server_now))
        }
        _ => None,
    };
    tx.prepare_cached(
        "INSERT INTO leases (session_id, queue_no, slot_id, device_id, expires_at, usable_until_ms, received_at_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
         ON CONFLICT (session_id, queue_no) DO UPDATE SET slot_id = excluded.slot_id,
             device_id = excluded.device_id, expires_at = excluded.expires_at,
             usable_until_ms = excluded.usable_until_ms, received_at_ms = excluded.received_at_ms, given_back = 0",
    )?
    .execute(params![
        lease.session_id.as_str(),
        lease.queue_no,
        lease.slot_id.as_str(),
        lease.device_id.as_str(),
        lease.expires_at.to_string(),
        usable_until,
        received_ms
    ])?;
    Ok(())
}

/// Applies a `lease` tombstone (id `session#number`, [`frontdesk_domain::lease::Lease::key`]).
pub(crate) fn delete_lease(tx: &Connection, key: &str) -> Result<(), DeskError> {
    let Some((session, n)) = key.rsplit_once('#') else { return Ok(()) };
    let Ok(n) = n.parse::<u32>() else { return Ok(()) };
    tx.prepare_cached("DELETE FROM leases WHERE session_id = ?1 AND queue_no = ?2")?.execute(params![session, n])?;
    Ok(())
}
