//! Messages: sending (acked after commit), history pages, typing and read receipts.

use kefu_proto::v1 as pb;
use uuid::Uuid;

use super::{
    Admission, AgentInfo, Caller, OpError, Page, Sessions, check_client_msg_id, hub::ConnId,
    lifecycle::Target, parse_id, stored, who,
};
use crate::{
    store::{Body, ConvState, NewMessage, SenderRole, StoredMessage, now_ms},
    wire,
};

impl Sessions {
    /// Stores a message and returns its ack. Acks only after the commit. A shopper's message
    /// that would open or reopen a conversation needs `admit`'s yes first.
    pub async fn send(
        &self,
        caller: &Caller,
        req: pb::SendMessage,
        admit: Admission<'_>,
    ) -> Result<pb::Ack, OpError> {
        check_client_msg_id(&req.client_msg_id)?;
        self.check_cluster()?;
        let body =
            wire::body_from_pb(req.body.clone().unwrap_or_default()).map_err(OpError::invalid)?;
        self.check_body(caller, &body)?;
        let (conv, opened) = match caller {
            Caller::Shopper(v) => {
                let context = req.context.clone().map(wire::page_context);
                let key = Some(req.client_msg_id.as_str());
                match self
                    .shopper_conversation(v, &req.conversation_id, &req.group, context, key, admit)
                    .await?
                {
                    Target::Open(c, opened) => (c, opened),
                    Target::AlreadySent(m) => return Ok(ack(m)),
                }
            }
            Caller::Agent(a) => {
                let id = parse_id(&req.conversation_id)?;
                let c = self.authorize(caller, id, true).await?;
                if c.state == ConvState::Closed {
                    // A resend of a message acked before the close gets its ack again.
                    return match self.store.sent_message(a.id, &req.client_msg_id).await {
                        Ok(m) if m.conversation_id == c.id => Ok(ack(m)),
                        _ => Err(OpError::closed()),
                    };
                }
                (c, None)
            }
        };
        let body = self.resolve_attachment(conv.id, body).await?;
        let (role, id, name) = match caller {
            Caller::Shopper(v) => (SenderRole::Shopper, v.id, v.display_name.clone()),
            Caller::Agent(a) => (SenderRole::Agent, a.id, a.name.clone()),
        };
        let result = self
            .writer
            .append(NewMessage {
                conversation_id: conv.id,
                client_msg_id: req.client_msg_id.clone(),
                sender_role: role,
                sender_id: id,
                sender_name: name,
                body,
                created_at: now_ms(),
            })
            .await
            .map_err(OpError::internal);
        // Plugins hear of a new conversation after the message that opened it is stored, so
        // their replies (e.g. out of hours) come after it.
        self.announce(conv.id, opened);
        Ok(ack(stored(result?)?))
    }

    /// Refuses empty and oversized text (messages and notes alike), and cards with
    /// oversized fields or links that are not http(s).
    pub(super) fn check_text(&self, body: &Body) -> Result<(), OpError> {
        super::cards::check_card(body)?;
        let max = self.settings.limits.max_text_bytes;
        match body {
            Body::Text { text } | Body::PrivateNote { text } if text.trim().is_empty() => {
                Err(OpError::invalid("text is empty"))
            }
            Body::Text { text } | Body::PrivateNote { text } if text.len() > max => Err(
                OpError::new(pb::ErrorCode::TooLarge, format!("text exceeds {max} bytes")),
            ),
            _ => Ok(()),
        }
    }

    fn check_body(&self, caller: &Caller, body: &Body) -> Result<(), OpError> {
        if matches!(body, Body::System { .. }) {
            return Err(OpError::forbidden(
                "system messages are written by Kefu only",
            ));
        }
        // Cards are shop data (a product, an order): only agents, bots and Kefu send them.
        let shopper_may = matches!(body, Body::Text { .. } | Body::Attachment { .. });
        if matches!(caller, Caller::Shopper(_)) && !shopper_may {
            return Err(OpError::forbidden(
                "shoppers may send text and attachments only",
            ));
        }
        self.check_text(body)
    }

