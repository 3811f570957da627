//! Capacity leases (docs/SYNC.md, "Capacity leases") against a real server: grants, the change
//! log, spends, returns, expiry, revocation, the admin's view, the metrics and the policy.
//!
//! The lease tests take turns (one server at a time), so the process-wide lease metrics each
//! test reads move only by what that test did.

use std::collections::BTreeSet;

use frontdesk_domain::lease::Lease;
use frontdesk_domain::patient::Patient;
use frontdesk_domain::schedule::{BookingId, Channel, DeviceId, SessionId, SlotId};
use frontdesk_protocol::admin::SiteLeases;
use frontdesk_protocol::sync::{LeaseAnswer, LeaseRequest, LeasedNumber, Op, Outcome, PullResponse, Record};
use jiff::Timestamp;
use serde_json::{Value, json};

use crate::common::*;

/// One lease test at a time in this process (see the module docs).
async fn serial() -> tokio::sync::MutexGuard<'static, ()> {
    static SERIAL: std::sync::OnceLock<tokio::sync::Mutex<()>> = std::sync::OnceLock::new();
    SERIAL.get_or_init(|| tokio::sync::Mutex::new(())).lock().await
}

/// The site every scenario leases in: today's morning, four 60-minute slots of 6 numbers, 2
/// online and 4 at the desk — slot 1: online 1–2, desk 3–6; slot 2: desk 9–12; slot 3: desk
/// 15–18; slot 4: desk 21–24. Sixteen desk numbers in the session.
const SITE: &str = "ls";
const SESSION: &str = "ls-nk-1-20261123-am";

fn slot(n: u32) -> SlotId {
    SlotId(format!("{SESSION}-{n:02}"))
}

/// 25 % held back (4 of 16), the rest split evenly; leases end 10 minutes before their slot.
fn policy() -> Value {
    json!({"hold_back_percent": 25, "min_per_desk": 1, "max_per_desk": 0,
           "expire_before_minutes": 10, "horizon_days": 0, "low_water": 1})
}

async fn leasing_site(s: &TestServer) {
    small_site(s, SITE, today(), 6, 4, 60).await;
    let r = put_policy(s, SITE, policy()).await;
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap_or_default());
}

async fn put_policy(s: &TestServer, site: &str, body: Value) -> reqwest::Response {
    s.client
        .put(s.url(&format!("/v1/admin/sites/{site}/lease-policy")))
        .bearer_auth(ADMIN_TOKEN)
        .json(&body)
        .send()
        .await
        .unwrap()
}

/// Runs the platform's round now: (granted, expired).
async fn round(s: &TestServer) -> (u64, u64) {
    let r = s.admin_post("/v1/admin/leases/round", json!({})).await;
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    (v["granted"].as_u64().unwrap(), v["expired"].as_u64().unwrap())
}

async fn ask(s: &TestServer, dev: &Device, top_up: bool, give_back: Vec<LeasedNumber>) -> LeaseAnswer {
    let req = LeaseRequest { protocol: 2, device_id: dev.id.clone(), top_up, give_back };
    let r = s.client.post(s.url("/v1/sync/leases")).bearer_auth(&dev.token).json(&req).send().await.unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap_or_default());
    r.json().await.unwrap()
}

async fn site_leases(s: &TestServer, site: &str) -> SiteLeases {
    let r = s.admin_get(&format!("/v1/admin/sites/{site}/leases")).await;
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}

fn numbers(leases: &[Lease]) -> BTreeSet<u32> {
    leases.iter().map(|l| l.queue_no).collect()
}

fn number(n: u32) -> LeasedNumber {
    LeasedNumber { session_id: SessionId::from(SESSION), queue_no: n }
}

/// What the change log says is leased now: (number, desk), from every record and tombstone.
fn leased_in(records: &[Record]) -> BTreeSet<(u32, DeviceId)> {
    let mut out = BTreeSet::new();
    for r in records {
        match r {
            Record::Lease(l) => {
                out.retain(|(n, _)| *n != l.queue_no);
                out.insert((l.queue_no, l.device_id.clone()));
            }
            Record::Tombstone { entity, id } if entity == "lease" => {
                let n: u32 = id.rsplit_once('#').unwrap().1.parse().unwrap();
                out.retain(|(m, _)| *m != n);
            }
            _ => {}
        }
    }
    out
}

fn book(p: &Patient, slot_id: SlotId, queue_no: u32, t: u64, leased: bool) -> Op {
    Op::Book {
        booking_id: BookingId(uuid::Uuid::now_v7().to_string()),
        patient_id: p.id.clone(),
        slot_id,
        channel: Channel::Desk,
        queue_no,
        leased,
        ticket_code: ticket(t),
        overbook_reason: None,
    }
}

