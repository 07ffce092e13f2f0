//! Cluster presence as the router sees it: which agent sockets each node holds.
//!
//! In cluster mode a node does not tell the router "a socket opened" but "I hold n sockets
//! of this agent, with this status" — at once when that changes, and for all its agents
//! every second. Reports are idempotent, so one lost or repeated changes nothing lasting,
//! and a router that just took over learns everything within a second. A node not heard
//! from for [`NODE_TIMEOUT_MS`] is dead: its sockets count as closed, so its agents go
//! through the grace period like any disconnected agent.

use std::collections::HashMap;

use kefu_proto::v1::AgentStatus as Status;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::AgentInfo;

/// How often a node reports all its agents.
pub const REPORT_EVERY_MS: u64 = 1000;
/// Silence after which a node counts as dead (three missed reports).
pub const NODE_TIMEOUT_MS: i64 = 3000;

/// What a node says about its agent sockets.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NodePresence {
    pub node: String,
    /// All the node's agents: one it held before and does not name has no socket left.
    pub full: bool,
    pub agents: Vec<AgentPresence>,
}

/// One agent on one node.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgentPresence {
    pub info: AgentInfo,
    pub sockets: u32,
    /// A `pb::AgentStatus` the agent chose (online, away, busy).
    pub status: i32,
}

/// What a report changes for routing, as the single-node router calls would say it.
#[derive(Debug, Clone, PartialEq)]
pub enum PresenceChange {
    /// One more socket of this agent somewhere.
    Up(AgentInfo),
    /// One socket fewer.
    Down(Uuid),
    Status(Uuid, Status),
}

struct Node {
    heard_at: i64,
    agents: HashMap<Uuid, AgentPresence>,
}

/// Every node's last report.
#[derive(Default)]
pub struct NodeBook {
    nodes: HashMap<String, Node>,
}

impl NodeBook {
    fn sockets(&self, agent: Uuid) -> u32 {
        self.nodes
            .values()
            .filter_map(|n| n.agents.get(&agent))
            .map(|a| a.sockets)
            .sum()
    }

    /// Takes a node's report and returns what changed, cluster-wide.
    pub fn report(&mut self, r: NodePresence, now_ms: i64) -> Vec<PresenceChange> {
        let node = self.nodes.entry(r.node.clone()).or_insert_with(|| Node {
            heard_at: now_ms,
            agents: HashMap::new(),
        });
        node.heard_at = now_ms;
        let mut gone: Vec<Uuid> = Vec::new();
        if r.full {
            gone = node
                .agents
                .keys()
                .filter(|id| !r.agents.iter().any(|a| a.info.id == **id))
                .copied()
                .collect();
        }
        let mut changes = Vec::new();
        for id in gone {
            changes.extend(self.set(&r.node, id, None));
        }
        for a in r.agents {
            let id = a.info.id;
            changes.extend(self.set(&r.node, id, Some(a)));
        }
        changes
    }

    /// Forgets nodes silent for longer than `NODE_TIMEOUT_MS`; their sockets are closed.
    pub fn expire(&mut self, now_ms: i64) -> Vec<PresenceChange> {
        let dead: Vec<String> = self
            .nodes
            .iter()
            .filter(|(_, n)| now_ms - n.heard_at > NODE_TIMEOUT_MS)
            .map(|(name, _)| name.clone())
            .collect();
        let mut changes = Vec::new();
        for name in dead {
            tracing::warn!(node = %name, "cluster node silent; its agents' sockets count as closed");
            let agents: Vec<Uuid> = self.nodes[&name].agents.keys().copied().collect();
            for id in agents {
                changes.extend(self.set(&name, id, None));
            }
            self.nodes.remove(&name);
        }
        changes
    }

