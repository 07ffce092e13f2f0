//! Bot accounts (admins create them; the token is shown once) and the bot API: with its
//! token a bot reads a conversation and replies, tags, or hands it off to a human, so
//! automation can be written in any language. Bots hear about conversations through
//! webhooks (`[[webhooks]]`); see `docs/plugins.md`.

use axum::{extract::State, http::StatusCode};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use super::{
    AppState,
    auth::{AgentAuth, BotAuth},
    error::{ApiError, ApiResult, ErrorBody},
    extract::{Json, Path, Query},
    openapi::{AgentErrors, BotErrors, JsonErrors, ParamErrors},
};
use crate::{
    sessions::automation::Automaton,
    store::{Body, Bot, ConvState, Conversation, Priority, Role, StoredMessage},
};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_bots, create_bot))
        .routes(routes!(delete_bot))
        .routes(routes!(conversation))
        .routes(routes!(messages, send))
        .routes(routes!(tag))
        .routes(routes!(handoff))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct CreateBot {
    /// Shown on the bot's messages: 1 to 64 characters, not blank.
    #[schema(pattern = r"\S", max_length = 64)]
    name: String,
}

/// A new bot with its token: the only time the token is shown.
#[derive(Serialize, ToSchema)]
struct CreatedBot {
    #[serde(flatten)]
    bot: Bot,
    token: String,
}

/// Creates a bot account (admins); the answer holds its token, shown only now.
#[utoipa::path(post, path = "/bots", tag = "bots",
    request_body = CreateBot,
    responses(
        (status = 201, description = "Created, with its token", body = CreatedBot),
        AgentErrors, JsonErrors,
        (status = 409, description = "A bot of that name exists", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn create_bot(
    State(state): State<AppState>,
    auth: AgentAuth,
    Json(req): Json<CreateBot>,
) -> ApiResult<(StatusCode, Json<CreatedBot>)> {
    auth.require(Role::Admin)?;
    let (bot, token) = state.accounts.create_bot(&req.name).await?;
    Ok((StatusCode::CREATED, Json(CreatedBot { bot, token })))
}

/// Every bot account (admins).
#[utoipa::path(get, path = "/bots", tag = "bots",
    responses((status = 200, description = "Bots", body = Vec<Bot>), AgentErrors),
    security(("bearer" = [])))]
async fn list_bots(State(state): State<AppState>, auth: AgentAuth) -> ApiResult<Json<Vec<Bot>>> {
    auth.require(Role::Admin)?;
    Ok(Json(state.accounts.bots().await?))
}

