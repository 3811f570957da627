//! The Tauri commands: each one calls the desk engine and converts the answer. Who may do
//! what is the engine's ([`frontdesk_desk::permissions`]): its changes check the signed-in
//! member of staff themselves; what only shows data asks for [`Action::View`]. No booking
//! rule, no printing logic lives here.

use frontdesk_desk::{Action, BookTarget, Desk, DeskError};
use frontdesk_domain::Lang;
use frontdesk_domain::schedule::{BookingId, PatientId, SessionId, SlotId};
use jiff::civil::Date;
use tauri::{AppHandle, Manager, State};
use tauri_specta::Event;

use crate::dto::{
    AppInfo, BoardView, Booked, BookingInfo, ConflictAction, ConflictResolved, ConflictView, LeaseNumberView,
    LeaseTopUp, PatientForm, PatientView, PrintOutcome, PrinterSetting, ScanResult, Settings, SlotOption, StaffRole,
    StaffView, SuggestedSlot, SyncStatus, TicketWidth, UiLang, hm,
};
use crate::error::ApiError;
use crate::state::AppState;

type Res<T> = Result<T, ApiError>;

fn err(lang: Lang) -> impl Fn(DeskError) -> ApiError {
    move |e| ApiError::desk(&e, lang)
}

fn parse_date(s: Option<String>, desk: &Desk, lang: Lang) -> Res<Date> {
    match s.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(desk.today()),
        Some(s) => s.parse().map_err(|_| ApiError::bad_argument(lang, "date (YYYY-MM-DD)")),
    }
}

/// The desk's sync state, as the UI shows it (department names only label the lease summary:
/// without them it still answers).
pub fn sync_state(desk: &Desk) -> Result<SyncStatus, DeskError> {
    let departments = desk.departments().unwrap_or_default();
    Ok(SyncStatus::new(&desk.status()?, &desk.sync_status()?, &desk.outbox()?, &departments))
}

/// Pushes the desk's sync state to the UI (the `sync-status` event). Best effort: the UI
/// also asks for it.
pub fn push_status(app: &AppHandle, desk: &Desk) {
    if let Ok(status) = sync_state(desk) {
        let _ = status.emit(app);
    }
}

/// Prints a booking's ticket on the configured printer (or the override). A failure is
/// reported, never undoes the booking.
fn print_ticket(desk: &mut Desk, state: &AppState, id: &BookingId, lang: Lang) -> PrintOutcome {
    outcome(desk.print_ticket(id, state.printer_override().as_deref(), lang), lang)
}

fn outcome(result: Result<frontdesk_desk::Printed, DeskError>, lang: Lang) -> PrintOutcome {
    match result {
        Ok(p) => PrintOutcome {
            printed: true,
            reprint: p.reprint,
            printer: Some(p.printer),
            file: p.file.map(|f| f.display().to_string()),
            job_id: None,
            error: None,
        },
        Err(e) => PrintOutcome {
            printed: false,
            reprint: false,
            printer: None,
            file: None,
            job_id: None,
            error: Some(ApiError::desk(&e, lang)),
        },
    }
}

fn info(state: &AppState) -> AppInfo {
    let desk = state.desk();
    let site = desk.site().ok();
    AppInfo {
        version: env!("CARGO_PKG_VERSION").into(),
        lang: state.ui_lang(),
        os_lang: state.os_lang.into(),
        ready: site.is_some() && desk.device().is_ok(),
        demo: site.as_ref().is_some_and(|s| s.id.as_str() == "demo"),
        site_name: site.map(|s| s.name),
        today: desk.today().to_string(),
        clock_pinned: state.clock_pinned,
        data_dir: state.data_dir.display().to_string(),
        // From the guard already held: asking the state would lock the engine again.
        staff: desk.signed_in().map(StaffView::from),
        needs_first_admin: desk.has_admin().map(|has| !has).unwrap_or(false),
        enrolled: matches!(desk.credentials(), Ok(Some(_))),
        display_only: matches!(desk.role(), Ok(frontdesk_desk::DeviceRole::Display)),
    }
}

