//! Reading and writing domain rows. Rows keep their domain serde form in `record`, plus the
//! columns the platform queries by.

use std::collections::HashMap;

use deadpool_postgres::Object;
use frontdesk_domain::booking::{Booking, SlotState};
use frontdesk_domain::patient::Patient;
use frontdesk_domain::schedule::{
    BookingId, Department, DepartmentId, DeviceId, PatientId, Pool, Provider, Session, SessionId, Site, SiteId, Slot,
    SlotId,
};
use frontdesk_protocol::sync::Record;
use jiff::civil::Date;
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

use super::{Ctx, R};
use crate::outcome::tagged;

fn json<T: serde::de::DeserializeOwned>(s: &str) -> R<T> {
    Ok(serde_json::from_str(s)?)
}

/// Runs a statement (prepared once per connection) and returns its rows.
pub(crate) async fn q(c: &Object, sql: &str, params: &[&(dyn ToSql + Sync)]) -> R<Vec<Row>> {
    let st = c.prepare_cached(sql).await?;
    Ok(c.query(&st, params).await?)
}

/// Runs a statement and returns at most one row.
pub(crate) async fn q1(c: &Object, sql: &str, params: &[&(dyn ToSql + Sync)]) -> R<Option<Row>> {
    let st = c.prepare_cached(sql).await?;
    Ok(c.query_opt(&st, params).await?)
}

/// Runs a statement and returns the number of rows it changed.
pub(crate) async fn x(c: &Object, sql: &str, params: &[&(dyn ToSql + Sync)]) -> R<u64> {
    let st = c.prepare_cached(sql).await?;
    Ok(c.execute(&st, params).await?)
}

pub(crate) fn pool_code(p: Pool) -> &'static str {
    match p {
        Pool::Desk => "desk",
        Pool::Online => "online",
    }
}

pub(crate) async fn load_site(c: &Object, id: &SiteId) -> R<Option<Site>> {
    Ok(q1(c, "SELECT id, name, timezone FROM sites WHERE id = $1", &[&id.as_str()]).await?.map(|r| Site {
        id: SiteId(r.get(0)),
        name: r.get(1),
        timezone: r.get(2),
    }))
}

fn department(r: &Row) -> Department {
    Department {
        id: DepartmentId(r.get(0)),
        site_id: SiteId(r.get(1)),
        code: r.get(2),
        name: r.get(3),
        name_en: r.get(4),
    }
}

pub(crate) async fn load_department_by_code(c: &Object, site: &SiteId, code: &str) -> R<Option<Department>> {
    let code = code.trim().to_ascii_uppercase();
    Ok(q1(
        c,
        "SELECT id, site_id, code, name, name_en FROM departments WHERE site_id = $1 AND code = $2",
        &[&site.as_str(), &code],
    )
    .await?
    .map(|r| department(&r)))
}

pub(crate) async fn load_department(c: &Object, id: &DepartmentId) -> R<Option<Department>> {
    Ok(q1(c, "SELECT id, site_id, code, name, name_en FROM departments WHERE id = $1", &[&id.as_str()])
        .await?
        .map(|r| department(&r)))
}

pub(crate) async fn site_departments(c: &Object, site: &SiteId) -> R<Vec<Department>> {
    Ok(q(
        c,
        "SELECT id, site_id, code, name, name_en FROM departments WHERE site_id = $1 ORDER BY code",
        &[&site.as_str()],
    )
    .await?
    .iter()
    .map(department)
    .collect())
}

pub(crate) async fn load_provider(c: &Object, id: &str) -> R<Option<Provider>> {
    match q1(c, "SELECT record FROM providers WHERE id = $1", &[&id]).await? {
        Some(r) => Ok(Some(json(r.get(0))?)),
        None => Ok(None),
    }
}

pub(crate) async fn load_session(c: &Object, id: &SessionId) -> R<Option<Session>> {
    match q1(c, "SELECT record FROM sessions WHERE id = $1", &[&id.as_str()]).await? {
        Some(r) => Ok(Some(json(r.get(0))?)),
        None => Ok(None),
    }
}

