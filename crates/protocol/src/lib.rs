//! The wire types Frontdesk's desks and central platform exchange, shared by the axum handlers
//! and the desk's sync client so the two cannot drift apart.
//!
//! Versioning: every request carries [`PROTOCOL_VERSION`]; the platform answers a request of a
//! version it does not speak with `426 Upgrade Required` and the versions it speaks. Fields are
//! only ever added (with `#[serde(default)]`) within a version; anything else is a new version.
//! Plain domain records (sites, sessions, slots, bookings, patients, suggestions) travel in
//! their `frontdesk-domain` serde form, which is therefore part of this contract.

pub mod admin;
pub mod enroll;
pub mod online;
pub mod sync;

/// The protocol version this build speaks. Version 2 added capacity leases: `lease` and
/// `lease_policy` records in the change log, `server_now` in pull answers, `leased` book ops
/// that the platform grants as [`frontdesk_domain::booking::QueueChoice::Leased`], and
/// `POST /v1/sync/leases`. Version 3 added the waiting room: `queue_entry` records and
/// `queue` ops.
pub const PROTOCOL_VERSION: u32 = 3;

/// The oldest protocol version the platform still answers (a version-1 desk is served the
/// change log without lease records).
pub const MIN_PROTOCOL_VERSION: u32 = 1;

/// The header a request names its protocol version in.
pub const VERSION_HEADER: &str = "x-frontdesk-protocol";

/// Every error the platform answers with: a stable code the client switches on, and a message
/// for people.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ApiError {
    /// Stable machine code, e.g. `body_too_large`, `rate_limited`, `forbidden_site`.
    pub code: String,
    /// Human-readable explanation (English; the desk localises by `code`).
    pub message: String,
    /// Field-level details, when the request was invalid.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<frontdesk_domain::patient::FieldError>,
}
