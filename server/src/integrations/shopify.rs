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
//! # Customers
//!
//! `first_name` + `last_name` → `name` ("Bob Norman"; family name first and no space when
//! both are Chinese, Japanese or Korean: 王 + 芳 → "王芳"), falling back to the default
//! address's name, then the email. `email` → `emails`; `phone` (and the default address's
//! phone when different) → `phones`; `tags` (a comma-separated string) → `tags`; a tag
//! `tier:{x}` → `tier`; `total_spent` + `currency` → `lifetime_value`; `note` → one note.
//! `state`, `verified_email`, `orders_count`, `tax_exempt`, `last_order_name`, `updated_at`,
//! the email marketing consent state and `admin_url` (the customer in the Shopify admin) go
//! to `attributes`.
//!
//! # Orders
//!
//! - `id`: the order's `name` ("#1001", what the shopper sees in emails), or the numeric id
//!   when the name is missing or all digits. Actions accept either form (and GIDs): a name is
//!   turned back into the numeric id with `GET orders.json?name={name}&status=any`, keeping
//!   only an exact match. (Kefu's order has no attributes to carry both.)
//! - `created_at` → `placed_at`; `financial_status` → `payment_status` as Shopify says it
//!   (`pending`, `authorized`, `paid`, `partially_refunded`, `refunded`, `voided`, …);
//!   `fulfillment_status` (`null` → `unfulfilled`); `currency`; `subtotal_price`,
//!   `total_shipping_price_set.shop_money`, `total_price` → money.
//! - `status`: `cancelled` if `cancelled_at` is set; else `refunded` if fully refunded; else,
//!   with fulfillments (cancelled or failed ones aside) or a `fulfilled`/`partial` status,
//!   `delivered` when the order is fully fulfilled and every fulfillment's `shipment_status`
//!   is `delivered`, `shipped` otherwise; else `paid` when the money is captured (`paid`,
//!   `partially_refunded`); else `pending`.
//! - `line_items` → items (`sku`, `name` — which includes the variant — else `title`,
//!   `quantity`, `price`); REST line items carry no image.
//! - `shipping_address` → address (`name` or first + last name, `phone`, `address1`,
//!   `address2`, `city`, `province`, `zip`, `country_code`).
//! - `fulfillments` → shipments (`tracking_company`, `tracking_number` or the first of
//!   `tracking_numbers`, likewise the URL, `shipment_status` — or the fulfillment's own
//!   status when it was cancelled or failed — and `created_at`).
//!
//! # Returns
//!
//! Shopify's REST API has no returns, only refunds per order; each refund is shown as one
//! return: `id` `refund-{refund id}`, the order's id as above, `note` → `reason`,
//! `refund_line_items` → items, `created_at`. Its refund amount is the sum (exact, in
//! decimal) of the refund transactions that did not fail; `refund.state` is `refunded`,
//! `pending` while a transaction is pending, or `none` for a refund that moved no money (a
//! restock only); the return's `status` follows: `refunded`, `approved` or `received`.
//! Returns created with [`Connector::create_return`] are Shopify returns, not refunds: they
//! appear in this list once the merchant refunds them.
//!
//! # Actions
//!
//! - Cancel: `POST orders/{id}/cancel.json` with `{"reason": …}`. Shopify only accepts
//!   `customer`, `fraud`, `inventory`, `declined` or `other`; the agent's free text is not one
//!   of them, so it is sent as `customer` (Kefu cancels on the shopper's behalf) and stays in
//!   Kefu's conversation record — the REST endpoint has no place for a note. A refusal (422)
//!   is a `Status` with Shopify's message. Refunds and restocking follow Shopify's defaults.
//! - Create a return: see [`ShopifyConnector::create_return`] (GraphQL).
//!
//! The shared HTTP client follows up to 3 redirects, and reqwest only strips standard
//! credentials (`Authorization`, cookies) when a redirect leaves the host: a Shopify shop
//! should be configured with its canonical `https://{shop}.myshopify.com` URL.

use std::{collections::BTreeMap, fmt};

use async_trait::async_trait;
use reqwest::{Method, StatusCode, header};
use serde::{Deserialize, Deserializer, Serialize, de::DeserializeOwned};
use serde_json::{Value, json};

use super::{Connector, CustomerKey, NewReturn, SourceError, model::*};
use crate::util::percent_encode;

/// Settings of the Shopify connector (e.g. `[integrations.shopify]`).
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShopifySettings {
    /// Name used in metrics and in the agent's source status.
    #[serde(default = "default_name")]
    pub name: String,
    /// The shop's base URL, e.g. `https://kefu-demo.myshopify.com` (no path).
    pub shop_url: String,
    /// An Admin API access token (`shpat_…`) with `read_customers`, `read_orders`,
    /// `write_orders` (cancel) and `read_returns` + `write_returns` (create a return).
    pub access_token: String,
    /// Admin API version, `YYYY-MM` (a quarterly release) or `unstable`.
    #[serde(default = "default_api_version")]
    pub api_version: String,
    /// Largest answer read, bytes; larger ones are refused rather than buffered.
    #[serde(default = "default_max_body")]
    pub max_body_bytes: usize,
}

fn default_name() -> String {
    "shopify".into()
}

fn default_api_version() -> String {
    "2025-01".into()
}

fn default_max_body() -> usize {
    4 * 1024 * 1024
}

/// The token never appears in logs or error messages.
impl fmt::Debug for ShopifySettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ShopifySettings")
            .field("name", &self.name)
            .field("shop_url", &self.shop_url)
            .field("access_token", &"<redacted>")
            .field("api_version", &self.api_version)
            .field("max_body_bytes", &self.max_body_bytes)
            .finish()
    }
}

