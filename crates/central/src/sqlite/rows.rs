//! Reading and writing domain rows. Rows keep their domain serde form in `record`, plus the
//! columns the platform queries by.

use std::collections::HashMap;

use frontdesk_domain::booking::{Booking, SlotState};
use frontdesk_domain::patient::Patient;
use frontdesk_domain::schedule::{
    BookingId, Department, DepartmentId, DeviceId, PatientId, Provider, Session, SessionId, Site, SiteId, Slot, SlotId,
};
use frontdesk_protocol::sync::Record;
use jiff::Timestamp;
use jiff::civil::Date;
use rusqlite::{Connection, OptionalExtension, params};

use super::WriteCtx;
use crate::error::StoreResult;
use crate::outcome::tagged;

fn json<T: serde::de::DeserializeOwned>(s: &str) -> StoreResult<T> {
    Ok(serde_json::from_str(s)?)
}

pub(crate) fn load_site(c: &Connection, id: &SiteId) -> StoreResult<Option<Site>> {
    Ok(c.prepare_cached("SELECT id, name, timezone FROM sites WHERE id = ?1")?
        .query_row([id.as_str()], |r| Ok(Site { id: SiteId(r.get(0)?), name: r.get(1)?, timezone: r.get(2)? }))
        .optional()?)
}

pub(crate) fn load_department_by_code(c: &Connection, site: &SiteId, code: &str) -> StoreResult<Option<Department>> {
    Ok(c.prepare_cached("SELECT id, site_id, code, name, name_en FROM departments WHERE site_id = ?1 AND code = ?2")?
        .query_row(params![site.as_str(), code.trim().to_ascii_uppercase()], |r| {
            Ok(Department {
                id: DepartmentId(r.get(0)?),
                site_id: SiteId(r.get(1)?),
                code: r.get(2)?,
                name: r.get(3)?,
                name_en: r.get(4)?,
            })
        })
        .optional()?)
}

pub(crate) fn load_department(c: &Connection, id: &DepartmentId) -> StoreResult<Option<Department>> {
    Ok(c.prepare_cached("SELECT id, site_id, code, name, name_en FROM departments WHERE id = ?1")?
        .query_row([id.as_str()], |r| {
            Ok(Department {
                id: DepartmentId(r.get(0)?),
                site_id: SiteId(r.get(1)?),
                code: r.get(2)?,
                name: r.get(3)?,
                name_en: r.get(4)?,
            })
        })
        .optional()?)
}

pub(crate) fn load_provider(c: &Connection, id: &str) -> StoreResult<Option<Provider>> {
    let rec: Option<String> =
        c.prepare_cached("SELECT record FROM providers WHERE id = ?1")?.query_row([id], |r| r.get(0)).optional()?;
    rec.map(|r| json(&r)).transpose()
}

pub(crate) fn load_session(c: &Connection, id: &SessionId) -> StoreResult<Option<Session>> {
    let rec: Option<String> = c
        .prepare_cached("SELECT record FROM sessions WHERE id = ?1")?
        .query_row([id.as_str()], |r| r.get(0))
        .optional()?;
    rec.map(|r| json(&r)).transpose()
}

