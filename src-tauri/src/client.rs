//! Talking to the server: REST calls (sign-in, lists, attachments, customer view, actions)
//! and the agent WebSocket. Every HTTP failure becomes a [`ClientError`] the UI can act on.

use std::time::Duration;

use serde::{Deserialize, de::DeserializeOwned};
use tokio_tungstenite::{
    MaybeTlsStream, WebSocketStream,
    tungstenite::{self, client::IntoClientRequest},
};

use crate::model::{Agent, CannedReply, PageContext};

mod supervision;

pub use supervision::RemoteMessage;

/// Where the server is and who we are.
#[derive(Debug, Clone)]
pub struct Server {
    /// e.g. `http://127.0.0.1:8080`.
    pub base_url: String,
    /// The agent's bearer token (kept in the OS keyring by the app).
    pub token: String,
    http: reqwest::Client,
}

/// A socket to the server.
pub type Socket = WebSocketStream<MaybeTlsStream<tokio::net::TcpStream>>;

/// Why a call failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ClientError {
    #[error("wrong username or password")]
    BadCredentials,
    #[error("your session has ended (signed out or expired); sign in again")]
    SessionExpired,
    #[error("the server could not be reached: {0}")]
    Unreachable(String),
    #[error("not allowed: {0}")]
    Forbidden(String),
    #[error("not found: {0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Invalid(String),
    #[error("the server answered {0}")]
    Server(String),
}

/// A conversation as the server's REST API lists it (and serves one, with more fields).
#[derive(Debug, Clone, Deserialize)]
pub struct RemoteConversation {
    pub id: String,
    pub group: String,
    pub state: String,
    pub agent_id: Option<String>,
    pub last_seq: i64,
    pub created_at: i64,
    pub updated_at: i64,
    pub closed_at: Option<i64>,
    /// The page the shopper was on when last writing (all `null` when unknown).
    #[serde(default)]
    pub context: PageContext,
    /// Labels set by agents, plugins and bots (absent from older servers).
    #[serde(default)]
    pub tags: Vec<String>,
    /// `low`, `normal`, `high` or `urgent` (see [`crate::model::Priority::parse`]); kept as
    /// text so a level this build does not know reads as normal instead of failing the list.
    #[serde(default)]
    pub priority: String,
}

/// An uploaded file.
#[derive(Debug, Clone, Deserialize)]
pub struct Uploaded {
    pub attachment_id: String,
    pub file_name: String,
    pub content_type: String,
    pub size_bytes: u64,
}

#[derive(Deserialize)]
struct LoginResponse {
    token: String,
}

#[derive(Deserialize)]
struct ErrorBody {
    message: String,
}

fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(30))
        .build()
        .expect("an HTTP client with rustls builds")
}

/// Turns a non-success response into the error it means.
async fn check(res: reqwest::Response) -> Result<reqwest::Response, ClientError> {
    let status = res.status().as_u16();
    if res.status().is_success() {
        return Ok(res);
    }
    let message = res
        .json::<ErrorBody>()
        .await
        .map(|b| b.message)
        .unwrap_or_else(|_| format!("HTTP {status}"));
    Err(match status {
        401 => ClientError::SessionExpired,
        403 => ClientError::Forbidden(message),
        404 => ClientError::NotFound(message),
        409 => ClientError::Conflict(message),
        400 | 413 | 415 | 422 => ClientError::Invalid(message),
        _ => ClientError::Server(format!("{status}: {message}")),
    })
}

fn unreachable(e: reqwest::Error) -> ClientError {
    ClientError::Unreachable(e.without_url().to_string())
}

/// Sends a request; a failure to get any answer is `Unreachable`, an error answer is what
/// [`check`] makes of it.
async fn send(req: reqwest::RequestBuilder) -> Result<reqwest::Response, ClientError> {
    check(req.send().await.map_err(unreachable)?).await
}

/// Sends a request and reads a JSON answer.
async fn send_json<T: DeserializeOwned>(req: reqwest::RequestBuilder) -> Result<T, ClientError> {
    send(req)
        .await?
        .json()
        .await
        .map_err(|e| ClientError::Server(e.to_string()))
}

/// Signs in and returns the server with the new token.
pub async fn login(base_url: &str, username: &str, password: &str) -> Result<Server, ClientError> {
    let base_url = base_url.trim().trim_end_matches('/');
    if !(base_url.starts_with("http://") || base_url.starts_with("https://")) {
        return Err(ClientError::Invalid(
            "the server address must start with http:// or https://".into(),
        ));
    }
    let http = http_client();
    let req = http
        .post(format!("{base_url}/api/v1/auth/login"))
        .json(&serde_json::json!({ "username": username, "password": password }));
    // At sign-in a 401 means the credentials, not an expired session.
    let body: LoginResponse = send_json(req).await.map_err(|e| match e {
        ClientError::SessionExpired => ClientError::BadCredentials,
        other => other,
    })?;
    Ok(Server {
        base_url: base_url.to_string(),
        token: body.token,
        http,
    })
}

impl Server {
    /// A server with a token kept from an earlier sign-in.
    pub fn new(base_url: &str, token: &str) -> Self {
        Self {
            base_url: base_url.trim_end_matches('/').to_string(),
            token: token.to_string(),
            http: http_client(),
        }
    }

