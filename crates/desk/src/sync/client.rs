//! The thin network loop around [`super::machine::SyncMachine`]: HTTP with reqwest (rustls),
//! gzip-compressed pushes, and the replica changes in [`super::replica`]. While the loop runs,
//! a watcher thread holds the live board's long-poll (`GET /v1/sync/wait`) and wakes the loop
//! when the platform has something to pull (docs/SYNC.md, "Live board").

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

use frontdesk_domain::Lang;
use frontdesk_protocol::enroll::{EnrollRequest, EnrollResponse};
use frontdesk_protocol::sync::{LeaseAnswer, LeaseRequest, PullResponse, PushRequest, PushResponse, WaitAnswer};
use frontdesk_protocol::{ApiError, PROTOCOL_VERSION, VERSION_HEADER};
use reqwest::StatusCode;
use reqwest::blocking::{Client, Response};
use serde::Serialize;

use super::machine::{Backoff, Event, Instruction, SyncMachine};
use crate::{Desk, DeskError};

/// Ops per push, at most.
pub const MAX_BATCH_OPS: usize = 500;
/// JSON bytes per push before compression, at most (a single larger op still goes alone).
pub const MAX_BATCH_BYTES: usize = 512 * 1024;
/// Changes per pull page asked for.
pub const PULL_LIMIT: u32 = 5000;
/// How long a live-board wait asks the platform to hold it (the platform's default).
pub const LIVE_WAIT: Duration = Duration::from_secs(20);

/// Why a sync attempt failed.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// The desk is not enrolled with a platform.
    #[error("not enrolled")]
    NotEnrolled,
    /// The platform could not be reached or the connection broke (the desk works offline).
    #[error("platform unreachable: {0}")]
    Unreachable(String),
    /// The platform answered with an error that retrying will not fix (revoked token, wrong
    /// site, invalid request).
    #[error("platform refused ({status}): {code}: {message}")]
    Refused {
        /// HTTP status.
        status: u16,
        /// The platform's error code.
        code: String,
        /// The platform's message.
        message: String,
    },
    /// The platform is overloaded or failing; try again later.
    #[error("platform busy ({status})")]
    Busy {
        /// HTTP status.
        status: u16,
        /// How long the platform asked us to wait.
        retry_after: Option<Duration>,
    },
    /// The local replica failed.
    #[error(transparent)]
    Desk(#[from] DeskError),
}

impl SyncError {
    /// Stable machine code.
    pub fn code(&self) -> &str {
        match self {
            SyncError::NotEnrolled => "not_enrolled",
            SyncError::Unreachable(_) => "offline",
            SyncError::Refused { code, .. } => code,
            SyncError::Busy { .. } => "platform_busy",
            SyncError::Desk(e) => e.code(),
        }
    }

    /// Whether trying again later can help.
    pub fn retryable(&self) -> bool {
        matches!(self, SyncError::Unreachable(_) | SyncError::Busy { .. })
    }

    /// A message for people.
    pub fn message(&self, lang: Lang) -> String {
        match self {
            SyncError::NotEnrolled => lang
                .pick(
                    "本机尚未接入平台：请先运行 frontdesk enroll --server URL --code 接入码",
                    "This desk is not enrolled: run `frontdesk enroll --server URL --code CODE` first",
                )
                .into(),
            SyncError::Unreachable(e) => match lang {
                Lang::Zh => format!("连不上平台（{e}），本机继续离线工作，稍后自动重试"),
                Lang::En => {
                    format!("Cannot reach the platform ({e}); the desk keeps working offline and retries later")
                }
            },
            SyncError::Refused { status, code, message } => match lang {
                Lang::Zh => format!("平台拒绝了请求（{status} {code}）：{message}"),
                Lang::En => format!("The platform refused the request ({status} {code}): {message}"),
            },
            SyncError::Busy { status, .. } => match lang {
                Lang::Zh => format!("平台繁忙（{status}），稍后自动重试"),
                Lang::En => format!("The platform is busy ({status}); retrying later"),
            },
            SyncError::Desk(e) => e.message(lang),
        }
    }
}

/// Talks to one platform.
pub struct HttpTransport {
    client: Client,
    base: String,
    token: Option<String>,
}

fn retry_after(resp: &Response) -> Option<Duration> {
    resp.headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs)
}

