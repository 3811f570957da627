//! The embedded SQLite back-end.
//!
//! **One writer, group commit.** A single thread owns the only read-write connection. Every
//! write — a push batch, an online booking, an admin change — is a job queued to it. The
//! writer takes the first job, drains whatever else is queued (up to
//! [`SqliteOptions::max_group`] jobs),
//! opens one `BEGIN IMMEDIATE` transaction, runs the jobs one after the other, commits once —
//! `synchronous=FULL`, so the commit is fsynced — and only then answers every job. Confirmed
//! therefore means durable, and the cost of the fsync is shared by everyone who arrived while
//! the previous group was committing.
//!
//! **Atomicity per job and per op without savepoint costs.** The hot jobs (online booking,
//! push) *decide before they write*: every refusal (a conflict, a rejection, a full slot) is
//! found before the first write, so a refused op or job leaves nothing to undo. Their only
//! failure after a write is an internal one (I/O, corruption), and that aborts the whole
//! group: it is rolled back and every job in it is answered with an error, nothing of it
//! acknowledged. Admin jobs, which are rare, still run inside their own `SAVEPOINT`.
//!
//! The single writer is also what keeps the change log honest: cursors are handed out in
//! commit order, so a reader (WAL snapshot on its own read-only connection) can never see a
//! change appear behind a cursor it has already passed.

mod admin;
mod audit;
mod booking;
mod leases;
mod online;
mod push;
mod queue;
mod read;
mod rows;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};

use frontdesk_domain::clock::Clock;
use frontdesk_domain::lease::LeasePolicy;
use frontdesk_domain::schedule::{
    BookingId, Department, DepartmentId, DeviceId, Provider, Session, SessionId, Site, SiteId,
};
use frontdesk_protocol::admin::{AuditReport, GenerateSessions, GeneratedSessions, SiteLeases};
use frontdesk_protocol::enroll::{DeviceInfo, DeviceRole, EnrollCode, EnrollResponse};
use frontdesk_protocol::online::{
    Availability, AvailabilityQuery, OnlineBooking, OnlineBookingRequest, OnlineCancelled,
};
use frontdesk_protocol::sync::{LeaseAnswer, LeaseRequest, PullResponse, PushRequest, PushResponse, Record};
use jiff::Timestamp;
use rusqlite::{Connection, OpenFlags};
use rusqlite_migration::{M, Migrations};
use tokio::sync::oneshot;

use crate::error::{StoreError, StoreResult};
use crate::store::{AuditEntry, BoxFut, DeviceAuth, LeaseRound, Store};

pub use audit::verify_chains;

const MIGRATION_SLICE: &[M<'static>] = &[
    M::up(include_str!("../../../../migrations/central/sqlite/0001_init.sql")),
    M::up(include_str!("../../../../migrations/central/sqlite/0002_leaner_writes.sql")),
    M::up(include_str!("../../../../migrations/central/sqlite/0003_audit_without_site_index.sql")),
    M::up(include_str!("../../../../migrations/central/sqlite/0004_leases.sql")),
    M::up(include_str!("../../../../migrations/central/sqlite/0005_queue.sql")),
];
const MIGRATIONS: Migrations<'static> = Migrations::from_slice(MIGRATION_SLICE);

/// Options of the SQLite store.
#[derive(Debug, Clone)]
pub struct SqliteOptions {
    /// Jobs that may wait for the writer before new writes are shed (`503`).
    pub queue_capacity: usize,
    /// At most this many jobs share one commit. Smaller groups answer their callers sooner,
    /// so request handling overlaps with the next group's work; larger ones share an fsync
    /// among more writes.
    pub max_group: usize,
}

impl Default for SqliteOptions {
    fn default() -> Self {
        SqliteOptions { queue_capacity: 20_000, max_group: 256 }
    }
}

/// Opens a connection with the platform's per-connection settings.
pub fn open_connection(path: &Path, read_only: bool) -> StoreResult<Connection> {
    let flags = if read_only {
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX | OpenFlags::SQLITE_OPEN_URI
    } else {
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
            | OpenFlags::SQLITE_OPEN_URI
    };
    let conn = Connection::open_with_flags(path, flags)?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    if !read_only {
        let mode: String = conn.query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StoreError::Internal(format!("could not switch to WAL (journal_mode={mode})")));
        }
    }
    // FULL: a commit is fsynced before it returns, so an answered write survives a crash.
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    // A group's transaction touches many pages: keep them in memory instead of spilling.
    conn.pragma_update(None, "cache_size", if read_only { -16_384 } else { -131_072 })?;
    if !read_only {
        // Checkpoints run on their own thread (see `checkpoint_loop`); this is only the
        // backstop should that thread fall far behind.
        conn.pragma_update(None, "wal_autocheckpoint", 100_000)?;
    }
    conn.set_prepared_statement_cache_capacity(64);
    Ok(conn)
}

/// Opens (creating if needed) the database file and brings its schema up to date.
pub fn open_and_migrate(path: &Path) -> StoreResult<Connection> {
    let mut conn = open_connection(path, false)?;
    MIGRATIONS.to_latest(&mut conn).map_err(|e| StoreError::Internal(format!("migrations: {e}")))?;
    Ok(conn)
}

