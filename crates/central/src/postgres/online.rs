//! The online booking path: the same rules as the desk, `Channel::Online`, its own pool.

use frontdesk_domain::Lang;
use frontdesk_domain::booking::{Booking, QueueChoice, decide_cancel};
use frontdesk_domain::schedule::{BookingId, Channel, SiteId};
use frontdesk_domain::ticket::TicketCode;
use frontdesk_protocol::online::{OnlineBooking, OnlineBookingRequest, OnlineCancelled, OnlineRefusal};

use super::booking::{Ask, decide_and_claim};
use super::push::load_booking_for_update;
use super::{Ctx, Fail, R, audit, rows};
use crate::error::StoreError;
use crate::outcome::Fresh;
use crate::outcome::Target;
use crate::outcome::site_now;
use crate::secret;

fn store(e: StoreError) -> Fail {
    Fail::Store(e)
}

pub(crate) async fn book(
    ctx: &mut Ctx,
    site_id: &SiteId,
    req: &OnlineBookingRequest,
    fresh: &Fresh,
) -> R<OnlineBooking> {
    let site = rows::load_site(&ctx.conn, site_id)
        .await?
        .ok_or_else(|| store(StoreError::NotFound(format!("site {site_id}"))))?;
    let now = site_now(ctx.now, &site)?;
    let patient = crate::outcome::online_patient(fresh.patient_id.clone(), &site, req, now.date())?;
    let target = match (&req.slot_id, &req.department) {
        (Some(slot), _) => Target::Slot(slot.clone()),
        (None, Some(code)) => {
            let dept = rows::load_department_by_code(&ctx.conn, &site.id, code)
                .await?
                .ok_or_else(|| store(StoreError::NotFound(format!("department {code}"))))?;
            Target::Department(dept.id, req.date.unwrap_or(now.date()))
        }
        (None, None) => return Err(store(StoreError::invalid("target_missing", "Give a slot_id or a department"))),
    };
    let known = rows::patient_id_by_key(&ctx.conn, &site.id, &patient.identity_key()).await?;
    let patient_id = known.clone().unwrap_or_else(|| patient.id.clone());
    let decided = decide_and_claim(
        ctx,
        Ask {
            site: &site,
            now,
            patient: &patient_id,
            patient_is_new: known.is_none(),
            channel: Channel::Online,
            queue_no: QueueChoice::Lowest,
            overbook_reason: None,
            target: &target,
            booking_id: &fresh.booking_id,
            device: None,
        },
    )
    .await?;
    let (state, grant) = decided.granted_online(req)?;
    if known.is_none() {
        // A concurrent registration of the same person loses on the unique key and the job
        // is decided again, finding the patient then.
        rows::save_patient(ctx, &patient, "online").await?;
    }
    let mut ticket = fresh.ticket.clone();
    let mut tries = 0;
    while rows::booking_by_ticket(&ctx.conn, ticket.as_str()).await?.is_some() {
        tries += 1;
        if tries > 8 {
            return Err(store(StoreError::Internal("could not mint a free ticket code".into())));
        }
        ticket = TicketCode::from_random(secret::random_u64()?);
    }
    let booking =
        Booking::granted(fresh.booking_id.clone(), patient_id.clone(), &state, grant, Channel::Online, ticket, None);
    rows::insert_booking(ctx, &booking, false).await?;
    let (detail, answer) = crate::outcome::online_booked(booking, &state)?;
    audit::append(ctx, site.id.as_str(), "online", "book_online", &detail).await?;
    Ok(answer)
}

pub(crate) async fn cancel(ctx: &mut Ctx, id: &BookingId, code: &str) -> R<OnlineCancelled> {
    let not_found = || store(StoreError::NotFound(format!("booking {id} with that ticket code")));
    let code =
        TicketCode::parse(code).map_err(|_| store(StoreError::invalid("ticket_code_invalid", "Not a ticket code")))?;
    let mut b = load_booking_for_update(ctx, id).await?.ok_or_else(not_found)?;
    if !secret::digest_eq(b.ticket_code.as_str(), code.as_str()) {
        return Err(not_found());
    }
    match decide_cancel(&b) {
        Err(e) => Err(store(StoreError::Refused(OnlineRefusal {
            reason: e.code().into(),
            message: e.message(Lang::En),
            suggestions: vec![],
        }))),
        Ok(status) => {
            b.status = status;
            rows::update_booking(ctx, &b).await?;
            let detail = serde_json::json!({"booking_id": b.id});
            audit::append(ctx, b.site_id.as_str(), "online", "cancel_online", &detail.to_string()).await?;
            Ok(OnlineCancelled { booking_id: b.id, status: status.code().into() })
        }
    }
}
