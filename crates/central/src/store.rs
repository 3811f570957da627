//! The storage trait: everything the HTTP layer asks of a back-end. Designed for SQLite (one
//! process, one writer thread with group commit) and PostgreSQL (several stateless processes
//! sharing one database): methods speak in protocol and domain types and whole use cases
//! ("apply this push batch", "book online"), never in SQL, so no back-end assumption leaks
//! into the handlers or the rules.

use std::future::Future;
use std::pin::Pin;

use frontdesk_domain::lease::LeasePolicy;
use frontdesk_domain::schedule::{BookingId, Department, DeviceId, Provider, SessionId, Site, SiteId};
use frontdesk_protocol::admin::{AuditReport, GenerateSessions, GeneratedSessions, SiteLeases};
use frontdesk_protocol::enroll::{DeviceInfo, DeviceRole, EnrollCode, EnrollResponse};
use frontdesk_protocol::online::{
    Availability, AvailabilityQuery, OnlineBooking, OnlineBookingRequest, OnlineCancelled,
};
use frontdesk_protocol::sync::{LeaseAnswer, LeaseRequest, PullResponse, PushRequest, PushResponse};

use crate::error::StoreResult;

/// A boxed future, so the trait can be used as `Arc<dyn Store>`.
pub type BoxFut<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// An authenticated desk device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceAuth {
    /// The device.
    pub device_id: DeviceId,
    /// The site it is bound to.
    pub site_id: SiteId,
    /// What it may do.
    pub role: DeviceRole,
}

/// An entry for the audit log that is not an applied op (those are audited by the back-end
/// in the op's own transaction).
#[derive(Debug, Clone)]
pub struct AuditEntry {
    /// The chain (site) it belongs to; `-` for platform-wide.
    pub site_id: String,
    /// Who: `admin`, `device:<id>`, `cli`, `ip:<addr>`.
    pub actor: String,
    /// What, e.g. `forbidden_site`.
    pub action: String,
    /// Details (JSON text).
    pub detail: String,
}

/// A page of the whole platform's change log (schedule and booking rows of every site), for
/// the in-memory view ([`crate::view`]).
#[derive(Debug, Clone, Default)]
pub struct Feed {
    /// The changes, in cursor order.
    pub changes: Vec<frontdesk_protocol::sync::Change>,
    /// Where the next page starts.
    pub next: u64,
    /// More changes are there now.
    pub more: bool,
}

/// The entities the view follows (not patients: they are not needed to answer availability;
/// leases, so the view's slot states hold the leased numbers as the store's do; queue entries,
/// so a call wakes the site's live-board waits).
pub const FEED_ENTITIES: &str = "('site', 'department', 'session', 'slot', 'booking', 'lease', 'queue_entry')";

/// What one round of the platform's own lease work did ([`Store::lease_round`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LeaseRound {
    /// Numbers granted.
    pub granted: u64,
    /// Numbers whose lease expired unspent.
    pub expired: u64,
}

