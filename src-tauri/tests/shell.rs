//! The shell's own pieces without a window: state over a real replica, the transport types,
//! the error shape, and printing to the "save to file" printer.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use frontdesk_app::dto::{BoardView, BookingInfo, PatientForm, PrinterSetting, UiLang};
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
    }
    state
}

#[test]
fn roles_gate_admin_commands() {
    let dir = tempfile::tempdir().unwrap();
    let state = state(dir.path());
    assert_eq!(state.require_staff().unwrap_err().code, "not_signed_in");
    let nurse = state.desk().sign_in("nurse", "nurse123", Lang::Zh).unwrap();
    state.set_staff(Some(nurse));
    assert!(state.require_staff().is_ok());
    let err = state.require_admin().unwrap_err();
    assert_eq!(err.code, "forbidden");
    assert_eq!(err.message, "此操作需要管理员权限");
    let admin = state.desk().sign_in("admin", "admin123", Lang::Zh).unwrap();
    state.set_staff(Some(admin));
    assert!(state.require_admin().is_ok());
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
