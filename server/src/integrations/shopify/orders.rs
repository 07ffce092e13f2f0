//! Orders: the customer's order list, cancellation, and the mapping of an order.
//!
//! # Mapping
//!
//! - `id`: the order's `name` ("#1001", what the shopper sees in emails), or the numeric id
//!   when the name is missing or all digits. Actions accept either form (and GIDs): a name is
//!   turned back into the numeric id with `GET orders.json?name={name}&status=any`, keeping
//!   only an exact match. (Kefu's order has no attributes to carry both.)
//! - `created_at` → `placed_at`; `financial_status` → `payment_status` as Shopify says it
//!   (`pending`, `authorized`, `paid`, `partially_refunded`, `refunded`, `voided`, …);
//!   `fulfillment_status` (`null` → `unfulfilled`); `currency`; `subtotal_price`,
//!   `total_shipping_price_set.shop_money`, `total_price` → money.
//! - `status`: `cancelled` if `cancelled_at` is set; else `refunded` if fully refunded; else,
//!   with fulfillments (cancelled or failed ones aside) or a `fulfilled`/`partial` status,
//!   `delivered` when the order is fully fulfilled and every fulfillment's `shipment_status`
//!   is `delivered`, `shipped` otherwise; else `paid` when the money is captured (`paid`,
//!   `partially_refunded`); else `pending`.
//! - `line_items` → items (`sku`, `name` — which includes the variant — else `title`,
//!   `quantity`, `price`); REST line items carry no image.
//! - `shipping_address` → address (`name` or first + last name, `phone`, `address1`,
//!   `address2`, `city`, `province`, `zip`, `country_code`).
//! - `fulfillments` → shipments (`tracking_company`, `tracking_number` or the first of
//!   `tracking_numbers`, likewise the URL, `shipment_status` — or the fulfillment's own
//!   status when it was cancelled or failed — and `created_at`).
//!
//! # Cancelling
//!
//! `POST orders/{id}/cancel.json` with `{"reason": …}`. Shopify only accepts `customer`,
//! `fraud`, `inventory`, `declined` or `other`; the agent's free text is not one of them, so
//! it is sent as `customer` (Kefu cancels on the shopper's behalf) and stays in Kefu's
//! conversation record — the REST endpoint has no place for a note. A refusal (422) is a
//! `Status` with Shopify's message. Refunds and restocking follow Shopify's defaults.

use reqwest::Method;
use serde_json::json;

use super::{ShopifyConnector, client::parse, customers::person_name, shapes::*};
use crate::{
    integrations::{SourceError, model::*},
    util::percent_encode,
};

impl ShopifyConnector {
    /// The customer's orders as Shopify sent them; `fields` narrows what each carries.
    pub(super) async fn shop_orders(
        &self,
        customer_id: &str,
        fields: Option<&str>,
    ) -> Result<Vec<ShopOrder>, SourceError> {
        let mut path = format!("orders.json?customer_id={customer_id}&status=any&limit=50");
        if let Some(f) = fields {
            path.push_str("&fields=");
            path.push_str(f);
        }
        Ok(self.get::<OrdersEnvelope>(&path, "orders").await?.orders)
    }

    /// The numeric id of an order given as Kefu shows it: its name ("#1001"), its numeric
    /// id or its GID.
    pub(super) async fn resolve_order(&self, order_id: &str) -> Result<String, SourceError> {
        if let Some(id) = numeric_id(order_id, "Order") {
            return Ok(id);
        }
        let name = order_id.trim();
        let not_found = || SourceError::Status {
            code: 404,
            reason: format!("no order {name} in the shop"),
        };
        if name.is_empty() {
            return Err(not_found());
        }
        let path = format!(
            "orders.json?name={}&status=any&fields=id,name",
            percent_encode(name)
        );
        self.get::<OrdersEnvelope>(&path, "order lookup")
            .await?
            .orders
            .into_iter()
            .find(|o| o.name.as_deref().map(str::trim) == Some(name))
            .and_then(|o| o.id.0)
            .ok_or_else(not_found)
    }

    pub(super) async fn customer_orders(
        &self,
        customer_id: &str,
    ) -> Result<Vec<Order>, SourceError> {
        let Some(id) = numeric_id(customer_id, "Customer") else {
            return Ok(Vec::new());
        };
        let mut orders = self
            .shop_orders(&id, None)
            .await?
            .into_iter()
            .map(|o| map_order(o, Some(&id)))
            .collect::<Result<Vec<_>, _>>()?;
        orders.sort_by(|a, b| b.placed_at.cmp(&a.placed_at));
        Ok(orders)
    }

