//! One customer view from the back office: profile, orders and returns queried in parallel,
//! each with its own timeout and a bounded retry (lookups are idempotent), cached with a TTL
//! and served stale while a background refresh runs. Each section reports its own state, so
//! one slow or failing source never blanks or delays the others.

use std::{
    any::Any,
    collections::HashMap,
    future::Future,
    pin::Pin,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use backon::{ExponentialBuilder, Retryable};
use serde::{Deserialize, Serialize};

use super::{Connector, CustomerKey, Found, SourceError, model::*};
use crate::store::now_ms;

/// Cache and call policy (`[integrations]`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ViewSettings {
    /// Budget per source lookup, retries included, milliseconds.
    pub timeout_ms: u64,
    /// Retries of a failed idempotent lookup (timeouts, 5xx), with exponential backoff.
    pub retries: usize,
    /// A cached answer is fresh for this long.
    pub cache_ttl_secs: u64,
    /// After that, it is served (marked stale) while being refreshed, up to this age.
    pub stale_secs: u64,
}

impl Default for ViewSettings {
    fn default() -> Self {
        Self {
            timeout_ms: 3000,
            retries: 2,
            cache_ttl_secs: 60,
            stale_secs: 3600,
        }
    }
}

// The view's shapes are the wire format the desk decodes too: defined once, in kefu-api.
pub use kefu_api::{CustomerView, Section, SourceState};

type BoxFut<T> = Pin<Box<dyn Future<Output = Result<T, SourceError>> + Send>>;
type Fetch<T> = Arc<dyn Fn() -> BoxFut<Found<T>> + Send + Sync>;

struct Entry {
    value: Arc<dyn Any + Send + Sync>,
    fetched_at: Instant,
    fetched_at_ms: i64,
    refreshing: bool,
}

