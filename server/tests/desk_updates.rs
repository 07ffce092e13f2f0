//! Desktop updates (`[desk_updates]`): kefu answers Tauri's updater from the `latest.json`
//! the retailer's IT drops into a folder, and serves the bundles it names, to signed-in
//! agents only, without revealing anything else in the folder.

mod common;

use std::path::Path;

use common::*;
use kefu_server::{config::Settings, store::Role};
use serde_json::{Value, json};

const BUNDLE: &str = "Kefu_0.2.0_amd64.AppImage";
const SIGNATURE: &str = "dW50cnVzdGVkIGNvbW1lbnQ6IHNpZ25hdHVyZSBmcm9tIHRhdXJpIHNlY3JldCBrZXkK";
const NOT_CONFIGURED: &str = "desktop updates are not configured: set [desk_updates] dir";

/// The check path for a desk on `platform` (`linux/x86_64`) running `version`.
fn check(platform: &str, version: &str) -> String {
    format!("/api/v1/desk/update/{platform}/{version}")
}

/// A release 0.2.0 for Linux and Windows, as the admin's guide has it written.
fn latest() -> Value {
    json!({
        "version": "0.2.0",
        "notes": "Faster search; order cards show returns.",
        "pub_date": "2026-05-01T09:30:00+08:00",
        "platforms": {
            "linux-x86_64": {"signature": SIGNATURE, "url": BUNDLE},
            "windows-x86_64": {"signature": SIGNATURE, "url": "https://cdn.shop.example/desk/Kefu_0.2.0_x64-setup.exe"},
        }
    })
}

/// Bytes no two chunks of the response share, larger than one read (64 KiB), so a chunk
/// lost, repeated or reordered shows.
fn bundle_bytes() -> Vec<u8> {
    let mut x: u32 = 0x2545_f491;
    (0..300_000)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}

fn publish(dir: &Path, latest: &str) {
    std::fs::write(dir.join("latest.json"), latest).unwrap();
}

/// A kefu serving `dir` as its desk-updates folder, and a signed-in agent.
async fn serve(dir: &Path) -> (TestServer, TestAgent) {
    let dir = dir.to_path_buf();
    let srv = TestServer::start_with(|s| s.desk_updates.dir = dir).await;
    let agent = srv.agent("ann", Role::Agent, &["pre-sales"], 5).await;
    (srv, agent)
}

async fn get(srv: &TestServer, path_or_url: &str, token: Option<&str>) -> reqwest::Response {
    let url = if path_or_url.starts_with("http") {
        path_or_url.to_string()
    } else {
        srv.url(path_or_url)
    };
    let mut req = srv.http.get(url);
    if let Some(token) = token {
        req = req.bearer_auth(token);
    }
    req.send().await.unwrap()
}

#[tokio::test]
async fn an_older_desk_is_offered_the_build_and_downloads_it_byte_for_byte() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = bundle_bytes();
    std::fs::write(dir.path().join(BUNDLE), &bytes).unwrap();
    publish(dir.path(), &latest().to_string());
    let (srv, ann) = serve(dir.path()).await;

    let res = get(&srv, &check("linux/x86_64", "0.1.0"), Some(&ann.token)).await;
    assert_eq!(res.status(), 200, "0.2.0 is newer than 0.1.0");
    let offer: Value = res.json().await.unwrap();
    assert_eq!(offer["version"], "0.2.0", "{offer}");
    assert_eq!(
        offer["signature"], SIGNATURE,
        "the .sig contents, unchanged"
    );
    assert_eq!(offer["notes"], latest()["notes"]);
    assert_eq!(offer["pub_date"], latest()["pub_date"]);
    let url = offer["url"].as_str().unwrap();
    assert!(
        url.ends_with(&format!("/api/v1/desk/update/files/{BUNDLE}")),
        "{url}"
    );
    assert_eq!(
        url,
        srv.url(&format!("/api/v1/desk/update/files/{BUNDLE}")),
        "absolute, on the address the desk reached kefu at (Tauri needs a full URL)"
    );

    let res = get(&srv, url, None).await;
    assert_eq!(res.status(), 401, "the bundle needs the agent's token too");
    let res = get(&srv, url, Some(&ann.token)).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "application/octet-stream");
    assert_eq!(
        res.headers()["content-length"],
        bytes.len().to_string().as_str(),
        "the updater shows progress from Content-Length"
    );
    let got = res.bytes().await.unwrap();
    assert!(
        got.as_ref() == bytes.as_slice(),
        "byte-identical: {} bytes served of {}",
        got.len(),
        bytes.len()
    );

    let metrics = srv.metrics().await;
    assert!(
        metrics.contains("kefu_desk_update_checks_total{result=\"offered\"}"),
        "the check is counted"
    );
}

