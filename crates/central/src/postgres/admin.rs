//! Admin writes: enrollment, devices, sites, departments, providers, sessions, the demo seed.
//! Every change is audited in its own transaction.

use frontdesk_domain::schedule::{
    Department, DeviceId, Provider, Session, SessionId, Site, SiteId, Slot, expand_templates,
};
use frontdesk_protocol::admin::{GenerateSessions, GeneratedSessions};
use frontdesk_protocol::enroll::{DeviceRole, EnrollCode, EnrollResponse};
use frontdesk_protocol::online::OnlineRefusal;
use frontdesk_protocol::sync::{Outcome, Record};
use jiff::{SignedDuration, Timestamp};

use super::lease::{self, Scope};
use super::rows::{self, q1, x};
use super::{Ctx, Fail, R, audit, push};
use crate::error::StoreError;
use crate::outcome::{LeaseEvent, site_now};
use crate::secret;

fn store(e: StoreError) -> Fail {
    Fail::Store(e)
}

fn refused(reason: &str, message: String) -> Fail {
    store(StoreError::Refused(OnlineRefusal { reason: reason.into(), message, suggestions: vec![] }))
}

async fn site(ctx: &Ctx, id: &SiteId) -> R<Site> {
    rows::load_site(&ctx.conn, id).await?.ok_or_else(|| store(StoreError::NotFound(format!("site {id}"))))
}

/// A device pulled: `pulled` is where the page it was sent ends, `clean_at` the arrival of a
/// pull it made with nothing pending in its outbox (for the return of its expired leases).
pub(crate) async fn touch_device(ctx: &mut Ctx, device: &DeviceId, pulled: u64, clean_at: Option<Timestamp>) -> R<()> {
    x(
        &ctx.conn,
        "UPDATE devices SET last_sync_at = $2, last_pull_cursor = GREATEST(last_pull_cursor, $3) WHERE id = $1",
        &[&device.as_str(), &ctx.now, &(pulled as i64)],
    )
    .await?;
    lease::receipt(&ctx.conn, device, pulled, clean_at).await
}

pub(crate) async fn create_enroll_code(
    ctx: &mut Ctx,
    site_id: &SiteId,
    ttl_hours: u32,
    role: DeviceRole,
    actor: &str,
) -> R<EnrollCode> {
    site(ctx, site_id).await?;
    let code = secret::new_enroll_code()?;
    let ttl = SignedDuration::from_hours(i64::from(ttl_hours.clamp(1, 24 * 30)));
    let expires_at: Timestamp =
        ctx.now.checked_add(ttl).map_err(|e| store(StoreError::Internal(format!("expiry: {e}"))))?;
    x(
        &ctx.conn,
        "INSERT INTO enroll_codes (code_hash, site_id, created_at, expires_at, role) VALUES ($1, $2, $3, $4, $5)",
        &[
            &secret::hash_secret(&secret::normalize_enroll_code(&code)),
            &site_id.as_str(),
            &ctx.now,
            &expires_at,
            &role.code(),
        ],
    )
    .await?;
    let detail = serde_json::json!({"expires_at": expires_at, "role": role});
    audit::append(ctx, site_id.as_str(), actor, "enroll_code_issued", &detail.to_string()).await?;
    Ok(EnrollCode { code, site_id: site_id.clone(), expires_at, role })
}

pub(crate) async fn enroll(ctx: &mut Ctx, code: &str, name: &str) -> R<EnrollResponse> {
    let hash = secret::hash_secret(&secret::normalize_enroll_code(code));
    // Locked: one code, one device, even when two processes take it at once.
    let row = q1(
        &ctx.conn,
        "SELECT site_id, expires_at, used_at IS NOT NULL, role FROM enroll_codes WHERE code_hash = $1 FOR UPDATE",
        &[&hash],
    )
    .await?;
    let Some(row) = row else {
        return Err(store(StoreError::Unauthorized("unknown enrollment code".into())));
    };
    let (site_id, expires, used): (String, Timestamp, bool) = (row.get(0), row.get(1), row.get(2));
    let role = role_of(row.get(3))?;
    if used {
        return Err(store(StoreError::Forbidden("this enrollment code was already used".into())));
    }
    if ctx.now >= expires {
        return Err(store(StoreError::Forbidden("this enrollment code has expired".into())));
    }
    let site = site(ctx, &SiteId(site_id)).await?;
    let device_id = DeviceId(uuid::Uuid::now_v7().to_string());
    let token = secret::new_token()?;
    let name =
        if name.trim().is_empty() { format!("desk {}", &device_id.as_str()[..8]) } else { name.trim().to_string() };
    x(
        &ctx.conn,
        "INSERT INTO devices (id, site_id, name, token_hash, enrolled_at, role) VALUES ($1, $2, $3, $4, $5, $6)",
        &[&device_id.as_str(), &site.id.as_str(), &name, &secret::hash_secret(&token), &ctx.now, &role.code()],
    )
    .await?;
    x(
        &ctx.conn,
        "UPDATE enroll_codes SET used_at = $2, device_id = $3 WHERE code_hash = $1",
        &[&hash, &ctx.now, &device_id.as_str()],
    )
    .await?;
    let detail = serde_json::json!({"device_id": device_id, "name": name, "role": role});
    audit::append(ctx, site.id.as_str(), "enroll", "device_enrolled", &detail.to_string()).await?;
    Ok(EnrollResponse { device_id, site, token, role })
}

