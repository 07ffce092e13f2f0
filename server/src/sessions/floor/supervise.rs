//! What supervisors and admins do from the floor: reassign a conversation, whisper to its
//! agent, take it over, set an agent's status. Closing is `Sessions::close`, which audits a
//! supervisor closing someone else's conversation the same way.
//!
//! Each goes through the paths agents use — routing's transfer and accept, the writer, the
//! status an agent sets — so queues, offers, live sockets and events follow as for them;
//! each is checked by role here and written to the audit log whatever its outcome. What the
//! conversation's activity shows: a transfer's entry names the supervisor
//! (`routing::transfer_activity`), an assignment is the agent joining, and a whisper is the
//! private note itself — an activity entry would tell the shopper, who sees those.

use kefu_proto::v1 as pb;
use serde::Serialize;
use serde_json::json;
use uuid::Uuid;

use super::{Sessions, supervisor, view::FloorStatus};
use crate::{
    sessions::{AgentInfo, OpError, check_client_msg_id, routing::transfer_activity, stored},
    store::{
        Agent, AuditEntry, Body, ConvState, NewMessage, SenderRole, StoreError, StoredMessage,
        now_ms,
    },
};

/// Where a supervisor sends a conversation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReassignTo {
    /// This agent takes it at once (a waiting one is assigned to it).
    Agent(Uuid),
    /// It waits in this group's queue.
    Group(String),
}

impl Sessions {
    /// Moves a conversation to another agent or group, with a private note for whoever
    /// gets it. Audited.
    pub async fn reassign(
        &self,
        by: &AgentInfo,
        conv: Uuid,
        to: ReassignTo,
        note: &str,
    ) -> Result<(), OpError> {
        let result = self.reassign_checked(by, conv, &to, note).await;
        let details = json!({ "to": to, "note": note });
        self.audit_supervision(
            by,
            "reassign",
            Some(conv),
            conv.to_string(),
            details,
            &result,
        )
        .await;
        result
    }

    async fn reassign_checked(
        &self,
        by: &AgentInfo,
        conv: Uuid,
        to: &ReassignTo,
        note: &str,
    ) -> Result<(), OpError> {
        supervisor(by)?;
        if !note.trim().is_empty() {
            no_nul("note", note)?;
            self.check_text(&Body::PrivateNote { text: note.into() })?;
        }
        let c = self.store.conversation(conv).await?;
        let name = match to {
            ReassignTo::Agent(a) => self.receiving_agent(*a).await?.display_name,
            ReassignTo::Group(g) => {
                if self.require_group(g).await.is_err() {
                    return Err(OpError::new(
                        pb::ErrorCode::NotFound,
                        format!("group `{g}` does not exist"),
                    ));
                }
                g.clone()
            }
        };
        match (c.state, to) {
            (ConvState::Closed, _) => Err(OpError::closed()),
            (ConvState::Assigned, ReassignTo::Agent(a)) => {
                self.transfer(by, conv, Some(*a), None, note).await
            }
            (ConvState::Assigned, ReassignTo::Group(g)) => {
                self.transfer(by, conv, None, Some(g.clone()), note).await
            }
            (ConvState::Queued, ReassignTo::Group(g)) => {
                if c.group == *g {
                    return Err(OpError::new(
                        pb::ErrorCode::Conflict,
                        format!("it waits in `{g}` already"),
                    ));
                }
                if !self.router.adjust(conv, Some(g.clone()), None, None).await {
                    return Err(changed_meanwhile());
                }
                self.leave_note(by, conv, note).await?;
                let text = transfer_activity(&by.name, false, false, g);
                self.system_message(conv, "transferred", text).await
            }
            (ConvState::Queued, ReassignTo::Agent(a)) => {
                self.assign_waiting(conv, *a, &name).await?;
                self.leave_note(by, conv, note).await?;
                let text = format!("{} assigned the conversation to {name}", by.name);
                self.system_message(conv, "assigned", text).await
            }
        }
    }

