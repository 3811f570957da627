//! The waiting room on the desk engine (docs/SYNC.md, "The waiting room"): check-in joins the
//! queue, calls and the other actions with the platform's rules, refusals, the queue ops in the
//! outbox, rebase of pending calls over pulled entries, refused calls as notices — and the
//! `frontdesk queue` commands. The platform's answers and pulled pages are given as data here;
//! tests/tests/queue.rs runs the same against a real platform process.
// Test helpers panic on unexpected failures: that is how a test reports them.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;

use frontdesk_desk::sync::Resolution;
use frontdesk_desk::{BookTarget, Desk, DeskError, ErrorClass, QueueEntryView, REPLICA_FILE, SessionQueueView};
use frontdesk_domain::Lang;
use frontdesk_domain::booking::{Booking, BookingStatus};
use frontdesk_domain::clock::ManualClock;
use frontdesk_domain::patient::{Patient, PatientInput};
use frontdesk_domain::queue::{Place, QueueAction, QueueEntry, QueueState};
use frontdesk_domain::schedule::{BookingId, Channel, PatientId, SessionId, SlotId};
use frontdesk_domain::ticket::TicketCode;
use frontdesk_protocol::sync::{
    Change, Conflict, Effects, Op, OpResult, Outcome, PullResponse, PushResponse, QueueItem, Record,
};
use jiff::{SignedDuration, Timestamp};

/// 王建国 (内科, room 1)'s morning on the demo day: slot k holds numbers 6k−5 … 6k, the last two
/// for desks.
const SESSION: &str = "demo-nk-1-20261123-am";

fn slot(k: u32) -> SlotId {
    SlotId(format!("{SESSION}-{k:02}"))
}

fn session() -> SessionId {
    SessionId::from(SESSION)
}

struct TestDesk {
    _dir: tempfile::TempDir,
    desk: Desk,
    clock: Arc<ManualClock>,
}

/// A demo desk at 07:30 on Monday 2026-11-23 in Shanghai.
fn desk() -> TestDesk {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(common::NOW.parse::<Timestamp>().unwrap()));
    let mut desk = Desk::open(&dir.path().join(REPLICA_FILE), clock.clone()).unwrap();
    desk.initialize(Some("nurse")).unwrap();
    // Signed in as an admin of this desk: every change asks who is signed in.
    desk.add_staff("nurse", "nurse", frontdesk_desk::staff::Role::Admin, "password", frontdesk_domain::Lang::En)
        .unwrap();
    desk.sign_in("nurse", "password", frontdesk_domain::Lang::En).unwrap();
    desk.seed_demo().unwrap();
    TestDesk { _dir: dir, desk, clock }
}

fn register(desk: &mut Desk, name: &str, n: u16) -> Patient {
    desk.register_patient(
        &PatientInput { name: name.into(), document_number: common::doc(n), ..PatientInput::default() },
        Lang::Zh,
    )
    .unwrap()
}

/// Registers patient `n`, books them into slot `k` of the session and checks them in, a minute
/// later on the desk's clock; the booking.
fn arrive(t: &mut TestDesk, name: &str, n: u16, k: u32) -> Booking {
    let p = register(&mut t.desk, name, n);
    let b = t.desk.book(&p.id, &BookTarget::Slot(slot(k))).unwrap();
    t.clock.advance(SignedDuration::from_secs(60));
    t.desk.check_in(b.booking.ticket_code.as_str()).unwrap();
    b.booking
}

fn q(t: &TestDesk) -> SessionQueueView {
    t.desk.queue(&session()).unwrap()
}

fn numbers(entries: &[QueueEntryView]) -> Vec<u32> {
    entries.iter().map(|e| e.queue_no).collect()
}

fn called_no(t: &TestDesk) -> Option<u32> {
    q(t).called.map(|c| c.queue_no)
}

fn entry<'a>(view: &'a SessionQueueView, b: &Booking) -> &'a QueueEntryView {
    view.called
        .iter()
        .chain(&view.waiting)
        .chain(&view.done)
        .find(|e| e.booking_id == b.id)
        .unwrap_or_else(|| panic!("{} is not in the queue", b.id))
}

fn queue_error(e: DeskError) -> &'static str {
    assert_eq!(e.class(), ErrorClass::Refused, "{e}");
    assert!(matches!(e, DeskError::Queue(_)), "{e}");
    assert!(!e.message(Lang::Zh).is_empty() && !e.message(Lang::En).is_empty());
    e.code()
}

/// The platform's answer to the whole outbox: `outcomes` in order.
fn answer(desk: &Desk, outcomes: Vec<Outcome>) -> PushResponse {
    let batch = desk.push_batch(500, 1 << 20).unwrap().unwrap();
    assert_eq!(batch.ops.len(), outcomes.len(), "{:?}", batch.ops.iter().map(|o| o.op.kind()).collect::<Vec<_>>());
    let results: Vec<OpResult> = batch
        .ops
        .iter()
        .zip(outcomes)
        .map(|(op, outcome)| OpResult { op_id: op.op_id, seq: op.seq, outcome })
        .collect();
    PushResponse { acked_seq: batch.ops.last().unwrap().seq, results }
}

