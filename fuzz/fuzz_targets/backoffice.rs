//! Arbitrary bytes as a back-office answer's body, through the real decoding of each
//! lookup's answer — the generic REST connector (default format, and a retailer's format
//! with list pointers and field mapping) and the Shopify connector — and on to what Kefu
//! makes of a decoded order (the order card, amounts in minor units).
//!
//! Invariants: nothing panics; a body that cannot be read is `SourceError::Malformed` with
//! a reason (never a transport or status error); a refusal's text is non-empty.

#![no_main]

use std::sync::LazyLock;

use kefu_server::{
    actions::order_card,
    integrations::{
        Customer, Order, Return, SourceError,
        rest::{Kind, RestConnector, RestSettings},
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
    let shopify: ShopifySettings = serde_json::from_value(serde_json::json!({
        "shop_url": "https://fuzz.myshopify.com",
        "access_token": "shpat_fuzz",
    }))
    .expect("Shopify settings");
    Connectors {
        plain: RestConnector::new(
            RestSettings::new("backoffice", "http://127.0.0.1:9"),
            http.clone(),
        ),
        mapped: RestConnector::new(mapped, http.clone()),
        shopify: ShopifyConnector::new(shopify, http),
    }
});

fuzz_target!(|body: &[u8]| {
    let c = &*CONNECTORS;
    for rest in [&c.plain, &c.mapped] {
        customers(
            rest.decode_one_answer::<Customer>(Kind::Customer, body)
                .map(|c| vec![c]),
        );
        customers(rest.decode_list_answer(Kind::Customer, body));
        orders(
            rest.decode_one_answer::<Order>(Kind::Order, body)
                .map(|o| vec![o]),
        );
        orders(rest.decode_list_answer(Kind::Order, body));
        returns(
            rest.decode_one_answer::<Return>(Kind::Return, body)
                .map(|r| vec![r]),
        );
        returns(rest.decode_list_answer(Kind::Return, body));
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

fn refused(e: SourceError) {
    match e {
        SourceError::Malformed(why) => assert!(!why.is_empty(), "Malformed says why"),
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
