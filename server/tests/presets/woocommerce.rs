//! The `woocommerce` preset against a mock WooCommerce REST API v3 (axum on 127.0.0.1:0)
//! serving WooCommerce's documented JSON from `fixtures/woocommerce/`, configured as a
//! retailer would configure it. The mock checks the API key (basic authentication), pages
//! orders with `Link` headers as WooCommerce does, honours `_fields`, answers errors in
//! WooCommerce's `{code, message, data: {status}}` shape, and records every request.

use axum::response::{IntoResponse, Response};
use base64::{Engine, engine::general_purpose::STANDARD};
use kefu_server::integrations::{
    Connector, CustomerKey, NewReturn, NewReturnItem, SourceError, rest::RestConnector,
};
use serde_json::{Value, json};

use crate::mock::{self, Recorder, Request, fixture, reply, status_of};

const PREFIX: &str = "/wp-json/wc/v3/";
const KEY: &str = "ck_4f1e2d3c4b5a69788796a5b4c3d2e1f0a9b8c7d6";
const SECRET: &str = "cs_0a1b2c3d4e5f60718293a4b5c6d7e8f9a0b1c2d3";

const CUSTOMER: &str = include_str!("../fixtures/woocommerce/customer.json");
const CUSTOMERS: &str = include_str!("../fixtures/woocommerce/customers.json");
const ORDERS_PAGE1: &str = include_str!("../fixtures/woocommerce/orders_page1.json");
const ORDERS_PAGE2: &str = include_str!("../fixtures/woocommerce/orders_page2.json");
const CANCELLED: &str = include_str!("../fixtures/woocommerce/cancelled_order.json");
const REFUND: &str = include_str!("../fixtures/woocommerce/refund.json");

/// Every order of customer 42, as the two pages hold them.
fn all_orders() -> Vec<Value> {
    [ORDERS_PAGE1, ORDERS_PAGE2]
        .into_iter()
        .flat_map(|p| fixture(p).as_array().unwrap().clone())
        .collect()
}

/// WooCommerce's (WordPress's) error answer.
fn wc_error(status: u16, code: &str, message: &str) -> Response {
    reply(
        status,
        json!({"code": code, "message": message, "data": {"status": status}}),
    )
}

fn handle(shop: &Recorder, request: Request) -> Response {
    let expected = format!("Basic {}", STANDARD.encode(format!("{KEY}:{SECRET}")));
    match request.authorization() {
        Some(a) if a == expected => {}
        Some(_) => {
            return wc_error(
                401,
                "woocommerce_rest_authentication_error",
                "Consumer secret is invalid.",
            );
        }
        None => {
            return wc_error(
                401,
                "woocommerce_rest_cannot_view",
                "Sorry, you cannot list resources.",
            );
        }
    }
    let Some(path) = request.uri.path().strip_prefix(PREFIX) else {
        return wc_error(
            404,
            "rest_no_route",
            "No route was found matching the URL and request method.",
        );
    };
    shop.record(&request, path);
    let query = &request.query;
    let segments: Vec<&str> = path.split('/').collect();
    let order_by_id = |id: &str| {
        all_orders()
            .into_iter()
            .find(|o| o["id"].as_u64().is_some_and(|n| n.to_string() == id))
    };
    match (request.method.as_str(), segments.as_slice()) {
        ("GET", ["customers", "42"]) => reply(200, fixture(CUSTOMER)),
        ("GET", ["customers", _]) => {
            wc_error(404, "woocommerce_rest_invalid_id", "Invalid resource ID.")
        }
        ("GET", ["customers"]) => {
            let all = fixture(CUSTOMERS).as_array().unwrap().clone();
            let found: Vec<Value> = match query.get("email") {
                // `email` is an exact match on the account's e-mail.
                Some(e) => all
                    .into_iter()
                    .filter(|c| c["email"] == e.as_str())
                    .collect(),
                // WordPress's user search is not what is under test: every search finds
                // both customers, so the preset's own phone check is what picks.
                None => all,
            };
            reply(200, Value::Array(found))
        }
        ("GET", ["orders"]) => orders_page(&request),
        ("GET", ["orders", id]) => match order_by_id(id) {
            Some(o) => reply(200, o),
            None => wc_error(404, "woocommerce_rest_shop_order_invalid_id", "Invalid ID."),
        },
        // WooCommerce's CRUD controller answers an update of an unknown id with 400.
        ("PUT", ["orders", id]) => match order_by_id(id) {
            Some(_) if *id == "1093" => reply(200, fixture(CANCELLED)),
            Some(mut o) => {
                o["status"] = request.json()["status"].clone();
                reply(200, o)
            }
            None => wc_error(400, "woocommerce_rest_shop_order_invalid_id", "Invalid ID."),
        },
        ("POST", ["orders", "1088", "refunds"]) => reply(201, fixture(REFUND)),
        ("POST", ["orders", _, "refunds"]) => wc_error(
            404,
            "woocommerce_rest_invalid_order_id",
            "Invalid order ID.",
        ),
        _ => wc_error(
            404,
            "rest_no_route",
            "No route was found matching the URL and request method.",
        ),
    }
}

