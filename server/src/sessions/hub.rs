//! Live connections and fan-out.
//!
//! Every socket registers here and gets a bounded outbound queue. Publishing never waits:
//! a frame is `try_send`-ed to each target; a connection whose queue is full is dropped from
//! the hub and told to close, and its client catches up with `Resume`. So one slow reader
//! can never delay anybody else, and its memory stays bounded by the queue size.
//!
//! In cluster mode a [`Remote`] carries each frame to the other nodes too, and tells them
//! to close sockets; frames arriving from them are delivered here with [`Hub::deliver`].
//!
//! The supervisors' floor (`sessions::floor`) is told here when it may have changed: a
//! frame for supervisors went out (from this node or another: whatever moves the floor is
//! something supervisors are told), or a supervisor's socket joined and has no floor yet.

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex, OnceLock,
        atomic::{AtomicI32, AtomicI64, AtomicU64, Ordering},
    },
};

use bytes::Bytes;
use kefu_proto::v1::GoAwayCode;
use tokio::sync::{Notify, mpsc};
use uuid::Uuid;

use crate::store::{Role, now_ms};

/// Identifies one live connection.
pub type ConnId = u64;

/// One frame queued for a connection.
#[derive(Debug, Clone)]
pub struct Outbound {
    /// The encoded `ServerEnvelope`, shared between all recipients.
    pub frame: Bytes,
    /// For stored messages: conversation and seq, so the connection can skip what it
    /// already delivered during a resume.
    pub seq: Option<(Uuid, i64)>,
}

impl Outbound {
    pub fn event(frame: Bytes) -> Self {
        Self { frame, seq: None }
    }
}

/// Who is on the other end of a connection.
#[derive(Debug, Clone, Copy)]
pub enum PeerKey {
    Visitor(Uuid),
    Agent {
        id: Uuid,
        role: Role,
        /// Which sign-in the socket was opened with ([`session_of`] its token hash), so a
        /// logout closes that sign-in's sockets and leaves the agent's other devices alone.
        session: u64,
    },
}

/// The sign-in fingerprint of an agent token hash (hex SHA-256): its first 64 bits.
pub fn session_of(token_hash: &str) -> u64 {
    token_hash
        .get(..16)
        .and_then(|h| u64::from_str_radix(h, 16).ok())
        .unwrap_or_default()
}

/// How the hub tells a connection's task to close, and why.
#[derive(Debug, Default)]
pub struct Kick {
    notify: Notify,
    code: AtomicI32,
}

impl Kick {
    /// Asks the connection to close with `code` (the first reason given wins).
    fn kick(&self, code: GoAwayCode) {
        let _ = self
            .code
            .compare_exchange(0, code as i32, Ordering::Relaxed, Ordering::Relaxed);
        self.notify.notify_one();
    }

    /// Resolves once the hub dropped the connection.
    pub async fn notified(&self) {
        self.notify.notified().await
    }

    /// Why the connection was dropped.
    pub fn code(&self) -> GoAwayCode {
        GoAwayCode::try_from(self.code.load(Ordering::Relaxed)).unwrap_or(GoAwayCode::TooSlow)
    }
}

struct Entry {
    key: PeerKey,
    tx: mpsc::Sender<Arc<Outbound>>,
    kick: Arc<Kick>,
    last_seen: Arc<AtomicI64>,
}

#[derive(Default)]
struct Inner {
    conns: HashMap<ConnId, Entry>,
    by_visitor: HashMap<Uuid, Vec<ConnId>>,
    by_agent: HashMap<Uuid, Vec<ConnId>>,
    /// Supervisors and admins: they see every conversation's traffic.
    watchers: Vec<ConnId>,
    /// Watchers that joined since the last floor went out.
    unfloored: Vec<ConnId>,
}

/// The registry of live connections.
#[derive(Default)]
pub struct Hub {
    inner: Mutex<Inner>,
    next_id: AtomicU64,
    /// Cluster mode: the other nodes.
    remote: OnceLock<Arc<dyn Remote>>,
    /// Nudged when the floor may have changed; nudges coalesce into one wake-up.
    floor: Notify,
}

/// Whose sockets a node holds, as far as the other nodes' frames are concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Interest {
    Visitor(Uuid),
    Agent(Uuid),
    /// Supervisors and admins, who see every conversation.
    Watchers,
}

