//! Reading replica rows back into domain types. Every parse failure is reported as corrupt
//! data naming the table, never a panic.

use frontdesk_domain::booking::{Booking, BookingStatus};
use frontdesk_domain::document::{Document, DocumentKind, Sex};
use frontdesk_domain::patient::Patient;
use frontdesk_domain::schedule::{Channel, Department, Period, Provider, Session, SessionStatus, Site, Slot};
use frontdesk_domain::ticket::TicketCode;
use jiff::civil::{Date, Time};
use rusqlite::Row;

use crate::DeskError;

fn corrupt(what: &'static str, detail: impl std::fmt::Display) -> DeskError {
    DeskError::Corrupt { what, detail: detail.to_string() }
}

pub(crate) fn date(what: &'static str, s: &str) -> Result<Date, DeskError> {
    s.parse::<Date>().map_err(|e| corrupt(what, e))
}

pub(crate) fn time(what: &'static str, s: &str) -> Result<Time, DeskError> {
    s.parse::<Time>().map_err(|e| corrupt(what, e))
}

/// Formats a time the way the replica stores it (`HH:MM:SS`, sortable).
pub(crate) fn time_text(t: Time) -> String {
    t.strftime("%H:%M:%S").to_string()
}

pub(crate) const SITE_COLUMNS: &str = "id, name, timezone";
pub(crate) fn site(r: &Row<'_>) -> Result<Site, DeskError> {
    Ok(Site { id: r.get::<_, String>(0)?.into(), name: r.get(1)?, timezone: r.get(2)? })
}

pub(crate) const DEPARTMENT_COLUMNS: &str = "id, site_id, code, name, name_en";
pub(crate) fn department(r: &Row<'_>) -> Result<Department, DeskError> {
    Ok(Department {
        id: r.get::<_, String>(0)?.into(),
        site_id: r.get::<_, String>(1)?.into(),
        code: r.get(2)?,
        name: r.get(3)?,
        name_en: r.get(4)?,
    })
}

pub(crate) const PROVIDER_COLUMNS: &str = "id, site_id, department_id, name, title, fee_fen";
pub(crate) fn provider(r: &Row<'_>) -> Result<Provider, DeskError> {
    Ok(Provider {
        id: r.get::<_, String>(0)?.into(),
        site_id: r.get::<_, String>(1)?.into(),
        department_id: r.get::<_, String>(2)?.into(),
        name: r.get(3)?,
        title: r.get(4)?,
        fee_fen: r.get(5)?,
    })
}

/// How many columns [`SESSION_COLUMNS`] names (where the next table's columns start).
pub(crate) const SESSION_WIDTH: usize = 9;
/// Session columns, prefixed with `s.`.
pub(crate) const SESSION_COLUMNS: &str =
    "s.id, s.site_id, s.department_id, s.provider_id, s.date, s.period, s.status, s.status_reason, s.room";
pub(crate) fn session(r: &Row<'_>, at: usize) -> Result<Session, DeskError> {
    let period: String = r.get(at + 5)?;
    let status: String = r.get(at + 6)?;
    Ok(Session {
        id: r.get::<_, String>(at)?.into(),
        site_id: r.get::<_, String>(at + 1)?.into(),
        department_id: r.get::<_, String>(at + 2)?.into(),
        provider_id: r.get::<_, String>(at + 3)?.into(),
        date: date("sessions.date", &r.get::<_, String>(at + 4)?)?,
        period: serde_json::from_value(serde_json::Value::String(period.clone()))
            .map_err(|_| corrupt("sessions.period", &period))?,
        status: SessionStatus::parse(&status).ok_or_else(|| corrupt("sessions.status", &status))?,
        status_reason: r.get(at + 7)?,
        room: r.get(at + 8)?,
    })
}

pub(crate) fn period_text(p: Period) -> &'static str {
    match p {
        Period::Morning => "morning",
        Period::Afternoon => "afternoon",
        Period::Evening => "evening",
    }
}

/// Slot columns, prefixed with `sl.`.
pub(crate) const SLOT_COLUMNS: &str =
    "sl.id, sl.session_id, sl.start_time, sl.end_time, sl.first_queue_no, sl.online_capacity, sl.desk_capacity";
pub(crate) fn slot(r: &Row<'_>, at: usize) -> Result<Slot, DeskError> {
    Ok(Slot {
        id: r.get::<_, String>(at)?.into(),
        session_id: r.get::<_, String>(at + 1)?.into(),
        start: time("slots.start_time", &r.get::<_, String>(at + 2)?)?,
        end: time("slots.end_time", &r.get::<_, String>(at + 3)?)?,
        first_queue_no: r.get(at + 4)?,
        online_capacity: r.get(at + 5)?,
        desk_capacity: r.get(at + 6)?,
    })
}

/// Patient columns, prefixed with `p.`.
pub(crate) const PATIENT_COLUMNS: &str = "p.id, p.site_id, p.name, p.sex, p.birth_date, p.document_kind, \
     p.document_number, p.phone, p.medical_card, p.ehealth_card, p.confirmed";
pub(crate) fn patient(r: &Row<'_>) -> Result<(Patient, bool), DeskError> {
    let sex: Option<String> = r.get(3)?;
    let birth: Option<String> = r.get(4)?;
    let kind: String = r.get(5)?;
    Ok((
        Patient {
            id: r.get::<_, String>(0)?.into(),
            site_id: r.get::<_, String>(1)?.into(),
            name: r.get(2)?,
            sex: match sex {
                None => None,
                Some(s) => Some(Sex::parse(&s).ok_or_else(|| corrupt("patients.sex", &s))?),
            },
            birth_date: birth.map(|b| date("patients.birth_date", &b)).transpose()?,
            document: Document {
                kind: DocumentKind::from_code(&kind).ok_or_else(|| corrupt("patients.document_kind", &kind))?,
                number: r.get(6)?,
            },
            phone: r.get(7)?,
            medical_card: r.get(8)?,
            ehealth_card: r.get(9)?,
        },
        r.get::<_, i64>(10)? != 0,
    ))
}

/// Booking columns, prefixed with `b.`.
pub(crate) const BOOKING_COLUMNS: &str = "b.id, b.site_id, b.patient_id, b.slot_id, b.session_id, b.department_id, \
     b.date, b.queue_no, b.channel, b.status, b.ticket_code, b.overbook_reason, b.confirmed";
pub(crate) fn booking(r: &Row<'_>, at: usize) -> Result<(Booking, bool), DeskError> {
    let channel: String = r.get(at + 8)?;
    let status: String = r.get(at + 9)?;
    let code: String = r.get(at + 10)?;
    Ok((
        Booking {
            id: r.get::<_, String>(at)?.into(),
            site_id: r.get::<_, String>(at + 1)?.into(),
            patient_id: r.get::<_, String>(at + 2)?.into(),
            slot_id: r.get::<_, String>(at + 3)?.into(),
            session_id: r.get::<_, String>(at + 4)?.into(),
            department_id: r.get::<_, String>(at + 5)?.into(),
            date: date("bookings.date", &r.get::<_, String>(at + 6)?)?,
            queue_no: r.get(at + 7)?,
            channel: Channel::parse(&channel).ok_or_else(|| corrupt("bookings.channel", &channel))?,
            status: BookingStatus::parse(&status).ok_or_else(|| corrupt("bookings.status", &status))?,
            ticket_code: TicketCode::parse(&code).map_err(|e| corrupt("bookings.ticket_code", e))?,
            overbook_reason: r.get(at + 11)?,
        },
        r.get::<_, i64>(at + 12)? != 0,
    ))
}
