//! Conversions between stored rows and the `kefu.v1` protobuf contract, and frame encoding.

use bytes::Bytes;
use kefu_proto::v1 as pb;
use prost::Message as _;
use uuid::Uuid;

use crate::{
    sessions::{OpError, floor::FloorView},
    store::{
        Body, ConvState, Conversation, PageContext, Priority, SenderRole, StoredMessage, now_ms,
    },
};

/// Decodes one binary WebSocket frame into the request it carries, as the socket loop does:
/// bytes that are not a `ClientEnvelope` are `MalformedFrame`, an envelope with no kind this
/// server knows is `UnknownType`. The error's text is what the client is told.
pub fn decode_request(frame: Bytes) -> Result<pb::client_envelope::Kind, OpError> {
    let envelope = pb::ClientEnvelope::decode(frame).map_err(|e| {
        OpError::new(
            pb::ErrorCode::MalformedFrame,
            format!("not a ClientEnvelope: {e}"),
        )
    })?;
    envelope
        .kind
        .ok_or_else(|| OpError::new(pb::ErrorCode::UnknownType, "unknown or empty request type"))
}

/// Encodes a server frame once; the `Bytes` is then shared by every recipient.
pub fn encode(kind: pb::server_envelope::Kind) -> Bytes {
    Bytes::from(pb::ServerEnvelope { kind: Some(kind) }.encode_to_vec())
}

/// A typed error frame.
pub fn error(code: pb::ErrorCode, message: impl Into<String>, client_msg_id: &str) -> Bytes {
    encode(pb::server_envelope::Kind::Error(pb::Error {
        code: code as i32,
        message: message.into(),
        client_msg_id: client_msg_id.to_string(),
    }))
}

/// A conversation lifecycle event frame.
pub fn event(conversation_id: Uuid, kind: pb::conversation_event::Kind) -> Bytes {
    encode(pb::server_envelope::Kind::Event(pb::ConversationEvent {
        conversation_id: conversation_id.to_string(),
        at_ms: now_ms(),
        kind: Some(kind),
    }))
}

pub fn participant(role: SenderRole, id: Uuid, name: &str) -> pb::Participant {
    let role = match role {
        SenderRole::Shopper => pb::Role::Shopper,
        SenderRole::Agent => pb::Role::Agent,
        SenderRole::Bot => pb::Role::Bot,
        SenderRole::System => pb::Role::System,
    };
    pb::Participant {
        role: role as i32,
        id: if id.is_nil() {
            String::new()
        } else {
            id.to_string()
        },
        display_name: name.to_string(),
    }
}

pub fn message(m: &StoredMessage) -> pb::Message {
    pb::Message {
        id: m.id.to_string(),
        conversation_id: m.conversation_id.to_string(),
        seq: m.seq as u64,
        client_msg_id: m.client_msg_id.clone(),
        sender: Some(participant(m.sender_role, m.sender_id, &m.sender_name)),
        created_at_ms: m.created_at,
        body: Some(body_to_pb(&m.body)),
    }
}

/// The frame carrying a stored message.
pub fn message_frame(m: &StoredMessage) -> Bytes {
    encode(pb::server_envelope::Kind::Message(message(m)))
}

pub fn conversation(c: &Conversation, shopper: pb::Participant) -> pb::Conversation {
    let state = match c.state {
        ConvState::Queued => pb::ConversationState::Queued,
        ConvState::Assigned => pb::ConversationState::Assigned,
        ConvState::Closed => pb::ConversationState::Closed,
    };
    pb::Conversation {
        id: c.id.to_string(),
        site_id: c.site_id.clone(),
        shopper: Some(shopper),
        group: c.group.clone(),
        state: state as i32,
        agent_id: c.agent_id.map(|a| a.to_string()).unwrap_or_default(),
        last_seq: c.last_seq as u64,
        created_at_ms: c.created_at,
        updated_at_ms: c.updated_at,
        context: Some(pb::PageContext {
            url: c.context.url.clone().unwrap_or_default(),
            title: c.context.title.clone().unwrap_or_default(),
            product_id: c.context.product_id.clone().unwrap_or_default(),
            order_id: c.context.order_id.clone().unwrap_or_default(),
        }),
        tags: c.tags.clone(),
        priority: priority(c.priority) as i32,
    }
}

pub fn priority(p: Priority) -> pb::Priority {
    match p {
        Priority::Low => pb::Priority::Low,
        Priority::Normal => pb::Priority::Unspecified,
        Priority::High => pb::Priority::High,
        Priority::Urgent => pb::Priority::Urgent,
    }
}

