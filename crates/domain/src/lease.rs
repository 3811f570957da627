//! Capacity leases (DESIGN §3): a session's desk-pool queue numbers held in escrow for enrolled
//! desks, so a booking a desk makes offline from its lease cannot collide with anyone else's.
//!
//! One ledger per session says who holds each regular queue number: nobody, a desk's lease, or
//! a booking. Every number has exactly one holder, so live bookings plus leased, unspent
//! numbers never exceed a pool's capacity, and no number is ever held by two parties:
//! - a lease is granted only free desk-pool numbers, in the share a site's [`LeasePolicy`]
//!   allows a desk;
//! - a booking outside a lease takes only free numbers (never one leased to any desk);
//! - a desk spends only numbers leased to itself;
//! - returning, expiring and revoking a lease free only its unspent numbers; cancelling a
//!   booking frees its number.
//!
//! The ledger is pure: the platform loads it from its store, asks it, and writes what it
//! decided; a desk keeps the part that is its own.

use std::collections::BTreeMap;

use jiff::civil::DateTime;
use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

use crate::booking::SlotState;
use crate::schedule::{BookingId, DeviceId, Pool, SessionId, Slot, SlotId};

/// One queue number leased to a desk, as the platform records it and every desk of the site
/// learns it from the change log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lease {
    /// The session.
    pub session_id: SessionId,
    /// The slot the number belongs to.
    pub slot_id: SlotId,
    /// The number (one of the slot's desk-pool numbers).
    pub queue_no: u32,
    /// The desk it is leased to.
    pub device_id: DeviceId,
    /// When the platform takes it back if unspent ([`LeasePolicy::expires_at`]), on the
    /// platform's clock. A desk never compares this with its own clock: it counts the time
    /// left from when it received the lease ([`desk_deadline_ms`]).
    pub expires_at: Timestamp,
}

impl Lease {
    /// The change-log id of a leased number: `session#number`.
    pub fn key(session: &SessionId, queue_no: u32) -> String {
        format!("{session}#{queue_no}")
    }
}

/// The part of a lease's remaining time a desk does not use: a minute for the time the
/// answer travelled, plus 2% for the drift of the desk's clock while it counts.
pub fn lease_margin(remaining: SignedDuration) -> SignedDuration {
    let drift = SignedDuration::from_millis(remaining.as_millis().max(0) as i64 / 50);
    SignedDuration::from_secs(60) + drift
}

/// Until when (milliseconds of the desk's own clock) a desk may spend a leased number:
/// counted from `received_ms` — the desk's clock when the lease arrived — by the time the
/// platform said was left (`expires_at − server_now`, both the platform's), less
/// [`lease_margin`]. The desk's clock may be off by any amount; only its rate matters.
pub fn desk_deadline_ms(received_ms: i64, expires_at: Timestamp, server_now: Timestamp) -> i64 {
    let remaining = expires_at.duration_since(server_now);
    let usable = remaining - lease_margin(remaining);
    received_ms.saturating_add(usable.as_millis().clamp(i64::MIN as i128, i64::MAX as i128) as i64)
}

/// The number a desk spends for a booking into `state` at `now`: its lowest leased number
/// of the slot that it may still spend (`usable`, the desk's deadlines), when the slot is
/// open to the desk.
pub fn pick_leased(state: &SlotState, device: &DeviceId, now: DateTime, usable: impl Fn(u32) -> bool) -> Option<u32> {
    if state.open_for(crate::schedule::Channel::Desk, now).is_err() {
        return None;
    }
    state.leased_to(device).into_iter().find(|n| usable(*n))
}

/// How a site shares each session's desk pool among its enrolled desks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeasePolicy {
    /// Percent of the desk pool never leased, for desks without a lease (and walk-ins at a
    /// desk that is online).
    pub hold_back_percent: u8,
    /// Numbers a desk gets at least (when that many are free), whatever the split gives.
    pub min_per_desk: u32,
    /// Numbers a desk gets at most; 0 = an even split of the leasable part among the desks.
    pub max_per_desk: u32,
    /// Minutes before its slot starts at which an unspent leased number returns to the pool
    /// (the session's numbers return slot by slot, so a lease on the late morning still
    /// serves the walk-ins of early morning).
    #[serde(default = "default_expire_before")]
    pub expire_before_minutes: u32,
    /// Sessions of today and this many following days are leased.
    #[serde(default = "default_horizon")]
    pub horizon_days: u16,
    /// A desk holding fewer spendable numbers than this in a session it may book asks for
    /// more when it is online.
    #[serde(default = "default_low_water")]
    pub low_water: u32,
}

fn default_expire_before() -> u32 {
    10
}

