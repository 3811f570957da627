//! Loading what the booking rules need, asking them, and claiming the number they grant.
//!
//! The rules (`frontdesk_domain::booking::decide_in_day`) decide on the department-day as
//! this transaction reads it. The database then claims the number: the lowest free one of the
//! pool that no concurrent transaction is claiming (`FOR UPDATE SKIP LOCKED`), or exactly the
//! number asked for. When the claim finds the number (or the whole pool) gone — another
//! process booked or leased it meanwhile — the day is updated with what was learnt and the
//! rules decide again, so every answer, a refusal with its suggestions included, is the rules'
//! answer.
//!
//! Capacity leases: the day carries the numbers leased to desks, so the rules never give one to
//! a booking outside a lease, and the claims skip them too. A desk's spend
//! ([`QueueChoice::Leased`]) claims its number if it is still leased to that desk, or free (a
//! late spend); the lease ends in the same transaction.

use std::convert::Infallible;

use frontdesk_domain::booking::{
    BookingError, BookingRequest, DayDecision, DayTarget, Grant, MAX_SUGGESTIONS, QueueChoice, SlotState,
    decide_in_day, overbook_next,
};
use frontdesk_domain::schedule::{BookingId, Channel, DepartmentId, DeviceId, PatientId, Site};
use jiff::civil::{Date, DateTime};

use super::lease;
use super::rows::{self, Claim};
use super::{Ctx, R};
use crate::outcome::LeaseEvent;
pub(crate) use crate::outcome::{Decided, Target};

/// What a booking asks for.
pub(crate) struct Ask<'a> {
    pub site: &'a Site,
    pub now: DateTime,
    pub patient: &'a PatientId,
    /// Registered by this very request: no bookings yet.
    pub patient_is_new: bool,
    pub channel: Channel,
    pub queue_no: QueueChoice,
    pub overbook_reason: Option<&'a str>,
    pub target: &'a Target,
    /// The booking that will hold the number.
    pub booking_id: &'a BookingId,
    /// The desk booking (whose lease a [`QueueChoice::Leased`] spends); `None` online.
    pub device: Option<&'a DeviceId>,
}

/// Decides with the rules and claims the granted number.
///
/// A booking of a named slot is first decided on that slot alone — the common, granted case
/// reads one slot, not the department's day — and only a refusal reads the whole day, to
/// decide again with suggestions (the same rule, so the same answer).
pub(crate) async fn decide_and_claim(ctx: &mut Ctx, ask: Ask<'_>) -> R<Decided> {
    let (dept, date) = match ask.target {
        Target::Slot(id) => match rows::slot_state(&ctx.conn, id).await? {
            Some((s, d, date, state)) if s == ask.site.id => {
                if ask.overbook_reason.is_none() {
                    let day = vec![state];
                    if let Some(decided) = decide_in(ctx, &ask, day, &d, date, true).await? {
                        return Ok(decided);
                    }
                }
                (d, date)
            }
            _ => return Ok(Decided::NotFound),
        },
        Target::Department(d, date) => (d.clone(), *date),
    };
    let day = rows::day_states(&ctx.conn, &ask.site.id, &dept, date).await?;
    decide_in(ctx, &ask, day, &dept, date, false).await.map(|d| d.unwrap_or(Decided::NotFound))
}

