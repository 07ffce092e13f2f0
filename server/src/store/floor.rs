//! What the supervisors' live floor reads from the store (`sessions::floor`): the accounts
//! and groups on it, the queues, and the recent conversations its reply times and expected
//! waits come from. A supervisor's floor is rebuilt up to four times a second, so each read
//! is a handful of queries on indexed ranges (`conversation_state`), never a scan of every
//! conversation or message. Breaches come from [`ServiceLevels::open_breaches`].
//!
//! [`ServiceLevels::open_breaches`]: super::ServiceLevels::open_breaches

use async_trait::async_trait;
use uuid::Uuid;

use super::StoreResult;

/// An agent account as the floor shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FloorAccount {
    pub id: Uuid,
    pub display_name: String,
    pub capacity: i64,
    /// The groups it answers, by name.
    pub groups: Vec<String>,
}

/// Conversations waiting in one group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueFacts {
    pub group: String,
    pub waiting: i64,
    /// When the longest-waiting one entered the queue (its `queued_at`, or when it opened
    /// for rows older than that column).
    pub oldest_since: i64,
}

/// A conversation with an agent (now or at its close) that changed recently.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecentConversation {
    pub group: String,
    /// Its agent now, or when it closed.
    pub agent_id: Option<Uuid>,
    /// The newest public message of a human agent in it.
    pub last_agent_reply_at: Option<i64>,
    /// When it last entered a queue and when it was last assigned.
    pub queued_at: Option<i64>,
    pub assigned_at: Option<i64>,
    /// How many times it was transferred (a move between agents is an assignment that
    /// ended no wait).
    pub transfers: i64,
}

/// Everything the floor reads from the store at once.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FloorFacts {
    /// Agent accounts that are not disabled.
    pub agents: Vec<FloorAccount>,
    /// Every group's name.
    pub groups: Vec<String>,
    /// Groups with conversations waiting (a group with none is absent).
    pub queues: Vec<QueueFacts>,
    /// Assigned or closed conversations updated since the `since` asked for.
    pub recent: Vec<RecentConversation>,
}

/// The floor's reads.
#[async_trait]
pub trait Floor: Send + Sync {
    /// Accounts, groups, queues, and the assigned or closed conversations updated at or
    /// after `since` (unix ms).
    async fn floor_facts(&self, since: i64) -> StoreResult<FloorFacts>;
}

/// Sorts `(agent, group)` memberships into the accounts they belong to.
pub(crate) fn with_groups(
    mut agents: Vec<FloorAccount>,
    members: Vec<(Uuid, String)>,
) -> Vec<FloorAccount> {
    for (agent, group) in members {
        if let Some(a) = agents.iter_mut().find(|a| a.id == agent) {
            a.groups.push(group);
        }
    }
    for a in &mut agents {
        a.groups.sort();
    }
    agents
}

/// The behaviour both backends must show, run by each backend's tests on a fresh store.
#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::store::{
        AgentPatch, Body, Group, NewAgent, NewMessage, Role, SenderRole, Store, tests::conversation,
    };

    async fn agent(store: &dyn Store, name: &str, groups: &[&str]) -> Uuid {
        let a = store
            .create_agent(&NewAgent {
                username: format!("floor-{name}"),
                display_name: name.into(),
                password_hash: "x".into(),
                role: Role::Agent,
                capacity: 3,
                groups: groups.iter().map(|g| g.to_string()).collect(),
            })
            .await
            .unwrap();
        a.id
    }

    pub async fn suite(store: &dyn Store) {
        for name in ["floor-desk", "floor-empty"] {
            let group = Group {
                name: name.into(),
                display_name: name.into(),
                members: vec![],
            };
            store.create_group(&group).await.unwrap();
        }
        let ana = agent(store, "Ana", &["floor-desk"]).await;
        let gone = agent(store, "Gone", &[]).await;
        let disable = AgentPatch {
            disabled: Some(true),
            ..Default::default()
        };
        store.update_agent(gone, &disable).await.unwrap();
        let waiting = conversation(store).await;
        let taken = conversation(store).await;
        assert!(store.assign_if_unassigned(taken, ana, 500).await.unwrap());
        let reply = NewMessage {
            conversation_id: taken,
            client_msg_id: "floor-reply".into(),
            sender_role: SenderRole::Agent,
            sender_id: ana,
            sender_name: "Ana".into(),
            body: Body::Text { text: "hi".into() },
            created_at: 700,
        };
        store.append_messages(&[reply]).await.unwrap();

        let facts = store.floor_facts(0).await.unwrap();
        let a = facts
            .agents
            .iter()
            .find(|a| a.id == ana)
            .expect("an enabled agent is on the floor");
        assert_eq!(
            (a.display_name.as_str(), a.capacity, a.groups.as_slice()),
            ("Ana", 3, &["floor-desk".to_string()][..])
        );
        assert!(
            facts.agents.iter().all(|a| a.id != gone),
            "a disabled account is left out"
        );
        assert!(facts.groups.iter().any(|g| g == "floor-empty"));
        let q = facts
            .queues
            .iter()
            .find(|q| q.group == "pre-sales")
            .expect("a queue with a waiting conversation");
        assert!(q.waiting >= 1, "{q:?}");
        assert!(
            facts.queues.iter().all(|q| q.group != "floor-empty"),
            "a group nobody waits in has no queue row"
        );
        let r = facts
            .recent
            .iter()
            .find(|r| r.agent_id == Some(ana))
            .expect("the assigned conversation is recent");
        assert_eq!(r.assigned_at, Some(500));
        assert!(
            r.last_agent_reply_at.is_some(),
            "the agent's public reply is noted on the row: {r:?}"
        );
        assert!(
            facts.recent.iter().all(|r| r.agent_id.is_some()),
            "waiting conversations ({waiting}) are not among the assigned or closed ones"
        );
        let later = store.floor_facts(i64::MAX).await.unwrap();
        assert!(later.recent.is_empty(), "nothing was updated after `since`");
    }
}