/// Everything the platform stores. See the module docs.
pub trait Store: Send + Sync + 'static {
    /// Applies a push batch of one device: each op in its own transaction scope, in device
    /// order; answers only once the batch is durable.
    fn push(&self, device: DeviceAuth, req: PushRequest) -> BoxFut<'_, StoreResult<PushResponse>>;
    /// A page of the site's change log after `cursor`.
    /// `pending`: how many ops the desk said it still has in its outbox (protocol 2): a pull
    /// with nothing pending lets its expired leases return (docs/SYNC.md, "Return"). The pull
    /// is recorded before the page is answered whenever the page or that claim matters to
    /// leases, so the round never returns a lease the desk may hold.
    fn pull(
        &self,
        device: DeviceAuth,
        cursor: u64,
        limit: u32,
        pending: Option<u64>,
    ) -> BoxFut<'_, StoreResult<PullResponse>>;
    /// The device a token hash belongs to, if it is enrolled and not revoked.
    fn authenticate(&self, token_hash: String) -> BoxFut<'_, StoreResult<Option<DeviceAuth>>>;
    /// Issues a one-time enrollment code for a site.
    fn create_enroll_code(&self, site: SiteId, ttl_hours: u32) -> BoxFut<'_, StoreResult<EnrollCode>> {
        self.create_enroll_code_for(site, ttl_hours, DeviceRole::Desk)
    }
    /// Issues a one-time enrollment code for a device of `role` at a site.
    fn create_enroll_code_for(
        &self,
        site: SiteId,
        ttl_hours: u32,
        role: DeviceRole,
    ) -> BoxFut<'_, StoreResult<EnrollCode>>;
    /// Trades an enrollment code for a device token.
    fn enroll(&self, code: String, name: String) -> BoxFut<'_, StoreResult<EnrollResponse>>;
    /// Devices, of one site or all.
    fn devices(&self, site: Option<SiteId>) -> BoxFut<'_, StoreResult<Vec<DeviceInfo>>>;
    /// Revokes a device's token.
    fn revoke_device(&self, device: DeviceId, actor: String) -> BoxFut<'_, StoreResult<()>>;
    /// Online numbers left on a day.
    fn availability(&self, site: SiteId, q: AvailabilityQuery) -> BoxFut<'_, StoreResult<Availability>>;
    /// Books online (validates and registers or finds the patient by document).
    fn book_online(&self, site: SiteId, req: OnlineBookingRequest) -> BoxFut<'_, StoreResult<OnlineBooking>>;
    /// Cancels an online booking, proven by its ticket code.
    fn cancel_online(&self, booking: BookingId, ticket_code: String) -> BoxFut<'_, StoreResult<OnlineCancelled>>;
    /// Sites.
    fn sites(&self) -> BoxFut<'_, StoreResult<Vec<Site>>>;
    /// Creates or updates a site.
    fn put_site(&self, site: Site) -> BoxFut<'_, StoreResult<Site>>;
    /// Creates or updates a department.
    fn put_department(&self, dept: Department) -> BoxFut<'_, StoreResult<Department>>;
    /// Creates or updates a provider.
    fn put_provider(&self, provider: Provider) -> BoxFut<'_, StoreResult<Provider>>;
    /// Lays out sessions and slots from templates (existing sessions are kept).
    fn generate_sessions(&self, site: SiteId, req: GenerateSessions) -> BoxFut<'_, StoreResult<GeneratedSessions>>;
    /// Suspends (`Some(reason)`) or resumes (`None`) a session.
    fn set_session_suspended(
        &self,
        session: SessionId,
        reason: Option<String>,
        actor: String,
    ) -> BoxFut<'_, StoreResult<frontdesk_domain::schedule::Session>>;
    /// Deletes a session that never had a booking (its slots too); desks get tombstones.
    fn delete_session(&self, session: SessionId) -> BoxFut<'_, StoreResult<()>>;
    /// Re-splits a session's slots between the online and the desk pool.
    fn set_session_pools(
        &self,
        session: SessionId,
        desk_per_slot: u32,
    ) -> BoxFut<'_, StoreResult<Vec<frontdesk_domain::schedule::Slot>>>;
    /// Records an audit entry (e.g. a refused cross-site access).
    fn audit(&self, entry: AuditEntry) -> BoxFut<'_, StoreResult<()>>;
    /// Checks the audit chains (one site, or all).
    fn verify_audit(&self, site: Option<String>) -> BoxFut<'_, StoreResult<Vec<AuditReport>>>;
    /// A desk gives numbers back and/or asks to be topped up to its share (docs/SYNC.md,
    /// "Capacity leases"); what it holds afterwards.
    fn leases(&self, device: DeviceAuth, req: LeaseRequest) -> BoxFut<'_, StoreResult<LeaseAnswer>>;
    /// The platform's own lease round: expire every lease past its expiry, then top every
    /// enrolled, unrevoked desk of every site with a policy up to its share in every session
    /// the policy leases.
    fn lease_round(&self) -> BoxFut<'_, StoreResult<LeaseRound>>;
    /// Sets (`Some`) or clears (`None`) a site's lease policy; clearing returns every lease.
    fn set_lease_policy(
        &self,
        site: SiteId,
        policy: Option<LeasePolicy>,
        actor: String,
    ) -> BoxFut<'_, StoreResult<Option<LeasePolicy>>>;
    /// A site's policy and each desk's leases.
    fn site_leases(&self, site: SiteId) -> BoxFut<'_, StoreResult<SiteLeases>>;
    /// Seeds the demo clinic (idempotent).
    fn seed_demo(&self, site: SiteId, days: u16) -> BoxFut<'_, StoreResult<()>>;
    /// Site, department, session, slot, booking and lease changes of every site after
    /// `after` ([`FEED_ENTITIES`]), under the same visibility rule as [`Store::pull`].
    fn feed(&self, after: u64, limit: u32) -> BoxFut<'_, StoreResult<Feed>>;
    /// The store's clock.
    fn now(&self) -> jiff::Timestamp;
    /// True when the store can read and its writer runs.
    fn ready(&self) -> BoxFut<'_, StoreResult<()>>;
    /// Requests waiting for the writer (for load shedding and metrics).
    fn queue_depth(&self) -> usize;
    /// Stops taking writes, commits what is queued and releases the database. Called after
    /// the HTTP server has drained.
    fn close(&self) -> BoxFut<'_, ()>;
}