/// Sockets to close on every node.
#[derive(Debug, Clone, Copy, serde::Serialize, serde::Deserialize)]
pub enum Disconnect {
    /// A `GoAwayCode` for every tab of a shopper.
    Visitor(Uuid, i32),
    /// A `GoAwayCode` for an agent's sockets, or with a session only those of that sign-in.
    Agent(Uuid, Option<u64>, i32),
}

/// The other nodes of a cluster, as the hub sees them. Calls must not block: they are made
/// with the hub locked.
pub trait Remote: Send + Sync {
    /// Carries a frame published on this node to the other nodes' sockets among `to`.
    fn publish(&self, to: &Recipients<'_>, out: &Outbound);
    /// This node now holds a first socket of `who` (`on`), or closed its last one.
    fn interest(&self, who: Interest, on: bool);
    /// Closes sockets on the other nodes.
    fn disconnect(&self, what: Disconnect);
    /// Resolves once the interest announced so far is known to the NATS server, so frames
    /// the other nodes publish from now on reach this node.
    fn settled(&self) -> tokio::sync::oneshot::Receiver<()>;
    /// Resolves once the frames published so far are with the NATS server, so they reach
    /// the other nodes even if this one dies now.
    fn published(&self) -> tokio::sync::oneshot::Receiver<()>;
}

/// What a connection gets when it registers.
pub struct Registration {
    pub id: ConnId,
    /// Frames are shared behind an `Arc`: one allocation per publish whatever the number
    /// of recipients, and small channel slots (tokio allocates 32 of them per channel up
    /// front, so the slot size is paid by every idle connection).
    pub rx: mpsc::Receiver<Arc<Outbound>>,
    /// Notified when the hub dropped this connection (queue overflow, stale heartbeat,
    /// revoked rights), with the reason.
    pub kicked: Arc<Kick>,
    /// Unix ms of the last frame received; the heartbeat sweeper reads it.
    pub last_seen: Arc<AtomicI64>,
    /// Unregisters when the registration is dropped.
    _guard: Unregister,
}

/// Removes the connection from the hub when dropped, whatever path the task exits by.
pub struct Unregister {
    hub: Arc<Hub>,
    id: ConnId,
}

impl Drop for Unregister {
    fn drop(&mut self) {
        self.hub.remove(self.id);
    }
}

fn remove_id(list: &mut Vec<ConnId>, id: ConnId) {
    list.retain(|c| *c != id);
}

impl Hub {
    /// Registers a connection with an outbound queue of `capacity` frames.
    pub fn register(self: &Arc<Self>, key: PeerKey, capacity: usize) -> Registration {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed) + 1;
        let (tx, rx) = mpsc::channel(capacity);
        let kicked = Arc::new(Kick::default());
        let last_seen = Arc::new(AtomicI64::new(now_ms()));
        let mut inner = self.inner.lock().unwrap();
        let mut first = Vec::new();
        match key {
            PeerKey::Visitor(v) => {
                let list = inner.by_visitor.entry(v).or_default();
                if list.is_empty() {
                    first.push(Interest::Visitor(v));
                }
                list.push(id);
            }
            PeerKey::Agent { id: a, role, .. } => {
                let list = inner.by_agent.entry(a).or_default();
                if list.is_empty() {
                    first.push(Interest::Agent(a));
                }
                list.push(id);
                if role >= Role::Supervisor {
                    if inner.watchers.is_empty() {
                        first.push(Interest::Watchers);
                    }
                    inner.watchers.push(id);
                    inner.unfloored.push(id);
                    self.floor.notify_one();
                }
            }
        }
        if let Some(remote) = self.remote.get() {
            first.into_iter().for_each(|who| remote.interest(who, true));
        }
        inner.conns.insert(
            id,
            Entry {
                key,
                tx,
                kick: kicked.clone(),
                last_seen: last_seen.clone(),
            },
        );
        drop(inner);
        self.update_gauges();
        Registration {
            id,
            rx,
            kicked,
            last_seen,
            _guard: Unregister {
                hub: self.clone(),
                id,
            },
        }
    }

    /// In cluster mode, waits until the other nodes' frames for the sockets registered so
    /// far reach this node (bounded: a node cut off from NATS is refused elsewhere).
    pub async fn settled(&self) {
        if let Some(remote) = self.remote.get() {
            let _ = tokio::time::timeout(std::time::Duration::from_secs(2), remote.settled()).await;
        }
    }

