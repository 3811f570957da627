//! The waiting room on the desk (docs/SYNC.md, "The waiting room"): a checked-in booking joins
//! its session's queue, staff call, recall, skip, see or move patients, and every desk and
//! display of the site shows the same queue.
//!
//! Calls are ops like bookings. The desk predicts with the platform's own rules
//! (`frontdesk_domain::queue::SessionQueue`, [`QUEUE_POLICY`]): each check-in or queue action
//! changes the local queue in the same transaction as its outbox row, so it works offline.
//!
//! Two layers are stored:
//! - `queue_base`: the platform's entries as pulled (`queue_entry` records), never changed by
//!   this desk's own ops;
//! - `queue_entries`: what the desk shows — the base with this desk's own check-in and queue
//!   ops replayed on top in device order: the ops still in the outbox, and the ops the platform
//!   applied whose effect no pull has brought yet (`queue_inflight`, until the pull cursor
//!   passes the change-log position the platform answered with). An entry such an op changed
//!   is `predicted`.
//!
//! After every pull page, and after the platform refused a check-in, a queue op or a booking,
//! the affected sessions are rebuilt from the base and the replay ([`rebuild`]): a replayed
//! action the rules refuse now is skipped (the platform answers it), so a refused call leaves
//! no trace but its notice in the conflict inbox, and the pulled state wins.

use std::collections::{BTreeSet, HashMap, HashSet};

use frontdesk_domain::Lang;
use frontdesk_domain::announce::Announcement;
use frontdesk_domain::booking::BookingStatus;
use frontdesk_domain::names::mask_name;
use frontdesk_domain::queue::{
    Call, Place, QueueAction, QueueEntry, QueueError, QueuePolicy, QueueState, SessionQueue,
};
use frontdesk_domain::schedule::{BookingId, DepartmentId, Period, ProviderId, SessionId, SessionStatus};
use frontdesk_domain::ticket::TicketCode;
use frontdesk_protocol::sync::{Op, OpEnvelope, QueueItem};
use jiff::Timestamp;
use jiff::civil::Date;
use rusqlite::{Connection, OptionalExtension, Row, TransactionBehavior, params};
use serde::Serialize;

use crate::engine::{append_op, load_booking, pending_ops_about};
use crate::{Desk, DeskError, rows};

/// How this desk runs every queue: the same policy the platform decides with (the domain's
/// defaults — a skipped patient is a no-show after three unanswered calls and otherwise waits
/// again three places on; a late arrival joins three places after the head). The one place
/// the desk names it.
pub const QUEUE_POLICY: QueuePolicy = QueuePolicy { max_calls: 3, requeue_after: 3 };

/// How many waiting patients the waiting-room display lists after the one called.
pub const DISPLAY_NEXT: usize = 3;

/// One entry of a session's queue, as the nurse's queue screen shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QueueEntryView {
    /// The booking.
    pub booking_id: BookingId,
    /// Its queue number (what is called out).
    pub queue_no: u32,
    /// The code on the patient's ticket, when the booking is in this replica.
    pub ticket_code: Option<TicketCode>,
    /// The patient's name, masked (张*): the queue is seen by others.
    pub patient_name_masked: String,
    /// `waiting`, `called`, `seen` or `no_show`.
    pub state: QueueState,
    /// How many times the patient was called.
    pub calls: u32,
    /// The entry's place in the waiting order (`after`, `seq`).
    pub place: Place,
    /// When the patient joined the queue (checked in).
    pub joined_at: Timestamp,
    /// When the patient was last called.
    pub called_at: Option<Timestamp>,
    /// True while the entry's state comes from this desk's own check-in or queue op that the
    /// platform has not sent back yet (not yet confirmed).
    pub predicted: bool,
}

/// A queue op of this desk the platform did not apply (the queue had changed), still shown to
/// the nurse until dismissed (`resolve_conflict(conflict_id, Resolution::Acknowledge)`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QueueNotice {
    /// The entry in the conflict inbox.
    pub conflict_id: i64,
    /// The booking the op named.
    pub booking_id: BookingId,
    /// Its queue number, when known here.
    pub queue_no: Option<u32>,
    /// What the op did.
    pub action: QueueAction,
    /// The platform's reason: the queue rules' code (`not_waiting`, `not_called`,
    /// `not_in_queue`), `not_found` or `depends_on_failed`.
    pub reason: String,
    /// When the answer arrived.
    pub created_at: Timestamp,
}

impl QueueNotice {
    /// A short title, e.g. "叫号未生效" / "The call was not made".
    pub fn title(&self, lang: Lang) -> String {
        refusal_title(self.action, lang).to_string()
    }

    /// The explanation, e.g. "12 号：平台上该患者已不在候诊……".
    pub fn message(&self, lang: Lang) -> String {
        refusal_explanation(self.action, &self.reason, self.queue_no, lang)
    }
}

