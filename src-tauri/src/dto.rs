//! What crosses the IPC boundary. Transport types stay here: the engine's types are converted
//! into these (dates and times as text, ids as strings, counts as `u32`) so the generated
//! TypeScript is plain and stable, and nothing of the engine leaks into the UI.

use frontdesk_desk::staff::{Role, Staff};
use frontdesk_desk::sync::SyncStatus as EngineSyncStatus;
use frontdesk_desk::{
    Board, BookingView, DeskStatus, LeaseEntry, LeaseState, LeaseStatus, OutboxEntry,
    QueueEntryView as EngineQueueEntry, SessionQueueView as EngineSessionQueue, WaitingRoom, WalkInOption,
};
use frontdesk_domain::Lang;
use frontdesk_domain::names::mask_name;
use frontdesk_domain::patient::{Patient, PatientInput};
use frontdesk_domain::queue::{QueueAction, QueueState};
use frontdesk_domain::schedule::{Department, Period, SessionStatus};
use jiff::Timestamp;
use jiff::civil::Time;
use jiff::tz::TimeZone;
use serde::{Deserialize, Serialize};
use specta::Type;

/// A language the UI speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(rename_all = "lowercase")]
pub enum UiLang {
    /// 简体中文.
    Zh,
    /// English.
    En,
}

impl From<UiLang> for Lang {
    fn from(l: UiLang) -> Lang {
        match l {
            UiLang::Zh => Lang::Zh,
            UiLang::En => Lang::En,
        }
    }
}

impl From<Lang> for UiLang {
    fn from(l: Lang) -> UiLang {
        match l {
            Lang::Zh => UiLang::Zh,
            Lang::En => UiLang::En,
        }
    }
}

/// What the UI needs to know before the first screen.
#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct AppInfo {
    /// App version.
    pub version: String,
    /// The language in effect (setting, else the OS locale).
    pub lang: UiLang,
    /// The OS locale's language.
    pub os_lang: UiLang,
    /// The desk has a site (demo or enrolled) and can work.
    pub ready: bool,
    /// It is the offline demo desk (demo staff passwords apply).
    pub demo: bool,
    /// Site name, once there is one.
    pub site_name: Option<String>,
    /// Today in the site's zone, `YYYY-MM-DD`.
    pub today: String,
    /// The clock is pinned by `FRONTDESK_NOW` (tests, demos).
    pub clock_pinned: bool,
    /// Where the replica lives.
    pub data_dir: String,
    /// Who is signed in.
    pub staff: Option<StaffView>,
    /// The desk has no admin yet (an enrolled desk): the first admin must be created.
    pub needs_first_admin: bool,
    /// The desk is enrolled with a platform.
    pub enrolled: bool,
    /// Enrolled as a waiting-room display: the window shows the display and nothing else.
    pub display_only: bool,
}

/// A staff role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(rename_all = "snake_case")]
pub enum StaffRole {
    /// Nurse at the desk.
    Nurse,
    /// Clinic admin.
    Admin,
}

impl From<Role> for StaffRole {
    fn from(r: Role) -> StaffRole {
        match r {
            Role::Nurse => StaffRole::Nurse,
            Role::Admin => StaffRole::Admin,
        }
    }
}

impl From<StaffRole> for Role {
    fn from(r: StaffRole) -> Role {
        match r {
            StaffRole::Nurse => Role::Nurse,
            StaffRole::Admin => Role::Admin,
        }
    }
}

/// A member of staff.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct StaffView {
    /// Staff id (工号).
    pub id: String,
    /// Name.
    pub display_name: String,
    /// Role.
    pub role: StaffRole,
}

impl From<&Staff> for StaffView {
    fn from(s: &Staff) -> StaffView {
        StaffView { id: s.id.clone(), display_name: s.display_name.clone(), role: s.role.into() }
    }
}

/// Half-day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Type)]
#[serde(rename_all = "snake_case")]
pub enum PeriodView {
    /// 上午.
    Morning,
    /// 下午.
    Afternoon,
    /// 晚上.
    Evening,
}

impl From<Period> for PeriodView {
    fn from(p: Period) -> PeriodView {
        match p {
            Period::Morning => PeriodView::Morning,
            Period::Afternoon => PeriodView::Afternoon,
            Period::Evening => PeriodView::Evening,
        }
    }
}

/// Whether a session takes bookings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Type)]
#[serde(rename_all = "snake_case")]
pub enum SessionStatusView {
    /// Taking bookings.
    Open,
    /// 停诊.
    Suspended,
    /// Cancelled.
    Cancelled,
}

impl From<SessionStatus> for SessionStatusView {
    fn from(s: SessionStatus) -> SessionStatusView {
        match s {
            SessionStatus::Open => SessionStatusView::Open,
            SessionStatus::Suspended => SessionStatusView::Suspended,
            SessionStatus::Cancelled => SessionStatusView::Cancelled,
        }
    }
}

/// `HH:MM`.
pub fn hm(t: Time) -> String {
    t.strftime("%H:%M").to_string()
}

/// An instant as RFC 3339 with the site's offset (`2026-11-23T08:08:00+08:00`): the UI reads
/// the site's wall-clock time off it whatever zone the computer is set to.
pub fn site_time(t: Timestamp, tz: &TimeZone) -> String {
    t.to_zoned(tz.clone()).strftime("%Y-%m-%dT%H:%M:%S%:z").to_string()
}

/// The site's time zone (UTC when the desk has no site yet or the zone is unknown).
pub fn site_zone(site: Option<&frontdesk_domain::schedule::Site>) -> TimeZone {
    site.and_then(|s| TimeZone::get(&s.timezone).ok()).unwrap_or(TimeZone::UTC)
}

