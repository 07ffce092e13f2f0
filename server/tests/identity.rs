//! Verified identities only (issue 18 item 1, and item 9): an e-mail or phone a shopper types
//! only *suggests* a customer — the agent gets that customer's name and nothing else, and
//! order actions are refused — until the shop's signature or an agent's check (an order
//! number the shopper quotes) verifies it. Linking and verifying are audited. Against the
//! demo back office (the generic format, in-process) over real sockets.

mod common;

use common::*;
use kefu_demo_backoffice::{Dataset, Showcase};
use kefu_proto::v1::{self as pb, conversation_event::Kind as Ev};
use kefu_server::{auth::identity, integrations::rest::RestSettings, store::Role};
use serde_json::{Value, json};

struct Shop {
    srv: TestServer,
    backoffice: String,
    data: Dataset,
    show: Showcase,
    agent: TestAgent,
    agent_ws: Ws,
}

/// Kefu wired to a fresh demo back office, with agent `ann` online.
async fn shop() -> Shop {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let backoffice = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(kefu_demo_backoffice::serve(
        listener,
        kefu_demo_backoffice::DEFAULT_SEED,
    ));
    let data = kefu_demo_backoffice::dataset(kefu_demo_backoffice::DEFAULT_SEED);
    let show = data.showcase().clone();
    let url = backoffice.clone();
    let srv = TestServer::start_with(move |s| {
        s.integrations.backoffice = Some(RestSettings::new("demo", &url));
    })
    .await;
    let agent = srv.agent("ann", Role::Agent, &["pre-sales"], 5).await;
    let agent_ws = srv.agent_ws(&agent).await;
    Shop {
        srv,
        backoffice,
        data,
        show,
        agent,
        agent_ws,
    }
}

impl Shop {
    /// The victim: the showcase customer, with their e-mail and every order id.
    fn victim(&self) -> (String, String, Vec<String>) {
        let c = self.data.customer(&self.show.customer_id).unwrap();
        let orders = self.data.orders_of(&c.id).unwrap();
        let ids = orders.iter().map(|o| o.id.clone()).collect();
        (c.name.clone(), c.emails[0].clone(), ids)
    }

    /// A shopper opens a session with `identity` and writes; returns the socket and the
    /// conversation, and the customer view pushed to `ann` with the offer.
    async fn chat(&mut self, identity: Value) -> (Ws, String, Value) {
        let mut body = json!({"site_id": SITE});
        body.as_object_mut()
            .unwrap()
            .extend(identity.as_object().unwrap().clone());
        let v = self.srv.visitor_with(body).await;
        let mut ws = self.srv.shopper_ws(&v).await;
        let conv = ws.say("", "hi", "我的订单呢").await.conversation_id;
        // The view is pushed with the offer, before or after ann accepts it.
        let (mut pushed, mut assigned) = (None, false);
        while pushed.is_none() || !assigned {
            let Some(pb::server_envelope::Kind::Event(e)) = self.agent_ws.next().await else {
                continue;
            };
            if e.conversation_id != conv {
                continue;
            }
            match e.kind {
                Some(Ev::Offered(_)) => {
                    self.agent_ws
                        .send(pb::client_envelope::Kind::Accept(pb::AcceptOffer {
                            conversation_id: conv.clone(),
                        }))
                        .await
                }
                Some(Ev::Assigned(_)) => assigned = true,
                Some(Ev::CustomerViewReady(r)) => {
                    pushed = Some(serde_json::from_str(&r.view_json).unwrap())
                }
                _ => {}
            }
        }
        (ws, conv, pushed.unwrap())
    }

    /// The next customer view pushed to `ann` for `conv`.
    async fn pushed_view(&mut self, conv: &str) -> Value {
        let ready = self
            .agent_ws
            .recv_event(|e| match &e.kind {
                Some(Ev::CustomerViewReady(r)) if e.conversation_id == conv => Some(r.clone()),
                _ => None,
            })
            .await;
        serde_json::from_str(&ready.view_json).unwrap()
    }

    async fn view(&self, conv: &str) -> Value {
        let (status, v) = self
            .srv
            .get(
                &format!("/api/v1/conversations/{conv}/customer"),
                &self.agent.token,
            )
            .await;
        assert_eq!(status, 200, "the assigned agent reads the view: {v}");
        v
    }

