//! The customer panel: the server's customer view (`GET /api/v1/conversations/{id}/customer`,
//! format in `docs/backoffice-format.md`), typed so the UI gets it typed too.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use specta::Type;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(rename_all = "snake_case")]
pub enum SourceState {
    Ok,
    Stale,
    TimedOut,
    Error,
    Unavailable,
}

/// One part of the view, with where it came from and how fresh it is.
#[derive(Debug, Clone, Serialize, Deserialize, Type)]
pub struct Section<T> {
    pub state: SourceState,
    pub source: String,
    pub data: Option<T>,
    pub error: Option<String>,
    pub fetched_at_ms: Option<i64>,
}

#[derive(Debug, Clone, Serialize, Deserialize, Type)]
pub struct Money {
    pub amount: String,
    pub currency: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, Type)]
pub struct Note {
    pub at: Option<String>,
    pub author: Option<String>,
    pub text: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, Type)]
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

#[derive(Debug, Clone, Serialize, Deserialize, Type)]
pub struct LineItem {
    pub sku: String,
    pub name: String,
    pub quantity: u32,
    pub unit_price: Option<Money>,
    pub image_url: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, Type)]
pub struct Shipment {
    pub carrier: Option<String>,
    pub tracking_number: Option<String>,
    pub tracking_url: Option<String>,
    pub status: Option<String>,
    pub shipped_at: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, Type)]
pub struct Order {
    pub id: String,
    pub placed_at: Option<String>,
    pub status: String,
    pub payment_status: Option<String>,
    pub fulfillment_status: Option<String>,
    pub total: Option<Money>,
    pub items: Vec<LineItem>,
    pub shipments: Vec<Shipment>,
}

#[derive(Debug, Clone, Serialize, Deserialize, Type)]
pub struct ReturnItem {
    pub sku: String,
    pub name: Option<String>,
    pub quantity: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize, Type)]
pub struct Refund {
    pub amount: Option<Money>,
    pub state: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, Type)]
pub struct Return {
    pub id: String,
    pub order_id: String,
    pub status: String,
    pub reason: Option<String>,
    pub items: Vec<ReturnItem>,
    pub refund: Option<Refund>,
    pub created_at: Option<String>,
}

/// One of the shopper's earlier conversations.
#[derive(Debug, Clone, Serialize, Deserialize, Type)]
pub struct EarlierConversation {
    pub id: String,
    pub state: String,
    pub created_at: i64,
    pub closed_at: Option<i64>,
}

/// The customer panel: the view, plus where this copy came from.
#[derive(Debug, Clone, Serialize, Deserialize, Type)]
pub struct CustomerPanel {
    pub matched_by: String,
    pub customer: Section<Customer>,
    pub orders: Section<Vec<Order>>,
    pub returns: Section<Vec<Return>>,
    pub conversations: Vec<EarlierConversation>,
    /// Served from the local cache because the server was unreachable.
    pub from_cache: bool,
    /// When this copy was received, unix ms.
    pub received_at: i64,
}
