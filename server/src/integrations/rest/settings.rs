//! The settings of the generic REST connector (`[integrations.backoffice]`): where the back
//! office is, how to authenticate, its paths, and how its answers map to our format — jq
//! filters (`map`, `body`), or the JSON pointers of earlier versions (`lists`, `fields`).
//! `preset = "woocommerce"` starts from a mapping shipped in `server/presets/`.

use std::{collections::BTreeMap, path::PathBuf};

use figment::{
    Figment,
    providers::{Format, Serialized, Toml},
};
use serde::{Deserialize, Deserializer, Serialize};

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
    /// One order, read before an action so its body filter can use the platform's own
    /// order as `$order` (line-item ids, prices). Empty: not read.
    pub order: String,
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
            order: String::new(),
        }
    }
}

/// HTTP methods of the actions.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Methods {
    pub create_return: String,
    pub cancel_order: String,
}

impl Default for Methods {
    fn default() -> Self {
        Self {
            create_return: "POST".into(),
            cancel_order: "POST".into(),
        }
    }
}

/// jq filters from the platform's answers to our format. Each runs on the answer's JSON
/// with `$customer_id`, `$order_id`, `$email`, `$phone` and `$q` set where they apply.
/// One left out reads the answer as `lists`/`fields` say (by default: our own format).
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct Map {
    /// `customer_by_id`'s answer → one Customer, or `null` (or nothing) when not found.
    pub customer: Option<String>,
    /// `customer_by_email`, `customer_by_phone`, `customer_search` → the Customers.
    pub customers: Option<String>,
    /// One page of `orders_by_customer` → its Orders.
    pub orders: Option<String>,
    /// One page of `returns_by_customer` → its Returns.
    pub returns: Option<String>,
    /// `create_return`'s answer → the Return.
    pub created_return: Option<String>,
    /// `cancel_order`'s answer → the Order.
    pub cancelled_order: Option<String>,
}

impl Map {
    pub fn entries(&self) -> [(&'static str, Option<&String>); 6] {
        [
            ("customer", self.customer.as_ref()),
            ("customers", self.customers.as_ref()),
            ("orders", self.orders.as_ref()),
            ("returns", self.returns.as_ref()),
            ("created_return", self.created_return.as_ref()),
            ("cancelled_order", self.cancelled_order.as_ref()),
        ]
    }
}

/// jq filters from our action requests to the platform's bodies. `create_return` gets
/// `{order_id, items: [{sku, quantity}], reason}`, `cancel_order` `{order_id, reason}`; both
/// get `$order` (the platform's order, when `paths.order` is set). Left out: sent as is.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct Bodies {
    pub create_return: Option<String>,
    pub cancel_order: Option<String>,
}

/// How list answers (orders, returns) continue on another page.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum PagingStyle {
    /// One page only.
    #[default]
    None,
    /// A page-number query parameter (`?page=2`).
    Page,
    /// A cursor from the answer (`next` filter) sent back as a query parameter.
    Cursor,
    /// The `Link: <…>; rel="next"` header (RFC 8288).
    Link,
}

/// Following list answers over several pages, up to `max_items`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Paging {
    pub style: PagingStyle,
    /// The page-number (page) or cursor (cursor) query parameter.
    pub param: String,
    /// Number of the first page (page).
    pub first: u64,
    /// The page-size query parameter, if the platform takes one (`per_page`).
    pub size_param: String,
    pub size: u64,
    /// jq on the raw answer: the next cursor (cursor; `null` or `""` ends), or whether
    /// another page follows (page; without it, paging stops at a short or empty page).
    pub next: Option<String>,
    /// Most records read per lookup.
    pub max_items: usize,
    /// Most pages read per lookup.
    pub max_pages: usize,
}

impl Default for Paging {
    fn default() -> Self {
        Self {
            style: PagingStyle::None,
            param: "page".into(),
            first: 1,
            size_param: String::new(),
            size: 50,
            next: None,
            max_items: 100,
            max_pages: 10,
        }
    }
}

