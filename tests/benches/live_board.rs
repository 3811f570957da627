//! The live board (DESIGN §7: "a change on the platform visible on a watching desk, p99 ≤ 1 s";
//! docs/SYNC.md, "Live board"): how long after the platform answers an online booking the
//! booking is in each watching desk's replica — with the desks' live-board watcher, and, in the
//! same run as the baseline, with cycle-only sync at the desk app's cycle interval.
//!
//!     cargo bench -p frontdesk-e2e --bench live_board
//!     bash scripts/with-postgres.sh cargo bench -p frontdesk-e2e --bench live_board   # + PostgreSQL
//!
//! Per back-end and per mode: a real `frontdesk-central serve --demo` process (release build,
//! loopback, its clock pinned like the e2e tests'), `LIVE_BOARD_DESKS` desk engines in this
//! process, each enrolled and running its real sync loop on a thread of its own —
//! `sync_watch_with` (cycle + watcher) in the watcher run, `sync_once` every cycle interval and
//! nothing else in the baseline — then `LIVE_BOARD_BOOKINGS` online bookings through the public
//! API, one at a time, a random pause between them (the same bookings and pauses in both runs).
//! A booking is timed from the moment its 201 answer has been read to the moment a desk's sync
//! loop reports the end of the cycle that applied it (the loop's per-cycle callback looks the
//! booking up in the replica through a second connection; nothing else writes the replica, so
//! it cannot appear between cycles): an upper bound of the moment it became visible, by the
//! cycle's last steps (its bookkeeping write), under a millisecond here.
//!
//! Env: `LIVE_BOARD_BOOKINGS` (100), `LIVE_BOARD_DESKS` (3), `LIVE_BOARD_POLL_SECS` (the cycle
//! interval of both runs: 15, the desk app's), `LIVE_BOARD_GAP_MIN_MS` / `LIVE_BOARD_GAP_MAX_MS`
//! (pause between bookings, uniform: 200 / 1200), `LIVE_BOARD_SEED` (2026),
//! `LIVE_BOARD_BACKENDS` (`sqlite`, plus `postgres` when `FRONTDESK_TEST_POSTGRES` is set —
//! `scripts/with-postgres.sh` sets it; or a comma-separated list).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use frontdesk_desk::sync::{SyncSignal, enroll, sync_once, sync_watch_with};
use frontdesk_desk::{Desk, DeskError, REPLICA_FILE};
use frontdesk_domain::clock::ManualClock;
use frontdesk_domain::schedule::BookingId;
use frontdesk_e2e::{Backend, Central, NOW, document, http, wait_until};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};

const DEPARTMENTS: [&str; 5] = ["NK", "WK", "EK", "FK", "KQ"];

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.trim().parse().ok()).unwrap_or(default)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// The product's loop: `sync_watch_with`, the live-board watcher on.
    Watcher,
    /// The baseline: a cycle every interval, nothing else.
    CycleOnly,
}

/// One online booking of the plan: the pause before it, the department, the day (days after
/// 2026-11-23) and the patient.
struct Planned {
    pause: Duration,
    department: &'static str,
    day: i8,
    patient: u32,
}

/// A booking made, and when each desk's loop first reported it in its replica.
struct Tracked {
    id: BookingId,
    answered: Instant,
    seen: Vec<Option<Instant>>,
}

/// What the booking thread and the desks' sync threads share.
#[derive(Default)]
struct Tracker {
    bookings: Mutex<Vec<Tracked>>,
}

impl Tracker {
    /// Looks up, in desk `desk`'s replica (`reader`: a connection of its own), the bookings it
    /// has not shown yet.
    fn look(&self, desk: usize, reader: &Desk) {
        let mut all = self.bookings.lock().unwrap();
        let at = Instant::now();
        for t in all.iter_mut().filter(|t| t.seen[desk].is_none()) {
            match reader.booking(&t.id) {
                Ok(_) => t.seen[desk] = Some(at),
                Err(DeskError::NotFound { .. }) => {}
                Err(e) => panic!("desk {desk}: reading booking {}: {e}", t.id),
            }
        }
    }

    /// Records a booking just answered and looks it up at once in every desk's replica (a
    /// cycle may have applied it before it was recorded here).
    fn add(&self, id: BookingId, answered: Instant, readers: &[Desk]) {
        let mut all = self.bookings.lock().unwrap();
        let at = Instant::now();
        let seen = readers
            .iter()
            .map(|r| match r.booking(&id) {
                Ok(_) => Some(at),
                Err(DeskError::NotFound { .. }) => None,
                Err(e) => panic!("reading booking {id}: {e}"),
            })
            .collect();
        all.push(Tracked { id, answered, seen });
    }

    fn all_seen(&self) -> bool {
        self.bookings.lock().unwrap().iter().all(|t| t.seen.iter().all(Option::is_some))
    }
}