/// How a job ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum JobEnd {
    /// Done; its writes stand.
    Done,
    /// Refused before writing anything (or inside its own savepoint, rolled back).
    Refused,
    /// Failed after it may have written, outside a savepoint: the group must roll back.
    Broken,
}

/// A write job as the writer thread sees it.
trait Job: Send {
    /// True when the job runs inside its own savepoint.
    fn wants_savepoint(&self) -> bool;
    /// Runs the job.
    fn run(&mut self, ctx: &mut WriteCtx<'_>) -> JobEnd;
    /// Called once the group's transaction committed (or failed to).
    fn finish(self: Box<Self>, committed: Result<(), String>);
}

struct FnJob<T, F> {
    savepoint: bool,
    work: Option<F>,
    result: Option<StoreResult<T>>,
    reply: oneshot::Sender<StoreResult<T>>,
}

impl<T, F> Job for FnJob<T, F>
where
    T: Send,
    F: FnOnce(&mut WriteCtx<'_>) -> StoreResult<T> + Send,
{
    fn wants_savepoint(&self) -> bool {
        self.savepoint
    }

    fn run(&mut self, ctx: &mut WriteCtx<'_>) -> JobEnd {
        let Some(work) = self.work.take() else { return JobEnd::Refused };
        let r = work(ctx);
        let end = match &r {
            Ok(_) => JobEnd::Done,
            Err(StoreError::Internal(_)) => JobEnd::Broken,
            Err(_) => JobEnd::Refused,
        };
        self.result = Some(r);
        end
    }

    fn finish(self: Box<Self>, committed: Result<(), String>) {
        let answer = match (committed, self.result) {
            // A refused or invalid job rolled back its own savepoint: its answer stands.
            (_, Some(Err(e))) => Err(e),
            (Ok(()), Some(Ok(v))) => Ok(v),
            (Err(e), Some(Ok(_))) => Err(StoreError::Internal(format!("commit failed: {e}"))),
            (_, None) => Err(StoreError::Internal("job did not run".into())),
        };
        // The caller may have gone away (timeout); the write stands either way.
        let _ = self.reply.send(answer);
    }
}

/// What a job gets to work with: the write connection inside the group's transaction.
pub(crate) struct WriteCtx<'c> {
    /// The connection (inside a transaction and the job's savepoint).
    pub conn: &'c Connection,
    /// The instant the group started.
    pub now: Timestamp,
    /// `now` as stored (RFC 3339), formatted once per group.
    now_text: std::cell::OnceCell<String>,
    next_cursor: u64,
    cache: &'c mut WriterCache,
}

/// Which department-day a slot state belongs to.
pub(crate) type DayKey = (SiteId, DepartmentId, jiff::civil::Date);

/// What the writer keeps in memory between groups. Only the writer changes the rows these
/// mirror, so it can keep them exact: every booking write updates the day's taken numbers,
/// every schedule write drops the day, and a rolled-back savepoint drops the days it touched.
#[derive(Default)]
pub(crate) struct WriterCache {
    sites: HashMap<SiteId, Site>,
    days: HashMap<DayKey, Vec<frontdesk_domain::booking::SlotState>>,
    /// Days changed in memory, in order (a rollback drops those changed after its mark).
    touched: Vec<DayKey>,
    /// Days loaded from the database, in order.
    loaded: Vec<DayKey>,
    /// Booking and schedule writes so far (cached day or not).
    writes: u64,
    /// The audit chains' heads as of this group (flushed to `audit_heads` before the commit).
    audit: audit::Heads,
    /// Which department-day a slot belongs to (a hint: the day's states are the truth).
    slot_days: HashMap<frontdesk_domain::schedule::SlotId, DayKey>,
    /// Lease events of this group, recorded as metrics once it committed.
    lease_tally: crate::outcome::LeaseTally,
    /// `PRAGMA data_version` at the last group: when it changed, another connection (the
    /// command line) committed in between, and nothing cached can be trusted.
    data_version: Option<i64>,
}

/// Where a savepoint started, for [`WriterCache::roll_back_to`].
#[derive(Clone)]
pub(crate) struct CacheMark {
    touched: usize,
    loaded: usize,
    writes: u64,
    audit: audit::Heads,
    lease_tally: crate::outcome::LeaseTally,
}

impl WriterCache {
    fn clear(&mut self) {
        self.sites.clear();
        self.days.clear();
        self.slot_days.clear();
        self.end_group();
    }

    fn end_group(&mut self) {
        self.touched.clear();
        self.loaded.clear();
        // Another process (the CLI) may append to the audit log between groups.
        self.audit = audit::Heads::default();
    }

    fn mark(&self) -> CacheMark {
        CacheMark {
            touched: self.touched.len(),
            loaded: self.loaded.len(),
            writes: self.writes,
            audit: self.audit.clone(),
            lease_tally: self.lease_tally,
        }
    }

    /// A savepoint started at `mark` rolled back: drop the days it changed, and — when it
    /// wrote anything — the days it loaded (they may show its undone writes).
    fn roll_back_to(&mut self, mark: CacheMark) {
        for k in self.touched.drain(mark.touched.min(self.touched.len())..) {
            self.days.remove(&k);
        }
        let loaded: Vec<DayKey> = self.loaded.drain(mark.loaded.min(self.loaded.len())..).collect();
        if self.writes != mark.writes {
            for k in loaded {
                self.days.remove(&k);
            }
        }
        self.sites.clear();
        self.audit = mark.audit;
        self.lease_tally = mark.lease_tally;
    }
}

impl WriteCtx<'_> {
    /// `now` as stored in `created_at` and audit rows.
    pub(crate) fn now_text(&self) -> &str {
        self.now_text.get_or_init(|| self.now.to_string())
    }