/// What the first screen needs: language, whether the desk is set up, who is signed in.
#[tauri::command]
#[specta::specta]
pub async fn app_info(state: State<'_, AppState>) -> Res<AppInfo> {
    Ok(info(&state))
}

/// First run without a platform: sets the desk up as the offline demo clinic (today and the
/// next week, demo patients, demo staff). Safe to call again.
#[tauri::command]
#[specta::specta]
pub async fn setup_demo(state: State<'_, AppState>) -> Res<AppInfo> {
    let lang = state.lang();
    {
        let mut desk = state.desk();
        desk.initialize(None).map_err(err(lang))?;
        desk.seed_demo().map_err(err(lang))?;
        desk.seed_demo_staff().map_err(err(lang))?;
    }
    Ok(info(&state))
}

/// First run with a platform: enrolls this desk with the platform's address and a one-time
/// enrollment code, takes the platform's snapshot (best effort: the background sync retries)
/// and starts the background sync.
#[tauri::command]
#[specta::specta]
pub async fn enroll(
    app: AppHandle,
    state: State<'_, AppState>,
    server: String,
    code: String,
    name: Option<String>,
) -> Res<AppInfo> {
    let lang = state.lang();
    let sync_err = move |e: frontdesk_desk::sync::SyncError| ApiError::sync(&e, lang);
    // The engine's HTTP client blocks: run it off the async runtime.
    let handle = app.clone();
    let clock = tauri::async_runtime::spawn_blocking(move || {
        let state = handle.state::<AppState>();
        let mut desk = state.desk();
        desk.initialize(None).map_err(err(lang))?;
        let name = name.as_deref().map(str::trim).filter(|n| !n.is_empty());
        frontdesk_desk::sync::enroll(&mut desk, server.trim(), code.trim(), name).map_err(sync_err)?;
        // The snapshot now, so the board is there at once; the loop catches up if this fails.
        let _ = frontdesk_desk::sync::sync_once(&mut desk);
        Ok::<_, ApiError>(desk.clock().clone())
    })
    .await
    .map_err(|e| ApiError::app("internal", lang, "内部错误", &e.to_string()))??;
    crate::sync_loop::start(&app, &state.replica_path(), clock);
    Ok(info(&state))
}

/// Signs a member of staff in, offline, against this desk's staff list.
#[tauri::command]
#[specta::specta]
pub async fn sign_in(state: State<'_, AppState>, staff_id: String, password: String) -> Res<StaffView> {
    let lang = state.lang();
    let staff = state.desk().sign_in(&staff_id, &password, lang).map_err(err(lang))?;
    Ok(StaffView::from(&staff))
}

/// Creates the first admin of a desk that has no admin yet (an enrolled desk) and signs them
/// in. Once it has one, adding staff is an admin's ([`add_staff`]).
#[tauri::command]
#[specta::specta]
pub async fn create_first_admin(
    state: State<'_, AppState>,
    staff_id: String,
    display_name: String,
    password: String,
) -> Res<StaffView> {
    let lang = state.lang();
    let mut desk = state.desk();
    if desk.has_admin().map_err(err(lang))? {
        return Err(err(lang)(DeskError::Forbidden { action: Action::ManageStaff }));
    }
    let staff = desk
        .add_staff(&staff_id, &display_name, frontdesk_desk::staff::Role::Admin, &password, lang)
        .map_err(err(lang))?;
    let staff = desk.sign_in(&staff.id, &password, lang).map_err(err(lang))?;
    Ok(StaffView::from(&staff))
}

/// Signs out.
#[tauri::command]
#[specta::specta]
pub async fn sign_out(state: State<'_, AppState>) -> Res<()> {
    state.desk().sign_out();
    Ok(())
}

