//! The shell's own pieces without a window: state over a real replica, the transport types,
//! the error shape, and printing to the "save to file" printer.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use frontdesk_app::dto::{BoardView, BookingInfo, DisplaySetting, PatientForm, PrinterSetting, UiLang};
use frontdesk_app::error::ApiError;
use frontdesk_app::state::AppState;
use frontdesk_desk::BookTarget;
use frontdesk_domain::Lang;
use frontdesk_domain::clock::ManualClock;

fn state(dir: &std::path::Path) -> AppState {
    // 08:30 in Shanghai on a Monday.
    let clock = Arc::new(ManualClock::new("2026-11-23T00:30:00Z".parse().unwrap()));
    let state = AppState::open(dir, clock, None, Lang::Zh).unwrap();
    {
        let mut desk = state.desk();
        desk.initialize(None).unwrap();
        desk.seed_demo().unwrap();
        desk.seed_demo_staff().unwrap();
        desk.sign_in("admin", "admin123", Lang::Zh).unwrap();
    }
    state
}

#[test]
fn the_engine_s_rules_gate_the_app_with_its_codes_and_messages() {
    use frontdesk_desk::Action;
    let dir = tempfile::tempdir().unwrap();
    let state = state(dir.path());
    let session = state.desk().board(jiff::civil::date(2026, 11, 23)).unwrap().departments[0].providers[0].sessions[0]
        .session
        .id
        .clone();
    // Signed out: nothing to see, nothing to change (the CLI's test asserts the same text).
    state.desk().sign_out();
    assert!(state.desk().signed_in().is_none());
    let err = state.require_staff().unwrap_err();
    assert_eq!((err.code.as_str(), err.message.as_str()), ("not_signed_in", "请先登录：此操作需要员工工号和密码"));
    let change = state.desk().suspend_session(&session, "会议").unwrap_err();
    assert_eq!(ApiError::desk(&change, Lang::Zh), err);
    // A nurse sees and books, but neither suspends nor changes the settings.
    state.desk().sign_in("nurse", "nurse123", Lang::Zh).unwrap();
    assert_eq!(state.require_staff().unwrap().id, "nurse");
    let err = ApiError::desk(&state.desk().suspend_session(&session, "会议").unwrap_err(), Lang::Zh);
    assert_eq!((err.code.as_str(), err.message.as_str()), ("forbidden", "只有管理员可以停诊"));
    let err = state.authorize(Action::ChangeSettings).unwrap_err();
    assert_eq!((err.code.as_str(), err.message.as_str()), ("forbidden", "只有管理员可以修改设置"));
    // An admin does.
    state.desk().sign_in("admin", "admin123", Lang::Zh).unwrap();
    state.desk().suspend_session(&session, "会议").unwrap();
    assert!(state.authorize(Action::ChangeSettings).is_ok());
}

#[test]
fn field_errors_cross_ipc_with_every_field() {
    let dir = tempfile::tempdir().unwrap();
    let state = state(dir.path());
    let form = PatientForm {
        name: " ".into(),
        document_number: "110101199003070012".into(),
        phone: Some("12345".into()),
        ..PatientForm::default()
    };
    let err = state.desk().register_patient(&form.to_input().unwrap(), Lang::En).unwrap_err();
    let api = ApiError::desk(&err, Lang::En);
    assert_eq!(api.code, "invalid_input");
    let fields: Vec<&str> = api.fields.iter().map(|f| f.field.as_str()).collect();
    assert!(fields.contains(&"name") && fields.contains(&"document_number") && fields.contains(&"phone"), "{fields:?}");
    let json = serde_json::to_value(&api).unwrap();
    assert!(json.get("code").is_some() && json.get("message").is_some() && json["fields"].is_array());
    // An unknown document kind never reaches the engine.
    let bad = PatientForm { document_kind: Some("library_card".into()), ..PatientForm::default() };
    assert!(bad.to_input().is_none());
}

