//! Route handlers. Each one is annotated for the OpenAPI document (`/openapi.json`); bodies
//! are the serde forms of the `frontdesk-protocol` types named in each description.

use std::io::Write as _;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use frontdesk_domain::lease::LeasePolicy;
use frontdesk_domain::schedule::{BookingId, Department, DeviceId, Provider, SessionId, Site, SiteId};
use frontdesk_protocol::PROTOCOL_VERSION;
use frontdesk_protocol::admin::{AuditVerification, GenerateSessions, SetPools, SuspendSession};
use frontdesk_protocol::enroll::{DeviceList, EnrollCodeRequest, EnrollRequest};
use frontdesk_protocol::online::{AvailabilityQuery, OnlineBookingRequest, OnlineCancelRequest};
use frontdesk_protocol::sync::{LeaseRequest, PullQuery, PushRequest, WaitAnswer, WaitQuery};
use serde::Deserialize;

use super::body::JsonBody;
use super::{ApiFailure, ApiResult, AppState, Protocol, forbid_cross_site, spoken, unsupported_version};
use crate::store::DeviceAuth;

fn query<T>(q: Result<Query<T>, QueryRejection>) -> ApiResult<T> {
    q.map(|Query(v)| v).map_err(|e| ApiFailure::bad_request("invalid_query", e.body_text()))
}

/// Liveness: the process answers.
#[utoipa::path(get, path = "/healthz", tag = "operations", responses((status = 200, description = "alive")))]
pub async fn healthz() -> &'static str {
    "ok"
}

/// Readiness: the database reads and the writer runs.
#[utoipa::path(get, path = "/readyz", tag = "operations",
    responses((status = 200, description = "ready"), (status = 503, description = "not ready", body = Object)))]
pub async fn readyz(State(st): State<AppState>) -> ApiResult<&'static str> {
    st.store.ready().await?;
    Ok("ready")
}

/// Prometheus metrics (text exposition format).
#[utoipa::path(get, path = "/metrics", tag = "operations", responses((status = 200, description = "metrics")))]
pub async fn metrics(State(st): State<AppState>) -> Response {
    let body = st.metrics.render();
    ([(axum::http::header::CONTENT_TYPE, "text/plain; version=0.0.4")], body).into_response()
}

/// This document.
#[utoipa::path(get, path = "/openapi.json", tag = "operations", responses((status = 200, description = "OpenAPI 3.1", body = Object)))]
pub async fn openapi() -> Response {
    Json(super::openapi::document()).into_response()
}

pub async fn not_found() -> ApiFailure {
    ApiFailure::new(StatusCode::NOT_FOUND, "no_such_route", "no such endpoint")
}

/// Trade a one-time enrollment code for a device token (`EnrollRequest` → `EnrollResponse`).
#[utoipa::path(post, path = "/v1/devices/enroll", tag = "enrollment", request_body = Object,
    responses((status = 200, description = "EnrollResponse", body = Object),
              (status = 401, description = "unknown code", body = Object),
              (status = 403, description = "used or expired code", body = Object)))]
pub async fn enroll(State(st): State<AppState>, JsonBody(req): JsonBody<EnrollRequest>) -> ApiResult<Response> {
    let resp = st.store.enroll(req.code, req.name.unwrap_or_default()).await?;
    tracing::info!(device = %resp.device_id, site = %resp.site.id, "device enrolled");
    Ok(Json(resp).into_response())
}

/// Upload a batch of ops (`PushRequest` → `PushResponse`); gzip or zstd bodies accepted.
#[utoipa::path(post, path = "/v1/sync/push", tag = "sync", request_body = Object,
    security(("device_token" = [])),
    responses((status = 200, description = "PushResponse: one answer per op", body = Object),
              (status = 400, description = "malformed", body = Object),
              (status = 403, description = "another device's or site's ops", body = Object),
              (status = 413, description = "body too large (after decompression)", body = Object),
              (status = 429, description = "rate limited (Retry-After)", body = Object)))]