/// Switches the language (`None`: follow the OS). Anyone may, signed in or not.
#[tauri::command]
#[specta::specta]
pub async fn set_lang(state: State<'_, AppState>, lang: Option<UiLang>) -> Res<UiLang> {
    state.set_lang(lang)?;
    Ok(state.ui_lang())
}

/// A day's board (default today).
#[tauri::command]
#[specta::specta]
pub async fn board(state: State<'_, AppState>, date: Option<String>) -> Res<BoardView> {
    state.require_staff()?;
    let lang = state.lang();
    let desk = state.desk();
    let date = parse_date(date, &desk, lang)?;
    let board = desk.board(date).map_err(err(lang))?;
    let mut view = BoardView::from(&board);
    view.now = hm(desk.now_local().time());
    Ok(view)
}

/// The slots a walk-in can take now in a department (code or id): each provider's earliest
/// bookable slot today, earliest first. The first one is the suggestion.
#[tauri::command]
#[specta::specta]
pub async fn slot_options(state: State<'_, AppState>, department: String) -> Res<Vec<SlotOption>> {
    state.require_staff()?;
    let lang = state.lang();
    let desk = state.desk();
    // Each provider's earliest slot a walk-in can take now, as the engine's rules rank them.
    Ok(desk.walk_in_options(&department).map_err(err(lang))?.iter().map(SlotOption::from).collect())
}

/// Finds patients by name, pinyin initials, document, phone or card number.
#[tauri::command]
#[specta::specta]
pub async fn search_patients(state: State<'_, AppState>, query: String, limit: u32) -> Res<Vec<PatientView>> {
    state.require_staff()?;
    let lang = state.lang();
    let found = state.desk().search_patients(&query, limit.clamp(1, 200) as usize).map_err(err(lang))?;
    Ok(found.iter().map(PatientView::from).collect())
}

/// Registers a new patient. Field errors name every bad field; nothing is written then.
#[tauri::command]
#[specta::specta]
pub async fn register_patient(app: AppHandle, state: State<'_, AppState>, form: PatientForm) -> Res<PatientView> {
    state.require_staff()?;
    let lang = state.lang();
    let input = form.to_input().ok_or_else(|| ApiError::bad_argument(lang, "document kind"))?;
    let mut desk = state.desk();
    let patient = desk.register_patient(&input, lang).map_err(err(lang))?;
    push_status(&app, &desk);
    state.notify_sync();
    Ok(PatientView::from(&patient))
}

/// Changes a patient's details.
#[tauri::command]
#[specta::specta]
pub async fn update_patient(
    app: AppHandle,
    state: State<'_, AppState>,
    patient_id: String,
    form: PatientForm,
) -> Res<PatientView> {
    state.require_staff()?;
    let lang = state.lang();
    let input = form.to_input().ok_or_else(|| ApiError::bad_argument(lang, "document kind"))?;
    let mut desk = state.desk();
    let patient = desk.update_patient(&PatientId(patient_id), &input, lang).map_err(err(lang))?;
    push_status(&app, &desk);
    state.notify_sync();
    Ok(PatientView::from(&patient))
}

/// Routes a scanner payload (ticket, resident ID, medical card, e-health QR) and looks up
/// what it names.
#[tauri::command]
#[specta::specta]
pub async fn scan(state: State<'_, AppState>, payload: String) -> Res<ScanResult> {
    state.require_staff()?;
    let lang = state.lang();
    let outcome = state.desk().scan(&payload).map_err(err(lang))?;
    Ok(ScanResult {
        kind: outcome.kind.into(),
        value: outcome.value,
        patient: outcome.patient.as_ref().map(PatientView::from),
        booking: outcome.booking.as_ref().map(BookingInfo::from),
    })
}

