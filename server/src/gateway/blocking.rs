//! Supervisors block abusive shoppers: `POST /visitors/{id}/block` and `…/unblock`, each
//! with an optional reason kept in the audit log. The effect is immediate (see
//! `accounts::blocking`).

use axum::{extract::State, http::StatusCode};
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use super::{
    AppState,
    auth::AgentAuth,
    error::{ApiError, ApiResult, ErrorBody},
    extract::{Json, Path},
    openapi::{AgentErrors, JsonErrors},
};
use crate::store::Role;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(block))
        .routes(routes!(unblock))
}

/// Longest reason kept, in characters.
const MAX_REASON_CHARS: usize = 500;

#[derive(Deserialize, Default, ToSchema)]
#[serde(deny_unknown_fields)]
struct BlockRequest {
    /// Why, for the audit log: at most 500 characters.
    #[serde(default)]
    #[schema(max_length = 500)]
    reason: String,
}

fn reason(req: &BlockRequest) -> ApiResult<&str> {
    if req.reason.chars().count() > MAX_REASON_CHARS {
        return Err(ApiError::BadRequest(format!(
            "the reason may be at most {MAX_REASON_CHARS} characters"
        )));
    }
    Ok(req.reason.trim())
}

/// Blocks a shopper: its token and new sessions are refused and its open sockets close
/// with `VISITOR_BLOCKED` (audited).
#[utoipa::path(post, path = "/visitors/{id}/block", tag = "visitor",
    params(("id" = Uuid, Path, description = "The visitor's id")),
    request_body = BlockRequest,
    responses(
        (status = 204, description = "Done"),
        AgentErrors, JsonErrors,
        (status = 404, description = "No such visitor", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn block(
    State(state): State<AppState>,
    auth: AgentAuth,
    Path(id): Path<Uuid>,
    Json(req): Json<BlockRequest>,
) -> ApiResult<StatusCode> {
    change(&state, &auth, id, &req, true).await
}

/// Lifts a block (audited).
#[utoipa::path(post, path = "/visitors/{id}/unblock", tag = "visitor",
    params(("id" = Uuid, Path, description = "The visitor's id")),
    request_body = BlockRequest,
    responses(
        (status = 204, description = "Done"),
        AgentErrors, JsonErrors,
        (status = 404, description = "No such visitor", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn unblock(
    State(state): State<AppState>,
    auth: AgentAuth,
    Path(id): Path<Uuid>,
    Json(req): Json<BlockRequest>,
) -> ApiResult<StatusCode> {
    change(&state, &auth, id, &req, false).await
}

async fn change(
    state: &AppState,
    auth: &AgentAuth,
    id: Uuid,
    req: &BlockRequest,
    block: bool,
) -> ApiResult<StatusCode> {
    auth.require(Role::Supervisor)?;
    let (accounts, reason) = (&state.accounts, reason(req)?);
    if block {
        accounts.block_visitor(&auth.agent, id, reason).await?;
    } else {
        accounts.unblock_visitor(&auth.agent, id, reason).await?;
    }
    Ok(StatusCode::NO_CONTENT)
}
