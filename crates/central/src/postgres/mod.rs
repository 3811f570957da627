//! The PostgreSQL back-end: several stateless platform processes on one database.
//!
//! **Writer lanes and group commit.** Each process runs a few *lanes*; a lane owns one
//! connection and does what the SQLite writer does: it takes the first queued write job,
//! drains whatever else is queued (up to [`PgOptions::max_group`]), runs the jobs one after
//! the other inside one transaction — each in its own `SAVEPOINT`, so a job that fails or is
//! refused leaves nothing behind — commits once, and only then answers every job. Confirmed
//! therefore means committed (PostgreSQL's `synchronous_commit` flushes the WAL before the
//! commit returns), and the flush is shared by every job of the group.
//!
//! **One truth across processes.** No process keeps state the others would need to see:
//! - a push batch locks its device's row first, so batches of one device applied by two
//!   processes run one after the other, in device order, exactly once (`op_results`);
//! - a booking claims a queue number row (`numbers`) with `FOR UPDATE SKIP LOCKED` — many
//!   bookings of one slot take different numbers at once instead of queueing on one row —
//!   and partial unique indexes are the last guard for rules 1, 2, 4 and 7. A job that loses
//!   a race (a unique violation, a deadlock) is rolled back to its savepoint and decided again
//!   on the state the winner left: the rules (`frontdesk_domain`) decide every time;
//! - change-log cursors come from the writing transaction's id, and a pull serves only what
//!   transactions older than the oldest running one wrote (see [`rows::log_change`] and
//!   [`read::pull`]): a change never appears behind a cursor a desk has passed;
//! - the audit log is a set of hash chains per site, one per lane, so lanes never wait on
//!   one chain head; enrollment and revocation are rows every process reads per request;
//! - a capacity lease is its number's row with the lessee beside the booking: a claim outside a
//!   lease skips rows leased and unexpired, and every grant of a site holds the site's policy
//!   row locked, so the platform's rounds on every process and the desks' own requests take
//!   turns; a job that grants runs in a transaction of its own (see [`lease`]).
//!
//! Written for PostgreSQL 13 or later (it relies on `pg_current_xact_id()` and
//! `pg_current_snapshot()`); no advisory locks, no LISTEN/NOTIFY.

mod admin;
mod audit;
mod booking;
mod lease;
mod migrate;
mod online;
mod push;
mod queue;
mod read;
mod rows;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Object, Pool, RecyclingMethod};
use frontdesk_domain::clock::Clock;
use frontdesk_domain::lease::LeasePolicy;
use frontdesk_domain::schedule::{BookingId, Department, DeviceId, Provider, Session, SessionId, Site, SiteId, Slot};
use frontdesk_protocol::admin::{AuditReport, GenerateSessions, GeneratedSessions, SiteLeases};
use frontdesk_protocol::enroll::{DeviceInfo, DeviceRole, EnrollCode, EnrollResponse};
use frontdesk_protocol::online::{
    Availability, AvailabilityQuery, OnlineBooking, OnlineBookingRequest, OnlineCancelled,
};
use frontdesk_protocol::sync::{LeaseAnswer, LeaseRequest, PullResponse, PushRequest, PushResponse};
use jiff::Timestamp;
use tokio::sync::{mpsc, oneshot};

use crate::error::{StoreError, StoreResult};
use crate::store::{AuditEntry, BoxFut, DeviceAuth, LeaseRound, Store};

/// Options of the PostgreSQL store.
#[derive(Debug, Clone)]
pub struct PgOptions {
    /// Writer lanes (connections that commit groups of writes) in this process.
    pub lanes: usize,
    /// At most this many jobs share one transaction.
    pub max_group: usize,
    /// Jobs that may wait for the lanes before new writes are shed (`503`).
    pub queue_capacity: usize,
    /// Connections for reads (pull, availability, authentication).
    pub read_connections: usize,
    /// This process's name in the audit chains (`<instance>/<lane>`); random when empty.
    pub instance: String,
}

impl Default for PgOptions {
    fn default() -> Self {
        PgOptions { lanes: 8, max_group: 64, queue_capacity: 20_000, read_connections: 16, instance: String::new() }
    }
}

/// Why a step of a job failed: a store error to answer with, or a database error that may
/// only mean the job lost a race (then it is decided again).
#[derive(Debug)]
pub(crate) enum Fail {
    Store(StoreError),
    Db(tokio_postgres::Error),
}

impl From<tokio_postgres::Error> for Fail {
    fn from(e: tokio_postgres::Error) -> Self {
        Fail::Db(e)
    }
}

impl From<StoreError> for Fail {
    fn from(e: StoreError) -> Self {
        Fail::Store(e)
    }
}