/// Books (the engine's counter booking: book, print, or the slot to offer instead).
fn book_and_print(
    app: &AppHandle,
    state: &AppState,
    patient_id: String,
    target: BookTarget,
    overbook_reason: Option<&str>,
) -> Res<Booked> {
    let lang = state.lang();
    let printer = state.printer_override();
    let mut desk = state.desk();
    let booked = desk
        .book_and_print(&PatientId(patient_id), &target, overbook_reason, Some(printer.as_deref()), lang)
        .map_err(|not| {
            let mut api = ApiError::desk(&not.error, lang);
            api.suggestion = not.suggestion.as_deref().map(|o| Box::new(SlotOption::from(o)));
            api
        })?;
    push_status(app, &desk);
    state.notify_sync();
    // Asked for above, so always there.
    let print = booked.printed.map(|p| outcome(p, lang)).unwrap_or_default();
    Ok(Booked { booking: BookingInfo::from(&booked.view), print })
}

/// Books a patient into a slot and prints the ticket.
#[tauri::command]
#[specta::specta]
pub async fn book(app: AppHandle, state: State<'_, AppState>, patient_id: String, slot_id: String) -> Res<Booked> {
    state.require_staff()?;
    book_and_print(&app, &state, patient_id, BookTarget::Slot(SlotId(slot_id)), None)
}

/// Books the earliest slot the desk can book in a department (today or the coming week).
#[tauri::command]
#[specta::specta]
pub async fn book_earliest(
    app: AppHandle,
    state: State<'_, AppState>,
    patient_id: String,
    department: String,
) -> Res<Booked> {
    state.require_staff()?;
    book_and_print(&app, &state, patient_id, BookTarget::Earliest { department, provider: None }, None)
}

/// Admins only: books beyond capacity, with a reason.
#[tauri::command]
#[specta::specta]
pub async fn overbook(
    app: AppHandle,
    state: State<'_, AppState>,
    patient_id: String,
    slot_id: String,
    reason: String,
) -> Res<Booked> {
    book_and_print(&app, &state, patient_id, BookTarget::Slot(SlotId(slot_id)), Some(reason.trim()))
}

/// Cancels a booking; its number is free again.
#[tauri::command]
#[specta::specta]
pub async fn cancel_booking(
    app: AppHandle,
    state: State<'_, AppState>,
    booking_id: String,
    reason: Option<String>,
) -> Res<BookingInfo> {
    state.require_staff()?;
    let lang = state.lang();
    let mut desk = state.desk();
    let reason = reason.map(|r| r.trim().to_string()).filter(|r| !r.is_empty());
    let view = desk.cancel(&BookingId(booking_id), reason.as_deref()).map_err(err(lang))?;
    push_status(&app, &desk);
    state.notify_sync();
    Ok(BookingInfo::from(&view))
}

/// Checks a patient in by their ticket's code (scanned or typed).
#[tauri::command]
#[specta::specta]
pub async fn check_in(app: AppHandle, state: State<'_, AppState>, code: String) -> Res<BookingInfo> {
    state.require_staff()?;
    let lang = state.lang();
    let mut desk = state.desk();
    let view = desk.check_in(&code).map_err(err(lang))?;
    push_status(&app, &desk);
    state.notify_sync();
    Ok(BookingInfo::from(&view))
}

/// A day's bookings (default today), in queue order per session.
#[tauri::command]
#[specta::specta]
pub async fn bookings(state: State<'_, AppState>, date: Option<String>) -> Res<Vec<BookingInfo>> {
    state.require_staff()?;
    let lang = state.lang();
    let desk = state.desk();
    let date = parse_date(date, &desk, lang)?;
    let found = desk.bookings_on(date).map_err(err(lang))?;
    Ok(found.iter().map(BookingInfo::from).collect())
}

/// Prints a booking's ticket again.
#[tauri::command]
#[specta::specta]
pub async fn reprint(state: State<'_, AppState>, booking_id: String) -> Res<PrintOutcome> {
    state.require_staff()?;
    let lang = state.lang();
    let mut desk = state.desk();
    let id = BookingId(booking_id);
    desk.booking(&id).map_err(err(lang))?;
    Ok(print_ticket(&mut desk, &state, &id, lang))
}

