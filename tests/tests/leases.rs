//! Capacity leases with real processes (DESIGN §3, docs/SYNC.md "Capacity leases"): the real
//! `frontdesk-central` on a loopback port, on SQLite and on PostgreSQL, and real `frontdesk`
//! desks, each command its own process with its own clock. Time moves on by restarting the
//! platform with a later clock and running desk commands at later desk times.
// Tests panic on unexpected failures: that is how they report them.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::process::Stdio;
use std::time::{Duration, Instant};

use frontdesk_e2e::{Backend, Central, DeskCli, document, http};
use serde_json::{Value, json};

/// 王建国 (内科)'s morning on the demo day: slots `-01` 08:00 … `-08` 11:30, six numbers each,
/// the last two of each slot for desks (slot k: desk numbers 6k−1 and 6k).
const SESSION: &str = "demo-nk-1-20261123-am";
const PROVIDER: &str = "demo-nk-1";

fn slot(k: u32) -> String {
    format!("{SESSION}-{k:02}")
}

/// 2026-11-23 at `hh:mm` in Shanghai.
fn at(hh: u32, mm: u32) -> String {
    format!("2026-11-23T{hh:02}:{mm:02}:00+08:00")
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
        // The platform's own lease round is driven by the test (POST /v1/admin/leases/round).
        let central = Central::start_on(
            b,
            &central_dir,
            &["--device-rate", "0", "--public-rate", "0", "--lease-interval-secs", "0"],
        );
        World { _dir: dir, central, root }
    }

    fn admin(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut req =
            http().request(method, format!("{}{path}", self.central.url)).bearer_auth(self.central.admin_token());
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().unwrap();
        let status = resp.status();
        let text = resp.text().unwrap();
        assert!(status.is_success(), "{path}: {status} {text}");
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }

    /// Sets the demo site's lease policy: at most `max` numbers per desk, today only, numbers
    /// returning 10 minutes before their slot, no automatic top-up.
    fn policy(&self, max: u32) {
        let policy = json!({
            "hold_back_percent": 0, "min_per_desk": 0, "max_per_desk": max,
            "expire_before_minutes": 10, "horizon_days": 0, "low_water": 0,
        });
        self.admin(reqwest::Method::PUT, "/v1/admin/sites/demo/lease-policy", Some(policy));
    }

    /// Runs the platform's lease round now: what it did.
    fn round(&self) -> Value {
        self.admin(reqwest::Method::POST, "/v1/admin/leases/round", Some(json!({})))
    }

    /// The admin's view of each desk's leases, by device id.
    fn desks(&self) -> BTreeMap<String, Value> {
        let v = self.admin(reqwest::Method::GET, "/v1/admin/sites/demo/leases", None);
        v["desks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| (d["device_id"].as_str().unwrap().to_string(), d.clone()))
            .collect()
    }

    /// A desk enrolled with the snapshot pulled.
    fn desk(&self, name: &str) -> DeskCli {
        self.desk_at(name, frontdesk_e2e::NOW)
    }

    /// A desk enrolled with the snapshot pulled, its clock at `now`.
    fn desk_at(&self, name: &str, now: &str) -> DeskCli {
        let d = DeskCli::new(&self.root.join(name)).at(now);
        d.enroll(&self.central.url, &self.central.enroll_code());
        d
    }
}

fn device(d: &DeskCli) -> String {
    let s = d.json(&["status"]);
    s["desk"]["device"]["device_id"].as_str().unwrap_or_else(|| panic!("status names the device: {s}")).to_string()
}

/// This desk's leased numbers of the session as it sees them: number → state.
fn leases(d: &DeskCli) -> BTreeMap<u32, String> {
    d.json(&["leases"])["leases"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["session_id"] == SESSION)
        .map(|e| (e["queue_no"].as_u64().unwrap() as u32, e["state"].as_str().unwrap().to_string()))
        .collect()
}

