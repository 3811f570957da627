//! A real server on 127.0.0.1:0 per test, with its own database and a pinned clock, on
//! either back-end: embedded SQLite (a file of its own) or PostgreSQL (a database of its own
//! on the server named by `FRONTDESK_TEST_POSTGRES`, which `scripts/with-postgres.sh` starts).

use std::path::PathBuf;
use std::sync::Arc;

use frontdesk_central::postgres::{PgOptions, PgStore};
use frontdesk_central::sqlite::{SqliteOptions, SqliteStore};
use frontdesk_central::{ServerConfig, Store};
use frontdesk_domain::Lang;
use frontdesk_domain::clock::ManualClock;
use frontdesk_domain::hlc::Hlc;
use frontdesk_domain::patient::{Patient, PatientInput, validate_patient};
use frontdesk_domain::schedule::{DeviceId, PatientId, SiteId, StaffId};
use frontdesk_protocol::enroll::EnrollResponse;
use frontdesk_protocol::sync::{Op, OpEnvelope, PullResponse, PushRequest, PushResponse, Record};
use jiff::Timestamp;
use jiff::civil::{Date, date};
use serde_json::{Value, json};
use tokio::sync::oneshot;
use uuid::Uuid;

/// Monday 2026-11-23, 07:00 in Shanghai: before the morning sessions start.
pub const NOW: &str = "2026-11-23T07:00:00+08:00";
pub const ADMIN_TOKEN: &str = "test-admin-token-0123456789abcdef";

pub fn today() -> Date {
    date(2026, 11, 23)
}

/// Which storage back-end a scenario runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Generates, for each scenario `async fn name(b: Backend)`, a module `name` with one test per
/// back-end (`name::sqlite`, `name::postgres`): one suite, run on both.
#[macro_export]
macro_rules! on_both {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn sqlite() {
                super::$name($crate::common::Backend::Sqlite).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn postgres() {
                super::$name($crate::common::Backend::Postgres).await
            }
        }
    )*};
}

/// The PostgreSQL server for tests (an admin URL). Never skipped: without one the test fails
/// and says how to get one.
pub fn postgres_admin_url() -> String {
    match std::env::var("FRONTDESK_TEST_POSTGRES") {
        Ok(u) if !u.trim().is_empty() => u.trim().to_string(),
        _ => panic!(
            "FRONTDESK_TEST_POSTGRES is not set: run the tests through `bash scripts/with-postgres.sh cargo test …` \
             (or `bash scripts/test.sh`), which starts a throw-away PostgreSQL cluster"
        ),
    }
}