    async fn post(&self, conv: &str, path: &str, body: Value) -> (u16, Value) {
        self.srv
            .post(
                &format!("/api/v1/conversations/{conv}/{path}"),
                &self.agent.token,
                body,
            )
            .await
    }

    /// The audit log of `conv`, oldest first.
    async fn audit(&self, conv: &str) -> Vec<Value> {
        let sup = self
            .srv
            .agent(
                &format!("sup-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]),
                Role::Supervisor,
                &[],
                5,
            )
            .await;
        let (status, v) = self
            .srv
            .get(&format!("/api/v1/audit?conversation_id={conv}"), &sup.token)
            .await;
        assert_eq!(status, 200, "{v}");
        let mut entries = v.as_array().unwrap().clone();
        entries.reverse();
        entries
    }

    /// An order of some other customer than the showcase one.
    fn someone_elses_order(&self) -> String {
        self.data
            .customers()
            .iter()
            .filter(|c| c.id != self.show.customer_id)
            .find_map(|c| self.data.orders_of(&c.id)?.first().map(|o| o.id.clone()))
            .expect("other customers have orders")
    }
}

/// What an unverified view must not carry: no data in any section, none of the victim's
/// order ids or phone numbers anywhere, and no e-mail but the one the shopper typed.
fn assert_withheld(view: &Value, victim_orders: &[String], typed: &str, phones: &[String]) {
    assert_eq!(view["verification"], "unverified", "{view}");
    for section in ["customer", "orders", "returns"] {
        assert!(
            view[section]["data"].is_null(),
            "{section} carries no data while unverified: {view}"
        );
        assert_eq!(view[section]["state"], "unavailable", "{view}");
    }
    let text = view.to_string();
    for id in victim_orders {
        assert!(!text.contains(id.as_str()), "order {id} leaked: {text}");
    }
    for p in phones {
        assert!(!text.contains(p.as_str()), "phone {p} leaked: {text}");
    }
    assert_eq!(
        text.matches('@').count(),
        typed.matches('@').count(),
        "no e-mail beyond the typed one: {text}"
    );
}

#[tokio::test]
async fn an_unsigned_email_or_phone_only_suggests_a_customer_by_name() {
    let mut s = shop().await;
    let (name, email, orders) = s.victim();
    let phones = s.data.customer(&s.show.customer_id).unwrap().phones.clone();

    let (_ws, conv, pushed) = s.chat(json!({"email": email})).await;
    assert_eq!(pushed["matched_by"], "email");
    assert_eq!(pushed["suggestion"]["name"], name.as_str());
    assert_eq!(pushed["suggestion"]["contact"], email.as_str());
    assert_withheld(&pushed, &orders, &email, &phones);
    let view = s.view(&conv).await;
    assert_eq!(view["suggestion"]["name"], name.as_str());
    assert_withheld(&view, &orders, &email, &phones);

    // A phone is no better than an e-mail.
    let (_ws2, conv2, _) = s.chat(json!({"phone": phones[0]})).await;
    let view = s.view(&conv2).await;
    assert_eq!(view["matched_by"], "phone");
    assert_eq!(view["suggestion"]["name"], name.as_str());
    assert_eq!(view["verification"], "unverified");
    assert!(view["orders"]["data"].is_null() && view["customer"]["data"].is_null());
}

#[tokio::test]
async fn actions_are_refused_while_the_shopper_is_unverified() {
    let mut s = shop().await;
    let (_, email, _) = s.victim();
    let (_ws, conv, _) = s.chat(json!({"email": email})).await;
    let cancellable = s.show.cancellable_order_id.clone();
    let returnable = s.show.returnable_order_id.clone();
    let tries = [
        ("actions/send-order-card", json!({"order_id": cancellable})),
        (
            "actions/cancel-order",
            json!({"order_id": cancellable, "reason": "x"}),
        ),
        (
            "actions/create-return",
            json!({"order_id": returnable, "items": [{"sku": "KT-1702", "quantity": 1}], "reason": "x"}),
        ),
    ];
    for (path, body) in tries {
        let (status, err) = s.post(&conv, path, body).await;
        assert_eq!(status, 403, "{path} on an unverified shopper: {err}");
        assert_eq!(err["code"], "customer_unverified", "{path}: {err}");
    }
    // Nothing changed in the back office, and the shopper got no card.
    let url = format!("{}/customers/{}/orders", s.backoffice, s.show.customer_id);
    let orders: Value = reqwest::get(url).await.unwrap().json().await.unwrap();
    let order = orders["orders"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["id"] == cancellable.as_str())
        .unwrap();
    assert_ne!(order["status"], "cancelled", "the victim's order stands");
    let (_, history) = s
        .srv
        .get(
            &format!("/api/v1/conversations/{conv}/messages"),
            &s.agent.token,
        )
        .await;
    assert!(
        !history.to_string().contains("order_card"),
        "no order card was posted: {history}"
    );
    let audit = s.audit(&conv).await;
    assert_eq!(audit.len(), 3, "each refusal is audited: {audit:?}");
    assert!(audit.iter().all(|e| e["result"] == "refused"), "{audit:?}");
}

#[tokio::test]
async fn a_signed_identity_is_verified_and_acts() {
    let mut s = shop().await;
    let id = s.show.customer_id.clone();
    let (_, _, orders) = s.victim();
    let (_ws, conv, pushed) = s
        .chat(json!({"customer_id": id, "signature": identity::sign(SECRET, &id)}))
        .await;
    assert_eq!(pushed["verification"], "verified");
    assert_eq!(pushed["matched_by"], "customer_id");
    assert!(pushed["suggestion"].is_null());
    let view = s.view(&conv).await;
    assert_eq!(view["customer"]["data"]["id"], id.as_str());
    assert_eq!(
        view["orders"]["data"].as_array().map(Vec::len),
        Some(orders.len())
    );
    let order = s.show.shipped_order_id.clone();
    let (status, done) = s
        .post(&conv, "actions/send-order-card", json!({"order_id": order}))
        .await;
    assert_eq!(
        status, 200,
        "a verified shopper's order card goes out: {done}"
    );
}

#[tokio::test]
async fn an_agent_verifies_with_an_order_number_and_both_outcomes_are_audited() {
    let mut s = shop().await;
    let (_, email, orders) = s.victim();
    let (_ws, conv, _) = s.chat(json!({"email": email})).await;

    // A number that is not the suggested customer's: refused, still unverified, audited.
    let wrong = s.someone_elses_order();
    let (status, err) = s
        .post(&conv, "customer/verify", json!({"order_id": wrong}))
        .await;
    assert_eq!(status, 422, "{err}");
    assert_eq!(err["code"], "verification_failed", "{err}");
    assert!(
        !err.to_string().contains(&s.show.customer_id),
        "the refusal names no customer: {err}"
    );
    assert_eq!(s.view(&conv).await["verification"], "unverified");
    let (status, err) = s
        .post(&conv, "customer/verify", json!({"order_id": "  "}))
        .await;
    assert_eq!(
        (status, err["code"].as_str()),
        (400, Some("invalid_argument"))
    );

    // The right number verifies: linked, the full view answered and pushed, audited.
    let right = s.show.shipped_order_id.clone();
    let (status, view) = s
        .post(&conv, "customer/verify", json!({"order_id": right}))
        .await;
    assert_eq!(status, 200, "{view}");
    assert_eq!(view["verification"], "verified");
    assert_eq!(view["matched_by"], "customer_id");
    assert_eq!(view["customer"]["data"]["id"], s.show.customer_id.as_str());
    assert_eq!(
        view["orders"]["data"].as_array().map(Vec::len),
        Some(orders.len())
    );
    let pushed = s.pushed_view(&conv).await;
    assert_eq!(pushed["verification"], "verified", "the desk is told too");
    let (status, _) = s
        .post(&conv, "actions/send-order-card", json!({"order_id": right}))
        .await;
    assert_eq!(status, 200, "verified: actions work");
    let (status, err) = s
        .post(&conv, "customer/verify", json!({"order_id": right}))
        .await;
    assert_eq!((status, err["code"].as_str()), (409, Some("conflict")));

    let audit = s.audit(&conv).await;
    let verify: Vec<&Value> = audit
        .iter()
        .filter(|e| e["action"] == "verify_customer")
        .collect();
    assert_eq!(verify.len(), 4, "every attempt is audited: {audit:?}");
    assert_eq!(verify[0]["result"], "refused");
    assert_eq!(verify[0]["target"], s.show.customer_id.as_str());
    assert!(verify[0]["details"].as_str().unwrap().contains(&wrong));
    assert_eq!(verify[2]["result"], "ok");
    assert_eq!(verify[2]["actor_id"], s.agent.id.as_str());
    assert_eq!(verify[2]["conversation_id"], conv.as_str());
    let details: Value = serde_json::from_str(verify[2]["details"].as_str().unwrap()).unwrap();
    assert_eq!(details, json!({"order_id": right, "matched_by": "email"}));
}

/// Verification by order number must not be an oracle: a shopper quoting number after
/// number gets `limits.agent.verifications` tries per conversation (5 at once by default),
/// then 429 with `Retry-After`; another conversation is not held back.
#[tokio::test]
async fn guessing_order_numbers_is_limited_per_conversation() {
    let mut s = shop().await;
    let (_, email, _) = s.victim();
    let (_ws, conv, _) = s.chat(json!({"email": email})).await;
    let wrong = s.someone_elses_order();
    let mut statuses = Vec::new();
    for _ in 0..7 {
        let (status, _) = s
            .post(&conv, "customer/verify", json!({"order_id": wrong}))
            .await;
        statuses.push(status);
    }
    assert_eq!(statuses, [422, 422, 422, 422, 422, 429, 429]);
    let res = s
        .srv
        .http
        .post(
            s.srv
                .url(&format!("/api/v1/conversations/{conv}/customer/verify")),
        )
        .bearer_auth(&s.agent.token)
        .json(&json!({"order_id": s.show.shipped_order_id}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 429, "even the right number waits now");
    let wait: u64 = res.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=3600).contains(&wait), "Retry-After: {wait} s");
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["code"], "rate_limited", "{body}");
    assert_eq!(s.view(&conv).await["verification"], "unverified");

    let (_ws2, other, _) = s.chat(json!({"email": email})).await;
    let right = s.show.shipped_order_id.clone();
    let (status, view) = s
        .post(&other, "customer/verify", json!({"order_id": right}))
        .await;
    assert_eq!(status, 200, "another conversation verifies: {view}");
}