/// JSON pointers (RFC 6901) to the arrays in list answers; `""` means the answer itself.
/// Superseded by `map`; kept for configurations written before it.
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

/// Field mapping by JSON pointer: for each kind of object, our field name → a pointer into
/// the retailer's object (`name = "/full_name"`). Fields not mentioned are read under their
/// own name. Superseded by `map`; kept for configurations written before it.
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

/// Settings of one generic REST connector (`[integrations.backoffice]`).
#[derive(Debug, Clone, Serialize)]
pub struct RestSettings {
    /// A mapping shipped with Kefu to start from (`woocommerce`, `magento2`); keys given
    /// here override the preset's.
    pub preset: Option<String>,
    /// Name used in metrics and in the agent's source status.
    pub name: String,
    /// e.g. `https://erp.shop.example/api`.
    pub base_url: String,
    pub auth: Auth,
    pub paths: Paths,
    pub methods: Methods,
    pub map: Map,
    pub body: Bodies,
    pub paging: Paging,
    pub lists: Lists,
    pub fields: Fields,
    /// Budget of one filter run, milliseconds; a filter running longer is cut off and the
    /// lookup reported like a timeout.
    pub filter_timeout_ms: u64,
    /// Sample answers for `kefu config check`: a `map`/`body` key → a JSON file.
    pub samples: BTreeMap<String, PathBuf>,
    /// Largest answer read, bytes; larger ones are refused rather than buffered.
    pub max_body_bytes: usize,
}

/// What the configuration says, before a preset is applied.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Given {
    #[serde(default)]
    preset: Option<String>,
    #[serde(default = "default_name")]
    name: String,
    base_url: String,
    #[serde(default)]
    auth: Auth,
    #[serde(default)]
    paths: Paths,
    #[serde(default)]
    methods: Methods,
    #[serde(default)]
    map: Map,
    #[serde(default)]
    body: Bodies,
    #[serde(default)]
    paging: Paging,
    #[serde(default)]
    lists: Lists,
    #[serde(default)]
    fields: Fields,
    #[serde(default = "default_filter_timeout")]
    filter_timeout_ms: u64,
    #[serde(default)]
    samples: BTreeMap<String, PathBuf>,
    #[serde(default = "default_max_body")]
    max_body_bytes: usize,
}

/// The presets shipped in `server/presets/`, by name.
pub const PRESETS: [(&str, &str); 2] = [
    (
        "woocommerce",
        include_str!("../../../presets/woocommerce.toml"),
    ),
    ("magento2", include_str!("../../../presets/magento2.toml")),
];

impl<'de> Deserialize<'de> for RestSettings {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let given = serde_json::Value::deserialize(d)?;
        let preset = given
            .get("preset")
            .and_then(|p| p.as_str())
            .map(String::from);
        let merged = match preset {
            None => given,
            Some(name) => {
                let Some((_, preset)) = PRESETS.iter().find(|(n, _)| *n == name.as_str()) else {
                    let known: Vec<_> = PRESETS.iter().map(|(n, _)| *n).collect();
                    return Err(D::Error::custom(format!(
                        "preset: no preset named `{name}` (known: {})",
                        known.join(", ")
                    )));
                };
                Figment::from(Toml::string(preset))
                    .merge(Serialized::globals(given))
                    .extract::<serde_json::Value>()
                    .map_err(|e| D::Error::custom(format!("preset `{name}`: {e}")))?
            }
        };
        let g: Given = serde_json::from_value(merged).map_err(D::Error::custom)?;
        Ok(Self {
            preset: g.preset,
            name: g.name,
            base_url: g.base_url,
            auth: g.auth,
            paths: g.paths,
            methods: g.methods,
            map: g.map,
            body: g.body,
            paging: g.paging,
            lists: g.lists,
            fields: g.fields,
            filter_timeout_ms: g.filter_timeout_ms,
            samples: g.samples,
            max_body_bytes: g.max_body_bytes,
        })
    }
}

