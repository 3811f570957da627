//! Sync: how a desk that works offline and a platform that owns the truth agree.
//!
//! Every local change is already an op in the outbox (written in the same transaction as its
//! effect). Sync pushes the outbox in device order, in bounded, compressed batches; the
//! platform answers each op — applied, duplicate, conflict, rejected or deferred — and the desk
//! settles it: platform ids and numbers replace provisional ones, conflicts go to an inbox for a
//! person, nothing is dropped silently. Then it pulls the site's change log after its cursor,
//! page by page, each page applied atomically with the cursor, and re-applies the ops still
//! pending on top (rebase), so what the desk shows is the platform's state plus its own
//! unconfirmed work.
//!
//! Retrying is always safe: an op is identified by its UUIDv7 and by (device, sequence), so a
//! push whose answer was lost is answered `duplicate` with the original result next time. A
//! killed process loses nothing: the outbox and the cursor only move inside committed
//! transactions. See docs/SYNC.md.
//!
//! After push and pull, a cycle sends the lease request that is due: numbers this desk gave
//! back, and a top-up when a session it may still book is below the policy's low water
//! (docs/SYNC.md, "Capacity leases"); then it pulls again.
//!
//! While `sync_watch` runs, a watcher thread holds the live board's long-poll on its own
//! connection and starts a cycle as soon as the platform has a change of the site
//! (docs/SYNC.md, "Live board"); the normal cycle goes on regardless.
//!
//! The decisions (what next, how long to back off) are in [`machine`], free of I/O; the
//! network loop is [`client`]; what sync does to the replica is in [`replica`].

pub mod client;
pub mod machine;
pub mod replica;

pub use client::{
    CycleReport, HttpTransport, LIVE_WAIT, LeaseReport, SyncError, SyncSignal, enroll, request_leases, sync_once,
    sync_watch, sync_watch_with,
};
pub use replica::{ConflictEntry, Credentials, PushSummary, Resolution, ResolutionOutcome, SyncStatus};
