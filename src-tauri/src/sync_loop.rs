//! The background sync of an enrolled desk: the engine's `sync_watch` on its own connection to
//! the replica (SQLite WAL lets it write beside the UI's connection), so the network never
//! holds up the desk. Every local change wakes it (the change is pushed at once when the
//! platform is reachable); after every cycle the UI gets the `sync-status` event.
//!
//! A desk is enrolled on the app's first-run screen (the `enroll` command) or with the CLI
//! (`frontdesk enroll`).

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use frontdesk_desk::Desk;
use frontdesk_domain::clock::Clock;
use tauri::{AppHandle, Manager};

use crate::commands::push_status;
use crate::state::AppState;

/// How long the loop rests between cycles when all is well.
const POLL: Duration = Duration::from_secs(15);

/// Starts the loop when the desk is enrolled (once per app); returns whether it started.
pub fn start(app: &AppHandle, replica: &Path, clock: Arc<dyn Clock>) -> bool {
    let Ok(mut desk) = Desk::open(replica, clock) else { return false };
    if !matches!(desk.credentials(), Ok(Some(_))) {
        return false;
    }
    if !app.try_state::<AppState>().is_some_and(|s| s.claim_sync()) {
        return false;
    }
    let Some(signal) = app.try_state::<AppState>().map(|s| s.sync_signal()) else { return false };
    let app = app.clone();
    let spawned = std::thread::Builder::new().name("frontdesk-sync".into()).spawn(move || {
        // Runs for the life of the app (the process ends it).
        let stop = AtomicBool::new(false);
        let result = frontdesk_desk::sync::sync_watch_with(&mut desk, &stop, POLL, &signal, |_| {
            if let Some(state) = app.try_state::<AppState>() {
                push_status(&app, &state.desk());
            }
        });
        if let (Err(e), Some(state)) = (result, app.try_state::<AppState>()) {
            // A refusal retrying cannot fix (revoked token): the status line shows it.
            eprintln!("frontdesk: sync stopped: {}", e.message(state.lang()));
            push_status(&app, &state.desk());
        }
    });
    spawned.is_ok()
}