/// Every slot of a department on a day, with its session and the numbers held in it: what the
/// booking rules need for a decision and for suggestions. Both queries go out together. The
/// numbers held are read as the slot's regular numbers less its *free* ones (a partial index):
/// the busier a day, the less there is to read — not the other way round. Of the unbooked
/// numbers, those leased to a desk are the slot's `leased` (until the platform ends a lease,
/// past its expiry too: docs/SYNC.md, "Return").
pub(crate) async fn day_states(c: &Object, site: &SiteId, dept: &DepartmentId, date: Date) -> R<Vec<SlotState>> {
    let slots_st = c
        .prepare_cached(
            "SELECT sl.id, sl.record, se.record FROM slots sl JOIN sessions se ON se.id = sl.session_id \
             WHERE sl.site_id = $1 AND sl.department_id = $2 AND sl.date = $3 ORDER BY sl.id",
        )
        .await?;
    let free_st = c
        .prepare_cached(
            "SELECT n.slot_id, n.queue_no, n.lease_device FROM slots sl \
             JOIN numbers n ON n.slot_id = sl.id \
             WHERE sl.site_id = $1 AND sl.department_id = $2 AND sl.date = $3 AND n.booking_id IS NULL",
        )
        .await?;
    let params: [&(dyn ToSql + Sync); 3] = [&site.as_str(), &dept.as_str(), &date];
    let (slot_rows, free_rows) = tokio::try_join!(c.query(&slots_st, &params), c.query(&free_st, &params))?;
    let mut free: HashMap<String, Unbooked> = HashMap::new();
    for r in &free_rows {
        free.entry(r.get(0)).or_default().add(r.get::<_, i32>(1) as u32, r.get(2));
    }
    let mut sessions: HashMap<String, Session> = HashMap::new();
    let mut out = Vec::with_capacity(slot_rows.len());
    for r in &slot_rows {
        let id: String = r.get(0);
        let slot: Slot = json(r.get(1))?;
        let session = match sessions.get(slot.session_id.as_str()) {
            Some(s) => s.clone(),
            None => {
                let s: Session = json(r.get(2))?;
                sessions.insert(slot.session_id.to_string(), s.clone());
                s
            }
        };
        let unbooked = free.remove(&id).unwrap_or_default();
        let taken = held_numbers(&slot, &unbooked.numbers);
        out.push(SlotState { session, slot, taken, leased: unbooked.leased });
    }
    Ok(out)
}

/// A slot's numbers no booking holds, and which of them are leased.
#[derive(Default)]
struct Unbooked {
    numbers: Vec<u32>,
    leased: Vec<(u32, DeviceId)>,
}

impl Unbooked {
    fn add(&mut self, n: u32, lessee: Option<String>) {
        self.numbers.push(n);
        if let Some(device) = lessee {
            self.leased.push((n, DeviceId(device)));
        }
    }
}

/// One slot as the rules see it (leases as in [`day_states`]), with where it lives: (site,
/// department, date, state).
pub(crate) async fn slot_state(c: &Object, id: &SlotId) -> R<Option<(SiteId, DepartmentId, Date, SlotState)>> {
    let slot_st = c
        .prepare_cached(
            "SELECT sl.site_id, sl.department_id, sl.date, sl.record, se.record FROM slots sl \
             JOIN sessions se ON se.id = sl.session_id WHERE sl.id = $1",
        )
        .await?;
    let free_st = c
        .prepare_cached("SELECT queue_no, lease_device FROM numbers WHERE slot_id = $1 AND booking_id IS NULL")
        .await?;
    let id_s = id.as_str();
    let params: [&(dyn ToSql + Sync); 1] = [&id_s];
    let (row, free_rows) = tokio::try_join!(c.query_opt(&slot_st, &params), c.query(&free_st, &params))?;
    let Some(r) = row else { return Ok(None) };
    let slot: Slot = json(r.get(3))?;
    let session: Session = json(r.get(4))?;
    let mut unbooked = Unbooked::default();
    for f in &free_rows {
        unbooked.add(f.get::<_, i32>(0) as u32, f.get(1));
    }
    let taken = held_numbers(&slot, &unbooked.numbers);
    let state = SlotState { session, slot, taken, leased: unbooked.leased };
    Ok(Some((SiteId(r.get(0)), DepartmentId(r.get(1)), r.get(2), state)))
}

/// A slot's regular numbers that are not free.
fn held_numbers(slot: &Slot, free: &[u32]) -> Vec<u32> {
    let free: std::collections::HashSet<u32> = free.iter().copied().collect();
    (slot.first_queue_no..slot.first_queue_no + slot.capacity()).filter(|n| !free.contains(n)).collect()
}

