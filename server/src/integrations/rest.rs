//! The generic REST/JSON connector: a retailer points Kefu at its own back office in
//! `kefu.toml` — base URL, path templates per lookup, authentication, and where the lists
//! live in each answer — without writing code. The default templates and pointers are those
//! of `docs/backoffice-format.md`.

use std::{collections::BTreeMap, time::Duration};

use async_trait::async_trait;
use hmac::{Hmac, Mac};
use reqwest::{Method, StatusCode};
use serde::{Deserialize, Serialize, de::DeserializeOwned};
use sha2::Sha256;

use super::{Connector, CustomerKey, NewReturn, SourceError, model::*};
use crate::util::percent_encode;

/// How Kefu authenticates to the back office.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
pub enum Auth {
    #[default]
    None,
    /// `Authorization: Bearer <token>`.
    Bearer { token: String },
    /// HTTP basic authentication.
    Basic { username: String, password: String },
    /// `<header>: hex(HMAC-SHA256(secret, "{unix seconds}.{METHOD}.{path and query}.{body}"))`
    /// plus `X-Kefu-Timestamp: {unix seconds}`, so the back office can refuse replays.
    Hmac { header: String, secret: String },
}

/// Path templates, relative to `base_url`. `{customer_id}`, `{email}`, `{phone}`, `{q}` and
/// `{order_id}` are replaced by percent-encoded values.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Paths {
    pub customer_by_id: String,
    pub customer_by_email: String,
    pub customer_by_phone: String,
    pub customer_search: String,
    pub orders_by_customer: String,
    pub returns_by_customer: String,
    pub create_return: String,
    pub cancel_order: String,
}

impl Default for Paths {
    fn default() -> Self {
        Self {
            customer_by_id: "/customers/{customer_id}".into(),
            customer_by_email: "/customers?email={email}".into(),
            customer_by_phone: "/customers?phone={phone}".into(),
            customer_search: "/customers?q={q}".into(),
            orders_by_customer: "/customers/{customer_id}/orders".into(),
            returns_by_customer: "/customers/{customer_id}/returns".into(),
            create_return: "/returns".into(),
            cancel_order: "/orders/{order_id}/cancel".into(),
        }
    }
}

/// JSON pointers (RFC 6901) to the arrays in list answers; `""` means the answer itself.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Lists {
    pub customers: String,
    pub orders: String,
    pub returns: String,
}

impl Default for Lists {
    fn default() -> Self {
        Self {
            customers: "/customers".into(),
            orders: "/orders".into(),
            returns: "/returns".into(),
        }
    }
}

/// Field mapping: for each kind of object, our field name → a JSON pointer into the
/// retailer's object (`name = "/full_name"`, `total = "/amounts/grand_total"`). Fields not
/// mentioned are read under their own name, so only the differences need saying.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct Fields {
    pub customer: BTreeMap<String, String>,
    pub order: BTreeMap<String, String>,
    /// Applied to each element of an order's `items`.
    pub order_item: BTreeMap<String, String>,
    #[serde(rename = "return")]
    pub return_: BTreeMap<String, String>,
}

impl Fields {
    fn validate(&self) -> Result<(), (String, String)> {
        for (kind, map) in [
            ("customer", &self.customer),
            ("order", &self.order),
            ("order_item", &self.order_item),
            ("return", &self.return_),
        ] {
            for (ours, pointer) in map {
                if !pointer.starts_with('/') {
                    return Err((
                        format!("fields.{kind}.{ours}"),
                        "expected a JSON pointer such as /full_name".into(),
                    ));
                }
            }
        }
        Ok(())
    }
}

/// Rewrites one retailer object into our field names.
fn remap(mut v: serde_json::Value, map: &BTreeMap<String, String>) -> serde_json::Value {
    if map.is_empty() {
        return v;
    }
    let picked: Vec<(String, serde_json::Value)> = map
        .iter()
        .filter_map(|(ours, p)| v.pointer(p).map(|x| (ours.clone(), x.clone())))
        .collect();
    if let Some(obj) = v.as_object_mut() {
        for (k, x) in picked {
            obj.insert(k, x);
        }
    }
    v
}

