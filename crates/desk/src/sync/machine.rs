//! The sync loop's decisions, without I/O: events in, instructions out. The network loop in
//! [`super::client`] only carries them out, so every decision here is testable with a pinned
//! clock and a fixed random number.

use std::time::Duration;

/// What happened.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// A cycle should start (first start, timer fired, or asked to sync now).
    Start,
    /// Something was changed locally: push it now if the platform is reachable.
    LocalChange,
    /// A push was answered.
    Pushed {
        /// Ops the platform settled in this push.
        settled: usize,
        /// Ops still in the outbox after it.
        remaining: u64,
    },
    /// A pull page was applied.
    Pulled {
        /// The platform has more pages after this one.
        more: bool,
    },
    /// A request failed (no connection, timeout, 5xx, 429, …).
    Failed {
        /// The platform's `Retry-After`, when it sent one.
        retry_after: Option<Duration>,
    },
}

/// What to do next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Instruction {
    /// Push the next batch of the outbox.
    Push,
    /// Pull the next page of changes.
    Pull,
    /// The cycle is complete: everything pushed, caught up with the platform.
    Done,
    /// Wait this long, then send [`Event::Start`] (a local change may cut the wait short when
    /// the last cycle succeeded).
    Wait(Duration),
    /// Go on with what was being done (e.g. keep backing off).
    Continue,
}

/// How long to wait between attempts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The first retry's ceiling.
    pub base: Duration,
    /// The largest ceiling.
    pub cap: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff { base: Duration::from_millis(500), cap: Duration::from_secs(60) }
    }
}

impl Backoff {
    /// "Full jitter" (Brooker, AWS Architecture Blog, 2015): a uniformly random wait between
    /// zero and the exponential ceiling, so that desks that lost the platform together at
    /// 08:00 do not come back together. `unit` is a random number in `[0, 1)` from the caller.
    /// A platform's `Retry-After` is a floor.
    pub fn delay(&self, failures: u32, unit: f64, retry_after: Option<Duration>) -> Duration {
        let exp = 2f64.powi(failures.saturating_sub(1).min(30) as i32);
        let ceiling = self.base.as_secs_f64() * exp;
        let ceiling = ceiling.min(self.cap.as_secs_f64());
        let jittered = Duration::from_secs_f64(ceiling * unit.clamp(0.0, 1.0));
        retry_after.map_or(jittered, |r| jittered.max(r))
    }
}

/// Where a sync cycle is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Idle,
    Pushing,
    Pulling,
    Waiting,
}

/// The sync state machine.
#[derive(Debug, Clone)]
pub struct SyncMachine {
    phase: Phase,
    failures: u32,
    backoff: Backoff,
    /// A push that settled nothing while ops remain means the platform deferred them: pull
    /// and come back later instead of pushing the same batch in a loop.
    stalled_pushes: u32,
}

impl SyncMachine {
    /// A machine with the given backoff.
    pub fn new(backoff: Backoff) -> SyncMachine {
        SyncMachine { phase: Phase::Idle, failures: 0, backoff, stalled_pushes: 0 }
    }

    /// Consecutive failed attempts (0 when the last attempt succeeded).
    pub fn failures(&self) -> u32 {
        self.failures
    }

    /// True while the platform answered the last request.
    pub fn online(&self) -> bool {
        self.failures == 0
    }

    /// Feeds an event; `pending` is the number of ops in the outbox now, `unit` a random
    /// number in `[0, 1)` used only for backoff jitter.
    pub fn handle(&mut self, event: Event, pending: u64, unit: f64) -> Instruction {
        match event {
            Event::Start => self.start(pending),
            Event::LocalChange => match self.phase {
                // Waiting after a failure: keep waiting (backoff), the op is safe in the outbox.
                Phase::Waiting if self.failures > 0 => Instruction::Continue,
                Phase::Idle | Phase::Waiting => self.start(pending),
                // Mid-cycle: the running cycle will pick the op up.
                Phase::Pushing => Instruction::Push,
                Phase::Pulling => Instruction::Pull,
            },
            Event::Pushed { settled, remaining } => {
                self.failures = 0;
                if remaining > 0 && settled > 0 {
                    self.stalled_pushes = 0;
                    self.phase = Phase::Pushing;
                    Instruction::Push
                } else {
                    if remaining > 0 {
                        self.stalled_pushes += 1;
                    }
                    self.phase = Phase::Pulling;
                    Instruction::Pull
                }
            }
            Event::Pulled { more } => {
                self.failures = 0;
                if more {
                    self.phase = Phase::Pulling;
                    Instruction::Pull
                } else if pending > 0 && self.stalled_pushes == 0 {
                    // Ops were made while pulling: push them in this cycle.
                    self.phase = Phase::Pushing;
                    Instruction::Push
                } else {
                    self.phase = Phase::Idle;
                    self.stalled_pushes = 0;
                    Instruction::Done
                }
            }
            Event::Failed { retry_after } => {
                self.failures = self.failures.saturating_add(1);
                self.phase = Phase::Waiting;
                Instruction::Wait(self.backoff.delay(self.failures, unit, retry_after))
            }
        }
    }

