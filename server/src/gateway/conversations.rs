//! Conversation lists by view, history paged by `seq`, and close. (One conversation is
//! served by `shopper`, with its queue place and rating.)

use axum::{
    Router,
    extract::State,
    http::StatusCode,
    routing::{get, post},
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{
    AppState,
    auth::{AgentAuth, AnyAuth},
    error::{ApiError, ApiResult},
    extract::{Json, Path, Query},
};
use crate::{
    sessions::Page,
    store::{ConvState, Conversation, ConversationFilter, Role, StoredMessage},
};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/conversations", get(list))
        .route("/conversations/{id}/messages", get(messages))
        .route("/conversations/{id}/close", post(close))
}

#[derive(Deserialize)]
pub struct ListQuery {
    /// `mine` (default), `queue`, `open` or `closed`.
    pub view: Option<String>,
    pub limit: Option<i64>,
    /// Paging: only conversations updated before this (unix ms).
    pub before: Option<i64>,
}

async fn list(
    State(state): State<AppState>,
    auth: AgentAuth,
    Query(q): Query<ListQuery>,
) -> ApiResult<Json<Vec<Conversation>>> {
    let limit = q.limit.unwrap_or(50);
    if !(1..=200).contains(&limit) {
        return Err(ApiError::BadRequest("limit must be 1 to 200".into()));
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

#[derive(Deserialize)]
pub struct HistoryQuery {
    /// Messages after this seq (forward paging, catching up).
    pub after_seq: Option<i64>,
    /// Messages before this seq (backward paging, scrolling up).
    pub before_seq: Option<i64>,
    pub limit: Option<u32>,
}

#[derive(Serialize)]
pub struct HistoryPage {
    pub messages: Vec<StoredMessage>,
    /// Whether more messages exist in the paging direction.
    pub has_more: bool,
}

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

async fn close(
    State(state): State<AppState>,
    AnyAuth(caller): AnyAuth,
    Path(id): Path<Uuid>,
) -> ApiResult<StatusCode> {
    state.sessions.close(Some(&caller), id).await?;
    Ok(StatusCode::NO_CONTENT)
}
