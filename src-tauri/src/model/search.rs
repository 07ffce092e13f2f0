//! Search across every conversation the agent may see (`GET /api/v1/search`): the server
//! decides what each role sees and ranks the results; the desk pages through them.

use serde::{Deserialize, Serialize};
use specta::Type;

use super::ConversationState;

/// What to look for; at least one criterion. Blank fields are no criterion.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, Type)]
pub struct SearchQuery {
    /// Words in the messages (at least 2 characters; Chinese and English alike).
    pub q: Option<String>,
    /// The customer's name, e-mail, phone or id.
    pub customer: Option<String>,
    /// An order number.
    pub order: Option<String>,
    pub tag: Option<String>,
    /// An agent's id.
    pub agent: Option<String>,
    /// Opened at or after, unix ms.
    pub from: Option<i64>,
    /// Opened before, unix ms.
    pub to: Option<i64>,
    /// Results to skip (paging).
    pub offset: u32,
    /// Results per page, 1 to 50.
    pub limit: u32,
}

impl SearchQuery {
    /// The query parameters; blank criteria are left out.
    pub fn query(&self) -> Vec<(&'static str, String)> {
        let mut q = Vec::new();
        let texts = [
            ("q", &self.q),
            ("customer", &self.customer),
            ("order", &self.order),
            ("tag", &self.tag),
            ("agent", &self.agent),
        ];
        for (name, value) in texts {
            if let Some(v) = value.as_deref().map(str::trim).filter(|v| !v.is_empty()) {
                q.push((name, v.to_string()));
            }
        }
        for (name, value) in [("from", self.from), ("to", self.to)] {
            if let Some(v) = value {
                q.push((name, v.to_string()));
            }
        }
        q.push(("offset", self.offset.to_string()));
        q.push(("limit", self.limit.to_string()));
        q
    }
}

/// One page of results, best match first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Type)]
pub struct SearchPage {
    /// Matches in all, over every page.
    pub total: u64,
    pub results: Vec<SearchHit>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Type)]
pub struct SearchHit {
    pub conversation_id: String,
    pub site_id: String,
    pub group: String,
    pub state: ConversationState,
    pub agent_id: Option<String>,
    pub customer_name: String,
    pub tags: Vec<String>,
    pub created_at: i64,
    pub updated_at: i64,
    /// The matched text, plain: shopper-written, so shown as text, never as markup.
    pub snippet: String,
    /// The matched message's seq, when a message matched.
    pub seq: Option<u64>,
}