/// A day's board.
#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct BoardView {
    /// `YYYY-MM-DD`.
    pub date: String,
    /// Local time of the desk, `HH:MM`.
    pub now: String,
    /// Departments with sessions that day.
    pub departments: Vec<DepartmentView>,
}

/// A department on the board.
#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct DepartmentView {
    /// Id.
    pub id: String,
    /// Code, e.g. `NK`.
    pub code: String,
    /// 内科.
    pub name: String,
    /// Internal Medicine.
    pub name_en: String,
    /// Providers with sessions that day.
    pub providers: Vec<ProviderView>,
}

/// A provider on the board.
#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct ProviderView {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Title, e.g. 主任医师.
    pub title: String,
    /// Registration fee in fen.
    pub fee_fen: i32,
    /// Sessions that day.
    pub sessions: Vec<SessionView>,
}

/// A session on the board.
#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct SessionView {
    /// Id.
    pub id: String,
    /// Half-day.
    pub period: PeriodView,
    /// Open, suspended, cancelled.
    pub status: SessionStatusView,
    /// Why it is suspended.
    pub status_reason: Option<String>,
    /// Free desk numbers in slots not yet over (numbers leased to any desk are not free).
    pub remaining_desk: u32,
    /// Free online numbers in slots not yet started.
    pub remaining_online: u32,
    /// Live bookings.
    pub booked: u32,
    /// All numbers of the session.
    pub capacity: u32,
    /// Numbers of this desk's own lease it may spend now, over the session's slots: bookings
    /// from them are guaranteed, even offline.
    pub guaranteed: u32,
    /// First slot start, `HH:MM`.
    pub start: String,
    /// Last slot end, `HH:MM`.
    pub end: String,
    /// Slots in time order.
    pub slots: Vec<SlotView>,
}

/// A slot on the board.
#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct SlotView {
    /// Id.
    pub id: String,
    /// `HH:MM`.
    pub start: String,
    /// `HH:MM`.
    pub end: String,
    /// Free desk numbers (numbers leased to any desk are not free).
    pub remaining_desk: u32,
    /// Free online numbers.
    pub remaining_online: u32,
    /// Live bookings.
    pub booked: u32,
    /// Numbers of the slot.
    pub capacity: u32,
    /// The slot is over.
    pub ended: bool,
    /// Numbers of this desk's own lease it may spend now in this slot (guaranteed bookings).
    /// This desk can book the slot when `remaining_desk + guaranteed > 0`.
    pub guaranteed: u32,
    /// Desk numbers leased to other desks.
    pub leased_elsewhere: u32,
}

impl From<&Board> for BoardView {
    fn from(b: &Board) -> BoardView {
        BoardView {
            date: b.date.to_string(),
            now: String::new(),
            departments: b
                .departments
                .iter()
                .map(|d| DepartmentView {
                    id: d.department.id.to_string(),
                    code: d.department.code.clone(),
                    name: d.department.name.clone(),
                    name_en: d.department.name_en.clone(),
                    providers: d
                        .providers
                        .iter()
                        .map(|p| ProviderView {
                            id: p.provider.id.to_string(),
                            name: p.provider.name.clone(),
                            title: p.provider.title.clone(),
                            fee_fen: i32::try_from(p.provider.fee_fen).unwrap_or(i32::MAX),
                            sessions: p
                                .sessions
                                .iter()
                                .map(|s| SessionView {
                                    id: s.session.id.to_string(),
                                    period: s.session.period.into(),
                                    status: s.session.status.into(),
                                    status_reason: s.session.status_reason.clone(),
                                    remaining_desk: s.remaining_desk,
                                    remaining_online: s.remaining_online,
                                    booked: s.booked,
                                    capacity: s.slots.iter().map(|x| x.slot.capacity()).sum(),
                                    guaranteed: s.guaranteed,
                                    start: s.slots.first().map(|x| hm(x.slot.start)).unwrap_or_default(),
                                    end: s.slots.last().map(|x| hm(x.slot.end)).unwrap_or_default(),
                                    slots: s
                                        .slots
                                        .iter()
                                        .map(|x| SlotView {
                                            id: x.slot.id.to_string(),
                                            start: hm(x.slot.start),
                                            end: hm(x.slot.end),
                                            remaining_desk: x.remaining_desk,
                                            remaining_online: x.remaining_online,
                                            booked: x.booked,
                                            capacity: x.slot.capacity(),
                                            ended: x.ended,
                                            guaranteed: x.guaranteed,
                                            leased_elsewhere: x.leased_elsewhere,
                                        })
                                        .collect(),
                                })
                                .collect(),
                        })
                        .collect(),
                })
                .collect(),
        }
    }
}

/// A slot the desk can book now, with what a nurse reads to the patient.
#[derive(Debug, Clone, PartialEq, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct SlotOption {
    /// Slot id.
    pub slot_id: String,
    /// Session id.
    pub session_id: String,
    /// Provider id.
    pub provider_id: String,
    /// Provider's name.
    pub provider_name: String,
    /// Provider's title.
    pub provider_title: String,
    /// Department code.
    pub department_code: String,
    /// Department name (zh).
    pub department_name: String,
    /// Department name (en).
    pub department_name_en: String,
    /// `YYYY-MM-DD`.
    pub date: String,
    /// Half-day.
    pub period: PeriodView,
    /// `HH:MM`.
    pub start: String,
    /// `HH:MM`.
    pub end: String,
    /// Free desk numbers left in the slot (numbers leased to any desk are not free).
    pub remaining: u32,
    /// Numbers of this desk's own lease it may spend now in the slot: a booking here is
    /// guaranteed, even offline.
    pub guaranteed: u32,
    /// Registration fee in fen.
    pub fee_fen: i32,
}

