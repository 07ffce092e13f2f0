//! Accounts, groups and canned replies. Reading is open to agents where they need it;
//! changing needs a supervisor (canned replies) or an admin (accounts, groups).

use axum::{
    Router,
    extract::State,
    http::StatusCode,
    routing::{get, patch},
};
use serde::Deserialize;
use uuid::Uuid;

use super::{
    AppState,
    auth::AgentAuth,
    error::{ApiError, ApiResult},
    extract::{Json, Path},
};
use crate::{
    accounts::CannedText,
    auth::password,
    store::{Agent, AgentPatch, CannedReply, Group, NewAgent, Role},
};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/agents", get(list_agents).post(create_agent))
        .route(
            "/agents/{id}",
            patch(update_agent).delete(delete_agent).get(get_agent),
        )
        .route("/groups", get(list_groups).post(create_group))
        .route("/groups/{name}", axum::routing::delete(delete_group))
        .route("/canned-replies", get(list_canned).post(create_canned))
        .route(
            "/canned-replies/{id}",
            patch(update_canned).delete(delete_canned),
        )
}

/// Body of `POST /agents`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateAgent {
    pub username: String,
    pub password: String,
    pub display_name: Option<String>,
    pub role: Role,
    pub capacity: Option<i64>,
    #[serde(default)]
    pub groups: Vec<String>,
}

/// Body of `PATCH /agents/{id}`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateAgent {
    pub display_name: Option<String>,
    pub password: Option<String>,
    pub role: Option<Role>,
    pub capacity: Option<i64>,
    pub disabled: Option<bool>,
    pub groups: Option<Vec<String>>,
}

/// Rules every password must meet.
pub fn check_password(p: &str) -> Result<(), ApiError> {
    if p.chars().count() < 8 {
        return Err(ApiError::BadRequest(
            "password must be at least 8 characters".into(),
        ));
    }
    Ok(())
}

fn check_username(u: &str) -> Result<(), ApiError> {
    let ok = !u.is_empty()
        && u.len() <= 64
        && u.chars().all(|c| c.is_alphanumeric() || "._-@".contains(c));
    if ok {
        Ok(())
    } else {
        Err(ApiError::BadRequest(
            "username: 1-64 letters, digits, `.`, `_`, `-` or `@`".into(),
        ))
    }
}

fn check_capacity(c: Option<i64>) -> Result<(), ApiError> {
    match c {
        Some(c) if !(0..=100).contains(&c) => {
            Err(ApiError::BadRequest("capacity must be 0 to 100".into()))
        }
        _ => Ok(()),
    }
}

async fn list_agents(
    State(state): State<AppState>,
    auth: AgentAuth,
) -> ApiResult<Json<Vec<Agent>>> {
    auth.require(Role::Supervisor)?;
    Ok(Json(state.accounts.agents().await?))
}