pub async fn push(
    State(st): State<AppState>,
    Extension(auth): Extension<DeviceAuth>,
    JsonBody(req): JsonBody<PushRequest>,
) -> ApiResult<Response> {
    if !spoken(req.protocol) {
        return Err(unsupported_version());
    }
    if req.device_id != auth.device_id || req.ops.iter().any(|o| o.device_id != auth.device_id) {
        return Err(ApiFailure::new(StatusCode::FORBIDDEN, "forbidden_device", "ops must be the token's device's own"));
    }
    if let Some(op) = req.ops.iter().find(|o| o.site_id != auth.site_id) {
        let target = op.site_id.to_string();
        return Err(forbid_cross_site(&st, &auth, &target, "push").await);
    }
    if req.ops.len() > 5_000 {
        return Err(ApiFailure::bad_request("batch_too_large", "at most 5000 ops per push"));
    }
    let resp = st.store.push(auth, req).await?;
    Ok(Json(resp).into_response())
}

/// Changes of the device's site after `cursor` (`PullResponse`); cursor 0 is a snapshot. A
/// protocol-1 desk gets the page without the records it does not know (leases, lease
/// policies); `next_cursor` still moves past them.
#[utoipa::path(get, path = "/v1/sync/pull", tag = "sync", security(("device_token" = [])),
    params(("cursor" = Option<u64>, Query, description = "changes after this position"),
           ("limit" = Option<u32>, Query, description = "page size, at most 5000")),
    responses((status = 200, description = "PullResponse (gzip when the client accepts it)", body = Object)))]
pub async fn pull(
    State(st): State<AppState>,
    Extension(auth): Extension<DeviceAuth>,
    Extension(Protocol(version)): Extension<Protocol>,
    headers: HeaderMap,
    q: Result<Query<PullQuery>, QueryRejection>,
) -> ApiResult<Response> {
    let q = query(q)?;
    let mut resp = st.store.pull(auth, q.cursor, q.limit.unwrap_or(500), q.pending).await?;
    resp.changes.retain(|c| c.record.since() <= version);
    if version < 2 {
        resp.server_now = None;
    }
    resp.protocol = version;
    let gzip = accepts_gzip(&headers);
    // A page of thousands of changes takes milliseconds to serialize and compress: off the
    // request threads.
    tokio::task::spawn_blocking(move || {
        let json = serde_json::to_vec(&resp)
            .map_err(|e| ApiFailure::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", format!("pull page: {e}")))?;
        Ok(json_answer(json, gzip))
    })
    .await
    .map_err(|e| ApiFailure::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", format!("pull page: {e}")))?
}

/// How long a live-board wait lasts when the desk does not say.
pub const DEFAULT_WAIT: std::time::Duration = std::time::Duration::from_secs(20);
/// How long a live-board wait lasts at most.
pub const MAX_WAIT: std::time::Duration = std::time::Duration::from_secs(25);
/// What a shed wait asks the desk to wait before it waits again (seconds).
const SHED_RETRY_SECS: u64 = 5;

/// A wait held: counted in `frontdesk_live_waits` while it lives.
struct Held {
    _permit: tokio::sync::OwnedSemaphorePermit,
}

impl Held {
    fn new(permit: tokio::sync::OwnedSemaphorePermit) -> Held {
        metrics::gauge!("frontdesk_live_waits").increment(1.0);
        Held { _permit: permit }
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        metrics::gauge!("frontdesk_live_waits").decrement(1.0);
    }
}

fn wait_answer(head: u64, changed: bool) -> Response {
    Json(WaitAnswer { head, changed }).into_response()
}

/// A wait answered at once without waiting: `changed: false`, with `Retry-After`, so the desk
/// goes back to its normal cycle for a while.
fn shed_wait(head: u64, why: &'static str) -> Response {
    metrics::counter!("frontdesk_live_waits_shed_total", "why" => why).increment(1);
    let mut resp = wait_answer(head, false);
    resp.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(SHED_RETRY_SECS));
    resp
}

/// The live board's long-poll (`WaitQuery` → `WaitAnswer`): answers as soon as the device's
/// site has a change after `cursor` that a pull would serve (`changed: true`, `head` the newest
/// position known), or after `timeout_ms` (20 s by default, 25 s at most) with
/// `changed: false`. The site is the token's. Past this process's bound of waits held at once,
/// while the write queue is deep, or while the server stops, it answers at once
/// `changed: false` with `Retry-After`.
#[utoipa::path(get, path = "/v1/sync/wait", tag = "sync", security(("device_token" = [])),
    params(("cursor" = Option<u64>, Query, description = "the desk's pull cursor"),
           ("timeout_ms" = Option<u32>, Query, description = "how long to wait, 20000 by default, at most 25000")),
    responses((status = 200, description = "WaitAnswer (Retry-After when the wait was shed)", body = Object),
              (status = 401, description = "no, unknown or revoked device token", body = Object),
              (status = 429, description = "rate limited (Retry-After)", body = Object)))]
