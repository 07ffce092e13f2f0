//! The supervisors' live floor, and what supervisors do from it.
//!
//! - `view`: the floor ([`FloorView`]) and how it is put together (pure, tested).
//! - `supervise`: the supervisors' actions — reassign, whisper, take over, set an agent's
//!   status — each checked by role and written to the audit log.
//! - this file: building the floor and pushing it to supervisors' and admins' sockets.
//!
//! # When the floor goes out
//! Event driven, never polled by clients: the hub nudges the builder whenever a frame for
//! supervisors goes out (a message stored, a conversation queued, assigned, transferred or
//! closed, an agent's presence — on any node, since those frames reach every node with a
//! supervisor) and when a supervisor's socket joins. Nudges coalesce: one build per
//! [`MIN_GAP`] at most, and only while a supervisor or admin is connected to this node. A
//! floor equal to the last one sent goes only to sockets that joined since; a changed one
//! is encoded once and the same bytes go to every supervisor. Clients work out ages ("waiting
//! for 3 min") from the timestamps, so nothing is sent just because time passed.
//!
//! A few changes announce themselves with no frame (an account or group created, a
//! service-level breach recorded); [`Sessions::floor_changed`] nudges for them on this
//! node, and a rebuild every [`RECHECK`] catches them on the others (sent only if the
//! floor changed).
//!
//! # Cluster mode
//! Every node builds the floor for its own supervisors from PostgreSQL (accounts, queues,
//! reply times, waits, breaches) and from the router, wherever it runs, which it asks for
//! the agents' presence and load (`routing::Request::Loads` over NATS).

mod supervise;
pub mod view;

use std::{sync::Weak, time::Duration};

use kefu_proto::v1 as pb;

use super::{AgentInfo, OpError, Sessions};
use crate::{
    store::{Role, now_ms},
    wire,
};
pub use supervise::ReassignTo;
pub use view::{FloorStatus, FloorView};

/// Fewest milliseconds between two builds: changes meanwhile are gathered into the next.
pub const MIN_GAP: Duration = Duration::from_millis(250);
/// How often the floor is rebuilt without a nudge, for changes no frame announces.
pub const RECHECK: Duration = Duration::from_secs(5);
/// How far back reply times and waits are looked for.
const LOOK_BACK_MS: i64 = 24 * 3600 * 1000;
/// Longest a build waits for the router (a cluster's router may be changing hands).
const ROUTER_WAIT: Duration = Duration::from_secs(2);

impl Sessions {
    /// The floor now (supervisors and admins).
    pub async fn floor(&self, by: &AgentInfo) -> Result<FloorView, OpError> {
        supervisor(by)?;
        self.build_floor().await
    }

    /// Says the floor changed in a way no frame to supervisors announces (e.g. a
    /// service-level breach was recorded): it is rebuilt and pushed on this node.
    pub fn floor_changed(&self) {
        self.hub.nudge_floor();
    }

    async fn build_floor(&self) -> Result<FloorView, OpError> {
        let now = now_ms();
        let since = now - LOOK_BACK_MS;
        let loads = tokio::time::timeout(ROUTER_WAIT, self.router.loads())
            .await
            .ok()
            .flatten()
            .ok_or_else(|| OpError::internal("routing did not answer in time"))?;
        let facts = self.store.floor_facts(since).await?;
        let breaches = self.store.open_breaches().await?;
        Ok(view::assemble(facts, &loads, breaches, since, now))
    }
}

/// Refuses callers below supervisor.
fn supervisor(by: &AgentInfo) -> Result<(), OpError> {
    if by.role >= Role::Supervisor {
        Ok(())
    } else {
        Err(OpError::forbidden(
            "only supervisors and admins may do this",
        ))
    }
}

/// Builds and pushes the floor while supervisors watch this node; ends with the sessions.
pub(super) async fn push_floor(sessions: Weak<Sessions>) {
    let Some(hub) = sessions.upgrade().map(|s| s.hub.clone()) else {
        return;
    };
    // The last floor sent, without its time, to tell whether it changed.
    let mut last: Option<pb::Floor> = None;
    loop {
        tokio::select! {
            _ = hub.floor_changed() => {}
            _ = tokio::time::sleep(RECHECK) => {}
        }
        let Some(s) = sessions.upgrade() else { return };
        if !hub.watching() {
            last = None;
            continue;
        }
        match s.build_floor().await {
            Ok(floor) => {
                let floor = wire::floor(&floor);
                let undated = pb::Floor {
                    at_ms: 0,
                    ..floor.clone()
                };
                let changed = last.as_ref() != Some(&undated);
                let frame = wire::encode(pb::server_envelope::Kind::Floor(floor));
                hub.deliver_floor(frame, changed);
                last = Some(undated);
            }
            Err(e) => tracing::warn!(error = %e.message, "building the supervisors' floor"),
        }
        drop(s);
        tokio::time::sleep(MIN_GAP).await;
    }
}