/// The desk's sync state: online, pending ops, oldest pending, last sync, conflicts.
#[tauri::command]
#[specta::specta]
pub async fn sync_status(state: State<'_, AppState>) -> Res<SyncStatus> {
    state.require_staff()?;
    let lang = state.lang();
    sync_state(&state.desk()).map_err(err(lang))
}

/// Syncs now (the sync panel's button, F9): one full cycle — push the outbox, pull until caught
/// up — without waiting for the background loop's poll or backoff. Answers the new sync state;
/// a failed cycle is an error (`offline`, `platform_busy`, the platform's refusal), and the
/// status line shows it as well.
#[tauri::command]
#[specta::specta]
pub async fn sync_now(app: AppHandle, state: State<'_, AppState>) -> Res<SyncStatus> {
    state.require_staff()?;
    let lang = state.lang();
    // The engine's HTTP client blocks: run it off the async runtime.
    tauri::async_runtime::spawn_blocking(move || {
        let state = app.state::<AppState>();
        let mut desk = state.desk();
        let result = frontdesk_desk::sync::sync_once(&mut desk);
        push_status(&app, &desk);
        match result {
            Ok(_) => sync_state(&desk).map_err(err(lang)),
            Err(e) => Err(ApiError::sync(&e, lang)),
        }
    })
    .await
    .map_err(|e| ApiError::app("internal", lang, "内部错误", &e.to_string()))?
}

/// Every number the platform leased to this desk (reserved numbers), by date, slot and number,
/// with where each stands. The totals and the per-session view come with the sync state.
#[tauri::command]
#[specta::specta]
pub async fn leases(state: State<'_, AppState>) -> Res<Vec<LeaseNumberView>> {
    state.require_staff()?;
    let lang = state.lang();
    let desk = state.desk();
    let entries = desk.leases().map_err(err(lang))?;
    let tz = crate::dto::site_zone(desk.site().ok().as_ref());
    Ok(entries.iter().map(|e| LeaseNumberView::new(e, &tz)).collect())
}

/// Asks the platform now to top this desk's reserved numbers up to its share (numbers given
/// back go with the request), then pulls them. Any member of staff: it never takes more than
/// the site's policy gives this desk, and asking again changes nothing. A failure (`offline`,
/// `platform_busy`, the platform's refusal) is an error; the background sync asks on its own
/// when a session runs low.
#[tauri::command]
#[specta::specta]
pub async fn top_up_leases(app: AppHandle, state: State<'_, AppState>) -> Res<LeaseTopUp> {
    state.authorize(Action::Leases)?;
    let lang = state.lang();
    // The engine's HTTP client blocks: run it off the async runtime.
    tauri::async_runtime::spawn_blocking(move || {
        let state = app.state::<AppState>();
        let mut desk = state.desk();
        let result = frontdesk_desk::sync::request_leases(&mut desk, true);
        push_status(&app, &desk);
        let report = result.map_err(|e| ApiError::sync(&e, lang))?;
        Ok(LeaseTopUp {
            granted: report.granted,
            returned: report.returned,
            status: sync_state(&desk).map_err(err(lang))?,
        })
    })
    .await
    .map_err(|e| ApiError::app("internal", lang, "内部错误", &e.to_string()))?
}

/// Gives reserved numbers of a session back to the platform early (`numbers`, or every unspent
/// one when empty), e.g. when the desk closes before the session: this desk never spends them
/// again, and the platform can hand them to other desks and the online channel. Works offline
/// (they go with the next sync, which this wakes). Any member of staff: a nurse closing the
/// desk is the one who knows; bookings are never touched. Answers the numbers given back.
#[tauri::command]
#[specta::specta]
pub async fn give_back_leases(
    app: AppHandle,
    state: State<'_, AppState>,
    session_id: String,
    numbers: Vec<u32>,
) -> Res<Vec<u32>> {
    state.require_staff()?;
    let lang = state.lang();
    let mut desk = state.desk();
    let given = desk.give_back(&SessionId(session_id), &numbers, lang).map_err(err(lang))?;
    push_status(&app, &desk);
    state.notify_sync();
    Ok(given)
}