fn default_horizon() -> u16 {
    1
}

fn default_low_water() -> u32 {
    1
}

impl Default for LeasePolicy {
    fn default() -> Self {
        LeasePolicy {
            hold_back_percent: 20,
            min_per_desk: 2,
            max_per_desk: 0,
            expire_before_minutes: default_expire_before(),
            horizon_days: default_horizon(),
            low_water: default_low_water(),
        }
    }
}

/// Why a lease policy is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    /// More than 100 percent held back.
    #[error("hold_back_percent must be 0–100")]
    HoldBack,
    /// The cap is below the minimum.
    #[error("max_per_desk must be 0 (no cap) or at least min_per_desk")]
    Cap,
    /// Leases expiring more than a day before their slot, or leasing more than 14 days ahead.
    #[error("expire_before_minutes must be at most 1440 and horizon_days at most 14")]
    Range,
}

impl LeasePolicy {
    /// Checks the policy is one the platform can apply.
    pub fn validate(&self) -> Result<(), PolicyError> {
        if self.hold_back_percent > 100 {
            return Err(PolicyError::HoldBack);
        }
        if self.max_per_desk != 0 && self.max_per_desk < self.min_per_desk {
            return Err(PolicyError::Cap);
        }
        if self.expire_before_minutes > 1440 || self.horizon_days > 14 {
            return Err(PolicyError::Range);
        }
        Ok(())
    }

    /// When a leased number of a slot starting at `slot_start` returns if unspent.
    pub fn expires_at(&self, slot_start: DateTime) -> DateTime {
        slot_start.checked_sub(SignedDuration::from_mins(i64::from(self.expire_before_minutes))).unwrap_or(slot_start)
    }

    /// How many numbers of a desk pool of `desk_pool` numbers are never leased.
    pub fn held_back(&self, desk_pool: u32) -> u32 {
        let n = (u64::from(desk_pool) * u64::from(self.hold_back_percent.min(100))).div_ceil(100);
        u32::try_from(n).unwrap_or(desk_pool).min(desk_pool)
    }

    /// How many numbers of a desk pool of `desk_pool` numbers one of `desks` desks may hold.
    pub fn share(&self, desk_pool: u32, desks: u32) -> u32 {
        if desks == 0 || desk_pool == 0 {
            return 0;
        }
        let leasable = desk_pool - self.held_back(desk_pool);
        let even = leasable / desks;
        let capped = if self.max_per_desk > 0 { even.min(self.max_per_desk) } else { even };
        capped.max(self.min_per_desk.min(leasable))
    }
}

/// Who holds a queue number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "held_by", rename_all = "snake_case")]
pub enum Holder {
    /// Nobody: it can be leased or booked.
    Free,
    /// Leased to a desk, not spent yet.
    Leased {
        /// The desk.
        device: DeviceId,
    },
    /// A live booking holds it (a leased number the desk spent, or any other booking).
    Booked {
        /// The booking.
        booking: BookingId,
    },
}

/// Why the ledger refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LeaseError {
    /// The number is not one of the session's regular numbers.
    #[error("queue number {0} is not a regular number of this session")]
    NotANumber(u32),
    /// A desk tried to spend a number that is not leased to it.
    #[error("queue number {0} is not leased to this desk")]
    NotLeasedToDesk(u32),
    /// The number is taken (leased to another desk, or booked).
    #[error("queue number {0} is taken")]
    Taken(u32),
    /// The number is in the other pool.
    #[error("queue number {0} is not in the {1:?} pool")]
    WrongPool(u32, Pool),
    /// The booking holds no number of this session.
    #[error("booking {0} holds no number of this session")]
    NoSuchBooking(BookingId),
}

impl LeaseError {
    /// A stable machine code.
    pub fn code(&self) -> &'static str {
        match self {
            LeaseError::NotANumber(_) => "queue_number_out_of_pool",
            LeaseError::NotLeasedToDesk(_) => "not_leased_to_desk",
            LeaseError::Taken(_) => "queue_number_taken",
            LeaseError::WrongPool(..) => "queue_number_out_of_pool",
            LeaseError::NoSuchBooking(_) => "not_found",
        }
    }
}

/// Who holds each regular number of one session.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SessionLedger {
    numbers: BTreeMap<u32, (Pool, Holder)>,
}

