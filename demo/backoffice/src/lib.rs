//! # Kefu demo back office
//!
//! **Demo data, not product code.** A pretend retailer's back office (CRM, orders,
//! returns) for demos and tests of Kefu's generic back-office connector. It serves a
//! generated retail data set over HTTP in exactly the format of
//! `docs/backoffice-format.md`. Nothing here is used by the `kefu` server itself.
//!
//! The data set is generated from a seed ([`dataset`]): the same seed always gives the same
//! customers, orders and returns, so tests can rely on them. 300 customers (`C10001`…,
//! Chinese and English names, a few with emoji or other scripts), 0–8 orders each in every
//! status, returns in every state. Customer `C10001` (王芳) is scripted: her orders cover
//! every demo (see [`Showcase`]). Write actions (create a return, cancel an order) change
//! the data in memory only.
//!
//! The same server also serves a small **demo shop website** ([`shop`]): a storefront at
//! `/` and product pages at `/products/{sku}` with the Kefu chat widget embedded
//! (`<script src="{kefu_url}/widget.js" data-site="demo" async>`), and a demo bar to sign in
//! as a customer: the page carries `hex(HMAC-SHA256(identity secret, customer_id))`, computed
//! here as a shop's backend would, and the button calls `Kefu.identify(…)`.
//!
//! # Layout
//! - [`model`]: the wire objects (Customer, Order, Return) with their serde form.
//! - [`money`], [`time`]: money as decimal strings, RFC 3339 UTC times.
//! - [`catalogue`]: the ~40 products the shop sells.
//! - `generate` (private): the seeded generator; C10001's script is in `generate/showcase.rs`.
//! - [`dataset`]: the data in memory: lookups, search, create-return and cancel rules.
//! - [`http`]: axum routes, JSON errors, latency injection, request logs.
//! - [`shop`]: the demo shop's HTML pages, the widget tag, identity signatures, HTML escaping.
//!
//! [`serve`] and [`serve_with`] run the HTTP server on a listener; the binary and the tests
//! both use them.

pub mod catalogue;
pub mod dataset;
mod generate;
pub mod http;
pub mod model;
pub mod money;
pub mod shop;
pub mod shoppers;
pub mod time;

use std::{future::Future, time::Duration};

use tokio::net::TcpListener;

pub use crate::{
    dataset::{ActionError, Dataset, NewReturn, NewReturnItem, Showcase},
    generate::{CUSTOMER_COUNT, DATA_AS_OF},
    http::{AppState, router},
    shop::{DEFAULT_IDENTITY_SECRET, DEFAULT_KEFU_URL, ShopSettings},
};

/// The seed the binary uses unless told otherwise.
pub const DEFAULT_SEED: u64 = 42;

/// How to run the demo back office.
#[derive(Clone, PartialEq, Eq)]
pub struct Config {
    /// Seed of the data set.
    pub seed: u64,
    /// Added before every back-office (JSON) response; zero for none. Shop pages are not
    /// delayed.
    pub delay: Duration,
    /// The Kefu server whose `widget.js` the shop pages embed, e.g. `http://127.0.0.1:8080`.
    pub kefu_url: String,
    /// The `demo` site's identity secret in Kefu; the shop signs customer ids with it.
    pub identity_secret: String,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            seed: DEFAULT_SEED,
            delay: Duration::ZERO,
            kefu_url: DEFAULT_KEFU_URL.to_owned(),
            identity_secret: DEFAULT_IDENTITY_SECRET.to_owned(),
        }
    }
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("seed", &self.seed)
            .field("delay", &self.delay)
            .field("kefu_url", &self.kefu_url)
            .field("identity_secret", &"<redacted>")
            .finish()
    }
}

/// The data set generated from `seed`. Deterministic: equal seeds give equal data sets.
pub fn dataset(seed: u64) -> Dataset {
    generate::generate(seed)
}

/// The HTTP app over a fresh data set from `seed`, without delay.
pub fn app(seed: u64) -> axum::Router {
    router(AppState::new(dataset(seed)))
}

/// Serves a fresh data set from `seed` on `listener` until the process ends.
pub async fn serve(listener: TcpListener, seed: u64) -> std::io::Result<()> {
    let config = Config {
        seed,
        ..Config::default()
    };
    serve_with(listener, config, std::future::pending()).await
}

/// Serves a fresh data set per `config` on `listener` until `shutdown` resolves, then
/// finishes the requests in flight.
pub async fn serve_with(
    listener: TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let data = dataset(config.seed);
    tracing::info!(
        seed = config.seed,
        customers = data.customers().len(),
        orders = data.orders().len(),
        returns = data.returns().len(),
        delay_ms = u64::try_from(config.delay.as_millis()).unwrap_or(u64::MAX),
        kefu_url = %config.kefu_url,
        "demo data set ready"
    );
    let state = AppState::new(data)
        .with_delay(config.delay)
        .with_shop(ShopSettings {
            kefu_url: config.kefu_url,
            identity_secret: config.identity_secret,
        });
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown)
        .await
}
