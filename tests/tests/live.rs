//! The live board, end to end: a desk running `frontdesk sync --watch` with a long poll interval
//! sees what the platform takes for its site within a second, through the platform's long-poll
//! (docs/SYNC.md, "Live board").
// Tests panic on unexpected failures: that is how they report them.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use frontdesk_e2e::{Backend, Central, DeskCli, document};
use serde_json::Value;

/// A `frontdesk sync --watch` process, killed on drop.
struct Watching {
    child: Child,
    cycles: mpsc::Receiver<String>,
}

impl Watching {
    /// Starts the watch with a ten-minute poll: only the live board can bring a change in
    /// within the test.
    fn start(d: &DeskCli) -> Watching {
        let mut child = d
            .command(&["sync", "--watch", "--interval", "600", "--json"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, cycles) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Watching { child, cycles }
    }

    /// Waits for the report of a cycle.
    fn cycle(&self) -> String {
        self.cycles.recv_timeout(Duration::from_secs(30)).expect("a sync cycle within 30 s")
    }
}

impl Drop for Watching {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Live bookings of a slot on the desk's board.
fn booked(d: &DeskCli, slot_id: &str) -> u64 {
    let board: Value = d.json(&["board"]);
    for dept in board["departments"].as_array().unwrap() {
        for p in dept["providers"].as_array().unwrap() {
            for s in p["sessions"].as_array().unwrap() {
                for slot in s["slots"].as_array().unwrap() {
                    if slot["slot"]["id"] == slot_id {
                        return slot["booked"].as_u64().unwrap();
                    }
                }
            }
        }
    }
    panic!("slot {slot_id} is not on the board");
}

/// Polls the desk's board until the slot shows `want` bookings, at most until `deadline`;
/// how long after `since` it did.
fn seen_by(d: &DeskCli, slot_id: &str, want: u64, since: Instant, deadline: Duration) -> Duration {
    loop {
        let n = booked(d, slot_id);
        let at = since.elapsed();
        if n >= want {
            return at;
        }
        assert!(at < deadline, "the desk's board still shows {n} booking(s) of {slot_id} {at:?} after the change");
    }
}

fn a_watching_desk_sees_an_online_booking_and_another_desk_s_within_a_second(b: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let central_dir = dir.path().join("central");
    std::fs::create_dir_all(&central_dir).unwrap();
    let central = Central::start_on(b, &central_dir, &["--device-rate", "0", "--public-rate", "0"]);
    let d = DeskCli::new(&dir.path().join("watching"));
    d.enroll(&central.url, &central.enroll_code());
    let other = DeskCli::new(&dir.path().join("other"));
    other.enroll(&central.url, &central.enroll_code());

    let watch = Watching::start(&d);
    watch.cycle();
    let slot = "demo-nk-1-20261123-am-03";
    let before = booked(&d, slot);

    // An online booking: on the desk's replica within a second of the booking's answer.
    let (status, answer) = central.book_online("线上", &document(9_001), slot);
    let answered = Instant::now();
    assert_eq!(status, 201, "{answer}");
    let latency = seen_by(&d, slot, before + 1, answered, Duration::from_secs(1));
    eprintln!("{b:?}: an online booking reached the watching desk's board {latency:?} after its answer");

    // Another desk's booking, pushed by that desk's own sync: the same.
    let p = other.register("另一台", &document(9_002));
    other.json(&["book", "--patient", &p, "--slot", slot]);
    assert!(other.sync());
    let pushed = Instant::now();
    let latency = seen_by(&d, slot, before + 2, pushed, Duration::from_secs(1));
    eprintln!("{b:?}: another desk's booking reached the watching desk's board {latency:?} after its sync");

    drop(watch);
}

/// Live-board waits held at once in [`five_hundred_desks_hold_live_waits_through_a_burst_of_bookings`].
const DESKS: usize = 500;
/// Online booking requests of its burst, and the clients sending them at once.
const REQUESTS: usize = 300;
const CLIENTS: usize = 30;

/// How one desk's waits went.
#[derive(Debug, Default)]
struct WaitLog {
    /// Answers by status (every one must be 200).
    statuses: Vec<u16>,
    /// Answers `changed: true` and their heads.
    heads: Vec<u64>,
    /// Answers with `Retry-After` (shed).
    shed: usize,
}

/// One desk's wait: `GET /v1/sync/wait` as the desk's watcher asks it (20 s).
async fn wait(client: &reqwest::Client, url: &str, token: &str, cursor: u64) -> (u16, bool, Value) {
    let resp = client
        .get(format!("{url}/v1/sync/wait?cursor={cursor}&timeout_ms=20000"))
        .bearer_auth(token)
        .send()
        .await
        .expect("a wait answered");
    let status = resp.status().as_u16();
    let shed = resp.headers().contains_key("retry-after");
    (status, shed, resp.json().await.unwrap_or(Value::Null))
}

/// The platform's gauge of live-board waits held now.
async fn held(client: &reqwest::Client, url: &str) -> usize {
    let text = client.get(format!("{url}/metrics")).send().await.unwrap().text().await.unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix("frontdesk_live_waits "))
        .and_then(|v| v.trim().parse::<f64>().ok())
        .map_or(0, |v| v as usize)
}

/// Online numbers still free in 内科 today, over the slots that can still be booked.
async fn free_in_nk(client: &reqwest::Client, url: &str) -> u64 {
    let a: Value = client
        .get(format!("{url}/v1/public/sites/demo/availability?date=2026-11-23&department=NK"))
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

/// 500 desks of the site hold live-board waits (each re-issued with the new head as soon as it
/// is answered) while a burst of online bookings — more than the department has numbers —
/// arrives from concurrent clients. No 5xx anywhere; every booking is made or refused as sold
/// out; no number is given twice; exactly the free numbers are booked; every desk's wait is
/// answered `changed: true` past the head it knew before the burst. Behaviour only: no timing.
fn five_hundred_desks_hold_live_waits_through_a_burst_of_bookings(b: Backend) {
    // Both ends of the waits' connections: 500-odd sockets in this process and in the
    // platform's, within the usual soft limit of 1024 open files.
    if let Some(limit) = std::fs::read_to_string("/proc/self/limits").ok().and_then(|l| {
        let line = l.lines().find(|l| l.starts_with("Max open files"))?.to_string();
        line["Max open files".len()..].split_whitespace().next()?.parse::<usize>().ok()
    }) {
        assert!(limit >= DESKS + CLIENTS + 100, "open files: soft limit {limit} is too low for {DESKS} waits");
    }
    let dir = tempfile::tempdir().unwrap();
    let central_dir = dir.path().join("central");
    std::fs::create_dir_all(&central_dir).unwrap();
    // Every booking comes from one address: no per-address limit. Desks keep their default
    // per-device limit (a waiter asks a few times a second at most).
    let central = Central::start_on(b, &central_dir, &["--public-rate", "0"]);
    let url = central.url.clone();
    let admin = central.admin_token();
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::builder().timeout(Duration::from_secs(60)).build().unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    rt.block_on(async move {
        // 500 desks enrolled through the API, 16 at a time.
        let gate = std::sync::Arc::new(tokio::sync::Semaphore::new(16));
        let mut enrolling = Vec::new();
        for d in 0..DESKS {
            let (client, url, admin, gate) = (client.clone(), url.clone(), admin.clone(), gate.clone());
            enrolling.push(tokio::spawn(async move {
                let _slot = gate.acquire().await.unwrap();
                let code: Value = client
                    .post(format!("{url}/v1/admin/sites/demo/enroll-codes"))
                    .bearer_auth(&admin)
                    .json(&serde_json::json!({}))
                    .send()
                    .await
                    .unwrap()
                    .json()
                    .await
                    .unwrap();
                let resp = client
                    .post(format!("{url}/v1/devices/enroll"))
                    .json(&serde_json::json!({ "code": code["code"], "name": format!("desk {d}") }))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(resp.status(), 200, "enrolling desk {d}");
                let e: Value = resp.json().await.unwrap();
                e["token"].as_str().unwrap().to_string()
            }));
        }
        let mut tokens = Vec::new();
        for e in enrolling {
            tokens.push(e.await.unwrap());
        }

        // Every desk holds a wait: first it learns the site's head (answered at once), then it
        // waits past it, and again past every new head, until told to stop.
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let mut waiters = Vec::new();
        for token in &tokens {
            let (client, url, token, stop) = (client.clone(), url.clone(), token.clone(), stop.clone());
            waiters.push(tokio::spawn(async move {
                let mut log = WaitLog::default();
                let mut cursor = 0;
                let deadline = Instant::now() + Duration::from_secs(300);
                for _ in 0..10_000 {
                    if stop.load(std::sync::atomic::Ordering::Relaxed) || Instant::now() > deadline {
                        break;
                    }
                    let (status, shed, answer) = wait(&client, &url, &token, cursor).await;
                    log.statuses.push(status);
                    if status != 200 {
                        tokio::time::sleep(Duration::from_millis(200)).await;
                        continue;
                    }
                    if shed {
                        log.shed += 1;
                        tokio::time::sleep(Duration::from_secs(1)).await;
                        continue;
                    }
                    if answer["changed"] == true {
                        let head = answer["head"].as_u64().unwrap();
                        log.heads.push(head);
                        cursor = cursor.max(head);
                    }
                }
                log
            }));
        }
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let n = held(&client, &url).await;
            if n >= DESKS {
                break;
            }
            assert!(Instant::now() < deadline, "only {n} of {DESKS} live-board waits held after 120 s");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        // The head every desk has seen before the burst: a new desk's wait from 0 answers it
        // at once.
        let (status, _, answer) = wait(&client, &url, &tokens[0], 0).await;
        assert_eq!(status, 200, "{answer}");
        let before = answer["head"].as_u64().unwrap();

        // The burst: 300 requests for 内科 today from 30 clients at once — more than its free
        // numbers.
        let free = free_in_nk(&client, &url).await;
        assert!(free > 0 && (free as usize) < REQUESTS, "the burst asks for more than the {free} free numbers");
        let mut clients = Vec::new();
        for c in 0..CLIENTS {
            let (client, url) = (client.clone(), url.clone());
            clients.push(tokio::spawn(async move {
                let mut answers = Vec::new();
                for i in 0..REQUESTS / CLIENTS {
                    let n = 70_000 + (c * (REQUESTS / CLIENTS) + i) as u32;
                    let resp = client
                        .post(format!("{url}/v1/public/sites/demo/bookings"))
                        .json(&serde_json::json!({
                            "patient": { "name": format!("网约{n}"), "document_number": document(n) },
                            "department": "NK",
                            "date": "2026-11-23",
                        }))
                        .send()
                        .await
                        .expect("a booking answered");
                    let status = resp.status().as_u16();
                    answers.push((status, resp.json::<Value>().await.unwrap_or(Value::Null)));
                }
                answers
            }));
        }
        let mut booked = std::collections::HashSet::new();
        let mut ids = std::collections::HashSet::new();
        let mut refused = 0;
        for c in clients {
            for (status, answer) in c.await.unwrap() {
                match status {
                    201 => {
                        let number = (answer["session_id"].to_string(), answer["queue_no"].as_u64().unwrap());
                        assert!(booked.insert(number.clone()), "number {number:?} booked twice");
                        assert!(ids.insert(answer["booking_id"].to_string()), "booking id twice: {answer}");
                    }
                    409 => {
                        let reason = answer["reason"].as_str().unwrap_or_default();
                        assert!(
                            reason == "no_slot_available" || reason == "slot_full",
                            "refused with a sold-out reason, not {answer}"
                        );
                        assert!(!answer["message"].as_str().unwrap_or_default().is_empty(), "{answer}");
                        refused += 1;
                    }
                    _ => panic!("a booking answered {status}: {answer}"),
                }
            }
        }
        assert_eq!(booked.len() + refused, REQUESTS);
        assert_eq!(booked.len() as u64, free, "exactly the free numbers booked");
        // Availability is answered from the platform's view, which follows the change log
        // every 200 ms: sold out once it has caught up.
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let left = free_in_nk(&client, &url).await;
            if left == 0 {
                break;
            }
            assert!(Instant::now() < deadline, "{left} numbers still free 10 s after the burst");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }

        // A change after the burst answers every wait still held; then the desks stop.
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let resp = client
            .post(format!("{url}/v1/public/sites/demo/bookings"))
            .json(&serde_json::json!({
                "patient": { "name": "收尾", "document_number": document(79_999) },
                "department": "WK",
                "date": "2026-11-24",
            }))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 201);
        let mut woken = 0;
        let mut answered = 0;
        for (d, w) in waiters.into_iter().enumerate() {
            let log = tokio::time::timeout(Duration::from_secs(60), w)
                .await
                .unwrap_or_else(|_| panic!("desk {d}'s waits did not end within 60 s"))
                .unwrap();
            assert!(log.statuses.iter().all(|s| *s == 200), "desk {d}: every wait answered 200: {:?}", log.statuses);
            assert_eq!(log.shed, 0, "desk {d}: no wait shed ({DESKS} waits, within the bound)");
            assert!(
                log.heads.iter().any(|h| *h > before),
                "desk {d}: a wait answered changed: true past {before}: {:?}",
                log.heads
            );
            woken += 1;
            answered += log.statuses.len();
        }
        eprintln!("{b:?}: {woken} desks woken by the burst; {answered} waits answered in all; {free} numbers booked");
    });
}

frontdesk_e2e::on_both!(
    a_watching_desk_sees_an_online_booking_and_another_desk_s_within_a_second,
    five_hundred_desks_hold_live_waits_through_a_burst_of_bookings
);
