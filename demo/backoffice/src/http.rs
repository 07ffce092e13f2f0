//! The HTTP face of the data set: the routes of `docs/backoffice-format.md`, JSON errors
//! `{"error": …}` for every failure, optional latency, one log line per request; plus the
//! demo shop's HTML pages ([`crate::shop`]), which are never delayed.

use std::{
    sync::{Arc, Mutex, MutexGuard, PoisonError},
    time::{Duration, Instant},
};

use axum::{
    Json, Router,
    body::Bytes,
    extract::{Path, Query, Request, State, rejection::QueryRejection},
    http::StatusCode,
    middleware::{self, Next},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use serde::{Deserialize, Serialize, de::DeserializeOwned};
use serde_json::json;

use crate::{
    dataset::{ActionError, Dataset, NewReturn},
    generate::DATA_AS_OF,
    model::{Customer, Order, Return},
    shop::{self, ShopSettings},
    time::Timestamp,
};

/// `?q=` answers at most this many customers.
pub const SEARCH_LIMIT: usize = 20;

/// What every handler shares: the data set behind a mutex, the injected latency, and what
/// the shop pages need to embed Kefu.
///
/// The mutex is a std one: every critical section is a lookup or a small edit over a few
/// thousand records, and none is held across an `.await`.
#[derive(Clone, Debug)]
pub struct AppState {
    data: Arc<Mutex<Dataset>>,
    delay: Duration,
    shop: Arc<ShopSettings>,
}

impl AppState {
    /// Serves `dataset`, answering without delay.
    pub fn new(dataset: Dataset) -> Self {
        Self {
            data: Arc::new(Mutex::new(dataset)),
            delay: Duration::ZERO,
            shop: Arc::new(ShopSettings::default()),
        }
    }

    /// Delays every response by `delay` (demos of a slow back office, timeout tests).
    pub fn with_delay(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }

    /// Embeds the widget from, and signs customer ids for, `settings` on the shop pages
    /// (default: [`ShopSettings::default`]).
    pub fn with_shop(mut self, settings: ShopSettings) -> Self {
        self.shop = Arc::new(settings);
        self
    }

    /// What the shop pages embed and sign with.
    pub fn shop(&self) -> &ShopSettings {
        &self.shop
    }

    /// Runs `f` on the current data, including what write actions changed.
    pub fn read<R>(&self, f: impl FnOnce(&Dataset) -> R) -> R {
        f(&self.lock())
    }

    fn lock(&self) -> MutexGuard<'_, Dataset> {
        // A panic elsewhere cannot leave the data half-edited in a way that matters for a demo.
        self.data.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Every route of the format, plus `GET /healthz`, and the shop pages `GET /` and
/// `GET /products/{sku}`. The configured delay applies to the JSON routes (and their
/// fallbacks) only: a slow back office should not make the shop slow.
pub fn router(state: AppState) -> Router {
    let shop = Router::new()
        .route("/", get(shop::home))
        .route("/products/{sku}", get(shop::product))
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed });
    Router::new()
        .route("/customers", get(find_customers))
        .route("/customers/{id}", get(customer))
        .route("/customers/{id}/orders", get(customer_orders))
        .route("/customers/{id}/returns", get(customer_returns))
        .route("/returns", post(create_return))
        .route("/orders/{id}/cancel", post(cancel_order))
        .route("/healthz", get(|| async { Json(json!({"status": "ok"})) }))
        .fallback(|| async { ApiError::NotFound("no such route".to_owned()) })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .layer(middleware::from_fn_with_state(state.clone(), delay))
        .merge(shop)
        .layer(middleware::from_fn(log))
        .with_state(state)
}

/// A refused request. Every variant answers `{"error": message}`.
#[derive(Debug)]
pub enum ApiError {
    /// 400: the body is not JSON, or the query string cannot be read.
    BadRequest(String),
    /// 404: no such customer, order or route.
    NotFound(String),
    /// 405: the route exists with another method.
    MethodNotAllowed,
    /// 409: the order is past the point where the action makes sense.
    Conflict(String),
    /// 422: well-formed, but does not fit (wrong fields, quantities, order state).
    Unprocessable(String),
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, message) = match self {
            Self::BadRequest(m) => (StatusCode::BAD_REQUEST, m),
            Self::NotFound(m) => (StatusCode::NOT_FOUND, m),
            Self::MethodNotAllowed => (
                StatusCode::METHOD_NOT_ALLOWED,
                "method not allowed on this path".to_owned(),
            ),
            Self::Conflict(m) => (StatusCode::CONFLICT, m),
            Self::Unprocessable(m) => (StatusCode::UNPROCESSABLE_ENTITY, m),
        };
        (status, Json(json!({ "error": message }))).into_response()
    }
}

