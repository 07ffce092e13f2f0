//! Who the shopper is, decided by an agent: link a customer found by hand, or verify the
//! customer an unverified shopper's e-mail or phone suggests with an order number the
//! shopper quoted (it must be one of that customer's orders, asked fresh from the back
//! office). Every attempt is in the audit log — who, which conversation, the evidence, the
//! outcome — and a success pushes the full customer view to the agents of the conversation.

use std::sync::Arc;

use kefu_proto::v1 as pb;
use uuid::Uuid;

use super::{ActionError, Actions};
use crate::{
    integrations::{Connector, Customer, CustomerKey, identity::Claim, prefetch},
    sessions::{AgentInfo, Caller, OpError},
    store::Conversation,
};

/// Longest order number accepted as evidence.
const MAX_ORDER_ID: usize = 100;

impl Actions {
    /// Links the conversation's shopper to a customer the agent found (e.g. by search).
    pub async fn link_customer(
        &self,
        agent: &AgentInfo,
        conv: Uuid,
        customer_id: &str,
    ) -> Result<(), ActionError> {
        let details = serde_json::json!({ "customer_id": customer_id, "how": "manual" });
        let result: Result<Conversation, ActionError> = async {
            let (c, connector) = self.identity_target(agent, conv).await?;
            let key = CustomerKey::Id(customer_id.to_string());
            let customer = connector
                .find_customer(&key)
                .await
                .map_err(ActionError::BackOffice)?
                .data
                .ok_or_else(|| {
                    ActionError::NotFound(format!(
                        "customer `{customer_id}` not found in the back office"
                    ))
                })?;
            self.link(c, &customer).await
        }
        .await;
        self.settle(agent, conv, "link_customer", customer_id, details, result)
            .await
    }

    /// Verifies the customer the shopper's typed e-mail or phone suggests: `order_id`, quoted
    /// by the shopper, must be one of that customer's orders. A wrong number leaves the
    /// shopper unverified (`VerificationFailed`).
    pub async fn verify_customer(
        &self,
        agent: &AgentInfo,
        conv: Uuid,
        order_id: &str,
    ) -> Result<(), ActionError> {
        let order_id = order_id.trim();
        // Filled in as far as the check gets, for the audit entry.
        let mut suggested = String::new();
        let mut matched_by = "none";
        let result: Result<Conversation, ActionError> = async {
            if order_id.is_empty() || order_id.chars().count() > MAX_ORDER_ID {
                return Err(ActionError::Invalid(format!(
                    "give the order number the shopper quoted (1 to {MAX_ORDER_ID} characters)"
                )));
            }
            let (c, connector) = self.identity_target(agent, conv).await?;
            let visitor = self
                .store
                .visitor(c.visitor_id)
                .await
                .map_err(OpError::from)?;
            let claim = Claim::of(&visitor);
            matched_by = claim.matched_by().as_str();
            let key = match claim {
                Claim::Unverified { key, .. } => key,
                Claim::Verified(id) => {
                    return Err(conflict(format!(
                        "the shopper is verified already (customer `{id}`)"
                    )));
                }
                Claim::Anonymous => {
                    return Err(conflict(
                        "the shopper gave no e-mail or phone to verify: search the customer \
                         and link them instead",
                    ));
                }
            };
            let customer = connector
                .find_customer(&key)
                .await
                .map_err(ActionError::BackOffice)?
                .data
                .ok_or_else(|| {
                    ActionError::NotFound(
                        "no customer of the back office matches what the shopper typed".into(),
                    )
                })?;
            suggested = customer.id.clone();
            let orders = connector
                .orders(&customer.id)
                .await
                .map_err(ActionError::BackOffice)?;
            if !orders
                .data
                .iter()
                .any(|o| o.id.eq_ignore_ascii_case(order_id))
            {
                return Err(ActionError::VerificationFailed(format!(
                    "order `{order_id}` is not one of the suggested customer's orders; the \
                     shopper stays unverified"
                )));
            }
            self.link(c, &customer).await
        }
        .await;
        let details = serde_json::json!({ "order_id": order_id, "matched_by": matched_by });
        self.settle(agent, conv, "verify_customer", &suggested, details, result)
            .await
    }

    /// Links the conversation's shopper to `customer`: from now on they are verified.
    async fn link(
        &self,
        c: Conversation,
        customer: &Customer,
    ) -> Result<Conversation, ActionError> {
        self.store
            .link_customer(c.visitor_id, &customer.id, &customer.name)
            .await
            .map_err(OpError::from)?;
        Ok(c)
    }

    /// Audits an attempt and, when it linked a customer, pushes the full view.
    async fn settle(
        &self,
        agent: &AgentInfo,
        conv: Uuid,
        action: &str,
        target: &str,
        details: serde_json::Value,
        result: Result<Conversation, ActionError>,
    ) -> Result<(), ActionError> {
        self.audit(agent, conv, action, target, details.to_string(), &result)
            .await;
        self.push_view(agent, result?).await;
        Ok(())
    }

    /// The conversation the agent may change, and the back office to ask.
    async fn identity_target(
        &self,
        agent: &AgentInfo,
        conv: Uuid,
    ) -> Result<(Conversation, Arc<dyn Connector>), ActionError> {
        let c = self
            .sessions
            .authorize(&Caller::Agent(agent.clone()), conv, true)
            .await?;
        let connector = self
            .views
            .connector()
            .cloned()
            .ok_or_else(|| conflict("no back office is configured"))?;
        Ok((c, connector))
    }

    /// Sends the now verified view to the acting agent and the assigned one.
    async fn push_view(&self, agent: &AgentInfo, c: Conversation) {
        let sessions = Arc::downgrade(&self.sessions);
        let mut agents = vec![agent.id];
        agents.extend(c.agent_id.filter(|a| *a != agent.id));
        for a in agents {
            if let Err(e) = prefetch::push(c.id, a, &self.views, &*self.store, &sessions).await {
                tracing::warn!(conv = %c.id, error = %e, "pushing the verified customer view");
            }
        }
    }
}

fn conflict(message: impl Into<String>) -> ActionError {
    ActionError::Session(OpError::new(pb::ErrorCode::Conflict, message))
}
