//! What the shopper widget relies on: the embedded `widget.js` and `/chat` page, the site's
//! chat settings, CORS for shops' pages, opening a conversation with the page context, the
//! leave-a-message path, and the satisfaction rating after close.

mod common;

use common::*;
use kefu_proto::v1::{self as pb, client_envelope::Kind as In, server_envelope::Kind as Out};
use kefu_server::store::Role;
use serde_json::{Value, json};

const WIDGET_JS: &[u8] = include_bytes!("../../widget/dist/widget.js");

#[tokio::test]
async fn widget_js_is_served_cacheable_compressed_and_revalidated() {
    let srv = TestServer::start().await;
    let res = srv.http.get(srv.url("/widget.js")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let h = res.headers().clone();
    assert_eq!(h["content-type"], "text/javascript; charset=utf-8");
    assert_eq!(h["x-content-type-options"], "nosniff");
    let etag = h["etag"].to_str().unwrap().to_string();
    assert_eq!(
        res.bytes().await.unwrap().as_ref(),
        WIDGET_JS,
        "the binary serves the file built from widget/"
    );

    let again = srv
        .http
        .get(srv.url("/widget.js"))
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 304, "an unchanged widget is not sent again");

    let gz = srv
        .http
        .get(srv.url("/widget.js"))
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    if WIDGET_JS.len() > 1024 {
        assert_eq!(gz.headers()["content-encoding"], "gzip");
        assert!(gz.bytes().await.unwrap().len() < WIDGET_JS.len());
    }
}

