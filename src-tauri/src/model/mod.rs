//! What the window sees: the types commands return and events carry. They derive
//! `specta::Type`, from which `ui/src/lib/bindings.ts` is generated, so the UI and Rust
//! cannot drift apart. Fields are snake_case, like the server's JSON.

mod customer;
mod floor;
mod reports;
mod search;

use serde::{Deserialize, Serialize};
use specta::Type;

pub use customer::*;
pub use floor::*;
pub use reports::*;
pub use search::*;

/// An error a command returns to the UI: a stable code to branch on and a message to show.
#[derive(Debug, Clone, Serialize, Type, thiserror::Error)]
#[error("{message}")]
pub struct DeskError {
    pub code: DeskErrorCode,
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Type)]
#[serde(rename_all = "snake_case")]
pub enum DeskErrorCode {
    BadCredentials,
    Unreachable,
    SessionExpired,
    Forbidden,
    NotFound,
    Invalid,
    Conflict,
    NotSignedIn,
    Internal,
}

impl DeskError {
    pub fn new(code: DeskErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}

impl From<anyhow::Error> for DeskError {
    fn from(e: anyhow::Error) -> Self {
        tracing::error!(error = %format!("{e:#}"), "internal error");
        Self::new(DeskErrorCode::Internal, format!("{e:#}"))
    }
}

impl From<sqlx::Error> for DeskError {
    fn from(e: sqlx::Error) -> Self {
        anyhow::Error::from(e).into()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Agent,
    Supervisor,
    Admin,
}

/// The signed-in agent.
#[derive(Debug, Clone, Serialize, Deserialize, Type)]
pub struct Agent {
    pub id: String,
    pub username: String,
    pub display_name: String,
    pub role: Role,
}

/// Who is signed in, and where.
#[derive(Debug, Clone, Serialize, Type)]
pub struct Session {
    pub server_url: Option<String>,
    pub username: Option<String>,
    /// `None`: signed out; the UI shows sign-in.
    pub agent: Option<Agent>,
    /// The status the agent chose last, restored at start.
    pub status: AgentStatus,
    /// Why the last session ended (e.g. the token expired), for the sign-in screen.
    pub notice: Option<String>,
}

/// A list of conversations the desk shows. Which views a conversation is in is decided by
/// [`View::of`] alone: the cache's lists and the rows the window patches live both carry
/// its answer, so a row never changes lists on a reload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(rename_all = "snake_case")]
pub enum View {
    /// Assigned to me, and offers to me (they need an answer from me).
    Mine,
    /// Offers to me, waiting for accept or decline.
    Offered,
    /// Waiting for an agent, and offers to me.
    Queue,
    /// Everything not closed.
    Open,
    Closed,
}

impl View {
    pub const ALL: [View; 5] = [
        View::Mine,
        View::Offered,
        View::Queue,
        View::Open,
        View::Closed,
    ];

    /// The views a conversation belongs to, for the agent `me`. The desk's cache holds
    /// only offers made to this agent (the server sends each agent its own), so an offered
    /// row is an offer to me.
    pub fn of(state: ConversationState, agent_id: Option<&str>, me: &str) -> Vec<View> {
        let mine = state == ConversationState::Assigned && agent_id == Some(me);
        let offered = state == ConversationState::Offered;
        let queued = state == ConversationState::Queued;
        let closed = state == ConversationState::Closed;
        [
            (View::Mine, mine || offered),
            (View::Offered, offered),
            (View::Queue, queued || offered),
            (View::Open, !closed),
            (View::Closed, closed),
        ]
        .into_iter()
        .filter_map(|(view, member)| member.then_some(view))
        .collect()
    }

    /// The states a conversation in this view can be in, whoever has it: what the cache
    /// reads before [`View::of`] decides.
    pub fn states(self) -> Vec<ConversationState> {
        ConversationState::ALL
            .into_iter()
            .filter(|&s| {
                View::of(s, Some("me"), "me").contains(&self)
                    || View::of(s, None, "me").contains(&self)
            })
            .collect()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(rename_all = "snake_case")]
pub enum ConversationState {
    Queued,
    Offered,
    Assigned,
    Closed,
}

impl ConversationState {
    pub const ALL: [ConversationState; 4] =
        [Self::Queued, Self::Offered, Self::Assigned, Self::Closed];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Offered => "offered",
            Self::Assigned => "assigned",
            Self::Closed => "closed",
        }
    }