impl From<ActionError> for ApiError {
    fn from(e: ActionError) -> Self {
        match e {
            ActionError::NotFound(m) => Self::NotFound(m),
            ActionError::Conflict(m) => Self::Conflict(m),
            ActionError::Invalid(m) => Self::Unprocessable(m),
        }
    }
}

/// Sleeps the configured delay before answering.
async fn delay(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if !state.delay.is_zero() {
        tokio::time::sleep(state.delay).await;
    }
    next.run(request).await
}

/// Logs method, path, status and time taken (delay included).
async fn log(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let response = next.run(request).await;
    tracing::info!(
        %method,
        %path,
        status = response.status().as_u16(),
        elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        "request"
    );
    response
}

/// `GET /customers?email=|phone=|q=`: exactly one of them.
#[derive(Debug, Deserialize)]
struct CustomerQuery {
    email: Option<String>,
    phone: Option<String>,
    q: Option<String>,
}

/// `{"customers": […]}`; fields keep the document's order (a `Value` would sort them).
#[derive(Serialize)]
struct CustomerList {
    customers: Vec<Customer>,
}

/// `{"orders": […]}`, newest first.
#[derive(Serialize)]
struct OrderList {
    orders: Vec<Order>,
}

/// `{"returns": […]}`, newest first.
#[derive(Serialize)]
struct ReturnList {
    returns: Vec<Return>,
}

async fn find_customers(
    State(state): State<AppState>,
    query: Result<Query<CustomerQuery>, QueryRejection>,
) -> Result<Json<CustomerList>, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let given = [
        ("email", &query.email),
        ("phone", &query.phone),
        ("q", &query.q),
    ];
    let given: Vec<(&str, &String)> = given
        .into_iter()
        .filter_map(|(name, value)| value.as_ref().map(|v| (name, v)))
        .collect();
    let [(name, value)] = given[..] else {
        return Err(ApiError::Unprocessable(
            "give exactly one of the query parameters email, phone or q".to_owned(),
        ));
    };
    if value.trim().is_empty() {
        return Err(ApiError::Unprocessable(format!("{name} must not be empty")));
    }
    let customers = state.read(|data| {
        let found = match name {
            "email" => data.customers_by_email(value),
            "phone" => data.customers_by_phone(value),
            _ => data.search_customers(value, SEARCH_LIMIT),
        };
        found.into_iter().cloned().collect()
    });
    Ok(Json(CustomerList { customers }))
}

async fn customer(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Customer>, ApiError> {
    state
        .read(|data| data.customer(&id).cloned())
        .map(Json)
        .ok_or_else(|| no_customer(&id))
}

async fn customer_orders(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<OrderList>, ApiError> {
    let orders = state.read(|data| Some(data.orders_of(&id)?.into_iter().cloned().collect()));
    let orders = orders.ok_or_else(|| no_customer(&id))?;
    Ok(Json(OrderList { orders }))
}

async fn customer_returns(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<ReturnList>, ApiError> {
    let returns = state.read(|data| Some(data.returns_of(&id)?.into_iter().cloned().collect()));
    let returns = returns.ok_or_else(|| no_customer(&id))?;
    Ok(Json(ReturnList { returns }))
}

fn no_customer(id: &str) -> ApiError {
    ApiError::NotFound(format!("no customer with id {id}"))
}

/// `POST /returns`.
async fn create_return(
    State(state): State<AppState>,
    body: Bytes,
) -> Result<impl IntoResponse, ApiError> {
    let request: NewReturn = parse_body(&body)?;
    // Returns opened now must sort after the generated ones, even on a clock set earlier.
    let now = Timestamp::now().max(DATA_AS_OF);
    let created = state.lock().create_return(&request, now)?;
    tracing::info!(id = %created.id, order = %created.order_id, "return created");
    Ok((StatusCode::CREATED, Json(created)))
}

/// Body of `POST /orders/{id}/cancel`; the whole body is optional.
#[derive(Debug, Default, Deserialize)]
struct CancelRequest {
    #[serde(default)]
    reason: Option<String>,
}

/// `POST /orders/{id}/cancel`.
async fn cancel_order(
    State(state): State<AppState>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<impl IntoResponse, ApiError> {
    let request: CancelRequest = if body.iter().all(u8::is_ascii_whitespace) {
        CancelRequest::default()
    } else {
        parse_body(&body)?
    };
    let cancelled = state.lock().cancel_order(&id)?;
    tracing::info!(order = %id, reason = request.reason.as_deref().unwrap_or(""), "order cancelled");
    Ok(Json(cancelled))
}

/// JSON body, whatever the `Content-Type` (demos are driven with bare `curl -d`):
/// 400 if it is not JSON, 422 if it is JSON of the wrong shape.
fn parse_body<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|e| match e.classify() {
        serde_json::error::Category::Data => ApiError::Unprocessable(format!("invalid body: {e}")),
        _ => ApiError::BadRequest(format!("body is not valid JSON: {e}")),
    })
}