impl From<&WalkInOption> for SlotOption {
    fn from(o: &WalkInOption) -> SlotOption {
        SlotOption {
            slot_id: o.state.slot.id.to_string(),
            session_id: o.state.session.id.to_string(),
            provider_id: o.provider.id.to_string(),
            provider_name: o.provider.name.clone(),
            provider_title: o.provider.title.clone(),
            department_code: o.department.code.clone(),
            department_name: o.department.name.clone(),
            department_name_en: o.department.name_en.clone(),
            date: o.state.session.date.to_string(),
            period: o.state.session.period.into(),
            start: hm(o.state.slot.start),
            end: hm(o.state.slot.end),
            remaining: o.remaining,
            guaranteed: o.guaranteed,
            fee_fen: i32::try_from(o.provider.fee_fen).unwrap_or(i32::MAX),
        }
    }
}

/// A patient.
#[derive(Debug, Clone, PartialEq, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct PatientView {
    /// Id.
    pub id: String,
    /// Full name.
    pub name: String,
    /// Masked name (张*), for screens others can see.
    pub masked_name: String,
    /// `F` or `M`.
    pub sex: Option<String>,
    /// `YYYY-MM-DD`.
    pub birth_date: Option<String>,
    /// `resident_id`, `passport`, …
    pub document_kind: String,
    /// Document number.
    pub document_number: String,
    /// Phone.
    pub phone: Option<String>,
    /// Medical card number.
    pub medical_card: Option<String>,
    /// E-health card id.
    pub ehealth_card: Option<String>,
}

impl From<&Patient> for PatientView {
    fn from(p: &Patient) -> PatientView {
        PatientView {
            id: p.id.to_string(),
            name: p.name.clone(),
            masked_name: mask_name(&p.name),
            sex: p.sex.map(|s| s.code().to_string()),
            birth_date: p.birth_date.map(|d| d.to_string()),
            document_kind: p.document.kind.code().into(),
            document_number: p.document.number.clone(),
            phone: p.phone.clone(),
            medical_card: p.medical_card.clone(),
            ehealth_card: p.ehealth_card.clone(),
        }
    }
}

/// What the registration form sends; validated by the engine.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct PatientForm {
    /// Name.
    pub name: String,
    /// `resident_id` (default), `passport`, …
    pub document_kind: Option<String>,
    /// Document number.
    pub document_number: String,
    /// `F`/`M`/女/男, or empty to derive it from a resident ID.
    pub sex: Option<String>,
    /// `YYYY-MM-DD`, or empty to derive it from a resident ID.
    pub birth_date: Option<String>,
    /// Phone.
    pub phone: Option<String>,
    /// Medical card number.
    pub medical_card: Option<String>,
    /// E-health card id.
    pub ehealth_card: Option<String>,
}

fn non_empty(s: &Option<String>) -> Option<String> {
    s.as_ref().map(|v| v.trim().to_string()).filter(|v| !v.is_empty())
}

impl PatientForm {
    /// The engine's input; `None` when the document kind is not one the engine knows.
    pub fn to_input(&self) -> Option<PatientInput> {
        let document_kind = match non_empty(&self.document_kind) {
            Some(code) => Some(frontdesk_domain::document::DocumentKind::from_code(&code)?),
            None => None,
        };
        Some(PatientInput {
            name: self.name.clone(),
            document_kind,
            document_number: self.document_number.clone(),
            sex: non_empty(&self.sex),
            birth_date: non_empty(&self.birth_date),
            phone: non_empty(&self.phone),
            medical_card: non_empty(&self.medical_card),
            ehealth_card: non_empty(&self.ehealth_card),
        })
    }
}

/// A booking as the desk shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct BookingInfo {
    /// Id.
    pub id: String,
    /// Patient id.
    pub patient_id: String,
    /// Full name.
    pub patient_name: String,
    /// Masked name (张*).
    pub patient_name_masked: String,
    /// Department code.
    pub department_code: String,
    /// Department name.
    pub department_name: String,
    /// Provider's name.
    pub provider_name: String,
    /// Provider's title.
    pub provider_title: String,
    /// Session id.
    pub session_id: String,
    /// Slot id.
    pub slot_id: String,
    /// Half-day.
    pub period: PeriodView,
    /// `YYYY-MM-DD`.
    pub date: String,
    /// `HH:MM`.
    pub start: String,
    /// `HH:MM`.
    pub end: String,
    /// Queue number.
    pub queue_no: u32,
    /// `desk`, `online`, `phone`.
    pub channel: String,
    /// `booked`, `checked_in`, `done`, `cancelled`, `no_show`.
    pub status: String,
    /// Code printed on the ticket.
    pub ticket_code: String,
    /// Set for an overbooking.
    pub overbook_reason: Option<String>,
    /// Confirmed by the platform; until then the desk's prediction.
    pub confirmed: bool,
    /// Spent a number of this desk's own capacity lease.
    pub leased: bool,
    /// Confirmed, or spent this desk's own lease: shown and printed without the "not yet
    /// confirmed" mark. The UI decides the mark on this, never on `confirmed` alone.
    pub guaranteed: bool,
}

