//! Capacity leases (docs/SYNC.md, "Capacity leases") on PostgreSQL.
//!
//! A leased number is its `numbers` row with the lessee (`lease_site`, `lease_device`,
//! `lease_expires_at`) beside `booking_id`: the row lock that guards a booking's claim guards
//! the lease, so nothing is ever both booked and leased (a CHECK says so too). The rules decide
//! every grant: a session's ledger is loaded as the booking rules see it
//! ([`SessionLedger::from_states`]) and [`SessionLedger::grant`] tops a desk up to its share.
//!
//! **Grants take turns per site.** Every transaction that grants — the platform's round, on
//! every process, and a desk's own request — locks the site's `lease_policies` row
//! (`FOR UPDATE`) and holds it until it commits. The statements after the lock see every grant
//! committed before it (read committed: a fresh snapshot per statement), and nothing else
//! creates leases, so a desk's holdings are never understated: a repeated request, or a round
//! racing a request, tops up to the share and never beyond. Bookings are not serialised with
//! grants: a grant leases only rows still unbooked, unleased and not locked by a booking that
//! is claiming them (`SKIP LOCKED`), and decides again without the ones it could not have.
//!
//! **No cycle of waits through the policy row.** A job that locks it runs in a transaction of
//! its own (never grouped with other jobs that may hold other rows, see
//! `PgStore::write_alone`), and a grant holding it waits for no other transaction — it leases
//! only rows nobody holds, returns expired leases the same way, and counts by appending — so
//! whoever queues on the row is served in turn. (Clearing a policy, an admin's act, may wait
//! for bookings claiming numbers of the site; PostgreSQL's deadlock detection stays the last
//! resort there, and the job is decided again.)
//!
//! **Expiry.** A lease past its expiry stays held — nobody else takes it, its desk may still
//! push a spend made before its deadline — until the platform can be sure it is unspent
//! (docs/SYNC.md, "Return"): the desk was never sent it (the grant's change-log position,
//! `lease_cursor`, lies beyond `lease_receipts.served_cursor`), or the desk pulled with nothing
//! pending at or after the expiry (`clean_pull_at`), or the slot has ended. A pull page that
//! carries one of the desk's own leases, and a pull with nothing pending, are recorded before
//! they are answered, as is a lease request's answer; the receipts only ever rise.
//!
//! **Ending a lease** — spent, given back, returned at expiry, taken back (the desk revoked,
//! the session re-split or deleted, the policy cleared) — clears the row's lease in the same
//! transaction as its cause, logs a `lease` tombstone, and counts it for the desk
//! (`lease_events`) and in `frontdesk_lease_numbers_total` (once the transaction commits).

use std::collections::{BTreeMap, HashMap, HashSet};

use deadpool_postgres::Object;
use frontdesk_domain::booking::SlotState;
use frontdesk_domain::lease::{Lease, LeasePolicy, SessionLedger};
use frontdesk_domain::schedule::{DeviceId, Pool, Session, SessionId, SessionStatus, Site, SiteId, Slot, SlotId};
use frontdesk_protocol::admin::{DeskLeases, SiteLeases};
use frontdesk_protocol::sync::{LeaseAnswer, LeaseRequest, LeasedNumber, Record};
use jiff::{SignedDuration, Timestamp};
use tokio_postgres::types::ToSql;

use super::rows::{self, PriorLease, q, q1, x};
use super::{Ctx, Fail, R, audit};
use crate::error::StoreError;
use crate::outcome::{LeaseEvent, lease_dates, lease_expires_at};
use crate::store::{DeviceAuth, LeaseRound};

/// The desk counters of [`SiteLeases`], as `lease_events.what` names them.
const COUNTERS: [&str; 5] = ["granted", "spent", "returned", "expired", "revoked"];

/// The desk counter an event goes to, if any.
fn counter(event: LeaseEvent) -> Option<&'static str> {
    match event {
        LeaseEvent::Granted => Some("granted"),
        LeaseEvent::Spent => Some("spent"),
        LeaseEvent::Returned => Some("returned"),
        LeaseEvent::Expired => Some("expired"),
        LeaseEvent::Revoked => Some("revoked"),
        LeaseEvent::Late | LeaseEvent::Lost => None,
    }
}

fn store(e: StoreError) -> Fail {
    Fail::Store(e)
}

