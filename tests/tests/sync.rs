//! Desks and a real platform, with real processes and injected faults (DESIGN §3).
//!
//! Every desk is the real `frontdesk` binary on its own data directory, every platform the real
//! `frontdesk-central` on a loopback port; faults are a killed process, a proxy that delays,
//! cuts or duplicates, and a platform that goes away.
// Tests panic on unexpected failures: that is how they report them.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Stdio;
use std::time::Duration;

use frontdesk_e2e::proxy::{Faults, Proxy};
use frontdesk_e2e::{Backend, Central, DeskCli, document, wait_until};
use serde_json::Value;

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

    /// A desk enrolled at `url` (the platform, or a proxy in front of it) with the snapshot pulled.
    fn desk(&self, name: &str, url: &str) -> DeskCli {
        let d = DeskCli::new(&self.root.join(name));
        d.enroll(url, &self.central.enroll_code());
        d
    }
}

fn pending(d: &DeskCli) -> u64 {
    d.json(&["status"])["sync"]["pending_ops"].as_u64().unwrap()
}

fn conflicts(d: &DeskCli) -> Vec<Value> {
    d.json(&["conflicts", "list"]).as_array().unwrap().clone()
}

const SLOT: &str = "demo-nk-1-20261123-am-03"; // 09:00–09:30, desk numbers 17 and 18

fn two_offline_desks_take_the_last_number_one_wins_the_other_rebooks(b: Backend) {
    let w = World::new(b);
    let a = w.desk("a", &w.central.url);
    let b = w.desk("b", &w.central.url);
    // Fill the desk pool but for one number, and let both desks see it.
    let p0 = a.register("甲", &document(1));
    a.json(&["book", "--patient", &p0, "--slot", SLOT]);
    assert!(a.sync() && b.sync());
    // Both offline (no sync), both book the last desk number.
    let pa = a.register("乙", &document(2));
    let pb = b.register("丙", &document(3));
    let ba = a.json(&["book", "--patient", &pa, "--slot", SLOT]);
    let bb = b.json(&["book", "--patient", &pb, "--slot", SLOT]);
    assert_eq!(ba["booking"]["queue_no"], bb["booking"]["queue_no"], "both predicted the same last number");
    assert!(a.sync());
    assert!(b.sync());
    // Exactly one applied: the other is in B's inbox with a suggestion, not on the board.
    let inbox = conflicts(&b);
    assert_eq!(inbox.len(), 1, "{inbox:?}");
    assert_eq!(inbox[0]["reason"], "slot_full");
    let suggestion = inbox[0]["suggestions"][0]["slot_id"].as_str().expect("a suggested slot").to_string();
    assert_ne!(suggestion, SLOT);
    let id = inbox[0]["id"].as_i64().unwrap().to_string();
    let resolved = b.json(&["conflicts", "resolve", &id, "--rebook", &suggestion]);
    assert_eq!(resolved["booking"]["booking"]["slot_id"], suggestion.as_str());
    assert!(b.sync() && a.sync() && b.sync());
    assert!(conflicts(&b).is_empty());
    assert_eq!(pending(&a) + pending(&b), 0);
    assert_eq!(a.digest(), b.digest(), "both desks converge to the platform's state");
    let fresh = w.desk("fresh", &w.central.url);
    assert_eq!(fresh.digest(), a.digest(), "a fresh snapshot of the platform is the same state");
    assert!(a.digest().contains("bookings=3"), "{}", a.digest());
}

fn a_patient_registered_offline_at_two_desks_is_one_patient_everywhere(b: Backend) {
    let w = World::new(b);
    let a = w.desk("a", &w.central.url);
    let b = w.desk("b", &w.central.url);
    let doc = document(7);
    let ida = a.register("王小明", &doc);
    let idb = b.register("王小明", &doc);
    assert_ne!(ida, idb);
    b.json(&["book", "--patient", &idb, "--department", "WK"]);
    assert!(a.sync() && b.sync() && a.sync());
    let on_a = a.json(&["patients", "search", &doc]);
    let on_b = b.json(&["patients", "search", &doc]);
    assert_eq!(on_a.as_array().unwrap().len(), 1);
    assert_eq!(on_b.as_array().unwrap().len(), 1);
    assert_eq!(on_a[0]["id"], on_b[0]["id"], "one patient, the same id on both desks");
    assert!(conflicts(&a).is_empty() && conflicts(&b).is_empty());
    assert_eq!(a.digest(), b.digest());
}