/// `GET orders?customer=42&per_page=2[&page=2]`: a page of customer 42's orders (the
/// fixtures are its two pages of two), with the `X-WP-Total`, `X-WP-TotalPages` and `Link`
/// headers WooCommerce sends.
fn orders_page(request: &Request) -> Response {
    let query = &request.query;
    if query.get("customer").map(String::as_str) != Some("42") {
        return reply(200, json!([]));
    }
    let page: usize = query.get("page").map_or(1, |p| p.parse().unwrap());
    let mut orders = match page {
        1 => fixture(ORDERS_PAGE1),
        2 => fixture(ORDERS_PAGE2),
        _ => json!([]),
    };
    // `_fields=a,b`: WordPress leaves out every other top-level field.
    if let Some(fields) = query.get("_fields") {
        let keep: Vec<&str> = fields.split(',').collect();
        for o in orders.as_array_mut().unwrap() {
            o.as_object_mut()
                .unwrap()
                .retain(|k, _| keep.contains(&k.as_str()));
        }
    }
    // WordPress builds the links from the request's own query, `page` set.
    let others: Vec<&str> = request
        .uri
        .query()
        .unwrap_or("")
        .split('&')
        .filter(|kv| !kv.starts_with("page="))
        .collect();
    let link = |n: usize, rel: &str| {
        format!(
            "<{}{PREFIX}orders?{}&page={n}>; rel=\"{rel}\"",
            request.origin,
            others.join("&")
        )
    };
    let link = if page == 1 {
        link(2, "next")
    } else {
        link(page - 1, "prev")
    };
    (
        [
            ("x-wp-total", "3".to_string()),
            ("x-wp-totalpages", "2".to_string()),
            ("link", link),
        ],
        axum::Json(orders),
    )
        .into_response()
}

