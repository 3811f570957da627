//! What sync does to the replica: enrollment, the next batch to push, the platform's answers,
//! pulled changes with pending ops rebased on top, and the conflict inbox.

use std::collections::BTreeSet;

use frontdesk_domain::Lang;
use frontdesk_domain::booking::{Booking, Suggestion};
use frontdesk_domain::patient::{FieldError, Patient};
use frontdesk_domain::schedule::{BookingId, PatientId, Pool, SlotId};
use frontdesk_protocol::enroll::{DeviceRole, EnrollResponse};
use frontdesk_protocol::sync::{Conflict, Op, OpEnvelope, Outcome, PullResponse, PushRequest, PushResponse, Record};
use jiff::Timestamp;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use serde::Serialize;

use crate::engine::{
    BookTarget, BookingView, SlotFilter, insert_patient, load_slot_states, meta, set_meta, update_patient_row,
    upsert_session, upsert_slot, write_booking,
};
use crate::{Desk, DeskError};

/// Where and how this desk syncs.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The platform's base URL.
    pub server_url: String,
    /// The device's bearer token (never in `Debug` output, so never in a log line).
    pub token: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials").field("server_url", &self.server_url).field("token", &"(hidden)").finish()
    }
}

/// What one push settled.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PushSummary {
    /// Ops applied (or applied before).
    pub applied: usize,
    /// Ops that went to the conflict inbox for a person to resolve.
    pub conflicts: usize,
    /// Queue ops (calls, …) the platform did not apply: notices in the inbox, nothing to
    /// resolve (the platform's queue is shown).
    pub notices: usize,
    /// Ops the platform deferred (an earlier op has not reached it).
    pub deferred: usize,
}

/// The desk's sync state, for the status line and the sync panel.
#[derive(Debug, Clone, Serialize)]
pub struct SyncStatus {
    /// The platform, once enrolled.
    pub server: Option<String>,
    /// Whether the last attempt reached the platform (`None` before any attempt).
    pub online: Option<bool>,
    /// The last successful sync.
    pub last_success: Option<Timestamp>,
    /// The last attempt.
    pub last_attempt: Option<Timestamp>,
    /// What went wrong in the last attempt, if it failed.
    pub last_error: Option<String>,
    /// Ops waiting to be sent.
    pub pending_ops: u64,
    /// Age of the oldest waiting op, in seconds.
    pub oldest_pending_secs: Option<i64>,
    /// Conflicts waiting for a person (a resolution), notices not counted.
    pub open_conflicts: u64,
    /// Informational notices not yet dismissed: this desk's queue actions (calls) the
    /// platform did not apply because the queue had changed. Nothing to resolve.
    pub open_notices: u64,
    /// The change-log position the replica is at.
    pub cursor: u64,
}

/// A conflict (or rejection) waiting in the inbox.
#[derive(Debug, Clone, Serialize)]
pub struct ConflictEntry {
    /// Inbox id.
    pub id: i64,
    /// The op's kind.
    pub kind: String,
    /// True for a notice: nothing to resolve, only to read and dismiss (with
    /// [`Resolution::Acknowledge`]). A queue op (a call, recall, skip, seen, to-end) the
    /// platform did not apply is one: the platform's queue is shown and the nurse acts again
    /// if needed.
    pub informational: bool,
    /// The stable reason, e.g. `slot_full`.
    pub reason: String,
    /// A short title in the asked language.
    pub title: String,
    /// A plain explanation in the asked language.
    pub explanation: String,
    /// The patient concerned, when known.
    pub patient_name: Option<String>,
    /// The booking concerned, for a booking, cancel, check-in or queue op.
    pub booking_id: Option<BookingId>,
    /// Its queue number, for a queue op.
    pub queue_no: Option<u32>,
    /// What the desk had booked (slot id, date and window), for a booking conflict.
    pub slot_id: Option<SlotId>,
    /// The slots the platform suggests instead.
    pub suggestions: Vec<Suggestion>,
    /// Field errors of a rejected op.
    pub errors: Vec<FieldError>,
    /// The op as the desk made it.
    pub envelope: OpEnvelope,
    /// When it reached the inbox.
    pub created_at: Timestamp,
    /// When it was resolved.
    pub resolved_at: Option<Timestamp>,
    /// How it was resolved.
    pub resolution: Option<String>,
}

/// How a person resolves a conflict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolution {
    /// Book the patient into this slot instead.
    Rebook(SlotId),
    /// Give up the booking and tell the patient (the notice is returned for printing).
    Cancel,
    /// Book beyond capacity (admins only; the caller checks the role) with a reason.
    Overbook(String),
    /// Nothing to redo (e.g. a check-in the platform had already recorded).
    Acknowledge,
}

/// What resolving a conflict did.
#[derive(Debug, Clone, Serialize)]
pub struct ResolutionOutcome {
    /// The new booking, when the resolution booked again.
    pub booking: Option<BookingView>,
    /// The notice for the patient, when the booking was given up.
    pub notice: Option<String>,
}

/// A `conflicts` row: id, kind, reason, detail, envelope, created, resolved, resolution.
type InboxRow = (i64, String, String, String, String, String, Option<String>, Option<String>);

fn corrupt(what: &'static str, e: impl std::fmt::Display) -> DeskError {
    DeskError::Corrupt { what, detail: e.to_string() }
}

fn envelope_of(json: &str) -> Result<OpEnvelope, DeskError> {
    serde_json::from_str(json).map_err(|e| corrupt("outbox.envelope", e))
}

impl Desk {
    /// What the platform enrolled this device as: a desk (the default, also before
    /// enrolling), or a waiting-room display that changes nothing ([`DeskError::DisplayOnly`]).
    pub fn role(&self) -> Result<DeviceRole, DeskError> {
        Ok(meta(self.conn(), "device_role")?.as_deref().and_then(DeviceRole::parse).unwrap_or_default())
    }

