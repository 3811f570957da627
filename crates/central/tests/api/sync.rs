//! Push and pull against a real server.

use std::collections::{BTreeMap, HashSet};

use frontdesk_domain::booking::BookingStatus;
use frontdesk_domain::schedule::{BookingId, Channel, SessionId, SlotId};
use frontdesk_protocol::sync::{Op, OpEnvelope, Outcome, Record};
use serde_json::json;

use crate::common::*;

fn slot(n: u32) -> SlotId {
    SlotId(format!("demo-nk-1-20261123-am-{n:02}"))
}

fn book(p: &frontdesk_domain::patient::Patient, slot_id: SlotId, queue_no: u32, t: u64) -> Op {
    Op::Book {
        booking_id: BookingId(uuid::Uuid::now_v7().to_string()),
        patient_id: p.id.clone(),
        slot_id,
        channel: Channel::Desk,
        queue_no,
        leased: false,
        ticket_code: ticket(t),
        overbook_reason: None,
    }
}

fn conflict_reason(o: &Outcome) -> &str {
    match o {
        Outcome::Conflict(c) => &c.reason,
        other => panic!("expected a conflict, got {other:?}"),
    }
}

async fn push_applies_and_pull_returns_snapshot_and_changes(b: Backend) {
    let s = TestServer::start(b, |_| {}).await;
    let mut d = s.enroll("demo").await;
    let (snapshot, cursor) = s.pull_all(&d, 0).await;
    let departments = snapshot.iter().filter(|r| matches!(r, Record::Department(_))).count();
    let providers = snapshot.iter().filter(|r| matches!(r, Record::Provider(_))).count();
    assert_eq!((departments, providers), (5, 11), "the demo clinic is the domain's");
    assert!(snapshot.iter().any(|r| matches!(r, Record::Slot(_))));

    let p = patient("demo", 1);
    // Slot 1's desk numbers are 5 and 6 (online 1–4 come first).
    let ops = vec![d.op(Op::RegisterPatient { patient: p.clone() }), d.op(book(&p, slot(1), 5, 1))];
    let resp = s.push(&d, ops).await;
    assert_eq!(resp.acked_seq, 2);
    let Outcome::Applied { effects } = &resp.results[1].outcome else { panic!("{:?}", resp.results[1]) };
    assert_eq!(effects.queue_no, Some(5), "the desk's printed number is kept when free");
    assert_eq!(effects.patient_id.as_ref(), Some(&p.id));

    let page = s.pull(&d, cursor, 100).await;
    assert!(!page.more);
    assert_eq!(page.changes.len(), 2);
    assert!(matches!(page.changes[0].record, Record::Patient(_)));
    assert!(matches!(&page.changes[1].record, Record::Booking(b) if b.queue_no == 5));
    assert!(page.next_cursor > cursor);
    s.stop().await;
}

