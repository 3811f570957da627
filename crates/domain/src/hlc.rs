//! Hybrid logical clock timestamps for ops (Kulkarni et al., 2014): they follow wall-clock time
//! when clocks are sane and still order causally related events when a desk's clock is wrong.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A hybrid logical timestamp: milliseconds of physical time plus a logical counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Hlc {
    /// Milliseconds since the Unix epoch (the largest physical time seen).
    pub wall_ms: i64,
    /// Logical counter for events within the same millisecond.
    pub counter: u32,
}

impl Hlc {
    /// The timestamp for a local event at physical time `now_ms`, after `self`.
    pub fn tick(self, now_ms: i64) -> Hlc {
        if now_ms > self.wall_ms {
            Hlc { wall_ms: now_ms, counter: 0 }
        } else {
            Hlc { wall_ms: self.wall_ms, counter: self.counter.saturating_add(1) }
        }
    }

    /// The timestamp after receiving `remote` at physical time `now_ms`.
    pub fn observe(self, remote: Hlc, now_ms: i64) -> Hlc {
        let wall = now_ms.max(self.wall_ms).max(remote.wall_ms);
        let counter = if wall == self.wall_ms && wall == remote.wall_ms {
            self.counter.max(remote.counter).saturating_add(1)
        } else if wall == self.wall_ms {
            self.counter.saturating_add(1)
        } else if wall == remote.wall_ms {
            remote.counter.saturating_add(1)
        } else {
            0
        };
        Hlc { wall_ms: wall, counter }
    }
}

impl fmt::Display for Hlc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Fixed width so that the text sorts like the value.
        write!(f, "{:013}-{:06}", self.wall_ms, self.counter)
    }
}

/// A string that is not `WALLMS-COUNTER`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a hybrid logical clock timestamp: {0}")]
pub struct HlcParseError(String);

impl FromStr for Hlc {
    type Err = HlcParseError;
    fn from_str(s: &str) -> Result<Hlc, HlcParseError> {
        let (w, c) = s.split_once('-').ok_or_else(|| HlcParseError(s.to_string()))?;
        Ok(Hlc {
            wall_ms: w.parse().map_err(|_| HlcParseError(s.to_string()))?,
            counter: c.parse().map_err(|_| HlcParseError(s.to_string()))?,
        })
    }
}

impl Serialize for Hlc {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Hlc {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Hlc, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tick_follows_wall_time_and_survives_a_clock_stepping_back() {
        let a = Hlc::default().tick(1_000);
        assert_eq!(a, Hlc { wall_ms: 1_000, counter: 0 });
        let b = a.tick(1_000);
        assert_eq!(b, Hlc { wall_ms: 1_000, counter: 1 });
        let c = b.tick(900); // clock stepped back
        assert!(c > b);
        let d = c.tick(2_000);
        assert_eq!(d, Hlc { wall_ms: 2_000, counter: 0 });
    }

    #[test]
    fn observe_orders_after_both() {
        let local = Hlc { wall_ms: 1_000, counter: 3 };
        let remote = Hlc { wall_ms: 5_000, counter: 7 };
        let r = local.observe(remote, 2_000);
        assert!(r > local && r > remote);
        assert_eq!(r, Hlc { wall_ms: 5_000, counter: 8 });
        let same = Hlc { wall_ms: 5_000, counter: 2 }.observe(remote, 5_000);
        assert_eq!(same, Hlc { wall_ms: 5_000, counter: 8 });
        assert_eq!(local.observe(remote, 9_000), Hlc { wall_ms: 9_000, counter: 0 });
    }

    #[test]
    fn text_form_round_trips_and_sorts() {
        let a = Hlc { wall_ms: 999, counter: 12 };
        let b = Hlc { wall_ms: 1_000, counter: 1 };
        assert_eq!(a.to_string().parse::<Hlc>(), Ok(a));
        assert!(a.to_string() < b.to_string());
        assert!("x-1".parse::<Hlc>().is_err());
    }
}
