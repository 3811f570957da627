//! Harness for end-to-end tests: the real `frontdesk-central` and `frontdesk` binaries as
//! processes on loopback ports, a fault-injecting TCP proxy between them, and waiting on
//! conditions with deadlines (never bare sleeps).
// A harness panics on unexpected failures: that is how a test reports them.
#![allow(clippy::unwrap_used, clippy::expect_used)]

pub mod proxy;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;

/// The instant every process of a test believes it is: Monday 2026-11-23, 08:30 in Shanghai.
pub const NOW: &str = "2026-11-23T00:30:00Z";

/// A binary of this workspace, built next to the test executable. The first call builds the
/// binaries (a no-op when they are current), so a test never runs a stale one.
pub fn bin(name: &str) -> PathBuf {
    static BUILT: std::sync::Once = std::sync::Once::new();
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().and_then(Path::parent).unwrap().to_path_buf();
    BUILT.call_once(|| {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut cmd = Command::new(cargo);
        cmd.args(["build", "--bins", "-p", "frontdesk-central", "-p", "frontdesk-desk"])
            .current_dir(env!("CARGO_MANIFEST_DIR"));
        if dir.ends_with("release") {
            cmd.arg("--release");
        }
        let status = cmd.status().expect("cargo, to build the binaries under test");
        assert!(status.success(), "building frontdesk-central and frontdesk failed");
    });
    let path = dir.join(name);
    assert!(
        path.exists(),
        "{} is missing: build the workspace's binaries first (`cargo build --workspace --bins`)",
        path.display()
    );
    path
}

/// Polls `cond` until it holds or `limit` passes.
pub fn wait_until(what: &str, limit: Duration, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out after {limit:?} waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Which storage back-end a platform runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// One embedded SQLite file.
    Sqlite,
    /// A PostgreSQL database on the server named by `FRONTDESK_TEST_POSTGRES`.
    Postgres,
}

/// Generates, for each scenario `fn name(b: Backend)`, a module `name` with one test per
/// back-end (`name::sqlite`, `name::postgres`).
#[macro_export]
macro_rules! on_both {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[test]
            fn sqlite() {
                super::$name($crate::Backend::Sqlite)
            }
            #[test]
            fn postgres() {
                super::$name($crate::Backend::Postgres)
            }
        }
    )*};
}

/// A fresh, empty database on the test PostgreSQL server (`FRONTDESK_TEST_POSTGRES`, started
/// by `scripts/with-postgres.sh`); its URL. Never skipped: without a server the test fails.
pub fn fresh_postgres_db() -> String {
    let admin = std::env::var("FRONTDESK_TEST_POSTGRES").ok().filter(|u| !u.trim().is_empty()).unwrap_or_else(|| {
        panic!(
            "FRONTDESK_TEST_POSTGRES is not set: run the tests through `bash scripts/with-postgres.sh cargo test …` \
             (or `bash scripts/test.sh`), which starts a throw-away PostgreSQL cluster"
        )
    });
    let name = format!("e2e_{}", uuid_like());
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let (client, conn) = tokio_postgres::connect(&admin, tokio_postgres::NoTls).await.unwrap();
        tokio::spawn(conn);
        client.batch_execute(&format!("CREATE DATABASE {name}")).await.unwrap();
    });
    let (base, _) = admin.trim().rsplit_once('/').unwrap();
    format!("{base}/{name}")
}

fn uuid_like() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    format!("{}_{}_{}", std::process::id(), t, N.fetch_add(1, Ordering::Relaxed))
}

/// A running `frontdesk-central serve --demo` on a loopback port, killed on drop.
pub struct Central {
    child: Option<Child>,
    /// Its directory (database, admin token).
    pub dir: PathBuf,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// The demo site's enrollment code printed at start.
    pub code: String,
    port: u16,
    extra: Vec<String>,
    db: String,
    now: String,
}

impl Central {
    /// Starts a platform with the demo clinic in `dir` (its SQLite database there too).
    pub fn start(dir: &Path, extra: &[&str]) -> Central {
        Central::start_on(Backend::Sqlite, dir, extra)
    }