/// Settings of one generic REST connector (`[integrations.backoffice]`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RestSettings {
    /// Name used in metrics and in the agent's source status.
    #[serde(default = "default_name")]
    pub name: String,
    /// e.g. `https://erp.shop.example/api`.
    pub base_url: String,
    #[serde(default)]
    pub auth: Auth,
    #[serde(default)]
    pub paths: Paths,
    #[serde(default)]
    pub lists: Lists,
    #[serde(default)]
    pub fields: Fields,
    /// Largest answer read, bytes; larger ones are refused rather than buffered.
    #[serde(default = "default_max_body")]
    pub max_body_bytes: usize,
}

fn default_name() -> String {
    "backoffice".into()
}

fn default_max_body() -> usize {
    4 * 1024 * 1024
}

impl RestSettings {
    /// Settings for a back office in the default format at `base_url`.
    pub fn new(name: &str, base_url: &str) -> Self {
        Self {
            name: name.into(),
            base_url: base_url.into(),
            auth: Auth::None,
            paths: Paths::default(),
            lists: Lists::default(),
            fields: Fields::default(),
            max_body_bytes: default_max_body(),
        }
    }

    /// Checks what serde cannot; returns the offending key (relative) and what it expects.
    pub fn validate(&self) -> Result<(), (String, String)> {
        let url = reqwest::Url::parse(&self.base_url).map_err(|e| {
            (
                "base_url".to_string(),
                format!("expected an http(s) URL: {e}"),
            )
        })?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err((
                "base_url".into(),
                "expected an http:// or https:// URL".into(),
            ));
        }
        for (key, path) in [
            ("customer_by_id", &self.paths.customer_by_id),
            ("orders_by_customer", &self.paths.orders_by_customer),
            ("returns_by_customer", &self.paths.returns_by_customer),
        ] {
            if !path.contains("{customer_id}") {
                return Err((
                    format!("paths.{key}"),
                    "expected a template containing {customer_id}".into(),
                ));
            }
        }
        self.fields.validate()?;
        for (key, p) in [
            ("customers", &self.lists.customers),
            ("orders", &self.lists.orders),
            ("returns", &self.lists.returns),
        ] {
            if !(p.is_empty() || p.starts_with('/')) {
                return Err((
                    format!("lists.{key}"),
                    "expected a JSON pointer such as /data/items, or \"\"".into(),
                ));
            }
        }
        Ok(())
    }
}

/// Which kind of object an answer holds (for field mapping and the list pointer).
#[derive(Debug, Clone, Copy)]
pub enum Kind {
    Customer,
    Order,
    Return,
}

/// The generic REST connector.
pub struct RestConnector {
    settings: RestSettings,
    http: reqwest::Client,
}

impl RestConnector {
    pub fn new(settings: RestSettings, http: reqwest::Client) -> Self {
        Self { settings, http }
    }

    fn url(&self, template: &str, vars: &[(&str, &str)]) -> String {
        let mut path = template.to_string();
        for (k, v) in vars {
            path = path.replace(&format!("{{{k}}}"), &percent_encode(v));
        }
        format!("{}{path}", self.settings.base_url.trim_end_matches('/'))
    }

