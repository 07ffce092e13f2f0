//! Accounts, groups and canned replies. Reading is open to agents where they need it;
//! changing needs a supervisor (canned replies) or an admin (accounts, groups).

use axum::{extract::State, http::StatusCode};
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use super::{
    AppState,
    auth::AgentAuth,
    error::{ApiError, ApiResult, ErrorBody},
    extract::{Json, Path},
    openapi::{AgentErrors, JsonErrors, ParamErrors},
};
use crate::{
    accounts::CannedText,
    auth::password,
    store::{Agent, AgentPatch, CannedReply, Group, NewAgent, Role},
};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_agents, create_agent))
        .routes(routes!(update_agent, delete_agent, get_agent))
        .routes(routes!(list_groups, create_group))
        .routes(routes!(delete_group))
        .routes(routes!(list_canned, create_canned))
        .routes(routes!(update_canned, delete_canned))
}

/// Body of `POST /agents`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateAgent {
    /// Sign-in name: 1-64 ASCII letters, digits, `.`, `_`, `-` or `@`.
    #[schema(pattern = r"^[A-Za-z0-9._@-]{1,64}$")]
    pub username: String,
    /// At least 8 characters.
    #[schema(min_length = 8)]
    pub password: String,
    /// Shown to shoppers and colleagues; the username if absent.
    pub display_name: Option<String>,
    pub role: Role,
    /// Most conversations at once, 0 to 100; `routing.default_capacity` if absent.
    #[schema(minimum = 0, maximum = 100)]
    pub capacity: Option<i64>,
    /// Groups (queues) the agent serves; each must exist.
    #[serde(default)]
    pub groups: Vec<String>,
}

/// Body of `PATCH /agents/{id}`: absent fields stay as they are.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateAgent {
    pub display_name: Option<String>,
    /// At least 8 characters; signs the agent out everywhere.
    #[schema(min_length = 8)]
    pub password: Option<String>,
    pub role: Option<Role>,
    #[schema(minimum = 0, maximum = 100)]
    pub capacity: Option<i64>,
    /// `true` closes the agent's sockets and refuses its tokens.
    pub disabled: Option<bool>,
    /// Replaces the agent's groups; each must exist.
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

/// ASCII only, so the rule is the one the OpenAPI description states (`pattern`).
fn check_username(u: &str) -> Result<(), ApiError> {
    let ok = !u.is_empty()
        && u.len() <= 64
        && u.chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-@".contains(c));
    if ok {
        Ok(())
    } else {
        Err(ApiError::BadRequest(
            "username: 1-64 ASCII letters, digits, `.`, `_`, `-` or `@`".into(),
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

/// Every agent account (supervisors and admins).
#[utoipa::path(get, path = "/agents", tag = "admin",
    responses((status = 200, description = "Agents", body = Vec<Agent>), AgentErrors),
    security(("bearer" = [])))]
async fn list_agents(
    State(state): State<AppState>,
    auth: AgentAuth,
) -> ApiResult<Json<Vec<Agent>>> {
    auth.require(Role::Supervisor)?;
    Ok(Json(state.accounts.agents().await?))
}

/// One agent: yourself, or anyone for supervisors and admins.
#[utoipa::path(get, path = "/agents/{id}", tag = "admin",
    params(("id" = Uuid, Path, description = "The agent's id")),
    responses(
        (status = 200, description = "The agent", body = Agent),
        AgentErrors, ParamErrors,
        (status = 404, description = "No such agent", body = ErrorBody),
    ),
    security(("bearer" = [])))]
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

/// Creates an agent account (admins).
#[utoipa::path(post, path = "/agents", tag = "admin",
    request_body = CreateAgent,
    responses(
        (status = 201, description = "Created", body = Agent),
        AgentErrors, JsonErrors,
        (status = 409, description = "The username is taken, or a group does not exist", body = ErrorBody),
    ),
    security(("bearer" = [])))]
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

/// Changes an agent (admins); open sockets follow at once.
#[utoipa::path(patch, path = "/agents/{id}", tag = "admin",
    params(("id" = Uuid, Path, description = "The agent's id")),
    request_body = UpdateAgent,
    responses(
        (status = 200, description = "The changed agent", body = Agent),
        AgentErrors, JsonErrors,
        (status = 404, description = "No such agent", body = ErrorBody),
        (status = 409, description = "A group does not exist", body = ErrorBody),
    ),
    security(("bearer" = [])))]
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

