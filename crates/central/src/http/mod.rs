//! The HTTP surface: routes, authentication, self-protection (body limits, rate limits,
//! timeouts, load shedding), metrics. Handlers only translate between HTTP and the
//! [`Store`]; rules and storage live elsewhere.

pub mod body;
mod handlers;
pub mod openapi;

use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use frontdesk_protocol::ApiError;
use frontdesk_protocol::enroll::DeviceRole;
use frontdesk_protocol::online::OnlineRefusal;
use governor::clock::Clock as _;
use governor::{DefaultKeyedRateLimiter, Quota};
use metrics_exporter_prometheus::PrometheusHandle;
use tokio::sync::Semaphore;
use tower_http::decompression::RequestDecompressionLayer;
use tower_http::timeout::TimeoutLayer;

use crate::error::StoreError;
use crate::store::{AuditEntry, DeviceAuth, Store};
use body::BodyLimit;

/// A rate: sustained requests per second and the burst allowed on top.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    /// Requests per second, sustained.
    pub per_second: u32,
    /// Requests allowed at once.
    pub burst: u32,
}

/// The server's limits and credentials.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Largest request body accepted, after decompression (bytes).
    pub body_limit: usize,
    /// A request taking longer is answered 503.
    pub request_timeout: Duration,
    /// Requests in flight at once; beyond that new ones are shed with 503.
    pub max_in_flight: usize,
    /// Writes waiting for the writer; beyond that new writes are shed with 503.
    pub max_write_queue: usize,
    /// Per-device rate (desk endpoints); `None` = unlimited.
    pub device_rate: Option<Rate>,
    /// Per-client-address rate (public and enrollment endpoints); `None` = unlimited.
    pub public_rate: Option<Rate>,
    /// SHA-256 (hex) of the admin token; `None` disables the admin API (unless
    /// `admin_token_file` names a token).
    pub admin_token_hash: Option<String>,
    /// The file the admin token lives in. When set, it is read again whenever it changes, so a
    /// token is rotated without a restart (`frontdesk-central rotate-admin-token`): from the
    /// next admin request on, only the file's token is accepted. A file that cannot be read or
    /// holds no token refuses every admin request until it is fixed.
    pub admin_token_file: Option<std::path::PathBuf>,
    /// Gateways (load balancers, reverse proxies) whose `X-Forwarded-For` is believed: a
    /// request from one of them is limited by the client address it names, so a legitimate
    /// burst arriving through one gateway is not limited as one client. From any other peer
    /// the header is ignored.
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// All public requests through one trusted proxy together; `None` = unlimited.
    pub proxy_rate: Option<Rate>,
    /// Answer availability and sold-out refusals from this process's in-memory view of the
    /// change log ([`crate::view`]) while it is fresh. The view follows the change log either
    /// way: the live board's waits need it.
    pub view: bool,
    /// Live-board waits (`GET /v1/sync/wait`) held at once by this process; beyond that a wait
    /// is answered at once, `changed: false` with `Retry-After`.
    pub live_waits: usize,
    /// How often the server runs the platform's lease round ([`Store::lease_round`]: expiry,
    /// then topping every desk up); zero = never (rounds only on request).
    pub lease_interval: Duration,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            body_limit: 1 << 20,
            request_timeout: Duration::from_secs(15),
            max_in_flight: 4096,
            max_write_queue: 16_000,
            device_rate: Some(Rate { per_second: 20, burst: 60 }),
            public_rate: Some(Rate { per_second: 5, burst: 20 }),
            admin_token_hash: None,
            admin_token_file: None,
            trusted_proxies: Vec::new(),
            proxy_rate: None,
            view: true,
            live_waits: 2000,
            lease_interval: Duration::from_secs(30),
        }
    }
}

type Limiter = DefaultKeyedRateLimiter<String>;

fn limiter(rate: Option<Rate>) -> Option<Arc<Limiter>> {
    let r = rate?;
    let per = NonZeroU32::new(r.per_second.max(1))?;
    let burst = NonZeroU32::new(r.burst.max(1))?;
    Some(Arc::new(Limiter::keyed(Quota::per_second(per).allow_burst(burst))))
}

