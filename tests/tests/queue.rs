//! The waiting room end to end (docs/SYNC.md, "The waiting room"): calls are ops — made
//! offline, pushed, decided by the real `frontdesk-central` (on SQLite and on PostgreSQL) with
//! the rules the desk predicted with — and every desk of the site shows the same queue. Every
//! desk is the real `frontdesk` binary on its own data directory, each command its own process.
// Tests panic on unexpected failures: that is how they report them.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use frontdesk_e2e::proxy::{Faults, Proxy};
use frontdesk_e2e::{Backend, Central, DeskCli, document, wait_until};
use serde_json::Value;

/// 王建国 (内科, room 1)'s morning on the demo day. At 08:30 (the tests' clock) slots 3 … 8
/// (09:00 … 12:00) lie ahead; slot k's desk numbers are 6k−1 and 6k.
const SESSION: &str = "demo-nk-1-20261123-am";

fn slot(k: u32) -> String {
    format!("{SESSION}-{k:02}")
}

struct World {
    _dir: tempfile::TempDir,
    central: Central,
    root: std::path::PathBuf,
}

impl World {
    fn new(b: Backend) -> World {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_path_buf();
        let central_dir = root.join("central");
        std::fs::create_dir_all(&central_dir).unwrap();
        let central = Central::start_on(b, &central_dir, &["--device-rate", "0", "--public-rate", "0"]);
        World { _dir: dir, central, root }
    }

    /// A desk enrolled with the snapshot pulled.
    fn desk(&self, name: &str) -> DeskCli {
        let d = DeskCli::new(&self.root.join(name));
        d.enroll(&self.central.url, &self.central.enroll_code());
        d
    }

    /// The platform's queue of the session, as a desk enrolled just now pulls it.
    fn platform_queue(&self, name: &str) -> Vec<Entry> {
        let fresh = self.desk(name);
        let q = queue(&fresh);
        assert!(entries(&q).iter().all(|e| !e.predicted));
        entries(&q)
    }
}

/// A queue entry without its times (the platform stamps its own).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Entry {
    queue_no: u64,
    state: String,
    calls: u64,
    place: (u64, u64),
    predicted: bool,
}

impl Entry {
    /// The same entry, confirmed.
    fn confirmed(&self) -> Entry {
        Entry { predicted: false, ..self.clone() }
    }
}

fn queue(d: &DeskCli) -> Value {
    d.json(&["queue", "--session", SESSION])
}

/// Every entry of a queue view, by number.
fn entries(q: &Value) -> Vec<Entry> {
    let mut all: Vec<&Value> = Vec::new();
    if !q["called"].is_null() {
        all.push(&q["called"]);
    }
    all.extend(q["waiting"].as_array().unwrap());
    all.extend(q["done"].as_array().unwrap());
    let mut out: Vec<Entry> = all
        .into_iter()
        .map(|e| Entry {
            queue_no: e["queue_no"].as_u64().unwrap(),
            state: e["state"].as_str().unwrap().to_string(),
            calls: e["calls"].as_u64().unwrap(),
            place: (e["place"]["after"].as_u64().unwrap(), e["place"]["seq"].as_u64().unwrap()),
            predicted: e["predicted"].as_bool().unwrap(),
        })
        .collect();
    out.sort();
    out
}

fn confirmed(entries: &[Entry]) -> Vec<Entry> {
    entries.iter().map(Entry::confirmed).collect()
}

fn waiting(q: &Value) -> Vec<u64> {
    q["waiting"].as_array().unwrap().iter().map(|e| e["queue_no"].as_u64().unwrap()).collect()
}

fn called(q: &Value) -> Option<(u64, u64)> {
    let c = &q["called"];
    (!c.is_null()).then(|| (c["queue_no"].as_u64().unwrap(), c["calls"].as_u64().unwrap()))
}

