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

frontdesk_e2e::on_both!(a_watching_desk_sees_an_online_booking_and_another_desk_s_within_a_second);