/// One session's queue: who is called, who waits (in call order), who is done.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SessionQueueView {
    /// The session.
    pub session_id: SessionId,
    /// Its day.
    pub date: Date,
    /// Its half-day.
    pub period: Period,
    /// Open, suspended or cancelled.
    pub status: SessionStatus,
    /// The department.
    pub department_id: DepartmentId,
    /// Department code, e.g. `NK`.
    pub department_code: String,
    /// Department name, e.g. 内科.
    pub department_name: String,
    /// Department name in English.
    pub department_name_en: String,
    /// The provider.
    pub provider_id: ProviderId,
    /// Provider's name.
    pub provider_name: String,
    /// Provider's title.
    pub provider_title: String,
    /// The consultation room, when numbered.
    pub room: Option<u32>,
    /// The patient called now.
    pub called: Option<QueueEntryView>,
    /// The waiting patients, in the order they will be called.
    pub waiting: Vec<QueueEntryView>,
    /// Seen and no-show patients, the most recently called first.
    pub done: Vec<QueueEntryView>,
    /// This desk's queue ops of the session the platform did not apply, not yet dismissed.
    pub notices: Vec<QueueNotice>,
}

/// What a call says out loud ("请 12 号 到 内科 3 诊室"), owned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CallAnnouncement {
    /// The booking called.
    pub booking_id: BookingId,
    /// The number called.
    pub queue_no: u32,
    /// The how-many-th call of this patient (1 for the first).
    pub call: u32,
    /// The department's code (its clip is `dept_<code>`).
    pub department_code: String,
    /// The consultation room, when numbered.
    pub room: Option<u32>,
}

impl CallAnnouncement {
    /// The domain's announcement (for `announce::clips` and `voice::render`).
    pub fn announcement(&self) -> Announcement<'_> {
        Announcement { queue_no: self.queue_no, department_code: &self.department_code, room: self.room }
    }
}

/// What a queue action did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QueueActOutcome {
    /// The booking acted on.
    pub booking_id: BookingId,
    /// Its session.
    pub session_id: SessionId,
    /// The action.
    pub action: QueueAction,
    /// The entries changed, the acted-on one first (a call also ends the previous call: that
    /// patient is seen).
    pub changed: Vec<QueueEntryView>,
    /// The call to announce, for `call` and `recall`.
    pub call: Option<CallAnnouncement>,
}

/// The waiting-room display of a day: one row per session with a queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WaitingRoom {
    /// The day.
    pub date: Date,
    /// Sessions with a queue, by department code, then room, then half-day.
    pub rooms: Vec<WaitingRoomRow>,
}

/// One session on the waiting-room display.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WaitingRoomRow {
    /// The session.
    pub session_id: SessionId,
    /// Department code.
    pub department_code: String,
    /// Department name.
    pub department_name: String,
    /// Department name in English.
    pub department_name_en: String,
    /// Provider's name.
    pub provider_name: String,
    /// The half-day.
    pub period: Period,
    /// The consultation room, when numbered.
    pub room: Option<u32>,
    /// The number being called now.
    pub calling: Option<DisplayCall>,
    /// The next few waiting ([`DISPLAY_NEXT`]), in call order.
    pub next: Vec<DisplayWaiting>,
    /// How many wait in all.
    pub waiting: u32,
}

/// The number being called, on the display.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DisplayCall {
    /// The number.
    pub queue_no: u32,
    /// The patient's masked name.
    pub patient_name_masked: String,
    /// How many times called.
    pub calls: u32,
    /// When last called.
    pub called_at: Option<Timestamp>,
}

/// A waiting patient on the display.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DisplayWaiting {
    /// The number.
    pub queue_no: u32,
    /// The patient's masked name.
    pub patient_name_masked: String,
}

/// A short title for a queue op the platform did not apply.
pub(crate) fn refusal_title(action: QueueAction, lang: Lang) -> &'static str {
    match action {
        QueueAction::Call => lang.pick("叫号未生效", "The call was not made"),
        QueueAction::Recall => lang.pick("重呼未生效", "The repeated call was not made"),
        QueueAction::Skip => lang.pick("过号未生效", "The skip did not take effect"),
        QueueAction::Seen => lang.pick("就诊标记未生效", "Marking as seen did not take effect"),
        QueueAction::ToEnd => lang.pick("移到队尾未生效", "Moving to the end did not take effect"),
    }
}

/// Why a queue op was not applied, in plain words; the queue shown is the platform's.
pub(crate) fn refusal_explanation(action: QueueAction, reason: &str, queue_no: Option<u32>, lang: Lang) -> String {
    let why = match reason {
        "not_waiting" => lang.pick(
            "队列已变化：平台上该患者已不在候诊（可能已被其他窗口叫号，或已就诊、已过号）。",
            "The queue changed: on the platform the patient was no longer waiting (called by another desk, seen or \
             a no-show already).",
        ),
        "not_called" => lang.pick(
            "队列已变化：平台上该患者不是当前叫到的患者（其他窗口已叫了别人或已处理）。",
            "The queue changed: on the platform the patient was not the one being called (another desk called \
             someone else or dealt with them).",
        ),
        "not_in_queue" => lang.pick(
            "平台上该患者不在候诊队列里（签到未成功）。",
            "On the platform the patient is not in the queue (the check-in did not go through).",
        ),
        "not_found" => lang.pick("平台上找不到该挂号。", "The platform does not have this booking."),
        "depends_on_failed" => lang.pick(
            "它依赖的上一步操作（签到或之前的叫号）没有成功。",
            "An earlier step it depended on (the check-in or an earlier call) did not go through.",
        ),
        _ => lang.pick("队列已变化。", "The queue changed."),
    };
    let after = match action {
        QueueAction::Call | QueueAction::Recall => lang.pick(
            "现在显示的是平台上的队列，如仍需叫号请重新操作。",
            "The queue shown is the platform's now; call again if still needed.",
        ),
        _ => lang.pick("现在显示的是平台上的队列。", "The queue shown is the platform's now."),
    };
    let who = queue_no.map(|n| match lang {
        Lang::Zh => format!("{n} 号："),
        Lang::En => format!("Number {n}: "),
    });
    format!("{}{why}{after}", who.unwrap_or_default())
}