pub async fn wait(
    State(st): State<AppState>,
    Extension(auth): Extension<DeviceAuth>,
    q: Result<Query<WaitQuery>, QueryRejection>,
) -> ApiResult<Response> {
    let q = query(q)?;
    let timeout = q.timeout_ms.map_or(DEFAULT_WAIT, |ms| std::time::Duration::from_millis(u64::from(ms))).min(MAX_WAIT);
    let Some(view) = st.view.as_ref() else {
        // No runtime to follow the change log with (never the case in `serve`).
        return Ok(shed_wait(0, "no_view"));
    };
    let mut heads = view.head(&auth.site_id);
    let head = *heads.borrow_and_update();
    if head > q.cursor {
        return Ok(wait_answer(head, true));
    }
    let mut stopping = st.stopping.subscribe();
    if *stopping.borrow_and_update() {
        return Ok(shed_wait(head, "stopping"));
    }
    // The store is struggling: the desks' normal cycle is enough until it has caught up.
    if st.store.queue_depth() >= st.config.max_write_queue / 2 {
        return Ok(shed_wait(head, "write_queue"));
    }
    let Ok(permit) = st.live_waits.clone().try_acquire_owned() else {
        return Ok(shed_wait(head, "bound"));
    };
    let _held = Held::new(permit);
    let deadline = tokio::time::sleep(timeout);
    tokio::pin!(deadline);
    loop {
        tokio::select! {
            () = &mut deadline => return Ok(wait_answer(*heads.borrow(), false)),
            moved = heads.changed() => {
                if moved.is_err() {
                    // The view is gone (the server is stopping).
                    return Ok(wait_answer(head, false));
                }
                let now = *heads.borrow_and_update();
                if now > q.cursor {
                    return Ok(wait_answer(now, true));
                }
            }
            _ = stopping.wait_for(|s| *s) => return Ok(wait_answer(*heads.borrow(), false)),
        }
    }
}

/// A desk gives leased numbers back and/or asks to be topped up to its share
/// (`LeaseRequest` → `LeaseAnswer`: every number leased to it now, and the platform's clock).
#[utoipa::path(post, path = "/v1/sync/leases", tag = "sync", request_body = Object,
    security(("device_token" = [])),
    responses((status = 200, description = "LeaseAnswer", body = Object),
              (status = 403, description = "another device's leases", body = Object),
              (status = 426, description = "protocol version below 2", body = Object),
              (status = 429, description = "rate limited (Retry-After)", body = Object)))]
pub async fn leases(
    State(st): State<AppState>,
    Extension(auth): Extension<DeviceAuth>,
    Extension(Protocol(version)): Extension<Protocol>,
    JsonBody(req): JsonBody<LeaseRequest>,
) -> ApiResult<Response> {
    if version < 2 || req.protocol < 2 || !spoken(req.protocol) {
        return Err(ApiFailure::new(
            StatusCode::UPGRADE_REQUIRED,
            "protocol_version",
            format!("capacity leases need protocol version 2 to {PROTOCOL_VERSION}"),
        ));
    }
    if req.device_id != auth.device_id {
        return Err(ApiFailure::new(StatusCode::FORBIDDEN, "forbidden_device", "a desk asks for its own leases only"));
    }
    if req.give_back.len() > 5_000 {
        return Err(ApiFailure::bad_request("batch_too_large", "at most 5000 numbers given back per request"));
    }
    Ok(Json(st.store.leases(auth, req).await?).into_response())
}

