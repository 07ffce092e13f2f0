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
mod window;

use std::{
    path::Path,
    process::{Command, Stdio},
};

use common::{Kefu, Shopper, WAIT, eventually, server_texts};
use fantoccini::Locator;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use window::{
    AppEnv, Proc, attr, click, connect, fill_sign_in, find, screenshot, session_bus,
    submit_sign_in, tauri_driver, type_into, wait_attr,
};

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
    let driver = tauri_driver(&AppEnv::under(home));
    let c = connect(&driver).await;

    // Sign in.
    fill_sign_in(&c, &kefu.url()).await;
    screenshot(&c, "01-sign-in").await;
    submit_sign_in(&c).await;

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
