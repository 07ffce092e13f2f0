//! The customer view: the retailer's data as Kefu shows it to agents, and where each part of
//! it came from. Field names follow the generic back-office format
//! (`docs/backoffice-format.md`), so that format maps onto these types without configuration;
//! optional fields default when a source leaves them out, so readers accept any source's
//! (or an older server's) sparse JSON.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Declares a record whose `Deserialize` fills every missing field with its default, as
/// sources leave optional fields out. The default lives on a private mirror the derived
/// `Deserialize` goes through, not on the public type: specta reads the public type's serde
/// attributes, and a `#[serde(default)]` there made every field optional (`id?:`) in the
/// desk's TS bindings, though what the server sends always carries them all.
macro_rules! lenient {
    (
        $(#[$meta:meta])*
        pub struct $name:ident {
            $( $(#[$field_meta:meta])* pub $field:ident: $ty:ty, )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Serialize, Default)]
        #[cfg_attr(feature = "specta", derive(specta::Type))]
        #[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
        pub struct $name {
            $( $(#[$field_meta])* pub $field: $ty, )*
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                #[derive(Deserialize, Default)]
                #[serde(default)]
                struct Lenient {
                    $( $field: $ty, )*
                }
                let l = Lenient::deserialize(d)?;
                Ok($name { $( $field: l.$field, )* })
            }
        }
    };
}

/// An amount of money: a decimal string (never a float) and an ISO 4217 currency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
pub struct Money {
    pub amount: String,
    pub currency: String,
}

impl Money {
    /// The amount in minor units (cents, fen), for comparing against limits. Currencies
    /// without minor units (JPY, KRW) use the whole amount.
    pub fn minor_units(&self) -> Option<i64> {
        let zero_decimal = matches!(
            self.currency.as_str(),
            "JPY" | "KRW" | "VND" | "CLP" | "ISK"
        );
        let (whole, frac) = self
            .amount
            .trim()
            .split_once('.')
            .unwrap_or((self.amount.trim(), ""));
        let negative = whole.starts_with('-');
        let whole: i64 = whole.trim_start_matches('-').parse().ok()?;
        let digits = if zero_decimal { 0 } else { 2 };
        let mut frac: String = frac.chars().take(digits).collect();
        while frac.len() < digits {
            frac.push('0');
        }
        let frac: i64 = if frac.is_empty() {
            0
        } else {
            frac.parse().ok()?
        };
        let value = whole
            .checked_mul(10i64.pow(digits as u32))?
            .checked_add(frac)?;
        Some(if negative { -value } else { value })
    }
}

lenient! {
    /// A CRM note about the customer.
    pub struct Note {
        pub at: Option<String>,
        pub author: Option<String>,
        pub text: String,
    }
}

lenient! {
    /// The customer's profile from the CRM.
    pub struct Customer {
        pub id: String,
        pub name: String,
        pub emails: Vec<String>,
        pub phones: Vec<String>,
        pub tier: Option<String>,
        pub tags: Vec<String>,
        pub lifetime_value: Option<Money>,
        pub created_at: Option<String>,
        pub notes: Vec<Note>,
        pub attributes: BTreeMap<String, serde_json::Value>,
    }
}

lenient! {
    /// One line of an order.
    pub struct LineItem {
        pub sku: String,
        pub name: String,
        pub quantity: u32,
        pub unit_price: Option<Money>,
        pub image_url: Option<String>,
    }
}

lenient! {
    /// Where an order goes.
    pub struct Address {
        pub name: Option<String>,
        pub phone: Option<String>,
        pub line1: Option<String>,
        pub line2: Option<String>,
        pub city: Option<String>,
        pub province: Option<String>,
        pub postal_code: Option<String>,
        pub country: Option<String>,
    }
}

lenient! {
    /// A parcel on its way.
    pub struct Shipment {
        pub carrier: Option<String>,
        pub tracking_number: Option<String>,
        pub tracking_url: Option<String>,
        pub status: Option<String>,
        pub shipped_at: Option<String>,
    }
}

lenient! {
    /// An order with its lines and shipments.
    pub struct Order {
        pub id: String,
        pub customer_id: Option<String>,
        pub placed_at: Option<String>,
        pub status: String,
        pub payment_status: Option<String>,
        pub fulfillment_status: Option<String>,
        pub currency: Option<String>,
        pub subtotal: Option<Money>,
        pub shipping: Option<Money>,
        pub total: Option<Money>,
        pub items: Vec<LineItem>,
        pub shipping_address: Option<Address>,
        pub shipments: Vec<Shipment>,
    }
}

lenient! {
    /// An item being returned.
    pub struct ReturnItem {
        pub sku: String,
        pub name: Option<String>,
        pub quantity: u32,
    }
}

lenient! {
    /// The refund attached to a return.
    pub struct Refund {
        pub amount: Option<Money>,
        pub state: String,
    }
}

lenient! {
    /// A return (RMA).
    pub struct Return {
        pub id: String,
        pub order_id: String,
        pub customer_id: Option<String>,
        pub status: String,
        pub reason: Option<String>,
        pub items: Vec<ReturnItem>,
        pub refund: Option<Refund>,
        pub created_at: Option<String>,
    }
}

/// What happened with one source for this view: `ok`, fresh data; `stale`, cached data older
/// than the TTL while a refresh is under way; `timed_out`, the source did not answer in time;
/// `error`, the source failed (the section's `error` says why); `unavailable`, no customer to
/// look up (unknown identity) or no back office configured.
// One doc on the type, not one per variant: the desk's TS bindings carry it as is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum SourceState {
    Ok,
    Stale,
    TimedOut,
    Error,
    Unavailable,
}

/// One part of the view, with where it came from and how fresh it is.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
pub struct Section<T> {
    pub state: SourceState,
    pub source: String,
    pub data: Option<T>,
    pub error: Option<String>,
    /// When the data was fetched from the source, unix ms.
    pub fetched_at_ms: Option<i64>,
    /// Parts of the source's answer that could not be read and were left out (a field of
    /// the wrong type, a record without an id); the data shown is the rest.
    #[serde(default)]
    pub warnings: Vec<String>,
}

impl<T> Section<T> {
    /// A section with no data because there was nothing to ask `source`, and why.
    pub fn unavailable(source: &str, why: &str) -> Self {
        Self {
            state: SourceState::Unavailable,
            source: source.into(),
            data: None,
            error: Some(why.into()),
            fetched_at_ms: None,
            warnings: Vec::new(),
        }
    }
}

/// Everything the back office knows about one shopper.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
pub struct CustomerView {
    pub customer: Section<Customer>,
    pub orders: Section<Vec<Order>>,
    pub returns: Section<Vec<Return>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn money(a: &str, c: &str) -> Money {
        Money {
            amount: a.into(),
            currency: c.into(),
        }
    }

    #[test]
    fn amounts_convert_to_minor_units_without_floats() {
        assert_eq!(money("459.00", "CNY").minor_units(), Some(45900));
        assert_eq!(money("12.5", "USD").minor_units(), Some(1250));
        assert_eq!(money("7", "EUR").minor_units(), Some(700));
        assert_eq!(money("1200", "JPY").minor_units(), Some(1200));
        assert_eq!(money("-3.10", "CNY").minor_units(), Some(-310));
        assert_eq!(money("abc", "CNY").minor_units(), None);
    }

    #[test]
    fn missing_optional_fields_default() {
        let o: Order = serde_json::from_str(r#"{"id":"SO-1","status":"paid"}"#).unwrap();
        assert!(o.items.is_empty() && o.total.is_none());
        let o: Order =
            serde_json::from_str(r#"{"id":"SO-2","items":[{"sku":"KT-1","extra":1}]}"#).unwrap();
        assert_eq!(
            (o.status.as_str(), o.items[0].quantity),
            ("", 0),
            "nested records default too, unknown fields are ignored"
        );
        let c: Customer = serde_json::from_str(r#"{"id":"C1","name":"王芳 🌸"}"#).unwrap();
        assert_eq!(c.name, "王芳 🌸");
    }

    #[test]
    fn a_view_reads_back_what_it_wrote() {
        let view = CustomerView {
            customer: Section {
                state: SourceState::Ok,
                source: "crm".into(),
                data: Some(Customer {
                    id: "C1".into(),
                    ..Customer::default()
                }),
                error: None,
                fetched_at_ms: Some(1),
                warnings: vec!["customer.tier: invalid type; left out".into()],
            },
            orders: Section::unavailable("orders", "no back office"),
            returns: Section {
                state: SourceState::TimedOut,
                source: "returns".into(),
                data: None,
                error: Some("3000 ms".into()),
                fetched_at_ms: None,
                warnings: Vec::new(),
            },
        };
        let json = serde_json::to_value(&view).unwrap();
        assert_eq!(
            json["returns"]["state"], "timed_out",
            "states are snake_case on the wire: {json}"
        );
        let back: CustomerView = serde_json::from_value(json).unwrap();
        assert_eq!(back.customer.data.map(|c| c.id).as_deref(), Some("C1"));
        assert_eq!(back.orders.state, SourceState::Unavailable);
        assert_eq!(back.customer.warnings.len(), 1);
        let mut older = serde_json::to_value(&view).unwrap();
        older["orders"].as_object_mut().unwrap().remove("warnings");
        let read: CustomerView = serde_json::from_value(older).unwrap();
        assert!(
            read.orders.warnings.is_empty(),
            "an older server's view without warnings still reads"
        );
    }
}
