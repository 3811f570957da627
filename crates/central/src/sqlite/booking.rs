//! Loading what the booking rules need and asking them. The rules — choosing the target, the
//! number, the suggestions — are `frontdesk_domain::booking::decide_in_day`; nothing here
//! re-implements them.

use frontdesk_domain::booking::{
    Booking, BookingError, BookingRequest, DayDecision, DayTarget, Grant, MAX_SUGGESTIONS, QueueChoice, SlotState,
    Suggestion, decide_in_day, overbook_next,
};
use frontdesk_domain::schedule::{Channel, DepartmentId, PatientId, Site, SlotId};
use jiff::Timestamp;
use jiff::civil::{Date, DateTime};

use super::{WriteCtx, rows};
use crate::error::{StoreError, StoreResult};

/// The site's wall-clock time at `now`.
pub(crate) fn site_now(now: Timestamp, site: &Site) -> StoreResult<DateTime> {
    let z = now
        .in_tz(&site.timezone)
        .map_err(|e| StoreError::Internal(format!("site {} time zone {}: {e}", site.id, site.timezone)))?;
    Ok(z.datetime())
}

/// What to book into.
pub(crate) enum Target {
    /// This slot.
    Slot(SlotId),
    /// The earliest bookable slot of a department on a day.
    Department(DepartmentId, Date),
}

/// A decision of the rules, with the state it was made on (owned: the caller writes next).
pub(crate) enum Decision {
    Granted {
        state: Box<SlotState>,
        grant: Grant,
    },
    Refused {
        error: BookingError,
        suggestions: Vec<Suggestion>,
        state: Option<Box<SlotState>>,
        existing: Option<Box<Booking>>,
    },
}

/// Asks the booking rules about the target's department-day. `Ok(None)`: the target does not
/// exist in the site.
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
    target: &Target,
) -> StoreResult<Option<Decision>> {
    let conn = ctx.conn;
    let (dept, date, day_target) = match target {
        Target::Slot(id) => match ctx.slot_place(id)? {
            Some((s, d, date)) if s == site.id => (d, date, DayTarget::Slot(id)),
            _ => return Ok(None),
        },
        Target::Department(d, date) => (d.clone(), *date, DayTarget::Earliest),
    };
    // A patient registered by this very request has no bookings yet.
    let patient_bookings =
        if patient_is_new { Vec::new() } else { rows::patient_day_bookings(conn, patient, &dept, date)? };
    let states = ctx.day_states(&site.id, &dept, date)?;
    let req = BookingRequest { patient_id: patient, channel, now, queue_no, overbook_reason };
    // Only an overbook needs the session's numbers: loaded then.
    let next_overbook = |st: &SlotState| -> StoreResult<u32> {
        Ok(overbook_next(&rows::session_slots(conn, &st.session.id)?, &rows::session_numbers(conn, &st.session.id)?))
    };
    Ok(match decide_in_day(states, day_target, &req, &patient_bookings, next_overbook, MAX_SUGGESTIONS)? {
        DayDecision::Granted { state, grant } => Some(Decision::Granted { state: Box::new(state.clone()), grant }),
        DayDecision::Refused { error, suggestions, state, existing } => Some(Decision::Refused {
            error,
            suggestions,
            state: state.map(|s| Box::new(s.clone())),
            existing: existing.map(|b| Box::new(b.clone())),
        }),
        DayDecision::NotFound => None,
    })
}
