//! The objects of `docs/backoffice-format.md`: Customer, Order, Return, field for field.
//!
//! Serde attributes here *are* the wire format; change them only together with the document.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::{money::Money, time::Timestamp};

/// A shopper as the CRM knows them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Customer {
    /// `C10001`, `C10002`, … in creation order of the data set.
    pub id: String,
    pub name: String,
    /// Unique across customers; some customers have none (phone-only shoppers).
    pub emails: Vec<String>,
    /// `+86 138 0013 8000` style: country code, then groups of digits. Unique across customers.
    pub phones: Vec<String>,
    pub tier: Tier,
    pub tags: Vec<String>,
    /// What the customer has paid, less refunds, at generation time.
    pub lifetime_value: Money,
    pub created_at: Timestamp,
    pub notes: Vec<Note>,
    /// Free-form CRM attributes; values are JSON strings, booleans or numbers.
    pub attributes: BTreeMap<String, serde_json::Value>,
}

/// Loyalty tier.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Tier {
    Bronze,
    Silver,
    Gold,
    Platinum,
}

/// A CRM note left by staff.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Note {
    pub at: Timestamp,
    pub author: String,
    pub text: String,
}

/// An order and everything needed to answer "where is my parcel?".
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Order {
    /// `SO-2026-000123`: year placed, then a number that grows with `placed_at`.
    pub id: String,
    pub customer_id: String,
    pub placed_at: Timestamp,
    pub status: OrderStatus,
    pub payment_status: PaymentStatus,
    pub fulfillment_status: FulfillmentStatus,
    pub currency: String,
    /// Σ quantity × unit_price over `items`.
    pub subtotal: Money,
    pub shipping: Money,
    /// `subtotal + shipping`.
    pub total: Money,
    /// One line per SKU: an order never lists the same SKU twice.
    pub items: Vec<LineItem>,
    pub shipping_address: Address,
    /// Present once something has left the warehouse (shipped, delivered, some refunded).
    pub shipments: Vec<Shipment>,
}

/// Where an order is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    Pending,
    Paid,
    Processing,
    Shipped,
    Delivered,
    Cancelled,
    Refunded,
}

/// Where the money is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PaymentStatus {
    Pending,
    Paid,
    Refunded,
    PartiallyRefunded,
    Failed,
}

/// How much of the order has left the warehouse.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FulfillmentStatus {
    Unfulfilled,
    Partial,
    Fulfilled,
}

/// One product line of an order.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LineItem {
    pub sku: String,
    pub name: String,
    pub quantity: u32,
    pub unit_price: Money,
    pub image_url: String,
}

/// A postal address; `line2` is serialised as `null` when absent.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Address {
    pub name: String,
    pub phone: String,
    pub line1: String,
    pub line2: Option<String>,
    pub city: String,
    pub province: String,
    pub postal_code: String,
    /// ISO 3166-1 alpha-2.
    pub country: String,
}

/// A parcel handed to a carrier.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Shipment {
    /// One of SF Express, JD Logistics, ZTO, YTO, EMS, DHL.
    pub carrier: String,
    pub tracking_number: String,
    pub tracking_url: String,
    pub status: ShipmentStatus,
    pub shipped_at: Timestamp,
}

/// A parcel's state at the carrier.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ShipmentStatus {
    InTransit,
    Delivered,
    Exception,
}

/// A return merchandise authorisation (RMA).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Return {
    /// `RMA-2026-00042`: year created, then a number that grows with `created_at`.
    pub id: String,
    pub order_id: String,
    pub customer_id: String,
    pub status: ReturnStatus,
    pub reason: String,
    /// Lines of the order being returned; SKUs are those of the order.
    pub items: Vec<ReturnItem>,
    pub refund: Refund,
    pub created_at: Timestamp,
}

/// Where a return is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReturnStatus {
    Requested,
    Approved,
    Received,
    Refunded,
    Rejected,
}

/// One returned line.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ReturnItem {
    pub sku: String,
    pub name: String,
    pub quantity: u32,
}

/// The money side of a return.
///
/// `amount` is what the return is worth (Σ quantity × unit price): due while the return is
/// requested/approved/received, paid once refunded, and zero when rejected. `state` says
/// whether it has been paid: requested → `none`, approved/received → `pending`,
/// refunded → `refunded`, rejected → `none`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Refund {
    pub amount: Money,
    pub state: RefundState,
}

/// Whether a refund has been paid.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RefundState {
    /// Nothing paid and nothing scheduled (serialised `none`).
    #[serde(rename = "none")]
    NoRefund,
    Pending,
    Refunded,
}

impl Refund {
    /// The refund of a return with this status, worth `worth_cents` (Σ quantity × unit
    /// price of its items).
    pub fn for_return(status: ReturnStatus, worth_cents: i64) -> Self {
        let cents = if status == ReturnStatus::Rejected {
            0
        } else {
            worth_cents
        };
        Self {
            amount: Money::cny(cents),
            state: status.refund_state(),
        }
    }
}

impl ReturnStatus {
    /// The refund state that goes with this return status (see [`Refund`]).
    pub fn refund_state(self) -> RefundState {
        match self {
            Self::Requested | Self::Rejected => RefundState::NoRefund,
            Self::Approved | Self::Received => RefundState::Pending,
            Self::Refunded => RefundState::Refunded,
        }
    }

    /// Whether the returned quantities still count against what may be returned.
    pub fn consumes_quantity(self) -> bool {
        self != Self::Rejected
    }
}

impl Order {
    /// Whether a return may be opened: delivered, or fully fulfilled and not cancelled or
    /// already refunded.
    pub fn is_returnable(&self) -> bool {
        match self.status {
            OrderStatus::Delivered => true,
            OrderStatus::Cancelled | OrderStatus::Refunded => false,
            _ => self.fulfillment_status == FulfillmentStatus::Fulfilled,
        }
    }
}
