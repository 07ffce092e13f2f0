//! The customer view beside the chat: `GET /conversations/{id}/customer` (profile, orders,
//! returns, earlier conversations, each source with its own state; only a suggested name
//! while the shopper is unverified), customer search, linking a shopper to a customer by
//! hand, and verifying a suggested customer with an order number the shopper quoted. Links
//! and verifications are audited by [`crate::actions::Actions`].

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
use crate::{integrations::Customer, sessions::Caller, store::Conversation};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(view))
        .routes(routes!(link))
        .routes(routes!(verify))
        .routes(routes!(search))
}

/// The customer view of a conversation's shopper.
#[derive(Serialize, ToSchema)]
pub struct ConversationCustomer {
    /// How the shopper was matched (`customer_id`, `email`, `phone`, `none`), whether that
    /// is verified, and the view (only a suggested name while unverified).
    #[serde(flatten)]
    pub shopper: kefu_api::ShopperView,
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
    Ok(Json(ConversationCustomer {
        shopper: state.views.for_visitor(&visitor).await,
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

/// Links the conversation's shopper to a customer the agent found by hand (audited). Only
/// the assigned agent or a supervisor may; the customer must exist in the back office.
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
    state
        .actions
        .link_customer(&auth.agent, id, &req.customer_id)
        .await?;
    view(State(state), auth, Path(id)).await
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VerifyRequest {
    /// An order number the shopper quoted in the chat (not blank).
    #[schema(pattern = r"\S", min_length = 1, max_length = 100)]
    pub order_id: String,
}

/// Verifies an unverified shopper: the order number they quoted must be one of the suggested
/// customer's orders in the back office. Success links the customer (audited) and answers
/// with the full view; a wrong number is refused with `verification_failed` (audited too).
#[utoipa::path(post, path = "/conversations/{id}/customer/verify", tag = "customers",
    params(("id" = Uuid, Path, description = "The conversation's id")),
    request_body = VerifyRequest,
    responses(
        (status = 200, description = "The verified customer's full view", body = ConversationCustomer),
        AgentErrors, JsonErrors,
        (status = 404, description = "No such conversation, or nobody to verify", body = ErrorBody),
        (status = 409, description = "No back office is configured", body = ErrorBody),
        (status = 422, description = "`verification_failed`: the order is not the suggested customer's", body = ErrorBody),
        (status = 429, description = "Too many attempts in this conversation: wait", body = ErrorBody),
        (status = 502, description = "The back office failed", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn verify(
    State(state): State<AppState>,
    auth: AgentAuth,
    Path(id): Path<Uuid>,
    Json(req): Json<VerifyRequest>,
) -> ApiResult<Json<ConversationCustomer>> {
    state.limits.verification(id)?;
    state
        .actions
        .verify_customer(&auth.agent, id, &req.order_id)
        .await?;
    view(State(state), auth, Path(id)).await
}
