//! The customer panel: the server's customer view (`GET /api/v1/conversations/{id}/customer`,
//! format in `docs/backoffice-format.md`), typed so the UI gets it typed too.

use serde::{Deserialize, Serialize};
use specta::Type;

// The view's parts are the server's own types (kefu-api, with `specta::Type`), so the desk
// decodes exactly what the server sends and the UI's bindings describe it.
pub use kefu_api::{
    Address, Customer, LineItem, Money, Note, Order, Refund, Return, ReturnItem, Section, Shipment,
    SourceState,
};

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
