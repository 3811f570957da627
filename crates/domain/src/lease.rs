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

use serde::{Deserialize, Serialize};

use crate::schedule::{BookingId, DeviceId, Pool, Slot};

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
}

impl Default for LeasePolicy {
    fn default() -> Self {
        LeasePolicy { hold_back_percent: 20, min_per_desk: 2, max_per_desk: 0 }
    }
}

impl LeasePolicy {
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
    /// holds back for desks without a lease. The numbers leased now, taken from the top of the
    /// pool, so bookings without a lease keep the early numbers.
    pub fn grant(&mut self, device: &DeviceId, policy: &LeasePolicy, desks: u32) -> Vec<u32> {
        let share = policy.share(self.capacity(Pool::Desk), desks);
        let holds = self.leased_to(device).len() as u32;
        let held_back = policy.held_back(self.capacity(Pool::Desk));
        let free: Vec<u32> = self
            .numbers
            .iter()
            .rev()
            .filter(|(_, (p, h))| *p == Pool::Desk && *h == Holder::Free)
            .map(|(n, _)| *n)
            .collect();
        // Never lease into the part held back: leave at least that many desk numbers free.
        let leasable_now = (free.len() as u32).saturating_sub(held_back);
        let want = share.saturating_sub(holds).min(leasable_now);
        let granted: Vec<u32> = free.into_iter().take(want as usize).collect();
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
        let p = LeasePolicy { hold_back_percent: 20, min_per_desk: 2, max_per_desk: 0 };
        // 20 desk numbers, 4 held back, 16 leasable among 3 desks.
        assert_eq!(p.share(20, 3), 5);
        assert_eq!(p.share(20, 20), 2, "the minimum, when numbers allow");
        assert_eq!(p.share(2, 5), 1, "never more than is leasable");
        assert_eq!(LeasePolicy { max_per_desk: 3, ..p }.share(20, 1), 3);
        assert_eq!(p.share(20, 0), 0);
        assert_eq!(LeasePolicy { hold_back_percent: 100, ..p }.share(20, 2), 0);
    }
}
