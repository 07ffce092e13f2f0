//! The retailer's own systems: CRM profile, orders and returns, gathered into one customer
//! view beside the chat.
//!
//! - `identity`: who a visitor is ([`identity::Claim`]): a signed or agent-confirmed customer
//!   id, or an e-mail or phone that only suggests a customer.
//! - `model`: the customer, order and return types agents see.
//! - `prefetch`: pushes the customer view to an agent as a conversation is offered.
//! - `rest`: the generic REST/JSON connector configured in `kefu.toml`, its answers mapped
//!   to ours by jq filters (or presets for WooCommerce and Magento 2).
//! - `shopify`: a Shopify shop over the Admin API (REST, plus GraphQL to create returns).
//! - `view`: fan-out to the sources in parallel, per-source timeout and retry, a cache that
//!   serves stale data while it refreshes, and honest per-source status.

pub mod identity;
pub mod model;
pub mod prefetch;
pub mod rest;
pub mod shopify;
pub mod view;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

pub use model::*;

/// How to find a customer in the back office.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum CustomerKey {
    /// The shop's customer id (from a signed identity, or linked or confirmed by an agent).
    Id(String),
    Email(String),
    Phone(String),
}

/// A return to create.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct NewReturn {
    pub order_id: String,
    /// At least one item.
    #[schema(min_items = 1)]
    pub items: Vec<NewReturnItem>,
    /// Not blank.
    #[schema(pattern = r"\S")]
    pub reason: String,
}

/// One item of a return to create.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct NewReturnItem {
    pub sku: String,
    /// 1 or more.
    #[schema(minimum = 1)]
    pub quantity: u32,
}

/// What a lookup found, and what of the answer it could not read (a field of the wrong
/// type, a record without an id), for the agent's panel to show beside the data.
#[derive(Debug, Clone, PartialEq)]
pub struct Found<T> {
    pub data: T,
    pub warnings: Vec<String>,
}

impl<T> Found<T> {
    /// Everything in the answer was read.
    pub fn clean(data: T) -> Self {
        Self {
            data,
            warnings: Vec::new(),
        }
    }
}

/// Why a source call failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum SourceError {
    #[error("timed out")]
    Timeout,
    #[error("answered {code}: {reason}")]
    Status { code: u16, reason: String },
    #[error("answer is not in the expected format: {0}")]
    Malformed(String),
    #[error("answer larger than {0} bytes")]
    TooLarge(usize),
    #[error("unreachable: {0}")]
    Transport(String),
    /// A mapping filter failed on the answer, or raised the platform's own error
    /// (`error(.msg)`); the text starts with the filter's key.
    #[error("{0}")]
    Mapping(String),
    /// A mapping filter ran over its time budget and was cut off.
    #[error("{0}")]
    FilterCutOff(String),
}

impl SourceError {
    fn from_reqwest(e: reqwest::Error) -> Self {
        if e.is_timeout() {
            SourceError::Timeout
        } else {
            SourceError::Transport(e.to_string())
        }
    }

    /// Whether retrying an idempotent lookup may help.
    pub fn is_transient(&self) -> bool {
        match self {
            SourceError::Timeout | SourceError::Transport(_) => true,
            SourceError::Status { code, .. } => *code >= 500 || *code == 429,
            SourceError::Malformed(_)
            | SourceError::TooLarge(_)
            | SourceError::Mapping(_)
            | SourceError::FilterCutOff(_) => false,
        }
    }

    /// A short label for metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            SourceError::Timeout => "timeout",
            SourceError::Status { .. } => "status",
            SourceError::Malformed(_) => "malformed",
            SourceError::TooLarge(_) => "too_large",
            SourceError::Transport(_) => "transport",
            SourceError::Mapping(_) => "mapping",
            SourceError::FilterCutOff(_) => "filter_timeout",
        }
    }
}

/// A back office Kefu can read from and act in.
#[async_trait]
pub trait Connector: Send + Sync + 'static {
    /// Name for metrics and source status.
    fn name(&self) -> &str;
    /// One customer, or `None` if unknown.
    async fn find_customer(
        &self,
        key: &CustomerKey,
    ) -> Result<Found<Option<Customer>>, SourceError>;
    /// Customers matching free text (name, email, phone).
    async fn search_customers(&self, q: &str) -> Result<Vec<Customer>, SourceError>;
    /// The customer's orders, newest first.
    async fn orders(&self, customer_id: &str) -> Result<Found<Vec<Order>>, SourceError>;
    /// The customer's returns, newest first.
    async fn returns(&self, customer_id: &str) -> Result<Found<Vec<Return>>, SourceError>;
    /// Creates a return; not retried (not idempotent).
    async fn create_return(&self, r: &NewReturn) -> Result<Return, SourceError>;
    /// Cancels an unfulfilled order; not retried.
    async fn cancel_order(&self, order_id: &str, reason: &str) -> Result<Order, SourceError>;
}