/// The supervisors' floor as the `Floor` frame carries it.
pub fn floor(f: &FloorView) -> pb::Floor {
    pb::Floor {
        at_ms: f.at_ms,
        agents: f
            .agents
            .iter()
            .map(|a| pb::FloorAgent {
                agent_id: a.agent_id.to_string(),
                display_name: a.display_name.clone(),
                status: a.status.to_pb() as i32,
                active: a.active,
                capacity: a.capacity,
                last_reply_at_ms: a.last_reply_at_ms,
                groups: a.groups.clone(),
            })
            .collect(),
        queues: f
            .queues
            .iter()
            .map(|q| pb::FloorQueue {
                group: q.group.clone(),
                waiting: q.waiting,
                oldest_since_ms: q.oldest_since_ms,
                expected_wait_ms: q.expected_wait_ms,
                agents_online: q.agents_online,
            })
            .collect(),
        breaches: f
            .breaches
            .iter()
            .map(|b| pb::FloorBreach {
                conversation_id: b.conversation_id.to_string(),
                group: b.group.clone(),
                agent_id: b.agent_id.map(|a| a.to_string()).unwrap_or_default(),
                target: b.target.clone(),
                due_at_ms: b.due_at_ms,
                priority: priority(b.priority) as i32,
            })
            .collect(),
    }
}

/// The key byte a `ServerEnvelope` starts with when it carries `kind` field `n`: the
/// envelope holds nothing but its `kind`, a message (wire type 2), and every field number is
/// below 16, so it fits one byte.
const fn first_key(n: u8) -> u8 {
    (n << 3) | 2
}

/// Typing indicators and read receipts: frames after which no one's state differs (the
/// supervisors' floor is not rebuilt for them). Read from the frame's first byte.
pub fn is_chatter(frame: &[u8]) -> bool {
    matches!(frame.first(), Some(&b) if b == first_key(6) || b == first_key(7))
}

/// The `Presence` a frame carries, if it is one (decoded only then).
pub fn presence_of(frame: &Bytes) -> Option<pb::Presence> {
    if frame.first() != Some(&first_key(8)) {
        return None;
    }
    match pb::ServerEnvelope::decode(frame.clone()).ok()?.kind? {
        pb::server_envelope::Kind::Presence(p) => Some(p),
        _ => None,
    }
}

/// The page a shopper reported, cleaned: it comes from any browser, so only http(s) URLs
/// are kept, control characters dropped and every field capped.
pub fn page_context(c: pb::PageContext) -> PageContext {
    fn clean(s: &str, max: usize) -> Option<String> {
        let s: String = s.chars().filter(|c| !c.is_control()).take(max).collect();
        let s = s.trim();
        (!s.is_empty()).then(|| s.to_string())
    }
    let url = c.url.trim();
    let web = url.starts_with("https://") || url.starts_with("http://");
    PageContext {
        url: (web && url.len() <= 2048)
            .then(|| clean(url, 2048))
            .flatten(),
        title: clean(&c.title, 200),
        product_id: clean(&c.product_id, 64),
        order_id: clean(&c.order_id, 64),
    }
}

pub fn body_to_pb(b: &Body) -> pb::MessageBody {
    use pb::message_body::Kind;
    let kind = match b.clone() {
        Body::Text { text } => Kind::Text(pb::Text { text }),
        Body::Attachment {
            attachment_id,
            file_name,
            content_type,
            size_bytes,
        } => Kind::Attachment(pb::AttachmentRef {
            attachment_id: attachment_id.to_string(),
            file_name,
            content_type,
            size_bytes,
        }),
        Body::ProductCard {
            product_id,
            title,
            price_minor,
            currency,
            image_url,
            url,
        } => Kind::ProductCard(pb::ProductCard {
            product_id,
            title,
            price_minor,
            currency,
            image_url,
            url,
        }),
        Body::OrderCard {
            order_id,
            status,
            total_minor,
            currency,
            placed_at_ms,
            item_count,
            tracking_url,
        } => Kind::OrderCard(pb::OrderCard {
            order_id,
            status,
            total_minor,
            currency,
            placed_at_ms,
            item_count,
            tracking_url,
        }),
        Body::ReturnCard {
            return_id,
            order_id,
            status,
            item_count,
            refund_minor,
            currency,
        } => Kind::ReturnCard(pb::ReturnCard {
            return_id,
            order_id,
            status,
            item_count,
            refund_minor,
            currency,
        }),
        Body::PrivateNote { text } => Kind::PrivateNote(pb::PrivateNote { text }),
        Body::System { kind, text } => Kind::System(pb::SystemActivity { kind, text }),
    };
    pb::MessageBody { kind: Some(kind) }
}

