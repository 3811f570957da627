//! Capacity leases: any interleaving of grant, spend, give-back, expiry, online booking, desk
//! booking outside a lease and cancellation keeps every number with one holder, live bookings
//! plus leased unspent numbers within each pool's capacity, bookings outside a lease off
//! leased numbers, and a desk's spend of its own leased number always accepted.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};

use frontdesk_domain::lease::{Holder, LeaseError, LeasePolicy, SessionLedger};
use frontdesk_domain::schedule::{BookingId, DeviceId, Pool, SessionId, Slot, SlotId};
use jiff::civil::time;
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
        let policy = LeasePolicy { hold_back_percent: hold_back, min_per_desk: min, max_per_desk: max };
        let mut ledger = SessionLedger::new(&slots);
        let desks: Vec<DeviceId> = (0..3).map(|d| DeviceId(format!("desk-{d}"))).collect();
        let mut live: Vec<BookingId> = Vec::new();
        let mut next = 0u32;
        for s in steps {
            match s {
                Step::Grant(d) => {
                    let before = ledger.leased_to(&desks[d as usize]).len() as u32;
                    let got = ledger.grant(&desks[d as usize], &policy, desks.len() as u32);
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
                        // A desk's own leased number: always accepted.
                        prop_assert_eq!(ledger.spend(&desks[d as usize], n, &b), Ok(()));
                        live.push(b);
                    } else {
                        // Any number not leased to it: refused.
                        let n = 1 + u32::from(pick);
                        if ledger.holder(n).is_some() {
                            prop_assert!(ledger.spend(&desks[d as usize], n, &b).is_err());
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
                    if let Some(n) = ledger.lowest_free(pool) {
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
    let policy = LeasePolicy { hold_back_percent: 50, min_per_desk: 0, max_per_desk: 0 };
    let mut ledger = SessionLedger::new(&slots);
    let a = DeviceId::from("a");
    let b = DeviceId::from("b");
    // 18 desk numbers, 9 held back, 9 leasable: 4 each for two desks.
    assert_eq!(ledger.grant(&a, &policy, 2).len(), 4);
    assert_eq!(ledger.grant(&b, &policy, 2).len(), 4);
    assert_eq!(ledger.grant(&a, &policy, 2), Vec::<u32>::new(), "already at its share");
    assert_eq!(ledger.held(Pool::Desk), 8);
    // Leases come from the top of the pool: the first desk number stays for walk-ins.
    assert_eq!(ledger.lowest_free(Pool::Desk), Some(5));
    assert_eq!(ledger.leased_to(&a), vec![27, 28, 29, 30]);
}