impl HttpTransport {
    /// A transport to `base` (e.g. `https://platform.example`), with a device token once enrolled.
    pub fn new(base: &str, token: Option<String>, timeout: Duration) -> Result<HttpTransport, SyncError> {
        // reqwest is built without a bundled crypto provider: ring is ours. An already
        // installed provider (e.g. by the host app) is kept.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = Client::builder()
            .timeout(timeout)
            .connect_timeout(Duration::from_secs(5).min(timeout))
            .user_agent(concat!("frontdesk-desk/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| SyncError::Unreachable(e.to_string()))?;
        Ok(HttpTransport { client, base: base.trim_end_matches('/').to_string(), token })
    }

    fn check(&self, resp: Response) -> Result<Response, SyncError> {
        let status = resp.status();
        if status.is_success() {
            return Ok(resp);
        }
        if status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error() || status == StatusCode::REQUEST_TIMEOUT
        {
            return Err(SyncError::Busy { status: status.as_u16(), retry_after: retry_after(&resp) });
        }
        let body = resp.text().unwrap_or_default();
        let (code, message) = match serde_json::from_str::<ApiError>(&body) {
            Ok(e) => (e.code, e.message),
            Err(_) => (format!("http_{}", status.as_u16()), body.chars().take(200).collect()),
        };
        Err(SyncError::Refused { status: status.as_u16(), code, message })
    }

    fn send(&self, req: reqwest::blocking::RequestBuilder) -> Result<Response, SyncError> {
        let mut req = req.header(VERSION_HEADER, PROTOCOL_VERSION.to_string());
        if let Some(t) = &self.token {
            req = req.bearer_auth(t);
        }
        let resp = req.send().map_err(|e| SyncError::Unreachable(short(&e)))?;
        self.check(resp)
    }

    /// Trades an enrollment code for a device token.
    pub fn enroll(&self, code: &str, name: Option<&str>) -> Result<EnrollResponse, SyncError> {
        let body = EnrollRequest { code: code.trim().to_string(), name: name.map(str::to_string) };
        let resp = self.send(self.client.post(format!("{}/v1/devices/enroll", self.base)).json(&body))?;
        resp.json().map_err(|e| SyncError::Unreachable(short(&e)))
    }

    /// Pushes a batch, gzip-compressed.
    pub fn push(&self, batch: &PushRequest) -> Result<PushResponse, SyncError> {
        let json = serde_json::to_vec(batch)
            .map_err(|e| SyncError::Desk(DeskError::Corrupt { what: "push", detail: e.to_string() }))?;
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&json).map_err(|e| SyncError::Desk(DeskError::Io(e)))?;
        let body = gz.finish().map_err(|e| SyncError::Desk(DeskError::Io(e)))?;
        let resp = self.send(
            self.client
                .post(format!("{}/v1/sync/push", self.base))
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .header(reqwest::header::CONTENT_ENCODING, "gzip")
                .body(body),
        )?;
        // A response cut mid-way is a failed attempt: the ops stay in the outbox and the
        // platform answers them as duplicates next time.
        resp.json().map_err(|e| SyncError::Unreachable(short(&e)))
    }

    /// Asks for leased numbers and/or gives numbers back (`POST /v1/sync/leases`).
    pub fn leases(&self, request: &LeaseRequest) -> Result<LeaseAnswer, SyncError> {
        let resp = self.send(self.client.post(format!("{}/v1/sync/leases", self.base)).json(request))?;
        resp.json().map_err(|e| SyncError::Unreachable(short(&e)))
    }

    /// Waits (`GET /v1/sync/wait`) until the platform has a change of the site after `cursor`
    /// or `timeout` has passed; the answer and the platform's `Retry-After` (set when it shed
    /// the wait). A platform without the live board answers 404: [`SyncError::Refused`].
    pub fn wait(&self, cursor: u64, timeout: Duration) -> Result<(WaitAnswer, Option<Duration>), SyncError> {
        let ms = u32::try_from(timeout.as_millis()).unwrap_or(u32::MAX);
        let url = format!("{}/v1/sync/wait?cursor={cursor}&timeout_ms={ms}", self.base);
        let resp = self.send(self.client.get(url))?;
        let retry = retry_after(&resp);
        let answer = resp.json().map_err(|e| SyncError::Unreachable(short(&e)))?;
        Ok((answer, retry))
    }

    /// Pulls a page of changes after `cursor`.
    pub fn pull(&self, cursor: u64, limit: u32, pending: u64) -> Result<PullResponse, SyncError> {
        let url = format!("{}/v1/sync/pull?cursor={cursor}&limit={limit}&pending={pending}", self.base);
        let resp = self.send(self.client.get(url))?;
        resp.json().map_err(|e| SyncError::Unreachable(short(&e)))
    }
}

fn short(e: &reqwest::Error) -> String {
    let mut s = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(inner) = src {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        src = inner.source();
    }
    s.chars().take(300).collect()
}

/// Enrolls the desk with a platform.
/// Moving a desk that already has staff to a platform is an admin's decision
/// ([`crate::Action::Enroll`]); a desk without staff is being set up.
pub fn enroll(desk: &mut Desk, server: &str, code: &str, name: Option<&str>) -> Result<(), SyncError> {
    desk.device()?;
    if !desk.staff()?.is_empty() {
        desk.authorize(crate::Action::Enroll)?;
    }
    let transport = HttpTransport::new(server, None, request_timeout())?;
    let resp = transport.enroll(code, name)?;
    desk.record_enrollment(server, &resp)?;
    Ok(())
}

/// What a sync cycle did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct CycleReport {
    /// Pushes made.
    pub pushes: usize,
    /// Ops applied by the platform.
    pub applied: usize,
    /// Ops that went to the conflict inbox for a person to resolve.
    pub conflicts: usize,
    /// Queue ops (calls, …) the platform did not apply: notices in the inbox, nothing to resolve.
    pub notices: usize,
    /// Pull pages applied.
    pub pages: usize,
    /// Changes pulled.
    pub changes: usize,
    /// Numbers newly leased to this desk by its lease request.
    pub leases_granted: u32,
    /// Numbers given back by its lease request.
    pub leases_returned: u32,
    /// Why the lease request after push and pull failed (the cycle itself succeeded: the
    /// request is made again next cycle).
    pub lease_error: Option<String>,
}

