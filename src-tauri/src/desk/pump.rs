//! Turns sync events into updates for the window and notifications, and brings the cache
//! in line with the server after every reconnect.

use std::sync::Arc;

use kefu_proto::v1::{self as pb, conversation_event::Kind as Ev, server_envelope::Kind as Out};
use tokio::sync::broadcast;

use super::{Desk, convert, supervisor::Watch};
use crate::{
    cache::Cache,
    client::{ClientError, Server},
    model::{Agent, AgentStatus, ConversationState, Update},
    notifier::{Kind, Notice},
    sync::Event,
};

pub(super) async fn run(
    desk: Arc<Desk>,
    server: Server,
    agent: Agent,
    cache: Cache,
    watch: Arc<Watch>,
    mut events: broadcast::Receiver<Event>,
) {
    let pump = Pump {
        desk,
        server,
        agent,
        cache,
        watch,
    };
    loop {
        match events.recv().await {
            Ok(event) => {
                if let Err(e) = pump.handle(event).await {
                    tracing::error!(error = %format!("{e:#}"), "handling a sync event");
                }
            }
            Err(broadcast::error::RecvError::Lagged(n)) => {
                tracing::warn!(missed = n, "window updates lagged; refreshing");
                let _ = pump.refresh().await;
            }
            Err(broadcast::error::RecvError::Closed) => return,
        }
    }
}

struct Pump {
    desk: Arc<Desk>,
    server: Server,
    agent: Agent,
    cache: Cache,
    watch: Arc<Watch>,
}

impl Pump {
    async fn handle(&self, event: Event) -> anyhow::Result<()> {
        match event {
            Event::Online => {
                self.desk.emit(Update::Connection {
                    online: true,
                    reason: None,
                });
                // The engine set the agent's chosen status on the new connection.
                self.desk.emit(Update::Status {
                    status: self.desk.chosen_status(),
                });
                self.refresh().await?;
            }
            Event::Offline(reason) => self.desk.emit(Update::Connection {
                online: false,
                reason: Some(reason),
            }),
            Event::SessionExpired => self.desk.expire().await,
            Event::Message(m) => self.message(m).await?,
            Event::Undeliverable {
                conversation_id,
                client_msg_id,
                reason,
                ..
            } => self.desk.emit(Update::Undeliverable {
                conversation_id,
                client_msg_id,
                reason,
            }),
            Event::Changed {
                conversation_id,
                event,
            } => self.changed(&conversation_id, event).await?,
            Event::Frame(Out::Ack(a)) => self.desk.emit(Update::Delivered {
                conversation_id: a.conversation_id,
                client_msg_id: a.client_msg_id,
                seq: a.seq,
            }),
            Event::Frame(Out::Typing(t)) if is_shopper(t.who.as_ref()) => {
                self.desk.emit(Update::Typing {
                    conversation_id: t.conversation_id,
                    typing: t.typing,
                })
            }
            Event::Frame(Out::Read(r)) if is_shopper(r.who.as_ref()) => {
                self.desk
                    .shopper_read
                    .lock()
                    .expect("read lock")
                    .insert(r.conversation_id.clone(), r.up_to_seq);
                self.desk.emit(Update::Read {
                    conversation_id: r.conversation_id,
                    seq: r.up_to_seq,
                });
            }
            Event::Frame(Out::Presence(p)) if p.agent_id == self.agent.id => {
                // A supervisor may set the agent offline from the floor: like away, no new
                // chats, and the desk knows no third state.
                let status = match pb::AgentStatus::try_from(p.status) {
                    Ok(pb::AgentStatus::Away | pb::AgentStatus::Offline) => AgentStatus::Away,
                    _ => AgentStatus::Online,
                };
                self.desk.emit(Update::Status { status });
            }
            Event::Frame(Out::Floor(floor)) => self.desk.floor_pushed(&self.watch, floor.into()),
            Event::Frame(_) => {}
        }
        Ok(())
    }

    async fn emit_conversation(&self, id: &str) -> anyhow::Result<()> {
        self.desk.emit_conversation(&self.cache, id).await
    }

    async fn message(&self, m: pb::Message) -> anyhow::Result<()> {
        let read = self.desk.shopper_read_seq(&m.conversation_id);
        self.desk.emit(Update::Message {
            message: convert::message(&m, &self.agent.id, read),
        });
        self.emit_conversation(&m.conversation_id).await?;
        let focused = self.desk.focus.lock().expect("focus lock").clone();
        if is_shopper(m.sender.as_ref()) && focused.as_deref() != Some(&m.conversation_id) {
            self.desk.notifier.notify(Notice {
                kind: Kind::Message,
                conversation_id: m.conversation_id.clone(),
                who: m.sender.map(|s| s.display_name).unwrap_or_default(),
                text: crate::cache::preview_text(m.body.as_ref()),
            });
        }
        Ok(())
    }