/// Deletes an agent (admins; not yourself).
#[utoipa::path(delete, path = "/agents/{id}", tag = "admin",
    params(("id" = Uuid, Path, description = "The agent's id")),
    responses(
        (status = 204, description = "Deleted"),
        AgentErrors, ParamErrors,
        (status = 404, description = "No such agent", body = ErrorBody),
        (status = 409, description = "That is your own account", body = ErrorBody),
    ),
    security(("bearer" = [])))]
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

/// Every group with its members.
#[utoipa::path(get, path = "/groups", tag = "admin",
    responses((status = 200, description = "Groups", body = Vec<Group>), AgentErrors),
    security(("bearer" = [])))]
async fn list_groups(
    State(state): State<AppState>,
    _auth: AgentAuth,
) -> ApiResult<Json<Vec<Group>>> {
    Ok(Json(state.accounts.groups().await?))
}

/// Creates a group (admins).
#[utoipa::path(post, path = "/groups", tag = "admin",
    request_body = Group,
    responses(
        (status = 201, description = "Created", body = Group),
        AgentErrors, JsonErrors,
        (status = 409, description = "A group of that name exists", body = ErrorBody),
    ),
    security(("bearer" = [])))]
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

/// Deletes a group (admins); its members stay.
#[utoipa::path(delete, path = "/groups/{name}", tag = "admin",
    params(("name" = String, Path, description = "The group's name")),
    responses(
        (status = 204, description = "Deleted"),
        AgentErrors,
        (status = 404, description = "No such group", body = ErrorBody),
    ),
    security(("bearer" = [])))]
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
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CannedInput {
    /// What the agent types after `/`: 1-32 characters, no spaces.
    // Not `\S`: ECMAScript (and so the schema) counts U+0085 as a character, Rust as a space.
    #[schema(pattern = r"^[^\s\u0085]{1,32}$")]
    pub shortcut: String,
    pub title: String,
    /// The text inserted: not blank, at most 8192 bytes of UTF-8.
    #[schema(pattern = r"\S", max_length = 8192)]
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
    let shortcut_chars = c.shortcut.chars().count();
    if !(1..=32).contains(&shortcut_chars) || c.shortcut.contains(char::is_whitespace) {
        return Err(ApiError::BadRequest(
            "shortcut: 1-32 characters without spaces".into(),
        ));
    }
    if c.body.trim().is_empty() || c.body.len() > 8 * 1024 {
        return Err(ApiError::BadRequest("body: 1 to 8192 bytes".into()));
    }
    Ok(())
}

/// Every canned reply.
#[utoipa::path(get, path = "/canned-replies", tag = "admin",
    responses((status = 200, description = "Canned replies", body = Vec<CannedReply>), AgentErrors),
    security(("bearer" = [])))]
async fn list_canned(
    State(state): State<AppState>,
    _auth: AgentAuth,
) -> ApiResult<Json<Vec<CannedReply>>> {
    Ok(Json(state.accounts.canned_replies().await?))
}

/// Creates a canned reply (supervisors).
#[utoipa::path(post, path = "/canned-replies", tag = "admin",
    request_body = CannedInput,
    responses(
        (status = 201, description = "Created", body = CannedReply),
        AgentErrors, JsonErrors,
        (status = 409, description = "The shortcut is taken", body = ErrorBody),
    ),
    security(("bearer" = [])))]
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

/// Changes a canned reply (supervisors).
#[utoipa::path(patch, path = "/canned-replies/{id}", tag = "admin",
    params(("id" = Uuid, Path, description = "The canned reply's id")),
    request_body = CannedInput,
    responses(
        (status = 200, description = "The changed reply", body = CannedReply),
        AgentErrors, JsonErrors,
        (status = 404, description = "No such canned reply", body = ErrorBody),
        (status = 409, description = "The shortcut is taken", body = ErrorBody),
    ),
    security(("bearer" = [])))]
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

/// Deletes a canned reply (supervisors).
#[utoipa::path(delete, path = "/canned-replies/{id}", tag = "admin",
    params(("id" = Uuid, Path, description = "The canned reply's id")),
    responses(
        (status = 204, description = "Deleted"),
        AgentErrors, ParamErrors,
        (status = 404, description = "No such canned reply", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn delete_canned(
    State(state): State<AppState>,
    auth: AgentAuth,
    Path(id): Path<Uuid>,
) -> ApiResult<StatusCode> {
    auth.require(Role::Supervisor)?;
    state.accounts.delete_canned(id).await?;
    Ok(StatusCode::NO_CONTENT)
}
