//! Where the desk keeps things on each OS, as an IT admin needs to know (backups, roaming
//! profiles, clean-ups): the folders Tauri resolves for the app's identifier, and the
//! keyring that holds the token. Each OS checks its own branch when the suite runs there
//! (CI runs Linux; `.github/workflows/desktop.yml` builds Windows and macOS).

use std::path::Path;

use tauri::{
    Manager,
    test::{mock_builder, mock_context, noop_assets},
};

/// An app with the desk's identifier (tauri.conf.json), on Tauri's mock runtime.
fn desk() -> tauri::App<tauri::test::MockRuntime> {
    let conf: serde_json::Value = serde_json::from_str(include_str!("../tauri.conf.json")).unwrap();
    let mut context = mock_context(noop_assets());
    context.config_mut().identifier = conf["identifier"].as_str().unwrap().into();
    mock_builder().build(context).unwrap()
}

fn ends_with(path: &Path, tail: &[&str]) -> bool {
    let parts: Vec<_> = path.components().rev().take(tail.len()).collect();
    parts
        .iter()
        .rev()
        .zip(tail)
        .all(|(c, t)| c.as_os_str() == *t)
        && parts.len() == tail.len()
}

#[test]
fn data_config_and_logs_live_in_the_oses_own_folders_for_the_app() {
    let app = desk();
    let paths = app.path();
    let data = paths.app_data_dir().unwrap();
    let config = paths.app_config_dir().unwrap();
    let logs = paths.app_log_dir().unwrap();
    assert_eq!(data.file_name().unwrap(), "app.kefu.desk", "{data:?}");
    assert_eq!(config.file_name().unwrap(), "app.kefu.desk", "{config:?}");

    #[cfg(target_os = "linux")]
    {
        // XDG: $XDG_DATA_HOME (~/.local/share) and $XDG_CONFIG_HOME (~/.config); logs beside
        // the data.
        let data_home = std::env::var_os("XDG_DATA_HOME")
            .map(std::path::PathBuf::from)
            .unwrap_or_else(|| Path::new(&std::env::var_os("HOME").unwrap()).join(".local/share"));
        assert_eq!(data, data_home.join("app.kefu.desk"));
        let config_home = std::env::var_os("XDG_CONFIG_HOME")
            .map(std::path::PathBuf::from)
            .unwrap_or_else(|| Path::new(&std::env::var_os("HOME").unwrap()).join(".config"));
        assert_eq!(config, config_home.join("app.kefu.desk"));
        assert!(ends_with(&logs, &["app.kefu.desk", "logs"]), "{logs:?}");
    }
    #[cfg(target_os = "macos")]
    {
        assert!(
            ends_with(&data, &["Library", "Application Support", "app.kefu.desk"]),
            "{data:?}"
        );
        assert!(
            ends_with(&logs, &["Library", "Logs", "app.kefu.desk"]),
            "{logs:?}"
        );
    }
    #[cfg(target_os = "windows")]
    {
        // Roaming profile for data and config; logs stay on the machine.
        assert!(ends_with(&data, &["Roaming", "app.kefu.desk"]), "{data:?}");
        assert!(
            ends_with(&logs, &["Local", "app.kefu.desk", "logs"]),
            "{logs:?}"
        );
    }
}

#[test]
fn the_token_goes_to_the_oses_keyring() {
    // Opening the store reaches the OS service only on first use; its id names the backend.
    let secrets = kefu_desk::secrets::Secrets::platform();
    #[cfg(target_os = "linux")]
    {
        // The Secret Service needs a session bus; without one (a plain terminal) the error
        // must say so rather than fall back to a file.
        match secrets {
            Ok(s) => assert!(format!("{s:?}").to_lowercase().contains("secret"), "{s:?}"),
            Err(e) => assert!(format!("{e:#}").to_lowercase().contains("bus"), "{e:#}"),
        }
    }
    #[cfg(target_os = "windows")]
    assert!(
        format!("{:?}", secrets.unwrap())
            .to_lowercase()
            .contains("windows")
    );
    #[cfg(target_os = "macos")]
    assert!(
        format!("{:?}", secrets.unwrap())
            .to_lowercase()
            .contains("keychain")
    );
}
