//! Applying a push batch: device order, idempotence, one answer per op — the same semantics
//! as the SQLite back-end (see `docs/SYNC.md`). The device's row is locked first, so batches
//! of one device that reach two processes at once are applied one after the other.

use frontdesk_domain::Lang;
use frontdesk_domain::booking::{Booking, BookingAction, BookingError, QueueChoice, decide_cancel, decide_check_in};
use frontdesk_domain::patient::Patient;
use frontdesk_domain::schedule::{BookingId, Channel, DeviceId, PatientId, SessionId, SessionStatus, Site, SlotId};
use frontdesk_domain::ticket::TicketCode;
use frontdesk_protocol::sync::{
    Conflict, Effects, Op, OpEnvelope, OpResult, Outcome, PushRequest, PushResponse, Record, ServerState,
};

use super::booking::{Ask, Decided, Target, decide_and_claim};
use super::rows::{self, q1, x};
use super::{Ctx, Fail, R, audit, queue};
use crate::error::StoreError;
use crate::outcome::{
    LeaseEvent, OpAudit, OpCounts, booking_applied, booking_conflict, conflict, merged, rejected, replay, revalidate,
    rule_conflict, site_now, status_of,
};
use crate::store::DeviceAuth;

async fn stored_by_op(ctx: &Ctx, op_id: &str) -> R<Option<(String, Outcome)>> {
    match q1(&ctx.conn, "SELECT device_id, outcome FROM op_results WHERE op_id = $1", &[&op_id]).await? {
        Some(r) => Ok(Some((r.get(0), serde_json::from_str(r.get(1))?))),
        None => Ok(None),
    }
}