/// A stored role code.
pub(crate) fn role_of(code: &str) -> R<DeviceRole> {
    DeviceRole::parse(code).ok_or_else(|| store(StoreError::Internal(format!("unknown device role {code}"))))
}

pub(crate) async fn revoke_device(ctx: &mut Ctx, device: &DeviceId, actor: &str) -> R<()> {
    let Some(row) = q1(&ctx.conn, "SELECT site_id FROM devices WHERE id = $1 FOR UPDATE", &[&device.as_str()]).await?
    else {
        return Err(store(StoreError::NotFound(format!("device {device}"))));
    };
    let site: String = row.get(0);
    x(
        &ctx.conn,
        "UPDATE devices SET revoked_at = COALESCE(revoked_at, $2) WHERE id = $1",
        &[&device.as_str(), &ctx.now],
    )
    .await?;
    // Its leased numbers are taken back with it, in the same transaction.
    let leases_ended = lease::end(ctx, Scope::Device(device), LeaseEvent::Revoked).await?;
    let detail = serde_json::json!({"device_id": device, "leases_ended": leases_ended});
    audit::append(ctx, &site, actor, "device_revoked", &detail.to_string()).await?;
    Ok(())
}

fn check_zone(tz: &str) -> R<()> {
    jiff::tz::TimeZone::get(tz)
        .map(|_| ())
        .map_err(|_| store(StoreError::invalid("timezone_invalid", format!("{tz} is not an IANA time zone"))))
}

pub(crate) async fn put_site(ctx: &mut Ctx, site: &Site) -> R<Site> {
    if site.id.as_str().trim().is_empty() || site.name.trim().is_empty() {
        return Err(store(StoreError::invalid("site_invalid", "A site needs an id and a name")));
    }
    check_zone(&site.timezone)?;
    x(
        &ctx.conn,
        "INSERT INTO sites (id, name, timezone) VALUES ($1, $2, $3) \
         ON CONFLICT (id) DO UPDATE SET name = excluded.name, timezone = excluded.timezone",
        &[&site.id.as_str(), &site.name, &site.timezone],
    )
    .await?;
    rows::log_change(ctx, &site.id, "site", site.id.as_str(), &Record::Site(site.clone())).await?;
    audit::append(ctx, site.id.as_str(), "admin", "put_site", &serde_json::to_string(site)?).await?;
    Ok(site.clone())
}

pub(crate) async fn put_department(ctx: &mut Ctx, d: &Department) -> R<Department> {
    site(ctx, &d.site_id).await?;
    if d.code.trim().is_empty() || d.name.trim().is_empty() || d.id.as_str().is_empty() {
        return Err(store(StoreError::invalid("department_invalid", "A department needs an id, a code and a name")));
    }
    if let Some(existing) = rows::load_department(&ctx.conn, &d.id).await?
        && existing.site_id != d.site_id
    {
        return Err(store(StoreError::Forbidden(format!("department {} belongs to another site", d.id))));
    }
    let mut d = d.clone();
    d.code = d.code.trim().to_ascii_uppercase();
    if let Some(other) = rows::load_department_by_code(&ctx.conn, &d.site_id, &d.code).await?
        && other.id != d.id
    {
        return Err(store(StoreError::invalid(
            "department_code_taken",
            "Another department of the site has this code",
        )));
    }
    x(
        &ctx.conn,
        "INSERT INTO departments (id, site_id, code, name, name_en) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (id) DO UPDATE SET code = excluded.code, name = excluded.name, name_en = excluded.name_en",
        &[&d.id.as_str(), &d.site_id.as_str(), &d.code, &d.name, &d.name_en],
    )
    .await?;
    rows::log_change(ctx, &d.site_id, "department", d.id.as_str(), &Record::Department(d.clone())).await?;
    audit::append(ctx, d.site_id.as_str(), "admin", "put_department", &serde_json::to_string(&d)?).await?;
    Ok(d)
}

