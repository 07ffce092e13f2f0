//! # Kefu session server
//!
//! One binary, `kefu`, that routes shoppers' conversations to agents, stores every message
//! durably, and speaks protobuf over WebSockets (`kefu-proto`) plus JSON REST.
//!
//! # Layout
//! - [`config`]: settings from defaults, TOML and `KEFU_*` env, with errors that name the key.
//! - [`cli`]: the command line (`kefu`, `kefu migrate`, `kefu config example`, `kefu agent add`,
//!   `kefu store copy`).
//! - [`auth`]: argon2id passwords, hashed bearer tokens, the shop's signed identity.
//! - [`store`]: the `Store` trait, its SQLite (default) and PostgreSQL (cluster mode)
//!   implementations; one migrations folder per backend in `migrations/`.
//! - [`cluster`]: several nodes on PostgreSQL + NATS: fan-out, routing lease, presence.
//! - [`sessions`]: the domain core: hub (fan-out), writer (ack after commit), router
//!   (queues, offers, capacity, presence). No HTTP, no SQL.
//! - [`gateway`]: axum routes: REST, WebSockets, health and metrics.
//! - [`accounts`]: agents, groups, sign-in tokens, bots, visitors, canned replies; account
//!   changes reach live connections through `sessions`.
//! - [`actions`]: returns, cancellations and order cards from the chat, audited.
//! - [`integrations`]: the retailer's back office (CRM, orders, returns) → one customer view.
//! - [`events`]: domain events (messages stored, conversations opened, offered, assigned,
//!   transferred, closed) and the one sink plugins, webhooks and the prefetch subscribe to.
//! - [`plugins`]: the plugin bus and the built-in plugins (keywords, FAQ bot, hours, …).
//! - [`reports`]: how the team did over a date range, from facts the store keeps as events happen.
//! - [`webhooks`]: signed JSON events to the retailer's systems, retried, logged.
//! - [`wire`]: rows ⇄ protobuf.
//! - [`telemetry`]: tracing and the Prometheus recorder.
//! - [`seed`]: demo data for the Quick start.
//!
//! [`run`] serves on a listener until `shutdown` resolves; `main` and the tests both use it.

pub mod accounts;
pub mod actions;
pub mod auth;
pub mod cli;
pub mod cluster;
pub mod config;
pub mod events;
pub mod gateway;
pub mod integrations;
pub mod ops;
pub mod plugins;
pub mod reports;
pub mod seed;
pub mod sessions;
pub mod store;
pub mod telemetry;
pub mod util;
pub mod webhooks;
pub mod wire;

use std::{future::Future, sync::Arc, time::Duration};

use anyhow::Context;
use tokio::{net::TcpListener, sync::watch};

use crate::{
    config::Settings,
    gateway::AppState,
    sessions::Sessions,
    store::{Store, postgres::PgStore, sqlite::SqliteStore},
};

/// Opens the configured store (creating the data directory) and runs migrations:
/// PostgreSQL for a `postgres://` or `postgresql://` URL, SQLite otherwise.
pub async fn open_store(settings: &Settings) -> anyhow::Result<Arc<dyn Store>> {
    // Attachments live in the data directory whichever database holds the rows.
    std::fs::create_dir_all(&settings.server.data_dir).with_context(|| {
        format!(
            "creating data directory {}",
            settings.server.data_dir.display()
        )
    })?;
    let url = settings.store_url();
    // The URL may carry the database password; errors end up in logs.
    let shown = config::url_without_password(&url);
    if settings.store_is_postgres() {
        let store = PgStore::open(&url, settings.store.pool_size)
            .await
            .with_context(|| format!("opening database {shown}"))?;
        return Ok(Arc::new(store));
    }
    let store = SqliteStore::open(&url)
        .await
        .with_context(|| format!("opening database {shown}"))?;
    Ok(Arc::new(store))
}

/// The configured back-office connector, if any.
pub(crate) fn connector(settings: &Settings) -> Option<Arc<dyn integrations::Connector>> {
    let timeout = Duration::from_millis(settings.integrations.cache.timeout_ms);
    if let Some(s) = settings.integrations.shopify.clone() {
        // No redirects: the access token is a custom header reqwest would carry along.
        let http =
            integrations::rest::client_with_redirects(timeout, reqwest::redirect::Policy::none());
        return Some(Arc::new(integrations::shopify::ShopifyConnector::new(
            s, http,
        )));
    }
    let b = settings.integrations.backoffice.clone()?;
    // The settings were validated at load, filters compiled included.
    let rest = integrations::rest::RestConnector::new(b, integrations::rest::http_client(timeout))
        .expect("validated back-office settings make a connector");
    Some(Arc::new(rest))
}

/// Serves Kefu on `listener` until `shutdown` completes, then says goodbye to every socket,
/// waits for them (bounded by `server.shutdown_grace_secs`) and closes the database.
pub async fn run(
    settings: Settings,
    store: Arc<dyn Store>,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    run_with(
        settings,
        store,
        listener,
        shutdown,
        plugins::Registry::builtin(),
    )
    .await
}