/// Registers patient `n` of the site and books them as `book` says; the booking's outcome.
async fn push_booking(s: &TestServer, d: &mut Device, n: u64, slot_id: SlotId, queue_no: u32, leased: bool) -> Outcome {
    let p = patient(SITE, n);
    let ops = vec![d.op(Op::RegisterPatient { patient: p.clone() }), d.op(book(&p, slot_id, queue_no, n, leased))];
    let r = s.push(d, ops).await;
    assert!(matches!(r.results[0].outcome, Outcome::Applied { .. }), "{:?}", r.results[0]);
    r.results[1].outcome.clone()
}

fn granted_number(o: &Outcome) -> u32 {
    match o {
        Outcome::Applied { effects } => effects.queue_no.unwrap(),
        other => panic!("expected a booking, got {other:?}"),
    }
}

fn conflict_reason(o: &Outcome) -> &str {
    match o {
        Outcome::Conflict(c) => &c.reason,
        other => panic!("expected a conflict, got {other:?}"),
    }
}

/// The process's `frontdesk_lease_numbers_total{what}`.
async fn lease_metric(s: &TestServer, what: &str) -> f64 {
    let text = s.client.get(s.url("/metrics")).send().await.unwrap().text().await.unwrap();
    text.lines()
        .filter(|l| l.starts_with("frontdesk_lease_numbers_total{") && l.contains(&format!("what=\"{what}\"")))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

fn at(s: &str) -> Timestamp {
    s.parse().unwrap()
}

async fn grants_on_request_and_in_the_round_share_hold_back_spread_and_never_twice(b: Backend) {
    let _serial = serial().await;
    let s = TestServer::start(b, |_| {}).await;
    leasing_site(&s).await;
    let a = s.enroll(SITE).await;
    let bb = s.enroll(SITE).await;
    // Two desks: 16 desk numbers, 4 held back, 6 each — the highest free number of each slot
    // first, earliest slot first.
    let first = ask(&s, &a, true, Vec::new()).await;
    assert_eq!(first.granted, 6);
    assert_eq!(numbers(&first.leases), BTreeSet::from([5, 6, 11, 12, 18, 24]));
    assert_eq!(first.server_now, at(NOW));
    let six = first.leases.iter().find(|l| l.queue_no == 6).unwrap();
    assert_eq!(six.slot_id, slot(1));
    assert_eq!(six.expires_at, at("2026-11-23T07:50:00+08:00"), "10 minutes before its slot");
    let last = first.leases.iter().find(|l| l.queue_no == 24).unwrap();
    assert_eq!(last.expires_at, at("2026-11-23T10:50:00+08:00"));
    // Asking again grants nothing more.
    let again = ask(&s, &a, true, Vec::new()).await;
    assert_eq!((again.granted, numbers(&again.leases)), (0, numbers(&first.leases)));
    // The round tops up the other desk, and only it.
    assert_eq!(round(&s).await, (6, 0));
    let theirs = ask(&s, &bb, false, Vec::new()).await;
    assert_eq!(numbers(&theirs.leases), BTreeSet::from([3, 4, 9, 10, 17, 23]));
    assert_eq!(round(&s).await, (0, 0), "a repeated round grants nothing");
    // A third desk: the share shrinks to 4, but what is left free is the held-back part.
    let c = s.enroll(SITE).await;
    assert_eq!(round(&s).await, (0, 0));
    assert_eq!(ask(&s, &c, true, Vec::new()).await.leases, Vec::new());
    let view = site_leases(&s, SITE).await;
    assert_eq!(view.policy.unwrap().hold_back_percent, 25);
    let held: BTreeSet<(DeviceId, u32, u64)> =
        view.desks.iter().map(|d| (d.device_id.clone(), d.held, d.granted)).collect();
    assert_eq!(held, BTreeSet::from([(a.id.clone(), 6, 6), (bb.id.clone(), 6, 6), (c.id.clone(), 0, 0)]));
    // The held-back numbers are still free: an unleased desk booking takes one.
    let mut c = c;
    let o = push_booking(&s, &mut c, 1, slot(3), 0, false).await;
    assert!([15, 16].contains(&granted_number(&o)), "{o:?}");
    s.stop().await;
}

async fn leases_and_their_ends_reach_every_desk_through_pull_and_protocol_1_sees_none(b: Backend) {
    let _serial = serial().await;
    let s = TestServer::start(b, |_| {}).await;
    leasing_site(&s).await;
    let a = s.enroll(SITE).await;
    let watcher = s.enroll(SITE).await;
    let (_, start) = s.pull_all(&watcher, 0).await;
    assert_eq!(round(&s).await.0, 12);
    let page = s.pull(&watcher, start, 5000).await;
    assert_eq!(page.server_now, Some(at(NOW)), "every page carries the platform's clock");
    let records: Vec<Record> = page.changes.into_iter().map(|c| c.record).collect();
    let leased = leased_in(&records);
    assert_eq!(leased.len(), 12);
    assert_eq!(leased.iter().filter(|(_, d)| *d == a.id).count(), 6, "a desk learns the other desks' leases too");
    // A's answer and the log agree, record for record.
    let mine = ask(&s, &a, false, Vec::new()).await.leases;
    for l in &mine {
        assert!(records.contains(&Record::Lease(l.clone())), "{l:?} is in the log");
    }
    let first = mine[0].queue_no;
    // Given back: a tombstone.
    let back = ask(&s, &a, false, vec![number(first)]).await;
    assert_eq!(back.returned, 1);
    let (after, end) = s.pull_all(&watcher, page.next_cursor).await;
    assert_eq!(after, [Record::Tombstone { entity: "lease".into(), id: Lease::key(&SESSION.into(), first) }]);
    // The policy is in the log too.
    let (all, _) = s.pull_all(&watcher, 0).await;
    assert!(all.iter().any(|r| matches!(r, Record::LeasePolicy { site_id, policy: Some(p) }
        if site_id.as_str() == SITE && p.hold_back_percent == 25)));

    // A protocol-1 desk: the same log without lease records, its cursor moved past them.
    let v1 = |cursor: u64, version: &'static str| {
        s.client
            .get(s.url(&format!("/v1/sync/pull?cursor={cursor}&limit=5000")))
            .bearer_auth(&watcher.token)
            .header("x-frontdesk-protocol", version)
            .send()
    };
    let r = v1(0, "1").await.unwrap();
    assert_eq!(r.status(), 200);
    let old: PullResponse = r.json().await.unwrap();
    assert_eq!(old.protocol, 1);
    assert_eq!(old.server_now, None);
    assert!(!old.changes.iter().any(|c| c.record.since() > 1), "no lease records for protocol 1");
    assert!(old.changes.iter().any(|c| matches!(c.record, Record::Slot(_))));
    let r = v1(start, "1").await.unwrap();
    let old: PullResponse = r.json().await.unwrap();
    assert!(old.changes.is_empty(), "only leases changed since: {:?}", old.changes);
    assert_eq!(old.next_cursor, end, "the cursor still moves past the lease records");
    // Versions this platform does not speak.
    for v in ["4", "0", "two"] {
        let r = v1(0, v).await.unwrap();
        assert_eq!(r.status(), 426, "version {v}");
        let e: Value = r.json().await.unwrap();
        assert_eq!(e["code"], "protocol_version");
    }
    // Protocol 1 pushes are still applied; a push of version 4 is not; leases need version 2.
    let mut d = watcher;
    let p = patient(SITE, 5);
    for (version, status) in [(1, 200), (4, 426)] {
        let ops = vec![d.op(Op::RegisterPatient { patient: p.clone() })];
        let req = frontdesk_protocol::sync::PushRequest { protocol: version, device_id: d.id.clone(), ops };
        let r = s.client.post(s.url("/v1/sync/push")).bearer_auth(&d.token).json(&req).send().await.unwrap();
        assert_eq!(r.status(), status, "push of protocol {version}");
    }
    let req = LeaseRequest { protocol: 1, device_id: d.id.clone(), top_up: true, give_back: Vec::new() };
    let r = s.client.post(s.url("/v1/sync/leases")).bearer_auth(&d.token).json(&req).send().await.unwrap();
    assert_eq!(r.status(), 426);
    let req = LeaseRequest { protocol: 2, device_id: a.id.clone(), top_up: true, give_back: Vec::new() };
    let r = s.client.post(s.url("/v1/sync/leases")).bearer_auth(&d.token).json(&req).send().await.unwrap();
    assert_eq!(r.status(), 403, "another desk's leases");
    s.stop().await;
}

