//! A running kefu as a client sees it: its address and an HTTP client, with the REST calls
//! tests make (sign-in, visitor sessions, agents over the admin API, bearer-token `get` and
//! `post`, `/metrics`) and the protobuf sockets. Both ways of starting kefu dereference to
//! it.

use std::net::SocketAddr;

use serde::Serialize;
use serde_json::{Value, json};

use crate::{Error, ORIGIN, PASSWORD, SITE, ws::Ws};

/// A kefu listening on `addr`.
#[derive(Debug, Clone)]
pub struct Endpoint {
    pub addr: SocketAddr,
    pub http: reqwest::Client,
}

/// An agent signed in over REST.
#[derive(Debug, Clone)]
pub struct TestAgent {
    pub id: String,
    pub token: String,
}

/// A shopper's visitor session.
#[derive(Debug, Clone)]
pub struct TestVisitor {
    pub id: String,
    pub token: String,
}

/// An account to create over the admin API (`POST /api/v1/agents`); unset options take the
/// server's defaults (display name = username, capacity = `routing.default_capacity`).
#[derive(Debug, Clone, Serialize)]
pub struct AgentSpec {
    pub username: String,
    pub password: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// `agent`, `supervisor` or `admin`.
    pub role: String,
    pub groups: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub capacity: Option<i64>,
}

impl AgentSpec {
    /// An agent in `groups` with the kit's [`PASSWORD`] and the server's defaults otherwise.
    pub fn agent(username: &str, groups: &[&str]) -> Self {
        Self {
            username: username.into(),
            password: PASSWORD.into(),
            display_name: None,
            role: "agent".into(),
            groups: groups.iter().map(|g| g.to_string()).collect(),
            capacity: None,
        }
    }
}

