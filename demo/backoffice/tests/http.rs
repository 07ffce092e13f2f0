//! The HTTP server over a real socket: documented paths, shapes, status codes and errors.
//! Each test gets its own server (port 0) so write actions do not leak between tests.

use std::time::{Duration, Instant};

use kefu_demo_backoffice::{Config, Showcase, dataset, serve, serve_with, time::Timestamp};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::net::TcpListener;

const SEED: u64 = 42;

struct Server {
    base: String,
    client: reqwest::Client,
    showcase: Showcase,
}

impl Server {
    async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(serve(listener, SEED));
        Self::client_for(base)
    }

    fn client_for(base: String) -> Self {
        Self {
            base,
            client: reqwest::Client::new(),
            showcase: dataset(SEED).showcase().clone(),
        }
    }

    async fn get(&self, path: &str, query: &[(&str, &str)]) -> (StatusCode, Value) {
        let response = self
            .client
            .get(format!("{}{path}", self.base))
            .query(query)
            .send()
            .await
            .unwrap();
        let status = response.status();
        (status, response.json().await.unwrap())
    }

    async fn post(&self, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let mut request = self.client.post(format!("{}{path}", self.base));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        (status, response.json().await.unwrap())
    }
}

/// The keys of a JSON object, sorted.
fn keys(v: &Value) -> Vec<&str> {
    let mut keys: Vec<&str> = v
        .as_object()
        .unwrap_or_else(|| panic!("expected an object, got {v}"))
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    keys
}

fn assert_keys(v: &Value, expected: &[&str], what: &str) {
    let mut expected = expected.to_vec();
    expected.sort_unstable();
    assert_eq!(
        keys(v),
        expected,
        "{what} has exactly the documented fields: {v}"
    );
}

/// `{"amount": "459.00", "currency": "CNY"}` with a decimal string, never a number.
fn assert_money(v: &Value, what: &str) {
    assert_keys(v, &["amount", "currency"], what);
    let amount = v["amount"]
        .as_str()
        .unwrap_or_else(|| panic!("{what}: amount must be a string, got {}", v["amount"]));
    let (whole, frac) = amount.split_once('.').unwrap_or((amount, ""));
    assert!(
        !whole.is_empty() && whole.bytes().all(|b| b.is_ascii_digit()) && frac.len() == 2,
        "{what}: amount {amount:?} is a decimal with two places"
    );
    assert_eq!(v["currency"], "CNY", "{what}: currency");
}

/// An RFC 3339 UTC time such as `2026-11-20T08:31:00Z`.
fn assert_time(v: &Value, what: &str) {
    let text = v
        .as_str()
        .unwrap_or_else(|| panic!("{what}: time must be a string, got {v}"));
    let parsed: Timestamp = text.parse().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert_eq!(parsed.to_string(), text, "{what}: canonical UTC form");
}

fn assert_strings(v: &Value, what: &str) {
    let items = v
        .as_array()
        .unwrap_or_else(|| panic!("{what}: expected an array, got {v}"));
    assert!(
        items.iter().all(Value::is_string),
        "{what}: strings only: {v}"
    );
}

fn assert_customer(c: &Value) {
    let what = format!("customer {}", c["id"]);
    assert_keys(
        c,
        &[
            "id",
            "name",
            "emails",
            "phones",
            "tier",
            "tags",
            "lifetime_value",
            "created_at",
            "notes",
            "attributes",
        ],
        &what,
    );
    assert!(
        c["id"].as_str().is_some_and(|id| id.starts_with('C')),
        "{what}: id"
    );
    assert!(c["name"].is_string(), "{what}: name");
    assert_strings(&c["emails"], &what);
    assert_strings(&c["phones"], &what);
    assert_strings(&c["tags"], &what);
    let tier = c["tier"].as_str().unwrap_or_default();
    assert!(
        ["bronze", "silver", "gold", "platinum"].contains(&tier),
        "{what}: tier {tier}"
    );
    assert_money(&c["lifetime_value"], &what);
    assert_time(&c["created_at"], &what);
    for note in c["notes"].as_array().expect("notes is an array") {
        assert_keys(note, &["at", "author", "text"], &format!("{what} note"));
        assert_time(&note["at"], &what);
    }
    assert!(
        c["attributes"].is_object(),
        "{what}: attributes is an object"
    );
}