#[test]
fn language_choice_persists_beside_the_replica() {
    let dir = tempfile::tempdir().unwrap();
    let state = state(dir.path());
    assert_eq!(state.lang(), Lang::Zh);
    state.set_lang(Some(UiLang::En)).unwrap();
    assert_eq!(state.lang(), Lang::En);
    drop(state);
    let clock = Arc::new(ManualClock::new("2026-11-23T00:30:00Z".parse().unwrap()));
    let again = AppState::open(dir.path(), clock, None, Lang::Zh).unwrap();
    assert_eq!(again.chosen_lang(), Some(UiLang::En));
    again.set_lang(None).unwrap();
    assert_eq!(again.lang(), Lang::Zh);
}

#[test]
fn the_display_setting_is_remembered_and_the_language_keeps_it() {
    let dir = tempfile::tempdir().unwrap();
    let state = state(dir.path());
    assert_eq!(state.display_setting(), DisplaySetting::default());
    let chosen = DisplaySetting { monitor: Some("HDMI-1".into()), fullscreen: true, english: true };
    state.set_display_setting(chosen.clone()).unwrap();
    // Changing the language keeps the display where it was, and the other way round.
    state.set_lang(Some(UiLang::En)).unwrap();
    drop(state);
    let clock = Arc::new(ManualClock::new("2026-11-23T00:30:00Z".parse().unwrap()));
    let again = AppState::open(dir.path(), clock, None, Lang::Zh).unwrap();
    assert_eq!(again.display_setting(), chosen);
    assert_eq!(again.chosen_lang(), Some(UiLang::En));
}

#[test]
fn printer_settings_round_trip_through_the_engine_text() {
    for p in [
        PrinterSetting::Cups { queue: None },
        PrinterSetting::Cups { queue: Some("desk-1".into()) },
        PrinterSetting::EscPosTcp { addr: "192.168.1.50:9100".into() },
        PrinterSetting::EscPosDevice { path: "/dev/usb/lp0".into() },
        PrinterSetting::PdfDir { dir: "/tmp/tickets".into() },
        PrinterSetting::Windows { name: "Receipt".into() },
    ] {
        assert_eq!(PrinterSetting::from_spec(Some(&p.spec())), p);
    }
    assert_eq!(PrinterSetting::from_spec(None), PrinterSetting::Cups { queue: None });
}

#[test]
fn a_booking_prints_its_ticket_to_the_override_folder() {
    let dir = tempfile::tempdir().unwrap();
    let print_dir = dir.path().join("print");
    let clock = Arc::new(ManualClock::new("2026-11-23T00:30:00Z".parse().unwrap()));
    let state = AppState::open(&dir.path().join("data"), clock, Some(print_dir.clone()), Lang::Zh).unwrap();
    let mut desk = state.desk();
    desk.initialize(None).unwrap();
    desk.seed_demo().unwrap();
    desk.seed_demo_staff().unwrap();
    desk.sign_in("nurse", "nurse123", Lang::Zh).unwrap();
    let patient = desk.search_patients("zs", 1).unwrap().remove(0);
    let view = desk.book(&patient.id, &BookTarget::Earliest { department: "NK".into(), provider: None }).unwrap();
    let info = BookingInfo::from(&view);
    assert!(!info.confirmed, "an offline booking is not yet confirmed");
    assert_eq!(info.patient_name_masked, "张*");
    let printed = desk.print_ticket(&view.booking.id, state.printer_override().as_deref(), Lang::Zh).unwrap();
    let file = printed.file.unwrap();
    assert_eq!(file, print_dir.join(format!("ticket-{}.pdf", info.ticket_code)));
    assert!(std::fs::read(&file).unwrap().starts_with(b"%PDF"));

    let board = BoardView::from(&desk.board(desk.today()).unwrap());
    let nk = board.departments.iter().find(|d| d.code == "NK").unwrap();
    assert!(nk.providers.iter().flat_map(|p| &p.sessions).any(|s| s.booked == 1));
}

