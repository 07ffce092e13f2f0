//! The customer view beside the chat: `GET /conversations/{id}/customer` (profile, orders,
//! returns, earlier conversations, each source with its own state), customer search, and
//! linking a shopper to a customer by hand.

use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use super::{
    AppState,
    auth::AgentAuth,
    error::{ApiError, ApiResult, ErrorBody},
    extract::{Json, Path, Query},
    openapi::{AgentErrors, JsonErrors, ParamErrors},
};
use crate::{
    integrations::{Customer, CustomerKey, view::CustomerView},
    sessions::Caller,
    store::Conversation,
};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(view))
        .routes(routes!(link))
        .routes(routes!(search))
}

/// The customer view of a conversation's shopper.
#[derive(Serialize, ToSchema)]
pub struct ConversationCustomer {
    /// How the shopper was matched: `customer_id` (signed identity or manual link),
    /// `email`, `phone`, or `none`.
    pub matched_by: &'static str,
    #[serde(flatten)]
    pub view: CustomerView,
    /// The shopper's earlier Kefu conversations, newest first.
    pub conversations: Vec<Conversation>,
}

/// The customer view of the conversation's shopper: profile, orders, returns (each source
/// with its state) and earlier conversations.
#[utoipa::path(get, path = "/conversations/{id}/customer", tag = "customers",
    params(("id" = Uuid, Path, description = "The conversation's id")),
    responses(
        (status = 200, description = "The customer view", body = ConversationCustomer),
        AgentErrors, ParamErrors,
        (status = 404, description = "No such conversation, or not the agent's", body = ErrorBody),
    ),
    security(("bearer" = [])))]
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

/// How long customer search text may be, in characters.
const SEARCH_CHARS: std::ops::RangeInclusive<usize> = 2..=100;

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SearchQuery {
    /// Name, e-mail, phone or customer id: 2 to 100 characters, not all spaces.
    #[param(pattern = r"\S", min_length = 2, max_length = 100)]
    pub q: String,
}

/// Searches the back office's customers.
#[utoipa::path(get, path = "/customers", tag = "customers",
    params(SearchQuery),
    responses(
        (status = 200, description = "Matching customers", body = Vec<Customer>),
        AgentErrors, ParamErrors,
        (status = 409, description = "No back office is configured", body = ErrorBody),
        (status = 502, description = "The back office failed", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn search(
    State(state): State<AppState>,
    _auth: AgentAuth,
    Query(q): Query<SearchQuery>,
) -> ApiResult<Json<Vec<Customer>>> {
    let text = q.q.trim();
    if !SEARCH_CHARS.contains(&q.q.chars().count()) || text.is_empty() {
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

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LinkRequest {
    pub customer_id: String,
}

/// Links the conversation's shopper to a customer the agent found by hand. Only the
/// assigned agent or a supervisor may; the customer must exist in the back office.
#[utoipa::path(post, path = "/conversations/{id}/customer/link", tag = "customers",
    params(("id" = Uuid, Path, description = "The conversation's id")),
    request_body = LinkRequest,
    responses(
        (status = 200, description = "The customer view after linking", body = ConversationCustomer),
        AgentErrors, JsonErrors,
        (status = 404, description = "No such conversation, or no such customer in the back office", body = ErrorBody),
        (status = 409, description = "No back office is configured", body = ErrorBody),
        (status = 502, description = "The back office failed", body = ErrorBody),
    ),
    security(("bearer" = [])))]
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
