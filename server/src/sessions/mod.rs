//! Conversations as a service: what shoppers and agents may do, independent of transport.
//!
//! The gateway decodes frames and calls [`Sessions`]; nothing here knows about HTTP or
//! WebSockets, and nothing knows about SQL beyond the `Store` trait.
//!
//! - `hub`: live connections and non-blocking fan-out.
//! - `writer`: the batching message writer (acks after commit, publishes in order).
//! - `routing`: queues, offers, capacity and presence: a pure state machine and the task
//!   that performs its effects.

pub mod automation;
pub mod hub;
pub mod routing;
pub mod writer;

use std::{sync::Arc, time::Duration};

use kefu_proto::v1 as pb;
use uuid::Uuid;

use crate::{
    config::Settings,
    events::{EventSink, Lifecycle},
    store::{
        AppendResult, Body, ConvState, Conversation, NewMessage, PageContext, Priority, Role,
        SenderRole, Store, StoreError, StoredMessage, Visitor, now_ms,
    },
    wire,
};
use hub::{ConnId, Hub, Outbound, Recipients};
use routing::{AgentInfo, RouteError, Router};
use writer::Writer;

/// Who is asking.
#[derive(Debug, Clone)]
pub enum Caller {
    Shopper(Visitor),
    Agent(AgentInfo),
}

/// A refused or failed operation, with the wire error code the client branches on.
#[derive(Debug, Clone)]
pub struct OpError {
    pub code: pb::ErrorCode,
    pub message: String,
}

impl OpError {
    pub fn new(code: pb::ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
    fn forbidden(m: &str) -> Self {
        Self::new(pb::ErrorCode::Forbidden, m)
    }
    fn invalid(m: impl Into<String>) -> Self {
        Self::new(pb::ErrorCode::InvalidArgument, m)
    }
    fn closed() -> Self {
        Self::new(pb::ErrorCode::Conflict, "the conversation is closed")
    }
    fn internal(e: impl std::fmt::Display) -> Self {
        tracing::error!(error = %e, "session operation failed");
        Self::new(pb::ErrorCode::Internal, "internal error; retry later")
    }
}

impl From<StoreError> for OpError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => Self::new(pb::ErrorCode::NotFound, "not found"),
            StoreError::Conflict(m) => Self::new(pb::ErrorCode::Conflict, m),
            other => Self::internal(other),
        }
    }
}

impl From<RouteError> for OpError {
    fn from(e: RouteError) -> Self {
        match e {
            RouteError::Conflict(m) => Self::new(pb::ErrorCode::Conflict, m),
            RouteError::Forbidden(m) => Self::new(pb::ErrorCode::Forbidden, m),
            RouteError::NotFound(m) => Self::new(pb::ErrorCode::NotFound, m),
            RouteError::Internal(m) => Self::internal(m),
        }
    }
}

/// The session service shared by every connection and REST handler.
pub struct Sessions {
    pub store: Arc<dyn Store>,
    pub hub: Arc<Hub>,
    pub writer: Writer,
    pub router: Router,
    pub settings: Arc<Settings>,
    /// Plugins and webhooks hear what happens here.
    pub events: EventSink,
    /// Serialises "find or open the shopper's conversation" so two tabs sending their first
    /// message at once do not open two conversations.
    open_lock: tokio::sync::Mutex<()>,
}

impl Sessions {
    /// Starts the writer and router (rebuilding routing state from the store) and the
    /// background sweepers for heartbeats and idle conversations.
    pub async fn start(
        store: Arc<dyn Store>,
        settings: Arc<Settings>,
        events: EventSink,
    ) -> anyhow::Result<Arc<Self>> {
        let hub = Arc::new(Hub::default());
        let writer = Writer::spawn(store.clone(), hub.clone(), events.clone());
        let router = Router::spawn(
            store.clone(),
            hub.clone(),
            writer.clone(),
            settings.routing.clone(),
            events.clone(),
        )
        .await?;
        let sessions = Arc::new(Self {
            store,
            hub,
            writer,
            router,
            settings,
            events,
            open_lock: Default::default(),
        });
        tokio::spawn(heartbeat_sweeper(Arc::downgrade(&sessions)));
        if sessions.settings.routing.idle_close_secs > 0 {
            tokio::spawn(idle_sweeper(Arc::downgrade(&sessions)));
        }
        Ok(sessions)
    }