/// The conflict inbox: what the platform could not accept, with explanations and suggestions.
#[tauri::command]
#[specta::specta]
pub async fn conflicts(state: State<'_, AppState>, include_resolved: bool) -> Res<Vec<ConflictView>> {
    state.require_staff()?;
    let lang = state.lang();
    let desk = state.desk();
    let entries = desk.conflicts(include_resolved, lang).map_err(err(lang))?;
    Ok(entries
        .iter()
        .map(|c| ConflictView {
            id: u32::try_from(c.id).unwrap_or(u32::MAX),
            kind: c.kind.clone(),
            reason: c.reason.clone(),
            title: c.title.clone(),
            explanation: c.explanation.clone(),
            patient_name: c.patient_name.clone(),
            suggestions: c
                .suggestions
                .iter()
                .map(|s| SuggestedSlot {
                    slot_id: s.slot_id.to_string(),
                    provider_name: desk
                        .provider(&s.provider_id)
                        .map(|p| p.name)
                        .unwrap_or_else(|_| s.provider_id.to_string()),
                    date: s.date.to_string(),
                    start: hm(s.start),
                    end: hm(s.end),
                    remaining: s.remaining,
                })
                .collect(),
            errors: c
                .errors
                .iter()
                .map(|f| crate::error::FieldError {
                    field: f.field.clone(),
                    code: f.code.clone(),
                    message: f.message.clone(),
                })
                .collect(),
            created_at: c.created_at.to_string(),
            resolved_at: c.resolved_at.map(|t| t.to_string()),
            resolution: c.resolution.clone(),
        })
        .collect())
}

/// Resolves a conflict with one action: rebook into a suggested slot, cancel (the notice for
/// the patient comes back), overbook with a reason (admins), or acknowledge.
#[tauri::command]
#[specta::specta]
pub async fn resolve_conflict(
    app: AppHandle,
    state: State<'_, AppState>,
    id: u32,
    action: ConflictAction,
) -> Res<ConflictResolved> {
    let resolution = match action {
        ConflictAction::Rebook { slot_id } => frontdesk_desk::sync::Resolution::Rebook(SlotId(slot_id)),
        ConflictAction::Cancel => frontdesk_desk::sync::Resolution::Cancel,
        ConflictAction::Overbook { reason } => frontdesk_desk::sync::Resolution::Overbook(reason),
        ConflictAction::Acknowledge => frontdesk_desk::sync::Resolution::Acknowledge,
    };
    let lang = state.lang();
    let printer = state.printer_override();
    let mut desk = state.desk();
    // A new booking gets its ticket; a booking given up gets the notice for the patient.
    let (done, printed) =
        desk.resolve_and_print(i64::from(id), &resolution, Some(printer.as_deref()), lang).map_err(err(lang))?;
    push_status(&app, &desk);
    state.notify_sync();
    let print = printed.map(|p| outcome(p, lang));
    Ok(ConflictResolved { booking: done.booking.as_ref().map(BookingInfo::from), notice: done.notice, print })
}

/// Prints the notice for the patient of a booking given up in the conflict inbox again.
#[tauri::command]
#[specta::specta]
pub async fn print_notice(state: State<'_, AppState>, id: u32) -> Res<PrintOutcome> {
    state.require_staff()?;
    let lang = state.lang();
    let mut desk = state.desk();
    // A printer that failed is an outcome to show; an unknown conflict, or one that was not
    // given up, is a refusal.
    match desk.print_notice(i64::from(id), state.printer_override().as_deref(), lang) {
        Err(e) if !matches!(e, DeskError::Print { .. }) => Err(err(lang)(e)),
        printed => Ok(outcome(printed, lang)),
    }
}