/// What every handler can reach (one `Arc`: cheap to clone per request).
#[derive(Clone)]
pub struct AppState(Arc<AppInner>);

impl std::ops::Deref for AppState {
    type Target = AppInner;
    fn deref(&self) -> &AppInner {
        &self.0
    }
}

/// The shared state behind [`AppState`].
pub struct AppInner {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) config: Arc<ServerConfig>,
    device_limiter: Option<Arc<Limiter>>,
    public_limiter: Option<Arc<Limiter>>,
    proxy_limiter: Option<Arc<Limiter>>,
    in_flight: Arc<Semaphore>,
    pub(crate) metrics: PrometheusHandle,
    /// This process's view of the change log (always followed when there is a runtime; it
    /// answers requests only when [`ServerConfig::view`] is set).
    pub(crate) view: Option<Arc<crate::view::View>>,
    /// Live-board waits held at once.
    pub(crate) live_waits: Arc<Semaphore>,
    /// Set when the server stops: held waits end at once.
    pub(crate) stopping: tokio::sync::watch::Sender<bool>,
    /// The admin token's hash as last read from `admin_token_file`, and what the file looked
    /// like then.
    admin_token: std::sync::Mutex<AdminToken>,
}

/// The admin token in force.
struct AdminToken {
    /// The token file's size, modification time and (on Unix) inode when last read.
    stamp: Option<(u64, Option<std::time::SystemTime>, u64)>,
    hash: Option<String>,
}

impl AppInner {
    /// The hash of the admin token in force: the file's (read again when it has changed) or,
    /// without a file, the configured one.
    fn admin_token_hash(&self) -> Option<String> {
        let Some(path) = &self.config.admin_token_file else {
            return self.config.admin_token_hash.clone();
        };
        let mut held = self.admin_token.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let stamp = std::fs::metadata(path).ok().map(|m| {
            #[cfg(unix)]
            let inode = std::os::unix::fs::MetadataExt::ino(&m);
            #[cfg(not(unix))]
            let inode = 0;
            (m.len(), m.modified().ok(), inode)
        });
        if stamp.is_none() || stamp != held.stamp {
            held.hash = match crate::secret::read_token_file(path) {
                Ok(token) => {
                    if held.stamp.is_some() {
                        tracing::info!(file = %path.display(), "admin token file changed: its token is now in force");
                    }
                    Some(crate::secret::hash_secret(&token))
                }
                Err(e) => {
                    tracing::error!(error = %e, "no admin token: admin requests are refused until the file is fixed");
                    None
                }
            };
            held.stamp = stamp;
        }
        held.hash.clone()
    }
}

/// Ends the live board's held waits when the server stops (see [`router`]).
#[derive(Debug, Clone)]
pub struct Stopper(tokio::sync::watch::Sender<bool>);

impl Stopper {
    /// Answers every held wait now (`changed: false`) and every later one at once.
    pub fn stop(&self) {
        self.0.send_replace(true);
    }
}

/// An error answer: a status and an [`ApiError`] body (plus `Retry-After` when it helps).
#[derive(Debug)]
pub struct ApiFailure {
    status: StatusCode,
    body: ApiError,
    retry_after: Option<u64>,
    refusal: Option<Box<OnlineRefusal>>,
}

impl ApiFailure {
    /// A failure with a status, code and message.
    pub fn new(status: StatusCode, code: &str, message: impl Into<String>) -> ApiFailure {
        ApiFailure {
            status,
            body: ApiError { code: code.into(), message: message.into(), fields: Vec::new() },
            retry_after: None,
            refusal: None,
        }
    }

    /// 400.
    pub fn bad_request(code: &str, message: impl Into<String>) -> ApiFailure {
        ApiFailure::new(StatusCode::BAD_REQUEST, code, message)
    }