#[tokio::test]
async fn current_and_newer_desks_and_unlisted_platforms_hear_of_nothing() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(BUNDLE), b"bundle").unwrap();
    let (srv, ann) = serve(dir.path()).await;

    let res = get(&srv, &check("linux/x86_64", "0.1.0"), Some(&ann.token)).await;
    assert_eq!(
        res.status(),
        204,
        "no latest.json yet: nothing is published, so nothing to install"
    );

    publish(dir.path(), &latest().to_string());
    for (platform, version, why) in [
        (
            "linux/x86_64",
            "0.2.0",
            "the desk runs the published version",
        ),
        (
            "linux/x86_64",
            "v0.2.0",
            "Tauri's `v` prefix is the same version",
        ),
        (
            "linux/x86_64",
            "0.3.0",
            "the desk is newer than what is published",
        ),
        (
            "linux/x86_64",
            "0.2.1-beta.1",
            "a pre-release of a later version is newer",
        ),
        ("darwin/aarch64", "0.1.0", "no build for macOS is published"),
        ("linux/aarch64", "0.1.0", "no build for this processor"),
    ] {
        let res = get(&srv, &check(platform, version), Some(&ann.token)).await;
        assert_eq!(res.status(), 204, "{platform} {version}: {why}");
        assert!(res.bytes().await.unwrap().is_empty(), "204 has no body");
    }
    let res = get(&srv, &check("linux/x86_64", "0.2.0-rc.1"), Some(&ann.token)).await;
    assert_eq!(
        res.status(),
        200,
        "0.2.0 is newer than its release candidate"
    );
    assert!(
        srv.metrics()
            .await
            .contains("kefu_desk_update_checks_total{result=\"none\"}"),
        "checks with nothing to offer are counted"
    );
}

/// Kefu's Linux desks are installed from .deb or .rpm, and Tauri's updater (2.10 and later)
/// installs an update only in the form the desk was installed from; its endpoint says which
/// with `?bundle_type={{bundle_type}}`.
#[tokio::test]
async fn a_desk_is_offered_the_build_for_how_it_was_installed() {
    let dir = tempfile::tempdir().unwrap();
    for name in [
        BUNDLE,
        "kefu-desk_0.2.0_amd64.deb",
        "kefu-desk-0.2.0-1.x86_64.rpm",
    ] {
        std::fs::write(dir.path().join(name), name).unwrap();
    }
    let mut release = latest();
    release["platforms"]["linux-x86_64-deb"] =
        json!({"signature": "deb signature", "url": "kefu-desk_0.2.0_amd64.deb"});
    release["platforms"]["linux-x86_64-rpm"] =
        json!({"signature": "rpm signature", "url": "kefu-desk-0.2.0-1.x86_64.rpm"});
    publish(dir.path(), &release.to_string());
    let (srv, ann) = serve(dir.path()).await;
    for (query, file, signature) in [
        (
            "?bundle_type=deb",
            "kefu-desk_0.2.0_amd64.deb",
            "deb signature",
        ),
        (
            "?bundle_type=rpm",
            "kefu-desk-0.2.0-1.x86_64.rpm",
            "rpm signature",
        ),
        ("?bundle_type=appimage", BUNDLE, SIGNATURE),
        ("", BUNDLE, SIGNATURE),
    ] {
        let path = check("linux/x86_64", "0.1.0") + query;
        let res = get(&srv, &path, Some(&ann.token)).await;
        assert_eq!(res.status(), 200, "{path}");
        let offer: Value = res.json().await.unwrap();
        assert!(
            offer["url"]
                .as_str()
                .unwrap()
                .ends_with(&format!("/files/{file}")),
            "{path}: the {file} build, else the platform's: {offer}"
        );
        assert_eq!(offer["signature"], signature, "{path}");
    }
}

#[tokio::test]
async fn both_endpoints_are_for_signed_in_agents_only() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(BUNDLE), b"bundle").unwrap();
    publish(dir.path(), &latest().to_string());
    let (srv, ann) = serve(dir.path()).await;
    let shopper = srv.visitor().await;
    let file = format!("/api/v1/desk/update/files/{BUNDLE}");
    for path in [check("linux/x86_64", "0.1.0"), file.clone()] {
        let res = get(&srv, &path, None).await;
        assert_eq!(res.status(), 401, "{path}: no token");
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["code"], "unauthenticated", "{body}");
        let res = get(&srv, &path, Some("kfa_not-a-real-token")).await;
        assert_eq!(res.status(), 401, "{path}: an unknown token");
        let res = get(&srv, &path, Some(&shopper.token)).await;
        assert_eq!(res.status(), 403, "{path}: a shopper's token");
    }
    let res = get(&srv, &file, Some(&ann.token)).await;
    assert_eq!(res.status(), 200, "and an agent of any role may");
}

