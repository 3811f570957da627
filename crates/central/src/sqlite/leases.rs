//! Capacity leases (docs/SYNC.md, "Capacity leases") on SQLite: granting a site's desks their
//! share of each upcoming session's desk pool, ending leases (spent, given back, expired,
//! taken back), the policy, and the admin's view. The rules — who may hold which number, how
//! much a desk gets, which numbers are leased first — are `frontdesk_domain::lease`'s.
//!
//! Every grant and every end runs on the single writer, inside one transaction with the
//! change-log records that tell the site's desks, so the writer's serial order is what keeps
//! a desk from ever holding more than its share: a desk's request and the platform's round
//! never overlap.

use std::collections::BTreeMap;

use frontdesk_domain::booking::{Booking, SlotState};
use frontdesk_domain::lease::{Lease, LeasePolicy, SessionLedger};
use frontdesk_domain::schedule::{DepartmentId, DeviceId, SessionId, SessionStatus, Site, SiteId, Slot, SlotId};
use frontdesk_protocol::admin::{DeskLeases, SiteLeases};
use frontdesk_protocol::sync::{LeaseAnswer, LeaseRequest, Record};
use jiff::{SignedDuration, Timestamp};
use rusqlite::{Connection, OptionalExtension, params};

use super::{WriteCtx, audit, rows};
use crate::error::{StoreError, StoreResult};
use crate::outcome::{LeaseEvent, lease_dates, lease_expires_at, slot_ends_at};
use crate::store::{DeviceAuth, LeaseRound};

/// A leased number as stored.
struct LeaseRow {
    site_id: SiteId,
    session_id: SessionId,
    slot_id: SlotId,
    queue_no: u32,
    device_id: DeviceId,
    expires_at: Timestamp,
}

/// The columns [`LeaseRow`] is read from, in order.
const COLUMNS: &str = "site_id, session_id, slot_id, queue_no, device_id, expires_at";

fn lease_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<(String, String, String, u32, String, i64)> {
    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?))
}

fn to_row(
    (site, session, slot, n, device, expires): (String, String, String, u32, String, i64),
) -> StoreResult<LeaseRow> {
    Ok(LeaseRow {
        site_id: SiteId(site),
        session_id: SessionId(session),
        slot_id: SlotId(slot),
        queue_no: n,
        device_id: DeviceId(device),
        expires_at: rows::millis(expires)?,
    })
}

/// The lease rows a query (selecting [`COLUMNS`]) returns.
fn select(c: &Connection, sql: &str, args: impl rusqlite::Params) -> StoreResult<Vec<LeaseRow>> {
    let raw = c.prepare_cached(sql)?.query_map(args, lease_row)?.collect::<Result<Vec<_>, _>>()?;
    raw.into_iter().map(to_row).collect()
}

/// How a lease ended, for the desk's counts and the metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    Spent,
    Returned,
    Expired,
    Revoked,
}

impl End {
    fn event(self) -> LeaseEvent {
        match self {
            End::Spent => LeaseEvent::Spent,
            End::Returned => LeaseEvent::Returned,
            End::Expired => LeaseEvent::Expired,
            End::Revoked => LeaseEvent::Revoked,
        }
    }
}

/// Adds to a desk's counts (granted, spent, returned, expired, revoked).
fn count(ctx: &mut WriteCtx<'_>, site: &SiteId, device: &DeviceId, delta: [i64; 5]) -> StoreResult<()> {
    let [granted, spent, returned, expired, revoked] = delta;
    ctx.conn
        .prepare_cached(
            "INSERT INTO lease_counts (site_id, device_id, granted, spent, returned, expired, revoked) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (site_id, device_id) DO UPDATE SET \
             granted = granted + excluded.granted, spent = spent + excluded.spent, \
             returned = returned + excluded.returned, expired = expired + excluded.expired, \
             revoked = revoked + excluded.revoked",
        )?
        .execute(params![site.as_str(), device.as_str(), granted, spent, returned, expired, revoked])?;
    Ok(())
}