#[tokio::test]
async fn the_chat_page_embeds_the_widget_for_a_known_site_only() {
    let srv = TestServer::start().await;
    let res = srv
        .http
        .get(srv.url(&format!(
            "/chat?site={SITE}&product=%22%3E%3Cscript%3Ealert(1)%3C/script%3E&lang=zh"
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let csp = res.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        csp.contains("script-src 'self'"),
        "only our own script runs: {csp}"
    );
    let html = res.text().await.unwrap();
    assert!(html.contains(r#"<script src="/widget.js" data-site="shop" data-mode="page""#));
    assert!(
        html.contains(r#"<html lang="zh-CN">"#),
        "language from ?lang"
    );
    assert!(
        html.contains(r#"data-product-id="&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;""#),
        "query text is escaped into the attribute: {html}"
    );
    assert!(!html.contains("<script>alert"), "no injected script");

    let unknown = srv
        .http
        .get(srv.url("/chat?site=nope"))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);
    assert!(unknown.text().await.unwrap().contains("site"));
}

#[tokio::test]
async fn config_tells_the_widget_whether_anyone_is_online() {
    let srv = TestServer::start().await;
    let config = |origin: &'static str| {
        let req = srv
            .http
            .get(srv.url(&format!("/api/v1/visitor/config?site_id={SITE}")))
            .header("origin", origin);
        async move {
            let res = req.send().await.unwrap();
            let status = res.status().as_u16();
            (status, res.json::<Value>().await.unwrap())
        }
    };
    let (status, c) = config(ORIGIN).await;
    assert_eq!(status, 200);
    assert_eq!(
        c["agents_online"], 0,
        "nobody signed in yet: leave a message"
    );
    assert_eq!(c["max_upload_bytes"], srv.settings.attachments.max_bytes);
    assert!(
        c["upload_types"]
            .as_array()
            .unwrap()
            .contains(&json!("image/png"))
    );
    assert_eq!(c["max_text_bytes"], srv.settings.limits.max_text_bytes);

    let ann = srv.agent("ann", Role::Agent, &["pre-sales"], 5).await;
    let _a = srv.agent_ws(&ann).await;
    eventually("the online agent is counted", || async {
        (config(ORIGIN).await.1["agents_online"] == 1).then_some(())
    })
    .await;

    let (status, err) = config("https://evil.test").await;
    assert_eq!(status, 403, "another shop's page is refused");
    assert_eq!(err["code"], "forbidden");
    let (status, _) = srv.get("/api/v1/visitor/config?site_id=nope", "").await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn cors_lets_listed_shop_pages_call_the_api_and_nobody_else() {
    let srv = TestServer::start().await;
    let preflight = |origin: &'static str| {
        srv.http
            .request(reqwest::Method::OPTIONS, srv.url("/api/v1/visitor/session"))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "content-type,authorization",
            )
            .send()
    };
    let ok = preflight(ORIGIN).await.unwrap();
    assert_eq!(ok.headers()["access-control-allow-origin"], ORIGIN);
    let allowed = ok.headers()["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .to_lowercase();
    assert!(allowed.contains("authorization") && allowed.contains("content-type"));
    let evil = preflight("https://evil.test").await.unwrap();
    assert!(
        evil.headers().get("access-control-allow-origin").is_none(),
        "unlisted origins get no CORS grant"
    );
}

#[tokio::test]
async fn the_chat_page_is_same_origin_and_may_open_a_socket() {
    let srv = TestServer::start().await;
    let v = srv.visitor().await;
    let own = format!("http://{}", srv.addr);
    let ws = Ws::connect(srv.addr, "shopper", &v.token, Some(&own)).await;
    assert_eq!(ws.hello.you.unwrap().id, v.id);
    let req = ws_request(srv.addr, "shopper", &v.token, Some("http://elsewhere.test"));
    let refused = tokio_tungstenite::connect_async(req).await;
    assert!(refused.is_err(), "a foreign page may not open the socket");
}

/// The conversation in the next offer to this agent.
async fn offered_conversation(agent: &mut Ws) -> pb::Conversation {
    agent
        .recv_event(|e| match &e.kind {
            Some(pb::conversation_event::Kind::Offered(o)) => o.conversation.clone(),
            _ => None,
        })
        .await
}

async fn open_conversation(srv: &TestServer, v: &TestVisitor, body: Value) -> Value {
    let res = srv
        .http
        .post(srv.url("/api/v1/visitor/conversation"))
        .bearer_auth(&v.token)
        .header("origin", ORIGIN)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "opening a conversation should work");
    res.json().await.unwrap()
}

#[tokio::test]
async fn a_conversation_opens_with_the_page_and_agents_see_where_the_shopper_is() {
    let srv = TestServer::start().await;
    // Away: the conversation waits in the queue rather than being offered at once.
    let ann = srv.agent("ann", Role::Agent, &["pre-sales"], 5).await;
    let mut a = srv.agent_ws(&ann).await;
    a.send(In::SetStatus(pb::SetStatus {
        status: pb::AgentStatus::Away as i32,
    }))
    .await;
    let v = srv.visitor().await;
    let page = json!({"url": "https://shop.test/p/42", "title": "Kettle", "product_id": "42"});
    eventually("ann is away", || async {
        let (_, cfg) = srv
            .get(&format!("/api/v1/visitor/config?site_id={SITE}"), "")
            .await;
        (cfg["agents_online"] == 0).then_some(())
    })
    .await;
    let c = open_conversation(&srv, &v, json!({"context": page})).await;
    assert_eq!(c["state"], "queued");
    assert_eq!(c["queue_position"], 1, "the only one waiting");
    assert_eq!(c["context"]["url"], "https://shop.test/p/42");
    assert_eq!(c["context"]["product_id"], "42");
    let again = open_conversation(&srv, &v, json!({})).await;
    assert_eq!(again["id"], c["id"], "the open conversation is reused");
    let conv = c["id"].as_str().unwrap().to_string();

    // The agent is offered it with the page, and sees it over REST.
    a.send(In::SetStatus(pb::SetStatus {
        status: pb::AgentStatus::Online as i32,
    }))
    .await;
    let offered = offered_conversation(&mut a).await;
    assert_eq!(offered.context.unwrap().title, "Kettle");

    // A later message from another page moves the context on; unsafe URLs are dropped.
    let mut s = srv.shopper_ws(&v).await;
    s.send(In::Send(pb::SendMessage {
        conversation_id: conv.clone(),
        client_msg_id: "m1".into(),
        body: Some(text_body("is it in stock?")),
        group: String::new(),
        context: Some(pb::PageContext {
            url: "javascript:alert(1)".into(),
            title: "Checkout".into(),
            product_id: String::new(),
            order_id: "A-1001".into(),
        }),
    }))
    .await;
    s.recv_until(|k| matches!(k, Out::Ack(_)).then_some(()))
        .await;
    let (status, seen) = srv
        .get(&format!("/api/v1/conversations/{conv}"), &ann.token)
        .await;
    assert_eq!(status, 200);
    assert_eq!(seen["context"]["title"], "Checkout");
    assert_eq!(seen["context"]["order_id"], "A-1001");
    assert_eq!(
        seen["context"]["url"],
        Value::Null,
        "javascript: is not a page"
    );
}

#[tokio::test]
async fn an_agent_online_is_offered_a_new_conversation_with_its_page_already() {
    let srv = TestServer::start().await;
    let ann = srv.agent("ann", Role::Agent, &["pre-sales"], 5).await;
    let mut a = srv.agent_ws(&ann).await;
    let v = srv.visitor().await;
    let mut s = srv.shopper_ws(&v).await;
    // The first text opens the conversation and carries the page.
    s.send(In::Send(pb::SendMessage {
        client_msg_id: "first".into(),
        body: Some(text_body("hello")),
        context: Some(pb::PageContext {
            url: "https://shop.test/p/7".into(),
            title: "Teapot".into(),
            product_id: "7".into(),
            order_id: String::new(),
        }),
        ..Default::default()
    }))
    .await;
    let offered = offered_conversation(&mut a).await;
    let page = offered.context.expect("the offer carries the page");
    assert_eq!(
        (page.title.as_str(), page.product_id.as_str()),
        ("Teapot", "7")
    );
}

#[tokio::test]
async fn a_message_left_while_nobody_is_online_waits_for_an_agent() {
    // Idle conversations close after a second here; a waiting one must not.
    let srv = TestServer::start_with(|s| s.routing.idle_close_secs = 1).await;
    let v = srv
        .visitor_with(json!({"site_id": SITE, "email": "li.wei@example.com"}))
        .await;
    let c = open_conversation(&srv, &v, json!({"left_message": true})).await;
    let conv = c["id"].as_str().unwrap().to_string();
    let mut s = srv.shopper_ws(&v).await;
    s.say(&conv, "left-1", "Do you ship to Hong Kong?").await;

    // Meanwhile an answered after-sales chat goes idle and closes: the sweeper has run.
    let ann = srv.agent("ann", Role::Agent, &["after-sales"], 5).await;
    let mut a = srv.agent_ws(&ann).await;
    let other = srv.visitor().await;
    let mut o = srv.shopper_ws(&other).await;
    o.send(In::Send(pb::SendMessage {
        client_msg_id: "o1".into(),
        body: Some(text_body("my parcel?")),
        group: "after-sales".into(),
        ..Default::default()
    }))
    .await;
    let answered = a.accept_next_offer().await;
    o.recv_event(|e| match &e.kind {
        Some(pb::conversation_event::Kind::Closed(_)) if e.conversation_id == answered => Some(()),
        _ => None,
    })
    .await;

    let (_, still) = srv
        .get(&format!("/api/v1/conversations/{conv}"), &v.token)
        .await;
    assert_eq!(still["state"], "queued", "the left message still waits");
    let (_, msgs) = srv
        .get(&format!("/api/v1/conversations/{conv}/messages"), &v.token)
        .await;
    let texts: Vec<&str> = msgs["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["body"]["text"].as_str())
        .collect();
    assert!(
        texts
            .iter()
            .any(|t| t.contains("no agent was online") && t.contains("li.wei@example.com")),
        "agents learn the message was left, and where to answer: {texts:?}"
    );
    assert!(texts.contains(&"Do you ship to Hong Kong?"));
}

#[tokio::test]
async fn a_closed_conversation_is_rated_once_by_its_shopper() {
    let srv = TestServer::start().await;
    let ann = srv.agent("ann", Role::Agent, &["pre-sales"], 5).await;
    let mut a = srv.agent_ws(&ann).await;
    let (_s, v, conv) = shopper_opens(&srv, "hello").await;
    a.accept_next_offer().await;
    let rate = |token: String, body: Value| {
        let url = srv.url(&format!("/api/v1/conversations/{conv}/rating"));
        let req = srv.http.post(url).bearer_auth(token).json(&body);
        async move { req.send().await.unwrap().status().as_u16() }
    };
    let good = json!({"score": 5, "comment": "快, thanks!"});
    assert_eq!(
        rate(v.token.clone(), good.clone()).await,
        409,
        "rated after close only"
    );

    a.send(In::Close(pb::CloseConversation {
        conversation_id: conv.clone(),
    }))
    .await;
    eventually("the conversation closes", || async {
        let (_, c) = srv
            .get(&format!("/api/v1/conversations/{conv}"), &v.token)
            .await;
        (c["state"] == "closed").then_some(())
    })
    .await;
    assert_eq!(rate(v.token.clone(), json!({"score": 6})).await, 400);
    assert_eq!(
        rate(ann.token.clone(), good.clone()).await,
        403,
        "agents don't rate"
    );
    let stranger = srv.visitor().await;
    assert_eq!(rate(stranger.token, good.clone()).await, 403);
    assert_eq!(rate(v.token.clone(), good.clone()).await, 204);
    assert_eq!(rate(v.token.clone(), good).await, 409, "once");

    let (_, c) = srv
        .get(&format!("/api/v1/conversations/{conv}"), &v.token)
        .await;
    assert_eq!(c["rating"]["score"], 5);
    assert_eq!(c["rating"]["comment"], "快, thanks!");
    let rated = a
        .recv_message(|m| {
            matches!(&m.body.as_ref().and_then(|b| b.kind.clone()),
                Some(pb::message_body::Kind::System(s)) if s.kind == "rated")
        })
        .await;
    let Some(pb::message_body::Kind::System(s)) = rated.body.and_then(|b| b.kind) else {
        unreachable!()
    };
    assert!(s.text.contains("5/5") && s.text.contains("快, thanks!"));
}
