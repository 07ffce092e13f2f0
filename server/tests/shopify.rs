//! The Shopify connector against a local mock of the Admin API (real sockets, axum on
//! 127.0.0.1:0) serving Shopify's documented JSON shapes from `fixtures/shopify/`: the
//! mock refuses a wrong access token and answers 404 on any path it was not told about, and
//! records every request so tests can check paths, queries and bodies.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use axum::{
    Router,
    body::{Body, Bytes},
    extract::{Query, State},
    http::{HeaderMap, Method, StatusCode, Uri},
    response::{IntoResponse, Response},
};
use kefu_server::integrations::{
    Connector, CustomerKey, NewReturn, NewReturnItem, SourceError,
    rest::http_client,
    shopify::{ShopifyConnector, ShopifySettings},
};
use serde_json::{Value, json};

const TOKEN: &str = "shpat_0123456789abcdef0123456789abcdef";
const PREFIX: &str = "/admin/api/2025-01/";

const CUSTOMER: &str = include_str!("fixtures/shopify/customer.json");
const ORDERS: &str = include_str!("fixtures/shopify/orders.json");
const CANCELLED: &str = include_str!("fixtures/shopify/cancelled_order.json");
const RETURNABLE: &str = include_str!("fixtures/shopify/returnable_fulfillments.json");

/// What the mock answers on one route.
#[derive(Clone)]
struct Reply {
    status: u16,
    body: String,
    /// Sent in chunks without a Content-Length.
    chunked: bool,
}

/// One request the mock received.
#[derive(Debug, Clone)]
struct Seen {
    /// `GET customers/1.json`, or `POST graphql.json {operation}`.
    route: String,
    query: HashMap<String, String>,
    content_type: Option<String>,
    body: Value,
}

