//! Request authentication: bearer tokens for agents (`kfa_…`), shoppers (`kfv_…`) and bots
//! (`kfb_…`).
//!
//! Tokens come in the `Authorization: Bearer` header. WebSocket upgrades may pass them as
//! `?token=` instead, because browsers cannot set headers on a WebSocket.

use axum::{extract::FromRequestParts, http::request::Parts};

use super::{AppState, error::ApiError};
use crate::{
    auth::token,
    sessions::Caller,
    store::{Bot, Visitor},
};

/// An authenticated agent, plus the hash of the token it used (for logout).
pub type AgentAuth = crate::accounts::AgentSignIn;

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

impl FromRequestParts<AppState> for AgentAuth {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let t = bearer(parts).ok_or_else(missing)?;
        if t.starts_with(token::VISITOR_PREFIX) || t.starts_with(token::BOT_PREFIX) {
            return Err(ApiError::Forbidden(
                "this endpoint is for agents; shopper and bot tokens are refused".into(),
            ));
        }
        Ok(state.accounts.authenticate_agent(&t).await?)
    }
}

impl FromRequestParts<AppState> for VisitorAuth {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let t = bearer(parts).ok_or_else(missing)?;
        if !t.starts_with(token::VISITOR_PREFIX) {
            return Err(ApiError::Forbidden("this endpoint is for shoppers".into()));
        }
        Ok(VisitorAuth(state.accounts.authenticate_visitor(&t).await?))
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
        Ok(BotAuth(state.accounts.authenticate_bot(&t).await?))
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
                state.accounts.authenticate_visitor(&t).await?,
            )))
        } else {
            Ok(AnyAuth(Caller::Agent(
                state.accounts.authenticate_agent(&t).await?.agent,
            )))
        }
    }
}