    /// Hands out the next change-log cursor.
    fn take_cursor(&mut self) -> u64 {
        let c = self.next_cursor;
        self.next_cursor += 1;
        c
    }

    /// The slot states of a department-day (from memory when the writer has them).
    pub(crate) fn day_states(
        &mut self,
        site: &SiteId,
        dept: &DepartmentId,
        date: jiff::civil::Date,
    ) -> StoreResult<&Vec<frontdesk_domain::booking::SlotState>> {
        let key: DayKey = (site.clone(), dept.clone(), date);
        if !self.cache.days.contains_key(&key) {
            if self.cache.days.len() > 20_000 {
                self.cache.days.clear();
            }
            let states = rows::day_states(self.conn, site, dept, date)?;
            for st in &states {
                self.cache.slot_days.insert(st.slot.id.clone(), key.clone());
            }
            self.cache.days.insert(key.clone(), states);
            self.cache.loaded.push(key.clone());
        }
        self.cache.days.get(&key).ok_or_else(|| StoreError::Internal("day cache".into()))
    }

    /// Where a slot lives: (site, department, date), from memory when the writer knows it.
    pub(crate) fn slot_place(&mut self, id: &frontdesk_domain::schedule::SlotId) -> StoreResult<Option<DayKey>> {
        if let Some(k) = self.cache.slot_days.get(id) {
            return Ok(Some(k.clone()));
        }
        rows::slot_place(self.conn, id)
    }

    /// A booking now holds (`true`) or no longer holds (`false`) its number.
    pub(crate) fn note_number(
        &mut self,
        key: DayKey,
        slot: &frontdesk_domain::schedule::SlotId,
        queue_no: u32,
        holds: bool,
    ) {
        self.cache.writes += 1;
        if let Some(states) = self.cache.days.get_mut(&key) {
            if let Some(st) = states.iter_mut().find(|s| &s.slot.id == slot) {
                if holds {
                    st.taken.push(queue_no);
                    // A booking takes only a free number or the desk's own leased one: no
                    // lease on it stands afterwards.
                    st.leased.retain(|(n, _)| *n != queue_no);
                } else if let Some(i) = st.taken.iter().position(|n| *n == queue_no) {
                    st.taken.swap_remove(i);
                }
            }
            self.cache.touched.push(key);
        }
    }

    /// Number `queue_no` of `slot` is now leased (`Some`: to this desk) or no longer leased
    /// (`None`).
    pub(crate) fn note_lease(
        &mut self,
        slot: &frontdesk_domain::schedule::SlotId,
        queue_no: u32,
        lessee: Option<&DeviceId>,
    ) {
        self.cache.writes += 1;
        // A day that is not in memory is loaded from the database when needed.
        let Some(key) = self.cache.slot_days.get(slot).cloned() else { return };
        let Some(states) = self.cache.days.get_mut(&key) else { return };
        if let Some(st) = states.iter_mut().find(|s| &s.slot.id == slot) {
            st.leased.retain(|(n, _)| *n != queue_no);
            if let Some(device) = lessee {
                st.leased.push((queue_no, device.clone()));
            }
        }
        self.cache.touched.push(key);
    }

    /// Counts lease events of this group (metrics once it committed).
    pub(crate) fn tally_lease(&mut self, event: crate::outcome::LeaseEvent, n: u64) {
        self.cache.lease_tally.add(event, n);
    }

    /// The schedule of a department-day changed: forget it.
    pub(crate) fn forget_day(&mut self, key: &DayKey) {
        self.cache.writes += 1;
        self.cache.days.remove(key);
        self.cache.slot_days.retain(|_, k| k != key);
    }

    /// The site (cached for the writer's life; put_site refreshes it).
    fn site(&mut self, id: &SiteId) -> StoreResult<Site> {
        if let Some(s) = self.cache.sites.get(id) {
            return Ok(s.clone());
        }
        let site = rows::load_site(self.conn, id)?.ok_or_else(|| StoreError::NotFound(format!("site {id}")))?;
        self.cache.sites.insert(id.clone(), site.clone());
        Ok(site)
    }

    fn forget_site(&mut self, id: &SiteId) {
        self.cache.sites.remove(id);
    }
}

struct Shared {
    path: PathBuf,
    clock: Arc<dyn Clock>,
    jobs: Mutex<Option<SyncSender<Box<dyn Job>>>>,
    depth: AtomicUsize,
    writer_alive: AtomicBool,
    idle_readers: Mutex<Vec<Connection>>,
    writer_thread: Mutex<Option<std::thread::JoinHandle<()>>>,
    checkpoint_stop: Mutex<Option<std::sync::mpsc::Sender<()>>>,
    checkpoint_thread: Mutex<Option<std::thread::JoinHandle<()>>>,
}

/// The SQLite store. Cheap to clone.
#[derive(Clone)]
pub struct SqliteStore {
    shared: Arc<Shared>,
}

