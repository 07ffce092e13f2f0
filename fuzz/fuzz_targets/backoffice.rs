//! Arbitrary bytes as a back-office answer's body, through the real decoding of each
//! lookup's answer — the generic REST connector (default format, a retailer's format with
//! list pointers and field mapping, and one mapped by jq filters) and the Shopify
//! connector — and on to what Kefu makes of a decoded order (the order card, amounts in
//! minor units).
//!
//! Invariants: nothing panics; a body that cannot be read is `SourceError::Malformed` (or
//! `Mapping`, when a jq filter fails on it) with a reason (never a transport or status
//! error); a refusal's text is non-empty.

#![no_main]

use std::sync::LazyLock;

use kefu_server::{
    actions::order_card,
    integrations::{
        Customer, Found, Order, Return, SourceError,
        rest::{Answer, Args, RestConnector, RestSettings},
        shopify::{ShopifyConnector, ShopifySettings},
    },
    wire,
};
use libfuzzer_sys::fuzz_target;

struct Connectors {
    /// `docs/backoffice-format.md` as is.
    plain: RestConnector,
    /// A retailer whose lists sit under `/data/items` and whose fields have other names.
    mapped: RestConnector,
    /// The same retailer mapped with jq: envelopes, amounts from strings, statuses.
    jq: RestConnector,
    shopify: ShopifyConnector,
}

static CONNECTORS: LazyLock<Connectors> = LazyLock::new(|| {
    let http = reqwest::Client::new();
    let mut mapped = RestSettings::new("erp", "http://127.0.0.1:9");
    mapped.lists.customers = "/data/items".into();
    mapped.lists.orders = "/data/items".into();
    mapped.lists.returns = "".into();
    mapped.fields.customer = [("name", "/full_name"), ("emails", "/contact/emails")]
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .into();
    mapped.fields.order = [("total", "/amounts/grand_total"), ("id", "/number")]
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .into();
    mapped.fields.order_item = [("quantity", "/qty")]
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .into();
    let mut jq = RestSettings::new("erp-jq", "http://127.0.0.1:9");
    jq.map.customer =
        Some(".data | {id: (.uid | tostring), name: .full_name, tags: [.tags[]?.name]}".into());
    jq.map.customers = Some("[.data.items[]? | {id: (.uid | tostring), name: .full_name}]".into());
    jq.map.orders = Some(
        r#".data.items[]? | {id: .number, status: ({"已发货": "shipped"}[.state] // .state),
           total: {amount: .amounts.grand_total, currency: "CNY"},
           items: [.lines[]? | {sku, name, quantity: (.qty | tonumber? // 0)}]}"#
            .into(),
    );
    jq.map.returns = Some(".[] | {id: .rma, order_id: .order, status}".into());
    jq.map.created_return = Some(".data | {id: .rma, order_id: .order}".into());
    jq.map.cancelled_order = Some(".data | {id: .number, status: \"cancelled\"}".into());
    let shopify: ShopifySettings = serde_json::from_value(serde_json::json!({
        "shop_url": "https://fuzz.myshopify.com",
        "access_token": "shpat_fuzz",
    }))
    .expect("Shopify settings");
    Connectors {
        plain: RestConnector::new(
            RestSettings::new("backoffice", "http://127.0.0.1:9"),
            http.clone(),
        )
        .expect("default settings"),
        mapped: RestConnector::new(mapped, http.clone()).expect("mapped settings"),
        jq: RestConnector::new(jq, http.clone()).expect("jq settings"),
        shopify: ShopifyConnector::new(shopify, http),
    }
});

fuzz_target!(|body: &[u8]| {
    let c = &*CONNECTORS;
    let args = Args::default();
    for rest in [&c.plain, &c.mapped, &c.jq] {
        for answer in [Answer::Customer, Answer::Customers] {
            customers(rest.decode_answer(answer, body, &args).map(data));
        }
        for answer in [Answer::Orders, Answer::CancelledOrder] {
            orders(rest.decode_answer(answer, body, &args).map(data));
        }
        for answer in [Answer::Returns, Answer::CreatedReturn] {
            returns(rest.decode_answer(answer, body, &args).map(data));
        }
    }
    let shop = &c.shopify;
    customers(shop.decode_customer_answer(body).map(|c| vec![c]));
    customers(shop.decode_customers_answer(body));
    orders(shop.decode_orders_answer(body, "207119551"));
    returns(shop.decode_refunds_answer(body, "207119551"));
    for status in [404, 422, 429, 500] {
        let status = reqwest::StatusCode::from_u16(status).expect("a status");
        match ShopifyConnector::decode_error_answer(body, status) {
            SourceError::Status { code, reason } => {
                assert_eq!(code, status.as_u16());
                assert!(!reason.is_empty(), "an error answer always has a reason");
            }
            other => panic!("an error answer is a Status, not {other:?}"),
        }
    }
});

fn data<T>(found: Found<Vec<T>>) -> Vec<T> {
    found.data
}

fn refused(e: SourceError) {
    match e {
        SourceError::Malformed(why) | SourceError::Mapping(why) => {
            assert!(!why.is_empty(), "a refusal says why")
        }
        other => panic!("a body that cannot be read is Malformed, not {other:?}"),
    }
}

fn customers(r: Result<Vec<Customer>, SourceError>) {
    match r {
        Ok(list) => {
            for c in list {
                let _ = c.lifetime_value.as_ref().and_then(|m| m.minor_units());
            }
        }
        Err(e) => refused(e),
    }
}

fn orders(r: Result<Vec<Order>, SourceError>) {
    match r {
        Ok(list) => {
            for o in list {
                for m in [&o.subtotal, &o.shipping, &o.total].into_iter().flatten() {
                    let _ = m.minor_units();
                }
                for i in &o.items {
                    let _ = i.unit_price.as_ref().and_then(|m| m.minor_units());
                }
                // The card an agent would send for it, and its bytes on the wire.
                let _ = wire::body_to_pb(&order_card(&o));
            }
        }
        Err(e) => refused(e),
    }
}

fn returns(r: Result<Vec<Return>, SourceError>) {
    match r {
        Ok(list) => {
            for r in list {
                let _ = r
                    .refund
                    .as_ref()
                    .and_then(|f| f.amount.as_ref())
                    .and_then(|m| m.minor_units());
            }
        }
        Err(e) => refused(e),
    }
}
