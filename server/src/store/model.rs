//! Rows the store reads and writes. Plain data, backend-neutral: no database derives here
//! (`utoipa::ToSchema` describes the ones the REST API sends, for its OpenAPI description).
//! Each backend maps its rows itself (`store::sqlite` reads enums through [`Role::as_str`],
//! [`FromStr`] and friends); conversions to the wire format live in `crate::wire`.

use std::str::FromStr;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

/// An agent account's role. Each role includes the rights of the ones before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, ToSchema, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Answers conversations.
    Agent,
    /// Also sees every conversation, manages canned replies, transfers anything.
    Supervisor,
    /// Also manages accounts and groups.
    Admin,
}

impl Role {
    /// Every role, lowest first.
    pub const ALL: [Self; 3] = [Self::Agent, Self::Supervisor, Self::Admin];

    /// The stored (and serialised) name: `agent`, `supervisor`, `admin`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Agent => "agent",
            Self::Supervisor => "supervisor",
            Self::Admin => "admin",
        }
    }
}

impl FromStr for Role {
    type Err = UnknownValue;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_named(
            "role",
            s,
            &Self::ALL,
            Self::as_str,
            "agent, supervisor or admin",
        )
    }
}

/// A name (or number) that is none of an enum's values: a typo in input, or a row written
/// by a newer version.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {kind} `{value}`: expected {expected}")]
pub struct UnknownValue {
    kind: &'static str,
    value: String,
    expected: &'static str,
}

fn parse_named<T: Copy>(
    kind: &'static str,
    value: &str,
    all: &[T],
    name: fn(T) -> &'static str,
    expected: &'static str,
) -> Result<T, UnknownValue> {
    all.iter()
        .copied()
        .find(|v| name(*v) == value)
        .ok_or_else(|| UnknownValue {
            kind,
            value: value.into(),
            expected,
        })
}

/// An agent account (human or bot operator).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Agent {
    pub id: Uuid,
    pub username: String,
    pub display_name: String,
    /// argon2id PHC string; never serialised.
    #[serde(skip)]
    pub password_hash: String,
    pub role: Role,
    /// Most conversations this agent handles at once.
    pub capacity: i64,
    pub disabled: bool,
    pub created_at: i64,
    /// Groups the agent belongs to (filled from `agent_group_member`).
    pub groups: Vec<String>,
}

/// What `create_agent` needs.
#[derive(Debug, Clone)]
pub struct NewAgent {
    pub username: String,
    pub display_name: String,
    pub password_hash: String,
    pub role: Role,
    pub capacity: i64,
    pub groups: Vec<String>,
}

/// A partial update of an agent; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct AgentPatch {
    pub display_name: Option<String>,
    pub password_hash: Option<String>,
    pub role: Option<Role>,
    pub capacity: Option<i64>,
    pub disabled: Option<bool>,
    pub groups: Option<Vec<String>>,
}

/// A group of agents sharing a queue (e.g. "pre-sales").
#[derive(Debug, Clone, Serialize, ToSchema, Deserialize)]
pub struct Group {
    /// 1-64 ASCII letters, digits, `.`, `_`, `-` (checked when a group is created).
    #[schema(pattern = r"^[A-Za-z0-9._@-]{1,64}$")]
    pub name: String,
    pub display_name: String,
    #[serde(default)]
    pub members: Vec<Uuid>,
}

/// A stored agent token (only its SHA-256 is kept).
#[derive(Debug, Clone)]
pub struct TokenRecord {
    pub token_hash: String,
    pub agent_id: Uuid,
    pub created_at: i64,
    pub expires_at: i64,
    pub revoked_at: Option<i64>,
}

