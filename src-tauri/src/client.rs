//! Talking to the server: sign in over REST, open the agent WebSocket.

use serde::Deserialize;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, tungstenite::client::IntoClientRequest};

/// Where the server is and who we are.
#[derive(Debug, Clone)]
pub struct Server {
    /// e.g. `http://127.0.0.1:8080`.
    pub base_url: String,
    /// The agent's bearer token (kept in the OS keyring by the app).
    pub token: String,
}

/// A socket to the server.
pub type Socket = WebSocketStream<MaybeTlsStream<tokio::net::TcpStream>>;

/// Why signing in failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("wrong username or password")]
    BadCredentials,
    #[error("the server could not be reached: {0}")]
    Unreachable(String),
    #[error("the server answered {0}")]
    Server(String),
}

#[derive(Deserialize)]
struct LoginResponse {
    token: String,
}

/// Signs in and returns the server with the new token.
pub async fn login(base_url: &str, username: &str, password: &str) -> Result<Server, ClientError> {
    let res = reqwest::Client::new()
        .post(format!(
            "{}/api/v1/auth/login",
            base_url.trim_end_matches('/')
        ))
        .json(&serde_json::json!({ "username": username, "password": password }))
        .send()
        .await
        .map_err(|e| ClientError::Unreachable(e.to_string()))?;
    match res.status().as_u16() {
        200 => {
            let body: LoginResponse = res
                .json()
                .await
                .map_err(|e| ClientError::Server(e.to_string()))?;
            Ok(Server {
                base_url: base_url.trim_end_matches('/').to_string(),
                token: body.token,
            })
        }
        401 => Err(ClientError::BadCredentials),
        other => Err(ClientError::Server(format!("{other}"))),
    }
}

impl Server {
    /// Opens the agent socket.
    pub async fn connect(&self) -> Result<Socket, ClientError> {
        let ws_url = self.base_url.replacen("http", "ws", 1);
        let mut req = format!("{ws_url}/ws/agent")
            .into_client_request()
            .map_err(|e| ClientError::Server(e.to_string()))?;
        let bearer = format!("Bearer {}", self.token)
            .parse()
            .map_err(|_| ClientError::Server("bad token".into()))?;
        req.headers_mut().insert("authorization", bearer);
        let (ws, _) = tokio_tungstenite::connect_async(req)
            .await
            .map_err(|e| ClientError::Unreachable(e.to_string()))?;
        Ok(ws)
    }
}
