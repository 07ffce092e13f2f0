//! End to end, the real app: the built `kefu-desk` binary in a real window (Xvfb), driven
//! over WebDriver (`tauri-driver` + `WebKitWebDriver`), against a real `kefu` process and
//! the demo back office. A scripted shopper opens a chat; the agent sees it in the queue,
//! an OS notification is raised (seen on the session bus) and clicking it opens the chat;
//! the agent accepts, replies and sees the shopper's orders; the server is stopped, the
//! agent writes, the server comes
//! back, and the message arrives exactly once. Screenshots go to `test-output/screenshots/`.
//!
//! Needs the desktop session of `scripts/desktop-session.sh` (display, D-Bus, keyring,
//! notification server) and the UI built into `ui/dist` before the app was compiled;
//! `scripts/test.sh` provides both.

mod common;

use std::{
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::Duration,
};

use common::{Kefu, Shopper, WAIT, eventually, server_texts};
use fantoccini::{Client, ClientBuilder, Locator, elements::Element};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

/// A child process killed when dropped.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn session_bus() {
    assert!(
        std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some()
            && std::env::var_os("DISPLAY").is_some(),
        "the end-to-end test needs a display and a session bus: run it through scripts/desktop-session.sh"
    );
}

/// Starts tauri-driver on a free port with the app's folders under `home`.
fn tauri_driver(home: &Path) -> (Proc, u16) {
    let port = free_port();
    let native = free_port();
    let bin = which("tauri-driver");
    let child = Command::new(bin)
        .args([
            "--port",
            &port.to_string(),
            "--native-port",
            &native.to_string(),
        ])
        .env("XDG_DATA_HOME", home.join("data"))
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("XDG_CACHE_HOME", home.join("cache"))
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("tauri-driver runs (cargo install tauri-driver --locked)");
    (Proc(child), port)
}

fn which(bin: &str) -> PathBuf {
    let cargo_bin = std::env::var_os("HOME")
        .map(|h| PathBuf::from(h).join(".cargo/bin").join(bin))
        .filter(|p| p.exists());
    cargo_bin.unwrap_or_else(|| PathBuf::from(bin))
}

async fn connect(port: u16) -> Client {
    let app = common::target_dir().join("kefu-desk");
    assert!(
        app.exists(),
        "build the app first: cargo build -p kefu-desk"
    );
    let mut caps = serde_json::Map::new();
    caps.insert("browserName".into(), json!("wry"));
    caps.insert(
        "tauri:options".into(),
        json!({ "application": app.to_string_lossy() }),
    );
    let url = format!("http://127.0.0.1:{port}");
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        match ClientBuilder::rustls()
            .unwrap()
            .capabilities(caps.clone())
            .connect(&url)
            .await
        {
            Ok(c) => return c,
            Err(e) if tokio::time::Instant::now() < deadline => {
                let _ = e;
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(e) => panic!("connecting to tauri-driver: {e}"),
        }
    }
}

async fn find(c: &Client, css: &str) -> Element {
    c.wait()
        .at_most(WAIT)
        .for_element(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("waiting for {css}: {e}"))
}

async fn click(c: &Client, css: &str) {
    find(c, css).await.click().await.unwrap();
}

/// Types into the field matched by `css`, waiting while it is on the page but not yet
/// focusable (the window is still laying out, or a view is fading in).
async fn type_into(c: &Client, css: &str, text: &str) {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        match find(c, css).await.send_keys(text).await {
            Ok(()) => return,
            Err(e) if tokio::time::Instant::now() < deadline && not_interactable(&e) => {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => panic!("typing into {css}: {e}"),
        }
    }
}

fn not_interactable(e: &fantoccini::error::CmdError) -> bool {
    matches!(e, fantoccini::error::CmdError::Standard(w)
        if w.error == fantoccini::error::ErrorStatus::ElementNotInteractable)
}

async fn attr(e: &Element, name: &str) -> String {
    e.attr(name).await.unwrap().unwrap_or_default()
}

/// Waits until the element matched by `css` has `name` = `value`.
async fn wait_attr(c: &Client, css: &str, name: &str, value: &str) {
    eventually(&format!("{css} {name}={value}"), async || {
        match c.find(Locator::Css(css)).await {
            Ok(e) => attr(&e, name).await == value,
            Err(_) => false,
        }
    })
    .await;
}

async fn screenshot(c: &Client, name: &str) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../test-output/screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    let png = c.screenshot().await.unwrap();
    std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
}

/// Watches `Notify` calls on the session bus.
fn notification_monitor(log: &Path) -> Proc {
    let out = std::fs::File::create(log).unwrap();
    Proc(
        Command::new("dbus-monitor")
            .args([
                "--session",
                "type='method_call',interface='org.freedesktop.Notifications',member='Notify'",
            ])
            .stdout(out)
            .stderr(Stdio::null())
            .spawn()
            .expect("dbus-monitor runs"),
    )
}