#[tokio::test]
async fn a_current_version_that_is_not_semver_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    publish(dir.path(), &latest().to_string());
    let (srv, ann) = serve(dir.path()).await;
    for version in ["0.1", "latest", "01.2.3", "1.2.3.4"] {
        let res = get(&srv, &check("linux/x86_64", version), Some(&ann.token)).await;
        assert_eq!(res.status(), 400, "{version}");
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["code"], "invalid_argument");
        let message = body["message"].as_str().unwrap();
        assert!(
            message.contains("current_version") && message.contains(version),
            "says which value is wrong: {message}"
        );
    }
}

#[tokio::test]
async fn only_the_bundles_latest_json_names_are_served() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(BUNDLE), b"bundle").unwrap();
    std::fs::write(dir.path().join(".hidden"), b"hidden").unwrap();
    std::fs::write(dir.path().join(format!("{BUNDLE}.sig")), SIGNATURE).unwrap();
    std::fs::write(dir.path().join("kefu-desk.key"), b"private key").unwrap();
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("secret.txt"), b"outside the folder").unwrap();
    std::os::unix::fs::symlink(
        outside.path().join("secret.txt"),
        dir.path().join("escape.AppImage"),
    )
    .unwrap();
    std::os::unix::fs::symlink(dir.path().join(BUNDLE), dir.path().join("current.AppImage"))
        .unwrap();
    let mut release = latest();
    release["platforms"]["linux-aarch64"] =
        json!({"signature": SIGNATURE, "url": "escape.AppImage"});
    release["platforms"]["linux-i686"] = json!({"signature": SIGNATURE, "url": "current.AppImage"});
    release["platforms"]["linux-armv7"] = json!({"signature": SIGNATURE, "url": "gone.AppImage"});
    publish(dir.path(), &release.to_string());
    let (srv, ann) = serve(dir.path()).await;

    let files = "/api/v1/desk/update/files";
    for (name, why) in [
        ("..%2Flatest.json", "a path out of the folder"),
        ("%2E%2E%2F%2E%2E%2Fetc%2Fpasswd", "a path out of the folder"),
        ("%2Fetc%2Fpasswd", "an absolute path"),
        ("..%5Clatest.json", "a Windows separator"),
        (".hidden", "a hidden file"),
        (
            "latest.json",
            "the manifest is read by the check endpoint only",
        ),
        (
            "kefu-desk.key",
            "a file latest.json does not name (a key copied by mistake)",
        ),
        (
            "Kefu_0.2.0_amd64.AppImage.sig",
            "a file latest.json does not name",
        ),
        ("escape.AppImage", "named, but a link out of the folder"),
        ("gone.AppImage", "named, but missing"),
        ("nothing.AppImage", "neither named nor there"),
    ] {
        let res = get(&srv, &format!("{files}/{name}"), Some(&ann.token)).await;
        assert_eq!(res.status(), 404, "{name}: {why}");
        let body: Value = res.json().await.unwrap();
        assert_eq!(
            body["message"], "no such desktop update file",
            "{name}: one answer for every refusal, so the folder cannot be probed"
        );
    }
    let res = get(&srv, &format!("{files}/current.AppImage"), Some(&ann.token)).await;
    assert_eq!(
        res.status(),
        200,
        "a link to a bundle inside the folder is fine"
    );
    assert_eq!(res.bytes().await.unwrap().as_ref(), b"bundle");

    // A desk is never offered a bundle it could not download.
    for platform in ["linux/aarch64", "linux/armv7"] {
        let res = get(&srv, &check(platform, "0.1.0"), Some(&ann.token)).await;
        assert_eq!(res.status(), 503, "{platform}");
        let body: Value = res.json().await.unwrap();
        let message = body["message"].as_str().unwrap();
        assert!(
            message.starts_with("desk_updates/latest.json: ")
                && message.contains("is not a file in the desk_updates folder"),
            "{platform}: {message}"
        );
    }
}

#[tokio::test]
async fn without_a_folder_desktop_updates_are_off() {
    let srv = TestServer::start().await;
    let ann = srv.agent("ann", Role::Agent, &["pre-sales"], 5).await;
    for path in [
        check("linux/x86_64", "0.1.0"),
        format!("/api/v1/desk/update/files/{BUNDLE}"),
    ] {
        let res = get(&srv, &path, Some(&ann.token)).await;
        assert_eq!(res.status(), 404, "{path}");
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["code"], "not_found");
        assert_eq!(body["message"], NOT_CONFIGURED, "says what to set");
    }
}

