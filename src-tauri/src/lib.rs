//! The Frontdesk desktop app: a thin Tauri 2 shell. Commands ([`commands`]) wrap the desk
//! engine (`frontdesk-desk`) and the print crate; the UI in `ui/` calls them through the
//! TypeScript bindings generated from this crate ([`specta_builder`], committed as
//! `ui/src/lib/bindings.ts`; a test regenerates them and CI fails on a diff).

pub mod commands;
pub mod dto;
pub mod error;
pub mod launch;
pub mod state;
pub mod sync_loop;
pub mod waiting;
pub mod webview;

use tauri::Manager;
use tauri_specta::{Builder, collect_commands, collect_events};

use crate::state::AppState;

/// Where the generated bindings live, relative to this crate.
pub const BINDINGS_PATH: &str = "../ui/src/lib/bindings.ts";

/// Every command and event the UI may use, for the invoke handler and the bindings.
pub fn specta_builder() -> Builder<tauri::Wry> {
    Builder::<tauri::Wry>::new()
        .commands(collect_commands![
            commands::app_info,
            commands::setup_demo,
            commands::enroll,
            commands::sign_in,
            commands::create_first_admin,
            commands::sign_out,
            commands::set_lang,
            commands::board,
            commands::slot_options,
            commands::search_patients,
            commands::register_patient,
            commands::update_patient,
            commands::scan,
            commands::book,
            commands::book_earliest,
            commands::overbook,
            commands::cancel_booking,
            commands::check_in,
            commands::bookings,
            commands::reprint,
            commands::sync_status,
            commands::sync_now,
            commands::leases,
            commands::top_up_leases,
            commands::give_back_leases,
            commands::conflicts,
            commands::resolve_conflict,
            commands::print_notice,
            commands::suspend_session,
            commands::resume_session,
            commands::print_slot_sheet,
            commands::get_settings,
            commands::save_settings,
            commands::list_staff,
            commands::add_staff,
            waiting::queues,
            waiting::queue,
            waiting::call_next,
            waiting::queue_act,
            waiting::display_board,
            waiting::claim_announcements,
            waiting::monitors,
            waiting::open_display,
            waiting::open_room_view,
            waiting::room_session,
        ])
        .events(collect_events![dto::SyncStatus])
        // The transport types have one JSON shape both ways.
        .disable_serde_phases()
}

/// Writes the TypeScript bindings to `path`.
pub fn export_bindings(path: &std::path::Path) -> Result<(), String> {
    let ts = specta_typescript::Typescript::default().header(
        "// Generated from src-tauri by tauri-specta. Do not edit: run `cargo test -p frontdesk-app bindings`.\n",
    );
    specta_builder().export(ts, path).map_err(|e| e.to_string())
}

/// Runs the app.
pub fn run() {
    let state = match AppState::from_env() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("frontdesk: cannot start: {e}");
            std::process::exit(1);
        }
    };
    let builder = specta_builder();
    let result = tauri::Builder::default()
        // First plugin: a second start focuses the running window instead.
        .plugin(tauri_plugin_single_instance::init(|app, _argv, _cwd| {
            if let Some(w) = app.get_webview_window("main") {
                let _ = w.unminimize();
                let _ = w.show();
                let _ = w.set_focus();
            }
        }))
        // The display's place is the chosen monitor (its setting), not where it was last.
        .plugin(tauri_plugin_window_state::Builder::default().with_denylist(&[waiting::DISPLAY_LABEL]).build())
        .manage(state)
        .manage(waiting::RoomWindows::default())
        .invoke_handler(builder.invoke_handler())
        .setup(move |app| {
            builder.mount_events(app);
            if let Some(window) = app.get_webview_window("main") {
                webview::tune(&window)?;
            }
            let (replica, clock) = {
                let state = app.state::<AppState>();
                (state.replica_path(), state.desk().clock().clone())
            };
            sync_loop::start(app.handle(), &replica, clock);
            Ok(())
        })
        .run(tauri::generate_context!());
    if let Err(e) = result {
        eprintln!("frontdesk: {e}");
        std::process::exit(1);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    /// Regenerates `ui/src/lib/bindings.ts`; CI then fails if the committed file differs.
    #[test]
    fn bindings_are_exported() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(super::BINDINGS_PATH);
        super::export_bindings(&path).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains("bookEarliest") && text.contains("SyncStatus") && text.contains("claimAnnouncements"));
    }

    /// Every command the UI may call is declared in `build.rs` (its permission) and granted to
    /// the main window — and nothing else is: a command left out of either is refused at run time.
    #[test]
    fn every_command_has_its_permission_and_only_those_are_granted() {
        let between = |text: &'static str, start: &str, end: &str| -> &'static str {
            let from = text.find(start).unwrap() + start.len();
            &text[from..from + text[from..].find(end).unwrap()]
        };
        let quoted = |text: &str| -> std::collections::BTreeSet<String> {
            text.split('"').skip(1).step_by(2).map(str::to_string).collect()
        };
        let registered: std::collections::BTreeSet<String> = between(include_str!("lib.rs"), "collect_commands![", "]")
            .split(',')
            .filter_map(|c| {
                let c = c.trim();
                c.strip_prefix("commands::").or_else(|| c.strip_prefix("waiting::"))
            })
            .map(str::to_string)
            .collect();
        let declared = quoted(between(include_str!("../build.rs"), "const COMMANDS: &[&str] = &[", "];"));
        let granted_to = |json: &str| -> std::collections::BTreeSet<String> {
            let capability: serde_json::Value = serde_json::from_str(json).unwrap();
            capability["permissions"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(|p| p.as_str()?.strip_prefix("allow-").map(|c| c.replace('-', "_")))
                .collect()
        };
        let main = granted_to(include_str!("../capabilities/main.json"));
        let display = granted_to(include_str!("../capabilities/display.json"));
        let room = granted_to(include_str!("../capabilities/room.json"));
        assert!(registered.len() > 30 && registered.contains("give_back_leases"), "{registered:?}");
        assert_eq!(declared, registered, "build.rs COMMANDS");
        let all: std::collections::BTreeSet<String> = main.iter().chain(&display).chain(&room).cloned().collect();
        assert_eq!(all, registered, "capabilities/*.json");
        // The display can read the board and claim announcements, nothing else; a room window
        // only its queue.
        assert_eq!(display.into_iter().collect::<Vec<_>>(), ["claim_announcements", "display_board"]);
        assert_eq!(
            room.into_iter().collect::<Vec<_>>(),
            ["app_info", "call_next", "queue", "queue_act", "room_session", "sync_status"]
        );
    }
}
