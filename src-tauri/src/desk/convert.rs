//! From wire frames and cache rows to what the window shows.

use kefu_proto::v1 as pb;

use crate::{
    cache::{ConversationInfo, Pending},
    client::RemoteConversation,
    model::{ChatMessage, ConversationState, DeliveryState, MessageBody, Priority, Sender},
};

fn money(minor: i64, currency: &str) -> String {
    format!("{}.{:02} {currency}", minor / 100, (minor % 100).abs())
}

pub fn body(b: Option<&pb::MessageBody>) -> MessageBody {
    use pb::message_body::Kind;
    match b.and_then(|b| b.kind.as_ref()) {
        Some(Kind::Text(t)) => MessageBody::Text {
            text: t.text.clone(),
        },
        Some(Kind::PrivateNote(n)) => MessageBody::Note {
            text: n.text.clone(),
        },
        Some(Kind::Attachment(a)) => MessageBody::Attachment {
            attachment_id: a.attachment_id.clone(),
            file_name: a.file_name.clone(),
            mime: a.content_type.clone(),
            size: a.size_bytes,
        },
        Some(Kind::OrderCard(o)) => MessageBody::OrderCard {
            order_id: o.order_id.clone(),
            title: format!("Order #{}", o.order_id),
            detail: format!(
                "{} · {} item(s) · {}",
                o.status,
                o.item_count,
                money(o.total_minor, &o.currency)
            ),
        },
        Some(Kind::ReturnCard(r)) => MessageBody::OrderCard {
            order_id: r.order_id.clone(),
            title: format!("Return #{} for order #{}", r.return_id, r.order_id),
            detail: format!(
                "{} · {} item(s) · refund {}",
                r.status,
                r.item_count,
                money(r.refund_minor, &r.currency)
            ),
        },
        Some(Kind::ProductCard(p)) => MessageBody::OrderCard {
            order_id: p.product_id.clone(),
            title: p.title.clone(),
            detail: money(p.price_minor, &p.currency),
        },
        Some(Kind::System(s)) => MessageBody::System {
            text: s.text.clone(),
        },
        None => MessageBody::System {
            text: String::new(),
        },
    }
}

fn sender(role: i32) -> Sender {
    match pb::Role::try_from(role) {
        Ok(pb::Role::Shopper) => Sender::Shopper,
        Ok(pb::Role::Agent) => Sender::Agent,
        Ok(pb::Role::Bot) => Sender::Bot,
        _ => Sender::System,
    }
}

/// A stored message; `me` is the signed-in agent's id, `read_by_shopper` the highest seq
/// the shopper has read.
pub fn message(m: &pb::Message, me: &str, read_by_shopper: u64) -> ChatMessage {
    let from = m.sender.clone().unwrap_or_default();
    let mine = from.id == me && !me.is_empty();
    ChatMessage {
        id: Some(m.id.clone()),
        client_msg_id: m.client_msg_id.clone(),
        conversation_id: m.conversation_id.clone(),
        seq: Some(m.seq),
        sender: sender(from.role),
        sender_name: from.display_name,
        mine,
        body: body(m.body.as_ref()),
        created_at: m.created_at_ms,
        delivery: if mine && m.seq <= read_by_shopper {
            DeliveryState::Read
        } else {
            DeliveryState::Sent
        },
    }
}

/// A message still in the outbox.
pub fn pending(p: &Pending, agent_name: &str) -> ChatMessage {
    ChatMessage {
        id: None,
        client_msg_id: p.client_msg_id.clone(),
        conversation_id: p.conversation_id.clone(),
        seq: None,
        sender: Sender::Agent,
        sender_name: agent_name.to_string(),
        mine: true,
        body: body(p.send.body.as_ref()),
        created_at: p.created_at,
        delivery: DeliveryState::Pending,
    }
}

/// A conversation from the REST list, for the cache.
pub fn remote(c: &RemoteConversation) -> ConversationInfo {
    ConversationInfo {
        id: c.id.clone(),
        state: Some(ConversationState::parse(&c.state)),
        group: Some(c.group.clone()),
        agent_id: Some(c.agent_id.clone()),
        created_at: Some(c.created_at),
        updated_at: Some(c.updated_at),
        closed_at: Some(c.closed_at),
        page: Some(c.context.clone()),
        tags: Some(c.tags.clone()),
        priority: Some(Priority::parse(&c.priority)),
        listed: true,
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listed(json: serde_json::Value) -> ConversationInfo {
        remote(&serde_json::from_value(json).expect("a REST conversation row"))
    }

    fn row() -> serde_json::Value {
        serde_json::json!({
            "id": "c1", "group": "pre-sales", "state": "queued", "agent_id": null,
            "last_seq": 3, "created_at": 1, "updated_at": 2, "closed_at": null,
        })
    }

    #[test]
    fn rest_tags_and_priority_reach_the_cache_model() {
        let mut json = row();
        json["tags"] = serde_json::json!(["handoff", "keyword:投诉"]);
        json["priority"] = "high".into();
        let c = listed(json);
        assert_eq!(
            c.tags,
            Some(vec!["handoff".to_string(), "keyword:投诉".to_string()]),
            "tags replace the cached ones, in order"
        );
        assert_eq!(c.priority, Some(Priority::High));
    }

    #[test]
    fn rows_from_older_servers_or_unknown_levels_read_as_untagged_and_normal() {
        let c = listed(row());
        assert_eq!(c.tags, Some(vec![]), "no tags field: no tags");
        assert_eq!(
            c.priority,
            Some(Priority::Normal),
            "no priority field: normal"
        );
        let mut json = row();
        json["priority"] = "critical".into();
        assert_eq!(
            listed(json).priority,
            Some(Priority::Normal),
            "a level this build does not know must not fail the whole list"
        );
    }
}
