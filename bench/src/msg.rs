//! The frames the load generator speaks, and the text it writes into every message so the
//! receiving side can check order and measure latency: `"<k> <intended send ns> <padding>"`.

use kefu_proto::v1::{self as pb, client_envelope::Kind as In};
use prost::Message as _;

/// Chat messages are short; padded to a typical length so frame sizes are realistic.
const TEXT_BYTES: usize = 80;

/// Encodes a client frame.
pub fn frame(kind: In) -> Vec<u8> {
    pb::ClientEnvelope { kind: Some(kind) }.encode_to_vec()
}

/// A text message numbered `k` within its conversation and direction.
pub fn send(conversation_id: &str, client_msg_id: String, k: u64, intended_ns: u64) -> Vec<u8> {
    let mut text = format!("{k} {intended_ns} ");
    let pad = TEXT_BYTES.saturating_sub(text.len());
    text.extend(std::iter::repeat_n('.', pad));
    frame(In::Send(pb::SendMessage {
        conversation_id: conversation_id.into(),
        client_msg_id,
        body: Some(pb::MessageBody {
            kind: Some(pb::message_body::Kind::Text(pb::Text { text })),
        }),
        group: String::new(),
        context: None,
    }))
}

/// The `k` and intended send time a message written by the load generator carries.
pub fn numbered(m: &pb::Message) -> Option<(u64, u64)> {
    let pb::message_body::Kind::Text(t) = m.body.as_ref()?.kind.as_ref()? else {
        return None;
    };
    let mut parts = t.text.split(' ');
    Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?))
}

/// `client_msg_id` of message `k`: unique per sender, and it names the message in its Ack.
pub fn client_msg_id(conversation_id: &str, k: u64) -> String {
    format!("{conversation_id}:{k}")
}

/// `(conversation, k)` back from an Ack's `client_msg_id`.
pub fn parse_client_msg_id(id: &str) -> Option<(&str, u64)> {
    let (conv, k) = id.rsplit_once(':')?;
    Some((conv, k.parse().ok()?))
}

/// The client id of a shopper's opening message (its conversation is not known yet).
pub const OPENING: &str = "opening";

pub fn heartbeat() -> Vec<u8> {
    frame(In::Heartbeat(pb::Heartbeat { at_ms: 0 }))
}

pub fn accept(conversation_id: &str) -> Vec<u8> {
    frame(In::Accept(pb::AcceptOffer {
        conversation_id: conversation_id.into(),
    }))
}

pub fn resume(conversation_id: &str, last_seq: u64) -> Vec<u8> {
    frame(In::Resume(pb::Resume {
        conversation_id: conversation_id.into(),
        last_seq,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_survive_the_round_trip() {
        let f = send("c1", client_msg_id("c1", 7), 7, 123_456_789);
        let env = pb::ClientEnvelope::decode(f.as_slice()).unwrap();
        let Some(In::Send(s)) = env.kind else {
            panic!("a send")
        };
        let m = pb::Message {
            body: s.body,
            ..Default::default()
        };
        assert_eq!(numbered(&m), Some((7, 123_456_789)));
        assert_eq!(parse_client_msg_id(&s.client_msg_id), Some(("c1", 7)));
        assert!(f.len() > TEXT_BYTES, "padded to a realistic size");
    }

    #[test]
    fn foreign_texts_are_not_numbered() {
        let m = pb::Message {
            body: Some(pb::MessageBody {
                kind: Some(pb::message_body::Kind::Text(pb::Text {
                    text: "Welcome! An agent will be with you shortly.".into(),
                })),
            }),
            ..Default::default()
        };
        assert_eq!(numbered(&m), None);
        assert_eq!(parse_client_msg_id(OPENING), None);
    }
}
