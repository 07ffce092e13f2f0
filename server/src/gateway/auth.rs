//! Request authentication: bearer tokens for agents (`kfa_…`), shoppers (`kfv_…`) and bots
//! (`kfb_…`).
//!
//! Tokens come in the `Authorization: Bearer` header. WebSocket upgrades may pass them as
//! `?token=` instead, because browsers cannot set headers on a WebSocket.

use axum::{extract::FromRequestParts, http::request::Parts};

use super::{AppState, error::ApiError};
use crate::{
    auth::token,
    sessions::{Caller, routing::AgentInfo},
    store::{Bot, Role, StoreError, Visitor, now_ms},
};

/// An authenticated agent, plus the hash of the token it used (for logout).
pub struct AgentAuth {
    pub agent: AgentInfo,
    pub token_hash: String,
}

/// An authenticated shopper.
pub struct VisitorAuth(pub Visitor);

/// Either kind of caller.
pub struct AnyAuth(pub Caller);

fn bearer(parts: &Parts) -> Option<String> {
    if let Some(h) = parts.headers.get(axum::http::header::AUTHORIZATION) {
        return h
            .to_str()
            .ok()?
            .strip_prefix("Bearer ")
            .map(|t| t.trim().to_string());
    }
    if parts.uri.path().starts_with("/ws/") {
        let query = parts.uri.query()?;
        return query
            .split('&')
            .find_map(|kv| kv.strip_prefix("token="))
            .map(|t| t.to_string());
    }
    None
}

fn missing() -> ApiError {
    ApiError::Unauthenticated("sign in first: send `Authorization: Bearer <token>`".into())
}

/// Resolves an agent token; refuses unknown, revoked, expired tokens and disabled accounts.
pub async fn agent_from_token(state: &AppState, token: &str) -> Result<AgentAuth, ApiError> {
    let token_hash = token::hash(token);
    let record = match state.store.token(&token_hash).await {
        Err(StoreError::NotFound) => {
            return Err(ApiError::Unauthenticated(
                "unknown token; sign in again".into(),
            ));
        }
        other => other?,
    };
    if record.revoked_at.is_some() {
        return Err(ApiError::Unauthenticated(
            "this token was revoked; sign in again".into(),
        ));
    }
    if record.expires_at <= now_ms() {
        return Err(ApiError::Unauthenticated(
            "this token expired; sign in again".into(),
        ));
    }
    let agent = state.store.agent(record.agent_id).await?;
    if agent.disabled {
        return Err(ApiError::Unauthenticated("this account is disabled".into()));
    }
    Ok(AgentAuth {
        agent: crate::sessions::routing::agent_info(&agent),
        token_hash,
    })
}

async fn visitor_from_token(state: &AppState, token: &str) -> Result<Visitor, ApiError> {
    let visitor = match state.store.visitor_by_token(&token::hash(token)).await {
        Err(StoreError::NotFound) => {
            return Err(ApiError::Unauthenticated("unknown visitor token".into()));
        }
        other => other?,
    };
    if visitor.expires_at <= now_ms() {
        return Err(ApiError::Unauthenticated(
            "visitor token expired; start a new session".into(),
        ));
    }
    Ok(visitor)
}

impl FromRequestParts<AppState> for AgentAuth {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let t = bearer(parts).ok_or_else(missing)?;
        if t.starts_with(token::VISITOR_PREFIX) || t.starts_with(token::BOT_PREFIX) {
            return Err(ApiError::Forbidden(
                "this endpoint is for agents; shopper and bot tokens are refused".into(),
            ));
        }
        agent_from_token(state, &t).await
    }
}

impl FromRequestParts<AppState> for VisitorAuth {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let t = bearer(parts).ok_or_else(missing)?;
        if !t.starts_with(token::VISITOR_PREFIX) {
            return Err(ApiError::Forbidden("this endpoint is for shoppers".into()));
        }
        visitor_from_token(state, &t).await.map(VisitorAuth)
    }
}

/// An authenticated bot account.
pub struct BotAuth(pub Bot);

impl FromRequestParts<AppState> for BotAuth {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let t = bearer(parts).ok_or_else(missing)?;
        if !t.starts_with(token::BOT_PREFIX) {
            return Err(ApiError::Forbidden(
                "this endpoint is for bots: use a bot token (kfb_…)".into(),
            ));
        }
        match state.store.bot_by_token(&token::hash(&t), now_ms()).await {
            Err(StoreError::NotFound) => Err(ApiError::Unauthenticated(
                "unknown bot token; it may have been deleted".into(),
            )),
            other => Ok(BotAuth(other?)),
        }
    }
}

impl FromRequestParts<AppState> for AnyAuth {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let t = bearer(parts).ok_or_else(missing)?;
        if t.starts_with(token::BOT_PREFIX) {
            return Err(ApiError::Forbidden("bots use the /bot/ endpoints".into()));
        }
        if t.starts_with(token::VISITOR_PREFIX) {
            Ok(AnyAuth(Caller::Shopper(
                visitor_from_token(state, &t).await?,
            )))
        } else {
            Ok(AnyAuth(Caller::Agent(
                agent_from_token(state, &t).await?.agent,
            )))
        }
    }
}

impl AgentAuth {
    /// Refuses callers below `role`.
    pub fn require(&self, role: Role) -> Result<(), ApiError> {
        if self.agent.role >= role {
            Ok(())
        } else {
            Err(ApiError::Forbidden(
                format!("this needs the {role:?} role or higher").to_lowercase(),
            ))
        }
    }
}
