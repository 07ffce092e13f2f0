//! Service-level breaches (`sla_breach`): which open conversations still have a target to
//! miss, and the one row per conversation and target that makes a breach fire once.

use async_trait::async_trait;
use uuid::Uuid;

use super::{Priority, StoreResult};

/// A service-level target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Target {
    /// The first public message of a human agent.
    FirstResponse,
    /// Closing the conversation.
    Resolution,
}

impl Target {
    pub const ALL: [Self; 2] = [Self::FirstResponse, Self::Resolution];

    /// The stored (and webhook) name: `first_response`, `resolution`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::FirstResponse => "first_response",
            Self::Resolution => "resolution",
        }
    }
}

impl std::str::FromStr for Target {
    type Err = UnknownTarget;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or_else(|| UnknownTarget(s.to_string()))
    }
}

/// A stored target name this build does not know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown service-level target `{0}`: expected first_response or resolution")]
pub struct UnknownTarget(String);

/// An open conversation with a target still to meet or miss: what its clocks need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenClock {
    pub conversation_id: Uuid,
    pub group: String,
    pub priority: Priority,
    /// When it was opened; both clocks start here.
    pub created_at: i64,
    /// Whether a human agent has answered it in public.
    pub answered: bool,
    /// Whether a breach of each target is recorded already.
    pub first_response_breached: bool,
    pub resolution_breached: bool,
}

/// A recorded breach of a conversation that is still open (the supervisor's floor).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenBreach {
    pub conversation_id: Uuid,
    pub group: String,
    pub agent_id: Option<Uuid>,
    pub priority: Priority,
    pub target: Target,
    pub due_at: i64,
    /// When the breach was recorded.
    pub at: i64,
}

/// Service-level breaches.
#[async_trait]
pub trait ServiceLevels: Send + Sync {
    /// Open conversations opened at or before `opened_by` that could still breach a target:
    /// first response neither given nor breached, or (when `resolution`, i.e. some
    /// resolution target is set) resolution not breached. Reads open conversations only
    /// (the `conversation_state` index).
    async fn open_clocks(&self, opened_by: i64, resolution: bool) -> StoreResult<Vec<OpenClock>>;

    /// Records that `conversation_id` missed `target` (due at `due_at`, noticed at `at`),
    /// unless that is recorded already, the conversation has closed meanwhile, or (for a
    /// first response) an agent has answered meanwhile. True when this call recorded it:
    /// of several nodes or sweeps noticing the same breach, exactly one gets true, and only
    /// it announces the breach.
    async fn record_breach(
        &self,
        conversation_id: Uuid,
        target: Target,
        due_at: i64,
        at: i64,
    ) -> StoreResult<bool>;

    /// Breaches of conversations still open, oldest due first.
    async fn open_breaches(&self) -> StoreResult<Vec<OpenBreach>>;
}

/// The behaviour both backends must show, run by each backend's tests on a fresh store.
#[cfg(test)]
pub(crate) mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::store::{Store, tests::conversation};

    pub async fn suite(store: Arc<dyn Store>) {
        a_breach_is_recorded_once_even_when_noticed_at_once(store.clone()).await;
        clocks_leave_out_what_can_no_longer_breach(store.as_ref()).await;
        closed_or_answered_conversations_record_nothing(store.as_ref()).await;
    }

    async fn a_breach_is_recorded_once_even_when_noticed_at_once(store: Arc<dyn Store>) {
        let conv = conversation(store.as_ref()).await;
        // Several nodes noticing the same breach at the same moment.
        let tries = (0..8).map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                store
                    .record_breach(conv, Target::FirstResponse, 1000, 2000 + i)
                    .await
                    .unwrap()
            })
        });
        let mut recorded = 0;
        for t in tries {
            recorded += t.await.unwrap() as usize;
        }
        assert_eq!(recorded, 1, "exactly one of the racing inserts records it");
        assert!(
            !store
                .record_breach(conv, Target::FirstResponse, 1000, 9000)
                .await
                .unwrap(),
            "a later sweep finds it recorded"
        );
        assert!(
            store
                .record_breach(conv, Target::Resolution, 5000, 9000)
                .await
                .unwrap(),
            "the other target is its own breach"
        );
        let breaches: Vec<_> = store
            .open_breaches()
            .await
            .unwrap()
            .into_iter()
            .filter(|b| b.conversation_id == conv)
            .collect();
        assert_eq!(
            breaches
                .iter()
                .map(|b| (b.target, b.due_at))
                .collect::<Vec<_>>(),
            [(Target::FirstResponse, 1000), (Target::Resolution, 5000)],
            "one row per target, oldest due first"
        );
        assert_eq!(breaches[0].group, "pre-sales");
        assert_eq!(breaches[0].agent_id, None, "still queued");
        assert!(
            (2000..2008).contains(&breaches[0].at),
            "the time the winning insert noticed it"
        );
    }

    async fn clocks_leave_out_what_can_no_longer_breach(store: &dyn Store) {
        let fresh = conversation(store).await;
        let half = conversation(store).await;
        let done = conversation(store).await;
        store
            .record_breach(half, Target::FirstResponse, 10, 20)
            .await
            .unwrap();
        for target in Target::ALL {
            store.record_breach(done, target, 10, 20).await.unwrap();
        }
        let clocks = store.open_clocks(i64::MAX, true).await.unwrap();
        let of = |id: Uuid| clocks.iter().find(|c| c.conversation_id == id).cloned();
        let c = of(fresh).expect("a fresh conversation has both clocks running");
        assert_eq!(
            (c.answered, c.first_response_breached, c.resolution_breached),
            (false, false, false)
        );
        assert_eq!(
            (c.group.as_str(), c.priority),
            ("pre-sales", Priority::Normal)
        );
        let c = of(half).expect("resolution can still be missed");
        assert!(c.first_response_breached && !c.resolution_breached);
        assert_eq!(of(done), None, "both breached: nothing left to miss");
        let first_only = store.open_clocks(i64::MAX, false).await.unwrap();
        assert!(
            first_only.iter().all(|c| c.conversation_id != half),
            "without resolution targets, a first response breached leaves nothing to miss"
        );
        assert!(first_only.iter().any(|c| c.conversation_id == fresh));
        assert!(
            store
                .open_clocks(-1, true)
                .await
                .unwrap()
                .iter()
                .all(|c| c.conversation_id != fresh),
            "conversations opened after `opened_by` are left out (test rows open at 0)"
        );
    }

    async fn closed_or_answered_conversations_record_nothing(store: &dyn Store) {
        let closed = conversation(store).await;
        assert!(store.close_conversation(closed, "agent", 5).await.unwrap());
        assert!(
            !store
                .record_breach(closed, Target::Resolution, 1, 10)
                .await
                .unwrap(),
            "closed before the breach was recorded: met, not breached"
        );
        let clocks = store.open_clocks(i64::MAX, true).await.unwrap();
        assert!(clocks.iter().all(|c| c.conversation_id != closed));
        assert!(
            store
                .open_breaches()
                .await
                .unwrap()
                .iter()
                .all(|b| b.conversation_id != closed)
        );
    }
}
