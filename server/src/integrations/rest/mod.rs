//! The generic REST/JSON connector: a retailer points Kefu at its own back office in
//! `kefu.toml` — base URL, path templates, authentication, paging, and jq filters mapping
//! each answer to our format (`docs/backoffice-format.md`, "Mapping your own back office")
//! — without writing code. With no mapping, answers are read in our own format.
//!
//! - `settings`: the configuration, presets, and the checks serde cannot make.
//! - `jq`: filters compiled at start, run off the async threads with a time budget.
//! - `decode`: lenient decoding (a wrong-typed field is dropped with a warning) and the
//!   rule that a record without an id is never shown.
//! - `http`: requests with authentication, answers read with a size cap.
//! - `paging`: next pages by page number, cursor or `Link` header.
//! - `check`: `kefu config check` running each filter on a sample answer.

pub mod check;
mod decode;
mod http;
pub mod jq;
mod paging;
mod settings;

use std::{collections::BTreeMap, sync::Arc, time::Duration};

use async_trait::async_trait;
use reqwest::Method;
use serde_json::Value;

use super::{Connector, CustomerKey, Found, NewReturn, SourceError, model::*};
use decode::Record;
pub use http::{client_with_redirects, http_client};
pub(crate) use http::{parse_json, read_capped};
pub use jq::{Args, MapError, Program};
pub use settings::*;

/// Which answer is being read: the key of its filter in `map`, and how it is read without
/// one (the `lists` pointers and `fields` of earlier versions).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    Customer,
    Customers,
    Orders,
    Returns,
    CreatedReturn,
    CancelledOrder,
}

impl Answer {
    pub const ALL: [Answer; 6] = [
        Answer::Customer,
        Answer::Customers,
        Answer::Orders,
        Answer::Returns,
        Answer::CreatedReturn,
        Answer::CancelledOrder,
    ];

    /// The filter's key in `map` (and in `samples`).
    pub fn key(self) -> &'static str {
        match self {
            Answer::Customer => "customer",
            Answer::Customers => "customers",
            Answer::Orders => "orders",
            Answer::Returns => "returns",
            Answer::CreatedReturn => "created_return",
            Answer::CancelledOrder => "cancelled_order",
        }
    }

    fn is_list(self) -> bool {
        matches!(self, Answer::Customers | Answer::Orders | Answer::Returns)
    }
}

/// Every filter of one connector, compiled once.
pub struct Mappings {
    programs: BTreeMap<String, Arc<Program>>,
}

impl Mappings {
    /// Compiles every configured filter; the error names the key (relative to
    /// `integrations.backoffice`) and where in the filter it went wrong.
    pub fn compile(s: &RestSettings) -> Result<Self, (String, String)> {
        let mut programs = BTreeMap::new();
        let sources = s
            .map
            .entries()
            .into_iter()
            .map(|(k, code)| (format!("map.{k}"), code))
            .chain([
                ("body.create_return".into(), s.body.create_return.as_ref()),
                ("body.cancel_order".into(), s.body.cancel_order.as_ref()),
                ("paging.next".into(), s.paging.next.as_ref()),
            ]);
        for (key, code) in sources {
            let Some(code) = code else { continue };
            let program = Program::compile(&key, code).map_err(|e| (key.clone(), e))?;
            programs.insert(key, Arc::new(program));
        }
        Ok(Self { programs })
    }

    pub fn get(&self, key: &str) -> Option<&Arc<Program>> {
        self.programs.get(key)
    }

    /// The keys `samples` may name: each answer's; `order` (the platform's order that
    /// action bodies read as `$order`); and our requests the body filters are tried on.
    pub fn sample_keys() -> Vec<&'static str> {
        let extra = ["order", "create_return_request", "cancel_order_request"];
        Answer::ALL
            .into_iter()
            .map(Answer::key)
            .chain(extra)
            .collect()
    }
}

/// The generic REST connector.
pub struct RestConnector {
    settings: RestSettings,
    mappings: Mappings,
    http: reqwest::Client,
}

impl RestConnector {
    /// A connector for validated settings (`RestSettings::validate`, which Kefu's
    /// configuration loading runs); filters that do not compile are an error here too.
    pub fn new(settings: RestSettings, http: reqwest::Client) -> Result<Self, String> {
        let mappings =
            Mappings::compile(&settings).map_err(|(key, e)| format!("map key {key}: {e}"))?;
        Ok(Self {
            settings,
            mappings,
            http,
        })
    }

