//! The waiting room through sync: a check-in joins its session's queue, `queue` ops are decided
//! by the domain's queue rules, and every desk of the site pulls the same queue.

use std::collections::HashMap;

use frontdesk_domain::queue::{QueueAction, QueueEntry, QueueState};
use frontdesk_domain::schedule::{BookingId, Channel, SlotId};
use frontdesk_domain::ticket::TicketCode;
use frontdesk_protocol::sync::{Op, OpEnvelope, Outcome, PullResponse, PushRequest, PushResponse, QueueItem, Record};

use crate::common::*;

/// Slot `n` of 王建国's Monday morning (slot 1 holds numbers 1–6, the desk's 5 and 6).
fn slot(n: u32) -> SlotId {
    SlotId(format!("demo-nk-1-20261123-am-{n:02}"))
}

fn reason(o: &Outcome) -> &str {
    match o {
        Outcome::Conflict(c) => &c.reason,
        other => panic!("expected a conflict, got {other:?}"),
    }
}

fn applied(o: &Outcome) {
    assert!(matches!(o, Outcome::Applied { .. }), "expected applied, got {o:?}");
}

/// Books and checks in patients at the desk numbers given (slot 1: 5, 6; slot 2: 11, 12; …),
/// returning (booking, ticket) per number.
async fn checked_in(
    s: &TestServer,
    d: &mut Device,
    numbers: &[(u32, u32)],
    check_in: bool,
) -> Vec<(BookingId, TicketCode)> {
    let mut ops = Vec::new();
    let mut out = Vec::new();
    for (i, &(slot_no, queue_no)) in numbers.iter().enumerate() {
        let p = patient("demo", 500 + u64::from(queue_no) + 100 * i as u64);
        let booking = BookingId(uuid::Uuid::now_v7().to_string());
        let code = ticket(9_000 + u64::from(queue_no));
        ops.push(d.op(Op::RegisterPatient { patient: p.clone() }));
        ops.push(d.op(Op::Book {
            booking_id: booking.clone(),
            patient_id: p.id.clone(),
            slot_id: slot(slot_no),
            channel: Channel::Desk,
            queue_no,
            leased: false,
            ticket_code: code.clone(),
            overbook_reason: None,
        }));
        out.push((booking, code));
    }
    if check_in {
        for (b, code) in &out {
            ops.push(d.op(Op::CheckIn { booking_id: b.clone(), ticket_code: code.clone() }));
        }
    }
    let r = s.push(d, ops).await;
    for res in &r.results {
        applied(&res.outcome);
    }
    out
}

/// The queue entries of a snapshot, by booking.
async fn queue(s: &TestServer, d: &Device) -> HashMap<BookingId, QueueItem> {
    let (all, _) = s.pull_all(d, 0).await;
    all.into_iter()
        .filter_map(|r| match r {
            Record::QueueEntry(q) => Some((q.entry.booking_id.clone(), q)),
            _ => None,
        })
        .collect()
}

/// The waiting numbers in call order.
fn waiting(q: &HashMap<BookingId, QueueItem>) -> Vec<u32> {
    let mut w: Vec<&QueueEntry> = q.values().map(|i| &i.entry).filter(|e| e.state == QueueState::Waiting).collect();
    w.sort_by_key(|e| e.place);
    w.iter().map(|e| e.queue_no).collect()
}

fn act(d: &mut Device, b: &BookingId, action: QueueAction) -> OpEnvelope {
    d.op(Op::Queue { booking_id: b.clone(), action })
}

/// Pushes one queue op of `d` and answers its outcome.
async fn push_act(s: &TestServer, d: &mut Device, b: &BookingId, action: QueueAction) -> Outcome {
    let op = act(d, b, action);
    s.push(d, vec![op]).await.results.remove(0).outcome
}

