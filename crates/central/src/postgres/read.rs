//! Reads on pooled connections, outside any write transaction.

use deadpool_postgres::Object;
use frontdesk_domain::clock::Clock;
use frontdesk_domain::schedule::{DeviceId, Site, SiteId};
use frontdesk_protocol::PROTOCOL_VERSION;
use frontdesk_protocol::enroll::DeviceInfo;
use frontdesk_protocol::online::{Availability, AvailabilityQuery};
use frontdesk_protocol::sync::{Change, PullResponse, Record};
use jiff::Timestamp;

use super::rows::{self, q, q1};
use super::{CURSOR_BITS, Fail, R};
use crate::error::StoreError;
use crate::outcome::{available_slots, site_now};
use crate::store::DeviceAuth;

/// The most changes one pull page holds.
pub const MAX_PULL: u32 = 5000;

/// A page of the site's change log after `cursor`. Only changes of transactions older than
/// the oldest one still running are served: a transaction that commits later has a larger id,
/// so all its changes sort after every cursor served here — a desk never skips one.
///
/// A change committed just now may sit behind a transaction that is still running (another
/// lane's group, anywhere in the cluster). Rather than make the desk come back for it, the
/// pull waits for such transactions to end — they are short — for at most [`PULL_WAIT`].
///
/// Every page carries the platform's clock as the page was made (`server_now`): a desk counts
/// a lease's time left from it. A page that carries one of the desk's own leases is recorded
/// as served before it is answered — an expired lease returns only once the platform can be
/// sure it is unspent, and a desk holding one must never look as if it had not been sent it —,
/// and so is a pull with nothing pending (`clean_at`, its arrival), which lets the desk's
/// expired leases return.
pub(crate) async fn pull(
    pool: &deadpool_postgres::Pool,
    device: &DeviceAuth,
    cursor: u64,
    limit: u32,
    clock: &dyn Clock,
    clean_at: Option<Timestamp>,
) -> R<PullResponse> {
    let site = &device.site_id;
    let limit = limit.clamp(1, MAX_PULL);
    let deadline = tokio::time::Instant::now() + PULL_WAIT;
    loop {
        // The connection goes back to the pool while the pull waits.
        let c = pool.get().await?;
        // One statement, one snapshot: the rows and whether each may be served yet.
        let rows = q(
            &c,
            "WITH lim AS (SELECT (pg_snapshot_xmin(pg_current_snapshot())::text::bigint) << $4 AS c) \
             SELECT ch.cursor, ch.record, ch.cursor >= lim.c FROM changes ch, lim \
             WHERE ch.site_id = $1 AND ch.cursor > $2 ORDER BY ch.cursor LIMIT $3",
            &[&site.as_str(), &(cursor as i64), &(i64::from(limit) + 1), &(CURSOR_BITS as i32)],
        )
        .await?;
        drop(c);
        let servable = rows.iter().take_while(|r| !r.get::<_, bool>(2)).count();
        let waiting = servable < rows.len() && servable <= limit as usize;
        if waiting && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(std::time::Duration::from_millis(3)).await;
            continue;
        }
        let more = servable > limit as usize;
        let mut changes = Vec::with_capacity(servable.min(limit as usize));
        for r in rows.iter().take(servable.min(limit as usize)) {
            let cur: i64 = r.get(0);
            let rec: &str = r.get(1);
            changes.push(Change { cursor: cur as u64, record: serde_json::from_str(rec)? });
        }
        let next_cursor = changes.last().map(|c| c.cursor).unwrap_or(cursor);
        let own_lease =
            changes.iter().any(|c| matches!(&c.record, Record::Lease(l) if l.device_id == device.device_id));
        if own_lease || clean_at.is_some() {
            super::lease::receipt(&pool.get().await?, &device.device_id, next_cursor, clean_at).await?;
        }
        let server_now = Some(clock.now());
        return Ok(PullResponse { protocol: PROTOCOL_VERSION, changes, next_cursor, more, server_now });
    }
}

/// How long a pull waits for running transactions that hold committed changes back.
pub const PULL_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