impl Endpoint {
    /// A client of the kefu on `addr`.
    pub fn new(addr: SocketAddr, http: reqwest::Client) -> Self {
        Self { addr, http }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Signs in; returns the token. Panics unless the server says 200.
    pub async fn login(&self, username: &str, password: &str) -> String {
        let res = self
            .http
            .post(self.url("/api/v1/auth/login"))
            .json(&json!({"username": username, "password": password}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "login of {username} should succeed");
        res.json::<Value>().await.unwrap()["token"]
            .as_str()
            .unwrap()
            .to_string()
    }

    /// Signs in; returns the token, or why not.
    pub async fn try_login(&self, username: &str, password: &str) -> Result<String, Error> {
        let what = || format!("login of {username}");
        let body = self
            .send_json(
                self.http
                    .post(self.url("/api/v1/auth/login"))
                    .json(&json!({"username": username, "password": password})),
                &what,
            )
            .await?;
        string_field(&body, "token", &what)
    }

    /// Creates an account over the admin API with an admin's token; returns its id.
    pub async fn try_create_agent(
        &self,
        admin_token: &str,
        spec: &AgentSpec,
    ) -> Result<String, Error> {
        let what = || format!("creating agent {}", spec.username);
        let body = self
            .send_json(
                self.http
                    .post(self.url("/api/v1/agents"))
                    .bearer_auth(admin_token)
                    .json(spec),
                &what,
            )
            .await?;
        string_field(&body, "id", &what)
    }

    /// Creates an account over the admin API and signs it in.
    pub async fn try_add_agent(
        &self,
        admin_token: &str,
        spec: &AgentSpec,
    ) -> Result<TestAgent, Error> {
        let id = self.try_create_agent(admin_token, spec).await?;
        let token = self.try_login(&spec.username, &spec.password).await?;
        Ok(TestAgent { id, token })
    }

    /// Creates an account over the admin API; returns its id. Panics if refused.
    pub async fn create_agent(&self, admin_token: &str, spec: &AgentSpec) -> String {
        self.try_create_agent(admin_token, spec)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// Creates an account over the admin API and signs it in. Panics if refused.
    pub async fn add_agent(&self, admin_token: &str, spec: &AgentSpec) -> TestAgent {
        self.try_add_agent(admin_token, spec)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// Starts an anonymous visitor session for the test site.
    pub async fn visitor(&self) -> TestVisitor {
        self.visitor_with(json!({"site_id": SITE})).await
    }

    /// Starts a visitor session from this request body (site, name, email, signed identity…).
    pub async fn visitor_with(&self, body: Value) -> TestVisitor {
        let res = self
            .http
            .post(self.url("/api/v1/visitor/session"))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "visitor session should start");
        let v: Value = res.json().await.unwrap();
        TestVisitor {
            id: v["visitor_id"].as_str().unwrap().into(),
            token: v["visitor_token"].as_str().unwrap().into(),
        }
    }

    /// GET with a bearer token, returning status and JSON body.
    pub async fn get(&self, path: &str, token: &str) -> (u16, Value) {
        let res = self
            .http
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        let status = res.status().as_u16();
        (status, res.json().await.unwrap_or(Value::Null))
    }

    /// Every stored message of `conv` as (client_msg_id, seq), in seq order, read page by
    /// page through the history endpoint. Panics unless each page is answered.
    pub async fn stored_messages(&self, token: &str, conv: &str) -> Vec<(String, u64)> {
        let mut stored = Vec::new();
        let mut after = 0;
        loop {
            let path = format!("/api/v1/conversations/{conv}/messages?after_seq={after}&limit=200");
            let (status, page) = self.get(&path, token).await;
            assert_eq!(status, 200, "a page of {conv}'s history: {page}");
            for m in page["messages"].as_array().expect("a page lists messages") {
                after = m["seq"].as_u64().expect("a message has a seq");
                let id = m["client_msg_id"]
                    .as_str()
                    .expect("a message has a client_msg_id");
                stored.push((id.to_string(), after));
            }
            if !page["has_more"].as_bool().expect("a page says has_more") {
                return stored;
            }
        }
    }

    /// POST a JSON body with a bearer token, returning status and JSON body.
    pub async fn post(&self, path: &str, token: &str, body: Value) -> (u16, Value) {
        let res = self
            .http
            .post(self.url(path))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = res.status().as_u16();
        (status, res.json().await.unwrap_or(Value::Null))
    }

    /// PATCH with a bearer token, returning the status only (the admin tests branch on it).
    pub async fn patch(&self, path: &str, token: &str, body: Value) -> u16 {
        let res = self
            .http
            .patch(self.url(path))
            .bearer_auth(token)
            .json(&body);
        res.send().await.unwrap().status().as_u16()
    }

    /// DELETE with a bearer token, returning the status.
    pub async fn delete(&self, path: &str, token: &str) -> u16 {
        let res = self.http.delete(self.url(path)).bearer_auth(token);
        res.send().await.unwrap().status().as_u16()
    }

    /// The Prometheus text of `/metrics`.
    /// `GET /readyz`'s status; 0 if it did not answer within 10 s (the server may be down).
    pub async fn readyz(&self) -> u16 {
        self.http
            .get(self.url("/readyz"))
            .timeout(std::time::Duration::from_secs(10))
            .send()
            .await
            .map_or(0, |r| r.status().as_u16())
    }

    pub async fn metrics(&self) -> String {
        let res = self.http.get(self.url("/metrics")).send().await.unwrap();
        res.text().await.unwrap()
    }

    /// A shopper's socket for `v`, from the test site's origin.
    pub async fn shopper_ws(&self, v: &TestVisitor) -> Ws {
        Ws::connect(self.addr, "shopper", &v.token, Some(ORIGIN)).await
    }

    /// An agent's socket for `a`.
    pub async fn agent_ws(&self, a: &TestAgent) -> Ws {
        Ws::connect(self.addr, "agent", &a.token, None).await
    }

    async fn send_json(
        &self,
        req: reqwest::RequestBuilder,
        what: &impl Fn() -> String,
    ) -> Result<Value, Error> {
        let http = |source| Error::Http {
            what: what(),
            source,
        };
        req.send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(http)?
            .json()
            .await
            .map_err(http)
    }
}

fn string_field(
    body: &Value,
    field: &'static str,
    what: &impl Fn() -> String,
) -> Result<String, Error> {
    body[field]
        .as_str()
        .map(String::from)
        .ok_or_else(|| Error::Missing {
            what: what(),
            field,
            body: body.clone(),
        })
}

/// Shopper opens a conversation with a first message; returns (socket, visitor, conversation
/// id).
pub async fn shopper_opens(srv: &Endpoint, text: &str) -> (Ws, TestVisitor, String) {
    let v = srv.visitor().await;
    let mut ws = srv.shopper_ws(&v).await;
    let ack = ws.say("", &uuid::Uuid::new_v4().to_string(), text).await;
    (ws, v, ack.conversation_id)
}