/// Where a slot lives: (site, department, date).
pub(crate) fn slot_place(c: &Connection, id: &SlotId) -> StoreResult<Option<(SiteId, DepartmentId, Date)>> {
    let row: Option<(String, String, String)> = c
        .prepare_cached("SELECT site_id, department_id, date FROM slots WHERE id = ?1")?
        .query_row([id.as_str()], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .optional()?;
    match row {
        None => Ok(None),
        Some((s, d, date)) => Ok(Some((SiteId(s), DepartmentId(d), parse_date(&date)?))),
    }
}

pub(crate) fn parse_date(s: &str) -> StoreResult<Date> {
    s.parse().map_err(|e| crate::error::StoreError::Internal(format!("stored date {s}: {e}")))
}

/// Every slot of a department on a day, with its session, the numbers held in it and the
/// numbers leased in it (a lease holds its number until the platform ends it, expired or not:
/// docs/SYNC.md, "Return"): what the booking rules need for a decision and for suggestions.
pub(crate) fn day_states(
    c: &Connection,
    site: &SiteId,
    dept: &DepartmentId,
    date: Date,
) -> StoreResult<Vec<SlotState>> {
    let date_s = date.to_string();
    let mut sessions: HashMap<String, Session> = HashMap::new();
    {
        let mut st = c.prepare_cached(
            "SELECT id, record FROM sessions WHERE site_id = ?1 AND department_id = ?2 AND date = ?3",
        )?;
        let mut rows = st.query(params![site.as_str(), dept.as_str(), date_s])?;
        while let Some(r) = rows.next()? {
            let rec: String = r.get(1)?;
            sessions.insert(r.get(0)?, json(&rec)?);
        }
    }
    // The numbers held, session by session (the `bookings_number_held` index).
    let mut taken: HashMap<String, Vec<u32>> = HashMap::new();
    {
        let mut st = c.prepare_cached(
            "SELECT slot_id, queue_no FROM bookings WHERE session_id = ?1 AND status <> 'cancelled' AND overbooked = 0",
        )?;
        for id in sessions.keys() {
            let mut rows = st.query([id.as_str()])?;
            while let Some(r) = rows.next()? {
                taken.entry(r.get(0)?).or_default().push(r.get::<_, u32>(1)?);
            }
        }
    }
    // The numbers leased, session by session (the leases' key).
    let mut leased: HashMap<String, Vec<(u32, DeviceId)>> = HashMap::new();
    {
        let mut st = c.prepare_cached("SELECT slot_id, queue_no, device_id FROM leases WHERE session_id = ?1")?;
        for id in sessions.keys() {
            let mut rows = st.query([id.as_str()])?;
            while let Some(r) = rows.next()? {
                leased.entry(r.get(0)?).or_default().push((r.get::<_, u32>(1)?, DeviceId(r.get(2)?)));
            }
        }
    }
    let mut out = Vec::new();
    let mut st = c.prepare_cached(
        "SELECT id, session_id, record FROM slots WHERE site_id = ?1 AND department_id = ?2 AND date = ?3 ORDER BY id",
    )?;
    let mut rows = st.query(params![site.as_str(), dept.as_str(), date_s])?;
    while let Some(r) = rows.next()? {
        let id: String = r.get(0)?;
        let session_id: String = r.get(1)?;
        let rec: String = r.get(2)?;
        let Some(session) = sessions.get(&session_id) else { continue };
        let slot: Slot = json(&rec)?;
        out.push(SlotState {
            session: session.clone(),
            slot,
            taken: taken.remove(&id).unwrap_or_default(),
            leased: leased.remove(&id).unwrap_or_default(),
        });
    }
    Ok(out)
}

/// A stored instant in milliseconds since the epoch.
pub(crate) fn millis(ms: i64) -> StoreResult<Timestamp> {
    Timestamp::from_millisecond(ms).map_err(|e| crate::error::StoreError::Internal(format!("stored instant {ms}: {e}")))
}

/// Numbers held in a session (overbooks included), for the overbook rule.
pub(crate) fn session_numbers(c: &Connection, session: &SessionId) -> StoreResult<Vec<u32>> {
    let mut st = c.prepare_cached("SELECT queue_no FROM bookings WHERE session_id = ?1 AND status <> 'cancelled'")?;
    let v = st.query_map([session.as_str()], |r| r.get::<_, u32>(0))?.collect::<Result<Vec<_>, _>>()?;
    Ok(v)
}

pub(crate) fn session_slots(c: &Connection, session: &SessionId) -> StoreResult<Vec<Slot>> {
    let mut st = c.prepare_cached("SELECT record FROM slots WHERE session_id = ?1")?;
    let recs = st.query_map([session.as_str()], |r| r.get::<_, String>(0))?.collect::<Result<Vec<_>, _>>()?;
    recs.iter().map(|r| json(r)).collect()
}

/// The patient's active bookings in a department on a day (rule 2).
pub(crate) fn patient_day_bookings(
    c: &Connection,
    patient: &PatientId,
    dept: &DepartmentId,
    date: Date,
) -> StoreResult<Vec<Booking>> {
    let mut st = c.prepare_cached(
        "SELECT record FROM bookings WHERE patient_id = ?1 AND department_id = ?2 AND date = ?3 \
         AND status IN ('booked', 'checked_in')",
    )?;
    let recs = st
        .query_map(params![patient.as_str(), dept.as_str(), date.to_string()], |r| r.get::<_, String>(0))?
        .collect::<Result<Vec<_>, _>>()?;
    recs.iter().map(|r| json(r)).collect()
}

pub(crate) fn load_booking(c: &Connection, id: &BookingId) -> StoreResult<Option<Booking>> {
    let rec: Option<String> = c
        .prepare_cached("SELECT record FROM bookings WHERE id = ?1")?
        .query_row([id.as_str()], |r| r.get(0))
        .optional()?;
    rec.map(|r| json(&r)).transpose()
}

pub(crate) fn booking_by_ticket(c: &Connection, code: &str) -> StoreResult<Option<BookingId>> {
    Ok(c.prepare_cached("SELECT id FROM bookings WHERE ticket_code = ?1")?
        .query_row([code], |r| r.get::<_, String>(0))
        .optional()?
        .map(BookingId))
}

/// Follows a merge alias and reads the site of the patient it leads to, in one look-up: the
/// surviving id, and its site when the patient is stored.
pub(crate) fn resolve_patient_site(c: &Connection, id: &PatientId) -> StoreResult<(PatientId, Option<String>)> {
    let (into, site): (String, Option<String>) = c
        .prepare_cached(
            "SELECT a.id, p.site_id FROM (SELECT COALESCE((SELECT into_id FROM patient_aliases WHERE from_id = ?1), ?1) \
             AS id) a LEFT JOIN patients p ON p.id = a.id",
        )?
        .query_row([id.as_str()], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok((PatientId(into), site))
}

/// Follows a merge alias and loads the patient it leads to, in one look-up: the surviving
/// id, and the patient's row when it is stored.
pub(crate) fn resolve_and_load_patient(c: &Connection, id: &PatientId) -> StoreResult<(PatientId, Option<PatientRow>)> {
    let (into, row): (String, Option<(String, i64, String)>) = c
        .prepare_cached(
            "SELECT a.id, p.record, p.updated_cursor, p.updated_by FROM (SELECT COALESCE((SELECT into_id FROM \
             patient_aliases WHERE from_id = ?1), ?1) AS id) a LEFT JOIN patients p ON p.id = a.id",
        )?
        .query_row([id.as_str()], |r| {
            let rec: Option<String> = r.get(1)?;
            Ok((
                r.get(0)?,
                match rec {
                    Some(rec) => Some((rec, r.get(2)?, r.get(3)?)),
                    None => None,
                },
            ))
        })?;
    let row = match row {
        None => None,
        Some((rec, cur, by)) => Some(PatientRow { patient: json(&rec)?, updated_cursor: cur as u64, updated_by: by }),
    };
    Ok((PatientId(into), row))
}

/// Whether a booking id is stored, and which booking holds a ticket code, in one look-up.
pub(crate) fn booking_or_ticket(c: &Connection, id: &BookingId, code: &str) -> StoreResult<(bool, Option<BookingId>)> {
    let mut st = c.prepare_cached("SELECT id FROM bookings WHERE id = ?1 OR ticket_code = ?2")?;
    let mut rows = st.query(params![id.as_str(), code])?;
    let (mut exists, mut holder) = (false, None);
    while let Some(r) = rows.next()? {
        let found: String = r.get(0)?;
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

pub(crate) fn load_patient(c: &Connection, id: &PatientId) -> StoreResult<Option<PatientRow>> {
    let row: Option<(String, i64, String)> = c
        .prepare_cached("SELECT record, updated_cursor, updated_by FROM patients WHERE id = ?1")?
        .query_row([id.as_str()], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .optional()?;
    match row {
        None => Ok(None),
        Some((rec, cur, by)) => {
            Ok(Some(PatientRow { patient: json(&rec)?, updated_cursor: cur as u64, updated_by: by }))
        }
    }
}

pub(crate) fn patient_id_by_key(c: &Connection, site: &SiteId, key: &str) -> StoreResult<Option<PatientId>> {
    Ok(c.prepare_cached("SELECT id FROM patients WHERE site_id = ?1 AND identity_key = ?2")?
        .query_row(params![site.as_str(), key], |r| r.get::<_, String>(0))
        .optional()?
        .map(PatientId))
}

pub(crate) fn patient_by_key(c: &Connection, site: &SiteId, key: &str) -> StoreResult<Option<PatientRow>> {
    let id: Option<String> = c
        .prepare_cached("SELECT id FROM patients WHERE site_id = ?1 AND identity_key = ?2")?
        .query_row(params![site.as_str(), key], |r| r.get(0))
        .optional()?;
    match id {
        None => Ok(None),
        Some(id) => load_patient(c, &PatientId(id)),
    }
}

/// Writes a row's latest state to the change log under a fresh cursor.
pub(crate) fn log_change(
    ctx: &mut WriteCtx<'_>,
    site: &SiteId,
    entity: &str,
    id: &str,
    record: &Record,
) -> StoreResult<u64> {
    let text = serde_json::to_string(record)?;
    log_change_text(ctx, site, entity, id, &text)
}

fn log_change_text(ctx: &mut WriteCtx<'_>, site: &SiteId, entity: &str, id: &str, text: &str) -> StoreResult<u64> {
    let cursor = ctx.take_cursor();
    ctx.conn
        .prepare_cached(
            "INSERT INTO changes (site_id, entity, entity_id, cursor, record) VALUES (?1, ?2, ?3, ?4, ?5) \
             ON CONFLICT (site_id, entity, entity_id) DO UPDATE SET cursor = excluded.cursor, record = excluded.record",
        )?
        .execute(params![site.as_str(), entity, id, cursor as i64, text])?;
    Ok(cursor)
}

/// Inserts or replaces a patient and logs the change.
pub(crate) fn save_patient(ctx: &mut WriteCtx<'_>, p: &Patient, by: &str) -> StoreResult<u64> {
    let row = serde_json::to_string(p)?;
    let cursor = match tagged("patient", &row) {
        Some(text) => log_change_text(ctx, &p.site_id, "patient", p.id.as_str(), &text)?,
        None => log_change(ctx, &p.site_id, "patient", p.id.as_str(), &Record::Patient(p.clone()))?,
    };
    ctx.conn
        .prepare_cached(
            "INSERT INTO patients (id, site_id, identity_key, record, updated_cursor, updated_by) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (id) DO UPDATE SET identity_key = excluded.identity_key, \
             record = excluded.record, updated_cursor = excluded.updated_cursor, updated_by = excluded.updated_by",
        )?
        .execute(params![p.id.as_str(), p.site_id.as_str(), p.identity_key(), row, cursor as i64, by])?;
    Ok(cursor)
}

fn log_booking(ctx: &mut WriteCtx<'_>, b: &Booking, row: &str) -> StoreResult<u64> {
    match tagged("booking", row) {
        Some(text) => log_change_text(ctx, &b.site_id, "booking", b.id.as_str(), &text),
        None => log_change(ctx, &b.site_id, "booking", b.id.as_str(), &Record::Booking(b.clone())),
    }
}

/// Inserts a new booking and logs it.
pub(crate) fn insert_booking(ctx: &mut WriteCtx<'_>, b: &Booking, overbooked: bool) -> StoreResult<u64> {
    let row = serde_json::to_string(b)?;
    let cursor = log_booking(ctx, b, &row)?;
    ctx.conn
        .prepare_cached(
            "INSERT INTO bookings (id, site_id, patient_id, slot_id, session_id, department_id, date, queue_no, \
             channel, status, ticket_code, overbooked, record, created_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
        )?
        .execute(params![
            b.id.as_str(),
            b.site_id.as_str(),
            b.patient_id.as_str(),
            b.slot_id.as_str(),
            b.session_id.as_str(),
            b.department_id.as_str(),
            b.date.to_string(),
            b.queue_no,
            b.channel.code(),
            b.status.code(),
            b.ticket_code.as_str(),
            overbooked as i64,
            row,
            ctx.now_text(),
        ])?;
    if !overbooked {
        ctx.note_number((b.site_id.clone(), b.department_id.clone(), b.date), &b.slot_id, b.queue_no, true);
    }
    Ok(cursor)
}

/// Stores a booking's new state and logs it.
pub(crate) fn update_booking(ctx: &mut WriteCtx<'_>, b: &Booking) -> StoreResult<u64> {
    let row = serde_json::to_string(b)?;
    let cursor = log_booking(ctx, b, &row)?;
    ctx.conn.prepare_cached("UPDATE bookings SET status = ?2, record = ?3 WHERE id = ?1")?.execute(params![
        b.id.as_str(),
        b.status.code(),
        row
    ])?;
    if !b.status.holds_number() {
        ctx.note_number((b.site_id.clone(), b.department_id.clone(), b.date), &b.slot_id, b.queue_no, false);
    }
    Ok(cursor)
}

/// Stores a session's new state and logs it.
pub(crate) fn save_session(ctx: &mut WriteCtx<'_>, s: &Session) -> StoreResult<u64> {
    let cursor = log_change(ctx, &s.site_id, "session", s.id.as_str(), &Record::Session(s.clone()))?;
    ctx.conn
        .prepare_cached(
            "INSERT INTO sessions (id, site_id, department_id, provider_id, date, record) VALUES (?1, ?2, ?3, ?4, ?5, ?6) \
             ON CONFLICT (id) DO UPDATE SET record = excluded.record",
        )?
        .execute(params![
            s.id.as_str(),
            s.site_id.as_str(),
            s.department_id.as_str(),
            s.provider_id.as_str(),
            s.date.to_string(),
            serde_json::to_string(s)?
        ])?;
    ctx.forget_day(&(s.site_id.clone(), s.department_id.clone(), s.date));
    Ok(cursor)
}

/// Inserts a slot of a stored session and logs it.
pub(crate) fn insert_slot(ctx: &mut WriteCtx<'_>, session: &Session, slot: &Slot) -> StoreResult<u64> {
    let cursor = log_change(ctx, &session.site_id, "slot", slot.id.as_str(), &Record::Slot(slot.clone()))?;
    ctx.conn
        .prepare_cached(
            "INSERT INTO slots (id, session_id, site_id, department_id, date, record) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?
        .execute(params![
            slot.id.as_str(),
            session.id.as_str(),
            session.site_id.as_str(),
            session.department_id.as_str(),
            session.date.to_string(),
            serde_json::to_string(slot)?
        ])?;
    ctx.forget_day(&(session.site_id.clone(), session.department_id.clone(), session.date));
    Ok(cursor)
}

/// Stores a slot's new layout and logs it.
pub(crate) fn update_slot(ctx: &mut WriteCtx<'_>, session: &Session, slot: &Slot) -> StoreResult<u64> {
    let cursor = log_change(ctx, &session.site_id, "slot", slot.id.as_str(), &Record::Slot(slot.clone()))?;
    ctx.conn
        .prepare_cached("UPDATE slots SET record = ?2 WHERE id = ?1")?
        .execute(params![slot.id.as_str(), serde_json::to_string(slot)?])?;
    ctx.forget_day(&(session.site_id.clone(), session.department_id.clone(), session.date));
    Ok(cursor)
}

/// The live bookings of a session: (slot, number, channel), overbooks excluded.
pub(crate) fn session_held(c: &Connection, session: &SessionId) -> StoreResult<Vec<(String, u32, String)>> {
    let mut st = c.prepare_cached(
        "SELECT slot_id, queue_no, channel FROM bookings WHERE session_id = ?1 AND status <> 'cancelled' AND overbooked = 0",
    )?;
    let v =
        st.query_map([session.as_str()], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?.collect::<Result<Vec<_>, _>>()?;
    Ok(v)
}
