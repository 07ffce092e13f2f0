//! The `magento2` preset against a mock Magento 2.4 REST API (axum on 127.0.0.1:0) serving
//! Magento's documented JSON from `fixtures/magento2/`, configured as a retailer would
//! configure it. The mock checks the integration's bearer token, answers searches only for
//! the `searchCriteria` it expects, repeats the last page past the end as Magento does,
//! answers errors in Magento's `{message, parameters}` shape, and records every request.

use std::collections::{BTreeMap, HashMap};

use axum::response::Response;
use kefu_server::integrations::{
    Address, Connector, Customer, CustomerKey, LineItem, Money, NewReturn, NewReturnItem, Order,
    Return, ReturnItem, rest::RestConnector,
};
use serde_json::{Value, json};

use crate::mock::{self, Recorder, Request, fixture, reply, status_of};

const PREFIX: &str = "/rest/default/V1";
const TOKEN: &str = "8x2kq0v7n3r5t1w9y4b6d0f2h8j3l5m7";

const CUSTOMER: &str = include_str!("../fixtures/magento2/customer.json");
const BY_EMAIL: &str = include_str!("../fixtures/magento2/customers_by_email.json");
const SEARCH: &str = include_str!("../fixtures/magento2/customers_search.json");
const ORDERS_PAGE1: &str = include_str!("../fixtures/magento2/orders_page1.json");
const ORDERS_PAGE2: &str = include_str!("../fixtures/magento2/orders_page2.json");
const ORDER: &str = include_str!("../fixtures/magento2/order.json");
const RETURNS: &str = include_str!("../fixtures/magento2/returns.json");
const CREATED_RETURN: &str = include_str!("../fixtures/magento2/created_return.json");
const CANCELLED: &str = include_str!("../fixtures/magento2/cancel.json");

const NO_ENTITY: &str =
    "The entity that was requested doesn't exist. Verify the entity and try again.";

/// Magento's error answer.
fn magento_error(status: u16, message: &str, parameters: Value) -> Response {
    reply(
        status,
        json!({"message": message, "parameters": parameters}),
    )
}

/// `searchCriteria[filterGroups][0][filters][{i}][{key}]` of a request.
fn filter<'a>(q: &'a HashMap<String, String>, i: usize, key: &str) -> Option<&'a str> {
    q.get(&format!(
        "searchCriteria[filterGroups][0][filters][{i}][{key}]"
    ))
    .map(String::as_str)
}

fn handle(shop: &Recorder, request: Request) -> Response {
    if request.authorization() != Some(format!("Bearer {TOKEN}").as_str()) {
        let resources = json!({"resources": "Magento_Customer::customer"});
        return magento_error(
            401,
            "The consumer isn't authorized to access %resources.",
            resources,
        );
    }
    let Some(path) = request.uri.path().strip_prefix(PREFIX) else {
        return magento_error(404, "Request does not match any route.", json!([]));
    };
    shop.record(&request, path);
    let query = &request.query;
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let by_customer = |field: &str| {
        filter(query, 0, "field") == Some(field)
            && filter(query, 0, "value") == Some("58")
            && filter(query, 0, "conditionType") == Some("eq")
    };
    match (request.method.as_str(), segments.as_slice()) {
        ("GET", ["customers", "58"]) => reply(200, fixture(CUSTOMER)),
        ("GET", ["customers", "search"]) => {
            let wanted = (
                filter(query, 0, "field"),
                filter(query, 0, "value"),
                filter(query, 0, "conditionType"),
            );
            match wanted {
                (Some("email"), Some("juergen.weiss@example.de"), Some("eq"))
                | (Some("billing_telephone"), Some("+49 30 1234567"), Some("eq")) => {
                    reply(200, fixture(BY_EMAIL))
                }
                (Some("name"), Some("%wei%"), Some("like")) => reply(200, fixture(SEARCH)),
                _ => reply(
                    200,
                    json!({"items": [], "search_criteria": {}, "total_count": 0}),
                ),
            }
        }
        ("GET", ["customers", id]) => magento_error(
            404,
            "No such entity with %fieldName = %fieldValue",
            json!({"fieldName": "customerId", "fieldValue": id}),
        ),
        // Past the last page Magento answers the last page again.
        ("GET", ["orders"]) if by_customer("customer_id") => {
            match query.get("searchCriteria[currentPage]").map(String::as_str) {
                Some("1") => reply(200, fixture(ORDERS_PAGE1)),
                _ => reply(200, fixture(ORDERS_PAGE2)),
            }
        }
        ("GET", ["orders", "1017"]) => reply(200, fixture(ORDER)),
        ("GET", ["orders", "1042"]) => reply(200, fixture(ORDERS_PAGE1)["items"][0].clone()),
        ("GET", ["returns"]) if by_customer("customer_id") => reply(200, fixture(RETURNS)),
        ("POST", ["returns"]) => reply(200, fixture(CREATED_RETURN)),
        ("POST", ["orders", "1042", "cancel"]) => reply(200, fixture(CANCELLED)),
        // A complete order can no longer be cancelled: Magento answers `false`.
        ("POST", ["orders", "1017", "cancel"]) => reply(200, json!(false)),
        ("GET", ["orders", _]) | ("POST", ["orders", _, "cancel"]) => {
            magento_error(404, NO_ENTITY, json!([]))
        }
        _ => magento_error(404, "Request does not match any route.", json!([])),
    }
}

