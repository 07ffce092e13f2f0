//! The agent's token in a keyring: save, load, replace and delete, against keyring-core's
//! in-memory store and against the real Secret Service of the desktop session (run through
//! `scripts/desktop-session.sh`, which starts an unlocked gnome-keyring).

mod common;

use std::process::Command;

use common::require_desktop_session;
use kefu_desk::secrets::Secrets;

const SERVER: &str = "http://127.0.0.1:8080";

/// What every store must do with `username`'s token (the username must be unused).
fn round_trip(secrets: &Secrets, username: &str) {
    assert_eq!(
        secrets.load(SERVER, username).unwrap(),
        None,
        "nothing stored yet"
    );
    secrets.save(SERVER, username, "token-1 ✓").unwrap();
    assert_eq!(
        secrets.load(SERVER, username).unwrap().as_deref(),
        Some("token-1 ✓")
    );
    secrets.save(SERVER, username, "token-2").unwrap();
    assert_eq!(
        secrets.load(SERVER, username).unwrap().as_deref(),
        Some("token-2"),
        "a new sign-in replaces the token"
    );
    assert_eq!(
        secrets.load("http://127.0.0.1:9090", username).unwrap(),
        None,
        "tokens are kept per server"
    );
    secrets.delete(SERVER, username).unwrap();
    assert_eq!(secrets.load(SERVER, username).unwrap(), None, "deleted");
    secrets
        .delete(SERVER, username)
        .expect("deleting what is not there is fine");
}

#[test]
fn tokens_round_trip_in_the_in_memory_store() {
    let secrets = Secrets::with_store(keyring_core::sample::Store::new().unwrap());
    round_trip(&secrets, "ann");
}

/// `secret-tool search` output for the items of service `kefu-desk`.
fn secret_tool_items() -> String {
    let out = Command::new("secret-tool")
        .args(["search", "--all", "service", "kefu-desk"])
        .output()
        .expect("secret-tool (libsecret-tools) is installed");
    // It prints the attributes on stdout or stderr depending on the version.
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn tokens_round_trip_in_the_secret_service() {
    require_desktop_session();
    let secrets = Secrets::platform().expect("the Secret Service answers");
    let username = format!("kefu-test-{}", uuid::Uuid::new_v4());
    round_trip(&secrets, &username);

    // Saved where other keyring tools see it, under the service name, and gone once deleted.
    let account = format!("{username}@{SERVER}");
    secrets.save(SERVER, &username, "visible").unwrap();
    let items = secret_tool_items();
    assert!(
        items.contains(&format!("attribute.username = {account}")),
        "secret-tool sees the entry: {items}"
    );
    secrets.delete(SERVER, &username).unwrap();
    let items = secret_tool_items();
    assert!(
        !items.contains(&account),
        "the entry is gone after delete: {items}"
    );
}
