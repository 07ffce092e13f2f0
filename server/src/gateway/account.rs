//! Agent sign-in: `POST /auth/login`, `POST /auth/logout`, `GET /me`.

use axum::{
    Router,
    extract::State,
    http::StatusCode,
    routing::{get, post},
};
use serde::{Deserialize, Serialize};

use super::{AppState, auth::AgentAuth, error::ApiResult, extract::Json, limits::ClientIp};
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

/// Wrong passwords slow down the (username, address) pair exponentially; the account itself
/// is never locked, so its owner signs in from elsewhere while a guesser waits.
async fn login(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    Json(req): Json<LoginRequest>,
) -> ApiResult<Json<LoginResponse>> {
    let limits = &state.limits;
    limits.username_fits(&req.username)?;
    let username = req.username.trim().to_lowercase();
    limits.login_attempt(&username, ip)?;
    let signed_in = match state.accounts.login(&req.username, req.password).await {
        Ok(s) => s,
        Err(e) => {
            if e.code == kefu_proto::v1::ErrorCode::Unauthenticated {
                limits.login_failed(&username, ip);
            }
            return Err(e.into());
        }
    };
    limits.login_succeeded(&username, ip);
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