    /// The platform and token, once enrolled.
    pub fn credentials(&self) -> Result<Option<Credentials>, DeskError> {
        let conn = self.conn();
        Ok(match (meta(conn, "server_url")?, meta(conn, "device_token")?) {
            (Some(server_url), Some(token)) => Some(Credentials { server_url, token }),
            _ => None,
        })
    }

    /// Records an enrollment: the platform's device id, site and token. A desk with nothing
    /// pending starts over from the platform's snapshot; a desk with pending ops keeps them
    /// (re-addressed to the new device id) when it stays in the same site, and refuses to
    /// move to another site until they are synced — nothing is dropped.
    pub fn record_enrollment(&mut self, server_url: &str, resp: &EnrollResponse) -> Result<(), DeskError> {
        let tx = self.conn_mut().transaction_with_behavior(TransactionBehavior::Immediate)?;
        let pending: i64 = tx.query_row("SELECT count(*) FROM outbox", [], |r| r.get(0))?;
        let old_site = meta(&tx, "site_id")?;
        if pending > 0 && old_site.as_deref().is_some_and(|s| s != resp.site.id.as_str()) {
            return Err(DeskError::Invalid(vec![FieldError {
                field: "site".into(),
                code: "pending_ops_other_site".into(),
                message: format!(
                    "院区 {old} 还有 {pending} 个操作未上传，请先同步再把本机接入院区 {new} / {pending} operations of site \
                     {old} are waiting to be sent; sync them before moving this desk to site {new}",
                    old = old_site.unwrap_or_default(),
                    new = resp.site.id
                ),
            }]));
        }
        if pending == 0 {
            // Start over from the platform's snapshot.
            tx.execute_batch(
                "DELETE FROM bookings; DELETE FROM patient_search; DELETE FROM patients; DELETE FROM slots;
                 DELETE FROM sessions; DELETE FROM providers; DELETE FROM departments; DELETE FROM sites;
                 DELETE FROM patient_aliases;",
            )?;
        } else {
            // Keep what is pending; drop the rest of the old picture (the snapshot refreshes it).
            tx.execute_batch(
                "DELETE FROM bookings WHERE confirmed = 1;
                 DELETE FROM patient_search WHERE rowid IN (SELECT rowid FROM patients WHERE confirmed = 1
                     AND id NOT IN (SELECT patient_id FROM bookings));
                 DELETE FROM patients WHERE confirmed = 1 AND id NOT IN (SELECT patient_id FROM bookings);",
            )?;
            let rows: Vec<(i64, String)> = tx
                .prepare("SELECT seq, envelope FROM outbox ORDER BY seq")?
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<Result<_, _>>()?;
            for (seq, json) in rows {
                let mut env = envelope_of(&json)?;
                env.device_id = resp.device_id.clone();
                env.site_id = resp.site.id.clone();
                let json = serde_json::to_string(&env).map_err(|e| corrupt("outbox.envelope", e))?;
                tx.execute("UPDATE outbox SET envelope = ?2 WHERE seq = ?1", params![seq, json])?;
            }
        }
        let s = &resp.site;
        tx.execute(
            "INSERT INTO sites (id, name, timezone) VALUES (?1, ?2, ?3)
             ON CONFLICT (id) DO UPDATE SET name = excluded.name, timezone = excluded.timezone",
            params![s.id.as_str(), s.name, s.timezone],
        )?;
        // Leases are per device: the new identity's come with the snapshot.
        crate::leases::forget_all(&tx)?;
        // Queues come with the snapshot too; pending check-ins and calls are replayed on it.
        crate::queue::forget_all(&tx)?;
        set_meta(&tx, "server_url", server_url.trim_end_matches('/'))?;
        set_meta(&tx, "device_token", &resp.token)?;
        set_meta(&tx, "device_id", resp.device_id.as_str())?;
        set_meta(&tx, "site_id", resp.site.id.as_str())?;
        set_meta(&tx, "device_role", resp.role.code())?;
        set_meta(&tx, "pull_cursor", "0")?;
        tx.commit()?;
        Ok(())
    }

    /// The next batch of the outbox, in device order, bounded by count and by JSON size
    /// (at least one op, however large).
    pub fn push_batch(&self, max_ops: usize, max_bytes: usize) -> Result<Option<PushRequest>, DeskError> {
        let device = self.device()?;
        let mut stmt = self.conn().prepare_cached("SELECT envelope FROM outbox ORDER BY seq LIMIT ?1")?;
        let mut ops = Vec::new();
        let mut bytes = 0;
        let rows: Vec<String> = stmt.query_map([max_ops as i64], |r| r.get(0))?.collect::<Result<_, _>>()?;
        for json in rows {
            if !ops.is_empty() && bytes + json.len() > max_bytes {
                break;
            }
            bytes += json.len();
            ops.push(envelope_of(&json)?);
        }
        if ops.is_empty() {
            return Ok(None);
        }
        Ok(Some(PushRequest { protocol: frontdesk_protocol::PROTOCOL_VERSION, device_id: device.device_id, ops }))
    }

