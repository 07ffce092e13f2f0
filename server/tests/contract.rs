//! What clients may rely on and may not do (issue 18, items 10–15): `kefu config check`
//! prints no secret; shoppers see only shopper-facing conversation fields; cards come from
//! agents, bots and Kefu only, with capped fields and http(s) links; `/metrics` can be moved
//! or protected and `/chat` framed only by the site's origins; a resend into a closed
//! conversation changes nothing; a reconnect's replay comes before live traffic.

mod common;

use std::process::Command;

use common::*;
use kefu_proto::v1::{self as pb, client_envelope::Kind as In, server_envelope::Kind as Out};
use kefu_server::{config::REDACTED, store::Role};
use serde_json::{Value, json};

// --- item 10: config check -------------------------------------------------------------

#[test]
fn config_check_prints_every_secret_redacted() {
    let dir = tempfile::tempdir().unwrap();
    let secrets = [
        "site-identity-secret-4f1e",
        "backoffice-bearer-token-77aa",
        "webhook-signing-secret-0123456789abcdef0123",
        "metrics-scrape-token-9c9c",
    ];
    let file = dir.path().join("kefu.toml");
    std::fs::write(
        &file,
        format!(
            r#"
[server]
data_dir = "{data}"

[metrics]
token = "{metrics}"

[[sites]]
id = "shop"
name = "Shop"
allowed_origins = ["https://shop.example"]
identity_secret = "{site}"
default_group = "pre-sales"

[integrations.backoffice]
base_url = "http://127.0.0.1:9/api"
auth = {{ type = "bearer", token = "{backoffice}" }}

[[webhooks]]
name = "crm"
url = "http://127.0.0.1:9/hook"
secret = "{webhook}"
events = []
"#,
            data = dir.path().display(),
            site = secrets[0],
            backoffice = secrets[1],
            webhook = secrets[2],
            metrics = secrets[3],
        ),
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_kefu"))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .arg(format!("-config={}", file.display()))
        .args(["config", "check"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "config check passes: {stderr}");
    for secret in secrets {
        assert!(
            !stdout.contains(secret) && !stderr.contains(secret),
            "`{secret}` must not be printed:\n{stdout}\n{stderr}"
        );
    }
    let printed: Value = serde_json::from_str(&stdout).expect("the settings print as JSON");
    assert_eq!(printed["sites"][0]["identity_secret"], REDACTED);
    assert_eq!(printed["webhooks"][0]["secret"], REDACTED);
    assert_eq!(
        printed["integrations"]["backoffice"]["auth"]["token"],
        REDACTED
    );
    assert_eq!(printed["metrics"]["token"], REDACTED);
    assert_eq!(
        printed["sites"][0]["allowed_origins"][0], "https://shop.example",
        "everything else is printed as loaded"
    );
}

// --- item 11: the shopper's view of its conversation ----------------------------------

#[tokio::test]
async fn a_shopper_sees_no_tags_priority_or_routing_of_its_conversation() {
    let srv = TestServer::start().await;
    let admin = srv.agent("admin", Role::Admin, &["pre-sales"], 5).await;
    let alice = srv.agent("alice", Role::Agent, &["pre-sales"], 5).await;
    let mut alice_ws = srv.agent_ws(&alice).await;
    let (mut shopper, v, conv) = shopper_opens(&srv, "this is a complaint").await;
    assert_eq!(alice_ws.accept_next_offer().await, conv);
    // Tag and prioritise it the way the keyword plugin and a bot do.
    let (_, bot) = srv
        .post("/api/v1/bots", &admin.token, json!({"name": "triage"}))
        .await;
    let bot_token = bot["token"].as_str().unwrap();
    let (status, _) = srv
        .post(
            &format!("/api/v1/bot/conversations/{conv}/tags"),
            bot_token,
            json!({"tags": ["escalated", "keyword:complaint"]}),
        )
        .await;
    assert_eq!(status, 200);
    let (status, _) = srv
        .post(
            &format!("/api/v1/bot/conversations/{conv}/handoff"),
            bot_token,
            json!({"priority": "urgent"}),
        )
        .await;
    assert_eq!(status, 200);

    let path = format!("/api/v1/conversations/{conv}");
    let (status, desk) = srv.get(&path, &alice.token).await;
    assert_eq!(status, 200);
    assert!(
        desk["tags"].to_string().contains("keyword:complaint") && desk["priority"] == "urgent",
        "the desk still sees tags and priority: {desk}"
    );
    let (status, own) = srv.get(&path, &v.token).await;
    assert_eq!(status, 200, "{own}");
    assert_eq!(own["id"], conv.as_str());
    assert_eq!(own["state"], "assigned");
    for internal in ["tags", "priority", "group", "agent_id"] {
        assert!(
            own.get(internal).is_none(),
            "the shopper's view has no `{internal}`: {own}"
        );
    }
    assert!(
        !own.to_string().contains("escalated") && !own.to_string().contains("keyword:"),
        "no internal tag leaks anywhere: {own}"
    );
    let res = srv
        .http
        .post(srv.url("/api/v1/visitor/conversation"))
        .bearer_auth(&v.token)
        .header("origin", ORIGIN)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let opened: Value = res.json().await.unwrap();
    assert_eq!(opened["id"], conv.as_str(), "its open conversation");
    assert!(
        opened.get("tags").is_none() && opened.get("priority").is_none(),
        "opening answers the shopper's view too: {opened}"
    );

    // Over the socket: a transfer tells the shopper that it waits again, not who had it,
    // which group it goes to, nor the note.
    alice_ws
        .send(In::Transfer(pb::TransferConversation {
            conversation_id: conv.clone(),
            to_agent_id: String::new(),
            to_group: "after-sales".into(),
            note: "angry about invoice".into(),
        }))
        .await;
    let t = shopper
        .recv_event(|e| match &e.kind {
            Some(pb::conversation_event::Kind::Transferred(t)) => Some(t.clone()),
            _ => None,
        })
        .await;
    assert_eq!(
        t,
        pb::Transferred::default(),
        "the shopper's transfer event carries no agent, group or note"
    );
}

// --- item 12: cards ---------------------------------------------------------------------

fn product_card(title: &str, url: &str) -> pb::MessageBody {
    pb::MessageBody {
        kind: Some(pb::message_body::Kind::ProductCard(pb::ProductCard {
            product_id: "p-1".into(),
            title: title.into(),
            price_minor: 100,
            currency: "CNY".into(),
            image_url: String::new(),
            url: url.into(),
        })),
    }
}

fn order_card(status: &str, tracking_url: &str) -> pb::MessageBody {
    pb::MessageBody {
        kind: Some(pb::message_body::Kind::OrderCard(pb::OrderCard {
            order_id: "SO-1".into(),
            status: status.into(),
            total_minor: 100,
            currency: "CNY".into(),
            placed_at_ms: 0,
            item_count: 1,
            tracking_url: tracking_url.into(),
        })),
    }
}

fn send_body(conv: &str, id: &str, body: pb::MessageBody) -> In {
    In::Send(pb::SendMessage {
        conversation_id: conv.into(),
        client_msg_id: id.into(),
        body: Some(body),
        group: String::new(),
        context: None,
    })
}

/// Sends and returns the error frame answering `id` (panics on an ack).
async fn refused(ws: &mut Ws, conv: &str, id: &str, body: pb::MessageBody) -> pb::Error {
    ws.send(send_body(conv, id, body)).await;
    let id = id.to_string();
    ws.recv_until(|k| match k {
        Out::Error(e) if e.client_msg_id == id => Some(e.clone()),
        Out::Ack(a) if a.client_msg_id == id => panic!("{id} should be refused, got {a:?}"),
        _ => None,
    })
    .await
}

#[tokio::test]
async fn cards_come_from_agents_and_bots_only_with_capped_fields_and_web_links() {
    let srv = TestServer::start().await;
    let admin = srv.agent("admin", Role::Admin, &["pre-sales"], 5).await;
    let alice = srv.agent("alice", Role::Agent, &["pre-sales"], 5).await;
    let mut alice_ws = srv.agent_ws(&alice).await;
    let (mut shopper, _v, conv) = shopper_opens(&srv, "hello").await;
    assert_eq!(alice_ws.accept_next_offer().await, conv);

    let e = refused(
        &mut shopper,
        &conv,
        "s-product",
        product_card("Your refund is approved", "https://shop.test/p"),
    )
    .await;
    assert_eq!(e.code, pb::ErrorCode::Forbidden as i32, "{e:?}");
    let e = refused(
        &mut shopper,
        &conv,
        "s-order",
        order_card("refunded", "javascript:alert(1)"),
    )
    .await;
    assert_eq!(
        e.code,
        pb::ErrorCode::Forbidden as i32,
        "a shopper's order card is refused whatever it says: {e:?}"
    );
    shopper.say(&conv, "s-text", "still fine").await;

    let e = refused(
        &mut alice_ws,
        &conv,
        "a-js",
        product_card("Kettle", "javascript:alert(document.cookie)"),
    )
    .await;
    assert_eq!(e.code, pb::ErrorCode::InvalidArgument as i32, "{e:?}");
    assert!(e.message.contains("url"), "names the field: {e:?}");
    let e = refused(
        &mut alice_ws,
        &conv,
        "a-long",
        product_card(&"k".repeat(10_000), "https://shop.test/p"),
    )
    .await;
    assert_eq!(
        e.code,
        pb::ErrorCode::TooLarge as i32,
        "card text is capped like message text: {e:?}"
    );
    let e = refused(
        &mut alice_ws,
        &conv,
        "a-status",
        order_card(&"x".repeat(1000), ""),
    )
    .await;
    assert_eq!(e.code, pb::ErrorCode::TooLarge as i32, "{e:?}");
    alice_ws
        .send(send_body(
            &conv,
            "a-ok",
            product_card("Kettle", "https://shop.test/p/kettle"),
        ))
        .await;
    alice_ws
        .recv_until(|k| match k {
            Out::Ack(a) if a.client_msg_id == "a-ok" => Some(()),
            Out::Error(e) if e.client_msg_id == "a-ok" => panic!("a valid card is taken: {e:?}"),
            _ => None,
        })
        .await;
    let card = shopper
        .recv_message(|m| {
            matches!(
                m.body.as_ref().and_then(|b| b.kind.as_ref()),
                Some(pb::message_body::Kind::ProductCard(_))
            )
        })
        .await;
    assert_eq!(
        card.sender.unwrap().role,
        pb::Role::Agent as i32,
        "the one card the shopper sees is the agent's"
    );

    let (_, bot) = srv
        .post("/api/v1/bots", &admin.token, json!({"name": "cards"}))
        .await;
    let (status, body) = srv
        .post(
            &format!("/api/v1/bot/conversations/{conv}/messages"),
            bot["token"].as_str().unwrap(),
            json!({"client_msg_id": "b-js", "body": {"type": "product_card", "product_id": "p",
                   "title": "t", "price_minor": 1, "currency": "CNY", "image_url": "",
                   "url": "javascript:alert(1)"}}),
        )
        .await;
    assert_eq!(status, 400, "bots' cards are checked too: {body}");
    assert_eq!(body["code"], "invalid_argument");

    let (_, page) = srv
        .get(
            &format!("/api/v1/conversations/{conv}/messages?limit=50"),
            &alice.token,
        )
        .await;
    let cards: Vec<&Value> = page["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| {
            m["body"]["type"]
                .as_str()
                .unwrap_or_default()
                .ends_with("_card")
        })
        .collect();
    assert_eq!(cards.len(), 1, "only the valid card was stored: {page}");
}

// --- item 13: /metrics and /chat framing --------------------------------------------------

#[tokio::test]
async fn metrics_can_require_a_token() {
    let token = "scrape-token-0123456789";
    let srv = TestServer::start_with(|s| s.metrics.token = token.into()).await;
    let res = srv.http.get(srv.url("/metrics")).send().await.unwrap();
    assert_eq!(res.status(), 401, "no token, no metrics");
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["code"], "unauthenticated");
    let res = srv
        .http
        .get(srv.url("/metrics"))
        .bearer_auth("scrape-token-wrong-guess")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401, "a wrong token is refused");
    let res = srv
        .http
        .get(srv.url("/metrics"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.text().await.unwrap().contains("kefu_"));
}