async fn online_and_unleased_desk_bookings_never_take_a_leased_number(b: Backend) {
    let _serial = serial().await;
    let s = TestServer::start(b, |_| {}).await;
    leasing_site(&s).await;
    let mut a = s.enroll(SITE).await;
    let mut other = s.enroll(SITE).await;
    // Only desk A is topped up: 6 numbers, the highest of each slot first.
    assert_eq!(ask(&s, &a, true, Vec::new()).await.granted, 6);
    let leased = BTreeSet::from([5, 6, 11, 12, 18, 24]);
    // The online pool books to exhaustion as if there were no leases: 8 numbers.
    let mut online = BTreeSet::new();
    for i in 0..12u64 {
        let body = json!({"patient": frontdesk_central::demo::patient(3_000 + i), "department": "NK"});
        let r = s.client.post(s.url(&format!("/v1/public/sites/{SITE}/bookings"))).json(&body).send().await.unwrap();
        let v: Value = r.json().await.unwrap();
        if let Some(n) = v["queue_no"].as_u64() {
            online.insert(n as u32);
        } else {
            assert!(["slot_full", "no_slot_available"].contains(&v["reason"].as_str().unwrap()), "{v}");
        }
    }
    assert_eq!(online, BTreeSet::from([1, 2, 7, 8, 13, 14, 19, 20]));
    // The other desk books the desk pool to exhaustion, asking for leased numbers: it gets
    // every number but the leased ones, then the slot is full.
    let mut desk = BTreeSet::new();
    let mut t = 10;
    for k in 1..=4u32 {
        loop {
            t += 1;
            let wanted = [6, 12, 18, 24][k as usize - 1];
            let o = push_booking(&s, &mut other, t, slot(k), wanted, false).await;
            match &o {
                Outcome::Applied { .. } => {
                    desk.insert(granted_number(&o));
                }
                _ => {
                    assert_eq!(conflict_reason(&o), "slot_full");
                    break;
                }
            }
        }
    }
    assert_eq!(desk, BTreeSet::from([3, 4, 9, 10, 15, 16, 17, 21, 22, 23]));
    assert!(desk.is_disjoint(&leased));
    // The desk holding the lease still spends each number, every slot being full.
    for (i, (n, k)) in [(5, 1), (6, 1), (11, 2), (12, 2), (18, 3), (24, 4)].into_iter().enumerate() {
        let o = push_booking(&s, &mut a, 100 + i as u64, slot(k), n, true).await;
        assert_eq!(granted_number(&o), n, "leased number {n}: {o:?}");
    }
    assert_eq!(ask(&s, &a, false, Vec::new()).await.leases, Vec::new(), "all spent");
    s.stop().await;
}