    /// 413.
    pub fn too_large(limit: usize) -> ApiFailure {
        ApiFailure::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            format!("the request body is larger than {limit} bytes (after decompression)"),
        )
    }

    fn with_retry(mut self, secs: u64) -> ApiFailure {
        self.retry_after = Some(secs.max(1));
        self
    }
}

impl IntoResponse for ApiFailure {
    fn into_response(self) -> Response {
        let mut resp = match self.refusal {
            Some(r) => (self.status, axum::Json(*r)).into_response(),
            None => (self.status, axum::Json(self.body)).into_response(),
        };
        if let Some(s) = self.retry_after
            && let Ok(v) = HeaderValue::from_str(&s.to_string())
        {
            resp.headers_mut().insert(header::RETRY_AFTER, v);
        }
        resp
    }
}

impl From<StoreError> for ApiFailure {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(what) => {
                ApiFailure::new(StatusCode::NOT_FOUND, "not_found", format!("{what} not found"))
            }
            StoreError::Forbidden(why) => ApiFailure::new(StatusCode::FORBIDDEN, "forbidden", why),
            StoreError::Unauthorized(why) => ApiFailure::new(StatusCode::UNAUTHORIZED, "unauthorized", why),
            StoreError::Invalid { code, message, fields } => {
                let mut f = ApiFailure::new(StatusCode::BAD_REQUEST, &code, message);
                f.body.fields = fields;
                f
            }
            StoreError::Refused(r) => {
                let mut f = ApiFailure::new(StatusCode::CONFLICT, &r.reason, r.message.clone());
                f.refusal = Some(Box::new(r));
                f
            }
            StoreError::Overloaded => {
                ApiFailure::new(StatusCode::SERVICE_UNAVAILABLE, "overloaded", "the platform is busy; retry shortly")
                    .with_retry(1)
            }
            StoreError::Unavailable(why) => {
                ApiFailure::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", why).with_retry(2)
            }
            StoreError::Internal(detail) => {
                tracing::error!(%detail, "internal error");
                ApiFailure::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "internal error; it has been logged")
            }
        }
    }
}

/// Result alias of handlers.
pub type ApiResult<T> = Result<T, ApiFailure>;