fn corrupt(what: &'static str, detail: impl std::fmt::Display) -> DeskError {
    DeskError::Corrupt { what, detail: detail.to_string() }
}

fn state_text(s: QueueState) -> &'static str {
    match s {
        QueueState::Waiting => "waiting",
        QueueState::Called => "called",
        QueueState::Seen => "seen",
        QueueState::NoShow => "no_show",
    }
}

fn parse_state(s: &str) -> Result<QueueState, DeskError> {
    Ok(match s {
        "waiting" => QueueState::Waiting,
        "called" => QueueState::Called,
        "seen" => QueueState::Seen,
        "no_show" => QueueState::NoShow,
        other => return Err(corrupt("queue_entries.state", other)),
    })
}

fn timestamp(what: &'static str, s: &str) -> Result<Timestamp, DeskError> {
    s.parse().map_err(|e| corrupt(what, e))
}

/// The time a local op happened: the wall-clock part of its hybrid logical clock stamp.
fn op_time(env: &OpEnvelope) -> Timestamp {
    Timestamp::from_millisecond(env.hlc.wall_ms).unwrap_or(Timestamp::UNIX_EPOCH)
}

/// When an entry joined and was last called.
#[derive(Debug, Clone, Copy)]
struct Times {
    joined_at: Timestamp,
    called_at: Option<Timestamp>,
}

/// Which stored layer.
#[derive(Debug, Clone, Copy)]
enum Layer {
    /// `queue_base`: the platform's.
    Base,
    /// `queue_entries`: what the desk shows.
    View,
}

/// Entry columns of both layers.
const ENTRY_COLUMNS: &str = "booking_id, queue_no, state, calls, place_after, place_seq, joined_at, called_at";

fn read_entry(r: &Row<'_>) -> Result<(QueueEntry, Times), DeskError> {
    let state: String = r.get(2)?;
    let joined: String = r.get(6)?;
    let called: Option<String> = r.get(7)?;
    Ok((
        QueueEntry {
            booking_id: BookingId(r.get(0)?),
            queue_no: r.get(1)?,
            state: parse_state(&state)?,
            calls: r.get(3)?,
            place: Place { after: r.get(4)?, seq: r.get(5)? },
        },
        Times {
            joined_at: timestamp("queue_entries.joined_at", &joined)?,
            called_at: called.map(|c| timestamp("queue_entries.called_at", &c)).transpose()?,
        },
    ))
}

/// One session's queue being worked on: the domain's queue, the times the rules do not keep,
/// and which entries this desk's own ops changed.
struct Working {
    session: String,
    queue: SessionQueue,
    times: HashMap<BookingId, Times>,
    predicted: HashSet<BookingId>,
}

impl Working {
    fn load(conn: &Connection, layer: Layer, session: &str) -> Result<Working, DeskError> {
        let sql = match layer {
            Layer::Base => format!("SELECT {ENTRY_COLUMNS}, 0 FROM queue_base WHERE session_id = ?1"),
            Layer::View => format!("SELECT {ENTRY_COLUMNS}, predicted FROM queue_entries WHERE session_id = ?1"),
        };
        let mut entries = Vec::new();
        let mut times = HashMap::new();
        let mut predicted = HashSet::new();
        let rows = conn
            .prepare_cached(&sql)?
            .query_and_then([session], |r| Ok::<_, DeskError>((read_entry(r)?, r.get::<_, i64>(8)? != 0)))?
            .collect::<Result<Vec<_>, _>>()?;
        for ((entry, t), p) in rows {
            if p {
                predicted.insert(entry.booking_id.clone());
            }
            times.insert(entry.booking_id.clone(), t);
            entries.push(entry);
        }
        Ok(Working { session: session.to_string(), queue: SessionQueue::from_entries(entries), times, predicted })
    }

    /// A booking checked in at `at` joins (the domain's rule for a late arrival included).
    fn join(&mut self, booking: &BookingId, queue_no: u32, at: Timestamp) -> Result<(), QueueError> {
        self.queue.check_in(booking.clone(), queue_no, &QUEUE_POLICY)?;
        self.times.insert(booking.clone(), Times { joined_at: at, called_at: None });
        self.predicted.insert(booking.clone());
        Ok(())
    }