/// How long one request to the platform may take: `FRONTDESK_SYNC_TIMEOUT` seconds, 30 by
/// default. A platform that hangs costs the desk this much, never more.
fn request_timeout() -> Duration {
    std::env::var("FRONTDESK_SYNC_TIMEOUT")
        .ok()
        .and_then(|s| s.trim().parse::<u64>().ok())
        .filter(|&s| s > 0)
        .map_or(Duration::from_secs(30), Duration::from_secs)
}

fn transport_for(desk: &Desk) -> Result<HttpTransport, SyncError> {
    let creds = desk.credentials()?.ok_or(SyncError::NotEnrolled)?;
    HttpTransport::new(&creds.server_url, Some(creds.token), request_timeout())
}

/// One step of a cycle: carries out `instruction`, returns the event it produced.
fn step(
    desk: &mut Desk,
    transport: &HttpTransport,
    instruction: Instruction,
    report: &mut CycleReport,
) -> Result<Event, SyncError> {
    match instruction {
        Instruction::Push => {
            let Some(batch) = desk.push_batch(MAX_BATCH_OPS, MAX_BATCH_BYTES)? else {
                return Ok(Event::Pushed { settled: 0, remaining: 0 });
            };
            let resp = transport.push(&batch)?;
            let summary = desk.apply_push(&resp)?;
            report.pushes += 1;
            report.applied += summary.applied;
            report.conflicts += summary.conflicts;
            report.notices += summary.notices;
            let remaining = desk.sync_status()?.pending_ops;
            Ok(Event::Pushed { settled: summary.applied + summary.conflicts + summary.notices, remaining })
        }
        Instruction::Pull => {
            let pending = desk.sync_status()?.pending_ops;
            let page = transport.pull(desk.pull_cursor()?, PULL_LIMIT, pending)?;
            report.pages += 1;
            report.changes += desk.apply_pull(&page)?;
            Ok(Event::Pulled { more: page.more })
        }
        Instruction::Done | Instruction::Wait(_) | Instruction::Continue => Ok(Event::Start),
    }
}

/// Pulls pages until caught up.
fn pull_all(desk: &mut Desk, transport: &HttpTransport, report: &mut CycleReport) -> Result<(), SyncError> {
    // Bounded like a cycle: a desk days behind catches up in a few hundred pages.
    for _ in 0..100_000 {
        let pending = desk.sync_status()?.pending_ops;
        let page = transport.pull(desk.pull_cursor()?, PULL_LIMIT, pending)?;
        report.pages += 1;
        report.changes += desk.apply_pull(&page)?;
        if !page.more {
            return Ok(());
        }
    }
    Err(SyncError::Unreachable("pull did not catch up".into()))
}

