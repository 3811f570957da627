//! Applying a push batch: device order, idempotence, one savepoint per op, an answer per op.
//!
//! The platform keeps, per device, the last *settled* sequence number (applied, conflicted or
//! rejected) and every settled op's outcome, keyed by op id and by (device, seq). For each op
//! of a batch, in `seq` order:
//! - already settled (same op id, or `seq` ≤ settled) → the stored outcome again (`duplicate`
//!   for an applied op; the same conflict or rejection otherwise);
//! - `seq` = settled + 1 → applied; every check runs before the op's first write, so a
//!   conflict or rejection leaves no trace but its answer (an internal failure rolls back the
//!   whole commit group, so no op is ever half-applied);
//! - a gap → `deferred` with the expected sequence number; nothing after it is looked at.

use frontdesk_domain::Lang;
use frontdesk_domain::booking::{Booking, BookingAction, BookingError, QueueChoice, decide_cancel, decide_check_in};
use frontdesk_domain::patient::Patient;
use frontdesk_domain::schedule::{BookingId, Channel, DeviceId, PatientId, SessionId, SessionStatus, Site, SlotId};
use frontdesk_domain::ticket::TicketCode;
use frontdesk_protocol::sync::{
    Conflict, Effects, Op, OpEnvelope, OpResult, Outcome, PushRequest, PushResponse, Record, ServerState,
};
use rusqlite::{OptionalExtension, params};

use super::booking::decide;
use super::{WriteCtx, audit, leases, queue, rows};
use crate::error::{StoreError, StoreResult};
use crate::outcome::{
    Decided, LeaseEvent, OpAudit, OpCounts, Target, booking_applied, booking_conflict, conflict, merged, rejected,
    replay, revalidate, rule_conflict, site_now, status_of,
};
use crate::store::DeviceAuth;