fn a_session_suspended_centrally_while_a_desk_booked_offline_is_a_conflict(b: Backend) {
    let w = World::new(b);
    let a = w.desk("a", &w.central.url);
    let p = a.register("赵四", &document(9));
    a.json(&["book", "--patient", &p, "--slot", "demo-wk-1-20261123-am-05"]);
    w.central.suspend("demo-wk-1-20261123-am", "医生临时外出");
    assert!(a.sync());
    let inbox = conflicts(&a);
    assert_eq!(inbox.len(), 1, "{inbox:?}");
    assert_eq!(inbox[0]["reason"], "session_suspended");
    // The board now shows the suspension, and the booking is not on it.
    let board = a.ok(&["board"]);
    assert!(board.contains("SUSPENDED"), "{board}");
    let id = inbox[0]["id"].as_i64().unwrap().to_string();
    // Giving the booking up prints the notice for the patient (here into a folder as a PDF).
    let folder = a.dir.join("notices");
    let printer = format!("pdf-dir:{}", folder.display());
    let notice = a.json(&["conflicts", "resolve", &id, "--cancel", "--printer", &printer]);
    assert!(notice["notice"].as_str().unwrap().contains("赵*"));
    let pdf = notice["printed"]["file"].as_str().expect("the notice was printed to a file");
    assert!(std::path::Path::new(pdf).starts_with(&folder), "{pdf}");
    assert!(std::fs::read(pdf).unwrap().starts_with(b"%PDF"));
}

fn an_online_burst_while_a_desk_is_offline_never_oversells(b: Backend) {
    let w = World::new(b);
    let a = w.desk("a", &w.central.url);
    // The desk books six walk-ins into 内科 offline (the desk pool of two slots and more).
    let mut ids = Vec::new();
    for i in 0..6 {
        let p = a.register(&format!("走{i}"), &document(100 + i));
        ids.push(a.json(&["book", "--patient", &p, "--department", "NK", "--provider", "demo-nk-1"]));
    }
    // Meanwhile patients book online, 30 of them on the same provider's next slots.
    let mut online_ok = 0;
    for i in 0..30 {
        let slot = format!("demo-nk-1-20261123-am-{:02}", 3 + i % 3);
        let (status, _) = w.central.book_online(&format!("线上{i}"), &document(200 + i), &slot);
        if status == 200 || status == 201 {
            online_ok += 1;
        }
    }
    assert!(online_ok > 0);
    assert!(a.sync());
    let inbox = conflicts(&a);
    let applied = 6 - inbox.len();
    // Online bookings cannot take desk numbers: every walk-in still fits.
    assert_eq!(applied, 6, "{inbox:?}");
    let fresh = w.desk("fresh", &w.central.url);
    assert_eq!(fresh.digest(), a.digest());
    // Nothing oversold: per slot and pool, live bookings within capacity.
    let board: Value = fresh.json(&["board"]);
    for dept in board["departments"].as_array().unwrap() {
        for p in dept["providers"].as_array().unwrap() {
            for s in p["sessions"].as_array().unwrap() {
                for slot in s["slots"].as_array().unwrap() {
                    let cap = slot["slot"]["desk_capacity"].as_u64().unwrap()
                        + slot["slot"]["online_capacity"].as_u64().unwrap();
                    assert!(slot["booked"].as_u64().unwrap() <= cap, "{slot}");
                }
            }
        }
    }
}

/// Makes `n` walk-ins (register + book) on a desk, spread over departments and days.
fn walk_ins(d: &DeskCli, first: u32, n: u32) {
    let depts = ["NK", "WK", "EK", "FK", "KQ"];
    for i in first..first + n {
        let p = d.register(&format!("患者{i}"), &document(i));
        d.json(&["book", "--patient", &p, "--department", depts[i as usize % depts.len()]]);
    }
}

/// After everything settled: no pending op, no conflict, every booking once on the platform.
fn assert_exactly_once(w: &World, d: &DeskCli, patients: u32) {
    assert_eq!(pending(d), 0);
    assert!(conflicts(d).is_empty(), "{:?}", conflicts(d));
    let fresh = w.desk(&format!("check-{}", patients), &w.central.url);
    let digest = fresh.digest();
    assert_eq!(d.digest(), digest);
    assert!(digest.contains(&format!("patients={patients} bookings={patients}")), "{digest}");
}

