//! Agent sign-in: `POST /auth/login`, `POST /auth/logout`, `GET /me`.

use std::sync::LazyLock;

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
use crate::{
    auth::{password, token},
    store::{Agent, StoreError, TokenRecord, now_ms},
};

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

/// Verifying against this when the username is unknown keeps the response time the same,
/// so timing does not reveal which usernames exist.
static DUMMY_HASH: LazyLock<String> = LazyLock::new(|| {
    use argon2::password_hash::PasswordHasher;
    argon2::Argon2::default()
        .hash_password(b"not a real password")
        .map(|h| h.to_string())
        .unwrap_or_default()
});

async fn login(
    State(state): State<AppState>,
    Json(req): Json<LoginRequest>,
) -> ApiResult<Json<LoginResponse>> {
    let wrong = || ApiError::Unauthenticated("wrong username or password".into());
    if state
        .login_limiter
        .check_key(&req.username.trim().to_lowercase())
        .is_err()
    {
        return Err(ApiError::RateLimited(
            "too many sign-in attempts for this user; wait a minute".into(),
        ));
    }
    let agent = match state.store.agent_by_username(req.username.trim()).await {
        Ok(a) => Some(a),
        Err(StoreError::NotFound) => None,
        Err(e) => return Err(e.into()),
    };
    let phc = agent
        .as_ref()
        .map_or_else(|| DUMMY_HASH.clone(), |a| a.password_hash.clone());
    let ok = password::verify(req.password, phc).await;
    let agent = agent.filter(|_| ok).ok_or_else(wrong)?;
    if agent.disabled {
        return Err(ApiError::Unauthenticated("this account is disabled".into()));
    }
    let token = token::generate(token::AGENT_PREFIX);
    let now = now_ms();
    let expires_at_ms = now + (state.settings.auth.token_ttl_hours * 3_600_000) as i64;
    state
        .store
        .insert_token(&TokenRecord {
            token_hash: token::hash(&token),
            agent_id: agent.id,
            created_at: now,
            expires_at: expires_at_ms,
            revoked_at: None,
        })
        .await?;
    tracing::info!(agent = %agent.username, "signed in");
    Ok(Json(LoginResponse {
        token,
        expires_at_ms,
        agent,
    }))
}

async fn logout(State(state): State<AppState>, auth: AgentAuth) -> ApiResult<StatusCode> {
    state.store.revoke_token(&auth.token_hash, now_ms()).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn me(State(state): State<AppState>, auth: AgentAuth) -> ApiResult<Json<Agent>> {
    Ok(Json(state.store.agent(auth.agent.id).await?))
}