/// Sends the lease request due now (numbers given back; a top-up when `top_up`), records the
/// answer and pulls what it changed. `false` when there was nothing to ask.
fn lease_step(
    desk: &mut Desk,
    transport: &HttpTransport,
    top_up: bool,
    report: &mut CycleReport,
) -> Result<bool, SyncError> {
    let Some(request) = desk.lease_request(top_up)? else { return Ok(false) };
    let answer = transport.leases(&request)?;
    desk.apply_lease_answer(&request, &answer)?;
    report.leases_granted += answer.granted;
    report.leases_returned += answer.returned;
    pull_all(desk, transport, report)?;
    Ok(true)
}

/// After push and pull: give back what this desk gave up, and top up when some session it
/// may still book is below the policy's low water. A failure here does not fail the cycle
/// (it is reported in [`CycleReport::lease_error`] and tried again next cycle), except a
/// failure of the replica itself.
fn leases_after_sync(desk: &mut Desk, transport: &HttpTransport, report: &mut CycleReport) -> Result<(), SyncError> {
    let top_up = desk.lease_top_up_due()?;
    match lease_step(desk, transport, top_up, report) {
        Ok(_) => Ok(()),
        Err(SyncError::Desk(e)) => Err(SyncError::Desk(e)),
        Err(e) => {
            report.lease_error = Some(e.to_string());
            Ok(())
        }
    }
}

/// What an explicit lease request did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct LeaseReport {
    /// Whether a request was sent (nothing to give back and no top-up asked: none).
    pub sent: bool,
    /// Numbers newly leased to this desk.
    pub granted: u32,
    /// Numbers given back.
    pub returned: u32,
    /// Pull pages applied after the answer.
    pub pages: usize,
    /// Changes pulled after the answer.
    pub changes: usize,
}

/// Sends this desk's lease request now: the numbers it gave back ([`Desk::give_back`]) and,
/// with `top_up`, a request to fill it up to its share in every session the policy leases;
/// then pulls, so the leases are in the replica when this returns. The platform answers a
/// repeated request the same way (idempotent).
pub fn request_leases(desk: &mut Desk, top_up: bool) -> Result<LeaseReport, SyncError> {
    let transport = transport_for(desk)?;
    let mut report = CycleReport::default();
    let sent = lease_step(desk, &transport, top_up, &mut report)?;
    Ok(LeaseReport {
        sent,
        granted: report.leases_granted,
        returned: report.leases_returned,
        pages: report.pages,
        changes: report.changes,
    })
}

/// Runs one full cycle (push everything, pull until caught up, then the lease request that is
/// due) without waiting: the first failure of push or pull ends it. Local work never waits on
/// this.
pub fn sync_once(desk: &mut Desk) -> Result<CycleReport, SyncError> {
    let transport = transport_for(desk)?;
    let mut machine = SyncMachine::new(Backoff::default());
    let mut report = CycleReport::default();
    let pending = desk.sync_status()?.pending_ops;
    let mut instruction = machine.handle(Event::Start, pending, 0.0);
    // A cycle is bounded: even a desk days behind finishes in a few hundred requests.
    for _ in 0..100_000 {
        match instruction {
            Instruction::Done => {
                if let Err(e) = leases_after_sync(desk, &transport, &mut report) {
                    desk.record_sync_attempt(Some(&e.to_string()))?;
                    return Err(e);
                }
                desk.record_sync_attempt(None)?;
                return Ok(report);
            }
            Instruction::Wait(_) | Instruction::Continue => break,
            _ => {}
        }
        match step(desk, &transport, instruction, &mut report) {
            Ok(event) => {
                let pending = desk.sync_status()?.pending_ops;
                instruction = machine.handle(event, pending, 0.0);
            }
            Err(e) => {
                desk.record_sync_attempt(Some(&e.to_string()))?;
                return Err(e);
            }
        }
    }
    let e = SyncError::Unreachable("sync cycle did not finish".into());
    desk.record_sync_attempt(Some(&e.to_string()))?;
    Err(e)
}