fn applied(cursor: u64) -> Outcome {
    Outcome::Applied { effects: Effects { cursor, ..Effects::default() } }
}

fn conflict(reason: &str) -> Outcome {
    Outcome::Conflict(Conflict {
        reason: reason.into(),
        message: reason.into(),
        server_state: None,
        suggestions: vec![],
    })
}

fn page(changes: Vec<Record>, next: u64) -> PullResponse {
    PullResponse {
        protocol: 3,
        changes: changes
            .into_iter()
            .enumerate()
            .map(|(i, record)| Change { cursor: next - 50 + i as u64, record })
            .collect(),
        next_cursor: next,
        more: false,
        server_now: None,
    }
}

/// The platform's entry of a booking (the record a pull brings).
fn item(b: &Booking, state: QueueState, calls: u32, place: Place, called: bool) -> Record {
    let t: Timestamp = "2026-11-23T00:00:00Z".parse().unwrap();
    Record::QueueEntry(QueueItem {
        site_id: "demo".into(),
        session_id: b.session_id.clone(),
        entry: QueueEntry { booking_id: b.id.clone(), queue_no: b.queue_no, state, calls, place },
        joined_at: t,
        called_at: called.then_some(t),
    })
}

fn at(n: u32) -> Place {
    Place { after: n, seq: 0 }
}

/// A booking another desk made and checked in (as the platform sends it).
fn other_desks_booking(id: &str, patient: &PatientId, k: u32, queue_no: u32) -> Booking {
    Booking {
        id: BookingId::from(id),
        site_id: "demo".into(),
        patient_id: patient.clone(),
        slot_id: slot(k),
        session_id: session(),
        department_id: "demo-nk".into(),
        date: jiff::civil::date(2026, 11, 23),
        queue_no,
        channel: Channel::Online,
        status: BookingStatus::CheckedIn,
        ticket_code: TicketCode::from_random(u64::from(queue_no) * 7919),
        overbook_reason: None,
    }
}

#[test]
fn a_check_in_joins_the_queue_at_its_number_in_the_same_transaction_as_its_op() {
    let mut t = desk();
    let c = arrive(&mut t, "张三丰", 1, 3);
    let a = arrive(&mut t, "李四", 2, 1);
    let b = arrive(&mut t, "王五", 3, 2);
    assert_eq!((a.queue_no, b.queue_no, c.queue_no), (5, 11, 17));
    let view = q(&t);
    assert_eq!(numbers(&view.waiting), [5, 11, 17], "call order is queue-number order, not arrival order");
    assert!(view.called.is_none() && view.done.is_empty());
    assert_eq!((view.department_code.as_str(), view.room), ("NK", Some(1)));
    assert_eq!((view.department_name.as_str(), view.department_name_en.as_str()), ("内科", "Internal Medicine"));
    assert_eq!(view.provider_name, "王建国");
    let first = &view.waiting[0];
    assert_eq!(first.patient_name_masked, "李*", "names on a shared screen are masked");
    assert_eq!(entry(&view, &c).patient_name_masked, "张*丰");
    assert_eq!(first.ticket_code.as_ref(), Some(&a.ticket_code));
    assert_eq!((first.state, first.calls, first.place), (QueueState::Waiting, 0, at(5)));
    assert!(first.predicted, "only predicted until the platform sends it back");
    assert_eq!(first.joined_at, "2026-11-22T23:32:00Z".parse::<Timestamp>().unwrap(), "joined when checked in");
    let kinds: Vec<String> = t.desk.outbox().unwrap().into_iter().map(|o| o.kind).collect();
    assert_eq!(kinds.iter().filter(|k| *k == "check_in").count(), 3);
    // A booking not checked in is not in the queue.
    let p = register(&mut t.desk, "赵六", 4);
    let d = t.desk.book(&p.id, &BookTarget::Slot(slot(4))).unwrap();
    assert_eq!(queue_error(t.desk.queue_act(&d.booking.id, QueueAction::Call).unwrap_err()), "not_in_queue");
    assert_eq!(q(&t).waiting.len(), 3);
}