impl From<&BookingView> for BookingInfo {
    fn from(v: &BookingView) -> BookingInfo {
        let b = &v.booking;
        BookingInfo {
            id: b.id.to_string(),
            patient_id: b.patient_id.to_string(),
            patient_name: v.patient_name.clone(),
            patient_name_masked: mask_name(&v.patient_name),
            department_code: v.department_code.clone(),
            department_name: v.department_name.clone(),
            provider_name: v.provider_name.clone(),
            provider_title: v.provider_title.clone(),
            session_id: b.session_id.to_string(),
            slot_id: b.slot_id.to_string(),
            period: v.period.into(),
            date: b.date.to_string(),
            start: hm(v.start),
            end: hm(v.end),
            queue_no: b.queue_no,
            channel: b.channel.code().into(),
            status: b.status.code().into(),
            ticket_code: b.ticket_code.as_str().into(),
            overbook_reason: b.overbook_reason.clone(),
            confirmed: v.confirmed,
            leased: v.leased,
            guaranteed: v.guaranteed,
        }
    }
}

/// How printing a ticket or sheet went. A failed print never undoes a booking. (The default:
/// nothing was printed, and nothing went wrong.)
#[derive(Debug, Clone, Default, PartialEq, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct PrintOutcome {
    /// It reached the printer (or the file).
    pub printed: bool,
    /// This document had been printed before.
    pub reprint: bool,
    /// Which printer, as shown to people.
    pub printer: Option<String>,
    /// The file written, for the "save to file" printer.
    pub file: Option<String>,
    /// The print system's job id.
    pub job_id: Option<String>,
    /// Why it did not print.
    pub error: Option<crate::error::ApiError>,
}

/// A booking just made, and how its ticket printed.
#[derive(Debug, Clone, PartialEq, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct Booked {
    /// The booking.
    pub booking: BookingInfo,
    /// The ticket.
    pub print: PrintOutcome,
}

/// What a scan resolved to.
#[derive(Debug, Clone, PartialEq, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct ScanResult {
    /// `ticket`, `resident_id`, `medical_card`, `ehealth_card`.
    pub kind: String,
    /// The normalised value.
    pub value: String,
    /// The patient it names, when known here.
    pub patient: Option<PatientView>,
    /// The booking, for a ticket.
    pub booking: Option<BookingInfo>,
}

/// The desk's sync state. Pushed as the `sync-status` event whenever it changes (after every
/// local change and after every sync cycle).
#[derive(Debug, Clone, PartialEq, Serialize, Type, tauri_specta::Event)]
#[serde(rename_all = "camelCase")]
pub struct SyncStatus {
    /// This device.
    pub device_id: String,
    /// Site name.
    pub site_name: Option<String>,
    /// Staff the ops are recorded under.
    pub staff_id: String,
    /// Patients in the replica.
    pub patients: u32,
    /// Live bookings today.
    pub bookings_today: u32,
    /// The platform, once enrolled.
    pub server: Option<String>,
    /// Whether the last attempt reached the platform (`None` before any attempt).
    pub online: Option<bool>,
    /// Last successful sync (RFC 3339).
    pub last_success: Option<String>,
    /// Last attempt (RFC 3339).
    pub last_attempt: Option<String>,
    /// What went wrong in the last attempt.
    pub last_error: Option<String>,
    /// Ops waiting to be sent.
    pub pending_ops: u32,
    /// When the oldest waiting op was made (RFC 3339).
    pub oldest_pending: Option<String>,
    /// Age of the oldest waiting op, in seconds.
    pub oldest_pending_secs: Option<u32>,
    /// Conflicts waiting for a person.
    pub open_conflicts: u32,
    /// Notices not yet dismissed (queue actions the platform did not take).
    pub open_notices: u32,
    /// Ops not yet sent, newest last (at most 50).
    pub outbox: Vec<OutboxItem>,
    /// This desk's capacity leases (reserved numbers).
    pub leases: LeaseSummary,
}

/// An op waiting in the outbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct OutboxItem {
    /// Per-device sequence number.
    pub seq: u32,
    /// `book`, `cancel`, `check_in`, …
    pub kind: String,
    /// The patient or booking it is about.
    pub subject: String,
    /// When it was made (RFC 3339).
    pub created_at: String,
}

fn clamp(n: u64) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

impl SyncStatus {
    /// From the engine's status, sync state and outbox; `departments` names the sessions of
    /// the lease summary.
    pub fn new(
        s: &DeskStatus,
        sync: &EngineSyncStatus,
        outbox: &[OutboxEntry],
        departments: &[Department],
    ) -> SyncStatus {
        let skip = outbox.len().saturating_sub(50);
        SyncStatus {
            device_id: s.device.device_id.to_string(),
            site_name: s.site.as_ref().map(|x| x.name.clone()),
            staff_id: s.device.staff_id.to_string(),
            patients: clamp(s.patients),
            bookings_today: clamp(s.bookings_today),
            server: sync.server.clone(),
            online: sync.online,
            last_success: sync.last_success.map(|t| t.to_string()),
            last_attempt: sync.last_attempt.map(|t| t.to_string()),
            last_error: sync.last_error.clone(),
            pending_ops: clamp(sync.pending_ops),
            oldest_pending: s.oldest_pending.map(|t| t.to_string()),
            oldest_pending_secs: sync.oldest_pending_secs.map(|x| u32::try_from(x.max(0)).unwrap_or(u32::MAX)),
            open_conflicts: clamp(sync.open_conflicts),
            open_notices: clamp(sync.open_notices),
            outbox: outbox
                .iter()
                .skip(skip)
                .map(|o| OutboxItem {
                    seq: clamp(o.seq),
                    kind: o.kind.clone(),
                    subject: o.subject.clone(),
                    created_at: o.created_at.to_string(),
                })
                .collect(),
            leases: LeaseSummary::new(&s.leases, departments, &site_zone(s.site.as_ref())),
        }
    }
}