fn default_name() -> String {
    "backoffice".into()
}

fn default_filter_timeout() -> u64 {
    250
}

fn default_max_body() -> usize {
    4 * 1024 * 1024
}

impl RestSettings {
    /// Settings for a back office in the default format at `base_url`.
    pub fn new(name: &str, base_url: &str) -> Self {
        Self {
            preset: None,
            name: name.into(),
            base_url: base_url.into(),
            auth: Auth::None,
            paths: Paths::default(),
            methods: Methods::default(),
            map: Map::default(),
            body: Bodies::default(),
            paging: Paging::default(),
            lists: Lists::default(),
            fields: Fields::default(),
            filter_timeout_ms: default_filter_timeout(),
            samples: BTreeMap::new(),
            max_body_bytes: default_max_body(),
        }
    }

    /// Checks what serde cannot, compiling every filter; returns the offending key
    /// (relative) and what is wrong with it.
    pub fn validate(&self) -> Result<(), (String, String)> {
        let bad = |k: &str, e: &str| Err((k.to_string(), e.to_string()));
        let url = reqwest::Url::parse(&self.base_url).map_err(|e| {
            (
                "base_url".to_string(),
                format!("expected an http(s) URL: {e}"),
            )
        })?;
        if !matches!(url.scheme(), "http" | "https") {
            return bad("base_url", "expected an http:// or https:// URL");
        }
        for (key, path) in [
            ("customer_by_id", &self.paths.customer_by_id),
            ("orders_by_customer", &self.paths.orders_by_customer),
            ("returns_by_customer", &self.paths.returns_by_customer),
        ] {
            if !path.contains("{customer_id}") {
                return bad(
                    &format!("paths.{key}"),
                    "expected a template containing {customer_id}",
                );
            }
        }
        for (key, m) in [
            ("create_return", &self.methods.create_return),
            ("cancel_order", &self.methods.cancel_order),
        ] {
            if !matches!(m.as_str(), "POST" | "PUT" | "PATCH") {
                return bad(&format!("methods.{key}"), "expected POST, PUT or PATCH");
            }
        }
        for (kind, map) in [
            ("customer", &self.fields.customer),
            ("order", &self.fields.order),
            ("order_item", &self.fields.order_item),
            ("return", &self.fields.return_),
        ] {
            for (ours, pointer) in map {
                if !pointer.starts_with('/') {
                    return bad(
                        &format!("fields.{kind}.{ours}"),
                        "expected a JSON pointer such as /full_name",
                    );
                }
            }
        }
        for (key, p) in [
            ("customers", &self.lists.customers),
            ("orders", &self.lists.orders),
            ("returns", &self.lists.returns),
        ] {
            if !(p.is_empty() || p.starts_with('/')) {
                return bad(
                    &format!("lists.{key}"),
                    "expected a JSON pointer such as /data/items, or \"\"",
                );
            }
        }
        let p = &self.paging;
        match p.style {
            PagingStyle::Page | PagingStyle::Cursor if p.param.is_empty() => {
                return bad("paging.param", "expected the query parameter to page with");
            }
            PagingStyle::Cursor if p.next.is_none() => {
                return bad(
                    "paging.next",
                    "expected a jq filter giving the next cursor, such as .meta.next_cursor",
                );
            }
            _ => {}
        }
        if p.max_items == 0 || p.max_pages == 0 || p.size == 0 {
            return bad(
                "paging",
                "expected max_items, max_pages and size of at least 1",
            );
        }
        if self.filter_timeout_ms == 0 {
            return bad("filter_timeout_ms", "expected at least 1");
        }
        super::Mappings::compile(self)?;
        for key in self.samples.keys() {
            let known = super::Mappings::sample_keys();
            if !known.contains(&key.as_str()) {
                return bad(
                    &format!("samples.{key}"),
                    &format!("expected one of {}", known.join(", ")),
                );
            }
        }
        Ok(())
    }
}