#[test]
fn call_next_calls_in_order_and_the_patient_called_before_is_seen() {
    let mut t = desk();
    let a = arrive(&mut t, "甲", 1, 1);
    let b = arrive(&mut t, "乙", 2, 2);
    let outcome = t.desk.call_next(&session()).unwrap();
    assert_eq!(outcome.booking_id, a.id);
    assert_eq!(outcome.action, QueueAction::Call);
    let call = outcome.call.clone().unwrap();
    assert_eq!((call.queue_no, call.call, call.department_code.as_str(), call.room), (5, 1, "NK", Some(1)));
    let said = frontdesk_domain::announce::clips(&call.announcement(), frontdesk_domain::announce::Voices::Mandarin);
    assert!(said.iter().any(|c| c.0 == "zh/dept_NK") && said.iter().any(|c| c.0 == "zh/zhenshi"), "{said:?}");
    assert_eq!(t.desk.announcement(&a.id).unwrap(), call, "the same announcement again, e.g. for the display");
    assert_eq!(called_no(&t), Some(5));
    assert!(q(&t).called.unwrap().called_at.is_some());

    let outcome = t.desk.call_next(&session()).unwrap();
    assert_eq!(outcome.booking_id, b.id);
    assert_eq!(numbers(&outcome.changed), [11, 5], "the called one first, then the one called before");
    let view = q(&t);
    assert_eq!(called_no(&t), Some(11));
    assert_eq!(entry(&view, &a).state, QueueState::Seen);
    assert!(view.waiting.is_empty());
    assert_eq!(queue_error(t.desk.call_next(&session()).unwrap_err()), "nobody_waiting");
    let e = t.desk.call_next(&SessionId::from("no-such-session")).unwrap_err();
    assert_eq!(e.code(), "not_found");
}

#[test]
fn recall_counts_calls_and_seen_ends_the_call() {
    let mut t = desk();
    let a = arrive(&mut t, "甲", 1, 1);
    t.desk.queue_act(&a.id, QueueAction::Call).unwrap();
    let r1 = t.desk.queue_act(&a.id, QueueAction::Recall).unwrap();
    let r2 = t.desk.queue_act(&a.id, QueueAction::Recall).unwrap();
    assert_eq!((r1.call.unwrap().call, r2.call.unwrap().call), (2, 3));
    assert_eq!(entry(&q(&t), &a).calls, 3);
    let seen = t.desk.queue_act(&a.id, QueueAction::Seen).unwrap();
    assert!(seen.call.is_none());
    assert_eq!(seen.changed[0].state, QueueState::Seen);
    assert!(q(&t).called.is_none());
    assert_eq!(queue_error(t.desk.queue_act(&a.id, QueueAction::Recall).unwrap_err()), "not_called");
}

#[test]
fn a_skipped_patient_waits_three_places_on_and_is_a_no_show_after_the_third_call() {
    let mut t = desk();
    let people: Vec<Booking> = (1..=5).map(|k| arrive(&mut t, &format!("患者{k}"), k as u16, k)).collect();
    let nos: Vec<u32> = people.iter().map(|b| b.queue_no).collect();
    assert_eq!(nos, [5, 11, 17, 23, 29]);
    let a = &people[0];
    t.desk.call_next(&session()).unwrap();
    let skipped = t.desk.queue_act(&a.id, QueueAction::Skip).unwrap();
    assert_eq!(skipped.changed[0].state, QueueState::Waiting);
    assert_eq!(numbers(&q(&t).waiting), [11, 17, 23, 5, 29], "behind the next three waiting");
    assert!(q(&t).called.is_none());
    // Called again (2nd call) and skipped again, then the 3rd call unanswered: a no-show.
    t.desk.queue_act(&a.id, QueueAction::Call).unwrap();
    assert_eq!(entry(&q(&t), a).calls, 2);
    t.desk.queue_act(&a.id, QueueAction::Skip).unwrap();
    assert_eq!(numbers(&q(&t).waiting), [11, 17, 23, 5, 29], "the first skipped is the first back");
    t.desk.queue_act(&a.id, QueueAction::Call).unwrap();
    let last = t.desk.queue_act(&a.id, QueueAction::Skip).unwrap();
    assert_eq!((last.changed[0].state, last.changed[0].calls), (QueueState::NoShow, 3));
    let view = q(&t);
    assert_eq!(numbers(&view.waiting), [11, 17, 23, 29]);
    assert_eq!(entry(&view, a).state, QueueState::NoShow);
    assert_eq!(numbers(&view.done), [5]);
}

#[test]
fn to_end_moves_a_waiting_patient_behind_everyone() {
    let mut t = desk();
    let people: Vec<Booking> = (1..=3).map(|k| arrive(&mut t, &format!("患者{k}"), k as u16, k)).collect();
    let moved = t.desk.queue_act(&people[0].id, QueueAction::ToEnd).unwrap();
    assert!(moved.call.is_none());
    assert_eq!(numbers(&q(&t).waiting), [11, 17, 5]);
    t.desk.call_next(&session()).unwrap();
    assert_eq!(called_no(&t), Some(11));
    // Only a waiting patient can be moved or called.
    assert_eq!(queue_error(t.desk.queue_act(&people[1].id, QueueAction::ToEnd).unwrap_err()), "not_waiting");
    assert_eq!(queue_error(t.desk.queue_act(&people[1].id, QueueAction::Call).unwrap_err()), "not_waiting");
}