    pub(super) async fn cancel(&self, order_id: &str, reason: &str) -> Result<Order, SourceError> {
        let id = self.resolve_order(order_id).await?;
        let body = json!({ "reason": cancel_reason(reason) });
        let answer = self
            .send(
                Method::POST,
                &format!("orders/{id}/cancel.json"),
                Some(&body),
            )
            .await?;
        let order = match answer.get("order").filter(|o| o.is_object()) {
            Some(o) => parse::<ShopOrder>(o.clone(), "cancelled order")?,
            // Not every version answers with the order: read it back.
            None => {
                self.get::<OrderEnvelope>(&format!("orders/{id}.json"), "order")
                    .await?
                    .order
            }
        };
        map_order(order, None)
    }
}

/// The `reason` Shopify accepts for a cancellation: the agent's text if it is one of them,
/// else `customer`.
fn cancel_reason(text: &str) -> &'static str {
    match text.trim().to_ascii_lowercase().as_str() {
        "fraud" => "fraud",
        "inventory" => "inventory",
        "declined" => "declined",
        "other" => "other",
        _ => "customer",
    }
}

fn map_address(a: ShopAddress) -> Address {
    let name = non_empty(a.name).or_else(|| {
        Some(person_name(a.first_name.as_deref(), a.last_name.as_deref())).filter(|n| !n.is_empty())
    });
    Address {
        name,
        phone: non_empty(a.phone),
        line1: non_empty(a.address1),
        line2: non_empty(a.address2),
        city: non_empty(a.city),
        province: non_empty(a.province),
        postal_code: non_empty(a.zip),
        country: non_empty(a.country_code).or_else(|| non_empty(a.country)),
    }
}

fn map_line(l: ShopLineItem, currency: Option<&str>) -> LineItem {
    LineItem {
        sku: non_empty(l.sku).unwrap_or_default(),
        name: non_empty(l.name)
            .or_else(|| non_empty(l.title))
            .unwrap_or_default(),
        quantity: l.quantity.unwrap_or(0).min(u32::MAX as u64) as u32,
        unit_price: money(&l.price, currency),
        image_url: None,
    }
}

/// A fulfillment that did not (or will not) ship.
fn dead_fulfillment(f: &ShopFulfillment) -> bool {
    matches!(f.status.as_deref(), Some("cancelled" | "error" | "failure"))
}

pub(super) fn map_order(o: ShopOrder, customer_id: Option<&str>) -> Result<Order, SourceError> {
    let id =
        o.id.0
            .ok_or_else(|| SourceError::Malformed("an order without an id".into()))?;
    let currency = non_empty(o.currency);
    let cur = currency.as_deref();
    let fulfillments = o.fulfillments.unwrap_or_default();
    let fulfillment_status = non_empty(o.fulfillment_status).unwrap_or("unfulfilled".into());
    let financial = non_empty(o.financial_status);
    let live: Vec<&ShopFulfillment> = fulfillments
        .iter()
        .filter(|f| !dead_fulfillment(f))
        .collect();
    let status = if o.cancelled_at.as_deref().is_some_and(|c| !c.is_empty()) {
        "cancelled"
    } else if financial.as_deref() == Some("refunded") {
        "refunded"
    } else if !live.is_empty() || matches!(fulfillment_status.as_str(), "fulfilled" | "partial") {
        let all_delivered = !live.is_empty()
            && live
                .iter()
                .all(|f| f.shipment_status.as_deref() == Some("delivered"));
        if fulfillment_status == "fulfilled" && all_delivered {
            "delivered"
        } else {
            "shipped"
        }
    } else if matches!(financial.as_deref(), Some("paid" | "partially_refunded")) {
        "paid"
    } else {
        "pending"
    };
    let shipping = o
        .total_shipping_price_set
        .and_then(|s| s.shop_money)
        .and_then(|m| money(&m.amount, m.currency_code.as_deref().or(cur)));
    let shipments = fulfillments
        .into_iter()
        .map(|f| {
            let status = non_empty(f.shipment_status.clone())
                .or_else(|| dead_fulfillment(&f).then(|| f.status.clone()).flatten());
            Shipment {
                carrier: non_empty(f.tracking_company),
                tracking_number: non_empty(f.tracking_number)
                    .or_else(|| f.tracking_numbers.and_then(|n| n.into_iter().next())),
                tracking_url: non_empty(f.tracking_url)
                    .or_else(|| f.tracking_urls.and_then(|u| u.into_iter().next())),
                status,
                shipped_at: f.created_at,
            }
        })
        .collect();
    Ok(Order {
        id: order_key(o.name.as_deref(), &id),
        customer_id: o
            .customer
            .and_then(|c| c.id.0)
            .or_else(|| customer_id.map(String::from)),
        placed_at: o.created_at,
        status: status.into(),
        payment_status: financial,
        fulfillment_status: Some(fulfillment_status),
        subtotal: money(&o.subtotal_price, cur),
        shipping,
        total: money(&o.total_price, cur),
        items: o
            .line_items
            .unwrap_or_default()
            .into_iter()
            .map(|l| map_line(l, cur))
            .collect(),
        shipping_address: o.shipping_address.map(map_address),
        shipments,
        currency,
    })
}