async fn calls_are_decided_by_the_queue_rules_and_every_desk_sees_them(b: Backend) {
    let s = TestServer::start(b, |_| {}).await;
    let mut a = s.enroll("demo").await;
    let mut other = s.enroll("demo").await;
    // Checked in out of order: 6, 5, 12, 11. A booking not checked in (slot 3's 17) is not queued.
    let bs = checked_in(&s, &mut a, &[(1, 6), (1, 5), (2, 12), (2, 11)], true).await;
    let not_in = checked_in(&s, &mut a, &[(3, 17)], false).await;
    let by_no = |n: u32| bs.iter().zip([6u32, 5, 12, 11]).find(|(_, m)| *m == n).map(|(b, _)| b.0.clone()).unwrap();

    let q = queue(&s, &other).await;
    assert_eq!(q.len(), 4, "every check-in joined the queue, nothing else did");
    assert_eq!(waiting(&q), [5, 6, 11, 12], "the queue is in queue-number order, not check-in order");
    assert!(q.values().all(|i| i.session_id.as_str() == "demo-nk-1-20261123-am" && i.called_at.is_none()));

    // Desk A calls 5; the other desk, still seeing 5 waiting, calls 5 too: refused.
    let call5 = act(&mut a, &by_no(5), QueueAction::Call);
    let r = s.push(&a, vec![call5.clone()]).await;
    applied(&r.results[0].outcome);
    let Outcome::Applied { effects } = &r.results[0].outcome else { unreachable!() };
    assert_eq!(effects.queue_no, Some(5));
    let r = push_act(&s, &mut other, &by_no(5), QueueAction::Call).await;
    assert_eq!(reason(&r), "not_waiting");
    // The same op again (a lost answer): its first answer, not a second call.
    let r = s.push(&a, vec![call5]).await;
    assert!(matches!(r.results[0].outcome, Outcome::Duplicate { .. }), "{:?}", r.results[0].outcome);
    let q = queue(&s, &other).await;
    let five = &q[&by_no(5)];
    assert_eq!((five.entry.state, five.entry.calls), (QueueState::Called, 1), "called once, not twice");
    assert!(five.called_at.is_some());

    // The other desk calls 6: 5 is done (seen). Recall 6 twice; skip: 6 waits again behind
    // the next waiting patients (11, 12: fewer than three, so at the end).
    for (action, expect) in [(QueueAction::Call, 1), (QueueAction::Recall, 2), (QueueAction::Recall, 3)] {
        let r = push_act(&s, &mut other, &by_no(6), action).await;
        applied(&r);
        assert_eq!(queue(&s, &a).await[&by_no(6)].entry.calls, expect);
    }
    let q = queue(&s, &a).await;
    assert_eq!(q[&by_no(5)].entry.state, QueueState::Seen, "calling the next one ends the last");
    let r = push_act(&s, &mut other, &by_no(6), QueueAction::Skip).await;
    applied(&r);
    let q = queue(&s, &a).await;
    assert_eq!(q[&by_no(6)].entry.state, QueueState::NoShow, "three calls unanswered: a no-show");
    assert_eq!(waiting(&q), [11, 12]);

    // Refusals, each with the queue rules' code.
    let ops = vec![
        act(&mut a, &by_no(11), QueueAction::Seen),
        act(&mut a, &by_no(11), QueueAction::Recall),
        act(&mut a, &not_in[0].0, QueueAction::Call),
        act(&mut a, &BookingId("no-such-booking".into()), QueueAction::Call),
        act(&mut a, &by_no(6), QueueAction::ToEnd),
    ];
    let r = s.push(&a, ops).await;
    let reasons: Vec<&str> = r.results.iter().map(|r| reason(&r.outcome)).collect();
    assert_eq!(reasons, ["not_called", "not_called", "not_in_queue", "not_found", "not_waiting"]);

    // 11 goes to the end; 12 is called, skipped once: it waits again, at the end (one waits).
    let r = push_act(&s, &mut a, &by_no(11), QueueAction::ToEnd).await;
    applied(&r);
    assert_eq!(waiting(&queue(&s, &a).await), [12, 11]);
    let ops = vec![act(&mut a, &by_no(12), QueueAction::Call), act(&mut a, &by_no(12), QueueAction::Skip)];
    for r in s.push(&a, ops).await.results {
        applied(&r.outcome);
    }
    let q = queue(&s, &other).await;
    assert_eq!(waiting(&q), [11, 12], "a skipped patient waits again behind the next ones");
    assert_eq!(q[&by_no(12)].entry.calls, 1);

    // A desk of another site cannot touch this site's queue.
    s.admin_post("/v1/admin/sites", serde_json::json!({"id": "east", "name": "east", "timezone": "Asia/Shanghai"}))
        .await;
    let mut east = s.enroll("east").await;
    let r = push_act(&s, &mut east, &by_no(11), QueueAction::Call).await;
    assert_eq!(reason(&r), "not_found");
    assert!(queue(&s, &east).await.is_empty(), "another site's desks are not sent the queue");
    s.stop().await;
}

