//! The public online-booking path under concurrency.

use std::sync::Arc;

use serde_json::{Value, json};

use crate::common::*;

async fn two_hundred_concurrent_bookings_for_five_numbers_book_exactly_five(b: Backend) {
    let s = Arc::new(TestServer::start(b, |_| {}).await);
    // One 4-hour slot of 5 numbers, all online.
    // A site of this back-end's own: the view's metrics are per site, and both back-ends'
    // tests share one process.
    let site: &'static str = match b {
        Backend::Sqlite => "hot-s",
        Backend::Postgres => "hot-p",
    };
    small_site(&s, site, today(), 5, 0, 240).await;
    let slot: &'static str = Box::leak(format!("{site}-nk-1-20261123-am-01").into_boxed_str());
    let mut tasks = Vec::new();
    for i in 0..200u64 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            let body = json!({"patient": frontdesk_central::demo::patient(1_000 + i), "slot_id": slot});
            let r =
                s.client.post(s.url(&format!("/v1/public/sites/{site}/bookings"))).json(&body).send().await.unwrap();
            let status = r.status().as_u16();
            let v: Value = r.json().await.unwrap();
            (status, v)
        }));
    }
    let mut applied = Vec::new();
    let mut full = 0;
    for t in tasks {
        let (status, v) = t.await.unwrap();
        match status {
            201 => applied.push(v["queue_no"].as_u64().unwrap()),
            409 => {
                assert_eq!(v["reason"], "slot_full", "{v}");
                full += 1;
            }
            other => panic!("unexpected {other}: {v}"),
        }
    }
    applied.sort();
    assert_eq!(applied, [1, 2, 3, 4, 5], "exactly five, each number once");
    assert_eq!(full, 195);
    // Availability may come from a view up to a second old: it shows the slot full by then.
    let remaining = async || {
        let a: Value = s
            .client
            .get(s.url(&format!("/v1/public/sites/{site}/availability?date=2026-11-23&department=NK")))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        a["slots"][0]["remaining"].as_u64().unwrap()
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while remaining().await != 0 {
        assert!(std::time::Instant::now() < deadline, "availability never showed the slot full");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }

    // Sold out as far as the view knows: refused from memory with the rules' own answer (the
    // view catches up within a second), and invalid details are still named by the store.
    let refuse = async |i: u64| {
        let body = json!({"patient": frontdesk_central::demo::patient(5_000 + i), "slot_id": slot});
        let r = s.client.post(s.url(&format!("/v1/public/sites/{site}/bookings"))).json(&body).send().await.unwrap();
        assert_eq!(r.status(), 409);
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["reason"], "slot_full", "{v}");
        assert_eq!(v["suggestions"].as_array().map_or(0, Vec::len), 0, "the only slot of the day: nothing to suggest");
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    let mut i = 0;
    while view_answers(&s, "sold_out", site).await < 1.0 {
        assert!(std::time::Instant::now() < deadline, "the view never answered sold out");
        refuse(i).await;
        i += 1;
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let before = view_answers(&s, "sold_out", site).await;
    for k in 0..20 {
        refuse(1_000 + k).await;
    }
    let after = view_answers(&s, "sold_out", site).await;
    assert_eq!(after, before + 20.0, "the sold-out answers came from the view");
    let body = json!({"patient": {"name": "张三", "document_number": "110105194912310021"}, "slot_id": slot});
    let r = s.client.post(s.url(&format!("/v1/public/sites/{site}/bookings"))).json(&body).send().await.unwrap();
    assert_eq!(r.status(), 400, "a bad ID number is named, sold out or not");
    let stored = s.db.sql_i64(&format!("SELECT COUNT(*) FROM bookings WHERE site_id = '{site}'")).await;
    assert_eq!(stored, 5);
}

/// The platform's count of answers its in-memory view gave (`what`: availability, sold_out).
async fn view_answers(s: &TestServer, what: &str, site: &str) -> f64 {
    let text = s.client.get(s.url("/metrics")).send().await.unwrap().text().await.unwrap();
    text.lines()
        .filter(|l| {
            l.starts_with("frontdesk_view_answers_total")
                && l.contains(&format!("what=\"{what}\""))
                && l.contains(&format!("site=\"{site}\""))
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

async fn the_same_patient_booking_concurrently_gets_one_booking(b: Backend) {
    let s = Arc::new(TestServer::start(b, |_| {}).await);
    let mut tasks = Vec::new();
    for i in 0..20u32 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            // Different slots and providers of 内科, the same day, the same person.
            let slot = format!("demo-nk-{}-20261123-am-{:02}", 1 + i % 3, 1 + i % 8);
            let body = json!({"patient": frontdesk_central::demo::patient(77), "slot_id": slot});
            let r = s.client.post(s.url("/v1/public/sites/demo/bookings")).json(&body).send().await.unwrap();
            let status = r.status().as_u16();
            let v: Value = r.json().await.unwrap();
            (status, v)
        }));
    }
    let mut ok = 0;
    for t in tasks {
        let (status, v) = t.await.unwrap();
        match status {
            201 => ok += 1,
            409 => assert_eq!(v["reason"], "patient_already_booked", "{v}"),
            other => panic!("unexpected {other}: {v}"),
        }
    }
    assert_eq!(ok, 1);
    // One patient record too (merged by document).
    let d = s.enroll("demo").await;
    let (all, _) = s.pull_all(&d, 0).await;
    let patients = all.iter().filter(|r| matches!(r, frontdesk_protocol::sync::Record::Patient(_))).count();
    assert_eq!(patients, 1);
}

