//! The routing rule, as a pure function: who gets offered a waiting conversation.

use uuid::Uuid;

/// An agent as the routing rule sees it.
#[derive(Debug, Clone)]
pub struct Candidate {
    pub id: Uuid,
    /// Conversations held plus offers pending.
    pub load: u32,
    pub capacity: u32,
    /// Online, connected, in the conversation's group.
    pub in_group: bool,
    pub available: bool,
}

/// Picks the agent to offer a conversation to:
/// 1. the shopper's previous agent, if available and under capacity (sticky);
/// 2. else the least-loaded available agent of the group under capacity;
///    ties go to the lowest id so the choice is deterministic.
///
/// Agents in `excluded` (declined or let the offer lapse) are skipped.
pub fn pick_agent(
    candidates: &[Candidate],
    preferred: Option<Uuid>,
    excluded: &[Uuid],
) -> Option<Uuid> {
    let eligible = |c: &&Candidate| c.available && c.load < c.capacity && !excluded.contains(&c.id);
    if let Some(p) = preferred
        && let Some(c) = candidates.iter().filter(eligible).find(|c| c.id == p)
    {
        return Some(c.id);
    }
    candidates
        .iter()
        .filter(eligible)
        .filter(|c| c.in_group)
        .min_by_key(|c| (c.load, c.id))
        .map(|c| c.id)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cand(n: u128, load: u32, capacity: u32, in_group: bool) -> Candidate {
        Candidate {
            id: Uuid::from_u128(n),
            load,
            capacity,
            in_group,
            available: true,
        }
    }

    #[test]
    fn sticky_agent_wins_when_under_capacity_even_outside_the_group() {
        let c = [cand(1, 0, 5, true), cand(2, 3, 5, false)];
        assert_eq!(
            pick_agent(&c, Some(Uuid::from_u128(2)), &[]),
            Some(Uuid::from_u128(2))
        );
    }

    #[test]
    fn sticky_agent_at_capacity_falls_back_to_least_loaded() {
        let c = [
            cand(1, 2, 5, true),
            cand(2, 5, 5, true),
            cand(3, 1, 5, true),
        ];
        assert_eq!(
            pick_agent(&c, Some(Uuid::from_u128(2)), &[]),
            Some(Uuid::from_u128(3))
        );
    }

    #[test]
    fn nobody_under_capacity_means_the_conversation_waits() {
        let c = [cand(1, 2, 2, true), cand(2, 1, 1, true)];
        assert_eq!(pick_agent(&c, None, &[]), None);
    }

    #[test]
    fn excluded_and_unavailable_agents_are_skipped() {
        let mut away = cand(3, 0, 5, true);
        away.available = false;
        let c = [cand(1, 0, 5, true), cand(2, 1, 5, true), away];
        assert_eq!(
            pick_agent(&c, None, &[Uuid::from_u128(1)]),
            Some(Uuid::from_u128(2))
        );
    }

    #[test]
    fn agents_outside_the_group_are_only_picked_when_sticky() {
        let c = [cand(1, 0, 5, false)];
        assert_eq!(pick_agent(&c, None, &[]), None);
    }
}