/// A shopper as known to one site: anonymous, or linked to the shop's customer record.
#[derive(Debug, Clone, Serialize)]
pub struct Visitor {
    pub id: Uuid,
    pub site_id: String,
    #[serde(skip)]
    pub token_hash: String,
    /// The shop's customer id, set only from a correctly signed identity.
    pub customer_id: Option<String>,
    pub display_name: String,
    pub email: Option<String>,
    /// Phone number the shopper gave (unverified; used to find them in the back office).
    pub phone: Option<String>,
    pub created_at: i64,
    pub expires_at: i64,
    /// Agent who last handled this visitor (for sticky routing).
    pub last_agent_id: Option<Uuid>,
    /// When a supervisor blocked this shopper (unix ms); its token is refused meanwhile.
    pub blocked_at: Option<i64>,
}

/// Conversation state as stored. "Offered" lives only in the router's memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ConvState {
    Queued,
    Assigned,
    Closed,
}

impl ConvState {
    /// Every state, in a conversation's order of life.
    pub const ALL: [Self; 3] = [Self::Queued, Self::Assigned, Self::Closed];

    /// The stored (and serialised) name: `queued`, `assigned`, `closed`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Assigned => "assigned",
            Self::Closed => "closed",
        }
    }
}

impl FromStr for ConvState {
    type Err = UnknownValue;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_named(
            "conversation state",
            s,
            &Self::ALL,
            Self::as_str,
            "queued, assigned or closed",
        )
    }
}

/// A conversation between one visitor and (at most) one agent at a time.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Conversation {
    pub id: Uuid,
    pub site_id: String,
    pub visitor_id: Uuid,
    pub group: String,
    pub state: ConvState,
    pub agent_id: Option<Uuid>,
    pub last_seq: i64,
    pub created_at: i64,
    pub updated_at: i64,
    pub closed_at: Option<i64>,
    pub close_reason: Option<String>,
    /// The page the shopper was on when last writing.
    pub context: PageContext,
    /// Labels set by agents, plugins and bots (e.g. `invoice`, `vip`), in the order added.
    pub tags: Vec<String>,
    /// Waiting conversations of higher priority are offered first.
    pub priority: Priority,
    /// How it was opened: [`CHANNEL_WEB`] (widget, chat page) or [`CHANNEL_API`] (bot REST).
    pub channel: String,
}

/// `Conversation::channel` of one opened from the widget or the chat page.
pub const CHANNEL_WEB: &str = "web";
/// `Conversation::channel` of one opened through the bot REST API.
pub const CHANNEL_API: &str = "api";

/// How urgently a conversation needs a human. Stored as an integer so queues sort by it.
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    ToSchema,
    Deserialize,
)]
#[serde(rename_all = "lowercase")]
#[repr(i64)]
pub enum Priority {
    Low = -1,
    #[default]
    Normal = 0,
    High = 1,
    Urgent = 2,
}

impl Priority {
    /// Every priority, lowest first.
    pub const ALL: [Self; 4] = [Self::Low, Self::Normal, Self::High, Self::Urgent];

    /// The stored integer: higher is more urgent, so `order by priority desc` works.
    pub fn level(self) -> i64 {
        self as i64
    }
}

impl TryFrom<i64> for Priority {
    type Error = UnknownValue;
    fn try_from(level: i64) -> Result<Self, Self::Error> {
        Self::ALL
            .into_iter()
            .find(|p| p.level() == level)
            .ok_or_else(|| UnknownValue {
                kind: "priority",
                value: level.to_string(),
                expected: "-1, 0, 1 or 2",
            })
    }
}

/// A bot account: acts on conversations over REST with a bearer token.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Bot {
    pub id: Uuid,
    pub name: String,
    /// SHA-256 of the token; the token itself is shown once, at creation.
    #[serde(skip)]
    pub token_hash: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
}

/// One attempt to deliver a webhook event.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct WebhookDelivery {
    pub id: Uuid,
    /// The webhook's name in `kefu.toml`.
    pub webhook: String,
    /// Same for every attempt of one event (sent as `X-Kefu-Delivery`).
    pub delivery_id: Uuid,
    /// e.g. `message.created`.
    pub event: String,
    /// 1 for the first try.
    pub attempt: i64,
    pub at: i64,
    /// The receiver's HTTP status, if it answered.
    pub status: Option<i64>,
    /// Why the attempt failed (timeout, connection refused, non-2xx), if it did.
    pub error: Option<String>,
    pub duration_ms: i64,
    pub delivered: bool,
}