#[test]
fn leases_cross_ipc_and_the_mark_follows_guaranteed() {
    use frontdesk_app::dto::{LeaseNumberView, LeaseSummary};
    use frontdesk_desk::{LeaseEntry, LeaseState, LeaseStatus, SessionLeases};
    use frontdesk_domain::schedule::{Period, SessionId, SlotId};

    let dir = tempfile::tempdir().unwrap();
    let state = state(dir.path());
    let mut desk = state.desk();
    let patient = desk.search_patients("zs", 1).unwrap().remove(0);
    let view = desk.book(&patient.id, &BookTarget::Earliest { department: "NK".into(), provider: None }).unwrap();
    // The offline demo desk is not enrolled: nothing is leased, the booking is tentative.
    let info = BookingInfo::from(&view);
    assert!(!info.confirmed && !info.leased && !info.guaranteed);
    // A booking from this desk's own lease is guaranteed before the platform confirms it.
    let leased = BookingInfo::from(&frontdesk_desk::BookingView { leased: true, guaranteed: true, ..view.clone() });
    assert!(!leased.confirmed && leased.leased && leased.guaranteed);
    let json = serde_json::to_value(&leased).unwrap();
    assert_eq!((json["guaranteed"].as_bool(), json["confirmed"].as_bool()), (Some(true), Some(false)));

    // Giving numbers back needs an enrolled desk: a field error the UI can show.
    let err = desk.give_back(&view.booking.session_id, &[], Lang::En).unwrap_err();
    let api = ApiError::desk(&err, Lang::En);
    assert_eq!((api.code.as_str(), api.fields[0].code.as_str()), ("invalid_input", "not_enrolled"));
    let status = frontdesk_app::commands::sync_state(&desk).unwrap();
    assert!(!status.leases.enabled && status.leases.held == 0 && status.leases.sessions.is_empty());

    // The engine's lease status, with the department named for people.
    let departments = desk.departments().unwrap();
    let nk = departments.iter().find(|d| d.code == "NK").unwrap();
    let deadline: jiff::Timestamp = "2026-11-23T01:20:00Z".parse().unwrap();
    let engine = LeaseStatus {
        policy: Some(frontdesk_domain::lease::LeasePolicy::default()),
        held: 3,
        spent: 1,
        expiring: 2,
        unusable: 1,
        next_deadline: Some(deadline),
        wants_top_up: true,
        sessions: vec![SessionLeases {
            session_id: view.booking.session_id.clone(),
            date: view.booking.date,
            period: Period::Morning,
            department_id: nk.id.clone(),
            provider_id: "demo-nk-1".into(),
            provider_name: "王建国".into(),
            held: 3,
            spent: 1,
            expiring: 2,
            unusable: 1,
            next_deadline: Some(deadline),
            wants_top_up: true,
        }],
    };
    let tz = frontdesk_app::dto::site_zone(desk.site().ok().as_ref());
    let summary = LeaseSummary::new(&engine, &departments, &tz);
    assert!(summary.enabled && summary.wants_top_up);
    assert_eq!((summary.held, summary.spent, summary.expiring, summary.unusable), (3, 1, 2, 1));
    // Times carry the site's offset: the UI reads the clinic's wall clock off them.
    assert_eq!(summary.next_deadline.as_deref(), Some("2026-11-23T09:20:00+08:00"));
    let s = &summary.sessions[0];
    assert_eq!((s.department_code.as_str(), s.department_name.as_str(), s.date.as_str()), ("NK", "内科", "2026-11-23"));
    let json = serde_json::to_value(&summary).unwrap();
    assert_eq!(json["sessions"][0]["period"], "morning");
    assert_eq!(json["nextDeadline"], "2026-11-23T09:20:00+08:00");

    let entry = LeaseEntry {
        session_id: SessionId::from("demo-nk-1-20261123-am"),
        slot_id: SlotId::from("demo-nk-1-20261123-am-03"),
        queue_no: 18,
        date: view.booking.date,
        start: jiff::civil::time(9, 0, 0, 0),
        end: jiff::civil::time(9, 30, 0, 0),
        period: Period::Morning,
        department_code: "NK".into(),
        provider_name: "王建国".into(),
        expires_at: "2026-11-23T00:50:00Z".parse().unwrap(),
        usable_until: None,
        state: LeaseState::Returning,
        expiring: false,
    };
    let json = serde_json::to_value(LeaseNumberView::new(&entry, &tz)).unwrap();
    assert_eq!(json["expiresAt"], "2026-11-23T08:50:00+08:00");
    assert_eq!(
        (json["state"].as_str(), json["start"].as_str(), json["queueNo"].as_u64()),
        (Some("returning"), Some("09:00"), Some(18))
    );
    assert!(json["usableUntil"].is_null());
}