async fn a_leased_number_is_granted_when_the_slot_is_full_or_over_but_not_into_a_suspension(b: Backend) {
    let _serial = serial().await;
    let s = TestServer::start(b, |_| {}).await;
    leasing_site(&s).await;
    let mut a = s.enroll(SITE).await;
    let mut other = s.enroll(SITE).await;
    assert_eq!(ask(&s, &a, true, Vec::new()).await.granted, 6);
    // Slot 1 fills up around A's numbers 5 and 6.
    for (i, n) in [3, 4].into_iter().enumerate() {
        let o = push_booking(&s, &mut other, 10 + i as u64, slot(1), n, false).await;
        assert_eq!(granted_number(&o), n);
    }
    let o = push_booking(&s, &mut other, 12, slot(1), 3, false).await;
    assert_eq!(conflict_reason(&o), "slot_full");
    let spent_before = lease_metric(&s, "spent").await;
    let o = push_booking(&s, &mut a, 20, slot(1), 6, true).await;
    assert_eq!(granted_number(&o), 6, "the slot is full, the leased number is granted");
    assert_eq!(lease_metric(&s, "spent").await, spent_before + 1.0);

    // Slot 1 has ended (09:05): A, offline since, pushes its other spend of slot 1. The lease
    // expired at 07:50, but A has not been heard from since, so the platform kept number 5
    // for it: granted, spent.
    s.clock.set(at("2026-11-23T09:05:00+08:00"));
    let o = push_booking(&s, &mut a, 21, slot(1), 5, true).await;
    assert_eq!(granted_number(&o), 5, "granted after the slot ended: {o:?}");
    assert_eq!(lease_metric(&s, "spent").await, spent_before + 2.0);
    // An unleased booking into the ended slot is refused as ever.
    let o = push_booking(&s, &mut other, 22, slot(1), 0, false).await;
    assert_eq!(conflict_reason(&o), "slot_ended");

    // Suspended centrally: a leased spend is a conflict like any booking, and the lease stays.
    let r = s.admin_post(&format!("/v1/admin/sessions/{SESSION}/suspend"), json!({"reason": "医生外出"})).await;
    assert_eq!(r.status(), 200);
    let o = push_booking(&s, &mut a, 23, slot(3), 18, true).await;
    assert_eq!(conflict_reason(&o), "session_suspended");
    let view = site_leases(&s, SITE).await;
    let mine = view.desks.iter().find(|d| d.device_id == a.id).unwrap();
    // 5 and 6 spent; 11 and 12 of slot 2 expired at 08:50, but A may have spent them offline:
    // still held, with 18 and 24.
    assert_eq!((mine.spent, mine.expired, mine.held), (2, 0, 4), "{mine:?}");
    // What A may still spend: 18 and 24.
    assert_eq!(numbers(&ask(&s, &a, false, Vec::new()).await.leases), BTreeSet::from([18, 24]));
    s.stop().await;
}