impl From<serde_json::Error> for Fail {
    fn from(e: serde_json::Error) -> Self {
        Fail::Store(e.into())
    }
}

impl From<deadpool_postgres::PoolError> for Fail {
    fn from(e: deadpool_postgres::PoolError) -> Self {
        Fail::Store(pool_error(e))
    }
}

pub(crate) type R<T> = Result<T, Fail>;

/// SQLSTATEs that mean "another transaction got there first": decide again.
fn is_race(e: &tokio_postgres::Error) -> bool {
    use tokio_postgres::error::SqlState;
    e.code().is_some_and(|c| {
        *c == SqlState::UNIQUE_VIOLATION
            || *c == SqlState::T_R_SERIALIZATION_FAILURE
            || *c == SqlState::T_R_DEADLOCK_DETECTED
    })
}

/// A database error as the HTTP layer should see it: an unreachable or restarting database is
/// `Unavailable` (503 with Retry-After), anything else internal.
pub(crate) fn db_error(e: tokio_postgres::Error) -> StoreError {
    let unavailable = e.is_closed()
        || match e.code() {
            None => true,
            Some(c) => {
                let c = c.code();
                c.starts_with("08") || c.starts_with("57P") || c == "53300"
            }
        };
    if unavailable {
        StoreError::Unavailable(format!("database unreachable: {e}"))
    } else {
        StoreError::Internal(format!("postgres: {e}"))
    }
}

fn pool_error(e: deadpool_postgres::PoolError) -> StoreError {
    match e {
        deadpool_postgres::PoolError::Backend(e) => db_error(e),
        other => StoreError::Unavailable(format!("database unreachable: {other}")),
    }
}

impl Fail {
    fn into_store(self) -> StoreError {
        match self {
            Fail::Store(e) => e,
            Fail::Db(e) => db_error(e),
        }
    }
}

/// What a job gets to work with: the lane's connection inside the group's transaction.
pub(crate) struct Ctx {
    pub conn: Object,
    /// The instant the group started.
    pub now: Timestamp,
    /// This lane's name in the audit chains.
    pub lane: String,
    next_cursor: i64,
    cursor_end: i64,
    audit: audit::Heads,
    /// What happened to leased numbers in this transaction, counted once it commits.
    pub(crate) leases: crate::outcome::LeaseTally,
}

/// Changes one transaction may log (the low bits of a cursor).
pub(crate) const CURSOR_BITS: u32 = 20;

impl Ctx {
    /// Hands out the next change-log cursor of this transaction.
    pub(crate) fn take_cursor(&mut self) -> R<i64> {
        if self.next_cursor >= self.cursor_end {
            return Err(Fail::Store(StoreError::Internal("too many changes in one transaction".into())));
        }
        let c = self.next_cursor;
        self.next_cursor += 1;
        Ok(c)
    }
}

/// A write job as a lane sees it.
trait Job: Send {
    /// Runs the job (again, after a lost race); keeps its result for [`Job::finish`].
    fn run<'a>(&'a mut self, ctx: &'a mut Ctx) -> BoxFut<'a, R<()>>;
    /// Records a failure as the job's answer.
    fn fail(&mut self, e: StoreError);
    /// True when the job's answer is an error (its writes must be rolled back).
    fn failed(&self) -> bool;
    /// Answers the caller once the group committed (or failed to).
    fn finish(self: Box<Self>, committed: Result<(), StoreError>);
    /// True for a job that runs in a transaction of its own, never grouped: one that takes a
    /// lock others queue on (a site's lease grants), so it never holds that lock while a job
    /// grouped with it waits for another transaction.
    fn alone(&self) -> bool;
}

type Work<I, T> = for<'a> fn(&'a mut Ctx, &'a I) -> BoxFut<'a, R<T>>;

struct FnJob<I, T> {
    input: I,
    work: Work<I, T>,
    alone: bool,
    result: Option<StoreResult<T>>,
    reply: oneshot::Sender<StoreResult<T>>,
}

impl<I: Send + Sync, T: Send> Job for FnJob<I, T> {
    fn run<'a>(&'a mut self, ctx: &'a mut Ctx) -> BoxFut<'a, R<()>> {
        Box::pin(async move {
            let r = (self.work)(ctx, &self.input).await;
            match r {
                Ok(v) => {
                    self.result = Some(Ok(v));
                    Ok(())
                }
                Err(Fail::Store(e)) => {
                    self.result = Some(Err(e));
                    Ok(())
                }
                Err(Fail::Db(e)) => Err(Fail::Db(e)),
            }
        })
    }

    fn fail(&mut self, e: StoreError) {
        self.result = Some(Err(e));
    }

    fn failed(&self) -> bool {
        !matches!(self.result, Some(Ok(_)))
    }