fn usable(d: &DeskCli) -> BTreeSet<u32> {
    leases(d).into_iter().filter(|(_, s)| s == "usable").map(|(n, _)| n).collect()
}

fn conflicts(d: &DeskCli) -> Vec<Value> {
    d.json(&["conflicts", "list"]).as_array().unwrap().clone()
}

fn pending(d: &DeskCli) -> u64 {
    d.json(&["status"])["sync"]["pending_ops"].as_u64().unwrap()
}

/// Books a new patient (`n`) with this provider at the desk's time; the booking's JSON.
fn walk_in(d: &DeskCli, n: u32) -> Value {
    let p = d.register(&format!("患者{n}"), &document(n));
    d.json(&["book", "--patient", &p, "--department", "NK", "--provider", PROVIDER])
}

/// Books a new patient (`n`) into the slot of this desk's lowest (or highest) usable leased
/// number of the session, at the desk's time; the booking's JSON.
#[derive(Clone, Copy)]
enum Pick {
    Lowest,
    Highest,
}

fn book_leased(d: &DeskCli, n: u32, pick: Pick) -> Value {
    let all = d.json(&["leases"]);
    let mut mine: Vec<Value> = all["leases"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["session_id"] == SESSION && e["state"] == "usable")
        .cloned()
        .collect();
    mine.sort_by_key(|e| e["queue_no"].as_u64());
    let entry = match pick {
        Pick::Lowest => mine.first(),
        Pick::Highest => mine.last(),
    }
    .unwrap_or_else(|| panic!("a usable leased number: {all}"))
    .clone();
    let p = d.register(&format!("患者{n}"), &document(n));
    let v = d.json(&["book", "--patient", &p, "--slot", entry["slot_id"].as_str().unwrap()]);
    assert_eq!(v["booking"]["queue_no"], entry["queue_no"], "the desk spends its own leased number first");
    v
}

/// The platform's booking behind a printed ticket, as a fresh snapshot of the platform shows
/// it: (booking id, queue number, confirmed).
fn on_platform(fresh: &DeskCli, booking: &Value) -> (String, u64, bool) {
    let code = booking["booking"]["ticket_code"].as_str().unwrap();
    let v = fresh.json(&["scan", code]);
    let b = &v["booking"];
    (
        b["booking"]["id"].as_str().unwrap_or_else(|| panic!("scan {code}: {v}")).to_string(),
        b["booking"]["queue_no"].as_u64().unwrap(),
        b["confirmed"] == true,
    )
}

