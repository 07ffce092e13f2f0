//! What the widget asks over REST besides its session: the site's chat settings, opening a
//! conversation before the first message (with the page the shopper is on), the conversation
//! as the shopper sees it (no tags, priority or routing detail), and the satisfaction
//! rating after close.

use axum::{
    extract::State,
    http::{HeaderMap, StatusCode},
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use super::{
    AppState,
    auth::{AnyAuth, VisitorAuth},
    error::{ApiError, ApiResult, ErrorBody},
    extract::{Json, Path, Query},
    limits::ClientIp,
    openapi::{CallerErrors, JsonErrors, ParamErrors, ShopperErrors},
    visitor::{check_origin, site},
};
use crate::{
    sessions::Caller,
    store::{ConvState, Conversation, PageContext, Rating},
    wire,
};

/// A conversation as its shopper sees it: its state and place in the queue, never how the
/// desk handles it (tags such as `escalated` or `keyword:…`, priority, group, agent ids).
#[derive(Serialize, ToSchema)]
pub struct ShopperConversationView {
    pub id: Uuid,
    pub state: ConvState,
    /// Seq of the newest message.
    pub last_seq: i64,
    pub created_at: i64,
    pub updated_at: i64,
    pub closed_at: Option<i64>,
    pub close_reason: Option<String>,
    /// The page the shopper reported (its own data).
    pub context: PageContext,
    /// 1-based place in the queue while it waits unoffered.
    pub queue_position: Option<u32>,
    /// The shopper's rating, once given.
    pub rating: Option<Rating>,
}

/// What `GET /conversations/{id}` answers: the desk's view for agents, the shopper's own.
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
pub enum ConversationReply {
    Agent(Box<ConversationView>),
    Shopper(Box<ShopperConversationView>),
}

impl From<ConversationView> for ShopperConversationView {
    fn from(v: ConversationView) -> Self {
        let c = v.conversation;
        Self {
            id: c.id,
            state: c.state,
            last_seq: c.last_seq,
            created_at: c.created_at,
            updated_at: c.updated_at,
            closed_at: c.closed_at,
            close_reason: c.close_reason,
            context: c.context,
            queue_position: v.queue_position,
            rating: v.rating,
        }
    }
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(config))
        .routes(routes!(open))
        .routes(routes!(one))
        .routes(routes!(rate))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ConfigQuery {
    /// The widget id (`data-site`).
    pub site_id: String,
}

/// What the widget needs before the shopper types.
#[derive(Serialize, ToSchema)]
pub struct WidgetConfig {
    pub site_id: String,
    pub site_name: String,
    /// Greeting; empty means the widget's own, in the shopper's language.
    pub welcome: String,
    /// Agents of the site's default group online now; 0 means "leave a message".
    pub agents_online: u32,
    pub max_upload_bytes: usize,
    pub upload_types: Vec<String>,
    pub max_text_bytes: usize,
}

/// The site's chat settings for the widget (no token needed).
#[utoipa::path(get, path = "/visitor/config", tag = "visitor",
    params(ConfigQuery),
    responses(
        (status = 200, description = "The widget's settings", body = WidgetConfig),
        ParamErrors,
        (status = 403, description = "The page's origin is not allowed for the site", body = ErrorBody),
        (status = 404, description = "No such site", body = ErrorBody),
        (status = 429, description = "Too many requests from this address: wait", body = ErrorBody),
    ))]
async fn config(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<ConfigQuery>,
) -> ApiResult<Json<WidgetConfig>> {
    let site = site(&state.settings, &q.site_id)?;
    check_origin(site, &headers)?;
    let s = &state.settings;
    Ok(Json(WidgetConfig {
        site_id: site.id.clone(),
        site_name: site.name.clone(),
        welcome: site.welcome.clone(),
        agents_online: state.sessions.agents_online(&site.default_group).await,
        max_upload_bytes: s.attachments.max_bytes,
        upload_types: s.attachments.allowed_types.clone(),
        max_text_bytes: s.limits.max_text_bytes,
    }))
}

#[derive(Deserialize, Default, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OpenRequest {
    /// Queue to wait in; empty or absent means the site's default group.
    #[serde(default)]
    pub group: String,
    /// The page the shopper is on.
    pub context: Option<ContextJson>,
    /// The shopper used the leave-a-message form because nobody was online.
    #[serde(default)]
    pub left_message: bool,
}

/// The page context as JSON (the same fields as the protobuf `PageContext`).
#[derive(Deserialize, Default, ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct ContextJson {
    pub url: String,
    pub title: String,
    pub product_id: String,
    pub order_id: String,
}

