//! Customers: found by id, email or phone, searched, and mapped to Kefu's customer.
//!
//! # Mapping
//!
//! `first_name` + `last_name` → `name` ("Bob Norman"; family name first and no space when
//! both are Chinese, Japanese or Korean: 王 + 芳 → "王芳"), falling back to the default
//! address's name, then the email. `email` → `emails`; `phone` (and the default address's
//! phone when different) → `phones`; `tags` (a comma-separated string) → `tags`; a tag
//! `tier:{x}` → `tier`; `total_spent` + `currency` → `lifetime_value`; `note` → one note.
//! `state`, `verified_email`, `orders_count`, `tax_exempt`, `last_order_name`, `updated_at`,
//! the email marketing consent state and `admin_url` (the customer in the Shopify admin) go
//! to `attributes`.

use std::collections::BTreeMap;

use serde_json::Value;

use super::{
    ShopifyConnector,
    shapes::{CustomerEnvelope, CustomersEnvelope, ShopCustomer, money, non_empty, numeric_id},
};
use crate::{
    integrations::{CustomerKey, SourceError, model::*},
    util::percent_encode,
};

impl ShopifyConnector {
    /// Customers matching a search query, as Shopify sent them.
    async fn search(&self, query: &str, limit: u32) -> Result<Vec<ShopCustomer>, SourceError> {
        let path = format!(
            "customers/search.json?query={}&limit={limit}",
            percent_encode(query)
        );
        Ok(self
            .get::<CustomersEnvelope>(&path, "customer search")
            .await?
            .customers)
    }

    pub(super) async fn customer_by_key(
        &self,
        key: &CustomerKey,
    ) -> Result<Option<Customer>, SourceError> {
        let found = match key {
            CustomerKey::Id(id) => {
                let Some(id) = numeric_id(id, "Customer") else {
                    return Ok(None);
                };
                match self
                    .get::<CustomerEnvelope>(&format!("customers/{id}.json"), "customer")
                    .await
                {
                    Ok(env) => Some(env.customer),
                    Err(SourceError::Status { code: 404, .. }) => None,
                    Err(e) => return Err(e),
                }
            }
            CustomerKey::Email(email) => {
                let email = email.trim();
                if email.is_empty() {
                    return Ok(None);
                }
                self.search(&format!("email:{email}"), 10)
                    .await?
                    .into_iter()
                    .find(|c| {
                        c.email
                            .as_deref()
                            .is_some_and(|e| e.trim().eq_ignore_ascii_case(email))
                    })
            }
            CustomerKey::Phone(phone) => {
                let wanted = digits(phone);
                if wanted.is_empty() {
                    return Ok(None);
                }
                let plus = if phone.trim().starts_with('+') {
                    "+"
                } else {
                    ""
                };
                self.search(&format!("phone:{plus}{wanted}"), 10)
                    .await?
                    .into_iter()
                    .find(|c| {
                        let address_phone =
                            c.default_address.as_ref().and_then(|a| a.phone.as_deref());
                        [c.phone.as_deref(), address_phone]
                            .into_iter()
                            .flatten()
                            .any(|p| same_phone(&digits(p), &wanted))
                    })
            }
        };
        found.map(|c| map_customer(c, self.shop())).transpose()
    }

    pub(super) async fn customers_matching(&self, q: &str) -> Result<Vec<Customer>, SourceError> {
        let q = q.trim();
        if q.is_empty() {
            return Ok(Vec::new());
        }
        self.search(q, 20)
            .await?
            .into_iter()
            .map(|c| map_customer(c, self.shop()))
            .collect()
    }
}

fn digits(s: &str) -> String {
    s.chars().filter(char::is_ascii_digit).collect()
}

/// Same number: equal digits, or the shop's number ends with the 8+ digits given without
/// their leading zeros (a national number: `021 5555 0100` is `+86 21 5555 0100`).
fn same_phone(shop: &str, given: &str) -> bool {
    let national = given.trim_start_matches('0');
    !shop.is_empty() && (shop == given || (national.len() >= 8 && shop.ends_with(national)))
}