    /// In cluster mode, resolves once the frames published so far are with NATS; `None` on
    /// a single node, where publishing is done when `publish` returns.
    pub fn published(&self) -> Option<tokio::sync::oneshot::Receiver<()>> {
        self.remote.get().map(|remote| remote.published())
    }

    /// Cluster mode: frames also go to, and come from, the other nodes. Set once, before
    /// the first socket registers.
    pub fn set_remote(&self, remote: Arc<dyn Remote>) {
        let _ = self.remote.set(remote);
    }

    fn remove(&self, id: ConnId) {
        let mut inner = self.inner.lock().unwrap();
        self.remove_locked(&mut inner, id);
        drop(inner);
        self.update_gauges();
    }

    fn remove_locked(&self, inner: &mut Inner, id: ConnId) -> Option<Entry> {
        let entry = inner.conns.remove(&id)?;
        let mut last = Vec::new();
        match entry.key {
            PeerKey::Visitor(v) => {
                if let Some(list) = inner.by_visitor.get_mut(&v) {
                    remove_id(list, id);
                    if list.is_empty() {
                        inner.by_visitor.remove(&v);
                        last.push(Interest::Visitor(v));
                    }
                }
            }
            PeerKey::Agent { id: a, .. } => {
                if let Some(list) = inner.by_agent.get_mut(&a) {
                    remove_id(list, id);
                    if list.is_empty() {
                        inner.by_agent.remove(&a);
                        last.push(Interest::Agent(a));
                    }
                }
                let watched = !inner.watchers.is_empty();
                remove_id(&mut inner.watchers, id);
                remove_id(&mut inner.unfloored, id);
                if watched && inner.watchers.is_empty() {
                    last.push(Interest::Watchers);
                }
            }
        }
        if let Some(remote) = self.remote.get() {
            last.into_iter().for_each(|who| remote.interest(who, false));
        }
        Some(entry)
    }

    fn update_gauges(&self) {
        let (shoppers, agents) = self.counts();
        metrics::gauge!("kefu_connected_shoppers").set(shoppers as f64);
        metrics::gauge!("kefu_connected_agents").set(agents as f64);
    }

    /// Connected (shopper sockets, agent sockets).
    pub fn counts(&self) -> (usize, usize) {
        let inner = self.inner.lock().unwrap();
        let agents: usize = inner.by_agent.values().map(Vec::len).sum();
        (inner.conns.len() - agents, agents)
    }

    /// Number of live sockets of one agent.
    pub fn agent_connections(&self, agent: Uuid) -> usize {
        self.inner
            .lock()
            .unwrap()
            .by_agent
            .get(&agent)
            .map_or(0, Vec::len)
    }

    /// Delivers one frame to a set of recipients, on this node and (in cluster mode) the
    /// others; each connection gets it at most once.
    pub fn publish(&self, to: &Recipients<'_>, out: Outbound) {
        if let Some(remote) = self.remote.get() {
            remote.publish(to, &out);
        }
        self.deliver(to, out, &[]);
    }

    /// Delivers one frame to the recipients' sockets on this node, skipping watchers who are
    /// among `skip_agents` (another node's frame reaches them as agents already).
    pub fn deliver(&self, to: &Recipients<'_>, out: Outbound, skip_agents: &[Uuid]) {
        let out = Arc::new(out);
        let mut inner = self.inner.lock().unwrap();
        let mut ids: Vec<ConnId> = Vec::new();
        if let Some(v) = to.visitor {
            ids.extend(inner.by_visitor.get(&v).into_iter().flatten());
        }
        for a in to.agents {
            ids.extend(inner.by_agent.get(a).into_iter().flatten());
        }
        if to.watchers && !inner.watchers.is_empty() && !crate::wire::is_chatter(&out.frame) {
            self.floor.notify_one();
        }
        if to.watchers {
            let skip = |id: &ConnId| match inner.conns.get(id).map(|e| e.key) {
                Some(PeerKey::Agent { id: a, .. }) => skip_agents.contains(&a),
                _ => false,
            };
            ids.extend(inner.watchers.iter().filter(|id| !skip(id)));
        }
        ids.sort_unstable();
        ids.dedup();
        for id in ids {
            if to.except != Some(id) {
                self.push(&mut inner, id, &out);
            }
        }
    }