/// The connector a retailer gets from `[integrations.backoffice]` with the preset and their
/// API key, `secret` its secret.
async fn setup_with(secret: &str) -> (Recorder, RestConnector) {
    let (shop, url) = mock::start(handle).await;
    let auth = format!(r#"{{ type = "basic", username = "{KEY}", password = "{secret}" }}"#);
    let settings = mock::settings("woocommerce", &format!("{url}/wp-json/wc/v3"), &auth);
    (shop, mock::connector(settings))
}

async fn setup() -> (Recorder, RestConnector) {
    setup_with(SECRET).await
}

fn zoe() -> Value {
    json!({
        "id": "42",
        "name": "Zoë Lefèvre",
        "emails": ["zoe.lefevre@example.fr", "compta@atelier-lefevre.example.fr"],
        "phones": ["+33 6 12 34 56 78"],
        "tier": null,
        "tags": [],
        "lifetime_value": null,
        "created_at": "2023-04-02T09:12:00Z",
        "notes": [],
        "attributes": {
            "company": "Atelier Lefèvre",
            "is_paying_customer": true,
            "role": "customer",
            "username": "zoe.lefevre"
        }
    })
}

fn theo() -> Value {
    json!({
        "id": "57",
        "name": "Théo Martin",
        "emails": ["theo.martin@example.fr"],
        "phones": ["06 98 76 54 32"],
        "tier": null,
        "tags": [],
        "lifetime_value": null,
        "created_at": "2024-06-11T07:45:10Z",
        "notes": [],
        "attributes": {"is_paying_customer": false, "role": "customer", "username": "theo.martin"}
    })
}

fn eur(amount: &str) -> Value {
    json!({"amount": amount, "currency": "EUR"})
}

const IMG: &str = "https://boutique.maison-lumiere.example/wp-content/uploads/2026/03/";

fn address() -> Value {
    json!({
        "name": "Zoë Lefèvre",
        "phone": "+33 6 12 34 56 78",
        "line1": "12 rue de la République",
        "line2": "Bâtiment B",
        "city": "Lyon",
        "province": null,
        "postal_code": "69002",
        "country": "FR"
    })
}

/// One of customer 42's orders as mapped, sent to her address in Lyon: `states` are its
/// status, payment status and fulfilment status, `money` its subtotal, shipping and total in
/// euros.
fn order(
    id: &str,
    placed_at: &str,
    [status, payment_status, fulfillment_status]: [&str; 3],
    [subtotal, shipping, total]: [&str; 3],
    items: Value,
    shipments: Value,
) -> Value {
    json!({
        "id": id,
        "customer_id": "42",
        "placed_at": placed_at,
        "status": status,
        "payment_status": payment_status,
        "fulfillment_status": fulfillment_status,
        "currency": "EUR",
        "subtotal": eur(subtotal),
        "shipping": eur(shipping),
        "total": eur(total),
        "items": items,
        "shipping_address": address(),
        "shipments": shipments
    })
}

/// Order 1093 as mapped, with WooCommerce's status mapped to `status`.
fn order_1093(status: &str) -> Value {
    order(
        "1093",
        "2026-11-20T08:31:00Z",
        [status, "paid", "unfulfilled"],
        ["72.00", "6.90", "94.68"],
        json!([
            {"sku": "LMP-ETOILE-BL", "name": "Lampe de chevet « Étoile » - Bleu nuit", "quantity": 1,
             "unit_price": eur("59.00"), "image_url": format!("{IMG}lampe-etoile-bleu.jpg")},
            {"sku": "AMP-E14-2", "name": "Ampoule LED E14 (lot de 2)", "quantity": 2,
             "unit_price": eur("6.50"), "image_url": format!("{IMG}ampoule-e14.jpg")}
        ]),
        json!([]),
    )
}

/// The reason of an action the preset's body filter refused with `error(…)`, before
/// anything was sent (the connector reports it as a mapping failure or as a refusal).
fn refusal<T: std::fmt::Debug>(r: Result<T, SourceError>) -> String {
    match r {
        Err(SourceError::Mapping(m)) => m,
        Err(SourceError::Status { code: 422, reason }) => reason,
        other => panic!("expected the body filter's refusal, got {other:?}"),
    }
}

#[tokio::test]
async fn a_customer_by_id_maps_names_addresses_and_attributes() {
    let (shop, conn) = setup().await;
    let found = conn
        .find_customer(&CustomerKey::Id("42".into()))
        .await
        .unwrap();
    assert!(found.warnings.is_empty(), "{:?}", found.warnings);
    let c = found.data.expect("customer 42 is found");
    assert_eq!(serde_json::to_value(&c).unwrap(), zoe());
    assert_eq!(shop.routes(), ["GET customers/42"]);

    let missing = conn
        .find_customer(&CustomerKey::Id("7".into()))
        .await
        .unwrap();
    assert!(
        missing.data.is_none() && missing.warnings.is_empty(),
        "WooCommerce's 404 is not found"
    );
}

#[tokio::test]
async fn customers_by_email_by_phone_and_by_search() {
    let (shop, conn) = setup().await;
    let by_email = conn
        .find_customer(&CustomerKey::Email("theo.martin@example.fr".into()))
        .await
        .unwrap();
    assert!(by_email.warnings.is_empty(), "{:?}", by_email.warnings);
    assert_eq!(serde_json::to_value(by_email.data).unwrap(), theo());
    assert_eq!(shop.seen()[0].query["email"], "theo.martin@example.fr");

    // WooCommerce has no phone filter: a search, then the preset keeps whose billing or
    // shipping phone is the number, national or international.
    for (phone, expected) in [("+33612345678", zoe()), ("+33 6 98 76 54 32", theo())] {
        let found = conn
            .find_customer(&CustomerKey::Phone(phone.into()))
            .await
            .unwrap();
        assert!(found.warnings.is_empty(), "{:?}", found.warnings);
        assert_eq!(
            serde_json::to_value(found.data).unwrap(),
            expected,
            "{phone}"
        );
        let asked = shop.seen().last().unwrap().clone();
        assert_eq!(
            (asked.route.as_str(), asked.query["search"].as_str()),
            ("GET customers", phone)
        );
    }
    let nobody = conn
        .find_customer(&CustomerKey::Phone("+33 1 40 00 00 00".into()))
        .await
        .unwrap();
    assert!(nobody.data.is_none(), "{:?}", nobody.data);

    let all = conn.search_customers("Lyon").await.unwrap();
    assert_eq!(serde_json::to_value(all).unwrap(), json!([zoe(), theo()]));
    assert_eq!(shop.seen().last().unwrap().query["search"], "Lyon");
}

#[tokio::test]
async fn orders_follow_the_link_header_across_pages_newest_first() {
    let (shop, conn) = setup().await;
    let found = conn.orders("42").await.unwrap();
    assert!(found.warnings.is_empty(), "{:?}", found.warnings);
    let expected = json!([
        order_1093("processing"),
        order(
            "1088",
            "2026-11-02T17:05:12Z",
            ["shipped", "paid", "fulfilled"],
            ["139.00", "6.90", "169.08"],
            json!([
                {"sku": "PLD-MERINO-GR", "name": "Plaid en laine mérinos", "quantity": 1,
                 "unit_price": eur("89.00"), "image_url": format!("{IMG}plaid-merinos-gris.jpg")},
                {"sku": "COU-HIRONDELLE", "name": "Coussin brodé « Hirondelle »", "quantity": 2,
                 "unit_price": eur("22.50"), "image_url": format!("{IMG}coussin-hirondelle.jpg")}
            ]),
            json!([{
                "carrier": "Chronopost",
                "tracking_number": "XY123456789FR",
                "tracking_url": "https://www.chronopost.fr/tracking-no-cms/suivi-page?listeNumerosLT=XY123456789FR",
                "status": null,
                "shipped_at": "2026-11-04T00:00:00Z"
            }]),
        ),
        order(
            "1050",
            "2026-09-15T12:20:00Z",
            ["shipped", "partially_refunded", "fulfilled"],
            ["24.00", "4.90", "34.68"],
            json!([
                {"sku": "TAS-MATIN", "name": "Tasse en grès « Matin »", "quantity": 2,
                 "unit_price": eur("12.00"), "image_url": format!("{IMG}tasse-matin.jpg")}
            ]),
            json!([{
                "carrier": "Mondial Relay – point relais",
                "tracking_number": null,
                "tracking_url": null,
                "status": null,
                "shipped_at": "2026-09-17T09:00:00Z"
            }]),
        ),
    ]);
    assert_eq!(serde_json::to_value(&found.data).unwrap(), expected);

    let pages = shop.seen();
    assert_eq!(shop.routes(), ["GET orders", "GET orders"]);
    for (seen, page) in pages.iter().zip([None, Some("2")]) {
        let q = &seen.query;
        assert_eq!(q["customer"], "42");
        assert_eq!(
            (q["orderby"].as_str(), q["order"].as_str()),
            ("date", "desc")
        );
        assert_eq!(q["per_page"], "2");
        assert_eq!(
            q.get("page").map(String::as_str),
            page,
            "the second page is the Link's"
        );
    }
}

#[tokio::test]
async fn returns_are_the_refunds_of_the_customers_orders() {
    let (shop, conn) = setup().await;
    let found = conn.returns("42").await.unwrap();
    assert!(found.warnings.is_empty(), "{:?}", found.warnings);
    let refund = |id: &str, reason: Value, amount: &str| {
        json!({
            "id": id,
            "order_id": "1050",
            "customer_id": "42",
            "status": "refunded",
            "reason": reason,
            "items": [],
            "refund": {"amount": eur(amount), "state": "refunded"},
            "created_at": null
        })
    };
    assert_eq!(
        serde_json::to_value(&found.data).unwrap(),
        json!([
            refund("1077", json!("Tasse arrivée ébréchée"), "14.40"),
            refund("1061", Value::Null, "5.88")
        ])
    );
    // The first page's orders have no refunds: the Link, not a count of returns, says
    // that a second page follows.
    assert_eq!(shop.routes(), ["GET orders", "GET orders"]);
    for seen in shop.seen() {
        assert_eq!(seen.query["_fields"], "id,customer_id,currency,refunds");
    }
}

#[tokio::test]
async fn a_return_is_a_refund_of_the_order_lines_without_moving_money() {
    let (shop, conn) = setup().await;
    let ret = conn
        .create_return(&NewReturn {
            order_id: "1088".into(),
            items: vec![
                NewReturnItem {
                    sku: "PLD-MERINO-GR".into(),
                    quantity: 1,
                },
                NewReturnItem {
                    sku: "COU-HIRONDELLE".into(),
                    quantity: 1,
                },
            ],
            reason: "Taille du plaid trop petite, coussin en double".into(),
        })
        .await
        .unwrap();
    assert_eq!(
        shop.routes(),
        ["GET orders/1088", "POST orders/1088/refunds"]
    );
    // One of the two cushions: half its discounted total and half its tax.
    assert_eq!(
        shop.seen()[1].body,
        json!({
            "amount": "133.80",
            "reason": "Taille du plaid trop petite, coussin en double",
            "api_refund": false,
            "api_restock": false,
            "line_items": [
                {"id": 1201, "quantity": 1, "refund_total": 89, "refund_tax": [{"id": 1, "refund_total": 17.8}]},
                {"id": 1202, "quantity": 1, "refund_total": 22.5, "refund_tax": [{"id": 1, "refund_total": 4.5}]}
            ]
        })
    );
    assert_eq!(
        serde_json::to_value(&ret).unwrap(),
        json!({
            "id": "1104",
            "order_id": "1088",
            "customer_id": "42",
            "status": "approved",
            "reason": "Taille du plaid trop petite, coussin en double",
            "items": [
                {"sku": "PLD-MERINO-GR", "name": "Plaid en laine mérinos", "quantity": 1},
                {"sku": "COU-HIRONDELLE", "name": "Coussin brodé « Hirondelle »", "quantity": 1}
            ],
            "refund": {"amount": eur("133.80"), "state": "pending"},
            "created_at": "2026-11-25T10:00:00Z"
        }),
        "no money moved (refunded_payment: false): the refund is pending"
    );
}

#[tokio::test]
async fn a_return_of_what_the_order_does_not_hold_is_refused_before_sending() {
    let (shop, conn) = setup().await;
    let ret = |sku: &str, quantity: u32| NewReturn {
        order_id: "1088".into(),
        items: vec![NewReturnItem {
            sku: sku.into(),
            quantity,
        }],
        reason: "Ne convient pas".into(),
    };
    let e = refusal(conn.create_return(&ret("TAS-MATIN", 1)).await);
    assert!(
        e.contains("order 1088 has no line with SKU TAS-MATIN"),
        "{e}"
    );
    let e = refusal(conn.create_return(&ret("PLD-MERINO-GR", 2)).await);
    assert!(
        e.contains("order 1088 has 1 of PLD-MERINO-GR, not 2"),
        "{e}"
    );
    assert_eq!(
        shop.routes(),
        ["GET orders/1088", "GET orders/1088"],
        "no refund was asked for"
    );
}

#[tokio::test]
async fn cancelling_sets_the_status_and_a_paid_order_stays_paid() {
    let (shop, conn) = setup().await;
    let order = conn
        .cancel_order("1093", "La cliente a changé d'avis")
        .await
        .unwrap();
    assert_eq!(shop.routes(), ["GET orders/1093", "PUT orders/1093"]);
    assert_eq!(shop.seen()[1].body, json!({"status": "cancelled"}));
    assert_eq!(
        serde_json::to_value(&order).unwrap(),
        order_1093("cancelled")
    );
}

#[tokio::test]
async fn cancelling_an_order_woocommerce_already_sent_is_refused_before_sending() {
    let (shop, conn) = setup().await;
    let e = refusal(conn.cancel_order("1088", "Trop tard ?").await);
    assert!(e.contains("order 1088 is completed in WooCommerce"), "{e}");
    assert_eq!(
        shop.routes(),
        ["GET orders/1088"],
        "no status update was sent"
    );
}

#[tokio::test]
async fn an_unknown_order_on_cancel_is_woocommerces_own_error() {
    let (shop, conn) = setup().await;
    // WooCommerce answers a read of an unknown order 404 (so `$order` is null) and an
    // update of one 400, both with its `{code, message, data}` error.
    let (code, reason) = status_of(conn.cancel_order("999999", "Doublon").await);
    assert_eq!((code, reason.as_str()), (400, "Invalid ID."));
    assert_eq!(shop.routes(), ["GET orders/999999", "PUT orders/999999"]);
}

#[tokio::test]
async fn a_wrong_secret_is_woocommerces_401() {
    let (_shop, conn) = setup_with("cs_wrong").await;
    let (code, reason) = status_of(conn.find_customer(&CustomerKey::Id("42".into())).await);
    assert_eq!(
        (code, reason.as_str()),
        (401, "Consumer secret is invalid.")
    );
}