/// This desk's capacity leases at a glance: numbers the platform reserved for this desk, from
/// which bookings are guaranteed even offline.
#[derive(Debug, Clone, PartialEq, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct LeaseSummary {
    /// The site has a lease policy (otherwise nothing is ever reserved for a desk).
    pub enabled: bool,
    /// Numbers this desk may spend now (guaranteed bookings left), today and later.
    pub held: u32,
    /// Live bookings made from this desk's leases, today and later.
    pub spent: u32,
    /// Of `held`, those whose deadline is less than an hour away.
    pub expiring: u32,
    /// Numbers leased to this desk it cannot spend now (past its deadline, given back, or
    /// the slot is closed).
    pub unusable: u32,
    /// The nearest deadline of a held number, on this desk's clock (RFC 3339 with the site's
    /// offset).
    pub next_deadline: Option<String>,
    /// Some session is below the policy's low-water mark: the desk asks for more when online.
    pub wants_top_up: bool,
    /// Per session, those with something to say, by date and half-day.
    pub sessions: Vec<SessionLeaseView>,
}

/// This desk's leases in one session.
#[derive(Debug, Clone, PartialEq, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct SessionLeaseView {
    /// Session id.
    pub session_id: String,
    /// `YYYY-MM-DD`.
    pub date: String,
    /// Half-day.
    pub period: PeriodView,
    /// Department code (empty when unknown here).
    pub department_code: String,
    /// Department name (zh).
    pub department_name: String,
    /// Department name (en).
    pub department_name_en: String,
    /// Provider's name.
    pub provider_name: String,
    /// Numbers this desk may spend now.
    pub held: u32,
    /// Live bookings made from its lease.
    pub spent: u32,
    /// Of `held`, those whose deadline is less than an hour away.
    pub expiring: u32,
    /// Numbers leased to this desk it cannot spend now.
    pub unusable: u32,
    /// The nearest deadline of a held number, on this desk's clock (RFC 3339 with the site's
    /// offset).
    pub next_deadline: Option<String>,
    /// Below the low-water mark: more are asked for when online.
    pub wants_top_up: bool,
}

impl LeaseSummary {
    /// From the engine's lease status; times in the site's zone `tz`.
    pub fn new(l: &LeaseStatus, departments: &[Department], tz: &TimeZone) -> LeaseSummary {
        LeaseSummary {
            enabled: l.policy.is_some(),
            held: l.held,
            spent: l.spent,
            expiring: l.expiring,
            unusable: l.unusable,
            next_deadline: l.next_deadline.map(|t| site_time(t, tz)),
            wants_top_up: l.wants_top_up,
            sessions: l
                .sessions
                .iter()
                .map(|s| {
                    let dept = departments.iter().find(|d| d.id == s.department_id);
                    SessionLeaseView {
                        session_id: s.session_id.to_string(),
                        date: s.date.to_string(),
                        period: s.period.into(),
                        department_code: dept.map(|d| d.code.clone()).unwrap_or_default(),
                        department_name: dept.map(|d| d.name.clone()).unwrap_or_default(),
                        department_name_en: dept.map(|d| d.name_en.clone()).unwrap_or_default(),
                        provider_name: s.provider_name.clone(),
                        held: s.held,
                        spent: s.spent,
                        expiring: s.expiring,
                        unusable: s.unusable,
                        next_deadline: s.next_deadline.map(|t| site_time(t, tz)),
                        wants_top_up: s.wants_top_up,
                    }
                })
                .collect(),
        }
    }
}

/// Where a number leased to this desk stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Type)]
#[serde(rename_all = "snake_case")]
pub enum LeaseStateView {
    /// This desk may spend it now: a booking from it is guaranteed.
    Usable,
    /// A booking of this desk took it; the platform has not confirmed the spend yet.
    Spent,
    /// Given back; the platform has not taken it back yet.
    Returning,
    /// Past this desk's deadline: not spent any more, nobody else's until the platform takes
    /// it back.
    Lapsed,
    /// The slot is not open to this desk now (suspended or cancelled session, slot ended).
    Closed,
}

impl From<LeaseState> for LeaseStateView {
    fn from(s: LeaseState) -> LeaseStateView {
        match s {
            LeaseState::Usable => LeaseStateView::Usable,
            LeaseState::Spent => LeaseStateView::Spent,
            LeaseState::Returning => LeaseStateView::Returning,
            LeaseState::Lapsed => LeaseStateView::Lapsed,
            LeaseState::Closed => LeaseStateView::Closed,
        }
    }
}

/// One number leased to this desk.
#[derive(Debug, Clone, PartialEq, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct LeaseNumberView {
    /// Session id.
    pub session_id: String,
    /// Slot id.
    pub slot_id: String,
    /// Queue number.
    pub queue_no: u32,
    /// `YYYY-MM-DD`.
    pub date: String,
    /// Half-day.
    pub period: PeriodView,
    /// Slot start, `HH:MM`.
    pub start: String,
    /// Slot end, `HH:MM`.
    pub end: String,
    /// Department code.
    pub department_code: String,
    /// Provider's name.
    pub provider_name: String,
    /// When the platform takes it back if unspent, on the platform's clock (RFC 3339 with the
    /// site's offset).
    pub expires_at: String,
    /// Until when this desk may spend it, on this desk's clock (RFC 3339 with the site's
    /// offset); absent when it was never usable here.
    pub usable_until: Option<String>,
    /// Where it stands.
    pub state: LeaseStateView,
    /// Usable, with less than an hour left.
    pub expiring: bool,
}