/// A conversation as its shopper or agent sees it over REST.
#[derive(Serialize, ToSchema)]
pub struct ConversationView {
    #[serde(flatten)]
    pub conversation: Conversation,
    /// 1-based place in the queue while it waits unoffered.
    pub queue_position: Option<u32>,
    /// The shopper's rating, once given.
    pub rating: Option<Rating>,
}

async fn view(state: &AppState, conversation: Conversation) -> ApiResult<ConversationView> {
    let queue_position = match conversation.state {
        ConvState::Queued => state.sessions.queue_position(conversation.id).await,
        _ => None,
    };
    let rating = state.sessions.rating(conversation.id).await?;
    Ok(ConversationView {
        conversation,
        queue_position,
        rating,
    })
}

/// Opens (or finds) the shopper's conversation before its first message, with the page
/// the shopper is on.
#[utoipa::path(post, path = "/visitor/conversation", tag = "visitor",
    request_body = OpenRequest,
    responses(
        (status = 200, description = "The shopper's open conversation", body = ShopperConversationView),
        ShopperErrors, JsonErrors,
        (status = 429, description = "Too many conversations from this shopper: wait", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn open(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    VisitorAuth(visitor): VisitorAuth,
    Json(req): Json<OpenRequest>,
) -> ApiResult<Json<ShopperConversationView>> {
    check_origin(site(&state.settings, &visitor.site_id)?, &headers)?;
    if req.left_message {
        state.limits.left_message(visitor.id)?;
    }
    let context = req.context.map(|c| {
        wire::page_context(kefu_proto::v1::PageContext {
            url: c.url,
            title: c.title,
            product_id: c.product_id,
            order_id: c.order_id,
        })
    });
    // Only a new conversation counts: asking again for the open one costs nothing.
    let admit = || {
        state
            .limits
            .open_conversation(&visitor.site_id, visitor.id, ip)
    };
    let c = state
        .sessions
        .open_for_shopper(&visitor, &req.group, context, req.left_message, &admit)
        .await?;
    Ok(Json(view(&state, c).await?.into()))
}

/// One conversation with its page context, queue position and rating.
#[utoipa::path(get, path = "/conversations/{id}", tag = "conversations",
    params(("id" = Uuid, Path, description = "The conversation's id")),
    responses(
        (status = 200, description = "The conversation: the desk's view for agents, the shopper's own for its shopper", body = ConversationReply),
        CallerErrors, ParamErrors,
        (status = 404, description = "No such conversation, or not the caller's", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn one(
    State(state): State<AppState>,
    AnyAuth(caller): AnyAuth,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<ConversationReply>> {
    let c = state.sessions.authorize(&caller, id, false).await?;
    let v = view(&state, c).await?;
    Ok(Json(match caller {
        Caller::Shopper(_) => ConversationReply::Shopper(Box::new(v.into())),
        Caller::Agent(_) => ConversationReply::Agent(Box::new(v)),
    }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RateRequest {
    /// 1 (bad) to 5 (great).
    #[schema(minimum = 1, maximum = 5)]
    pub score: i64,
    /// At most 1000 characters (longer is refused with 413).
    #[serde(default)]
    #[schema(max_length = 1000)]
    pub comment: String,
}

/// The longest rating comment kept, in characters.
const MAX_COMMENT_CHARS: usize = 1000;

/// A shopper rates its own closed conversation, once. Agents see it as an activity entry.
/// The shopper rates its own closed conversation, once.
#[utoipa::path(post, path = "/conversations/{id}/rating", tag = "conversations",
    params(("id" = Uuid, Path, description = "The conversation's id")),
    request_body = RateRequest,
    responses(
        (status = 204, description = "Rated"),
        ShopperErrors, JsonErrors,
        (status = 404, description = "No such conversation, or not the shopper's", body = ErrorBody),
        (status = 409, description = "Not closed yet, or already rated", body = ErrorBody),
        (status = 413, description = "The comment is longer than 1000 characters", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn rate(
    State(state): State<AppState>,
    VisitorAuth(visitor): VisitorAuth,
    Path(id): Path<Uuid>,
    Json(req): Json<RateRequest>,
) -> ApiResult<StatusCode> {
    if !(1..=5).contains(&req.score) {
        return Err(ApiError::BadRequest("score must be 1 to 5".into()));
    }
    if req.comment.chars().count() > MAX_COMMENT_CHARS {
        return Err(ApiError::TooLarge(format!(
            "the comment may be at most {MAX_COMMENT_CHARS} characters"
        )));
    }
    let caller = Caller::Shopper(visitor);
    state
        .sessions
        .rate(&caller, id, req.score, req.comment.trim())
        .await?;
    metrics::counter!("kefu_ratings_total", "score" => req.score.to_string()).increment(1);
    Ok(StatusCode::NO_CONTENT)
}