pub(crate) async fn put_provider(ctx: &mut Ctx, p: &Provider) -> R<Provider> {
    site(ctx, &p.site_id).await?;
    match rows::load_department(&ctx.conn, &p.department_id).await? {
        Some(d) if d.site_id == p.site_id => {}
        _ => {
            return Err(store(StoreError::NotFound(format!("department {} in site {}", p.department_id, p.site_id))));
        }
    }
    if let Some(existing) = rows::load_provider(&ctx.conn, p.id.as_str()).await?
        && existing.site_id != p.site_id
    {
        return Err(store(StoreError::Forbidden(format!("provider {} belongs to another site", p.id))));
    }
    if p.id.as_str().is_empty() || p.name.trim().is_empty() || p.fee_fen < 0 {
        return Err(store(StoreError::invalid("provider_invalid", "A provider needs an id, a name and a fee ≥ 0")));
    }
    x(
        &ctx.conn,
        "INSERT INTO providers (id, site_id, department_id, record) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (id) DO UPDATE SET department_id = excluded.department_id, record = excluded.record",
        &[&p.id.as_str(), &p.site_id.as_str(), &p.department_id.as_str(), &serde_json::to_string(p)?],
    )
    .await?;
    rows::log_change(ctx, &p.site_id, "provider", p.id.as_str(), &Record::Provider(p.clone())).await?;
    audit::append(ctx, p.site_id.as_str(), "admin", "put_provider", &serde_json::to_string(p)?).await?;
    Ok(p.clone())
}

async fn insert_session_with_slots(ctx: &mut Ctx, session: &Session, slots: &[Slot]) -> R<bool> {
    if rows::load_session(&ctx.conn, &session.id).await?.is_some() {
        return Ok(false);
    }
    rows::save_session(ctx, session).await?;
    for s in slots {
        rows::insert_slot(ctx, session, s).await?;
    }
    Ok(true)
}

pub(crate) async fn generate_sessions(ctx: &mut Ctx, site_id: &SiteId, req: &GenerateSessions) -> R<GeneratedSessions> {
    site(ctx, site_id).await?;
    if req.days == 0 || req.days > 366 {
        return Err(store(StoreError::invalid("days_invalid", "days must be between 1 and 366")));
    }
    let provider = rows::load_provider(&ctx.conn, req.provider_id.as_str())
        .await?
        .filter(|p| &p.site_id == site_id)
        .ok_or_else(|| store(StoreError::NotFound(format!("provider {} in site {site_id}", req.provider_id))))?;
    let laid_out = expand_templates(&provider, &req.templates, req.from, req.days)
        .map_err(|e| store(StoreError::invalid(e.code(), e.to_string())))?;
    let mut out = GeneratedSessions { sessions_created: 0, slots_created: 0, sessions_existing: 0 };
    for (session, slots) in &laid_out {
        if insert_session_with_slots(ctx, session, slots).await? {
            out.sessions_created += 1;
            out.slots_created += slots.len() as u32;
        } else {
            out.sessions_existing += 1;
        }
    }
    let detail = serde_json::json!({"request": req, "result": out});
    audit::append(ctx, site_id.as_str(), "admin", "generate_sessions", &detail.to_string()).await?;
    Ok(out)
}

pub(crate) async fn set_session_suspended(
    ctx: &mut Ctx,
    id: &SessionId,
    reason: Option<String>,
    actor: &str,
) -> R<Session> {
    let session =
        rows::load_session(&ctx.conn, id).await?.ok_or_else(|| store(StoreError::NotFound(format!("session {id}"))))?;
    let site = site(ctx, &session.site_id).await?;
    let action = if reason.is_some() { "suspend_session" } else { "resume_session" };
    match push::set_suspended(ctx, &site, id, reason).await? {
        Outcome::Applied { .. } => {}
        Outcome::Conflict(c) => return Err(refused(&c.reason, c.message)),
        _ => return Err(store(StoreError::Internal("unexpected outcome".into()))),
    }
    let after =
        rows::load_session(&ctx.conn, id).await?.ok_or_else(|| store(StoreError::NotFound(format!("session {id}"))))?;
    audit::append(ctx, site.id.as_str(), actor, action, &serde_json::to_string(&after)?).await?;
    Ok(after)
}