impl SqliteStore {
    /// Opens the database at `path` (created and migrated if needed) and starts the writer.
    pub fn open(path: &Path, clock: Arc<dyn Clock>, options: SqliteOptions) -> StoreResult<SqliteStore> {
        let conn = open_and_migrate(path)?;
        let (tx, rx) = std::sync::mpsc::sync_channel::<Box<dyn Job>>(options.queue_capacity.max(1));
        let shared = Arc::new(Shared {
            path: path.to_path_buf(),
            clock,
            jobs: Mutex::new(Some(tx)),
            depth: AtomicUsize::new(0),
            writer_alive: AtomicBool::new(true),
            idle_readers: Mutex::new(Vec::new()),
            writer_thread: Mutex::new(None),
            checkpoint_stop: Mutex::new(None),
            checkpoint_thread: Mutex::new(None),
        });
        let for_writer = shared.clone();
        let handle = std::thread::Builder::new()
            .name("central-writer".into())
            .spawn(move || writer_loop(conn, rx, for_writer, options.max_group.max(1)))
            .map_err(|e| StoreError::Internal(format!("spawn writer: {e}")))?;
        *lock(&shared.writer_thread) = Some(handle);
        let (stop_tx, stop_rx) = std::sync::mpsc::channel::<()>();
        let ckpt_conn = open_connection(path, false)?;
        let handle = std::thread::Builder::new()
            .name("central-checkpoint".into())
            .spawn(move || checkpoint_loop(ckpt_conn, stop_rx))
            .map_err(|e| StoreError::Internal(format!("spawn checkpointer: {e}")))?;
        *lock(&shared.checkpoint_stop) = Some(stop_tx);
        *lock(&shared.checkpoint_thread) = Some(handle);
        Ok(SqliteStore { shared })
    }

    /// Stops taking writes, lets the writer finish (and commit) what is queued, and waits for
    /// it. Call after the HTTP server has drained.
    pub fn close_blocking(&self) {
        lock(&self.shared.jobs).take();
        if let Some(h) = lock(&self.shared.writer_thread).take() {
            let _ = h.join();
        }
        lock(&self.shared.checkpoint_stop).take();
        if let Some(h) = lock(&self.shared.checkpoint_thread).take() {
            let _ = h.join();
        }
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.shared.path
    }

    /// Queues a job that runs inside its own savepoint.
    async fn write<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut WriteCtx<'_>) -> StoreResult<T> + Send + 'static,
    {
        self.enqueue(true, f).await
    }

    /// Queues a job that decides before it writes (see the module docs): no savepoint.
    async fn write_decided<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut WriteCtx<'_>) -> StoreResult<T> + Send + 'static,
    {
        self.enqueue(false, f).await
    }

    async fn enqueue<T, F>(&self, savepoint: bool, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut WriteCtx<'_>) -> StoreResult<T> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let job: Box<dyn Job> = Box::new(FnJob { savepoint, work: Some(f), result: None, reply });
        {
            let guard = lock(&self.shared.jobs);
            let Some(tx) = guard.as_ref() else {
                return Err(StoreError::Unavailable("shutting down".into()));
            };
            self.shared.depth.fetch_add(1, Ordering::Relaxed);
            match tx.try_send(job) {
                Ok(()) => {}
                Err(TrySendError::Full(_)) => {
                    self.shared.depth.fetch_sub(1, Ordering::Relaxed);
                    return Err(StoreError::Overloaded);
                }
                Err(TrySendError::Disconnected(_)) => {
                    self.shared.depth.fetch_sub(1, Ordering::Relaxed);
                    return Err(StoreError::Unavailable("writer stopped".into()));
                }
            }
        }
        answer.await.map_err(|_| StoreError::Unavailable("writer stopped".into()))?
    }

    async fn read<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    {
        let shared = self.shared.clone();
        tokio::task::spawn_blocking(move || {
            let conn = match lock(&shared.idle_readers).pop() {
                Some(c) => c,
                None => open_connection(&shared.path, true)?,
            };
            let r = f(&conn);
            let mut idle = lock(&shared.idle_readers);
            if idle.len() < 16 {
                idle.push(conn);
            }
            r
        })
        .await
        .map_err(|e| StoreError::Internal(format!("reader task: {e}")))?
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Copies committed WAL frames into the database file off the writer's thread (PASSIVE: never
/// blocks the writer or readers), so the writer's commits stay short.
fn checkpoint_loop(conn: Connection, stop: Receiver<()>) {
    while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) = stop.recv_timeout(std::time::Duration::from_millis(200))
    {
        if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
            tracing::warn!(error = %e, "checkpoint failed");
        }
    }
}

/// Marks the writer dead when its thread ends, even by a panic, so `/readyz` tells the truth.
struct AliveGuard(Arc<Shared>);

impl Drop for AliveGuard {
    fn drop(&mut self) {
        self.0.writer_alive.store(false, Ordering::Relaxed);
    }
}

