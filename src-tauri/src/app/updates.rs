//! Updates of the app from the `kefu` server the agent is signed in to (Tauri's updater
//! plugin): the server answers `/api/v1/desk/update/{target}/{arch}/{current_version}` from
//! the builds its admin dropped in `[desk_updates] dir` (docs/desktop-updates.md), and every
//! bundle must carry a signature made with the retailer's private key that verifies against
//! the public key this build was made with (`plugins.updater.pubkey`). A bundle that does
//! not verify is refused and nothing is installed.

use tauri::{AppHandle, Runtime};
use tauri_plugin_updater::{Update, UpdaterExt};

use crate::model::{AvailableUpdate, DeskError, DeskErrorCode};

/// What the window shows of an update.
pub fn available(u: &Update) -> AvailableUpdate {
    AvailableUpdate {
        version: u.version.clone(),
        notes: u.body.clone().filter(|n| !n.trim().is_empty()),
    }
}

/// The updater's endpoint on the server at `server_url`; the plugin fills in the variables.
pub fn endpoint(server_url: &str) -> Result<tauri::Url, DeskError> {
    let base = server_url.trim_end_matches('/');
    // `bundle_type` (deb, rpm, appimage, msi, nsis, app): the server offers the bundle for
    // how this desk was installed; the plugin installs no other kind.
    format!(
        "{base}/api/v1/desk/update/{{{{target}}}}/{{{{arch}}}}/{{{{current_version}}}}?bundle_type={{{{bundle_type}}}}"
    )
        .parse()
        .map_err(|e| DeskError::new(DeskErrorCode::Invalid, format!("server address: {e}")))
}

/// Whether this build can verify updates: it was built with the retailer's public key.
pub fn enabled<R: Runtime>(app: &AppHandle<R>) -> bool {
    app.config()
        .plugins
        .0
        .get("updater")
        .and_then(|c| c.get("pubkey"))
        .and_then(|k| k.as_str())
        .is_some_and(|k| !k.trim().is_empty())
}

/// Asks the server for a newer build (`None`: this one is current, or updates are off).
pub async fn check<R: Runtime>(
    app: &AppHandle<R>,
    server_url: &str,
    token: &str,
) -> Result<Option<Update>, DeskError> {
    if !enabled(app) {
        return Ok(None);
    }
    let updater = app
        .updater_builder()
        .endpoints(vec![endpoint(server_url)?])
        .and_then(|b| b.header("Authorization", format!("Bearer {token}")))
        .and_then(|b| b.build())
        .map_err(refused)?;
    updater.check().await.map_err(refused)
}

/// Downloads the update and checks its signature: the bytes, only if it verifies. The
/// agent's token goes only to the kefu server it belongs to, not to a bundle hosted
/// elsewhere.
pub async fn download(update: &mut Update, server_url: &str) -> Result<Vec<u8>, DeskError> {
    let server = tauri::Url::parse(server_url).map(|u| u.origin());
    if server.ok() != Some(update.download_url.origin()) {
        update.headers.remove("authorization");
    }
    update.download(|_, _| {}, || {}).await.map_err(refused)
}

/// The updater's error as the agent reads it; a signature that does not verify says so.
fn refused(e: tauri_plugin_updater::Error) -> DeskError {
    use tauri_plugin_updater::Error as E;
    match e {
        E::Minisign(_) | E::Base64(_) | E::SignatureUtf8(_) => DeskError::new(
            DeskErrorCode::Invalid,
            format!(
                "the update's signature does not verify against this build's key ({e}); \
                 it was not installed: tell your IT admin"
            ),
        ),
        E::Reqwest(_) | E::Network(_) => DeskError::new(
            DeskErrorCode::Unreachable,
            format!("checking for updates: {e}"),
        ),
        // The plugin keeps the status to itself: a refused token, or a server without
        // `[desk_updates]` (404), ends here.
        E::ReleaseNotFound => DeskError::new(
            DeskErrorCode::Unreachable,
            "the server gave no update information (signed out, or updates are not set up there)",
        ),
        other => DeskError::new(DeskErrorCode::Internal, format!("updating: {other}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_endpoint_keeps_the_updaters_variables_for_it_to_fill() {
        let url = endpoint("https://kefu.shop.example/").unwrap();
        assert_eq!(
            url.as_str(),
            "https://kefu.shop.example/api/v1/desk/update/%7B%7Btarget%7D%7D/%7B%7Barch%7D%7D/%7B%7Bcurrent_version%7D%7D?bundle_type={{bundle_type}}"
        );
    }
}
