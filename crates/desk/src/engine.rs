//! The desk engine: everything a front desk does, against the local replica, with every
//! change written to the outbox in the same transaction as its local effect.

use std::path::Path;
use std::sync::Arc;

use frontdesk_domain::Lang;
use frontdesk_domain::booking::{
    Booking, BookingRequest, QueueChoice, Refusal, SlotState, decide_booking, decide_cancel, decide_check_in,
    overbook_next,
};
use frontdesk_domain::clock::Clock;
use frontdesk_domain::document::normalize_input;
use frontdesk_domain::hlc::Hlc;
use frontdesk_domain::patient::{Patient, PatientInput, validate_patient};
use frontdesk_domain::scan::{Scan, classify};
use frontdesk_domain::schedule::{
    BookingId, Channel, Department, DepartmentId, DeviceId, PatientId, Period, Provider, ProviderId, Session, Site,
    SiteId, Slot, SlotId, StaffId,
};
use frontdesk_domain::ticket::TicketCode;
use frontdesk_protocol::sync::{Op, OpEnvelope};
use jiff::civil::{Date, DateTime, Time};
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan};
use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior, params};
use serde::Serialize;
use uuid::Uuid;

use crate::leases::{OwnLeases, earliest_for_desk};
use crate::permissions::Action;
use crate::rows::{self, time_text};
use crate::staff::Staff;
use crate::{DeskError, db};

/// The computer's own clock (the domain's, re-exported for the desk's callers).
pub use frontdesk_domain::clock::SystemClock;

/// How many days ahead "the earliest slot" looks.
const LOOKAHEAD_DAYS: i64 = 7;

/// The desk's identity: the device, its site and the member of staff at the desk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeviceInfo {
    /// This device.
    pub device_id: DeviceId,
    /// The site it belongs to, once it has one (demo or enrolled).
    pub site_id: Option<SiteId>,
    /// Who is working at the desk.
    pub staff_id: StaffId,
}

/// A booking with what a person needs to read it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BookingView {
    /// The booking.
    pub booking: Booking,
    /// The patient's full name (mask it before printing or showing it to others).
    pub patient_name: String,
    /// Department code, e.g. `NK`.
    pub department_code: String,
    /// Department name, e.g. 内科.
    pub department_name: String,
    /// Provider's name.
    pub provider_name: String,
    /// Provider's title.
    pub provider_title: String,
    /// Half-day.
    pub period: Period,
    /// Slot start.
    pub start: Time,
    /// Slot end.
    pub end: Time,
    /// True once the platform has confirmed the booking; until then it is the desk's
    /// prediction ("not yet confirmed"), unless it is `leased`.
    pub confirmed: bool,
    /// True when the booking spent a number of this desk's own capacity lease: the platform
    /// grants exactly that number, so it is guaranteed before it is confirmed.
    pub leased: bool,
    /// `confirmed` or `leased`: shown and printed without the "not yet confirmed" mark.
    pub guaranteed: bool,
}

/// Where to book.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BookTarget {
    /// This slot.
    Slot(SlotId),
    /// The earliest slot the desk can book now of a department (code or id), optionally of
    /// one provider.
    Earliest {
        /// Department code (`NK`) or id.
        department: String,
        /// Only this provider's sessions.
        provider: Option<ProviderId>,
    },
}

/// A day's board: departments → providers → sessions → slots with what is left.
#[derive(Debug, Clone, Serialize)]
pub struct Board {
    /// The day.
    pub date: Date,
    /// Departments in code order.
    pub departments: Vec<BoardDepartment>,
}

/// A department on the board.
#[derive(Debug, Clone, Serialize)]
pub struct BoardDepartment {
    /// The department.
    pub department: Department,
    /// Its providers with sessions that day.
    pub providers: Vec<BoardProvider>,
}

/// A provider on the board.
#[derive(Debug, Clone, Serialize)]
pub struct BoardProvider {
    /// The provider.
    pub provider: Provider,
    /// Their sessions that day.
    pub sessions: Vec<BoardSession>,
}

/// A session on the board.
#[derive(Debug, Clone, Serialize)]
pub struct BoardSession {
    /// The session.
    pub session: Session,
    /// Its slots.
    pub slots: Vec<BoardSlot>,
    /// Free desk numbers left in slots that have not ended.
    pub remaining_desk: u32,
    /// Free online numbers left in slots that have not started.
    pub remaining_online: u32,
    /// Live bookings.
    pub booked: u32,
    /// Numbers of this desk's own lease it may spend now, over the session's slots.
    pub guaranteed: u32,
}

/// A slot on the board.
#[derive(Debug, Clone, Serialize)]
pub struct BoardSlot {
    /// The slot.
    pub slot: Slot,
    /// Free desk numbers a walk-in could still take now (none once the slot ended or while
    /// the session is not open), as `SlotState::open_remaining` says: numbers leased to any
    /// desk are not free.
    pub remaining_desk: u32,
    /// Online numbers still bookable now (none once the slot started or while the session is
    /// not open), as `SlotState::open_remaining` says.
    pub remaining_online: u32,
    /// Numbers held by live bookings (overbooks included).
    pub booked: u32,
    /// The slot is over.
    pub ended: bool,
    /// Numbers of this desk's own lease it may spend now in this slot: a booking from one of
    /// them is guaranteed. This desk can book the slot when `remaining_desk + guaranteed > 0`.
    pub guaranteed: u32,
    /// Desk numbers leased to other desks (nobody else may take them while leased).
    pub leased_elsewhere: u32,
}

/// One op waiting in the outbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OutboxEntry {
    /// Per-device sequence number.
    pub seq: u64,
    /// The op's kind.
    pub kind: String,
    /// The patient or booking it is about.
    pub subject: String,
    /// When it was made (local wall clock).
    pub created_at: Timestamp,
    /// The op as it will travel.
    pub envelope: OpEnvelope,
}

/// The desk at a glance.
#[derive(Debug, Clone, Serialize)]
pub struct DeskStatus {
    /// Device, site and staff.
    pub device: DeviceInfo,
    /// The site, when the desk has one.
    pub site: Option<Site>,
    /// Patients in the replica.
    pub patients: u64,
    /// Live bookings today.
    pub bookings_today: u64,
    /// Ops waiting to be sent.
    pub pending_ops: u64,
    /// When the oldest waiting op was made.
    pub oldest_pending: Option<Timestamp>,
    /// The platform this desk syncs with, if enrolled.
    pub server: Option<String>,
    /// When the desk last synced successfully.
    pub last_sync: Option<Timestamp>,
    /// Capacity leases: held, spent, expiring, per session.
    pub leases: crate::leases::LeaseStatus,
    /// The file the replica's key is kept in, when no keychain could keep it (`None`: in the
    /// keychain, or an in-memory replica).
    pub key_file: Option<std::path::PathBuf>,
}

/// What a scan resolved to.
#[derive(Debug, Clone, Serialize)]
pub struct ScanOutcome {
    /// What the payload is: `ticket`, `resident_id`, `medical_card`, `ehealth_card`.
    pub kind: &'static str,
    /// The normalised value read.
    pub value: String,
    /// The patient it identifies, when known here.
    pub patient: Option<Patient>,
    /// The booking, for a ticket.
    pub booking: Option<BookingView>,
}

/// True when the desk is enrolled and its last sync attempt failed (or it never synced):
/// bookings then prefer its own leased numbers, which the platform is bound to accept.
fn cannot_reach_platform(conn: &Connection) -> Result<bool, DeskError> {
    let enrolled: bool =
        conn.query_row("SELECT EXISTS (SELECT 1 FROM meta WHERE key = 'server_url')", [], |r| r.get(0))?;
    if !enrolled {
        return Ok(false);
    }
    let failed: bool = conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM meta WHERE key = 'last_error') OR NOT EXISTS (SELECT 1 FROM meta WHERE key = 'last_sync')",
        [],
        |r| r.get(0),
    )?;
    Ok(failed)
}