fn assert_order(o: &Value) {
    let what = format!("order {}", o["id"]);
    assert_keys(
        o,
        &[
            "id",
            "customer_id",
            "placed_at",
            "status",
            "payment_status",
            "fulfillment_status",
            "currency",
            "subtotal",
            "shipping",
            "total",
            "items",
            "shipping_address",
            "shipments",
        ],
        &what,
    );
    assert_time(&o["placed_at"], &what);
    let one_of = |field: &str, allowed: &[&str]| {
        let value = o[field].as_str().unwrap_or_default();
        assert!(
            allowed.contains(&value),
            "{what}: {field} {value:?} not in {allowed:?}"
        );
    };
    one_of(
        "status",
        &[
            "pending",
            "paid",
            "processing",
            "shipped",
            "delivered",
            "cancelled",
            "refunded",
        ],
    );
    one_of(
        "payment_status",
        &[
            "pending",
            "paid",
            "refunded",
            "partially_refunded",
            "failed",
        ],
    );
    one_of(
        "fulfillment_status",
        &["unfulfilled", "partial", "fulfilled"],
    );
    for field in ["subtotal", "shipping", "total"] {
        assert_money(&o[field], &format!("{what} {field}"));
    }
    let cents = |m: &Value| {
        kefu_demo_backoffice::money::parse_cents(m["amount"].as_str().unwrap()).unwrap()
    };
    let mut sum = 0;
    for item in o["items"].as_array().expect("items is an array") {
        assert_keys(
            item,
            &["sku", "name", "quantity", "unit_price", "image_url"],
            &format!("{what} item"),
        );
        assert_money(&item["unit_price"], &what);
        let quantity = item["quantity"].as_i64().expect("quantity is an integer");
        sum += quantity * cents(&item["unit_price"]);
        assert!(
            item["image_url"]
                .as_str()
                .is_some_and(|u| u.starts_with("https://img.demo-shop.example/")),
            "{what}: image URL"
        );
    }
    assert_eq!(
        cents(&o["subtotal"]),
        sum,
        "{what}: subtotal = Σ quantity × unit price"
    );
    assert_eq!(
        cents(&o["total"]),
        cents(&o["subtotal"]) + cents(&o["shipping"]),
        "{what}: total = subtotal + shipping"
    );
    assert_keys(
        &o["shipping_address"],
        &[
            "name",
            "phone",
            "line1",
            "line2",
            "city",
            "province",
            "postal_code",
            "country",
        ],
        &format!("{what} address"),
    );
    for s in o["shipments"].as_array().expect("shipments is an array") {
        assert_keys(
            s,
            &[
                "carrier",
                "tracking_number",
                "tracking_url",
                "status",
                "shipped_at",
            ],
            &format!("{what} shipment"),
        );
        assert_time(&s["shipped_at"], &what);
    }
}

fn assert_return(r: &Value) {
    let what = format!("return {}", r["id"]);
    assert_keys(
        r,
        &[
            "id",
            "order_id",
            "customer_id",
            "status",
            "reason",
            "items",
            "refund",
            "created_at",
        ],
        &what,
    );
    for item in r["items"].as_array().expect("items is an array") {
        assert_keys(item, &["sku", "name", "quantity"], &format!("{what} item"));
    }
    assert_keys(
        &r["refund"],
        &["amount", "state"],
        &format!("{what} refund"),
    );
    assert_money(&r["refund"]["amount"], &what);
    let state = r["refund"]["state"].as_str().unwrap_or_default();
    assert!(
        ["none", "pending", "refunded"].contains(&state),
        "{what}: refund state {state}"
    );
    assert_time(&r["created_at"], &what);
}