async fn protocol_2_desks_are_served_the_log_without_queue_entries(b: Backend) {
    let s = TestServer::start(b, |_| {}).await;
    let mut a = s.enroll("demo").await;
    let start = s.pull_all(&a, 0).await.1;
    checked_in(&s, &mut a, &[(1, 5)], true).await;
    let r = s
        .client
        .get(s.url(&format!("/v1/sync/pull?cursor={start}&limit=5000")))
        .bearer_auth(&a.token)
        .header("x-frontdesk-protocol", "2")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let page: PullResponse = r.json().await.unwrap();
    assert_eq!(page.protocol, 2);
    assert!(page.changes.iter().any(|c| matches!(&c.record, Record::Booking(_))));
    assert!(!page.changes.iter().any(|c| matches!(c.record, Record::QueueEntry(_))), "no queue entries for protocol 2");
    let now = s.pull(&a, start, 5000).await;
    assert!(now.changes.iter().any(|c| matches!(c.record, Record::QueueEntry(_))), "protocol 3 gets them");
    assert_eq!(page.next_cursor, now.next_cursor, "the cursor still moves past them");
    s.stop().await;
}

/// Desks push calls on one queue at the same moment: one call per patient, however many
/// desks try, and no two late arrivals share a place.
async fn concurrent_calls_and_late_check_ins_take_turns(b: Backend) {
    let s = TestServer::start(b, |_| {}).await;
    let mut a = s.enroll("demo").await;
    let bs = checked_in(&s, &mut a, &[(1, 5), (4, 24)], true).await;
    // Late arrivals (过号): checked in after 24 was called, concurrently from many desks, while
    // they all call 5.
    let late = checked_in(&s, &mut a, &[(1, 6), (2, 11), (2, 12), (3, 17), (3, 18), (4, 23)], false).await;
    let r = push_act(&s, &mut a, &bs[1].0, QueueAction::Call).await;
    applied(&r);
    let mut desks = Vec::new();
    for _ in 0..6 {
        desks.push(s.enroll("demo").await);
    }
    let mut tasks = tokio::task::JoinSet::new();
    for (i, (d, (booking, code))) in desks.iter_mut().zip(&late).enumerate() {
        let call = act(d, &bs[0].0, QueueAction::Call);
        let check_in = d.op(Op::CheckIn { booking_id: booking.clone(), ticket_code: code.clone() });
        let req = PushRequest {
            protocol: frontdesk_protocol::PROTOCOL_VERSION,
            device_id: d.id.clone(),
            ops: vec![call, check_in],
        };
        let (client, url, token) = (s.client.clone(), s.url("/v1/sync/push"), d.token.clone());
        tasks.spawn(async move {
            let r = client.post(url).bearer_auth(token).json(&req).send().await.unwrap();
            assert_eq!(r.status(), 200);
            (i, r.json::<PushResponse>().await.unwrap())
        });
    }
    let answers: Vec<PushResponse> = tasks.join_all().await.into_iter().map(|(_, r)| r).collect();
    let called = answers.iter().filter(|r| matches!(r.results[0].outcome, Outcome::Applied { .. })).count();
    assert_eq!(called, 1, "one desk's call of number 5 is applied, the others are refused");
    for r in &answers {
        applied(&r.results[1].outcome);
        if !matches!(r.results[0].outcome, Outcome::Applied { .. }) {
            assert_eq!(reason(&r.results[0].outcome), "not_waiting");
        }
    }
    let q = queue(&s, &a).await;
    assert_eq!(q[&bs[0].0].entry.calls, 1);
    let mut places: Vec<_> = q.values().map(|i| i.entry.place).collect();
    places.sort();
    places.dedup();
    assert_eq!(places.len(), q.len(), "every entry has a place of its own");
    assert_eq!(waiting(&q).len(), 6, "every late arrival waits");
    assert!(
        q.values().filter(|i| i.entry.state == QueueState::Waiting).all(|i| i.entry.place.seq > 0),
        "late arrivals wait behind the head, not at their own number"
    );
    s.stop().await;
}