/// What `seed_demo` added.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct DemoSeeded {
    /// Sessions added (existing ones are kept).
    pub sessions: usize,
    /// Demo patients added.
    pub patients: usize,
}

/// The headless desk engine over one replica.
pub struct Desk {
    conn: Connection,
    clock: Arc<dyn Clock>,
    /// Who signed in here, in this process ([`Desk::sign_in`]); every change asks
    /// [`Desk::authorize`].
    pub(crate) session: Option<crate::staff::Staff>,
    /// Where the replica's key is kept (`None` in memory).
    key_place: Option<crate::keystore::KeyPlace>,
}

pub(crate) fn meta(conn: &Connection, key: &str) -> Result<Option<String>, DeskError> {
    Ok(conn.query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0)).optional()?)
}

pub(crate) fn set_meta(conn: &Connection, key: &str, value: &str) -> Result<(), DeskError> {
    conn.execute(
        "INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        params![key, value],
    )?;
    Ok(())
}

fn mint_ticket_code(tx: &Transaction<'_>) -> Result<TicketCode, DeskError> {
    // The low 62 bits of a UUIDv7 are random; 50 of them make the code. A clash with a code
    // this desk already holds is retried here; a clash elsewhere is the platform's
    // `ticket_code_taken`.
    for _ in 0..8 {
        let bits = (Uuid::now_v7().as_u128() & ((1u128 << 50) - 1)) as u64;
        let code = TicketCode::from_random(bits);
        let taken: bool =
            tx.query_row("SELECT EXISTS (SELECT 1 FROM bookings WHERE ticket_code = ?1)", [code.as_str()], |r| {
                r.get(0)
            })?;
        if !taken {
            return Ok(code);
        }
    }
    Err(DeskError::Corrupt { what: "bookings.ticket_code", detail: "no free ticket code after 8 draws".into() })
}