/// Builds the application router, and what ends its held live-board waits when the server
/// stops (graceful shutdown waits for every request to finish).
pub fn router(store: Arc<dyn Store>, config: ServerConfig, metrics: PrometheusHandle) -> (Router, Stopper) {
    // The view follows the change log on a task of its own, which ends when the router (and
    // with it the view) is dropped. It runs even when it does not answer requests
    // (`config.view` off): the live board's waits follow it.
    let view = tokio::runtime::Handle::try_current().ok().map(|_| {
        let view = Arc::new(crate::view::View::default());
        view.follow(store.clone());
        view
    });
    let (stopping, _) = tokio::sync::watch::channel(false);
    let stopper = Stopper(stopping.clone());
    let state = AppState(Arc::new(AppInner {
        view,
        live_waits: Arc::new(Semaphore::new(config.live_waits)),
        stopping,
        admin_token: std::sync::Mutex::new(AdminToken { stamp: None, hash: None }),
        store,
        device_limiter: limiter(config.device_rate),
        public_limiter: limiter(config.public_rate),
        proxy_limiter: limiter(config.proxy_rate),
        in_flight: Arc::new(Semaphore::new(config.max_in_flight.max(1))),
        config: Arc::new(config),
        metrics,
    }));
    // Forget idle clients' rate-limit state now and then, so the maps stay small.
    if let Ok(rt) = tokio::runtime::Handle::try_current() {
        let limiters: Vec<std::sync::Weak<Limiter>> =
            [&state.device_limiter, &state.public_limiter, &state.proxy_limiter]
                .into_iter()
                .flatten()
                .map(Arc::downgrade)
                .collect();
        rt.spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(60));
            loop {
                tick.tick().await;
                let alive: Vec<Arc<Limiter>> = limiters.iter().filter_map(std::sync::Weak::upgrade).collect();
                if alive.is_empty() {
                    break;
                }
                for l in alive {
                    l.retain_recent();
                    l.shrink_to_fit();
                }
            }
        });
    }
    let device = Router::new()
        .route("/v1/sync/push", post(handlers::push).route_layer(middleware::from_fn(require_desk_role)))
        .route("/v1/sync/pull", get(handlers::pull))
        .route("/v1/sync/leases", post(handlers::leases).route_layer(middleware::from_fn(require_desk_role)))
        .route("/v1/sites/{site}", get(handlers::device_site))
        .route_layer(middleware::from_fn_with_state(state.clone(), require_device));
    // Held for up to `handlers::MAX_WAIT`, longer than the request timeout: outside the
    // timeout layer, bounded by `live_waits` instead of the in-flight cap.
    let live = Router::new()
        .route(LIVE_WAIT_PATH, get(handlers::wait))
        .route_layer(middleware::from_fn_with_state(state.clone(), require_device));
    let public = Router::new()
        .route("/v1/devices/enroll", post(handlers::enroll))
        .route("/v1/public/sites/{site}/availability", get(handlers::availability))
        .route("/v1/public/sites/{site}/bookings", post(handlers::book_online))
        .route("/v1/public/bookings/{id}/cancel", post(handlers::cancel_online))
        .route_layer(middleware::from_fn_with_state(state.clone(), limit_client));
    let admin = Router::new()
        .route("/v1/admin/sites", get(handlers::list_sites).post(handlers::put_site))
        .route("/v1/admin/sites/{site}/departments", post(handlers::put_department))
        .route("/v1/admin/sites/{site}/providers", post(handlers::put_provider))
        .route("/v1/admin/sites/{site}/sessions/generate", post(handlers::generate_sessions))
        .route("/v1/admin/sites/{site}/enroll-codes", post(handlers::create_enroll_code))
        .route("/v1/admin/sessions/{id}/suspend", post(handlers::suspend_session))
        .route("/v1/admin/sessions/{id}/resume", post(handlers::resume_session))
        .route("/v1/admin/sessions/{id}/pools", post(handlers::set_session_pools))
        .route("/v1/admin/sessions/{id}", axum::routing::delete(handlers::delete_session))
        .route("/v1/admin/devices", get(handlers::list_devices))
        .route("/v1/admin/devices/{id}/revoke", post(handlers::revoke_device))
        .route("/v1/admin/audit/verify", get(handlers::verify_audit))
        .route("/v1/admin/sites/{site}/lease-policy", get(handlers::get_lease_policy).put(handlers::put_lease_policy))
        .route("/v1/admin/sites/{site}/leases", get(handlers::site_leases))
        .route("/v1/admin/leases/round", post(handlers::lease_round))
        .route_layer(middleware::from_fn_with_state(state.clone(), require_admin));
    let ops = Router::new()
        .route("/healthz", get(handlers::healthz))
        .route("/readyz", get(handlers::readyz))
        .route("/metrics", get(handlers::metrics))
        .route("/openapi.json", get(handlers::openapi));
    let limit = BodyLimit(state.config.body_limit);
    let timeout = state.config.request_timeout;
    let app = Router::new()
        .merge(device)
        .merge(public)
        .merge(admin)
        .merge(ops)
        .fallback(handlers::not_found)
        // Innermost first: decompression sits under the body limit check of the extractor,
        // so the limit counts decompressed bytes.
        .layer(RequestDecompressionLayer::new().gzip(true).zstd(true))
        .layer(axum::Extension(limit))
        .layer(TimeoutLayer::with_status_code(StatusCode::SERVICE_UNAVAILABLE, timeout))
        .merge(live)
        .layer(middleware::from_fn_with_state(state.clone(), shed_load))
        .layer(middleware::from_fn(track))
        // Outermost: every answer carries them, refusals and shed load included.
        .layer(middleware::map_response(security_headers))
        .with_state(state);
    (app, stopper)
}

