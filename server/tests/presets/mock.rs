//! What the presets' mock platforms share: starting one (axum on 127.0.0.1:0), the record
//! of what it was asked, its JSON answers, and the connector a retailer's
//! `[integrations.backoffice]` table gives. Each platform's routes, authentication and error
//! shape stay in its own file.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use axum::{
    Router,
    body::Bytes,
    extract::Query,
    http::{HeaderMap, Method, StatusCode, Uri, header},
    response::{IntoResponse, Response},
};
use figment::{
    Figment,
    providers::{Format, Toml},
};
use kefu_server::integrations::{
    SourceError,
    rest::{RestConnector, RestSettings, http_client},
};
use serde_json::Value;

/// A request as a mock platform's handler reads it.
pub struct Request {
    /// Where the mock listens (`http://127.0.0.1:…`), for the links a platform writes into
    /// its answers.
    pub origin: String,
    pub method: Method,
    pub uri: Uri,
    pub query: HashMap<String, String>,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Request {
    /// The `Authorization` header, when there is one in text.
    pub fn authorization(&self) -> Option<&str> {
        self.headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
    }

    /// The JSON body; `null` when there is none.
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
}

/// One request the mock received.
#[derive(Debug, Clone)]
pub struct Seen {
    /// `GET orders`, `POST /orders/1042/cancel`: method and path below the API's prefix.
    pub route: String,
    pub query: HashMap<String, String>,
    pub body: Value,
}

/// What a mock was asked, in order. Clones share one record: the test reads what the
/// mock's handler wrote.
#[derive(Clone, Default)]
pub struct Recorder(Arc<Mutex<Vec<Seen>>>);

impl Recorder {
    /// Notes `request`, made on `path` below the API's prefix.
    pub fn record(&self, request: &Request, path: &str) {
        self.0.lock().unwrap().push(Seen {
            route: format!("{} {path}", request.method),
            query: request.query.clone(),
            body: request.json(),
        });
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.0.lock().unwrap().clone()
    }

    pub fn routes(&self) -> Vec<String> {
        self.seen().into_iter().map(|s| s.route).collect()
    }
}

/// Starts a mock platform that answers every request with `handle`, and returns what it
/// records and its address.
pub async fn start(handle: fn(&Recorder, Request) -> Response) -> (Recorder, String) {
    let recorder = Recorder::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    let (seen, address) = (recorder.clone(), origin.clone());
    let app = Router::new().fallback(
        move |method: Method,
              uri: Uri,
              Query(query): Query<HashMap<String, String>>,
              headers: HeaderMap,
              body: Bytes| async move {
            let request = Request {
                origin,
                method,
                uri,
                query,
                headers,
                body,
            };
            handle(&seen, request)
        },
    );
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (recorder, address)
}

/// A JSON answer with `status`.
pub fn reply(status: u16, body: Value) -> Response {
    (StatusCode::from_u16(status).unwrap(), axum::Json(body)).into_response()
}

/// A fixture's JSON.
pub fn fixture(json: &str) -> Value {
    serde_json::from_str(json).unwrap()
}

/// The settings exactly as a retailer writes them in `[integrations.backoffice]`: the
/// preset, the shop's API address and the credentials (`auth`, a TOML inline table).
pub fn settings(preset: &str, base_url: &str, auth: &str) -> RestSettings {
    let toml = format!(
        r#"
preset = "{preset}"
base_url = "{base_url}"
auth = {auth}
# Two orders a page, so that the fixtures' three orders take two pages.
paging = {{ size = 2 }}
"#
    );
    let s: RestSettings = Figment::from(Toml::string(&toml)).extract().unwrap();
    s.validate().unwrap();
    s
}

/// The connector the server builds from `settings`.
pub fn connector(settings: RestSettings) -> RestConnector {
    RestConnector::new(settings, http_client(Duration::from_secs(5))).unwrap()
}

/// The status and reason of an error that must be a `Status`.
pub fn status_of<T: std::fmt::Debug>(r: Result<T, SourceError>) -> (u16, String) {
    match r {
        Err(SourceError::Status { code, reason }) => (code, reason),
        other => panic!("expected a Status error, got {other:?}"),
    }
}