impl SessionLedger {
    /// A ledger of a session's slots with every number free.
    pub fn new<'a>(slots: impl IntoIterator<Item = &'a Slot>) -> SessionLedger {
        let mut numbers = BTreeMap::new();
        for slot in slots {
            for pool in [Pool::Online, Pool::Desk] {
                for n in slot.pool_numbers(pool) {
                    numbers.insert(n, (pool, Holder::Free));
                }
            }
        }
        SessionLedger { numbers }
    }

    /// The ledger of one session's slots as the booking rules see them (numbers booked in
    /// `taken`, numbers leased in `leased`): what the platform loads before granting.
    pub fn from_states<'a>(states: impl IntoIterator<Item = &'a SlotState>) -> SessionLedger {
        let mut ledger = SessionLedger::default();
        for st in states {
            for pool in [Pool::Online, Pool::Desk] {
                for n in st.slot.pool_numbers(pool) {
                    let holder = if st.taken.contains(&n) {
                        Holder::Booked { booking: BookingId(format!("#{n}")) }
                    } else if let Some(d) = st.lessee(n) {
                        Holder::Leased { device: d.clone() }
                    } else {
                        Holder::Free
                    };
                    ledger.numbers.insert(n, (pool, holder));
                }
            }
        }
        ledger
    }

    /// Who holds `n` (`None`: not a regular number of the session).
    pub fn holder(&self, n: u32) -> Option<&Holder> {
        self.numbers.get(&n).map(|(_, h)| h)
    }

    /// Sets who holds `n`, as the store has it (loading a ledger).
    pub fn set(&mut self, n: u32, holder: Holder) -> Result<(), LeaseError> {
        let entry = self.numbers.get_mut(&n).ok_or(LeaseError::NotANumber(n))?;
        entry.1 = holder;
        Ok(())
    }

    /// The numbers leased to `device` and not spent, lowest first.
    pub fn leased_to(&self, device: &DeviceId) -> Vec<u32> {
        self.numbers
            .iter()
            .filter(|(_, (_, h))| matches!(h, Holder::Leased { device: d } if d == device))
            .map(|(n, _)| *n)
            .collect()
    }

    /// How many numbers of `pool` are held (leased or booked).
    pub fn held(&self, pool: Pool) -> u32 {
        self.numbers.values().filter(|(p, h)| *p == pool && *h != Holder::Free).count() as u32
    }

    /// The size of a pool.
    pub fn capacity(&self, pool: Pool) -> u32 {
        self.numbers.values().filter(|(p, _)| *p == pool).count() as u32
    }

    /// Leases free desk-pool numbers to `device`, up to its share under `policy` among `desks`
    /// desks (counting what it holds already), never taking the last free numbers the policy
    /// holds back for desks without a lease, and only numbers `leasable` allows (the platform:
    /// numbers whose slot's lease would not have expired yet). The numbers leased now: the
    /// highest free number of each slot first (earliest slot first), then the next highest,
    /// so a desk holds numbers across the session and bookings without a lease keep each
    /// slot's early numbers.
    pub fn grant(
        &mut self,
        device: &DeviceId,
        policy: &LeasePolicy,
        desks: u32,
        slots: &[Slot],
        leasable: impl Fn(u32) -> bool,
    ) -> Vec<u32> {
        let share = policy.share(self.capacity(Pool::Desk), desks);
        let holds = self.leased_to(device).len() as u32;
        let held_back = policy.held_back(self.capacity(Pool::Desk));
        let free_now = self.numbers.values().filter(|(p, h)| *p == Pool::Desk && *h == Holder::Free).count() as u32;
        // Never lease into the part held back: leave at least that many desk numbers free.
        let want = share.saturating_sub(holds).min(free_now.saturating_sub(held_back)) as usize;
        // Each slot's free, leasable desk numbers, highest first; slots in time order.
        let mut ordered: Vec<&Slot> = slots.iter().collect();
        ordered.sort_by_key(|s| (s.start, s.first_queue_no));
        let columns: Vec<Vec<u32>> = ordered
            .iter()
            .map(|slot| {
                slot.pool_numbers(Pool::Desk)
                    .rev()
                    .filter(|n| matches!(self.numbers.get(n), Some((Pool::Desk, Holder::Free))) && leasable(*n))
                    .collect()
            })
            .collect();
        let mut granted = Vec::new();
        let deepest = columns.iter().map(Vec::len).max().unwrap_or(0);
        'rows: for row in 0..deepest {
            for col in &columns {
                if granted.len() >= want {
                    break 'rows;
                }
                if let Some(n) = col.get(row) {
                    granted.push(*n);
                }
            }
        }
        for n in &granted {
            if let Some(entry) = self.numbers.get_mut(n) {
                entry.1 = Holder::Leased { device: device.clone() };
            }
        }
        granted
    }

    /// A desk books a patient into a number leased to it: guaranteed, whatever happened to
    /// the rest of the session.
    pub fn spend(&mut self, device: &DeviceId, n: u32, booking: &BookingId) -> Result<(), LeaseError> {
        let entry = self.numbers.get_mut(&n).ok_or(LeaseError::NotANumber(n))?;
        match &entry.1 {
            Holder::Leased { device: d } if d == device => {
                entry.1 = Holder::Booked { booking: booking.clone() };
                Ok(())
            }
            _ => Err(LeaseError::NotLeasedToDesk(n)),
        }
    }

    /// A booking outside any lease takes `n` of `pool` (the rules chose it): only a free number.
    pub fn book(&mut self, pool: Pool, n: u32, booking: &BookingId) -> Result<(), LeaseError> {
        let entry = self.numbers.get_mut(&n).ok_or(LeaseError::NotANumber(n))?;
        if entry.0 != pool {
            return Err(LeaseError::WrongPool(n, pool));
        }
        if entry.1 != Holder::Free {
            return Err(LeaseError::Taken(n));
        }
        entry.1 = Holder::Booked { booking: booking.clone() };
        Ok(())
    }

    /// The lowest free number of `pool` (what a booking outside a lease may take).
    pub fn lowest_free(&self, pool: Pool) -> Option<u32> {
        self.numbers.iter().find(|(_, (p, h))| *p == pool && *h == Holder::Free).map(|(n, _)| *n)
    }

    /// A cancelled booking frees its number.
    pub fn cancel(&mut self, booking: &BookingId) -> Result<u32, LeaseError> {
        let (n, entry) = self
            .numbers
            .iter_mut()
            .find(|(_, (_, h))| matches!(h, Holder::Booked { booking: b } if b == booking))
            .ok_or_else(|| LeaseError::NoSuchBooking(booking.clone()))?;
        entry.1 = Holder::Free;
        Ok(*n)
    }

    /// A desk gives numbers back early (those not leased to it are left alone); the numbers
    /// freed.
    pub fn give_back(&mut self, device: &DeviceId, numbers: &[u32]) -> Vec<u32> {
        let mut freed = Vec::new();
        for n in numbers {
            if let Some(entry) = self.numbers.get_mut(n)
                && matches!(&entry.1, Holder::Leased { device: d } if d == device)
            {
                entry.1 = Holder::Free;
                freed.push(*n);
            }
        }
        freed
    }

    /// The lease ends (expiry, or the device revoked): every unspent number returns.
    pub fn end_lease(&mut self, device: &DeviceId) -> Vec<u32> {
        let numbers = self.leased_to(device);
        self.give_back(device, &numbers)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn share_splits_the_leasable_part_and_honours_the_minimum_and_the_cap() {
        let p = LeasePolicy { hold_back_percent: 20, min_per_desk: 2, max_per_desk: 0, ..LeasePolicy::default() };
        // 20 desk numbers, 4 held back, 16 leasable among 3 desks.
        assert_eq!(p.share(20, 3), 5);
        assert_eq!(p.share(20, 20), 2, "the minimum, when numbers allow");
        assert_eq!(p.share(2, 5), 1, "never more than is leasable");
        assert_eq!(LeasePolicy { max_per_desk: 3, ..p }.share(20, 1), 3);
        assert_eq!(p.share(20, 0), 0);
        assert_eq!(LeasePolicy { hold_back_percent: 100, ..p }.share(20, 2), 0);
    }

    #[test]
    fn a_desk_counts_its_deadline_from_receipt_not_from_its_own_clock() {
        let server_now: Timestamp = "2026-12-04T07:00:00Z".parse().unwrap();
        let expires: Timestamp = "2026-12-04T08:50:00Z".parse().unwrap();
        // The desk's clock is 3 hours off: it received the lease at its 04:00.
        let received = "2026-12-04T04:00:00Z".parse::<Timestamp>().unwrap().as_millisecond();
        let deadline = desk_deadline_ms(received, expires, server_now);
        // 110 minutes left, less a minute and 2% (132 s): 106 min 48 s after receipt.
        assert_eq!(deadline - received, (110 * 60 - 60 - 132) * 1000);
        // A lease already past its expiry is never usable.
        assert!(desk_deadline_ms(received, server_now, expires) < received);
    }

    #[test]
    fn policies_out_of_range_are_refused() {
        assert_eq!(LeasePolicy::default().validate(), Ok(()));
        assert_eq!(
            LeasePolicy { hold_back_percent: 101, ..LeasePolicy::default() }.validate(),
            Err(PolicyError::HoldBack)
        );
        assert_eq!(
            LeasePolicy { min_per_desk: 3, max_per_desk: 2, ..LeasePolicy::default() }.validate(),
            Err(PolicyError::Cap)
        );
        assert_eq!(LeasePolicy { horizon_days: 15, ..LeasePolicy::default() }.validate(), Err(PolicyError::Range));
    }
}
