//! The customer view beside the chat: `GET /conversations/{id}/customer` (profile, orders,
//! returns, earlier conversations, each source with its own state; only a suggested name
//! while the shopper is unverified), customer search, linking a shopper to a customer by
//! hand, and verifying a suggested customer with an order number the shopper quoted. Links
//! and verifications are audited by [`crate::actions::Actions`].

use axum::{
    Router,
    extract::State,
    routing::{get, post},
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{
    AppState,
    auth::AgentAuth,
    error::{ApiError, ApiResult},
    extract::{Json, Path, Query},
};
use crate::{integrations::Customer, sessions::Caller, store::Conversation};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/conversations/{id}/customer", get(view))
        .route("/conversations/{id}/customer/link", post(link))
        .route("/conversations/{id}/customer/verify", post(verify))
        .route("/customers", get(search))
}

/// The customer view of a conversation's shopper.
#[derive(Serialize)]
pub struct ConversationCustomer {
    /// How the shopper was matched (`customer_id`, `email`, `phone`, `none`), whether that
    /// is verified, and the view (only a suggested name while unverified).
    #[serde(flatten)]
    pub shopper: kefu_api::ShopperView,
    /// The shopper's earlier Kefu conversations, newest first.
    pub conversations: Vec<Conversation>,
}

async fn view(
    State(state): State<AppState>,
    auth: AgentAuth,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<ConversationCustomer>> {
    let (visitor, conversations) = state
        .sessions
        .shopper_of(&Caller::Agent(auth.agent), id, 20)
        .await?;
    Ok(Json(ConversationCustomer {
        shopper: state.views.for_visitor(&visitor).await,
        conversations,
    }))
}

#[derive(Deserialize)]
pub struct SearchQuery {
    pub q: String,
}

async fn search(
    State(state): State<AppState>,
    _auth: AgentAuth,
    Query(q): Query<SearchQuery>,
) -> ApiResult<Json<Vec<Customer>>> {
    let text = q.q.trim();
    if text.chars().count() < 2 || text.len() > 100 {
        return Err(ApiError::BadRequest(
            "search text: 2 to 100 characters".into(),
        ));
    }
    let conn = state
        .views
        .connector()
        .ok_or_else(|| ApiError::Conflict("no back office is configured".into()))?;
    let found = conn
        .search_customers(text)
        .await
        .map_err(|e| ApiError::BadGateway(format!("{}: {e}", conn.name())))?;
    Ok(Json(found))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinkRequest {
    pub customer_id: String,
}

/// Links the conversation's shopper to a customer the agent found by hand (audited). Only
/// the assigned agent or a supervisor may; the customer must exist in the back office.
async fn link(
    State(state): State<AppState>,
    auth: AgentAuth,
    Path(id): Path<Uuid>,
    Json(req): Json<LinkRequest>,
) -> ApiResult<Json<ConversationCustomer>> {
    state
        .actions
        .link_customer(&auth.agent, id, &req.customer_id)
        .await?;
    view(State(state), auth, Path(id)).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VerifyRequest {
    /// An order number the shopper quoted in the chat.
    pub order_id: String,
}

/// Verifies an unverified shopper: the order number they quoted must be one of the suggested
/// customer's orders in the back office. Success links the customer (audited) and answers
/// with the full view; a wrong number is refused with `verification_failed` (audited too).
async fn verify(
    State(state): State<AppState>,
    auth: AgentAuth,
    Path(id): Path<Uuid>,
    Json(req): Json<VerifyRequest>,
) -> ApiResult<Json<ConversationCustomer>> {
    state
        .actions
        .verify_customer(&auth.agent, id, &req.order_id)
        .await?;
    view(State(state), auth, Path(id)).await
}