    /// Checks that `caller` may see (or, with `write`, act in) a conversation.
    pub async fn authorize(
        &self,
        caller: &Caller,
        conv: Uuid,
        write: bool,
    ) -> Result<Conversation, OpError> {
        let c = match self.store.conversation(conv).await {
            Err(StoreError::NotFound) if matches!(caller, Caller::Shopper(_)) => {
                return Err(OpError::forbidden("not your conversation"));
            }
            other => other?,
        };
        let allowed = match caller {
            Caller::Shopper(v) => c.visitor_id == v.id,
            Caller::Agent(a) if a.role >= Role::Supervisor => true,
            Caller::Agent(a) => {
                c.agent_id == Some(a.id)
                    || (!write && c.state == ConvState::Queued && a.groups.contains(&c.group))
            }
        };
        if allowed {
            Ok(c)
        } else {
            Err(OpError::forbidden("you may not access this conversation"))
        }
    }

    /// Stores a message and returns its ack. Acks only after the commit.
    pub async fn send(&self, caller: &Caller, req: pb::SendMessage) -> Result<pb::Ack, OpError> {
        check_client_msg_id(&req.client_msg_id)?;
        let body =
            wire::body_from_pb(req.body.clone().unwrap_or_default()).map_err(OpError::invalid)?;
        self.check_body(caller, &body)?;
        let (conv, opened) = match caller {
            Caller::Shopper(v) => {
                let context = req.context.clone().map(wire::page_context);
                self.shopper_conversation(v, &req.conversation_id, &req.group, context)
                    .await?
            }
            Caller::Agent(_) => {
                let id = parse_id(&req.conversation_id)?;
                let c = self.authorize(caller, id, true).await?;
                if c.state == ConvState::Closed {
                    return Err(OpError::closed());
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
        let message = stored(result?)?;
        Ok(pb::Ack {
            client_msg_id: message.client_msg_id,
            conversation_id: message.conversation_id.to_string(),
            message_id: message.id.to_string(),
            seq: message.seq as u64,
        })
    }

    /// Refuses empty and oversized text (messages and notes alike).
    fn check_text(&self, body: &Body) -> Result<(), OpError> {
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
        self.check_text(body)?;
        if matches!(body, Body::System { .. }) {
            return Err(OpError::forbidden(
                "system messages are written by Kefu only",
            ));
        }
        let shopper_may = matches!(
            body,
            Body::Text { .. } | Body::Attachment { .. } | Body::ProductCard { .. }
        );
        if matches!(caller, Caller::Shopper(_)) && !shopper_may {
            return Err(OpError::forbidden(
                "shoppers may send text, attachments and product cards only",
            ));
        }
        Ok(())
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

    /// Opens (or finds) a shopper's conversation before its first message, e.g. to attach a
    /// file first. `left_message` records that nobody was online, with the shopper's email,
    /// so agents coming back know to answer by email too.
    pub async fn open_for_shopper(
        &self,
        v: &Visitor,
        group: &str,
        context: Option<PageContext>,
        left_message: bool,
    ) -> Result<Conversation, OpError> {
        let (c, opened) = self.shopper_conversation(v, "", group, context).await?;
        if left_message {
            let email = self.store.visitor(v.id).await?.email;
            let text = match email {
                Some(e) => format!("Message left while no agent was online · reply to {e}"),
                None => "Message left while no agent was online".to_string(),
            };
            self.system_message(c.id, "left_message", text).await?;
        }
        self.announce(c.id, opened);
        Ok(c)
    }

    /// Tells plugins and webhooks a conversation opened (`Some(reopened)`).
    fn announce(&self, conv: Uuid, opened: Option<bool>) {
        if let Some(reopened) = opened {
            self.events.lifecycle(conv, Lifecycle::Opened { reopened });
        }
    }

    /// Remembers the page the shopper is on, when it changed. Called before a conversation
    /// is (re)queued, so the offer an agent gets already shows the page.
    async fn note_page(
        &self,
        c: &mut Conversation,
        context: Option<PageContext>,
    ) -> Result<(), OpError> {
        match context {
            Some(context) if c.context != context => {
                self.store.set_page_context(c.id, &context).await?;
                c.context = context;
            }
            _ => {}
        }
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

    /// The conversation a shopper's message goes to: the one named if still open, else the
    /// visitor's open one, else a recently closed one reopened, else a new one. `context`,
    /// the page the shopper is on, is recorded before any agent is offered it. The second
    /// value says whether it was opened now (`Some(reopened)`), for the caller to announce.
    async fn shopper_conversation(
        &self,
        v: &Visitor,
        conversation_id: &str,
        group: &str,
        context: Option<PageContext>,
    ) -> Result<(Conversation, Option<bool>), OpError> {
        let caller = Caller::Shopper(v.clone());
        if !conversation_id.is_empty() {
            let mut c = self
                .authorize(&caller, parse_id(conversation_id)?, true)
                .await?;
            if c.state != ConvState::Closed {
                self.note_page(&mut c, context).await?;
                return Ok((c, None));
            }
        }
        let _guard = self.open_lock.lock().await;
        let latest = match self.store.latest_conversation_of_visitor(v.id).await {
            Ok(c) => Some(c),
            Err(StoreError::NotFound) => None,
            Err(e) => return Err(e.into()),
        };
        let site = self.settings.site(&v.site_id);
        let group = match (group, site) {
            (g, _) if !g.is_empty() => g.to_string(),
            (_, Some(site)) => site.default_group.clone(),
            _ => latest
                .as_ref()
                .map(|c| c.group.clone())
                .unwrap_or_else(|| "default".into()),
        };
        let now = now_ms();
        // Read fresh: the socket's copy of the visitor predates its last conversation.
        let sticky = self.store.visitor(v.id).await?.last_agent_id;
        if let Some(mut c) = latest {
            if c.state != ConvState::Closed {
                self.note_page(&mut c, context).await?;
                return Ok((c, None));
            }
            let window = (self.settings.routing.reopen_window_secs * 1000) as i64;
            if c.closed_at.is_some_and(|t| now - t <= window)
                && self.store.reopen_conversation(c.id, &c.group, now).await?
            {
                self.note_page(&mut c, context).await?;
                let frame = wire::event(
                    c.id,
                    pb::conversation_event::Kind::Reopened(pb::Reopened {
                        group: c.group.clone(),
                    }),
                );
                self.publish_conv(&c, None, frame);
                self.router
                    .enqueue(c.id, c.group.clone(), v.id, sticky, c.priority)
                    .await;
                return Ok((self.store.conversation(c.id).await?, Some(true)));
            }
        }
        self.require_group(&group).await?;
        let c = Conversation {
            id: Uuid::now_v7(),
            site_id: v.site_id.clone(),
            visitor_id: v.id,
            group: group.clone(),
            state: ConvState::Queued,
            agent_id: None,
            last_seq: 0,
            created_at: now,
            updated_at: now,
            closed_at: None,
            close_reason: None,
            context: context.unwrap_or_default(),
            tags: Vec::new(),
            priority: Priority::Normal,
        };
        self.store.create_conversation(&c).await?;
        self.router
            .enqueue(c.id, group, v.id, sticky, Priority::Normal)
            .await;
        Ok((c, Some(false)))
    }

    /// Refuses a group that does not exist.
    async fn require_group(&self, group: &str) -> Result<(), OpError> {
        if self
            .store
            .list_groups()
            .await?
            .iter()
            .any(|g| g.name == group)
        {
            Ok(())
        } else {
            Err(OpError::invalid(format!("group `{group}` does not exist")))
        }
    }

    /// Sends a frame to everyone who may see a conversation.
    fn publish_conv(&self, c: &Conversation, except: Option<ConnId>, frame: bytes::Bytes) {
        let agents: Vec<Uuid> = c.agent_id.into_iter().collect();
        self.hub.publish(
            &Recipients {
                visitor: Some(c.visitor_id),
                agents: &agents,
                watchers: true,
                except,
            },
            Outbound::event(frame),
        );
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

    /// Closes a conversation (its agent, a supervisor, its shopper, or the idle sweeper).
    pub async fn close(&self, caller: Option<&Caller>, conv: Uuid) -> Result<(), OpError> {
        let c = match caller {
            Some(caller) => self.authorize(caller, conv, true).await?,
            None => self.store.conversation(conv).await?,
        };
        let reason = match caller {
            Some(Caller::Shopper(_)) => pb::CloseReason::Shopper,
            Some(Caller::Agent(_)) => pb::CloseReason::Agent,
            None => pb::CloseReason::Idle,
        };
        if !self
            .store
            .close_conversation(conv, reason.as_str_name(), now_ms())
            .await?
        {
            return Err(OpError::new(
                pb::ErrorCode::Conflict,
                "the conversation is already closed",
            ));
        }
        self.router.release(conv).await;
        let by = caller.map(who);
        let frame = wire::event(
            conv,
            pb::conversation_event::Kind::Closed(pb::Closed {
                reason: reason as i32,
                by,
            }),
        );
        self.publish_conv(&c, None, frame);
        metrics::counter!("kefu_conversations_closed_total", "reason" => reason.as_str_name())
            .increment(1);
        let text = match reason {
            pb::CloseReason::Idle => "Closed after inactivity".to_string(),
            _ => "Conversation closed".to_string(),
        };
        let _ = self.system_message(conv, "closed", text).await;
        self.events.lifecycle(
            conv,
            Lifecycle::Closed {
                reason: reason
                    .as_str_name()
                    .trim_start_matches("CLOSE_REASON_")
                    .to_lowercase(),
            },
        );
        Ok(())
    }
}

/// Which way a history page goes.
#[derive(Debug, Clone, Copy)]
pub enum Page {
    /// Messages with a higher seq (catching up), oldest first.
    After(i64),
    /// Messages with a lower seq (scrolling back), oldest first.
    Before(i64),
}

/// Checks a sender's idempotency key.
fn check_client_msg_id(id: &str) -> Result<(), OpError> {
    if id.is_empty() || id.len() > 64 {
        return Err(OpError::invalid("client_msg_id must be 1 to 64 characters"));
    }
    Ok(())
}

/// The message the writer stored, or why it could not.
fn stored(result: AppendResult) -> Result<StoredMessage, OpError> {
    match result {
        AppendResult::Stored { message, .. } => Ok(message),
        AppendResult::NoConversation => Err(OpError::new(
            pb::ErrorCode::NotFound,
            "conversation not found",
        )),
    }
}

/// Parses a conversation id from the wire.
pub fn parse_id(s: &str) -> Result<Uuid, OpError> {
    Uuid::parse_str(s).map_err(|_| OpError::invalid("conversation_id is not a UUID"))
}

fn who(caller: &Caller) -> pb::Participant {
    match caller {
        Caller::Shopper(v) => wire::participant(SenderRole::Shopper, v.id, &v.display_name),
        Caller::Agent(a) => wire::participant(SenderRole::Agent, a.id, &a.name),
    }
}

/// One sweeper for all sockets: those silent for two heartbeat intervals are closed.
async fn heartbeat_sweeper(sessions: std::sync::Weak<Sessions>) {
    loop {
        let Some(s) = sessions.upgrade() else { return };
        let interval = s.settings.heartbeat();
        let stale = s
            .hub
            .sweep_stale(now_ms() - 2 * interval.as_millis() as i64);
        if stale > 0 {
            tracing::debug!(stale, "closed silent connections");
        }
        drop(s);
        tokio::time::sleep(interval / 2).await;
    }
}

/// Closes conversations idle for longer than `routing.idle_close_secs`.
async fn idle_sweeper(sessions: std::sync::Weak<Sessions>) {
    loop {
        let Some(s) = sessions.upgrade() else { return };
        let idle = s.settings.routing.idle_close_secs;
        match s
            .store
            .idle_conversations(now_ms() - (idle * 1000) as i64)
            .await
        {
            Ok(convs) => {
                for c in convs {
                    if let Err(e) = s.close(None, c.id).await {
                        tracing::debug!(conv = %c.id, error = %e.message, "idle close skipped");
                    }
                }
            }
            Err(e) => tracing::error!(error = %e, "looking for idle conversations"),
        }
        drop(s);
        tokio::time::sleep(Duration::from_secs(idle.clamp(1, 120)) / 2).await;
    }
}
