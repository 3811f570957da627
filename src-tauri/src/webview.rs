//! Web view settings for a desk. The UI is one local page of forms and lists and needs no GPU
//! compositing. On Linux (WebKitGTK) accelerated compositing renders through OpenGL even
//! without a GPU (Mesa's software rasteriser), which costs the web content process ≈ 90 MB;
//! drawing without it looks the same for this UI. Other platforms keep their defaults.

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