impl ShopifySettings {
    /// Checks what serde cannot; returns the offending key (relative) and what it expects.
    pub fn validate(&self) -> Result<(), (String, String)> {
        let bad = |k: &str, e: &str| Err((k.to_string(), e.to_string()));
        let expect_url = "expected the shop's base URL, such as https://{shop}.myshopify.com";
        let Ok(url) = reqwest::Url::parse(&self.shop_url) else {
            return bad("shop_url", expect_url);
        };
        if !matches!(url.scheme(), "http" | "https")
            || url.host_str().is_none()
            || url.path() != "/"
            || url.query().is_some()
            || url.fragment().is_some()
        {
            return bad("shop_url", &format!("{expect_url} (no path or query)"));
        }
        let token = self.access_token.trim();
        if token.is_empty() || !token.bytes().all(|b| b.is_ascii_graphic()) {
            return bad(
                "access_token",
                "expected an Admin API access token (shpat_…), printable ASCII",
            );
        }
        let v = self.api_version.as_str();
        let dated = v.len() == 7
            && v.as_bytes()[4] == b'-'
            && v[..4].bytes().all(|b| b.is_ascii_digit())
            && matches!(&v[5..], "01" | "04" | "07" | "10");
        if !(dated || v == "unstable") {
            return bad(
                "api_version",
                "expected a quarterly Admin API version such as 2025-01, or unstable",
            );
        }
        if self.max_body_bytes == 0 {
            return bad("max_body_bytes", "expected at least 1");
        }
        Ok(())
    }
}

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

    /// Sends a request to `/admin/api/{version}/{path}` and reads the answer as JSON, capped
    /// at `max_body_bytes`. Every non-2xx status (404 included) is an error.
    async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Value, SourceError> {
        let url = format!(
            "{}/admin/api/{}/{path}",
            self.shop(),
            self.settings.api_version
        );
        let mut req = self
            .http
            .request(method, &url)
            .header("X-Shopify-Access-Token", self.settings.access_token.trim())
            .header(header::ACCEPT, "application/json");
        if let Some(b) = body {
            let bytes = serde_json::to_vec(b).map_err(|e| SourceError::Malformed(e.to_string()))?;
            req = req
                .header(header::CONTENT_TYPE, "application/json")
                .body(bytes);
        }
        let mut res = req.send().await.map_err(SourceError::from_reqwest)?;
        let status = res.status();
        let max = self.settings.max_body_bytes;
        if let Some(len) = res.content_length()
            && len > max as u64
        {
            return Err(SourceError::TooLarge(max));
        }
        let mut bytes = Vec::new();
        while let Some(chunk) = res.chunk().await.map_err(SourceError::from_reqwest)? {
            if bytes.len() + chunk.len() > max {
                return Err(SourceError::TooLarge(max));
            }
            bytes.extend_from_slice(&chunk);
        }
        if !status.is_success() {
            return Err(SourceError::Status {
                code: status.as_u16(),
                reason: error_reason(&bytes, status),
            });
        }
        serde_json::from_slice(&bytes).map_err(|e| SourceError::Malformed(e.to_string()))
    }

    async fn get<T: DeserializeOwned>(&self, path: &str, what: &str) -> Result<T, SourceError> {
        parse(self.send(Method::GET, path, None).await?, what)
    }

    /// Customers matching a search query, as Shopify sent them.
    async fn search(&self, query: &str, limit: u32) -> Result<Vec<ShopCustomer>, SourceError> {
        let path = format!(
            "customers/search.json?query={}&limit={limit}",
            percent_encode(query)
        );
        Ok(self
            .get::<CustomersEnvelope>(&path, "customer search")
            .await?
            .customers)
    }

    /// The customer's orders as Shopify sent them; `fields` narrows what each carries.
    async fn shop_orders(
        &self,
        customer_id: &str,
        fields: Option<&str>,
    ) -> Result<Vec<ShopOrder>, SourceError> {
        let mut path = format!("orders.json?customer_id={customer_id}&status=any&limit=50");
        if let Some(f) = fields {
            path.push_str("&fields=");
            path.push_str(f);
        }
        Ok(self.get::<OrdersEnvelope>(&path, "orders").await?.orders)
    }

    /// The numeric id of an order given as Kefu shows it: its name ("#1001"), its numeric
    /// id or its GID.
    async fn resolve_order(&self, order_id: &str) -> Result<String, SourceError> {
        if let Some(id) = numeric_id(order_id, "Order") {
            return Ok(id);
        }
        let name = order_id.trim();
        let not_found = || SourceError::Status {
            code: 404,
            reason: format!("no order {name} in the shop"),
        };
        if name.is_empty() {
            return Err(not_found());
        }
        let path = format!(
            "orders.json?name={}&status=any&fields=id,name",
            percent_encode(name)
        );
        self.get::<OrdersEnvelope>(&path, "order lookup")
            .await?
            .orders
            .into_iter()
            .find(|o| o.name.as_deref().map(str::trim) == Some(name))
            .and_then(|o| o.id.0)
            .ok_or_else(not_found)
    }

    /// Runs a GraphQL Admin API operation; returns its `data`. Top-level `errors` become a
    /// `Status`: 403 when access is denied, 429 when throttled, else 502.
    async fn graphql(&self, query: &str, variables: Value) -> Result<Value, SourceError> {
        let body = json!({ "query": query, "variables": variables });
        let mut v = self.send(Method::POST, "graphql.json", Some(&body)).await?;
        if let Some(errors) = v.get("errors").filter(|e| !is_empty_json(e)) {
            let code = errors
                .pointer("/0/extensions/code")
                .and_then(Value::as_str)
                .map_or(502, |c| match c {
                    "ACCESS_DENIED" => 403,
                    "THROTTLED" => 429,
                    _ => 502,
                });
            return Err(SourceError::Status {
                code,
                reason: flatten_errors(errors),
            });
        }
        match v.get_mut("data").map(Value::take) {
            Some(data @ Value::Object(_)) => Ok(data),
            _ => Err(SourceError::Malformed("GraphQL answer without data".into())),
        }
    }
}