    /// Applies the platform's answers to a push, in one transaction.
    pub fn apply_push(&mut self, resp: &PushResponse) -> Result<PushSummary, DeskError> {
        let now = self.clock().now();
        let tx = self.conn_mut().transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut summary = PushSummary::default();
        // Queues whose view must be rebuilt once the answers are settled.
        let mut queues = BTreeSet::new();
        for result in &resp.results {
            let row: Option<(i64, String, String)> = tx
                .query_row(
                    "SELECT seq, subject, envelope FROM outbox WHERE op_id = ?1",
                    [result.op_id.to_string()],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )
                .optional()?;
            let Some((seq, subject, json)) = row else { continue };
            let env = envelope_of(&json)?;
            if queue_may_change(&env, &result.outcome)
                && let Some(session) = crate::queue::session_of_booking(&tx, &subject)?
            {
                queues.insert(session);
            }
            let (status, stored) = match &result.outcome {
                Outcome::Deferred { .. } => {
                    summary.deferred += 1;
                    continue;
                }
                Outcome::Applied { effects } | Outcome::Duplicate { effects } => {
                    summary.applied += 1;
                    apply_effects(&tx, &env, effects)?;
                    if matches!(env.op, Op::CheckIn { .. } | Op::Queue { .. }) {
                        // Its effect is on the platform; it stays in the queue's replay until pulled.
                        crate::queue::note_in_flight(&tx, seq, &json, effects.cursor)?;
                    }
                    let status =
                        if matches!(result.outcome, Outcome::Applied { .. }) { "applied" } else { "duplicate" };
                    (status, serde_json::to_string(effects))
                }
                Outcome::Conflict(c) => {
                    if matches!(env.op, Op::Queue { .. }) {
                        summary.notices += 1;
                    } else {
                        summary.conflicts += 1;
                    }
                    revert(&tx, &env, c.server_state.as_ref(), now)?;
                    let detail = serde_json::to_string(c).map_err(|e| corrupt("conflicts.detail", e))?;
                    add_to_inbox(&tx, seq, &subject, &env, &c.reason, &detail, &json, now)?;
                    ("conflict", serde_json::to_string(c))
                }
                Outcome::Rejected { errors } => {
                    if matches!(env.op, Op::Queue { .. }) {
                        summary.notices += 1;
                    } else {
                        summary.conflicts += 1;
                    }
                    revert(&tx, &env, None, now)?;
                    let detail = serde_json::to_string(&serde_json::json!({ "errors": errors }))
                        .map_err(|e| corrupt("conflicts.detail", e))?;
                    add_to_inbox(&tx, seq, &subject, &env, "rejected", &detail, &json, now)?;
                    ("rejected", serde_json::to_string(errors))
                }
            };
            let stored = stored.map_err(|e| corrupt("op_results.result", e))?;
            tx.execute(
                "INSERT OR REPLACE INTO op_results (op_id, seq, kind, subject, status, result, settled_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![env.op_id.to_string(), seq, env.op.kind(), subject, status, stored, now.to_string()],
            )?;
            tx.execute("DELETE FROM outbox WHERE seq = ?1", [seq])?;
        }
        // A refused check-in or call leaves no prediction behind: the platform's entries plus
        // what is still this desk's own.
        crate::queue::rebuild(&tx, &queues)?;
        tx.commit()?;
        Ok(summary)
    }

    /// The change-log position the replica has pulled to.
    pub fn pull_cursor(&self) -> Result<u64, DeskError> {
        meta(self.conn(), "pull_cursor")?
            .unwrap_or_else(|| "0".into())
            .parse()
            .map_err(|e| corrupt("meta.pull_cursor", e))
    }

    /// Applies a pulled page atomically: the platform's rows, then the still-pending local ops
    /// on top (rebase), then the cursor.
    ///
    /// Leases: this desk's own leased numbers get their deadline counted from now — the
    /// lease clock, the physical part of the desk's hybrid logical clock — by the time the
    /// page's `server_now` says is left (`lease::desk_deadline_ms`), once, when first
    /// received (again only when a number's expiry or desk changed). Without `server_now` a
    /// lease is never usable.
    pub fn apply_pull(&mut self, page: &PullResponse) -> Result<usize, DeskError> {
        let now = self.clock().now();
        let clock = self.clock().clone();
        let tx = self.conn_mut().transaction_with_behavior(TransactionBehavior::Immediate)?;
        let received_ms = crate::leases::advance_lease_clock(&tx, &*clock)?;
        let ctx =
            PullContext { now, received_ms, server_now: page.server_now, device: crate::leases::lease_device(&tx)? };
        let mut queues = BTreeSet::new();
        for change in &page.changes {
            apply_record(&tx, &change.record, &ctx, &mut queues)?;
        }
        rebase_pending(&tx)?;
        renumber_collisions(&tx)?;
        // Queues: the platform's entries with this desk's check-ins and calls not pulled yet on
        // top (those the pull has now brought leave the replay first).
        crate::queue::rebuild_after_pull(&tx, page.next_cursor, queues)?;
        set_meta(&tx, "pull_cursor", &page.next_cursor.to_string())?;
        tx.commit()?;
        Ok(page.changes.len())
    }

    /// Notes how the last sync attempt went.
    pub fn record_sync_attempt(&mut self, error: Option<&str>) -> Result<(), DeskError> {
        let clock = self.clock().clone();
        let now = clock.now().to_string();
        let tx = self.conn_mut().transaction()?;
        // The lease clock keeps up with time even on a desk that makes no ops.
        crate::leases::advance_lease_clock(&tx, &*clock)?;
        set_meta(&tx, "last_attempt", &now)?;
        match error {
            None => {
                set_meta(&tx, "last_sync", &now)?;
                tx.execute("DELETE FROM meta WHERE key = 'last_error'", [])?;
            }
            Some(e) => set_meta(&tx, "last_error", e)?,
        }
        tx.commit()?;
        Ok(())
    }

    /// The desk's sync state.
    pub fn sync_status(&self) -> Result<SyncStatus, DeskError> {
        let conn = self.conn();
        let now = self.clock().now();
        let ts = |k: &str| -> Result<Option<Timestamp>, DeskError> { Ok(meta(conn, k)?.and_then(|s| s.parse().ok())) };
        let last_error = meta(conn, "last_error")?;
        let last_attempt = ts("last_attempt")?;
        let oldest: Option<String> = conn.query_row("SELECT min(created_at) FROM outbox", [], |r| r.get(0))?;
        Ok(SyncStatus {
            server: meta(conn, "server_url")?,
            online: last_attempt.map(|_| last_error.is_none()),
            last_success: ts("last_sync")?,
            last_attempt,
            last_error,
            pending_ops: conn.query_row("SELECT count(*) FROM outbox", [], |r| r.get::<_, i64>(0))? as u64,
            oldest_pending_secs: oldest
                .and_then(|s| s.parse::<Timestamp>().ok())
                .map(|t| now.duration_since(t).as_secs()),
            open_conflicts: conn.query_row(
                "SELECT count(*) FROM conflicts WHERE resolved_at IS NULL AND kind <> 'queue'",
                [],
                |r| r.get::<_, i64>(0),
            )? as u64,
            open_notices: conn.query_row(
                "SELECT count(*) FROM conflicts WHERE resolved_at IS NULL AND kind = 'queue'",
                [],
                |r| r.get::<_, i64>(0),
            )? as u64,
            cursor: self.pull_cursor()?,
        })
    }

