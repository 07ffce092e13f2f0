//! The plugin bus: workers that hear events, call each plugin in priority order inside its
//! own time-boxed task, and apply what it asked for.
//!
//! Events arrive after the message was committed, acknowledged and delivered, so nothing a
//! plugin does (or fails to do) can delay or lose it. One conversation's events go to one
//! worker, in order; a plugin stuck on one conversation holds up only its worker's share of
//! conversations, and only until its time box ends.

use std::{
    sync::{Arc, Weak},
    time::Instant,
};

use tokio::sync::mpsc;
use uuid::Uuid;

use super::{Action, Context, Event, context::Services, registry::Declared};
use crate::{
    sessions::{OpError, Sessions, automation::Automaton},
    store::{Body, Conversation, SenderRole},
};

/// Workers (and event queues) of the bus.
pub const WORKERS: usize = 8;
/// Events one worker may have waiting before new ones are dropped (and counted).
pub const QUEUE_DEPTH: usize = 4096;

struct Bus {
    plugins: Vec<Declared>,
    services: Arc<Services>,
    sessions: Weak<Sessions>,
}

/// Starts one worker per receiver.
pub fn spawn(
    plugins: Vec<Declared>,
    receivers: Vec<mpsc::Receiver<Event>>,
    services: Arc<Services>,
    sessions: Weak<Sessions>,
) {
    let bus = Arc::new(Bus {
        plugins,
        services,
        sessions,
    });
    for mut rx in receivers {
        let bus = bus.clone();
        tokio::spawn(async move {
            while let Some(event) = rx.recv().await {
                bus.handle(event).await;
            }
        });
    }
}

/// How one plugin call ended.
enum Outcome {
    Ok(Vec<Action>, bool),
    Error(String),
    Panic,
    Timeout,
}

impl Bus {
    async fn handle(&self, event: Event) {
        if let Event::Message(m) = &event
            && !matches!(m.sender_role, SenderRole::Shopper | SenderRole::Agent)
        {
            return;
        }
        let Some(sessions) = self.sessions.upgrade() else {
            return;
        };
        let conv_id = event.conversation_id();
        let store = &self.services.store;
        let loaded = async {
            let c = store.conversation(conv_id).await?;
            let v = store.visitor(c.visitor_id).await?;
            Ok::<_, crate::store::StoreError>((c, v))
        };
        let (mut conversation, visitor) = match loaded.await {
            Ok(found) => found,
            Err(e) => {
                tracing::warn!(conv = %conv_id, error = %e, "plugin event for an unknown conversation");
                return;
            }
        };
        let hook = match &event {
            Event::Message(_) => "message",
            Event::Lifecycle { change, .. } => change.name(),
        };
        for (index, d) in self.plugins.iter().enumerate() {
            let name = d.plugin.name().to_string();
            let ctx = Context::new(conversation.clone(), visitor.clone(), self.services.clone());
            let started = Instant::now();
            let outcome = call(d, ctx, event.clone()).await;
            metrics::histogram!("kefu_plugin_seconds", "plugin" => name.clone())
                .record(started.elapsed().as_secs_f64());
            let label = match &outcome {
                Outcome::Ok(..) => "ok",
                Outcome::Error(_) => "error",
                Outcome::Panic => "panic",
                Outcome::Timeout => "timeout",
            };
            metrics::counter!("kefu_plugin_calls_total", "plugin" => name.clone(), "hook" => hook, "outcome" => label)
                .increment(1);
            let (actions, stop) = match outcome {
                Outcome::Ok(actions, stop) => (actions, stop),
                Outcome::Error(e) => {
                    tracing::warn!(plugin = %name, conv = %conv_id, hook, error = %e, "plugin failed; skipped");
                    continue;
                }
                Outcome::Panic => {
                    tracing::error!(plugin = %name, conv = %conv_id, hook, "plugin panicked; skipped");
                    continue;
                }
                Outcome::Timeout => {
                    tracing::warn!(plugin = %name, conv = %conv_id, hook, timeout_ms = d.timeout.as_millis() as u64, "plugin overran its time box; skipped");
                    continue;
                }
            };
            let trigger = match &event {
                Event::Message(m) => m.id,
                Event::Lifecycle { .. } => Uuid::now_v7(),
            };
            let by = Automaton {
                id: Uuid::nil(),
                name: d.plugin.sender_name().to_string(),
            };
            for (n, action) in actions.into_iter().enumerate() {
                let key = format!("plugin-{index}-{trigger}-{n}");
                if let Err(e) = apply(&sessions, &mut conversation, &by, key, action).await {
                    tracing::warn!(plugin = %name, conv = %conv_id, error = %e.message, "plugin action failed");
                }
            }
            if stop {
                break;
            }
        }
    }
}

/// Runs one hook in its own task: a panic stays in that task, and an overrun is cut off.
async fn call(d: &Declared, mut ctx: Context, event: Event) -> Outcome {
    let plugin = d.plugin.clone();
    let mut task = tokio::spawn(async move {
        let result = match &event {
            Event::Message(m) => plugin.on_message(&mut ctx, m).await,
            Event::Lifecycle { change, .. } => plugin.on_lifecycle(&mut ctx, change).await,
        };
        result.map(|()| ctx.into_outcome())
    });
    match tokio::time::timeout(d.timeout, &mut task).await {
        Ok(Ok(Ok((actions, stop)))) => Outcome::Ok(actions, stop),
        Ok(Ok(Err(e))) => Outcome::Error(format!("{e:#}")),
        Ok(Err(join)) if join.is_panic() => Outcome::Panic,
        Ok(Err(_)) => Outcome::Error("cancelled".into()),
        Err(_) => {
            task.abort();
            Outcome::Timeout
        }
    }
}

/// Carries out one action, keeping `conv` up to date for the plugins after this one.
async fn apply(
    sessions: &Sessions,
    conv: &mut Conversation,
    by: &Automaton,
    client_msg_id: String,
    action: Action,
) -> Result<(), OpError> {
    match action {
        Action::Reply(body) => {
            sessions.bot_send(by, conv, client_msg_id, body).await?;
        }
        Action::Note(text) => {
            let note = Body::PrivateNote { text };
            sessions.bot_send(by, conv, client_msg_id, note).await?;
        }
        Action::Tag(tag) => sessions.add_tags(conv, &[tag]).await?,
        Action::SetPriority(p) => sessions.set_priority(conv, p).await?,
        Action::RouteToGroup(group) => sessions.route(by, conv, Some(group), None).await?,
        Action::RouteToAgent(agent) => sessions.route(by, conv, None, Some(agent)).await?,
    }
    Ok(())
}
