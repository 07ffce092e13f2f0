//! Agent sign-in: `POST /auth/login`, `POST /auth/logout`, `GET /me`.

use axum::{
    Router,
    extract::State,
    http::StatusCode,
    routing::{get, post},
};
use serde::{Deserialize, Serialize};

use super::{
    AppState,
    auth::AgentAuth,
    error::{ApiError, ApiResult},
    extract::Json,
};
use crate::store::Agent;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/auth/login", post(login))
        .route("/auth/logout", post(logout))
        .route("/me", get(me))
}

#[derive(Deserialize)]
pub struct LoginRequest {
    pub username: String,
    pub password: String,
}

#[derive(Serialize)]
pub struct LoginResponse {
    pub token: String,
    pub expires_at_ms: i64,
    pub agent: Agent,
}

async fn login(
    State(state): State<AppState>,
    Json(req): Json<LoginRequest>,
) -> ApiResult<Json<LoginResponse>> {
    if state
        .login_limiter
        .check_key(&req.username.trim().to_lowercase())
        .is_err()
    {
        return Err(ApiError::RateLimited(
            "too many sign-in attempts for this user; wait a minute".into(),
        ));
    }
    let signed_in = state.accounts.login(&req.username, req.password).await?;
    Ok(Json(LoginResponse {
        token: signed_in.token,
        expires_at_ms: signed_in.expires_at_ms,
        agent: signed_in.agent,
    }))
}

/// Revokes the token used and closes the sockets opened with it.
async fn logout(State(state): State<AppState>, auth: AgentAuth) -> ApiResult<StatusCode> {
    state.accounts.logout(&auth).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn me(State(state): State<AppState>, auth: AgentAuth) -> ApiResult<Json<Agent>> {
    Ok(Json(state.accounts.agent(auth.agent.id).await?))
}
