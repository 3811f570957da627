//! The headless desk engine that the `frontdesk` CLI and the desktop app share: the local
//! SQLite replica, the booking service that predicts with the same rules the platform decides
//! with, the outbox every change is written to in the same transaction, patient search, and the
//! waiting room's queues (calls are ops too: made offline, synced, shown on every desk).

pub mod announcer;
mod db;
pub mod demo;
mod engine;
mod error;
pub mod keystore;
mod leases;
pub mod permissions;
mod printing;
mod queue;
mod rows;
pub mod staff;
pub mod sync;
pub mod voice;

pub use engine::{
    Board, BoardDepartment, BoardProvider, BoardSession, BoardSlot, BookTarget, BookingView, CounterBooking,
    DemoSeeded, Desk, DeskStatus, DeviceInfo, NotBooked, OutboxEntry, ScanOutcome, SystemClock, WalkInOption,
};
pub use error::{DeskError, ErrorClass, field_label};
pub use frontdesk_protocol::enroll::DeviceRole;
pub use leases::{EXPIRING_WITHIN_MS, LeaseEntry, LeaseState, LeaseStatus, SessionLeases, TOP_UP_INTERVAL_MS};
pub use permissions::Action;
pub use printing::{PrintSettings, Printed, Printer};
pub use queue::{
    CallAnnouncement, DISPLAY_NEXT, DisplayCall, DisplayWaiting, QUEUE_POLICY, QueueActOutcome, QueueEntryView,
    QueueNotice, SessionQueueView, WaitingRoom, WaitingRoomRow,
};

/// The desk's data directory when none is given: the OS data directory under the app's
/// identifier, the same place the desktop app keeps its replica.
pub fn default_data_dir() -> Option<std::path::PathBuf> {
    dirs::data_dir().map(|d| d.join("com.frontdesk.desk"))
}

/// The replica's file name inside the data directory.
pub const REPLICA_FILE: &str = "replica.db";