/// Pages smaller than this go out as they are.
const GZIP_FROM: usize = 1024;

/// Whether the client accepts gzip (`gzip;q=0` means it does not).
fn accepts_gzip(headers: &HeaderMap) -> bool {
    headers.get_all(header::ACCEPT_ENCODING).iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(',')).any(
        |enc| {
            let mut parts = enc.split(';');
            let name = parts.next().unwrap_or("").trim();
            let q = parts.find_map(|p| p.trim().strip_prefix("q=")).and_then(|q| q.trim().parse::<f32>().ok());
            name.eq_ignore_ascii_case("gzip") && q.unwrap_or(1.0) > 0.0
        },
    )
}

/// A JSON answer, gzip-compressed when `gzip` and it is worth it. The body is compressed
/// whole, so the answer keeps its `Content-Length` (no chunked encoding).
fn json_answer(json: Vec<u8>, gzip: bool) -> Response {
    let json_type = (header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    if gzip && json.len() >= GZIP_FROM {
        let mut enc = flate2::write::GzEncoder::new(Vec::with_capacity(json.len() / 4), flate2::Compression::fast());
        if enc.write_all(&json).is_ok()
            && let Ok(gz) = enc.finish()
        {
            return (
                [
                    json_type,
                    (header::CONTENT_ENCODING, HeaderValue::from_static("gzip")),
                    (header::VARY, HeaderValue::from_static("accept-encoding")),
                ],
                gz,
            )
                .into_response();
        }
    }
    ([json_type], json).into_response()
}

/// The device's own site (`Site`); another site is 403 and audited.
#[utoipa::path(get, path = "/v1/sites/{site}", tag = "sync", security(("device_token" = [])),
    params(("site" = String, Path)),
    responses((status = 200, description = "Site", body = Object), (status = 403, description = "another site", body = Object)))]
pub async fn device_site(
    State(st): State<AppState>,
    Extension(auth): Extension<DeviceAuth>,
    Path(site): Path<String>,
) -> ApiResult<Response> {
    if site != auth.site_id.as_str() {
        return Err(forbid_cross_site(&st, &auth, &site, "site").await);
    }
    let sites = st.store.sites().await?;
    let s = sites
        .into_iter()
        .find(|s| s.id == auth.site_id)
        .ok_or_else(|| ApiFailure::new(StatusCode::NOT_FOUND, "not_found", "site not found"))?;
    Ok(Json(s).into_response())
}

/// Online numbers left per slot on a day (`Availability`).
#[utoipa::path(get, path = "/v1/public/sites/{site}/availability", tag = "online",
    params(("site" = String, Path), ("date" = String, Query, description = "YYYY-MM-DD"),
           ("department" = Option<String>, Query, description = "department code")),
    responses((status = 200, description = "Availability", body = Object)))]
pub async fn availability(
    State(st): State<AppState>,
    Path(site): Path<String>,
    q: Result<Query<AvailabilityQuery>, QueryRejection>,
) -> ApiResult<Response> {
    let q = query(q)?;
    let site = SiteId(site);
    if let Some(body) =
        st.view.as_ref().filter(|_| st.config.view).and_then(|v| v.availability_json(&site, &q, st.store.now()))
    {
        return Ok(([(axum::http::header::CONTENT_TYPE, "application/json")], body).into_response());
    }
    Ok(Json(st.store.availability(site, q).await?).into_response())
}

/// Book online (`OnlineBookingRequest` → 201 `OnlineBooking`, or 409 `OnlineRefusal`).
#[utoipa::path(post, path = "/v1/public/sites/{site}/bookings", tag = "online", request_body = Object,
    params(("site" = String, Path)),
    responses((status = 201, description = "OnlineBooking", body = Object),
              (status = 400, description = "invalid patient details", body = Object),
              (status = 409, description = "OnlineRefusal: slot_full, patient_already_booked, …", body = Object),
              (status = 429, description = "rate limited (Retry-After)", body = Object)))]