/// Decides on `day` and claims; with `grant_only`, a refusal answers `None` (decide again on
/// the whole day).
async fn decide_in(
    ctx: &mut Ctx,
    ask: &Ask<'_>,
    mut day: Vec<SlotState>,
    dept: &DepartmentId,
    date: Date,
    grant_only: bool,
) -> R<Option<Decided>> {
    let patient_bookings = if ask.patient_is_new {
        Vec::new()
    } else {
        rows::patient_day_bookings(&ctx.conn, ask.patient, dept, date).await?
    };
    let day_target = match ask.target {
        Target::Slot(id) => DayTarget::Slot(id),
        Target::Department(..) => DayTarget::Earliest,
    };
    // Only an overbook (an admin's, always into a named slot) needs the session's numbers.
    let overbook = match (ask.overbook_reason, ask.target) {
        (Some(_), Target::Slot(id)) => match day.iter().find(|s| &s.slot.id == id) {
            Some(st) => {
                let session = st.session.id.clone();
                Some(overbook_next(
                    &rows::session_slots(&ctx.conn, &session).await?,
                    &rows::session_numbers(&ctx.conn, &session).await?,
                ))
            }
            None => None,
        },
        _ => None,
    };
    let req = BookingRequest {
        patient_id: ask.patient,
        channel: ask.channel,
        now: ask.now,
        queue_no: ask.queue_no,
        overbook_reason: ask.overbook_reason,
        device: ask.device,
    };
    // Each lost claim takes a number or a whole pool out of the day: this ends.
    let bound = day.iter().map(|s| s.slot.capacity() as usize + 1).sum::<usize>() + 2;
    for _ in 0..bound {
        let decision = decide_in_day(
            &day,
            day_target,
            &req,
            &patient_bookings,
            |_| Ok::<u32, Infallible>(overbook.unwrap_or(1)),
            MAX_SUGGESTIONS,
        )
        .unwrap_or_else(|never| match never {});
        let (slot_index, grant) = match decision {
            DayDecision::NotFound => return Ok(Some(Decided::NotFound)),
            DayDecision::Refused { .. } if grant_only => return Ok(None),
            refused @ DayDecision::Refused { .. } => return Ok(Some(Decided::of(refused))),
            DayDecision::Granted { state, grant } => {
                let i = day.iter().position(|s| s.slot.id == state.slot.id).unwrap_or(0);
                (i, grant)
            }
        };
        let state = &day[slot_index];
        if grant.overbooked {
            return Ok(Some(Decided::Granted { state: Box::new(state.clone()), grant }));
        }
        let (exact, spender) = match ask.queue_no {
            QueueChoice::Exactly(n) => (Some(n), None),
            QueueChoice::Prefer(n) if n == grant.queue_no => (Some(n), None),
            QueueChoice::Leased(n) if n == grant.queue_no => (Some(n), ask.device),
            _ => (None, None),
        };
        match exact {
            Some(n) => match rows::claim_exact(ctx, &state.session.id, n, ask.booking_id, spender).await? {
                Claim::Took(prior) => {
                    let state = Box::new(state.clone());
                    match prior {
                        Some(prior) => lease::spent(ctx, &state.session.id, n, &prior).await?,
                        // A desk's spend of a number no longer leased to it, free: late.
                        None if matches!(ask.queue_no, QueueChoice::Leased(_)) => ctx.leases.add(LeaseEvent::Late, 1),
                        None => {}
                    }
                    return Ok(Some(Decided::Granted { state, grant }));
                }
                Claim::Lost => {
                    // Booked or leased meanwhile: the rules decide again knowing it.
                    let st = &mut day[slot_index];
                    st.leased.retain(|(m, _)| *m != n);
                    st.taken.push(n);
                }
            },
            None => {
                let pool = ask.channel.pool();
                match rows::claim_lowest(ctx, &state.slot.id, pool, ask.booking_id).await? {
                    Some(n) => {
                        return Ok(Some(Decided::Granted {
                            state: Box::new(state.clone()),
                            grant: Grant { queue_no: n, overbooked: false },
                        }));
                    }
                    None => {
                        // Every free number of the pool is held or being claimed right now.
                        let st = &mut day[slot_index];
                        let all: Vec<u32> = st.slot.pool_numbers(pool).filter(|n| !st.taken.contains(n)).collect();
                        st.taken.extend(all);
                    }
                }
            }
        }
    }
    Ok(Some(Decided::Refused {
        error: BookingError::NoSlotAvailable,
        suggestions: Vec::new(),
        state: None,
        existing: None,
    }))
}