    pub fn settings(&self) -> &RestSettings {
        &self.settings
    }

    fn budget(&self) -> Duration {
        Duration::from_millis(self.settings.filter_timeout_ms)
    }

    /// Runs the filter `key` on the filter pool, if one is configured.
    async fn filter(
        &self,
        key: &str,
        input: Value,
        args: &Args,
    ) -> Option<Result<Vec<Value>, MapError>> {
        let program = self.mappings.get(key)?;
        Some(program.run(input, args.clone(), self.budget()).await)
    }

    /// The same on this thread, for decoding without a runtime (`kefu config check`, the
    /// fuzz targets).
    fn filter_here(
        &self,
        key: &str,
        input: Value,
        args: &Args,
    ) -> Option<Result<Vec<Value>, SourceError>> {
        let program = self.mappings.get(key)?;
        Some(
            program
                .run_here(input, args, self.budget())
                .map_err(map_error),
        )
    }

    /// The records (as JSON) in an answer without a filter: the `lists` pointer for list
    /// answers, then each object's `fields` remapping.
    fn unfiltered(&self, answer: Answer, body: Value) -> Result<Vec<Value>, SourceError> {
        let f = &self.settings.fields;
        let lists = &self.settings.lists;
        let remap_one = |v: Value| match answer {
            Answer::Customer | Answer::Customers => remap(v, &f.customer),
            Answer::Returns | Answer::CreatedReturn => remap(v, &f.return_),
            Answer::Orders | Answer::CancelledOrder => {
                let mut o = remap(v, &f.order);
                if let Some(items) = o.get_mut("items").and_then(|i| i.as_array_mut()) {
                    for item in items.iter_mut() {
                        *item = remap(item.take(), &f.order_item);
                    }
                }
                o
            }
        };
        if !answer.is_list() {
            return Ok(vec![remap_one(body)]);
        }
        let pointer = match answer {
            Answer::Customers => &lists.customers,
            Answer::Orders => &lists.orders,
            _ => &lists.returns,
        };
        let list = body
            .pointer(pointer)
            .and_then(|l| l.as_array())
            .ok_or_else(|| SourceError::Malformed(format!("no list at `{pointer}`")))?;
        Ok(list.iter().cloned().map(remap_one).collect())
    }

    /// An answer's records as JSON, through its filter or the pointers.
    async fn records(
        &self,
        answer: Answer,
        body: Value,
        args: &Args,
    ) -> Result<Vec<Value>, SourceError> {
        match self
            .filter(&format!("map.{}", answer.key()), body.clone(), args)
            .await
        {
            Some(out) => Ok(shape(answer, out.map_err(map_error)?)),
            None => self.unfiltered(answer, body),
        }
    }

    fn records_here(
        &self,
        answer: Answer,
        body: Value,
        args: &Args,
    ) -> Result<Vec<Value>, SourceError> {
        match self.filter_here(&format!("map.{}", answer.key()), body.clone(), args) {
            Some(out) => Ok(shape(answer, out?)),
            None => self.unfiltered(answer, body),
        }
    }

    /// Maps and decodes an answer's body exactly as a lookup does, on this thread: the
    /// records and what could not be read. For `kefu config check` and the fuzz targets.
    pub fn decode_answer<T: Record>(
        &self,
        answer: Answer,
        body: &[u8],
        args: &Args,
    ) -> Result<Found<Vec<T>>, SourceError> {
        let records = self.records_here(answer, parse_json(body)?, args)?;
        decode_records(answer, records)
    }