/// Ends one lease: the row goes, the site's desks get a `lease` tombstone, the desk's counts
/// and the writer's memory follow.
fn end(ctx: &mut WriteCtx<'_>, row: &LeaseRow, why: End) -> StoreResult<()> {
    ctx.conn
        .prepare_cached("DELETE FROM leases WHERE session_id = ?1 AND queue_no = ?2")?
        .execute(params![row.session_id.as_str(), row.queue_no])?;
    let key = Lease::key(&row.session_id, row.queue_no);
    rows::log_change(ctx, &row.site_id, "lease", &key, &Record::Tombstone { entity: "lease".into(), id: key.clone() })?;
    let delta = match why {
        End::Spent => [0, 1, 0, 0, 0],
        End::Returned => [0, 0, 1, 0, 0],
        End::Expired => [0, 0, 0, 1, 0],
        End::Revoked => [0, 0, 0, 0, 1],
    };
    count(ctx, &row.site_id, &row.device_id, delta)?;
    ctx.tally_lease(why.event(), 1);
    ctx.note_lease(&row.slot_id, row.queue_no, None);
    Ok(())
}

fn end_all(ctx: &mut WriteCtx<'_>, rows: &[LeaseRow], why: End) -> StoreResult<u64> {
    for row in rows {
        end(ctx, row, why)?;
    }
    Ok(rows.len() as u64)
}

/// Ends every lease of `site` whose expiry has passed and that the platform can be sure is
/// unspent (docs/SYNC.md, "Return"): its desk was never sent it (the lease's change-log
/// position lies beyond every page served to the desk), or the desk pulled with nothing
/// pending at or after the expiry, or the slot has ended. An expired lease of a desk that may
/// still push a spend of it stays held.
fn expire_site(ctx: &mut WriteCtx<'_>, site: &SiteId) -> StoreResult<u64> {
    let due = select(
        ctx.conn,
        "SELECT l.site_id, l.session_id, l.slot_id, l.queue_no, l.device_id, l.expires_at \
         FROM leases l JOIN devices d ON d.id = l.device_id \
         WHERE l.site_id = ?1 AND l.expires_at <= ?2 \
           AND (l.cursor > d.served_cursor OR COALESCE(d.clean_pull_at, 0) >= l.expires_at \
                OR l.slot_ends_at <= ?2) \
         ORDER BY l.session_id, l.queue_no",
        params![site.as_str(), ctx.now.as_millisecond()],
    )?;
    end_all(ctx, &due, End::Expired)
}

/// A device was revoked: its leases are taken back.
pub(crate) fn end_device(ctx: &mut WriteCtx<'_>, device: &DeviceId) -> StoreResult<u64> {
    let held = select(
        ctx.conn,
        &format!("SELECT {COLUMNS} FROM leases WHERE device_id = ?1 ORDER BY session_id, queue_no"),
        [device.as_str()],
    )?;
    end_all(ctx, &held, End::Revoked)
}

/// A session's pools are re-split or the session is deleted: its leases are taken back.
pub(crate) fn end_session(ctx: &mut WriteCtx<'_>, session: &SessionId) -> StoreResult<u64> {
    let held = select(
        ctx.conn,
        &format!("SELECT {COLUMNS} FROM leases WHERE session_id = ?1 ORDER BY queue_no"),
        [session.as_str()],
    )?;
    end_all(ctx, &held, End::Revoked)
}

/// A desk booking took number `b.queue_no` of its session (`leased`: the desk said the number
/// came from its lease): a lease on the number ends with it — spent, when it was the desk's
/// (past its expiry too: the desk spent it before its own deadline, and the platform kept it
/// until it heard from the desk). The booking rules never give a booking another desk's
/// leased number; should such a row remain, it ends as expired. A leased booking of a number
/// no longer leased to the desk — given back, returned, or never its own — is a late spend.
pub(crate) fn booked(ctx: &mut WriteCtx<'_>, b: &Booking, device: &DeviceId, leased: bool) -> StoreResult<()> {
    let row = select(
        ctx.conn,
        &format!("SELECT {COLUMNS} FROM leases WHERE session_id = ?1 AND queue_no = ?2"),
        params![b.session_id.as_str(), b.queue_no],
    )?
    .pop();
    match row {
        Some(row) if leased && &row.device_id == device => end(ctx, &row, End::Spent),
        Some(row) => {
            end(ctx, &row, End::Expired)?;
            if leased {
                ctx.tally_lease(LeaseEvent::Late, 1);
            }
            Ok(())
        }
        None => {
            if leased {
                ctx.tally_lease(LeaseEvent::Late, 1);
            }
            Ok(())
        }
    }
}

/// A site's lease policy.
pub(crate) fn load_policy(c: &Connection, site: &SiteId) -> StoreResult<Option<LeasePolicy>> {
    let text: Option<String> = c
        .prepare_cached("SELECT policy FROM lease_policies WHERE site_id = ?1")?
        .query_row([site.as_str()], |r| r.get(0))
        .optional()?;
    Ok(text.map(|t| serde_json::from_str(&t)).transpose()?)
}

