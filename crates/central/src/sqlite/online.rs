//! The online booking path: the same rules as the desk, `Channel::Online`, its own pool.

use frontdesk_domain::Lang;
use frontdesk_domain::booking::{Booking, QueueChoice, decide_cancel};
use frontdesk_domain::schedule::{BookingId, Channel, SiteId};
use frontdesk_domain::ticket::TicketCode;
use frontdesk_protocol::online::{OnlineBooking, OnlineBookingRequest, OnlineCancelled, OnlineRefusal};

use super::booking::decide;
use super::{WriteCtx, audit, rows};
use crate::error::{StoreError, StoreResult};
use crate::outcome::Fresh;
use crate::outcome::{Target, site_now};
use crate::secret;

pub(crate) fn book(
    ctx: &mut WriteCtx<'_>,
    site_id: &SiteId,
    req: &OnlineBookingRequest,
    fresh: Fresh,
) -> StoreResult<OnlineBooking> {
    let site = ctx.site(site_id)?;
    let now = site_now(ctx.now, &site)?;
    let patient = crate::outcome::online_patient(fresh.patient_id, &site, req, now.date())?;
    let target = match (&req.slot_id, &req.department) {
        (Some(slot), _) => Target::Slot(slot.clone()),
        (None, Some(code)) => {
            let dept = rows::load_department_by_code(ctx.conn, &site.id, code)?
                .ok_or_else(|| StoreError::NotFound(format!("department {code}")))?;
            Target::Department(dept.id, req.date.unwrap_or(now.date()))
        }
        (None, None) => return Err(StoreError::invalid("target_missing", "Give a slot_id or a department")),
    };
    // Decide before writing: a refusal leaves nothing behind (see the module docs of sqlite).
    let known = rows::patient_id_by_key(ctx.conn, &site.id, &patient.identity_key())?;
    let patient_id = known.clone().unwrap_or_else(|| patient.id.clone());
    let (state, grant) = decide(
        ctx,
        &site,
        now,
        &patient_id,
        known.is_none(),
        Channel::Online,
        QueueChoice::Lowest,
        None,
        None,
        &target,
    )?
    .granted_online(req)?;
    if known.is_none() {
        rows::save_patient(ctx, &patient, "online")?;
    }
    let mut ticket = fresh.ticket;
    let mut tries = 0;
    while rows::booking_by_ticket(ctx.conn, ticket.as_str())?.is_some() {
        tries += 1;
        if tries > 8 {
            return Err(StoreError::Internal("could not mint a free ticket code".into()));
        }
        ticket = TicketCode::from_random(secret::random_u64()?);
    }
    let booking = Booking::granted(fresh.booking_id, patient_id.clone(), &state, grant, Channel::Online, ticket, None);
    rows::insert_booking(ctx, &booking, false)?;
    // Serialized straight from the booking (no `serde_json::Value`).
    let (detail, answer) = crate::outcome::online_booked(booking, &state)?;
    audit::append(ctx, site.id.as_str(), "online", "book_online", &detail)?;
    Ok(answer)
}

pub(crate) fn cancel(ctx: &mut WriteCtx<'_>, id: &BookingId, code: &str) -> StoreResult<OnlineCancelled> {
    let not_found = || StoreError::NotFound(format!("booking {id} with that ticket code"));
    let code = TicketCode::parse(code).map_err(|_| StoreError::invalid("ticket_code_invalid", "Not a ticket code"))?;
    let mut b = rows::load_booking(ctx.conn, id)?.ok_or_else(not_found)?;
    if !secret::digest_eq(b.ticket_code.as_str(), code.as_str()) {
        return Err(not_found());
    }
    match decide_cancel(&b) {
        Err(e) => Err(StoreError::Refused(OnlineRefusal {
            reason: e.code().into(),
            message: e.message(Lang::En),
            suggestions: vec![],
        })),
        Ok(status) => {
            b.status = status;
            rows::update_booking(ctx, &b)?;
            let detail = serde_json::json!({"booking_id": b.id});
            audit::append(ctx, b.site_id.as_str(), "online", "cancel_online", &detail.to_string())?;
            Ok(OnlineCancelled { booking_id: b.id, status: status.code().into() })
        }
    }
}
