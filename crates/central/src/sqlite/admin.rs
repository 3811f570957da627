//! Admin writes: enrollment, devices, sites, departments, providers, sessions, the demo seed.
//! Every change is audited in its own transaction.

use frontdesk_domain::schedule::{Department, DeviceId, Provider, Session, SessionId, Site, SiteId, expand_templates};
use frontdesk_protocol::admin::{GenerateSessions, GeneratedSessions};
use frontdesk_protocol::enroll::{DeviceRole, EnrollCode, EnrollResponse};
use frontdesk_protocol::sync::{Outcome, Record};
use jiff::{SignedDuration, Timestamp};
use rusqlite::{OptionalExtension, params};

use super::{WriteCtx, audit, leases, push, rows};
use crate::error::{StoreError, StoreResult};
use crate::secret;

/// A device synced: `pulled` is the change-log position a pull page it was sent ends at;
/// `clean_at` the time of a pull it made with nothing pending in its outbox (taken when the
/// request arrived, never later: a lease may return only if the desk could not spend it
/// after that moment).
pub(crate) fn touch_device(
    ctx: &mut WriteCtx<'_>,
    device: &DeviceId,
    pulled: Option<u64>,
    clean_at: Option<jiff::Timestamp>,
) -> StoreResult<()> {
    match pulled {
        Some(c) => ctx
            .conn
            .prepare_cached(
                "UPDATE devices SET last_sync_at = ?2, last_pull_cursor = MAX(last_pull_cursor, ?3), \
                 served_cursor = MAX(served_cursor, ?3), \
                 clean_pull_at = MAX(COALESCE(clean_pull_at, 0), COALESCE(?4, 0)) WHERE id = ?1",
            )?
            .execute(params![device.as_str(), ctx.now.to_string(), c as i64, clean_at.map(|t| t.as_millisecond())])?,
        None => ctx
            .conn
            .prepare_cached("UPDATE devices SET last_sync_at = ?2 WHERE id = ?1")?
            .execute(params![device.as_str(), ctx.now.to_string()])?,
    };
    Ok(())
}

pub(crate) fn create_enroll_code(
    ctx: &mut WriteCtx<'_>,
    site: &SiteId,
    ttl_hours: u32,
    role: DeviceRole,
    actor: &str,
) -> StoreResult<EnrollCode> {
    ctx.site(site)?;
    let code = secret::new_enroll_code()?;
    let ttl = SignedDuration::from_hours(i64::from(ttl_hours.clamp(1, 24 * 30)));
    let expires_at = ctx.now.checked_add(ttl).map_err(|e| StoreError::Internal(format!("expiry: {e}")))?;
    ctx.conn
        .prepare_cached(
            "INSERT INTO enroll_codes (code_hash, site_id, created_at, expires_at, role) VALUES (?1, ?2, ?3, ?4, ?5)",
        )?
        .execute(params![
            secret::hash_secret(&secret::normalize_enroll_code(&code)),
            site.as_str(),
            ctx.now.to_string(),
            expires_at.to_string(),
            role.code()
        ])?;
    let detail = serde_json::json!({"expires_at": expires_at, "role": role});
    audit::append(ctx, site.as_str(), actor, "enroll_code_issued", &detail.to_string())?;
    Ok(EnrollCode { code, site_id: site.clone(), expires_at, role })
}