/// Numbers held in a session (overbooks included), for the overbook rule.
pub(crate) async fn session_numbers(c: &Object, session: &SessionId) -> R<Vec<u32>> {
    Ok(q(c, "SELECT queue_no FROM bookings WHERE session_id = $1 AND status <> 'cancelled'", &[&session.as_str()])
        .await?
        .iter()
        .map(|r| r.get::<_, i32>(0) as u32)
        .collect())
}

pub(crate) async fn session_slots(c: &Object, session: &SessionId) -> R<Vec<Slot>> {
    q(c, "SELECT record FROM slots WHERE session_id = $1", &[&session.as_str()])
        .await?
        .iter()
        .map(|r| json(r.get(0)))
        .collect()
}

/// The patient's active bookings in a department on a day (rule 2).
pub(crate) async fn patient_day_bookings(
    c: &Object,
    patient: &PatientId,
    dept: &DepartmentId,
    date: Date,
) -> R<Vec<Booking>> {
    q(
        c,
        "SELECT record FROM bookings WHERE patient_id = $1 AND department_id = $2 AND date = $3 \
         AND status IN ('booked', 'checked_in')",
        &[&patient.as_str(), &dept.as_str(), &date],
    )
    .await?
    .iter()
    .map(|r| json(r.get(0)))
    .collect()
}

pub(crate) async fn load_booking(c: &Object, id: &BookingId) -> R<Option<Booking>> {
    match q1(c, "SELECT record FROM bookings WHERE id = $1", &[&id.as_str()]).await? {
        Some(r) => Ok(Some(json(r.get(0))?)),
        None => Ok(None),
    }
}

pub(crate) async fn booking_by_ticket(c: &Object, code: &str) -> R<Option<BookingId>> {
    Ok(q1(c, "SELECT id FROM bookings WHERE ticket_code = $1", &[&code]).await?.map(|r| BookingId(r.get(0))))
}

/// Whether a booking id is stored, and which booking holds a ticket code, in one look-up.
pub(crate) async fn booking_or_ticket(c: &Object, id: &BookingId, code: &str) -> R<(bool, Option<BookingId>)> {
    let rows = q(c, "SELECT id FROM bookings WHERE id = $1 OR ticket_code = $2", &[&id.as_str(), &code]).await?;
    let (mut exists, mut holder) = (false, None);
    for r in rows {
        let found: String = r.get(0);
        if found == id.as_str() {
            exists = true;
        } else {
            holder = Some(BookingId(found));
        }
    }
    Ok((exists, holder))
}

/// A patient with the cursor of its last change and who made it.
pub(crate) struct PatientRow {
    pub patient: Patient,
    pub updated_cursor: u64,
    pub updated_by: String,
}

/// Follows a merge alias and reads the site of the patient it leads to, in one look-up.
pub(crate) async fn resolve_patient_site(c: &Object, id: &PatientId) -> R<(PatientId, Option<String>)> {
    let r = q1(
        c,
        "SELECT a.id, p.site_id FROM (SELECT COALESCE((SELECT into_id FROM patient_aliases WHERE from_id = $1), $1) \
         AS id) a LEFT JOIN patients p ON p.id = a.id",
        &[&id.as_str()],
    )
    .await?;
    Ok(match r {
        Some(r) => (PatientId(r.get(0)), r.get(1)),
        None => (id.clone(), None),
    })
}

/// Follows a merge alias and loads the patient it leads to, in one look-up.
pub(crate) async fn resolve_and_load_patient(c: &Object, id: &PatientId) -> R<(PatientId, Option<PatientRow>)> {
    let r = q1(
        c,
        "SELECT a.id, p.record, p.updated_cursor, p.updated_by FROM (SELECT COALESCE((SELECT into_id FROM \
         patient_aliases WHERE from_id = $1), $1) AS id) a LEFT JOIN patients p ON p.id = a.id",
        &[&id.as_str()],
    )
    .await?;
    let Some(r) = r else { return Ok((id.clone(), None)) };
    let into = PatientId(r.get(0));
    let rec: Option<&str> = r.get(1);
    let row = match rec {
        Some(rec) => {
            Some(PatientRow { patient: json(rec)?, updated_cursor: r.get::<_, i64>(2) as u64, updated_by: r.get(3) })
        }
        None => None,
    };
    Ok((into, row))
}