pub async fn book_online(
    State(st): State<AppState>,
    Path(site): Path<String>,
    JsonBody(req): JsonBody<OnlineBookingRequest>,
) -> ApiResult<Response> {
    let site = SiteId(site);
    // Sold out as far as a view at most a second old can tell: the rules' refusal at once.
    if let Some(refusal) =
        st.view.as_ref().filter(|_| st.config.view).and_then(|v| v.sold_out(&site, &req, st.store.now()))
    {
        metrics::counter!("frontdesk_online_refused_total", "reason" => refusal.reason.clone()).increment(1);
        return Err(crate::error::StoreError::Refused(refusal).into());
    }
    let b = st.store.book_online(site, req).await?;
    Ok((StatusCode::CREATED, Json(b)).into_response())
}

/// Cancel an online booking with its ticket code (`OnlineCancelRequest` → `OnlineCancelled`).
#[utoipa::path(post, path = "/v1/public/bookings/{id}/cancel", tag = "online", request_body = Object,
    params(("id" = String, Path)),
    responses((status = 200, description = "OnlineCancelled", body = Object), (status = 404, description = "no such booking and code", body = Object)))]
pub async fn cancel_online(
    State(st): State<AppState>,
    Path(id): Path<String>,
    JsonBody(req): JsonBody<OnlineCancelRequest>,
) -> ApiResult<Response> {
    Ok(Json(st.store.cancel_online(BookingId(id), req.ticket_code).await?).into_response())
}

/// Sites (`[Site]`).
#[utoipa::path(get, path = "/v1/admin/sites", tag = "admin", security(("admin_token" = [])),
    responses((status = 200, description = "[Site]", body = Object)))]
pub async fn list_sites(State(st): State<AppState>) -> ApiResult<Response> {
    Ok(Json(st.store.sites().await?).into_response())
}

/// Create or update a site (`Site`).
#[utoipa::path(post, path = "/v1/admin/sites", tag = "admin", security(("admin_token" = [])), request_body = Object,
    responses((status = 200, description = "Site", body = Object)))]
pub async fn put_site(State(st): State<AppState>, JsonBody(site): JsonBody<Site>) -> ApiResult<Response> {
    Ok(Json(st.store.put_site(site).await?).into_response())
}

fn same_site(path: &str, body: &SiteId) -> ApiResult<()> {
    if path != body.as_str() {
        return Err(ApiFailure::bad_request("site_mismatch", format!("the body's site_id {body} is not {path}")));
    }
    Ok(())
}

/// Create or update a department (`Department`).
#[utoipa::path(post, path = "/v1/admin/sites/{site}/departments", tag = "admin", security(("admin_token" = [])),
    params(("site" = String, Path)), request_body = Object, responses((status = 200, description = "Department", body = Object)))]
pub async fn put_department(
    State(st): State<AppState>,
    Path(site): Path<String>,
    JsonBody(d): JsonBody<Department>,
) -> ApiResult<Response> {
    same_site(&site, &d.site_id)?;
    Ok(Json(st.store.put_department(d).await?).into_response())
}

/// Create or update a provider (`Provider`).
#[utoipa::path(post, path = "/v1/admin/sites/{site}/providers", tag = "admin", security(("admin_token" = [])),
    params(("site" = String, Path)), request_body = Object, responses((status = 200, description = "Provider", body = Object)))]
pub async fn put_provider(
    State(st): State<AppState>,
    Path(site): Path<String>,
    JsonBody(p): JsonBody<Provider>,
) -> ApiResult<Response> {
    same_site(&site, &p.site_id)?;
    Ok(Json(st.store.put_provider(p).await?).into_response())
}

