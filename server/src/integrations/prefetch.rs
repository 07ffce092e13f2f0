//! The customer-view prefetch: when a conversation is offered to an agent, fetch the
//! shopper's customer view (warming the cache) and push it to that agent, so the profile,
//! orders and returns are on screen by the time the agent accepts.
//!
//! It subscribes to offers on the domain event stream ([`crate::events`]); routing never
//! waits for it, and a lost prefetch only means the desk fetches the view over REST.

use std::sync::{Arc, Weak};

use kefu_proto::v1::{self as pb, conversation_event::Kind as Ev};
use tokio::sync::mpsc;
use uuid::Uuid;

use super::{identity::Claim, view::Views};
use crate::{
    events::{Event, Lifecycle},
    sessions::Sessions,
    store::Store,
    wire,
};

/// Offers waiting to be prefetched. A burst beyond this drops prefetches, never offers.
pub const QUEUE_DEPTH: usize = 1024;

/// Starts the prefetch loop on `rx`: each offer is fetched in a task of its own, so one
/// slow back office does not hold up the prefetch for other offers.
pub fn spawn(
    mut rx: mpsc::Receiver<Event>,
    views: Arc<Views>,
    store: Arc<dyn Store>,
    sessions: Weak<Sessions>,
) {
    tokio::spawn(async move {
        while let Some(event) = rx.recv().await {
            let Event::Lifecycle {
                conversation_id,
                change: Lifecycle::Offered { agent_id },
            } = event
            else {
                continue;
            };
            let (views, store, sessions) = (views.clone(), store.clone(), sessions.clone());
            tokio::spawn(async move {
                if let Err(e) = push(conversation_id, agent_id, &views, &*store, &sessions).await {
                    tracing::debug!(conv = %conversation_id, error = %e, "customer view prefetch");
                }
            });
        }
    });
}

/// Fetches the view of the conversation's shopper and sends it to `agent`'s connections
/// (on offer, and again once an agent verified or linked the shopper). An unverified
/// shopper's view carries only the suggested customer's name.
pub async fn push(
    conv: Uuid,
    agent: Uuid,
    views: &Arc<Views>,
    store: &dyn Store,
    sessions: &Weak<Sessions>,
) -> Result<(), crate::store::StoreError> {
    let c = store.conversation(conv).await?;
    let visitor = store.visitor(c.visitor_id).await?;
    if Claim::of(&visitor) == Claim::Anonymous {
        return Ok(());
    }
    let view = views.for_visitor(&visitor).await;
    let ready = pb::CustomerViewReady {
        matched_by: view.matched_by.as_str().into(),
        view_json: serde_json::to_string(&view).unwrap_or_default(),
    };
    if let Some(sessions) = sessions.upgrade() {
        sessions.tell_agent(agent, wire::event(conv, Ev::CustomerViewReady(ready)));
    }
    Ok(())
}