/// The connector a retailer gets from `[integrations.backoffice]` with the preset.
fn connector(url: &str, token: &str) -> RestConnector {
    let auth = format!(r#"{{ type = "bearer", token = "{token}" }}"#);
    let s = mock::settings("magento2", &format!("{url}{PREFIX}"), &auth);
    assert_eq!(
        s.paging.param, "searchCriteria[currentPage]",
        "the preset's paging stays"
    );
    mock::connector(s)
}

async fn setup() -> (Recorder, RestConnector) {
    let (shop, url) = mock::start(handle).await;
    (shop, connector(&url, TOKEN))
}

fn eur(amount: &str) -> Option<Money> {
    Some(Money {
        amount: amount.into(),
        currency: "EUR".into(),
    })
}

fn line(sku: &str, name: &str, quantity: u32, price: &str) -> LineItem {
    LineItem {
        sku: sku.into(),
        name: name.into(),
        quantity,
        unit_price: eur(price),
        image_url: None,
    }
}

fn s(v: &str) -> Option<String> {
    Some(v.into())
}

fn berlin() -> Option<Address> {
    Some(Address {
        name: s("Jürgen Weiß"),
        phone: s("+49 30 1234567"),
        line1: s("Kastanienallee 12"),
        line2: s("Hinterhaus, 3. OG"),
        city: s("Berlin"),
        province: s("Berlin"),
        postal_code: s("10435"),
        country: s("DE"),
    })
}

/// One of customer 58's orders as mapped, in euros with 4.95 shipping to his address in
/// Berlin: `states` are its status, payment status and fulfilment status, `money` its
/// subtotal and total.
fn order(
    id: &str,
    placed_at: &str,
    [status, payment_status, fulfillment_status]: [&str; 3],
    [subtotal, total]: [&str; 2],
    items: Vec<LineItem>,
) -> Order {
    Order {
        id: id.into(),
        customer_id: s("58"),
        placed_at: s(placed_at),
        status: status.into(),
        payment_status: s(payment_status),
        fulfillment_status: s(fulfillment_status),
        currency: s("EUR"),
        subtotal: eur(subtotal),
        shipping: eur("4.95"),
        total: eur(total),
        items,
        shipping_address: berlin(),
        ..Order::default()
    }
}

/// Order 1042's lines as mapped, in the list and once cancelled.
fn lines_1042() -> Vec<LineItem> {
    vec![
        line("KT-1702", "Wasserkocher Edelstahl 1,7 l", 1, "49.99"),
        line("TG-6", "Teeglas 6er-Set", 2, "12.50"),
    ]
}

/// Customer 58 as a search lists him.
fn juergen() -> Customer {
    Customer {
        id: "58".into(),
        name: "Jürgen Weiß".into(),
        emails: vec!["juergen.weiss@example.de".into()],
        phones: vec!["+49 30 1234567".into(), "+49 151 23456789".into()],
        tier: s("General"),
        created_at: s("2023-04-02T09:12:00Z"),
        ..Customer::default()
    }
}

#[tokio::test]
async fn a_customer_by_id_is_read_with_phones_group_and_attributes() {
    let (shop, conn) = setup().await;
    assert_eq!(conn.name(), "magento2");
    let found = conn
        .find_customer(&CustomerKey::Id("58".into()))
        .await
        .unwrap();
    assert!(found.warnings.is_empty(), "{:?}", found.warnings);
    let attributes: BTreeMap<String, Value> = [
        ("birthday", json!("1984-03-14")),
        ("gender", json!("male")),
        ("store_view", json!("Default Store View")),
        ("newsletter", json!(true)),
        ("loyalty_number", json!("LH-2041")),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    // The default billing address's phone first.
    assert_eq!(
        found.data,
        Some(Customer {
            attributes,
            ..juergen()
        })
    );
    assert_eq!(shop.routes(), vec!["GET /customers/58"]);

    // Magento's 404 for an unknown customer is "not found", not a failure.
    let unknown = conn.find_customer(&CustomerKey::Id("999".into())).await;
    assert_eq!(unknown.unwrap().data, None);
}

#[tokio::test]
async fn e_mail_and_phone_are_exact_matches() {
    let (shop, conn) = setup().await;
    let by_email = conn
        .find_customer(&CustomerKey::Email("juergen.weiss@example.de".into()))
        .await
        .unwrap();
    assert!(by_email.warnings.is_empty(), "{:?}", by_email.warnings);
    assert_eq!(by_email.data, Some(juergen()));
    let by_phone = conn
        .find_customer(&CustomerKey::Phone("+49 30 1234567".into()))
        .await
        .unwrap();
    assert_eq!(by_phone.data, Some(juergen()));
    let nobody = conn
        .find_customer(&CustomerKey::Email("nobody@example.de".into()))
        .await
        .unwrap();
    assert_eq!(nobody.data, None);

    let seen = shop.seen();
    assert!(seen.iter().all(|r| r.route == "GET /customers/search"));
    let sent: Vec<_> = seen
        .iter()
        .map(|r| {
            (
                filter(&r.query, 0, "field").unwrap(),
                filter(&r.query, 0, "value").unwrap(),
                filter(&r.query, 0, "conditionType").unwrap(),
            )
        })
        .collect();
    assert_eq!(
        sent,
        vec![
            ("email", "juergen.weiss@example.de", "eq"),
            ("billing_telephone", "+49 30 1234567", "eq"),
            ("email", "nobody@example.de", "eq"),
        ]
    );
}

#[tokio::test]
async fn search_matches_name_e_mail_or_phone_and_writes_chinese_names_family_first() {
    let (shop, conn) = setup().await;
    let found = conn.search_customers("wei").await.unwrap();
    let wang = Customer {
        id: "112".into(),
        name: "王芳".into(),
        emails: vec!["wang.fang@example.cn".into()],
        phones: vec!["+49 40 7654321".into()],
        tier: s("Wholesale"),
        created_at: s("2025-01-18T02:40:11Z"),
        ..Customer::default()
    };
    assert_eq!(found, vec![juergen(), wang]);
    let q = &shop.seen()[0].query;
    for (i, field) in ["name", "email", "billing_telephone"]
        .into_iter()
        .enumerate()
    {
        assert_eq!(filter(q, i, "field"), Some(field));
        assert_eq!(filter(q, i, "value"), Some("%wei%"));
        assert_eq!(filter(q, i, "conditionType"), Some("like"));
    }
    assert_eq!(q["searchCriteria[pageSize]"], "20");
}

#[tokio::test]
async fn orders_map_states_money_and_lines_over_both_pages_newest_first() {
    let (shop, conn) = setup().await;
    let found = conn.orders("58").await.unwrap();
    assert!(found.warnings.is_empty(), "{:?}", found.warnings);
    let expected = vec![
        order(
            "1042",
            "2026-11-20T08:31:00Z",
            ["paid", "paid", "unfulfilled"],
            ["74.99", "79.94"],
            lines_1042(),
        ),
        // The configurable's child line (same SKU, price 0) is not shown.
        order(
            "1017",
            "2026-10-03T14:05:12Z",
            ["shipped", "paid", "fulfilled"],
            ["84.90", "89.85"],
            vec![
                line("TSH-ORG-M-BLAU", "Bio-T-Shirt Organic", 2, "25.00"),
                line("ESP-6", "Espressokanne 6 Tassen", 1, "34.90"),
            ],
        ),
        order(
            "987",
            "2026-08-15T19:45:00Z",
            ["refunded", "refunded", "fulfilled"],
            ["29.95", "34.90"],
            vec![line("SB-EI-40", "Schneidebrett Eiche 40 cm", 1, "29.95")],
        ),
    ];
    assert_eq!(found.data, expected);

    // Two pages, then the echoed search_criteria and total_count say it is over.
    let seen = shop.seen();
    assert_eq!(shop.routes(), vec!["GET /orders", "GET /orders"]);
    let criteria = |q: &HashMap<String, String>| {
        let mut q: Vec<(String, String)> = q.clone().into_iter().collect();
        q.sort();
        q
    };
    let first: Vec<(String, String)> = [
        ("searchCriteria[currentPage]", "1"),
        (
            "searchCriteria[filterGroups][0][filters][0][conditionType]",
            "eq",
        ),
        (
            "searchCriteria[filterGroups][0][filters][0][field]",
            "customer_id",
        ),
        ("searchCriteria[filterGroups][0][filters][0][value]", "58"),
        ("searchCriteria[pageSize]", "2"),
        ("searchCriteria[sortOrders][0][direction]", "DESC"),
        ("searchCriteria[sortOrders][0][field]", "created_at"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    assert_eq!(criteria(&seen[0].query), first);
    assert_eq!(seen[1].query["searchCriteria[currentPage]"], "2");
}

#[tokio::test]
async fn returns_map_rma_statuses_and_name_the_order_lines() {
    let (shop, conn) = setup().await;
    let found = conn.returns("58").await.unwrap();
    assert!(found.warnings.is_empty(), "{:?}", found.warnings);
    // RMA items carry no SKU, only the order line's id.
    let item = |order_item: u32| ReturnItem {
        sku: String::new(),
        name: Some(format!("order item {order_item}")),
        quantity: 1,
    };
    let expected = vec![
        Return {
            id: "12".into(),
            order_id: "1017".into(),
            customer_id: s("58"),
            status: "approved".into(),
            reason: s("Farbe weicht deutlich vom Foto ab."),
            items: vec![item(2051)],
            refund: None,
            created_at: s("2026-10-10T09:15:00Z"),
        },
        Return {
            id: "9".into(),
            order_id: "987".into(),
            customer_id: s("58"),
            status: "refunded".into(),
            reason: s("Brett hat einen Riss entlang der Maserung."),
            items: vec![item(1974)],
            refund: None,
            created_at: s("2026-08-25T16:20:00Z"),
        },
    ];
    assert_eq!(found.data, expected);
    let q = &shop.seen()[0].query;
    assert_eq!(filter(q, 0, "field"), Some("customer_id"));
    assert_eq!(q["searchCriteria[sortOrders][0][field]"], "date_requested");
}

#[tokio::test]
async fn a_return_is_an_rma_of_the_order_lines_with_the_reason_as_a_staff_comment() {
    let (shop, conn) = setup().await;
    let reason = "Naht am Ärmel nach dem ersten Waschen aufgegangen.";
    let created = conn
        .create_return(&NewReturn {
            order_id: "1017".into(),
            items: vec![NewReturnItem {
                sku: "TSH-ORG-M-BLAU".into(),
                quantity: 1,
            }],
            reason: reason.into(),
        })
        .await
        .unwrap();
    // The SKU and name come back from the order read before.
    let expected = Return {
        id: "14".into(),
        order_id: "1017".into(),
        customer_id: s("58"),
        status: "requested".into(),
        reason: s(reason),
        items: vec![ReturnItem {
            sku: "TSH-ORG-M-BLAU".into(),
            name: s("Bio-T-Shirt Organic"),
            quantity: 1,
        }],
        refund: None,
        created_at: s("2026-11-25T10:00:00Z"),
    };
    assert_eq!(created, expected);
    assert_eq!(shop.routes(), vec!["GET /orders/1017", "POST /returns"]);

    let mut body = shop.seen()[1].body.clone();
    let rma = body["rmaDataObject"].as_object_mut().unwrap();
    let requested = rma.remove("date_requested").unwrap();
    let requested = requested.as_str().unwrap();
    // Magento's "Y-m-d H:i:s", in UTC.
    assert_eq!(requested.len(), 19, "{requested}");
    assert!(
        requested.char_indices().all(|(i, c)| match i {
            4 | 7 => c == '-',
            10 => c == ' ',
            13 | 16 => c == ':',
            _ => c.is_ascii_digit(),
        }),
        "{requested}"
    );
    // The configurable's parent line (2051), not its child (2052).
    let expected_body = json!({"rmaDataObject": {
        "order_id": 1017,
        "order_increment_id": "000001017",
        "store_id": 1,
        "customer_id": 58,
        "status": "pending",
        "items": [{"order_item_id": 2051, "qty_requested": 1, "status": "pending"}],
        "comments": [{"comment": reason, "admin": true, "customer_notified": false,
            "visible_on_front": false, "status": "pending"}]
    }});
    assert_eq!(body, expected_body);
}

#[tokio::test]
async fn a_return_of_an_sku_the_order_lacks_is_refused_before_magento_is_asked() {
    let (shop, conn) = setup().await;
    let refused = conn
        .create_return(&NewReturn {
            order_id: "1017".into(),
            items: vec![NewReturnItem {
                sku: "KT-1702".into(),
                quantity: 1,
            }],
            reason: "Falscher Artikel".into(),
        })
        .await;
    // The body filter's `error(…)` is a refusal in its words.
    let expected = (422, "order 000001017 has no item KT-1702".to_string());
    assert_eq!(status_of(refused), expected);
    assert_eq!(shop.routes(), vec!["GET /orders/1017"]);
}

#[tokio::test]
async fn cancel_posts_to_the_order_and_reads_magentos_true() {
    let (shop, conn) = setup().await;
    let order = conn
        .cancel_order("1042", "Kunde hat doppelt bestellt")
        .await
        .unwrap();
    let expected = Order {
        id: "1042".into(),
        customer_id: s("58"),
        placed_at: s("2026-11-20T08:31:00Z"),
        status: "cancelled".into(),
        currency: s("EUR"),
        total: eur("79.94"),
        items: lines_1042(),
        ..Order::default()
    };
    assert_eq!(order, expected);
    assert_eq!(
        shop.routes(),
        vec!["GET /orders/1042", "POST /orders/1042/cancel"]
    );
    assert_eq!(shop.seen()[1].body, json!({}));
}

#[tokio::test]
async fn a_refused_cancel_and_magentos_errors_are_reported() {
    let (shop, conn) = setup().await;
    // `false`: Magento would not cancel (the order is complete).
    let refused = conn.cancel_order("1017", "zu spät").await;
    let expected = (422, "Magento refused to cancel the order".to_string());
    assert_eq!(status_of(refused), expected);
    // An unknown order: Magento's 404 and its message.
    let unknown = conn.cancel_order("999", "Tippfehler").await;
    assert_eq!(status_of(unknown), (404, NO_ENTITY.to_string()));
    assert_eq!(
        shop.routes()[2..],
        ["GET /orders/999", "POST /orders/999/cancel"]
    );

    // A token Magento does not know.
    let (_, url) = mock::start(handle).await;
    let stranger = connector(&url, "not-the-token");
    assert_eq!(status_of(stranger.orders("58").await).0, 401);
}
