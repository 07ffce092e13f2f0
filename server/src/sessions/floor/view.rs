//! The floor as supervisors see it, and how it is put together from what routing and the
//! store know: pure functions, tested below without a server.
//!
//! The same value goes out as JSON (`GET /floor`) and as protobuf (`wire::floor`, the
//! `Floor` frame of `proto/kefu/v1/floor.proto`); the comments there are the contract.

use std::collections::{BTreeMap, HashMap};

use kefu_proto::v1::AgentStatus;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::{
    sessions::routing::AgentLoad,
    store::{FloorFacts, OpenBreach, Priority},
};

/// How many of a group's latest assigned conversations its expected wait comes from.
pub const RECENT_WAITS: usize = 20;

/// Everything on the floor at one moment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[schema(as = Floor)]
pub struct FloorView {
    /// When the server built it, unix milliseconds.
    pub at_ms: i64,
    /// Every agent account that is not disabled: online first, then away, then offline.
    pub agents: Vec<AgentOnFloor>,
    /// Every group, including empty queues, by name.
    pub queues: Vec<QueueOnFloor>,
    /// Open conversations past a service-level target, oldest due first.
    pub breaches: Vec<Breach>,
}

/// An agent's status on the floor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum FloorStatus {
    /// Connected and taking new conversations.
    Online,
    /// Connected, keeping its conversations, offered nothing new.
    Away,
    /// No socket connected, or signed off routing.
    Offline,
}

impl FloorStatus {
    /// The floor's reading of a `pb::AgentStatus` (anything unknown is offline).
    pub fn of(status: i32) -> Self {
        match AgentStatus::try_from(status) {
            Ok(AgentStatus::Online) => Self::Online,
            Ok(AgentStatus::Away) => Self::Away,
            _ => Self::Offline,
        }
    }

    pub fn to_pb(self) -> AgentStatus {
        match self {
            Self::Online => AgentStatus::Online,
            Self::Away => AgentStatus::Away,
            Self::Offline => AgentStatus::Offline,
        }
    }
}

/// One agent on the floor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[schema(as = FloorAgent)]
pub struct AgentOnFloor {
    pub agent_id: Uuid,
    pub display_name: String,
    pub status: FloorStatus,
    /// Conversations assigned to it now.
    pub active: u32,
    /// Most conversations it takes at once.
    pub capacity: u32,
    /// When it last replied to a shopper in a conversation it holds or held (looking back
    /// a day), unix milliseconds; 0 if not within that day.
    pub last_reply_at_ms: i64,
    /// The groups it answers.
    pub groups: Vec<String>,
}

/// One group's queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[schema(as = FloorQueue)]
pub struct QueueOnFloor {
    pub group: String,
    /// Conversations waiting for an agent (offered ones included).
    pub waiting: u32,
    /// When the longest-waiting one joined the queue, unix milliseconds; 0 if none waits.
    pub oldest_since_ms: i64,
    /// Expected wait for a conversation joining now, milliseconds: the median wait of the
    /// group's last 20 conversations assigned within a day (not counting transferred
    /// ones); 0 without any.
    pub expected_wait_ms: i64,
    /// Members of the group online now.
    pub agents_online: u32,
}

/// An open conversation past a service-level target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[schema(as = FloorBreach)]
pub struct Breach {
    pub conversation_id: Uuid,
    pub group: String,
    /// Its agent; null while it waits.
    pub agent_id: Option<Uuid>,
    /// `first_response` or `resolution`.
    pub target: String,
    /// When the target was due, unix milliseconds.
    pub due_at_ms: i64,
    pub priority: Priority,
}