/// Cache and in-flight maps are keyed by (operation, lookup key).
type Key = (&'static str, String);

/// Most cached answers kept; past it, expired ones are dropped.
const MAX_ENTRIES: usize = 50_000;

/// Builds customer views from one connector.
pub struct Views {
    connector: Option<Arc<dyn Connector>>,
    cfg: ViewSettings,
    cache: Mutex<HashMap<Key, Entry>>,
    /// Lookups under way, shared by everyone asking for the same thing meanwhile (an offer's
    /// prefetch and the agent opening the panel cause one back-office call, not two).
    inflight: Mutex<HashMap<Key, Box<dyn Any + Send + Sync>>>,
}

impl Views {
    pub fn new(connector: Option<Arc<dyn Connector>>, cfg: ViewSettings) -> Arc<Self> {
        Arc::new(Self {
            connector,
            cfg,
            cache: Mutex::new(HashMap::new()),
            inflight: Mutex::new(HashMap::new()),
        })
    }

    /// Forgets cached orders and returns of a customer after an action changed them.
    pub fn invalidate(&self, customer_id: &str) {
        let mut cache = self.cache.lock().unwrap();
        for op in ["orders", "returns"] {
            cache.remove(&(op, customer_id.to_string()));
        }
    }

    /// The connector, for actions and search.
    pub fn connector(&self) -> Option<&Arc<dyn Connector>> {
        self.connector.as_ref()
    }

    /// Builds the view for a customer. With a customer id all three sources are asked at
    /// once; with an email or phone the profile comes first to learn the id.
    pub async fn view(self: &Arc<Self>, key: CustomerKey) -> CustomerView {
        let Some(conn) = self.connector.clone() else {
            let why = "no back office is configured";
            return CustomerView {
                customer: Section::unavailable("none", why),
                orders: Section::unavailable("none", why),
                returns: Section::unavailable("none", why),
            };
        };
        let name = conn.name().to_string();
        if let CustomerKey::Id(id) = &key {
            let (customer, orders, returns) = tokio::join!(
                self.customer(&conn, &key),
                self.orders(&conn, id),
                self.returns(&conn, id)
            );
            return CustomerView {
                customer: flatten(customer),
                orders,
                returns,
            };
        }
        let customer = flatten(self.customer(&conn, &key).await);
        match customer.data.as_ref().map(|c| c.id.clone()) {
            Some(id) => {
                let (orders, returns) =
                    tokio::join!(self.orders(&conn, &id), self.returns(&conn, &id));
                CustomerView {
                    customer,
                    orders,
                    returns,
                }
            }
            None => {
                let why = "customer not found in the back office";
                CustomerView {
                    customer,
                    orders: Section::unavailable(&name, why),
                    returns: Section::unavailable(&name, why),
                }
            }
        }
    }

    /// The view of a shopper with neither a verified customer id nor an email.
    pub fn unidentified(&self) -> CustomerView {
        self.withheld("the shopper is not identified: no signed customer id or email")
    }

    /// A view with every section empty, saying why.
    pub fn withheld(&self, why: &str) -> CustomerView {
        let source = self.connector.as_ref().map_or("none", |c| c.name());
        CustomerView {
            customer: Section::unavailable(source, why),
            orders: Section::unavailable(source, why),
            returns: Section::unavailable(source, why),
        }
    }

    /// The display name of the customer `key` finds (cached like the profile), for an
    /// unverified suggestion; `None` when nobody matches or the back office fails.
    pub async fn suggested(self: &Arc<Self>, key: CustomerKey) -> Option<String> {
        let conn = self.connector.clone()?;
        let found = self.customer(&conn, &key).await;
        found.data.flatten().map(|c| c.name)
    }

    /// Prefetches a view into the cache (on offer), ignoring the result.
    pub fn prefetch(self: &Arc<Self>, key: CustomerKey) {
        let me = self.clone();
        tokio::spawn(async move {
            me.view(key).await;
        });
    }

    async fn customer(
        self: &Arc<Self>,
        conn: &Arc<dyn Connector>,
        key: &CustomerKey,
    ) -> Section<Option<Customer>> {
        let (c, k) = (conn.clone(), key.clone());
        let fetch: Fetch<Option<Customer>> = Arc::new(move || {
            let (c, k) = (c.clone(), k.clone());
            Box::pin(async move { c.find_customer(&k).await })
        });
        self.section(conn.name(), "customer", format!("{key:?}"), fetch)
            .await
    }

    async fn orders(self: &Arc<Self>, conn: &Arc<dyn Connector>, id: &str) -> Section<Vec<Order>> {
        let (c, k) = (conn.clone(), id.to_string());
        let fetch: Fetch<Vec<Order>> = Arc::new(move || {
            let (c, k) = (c.clone(), k.clone());
            Box::pin(async move { c.orders(&k).await })
        });
        self.section(conn.name(), "orders", id.to_string(), fetch)
            .await
    }

    async fn returns(
        self: &Arc<Self>,
        conn: &Arc<dyn Connector>,
        id: &str,
    ) -> Section<Vec<Return>> {
        let (c, k) = (conn.clone(), id.to_string());
        let fetch: Fetch<Vec<Return>> = Arc::new(move || {
            let (c, k) = (c.clone(), k.clone());
            Box::pin(async move { c.returns(&k).await })
        });
        self.section(conn.name(), "returns", id.to_string(), fetch)
            .await
    }

    /// Serves one section: fresh from cache, stale from cache while refreshing in the
    /// background, or fetched now.
    async fn section<T: Clone + Send + Sync + 'static>(
        self: &Arc<Self>,
        source: &str,
        op: &'static str,
        key: String,
        fetch: Fetch<T>,
    ) -> Section<T> {
        let ttl = Duration::from_secs(self.cfg.cache_ttl_secs);
        let stale_max = Duration::from_secs(self.cfg.stale_secs);
        let cached = {
            let mut cache = self.cache.lock().unwrap();
            cache.get_mut(&(op, key.clone())).and_then(|e| {
                let age = e.fetched_at.elapsed();
                let value = e.value.clone().downcast::<Found<T>>().ok()?;
                if age < ttl {
                    return Some((value, e.fetched_at_ms, SourceState::Ok, false));
                }
                if age < stale_max {
                    let start_refresh = !e.refreshing;
                    e.refreshing = true;
                    return Some((value, e.fetched_at_ms, SourceState::Stale, start_refresh));
                }
                None
            })
        };
        if let Some((value, at, state, refresh)) = cached {
            let result = if state == SourceState::Ok {
                "hit"
            } else {
                "stale"
            };
            metrics::counter!("kefu_source_cache_total", "source" => source.to_string(), "op" => op, "result" => result).increment(1);
            if refresh {
                let (me, source, key) = (self.clone(), source.to_string(), key.clone());
                tokio::spawn(async move {
                    let outcome = me.fetch(&source, op, &fetch).await;
                    me.store(op, key, outcome.ok());
                });
            }
            let found = (*value).clone();
            return Section {
                state,
                source: source.into(),
                data: Some(found.data),
                error: None,
                fetched_at_ms: Some(at),
                warnings: found.warnings,
            };
        }
        metrics::counter!("kefu_source_cache_total", "source" => source.to_string(), "op" => op, "result" => "miss").increment(1);
        match self.fetch_shared(source, op, &key, fetch).await {
            Ok((v, at)) => Section {
                state: SourceState::Ok,
                source: source.into(),
                data: Some(v.data),
                error: None,
                fetched_at_ms: at,
                warnings: v.warnings,
            },
            Err(e) => Section {
                state: if matches!(e, SourceError::Timeout | SourceError::FilterCutOff(_)) {
                    SourceState::TimedOut
                } else {
                    SourceState::Error
                },
                source: source.into(),
                data: None,
                error: Some(e.to_string()),
                fetched_at_ms: None,
                warnings: Vec::new(),
            },
        }
    }

    /// Joins a lookup of the same thing already under way, or starts one and caches its
    /// result. Returns the value and when it was fetched.
    async fn fetch_shared<T: Clone + Send + Sync + 'static>(
        self: &Arc<Self>,
        source: &str,
        op: &'static str,
        key: &str,
        fetch: Fetch<T>,
    ) -> Result<(Found<T>, Option<i64>), SourceError> {
        type Shared<T> = futures_util::future::Shared<BoxFut<(Found<T>, Option<i64>)>>;
        let k = (op, key.to_string());
        let shared = {
            let mut inflight = self.inflight.lock().unwrap();
            match inflight.get(&k).and_then(|a| a.downcast_ref::<Shared<T>>()) {
                Some(s) => s.clone(),
                None => {
                    let (me, source, key) = (self.clone(), source.to_string(), key.to_string());
                    let fut: BoxFut<(Found<T>, Option<i64>)> = Box::pin(async move {
                        let result = me.fetch(&source, op, &fetch).await;
                        me.inflight.lock().unwrap().remove(&(op, key.clone()));
                        let v = result?;
                        let at = me.store(op, key, Some(v.clone()));
                        Ok((v, at))
                    });
                    let s = futures_util::FutureExt::shared(fut);
                    inflight.insert(k, Box::new(s.clone()));
                    s
                }
            }
        };
        shared.await
    }

    /// One lookup with the retry and timeout policy, measured.
    async fn fetch<T>(
        &self,
        source: &str,
        op: &'static str,
        fetch: &Fetch<T>,
    ) -> Result<Found<T>, SourceError> {
        let started = Instant::now();
        let policy = ExponentialBuilder::default()
            .with_min_delay(Duration::from_millis(50))
            .with_max_delay(Duration::from_millis(500))
            .with_max_times(self.cfg.retries);
        let attempt = || fetch();
        let retried = attempt.retry(policy).when(SourceError::is_transient);
        let result =
            match tokio::time::timeout(Duration::from_millis(self.cfg.timeout_ms), retried).await {
                Ok(r) => r,
                Err(_) => Err(SourceError::Timeout),
            };
        let labels = [("source", source.to_string()), ("op", op.to_string())];
        metrics::histogram!("kefu_source_request_seconds", &labels)
            .record(started.elapsed().as_secs_f64());
        if let Err(e) = &result {
            metrics::counter!("kefu_source_errors_total", "source" => source.to_string(), "op" => op, "kind" => e.kind()).increment(1);
            tracing::warn!(source, op, error = %e, "back-office lookup failed");
        }
        if let Ok(found) = &result
            && !found.warnings.is_empty()
        {
            metrics::counter!("kefu_source_warnings_total", "source" => source.to_string(), "op" => op).increment(found.warnings.len() as u64);
            tracing::warn!(source, op, warnings = ?found.warnings, "parts of a back-office answer could not be read");
        }
        result
    }

    /// Caches a fetched value (or clears the refreshing flag after a failed refresh).
    fn store<T: Send + Sync + 'static>(
        &self,
        op: &'static str,
        key: String,
        value: Option<T>,
    ) -> Option<i64> {
        let mut cache = self.cache.lock().unwrap();
        let Some(value) = value else {
            if let Some(e) = cache.get_mut(&(op, key)) {
                e.refreshing = false;
            }
            return None;
        };
        if cache.len() >= MAX_ENTRIES {
            let stale_max = Duration::from_secs(self.cfg.stale_secs);
            cache.retain(|_, e| e.fetched_at.elapsed() < stale_max);
        }
        let at = now_ms();
        cache.insert(
            (op, key),
            Entry {
                value: Arc::new(value),
                fetched_at: Instant::now(),
                fetched_at_ms: at,
                refreshing: false,
            },
        );
        Some(at)
    }
}

/// A profile lookup that found nobody is reported as unavailable, not as an empty success.
fn flatten(s: Section<Option<Customer>>) -> Section<Customer> {
    match s.data {
        Some(Some(c)) => Section {
            state: s.state,
            source: s.source,
            data: Some(c),
            error: s.error,
            fetched_at_ms: s.fetched_at_ms,
            warnings: s.warnings,
        },
        Some(None) => Section {
            state: SourceState::Unavailable,
            source: s.source,
            data: None,
            error: Some("customer not found in the back office".into()),
            fetched_at_ms: s.fetched_at_ms,
            warnings: s.warnings,
        },
        None => Section {
            state: s.state,
            source: s.source,
            data: None,
            error: s.error,
            fetched_at_ms: None,
            warnings: s.warnings,
        },
    }
}