async fn a_number_no_longer_leased_is_granted_when_free_and_lost_when_taken(b: Backend) {
    let _serial = serial().await;
    let s = TestServer::start(b, |_| {}).await;
    leasing_site(&s).await;
    let mut a = s.enroll(SITE).await;
    let mut other = s.enroll(SITE).await;
    assert_eq!(ask(&s, &a, true, Vec::new()).await.granted, 6);
    // A gives 11 and 12 back (a restored old copy of A still thinks it holds them).
    assert_eq!(ask(&s, &a, false, vec![number(11), number(12)]).await.returned, 2);
    // 12 stays free: the old copy's spend of it is granted, late.
    let late = lease_metric(&s, "late").await;
    let o = push_booking(&s, &mut a, 1, slot(2), 12, true).await;
    assert_eq!(granted_number(&o), 12);
    assert_eq!(lease_metric(&s, "late").await, late + 1.0);
    // 11 is taken by another desk's booking first: the old copy's spend is lost.
    let o = push_booking(&s, &mut other, 2, slot(2), 11, false).await;
    assert_eq!(granted_number(&o), 11, "a number given back is free again");
    let lost = lease_metric(&s, "lost").await;
    let o = push_booking(&s, &mut a, 3, slot(2), 11, true).await;
    assert_eq!(conflict_reason(&o), "lease_lost");
    assert_eq!(lease_metric(&s, "lost").await, lost + 1.0);
    // The same with a lease that expired and was returned: at 09:55 slot 3's leases (09:50)
    // have expired; A pulls with nothing pending, so the round returns its 18 (and 5 and 6 of
    // slot 1, which has ended); 24 (10:50) lives on. 18 is taken by a walk-in, then an old copy
    // of A spends it.
    s.clock.set(at("2026-11-23T09:55:00+08:00"));
    s.pull_pending(&a, 0, 0).await;
    let (_, expired) = round(&s).await;
    assert_eq!(expired, 3, "5, 6 (slot 1 over) and 18 (09:50); 24 (10:50) lives on");
    let o = push_booking(&s, &mut other, 4, slot(3), 18, false).await;
    assert_eq!(granted_number(&o), 18);
    let o = push_booking(&s, &mut a, 5, slot(3), 18, true).await;
    assert_eq!(conflict_reason(&o), "lease_lost");
    s.stop().await;
}

async fn give_back_returns_only_the_desks_own_numbers(b: Backend) {
    let _serial = serial().await;
    let s = TestServer::start(b, |_| {}).await;
    leasing_site(&s).await;
    let a = s.enroll(SITE).await;
    let bb = s.enroll(SITE).await;
    assert_eq!(ask(&s, &a, true, Vec::new()).await.granted, 6);
    assert_eq!(numbers(&ask(&s, &bb, true, Vec::new()).await.leases), BTreeSet::from([3, 4, 9, 10, 17, 23]));
    // 6 is A's, 4 is B's, 1 is an online number nobody leases.
    let back = ask(&s, &a, false, vec![number(6), number(4), number(1)]).await;
    assert_eq!(back.returned, 1);
    assert_eq!(numbers(&back.leases), BTreeSet::from([5, 11, 12, 18, 24]));
    assert!(numbers(&ask(&s, &bb, false, Vec::new()).await.leases).contains(&4));
    // Giving back and topping up in one request: free are 5, 6 (slot 1), 15, 16 (slot 3), 21,
    // 22 (slot 4), four of them held back; the highest free of each slot first: 6, then 16.
    let both = ask(&s, &a, true, vec![number(5)]).await;
    assert_eq!((both.returned, both.granted), (1, 2));
    assert_eq!(numbers(&both.leases), BTreeSet::from([6, 11, 12, 16, 18, 24]));
    let view = site_leases(&s, SITE).await;
    let mine = view.desks.iter().find(|d| d.device_id == a.id).unwrap();
    assert_eq!((mine.held, mine.granted, mine.returned), (6, 8, 2));
    s.stop().await;
}

async fn the_round_expires_leases_before_their_slot_and_refills_from_later_slots(b: Backend) {
    let _serial = serial().await;
    let s = TestServer::start(b, |_| {}).await;
    leasing_site(&s).await;
    let a = s.enroll(SITE).await;
    let mut bb = s.enroll(SITE).await;
    // A: 5, 6 | 11, 12 | 18 | 24; B: 3, 4 | 9, 10 | 17 | 23.
    assert_eq!(ask(&s, &a, true, Vec::new()).await.granted, 6);
    assert_eq!(ask(&s, &bb, true, Vec::new()).await.granted, 6);
    // 07:55: slot 1's leases expired at 07:50, but neither desk has been heard from since:
    // either may have spent them offline, so they still hold — slot 1 is full for B's
    // unleased booking, and the round returns nothing.
    s.clock.set(at("2026-11-23T07:55:00+08:00"));
    let o = push_booking(&s, &mut bb, 1, slot(1), 6, false).await;
    assert_eq!(conflict_reason(&o), "slot_full", "{o:?}");
    assert_eq!(round(&s).await, (0, 0));
    // A pulls with ops still pending: nothing changes.
    s.pull_pending(&a, 0, 3).await;
    assert_eq!(round(&s).await, (0, 0));
    // A pulls with nothing pending: every spend of its expired leases would have been pushed.
    // The round returns A's 5 and 6 (B's 3 and 4 stay), leases nothing of slot 1 again, and
    // tops A up from the later slots — 16 and 22 —, leaving 4 desk numbers free (5, 6, 15, 21).
    s.pull_pending(&a, 0, 0).await;
    assert_eq!(round(&s).await, (2, 2));
    let mine = ask(&s, &a, false, Vec::new()).await;
    assert_eq!(numbers(&mine.leases), BTreeSet::from([11, 12, 16, 18, 22, 24]));
    // B's unleased booking now gets a returned number.
    let o = push_booking(&s, &mut bb, 2, slot(1), 6, false).await;
    assert_eq!(granted_number(&o), 6);
    let view = site_leases(&s, SITE).await;
    let counts: BTreeSet<(DeviceId, u64, u32)> =
        view.desks.iter().map(|d| (d.device_id.clone(), d.expired, d.held)).collect();
    assert_eq!(counts, BTreeSet::from([(a.id.clone(), 2, 6), (bb.id.clone(), 0, 6)]), "B's 3 and 4 still held");
    // Expiring within the hour: A's slot 2 (08:50).
    let a_view = view.desks.iter().find(|d| d.device_id == a.id).unwrap();
    assert_eq!(a_view.next_expiry, Some(at("2026-11-23T08:50:00+08:00")));
    assert_eq!(a_view.expiring, 2);
    // Once slot 1 is over (09:00), B's expired leases of it return whatever B did; its slot 2
    // leases (expired 08:50, slot still running) stay.
    s.clock.set(at("2026-11-23T09:00:00+08:00"));
    let (_, expired) = round(&s).await;
    assert_eq!(expired, 2, "B's 3 and 4");
    let (log, _) = s.pull_all(&bb, 0).await;
    let leased = leased_in(&log);
    assert!(leased.iter().all(|(n, _)| *n > 6), "the log shows slot 1's leases ended: {leased:?}");
    assert!(leased.contains(&(9, bb.id.clone())) && leased.contains(&(10, bb.id.clone())), "{leased:?}");
    s.stop().await;
}

