//! Actions from the chat (`POST /conversations/{id}/actions/…`) and the audit log
//! (`GET /audit`, supervisors).

use axum::{extract::State, http::StatusCode};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use super::{
    AppState,
    auth::AgentAuth,
    error::{ApiError, ApiResult, ErrorBody},
    extract::{Json, Path, Query},
    openapi::{self, ActionErrors, AgentErrors, JsonErrors, ParamErrors},
};
use crate::{
    actions::{ActionError, Done},
    integrations::{NewReturn, SourceError},
    store::{AuditEntry, Role},
};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_return))
        .routes(routes!(cancel_order))
        .routes(routes!(send_order_card))
        .routes(routes!(audit))
}

impl From<ActionError> for ApiError {
    fn from(e: ActionError) -> Self {
        match e {
            ActionError::Refused(m) => ApiError::Forbidden(m),
            ActionError::NotFound(m) => ApiError::NotFound(m),
            ActionError::Invalid(m) => ApiError::BadRequest(m),
            ActionError::Unverified(m) => ApiError::CustomerUnverified(m),
            ActionError::VerificationFailed(m) => ApiError::VerificationFailed(m),
            ActionError::Session(e) => e.into(),
            ActionError::BackOffice(SourceError::Status { code, reason })
                if (400..500).contains(&code) =>
            {
                ApiError::Unprocessable(format!("the back office refused: {reason}"))
            }
            ActionError::BackOffice(e) => {
                ApiError::BadGateway(format!("the back office failed: {e}"))
            }
        }
    }
}

/// Creates a return in the back office for an order of the conversation's customer and
/// sends the shopper a return card. Refunds above `integrations.actions.agent_limit_minor`
/// need a supervisor. Audited.
#[utoipa::path(post, path = "/conversations/{id}/actions/create-return", tag = "actions",
    params(("id" = Uuid, Path, description = "The conversation's id")),
    request_body = NewReturn,
    responses(
        (status = 201, description = "The return created", body = Done),
        AgentErrors, JsonErrors, ActionErrors,
        (status = 422, description = "The back office refused", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn create_return(
    State(state): State<AppState>,
    auth: AgentAuth,
    Path(id): Path<Uuid>,
    Json(req): Json<NewReturn>,
) -> ApiResult<(StatusCode, Json<Done>)> {
    let done = state.actions.create_return(&auth.agent, id, req).await?;
    Ok((StatusCode::CREATED, Json(done)))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrderRequest {
    /// An order of the conversation's customer.
    pub order_id: String,
    /// Why (cancellations); "customer request" when blank.
    #[serde(default)]
    pub reason: String,
}

/// Cancels an order of the conversation's customer in the back office. Audited.
#[utoipa::path(post, path = "/conversations/{id}/actions/cancel-order", tag = "actions",
    params(("id" = Uuid, Path, description = "The conversation's id")),
    request_body = OrderRequest,
    responses(
        (status = 200, description = "The order after cancelling", body = Done),
        AgentErrors, JsonErrors, ActionErrors,
        (status = 422, description = "The back office refused", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn cancel_order(
    State(state): State<AppState>,
    auth: AgentAuth,
    Path(id): Path<Uuid>,
    Json(req): Json<OrderRequest>,
) -> ApiResult<Json<Done>> {
    let reason = if req.reason.trim().is_empty() {
        "customer request"
    } else {
        req.reason.trim()
    };
    Ok(Json(
        state
            .actions
            .cancel_order(&auth.agent, id, &req.order_id, reason)
            .await?,
    ))
}

/// Sends the shopper a card of one of its customer's orders. Audited.
#[utoipa::path(post, path = "/conversations/{id}/actions/send-order-card", tag = "actions",
    params(("id" = Uuid, Path, description = "The conversation's id")),
    request_body = OrderRequest,
    responses(
        (status = 200, description = "The order sent", body = Done),
        AgentErrors, JsonErrors, ActionErrors,
    ),
    security(("bearer" = [])))]
async fn send_order_card(
    State(state): State<AppState>,
    auth: AgentAuth,
    Path(id): Path<Uuid>,
    Json(req): Json<OrderRequest>,
) -> ApiResult<Json<Done>> {
    Ok(Json(
        state
            .actions
            .send_order_card(&auth.agent, id, &req.order_id)
            .await?,
    ))
}

/// Most audit entries in one page.
const AUDIT_LIMIT_MAX: i64 = 1000;
const AUDIT_LIMIT_DEFAULT: i64 = 100;

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// Only this conversation's actions.
    pub conversation_id: Option<Uuid>,
    /// Page size.
    #[param(schema_with = audit_limit_schema)]
    pub limit: Option<i64>,
}

fn audit_limit_schema() -> utoipa::openapi::Object {
    openapi::limit(AUDIT_LIMIT_MAX, AUDIT_LIMIT_DEFAULT)
}

/// The audit log of actions, newest first (supervisors).
#[utoipa::path(get, path = "/audit", tag = "actions",
    params(AuditQuery),
    responses(
        (status = 200, description = "Audit entries", body = Vec<AuditEntry>),
        AgentErrors, ParamErrors,
    ),
    security(("bearer" = [])))]
async fn audit(
    State(state): State<AppState>,
    auth: AgentAuth,
    Query(q): Query<AuditQuery>,
) -> ApiResult<Json<Vec<AuditEntry>>> {
    auth.require(Role::Supervisor)?;
    let limit = q.limit.unwrap_or(AUDIT_LIMIT_DEFAULT);
    if !(1..=AUDIT_LIMIT_MAX).contains(&limit) {
        return Err(ApiError::BadRequest(format!(
            "limit must be 1 to {AUDIT_LIMIT_MAX}"
        )));
    }
    Ok(Json(
        state.actions.audit_log(q.conversation_id, limit).await?,
    ))
}
