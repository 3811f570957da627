//! Reads, on read-only connections (WAL snapshots): they never wait for the writer.

use frontdesk_domain::schedule::{DeviceId, Site, SiteId};
use frontdesk_protocol::PROTOCOL_VERSION;
use frontdesk_protocol::enroll::DeviceInfo;
use frontdesk_protocol::online::{Availability, AvailabilityQuery};
use frontdesk_protocol::sync::{Change, PullResponse};
use jiff::Timestamp;
use rusqlite::{Connection, params};

use super::rows;
use crate::error::{StoreError, StoreResult};
use crate::store::DeviceAuth;

/// The most changes one pull page holds.
pub const MAX_PULL: u32 = 5000;

/// A page of a site's change log; `now` is the platform's clock (`server_now`: what a desk
/// counts a lease's time left from).
pub(crate) fn pull(
    c: &Connection,
    site: &SiteId,
    cursor: u64,
    limit: u32,
    now: Timestamp,
) -> StoreResult<PullResponse> {
    let limit = limit.clamp(1, MAX_PULL);
    let mut st = c.prepare_cached(
        "SELECT cursor, record FROM changes WHERE site_id = ?1 AND cursor > ?2 ORDER BY cursor LIMIT ?3",
    )?;
    let mut rows = st.query(params![site.as_str(), cursor as i64, i64::from(limit) + 1])?;
    let mut changes = Vec::new();
    let mut more = false;
    while let Some(r) = rows.next()? {
        if changes.len() == limit as usize {
            more = true;
            break;
        }
        let cur: i64 = r.get(0)?;
        let rec: String = r.get(1)?;
        changes.push(Change { cursor: cur as u64, record: serde_json::from_str(&rec)? });
    }
    let next_cursor = changes.last().map(|c| c.cursor).unwrap_or(cursor);
    Ok(PullResponse { protocol: PROTOCOL_VERSION, changes, next_cursor, more, server_now: Some(now) })
}

pub(crate) fn feed(c: &Connection, after: u64, limit: u32) -> StoreResult<crate::store::Feed> {
    let limit = limit.clamp(1, MAX_PULL);
    let mut st = c.prepare_cached(&format!(
        "SELECT cursor, record FROM changes WHERE cursor > ?1 AND entity IN {} ORDER BY cursor LIMIT ?2",
        crate::store::FEED_ENTITIES
    ))?;
    let mut rows = st.query(params![after as i64, i64::from(limit) + 1])?;
    let mut changes = Vec::new();
    let mut more = false;
    while let Some(r) = rows.next()? {
        if changes.len() == limit as usize {
            more = true;
            break;
        }
        let cur: i64 = r.get(0)?;
        let rec: String = r.get(1)?;
        changes.push(Change { cursor: cur as u64, record: serde_json::from_str(&rec)? });
    }
    let next = changes.last().map(|c| c.cursor).unwrap_or(after);
    Ok(crate::store::Feed { changes, next, more })
}

pub(crate) fn authenticate(c: &Connection, token_hash: &str) -> StoreResult<Option<DeviceAuth>> {
    let row: Option<(String, String, Option<String>, String)> = rusqlite::OptionalExtension::optional(
        c.prepare_cached("SELECT id, site_id, revoked_at, role FROM devices WHERE token_hash = ?1")?
            .query_row([token_hash], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))),
    )?;
    match row {
        Some((id, site, None, role)) => {
            Ok(Some(DeviceAuth { device_id: DeviceId(id), site_id: SiteId(site), role: super::admin::role_of(&role)? }))
        }
        _ => Ok(None),
    }
}

fn ts(s: Option<String>) -> StoreResult<Option<Timestamp>> {
    s.map(|s| s.parse().map_err(|e| StoreError::Internal(format!("stored timestamp {s}: {e}")))).transpose()
}

pub(crate) fn devices(c: &Connection, site: Option<&SiteId>) -> StoreResult<Vec<DeviceInfo>> {
    let mut st = c.prepare(
        "SELECT d.id, d.site_id, d.name, d.enrolled_at, d.revoked_at, d.last_sync_at, d.last_pull_cursor, d.settled_seq, \
         (SELECT COALESCE(MAX(cursor), 0) FROM changes ch WHERE ch.site_id = d.site_id), d.role \
         FROM devices d WHERE (?1 IS NULL OR d.site_id = ?1) ORDER BY d.site_id, d.enrolled_at",
    )?;
    let raw = st
        .query_map([site.map(SiteId::as_str)], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, Option<String>>(4)?,
                r.get::<_, Option<String>>(5)?,
                r.get::<_, i64>(6)?,
                r.get::<_, i64>(7)?,
                r.get::<_, i64>(8)?,
                r.get::<_, String>(9)?,
            ))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    raw.into_iter()
        .map(|(id, site, name, enrolled, revoked, last, pulled, settled, head, role)| {
            Ok(DeviceInfo {
                id: DeviceId(id),
                site_id: SiteId(site),
                name,
                role: super::admin::role_of(&role)?,
                enrolled_at: ts(Some(enrolled.clone()))?
                    .ok_or_else(|| StoreError::Internal(format!("stored timestamp {enrolled}")))?,
                revoked_at: ts(revoked)?,
                last_sync_at: ts(last)?,
                last_pull_cursor: pulled as u64,
                behind: (head - pulled).max(0) as u64,
                settled_seq: settled as u64,
            })
        })
        .collect()
}

pub(crate) fn sites(c: &Connection) -> StoreResult<Vec<Site>> {
    let mut st = c.prepare("SELECT id, name, timezone FROM sites ORDER BY id")?;
    let v = st
        .query_map([], |r| Ok(Site { id: SiteId(r.get(0)?), name: r.get(1)?, timezone: r.get(2)? }))?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(v)
}

pub(crate) fn availability(
    c: &Connection,
    site: &SiteId,
    q: &AvailabilityQuery,
    now: Timestamp,
) -> StoreResult<Availability> {
    let s = rows::load_site(c, site)?.ok_or_else(|| StoreError::NotFound(format!("site {site}")))?;
    let local = crate::outcome::site_now(now, &s)?;
    let depts: Vec<frontdesk_domain::schedule::Department> = match &q.department {
        Some(code) => vec![
            rows::load_department_by_code(c, site, code)?
                .ok_or_else(|| StoreError::NotFound(format!("department {code}")))?,
        ],
        None => {
            let mut st = c.prepare_cached("SELECT code FROM departments WHERE site_id = ?1 ORDER BY code")?;
            let codes = st.query_map([site.as_str()], |r| r.get::<_, String>(0))?.collect::<Result<Vec<_>, _>>()?;
            let mut v = Vec::new();
            for code in codes {
                if let Some(d) = rows::load_department_by_code(c, site, &code)? {
                    v.push(d);
                }
            }
            v
        }
    };
    let mut slots = Vec::new();
    for d in depts {
        let states = rows::day_states(c, site, &d.id, q.date)?;
        slots.extend(crate::outcome::available_slots(&d, states, local));
    }
    Ok(Availability { site_id: site.clone(), date: q.date, slots })
}