fn three_offline_desks_have_no_conflict_within_their_leases(b: Backend) {
    let w = World::new(b);
    w.policy(2);
    let desks: Vec<DeskCli> = ["a", "b", "c"].iter().map(|n| w.desk(n)).collect();
    let online = w.desk("online");
    let round = w.round();
    assert!(round["granted"].as_u64().unwrap() >= 8, "{round}");
    for d in desks.iter().chain([&online]) {
        assert!(d.sync());
    }
    // Every desk holds two numbers of the session, none held twice.
    let mut all = BTreeSet::new();
    for d in desks.iter().chain([&online]) {
        let mine = usable(d);
        assert_eq!(mine.len(), 2, "{mine:?}");
        for n in mine {
            assert!(all.insert(n), "number {n} leased twice");
        }
    }
    let leased_to_offline: BTreeSet<u32> = desks.iter().flat_map(usable).collect();

    // The outage: a, b and c book a morning of walk-ins without syncing — two inside their
    // lease, two beyond — at their own (slightly different) times.
    let mut guaranteed: BTreeMap<String, Value> = BTreeMap::new();
    let mut tentative: BTreeSet<String> = BTreeSet::new();
    for (i, d) in desks.iter().enumerate() {
        for k in 0..4u32 {
            let now = at(8, 35 + 3 * k + i as u32);
            let v = walk_in(&d.at(&now), 100 + 10 * i as u32 + k);
            let id = v["booking"]["id"].as_str().unwrap().to_string();
            if v["guaranteed"] == true {
                assert_eq!(v["leased"], true);
                guaranteed.insert(id, v);
            } else {
                assert_eq!(v["confirmed"], false, "offline: not yet confirmed");
                tentative.insert(id);
            }
        }
    }
    assert_eq!(guaranteed.len(), 6, "two guaranteed bookings per desk");
    assert!(
        guaranteed.values().all(|v| leased_to_offline.contains(&(v["booking"]["queue_no"].as_u64().unwrap() as u32)))
    );

    // Meanwhile the online desk books every free desk number of the session, and patients book
    // the online pool through the public API until it is sold out.
    let mut taken_online = BTreeSet::new();
    for n in 0..40u32 {
        let p = online.register(&format!("到诊{n}"), &document(300 + n));
        let out = online.run(&["book", "--patient", &p, "--department", "NK", "--provider", PROVIDER, "--json"]);
        if !out.status.success() {
            break;
        }
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        if v["booking"]["session_id"] != SESSION {
            break;
        }
        taken_online.insert(v["booking"]["queue_no"].as_u64().unwrap() as u32);
        assert!(online.sync());
    }
    for k in 3..=8u32 {
        for n in 0..4u32 {
            let (status, _) = w.central.book_online(&format!("网约{k}{n}"), &document(500 + 10 * k + n), &slot(k));
            assert!(status == 200 || status == 201 || status == 409, "online booking answered {status}");
        }
    }
    assert!(!taken_online.is_empty());
    assert!(
        taken_online.is_disjoint(&leased_to_offline),
        "the online desk never took a leased number: {taken_online:?}"
    );

    // Back online: every guaranteed booking is applied with the number printed; only the
    // bookings beyond the leases conflict.
    for d in &desks {
        assert!(d.sync());
        assert!(d.sync());
        assert_eq!(pending(d), 0);
        for c in conflicts(d) {
            let id = c["envelope"]["op"]["booking_id"].as_str().unwrap_or_default().to_string();
            assert!(!guaranteed.contains_key(&id), "a booking inside a lease conflicted: {c}");
            assert!(tentative.contains(&id), "{c}");
        }
    }
    let conflicted: usize = desks.iter().map(|d| conflicts(d).len()).sum();
    assert!(conflicted > 0, "the bookings beyond the leases met a full session");
    let fresh = w.desk("fresh");
    for (id, v) in &guaranteed {
        let printed = v["booking"]["queue_no"].as_u64().unwrap();
        assert_eq!(
            on_platform(&fresh, v),
            (id.clone(), printed, true),
            "guaranteed booking {id} holds number {printed}"
        );
    }
    let spent: u64 = w.desks().values().map(|d| d["spent"].as_u64().unwrap()).sum();
    assert!(spent >= 6, "the admin view counts the spent numbers");
}