/// Headers on every answer of the platform, which serves JSON (and the metrics text) only: no
/// content sniffing, never framed, no active content, no referrer, never cached on the way
/// (answers hold patients' data and live counts). HSTS belongs to the TLS proxy in front.
async fn security_headers(mut resp: Response) -> Response {
    let h = resp.headers_mut();
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

/// The live board's long-poll.
const LIVE_WAIT_PATH: &str = "/v1/sync/wait";

/// Records latency per route and status.
async fn track(req: Request, next: Next) -> Response {
    let route =
        req.extensions().get::<MatchedPath>().map(|p| p.as_str().to_string()).unwrap_or_else(|| "unmatched".into());
    let method = req.method().as_str().to_string();
    let started = Instant::now();
    let resp = next.run(req).await;
    let status = resp.status().as_u16().to_string();
    metrics::histogram!("http_request_duration_seconds", "method" => method, "route" => route, "status" => status)
        .record(started.elapsed().as_secs_f64());
    resp
}

/// Sheds load instead of collapsing: beyond `max_in_flight` requests, or when the writer's
/// queue is long, new requests get 503 with `Retry-After` at once.
async fn shed_load(State(st): State<AppState>, req: Request, next: Next) -> Response {
    // A live-board wait is bounded by its own limit (`live_waits`) and sheds itself with an
    // answer, not a 503.
    let cheap = matches!(req.uri().path(), "/healthz" | "/readyz" | "/metrics" | LIVE_WAIT_PATH);
    if cheap {
        return next.run(req).await;
    }
    let Ok(_permit) = st.in_flight.clone().try_acquire_owned() else {
        metrics::counter!("frontdesk_shed_total", "why" => "in_flight").increment(1);
        return ApiFailure::from(StoreError::Overloaded).into_response();
    };
    if req.method() != axum::http::Method::GET && st.store.queue_depth() >= st.config.max_write_queue {
        metrics::counter!("frontdesk_shed_total", "why" => "write_queue").increment(1);
        return ApiFailure::from(StoreError::Overloaded).into_response();
    }
    next.run(req).await
}

fn rate_limited(limiter: &Limiter, key: String) -> Option<ApiFailure> {
    match limiter.check_key(&key) {
        Ok(()) => None,
        Err(not_until) => {
            let wait = not_until.wait_time_from(limiter.clock().now());
            let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            metrics::counter!("frontdesk_rate_limited_total").increment(1);
            Some(
                ApiFailure::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "rate_limited",
                    "too many requests; retry after the given time",
                )
                .with_retry(secs),
            )
        }
    }
}

fn bearer(req: &Request) -> Option<String> {
    let v = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let t = v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer "))?;
    let t = t.trim();
    (!t.is_empty()).then(|| t.to_string())
}

/// Who a public request comes from: the peer, or — when the peer is a trusted proxy — the
/// nearest address in `X-Forwarded-For` that is not itself a trusted proxy. Also the proxy,
/// when it is one.
fn client_key(req: &Request, trusted: &[std::net::IpAddr]) -> (String, Option<String>) {
    let Some(peer) = req.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip()) else {
        return ("unknown".into(), None);
    };
    if !trusted.contains(&peer) {
        return (peer.to_string(), None);
    }
    // Proxies append: the rightmost entries are the nearest hops.
    let forwarded = req
        .headers()
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|a| a.trim().parse::<std::net::IpAddr>().ok())
        .collect::<Vec<_>>();
    let client = forwarded.iter().rev().find(|a| !trusted.contains(a)).copied().unwrap_or(peer);
    (client.to_string(), Some(peer.to_string()))
}

/// Desk endpoints: a device token, then the device's rate limit.
async fn require_device(State(st): State<AppState>, mut req: Request, next: Next) -> Response {
    let Some(token) = bearer(&req) else {
        return ApiFailure::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "a device token is required (Authorization: Bearer …)",
        )
        .into_response();
    };
    let auth = match st.store.authenticate(crate::secret::hash_secret(&token)).await {
        Ok(Some(a)) => a,
        Ok(None) => {
            return ApiFailure::new(StatusCode::UNAUTHORIZED, "unauthorized", "unknown or revoked device token")
                .into_response();
        }
        Err(e) => return ApiFailure::from(e).into_response(),
    };
    if let Some(l) = &st.device_limiter
        && let Some(f) = rate_limited(l, auth.device_id.to_string())
    {
        return f.into_response();
    }
    // No header: the current version.
    let version = match req.headers().get(frontdesk_protocol::VERSION_HEADER) {
        None => frontdesk_protocol::PROTOCOL_VERSION,
        Some(v) => match v.to_str().ok().and_then(|s| s.trim().parse::<u32>().ok()) {
            Some(n) if spoken(n) => n,
            _ => return unsupported_version().into_response(),
        },
    };
    req.extensions_mut().insert(auth);
    req.extensions_mut().insert(Protocol(version));
    next.run(req).await
}