/// The floor from the store's facts, routing's loads and the open breaches, at `now`.
pub fn assemble(
    facts: FloorFacts,
    loads: &[AgentLoad],
    breaches: Vec<OpenBreach>,
    since: i64,
    now: i64,
) -> FloorView {
    let loads: HashMap<Uuid, &AgentLoad> = loads.iter().map(|l| (l.agent, l)).collect();
    let mut last_reply: HashMap<Uuid, i64> = HashMap::new();
    for r in &facts.recent {
        if let (Some(agent), Some(at)) = (r.agent_id, r.last_agent_reply_at) {
            let latest = last_reply.entry(agent).or_default();
            *latest = (*latest).max(at);
        }
    }
    let mut agents: Vec<AgentOnFloor> = facts
        .agents
        .into_iter()
        .map(|a| {
            let load = loads.get(&a.id);
            AgentOnFloor {
                agent_id: a.id,
                display_name: a.display_name,
                status: load.map_or(FloorStatus::Offline, |l| FloorStatus::of(l.status)),
                active: load.map_or(0, |l| l.active),
                capacity: u32::try_from(a.capacity).unwrap_or(0),
                last_reply_at_ms: last_reply.get(&a.id).copied().unwrap_or(0),
                groups: a.groups,
            }
        })
        .collect();
    agents.sort_by(|a, b| {
        (a.status, &a.display_name, a.agent_id).cmp(&(b.status, &b.display_name, b.agent_id))
    });
    let waits = expected_waits(&facts.recent, since);
    let mut queues: BTreeMap<String, QueueOnFloor> = facts
        .groups
        .into_iter()
        .map(|g| (g.clone(), empty_queue(g)))
        .collect();
    // A group deleted while conversations still wait in it keeps its queue on the floor.
    for q in facts.queues {
        let entry = queues
            .entry(q.group.clone())
            .or_insert_with(|| empty_queue(q.group));
        entry.waiting = u32::try_from(q.waiting).unwrap_or(u32::MAX);
        entry.oldest_since_ms = q.oldest_since;
    }
    for (group, q) in &mut queues {
        q.expected_wait_ms = waits.get(group.as_str()).copied().unwrap_or(0);
        q.agents_online = agents
            .iter()
            .filter(|a| a.status == FloorStatus::Online && a.groups.contains(group))
            .count() as u32;
    }
    FloorView {
        at_ms: now,
        agents,
        queues: queues.into_values().collect(),
        breaches: breaches
            .into_iter()
            .map(|b| Breach {
                conversation_id: b.conversation_id,
                group: b.group,
                agent_id: b.agent_id,
                target: b.target.as_str().to_string(),
                due_at_ms: b.due_at,
                priority: b.priority,
            })
            .collect(),
    }
}

fn empty_queue(group: String) -> QueueOnFloor {
    QueueOnFloor {
        group,
        waiting: 0,
        oldest_since_ms: 0,
        expected_wait_ms: 0,
        agents_online: 0,
    }
}

/// Per group, the median of (assigned − queued) over its last [`RECENT_WAITS`]
/// conversations assigned at or after `since`. Transferred ones are left out: a move from
/// one agent to another is an assignment that ended no wait (its `queued_at` is from
/// before the first agent had it).
fn expected_waits(recent: &[crate::store::RecentConversation], since: i64) -> HashMap<&str, i64> {
    let mut by_group: HashMap<&str, Vec<(i64, i64)>> = HashMap::new();
    for r in recent {
        if let (Some(assigned), Some(queued)) = (r.assigned_at, r.queued_at)
            && assigned >= since
            && assigned >= queued
            && r.transfers == 0
        {
            by_group
                .entry(r.group.as_str())
                .or_default()
                .push((assigned, assigned - queued));
        }
    }
    by_group
        .into_iter()
        .map(|(group, mut waits)| {
            waits.sort_unstable_by(|a, b| b.cmp(a));
            let latest: Vec<i64> = waits.iter().take(RECENT_WAITS).map(|w| w.1).collect();
            (group, median(latest))
        })
        .collect()
}