    /// An action at `at`: the entries changed (acted-on first) and the call, if any.
    fn act(
        &mut self,
        booking: &BookingId,
        action: QueueAction,
        at: Timestamp,
    ) -> Result<(Vec<QueueEntry>, Option<Call>), QueueError> {
        let (changed, call) = self.queue.act(booking, action, &QUEUE_POLICY)?;
        for e in &changed {
            self.predicted.insert(e.booking_id.clone());
        }
        if let Some(c) = &call
            && let Some(t) = self.times.get_mut(&c.booking_id)
        {
            t.called_at = Some(at);
        }
        Ok((changed, call))
    }

    /// Replays one of this desk's ops (a refusal is skipped: the platform answers it).
    fn replay(&mut self, conn: &Connection, env: &OpEnvelope) -> Result<(), DeskError> {
        match &env.op {
            Op::CheckIn { booking_id, .. } => {
                let Some(b) = booking_place(conn, booking_id)? else { return Ok(()) };
                if b.session == self.session && b.status == BookingStatus::CheckedIn {
                    let _ = self.join(booking_id, b.queue_no, op_time(env));
                }
            }
            // Only a booking of this queue (a booking is in one session's queue at most).
            Op::Queue { booking_id, action } if self.queue.entry(booking_id).is_some() => {
                let _ = self.act(booking_id, *action, op_time(env));
            }
            _ => {}
        }
        Ok(())
    }

    /// Writes entries to the view (all of them, or only `only`).
    fn write(&self, tx: &Connection, only: Option<&[QueueEntry]>) -> Result<(), DeskError> {
        let all = self.queue.entries();
        let entries = only.unwrap_or(all);
        let mut stmt = tx.prepare_cached(
            "INSERT INTO queue_entries (booking_id, session_id, queue_no, state, calls, place_after, place_seq,
                 joined_at, called_at, predicted)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
             ON CONFLICT (booking_id) DO UPDATE SET session_id = excluded.session_id, queue_no = excluded.queue_no,
                 state = excluded.state, calls = excluded.calls, place_after = excluded.place_after,
                 place_seq = excluded.place_seq, joined_at = excluded.joined_at, called_at = excluded.called_at,
                 predicted = excluded.predicted",
        )?;
        for e in entries {
            let t = self
                .times
                .get(&e.booking_id)
                .ok_or_else(|| corrupt("queue_entries.joined_at", format!("no time for {}", e.booking_id)))?;
            stmt.execute(params![
                e.booking_id.as_str(),
                self.session,
                e.queue_no,
                state_text(e.state),
                e.calls,
                e.place.after,
                e.place.seq,
                t.joined_at.to_string(),
                t.called_at.map(|c| c.to_string()),
                self.predicted.contains(&e.booking_id) as i64
            ])?;
        }
        Ok(())
    }
}

/// What the queue rules need of a booking.
struct BookingPlace {
    session: String,
    queue_no: u32,
    status: BookingStatus,
}