#[test]
fn refusals_write_nothing_and_carry_stable_codes_and_both_languages() {
    let mut t = desk();
    let a = arrive(&mut t, "甲", 1, 1);
    let b = arrive(&mut t, "乙", 2, 2);
    t.desk.queue_act(&a.id, QueueAction::Call).unwrap();
    let before = t.desk.outbox().unwrap().len();
    let view = q(&t);
    for (booking, action, code) in [
        (&b.id, QueueAction::Recall, "not_called"),
        (&b.id, QueueAction::Skip, "not_called"),
        (&b.id, QueueAction::Seen, "not_called"),
        (&a.id, QueueAction::Call, "not_waiting"),
        (&a.id, QueueAction::ToEnd, "not_waiting"),
    ] {
        let e = t.desk.queue_act(booking, action).unwrap_err();
        assert_eq!(queue_error(e), code, "{action:?}");
    }
    let e = t.desk.queue_act(&b.id, QueueAction::Recall).unwrap_err();
    assert_eq!(e.message(Lang::Zh), "该患者不是当前叫到的患者");
    assert_eq!(e.message(Lang::En), "The patient is not the one being called");
    let e = t.desk.queue_act(&BookingId::from("nobody"), QueueAction::Call).unwrap_err();
    assert_eq!((e.code(), e.class()), ("not_found", ErrorClass::Invalid));
    assert_eq!(t.desk.outbox().unwrap().len(), before, "a refusal appends no op");
    assert_eq!(q(&t), view, "and changes nothing");
}

#[test]
fn queue_ops_are_in_the_outbox_depending_on_this_desk_s_pending_ops_about_the_booking() {
    let mut t = desk();
    let a = arrive(&mut t, "甲", 1, 1);
    let b = arrive(&mut t, "乙", 2, 2);
    t.desk.call_next(&session()).unwrap();
    t.desk.queue_act(&a.id, QueueAction::Recall).unwrap();
    let outbox = t.desk.outbox().unwrap();
    let kinds: Vec<&str> = outbox.iter().map(|o| o.kind.as_str()).collect();
    assert_eq!(
        kinds,
        ["register_patient", "book", "check_in", "register_patient", "book", "check_in", "queue", "queue"]
    );
    let seq_of = |kind: &str, subject: &BookingId| {
        outbox.iter().find(|o| o.kind == kind && o.subject == subject.as_str()).unwrap().envelope.op_id
    };
    let call = &outbox[6];
    assert_eq!(call.subject, a.id.as_str());
    assert!(matches!(&call.envelope.op, Op::Queue { booking_id, action: QueueAction::Call } if booking_id == &a.id));
    assert_eq!(call.envelope.depends_on, [seq_of("book", &a.id), seq_of("check_in", &a.id)], "on its check-in");
    assert_eq!(call.envelope.staff_id.as_str(), "nurse");
    let recall = &outbox[7];
    assert!(matches!(&recall.envelope.op, Op::Queue { action: QueueAction::Recall, .. }));
    assert_eq!(recall.envelope.depends_on.last(), Some(&call.envelope.op_id), "a recall stands on its call");
    assert!(recall.envelope.hlc > call.envelope.hlc && recall.envelope.seq == call.envelope.seq + 1);

    // Once the platform applied everything, a new queue op depends on nothing.
    let resp = answer(&t.desk, (0..8).map(|i| applied(100 + i)).collect());
    t.desk.apply_push(&resp).unwrap();
    let next = t.desk.queue_act(&a.id, QueueAction::Seen).unwrap();
    assert_eq!(next.booking_id, a.id);
    let outbox = t.desk.outbox().unwrap();
    assert_eq!(outbox.len(), 1);
    assert!(outbox[0].envelope.depends_on.is_empty());
    assert_eq!(outbox[0].envelope.base_cursor, 0);
    let _ = b;
}

/// Settles the outbox as applied (effects at positions from `cursor` on) and pulls `records`
/// with the cursor after them.
fn settle_and_pull(t: &mut TestDesk, cursor: u64, records: Vec<Record>) {
    let n = t.desk.outbox().unwrap().len() as u64;
    if n > 0 {
        let resp = answer(&t.desk, (0..n).map(|i| applied(cursor + i)).collect());
        t.desk.apply_push(&resp).unwrap();
    }
    t.desk.apply_pull(&page(records, cursor + 50)).unwrap();
}

