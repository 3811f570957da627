//! The waiting room's queue rules: a day at one provider's queue as a nurse runs it, and any
//! interleaving of check-ins, calls, recalls, skips, moves and "seen" keeping the queue sound.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};

use frontdesk_domain::queue::{QueueError, QueuePolicy, QueueState, SessionQueue};
use frontdesk_domain::schedule::BookingId;
use proptest::prelude::*;

fn b(n: u32) -> BookingId {
    BookingId(format!("b{n}"))
}

fn order(q: &SessionQueue) -> Vec<u32> {
    q.waiting().iter().map(|e| e.queue_no).collect()
}

#[test]
fn a_morning_at_one_queue() {
    let policy = QueuePolicy { max_calls: 3, requeue_after: 2 };
    let mut q = SessionQueue::default();
    assert_eq!(q.call_next().unwrap_err(), QueueError::NobodyWaiting);
    // Patients check in out of order; they wait in queue-number order.
    for n in [3, 1, 5, 2] {
        q.check_in(b(n), n, &policy).unwrap();
    }
    assert_eq!(q.check_in(b(3), 3, &policy).unwrap_err().code(), "already_in_queue");
    assert_eq!(order(&q), [1, 2, 3, 5]);
    // 1 is called, answers; calling 2 means 1 was seen.
    assert_eq!((q.call_next().unwrap().queue_no, q.called().unwrap().calls), (1, 1));
    assert_eq!(q.call_next().unwrap().queue_no, 2);
    assert_eq!(q.entry(&b(1)).unwrap().state, QueueState::Seen);
    // 2 does not answer: called again, then skipped — back after the next two waiting.
    assert_eq!(q.recall().unwrap().call, 2);
    let skipped = q.skip(&policy).unwrap();
    assert_eq!(skipped.state, QueueState::Waiting);
    assert_eq!(order(&q), [3, 5, 2]);
    assert_eq!(q.call_next().unwrap().queue_no, 3);
    assert_eq!(q.call_next().unwrap().queue_no, 5);
    // 4 arrives after 5 was called (过号): it goes behind two waiting patients — only 2 waits.
    q.check_in(b(4), 4, &policy).unwrap();
    assert_eq!(order(&q), [2, 4]);
    // 7 and 6 arrive on time: their own places.
    q.check_in(b(7), 7, &policy).unwrap();
    q.check_in(b(6), 6, &policy).unwrap();
    assert_eq!(order(&q), [2, 4, 6, 7]);
    // 2 steps out for a test: to the end.
    q.move_to_end(&b(2)).unwrap();
    assert_eq!(order(&q), [4, 6, 7, 2]);
    assert_eq!(q.mark_seen().unwrap().queue_no, 5);
    assert_eq!(q.recall().unwrap_err().code(), "nobody_called");
    assert_eq!(q.move_to_end(&b(3)).unwrap_err().code(), "not_waiting");
    assert_eq!(q.move_to_end(&b(9)).unwrap_err().code(), "not_in_queue");
    for n in [4, 6, 7, 2] {
        assert_eq!(q.call_next().unwrap().queue_no, n);
    }
    // 2 has been called a third time in all: skipped now, a no-show.
    assert_eq!(q.called().unwrap().calls, 3);
    assert_eq!(q.skip(&policy).unwrap().state, QueueState::NoShow);
    assert!(order(&q).is_empty());
    assert_eq!(q.entries().iter().filter(|e| e.state == QueueState::Seen).count(), 6, "1, 3, 5, 4, 6, 7");
}

#[derive(Debug, Clone)]
enum Step {
    CheckIn(u32),
    CallNext,
    Recall,
    Skip,
    Seen,
    ToEnd(u32),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        3 => (1u32..25).prop_map(Step::CheckIn),
        3 => Just(Step::CallNext),
        1 => Just(Step::Recall),
        2 => Just(Step::Skip),
        1 => Just(Step::Seen),
        1 => (1u32..25).prop_map(Step::ToEnd),
    ]
}

