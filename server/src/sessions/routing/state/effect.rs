//! What goes between the routing state and its shell besides plain arguments: the effects
//! it asks for, the store requests it waits on and their outcomes, and transfer targets.

use kefu_proto::v1::AgentStatus as Status;
use uuid::Uuid;

use crate::sessions::routing::RouteError;

/// Something the shell must do, in the order given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Tell the agent's connections and watching supervisors the agent's presence.
    Presence { agent: Uuid, status: Status },
    /// A conversation is offered to an agent: announce it (the customer-view prefetch
    /// hears it) and, unless `expires_in_ms` is `None` (auto-accept, a [`StoreOp::Assign`]
    /// follows), show the agent the offer.
    Offer {
        conv: Uuid,
        agent: Uuid,
        expires_in_ms: Option<i64>,
    },
    /// Show a pending offer again to an agent's connections (one just reconnected).
    OfferAgain {
        conv: Uuid,
        agent: Uuid,
        expires_in_ms: i64,
    },
    /// Tell an agent its offer is gone (lapsed, declined, taken, moved or closed).
    Withdrawn { conv: Uuid, agent: Uuid },
    /// Tell these agents and watching supervisors that `conv` waits in `group`.
    Queued {
        conv: Uuid,
        group: String,
        position: u32,
        agents: Vec<Uuid>,
    },
    /// Tell the shopper its (changed) place in the queue.
    Position {
        conv: Uuid,
        visitor: Uuid,
        group: String,
        position: u32,
    },
    /// Ask the store; answer with [`RoutingState::stored`] before the next input.
    Store(StoreOp),
    /// Record in the store that a waiting conversation moved to `group` (a failure is
    /// only logged: routing goes on with the new group).
    MoveInStore { conv: Uuid, group: String },
    /// The store gave `conv` to `agent`: tell the shopper, these agents and watching
    /// supervisors; record the wait; write "… joined" and emit the lifecycle event.
    Assigned {
        conv: Uuid,
        agent: Uuid,
        agent_name: String,
        visitor: Uuid,
        agents: Vec<Uuid>,
        waited_ms: i64,
    },
    /// The store moved `conv` away from `from`: tell both agents (with the note), the
    /// shopper (without), write the note and "Transferred to …", emit the lifecycle event.
    Transferred {
        conv: Uuid,
        visitor: Uuid,
        from: Uuid,
        to: TransferTo,
        note: String,
        by: Uuid,
        by_name: String,
    },
    /// `conv` went back to its queue because its agent left: tell the shopper in the
    /// conversation ("Your agent was disconnected…").
    AgentLeft { conv: Uuid },
    /// The reply to the command being handled (accept, transfer).
    Answer(Result<(), RouteError>),
}

/// Where a transfer went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransferTo {
    Agent { id: Uuid, name: String },
    Group(String),
}

/// A guarded store write the state waits on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreOp {
    /// `assign_if_unassigned(conv, agent)`.
    Assign { conv: Uuid, agent: Uuid },
    /// `reassign(conv, from, to)`.
    Reassign { conv: Uuid, from: Uuid, to: Uuid },
    /// `requeue(conv, group)`.
    Requeue { conv: Uuid, group: String },
}

impl StoreOp {
    /// The conversation the request is about.
    pub fn conv(&self) -> Uuid {
        match self {
            Self::Assign { conv, .. }
            | Self::Reassign { conv, .. }
            | Self::Requeue { conv, .. } => *conv,
        }
    }
}

/// What the store said to a [`StoreOp`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Done (`true`, or `()` for a requeue).
    Done,
    /// The guard refused (`false`): someone else changed the conversation.
    Refused,
    /// The store failed; the caller is answered with this error.
    Failed(RouteError),
}

/// Where a transfer should go, as the shell found it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Agent(Uuid),
    /// A group, and whether the store knows it.
    Group {
        name: String,
        exists: bool,
    },
    /// Neither or both were given.
    Unclear,
}
