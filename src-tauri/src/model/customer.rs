//! The customer panel: the server's customer view (`GET /api/v1/conversations/{id}/customer`,
//! format in `docs/backoffice-format.md`). The view's types are the server's own, from
//! `kefu-api`, so the desk decodes exactly what the server sends and the UI gets it typed.

use serde::{Deserialize, Serialize};
use specta::Type;

pub use kefu_api::{
    Address, Customer, LineItem, MatchedBy, Money, Note, Order, Refund, Return, ReturnItem,
    Section, Shipment, SourceState, Suggestion, Verification,
};

/// One of the shopper's earlier conversations.
#[derive(Debug, Clone, Serialize, Deserialize, Type)]
pub struct EarlierConversation {
    pub id: String,
    pub state: String,
    pub created_at: i64,
    pub closed_at: Option<i64>,
}

/// The customer panel: the view, plus where this copy came from. While `verification` is
/// `unverified` the sections carry no data: the panel shows the suggestion and a way to
/// verify it, never orders or actions.
#[derive(Debug, Clone, Serialize, Deserialize, Type)]
pub struct CustomerPanel {
    pub matched_by: MatchedBy,
    pub verification: Verification,
    /// Who an unverified shopper may be (the suggested customer's name only).
    pub suggestion: Option<Suggestion>,
    pub customer: Section<Customer>,
    pub orders: Section<Vec<Order>>,
    pub returns: Section<Vec<Return>>,
    pub conversations: Vec<EarlierConversation>,
    /// Served from the local cache because the server was unreachable.
    pub from_cache: bool,
    /// When this copy was received, unix ms.
    pub received_at: i64,
}