fn is_cjk(s: &str) -> bool {
    s.chars().any(|c| {
        matches!(c as u32,
            0x3040..=0x30FF       // Hiragana, Katakana
            | 0x3400..=0x4DBF     // CJK Extension A
            | 0x4E00..=0x9FFF     // CJK Unified Ideographs
            | 0xAC00..=0xD7AF     // Hangul syllables
            | 0xF900..=0xFAFF     // CJK Compatibility Ideographs
            | 0x20000..=0x3134F) // CJK Extensions B–G
    })
}

/// "First Last", or "LastFirst" when both parts are CJK (王 + 芳 → 王芳).
pub(super) fn person_name(first: Option<&str>, last: Option<&str>) -> String {
    let first = first.map(str::trim).unwrap_or("");
    let last = last.map(str::trim).unwrap_or("");
    match (first.is_empty(), last.is_empty()) {
        (true, true) => String::new(),
        (false, true) => first.into(),
        (true, false) => last.into(),
        _ if is_cjk(first) && is_cjk(last) => format!("{last}{first}"),
        _ => format!("{first} {last}"),
    }
}

fn split_tags(tags: &Value) -> Vec<String> {
    let raw: Vec<&str> = match tags {
        Value::String(s) => s.split(',').collect(),
        Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    raw.into_iter()
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(String::from)
        .collect()
}

pub(super) fn map_customer(c: ShopCustomer, shop_url: &str) -> Result<Customer, SourceError> {
    let id =
        c.id.0
            .ok_or_else(|| SourceError::Malformed("a customer without an id".into()))?;
    let tags = split_tags(&c.tags);
    let tier = tags.iter().find_map(|t| {
        let (k, v) = t.split_once(':')?;
        (k.trim().eq_ignore_ascii_case("tier") && !v.trim().is_empty())
            .then(|| v.trim().to_string())
    });
    let address = c.default_address.unwrap_or_default();
    let email = non_empty(c.email);
    let mut name = person_name(c.first_name.as_deref(), c.last_name.as_deref());
    if name.is_empty() {
        name = non_empty(address.name.clone())
            .or_else(|| email.clone())
            .unwrap_or_default();
    }
    let mut phones: Vec<String> = non_empty(c.phone).into_iter().collect();
    if let Some(p) = non_empty(address.phone)
        && !phones.iter().any(|q| digits(q) == digits(&p))
    {
        phones.push(p);
    }
    let mut attributes = BTreeMap::new();
    for (k, v) in [
        ("state", c.state),
        ("verified_email", c.verified_email),
        ("orders_count", c.orders_count),
        ("tax_exempt", c.tax_exempt),
        ("last_order_name", c.last_order_name),
        ("updated_at", c.updated_at),
        (
            "email_marketing",
            c.email_marketing_consent
                .and_then(|m| m.get("state").cloned()),
        ),
    ] {
        if let Some(v) = v.filter(|v| !v.is_null()) {
            attributes.insert(k.to_string(), v);
        }
    }
    attributes.insert(
        "admin_url".into(),
        Value::String(format!("{shop_url}/admin/customers/{id}")),
    );
    Ok(Customer {
        name,
        emails: email.into_iter().collect(),
        phones,
        tier,
        tags,
        lifetime_value: money(&c.total_spent, c.currency.as_deref()),
        created_at: c.created_at,
        notes: c
            .note
            .filter(|n| !n.trim().is_empty())
            .map(|text| Note {
                at: None,
                author: None,
                text,
            })
            .into_iter()
            .collect(),
        attributes,
        id,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_script() {
        assert_eq!(person_name(Some("芳"), Some("王")), "王芳");
        assert_eq!(person_name(Some("Bob"), Some("Norman")), "Bob Norman");
        assert_eq!(person_name(Some("Fang"), Some("王")), "Fang 王");
        assert_eq!(person_name(None, Some("王")), "王");
        assert_eq!(person_name(Some(" "), None), "");
    }

    #[test]
    fn phones_match_by_digits() {
        assert!(same_phone("8613800138000", "8613800138000"));
        assert!(same_phone("8613800138000", "13800138000"));
        assert!(same_phone("862155550100", "02155550100"));
        assert!(!same_phone("8613800138000", "8000"));
        assert!(!same_phone("8613800138000", "00008000"));
        assert!(!same_phone("", ""));
    }
}