    /// One page of a list lookup after another, as `paging` says, up to `max_items`
    /// records, newest first.
    async fn list<T: Record>(
        &self,
        answer: Answer,
        url: String,
        args: &Args,
        at: impl Fn(&T) -> Option<&str>,
    ) -> Result<Found<Vec<T>>, SourceError> {
        let p = &self.settings.paging;
        let mut found = Found::clean(Vec::new());
        let mut url = paging::first_page(&url, p)?;
        for page in 1..=p.max_pages {
            let Some(reply) = self.call(Method::GET, &url, None).await? else {
                break;
            };
            let next = match self.filter("paging.next", reply.body.clone(), args).await {
                Some(out) => Some(decode::as_one(out.map_err(map_error)?)),
                None => None,
            };
            let records = self.records(answer, reply.body, args).await?;
            let count = records.len();
            let mut decoded = decode_records::<T>(answer, records)?;
            found.data.append(&mut decoded.data);
            found.warnings.append(&mut decoded.warnings);
            if found.data.len() >= p.max_items {
                break;
            }
            match paging::next_page(
                &url,
                p,
                page,
                count,
                next,
                reply.next_link,
                &self.settings.base_url,
            )? {
                Some(n) => url = n,
                None => break,
            }
        }
        decode::newest_first(&mut found.data, at);
        found.data.truncate(p.max_items);
        Ok(found)
    }

    /// An action: reads the platform's order first when `paths.order` is set (for the body
    /// filter's `$order`), builds the body from `request` with `body.{action}` (without
    /// one, `plain` is sent: our own format), sends it, maps the answer to one record.
    async fn act<T: Record>(
        &self,
        action: &str,
        method: &str,
        url: &str,
        (request, plain): (Value, Value),
        mut args: Args,
        answer: Answer,
    ) -> Result<T, SourceError> {
        if !self.settings.paths.order.is_empty() {
            let order_url = self.url(&self.settings.paths.order, &[("order_id", &args.order_id)]);
            args.order = self
                .call(Method::GET, &order_url, None)
                .await?
                .map(|r| r.body);
        }
        let body = match self.filter(&format!("body.{action}"), request, &args).await {
            Some(out) => decode::as_one(out.map_err(refusal)?),
            None => plain,
        };
        let method = Method::from_bytes(method.as_bytes()).unwrap_or(Method::POST);
        let not_found = SourceError::Status {
            code: 404,
            reason: "not found".into(),
        };
        let reply = self
            .call(method, url, Some(&body))
            .await?
            .ok_or(not_found)?;
        let key = format!("map.{}", answer.key());
        let records = match self.filter(&key, reply.body.clone(), &args).await {
            Some(out) => shape(answer, out.map_err(refusal)?),
            None => self.unfiltered(answer, reply.body)?,
        };
        let found = decode::one::<T>(decode::as_one(records), answer.key())
            .map_err(SourceError::Malformed)?;
        if !found.warnings.is_empty() {
            tracing::warn!(source = %self.settings.name, action, warnings = ?found.warnings, "parts of the answer could not be read");
        }
        found.data.ok_or_else(|| {
            SourceError::Malformed(format!("{}: the answer maps to nothing", answer.key()))
        })
    }
}

/// A filter's outputs as the answer's records: a list answer's one array output is the
/// list itself; a one-record answer keeps its first output.
fn shape(answer: Answer, outputs: Vec<Value>) -> Vec<Value> {
    if answer.is_list() {
        decode::as_list(outputs)
    } else {
        vec![decode::as_one(outputs)]
    }
}

/// Decodes an answer's records: each list element leniently, a one-record answer needing an
/// id (or `null`: not found).
fn decode_records<T: Record>(
    answer: Answer,
    records: Vec<Value>,
) -> Result<Found<Vec<T>>, SourceError> {
    let found = if answer.is_list() {
        decode::many::<T>(records, answer.key())
    } else {
        decode::one::<T>(decode::as_one(records), answer.key()).map(|f| Found {
            data: f.data.into_iter().collect(),
            warnings: f.warnings,
        })
    };
    found.map_err(SourceError::Malformed)
}

fn map_error(e: MapError) -> SourceError {
    match e {
        MapError::CutOff { .. } | MapError::TooDeep { .. } => {
            SourceError::FilterCutOff(e.to_string())
        }
        MapError::Failed { .. } | MapError::Raised { .. } => SourceError::Mapping(e.to_string()),
    }
}

/// A filter's error in an action: `error("…")` raised by the body filter (the request
/// cannot be made on this platform: a SKU not on the order) or by the answer filter (the
/// platform refused in-band, an error envelope with HTTP 200) is a refusal like a 422, in
/// those words; anything else is a failed mapping.
fn refusal(e: MapError) -> SourceError {
    match e {
        MapError::Raised { message, .. } => SourceError::Status {
            code: 422,
            reason: message,
        },
        other => map_error(other),
    }
}