    fn alone(&self) -> bool {
        self.alone
    }

    fn finish(self: Box<Self>, committed: Result<(), StoreError>) {
        let answer = match (committed, self.result) {
            (_, Some(Err(e))) => Err(e),
            (Ok(()), Some(Ok(v))) => Ok(v),
            (Err(e), Some(Ok(_)) | None) => Err(e),
            (Ok(()), None) => Err(StoreError::Internal("job did not run".into())),
        };
        // The caller may have gone away (timeout); the write stands either way.
        let _ = self.reply.send(answer);
    }
}

struct Shared {
    pool: Pool,
    clock: Arc<dyn Clock>,
    lanes: std::sync::RwLock<Vec<mpsc::Sender<Box<dyn Job>>>>,
    next_lane: AtomicUsize,
    depth: Arc<AtomicUsize>,
    closed: AtomicBool,
    lane_tasks: std::sync::Mutex<Vec<tokio::task::JoinHandle<()>>>,
}

/// The PostgreSQL store. Cheap to clone.
#[derive(Clone)]
pub struct PgStore {
    shared: Arc<Shared>,
}

/// Whether a `--db` value names a PostgreSQL database rather than a SQLite file.
pub fn is_postgres_url(db: &str) -> bool {
    db.starts_with("postgres://") || db.starts_with("postgresql://")
}

impl PgStore {
    /// Connects to `url`, brings the schema up to date (several processes starting at once
    /// take turns) and starts the lanes. Must run inside a Tokio runtime.
    pub async fn open(url: &str, clock: Arc<dyn Clock>, options: PgOptions) -> StoreResult<PgStore> {
        let config: tokio_postgres::Config =
            url.parse().map_err(|e| StoreError::Internal(format!("database url: {e}")))?;
        let lanes = options.lanes.max(1);
        let manager = Manager::from_config(
            config,
            tokio_postgres::NoTls,
            ManagerConfig { recycling_method: RecyclingMethod::Fast },
        );
        let pool = Pool::builder(manager)
            .max_size(options.read_connections.max(1) + lanes)
            .runtime(deadpool_postgres::Runtime::Tokio1)
            .wait_timeout(Some(Duration::from_secs(5)))
            .create_timeout(Some(Duration::from_secs(3)))
            .recycle_timeout(Some(Duration::from_secs(3)))
            .build()
            .map_err(|e| StoreError::Internal(format!("database pool: {e}")))?;
        {
            let mut conn = pool.get().await.map_err(pool_error)?;
            migrate::to_latest(&mut conn).await.map_err(Fail::into_store)?;
        }
        let instance = if options.instance.trim().is_empty() {
            hex::encode(crate::secret::random_bytes::<4>()?)
        } else {
            options.instance.trim().to_string()
        };
        let depth = Arc::new(AtomicUsize::new(0));
        let per_lane = (options.queue_capacity / lanes).max(1);
        let mut senders = Vec::new();
        let mut tasks = Vec::new();
        for k in 0..lanes {
            let (tx, rx) = mpsc::channel::<Box<dyn Job>>(per_lane);
            senders.push(tx);
            let lane = Lane {
                name: format!("{instance}/{k}"),
                pool: pool.clone(),
                clock: clock.clone(),
                depth: depth.clone(),
                max_group: options.max_group.max(1),
            };
            tasks.push(tokio::spawn(lane.run(rx)));
        }
        Ok(PgStore {
            shared: Arc::new(Shared {
                pool,
                clock,
                lanes: std::sync::RwLock::new(senders),
                next_lane: AtomicUsize::new(0),
                depth,
                closed: AtomicBool::new(false),
                lane_tasks: std::sync::Mutex::new(tasks),
            }),
        })
    }

    /// Queues a job on a lane: `key` keeps one device's pushes on one lane (in order); `None`
    /// spreads jobs over the lanes.
    async fn write<I, T>(&self, key: Option<&str>, input: I, work: Work<I, T>) -> StoreResult<T>
    where
        I: Send + Sync + 'static,
        T: Send + 'static,
    {
        self.queue(key, input, work, false).await
    }

    /// Queues a job that runs in a transaction of its own ([`Job::alone`]).
    async fn write_alone<I, T>(&self, key: Option<&str>, input: I, work: Work<I, T>) -> StoreResult<T>
    where
        I: Send + Sync + 'static,
        T: Send + 'static,
    {
        self.queue(key, input, work, true).await
    }

