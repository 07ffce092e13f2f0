//! The customer view beside the chat: `GET /conversations/{id}/customer` (profile, orders,
//! returns, earlier conversations, each source with its own state), customer search, and
//! linking a shopper to a customer by hand.

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
use crate::{
    integrations::{Customer, CustomerKey, view::CustomerView},
    sessions::Caller,
    store::Conversation,
};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/conversations/{id}/customer", get(view))
        .route("/conversations/{id}/customer/link", post(link))
        .route("/customers", get(search))
}

/// The customer view of a conversation's shopper.
#[derive(Serialize)]
pub struct ConversationCustomer {
    /// How the shopper was matched: `customer_id` (signed identity or manual link),
    /// `email`, or `none`.
    pub matched_by: &'static str,
    #[serde(flatten)]
    pub view: CustomerView,
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
    let (view, matched_by) = match CustomerKey::for_visitor(&visitor) {
        Some((key, how)) => (state.views.view(key).await, how),
        None => (state.views.unidentified(), "none"),
    };
    Ok(Json(ConversationCustomer {
        matched_by,
        view,
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

/// Links the conversation's shopper to a customer the agent found by hand. Only the
/// assigned agent or a supervisor may; the customer must exist in the back office.
async fn link(
    State(state): State<AppState>,
    auth: AgentAuth,
    Path(id): Path<Uuid>,
    Json(req): Json<LinkRequest>,
) -> ApiResult<Json<ConversationCustomer>> {
    let conv = state
        .sessions
        .authorize(&Caller::Agent(auth.agent.clone()), id, true)
        .await?;
    let conn = state
        .views
        .connector()
        .ok_or_else(|| ApiError::Conflict("no back office is configured".into()))?;
    let customer = conn
        .find_customer(&CustomerKey::Id(req.customer_id.clone()))
        .await
        .map_err(|e| ApiError::BadGateway(format!("{}: {e}", conn.name())))?
        .ok_or_else(|| {
            ApiError::NotFound(format!(
                "customer `{}` not found in the back office",
                req.customer_id
            ))
        })?;
    state
        .accounts
        .link_customer(conv.visitor_id, &customer.id, &customer.name)
        .await?;
    tracing::info!(agent = %auth.agent.id, conversation = %id, customer = %customer.id, "linked shopper to customer");
    view(State(state), auth, Path(id)).await
}
