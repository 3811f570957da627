//! Queue entries on the embedded store. Only the writer changes them, one op at a time, so a
//! session's queue is read and written without further locking.

use frontdesk_domain::booking::Booking;
use frontdesk_domain::queue::QueueAction;
use frontdesk_domain::schedule::{BookingId, SessionId, Site};
use frontdesk_protocol::sync::{Outcome, QueueItem, Record};
use rusqlite::{Connection, params};

use super::{WriteCtx, rows};
use crate::error::StoreResult;
use crate::outcome::conflict;
use crate::queue;

/// Every entry of a session's queue.
pub(crate) fn load(c: &Connection, session: &SessionId) -> StoreResult<Vec<QueueItem>> {
    let texts: Vec<String> = c
        .prepare_cached("SELECT record FROM queue_entries WHERE session_id = ?1")?
        .query_map([session.as_str()], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    texts.iter().map(|t| Ok(serde_json::from_str(t)?)).collect()
}

fn save(ctx: &mut WriteCtx<'_>, item: &QueueItem) -> StoreResult<u64> {
    let id = item.entry.booking_id.as_str();
    let cursor = rows::log_change(ctx, &item.site_id, "queue_entry", id, &Record::QueueEntry(item.clone()))?;
    ctx.conn
        .prepare_cached(
            "INSERT INTO queue_entries (booking_id, site_id, session_id, record) VALUES (?1, ?2, ?3, ?4) \
             ON CONFLICT (booking_id) DO UPDATE SET record = excluded.record",
        )?
        .execute(params![id, item.site_id.as_str(), item.session_id.as_str(), serde_json::to_string(item)?])?;
    Ok(cursor)
}

/// A booking that just checked in joins its session's queue. The change-log position of its
/// entry, or `None` when it was in the queue already.
pub(crate) fn join(ctx: &mut WriteCtx<'_>, booking: &Booking) -> StoreResult<Option<u64>> {
    let items = load(ctx.conn, &booking.session_id)?;
    match queue::join(&items, booking, ctx.now) {
        Some(item) => Ok(Some(save(ctx, &item)?)),
        None => Ok(None),
    }
}

/// A desk's `queue` op.
pub(crate) fn act(ctx: &mut WriteCtx<'_>, site: &Site, id: &BookingId, action: QueueAction) -> StoreResult<Outcome> {
    let Some(b) = rows::load_booking(ctx.conn, id)?.filter(|b| b.site_id == site.id) else {
        return Ok(conflict("not_found", format!("Booking {id} is not on the platform")));
    };
    let items = load(ctx.conn, &b.session_id)?;
    if !items.iter().any(|i| &i.entry.booking_id == id) {
        return Ok(queue::not_in_queue(id));
    }
    let changed = match queue::decide(&items, id, action, ctx.now) {
        Ok(c) => c,
        Err(e) => return Ok(queue::refused(&e)),
    };
    let mut answer = None;
    for item in &changed {
        let cursor = save(ctx, item)?;
        if answer.is_none() {
            answer = Some(queue::applied(item, cursor));
        }
    }
    Ok(answer.unwrap_or_else(|| queue::not_in_queue(id)))
}