    /// Starts a platform with the demo clinic on the given back-end (files in `dir`).
    pub fn start_on(b: Backend, dir: &Path, extra: &[&str]) -> Central {
        let db = match b {
            Backend::Sqlite => dir.join("central.db").display().to_string(),
            Backend::Postgres => fresh_postgres_db(),
        };
        let mut c = Central {
            db,
            child: None,
            dir: dir.to_path_buf(),
            url: String::new(),
            code: String::new(),
            port: 0,
            extra: extra.iter().map(|s| s.to_string()).collect(),
            now: NOW.to_string(),
        };
        c.launch();
        c
    }

    fn launch(&mut self) {
        let mut cmd = Command::new(bin("frontdesk-central"));
        cmd.args(["serve", "--demo", "--plain-logs", "--listen"])
            .arg(format!("127.0.0.1:{}", self.port))
            .arg("--db")
            .arg(&self.db)
            .arg("--admin-token-file")
            .arg(self.dir.join("admin-token"))
            .args(&self.extra)
            .env("FRONTDESK_NOW", &self.now)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        let mut child = cmd.spawn().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut url = None;
        while url.is_none() {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = rx.recv_timeout(left).expect("frontdesk-central did not report its address in 30 s");
            if let Some(code) = line.split("enrollment code ").nth(1) {
                self.code = code.split_whitespace().next().unwrap().to_string();
            }
            if let Some(u) = line.strip_prefix("listening on ") {
                url = Some(u.trim().to_string());
            }
        }
        self.url = url.unwrap();
        self.port = self.url.rsplit(':').next().unwrap().parse().unwrap();
        self.child = Some(child);
    }

    /// Kills the platform with SIGKILL.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts it again on the same port and database.
    pub fn restart(&mut self) {
        self.kill();
        let deadline = Instant::now() + Duration::from_secs(10);
        // The port may take a moment to be free again.
        loop {
            if std::net::TcpListener::bind(("127.0.0.1", self.port)).is_ok() {
                break;
            }
            assert!(Instant::now() < deadline, "port {} stayed busy", self.port);
            std::thread::sleep(Duration::from_millis(50));
        }
        self.launch();
    }

    /// Starts it again on the same port and database with its clock pinned at `now` (RFC 3339):
    /// the platform's time moves on.
    pub fn restart_at(&mut self, now: &str) {
        self.now = now.to_string();
        self.restart();
    }

    /// The admin token.
    pub fn admin_token(&self) -> String {
        std::fs::read_to_string(self.dir.join("admin-token")).unwrap().trim().to_string()
    }

    /// A fresh enrollment code for the demo site.
    pub fn enroll_code(&self) -> String {
        let resp: Value = http()
            .post(format!("{}/v1/admin/sites/demo/enroll-codes", self.url))
            .bearer_auth(self.admin_token())
            .json(&serde_json::json!({}))
            .send()
            .unwrap()
            .json()
            .unwrap();
        resp["code"].as_str().unwrap().to_string()
    }

    /// Suspends a session through the admin API.
    pub fn suspend(&self, session: &str, reason: &str) {
        let resp = http()
            .post(format!("{}/v1/admin/sessions/{session}/suspend", self.url))
            .bearer_auth(self.admin_token())
            .json(&serde_json::json!({ "reason": reason }))
            .send()
            .unwrap();
        assert!(resp.status().is_success(), "suspend: {}", resp.text().unwrap_or_default());
    }

    /// Books online through the public API; the JSON answer and the status code.
    pub fn book_online(&self, name: &str, document: &str, slot: &str) -> (u16, Value) {
        let resp = http()
            .post(format!("{}/v1/public/sites/demo/bookings", self.url))
            .json(&serde_json::json!({
                "patient": { "name": name, "document_number": document },
                "slot_id": slot,
            }))
            .send()
            .unwrap();
        let status = resp.status().as_u16();
        (status, resp.json().unwrap_or(Value::Null))
    }
}