fn pending(d: &DeskCli) -> u64 {
    d.json(&["status"])["sync"]["pending_ops"].as_u64().unwrap()
}

/// Patient `n` registers, books slot `k` and checks in at the desk; the ticket code.
fn arrive(d: &DeskCli, n: u32, k: u32) -> String {
    let p = d.register(&format!("候诊{n}"), &document(n));
    let b = d.json(&["book", "--patient", &p, "--slot", &slot(k)]);
    let code = b["booking"]["ticket_code"].as_str().unwrap().to_string();
    let checked = d.json(&["checkin", &code]);
    assert_eq!(checked["booking"]["status"], "checked_in");
    code
}

/// A `frontdesk sync --watch` process with a ten-minute poll (only the live board brings a
/// change in within the test), killed on drop.
struct Watching {
    child: Child,
    cycles: mpsc::Receiver<String>,
}

impl Watching {
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

/// (a) A call made at one desk reaches another desk at its next sync, and a watching desk
/// within a second of the calling desk's sync.
fn a_call_reaches_every_desk_of_the_site_and_a_watching_desk_within_a_second(b: Backend) {
    let w = World::new(b);
    let a = w.desk("a");
    let other = w.desk("b");
    let watching = w.desk("watching");
    let watch = Watching::start(&watching);
    watch.cycle();

    arrive(&a, 1, 3);
    assert!(a.sync());
    assert!(other.sync());
    let q = queue(&other);
    assert_eq!(waiting(&q), [17], "another desk's check-in is in this desk's queue");
    assert!(entries(&q).iter().all(|e| !e.predicted));

    let call = a.json(&["queue", "call-next", "--session", SESSION]);
    assert_eq!(call["call"]["queue_no"], 17);
    assert_eq!(call["call"]["room"], 1);
    assert!(a.sync());
    let synced = Instant::now();
    // The watching desk: polled through its own `frontdesk queue` processes.
    loop {
        let q = queue(&watching);
        let at = synced.elapsed();
        if called(&q) == Some((17, 1)) {
            assert!(!q["called"]["predicted"].as_bool().unwrap());
            eprintln!("{b:?}: the call reached the watching desk {at:?} after the calling desk's sync");
            break;
        }
        assert!(at < Duration::from_secs(1), "the watching desk still shows {} {at:?} after the call", q["called"]);
    }
    assert!(other.sync());
    let q = queue(&other);
    assert_eq!(called(&q), Some((17, 1)));
    assert!(!q["called"]["predicted"].as_bool().unwrap());
    assert!(waiting(&q).is_empty());
    let display = other.json(&["queue", "display"]);
    assert_eq!(display["rooms"][0]["calling"]["queue_no"], 17);
    assert_eq!(entries(&queue(&a)), entries(&q), "the calling desk shows the platform's queue too");
    drop(watch);
}

/// (b) A desk offline checks patients in and calls two of them; after it syncs, the platform
/// has exactly the queue the desk predicted.
fn calls_made_offline_land_on_the_platform_as_the_desk_predicted(b: Backend) {
    let w = World::new(b);
    let a = w.desk("a");
    for (n, k) in [(11, 5), (12, 3), (13, 4)] {
        arrive(&a, n, k);
    }
    let first = a.json(&["queue", "call-next", "--session", SESSION]);
    assert_eq!(first["call"]["queue_no"], 17);
    a.json(&["queue", "recall", first["booking_id"].as_str().unwrap()]);
    let second = a.json(&["queue", "call-next", "--session", SESSION]);
    assert_eq!(second["call"]["queue_no"], 23);
    let predicted = entries(&queue(&a));
    assert!(predicted.iter().all(|e| e.predicted), "nothing is confirmed offline");
    assert_eq!(
        predicted.iter().map(|e| (e.queue_no, e.state.as_str(), e.calls)).collect::<Vec<_>>(),
        [(17, "seen", 2), (23, "called", 1), (29, "waiting", 0)]
    );
    assert_eq!(pending(&a), 3 * 3 + 3, "three registrations, bookings and check-ins, three queue ops");
    assert!(a.sync());
    assert_eq!(pending(&a), 0);
    assert!(a.json(&["conflicts", "list"]).as_array().unwrap().is_empty());
    let after = entries(&queue(&a));
    assert_eq!(after, confirmed(&predicted), "confirmed as predicted");
    assert_eq!(w.platform_queue("check"), after, "the platform has the queue the desk predicted");
    assert_eq!(a.digest(), w.desk("check-2").digest());
}

/// (c) Two desks offline act on the same patient: the platform applies the first to arrive and
/// answers the other with a conflict; both desks converge to the platform's queue and the
/// loser's nurse gets a notice (nothing to resolve).
fn two_desks_offline_calling_the_same_patient_converge_and_the_loser_is_told(b: Backend) {
    let w = World::new(b);
    let a = w.desk("a");
    let bd = w.desk("b");
    let first = arrive(&a, 21, 3);
    arrive(&a, 22, 4);
    assert!(a.sync() && bd.sync());
    assert_eq!(waiting(&queue(&bd)), [17, 23]);

    // Both offline: both call number 17; desk B also calls them again.
    a.json(&["queue", "call", &first]);
    bd.json(&["queue", "call", &first]);
    bd.json(&["queue", "recall", &first]);
    assert_eq!(called(&queue(&bd)), Some((17, 2)), "desk B's own prediction");
    assert!(a.sync());
    assert!(bd.sync());
    assert_eq!(pending(&bd), 0);
    let q = queue(&bd);
    assert_eq!(called(&q), Some((17, 1)), "the platform's call, once; desk B's recall did not happen either");
    assert!(entries(&q).iter().all(|e| !e.predicted));
    let notices = bd.json(&["conflicts", "list"]);
    let notices = notices.as_array().unwrap();
    assert_eq!(notices.len(), 2, "{notices:?}");
    assert!(notices.iter().all(|n| n["informational"] == true && n["kind"] == "queue"));
    assert_eq!(notices[0]["reason"], "not_waiting");
    assert_eq!(notices[0]["title"], "The call was not made");
    assert_eq!(notices[0]["queue_no"], 17);
    assert_eq!(notices[1]["reason"], "depends_on_failed");
    let status = bd.json(&["status"]);
    assert_eq!(
        (status["sync"]["open_conflicts"].as_u64(), status["sync"]["open_notices"].as_u64()),
        (Some(0), Some(2))
    );
    assert_eq!(q["notices"].as_array().unwrap().len(), 2, "the queue screen shows them too");
    let text = bd.ok(&["conflicts", "list"]);
    assert!(text.contains("[notice]") && text.contains("The queue changed"), "{text}");
    // Desk A won: no notice there.
    assert!(a.json(&["conflicts", "list"]).as_array().unwrap().is_empty());

    // Again, different actions: A marks number 17 seen, B skips them.
    a.json(&["queue", "seen", &first]);
    bd.json(&["queue", "skip", &first]);
    assert!(a.sync() && bd.sync());
    let q = queue(&bd);
    assert!(called(&q).is_none(), "seen on the platform: desk B's skip was refused");
    assert_eq!(waiting(&q), [23]);
    let reasons: Vec<String> = bd
        .json(&["conflicts", "list"])
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["reason"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(reasons, ["not_waiting", "depends_on_failed", "not_called"]);
    // A notice is dismissed, not resolved.
    let id = bd.json(&["conflicts", "list"])[2]["id"].as_i64().unwrap().to_string();
    bd.json(&["conflicts", "resolve", &id, "--ack"]);
    assert_eq!(bd.json(&["status"])["sync"]["open_notices"], 2);

    assert!(a.sync());
    let platform = w.platform_queue("check");
    assert_eq!(entries(&queue(&a)), platform);
    assert_eq!(entries(&queue(&bd)), platform);
    assert_eq!(a.digest(), bd.digest());
}

/// (d) `frontdesk sync` killed with SIGKILL at random moments while it pushes queue ops —
/// behind a proxy that holds each request and each answer 40 ms, so a kill often lands while
/// an applied batch's answer is on its way: after it finishes, every call is applied exactly
/// once (the calls counters say so).
fn sync_killed_mid_push_of_queue_ops_applies_every_call_once(b: Backend) {
    let w = World::new(b);
    let upstream: std::net::SocketAddr = w.central.url.trim_start_matches("http://").parse().unwrap();
    let proxy = Proxy::start(upstream, 11);
    let a = DeskCli::new(&w.root.join("a"));
    a.enroll(&proxy.url(), &w.central.enroll_code());
    let codes: Vec<String> = (3..=8).map(|k| arrive(&a, 30 + k, k)).collect();
    let [n17, n23, n29, n35, ..] = [17u64, 23, 29, 35, 41, 47];
    let call_next = || a.json(&["queue", "call-next", "--session", SESSION]);
    call_next();
    a.json(&["queue", "recall", &codes[0]]);
    a.json(&["queue", "recall", &codes[0]]);
    call_next();
    a.json(&["queue", "skip", &codes[1]]);
    call_next();
    a.json(&["queue", "to-end", &codes[3]]);
    assert_eq!(called(&queue(&a)), Some((n29, 1)));
    assert_eq!(waiting(&queue(&a)), [41, n23, 47, n35]);
    // Kill `frontdesk sync` at spread-out moments; after each kill number 29 is called again,
    // so pushes of queue ops are in flight while the process dies.
    proxy.set(Faults { delay: Duration::from_millis(40), ..Faults::default() });
    let mut seed = 0x0051_DE5Au64;
    let mut recalls = 0;
    let (mut progressed, mut cut_short) = (0, 0);
    for _ in 0..36 {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let before = pending(&a);
        let mut child = a.command(&["sync"]).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
        std::thread::sleep(Duration::from_micros(seed % 150_000));
        let _ = child.kill();
        let _ = child.wait();
        let after = pending(&a);
        progressed += usize::from(after < before);
        cut_short += usize::from(after > 0);
        a.json(&["queue", "recall", &codes[2]]);
        recalls += 1;
    }
    eprintln!("{b:?}: {progressed} killed syncs settled some ops, {cut_short} left ops pending");
    assert!(cut_short > 0, "some syncs were killed before they finished");
    proxy.set(Faults::default());
    wait_until("the desk to sync completely", Duration::from_secs(60), || a.sync() && pending(&a) == 0);
    assert!(a.json(&["conflicts", "list"]).as_array().unwrap().is_empty(), "no op was refused as a replay");
    let platform = w.platform_queue("check");
    let by_no = |n: u64| platform.iter().find(|e| e.queue_no == n).unwrap().clone();
    assert_eq!((by_no(n17).state.as_str(), by_no(n17).calls), ("seen", 3), "1 call + 2 recalls, once each");
    assert_eq!((by_no(n23).state.as_str(), by_no(n23).calls), ("waiting", 1));
    assert_eq!((by_no(n29).state.as_str(), by_no(n29).calls), ("called", 1 + recalls));
    assert_eq!(by_no(n35).calls, 0);
    assert_eq!(entries(&queue(&a)), platform, "the desk converged to the platform");
    let q = queue(&w.desk("check-2"));
    assert_eq!(waiting(&q), [41, n23, 47, n35]);
}

frontdesk_e2e::on_both!(
    a_call_reaches_every_desk_of_the_site_and_a_watching_desk_within_a_second,
    calls_made_offline_land_on_the_platform_as_the_desk_predicted,
    two_desks_offline_calling_the_same_patient_converge_and_the_loser_is_told,
    sync_killed_mid_push_of_queue_ops_applies_every_call_once,
);
