//! The JSON body of a webhook request. Its shape is a public contract (documented in
//! `docs/plugins.md`), so it is spelled out here rather than borrowed from store rows whose
//! fields may change.

use serde::Serialize;
use uuid::Uuid;

use crate::{
    events::{Event, Lifecycle},
    store::{Body, ConvState, Conversation, Priority, SenderRole, StoredMessage},
};

/// One event as POSTed to a receiver.
#[derive(Debug, Serialize)]
pub struct Payload<'a> {
    /// The delivery id: the same on every retry (also sent as `X-Kefu-Delivery`).
    pub id: Uuid,
    /// `message.created` or `conversation.*` (also sent as `X-Kefu-Event`).
    pub event: &'static str,
    /// When it happened, unix ms: the message's time, or when the webhook sender heard of
    /// the lifecycle change.
    pub created_at: i64,
    /// The conversation as of sending (not as of the event).
    pub conversation: ConversationJson<'a>,
    /// `message.created` only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<MessageJson<'a>>,
    /// `conversation.*` only, e.g. `{"type": "assigned", "agent_id": …, "agent_name": …}`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub change: Option<&'a Lifecycle>,
}

#[derive(Debug, Serialize)]
pub struct ConversationJson<'a> {
    pub id: Uuid,
    pub site_id: &'a str,
    pub group: &'a str,
    pub state: ConvState,
    pub agent_id: Option<Uuid>,
    pub tags: &'a [String],
    pub priority: Priority,
    pub visitor_id: Uuid,
}

#[derive(Debug, Serialize)]
pub struct MessageJson<'a> {
    pub id: Uuid,
    pub seq: i64,
    pub client_msg_id: &'a str,
    pub sender_role: SenderRole,
    pub sender_id: Uuid,
    pub sender_name: &'a str,
    /// As stored: `{"type": "text", "text": …}`, `{"type": "product_card", …}`…
    pub body: &'a Body,
    pub created_at: i64,
}

impl<'a> Payload<'a> {
    /// The body for `event` in `conversation`, delivery `id`; `heard_at` (unix ms) dates
    /// lifecycle changes.
    pub fn new(id: Uuid, event: &'a Event, conversation: &'a Conversation, heard_at: i64) -> Self {
        let (created_at, message, change) = match event {
            Event::Message(m) => (m.created_at, Some(MessageJson::from(&**m)), None),
            Event::Lifecycle { change, .. } => (heard_at, None, Some(change)),
        };
        Self {
            id,
            event: event.name(),
            created_at,
            conversation: ConversationJson {
                id: conversation.id,
                site_id: &conversation.site_id,
                group: &conversation.group,
                state: conversation.state,
                agent_id: conversation.agent_id,
                tags: &conversation.tags,
                priority: conversation.priority,
                visitor_id: conversation.visitor_id,
            },
            message,
            change,
        }
    }
}

impl<'a> From<&'a StoredMessage> for MessageJson<'a> {
    fn from(m: &'a StoredMessage) -> Self {
        Self {
            id: m.id,
            seq: m.seq,
            client_msg_id: &m.client_msg_id,
            sender_role: m.sender_role,
            sender_id: m.sender_id,
            sender_name: &m.sender_name,
            body: &m.body,
            created_at: m.created_at,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use serde_json::json;

    use super::*;
    use crate::store::PageContext;

    fn conversation() -> Conversation {
        Conversation {
            id: Uuid::from_u128(1),
            site_id: "shop".into(),
            visitor_id: Uuid::from_u128(2),
            group: "pre-sales".into(),
            state: ConvState::Assigned,
            agent_id: Some(Uuid::from_u128(3)),
            last_seq: 4,
            created_at: 10,
            updated_at: 20,
            closed_at: None,
            close_reason: None,
            context: PageContext::default(),
            tags: vec!["vip".into()],
            priority: Priority::High,
            channel: "web".into(),
        }
    }

    #[test]
    fn a_message_event_carries_the_message_and_no_change() {
        let c = conversation();
        let event = Event::Message(Arc::new(StoredMessage {
            id: Uuid::from_u128(5),
            conversation_id: c.id,
            seq: 4,
            client_msg_id: "m-1".into(),
            sender_role: SenderRole::Shopper,
            sender_id: c.visitor_id,
            sender_name: "王芳".into(),
            body: Body::Text {
                text: "在吗".into(),
            },
            created_at: 1_700_000_000_123,
        }));
        let v = serde_json::to_value(Payload::new(Uuid::from_u128(9), &event, &c, 0)).unwrap();
        let conv = json!({"id": Uuid::from_u128(1), "site_id": "shop", "group": "pre-sales",
            "state": "assigned", "agent_id": Uuid::from_u128(3), "tags": ["vip"],
            "priority": "high", "visitor_id": Uuid::from_u128(2)});
        let message = json!({"id": Uuid::from_u128(5), "seq": 4, "client_msg_id": "m-1",
            "sender_role": "shopper", "sender_id": Uuid::from_u128(2), "sender_name": "王芳",
            "body": {"type": "text", "text": "在吗"}, "created_at": 1_700_000_000_123_i64});
        assert_eq!(
            v,
            json!({"id": Uuid::from_u128(9), "event": "message.created",
                "created_at": 1_700_000_000_123_i64, "conversation": conv, "message": message}),
            "the documented shape, dated by the message"
        );
    }

    #[test]
    fn a_lifecycle_event_carries_the_change_and_no_message() {
        let c = conversation();
        let event = Event::Lifecycle {
            conversation_id: c.id,
            change: Lifecycle::Closed {
                reason: "agent".into(),
            },
        };
        let v = serde_json::to_value(Payload::new(Uuid::from_u128(9), &event, &c, 42)).unwrap();
        assert_eq!(v["event"], "conversation.closed");
        assert_eq!(v["created_at"], 42, "dated when heard");
        assert_eq!(v["change"], json!({"type": "closed", "reason": "agent"}));
        assert!(v.get("message").is_none(), "no message key: {v}");
    }
}