    /// A fingerprint of what the platform has confirmed in this replica (sessions, confirmed
    /// patients and bookings, the platform's queue entries): two desks of a site that are
    /// caught up show the same one.
    pub fn replica_digest(&self) -> Result<String, DeskError> {
        let conn = self.conn();
        let mut text = String::new();
        let mut count = |sql: &str| -> Result<usize, DeskError> {
            let rows: Vec<String> = conn.prepare(sql)?.query_map([], |r| r.get(0))?.collect::<Result<_, _>>()?;
            for r in &rows {
                text.push_str(r);
                text.push('\n');
            }
            Ok(rows.len())
        };
        let sessions =
            count("SELECT id || '|' || status || '|' || coalesce(status_reason, '') FROM sessions ORDER BY id")?;
        let patients =
            count("SELECT id || '|' || identity_key || '|' || name FROM patients WHERE confirmed = 1 ORDER BY id")?;
        let bookings = count(
            "SELECT id || '|' || patient_id || '|' || slot_id || '|' || queue_no || '|' || status || '|' || ticket_code
             FROM bookings WHERE confirmed = 1 ORDER BY id",
        )?;
        let queue = count(
            "SELECT booking_id || '|' || session_id || '|' || queue_no || '|' || state || '|' || calls || '|'
                 || place_after || '|' || place_seq FROM queue_base ORDER BY booking_id",
        )?;
        // FNV-1a, 64 bits: a fingerprint to compare, not a security measure.
        let hash =
            text.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3));
        Ok(format!("{hash:016x} sessions={sessions} patients={patients} bookings={bookings} queue={queue}"))
    }

    /// The conflict inbox, oldest first (resolved ones too when asked).
    pub fn conflicts(&self, include_resolved: bool, lang: Lang) -> Result<Vec<ConflictEntry>, DeskError> {
        let sql = format!(
            "SELECT id, kind, reason, detail, envelope, created_at, resolved_at, resolution FROM conflicts {} ORDER BY id",
            if include_resolved { "" } else { "WHERE resolved_at IS NULL" }
        );
        let raw: Vec<InboxRow> = self
            .conn()
            .prepare(&sql)?
            .query_map([], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?, r.get(7)?))
            })?
            .collect::<Result<_, _>>()?;
        raw.into_iter()
            .map(|(id, kind, reason, detail, envelope, created, resolved, resolution)| {
                let envelope = envelope_of(&envelope)?;
                let conflict: Option<Conflict> = serde_json::from_str(&detail).ok();
                let errors: Vec<FieldError> = serde_json::from_str::<serde_json::Value>(&detail)
                    .ok()
                    .and_then(|v| serde_json::from_value(v["errors"].clone()).ok())
                    .unwrap_or_default();
                let booking_id = match &envelope.op {
                    Op::Book { booking_id, .. }
                    | Op::Cancel { booking_id, .. }
                    | Op::CheckIn { booking_id, .. }
                    | Op::Queue { booking_id, .. } => Some(booking_id.clone()),
                    _ => None,
                };
                let (patient_id, slot_id) = match &envelope.op {
                    Op::Book { patient_id, slot_id, .. } => (Some(patient_id.clone()), Some(slot_id.clone())),
                    Op::RegisterPatient { patient } | Op::UpdatePatient { patient } => (Some(patient.id.clone()), None),
                    Op::Queue { booking_id, .. } => (self.booking(booking_id).ok().map(|b| b.booking.patient_id), None),
                    _ => (None, None),
                };
                let patient_name = match patient_id {
                    Some(p) => self.patient(&resolve_alias(self.conn(), &p)?).ok().map(|p| p.name),
                    None => None,
                };
                let (informational, queue_no, title, explanation) = match &envelope.op {
                    Op::Queue { booking_id, action } => {
                        let n = crate::queue::queue_no_of(self.conn(), booking_id)?;
                        (
                            true,
                            n,
                            crate::queue::refusal_title(*action, lang).to_string(),
                            crate::queue::refusal_explanation(*action, &reason, n, lang),
                        )
                    }
                    _ => (
                        false,
                        None,
                        frontdesk_protocol::sync::conflict_title(&reason, lang).to_string(),
                        explain(&reason, conflict.as_ref(), &errors, lang),
                    ),
                };
                Ok(ConflictEntry {
                    id,
                    kind,
                    informational,
                    title,
                    explanation,
                    reason,
                    patient_name,
                    booking_id,
                    queue_no,
                    slot_id,
                    suggestions: conflict.as_ref().map(|c| c.suggestions.clone()).unwrap_or_default(),
                    errors,
                    envelope,
                    created_at: created.parse().map_err(|e| corrupt("conflicts.created_at", e))?,
                    resolved_at: resolved.and_then(|s| s.parse().ok()),
                    resolution,
                })
            })
            .collect()
    }

    /// One entry of the conflict inbox, open or resolved.
    pub fn conflict(&self, id: i64, lang: Lang) -> Result<ConflictEntry, DeskError> {
        self.conflicts(true, lang)?
            .into_iter()
            .find(|c| c.id == id)
            .ok_or_else(|| DeskError::NotFound { entity: "conflict", id: id.to_string() })
    }

    /// Resolves a conflict. Rebooking and overbooking are new ops through the ordinary booking
    /// path (the same rules); giving up returns the notice to hand the patient as text (print
    /// it with [`Desk::print_notice`]; a failed print leaves the resolution as it is).
    pub fn resolve_conflict(
        &mut self,
        id: i64,
        resolution: &Resolution,
        lang: Lang,
    ) -> Result<ResolutionOutcome, DeskError> {
        // Rebooking asks for a booking and overbooking for an overbook on top of this.
        self.authorize(crate::Action::ResolveConflict)?;
        let entry = self.conflict(id, lang)?;
        if entry.resolved_at.is_some() {
            return Err(DeskError::Invalid(vec![FieldError {
                field: "conflict".into(),
                code: "conflict_resolved".into(),
                message: lang.pick("该冲突已处理", "This conflict has already been resolved").into(),
            }]));
        }
        let booked = match &entry.envelope.op {
            Op::Book { patient_id, slot_id, .. } => Some((resolve_alias(self.conn(), patient_id)?, slot_id.clone())),
            _ => None,
        };
        let not_a_booking = || {
            DeskError::Invalid(vec![FieldError {
                field: "resolution".into(),
                code: "resolution_not_applicable".into(),
                message: lang
                    .pick(
                        "只有挂号冲突可以改约、取消或加号",
                        "Only booking conflicts can be rebooked, cancelled or overbooked",
                    )
                    .into(),
            }])
        };
        let (outcome, label) = match resolution {
            Resolution::Rebook(slot) => {
                let (patient, _) = booked.ok_or_else(not_a_booking)?;
                let view = self.book(&patient, &BookTarget::Slot(slot.clone()))?;
                let label = format!("rebooked:{}", view.booking.id);
                (ResolutionOutcome { booking: Some(view), notice: None }, label)
            }
            Resolution::Overbook(reason) => {
                let (patient, slot) = booked.ok_or_else(not_a_booking)?;
                let view = self.overbook(&patient, &slot, reason)?;
                let label = format!("overbooked:{}", view.booking.id);
                (ResolutionOutcome { booking: Some(view), notice: None }, label)
            }
            Resolution::Cancel => {
                booked.as_ref().ok_or_else(not_a_booking)?;
                // The same data the printed notice is made of.
                let notice = self.notice_for(&entry, lang)?.text();
                (ResolutionOutcome { booking: None, notice: Some(notice) }, "cancelled".to_string())
            }
            Resolution::Acknowledge => (ResolutionOutcome { booking: None, notice: None }, "acknowledged".to_string()),
        };
        let now = self.clock().now().to_string();
        self.conn()
            .execute("UPDATE conflicts SET resolved_at = ?2, resolution = ?3 WHERE id = ?1", params![id, now, label])?;
        Ok(outcome)
    }

    /// Resolves a conflict as both front ends do, then prints what the patient is handed when
    /// `print` asks for it (on that printer, or the settings' one): the new booking's ticket,
    /// or the notice of a booking given up. The resolution stands whatever the printer does;
    /// the document can be printed again.
    pub fn resolve_and_print(
        &mut self,
        id: i64,
        resolution: &Resolution,
        print: Option<Option<&str>>,
        lang: Lang,
    ) -> Result<(ResolutionOutcome, Option<Result<crate::Printed, DeskError>>), DeskError> {
        let outcome = self.resolve_conflict(id, resolution, lang)?;
        let printed = print.and_then(|printer| match (&outcome.booking, &outcome.notice) {
            (Some(b), _) => Some(self.print_ticket(&b.booking.id, printer, lang)),
            (None, Some(_)) => Some(self.print_notice(id, printer, lang)),
            (None, None) => None,
        });
        Ok((outcome, printed))
    }
}

