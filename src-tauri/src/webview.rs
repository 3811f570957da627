//! Web view settings for a desk. The UI is one local page of forms and lists and needs no GPU
//! compositing. On Linux (WebKitGTK) accelerated compositing renders through OpenGL even
//! without a GPU (Mesa's software rasteriser), which costs the web content process ≈ 90 MB;
//! drawing without it looks the same for this UI. Other platforms keep their defaults.
//!
//! The web process still opens an EGL display (Mesa's driver and its libLLVM, ≈ 28 MB PSS here)
//! whatever the policy: WebKitGTK 2.50 does so while it creates the page, before the page's
//! settings are applied (verified with the policy set before the first load: no difference).

use tauri::{Runtime, WebviewWindow};

/// Applies the desk's web view settings to `window`.
pub fn tune<R: Runtime>(window: &WebviewWindow<R>) -> tauri::Result<()> {
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
