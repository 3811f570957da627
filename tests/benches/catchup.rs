//! Catch-up after a day offline (DESIGN §7): a desk with 2,000 local ops comes back to a
//! platform that changed 20,000 rows meanwhile, through a link with a 300 ms round trip that
//! cuts 5% of connections. Wall time and bytes on the wire; nothing duplicated or lost.
//!
//!     cargo build --release --bins -p frontdesk-central -p frontdesk-desk
//!     cargo bench -p frontdesk-e2e --bench catchup
//!
//! Baseline measured in the same run: the same catch-up over a clean loopback link.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

use frontdesk_desk::BookTarget;
use frontdesk_domain::Lang;
use frontdesk_domain::clock::ManualClock;
use frontdesk_domain::patient::PatientInput;
use frontdesk_e2e::proxy::{Faults, Proxy};
use frontdesk_e2e::{Central, DeskCli, NOW, document};

/// Registers `patients` patients and books the first `bookings` of them into the earliest
/// slots of `depts`, in one process.
fn work(d: &DeskCli, first: u32, patients: u32, bookings: u32, depts: &[&str]) {
    let clock = Arc::new(ManualClock::new(NOW.parse().unwrap()));
    let mut desk = d.engine(clock);
    let mut booked = 0;
    for i in first..first + patients {
        let input = PatientInput { name: format!("患者{i}"), document_number: document(i), ..Default::default() };
        let p = desk.register_patient(&input, Lang::Zh).unwrap();
        if booked < bookings {
            desk.book(
                &p.id,
                &BookTarget::Earliest { department: depts[i as usize % depts.len()].into(), provider: None },
            )
            .unwrap();
            booked += 1;
        }
    }
}

fn run(label: &str, faults: Faults) {
    let dir = tempfile::tempdir().unwrap();
    let central_dir = dir.path().join("central");
    std::fs::create_dir_all(&central_dir).unwrap();
    let central = Central::start(&central_dir, &["--device-rate", "0"]);
    let upstream = central.url.trim_start_matches("http://").parse().unwrap();
    let proxy = Proxy::start(upstream, 2026);
    let a = DeskCli::new(&dir.path().join("a"));
    a.enroll(&central.url, &central.enroll_code());
    let b = DeskCli::new(&dir.path().join("b"));
    b.enroll(&proxy.url(), &central.enroll_code());
    // The day: desk B offline with 1,000 walk-ins (2,000 ops) in three departments; the
    // platform takes 20,000 changes from desk A (19,400 registrations, 600 bookings in the
    // two other departments, so the desks do not compete for numbers).
    work(&b, 100_000, 1_000, 1_000, &["EK", "FK", "KQ"]);
    work(&a, 200_000, 19_400, 600, &["NK", "WK"]);
    assert!(a.sync());
    proxy.set(faults);
    let before = proxy.stats().bytes.load(Relaxed);
    let started = Instant::now();
    let mut attempts = 0;
    while !(b.sync() && b.json(&["status"])["sync"]["pending_ops"] == 0) {
        attempts += 1;
        assert!(attempts < 100 && started.elapsed() < Duration::from_secs(600), "catch-up did not finish");
    }
    let took = started.elapsed();
    let bytes = proxy.stats().bytes.load(Relaxed) - before;
    assert!(a.sync());
    let (da, db) = (a.digest(), b.digest());
    assert_eq!(da, db, "both desks hold the platform's state");
    assert!(db.contains("patients=20400 bookings=1600"), "{db}");
    assert_eq!(b.json(&["conflicts", "list"]).as_array().map(Vec::len), Some(0));
    println!(
        "| {label} | {:.2} s | {:.1} MB | {} | {} cut, {} sync attempts |",
        took.as_secs_f64(),
        bytes as f64 / 1e6,
        proxy.stats().requests.load(Relaxed),
        proxy.stats().cut_requests.load(Relaxed) + proxy.stats().cut_responses.load(Relaxed),
        attempts + 1
    );
}

fn main() {
    println!("| link | wall time | bytes on the wire | requests | faults |");
    println!("| --- | --- | --- | --- | --- |");
    run("loopback, no faults (baseline)", Faults::default());
    run(
        "300 ms round trip, 5% of connections cut",
        Faults { delay: Duration::from_millis(150), cut_request: 0.025, cut_response: 0.025, ..Faults::default() },
    );
}