#[test]
fn a_pending_call_stays_on_top_of_pulled_entries_and_is_confirmed_when_pulled() {
    let mut t = desk();
    let a = arrive(&mut t, "甲", 1, 1);
    let b = arrive(&mut t, "乙", 2, 3);
    // The platform confirms both check-ins.
    settle_and_pull(
        &mut t,
        100,
        vec![item(&a, QueueState::Waiting, 0, at(5), false), item(&b, QueueState::Waiting, 0, at(17), false)],
    );
    assert!(q(&t).waiting.iter().all(|e| !e.predicted));
    // This desk calls 甲 (pending); meanwhile another desk's patient (number 11) checked in.
    t.desk.call_next(&session()).unwrap();
    let other = register(&mut t.desk, "丙", 3);
    let c = other_desks_booking("other-desk-booking", &other.id, 2, 11);
    t.desk
        .apply_pull(&page(vec![Record::Booking(c.clone()), item(&c, QueueState::Waiting, 0, at(11), false)], 200))
        .unwrap();
    let view = q(&t);
    assert_eq!(view.called.as_ref().map(|e| (e.queue_no, e.predicted)), Some((5, true)), "the pending call stays");
    assert_eq!(numbers(&view.waiting), [11, 17], "the other desk's patient in its place");
    assert!(!entry(&view, &c).predicted);
    // Applied: still shown as called until the pull brings the platform's entry …
    let resp = answer(&t.desk, vec![applied(250), applied(251)]);
    t.desk.apply_push(&resp).unwrap();
    assert!(t.desk.outbox().unwrap().is_empty());
    assert_eq!(q(&t), view, "an applied call does not flicker back before it is pulled");
    // … which confirms it.
    t.desk.apply_pull(&page(vec![item(&a, QueueState::Called, 1, at(5), true)], 260)).unwrap();
    let view = q(&t);
    assert_eq!(view.called.as_ref().map(|e| (e.queue_no, e.calls, e.predicted)), Some((5, 1, false)));
    assert_eq!(numbers(&view.waiting), [11, 17]);
    // The digest covers the platform's queue.
    assert!(t.desk.replica_digest().unwrap().ends_with("queue=3"), "{}", t.desk.replica_digest().unwrap());
}

#[test]
fn a_pending_check_in_rejoins_after_a_pull_and_a_renumbered_booking_joins_at_its_new_number() {
    let mut t = desk();
    let a = arrive(&mut t, "甲", 1, 1);
    // A pulled page with the other desk's booking of number 5 (a clash): 甲's pending booking
    // takes the next free desk number of the slot, and its pending check-in joins with it.
    let other = register(&mut t.desk, "丙", 3);
    let c = other_desks_booking("other-desk-booking", &other.id, 1, 5);
    t.desk
        .apply_pull(&page(vec![Record::Booking(c.clone()), item(&c, QueueState::Waiting, 0, at(5), false)], 100))
        .unwrap();
    let renumbered = t.desk.booking(&a.id).unwrap().booking.queue_no;
    assert_eq!(renumbered, 6);
    let view = q(&t);
    assert_eq!(numbers(&view.waiting), [5, 6]);
    assert!(entry(&view, &a).predicted && !entry(&view, &c).predicted);
}

#[test]
fn a_pulled_state_that_contradicts_a_pending_call_wins_and_the_nurse_gets_a_notice() {
    let mut t = desk();
    let a = arrive(&mut t, "甲", 1, 1);
    let b = arrive(&mut t, "乙", 2, 2);
    settle_and_pull(
        &mut t,
        100,
        vec![item(&a, QueueState::Waiting, 0, at(5), false), item(&b, QueueState::Waiting, 0, at(11), false)],
    );
    // Offline, this desk calls 甲; another desk called 甲 and then 乙 meanwhile.
    t.desk.call_next(&session()).unwrap();
    assert_eq!(called_no(&t), Some(5));
    t.desk
        .apply_pull(&page(
            vec![item(&a, QueueState::Seen, 1, at(5), true), item(&b, QueueState::Called, 1, at(11), true)],
            200,
        ))
        .unwrap();
    let view = q(&t);
    assert_eq!(view.called.as_ref().map(|e| (e.queue_no, e.predicted)), Some((11, false)), "the platform's call");
    assert_eq!(entry(&view, &a).state, QueueState::Seen);
    assert!(!entry(&view, &a).predicted, "the pending call no longer applies: nothing predicted");
    // The platform refuses the call: no prediction left, a notice for the nurse.
    let resp = answer(&t.desk, vec![conflict("not_waiting")]);
    let summary = t.desk.apply_push(&resp).unwrap();
    assert_eq!((summary.conflicts, summary.notices), (0, 1), "a notice, not a conflict to resolve");
    assert!(t.desk.outbox().unwrap().is_empty());
    assert_eq!(q(&t).called.map(|e| e.queue_no), Some(11));
    let inbox = t.desk.conflicts(false, Lang::Zh).unwrap();
    assert_eq!(inbox.len(), 1);
    let n = &inbox[0];
    assert!(n.informational, "nothing to resolve");
    assert_eq!((n.kind.as_str(), n.reason.as_str(), n.queue_no), ("queue", "not_waiting", Some(5)));
    assert_eq!(n.title, "叫号未生效");
    assert!(n.explanation.starts_with("5 号") && n.explanation.contains("队列已变化"), "{}", n.explanation);
    assert_eq!(n.patient_name.as_deref(), Some("甲"));
    assert_eq!(n.booking_id.as_ref(), Some(&a.id));
    let en = t.desk.conflicts(false, Lang::En).unwrap();
    assert_eq!(en[0].title, "The call was not made");
    assert!(en[0].explanation.contains("The queue changed"), "{}", en[0].explanation);
    let status = t.desk.sync_status().unwrap();
    assert_eq!((status.open_conflicts, status.open_notices), (0, 1), "a notice is not a conflict to resolve");
    let notices = q(&t).notices;
    assert_eq!(notices.len(), 1);
    assert_eq!((notices[0].conflict_id, notices[0].action), (n.id, QueueAction::Call));
    assert_eq!(notices[0].message(Lang::En), en[0].explanation);
    // Only dismissed, never rebooked.
    let e = t.desk.resolve_conflict(n.id, &Resolution::Cancel, Lang::En).unwrap_err();
    assert_eq!(e.code(), "invalid_input");
    t.desk.resolve_conflict(n.id, &Resolution::Acknowledge, Lang::En).unwrap();
    assert!(q(&t).notices.is_empty());
    assert_eq!(t.desk.sync_status().unwrap().open_notices, 0);
}

