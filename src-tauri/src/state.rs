//! What the app holds between commands: the desk engine, who is signed in, and the device
//! settings (a JSON file beside the replica).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use frontdesk_desk::staff::Staff;
use frontdesk_desk::{Action, Desk, DeskError};
use frontdesk_domain::Lang;
use frontdesk_domain::clock::{Clock, clock_from_env};

use serde::{Deserialize, Serialize};

use crate::dto::{DisplaySetting, UiLang};
use crate::error::ApiError;

/// Environment variables the app reads.
pub mod env {
    /// Pins the clock (RFC 3339), as in the CLI: deterministic demos and tests.
    pub const NOW: &str = frontdesk_domain::clock::NOW_ENV;
    /// Where the replica and settings live (default: the OS data directory).
    pub const DATA_DIR: &str = "FRONTDESK_DATA_DIR";
    /// Overrides the printer: every ticket and sheet is saved as a PDF in this folder.
    pub const PRINT_DIR: &str = "FRONTDESK_PRINT_DIR";
}

/// What the app keeps beside the replica (the printer is kept by the engine).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
struct StoredSettings {
    /// Chosen language; `None` follows the OS locale.
    lang: Option<UiLang>,
    /// How the waiting-room display runs on this PC.
    #[serde(default)]
    display: DisplaySetting,
}

/// Why the app could not start.
#[derive(Debug)]
pub struct StartError(pub String);