/// A waiting-room display PC enrolls with a display code: it reads the board (pull, live
/// waits) and can do nothing else, and it never holds leases.
async fn a_display_device_reads_the_board_and_nothing_else(b: Backend) {
    let s = TestServer::start(b, |_| {}).await;
    let mut desk = s.enroll("demo").await;
    let r = s.admin_post("/v1/admin/sites/demo/enroll-codes", serde_json::json!({"role": "display"})).await;
    assert_eq!(r.status(), 200);
    let code: serde_json::Value = r.json().await.unwrap();
    assert_eq!(code["role"], "display");
    let r = s
        .client
        .post(s.url("/v1/devices/enroll"))
        .json(&serde_json::json!({"code": code["code"], "name": "候诊大厅"}))
        .send()
        .await
        .unwrap();
    let e: frontdesk_protocol::enroll::EnrollResponse = r.json().await.unwrap();
    assert_eq!(e.role, frontdesk_protocol::enroll::DeviceRole::Display);
    let mut display = Device { id: e.device_id, site: e.site.id, token: e.token, seq: 0 };

    checked_in(&s, &mut desk, &[(1, 5)], true).await;
    let q = queue(&s, &display).await;
    assert_eq!(waiting(&q), [5], "the display reads the site's queue");
    let r =
        s.client.get(s.url("/v1/sync/wait?cursor=0&timeout_ms=100")).bearer_auth(&display.token).send().await.unwrap();
    assert_eq!(r.status(), 200, "and waits on the live board");

    // Anything that changes something is refused, with the same code every time.
    let op = act(&mut display, q.keys().next().unwrap(), QueueAction::Call);
    let req =
        PushRequest { protocol: frontdesk_protocol::PROTOCOL_VERSION, device_id: display.id.clone(), ops: vec![op] };
    let r = s.client.post(s.url("/v1/sync/push")).bearer_auth(&display.token).json(&req).send().await.unwrap();
    assert_eq!(r.status(), 403);
    assert_eq!(r.json::<serde_json::Value>().await.unwrap()["code"], "forbidden_role");
    let lease = frontdesk_protocol::sync::LeaseRequest {
        protocol: frontdesk_protocol::PROTOCOL_VERSION,
        device_id: display.id.clone(),
        top_up: true,
        give_back: vec![],
    };
    let r = s.client.post(s.url("/v1/sync/leases")).bearer_auth(&display.token).json(&lease).send().await.unwrap();
    assert_eq!(r.status(), 403);
    assert_eq!(r.json::<serde_json::Value>().await.unwrap()["code"], "forbidden_role");
    assert_eq!(waiting(&queue(&s, &desk).await), [5], "nothing changed");

    // A site's lease split counts its desks, never its displays.
    let r = s
        .client
        .put(s.url("/v1/admin/sites/demo/lease-policy"))
        .bearer_auth(ADMIN_TOKEN)
        .json(&serde_json::to_value(frontdesk_domain::lease::LeasePolicy::default()).unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap_or_default());
    assert_eq!(s.admin_post("/v1/admin/leases/round", serde_json::json!({})).await.status(), 200);
    let (all, _) = s.pull_all(&display, 0).await;
    let holders: std::collections::HashSet<String> = all
        .iter()
        .filter_map(|r| match r {
            Record::Lease(l) => Some(l.device_id.to_string()),
            _ => None,
        })
        .collect();
    assert_eq!(holders.into_iter().collect::<Vec<_>>(), [desk.id.to_string()], "only the desk holds leases");
    let devices: serde_json::Value = s.admin_get("/v1/admin/devices").await.json().await.unwrap();
    let roles: Vec<&str> = devices["devices"].as_array().unwrap().iter().map(|d| d["role"].as_str().unwrap()).collect();
    assert_eq!(roles, ["desk", "display"]);
    s.stop().await;
}

crate::on_both!(
    a_display_device_reads_the_board_and_nothing_else,
    calls_are_decided_by_the_queue_rules_and_every_desk_sees_them,
    protocol_2_desks_are_served_the_log_without_queue_entries,
    concurrent_calls_and_late_check_ins_take_turns,
);