#[test]
fn a_refused_call_answered_before_the_pull_leaves_no_prediction_and_keeps_the_calls_applied_before() {
    let mut t = desk();
    let people: Vec<Booking> = (1..=3).map(|k| arrive(&mut t, &format!("患者{k}"), k as u16, k)).collect();
    settle_and_pull(
        &mut t,
        100,
        people.iter().map(|b| item(b, QueueState::Waiting, 0, at(b.queue_no), false)).collect(),
    );
    // Offline: call 1, then call 2 (1 is seen), then call 3.
    for _ in 0..3 {
        t.desk.call_next(&session()).unwrap();
    }
    assert_eq!(called_no(&t), Some(17));
    // The platform applied the first two calls, refused the third (someone moved 3 meanwhile).
    let resp = answer(&t.desk, vec![applied(300), applied(302), conflict("not_waiting")]);
    t.desk.apply_push(&resp).unwrap();
    let view = q(&t);
    assert_eq!(view.called.as_ref().map(|e| e.queue_no), Some(11), "the applied calls stay, the refused one goes");
    assert_eq!(numbers(&view.waiting), [17]);
    assert_eq!(entry(&view, &people[0]).state, QueueState::Seen);
    assert!(view.called.unwrap().predicted, "not pulled yet");
    assert_eq!(view.notices.len(), 1);
}

#[test]
fn a_refused_check_in_leaves_the_queue() {
    let mut t = desk();
    let a = arrive(&mut t, "甲", 1, 1);
    assert_eq!(q(&t).waiting.len(), 1);
    let mut cancelled = t.desk.booking(&a.id).unwrap().booking;
    cancelled.status = BookingStatus::Cancelled;
    let resp = answer(
        &t.desk,
        vec![
            applied(10),
            applied(11),
            Outcome::Conflict(Conflict {
                reason: "booking_cancelled".into(),
                message: "cancelled".into(),
                server_state: Some(frontdesk_protocol::sync::ServerState {
                    booking: Some(cancelled),
                    ..Default::default()
                }),
                suggestions: vec![],
            }),
        ],
    );
    t.desk.apply_push(&resp).unwrap();
    assert!(q(&t).waiting.is_empty(), "a check-in the platform refused joins nothing");
    let inbox = t.desk.conflicts(false, Lang::En).unwrap();
    assert!(!inbox[0].informational, "a refused check-in is a conflict as before");
}

#[test]
fn tombstones_take_entries_away() {
    let mut t = desk();
    let a = arrive(&mut t, "甲", 1, 1);
    let b = arrive(&mut t, "乙", 2, 2);
    settle_and_pull(
        &mut t,
        100,
        vec![item(&a, QueueState::Waiting, 0, at(5), false), item(&b, QueueState::Waiting, 0, at(11), false)],
    );
    let tomb = |entity: &str, id: &str| Record::Tombstone { entity: entity.into(), id: id.into() };
    t.desk.apply_pull(&page(vec![tomb("queue_entry", a.id.as_str())], 200)).unwrap();
    assert_eq!(numbers(&q(&t).waiting), [11]);
    t.desk.apply_pull(&page(vec![tomb("session", SESSION)], 300)).unwrap();
    assert!(t.desk.queue(&session()).is_err());
    assert!(t.desk.queues(jiff::civil::date(2026, 11, 23), None).unwrap().is_empty());
}