fn explain(reason: &str, conflict: Option<&Conflict>, errors: &[FieldError], lang: Lang) -> String {
    let suggestion = conflict.and_then(|c| c.suggestions.first()).map(|s| match lang {
        Lang::Zh => format!(
            "平台建议改约 {} {}–{}（剩余 {} 个）。",
            s.date,
            s.start.strftime("%H:%M"),
            s.end.strftime("%H:%M"),
            s.remaining
        ),
        Lang::En => format!(
            "The platform suggests {} {}–{} ({} left).",
            s.date,
            s.start.strftime("%H:%M"),
            s.end.strftime("%H:%M"),
            s.remaining
        ),
    });
    let mut text = explain_reason(reason, errors, lang);
    if let Some(s) = suggestion {
        text.push(' ');
        text.push_str(&s);
    }
    text
}

/// Why the platform did not accept an op, in plain words (without the suggested slots: the
/// notice for the patient uses this too).
pub(crate) fn explain_reason(reason: &str, errors: &[FieldError], lang: Lang) -> String {
    let base = match reason {
        "slot_full" => lang.pick(
            "本机离线时挂的这个号，平台上已被其他窗口或线上预约占满。",
            "While this desk was offline, the slot was filled by other desks or online bookings.",
        ),
        "patient_already_booked" => lang.pick(
            "该患者当天在本科室已有其他挂号（可能是别的窗口或线上挂的）。",
            "The patient already has another booking in this department that day (from another desk or online).",
        ),
        "session_suspended" => lang.pick("挂号期间该医生已停诊。", "The provider's session was suspended meanwhile."),
        "session_cancelled" => lang.pick("该出诊时段已取消。", "The session was cancelled."),
        "slot_ended" | "slot_started" => lang.pick("同步时该时段已过。", "The slot was over by the time it synced."),
        "ticket_code_taken" => lang.pick(
            "挂号单号与平台上的另一张重复，需要重新出号。",
            "The ticket code clashed with another one; the booking must be made again.",
        ),
        "depends_on_failed" => lang.pick(
            "它依赖的上一步操作没有成功（见收件箱中较早的一条）。",
            "An earlier step it depends on did not go through (see the earlier entry).",
        ),
        "stale" => {
            lang.pick("平台上的资料在此期间被修改过。", "The record was changed on the platform in the meantime.")
        }
        "rejected" => lang.pick("平台认为数据无效：", "The platform found the data invalid: "),
        "lease_lost" => lang.pick(
            "本机用的保留号在平台上已不属于本机（本机离线期间保留已到期，或本机的旧备份已用过该号），且该号已被他人占用。",
            "The reserved number this desk used was no longer reserved for it on the platform (the reservation ended \
             while the desk was offline, or an old copy of this desk had used it) and someone else holds it now.",
        ),
        _ => lang.pick("平台未能接受该操作。", "The platform could not accept this operation."),
    };
    let mut text = base.to_string();
    if reason == "rejected" {
        text.push_str(&errors.iter().map(|e| format!("{}: {}", e.field, e.message)).collect::<Vec<_>>().join("; "));
    }
    text
}

