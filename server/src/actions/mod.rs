//! Actions agents take in the retailer's systems from the chat: create a return, cancel an
//! unfulfilled order, send an order (tracking) card; and who the shopper is: link a customer
//! by hand, or verify a suggested one with an order number the shopper quoted.
//!
//! Order actions need a verified shopper ([`Claim::Verified`]): an e-mail or phone the
//! shopper typed proves nothing, so acting on it is refused (`customer_unverified`).
//!
//! Every action is checked before the back office is touched (the agent may act in the
//! conversation, the order is this shopper's, the amount is within the agent's limit), is
//! recorded in the audit log whatever its outcome, and on success leaves an activity entry
//! in the conversation and a card the shopper sees. A refused or failed action changes
//! nothing.

mod identity;

use std::sync::Arc;

use serde::Serialize;
use uuid::Uuid;

use crate::{
    config::Settings,
    integrations::{
        Connector, NewReturn, Order, Return, SourceError, identity::Claim, view::Views,
    },
    sessions::{AgentInfo, Caller, OpError, Sessions},
    store::{AuditEntry, Body, ConvState, Role, Store, now_ms},
};

/// Why an action did not happen.
#[derive(Debug, thiserror::Error)]
pub enum ActionError {
    /// Kefu's own checks refused it (role, amount limit, state); nothing was sent.
    #[error("{0}")]
    Refused(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Invalid(String),
    /// The shopper's identity is not verified (only typed, not signed or confirmed).
    #[error("{0}")]
    Unverified(String),
    /// The evidence given to verify the shopper does not match the suggested customer.
    #[error("{0}")]
    VerificationFailed(String),
    /// The back office refused or failed; it says why.
    #[error("the back office {0}")]
    BackOffice(SourceError),
    #[error("{}", .0.message)]
    Session(OpError),
}

impl From<OpError> for ActionError {
    fn from(e: OpError) -> Self {
        ActionError::Session(e)
    }
}

/// What the action services need.
pub struct Actions {
    pub sessions: Arc<Sessions>,
    /// Where the audit log is kept.
    pub store: Arc<dyn Store>,
    pub views: Arc<Views>,
    pub settings: Arc<Settings>,
}

/// The outcome of a successful action: the return created, or the order acted on.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum Done {
    Return(Box<Return>),
    Order(Box<Order>),
}

/// Everything an action on one order starts from.
struct Target {
    connector: Arc<dyn Connector>,
    customer_id: String,
    order: Order,
}

impl Actions {
    /// Creates a return for items of one of the shopper's orders.
    pub async fn create_return(
        &self,
        agent: &AgentInfo,
        conv: Uuid,
        req: NewReturn,
    ) -> Result<Done, ActionError> {
        let details = serde_json::to_string(&req).unwrap_or_default();
        let result = self.create_return_inner(agent, conv, &req).await;
        self.audit(
            agent,
            conv,
            "create_return",
            &req.order_id,
            details,
            &result,
        )
        .await;
        result
    }

    async fn create_return_inner(
        &self,
        agent: &AgentInfo,
        conv: Uuid,
        req: &NewReturn,
    ) -> Result<Done, ActionError> {
        if req.items.is_empty() || req.items.iter().any(|i| i.quantity == 0) {
            return Err(ActionError::Invalid(
                "choose at least one item, each with a quantity of 1 or more".into(),
            ));
        }
        if req.reason.trim().is_empty() {
            return Err(ActionError::Invalid("give a reason for the return".into()));
        }
        let t = self.target(agent, conv, &req.order_id).await?;
        let (amount, currency) = refund_estimate(&t.order, req)?;
        self.check_limit(agent, amount)?;
        let ret = t
            .connector
            .create_return(req)
            .await
            .map_err(ActionError::BackOffice)?;
        self.views.invalidate(&t.customer_id);
        let refund_minor = ret
            .refund
            .as_ref()
            .and_then(|r| r.amount.as_ref())
            .and_then(|m| m.minor_units())
            .unwrap_or(amount);
        let card = Body::ReturnCard {
            return_id: ret.id.clone(),
            order_id: ret.order_id.clone(),
            status: ret.status.clone(),
            item_count: item_count(ret.items.iter().map(|i| i.quantity)),
            refund_minor,
            currency,
        };
        let text = format!(
            "{} created return {} for order {}",
            agent.name, ret.id, ret.order_id
        );
        self.post(agent, conv, "return_created", text, card).await;
        Ok(Done::Return(Box::new(ret)))
    }

    /// Cancels one of the shopper's orders that has not been fulfilled.
    pub async fn cancel_order(
        &self,
        agent: &AgentInfo,
        conv: Uuid,
        order_id: &str,
        reason: &str,
    ) -> Result<Done, ActionError> {
        let details = serde_json::json!({ "order_id": order_id, "reason": reason }).to_string();
        let result = self.cancel_order_inner(agent, conv, order_id, reason).await;
        self.audit(agent, conv, "cancel_order", order_id, details, &result)
            .await;
        result
    }

