//! Operations endpoints: `/healthz` (the process answers), `/readyz` (the database answers,
//! and we are not shutting down), `/metrics` (Prometheus text format), `/api/openapi.json`.
//!
//! `/metrics` follows `[metrics]`: on the main port unless `listen` names an address of its
//! own (then the main port does not serve it at all), and behind a bearer token when `token`
//! is set.

use std::time::Duration;

use anyhow::Context as _;
use axum::{
    extract::State,
    http::{HeaderMap, StatusCode},
    response::IntoResponse,
};
use sha2::{Digest, Sha256};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{
    AppState,
    error::{ApiError, ApiResult, ErrorBody},
};
use crate::config::Settings;

pub fn router(settings: &Settings) -> OpenApiRouter<AppState> {
    let router = OpenApiRouter::new()
        .routes(routes!(healthz))
        .routes(routes!(readyz))
        .routes(routes!(openapi));
    if settings.metrics.listen.is_empty() {
        router.routes(routes!(metrics))
    } else {
        router
    }
}

/// Serves `/metrics` alone on `[metrics] listen`, until the server shuts down. Binding
/// happens here, before the main port opens, so a taken address stops start-up.
pub async fn spawn_metrics_listener(state: AppState) -> anyhow::Result<()> {
    let addr = state.settings.metrics.listen.clone();
    let listener = tokio::net::TcpListener::bind(&addr)
        .await
        .with_context(|| format!("config key `metrics.listen`: binding {addr}"))?;
    tracing::info!(%addr, "metrics listening");
    let mut stop = state.shutdown.clone();
    let (app, _) = OpenApiRouter::new()
        .routes(routes!(metrics))
        .split_for_parts();
    let app = app.with_state(state);
    tokio::spawn(async move {
        let shutdown = async move {
            let _ = stop.wait_for(|s| *s).await;
        };
        if let Err(e) = axum::serve(listener, app)
            .with_graceful_shutdown(shutdown)
            .await
        {
            tracing::error!(error = %e, "metrics listener failed");
        }
    });
    Ok(())
}

/// The process answers.
#[utoipa::path(get, path = "/healthz", tag = "ops",
    responses((status = 200, description = "`ok`", content_type = "text/plain", body = String)))]
async fn healthz() -> &'static str {
    "ok"
}

/// The database answers, the server is not shutting down and (cluster mode) it is not cut
/// off from NATS.
#[utoipa::path(get, path = "/readyz", tag = "ops",
    responses(
        (status = 200, description = "`ready`", content_type = "text/plain", body = String),
        (status = 503, description = "Shutting down, the database does not answer, or (cluster mode) the node is cut off from NATS", content_type = "text/plain", body = String),
    ))]
async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    match not_ready(&state).await {
        None => (StatusCode::OK, "ready"),
        Some(why) => (StatusCode::SERVICE_UNAVAILABLE, why),
    }
}

/// Why this process is not ready, if it is not; also sets the `kefu_ready` gauge. A check
/// that takes longer than 2 s counts as not ready (and keeps a scrape from timing out).
async fn not_ready(state: &AppState) -> Option<&'static str> {
    let why = if *state.shutdown.borrow() {
        Some("shutting down")
    } else {
        tokio::time::timeout(Duration::from_secs(2), state.sessions.not_ready())
            .await
            .unwrap_or(Some("readiness check timed out"))
    };
    crate::telemetry::set_ready(why.is_none());
    why
}

/// Prometheus metrics (text format); with `metrics.token` set, only for that bearer token.
#[utoipa::path(get, path = "/metrics", tag = "ops",
    responses(
        (status = 200, description = "Metrics", content_type = "text/plain", body = String),
        (status = 401, description = "`metrics.token` is set and the request does not carry it", body = ErrorBody),
    ))]
async fn metrics(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> ApiResult<impl IntoResponse> {
    check_metrics_token(&state.settings.metrics.token, &headers)?;
    not_ready(&state).await;
    Ok((
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4",
        )],
        state.metrics.render(),
    ))
}

/// With a token configured, only `Authorization: Bearer <token>` may read the metrics.
/// Digests are compared, so the time taken says nothing about how much of a guess matched.
fn check_metrics_token(token: &str, headers: &HeaderMap) -> Result<(), ApiError> {
    if token.is_empty() {
        return Ok(());
    }
    let given = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    if Sha256::digest(given) == Sha256::digest(token) {
        Ok(())
    } else {
        Err(ApiError::Unauthenticated(
            "metrics need `Authorization: Bearer <metrics.token>`".into(),
        ))
    }
}

/// This description: OpenAPI 3.1, generated from the handlers (see `gateway::openapi`).
#[utoipa::path(get, path = "/api/openapi.json", tag = "ops",
    responses((status = 200, description = "The OpenAPI description", content_type = "application/json", body = serde_json::Value)))]
async fn openapi(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        super::openapi::json(&state.settings),
    )
}