/// The enrolled, unrevoked devices of a site, in the order they enrolled.
fn site_desks(c: &Connection, site: &SiteId) -> StoreResult<Vec<DeviceId>> {
    let ids = c
        .prepare_cached("SELECT id FROM devices WHERE site_id = ?1 AND revoked_at IS NULL AND role = 'desk' ORDER BY enrolled_at, id")?
        .query_map([site.as_str()], |r| r.get::<_, String>(0))?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(ids.into_iter().map(DeviceId).collect())
}

/// Tops each of `devices` up to its share (among `desks` desks) in every open session the
/// policy leases: the session's ledger as the booking rules see it, the domain's grant, a
/// lease row and a `lease` record per number. Numbers granted.
fn top_up(
    ctx: &mut WriteCtx<'_>,
    site: &Site,
    policy: &LeasePolicy,
    devices: &[DeviceId],
    desks: u32,
) -> StoreResult<u64> {
    if devices.is_empty() || desks == 0 {
        return Ok(0);
    }
    let (first, last) = lease_dates(ctx.now, site, policy)?;
    let days = ctx
        .conn
        .prepare_cached(
            "SELECT DISTINCT department_id, date FROM sessions WHERE site_id = ?1 AND date >= ?2 AND date <= ?3 \
             ORDER BY date, department_id",
        )?
        .query_map(params![site.id.as_str(), first.to_string(), last.to_string()], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    let mut granted = 0;
    for (dept, date) in days {
        let date = rows::parse_date(&date)?;
        let states = ctx.day_states(&site.id, &DepartmentId(dept), date)?.clone();
        let mut sessions: BTreeMap<SessionId, Vec<SlotState>> = BTreeMap::new();
        for st in states {
            sessions.entry(st.session.id.clone()).or_default().push(st);
        }
        for states in sessions.values() {
            granted += top_up_session(ctx, site, policy, devices, desks, states)?;
        }
    }
    Ok(granted)
}

fn top_up_session(
    ctx: &mut WriteCtx<'_>,
    site: &Site,
    policy: &LeasePolicy,
    devices: &[DeviceId],
    desks: u32,
    states: &[SlotState],
) -> StoreResult<u64> {
    let Some(session) = states.first().map(|s| &s.session) else { return Ok(0) };
    if session.status != SessionStatus::Open {
        return Ok(0);
    }
    let slots: Vec<Slot> = states.iter().map(|s| s.slot.clone()).collect();
    let mut expiry = Vec::with_capacity(slots.len());
    for slot in &slots {
        expiry.push((slot, lease_expires_at(site, policy, session.date, slot)?));
    }
    let now = ctx.now;
    // A number is leasable while its lease would not have expired yet.
    let leasable = |n: u32| expiry.iter().any(|(slot, e)| slot.pool_of(n).is_some() && *e > now);
    let mut ledger = SessionLedger::from_states(states);
    let mut granted = 0;
    for device in devices {
        let numbers = ledger.grant(device, policy, desks, &slots, leasable);
        for n in &numbers {
            let Some((slot, expires_at)) = expiry.iter().find(|(slot, _)| slot.pool_of(*n).is_some()) else {
                return Err(StoreError::Internal(format!("granted number {n} belongs to no slot of {}", session.id)));
            };
            let lease = Lease {
                session_id: session.id.clone(),
                slot_id: slot.id.clone(),
                queue_no: *n,
                device_id: device.clone(),
                expires_at: *expires_at,
            };
            let ends = slot_ends_at(site, session.date, slot)?;
            grant(ctx, &site.id, lease, ends)?;
        }
        granted += numbers.len() as u64;
    }
    Ok(granted)
}

/// Writes one granted number: its `lease` record, its row (with the record's change-log
/// position, so the round knows whether the desk was ever sent it, and when its slot ends),
/// the desk's count, the writer's memory.
fn grant(ctx: &mut WriteCtx<'_>, site: &SiteId, lease: Lease, slot_ends_at: Timestamp) -> StoreResult<()> {
    let key = Lease::key(&lease.session_id, lease.queue_no);
    ctx.note_lease(&lease.slot_id, lease.queue_no, Some(&lease.device_id));
    count(ctx, site, &lease.device_id, [1, 0, 0, 0, 0])?;
    ctx.tally_lease(LeaseEvent::Granted, 1);
    let cursor = rows::log_change(ctx, site, "lease", &key, &Record::Lease(lease.clone()))?;
    let granted_at = ctx.now_text().to_string();
    ctx.conn
        .prepare_cached(
            "INSERT INTO leases (session_id, queue_no, site_id, slot_id, device_id, expires_at, granted_at, \
             cursor, slot_ends_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        )?
        .execute(params![
            lease.session_id.as_str(),
            lease.queue_no,
            site.as_str(),
            lease.slot_id.as_str(),
            lease.device_id.as_str(),
            lease.expires_at.as_millisecond(),
            granted_at,
            cursor as i64,
            slot_ends_at.as_millisecond(),
        ])?;
    Ok(())
}

/// The numbers leased to a device and not expired at `now`.
fn device_leases(c: &Connection, device: &DeviceId, now: Timestamp) -> StoreResult<Vec<Lease>> {
    let held = select(
        c,
        &format!("SELECT {COLUMNS} FROM leases WHERE device_id = ?1 AND expires_at > ?2 ORDER BY session_id, queue_no"),
        params![device.as_str(), now.as_millisecond()],
    )?;
    Ok(held
        .into_iter()
        .map(|r| Lease {
            session_id: r.session_id,
            slot_id: r.slot_id,
            queue_no: r.queue_no,
            device_id: r.device_id,
            expires_at: r.expires_at,
        })
        .collect())
}

/// `POST /v1/sync/leases`: the desk gives numbers back, then (with `top_up`) is topped up to
/// its share; what it holds afterwards. Leases of the site past their expiry end first, so
/// their numbers count as free.
pub(crate) fn request(ctx: &mut WriteCtx<'_>, auth: &DeviceAuth, req: &LeaseRequest) -> StoreResult<LeaseAnswer> {
    if req.device_id != auth.device_id {
        return Err(StoreError::Forbidden("a desk asks for its own leases only".into()));
    }
    let revoked: Option<Option<String>> = ctx
        .conn
        .prepare_cached("SELECT revoked_at FROM devices WHERE id = ?1 AND site_id = ?2")?
        .query_row(params![auth.device_id.as_str(), auth.site_id.as_str()], |r| r.get(0))
        .optional()?;
    if !matches!(revoked, Some(None)) {
        return Err(StoreError::Unauthorized("device revoked".into()));
    }
    let site = ctx.site(&auth.site_id)?;
    expire_site(ctx, &site.id)?;
    let mut returned = 0u32;
    for number in &req.give_back {
        let row = select(
            ctx.conn,
            &format!("SELECT {COLUMNS} FROM leases WHERE session_id = ?1 AND queue_no = ?2"),
            params![number.session_id.as_str(), number.queue_no],
        )?
        .pop();
        // Only numbers leased to this desk: anything else is left alone.
        if let Some(row) = row.filter(|r| r.device_id == auth.device_id) {
            end(ctx, &row, End::Returned)?;
            returned += 1;
        }
    }
    let mut granted = 0u64;
    if req.top_up
        && let Some(policy) = load_policy(ctx.conn, &site.id)?
    {
        let desks = site_desks(ctx.conn, &site.id)?.len() as u32;
        granted = top_up(ctx, &site, &policy, std::slice::from_ref(&auth.device_id), desks)?;
    }
    let leases = device_leases(ctx.conn, &auth.device_id, ctx.now)?;
    // The answer names the desk's leases: they count as sent, like a pull page's.
    ctx.conn
        .prepare_cached(
            "UPDATE devices SET served_cursor = MAX(served_cursor, \
             COALESCE((SELECT MAX(cursor) FROM leases WHERE device_id = ?1), 0)) WHERE id = ?1",
        )?
        .execute([auth.device_id.as_str()])?;
    Ok(LeaseAnswer { granted: u32::try_from(granted).unwrap_or(u32::MAX), returned, leases, server_now: ctx.now })
}

/// The platform's round: in every site with a policy, leases past their expiry end, then
/// every enrolled, unrevoked desk is topped up to its share.
pub(crate) fn round(ctx: &mut WriteCtx<'_>) -> StoreResult<LeaseRound> {
    let sites = ctx
        .conn
        .prepare_cached("SELECT site_id, policy FROM lease_policies ORDER BY site_id")?
        .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?
        .collect::<Result<Vec<_>, _>>()?;
    let mut out = LeaseRound::default();
    for (site_id, policy) in sites {
        let policy: LeasePolicy = serde_json::from_str(&policy)?;
        let site = ctx.site(&SiteId(site_id))?;
        out.expired += expire_site(ctx, &site.id)?;
        let desks = site_desks(ctx.conn, &site.id)?;
        out.granted += top_up(ctx, &site, &policy, &desks, desks.len() as u32)?;
    }
    Ok(out)
}

/// Sets (validated) or clears a site's policy; clearing takes back every lease of the site.
/// Desks learn the policy from a `lease_policy` record.
pub(crate) fn set_policy(
    ctx: &mut WriteCtx<'_>,
    site: &SiteId,
    policy: Option<LeasePolicy>,
    actor: &str,
) -> StoreResult<Option<LeasePolicy>> {
    if let Some(p) = &policy {
        p.validate().map_err(|e| StoreError::invalid("invalid_policy", e.to_string()))?;
    }
    let site = ctx.site(site)?;
    let detail = match &policy {
        Some(p) => {
            let text = serde_json::to_string(p)?;
            ctx.conn
                .prepare_cached(
                    "INSERT INTO lease_policies (site_id, policy, updated_at) VALUES (?1, ?2, ?3) \
                     ON CONFLICT (site_id) DO UPDATE SET policy = excluded.policy, updated_at = excluded.updated_at",
                )?
                .execute(params![site.id.as_str(), text, ctx.now_text()])?;
            text
        }
        None => {
            ctx.conn.prepare_cached("DELETE FROM lease_policies WHERE site_id = ?1")?.execute([site.id.as_str()])?;
            let held = select(
                ctx.conn,
                &format!("SELECT {COLUMNS} FROM leases WHERE site_id = ?1 ORDER BY session_id, queue_no"),
                [site.id.as_str()],
            )?;
            let ended = end_all(ctx, &held, End::Revoked)?;
            serde_json::json!({"policy": null, "leases_ended": ended}).to_string()
        }
    };
    rows::log_change(
        ctx,
        &site.id,
        "lease_policy",
        site.id.as_str(),
        &Record::LeasePolicy { site_id: site.id.clone(), policy },
    )?;
    let action = if policy.is_some() { "set_lease_policy" } else { "clear_lease_policy" };
    audit::append(ctx, site.id.as_str(), actor, action, &detail)?;
    Ok(policy)
}

/// A site's policy and each desk's leases at `now` (desks revoked since are listed while
/// they have lease history).
pub(crate) fn site_leases(c: &Connection, site: &SiteId, now: Timestamp) -> StoreResult<SiteLeases> {
    if rows::load_site(c, site)?.is_none() {
        return Err(StoreError::NotFound(format!("site {site}")));
    }
    let policy = load_policy(c, site)?;
    let desks = c
        .prepare_cached(
            "SELECT d.id, d.name, COALESCE(n.granted, 0), COALESCE(n.spent, 0), COALESCE(n.returned, 0), \
             COALESCE(n.expired, 0), COALESCE(n.revoked, 0) FROM devices d \
             LEFT JOIN lease_counts n ON n.site_id = d.site_id AND n.device_id = d.id \
             WHERE d.site_id = ?1 AND d.role = 'desk' AND (d.revoked_at IS NULL OR n.device_id IS NOT NULL) ORDER BY d.enrolled_at, d.id",
        )?
        .query_map([site.as_str()], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                [r.get::<_, i64>(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?],
            ))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    let soon = now.checked_add(SignedDuration::from_hours(1)).unwrap_or(now);
    let mut out = Vec::with_capacity(desks.len());
    for (id, name, [granted, spent, returned, expired, revoked]) in desks {
        // Held: every number still leased to the desk, an expired one it may have spent
        // included; expiring and next: those it may still spend.
        let (held, expiring, next): (i64, i64, Option<i64>) = c
            .prepare_cached(
                "SELECT COUNT(*), COALESCE(SUM(expires_at > ?3 AND expires_at <= ?2), 0), \
                 MIN(CASE WHEN expires_at > ?3 THEN expires_at END) FROM leases WHERE device_id = ?1",
            )?
            .query_row(params![id, soon.as_millisecond(), now.as_millisecond()], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })?;
        out.push(DeskLeases {
            device_id: DeviceId(id),
            name,
            held: held as u32,
            expiring: expiring as u32,
            next_expiry: next.map(rows::millis).transpose()?,
            granted: granted as u64,
            spent: spent as u64,
            returned: returned as u64,
            expired: expired as u64,
            revoked: revoked as u64,
        });
    }
    Ok(SiteLeases { site_id: site.clone(), policy, desks: out })
}
