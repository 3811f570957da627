//! Several platform processes on one PostgreSQL database: any request may reach any process,
//! and every guarantee of one process holds across them. (SQLite is one process per file by
//! design, so these scenarios are PostgreSQL's own.)

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use frontdesk_domain::lease::{Lease, LeasePolicy};
use frontdesk_domain::schedule::{BookingId, Channel, SlotId};
use frontdesk_protocol::sync::{LeaseAnswer, LeaseRequest, Op, Outcome, PushRequest, PushResponse, Record};
use serde_json::{Value, json};

use crate::common::*;
use crate::durability::{Killed, start};

/// `n` platform processes on one fresh database, started at once (they migrate and seed the
/// demo clinic concurrently).
struct Cluster {
    procs: Vec<Option<Killed>>,
    urls: Vec<String>,
    db: Db,
    _dir: tempfile::TempDir,
    client: reqwest::Client,
}

impl Cluster {
    async fn start_with(n: usize, db: Db) -> Cluster {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("admin-token"), format!("{ADMIN_TOKEN}\n")).unwrap();
        let handles: Vec<_> = (0..n)
            .map(|_| {
                let (path, db) = (dir.path().to_path_buf(), db.clone());
                std::thread::spawn(move || start(&path, &db))
            })
            .collect();
        let mut procs = Vec::new();
        let mut urls = Vec::new();
        for h in handles {
            let (child, url, _) = h.join().unwrap();
            procs.push(Some(child));
            urls.push(url);
        }
        let client = client_builder().timeout(Duration::from_secs(30)).pool_max_idle_per_host(512).build().unwrap();
        Cluster { procs, urls, db, _dir: dir, client }
    }

    async fn start(n: usize) -> Cluster {
        Cluster::start_with(n, Db::Postgres(fresh_postgres_db().await)).await
    }

    /// Starts one more process on the cluster's database, its clock pinned at `now`, running
    /// lease rounds only when asked; its index.
    fn add_process(&mut self, now: &str) -> usize {
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_frontdesk-central"))
            .args(["--db", &self.db.arg(), "serve", "--listen", "127.0.0.1:0", "--demo", "--lease-interval-secs", "0"])
            .args(["--public-rate", "0", "--admin-token-file", self._dir.path().join("admin-token").to_str().unwrap()])
            .env(frontdesk_central::NOW_ENV, now)
            .env("RUST_LOG", "warn")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let child = Killed(child);
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            use std::io::BufRead;
            for line in std::io::BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let url = loop {
            let line = rx.recv_timeout(Duration::from_secs(30)).expect("the server printed its address");
            if let Some(addr) = line.strip_prefix("listening on ") {
                break addr.trim().to_string();
            }
        };
        self.procs.push(Some(child));
        self.urls.push(url);
        self.urls.len() - 1
    }

    /// Every page after `cursor` from process `on`, the desk saying it has `pending` ops.
    async fn pull_from(&self, on: usize, dev: &Device, mut cursor: u64, pending: u64) -> Vec<Record> {
        let mut out = Vec::new();
        for _ in 0..10_000 {
            let r = self
                .client
                .get(format!("{}/v1/sync/pull?cursor={cursor}&limit=5000&pending={pending}", self.urls[on]))
                .bearer_auth(&dev.token)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200);
            let p: frontdesk_protocol::sync::PullResponse = r.json().await.unwrap();
            out.extend(p.changes.into_iter().map(|c| c.record));
            cursor = p.next_cursor;
            if !p.more {
                return out;
            }
        }
        panic!("pull did not end");
    }

    async fn enroll(&self, on: usize) -> Device {
        let r = self
            .client
            .post(format!("{}/v1/admin/sites/demo/enroll-codes", self.urls[on]))
            .bearer_auth(ADMIN_TOKEN)
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        let code: Value = r.json().await.unwrap();
        let r = self
            .client
            .post(format!("{}/v1/devices/enroll", self.urls[(on + 1) % self.urls.len()]))
            .json(&json!({"code": code["code"], "name": "desk"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let e: frontdesk_protocol::enroll::EnrollResponse = r.json().await.unwrap();
        Device { id: e.device_id, site: e.site.id, token: e.token, seq: 0 }
    }

    async fn push(&self, on: usize, dev: &Device, ops: Vec<frontdesk_protocol::sync::OpEnvelope>) -> PushResponse {
        let req = PushRequest { protocol: frontdesk_protocol::PROTOCOL_VERSION, device_id: dev.id.clone(), ops };
        let r = self
            .client
            .post(format!("{}/v1/sync/push", self.urls[on]))
            .bearer_auth(&dev.token)
            .json(&req)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{}", r.text().await.unwrap_or_default());
        r.json().await.unwrap()
    }

    /// Every change after `cursor`, page by page, each page from the next process.
    async fn pull_all(&self, dev: &Device, mut cursor: u64, page: u32) -> (Vec<Record>, u64) {
        let mut out = Vec::new();
        for i in 0..100_000usize {
            let r = self
                .client
                .get(format!("{}/v1/sync/pull?cursor={cursor}&limit={page}", self.urls[i % self.urls.len()]))
                .bearer_auth(&dev.token)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200);
            let p: frontdesk_protocol::sync::PullResponse = r.json().await.unwrap();
            out.extend(p.changes.into_iter().map(|c| c.record));
            cursor = p.next_cursor;
            if !p.more {
                return (out, cursor);
            }
        }
        panic!("pull did not end");
    }

    /// A desk's lease request at process `on`: topped up to its share.
    async fn top_up(&self, on: usize, dev: &Device) -> LeaseAnswer {
        let req = LeaseRequest { protocol: 2, device_id: dev.id.clone(), top_up: true, give_back: Vec::new() };
        let r = self
            .client
            .post(format!("{}/v1/sync/leases", self.urls[on]))
            .bearer_auth(&dev.token)
            .json(&req)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{}", r.text().await.unwrap_or_default());
        r.json().await.unwrap()
    }

    /// Sets the demo site's lease policy at process `on`.
    async fn put_policy(&self, on: usize, policy: &LeasePolicy) {
        let r = self
            .client
            .put(format!("{}/v1/admin/sites/demo/lease-policy", self.urls[on]))
            .bearer_auth(ADMIN_TOKEN)
            .json(policy)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{}", r.text().await.unwrap_or_default());
    }

    /// The platform's lease round, run now at process `on`: numbers (granted, returned at
    /// expiry).
    async fn lease_round(&self, on: usize) -> (u64, u64) {
        let r = self
            .client
            .post(format!("{}/v1/admin/leases/round", self.urls[on]))
            .bearer_auth(ADMIN_TOKEN)
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{}", r.text().await.unwrap_or_default());
        let v: Value = r.json().await.unwrap();
        (v["granted"].as_u64().unwrap(), v["expired"].as_u64().unwrap())
    }

    /// The online numbers of a department still free for booking now.
    async fn free_online(&self, dept: &str) -> u64 {
        let a: Value = self
            .client
            .get(format!("{}/v1/public/sites/demo/availability?date=2026-11-23&department={dept}", self.urls[0]))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        a["slots"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| s["bookable"] == true)
            .map(|s| s["remaining"].as_u64().unwrap())
            .sum()
    }
}

/// Books online at process `i % n`; (status, body).
async fn book(client: &reqwest::Client, url: &str, body: Value) -> (u16, Value) {
    match client.post(format!("{url}/v1/public/sites/demo/bookings")).json(&body).send().await {
        Ok(r) => {
            let status = r.status().as_u16();
            (status, r.json().await.unwrap_or(Value::Null))
        }
        Err(e) => (0, json!({"error": e.to_string()})),
    }
}

async fn three_processes_book_exactly_the_free_numbers_of_a_hot_department() {
    let c = Arc::new(Cluster::start(3).await);
    let free = c.free_online("NK").await;
    assert!(free >= 20, "the demo's 内科 has online numbers today: {free}");
    // 1,000 clients, ten times the free numbers and more, spread over the processes; and one
    // person trying all three processes on different slots at once (防超挂).
    let mut tasks = Vec::new();
    for i in 0..1000u64 {
        let c = c.clone();
        tasks.push(tokio::spawn(async move {
            let body = json!({"patient": frontdesk_central::demo::patient(100_000 + i), "department": "NK"});
            book(&c.client, &c.urls[i as usize % 3], body).await
        }));
    }
    let mut same = Vec::new();
    for i in 0..30u64 {
        let c = c.clone();
        same.push(tokio::spawn(async move {
            let slot = format!("demo-wk-{}-20261123-am-{:02}", 1 + i % 2, 1 + i % 8);
            let body = json!({"patient": frontdesk_central::demo::patient(777), "slot_id": slot});
            book(&c.client, &c.urls[i as usize % 3], body).await
        }));
    }
    let (mut ok, mut numbers, mut tickets) = (0u64, HashSet::new(), HashSet::new());
    for t in tasks {
        let (status, v) = t.await.unwrap();
        match status {
            201 => {
                ok += 1;
                assert!(
                    numbers.insert((v["session_id"].to_string(), v["queue_no"].as_u64().unwrap())),
                    "number twice: {v}"
                );
                assert!(tickets.insert(v["ticket_code"].to_string()), "ticket code twice: {v}");
            }
            409 => assert!(["no_slot_available", "slot_full"].contains(&v["reason"].as_str().unwrap()), "{v}"),
            other => panic!("unexpected {other}: {v}"),
        }
    }
    assert_eq!(ok, free, "exactly the free online numbers were booked");
    let mut same_ok = 0;
    for t in same {
        let (status, v) = t.await.unwrap();
        match status {
            201 => same_ok += 1,
            409 => assert_eq!(v["reason"], "patient_already_booked", "{v}"),
            other => panic!("unexpected {other}: {v}"),
        }
    }
    assert_eq!(same_ok, 1, "one booking per patient per department per day, across processes");
    let stored = c
        .db
        .sql_i64("SELECT COUNT(*) FROM bookings WHERE department_id = 'demo-nk' AND channel = 'online' AND status = 'booked'")
        .await;
    assert_eq!(stored as u64, free);
    let doubles =
        c.db.sql_i64(
            "SELECT COUNT(*) FROM (SELECT session_id, queue_no FROM bookings WHERE status <> 'cancelled' \
             GROUP BY session_id, queue_no HAVING COUNT(*) > 1) d",
        )
        .await;
    assert_eq!(doubles, 0);
    // Every process's view follows the others' bookings within a second.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    for on in 0..3 {
        loop {
            let a: Value = c
                .client
                .get(format!("{}/v1/public/sites/demo/availability?date=2026-11-23&department=NK", c.urls[on]))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            let left: u64 = a["slots"].as_array().unwrap().iter().map(|s| s["remaining"].as_u64().unwrap()).sum();
            if left == 0 {
                break;
            }
            assert!(std::time::Instant::now() < deadline, "process {on} still shows {left} numbers");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

async fn pushes_of_one_device_split_across_processes_keep_order_and_apply_once() {
    let c = Arc::new(Cluster::start(3).await);
    let mut d = c.enroll(0).await;
    // 60 ops in 12 batches; each batch sent to two processes at once, batches out of order,
    // until every op is settled.
    let mut ops = Vec::new();
    for i in 0..30u64 {
        let p = patient("demo", 300 + i);
        ops.push(d.op(Op::RegisterPatient { patient: p.clone() }));
        ops.push(d.op(Op::Book {
            booking_id: BookingId(uuid::Uuid::now_v7().to_string()),
            patient_id: p.id.clone(),
            slot_id: SlotId(format!("demo-ek-{}-20261124-am-{:02}", 1 + i % 2, 1 + (i / 2) % 8)),
            channel: Channel::Desk,
            queue_no: 0,
            leased: false,
            ticket_code: ticket(9_000 + i),
            overbook_reason: None,
        }));
    }
    let batches: Vec<Vec<_>> = ops.chunks(5).map(|c| c.to_vec()).collect();
    let mut outcomes: HashMap<uuid::Uuid, String> = HashMap::new();
    let mut acked = 0;
    for round in 0..20 {
        let mut sends = Vec::new();
        for (k, b) in batches.iter().enumerate().rev() {
            for on in [k % 3, (k + 1 + round) % 3] {
                let (c, b) = (c.clone(), b.clone());
                let dev = Device { id: d.id.clone(), site: d.site.clone(), token: d.token.clone(), seq: 0 };
                sends.push(async move { c.push(on, &dev, b).await });
            }
        }
        for r in futures_join(sends).await {
            acked = acked.max(r.acked_seq);
            for res in r.results {
                let status = serde_json::to_value(&res.outcome).unwrap()["status"].as_str().unwrap().to_string();
                if status == "applied" || status == "duplicate" {
                    outcomes.insert(res.op_id, status);
                } else {
                    assert_eq!(status, "deferred", "{res:?}");
                }
            }
        }
        if acked == 60 {
            break;
        }
    }
    assert_eq!(acked, 60);
    assert_eq!(outcomes.len(), 60, "every op settled as applied");
    let id = d.id.to_string();
    let results = c.db.sql_i64(&format!("SELECT COUNT(*) FROM op_results WHERE device_id = '{id}'")).await;
    assert_eq!(results, 60, "each op settled exactly once");
    let in_order =
        c.db.sql_i64(&format!(
            "SELECT COUNT(*) FROM op_results WHERE device_id = '{id}' AND outcome LIKE '%\"status\":\"applied\"%'"
        ))
        .await;
    assert_eq!(in_order, 60, "in device order, nothing refused for lack of its predecessor");
    let booked = c.db.sql_i64("SELECT COUNT(*) FROM bookings WHERE channel = 'desk'").await;
    assert_eq!(booked, 30);
}

/// Joins futures without another dependency.
async fn futures_join<F>(fs: Vec<F>) -> Vec<F::Output>
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    let handles: Vec<_> = fs.into_iter().map(tokio::spawn).collect();
    let mut out = Vec::new();
    for h in handles {
        out.push(h.await.unwrap());
    }
    out
}

async fn pull_with_writers_on_three_processes_never_skips_a_change() {
    let c = Arc::new(Cluster::start(3).await);
    let reader = c.enroll(2).await;
    let (_, start) = c.pull_all(&reader, 0, 5000).await;
    let reader = Arc::new(reader);
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut writers = Vec::new();
    for w in 0..3u64 {
        let c = c.clone();
        let mut d = c.enroll(w as usize).await;
        writers.push(tokio::spawn(async move {
            for i in 0..10u64 {
                let p = patient("demo", 20_000 + w * 100 + i);
                let op1 = d.op(Op::RegisterPatient { patient: p.clone() });
                let op2 = d.op(Op::Book {
                    booking_id: BookingId(uuid::Uuid::now_v7().to_string()),
                    patient_id: p.id.clone(),
                    slot_id: SlotId(format!("demo-ek-{}-20261123-am-{:02}", 1 + w % 2, 1 + i % 8)),
                    channel: Channel::Desk,
                    queue_no: 0,
                    leased: false,
                    ticket_code: ticket(60_000 + w * 100 + i),
                    overbook_reason: None,
                });
                c.push((w + i) as usize % 3, &d, vec![op1, op2]).await;
            }
        }));
    }
    for i in 0..150u64 {
        let c = c.clone();
        writers.push(tokio::spawn(async move {
            let dept = ["NK", "WK", "FK", "KQ"][(i % 4) as usize];
            let body = json!({"patient": frontdesk_central::demo::patient(30_000 + i), "department": dept});
            let (status, v) = book(&c.client, &c.urls[i as usize % 3], body).await;
            assert!(status == 201 || status == 409, "{status} {v}");
        }));
    }
    let reading = {
        let (c, reader, done) = (c.clone(), reader.clone(), done.clone());
        tokio::spawn(async move {
            let mut cursor = start;
            let mut seen = HashSet::new();
            let mut last_round = false;
            for i in 0..100_000usize {
                let r = c
                    .client
                    .get(format!("{}/v1/sync/pull?cursor={cursor}&limit=7", c.urls[i % 3]))
                    .bearer_auth(&reader.token)
                    .send()
                    .await
                    .unwrap();
                let page: frontdesk_protocol::sync::PullResponse = r.json().await.unwrap();
                for ch in &page.changes {
                    assert!(ch.cursor > cursor, "cursors only grow");
                    if let Record::Booking(b) = &ch.record {
                        seen.insert(b.id.clone());
                    }
                }
                cursor = page.next_cursor;
                if !page.more {
                    if last_round {
                        return seen;
                    }
                    if done.load(Ordering::SeqCst) {
                        last_round = true;
                    }
                }
            }
            panic!("reader did not finish");
        })
    };
    for w in writers {
        w.await.unwrap();
    }
    done.store(true, Ordering::SeqCst);
    let seen = reading.await.unwrap();
    let (snapshot, _) = c.pull_all(&reader, 0, 1000).await;
    let all: HashSet<BookingId> = bookings(&snapshot).into_iter().map(|b| b.id).collect();
    let stored = c.db.sql_i64("SELECT COUNT(*) FROM bookings").await;
    assert_eq!(all.len() as i64, stored, "the snapshot holds every stored booking");
    assert!(all.len() >= 30, "bookings made: {}", all.len());
    let missing: Vec<_> = all.difference(&seen).collect();
    assert!(missing.is_empty(), "the incremental reader missed {missing:?}");
}

async fn sigkill_of_one_process_mid_burst_loses_nothing_and_the_others_keep_serving() {
    let mut c = Cluster::start(3).await;
    let client = c.client.clone();
    let urls = c.urls.clone();
    let acked: Arc<std::sync::Mutex<Vec<(String, u64, usize)>>> = Arc::default();
    let count = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for i in 0..600u64 {
        let (client, urls, acked, count) = (client.clone(), urls.clone(), acked.clone(), count.clone());
        tasks.push(tokio::spawn(async move {
            let on = i as usize % 3;
            let dept = ["NK", "WK", "EK", "FK", "KQ"][(i % 5) as usize];
            let body = json!({"patient": frontdesk_central::demo::patient(50_000 + i), "department": dept});
            let (status, v) = book(&client, &urls[on], body).await;
            if status == 201 {
                acked.lock().unwrap().push((
                    v["booking_id"].as_str().unwrap().to_string(),
                    v["queue_no"].as_u64().unwrap(),
                    on,
                ));
                count.fetch_add(1, Ordering::SeqCst);
            }
            (on, status)
        }));
    }
    wait_until(|| count.load(Ordering::SeqCst) >= 40, "40 acknowledged bookings").await;
    c.procs[1].take(); // SIGKILL, mid-burst
    let mut answered_by_others = 0;
    for t in tasks {
        let (on, status) = t.await.unwrap();
        if on != 1 {
            assert!(status == 201 || status == 409, "process {on} answered {status}");
            answered_by_others += 1;
        }
    }
    assert_eq!(answered_by_others, 400, "the other processes answered every request sent to them");
    // Every acknowledged booking is stored, the killed process's included.
    let acked = acked.lock().unwrap().clone();
    let dev = c.enroll(2).await;
    c.urls.remove(1);
    let (snapshot, _) = c.pull_all(&dev, 0, 1000).await;
    let found: HashMap<String, u32> = bookings(&snapshot).into_iter().map(|b| (b.id.to_string(), b.queue_no)).collect();
    for (id, q, on) in &acked {
        assert_eq!(found.get(id).map(|n| u64::from(*n)), Some(*q), "booking {id} acknowledged by process {on} lost");
    }
    let doubles =
        c.db.sql_i64(
            "SELECT COUNT(*) FROM (SELECT session_id, queue_no FROM bookings WHERE status <> 'cancelled' \
             GROUP BY session_id, queue_no HAVING COUNT(*) > 1) d",
        )
        .await;
    assert_eq!(doubles, 0);
}

/// A PostgreSQL cluster of the test's own (it is stopped and restarted), on a free port.
struct PrivatePostgres {
    dir: tempfile::TempDir,
    bin: std::path::PathBuf,
    port: u16,
}

impl PrivatePostgres {
    fn ctl(&self, args: &[&str]) {
        let data = self.dir.path().join("data");
        let mut cmd = self.as_owner(self.bin.join("pg_ctl"));
        cmd.arg("-D").arg(&data).args(args);
        let out = cmd.output().unwrap();
        assert!(out.status.success(), "pg_ctl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    }

    fn as_owner(&self, program: std::path::PathBuf) -> std::process::Command {
        // initdb refuses root: as root the cluster is the `postgres` user's.
        if is_root() {
            let mut c = std::process::Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(program);
            c
        } else {
            std::process::Command::new(program)
        }
    }

    fn start() -> PrivatePostgres {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .expect("Debian's postgresql package (scripts/install-deps.sh)")
            .filter_map(Result::ok)
            .map(|e| e.path().join("bin"))
            .filter(|p| p.join("initdb").exists())
            .max()
            .expect("PostgreSQL server binaries");
        let dir = tempfile::tempdir().unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let pg = PrivatePostgres { dir, bin, port };
        if is_root() {
            let out = std::process::Command::new("chown").arg("postgres:").arg(pg.dir.path()).output().unwrap();
            assert!(out.status.success());
        }
        let mut init = pg.as_owner(pg.bin.join("initdb"));
        init.arg("-D").arg(pg.dir.path().join("data")).args(["-U", "frontdesk", "-A", "trust", "--no-locale"]);
        let out = init.output().unwrap();
        assert!(out.status.success(), "initdb: {}", String::from_utf8_lossy(&out.stderr));
        let opts = format!("-c listen_addresses=127.0.0.1 -p {} -k {}", pg.port, pg.dir.path().display());
        let log = pg.dir.path().join("server.log").display().to_string();
        pg.ctl(&["-l", &log, "-w", "-o", &opts, "start"]);
        pg
    }

    fn url(&self) -> String {
        format!("postgres://frontdesk@127.0.0.1:{}/postgres", self.port)
    }
}

fn is_root() -> bool {
    std::process::Command::new("id").arg("-u").output().map(|o| o.stdout.starts_with(b"0\n")).unwrap_or(false)
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        let data = self.dir.path().join("data");
        let _ = self.as_owner(self.bin.join("pg_ctl")).arg("-D").arg(&data).args(["-m", "immediate", "stop"]).output();
    }
}

async fn a_database_restart_mid_burst_gives_503s_then_recovers_by_itself() {
    let pg = PrivatePostgres::start();
    let c = Arc::new(Cluster::start_with(2, Db::Postgres(pg.url())).await);
    let client = client_builder().timeout(Duration::from_secs(20)).build().unwrap();
    let ready = |on: usize| {
        let (client, url) = (client.clone(), c.urls[on].clone());
        async move { client.get(format!("{url}/readyz")).send().await.map(|r| r.status().as_u16()).unwrap_or(0) }
    };
    assert_eq!(ready(0).await, 200);
    let statuses: Arc<std::sync::Mutex<Vec<(u16, bool)>>> = Arc::default();
    let acked: Arc<std::sync::Mutex<Vec<(String, u64)>>> = Arc::default();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut tasks = Vec::new();
    for w in 0..8u64 {
        let (c, statuses, acked, stop) = (c.clone(), statuses.clone(), acked.clone(), stop.clone());
        tasks.push(tokio::spawn(async move {
            for i in 0..20_000u64 {
                if stop.load(Ordering::SeqCst) {
                    break;
                }
                let dept = ["NK", "WK", "EK", "FK", "KQ"][((w + i) % 5) as usize];
                let body =
                    json!({"patient": frontdesk_central::demo::patient(80_000 + w * 20_000 + i), "department": dept});
                let r = c
                    .client
                    .post(format!("{}/v1/public/sites/demo/bookings", c.urls[(w % 2) as usize]))
                    .json(&body)
                    .send()
                    .await;
                let Ok(r) = r else { continue };
                let status = r.status().as_u16();
                let retry_after = r.headers().contains_key("retry-after");
                if status == 503 {
                    // As a client should: wait before trying again (bounded, not the full Retry-After).
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                if status == 201 {
                    let v: Value = r.json().await.unwrap();
                    acked
                        .lock()
                        .unwrap()
                        .push((v["booking_id"].as_str().unwrap().to_string(), v["queue_no"].as_u64().unwrap()));
                }
                statuses.lock().unwrap().push((status, retry_after));
            }
        }));
    }
    wait_until(|| acked.lock().unwrap().len() >= 20, "bookings before the restart").await;
    pg.ctl(&["-m", "fast", "-w", "stop"]);
    // While the database is down: not ready, and bookings are 503 with Retry-After.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while ready(0).await != 503 {
        assert!(std::time::Instant::now() < deadline, "readyz never said 503 with the database down");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let down_from = statuses.lock().unwrap().len();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while !statuses.lock().unwrap()[down_from..].iter().any(|(s, _)| *s == 503) {
        assert!(
            std::time::Instant::now() < deadline,
            "no 503 while the database was down: {:?}",
            &statuses.lock().unwrap()[down_from..]
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let opts = format!("-c listen_addresses=127.0.0.1 -p {} -k {}", pg.port, pg.dir.path().display());
    let log = pg.dir.path().join("server.log").display().to_string();
    pg.ctl(&["-l", &log, "-w", "-o", &opts, "start"]);
    // It recovers by itself: ready again, and bookings go through again.
    let back = acked.lock().unwrap().len();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while ready(0).await != 200 || ready(1).await != 200 || acked.lock().unwrap().len() < back + 10 {
        assert!(std::time::Instant::now() < deadline, "the platform did not recover after the database restart");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stop.store(true, Ordering::SeqCst);
    for t in tasks {
        t.await.unwrap();
    }
    for (status, retry_after) in statuses.lock().unwrap().iter() {
        assert!([201, 409, 503].contains(status), "never a {status}");
        if *status == 503 {
            assert!(*retry_after, "a 503 carries Retry-After");
        }
    }
    let acked = acked.lock().unwrap().clone();
    let dev = c.enroll(1).await;
    let (snapshot, _) = c.pull_all(&dev, 0, 1000).await;
    let found: HashMap<String, u32> = bookings(&snapshot).into_iter().map(|b| (b.id.to_string(), b.queue_no)).collect();
    for (id, q) in &acked {
        assert_eq!(found.get(id).map(|n| u64::from(*n)), Some(*q), "acknowledged booking {id} lost");
    }
}

/// The rows of a query on the cluster's database, each column as text (NULL as "").
async fn rows(db: &Db, sql: &str) -> Vec<Vec<String>> {
    let Db::Postgres(url) = db else { panic!("a PostgreSQL scenario") };
    let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(conn);
    client
        .simple_query(sql)
        .await
        .unwrap()
        .into_iter()
        .filter_map(|m| match m {
            tokio_postgres::SimpleQueryMessage::Row(r) => {
                Some((0..r.len()).map(|i| r.get(i).unwrap_or_default().to_string()).collect())
            }
            _ => None,
        })
        .collect()
}

/// What the change log says is leased now, (session#number → desk), replaying every lease
/// record and tombstone in log order.
fn leased_in(records: &[Record]) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for r in records {
        match r {
            Record::Lease(l) => {
                out.insert(Lease::key(&l.session_id, l.queue_no), l.device_id.to_string());
            }
            Record::Tombstone { entity, id } if entity == "lease" => {
                out.remove(id);
            }
            _ => {}
        }
    }
    out
}

/// What the database holds leased now, (session#number → desk).
async fn leased_in_db(db: &Db) -> BTreeMap<String, String> {
    rows(db, "SELECT session_id || '#' || queue_no, lease_device FROM numbers WHERE lease_device IS NOT NULL")
        .await
        .into_iter()
        .map(|r| (r[0].clone(), r[1].clone()))
        .collect()
}

/// Each desk's lease counts from the database: desk → (what → numbers).
async fn lease_counts(db: &Db) -> HashMap<String, HashMap<String, i64>> {
    let mut out: HashMap<String, HashMap<String, i64>> = HashMap::new();
    for r in rows(db, "SELECT device_id, what, SUM(n) FROM lease_events GROUP BY device_id, what").await {
        out.entry(r[0].clone()).or_default().insert(r[1].clone(), r[2].parse().unwrap());
    }
    out
}

/// Numbers leased per (session, desk) now.
async fn held_per_session(db: &Db) -> HashMap<(String, String), u32> {
    rows(db, "SELECT session_id, lease_device, COUNT(*) FROM numbers WHERE lease_device IS NOT NULL GROUP BY 1, 2")
        .await
        .into_iter()
        .map(|r| ((r[0].clone(), r[1].clone()), r[2].parse().unwrap()))
        .collect()
}

/// Three processes lease one site's desks concurrently — each process's own round, rounds on
/// request at every process, and every desk asking for its share at every process — and then
/// desks spend their leases while other desks book outside a lease, asking for leased
/// numbers, and an online burst books, on all three processes at once: every desk holds
/// exactly its share, no number is leased twice, nothing outside a lease takes a leased
/// number, every spend gets its number, and the change log says what the database holds.
async fn three_processes_lease_each_desk_exactly_its_share_and_nothing_else_takes_a_leased_number() {
    let c = Arc::new(Cluster::start(3).await);
    let mut desks = Vec::new();
    for i in 0..6 {
        desks.push(c.enroll(i % 3).await);
    }
    // 20 % held back; leases end 10 minutes before their slot; today's and tomorrow's sessions.
    let policy = LeasePolicy {
        hold_back_percent: 20,
        min_per_desk: 1,
        max_per_desk: 0,
        expire_before_minutes: 10,
        horizon_days: 1,
        low_water: 1,
    };
    c.put_policy(1, &policy).await;
    // Each session's desk pool, and the share of each of the 6 desks in it: the demo's pools
    // (16, 14 and 12 desk numbers) hold every desk's share, so each desk gets exactly it.
    let all_pools: HashMap<String, u32> = rows(
        &c.db,
        "SELECT n.session_id, COUNT(*) FROM numbers n JOIN sessions s ON s.id = n.session_id \
         WHERE s.site_id = 'demo' AND s.date BETWEEN '2026-11-23' AND '2026-11-25' AND n.pool = 'desk' \
         GROUP BY n.session_id",
    )
    .await
    .into_iter()
    .map(|r| (r[0].clone(), r[1].parse().unwrap()))
    .collect();
    let share = |session: &str| policy.share(all_pools[session], 6);
    let pools: HashMap<String, u32> =
        all_pools.iter().filter(|(s, _)| !s.contains("20261125")).map(|(s, n)| (s.clone(), *n)).collect();
    assert_eq!(pools.len(), 2 * (11 * 2 + 2), "the demo's sessions of today and tomorrow");
    for (session, pool) in &all_pools {
        assert!(6 * share(session) <= pool - policy.held_back(*pool), "{session}: the shares fit");
    }

    // The race: rounds on every process, and every desk asking at every process.
    let mut tasks = Vec::new();
    for on in 0..3 {
        let c = c.clone();
        tasks.push(tokio::spawn(async move {
            for _ in 0..6 {
                c.lease_round(on).await;
            }
        }));
    }
    for (i, d) in desks.iter().enumerate() {
        let c = c.clone();
        let d = Device { id: d.id.clone(), site: d.site.clone(), token: d.token.clone(), seq: 0 };
        tasks.push(tokio::spawn(async move {
            for k in 0..6 {
                let answer = c.top_up((i + k) % 3, &d).await;
                assert!(answer.leases.iter().all(|l| l.device_id == d.id));
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let held = held_per_session(&c.db).await;
    for session in pools.keys() {
        for d in &desks {
            let n = held.get(&(session.clone(), d.id.to_string())).copied().unwrap_or(0);
            assert_eq!(n, share(session), "desk {} in {session}", d.id);
        }
    }
    assert!(held.keys().all(|(session, _)| pools.contains_key(session)), "only sessions the policy leases");
    let counts = lease_counts(&c.db).await;
    let total: u32 = held.values().sum();
    for d in &desks {
        let mine: u32 = held.iter().filter(|((_, dev), _)| *dev == d.id.as_str()).map(|(_, n)| n).sum();
        let theirs = &counts[d.id.as_str()];
        assert_eq!(theirs.get("granted").copied(), Some(i64::from(mine)), "granted once each, never overwritten");
        assert_eq!(theirs.len(), 1, "nothing ended: {theirs:?}");
    }
    // The change log says the same, page by page from every process.
    let (log, _) = c.pull_all(&desks[0], 0, 1000).await;
    let db_leases = leased_in_db(&c.db).await;
    assert_eq!(db_leases.len() as u32, total);
    assert_eq!(leased_in(&log), db_leases);

    // Spends, bookings outside a lease and an online burst, with rounds still running — and
    // granting: the horizon now takes in the day after tomorrow, whose desk pools desks also
    // book outside a lease at once, asking for the very numbers a grant takes first.
    let phase1: HashSet<String> = db_leases.keys().cloned().collect();
    let today = |l: &&Lease| l.session_id.as_str().contains("20261123");
    let mut answers = Vec::new();
    for d in &desks {
        answers.push(c.top_up(0, d).await.leases);
    }
    c.put_policy(2, &LeasePolicy { horizon_days: 2, ..policy }).await;
    let mut tasks = Vec::new();
    for (i, d) in desks.iter_mut().enumerate() {
        let spend: Vec<Lease> = answers[i].iter().filter(today).take(2).cloned().collect();
        let want: Vec<Lease> = answers[(i + 1) % 6].iter().filter(today).take(2).cloned().collect();
        assert_eq!((spend.len(), want.len()), (2, 2));
        // Bookings outside a lease into the day after tomorrow: slot k's highest desk number
        // (6k), the first a grant takes.
        let later: Vec<Lease> = [1 + i % 4, 5 + i % 4]
            .into_iter()
            .map(|k| Lease {
                session_id: "demo-ek-1-20261125-am".into(),
                slot_id: SlotId(format!("demo-ek-1-20261125-am-{k:02}")),
                queue_no: 6 * k as u32,
                device_id: d.id.clone(),
                expires_at: jiff::Timestamp::UNIX_EPOCH,
            })
            .collect();
        let mut ops = Vec::new();
        let asks = spend.iter().map(|l| (l, true)).chain(want.iter().chain(&later).map(|l| (l, false)));
        for (k, (l, leased)) in asks.enumerate() {
            let n = 40_000 + 10 * i as u64 + k as u64;
            let p = patient("demo", n);
            ops.push(d.op(Op::RegisterPatient { patient: p.clone() }));
            ops.push(d.op(Op::Book {
                booking_id: BookingId(uuid::Uuid::now_v7().to_string()),
                patient_id: p.id.clone(),
                slot_id: l.slot_id.clone(),
                channel: Channel::Desk,
                queue_no: l.queue_no,
                leased,
                ticket_code: ticket(n),
                overbook_reason: None,
            }));
        }
        let (c, dev) = (c.clone(), Device { id: d.id.clone(), site: d.site.clone(), token: d.token.clone(), seq: 0 });
        tasks.push(tokio::spawn(async move {
            let r = c.push((i + 1) % 3, &dev, ops).await;
            let outcomes: Vec<Outcome> = r.results.into_iter().map(|r| r.outcome).collect();
            (spend, want, later, outcomes)
        }));
    }
    let mut others = Vec::new();
    for on in 0..3 {
        let c = c.clone();
        others.push(tokio::spawn(async move {
            for _ in 0..4 {
                c.lease_round(on).await;
            }
        }));
    }
    for (i, d) in desks.iter().enumerate() {
        let c = c.clone();
        let d = Device { id: d.id.clone(), site: d.site.clone(), token: d.token.clone(), seq: 0 };
        others.push(tokio::spawn(async move {
            for k in 0..3 {
                c.top_up((i + k + 2) % 3, &d).await;
            }
        }));
    }
    let online = Arc::new(AtomicUsize::new(0));
    for i in 0..300u64 {
        let (c, online) = (c.clone(), online.clone());
        others.push(tokio::spawn(async move {
            let dept = ["NK", "WK", "EK", "FK", "KQ"][(i % 5) as usize];
            let body = json!({"patient": frontdesk_central::demo::patient(70_000 + i), "department": dept});
            let (status, v) = book(&c.client, &c.urls[i as usize % 3], body).await;
            assert!(status == 201 || status == 409, "{status} {v}");
            if status == 201 {
                online.fetch_add(1, Ordering::SeqCst);
            }
        }));
    }
    let (mut tentative, mut full, mut later_booked) = (Vec::new(), 0, 0);
    for t in tasks {
        let (spend, want, later, outcomes) = t.await.unwrap();
        for (k, l) in spend.iter().chain(&want).chain(&later).enumerate() {
            assert!(matches!(outcomes[2 * k], Outcome::Applied { .. }), "{:?}", outcomes[2 * k]);
            let booked = &outcomes[2 * k + 1];
            if k < 2 {
                match booked {
                    Outcome::Applied { effects } => {
                        assert_eq!(effects.queue_no, Some(l.queue_no), "a spend gets its own number")
                    }
                    other => panic!("the spend of {} was refused: {other:?}", Lease::key(&l.session_id, l.queue_no)),
                }
            } else {
                match booked {
                    Outcome::Applied { effects } => {
                        let n = effects.queue_no.unwrap();
                        tentative.push(Lease::key(&l.session_id, n));
                        later_booked += usize::from(k >= 4);
                    }
                    Outcome::Conflict(conflict) => {
                        assert_eq!(conflict.reason, "slot_full", "{conflict:?}");
                        full += 1;
                    }
                    other => panic!("unexpected {other:?}"),
                }
            }
        }
    }
    for t in others {
        t.await.unwrap();
    }
    // One more round after everything: what is checked below is then what every further round
    // (each process runs its own every 30 s) leaves as it is.
    c.lease_round(0).await;
    assert!(online.load(Ordering::SeqCst) > 0, "the online burst booked");
    // The slots of today's leased numbers are leased or spent: full for anyone else.
    assert!(full > 0, "{tentative:?}, {full} full");
    assert!(later_booked > 0, "bookings outside a lease into the day after tomorrow");
    for key in &tentative {
        assert!(!phase1.contains(key), "a booking outside a lease took leased number {key}");
    }
    // Nothing ended but the spends; whatever was granted is held or spent.
    let counts = lease_counts(&c.db).await;
    let held = held_per_session(&c.db).await;
    for d in &desks {
        let theirs = &counts[d.id.as_str()];
        let mine: u32 = held.iter().filter(|((_, dev), _)| *dev == d.id.as_str()).map(|(_, n)| n).sum();
        assert_eq!(theirs.get("spent").copied(), Some(2), "{theirs:?}");
        assert_eq!(theirs.get("granted").copied(), Some(i64::from(mine) + 2), "{theirs:?}");
        assert!(["returned", "expired", "revoked"].iter().all(|w| !theirs.contains_key(*w)), "{theirs:?}");
    }
    for ((session, desk), n) in &held {
        assert!(*n <= share(session), "desk {desk} holds {n} in {session}, beyond its share");
    }
    assert!(held.keys().any(|(session, _)| session.contains("20261125")), "the wider horizon was leased");
    // Per session: desk bookings + leased numbers within the desk pool; no online booking in it.
    let over = rows(
        &c.db,
        "SELECT n.session_id FROM numbers n WHERE n.pool = 'desk' GROUP BY n.session_id \
         HAVING COUNT(*) < COUNT(*) FILTER (WHERE n.lease_device IS NOT NULL) + (SELECT COUNT(*) FROM bookings b \
         WHERE b.session_id = n.session_id AND b.channel = 'desk' AND b.status <> 'cancelled' AND NOT b.overbooked)",
    )
    .await;
    assert!(over.is_empty(), "desk pools over capacity: {over:?}");
    let online_in_desk_pool =
        c.db.sql_i64(
            "SELECT COUNT(*) FROM bookings b JOIN numbers n ON n.session_id = b.session_id AND n.queue_no = b.queue_no \
             WHERE b.channel = 'online' AND n.pool = 'desk'",
        )
        .await;
    assert_eq!(online_in_desk_pool, 0);
    let desk_bookings = c.db.sql_i64("SELECT COUNT(*) FROM bookings WHERE channel = 'desk'").await;
    assert_eq!(desk_bookings as usize, 12 + tentative.len());
    let (log, _) = c.pull_all(&desks[3], 0, 700).await;
    assert_eq!(leased_in(&log), leased_in_db(&c.db).await, "the change log says what the database holds");
    let spent = bookings(&log)
        .into_iter()
        .filter(|b| b.channel == Channel::Desk && phase1.contains(&Lease::key(&b.session_id, b.queue_no)))
        .count();
    assert_eq!(spent, 12, "every spend is in the log as a booking of its leased number");
}

/// An expired lease returns only when the platform can be sure it is unspent, whichever
/// process served the desk and whichever runs the round: a desk's pull of its own leases is on
/// record before the page is answered (the process that served it is killed at once), so a
/// process whose clock has passed the expiry returns the other desk's never-sent leases but
/// keeps this desk's — nobody else books them — until the desk pulls with nothing pending.
async fn an_expired_lease_a_desk_was_sent_stays_held_across_processes_until_it_pulls_clean() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("admin-token"), format!("{ADMIN_TOKEN}\n")).unwrap();
    let client = client_builder().timeout(Duration::from_secs(30)).build().unwrap();
    let db = Db::Postgres(fresh_postgres_db().await);
    let mut c = Cluster { procs: Vec::new(), urls: Vec::new(), db, _dir: dir, client };
    let (early, late) = (c.add_process(NOW), c.add_process(NOW));
    let a = c.enroll(early).await;
    let mut b = c.enroll(early).await;
    // Today's sessions only; 25 % held back, two desks: 6 numbers each of a morning's 16, A
    // the higher number of slots 1–6, B the lower. Slot 1 (08:00) leases expire at 07:50.
    let policy = LeasePolicy {
        hold_back_percent: 25,
        min_per_desk: 1,
        max_per_desk: 0,
        expire_before_minutes: 10,
        horizon_days: 0,
        low_water: 1,
    };
    c.put_policy(early, &policy).await;
    let (granted, _) = c.lease_round(early).await;
    assert!(granted > 0);
    let session = "demo-nk-1-20261123-am";
    let db = c.db.clone();
    let lessee = |n: u32| {
        let db = db.clone();
        async move {
            rows(&db, &format!("SELECT lease_device FROM numbers WHERE session_id = '{session}' AND queue_no = {n}"))
                .await[0][0]
                .clone()
        }
    };
    assert_eq!((lessee(6).await, lessee(5).await), (a.id.to_string(), b.id.to_string()));
    // A learns its leases from a pull at one process (ops still pending), which dies at once.
    let log = c.pull_from(late, &a, 0, 1).await;
    assert!(log.iter().any(|r| matches!(r, Record::Lease(l) if l.device_id == a.id)));
    c.procs[late].take();
    let on_record =
        c.db.sql_i64(&format!(
            "SELECT COUNT(*) FROM lease_receipts r WHERE r.device_id = '{}' AND r.served_cursor >= \
             (SELECT MAX(lease_cursor) FROM numbers WHERE lease_device = '{}')",
            a.id, a.id
        ))
        .await;
    assert_eq!(on_record, 1, "the page with A's leases was on record before A had it");
    // 07:55 at another process: slot 1's leases have expired. B was never sent its own: they
    // return (one per morning session, 11); A's stay held.
    let later = c.add_process("2026-11-23T07:55:00+08:00");
    let (_, returned) = c.lease_round(later).await;
    assert_eq!(returned, 11, "B's slot-1 leases of the 11 morning sessions");
    assert_eq!((lessee(6).await, lessee(5).await), (a.id.to_string(), String::new()));
    // Nobody else takes A's expired number: B, booking outside a lease and asking for 6, gets 5.
    let p = patient("demo", 91_001);
    let ops = vec![
        b.op(Op::RegisterPatient { patient: p.clone() }),
        b.op(Op::Book {
            booking_id: BookingId(uuid::Uuid::now_v7().to_string()),
            patient_id: p.id.clone(),
            slot_id: SlotId(format!("{session}-01")),
            channel: Channel::Desk,
            queue_no: 6,
            leased: false,
            ticket_code: ticket(91_001),
            overbook_reason: None,
        }),
    ];
    let r = c.push(later, &b, ops).await;
    match &r.results[1].outcome {
        Outcome::Applied { effects } => assert_eq!(effects.queue_no, Some(5), "A's expired lease is still A's"),
        other => panic!("{other:?}"),
    }
    assert_eq!(c.lease_round(later).await.1, 0, "nothing more may return");
    // A pulls with nothing pending: its expired leases return at the next round.
    c.pull_from(later, &a, 0, 0).await;
    let (_, returned) = c.lease_round(later).await;
    assert_eq!(returned, 11, "A's slot-1 leases of the 11 morning sessions");
    assert_eq!(lessee(6).await, String::new());
    let counts = lease_counts(&c.db).await;
    assert_eq!(counts[a.id.as_str()].get("expired").copied(), Some(11));
    assert_eq!(counts[b.id.as_str()].get("expired").copied(), Some(11));
    // The change log agrees with the database, at either live process.
    for on in [early, later] {
        assert_eq!(leased_in(&c.pull_from(on, &b, 0, 1).await), leased_in_db(&c.db).await);
    }
}

macro_rules! postgres_only {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn postgres() {
                super::$name().await
            }
        }
    )*};
}

postgres_only!(
    three_processes_book_exactly_the_free_numbers_of_a_hot_department,
    pushes_of_one_device_split_across_processes_keep_order_and_apply_once,
    pull_with_writers_on_three_processes_never_skips_a_change,
    sigkill_of_one_process_mid_burst_loses_nothing_and_the_others_keep_serving,
    a_database_restart_mid_burst_gives_503s_then_recovers_by_itself,
    three_processes_lease_each_desk_exactly_its_share_and_nothing_else_takes_a_leased_number,
    an_expired_lease_a_desk_was_sent_stays_held_across_processes_until_it_pulls_clean,
);