/// Applies one device's batch. The caller checked that every op is the device's and its site's.
pub(crate) async fn apply_batch(ctx: &mut Ctx, device: &DeviceAuth, req: &PushRequest) -> R<(PushResponse, OpCounts)> {
    let dev = device.device_id.as_str();
    let row =
        q1(&ctx.conn, "SELECT settled_seq, revoked_at IS NOT NULL FROM devices WHERE id = $1 FOR UPDATE", &[&dev])
            .await?;
    let mut settled = match row {
        Some(r) if !r.get::<_, bool>(1) => r.get::<_, i64>(0) as u64,
        _ => return Err(Fail::Store(StoreError::Unauthorized("device revoked".into()))),
    };
    let site = rows::load_site(&ctx.conn, &device.site_id)
        .await?
        .ok_or_else(|| Fail::Store(StoreError::NotFound(format!("site {}", device.site_id))))?;
    let mut order: Vec<usize> = (0..req.ops.len()).collect();
    order.sort_by_key(|&i| req.ops[i].seq);
    let mut answers: Vec<Option<Outcome>> = vec![None; req.ops.len()];
    let mut counts = OpCounts::new();
    let mut blocked = false;
    for i in order {
        let env = &req.ops[i];
        let op_id = env.op_id.to_string();
        let outcome = if let Some((owner, stored)) = stored_by_op(ctx, &op_id).await? {
            if owner == dev {
                replay(stored)
            } else {
                rejected("op_id", "op_id_reused", "This op id belongs to another device")
            }
        } else if env.seq == 0 {
            rejected("seq", "seq_invalid", "Sequence numbers start at 1")
        } else if env.seq <= settled {
            rejected("seq", "seq_reused", "Another op of this device already has this sequence number")
        } else if env.seq == settled + 1 && !blocked {
            // An op's writes live in a savepoint of their own: a refused op leaves nothing
            // behind but its answer, whatever it claimed before it knew.
            ctx.conn.batch_execute("SAVEPOINT op").await?;
            let outcome = apply_one(ctx, &site, device, env).await?;
            if let Outcome::Applied { effects } = &outcome {
                ctx.conn.batch_execute("RELEASE op").await?;
                let detail =
                    serde_json::to_string(&OpAudit { effects, op_id: &op_id, seq: env.seq, staff: &env.staff_id })?;
                audit::append(ctx, site.id.as_str(), &format!("device:{dev}"), env.op.kind(), &detail).await?;
            } else {
                ctx.conn.batch_execute("ROLLBACK TO op; RELEASE op").await?;
            }
            x(
                &ctx.conn,
                "INSERT INTO op_results (op_id, device_id, seq, outcome) VALUES ($1, $2, $3, $4)",
                &[&op_id, &dev, &(env.seq as i64), &serde_json::to_string(&outcome)?],
            )
            .await?;
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
    x(
        &ctx.conn,
        "UPDATE devices SET settled_seq = $2, last_sync_at = $3 WHERE id = $1",
        &[&dev, &(settled as i64), &ctx.now],
    )
    .await?;
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

async fn apply_one(ctx: &mut Ctx, site: &Site, device: &DeviceAuth, env: &OpEnvelope) -> R<Outcome> {
    for dep in &env.depends_on {
        let failed = match stored_by_op(ctx, &dep.to_string()).await? {
            Some((_, Outcome::Conflict(_) | Outcome::Rejected { .. })) => Some("conflicted or was rejected"),
            Some(_) => None,
            None => Some("never reached the platform"),
        };
        if let Some(why) = failed {
            return Ok(conflict("depends_on_failed", format!("This op builds on op {dep}, which {why}")));
        }
    }
    let dev = device.device_id.as_str();
    match &env.op {
        Op::RegisterPatient { patient } => register_patient(ctx, site, dev, patient).await,
        Op::UpdatePatient { patient } => update_patient(ctx, site, dev, env.base_cursor, patient).await,
        Op::Book { booking_id, patient_id, slot_id, channel, queue_no, leased, ticket_code, overbook_reason } => {
            book(
                ctx,
                site,
                &device.device_id,
                BookOp {
                    booking_id,
                    patient_id,
                    slot_id,
                    channel: *channel,
                    queue_no: *queue_no,
                    leased: *leased,
                    ticket_code,
                    overbook_reason: overbook_reason.as_deref(),
                },
            )
            .await
        }
        Op::Cancel { booking_id, .. } => cancel(ctx, site, booking_id).await,
        Op::CheckIn { booking_id, ticket_code } => check_in(ctx, site, booking_id, ticket_code).await,
        Op::SuspendSession { session_id, reason } => set_suspended(ctx, site, session_id, Some(reason.clone())).await,
        Op::ResumeSession { session_id } => set_suspended(ctx, site, session_id, None).await,
        Op::Queue { booking_id, action } => queue::act(ctx, site, booking_id, *action).await,
    }
}

/// Registers a patient, merging with the one that holds the same document (rule 6). Also
/// the online path's registration.
pub(crate) async fn register(ctx: &mut Ctx, p: Patient, by: &str) -> R<(PatientId, u64)> {
    if let (_, Some(row)) = rows::resolve_and_load_patient(&ctx.conn, &p.id).await? {
        // Registered before (a replay from another path): nothing new.
        return Ok((row.patient.id, row.updated_cursor));
    }
    if let Some(existing) = rows::patient_by_key(&ctx.conn, &p.site_id, &p.identity_key()).await? {
        let into = existing.patient.id.clone();
        x(
            &ctx.conn,
            "INSERT INTO patient_aliases (from_id, into_id, site_id) VALUES ($1, $2, $3) ON CONFLICT (from_id) DO NOTHING",
            &[&p.id.as_str(), &into.as_str(), &p.site_id.as_str()],
        )
        .await?;
        let mut cursor = rows::log_change(
            ctx,
            &p.site_id,
            "patient_merged",
            p.id.as_str(),
            &Record::PatientMerged { from: p.id.clone(), into: into.clone() },
        )
        .await?;
        let survivor = merged(&existing.patient, &p);
        if survivor != existing.patient {
            cursor = rows::save_patient(ctx, &survivor, by).await?;
        }
        return Ok((into, cursor));
    }
    let cursor = rows::save_patient(ctx, &p, by).await?;
    Ok((p.id, cursor))
}

async fn register_patient(ctx: &mut Ctx, site: &Site, dev: &str, p: &Patient) -> R<Outcome> {
    let valid = match revalidate(ctx.now, site, p)? {
        Ok(v) => v,
        Err(errors) => return Ok(Outcome::Rejected { errors }),
    };
    let (id, cursor) = register(ctx, valid, dev).await?;
    Ok(Outcome::Applied { effects: Effects { patient_id: Some(id), cursor, ..Effects::default() } })
}

async fn update_patient(ctx: &mut Ctx, site: &Site, dev: &str, base_cursor: u64, p: &Patient) -> R<Outcome> {
    let (id, row) = rows::resolve_and_load_patient(&ctx.conn, &p.id).await?;
    let Some(row) = row.filter(|r| r.patient.site_id == site.id) else {
        return Ok(conflict("not_found", format!("Patient {} is not on the platform", p.id)));
    };
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
    if let Some(other) = rows::patient_by_key(&ctx.conn, &site.id, &valid.identity_key()).await?
        && other.patient.id != id
    {
        return Ok(rejected("document_number", "document_in_use", "Another patient is registered with this document"));
    }
    let cursor = rows::save_patient(ctx, &valid, dev).await?;
    Ok(Outcome::Applied { effects: Effects { patient_id: Some(id), cursor, ..Effects::default() } })
}

struct BookOp<'a> {
    booking_id: &'a BookingId,
    patient_id: &'a PatientId,
    slot_id: &'a SlotId,
    channel: Channel,
    queue_no: u32,
    leased: bool,
    ticket_code: &'a TicketCode,
    overbook_reason: Option<&'a str>,
}

/// A desk's booking. A `leased` number is the desk spending its capacity lease
/// ([`QueueChoice::Leased`] for this device); any other number is the one it would like.
async fn book(ctx: &mut Ctx, site: &Site, device: &DeviceId, op: BookOp<'_>) -> R<Outcome> {
    let (patient_id, patient_site) = rows::resolve_patient_site(&ctx.conn, op.patient_id).await?;
    if patient_site.as_deref() != Some(site.id.as_str()) {
        return Ok(conflict("not_found", format!("Patient {} is not on the platform", op.patient_id)));
    }
    let (exists, ticket_holder) = rows::booking_or_ticket(&ctx.conn, op.booking_id, op.ticket_code.as_str()).await?;
    if exists {
        return Ok(conflict("booking_exists", format!("Booking {} already exists", op.booking_id)));
    }
    if let Some(holder) = ticket_holder {
        let existing = rows::load_booking(&ctx.conn, &holder).await?.filter(|b| b.site_id == site.id);
        return Ok(Outcome::Conflict(Conflict {
            reason: "ticket_code_taken".into(),
            message: format!("Ticket code {} is already used by another booking", op.ticket_code),
            server_state: Some(ServerState { booking: existing, ..ServerState::default() }),
            suggestions: Vec::new(),
        }));
    }
    let target = Target::Slot(op.slot_id.clone());
    let decided = decide_and_claim(
        ctx,
        Ask {
            site,
            now: site_now(ctx.now, site)?,
            patient: &patient_id,
            patient_is_new: false,
            channel: op.channel,
            queue_no: if op.leased { QueueChoice::Leased(op.queue_no) } else { QueueChoice::Prefer(op.queue_no) },
            overbook_reason: op.overbook_reason,
            target: &target,
            booking_id: op.booking_id,
            device: Some(device),
        },
    )
    .await?;
    match decided {
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
            let cursor = rows::insert_booking(ctx, &booking, grant.overbooked).await?;
            metrics::counter!("frontdesk_bookings_total", "channel" => op.channel.code()).increment(1);
            Ok(booking_applied(&booking, cursor))
        }
        Decided::Refused { error, suggestions, state, existing } => {
            if let BookingError::LeaseLost { .. } = error {
                ctx.leases.add(LeaseEvent::Lost, 1);
            }
            Ok(booking_conflict(error, suggestions, state, existing, op.channel))
        }
    }
}

async fn cancel(ctx: &mut Ctx, site: &Site, id: &BookingId) -> R<Outcome> {
    let Some(mut b) = load_booking_for_update(ctx, id).await?.filter(|b| b.site_id == site.id) else {
        return Ok(conflict("not_found", format!("Booking {id} is not on the platform")));
    };
    match decide_cancel(&b) {
        Err(e) => Ok(rule_conflict(e, Some(b))),
        Ok(status) => {
            b.status = status;
            let cursor = rows::update_booking(ctx, &b).await?;
            Ok(booking_applied(&b, cursor))
        }
    }
}

/// A booking, its row locked until the transaction ends: a cancel and a check-in of one
/// booking on two processes decide one after the other.
pub(crate) async fn load_booking_for_update(ctx: &Ctx, id: &BookingId) -> R<Option<Booking>> {
    match q1(&ctx.conn, "SELECT record FROM bookings WHERE id = $1 FOR UPDATE", &[&id.as_str()]).await? {
        Some(r) => Ok(Some(serde_json::from_str(r.get(0))?)),
        None => Ok(None),
    }
}

async fn check_in(ctx: &mut Ctx, site: &Site, id: &BookingId, code: &TicketCode) -> R<Outcome> {
    let Some(mut b) = load_booking_for_update(ctx, id).await? else {
        return Ok(conflict("not_found", format!("Booking {id} is not on the platform")));
    };
    if &b.ticket_code != code {
        return Ok(conflict("ticket_mismatch", "The scanned ticket code does not belong to this booking"));
    }
    let Some(session) = rows::load_session(&ctx.conn, &b.session_id).await? else {
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
    let cursor = rows::update_booking(ctx, &b).await?;
    // The patient is in the waiting room now: they join their provider's queue.
    let cursor = queue::join(ctx, &b).await?.unwrap_or(cursor);
    Ok(booking_applied(&b, cursor))
}

/// Suspends (`Some(reason)`) or resumes (`None`) a session of the site.
pub(crate) async fn set_suspended(ctx: &mut Ctx, site: &Site, id: &SessionId, reason: Option<String>) -> R<Outcome> {
    let row = q1(&ctx.conn, "SELECT record FROM sessions WHERE id = $1 FOR UPDATE", &[&id.as_str()]).await?;
    let session: Option<frontdesk_domain::schedule::Session> = match row {
        Some(r) => Some(serde_json::from_str(r.get(0))?),
        None => None,
    };
    let Some(mut s) = session.filter(|s| s.site_id == site.id) else {
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
    let cursor = rows::save_session(ctx, &s).await?;
    Ok(Outcome::Applied { effects: Effects { cursor, ..Effects::default() } })
}