async fn a_pull_page_is_gzipped_only_for_a_client_that_accepts_it(b: Backend) {
    use std::io::Read as _;
    let s = TestServer::start(b, |_| {}).await;
    let d = s.enroll("demo").await;
    // Raw bytes: no automatic decompression.
    let raw = client_builder().no_gzip().build().unwrap();
    let get = |enc: Option<&'static str>| {
        let mut r = raw.get(s.url("/v1/sync/pull?cursor=0&limit=5000")).bearer_auth(&d.token);
        if let Some(e) = enc {
            r = r.header("accept-encoding", e);
        }
        r.send()
    };
    let plain = get(None).await.unwrap();
    assert_eq!(plain.status(), 200);
    assert!(plain.headers().get("content-encoding").is_none());
    let plain: Vec<u8> = plain.bytes().await.unwrap().to_vec();

    let gz = get(Some("br;q=1, gzip;q=0.8")).await.unwrap();
    assert_eq!(gz.status(), 200);
    assert_eq!(gz.headers().get("content-encoding").unwrap(), "gzip");
    let len: usize = gz.headers().get("content-length").unwrap().to_str().unwrap().parse().unwrap();
    let gz = gz.bytes().await.unwrap().to_vec();
    assert_eq!(len, gz.len(), "a whole body with its length, not chunks");
    assert!(gz.len() * 4 < plain.len(), "the snapshot compresses: {} → {} bytes", plain.len(), gz.len());
    let mut unzipped = Vec::new();
    flate2::read::GzDecoder::new(&gz[..]).read_to_end(&mut unzipped).unwrap();
    assert_eq!(unzipped, plain, "the same page");

    let refused = get(Some("gzip;q=0")).await.unwrap();
    assert!(refused.headers().get("content-encoding").is_none(), "q=0 refuses gzip");
    // A client that decompresses gets the same page through its usual path.
    let page: frontdesk_protocol::sync::PullResponse = serde_json::from_slice(
        &get(Some("gzip"))
            .await
            .unwrap()
            .bytes()
            .await
            .map(|b| {
                let mut out = Vec::new();
                flate2::read::GzDecoder::new(&b[..]).read_to_end(&mut out).unwrap();
                out
            })
            .unwrap(),
    )
    .unwrap();
    assert!(page.changes.len() > 1000, "pages of up to 5000 changes: {}", page.changes.len());
    s.stop().await;
}

async fn register_same_document_twice_merges(b: Backend) {
    let s = TestServer::start(b, |_| {}).await;
    let mut a = s.enroll("demo").await;
    let mut b = s.enroll("demo").await;
    let p1 = patient("demo", 42);
    let mut p2 = patient("demo", 42);
    p2.phone = None;
    assert_ne!(p1.id, p2.id);
    {
        let ops = vec![a.op(Op::RegisterPatient { patient: p1.clone() })];
        s.push(&a, ops).await
    };
    // Desk B registered the same person offline and booked them under its provisional id.
    let ops = vec![b.op(Op::RegisterPatient { patient: p2.clone() }), b.op(book(&p2, slot(2), 11, 2))];
    let r = s.push(&b, ops).await;
    let Outcome::Applied { effects } = &r.results[0].outcome else { panic!() };
    assert_eq!(effects.patient_id.as_ref(), Some(&p1.id), "the survivor's id");
    let Outcome::Applied { effects } = &r.results[1].outcome else { panic!("{:?}", r.results[1]) };
    assert_eq!(effects.patient_id.as_ref(), Some(&p1.id), "the provisional id resolves to the survivor");
    let (all, _) = s.pull_all(&a, 0).await;
    assert!(all.iter().any(|r| matches!(r, Record::PatientMerged { from, into } if *from == p2.id && *into == p1.id)));
    let patients = all.iter().filter(|r| matches!(r, Record::Patient(_))).count();
    assert_eq!(patients, 1);
    s.stop().await;
}

/// The ops of a desk's busy morning, for the replay test.
fn morning(d: &mut Device) -> Vec<OpEnvelope> {
    let mut ops = Vec::new();
    let mut booked = Vec::new();
    for i in 0..6u64 {
        let p = patient("demo", 100 + i);
        ops.push(d.op(Op::RegisterPatient { patient: p.clone() }));
        let op = book(&p, slot(1 + (i as u32 % 3)), 0, 100 + i);
        if let Op::Book { booking_id, ticket_code, .. } = &op {
            booked.push((booking_id.clone(), ticket_code.clone()));
        }
        ops.push(d.op(op));
    }
    ops.push(d.op(Op::Cancel { booking_id: booked[0].0.clone(), reason: Some("patient left".into()) }));
    ops.push(d.op(Op::CheckIn { booking_id: booked[1].0.clone(), ticket_code: booked[1].1.clone() }));
    // Slot 1's desk pool (2 numbers) now holds 1 (one cancelled): two more, the second is full.
    for i in 0..2u64 {
        let p = patient("demo", 200 + i);
        ops.push(d.op(Op::RegisterPatient { patient: p.clone() }));
        ops.push(d.op(book(&p, slot(1), 5, 200 + i)));
    }
    ops
}

