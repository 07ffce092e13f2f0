//! A conversation's life: found or opened for a shopper's first message, reopened within
//! the reopen window, closed by its agent, its shopper or the idle sweeper.

use std::time::Duration;

use kefu_proto::v1 as pb;
use uuid::Uuid;

use super::{
    Admission, Caller, OpError, Sessions,
    hub::{Outbound, Recipients},
    parse_id, who,
};
use crate::{
    events::Lifecycle,
    store::{
        ConvState, Conversation, PageContext, Priority, StoreError, StoredMessage, Visitor, now_ms,
    },
    wire,
};

/// Where a shopper's message goes.
pub(super) enum Target {
    /// This conversation, opened now (`Some(reopened)`) or already open (`None`).
    Open(Conversation, Option<bool>),
    /// Nowhere: the shopper already stored this message (a resend).
    AlreadySent(StoredMessage),
}

impl Target {
    /// The conversation, for callers that pass no resend key.
    fn conversation(self) -> Result<(Conversation, Option<bool>), OpError> {
        match self {
            Target::Open(c, opened) => Ok((c, opened)),
            Target::AlreadySent(_) => Err(OpError::internal("a resend without a resend key")),
        }
    }
}

impl Sessions {
    /// Opens (or finds) a shopper's conversation before its first message, e.g. to attach a
    /// file first. `left_message` records that nobody was online, with the shopper's email,
    /// so agents coming back know to answer by email too.
    pub async fn open_for_shopper(
        &self,
        v: &Visitor,
        group: &str,
        context: Option<PageContext>,
        left_message: bool,
        admit: Admission<'_>,
    ) -> Result<Conversation, OpError> {
        let (c, opened) = self
            .shopper_conversation(v, "", group, context, None, admit)
            .await?
            .conversation()?;
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
    pub(super) fn announce(&self, conv: Uuid, opened: Option<bool>) {
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

    /// The conversation a shopper's message goes to: the one named if still open, else the
    /// visitor's open one, else a recently closed one reopened, else a new one. `context`,
    /// the page the shopper is on, is recorded before any agent is offered it. The second
    /// value says whether it was opened now (`Some(reopened)`), for the caller to announce.
    ///
    /// With `resend_key` (the message's `client_msg_id`), a message this shopper already
    /// stored under it is found before anything is reopened or opened: a resend changes
    /// nothing, even when its conversation has closed since. `admit` is asked just before
    /// a conversation would be reopened or opened.
    pub(super) async fn shopper_conversation(
        &self,
        v: &Visitor,
        conversation_id: &str,
        group: &str,
        context: Option<PageContext>,
        resend_key: Option<&str>,
        admit: Admission<'_>,
    ) -> Result<Target, OpError> {
        let caller = Caller::Shopper(v.clone());
        if !conversation_id.is_empty() {
            let mut c = self
                .authorize(&caller, parse_id(conversation_id)?, true)
                .await?;
            if c.state != ConvState::Closed {
                self.note_page(&mut c, context).await?;
                return Ok(Target::Open(c, None));
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
        if let Some(mut c) = latest.clone()
            && c.state != ConvState::Closed
        {
            self.note_page(&mut c, context).await?;
            return Ok(Target::Open(c, None));
        }
        // Only here, where a conversation would be reopened or opened, is a resend looked
        // up: on the open path the writer finds it anyway, at no extra query.
        if let Some(key) = resend_key {
            match self.store.sent_message(v.id, key).await {
                Ok(m) => return Ok(Target::AlreadySent(m)),
                Err(StoreError::NotFound) => {}
                Err(e) => return Err(e.into()),
            }
        }
        admit()?;
        if let Some(mut c) = latest {
            let window = (self.settings.routing.reopen_window_secs * 1000) as i64;
            let reopen = c.closed_at.is_some_and(|t| now - t <= window);
            if reopen && self.reopened(c.id, &c.group, now).await? {
                self.note_page(&mut c, context).await?;
                self.publish_reopened(&c);
                self.router
                    .enqueue(c.id, c.group.clone(), v.id, sticky, c.priority)
                    .await;
                return Ok(Target::Open(
                    self.store.conversation(c.id).await?,
                    Some(true),
                ));
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
            context: context.clone().unwrap_or_default(),
            tags: Vec::new(),
            priority: Priority::Normal,
            channel: crate::store::CHANNEL_WEB.into(),
        };
        match self.store.create_conversation(&c).await {
            Ok(()) => {}
            Err(StoreError::Conflict(_)) => return self.opened_elsewhere(v, context).await,
            Err(e) => return Err(e.into()),
        }
        self.router
            .enqueue(c.id, group, v.id, sticky, Priority::Normal)
            .await;
        Ok(Target::Open(c, Some(false)))
    }

    /// Reopens a closed conversation; false if it was not closed or the visitor has another
    /// one open by now (another node opened it), which the caller then finds.
    async fn reopened(&self, id: Uuid, group: &str, now: i64) -> Result<bool, OpError> {
        match self.store.reopen_conversation(id, group, now).await {
            Err(StoreError::Conflict(_)) => Ok(false),
            other => Ok(other?),
        }
    }

    /// The conversation another node opened for this visitor while this one was about to
    /// (two tabs writing through two nodes at once): the schema allows one open, so the
    /// second write failed and both tabs write into the first one's.
    async fn opened_elsewhere(
        &self,
        v: &Visitor,
        context: Option<PageContext>,
    ) -> Result<Target, OpError> {
        let mut c = self.store.latest_conversation_of_visitor(v.id).await?;
        if c.state == ConvState::Closed {
            // Opened and closed again in that moment: the client resends (as after a
            // failed store).
            return Err(OpError::new(
                pb::ErrorCode::Internal,
                "the conversation changed meanwhile; send again",
            ));
        }
        self.note_page(&mut c, context).await?;
        Ok(Target::Open(c, None))
    }

    /// Tells the desk which queue a reopened conversation went back to, and its shopper
    /// only that it reopened.
    fn publish_reopened(&self, c: &Conversation) {
        let reopened = |group: String| {
            wire::event(
                c.id,
                pb::conversation_event::Kind::Reopened(pb::Reopened { group }),
            )
        };
        let agents: Vec<Uuid> = c.agent_id.into_iter().collect();
        self.hub.publish(
            &Recipients {
                agents: &agents,
                watchers: true,
                ..Default::default()
            },
            Outbound::event(reopened(c.group.clone())),
        );
        self.hub.publish(
            &Recipients {
                visitor: Some(c.visitor_id),
                ..Default::default()
            },
            Outbound::event(reopened(String::new())),
        );
    }

    /// Refuses a group that does not exist.
    pub(super) async fn require_group(&self, group: &str) -> Result<(), OpError> {
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
        // A supervisor closing a conversation that is not its own is a supervisor's action.
        if let Some(Caller::Agent(a)) = caller
            && a.role >= crate::store::Role::Supervisor
            && c.agent_id != Some(a.id)
        {
            let details = serde_json::json!({ "agent_id": c.agent_id });
            self.audit_supervision(a, "close", Some(conv), conv.to_string(), details, &Ok(()))
                .await;
        }
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

/// Closes conversations idle for longer than `routing.idle_close_secs`.
pub(super) async fn idle_sweeper(sessions: std::sync::Weak<Sessions>) {
    loop {
        let Some(s) = sessions.upgrade() else { return };
        let idle = s.settings.routing.idle_close_secs;
        let found = match s.does_chores() {
            true => {
                s.store
                    .idle_conversations(now_ms() - (idle * 1000) as i64)
                    .await
            }
            false => Ok(Vec::new()),
        };
        match found {
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
