//! One request to the Admin API: REST (`/admin/api/{api_version}/{path}`) or GraphQL
//! (`graphql.json`), with the `X-Shopify-Access-Token` header, the answer capped at
//! `max_body_bytes` while it streams, and Shopify's error shapes read into one message.

use reqwest::{Method, StatusCode, header};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::ShopifyConnector;
use crate::integrations::{
    SourceError,
    rest::{parse_json, read_capped},
};

impl ShopifyConnector {
    /// Sends a request to `/admin/api/{version}/{path}` and reads the answer as JSON, capped
    /// at `max_body_bytes`. Every non-2xx status (404 included) is an error.
    pub(super) async fn send(
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
        let bytes = read_capped(&mut res, self.settings.max_body_bytes).await?;
        if !status.is_success() {
            return Err(SourceError::Status {
                code: status.as_u16(),
                reason: error_reason(&bytes, status),
            });
        }
        parse_json(&bytes)
    }

    pub(super) async fn get<T: DeserializeOwned>(
        &self,
        path: &str,
        what: &str,
    ) -> Result<T, SourceError> {
        parse(self.send(Method::GET, path, None).await?, what)
    }

    /// Runs a GraphQL Admin API operation; returns its `data`. Top-level `errors` become a
    /// `Status`: 403 when access is denied, 429 when throttled, else 502.
    pub(super) async fn graphql(
        &self,
        query: &str,
        variables: Value,
    ) -> Result<Value, SourceError> {
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

pub(super) fn parse<T: DeserializeOwned>(v: Value, what: &str) -> Result<T, SourceError> {
    serde_json::from_value(v).map_err(|e| SourceError::Malformed(format!("{what}: {e}")))
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
pub(super) fn error_reason(body: &[u8], status: StatusCode) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