/// Wakes a waiting sync loop: a local change is pushed at once when the platform is reachable
/// (a batch of one is fine), instead of at the next poll.
#[derive(Debug, Default)]
pub struct SyncSignal {
    pending: Mutex<bool>,
    cv: Condvar,
}

impl SyncSignal {
    /// Something changed locally (or the user asked to sync now).
    pub fn notify(&self) {
        *self.pending.lock().unwrap_or_else(|p| p.into_inner()) = true;
        self.cv.notify_all();
    }

    /// Waits until notified or `timeout` passes; true when notified.
    fn wait(&self, timeout: Duration) -> bool {
        let guard = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        let (mut guard, _) =
            self.cv.wait_timeout_while(guard, timeout, |pending| !*pending).unwrap_or_else(|p| p.into_inner());
        std::mem::replace(&mut *guard, false)
    }
}

/// What the sync loop shares with its live-board watcher.
#[derive(Debug, Default)]
struct Live {
    state: Mutex<LiveState>,
    cv: Condvar,
}

#[derive(Debug, Default, Clone, Copy)]
struct LiveState {
    /// The desk's pull cursor after the last cycle.
    cursor: u64,
    /// A cycle is under way.
    running: bool,
    /// Cycles ended so far.
    cycles: u64,
    /// The sync loop has ended.
    done: bool,
}