/// `{"error": "…"}` and nothing else.
fn assert_error(body: &Value, what: &str) {
    assert_keys(body, &["error"], what);
    assert!(
        body["error"].as_str().is_some_and(|e| !e.is_empty()),
        "{what}: error is a non-empty string"
    );
}

fn ids(list: &Value) -> Vec<&str> {
    list.as_array()
        .unwrap_or_else(|| panic!("expected an array, got {list}"))
        .iter()
        .map(|v| v["id"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn customer_by_id_has_the_documented_shape() {
    let server = Server::start().await;
    let (status, c) = server.get("/customers/C10001", &[]).await;
    assert_eq!(status, StatusCode::OK, "{c}");
    assert_customer(&c);
    assert_eq!(c["name"], "王芳");
    assert_eq!(c["tier"], "gold");

    let (status, body) = server.get("/customers/C99999", &[]).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "unknown customer: {body}");
    assert_error(&body, "unknown customer");
}

#[tokio::test]
async fn customers_are_found_by_email_phone_and_text() {
    let server = Server::start().await;
    let find = |param: &'static str, value: &'static str| {
        let server = &server;
        async move {
            let (status, body) = server.get("/customers", &[(param, value)]).await;
            assert_eq!(status, StatusCode::OK, "{param}={value}: {body}");
            assert_keys(&body, &["customers"], "lookup answer");
            body["customers"]
                .as_array()
                .unwrap()
                .iter()
                .for_each(assert_customer);
            body
        }
    };

    let body = find("email", "Wang.Fang@Example.cn").await;
    assert_eq!(ids(&body["customers"]), ["C10001"], "e-mail ignores case");
    let body = find("email", "nobody@example.invalid").await;
    assert_eq!(
        ids(&body["customers"]),
        Vec::<&str>::new(),
        "unknown e-mail: empty list"
    );

    // reqwest encodes `+` as %2B; also try the forms a shopper types.
    for phone in ["+86 138 0013 8000", "13800138000", "+8613800138000"] {
        let body = find("phone", phone).await;
        assert_eq!(ids(&body["customers"]), ["C10001"], "phone {phone:?}");
    }

    let body = find("q", "wang.fang").await;
    assert!(
        ids(&body["customers"]).contains(&"C10001"),
        "q matches e-mail: {body}"
    );
    let body = find("q", "0013 8000").await;
    assert!(
        ids(&body["customers"]).contains(&"C10001"),
        "q matches phone: {body}"
    );
    let body = find("q", "王").await;
    let found = body["customers"].as_array().unwrap();
    assert!(!found.is_empty(), "王 is a common surname");
    assert!(found.len() <= 20, "at most 20 results, got {}", found.len());
    for c in found {
        assert!(
            c["name"].as_str().unwrap().contains('王'),
            "q=王 matched {}",
            c["name"]
        );
    }
    let body = find("q", "E").await;
    assert_eq!(
        body["customers"].as_array().unwrap().len(),
        20,
        "a letter in most e-mails hits the limit of 20"
    );

    for query in [
        vec![],
        vec![("email", "a@b.c"), ("q", "x")],
        vec![("q", " ")],
    ] {
        let (status, body) = server.get("/customers", &query).await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{query:?}: {body}"
        );
        assert_error(&body, "bad customer query");
    }
}

#[tokio::test]
async fn orders_and_returns_come_newest_first() {
    let server = Server::start().await;
    let (status, body) = server.get("/customers/C10001/orders", &[]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_keys(&body, &["orders"], "orders answer");
    let orders = body["orders"].as_array().unwrap();
    assert_eq!(orders.len(), 8, "C10001 has one order per showcase role");
    orders.iter().for_each(assert_order);
    let placed: Vec<&str> = orders
        .iter()
        .map(|o| o["placed_at"].as_str().unwrap())
        .collect();
    assert!(
        placed.windows(2).all(|w| w[0] >= w[1]),
        "newest first: {placed:?}"
    );
    assert!(orders.iter().all(|o| o["customer_id"] == "C10001"));
    let shipped = orders
        .iter()
        .find(|o| o["id"] == server.showcase.shipped_order_id.as_str())
        .expect("the shipped order is listed");
    assert_eq!(shipped["shipments"][0]["carrier"], "SF Express");
    assert_eq!(shipped["shipments"][0]["status"], "in_transit");

    let (status, body) = server.get("/customers/C10001/returns", &[]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_keys(&body, &["returns"], "returns answer");
    let returns = body["returns"].as_array().unwrap();
    assert!(
        returns.len() >= 2,
        "C10001 has an open and a refunded return: {body}"
    );
    returns.iter().for_each(assert_return);
    let created: Vec<&str> = returns
        .iter()
        .map(|r| r["created_at"].as_str().unwrap())
        .collect();
    assert!(
        created.windows(2).all(|w| w[0] >= w[1]),
        "newest first: {created:?}"
    );
    assert_eq!(returns[0]["id"], server.showcase.open_return_id.as_str());

    for path in ["/customers/C99999/orders", "/customers/C99999/returns"] {
        let (status, body) = server.get(path, &[]).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}: {body}");
        assert_error(&body, path);
    }
}

#[tokio::test]
async fn a_return_is_created_and_listed() {
    let server = Server::start().await;
    let order = server.showcase.returnable_order_id.clone();
    let body = json!({
        "order_id": order,
        "items": [{"sku": "KT-1702", "quantity": 1}, {"sku": "MG-0330", "quantity": 1}],
        "reason": "damaged on arrival",
    });
    let (status, created) = server.post("/returns", Some(body)).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_return(&created);
    assert_eq!(created["status"], "requested");
    assert_eq!(created["customer_id"], "C10001");
    assert_eq!(created["order_id"], order.as_str());
    assert_eq!(
        created["items"][0]["name"], "不锈钢电水壶 1.7L",
        "names come from the order"
    );
    assert_eq!(
        created["refund"]["amount"]["amount"], "258.00",
        "199.00 + 59.00"
    );
    assert_eq!(created["refund"]["state"], "none", "nothing refunded yet");

    let (_, listed) = server.get("/customers/C10001/returns", &[]).await;
    assert_eq!(
        listed["returns"][0], created,
        "the new return is listed first"
    );

    // One mug of two is already in a return.
    let again =
        json!({"order_id": order, "items": [{"sku": "MG-0330", "quantity": 2}], "reason": "x"});
    let (status, body) = server.post("/returns", Some(again)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_error(&body, "over-return");
    assert!(
        body["error"].as_str().unwrap().contains("only 1"),
        "says what is left: {body}"
    );
}

#[tokio::test]
async fn bad_returns_are_refused_with_the_documented_status() {
    let server = Server::start().await;
    let returnable = server.showcase.returnable_order_id.as_str();
    let paid = server.showcase.cancellable_order_id.as_str();
    let cases = [
        (
            json!({"order_id": "SO-1999-000001", "items": [{"sku": "KT-1702", "quantity": 1}], "reason": "x"}),
            StatusCode::NOT_FOUND,
            "unknown order",
        ),
        (
            json!({"order_id": paid, "items": [{"sku": "BP-3002", "quantity": 1}], "reason": "x"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "order not delivered",
        ),
        (
            json!({"order_id": returnable, "items": [{"sku": "TP-0450", "quantity": 1}], "reason": "x"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "SKU not in the order",
        ),
        (
            json!({"order_id": returnable, "items": [{"sku": "KT-1702", "quantity": 0}], "reason": "x"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "quantity 0",
        ),
        (
            json!({"order_id": returnable, "items": [{"sku": "KT-1702", "quantity": 2}], "reason": "x"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "more than ordered",
        ),
        (
            json!({"order_id": returnable, "items": [], "reason": "x"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "no items",
        ),
        (
            json!({"order_id": returnable, "items": [{"sku": "KT-1702", "quantity": 1}]}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "no reason",
        ),
    ];
    for (body, expected, what) in cases {
        let (status, answer) = server.post("/returns", Some(body)).await;
        assert_eq!(status, expected, "{what}: {answer}");
        assert_error(&answer, what);
    }

    let response = server
        .client
        .post(format!("{}/returns", server.base))
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST, "malformed JSON");
    assert_error(&response.json().await.unwrap(), "malformed JSON");

    let (_, listed) = server.get("/customers/C10001/returns", &[]).await;
    assert_eq!(
        listed["returns"][0]["id"],
        server.showcase.open_return_id.as_str(),
        "refused requests create nothing"
    );
}

#[tokio::test]
async fn orders_are_cancelled_until_they_ship() {
    let server = Server::start().await;
    let id = server.showcase.cancellable_order_id.clone();
    let path = format!("/orders/{id}/cancel");
    let (status, order) = server
        .post(
            &path,
            Some(json!({"reason": "customer changed their mind"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{order}");
    assert_order(&order);
    assert_eq!(order["status"], "cancelled");
    assert_eq!(
        order["payment_status"], "refunded",
        "a paid order's money goes back"
    );

    let (_, listed) = server.get("/customers/C10001/orders", &[]).await;
    let stored = listed["orders"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["id"] == id.as_str())
        .expect("still listed");
    assert_eq!(stored["status"], "cancelled", "the cancellation is kept");

    let (status, body) = server.post(&path, Some(json!({"reason": "again"}))).await;
    assert_eq!(status, StatusCode::CONFLICT, "already cancelled: {body}");
    assert_error(&body, "second cancel");

    for id in [
        &server.showcase.shipped_order_id,
        &server.showcase.returnable_order_id,
    ] {
        let (status, body) = server
            .post(
                &format!("/orders/{id}/cancel"),
                Some(json!({"reason": "x"})),
            )
            .await;
        assert_eq!(status, StatusCode::CONFLICT, "{id} has shipped: {body}");
        assert_error(&body, "cancel after shipping");
    }

    // No body at all is accepted; an unpaid order stays unpaid.
    let pending = &server.showcase.pending_order_id;
    let (status, order) = server
        .post(&format!("/orders/{pending}/cancel"), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{order}");
    assert_eq!(order["status"], "cancelled");
    assert_eq!(
        order["payment_status"], "pending",
        "nothing was paid, nothing refunded"
    );

    let (status, body) = server
        .post(
            "/orders/SO-1999-000001/cancel",
            Some(json!({"reason": "x"})),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert_error(&body, "unknown order");
}

#[tokio::test]
async fn unknown_routes_and_methods_answer_json_errors() {
    let server = Server::start().await;
    let (status, body) = server.get("/nope", &[]).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert_error(&body, "unknown route");
    let (status, body) = server.post("/customers/C10001", None).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "{body}");
    assert_error(&body, "wrong method");
}

#[tokio::test]
async fn the_configured_delay_slows_every_response() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let delay = Duration::from_millis(300);
    let config = Config {
        seed: SEED,
        delay,
        ..Config::default()
    };
    tokio::spawn(serve_with(listener, config, std::future::pending()));
    let server = Server::client_for(base);

    for path in ["/customers/C10001", "/nope"] {
        let started = Instant::now();
        let (status, _) = server.get(path, &[]).await;
        let took = started.elapsed();
        assert!(
            took >= delay,
            "{path} answered {status} after {took:?}, before the {delay:?} delay"
        );
    }
}