    /// Sets (or with `None` clears) one agent's entry of one node.
    fn set(&mut self, node: &str, id: Uuid, now: Option<AgentPresence>) -> Vec<PresenceChange> {
        let before = self.sockets(id);
        let entries = &mut self.nodes.get_mut(node).expect("node entry").agents;
        let old_status = entries.get(&id).map(|a| a.status);
        let mut changes = Vec::new();
        match now {
            Some(a) if a.sockets > 0 => {
                let status = a.status;
                let info = a.info.clone();
                entries.insert(id, a);
                let after = self.sockets(id);
                changes.extend((before..after).map(|_| PresenceChange::Up(info.clone())));
                let first = before == 0 && status != Status::Online as i32;
                if first || old_status.is_some_and(|s| s != status) {
                    let status = Status::try_from(status).unwrap_or(Status::Online);
                    changes.push(PresenceChange::Status(id, status));
                }
            }
            _ => {
                entries.remove(&id);
            }
        }
        let after = self.sockets(id);
        changes.extend((after..before).map(|_| PresenceChange::Down(id)));
        changes
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Role;

    fn agent(id: Uuid, sockets: u32, status: Status) -> AgentPresence {
        AgentPresence {
            info: AgentInfo {
                id,
                name: "Ana".into(),
                role: Role::Agent,
                groups: vec!["general".into()],
                capacity: 3,
            },
            sockets,
            status: status as i32,
        }
    }

    fn report(node: &str, full: bool, agents: Vec<AgentPresence>) -> NodePresence {
        NodePresence {
            node: node.into(),
            full,
            agents,
        }
    }

    fn ups(changes: &[PresenceChange]) -> usize {
        changes
            .iter()
            .filter(|c| matches!(c, PresenceChange::Up(_)))
            .count()
    }

    fn downs(changes: &[PresenceChange]) -> usize {
        changes
            .iter()
            .filter(|c| matches!(c, PresenceChange::Down(_)))
            .count()
    }

    #[test]
    fn repeated_reports_change_nothing_and_sockets_add_up_across_nodes() {
        let mut book = NodeBook::default();
        let a = Uuid::now_v7();
        let first = book.report(report("n1", true, vec![agent(a, 2, Status::Online)]), 0);
        assert_eq!(ups(&first), 2);
        let again = book.report(report("n1", true, vec![agent(a, 2, Status::Online)]), 500);
        assert!(again.is_empty(), "a repeated report is a no-op: {again:?}");
        let other = book.report(report("n2", false, vec![agent(a, 1, Status::Online)]), 600);
        assert_eq!(ups(&other), 1);
        assert_eq!(book.sockets(a), 3);
        // n1's full report no longer names the agent: its two sockets closed.
        let left = book.report(report("n1", true, vec![]), 900);
        assert_eq!(downs(&left), 2);
        assert_eq!(book.sockets(a), 1, "the socket on n2 stays");
    }

    #[test]
    fn a_silent_node_loses_its_sockets_and_a_status_is_carried_over() {
        let mut book = NodeBook::default();
        let a = Uuid::now_v7();
        // A router that just took over hears of an agent that was away.
        let first = book.report(report("n1", true, vec![agent(a, 1, Status::Away)]), 0);
        assert_eq!(first[0], PresenceChange::Up(agent(a, 1, Status::Away).info));
        assert_eq!(first[1], PresenceChange::Status(a, Status::Away));
        let back = book.report(report("n1", false, vec![agent(a, 1, Status::Online)]), 100);
        assert_eq!(back, vec![PresenceChange::Status(a, Status::Online)]);
        book.report(report("n2", true, vec![]), 2500);
        assert!(
            book.expire(NODE_TIMEOUT_MS).is_empty(),
            "not silent long enough"
        );
        let expired = book.expire(NODE_TIMEOUT_MS + 101);
        assert_eq!(expired, vec![PresenceChange::Down(a)]);
        assert_eq!(book.sockets(a), 0);
        assert!(
            book.expire(NODE_TIMEOUT_MS + 2000).is_empty(),
            "n2 was heard at 2500"
        );
    }
}
