//! Operations endpoints: `/healthz` (the process answers), `/readyz` (the database answers,
//! and we are not shutting down), `/metrics` (Prometheus text format), `/api/openapi.json`.
//!
//! `/metrics` follows `[metrics]`: on the main port unless `listen` names an address of its
//! own (then the main port does not serve it at all), and behind a bearer token when `token`
//! is set.

use anyhow::Context as _;
use axum::{
    Router,
    extract::State,
    http::{HeaderMap, StatusCode},
    response::IntoResponse,
    routing::get,
};
use sha2::{Digest, Sha256};

use super::{
    AppState,
    error::{ApiError, ApiResult},
};
use crate::config::Settings;

pub fn router(settings: &Settings) -> Router<AppState> {
    let router = Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/api/openapi.json", get(openapi));
    if settings.metrics.listen.is_empty() {
        router.route("/metrics", get(metrics))
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
    let app = Router::new()
        .route("/metrics", get(metrics))
        .with_state(state);
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

async fn metrics(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> ApiResult<impl IntoResponse> {
    check_metrics_token(&state.settings.metrics.token, &headers)?;
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

/// The REST API's OpenAPI 3.1 description (kept beside the code; a test checks that every
/// path in it is served).
async fn openapi() -> impl IntoResponse {
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        include_str!("../../api/openapi.json"),
    )
}