    async fn queue<I, T>(&self, key: Option<&str>, input: I, work: Work<I, T>, alone: bool) -> StoreResult<T>
    where
        I: Send + Sync + 'static,
        T: Send + 'static,
    {
        if self.shared.closed.load(Ordering::Relaxed) {
            return Err(StoreError::Unavailable("shutting down".into()));
        }
        let lanes = read_lock(&self.shared.lanes).clone();
        let n = lanes.len();
        if n == 0 {
            return Err(StoreError::Unavailable("shutting down".into()));
        }
        let k = match key {
            Some(key) => {
                let h = key
                    .bytes()
                    .fold(0xcbf2_9ce4_8422_2325_u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3));
                (h % n as u64) as usize
            }
            None => self.shared.next_lane.fetch_add(1, Ordering::Relaxed) % n,
        };
        let (reply, answer) = oneshot::channel();
        let job: Box<dyn Job> = Box::new(FnJob { input, work, alone, result: None, reply });
        self.shared.depth.fetch_add(1, Ordering::Relaxed);
        if let Err(e) = lanes[k].try_send(job) {
            self.shared.depth.fetch_sub(1, Ordering::Relaxed);
            return Err(match e {
                mpsc::error::TrySendError::Full(_) => StoreError::Overloaded,
                mpsc::error::TrySendError::Closed(_) => StoreError::Unavailable("writer stopped".into()),
            });
        }
        answer.await.map_err(|_| StoreError::Unavailable("writer stopped".into()))?
    }

    /// Issues an enrollment code, audited as issued by `actor` (the command line says `cli`).
    pub async fn create_enroll_code_as(
        &self,
        site: SiteId,
        ttl_hours: u32,
        role: DeviceRole,
        actor: &str,
    ) -> StoreResult<EnrollCode> {
        self.write(None, (site, ttl_hours, role, actor.to_string()), enroll_code_work).await
    }

    async fn reader(&self) -> StoreResult<Object> {
        self.shared.pool.get().await.map_err(pool_error)
    }

    /// Runs `f` on a pooled connection outside any write transaction.
    async fn read<T>(&self, f: impl AsyncFnOnce(&Object) -> R<T>) -> StoreResult<T> {
        let conn = self.reader().await?;
        f(&conn).await.map_err(Fail::into_store)
    }
}

fn read_lock<T>(l: &std::sync::RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    l.read().unwrap_or_else(|p| p.into_inner())
}

fn write_lock<T>(l: &std::sync::RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    l.write().unwrap_or_else(|p| p.into_inner())
}

/// One writer lane: one connection, groups of jobs, one commit per group.
struct Lane {
    name: String,
    pool: Pool,
    clock: Arc<dyn Clock>,
    depth: Arc<AtomicUsize>,
    max_group: usize,
}

/// How often a job that lost a race is decided again before the caller is told to retry.
const RACE_RETRIES: usize = 8;

impl Lane {
    async fn run(self, mut rx: mpsc::Receiver<Box<dyn Job>>) {
        let mut conn: Option<Object> = None;
        // A job that must run alone, taken from the queue while filling a group: the next
        // group's first.
        let mut held: Option<Box<dyn Job>> = None;
        loop {
            let first = match held.take() {
                Some(j) => j,
                None => match rx.recv().await {
                    Some(j) => j,
                    None => break,
                },
            };
            let mut jobs = vec![first];
            while jobs.len() < self.max_group && !jobs[0].alone() {
                match rx.try_recv() {
                    Ok(j) if j.alone() => {
                        held = Some(j);
                        break;
                    }
                    Ok(j) => jobs.push(j),
                    Err(_) => break,
                }
            }
            self.depth.fetch_sub(jobs.len(), Ordering::Relaxed);
            if conn.is_none() {
                match self.pool.get().await {
                    Ok(c) => conn = Some(c),
                    Err(e) => {
                        let e = pool_error(e);
                        tracing::warn!(lane = %self.name, error = %e, "no database connection");
                        for job in jobs {
                            job.finish(Err(e.clone_shallow()));
                        }
                        continue;
                    }
                }
            }
            let Some(c) = conn.take() else { continue };
            let started = std::time::Instant::now();
            let mut ctx = Ctx {
                conn: c,
                now: self.clock.now(),
                lane: self.name.clone(),
                next_cursor: 0,
                cursor_end: 0,
                audit: audit::Heads::default(),
                leases: crate::outcome::LeaseTally::default(),
            };
            // A group runs on a task of its own: should a job panic (a bug), the lane lives on.
            // The panicking group's connection is dropped (PostgreSQL rolls its transaction
            // back) and its callers are told the writer stopped (503), never left waiting.
            let group = tokio::spawn(async move {
                let outcome = run_group(&mut ctx, &mut jobs).await;
                (ctx, jobs, outcome)
            });
            let (ctx, jobs, outcome) = match group.await {
                Ok(done) => done,
                Err(e) => {
                    tracing::error!(lane = %self.name, error = %e, "a write group panicked; its writes were rolled back");
                    metrics::counter!("frontdesk_pg_group_panics_total").increment(1);
                    continue;
                }
            };
            let committed = match outcome {
                Ok(()) => {
                    ctx.leases.record();
                    Ok(())
                }
                Err(e) => {
                    let e = e.into_store();
                    if !ctx.conn.is_closed() {
                        let _ = ctx.conn.batch_execute("ROLLBACK").await;
                    }
                    if let StoreError::Internal(detail) = &e {
                        tracing::error!(lane = %self.name, %detail, "group rolled back");
                    }
                    Err(e)
                }
            };
            if !ctx.conn.is_closed() {
                conn = Some(ctx.conn);
            }
            metrics::histogram!("frontdesk_commit_seconds").record(started.elapsed().as_secs_f64());
            metrics::histogram!("frontdesk_commit_group_size").record(jobs.len() as f64);
            for job in jobs {
                job.finish(committed.as_ref().map(|_| ()).map_err(StoreError::clone_shallow));
            }
        }
        tracing::info!(lane = %self.name, "lane stopped: every queued write was committed");
    }
}