fn sync_killed_at_random_points_fifty_times_applies_every_op_exactly_once(b: Backend) {
    let w = World::new(b);
    let d = w.desk("a", &w.central.url);
    walk_ins(&d, 1000, 40);
    assert_eq!(pending(&d), 80);
    // Kill `frontdesk sync` with SIGKILL at spread-out moments, 60 times.
    let mut seed = 0x5EED_u64;
    for round in 0..60 {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let mut child = d.command(&["sync"]).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
        // The fault is the moment of the kill, anywhere from before the first request to after
        // the last answer; a new op now and then keeps pushes in flight.
        std::thread::sleep(Duration::from_micros(seed % 60_000));
        let _ = child.kill();
        let _ = child.wait();
        if round % 10 == 0 {
            walk_ins(&d, 2000 + round, 1);
        }
    }
    wait_until("the desk to sync completely", Duration::from_secs(60), || d.sync() && pending(&d) == 0);
    assert_exactly_once(&w, &d, 46);
}

fn connections_cut_delayed_and_duplicated_lose_and_double_nothing(b: Backend) {
    let w = World::new(b);
    let upstream: std::net::SocketAddr = w.central.url.trim_start_matches("http://").parse().unwrap();
    let proxy = Proxy::start(upstream, 42);
    let d = w.desk("a", &proxy.url());
    walk_ins(&d, 3000, 30);
    proxy.set(Faults {
        delay: Duration::from_millis(5),
        bandwidth: Some(2_000_000),
        cut_request: 0.2,
        cut_response: 0.3,
        duplicate: 0.3,
        ..Faults::default()
    });
    let mut attempts = 0;
    wait_until("sync through a faulty network", Duration::from_secs(120), || {
        attempts += 1;
        d.sync() && pending(&d) == 0
    });
    let s = proxy.stats();
    use std::sync::atomic::Ordering::Relaxed;
    assert!(s.cut_requests.load(Relaxed) + s.cut_responses.load(Relaxed) > 0, "faults were injected");
    assert!(s.duplicates.load(Relaxed) > 0, "requests were duplicated");
    assert!(attempts > 1, "some sync attempts failed and were retried");
    proxy.set(Faults::default());
    assert!(d.sync());
    assert_exactly_once(&w, &d, 30);
}

