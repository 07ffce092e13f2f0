//! Agent sign-in: `POST /auth/login`, `POST /auth/logout`, `GET /me`.

use axum::{extract::State, http::StatusCode};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{
    AppState,
    auth::AgentAuth,
    error::{ApiResult, ErrorBody},
    extract::Json,
    limits::ClientIp,
    openapi::{AgentErrors, JsonErrors},
};
use crate::store::Agent;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(login))
        .routes(routes!(logout))
        .routes(routes!(me))
}

#[derive(Deserialize, ToSchema)]
pub struct LoginRequest {
    pub username: String,
    pub password: String,
}

#[derive(Serialize, ToSchema)]
pub struct LoginResponse {
    pub token: String,
    pub expires_at_ms: i64,
    pub agent: Agent,
}

/// Signs an agent in (argon2id) and returns an opaque bearer token. Wrong passwords slow
/// down the (username, address) pair exponentially; the account itself is never locked, so
/// its owner signs in from elsewhere while a guesser waits.
#[utoipa::path(post, path = "/auth/login", tag = "account",
    request_body = LoginRequest,
    responses(
        (status = 200, description = "Signed in", body = LoginResponse),
        JsonErrors,
        (status = 401, description = "Wrong username or password, or a disabled account", body = ErrorBody),
        (status = 429, description = "Too many sign-in attempts from this address, or for this username from it: wait", body = ErrorBody),
    ))]
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
#[utoipa::path(post, path = "/auth/logout", tag = "account",
    responses((status = 204, description = "Revoked"), AgentErrors),
    security(("bearer" = [])))]
async fn logout(State(state): State<AppState>, auth: AgentAuth) -> ApiResult<StatusCode> {
    state.accounts.logout(&auth).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The signed-in agent.
#[utoipa::path(get, path = "/me", tag = "account",
    responses((status = 200, description = "The agent", body = Agent), AgentErrors),
    security(("bearer" = [])))]
async fn me(State(state): State<AppState>, auth: AgentAuth) -> ApiResult<Json<Agent>> {
    Ok(Json(state.accounts.agent(auth.agent.id).await?))
}