fn parse_policy(text: &str) -> R<LeasePolicy> {
    Ok(serde_json::from_str(text)?)
}

/// A site's policy, its row locked until the transaction ends: the turn of this site's grants.
async fn lock_policy(ctx: &Ctx, site: &SiteId) -> R<Option<LeasePolicy>> {
    match q1(&ctx.conn, "SELECT policy::text FROM lease_policies WHERE site_id = $1 FOR UPDATE", &[&site.as_str()])
        .await?
    {
        Some(r) => Ok(Some(parse_policy(r.get(0))?)),
        None => Ok(None),
    }
}

/// The sites with a lease policy.
pub(crate) async fn policy_sites(c: &Object) -> R<Vec<SiteId>> {
    Ok(q(c, "SELECT site_id FROM lease_policies ORDER BY site_id", &[])
        .await?
        .iter()
        .map(|r| SiteId(r.get(0)))
        .collect())
}

/// The enrolled, unrevoked desks of a site, in enrollment order.
async fn site_desks(ctx: &Ctx, site: &SiteId) -> R<Vec<DeviceId>> {
    Ok(q(
        &ctx.conn,
        "SELECT id FROM devices WHERE site_id = $1 AND revoked_at IS NULL AND role = 'desk' ORDER BY enrolled_at, id",
        &[&site.as_str()],
    )
    .await?
    .iter()
    .map(|r| DeviceId(r.get(0)))
    .collect())
}

/// Counts `n` numbers of a desk: in the transaction's tally (the metric), and for the desk's
/// counters as a row of `lease_events` (appended: counting never waits for another
/// transaction).
async fn count(ctx: &mut Ctx, device: &DeviceId, site: &SiteId, event: LeaseEvent, n: u64) -> R<()> {
    ctx.leases.add(event, n);
    let Some(what) = counter(event) else { return Ok(()) };
    x(
        &ctx.conn,
        "INSERT INTO lease_events (site_id, device_id, what, n, at) VALUES ($1, $2, $3, $4, $5)",
        &[&site.as_str(), &device.as_str(), &what, &(n as i64), &ctx.now],
    )
    .await?;
    Ok(())
}

/// A desk was served change-log pages up to `served` (`clean_at`: the arrival of a pull with
/// nothing pending in its outbox): what may let its expired leases return. Raised only, never
/// lowered.
pub(crate) async fn receipt(c: &Object, device: &DeviceId, served: u64, clean_at: Option<Timestamp>) -> R<()> {
    x(
        c,
        "INSERT INTO lease_receipts (device_id, served_cursor, clean_pull_at) VALUES ($1, $2, $3) \
         ON CONFLICT (device_id) DO UPDATE SET \
         served_cursor = GREATEST(lease_receipts.served_cursor, excluded.served_cursor), \
         clean_pull_at = GREATEST(lease_receipts.clean_pull_at, excluded.clean_pull_at)",
        &[&device.as_str(), &(served as i64), &clean_at],
    )
    .await?;
    Ok(())
}

/// A number's `lease` tombstone: (change-log id, record).
fn tombstone(session: &SessionId, n: u32) -> (String, Record) {
    let id = Lease::key(session, n);
    (id.clone(), Record::Tombstone { entity: "lease".into(), id })
}