/// A fresh, empty database on the test server; its URL.
pub async fn fresh_postgres_db() -> String {
    let admin = postgres_admin_url();
    let (client, conn) = tokio_postgres::connect(&admin, tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(conn);
    let name = format!("t_{}", Uuid::now_v7().simple());
    client.batch_execute(&format!("CREATE DATABASE {name}")).await.unwrap();
    let (base, _) = admin.rsplit_once('/').unwrap();
    format!("{base}/{name}")
}

/// Where a test server keeps its data.
#[derive(Debug, Clone)]
pub enum Db {
    Sqlite(PathBuf),
    Postgres(String),
}

impl Db {
    /// The value of `frontdesk-central --db`.
    pub fn arg(&self) -> String {
        match self {
            Db::Sqlite(p) => p.display().to_string(),
            Db::Postgres(u) => u.clone(),
        }
    }

    /// Runs SQL written for this back-end and returns the first column of the first row as
    /// an integer (statements without rows: the rows changed).
    pub async fn sql_i64(&self, sql: &str) -> i64 {
        match self {
            Db::Sqlite(p) => {
                let conn = rusqlite::Connection::open(p).unwrap();
                conn.busy_timeout(std::time::Duration::from_secs(10)).unwrap();
                let mut st = conn.prepare(sql).unwrap();
                if st.column_count() == 0 {
                    return st.execute([]).unwrap() as i64;
                }
                st.query_row([], |r| r.get(0)).unwrap()
            }
            Db::Postgres(u) => {
                let (client, conn) = tokio_postgres::connect(u, tokio_postgres::NoTls).await.unwrap();
                tokio::spawn(conn);
                let rows = client.simple_query(sql).await.unwrap();
                for m in rows {
                    match m {
                        tokio_postgres::SimpleQueryMessage::Row(r) => return r.get(0).unwrap().parse().unwrap(),
                        tokio_postgres::SimpleQueryMessage::CommandComplete(n) => return n as i64,
                        _ => {}
                    }
                }
                0
            }
        }
    }
}

/// Opens a store of the given back-end on `db` with the platform's clock `clock`.
pub async fn open_store(db: &Db, clock: Arc<ManualClock>) -> Arc<dyn Store> {
    match db {
        Db::Sqlite(p) => Arc::new(SqliteStore::open(p, clock, SqliteOptions::default()).unwrap()),
        Db::Postgres(u) => Arc::new(PgStore::open(u, clock, PgOptions::default()).await.unwrap()),
    }
}

pub struct TestServer {
    pub base: String,
    pub db: Db,
    pub client: reqwest::Client,
    /// The platform's clock: a test moves it to make time pass.
    pub clock: Arc<ManualClock>,
    dir: Option<tempfile::TempDir>,
    stop: Option<oneshot::Sender<()>>,
    handle: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

impl TestServer {
    /// A server with the demo clinic, no rate limits unless `tune` sets them.
    pub async fn start(b: Backend, tune: impl FnOnce(&mut ServerConfig)) -> TestServer {
        TestServer::start_at(b, NOW, tune).await
    }

    /// The same, with the platform's clock pinned at `now`.
    pub async fn start_at(b: Backend, now: &str, tune: impl FnOnce(&mut ServerConfig)) -> TestServer {
        let dir = tempfile::tempdir().unwrap();
        let db = match b {
            Backend::Sqlite => Db::Sqlite(dir.path().join("central.db")),
            Backend::Postgres => Db::Postgres(fresh_postgres_db().await),
        };
        let now: Timestamp = now.parse().unwrap();
        let clock = Arc::new(ManualClock::new(now));
        let store = open_store(&db, clock.clone()).await;
        store.seed_demo(SiteId::from("demo"), 8).await.unwrap();
        let mut config = ServerConfig {
            device_rate: None,
            public_rate: None,
            admin_token_hash: Some(frontdesk_central::secret::hash_secret(ADMIN_TOKEN)),
            // Lease rounds run when a test asks for one.
            lease_interval: std::time::Duration::ZERO,
            ..ServerConfig::default()
        };
        tune(&mut config);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (tx, rx) = oneshot::channel::<()>();
        let handle = tokio::spawn(frontdesk_central::serve(listener, store.clone(), config, async move {
            let _ = rx.await;
        }));
        let client = client_builder().pool_max_idle_per_host(256).build().unwrap();
        TestServer { base, db, client, clock, dir: Some(dir), stop: Some(tx), handle: Some(handle) }
    }

    /// Stops the server (gracefully) and hands back its directory, database included.
    pub async fn stop_keeping_files(mut self) -> tempfile::TempDir {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(h) = self.handle.take() {
            h.await.unwrap().unwrap();
        }
        self.dir.take().unwrap()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub async fn stop(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(h) = self.handle.take() {
            h.await.unwrap().unwrap();
        }
    }

    pub async fn admin_post(&self, path: &str, body: Value) -> reqwest::Response {
        self.client.post(self.url(path)).bearer_auth(ADMIN_TOKEN).json(&body).send().await.unwrap()
    }

    pub async fn admin_get(&self, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).bearer_auth(ADMIN_TOKEN).send().await.unwrap()
    }

    /// Enrolls a device of `site` through the admin and enrollment endpoints.
    pub async fn enroll(&self, site: &str) -> Device {
        let r = self.admin_post(&format!("/v1/admin/sites/{site}/enroll-codes"), json!({})).await;
        assert_eq!(r.status(), 200);
        let code: Value = r.json().await.unwrap();
        let r = self
            .client
            .post(self.url("/v1/devices/enroll"))
            .json(&json!({"code": code["code"], "name": "desk"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let e: EnrollResponse = r.json().await.unwrap();
        Device { id: e.device_id, site: e.site.id, token: e.token, seq: 0 }
    }

    pub async fn push(&self, dev: &Device, ops: Vec<OpEnvelope>) -> PushResponse {
        let req = PushRequest { protocol: frontdesk_protocol::PROTOCOL_VERSION, device_id: dev.id.clone(), ops };
        let r = self.client.post(self.url("/v1/sync/push")).bearer_auth(&dev.token).json(&req).send().await.unwrap();
        assert_eq!(r.status(), 200, "{}", r.text().await.unwrap_or_default());
        r.json().await.unwrap()
    }

    pub async fn pull(&self, dev: &Device, cursor: u64, limit: u32) -> PullResponse {
        let r = self
            .client
            .get(self.url(&format!("/v1/sync/pull?cursor={cursor}&limit={limit}")))
            .bearer_auth(&dev.token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        r.json().await.unwrap()
    }

    /// One pull page, saying how many ops the desk still has pending.
    pub async fn pull_pending(&self, dev: &Device, cursor: u64, pending: u64) -> PullResponse {
        let r = self
            .client
            .get(self.url(&format!("/v1/sync/pull?cursor={cursor}&limit=5000&pending={pending}")))
            .bearer_auth(&dev.token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        r.json().await.unwrap()
    }

    /// Every change from `cursor` on, following pages.
    pub async fn pull_all(&self, dev: &Device, mut cursor: u64) -> (Vec<Record>, u64) {
        let mut out = Vec::new();
        for _ in 0..10_000 {
            let page = self.pull(dev, cursor, 1000).await;
            out.extend(page.changes.into_iter().map(|c| c.record));
            cursor = page.next_cursor;
            if !page.more {
                return (out, cursor);
            }
        }
        panic!("pull did not end");
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
    }
}

pub struct Device {
    pub id: DeviceId,
    pub site: SiteId,
    pub token: String,
    pub seq: u64,
}

impl Device {
    /// The next op of this device.
    pub fn op(&mut self, op: Op) -> OpEnvelope {
        self.seq += 1;
        OpEnvelope {
            op_id: Uuid::now_v7(),
            device_id: self.id.clone(),
            seq: self.seq,
            staff_id: StaffId::from("nurse-1"),
            hlc: Hlc { wall_ms: 1_000 + self.seq as i64, counter: 0 },
            site_id: self.site.clone(),
            base_cursor: 0,
            depends_on: Vec::new(),
            op,
        }
    }
}

/// A validated patient of `site` with synthetic resident ID `n`.
pub fn patient(site: &str, n: u64) -> Patient {
    let p = frontdesk_central::demo::patient(n);
    let input =
        PatientInput { name: p.name, document_number: p.document_number, phone: p.phone, ..PatientInput::default() };
    validate_patient(PatientId(Uuid::now_v7().to_string()), SiteId::from(site), &input, today(), Lang::En).unwrap()
}

pub fn ticket(n: u64) -> frontdesk_domain::ticket::TicketCode {
    frontdesk_domain::ticket::TicketCode::from_random(0x1_0000_0000 + n)
}

/// Creates a site with one department and provider, and one session on `day` laid out from
/// a template of `per_slot` numbers (`desk` of them desk-only) in `minutes`-long slots.
pub async fn small_site(s: &TestServer, site: &str, day: Date, per_slot: u32, desk: u32, minutes: u16) {
    let r = s.admin_post("/v1/admin/sites", json!({"id": site, "name": site, "timezone": "Asia/Shanghai"})).await;
    assert_eq!(r.status(), 200);
    let r = s
        .admin_post(
            &format!("/v1/admin/sites/{site}/departments"),
            json!({"id": format!("{site}-nk"), "site_id": site, "code": "NK", "name": "内科", "name_en": "Internal Medicine"}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let r = s
        .admin_post(
            &format!("/v1/admin/sites/{site}/providers"),
            json!({"id": format!("{site}-nk-1"), "site_id": site, "department_id": format!("{site}-nk"),
                   "name": "王医生", "title": "主任医师", "fee_fen": 5000}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let r = s
        .admin_post(
            &format!("/v1/admin/sites/{site}/sessions/generate"),
            json!({"provider_id": format!("{site}-nk-1"), "from": day.to_string(), "days": 1, "templates": [{
                "weekdays": [1,2,3,4,5,6,7], "period": "morning", "start": "08:00", "end": "12:00",
                "slot_minutes": minutes, "per_slot": per_slot, "desk_per_slot": desk}]}),
        )
        .await;
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap_or_default());
}

/// The site's bookings in a snapshot.
pub fn bookings(records: &[Record]) -> Vec<frontdesk_domain::booking::Booking> {
    records
        .iter()
        .filter_map(|r| match r {
            Record::Booking(b) => Some(b.clone()),
            _ => None,
        })
        .collect()
}

/// Waits for a condition with a deadline (never a bare sleep).
pub async fn wait_until<F: FnMut() -> bool>(mut f: F, what: &str) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !f() {
        assert!(std::time::Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}

/// A reqwest client builder. In a workspace build reqwest may carry the desk's
/// `rustls-no-provider` feature, which needs a process-wide crypto provider before any client
/// is built: install ring (a no-op when one is installed already).
pub fn client_builder() -> reqwest::ClientBuilder {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
}