impl LeaseNumberView {
    /// From the engine's entry; times in the site's zone `tz`.
    pub fn new(e: &LeaseEntry, tz: &TimeZone) -> LeaseNumberView {
        LeaseNumberView {
            session_id: e.session_id.to_string(),
            slot_id: e.slot_id.to_string(),
            queue_no: e.queue_no,
            date: e.date.to_string(),
            period: e.period.into(),
            start: hm(e.start),
            end: hm(e.end),
            department_code: e.department_code.clone(),
            provider_name: e.provider_name.clone(),
            expires_at: site_time(e.expires_at, tz),
            usable_until: e.usable_until.map(|t| site_time(t, tz)),
            state: e.state.into(),
            expiring: e.expiring,
        }
    }
}

/// What asking the platform for more reserved numbers did.
#[derive(Debug, Clone, PartialEq, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct LeaseTopUp {
    /// Numbers newly leased to this desk.
    pub granted: u32,
    /// Numbers given back with the same request.
    pub returned: u32,
    /// The desk's sync state afterwards (leases included).
    pub status: SyncStatus,
}

/// A slot the platform suggests for a conflicted booking.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct SuggestedSlot {
    /// Slot id.
    pub slot_id: String,
    /// Provider's name (the id when unknown here).
    pub provider_name: String,
    /// `YYYY-MM-DD`.
    pub date: String,
    /// `HH:MM`.
    pub start: String,
    /// `HH:MM`.
    pub end: String,
    /// Free numbers left.
    pub remaining: u32,
}

/// A conflict (or rejection) in the inbox.
#[derive(Debug, Clone, PartialEq, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct ConflictView {
    /// Inbox id.
    pub id: u32,
    /// The op's kind (`book`, `cancel`, …).
    pub kind: String,
    /// Stable reason, e.g. `slot_full`.
    pub reason: String,
    /// Short title, in the desk's language.
    pub title: String,
    /// Plain explanation, in the desk's language.
    pub explanation: String,
    /// The patient concerned.
    pub patient_name: Option<String>,
    /// What the platform suggests instead.
    pub suggestions: Vec<SuggestedSlot>,
    /// Field errors of a rejected op.
    pub errors: Vec<crate::error::FieldError>,
    /// When it arrived (RFC 3339).
    pub created_at: String,
    /// When it was resolved (RFC 3339).
    pub resolved_at: Option<String>,
    /// How.
    pub resolution: Option<String>,
}

/// How a person resolves a conflict.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Type)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ConflictAction {
    /// Book the patient into this (suggested) slot instead.
    Rebook {
        /// The slot.
        #[serde(rename = "slotId")]
        slot_id: String,
    },
    /// Give the booking up; the notice for the patient comes back.
    Cancel,
    /// Admins: book beyond capacity with a reason.
    Overbook {
        /// Why.
        reason: String,
    },
    /// Nothing to redo.
    Acknowledge,
}

/// What resolving a conflict did.
#[derive(Debug, Clone, PartialEq, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct ConflictResolved {
    /// The new booking, when the resolution booked again.
    pub booking: Option<BookingInfo>,
    /// The notice for the patient, when the booking was given up.
    pub notice: Option<String>,
    /// The new booking's ticket, or the notice for the patient when the booking was given up.
    pub print: Option<PrintOutcome>,
}

/// Ticket roll width.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Type, Default)]
#[serde(rename_all = "snake_case")]
pub enum TicketWidth {
    /// 80 mm.
    #[default]
    Mm80,
    /// 58 mm.
    Mm58,
}

/// Where tickets and sheets go (the engine keeps it as settings text, see
/// `frontdesk_desk::Printer`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PrinterSetting {
    /// A CUPS queue (`None`: the default destination).
    Cups {
        /// Queue name.
        queue: Option<String>,
    },
    /// A Windows printer by name.
    Windows {
        /// Printer name.
        name: String,
    },
    /// A thermal printer on a raw TCP port, e.g. `192.168.1.50:9100`.
    EscPosTcp {
        /// `host:port`.
        addr: String,
    },
    /// A thermal printer as a device file, e.g. `/dev/usb/lp0`.
    EscPosDevice {
        /// Path.
        path: String,
    },
    /// Save each document as a PDF file in a folder.
    PdfDir {
        /// The folder.
        dir: String,
    },
}

impl PrinterSetting {
    /// The engine's settings text.
    pub fn spec(&self) -> String {
        match self {
            PrinterSetting::Cups { queue } => match queue.as_deref().map(str::trim).filter(|q| !q.is_empty()) {
                Some(q) => format!("cups:{q}"),
                None => "cups".into(),
            },
            PrinterSetting::Windows { name } => format!("windows:{}", name.trim()),
            PrinterSetting::EscPosTcp { addr } => format!("escpos:{}", addr.trim()),
            PrinterSetting::EscPosDevice { path } => format!("escpos-device:{}", path.trim()),
            PrinterSetting::PdfDir { dir } => format!("pdf-dir:{}", dir.trim()),
        }
    }