/// Where a shopper was when writing, as the widget reported it. Free text from the browser:
/// shown to agents as text, never followed by the server.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, ToSchema, Deserialize)]
pub struct PageContext {
    pub url: Option<String>,
    pub title: Option<String>,
    pub product_id: Option<String>,
    pub order_id: Option<String>,
}

/// A shopper's satisfaction rating of a closed conversation.
#[derive(Debug, Clone, Serialize, ToSchema, Deserialize)]
pub struct Rating {
    /// 1 (bad) to 5 (great).
    pub score: i64,
    /// What the shopper wrote with it; may be empty.
    pub comment: String,
    #[serde(skip_deserializing)]
    pub created_at: i64,
}

/// Which conversations a list shows.
#[derive(Debug, Clone)]
pub struct ConversationFilter {
    pub states: Vec<ConvState>,
    /// Only these groups (`None`: all).
    pub groups: Option<Vec<String>>,
    /// Only this agent's (`None`: anyone's).
    pub agent_id: Option<Uuid>,
    /// Only activity older than this (paging), unix ms.
    pub updated_before: Option<i64>,
    pub limit: i64,
}

/// Who sent a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SenderRole {
    Shopper,
    Agent,
    Bot,
    System,
}

impl SenderRole {
    /// Every sender role.
    pub const ALL: [Self; 4] = [Self::Shopper, Self::Agent, Self::Bot, Self::System];

    /// The stored (and serialised) name: `shopper`, `agent`, `bot`, `system`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Shopper => "shopper",
            Self::Agent => "agent",
            Self::Bot => "bot",
            Self::System => "system",
        }
    }
}

impl FromStr for SenderRole {
    type Err = UnknownValue;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_named(
            "sender role",
            s,
            &Self::ALL,
            Self::as_str,
            "shopper, agent, bot or system",
        )
    }
}

/// Message content, stored as JSON and mapped one-to-one to `kefu.v1.MessageBody`.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[schema(as = MessageBody)]
pub enum Body {
    Text {
        text: String,
    },
    Attachment {
        attachment_id: Uuid,
        file_name: String,
        content_type: String,
        size_bytes: u64,
    },
    ReturnCard {
        return_id: String,
        order_id: String,
        status: String,
        item_count: u32,
        refund_minor: i64,
        currency: String,
    },
    ProductCard {
        product_id: String,
        title: String,
        price_minor: i64,
        currency: String,
        image_url: String,
        url: String,
    },
    OrderCard {
        order_id: String,
        status: String,
        total_minor: i64,
        currency: String,
        placed_at_ms: i64,
        item_count: u32,
        tracking_url: String,
    },
    PrivateNote {
        text: String,
    },
    System {
        kind: String,
        text: String,
    },
}

impl Body {
    /// Private bodies never reach a shopper.
    pub fn is_private(&self) -> bool {
        matches!(self, Body::PrivateNote { .. })
    }
}

/// A message to store.
#[derive(Debug, Clone)]
pub struct NewMessage {
    pub conversation_id: Uuid,
    pub client_msg_id: String,
    pub sender_role: SenderRole,
    pub sender_id: Uuid,
    pub sender_name: String,
    pub body: Body,
    pub created_at: i64,
}

impl NewMessage {
    /// An activity entry written by Kefu itself (joined, transferred, closed, rated…).
    pub fn system(conversation_id: Uuid, kind: &str, text: String) -> Self {
        Self {
            conversation_id,
            client_msg_id: format!("system-{}", Uuid::now_v7()),
            sender_role: SenderRole::System,
            sender_id: Uuid::nil(),
            sender_name: "Kefu".into(),
            body: Body::System {
                kind: kind.into(),
                text,
            },
            created_at: now_ms(),
        }
    }
}

