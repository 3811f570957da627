//! Capacity leases: any interleaving of grant, spend, give-back, expiry, online booking, desk
//! booking outside a lease and cancellation keeps every number with one holder, live bookings
//! plus leased unspent numbers within each pool's capacity, bookings outside a lease off
//! leased numbers, and a desk's spend of its own leased number always accepted.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};

use frontdesk_domain::booking::{BookingRequest, QueueChoice, SlotState, decide_booking};
use frontdesk_domain::lease::{Holder, LeaseError, LeasePolicy, SessionLedger};
use frontdesk_domain::schedule::{
    BookingId, Channel, DepartmentId, DeviceId, PatientId, Period, Pool, ProviderId, Session, SessionId, SessionStatus,
    SiteId, Slot, SlotId,
};
use jiff::civil::{date, time};
use proptest::prelude::*;

fn slots() -> Vec<Slot> {
    (0..3u32)
        .map(|i| Slot {
            id: SlotId(format!("s{i}")),
            session_id: SessionId::from("ses"),
            start: time(8 + i as i8, 0, 0, 0),
            end: time(9 + i as i8, 0, 0, 0),
            first_queue_no: 1 + i * 10,
            online_capacity: 4,
            desk_capacity: 6,
        })
        .collect()
}

fn session() -> Session {
    Session {
        id: SessionId::from("ses"),
        site_id: SiteId::from("site"),
        department_id: DepartmentId::from("NK"),
        provider_id: ProviderId::from("p"),
        date: date(2026, 12, 4),
        period: Period::Morning,
        status: SessionStatus::Open,
        status_reason: None,
        room: None,
    }
}

/// The slots as the booking rules see them, from the ledger: booked numbers taken, leased
/// numbers leased.
fn states(ledger: &SessionLedger, slots: &[Slot]) -> Vec<SlotState> {
    slots
        .iter()
        .map(|slot| {
            let mut st = SlotState { session: session(), slot: slot.clone(), taken: vec![], leased: vec![] };
            for n in slot.first_queue_no..slot.first_queue_no + slot.capacity() {
                match ledger.holder(n) {
                    Some(Holder::Booked { .. }) => st.taken.push(n),
                    Some(Holder::Leased { device }) => st.leased.push((n, device.clone())),
                    _ => {}
                }
            }
            st
        })
        .collect()
}

/// Asks the booking rule (as the platform does) for a booking into the first slot with a
/// number for `channel`; the number it grants.
fn rule_grants(
    ledger: &SessionLedger,
    slots: &[Slot],
    channel: Channel,
    choice: QueueChoice,
    device: Option<&DeviceId>,
) -> Option<u32> {
    let patient = PatientId::from("p");
    let now = date(2026, 12, 4).at(7, 0, 0, 0);
    let req = BookingRequest { patient_id: &patient, channel, now, queue_no: choice, overbook_reason: None, device };
    let all = states(ledger, slots);
    let target = match choice {
        QueueChoice::Leased(n) => all.iter().find(|s| s.slot.pool_of(n).is_some())?,
        _ => all.iter().find(|s| s.remaining(channel.pool()) > 0)?,
    };
    decide_booking(&req, target, &[], 0, &all).ok().map(|g| g.queue_no)
}

#[derive(Debug, Clone)]
enum Step {
    Grant(u8),
    Spend(u8, u8),
    GiveBack(u8, u8),
    Expire(u8),
    BookOnline,
    BookDesk,
    Cancel(u8),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        (0u8..3).prop_map(Step::Grant),
        (0u8..3, 0u8..40).prop_map(|(d, n)| Step::Spend(d, n)),
        (0u8..3, 0u8..40).prop_map(|(d, n)| Step::GiveBack(d, n)),
        (0u8..3).prop_map(Step::Expire),
        Just(Step::BookOnline),
        Just(Step::BookDesk),
        (0u8..64).prop_map(Step::Cancel),
    ]
}