    async fn cancel_order_inner(
        &self,
        agent: &AgentInfo,
        conv: Uuid,
        order_id: &str,
        reason: &str,
    ) -> Result<Done, ActionError> {
        let t = self.target(agent, conv, order_id).await?;
        let fulfilled = !matches!(
            t.order.fulfillment_status.as_deref(),
            None | Some("unfulfilled")
        );
        if fulfilled
            || matches!(
                t.order.status.as_str(),
                "shipped" | "delivered" | "cancelled" | "refunded"
            )
        {
            return Err(ActionError::Refused(format!(
                "order {} is {}; only unfulfilled orders can be cancelled",
                t.order.id, t.order.status
            )));
        }
        let total = t
            .order
            .total
            .as_ref()
            .and_then(|m| m.minor_units())
            .unwrap_or(0);
        self.check_limit(agent, total)?;
        let order = t
            .connector
            .cancel_order(order_id, reason)
            .await
            .map_err(ActionError::BackOffice)?;
        self.views.invalidate(&t.customer_id);
        let text = format!("{} cancelled order {}", agent.name, order.id);
        self.post(agent, conv, "order_cancelled", text, order_card(&order))
            .await;
        Ok(Done::Order(Box::new(order)))
    }

    /// Sends the shopper a card of one of their orders, with tracking when shipped.
    pub async fn send_order_card(
        &self,
        agent: &AgentInfo,
        conv: Uuid,
        order_id: &str,
    ) -> Result<Done, ActionError> {
        let details = serde_json::json!({ "order_id": order_id }).to_string();
        let result = async {
            let t = self.target(agent, conv, order_id).await?;
            let text = format!("{} sent the card of order {}", agent.name, t.order.id);
            self.post(agent, conv, "order_card_sent", text, order_card(&t.order))
                .await;
            Ok(Done::Order(Box::new(t.order)))
        }
        .await;
        self.audit(agent, conv, "send_order_card", order_id, details, &result)
            .await;
        result
    }

    fn check_limit(&self, agent: &AgentInfo, amount_minor: i64) -> Result<(), ActionError> {
        let limit = self.settings.integrations.actions.agent_limit_minor;
        if amount_minor > limit && agent.role < Role::Supervisor {
            return Err(ActionError::Refused(format!(
                "the amount ({}) is above the agent limit ({}); a supervisor must do this",
                amount_minor as f64 / 100.0,
                limit as f64 / 100.0
            )));
        }
        Ok(())
    }

    /// Checks the agent may act in the conversation and finds the order among the
    /// shopper's own (fresh from the back office, not from cache).
    async fn target(
        &self,
        agent: &AgentInfo,
        conv: Uuid,
        order_id: &str,
    ) -> Result<Target, ActionError> {
        let c = self
            .sessions
            .authorize(&Caller::Agent(agent.clone()), conv, true)
            .await?;
        if c.state == ConvState::Closed {
            return Err(ActionError::Refused("the conversation is closed".into()));
        }
        let connector = self
            .views
            .connector()
            .cloned()
            .ok_or_else(|| ActionError::Refused("no back office is configured".into()))?;
        let visitor = self
            .store
            .visitor(c.visitor_id)
            .await
            .map_err(OpError::from)?;
        let customer_id = match Claim::of(&visitor) {
            Claim::Verified(id) => id,
            Claim::Unverified { matched_by, .. } => {
                return Err(ActionError::Unverified(format!(
                    "the shopper's {} is unverified: verify them (an order number they quote) \
                     or link the customer first",
                    matched_by.as_str()
                )));
            }
            Claim::Anonymous => {
                return Err(ActionError::Refused(
                    "identify the shopper first (link a customer)".into(),
                ));
            }
        };
        let orders = connector
            .orders(&customer_id)
            .await
            .map_err(ActionError::BackOffice)?;
        let order = orders
            .data
            .into_iter()
            .find(|o| o.id == order_id)
            .ok_or_else(|| {
                ActionError::NotFound(format!(
                    "order {order_id} is not one of this customer's orders"
                ))
            })?;
        Ok(Target {
            connector,
            customer_id,
            order,
        })
    }

    /// Writes the activity entry and the card the shopper sees.
    async fn post(&self, agent: &AgentInfo, conv: Uuid, kind: &str, text: String, card: Body) {
        if let Err(e) = self.sessions.system_message(conv, kind, text).await {
            tracing::error!(%conv, error = %e, "writing the action's activity");
        }
        if let Err(e) = self.sessions.post_card(agent, conv, card).await {
            tracing::error!(%conv, error = %e, "writing the action's card");
        }
    }

    /// The audit log, newest first, optionally for one conversation.
    pub async fn audit_log(
        &self,
        conversation_id: Option<Uuid>,
        limit: i64,
    ) -> Result<Vec<AuditEntry>, OpError> {
        Ok(self.store.list_audit(conversation_id, limit).await?)
    }

