//! What the agent does: read, write, accept, transfer, close, look at the customer.

use base64::Engine as _;
use kefu_proto::v1::{self as pb, client_envelope::Kind as In};

use super::{Desk, convert};
use crate::{
    cache::now_ms,
    client::ClientError,
    model::{
        ActionDone, AgentRef, AgentStatus, CannedReply, ChatMessage, ConversationSummary,
        CustomerPanel, DeskError, DeskErrorCode, HistoryPage, OrderAction, Settings,
        TransferTarget, TransferTargets, Update, View,
    },
};

/// Messages per page of history.
const PAGE: u32 = 50;
/// Longest text message the desk sends (the server enforces its own limit too).
const MAX_TEXT_CHARS: usize = 4000;
/// How long a customer view received counts as fresh (the server caches the back office too).
const FRESH_VIEW_MS: i64 = 60_000;
/// Largest file the desk reads into memory to upload.
const MAX_FILE_BYTES: usize = 20 * 1024 * 1024;

fn invalid(message: impl Into<String>) -> DeskError {
    DeskError::new(DeskErrorCode::Invalid, message)
}

/// The panel from a customer view as the server sent it (REST, or pushed with an offer).
fn read_panel(
    mut view: serde_json::Value,
    received_at: i64,
    from_cache: bool,
) -> Result<CustomerPanel, DeskError> {
    // A view pushed with an offer has no earlier conversations; REST's has.
    if view.get("conversations").is_none() {
        view["conversations"] = serde_json::json!([]);
    }
    // A copy from a server that did not say is not vouched for.
    if view.get("verification").is_none() {
        view["verification"] = "unverified".into();
    }
    view["from_cache"] = from_cache.into();
    view["received_at"] = received_at.into();
    serde_json::from_value(view).map_err(|e| {
        DeskError::new(
            DeskErrorCode::Internal,
            format!("the customer view could not be read: {e}"),
        )
    })
}

impl Desk {
    /// A view of the conversation list, from the cache (kept fresh by the sync engine).
    pub async fn conversations(
        &self,
        view: View,
        query: Option<String>,
    ) -> Result<Vec<ConversationSummary>, DeskError> {
        let a = self.active().await?;
        Ok(a.cache.list(view, query.as_deref()).await?)
    }

    /// A page of messages before `before_seq` (the newest page when `None`, followed by the
    /// conversation's unsent messages). A conversation never cached is fetched from the
    /// server; its messages arrive as updates.
    pub async fn history(
        &self,
        conversation_id: &str,
        before_seq: Option<u64>,
    ) -> Result<HistoryPage, DeskError> {
        let a = self.active().await?;
        let stored = a.cache.page(conversation_id, before_seq, PAGE).await?;
        if stored.is_empty() && before_seq.is_none() {
            // Best effort: offline, the pane shows what the cache has (nothing yet).
            let _ = a.sync.resume(conversation_id, 0).await;
        }
        let has_more = stored.first().is_some_and(|m| m.seq > 1);
        let read = self.shopper_read_seq(conversation_id);
        let mut messages: Vec<ChatMessage> = stored
            .iter()
            .map(|m| convert::message(m, &a.agent.id, read))
            .collect();
        if before_seq.is_none() {
            for p in a.cache.pending(Some(conversation_id)).await? {
                messages.push(convert::pending(&p, &a.agent.display_name));
            }
        }
        Ok(HistoryPage { messages, has_more })
    }

    async fn send(
        &self,
        conversation_id: &str,
        body: pb::MessageBody,
    ) -> Result<ChatMessage, DeskError> {
        let a = self.active().await?;
        let client_msg_id = a.sync.send_body(conversation_id, body).await?;
        let pending = a.cache.pending(Some(conversation_id)).await?;
        let mine = pending.iter().find(|p| p.client_msg_id == client_msg_id);
        let message = match mine {
            Some(p) => convert::pending(p, &a.agent.display_name),
            // Already acknowledged and settled (fast server): show it as sent.
            None => ChatMessage {
                delivery: crate::model::DeliveryState::Sent,
                ..convert::pending(
                    &crate::cache::Pending {
                        client_msg_id,
                        conversation_id: conversation_id.into(),
                        send: pb::SendMessage::default(),
                        created_at: now_ms(),
                    },
                    &a.agent.display_name,
                )
            },
        };
        self.emit_conversation(&a.cache, conversation_id).await?;
        Ok(message)
    }