#[test]
fn the_waiting_room_lists_each_session_s_call_and_the_next_three() {
    let mut t = desk();
    // 内科 room 1: five patients, the first called.
    let people: Vec<Booking> = (1..=5).map(|k| arrive(&mut t, &format!("张{k}"), k as u16, k)).collect();
    t.desk.call_next(&session()).unwrap();
    // 内科 room 2 and 外科 room 4: one waiting each.
    for (i, (s, name)) in [("demo-wk-1-20261123-am", "刘一"), ("demo-nk-2-20261123-am", "陈二")].iter().enumerate()
    {
        let p = register(&mut t.desk, name, 20 + i as u16);
        let b = t.desk.book(&p.id, &BookTarget::Slot(SlotId(format!("{s}-02")))).unwrap();
        t.desk.check_in(b.booking.ticket_code.as_str()).unwrap();
    }
    let wr = t.desk.waiting_room(jiff::civil::date(2026, 11, 23)).unwrap();
    let order: Vec<(&str, Option<u32>)> = wr.rooms.iter().map(|r| (r.department_code.as_str(), r.room)).collect();
    assert_eq!(order, [("NK", Some(1)), ("NK", Some(2)), ("WK", Some(4))]);
    let nk = &wr.rooms[0];
    let calling = nk.calling.as_ref().unwrap();
    assert_eq!((calling.queue_no, calling.patient_name_masked.as_str(), calling.calls), (5, "张*", 1));
    assert!(calling.called_at.is_some());
    assert_eq!(nk.next.iter().map(|n| n.queue_no).collect::<Vec<_>>(), [11, 17, 23]);
    assert_eq!(nk.waiting, 4);
    assert!(wr.rooms[1].calling.is_none() && wr.rooms[1].waiting == 1);
    // A day without queues shows nothing; the JSON shape is plain.
    assert!(t.desk.waiting_room(jiff::civil::date(2026, 11, 24)).unwrap().rooms.is_empty());
    let json = serde_json::to_value(&wr).unwrap();
    assert_eq!(json["rooms"][0]["calling"]["queue_no"], 5);
    assert_eq!(json["rooms"][0]["next"][0]["patient_name_masked"], "张*");
    // A department's queues list its sessions of the day, queued or not.
    let nk_queues = t.desk.queues(jiff::civil::date(2026, 11, 23), Some("nk")).unwrap();
    assert!(nk_queues.len() >= 3 && nk_queues[0].session_id == session());
    assert_eq!(t.desk.queues(jiff::civil::date(2026, 11, 23), Some("XX")).unwrap_err().code(), "not_found");
    let _ = people;
}

#[test]
fn find_booking_takes_a_ticket_code_or_a_booking_id() {
    let mut t = desk();
    let a = arrive(&mut t, "甲", 1, 1);
    assert_eq!(t.desk.find_booking(a.id.as_str()).unwrap().booking.id, a.id);
    assert_eq!(t.desk.find_booking(&format!(" {} ", a.ticket_code)).unwrap().booking.id, a.id);
    assert_eq!(t.desk.find_booking("nothing").unwrap_err().code(), "not_found");
}

// ---------------------------------------------------------------------------------------------
// The `frontdesk queue` commands.

mod cli {
    use super::common::{doc, frontdesk, ok_json, stderr};
    use serde_json::Value;
    use std::path::Path;

    /// A demo desk with three patients of 王建国's morning checked in (numbers 5, 11, 17); their
    /// ticket codes.
    fn demo_with_queue() -> (tempfile::TempDir, Vec<String>) {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let out = frontdesk(d, &["init", "--demo", "--demo-staff", "--lang", "en"]);
        assert!(out.status.success(), "{}", stderr(&out));
        let mut codes = Vec::new();
        for k in 1..=3u16 {
            let p = ok_json(d, &["patients", "add", "--name", &format!("病人{k}"), "--document", &doc(k)]);
            let slot = format!("{}-{k:02}", super::SESSION);
            let b = ok_json(d, &["book", "--patient", p["id"].as_str().unwrap(), "--slot", &slot]);
            let code = b["booking"]["ticket_code"].as_str().unwrap().to_string();
            ok_json(d, &["checkin", &code]);
            codes.push(code);
        }
        (dir, codes)
    }

    fn waiting(d: &Path) -> Vec<u64> {
        let q = ok_json(d, &["queue", "--session", super::SESSION]);
        q["waiting"].as_array().unwrap().iter().map(|e| e["queue_no"].as_u64().unwrap()).collect()
    }

    #[test]
    fn queue_lists_calls_and_acts_by_ticket_code_in_text_and_json() {
        let (dir, codes) = demo_with_queue();
        let d = dir.path();
        // Today's queues: only sessions with one.
        let all = ok_json(d, &["queue"]);
        let all = all.as_array().unwrap();
        assert_eq!(all.len(), 1);
        assert_eq!(all[0]["session_id"], super::SESSION);
        assert_eq!(all[0]["room"], 1);
        assert_eq!(waiting(d), [5, 11, 17]);
        let by_dept = ok_json(d, &["queue", "--dept", "NK"]);
        assert!(by_dept.as_array().unwrap().len() >= 3, "every session of the department today");

        let called = ok_json(d, &["queue", "call-next", "--session", super::SESSION]);
        assert_eq!(called["action"], "call");
        assert_eq!(called["call"]["queue_no"], 5);
        assert_eq!(called["call"]["department_code"], "NK");
        assert_eq!(called["changed"][0]["state"], "called");
        assert_eq!(called["changed"][0]["predicted"], true);
        let recalled = ok_json(d, &["queue", "recall", &codes[0]]);
        assert_eq!(recalled["call"]["call"], 2);
        let skipped = ok_json(d, &["queue", "skip", &codes[0]]);
        assert_eq!(skipped["changed"][0]["state"], "waiting");
        assert_eq!(waiting(d), [11, 17, 5]);
        let moved = ok_json(d, &["queue", "to-end", &codes[1]]);
        assert_eq!(moved["action"], "to_end");
        assert_eq!(waiting(d), [17, 5, 11]);
        let id = ok_json(d, &["scan", &codes[2]])["booking"]["booking"]["id"].as_str().unwrap().to_string();
        ok_json(d, &["queue", "call", &id]);
        let seen = ok_json(d, &["queue", "seen", &codes[2]]);
        assert_eq!(seen["changed"][0]["state"], "seen");
        let kinds: Vec<String> = ok_json(d, &["outbox"])
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["kind"].as_str().unwrap().to_string())
            .filter(|k| k == "queue")
            .collect();
        assert_eq!(kinds.len(), 6);

