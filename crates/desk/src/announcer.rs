//! Which calls to announce, so each is heard once: every window that plays sound (a display
//! window, a second display on another monitor) asks the one [`Announcer`] of the app, which
//! hands each call to the first window that asks and to no other. A call is a booking's n-th
//! call: a recall (n + 1) is a new call and is announced again.
//!
//! Calls older than [`MAX_AGE`] are not announced (a display opened at noon does not read out
//! the morning, and a call that reaches this PC late after an outage is shown, not spoken).

use std::collections::HashMap;

use jiff::{SignedDuration, Timestamp};

/// A call heard later than this after it was made is shown but not spoken.
pub const MAX_AGE: SignedDuration = SignedDuration::from_secs(120);

/// A call as the queue shows it now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeardCall<T> {
    /// The booking called.
    pub booking_id: String,
    /// The how-many-th call of that booking.
    pub calls: u32,
    /// When it was made.
    pub called_at: Timestamp,
    /// What the caller needs to announce it.
    pub what: T,
}

/// The calls already handed out, per booking (the highest call number).
#[derive(Debug, Default)]
pub struct Announcer {
    claimed: HashMap<String, u32>,
}

impl Announcer {
    /// Nothing claimed yet.
    pub fn new() -> Announcer {
        Announcer::default()
    }

    /// Of the calls shown now, those nobody announced yet and recent enough, marked as
    /// announced. Bookings no longer called are forgotten: a booking can only be called again
    /// by a new call, with a higher number.
    pub fn claim<T>(&mut self, calls: Vec<HeardCall<T>>, now: Timestamp) -> Vec<HeardCall<T>> {
        self.claimed.retain(|booking, _| calls.iter().any(|c| &c.booking_id == booking));
        let mut out = Vec::new();
        for c in calls {
            let known = self.claimed.get(&c.booking_id).copied().unwrap_or(0);
            if c.calls <= known {
                continue;
            }
            self.claimed.insert(c.booking_id.clone(), c.calls);
            let age = now.duration_since(c.called_at);
            if age <= MAX_AGE {
                out.push(c);
            }
        }
        out
    }

    /// How many bookings it remembers (bounded by the calls shown at once).
    pub fn remembered(&self) -> usize {
        self.claimed.len()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn call(booking: &str, calls: u32, when: &str) -> HeardCall<()> {
        HeardCall { booking_id: booking.into(), calls, called_at: at(when), what: () }
    }

    fn keys(v: &[HeardCall<()>]) -> Vec<(String, u32)> {
        v.iter().map(|c| (c.booking_id.clone(), c.calls)).collect()
    }

    #[test]
    fn each_call_goes_to_one_window_once_and_a_recall_again() {
        let mut a = Announcer::new();
        let now = at("2026-11-23T01:00:05Z");
        let shown = || vec![call("b1", 1, "2026-11-23T01:00:00Z"), call("b2", 1, "2026-11-23T01:00:01Z")];
        assert_eq!(keys(&a.claim(shown(), now)), [("b1".into(), 1), ("b2".into(), 1)]);
        // The second window asks a moment later: nothing left for it.
        assert!(a.claim(shown(), now).is_empty());
        // b1 recalled: its second call is new.
        let recalled = vec![call("b1", 2, "2026-11-23T01:00:30Z"), call("b2", 1, "2026-11-23T01:00:01Z")];
        assert_eq!(keys(&a.claim(recalled, at("2026-11-23T01:00:31Z"))), [("b1".into(), 2)]);
    }

    #[test]
    fn old_calls_are_not_spoken_and_forgotten_bookings_stay_bounded() {
        let mut a = Announcer::new();
        let now = at("2026-11-23T04:00:00Z");
        // A display opened at noon: the morning's last call is shown, not spoken, and not
        // spoken later either.
        assert!(a.claim(vec![call("old", 3, "2026-11-23T02:00:00Z")], now).is_empty());
        assert!(a.claim(vec![call("old", 3, "2026-11-23T02:00:00Z")], now).is_empty());
        assert_eq!(a.remembered(), 1);
        // The booking is no longer called (seen): forgotten.
        assert!(a.claim(Vec::<HeardCall<()>>::new(), now).is_empty());
        assert_eq!(a.remembered(), 0);
        // Exactly two minutes old is still spoken; a second more is not.
        let edge = vec![call("e", 1, "2026-11-23T03:58:00Z"), call("f", 1, "2026-11-23T03:57:59Z")];
        assert_eq!(keys(&a.claim(edge, now)), [("e".into(), 1)]);
    }
}