async fn run_group(ctx: &mut Ctx, jobs: &mut [Box<dyn Job>]) -> R<()> {
    ctx.conn.batch_execute("BEGIN ISOLATION LEVEL READ COMMITTED").await?;
    // The transaction id is assigned now, before any change is logged: every cursor of this
    // transaction is derived from it (see `rows::log_change`).
    let xid: i64 = ctx.conn.query_one("SELECT pg_current_xact_id()::text::bigint", &[]).await?.get(0);
    ctx.next_cursor = xid << CURSOR_BITS;
    ctx.cursor_end = (xid + 1) << CURSOR_BITS;
    for job in jobs.iter_mut() {
        let mut tries = 0;
        loop {
            ctx.conn.batch_execute("SAVEPOINT job").await?;
            let mark = (ctx.audit.clone(), ctx.leases);
            let r = job.run(ctx).await;
            match r {
                Ok(()) if !job.failed() => {
                    ctx.conn.batch_execute("RELEASE job").await?;
                    break;
                }
                Ok(()) => {
                    // Refused or invalid: undo whatever it wrote before it knew.
                    ctx.conn.batch_execute("ROLLBACK TO job; RELEASE job").await?;
                    (ctx.audit, ctx.leases) = mark.clone();
                    break;
                }
                Err(Fail::Db(e)) if is_race(&e) && tries < RACE_RETRIES && !ctx.conn.is_closed() => {
                    ctx.conn.batch_execute("ROLLBACK TO job; RELEASE job").await?;
                    (ctx.audit, ctx.leases) = mark.clone();
                    tries += 1;
                    metrics::counter!("frontdesk_pg_job_retries_total").increment(1);
                }
                Err(Fail::Db(e)) if ctx.conn.is_closed() || e.code().is_none() => return Err(Fail::Db(e)),
                Err(e) => {
                    ctx.conn.batch_execute("ROLLBACK TO job; RELEASE job").await?;
                    (ctx.audit, ctx.leases) = mark.clone();
                    let e = e.into_store();
                    let e = match e {
                        StoreError::Internal(d) if tries >= RACE_RETRIES => {
                            StoreError::Unavailable(format!("too much contention, retry: {d}"))
                        }
                        other => other,
                    };
                    if let StoreError::Internal(detail) = &e {
                        tracing::error!(%detail, "job failed");
                    }
                    job.fail(e);
                    break;
                }
            }
        }
    }
    audit::flush(ctx).await?;
    ctx.conn.batch_execute("COMMIT").await?;
    Ok(())
}

impl StoreError {
    /// A copy of this error for every job of a failed group (the detail text is kept).
    fn clone_shallow(&self) -> StoreError {
        match self {
            StoreError::NotFound(s) => StoreError::NotFound(s.clone()),
            StoreError::Forbidden(s) => StoreError::Forbidden(s.clone()),
            StoreError::Unauthorized(s) => StoreError::Unauthorized(s.clone()),
            StoreError::Invalid { code, message, fields } => {
                StoreError::Invalid { code: code.clone(), message: message.clone(), fields: fields.clone() }
            }
            StoreError::Refused(r) => StoreError::Refused(r.clone()),
            StoreError::Overloaded => StoreError::Overloaded,
            StoreError::Unavailable(s) => StoreError::Unavailable(s.clone()),
            StoreError::Internal(s) => StoreError::Internal(s.clone()),
        }
    }
}

fn push_work<'a>(
    ctx: &'a mut Ctx,
    i: &'a (DeviceAuth, PushRequest),
) -> BoxFut<'a, R<(PushResponse, crate::outcome::OpCounts)>> {
    Box::pin(push::apply_batch(ctx, &i.0, &i.1))
}

