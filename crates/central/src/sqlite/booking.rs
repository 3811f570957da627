//! Loading what the booking rules need and asking them. The rules live in
//! `frontdesk_domain::booking`; nothing here re-implements them.

use frontdesk_domain::booking::{
    Booking, BookingError, BookingRequest, Grant, QueueChoice, SlotState, Suggestion, decide_booking,
    earliest_bookable, overbook_next,
};
use frontdesk_domain::schedule::{Channel, DepartmentId, PatientId, Site, SlotId};
use jiff::Timestamp;
use jiff::civil::{Date, DateTime};

use super::{WriteCtx, rows};
use crate::error::{StoreError, StoreResult};

/// Extra suggestions beyond the rule's own, at most.
const MAX_SUGGESTIONS: usize = 3;

/// The first `n` slots `channel` can book at `now`, in the order the rules rank them
/// (date, start, first number, id): enough to find the same suggestions as the whole day.
fn earliest_few(states: &[SlotState], channel: Channel, now: DateTime, n: usize) -> Vec<SlotState> {
    let mut open: Vec<&SlotState> = states.iter().filter(|s| s.bookable(channel, now)).collect();
    open.sort_by(|a, b| {
        (a.session.date, a.slot.start, a.slot.first_queue_no, &a.slot.id).cmp(&(
            b.session.date,
            b.slot.start,
            b.slot.first_queue_no,
            &b.slot.id,
        ))
    });
    open.into_iter().take(n).cloned().collect()
}

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

/// Which number to ask for.
#[derive(Clone, Copy)]
pub(crate) enum QueuePref {
    /// Exactly this one (a leased number).
    Exactly(u32),
    /// This one when it is free and in the channel's pool, else the lowest free.
    Prefer(u32),
    /// The lowest free.
    Lowest,
}

/// A decision of the rules, with the state it was made on.
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

/// Asks the booking rules. `Ok(None)`: the target does not exist in the site.
#[allow(clippy::too_many_arguments)]
pub(crate) fn decide(
    ctx: &mut WriteCtx<'_>,
    site: &Site,
    now: DateTime,
    patient: &PatientId,
    patient_is_new: bool,
    channel: Channel,
    pref: QueuePref,
    overbook_reason: Option<&str>,
    target: &Target,
) -> StoreResult<Option<Decision>> {
    let conn = ctx.conn;
    let (dept, date) = match target {
        Target::Slot(id) => match ctx.slot_place(id)? {
            Some((s, d, date)) if s == site.id => (d, date),
            _ => return Ok(None),
        },
        Target::Department(d, date) => (d.clone(), *date),
    };
    let states = ctx.day_states(&site.id, &dept, date)?;
    let target_state = match target {
        Target::Slot(id) => match states.iter().find(|s| &s.slot.id == id) {
            Some(s) => s,
            None => return Ok(None),
        },
        Target::Department(..) => match earliest_bookable(states, channel, now) {
            Some(s) => s,
            None => {
                return Ok(Some(Decision::Refused {
                    error: BookingError::NoSlotAvailable,
                    suggestions: Vec::new(),
                    state: None,
                    existing: None,
                }));
            }
        },
    };
    // A patient registered by this very request has no bookings yet.
    let patient_bookings =
        if patient_is_new { Vec::new() } else { rows::patient_day_bookings(conn, patient, &dept, date)? };
    let queue_no = match pref {
        QueuePref::Exactly(n) => QueueChoice::Exactly(n),
        QueuePref::Prefer(n)
            if target_state.slot.pool_of(n) == Some(channel.pool()) && !target_state.taken.contains(&n) =>
        {
            QueueChoice::Exactly(n)
        }
        QueuePref::Prefer(_) | QueuePref::Lowest => QueueChoice::Lowest,
    };
    let next_overbook = match overbook_reason {
        Some(_) => overbook_next(
            &rows::session_slots(conn, &target_state.session.id)?,
            &rows::session_numbers(conn, &target_state.session.id)?,
        ),
        // Only an overbook uses the number.
        None => 0,
    };
    let req = BookingRequest { patient_id: patient, channel, now, queue_no, overbook_reason };
    // The rule takes the alternatives only to suggest from when it refuses. Ask it without
    // them first (the common, granted case costs nothing extra); on a refusal ask again with
    // the earliest few bookable slots — the suggestion is the same as with the whole day,
    // since the rule suggests the earliest bookable one, without cloning the whole day.
    let (refusal, alternatives) = match decide_booking(&req, target_state, &patient_bookings, next_overbook, &[]) {
        Ok(grant) => return Ok(Some(Decision::Granted { state: Box::new(target_state.clone()), grant })),
        Err(_) => {
            let alternatives = earliest_few(states, channel, now, MAX_SUGGESTIONS + 2);
            match decide_booking(&req, target_state, &patient_bookings, next_overbook, &alternatives) {
                Ok(grant) => return Ok(Some(Decision::Granted { state: Box::new(target_state.clone()), grant })),
                Err(refusal) => (refusal, alternatives),
            }
        }
    };
    let mut suggestions: Vec<Suggestion> = refusal.suggestion.into_iter().map(|s| *s).collect();
    if !suggestions.is_empty() {
        // More of the department's next free slots that day.
        let mut rest: Vec<SlotState> = alternatives
            .into_iter()
            .filter(|s| s.slot.id != target_state.slot.id && !suggestions.iter().any(|g| g.slot_id == s.slot.id))
            .collect();
        while suggestions.len() < MAX_SUGGESTIONS {
            let Some(next) = earliest_bookable(&rest, channel, now) else { break };
            let id = next.slot.id.clone();
            suggestions.push(Suggestion {
                slot_id: id.clone(),
                session_id: next.session.id.clone(),
                provider_id: next.session.provider_id.clone(),
                date: next.session.date,
                start: next.slot.start,
                end: next.slot.end,
                remaining: next.remaining(channel.pool()),
            });
            rest.retain(|s| s.slot.id != id);
        }
    }
    let existing = match &refusal.error {
        BookingError::PatientAlreadyBooked { existing } => patient_bookings.iter().find(|b| &b.id == existing).cloned(),
        _ => None,
    };
    Ok(Some(Decision::Refused {
        error: refusal.error,
        suggestions,
        state: Some(Box::new(target_state.clone())),
        existing: existing.map(Box::new),
    }))
}
