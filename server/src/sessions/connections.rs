//! Live connections and agents' routing requests: a socket joins ([`Sessions::connect`])
//! and leaves, an agent sets its status, accepts, declines or transfers; and changes to an
//! account reach its live connections at once — routing first (so nothing more is offered),
//! then the sockets are closed with a typed reason.

use kefu_proto::v1::{self as pb, GoAwayCode};
use uuid::Uuid;

use super::{
    AgentInfo, Caller, OpError, Sessions,
    hub::{PeerKey, Registration, session_of},
};
use crate::store::{StoreError, now_ms};

impl Sessions {
    /// Registers a socket of `caller`, authenticated with the token whose hash is
    /// `token_hash`, and announces an agent to routing. An agent whose account was disabled
    /// or whose token was revoked after the upgrade was authorised is refused: the check
    /// runs after registering, so a revocation racing with it either finds this socket to
    /// close or is seen by the check.
    pub async fn connect(
        &self,
        caller: &Caller,
        token_hash: &str,
    ) -> Result<Registration, OpError> {
        let key = match caller {
            Caller::Shopper(v) => PeerKey::Visitor(v.id),
            Caller::Agent(a) => PeerKey::Agent {
                id: a.id,
                role: a.role,
                session: session_of(token_hash),
            },
        };
        self.check_cluster()?;
        let reg = self.hub.register(key, self.settings.limits.outbound_queue);
        // Cluster mode: subscribed before routing hears of the agent (or the shopper
        // writes), so nothing another node sends in answer misses this socket.
        self.hub.settled().await;
        match caller {
            Caller::Agent(a) => {
                self.still_signed_in(a.id, token_hash).await?;
                self.router.agent_up(a.clone()).await;
            }
            // Blocked after its upgrade was authorised: the same race as for agents.
            Caller::Shopper(v) => {
                if self.store.visitor(v.id).await?.blocked_at.is_some() {
                    return Err(OpError::new(
                        pb::ErrorCode::Forbidden,
                        "this visitor was blocked by the shop's support team",
                    ));
                }
            }
        }
        Ok(reg)
    }

    async fn still_signed_in(&self, agent: Uuid, token_hash: &str) -> Result<(), OpError> {
        let gone = |m: &str| OpError::new(pb::ErrorCode::Unauthenticated, m);
        let token = match self.store.token(token_hash).await {
            Err(StoreError::NotFound) => return Err(gone("unknown token; sign in again")),
            other => other?,
        };
        if token.revoked_at.is_some() || token.expires_at <= now_ms() {
            return Err(gone("this token was revoked; sign in again"));
        }
        match self.store.agent(agent).await {
            Ok(a) if !a.disabled => Ok(()),
            Ok(_) | Err(StoreError::NotFound) => Err(gone("this account is disabled")),
            Err(e) => Err(e.into()),
        }
    }

    /// A socket of `caller` closed (its registration is dropped by the caller).
    pub async fn disconnect(&self, caller: &Caller) {
        if let Caller::Agent(a) = caller {
            self.router.agent_down(a.id).await;
        }
    }

    /// Sends `frame` to every socket of `agent` (e.g. a customer view fetched for it).
    pub fn tell_agent(&self, agent: Uuid, frame: bytes::Bytes) {
        self.hub.publish(
            &super::Recipients {
                agents: &[agent],
                ..Default::default()
            },
            super::Outbound::event(frame),
        );
    }

    /// Live sockets: (shoppers, agents).
    pub fn connection_counts(&self) -> (usize, usize) {
        self.hub.counts()
    }

