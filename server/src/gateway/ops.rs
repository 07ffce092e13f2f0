//! Operations endpoints: `/healthz` (the process answers), `/readyz` (the database answers,
//! and we are not shutting down), `/metrics` (Prometheus text format), `/api/openapi.json`.

use axum::{extract::State, http::StatusCode, response::IntoResponse};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(healthz))
        .routes(routes!(readyz))
        .routes(routes!(metrics))
        .routes(routes!(openapi))
}

/// The process answers.
#[utoipa::path(get, path = "/healthz", tag = "ops",
    responses((status = 200, description = "`ok`", content_type = "text/plain", body = String)))]
async fn healthz() -> &'static str {
    "ok"
}

/// The database answers and the server is not shutting down.
#[utoipa::path(get, path = "/readyz", tag = "ops",
    responses(
        (status = 200, description = "`ready`", content_type = "text/plain", body = String),
        (status = 503, description = "Shutting down, or the database does not answer", content_type = "text/plain", body = String),
    ))]
async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    if *state.shutdown.borrow() {
        return (StatusCode::SERVICE_UNAVAILABLE, "shutting down");
    }
    match state.sessions.ping().await {
        Ok(()) => (StatusCode::OK, "ready"),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check failed");
            (StatusCode::SERVICE_UNAVAILABLE, "database unavailable")
        }
    }
}

/// Prometheus metrics (text format).
#[utoipa::path(get, path = "/metrics", tag = "ops",
    responses((status = 200, description = "Metrics", content_type = "text/plain", body = String)))]
async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4",
        )],
        state.metrics.render(),
    )
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