async fn revoking_a_desk_and_changing_the_session_take_leases_back(b: Backend) {
    let _serial = serial().await;
    let s = TestServer::start(b, |_| {}).await;
    leasing_site(&s).await;
    let a = s.enroll(SITE).await;
    let bb = s.enroll(SITE).await;
    assert_eq!(round(&s).await.0, 12);
    let revoked_before = lease_metric(&s, "revoked").await;
    let r = s.admin_post(&format!("/v1/admin/devices/{}/revoke", bb.id), json!({})).await;
    assert_eq!(r.status(), 204);
    assert_eq!(lease_metric(&s, "revoked").await, revoked_before + 6.0);
    let view = site_leases(&s, SITE).await;
    let theirs = view.desks.iter().find(|d| d.device_id == bb.id).unwrap();
    assert_eq!((theirs.held, theirs.revoked), (0, 6), "a revoked desk with history is listed");
    let (log, _) = s.pull_all(&a, 0).await;
    assert!(leased_in(&log).iter().all(|(_, d)| *d == a.id), "B's leases are tombstones");
    // One desk left: its share is all 12 leasable numbers.
    assert_eq!(ask(&s, &a, true, Vec::new()).await.granted, 6);
    // Re-splitting the session's pools takes its leases back (the next round leases anew).
    let r = s.admin_post(&format!("/v1/admin/sessions/{SESSION}/pools"), json!({"desk_per_slot": 2})).await;
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap_or_default());
    assert_eq!(ask(&s, &a, false, Vec::new()).await.leases, Vec::new());
    let view = site_leases(&s, SITE).await;
    assert_eq!(view.desks.iter().find(|d| d.device_id == a.id).unwrap().revoked, 12);
    // 8 desk numbers now (2 per slot): 2 held back, 6 leased to the one desk.
    let fresh = ask(&s, &a, true, Vec::new()).await;
    assert_eq!(numbers(&fresh.leases), BTreeSet::from([5, 6, 11, 12, 18, 24]));
    assert_eq!(fresh.leases.iter().find(|l| l.queue_no == 18).unwrap().slot_id, slot(3));
    // Deleting a session takes its leases back too (it has no bookings).
    let r =
        s.client.delete(s.url(&format!("/v1/admin/sessions/{SESSION}"))).bearer_auth(ADMIN_TOKEN).send().await.unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(ask(&s, &a, true, Vec::new()).await.leases, Vec::new());
    let (log, _) = s.pull_all(&a, 0).await;
    assert_eq!(leased_in(&log), BTreeSet::new());
    s.stop().await;
}