/// Lay out a provider's sessions and slots from templates (`GenerateSessions` → `GeneratedSessions`).
#[utoipa::path(post, path = "/v1/admin/sites/{site}/sessions/generate", tag = "admin", security(("admin_token" = [])),
    params(("site" = String, Path)), request_body = Object, responses((status = 200, description = "GeneratedSessions", body = Object)))]
pub async fn generate_sessions(
    State(st): State<AppState>,
    Path(site): Path<String>,
    JsonBody(req): JsonBody<GenerateSessions>,
) -> ApiResult<Response> {
    Ok(Json(st.store.generate_sessions(SiteId(site), req).await?).into_response())
}

/// Issue a one-time enrollment code (`EnrollCodeRequest` → `EnrollCode`).
#[utoipa::path(post, path = "/v1/admin/sites/{site}/enroll-codes", tag = "admin", security(("admin_token" = [])),
    params(("site" = String, Path)), request_body = Object, responses((status = 200, description = "EnrollCode", body = Object)))]
pub async fn create_enroll_code(
    State(st): State<AppState>,
    Path(site): Path<String>,
    JsonBody(req): JsonBody<EnrollCodeRequest>,
) -> ApiResult<Response> {
    let role = req.role.unwrap_or_default();
    Ok(Json(st.store.create_enroll_code_for(SiteId(site), req.ttl_hours.unwrap_or(24), role).await?).into_response())
}

/// Suspend a session, 停诊 (`SuspendSession` → `Session`).
#[utoipa::path(post, path = "/v1/admin/sessions/{id}/suspend", tag = "admin", security(("admin_token" = [])),
    params(("id" = String, Path)), request_body = Object, responses((status = 200, description = "Session", body = Object)))]
pub async fn suspend_session(
    State(st): State<AppState>,
    Path(id): Path<String>,
    JsonBody(req): JsonBody<SuspendSession>,
) -> ApiResult<Response> {
    Ok(Json(st.store.set_session_suspended(SessionId(id), Some(req.reason), "admin".into()).await?).into_response())
}

/// Resume a suspended session (→ `Session`).
#[utoipa::path(post, path = "/v1/admin/sessions/{id}/resume", tag = "admin", security(("admin_token" = [])),
    params(("id" = String, Path)), responses((status = 200, description = "Session", body = Object)))]
pub async fn resume_session(State(st): State<AppState>, Path(id): Path<String>) -> ApiResult<Response> {
    Ok(Json(st.store.set_session_suspended(SessionId(id), None, "admin".into()).await?).into_response())
}

/// Delete a session that never had a booking (and its slots); desks receive tombstones.
#[utoipa::path(delete, path = "/v1/admin/sessions/{id}", tag = "admin", security(("admin_token" = [])),
    params(("id" = String, Path)),
    responses((status = 204, description = "deleted"), (status = 409, description = "session_has_bookings", body = Object)))]
pub async fn delete_session(State(st): State<AppState>, Path(id): Path<String>) -> ApiResult<StatusCode> {
    st.store.delete_session(SessionId(id)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Re-split a session's slots between the online and the desk pool (`SetPools` → `[Slot]`);
/// 409 `pool_change_conflicts` when a held number would change pool.
#[utoipa::path(post, path = "/v1/admin/sessions/{id}/pools", tag = "admin", security(("admin_token" = [])),
    params(("id" = String, Path)), request_body = Object,
    responses((status = 200, description = "[Slot]", body = Object), (status = 409, description = "pool_change_conflicts", body = Object)))]
pub async fn set_session_pools(
    State(st): State<AppState>,
    Path(id): Path<String>,
    JsonBody(req): JsonBody<SetPools>,
) -> ApiResult<Response> {
    Ok(Json(st.store.set_session_pools(SessionId(id), req.desk_per_slot).await?).into_response())
}

#[derive(Debug, Deserialize)]
pub struct SiteFilter {
    site: Option<String>,
}

/// Devices with their last sync and how far behind they are (`DeviceList`).
#[utoipa::path(get, path = "/v1/admin/devices", tag = "admin", security(("admin_token" = [])),
    params(("site" = Option<String>, Query)), responses((status = 200, description = "DeviceList", body = Object)))]
