//! Frontdesk's pure domain: the types of an outpatient front desk and the booking rules that
//! both the desk (to predict) and the central platform (to decide) run. No I/O lives here:
//! time comes from an injected [`clock::Clock`] (the system clock and `FRONTDESK_NOW` are read
//! only by [`clock::SystemClock`] and [`clock::clock_from_env`], which the binaries call at
//! their edge), randomness from the caller.

pub mod announce;
pub mod booking;
pub mod clock;
pub mod demo;
pub mod document;
pub mod hlc;
pub mod lang;
pub mod lease;
pub mod names;
pub mod patient;
pub mod queue;
pub mod scan;
pub mod schedule;
pub mod ticket;

pub use lang::Lang;