fn resolve_alias(conn: &Connection, id: &PatientId) -> Result<PatientId, DeskError> {
    let into: Option<String> = conn
        .query_row("SELECT into_id FROM patient_aliases WHERE from_id = ?1", [id.as_str()], |r| r.get(0))
        .optional()?;
    Ok(into.map(PatientId).unwrap_or_else(|| id.clone()))
}

#[allow(clippy::too_many_arguments)]
fn add_to_inbox(
    tx: &Connection,
    seq: i64,
    subject: &str,
    env: &OpEnvelope,
    reason: &str,
    detail: &str,
    envelope_json: &str,
    now: Timestamp,
) -> Result<(), DeskError> {
    tx.execute(
        "INSERT OR IGNORE INTO conflicts (op_id, seq, kind, subject, reason, detail, envelope, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![env.op_id.to_string(), seq, env.op.kind(), subject, reason, detail, envelope_json, now.to_string()],
    )?;
    Ok(())
}

/// An applied op's effects: the platform's ids and numbers replace the provisional ones.
fn apply_effects(
    tx: &Connection,
    env: &OpEnvelope,
    effects: &frontdesk_protocol::sync::Effects,
) -> Result<(), DeskError> {
    match &env.op {
        Op::RegisterPatient { patient } | Op::UpdatePatient { patient } => {
            let canonical = effects.patient_id.clone().unwrap_or_else(|| patient.id.clone());
            if canonical != patient.id {
                merge_patient(tx, &patient.id, &canonical)?;
            }
            tx.execute("UPDATE patients SET confirmed = 1 WHERE id = ?1", [canonical.as_str()])?;
        }
        Op::Book { booking_id, .. } => {
            let local: Option<(String, u32)> = tx
                .query_row("SELECT session_id, queue_no FROM bookings WHERE id = ?1", [booking_id.as_str()], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })
                .optional()?;
            if let Some((session, local_no)) = local {
                let n = effects.queue_no.unwrap_or(local_no);
                if effects.queue_no.is_some() {
                    // The platform's number wins; a confirmed row that still holds it locally is stale.
                    tx.execute(
                        "UPDATE bookings SET confirmed = 0 WHERE session_id = ?1 AND queue_no = ?2 AND confirmed = 1
                             AND status <> 'cancelled' AND id <> ?3",
                        params![session, n, booking_id.as_str()],
                    )?;
                    tx.execute("UPDATE bookings SET queue_no = ?2 WHERE id = ?1", params![booking_id.as_str(), n])?;
                }
                // A booked number is nobody's lease on the platform (a spend ends its lease in
                // the same transaction): a lease row for it here is gone there.
                tx.execute("DELETE FROM leases WHERE session_id = ?1 AND queue_no = ?2", params![session, n])?;
            }
            tx.execute("UPDATE bookings SET confirmed = 1 WHERE id = ?1", [booking_id.as_str()])?;
        }
        Op::Cancel { .. }
        | Op::CheckIn { .. }
        | Op::SuspendSession { .. }
        | Op::ResumeSession { .. }
        | Op::Queue { .. } => {}
    }
    Ok(())
}

/// Undoes the local effect of an op the platform did not apply.
fn revert(
    tx: &Connection,
    env: &OpEnvelope,
    server: Option<&frontdesk_protocol::sync::ServerState>,
    now: Timestamp,
) -> Result<(), DeskError> {
    match &env.op {
        // The platform never had this booking: it leaves the view (the inbox keeps the op).
        Op::Book { booking_id, .. } => {
            tx.execute("DELETE FROM bookings WHERE id = ?1 AND confirmed = 0", [booking_id.as_str()])?;
        }
        Op::Cancel { .. } | Op::CheckIn { .. } => {
            if let Some(b) = server.and_then(|s| s.booking.as_ref()) {
                upsert_booking(tx, b, now)?;
            }
        }
        Op::SuspendSession { .. } | Op::ResumeSession { .. } => {
            if let Some(s) = server.and_then(|s| s.session.as_ref()) {
                upsert_session(tx, s, true)?;
            }
        }
        // A refused queue action is undone by rebuilding its queue without it (`apply_push`).
        Op::RegisterPatient { .. } | Op::UpdatePatient { .. } | Op::Queue { .. } => {}
    }
    Ok(())
}

/// True when settling this op may change a queue's view beyond moving the op from the outbox
/// to the in-flight replay: a refused check-in or queue op, a refused booking (a pending
/// check-in of it can no longer join), a booking the platform gave another number.
fn queue_may_change(env: &OpEnvelope, outcome: &Outcome) -> bool {
    let refused = matches!(outcome, Outcome::Conflict(_) | Outcome::Rejected { .. });
    match (&env.op, outcome) {
        (Op::CheckIn { .. } | Op::Queue { .. } | Op::Book { .. }, _) if refused => true,
        (Op::Book { queue_no, .. }, Outcome::Applied { effects } | Outcome::Duplicate { effects }) => {
            effects.queue_no.is_some_and(|n| n != *queue_no)
        }
        _ => false,
    }
}