        // Text, in both languages.
        let out = frontdesk(d, &["queue", "call-next", "--session", super::SESSION, "--lang", "zh"]);
        assert!(out.status.success(), "{}", stderr(&out));
        let text = String::from_utf8_lossy(&out.stdout);
        for want in ["已叫号", "5 号", "广播", "请 5 号 到 内科 1 诊室", "候诊", "待平台确认"] {
            assert!(text.contains(want), "lacks {want}:\n{text}");
        }
        let out = frontdesk(d, &["queue", "--lang", "en"]);
        let text = String::from_utf8_lossy(&out.stdout);
        for want in ["Internal Medicine [NK]", "王建国", "room 1", "Calling: No. 5", "Waiting (1)", "Done"] {
            assert!(text.contains(want), "lacks {want}:\n{text}");
        }
        let out = frontdesk(d, &["queue", "display", "--lang", "zh"]);
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("候诊大屏") && text.contains("内科 1 诊室"), "{text}");
        let display = ok_json(d, &["queue", "display"]);
        assert_eq!(display["rooms"][0]["calling"]["queue_no"], 5);
    }

    #[test]
    fn refusals_exit_3_with_the_rule_s_code_and_unknown_tickets_are_clear() {
        let (dir, codes) = demo_with_queue();
        let d = dir.path();
        let before = ok_json(d, &["outbox"]).as_array().unwrap().len();
        let out = frontdesk(d, &["queue", "recall", &codes[0], "--lang", "en"]);
        assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
        assert!(stderr(&out).contains("not_called") && stderr(&out).contains("not the one being called"));
        let out = frontdesk(d, &["queue", "seen", &codes[0], "--json"]);
        assert_eq!(out.status.code(), Some(3));
        let v: Value = serde_json::from_slice(&out.stderr).unwrap();
        assert_eq!(v["error"]["code"], "not_called");
        let out = frontdesk(d, &["queue", "call-next", "--session", "demo-nk-2-20261123-am", "--lang", "zh"]);
        assert_eq!(out.status.code(), Some(3));
        assert!(stderr(&out).contains("nobody_waiting") && stderr(&out).contains("没有候诊的患者"), "{}", stderr(&out));
        let out = frontdesk(d, &["queue", "call", "FD0000000000", "--lang", "en"]);
        assert!(matches!(out.status.code(), Some(2) | Some(3)), "{}", stderr(&out));
        let out = frontdesk(d, &["queue", "--session", "nope", "--lang", "en"]);
        assert_eq!(out.status.code(), Some(2));
        assert_eq!(ok_json(d, &["outbox"]).as_array().unwrap().len(), before, "refusals write nothing");
    }
}

/// A PC enrolled with a display code shows the queues and changes nothing: every change is
/// refused with one code before anything is written, and it never asks for leases.
#[test]
fn a_display_changes_nothing() {
    let mut t = desk();
    let b = arrive(&mut t, "张三", 1, 1);
    let pending = t.desk.outbox().unwrap().len();
    let site = t.desk.site().unwrap();
    t.desk
        .record_enrollment(
            "http://127.0.0.1:9",
            &frontdesk_protocol::enroll::EnrollResponse {
                device_id: "display-1".into(),
                site,
                token: "t".into(),
                role: frontdesk_protocol::enroll::DeviceRole::Display,
            },
        )
        .unwrap();
    assert_eq!(t.desk.role().unwrap(), frontdesk_protocol::enroll::DeviceRole::Display);
    // The first pull page: the queue is shown again.
    t.desk.apply_pull(&page(vec![], 10)).unwrap();
    assert_eq!(numbers(&q(&t).waiting), [b.queue_no]);
    let refused = [
        t.desk.queue_act(&b.id, QueueAction::Call).unwrap_err(),
        t.desk.call_next(&session()).unwrap_err(),
        t.desk
            .register_patient(
                &PatientInput { name: "李四".into(), document_number: common::doc(2), ..PatientInput::default() },
                Lang::Zh,
            )
            .unwrap_err(),
    ];
    for e in &refused {
        assert_eq!((e.code(), e.class()), ("display_only", ErrorClass::Refused), "{e:?}");
        assert!(e.message(Lang::Zh).contains("候诊屏") && e.message(Lang::En).contains("display"));
    }
    assert_eq!(t.desk.outbox().unwrap().len(), pending, "nothing was written");
    assert!(!t.desk.lease_top_up_due().unwrap(), "a display asks for no numbers");
    assert_eq!(numbers(&q(&t).waiting), [b.queue_no], "and its queue is as it was");
}