    /// A request to the REST API with the agent's token.
    fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, format!("{}/api/v1{path}", self.base_url))
            .bearer_auth(&self.token)
    }

    async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, ClientError> {
        send_json(self.request(reqwest::Method::GET, path)).await
    }

    async fn post<T: DeserializeOwned>(
        &self,
        path: &str,
        body: &serde_json::Value,
    ) -> Result<T, ClientError> {
        send_json(self.request(reqwest::Method::POST, path).json(body)).await
    }

    /// The signed-in agent (also how a kept token is checked).
    pub async fn me(&self) -> Result<Agent, ClientError> {
        self.get("/me").await
    }

    /// Ends the session on the server (the token stops working).
    pub async fn logout(&self) -> Result<(), ClientError> {
        send(self.request(reqwest::Method::POST, "/auth/logout"))
            .await
            .map(drop)
    }

    /// A view of the conversation list (`mine`, `queue`, `open`, `closed`).
    pub async fn conversations(&self, view: &str) -> Result<Vec<RemoteConversation>, ClientError> {
        self.get(&format!("/conversations?view={view}&limit=200"))
            .await
    }

    /// One conversation as it is now.
    pub async fn conversation(&self, id: &str) -> Result<RemoteConversation, ClientError> {
        self.get(&format!("/conversations/{id}")).await
    }

    pub async fn canned_replies(&self) -> Result<Vec<CannedReply>, ClientError> {
        self.get("/canned-replies").await
    }

    pub async fn groups(&self) -> Result<Vec<serde_json::Value>, ClientError> {
        self.get("/groups").await
    }

    pub async fn agents(&self) -> Result<Vec<serde_json::Value>, ClientError> {
        self.get("/agents").await
    }

    /// The shopper's customer view for a conversation (the server's JSON, unchanged).
    pub async fn customer_view(
        &self,
        conversation_id: &str,
    ) -> Result<serde_json::Value, ClientError> {
        self.get(&format!("/conversations/{conversation_id}/customer"))
            .await
    }

    /// Verifies the shopper's suggested customer with an order number they quoted; answers
    /// the customer view (the server's JSON, unchanged).
    pub async fn verify_customer(
        &self,
        conversation_id: &str,
        order_id: &str,
    ) -> Result<serde_json::Value, ClientError> {
        self.post(
            &format!("/conversations/{conversation_id}/customer/verify"),
            &serde_json::json!({ "order_id": order_id }),
        )
        .await
    }

    /// Runs an order action (`send-order-card`, `cancel-order`, `create-return`).
    pub async fn action(
        &self,
        conversation_id: &str,
        action: &str,
        body: &serde_json::Value,
    ) -> Result<serde_json::Value, ClientError> {
        self.post(
            &format!("/conversations/{conversation_id}/actions/{action}"),
            body,
        )
        .await
    }

    /// Uploads a file for a conversation.
    pub async fn upload(
        &self,
        conversation_id: &str,
        file_name: &str,
        mime: &str,
        data: Vec<u8>,
    ) -> Result<Uploaded, ClientError> {
        let path = format!("/conversations/{conversation_id}/attachments");
        let req = self
            .request(reqwest::Method::POST, &path)
            .query(&[("filename", file_name)])
            .header(reqwest::header::CONTENT_TYPE, mime)
            .body(data);
        send_json(req).await
    }

    /// Downloads a file; returns its content type and bytes.
    pub async fn download(&self, attachment_id: &str) -> Result<(String, Vec<u8>), ClientError> {
        let path = format!("/attachments/{attachment_id}");
        let res = send(self.request(reqwest::Method::GET, &path)).await?;
        let mime = res
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("application/octet-stream")
            .to_string();
        let bytes = res.bytes().await.map_err(unreachable)?;
        Ok((mime, bytes.to_vec()))
    }

    /// Opens the agent socket, asking for `resume` (conversation, last seq) to be replayed
    /// before any live frame. A refused token is [`ClientError::SessionExpired`].
    pub async fn connect(&self, resume: &[(String, u64)]) -> Result<Socket, ClientError> {
        let ws_url = self.base_url.replacen("http", "ws", 1);
        let mut url = format!("{ws_url}/ws/agent");
        if !resume.is_empty() {
            let points: Vec<String> = resume.iter().map(|(c, seq)| format!("{c}:{seq}")).collect();
            url = format!("{url}?resume={}", points.join(","));
        }
        let mut req = url
            .into_client_request()
            .map_err(|e| ClientError::Server(e.to_string()))?;
        let bearer = format!("Bearer {}", self.token)
            .parse()
            .map_err(|_| ClientError::SessionExpired)?;
        req.headers_mut().insert("authorization", bearer);
        match tokio_tungstenite::connect_async(req).await {
            Ok((ws, _)) => Ok(ws),
            Err(tungstenite::Error::Http(res)) if res.status().as_u16() == 401 => {
                Err(ClientError::SessionExpired)
            }
            Err(e) => Err(ClientError::Unreachable(e.to_string())),
        }
    }
}