    /// Sends a request and reads the answer as JSON, capped at `max_body_bytes`.
    /// 404 becomes `Ok(None)`.
    async fn call(
        &self,
        method: Method,
        url: &str,
        body: Option<&serde_json::Value>,
    ) -> Result<Option<serde_json::Value>, SourceError> {
        let mut req = self.http.request(method.clone(), url);
        let body_bytes = body
            .map(|b| serde_json::to_vec(b).unwrap_or_default())
            .unwrap_or_default();
        if body.is_some() {
            req = req
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body_bytes.clone());
        }
        req = match &self.settings.auth {
            Auth::None => req,
            Auth::Bearer { token } => req.bearer_auth(token),
            Auth::Basic { username, password } => req.basic_auth(username, Some(password)),
            Auth::Hmac { header, secret } => {
                let ts = crate::store::now_ms() / 1000;
                let parsed =
                    reqwest::Url::parse(url).map_err(|e| SourceError::Transport(e.to_string()))?;
                let path = match parsed.query() {
                    Some(q) => format!("{}?{q}", parsed.path()),
                    None => parsed.path().to_string(),
                };
                let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes())
                    .expect("HMAC takes any key length");
                mac.update(format!("{ts}.{method}.{path}.").as_bytes());
                mac.update(&body_bytes);
                req.header("X-Kefu-Timestamp", ts.to_string())
                    .header(header.as_str(), hex::encode(mac.finalize().into_bytes()))
            }
        };
        let mut res = req.send().await.map_err(SourceError::from_reqwest)?;
        let status = res.status();
        if status == StatusCode::NOT_FOUND && method == Method::GET {
            return Ok(None);
        }
        let bytes = read_capped(&mut res, self.settings.max_body_bytes).await?;
        if !status.is_success() {
            let reason = serde_json::from_slice::<serde_json::Value>(&bytes)
                .ok()
                .and_then(|v| v.get("error").and_then(|e| e.as_str()).map(String::from))
                .unwrap_or_else(|| String::from_utf8_lossy(&bytes).chars().take(200).collect());
            return Err(SourceError::Status {
                code: status.as_u16(),
                reason,
            });
        }
        parse_json(&bytes).map(Some)
    }

    /// Decodes a successful answer's body holding one object of `kind` (a customer by id,
    /// a created return, a cancelled order), as a request does.
    pub fn decode_one_answer<T: DeserializeOwned>(
        &self,
        kind: Kind,
        body: &[u8],
    ) -> Result<T, SourceError> {
        self.decode(kind, parse_json(body)?)
    }

    /// Decodes a successful answer's body holding a list of `kind` at its configured
    /// `lists.*` pointer (customers found, orders, returns), as a request does.
    pub fn decode_list_answer<T: DeserializeOwned>(
        &self,
        kind: Kind,
        body: &[u8],
    ) -> Result<Vec<T>, SourceError> {
        let lists = &self.settings.lists;
        let pointer = match kind {
            Kind::Customer => &lists.customers,
            Kind::Order => &lists.orders,
            Kind::Return => &lists.returns,
        };
        self.decode_list(kind, parse_json(body)?, pointer)
    }

    /// Maps one retailer object of `kind` to ours and decodes it.
    fn decode<T: DeserializeOwned>(
        &self,
        kind: Kind,
        v: serde_json::Value,
    ) -> Result<T, SourceError> {
        let f = &self.settings.fields;
        let v = match kind {
            Kind::Customer => remap(v, &f.customer),
            Kind::Return => remap(v, &f.return_),
            Kind::Order => {
                let mut o = remap(v, &f.order);
                if let Some(items) = o.get_mut("items").and_then(|i| i.as_array_mut()) {
                    for item in items.iter_mut() {
                        *item = remap(item.take(), &f.order_item);
                    }
                }
                o
            }
        };
        serde_json::from_value(v).map_err(|e| SourceError::Malformed(e.to_string()))
    }

    async fn get_one<T: DeserializeOwned>(
        &self,
        kind: Kind,
        url: &str,
    ) -> Result<Option<T>, SourceError> {
        match self.call(Method::GET, url, None).await? {
            Some(v) => self.decode(kind, v).map(Some),
            None => Ok(None),
        }
    }

    async fn get_list<T: DeserializeOwned>(
        &self,
        kind: Kind,
        url: &str,
        pointer: &str,
    ) -> Result<Vec<T>, SourceError> {
        let Some(v) = self.call(Method::GET, url, None).await? else {
            return Ok(Vec::new());
        };
        self.decode_list(kind, v, pointer)
    }

    /// The objects of `kind` in a list answer, at `pointer`.
    fn decode_list<T: DeserializeOwned>(
        &self,
        kind: Kind,
        v: serde_json::Value,
        pointer: &str,
    ) -> Result<Vec<T>, SourceError> {
        let list = v
            .pointer(pointer)
            .and_then(|l| l.as_array())
            .ok_or_else(|| SourceError::Malformed(format!("no list at `{pointer}`")))?;
        list.iter().map(|x| self.decode(kind, x.clone())).collect()
    }

    /// Sends an action; the answer is one object of `kind`.
    async fn act<T: DeserializeOwned>(
        &self,
        kind: Kind,
        url: &str,
        body: serde_json::Value,
    ) -> Result<T, SourceError> {
        let not_found = SourceError::Status {
            code: 404,
            reason: "not found".into(),
        };
        let v = self
            .call(Method::POST, url, Some(&body))
            .await?
            .ok_or(not_found)?;
        self.decode(kind, v)
    }
}