#[tokio::test]
async fn metrics_can_move_to_an_address_of_their_own() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let metrics_addr = format!("127.0.0.1:{port}");
    let listen = metrics_addr.clone();
    let srv = TestServer::start_with(move |s| s.metrics.listen = listen).await;
    srv.visitor().await; // the server is up
    let res = srv.http.get(srv.url("/metrics")).send().await.unwrap();
    assert_eq!(
        res.status(),
        404,
        "the public port no longer serves metrics"
    );
    let text = eventually("metrics on their own address", || async {
        let res = reqwest::get(format!("http://{metrics_addr}/metrics"))
            .await
            .ok()?;
        (res.status() == 200).then_some(res.text().await.ok()?)
    })
    .await;
    assert!(text.contains("kefu_"), "{text}");
    let res = reqwest::get(format!("http://{metrics_addr}/api/v1/me"))
        .await
        .unwrap();
    assert_eq!(res.status(), 404, "and nothing else is served there");
}

#[tokio::test]
async fn only_the_sites_origins_may_frame_the_chat_page() {
    let srv = TestServer::start_with(|s| {
        let mut closed = s.sites[0].clone();
        closed.id = "kiosk".into();
        closed.allowed_origins.clear();
        s.sites.push(closed);
    })
    .await;
    let res = reqwest::get(srv.url(&format!("/chat?site={SITE}")))
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let csp = res.headers()["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains(&format!("frame-ancestors {ORIGIN}")),
        "the shop's own pages may frame its chat: {csp}"
    );
    assert!(
        !res.headers().contains_key("x-frame-options"),
        "X-Frame-Options cannot list origins, so it is not sent here"
    );
    let res = reqwest::get(srv.url("/chat?site=kiosk")).await.unwrap();
    let csp = res.headers()["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert_eq!(res.headers()["x-frame-options"], "DENY");
    let res = reqwest::get(srv.url("/chat?site=nope")).await.unwrap();
    assert_eq!(res.status(), 404);
    assert_eq!(res.headers()["x-frame-options"], "DENY");
}

// --- item 14: resends into a closed conversation --------------------------------------------

async fn resend_into_closed_changes_nothing(reopen_window_secs: u64) {
    let srv = TestServer::start_with(|s| s.routing.reopen_window_secs = reopen_window_secs).await;
    let sup = srv.agent("sup", Role::Supervisor, &["pre-sales"], 5).await;
    let alice = srv.agent("alice", Role::Agent, &["pre-sales"], 5).await;
    let mut alice_ws = srv.agent_ws(&alice).await;
    let v = srv.visitor().await;
    let mut shopper = srv.shopper_ws(&v).await;
    let first = shopper.say("", "k-1", "hello").await;
    let conv = first.conversation_id.clone();
    assert_eq!(alice_ws.accept_next_offer().await, conv);
    let reply = alice_ws.say(&conv, "a-1", "hi, how can I help?").await;
    alice_ws
        .send(In::Close(pb::CloseConversation {
            conversation_id: conv.clone(),
        }))
        .await;
    shopper
        .recv_event(|e| {
            matches!(e.kind, Some(pb::conversation_event::Kind::Closed(_))).then_some(())
        })
        .await;
    // The close's own activity entry is the last thing alice hears of it.
    alice_ws
        .recv_message(|m| {
            matches!(
                m.body.as_ref().and_then(|b| b.kind.as_ref()),
                Some(pb::message_body::Kind::System(s)) if s.kind == "closed"
            )
        })
        .await;

    // The shopper's outbox resends, with and without the conversation id.
    for conv_field in [conv.as_str(), ""] {
        let again = shopper.say(conv_field, "k-1", "hello").await;
        assert_eq!(again, first, "a resend gets the same ack");
    }
    let again = alice_ws.say(&conv, "a-1", "hi, how can I help?").await;
    assert_eq!(
        again, reply,
        "the agent's resend too, though the chat closed since"
    );

    let (status, c) = srv
        .get(&format!("/api/v1/conversations/{conv}"), &sup.token)
        .await;
    assert_eq!(status, 200);
    assert_eq!(c["state"], "closed", "the resend did not reopen it: {c}");
    let (status, queue) = srv
        .get("/api/v1/conversations?view=queue", &sup.token)
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        queue.as_array().unwrap().len(),
        0,
        "nothing new waits in a queue: {queue}"
    );
    let (_, open) = srv.get("/api/v1/conversations?view=open", &sup.token).await;
    assert_eq!(open.as_array().unwrap().len(), 0, "nothing is open: {open}");
    let seen = alice_ws.frames_until_heartbeat(14).await;
    assert!(
        !seen
            .iter()
            .any(|f| matches!(f, Out::Event(_) | Out::Message(_))),
        "nothing was offered, reopened or posted: {seen:?}"
    );
    let (_, page) = srv
        .get(
            &format!("/api/v1/conversations/{conv}/messages?limit=50"),
            &sup.token,
        )
        .await;
    let texts: Vec<&str> = page["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["body"]["text"].as_str())
        .filter(|t| *t == "hello")
        .collect();
    assert_eq!(texts.len(), 1, "stored once: {page}");

    // A new message (a new key) still reopens or opens as before.
    let new = shopper.say("", "k-2", "one more thing").await;
    if reopen_window_secs > 0 {
        assert_eq!(new.conversation_id, conv, "within the window it reopens");
    } else {
        assert_ne!(new.conversation_id, conv, "without a window it opens anew");
    }
}

#[tokio::test]
async fn a_resend_into_a_closed_conversation_does_not_reopen_it() {
    resend_into_closed_changes_nothing(1800).await;
}

#[tokio::test]
async fn a_resend_into_a_closed_conversation_opens_nothing_without_a_reopen_window() {
    resend_into_closed_changes_nothing(0).await;
}

// --- item 15: replay before live traffic ------------------------------------------------------

/// Connects alice's socket asking, in the upgrade, to resume `conv` after `last_seq`.
async fn reconnect_resuming(srv: &TestServer, token: &str, conv: &str, last_seq: u64) -> Ws {
    let url = format!(
        "ws://{}/ws/agent?token={token}&resume={conv}:{last_seq}",
        srv.addr
    );
    let (ws, _) = tokio_tungstenite::connect_async(url)
        .await
        .expect("agent socket with resume points");
    let mut ws = Ws {
        ws,
        hello: pb::Hello::default(),
    };
    ws.hello = ws
        .recv_until(|k| match k {
            Out::Hello(h) => Some(h.clone()),
            _ => None,
        })
        .await;
    ws
}

#[tokio::test]
async fn a_reconnect_gets_its_replay_before_live_messages_in_seq_order() {
    let srv = TestServer::start().await;
    let alice = srv.agent("alice", Role::Agent, &["pre-sales"], 5).await;
    let mut alice_ws = srv.agent_ws(&alice).await;
    let (mut shopper, _v, conv) = shopper_opens(&srv, "hello").await;
    assert_eq!(alice_ws.accept_next_offer().await, conv);
    // What the desk has cached: nothing yet (the first message came before she took it).
    let mut last_seen = 0;
    // Each round: alice drops off, the shopper writes on, and alice comes back while the
    // shopper is still writing, so live messages race the replay of those she missed.
    for round in 0..12 {
        drop(alice_ws);
        for i in 0..5 {
            shopper
                .say(&conv, &format!("missed-{round}-{i}"), "while away")
                .await;
        }
        let flood = {
            let mut shopper = shopper;
            let conv = conv.clone();
            tokio::spawn(async move {
                let mut last = 0;
                for i in 0..60 {
                    last = shopper
                        .say(&conv, &format!("live-{round}-{i}"), "live")
                        .await
                        .seq;
                }
                (shopper, last)
            })
        };
        alice_ws = reconnect_resuming(&srv, &alice.token, &conv, last_seen).await;
        let (back, last) = flood.await.unwrap();
        shopper = back;
        let mut seqs = Vec::new();
        while seqs.last() != Some(&last) {
            if let Out::Message(m) = alice_ws.next().await.expect("socket open")
                && m.conversation_id == conv
            {
                seqs.push(m.seq);
            }
        }
        let expected: Vec<u64> = (last_seen + 1..=last).collect();
        assert_eq!(
            seqs, expected,
            "round {round}: every message once, in seq order, the replay before live ones"
        );
        last_seen = last;
    }
}