pub(crate) async fn patient_by_key(c: &Object, site: &SiteId, key: &str) -> R<Option<PatientRow>> {
    let r = q1(
        c,
        "SELECT record, updated_cursor, updated_by FROM patients WHERE site_id = $1 AND identity_key = $2",
        &[&site.as_str(), &key],
    )
    .await?;
    match r {
        None => Ok(None),
        Some(r) => Ok(Some(PatientRow {
            patient: json(r.get(0))?,
            updated_cursor: r.get::<_, i64>(1) as u64,
            updated_by: r.get(2),
        })),
    }
}

pub(crate) async fn patient_id_by_key(c: &Object, site: &SiteId, key: &str) -> R<Option<PatientId>> {
    Ok(q1(c, "SELECT id FROM patients WHERE site_id = $1 AND identity_key = $2", &[&site.as_str(), &key])
        .await?
        .map(|r| PatientId(r.get(0))))
}

/// Writes a row's latest state to the change log under a fresh cursor of this transaction.
pub(crate) async fn log_change(ctx: &mut Ctx, site: &SiteId, entity: &str, id: &str, record: &Record) -> R<u64> {
    let text = serde_json::to_string(record)?;
    log_change_text(ctx, site, entity, id, &text).await
}

async fn log_change_text(ctx: &mut Ctx, site: &SiteId, entity: &str, id: &str, text: &str) -> R<u64> {
    let cursor = ctx.take_cursor()?;
    x(
        &ctx.conn,
        "INSERT INTO changes (site_id, entity, entity_id, cursor, record) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (site_id, entity, entity_id) DO UPDATE SET cursor = excluded.cursor, record = excluded.record",
        &[&site.as_str(), &entity, &id, &cursor, &text],
    )
    .await?;
    Ok(cursor as u64)
}

/// Writes many rows' latest states of one entity to the change log at once, each under a
/// fresh cursor of this transaction: (site, id, record). Ids must be distinct.
pub(crate) async fn log_changes(ctx: &mut Ctx, entity: &str, items: &[(SiteId, String, Record)]) -> R<()> {
    let mut at = Vec::with_capacity(items.len());
    for (site, id, record) in items {
        at.push((site.clone(), id.clone(), ctx.take_cursor()?, record.clone()));
    }
    log_changes_at(ctx, entity, &at).await
}

/// [`log_changes`] under cursors taken before ([`Ctx::take_cursor`]): (site, id, cursor,
/// record).
pub(crate) async fn log_changes_at(ctx: &Ctx, entity: &str, items: &[(SiteId, String, i64, Record)]) -> R<()> {
    if items.is_empty() {
        return Ok(());
    }
    let (mut sites, mut ids, mut cursors, mut texts) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for (site, id, cursor, record) in items {
        sites.push(site.as_str());
        ids.push(id.as_str());
        cursors.push(*cursor);
        texts.push(serde_json::to_string(record)?);
    }
    x(
        &ctx.conn,
        "INSERT INTO changes (site_id, entity, entity_id, cursor, record) \
         SELECT s, $1, i, c, r FROM unnest($2::text[], $3::text[], $4::bigint[], $5::text[]) AS u(s, i, c, r) \
         ON CONFLICT (site_id, entity, entity_id) DO UPDATE SET cursor = excluded.cursor, record = excluded.record",
        &[&entity, &sites, &ids, &cursors, &texts],
    )
    .await?;
    Ok(())
}

/// Inserts or replaces a patient and logs the change.
pub(crate) async fn save_patient(ctx: &mut Ctx, p: &Patient, by: &str) -> R<u64> {
    let row = serde_json::to_string(p)?;
    let cursor = match tagged("patient", &row) {
        Some(text) => log_change_text(ctx, &p.site_id, "patient", p.id.as_str(), &text).await?,
        None => log_change(ctx, &p.site_id, "patient", p.id.as_str(), &Record::Patient(p.clone())).await?,
    };
    x(
        &ctx.conn,
        "INSERT INTO patients (id, site_id, identity_key, record, updated_cursor, updated_by) \
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (id) DO UPDATE SET identity_key = excluded.identity_key, \
         record = excluded.record, updated_cursor = excluded.updated_cursor, updated_by = excluded.updated_by",
        &[&p.id.as_str(), &p.site_id.as_str(), &p.identity_key(), &row, &(cursor as i64), &by],
    )
    .await?;
    Ok(cursor)
}

async fn log_booking(ctx: &mut Ctx, b: &Booking, row: &str) -> R<u64> {
    match tagged("booking", row) {
        Some(text) => log_change_text(ctx, &b.site_id, "booking", b.id.as_str(), &text).await,
        None => log_change(ctx, &b.site_id, "booking", b.id.as_str(), &Record::Booking(b.clone())).await,
    }
}

