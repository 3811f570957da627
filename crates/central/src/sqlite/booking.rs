//! Loading what the booking rules need and asking them. The rules — choosing the target, the
//! number, the suggestions — are `frontdesk_domain::booking::decide_in_day`; nothing here
//! re-implements them.

use frontdesk_domain::booking::{
    BookingRequest, DayTarget, MAX_SUGGESTIONS, QueueChoice, SlotState, decide_in_day, overbook_next,
};
use frontdesk_domain::schedule::{Channel, DeviceId, PatientId, Site};
use jiff::civil::DateTime;

use super::{WriteCtx, rows};
use crate::error::StoreResult;
use crate::outcome::{Decided, Target};

/// Asks the booking rules about the target's department-day.
#[allow(clippy::too_many_arguments)]
pub(crate) fn decide(
    ctx: &mut WriteCtx<'_>,
    site: &Site,
    now: DateTime,
    patient: &PatientId,
    patient_is_new: bool,
    channel: Channel,
    queue_no: QueueChoice,
    overbook_reason: Option<&str>,
    device: Option<&DeviceId>,
    target: &Target,
) -> StoreResult<Decided> {
    let conn = ctx.conn;
    let (dept, date, day_target) = match target {
        Target::Slot(id) => match ctx.slot_place(id)? {
            Some((s, d, date)) if s == site.id => (d, date, DayTarget::Slot(id)),
            _ => return Ok(Decided::NotFound),
        },
        Target::Department(d, date) => (d.clone(), *date, DayTarget::Earliest),
    };
    // A patient registered by this very request has no bookings yet.
    let patient_bookings =
        if patient_is_new { Vec::new() } else { rows::patient_day_bookings(conn, patient, &dept, date)? };
    let states = ctx.day_states(&site.id, &dept, date)?;
    let req = BookingRequest { patient_id: patient, channel, now, queue_no, overbook_reason, device };
    // Only an overbook needs the session's numbers: loaded then.
    let next_overbook = |st: &SlotState| -> StoreResult<u32> {
        Ok(overbook_next(&rows::session_slots(conn, &st.session.id)?, &rows::session_numbers(conn, &st.session.id)?))
    };
    Ok(Decided::of(decide_in_day(states, day_target, &req, &patient_bookings, next_overbook, MAX_SUGGESTIONS)?))
}