/// The platform's `frontdesk_live_waits` gauge (waits held now).
fn held_waits(url: &str) -> u64 {
    let text = http().get(format!("{url}/metrics")).send().unwrap().text().unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix("frontdesk_live_waits "))
        .and_then(|v| v.trim().parse::<f64>().ok())
        .map_or(0, |v| v as u64)
}

/// Nearest-rank percentile of sorted values.
fn pct(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = (p * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// What one run measured, in milliseconds.
struct Measured {
    /// Per (booking, desk): answer → in that desk's replica.
    per_desk: Vec<f64>,
    /// Per booking: answer → in every desk's replica.
    every_desk: Vec<f64>,
    /// Bookings refused by the platform (not timed).
    refused: usize,
    /// (booking, desk) pairs never seen before the deadline.
    missing: usize,
    took: Duration,
}

fn run(b: Backend, mode: Mode, plan: &[Planned], desks: usize, poll: Duration) -> Measured {
    let dir = tempfile::tempdir().unwrap();
    let central_dir = dir.path().join("central");
    std::fs::create_dir_all(&central_dir).unwrap();
    let mut central = Central::start_on(b, &central_dir, &["--device-rate", "0", "--public-rate", "0"]);
    let url = central.url.clone();

    // The desks: enrolled, the snapshot pulled; a reader connection each for the booking
    // thread.
    let mut engines = Vec::new();
    let mut readers = Vec::new();
    let mut paths = Vec::new();
    for i in 0..desks {
        let clock = Arc::new(ManualClock::new(NOW.parse().unwrap()));
        let path = dir.path().join(format!("desk{i}")).join(REPLICA_FILE);
        let mut desk = Desk::open(&path, clock.clone()).unwrap();
        desk.initialize(Some("nurse")).unwrap();
        // Signed in as an admin of this desk: every change asks who is signed in.
        desk.add_staff("nurse", "nurse", frontdesk_desk::staff::Role::Admin, "password", frontdesk_domain::Lang::En)
            .unwrap();
        desk.sign_in("nurse", "password", frontdesk_domain::Lang::En).unwrap();
        enroll(&mut desk, &url, &central.enroll_code(), Some(&format!("desk {i}"))).unwrap();
        sync_once(&mut desk).unwrap();
        readers.push(Desk::open(&path, clock.clone()).unwrap());
        paths.push((path, clock));
        engines.push(desk);
    }

    let tracker = Tracker::default();
    let stop = AtomicBool::new(false);
    let cycles: Vec<AtomicU64> = (0..desks).map(|_| AtomicU64::new(0)).collect();
    let signals: Vec<SyncSignal> = (0..desks).map(|_| SyncSignal::default()).collect();
    let client = http();
    let mut refused = 0;
    let mut took = Duration::ZERO;

    std::thread::scope(|scope| {
        for (i, mut desk) in engines.into_iter().enumerate() {
            let (tracker, stop, cycles, signal) = (&tracker, &stop, &cycles[i], &signals[i]);
            let (path, clock) = &paths[i];
            let reader = Desk::open(path, clock.clone()).unwrap();
            scope.spawn(move || {
                let on_cycle = || {
                    tracker.look(i, &reader);
                    cycles.fetch_add(1, Ordering::Relaxed);
                };
                match mode {
                    Mode::Watcher => sync_watch_with(&mut desk, stop, poll, signal, |_| on_cycle()).unwrap(),
                    Mode::CycleOnly => {
                        // What the loop does after a successful cycle, without the watcher: rest
                        // for the interval, then the next cycle.
                        while !stop.load(Ordering::Relaxed) {
                            let _ = sync_once(&mut desk);
                            on_cycle();
                            let until = Instant::now() + poll;
                            while !stop.load(Ordering::Relaxed) && Instant::now() < until {
                                let left = until.saturating_duration_since(Instant::now());
                                std::thread::sleep(Duration::from_millis(20).min(left));
                            }
                        }
                    }
                }
            });
        }

        // Every loop has run a cycle; with the watcher, every desk holds a wait.
        wait_until("every desk's first cycle", Duration::from_secs(60), || {
            cycles.iter().all(|c| c.load(Ordering::Relaxed) > 0)
        });
        if mode == Mode::Watcher {
            wait_until("every desk's watcher to hold a wait", Duration::from_secs(60), || {
                held_waits(&url) == desks as u64
            });
        }

        let started = Instant::now();
        for p in plan {
            std::thread::sleep(p.pause);
            let body = json!({
                "patient": { "name": format!("网约{}", p.patient), "document_number": document(p.patient) },
                "department": p.department,
                "date": format!("2026-11-{}", 23 + p.day),
            });
            let resp = client.post(format!("{url}/v1/public/sites/demo/bookings")).json(&body).send().unwrap();
            let status = resp.status().as_u16();
            let answer: Value = resp.json().unwrap_or(Value::Null);
            let answered = Instant::now();
            if status != 201 {
                assert!(status < 500, "the platform failed a booking: {status} {answer}");
                refused += 1;
                eprintln!("refused ({status}): {answer}");
                continue;
            }
            let id = BookingId(answer["booking_id"].as_str().unwrap().to_string());
            tracker.add(id, answered, &readers);
        }
        // Bounded: two cycle intervals and half a minute after the last booking.
        let deadline = Instant::now() + poll * 2 + Duration::from_secs(30);
        while !tracker.all_seen() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        took = started.elapsed();
        stop.store(true, Ordering::Relaxed);
        for s in &signals {
            s.notify();
        }
        // The watchers hold a wait of up to 20 s: the platform going away ends it at once.
        central.kill();
    });

    let all = tracker.bookings.into_inner().unwrap();
    let mut per_desk = Vec::new();
    let mut every_desk = Vec::new();
    let mut missing = 0;
    for t in &all {
        let ms = |at: Instant| at.saturating_duration_since(t.answered).as_secs_f64() * 1000.0;
        missing += t.seen.iter().filter(|s| s.is_none()).count();
        per_desk.extend(t.seen.iter().flatten().map(|at| ms(*at)));
        if t.seen.iter().all(Option::is_some) {
            every_desk.push(t.seen.iter().flatten().map(|at| ms(*at)).fold(0.0, f64::max));
        }
    }
    per_desk.sort_by(f64::total_cmp);
    every_desk.sort_by(f64::total_cmp);
    Measured { per_desk, every_desk, refused, missing, took }
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

fn main() {
    let bookings = env("LIVE_BOARD_BOOKINGS", 100) as usize;
    let desks = env("LIVE_BOARD_DESKS", 3).max(1) as usize;
    // The desk app's cycle (`POLL` in src-tauri/src/sync_loop.rs); `frontdesk sync --watch`
    // defaults to 5 s.
    let poll = Duration::from_secs(env("LIVE_BOARD_POLL_SECS", 15).max(1));
    let gap_min = env("LIVE_BOARD_GAP_MIN_MS", 200);
    let gap_max = env("LIVE_BOARD_GAP_MAX_MS", 1200).max(gap_min);
    let seed = env("LIVE_BOARD_SEED", 2026);
    let backends: Vec<Backend> = match std::env::var("LIVE_BOARD_BACKENDS") {
        Ok(list) => list
            .split(',')
            .map(|s| match s.trim() {
                "sqlite" => Backend::Sqlite,
                "postgres" => Backend::Postgres,
                other => panic!("LIVE_BOARD_BACKENDS: unknown back-end {other:?} (sqlite, postgres)"),
            })
            .collect(),
        Err(_) if std::env::var("FRONTDESK_TEST_POSTGRES").is_ok_and(|v| !v.trim().is_empty()) => {
            vec![Backend::Sqlite, Backend::Postgres]
        }
        Err(_) => vec![Backend::Sqlite],
    };

    let mut rng = StdRng::seed_from_u64(seed);
    let plan: Vec<Planned> = (0..bookings)
        .map(|i| Planned {
            pause: Duration::from_millis(rng.random_range(gap_min..=gap_max)),
            department: DEPARTMENTS[rng.random_range(0..DEPARTMENTS.len())],
            day: rng.random_range(0..7),
            patient: 50_000 + i as u32,
        })
        .collect();

    println!(
        "live board: {bookings} online bookings, {gap_min}–{gap_max} ms apart (seed {seed}), {desks} desks, cycle every {} s; load average {}",
        poll.as_secs(),
        load_average()
    );
    println!(
        "| back-end | desk sync | answer → on a desk: p50 / p99 / max ms (n) | answer → on every desk: p50 / p99 / max ms | refused | missing | wall |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- |");
    for b in backends {
        let mut p99s = Vec::new();
        for mode in [Mode::Watcher, Mode::CycleOnly] {
            let m = run(b, mode, plan.as_slice(), desks, poll);
            let label = match mode {
                Mode::Watcher => "live-board watcher + cycle".to_string(),
                Mode::CycleOnly => format!("cycle only, every {} s (baseline)", poll.as_secs()),
            };
            println!(
                "| {b:?} | {label} | {:.0} / {:.0} / {:.0} ({}) | {:.0} / {:.0} / {:.0} | {} | {} | {:.0} s |",
                pct(&m.per_desk, 0.5),
                pct(&m.per_desk, 0.99),
                m.per_desk.last().copied().unwrap_or(f64::NAN),
                m.per_desk.len(),
                pct(&m.every_desk, 0.5),
                pct(&m.every_desk, 0.99),
                m.every_desk.last().copied().unwrap_or(f64::NAN),
                m.refused,
                m.missing,
                m.took.as_secs_f64(),
            );
            p99s.push((pct(&m.per_desk, 0.99), m.missing));
        }
        let ((live, live_missing), (cycle, _)) = (p99s[0], p99s[1]);
        let met = live <= 1000.0 && live_missing == 0;
        println!(
            "{b:?}: p99 with the watcher {live:.0} ms, {:.1}× quicker than cycle-only ({cycle:.0} ms); target p99 ≤ 1000 ms: {}",
            cycle / live,
            if met { "met" } else { "NOT met" }
        );
    }
    println!("load average at the end: {}", load_average());
}