    /// Fills an attachment reference from the stored record; refuses files of other
    /// conversations.
    async fn resolve_attachment(&self, conv: Uuid, body: Body) -> Result<Body, OpError> {
        let Body::Attachment { attachment_id, .. } = body else {
            return Ok(body);
        };
        let a = self.store.attachment(attachment_id).await?;
        if a.conversation_id != conv {
            return Err(OpError::forbidden(
                "the attachment belongs to another conversation",
            ));
        }
        Ok(Body::Attachment {
            attachment_id,
            file_name: a.file_name,
            content_type: a.content_type,
            size_bytes: a.size_bytes as u64,
        })
    }

    /// Posts a card (an order, a return…) as `agent`, after an action it took in the back
    /// office; the shopper sees it like any message.
    pub async fn post_card(
        &self,
        agent: &AgentInfo,
        conv: Uuid,
        card: Body,
    ) -> Result<(), OpError> {
        super::cards::check_card(&card)?;
        self.writer
            .append(NewMessage {
                conversation_id: conv,
                client_msg_id: format!("action-{}", Uuid::now_v7()),
                sender_role: SenderRole::Agent,
                sender_id: agent.id,
                sender_name: agent.name.clone(),
                body: card,
                created_at: now_ms(),
            })
            .await
            .map_err(OpError::internal)?;
        Ok(())
    }

    /// Appends an activity entry written by Kefu itself.
    pub async fn system_message(
        &self,
        conv: Uuid,
        kind: &str,
        text: String,
    ) -> Result<(), OpError> {
        self.writer
            .append(NewMessage::system(conv, kind, text))
            .await
            .map_err(OpError::internal)?;
        Ok(())
    }

    /// One page of the messages `caller` may see (agents see private notes, shoppers never).
    pub async fn history(
        &self,
        caller: &Caller,
        conv: Uuid,
        page: Page,
        limit: u32,
    ) -> Result<Vec<StoredMessage>, OpError> {
        if limit == 0 || limit > self.settings.limits.history_page_max {
            return Err(OpError::invalid(format!(
                "page size must be 1 to {}",
                self.settings.limits.history_page_max
            )));
        }
        self.authorize(caller, conv, false).await?;
        let private = matches!(caller, Caller::Agent(_));
        let limit = limit as i64;
        Ok(match page {
            Page::After(seq) => {
                self.store
                    .messages_after(conv, seq.max(0), limit, private)
                    .await?
            }
            Page::Before(seq) => {
                self.store
                    .messages_before(conv, seq, limit, private)
                    .await?
            }
        })
    }

    /// Relays typing (never stored) to the other side.
    pub async fn typing(
        &self,
        caller: &Caller,
        from: ConnId,
        t: pb::Typing,
    ) -> Result<(), OpError> {
        let c = self
            .authorize(caller, parse_id(&t.conversation_id)?, false)
            .await?;
        let frame = wire::encode(pb::server_envelope::Kind::Typing(pb::Typing {
            who: Some(who(caller)),
            ..t
        }));
        self.publish_conv(&c, Some(from), frame);
        Ok(())
    }

    /// Relays a read receipt to the other side.
    pub async fn read(
        &self,
        caller: &Caller,
        from: ConnId,
        r: pb::ReadReceipt,
    ) -> Result<(), OpError> {
        let c = self
            .authorize(caller, parse_id(&r.conversation_id)?, false)
            .await?;
        if r.up_to_seq > c.last_seq as u64 {
            return Err(OpError::invalid("up_to_seq is beyond the last message"));
        }
        let frame = wire::encode(pb::server_envelope::Kind::Read(pb::ReadReceipt {
            who: Some(who(caller)),
            ..r
        }));
        self.publish_conv(&c, Some(from), frame);
        Ok(())
    }
}

/// The ack of a stored message (the same for the first send and every resend).
fn ack(message: StoredMessage) -> pb::Ack {
    pb::Ack {
        client_msg_id: message.client_msg_id,
        conversation_id: message.conversation_id.to_string(),
        message_id: message.id.to_string(),
        seq: message.seq as u64,
    }
}