proptest! {
    #[test]
    fn no_interleaving_loses_a_patient_or_breaks_the_order(
        steps in proptest::collection::vec(step(), 1..150),
        max_calls in 1u32..4,
        requeue_after in 1u32..4,
    ) {
        let policy = QueuePolicy { max_calls, requeue_after };
        let mut q = SessionQueue::default();
        let mut calls: BTreeMap<BookingId, u32> = BTreeMap::new();
        let mut done: BTreeMap<BookingId, QueueState> = BTreeMap::new();
        for s in steps {
            let waiting_before: Vec<BookingId> = q.waiting().iter().map(|e| e.booking_id.clone()).collect();
            match s {
                Step::CheckIn(n) => {
                    let late = q.entries().iter().any(|e| e.queue_no > n && e.calls > 0);
                    if q.check_in(b(n), n, &policy).is_ok() && late {
                        // A late arrival never jumps the first `requeue_after` waiting patients.
                        let at = q.waiting().iter().position(|e| e.booking_id == b(n)).unwrap();
                        prop_assert!(at >= (requeue_after as usize).min(waiting_before.len()));
                    }
                }
                Step::CallNext => match q.call_next() {
                    Ok(call) => prop_assert_eq!(Some(&call.booking_id), waiting_before.first()),
                    Err(e) => prop_assert!(waiting_before.is_empty() && e == QueueError::NobodyWaiting),
                },
                Step::Recall => { let _ = q.recall(); }
                Step::Skip => {
                    if let Ok(e) = q.skip(&policy) {
                        if e.state == QueueState::Waiting {
                            let at = q.waiting().iter().position(|w| w.booking_id == e.booking_id).unwrap();
                            prop_assert!(at >= (requeue_after as usize).min(waiting_before.len()), "skipped, not first again");
                        } else {
                            prop_assert!(e.calls >= max_calls, "a no-show only after max_calls calls");
                        }
                    }
                }
                Step::Seen => { let _ = q.mark_seen(); }
                Step::ToEnd(n) => {
                    if q.move_to_end(&b(n)).is_ok() {
                        prop_assert_eq!(q.waiting().last().map(|e| e.booking_id.clone()), Some(b(n)));
                    }
                }
            }
            // Invariants after every step.
            prop_assert!(q.entries().iter().filter(|e| e.state == QueueState::Called).count() <= 1);
            let ids: BTreeSet<&BookingId> = q.entries().iter().map(|e| &e.booking_id).collect();
            prop_assert_eq!(ids.len(), q.entries().len(), "one entry per booking");
            let places: BTreeSet<_> = q.entries().iter().map(|e| e.place).collect();
            prop_assert_eq!(places.len(), q.entries().len(), "no two entries share a place");
            for e in q.entries() {
                let before = calls.insert(e.booking_id.clone(), e.calls).unwrap_or(0);
                prop_assert!(e.calls >= before, "calls never go down");
                if let Some(state) = done.get(&e.booking_id) {
                    prop_assert_eq!(*state, e.state, "seen and no-show are final");
                }
                if matches!(e.state, QueueState::Seen | QueueState::NoShow) {
                    done.insert(e.booking_id.clone(), e.state);
                }
            }
        }
    }
}

#[test]
fn a_desks_action_names_the_booking_it_saw() {
    use frontdesk_domain::queue::QueueAction;
    let policy = QueuePolicy::default();
    let mut q = SessionQueue::default();
    for n in 1..=4 {
        q.check_in(b(n), n, &policy).unwrap();
    }
    // A desk calls 2 out of turn (1 stepped out): 2 is called; nobody was called before.
    let (changed, call) = q.act(&b(2), QueueAction::Call, &policy).unwrap();
    assert_eq!((changed.len(), call.unwrap().queue_no), (1, 2));
    // Another desk, on an old view, calls 2 as well: refused, 2 is not waiting any more.
    assert_eq!(q.act(&b(2), QueueAction::Call, &policy).unwrap_err().code(), "not_waiting");
    // Calling 1 makes 2 seen: both entries changed, the called one first.
    let (changed, _) = q.act(&b(1), QueueAction::Call, &policy).unwrap();
    assert_eq!(
        changed.iter().map(|e| (e.queue_no, e.state)).collect::<Vec<_>>(),
        [(1, QueueState::Called), (2, QueueState::Seen)]
    );
    // Recall, skip and seen act on the called patient only.
    assert_eq!(q.act(&b(3), QueueAction::Recall, &policy).unwrap_err().code(), "not_called");
    assert_eq!(q.act(&b(1), QueueAction::Recall, &policy).unwrap().1.unwrap().call, 2);
    assert_eq!(q.act(&b(1), QueueAction::Skip, &policy).unwrap().0[0].state, QueueState::Waiting);
    assert_eq!(q.act(&b(4), QueueAction::ToEnd, &policy).unwrap().0[0].queue_no, 4);
    assert_eq!(order(&q), [3, 1, 4]);
    assert_eq!(q.act(&b(9), QueueAction::Seen, &policy).unwrap_err().code(), "not_in_queue");
}
