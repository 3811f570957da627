//! Queue entries on PostgreSQL. A check-in or a queue op locks its session's row first
//! (`FOR NO KEY UPDATE`: bookings' foreign-key checks do not wait for it), so one session's
//! queue changes on one process at a time and every decision sees the entries the last one
//! wrote. Lock order: a check-in holds its booking's row, then the session's; a queue op takes
//! only the session's.

use frontdesk_domain::booking::Booking;
use frontdesk_domain::queue::QueueAction;
use frontdesk_domain::schedule::{BookingId, SessionId, Site};
use frontdesk_protocol::sync::{Outcome, QueueItem, Record};

use super::rows::{self, q, q1, x};
use super::{Ctx, R};
use crate::outcome::conflict;
use crate::queue;

/// Locks a session's queue for the rest of the transaction and reads every entry of it.
async fn lock_and_load(ctx: &Ctx, session: &SessionId) -> R<Vec<QueueItem>> {
    x(&ctx.conn, "SELECT 1 FROM sessions WHERE id = $1 FOR NO KEY UPDATE", &[&session.as_str()]).await?;
    let rows = q(&ctx.conn, "SELECT record FROM queue_entries WHERE session_id = $1", &[&session.as_str()]).await?;
    rows.iter().map(|r| Ok(serde_json::from_str(r.get(0))?)).collect()
}

async fn save(ctx: &mut Ctx, item: &QueueItem) -> R<u64> {
    let id = item.entry.booking_id.as_str();
    let cursor = rows::log_change(ctx, &item.site_id, "queue_entry", id, &Record::QueueEntry(item.clone())).await?;
    let text = serde_json::to_string(item)?;
    x(
        &ctx.conn,
        "INSERT INTO queue_entries (booking_id, site_id, session_id, record) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (booking_id) DO UPDATE SET record = excluded.record",
        &[&id, &item.site_id.as_str(), &item.session_id.as_str(), &text],
    )
    .await?;
    Ok(cursor)
}

/// A booking that just checked in (its row locked) joins its session's queue. The change-log
/// position of its entry, or `None` when it was in the queue already.
pub(crate) async fn join(ctx: &mut Ctx, booking: &Booking) -> R<Option<u64>> {
    let items = lock_and_load(ctx, &booking.session_id).await?;
    match queue::join(&items, booking, ctx.now) {
        Some(item) => Ok(Some(save(ctx, &item).await?)),
        None => Ok(None),
    }
}

/// A desk's `queue` op.
pub(crate) async fn act(ctx: &mut Ctx, site: &Site, id: &BookingId, action: QueueAction) -> R<Outcome> {
    let booking: Option<Booking> =
        match q1(&ctx.conn, "SELECT record FROM bookings WHERE id = $1", &[&id.as_str()]).await? {
            Some(r) => Some(serde_json::from_str(r.get(0))?),
            None => None,
        };
    let Some(b) = booking.filter(|b| b.site_id == site.id) else {
        return Ok(conflict("not_found", format!("Booking {id} is not on the platform")));
    };
    let items = lock_and_load(ctx, &b.session_id).await?;
    if !items.iter().any(|i| &i.entry.booking_id == id) {
        return Ok(queue::not_in_queue(id));
    }
    let changed = match queue::decide(&items, id, action, ctx.now) {
        Ok(c) => c,
        Err(e) => return Ok(queue::refused(&e)),
    };
    let mut answer = None;
    for item in &changed {
        let cursor = save(ctx, item).await?;
        if answer.is_none() {
            answer = Some(queue::applied(item, cursor));
        }
    }
    Ok(answer.unwrap_or_else(|| queue::not_in_queue(id)))
}
