//! Actions from the chat (`POST /conversations/{id}/actions/…`) and the audit log
//! (`GET /audit`, supervisors).

use axum::{
    Router,
    extract::State,
    http::StatusCode,
    routing::{get, post},
};
use serde::Deserialize;
use uuid::Uuid;

use super::{
    AppState,
    auth::AgentAuth,
    error::{ApiError, ApiResult},
    extract::{Json, Path, Query},
};
use crate::{
    actions::{ActionError, Done},
    integrations::{NewReturn, SourceError},
    store::{AuditEntry, Role},
};

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/conversations/{id}/actions/create-return",
            post(create_return),
        )
        .route(
            "/conversations/{id}/actions/cancel-order",
            post(cancel_order),
        )
        .route(
            "/conversations/{id}/actions/send-order-card",
            post(send_order_card),
        )
        .route("/audit", get(audit))
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

async fn create_return(
    State(state): State<AppState>,
    auth: AgentAuth,
    Path(id): Path<Uuid>,
    Json(req): Json<NewReturn>,
) -> ApiResult<(StatusCode, Json<Done>)> {
    let done = state.actions.create_return(&auth.agent, id, req).await?;
    Ok((StatusCode::CREATED, Json(done)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrderRequest {
    pub order_id: String,
    #[serde(default)]
    pub reason: String,
}

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

#[derive(Deserialize)]
pub struct AuditQuery {
    pub conversation_id: Option<Uuid>,
    pub limit: Option<i64>,
}

async fn audit(
    State(state): State<AppState>,
    auth: AgentAuth,
    Query(q): Query<AuditQuery>,
) -> ApiResult<Json<Vec<AuditEntry>>> {
    auth.require(Role::Supervisor)?;
    let limit = q.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::BadRequest("limit must be 1 to 1000".into()));
    }
    Ok(Json(
        state.actions.audit_log(q.conversation_id, limit).await?,
    ))
}
