//! The `recommend` plugin against the demo back office: a shopper who bought a kettle gets
//! the configured product card once (skipping a suggestion they own already), a shopper
//! who bought nothing related gets none, and a shopper who only typed a customer's e-mail
//! (unverified) gets none either: a card would reveal what that customer bought.

mod common;

use async_trait::async_trait;
use common::*;
use kefu_proto::v1::{self as pb, message_body::Kind};
use kefu_server::{
    auth::identity,
    integrations::rest::RestSettings,
    plugins::{Context, HookResult, Plugin, Registry},
    store::{SenderRole, StoredMessage},
};
use serde::Deserialize;
use serde_json::json;

/// Bought by the demo's scripted customer C10001 (her returnable order: 1 × KT-1702 and
/// 2 × MG-0330).
const KETTLE: &str = "KT-1702";
const MUG: &str = "MG-0330";

/// Answers every shopper message with "checked" after `recommend` (it runs last), so a test
/// knows `recommend` has had its turn at a message without waiting on a clock.
struct Marker;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NoSettings {}

#[async_trait]
impl Plugin for Marker {
    fn name(&self) -> &str {
        "marker"
    }
    fn priority(&self) -> i32 {
        -100
    }
    async fn on_message(&self, ctx: &mut Context, m: &StoredMessage) -> HookResult {
        if m.sender_role == SenderRole::Shopper {
            ctx.reply("checked");
        }
        Ok(())
    }
}

/// Kefu with the demo back office and a kettle rule whose first suggestion C10001 owns.
async fn shop() -> TestServer {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(kefu_demo_backoffice::serve(
        listener,
        kefu_demo_backoffice::DEFAULT_SEED,
    ));
    let card = |id: &str, title: &str| {
        json!({"product_id": id, "title": title, "price_minor": 2900, "currency": "CNY",
               "image_url": format!("https://shop.test/{id}.jpg"),
               "url": format!("https://shop.test/products/{id}")})
    };
    let registry = Registry::builtin().register("marker", |_: NoSettings| Ok(Marker));
    TestServer::start_with_plugins(
        |s| {
            s.integrations.backoffice = Some(RestSettings::new("demo", &url));
            s.plugins.insert("marker".into(), json!({}));
            s.plugins.insert(
                "recommend".into(),
                json!({"rules": [
                    {"bought": [KETTLE], "suggest": card(MUG, "马克杯 Mug")},
                    {"bought": ["NO-SUCH-SKU", KETTLE], "suggest": card("KT-0099", "除垢剂 Descaler")},
                ]}),
            );
        },
        registry,
    )
    .await
}

/// A shopper signed in as `customer_id` says `text`; returns the socket and conversation.
async fn customer_says(srv: &TestServer, customer_id: &str, text: &str) -> (Ws, String) {
    let signature = identity::sign(SECRET, customer_id);
    let v = srv
        .visitor_with(json!({"site_id": SITE, "customer_id": customer_id, "signature": signature}))
        .await;
    let mut ws = srv.shopper_ws(&v).await;
    let conv = ws.say("", "first", text).await.conversation_id;
    (ws, conv)
}

/// Bot messages the shopper receives up to and including the marker's "checked".
async fn bot_messages_until_checked(ws: &mut Ws) -> Vec<pb::Message> {
    let mut got = Vec::new();
    loop {
        let m = ws.recv_bot_message().await;
        if text_of(&m) == Some("checked") {
            return got;
        }
        got.push(m);
    }
}

#[tokio::test]
async fn a_shopper_who_bought_a_kettle_gets_one_card_for_a_product_they_lack() {
    let srv = shop().await;
    let show = kefu_demo_backoffice::dataset(kefu_demo_backoffice::DEFAULT_SEED)
        .showcase()
        .clone();
    let (mut ws, conv) = customer_says(&srv, &show.customer_id, "在吗").await;

    let got = bot_messages_until_checked(&mut ws).await;
    assert_eq!(got.len(), 2, "the intro and one card: {got:?}");
    assert_eq!(
        text_of(&got[0]),
        Some("您可能也喜欢 · You might also like"),
        "the default intro comes first"
    );
    let Some(Kind::ProductCard(card)) = got[1].body.as_ref().and_then(|b| b.kind.clone()) else {
        panic!("a product card follows the intro: {:?}", got[1]);
    };
    assert_eq!(
        card,
        pb::ProductCard {
            product_id: "KT-0099".into(),
            title: "除垢剂 Descaler".into(),
            price_minor: 2900,
            currency: "CNY".into(),
            image_url: "https://shop.test/KT-0099.jpg".into(),
            url: "https://shop.test/products/KT-0099".into(),
        },
        "the second rule's product: she owns the first rule's mug already"
    );
    assert_eq!(
        got[1].sender.as_ref().unwrap().display_name,
        "为您推荐 · Picked for you"
    );

    ws.say(&conv, "second", "还有一个问题").await;
    assert!(
        bot_messages_until_checked(&mut ws).await.is_empty(),
        "once per conversation: nothing more on the next message"
    );
    let conversation = srv.store.conversation(conv.parse().unwrap()).await.unwrap();
    assert!(conversation.tags.contains(&"recommended".to_string()));
    srv.shutdown().await;
}

#[tokio::test]
async fn a_shopper_who_bought_nothing_related_gets_no_card() {
    let srv = shop().await;
    let data = kefu_demo_backoffice::dataset(kefu_demo_backoffice::DEFAULT_SEED);
    let unrelated = data
        .customers()
        .iter()
        .find(|c| {
            let orders = data.orders_of(&c.id).unwrap_or_default();
            !orders.is_empty()
                && orders
                    .iter()
                    .flat_map(|o| &o.items)
                    .all(|i| i.sku != KETTLE)
        })
        .expect("the demo has customers who never bought the kettle");
    let (mut ws, _) = customer_says(&srv, &unrelated.id, "hello").await;
    assert!(
        bot_messages_until_checked(&mut ws).await.is_empty(),
        "{} has orders, none with a {KETTLE}: no card",
        unrelated.id
    );
    srv.shutdown().await;
}

#[tokio::test]
async fn a_shopper_who_only_typed_a_customers_email_gets_no_card() {
    let srv = shop().await;
    let data = kefu_demo_backoffice::dataset(kefu_demo_backoffice::DEFAULT_SEED);
    let victim = data.customer(&data.showcase().customer_id).unwrap();
    let v = srv
        .visitor_with(json!({"site_id": SITE, "email": victim.emails[0]}))
        .await;
    let mut ws = srv.shopper_ws(&v).await;
    ws.say("", "first", "在吗").await;
    assert!(
        bot_messages_until_checked(&mut ws).await.is_empty(),
        "{} bought a kettle, but this shopper is not verified to be them: no card",
        victim.id
    );
    srv.shutdown().await;
}