    async fn changed(&self, id: &str, event: pb::ConversationEvent) -> anyhow::Result<()> {
        let before = self.cache.conversation(id).await?;
        match event.kind {
            Some(Ev::CustomerViewReady(ready)) => {
                match serde_json::from_str::<serde_json::Value>(&ready.view_json) {
                    Ok(view) => {
                        self.cache.put_customer_view(id, &view).await?;
                        self.desk.emit(Update::CustomerView {
                            conversation_id: id.into(),
                        });
                    }
                    Err(e) => tracing::warn!(error = %e, "customer view JSON unreadable"),
                }
                return Ok(());
            }
            Some(Ev::Offered(ref o)) if o.agent_id == self.agent.id => {
                let who = o
                    .conversation
                    .as_ref()
                    .and_then(|c| c.shopper.as_ref())
                    .map(|s| s.display_name.clone())
                    .unwrap_or_default();
                self.desk.notifier.notify(Notice {
                    kind: Kind::Offer,
                    conversation_id: id.into(),
                    who,
                    text: "wants to chat".into(),
                });
            }
            Some(Ev::Assigned(ref a))
                if a.agent.as_ref().is_some_and(|p| p.id == self.agent.id)
                    && before.as_ref().map(|b| b.state) != Some(ConversationState::Offered)
                    && !self.desk.accepting(id) =>
            {
                // Auto-assigned (or transferred) to me without an offer first.
                let who = before
                    .as_ref()
                    .map(|b| b.shopper_name.clone())
                    .unwrap_or_default();
                self.desk.notifier.notify(Notice {
                    kind: Kind::Offer,
                    conversation_id: id.into(),
                    who,
                    text: "was assigned to you".into(),
                });
            }
            _ => {}
        }
        self.emit_conversation(id).await?;
        self.removed_if_gone(id, before.and_then(|b| b.agent_id))
            .await
    }

    /// A conversation that was mine and no longer is (transferred away, closed by someone
    /// else) leaves the agent's list with a reason.
    async fn removed_if_gone(&self, id: &str, agent_before: Option<String>) -> anyhow::Result<()> {
        if agent_before.as_deref() != Some(self.agent.id.as_str()) {
            return Ok(());
        }
        let Some(now) = self.cache.conversation(id).await? else {
            return Ok(());
        };
        let reason = if now.state == ConversationState::Closed {
            "closed"
        } else if now.agent_id.as_deref() != Some(self.agent.id.as_str()) {
            "transferred"
        } else {
            return Ok(());
        };
        self.desk.emit(Update::Removed {
            conversation_id: id.into(),
            reason: reason.into(),
        });
        Ok(())
    }

    /// Brings the cache in line with the server: the agent's and the queue's conversations,
    /// and what happened to chats cached as mine while we were offline.
    async fn refresh(&self) -> anyhow::Result<()> {
        let result = self.try_refresh().await;
        if let Err(ClientError::SessionExpired) = result {
            self.desk.expire().await;
            return Ok(());
        }
        result.map_err(anyhow::Error::from)
    }

    async fn try_refresh(&self) -> Result<(), ClientError> {
        let mut seen = std::collections::HashSet::new();
        for view in ["mine", "queue", "closed"] {
            for c in self.server.conversations(view).await? {
                self.cache
                    .upsert(&convert::remote(&c))
                    .await
                    .map_err(internal)?;
                seen.insert(c.id.clone());
                self.emit_conversation(&c.id).await.map_err(internal)?;
            }
        }
        for id in self
            .cache
            .assigned_to(&self.agent.id)
            .await
            .map_err(internal)?
        {
            if seen.contains(&id) {
                continue;
            }
            let now = match self.server.conversation(&id).await {
                Ok(c) => c,
                Err(ClientError::Forbidden(_) | ClientError::NotFound(_)) => {
                    // No longer ours to see: it went to someone else.
                    let mut gone = crate::cache::ConversationInfo {
                        id: id.clone(),
                        ..Default::default()
                    };
                    gone.agent_id = Some(None);
                    gone.state = Some(ConversationState::Queued);
                    self.cache.upsert(&gone).await.map_err(internal)?;
                    self.removed_if_gone(&id, Some(self.agent.id.clone()))
                        .await
                        .map_err(internal)?;
                    continue;
                }
                Err(e) => return Err(e),
            };
            self.cache
                .upsert(&convert::remote(&now))
                .await
                .map_err(internal)?;
            self.emit_conversation(&id).await.map_err(internal)?;
            self.removed_if_gone(&id, Some(self.agent.id.clone()))
                .await
                .map_err(internal)?;
        }
        Ok(())
    }
}

fn internal(e: anyhow::Error) -> ClientError {
    ClientError::Server(format!("{e:#}"))
}

fn is_shopper(p: Option<&pb::Participant>) -> bool {
    p.is_some_and(|p| p.role == pb::Role::Shopper as i32)
}