/// Deletes a session without bookings and its slots; the change log gets tombstones in their
/// place, so desks delete them too.
pub(crate) async fn delete_session(ctx: &mut Ctx, id: &SessionId) -> R<()> {
    let row = q1(&ctx.conn, "SELECT record FROM sessions WHERE id = $1 FOR UPDATE", &[&id.as_str()]).await?;
    let session: Session = match row {
        Some(r) => serde_json::from_str(r.get(0))?,
        None => return Err(store(StoreError::NotFound(format!("session {id}")))),
    };
    let bookings: i64 = q1(&ctx.conn, "SELECT COUNT(*) FROM bookings WHERE session_id = $1", &[&id.as_str()])
        .await?
        .map_or(0, |r| r.get(0));
    if bookings > 0 {
        return Err(refused("session_has_bookings", format!("session {id} has bookings; suspend it instead")));
    }
    lease::end(ctx, Scope::Session(id), LeaseEvent::Revoked).await?;
    for slot in rows::session_slots(&ctx.conn, id).await? {
        let tomb = Record::Tombstone { entity: "slot".into(), id: slot.id.to_string() };
        rows::log_change(ctx, &session.site_id, "slot", slot.id.as_str(), &tomb).await?;
    }
    x(&ctx.conn, "DELETE FROM numbers WHERE session_id = $1", &[&id.as_str()]).await?;
    x(&ctx.conn, "DELETE FROM slots WHERE session_id = $1", &[&id.as_str()]).await?;
    x(&ctx.conn, "DELETE FROM sessions WHERE id = $1", &[&id.as_str()]).await?;
    let tomb = Record::Tombstone { entity: "session".into(), id: id.to_string() };
    rows::log_change(ctx, &session.site_id, "session", id.as_str(), &tomb).await?;
    audit::append(ctx, session.site_id.as_str(), "admin", "delete_session", &serde_json::to_string(&session)?).await?;
    Ok(())
}

/// Re-splits a session's slots between the pools. Refused (`pool_change_conflicts`) when a
/// number already held would end up in the other channel's pool.
pub(crate) async fn set_session_pools(ctx: &mut Ctx, id: &SessionId, desk_per_slot: u32) -> R<Vec<Slot>> {
    // The session row is locked: no booking of it is decided on the old split meanwhile
    // (bookings read the numbers' pools, which change below in this transaction).
    let row = q1(&ctx.conn, "SELECT record FROM sessions WHERE id = $1 FOR UPDATE", &[&id.as_str()]).await?;
    let session: Session = match row {
        Some(r) => serde_json::from_str(r.get(0))?,
        None => return Err(store(StoreError::NotFound(format!("session {id}")))),
    };
    x(&ctx.conn, "SELECT 1 FROM numbers WHERE session_id = $1 FOR UPDATE", &[&id.as_str()]).await?;
    // The session's leases end: numbers may change pool, and the next round leases the new
    // split. (A refusal below rolls this back with the rest.)
    lease::end(ctx, Scope::Session(id), LeaseEvent::Revoked).await?;
    let held = rows::session_held(&ctx.conn, id).await?;
    let slots = crate::outcome::resplit_pools(rows::session_slots(&ctx.conn, id).await?, &held, desk_per_slot)?;
    for slot in &slots {
        rows::update_slot(ctx, &session, slot).await?;
    }
    let detail = serde_json::json!({"session_id": id, "desk_per_slot": desk_per_slot});
    audit::append(ctx, session.site_id.as_str(), "admin", "set_session_pools", &detail.to_string()).await?;
    Ok(slots)
}

/// Seeds the demo clinic: today (in the site's zone) and `days - 1` days after. Rows that
/// exist are kept, so restarting a demo keeps its bookings.
pub(crate) async fn seed_demo(ctx: &mut Ctx, site_id: &SiteId, days: u16) -> R<()> {
    let probe = Site { id: site_id.clone(), name: String::new(), timezone: "Asia/Shanghai".into() };
    let today = site_now(ctx.now, &probe)?.date();
    let clinic = frontdesk_domain::demo::demo_clinic(site_id.as_str(), today, days)
        .map_err(|e| store(StoreError::Internal(format!("demo clinic: {e}"))))?;
    if rows::load_site(&ctx.conn, &clinic.site.id).await?.is_none() {
        put_site(ctx, &clinic.site).await?;
    }
    for d in &clinic.departments {
        if rows::load_department(&ctx.conn, &d.id).await?.is_none() {
            put_department(ctx, d).await?;
        }
    }
    for p in &clinic.providers {
        if rows::load_provider(&ctx.conn, p.id.as_str()).await?.is_none() {
            put_provider(ctx, p).await?;
        }
    }
    let mut created = 0;
    for (session, slots) in &clinic.sessions {
        if insert_session_with_slots(ctx, session, slots).await? {
            created += 1;
        }
    }
    let detail = serde_json::json!({"from": today, "days": days, "sessions_created": created});
    audit::append(ctx, site_id.as_str(), "demo", "seed_demo", &detail.to_string()).await?;
    Ok(())
}
