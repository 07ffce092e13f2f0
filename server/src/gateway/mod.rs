//! The HTTP edge: REST (JSON, `/api/v1`), WebSockets (`/ws/agent`, `/ws/shopper`), health
//! and metrics. Handlers are thin: they authenticate, decode, and call the domain —
//! [`Sessions`] (conversations, live connections), [`Accounts`] (agents, tokens, bots,
//! visitors, canned replies), [`Actions`](crate::actions::Actions) (the back office). They
//! never reach the store: the domain's methods are the one way into state.
//!
//! - `auth`: bearer-token extractors.
//! - `error`: `ApiError`, the JSON `{code, message}` every failure becomes.
//! - `extract`: `Json`/`Query`/`Path` whose rejections are `ApiError`s too.
//! - `account`, `admin`, `conversations`, `customers`, `visitor`, `shopper`, `attachments`,
//!   `bots` (bot accounts and the bot API), `blocking` (supervisors block shoppers),
//!   `webhooks` (delivery log), `desk_updates` (signed desktop builds for Tauri's
//!   updater), `ops`: REST routers.
//! - `openapi`: the REST API's OpenAPI description, generated from the handlers' annotations
//!   as the routers register them (how to annotate a new route is there).
//! - `assets`: the embedded shopper widget (`/widget.js`) and full-page chat (`/chat`).
//! - `ws`: socket I/O (the only module that knows the WebSocket library).
//! - `limits`: every abuse limit (frames, shoppers, addresses, sign-in, sockets).
//! - `serve`: the HTTP/1 server under the router (header timeout, client addresses).
//! - `tls`: built-in TLS (`[server.tls]`): certificate loading, SIGHUP reload, handshakes.

pub mod account;
pub mod actions;
pub mod admin;
pub mod assets;
pub mod attachments;
pub mod auth;
pub mod blocking;
pub mod bots;
pub mod conversations;
pub mod customers;
pub mod desk_updates;
pub mod error;
pub mod extract;
pub mod limits;
pub mod openapi;
pub mod ops;
pub mod reports;
pub mod search;
pub mod serve;
pub mod shopper;
pub mod supervisor;
pub mod tls;
pub mod visitor;
pub mod webhooks;
pub mod ws;

use std::sync::Arc;

use axum::{Router, extract::DefaultBodyLimit};
use metrics_exporter_prometheus::PrometheusHandle;
use tokio::sync::watch;
use utoipa::OpenApi as _;
use utoipa_axum::router::OpenApiRouter;

use crate::{accounts::Accounts, config::Settings, sessions::Sessions, webhooks::DeliveryLog};

/// Shared state of every handler: cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub settings: Arc<Settings>,
    pub sessions: Arc<Sessions>,
    pub accounts: Arc<Accounts>,
    /// Webhook deliveries, newest first (for admins).
    pub deliveries: DeliveryLog,
    pub metrics: PrometheusHandle,
    /// Flips to `true` when the server starts shutting down; sockets say goodbye.
    pub shutdown: watch::Receiver<bool>,
    /// Every abuse limit (see [`limits`]).
    pub limits: Arc<limits::Limits>,
    /// Customer views from the retailer's back office.
    pub views: Arc<crate::integrations::view::Views>,
    /// Actions in the back office from the chat.
    pub actions: Arc<crate::actions::Actions>,
}

/// All routes.
pub fn router(state: AppState) -> Router {
    let (router, _) = routes(&state.settings).split_for_parts();
    router.with_state(state)
}

/// All routes with their OpenAPI description ([`openapi`]): each module registers its
/// handlers with `routes!`, so what is served and what is described are the same list.
pub fn routes(settings: &Settings) -> OpenApiRouter<AppState> {
    let json_limit = settings.limits.max_json_bytes;
    let api = OpenApiRouter::new()
        .merge(account::router())
        .merge(admin::router())
        .merge(conversations::router())
        .merge(customers::router())
        .merge(actions::router())
        .merge(visitor::router())
        .merge(shopper::router())
        .merge(bots::router())
        .merge(blocking::router())
        .merge(webhooks::router())
        .merge(desk_updates::router())
        .merge(supervisor::router())
        .merge(reports::router())
        .merge(search::router())
        .layer(DefaultBodyLimit::max(json_limit))
        .merge(attachments::router(settings.attachments.max_bytes))
        .layer(cors(settings));
    OpenApiRouter::with_openapi(openapi::ApiDoc::openapi())
        .nest("/api/v1", api)
        .merge(assets::router())
        .merge(ws::router())
        .merge(ops::router(settings))
}

/// Shops' pages call the REST API from their own origin (the widget runs there): allow the
/// origins some site lists. Shopper tokens travel in a header, never in cookies, and each
/// visitor endpoint checks the origin against its own site's list.
fn cors(settings: &Settings) -> tower_http::cors::CorsLayer {
    use axum::http::{HeaderValue, Method, header};
    use tower_http::cors::{AllowOrigin, CorsLayer};
    let origins: std::collections::HashSet<HeaderValue> = settings
        .sites
        .iter()
        .flat_map(|s| &s.allowed_origins)
        .filter_map(|o| HeaderValue::from_str(o).ok())
        .collect();
    CorsLayer::new()
        .allow_origin(AllowOrigin::predicate(move |origin, _| {
            origins.contains(origin)
        }))
        .allow_methods([Method::GET, Method::POST])
        .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE])
        .max_age(std::time::Duration::from_secs(600))
}