#[async_trait]
impl Connector for ShopifyConnector {
    fn name(&self) -> &str {
        &self.settings.name
    }

    async fn find_customer(&self, key: &CustomerKey) -> Result<Option<Customer>, SourceError> {
        let found = match key {
            CustomerKey::Id(id) => {
                let Some(id) = numeric_id(id, "Customer") else {
                    return Ok(None);
                };
                match self
                    .get::<CustomerEnvelope>(&format!("customers/{id}.json"), "customer")
                    .await
                {
                    Ok(env) => Some(env.customer),
                    Err(SourceError::Status { code: 404, .. }) => None,
                    Err(e) => return Err(e),
                }
            }
            CustomerKey::Email(email) => {
                let email = email.trim();
                if email.is_empty() {
                    return Ok(None);
                }
                self.search(&format!("email:{email}"), 10)
                    .await?
                    .into_iter()
                    .find(|c| {
                        c.email
                            .as_deref()
                            .is_some_and(|e| e.trim().eq_ignore_ascii_case(email))
                    })
            }
            CustomerKey::Phone(phone) => {
                let wanted = digits(phone);
                if wanted.is_empty() {
                    return Ok(None);
                }
                let plus = if phone.trim().starts_with('+') {
                    "+"
                } else {
                    ""
                };
                self.search(&format!("phone:{plus}{wanted}"), 10)
                    .await?
                    .into_iter()
                    .find(|c| {
                        let address_phone =
                            c.default_address.as_ref().and_then(|a| a.phone.as_deref());
                        [c.phone.as_deref(), address_phone]
                            .into_iter()
                            .flatten()
                            .any(|p| same_phone(&digits(p), &wanted))
                    })
            }
        };
        found.map(|c| map_customer(c, self.shop())).transpose()
    }

    async fn search_customers(&self, q: &str) -> Result<Vec<Customer>, SourceError> {
        let q = q.trim();
        if q.is_empty() {
            return Ok(Vec::new());
        }
        self.search(q, 20)
            .await?
            .into_iter()
            .map(|c| map_customer(c, self.shop()))
            .collect()
    }

    async fn orders(&self, customer_id: &str) -> Result<Vec<Order>, SourceError> {
        let Some(id) = numeric_id(customer_id, "Customer") else {
            return Ok(Vec::new());
        };
        let mut orders = self
            .shop_orders(&id, None)
            .await?
            .into_iter()
            .map(|o| map_order(o, Some(&id)))
            .collect::<Result<Vec<_>, _>>()?;
        orders.sort_by(|a, b| b.placed_at.cmp(&a.placed_at));
        Ok(orders)
    }

    async fn returns(&self, customer_id: &str) -> Result<Vec<Return>, SourceError> {
        let Some(id) = numeric_id(customer_id, "Customer") else {
            return Ok(Vec::new());
        };
        let orders = self
            .shop_orders(&id, Some("id,name,currency,customer,refunds"))
            .await?;
        let mut returns = Vec::new();
        for o in &orders {
            returns.extend(map_refunds(o, &id)?);
        }
        returns.sort_by(|a, b| b.created_at.cmp(&a.created_at));
        Ok(returns)
    }

