//! Supervisors block abusive shoppers: `POST /visitors/{id}/block` and `…/unblock`, each
//! with an optional reason kept in the audit log. The effect is immediate (see
//! `accounts::blocking`).

use axum::{Router, extract::State, http::StatusCode, routing::post};
use serde::Deserialize;
use uuid::Uuid;

use super::{
    AppState,
    auth::AgentAuth,
    error::{ApiError, ApiResult},
    extract::{Json, Path},
};
use crate::store::Role;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/visitors/{id}/block", post(block))
        .route("/visitors/{id}/unblock", post(unblock))
}

/// Longest reason kept, in characters.
const MAX_REASON_CHARS: usize = 500;

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct BlockRequest {
    /// Why, for the audit log.
    #[serde(default)]
    reason: String,
}

fn reason(req: &BlockRequest) -> ApiResult<&str> {
    if req.reason.chars().count() > MAX_REASON_CHARS {
        return Err(ApiError::TooLarge(format!(
            "the reason may be at most {MAX_REASON_CHARS} characters"
        )));
    }
    Ok(req.reason.trim())
}

async fn block(
    State(state): State<AppState>,
    auth: AgentAuth,
    Path(id): Path<Uuid>,
    Json(req): Json<BlockRequest>,
) -> ApiResult<StatusCode> {
    change(&state, &auth, id, &req, true).await
}

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