fn booking_place(conn: &Connection, id: &BookingId) -> Result<Option<BookingPlace>, DeskError> {
    let row: Option<(String, u32, String)> = conn
        .prepare_cached("SELECT session_id, queue_no, status FROM bookings WHERE id = ?1")?
        .query_row([id.as_str()], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .optional()?;
    row.map(|(session, queue_no, status)| {
        let status = BookingStatus::parse(&status).ok_or_else(|| corrupt("bookings.status", &status))?;
        Ok(BookingPlace { session, queue_no, status })
    })
    .transpose()
}

/// The session whose queue a booking is (or would be) in.
pub(crate) fn session_of_booking(conn: &Connection, id: &str) -> Result<Option<String>, DeskError> {
    let found: Option<String> = conn
        .prepare_cached(
            "SELECT session_id FROM queue_entries WHERE booking_id = ?1
             UNION ALL SELECT session_id FROM queue_base WHERE booking_id = ?1
             UNION ALL SELECT session_id FROM bookings WHERE id = ?1 LIMIT 1",
        )?
        .query_row([id], |r| r.get(0))
        .optional()?;
    Ok(found)
}

/// This desk's check-in and queue ops whose effect no pull has brought yet — those applied
/// and in flight, then those still in the outbox —, in device order, by the session whose
/// queue they are about.
fn local_queue_ops(conn: &Connection) -> Result<HashMap<String, Vec<OpEnvelope>>, DeskError> {
    let texts: Vec<String> = conn
        .prepare_cached(
            "SELECT seq, envelope FROM queue_inflight
             UNION ALL SELECT seq, envelope FROM outbox WHERE kind IN ('check_in', 'queue')
             ORDER BY seq",
        )?
        .query_map([], |r| r.get(1))?
        .collect::<Result<_, _>>()?;
    let mut out: HashMap<String, Vec<OpEnvelope>> = HashMap::new();
    for t in texts {
        let env: OpEnvelope = serde_json::from_str(&t).map_err(|e| corrupt("outbox.envelope", e))?;
        let booking = match &env.op {
            Op::CheckIn { booking_id, .. } | Op::Queue { booking_id, .. } => booking_id,
            _ => continue,
        };
        if let Some(session) = session_of_booking(conn, booking.as_str())? {
            out.entry(session).or_default().push(env);
        }
    }
    Ok(out)
}

/// After a pulled page: the applied ops whose effect lies at or before `cursor` leave the
/// replay (they are in the base now), and the view of every session the page changed, or
/// that this desk's unpulled ops are about, is rebuilt (a pulled booking may have been
/// renumbered, cancelled, …).
pub(crate) fn rebuild_after_pull(tx: &Connection, cursor: u64, changed: BTreeSet<String>) -> Result<(), DeskError> {
    tx.prepare_cached("DELETE FROM queue_inflight WHERE cursor <= ?1")?.execute([cursor as i64])?;
    let ops = local_queue_ops(tx)?;
    let mut sessions = changed;
    sessions.extend(ops.keys().cloned());
    rebuild_with(tx, &sessions, &ops)
}

/// Rebuilds the view of these sessions: the platform's entries, then this desk's unpulled ops
/// replayed in device order with the queue rules (a refusal is skipped).
pub(crate) fn rebuild(tx: &Connection, sessions: &BTreeSet<String>) -> Result<(), DeskError> {
    if sessions.is_empty() {
        return Ok(());
    }
    rebuild_with(tx, sessions, &local_queue_ops(tx)?)
}

fn rebuild_with(
    tx: &Connection,
    sessions: &BTreeSet<String>,
    ops: &HashMap<String, Vec<OpEnvelope>>,
) -> Result<(), DeskError> {
    for session in sessions {
        let mut w = Working::load(tx, Layer::Base, session)?;
        for env in ops.get(session).into_iter().flatten() {
            w.replay(tx, env)?;
        }
        tx.prepare_cached("DELETE FROM queue_entries WHERE session_id = ?1")?.execute([session])?;
        w.write(tx, None)?;
    }
    Ok(())
}

/// A pulled `queue_entry` record: the platform's entry. Returns its session.
pub(crate) fn store_pulled(tx: &Connection, item: &QueueItem) -> Result<String, DeskError> {
    let e = &item.entry;
    tx.prepare_cached(
        "INSERT INTO queue_base (booking_id, session_id, queue_no, state, calls, place_after, place_seq, joined_at,
             called_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
         ON CONFLICT (booking_id) DO UPDATE SET session_id = excluded.session_id, queue_no = excluded.queue_no,
             state = excluded.state, calls = excluded.calls, place_after = excluded.place_after,
             place_seq = excluded.place_seq, joined_at = excluded.joined_at, called_at = excluded.called_at",
    )?
    .execute(params![
        e.booking_id.as_str(),
        item.session_id.as_str(),
        e.queue_no,
        state_text(e.state),
        e.calls,
        e.place.after,
        e.place.seq,
        item.joined_at.to_string(),
        item.called_at.map(|c| c.to_string())
    ])?;
    Ok(item.session_id.to_string())
}

/// Removes a booking's entry from both layers (a `queue_entry` or `booking` tombstone);
/// returns the session it was in.
pub(crate) fn forget_entry(tx: &Connection, booking: &str) -> Result<Option<String>, DeskError> {
    let session = session_of_booking(tx, booking)?;
    tx.prepare_cached("DELETE FROM queue_base WHERE booking_id = ?1")?.execute([booking])?;
    tx.prepare_cached("DELETE FROM queue_entries WHERE booking_id = ?1")?.execute([booking])?;
    Ok(session)
}

/// Removes a whole session's queue (a `session` tombstone).
pub(crate) fn forget_session(tx: &Connection, session: &str) -> Result<(), DeskError> {
    tx.prepare_cached("DELETE FROM queue_base WHERE session_id = ?1")?.execute([session])?;
    tx.prepare_cached("DELETE FROM queue_entries WHERE session_id = ?1")?.execute([session])?;
    Ok(())
}

/// Forgets every queue (a desk starting over from the platform's snapshot).
pub(crate) fn forget_all(tx: &Connection) -> Result<(), DeskError> {
    tx.execute_batch("DELETE FROM queue_base; DELETE FROM queue_entries; DELETE FROM queue_inflight;")?;
    Ok(())
}

/// The platform applied this desk's check-in or queue op (`seq`), its effect at change-log
/// position `cursor`: it stays in the replay until a pull passes that position.
pub(crate) fn note_in_flight(tx: &Connection, seq: i64, envelope_json: &str, cursor: u64) -> Result<(), DeskError> {
    let pulled: u64 = crate::engine::meta(tx, "pull_cursor")?.and_then(|c| c.parse().ok()).unwrap_or(0);
    if cursor > pulled {
        tx.prepare_cached("INSERT OR REPLACE INTO queue_inflight (seq, cursor, envelope) VALUES (?1, ?2, ?3)")?
            .execute(params![seq, cursor as i64, envelope_json])?;
    }
    Ok(())
}

/// A booking just checked in here (`env` its op, already in the outbox) joins its session's
/// queue in the view, as the platform will make it join.
pub(crate) fn join_local(
    tx: &Connection,
    booking: &BookingId,
    session: &SessionId,
    queue_no: u32,
    env: &OpEnvelope,
) -> Result<(), DeskError> {
    let mut w = Working::load(tx, Layer::View, session.as_str())?;
    if w.join(booking, queue_no, op_time(env)).is_ok() {
        let entry = w.queue.entry(booking).cloned().into_iter().collect::<Vec<_>>();
        w.write(tx, Some(&entry))?;
    }
    Ok(())
}

/// Appends the `queue` op for `action` on `booking` and applies it to the view, in the
/// caller's transaction. The rules refuse before anything is written.
fn act_in(
    tx: &Connection,
    clock: &dyn frontdesk_domain::clock::Clock,
    staff: &str,
    booking: &BookingId,
    action: QueueAction,
) -> Result<QueueActOutcome, DeskError> {
    let b = load_booking(tx, booking)?;
    let mut w = Working::load(tx, Layer::View, b.session_id.as_str())?;
    // Decide on a copy first: a refusal writes nothing and appends no op.
    w.queue.clone().act(booking, action, &QUEUE_POLICY).map_err(DeskError::Queue)?;
    let deps = pending_ops_about(tx, booking.as_str())?;
    let env = append_op(tx, clock, staff, booking.as_str(), Op::Queue { booking_id: booking.clone(), action }, deps)?;
    let (changed, call) = w.act(booking, action, op_time(&env)).map_err(DeskError::Queue)?;
    w.write(tx, Some(&changed))?;
    let ids: Vec<BookingId> = changed.iter().map(|e| e.booking_id.clone()).collect();
    let mut views = entry_views(tx, "q.session_id = ?1", params![b.session_id.as_str()])?;
    let changed = ids
        .iter()
        .filter_map(|id| views.iter().position(|v| &v.booking_id == id).map(|i| views.swap_remove(i)))
        .collect();
    let call = match call {
        Some(c) => Some(announcement_for(tx, &c.booking_id, c.call)?),
        None => None,
    };
    Ok(QueueActOutcome { booking_id: booking.clone(), session_id: b.session_id, action, changed, call })
}

/// Entries of the view with their booking's ticket and masked patient name.
fn entry_views(conn: &Connection, condition: &str, p: impl rusqlite::Params) -> Result<Vec<QueueEntryView>, DeskError> {
    let sql = format!(
        "SELECT q.booking_id, q.queue_no, q.state, q.calls, q.place_after, q.place_seq, q.joined_at, q.called_at,
             q.predicted, b.ticket_code, p.name
         FROM queue_entries q LEFT JOIN bookings b ON b.id = q.booking_id LEFT JOIN patients p ON p.id = b.patient_id
         WHERE {condition}"
    );
    let views = conn
        .prepare_cached(&sql)?
        .query_and_then(p, |r| {
            let (entry, times) = read_entry(r)?;
            let code: Option<String> = r.get(9)?;
            let name: Option<String> = r.get(10)?;
            Ok::<_, DeskError>(QueueEntryView {
                booking_id: entry.booking_id,
                queue_no: entry.queue_no,
                ticket_code: code
                    .map(|c| TicketCode::parse(&c).map_err(|e| corrupt("bookings.ticket_code", e)))
                    .transpose()?,
                patient_name_masked: name.as_deref().map(mask_name).unwrap_or_default(),
                state: entry.state,
                calls: entry.calls,
                place: entry.place,
                joined_at: times.joined_at,
                called_at: times.called_at,
                predicted: r.get::<_, i64>(8)? != 0,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(views)
}

/// The announcement of a booking's call: its number, department and room.
fn announcement_for(conn: &Connection, booking: &BookingId, call: u32) -> Result<CallAnnouncement, DeskError> {
    let row: Option<(u32, String, Option<u32>)> = conn
        .prepare_cached(
            "SELECT coalesce(q.queue_no, b.queue_no), d.code, s.room
             FROM bookings b JOIN sessions s ON s.id = b.session_id JOIN departments d ON d.id = s.department_id
             LEFT JOIN queue_entries q ON q.booking_id = b.id WHERE b.id = ?1",
        )?
        .query_row([booking.as_str()], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .optional()?;
    let (queue_no, department_code, room) =
        row.ok_or_else(|| DeskError::NotFound { entity: "booking", id: booking.to_string() })?;
    Ok(CallAnnouncement { booking_id: booking.clone(), queue_no, call, department_code, room })
}

/// The session header of a queue view.
struct Header {
    session: frontdesk_domain::schedule::Session,
    department_code: String,
    department_name: String,
    department_name_en: String,
    provider_name: String,
    provider_title: String,
}

fn header(conn: &Connection, session: &str) -> Result<Option<Header>, DeskError> {
    let sql = format!(
        "SELECT {}, d.code, d.name, d.name_en, pr.name, pr.title FROM sessions s
         JOIN departments d ON d.id = s.department_id JOIN providers pr ON pr.id = s.provider_id WHERE s.id = ?1",
        rows::SESSION_COLUMNS
    );
    let w = rows::SESSION_WIDTH;
    conn.prepare_cached(&sql)?
        .query_and_then([session], |r| {
            Ok::<_, DeskError>(Header {
                session: rows::session(r, 0)?,
                department_code: r.get(w)?,
                department_name: r.get(w + 1)?,
                department_name_en: r.get(w + 2)?,
                provider_name: r.get(w + 3)?,
                provider_title: r.get(w + 4)?,
            })
        })?
        .next()
        .transpose()
}

/// Open notices (refused queue ops) about bookings of a session.
fn notices(conn: &Connection, session: &str) -> Result<Vec<QueueNotice>, DeskError> {
    let raw: Vec<(i64, String, String, String)> = conn
        .prepare_cached(
            "SELECT c.id, c.reason, c.envelope, c.created_at FROM conflicts c
             WHERE c.kind = 'queue' AND c.resolved_at IS NULL
                 AND c.subject IN (SELECT id FROM bookings WHERE session_id = ?1
                                   UNION SELECT booking_id FROM queue_entries WHERE session_id = ?1)
             ORDER BY c.id",
        )?
        .query_map([session], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
        .collect::<Result<_, _>>()?;
    let mut out = Vec::new();
    for (id, reason, envelope, created) in raw {
        let env: OpEnvelope = serde_json::from_str(&envelope).map_err(|e| corrupt("conflicts.envelope", e))?;
        let Op::Queue { booking_id, action } = env.op else { continue };
        let queue_no = queue_no_of(conn, &booking_id)?;
        out.push(QueueNotice {
            conflict_id: id,
            booking_id,
            queue_no,
            action,
            reason,
            created_at: timestamp("conflicts.created_at", &created)?,
        });
    }
    Ok(out)
}

/// A booking's queue number, as this replica knows it.
pub(crate) fn queue_no_of(conn: &Connection, booking: &BookingId) -> Result<Option<u32>, DeskError> {
    Ok(conn
        .prepare_cached(
            "SELECT queue_no FROM queue_entries WHERE booking_id = ?1 UNION ALL SELECT queue_no FROM bookings WHERE id = ?1
             LIMIT 1",
        )?
        .query_row([booking.as_str()], |r| r.get(0))
        .optional()?)
}

fn queue_view(conn: &Connection, session: &SessionId) -> Result<SessionQueueView, DeskError> {
    let h = header(conn, session.as_str())?
        .ok_or_else(|| DeskError::NotFound { entity: "session", id: session.to_string() })?;
    let mut called = None;
    let mut waiting = Vec::new();
    let mut done = Vec::new();
    for v in entry_views(conn, "q.session_id = ?1", [session.as_str()])? {
        match v.state {
            QueueState::Called => called = Some(v),
            QueueState::Waiting => waiting.push(v),
            QueueState::Seen | QueueState::NoShow => done.push(v),
        }
    }
    // The rules' own order: by place.
    waiting.sort_by_key(|v| v.place);
    done.sort_by(|a, b| b.called_at.cmp(&a.called_at).then(b.queue_no.cmp(&a.queue_no)));
    Ok(SessionQueueView {
        session_id: h.session.id.clone(),
        date: h.session.date,
        period: h.session.period,
        status: h.session.status,
        department_id: h.session.department_id.clone(),
        department_code: h.department_code,
        department_name: h.department_name,
        department_name_en: h.department_name_en,
        provider_id: h.session.provider_id.clone(),
        provider_name: h.provider_name,
        provider_title: h.provider_title,
        room: h.session.room,
        called,
        waiting,
        done,
        notices: notices(conn, session.as_str())?,
    })
}

impl Desk {
    /// A session's queue: who is called, who waits (in call order), who is done, and this
    /// desk's queue ops the platform did not apply (notices).
    pub fn queue(&self, session: &SessionId) -> Result<SessionQueueView, DeskError> {
        queue_view(self.conn(), session)
    }

    /// The queues of a day: of one department (code or id; every session of it that day,
    /// queued or not), or of every session that has a queue. By department code, room,
    /// half-day.
    pub fn queues(&self, date: Date, department: Option<&str>) -> Result<Vec<SessionQueueView>, DeskError> {
        let conn = self.conn();
        let ids: Vec<String> = match department {
            Some(d) => {
                let site = self.site()?;
                conn.prepare_cached(
                    "SELECT s.id FROM sessions s JOIN departments d ON d.id = s.department_id
                     WHERE s.date = ?1 AND d.site_id = ?2 AND (upper(d.code) = upper(?3) OR d.id = ?3)",
                )?
                .query_map(params![date.to_string(), site.id.as_str(), d.trim()], |r| r.get(0))?
                .collect::<Result<_, _>>()?
            }
            None => conn
                .prepare_cached(
                    "SELECT DISTINCT s.id FROM sessions s JOIN queue_entries q ON q.session_id = s.id WHERE s.date = ?1",
                )?
                .query_map([date.to_string()], |r| r.get(0))?
                .collect::<Result<_, _>>()?,
        };
        if let Some(d) = department
            && ids.is_empty()
        {
            // An unknown department is a clear refusal, not an empty list.
            self.departments()?
                .into_iter()
                .find(|x| x.code.eq_ignore_ascii_case(d.trim()) || x.id.as_str() == d.trim())
                .ok_or_else(|| DeskError::NotFound { entity: "department", id: d.to_string() })?;
        }
        let mut out = ids.into_iter().map(|id| queue_view(conn, &SessionId(id))).collect::<Result<Vec<_>, _>>()?;
        out.sort_by(|a, b| {
            (&a.department_code, a.room.is_none(), a.room, a.period, &a.session_id).cmp(&(
                &b.department_code,
                b.room.is_none(),
                b.room,
                b.period,
                &b.session_id,
            ))
        });
        Ok(out)
    }

    /// The waiting-room display of a day: every session with a queue, by department code
    /// then room — the number called now (masked name, calls, when), the next
    /// [`DISPLAY_NEXT`] waiting, and how many wait.
    pub fn waiting_room(&self, date: Date) -> Result<WaitingRoom, DeskError> {
        let rooms = self
            .queues(date, None)?
            .into_iter()
            .map(|q| WaitingRoomRow {
                session_id: q.session_id,
                department_code: q.department_code,
                department_name: q.department_name,
                department_name_en: q.department_name_en,
                provider_name: q.provider_name,
                period: q.period,
                room: q.room,
                calling: q.called.map(|c| DisplayCall {
                    queue_no: c.queue_no,
                    patient_name_masked: c.patient_name_masked,
                    calls: c.calls,
                    called_at: c.called_at,
                }),
                waiting: q.waiting.len() as u32,
                next: q
                    .waiting
                    .into_iter()
                    .take(DISPLAY_NEXT)
                    .map(|w| DisplayWaiting { queue_no: w.queue_no, patient_name_masked: w.patient_name_masked })
                    .collect(),
            })
            .collect();
        Ok(WaitingRoom { date, rooms })
    }

    /// Acts on a booking of a queue — call a waiting patient (the one called before is then
    /// seen), recall or skip or see the called one, move a waiting one to the end — with the
    /// platform's rules, on this desk's view of the queue. The change is stored in the same
    /// transaction as its `queue` op (which depends on this desk's still-pending ops about the
    /// booking, e.g. its check-in). Refusals are [`DeskError::Queue`] with the rules' code
    /// (`not_waiting`, `not_called`, `not_in_queue`, …); nothing is written then.
    pub fn queue_act(&mut self, booking: &BookingId, action: QueueAction) -> Result<QueueActOutcome, DeskError> {
        let staff = self.authorize(crate::Action::Queue)?;
        let clock = self.clock().clone();
        let tx = self.conn_mut().transaction_with_behavior(TransactionBehavior::Immediate)?;
        let outcome = act_in(&tx, &*clock, &staff.id, booking, action)?;
        tx.commit()?;
        Ok(outcome)
    }

    /// Calls the first waiting patient of a session (the one called before is then seen).
    /// `nobody_waiting` when nobody waits.
    pub fn call_next(&mut self, session: &SessionId) -> Result<QueueActOutcome, DeskError> {
        let staff = self.authorize(crate::Action::Queue)?;
        let clock = self.clock().clone();
        let tx = self.conn_mut().transaction_with_behavior(TransactionBehavior::Immediate)?;
        header(&tx, session.as_str())?
            .ok_or_else(|| DeskError::NotFound { entity: "session", id: session.to_string() })?;
        let w = Working::load(&tx, Layer::View, session.as_str())?;
        let next = w
            .queue
            .waiting()
            .first()
            .map(|e| e.booking_id.clone())
            .ok_or(DeskError::Queue(QueueError::NobodyWaiting))?;
        let outcome = act_in(&tx, &*clock, &staff.id, &next, QueueAction::Call)?;
        tx.commit()?;
        Ok(outcome)
    }

    /// What the waiting room hears for a booking's current call: its number, department and
    /// room (the call count is the entry's calls so far).
    pub fn announcement(&self, booking: &BookingId) -> Result<CallAnnouncement, DeskError> {
        let calls: Option<u32> = self
            .conn()
            .query_row("SELECT calls FROM queue_entries WHERE booking_id = ?1", [booking.as_str()], |r| r.get(0))
            .optional()?;
        announcement_for(self.conn(), booking, calls.unwrap_or(0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_desk_runs_queues_with_the_domain_s_default_policy() {
        assert_eq!(QUEUE_POLICY, QueuePolicy::default());
    }

    #[test]
    fn refusals_are_explained_in_both_languages() {
        for reason in ["not_waiting", "not_called", "not_in_queue", "not_found", "depends_on_failed", "other"] {
            let zh = refusal_explanation(QueueAction::Call, reason, Some(12), Lang::Zh);
            let en = refusal_explanation(QueueAction::Call, reason, Some(12), Lang::En);
            assert!(zh.starts_with("12 号") && en.starts_with("Number 12"), "{zh} / {en}");
        }
        assert_eq!(refusal_title(QueueAction::Call, Lang::En), "The call was not made");
    }
}