    /// Queues `out` for one connection, cutting it off if its queue is full.
    fn push(&self, inner: &mut Inner, id: ConnId, out: &Arc<Outbound>) {
        let Some(entry) = inner.conns.get(&id) else {
            return;
        };
        match entry.tx.try_send(out.clone()) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(_)) => {
                // Too slow: cut it off rather than let it hold up everyone else.
                metrics::counter!("kefu_slow_connections_dropped_total").increment(1);
                if let Some(e) = self.remove_locked(inner, id) {
                    e.kick.kick(GoAwayCode::TooSlow);
                }
            }
            Err(mpsc::error::TrySendError::Closed(_)) => {}
        }
    }

    /// Resolves once the floor may have changed since the last call (or at once if it may
    /// have meanwhile).
    pub async fn floor_changed(&self) {
        self.floor.notified().await
    }

    /// Says the floor may have changed (a change no frame announces).
    pub fn nudge_floor(&self) {
        self.floor.notify_one();
    }

    /// Whether a supervisor or admin is connected to this node.
    pub fn watching(&self) -> bool {
        !self.inner.lock().unwrap().watchers.is_empty()
    }

    /// Sends a floor frame to this node's watchers: every one of them when it changed
    /// (`changed`), else only those that joined since the last one. Never to other nodes:
    /// each builds its own.
    pub fn deliver_floor(&self, frame: Bytes, changed: bool) {
        let out = Arc::new(Outbound::event(frame));
        let mut inner = self.inner.lock().unwrap();
        let fresh = std::mem::take(&mut inner.unfloored);
        let ids = if changed {
            inner.watchers.clone()
        } else {
            fresh
        };
        for id in ids {
            self.push(&mut inner, id, &out);
        }
    }

    /// Tells every connection whose last frame is older than `before_ms` to close.
    pub fn sweep_stale(&self, before_ms: i64) -> usize {
        let mut inner = self.inner.lock().unwrap();
        let stale: Vec<ConnId> = inner
            .conns
            .iter()
            .filter(|(_, e)| e.last_seen.load(Ordering::Relaxed) < before_ms)
            .map(|(id, _)| *id)
            .collect();
        for id in &stale {
            if let Some(e) = self.remove_locked(&mut inner, *id) {
                e.kick.kick(GoAwayCode::TooSlow);
            }
        }
        stale.len()
    }

    /// Closes every socket of a shopper, on every node, telling each why. Returns how many
    /// were on this node.
    pub fn disconnect_visitor(&self, visitor: Uuid, code: GoAwayCode) -> usize {
        if let Some(remote) = self.remote.get() {
            remote.disconnect(Disconnect::Visitor(visitor, code as i32));
        }
        self.disconnect_visitor_here(visitor, code)
    }

    fn disconnect_visitor_here(&self, visitor: Uuid, code: GoAwayCode) -> usize {
        let inner = self.inner.lock().unwrap();
        let ids = inner.by_visitor.get(&visitor).cloned().unwrap_or_default();
        self.kick_all(inner, &ids, code)
    }

    /// Drops these connections from the hub and tells each to close with `code`.
    fn kick_all(
        &self,
        mut inner: std::sync::MutexGuard<'_, Inner>,
        ids: &[ConnId],
        code: GoAwayCode,
    ) -> usize {
        for id in ids {
            if let Some(e) = self.remove_locked(&mut inner, *id) {
                e.kick.kick(code);
            }
        }
        drop(inner);
        self.update_gauges();
        ids.len()
    }

    /// Closes an agent's sockets — all of them, or with `session` only those opened with
    /// that sign-in — on every node, telling each why. Returns how many were on this node.
    pub fn disconnect_agent(&self, agent: Uuid, session: Option<u64>, code: GoAwayCode) -> usize {
        if let Some(remote) = self.remote.get() {
            remote.disconnect(Disconnect::Agent(agent, session, code as i32));
        }
        self.disconnect_agent_here(agent, session, code)
    }

    /// Another node asked to close sockets; returns how many were here.
    pub fn disconnect_here(&self, what: Disconnect) -> usize {
        let code = |c: i32| GoAwayCode::try_from(c).unwrap_or(GoAwayCode::ShuttingDown);
        match what {
            Disconnect::Visitor(v, c) => self.disconnect_visitor_here(v, code(c)),
            Disconnect::Agent(a, session, c) => self.disconnect_agent_here(a, session, code(c)),
        }
    }

    /// Closes every socket on this node (it lost the cluster: its clients go elsewhere).
    pub fn disconnect_all(&self, code: GoAwayCode) -> usize {
        let inner = self.inner.lock().unwrap();
        let ids: Vec<ConnId> = inner.conns.keys().copied().collect();
        self.kick_all(inner, &ids, code)
    }

    fn disconnect_agent_here(&self, agent: Uuid, session: Option<u64>, code: GoAwayCode) -> usize {
        let inner = self.inner.lock().unwrap();
        let ids: Vec<ConnId> = inner
            .by_agent
            .get(&agent)
            .into_iter()
            .flatten()
            .copied()
            .filter(|id| {
                session.is_none_or(|s| {
                    matches!(inner.conns.get(id), Some(Entry { key: PeerKey::Agent { session, .. }, .. }) if *session == s)
                })
            })
            .collect();
        self.kick_all(inner, &ids, code)
    }
}