    /// From the engine's settings text (unknown text reads as the default CUPS printer).
    pub fn from_spec(spec: Option<&str>) -> PrinterSetting {
        use frontdesk_desk::Printer;
        use frontdesk_print::PrinterTarget;
        match spec.map(Printer::parse) {
            Some(Ok(Printer::PdfDir(dir))) => PrinterSetting::PdfDir { dir: dir.display().to_string() },
            Some(Ok(Printer::Device(PrinterTarget::Cups { queue, server }))) => PrinterSetting::Cups {
                queue: queue.map(|q| match server {
                    Some(s) => format!("{q}@{s}"),
                    None => q,
                }),
            },
            Some(Ok(Printer::Device(PrinterTarget::WindowsSpooler { name }))) => PrinterSetting::Windows { name },
            Some(Ok(Printer::Device(PrinterTarget::EscPosTcp { addr }))) => {
                PrinterSetting::EscPosTcp { addr: addr.to_string() }
            }
            Some(Ok(Printer::Device(PrinterTarget::EscPosDevice { path }))) => {
                PrinterSetting::EscPosDevice { path: path.display().to_string() }
            }
            _ => PrinterSetting::Cups { queue: None },
        }
    }
}

/// Device settings: the language (kept beside the replica) and the printer (kept by the engine).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct Settings {
    /// Chosen language; `None` follows the OS locale.
    pub lang: Option<UiLang>,
    /// Ticket and sheet printer.
    pub printer: PrinterSetting,
    /// Ticket roll width.
    pub ticket_width: TicketWidth,
    /// `FRONTDESK_PRINT_DIR` overrides the printer (tests): that folder.
    pub printer_override: Option<String>,
    /// The waiting-room display on this PC.
    pub display: DisplaySetting,
    /// The file the replica's key is kept in where no keychain could keep it (shown once in
    /// the settings); `None`: in the keychain. Read only.
    #[serde(default)]
    pub key_file: Option<String>,
}

/// Where a queue entry stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(rename_all = "snake_case")]
pub enum QueueStateView {
    /// Waiting to be called.
    Waiting,
    /// Called now.
    Called,
    /// Seen by the provider.
    Seen,
    /// Did not answer `max_calls` calls.
    NoShow,
}

/// What staff do to a queue entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(rename_all = "snake_case")]
pub enum QueueActionView {
    /// Call this waiting patient.
    Call,
    /// Call the called patient again.
    Recall,
    /// The called patient does not answer.
    Skip,
    /// The called patient was seen.
    Seen,
    /// This waiting patient goes to the end.
    ToEnd,
}

/// One checked-in patient in a queue.
#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct QueueEntryView {
    /// The booking.
    pub booking_id: String,
    /// Its ticket code.
    pub ticket_code: String,
    /// The number called out.
    pub queue_no: u32,
    /// The patient's name, masked (张*).
    pub patient_name_masked: String,
    /// Where it stands.
    pub state: QueueStateView,
    /// How many times called.
    pub calls: u32,
    /// When the patient checked in (HH:MM, site time).
    pub joined_at: String,
    /// When last called (HH:MM:SS, site time).
    pub called_at: Option<String>,
    /// Only this desk knows yet (its op is not confirmed by the platform).
    pub pending: bool,
}

/// One provider's session queue.
#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct SessionQueueView {
    /// The session.
    pub session_id: String,
    /// Department code (NK).
    pub department_code: String,
    /// Department name (内科).
    pub department_name: String,
    /// Department name in English.
    pub department_name_en: String,
    /// The provider.
    pub provider_name: String,
    /// Which half-day.
    pub period: PeriodView,
    /// The consultation room, when numbered.
    pub room: Option<u32>,
    /// The patient called now.
    pub called: Option<QueueEntryView>,
    /// The waiting patients, in call order.
    pub waiting: Vec<QueueEntryView>,
    /// Seen and no-shows, latest first.
    pub done: Vec<QueueEntryView>,
    /// This desk's queue actions the platform did not take (the queue had changed), until
    /// dismissed in the conflict inbox.
    pub notices: Vec<QueueNoticeView>,
}

/// A queue action of this desk the platform did not take.
#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct QueueNoticeView {
    /// Its entry in the conflict inbox (acknowledge to dismiss).
    pub conflict_id: u32,
    /// "叫号未生效" / "The call was not made".
    pub title: String,
    /// Why, for the nurse.
    pub message: String,
}

impl From<QueueState> for QueueStateView {
    fn from(s: QueueState) -> QueueStateView {
        match s {
            QueueState::Waiting => QueueStateView::Waiting,
            QueueState::Called => QueueStateView::Called,
            QueueState::Seen => QueueStateView::Seen,
            QueueState::NoShow => QueueStateView::NoShow,
        }
    }
}

impl From<QueueActionView> for QueueAction {
    fn from(a: QueueActionView) -> QueueAction {
        match a {
            QueueActionView::Call => QueueAction::Call,
            QueueActionView::Recall => QueueAction::Recall,
            QueueActionView::Skip => QueueAction::Skip,
            QueueActionView::Seen => QueueAction::Seen,
            QueueActionView::ToEnd => QueueAction::ToEnd,
        }
    }
}

/// `HH:MM` (or `HH:MM:SS`) of an instant in the site's time zone.
fn clock_time(t: Timestamp, tz: &TimeZone, seconds: bool) -> String {
    t.to_zoned(tz.clone()).strftime(if seconds { "%H:%M:%S" } else { "%H:%M" }).to_string()
}

impl QueueEntryView {
    /// From the engine's entry.
    pub fn new(e: &EngineQueueEntry, tz: &TimeZone) -> QueueEntryView {
        QueueEntryView {
            booking_id: e.booking_id.to_string(),
            ticket_code: e.ticket_code.as_ref().map(|c| c.as_str().to_string()).unwrap_or_default(),
            queue_no: e.queue_no,
            patient_name_masked: e.patient_name_masked.clone(),
            state: e.state.into(),
            calls: e.calls,
            joined_at: clock_time(e.joined_at, tz, false),
            called_at: e.called_at.map(|t| clock_time(t, tz, true)),
            pending: e.predicted,
        }
    }
}