/// The patient `from` is `into` on the platform: one patient, references rewritten.
fn merge_patient(tx: &Connection, from: &PatientId, into: &PatientId) -> Result<(), DeskError> {
    if from == into {
        return Ok(());
    }
    let into_exists: bool =
        tx.query_row("SELECT EXISTS (SELECT 1 FROM patients WHERE id = ?1)", [into.as_str()], |r| r.get(0))?;
    if into_exists {
        tx.execute("UPDATE bookings SET patient_id = ?2 WHERE patient_id = ?1", params![from.as_str(), into.as_str()])?;
        tx.execute(
            "DELETE FROM patient_search WHERE rowid = (SELECT rowid FROM patients WHERE id = ?1)",
            [from.as_str()],
        )?;
        tx.execute("DELETE FROM patients WHERE id = ?1", [from.as_str()])?;
    } else {
        tx.execute("UPDATE patients SET id = ?2 WHERE id = ?1", params![from.as_str(), into.as_str()])?;
        tx.execute("UPDATE bookings SET patient_id = ?2 WHERE patient_id = ?1", params![from.as_str(), into.as_str()])?;
    }
    tx.execute(
        "INSERT INTO patient_aliases (from_id, into_id) VALUES (?1, ?2)
         ON CONFLICT (from_id) DO UPDATE SET into_id = excluded.into_id",
        params![from.as_str(), into.as_str()],
    )?;
    Ok(())
}

fn upsert_patient(tx: &Connection, p: &Patient, confirmed: bool) -> Result<(), DeskError> {
    // Another local row with the same document is the same person (rule 6): merge into this id.
    let other: Option<String> = tx
        .query_row(
            "SELECT id FROM patients WHERE identity_key = ?1 AND id <> ?2",
            params![p.identity_key(), p.id.as_str()],
            |r| r.get(0),
        )
        .optional()?;
    if let Some(other) = other {
        merge_patient(tx, &PatientId(other), &p.id)?;
    }
    let rowid: Option<i64> =
        tx.query_row("SELECT rowid FROM patients WHERE id = ?1", [p.id.as_str()], |r| r.get(0)).optional()?;
    match rowid {
        None => insert_patient(tx, p, confirmed),
        Some(rowid) => update_patient_row(tx, rowid, p, confirmed),
    }
}

fn upsert_booking(tx: &Connection, b: &Booking, now: Timestamp) -> Result<(), DeskError> {
    // A stale local copy of another booking may still hold the number: it loses its
    // confirmation until its own newer state arrives.
    if b.status.holds_number() {
        tx.execute(
            "UPDATE bookings SET confirmed = 0 WHERE session_id = ?1 AND queue_no = ?2 AND confirmed = 1
                 AND status <> 'cancelled' AND id <> ?3",
            params![b.session_id.as_str(), b.queue_no, b.id.as_str()],
        )?;
    }
    write_booking(tx, b, true, false, now)
}

/// What applying one pulled page needs besides the records.
struct PullContext {
    /// The desk's clock.
    now: Timestamp,
    /// The lease clock when the page arrived (ms).
    received_ms: i64,
    /// The platform's clock when it answered.
    server_now: Option<Timestamp>,
    /// This desk, when enrolled (whose leases are its own).
    device: Option<frontdesk_domain::schedule::DeviceId>,
}

/// Applies one pulled record; the sessions whose queue it changed go into `queues`.
fn apply_record(
    tx: &Connection,
    record: &Record,
    ctx: &PullContext,
    queues: &mut BTreeSet<String>,
) -> Result<(), DeskError> {
    let now = ctx.now;
    match record {
        Record::Site(s) => {
            tx.execute(
                "INSERT INTO sites (id, name, timezone) VALUES (?1, ?2, ?3)
                 ON CONFLICT (id) DO UPDATE SET name = excluded.name, timezone = excluded.timezone",
                params![s.id.as_str(), s.name, s.timezone],
            )?;
        }
        Record::Department(d) => {
            tx.execute(
                "INSERT INTO departments (id, site_id, code, name, name_en) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (id) DO UPDATE SET code = excluded.code, name = excluded.name, name_en = excluded.name_en",
                params![d.id.as_str(), d.site_id.as_str(), d.code, d.name, d.name_en],
            )?;
        }
        Record::Provider(p) => {
            tx.execute(
                "INSERT INTO providers (id, site_id, department_id, name, title, fee_fen) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT (id) DO UPDATE SET department_id = excluded.department_id, name = excluded.name,
                     title = excluded.title, fee_fen = excluded.fee_fen",
                params![p.id.as_str(), p.site_id.as_str(), p.department_id.as_str(), p.name, p.title, p.fee_fen],
            )?;
        }
        Record::Session(s) => {
            upsert_session(tx, s, true)?;
        }
        Record::Slot(s) => upsert_slot(tx, s)?,
        Record::Patient(p) => upsert_patient(tx, p, true)?,
        Record::Booking(b) => {
            let patient = resolve_alias(tx, &b.patient_id)?;
            let b = Booking { patient_id: patient, ..b.clone() };
            upsert_booking(tx, &b, now)?;
        }
        Record::PatientMerged { from, into } => merge_patient(tx, from, into)?,
        Record::Lease(lease) => {
            crate::leases::upsert_lease(tx, lease, ctx.device.as_ref(), ctx.received_ms, ctx.server_now)?;
        }
        Record::LeasePolicy { policy, .. } => crate::leases::store_policy(tx, policy.as_ref())?,
        Record::QueueEntry(item) => {
            queues.insert(crate::queue::store_pulled(tx, item)?);
        }
        Record::Tombstone { entity, id } if entity == "lease" => crate::leases::delete_lease(tx, id)?,
        Record::Tombstone { entity, id } if entity == "queue_entry" || entity == "booking" => {
            queues.extend(crate::queue::forget_entry(tx, id)?);
            if entity == "booking" {
                tx.execute("DELETE FROM bookings WHERE id = ?1", [id])?;
            }
        }
        Record::Tombstone { entity, id } => {
            // The queues of what goes: a slot's bookings, a session.
            match entity.as_str() {
                "slot" => {
                    let gone: Vec<String> = tx
                        .prepare("SELECT id FROM bookings WHERE slot_id = ?1")?
                        .query_map([id], |r| r.get(0))?
                        .collect::<Result<_, _>>()?;
                    for b in gone {
                        queues.extend(crate::queue::forget_entry(tx, &b)?);
                    }
                }
                "session" => {
                    crate::queue::forget_session(tx, id)?;
                    queues.insert(id.clone());
                }
                _ => {}
            }
            let sql: &[&str] = match entity.as_str() {
                "patient" => &[
                    "DELETE FROM patient_search WHERE rowid = (SELECT rowid FROM patients WHERE id = ?1)",
                    "DELETE FROM patients WHERE id = ?1 AND id NOT IN (SELECT patient_id FROM bookings)",
                ],
                "slot" => &[
                    "DELETE FROM leases WHERE slot_id = ?1",
                    "DELETE FROM bookings WHERE slot_id = ?1",
                    "DELETE FROM slots WHERE id = ?1",
                ],
                "session" => &[
                    "DELETE FROM leases WHERE session_id = ?1",
                    "DELETE FROM bookings WHERE session_id = ?1",
                    "DELETE FROM slots WHERE session_id = ?1",
                    "DELETE FROM sessions WHERE id = ?1",
                ],
                _ => &[],
            };
            for s in sql {
                tx.execute(s, [id])?;
            }
        }
    }
    Ok(())
}