/// [`run`] with the plugins of `registry` (the built-ins plus your own) available to
/// `[plugins]`; see `docs/plugins.md`.
pub async fn run_with(
    settings: Settings,
    store: Arc<dyn Store>,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
    registry: plugins::Registry,
) -> anyhow::Result<()> {
    let settings = Arc::new(settings);
    let declared = registry.build(&settings.plugins)?;
    let groups = store.list_groups().await?;
    for d in &declared {
        for g in d.plugin.groups() {
            if !groups.iter().any(|x| x.name == g) {
                anyhow::bail!(
                    "config key `plugins.{}`: group `{g}` does not exist; create it first \
                     (POST /api/v1/groups) or name an existing one",
                    d.plugin.name()
                );
            }
        }
    }
    config::service_levels::check_groups(&settings.service_levels, &groups)?;
    let views =
        integrations::view::Views::new(connector(&settings), settings.integrations.cache.clone());
    telemetry::register(&settings, &groups, &views, &declared);
    let mut subscribers = Vec::new();
    let (plugin_tx, plugin_rx) = events::shards(plugins::bus::WORKERS, plugins::bus::QUEUE_DEPTH);
    if !declared.is_empty() {
        subscribers.push(events::Subscriber {
            name: "plugins",
            wants: events::Event::is_public,
            shards: plugin_tx,
        });
    }
    let (hook_tx, hook_rx) = events::shards(1, webhooks::QUEUE_DEPTH);
    if !settings.webhooks.is_empty() {
        subscribers.push(events::Subscriber {
            name: "webhooks",
            wants: events::Event::is_public,
            shards: hook_tx,
        });
    }
    let (prefetch_tx, mut prefetch_rx) = events::shards(1, integrations::prefetch::QUEUE_DEPTH);
    subscribers.push(events::Subscriber {
        name: "prefetch",
        wants: events::Event::is_offer,
        shards: prefetch_tx,
    });
    let events = events::EventSink::new(subscribers);
    let cluster = match settings.cluster {
        Some(_) => Some(cluster::Cluster::connect(&settings).await?),
        None => None,
    };
    let sessions = Sessions::start(store.clone(), settings.clone(), events, cluster)
        .await
        .context("starting sessions")?;
    integrations::prefetch::spawn(
        prefetch_rx.remove(0),
        views.clone(),
        store.clone(),
        Arc::downgrade(&sessions),
    );
    let services = Arc::new(plugins::context::Services {
        store: store.clone(),
        views: views.clone(),
    });
    tracing::info!(plugins = ?declared.iter().map(|d| d.plugin.name()).collect::<Vec<_>>(), webhooks = settings.webhooks.len(), "automation");
    plugins::bus::spawn(declared, plugin_rx, services, Arc::downgrade(&sessions));
    webhooks::spawn(settings.webhooks.clone(), hook_rx, store.clone())?;
    let (stop_tx, stop_rx) = watch::channel(false);
    let state = AppState {
        settings: settings.clone(),
        accounts: Arc::new(accounts::Accounts::new(
            store.clone(),
            sessions.clone(),
            settings.clone(),
        )),
        deliveries: webhooks::DeliveryLog::new(store.clone()),
        sessions: sessions.clone(),
        metrics: telemetry::prometheus(),
        shutdown: stop_rx,
        limits: gateway::limits::Limits::new(&settings.limits),
        actions: Arc::new(actions::Actions {
            sessions: sessions.clone(),
            store: store.clone(),
            views: views.clone(),
            settings: settings.clone(),
        }),
        views,
    };
    if !settings.metrics.listen.is_empty() {
        gateway::ops::spawn_metrics_listener(state.clone()).await?;
    }
    state.limits.spawn_pruner();
    // Built-in TLS (`[server.tls]`): loaded before serving, reloaded on SIGHUP.
    let tls = match settings.server.tls.enabled() {
        true => Some(Arc::new(gateway::tls::Tls::load(&settings.server.tls)?)),
        false => None,
    };
    gateway::tls::spawn_sighup(tls.clone(), state.shutdown.clone())
        .context("listening for SIGHUP")?;
    let app = gateway::router(state);
    let grace = Duration::from_secs(settings.server.shutdown_grace_secs);
    let signal = async move {
        shutdown.await;
        ops::systemd::stopping();
        tracing::info!("shutting down: telling clients to reconnect");
        let _ = stop_tx.send(true);
    };
    let header_timeout = Duration::from_secs(settings.limits.http.header_read_timeout_secs);
    ops::systemd::ready();
    ops::systemd::spawn_watchdog();
    let acceptor = tls.map(|t| t.acceptor());
    gateway::serve::serve(listener, app, header_timeout, acceptor, signal).await;
    let deadline = tokio::time::Instant::now() + grace;
    while sessions.connection_counts() != (0, 0) && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    store.close().await;
    tracing::info!("stopped");
    Ok(())
}