impl Live {
    fn now(&self) -> LiveState {
        *self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn update(&self, f: impl FnOnce(&mut LiveState)) {
        f(&mut self.state.lock().unwrap_or_else(|p| p.into_inner()));
        self.cv.notify_all();
    }

    /// Waits until `ready` holds, the loop has ended, `stop` is set or `limit` has passed; the
    /// state then.
    fn wait_until(&self, limit: Duration, stop: &AtomicBool, ready: impl Fn(&LiveState) -> bool) -> LiveState {
        let until = Instant::now() + limit;
        let mut guard = self.state.lock().unwrap_or_else(|p| p.into_inner());
        while !ready(&guard) && !guard.done && !stop.load(Ordering::Relaxed) {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            // `stop` is not signalled through the condition variable: look at it every 200 ms.
            guard =
                self.cv.wait_timeout(guard, left.min(Duration::from_millis(200))).unwrap_or_else(|p| p.into_inner()).0;
        }
        *guard
    }

    fn pause(&self, d: Duration, stop: &AtomicBool) {
        self.wait_until(d, stop, |_| false);
    }
}

/// A source of random numbers in `[0, 1)` for backoff jitter (xorshift64*: jitter only needs to
/// differ between desks, not to be secret).
fn jitter() -> impl FnMut() -> f64 {
    let mut seed = uuid::Uuid::now_v7().as_u128() as u64 | 1;
    move || {
        seed ^= seed >> 12;
        seed ^= seed << 25;
        seed ^= seed >> 27;
        (seed.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// The live-board watcher: holds a wait with the desk's current pull cursor and, when the
/// platform has something newer that the loop has not pulled yet, wakes the loop through
/// `signal`. Failures and shed waits back off (full jitter, `Retry-After` a floor); the loop's
/// own cycle goes on regardless. A refusal retrying cannot fix — a platform without the live
/// board (404), a revoked token — ends the watcher for good. Ends when the loop ends or `stop`
/// is set, at most one wait later.
fn watch_live(transport: &HttpTransport, live: &Live, signal: &SyncSignal, stop: &AtomicBool) {
    let backoff = Backoff::default();
    let mut unit = jitter();
    let mut failures = 0u32;
    loop {
        let before = live.now();
        if before.done || stop.load(Ordering::Relaxed) {
            return;
        }
        let retry = match transport.wait(before.cursor, LIVE_WAIT) {
            Ok((answer, _)) if answer.changed => {
                // A cycle under way may already be pulling this change: let it end first.
                let now = live.wait_until(LIVE_WAIT, stop, |s| !s.running);
                if now.cursor >= answer.head {
                    failures = 0;
                    continue;
                }
                signal.notify();
                // Ask again only with the cursor of the cycle this starts.
                let after = live.wait_until(LIVE_WAIT, stop, |s| s.cycles > now.cycles && !s.running);
                if after.cycles == now.cycles || after.cursor >= answer.head {
                    // Pulled (or the loop is backing off: the wait then asks the same again,
                    // once per wait at most).
                    failures = 0;
                    continue;
                }
                // The cycle ended without reaching what the platform announced: do not ask
                // in a tight loop.
                None
            }
            // Shed: the platform asks for a pause; the normal cycle goes on meanwhile.
            Ok((_, Some(retry))) => Some(retry),
            Ok((_, None)) => {
                failures = 0;
                continue;
            }
            Err(SyncError::Busy { retry_after, .. }) => retry_after,
            Err(SyncError::Unreachable(_)) => None,
            Err(_) => return,
        };
        failures = failures.saturating_add(1);
        live.pause(backoff.delay(failures, unit(), retry), stop);
    }
}

/// Syncs until `stop` is set: a cycle, then a pause of `poll` (or a backoff after a failure,
/// with full jitter and the platform's Retry-After). Failures are recorded, never fatal —
/// except a refusal that retrying cannot fix (revoked token), which ends the loop.
pub fn sync_watch(
    desk: &mut Desk,
    stop: &AtomicBool,
    poll: Duration,
    on_cycle: impl FnMut(&Result<CycleReport, SyncError>),
) -> Result<(), SyncError> {
    sync_watch_with(desk, stop, poll, &SyncSignal::default(), on_cycle)
}

/// [`sync_watch`], woken early by `signal`: after a successful cycle a local change starts
/// the next one at once; while backing off after a failure it waits out the backoff (the op is
/// safe in the outbox).
///
/// While the desk is enrolled, a watcher thread with its own connection holds the live
/// board's wait (docs/SYNC.md, "Live board") and wakes the loop through `signal` as soon as
/// the platform has a change of the site to pull. Returning waits for that thread: at most
/// one wait ([`LIVE_WAIT`]) after `stop` is set.
pub fn sync_watch_with(
    desk: &mut Desk,
    stop: &AtomicBool,
    poll: Duration,
    signal: &SyncSignal,
    on_cycle: impl FnMut(&Result<CycleReport, SyncError>),
) -> Result<(), SyncError> {
    let live = Live::default();
    live.update(|s| s.cursor = desk.pull_cursor().unwrap_or(0));
    // Its own transport: a held wait never holds up a push.
    let watcher = match desk.credentials() {
        Ok(Some(c)) => HttpTransport::new(&c.server_url, Some(c.token), LIVE_WAIT + request_timeout()).ok(),
        _ => None,
    };
    std::thread::scope(|scope| {
        if let Some(transport) = &watcher {
            let live = &live;
            scope.spawn(move || watch_live(transport, live, signal, stop));
        }
        let result = watch_loop(desk, stop, poll, signal, &live, on_cycle);
        live.update(|s| s.done = true);
        result
    })
}

fn watch_loop(
    desk: &mut Desk,
    stop: &AtomicBool,
    poll: Duration,
    signal: &SyncSignal,
    live: &Live,
    mut on_cycle: impl FnMut(&Result<CycleReport, SyncError>),
) -> Result<(), SyncError> {
    let mut machine = SyncMachine::new(Backoff::default());
    let mut unit = jitter();
    while !stop.load(Ordering::Relaxed) {
        live.update(|s| s.running = true);
        let result = sync_once(desk);
        let cursor = desk.pull_cursor().ok();
        live.update(|s| {
            s.cursor = cursor.unwrap_or(s.cursor);
            s.running = false;
            s.cycles += 1;
        });
        on_cycle(&result);
        let wait = match &result {
            Ok(_) => {
                // A success ends the outage: the next failure backs off from the start again.
                machine = SyncMachine::new(Backoff::default());
                poll
            }
            Err(e) if e.retryable() => {
                let retry = if let SyncError::Busy { retry_after, .. } = e { *retry_after } else { None };
                match machine.handle(Event::Failed { retry_after: retry }, 0, unit()) {
                    Instruction::Wait(d) => d,
                    _ => poll,
                }
            }
            Err(SyncError::Refused { .. }) | Err(SyncError::NotEnrolled) => return result.map(|_| ()),
            Err(_) => poll,
        };
        let until = Instant::now() + wait;
        let online = result.is_ok();
        while !stop.load(Ordering::Relaxed) && Instant::now() < until {
            // Wake at least every 200 ms to notice `stop`.
            let slice = Duration::from_millis(200).min(until.saturating_duration_since(Instant::now()));
            if signal.wait(slice) && online {
                break;
            }
        }
    }
    Ok(())
}