fn writer_loop(conn: Connection, rx: Receiver<Box<dyn Job>>, shared: Arc<Shared>, max_group: usize) {
    let _alive = AliveGuard(shared.clone());
    let mut cache = WriterCache::default();
    while let Ok(first) = rx.recv() {
        let mut jobs = vec![first];
        while jobs.len() < max_group {
            match rx.try_recv() {
                Ok(j) => jobs.push(j),
                Err(_) => break,
            }
        }
        shared.depth.fetch_sub(jobs.len(), Ordering::Relaxed);
        let started = std::time::Instant::now();
        let outcome = run_group(&conn, &shared, &mut cache, &mut jobs);
        let tally = std::mem::take(&mut cache.lease_tally);
        if outcome.is_ok() {
            tally.record();
        }
        if outcome.is_err() {
            let _ = conn.execute_batch("ROLLBACK");
            cache.clear();
        }
        cache.end_group();
        metrics::histogram!("frontdesk_commit_seconds").record(started.elapsed().as_secs_f64());
        metrics::histogram!("frontdesk_commit_group_size").record(jobs.len() as f64);
        for job in jobs {
            job.finish(outcome.clone());
        }
    }
    if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(())) {
        tracing::warn!(error = %e, "final checkpoint failed");
    }
    tracing::info!("writer stopped: every queued write was committed");
}

fn run_group(
    conn: &Connection,
    shared: &Shared,
    cache: &mut WriterCache,
    jobs: &mut [Box<dyn Job>],
) -> Result<(), String> {
    conn.execute_batch("BEGIN IMMEDIATE").map_err(|e| e.to_string())?;
    // Another connection (the command line: a revocation, a lease policy) committed since the
    // last group: what the writer keeps in memory may no longer be true.
    let version: i64 = conn.query_row("PRAGMA data_version", [], |r| r.get(0)).map_err(|e| e.to_string())?;
    if cache.data_version.is_some_and(|v| v != version) {
        cache.clear();
    }
    cache.data_version = Some(version);
    let max: i64 =
        conn.query_row("SELECT COALESCE(MAX(cursor), 0) FROM changes", [], |r| r.get(0)).map_err(|e| e.to_string())?;
    let mut ctx =
        WriteCtx { conn, now: shared.clock.now(), now_text: Default::default(), next_cursor: max as u64 + 1, cache };
    for job in jobs.iter_mut() {
        if job.wants_savepoint() {
            conn.execute_batch("SAVEPOINT job").map_err(|e| e.to_string())?;
            let mark = ctx.cache.mark();
            if job.run(&mut ctx) == JobEnd::Done {
                conn.execute_batch("RELEASE job").map_err(|e| e.to_string())?;
            } else {
                conn.execute_batch("ROLLBACK TO job; RELEASE job").map_err(|e| e.to_string())?;
                ctx.cache.roll_back_to(mark);
            }
        } else if job.run(&mut ctx) == JobEnd::Broken {
            return Err("a job failed after writing; the group is rolled back".into());
        }
    }
    audit::flush(&mut ctx).map_err(|e| e.to_string())?;
    conn.execute_batch("COMMIT").map_err(|e| e.to_string())
}