    /// Writes a text message (or a private note): into the outbox, then out when online.
    pub async fn send_text(
        &self,
        conversation_id: &str,
        text: &str,
        note: bool,
    ) -> Result<ChatMessage, DeskError> {
        let text = text.trim();
        if text.is_empty() {
            return Err(invalid("the message is empty"));
        }
        if text.chars().count() > MAX_TEXT_CHARS {
            return Err(invalid(format!(
                "messages may be at most {MAX_TEXT_CHARS} characters"
            )));
        }
        use pb::message_body::Kind;
        let kind = if note {
            Kind::PrivateNote(pb::PrivateNote { text: text.into() })
        } else {
            Kind::Text(pb::Text { text: text.into() })
        };
        self.send(conversation_id, pb::MessageBody { kind: Some(kind) })
            .await
    }

    /// Uploads a file and sends it. Needs the server: files are not queued offline.
    pub async fn send_file(
        &self,
        conversation_id: &str,
        file_name: &str,
        mime: &str,
        data_base64: &str,
    ) -> Result<ChatMessage, DeskError> {
        if data_base64.len() / 4 * 3 > MAX_FILE_BYTES {
            return Err(invalid(format!(
                "files may be at most {} MB",
                MAX_FILE_BYTES / 1024 / 1024
            )));
        }
        let data = base64::engine::general_purpose::STANDARD
            .decode(data_base64)
            .map_err(|_| invalid("the file could not be read"))?;
        let a = self.active().await?;
        let up = a
            .server
            .upload(conversation_id, file_name, mime, data)
            .await?;
        let body = pb::MessageBody {
            kind: Some(pb::message_body::Kind::Attachment(pb::AttachmentRef {
                attachment_id: up.attachment_id,
                file_name: up.file_name,
                content_type: up.content_type,
                size_bytes: up.size_bytes,
            })),
        };
        self.send(conversation_id, body).await
    }

    /// The server signed in to and the session's token, for the updater's requests.
    pub async fn server_credentials(&self) -> Result<(String, String), DeskError> {
        let a = self.active().await?;
        Ok((a.server.base_url.clone(), a.server.token.clone()))
    }

    /// An attachment as a `data:` URL for the window to show.
    pub async fn attachment(&self, attachment_id: &str) -> Result<String, DeskError> {
        let a = self.active().await?;
        let (mime, bytes) = a.server.download(attachment_id).await?;
        Ok(format!(
            "data:{mime};base64,{}",
            base64::engine::general_purpose::STANDARD.encode(bytes)
        ))
    }

    /// Saves an attachment to `path` (chosen by the agent in the save dialog): written
    /// beside it first and renamed into place, so a failed download leaves no partial file.
    pub async fn save_attachment(
        &self,
        attachment_id: &str,
        path: &std::path::Path,
    ) -> Result<(), DeskError> {
        let a = self.active().await?;
        let (_, bytes) = a.server.download(attachment_id).await?;
        write_file(path, &bytes).await
    }

    pub async fn accept(&self, conversation_id: &str) -> Result<(), DeskError> {
        let a = self.active().await?;
        self.accepting
            .lock()
            .expect("accepting lock")
            .insert(conversation_id.into());
        Ok(a.sync.accept(conversation_id).await?)
    }

    pub async fn decline(&self, conversation_id: &str) -> Result<(), DeskError> {
        let a = self.active().await?;
        Ok(a.sync
            .live(In::Decline(pb::DeclineOffer {
                conversation_id: conversation_id.into(),
            }))
            .await?)
    }

    pub async fn transfer(
        &self,
        conversation_id: &str,
        target: TransferTarget,
        note: &str,
    ) -> Result<(), DeskError> {
        let a = self.active().await?;
        let (to_agent_id, to_group) = match target {
            TransferTarget::Agent(id) => (id, String::new()),
            TransferTarget::Group(g) => (String::new(), g),
        };
        Ok(a.sync
            .live(In::Transfer(pb::TransferConversation {
                conversation_id: conversation_id.into(),
                to_agent_id,
                to_group,
                note: note.trim().into(),
            }))
            .await?)
    }

    pub async fn close(&self, conversation_id: &str) -> Result<(), DeskError> {
        let a = self.active().await?;
        Ok(a.sync
            .live(In::Close(pb::CloseConversation {
                conversation_id: conversation_id.into(),
            }))
            .await?)
    }

    /// Tells the shopper the agent is typing (dropped silently when offline).
    pub async fn typing(&self, conversation_id: &str, typing: bool) -> Result<(), DeskError> {
        let a = self.active().await?;
        let _ = a
            .sync
            .live(In::Typing(pb::Typing {
                conversation_id: conversation_id.into(),
                typing,
                who: None,
            }))
            .await;
        Ok(())
    }

    /// The agent has seen everything up to `seq`: unread goes to zero, and the server hears
    /// of it when online.
    pub async fn mark_read(&self, conversation_id: &str, seq: u64) -> Result<(), DeskError> {
        let a = self.active().await?;
        a.cache.mark_read(conversation_id, seq).await?;
        let _ = a
            .sync
            .live(In::Read(pb::ReadReceipt {
                conversation_id: conversation_id.into(),
                up_to_seq: seq,
                who: None,
            }))
            .await;
        self.emit_conversation(&a.cache, conversation_id).await?;
        Ok(())
    }