impl std::fmt::Display for StartError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The app's state, shared by all commands.
pub struct AppState {
    /// The engine; it also knows who is signed in ([`Desk::signed_in`]).
    desk: Mutex<Desk>,
    settings: Mutex<StoredSettings>,
    settings_path: PathBuf,
    /// Where the replica lives.
    pub data_dir: PathBuf,
    print_dir: Option<PathBuf>,
    /// `FRONTDESK_NOW` is set.
    pub clock_pinned: bool,
    /// The OS locale's language.
    pub os_lang: Lang,
    sync_started: AtomicBool,
    sync_signal: Arc<frontdesk_desk::sync::SyncSignal>,
    /// Hands each call to one window to announce.
    announcer: Mutex<frontdesk_desk::announcer::Announcer>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding a lock cannot leave the engine half-written (its writes are
    // transactions), so a poisoned lock is still safe to use.
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl AppState {
    /// Opens the replica and reads the settings, from the environment's directories.
    pub fn from_env() -> Result<AppState, StartError> {
        let data_dir = match std::env::var_os(env::DATA_DIR) {
            Some(d) if !d.is_empty() => PathBuf::from(d),
            _ => frontdesk_desk::default_data_dir()
                .ok_or_else(|| StartError("no data directory: set FRONTDESK_DATA_DIR".into()))?,
        };
        let clock = clock_from_env().map_err(|e| StartError(e.to_string()))?;
        let print_dir = std::env::var_os(env::PRINT_DIR).filter(|d| !d.is_empty()).map(PathBuf::from);
        let os_lang = sys_locale::get_locale().map(|l| Lang::from_locale(&l)).unwrap_or(Lang::Zh);
        AppState::open(&data_dir, clock, print_dir, os_lang)
    }

    /// Opens the replica in `data_dir`.
    pub fn open(
        data_dir: &Path,
        clock: Arc<dyn Clock>,
        print_dir: Option<PathBuf>,
        os_lang: Lang,
    ) -> Result<AppState, StartError> {
        let pinned = std::env::var(env::NOW).is_ok_and(|s| !s.trim().is_empty());
        let desk = Desk::open(&data_dir.join(frontdesk_desk::REPLICA_FILE), clock)
            .map_err(|e| StartError(e.message(os_lang)))?;
        let settings_path = data_dir.join("settings.json");
        let settings = std::fs::read_to_string(&settings_path)
            .ok()
            .and_then(|s| serde_json::from_str::<StoredSettings>(&s).ok())
            .unwrap_or_default();
        let state = AppState {
            desk: Mutex::new(desk),
            settings: Mutex::new(settings),
            settings_path,
            data_dir: data_dir.to_path_buf(),
            print_dir,
            clock_pinned: pinned,
            os_lang,
            sync_started: AtomicBool::new(false),
            sync_signal: Arc::default(),
            announcer: Mutex::new(frontdesk_desk::announcer::Announcer::new()),
        };
        state.refresh_demo();
        Ok(state)
    }

    /// On a demo desk, adds the days that came since it was seeded (a no-op otherwise).
    fn refresh_demo(&self) {
        let mut desk = lock(&self.desk);
        // An enrolled desk gets its clinic from the platform; only the offline demo is refreshed.
        if desk.site().is_ok_and(|s| s.id.as_str() == "demo") && matches!(desk.credentials(), Ok(None)) {
            // Best effort: yesterday's board still works if this fails.
            let _ = desk.seed_demo();
        }
    }

    /// The engine.
    pub fn desk(&self) -> MutexGuard<'_, Desk> {
        lock(&self.desk)
    }

    /// The language in effect.
    pub fn lang(&self) -> Lang {
        lock(&self.settings).lang.map(Lang::from).unwrap_or(self.os_lang)
    }

    /// The language in effect, as the UI names it.
    pub fn ui_lang(&self) -> UiLang {
        self.lang().into()
    }

    /// The signed-in member of staff, if the engine's rules let them do `action`; otherwise
    /// the engine's `not_signed_in` / `forbidden` (the same code and message as the CLI's).
    pub fn authorize(&self, action: Action) -> Result<Staff, ApiError> {
        let asked = self.desk().authorize(action);
        asked.map_err(|e| ApiError::desk(&e, self.lang()))
    }

    /// The signed-in member of staff, for what any of them may see.
    pub fn require_staff(&self) -> Result<Staff, ApiError> {
        self.authorize(Action::View)
    }

    /// The printer every document goes to instead of the configured one
    /// (`FRONTDESK_PRINT_DIR`), as the engine's printer text.
    pub fn printer_override(&self) -> Option<String> {
        self.print_dir.as_ref().map(|d| format!("pdf-dir:{}", d.display()))
    }

    /// Chooses the language (`None`: follow the OS) and keeps the choice.
    pub fn set_lang(&self, lang: Option<UiLang>) -> Result<(), ApiError> {
        let display = lock(&self.settings).display.clone();
        self.store_settings(StoredSettings { lang, display })
    }

    /// How the waiting-room display runs on this PC.
    pub fn display_setting(&self) -> DisplaySetting {
        lock(&self.settings).display.clone()
    }

    /// Remembers how the waiting-room display runs on this PC.
    pub fn set_display_setting(&self, display: DisplaySetting) -> Result<(), ApiError> {
        let lang = lock(&self.settings).lang;
        self.store_settings(StoredSettings { lang, display })
    }

    /// The one announcer of the app (see `frontdesk_desk::announcer`).
    pub fn announcer(&self) -> MutexGuard<'_, frontdesk_desk::announcer::Announcer> {
        lock(&self.announcer)
    }

    fn store_settings(&self, new: StoredSettings) -> Result<(), ApiError> {
        let err_lang = new.lang.map(Lang::from).unwrap_or(self.os_lang);
        let json = serde_json::to_string_pretty(&new).map_err(|e| ApiError::bad_argument(err_lang, &e.to_string()))?;
        std::fs::create_dir_all(&self.data_dir)
            .and_then(|()| std::fs::write(&self.settings_path, json))
            .map_err(|e| ApiError::desk(&DeskError::Io(e), err_lang))?;
        *lock(&self.settings) = new;
        Ok(())
    }

    /// Something changed at this desk: the background sync pushes it at once.
    pub fn notify_sync(&self) {
        self.sync_signal.notify();
    }

    /// What wakes the background sync.
    pub fn sync_signal(&self) -> Arc<frontdesk_desk::sync::SyncSignal> {
        self.sync_signal.clone()
    }

    /// Marks the background sync as started; false when it already was.
    pub fn claim_sync(&self) -> bool {
        !self.sync_started.swap(true, Ordering::SeqCst)
    }

    /// Where the replica is.
    pub fn replica_path(&self) -> PathBuf {
        self.data_dir.join(frontdesk_desk::REPLICA_FILE)
    }

    /// The chosen language, if one was chosen.
    pub fn chosen_lang(&self) -> Option<UiLang> {
        lock(&self.settings).lang
    }
}