/// Rewrites one retailer object into our field names (the `fields` pointers).
fn remap(mut v: Value, map: &BTreeMap<String, String>) -> Value {
    if map.is_empty() {
        return v;
    }
    let picked: Vec<(String, Value)> = map
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

#[async_trait]
impl Connector for RestConnector {
    fn name(&self) -> &str {
        &self.settings.name
    }

    async fn find_customer(
        &self,
        key: &CustomerKey,
    ) -> Result<Found<Option<Customer>>, SourceError> {
        let p = &self.settings.paths;
        let none = Args::default();
        let (template, var, value, answer, args) = match key {
            CustomerKey::Id(id) => {
                let args = Args {
                    customer_id: id.clone(),
                    ..none
                };
                (&p.customer_by_id, "customer_id", id, Answer::Customer, args)
            }
            CustomerKey::Email(e) => {
                let args = Args {
                    email: e.clone(),
                    ..none
                };
                (&p.customer_by_email, "email", e, Answer::Customers, args)
            }
            CustomerKey::Phone(ph) => {
                let args = Args {
                    phone: ph.clone(),
                    ..none
                };
                (&p.customer_by_phone, "phone", ph, Answer::Customers, args)
            }
        };
        let url = self.url(template, &[(var, value)]);
        let Some(reply) = self.call(Method::GET, &url, None).await? else {
            return Ok(Found::clean(None));
        };
        let records = self.records(answer, reply.body, &args).await?;
        let found = decode_records::<Customer>(answer, records)?;
        Ok(Found {
            data: found.data.into_iter().next(),
            warnings: found.warnings,
        })
    }

    async fn search_customers(&self, q: &str) -> Result<Vec<Customer>, SourceError> {
        let url = self.url(&self.settings.paths.customer_search, &[("q", q)]);
        let Some(reply) = self.call(Method::GET, &url, None).await? else {
            return Ok(Vec::new());
        };
        let args = Args {
            q: q.into(),
            ..Args::default()
        };
        let records = self.records(Answer::Customers, reply.body, &args).await?;
        Ok(decode_records(Answer::Customers, records)?.data)
    }

    async fn orders(&self, customer_id: &str) -> Result<Found<Vec<Order>>, SourceError> {
        let url = self.url(
            &self.settings.paths.orders_by_customer,
            &[("customer_id", customer_id)],
        );
        let args = Args {
            customer_id: customer_id.into(),
            ..Args::default()
        };
        self.list(Answer::Orders, url, &args, |o: &Order| {
            o.placed_at.as_deref()
        })
        .await
    }

    async fn returns(&self, customer_id: &str) -> Result<Found<Vec<Return>>, SourceError> {
        let url = self.url(
            &self.settings.paths.returns_by_customer,
            &[("customer_id", customer_id)],
        );
        let args = Args {
            customer_id: customer_id.into(),
            ..Args::default()
        };
        self.list(Answer::Returns, url, &args, |r: &Return| {
            r.created_at.as_deref()
        })
        .await
    }

    async fn create_return(&self, r: &NewReturn) -> Result<Return, SourceError> {
        let url = self.url(
            &self.settings.paths.create_return,
            &[("order_id", &r.order_id)],
        );
        let body = serde_json::to_value(r).map_err(|e| SourceError::Malformed(e.to_string()))?;
        let args = Args {
            order_id: r.order_id.clone(),
            ..Args::default()
        };
        let method = &self.settings.methods.create_return;
        let bodies = (body.clone(), body);
        self.act(
            "create_return",
            method,
            &url,
            bodies,
            args,
            Answer::CreatedReturn,
        )
        .await
    }

    async fn cancel_order(&self, order_id: &str, reason: &str) -> Result<Order, SourceError> {
        let url = self.url(&self.settings.paths.cancel_order, &[("order_id", order_id)]);
        let bodies = (
            serde_json::json!({ "order_id": order_id, "reason": reason }),
            serde_json::json!({ "reason": reason }),
        );
        let args = Args {
            order_id: order_id.into(),
            ..Args::default()
        };
        let method = &self.settings.methods.cancel_order;
        self.act(
            "cancel_order",
            method,
            &url,
            bodies,
            args,
            Answer::CancelledOrder,
        )
        .await
    }
}
