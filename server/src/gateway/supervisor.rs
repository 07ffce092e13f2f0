//! The supervisors' floor and actions (supervisors and admins; agents get 403): `GET
//! /floor` (the same floor their sockets receive), and per conversation `reassign`,
//! `whisper`, `take-over`, plus `POST /agents/{id}/status`. Closing is
//! `POST /conversations/{id}/close` (`conversations`). The role is checked by the domain
//! (`sessions::floor`), which audits every attempt, refused ones included.

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
    sessions::floor::{FloorStatus, FloorView, ReassignTo},
    store::StoredMessage,
};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(floor))
        .routes(routes!(reassign))
        .routes(routes!(whisper))
        .routes(routes!(take_over))
        .routes(routes!(set_agent_status))
}

/// The live floor now: agents (status, load, last reply), queues (waiting, oldest, expected
/// wait) and service-level breaches. Supervisors' sockets receive it as the `Floor` frame
/// whenever it changes; this is the same value as JSON.
#[utoipa::path(get, path = "/floor", tag = "supervisor",
    responses(
        (status = 200, description = "The floor", body = FloorView),
        AgentErrors,
    ),
    security(("bearer" = [])))]
async fn floor(State(state): State<AppState>, auth: AgentAuth) -> ApiResult<Json<FloorView>> {
    Ok(Json(state.sessions.floor(&auth.agent).await?))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct ReassignRequest {
    /// The agent who takes it (connected, enabled). Give this or `group`.
    agent_id: Option<Uuid>,
    /// The group whose queue it goes to. Give this or `agent_id`.
    #[schema(min_length = 1)]
    group: Option<String>,
    /// A private note for whoever gets it (agents only; never the shopper).
    #[serde(default)]
    note: String,
}

/// Moves a conversation to another agent or group, with an optional private note (audited).
/// An assigned conversation is transferred; a waiting one moves to the group's queue, or
/// is assigned to the agent (who must answer its group unless a supervisor).
#[utoipa::path(post, path = "/conversations/{id}/reassign", tag = "supervisor",
    params(("id" = Uuid, Path, description = "The conversation's id")),
    request_body = ReassignRequest,
    responses(
        (status = 204, description = "Reassigned"),
        AgentErrors, JsonErrors, ParamErrors,
        (status = 404, description = "No such conversation, agent or group", body = ErrorBody),
        (status = 409, description = "Closed, already there, or the agent cannot take it now (not connected, at capacity)", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn reassign(
    State(state): State<AppState>,
    auth: AgentAuth,
    Path(id): Path<Uuid>,
    Json(req): Json<ReassignRequest>,
) -> ApiResult<StatusCode> {
    let to = match (req.agent_id, req.group.filter(|g| !g.is_empty())) {
        (Some(agent), None) => ReassignTo::Agent(agent),
        (None, Some(group)) => ReassignTo::Group(group),
        _ => {
            return Err(ApiError::BadRequest(
                "give exactly one of `agent_id` and `group`".into(),
            ));
        }
    };
    state
        .sessions
        .reassign(&auth.agent, id, to, &req.note)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct WhisperRequest {
    /// The note: not blank, at most `limits.max_text_bytes` bytes.
    #[schema(min_length = 1)]
    text: String,
    /// Idempotency key (e.g. a UUID): a resend returns the note stored the first time.
    #[schema(min_length = 1, max_length = 64)]
    client_msg_id: String,
}

/// Whispers to the conversation's agent: a private note agents and supervisors see, the
/// shopper never (audited).
#[utoipa::path(post, path = "/conversations/{id}/whisper", tag = "supervisor",
    params(("id" = Uuid, Path, description = "The conversation's id")),
    request_body = WhisperRequest,
    responses(
        (status = 200, description = "The note as stored", body = StoredMessage),
        AgentErrors, JsonErrors, ParamErrors,
        (status = 404, description = "No such conversation", body = ErrorBody),
        (status = 409, description = "The conversation is closed, or the key names another message", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn whisper(
    State(state): State<AppState>,
    auth: AgentAuth,
    Path(id): Path<Uuid>,
    Json(req): Json<WhisperRequest>,
) -> ApiResult<Json<StoredMessage>> {
    let note = state
        .sessions
        .whisper(&auth.agent, id, req.text, req.client_msg_id)
        .await?;
    Ok(Json(note))
}

/// Assigns the conversation to the caller, whoever has it or if it waits (audited). The
/// caller's desk must be connected.
#[utoipa::path(post, path = "/conversations/{id}/take-over", tag = "supervisor",
    params(("id" = Uuid, Path, description = "The conversation's id")),
    responses(
        (status = 204, description = "Taken over"),
        AgentErrors, ParamErrors,
        (status = 404, description = "No such conversation", body = ErrorBody),
        (status = 409, description = "Closed, the caller's already, or the caller's desk is not connected", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn take_over(
    State(state): State<AppState>,
    auth: AgentAuth,
    Path(id): Path<Uuid>,
) -> ApiResult<StatusCode> {
    state.sessions.take_over(&auth.agent, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct StatusRequest {
    status: FloorStatus,
}

/// Sets a connected agent's status as if the agent had (its desk shows it; away and
/// offline agents are offered nothing new). Audited.
#[utoipa::path(post, path = "/agents/{id}/status", tag = "supervisor",
    params(("id" = Uuid, Path, description = "The agent's id")),
    request_body = StatusRequest,
    responses(
        (status = 204, description = "Set"),
        AgentErrors, JsonErrors, ParamErrors,
        (status = 404, description = "No such agent", body = ErrorBody),
        (status = 409, description = "The agent is not connected", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn set_agent_status(
    State(state): State<AppState>,
    auth: AgentAuth,
    Path(id): Path<Uuid>,
    Json(req): Json<StatusRequest>,
) -> ApiResult<StatusCode> {
    state
        .sessions
        .set_agent_status(&auth.agent, id, req.status)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