/// Endpoints that change things: a desk's, never a display's (which may only read).
async fn require_desk_role(req: Request, next: Next) -> Response {
    match req.extensions().get::<DeviceAuth>().map(|a| a.role) {
        Some(DeviceRole::Desk) => next.run(req).await,
        _ => ApiFailure::new(
            StatusCode::FORBIDDEN,
            "forbidden_role",
            "a display device may only read the site's board (pull and live waits)",
        )
        .into_response(),
    }
}

/// The protocol version a desk request speaks (the `x-frontdesk-protocol` header; the current
/// version when it has none).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Protocol(pub u32);

/// True for the protocol versions this platform answers.
pub(crate) fn spoken(version: u32) -> bool {
    (frontdesk_protocol::MIN_PROTOCOL_VERSION..=frontdesk_protocol::PROTOCOL_VERSION).contains(&version)
}

/// 426: a protocol version this platform does not answer.
pub(crate) fn unsupported_version() -> ApiFailure {
    ApiFailure::new(
        StatusCode::UPGRADE_REQUIRED,
        "protocol_version",
        format!(
            "this platform speaks protocol versions {} to {}",
            frontdesk_protocol::MIN_PROTOCOL_VERSION,
            frontdesk_protocol::PROTOCOL_VERSION
        ),
    )
}

/// Public endpoints: the client address's rate limit.
async fn limit_client(State(st): State<AppState>, req: Request, next: Next) -> Response {
    let (client, proxy) = client_key(&req, &st.config.trusted_proxies);
    if let (Some(l), Some(proxy)) = (&st.proxy_limiter, proxy)
        && let Some(f) = rate_limited(l, proxy)
    {
        return f.into_response();
    }
    if let Some(l) = &st.public_limiter
        && let Some(f) = rate_limited(l, client)
    {
        return f.into_response();
    }
    next.run(req).await
}

/// Admin endpoints: the admin token.
async fn require_admin(State(st): State<AppState>, req: Request, next: Next) -> Response {
    let ok = match (st.admin_token_hash(), bearer(&req)) {
        (Some(want), Some(got)) => crate::secret::digest_eq(&want, &crate::secret::hash_secret(&got)),
        _ => false,
    };
    if !ok {
        return ApiFailure::new(StatusCode::UNAUTHORIZED, "unauthorized", "the admin token is required")
            .into_response();
    }
    next.run(req).await
}

/// Refuses (403) and audits a device touching another site's data.
pub(crate) async fn forbid_cross_site(st: &AppState, auth: &DeviceAuth, target: &str, what: &str) -> ApiFailure {
    tracing::warn!(device = %auth.device_id, site = %auth.site_id, target, what, "cross-site access refused");
    metrics::counter!("frontdesk_forbidden_total").increment(1);
    let detail = serde_json::json!({"device_id": auth.device_id, "target_site": target, "what": what});
    let entry = AuditEntry {
        site_id: auth.site_id.to_string(),
        actor: format!("device:{}", auth.device_id),
        action: "forbidden_site".into(),
        detail: detail.to_string(),
    };
    if let Err(e) = st.store.audit(entry).await {
        tracing::error!(error = %e, "could not audit a refused cross-site access");
    }
    ApiFailure::new(
        StatusCode::FORBIDDEN,
        "forbidden_site",
        format!("this device belongs to site {}, not {target}", auth.site_id),
    )
}