fn a_lease_expires_while_its_desk_is_away_and_its_numbers_return(b: Backend) {
    let mut w = World::new(b);
    w.policy(2);
    // Grants take the free desk numbers of the earliest leasable slots, highest first: in
    // 王建国's morning the first round gives `other` 18 and 24 (slots 09:00 and 09:30) and
    // `silent` 17 and 23; `away`, enrolled after it, gets 30 and 36 (10:00 and 10:30).
    let other = w.desk("other");
    let silent = DeskCli::new(&w.root.join("silent"));
    silent.ok(&["enroll", "--server", &w.central.url, "--code", &w.central.enroll_code()]);
    let silent_id = device(&silent);
    w.round();
    let away = w.desk("away");
    let away_id = device(&away);
    w.round();
    assert!(away.sync() && other.sync());
    assert_eq!(usable(&other), BTreeSet::from([18, 24]));
    assert_eq!(usable(&away), BTreeSet::from([30, 36]));
    let silent_held = w.desks()[&silent_id]["held"].as_u64().unwrap();
    assert!(silent_held >= 2, "the silent desk was granted its share too, though it never pulled");
    // The away desk spends 36 offline at 08:40, then is gone; the silent desk never pulls.
    let spent = book_leased(&away.at(&at(8, 40)), 1, Pick::Highest);
    assert_eq!((spent["guaranteed"].clone(), spent["booking"]["queue_no"].clone()), (json!(true), json!(36)));

    // 09:55 on the platform: the leases of 09:30 (23, silent's) and 10:00 (30, away's) have
    // expired; their slots are not over.
    w.central.restart_at(&at(9, 55));
    w.round();
    let fresh = w.desk_at("look", &at(9, 55));
    let board = fresh.json(&["board", "--all"]);
    let leased: BTreeMap<String, u64> = board["departments"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|d| d["providers"].as_array().unwrap().iter())
        .flat_map(|p| p["sessions"].as_array().unwrap().iter())
        .filter(|s| s["session"]["id"] == SESSION)
        .flat_map(|s| s["slots"].as_array().unwrap().iter())
        .map(|s| (s["slot"]["id"].as_str().unwrap().to_string(), s["leased_elsewhere"].as_u64().unwrap()))
        .collect();
    // The silent desk was never sent its lease: 23 returned at expiry, while it is away; the
    // online desk's expired 24 stays (it has not pulled since).
    assert_eq!(leased[&slot(4)], 1, "{leased:?}");
    // The away desk received 30 and may have spent it offline: held past its expiry.
    assert_eq!(leased[&slot(5)], 1, "{leased:?}");
    let desks = w.desks();
    let (held, expired) = (desks[&silent_id]["held"].as_u64().unwrap(), desks[&silent_id]["expired"].as_u64().unwrap());
    assert!(expired >= 1, "{desks:?}");
    assert!(held + expired >= silent_held, "{desks:?}");

    // The other desk, online at 09:56, books the returned 23 but not the held 30.
    let online = other.at(&at(9, 56));
    assert!(online.sync());
    let book_slot = |d: &DeskCli, k: u32, n: u32| -> Option<u64> {
        let p = d.register(&format!("晚{n}"), &document(700 + n));
        let out = d.run(&["book", "--slot", &slot(k), "--patient", &p, "--json"]);
        out.status
            .success()
            .then(|| serde_json::from_slice::<Value>(&out.stdout).unwrap()["booking"]["queue_no"].as_u64().unwrap())
    };
    assert_eq!(book_slot(&online, 4, 1), Some(23), "the silent desk's returned number");
    assert_eq!((book_slot(&online, 5, 3), book_slot(&online, 5, 4)), (Some(29), None), "30 is held for the away desk");
    assert!(online.sync());
    assert!(conflicts(&online).is_empty(), "{:?}", conflicts(&online));

    // The away desk comes back: its spend of 36 is granted with the number printed, and once it
    // has pulled with nothing pending its unspent, expired 30 returns.
    let back = away.at(&at(9, 57));
    assert!(back.sync());
    assert!(conflicts(&back).is_empty(), "{:?}", conflicts(&back));
    assert_eq!(pending(&back), 0);
    w.round();
    let id = spent["booking"]["id"].as_str().unwrap().to_string();
    assert!(fresh.at(&at(9, 57)).sync());
    assert_eq!(on_platform(&fresh, &spent), (id, 36, true));
    let desks = w.desks();
    let away_row = &desks[&away_id];
    assert!(away_row["spent"].as_u64().unwrap() >= 1 && away_row["expired"].as_u64().unwrap() >= 1, "{desks:?}");
    let later = other.at(&at(9, 58));
    assert!(later.sync());
    assert_eq!(book_slot(&later, 5, 5), Some(30), "the away desk's returned number is booked");
    assert!(later.sync());
    assert!(conflicts(&later).is_empty());
}