    /// Shopify's REST API cannot create returns, so this uses the GraphQL Admin API, which
    /// can (scopes `read_returns`, `write_returns`), rather than refusing with a 501:
    ///
    /// 1. the order is resolved to its numeric id (see the module docs);
    /// 2. `returnableFulfillments(orderId:)` lists the fulfilled line items that can still be
    ///    returned, with their SKU and returnable quantity; each requested SKU and quantity is
    ///    allocated over them (one SKU may be split across several fulfillments). A SKU that
    ///    was not fulfilled, or more than is returnable, is refused with a 422 before
    ///    anything is created;
    /// 3. `returnCreate` creates the return (Shopify status `OPEN`: already approved), each
    ///    line with reason `OTHER` and the agent's reason as the note (255 characters at
    ///    most). Its `userErrors` are a 422 with their messages.
    ///
    /// The result's `id` is the return's name ("#1001-R1"), its `status` `approved`
    /// (`REQUESTED` → `requested`, `DECLINED` → `rejected`, `CANCELED` → `cancelled`,
    /// `CLOSED` → `closed`), with no refund yet.
    async fn create_return(&self, r: &NewReturn) -> Result<Return, SourceError> {
        let unprocessable = |reason: String| SourceError::Status { code: 422, reason };
        if r.items.is_empty() {
            return Err(unprocessable("a return needs at least one item".into()));
        }
        if let Some(i) = r.items.iter().find(|i| i.quantity == 0) {
            return Err(unprocessable(format!(
                "quantity of {} must be at least 1",
                i.sku
            )));
        }
        let order_id = self.resolve_order(&r.order_id).await?;
        let order_gid = format!("gid://shopify/Order/{order_id}");
        let data: ReturnableData = parse(
            self.graphql(RETURNABLE_QUERY, json!({ "orderId": order_gid }))
                .await?,
            "returnable fulfillments",
        )?;
        let Some(order) = data.order else {
            return Err(SourceError::Status {
                code: 404,
                reason: format!("no order {} in the shop", r.order_id.trim()),
            });
        };
        let mut lines: Vec<(String, String, String, u32)> = data
            .returnable_fulfillments
            .map(|c| c.nodes)
            .unwrap_or_default()
            .into_iter()
            .flat_map(|f| {
                f.returnable_fulfillment_line_items
                    .map(|c| c.nodes)
                    .unwrap_or_default()
            })
            .filter_map(|l| {
                let fli = l.fulfillment_line_item?;
                let item = fli.line_item.unwrap_or_default();
                Some((
                    fli.id?,
                    item.sku?,
                    item.name.unwrap_or_default(),
                    l.quantity,
                ))
            })
            .collect();
        let note: String = r.reason.trim().chars().take(255).collect();
        let mut inputs = Vec::new();
        let mut items = Vec::new();
        for want in &r.items {
            let available: u32 = lines.iter().filter(|l| l.1 == want.sku).map(|l| l.3).sum();
            if available < want.quantity {
                return Err(unprocessable(format!(
                    "{} of {} requested but {available} can be returned (only fulfilled items not yet returned)",
                    want.quantity, want.sku
                )));
            }
            let mut need = want.quantity;
            let mut name = None;
            for (fli, sku, item_name, left) in lines.iter_mut() {
                if need == 0 {
                    break;
                }
                if *sku != want.sku || *left == 0 {
                    continue;
                }
                let take = need.min(*left);
                *left -= take;
                need -= take;
                name.get_or_insert_with(|| item_name.clone());
                inputs.push(json!({
                    "fulfillmentLineItemId": fli,
                    "quantity": take,
                    "returnReason": "OTHER",
                    "returnReasonNote": note,
                }));
            }
            items.push(ReturnItem {
                sku: want.sku.clone(),
                name: name.filter(|n| !n.is_empty()),
                quantity: want.quantity,
            });
        }
        let created: ReturnCreateData = parse(
            self.graphql(
                RETURN_CREATE_MUTATION,
                json!({ "returnInput": { "orderId": order_gid, "returnLineItems": inputs } }),
            )
            .await?,
            "returnCreate",
        )?;
        let payload = created
            .return_create
            .ok_or_else(|| SourceError::Malformed("returnCreate answered nothing".into()))?;
        if !payload.user_errors.is_empty() {
            let reason = payload
                .user_errors
                .iter()
                .map(|e| e.message.clone())
                .collect::<Vec<_>>()
                .join("; ");
            return Err(unprocessable(reason));
        }
        let created = payload.r#return.ok_or_else(|| {
            SourceError::Malformed("returnCreate answered neither a return nor errors".into())
        })?;
        let id = non_empty(created.name)
            .or_else(|| created.id.as_deref().and_then(gid_tail))
            .ok_or_else(|| SourceError::Malformed("the created return has no id".into()))?;
        Ok(Return {
            id,
            order_id: order_key(order.name.as_deref(), &order_id),
            customer_id: order
                .customer
                .and_then(|c| c.id)
                .as_deref()
                .and_then(gid_tail),
            status: match created.status.as_deref().unwrap_or("OPEN") {
                "OPEN" => "approved".into(),
                "REQUESTED" => "requested".into(),
                "DECLINED" => "rejected".into(),
                "CANCELED" => "cancelled".into(),
                other => other.to_ascii_lowercase(),
            },
            reason: non_empty(Some(r.reason.clone())),
            items,
            refund: None,
            created_at: None,
        })
    }

    async fn cancel_order(&self, order_id: &str, reason: &str) -> Result<Order, SourceError> {
        let id = self.resolve_order(order_id).await?;
        let body = json!({ "reason": cancel_reason(reason) });
        let answer = self
            .send(
                Method::POST,
                &format!("orders/{id}/cancel.json"),
                Some(&body),
            )
            .await?;
        let order = match answer.get("order").filter(|o| o.is_object()) {
            Some(o) => parse::<ShopOrder>(o.clone(), "cancelled order")?,
            // Not every version answers with the order: read it back.
            None => {
                self.get::<OrderEnvelope>(&format!("orders/{id}.json"), "order")
                    .await?
                    .order
            }
        };
        map_order(order, None)
    }
}

/// The `reason` Shopify accepts for a cancellation: the agent's text if it is one of them,
/// else `customer`.
fn cancel_reason(text: &str) -> &'static str {
    match text.trim().to_ascii_lowercase().as_str() {
        "fraud" => "fraud",
        "inventory" => "inventory",
        "declined" => "declined",
        "other" => "other",
        _ => "customer",
    }
}

const RETURNABLE_QUERY: &str = "query KefuReturnable($orderId: ID!) {
  order(id: $orderId) { id name customer { id } }
  returnableFulfillments(orderId: $orderId, first: 50) {
    nodes {
      returnableFulfillmentLineItems(first: 100) {
        nodes { quantity fulfillmentLineItem { id lineItem { sku name } } }
      }
    }
  }
}";

const RETURN_CREATE_MUTATION: &str = "mutation KefuReturnCreate($returnInput: ReturnInput!) {
  returnCreate(returnInput: $returnInput) {
    return { id name status }
    userErrors { field message }
  }
}";

// ---- Shopify's shapes (only the fields Kefu reads) ----

/// A JSON string or number as text (Shopify ids are numbers, amounts strings; both are
/// read either way); anything else is absent.
#[derive(Debug, Clone, Default)]
struct Flex(Option<String>);

impl<'de> Deserialize<'de> for Flex {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Flex(match Value::deserialize(d)? {
            Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        }))
    }
}

#[derive(Deserialize)]
struct CustomerEnvelope {
    customer: ShopCustomer,
}

#[derive(Deserialize)]
struct CustomersEnvelope {
    customers: Vec<ShopCustomer>,
}