/// A stored message.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct StoredMessage {
    pub id: Uuid,
    pub conversation_id: Uuid,
    pub seq: i64,
    pub client_msg_id: String,
    pub sender_role: SenderRole,
    pub sender_id: Uuid,
    pub sender_name: String,
    pub body: Body,
    pub created_at: i64,
}

/// The outcome of storing one message of a batch.
#[derive(Debug, Clone)]
#[allow(clippy::large_enum_variant)] // the small variant is the rare error case
pub enum AppendResult {
    /// Stored now (`duplicate = false`) or found stored by its idempotency key (`true`).
    Stored {
        message: StoredMessage,
        duplicate: bool,
        /// The conversation as of this commit (who may see the message).
        visitor_id: Uuid,
        agent_id: Option<Uuid>,
        group: String,
    },
    /// The conversation does not exist.
    NoConversation,
}

/// A saved answer agents insert with `/shortcut`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CannedReply {
    pub id: Uuid,
    pub shortcut: String,
    pub title: String,
    pub body: String,
    pub created_by: Uuid,
    pub created_at: i64,
    pub updated_at: i64,
}

/// An uploaded file's record; the bytes live in the attachment directory under `id`.
#[derive(Debug, Clone, Serialize)]
pub struct Attachment {
    pub id: Uuid,
    pub conversation_id: Uuid,
    pub uploader_id: Uuid,
    pub file_name: String,
    pub content_type: String,
    pub size_bytes: i64,
    pub sha256: String,
    pub created_at: i64,
}

/// One action taken in the retailer's systems from a chat (or refused).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AuditEntry {
    pub id: Uuid,
    pub at: i64,
    pub actor_id: Uuid,
    pub actor_role: Role,
    /// e.g. `create_return`, `cancel_order`, `send_order_card`.
    pub action: String,
    pub conversation_id: Option<Uuid>,
    /// What was acted on, e.g. the order id.
    pub target: String,
    /// The request, as JSON text.
    pub details: String,
    /// `ok`, `failed` (the back office refused or failed) or `refused` (Kefu's own checks).
    pub result: String,
    pub error: Option<String>,
}

/// Current time in unix milliseconds.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Backends store these names, so they must stay what the first release wrote (the
    /// lowercase variant names, the same as the JSON ones).
    #[test]
    fn stored_names_round_trip_and_match_the_json_names() {
        fn check<T>(all: &[T], name: fn(T) -> &'static str)
        where
            T: Copy + PartialEq + std::fmt::Debug + Serialize + FromStr<Err = UnknownValue>,
        {
            for v in all {
                let stored = name(*v);
                assert_eq!(stored.parse::<T>(), Ok(*v), "{stored} must parse back");
                assert_eq!(
                    serde_json::to_value(v).unwrap(),
                    serde_json::Value::from(stored),
                    "{v:?}: stored name and JSON name differ"
                );
            }
        }
        check(&Role::ALL, Role::as_str);
        check(&ConvState::ALL, ConvState::as_str);
        check(&SenderRole::ALL, SenderRole::as_str);
        assert_eq!(
            "owner".parse::<Role>().unwrap_err().to_string(),
            "unknown role `owner`: expected agent, supervisor or admin",
            "the message an admin reads for a bad role"
        );
    }

    /// The stored levels are the ones the first release's integer column holds.
    #[test]
    fn priorities_round_trip_through_their_stored_level() {
        let levels: Vec<i64> = Priority::ALL.iter().map(|p| p.level()).collect();
        assert_eq!(levels, [-1, 0, 1, 2]);
        for p in Priority::ALL {
            assert_eq!(Priority::try_from(p.level()), Ok(p));
        }
        assert!(Priority::try_from(3).is_err(), "3 is no priority");
    }
}
