//! The waiting room on the platform, independent of the storage back-end: a checked-in booking
//! joins its session's queue, a desk's `queue` op is decided with the domain's queue rules
//! (`frontdesk_domain::queue`), and the answer is shaped the same way on both back-ends. The
//! back-ends only load a session's entries (under their own lock) and store what changed.

use frontdesk_domain::Lang;
use frontdesk_domain::booking::Booking;
use frontdesk_domain::queue::{QueueAction, QueueError, QueuePolicy, SessionQueue};
use frontdesk_domain::schedule::BookingId;
use frontdesk_protocol::sync::{Effects, Outcome, QueueItem};
use jiff::Timestamp;

use crate::outcome::conflict;

/// How the platform runs every site's queues (the domain's defaults: a skipped patient is a
/// no-show after three unanswered calls, and waits again three places on).
pub(crate) const POLICY: QueuePolicy = QueuePolicy { max_calls: 3, requeue_after: 3 };

fn queue_of(items: &[QueueItem]) -> SessionQueue {
    SessionQueue::from_entries(items.iter().map(|i| i.entry.clone()).collect())
}

/// The entry a booking that just checked in joins with, or `None` when it is already in the
/// queue (a replayed check-in).
pub(crate) fn join(items: &[QueueItem], booking: &Booking, now: Timestamp) -> Option<QueueItem> {
    let mut q = queue_of(items);
    q.check_in(booking.id.clone(), booking.queue_no, &POLICY).ok()?;
    let entry = q.entry(&booking.id)?.clone();
    Some(QueueItem {
        site_id: booking.site_id.clone(),
        session_id: booking.session_id.clone(),
        entry,
        joined_at: now,
        called_at: None,
    })
}

/// Decides a desk's `queue` op on the session's entries: the entries to store (the acted-on
/// one first) or why not ([`refused`] is the answer then).
pub(crate) fn decide(
    items: &[QueueItem],
    booking: &BookingId,
    action: QueueAction,
    now: Timestamp,
) -> Result<Vec<QueueItem>, QueueError> {
    let mut q = queue_of(items);
    let (changed, call) = q.act(booking, action, &POLICY)?;
    Ok(changed
        .into_iter()
        .filter_map(|entry| {
            let before = items.iter().find(|i| i.entry.booking_id == entry.booking_id)?;
            let called = call.as_ref().is_some_and(|c| c.booking_id == entry.booking_id);
            Some(QueueItem { entry, called_at: if called { Some(now) } else { before.called_at }, ..before.clone() })
        })
        .collect())
}

/// The answer to an applied `queue` op.
pub(crate) fn applied(item: &QueueItem, cursor: u64) -> Outcome {
    Outcome::Applied {
        effects: Effects {
            booking_id: Some(item.entry.booking_id.clone()),
            queue_no: Some(item.entry.queue_no),
            cursor,
            ..Effects::default()
        },
    }
}

/// The answer to a `queue` op the rules refused.
pub(crate) fn refused(e: &QueueError) -> Outcome {
    conflict(e.code(), e.message(Lang::En))
}

/// The answer to a `queue` op on a booking the platform has no queue entry for.
pub(crate) fn not_in_queue(booking: &BookingId) -> Outcome {
    refused(&QueueError::NotInQueue { booking_id: booking.clone() })
}
