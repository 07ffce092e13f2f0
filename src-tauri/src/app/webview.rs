//! The web view's engine settings, chosen by measurement (`desk_bench`; figures in
//! docs/desktop-memory.md). An agent keeps the desk open all day beside other tools, on
//! modest office PCs: memory matters more than the last millisecond of animation.

use tauri::{Runtime, WebviewWindow};

/// Set to `1`, the web view keeps WebKit's own defaults: for a machine where software
/// rendering is slow, and to measure what the settings below save.
pub const KEEP_DEFAULTS_ENV: &str = "KEFU_DESK_WEBKIT_DEFAULTS";

fn keep_defaults() -> bool {
    std::env::var_os(KEEP_DEFAULTS_ENV).is_some_and(|v| v == "1")
}

/// Applies the settings to the main window's web view (WebKitGTK; on Windows and macOS
/// the system web views manage their own memory).
pub fn tune<R: Runtime>(window: &WebviewWindow<R>) {
    if keep_defaults() {
        tracing::info!("web view on WebKit's default settings ({KEEP_DEFAULTS_ENV}=1)");
        return;
    }
    #[cfg(target_os = "linux")]
    if let Err(e) = window.with_webview(|webview| linux::tune(&webview.inner())) {
        tracing::warn!(error = %e, "tuning the web view");
    }
    #[cfg(not(target_os = "linux"))]
    let _ = window;
}

#[cfg(target_os = "linux")]
mod linux {
    use webkit2gtk::{
        CacheModel, HardwareAccelerationPolicy, SettingsExt, WebContextExt, WebView, WebViewExt,
    };

    pub fn tune(webview: &WebView) {
        if let Some(settings) = WebViewExt::settings(webview) {
            // Composited rendering keeps GPU-style layer backing stores in the web process
            // (under llvmpipe when there is no GPU, as on most office PCs' remote sessions):
            // the largest share of its memory. The desk's UI is text and lists; software
            // rendering paints it well within a frame.
            settings.set_hardware_acceleration_policy(HardwareAccelerationPolicy::Never);
            // One page that never navigates: no back-forward cache.
            settings.set_enable_page_cache(false);
        }
        if let Some(context) = webview.context() {
            // The app's own assets load once, from memory: no resource cache to keep.
            context.set_cache_model(CacheModel::DocumentViewer);
        }
    }
}
