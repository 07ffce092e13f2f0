//! The webhook delivery log, for admins: every attempt to deliver an event, newest first,
//! so a retailer can see why their receiver is not hearing from Kefu.

use axum::extract::State;
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{
    AppState,
    auth::AgentAuth,
    error::{ApiError, ApiResult},
    extract::{Json, Query},
    openapi::{self, AgentErrors, ParamErrors},
};
use crate::{
    store::{Role, WebhookDelivery},
    webhooks::KEEP,
};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(deliveries))
}

const DELIVERIES_LIMIT_DEFAULT: i64 = 50;

/// Query of `GET /admin/webhooks/deliveries`.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct DeliveriesQuery {
    /// How many attempts to list (1 to 1000, default 50).
    #[param(schema_with = deliveries_limit_schema)]
    limit: Option<i64>,
}

fn deliveries_limit_schema() -> utoipa::openapi::Object {
    openapi::limit(KEEP, DELIVERIES_LIMIT_DEFAULT)
}

/// Every attempt to deliver a webhook event, newest first (admins).
#[utoipa::path(get, path = "/admin/webhooks/deliveries", tag = "webhooks",
    params(DeliveriesQuery),
    responses(
        (status = 200, description = "Delivery attempts", body = Vec<WebhookDelivery>),
        AgentErrors, ParamErrors,
    ),
    security(("bearer" = [])))]
async fn deliveries(
    State(state): State<AppState>,
    auth: AgentAuth,
    Query(q): Query<DeliveriesQuery>,
) -> ApiResult<Json<Vec<WebhookDelivery>>> {
    auth.require(Role::Admin)?;
    let limit = q.limit.unwrap_or(DELIVERIES_LIMIT_DEFAULT);
    if !(1..=KEEP).contains(&limit) {
        return Err(ApiError::BadRequest(format!("limit must be 1 to {KEEP}")));
    }
    Ok(Json(state.deliveries.recent(limit).await?))
}