/// Maps a client-supplied body. Attachment metadata is filled from the store later, never
/// trusted from the client; `None` means the body was empty or unknown.
pub fn body_from_pb(b: pb::MessageBody) -> Result<Body, String> {
    use pb::message_body::Kind;
    Ok(match b.kind.ok_or("message body is empty")? {
        Kind::Text(t) => Body::Text { text: t.text },
        Kind::Attachment(a) => Body::Attachment {
            attachment_id: Uuid::parse_str(&a.attachment_id)
                .map_err(|_| "attachment_id is not a UUID".to_string())?,
            file_name: String::new(),
            content_type: String::new(),
            size_bytes: 0,
        },
        Kind::ProductCard(p) => Body::ProductCard {
            product_id: p.product_id,
            title: p.title,
            price_minor: p.price_minor,
            currency: p.currency,
            image_url: p.image_url,
            url: p.url,
        },
        Kind::OrderCard(o) => Body::OrderCard {
            order_id: o.order_id,
            status: o.status,
            total_minor: o.total_minor,
            currency: o.currency,
            placed_at_ms: o.placed_at_ms,
            item_count: o.item_count,
            tracking_url: o.tracking_url,
        },
        Kind::ReturnCard(r) => Body::ReturnCard {
            return_id: r.return_id,
            order_id: r.order_id,
            status: r.status,
            item_count: r.item_count,
            refund_minor: r.refund_minor,
            currency: r.currency,
        },
        Kind::PrivateNote(n) => Body::PrivateNote { text: n.text },
        Kind::System(s) => Body::System {
            kind: s.kind,
            text: s.text,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_round_trip_through_protobuf() {
        let bodies = [
            Body::Text {
                text: "你好".into(),
            },
            Body::PrivateNote { text: "vip".into() },
            Body::System {
                kind: "closed".into(),
                text: "Closed".into(),
            },
            Body::ProductCard {
                product_id: "p1".into(),
                title: "Kettle".into(),
                price_minor: 12900,
                currency: "CNY".into(),
                image_url: "https://shop.example/k.png".into(),
                url: "https://shop.example/k".into(),
            },
        ];
        for b in bodies {
            assert_eq!(body_from_pb(body_to_pb(&b)).unwrap(), b);
        }
        assert!(body_from_pb(pb::MessageBody { kind: None }).is_err());
    }

    #[test]
    fn chatter_and_presence_are_told_apart_by_their_first_byte() {
        use pb::server_envelope::Kind;
        let typing = encode(Kind::Typing(pb::Typing {
            conversation_id: "c".into(),
            typing: true,
            who: None,
        }));
        let read = encode(Kind::Read(pb::ReadReceipt::default()));
        let presence = pb::Presence {
            agent_id: "a".into(),
            status: pb::AgentStatus::Away as i32,
        };
        let presence_frame = encode(Kind::Presence(presence.clone()));
        let message = message_frame(&StoredMessage {
            id: Uuid::now_v7(),
            conversation_id: Uuid::now_v7(),
            seq: 1,
            client_msg_id: "m".into(),
            sender_role: SenderRole::Shopper,
            sender_id: Uuid::now_v7(),
            sender_name: "Ann".into(),
            body: Body::Text { text: "hi".into() },
            created_at: 1,
        });
        let floor = encode(Kind::Floor(pb::Floor::default()));
        assert!(is_chatter(&typing) && is_chatter(&read));
        for other in [&presence_frame, &message, &floor] {
            assert!(!is_chatter(other), "only typing and receipts are chatter");
        }
        assert_eq!(presence_of(&presence_frame), Some(presence));
        assert_eq!(presence_of(&message), None);
        assert_eq!(presence_of(&typing), None);
    }

    #[test]
    fn page_context_keeps_only_web_urls_and_capped_text() {
        let c = page_context(pb::PageContext {
            url: "javascript:alert(1)".into(),
            title: format!("Kettle\u{0}{}", "x".repeat(500)),
            product_id: "  p-42 ".into(),
            order_id: String::new(),
        });
        assert_eq!(c.url, None, "only http(s) pages are kept");
        let title = c.title.unwrap();
        assert!(title.starts_with("Kettlex") && title.chars().count() == 200);
        assert_eq!(c.product_id.as_deref(), Some("p-42"));
        assert_eq!(c.order_id, None, "empty means not given");
        let web = page_context(pb::PageContext {
            url: "https://shop.example/p/42?ref=mail".into(),
            ..Default::default()
        });
        assert_eq!(
            web.url.as_deref(),
            Some("https://shop.example/p/42?ref=mail")
        );
    }
}