/// The median by nearest rank, as the reports' p50 (of [1, 2, 3, 4]: 2); 0 when empty.
pub fn median(mut values: Vec<i64>) -> i64 {
    if values.is_empty() {
        return 0;
    }
    values.sort_unstable();
    values[values.len().div_ceil(2) - 1]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{FloorAccount, QueueFacts, RecentConversation, Target};

    fn account(name: &str, groups: &[&str]) -> FloorAccount {
        FloorAccount {
            id: Uuid::now_v7(),
            display_name: name.into(),
            capacity: 3,
            groups: groups.iter().map(|g| g.to_string()).collect(),
        }
    }

    fn load(agent: Uuid, status: AgentStatus, active: u32) -> AgentLoad {
        AgentLoad {
            agent,
            status: status as i32,
            active,
        }
    }

    fn assigned(group: &str, queued: i64, assigned: i64) -> RecentConversation {
        RecentConversation {
            group: group.into(),
            agent_id: None,
            last_agent_reply_at: None,
            queued_at: Some(queued),
            assigned_at: Some(assigned),
            transfers: 0,
        }
    }

    #[test]
    fn the_median_is_the_nearest_rank_one() {
        assert_eq!(median(vec![]), 0, "no history: no expected wait");
        assert_eq!(median(vec![7]), 7);
        assert_eq!(median(vec![4, 1, 3, 2]), 2, "as the reports' p50");
        assert_eq!(median(vec![5, 1, 9]), 5);
    }

    #[test]
    fn expected_waits_come_from_each_groups_latest_twenty_recent_assignments() {
        let mut recent: Vec<RecentConversation> = (0..25)
            // The i-th was assigned at 1000 + i after waiting i seconds: the latest 20 waited
            // 5 to 24 s.
            .map(|i| assigned("sales", 1000 + i - i * 1000, 1000 + i))
            .collect();
        recent.push(assigned("care", 0, 10)); // before `since`: not recent
        recent.push(assigned("care", 1500, 1400)); // assigned before it queued: ignored
        recent.push(RecentConversation {
            transfers: 1, // moved from one agent to another: no wait ended
            ..assigned("care", 1000, 90_000)
        });
        let waits = expected_waits(&recent, 1000);
        let latest: Vec<i64> = (5..25).map(|i| i * 1000).collect();
        assert_eq!(
            waits["sales"],
            median(latest),
            "the oldest five are left out"
        );
        assert_eq!(waits.get("care"), None, "nothing recent in `care`");
    }

    #[test]
    fn the_floor_joins_accounts_with_routing_and_lists_every_group() {
        let ana = account("Ana", &["sales"]);
        let bob = account("Bob", &["sales", "care"]);
        let cid = account("Cid", &["care"]);
        let dee = account("Dee", &["sales"]);
        let (a, b, c) = (ana.id, bob.id, cid.id);
        let facts = FloorFacts {
            agents: vec![dee, cid, bob, ana],
            groups: vec!["care".into(), "empty".into(), "sales".into()],
            queues: vec![
                QueueFacts {
                    group: "sales".into(),
                    waiting: 2,
                    oldest_since: 900,
                },
                QueueFacts {
                    group: "deleted".into(),
                    waiting: 1,
                    oldest_since: 950,
                },
            ],
            recent: vec![
                RecentConversation {
                    agent_id: Some(a),
                    last_agent_reply_at: Some(800),
                    ..assigned("sales", 100, 300)
                },
                RecentConversation {
                    agent_id: Some(a),
                    last_agent_reply_at: Some(950),
                    ..assigned("sales", 100, 200)
                },
            ],
        };
        let loads = [
            load(a, AgentStatus::Online, 2),
            load(b, AgentStatus::Away, 1),
            // Known to routing but disconnected: offline, still holding one in its grace.
            load(c, AgentStatus::Offline, 1),
        ];
        let breach = OpenBreach {
            conversation_id: Uuid::now_v7(),
            group: "sales".into(),
            agent_id: None,
            priority: Priority::High,
            target: Target::FirstResponse,
            due_at: 500,
            at: 600,
        };
        let floor = assemble(facts, &loads, vec![breach.clone()], 0, 1234);
        assert_eq!(floor.at_ms, 1234);
        let order: Vec<(&str, FloorStatus, u32)> = floor
            .agents
            .iter()
            .map(|x| (x.display_name.as_str(), x.status, x.active))
            .collect();
        assert_eq!(
            order,
            [
                ("Ana", FloorStatus::Online, 2),
                ("Bob", FloorStatus::Away, 1),
                ("Cid", FloorStatus::Offline, 1),
                // Never connected since the server started: routing does not know it.
                ("Dee", FloorStatus::Offline, 0),
            ],
            "online first, then away, then offline, by name"
        );
        assert_eq!(
            floor.agents[0].last_reply_at_ms, 950,
            "the latest reply of its conversations"
        );
        assert_eq!(floor.agents[1].last_reply_at_ms, 0, "no reply seen");
        let queues: Vec<(&str, u32, i64, u32)> = floor
            .queues
            .iter()
            .map(|q| {
                (
                    q.group.as_str(),
                    q.waiting,
                    q.oldest_since_ms,
                    q.agents_online,
                )
            })
            .collect();
        assert_eq!(
            queues,
            [
                ("care", 0, 0, 0),
                ("deleted", 1, 950, 0),
                ("empty", 0, 0, 0),
                ("sales", 2, 900, 1),
            ],
            "every group, empty ones too; only online members count as online"
        );
        let sales = &floor.queues[3];
        assert_eq!(
            sales.expected_wait_ms, 100,
            "median of 200 and 100 by nearest rank"
        );
        assert_eq!(floor.breaches.len(), 1);
        let b = &floor.breaches[0];
        assert_eq!(
            (
                b.conversation_id,
                b.target.as_str(),
                b.due_at_ms,
                b.priority
            ),
            (
                breach.conversation_id,
                "first_response",
                500,
                Priority::High
            )
        );
    }
}
