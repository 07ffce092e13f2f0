//! Reports read per-conversation facts the store keeps on the conversation row as events
//! happen (`channel`, `first_response_at`, `transfers`, …; migration `0008_reports` /
//! `0003_reports`), joined with the rating and the service-level breaches. No message is
//! read: a year of a busy shop is one indexed range scan. The numbers themselves are worked
//! out in `crate::reports`, in Rust, so both backends give the same.

use async_trait::async_trait;
use uuid::Uuid;

use super::{NewMessage, SenderRole, StoreResult};

/// Which conversations a report covers: those OPENED in `[from, to)` (unix ms), narrowed by
/// each filter that is set.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReportFilter {
    pub from: i64,
    pub to: i64,
    pub site: Option<String>,
    pub group: Option<String>,
    /// The conversation's agent (the last one it was assigned to).
    pub agent: Option<Uuid>,
    pub tag: Option<String>,
    /// `web` or `api` (`Conversation::channel`).
    pub channel: Option<String>,
}

/// What a report knows of one conversation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConversationFacts {
    pub group: String,
    /// The agent who has it, or had it last.
    pub agent_id: Option<Uuid>,
    pub created_at: i64,
    /// The first public message of a human agent.
    pub first_response_at: Option<i64>,
    /// Set while closed (a reopened conversation has none until closed again).
    pub closed_at: Option<i64>,
    pub transfers: i64,
    /// The shopper's rating, 1 to 5.
    pub score: Option<i64>,
    /// A `first_response` breach row exists.
    pub first_response_breached: bool,
    /// A `resolution` breach row exists.
    pub resolution_breached: bool,
}

/// The facts reports are computed from.
#[async_trait]
pub trait Reports: Send + Sync {
    /// Every conversation matching `filter`, in no particular order.
    async fn report_facts(&self, filter: &ReportFilter) -> StoreResult<Vec<ConversationFacts>>;
}

/// Whether a message counts as an agent's reply: public and from a human agent (not a bot,
/// not Kefu's activity entries, not a private note or whisper).
pub(crate) fn is_agent_reply(m: &NewMessage) -> bool {
    m.sender_role == SenderRole::Agent && !m.body.is_private()
}

/// What one batch of the message writer adds to one conversation, folded into the update
/// that hands out its seqs (no statement of its own).
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Added {
    /// New messages.
    pub n: i64,
    /// The newest one's `created_at`.
    pub at: i64,
    /// The earliest and latest agent replies among them.
    pub first_reply: Option<i64>,
    pub last_reply: Option<i64>,
}

impl Added {
    pub fn add(&mut self, m: &NewMessage) {
        self.n += 1;
        self.at = self.at.max(m.created_at);
        if is_agent_reply(m) {
            let t = m.created_at;
            self.first_reply = Some(self.first_reply.map_or(t, |f| f.min(t)));
            self.last_reply = Some(self.last_reply.map_or(t, |l| l.max(t)));
        }
    }
}