/// A shopper on the demo site signed in as a back-office customer (the demo shop signs the
/// id with the demo site's identity secret, as a retailer's backend would).
async fn identified_shopper(kefu: &Kefu, name: &str, customer_id: &str) -> Shopper {
    let signature =
        kefu_demo_backoffice::shop::identity_signature("demo-identity-secret", customer_id);
    let v: Value = reqwest::Client::new()
        .post(format!("{}/api/v1/visitor/session", kefu.url()))
        .json(&json!({"site_id": "demo", "name": name, "customer_id": customer_id, "signature": signature}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = v["visitor_token"].as_str().unwrap().to_string();
    reconnect(kefu, token, String::new()).await
}

async fn reconnect(kefu: &Kefu, token: String, conversation_id: String) -> Shopper {
    let mut req = format!("ws://{}/ws/shopper", kefu.addr)
        .into_client_request()
        .unwrap();
    req.headers_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    let (ws, _) = tokio_tungstenite::connect_async(req).await.unwrap();
    Shopper {
        ws,
        token,
        conversation_id,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_handles_a_chat_end_to_end_through_a_server_outage() {
    session_bus();
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path();

    // The retailer's back office, and the server using it.
    let data = kefu_demo_backoffice::dataset(kefu_demo_backoffice::DEFAULT_SEED);
    let customer = data.customer("C10001").unwrap().clone();
    let order_ids: Vec<String> = data
        .orders_of("C10001")
        .unwrap()
        .iter()
        .map(|o| o.id.clone())
        .collect();
    let backoffice = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let backoffice_url = format!("http://{}", backoffice.local_addr().unwrap());
    tokio::spawn(kefu_demo_backoffice::serve(
        backoffice,
        kefu_demo_backoffice::DEFAULT_SEED,
    ));
    let server_dir = home.join("server");
    let backoffice_env = [(
        "KEFU_INTEGRATIONS__BACKOFFICE__BASE_URL",
        backoffice_url.as_str(),
    )];
    let kefu = Kefu::start_with(&server_dir, "127.0.0.1:0", &backoffice_env);

    let notifications = home.join("notify.log");
    let _monitor = notification_monitor(&notifications);
    let (_driver, port) = tauri_driver(home);
    let c = connect(port).await;

    // Sign in.
    find(&c, "[data-testid=signin-server]")
        .await
        .clear()
        .await
        .unwrap();
    type_into(&c, "[data-testid=signin-server]", &kefu.url()).await;
    type_into(&c, "[data-testid=signin-username]", "demo").await;
    type_into(&c, "[data-testid=signin-password]", "kefu-demo").await;
    screenshot(&c, "01-sign-in").await;
    click(&c, "[data-testid=signin-submit]").await;
    wait_attr(&c, "[data-testid=connection-state]", "data-state", "online").await;

    // A shopper opens a chat; the agent sees it in the queue and is notified.
    let mut shopper = identified_shopper(&kefu, &customer.name, &customer.id).await;
    shopper.say("你好, where is my order?").await;
    let conv = shopper.conversation_id.clone();
    click(&c, "[data-testid=view-queue]").await;
    let item = format!("[data-testid=conversation-item][data-id='{conv}']");
    find(&c, &item).await;
    screenshot(&c, "02-queue").await;
    eventually("a Notify call naming the shopper", async || {
        std::fs::read_to_string(&notifications)
            .unwrap_or_default()
            .contains(&customer.name)
    })
    .await;

    // Clicking the notification brings that conversation up.
    click(&c, "[data-testid=view-mine]").await;
    if let Ok(pane) = c.find(Locator::Css("[data-testid=chat-pane]")).await {
        assert_ne!(attr(&pane, "data-id").await, conv, "nothing opened it yet");
    }
    eventually(
        "dunst invokes the notification's default action",
        async || {
            Command::new("dunstctl")
                .args(["action", "0"])
                .status()
                .is_ok_and(|s| s.success())
        },
    )
    .await;
    wait_attr(&c, "[data-testid=chat-pane]", "data-id", &conv).await;

    // Accept, reply, see the orders.
    click(&c, &format!("{item} [data-testid=accept]")).await;
    wait_attr(&c, "[data-testid=chat-pane]", "data-id", &conv).await;
    type_into(&c, "[data-testid=composer]", "Let me check that for you.").await;
    click(&c, "[data-testid=send]").await;
    assert_eq!(
        common::text_of(&shopper.hears("Let me check that for you.").await),
        Some("Let me check that for you.")
    );
    screenshot(&c, "03-chat-and-customer").await;
    let order = find(&c, "[data-testid=order]").await;
    let shown = attr(&order, "data-id").await;
    assert!(
        order_ids.contains(&shown),
        "{shown} is not one of {order_ids:?}"
    );

    // The server goes away; the agent keeps writing.
    let stopped = kefu.kill();
    wait_attr(
        &c,
        "[data-testid=connection-state]",
        "data-state",
        "offline",
    )
    .await;
    type_into(&c, "[data-testid=composer]", "Found it: it ships today.").await;
    click(&c, "[data-testid=send]").await;
    find(&c, "[data-testid=message][data-delivery=pending]").await;
    screenshot(&c, "04-offline-pending").await;

    // It comes back: the message goes out once.
    let kefu = stopped.start();
    wait_attr(&c, "[data-testid=connection-state]", "data-state", "online").await;
    eventually("no pending message left", async || {
        c.find_all(Locator::Css("[data-testid=message][data-delivery=pending]"))
            .await
            .unwrap()
            .is_empty()
    })
    .await;
    let admin = kefu.admin_token().await;
    let texts = server_texts(&kefu, &admin, &conv).await;
    assert_eq!(
        texts
            .iter()
            .filter(|t| *t == "Found it: it ships today.")
            .count(),
        1,
        "{texts:?}"
    );
    assert_eq!(
        texts.last().map(String::as_str),
        Some("Found it: it ships today.")
    );
    let mut shopper = reconnect(&kefu, shopper.token.clone(), conv.clone()).await;
    shopper.say("Thanks!").await;
    c.wait()
        .at_most(WAIT)
        .for_element(Locator::XPath(
            "//*[@data-testid='message'][contains(., 'Thanks!')]",
        ))
        .await
        .expect("the shopper's next message shows");
    screenshot(&c, "05-back-online").await;
    c.close().await.unwrap();
}