pub async fn list_devices(
    State(st): State<AppState>,
    q: Result<Query<SiteFilter>, QueryRejection>,
) -> ApiResult<Response> {
    let q = query(q)?;
    let devices = st.store.devices(q.site.map(SiteId)).await?;
    Ok(Json(DeviceList { devices }).into_response())
}

/// Revoke a device's token.
#[utoipa::path(post, path = "/v1/admin/devices/{id}/revoke", tag = "admin", security(("admin_token" = [])),
    params(("id" = String, Path)), responses((status = 204, description = "revoked")))]
pub async fn revoke_device(State(st): State<AppState>, Path(id): Path<String>) -> ApiResult<StatusCode> {
    st.store.revoke_device(DeviceId(id), "admin".into()).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Check the hash-chained audit log (`AuditVerification`).
#[utoipa::path(get, path = "/v1/admin/audit/verify", tag = "admin", security(("admin_token" = [])),
    params(("site" = Option<String>, Query)), responses((status = 200, description = "AuditVerification", body = Object)))]
pub async fn verify_audit(
    State(st): State<AppState>,
    q: Result<Query<SiteFilter>, QueryRejection>,
) -> ApiResult<Response> {
    let q = query(q)?;
    let chains = st.store.verify_audit(q.site).await?;
    Ok(Json(AuditVerification { chains }).into_response())
}

/// A site's capacity-lease policy (`LeasePolicy`, or `null`: the site leases nothing).
#[utoipa::path(get, path = "/v1/admin/sites/{site}/lease-policy", tag = "admin", security(("admin_token" = [])),
    params(("site" = String, Path)),
    responses((status = 200, description = "LeasePolicy or null", body = Object), (status = 404, description = "no such site", body = Object)))]
pub async fn get_lease_policy(State(st): State<AppState>, Path(site): Path<String>) -> ApiResult<Response> {
    Ok(Json(st.store.site_leases(SiteId(site)).await?.policy).into_response())
}

/// Set a site's capacity-lease policy (`LeasePolicy` → the policy), or clear it (`null`: every
/// lease of the site is taken back); 400 `invalid_policy` names what is out of range.
#[utoipa::path(put, path = "/v1/admin/sites/{site}/lease-policy", tag = "admin", security(("admin_token" = [])),
    params(("site" = String, Path)), request_body = Object,
    responses((status = 200, description = "LeasePolicy or null", body = Object),
              (status = 400, description = "invalid_policy", body = Object),
              (status = 404, description = "no such site", body = Object)))]
pub async fn put_lease_policy(
    State(st): State<AppState>,
    Path(site): Path<String>,
    JsonBody(policy): JsonBody<Option<LeasePolicy>>,
) -> ApiResult<Response> {
    Ok(Json(st.store.set_lease_policy(SiteId(site), policy, "admin".into()).await?).into_response())
}

/// A site's policy and each desk's leases: held, expiring within the hour, the next expiry and
/// what happened to its numbers (`SiteLeases`).
#[utoipa::path(get, path = "/v1/admin/sites/{site}/leases", tag = "admin", security(("admin_token" = [])),
    params(("site" = String, Path)),
    responses((status = 200, description = "SiteLeases", body = Object), (status = 404, description = "no such site", body = Object)))]
pub async fn site_leases(State(st): State<AppState>, Path(site): Path<String>) -> ApiResult<Response> {
    Ok(Json(st.store.site_leases(SiteId(site)).await?).into_response())
}

/// Run the platform's lease round now (expiry, then every desk topped up to its share):
/// `{granted, expired}`.
#[utoipa::path(post, path = "/v1/admin/leases/round", tag = "admin", security(("admin_token" = [])),
    responses((status = 200, description = "{granted, expired}", body = Object)))]
pub async fn lease_round(State(st): State<AppState>) -> ApiResult<Response> {
    let r = st.store.lease_round().await?;
    Ok(Json(serde_json::json!({"granted": r.granted, "expired": r.expired})).into_response())
}