    /// The shopper's conversation that is still open, if any (to resume).
    pub async fn open_conversation_of(&self, visitor: Uuid) -> Result<Option<Uuid>, OpError> {
        match self.store.latest_conversation_of_visitor(visitor).await {
            Ok(c) if c.state != crate::store::ConvState::Closed => Ok(Some(c.id)),
            Ok(_) | Err(StoreError::NotFound) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Online, away or busy: away and busy agents are offered nothing new.
    pub async fn set_status(&self, agent: Uuid, status: pb::AgentStatus) {
        self.router.set_status(agent, status).await
    }

    /// One of the agent's sockets here delivered its own status (set by a supervisor, say):
    /// in a cluster, this node reports it from now on (see `Router::status_seen`).
    pub async fn status_seen(&self, agent: Uuid, status: i32) {
        self.router.status_seen(agent, status).await
    }

    /// Takes a waiting conversation (offered to `agent`, or picked from its group's queue).
    pub async fn accept(&self, agent: Uuid, conv: Uuid) -> Result<(), OpError> {
        Ok(self.router.accept(conv, agent).await?)
    }

    /// Turns an offer down; it moves on to another agent.
    pub async fn decline(&self, agent: Uuid, conv: Uuid) {
        self.router.decline(conv, agent).await
    }

    /// Hands an assigned conversation to another agent or group, with a private note.
    pub async fn transfer(
        &self,
        by: &AgentInfo,
        conv: Uuid,
        to_agent: Option<Uuid>,
        to_group: Option<String>,
        note: &str,
    ) -> Result<(), OpError> {
        let note = note
            .chars()
            .take(self.settings.limits.max_text_bytes)
            .collect();
        Ok(self
            .router
            .transfer(conv, by.clone(), to_agent, to_group, note)
            .await?)
    }

    /// Agents of `group` online now (for the widget's leave-a-message choice).
    pub async fn agents_online(&self, group: &str) -> u32 {
        self.router.online_in(group).await
    }

    /// A waiting conversation's 1-based place in its queue.
    pub async fn queue_position(&self, conv: Uuid) -> Option<u32> {
        self.router.position(conv).await
    }

    /// An agent's capacity, name, groups or role changed: routing uses the new values from
    /// now on (offers of groups it left are withdrawn and re-routed).
    pub async fn agent_changed(&self, info: AgentInfo) {
        self.router.agent_changed(info).await
    }

    /// An agent was disabled or deleted: routing forgets it (its offers go to others, its
    /// conversations back to their queues), then its sockets are closed with `code`.
    pub async fn agent_removed(&self, agent: Uuid, code: GoAwayCode) {
        self.router.agent_removed(agent).await;
        let closed = self.hub.disconnect_agent(agent, None, code);
        tracing::info!(%agent, closed, ?code, "agent removed from live routing");
    }

    /// Closes an agent's sockets (all of them) so they reconnect with its new rights.
    pub fn disconnect_agent(&self, agent: Uuid, code: GoAwayCode) {
        let closed = self.hub.disconnect_agent(agent, None, code);
        tracing::info!(%agent, closed, ?code, "agent sockets closed");
    }

    /// A supervisor blocked `visitor`: its sockets (every tab) close with `VISITOR_BLOCKED`.
    /// Its token is refused from now on, so they cannot come back.
    pub fn visitor_blocked(&self, visitor: Uuid) {
        let closed = self
            .hub
            .disconnect_visitor(visitor, GoAwayCode::VisitorBlocked);
        tracing::info!(%visitor, closed, "blocked visitor's sockets closed");
    }

    /// A sign-in of `agent` ended (`token_hash`), or all of them (`None`, e.g. a new
    /// password): the sockets opened with it are closed. Routing hears them go as for any
    /// disconnect, so the grace period applies to its conversations.
    pub fn agent_signed_out(&self, agent: Uuid, token_hash: Option<&str>) {
        let session = token_hash.map(session_of);
        let closed = self
            .hub
            .disconnect_agent(agent, session, GoAwayCode::SignedOut);
        tracing::info!(%agent, closed, "signed-out sockets closed");
    }
}

/// One sweeper for all sockets: those silent for two heartbeat intervals are closed.
pub(super) async fn heartbeat_sweeper(sessions: std::sync::Weak<Sessions>) {
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