impl Desk {
    /// Opens (creating if needed) the replica at `path`, encrypted with its key (see
    /// [`crate::keystore`]; a plain replica of an earlier version is encrypted first).
    pub fn open(path: &Path, clock: Arc<dyn Clock>) -> Result<Desk, DeskError> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let (conn, key) = db::open(path)?;
        Ok(Desk { conn, clock, session: None, key_place: Some(key.place) })
    }

    /// An in-memory replica (tests, benchmarks).
    pub fn open_in_memory(clock: Arc<dyn Clock>) -> Result<Desk, DeskError> {
        Ok(Desk { conn: db::open_in_memory()?, clock, session: None, key_place: None })
    }

    /// The clock the engine reads.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// Creates the device identity if there is none. Safe to call again: an existing
    /// identity is kept, only the staff member is updated when given.
    pub fn initialize(&mut self, staff: Option<&str>) -> Result<DeviceInfo, DeskError> {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        if meta(&tx, "device_id")?.is_none() {
            set_meta(&tx, "device_id", &Uuid::now_v7().to_string())?;
            set_meta(&tx, "last_seq", "0")?;
            set_meta(&tx, "hlc", &Hlc::default().to_string())?;
            set_meta(&tx, "pull_cursor", "0")?;
        }
        match staff {
            Some(s) if !s.trim().is_empty() => set_meta(&tx, "staff_id", s.trim())?,
            _ => {
                if meta(&tx, "staff_id")?.is_none() {
                    set_meta(&tx, "staff_id", "desk")?;
                }
            }
        }
        tx.commit()?;
        self.device()
    }

    /// The device identity; [`DeskError::NotInitialized`] before [`Desk::initialize`].
    pub fn device(&self) -> Result<DeviceInfo, DeskError> {
        let device_id = meta(&self.conn, "device_id")?.ok_or(DeskError::NotInitialized)?;
        Ok(DeviceInfo {
            device_id: DeviceId(device_id),
            site_id: meta(&self.conn, "site_id")?.map(SiteId),
            staff_id: StaffId(meta(&self.conn, "staff_id")?.unwrap_or_else(|| "desk".into())),
        })
    }

    /// The desk's site; [`DeskError::NotInitialized`] while it has none.
    pub fn site(&self) -> Result<Site, DeskError> {
        let id = meta(&self.conn, "site_id")?.ok_or(DeskError::NotInitialized)?;
        let sql = format!("SELECT {} FROM sites WHERE id = ?1", rows::SITE_COLUMNS);
        self.conn.query_row_and_then(&sql, [&id], rows::site).optional_not_found("site", &id)
    }

    fn time_zone(&self) -> TimeZone {
        self.site().ok().and_then(|s| TimeZone::get(&s.timezone).ok()).unwrap_or_else(TimeZone::system)
    }

    /// Now, in the site's time zone.
    pub fn now_local(&self) -> DateTime {
        self.clock.now().to_zoned(self.time_zone()).datetime()
    }

    /// Today, in the site's time zone.
    pub fn today(&self) -> Date {
        self.now_local().date()
    }

    /// Seeds the demo clinic (site `demo`) for today and the next seven days, plus demo
    /// patients, as if pulled from the platform (no ops). Existing rows are kept, so running
    /// it again on a later day adds the new days.
    pub fn seed_demo(&mut self) -> Result<DemoSeeded, DeskError> {
        self.device()?;
        if meta(&self.conn, "device_token")?.is_some() {
            // An enrolled desk's clinic is the platform's; local demo rows would be phantoms.
            return Err(DeskError::Invalid(vec![frontdesk_domain::patient::FieldError {
                field: "site".into(),
                code: "enrolled".into(),
                message: "本机已接入平台，诊所数据来自平台 / This desk is enrolled: its clinic comes from the platform"
                    .into(),
            }]));
        }
        // Today in the demo's own zone, before the site exists.
        let today = self.clock.now().to_zoned(TimeZone::get("Asia/Shanghai").unwrap_or(TimeZone::UTC)).date();
        let clinic = frontdesk_domain::demo::demo_clinic("demo", today, 8)
            .map_err(|e| DeskError::Corrupt { what: "demo clinic", detail: e.to_string() })?;
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        if let Some(existing) = meta(&tx, "site_id")?
            && existing != clinic.site.id.as_str()
        {
            return Err(DeskError::Invalid(vec![frontdesk_domain::patient::FieldError {
                field: "site".into(),
                code: "site_mismatch".into(),
                message: format!(
                    "本机属于院区 {existing}，不是演示院区 / This desk belongs to site {existing}, not the demo site"
                ),
            }]));
        }
        let s = &clinic.site;
        tx.execute(
            "INSERT OR IGNORE INTO sites (id, name, timezone) VALUES (?1, ?2, ?3)",
            params![s.id.as_str(), s.name, s.timezone],
        )?;
        for d in &clinic.departments {
            tx.execute(
                "INSERT OR IGNORE INTO departments (id, site_id, code, name, name_en) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![d.id.as_str(), d.site_id.as_str(), d.code, d.name, d.name_en],
            )?;
        }
        for p in &clinic.providers {
            tx.execute(
                "INSERT OR IGNORE INTO providers (id, site_id, department_id, name, title, fee_fen)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![p.id.as_str(), p.site_id.as_str(), p.department_id.as_str(), p.name, p.title, p.fee_fen],
            )?;
        }
        let mut sessions = 0;
        for (session, slots) in &clinic.sessions {
            sessions += upsert_session(&tx, session, false)?;
            for slot in slots {
                upsert_slot(&tx, slot)?;
            }
        }
        let mut patients = 0;
        for p in crate::demo::demo_patients(&clinic.site.id, today) {
            let exists: bool = tx.query_row(
                "SELECT EXISTS (SELECT 1 FROM patients WHERE identity_key = ?1)",
                [p.identity_key()],
                |r| r.get(0),
            )?;
            if !exists {
                insert_patient(&tx, &p, true)?;
                patients += 1;
            }
        }
        set_meta(&tx, "site_id", clinic.site.id.as_str())?;
        tx.commit()?;
        Ok(DemoSeeded { sessions, patients })
    }

    /// Registers a patient (rule 5: validated first; rule 6: one patient per document).
    /// On any error nothing is written.
    pub fn register_patient(&mut self, input: &PatientInput, lang: Lang) -> Result<Patient, DeskError> {
        let staff = self.authorize(Action::RegisterPatient)?;
        let site = self.site()?;
        let today = self.today();
        let patient = validate_patient(PatientId(Uuid::now_v7().to_string()), site.id, input, today, lang)
            .map_err(DeskError::Invalid)?;
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        if let Some((id, name)) = tx
            .query_row("SELECT id, name FROM patients WHERE identity_key = ?1", [patient.identity_key()], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
            })
            .optional()?
        {
            return Err(DeskError::PatientExists { id, name });
        }
        insert_patient(&tx, &patient, false)?;
        append_op(
            &tx,
            &*self.clock,
            &staff.id,
            patient.id.as_str(),
            Op::RegisterPatient { patient: patient.clone() },
            vec![],
        )?;
        tx.commit()?;
        Ok(patient)
    }

    /// Changes a patient's details; the document may change only to one no other patient has.
    pub fn update_patient(&mut self, id: &PatientId, input: &PatientInput, lang: Lang) -> Result<Patient, DeskError> {
        let staff = self.authorize(Action::EditPatient)?;
        let site = self.site()?;
        let today = self.today();
        let patient = validate_patient(id.clone(), site.id, input, today, lang).map_err(DeskError::Invalid)?;
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let rowid: i64 = tx
            .query_row("SELECT rowid FROM patients WHERE id = ?1", [id.as_str()], |r| r.get(0))
            .optional()?
            .ok_or_else(|| DeskError::NotFound { entity: "patient", id: id.to_string() })?;
        if let Some((other, name)) = tx
            .query_row(
                "SELECT id, name FROM patients WHERE identity_key = ?1 AND id <> ?2",
                params![patient.identity_key(), id.as_str()],
                |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)),
            )
            .optional()?
        {
            return Err(DeskError::PatientExists { id: other, name });
        }
        update_patient_row(&tx, rowid, &patient, false)?;
        let deps = pending_ops_about(&tx, id.as_str())?;
        append_op(&tx, &*self.clock, &staff.id, id.as_str(), Op::UpdatePatient { patient: patient.clone() }, deps)?;
        tx.commit()?;
        Ok(patient)
    }

    /// Stores patients received from the platform (already validated and confirmed there) in
    /// one transaction, without ops. Patients whose document is already here are skipped.
    pub fn import_patients(&mut self, patients: &[Patient]) -> Result<usize, DeskError> {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut added = 0;
        for p in patients {
            let exists: bool = tx
                .prepare_cached("SELECT EXISTS (SELECT 1 FROM patients WHERE identity_key = ?1 OR id = ?2)")?
                .query_row(params![p.identity_key(), p.id.as_str()], |r| r.get(0))?;
            if !exists {
                insert_patient(&tx, p, true)?;
                added += 1;
            }
        }
        tx.commit()?;
        Ok(added)
    }

    /// A patient by id.
    pub fn patient(&self, id: &PatientId) -> Result<Patient, DeskError> {
        let sql = format!("SELECT {} FROM patients p WHERE p.id = ?1", rows::PATIENT_COLUMNS);
        self.conn
            .query_row_and_then(&sql, [id.as_str()], |r| rows::patient(r).map(|(p, _)| p))
            .optional_not_found("patient", id.as_str())
    }

    /// A patient by document number (any kind), as typed or scanned.
    pub fn patient_by_document(&self, number: &str) -> Result<Option<Patient>, DeskError> {
        let n = normalize_input(number);
        let sql = format!("SELECT {} FROM patients p WHERE p.document_number = ?1", rows::PATIENT_COLUMNS);
        self.conn.query_row_and_then(&sql, [n], |r| rows::patient(r).map(|(p, _)| p)).optional_ok()
    }

    /// Finds patients by name, pinyin (full or initials), document number or its prefix,
    /// phone, or medical-card number. Most recently registered first.
    pub fn search_patients(&self, query: &str, limit: usize) -> Result<Vec<Patient>, DeskError> {
        let Some(expr) = frontdesk_domain::names::fts_query(query) else { return Ok(vec![]) };
        let sql = format!(
            "SELECT {} FROM patients p WHERE p.rowid IN (
                 SELECT rowid FROM patient_search WHERE patient_search MATCH ?1 ORDER BY rowid DESC LIMIT ?2)
             ORDER BY p.rowid DESC",
            rows::PATIENT_COLUMNS
        );
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let found = stmt
            .query_and_then(params![expr, limit as i64], |r| rows::patient(r).map(|(p, _)| p))?
            .collect::<Result<Vec<_>, DeskError>>()?;
        Ok(found)
    }

    /// Books a patient (rules 1–4 decide, with the same code the platform runs). On a refusal
    /// nothing is written and the refusal carries the next free slot when there is one.
    ///
    /// In the chosen slot the desk spends its own leased number first (`lease::pick_leased`:
    /// its lowest leased number there it may still spend): the booking is then guaranteed
    /// (`BookingView::leased`), its op says `leased: true`. Otherwise it is tentative as
    /// always, and never takes a number leased to any desk. "The earliest slot" counts a slot
    /// where this desk still holds a spendable leased number as bookable.
    pub fn book(&mut self, patient_id: &PatientId, target: &BookTarget) -> Result<BookingView, DeskError> {
        let staff = self.authorize(Action::Book)?;
        self.book_with(&staff, patient_id, target, None)
    }

    /// Books beyond capacity with a reason (admins: [`Action::Overbook`]). Like every booking
    /// it takes this desk's own leased number, or a free one, while there is one; only a slot
    /// with neither is overbooked.
    pub fn overbook(&mut self, patient_id: &PatientId, slot: &SlotId, reason: &str) -> Result<BookingView, DeskError> {
        let staff = self.authorize(Action::Overbook)?;
        self.book_with(&staff, patient_id, &BookTarget::Slot(slot.clone()), Some(reason))
    }

    /// A booking at the counter, as both front ends make it: book (or overbook, with a
    /// reason), then print the ticket when asked — on `printer`, or the settings' printer. A
    /// failed print never undoes the booking (the ticket can be printed again); a refusal
    /// comes with the slot the rules suggest instead, ready to offer.
    pub fn book_and_print(
        &mut self,
        patient_id: &PatientId,
        target: &BookTarget,
        overbook_reason: Option<&str>,
        print: Option<Option<&str>>,
        lang: Lang,
    ) -> Result<CounterBooking, NotBooked> {
        let booked = match (overbook_reason, target) {
            (Some(reason), BookTarget::Slot(slot)) => self.overbook(patient_id, slot, reason),
            _ => self.book(patient_id, target),
        };
        let view = booked.map_err(|error| {
            let suggestion = match &error {
                DeskError::Refused(r) => self.suggested_option(r).ok().flatten().map(Box::new),
                _ => None,
            };
            NotBooked { error, suggestion }
        })?;
        let printed = print.map(|printer| self.print_ticket(&view.booking.id, printer, lang));
        Ok(CounterBooking { view, printed })
    }

    /// The slot a refusal suggests instead, as a walk-in option (its provider, department,
    /// what is left and this desk's guaranteed numbers in it); `None` without a suggestion
    /// or when the slot is not on this desk.
    pub fn suggested_option(&self, refusal: &Refusal) -> Result<Option<WalkInOption>, DeskError> {
        let Some(s) = refusal.suggestion.as_deref() else { return Ok(None) };
        let Some(state) =
            load_slot_states(&self.conn, &SlotFilter { slot: Some(&s.slot_id), ..SlotFilter::default() })?
                .into_iter()
                .next()
        else {
            return Ok(None);
        };
        let site = self.site()?;
        let provider = self.provider(&s.provider_id)?;
        let department = resolve_department(&self.conn, &site.id, provider.department_id.as_str())?;
        let own = OwnLeases::load(&self.conn, &*self.clock)?;
        let guaranteed = own.spendable(&state, self.now_local()).len() as u32;
        Ok(Some(WalkInOption {
            department,
            provider,
            remaining: state.remaining(frontdesk_domain::schedule::Pool::Desk),
            guaranteed,
            state,
        }))
    }

    fn book_with(
        &mut self,
        staff: &Staff,
        patient_id: &PatientId,
        target: &BookTarget,
        overbook_reason: Option<&str>,
    ) -> Result<BookingView, DeskError> {
        let site = self.site()?;
        let now = self.now_local();
        let today = now.date();
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let patient_exists: bool =
            tx.query_row("SELECT EXISTS (SELECT 1 FROM patients WHERE id = ?1)", [patient_id.as_str()], |r| r.get(0))?;
        if !patient_exists {
            return Err(DeskError::NotFound { entity: "patient", id: patient_id.to_string() });
        }
        let horizon = today.checked_add(LOOKAHEAD_DAYS.days()).unwrap_or(today);
        let own = OwnLeases::load(&tx, &*self.clock)?;
        let offline = cannot_reach_platform(&tx)?;
        let target_state = match target {
            BookTarget::Slot(id) => {
                let filter = SlotFilter { slot: Some(id), ..SlotFilter::default() };
                load_slot_states(&tx, &filter)?
                    .into_iter()
                    .next()
                    .ok_or_else(|| DeskError::NotFound { entity: "slot", id: id.to_string() })?
            }
            BookTarget::Earliest { department, provider } => {
                let dept = resolve_department(&tx, &site.id, department)?;
                let filter = SlotFilter {
                    department: Some(&dept.id),
                    provider: provider.as_ref(),
                    from: Some(today),
                    to: Some(horizon),
                    slot: None,
                };
                let candidates = load_slot_states(&tx, &filter)?;
                match earliest_for_desk(&candidates, &own, now, offline) {
                    Some(s) => s.clone(),
                    None => {
                        return Err(DeskError::Refused(Refusal {
                            error: frontdesk_domain::booking::BookingError::NoSlotAvailable,
                            suggestion: None,
                        }));
                    }
                }
            }
        };
        let date = target_state.session.date;
        let patient_bookings = load_bookings(
            &tx,
            "b.patient_id = ?1 AND b.status IN ('booked', 'checked_in')",
            params![patient_id.as_str()],
        )?;
        let next = session_overbook_next(&tx, &target_state.session.id)?;
        // This desk's own leased number, when it holds one here it may still spend.
        let leased = own.pick(&target_state, now);
        let request = BookingRequest {
            patient_id,
            channel: Channel::Desk,
            now,
            queue_no: leased.map_or(QueueChoice::Lowest, QueueChoice::Leased),
            overbook_reason,
            device: own.device.as_ref(),
        };
        // Alternatives are only needed to suggest something after a refusal: load them then.
        let grant = match decide_booking(&request, &target_state, &patient_bookings, next, &[]) {
            Ok(grant) => grant,
            Err(mut refusal) => {
                let from = date.max(today);
                let alternatives = load_slot_states(
                    &tx,
                    &SlotFilter {
                        department: Some(&target_state.session.department_id),
                        from: Some(from),
                        to: Some(from.checked_add(LOOKAHEAD_DAYS.days()).unwrap_or(from)),
                        ..SlotFilter::default()
                    },
                )?;
                if let Err(with) = decide_booking(&request, &target_state, &patient_bookings, next, &alternatives) {
                    refusal = with;
                }
                return Err(DeskError::Refused(refusal));
            }
        };
        // A spend of the lease is granted exactly (never an overbook).
        let leased = leased.is_some_and(|n| n == grant.queue_no && !grant.overbooked);
        let booking = Booking::granted(
            BookingId(Uuid::now_v7().to_string()),
            patient_id.clone(),
            &target_state,
            grant,
            Channel::Desk,
            mint_ticket_code(&tx)?,
            overbook_reason,
        );
        write_booking(&tx, &booking, false, leased, self.clock.now())?;
        let deps = pending_ops_about(&tx, patient_id.as_str())?;
        append_op(
            &tx,
            &*self.clock,
            &staff.id,
            booking.id.as_str(),
            Op::Book {
                booking_id: booking.id.clone(),
                patient_id: patient_id.clone(),
                slot_id: booking.slot_id.clone(),
                channel: Channel::Desk,
                queue_no: booking.queue_no,
                leased,
                ticket_code: booking.ticket_code.clone(),
                overbook_reason: booking.overbook_reason.clone(),
            },
            deps,
        )?;
        let view = booking_view(&tx, &booking.id)?;
        tx.commit()?;
        Ok(view)
    }

    /// Cancels a booking; its number is free again at once (rule 4).
    pub fn cancel(&mut self, booking_id: &BookingId, reason: Option<&str>) -> Result<BookingView, DeskError> {
        let staff = self.authorize(Action::Cancel)?;
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let booking = load_booking(&tx, booking_id)?;
        let status = decide_cancel(&booking).map_err(|e| DeskError::Refused(Refusal { error: e, suggestion: None }))?;
        tx.execute("UPDATE bookings SET status = ?2 WHERE id = ?1", params![booking_id.as_str(), status.code()])?;
        let deps = pending_ops_about(&tx, booking_id.as_str())?;
        append_op(
            &tx,
            &*self.clock,
            &staff.id,
            booking_id.as_str(),
            Op::Cancel { booking_id: booking_id.clone(), reason: reason.map(str::to_string) },
            deps,
        )?;
        let view = booking_view(&tx, booking_id)?;
        tx.commit()?;
        Ok(view)
    }

    /// Checks a patient in by the code on their ticket (rule 7: unknown, foreign, used or
    /// wrong-day tickets are each a clear refusal). The patient joins their session's queue
    /// in the waiting room (see [`Desk::queue`]) in the same transaction.
    pub fn check_in(&mut self, code: &str) -> Result<BookingView, DeskError> {
        let staff = self.authorize(Action::CheckIn)?;
        let site = self.site()?;
        let today = self.today();
        let code = match classify(code, today) {
            Ok(Scan::Ticket(c)) => c,
            Ok(other) => {
                return Err(DeskError::Invalid(vec![frontdesk_domain::patient::FieldError {
                    field: "ticket_code".into(),
                    code: "not_a_ticket".into(),
                    message: format!(
                        "扫到的是{}，不是挂号单 / That is a {}, not a ticket",
                        match other.kind_code() {
                            "resident_id" => "身份证号",
                            "medical_card" => "就诊卡",
                            "ehealth_card" => "电子健康卡",
                            _ => "其他条码",
                        },
                        other.kind_code().replace('_', " ")
                    ),
                }]));
            }
            Err(e) => return Err(DeskError::Scan(e)),
        };
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let found = load_bookings(&tx, "b.ticket_code = ?1", params![code.as_str()])?;
        let Some(booking) = found.into_iter().next() else {
            return Err(DeskError::TicketUnknown { code: code.to_string() });
        };
        let session = load_session(&tx, &booking.session_id)?;
        decide_check_in(&booking, &session, &site.id, today)
            .map_err(|e| DeskError::Refused(Refusal { error: e, suggestion: None }))?;
        tx.execute("UPDATE bookings SET status = 'checked_in' WHERE id = ?1", params![booking.id.as_str()])?;
        let deps = pending_ops_about(&tx, booking.id.as_str())?;
        let env = append_op(
            &tx,
            &*self.clock,
            &staff.id,
            booking.id.as_str(),
            Op::CheckIn { booking_id: booking.id.clone(), ticket_code: code },
            deps,
        )?;
        // The patient is in the waiting room now: they join their provider's queue, as the
        // platform will make them join when it applies the check-in.
        crate::queue::join_local(&tx, &booking.id, &booking.session_id, booking.queue_no, &env)?;
        let view = booking_view(&tx, &booking.id)?;
        tx.commit()?;
        Ok(view)
    }

    /// Routes a raw scanner payload and looks up what it names. Reads only.
    pub fn scan(&self, payload: &str) -> Result<ScanOutcome, DeskError> {
        let scan = classify(payload, self.today()).map_err(DeskError::Scan)?;
        let kind = scan.kind_code();
        let by = |column: &str, value: &str| -> Result<Option<Patient>, DeskError> {
            let sql = format!("SELECT {} FROM patients p WHERE p.{column} = ?1", rows::PATIENT_COLUMNS);
            self.conn.query_row_and_then(&sql, [value], |r| rows::patient(r).map(|(p, _)| p)).optional_ok()
        };
        Ok(match scan {
            Scan::Ticket(code) => {
                let found = load_bookings(&self.conn, "b.ticket_code = ?1", params![code.as_str()])?;
                let Some(b) = found.into_iter().next() else {
                    return Err(DeskError::TicketUnknown { code: code.to_string() });
                };
                let patient = self.patient(&b.patient_id).ok();
                ScanOutcome { kind, value: code.to_string(), patient, booking: Some(booking_view(&self.conn, &b.id)?) }
            }
            Scan::ResidentId(id) => {
                let patient = by("document_number", &id.number)?;
                ScanOutcome { kind, value: id.number, patient, booking: None }
            }
            Scan::MedicalCard(card) => {
                let patient = by("medical_card", &card)?;
                ScanOutcome { kind, value: card, patient, booking: None }
            }
            Scan::EHealthCard(token) => {
                let patient = by("ehealth_card", &token)?;
                ScanOutcome { kind, value: token, patient, booking: None }
            }
        })
    }

    /// A booking with its names.
    pub fn booking(&self, id: &BookingId) -> Result<BookingView, DeskError> {
        booking_view(&self.conn, id)
    }

    /// A booking by its id or by the code on its ticket (typed or scanned).
    pub fn find_booking(&self, ticket_or_id: &str) -> Result<BookingView, DeskError> {
        let raw = ticket_or_id.trim();
        let by_id: bool =
            self.conn.query_row("SELECT EXISTS (SELECT 1 FROM bookings WHERE id = ?1)", [raw], |r| r.get(0))?;
        if by_id {
            return booking_view(&self.conn, &BookingId(raw.to_string()));
        }
        match classify(raw, self.today()) {
            Ok(Scan::Ticket(code)) => {
                let found = load_bookings(&self.conn, "b.ticket_code = ?1", params![code.as_str()])?;
                match found.into_iter().next() {
                    Some(b) => booking_view(&self.conn, &b.id),
                    None => Err(DeskError::TicketUnknown { code: code.to_string() }),
                }
            }
            _ => Err(DeskError::NotFound { entity: "booking", id: raw.to_string() }),
        }
    }

    /// Bookings of a day, in queue order per session.
    pub fn bookings_on(&self, date: Date) -> Result<Vec<BookingView>, DeskError> {
        let ids: Vec<String> = self
            .conn
            .prepare_cached("SELECT id FROM bookings WHERE date = ?1 ORDER BY session_id, queue_no")?
            .query_map([date.to_string()], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        ids.into_iter().map(|id| booking_view(&self.conn, &BookingId(id))).collect()
    }

    /// What a walk-in can be booked into today in a department (by code or id): each
    /// provider's earliest slot this desk may book now — a free desk number, or a number of
    /// its own lease it may still spend —, earliest first (the rules' `SlotState::rank`).
    /// Providers with nothing left today are not listed.
    pub fn walk_in_options(&self, department: &str) -> Result<Vec<WalkInOption>, DeskError> {
        let site = self.site()?;
        let now = self.now_local();
        let today = now.date();
        let dept = resolve_department(&self.conn, &site.id, department)?;
        let filter =
            SlotFilter { department: Some(&dept.id), from: Some(today), to: Some(today), ..SlotFilter::default() };
        let mut by_provider: std::collections::BTreeMap<ProviderId, Vec<SlotState>> = Default::default();
        for state in load_slot_states(&self.conn, &filter)? {
            by_provider.entry(state.session.provider_id.clone()).or_default().push(state);
        }
        let own = OwnLeases::load(&self.conn, &*self.clock)?;
        let offline = cannot_reach_platform(&self.conn)?;
        let mut options = Vec::new();
        for (provider_id, states) in by_provider {
            if let Some(state) = earliest_for_desk(&states, &own, now, offline) {
                options.push(WalkInOption {
                    provider: self.provider(&provider_id)?,
                    department: dept.clone(),
                    remaining: state.remaining(frontdesk_domain::schedule::Pool::Desk),
                    guaranteed: own.spendable(state, now).len() as u32,
                    state: state.clone(),
                });
            }
        }
        options.sort_by(|a, b| a.state.rank().cmp(&b.state.rank()));
        Ok(options)
    }

    /// The board of a day.
    pub fn board(&self, date: Date) -> Result<Board, DeskError> {
        let now = self.now_local();
        let site = self.site()?;
        let states =
            load_slot_states(&self.conn, &SlotFilter { from: Some(date), to: Some(date), ..SlotFilter::default() })?;
        let own = OwnLeases::load(&self.conn, &*self.clock)?;
        let held: Vec<(String, u32)> = self
            .conn
            .prepare_cached("SELECT slot_id, queue_no FROM bookings WHERE date = ?1 AND status <> 'cancelled'")?
            .query_map([date.to_string()], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<_, _>>()?;
        let sql = format!("SELECT {} FROM departments WHERE site_id = ?1 ORDER BY code", rows::DEPARTMENT_COLUMNS);
        let departments = self
            .conn
            .prepare_cached(&sql)?
            .query_and_then([site.id.as_str()], rows::department)?
            .collect::<Result<Vec<_>, DeskError>>()?;
        let sql = format!("SELECT {} FROM providers WHERE site_id = ?1 ORDER BY id", rows::PROVIDER_COLUMNS);
        let providers = self
            .conn
            .prepare_cached(&sql)?
            .query_and_then([site.id.as_str()], rows::provider)?
            .collect::<Result<Vec<_>, DeskError>>()?;
        let mut out = Vec::new();
        for d in departments {
            let mut board_providers = Vec::new();
            for p in providers.iter().filter(|p| p.department_id == d.id) {
                let mut sessions: Vec<BoardSession> = Vec::new();
                for st in states.iter().filter(|s| s.session.provider_id == p.id) {
                    let booked = held.iter().filter(|(slot, _)| slot == st.slot.id.as_str()).count() as u32;
                    // What each channel could still book now, by the rules' own rule 3.
                    let bs = BoardSlot {
                        slot: st.slot.clone(),
                        remaining_desk: st.open_remaining(Channel::Desk, now),
                        remaining_online: st.open_remaining(Channel::Online, now),
                        booked,
                        ended: st.ended(now),
                        guaranteed: own.spendable(st, now).len() as u32,
                        leased_elsewhere: own.leased_elsewhere(st),
                    };
                    match sessions.iter_mut().find(|s| s.session.id == st.session.id) {
                        Some(s) => s.slots.push(bs),
                        None => sessions.push(BoardSession {
                            session: st.session.clone(),
                            slots: vec![bs],
                            remaining_desk: 0,
                            remaining_online: 0,
                            booked: 0,
                            guaranteed: 0,
                        }),
                    }
                }
                for s in &mut sessions {
                    s.slots.sort_by_key(|b| b.slot.start);
                    s.remaining_desk = s.slots.iter().map(|b| b.remaining_desk).sum();
                    s.remaining_online = s.slots.iter().map(|b| b.remaining_online).sum();
                    s.booked = s.slots.iter().map(|b| b.booked).sum();
                    s.guaranteed = s.slots.iter().map(|b| b.guaranteed).sum();
                }
                sessions.sort_by_key(|s| s.session.period);
                if !sessions.is_empty() {
                    board_providers.push(BoardProvider { provider: p.clone(), sessions });
                }
            }
            if !board_providers.is_empty() {
                out.push(BoardDepartment { department: d, providers: board_providers });
            }
        }
        Ok(Board { date, departments: out })
    }

    /// The ops waiting to be sent, oldest first.
    pub fn outbox(&self) -> Result<Vec<OutboxEntry>, DeskError> {
        let mut stmt =
            self.conn.prepare_cached("SELECT seq, kind, subject, created_at, envelope FROM outbox ORDER BY seq")?;
        let entries = stmt
            .query_and_then([], |r| {
                let created: String = r.get(3)?;
                let envelope: String = r.get(4)?;
                Ok::<_, DeskError>(OutboxEntry {
                    seq: r.get::<_, i64>(0)? as u64,
                    kind: r.get(1)?,
                    subject: r.get(2)?,
                    created_at: created
                        .parse()
                        .map_err(|e| DeskError::Corrupt { what: "outbox.created_at", detail: format!("{e}") })?,
                    envelope: serde_json::from_str(&envelope)
                        .map_err(|e| DeskError::Corrupt { what: "outbox.envelope", detail: e.to_string() })?,
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(entries)
    }

    /// The desk at a glance.
    pub fn status(&self) -> Result<DeskStatus, DeskError> {
        let device = self.device()?;
        let site = self.site().ok();
        let count = |sql: &str, p: &[&dyn rusqlite::ToSql]| -> Result<u64, DeskError> {
            Ok(self.conn.query_row(sql, p, |r| r.get::<_, i64>(0))? as u64)
        };
        let today = self.today().to_string();
        let oldest: Option<String> = self.conn.query_row("SELECT min(created_at) FROM outbox", [], |r| r.get(0))?;
        Ok(DeskStatus {
            device,
            site,
            patients: count("SELECT count(*) FROM patients", &[])?,
            bookings_today: count(
                "SELECT count(*) FROM bookings WHERE date = ?1 AND status IN ('booked', 'checked_in', 'done')",
                &[&today],
            )?,
            pending_ops: count("SELECT count(*) FROM outbox", &[])?,
            oldest_pending: oldest.and_then(|s| s.parse().ok()),
            server: meta(&self.conn, "server_url")?,
            last_sync: meta(&self.conn, "last_sync")?.and_then(|s| s.parse().ok()),
            leases: self.lease_status()?,
            key_file: match &self.key_place {
                Some(crate::keystore::KeyPlace::File(f)) => Some(f.clone()),
                _ => None,
            },
        })
    }

    /// Suspends a session (停诊): no new bookings; existing ones stay and can be told.
    /// Admins only ([`Action::SuspendSession`]).
    pub fn suspend_session(
        &mut self,
        id: &frontdesk_domain::schedule::SessionId,
        reason: &str,
    ) -> Result<Session, DeskError> {
        let staff = self.authorize(Action::SuspendSession)?;
        let reason = reason.trim();
        if reason.is_empty() {
            return Err(DeskError::Invalid(vec![frontdesk_domain::patient::FieldError {
                field: "reason".into(),
                code: "reason_missing".into(),
                message: "停诊需要填写原因 / A suspension needs a reason".into(),
            }]));
        }
        self.set_session_status(&staff, id, frontdesk_domain::schedule::SessionStatus::Suspended, Some(reason))
    }

    /// Resumes a suspended session (admins only: [`Action::ResumeSession`]).
    pub fn resume_session(&mut self, id: &frontdesk_domain::schedule::SessionId) -> Result<Session, DeskError> {
        let staff = self.authorize(Action::ResumeSession)?;
        self.set_session_status(&staff, id, frontdesk_domain::schedule::SessionStatus::Open, None)
    }

    fn set_session_status(
        &mut self,
        staff: &Staff,
        id: &frontdesk_domain::schedule::SessionId,
        status: frontdesk_domain::schedule::SessionStatus,
        reason: Option<&str>,
    ) -> Result<Session, DeskError> {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut session = load_session(&tx, id)?;
        session.status = status;
        session.status_reason = reason.map(str::to_string);
        upsert_session(&tx, &session, true)?;
        let op = match status {
            frontdesk_domain::schedule::SessionStatus::Open => Op::ResumeSession { session_id: id.clone() },
            _ => Op::SuspendSession { session_id: id.clone(), reason: reason.unwrap_or_default().to_string() },
        };
        let deps = pending_ops_about(&tx, id.as_str())?;
        append_op(&tx, &*self.clock, &staff.id, id.as_str(), op, deps)?;
        tx.commit()?;
        Ok(session)
    }

    /// The site's departments, by code.
    pub fn departments(&self) -> Result<Vec<Department>, DeskError> {
        let site = self.site()?;
        let sql = format!("SELECT {} FROM departments WHERE site_id = ?1 ORDER BY code", rows::DEPARTMENT_COLUMNS);
        let found = self
            .conn
            .prepare_cached(&sql)?
            .query_and_then([site.id.as_str()], rows::department)?
            .collect::<Result<Vec<_>, DeskError>>()?;
        Ok(found)
    }

    /// The replica, for engine modules in this crate that extend [`Desk`].
    #[allow(dead_code)]
    pub(crate) fn conn(&self) -> &Connection {
        &self.conn
    }

    /// The replica, mutably (transactions), for engine modules in this crate.
    #[allow(dead_code)]
    pub(crate) fn conn_mut(&mut self) -> &mut Connection {
        &mut self.conn
    }

    /// A provider by id.
    pub fn provider(&self, id: &ProviderId) -> Result<Provider, DeskError> {
        let sql = format!("SELECT {} FROM providers WHERE id = ?1", rows::PROVIDER_COLUMNS);
        self.conn.query_row_and_then(&sql, [id.as_str()], rows::provider).optional_not_found("provider", id.as_str())
    }
}

/// `query_row_and_then` results: map "no rows" to a typed not-found or to `None`.
trait RowResultExt<T> {
    fn optional_not_found(self, entity: &'static str, id: &str) -> Result<T, DeskError>;
    fn optional_ok(self) -> Result<Option<T>, DeskError>;
}

impl<T> RowResultExt<T> for Result<T, DeskError> {
    fn optional_not_found(self, entity: &'static str, id: &str) -> Result<T, DeskError> {
        match self {
            Err(DeskError::Storage(rusqlite::Error::QueryReturnedNoRows)) => {
                Err(DeskError::NotFound { entity, id: id.to_string() })
            }
            other => other,
        }
    }

    fn optional_ok(self) -> Result<Option<T>, DeskError> {
        match self {
            Ok(v) => Ok(Some(v)),
            Err(DeskError::Storage(rusqlite::Error::QueryReturnedNoRows)) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

pub(crate) fn search_text(p: &Patient) -> String {
    let mut keys = frontdesk_domain::names::search_keys(&p.name);
    for extra in [Some(&p.document.number), p.phone.as_ref(), p.medical_card.as_ref()].into_iter().flatten() {
        keys.push(' ');
        keys.push_str(&extra.replace('-', ""));
    }
    keys
}

pub(crate) fn insert_patient(tx: &Connection, p: &Patient, confirmed: bool) -> Result<(), DeskError> {
    tx.prepare_cached(
        "INSERT INTO patients (id, site_id, name, sex, birth_date, document_kind, document_number, identity_key,
             phone, medical_card, ehealth_card, confirmed)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
    )?
    .execute(params![
        p.id.as_str(),
        p.site_id.as_str(),
        p.name,
        p.sex.map(|s| s.code()),
        p.birth_date.map(|d| d.to_string()),
        p.document.kind.code(),
        p.document.number,
        p.identity_key(),
        p.phone,
        p.medical_card,
        p.ehealth_card,
        confirmed as i64
    ])?;
    let rowid = tx.last_insert_rowid();
    tx.prepare_cached("INSERT INTO patient_search (rowid, keys) VALUES (?1, ?2)")?
        .execute(params![rowid, search_text(p)])?;
    Ok(())
}

/// Rewrites a patient row's fields and search keys; `confirmed` only ever turns it on.
pub(crate) fn update_patient_row(tx: &Connection, rowid: i64, p: &Patient, confirmed: bool) -> Result<(), DeskError> {
    tx.prepare_cached(
        "UPDATE patients SET site_id = ?2, name = ?3, sex = ?4, birth_date = ?5, document_kind = ?6,
             document_number = ?7, identity_key = ?8, phone = ?9, medical_card = ?10, ehealth_card = ?11,
             confirmed = max(confirmed, ?12)
         WHERE rowid = ?1",
    )?
    .execute(params![
        rowid,
        p.site_id.as_str(),
        p.name,
        p.sex.map(|s| s.code()),
        p.birth_date.map(|d| d.to_string()),
        p.document.kind.code(),
        p.document.number,
        p.identity_key(),
        p.phone,
        p.medical_card,
        p.ehealth_card,
        confirmed as i64
    ])?;
    tx.prepare_cached("DELETE FROM patient_search WHERE rowid = ?1")?.execute([rowid])?;
    tx.prepare_cached("INSERT INTO patient_search (rowid, keys) VALUES (?1, ?2)")?
        .execute(params![rowid, search_text(p)])?;
    Ok(())
}

/// Writes a booking: a new row, or (same id) the row brought up to date. `leased` (this
/// desk spent its own lease) is only ever turned on: the platform's rows do not carry it.
pub(crate) fn write_booking(
    tx: &Connection,
    b: &Booking,
    confirmed: bool,
    leased: bool,
    now: Timestamp,
) -> Result<(), DeskError> {
    tx.prepare_cached(
        "INSERT INTO bookings (id, site_id, patient_id, slot_id, session_id, department_id, date, queue_no, channel,
             status, ticket_code, overbook_reason, confirmed, created_at, leased)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)
         ON CONFLICT (id) DO UPDATE SET patient_id = excluded.patient_id, slot_id = excluded.slot_id,
             session_id = excluded.session_id, department_id = excluded.department_id, date = excluded.date,
             queue_no = excluded.queue_no, channel = excluded.channel, status = excluded.status,
             ticket_code = excluded.ticket_code, overbook_reason = excluded.overbook_reason,
             confirmed = excluded.confirmed, leased = max(leased, excluded.leased)",
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
        b.overbook_reason,
        confirmed as i64,
        now.to_string(),
        leased as i64
    ])?;
    Ok(())
}

/// Inserts a session, or (with `overwrite`) refreshes an existing one in place; returns the
/// number of rows written.
pub(crate) fn upsert_session(tx: &Connection, s: &Session, overwrite: bool) -> Result<usize, DeskError> {
    let on_conflict = if overwrite {
        "ON CONFLICT (id) DO UPDATE SET site_id = excluded.site_id, department_id = excluded.department_id,
             provider_id = excluded.provider_id, date = excluded.date, period = excluded.period,
             status = excluded.status, status_reason = excluded.status_reason, room = excluded.room"
    } else {
        "ON CONFLICT (id) DO NOTHING"
    };
    let n = tx.execute(
        &format!(
            "INSERT INTO sessions (id, site_id, department_id, provider_id, date, period, status, status_reason, room)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) {on_conflict}"
        ),
        params![
            s.id.as_str(),
            s.site_id.as_str(),
            s.department_id.as_str(),
            s.provider_id.as_str(),
            s.date.to_string(),
            rows::period_text(s.period),
            s.status.code(),
            s.status_reason,
            s.room
        ],
    )?;
    Ok(n)
}

pub(crate) fn upsert_slot(tx: &Connection, s: &Slot) -> Result<(), DeskError> {
    tx.execute(
        "INSERT INTO slots (id, session_id, start_time, end_time, first_queue_no, online_capacity, desk_capacity)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
         ON CONFLICT (id) DO UPDATE SET start_time = excluded.start_time, end_time = excluded.end_time,
             first_queue_no = excluded.first_queue_no, online_capacity = excluded.online_capacity,
             desk_capacity = excluded.desk_capacity",
        params![
            s.id.as_str(),
            s.session_id.as_str(),
            time_text(s.start),
            time_text(s.end),
            s.first_queue_no,
            s.online_capacity,
            s.desk_capacity
        ],
    )?;
    Ok(())
}

/// A provider's earliest slot for a walk-in (see [`Desk::walk_in_options`]).
#[derive(Debug, Clone)]
pub struct WalkInOption {
    /// The department.
    pub department: Department,
    /// The provider.
    pub provider: Provider,
    /// The slot, its session and the numbers held in it.
    pub state: SlotState,
    /// Desk numbers still free in the slot (leased numbers are not free).
    pub remaining: u32,
    /// Numbers of this desk's own lease it may spend now in the slot (guaranteed bookings).
    pub guaranteed: u32,
}

/// A booking made at the counter ([`Desk::book_and_print`]).
#[derive(Debug)]
pub struct CounterBooking {
    /// The booking.
    pub view: BookingView,
    /// Its ticket's print, when one was asked for (a failure leaves the booking as it is).
    pub printed: Option<Result<crate::Printed, DeskError>>,
}

/// A booking at the counter that was not made: why, and the slot to offer instead.
#[derive(Debug)]
pub struct NotBooked {
    /// Why.
    pub error: DeskError,
    /// The slot the rules suggest instead, when a rule refused and suggested one (boxed:
    /// refusals travel in `Result`s).
    pub suggestion: Option<Box<WalkInOption>>,
}

/// Which slots to load.
#[derive(Default)]
pub(crate) struct SlotFilter<'a> {
    pub(crate) department: Option<&'a DepartmentId>,
    pub(crate) provider: Option<&'a ProviderId>,
    pub(crate) slot: Option<&'a SlotId>,
    pub(crate) from: Option<Date>,
    pub(crate) to: Option<Date>,
}

/// Slots with their sessions, the regular numbers held in each, and the numbers leased to any
/// desk and not spent (a number a booking holds, or that this desk spent and has not heard
/// back about, is not leased any more as far as the rules here are concerned).
pub(crate) fn load_slot_states(conn: &Connection, f: &SlotFilter<'_>) -> Result<Vec<SlotState>, DeskError> {
    // Only the conditions given go into the SQL, so SQLite can use its indexes.
    let mut conditions = Vec::new();
    let mut values: Vec<String> = Vec::new();
    let mut add = |sql: &str, value: String| {
        values.push(value);
        conditions.push(format!("{sql} ?{}", values.len()));
    };
    if let Some(d) = f.from {
        add("s.date >=", d.to_string());
    }
    if let Some(d) = f.to {
        add("s.date <=", d.to_string());
    }
    if let Some(d) = f.department {
        add("s.department_id =", d.to_string());
    }
    if let Some(p) = f.provider {
        add("s.provider_id =", p.to_string());
    }
    if let Some(id) = f.slot {
        add("sl.id =", id.to_string());
    }
    let filter = if conditions.is_empty() { "1".to_string() } else { conditions.join(" AND ") };
    let sql = format!(
        "SELECT {}, {} FROM slots sl JOIN sessions s ON s.id = sl.session_id WHERE {filter}
         ORDER BY s.date, sl.start_time, sl.id",
        rows::SESSION_COLUMNS,
        rows::SLOT_COLUMNS
    );
    let mut states = conn
        .prepare_cached(&sql)?
        .query_and_then(rusqlite::params_from_iter(values.iter()), |r| {
            Ok::<_, DeskError>(SlotState {
                session: rows::session(r, 0)?,
                slot: rows::slot(r, rows::SESSION_WIDTH)?,
                taken: vec![],
                leased: vec![],
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    let sql = format!(
        "SELECT b.slot_id, b.queue_no FROM bookings b JOIN slots sl ON sl.id = b.slot_id
         JOIN sessions s ON s.id = b.session_id
         WHERE {filter} AND b.status <> 'cancelled' AND b.overbook_reason IS NULL"
    );
    let held: Vec<(String, u32)> = conn
        .prepare_cached(&sql)?
        .query_map(rusqlite::params_from_iter(values.iter()), |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    let index: std::collections::HashMap<String, usize> =
        states.iter().enumerate().map(|(i, s)| (s.slot.id.to_string(), i)).collect();
    for (slot, n) in held {
        if let Some(&i) = index.get(&slot) {
            states[i].taken.push(n);
        }
    }
    let sql = format!(
        "SELECT l.slot_id, l.queue_no, l.device_id FROM leases l JOIN slots sl ON sl.id = l.slot_id
         JOIN sessions s ON s.id = sl.session_id
         WHERE {filter} AND NOT {} ORDER BY l.queue_no",
        crate::leases::SPENT_SQL
    );
    let leased: Vec<(String, u32, String)> = conn
        .prepare_cached(&sql)?
        .query_map(rusqlite::params_from_iter(values.iter()), |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<Result<_, _>>()?;
    for (slot, n, device) in leased {
        if let Some(&i) = index.get(&slot) {
            states[i].leased.push((n, DeviceId(device)));
        }
    }
    Ok(states)
}

fn session_overbook_next(conn: &Connection, session: &frontdesk_domain::schedule::SessionId) -> Result<u32, DeskError> {
    let sql = format!("SELECT {} FROM slots sl WHERE sl.session_id = ?1", rows::SLOT_COLUMNS);
    let slots = conn
        .prepare_cached(&sql)?
        .query_and_then([session.as_str()], |r| rows::slot(r, 0))?
        .collect::<Result<Vec<_>, DeskError>>()?;
    let held: Vec<u32> = conn
        .prepare_cached("SELECT queue_no FROM bookings WHERE session_id = ?1 AND status <> 'cancelled'")?
        .query_map([session.as_str()], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    Ok(overbook_next(&slots, &held))
}

pub(crate) fn load_session(
    conn: &Connection,
    id: &frontdesk_domain::schedule::SessionId,
) -> Result<Session, DeskError> {
    let sql = format!("SELECT {} FROM sessions s WHERE s.id = ?1", rows::SESSION_COLUMNS);
    conn.query_row_and_then(&sql, [id.as_str()], |r| rows::session(r, 0)).optional_not_found("session", id.as_str())
}

fn load_bookings(conn: &Connection, condition: &str, p: impl rusqlite::Params) -> Result<Vec<Booking>, DeskError> {
    let sql = format!("SELECT {} FROM bookings b WHERE {condition}", rows::BOOKING_COLUMNS);
    let found = conn
        .prepare_cached(&sql)?
        .query_and_then(p, |r| rows::booking(r, 0).map(|(b, _)| b))?
        .collect::<Result<Vec<_>, DeskError>>()?;
    Ok(found)
}

pub(crate) fn load_booking(conn: &Connection, id: &BookingId) -> Result<Booking, DeskError> {
    load_bookings(conn, "b.id = ?1", params![id.as_str()])?
        .into_iter()
        .next()
        .ok_or_else(|| DeskError::NotFound { entity: "booking", id: id.to_string() })
}

pub(crate) fn booking_view(conn: &Connection, id: &BookingId) -> Result<BookingView, DeskError> {
    let sql = format!(
        "SELECT {}, p.name, d.code, d.name, pr.name, pr.title, s.period, sl.start_time, sl.end_time, b.leased
         FROM bookings b JOIN patients p ON p.id = b.patient_id JOIN sessions s ON s.id = b.session_id
         JOIN departments d ON d.id = s.department_id JOIN providers pr ON pr.id = s.provider_id
         JOIN slots sl ON sl.id = b.slot_id WHERE b.id = ?1",
        rows::BOOKING_COLUMNS
    );
    conn.query_row_and_then(&sql, [id.as_str()], |r| {
        let (booking, confirmed) = rows::booking(r, 0)?;
        let leased = r.get::<_, i64>(21)? != 0;
        let period: String = r.get(18)?;
        Ok::<_, DeskError>(BookingView {
            booking,
            patient_name: r.get(13)?,
            department_code: r.get(14)?,
            department_name: r.get(15)?,
            provider_name: r.get(16)?,
            provider_title: r.get(17)?,
            period: Period::parse(&period)
                .ok_or_else(|| DeskError::Corrupt { what: "sessions.period", detail: period.clone() })?,
            start: rows::time("slots.start_time", &r.get::<_, String>(19)?)?,
            end: rows::time("slots.end_time", &r.get::<_, String>(20)?)?,
            confirmed,
            leased,
            guaranteed: confirmed || leased,
        })
    })
    .optional_not_found("booking", id.as_str())
}

fn resolve_department(conn: &Connection, site: &SiteId, code_or_id: &str) -> Result<Department, DeskError> {
    let sql = format!(
        "SELECT {} FROM departments WHERE site_id = ?1 AND (upper(code) = upper(?2) OR id = ?2)",
        rows::DEPARTMENT_COLUMNS
    );
    conn.query_row_and_then(&sql, params![site.as_str(), code_or_id.trim()], rows::department)
        .optional_not_found("department", code_or_id)
}

/// The ops still in the outbox about `subject` (a later op on the same patient or booking
/// depends on them: if one of them conflicts, this one cannot stand either).
pub(crate) fn pending_ops_about(tx: &Connection, subject: &str) -> Result<Vec<Uuid>, DeskError> {
    let ids: Vec<String> = tx
        .prepare_cached("SELECT op_id FROM outbox WHERE subject = ?1 ORDER BY seq")?
        .query_map([subject], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    ids.iter()
        .map(|s| Uuid::parse_str(s).map_err(|e| DeskError::Corrupt { what: "outbox.op_id", detail: e.to_string() }))
        .collect()
}

/// Appends an op to the outbox inside the caller's transaction: next sequence number, next
/// HLC timestamp, the cursor the replica was at. The envelope as stored.
pub(crate) fn append_op(
    tx: &Connection,
    clock: &dyn Clock,
    staff_id: &str,
    subject: &str,
    op: Op,
    depends_on: Vec<Uuid>,
) -> Result<OpEnvelope, DeskError> {
    let corrupt = |what: &'static str, detail: String| DeskError::Corrupt { what, detail };
    // Every change of a desk is an op: a display changes nothing, whatever asked.
    if meta(tx, "device_role")?.as_deref() == Some("display") {
        return Err(DeskError::DisplayOnly);
    }
    let device_id = meta(tx, "device_id")?.ok_or(DeskError::NotInitialized)?;
    let site_id = meta(tx, "site_id")?.ok_or(DeskError::NotInitialized)?;
    let last_seq: u64 = meta(tx, "last_seq")?
        .unwrap_or_else(|| "0".into())
        .parse()
        .map_err(|e| corrupt("meta.last_seq", format!("{e}")))?;
    let last_hlc: Hlc = meta(tx, "hlc")?.unwrap_or_default().parse().unwrap_or_default();
    let base_cursor: u64 = meta(tx, "pull_cursor")?.unwrap_or_else(|| "0".into()).parse().unwrap_or(0);
    let now = clock.now();
    let hlc = last_hlc.tick(now.as_millisecond());
    let seq = last_seq + 1;
    let kind = op.kind();
    let envelope = OpEnvelope {
        op_id: Uuid::now_v7(),
        device_id: DeviceId(device_id),
        seq,
        staff_id: StaffId(staff_id.to_string()),
        hlc,
        site_id: SiteId(site_id),
        base_cursor,
        depends_on,
        op,
    };
    let json = serde_json::to_string(&envelope).map_err(|e| corrupt("outbox.envelope", e.to_string()))?;
    tx.execute(
        "INSERT INTO outbox (seq, op_id, kind, subject, staff_id, hlc, envelope, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![
            seq as i64,
            envelope.op_id.to_string(),
            kind,
            subject,
            staff_id,
            hlc.to_string(),
            json,
            now.to_string()
        ],
    )?;
    set_meta(tx, "last_seq", &seq.to_string())?;
    set_meta(tx, "hlc", &hlc.to_string())?;
    Ok(envelope)
}