pub(crate) fn enroll(ctx: &mut WriteCtx<'_>, code: &str, name: &str) -> StoreResult<EnrollResponse> {
    let hash = secret::hash_secret(&secret::normalize_enroll_code(code));
    let row: Option<(String, String, Option<String>, String)> = ctx
        .conn
        .prepare_cached("SELECT site_id, expires_at, used_at, role FROM enroll_codes WHERE code_hash = ?1")?
        .query_row([&hash], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .optional()?;
    let Some((site_id, expires_at, used_at, role)) = row else {
        return Err(StoreError::Unauthorized("unknown enrollment code".into()));
    };
    if used_at.is_some() {
        return Err(StoreError::Forbidden("this enrollment code was already used".into()));
    }
    let role = role_of(&role)?;
    let expires: Timestamp =
        expires_at.parse().map_err(|e| StoreError::Internal(format!("stored expiry {expires_at}: {e}")))?;
    if ctx.now >= expires {
        return Err(StoreError::Forbidden("this enrollment code has expired".into()));
    }
    let site = ctx.site(&SiteId(site_id))?;
    let device_id = DeviceId(uuid::Uuid::now_v7().to_string());
    let token = secret::new_token()?;
    let name =
        if name.trim().is_empty() { format!("desk {}", &device_id.as_str()[..8]) } else { name.trim().to_string() };
    ctx.conn
        .prepare_cached(
            "INSERT INTO devices (id, site_id, name, token_hash, enrolled_at, role) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?
        .execute(params![
            device_id.as_str(),
            site.id.as_str(),
            name,
            secret::hash_secret(&token),
            ctx.now.to_string(),
            role.code()
        ])?;
    ctx.conn
        .prepare_cached("UPDATE enroll_codes SET used_at = ?2, device_id = ?3 WHERE code_hash = ?1")?
        .execute(params![hash, ctx.now.to_string(), device_id.as_str()])?;
    let detail = serde_json::json!({"device_id": device_id, "name": name, "role": role});
    audit::append(ctx, site.id.as_str(), "enroll", "device_enrolled", &detail.to_string())?;
    Ok(EnrollResponse { device_id, site, token, role })
}

/// A stored role code.
pub(crate) fn role_of(code: &str) -> StoreResult<DeviceRole> {
    DeviceRole::parse(code).ok_or_else(|| StoreError::Internal(format!("unknown device role {code}")))
}

pub(crate) fn revoke_device(ctx: &mut WriteCtx<'_>, device: &DeviceId, actor: &str) -> StoreResult<()> {
    let site: Option<String> = ctx
        .conn
        .prepare_cached("SELECT site_id FROM devices WHERE id = ?1")?
        .query_row([device.as_str()], |r| r.get(0))
        .optional()?;
    let Some(site) = site else { return Err(StoreError::NotFound(format!("device {device}"))) };
    ctx.conn
        .prepare_cached("UPDATE devices SET revoked_at = COALESCE(revoked_at, ?2) WHERE id = ?1")?
        .execute(params![device.as_str(), ctx.now.to_string()])?;
    // Its capacity leases are taken back with it.
    let leases_ended = leases::end_device(ctx, device)?;
    let detail = serde_json::json!({"device_id": device, "leases_ended": leases_ended});
    audit::append(ctx, &site, actor, "device_revoked", &detail.to_string())?;
    Ok(())
}

fn check_zone(tz: &str) -> StoreResult<()> {
    jiff::tz::TimeZone::get(tz)
        .map(|_| ())
        .map_err(|_| StoreError::invalid("timezone_invalid", format!("{tz} is not an IANA time zone")))
}

pub(crate) fn put_site(ctx: &mut WriteCtx<'_>, site: Site) -> StoreResult<Site> {
    if site.id.as_str().trim().is_empty() || site.name.trim().is_empty() {
        return Err(StoreError::invalid("site_invalid", "A site needs an id and a name"));
    }
    check_zone(&site.timezone)?;
    ctx.conn
        .prepare_cached(
            "INSERT INTO sites (id, name, timezone) VALUES (?1, ?2, ?3) \
             ON CONFLICT (id) DO UPDATE SET name = excluded.name, timezone = excluded.timezone",
        )?
        .execute(params![site.id.as_str(), site.name, site.timezone])?;
    rows::log_change(ctx, &site.id, "site", site.id.as_str(), &Record::Site(site.clone()))?;
    ctx.forget_site(&site.id);
    audit::append(ctx, site.id.as_str(), "admin", "put_site", &serde_json::to_string(&site)?)?;
    Ok(site)
}

pub(crate) fn put_department(ctx: &mut WriteCtx<'_>, d: Department) -> StoreResult<Department> {
    ctx.site(&d.site_id)?;
    if d.code.trim().is_empty() || d.name.trim().is_empty() || d.id.as_str().is_empty() {
        return Err(StoreError::invalid("department_invalid", "A department needs an id, a code and a name"));
    }
    if let Some(existing) = rows::load_department(ctx.conn, &d.id)?
        && existing.site_id != d.site_id
    {
        return Err(StoreError::Forbidden(format!("department {} belongs to another site", d.id)));
    }
    let mut d = d;
    d.code = d.code.trim().to_ascii_uppercase();
    ctx.conn
        .prepare_cached(
            "INSERT INTO departments (id, site_id, code, name, name_en) VALUES (?1, ?2, ?3, ?4, ?5) \
             ON CONFLICT (id) DO UPDATE SET code = excluded.code, name = excluded.name, name_en = excluded.name_en",
        )?
        .execute(params![d.id.as_str(), d.site_id.as_str(), d.code, d.name, d.name_en])
        .map_err(|e| match e {
            rusqlite::Error::SqliteFailure(f, _) if f.code == rusqlite::ErrorCode::ConstraintViolation => {
                StoreError::invalid("department_code_taken", "Another department of the site has this code")
            }
            e => e.into(),
        })?;
    rows::log_change(ctx, &d.site_id, "department", d.id.as_str(), &Record::Department(d.clone()))?;
    audit::append(ctx, d.site_id.as_str(), "admin", "put_department", &serde_json::to_string(&d)?)?;
    Ok(d)
}

pub(crate) fn put_provider(ctx: &mut WriteCtx<'_>, p: Provider) -> StoreResult<Provider> {
    ctx.site(&p.site_id)?;
    match rows::load_department(ctx.conn, &p.department_id)? {
        Some(d) if d.site_id == p.site_id => {}
        _ => return Err(StoreError::NotFound(format!("department {} in site {}", p.department_id, p.site_id))),
    }
    if let Some(existing) = rows::load_provider(ctx.conn, p.id.as_str())?
        && existing.site_id != p.site_id
    {
        return Err(StoreError::Forbidden(format!("provider {} belongs to another site", p.id)));
    }
    if p.id.as_str().is_empty() || p.name.trim().is_empty() || p.fee_fen < 0 {
        return Err(StoreError::invalid("provider_invalid", "A provider needs an id, a name and a fee ≥ 0"));
    }
    ctx.conn
        .prepare_cached(
            "INSERT INTO providers (id, site_id, department_id, record) VALUES (?1, ?2, ?3, ?4) \
             ON CONFLICT (id) DO UPDATE SET department_id = excluded.department_id, record = excluded.record",
        )?
        .execute(params![p.id.as_str(), p.site_id.as_str(), p.department_id.as_str(), serde_json::to_string(&p)?])?;
    rows::log_change(ctx, &p.site_id, "provider", p.id.as_str(), &Record::Provider(p.clone()))?;
    audit::append(ctx, p.site_id.as_str(), "admin", "put_provider", &serde_json::to_string(&p)?)?;
    Ok(p)
}

fn insert_session_with_slots(
    ctx: &mut WriteCtx<'_>,
    session: &Session,
    slots: &[frontdesk_domain::schedule::Slot],
) -> StoreResult<bool> {
    if rows::load_session(ctx.conn, &session.id)?.is_some() {
        return Ok(false);
    }
    rows::save_session(ctx, session)?;
    for s in slots {
        rows::insert_slot(ctx, session, s)?;
    }
    Ok(true)
}

pub(crate) fn generate_sessions(
    ctx: &mut WriteCtx<'_>,
    site: &SiteId,
    req: &GenerateSessions,
) -> StoreResult<GeneratedSessions> {
    ctx.site(site)?;
    if req.days == 0 || req.days > 366 {
        return Err(StoreError::invalid("days_invalid", "days must be between 1 and 366"));
    }
    let provider = rows::load_provider(ctx.conn, req.provider_id.as_str())?
        .filter(|p| &p.site_id == site)
        .ok_or_else(|| StoreError::NotFound(format!("provider {} in site {site}", req.provider_id)))?;
    let laid_out = expand_templates(&provider, &req.templates, req.from, req.days)
        .map_err(|e| StoreError::invalid(e.code(), e.to_string()))?;
    let mut out = GeneratedSessions { sessions_created: 0, slots_created: 0, sessions_existing: 0 };
    for (session, slots) in &laid_out {
        if insert_session_with_slots(ctx, session, slots)? {
            out.sessions_created += 1;
            out.slots_created += slots.len() as u32;
        } else {
            out.sessions_existing += 1;
        }
    }
    let detail = serde_json::json!({"request": req, "result": out});
    audit::append(ctx, site.as_str(), "admin", "generate_sessions", &detail.to_string())?;
    Ok(out)
}

pub(crate) fn set_session_suspended(
    ctx: &mut WriteCtx<'_>,
    id: &SessionId,
    reason: Option<String>,
    actor: &str,
) -> StoreResult<Session> {
    let session = rows::load_session(ctx.conn, id)?.ok_or_else(|| StoreError::NotFound(format!("session {id}")))?;
    let site = ctx.site(&session.site_id)?;
    let action = if reason.is_some() { "suspend_session" } else { "resume_session" };
    match push::set_suspended(ctx, &site, id, reason)? {
        Outcome::Applied { .. } => {}
        Outcome::Conflict(c) => {
            return Err(StoreError::Refused(frontdesk_protocol::online::OnlineRefusal {
                reason: c.reason,
                message: c.message,
                suggestions: vec![],
            }));
        }
        _ => return Err(StoreError::Internal("unexpected outcome".into())),
    }
    let after = rows::load_session(ctx.conn, id)?.ok_or_else(|| StoreError::NotFound(format!("session {id}")))?;
    audit::append(ctx, site.id.as_str(), actor, action, &serde_json::to_string(&after)?)?;
    Ok(after)
}

/// Deletes a session without bookings and its slots; the change log gets tombstones in their
/// place, so desks delete them too (on catch-up and in snapshots alike).
pub(crate) fn delete_session(ctx: &mut WriteCtx<'_>, id: &SessionId) -> StoreResult<()> {
    let session = rows::load_session(ctx.conn, id)?.ok_or_else(|| StoreError::NotFound(format!("session {id}")))?;
    let bookings: i64 = ctx
        .conn
        .prepare_cached("SELECT COUNT(*) FROM bookings WHERE session_id = ?1")?
        .query_row([id.as_str()], |r| r.get(0))?;
    if bookings > 0 {
        return Err(StoreError::Refused(frontdesk_protocol::online::OnlineRefusal {
            reason: "session_has_bookings".into(),
            message: format!("session {id} has bookings; suspend it instead"),
            suggestions: vec![],
        }));
    }
    leases::end_session(ctx, id)?;
    for slot in rows::session_slots(ctx.conn, id)? {
        let tomb = Record::Tombstone { entity: "slot".into(), id: slot.id.to_string() };
        rows::log_change(ctx, &session.site_id, "slot", slot.id.as_str(), &tomb)?;
    }
    ctx.conn.prepare_cached("DELETE FROM slots WHERE session_id = ?1")?.execute([id.as_str()])?;
    ctx.conn.prepare_cached("DELETE FROM sessions WHERE id = ?1")?.execute([id.as_str()])?;
    let tomb = Record::Tombstone { entity: "session".into(), id: id.to_string() };
    rows::log_change(ctx, &session.site_id, "session", id.as_str(), &tomb)?;
    ctx.forget_day(&(session.site_id.clone(), session.department_id.clone(), session.date));
    audit::append(ctx, session.site_id.as_str(), "admin", "delete_session", &serde_json::to_string(&session)?)?;
    Ok(())
}

/// Re-splits a session's slots between the pools. Refused (`pool_change_conflicts`) when a
/// number already held would end up in the other channel's pool.
pub(crate) fn set_session_pools(
    ctx: &mut WriteCtx<'_>,
    id: &SessionId,
    desk_per_slot: u32,
) -> StoreResult<Vec<frontdesk_domain::schedule::Slot>> {
    let session = rows::load_session(ctx.conn, id)?.ok_or_else(|| StoreError::NotFound(format!("session {id}")))?;
    let held = rows::session_held(ctx.conn, id)?;
    let slots = crate::outcome::resplit_pools(rows::session_slots(ctx.conn, id)?, &held, desk_per_slot)?;
    // Leased numbers may change pool: the session's leases are taken back (the next round or
    // request leases the new desk pool).
    leases::end_session(ctx, id)?;
    for slot in &slots {
        rows::update_slot(ctx, &session, slot)?;
    }
    let detail = serde_json::json!({"session_id": id, "desk_per_slot": desk_per_slot});
    audit::append(ctx, session.site_id.as_str(), "admin", "set_session_pools", &detail.to_string())?;
    Ok(slots)
}

/// Seeds the demo clinic: today (in the site's zone) and `days - 1` days after. Rows that
/// exist are kept, so restarting a demo keeps its bookings.
pub(crate) fn seed_demo(ctx: &mut WriteCtx<'_>, site_id: &SiteId, days: u16) -> StoreResult<()> {
    let probe = Site { id: site_id.clone(), name: String::new(), timezone: "Asia/Shanghai".into() };
    let today = crate::outcome::site_now(ctx.now, &probe)?.date();
    let clinic = frontdesk_domain::demo::demo_clinic(site_id.as_str(), today, days)
        .map_err(|e| StoreError::Internal(format!("demo clinic: {e}")))?;
    if rows::load_site(ctx.conn, &clinic.site.id)?.is_none() {
        put_site(ctx, clinic.site.clone())?;
    }
    for d in clinic.departments {
        if rows::load_department(ctx.conn, &d.id)?.is_none() {
            put_department(ctx, d)?;
        }
    }
    for p in clinic.providers {
        if rows::load_provider(ctx.conn, p.id.as_str())?.is_none() {
            put_provider(ctx, p)?;
        }
    }
    let mut created = 0;
    for (session, slots) in &clinic.sessions {
        if insert_session_with_slots(ctx, session, slots)? {
            created += 1;
        }
    }
    let detail = serde_json::json!({"from": today, "days": days, "sessions_created": created});
    audit::append(ctx, site_id.as_str(), "demo", "seed_demo", &detail.to_string())?;
    Ok(())
}