/// Who a frame goes to.
#[derive(Debug, Default)]
pub struct Recipients<'a> {
    /// All tabs of this shopper.
    pub visitor: Option<Uuid>,
    /// All devices of these agents.
    pub agents: &'a [Uuid],
    /// Every connected supervisor and admin.
    pub watchers: bool,
    /// Skip this connection (e.g. the typist itself).
    pub except: Option<ConnId>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(n: u8) -> Outbound {
        Outbound::event(Bytes::from(vec![n]))
    }

    #[tokio::test]
    async fn a_full_queue_drops_only_that_connection() {
        let hub = Arc::new(Hub::default());
        let a = Uuid::now_v7();
        let b = Uuid::now_v7();
        let slow = hub.register(
            PeerKey::Agent {
                id: a,
                role: Role::Agent,
                session: 1,
            },
            2,
        );
        let mut fast = hub.register(
            PeerKey::Agent {
                id: b,
                role: Role::Agent,
                session: 2,
            },
            2,
        );
        let agents = [a, b];
        for n in 0..5u8 {
            hub.publish(
                &Recipients {
                    agents: &agents,
                    ..Default::default()
                },
                frame(n),
            );
            // The fast reader keeps up.
            assert_eq!(fast.rx.recv().await.unwrap().frame[0], n);
        }
        assert_eq!(
            hub.agent_connections(a),
            0,
            "the slow connection was dropped on overflow"
        );
        assert_eq!(hub.agent_connections(b), 1, "the fast one stays");
        // The slow one was told to close.
        tokio::time::timeout(std::time::Duration::from_secs(5), slow.kicked.notified())
            .await
            .expect("kick notified");
    }

    #[test]
    fn guard_unregisters_and_watchers_get_each_frame_once() {
        let hub = Arc::new(Hub::default());
        let sup = Uuid::now_v7();
        let mut reg = hub.register(
            PeerKey::Agent {
                id: sup,
                role: Role::Supervisor,
                session: 3,
            },
            8,
        );
        // Addressed both as the agent and as a watcher: still one copy.
        hub.publish(
            &Recipients {
                agents: &[sup],
                watchers: true,
                ..Default::default()
            },
            frame(1),
        );
        assert!(reg.rx.try_recv().is_ok());
        assert!(reg.rx.try_recv().is_err(), "no duplicate delivery");
        assert_eq!(hub.counts(), (0, 1));
        drop(reg);
        assert_eq!(
            hub.counts(),
            (0, 0),
            "dropping the registration unregisters"
        );
    }

    #[tokio::test]
    async fn a_logout_closes_that_sign_in_only_and_says_why() {
        let hub = Arc::new(Hub::default());
        let agent = Uuid::now_v7();
        let key = |session| PeerKey::Agent {
            id: agent,
            role: Role::Agent,
            session,
        };
        let laptop = hub.register(key(session_of(&"a1".repeat(32))), 4);
        let phone = hub.register(key(session_of(&"b2".repeat(32))), 4);
        let closed = hub.disconnect_agent(
            agent,
            Some(session_of(&"a1".repeat(32))),
            GoAwayCode::SignedOut,
        );
        assert_eq!(closed, 1, "only the socket of the signed-out token closes");
        laptop.kicked.notified().await;
        assert_eq!(laptop.kicked.code(), GoAwayCode::SignedOut);
        assert_eq!(hub.agent_connections(agent), 1, "the phone stays connected");
        assert_eq!(
            hub.disconnect_agent(agent, None, GoAwayCode::AccountDisabled),
            1,
            "disabling closes every remaining socket"
        );
        assert_eq!(phone.kicked.code(), GoAwayCode::AccountDisabled);
        assert_eq!(hub.agent_connections(agent), 0);
    }
}
