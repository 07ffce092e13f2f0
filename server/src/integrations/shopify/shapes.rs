//! Shopify's JSON as Kefu reads it (only the fields Kefu uses, each optional: Shopify omits
//! what a token's scopes do not cover), and the readers of its values — ids, GIDs, order
//! names, amounts and text — shared by the customer, order and return mappings.

use serde::{Deserialize, Deserializer};
use serde_json::Value;

use crate::integrations::model::Money;

/// A JSON string or number as text (Shopify ids are numbers, amounts strings; both are
/// read either way); anything else is absent.
#[derive(Debug, Clone, Default)]
pub(super) struct Flex(pub(super) Option<String>);

impl<'de> Deserialize<'de> for Flex {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Flex(match Value::deserialize(d)? {
            Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        }))
    }
}

#[derive(Deserialize)]
pub(super) struct CustomerEnvelope {
    pub(super) customer: ShopCustomer,
}

#[derive(Deserialize)]
pub(super) struct CustomersEnvelope {
    pub(super) customers: Vec<ShopCustomer>,
}

#[derive(Deserialize)]
pub(super) struct OrdersEnvelope {
    pub(super) orders: Vec<ShopOrder>,
}

#[derive(Deserialize)]
pub(super) struct OrderEnvelope {
    pub(super) order: ShopOrder,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct ShopCustomer {
    pub(super) id: Flex,
    pub(super) email: Option<String>,
    pub(super) phone: Option<String>,
    pub(super) first_name: Option<String>,
    pub(super) last_name: Option<String>,
    /// A comma-separated string in REST (a list is accepted too).
    pub(super) tags: Value,
    pub(super) total_spent: Flex,
    pub(super) currency: Option<String>,
    pub(super) note: Option<String>,
    pub(super) created_at: Option<String>,
    pub(super) updated_at: Option<Value>,
    pub(super) state: Option<Value>,
    pub(super) verified_email: Option<Value>,
    pub(super) orders_count: Option<Value>,
    pub(super) tax_exempt: Option<Value>,
    pub(super) last_order_name: Option<Value>,
    pub(super) email_marketing_consent: Option<Value>,
    pub(super) default_address: Option<ShopAddress>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct ShopAddress {
    pub(super) name: Option<String>,
    pub(super) first_name: Option<String>,
    pub(super) last_name: Option<String>,
    pub(super) phone: Option<String>,
    pub(super) address1: Option<String>,
    pub(super) address2: Option<String>,
    pub(super) city: Option<String>,
    pub(super) province: Option<String>,
    pub(super) zip: Option<String>,
    pub(super) country: Option<String>,
    pub(super) country_code: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct IdOnly {
    pub(super) id: Flex,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct ShopOrder {
    pub(super) id: Flex,
    pub(super) name: Option<String>,
    pub(super) created_at: Option<String>,
    pub(super) cancelled_at: Option<String>,
    pub(super) financial_status: Option<String>,
    pub(super) fulfillment_status: Option<String>,
    pub(super) currency: Option<String>,
    pub(super) subtotal_price: Flex,
    pub(super) total_price: Flex,
    pub(super) total_shipping_price_set: Option<PriceSet>,
    pub(super) line_items: Option<Vec<ShopLineItem>>,
    pub(super) shipping_address: Option<ShopAddress>,
    pub(super) fulfillments: Option<Vec<ShopFulfillment>>,
    pub(super) refunds: Option<Vec<ShopRefund>>,
    pub(super) customer: Option<IdOnly>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct PriceSet {
    pub(super) shop_money: Option<ShopMoney>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct ShopMoney {
    pub(super) amount: Flex,
    pub(super) currency_code: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct ShopLineItem {
    pub(super) sku: Option<String>,
    pub(super) name: Option<String>,
    pub(super) title: Option<String>,
    pub(super) quantity: Option<u64>,
    pub(super) price: Flex,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct ShopFulfillment {
    pub(super) status: Option<String>,
    pub(super) created_at: Option<String>,
    pub(super) tracking_company: Option<String>,
    pub(super) tracking_number: Option<String>,
    pub(super) tracking_numbers: Option<Vec<String>>,
    pub(super) tracking_url: Option<String>,
    pub(super) tracking_urls: Option<Vec<String>>,
    pub(super) shipment_status: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct ShopRefund {
    pub(super) id: Flex,
    pub(super) created_at: Option<String>,
    pub(super) processed_at: Option<String>,
    pub(super) note: Option<String>,
    pub(super) refund_line_items: Option<Vec<ShopRefundLine>>,
    pub(super) transactions: Option<Vec<ShopTransaction>>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct ShopRefundLine {
    pub(super) quantity: Option<u64>,
    pub(super) line_item: Option<ShopLineItem>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct ShopTransaction {
    pub(super) kind: Option<String>,
    pub(super) status: Option<String>,
    pub(super) amount: Flex,
    pub(super) currency: Option<String>,
}

pub(super) fn non_empty(s: Option<String>) -> Option<String> {
    s.map(|s| s.trim().to_string()).filter(|s| !s.is_empty())
}

/// The numeric id in `s`, given as digits or as `gid://shopify/{kind}/{digits}`.
pub(super) fn numeric_id(s: &str, kind: &str) -> Option<String> {
    let s = s.trim();
    let s = s
        .strip_prefix("gid://shopify/")
        .and_then(|r| r.strip_prefix(kind))
        .and_then(|r| r.strip_prefix('/'))
        .unwrap_or(s);
    (!s.is_empty() && s.len() <= 20 && s.bytes().all(|b| b.is_ascii_digit())).then(|| s.into())
}

/// The numeric id at the end of a GID.
pub(super) fn gid_tail(gid: &str) -> Option<String> {
    let tail = gid.rsplit('/').next()?;
    (!tail.is_empty() && tail.bytes().all(|b| b.is_ascii_digit())).then(|| tail.into())
}

/// How Kefu names an order: its name unless missing or all digits, else its numeric id.
pub(super) fn order_key(name: Option<&str>, id: &str) -> String {
    match name.map(str::trim) {
        Some(n) if !n.is_empty() && !n.bytes().all(|b| b.is_ascii_digit()) => n.into(),
        _ => id.into(),
    }
}

pub(super) fn money(amount: &Flex, currency: Option<&str>) -> Option<Money> {
    amount.0.as_ref().map(|a| Money {
        amount: a.clone(),
        currency: currency.unwrap_or_default().to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_order_keys() {
        assert_eq!(
            numeric_id(" 207119551 ", "Customer").as_deref(),
            Some("207119551")
        );
        assert_eq!(
            numeric_id("gid://shopify/Customer/207119551", "Customer").as_deref(),
            Some("207119551")
        );
        assert_eq!(numeric_id("gid://shopify/Order/1", "Customer"), None);
        assert_eq!(numeric_id("C10001", "Customer"), None);
        assert_eq!(numeric_id("../1", "Customer"), None);
        assert_eq!(order_key(Some("#1001"), "450789469"), "#1001");
        assert_eq!(order_key(Some("1001"), "450789469"), "450789469");
        assert_eq!(order_key(None, "450789469"), "450789469");
    }
}