    async fn audit<T>(
        &self,
        agent: &AgentInfo,
        conv: Uuid,
        action: &str,
        target: &str,
        details: String,
        result: &Result<T, ActionError>,
    ) {
        let (outcome, error) = match result {
            Ok(_) => ("ok", None),
            Err(ActionError::BackOffice(e)) => ("failed", Some(format!("back office: {e}"))),
            Err(e) => ("refused", Some(e.to_string())),
        };
        let entry = AuditEntry {
            id: Uuid::now_v7(),
            at: now_ms(),
            actor_id: agent.id,
            actor_role: agent.role,
            action: action.into(),
            conversation_id: Some(conv),
            target: target.into(),
            details,
            result: outcome.into(),
            error,
        };
        if let Err(e) = self.store.insert_audit(&entry).await {
            tracing::error!(error = %e, ?entry, "writing the audit log failed");
        }
        metrics::counter!("kefu_actions_total", "action" => action.to_string(), "result" => outcome).increment(1);
    }
}

/// What a return of `req`'s items from `order` refunds at most, in minor units, and in
/// which currency: checked against the agent's refund limit before the back office is
/// asked. Prices come from the back office, so the sum saturates (an absurd total is over
/// any limit, never wrapped below it) and a negative price counts as zero.
fn refund_estimate(order: &Order, req: &NewReturn) -> Result<(i64, String), ActionError> {
    let mut amount = 0i64;
    let mut currency = order.currency.clone().unwrap_or_default();
    for item in &req.items {
        let line = order
            .items
            .iter()
            .find(|l| l.sku == item.sku)
            .ok_or_else(|| {
                ActionError::Invalid(format!("order {} has no item {}", order.id, item.sku))
            })?;
        if item.quantity > line.quantity {
            return Err(ActionError::Invalid(format!(
                "only {} × {} were ordered",
                line.quantity, item.sku
            )));
        }
        if let Some(price) = &line.unit_price {
            let unit = price.minor_units().unwrap_or(0).max(0);
            amount = amount.saturating_add(unit.saturating_mul(i64::from(item.quantity)));
            currency = price.currency.clone();
        }
    }
    Ok((amount, currency))
}

/// How many items a card shows: quantities come from the back office, so their sum
/// saturates rather than overflowing (found by `fuzz/fuzz_targets/backoffice.rs`).
fn item_count(quantities: impl Iterator<Item = u32>) -> u32 {
    quantities.fold(0, u32::saturating_add)
}

/// The card an agent sends for a back-office order (also what `cancel_order` posts).
pub fn order_card(o: &Order) -> Body {
    let total = o.total.clone().unwrap_or_default();
    Body::OrderCard {
        order_id: o.id.clone(),
        status: o.status.clone(),
        total_minor: total.minor_units().unwrap_or(0),
        currency: if total.currency.is_empty() {
            o.currency.clone().unwrap_or_default()
        } else {
            total.currency
        },
        placed_at_ms: 0,
        item_count: item_count(o.items.iter().map(|i| i.quantity)),
        tracking_url: o
            .shipments
            .iter()
            .find_map(|s| s.tracking_url.clone())
            .unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by the back-office fuzzer: an order whose quantities add up past `u32::MAX`
    /// overflowed building its card (a panic with overflow checks, a wrong count without).
    #[test]
    fn an_order_card_counts_huge_quantities_without_overflow() {
        let order: Order = serde_json::from_str(
            r##"{"id":"#1001","status":"paid","items":[
                {"sku":"K-1","name":"Kettle","quantity":4294967295},
                {"sku":"K-2","name":"Lid","quantity":1}]}"##,
        )
        .unwrap();
        let Body::OrderCard { item_count, .. } = order_card(&order) else {
            panic!("an order card");
        };
        assert_eq!(item_count, u32::MAX, "the count saturates");
    }

    /// A back office pricing an item near `i64::MAX` minor units made the refund sum
    /// overflow: a panic in debug builds, and in release a wrapped, negative total that
    /// passed every agent's refund limit.
    #[test]
    fn a_refund_of_absurd_prices_saturates_above_every_limit() {
        let order: Order = serde_json::from_str(
            r##"{"id":"#1001","status":"paid","currency":"EUR","items":[
                {"sku":"K-1","name":"Kettle","quantity":4294967295,
                 "unit_price":{"amount":"92233720368547758.07","currency":"EUR"}},
                {"sku":"K-2","name":"Lid","quantity":2,
                 "unit_price":{"amount":"-5.00","currency":"EUR"}}]}"##,
        )
        .unwrap();
        let item = |sku: &str, quantity| crate::integrations::NewReturnItem {
            sku: sku.into(),
            quantity,
        };
        let req = NewReturn {
            order_id: "#1001".into(),
            items: vec![item("K-1", 3), item("K-1", 4_000_000_000), item("K-2", 2)],
            reason: "damaged".into(),
        };
        let (amount, currency) = refund_estimate(&order, &req).unwrap();
        assert_eq!(amount, i64::MAX, "the sum saturates instead of wrapping");
        assert_eq!(currency, "EUR");

        let lid_only = NewReturn {
            items: vec![item("K-2", 2)],
            ..req
        };
        let (amount, _) = refund_estimate(&order, &lid_only).unwrap();
        assert_eq!(
            amount, 0,
            "a negative price refunds nothing, not less than nothing"
        );
    }
}
