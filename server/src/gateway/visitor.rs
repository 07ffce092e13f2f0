//! Shopper session bootstrap: `POST /visitor/session`.
//!
//! Anonymous shoppers get a visitor token per site. A shop may pass a signed identity
//! (`customer_id` + `signature = hex(HMAC-SHA256(site secret, customer_id))`) to link the
//! shopper to its customer record; an unsigned or wrongly signed identity is refused.

use axum::{Router, extract::State, http::HeaderMap, routing::post};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{
    AppState,
    error::{ApiError, ApiResult},
    extract::Json,
};
use crate::{
    auth::{identity, token},
    config::{Settings, Site},
    store::{ConvState, StoreError, Visitor, now_ms},
};

pub fn router() -> Router<AppState> {
    Router::new().route("/visitor/session", post(session))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionRequest {
    /// The widget id (`data-site`).
    pub site_id: String,
    /// A token from an earlier visit, to continue as the same visitor.
    pub visitor_token: Option<String>,
    /// The shop's customer id, signed by the shop's backend.
    pub customer_id: Option<String>,
    pub signature: Option<String>,
    pub name: Option<String>,
    pub email: Option<String>,
    /// A phone number the shopper gave; with the email, used to find them in the back office.
    pub phone: Option<String>,
}

#[derive(Serialize)]
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

fn clean_name(name: Option<String>) -> Option<String> {
    name.map(|n| {
        n.trim()
            .chars()
            .filter(|c| !c.is_control())
            .take(80)
            .collect::<String>()
    })
    .filter(|n| !n.is_empty())
}

async fn session(
    State(state): State<AppState>,
    headers: HeaderMap,
    Json(req): Json<SessionRequest>,
) -> ApiResult<Json<SessionResponse>> {
    let site = site(&state.settings, &req.site_id)?;
    check_origin(site, &headers)?;
    let store = &state.store;
    let now = now_ms();
    let expires_at_ms = now + (state.settings.auth.visitor_ttl_days * 86_400_000) as i64;

    // The visitor this browser already is, if its token is still good for this site.
    let mut current = None;
    if let Some(t) = req
        .visitor_token
        .as_deref()
        .filter(|t| t.starts_with(token::VISITOR_PREFIX))
    {
        match store.visitor_by_token(&token::hash(t)).await {
            Ok(v) if v.site_id == site.id && v.expires_at > now => {
                current = Some((v, t.to_string()))
            }
            Ok(_) | Err(StoreError::NotFound) => {}
            Err(e) => return Err(e.into()),
        }
    }

    let name = clean_name(req.name);
    let email = req
        .email
        .map(|e| e.trim().to_string())
        .filter(|e| e.contains('@') && e.len() <= 254);
    let phone = req.phone.map(|p| p.trim().to_string()).filter(|p| {
        p.len() <= 32
            && p.chars().filter(char::is_ascii_digit).count() >= 5
            && p.chars().all(|c| c.is_ascii_digit() || " +-()".contains(c))
    });
    // Which visitor this is, and the token to keep (None: issue a new one).
    let (visitor, keep_token) = match req.customer_id.filter(|c| !c.is_empty()) {
        Some(customer_id) => {
            identity::verify(
                &site.identity_secret,
                &customer_id,
                req.signature.as_deref(),
            )
            .map_err(|e| ApiError::Unauthenticated(format!("shop identity refused: {e}")))?;
            let display = name.unwrap_or_else(|| format!("Customer {customer_id}"));
            match store.visitor_by_customer(&site.id, &customer_id).await {
                Ok(v) => {
                    let keep = current.filter(|(c, _)| c.id == v.id).map(|(_, t)| t);
                    (v, keep)
                }
                Err(StoreError::NotFound) => match current {
                    // An anonymous visitor logs in: keep its history, link it to the customer.
                    Some((v, t)) if v.customer_id.is_none() => {
                        store.link_customer(v.id, &customer_id, &display).await?;
                        (store.visitor(v.id).await?, Some(t))
                    }
                    _ => (
                        new_visitor(&state, site, Some(customer_id), display, expires_at_ms)
                            .await?,
                        None,
                    ),
                },
                Err(e) => return Err(e.into()),
            }
        }
        // A visitor linked to a customer must prove it again; without proof it starts afresh.
        None => match current {
            Some((v, t)) if v.customer_id.is_none() => (v, Some(t)),
            _ => {
                let display = name.unwrap_or_else(anonymous_name);
                (
                    new_visitor(&state, site, None, display, expires_at_ms).await?,
                    None,
                )
            }
        },
    };
    if email.is_some() || phone.is_some() {
        store
            .set_visitor_contact(visitor.id, email.as_deref(), phone.as_deref())
            .await?;
    }
    let visitor_token = keep_token.unwrap_or_else(|| token::generate(token::VISITOR_PREFIX));
    store
        .refresh_visitor_token(visitor.id, &token::hash(&visitor_token), expires_at_ms)
        .await?;
    let open_conversation_id = match store.latest_conversation_of_visitor(visitor.id).await {
        Ok(c) if c.state != ConvState::Closed => Some(c.id),
        Ok(_) | Err(StoreError::NotFound) => None,
        Err(e) => return Err(e.into()),
    };
    Ok(Json(SessionResponse {
        visitor_token,
        visitor_id: visitor.id,
        expires_at_ms,
        display_name: visitor.display_name,
        open_conversation_id,
    }))
}

fn anonymous_name() -> String {
    let n: u16 = rand::random::<u16>() % 10000;
    format!("Visitor {n:04}")
}

async fn new_visitor(
    state: &AppState,
    site: &Site,
    customer_id: Option<String>,
    display_name: String,
    expires_at: i64,
) -> Result<Visitor, ApiError> {
    let v = Visitor {
        id: Uuid::now_v7(),
        site_id: site.id.clone(),
        // Replaced by the real token's hash right after; unique placeholder until then.
        token_hash: format!("pending-{}", Uuid::now_v7()),
        customer_id,
        display_name,
        email: None,
        phone: None,
        created_at: now_ms(),
        expires_at,
        last_agent_id: None,
    };
    state.store.create_visitor(&v).await?;
    Ok(v)
}