fn end_state(records: &[Record]) -> BTreeMap<String, String> {
    records
        .iter()
        .filter_map(|r| match r {
            Record::Booking(b) => Some((
                format!("booking {}", b.id),
                format!("{} {} {:?} {}", b.slot_id, b.queue_no, b.status, b.patient_id),
            )),
            Record::Patient(p) => Some((format!("patient {}", p.id), p.name.clone())),
            _ => None,
        })
        .collect()
}

async fn replayed_reordered_duplicated_and_split_pushes_reach_the_same_state(b: Backend) {
    // Reference: one clean push.
    let a = TestServer::start(b, |_| {}).await;
    let mut da = a.enroll("demo").await;
    let ops = morning(&mut da);
    let clean = a.push(&da, ops.clone()).await;
    assert_eq!(clean.acked_seq, ops.len() as u64);
    assert!(clean.results.iter().all(|r| !matches!(r.outcome, Outcome::Deferred { .. })));
    assert_eq!(conflict_reason(&clean.results.last().unwrap().outcome), "slot_full");
    let (ref_state, _) = a.pull_all(&da, 0).await;

    // The same ops (same ids), pushed badly to a fresh platform.
    let b = TestServer::start(b, |_| {}).await;
    let mut db = b.enroll("demo").await;
    let ops: Vec<OpEnvelope> = ops
        .into_iter()
        .map(|mut o| {
            o.device_id = db.id.clone();
            o
        })
        .collect();
    db.seq = 0;
    // A later part first: deferred, nothing applied.
    let r = b.push(&db, ops[4..8].to_vec()).await;
    assert_eq!(r.acked_seq, 0);
    assert!(r.results.iter().all(|x| x.outcome == Outcome::Deferred { expected_seq: 1 }));
    // The start, reversed, with a duplicate inside the batch.
    let mut batch: Vec<OpEnvelope> = ops[0..3].iter().rev().cloned().collect();
    batch.push(ops[0].clone());
    let r = b.push(&db, batch).await;
    assert_eq!(r.acked_seq, 3);
    assert!(matches!(r.results[3].outcome, Outcome::Duplicate { .. }), "{:?}", r.results[3]);
    // Everything again, shuffled and split in two uneven halves.
    let mut all: Vec<OpEnvelope> = ops.clone();
    all.reverse();
    let (x, y) = all.split_at(5);
    let r1 = b.push(&db, x.to_vec()).await;
    let r2 = b.push(&db, y.to_vec()).await;
    let r3 = b.push(&db, x.to_vec()).await;
    assert_eq!(r3.acked_seq, ops.len() as u64);
    let (state, _) = b.pull_all(&db, 0).await;
    assert_eq!(end_state(&state), end_state(&ref_state));

    // Duplicates answer with the original result.
    let mut original = BTreeMap::new();
    for r in r1.results.iter().chain(r2.results.iter()) {
        if !matches!(r.outcome, Outcome::Deferred { .. }) {
            original.entry(r.op_id).or_insert(r.outcome.clone());
        }
    }
    let replay = b.push(&db, ops.clone()).await;
    for (r, clean_r) in replay.results.iter().zip(clean.results.iter()) {
        match (&r.outcome, &clean_r.outcome) {
            (Outcome::Duplicate { effects }, Outcome::Applied { effects: e2 }) => {
                assert_eq!(effects.queue_no, e2.queue_no);
                assert_eq!(effects.patient_id, e2.patient_id);
                assert_eq!(effects.booking_id, e2.booking_id);
            }
            (Outcome::Conflict(c1), Outcome::Conflict(c2)) => assert_eq!(c1.reason, c2.reason),
            (x, y) => panic!("replay {x:?} vs clean {y:?}"),
        }
    }
    a.stop().await;
    b.stop().await;
}

