//! The live floor supervisors watch: agents, queues and service-level breaches. The server
//! pushes it whole on the agent socket (`kefu.v1.Floor`, supervisors and admins only) and
//! serves the same as JSON at `GET /api/v1/floor`; both read into these types, which the
//! window gets in `Update::Floor` and from the `floor` command.
//!
//! Times the wire marks "none" with 0 are `None` here, so the window never shows 1970 (the
//! REST reader maps them too; `specta(type)` tells the bindings the type is unchanged).

use kefu_proto::v1 as pb;
use serde::{Deserialize, Deserializer, Serialize};
use specta::Type;

use super::Priority;

/// Everything on the floor at one moment. Each one replaces the last.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Type)]
pub struct Floor {
    /// When the server built it, unix ms.
    pub at_ms: i64,
    /// Every agent account that is not disabled, online first.
    pub agents: Vec<FloorAgent>,
    /// Every group, including empty queues.
    pub queues: Vec<FloorQueue>,
    /// Open conversations past a service-level target, oldest breach first.
    pub breaches: Vec<FloorBreach>,
}

/// An agent's presence as the floor shows it (and as a supervisor may set it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(rename_all = "snake_case")]
pub enum Presence {
    Online,
    Away,
    Offline,
}

impl Presence {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Online => "online",
            Self::Away => "away",
            Self::Offline => "offline",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Type)]
pub struct FloorAgent {
    pub agent_id: String,
    pub display_name: String,
    pub status: Presence,
    /// Conversations assigned to the agent now.
    pub active: u32,
    /// Most conversations the agent takes at once.
    pub capacity: u32,
    /// When the agent last replied to a shopper, unix ms; `None` if never.
    #[serde(deserialize_with = "zero_is_none")]
    #[specta(type = Option<i64>)]
    pub last_reply_at_ms: Option<i64>,
    pub groups: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Type)]
pub struct FloorQueue {
    pub group: String,
    /// Conversations waiting for an agent.
    pub waiting: u32,
    /// When the longest-waiting conversation joined the queue, unix ms; `None` if none waits.
    #[serde(deserialize_with = "zero_is_none")]
    #[specta(type = Option<i64>)]
    pub oldest_since_ms: Option<i64>,
    /// How long a conversation joining now is expected to wait, ms; `None` without recent
    /// history to tell.
    #[serde(deserialize_with = "zero_is_none")]
    #[specta(type = Option<i64>)]
    pub expected_wait_ms: Option<i64>,
    /// Members of the group online now.
    pub agents_online: u32,
}

/// Which service-level target a conversation is past.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(rename_all = "snake_case")]
pub enum SlaTarget {
    FirstResponse,
    Resolution,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Type)]
pub struct FloorBreach {
    pub conversation_id: String,
    pub group: String,
    /// Its agent; `None` while queued.
    #[serde(deserialize_with = "empty_is_none")]
    #[specta(type = Option<String>)]
    pub agent_id: Option<String>,
    pub target: SlaTarget,
    /// When the target was due, unix ms.
    pub due_at_ms: i64,
    pub priority: Priority,
}

fn zero_is_none<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    Ok(Option::<i64>::deserialize(d)?.filter(|&v| v != 0))
}

fn empty_is_none<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(Option::<String>::deserialize(d)?.filter(|v| !v.is_empty()))
}

fn time(ms: i64) -> Option<i64> {
    (ms != 0).then_some(ms)
}

impl From<pb::Floor> for Floor {
    fn from(f: pb::Floor) -> Self {
        Self {
            at_ms: f.at_ms,
            agents: f.agents.into_iter().map(Into::into).collect(),
            queues: f.queues.into_iter().map(Into::into).collect(),
            breaches: f.breaches.into_iter().filter_map(breach).collect(),
        }
    }
}