impl Store for SqliteStore {
    fn push(&self, device: DeviceAuth, req: PushRequest) -> BoxFut<'_, StoreResult<PushResponse>> {
        Box::pin(async move {
            let (resp, counts) = self.write_decided(move |ctx| push::apply_batch(ctx, &device, req)).await?;
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
            let site = device.site_id.clone();
            let now = self.shared.clock.now();
            let resp = self.read(move |c| read::pull(c, &site, cursor, limit, now)).await?;
            let next = resp.next_cursor;
            let clean_at = (pending == Some(0)).then_some(now);
            // A page that sends the desk a lease of its own must be on record before the desk
            // can have it (the round returns an expired lease it never sent), and a clean pull
            // lets leases return: those wait for the write. Otherwise the record is only
            // sync health for the admin's device list, not worth making the puller wait.
            let own_lease =
                resp.changes.iter().any(|c| matches!(&c.record, Record::Lease(l) if l.device_id == device.device_id));
            let id = device.device_id;
            if own_lease || clean_at.is_some() {
                self.write_decided(move |ctx| admin::touch_device(ctx, &id, Some(next), clean_at)).await?;
            } else {
                let store = self.clone();
                tokio::spawn(async move {
                    let _ = store.write_decided(move |ctx| admin::touch_device(ctx, &id, Some(next), None)).await;
                });
            }
            Ok(resp)
        })
    }

    fn authenticate(&self, token_hash: String) -> BoxFut<'_, StoreResult<Option<DeviceAuth>>> {
        Box::pin(self.read(move |c| read::authenticate(c, &token_hash)))
    }

    fn create_enroll_code_for(
        &self,
        site: SiteId,
        ttl_hours: u32,
        role: DeviceRole,
    ) -> BoxFut<'_, StoreResult<EnrollCode>> {
        Box::pin(self.write(move |ctx| admin::create_enroll_code(ctx, &site, ttl_hours, role, "admin")))
    }

    fn enroll(&self, code: String, name: String) -> BoxFut<'_, StoreResult<EnrollResponse>> {
        Box::pin(self.write(move |ctx| admin::enroll(ctx, &code, &name)))
    }

    fn devices(&self, site: Option<SiteId>) -> BoxFut<'_, StoreResult<Vec<DeviceInfo>>> {
        Box::pin(self.read(move |c| read::devices(c, site.as_ref())))
    }

    fn revoke_device(&self, device: DeviceId, actor: String) -> BoxFut<'_, StoreResult<()>> {
        Box::pin(self.write(move |ctx| admin::revoke_device(ctx, &device, &actor)))
    }

    fn availability(&self, site: SiteId, q: AvailabilityQuery) -> BoxFut<'_, StoreResult<Availability>> {
        let now = self.shared.clock.now();
        Box::pin(self.read(move |c| read::availability(c, &site, &q, now)))
    }

    fn book_online(&self, site: SiteId, req: OnlineBookingRequest) -> BoxFut<'_, StoreResult<OnlineBooking>> {
        Box::pin(async move {
            // Ids and the ticket code are minted here, on the request's thread, not the writer's.
            let fresh = crate::outcome::Fresh::mint()?;
            let r = self.write_decided(move |ctx| online::book(ctx, &site, &req, fresh)).await;
            crate::outcome::count_online(&r);
            r
        })
    }

    fn cancel_online(&self, booking: BookingId, ticket_code: String) -> BoxFut<'_, StoreResult<OnlineCancelled>> {
        Box::pin(self.write_decided(move |ctx| online::cancel(ctx, &booking, &ticket_code)))
    }

    fn sites(&self) -> BoxFut<'_, StoreResult<Vec<Site>>> {
        Box::pin(self.read(read::sites))
    }

    fn put_site(&self, site: Site) -> BoxFut<'_, StoreResult<Site>> {
        Box::pin(self.write(move |ctx| admin::put_site(ctx, site)))
    }

    fn put_department(&self, dept: Department) -> BoxFut<'_, StoreResult<Department>> {
        Box::pin(self.write(move |ctx| admin::put_department(ctx, dept)))
    }

    fn put_provider(&self, provider: Provider) -> BoxFut<'_, StoreResult<Provider>> {
        Box::pin(self.write(move |ctx| admin::put_provider(ctx, provider)))
    }

    fn generate_sessions(&self, site: SiteId, req: GenerateSessions) -> BoxFut<'_, StoreResult<GeneratedSessions>> {
        Box::pin(self.write(move |ctx| admin::generate_sessions(ctx, &site, &req)))
    }

    fn set_session_suspended(
        &self,
        session: SessionId,
        reason: Option<String>,
        actor: String,
    ) -> BoxFut<'_, StoreResult<Session>> {
        Box::pin(self.write(move |ctx| admin::set_session_suspended(ctx, &session, reason, &actor)))
    }

    fn delete_session(&self, session: SessionId) -> BoxFut<'_, StoreResult<()>> {
        Box::pin(self.write(move |ctx| admin::delete_session(ctx, &session)))
    }

    fn set_session_pools(
        &self,
        session: SessionId,
        desk_per_slot: u32,
    ) -> BoxFut<'_, StoreResult<Vec<frontdesk_domain::schedule::Slot>>> {
        Box::pin(self.write(move |ctx| admin::set_session_pools(ctx, &session, desk_per_slot)))
    }

    fn audit(&self, entry: AuditEntry) -> BoxFut<'_, StoreResult<()>> {
        Box::pin(self.write(move |ctx| audit::append(ctx, &entry.site_id, &entry.actor, &entry.action, &entry.detail)))
    }

    fn verify_audit(&self, site: Option<String>) -> BoxFut<'_, StoreResult<Vec<AuditReport>>> {
        Box::pin(self.read(move |c| verify_chains(c, site.as_deref())))
    }

    fn leases(&self, device: DeviceAuth, req: LeaseRequest) -> BoxFut<'_, StoreResult<LeaseAnswer>> {
        Box::pin(self.write(move |ctx| leases::request(ctx, &device, &req)))
    }

    fn lease_round(&self) -> BoxFut<'_, StoreResult<LeaseRound>> {
        Box::pin(self.write(leases::round))
    }

    fn set_lease_policy(
        &self,
        site: SiteId,
        policy: Option<LeasePolicy>,
        actor: String,
    ) -> BoxFut<'_, StoreResult<Option<LeasePolicy>>> {
        Box::pin(self.write(move |ctx| leases::set_policy(ctx, &site, policy, &actor)))
    }

    fn site_leases(&self, site: SiteId) -> BoxFut<'_, StoreResult<SiteLeases>> {
        let now = self.shared.clock.now();
        Box::pin(self.read(move |c| leases::site_leases(c, &site, now)))
    }

    fn seed_demo(&self, site: SiteId, days: u16) -> BoxFut<'_, StoreResult<()>> {
        Box::pin(self.write(move |ctx| admin::seed_demo(ctx, &site, days)))
    }

    fn feed(&self, after: u64, limit: u32) -> BoxFut<'_, StoreResult<crate::store::Feed>> {
        Box::pin(self.read(move |c| read::feed(c, after, limit)))
    }

    fn now(&self) -> Timestamp {
        self.shared.clock.now()
    }

    fn ready(&self) -> BoxFut<'_, StoreResult<()>> {
        Box::pin(async move {
            if !self.shared.writer_alive.load(Ordering::Relaxed) || lock(&self.shared.jobs).is_none() {
                return Err(StoreError::Unavailable("writer stopped".into()));
            }
            self.read(|c| {
                c.query_row("SELECT 1", [], |_| Ok(()))?;
                Ok(())
            })
            .await
        })
    }

    fn queue_depth(&self) -> usize {
        self.shared.depth.load(Ordering::Relaxed)
    }

    fn close(&self) -> BoxFut<'_, ()> {
        let me = self.clone();
        Box::pin(async move {
            let _ = tokio::task::spawn_blocking(move || me.close_blocking()).await;
        })
    }
}