#[tokio::test]
async fn linking_a_customer_by_hand_is_audited() {
    let mut s = shop().await;
    // An anonymous shopper: nothing to push with the offer.
    let anon = s.srv.visitor().await;
    let mut shopper = s.srv.shopper_ws(&anon).await;
    let conv = shopper
        .say("", "hi", "it's Wang Fang")
        .await
        .conversation_id;
    assert_eq!(s.agent_ws.accept_next_offer().await, conv);
    let (status, err) = s
        .post(&conv, "customer/link", json!({"customer_id": "C-NOBODY"}))
        .await;
    assert_eq!(status, 404, "{err}");
    let id = s.show.customer_id.clone();
    let (status, view) = s
        .post(&conv, "customer/link", json!({"customer_id": id}))
        .await;
    assert_eq!(status, 200, "{view}");
    assert_eq!(view["verification"], "verified", "the agent vouches for it");
    assert_eq!(view["customer"]["data"]["id"], id.as_str());

    let audit = s.audit(&conv).await;
    let links: Vec<&Value> = audit
        .iter()
        .filter(|e| e["action"] == "link_customer")
        .collect();
    assert_eq!(links.len(), 2, "{audit:?}");
    assert_eq!(
        (links[0]["target"].as_str(), links[0]["result"].as_str()),
        (Some("C-NOBODY"), Some("refused"))
    );
    assert_eq!(
        (links[1]["target"].as_str(), links[1]["result"].as_str()),
        (Some(id.as_str()), Some("ok"))
    );
    assert_eq!(links[1]["actor_id"], s.agent.id.as_str());
    assert_eq!(links[1]["conversation_id"], conv.as_str());
}
