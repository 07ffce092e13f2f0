//! The webhook delivery log, for admins: every attempt to deliver an event, newest first,
//! so a retailer can see why their receiver is not hearing from Kefu.

use axum::{Router, extract::State, routing::get};
use serde::Deserialize;

use super::{
    AppState,
    auth::AgentAuth,
    error::{ApiError, ApiResult},
    extract::{Json, Query},
};
use crate::{
    store::{Role, WebhookDelivery},
    webhooks::KEEP,
};

pub fn router() -> Router<AppState> {
    Router::new().route("/admin/webhooks/deliveries", get(deliveries))
}

/// Query of `GET /admin/webhooks/deliveries`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DeliveriesQuery {
    /// How many attempts to list (1 to 1000, default 50).
    limit: Option<i64>,
}

async fn deliveries(
    State(state): State<AppState>,
    auth: AgentAuth,
    Query(q): Query<DeliveriesQuery>,
) -> ApiResult<Json<Vec<WebhookDelivery>>> {
    auth.require(Role::Admin)?;
    let limit = q.limit.unwrap_or(50);
    if !(1..=KEEP).contains(&limit) {
        return Err(ApiError::BadRequest(format!("limit must be 1 to {KEEP}")));
    }
    Ok(Json(state.deliveries.recent(limit).await?))
}