async fn every_conflict_reason_comes_from_a_real_scenario(b: Backend) {
    let s = TestServer::start(b, |_| {}).await;
    let mut d = s.enroll("demo").await;
    let mut other = s.enroll("demo").await;
    let ps: Vec<_> = (0..6).map(|i| patient("demo", 300 + i)).collect();
    let mut ops: Vec<OpEnvelope> = ps.iter().map(|p| d.op(Op::RegisterPatient { patient: p.clone() })).collect();
    // slot_full: slot 3's desk pool has two numbers.
    ops.push(d.op(book(&ps[0], slot(3), 17, 1)));
    ops.push(d.op(book(&ps[1], slot(3), 18, 2)));
    let full = d.op(book(&ps[2], slot(3), 17, 3));
    let full_id = full.op_id;
    ops.push(full);
    // depends_on_failed: checking in the booking that never was.
    let mut dep = d.op(Op::Cancel { booking_id: BookingId::from("never"), reason: None });
    dep.depends_on = vec![full_id];
    ops.push(dep);
    // patient_already_booked: ps[0] again in 内科 the same day.
    ops.push(d.op(book(&ps[0], slot(4), 23, 4)));
    // ticket_code_taken: ticket 1 is ps[0]'s.
    ops.push(d.op(book(&ps[3], slot(5), 29, 1)));
    // session_suspended.
    ops.push(d.op(Op::SuspendSession { session_id: SessionId::from("demo-nk-2-20261123-am"), reason: "sick".into() }));
    ops.push(d.op(book(&ps[4], SlotId::from("demo-nk-2-20261123-am-01"), 5, 5)));
    // not_found.
    ops.push(d.op(book(&ps[4], SlotId::from("no-such-slot"), 5, 6)));
    let r = s.push(&d, ops).await;
    let reasons: Vec<&str> = r
        .results
        .iter()
        .filter(|x| matches!(x.outcome, Outcome::Conflict(_)))
        .map(|x| conflict_reason(&x.outcome))
        .collect();
    assert_eq!(
        reasons,
        [
            "slot_full",
            "depends_on_failed",
            "patient_already_booked",
            "ticket_code_taken",
            "session_suspended",
            "not_found"
        ]
    );
    // A conflict carries the server's state and suggestions.
    let Outcome::Conflict(c) = &r.results[8].outcome else { panic!() };
    let st = c.server_state.as_ref().unwrap();
    assert_eq!(st.remaining, Some(0));
    assert_eq!(st.slot.as_ref().unwrap().id, slot(3));
    assert!(!c.suggestions.is_empty(), "next free slots are suggested");
    let Outcome::Conflict(c) = &r.results[10].outcome else { panic!() };
    assert!(c.server_state.as_ref().unwrap().booking.is_some(), "the booking already held is shown");

    // Booking-state conflicts: cancelled twice, checked in twice.
    let b1 = match &r.results[6].outcome {
        Outcome::Applied { effects } => (effects.booking_id.clone().unwrap(), effects.ticket_code.clone().unwrap()),
        o => panic!("{o:?}"),
    };
    let b2 = match &r.results[7].outcome {
        Outcome::Applied { effects } => (effects.booking_id.clone().unwrap(), effects.ticket_code.clone().unwrap()),
        o => panic!("{o:?}"),
    };
    let ops = vec![
        d.op(Op::Cancel { booking_id: b1.0.clone(), reason: None }),
        d.op(Op::Cancel { booking_id: b1.0.clone(), reason: None }),
        d.op(Op::CheckIn { booking_id: b2.0.clone(), ticket_code: b2.1.clone() }),
        d.op(Op::CheckIn { booking_id: b2.0.clone(), ticket_code: b2.1.clone() }),
    ];
    let r = s.push(&d, ops).await;
    assert!(matches!(r.results[0].outcome, Outcome::Applied { .. }));
    assert_eq!(conflict_reason(&r.results[1].outcome), "booking_cancelled");
    assert!(matches!(r.results[2].outcome, Outcome::Applied { .. }));
    assert_eq!(conflict_reason(&r.results[3].outcome), "ticket_already_used");

    // slot_ended: a session yesterday.
    let r = s
        .admin_post(
            "/v1/admin/sites/demo/sessions/generate",
            json!({"provider_id": "demo-nk-3", "from": "2026-11-22", "days": 1, "templates": [{
                "weekdays": [7], "period": "evening", "start": "18:00", "end": "19:00",
                "slot_minutes": 30, "per_slot": 4, "desk_per_slot": 2}]}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let ops = vec![d.op(book(&ps[5], SlotId::from("demo-nk-3-20261122-ev-01"), 3, 7))];
    let r = s.push(&d, ops).await;
    assert_eq!(conflict_reason(&r.results[0].outcome), "slot_ended");

    // The rest of the booking rules' reasons, each from its own situation.
    let tomorrow = {
        let op = book(&ps[5], SlotId::from("demo-nk-1-20261124-am-01"), 5, 8);
        let Op::Book { booking_id, ticket_code, .. } = &op else { unreachable!() };
        (booking_id.clone(), ticket_code.clone(), op)
    };
    let mut leased_taken = book(&ps[4], slot(3), 18, 9);
    if let Op::Book { leased, .. } = &mut leased_taken {
        *leased = true;
    }
    let mut leased_online = book(&ps[4], slot(6), 31, 10);
    if let Op::Book { leased, .. } = &mut leased_online {
        *leased = true;
    }
    let mut no_reason = book(&ps[4], slot(7), 41, 11);
    if let Op::Book { overbook_reason, .. } = &mut no_reason {
        *overbook_reason = Some("  ".into());
    }
    let mut again = book(&ps[4], slot(8), 47, 12);
    if let (Op::Book { booking_id, .. }, Op::Book { booking_id: first, .. }) = (&mut again, &tomorrow.2) {
        *booking_id = first.clone();
    }
    let ops = vec![
        d.op(tomorrow.2.clone()),
        d.op(Op::CheckIn { booking_id: tomorrow.0.clone(), ticket_code: tomorrow.1.clone() }),
        d.op(Op::CheckIn { booking_id: b2.0.clone(), ticket_code: ticket(999) }),
        d.op(leased_taken),
        d.op(leased_online),
        d.op(no_reason),
        d.op(again),
    ];
    let r = s.push(&d, ops).await;
    assert!(matches!(r.results[0].outcome, Outcome::Applied { .. }), "{:?}", r.results[0]);
    let reasons: Vec<&str> = r.results[1..].iter().map(|x| conflict_reason(&x.outcome)).collect();
    // A "leased" number this desk was never leased, held by a booking: lost; a leased
    // number outside the desk pool: out of pool.
    assert_eq!(
        reasons,
        [
            "ticket_not_today",
            "ticket_mismatch",
            "lease_lost",
            "queue_number_out_of_pool",
            "overbook_reason_missing",
            "booking_exists"
        ]
    );

    // stale: another desk changed the patient after this desk last pulled.
    let (_, other_cursor) = s.pull_all(&other, 0).await;
    let mut changed = ps[5].clone();
    changed.phone = Some("13900000000".into());
    let r = {
        let ops = vec![d.op(Op::UpdatePatient { patient: changed })];
        s.push(&d, ops).await
    };
    assert!(matches!(r.results[0].outcome, Outcome::Applied { .. }), "{:?}", r.results[0]);
    let mut mine = ps[5].clone();
    mine.name = "另一个名字".into();
    let mut up = other.op(Op::UpdatePatient { patient: mine });
    up.base_cursor = other_cursor;
    let r = s.push(&other, vec![up]).await;
    assert_eq!(conflict_reason(&r.results[0].outcome), "stale");
    let Outcome::Conflict(c) = &r.results[0].outcome else { panic!() };
    assert_eq!(c.server_state.as_ref().unwrap().patient.as_ref().unwrap().phone.as_deref(), Some("13900000000"));
    s.stop().await;
}

async fn pull_after_concurrent_writers_never_skips_a_change(b: Backend) {
    let s = std::sync::Arc::new(TestServer::start(b, |_| {}).await);
    let reader = s.enroll("demo").await;
    let (_, start) = s.pull_all(&reader, 0).await;
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    // Writers: 4 desks pushing and 120 online bookings, all at once.
    let mut writers = Vec::new();
    for w in 0..4u64 {
        let s = s.clone();
        let mut d = s.enroll("demo").await;
        writers.push(tokio::spawn(async move {
            for i in 0..10u64 {
                let p = patient("demo", 10_000 + w * 100 + i);
                let op1 = d.op(Op::RegisterPatient { patient: p.clone() });
                let op2 = d.op(Op::Book {
                    booking_id: BookingId(uuid::Uuid::now_v7().to_string()),
                    patient_id: p.id.clone(),
                    slot_id: SlotId(format!("demo-ek-{}-20261123-am-{:02}", 1 + w % 2, 1 + i % 8)),
                    channel: Channel::Desk,
                    queue_no: 0,
                    leased: false,
                    ticket_code: ticket(50_000 + w * 100 + i),
                    overbook_reason: None,
                });
                s.push(&d, vec![op1, op2]).await;
            }
        }));
    }
    for i in 0..120u64 {
        let s = s.clone();
        writers.push(tokio::spawn(async move {
            let dept = ["NK", "WK", "FK", "KQ"][(i % 4) as usize];
            let body = json!({"patient": frontdesk_central::demo::patient(20_000 + i), "department": dept});
            let r = s.client.post(s.url("/v1/public/sites/demo/bookings")).json(&body).send().await.unwrap();
            assert!(r.status() == 201 || r.status() == 409, "{}", r.status());
        }));
    }
    // The reader pulls small pages all the while.
    let reading = {
        let s = s.clone();
        let done = done.clone();
        tokio::spawn(async move {
            let mut cursor = start;
            let mut seen = HashSet::new();
            let mut last_round = false;
            for _ in 0..100_000 {
                let page = s.pull(&reader, cursor, 7).await;
                for c in &page.changes {
                    assert!(c.cursor > cursor, "cursors only grow");
                    if let Record::Booking(b) = &c.record {
                        seen.insert(b.id.clone());
                    }
                }
                cursor = page.next_cursor;
                if !page.more {
                    if last_round {
                        return (seen, reader);
                    }
                    if done.load(std::sync::atomic::Ordering::SeqCst) {
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
    done.store(true, std::sync::atomic::Ordering::SeqCst);
    let (seen, reader) = reading.await.unwrap();
    let (snapshot, _) = s.pull_all(&reader, 0).await;
    let all: HashSet<BookingId> = bookings(&snapshot).into_iter().map(|b| b.id).collect();
    assert!(all.len() >= 20, "bookings made: {}", all.len());
    let missing: Vec<_> = all.difference(&seen).collect();
    assert!(missing.is_empty(), "the incremental reader missed {missing:?}");
    assert!(bookings(&snapshot).iter().all(|b| b.status == BookingStatus::Booked));
}

crate::on_both!(
    push_applies_and_pull_returns_snapshot_and_changes,
    a_pull_page_is_gzipped_only_for_a_client_that_accepts_it,
    register_same_document_twice_merges,
    replayed_reordered_duplicated_and_split_pushes_reach_the_same_state,
    every_conflict_reason_comes_from_a_real_scenario,
    pull_after_concurrent_writers_never_skips_a_change
);
