//! A simulated clinic day with capacity leases and without (DESIGN §7, docs/SYNC.md "Capacity
//! leases"): three desks, each offline for four hours at a random time, 600 walk-ins, online
//! bookings arriving all day. Counts the conflicts — and the notices given to patients — with
//! leases and without, in the same run, from the same random day.
//!
//!     cargo bench -p frontdesk-e2e --bench clinic_day
//!
//! The platform (`frontdesk-central` on embedded SQLite, the real HTTP server on a loopback port)
//! and the three desk engines run in this process, each on a clock the simulation moves in
//! five-minute steps; the desks' clocks are off by minutes, as real ones are. Every request is
//! real HTTP; only time is simulated.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use frontdesk_central::sqlite::{SqliteOptions, SqliteStore};
use frontdesk_central::{ServerConfig, Store};
use frontdesk_desk::sync::{enroll, sync_once};
use frontdesk_desk::{BookTarget, Desk, REPLICA_FILE};
use frontdesk_domain::Lang;
use frontdesk_domain::clock::ManualClock;
use frontdesk_domain::lease::LeasePolicy;
use frontdesk_domain::patient::PatientInput;
use frontdesk_domain::schedule::SiteId;
use frontdesk_e2e::document;
use frontdesk_protocol::online::{OnlineBookingRequest, OnlinePatient};
use frontdesk_protocol::sync::Op;
use jiff::{SignedDuration, Timestamp};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const DAY_START: &str = "2026-11-23T07:50:00+08:00";
const STEP_MINUTES: i64 = 5;
const STEPS: i64 = 110; // 07:50 → 17:00
const WALK_INS: usize = 600;
const ONLINE: usize = 300;
const DEPARTMENTS: [&str; 5] = ["NK", "WK", "EK", "FK", "KQ"];