/// Deletes a bot: its token is refused from its next request on (bots hold no sockets).
#[utoipa::path(delete, path = "/bots/{id}", tag = "bots",
    params(("id" = Uuid, Path, description = "The bot's id")),
    responses(
        (status = 204, description = "Deleted"),
        AgentErrors, ParamErrors,
        (status = 404, description = "No such bot", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn delete_bot(
    State(state): State<AppState>,
    auth: AgentAuth,
    Path(id): Path<Uuid>,
) -> ApiResult<StatusCode> {
    auth.require(Role::Admin)?;
    state.accounts.delete_bot(id).await?;
    Ok(StatusCode::NO_CONTENT)
}

fn automaton(bot: &Bot) -> Automaton {
    Automaton {
        id: bot.id,
        name: bot.name.clone(),
    }
}

/// The conversation, refusing closed ones when the bot wants to act.
async fn open_conversation(state: &AppState, id: Uuid) -> ApiResult<Conversation> {
    let c = state.sessions.conversation_for_bot(id).await?;
    if c.state == ConvState::Closed {
        return Err(ApiError::Conflict("the conversation is closed".into()));
    }
    Ok(c)
}

/// The conversation, for a bot.
#[utoipa::path(get, path = "/bot/conversations/{id}", tag = "bots",
    operation_id = "bot_conversation",
    params(("id" = Uuid, Path, description = "The conversation's id")),
    responses(
        (status = 200, description = "The conversation", body = Conversation),
        BotErrors, ParamErrors,
        (status = 404, description = "No such conversation", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn conversation(
    State(state): State<AppState>,
    _bot: BotAuth,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<Conversation>> {
    Ok(Json(state.sessions.conversation_for_bot(id).await?))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct MessagesQuery {
    /// Messages after this seq.
    after_seq: Option<i64>,
    /// Page size: 1 to `limits.history_page_max`, default 50.
    #[param(minimum = 1, default = 50)]
    limit: Option<i64>,
}

/// Messages the shopper can see (private notes stay with agents), oldest first.
#[utoipa::path(get, path = "/bot/conversations/{id}/messages", tag = "bots",
    operation_id = "bot_messages",
    params(("id" = Uuid, Path, description = "The conversation's id"), MessagesQuery),
    responses(
        (status = 200, description = "Messages", body = Vec<StoredMessage>),
        BotErrors, ParamErrors,
        (status = 404, description = "No such conversation", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn messages(
    State(state): State<AppState>,
    _bot: BotAuth,
    Path(id): Path<Uuid>,
    Query(q): Query<MessagesQuery>,
) -> ApiResult<Json<Vec<StoredMessage>>> {
    let limit = q.limit.unwrap_or(50);
    let max = i64::from(state.settings.limits.history_page_max);
    if !(1..=max).contains(&limit) {
        return Err(ApiError::BadRequest(format!("limit must be 1 to {max}")));
    }
    let after = q.after_seq.unwrap_or(0);
    Ok(Json(
        state
            .sessions
            .shopper_visible_messages(id, after, limit)
            .await?,
    ))
}

/// Give exactly one of `text` and `body`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct SendReq {
    /// The bot's own id for this message: sending it again stores nothing new.
    client_msg_id: String,
    /// Shorthand for `{"type": "text", "text": …}`.
    text: Option<String>,
    /// Any body a bot may send: text, a private note, a product, order or return card.
    body: Option<Body>,
}

/// Replies in the conversation; idempotent by `client_msg_id`.
#[utoipa::path(post, path = "/bot/conversations/{id}/messages", tag = "bots",
    params(("id" = Uuid, Path, description = "The conversation's id")),
    request_body = SendReq,
    responses(
        (status = 201, description = "Stored (or stored before under this client_msg_id)", body = StoredMessage),
        BotErrors, JsonErrors,
        (status = 404, description = "No such conversation", body = ErrorBody),
        (status = 409, description = "The conversation is closed", body = ErrorBody),
        (status = 413, description = "The text is longer than `limits.max_text_bytes`", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn send(
    State(state): State<AppState>,
    BotAuth(bot): BotAuth,
    Path(id): Path<Uuid>,
    Json(req): Json<SendReq>,
) -> ApiResult<(StatusCode, Json<StoredMessage>)> {
    let body = match (req.text, req.body) {
        (Some(text), None) => Body::Text { text },
        (None, Some(body)) => body,
        _ => {
            return Err(ApiError::BadRequest(
                "give exactly one of text or body".into(),
            ));
        }
    };
    let c = open_conversation(&state, id).await?;
    let m = state
        .sessions
        .bot_send(&automaton(&bot), &c, req.client_msg_id, body)
        .await?;
    Ok((StatusCode::CREATED, Json(m)))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct TagReq {
    /// 1 to 20 tags.
    #[schema(min_items = 1, max_items = 20)]
    tags: Vec<String>,
}

/// Adds tags to the conversation.
#[utoipa::path(post, path = "/bot/conversations/{id}/tags", tag = "bots",
    params(("id" = Uuid, Path, description = "The conversation's id")),
    request_body = TagReq,
    responses(
        (status = 200, description = "The conversation, tagged", body = Conversation),
        BotErrors, JsonErrors,
        (status = 404, description = "No such conversation", body = ErrorBody),
        (status = 409, description = "The conversation is closed", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn tag(
    State(state): State<AppState>,
    _bot: BotAuth,
    Path(id): Path<Uuid>,
    Json(req): Json<TagReq>,
) -> ApiResult<Json<Conversation>> {
    if req.tags.is_empty() || req.tags.len() > 20 {
        return Err(ApiError::BadRequest("give 1 to 20 tags".into()));
    }
    let mut c = open_conversation(&state, id).await?;
    state.sessions.add_tags(&mut c, &req.tags).await?;
    Ok(Json(c))
}

#[derive(Deserialize, Default, ToSchema)]
#[serde(deny_unknown_fields)]
struct HandoffReq {
    /// The group whose humans should take it (default: where it is).
    group: Option<String>,
    /// A specific agent to offer it to.
    agent_id: Option<Uuid>,
    priority: Option<Priority>,
    /// A private note for the agent (what the bot learned so far).
    note: Option<String>,
}

/// Hands the conversation to a human: tags it `handoff`, optionally notes, prioritises and
/// routes it. The bot should stop replying; agents see the note and the tag.
#[utoipa::path(post, path = "/bot/conversations/{id}/handoff", tag = "bots",
    params(("id" = Uuid, Path, description = "The conversation's id")),
    request_body = HandoffReq,
    responses(
        (status = 200, description = "The conversation, handed off", body = Conversation),
        BotErrors, JsonErrors,
        (status = 404, description = "No such conversation, group or agent", body = ErrorBody),
        (status = 409, description = "The conversation is closed", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn handoff(
    State(state): State<AppState>,
    BotAuth(bot): BotAuth,
    Path(id): Path<Uuid>,
    Json(req): Json<HandoffReq>,
) -> ApiResult<Json<Conversation>> {
    let by = automaton(&bot);
    let mut c = open_conversation(&state, id).await?;
    if let Some(text) = req.note.filter(|t| !t.trim().is_empty()) {
        let key = format!("handoff-note-{}", Uuid::now_v7());
        let note = Body::PrivateNote { text };
        state.sessions.bot_send(&by, &c, key, note).await?;
    }
    state
        .sessions
        .add_tags(&mut c, &["handoff".to_string()])
        .await?;
    if let Some(p) = req.priority {
        state.sessions.set_priority(&mut c, p).await?;
    }
    if req.group.is_some() || req.agent_id.is_some() {
        state
            .sessions
            .route(&by, &mut c, req.group, req.agent_id)
            .await?;
    }
    Ok(Json(c))
}