fn book_online_work<'a>(
    ctx: &'a mut Ctx,
    i: &'a (SiteId, OnlineBookingRequest, crate::outcome::Fresh),
) -> BoxFut<'a, R<OnlineBooking>> {
    Box::pin(online::book(ctx, &i.0, &i.1, &i.2))
}

fn cancel_online_work<'a>(ctx: &'a mut Ctx, i: &'a (BookingId, String)) -> BoxFut<'a, R<OnlineCancelled>> {
    Box::pin(online::cancel(ctx, &i.0, &i.1))
}

fn enroll_code_work<'a>(ctx: &'a mut Ctx, i: &'a (SiteId, u32, DeviceRole, String)) -> BoxFut<'a, R<EnrollCode>> {
    Box::pin(admin::create_enroll_code(ctx, &i.0, i.1, i.2, &i.3))
}

fn enroll_work<'a>(ctx: &'a mut Ctx, i: &'a (String, String)) -> BoxFut<'a, R<EnrollResponse>> {
    Box::pin(admin::enroll(ctx, &i.0, &i.1))
}

fn revoke_work<'a>(ctx: &'a mut Ctx, i: &'a (DeviceId, String)) -> BoxFut<'a, R<()>> {
    Box::pin(admin::revoke_device(ctx, &i.0, &i.1))
}

fn touch_work<'a>(ctx: &'a mut Ctx, i: &'a (DeviceId, u64, Option<Timestamp>)) -> BoxFut<'a, R<()>> {
    Box::pin(admin::touch_device(ctx, &i.0, i.1, i.2))
}

fn put_site_work<'a>(ctx: &'a mut Ctx, i: &'a Site) -> BoxFut<'a, R<Site>> {
    Box::pin(admin::put_site(ctx, i))
}

fn put_department_work<'a>(ctx: &'a mut Ctx, i: &'a Department) -> BoxFut<'a, R<Department>> {
    Box::pin(admin::put_department(ctx, i))
}

fn put_provider_work<'a>(ctx: &'a mut Ctx, i: &'a Provider) -> BoxFut<'a, R<Provider>> {
    Box::pin(admin::put_provider(ctx, i))
}

fn generate_work<'a>(ctx: &'a mut Ctx, i: &'a (SiteId, GenerateSessions)) -> BoxFut<'a, R<GeneratedSessions>> {
    Box::pin(admin::generate_sessions(ctx, &i.0, &i.1))
}

fn suspend_work<'a>(ctx: &'a mut Ctx, i: &'a (SessionId, Option<String>, String)) -> BoxFut<'a, R<Session>> {
    Box::pin(admin::set_session_suspended(ctx, &i.0, i.1.clone(), &i.2))
}

fn delete_session_work<'a>(ctx: &'a mut Ctx, i: &'a SessionId) -> BoxFut<'a, R<()>> {
    Box::pin(admin::delete_session(ctx, i))
}

fn pools_work<'a>(ctx: &'a mut Ctx, i: &'a (SessionId, u32)) -> BoxFut<'a, R<Vec<Slot>>> {
    Box::pin(admin::set_session_pools(ctx, &i.0, i.1))
}

fn audit_work<'a>(ctx: &'a mut Ctx, i: &'a AuditEntry) -> BoxFut<'a, R<()>> {
    Box::pin(audit::append(ctx, &i.site_id, &i.actor, &i.action, &i.detail))
}

fn seed_work<'a>(ctx: &'a mut Ctx, i: &'a (SiteId, u16)) -> BoxFut<'a, R<()>> {
    Box::pin(admin::seed_demo(ctx, &i.0, i.1))
}

fn leases_work<'a>(ctx: &'a mut Ctx, i: &'a (DeviceAuth, LeaseRequest)) -> BoxFut<'a, R<LeaseAnswer>> {
    Box::pin(lease::request(ctx, &i.0, &i.1))
}

fn lease_round_work<'a>(ctx: &'a mut Ctx, i: &'a SiteId) -> BoxFut<'a, R<LeaseRound>> {
    Box::pin(lease::round_site(ctx, i))
}

type PolicyChange = (SiteId, Option<LeasePolicy>, String);

fn lease_policy_work<'a>(ctx: &'a mut Ctx, i: &'a PolicyChange) -> BoxFut<'a, R<Option<LeasePolicy>>> {
    Box::pin(lease::set_policy(ctx, &i.0, i.1, &i.2))
}