#[tokio::test]
async fn a_malformed_latest_json_is_503_naming_it_and_a_fixed_one_is_read_without_restart() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(BUNDLE), b"bundle").unwrap();
    let (srv, ann) = serve(dir.path()).await;
    let unusable = async |latest: &str| {
        publish(dir.path(), latest);
        let res = get(&srv, &check("linux/x86_64", "0.1.0"), Some(&ann.token)).await;
        assert_eq!(res.status(), 503, "{latest}");
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["code"], "unavailable", "{body}");
        let message = body["message"].as_str().unwrap().to_string();
        assert!(
            message.starts_with("desk_updates/latest.json: "),
            "names the file: {message}"
        );
        message
    };

    let message = unusable(
        "{\n  \"version\": \"0.2.0\",\n  \"platforms\": {\n    \"linux-x86_64\": {\"url\": \"x\"}\n  }\n}",
    )
    .await;
    assert!(
        message.contains("missing field `signature`") && message.contains("line 4"),
        "says what and where: {message}"
    );
    let message = unusable("{\"version\": \"0.2.0\",, \"platforms\": {}}").await;
    assert!(message.contains("line 1 column"), "{message}");
    let message = unusable(&json!({"version": "two", "platforms": {}}).to_string()).await;
    assert!(
        message.contains("`version`") && message.contains("`two`"),
        "{message}"
    );
    let mut release = latest();
    release["platforms"]["linux-x86_64"]["url"] = json!("../Kefu.AppImage");
    let message = unusable(&release.to_string()).await;
    assert!(
        message.contains("platforms.linux-x86_64.url"),
        "names the key: {message}"
    );
    let res = get(
        &srv,
        &format!("/api/v1/desk/update/files/{BUNDLE}"),
        Some(&ann.token),
    )
    .await;
    assert_eq!(
        res.status(),
        503,
        "what may be downloaded is unknown while latest.json is unusable"
    );

    publish(dir.path(), &latest().to_string());
    let res = get(&srv, &check("linux/x86_64", "0.1.0"), Some(&ann.token)).await;
    assert_eq!(
        res.status(),
        200,
        "latest.json is read on each request: fixing it needs no restart"
    );
}

#[tokio::test]
async fn an_https_url_in_latest_json_is_passed_through() {
    let dir = tempfile::tempdir().unwrap();
    publish(dir.path(), &latest().to_string());
    let (srv, ann) = serve(dir.path()).await;
    let res = get(&srv, &check("windows/x86_64", "0.1.5"), Some(&ann.token)).await;
    assert_eq!(res.status(), 200);
    let offer: Value = res.json().await.unwrap();
    assert_eq!(
        offer["url"],
        latest()["platforms"]["windows-x86_64"]["url"],
        "a bundle hosted elsewhere is the retailer's URL, unchanged"
    );
    assert_eq!(offer["signature"], SIGNATURE);
}

#[test]
#[allow(clippy::result_large_err)] // figment's Jail closures return figment::Error
fn a_folder_that_is_not_there_stops_start_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("desk-updates");
    let toml = |path: &Path| format!("[desk_updates]\ndir = \"{}\"\n", path.display());
    figment::Jail::expect_with(|jail| {
        let e = Settings::load_str(&toml(&missing)).unwrap_err();
        assert_eq!(e.key, "desk_updates.dir", "{e}");
        let text = e.to_string();
        assert!(
            text.contains(&missing.display().to_string()) && text.contains("does not exist"),
            "names the folder and what is wrong with it: {text}"
        );

        let file = dir.path().join("latest.json");
        std::fs::write(&file, "{}").unwrap();
        let e = Settings::load_str(&toml(&file)).unwrap_err();
        assert_eq!(e.key, "desk_updates.dir");
        assert!(e.to_string().contains("is not a folder"), "{e}");

        let s = Settings::load_str("").map_err(|e| e.to_string())?;
        assert_eq!(s.desk_updates.dir(), None, "off unless a folder is set");

        jail.set_env("KEFU_DESK_UPDATES__DIR", missing.display().to_string());
        let e = Settings::load_str("").unwrap_err().to_string();
        assert!(
            e.contains("KEFU_DESK_UPDATES__DIR"),
            "names the variable: {e}"
        );
        std::fs::create_dir(&missing).unwrap();
        let s = Settings::load_str("").map_err(|e| e.to_string())?;
        assert_eq!(s.desk_updates.dir(), Some(missing.as_path()));
        Ok(())
    });
}
