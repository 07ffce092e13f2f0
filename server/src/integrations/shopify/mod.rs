//! A Shopify shop as the back office, over the Admin API: the REST resources for customers,
//! orders, refunds and cancellation, and the GraphQL `returnCreate` mutation for returns (the
//! REST API has no way to create one).
//!
//! Every request goes to `{shop_url}/admin/api/{api_version}/…` with the
//! `X-Shopify-Access-Token` header; answers are read with the same hygiene as the generic
//! connector (`rest.rs`): the body is capped at `max_body_bytes` while it streams, a non-2xx
//! status becomes [`SourceError::Status`] with Shopify's own message (`{"errors": …}` in any
//! of its shapes, or `{"error": …}`), and JSON that does not parse or lacks the expected
//! envelope (`{"customer": …}`, `{"customers": […]}`, `{"orders": […]}`) is
//! [`SourceError::Malformed`].
//!
//! # Lookups
//!
//! | Kefu | Shopify |
//! |---|---|
//! | customer by id | `GET customers/{id}.json`; 404 → `None`. A GID (`gid://shopify/Customer/1`) is accepted; an id that is not numeric is `None` without a call |
//! | customer by email | `GET customers/search.json?query=email:{email}&limit=10`; the first result whose email equals it (ignoring case), else `None` |
//! | customer by phone | `GET customers/search.json?query=phone:{+digits}&limit=10` (spaces, dashes, dots and brackets removed); the first result whose phone (or default address phone) has the same digits, or ends with the 8+ digits given (leading zeros aside: a national number) |
//! | search | `GET customers/search.json?query={q}&limit=20` |
//! | orders | `GET orders.json?customer_id={id}&status=any&limit=50`, sorted newest first |
//! | returns | the `refunds` of the same orders (`&fields=id,name,currency,customer,refunds`) |
//!
//! Shopify's search matches loosely (and its syntax would let a crafted "email" such as
//! `a@b.c OR state:enabled` match anyone), so lookups by email or phone only accept an exact
//! match: a shopper is never shown as somebody else. Only the 50 newest orders are read (no
//! `Link` pagination); without the `read_all_orders` scope Shopify only lists the last 60 days.
//!
//! # Layout
//!
//! - `settings`: [`ShopifySettings`] and their checks.
//! - `client`: one request to the Admin API (REST or GraphQL), the body cap and Shopify's
//!   error shapes.
//! - `shapes`: Shopify's JSON as Kefu reads it, and the readers of its ids and amounts.
//! - `customers`: customer lookups and the mapping of a customer.
//! - `orders`: the order list, cancellation, and the mapping of an order.
//! - `refunds`: refunds shown as returns.
//! - `returns`: creating a return (GraphQL).
//! - `answers`: the decoding of each answer, callable without a request (the fuzzer's way in).
//!
//! The shared HTTP client follows up to 3 redirects, and reqwest only strips standard
//! credentials (`Authorization`, cookies) when a redirect leaves the host: a Shopify shop
//! should be configured with its canonical `https://{shop}.myshopify.com` URL.

mod answers;
mod client;
mod customers;
mod orders;
mod refunds;
mod returns;
mod settings;
mod shapes;

use async_trait::async_trait;

pub use settings::ShopifySettings;

use super::{Connector, CustomerKey, Found, NewReturn, SourceError, model::*};

/// The Shopify Admin API connector.
pub struct ShopifyConnector {
    settings: ShopifySettings,
    http: reqwest::Client,
}

impl ShopifyConnector {
    /// A connector using `http` (see [`super::rest::http_client`]) for every call.
    pub fn new(settings: ShopifySettings, http: reqwest::Client) -> Self {
        Self { settings, http }
    }

    fn shop(&self) -> &str {
        self.settings.shop_url.trim_end_matches('/')
    }
}

/// Each call is written beside the Shopify concept it reads (see the layout above).
#[async_trait]
impl Connector for ShopifyConnector {
    fn name(&self) -> &str {
        &self.settings.name
    }

    async fn find_customer(
        &self,
        key: &CustomerKey,
    ) -> Result<Found<Option<Customer>>, SourceError> {
        self.customer_by_key(key).await.map(Found::clean)
    }

    async fn search_customers(&self, q: &str) -> Result<Vec<Customer>, SourceError> {
        self.customers_matching(q).await
    }

    async fn orders(&self, customer_id: &str) -> Result<Found<Vec<Order>>, SourceError> {
        self.customer_orders(customer_id).await.map(Found::clean)
    }

    async fn returns(&self, customer_id: &str) -> Result<Found<Vec<Return>>, SourceError> {
        self.refunds_as_returns(customer_id).await.map(Found::clean)
    }

    /// Creates a Shopify return over GraphQL: see `returns`.
    async fn create_return(&self, r: &NewReturn) -> Result<Return, SourceError> {
        self.open_return(r).await
    }

    async fn cancel_order(&self, order_id: &str, reason: &str) -> Result<Order, SourceError> {
        self.cancel(order_id, reason).await
    }
}