/// The lease a desk's spend ended: its number was leased to the spending desk.
#[derive(Debug, Clone)]
pub(crate) struct PriorLease {
    /// The site it was logged under.
    pub site: SiteId,
    /// Its desk.
    pub device: DeviceId,
}

/// What a claim of a number got.
#[derive(Debug)]
pub(crate) enum Claim {
    /// Another booking holds the number, or a lease the booking may not spend.
    Lost,
    /// The booking holds it now; the lease it spent, when it was leased to the spender.
    Took(Option<PriorLease>),
}

/// Claims exactly queue number `n` of a session for a booking (waits for a transaction that
/// is claiming it right now). A leased number is taken only by its own desk (`spender`,
/// spending its lease — past the lease's expiry too: the platform keeps a lease until it may
/// return it); the lease ends in the claim's transaction, so a number is never booked and
/// leased.
pub(crate) async fn claim_exact(
    ctx: &Ctx,
    session: &SessionId,
    n: u32,
    booking: &BookingId,
    spender: Option<&DeviceId>,
) -> R<Claim> {
    let Some(row) = q1(
        &ctx.conn,
        "SELECT booking_id IS NULL, lease_site, lease_device FROM numbers \
         WHERE session_id = $1 AND queue_no = $2 FOR UPDATE",
        &[&session.as_str(), &(n as i32)],
    )
    .await?
    else {
        return Ok(Claim::Lost);
    };
    if !row.get::<_, bool>(0) {
        return Ok(Claim::Lost);
    }
    let prior = match (row.get::<_, Option<String>>(1), row.get::<_, Option<String>>(2)) {
        (Some(site), Some(device)) if spender.is_some_and(|d| d.as_str() == device) => {
            Some(PriorLease { site: SiteId(site), device: DeviceId(device) })
        }
        (_, Some(_)) => return Ok(Claim::Lost),
        _ => None,
    };
    x(
        &ctx.conn,
        "UPDATE numbers SET booking_id = $3, lease_site = NULL, lease_device = NULL, lease_expires_at = NULL, \
         lease_granted_at = NULL, lease_cursor = NULL, lease_slot_ends_at = NULL \
         WHERE session_id = $1 AND queue_no = $2",
        &[&session.as_str(), &(n as i32), &booking.as_str()],
    )
    .await?;
    Ok(Claim::Took(prior))
}

/// Claims the lowest free number of a slot's pool that no running transaction is claiming:
/// bookings of one slot at once take different numbers instead of queueing on one row. A
/// leased number is not free.
pub(crate) async fn claim_lowest(ctx: &Ctx, slot: &SlotId, pool: Pool, booking: &BookingId) -> R<Option<u32>> {
    Ok(q1(
        &ctx.conn,
        "UPDATE numbers SET booking_id = $3 WHERE (session_id, queue_no) = (SELECT session_id, queue_no FROM numbers \
         WHERE slot_id = $1 AND pool = $2 AND booking_id IS NULL AND lease_device IS NULL ORDER BY queue_no LIMIT 1 \
         FOR UPDATE SKIP LOCKED) RETURNING queue_no",
        &[&slot.as_str(), &pool_code(pool), &booking.as_str()],
    )
    .await?
    .map(|r| r.get::<_, i32>(0) as u32))
}

/// Inserts a new booking and logs it. Its number was claimed before (unless overbooked).
pub(crate) async fn insert_booking(ctx: &mut Ctx, b: &Booking, overbooked: bool) -> R<u64> {
    let row = serde_json::to_string(b)?;
    let cursor = log_booking(ctx, b, &row).await?;
    x(
        &ctx.conn,
        "INSERT INTO bookings (id, site_id, patient_id, slot_id, session_id, department_id, date, queue_no, \
         channel, status, ticket_code, overbooked, record, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
        &[
            &b.id.as_str(),
            &b.site_id.as_str(),
            &b.patient_id.as_str(),
            &b.slot_id.as_str(),
            &b.session_id.as_str(),
            &b.department_id.as_str(),
            &b.date,
            &(b.queue_no as i32),
            &b.channel.code(),
            &b.status.code(),
            &b.ticket_code.as_str(),
            &overbooked,
            &row,
            &ctx.now,
        ],
    )
    .await?;
    Ok(cursor)
}

