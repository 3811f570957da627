//! Time is injected. Every rule that depends on "now" takes it as an argument; the engines ask
//! a [`Clock`] for it, so tests pin time and never sleep. [`SystemClock`] and
//! [`clock_from_env`] are the only readers of the system clock and of `FRONTDESK_NOW`; the
//! binaries call them at their edge.

use std::sync::{Arc, Mutex};

use jiff::{SignedDuration, Timestamp};

/// A source of the current instant.
pub trait Clock: Send + Sync {
    /// The current instant.
    fn now(&self) -> Timestamp;
}

/// The operating system's clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::now()
    }
}

/// A clock that stays where it is put: for tests, demos and `FRONTDESK_NOW`.
#[derive(Debug)]
pub struct ManualClock {
    now: Mutex<Timestamp>,
}

impl ManualClock {
    /// A clock standing at `now`.
    pub fn new(now: Timestamp) -> ManualClock {
        ManualClock { now: Mutex::new(now) }
    }

    /// Moves the clock by `by` (may be negative, to model a clock stepping back).
    pub fn advance(&self, by: SignedDuration) {
        let mut now = self.now.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        *now = now.checked_add(by).unwrap_or(*now);
    }

    /// Puts the clock at `to`.
    pub fn set(&self, to: Timestamp) {
        *self.now.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = to;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        *self.now.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The environment variable that pins the clock (RFC 3339), for demos on a fixed day and tests.
pub const NOW_ENV: &str = "FRONTDESK_NOW";

/// Why `FRONTDESK_NOW` could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{NOW_ENV}={value} is not an RFC 3339 timestamp: {reason}")]
pub struct ClockEnvError {
    value: String,
    reason: String,
}

/// The system clock, or a clock pinned at `FRONTDESK_NOW` when it is set (and not blank).
pub fn clock_from_env() -> Result<Arc<dyn Clock>, ClockEnvError> {
    clock_from_value(std::env::var(NOW_ENV).ok().as_deref())
}

/// The clock a value of `FRONTDESK_NOW` asks for: `None` or blank is the system clock, an
/// RFC 3339 timestamp a clock pinned there, anything else an error.
pub fn clock_from_value(value: Option<&str>) -> Result<Arc<dyn Clock>, ClockEnvError> {
    match value.map(str::trim) {
        Some(v) if !v.is_empty() => {
            let ts: Timestamp =
                v.parse().map_err(|e: jiff::Error| ClockEnvError { value: v.to_string(), reason: e.to_string() })?;
            Ok(Arc::new(ManualClock::new(ts)))
        }
        _ => Ok(Arc::new(SystemClock)),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn a_pinned_value_pins_the_clock() {
        let clock = clock_from_value(Some(" 2026-11-23T08:10:00+08:00 ")).unwrap();
        assert_eq!(clock.now(), "2026-11-23T00:10:00Z".parse::<Timestamp>().unwrap());
    }

    #[test]
    fn unset_or_blank_is_the_system_clock() {
        for value in [None, Some(""), Some("  ")] {
            let before = Timestamp::now();
            let now = clock_from_value(value).unwrap().now();
            assert!(now >= before && now <= Timestamp::now(), "{value:?}");
        }
    }

    #[test]
    fn anything_else_is_an_error_naming_the_variable() {
        let e = clock_from_value(Some("tomorrow")).err().unwrap();
        let text = e.to_string();
        assert!(text.starts_with("FRONTDESK_NOW=tomorrow is not an RFC 3339 timestamp"), "{text}");
    }
}
