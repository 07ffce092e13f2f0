//! Updates from the retailer's own server: a real `kefu` serves the builds in its
//! `[desk_updates] dir`, and the desk's updater (Tauri's updater plugin, in an app on
//! Tauri's mock runtime) checks it with the agent's token, downloads the newer build and
//! verifies its signature against the build's public key. A key pair is made here as the
//! retailer makes one (minisign, the format `tauri signer` writes).

mod common;

use std::io::Cursor;

use base64::Engine as _;
use common::*;
use kefu_desk::{app::updates, model::DeskErrorCode};
use serde_json::json;
use tauri::test::{MockRuntime, mock_builder, mock_context, noop_assets};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// A retailer's signing key pair: the public key as tauri.conf.json takes it.
struct Signer {
    public: minisign::PublicKey,
    secret: minisign::SecretKey,
}

impl Signer {
    fn new() -> Self {
        let pair = minisign::KeyPair::generate_unencrypted_keypair().unwrap();
        Self {
            public: pair.pk,
            secret: pair.sk,
        }
    }

    /// `plugins.updater.pubkey`: the public key file, base64.
    fn pubkey(&self) -> String {
        B64.encode(self.public.to_box().unwrap().to_string())
    }

    /// The `.sig` the bundler writes beside a bundle, base64 (as latest.json carries it),
    /// with the version in the signed comment as the Tauri CLI records it.
    fn sign(&self, bytes: &[u8], file: &str, version: &str) -> String {
        let trusted = format!("timestamp:1765000000\tfile:{file}\tversion:{version}");
        let signature = minisign::sign(
            Some(&self.public),
            &self.secret,
            Cursor::new(bytes),
            Some(&trusted),
            Some("signature from tauri secret key"),
        )
        .unwrap();
        B64.encode(signature.to_string())
    }
}

/// A desk app (mock runtime) built with `pubkey`, as `tauri build` would with the
/// retailer's key in `plugins.updater`.
fn desk_app(pubkey: &str) -> tauri::App<MockRuntime> {
    let mut context = mock_context(noop_assets());
    context.config_mut().plugins.0.insert(
        "updater".into(),
        json!({
            "pubkey": pubkey,
            "endpoints": [],
            "dangerousInsecureTransportProtocol": true,
            "requireSignedVersion": true,
        }),
    );
    mock_builder()
        .plugin(tauri_plugin_updater::Builder::new().build())
        .build(context)
        .unwrap()
}

/// The platform key of this machine in latest.json (`linux-x86_64` here).
fn platform() -> String {
    format!("{}-{}", std::env::consts::OS, std::env::consts::ARCH)
}

/// A server whose updates folder offers `version` as `bundle`, signed by `signer`.
fn publish(dir: &std::path::Path, signer: &Signer, version: &str, bundle: &[u8]) {
    let file = format!("Kefu_{version}_amd64.AppImage");
    std::fs::write(dir.join(&file), bundle).unwrap();
    let latest = json!({
        "version": version,
        "notes": "Faster switching; saves attachments.",
        "pub_date": "2026-12-01T09:00:00Z",
        "platforms": { platform(): { "signature": signer.sign(bundle, &file, version), "url": file } },
    });
    std::fs::write(dir.join("latest.json"), latest.to_string()).unwrap();
}

/// A kefu offering the builds in `updates`, and a signed-in staff member's token.
async fn serve(data: &std::path::Path, updates: &std::path::Path) -> (Kefu, String) {
    let kefu = Kefu::start_with(
        data,
        "127.0.0.1:0",
        &[("KEFU_DESK_UPDATES__DIR", updates.to_str().unwrap())],
    );
    let token = kefu.admin_token().await;
    (kefu, token)
}

#[tokio::test]
async fn a_newer_signed_build_is_offered_downloaded_and_verified() {
    let data = tempfile::tempdir().unwrap();
    let updates_dir = tempfile::tempdir().unwrap();
    let signer = Signer::new();
    let bundle: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    publish(updates_dir.path(), &signer, "0.2.0", &bundle);
    let (kefu, token) = serve(data.path(), updates_dir.path()).await;
    let app = desk_app(&signer.pubkey());

    let mut update = updates::check(app.handle(), &kefu.url(), &token)
        .await
        .unwrap()
        .expect("0.2.0 is newer than this build's 0.1.0");
    assert_eq!(update.version, "0.2.0");
    let shown = updates::available(&update);
    assert_eq!(
        shown.notes.as_deref(),
        Some("Faster switching; saves attachments.")
    );
    let downloaded = updates::download(&mut update, &kefu.url()).await.unwrap();
    assert_eq!(downloaded, bundle, "the bytes the server holds, verified");

    // The same build again is no update.
    publish(updates_dir.path(), &signer, "0.1.0", &bundle);
    assert!(
        updates::check(app.handle(), &kefu.url(), &token)
            .await
            .unwrap()
            .is_none()
    );

    // Without the agent's token the server answers nothing.
    let refused = updates::check(app.handle(), &kefu.url(), "not-a-token")
        .await
        .err()
        .expect("refused without a valid token");
    assert_eq!(refused.code, DeskErrorCode::Unreachable, "{refused:?}");
}

#[tokio::test]
async fn a_tampered_or_foreign_signed_bundle_is_refused_and_reported() {
    let data = tempfile::tempdir().unwrap();
    let updates_dir = tempfile::tempdir().unwrap();
    let retailer = Signer::new();
    let bundle = b"the real 0.2.0 build".to_vec();
    publish(updates_dir.path(), &retailer, "0.2.0", &bundle);
    // Someone with write access to the folder swaps the bundle, keeping the signature.
    std::fs::write(
        updates_dir.path().join("Kefu_0.2.0_amd64.AppImage"),
        b"a build with a back door",
    )
    .unwrap();
    let (kefu, token) = serve(data.path(), updates_dir.path()).await;
    let app = desk_app(&retailer.pubkey());

    let mut update = updates::check(app.handle(), &kefu.url(), &token)
        .await
        .unwrap()
        .expect("offered");
    let refused = updates::download(&mut update, &kefu.url())
        .await
        .unwrap_err();
    assert_eq!(refused.code, DeskErrorCode::Invalid);
    assert!(
        refused.message.contains("signature does not verify"),
        "{}",
        refused.message
    );

    // A bundle signed with another key (not the retailer's) is refused the same way.
    let stranger = Signer::new();
    publish(updates_dir.path(), &stranger, "0.2.0", &bundle);
    let mut update = updates::check(app.handle(), &kefu.url(), &token)
        .await
        .unwrap()
        .expect("offered");
    let refused = updates::download(&mut update, &kefu.url())
        .await
        .unwrap_err();
    assert!(
        refused.message.contains("signature does not verify"),
        "{}",
        refused.message
    );

    // A build without the retailer's key in it checks for nothing.
    let keyless = desk_app("");
    assert!(!updates::enabled(keyless.handle()));
    assert!(
        updates::check(keyless.handle(), &kefu.url(), &token)
            .await
            .unwrap()
            .is_none()
    );
}
