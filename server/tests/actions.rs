//! Actions from the chat against the demo back office (the generic format, in-process):
//! create a return, cancel an order, send an order card — permission by role, amount limit,
//! audit entry, activity message, card on the shopper's socket, and no partial state when
//! the back office refuses.

mod common;

use common::*;
use kefu_demo_backoffice::Showcase;
use kefu_proto::v1::{self as pb, message_body::Kind as Body};
use kefu_server::{auth::identity, integrations::rest::RestSettings, store::Role};
use serde_json::{Value, json};

struct Demo {
    srv: TestServer,
    backoffice: String,
    show: Showcase,
    agent: TestAgent,
    agent_ws: Ws,
    shopper: Ws,
    conv: String,
}

/// Kefu wired to a fresh demo back office; customer C10001 is chatting with agent `ann`.
async fn demo(limit_minor: i64) -> Demo {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let backoffice = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(kefu_demo_backoffice::serve(
        listener,
        kefu_demo_backoffice::DEFAULT_SEED,
    ));
    let show = kefu_demo_backoffice::dataset(kefu_demo_backoffice::DEFAULT_SEED)
        .showcase()
        .clone();
    let url = backoffice.clone();
    let srv = TestServer::start_with(move |s| {
        s.integrations.backoffice = Some(RestSettings::new("demo", &url));
        s.integrations.actions.agent_limit_minor = limit_minor;
    })
    .await;
    let agent = srv.agent("ann", Role::Agent, &["pre-sales"], 5).await;
    let mut agent_ws = srv.agent_ws(&agent).await;
    let id = &show.customer_id;
    let v = srv
        .visitor_with(
            json!({"site_id": SITE, "customer_id": id, "signature": identity::sign(SECRET, id)}),
        )
        .await;
    let mut shopper = srv.shopper_ws(&v).await;
    let conv = shopper.say("", "hi", "我想退货").await.conversation_id;
    agent_ws.accept_next_offer().await;
    Demo {
        srv,
        backoffice,
        show,
        agent,
        agent_ws,
        shopper,
        conv,
    }
}

/// Waits for the next message whose body `pick` accepts.
async fn next_body<T>(ws: &mut Ws, pick: impl Fn(&Body) -> Option<T>) -> T {
    loop {
        let m = ws.recv_message(|_| true).await;
        if let Some(t) = m
            .body
            .as_ref()
            .and_then(|b| b.kind.as_ref())
            .and_then(&pick)
        {
            return t;
        }
    }
}

async fn act(d: &Demo, token: &str, action: &str, body: Value) -> (u16, Value) {
    d.srv
        .post(
            &format!("/api/v1/conversations/{}/actions/{action}", d.conv),
            token,
            body,
        )
        .await
}

async fn backoffice_returns(d: &Demo) -> usize {
    let url = format!("{}/customers/{}/returns", d.backoffice, d.show.customer_id);
    let v: Value = reqwest::get(url).await.unwrap().json().await.unwrap();
    v["returns"].as_array().unwrap().len()
}

async fn audit(d: &Demo) -> Vec<Value> {
    let sup = d
        .srv
        .agent(&format!("sup{}", rand_suffix()), Role::Supervisor, &[], 5)
        .await;
    let (status, v) = d
        .srv
        .get(
            &format!("/api/v1/audit?conversation_id={}", d.conv),
            &sup.token,
        )
        .await;
    assert_eq!(status, 200);
    v.as_array().unwrap().clone()
}

fn rand_suffix() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..8].to_string()
}

#[tokio::test]
async fn a_return_created_in_the_chat_reaches_the_shopper_as_a_card_and_is_audited() {
    let mut d = demo(100_000).await;
    let before = backoffice_returns(&d).await;
    let order = d.show.returnable_order_id.clone();
    let (status, ret) = act(&d, &d.agent.token, "create-return", json!({"order_id": order, "items": [{"sku": "KT-1702", "quantity": 1}], "reason": "壶盖松动 lid loose"})).await;
    assert_eq!(status, 201, "{ret}");
    assert_eq!(ret["order_id"], order);
    assert_eq!(
        backoffice_returns(&d).await,
        before + 1,
        "the return exists in the back office"
    );

    // The shopper sees the return as a card in the chat, after the activity entry.
    let c = next_body(&mut d.shopper, |b| match b {
        Body::ReturnCard(c) => Some(c.clone()),
        _ => None,
    })
    .await;
    assert_eq!(c.return_id, ret["id"].as_str().unwrap());
    assert_eq!(c.item_count, 1);
    d.agent_ws.recv_message(|m| matches!(m.body.as_ref().and_then(|b| b.kind.as_ref()), Some(Body::System(s)) if s.kind == "return_created")).await;

    // The customer view shows it at once (its cache was invalidated).
    let (_, view) = d
        .srv
        .get(
            &format!("/api/v1/conversations/{}/customer", d.conv),
            &d.agent.token,
        )
        .await;
    assert!(
        view["returns"]["data"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["id"] == ret["id"]),
        "the view shows the new return"
    );

    let entries = audit(&d).await;
    assert_eq!(entries[0]["action"], "create_return");
    assert_eq!(entries[0]["result"], "ok");
    assert_eq!(entries[0]["target"], order);
}