async fn get_agent(
    State(state): State<AppState>,
    auth: AgentAuth,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<Agent>> {
    if auth.agent.id != id {
        auth.require(Role::Supervisor)?;
    }
    Ok(Json(state.accounts.agent(id).await?))
}

async fn create_agent(
    State(state): State<AppState>,
    auth: AgentAuth,
    Json(req): Json<CreateAgent>,
) -> ApiResult<(StatusCode, Json<Agent>)> {
    auth.require(Role::Admin)?;
    check_username(&req.username)?;
    check_password(&req.password)?;
    check_capacity(req.capacity)?;
    let agent = state
        .accounts
        .create_agent(&NewAgent {
            display_name: req.display_name.unwrap_or_else(|| req.username.clone()),
            username: req.username,
            password_hash: password::hash(req.password).await?,
            role: req.role,
            capacity: req
                .capacity
                .unwrap_or(state.settings.routing.default_capacity as i64),
            groups: req.groups,
        })
        .await?;
    Ok((StatusCode::CREATED, Json(agent)))
}

async fn update_agent(
    State(state): State<AppState>,
    auth: AgentAuth,
    Path(id): Path<Uuid>,
    Json(req): Json<UpdateAgent>,
) -> ApiResult<Json<Agent>> {
    auth.require(Role::Admin)?;
    check_capacity(req.capacity)?;
    let password_hash = match req.password {
        Some(p) => {
            check_password(&p)?;
            Some(password::hash(p).await?)
        }
        None => None,
    };
    let patch = AgentPatch {
        display_name: req.display_name,
        password_hash,
        role: req.role,
        capacity: req.capacity,
        disabled: req.disabled,
        groups: req.groups,
    };
    Ok(Json(state.accounts.update_agent(id, &patch).await?))
}

async fn delete_agent(
    State(state): State<AppState>,
    auth: AgentAuth,
    Path(id): Path<Uuid>,
) -> ApiResult<StatusCode> {
    auth.require(Role::Admin)?;
    if id == auth.agent.id {
        return Err(ApiError::Conflict(
            "you cannot delete your own account".into(),
        ));
    }
    state.accounts.delete_agent(id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn list_groups(
    State(state): State<AppState>,
    _auth: AgentAuth,
) -> ApiResult<Json<Vec<Group>>> {
    Ok(Json(state.accounts.groups().await?))
}

async fn create_group(
    State(state): State<AppState>,
    auth: AgentAuth,
    Json(g): Json<Group>,
) -> ApiResult<(StatusCode, Json<Group>)> {
    auth.require(Role::Admin)?;
    check_username(&g.name).map_err(|_| {
        ApiError::BadRequest("group name: 1-64 letters, digits, `.`, `_`, `-`".into())
    })?;
    Ok((
        StatusCode::CREATED,
        Json(state.accounts.create_group(&g).await?),
    ))
}

async fn delete_group(
    State(state): State<AppState>,
    auth: AgentAuth,
    Path(name): Path<String>,
) -> ApiResult<StatusCode> {
    auth.require(Role::Admin)?;
    state.accounts.delete_group(&name).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Body of canned reply create/update.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CannedInput {
    pub shortcut: String,
    pub title: String,
    pub body: String,
}

impl From<CannedInput> for CannedText {
    fn from(c: CannedInput) -> Self {
        Self {
            shortcut: c.shortcut,
            title: c.title,
            body: c.body,
        }
    }
}

fn check_canned(c: &CannedInput) -> Result<(), ApiError> {
    if c.shortcut.is_empty() || c.shortcut.len() > 32 || c.shortcut.contains(char::is_whitespace) {
        return Err(ApiError::BadRequest(
            "shortcut: 1-32 characters without spaces".into(),
        ));
    }
    if c.body.trim().is_empty() || c.body.len() > 8 * 1024 {
        return Err(ApiError::BadRequest("body: 1 to 8192 bytes".into()));
    }
    Ok(())
}

async fn list_canned(
    State(state): State<AppState>,
    _auth: AgentAuth,
) -> ApiResult<Json<Vec<CannedReply>>> {
    Ok(Json(state.accounts.canned_replies().await?))
}

async fn create_canned(
    State(state): State<AppState>,
    auth: AgentAuth,
    Json(c): Json<CannedInput>,
) -> ApiResult<(StatusCode, Json<CannedReply>)> {
    auth.require(Role::Supervisor)?;
    check_canned(&c)?;
    let reply = state
        .accounts
        .create_canned(auth.agent.id, c.into())
        .await?;
    Ok((StatusCode::CREATED, Json(reply)))
}

async fn update_canned(
    State(state): State<AppState>,
    auth: AgentAuth,
    Path(id): Path<Uuid>,
    Json(c): Json<CannedInput>,
) -> ApiResult<Json<CannedReply>> {
    auth.require(Role::Supervisor)?;
    check_canned(&c)?;
    let reply = state.accounts.update_canned(id, c.into()).await?;
    Ok(Json(reply))
}

async fn delete_canned(
    State(state): State<AppState>,
    auth: AgentAuth,
    Path(id): Path<Uuid>,
) -> ApiResult<StatusCode> {
    auth.require(Role::Supervisor)?;
    state.accounts.delete_canned(id).await?;
    Ok(StatusCode::NO_CONTENT)
}