/// A page of the whole change log (the view's entities), under the pull's visibility rule.
pub(crate) async fn feed(c: &Object, after: u64, limit: u32) -> R<crate::store::Feed> {
    let limit = limit.clamp(1, MAX_PULL);
    let rows = q(
        c,
        &format!(
            "SELECT cursor, record FROM changes WHERE cursor > $1 AND entity IN {} \
             AND cursor < ((pg_snapshot_xmin(pg_current_snapshot())::text::bigint) << $3) ORDER BY cursor LIMIT $2",
            crate::store::FEED_ENTITIES
        ),
        &[&(after as i64), &(i64::from(limit) + 1), &(CURSOR_BITS as i32)],
    )
    .await?;
    let more = rows.len() > limit as usize;
    let mut changes = Vec::with_capacity(rows.len().min(limit as usize));
    for r in rows.iter().take(limit as usize) {
        let cur: i64 = r.get(0);
        let rec: &str = r.get(1);
        changes.push(Change { cursor: cur as u64, record: serde_json::from_str(rec)? });
    }
    let next = changes.last().map(|c| c.cursor).unwrap_or(after);
    Ok(crate::store::Feed { changes, next, more })
}

pub(crate) async fn authenticate(c: &Object, token_hash: &str) -> R<Option<DeviceAuth>> {
    let row =
        q1(c, "SELECT id, site_id, role FROM devices WHERE token_hash = $1 AND revoked_at IS NULL", &[&token_hash])
            .await?;
    row.map(|r| {
        Ok(DeviceAuth {
            device_id: DeviceId(r.get(0)),
            site_id: SiteId(r.get(1)),
            role: super::admin::role_of(r.get(2))?,
        })
    })
    .transpose()
}

pub(crate) async fn devices(c: &Object, site: Option<&SiteId>) -> R<Vec<DeviceInfo>> {
    // How far behind: the changes of the site a device has not pulled yet (cursors are not
    // dense here, so this is a count, not a difference).
    let rows = q(
        c,
        "SELECT d.id, d.site_id, d.name, d.enrolled_at, d.revoked_at, d.last_sync_at, d.last_pull_cursor, d.settled_seq, \
         (SELECT COUNT(*) FROM changes ch WHERE ch.site_id = d.site_id AND ch.cursor > d.last_pull_cursor), d.role \
         FROM devices d WHERE $1::text IS NULL OR d.site_id = $1 ORDER BY d.site_id, d.enrolled_at",
        &[&site.map(SiteId::as_str)],
    )
    .await?;
    rows.iter()
        .map(|r| {
            Ok(DeviceInfo {
                id: DeviceId(r.get(0)),
                site_id: SiteId(r.get(1)),
                name: r.get(2),
                role: super::admin::role_of(r.get(9))?,
                enrolled_at: r.get::<_, Timestamp>(3),
                revoked_at: r.get(4),
                last_sync_at: r.get(5),
                last_pull_cursor: r.get::<_, i64>(6) as u64,
                settled_seq: r.get::<_, i64>(7) as u64,
                behind: r.get::<_, i64>(8).max(0) as u64,
            })
        })
        .collect()
}

pub(crate) async fn sites(c: &Object) -> R<Vec<Site>> {
    Ok(q(c, "SELECT id, name, timezone FROM sites ORDER BY id", &[])
        .await?
        .iter()
        .map(|r| Site { id: SiteId(r.get(0)), name: r.get(1), timezone: r.get(2) })
        .collect())
}

pub(crate) async fn availability(c: &Object, site: &SiteId, q: &AvailabilityQuery, now: Timestamp) -> R<Availability> {
    let s = rows::load_site(c, site).await?.ok_or_else(|| Fail::Store(StoreError::NotFound(format!("site {site}"))))?;
    let local = site_now(now, &s)?;
    let depts = match &q.department {
        Some(code) => vec![
            rows::load_department_by_code(c, site, code)
                .await?
                .ok_or_else(|| Fail::Store(StoreError::NotFound(format!("department {code}"))))?,
        ],
        None => rows::site_departments(c, site).await?,
    };
    let mut slots = Vec::new();
    for d in depts {
        let states = rows::day_states(c, site, &d.id, q.date).await?;
        slots.extend(available_slots(&d, states, local));
    }
    Ok(Availability { site_id: site.clone(), date: q.date, slots })
}