#[async_trait]
impl Connector for RestConnector {
    fn name(&self) -> &str {
        &self.settings.name
    }

    async fn find_customer(&self, key: &CustomerKey) -> Result<Option<Customer>, SourceError> {
        let p = &self.settings.paths;
        let lists = &self.settings.lists.customers;
        let (template, var, value) = match key {
            CustomerKey::Id(id) => {
                return self
                    .get_one(
                        Kind::Customer,
                        &self.url(&p.customer_by_id, &[("customer_id", id)]),
                    )
                    .await;
            }
            CustomerKey::Email(e) => (&p.customer_by_email, "email", e),
            CustomerKey::Phone(ph) => (&p.customer_by_phone, "phone", ph),
        };
        let found: Vec<Customer> = self
            .get_list(Kind::Customer, &self.url(template, &[(var, value)]), lists)
            .await?;
        Ok(found.into_iter().next())
    }

    async fn search_customers(&self, q: &str) -> Result<Vec<Customer>, SourceError> {
        let url = self.url(&self.settings.paths.customer_search, &[("q", q)]);
        self.get_list(Kind::Customer, &url, &self.settings.lists.customers)
            .await
    }

    async fn orders(&self, customer_id: &str) -> Result<Vec<Order>, SourceError> {
        let url = self.url(
            &self.settings.paths.orders_by_customer,
            &[("customer_id", customer_id)],
        );
        self.get_list(Kind::Order, &url, &self.settings.lists.orders)
            .await
    }

    async fn returns(&self, customer_id: &str) -> Result<Vec<Return>, SourceError> {
        let url = self.url(
            &self.settings.paths.returns_by_customer,
            &[("customer_id", customer_id)],
        );
        self.get_list(Kind::Return, &url, &self.settings.lists.returns)
            .await
    }

    async fn create_return(&self, r: &NewReturn) -> Result<Return, SourceError> {
        let url = self.url(
            &self.settings.paths.create_return,
            &[("order_id", &r.order_id)],
        );
        let body = serde_json::to_value(r).map_err(|e| SourceError::Malformed(e.to_string()))?;
        self.act(Kind::Return, &url, body).await
    }

    async fn cancel_order(&self, order_id: &str, reason: &str) -> Result<Order, SourceError> {
        let url = self.url(&self.settings.paths.cancel_order, &[("order_id", order_id)]);
        self.act(Kind::Order, &url, serde_json::json!({ "reason": reason }))
            .await
    }
}

/// An answer's body as JSON, or `Malformed` saying why not.
pub(crate) fn parse_json(bytes: &[u8]) -> Result<serde_json::Value, SourceError> {
    serde_json::from_slice(bytes).map_err(|e| SourceError::Malformed(e.to_string()))
}

/// The one HTTP client for back-office calls: timeouts, a redirect cap, a user agent.
pub fn http_client(timeout: Duration) -> reqwest::Client {
    client_with_redirects(timeout, reqwest::redirect::Policy::limited(3))
}

/// The same client with a chosen redirect policy (none for services whose credentials
/// travel in custom headers that reqwest would forward to another host).
pub fn client_with_redirects(
    timeout: Duration,
    redirects: reqwest::redirect::Policy,
) -> reqwest::Client {
    reqwest::Client::builder()
        .user_agent(concat!("kefu/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(timeout.min(Duration::from_secs(5)))
        .timeout(timeout)
        .redirect(redirects)
        .build()
        .expect("a client with these settings builds")
}

/// An answer's body, refused as [`SourceError::TooLarge`] once it is over `max` bytes — by
/// its `Content-Length` before reading, else as it streams — so a back office cannot make
/// Kefu buffer more than it allows.
pub(crate) async fn read_capped(
    res: &mut reqwest::Response,
    max: usize,
) -> Result<Vec<u8>, SourceError> {
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
    Ok(bytes)
}