/// One-shot administrative access without a running server (the CLI's `enroll-code`,
/// `devices`, `audit verify`): a plain connection, one transaction per command.
pub mod cli {
    use super::*;

    fn with_ctx<T>(path: &Path, now: Timestamp, f: impl FnOnce(&mut WriteCtx<'_>) -> StoreResult<T>) -> StoreResult<T> {
        let conn = open_and_migrate(path)?;
        conn.execute_batch("BEGIN IMMEDIATE")?;
        let max: i64 = conn.query_row("SELECT COALESCE(MAX(cursor), 0) FROM changes", [], |r| r.get(0))?;
        let mut cache = WriterCache::default();
        let mut ctx =
            WriteCtx { conn: &conn, now, now_text: Default::default(), next_cursor: max as u64 + 1, cache: &mut cache };
        match f(&mut ctx).and_then(|v| audit::flush(&mut ctx).map(|()| v)) {
            Ok(v) => {
                conn.execute_batch("COMMIT")?;
                Ok(v)
            }
            Err(e) => {
                conn.execute_batch("ROLLBACK")?;
                Err(e)
            }
        }
    }

    /// Issues an enrollment code.
    pub fn enroll_code(
        path: &Path,
        now: Timestamp,
        site: &SiteId,
        ttl_hours: u32,
        role: DeviceRole,
    ) -> StoreResult<EnrollCode> {
        with_ctx(path, now, |ctx| admin::create_enroll_code(ctx, site, ttl_hours, role, "cli"))
    }

    /// Lists devices.
    pub fn devices(path: &Path, site: Option<&SiteId>) -> StoreResult<Vec<DeviceInfo>> {
        let conn = open_and_migrate(path)?;
        read::devices(&conn, site)
    }

    /// Revokes a device.
    pub fn revoke(path: &Path, now: Timestamp, device: &DeviceId) -> StoreResult<()> {
        with_ctx(path, now, |ctx| admin::revoke_device(ctx, device, "cli"))
    }

    /// Sets (`Some`) or clears (`None`) a site's lease policy; clearing takes back every lease
    /// of the site. A server running on the same file notices at its next write.
    pub fn set_lease_policy(
        path: &Path,
        now: Timestamp,
        site: &SiteId,
        policy: Option<LeasePolicy>,
    ) -> StoreResult<Option<LeasePolicy>> {
        with_ctx(path, now, |ctx| leases::set_policy(ctx, site, policy, "cli"))
    }

    /// A site's lease policy and each desk's leases.
    pub fn site_leases(path: &Path, now: Timestamp, site: &SiteId) -> StoreResult<SiteLeases> {
        let conn = open_and_migrate(path)?;
        leases::site_leases(&conn, site, now)
    }

    /// Verifies the audit chains.
    pub fn verify_audit(path: &Path, site: Option<&str>) -> StoreResult<Vec<AuditReport>> {
        let conn = open_connection(path, true)?;
        verify_chains(&conn, site)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use frontdesk_domain::clock::ManualClock;
    use frontdesk_domain::schedule::{Period, SessionTemplate, SlotId};
    use frontdesk_protocol::online::OnlinePatient;
    use frontdesk_protocol::sync::{LeaseRequest, PushRequest};

    fn patient(n: u64) -> OnlinePatient {
        crate::demo::patient(n)
    }

    /// The writer's in-memory slot states must equal the database after bookings, refusals,
    /// cancellations, schedule changes and rolled-back admin jobs.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn writer_cache_matches_the_database() {
        let dir = tempfile::tempdir().unwrap();
        let now: Timestamp = "2026-11-23T07:00:00+08:00".parse().unwrap();
        let clock = Arc::new(ManualClock::new(now));
        let store = SqliteStore::open(&dir.path().join("c.db"), clock.clone(), SqliteOptions::default()).unwrap();
        store.seed_demo(SiteId::from("demo"), 2).await.unwrap();
        let site = SiteId::from("demo");
        let mut booked = Vec::new();
        for i in 0..40u64 {
            let req = OnlineBookingRequest {
                patient: patient(i % 30),
                slot_id: Some(SlotId(format!("demo-nk-1-20261123-am-{:02}", 1 + i % 3))),
                department: None,
                date: None,
            };
            if let Ok(b) = store.book_online(site.clone(), req).await {
                booked.push(b);
            }
        }
        assert!(booked.len() >= 10);
        for b in booked.iter().step_by(3) {
            store.cancel_online(b.booking_id.clone(), b.ticket_code.to_string()).await.unwrap();
        }
        // A refused admin job (rolled back in its savepoint) and a schedule change.
        let bad = GenerateSessions {
            provider_id: "demo-nk-1".into(),
            templates: vec![SessionTemplate {
                weekdays: vec![1],
                period: Period::Evening,
                start: jiff::civil::time(18, 0, 0, 0),
                end: jiff::civil::time(19, 0, 0, 0),
                slot_minutes: 30,
                per_slot: 1,
                desk_per_slot: 2,
                room: None,
            }],
            from: jiff::civil::date(2026, 11, 23),
            days: 1,
        };
        assert!(store.generate_sessions(site.clone(), bad).await.is_err());
        store.set_session_suspended("demo-nk-1-20261123-am".into(), Some("out".into()), "test".into()).await.unwrap();
        for i in 40..60u64 {
            let req =
                OnlineBookingRequest { patient: patient(i), slot_id: None, department: Some("NK".into()), date: None };
            let _ = store.book_online(site.clone(), req).await;
        }
        store.set_session_suspended("demo-nk-1-20261123-am".into(), None, "test".into()).await.unwrap();
        for i in 60..70u64 {
            let req =
                OnlineBookingRequest { patient: patient(i), slot_id: None, department: Some("NK".into()), date: None };
            let _ = store.book_online(site.clone(), req).await;
        }
        // Capacity leases: granted, spent, given back, taken back with a revoked desk, expired.
        let mut desks = Vec::new();
        for name in ["a", "b"] {
            let code = store.create_enroll_code(site.clone(), 1).await.unwrap();
            let e = store.enroll(code.code, name.into()).await.unwrap();
            desks.push(DeviceAuth { device_id: e.device_id, site_id: site.clone(), role: e.role });
        }
        store.set_lease_policy(site.clone(), Some(LeasePolicy::default()), "test".into()).await.unwrap();
        assert!(store.lease_round().await.unwrap().granted > 0);
        let ask = |d: &DeviceAuth, give_back| LeaseRequest {
            protocol: 2,
            device_id: d.device_id.clone(),
            top_up: false,
            give_back,
        };
        let held = store.leases(desks[0].clone(), ask(&desks[0], Vec::new())).await.unwrap().leases;
        let back: Vec<_> = held[..2]
            .iter()
            .map(|l| frontdesk_protocol::sync::LeasedNumber { session_id: l.session_id.clone(), queue_no: l.queue_no })
            .collect();
        assert_eq!(store.leases(desks[0].clone(), ask(&desks[0], back)).await.unwrap().returned, 2);
        let spend = &held[2];
        let p = crate::outcome::online_patient(
            frontdesk_domain::schedule::PatientId("p-lease".into()),
            &frontdesk_domain::schedule::Site {
                id: site.clone(),
                name: String::new(),
                timezone: "Asia/Shanghai".into(),
            },
            &OnlineBookingRequest { patient: patient(90), slot_id: None, department: None, date: None },
            now.in_tz("Asia/Shanghai").unwrap().date(),
        )
        .unwrap();
        let envelope = |seq: u64, op| frontdesk_protocol::sync::OpEnvelope {
            op_id: uuid::Uuid::now_v7(),
            device_id: desks[0].device_id.clone(),
            seq,
            staff_id: "nurse".into(),
            hlc: frontdesk_domain::hlc::Hlc { wall_ms: seq as i64, counter: 0 },
            site_id: site.clone(),
            base_cursor: 0,
            depends_on: Vec::new(),
            op,
        };
        let ops = vec![
            envelope(1, frontdesk_protocol::sync::Op::RegisterPatient { patient: p.clone() }),
            envelope(
                2,
                frontdesk_protocol::sync::Op::Book {
                    booking_id: BookingId("b-lease".into()),
                    patient_id: p.id.clone(),
                    slot_id: spend.slot_id.clone(),
                    channel: frontdesk_domain::schedule::Channel::Desk,
                    queue_no: spend.queue_no,
                    leased: true,
                    ticket_code: frontdesk_domain::ticket::TicketCode::from_random(77),
                    overbook_reason: None,
                },
            ),
        ];
        let req = PushRequest { protocol: 2, device_id: desks[0].device_id.clone(), ops };
        let r = store.push(desks[0].clone(), req).await.unwrap();
        assert!(matches!(r.results[1].outcome, frontdesk_protocol::sync::Outcome::Applied { .. }), "{r:?}");
        store.revoke_device(desks[1].device_id.clone(), "test".into()).await.unwrap();
        // The first slots' leases expire (10 minutes before 08:00); once the desk pulled with
        // nothing pending, the round takes them back.
        clock.advance(jiff::SignedDuration::from_mins(55));
        store.pull(desks[0].clone(), 0, 5_000, Some(0)).await.unwrap();
        assert!(store.lease_round().await.unwrap().expired > 0);
        let checked = store
            .write(|ctx| {
                let mut n = 0;
                for (key, cached) in &ctx.cache.days {
                    let fresh = rows::day_states(ctx.conn, &key.0, &key.1, key.2)?;
                    assert_eq!(cached.len(), fresh.len());
                    for (a, b) in cached.iter().zip(&fresh) {
                        let (mut x, mut y) = (a.taken.clone(), b.taken.clone());
                        x.sort_unstable();
                        y.sort_unstable();
                        let (mut lx, mut ly) = (a.leased.clone(), b.leased.clone());
                        lx.sort();
                        ly.sort();
                        assert_eq!((&a.slot, &a.session, x, lx), (&b.slot, &b.session, y, ly));
                        n += 1;
                    }
                }
                Ok(n)
            })
            .await
            .unwrap();
        assert!(checked > 0, "the writer had cached days to check");
        store.close_blocking();
    }
}