impl SessionQueueView {
    /// From the engine's queue.
    pub fn new(q: &EngineSessionQueue, tz: &TimeZone, lang: Lang) -> SessionQueueView {
        let entries = |v: &[EngineQueueEntry]| v.iter().map(|e| QueueEntryView::new(e, tz)).collect();
        SessionQueueView {
            session_id: q.session_id.to_string(),
            department_code: q.department_code.clone(),
            department_name: q.department_name.clone(),
            department_name_en: q.department_name_en.clone(),
            provider_name: q.provider_name.clone(),
            period: q.period.into(),
            room: q.room,
            called: q.called.as_ref().map(|e| QueueEntryView::new(e, tz)),
            waiting: entries(&q.waiting),
            done: entries(&q.done),
            notices: q
                .notices
                .iter()
                .map(|n| QueueNoticeView {
                    conflict_id: u32::try_from(n.conflict_id).unwrap_or(u32::MAX),
                    title: n.title(lang),
                    message: n.message(lang),
                })
                .collect(),
        }
    }
}

impl DisplayBoardView {
    /// From the engine's waiting room, at `now`.
    pub fn new(w: &WaitingRoom, site_name: String, now: Timestamp, tz: &TimeZone) -> DisplayBoardView {
        DisplayBoardView {
            site_name,
            now: clock_time(now, tz, false),
            rooms: w
                .rooms
                .iter()
                .map(|r| DisplayRoomView {
                    session_id: r.session_id.to_string(),
                    department_code: r.department_code.clone(),
                    department_name: r.department_name.clone(),
                    department_name_en: r.department_name_en.clone(),
                    provider_name: r.provider_name.clone(),
                    room: r.room,
                    called: r.calling.as_ref().map(|c| DisplayCallView {
                        queue_no: c.queue_no,
                        patient_name_masked: c.patient_name_masked.clone(),
                        calls: c.calls,
                        called_at: c.called_at.map(|t| clock_time(t, tz, true)).unwrap_or_default(),
                        seconds_ago: c
                            .called_at
                            .map(|t| now.duration_since(t).as_secs().clamp(0, i64::from(u32::MAX)) as u32)
                            .unwrap_or(u32::MAX),
                    }),
                    next: r
                        .next
                        .iter()
                        .map(|n| DisplayNextView {
                            queue_no: n.queue_no,
                            patient_name_masked: n.patient_name_masked.clone(),
                        })
                        .collect(),
                    waiting: r.waiting,
                })
                .collect(),
        }
    }
}

/// A call to announce.
#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct CallView {
    /// The booking called.
    pub booking_id: String,
    /// Its number.
    pub queue_no: u32,
    /// The how-many-th call.
    pub call: u32,
}

/// What a queue action did.
#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct QueueActed {
    /// The session's queue now.
    pub queue: SessionQueueView,
    /// The call made, if the action was one.
    pub call: Option<CallView>,
}

/// The patient being called, on the waiting-room display.
#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct DisplayCallView {
    /// The number.
    pub queue_no: u32,
    /// The masked name.
    pub patient_name_masked: String,
    /// How many times called.
    pub calls: u32,
    /// When (HH:MM:SS, site time).
    pub called_at: String,
    /// Seconds since the call (for the display's highlight).
    pub seconds_ago: u32,
}

/// A waiting patient on the display.
#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct DisplayNextView {
    /// The number.
    pub queue_no: u32,
    /// The masked name.
    pub patient_name_masked: String,
}

/// One department and room on the display.
#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct DisplayRoomView {
    /// The session.
    pub session_id: String,
    /// Department code.
    pub department_code: String,
    /// Department name (内科).
    pub department_name: String,
    /// Department name in English.
    pub department_name_en: String,
    /// The provider.
    pub provider_name: String,
    /// The consultation room.
    pub room: Option<u32>,
    /// Called now.
    pub called: Option<DisplayCallView>,
    /// The next few waiting.
    pub next: Vec<DisplayNextView>,
    /// How many wait.
    pub waiting: u32,
}

/// The waiting-room display.
#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct DisplayBoardView {
    /// The site's name.
    pub site_name: String,
    /// Now (HH:MM, site time).
    pub now: String,
    /// Today's rooms with a queue, by department code and room.
    pub rooms: Vec<DisplayRoomView>,
}

/// An announcement to play, claimed by one window.
#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct AnnouncementView {
    /// The call's identity (booking and call number): a repeated call is a new one.
    pub key: String,
    /// The number.
    pub queue_no: u32,
    /// Department code.
    pub department_code: String,
    /// The room.
    pub room: Option<u32>,
    /// The clips, in order (`zh/12`, `chime`, …).
    pub clips: Vec<String>,
    /// The rendered announcement (WAV, base64).
    pub wav_base64: String,
    /// Its length in milliseconds.
    pub duration_ms: u32,
    /// Why it could not be rendered (a site's recording missing or unplayable): the call is
    /// shown, not spoken.
    pub error: Option<String>,
}

/// A monitor the display window can go to.
#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct MonitorView {
    /// Its name (what is remembered).
    pub name: String,
    /// Width × height in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// The system's primary monitor.
    pub primary: bool,
}

/// How the waiting-room display runs on this PC (remembered).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct DisplaySetting {
    /// The monitor it opens on (by name); `None`: the one the app is on.
    pub monitor: Option<String>,
    /// Full screen.
    pub fullscreen: bool,
    /// Announce in English after Mandarin.
    pub english: bool,
}