async fn every_lease_event_is_counted(b: Backend) {
    let _serial = serial().await;
    let s = TestServer::start(b, |_| {}).await;
    leasing_site(&s).await;
    let mut a = s.enroll(SITE).await;
    let mut bb = s.enroll(SITE).await;
    let whats = ["granted", "spent", "late", "returned", "expired", "revoked", "lost"];
    let mut before = Vec::new();
    for w in whats {
        before.push(lease_metric(&s, w).await);
    }
    // Granted 12: A 5, 6 | 11, 12 | 18 | 24; B 3, 4 | 9, 10 | 17 | 23.
    assert_eq!(ask(&s, &a, true, Vec::new()).await.granted, 6);
    assert_eq!(ask(&s, &bb, true, Vec::new()).await.granted, 6);
    let o = push_booking(&s, &mut a, 1, slot(4), 24, true).await; // spent
    assert_eq!(granted_number(&o), 24);
    assert_eq!(ask(&s, &a, false, vec![number(18), number(12)]).await.returned, 2); // returned 2
    let o = push_booking(&s, &mut a, 2, slot(3), 18, true).await; // late (free)
    assert_eq!(granted_number(&o), 18);
    let o = push_booking(&s, &mut bb, 3, slot(2), 12, false).await;
    assert_eq!(granted_number(&o), 12);
    let o = push_booking(&s, &mut a, 4, slot(2), 12, true).await; // lost
    assert_eq!(conflict_reason(&o), "lease_lost");
    // Expired: slot 1's 3, 4, 5, 6, once both desks pulled with nothing pending; A (holding
    // only 11) is topped up from slots 3 and 4 with 15, 16, 21, 22, which leaves the 4 numbers
    // of slot 1 free; nothing is left for B.
    s.clock.set(at("2026-11-23T07:51:00+08:00"));
    s.pull_pending(&a, 0, 0).await;
    s.pull_pending(&bb, 0, 0).await;
    assert_eq!(round(&s).await, (4, 4));
    let r = s.admin_post(&format!("/v1/admin/devices/{}/revoke", bb.id), json!({})).await;
    assert_eq!(r.status(), 204); // revoked: B's 9, 10, 17, 23
    let mut deltas = Vec::new();
    for (w, b0) in whats.iter().zip(&before) {
        deltas.push((*w, lease_metric(&s, w).await - b0));
    }
    assert_eq!(
        deltas,
        [
            ("granted", 16.0),
            ("spent", 1.0),
            ("late", 1.0),
            ("returned", 2.0),
            ("expired", 4.0),
            ("revoked", 4.0),
            ("lost", 1.0)
        ]
    );
    let view = site_leases(&s, SITE).await;
    let rows: BTreeSet<(DeviceId, u32, u64, u64, u64, u64, u64)> = view
        .desks
        .iter()
        .map(|d| (d.device_id.clone(), d.held, d.granted, d.spent, d.returned, d.expired, d.revoked))
        .collect();
    // A: 11, 15, 16, 21, 22; B: nothing (revoked).
    assert_eq!(rows, BTreeSet::from([(a.id.clone(), 5, 10, 1, 2, 2, 0), (bb.id.clone(), 0, 6, 0, 0, 2, 4)]));
    s.stop().await;
}

async fn a_policy_is_validated_shown_and_cleared(b: Backend) {
    let _serial = serial().await;
    let s = TestServer::start(b, |_| {}).await;
    small_site(&s, SITE, today(), 6, 4, 60).await;
    let a = s.enroll(SITE).await;
    let get =
        async || -> Value { s.admin_get(&format!("/v1/admin/sites/{SITE}/lease-policy")).await.json().await.unwrap() };
    assert_eq!(get().await, Value::Null, "no policy, no leases");
    assert_eq!(ask(&s, &a, true, Vec::new()).await.granted, 0);
    assert_eq!(round(&s).await, (0, 0));
    for (bad, message) in [
        (json!({"hold_back_percent": 101, "min_per_desk": 1, "max_per_desk": 0}), "hold_back_percent must be 0–100"),
        (json!({"hold_back_percent": 20, "min_per_desk": 3, "max_per_desk": 2}), "max_per_desk"),
        (json!({"hold_back_percent": 20, "min_per_desk": 1, "max_per_desk": 0, "horizon_days": 15}), "horizon_days"),
    ] {
        let r = put_policy(&s, SITE, bad).await;
        assert_eq!(r.status(), 400);
        let e: Value = r.json().await.unwrap();
        assert_eq!(e["code"], "invalid_policy");
        assert!(e["message"].as_str().unwrap().contains(message), "{e}");
    }
    assert_eq!(get().await, Value::Null, "a refused policy is not stored");
    assert_eq!(put_policy(&s, "nowhere", policy()).await.status(), 404);
    assert_eq!(s.admin_get("/v1/admin/sites/nowhere/leases").await.status(), 404);
    let r = put_policy(&s, SITE, json!({"hold_back_percent": 25, "min_per_desk": 1, "max_per_desk": 0})).await;
    assert_eq!(r.status(), 200);
    let set = get().await;
    assert_eq!((set["hold_back_percent"].as_u64(), set["expire_before_minutes"].as_u64()), (Some(25), Some(10)));
    assert_eq!(ask(&s, &a, true, Vec::new()).await.granted, 12);
    // Cleared: every lease is taken back, desks learn it from the log.
    let r = put_policy(&s, SITE, Value::Null).await;
    assert_eq!(r.status(), 200);
    assert_eq!(get().await, Value::Null);
    let view = site_leases(&s, SITE).await;
    assert_eq!((view.policy, view.desks[0].held, view.desks[0].revoked), (None, 0, 12));
    let (log, _) = s.pull_all(&a, 0).await;
    assert_eq!(leased_in(&log), BTreeSet::new());
    assert!(log.iter().any(|r| matches!(r, Record::LeasePolicy { policy: None, .. })));
    assert!(!log.iter().any(|r| matches!(r, Record::LeasePolicy { policy: Some(_), .. })), "the latest state only");
    assert_eq!(ask(&s, &a, true, Vec::new()).await.granted, 0);
    // Policy changes are audited.
    let audited = s
        .db
        .sql_i64(&format!(
            "SELECT COUNT(*) FROM audit_log WHERE site_id = '{SITE}' AND action IN ('set_lease_policy', 'clear_lease_policy')"
        ))
        .await;
    assert_eq!(audited, 2);
    s.stop().await;
}

