//! Shopper session bootstrap: `POST /visitor/session` (the rules are in
//! [`crate::accounts`]), and the site and Origin checks every shopper endpoint makes.

use axum::{extract::State, http::HeaderMap};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use super::{
    AppState,
    error::{ApiError, ApiResult, ErrorBody},
    extract::Json,
    limits::ClientIp,
    openapi::JsonErrors,
};
use crate::{
    accounts::VisitorRequest,
    config::{Settings, Site},
};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(session))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SessionRequest {
    /// The widget id (`data-site`).
    pub site_id: String,
    /// A token from an earlier visit, to continue as the same visitor.
    pub visitor_token: Option<String>,
    /// The shop's customer id, signed by the shop's backend.
    pub customer_id: Option<String>,
    /// `hex(HMAC-SHA256(site identity secret, customer_id))`, computed by the shop's backend.
    pub signature: Option<String>,
    pub name: Option<String>,
    /// Kept when it looks like an address; unverified.
    pub email: Option<String>,
    /// A phone number the shopper gave; with the email, used to find them in the back office.
    pub phone: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct SessionResponse {
    pub visitor_token: String,
    pub visitor_id: Uuid,
    pub expires_at_ms: i64,
    pub display_name: String,
    /// The visitor's conversation that is still open, to resume.
    pub open_conversation_id: Option<Uuid>,
}

/// Refuses browser requests from pages not on the site's allow-list. Requests without an
/// `Origin` header come from non-browser clients (bots, the load generator), which could
/// send any header they like, so there is nothing to check. Kefu's own pages (the `/chat`
/// page) are same-origin and always allowed.
pub fn check_origin(site: &Site, headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(origin) = headers.get(axum::http::header::ORIGIN) else {
        return Ok(());
    };
    let origin = origin.to_str().unwrap_or_default();
    if site.allowed_origins.iter().any(|o| o == origin) || same_origin(origin, headers) {
        Ok(())
    } else {
        Err(ApiError::Forbidden(format!(
            "origin `{origin}` is not allowed for site `{}`",
            site.id
        )))
    }
}

/// Whether `origin` names this server as the browser reached it (its `Host`).
fn same_origin(origin: &str, headers: &HeaderMap) -> bool {
    let host = headers
        .get(axum::http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default();
    let authority = origin
        .strip_prefix("https://")
        .or_else(|| origin.strip_prefix("http://"));
    !host.is_empty() && authority == Some(host)
}

pub fn site<'a>(settings: &'a Settings, id: &str) -> Result<&'a Site, ApiError> {
    settings
        .site(id)
        .ok_or_else(|| ApiError::NotFound(format!("unknown site `{id}`")))
}

/// Starts or continues a shopper's session on a site: a visitor token (`kfv_…`), with the
/// shop's signed identity when given.
#[utoipa::path(post, path = "/visitor/session", tag = "visitor",
    request_body = SessionRequest,
    responses(
        (status = 200, description = "The visitor's session", body = SessionResponse),
        JsonErrors,
        (status = 401, description = "The identity's signature is wrong", body = ErrorBody),
        (status = 403, description = "The page's origin is not allowed for the site", body = ErrorBody),
        (status = 404, description = "No such site", body = ErrorBody),
        (status = 429, description = "Too many sessions from this address or for this site: wait", body = ErrorBody),
    ))]
async fn session(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Json(req): Json<SessionRequest>,
) -> ApiResult<Json<SessionResponse>> {
    let site = site(&state.settings, &req.site_id)?;
    check_origin(site, &headers)?;
    state.limits.visitor_session(ip)?;
    let session = state
        .accounts
        .visitor_session(
            site,
            VisitorRequest {
                visitor_token: req.visitor_token,
                customer_id: req.customer_id,
                signature: req.signature,
                name: req.name,
                email: req.email,
                phone: req.phone,
            },
        )
        .await?;
    Ok(Json(SessionResponse {
        visitor_token: session.visitor_token,
        visitor_id: session.visitor.id,
        expires_at_ms: session.expires_at_ms,
        display_name: session.visitor.display_name,
        open_conversation_id: session.open_conversation_id,
    }))
}