fn a_session_suspended_centrally_turns_a_guaranteed_booking_into_an_inbox_conflict(b: Backend) {
    let w = World::new(b);
    w.policy(2);
    let d = w.desk("a");
    w.round();
    assert!(d.sync());
    let v = book_leased(&d.at(&at(8, 40)), 1, Pick::Lowest);
    assert_eq!(v["guaranteed"], true);
    w.central.suspend(SESSION, "王医生外出会诊");
    assert!(d.sync());
    let inbox = conflicts(&d);
    assert_eq!(inbox.len(), 1, "{inbox:?}");
    assert_eq!(inbox[0]["reason"], "session_suspended");
    assert_eq!(inbox[0]["envelope"]["op"]["leased"], true);
    // The patient gets a notice: cancelling from the inbox prints one.
    let id = inbox[0]["id"].as_i64().unwrap().to_string();
    let resolved = d.json(&["conflicts", "resolve", &id, "--cancel", "--no-print"]);
    let notice = resolved["notice"].to_string();
    assert!(notice.contains("停诊") || notice.contains("suspended"), "a notice for the patient: {resolved}");
}

/// A desk's own leased numbers it may spend, every session: (session, number).
fn own_numbers(d: &DeskCli) -> BTreeSet<(String, u64)> {
    d.json(&["leases"])["leases"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["state"] == "usable")
        .map(|e| (e["session_id"].as_str().unwrap().to_string(), e["queue_no"].as_u64().unwrap()))
        .collect()
}

fn sigkill_during_a_lease_top_up_loses_nothing_and_grants_nothing_twice(b: Backend) {
    let mut w = World::new(b);
    w.policy(3);
    let a = w.desk("a");
    let other = w.desk("other");
    w.round();
    assert!(a.sync() && other.sync());
    let a_id = device(&a);
    assert_eq!(usable(&a).len(), 3, "the share: 3 a session");
    let total = own_numbers(&a).len();
    let started = Instant::now();
    for i in 0..16u64 {
        assert!(started.elapsed() < Duration::from_secs(600), "the kill loop overran");
        // Give one number back (the platform frees it), then ask for a top-up and kill the desk
        // (or, every fourth time, the platform) part-way: the fault is the moment of the kill.
        let n = *usable(&a).iter().next().expect("a leased number to give back");
        a.ok(&["leases", "return", "--session", SESSION, "--number", &n.to_string()]);
        let mut child = a.command(&["leases", "top-up"]).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
        std::thread::sleep(Duration::from_millis(7 * (i % 8)));
        if i % 4 == 3 {
            w.central.kill();
            let _ = child.wait();
            w.central.restart();
        } else {
            let _ = child.kill();
            let _ = child.wait();
        }
        // Whatever happened, after a sync and a top-up the desk and the platform agree, the desk
        // holds exactly its share again, and no number is leased to two desks.
        assert!(a.sync() && other.sync());
        a.ok(&["leases", "top-up"]);
        assert!(a.sync() && other.sync());
        let mine = own_numbers(&a);
        let held = w.desks()[&a_id]["held"].as_u64().unwrap() as usize;
        assert_eq!(mine.len(), held, "desk and platform agree (round {i})");
        assert_eq!(held, total, "its share, no more, no less (round {i})");
        assert_eq!(usable(&a).len(), 3, "round {i}");
        assert!(mine.is_disjoint(&own_numbers(&other)), "no number leased to two desks (round {i})");
    }
    assert_eq!(pending(&a), 0);
    assert!(conflicts(&a).is_empty());
}

frontdesk_e2e::on_both!(
    three_offline_desks_have_no_conflict_within_their_leases,
    a_lease_expires_while_its_desk_is_away_and_its_numbers_return,
    a_session_suspended_centrally_turns_a_guaranteed_booking_into_an_inbox_conflict,
    sigkill_during_a_lease_top_up_loses_nothing_and_grants_nothing_twice,
);
