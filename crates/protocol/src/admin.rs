//! The admin API: sites, departments, providers, sessions from templates, suspend/resume,
//! devices, audit. Plain domain records travel in their domain serde form.

use frontdesk_domain::schedule::{ProviderId, SessionTemplate, SiteId};
use jiff::civil::Date;
use serde::{Deserialize, Serialize};

/// `POST /v1/admin/sites/{site}/sessions/generate`: lay out a provider's sessions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GenerateSessions {
    /// The provider.
    pub provider_id: ProviderId,
    /// The templates (e.g. Mon–Fri 08:00–12:00, 30-minute slots of 6, 2 desk-only).
    pub templates: Vec<SessionTemplate>,
    /// First day.
    pub from: Date,
    /// Number of days (at most 366).
    pub days: u16,
}

/// What a generation did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GeneratedSessions {
    /// Sessions created.
    pub sessions_created: u32,
    /// Slots created.
    pub slots_created: u32,
    /// Sessions that already existed and were left as they are.
    pub sessions_existing: u32,
}

/// `POST /v1/admin/sessions/{id}/suspend`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SuspendSession {
    /// Why (shown to patients and nurses).
    pub reason: String,
}

/// The result of checking a site's audit chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditReport {
    /// The chain (`-` for platform-wide actions).
    pub site_id: SiteId,
    /// Rows checked.
    pub rows: u64,
    /// True when the chain is intact.
    pub ok: bool,
    /// What is wrong, row by row.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub problems: Vec<String>,
}

/// `GET /v1/admin/audit/verify`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditVerification {
    /// One report per chain.
    pub chains: Vec<AuditReport>,
}

/// `POST /v1/admin/sessions/{id}/pools`: re-split every slot of a session between the online
/// and the desk pool (each slot keeps its total capacity and its block of numbers).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetPools {
    /// Numbers per slot kept for the desk (the rest go online).
    pub desk_per_slot: u32,
}

/// `GET /v1/admin/sites/{site}/leases`: the capacity leases of a site's desks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SiteLeases {
    /// The site.
    pub site_id: frontdesk_domain::schedule::SiteId,
    /// Its policy (`None`: the site leases nothing).
    pub policy: Option<frontdesk_domain::lease::LeasePolicy>,
    /// One row per desk of the site (revoked desks included while they have history).
    pub desks: Vec<DeskLeases>,
}

/// One desk's leases.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeskLeases {
    /// The desk.
    pub device_id: frontdesk_domain::schedule::DeviceId,
    /// Its name.
    pub name: String,
    /// Numbers leased to it and not spent now.
    pub held: u32,
    /// Of those, how many expire within the next hour.
    pub expiring: u32,
    /// The earliest expiry among them.
    #[serde(default)]
    pub next_expiry: Option<jiff::Timestamp>,
    /// Numbers ever granted to it.
    pub granted: u64,
    /// Numbers it spent on bookings.
    pub spent: u64,
    /// Numbers it gave back early.
    pub returned: u64,
    /// Numbers that expired unspent.
    pub expired: u64,
    /// Numbers taken back when it was revoked.
    pub revoked: u64,
}
