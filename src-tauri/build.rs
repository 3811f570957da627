//! Tauri's build step. The app's commands are declared here so each gets an `allow-…`
//! permission, and `capabilities/*.json` grant each window exactly those it needs.

/// Every command of `src/commands.rs` (keep in step with `specta_builder` in `src/lib.rs`).
const COMMANDS: &[&str] = &[
    "app_info",
    "setup_demo",
    "enroll",
    "sign_in",
    "create_first_admin",
    "sign_out",
    "set_lang",
    "board",
    "slot_options",
    "search_patients",
    "register_patient",
    "update_patient",
    "scan",
    "book",
    "book_earliest",
    "overbook",
    "cancel_booking",
    "check_in",
    "bookings",
    "reprint",
    "sync_status",
    "sync_now",
    "leases",
    "top_up_leases",
    "give_back_leases",
    "conflicts",
    "resolve_conflict",
    "print_notice",
    "suspend_session",
    "resume_session",
    "print_slot_sheet",
    "get_settings",
    "save_settings",
    "list_staff",
    "add_staff",
    "queues",
    "queue",
    "call_next",
    "queue_act",
    "display_board",
    "claim_announcements",
    "monitors",
    "open_display",
    "open_room_view",
    "room_session",
];

fn main() {
    let attributes = tauri_build::Attributes::new().app_manifest(tauri_build::AppManifest::new().commands(COMMANDS));
    if let Err(e) = tauri_build::try_build(attributes) {
        println!("cargo::error=tauri build step failed: {e:#}");
    }
}