/// Sets (`Some`) or clears (`None`) a site's lease policy in the database at `url`, audited as
/// done by `actor`: what `frontdesk-central lease-policy` runs beside the serving processes (it
/// opens a small store of its own, with the clock of `FRONTDESK_NOW`, and closes it).
pub async fn set_lease_policy_as(
    url: &str,
    site: &SiteId,
    policy: Option<LeasePolicy>,
    actor: &str,
) -> StoreResult<Option<LeasePolicy>> {
    let clock = crate::clock_from_env().map_err(|e| StoreError::invalid("clock_invalid", e.to_string()))?;
    let options = PgOptions { lanes: 1, read_connections: 1, instance: "cli".into(), ..PgOptions::default() };
    let store = PgStore::open(url, clock, options).await?;
    let r = store.write_alone(None, (site.clone(), policy, actor.to_string()), lease_policy_work).await;
    store.close().await;
    r
}

impl Store for PgStore {
    fn push(&self, device: DeviceAuth, req: PushRequest) -> BoxFut<'_, StoreResult<PushResponse>> {
        Box::pin(async move {
            let key = device.device_id.to_string();
            let (resp, counts) = self.write(Some(&key), (device, req), push_work).await?;
            for (kind, status, reason) in counts {
                metrics::counter!("frontdesk_ops_total", "kind" => kind, "outcome" => status, "reason" => reason)
                    .increment(1);
            }
            Ok(resp)
        })
    }

    fn pull(
        &self,
        device: DeviceAuth,
        cursor: u64,
        limit: u32,
        pending: Option<u64>,
    ) -> BoxFut<'_, StoreResult<PullResponse>> {
        Box::pin(async move {
            // Nothing pending when the request arrived: every spend the desk made before its
            // deadlines has been pushed (never later than the arrival).
            let clean_at = (pending == Some(0)).then(|| self.shared.clock.now());
            let resp = read::pull(&self.shared.pool, &device, cursor, limit, self.shared.clock.as_ref(), clean_at)
                .await
                .map_err(Fail::into_store)?;
            // Sync health for the admin's device list, and what the desk was served (a page
            // with the desk's own leases, or a clean pull, was recorded before it was
            // answered): not worth making the puller wait.
            let next = resp.next_cursor;
            let store = self.clone();
            tokio::spawn(async move {
                let _ = store.write(None, (device.device_id, next, clean_at), touch_work).await;
            });
            Ok(resp)
        })
    }

    fn authenticate(&self, token_hash: String) -> BoxFut<'_, StoreResult<Option<DeviceAuth>>> {
        Box::pin(async move { self.read(async |c| read::authenticate(c, &token_hash).await).await })
    }

    fn create_enroll_code_for(
        &self,
        site: SiteId,
        ttl_hours: u32,
        role: DeviceRole,
    ) -> BoxFut<'_, StoreResult<EnrollCode>> {
        Box::pin(self.write(None, (site, ttl_hours, role, "admin".to_string()), enroll_code_work))
    }

    fn enroll(&self, code: String, name: String) -> BoxFut<'_, StoreResult<EnrollResponse>> {
        Box::pin(self.write(None, (code, name), enroll_work))
    }

    fn devices(&self, site: Option<SiteId>) -> BoxFut<'_, StoreResult<Vec<DeviceInfo>>> {
        Box::pin(async move { self.read(async |c| read::devices(c, site.as_ref()).await).await })
    }

    fn revoke_device(&self, device: DeviceId, actor: String) -> BoxFut<'_, StoreResult<()>> {
        Box::pin(self.write(None, (device, actor), revoke_work))
    }

    fn availability(&self, site: SiteId, q: AvailabilityQuery) -> BoxFut<'_, StoreResult<Availability>> {
        let now = self.shared.clock.now();
        Box::pin(async move { self.read(async |c| read::availability(c, &site, &q, now).await).await })
    }

    fn book_online(&self, site: SiteId, req: OnlineBookingRequest) -> BoxFut<'_, StoreResult<OnlineBooking>> {
        Box::pin(async move {
            let fresh = crate::outcome::Fresh::mint()?;
            let r = self.write(None, (site, req, fresh), book_online_work).await;
            crate::outcome::count_online(&r);
            r
        })
    }

    fn cancel_online(&self, booking: BookingId, ticket_code: String) -> BoxFut<'_, StoreResult<OnlineCancelled>> {
        Box::pin(self.write(None, (booking, ticket_code), cancel_online_work))
    }

    fn sites(&self) -> BoxFut<'_, StoreResult<Vec<Site>>> {
        Box::pin(async move { self.read(async |c| read::sites(c).await).await })
    }

    fn put_site(&self, site: Site) -> BoxFut<'_, StoreResult<Site>> {
        Box::pin(self.write(None, site, put_site_work))
    }

    fn put_department(&self, dept: Department) -> BoxFut<'_, StoreResult<Department>> {
        Box::pin(self.write(None, dept, put_department_work))
    }

    fn put_provider(&self, provider: Provider) -> BoxFut<'_, StoreResult<Provider>> {
        Box::pin(self.write(None, provider, put_provider_work))
    }

    fn generate_sessions(&self, site: SiteId, req: GenerateSessions) -> BoxFut<'_, StoreResult<GeneratedSessions>> {
        Box::pin(self.write(None, (site, req), generate_work))
    }

    fn set_session_suspended(
        &self,
        session: SessionId,
        reason: Option<String>,
        actor: String,
    ) -> BoxFut<'_, StoreResult<Session>> {
        Box::pin(self.write(None, (session, reason, actor), suspend_work))
    }

    fn delete_session(&self, session: SessionId) -> BoxFut<'_, StoreResult<()>> {
        Box::pin(self.write(None, session, delete_session_work))
    }

    fn set_session_pools(&self, session: SessionId, desk_per_slot: u32) -> BoxFut<'_, StoreResult<Vec<Slot>>> {
        Box::pin(self.write(None, (session, desk_per_slot), pools_work))
    }

    fn audit(&self, entry: AuditEntry) -> BoxFut<'_, StoreResult<()>> {
        Box::pin(self.write(None, entry, audit_work))
    }

    fn verify_audit(&self, site: Option<String>) -> BoxFut<'_, StoreResult<Vec<AuditReport>>> {
        Box::pin(async move { self.read(async |c| audit::verify_chains(c, site.as_deref()).await).await })
    }

    fn leases(&self, device: DeviceAuth, req: LeaseRequest) -> BoxFut<'_, StoreResult<LeaseAnswer>> {
        Box::pin(async move {
            // On the device's lane, like its pushes: one desk's requests queue in one place.
            let key = device.device_id.to_string();
            let mut answer = self.write_alone(Some(&key), (device, req), leases_work).await?;
            // The platform's clock as the answer leaves: the desk counts the time left from
            // here, so the later the safer.
            answer.server_now = self.shared.clock.now();
            Ok(answer)
        })
    }

    fn lease_round(&self) -> BoxFut<'_, StoreResult<LeaseRound>> {
        Box::pin(async move {
            let sites = self.read(async |c| lease::policy_sites(c).await).await?;
            let mut round = LeaseRound::default();
            // One transaction per site: a site's grants hold its policy row only briefly.
            for site in sites {
                let done = self.write_alone(None, site, lease_round_work).await?;
                round.granted += done.granted;
                round.expired += done.expired;
            }
            Ok(round)
        })
    }

    fn set_lease_policy(
        &self,
        site: SiteId,
        policy: Option<LeasePolicy>,
        actor: String,
    ) -> BoxFut<'_, StoreResult<Option<LeasePolicy>>> {
        Box::pin(self.write_alone(None, (site, policy, actor), lease_policy_work))
    }

    fn site_leases(&self, site: SiteId) -> BoxFut<'_, StoreResult<SiteLeases>> {
        let now = self.shared.clock.now();
        Box::pin(async move { self.read(async |c| lease::site_leases(c, &site, now).await).await })
    }

    fn seed_demo(&self, site: SiteId, days: u16) -> BoxFut<'_, StoreResult<()>> {
        Box::pin(self.write(None, (site, days), seed_work))
    }

    fn feed(&self, after: u64, limit: u32) -> BoxFut<'_, StoreResult<crate::store::Feed>> {
        Box::pin(async move { self.read(async |c| read::feed(c, after, limit).await).await })
    }

    fn now(&self) -> Timestamp {
        self.shared.clock.now()
    }

    fn ready(&self) -> BoxFut<'_, StoreResult<()>> {
        Box::pin(async move {
            if self.shared.closed.load(Ordering::Relaxed) {
                return Err(StoreError::Unavailable("shutting down".into()));
            }
            let check = async {
                let c = self.reader().await?;
                c.simple_query("SELECT 1").await.map_err(db_error)?;
                Ok::<(), StoreError>(())
            };
            match tokio::time::timeout(Duration::from_secs(3), check).await {
                Ok(r) => r,
                Err(_) => Err(StoreError::Unavailable("the database did not answer in 3 s".into())),
            }
        })
    }

    fn queue_depth(&self) -> usize {
        self.shared.depth.load(Ordering::Relaxed)
    }

    fn close(&self) -> BoxFut<'_, ()> {
        Box::pin(async move {
            self.shared.closed.store(true, Ordering::Relaxed);
            // Dropping the senders ends each lane once it has committed what is queued.
            write_lock(&self.shared.lanes).clear();
            let tasks: Vec<_> = std::mem::take(&mut *self.shared.lane_tasks.lock().unwrap_or_else(|p| p.into_inner()));
            for t in tasks {
                let _ = t.await;
            }
            self.shared.pool.close();
        })
    }
}
