//! An empty Tauri 2 window: the floor the memory soak compares the desk app with. One window of
//! the app's size showing a static page, with the app's web view settings (no accelerated
//! compositing on Linux, as `src-tauri/src/webview.rs`); the soak starts it with the app's
//! tuned environment (`src-tauri/src/launch.rs`). No commands, plugins or state.
//!
//! `FRONTDESK_EMPTY_WINDOWS=2` opens a second, identical window: the floor of a desk with the
//! waiting-room display open (two windows, each web view with a web process of its own).

use tauri::{Manager, WebviewUrl, WebviewWindowBuilder};

/// The app's web view settings (Linux: no accelerated compositing).
fn tune(window: &tauri::WebviewWindow) -> tauri::Result<()> {
    #[cfg(target_os = "linux")]
    window.with_webview(|webview| {
        use webkit2gtk::{HardwareAccelerationPolicy, SettingsExt, WebViewExt};
        if let Some(settings) = WebViewExt::settings(&webview.inner()) {
            settings.set_hardware_acceleration_policy(HardwareAccelerationPolicy::Never);
        }
    })?;
    #[cfg(not(target_os = "linux"))]
    let _ = window;
    Ok(())
}

fn main() {
    let windows: u32 =
        std::env::var("FRONTDESK_EMPTY_WINDOWS").ok().and_then(|v| v.trim().parse().ok()).unwrap_or(1).clamp(1, 4);
    let result = tauri::Builder::default()
        .setup(move |app| {
            if let Some(window) = app.get_webview_window("main") {
                tune(&window)?;
            }
            for i in 2..=windows {
                let window = WebviewWindowBuilder::new(app, format!("window{i}"), WebviewUrl::App("index.html".into()))
                    .title(format!("Empty window {i}"))
                    .inner_size(1366.0, 768.0)
                    .build()?;
                tune(&window)?;
            }
            Ok(())
        })
        .run(tauri::generate_context!());
    if let Err(e) = result {
        eprintln!("empty-window: {e}");
        std::process::exit(1);
    }
}