fn an_unreachable_platform_never_blocks_the_desk_and_a_restart_mid_batch_loses_nothing(b: Backend) {
    let mut w = World::new(b);
    let upstream: std::net::SocketAddr = w.central.url.trim_start_matches("http://").parse().unwrap();
    let proxy = Proxy::start(upstream, 7);
    let d = w.desk("a", &proxy.url());
    proxy.set(Faults { down: true, ..Faults::default() });
    walk_ins(&d, 4000, 10);
    let out = d.run(&["sync"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("offline"), "{}", String::from_utf8_lossy(&out.stderr));
    let status = d.json(&["status"]);
    assert_eq!(status["sync"]["online"], false);
    assert_eq!(status["sync"]["pending_ops"], 20);
    // A platform that hangs: the desk gives up on the request in bounded time, and keeps working.
    proxy.set(Faults { hang: true, ..Faults::default() });
    let started = std::time::Instant::now();
    let out = d.command(&["sync"]).env("FRONTDESK_SYNC_TIMEOUT", "2").output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(started.elapsed() < Duration::from_secs(20), "a hanging platform costs one timeout, not more");
    walk_ins(&d, 4100, 2);
    // The platform is killed and restarted while the desk pushes.
    proxy.set(Faults::default());
    let mut child = d.command(&["sync"]).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    w.central.kill();
    let _ = child.wait();
    w.central.restart();
    proxy.retarget(w.central.url.trim_start_matches("http://").parse().unwrap());
    wait_until("sync after the restart", Duration::from_secs(60), || d.sync() && pending(&d) == 0);
    assert_exactly_once(&w, &d, 12);
}

fn a_day_offline_catches_up(b: Backend) {
    let w = World::new(b);
    let a = w.desk("a", &w.central.url);
    let b = w.desk("b", &w.central.url);
    // Desk B works a day without the network: 1,000 walk-ins = 2,000 ops.
    walk_ins_fast(&b, 10_000, 1000);
    assert_eq!(pending(&b), 2000);
    // Desk A keeps syncing meanwhile.
    walk_ins(&a, 20_000, 20);
    assert!(a.sync());
    assert!(b.sync(), "one cycle pushes 2,000 ops and pulls what changed");
    assert_eq!(pending(&b), 0);
    assert!(a.sync());
    assert_eq!(a.digest(), b.digest());
}

/// The same as [`walk_ins`], in one process (a day's worth of desk work).
fn walk_ins_fast(d: &DeskCli, first: u32, n: u32) {
    use frontdesk_desk::BookTarget;
    let clock = std::sync::Arc::new(frontdesk_domain::clock::ManualClock::new(frontdesk_e2e::NOW.parse().unwrap()));
    let mut desk = d.engine(clock);
    let depts = ["NK", "WK", "EK", "FK", "KQ"];
    let mut made = 0;
    let mut i = first;
    while made < n {
        let input = frontdesk_domain::patient::PatientInput {
            name: format!("离线{i}"),
            document_number: document(i),
            ..Default::default()
        };
        let p = desk.register_patient(&input, frontdesk_domain::Lang::En).unwrap();
        // A week of desk numbers is enough for a day's walk-ins; stop a department when full.
        if desk.book(&p.id, &BookTarget::Earliest { department: depts[i as usize % 5].into(), provider: None }).is_ok()
        {
            made += 1;
        }
        i += 1;
    }
}

fn a_watching_desk_pushes_a_local_change_at_once_not_at_the_next_poll(b: Backend) {
    use frontdesk_desk::sync::{SyncSignal, sync_watch_with};
    use frontdesk_desk::{BookTarget, Desk, REPLICA_FILE};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    let w = World::new(b);
    let d = w.desk("a", &w.central.url);
    let clock = || Arc::new(frontdesk_domain::clock::ManualClock::new(frontdesk_e2e::NOW.parse().unwrap()));
    let replica = d.dir.join(REPLICA_FILE);
    let signal = Arc::new(SyncSignal::default());
    let stop = Arc::new(AtomicBool::new(false));
    let cycles = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let watcher = {
        let (signal, stop, replica, cycles) = (signal.clone(), stop.clone(), replica.clone(), cycles.clone());
        std::thread::spawn(move || {
            let mut desk = Desk::open(&replica, clock()).unwrap();
            // A poll of ten minutes: only the signal can make this push within the test.
            sync_watch_with(&mut desk, &stop, Duration::from_secs(600), &signal, |r| {
                assert!(r.is_ok(), "{r:?}");
                cycles.fetch_add(1, Ordering::SeqCst);
            })
            .unwrap();
        })
    };
    wait_until("the first cycle", Duration::from_secs(20), || cycles.load(Ordering::SeqCst) == 1);
    // The UI's own connection to the same replica makes a walk-in and signals.
    let mut ui = d.engine(clock());
    let input = frontdesk_domain::patient::PatientInput {
        name: "即时".into(),
        document_number: document(5000),
        ..Default::default()
    };
    let p = ui.register_patient(&input, frontdesk_domain::Lang::Zh).unwrap();
    let b = ui.book(&p.id, &BookTarget::Earliest { department: "NK".into(), provider: None }).unwrap();
    signal.notify();
    wait_until("the booking to be confirmed by the platform", Duration::from_secs(20), || {
        ui.booking(&b.booking.id).map(|v| v.confirmed).unwrap_or(false)
    });
    // The push confirmed it; the cycle ends after its pull.
    wait_until("the signalled cycle to end", Duration::from_secs(20), || cycles.load(Ordering::SeqCst) >= 2);
    assert_eq!(cycles.load(Ordering::SeqCst), 2, "exactly one more cycle, started by the signal");
    stop.store(true, Ordering::Relaxed);
    signal.notify();
    watcher.join().unwrap();
    assert_eq!(pending(&d), 0);
}

frontdesk_e2e::on_both!(
    two_offline_desks_take_the_last_number_one_wins_the_other_rebooks,
    a_patient_registered_offline_at_two_desks_is_one_patient_everywhere,
    a_session_suspended_centrally_while_a_desk_booked_offline_is_a_conflict,
    an_online_burst_while_a_desk_is_offline_never_oversells,
    sync_killed_at_random_points_fifty_times_applies_every_op_exactly_once,
    connections_cut_delayed_and_duplicated_lose_and_double_nothing,
    an_unreachable_platform_never_blocks_the_desk_and_a_restart_mid_batch_loses_nothing,
    a_day_offline_catches_up,
    a_watching_desk_pushes_a_local_change_at_once_not_at_the_next_poll
);