async fn the_server_runs_rounds_by_itself(b: Backend) {
    let _serial = serial().await;
    let s = TestServer::start(b, |c| c.lease_interval = std::time::Duration::from_millis(50)).await;
    leasing_site(&s).await;
    let a = s.enroll(SITE).await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let held = site_leases(&s, SITE).await.desks.iter().map(|d| d.held).sum::<u32>();
        if held == 12 {
            break;
        }
        assert!(held < 12, "never beyond the share: {held}");
        assert!(std::time::Instant::now() < deadline, "no round granted the desk its share");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    // And expiry: once the clock passes slot 1's expiry (07:50), a round takes its numbers
    // back (4, 5, 6: the one desk's share was all 12 leasable numbers).
    s.clock.set(at("2026-11-23T07:51:00+08:00"));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while site_leases(&s, SITE).await.desks[0].expired < 3 {
        assert!(std::time::Instant::now() < deadline, "no round expired slot 1's leases");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let left = ask(&s, &a, false, Vec::new()).await.leases;
    assert!(left.iter().all(|l| l.slot_id != slot(1)), "{left:?}");
    assert_eq!(site_leases(&s, SITE).await.desks[0].expired, 3);
    s.stop().await;
}

async fn the_command_line_sets_shows_and_clears_a_policy_beside_the_server(b: Backend) {
    let _serial = serial().await;
    let s = TestServer::start(b, |_| {}).await;
    small_site(&s, SITE, today(), 6, 4, 60).await;
    let a = s.enroll(SITE).await;
    let mut other = s.enroll(SITE).await;
    let bin = env!("CARGO_BIN_EXE_frontdesk-central");
    let cli = |args: &[&str]| {
        let out = std::process::Command::new(bin)
            .args(["--db", &s.db.arg(), "lease-policy", "--site", SITE])
            .args(args)
            .env("FRONTDESK_NOW", NOW)
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).to_string(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    };
    let (ok, _, err) = cli(&["--set", r#"{"hold_back_percent": 200, "min_per_desk": 1, "max_per_desk": 0}"#]);
    assert!(!ok && err.contains("hold_back_percent"), "{err}");
    let (ok, out, err) = cli(&["--set", r#"{"hold_back_percent": 0, "min_per_desk": 1, "max_per_desk": 0}"#]);
    assert!(ok, "{out}{err}");
    let policy: Value = s.admin_get(&format!("/v1/admin/sites/{SITE}/lease-policy")).await.json().await.unwrap();
    assert_eq!(policy["hold_back_percent"], 0, "the server sees the policy the command line set");
    // Two desks, no hold-back: every desk number is leased.
    assert_eq!(round(&s).await.0, 16);
    let (ok, out, _) = cli(&["--show"]);
    assert!(ok && out.contains(a.id.as_str()) && out.contains("hold_back_percent"), "{out}");
    let o = push_booking(&s, &mut other, 1, slot(1), 0, false).await;
    assert_eq!(conflict_reason(&o), "slot_full", "every desk number is leased");
    // Cleared beside the running server: the numbers are free for it at once.
    let (ok, out, err) = cli(&["--clear"]);
    assert!(ok, "{out}{err}");
    let o = push_booking(&s, &mut other, 2, slot(1), 0, false).await;
    assert_eq!(granted_number(&o), 3, "the server no longer counts the cleared leases");
    assert_eq!(ask(&s, &a, false, Vec::new()).await.leases, Vec::new());
    s.stop().await;
}

crate::on_both!(
    grants_on_request_and_in_the_round_share_hold_back_spread_and_never_twice,
    leases_and_their_ends_reach_every_desk_through_pull_and_protocol_1_sees_none,
    online_and_unleased_desk_bookings_never_take_a_leased_number,
    a_leased_number_is_granted_when_the_slot_is_full_or_over_but_not_into_a_suspension,
    a_number_no_longer_leased_is_granted_when_free_and_lost_when_taken,
    give_back_returns_only_the_desks_own_numbers,
    the_round_expires_leases_before_their_slot_and_refills_from_later_slots,
    revoking_a_desk_and_changing_the_session_take_leases_back,
    every_lease_event_is_counted,
    a_policy_is_validated_shown_and_cleared,
    the_server_runs_rounds_by_itself,
    the_command_line_sets_shows_and_clears_a_policy_beside_the_server
);