fn stored_by_op(ctx: &WriteCtx<'_>, op_id: &str) -> StoreResult<Option<(String, u64, Outcome)>> {
    let row: Option<(String, i64, String)> = ctx
        .conn
        .prepare_cached("SELECT device_id, seq, outcome FROM op_results WHERE op_id = ?1")?
        .query_row([op_id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .optional()?;
    row.map(|(d, s, o)| Ok((d, s as u64, serde_json::from_str(&o)?))).transpose()
}

/// Applies one device's batch. The caller checked that every op is the device's and its site's.
pub(crate) fn apply_batch(
    ctx: &mut WriteCtx<'_>,
    device: &DeviceAuth,
    req: PushRequest,
) -> StoreResult<(PushResponse, OpCounts)> {
    let dev = device.device_id.as_str();
    let settled_row: Option<(i64, Option<String>)> = ctx
        .conn
        .prepare_cached("SELECT settled_seq, revoked_at FROM devices WHERE id = ?1")?
        .query_row([dev], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    let mut settled = match settled_row {
        Some((s, None)) => s as u64,
        _ => return Err(StoreError::Unauthorized("device revoked".into())),
    };
    let site = ctx.site(&device.site_id)?;
    let mut order: Vec<usize> = (0..req.ops.len()).collect();
    order.sort_by_key(|&i| req.ops[i].seq);
    let mut answers: Vec<Option<Outcome>> = vec![None; req.ops.len()];
    let mut counts = OpCounts::new();
    let mut blocked = false;
    for i in order {
        let env = &req.ops[i];
        let op_id = env.op_id.to_string();
        let outcome = if let Some((owner, _, stored)) = stored_by_op(ctx, &op_id)? {
            if owner == dev {
                replay(stored)
            } else {
                rejected("op_id", "op_id_reused", "This op id belongs to another device")
            }
        } else if env.seq == 0 {
            rejected("seq", "seq_invalid", "Sequence numbers start at 1")
        } else if env.seq <= settled {
            // Settled under another op id: the desk reused a sequence number.
            rejected("seq", "seq_reused", "Another op of this device already has this sequence number")
        } else if env.seq == settled + 1 && !blocked {
            // Every refusal is found before the op's first write: a conflicted or rejected
            // op leaves nothing behind but its answer.
            let outcome = apply_one(ctx, &site, device, env)?;
            if let Outcome::Applied { effects } = &outcome {
                let detail =
                    serde_json::to_string(&OpAudit { effects, op_id: &op_id, seq: env.seq, staff: &env.staff_id })?;
                audit::append(ctx, site.id.as_str(), &format!("device:{dev}"), env.op.kind(), &detail)?;
            }
            ctx.conn
                .prepare_cached("INSERT INTO op_results (op_id, device_id, seq, outcome) VALUES (?1, ?2, ?3, ?4)")?
                .execute(params![op_id, dev, env.seq as i64, serde_json::to_string(&outcome)?])?;
            settled = env.seq;
            outcome
        } else {
            blocked = true;
            Outcome::Deferred { expected_seq: settled + 1 }
        };
        let (status, reason) = status_of(&outcome);
        counts.push((env.op.kind(), status, reason));
        answers[i] = Some(outcome);
    }
    ctx.conn
        .prepare_cached("UPDATE devices SET settled_seq = ?2, last_sync_at = ?3 WHERE id = ?1")?
        .execute(params![dev, settled as i64, ctx.now.to_string()])?;
    let results = req
        .ops
        .iter()
        .zip(answers)
        .map(|(env, o)| OpResult {
            op_id: env.op_id,
            seq: env.seq,
            outcome: o.unwrap_or(Outcome::Deferred { expected_seq: settled + 1 }),
        })
        .collect();
    Ok((PushResponse { results, acked_seq: settled }, counts))
}

fn apply_one(ctx: &mut WriteCtx<'_>, site: &Site, device: &DeviceAuth, env: &OpEnvelope) -> StoreResult<Outcome> {
    for dep in &env.depends_on {
        let failed = match stored_by_op(ctx, &dep.to_string())? {
            Some((_, _, Outcome::Conflict(_) | Outcome::Rejected { .. })) => Some("conflicted or was rejected"),
            Some(_) => None,
            None => Some("never reached the platform"),
        };
        if let Some(why) = failed {
            return Ok(conflict("depends_on_failed", format!("This op builds on op {dep}, which {why}")));
        }
    }
    let dev = device.device_id.as_str();
    match &env.op {
        Op::RegisterPatient { patient } => register_patient(ctx, site, dev, patient),
        Op::UpdatePatient { patient } => update_patient(ctx, site, dev, env.base_cursor, patient),
        Op::Book { booking_id, patient_id, slot_id, channel, queue_no, leased, ticket_code, overbook_reason } => book(
            ctx,
            site,
            BookOp {
                device: &device.device_id,
                booking_id,
                patient_id,
                slot_id,
                channel: *channel,
                queue_no: *queue_no,
                leased: *leased,
                ticket_code,
                overbook_reason: overbook_reason.as_deref(),
            },
        ),
        Op::Cancel { booking_id, .. } => cancel(ctx, site, booking_id),
        Op::CheckIn { booking_id, ticket_code } => check_in(ctx, site, booking_id, ticket_code),
        Op::SuspendSession { session_id, reason } => set_suspended(ctx, site, session_id, Some(reason.clone())),
        Op::ResumeSession { session_id } => set_suspended(ctx, site, session_id, None),
        Op::Queue { booking_id, action } => queue::act(ctx, site, booking_id, *action),
    }
}

/// Registers a patient, merging with the one that holds the same document (rule 6). Also
/// the online path's registration.
pub(crate) fn register(ctx: &mut WriteCtx<'_>, p: Patient, by: &str) -> StoreResult<(PatientId, u64)> {
    if let (_, Some(row)) = rows::resolve_and_load_patient(ctx.conn, &p.id)? {
        // Registered before (a replay from another path): nothing new.
        return Ok((row.patient.id, row.updated_cursor));
    }
    if let Some(existing) = rows::patient_by_key(ctx.conn, &p.site_id, &p.identity_key())? {
        let into = existing.patient.id.clone();
        ctx.conn
            .prepare_cached("INSERT OR IGNORE INTO patient_aliases (from_id, into_id, site_id) VALUES (?1, ?2, ?3)")?
            .execute(params![p.id.as_str(), into.as_str(), p.site_id.as_str()])?;
        let mut cursor = rows::log_change(
            ctx,
            &p.site_id,
            "patient_merged",
            p.id.as_str(),
            &Record::PatientMerged { from: p.id.clone(), into: into.clone() },
        )?;
        // Fill what the survivor lacks from the second registration.
        let survivor = merged(&existing.patient, &p);
        if survivor != existing.patient {
            cursor = rows::save_patient(ctx, &survivor, by)?;
        }
        return Ok((into, cursor));
    }
    let cursor = rows::save_patient(ctx, &p, by)?;
    Ok((p.id, cursor))
}

fn register_patient(ctx: &mut WriteCtx<'_>, site: &Site, dev: &str, p: &Patient) -> StoreResult<Outcome> {
    let valid = match revalidate(ctx.now, site, p)? {
        Ok(v) => v,
        Err(errors) => return Ok(Outcome::Rejected { errors }),
    };
    let (id, cursor) = register(ctx, valid, dev)?;
    Ok(Outcome::Applied { effects: Effects { patient_id: Some(id), cursor, ..Effects::default() } })
}

fn update_patient(
    ctx: &mut WriteCtx<'_>,
    site: &Site,
    dev: &str,
    base_cursor: u64,
    p: &Patient,
) -> StoreResult<Outcome> {
    let (id, row) = rows::resolve_and_load_patient(ctx.conn, &p.id)?;
    let Some(row) = row else {
        return Ok(conflict("not_found", format!("Patient {} is not on the platform", p.id)));
    };
    if row.patient.site_id != site.id {
        return Ok(conflict("not_found", format!("Patient {} is not on the platform", p.id)));
    }
    if row.updated_by != dev && row.updated_cursor > base_cursor {
        return Ok(Outcome::Conflict(Conflict {
            reason: "stale".into(),
            message: "The patient was changed elsewhere after this desk last synced".into(),
            server_state: Some(ServerState { patient: Some(row.patient), ..ServerState::default() }),
            suggestions: Vec::new(),
        }));
    }
    let mut wanted = p.clone();
    wanted.id = id.clone();
    let valid = match revalidate(ctx.now, site, &wanted)? {
        Ok(v) => v,
        Err(errors) => return Ok(Outcome::Rejected { errors }),
    };
    if let Some(other) = rows::patient_by_key(ctx.conn, &site.id, &valid.identity_key())?
        && other.patient.id != id
    {
        return Ok(rejected("document_number", "document_in_use", "Another patient is registered with this document"));
    }
    let cursor = rows::save_patient(ctx, &valid, dev)?;
    Ok(Outcome::Applied { effects: Effects { patient_id: Some(id), cursor, ..Effects::default() } })
}

struct BookOp<'a> {
    device: &'a DeviceId,
    booking_id: &'a BookingId,
    patient_id: &'a PatientId,
    slot_id: &'a SlotId,
    channel: Channel,
    queue_no: u32,
    leased: bool,
    ticket_code: &'a TicketCode,
    overbook_reason: Option<&'a str>,
}

fn book(ctx: &mut WriteCtx<'_>, site: &Site, op: BookOp<'_>) -> StoreResult<Outcome> {
    let (patient_id, patient_site) = rows::resolve_patient_site(ctx.conn, op.patient_id)?;
    if patient_site.as_deref() != Some(site.id.as_str()) {
        return Ok(conflict("not_found", format!("Patient {} is not on the platform", op.patient_id)));
    }
    let (exists, ticket_holder) = rows::booking_or_ticket(ctx.conn, op.booking_id, op.ticket_code.as_str())?;
    if exists {
        return Ok(conflict("booking_exists", format!("Booking {} already exists", op.booking_id)));
    }
    if let Some(holder) = ticket_holder {
        let existing = rows::load_booking(ctx.conn, &holder)?.filter(|b| b.site_id == site.id);
        return Ok(Outcome::Conflict(Conflict {
            reason: "ticket_code_taken".into(),
            message: format!("Ticket code {} is already used by another booking", op.ticket_code),
            server_state: Some(ServerState { booking: existing, ..ServerState::default() }),
            suggestions: Vec::new(),
        }));
    }
    let now = site_now(ctx.now, site)?;
    // A number from the desk's capacity lease is granted as exactly that number whatever
    // happened to the slot, when it is still leased to the desk (docs/SYNC.md, "Spend").
    let queue_no = if op.leased { QueueChoice::Leased(op.queue_no) } else { QueueChoice::Prefer(op.queue_no) };
    let decision = decide(
        ctx,
        site,
        now,
        &patient_id,
        false,
        op.channel,
        queue_no,
        op.overbook_reason,
        Some(op.device),
        &Target::Slot(op.slot_id.clone()),
    )?;
    match decision {
        Decided::NotFound => Ok(conflict("not_found", format!("Slot {} is not on the platform", op.slot_id))),
        Decided::Granted { state, grant } => {
            let booking = Booking::granted(
                op.booking_id.clone(),
                patient_id.clone(),
                &state,
                grant,
                op.channel,
                op.ticket_code.clone(),
                op.overbook_reason,
            );
            let cursor = rows::insert_booking(ctx, &booking, grant.overbooked)?;
            if !grant.overbooked {
                leases::booked(ctx, &booking, op.device, op.leased)?;
            }
            metrics::counter!("frontdesk_bookings_total", "channel" => op.channel.code()).increment(1);
            Ok(booking_applied(&booking, cursor))
        }
        Decided::Refused { error, suggestions, state, existing } => {
            if matches!(error, BookingError::LeaseLost { .. }) {
                ctx.tally_lease(LeaseEvent::Lost, 1);
            }
            Ok(booking_conflict(error, suggestions, state, existing, op.channel))
        }
    }
}

fn cancel(ctx: &mut WriteCtx<'_>, site: &Site, id: &BookingId) -> StoreResult<Outcome> {
    let Some(mut b) = rows::load_booking(ctx.conn, id)?.filter(|b| b.site_id == site.id) else {
        return Ok(conflict("not_found", format!("Booking {id} is not on the platform")));
    };
    match decide_cancel(&b) {
        Err(e) => Ok(rule_conflict(e, Some(b))),
        Ok(status) => {
            b.status = status;
            let cursor = rows::update_booking(ctx, &b)?;
            Ok(booking_applied(&b, cursor))
        }
    }
}

fn check_in(ctx: &mut WriteCtx<'_>, site: &Site, id: &BookingId, code: &TicketCode) -> StoreResult<Outcome> {
    let Some(mut b) = rows::load_booking(ctx.conn, id)? else {
        return Ok(conflict("not_found", format!("Booking {id} is not on the platform")));
    };
    if &b.ticket_code != code {
        return Ok(conflict("ticket_mismatch", "The scanned ticket code does not belong to this booking"));
    }
    let Some(session) = rows::load_session(ctx.conn, &b.session_id)? else {
        return Ok(conflict("not_found", format!("Session {} is not on the platform", b.session_id)));
    };
    let today = site_now(ctx.now, site)?.date();
    if let Err(e) = decide_check_in(&b, &session, &site.id, today) {
        let shown = if b.site_id == site.id { Some(b) } else { None };
        return Ok(rule_conflict(e, shown));
    }
    b.status = match b.status.apply(BookingAction::CheckIn) {
        Ok(s) => s,
        Err(e) => return Ok(rule_conflict(e, Some(b))),
    };
    let cursor = rows::update_booking(ctx, &b)?;
    // The patient is in the waiting room now: they join their provider's queue.
    let cursor = queue::join(ctx, &b)?.unwrap_or(cursor);
    Ok(booking_applied(&b, cursor))
}

/// Suspends (`Some(reason)`) or resumes (`None`) a session of the site.
pub(crate) fn set_suspended(
    ctx: &mut WriteCtx<'_>,
    site: &Site,
    id: &SessionId,
    reason: Option<String>,
) -> StoreResult<Outcome> {
    let Some(mut s) = rows::load_session(ctx.conn, id)?.filter(|s| s.site_id == site.id) else {
        return Ok(conflict("not_found", format!("Session {id} is not on the platform")));
    };
    if s.status == SessionStatus::Cancelled {
        let e = BookingError::SessionCancelled;
        return Ok(Outcome::Conflict(Conflict {
            reason: e.code().into(),
            message: e.message(Lang::En),
            server_state: Some(ServerState { session: Some(s), ..ServerState::default() }),
            suggestions: Vec::new(),
        }));
    }
    match reason {
        Some(r) => {
            s.status = SessionStatus::Suspended;
            s.status_reason = Some(r);
        }
        None => {
            s.status = SessionStatus::Open;
            s.status_reason = None;
        }
    }
    let cursor = rows::save_session(ctx, &s)?;
    Ok(Outcome::Applied { effects: Effects { cursor, ..Effects::default() } })
}
