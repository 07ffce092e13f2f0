//! End to end, the supervisor's live floor in the real window: the built `kefu-desk` binary
//! under Xvfb, driven over WebDriver (`tauri-driver` + `WebKitWebDriver`), against a real
//! `kefu --demo` process (auto-accept on), with scripted shoppers and agents on real sockets.
//!
//! The demo admin signs in (a supervisor's rights), steps away so no chat is routed to
//! them, and opens the floor. Three shoppers write while no agent is online: the queue
//! shows three waiting. Ann comes online and the server gives her all three: the queue
//! empties and her load shows 3. Bob comes online; from the floor the supervisor reassigns
//! one chat to him and whispers to him — a private note the server stores and the shopper
//! never receives. Nobody answers within the 2 s first-response target, so every chat is
//! highlighted as past it. Then today's report counts the three chats, and a search in
//! Chinese finds Mei's and opens it in the desk. Screenshots go to
//! `test-output/screenshots/3x-*.png` (light, and the floor dark). Needs the desktop session
//! of `scripts/desktop-session.sh`, like `e2e.rs`.

mod common;
mod window;

use common::{Kefu, Shopper, Staff, eventually, server_messages};
use kefu_proto::v1::{
    self as pb, client_envelope::Kind as In, message_body::Kind as Body,
    server_envelope::Kind as Out,
};
use serde_json::json;
use window::{
    AppEnv, click, connect, find, js, screenshot, session_bus, sign_in, tauri_driver, text,
    type_into, wait_attr,
};

const PASSWORD: &str = "a-long-password";
const WHISPER: &str = "She ordered twice: offer to merge the parcels";

fn queue(group: &str) -> String {
    format!("[data-testid=floor-queue][data-group='{group}']")
}

fn agent_row(id: &str) -> String {
    format!("[data-testid=floor-agent][data-id='{id}']")
}