    pub fn parse(s: &str) -> Self {
        match s {
            "queued" => Self::Queued,
            "offered" => Self::Offered,
            "closed" => Self::Closed,
            _ => Self::Assigned,
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(rename_all = "snake_case")]
pub enum AgentStatus {
    #[default]
    Online,
    Away,
}

/// A row of the conversation list.
#[derive(Debug, Clone, Serialize, Type)]
pub struct ConversationSummary {
    pub id: String,
    pub state: ConversationState,
    pub group: String,
    pub agent_id: Option<String>,
    pub shopper_name: String,
    pub last_preview: String,
    /// Last activity, unix ms.
    pub last_at: i64,
    pub created_at: i64,
    pub unread: u32,
    /// 1-based position while queued.
    pub queue_position: Option<u32>,
    /// When an offer to me lapses, unix ms.
    pub offer_expires_at: Option<i64>,
    /// The page the shopper was on when last writing; `None` when unknown.
    pub page: Option<PageContext>,
    /// Labels set by agents, plugins and bots (e.g. `escalated`, `keyword:投诉`), in the
    /// order added. Free text: show it as text.
    pub tags: Vec<String>,
    pub priority: Priority,
    /// The lists this row belongs in ([`View::of`]); the window never works it out itself.
    pub views: Vec<View>,
}

/// How urgently a conversation needs a human; the server offers waiting conversations of
/// higher priority first. The server's JSON spelling, snake_case.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(rename_all = "snake_case")]
pub enum Priority {
    Low,
    #[default]
    Normal,
    High,
    Urgent,
}

impl Priority {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Low => "low",
            Self::Normal => "normal",
            Self::High => "high",
            Self::Urgent => "urgent",
        }
    }

    /// Anything unknown (a newer server's level, or none) reads as normal.
    pub fn parse(s: &str) -> Self {
        match s {
            "low" => Self::Low,
            "high" => Self::High,
            "urgent" => Self::Urgent,
            _ => Self::Normal,
        }
    }
}

/// Where a shopper was, as their browser reported it (the server's JSON shape too). Free
/// text from any browser: show it as text, and offer `url` only when it is http(s).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, Type)]
pub struct PageContext {
    pub url: Option<String>,
    pub title: Option<String>,
    /// The shop's id of the product the page shows.
    pub product_id: Option<String>,
    /// The shop's id of the order the page shows.
    pub order_id: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Type)]
#[serde(rename_all = "snake_case")]
pub enum Sender {
    Shopper,
    Agent,
    Bot,
    System,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Type)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryState {
    Pending,
    Sent,
    Read,
    Failed,
}

#[derive(Debug, Clone, Serialize, Type)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum MessageBody {
    Text {
        text: String,
    },
    Note {
        text: String,
    },
    Attachment {
        attachment_id: String,
        file_name: String,
        mime: String,
        size: u64,
    },
    OrderCard {
        order_id: String,
        title: String,
        detail: String,
    },
    System {
        text: String,
    },
}

/// One message as the chat pane shows it (sent, received, or still in the outbox).
#[derive(Debug, Clone, Serialize, Type)]
pub struct ChatMessage {
    /// `None` while pending.
    pub id: Option<String>,
    pub client_msg_id: String,
    pub conversation_id: String,
    /// `None` while pending.
    pub seq: Option<u64>,
    pub sender: Sender,
    pub sender_name: String,
    /// Written by the signed-in agent.
    pub mine: bool,
    pub body: MessageBody,
    pub created_at: i64,
    pub delivery: DeliveryState,
}

#[derive(Debug, Clone, Serialize, Type)]
pub struct HistoryPage {
    pub messages: Vec<ChatMessage>,
    pub has_more: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, Type)]
pub struct CannedReply {
    pub shortcut: String,
    pub title: String,
    pub body: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, Type)]
#[serde(rename_all = "snake_case")]
pub enum TransferTarget {
    Agent(String),
    Group(String),
}

#[derive(Debug, Clone, Serialize, Deserialize, Type)]
pub struct AgentRef {
    pub id: String,
    pub display_name: String,
}