/// Stores a booking's new state and logs it; a booking that no longer holds its number frees it.
pub(crate) async fn update_booking(ctx: &mut Ctx, b: &Booking) -> R<u64> {
    let row = serde_json::to_string(b)?;
    let cursor = log_booking(ctx, b, &row).await?;
    x(
        &ctx.conn,
        "UPDATE bookings SET status = $2, record = $3 WHERE id = $1",
        &[&b.id.as_str(), &b.status.code(), &row],
    )
    .await?;
    if !b.status.holds_number() {
        x(
            &ctx.conn,
            "UPDATE numbers SET booking_id = NULL WHERE session_id = $1 AND queue_no = $2 AND booking_id = $3",
            &[&b.session_id.as_str(), &(b.queue_no as i32), &b.id.as_str()],
        )
        .await?;
    }
    Ok(cursor)
}

/// Stores a session's new state and logs it.
pub(crate) async fn save_session(ctx: &mut Ctx, s: &Session) -> R<u64> {
    let cursor = log_change(ctx, &s.site_id, "session", s.id.as_str(), &Record::Session(s.clone())).await?;
    x(
        &ctx.conn,
        "INSERT INTO sessions (id, site_id, department_id, provider_id, date, record) VALUES ($1, $2, $3, $4, $5, $6) \
         ON CONFLICT (id) DO UPDATE SET record = excluded.record",
        &[
            &s.id.as_str(),
            &s.site_id.as_str(),
            &s.department_id.as_str(),
            &s.provider_id.as_str(),
            &s.date,
            &serde_json::to_string(s)?,
        ],
    )
    .await?;
    Ok(cursor)
}

/// Inserts a slot of a stored session, with one `numbers` row per regular number, and logs it.
pub(crate) async fn insert_slot(ctx: &mut Ctx, session: &Session, slot: &Slot) -> R<u64> {
    let cursor = log_change(ctx, &session.site_id, "slot", slot.id.as_str(), &Record::Slot(slot.clone())).await?;
    x(
        &ctx.conn,
        "INSERT INTO slots (id, session_id, site_id, department_id, date, record) VALUES ($1, $2, $3, $4, $5, $6)",
        &[
            &slot.id.as_str(),
            &session.id.as_str(),
            &session.site_id.as_str(),
            &session.department_id.as_str(),
            &session.date,
            &serde_json::to_string(slot)?,
        ],
    )
    .await?;
    let (mut numbers, mut pools) = (Vec::new(), Vec::new());
    for pool in [Pool::Online, Pool::Desk] {
        for n in slot.pool_numbers(pool) {
            numbers.push(n as i32);
            pools.push(pool_code(pool));
        }
    }
    x(
        &ctx.conn,
        "INSERT INTO numbers (session_id, queue_no, slot_id, pool) SELECT $1, n, $2, p FROM unnest($3::int[], $4::text[]) AS u(n, p)",
        &[&session.id.as_str(), &slot.id.as_str(), &numbers, &pools],
    )
    .await?;
    Ok(cursor)
}

/// Stores a slot's new layout (its numbers' pools too) and logs it.
pub(crate) async fn update_slot(ctx: &mut Ctx, session: &Session, slot: &Slot) -> R<u64> {
    let cursor = log_change(ctx, &session.site_id, "slot", slot.id.as_str(), &Record::Slot(slot.clone())).await?;
    x(&ctx.conn, "UPDATE slots SET record = $2 WHERE id = $1", &[&slot.id.as_str(), &serde_json::to_string(slot)?])
        .await?;
    for pool in [Pool::Online, Pool::Desk] {
        let r = slot.pool_numbers(pool);
        x(
            &ctx.conn,
            "UPDATE numbers SET pool = $2 WHERE slot_id = $1 AND queue_no >= $3 AND queue_no < $4 AND pool <> $2",
            &[&slot.id.as_str(), &pool_code(pool), &(r.start as i32), &(r.end as i32)],
        )
        .await?;
    }
    Ok(cursor)
}

/// The live bookings of a session: (slot, number, channel), overbooks excluded.
pub(crate) async fn session_held(c: &Object, session: &SessionId) -> R<Vec<(String, u32, String)>> {
    Ok(q(
        c,
        "SELECT slot_id, queue_no, channel FROM bookings WHERE session_id = $1 AND status <> 'cancelled' AND NOT overbooked",
        &[&session.as_str()],
    )
    .await?
    .iter()
    .map(|r| (r.get(0), r.get::<_, i32>(1) as u32, r.get(2)))
    .collect())
}