/// A Shopify shop whose answers each test sets, keyed by route (see [`Seen::route`]).
#[derive(Clone, Default)]
struct Shop {
    replies: Arc<Mutex<HashMap<String, Reply>>>,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl Shop {
    fn on(&self, route: &str, status: u16, body: impl Into<String>) -> &Self {
        self.replies.lock().unwrap().insert(
            route.into(),
            Reply {
                status,
                body: body.into(),
                chunked: false,
            },
        );
        self
    }
    fn on_chunked(&self, route: &str, body: String) {
        self.replies.lock().unwrap().insert(
            route.into(),
            Reply {
                status: 200,
                body,
                chunked: true,
            },
        );
    }
    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
    fn routes(&self) -> Vec<String> {
        self.seen().into_iter().map(|s| s.route).collect()
    }
    /// The one request made on `route`.
    fn only(&self, route: &str) -> Seen {
        let seen: Vec<Seen> = self
            .seen()
            .into_iter()
            .filter(|s| s.route == route)
            .collect();
        assert_eq!(
            seen.len(),
            1,
            "expected exactly one request on {route}; requests: {:?}",
            self.routes()
        );
        seen.into_iter().next().unwrap()
    }
}

async fn handle(
    State(shop): State<Shop>,
    method: Method,
    uri: Uri,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let json_reply = |status: u16, body: String| {
        (
            StatusCode::from_u16(status).unwrap(),
            [("content-type", "application/json; charset=utf-8")],
            body,
        )
            .into_response()
    };
    if headers
        .get("x-shopify-access-token")
        .and_then(|v| v.to_str().ok())
        != Some(TOKEN)
    {
        return json_reply(
            401,
            json!({"errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"}).to_string(),
        );
    }
    let Some(path) = uri.path().strip_prefix(PREFIX) else {
        return json_reply(404, json!({"errors": "Not Found"}).to_string());
    };
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let route = if path == "graphql.json" {
        let q = body["query"].as_str().unwrap_or_default();
        let op = if q.contains("returnCreate(") {
            "returnCreate"
        } else if q.contains("returnableFulfillments(") {
            "returnableFulfillments"
        } else {
            "unknown"
        };
        format!("{method} graphql.json {op}")
    } else {
        format!("{method} {path}")
    };
    shop.seen.lock().unwrap().push(Seen {
        route: route.clone(),
        query,
        content_type: headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .map(String::from),
        body,
    });
    let reply = shop.replies.lock().unwrap().get(&route).cloned();
    let Some(reply) = reply else {
        return json_reply(404, json!({"errors": "Not Found"}).to_string());
    };
    if reply.chunked {
        let chunks: Vec<Result<Bytes, std::io::Error>> = reply
            .body
            .into_bytes()
            .chunks(16 * 1024)
            .map(|c| Ok(Bytes::copy_from_slice(c)))
            .collect();
        return (
            [("content-type", "application/json")],
            Body::from_stream(futures_util::stream::iter(chunks)),
        )
            .into_response();
    }
    json_reply(reply.status, reply.body)
}

async fn start(shop: Shop) -> String {
    let app = Router::new().fallback(handle).with_state(shop);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

fn settings(url: &str) -> ShopifySettings {
    ShopifySettings {
        name: "shopify".into(),
        shop_url: url.into(),
        access_token: TOKEN.into(),
        api_version: "2025-01".into(),
        max_body_bytes: 1024 * 1024,
    }
}

fn connector(s: ShopifySettings) -> ShopifyConnector {
    ShopifyConnector::new(s, http_client(Duration::from_secs(10)))
}

/// A mock shop and a connector pointed at it.
async fn setup() -> (Shop, ShopifyConnector) {
    let shop = Shop::default();
    let url = start(shop.clone()).await;
    (shop, connector(settings(&url)))
}

fn fixture(s: &str) -> Value {
    serde_json::from_str(s).unwrap()
}

/// The status and reason of an error that must be a `Status`.
fn status_of<T: std::fmt::Debug>(r: Result<T, SourceError>) -> (u16, String) {
    match r {
        Err(SourceError::Status { code, reason }) => (code, reason),
        other => panic!("expected a Status error, got {other:?}"),
    }
}

#[tokio::test]
async fn a_customer_by_id_keeps_chinese_and_emoji_and_maps_shopify_fields() {
    let (shop, conn) = setup().await;
    shop.on("GET customers/207119551.json", 200, CUSTOMER);
    let c = conn
        .find_customer(&CustomerKey::Id("207119551".into()))
        .await
        .map(|f| f.data)
        .expect("the lookup succeeds")
        .expect("the customer is found");
    assert_eq!(c.id, "207119551", "the numeric id becomes a string");
    assert_eq!(
        c.name, "王芳",
        "Chinese names are family name first, no space"
    );
    assert_eq!(c.emails, ["wang.fang@example.cn"]);
    assert_eq!(
        c.phones,
        ["+8613800138000", "+86 21 5555 0100"],
        "the customer's phone, then the default address's"
    );
    assert_eq!(
        c.tags,
        ["vip", "tier:gold", "喜欢顺丰 😀"],
        "tags split on commas"
    );
    assert_eq!(
        c.tier.as_deref(),
        Some("gold"),
        "tier comes from a tier: tag"
    );
    let ltv = c.lifetime_value.expect("total_spent is the lifetime value");
    assert_eq!(
        (ltv.amount.as_str(), ltv.currency.as_str()),
        ("12890.00", "CNY")
    );
    assert_eq!(c.created_at.as_deref(), Some("2023-04-02T17:12:00+08:00"));
    assert_eq!(c.notes.len(), 1, "the note becomes one note: {:?}", c.notes);
    assert_eq!(c.notes[0].text, "晚上六点后送货 🚚");
    for (k, v) in [
        ("state", json!("enabled")),
        ("verified_email", json!(true)),
        ("orders_count", json!(6)),
        ("tax_exempt", json!(false)),
        ("last_order_name", json!("#1005")),
        ("email_marketing", json!("subscribed")),
    ] {
        assert_eq!(
            c.attributes.get(k),
            Some(&v),
            "attribute {k}: {:?}",
            c.attributes
        );
    }
    assert!(
        c.attributes["admin_url"]
            .as_str()
            .unwrap()
            .ends_with("/admin/customers/207119551"),
        "{:?}",
        c.attributes
    );
    assert_eq!(shop.routes(), ["GET customers/207119551.json"]);

    // A GID names the same customer.
    conn.find_customer(&CustomerKey::Id("gid://shopify/Customer/207119551".into()))
        .await
        .map(|f| f.data)
        .unwrap()
        .expect("a GID is accepted");
}

#[tokio::test]
async fn an_unknown_customer_is_none() {
    let (shop, conn) = setup().await;
    // The mock answers 404 {"errors":"Not Found"} on routes it was not told about.
    let found = conn
        .find_customer(&CustomerKey::Id("999".into()))
        .await
        .map(|f| f.data)
        .expect("a 404 is not an error");
    assert!(found.is_none(), "{found:?}");
    assert_eq!(shop.routes(), ["GET customers/999.json"]);

    // Not a Shopify id: nobody to ask, and nothing injected into the path.
    for id in ["C10001", "../orders", "gid://shopify/Order/1"] {
        let found = conn
            .find_customer(&CustomerKey::Id(id.into()))
            .await
            .map(|f| f.data);
        assert!(matches!(found, Ok(None)), "{id}: {found:?}");
    }
    assert_eq!(
        shop.routes().len(),
        1,
        "no call for ids that are not numeric"
    );
    assert!(
        conn.orders("C10001")
            .await
            .map(|f| f.data)
            .unwrap()
            .is_empty()
    );
    assert!(
        conn.returns("C10001")
            .await
            .map(|f| f.data)
            .unwrap()
            .is_empty()
    );
    assert_eq!(shop.routes().len(), 1);
}

#[tokio::test]
async fn a_customer_is_found_by_email_only_on_an_exact_match() {
    let (shop, conn) = setup().await;
    let mut exact = fixture(CUSTOMER)["customer"].clone();
    exact["email"] = json!("Wang.Fang@Example.CN");
    let near = json!({"id": 1, "email": "wang.fang.2@example.cn", "first_name": "Fang", "last_name": "Wang", "tags": ""});
    shop.on(
        "GET customers/search.json",
        200,
        json!({"customers": [near, exact]}).to_string(),
    );
    let c = conn
        .find_customer(&CustomerKey::Email("wang.fang@example.cn".into()))
        .await
        .map(|f| f.data)
        .unwrap()
        .expect("the customer whose email matches (ignoring case) is found");
    assert_eq!(c.id, "207119551", "the near match listed first is skipped");
    let q = shop.only("GET customers/search.json").query;
    assert_eq!(q["query"], "email:wang.fang@example.cn", "{q:?}");

    // Shopify's loose matches alone identify nobody.
    shop.on(
        "GET customers/search.json",
        200,
        json!({"customers": [near]}).to_string(),
    );
    let found = conn
        .find_customer(&CustomerKey::Email("wang.fang@example.cn".into()))
        .await
        .map(|f| f.data)
        .unwrap();
    assert!(
        found.is_none(),
        "a different email is not a match: {found:?}"
    );
    shop.on("GET customers/search.json", 200, r#"{"customers": []}"#);
    let found = conn
        .find_customer(&CustomerKey::Email("nobody@example.cn".into()))
        .await
        .map(|f| f.data)
        .unwrap();
    assert!(found.is_none());
}

#[tokio::test]
async fn a_customer_is_found_by_phone() {
    let (shop, conn) = setup().await;
    shop.on(
        "GET customers/search.json",
        200,
        json!({"customers": [fixture(CUSTOMER)["customer"]]}).to_string(),
    );
    let c = conn
        .find_customer(&CustomerKey::Phone("+86 138-0013-8000".into()))
        .await
        .map(|f| f.data)
        .unwrap()
        .expect("same digits, other punctuation");
    assert_eq!(c.name, "王芳");
    let q = shop.only("GET customers/search.json").query;
    assert_eq!(q["query"], "phone:+8613800138000", "punctuation is removed");

    for (given, why) in [
        ("138 0013 8000", "a mobile number without its country code"),
        (
            "021 5555 0100",
            "the default address's phone, national format",
        ),
        ("0086 21 5555 0100", "the default address's phone, 00 for +"),
    ] {
        let c = conn
            .find_customer(&CustomerKey::Phone(given.into()))
            .await
            .map(|f| f.data)
            .unwrap();
        assert_eq!(c.map(|c| c.id).as_deref(), Some("207119551"), "{why}");
    }
    let c = conn
        .find_customer(&CustomerKey::Phone("+86 139 0000 0000".into()))
        .await
        .map(|f| f.data)
        .unwrap();
    assert!(c.is_none(), "another number is not a match: {c:?}");
}

#[tokio::test]
async fn search_sends_the_text_and_a_limit() {
    let (shop, conn) = setup().await;
    let latin = json!({"id": 207119552, "email": "bob.norman@mail.example.com", "first_name": "Bob", "last_name": "Norman", "tags": "", "total_spent": "199.65", "currency": "USD"});
    let nameless = json!({"id": 207119553, "email": "anon@example.com", "first_name": null, "last_name": null, "tags": null});
    shop.on(
        "GET customers/search.json",
        200,
        json!({"customers": [fixture(CUSTOMER)["customer"], latin, nameless]}).to_string(),
    );
    let found = conn.search_customers("王芳 🌸").await.unwrap();
    let names: Vec<&str> = found.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        names,
        ["王芳", "Bob Norman", "anon@example.com"],
        "a customer without a name shows the email"
    );
    assert!(found[2].tags.is_empty() && found[2].lifetime_value.is_none());
    let q = shop.only("GET customers/search.json").query;
    assert_eq!(q["query"], "王芳 🌸", "the text arrives intact: {q:?}");
    assert_eq!(q["limit"], "20");
}

#[tokio::test]
async fn orders_map_money_items_addresses_and_shipments_newest_first() {
    let (shop, conn) = setup().await;
    shop.on("GET orders.json", 200, ORDERS);
    let orders = conn
        .orders("207119551")
        .await
        .map(|f| f.data)
        .expect("orders are read");
    let q = shop.only("GET orders.json").query;
    assert_eq!(q["customer_id"], "207119551", "{q:?}");
    assert_eq!(q["status"], "any", "cancelled and closed orders too: {q:?}");

    let ids: Vec<&str> = orders.iter().map(|o| o.id.as_str()).collect();
    assert_eq!(
        ids,
        ["#1005", "#1004", "#1003", "#1002", "#1006", "#1001"],
        "names as ids, newest first"
    );
    let by_id = |id: &str| orders.iter().find(|o| o.id == id).unwrap();
    let statuses: Vec<(&str, &str)> = orders
        .iter()
        .map(|o| (o.id.as_str(), o.status.as_str()))
        .collect();
    assert_eq!(
        statuses,
        [
            ("#1005", "refunded"),
            ("#1004", "shipped"),
            ("#1003", "cancelled"),
            ("#1002", "delivered"),
            ("#1006", "paid"),
            ("#1001", "pending"),
        ]
    );

    // The full order.
    let o = by_id("#1002");
    assert_eq!(o.customer_id.as_deref(), Some("207119551"));
    assert_eq!(o.placed_at.as_deref(), Some("2026-11-20T16:31:00+08:00"));
    assert_eq!(o.payment_status.as_deref(), Some("partially_refunded"));
    assert_eq!(o.fulfillment_status.as_deref(), Some("fulfilled"));
    assert_eq!(o.currency.as_deref(), Some("CNY"));
    let amount = |m: &Option<kefu_server::integrations::Money>| {
        m.as_ref().map(|m| format!("{} {}", m.amount, m.currency))
    };
    assert_eq!(amount(&o.subtotal).as_deref(), Some("420.00 CNY"));
    assert_eq!(amount(&o.shipping).as_deref(), Some("12.00 CNY"));
    assert_eq!(amount(&o.total).as_deref(), Some("432.00 CNY"));
    assert_eq!(o.items.len(), 2);
    assert_eq!(o.items[0].sku, "KT-1702");
    assert_eq!(
        o.items[0].name, "不锈钢电水壶 1.7L - 白色 ☕",
        "the name includes the variant"
    );
    assert_eq!(o.items[1].quantity, 2);
    assert_eq!(
        amount(&o.items[1].unit_price).as_deref(),
        Some("110.50 CNY")
    );
    let a = o.shipping_address.as_ref().expect("the shipping address");
    assert_eq!(a.name.as_deref(), Some("王芳"));
    assert_eq!(a.phone.as_deref(), Some("+86 138 0013 8000"));
    assert_eq!(a.line1.as_deref(), Some("浦东新区世纪大道 100 号"));
    assert_eq!(a.line2, None, "an empty address2 is absent");
    assert_eq!(a.city.as_deref(), Some("上海"));
    assert_eq!(a.province.as_deref(), Some("上海"));
    assert_eq!(a.postal_code.as_deref(), Some("200120"));
    assert_eq!(a.country.as_deref(), Some("CN"));
    assert_eq!(o.shipments.len(), 1);
    let s = &o.shipments[0];
    assert_eq!(s.carrier.as_deref(), Some("顺丰速运 SF Express"));
    assert_eq!(s.tracking_number.as_deref(), Some("SF1234567890"));
    assert_eq!(
        s.tracking_url.as_deref(),
        Some("https://www.sf-express.com/track?no=SF1234567890")
    );
    assert_eq!(s.status.as_deref(), Some("delivered"));
    assert_eq!(s.shipped_at.as_deref(), Some("2026-11-21T11:00:00+08:00"));

    // Missing optional fields: null fulfillment_status, no shipping_address, no
    // fulfillments, no shipping price, a null SKU.
    let o = by_id("#1001");
    assert_eq!(o.fulfillment_status.as_deref(), Some("unfulfilled"));
    assert!(o.shipping_address.is_none() && o.shipments.is_empty() && o.shipping.is_none());
    assert_eq!(o.items[0].sku, "", "a null SKU is empty");
    assert_eq!(
        o.items[0].name, "礼品卡 🎁",
        "the title when there is no name"
    );
    assert!(by_id("#1003").shipping_address.is_none(), "a null address");

    // Tracking from the lists; a cancelled fulfillment says so and does not count as shipped.
    let o = by_id("#1004");
    let shipments: Vec<(Option<&str>, Option<&str>, Option<&str>)> = o
        .shipments
        .iter()
        .map(|s| {
            (
                s.tracking_number.as_deref(),
                s.tracking_url.as_deref(),
                s.status.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        shipments,
        [
            (Some("OLD1"), None, Some("cancelled")),
            (
                Some("ZTO777"),
                Some("https://zto.example/ZTO777"),
                Some("in_transit")
            ),
        ]
    );
}

#[tokio::test]
async fn returns_are_the_refunds_of_the_orders() {
    let (shop, conn) = setup().await;
    shop.on("GET orders.json", 200, ORDERS);
    let returns = conn
        .returns("207119551")
        .await
        .map(|f| f.data)
        .expect("returns are read");
    let q = shop.only("GET orders.json").query;
    assert_eq!(q["customer_id"], "207119551");
    assert_eq!(q["status"], "any");
    assert!(
        q["fields"].split(',').any(|f| f == "refunds"),
        "only what returns need is asked for: {q:?}"
    );

    let ids: Vec<&str> = returns.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(
        ids,
        ["refund-509562970", "refund-509562969", "refund-509562971"],
        "one return per refund, newest first"
    );
    let r = &returns[1];
    assert_eq!(r.order_id, "#1002", "the order as Kefu shows it");
    assert_eq!(r.customer_id.as_deref(), Some("207119551"));
    assert_eq!(r.status, "refunded");
    assert_eq!(r.reason.as_deref(), Some("收到时已破损 💔"));
    assert_eq!(r.created_at.as_deref(), Some("2026-11-25T10:00:00+08:00"));
    assert_eq!(r.items.len(), 1);
    assert_eq!(
        (
            r.items[0].sku.as_str(),
            r.items[0].name.as_deref(),
            r.items[0].quantity
        ),
        ("MUG-8", Some("马克杯 🐼"), 1)
    );
    let refund = r.refund.as_ref().expect("a refund");
    assert_eq!(refund.state, "refunded");
    let money = refund.amount.as_ref().expect("an amount");
    assert_eq!(
        (money.amount.as_str(), money.currency.as_str()),
        ("110.50", "CNY"),
        "the successful transactions add up exactly; the failed one is left out"
    );

    let pending = &returns[0];
    assert_eq!(pending.status, "approved");
    assert_eq!(pending.refund.as_ref().unwrap().state, "pending");
    assert_eq!(pending.reason, None, "a null note is no reason");
    let restock_only = &returns[2];
    assert_eq!(restock_only.status, "received");
    let refund = restock_only.refund.as_ref().unwrap();
    assert_eq!(
        (refund.state.as_str(), refund.amount.as_ref()),
        ("none", None)
    );
    assert_eq!(
        restock_only.items[0].name.as_deref(),
        Some("袜子"),
        "the title when the line has no name"
    );

    shop.on("GET orders.json", 200, r#"{"orders": []}"#);
    assert!(
        conn.returns("207119551")
            .await
            .map(|f| f.data)
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn shopify_errors_are_reported_with_their_reason() {
    let shop = Shop::default();
    let url = start(shop.clone()).await;
    let conn = connector(settings(&url));

    // A wrong token: the mock answers as Shopify does.
    let wrong = connector(ShopifySettings {
        access_token: "shpat_wrong".into(),
        ..settings(&url)
    });
    let (code, reason) = status_of(wrong.orders("207119551").await.map(|f| f.data));
    assert_eq!(code, 401);
    assert!(
        reason.contains("Invalid API key or access token"),
        "{reason}"
    );

    shop.on(
        "GET orders.json",
        403,
        r#"{"errors":"[API] This action requires merchant approval for read_orders scope."}"#,
    );
    let (code, reason) = status_of(conn.orders("207119551").await.map(|f| f.data));
    assert_eq!(code, 403);
    assert!(reason.contains("read_orders scope"), "{reason}");

    shop.on(
        "GET orders.json",
        429,
        r#"{"errors":"Exceeded 2 calls per second for api client. Reduce request rates to resume uninterrupted service."}"#,
    );
    let e = conn.orders("207119551").await.map(|f| f.data).unwrap_err();
    assert!(e.is_transient(), "a 429 may be retried: {e:?}");
    assert!(e.to_string().contains("Exceeded 2 calls per second"), "{e}");

    shop.on("GET orders.json", 500, "");
    let e = conn.orders("207119551").await.map(|f| f.data).unwrap_err();
    assert!(e.is_transient(), "a 500 may be retried: {e:?}");
    assert!(
        e.to_string().contains("Internal Server Error"),
        "an empty body gives the status's reason: {e}"
    );

    shop.on(
        "GET customers/207119551.json",
        503,
        "<html>Service Unavailable</html>",
    );
    let (code, reason) = status_of(
        conn.find_customer(&CustomerKey::Id("207119551".into()))
            .await
            .map(|f| f.data),
    );
    assert_eq!(
        (code, reason.as_str()),
        (503, "<html>Service Unavailable</html>")
    );

    // A 404 on a list is a wrong shop or version, not "no orders".
    shop.replies.lock().unwrap().remove("GET orders.json");
    let (code, reason) = status_of(conn.orders("207119551").await.map(|f| f.data));
    assert_eq!((code, reason.as_str()), (404, "Not Found"));
    assert!(
        !conn
            .returns("207119551")
            .await
            .map(|f| f.data)
            .unwrap_err()
            .is_transient()
    );
}

#[tokio::test]
async fn malformed_answers_are_malformed() {
    let (shop, conn) = setup().await;
    let malformed = |r: Result<Vec<kefu_server::integrations::Order>, SourceError>| match r {
        Err(SourceError::Malformed(why)) => why,
        other => panic!("expected Malformed, got {other:?}"),
    };
    shop.on("GET orders.json", 200, "{\"orders\": [ {\"id\": ");
    malformed(conn.orders("207119551").await.map(|f| f.data));
    shop.on("GET orders.json", 200, r#"{"order": []}"#);
    let why = malformed(conn.orders("207119551").await.map(|f| f.data));
    assert!(
        why.contains("orders"),
        "the missing envelope is named: {why}"
    );
    shop.on(
        "GET orders.json",
        200,
        r#"{"orders": [{"id": 1, "line_items": [{"quantity": "two"}]}]}"#,
    );
    malformed(conn.orders("207119551").await.map(|f| f.data));
    shop.on("GET orders.json", 200, r##"{"orders": [{"name": "#1"}]}"##);
    let why = malformed(conn.orders("207119551").await.map(|f| f.data));
    assert!(why.contains("without an id"), "{why}");

    shop.on("GET customers/1.json", 200, "<html>not json</html>");
    let r = conn
        .find_customer(&CustomerKey::Id("1".into()))
        .await
        .map(|f| f.data);
    assert!(matches!(r, Err(SourceError::Malformed(_))), "{r:?}");
    shop.on(
        "GET customers/1.json",
        200,
        r#"{"customer": {"id": 1, "first_name": 5}}"#,
    );
    let r = conn
        .find_customer(&CustomerKey::Id("1".into()))
        .await
        .map(|f| f.data);
    assert!(matches!(r, Err(SourceError::Malformed(_))), "{r:?}");
}

#[tokio::test]
async fn an_oversize_answer_is_refused_streamed_or_not() {
    let shop = Shop::default();
    let url = start(shop.clone()).await;
    let conn = connector(ShopifySettings {
        max_body_bytes: 64 * 1024,
        ..settings(&url)
    });
    let huge = format!(
        "{{\"orders\": [], \"padding\": \"{}\"}}",
        "x".repeat(1024 * 1024)
    );
    shop.on("GET orders.json", 200, huge.clone());
    let r = conn.orders("207119551").await.map(|f| f.data);
    assert!(
        matches!(r, Err(SourceError::TooLarge(65536))),
        "refused on its Content-Length: {r:?}"
    );
    shop.on_chunked("GET orders.json", huge);
    let r = conn.orders("207119551").await.map(|f| f.data);
    assert!(
        matches!(r, Err(SourceError::TooLarge(65536))),
        "refused while streaming without a Content-Length: {r:?}"
    );
    // Just under the cap is fine.
    shop.on_chunked("GET orders.json", ORDERS.to_string());
    assert_eq!(
        conn.orders("207119551")
            .await
            .map(|f| f.data)
            .unwrap()
            .len(),
        6
    );
}

#[tokio::test]
async fn cancel_finds_the_order_by_name_and_posts_a_shopify_reason() {
    let (shop, conn) = setup().await;
    shop.on(
        "GET orders.json",
        200,
        json!({"orders": [{"id": 5800000000010u64, "name": "#10010"}, {"id": 5800000000001u64, "name": "#1001"}]}).to_string(),
    )
    .on("POST orders/5800000000001/cancel.json", 200, CANCELLED);
    let o = conn
        .cancel_order("#1001", "客户改变主意 🙅")
        .await
        .expect("the order is cancelled");
    assert_eq!(o.id, "#1001");
    assert_eq!(o.status, "cancelled");
    assert_eq!(o.payment_status.as_deref(), Some("voided"));
    assert_eq!(o.items[0].name, "礼品卡 🎁");
    let lookup = shop.only("GET orders.json").query;
    assert_eq!(lookup["name"], "#1001", "{lookup:?}");
    assert_eq!(lookup["status"], "any");
    let post = shop.only("POST orders/5800000000001/cancel.json");
    assert_eq!(
        post.body,
        json!({"reason": "customer"}),
        "free text is not a Shopify reason"
    );
    assert_eq!(post.content_type.as_deref(), Some("application/json"));

    // A numeric id needs no lookup; a Shopify reason is passed on; an answer without the
    // order is read back.
    shop.on(
        "POST orders/5800000000001/cancel.json",
        200,
        r#"{"notice": "Order has been canceled"}"#,
    )
    .on("GET orders/5800000000001.json", 200, CANCELLED);
    let o = conn.cancel_order("5800000000001", "Fraud").await.unwrap();
    assert_eq!((o.id.as_str(), o.status.as_str()), ("#1001", "cancelled"));
    assert_eq!(
        shop.routes(),
        [
            "GET orders.json",
            "POST orders/5800000000001/cancel.json",
            "POST orders/5800000000001/cancel.json",
            "GET orders/5800000000001.json",
        ]
    );
    assert_eq!(shop.seen()[2].body, json!({"reason": "fraud"}));
}

#[tokio::test]
async fn a_refused_cancellation_says_why() {
    let (shop, conn) = setup().await;
    shop.on(
        "POST orders/5800000000002/cancel.json",
        422,
        r#"{"errors": {"base": ["订单已发货，无法取消 Cannot cancel a fulfilled order"]}}"#,
    );
    let (code, reason) = status_of(conn.cancel_order("5800000000002", "").await);
    assert_eq!(code, 422);
    assert_eq!(
        reason,
        "订单已发货，无法取消 Cannot cancel a fulfilled order"
    );

    shop.on(
        "POST orders/5800000000002/cancel.json",
        422,
        r#"{"error": "Order has already been cancelled"}"#,
    );
    let (code, reason) = status_of(conn.cancel_order("5800000000002", "").await);
    assert_eq!(
        (code, reason.as_str()),
        (422, "Order has already been cancelled")
    );

    // An order name the shop does not know: 404, and nothing is posted.
    shop.on(
        "GET orders.json",
        200,
        json!({"orders": [{"id": 5800000000010u64, "name": "#10010"}]}).to_string(),
    );
    let (code, reason) = status_of(conn.cancel_order("#1001", "").await);
    assert_eq!(code, 404);
    assert!(reason.contains("#1001"), "{reason}");
    let posts = shop
        .routes()
        .into_iter()
        .filter(|r| r.starts_with("POST"))
        .count();
    assert_eq!(posts, 2, "only the two refused attempts were posted");
}

fn new_return(items: &[(&str, u32)]) -> NewReturn {
    NewReturn {
        order_id: "#1002".into(),
        items: items
            .iter()
            .map(|(sku, quantity)| NewReturnItem {
                sku: sku.to_string(),
                quantity: *quantity,
            })
            .collect(),
        reason: "杯子有裂纹 💔".into(),
    }
}

fn returnable_shop(shop: &Shop) {
    shop.on(
        "GET orders.json",
        200,
        json!({"orders": [{"id": 5800000000002u64, "name": "#1002"}]}).to_string(),
    )
    .on("POST graphql.json returnableFulfillments", 200, RETURNABLE);
}

#[tokio::test]
async fn a_return_is_created_with_graphql() {
    let (shop, conn) = setup().await;
    returnable_shop(&shop);
    shop.on(
        "POST graphql.json returnCreate",
        200,
        json!({"data": {"returnCreate": {"return": {"id": "gid://shopify/Return/945000954", "name": "#1002-R1", "status": "OPEN"}, "userErrors": []}}}).to_string(),
    );
    let r = conn
        .create_return(&new_return(&[("MUG-8", 2), ("KT-1702", 1)]))
        .await
        .expect("the return is created");
    assert_eq!(r.id, "#1002-R1");
    assert_eq!(r.status, "approved", "returnCreate makes an OPEN return");
    assert_eq!(r.order_id, "#1002");
    assert_eq!(r.customer_id.as_deref(), Some("207119551"));
    assert_eq!(r.reason.as_deref(), Some("杯子有裂纹 💔"));
    let items: Vec<(&str, Option<&str>, u32)> = r
        .items
        .iter()
        .map(|i| (i.sku.as_str(), i.name.as_deref(), i.quantity))
        .collect();
    assert_eq!(
        items,
        [
            ("MUG-8", Some("马克杯 🐼"), 2),
            ("KT-1702", Some("不锈钢电水壶 1.7L - 白色 ☕"), 1)
        ]
    );

    assert_eq!(
        shop.routes(),
        [
            "GET orders.json",
            "POST graphql.json returnableFulfillments",
            "POST graphql.json returnCreate"
        ]
    );
    let query = shop.only("POST graphql.json returnableFulfillments").body;
    assert_eq!(
        query["variables"],
        json!({"orderId": "gid://shopify/Order/5800000000002"})
    );
    let mutation = shop.only("POST graphql.json returnCreate").body;
    let line = |id: &str| {
        json!({"fulfillmentLineItemId": format!("gid://shopify/FulfillmentLineItem/{id}"), "quantity": 1,
               "returnReason": "OTHER", "returnReasonNote": "杯子有裂纹 💔"})
    };
    assert_eq!(
        mutation["variables"],
        json!({"returnInput": {"orderId": "gid://shopify/Order/5800000000002",
                               "returnLineItems": [line("1001"), line("2001"), line("1002")]}}),
        "two MUG-8 come from two fulfillments"
    );
}

#[tokio::test]
async fn a_return_shopify_would_refuse_is_refused_with_the_reason() {
    let (shop, conn) = setup().await;
    returnable_shop(&shop);

    // More than was fulfilled, or a SKU not fulfilled: refused before creating anything.
    let (code, reason) = status_of(conn.create_return(&new_return(&[("MUG-8", 3)])).await);
    assert_eq!(code, 422);
    assert!(reason.contains("2 can be returned"), "{reason}");
    let (code, reason) = status_of(conn.create_return(&new_return(&[("TEA-1", 1)])).await);
    assert_eq!(code, 422);
    assert!(reason.contains("TEA-1"), "{reason}");
    let (code, _) = status_of(conn.create_return(&new_return(&[])).await);
    assert_eq!(code, 422, "a return of nothing");
    assert!(
        !shop.routes().iter().any(|r| r.ends_with("returnCreate")),
        "no return was created: {:?}",
        shop.routes()
    );

    // Shopify's userErrors.
    shop.on(
        "POST graphql.json returnCreate",
        200,
        json!({"data": {"returnCreate": {"return": null, "userErrors": [{"field": ["returnInput", "returnLineItems", "0", "quantity"], "message": "退货数量无效 Quantity is not returnable"}]}}}).to_string(),
    );
    let (code, reason) = status_of(conn.create_return(&new_return(&[("MUG-8", 1)])).await);
    assert_eq!(
        (code, reason.as_str()),
        (422, "退货数量无效 Quantity is not returnable")
    );

    // A token without the returns scope.
    shop.on(
        "POST graphql.json returnableFulfillments",
        200,
        json!({"errors": [{"message": "Access denied for returnableFulfillments field. Required access: `read_returns` access scope.", "extensions": {"code": "ACCESS_DENIED"}}]}).to_string(),
    );
    let (code, reason) = status_of(conn.create_return(&new_return(&[("MUG-8", 1)])).await);
    assert_eq!(code, 403);
    assert!(reason.contains("read_returns"), "{reason}");

    // An order GraphQL does not know.
    shop.on(
        "POST graphql.json returnableFulfillments",
        200,
        r#"{"data": {"order": null, "returnableFulfillments": {"nodes": []}}}"#,
    );
    let (code, _) = status_of(conn.create_return(&new_return(&[("MUG-8", 1)])).await);
    assert_eq!(code, 404);
}

#[test]
fn settings_default_validate_and_hide_the_token() {
    let s: ShopifySettings = serde_json::from_value(json!({
        "shop_url": "https://kefu-demo.myshopify.com",
        "access_token": TOKEN,
    }))
    .expect("two keys are enough");
    assert_eq!(s.api_version, "2025-01");
    assert_eq!(s.name, "shopify");
    assert_eq!(s.max_body_bytes, 4 * 1024 * 1024);
    assert!(s.validate().is_ok());
    assert!(
        !format!("{s:?}").contains(TOKEN),
        "Debug hides the token: {s:?}"
    );
    let unknown = serde_json::from_value::<ShopifySettings>(json!({
        "shop_url": "https://kefu-demo.myshopify.com", "access_token": TOKEN, "token": "x",
    }));
    assert!(unknown.is_err(), "unknown keys are refused");
    for (patch, key) in [
        (json!({"shop_url": "kefu-demo.myshopify.com"}), "shop_url"),
        (
            json!({"shop_url": "https://kefu-demo.myshopify.com/admin"}),
            "shop_url",
        ),
        (json!({"access_token": " "}), "access_token"),
        (json!({"api_version": "2025-02"}), "api_version"),
        (json!({"api_version": "latest"}), "api_version"),
        (json!({"max_body_bytes": 0}), "max_body_bytes"),
    ] {
        let mut v = json!({"shop_url": "https://kefu-demo.myshopify.com", "access_token": TOKEN});
        for (k, x) in patch.as_object().unwrap() {
            v[k] = x.clone();
        }
        let s: ShopifySettings = serde_json::from_value(v).unwrap();
        let err = s.validate().expect_err(&format!("{patch} is invalid"));
        assert_eq!(err.0, key, "{patch}: {err:?}");
    }
}