async fn online_pool_is_separate_from_the_desk_pool_and_cancel_frees_a_number(b: Backend) {
    let s = TestServer::start(b, |_| {}).await;
    // Slot 1 of demo-nk-1: 4 online numbers, 2 desk.
    let slot = "demo-nk-1-20261123-am-01";
    let mut booked = Vec::new();
    for i in 0..5u64 {
        let body = json!({"patient": frontdesk_central::demo::patient(500 + i), "slot_id": slot});
        let r = s.client.post(s.url("/v1/public/sites/demo/bookings")).json(&body).send().await.unwrap();
        let status = r.status().as_u16();
        let v: Value = r.json().await.unwrap();
        if i < 4 {
            assert_eq!(status, 201, "{v}");
            assert!(v["queue_no"].as_u64().unwrap() <= 4, "online numbers come first");
            booked.push(v);
        } else {
            assert_eq!(status, 409);
            assert_eq!(v["reason"], "slot_full");
            assert!(!v["suggestions"].as_array().unwrap().is_empty());
        }
    }
    // The desk pool is untouched: a desk can still book numbers 5 and 6.
    let mut d = s.enroll("demo").await;
    let p = patient("demo", 900);
    let ops = vec![
        d.op(frontdesk_protocol::sync::Op::RegisterPatient { patient: p.clone() }),
        d.op(frontdesk_protocol::sync::Op::Book {
            booking_id: frontdesk_domain::schedule::BookingId(uuid::Uuid::now_v7().to_string()),
            patient_id: p.id.clone(),
            slot_id: slot.into(),
            channel: frontdesk_domain::schedule::Channel::Desk,
            queue_no: 5,
            leased: false,
            ticket_code: ticket(900),
            overbook_reason: None,
        }),
    ];
    let r = s.push(&d, ops).await;
    assert!(matches!(r.results[1].outcome, frontdesk_protocol::sync::Outcome::Applied { .. }), "{:?}", r.results[1]);
    // Cancel with the wrong code: refused; with the right one: the number is free again.
    let id = booked[0]["booking_id"].as_str().unwrap();
    let r = s
        .client
        .post(s.url(&format!("/v1/public/bookings/{id}/cancel")))
        .json(&json!({"ticket_code": ticket(1).as_str()}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let r = s
        .client
        .post(s.url(&format!("/v1/public/bookings/{id}/cancel")))
        .json(&json!({"ticket_code": booked[0]["ticket_code"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body = json!({"patient": frontdesk_central::demo::patient(600), "department": "NK"});
    let r = s.client.post(s.url("/v1/public/sites/demo/bookings")).json(&body).send().await.unwrap();
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["slot_id"], slot, "the earliest bookable slot has a free number again");
    assert_eq!(v["queue_no"], booked[0]["queue_no"]);
    // Invalid patient details are a 400 naming the field.
    let body = json!({"patient": {"name": "张三", "document_number": "11010119900307001X"}, "department": "NK"});
    let r = s.client.post(s.url("/v1/public/sites/demo/bookings")).json(&body).send().await.unwrap();
    assert_eq!(r.status(), 400);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["fields"][0]["field"], "document_number");
    s.stop().await;
}

async fn a_started_slot_is_for_walk_ins_only(b: Backend) {
    let s = TestServer::start_at(b, "2026-11-23T08:10:00+08:00", |_| {}).await;
    let slot = "demo-nk-1-20261123-am-01";
    let body = json!({"patient": frontdesk_central::demo::patient(1), "slot_id": slot});
    let r = s.client.post(s.url("/v1/public/sites/demo/bookings")).json(&body).send().await.unwrap();
    assert_eq!(r.status(), 409);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["reason"], "slot_started");
    assert_eq!(v["suggestions"][0]["start"], "08:30:00", "the next slot is offered");
    // By department: the earliest slot that has not started.
    let body = json!({"patient": frontdesk_central::demo::patient(1), "department": "NK"});
    let v: Value =
        s.client.post(s.url("/v1/public/sites/demo/bookings")).json(&body).send().await.unwrap().json().await.unwrap();
    assert_eq!(v["start"], "08:30:00", "{v}");
    // A walk-in at the desk may still take the current slot.
    let mut d = s.enroll("demo").await;
    let p = patient("demo", 2);
    let ops = vec![
        d.op(frontdesk_protocol::sync::Op::RegisterPatient { patient: p.clone() }),
        d.op(frontdesk_protocol::sync::Op::Book {
            booking_id: frontdesk_domain::schedule::BookingId(uuid::Uuid::now_v7().to_string()),
            patient_id: p.id.clone(),
            slot_id: slot.into(),
            channel: frontdesk_domain::schedule::Channel::Desk,
            queue_no: 5,
            leased: false,
            ticket_code: ticket(2),
            overbook_reason: None,
        }),
    ];
    let r = s.push(&d, ops).await;
    assert!(matches!(r.results[1].outcome, frontdesk_protocol::sync::Outcome::Applied { .. }), "{:?}", r.results[1]);
    s.stop().await;
}

crate::on_both!(
    two_hundred_concurrent_bookings_for_five_numbers_book_exactly_five,
    the_same_patient_booking_concurrently_gets_one_booking,
    online_pool_is_separate_from_the_desk_pool_and_cancel_frees_a_number,
    a_started_slot_is_for_walk_ins_only
);