impl Drop for Central {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A blocking HTTP client for the tests' own calls.
pub fn http() -> reqwest::blocking::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::blocking::Client::builder().timeout(Duration::from_secs(30)).build().unwrap()
}

/// Who a test desk's commands sign in as: the demo admin (`frontdesk init --demo-staff`).
pub const STAFF: &str = "admin";
/// Their password.
pub const PASSWORD: &str = "admin123";

/// A desk driven through the `frontdesk` CLI, each command its own process.
pub struct DeskCli {
    /// The data directory.
    pub dir: PathBuf,
    /// The desk's clock (`FRONTDESK_NOW`) for its commands.
    pub now: String,
}

impl DeskCli {
    /// A new, empty desk in `dir`.
    pub fn new(dir: &Path) -> DeskCli {
        let d = DeskCli { dir: dir.to_path_buf(), now: NOW.to_string() };
        d.ok(&["init", "--demo-staff"]);
        d
    }

    /// The desk's engine in this process, signed in as the demo admin.
    pub fn engine(&self, clock: std::sync::Arc<dyn frontdesk_domain::clock::Clock>) -> frontdesk_desk::Desk {
        let mut desk = frontdesk_desk::Desk::open(&self.dir.join(frontdesk_desk::REPLICA_FILE), clock).unwrap();
        desk.sign_in(STAFF, PASSWORD, frontdesk_domain::Lang::En).unwrap();
        desk
    }

    /// The same desk, its commands run with the desk's clock at `now` (RFC 3339).
    pub fn at(&self, now: &str) -> DeskCli {
        DeskCli { dir: self.dir.clone(), now: now.to_string() }
    }

    /// The command, ready to spawn.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(bin("frontdesk"));
        cmd.arg("--data-dir").arg(&self.dir).args(args).args(["--lang", "en"]).env("FRONTDESK_NOW", &self.now);
        // Signed in as the desk's demo admin (`init --demo-staff`).
        cmd.env("FRONTDESK_STAFF", STAFF).env("FRONTDESK_PASSWORD", PASSWORD).env_remove("FRONTDESK_NEW_PASSWORD");
        cmd
    }

    /// Runs a command.
    pub fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().unwrap()
    }

    /// Runs a command that must succeed; its stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(out.status.success(), "frontdesk {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Runs a command with `--json` that must succeed.
    pub fn json(&self, args: &[&str]) -> Value {
        let mut all = args.to_vec();
        all.push("--json");
        serde_json::from_str(&self.ok(&all)).unwrap()
    }

    /// Enrolls with the platform at `url` and pulls the snapshot.
    pub fn enroll(&self, url: &str, code: &str) {
        self.ok(&["enroll", "--server", url, "--code", code]);
        self.ok(&["sync"]);
    }

    /// Syncs once; true when the cycle completed.
    pub fn sync(&self) -> bool {
        self.run(&["sync"]).status.success()
    }

    /// The replica's fingerprint of confirmed state.
    pub fn digest(&self) -> String {
        self.ok(&["digest"]).trim().to_string()
    }

    /// Registers a patient; their id.
    pub fn register(&self, name: &str, document: &str) -> String {
        self.json(&["patients", "add", "--name", name, "--document", document])["id"].as_str().unwrap().to_string()
    }
}

/// The `n`-th valid resident ID number of a test: distinct for every `n` below 360,000
/// (region, birth year and sequence number differ), with a real birth date in the past.
pub fn document(n: u32) -> String {
    const REGIONS: [&str; 8] = ["110101", "310104", "440106", "330106", "510107", "420102", "320102", "370102"];
    let k = n / 500;
    frontdesk_desk::demo::resident_id(
        REGIONS[((k / 90) % 8) as usize],
        jiff::civil::date(1930 + (k % 90) as i16, 1 + (n % 12) as i8, 1 + (n % 28) as i8),
        (n % 500) as u16,
        frontdesk_domain::document::Sex::Female,
    )
    .unwrap()
}
