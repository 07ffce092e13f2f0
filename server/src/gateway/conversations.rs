//! Conversation lists by view, history paged by `seq`, and close. (One conversation is
//! served by `shopper`, with its queue place and rating.)

use axum::{extract::State, http::StatusCode};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use super::{
    AppState,
    auth::{AgentAuth, AnyAuth},
    error::{ApiError, ApiResult, ErrorBody},
    extract::{Json, Path, Query},
    openapi::{self, AgentErrors, CallerErrors, ParamErrors},
};
use crate::{
    sessions::Page,
    store::{ConvState, Conversation, ConversationFilter, Role, StoredMessage},
};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(messages))
        .routes(routes!(close))
}

/// The views of `GET /conversations`.
const VIEWS: [&str; 4] = ["mine", "queue", "open", "closed"];
/// Most conversations in one list page.
const LIST_LIMIT_MAX: i64 = 200;
const LIST_LIMIT_DEFAULT: i64 = 50;

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// `mine` (default), `queue`, `open` or `closed`.
    #[param(schema_with = view_schema)]
    pub view: Option<String>,
    /// Page size.
    #[param(schema_with = list_limit_schema)]
    pub limit: Option<i64>,
    /// Paging: only conversations updated before this (unix ms).
    pub before: Option<i64>,
}

fn view_schema() -> utoipa::openapi::Object {
    openapi::one_of_strings(&VIEWS)
}

fn list_limit_schema() -> utoipa::openapi::Object {
    openapi::limit(LIST_LIMIT_MAX, LIST_LIMIT_DEFAULT)
}

/// The agent's conversations by view: `mine` (assigned to me), `queue` (waiting in my
/// groups; all groups for supervisors), `open`, `closed`; most recently active first.
#[utoipa::path(get, path = "/conversations", tag = "conversations",
    params(ListQuery),
    responses(
        (status = 200, description = "Conversations", body = Vec<Conversation>),
        AgentErrors, ParamErrors,
    ),
    security(("bearer" = [])))]
async fn list(
    State(state): State<AppState>,
    auth: AgentAuth,
    Query(q): Query<ListQuery>,
) -> ApiResult<Json<Vec<Conversation>>> {
    let limit = q.limit.unwrap_or(LIST_LIMIT_DEFAULT);
    if !(1..=LIST_LIMIT_MAX).contains(&limit) {
        return Err(ApiError::BadRequest(format!(
            "limit must be 1 to {LIST_LIMIT_MAX}"
        )));
    }
    let me = &auth.agent;
    let supervisor = me.role >= Role::Supervisor;
    let my_groups = (!supervisor).then(|| me.groups.clone());
    let (states, groups, agent_id) = match q.view.as_deref().unwrap_or("mine") {
        "mine" => (vec![ConvState::Assigned], None, Some(me.id)),
        "queue" => (vec![ConvState::Queued], my_groups, None),
        "open" if supervisor => (vec![ConvState::Queued, ConvState::Assigned], None, None),
        "open" => (
            vec![ConvState::Queued, ConvState::Assigned],
            my_groups,
            None,
        ),
        "closed" if supervisor => (vec![ConvState::Closed], None, None),
        "closed" => (vec![ConvState::Closed], None, Some(me.id)),
        other => {
            return Err(ApiError::BadRequest(format!(
                "unknown view `{other}`: use mine, queue, open or closed"
            )));
        }
    };
    let filter = ConversationFilter {
        states,
        groups,
        agent_id,
        updated_before: q.before,
        limit,
    };
    let mut convs = state.sessions.list(&filter).await?;
    // An agent's "open" view shows its group's queue plus only its own assigned chats.
    if !supervisor && q.view.as_deref() == Some("open") {
        convs.retain(|c| c.state == ConvState::Queued || c.agent_id == Some(me.id));
    }
    Ok(Json(convs))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct HistoryQuery {
    /// Messages after this seq (forward paging, catching up). Not with `before_seq`.
    pub after_seq: Option<i64>,
    /// Messages before this seq (backward paging, scrolling up). Not with `after_seq`.
    pub before_seq: Option<i64>,
    /// Page size: 1 to `limits.history_page_max`, default 50.
    #[param(minimum = 1, default = 50)]
    pub limit: Option<u32>,
}

#[derive(Serialize, ToSchema)]
pub struct HistoryPage {
    pub messages: Vec<StoredMessage>,
    /// Whether more messages exist in the paging direction.
    pub has_more: bool,
}

/// A page of the conversation's messages in `seq` order (shoppers never see private notes).
#[utoipa::path(get, path = "/conversations/{id}/messages", tag = "conversations",
    params(("id" = Uuid, Path, description = "The conversation's id"), HistoryQuery),
    responses(
        (status = 200, description = "A page of messages", body = HistoryPage),
        CallerErrors,
        (status = 400, description = "Both `after_seq` and `before_seq`, or a malformed or out-of-range parameter", body = ErrorBody),
        (status = 404, description = "No such conversation, or not the caller's", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn messages(
    State(state): State<AppState>,
    AnyAuth(caller): AnyAuth,
    Path(id): Path<Uuid>,
    Query(q): Query<HistoryQuery>,
) -> ApiResult<Json<HistoryPage>> {
    let limit = q.limit.unwrap_or(50);
    let page = match (q.after_seq, q.before_seq) {
        (Some(_), Some(_)) => {
            return Err(ApiError::BadRequest(
                "give after_seq or before_seq, not both".into(),
            ));
        }
        (None, Some(before)) => Page::Before(before),
        (after, None) => Page::After(after.unwrap_or(0)),
    };
    let messages = state.sessions.history(&caller, id, page, limit).await?;
    let has_more = messages.len() == limit as usize;
    Ok(Json(HistoryPage { messages, has_more }))
}

/// Closes the conversation (its agent, a supervisor, or its shopper).
#[utoipa::path(post, path = "/conversations/{id}/close", tag = "conversations",
    params(("id" = Uuid, Path, description = "The conversation's id")),
    responses(
        (status = 204, description = "Closed"),
        CallerErrors, ParamErrors,
        (status = 404, description = "No such conversation, or not the caller's", body = ErrorBody),
        (status = 409, description = "The conversation is closed", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn close(
    State(state): State<AppState>,
    AnyAuth(caller): AnyAuth,
    Path(id): Path<Uuid>,
) -> ApiResult<StatusCode> {
    state.sessions.close(Some(&caller), id).await?;
    Ok(StatusCode::NO_CONTENT)
}