    fn start(&mut self, pending: u64) -> Instruction {
        if pending > 0 {
            self.phase = Phase::Pushing;
            Instruction::Push
        } else {
            self.phase = Phase::Pulling;
            Instruction::Pull
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cycle_pushes_everything_then_pulls_until_caught_up() {
        let mut m = SyncMachine::new(Backoff::default());
        assert_eq!(m.handle(Event::Start, 1200, 0.5), Instruction::Push);
        assert_eq!(m.handle(Event::Pushed { settled: 500, remaining: 700 }, 700, 0.5), Instruction::Push);
        assert_eq!(m.handle(Event::Pushed { settled: 500, remaining: 200 }, 200, 0.5), Instruction::Push);
        assert_eq!(m.handle(Event::Pushed { settled: 200, remaining: 0 }, 0, 0.5), Instruction::Pull);
        assert_eq!(m.handle(Event::Pulled { more: true }, 0, 0.5), Instruction::Pull);
        assert_eq!(m.handle(Event::Pulled { more: false }, 0, 0.5), Instruction::Done);
        assert!(m.online());
    }

    #[test]
    fn nothing_pending_starts_with_a_pull_and_new_ops_are_pushed_in_the_same_cycle() {
        let mut m = SyncMachine::new(Backoff::default());
        assert_eq!(m.handle(Event::Start, 0, 0.5), Instruction::Pull);
        assert_eq!(m.handle(Event::Pulled { more: false }, 1, 0.5), Instruction::Push);
        assert_eq!(m.handle(Event::Pushed { settled: 1, remaining: 0 }, 0, 0.5), Instruction::Pull);
        assert_eq!(m.handle(Event::Pulled { more: false }, 0, 0.5), Instruction::Done);
    }

    #[test]
    fn a_deferred_push_is_not_retried_in_a_loop() {
        let mut m = SyncMachine::new(Backoff::default());
        assert_eq!(m.handle(Event::Start, 3, 0.5), Instruction::Push);
        assert_eq!(m.handle(Event::Pushed { settled: 0, remaining: 3 }, 3, 0.5), Instruction::Pull);
        assert_eq!(m.handle(Event::Pulled { more: false }, 3, 0.5), Instruction::Done);
        // The next cycle tries again.
        assert_eq!(m.handle(Event::Start, 3, 0.5), Instruction::Push);
    }

    #[test]
    fn failures_back_off_with_full_jitter_and_honour_retry_after() {
        let mut m = SyncMachine::new(Backoff { base: Duration::from_secs(1), cap: Duration::from_secs(60) });
        assert_eq!(m.handle(Event::Start, 1, 0.0), Instruction::Push);
        // Ceiling 1 s, 2 s, 4 s, …; the wait is the ceiling times the random unit.
        assert_eq!(
            m.handle(Event::Failed { retry_after: None }, 1, 0.5),
            Instruction::Wait(Duration::from_millis(500))
        );
        assert_eq!(m.handle(Event::Failed { retry_after: None }, 1, 0.5), Instruction::Wait(Duration::from_secs(1)));
        assert_eq!(
            m.handle(Event::Failed { retry_after: None }, 1, 0.999_999),
            Instruction::Wait(Duration::from_secs_f64(4.0 * 0.999_999))
        );
        assert_eq!(m.handle(Event::Failed { retry_after: None }, 1, 0.0), Instruction::Wait(Duration::ZERO));
        assert!(!m.online());
        assert_eq!(m.failures(), 4);
        // Retry-After is a floor.
        let w = m.handle(Event::Failed { retry_after: Some(Duration::from_secs(30)) }, 1, 0.1);
        assert_eq!(w, Instruction::Wait(Duration::from_secs(30)));
        // The ceiling stops at the cap.
        for _ in 0..40 {
            m.handle(Event::Failed { retry_after: None }, 1, 0.5);
        }
        assert_eq!(m.handle(Event::Failed { retry_after: None }, 1, 1.0), Instruction::Wait(Duration::from_secs(60)));
        // A local change while backing off does not hammer the platform.
        assert_eq!(m.handle(Event::LocalChange, 2, 0.5), Instruction::Continue);
        // Success resets.
        assert_eq!(m.handle(Event::Start, 2, 0.5), Instruction::Push);
        assert_eq!(m.handle(Event::Pushed { settled: 2, remaining: 0 }, 0, 0.5), Instruction::Pull);
        assert!(m.online());
    }

    #[test]
    fn jitter_spreads_desks_that_failed_together() {
        let b = Backoff::default();
        let waits: Vec<Duration> = (0..10).map(|i| b.delay(5, f64::from(i) / 10.0, None)).collect();
        let distinct: std::collections::HashSet<_> = waits.iter().collect();
        assert_eq!(distinct.len(), 10);
        assert!(waits.iter().all(|w| *w <= Duration::from_secs(8)));
    }
}