/// The view is the platform's state with the still-pending local ops applied on top.
fn rebase_pending(tx: &Connection) -> Result<(), DeskError> {
    let pending: Vec<String> = tx
        .prepare_cached("SELECT envelope FROM outbox ORDER BY seq")?
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    for json in pending {
        let env = envelope_of(&json)?;
        match &env.op {
            Op::RegisterPatient { patient } | Op::UpdatePatient { patient } => {
                let id = resolve_alias(tx, &patient.id)?;
                upsert_patient(tx, &Patient { id, ..patient.clone() }, false)?;
            }
            Op::Cancel { booking_id, .. } => {
                tx.execute(
                    "UPDATE bookings SET status = 'cancelled' WHERE id = ?1 AND status = 'booked'",
                    [booking_id.as_str()],
                )?;
            }
            Op::CheckIn { booking_id, .. } => {
                tx.execute(
                    "UPDATE bookings SET status = 'checked_in' WHERE id = ?1 AND status = 'booked'",
                    [booking_id.as_str()],
                )?;
            }
            Op::SuspendSession { session_id, reason } => {
                tx.execute(
                    "UPDATE sessions SET status = 'suspended', status_reason = ?2 WHERE id = ?1",
                    params![session_id.as_str(), reason],
                )?;
            }
            Op::ResumeSession { session_id } => {
                tx.execute(
                    "UPDATE sessions SET status = 'open', status_reason = NULL WHERE id = ?1",
                    [session_id.as_str()],
                )?;
            }
            // A pending booking is a local row the platform does not know yet: nothing was lost.
            Op::Book { .. } => {}
            // Queues are rebuilt after the bookings are (`queue::rebuild`): a pending check-in
            // joins the queue again, a pending queue action is re-applied with the rules.
            Op::Queue { .. } => {}
        }
    }
    Ok(())
}

/// A pulled booking may have taken the provisional number of a booking still pending here,
/// or the platform may have leased it to a desk (the platform never gives a leased number to a
/// booking outside the lease): give the pending one the lowest free number of its pool,
/// neither booked nor leased (the platform decides in the end). A pending booking that spent
/// this desk's lease keeps its number: the platform grants exactly it, or answers `lease_lost`.
fn renumber_collisions(tx: &Connection) -> Result<(), DeskError> {
    let clashes: Vec<(String, String, u32)> = tx
        .prepare_cached(
            "SELECT u.id, u.slot_id, u.queue_no FROM bookings u JOIN bookings c
                 ON c.session_id = u.session_id AND c.queue_no = u.queue_no AND c.id <> u.id
             WHERE u.confirmed = 0 AND u.leased = 0 AND u.status <> 'cancelled' AND c.confirmed = 1
                 AND c.status <> 'cancelled'
             UNION
             SELECT u.id, u.slot_id, u.queue_no FROM bookings u JOIN leases l
                 ON l.slot_id = u.slot_id AND l.session_id = u.session_id AND l.queue_no = u.queue_no
             WHERE u.confirmed = 0 AND u.leased = 0 AND u.status <> 'cancelled'",
        )?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<Result<_, _>>()?;
    for (booking, slot, _) in clashes {
        let slot_id = SlotId(slot);
        let Some(state) =
            load_slot_states(tx, &SlotFilter { slot: Some(&slot_id), ..SlotFilter::default() })?.into_iter().next()
        else {
            continue;
        };
        let Some(free) = state.free_numbers(Pool::Desk).next() else { continue };
        tx.execute("UPDATE bookings SET queue_no = ?2 WHERE id = ?1", params![booking, free])?;
        let row: Option<(i64, String)> = tx
            .query_row("SELECT seq, envelope FROM outbox WHERE subject = ?1 AND kind = 'book'", [&booking], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional()?;
        if let Some((seq, json)) = row {
            let mut env = envelope_of(&json)?;
            if let Op::Book { queue_no, .. } = &mut env.op {
                *queue_no = free;
            }
            let json = serde_json::to_string(&env).map_err(|e| corrupt("outbox.envelope", e))?;
            tx.execute("UPDATE outbox SET envelope = ?2 WHERE seq = ?1", params![seq, json])?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::Credentials;

    #[test]
    fn credentials_never_show_the_token_in_debug_output() {
        let c = Credentials {
            server_url: "https://platform.example".into(),
            token: "9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d9c8b7a6f5e4d3c2b1a0f9e8d".into(),
        };
        let shown = format!("{c:?} {c:#?}");
        assert!(!shown.contains(&c.token), "{shown}");
        assert!(shown.contains("https://platform.example") && shown.contains("(hidden)"), "{shown}");
    }
}