#[derive(Deserialize)]
struct OrdersEnvelope {
    orders: Vec<ShopOrder>,
}

#[derive(Deserialize)]
struct OrderEnvelope {
    order: ShopOrder,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ShopCustomer {
    id: Flex,
    email: Option<String>,
    phone: Option<String>,
    first_name: Option<String>,
    last_name: Option<String>,
    /// A comma-separated string in REST (a list is accepted too).
    tags: Value,
    total_spent: Flex,
    currency: Option<String>,
    note: Option<String>,
    created_at: Option<String>,
    updated_at: Option<Value>,
    state: Option<Value>,
    verified_email: Option<Value>,
    orders_count: Option<Value>,
    tax_exempt: Option<Value>,
    last_order_name: Option<Value>,
    email_marketing_consent: Option<Value>,
    default_address: Option<ShopAddress>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ShopAddress {
    name: Option<String>,
    first_name: Option<String>,
    last_name: Option<String>,
    phone: Option<String>,
    address1: Option<String>,
    address2: Option<String>,
    city: Option<String>,
    province: Option<String>,
    zip: Option<String>,
    country: Option<String>,
    country_code: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct IdOnly {
    id: Flex,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ShopOrder {
    id: Flex,
    name: Option<String>,
    created_at: Option<String>,
    cancelled_at: Option<String>,
    financial_status: Option<String>,
    fulfillment_status: Option<String>,
    currency: Option<String>,
    subtotal_price: Flex,
    total_price: Flex,
    total_shipping_price_set: Option<PriceSet>,
    line_items: Option<Vec<ShopLineItem>>,
    shipping_address: Option<ShopAddress>,
    fulfillments: Option<Vec<ShopFulfillment>>,
    refunds: Option<Vec<ShopRefund>>,
    customer: Option<IdOnly>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct PriceSet {
    shop_money: Option<ShopMoney>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ShopMoney {
    amount: Flex,
    currency_code: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ShopLineItem {
    sku: Option<String>,
    name: Option<String>,
    title: Option<String>,
    quantity: Option<u64>,
    price: Flex,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ShopFulfillment {
    status: Option<String>,
    created_at: Option<String>,
    tracking_company: Option<String>,
    tracking_number: Option<String>,
    tracking_numbers: Option<Vec<String>>,
    tracking_url: Option<String>,
    tracking_urls: Option<Vec<String>>,
    shipment_status: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ShopRefund {
    id: Flex,
    created_at: Option<String>,
    processed_at: Option<String>,
    note: Option<String>,
    refund_line_items: Option<Vec<ShopRefundLine>>,
    transactions: Option<Vec<ShopTransaction>>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ShopRefundLine {
    quantity: Option<u64>,
    line_item: Option<ShopLineItem>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ShopTransaction {
    kind: Option<String>,
    status: Option<String>,
    amount: Flex,
    currency: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct ReturnableData {
    order: Option<GqlOrder>,
    returnable_fulfillments: Option<Nodes<GqlReturnable>>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Nodes<T> {
    nodes: Vec<T>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct GqlOrder {
    name: Option<String>,
    customer: Option<GqlId>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct GqlId {
    id: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct GqlReturnable {
    returnable_fulfillment_line_items: Option<Nodes<GqlReturnableLine>>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct GqlReturnableLine {
    quantity: u32,
    fulfillment_line_item: Option<GqlFulfillmentLine>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct GqlFulfillmentLine {
    id: Option<String>,
    line_item: Option<GqlLineItem>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct GqlLineItem {
    sku: Option<String>,
    name: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct ReturnCreateData {
    return_create: Option<ReturnCreatePayload>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct ReturnCreatePayload {
    r#return: Option<GqlReturn>,
    user_errors: Vec<GqlUserError>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct GqlReturn {
    id: Option<String>,
    name: Option<String>,
    status: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct GqlUserError {
    message: String,
}

// ---- Mapping ----

fn parse<T: DeserializeOwned>(v: Value, what: &str) -> Result<T, SourceError> {
    serde_json::from_value(v).map_err(|e| SourceError::Malformed(format!("{what}: {e}")))
}

fn non_empty(s: Option<String>) -> Option<String> {
    s.map(|s| s.trim().to_string()).filter(|s| !s.is_empty())
}

fn is_empty_json(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        Value::String(s) => s.is_empty(),
        _ => false,
    }
}

/// Shopify's error message from an error answer: `{"errors": "…"}`, `{"errors": ["…"]}`,
/// `{"errors": {"field": ["…"]}}`, GraphQL's `[{"message": "…"}]` or `{"error": "…"}`;
/// else the start of the body, else the status's reason phrase.
fn error_reason(body: &[u8], status: StatusCode) -> String {
    let from_json = serde_json::from_slice::<Value>(body).ok().and_then(|v| {
        ["errors", "error", "error_description"]
            .iter()
            .filter_map(|k| v.get(k))
            .map(flatten_errors)
            .find(|s| !s.is_empty())
    });
    let reason = from_json.unwrap_or_else(|| String::from_utf8_lossy(body).trim().to_string());
    let reason: String = reason.chars().take(500).collect();
    if reason.is_empty() {
        status.canonical_reason().unwrap_or("error").to_string()
    } else {
        reason
    }
}

fn flatten_errors(v: &Value) -> String {
    match v {
        Value::String(s) => s.trim().to_string(),
        Value::Array(a) => join_non_empty(a.iter().map(flatten_errors)),
        Value::Object(m) => {
            if let Some(msg) = m.get("message").and_then(Value::as_str) {
                return msg.to_string();
            }
            join_non_empty(m.iter().map(|(k, v)| {
                let msg = flatten_errors(v);
                if k == "base" || msg.is_empty() {
                    msg
                } else {
                    format!("{k}: {msg}")
                }
            }))
        }
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn join_non_empty(parts: impl Iterator<Item = String>) -> String {
    parts
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join("; ")
}

/// The numeric id in `s`, given as digits or as `gid://shopify/{kind}/{digits}`.
fn numeric_id(s: &str, kind: &str) -> Option<String> {
    let s = s.trim();
    let s = s
        .strip_prefix("gid://shopify/")
        .and_then(|r| r.strip_prefix(kind))
        .and_then(|r| r.strip_prefix('/'))
        .unwrap_or(s);
    (!s.is_empty() && s.len() <= 20 && s.bytes().all(|b| b.is_ascii_digit())).then(|| s.into())
}

/// The numeric id at the end of a GID.
fn gid_tail(gid: &str) -> Option<String> {
    let tail = gid.rsplit('/').next()?;
    (!tail.is_empty() && tail.bytes().all(|b| b.is_ascii_digit())).then(|| tail.into())
}

/// How Kefu names an order: its name unless missing or all digits, else its numeric id.
fn order_key(name: Option<&str>, id: &str) -> String {
    match name.map(str::trim) {
        Some(n) if !n.is_empty() && !n.bytes().all(|b| b.is_ascii_digit()) => n.into(),
        _ => id.into(),
    }
}

fn digits(s: &str) -> String {
    s.chars().filter(char::is_ascii_digit).collect()
}

/// Same number: equal digits, or the shop's number ends with the 8+ digits given without
/// their leading zeros (a national number: `021 5555 0100` is `+86 21 5555 0100`).
fn same_phone(shop: &str, given: &str) -> bool {
    let national = given.trim_start_matches('0');
    !shop.is_empty() && (shop == given || (national.len() >= 8 && shop.ends_with(national)))
}

fn is_cjk(s: &str) -> bool {
    s.chars().any(|c| {
        matches!(c as u32,
            0x3040..=0x30FF       // Hiragana, Katakana
            | 0x3400..=0x4DBF     // CJK Extension A
            | 0x4E00..=0x9FFF     // CJK Unified Ideographs
            | 0xAC00..=0xD7AF     // Hangul syllables
            | 0xF900..=0xFAFF     // CJK Compatibility Ideographs
            | 0x20000..=0x3134F) // CJK Extensions B–G
    })
}

/// "First Last", or "LastFirst" when both parts are CJK (王 + 芳 → 王芳).
fn person_name(first: Option<&str>, last: Option<&str>) -> String {
    let first = first.map(str::trim).unwrap_or("");
    let last = last.map(str::trim).unwrap_or("");
    match (first.is_empty(), last.is_empty()) {
        (true, true) => String::new(),
        (false, true) => first.into(),
        (true, false) => last.into(),
        _ if is_cjk(first) && is_cjk(last) => format!("{last}{first}"),
        _ => format!("{first} {last}"),
    }
}

fn split_tags(tags: &Value) -> Vec<String> {
    let raw: Vec<&str> = match tags {
        Value::String(s) => s.split(',').collect(),
        Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    raw.into_iter()
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(String::from)
        .collect()
}

fn money(amount: &Flex, currency: Option<&str>) -> Option<Money> {
    amount.0.as_ref().map(|a| Money {
        amount: a.clone(),
        currency: currency.unwrap_or_default().to_string(),
    })
}

fn map_customer(c: ShopCustomer, shop_url: &str) -> Result<Customer, SourceError> {
    let id =
        c.id.0
            .ok_or_else(|| SourceError::Malformed("a customer without an id".into()))?;
    let tags = split_tags(&c.tags);
    let tier = tags.iter().find_map(|t| {
        let (k, v) = t.split_once(':')?;
        (k.trim().eq_ignore_ascii_case("tier") && !v.trim().is_empty())
            .then(|| v.trim().to_string())
    });
    let address = c.default_address.unwrap_or_default();
    let email = non_empty(c.email);
    let mut name = person_name(c.first_name.as_deref(), c.last_name.as_deref());
    if name.is_empty() {
        name = non_empty(address.name.clone())
            .or_else(|| email.clone())
            .unwrap_or_default();
    }
    let mut phones: Vec<String> = non_empty(c.phone).into_iter().collect();
    if let Some(p) = non_empty(address.phone)
        && !phones.iter().any(|q| digits(q) == digits(&p))
    {
        phones.push(p);
    }
    let mut attributes = BTreeMap::new();
    for (k, v) in [
        ("state", c.state),
        ("verified_email", c.verified_email),
        ("orders_count", c.orders_count),
        ("tax_exempt", c.tax_exempt),
        ("last_order_name", c.last_order_name),
        ("updated_at", c.updated_at),
        (
            "email_marketing",
            c.email_marketing_consent
                .and_then(|m| m.get("state").cloned()),
        ),
    ] {
        if let Some(v) = v.filter(|v| !v.is_null()) {
            attributes.insert(k.to_string(), v);
        }
    }
    attributes.insert(
        "admin_url".into(),
        Value::String(format!("{shop_url}/admin/customers/{id}")),
    );
    Ok(Customer {
        name,
        emails: email.into_iter().collect(),
        phones,
        tier,
        tags,
        lifetime_value: money(&c.total_spent, c.currency.as_deref()),
        created_at: c.created_at,
        notes: c
            .note
            .filter(|n| !n.trim().is_empty())
            .map(|text| Note {
                at: None,
                author: None,
                text,
            })
            .into_iter()
            .collect(),
        attributes,
        id,
    })
}

fn map_address(a: ShopAddress) -> Address {
    let name = non_empty(a.name).or_else(|| {
        Some(person_name(a.first_name.as_deref(), a.last_name.as_deref())).filter(|n| !n.is_empty())
    });
    Address {
        name,
        phone: non_empty(a.phone),
        line1: non_empty(a.address1),
        line2: non_empty(a.address2),
        city: non_empty(a.city),
        province: non_empty(a.province),
        postal_code: non_empty(a.zip),
        country: non_empty(a.country_code).or_else(|| non_empty(a.country)),
    }
}

fn map_line(l: ShopLineItem, currency: Option<&str>) -> LineItem {
    LineItem {
        sku: non_empty(l.sku).unwrap_or_default(),
        name: non_empty(l.name)
            .or_else(|| non_empty(l.title))
            .unwrap_or_default(),
        quantity: l.quantity.unwrap_or(0).min(u32::MAX as u64) as u32,
        unit_price: money(&l.price, currency),
        image_url: None,
    }
}

/// A fulfillment that did not (or will not) ship.
fn dead_fulfillment(f: &ShopFulfillment) -> bool {
    matches!(f.status.as_deref(), Some("cancelled" | "error" | "failure"))
}

fn map_order(o: ShopOrder, customer_id: Option<&str>) -> Result<Order, SourceError> {
    let id =
        o.id.0
            .ok_or_else(|| SourceError::Malformed("an order without an id".into()))?;
    let currency = non_empty(o.currency);
    let cur = currency.as_deref();
    let fulfillments = o.fulfillments.unwrap_or_default();
    let fulfillment_status = non_empty(o.fulfillment_status).unwrap_or("unfulfilled".into());
    let financial = non_empty(o.financial_status);
    let live: Vec<&ShopFulfillment> = fulfillments
        .iter()
        .filter(|f| !dead_fulfillment(f))
        .collect();
    let status = if o.cancelled_at.as_deref().is_some_and(|c| !c.is_empty()) {
        "cancelled"
    } else if financial.as_deref() == Some("refunded") {
        "refunded"
    } else if !live.is_empty() || matches!(fulfillment_status.as_str(), "fulfilled" | "partial") {
        let all_delivered = !live.is_empty()
            && live
                .iter()
                .all(|f| f.shipment_status.as_deref() == Some("delivered"));
        if fulfillment_status == "fulfilled" && all_delivered {
            "delivered"
        } else {
            "shipped"
        }
    } else if matches!(financial.as_deref(), Some("paid" | "partially_refunded")) {
        "paid"
    } else {
        "pending"
    };
    let shipping = o
        .total_shipping_price_set
        .and_then(|s| s.shop_money)
        .and_then(|m| money(&m.amount, m.currency_code.as_deref().or(cur)));
    let shipments = fulfillments
        .into_iter()
        .map(|f| {
            let status = non_empty(f.shipment_status.clone())
                .or_else(|| dead_fulfillment(&f).then(|| f.status.clone()).flatten());
            Shipment {
                carrier: non_empty(f.tracking_company),
                tracking_number: non_empty(f.tracking_number)
                    .or_else(|| f.tracking_numbers.and_then(|n| n.into_iter().next())),
                tracking_url: non_empty(f.tracking_url)
                    .or_else(|| f.tracking_urls.and_then(|u| u.into_iter().next())),
                status,
                shipped_at: f.created_at,
            }
        })
        .collect();
    Ok(Order {
        id: order_key(o.name.as_deref(), &id),
        customer_id: o
            .customer
            .and_then(|c| c.id.0)
            .or_else(|| customer_id.map(String::from)),
        placed_at: o.created_at,
        status: status.into(),
        payment_status: financial,
        fulfillment_status: Some(fulfillment_status),
        subtotal: money(&o.subtotal_price, cur),
        shipping,
        total: money(&o.total_price, cur),
        items: o
            .line_items
            .unwrap_or_default()
            .into_iter()
            .map(|l| map_line(l, cur))
            .collect(),
        shipping_address: o.shipping_address.map(map_address),
        shipments,
        currency,
    })
}

/// One return per refund of the order (see the module docs).
fn map_refunds(o: &ShopOrder, customer_id: &str) -> Result<Vec<Return>, SourceError> {
    let Some(order_id) = o.id.0.as_deref() else {
        return Err(SourceError::Malformed("an order without an id".into()));
    };
    let order_id = order_key(o.name.as_deref(), order_id);
    let customer_id = o
        .customer
        .as_ref()
        .and_then(|c| c.id.0.clone())
        .unwrap_or_else(|| customer_id.to_string());
    let mut out = Vec::new();
    for r in o.refunds.iter().flatten() {
        let Some(id) = r.id.0.as_deref() else {
            return Err(SourceError::Malformed("a refund without an id".into()));
        };
        let counted: Vec<&ShopTransaction> = r
            .transactions
            .iter()
            .flatten()
            .filter(|t| {
                t.kind
                    .as_deref()
                    .is_none_or(|k| k.eq_ignore_ascii_case("refund"))
                    && !matches!(t.status.as_deref(), Some("failure" | "error"))
                    && t.amount.0.is_some()
            })
            .collect();
        let (state, status) = if counted.is_empty() {
            ("none", "received")
        } else if counted
            .iter()
            .any(|t| t.status.as_deref() == Some("pending"))
        {
            ("pending", "approved")
        } else {
            ("refunded", "refunded")
        };
        let amount = if counted.is_empty() {
            None
        } else {
            let amounts: Vec<&str> = counted
                .iter()
                .filter_map(|t| t.amount.0.as_deref())
                .collect();
            sum_decimals(&amounts).map(|amount| Money {
                amount,
                currency: counted
                    .iter()
                    .find_map(|t| non_empty(t.currency.clone()))
                    .or_else(|| non_empty(o.currency.clone()))
                    .unwrap_or_default(),
            })
        };
        let items = r
            .refund_line_items
            .iter()
            .flatten()
            .map(|l| {
                let item = l.line_item.as_ref();
                ReturnItem {
                    sku: item
                        .and_then(|i| non_empty(i.sku.clone()))
                        .unwrap_or_default(),
                    name: item.and_then(|i| {
                        non_empty(i.name.clone()).or_else(|| non_empty(i.title.clone()))
                    }),
                    quantity: l.quantity.unwrap_or(0).min(u32::MAX as u64) as u32,
                }
            })
            .collect();
        out.push(Return {
            id: format!("refund-{id}"),
            order_id: order_id.clone(),
            customer_id: Some(customer_id.clone()),
            status: status.into(),
            reason: non_empty(r.note.clone()),
            items,
            refund: Some(Refund {
                amount,
                state: state.into(),
            }),
            created_at: r.created_at.clone().or_else(|| r.processed_at.clone()),
        });
    }
    Ok(out)
}

/// A plain decimal ("-12.50") as an integer and its number of decimals.
fn parse_decimal(s: &str) -> Option<(i128, u32)> {
    let s = s.trim();
    let (negative, s) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s),
    };
    let (whole, frac) = s.split_once('.').unwrap_or((s, ""));
    if (whole.is_empty() && frac.is_empty())
        || whole.len() > 18
        || frac.len() > 18
        || !whole
            .bytes()
            .chain(frac.bytes())
            .all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let value: i128 = format!("0{whole}{frac}").parse().ok()?;
    Some((if negative { -value } else { value }, frac.len() as u32))
}

/// The exact sum of decimal strings, with as many decimals as the most precise of them.
fn sum_decimals(amounts: &[&str]) -> Option<String> {
    let parsed = amounts
        .iter()
        .map(|a| parse_decimal(a))
        .collect::<Option<Vec<_>>>()?;
    let scale = parsed.iter().map(|p| p.1).max()?;
    let mut total: i128 = 0;
    for (value, s) in parsed {
        total = total.checked_add(value.checked_mul(10i128.checked_pow(scale - s)?)?)?;
    }
    let sign = if total < 0 { "-" } else { "" };
    let abs = total.unsigned_abs();
    if scale == 0 {
        return Some(format!("{sign}{abs}"));
    }
    let unit = 10u128.pow(scale);
    Some(format!(
        "{sign}{}.{:0width$}",
        abs / unit,
        abs % unit,
        width = scale as usize
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_add_exactly() {
        assert_eq!(
            sum_decimals(&["100.00", "99.00"]).as_deref(),
            Some("199.00")
        );
        assert_eq!(sum_decimals(&["0.1", "0.2"]).as_deref(), Some("0.3"));
        assert_eq!(sum_decimals(&["10", "5.5"]).as_deref(), Some("15.5"));
        assert_eq!(sum_decimals(&["1200", "300"]).as_deref(), Some("1500"));
        assert_eq!(sum_decimals(&["-3.10", "1.05"]).as_deref(), Some("-2.05"));
        assert_eq!(sum_decimals(&["1.5", "abc"]), None);
        assert_eq!(sum_decimals(&[]), None);
    }

    #[test]
    fn names_follow_the_script() {
        assert_eq!(person_name(Some("芳"), Some("王")), "王芳");
        assert_eq!(person_name(Some("Bob"), Some("Norman")), "Bob Norman");
        assert_eq!(person_name(Some("Fang"), Some("王")), "Fang 王");
        assert_eq!(person_name(None, Some("王")), "王");
        assert_eq!(person_name(Some(" "), None), "");
    }

    #[test]
    fn ids_and_order_keys() {
        assert_eq!(
            numeric_id(" 207119551 ", "Customer").as_deref(),
            Some("207119551")
        );
        assert_eq!(
            numeric_id("gid://shopify/Customer/207119551", "Customer").as_deref(),
            Some("207119551")
        );
        assert_eq!(numeric_id("gid://shopify/Order/1", "Customer"), None);
        assert_eq!(numeric_id("C10001", "Customer"), None);
        assert_eq!(numeric_id("../1", "Customer"), None);
        assert_eq!(order_key(Some("#1001"), "450789469"), "#1001");
        assert_eq!(order_key(Some("1001"), "450789469"), "450789469");
        assert_eq!(order_key(None, "450789469"), "450789469");
    }

    #[test]
    fn shopify_error_shapes_become_one_message() {
        let r = |b: &str| error_reason(b.as_bytes(), StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(r(r#"{"errors":"Not Found"}"#), "Not Found");
        assert_eq!(
            r(r#"{"errors":{"base":["cannot cancel"],"email":["is invalid"]}}"#),
            "cannot cancel; email: is invalid"
        );
        assert_eq!(r(r#"{"error":"nope"}"#), "nope");
        assert_eq!(r(r#"[{"message":"bad"}]"#), "[{\"message\":\"bad\"}]");
        assert_eq!(r(""), "Unprocessable Entity");
        assert_eq!(r("<html>oops</html>"), "<html>oops</html>");
    }

    #[test]
    fn phones_match_by_digits() {
        assert!(same_phone("8613800138000", "8613800138000"));
        assert!(same_phone("8613800138000", "13800138000"));
        assert!(same_phone("862155550100", "02155550100"));
        assert!(!same_phone("8613800138000", "8000"));
        assert!(!same_phone("8613800138000", "00008000"));
        assert!(!same_phone("", ""));
    }
}