impl From<pb::FloorAgent> for FloorAgent {
    fn from(a: pb::FloorAgent) -> Self {
        let status = match pb::AgentStatus::try_from(a.status) {
            Ok(pb::AgentStatus::Online) => Presence::Online,
            Ok(pb::AgentStatus::Away) => Presence::Away,
            _ => Presence::Offline,
        };
        Self {
            agent_id: a.agent_id,
            display_name: a.display_name,
            status,
            active: a.active,
            capacity: a.capacity,
            last_reply_at_ms: time(a.last_reply_at_ms),
            groups: a.groups,
        }
    }
}

impl From<pb::FloorQueue> for FloorQueue {
    fn from(q: pb::FloorQueue) -> Self {
        Self {
            group: q.group,
            waiting: q.waiting,
            oldest_since_ms: time(q.oldest_since_ms),
            expected_wait_ms: time(q.expected_wait_ms),
            agents_online: q.agents_online,
        }
    }
}

/// A breach from the wire; one naming a target this build does not know is left out
/// rather than shown as the wrong one.
fn breach(b: pb::FloorBreach) -> Option<FloorBreach> {
    let target = match b.target.as_str() {
        "first_response" => SlaTarget::FirstResponse,
        "resolution" => SlaTarget::Resolution,
        other => {
            tracing::warn!(sla_target = other, "a floor breach of an unknown target");
            return None;
        }
    };
    let priority = match pb::Priority::try_from(b.priority) {
        Ok(pb::Priority::Low) => Priority::Low,
        Ok(pb::Priority::High) => Priority::High,
        Ok(pb::Priority::Urgent) => Priority::Urgent,
        _ => Priority::Normal,
    };
    Some(FloorBreach {
        conversation_id: b.conversation_id,
        agent_id: (!b.agent_id.is_empty()).then_some(b.agent_id),
        group: b.group,
        target,
        due_at_ms: b.due_at_ms,
        priority,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_socket_frame_and_the_rest_json_read_into_the_same_floor() {
        let frame = pb::Floor {
            at_ms: 1_000,
            agents: vec![pb::FloorAgent {
                agent_id: "a1".into(),
                display_name: "Ann".into(),
                status: pb::AgentStatus::Away as i32,
                active: 2,
                capacity: 5,
                last_reply_at_ms: 0,
                groups: vec!["pre-sales".into()],
            }],
            queues: vec![pb::FloorQueue {
                group: "pre-sales".into(),
                waiting: 3,
                oldest_since_ms: 400,
                expected_wait_ms: 0,
                agents_online: 1,
            }],
            breaches: vec![pb::FloorBreach {
                conversation_id: "c1".into(),
                group: "pre-sales".into(),
                agent_id: String::new(),
                target: "first_response".into(),
                due_at_ms: 900,
                priority: pb::Priority::Urgent as i32,
            }],
        };
        let json = serde_json::json!({
            "at_ms": 1_000,
            "agents": [{"agent_id": "a1", "display_name": "Ann", "status": "away", "active": 2,
                        "capacity": 5, "last_reply_at_ms": null, "groups": ["pre-sales"]}],
            "queues": [{"group": "pre-sales", "waiting": 3, "oldest_since_ms": 400,
                        "expected_wait_ms": 0, "agents_online": 1}],
            "breaches": [{"conversation_id": "c1", "group": "pre-sales", "agent_id": null,
                          "target": "first_response", "due_at_ms": 900, "priority": "urgent"}],
        });
        let from_rest: Floor = serde_json::from_value(json).expect("the /floor contract reads");
        let from_socket = Floor::from(frame);
        assert_eq!(from_socket, from_rest, "one floor, whichever way it came");
        assert_eq!(
            from_socket.agents[0].last_reply_at_ms, None,
            "never replied: no time, not 1970"
        );
        assert_eq!(from_socket.queues[0].expected_wait_ms, None);
        assert_eq!(from_socket.breaches[0].agent_id, None, "queued: no agent");
    }

    #[test]
    fn a_breach_of_an_unknown_target_is_left_out() {
        let frame = pb::Floor {
            breaches: vec![pb::FloorBreach {
                target: "first_smile".into(),
                ..Default::default()
            }],
            ..Default::default()
        };
        assert!(Floor::from(frame).breaches.is_empty());
    }
}
