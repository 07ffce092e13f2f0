//! Blocking a shopper (abuse, spam): a supervisor's decision, recorded in the audit log,
//! that takes effect at once — the visitor's token is refused from its next request, its
//! open sockets close with `VISITOR_BLOCKED`, and its browser cannot start a new session as
//! that visitor (by its old token or the shop's signed identity). Unblocking lifts it.

use kefu_proto::v1 as pb;
use uuid::Uuid;

use super::Accounts;
use crate::{
    sessions::{AgentInfo, OpError},
    store::{AuditEntry, Role, now_ms},
};

/// What a blocked shopper is told, wherever it knocks.
pub(super) fn blocked() -> OpError {
    OpError::new(
        pb::ErrorCode::Forbidden,
        "this visitor was blocked by the shop's support team",
    )
}

impl Accounts {
    /// Blocks `visitor` (supervisors and admins), closing its live sockets.
    pub async fn block_visitor(
        &self,
        by: &AgentInfo,
        visitor: Uuid,
        reason: &str,
    ) -> Result<(), OpError> {
        self.set_blocked(by, visitor, true, reason).await?;
        self.sessions.visitor_blocked(visitor);
        Ok(())
    }

    /// Lifts a block: the visitor's token works again.
    pub async fn unblock_visitor(
        &self,
        by: &AgentInfo,
        visitor: Uuid,
        reason: &str,
    ) -> Result<(), OpError> {
        self.set_blocked(by, visitor, false, reason).await
    }

    async fn set_blocked(
        &self,
        by: &AgentInfo,
        visitor: Uuid,
        block: bool,
        reason: &str,
    ) -> Result<(), OpError> {
        if by.role < Role::Supervisor {
            return Err(OpError::new(
                pb::ErrorCode::Forbidden,
                "only supervisors and admins may block or unblock shoppers",
            ));
        }
        let at = now_ms();
        self.store
            .set_visitor_blocked(visitor, block.then_some(at))
            .await?;
        let action = if block {
            "block_visitor"
        } else {
            "unblock_visitor"
        };
        let entry = AuditEntry {
            id: Uuid::now_v7(),
            at,
            actor_id: by.id,
            actor_role: by.role,
            action: action.into(),
            conversation_id: None,
            target: visitor.to_string(),
            details: serde_json::json!({ "reason": reason }).to_string(),
            result: "ok".into(),
            error: None,
        };
        // The block stands even if the log write fails; the failure is logged loudly.
        if let Err(e) = self.store.insert_audit(&entry).await {
            tracing::error!(error = %e, ?entry, "writing the audit log failed");
        }
        tracing::info!(%visitor, by = %by.id, action, "visitor block changed");
        Ok(())
    }
}