/// Which leases to end.
pub(crate) enum Scope<'a> {
    /// The site's leases whose expiry has come and that the platform can be sure are unspent
    /// (docs/SYNC.md, "Return"): the desk was never sent the lease (its change-log position lies
    /// beyond every page served to the desk), or the desk pulled with nothing pending at or
    /// after the expiry, or the slot has ended. Rows another transaction holds are left to the
    /// next sweep (a spend of the number is what holds them).
    Expired(&'a SiteId),
    /// Every lease of a desk.
    Device(&'a DeviceId),
    /// Every lease of a session.
    Session(&'a SessionId),
    /// Every lease of a site.
    Site(&'a SiteId),
    /// These numbers, where they are leased to this desk.
    Given(&'a DeviceId, &'a [LeasedNumber]),
}

/// Ends leases: clears them (the rows locked in number order), logs their tombstones and
/// counts them as `why` per desk. Returns how many ended.
pub(crate) async fn end(ctx: &mut Ctx, scope: Scope<'_>, why: LeaseEvent) -> R<u64> {
    const COLS: &str = "SELECT lease_site, session_id, queue_no, lease_device FROM numbers WHERE";
    const ORDER: &str = "ORDER BY session_id, queue_no FOR UPDATE";
    let (sql, key, sessions, nums);
    let params: Vec<&(dyn ToSql + Sync)> = match &scope {
        Scope::Expired(site) => {
            sql = "SELECT n.lease_site, n.session_id, n.queue_no, n.lease_device FROM numbers n \
                   LEFT JOIN lease_receipts r ON r.device_id = n.lease_device \
                   WHERE n.lease_site = $1 AND n.lease_device IS NOT NULL AND n.lease_expires_at <= $2 \
                   AND (n.lease_cursor > COALESCE(r.served_cursor, 0) OR r.clean_pull_at >= n.lease_expires_at \
                   OR n.lease_slot_ends_at <= $2) \
                   ORDER BY n.session_id, n.queue_no FOR UPDATE OF n SKIP LOCKED"
                .to_string();
            key = site.as_str();
            vec![&key, &ctx.now]
        }
        Scope::Device(device) => {
            sql = format!("{COLS} lease_device = $1 {ORDER}");
            key = device.as_str();
            vec![&key]
        }
        Scope::Session(session) => {
            sql = format!("{COLS} session_id = $1 AND lease_device IS NOT NULL {ORDER}");
            key = session.as_str();
            vec![&key]
        }
        Scope::Site(site) => {
            sql = format!("{COLS} lease_site = $1 AND lease_device IS NOT NULL {ORDER}");
            key = site.as_str();
            vec![&key]
        }
        Scope::Given(device, numbers) => {
            if numbers.is_empty() {
                return Ok(0);
            }
            sql = format!(
                "{COLS} lease_device = $1 AND (session_id, queue_no) IN \
                 (SELECT s, n FROM unnest($2::text[], $3::int[]) AS u(s, n)) {ORDER}"
            );
            key = device.as_str();
            sessions = numbers.iter().map(|l| l.session_id.as_str()).collect::<Vec<_>>();
            nums = numbers.iter().map(|l| l.queue_no as i32).collect::<Vec<_>>();
            vec![&key, &sessions, &nums]
        }
    };
    let rows = q(&ctx.conn, &sql, &params).await?;
    if rows.is_empty() {
        return Ok(0);
    }
    let (mut ended_sessions, mut ended_nums) = (Vec::with_capacity(rows.len()), Vec::with_capacity(rows.len()));
    let mut logged = Vec::with_capacity(rows.len());
    let mut per_desk: BTreeMap<(String, String), u64> = BTreeMap::new();
    for r in &rows {
        let (site, session, n, device): (String, String, i32, String) = (r.get(0), r.get(1), r.get(2), r.get(3));
        let (id, record) = tombstone(&SessionId(session.clone()), n as u32);
        logged.push((SiteId(site.clone()), id, record));
        *per_desk.entry((device, site)).or_default() += 1;
        ended_sessions.push(session);
        ended_nums.push(n);
    }
    x(
        &ctx.conn,
        "UPDATE numbers SET lease_site = NULL, lease_device = NULL, lease_expires_at = NULL, lease_granted_at = NULL, \
         lease_cursor = NULL, lease_slot_ends_at = NULL \
         FROM unnest($1::text[], $2::int[]) AS u(s, n) WHERE session_id = u.s AND queue_no = u.n",
        &[&ended_sessions, &ended_nums],
    )
    .await?;
    rows::log_changes(ctx, "lease", &logged).await?;
    for ((device, site), n) in per_desk {
        count(ctx, &DeviceId(device), &SiteId(site), why, n).await?;
    }
    Ok(rows.len() as u64)
}

/// A desk's spend took number `n` of `session`, leased to it (`prior`): the lease is spent
/// (past its expiry too — the platform kept it because the desk might have spent it).
pub(crate) async fn spent(ctx: &mut Ctx, session: &SessionId, n: u32, prior: &PriorLease) -> R<()> {
    let (id, record) = tombstone(session, n);
    rows::log_changes(ctx, "lease", &[(prior.site.clone(), id, record)]).await?;
    count(ctx, &prior.device, &prior.site, LeaseEvent::Spent, 1).await
}

/// A session's slots as the booking rules see them: numbers booked, and numbers leased (past
/// their expiry too, until the platform ends the lease).
async fn session_states(ctx: &Ctx, session: &Session) -> R<Vec<SlotState>> {
    let slots_st = ctx.conn.prepare_cached("SELECT record FROM slots WHERE session_id = $1").await?;
    let held_st = ctx
        .conn
        .prepare_cached(
            "SELECT slot_id, queue_no, booking_id IS NOT NULL, lease_device FROM numbers \
             WHERE session_id = $1 AND (booking_id IS NOT NULL OR lease_device IS NOT NULL)",
        )
        .await?;
    let id = session.id.as_str();
    let params: [&(dyn ToSql + Sync); 1] = [&id];
    let (slot_rows, held_rows) =
        tokio::try_join!(ctx.conn.query(&slots_st, &params), ctx.conn.query(&held_st, &params))?;
    let mut taken: HashMap<String, Vec<u32>> = HashMap::new();
    let mut leased: HashMap<String, Vec<(u32, DeviceId)>> = HashMap::new();
    for r in &held_rows {
        let (slot, n): (String, i32) = (r.get(0), r.get(1));
        if r.get::<_, bool>(2) {
            taken.entry(slot).or_default().push(n as u32);
        } else if let Some(device) = r.get::<_, Option<String>>(3) {
            leased.entry(slot).or_default().push((n as u32, DeviceId(device)));
        }
    }
    let mut states = Vec::with_capacity(slot_rows.len());
    for r in &slot_rows {
        let slot: Slot = serde_json::from_str(r.get(0))?;
        let id = slot.id.to_string();
        states.push(SlotState {
            session: session.clone(),
            taken: taken.remove(&id).unwrap_or_default(),
            leased: leased.remove(&id).unwrap_or_default(),
            slot,
        });
    }
    states.sort_by_key(|s| (s.slot.start, s.slot.first_queue_no));
    Ok(states)
}

/// How often a session's grants are decided again when bookings took numbers meanwhile.
const GRANT_TRIES: usize = 8;

/// Tops each of `targets` (unrevoked desks of the site) up to its share in every open session
/// the policy leases. The caller holds the site's policy row. Returns the numbers granted.
async fn top_up(ctx: &mut Ctx, site: &Site, policy: &LeasePolicy, targets: &[DeviceId]) -> R<u64> {
    let desks = site_desks(ctx, &site.id).await?;
    let targets: Vec<&DeviceId> = targets.iter().filter(|d| desks.contains(d)).collect();
    if targets.is_empty() {
        return Ok(0);
    }
    let (first, last) = lease_dates(ctx.now, site, policy)?;
    let sessions: Vec<Session> = q(
        &ctx.conn,
        "SELECT record FROM sessions WHERE site_id = $1 AND date >= $2 AND date <= $3 ORDER BY date, id",
        &[&site.id.as_str(), &first, &last],
    )
    .await?
    .iter()
    .map(|r| serde_json::from_str::<Session>(r.get(0)))
    .collect::<Result<_, _>>()?;
    let mut granted = 0;
    for session in sessions.iter().filter(|s| s.status == SessionStatus::Open) {
        granted += top_up_session(ctx, site, policy, desks.len() as u32, &targets, session).await?;
    }
    Ok(granted)
}

async fn top_up_session(
    ctx: &mut Ctx,
    site: &Site,
    policy: &LeasePolicy,
    desks: u32,
    targets: &[&DeviceId],
    session: &Session,
) -> R<u64> {
    let mut granted = 0;
    // Numbers a write found booked or being claimed: not offered again.
    let mut skipped: HashSet<u32> = HashSet::new();
    for _ in 0..GRANT_TRIES {
        let states = session_states(ctx, session).await?;
        let slots: Vec<Slot> = states.iter().map(|s| s.slot.clone()).collect();
        // When each desk number's lease would expire (a set time before its slot starts), and
        // when its slot ends.
        let mut terms: HashMap<u32, Term> = HashMap::new();
        for slot in &slots {
            let term = Term {
                expires_at: lease_expires_at(site, policy, session.date, slot)?,
                slot_ends_at: slot
                    .ends_at(session.date)
                    .in_tz(&site.timezone)
                    .map_err(|e| store(StoreError::Internal(format!("site {} time zone: {e}", site.id))))?
                    .timestamp(),
            };
            terms.extend(slot.pool_numbers(Pool::Desk).map(|n| (n, term)));
        }
        let now = ctx.now;
        let mut ledger = SessionLedger::from_states(&states);
        let mut short = false;
        for device in targets {
            // A number is leasable while its lease would not have expired yet.
            let leasable = |n: u32| !skipped.contains(&n) && terms.get(&n).is_some_and(|t| t.expires_at > now);
            let numbers = ledger.grant(device, policy, desks, &slots, leasable);
            if numbers.is_empty() {
                continue;
            }
            let wrote = write_grant(ctx, &site.id, session, device, &numbers, &terms).await?;
            granted += wrote.len() as u64;
            if wrote.len() < numbers.len() {
                short = true;
                skipped.extend(numbers.iter().filter(|n| !wrote.contains(n)));
            }
        }
        if !short {
            break;
        }
        // Bookings took numbers meanwhile, or are taking them: decide again on what is there
        // now, without those.
    }
    Ok(granted)
}

/// When a leased number's lease expires and its slot ends.
#[derive(Debug, Clone, Copy)]
struct Term {
    expires_at: Timestamp,
    slot_ends_at: Timestamp,
}

/// Leases `numbers` of a session to a desk, each where it is still unbooked, unleased and not
/// locked by another transaction (a booking claiming it: a grant never waits for one); logs
/// each lease (the row keeps the record's change-log position) and counts them. Returns the
/// numbers leased.
async fn write_grant(
    ctx: &mut Ctx,
    site: &SiteId,
    session: &Session,
    device: &DeviceId,
    numbers: &[u32],
    terms: &HashMap<u32, Term>,
) -> R<Vec<u32>> {
    let (mut nums, mut expires, mut ends, mut cursors) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for n in numbers {
        if let Some(t) = terms.get(n) {
            nums.push(*n as i32);
            expires.push(t.expires_at);
            ends.push(t.slot_ends_at);
            // A number the write skips leaves its cursor unused: cursors are sparse anyway.
            cursors.push(ctx.take_cursor()?);
        }
    }
    let rows = q(
        &ctx.conn,
        "WITH pick AS (SELECT queue_no FROM numbers WHERE session_id = $1 AND queue_no = ANY($5) \
         AND booking_id IS NULL AND lease_device IS NULL ORDER BY queue_no FOR UPDATE SKIP LOCKED) \
         UPDATE numbers n SET lease_site = $2, lease_device = $3, lease_expires_at = u.e, lease_granted_at = $4, \
         lease_cursor = u.c, lease_slot_ends_at = u.z \
         FROM pick, unnest($5::int[], $6::timestamptz[], $7::bigint[], $8::timestamptz[]) AS u(q, e, c, z) \
         WHERE n.session_id = $1 AND n.queue_no = pick.queue_no AND u.q = pick.queue_no \
         RETURNING n.queue_no, n.slot_id, u.e, u.c",
        &[&session.id.as_str(), &site.as_str(), &device.as_str(), &ctx.now, &nums, &expires, &cursors, &ends],
    )
    .await?;
    let mut wrote = Vec::with_capacity(rows.len());
    let mut logged = Vec::with_capacity(rows.len());
    for r in &rows {
        let lease = Lease {
            session_id: session.id.clone(),
            slot_id: SlotId(r.get(1)),
            queue_no: r.get::<_, i32>(0) as u32,
            device_id: device.clone(),
            expires_at: r.get(2),
        };
        wrote.push(lease.queue_no);
        logged.push((site.clone(), Lease::key(&session.id, lease.queue_no), r.get::<_, i64>(3), Record::Lease(lease)));
    }
    if !wrote.is_empty() {
        rows::log_changes_at(ctx, "lease", &logged).await?;
        count(ctx, device, site, LeaseEvent::Granted, wrote.len() as u64).await?;
    }
    Ok(wrote)
}

/// Every number leased to a desk and unexpired at `now`.
async fn device_leases(c: &Object, device: &DeviceId, now: Timestamp) -> R<Vec<Lease>> {
    Ok(q(
        c,
        "SELECT session_id, slot_id, queue_no, lease_expires_at FROM numbers \
         WHERE lease_device = $1 AND lease_expires_at > $2 ORDER BY session_id, queue_no",
        &[&device.as_str(), &now],
    )
    .await?
    .iter()
    .map(|r| Lease {
        session_id: SessionId(r.get(0)),
        slot_id: SlotId(r.get(1)),
        queue_no: r.get::<_, i32>(2) as u32,
        device_id: device.clone(),
        expires_at: r.get(3),
    })
    .collect())
}

async fn load_site(c: &Object, id: &SiteId) -> R<Site> {
    rows::load_site(c, id).await?.ok_or_else(|| store(StoreError::NotFound(format!("site {id}"))))
}

/// A desk's lease request: what may return at expiry returns, its given-back numbers return,
/// then (`top_up`) it is topped up to its share in every session the policy leases; the answer
/// lists what it holds now (unexpired).
pub(crate) async fn request(ctx: &mut Ctx, device: &DeviceAuth, req: &LeaseRequest) -> R<LeaseAnswer> {
    if req.device_id != device.device_id {
        return Err(store(StoreError::Forbidden("a desk asks for its own leases only".into())));
    }
    let revoked = q1(
        &ctx.conn,
        "SELECT revoked_at IS NOT NULL FROM devices WHERE id = $1 AND site_id = $2",
        &[&device.device_id.as_str(), &device.site_id.as_str()],
    )
    .await?
    .map(|r| r.get::<_, bool>(0));
    if revoked != Some(false) {
        return Err(store(StoreError::Unauthorized("device revoked".into())));
    }
    let site = load_site(&ctx.conn, &device.site_id).await?;
    // The desk's receipts row, locked now (before the grants' turn: holding the policy row, a
    // grant waits for nothing) and raised at the end: the answer names the desk's leases.
    x(
        &ctx.conn,
        "INSERT INTO lease_receipts (device_id) VALUES ($1) \
         ON CONFLICT (device_id) DO UPDATE SET served_cursor = lease_receipts.served_cursor",
        &[&device.device_id.as_str()],
    )
    .await?;
    // What may return goes first: it is no longer the desk's to count.
    end(ctx, Scope::Expired(&site.id), LeaseEvent::Expired).await?;
    let returned = end(ctx, Scope::Given(&device.device_id, &req.give_back), LeaseEvent::Returned).await?;
    // The site's grants take turns from here (the policy row stays locked until the commit).
    let policy = lock_policy(ctx, &site.id).await?;
    let granted = match policy {
        Some(policy) if req.top_up => top_up(ctx, &site, &policy, std::slice::from_ref(&device.device_id)).await?,
        _ => 0,
    };
    let leases = device_leases(&ctx.conn, &device.device_id, ctx.now).await?;
    // The answer names the desk's leases: they count as sent, like a pull page's.
    x(
        &ctx.conn,
        "UPDATE lease_receipts SET served_cursor = GREATEST(served_cursor, \
         COALESCE((SELECT MAX(lease_cursor) FROM numbers WHERE lease_device = $1), 0)) WHERE device_id = $1",
        &[&device.device_id.as_str()],
    )
    .await?;
    Ok(LeaseAnswer {
        granted: u32::try_from(granted).unwrap_or(u32::MAX),
        returned: u32::try_from(returned).unwrap_or(u32::MAX),
        leases,
        server_now: ctx.now,
    })
}

/// The platform's round for one site: expired leases the platform can be sure are unspent
/// return, then every unrevoked desk is topped up to its share.
pub(crate) async fn round_site(ctx: &mut Ctx, site: &SiteId) -> R<LeaseRound> {
    let Some(policy) = lock_policy(ctx, site).await? else {
        // Cleared since the round listed it: clearing ended its leases.
        return Ok(LeaseRound::default());
    };
    let site = load_site(&ctx.conn, site).await?;
    let expired = end(ctx, Scope::Expired(&site.id), LeaseEvent::Expired).await?;
    let desks = site_desks(ctx, &site.id).await?;
    let granted = top_up(ctx, &site, &policy, &desks).await?;
    Ok(LeaseRound { granted, expired })
}

/// Sets (validated) or clears a site's policy; clearing takes back every lease of the site.
/// Desks learn the policy from a `lease_policy` record.
pub(crate) async fn set_policy(
    ctx: &mut Ctx,
    site: &SiteId,
    policy: Option<LeasePolicy>,
    actor: &str,
) -> R<Option<LeasePolicy>> {
    if let Some(p) = &policy {
        p.validate().map_err(|e| store(StoreError::invalid("invalid_policy", e.to_string())))?;
    }
    load_site(&ctx.conn, site).await?;
    let detail = match &policy {
        Some(p) => {
            let text = serde_json::to_string(p)?;
            x(
                &ctx.conn,
                "INSERT INTO lease_policies (site_id, policy, updated_at) VALUES ($1, $2::text::jsonb, $3) \
                 ON CONFLICT (site_id) DO UPDATE SET policy = excluded.policy, updated_at = excluded.updated_at",
                &[&site.as_str(), &text, &ctx.now],
            )
            .await?;
            text
        }
        None => {
            // Deleting the row waits for a grant of the site that holds it; a grant waiting
            // for it finds no policy afterwards.
            x(&ctx.conn, "DELETE FROM lease_policies WHERE site_id = $1", &[&site.as_str()]).await?;
            let ended = end(ctx, Scope::Site(site), LeaseEvent::Revoked).await?;
            serde_json::json!({"policy": null, "leases_ended": ended}).to_string()
        }
    };
    let record = Record::LeasePolicy { site_id: site.clone(), policy };
    rows::log_changes(ctx, "lease_policy", &[(site.clone(), site.to_string(), record)]).await?;
    let action = if policy.is_some() { "set_lease_policy" } else { "clear_lease_policy" };
    audit::append(ctx, site.as_str(), actor, action, &detail).await?;
    Ok(policy)
}

/// A site's policy and each desk's leases at `now`: every number it holds (expired ones the
/// platform keeps too), how many expire within the hour and the next expiry (desks revoked
/// since are listed while they have lease history).
pub(crate) async fn site_leases(c: &Object, site: &SiteId, now: Timestamp) -> R<SiteLeases> {
    load_site(c, site).await?;
    let policy = match q1(c, "SELECT policy::text FROM lease_policies WHERE site_id = $1", &[&site.as_str()]).await? {
        Some(r) => Some(parse_policy(r.get(0))?),
        None => None,
    };
    let soon = now.checked_add(SignedDuration::from_hours(1)).unwrap_or(now);
    let mut held: HashMap<String, (i64, i64, Option<Timestamp>)> = HashMap::new();
    for r in q(
        c,
        "SELECT lease_device, COUNT(*), COUNT(*) FILTER (WHERE lease_expires_at > $2 AND lease_expires_at <= $3), \
         MIN(lease_expires_at) FILTER (WHERE lease_expires_at > $2) \
         FROM numbers WHERE lease_site = $1 AND lease_device IS NOT NULL GROUP BY lease_device",
        &[&site.as_str(), &now, &soon],
    )
    .await?
    {
        held.insert(r.get(0), (r.get(1), r.get(2), r.get(3)));
    }
    let mut counts: HashMap<String, [u64; 5]> = HashMap::new();
    for r in q(
        c,
        "SELECT device_id, what, SUM(n)::bigint FROM lease_events WHERE site_id = $1 GROUP BY device_id, what",
        &[&site.as_str()],
    )
    .await?
    {
        let what: &str = r.get(1);
        if let Some(i) = COUNTERS.iter().position(|w| *w == what) {
            counts.entry(r.get(0)).or_default()[i] = r.get::<_, i64>(2).max(0) as u64;
        }
    }
    let mut desks = Vec::new();
    for r in q(
        c,
        "SELECT id, name, revoked_at IS NOT NULL FROM devices WHERE site_id = $1 AND role = 'desk' ORDER BY enrolled_at, id",
        &[&site.as_str()],
    )
    .await?
    {
        let id: String = r.get(0);
        let history = counts.get(&id).copied();
        let (count, expiring, next_expiry) = held.get(&id).copied().unwrap_or((0, 0, None));
        if r.get::<_, bool>(2) && history.is_none() && count == 0 {
            continue;
        }
        let [granted, spent, returned, expired, revoked] = history.unwrap_or_default();
        desks.push(DeskLeases {
            device_id: DeviceId(id),
            name: r.get(1),
            held: count as u32,
            expiring: expiring as u32,
            next_expiry,
            granted,
            spent,
            returned,
            expired,
            revoked,
        });
    }
    Ok(SiteLeases { site_id: site.clone(), policy, desks })
}