/// Admins only: suspends a session (停诊) with a reason.
#[tauri::command]
#[specta::specta]
pub async fn suspend_session(
    app: AppHandle,
    state: State<'_, AppState>,
    session_id: String,
    reason: String,
) -> Res<()> {
    let lang = state.lang();
    let mut desk = state.desk();
    desk.suspend_session(&SessionId(session_id), &reason).map_err(err(lang))?;
    push_status(&app, &desk);
    state.notify_sync();
    Ok(())
}

/// Admins only: resumes a suspended session.
#[tauri::command]
#[specta::specta]
pub async fn resume_session(app: AppHandle, state: State<'_, AppState>, session_id: String) -> Res<()> {
    let lang = state.lang();
    let mut desk = state.desk();
    desk.resume_session(&SessionId(session_id)).map_err(err(lang))?;
    push_status(&app, &desk);
    state.notify_sync();
    Ok(())
}

/// Admins only: prints the day's A4 slot sheet.
#[tauri::command]
#[specta::specta]
pub async fn print_slot_sheet(state: State<'_, AppState>, date: Option<String>) -> Res<PrintOutcome> {
    let lang = state.lang();
    let mut desk = state.desk();
    let date = parse_date(date, &desk, lang)?;
    Ok(outcome(desk.print_sheet(date, None, state.printer_override().as_deref(), lang), lang))
}

/// The device settings.
#[tauri::command]
#[specta::specta]
pub async fn get_settings(state: State<'_, AppState>) -> Res<Settings> {
    state.require_staff()?;
    let lang = state.lang();
    let print = state.desk().print_settings().map_err(err(lang))?;
    Ok(Settings {
        lang: state.chosen_lang(),
        printer: PrinterSetting::from_spec(print.printer.as_deref()),
        ticket_width: if print.ticket_width_mm == 58 { TicketWidth::Mm58 } else { TicketWidth::Mm80 },
        printer_override: state.printer_override(),
        display: state.display_setting(),
        key_file: state.desk().status().ok().and_then(|s| s.key_file).map(|f| f.display().to_string()),
    })
}

/// Admins only: stores the device settings (printer, ticket width, language).
#[tauri::command]
#[specta::specta]
pub async fn save_settings(state: State<'_, AppState>, settings: Settings) -> Res<Settings> {
    // The language and the display are the app's settings, the printer the engine's: one rule.
    state.authorize(Action::ChangeSettings)?;
    let lang = settings.lang.map(Lang::from).unwrap_or(state.os_lang);
    let width = match settings.ticket_width {
        TicketWidth::Mm80 => 80,
        TicketWidth::Mm58 => 58,
    };
    state.desk().set_print_settings(Some(&settings.printer.spec()), Some(width)).map_err(err(lang))?;
    state.set_lang(settings.lang)?;
    state.set_display_setting(settings.display)?;
    get_settings(state).await
}

/// Admins only: everyone who may sign in here.
#[tauri::command]
#[specta::specta]
pub async fn list_staff(state: State<'_, AppState>) -> Res<Vec<StaffView>> {
    state.authorize(Action::ManageStaff)?;
    let lang = state.lang();
    let staff = state.desk().staff().map_err(err(lang))?;
    Ok(staff.iter().map(StaffView::from).collect())
}

/// Admins only: adds a member of staff.
#[tauri::command]
#[specta::specta]
pub async fn add_staff(
    state: State<'_, AppState>,
    staff_id: String,
    display_name: String,
    role: StaffRole,
    password: String,
) -> Res<StaffView> {
    let lang = state.lang();
    let staff = state.desk().add_staff(&staff_id, &display_name, role.into(), &password, lang).map_err(err(lang))?;
    Ok(StaffView::from(&staff))
}