/// One simulated event, at a step of the day.
enum Event {
    WalkIn { desk: usize, dept: &'static str, n: u32 },
    Online { dept: &'static str, n: u32 },
}

/// The day, drawn once and played twice.
struct Day {
    /// Per step, what happens.
    events: Vec<Vec<Event>>,
    /// Per desk, the steps [from, to) it is offline.
    outages: Vec<(i64, i64)>,
    /// Per desk, how far its clock is off.
    skews: Vec<SignedDuration>,
}

fn draw(seed: u64) -> Day {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut events: Vec<Vec<Event>> = (0..STEPS).map(|_| Vec::new()).collect();
    // Walk-ins from 08:00 to 16:30 (steps 2 … 104), more of them in 内科.
    for i in 0..WALK_INS {
        let step = rng.random_range(2..104);
        let dept = if rng.random_bool(0.4) { "NK" } else { DEPARTMENTS[rng.random_range(1..5)] };
        events[step as usize].push(Event::WalkIn { desk: rng.random_range(0..3), dept, n: 10_000 + i as u32 });
    }
    // Online bookings from 07:50 to 16:00.
    for i in 0..ONLINE {
        let step = rng.random_range(0..98);
        let dept = DEPARTMENTS[rng.random_range(0..5)];
        events[step as usize].push(Event::Online { dept, n: 20_000 + i as u32 });
    }
    // Four hours (48 steps) offline, starting between 08:00 and 12:30.
    let outages = (0..3)
        .map(|_| {
            let from = rng.random_range(2..56);
            (from, from + 48)
        })
        .collect();
    let skews = (0..3).map(|_| SignedDuration::from_secs(rng.random_range(-600..600))).collect();
    Day { events, outages, skews }
}

#[derive(Debug, Default, Clone, Copy)]
struct Tally {
    booked: u64,
    guaranteed: u64,
    turned_away: u64,
    online_booked: u64,
    conflicts: u64,
    conflicts_within_leases: u64,
    notices: u64,
}

fn play(day: &Day, leases: bool) -> Tally {
    let dir = tempfile::tempdir().unwrap();
    let start: Timestamp = DAY_START.parse().unwrap();
    let platform_clock = Arc::new(ManualClock::new(start));
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let store: Arc<dyn Store> = Arc::new(
        SqliteStore::open(&dir.path().join("central.db"), platform_clock.clone(), SqliteOptions::default()).unwrap(),
    );
    let site = SiteId::from("demo");
    rt.block_on(store.seed_demo(site.clone(), 2)).unwrap();
    if leases {
        let policy = LeasePolicy { horizon_days: 0, ..LeasePolicy::default() };
        rt.block_on(store.set_lease_policy(site.clone(), Some(policy), "bench".into())).unwrap();
    }
    let listener = rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    // The round is driven by the simulation, on the simulated clock.
    let config = ServerConfig {
        device_rate: None,
        public_rate: None,
        lease_interval: std::time::Duration::ZERO,
        ..ServerConfig::default()
    };
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = rt.spawn(frontdesk_central::serve(listener, store.clone(), config, async move {
        let _ = stop_rx.await;
    }));

    let mut desks: Vec<(Desk, Arc<ManualClock>)> = Vec::new();
    for (i, skew) in day.skews.iter().enumerate() {
        let clock = Arc::new(ManualClock::new(start + *skew));
        let path = dir.path().join(format!("desk{i}"));
        std::fs::create_dir_all(&path).unwrap();
        let mut desk = Desk::open(&path.join(REPLICA_FILE), clock.clone()).unwrap();
        desk.initialize(Some("nurse")).unwrap();
        // Signed in as an admin of this desk: every change asks who is signed in.
        desk.add_staff("nurse", "nurse", frontdesk_desk::staff::Role::Admin, "password", frontdesk_domain::Lang::En)
            .unwrap();
        desk.sign_in("nurse", "password", frontdesk_domain::Lang::En).unwrap();
        let code = rt.block_on(store.create_enroll_code(site.clone(), 24)).unwrap();
        enroll(&mut desk, &url, &code.code, Some(&format!("desk {i}"))).unwrap();
        desks.push((desk, clock));
    }
    rt.block_on(store.lease_round()).unwrap();
    for (desk, _) in &mut desks {
        sync_once(desk).unwrap();
    }

    let mut t = Tally::default();
    for step in 0..STEPS {
        let by = SignedDuration::from_mins(STEP_MINUTES);
        if step > 0 {
            platform_clock.advance(by);
            for (_, c) in &desks {
                c.advance(by);
            }
        }
        rt.block_on(store.lease_round()).unwrap();
        for ev in &day.events[step as usize] {
            match ev {
                Event::WalkIn { desk, dept, n } => {
                    let (d, _) = &mut desks[*desk];
                    let input =
                        PatientInput {
                            name: format!("患者{n}"), document_number: document(*n), ..Default::default()
                        };
                    let p = d.register_patient(&input, Lang::Zh).unwrap();
                    match d.book(&p.id, &BookTarget::Earliest { department: (*dept).into(), provider: None }) {
                        Ok(v) => {
                            t.booked += 1;
                            if v.leased {
                                t.guaranteed += 1;
                            }
                        }
                        Err(_) => t.turned_away += 1,
                    }
                }
                Event::Online { dept, n } => {
                    let req = OnlineBookingRequest {
                        patient: OnlinePatient {
                            name: format!("网约{n}"),
                            document_kind: None,
                            document_number: document(*n),
                            phone: None,
                        },
                        slot_id: None,
                        department: Some((*dept).into()),
                        date: None,
                    };
                    if rt.block_on(store.book_online(site.clone(), req)).is_ok() {
                        t.online_booked += 1;
                    }
                }
            }
        }
        for (i, (desk, _)) in desks.iter_mut().enumerate() {
            let (from, to) = day.outages[i];
            if step < from || step >= to {
                sync_once(desk).unwrap();
            } else {
                // What the desk's sync loop records when the platform cannot be reached.
                desk.record_sync_attempt(Some("platform unreachable")).unwrap();
            }
        }
    }
    // Everyone back: settle everything.
    for (desk, _) in &mut desks {
        for _ in 0..5 {
            if sync_once(desk).is_ok() && desk.sync_status().unwrap().pending_ops == 0 {
                break;
            }
        }
        assert_eq!(desk.sync_status().unwrap().pending_ops, 0, "every op settled");
        for c in desk.conflicts(false, Lang::En).unwrap() {
            t.conflicts += 1;
            if let Op::Book { leased, .. } = &c.envelope.op {
                t.notices += 1;
                if *leased {
                    t.conflicts_within_leases += 1;
                }
            }
        }
    }
    let _ = stop_tx.send(());
    let _ = rt.block_on(server);
    rt.block_on(store.close());
    t
}

fn main() {
    let seed = std::env::var("CLINIC_DAY_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(2026);
    let day = draw(seed);
    let outages: Vec<String> = day
        .outages
        .iter()
        .map(|(f, t)| {
            let at = |s: i64| {
                let m = 7 * 60 + 50 + s * STEP_MINUTES;
                format!("{:02}:{:02}", m / 60, m % 60)
            };
            format!("{}–{}", at(*f), at(*t))
        })
        .collect();
    println!("seed {seed}; desks offline {}; desk clocks off by {:?}", outages.join(", "), day.skews);
    println!(
        "| run | walk-ins booked | of them guaranteed | turned away at the desk | online booked | conflicts | conflicts within leases | notices to patients |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- | --- |");
    for (label, leases) in [("without leases (baseline)", false), ("with leases", true)] {
        let t = play(&day, leases);
        println!(
            "| {label} | {} | {} | {} | {} | {} | {} | {} |",
            t.booked, t.guaranteed, t.turned_away, t.online_booked, t.conflicts, t.conflicts_within_leases, t.notices
        );
    }
}