    /// Sets the agent's status now if online, and on every connect from now on, across
    /// restarts (kept in the prefs: the server forgets it with the agent's last socket).
    pub async fn set_status(&self, status: AgentStatus) -> Result<(), DeskError> {
        let a = self.active().await?;
        self.save_prefs(|p| p.status = status)?;
        a.sync.set_status(wire_status(status));
        self.emit(Update::Status { status });
        let frame = In::SetStatus(pb::SetStatus {
            status: wire_status(status) as i32,
        });
        // Offline: the engine sets it when the connection is back.
        let _ = a.sync.live(frame).await;
        Ok(())
    }

    /// The status the agent chose last.
    pub(super) fn chosen_status(&self) -> AgentStatus {
        self.prefs.lock().expect("prefs lock").status
    }

    /// Canned replies (the last list fetched when offline).
    pub async fn canned_replies(&self) -> Result<Vec<CannedReply>, DeskError> {
        let a = self.active().await?;
        match a.server.canned_replies().await {
            Ok(list) => {
                *self.canned.lock().expect("canned lock") = list.clone();
                Ok(list)
            }
            Err(ClientError::Unreachable(_)) => {
                Ok(self.canned.lock().expect("canned lock").clone())
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Groups, and the agents when the server lets this agent list them (supervisors).
    pub async fn transfer_targets(&self) -> Result<TransferTargets, DeskError> {
        let a = self.active().await?;
        let groups = a
            .server
            .groups()
            .await?
            .iter()
            .filter_map(|g| g.get("name")?.as_str().map(String::from))
            .collect();
        let agents = match a.server.agents().await {
            Ok(list) => list
                .iter()
                .filter(|v| v.get("disabled").and_then(|d| d.as_bool()) != Some(true))
                .filter_map(|v| {
                    Some(AgentRef {
                        id: v.get("id")?.as_str()?.into(),
                        display_name: v.get("display_name")?.as_str()?.into(),
                    })
                })
                .filter(|r| r.id != a.agent.id)
                .collect(),
            Err(ClientError::Forbidden(_)) => Vec::new(),
            Err(e) => return Err(e.into()),
        };
        Ok(TransferTargets { groups, agents })
    }

    /// The customer panel: fresh from the server, or the cached copy when it is unreachable.
    /// Without `refresh`, a copy received in the last minute (e.g. pushed with the offer) is
    /// used as is.
    pub async fn customer_view(
        &self,
        conversation_id: &str,
        refresh: bool,
    ) -> Result<Option<CustomerPanel>, DeskError> {
        let a = self.active().await?;
        let cached = a.cache.customer_view(conversation_id).await?;
        let panel = |(view, at), from_cache| read_panel(view, at, from_cache).map(Some);
        if let Some((view, at)) = &cached
            && !refresh
            && now_ms() - at < FRESH_VIEW_MS
        {
            return panel((view.clone(), *at), false);
        }
        match a.server.customer_view(conversation_id).await {
            Ok(view) => {
                let at = a.cache.put_customer_view(conversation_id, &view).await?;
                panel((view, at), false)
            }
            Err(ClientError::Unreachable(_)) => match cached {
                Some(copy) => panel(copy, true),
                None => Ok(None),
            },
            Err(e) => Err(e.into()),
        }
    }

    /// Verifies the customer an unverified shopper's e-mail or phone suggests, with an order
    /// number the shopper quoted; the server checks it with the back office and audits it.
    /// Answers the full panel (kept in the cache) once verified.
    pub async fn verify_customer(
        &self,
        conversation_id: &str,
        order_id: &str,
    ) -> Result<CustomerPanel, DeskError> {
        let order_id = order_id.trim();
        if order_id.is_empty() {
            return Err(invalid("enter the order number the shopper quoted"));
        }
        let a = self.active().await?;
        let view = a.server.verify_customer(conversation_id, order_id).await?;
        let at = a.cache.put_customer_view(conversation_id, &view).await?;
        read_panel(view, at, false)
    }

    /// Runs an order action through the server (which checks permissions and audits it).
    pub async fn order_action(
        &self,
        conversation_id: &str,
        action: OrderAction,
    ) -> Result<ActionDone, DeskError> {
        let a = self.active().await?;
        let (path, body, message) = match &action {
            OrderAction::SendOrderCard { order_id } => (
                "send-order-card",
                serde_json::json!({ "order_id": order_id }),
                format!("Order #{order_id} sent to the shopper"),
            ),
            OrderAction::CancelOrder { order_id, reason } => (
                "cancel-order",
                serde_json::json!({ "order_id": order_id, "reason": reason }),
                format!("Order #{order_id} cancelled"),
            ),
            OrderAction::CreateReturn {
                order_id,
                reason,
                items,
            } => {
                if items.is_empty() {
                    return Err(invalid("choose at least one item to return"));
                }
                (
                    "create-return",
                    serde_json::json!({ "order_id": order_id, "reason": reason, "items": items }),
                    format!("Return created for order #{order_id}"),
                )
            }
        };
        a.server.action(conversation_id, path, &body).await?;
        Ok(ActionDone { message })
    }

    pub fn settings(&self) -> Settings {
        self.prefs.lock().expect("prefs lock").settings.clone()
    }

    /// Saves the agent's preferences; a shorter retention prunes the cache now.
    pub async fn save_settings(&self, settings: Settings) -> Result<(), DeskError> {
        if !(1..=3650).contains(&settings.retention_days) {
            return Err(invalid("keep closed conversations for 1 to 3650 days"));
        }
        self.save_prefs(|p| p.settings = settings.clone())?;
        self.notifier.update_settings(settings.clone());
        if let Ok(a) = self.active().await {
            a.cache.prune(settings.retention_days).await?;
        }
        Ok(())
    }

    /// The conversation on screen (`None`: none, or the window is hidden).
    pub async fn focus(&self, conversation_id: Option<String>) -> Result<(), DeskError> {
        *self.focus.lock().expect("focus lock") = conversation_id.clone();
        if let Ok(a) = self.active().await {
            a.sync.set_focus(conversation_id);
        }
        Ok(())
    }

    /// Unread messages over all open conversations (for the tray).
    pub async fn unread_total(&self) -> u32 {
        match self.active().await {
            Ok(a) => a.cache.unread_total().await.unwrap_or(0),
            Err(_) => 0,
        }
    }
}

/// Writes `bytes` to `path` (chosen by the agent in a save dialog): beside it first, then
/// renamed into place, so a failure leaves no partial file.
pub(super) async fn write_file(path: &std::path::Path, bytes: &[u8]) -> Result<(), DeskError> {
    let partial = path.with_file_name(format!(
        ".{}.kefu-partial",
        path.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    ));
    let written = async {
        tokio::fs::write(&partial, bytes).await?;
        tokio::fs::rename(&partial, path).await
    }
    .await;
    if let Err(e) = written {
        let _ = tokio::fs::remove_file(&partial).await;
        return Err(DeskError::new(
            DeskErrorCode::Invalid,
            format!("saving to {}: {e}", path.display()),
        ));
    }
    Ok(())
}

pub(super) fn wire_status(status: AgentStatus) -> pb::AgentStatus {
    match status {
        AgentStatus::Online => pb::AgentStatus::Online,
        AgentStatus::Away => pb::AgentStatus::Away,
    }
}

/// A shopper's file name made safe to offer in a save dialog: no folders, no characters
/// Windows refuses, no control or bidirectional-override characters (which can disguise
/// `invoice\u{202e}fdp.exe` as `invoiceexe.pdf`), not hidden, not empty, not too long.
pub fn safe_file_name(name: &str) -> String {
    let cleaned: String = name
        .chars()
        .map(|c| match c {
            '/' | '\\' | ':' | '*' | '?' | '"' | '<' | '>' | '|' => '_',
            '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200e}' | '\u{200f}' => '_',
            c if c.is_control() => '_',
            c => c,
        })
        .collect();
    let trimmed = cleaned.trim().trim_start_matches('.').trim();
    let mut out: String = trimmed.chars().take(150).collect();
    if out.is_empty() {
        out = "attachment".into();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::safe_file_name;

    #[test]
    fn a_shoppers_file_name_cannot_pick_the_folder_or_disguise_its_type() {
        assert_eq!(safe_file_name("receipt 2024.pdf"), "receipt 2024.pdf");
        assert_eq!(safe_file_name("发票.pdf"), "发票.pdf");
        assert_eq!(safe_file_name("../../.bashrc"), "_.._.bashrc");
        assert_eq!(safe_file_name("..\\..\\evil.exe"), "_.._evil.exe");
        assert_eq!(safe_file_name(".hidden"), "hidden");
        assert_eq!(safe_file_name("invoice\u{202e}fdp.exe"), "invoice_fdp.exe");
        assert_eq!(safe_file_name("a\nb\tc.txt"), "a_b_c.txt");
        assert_eq!(safe_file_name("C:secret|?.txt"), "C_secret__.txt");
        assert_eq!(safe_file_name("   "), "attachment");
        assert_eq!(safe_file_name(&"x".repeat(400)).chars().count(), 150);
    }
}