#[tokio::test]
async fn above_the_agent_limit_only_a_supervisor_may_act() {
    let d = demo(100).await; // 1.00: anything real is above it
    let before = backoffice_returns(&d).await;
    let body = json!({"order_id": d.show.returnable_order_id, "items": [{"sku": "KT-1702", "quantity": 1}], "reason": "damaged"});
    let (status, err) = act(&d, &d.agent.token, "create-return", body.clone()).await;
    assert_eq!(status, 403, "{err}");
    assert!(
        err["message"].as_str().unwrap().contains("supervisor"),
        "{err}"
    );
    assert_eq!(
        backoffice_returns(&d).await,
        before,
        "a refused action changes nothing"
    );
    assert_eq!(
        audit(&d).await[0]["result"],
        "refused",
        "refusals are audited too"
    );

    let sup = d
        .srv
        .agent("boss", Role::Supervisor, &["pre-sales"], 5)
        .await;
    let (status, ret) = act(&d, &sup.token, "create-return", body).await;
    assert_eq!(status, 201, "a supervisor may: {ret}");
}

#[tokio::test]
async fn cancel_only_unfulfilled_orders_and_back_office_refusals_change_nothing() {
    let mut d = demo(10_000_000).await;
    let (status, order) = act(
        &d,
        &d.agent.token,
        "cancel-order",
        json!({"order_id": d.show.cancellable_order_id, "reason": "changed mind"}),
    )
    .await;
    assert_eq!(status, 200, "{order}");
    assert_eq!(order["status"], "cancelled");
    let c = next_body(&mut d.shopper, |b| match b {
        Body::OrderCard(c) => Some(c.clone()),
        _ => None,
    })
    .await;
    assert_eq!(c.status, "cancelled");

    // A shipped order is refused by Kefu before the back office is asked.
    let (status, err) = act(
        &d,
        &d.agent.token,
        "cancel-order",
        json!({"order_id": d.show.shipped_order_id}),
    )
    .await;
    assert_eq!(status, 403, "{err}");

    // The back office refuses returning more than is left: 422 with its reason, no card.
    let before = backoffice_returns(&d).await;
    let (status, err) = act(&d, &d.agent.token, "create-return", json!({"order_id": d.show.refunded_order_id, "items": [{"sku": first_sku(&d, &d.show.refunded_order_id).await, "quantity": 1}], "reason": "again"})).await;
    assert_eq!(status, 422, "{err}");
    assert_eq!(backoffice_returns(&d).await, before);
    assert_eq!(audit(&d).await[0]["result"], "failed");

    // Another customer's order is not reachable from this chat.
    let (status, _) = act(
        &d,
        &d.agent.token,
        "send-order-card",
        json!({"order_id": "SO-NOT-HERS"}),
    )
    .await;
    assert_eq!(status, 404);
}

async fn first_sku(d: &Demo, order_id: &str) -> String {
    let url = format!("{}/customers/{}/orders", d.backoffice, d.show.customer_id);
    let v: Value = reqwest::get(url).await.unwrap().json().await.unwrap();
    let o = v["orders"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["id"] == order_id)
        .unwrap()
        .clone();
    o["items"][0]["sku"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn order_cards_carry_tracking_and_only_the_assigned_agent_may_act() {
    let mut d = demo(100_000).await;
    let (status, _) = act(
        &d,
        &d.agent.token,
        "send-order-card",
        json!({"order_id": d.show.shipped_order_id}),
    )
    .await;
    assert_eq!(status, 200);
    let c = next_body(&mut d.shopper, |b| match b {
        Body::OrderCard(c) => Some(c.clone()),
        _ => None,
    })
    .await;
    assert_eq!(c.order_id, d.show.shipped_order_id);
    assert!(
        c.tracking_url.starts_with("https://"),
        "a shipped order's card links its tracking: {c:?}"
    );

    let colleague = d.srv.agent("bob", Role::Agent, &["pre-sales"], 5).await;
    let (status, _) = act(
        &d,
        &colleague.token,
        "send-order-card",
        json!({"order_id": d.show.shipped_order_id}),
    )
    .await;
    assert_eq!(
        status, 403,
        "an agent who does not have the chat may not act in it"
    );
    let (status, _) = act(
        &d,
        &d.agent.token,
        "create-return",
        json!({"order_id": d.show.returnable_order_id, "items": [], "reason": "x"}),
    )
    .await;
    assert_eq!(status, 400, "a return needs items");
}

/// Offer → complete customer view with the demo back office (cold cache), printed for
/// the record; not asserted as a time because the machine is shared.
#[tokio::test]
async fn customer_view_arrives_with_the_offer() {
    let mut d = demo(100_000).await;
    let id = "C10002";
    let v = d
        .srv
        .visitor_with(
            json!({"site_id": SITE, "customer_id": id, "signature": identity::sign(SECRET, id)}),
        )
        .await;
    let mut shopper = d.srv.shopper_ws(&v).await;
    let sent = std::time::Instant::now();
    shopper.say("", "q", "another question").await;
    let mut offered_at = None;
    let view = loop {
        if let pb::server_envelope::Kind::Event(e) = d.agent_ws.next().await.expect("open") {
            match e.kind {
                Some(pb::conversation_event::Kind::Offered(_)) => {
                    offered_at = Some(std::time::Instant::now())
                }
                Some(pb::conversation_event::Kind::CustomerViewReady(r))
                    if r.view_json.contains(id) =>
                {
                    break r;
                }
                _ => {}
            }
        }
    };
    println!(
        "first message → customer view at the agent: {:?}; after the offer frame: {:?} (demo back office, cold cache)",
        sent.elapsed(),
        offered_at.map(|t| t.elapsed())
    );
    let v: Value = serde_json::from_str(&view.view_json).unwrap();
    assert_eq!(v["customer"]["data"]["id"], id);
    assert_eq!(v["orders"]["state"], "ok");
    assert_eq!(v["returns"]["state"], "ok");
}