proptest! {
    #[test]
    fn no_interleaving_oversells_or_double_holds(
        steps in proptest::collection::vec(step(), 1..120),
        hold_back in 0u8..60,
        min in 0u32..4,
        max in 0u32..5,
    ) {
        let slots = slots();
        let policy = LeasePolicy { hold_back_percent: hold_back, min_per_desk: min, max_per_desk: max, ..LeasePolicy::default() };
        let mut ledger = SessionLedger::new(&slots);
        let desks: Vec<DeviceId> = (0..3).map(|d| DeviceId(format!("desk-{d}"))).collect();
        let mut live: Vec<BookingId> = Vec::new();
        let mut next = 0u32;
        for s in steps {
            match s {
                Step::Grant(d) => {
                    let before = ledger.leased_to(&desks[d as usize]).len() as u32;
                    let got = ledger.grant(&desks[d as usize], &policy, desks.len() as u32, &slots, |_| true);
                    let share = policy.share(ledger.capacity(Pool::Desk), desks.len() as u32);
                    prop_assert!(before + got.len() as u32 <= share.max(before), "a desk never holds more than its share");
                    for n in got {
                        prop_assert_eq!(slot_pool(&slots, n), Some(Pool::Desk), "only desk numbers are leased");
                    }
                }
                Step::Spend(d, pick) => {
                    let mine = ledger.leased_to(&desks[d as usize]);
                    next += 1;
                    let b = BookingId(format!("b{next}"));
                    if let Some(n) = mine.get(pick as usize % mine.len().max(1)).copied() {
                        // A desk's own leased number: always accepted, by the booking rule too.
                        let by_rule = rule_grants(&ledger, &slots, Channel::Desk, QueueChoice::Leased(n), Some(&desks[d as usize]));
                        prop_assert_eq!(by_rule, Some(n));
                        prop_assert_eq!(ledger.spend(&desks[d as usize], n, &b), Ok(()));
                        live.push(b);
                    } else {
                        // Any number not leased to it: refused.
                        let n = 1 + u32::from(pick);
                        if ledger.holder(n).is_some() {
                            prop_assert!(ledger.spend(&desks[d as usize], n, &b).is_err());
                            // The rule grants a number not leased to the desk only when free.
                            if let Some(got) = rule_grants(&ledger, &slots, Channel::Desk, QueueChoice::Leased(n), Some(&desks[d as usize])) {
                                prop_assert_eq!(ledger.holder(got), Some(&Holder::Free));
                            }
                        }
                    }
                }
                Step::GiveBack(d, n) => {
                    let freed = ledger.give_back(&desks[d as usize], &[1 + u32::from(n)]);
                    for n in freed {
                        prop_assert_eq!(ledger.holder(n), Some(&Holder::Free));
                    }
                }
                Step::Expire(d) => {
                    ledger.end_lease(&desks[d as usize]);
                    prop_assert!(ledger.leased_to(&desks[d as usize]).is_empty());
                }
                Step::BookOnline | Step::BookDesk => {
                    let pool = if matches!(s, Step::BookOnline) { Pool::Online } else { Pool::Desk };
                    let channel = if pool == Pool::Online { Channel::Online } else { Channel::Desk };
                    // The booking rule, outside a lease, picks the number.
                    let by_rule = rule_grants(&ledger, &slots, channel, QueueChoice::Lowest, None);
                    prop_assert_eq!(by_rule, ledger.lowest_free(pool), "the rule takes the lowest free number, never a leased one");
                    if let Some(n) = by_rule {
                        next += 1;
                        let b = BookingId(format!("b{next}"));
                        prop_assert_eq!(ledger.book(pool, n, &b), Ok(()));
                        live.push(b);
                    }
                    // Outside a lease, a leased number is never taken.
                    for d in &desks {
                        for n in ledger.leased_to(d) {
                            prop_assert_eq!(ledger.book(pool, n, &BookingId::from("intruder")), Err(if slot_pool(&slots, n) == Some(pool) { LeaseError::Taken(n) } else { LeaseError::WrongPool(n, pool) }));
                        }
                    }
                }
                Step::Cancel(i) => {
                    if !live.is_empty() {
                        let b = live.remove(i as usize % live.len());
                        prop_assert!(ledger.cancel(&b).is_ok());
                    }
                }
            }
            // Invariants after every step.
            for pool in [Pool::Online, Pool::Desk] {
                prop_assert!(ledger.held(pool) <= ledger.capacity(pool));
            }
            let mut holders: BTreeMap<u32, Holder> = BTreeMap::new();
            let mut booked: BTreeSet<BookingId> = BTreeSet::new();
            for slot in &slots {
                for n in slot.first_queue_no..slot.first_queue_no + slot.capacity() {
                    let h = ledger.holder(n).expect("every regular number has a holder entry").clone();
                    if let Holder::Booked { booking } = &h {
                        prop_assert!(booked.insert(booking.clone()), "a booking holds one number");
                    }
                    holders.insert(n, h);
                }
            }
            prop_assert_eq!(booked.len(), live.len(), "every live booking holds exactly one number");
            for d in &desks {
                let share = policy.share(ledger.capacity(Pool::Desk), desks.len() as u32);
                prop_assert!(ledger.leased_to(d).len() as u32 <= share);
            }
        }
    }
}

fn slot_pool(slots: &[Slot], n: u32) -> Option<Pool> {
    slots.iter().find_map(|s| s.pool_of(n))
}

#[test]
fn a_grant_leaves_the_held_back_numbers_free() {
    let slots = slots();
    let policy = LeasePolicy { hold_back_percent: 50, min_per_desk: 0, max_per_desk: 0, ..LeasePolicy::default() };
    let mut ledger = SessionLedger::new(&slots);
    let a = DeviceId::from("a");
    let b = DeviceId::from("b");
    // 18 desk numbers, 9 held back, 9 leasable: 4 each for two desks.
    assert_eq!(ledger.grant(&a, &policy, 2, &slots, |_| true).len(), 4);
    assert_eq!(ledger.grant(&b, &policy, 2, &slots, |_| true).len(), 4);
    assert_eq!(ledger.grant(&a, &policy, 2, &slots, |_| true), Vec::<u32>::new(), "already at its share");
    assert_eq!(ledger.held(Pool::Desk), 8);
    // Leases come from the top of each slot, spread over the session: each slot's first desk
    // numbers stay for bookings without a lease.
    assert_eq!(ledger.leased_to(&a), vec![9, 10, 20, 30]);
    assert_eq!(ledger.leased_to(&b), vec![7, 8, 19, 29]);
    assert_eq!(ledger.lowest_free(Pool::Desk), Some(5));
}

#[test]
fn a_grant_takes_only_leasable_numbers() {
    let slots = slots();
    let policy = LeasePolicy { hold_back_percent: 0, min_per_desk: 0, max_per_desk: 3, ..LeasePolicy::default() };
    let mut ledger = SessionLedger::new(&slots);
    let a = DeviceId::from("a");
    // The first slot's leases would have expired already: nothing of it is leased.
    let got = ledger.grant(&a, &policy, 1, &slots, |n| n > 10);
    assert_eq!(got, vec![20, 30, 19]);
}