fn conversation_row(id: &str) -> String {
    format!("[data-testid=floor-conversation][data-id='{id}']")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_supervisor_watches_the_floor_move_then_reassigns_and_whispers_from_it() {
    session_bus();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let kefu = Kefu::start_with(
        &dir.join("server"),
        "127.0.0.1:0",
        &[
            ("KEFU_ROUTING__AUTO_ACCEPT", "true"),
            // A first answer is due 2 s after opening: the floor soon shows breaches.
            ("KEFU_SERVICE_LEVELS__FIRST_RESPONSE", "2s"),
            ("KEFU_SERVICE_LEVELS__SWEEP_INTERVAL", "1s"),
        ],
    );
    let ann = kefu.add_agent("ann", "Ann", PASSWORD).await;
    let bob = kefu.add_agent("bob", "Bob", PASSWORD).await;
    let admin = kefu.admin_token().await;

    let driver = tauri_driver(&AppEnv::under(dir));
    let c = connect(&driver).await;
    sign_in(&c, &kefu.url()).await;
    // The demo admin answers pre-sales too: away, so the floor's chats go to the agents.
    click(&c, "[data-testid=status-toggle]").await;
    wait_attr(&c, "[data-testid=status-toggle]", "data-status", "away").await;

    click(&c, "[data-testid=section-floor]").await;
    find(&c, "[data-testid=floor-view]").await;
    wait_attr(&c, &queue("pre-sales"), "data-waiting", "0").await;
    wait_attr(&c, &agent_row(&ann), "data-status", "offline").await;
    screenshot(&c, "30-floor-quiet").await;

    // Three shoppers write while no agent is online: the queue grows on screen.
    let mut shoppers = Vec::new();
    for (name, text) in [
        ("Lin", "Is the blue kettle 220 V?"),
        ("Mei", "我的订单什么时候发货？"),
        ("Tom", "Can I change my delivery address?"),
    ] {
        let mut shopper = Shopper::open(&kefu, name).await;
        shopper.say(text).await;
        shoppers.push(shopper);
    }
    wait_attr(&c, &queue("pre-sales"), "data-waiting", "3").await;
    for s in &shoppers {
        wait_attr(
            &c,
            &conversation_row(&s.conversation_id),
            "data-state",
            "queued",
        )
        .await;
    }
    screenshot(&c, "31-floor-queue").await;

    // Nobody answered within the target: each chat is past its first response, highlighted.
    for s in &shoppers {
        wait_attr(
            &c,
            &conversation_row(&s.conversation_id),
            "data-breach",
            "first_response",
        )
        .await;
        find(
            &c,
            &format!(
                "[data-testid=floor-breach][data-id='{}'][data-target=first_response]",
                s.conversation_id
            ),
        )
        .await;
    }
    screenshot(&c, "31b-floor-breaches").await;

    // Ann comes online: the server gives her all three, and the floor follows.
    let ann_token = kefu.login("ann", PASSWORD).await;
    let _ann_socket = Staff::connect(&kefu, &ann_token).await;
    wait_attr(&c, &queue("pre-sales"), "data-waiting", "0").await;
    wait_attr(&c, &agent_row(&ann), "data-active", "3").await;
    wait_attr(&c, &agent_row(&ann), "data-status", "online").await;
    let first = shoppers[0].conversation_id.clone();
    wait_attr(&c, &conversation_row(&first), "data-agent", &ann).await;
    screenshot(&c, "32-floor-assigned").await;

    // Bob comes online; the supervisor moves Lin's chat to him from the floor.
    let bob_token = kefu.login("bob", PASSWORD).await;
    let _bob_socket = Staff::connect(&kefu, &bob_token).await;
    wait_attr(&c, &agent_row(&bob), "data-status", "online").await;
    click(
        &c,
        &format!("{} [data-testid=floor-reassign]", conversation_row(&first)),
    )
    .await;
    find(&c, "[data-testid=reassign-dialog]").await;
    let chose = js(
        &c,
        "const s = document.querySelector('[data-testid=reassign-target]'); \
         s.value = arguments[0]; s.dispatchEvent(new Event('change', { bubbles: true })); \
         return s.value;",
        vec![json!(bob)],
    )
    .await;
    assert_eq!(chose, json!(bob), "Bob is offered as a target");
    type_into(&c, "[data-testid=reassign-note]", "Bob knows kettles").await;
    screenshot(&c, "33-floor-reassign-dialog").await;
    click(&c, "[data-testid=reassign-submit]").await;
    wait_attr(&c, &conversation_row(&first), "data-agent", &bob).await;
    wait_attr(&c, &agent_row(&ann), "data-active", "2").await;
    wait_attr(&c, &agent_row(&bob), "data-active", "1").await;
    let on_server = kefu
        .get(&format!("/api/v1/conversations/{first}"), &admin)
        .await;
    assert_eq!(on_server["agent_id"], json!(bob), "{on_server}");

    // A whisper to Bob from the floor: stored as a private note, never sent to the shopper.
    click(
        &c,
        &format!("{} [data-testid=floor-whisper]", conversation_row(&first)),
    )
    .await;
    type_into(&c, "[data-testid=whisper-text]", WHISPER).await;
    screenshot(&c, "34-floor-whisper-dialog").await;
    click(&c, "[data-testid=whisper-submit]").await;
    find(&c, "[data-testid=floor-notice]").await;
    let history = server_messages(&kefu, &admin, &first).await;
    assert!(
        history
            .iter()
            .any(|m| m["body"]["type"] == "private_note" && m["body"]["text"] == WHISPER),
        "the whisper is in the agents' history: {history:?}"
    );
    // Everything the shopper's socket carries up to the ack of their next message (which
    // comes after the whisper was stored) holds no private note.
    let lin = &mut shoppers[0];
    let id = uuid::Uuid::new_v4().to_string();
    lin.send(In::Send(pb::SendMessage {
        conversation_id: first.clone(),
        client_msg_id: id.clone(),
        body: Some(pb::MessageBody {
            kind: Some(Body::Text(pb::Text {
                text: "Any news?".into(),
            })),
        }),
        group: String::new(),
        context: None,
    }))
    .await;
    lin.recv_until(|f| match f {
        Out::Message(m) => {
            assert!(
                !matches!(
                    m.body.as_ref().and_then(|b| b.kind.as_ref()),
                    Some(Body::PrivateNote(_))
                ),
                "a private note reached the shopper's socket: {m:?}"
            );
            None
        }
        Out::Ack(a) if a.client_msg_id == id => Some(()),
        _ => None,
    })
    .await;
    let shopper_history = server_messages(&kefu, &lin.token, &first).await;
    assert!(
        !shopper_history
            .iter()
            .any(|m| m.to_string().contains(WHISPER)),
        "the shopper's history never holds the whisper: {shopper_history:?}"
    );
    screenshot(&c, "35-floor-after-actions").await;

    // The same floor in the dark theme.
    js(
        &c,
        "document.documentElement.dataset.theme = 'dark';",
        vec![],
    )
    .await;
    screenshot(&c, "36-floor-dark").await;
    js(
        &c,
        "document.documentElement.dataset.theme = 'light';",
        vec![],
    )
    .await;

    // Today's report counts the three chats.
    click(&c, "[data-testid=section-reports]").await;
    eventually("the report to count three chats opened", async || {
        text(&c, "[data-testid=figure-opened-value]")
            .await
            .as_deref()
            == Some("3")
    })
    .await;
    screenshot(&c, "37-reports").await;

    // Search finds Mei's chat by its Chinese words; the result opens it in the desk.
    let mei = shoppers[1].conversation_id.clone();
    click(&c, "[data-testid=section-search]").await;
    type_into(&c, "[data-testid=search-q]", "订单").await;
    click(&c, "[data-testid=search-submit]").await;
    let hit = format!("[data-testid=search-result][data-id='{mei}']");
    find(&c, &hit).await;
    screenshot(&c, "38-search").await;
    click(&c, &format!("{hit} button")).await;
    wait_attr(&c, "[data-testid=chat-pane]", "data-id", &mei).await;
    c.close().await.unwrap();
}