    /// Assigns the supervisor a conversation: a waiting one, or one another agent has.
    /// Audited.
    pub async fn take_over(&self, by: &AgentInfo, conv: Uuid) -> Result<(), OpError> {
        let result = self.take_over_checked(by, conv).await;
        let details = json!({});
        self.audit_supervision(
            by,
            "take_over",
            Some(conv),
            conv.to_string(),
            details,
            &result,
        )
        .await;
        result
    }

    async fn take_over_checked(&self, by: &AgentInfo, conv: Uuid) -> Result<(), OpError> {
        supervisor(by)?;
        let c = self.store.conversation(conv).await?;
        let connected = self.router.connected(by.id).await;
        match c.state {
            ConvState::Closed => Err(OpError::closed()),
            ConvState::Assigned if c.agent_id == Some(by.id) => Err(OpError::new(
                pb::ErrorCode::Conflict,
                "the conversation is yours already",
            )),
            _ if !connected => Err(OpError::new(
                pb::ErrorCode::Conflict,
                "open your desk first: a conversation goes to an agent who is connected",
            )),
            ConvState::Assigned => self.transfer(by, conv, Some(by.id), None, "").await,
            ConvState::Queued => Ok(self.router.accept(conv, by.id).await?),
        }
    }

    /// Leaves a private note from the supervisor to the conversation's agent: every agent
    /// and supervisor watching sees it, the shopper never (not on its sockets, nor in its
    /// history, nor in webhooks). A resend with the same `client_msg_id` returns the note
    /// stored the first time. Audited.
    pub async fn whisper(
        &self,
        by: &AgentInfo,
        conv: Uuid,
        text: String,
        client_msg_id: String,
    ) -> Result<StoredMessage, OpError> {
        let details = json!({ "client_msg_id": client_msg_id });
        let result = self.whisper_checked(by, conv, text, client_msg_id).await;
        self.audit_supervision(
            by,
            "whisper",
            Some(conv),
            conv.to_string(),
            details,
            &result,
        )
        .await;
        result
    }

    async fn whisper_checked(
        &self,
        by: &AgentInfo,
        conv: Uuid,
        text: String,
        client_msg_id: String,
    ) -> Result<StoredMessage, OpError> {
        supervisor(by)?;
        check_client_msg_id(&client_msg_id)?;
        no_nul("client_msg_id", &client_msg_id)?;
        no_nul("text", &text)?;
        let body = Body::PrivateNote { text };
        self.check_text(&body)?;
        if self.store.conversation(conv).await?.state == ConvState::Closed {
            return Err(OpError::closed());
        }
        let m = stored(
            self.writer
                .append(NewMessage {
                    conversation_id: conv,
                    client_msg_id,
                    sender_role: SenderRole::Agent,
                    sender_id: by.id,
                    sender_name: by.name.clone(),
                    body,
                    created_at: now_ms(),
                })
                .await
                .map_err(OpError::internal)?,
        )?;
        if m.conversation_id != conv {
            return Err(OpError::new(
                pb::ErrorCode::Conflict,
                "that client_msg_id belongs to another message of yours; use a new one",
            ));
        }
        Ok(m)
    }

    /// Sets an agent's status as if the agent had (its desk hears the `Presence`, routing
    /// offers it nothing new unless online). Audited.
    pub async fn set_agent_status(
        &self,
        by: &AgentInfo,
        agent: Uuid,
        status: FloorStatus,
    ) -> Result<(), OpError> {
        let result = self.set_agent_status_checked(by, agent, status).await;
        let details = json!({ "status": status });
        self.audit_supervision(
            by,
            "set_agent_status",
            None,
            agent.to_string(),
            details,
            &result,
        )
        .await;
        result
    }

    async fn set_agent_status_checked(
        &self,
        by: &AgentInfo,
        agent: Uuid,
        status: FloorStatus,
    ) -> Result<(), OpError> {
        supervisor(by)?;
        self.agent_account(agent).await?;
        Ok(self.router.impose_status(agent, status.to_pb()).await?)
    }