#[derive(Debug, Clone, Serialize, Type)]
pub struct TransferTargets {
    pub groups: Vec<String>,
    pub agents: Vec<AgentRef>,
}

#[derive(Debug, Clone, Serialize, Deserialize, Type)]
pub struct ReturnLine {
    pub sku: String,
    pub quantity: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize, Type)]
#[serde(rename_all = "snake_case")]
pub enum OrderAction {
    SendOrderCard {
        order_id: String,
    },
    CancelOrder {
        order_id: String,
        reason: String,
    },
    CreateReturn {
        order_id: String,
        reason: String,
        items: Vec<ReturnLine>,
    },
}

#[derive(Debug, Clone, Serialize, Type)]
pub struct ActionDone {
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Type)]
pub enum Language {
    #[serde(rename = "auto")]
    Auto,
    #[serde(rename = "en")]
    En,
    #[serde(rename = "zh-CN")]
    ZhCn,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(rename_all = "snake_case")]
pub enum Theme {
    System,
    Light,
    Dark,
}

/// The agent's preferences (kept in the app's config folder; never secrets).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Type)]
pub struct Settings {
    pub notify_offers: bool,
    pub notify_messages: bool,
    pub sound: bool,
    /// Closed conversations older than this many days leave the cache.
    pub retention_days: u32,
    pub language: Language,
    pub theme: Theme,
    /// Start the app when the agent logs in to the computer (opt-in).
    pub start_at_login: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            notify_offers: true,
            notify_messages: true,
            sound: true,
            retention_days: 30,
            language: Language::Auto,
            theme: Theme::System,
            start_at_login: false,
        }
    }
}

/// Everything the core pushes to the window, on one channel.
#[derive(Debug, Clone, Serialize, Type)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Update {
    Connection {
        online: bool,
        reason: Option<String>,
    },
    Message {
        message: ChatMessage,
    },
    Delivered {
        conversation_id: String,
        client_msg_id: String,
        seq: u64,
    },
    Undeliverable {
        conversation_id: String,
        client_msg_id: String,
        reason: String,
    },
    Conversation {
        conversation: ConversationSummary,
    },
    Removed {
        conversation_id: String,
        reason: String,
    },
    Typing {
        conversation_id: String,
        typing: bool,
    },
    Read {
        conversation_id: String,
        seq: u64,
    },
    CustomerView {
        conversation_id: String,
    },
    Status {
        status: AgentStatus,
    },
    SessionExpired {
        message: String,
    },
    OpenConversation {
        conversation_id: String,
    },
    /// The server offers a newer signed build of the app.
    UpdateAvailable {
        update: AvailableUpdate,
    },
    /// The live floor changed (supervisors and admins only); it replaces the last one.
    Floor {
        floor: Floor,
    },
}

/// A newer build of the app the server offers.
#[derive(Debug, Clone, Serialize, Type)]
pub struct AvailableUpdate {
    pub version: String,
    /// The release notes, as the admin wrote them (show as text).
    pub notes: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::{ConversationState as S, View, View::*};

    #[test]
    fn each_state_is_in_the_views_an_agent_expects() {
        assert_eq!(View::of(S::Assigned, Some("me"), "me"), [Mine, Open]);
        assert_eq!(
            View::of(S::Assigned, Some("bo"), "me"),
            [Open],
            "someone else's chat is not mine"
        );
        assert_eq!(
            View::of(S::Offered, None, "me"),
            [Mine, Offered, Queue, Open],
            "an offer to me waits for my answer in mine and in the queue"
        );
        assert_eq!(View::of(S::Queued, None, "me"), [Queue, Open]);
        assert_eq!(View::of(S::Closed, Some("me"), "me"), [Closed]);
    }

    #[test]
    fn a_view_reads_only_the_states_it_can_hold() {
        assert_eq!(Mine.states(), [S::Offered, S::Assigned]);
        assert_eq!(Offered.states(), [S::Offered]);
        assert_eq!(Queue.states(), [S::Queued, S::Offered]);
        assert_eq!(Open.states(), [S::Queued, S::Offered, S::Assigned]);
        assert_eq!(Closed.states(), [S::Closed]);
    }
}