    /// The account a conversation is reassigned to: it exists, is enabled and connected.
    async fn receiving_agent(&self, id: Uuid) -> Result<Agent, OpError> {
        let agent = self.agent_account(id).await?;
        if agent.disabled {
            return Err(OpError::new(
                pb::ErrorCode::Conflict,
                format!("{} is disabled", agent.display_name),
            ));
        }
        if !self.router.connected(id).await {
            return Err(OpError::new(
                pb::ErrorCode::Conflict,
                format!("{} is not connected", agent.display_name),
            ));
        }
        Ok(agent)
    }

    async fn agent_account(&self, id: Uuid) -> Result<Agent, OpError> {
        match self.store.agent(id).await {
            Err(StoreError::NotFound) => Err(OpError::new(
                pb::ErrorCode::NotFound,
                format!("no agent has the id {id}"),
            )),
            other => Ok(other?),
        }
    }

    /// Gives a waiting conversation to `agent` through routing's accept, as if the agent
    /// had taken it (so its group and capacity apply, unless it is a supervisor).
    async fn assign_waiting(&self, conv: Uuid, agent: Uuid, name: &str) -> Result<(), OpError> {
        self.router.accept(conv, agent).await.map_err(|e| {
            let e = OpError::from(e);
            match e.code {
                pb::ErrorCode::Internal => e,
                _ => OpError::new(
                    pb::ErrorCode::Conflict,
                    format!("{name} cannot take it now: {}", e.message),
                ),
            }
        })
    }

    /// The supervisor's note for whoever gets the conversation (none if blank).
    async fn leave_note(&self, by: &AgentInfo, conv: Uuid, note: &str) -> Result<(), OpError> {
        if note.trim().is_empty() {
            return Ok(());
        }
        self.writer
            .append(NewMessage {
                conversation_id: conv,
                client_msg_id: format!("reassign-note-{}", Uuid::now_v7()),
                sender_role: SenderRole::Agent,
                sender_id: by.id,
                sender_name: by.name.clone(),
                body: Body::PrivateNote { text: note.into() },
                created_at: now_ms(),
            })
            .await
            .map_err(OpError::internal)?;
        Ok(())
    }

    /// Writes a supervisor's action to the audit log: `ok`, `refused` (a check said no) or
    /// `failed` (the server did). The action stands even if the log write fails; that is
    /// logged loudly.
    pub(in crate::sessions) async fn audit_supervision<T>(
        &self,
        by: &AgentInfo,
        action: &str,
        conversation_id: Option<Uuid>,
        target: String,
        details: serde_json::Value,
        result: &Result<T, OpError>,
    ) {
        let (outcome, error) = match result {
            Ok(_) => ("ok", None),
            Err(e) if e.code == pb::ErrorCode::Internal => ("failed", Some(e.message.clone())),
            Err(e) => ("refused", Some(e.message.clone())),
        };
        let entry = AuditEntry {
            id: Uuid::now_v7(),
            at: now_ms(),
            actor_id: by.id,
            actor_role: by.role,
            action: action.into(),
            conversation_id,
            target,
            details: details.to_string(),
            result: outcome.into(),
            error,
        };
        if let Err(e) = self.store.insert_audit(&entry).await {
            tracing::error!(error = %e, ?entry, "writing the audit log failed");
        }
    }
}

/// Refuses text with NUL characters, which no one types and PostgreSQL cannot store.
fn no_nul(what: &str, text: &str) -> Result<(), OpError> {
    match text.contains('\0') {
        true => Err(OpError::invalid(format!("`{what}` holds a NUL character"))),
        false => Ok(()),
    }
}

fn changed_meanwhile() -> OpError {
    OpError::new(
        pb::ErrorCode::Conflict,
        "the conversation changed meanwhile; reload",
    )
}
