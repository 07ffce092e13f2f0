//! The HTTP side of the generic connector: URLs from path templates, authentication
//! (bearer, basic, HMAC-signed), answers read with a size cap, and error answers' reasons.

use std::time::Duration;

use hmac::{Hmac, Mac};
use reqwest::{Method, StatusCode};
use serde_json::Value;
use sha2::Sha256;

use super::{Auth, RestConnector, SourceError, paging};
use crate::util::percent_encode;

/// A successful answer: its JSON and the `Link` header's next page, if any.
pub(super) struct Reply {
    pub body: Value,
    pub next_link: Option<String>,
}

impl RestConnector {
    pub(super) fn url(&self, template: &str, vars: &[(&str, &str)]) -> String {
        let mut path = template.to_string();
        for (k, v) in vars {
            path = path.replace(&format!("{{{k}}}"), &percent_encode(v));
        }
        format!("{}{path}", self.settings.base_url.trim_end_matches('/'))
    }

    /// Sends a request and reads the answer as JSON, capped at `max_body_bytes`.
    /// 404 to a GET becomes `Ok(None)`.
    pub(super) async fn call(
        &self,
        method: Method,
        url: &str,
        body: Option<&Value>,
    ) -> Result<Option<Reply>, SourceError> {
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
        let next_link = paging::next_link(res.headers());
        let bytes = read_capped(&mut res, self.settings.max_body_bytes).await?;
        if !status.is_success() {
            let reason = serde_json::from_slice::<Value>(&bytes)
                .ok()
                .and_then(|v| error_reason(&v))
                .unwrap_or_else(|| String::from_utf8_lossy(&bytes).chars().take(200).collect());
            return Err(SourceError::Status {
                code: status.as_u16(),
                reason,
            });
        }
        Ok(Some(Reply {
            body: parse_json(&bytes)?,
            next_link,
        }))
    }
}

/// The reason in an error answer: `{"error": "…"}`, `{"message": "…"}` (WooCommerce,
/// Magento) or `{"error": {"message": "…"}}`; Magento's `%name` / `%1` placeholders are
/// filled from its `parameters`.
fn error_reason(v: &Value) -> Option<String> {
    let text = [
        v.get("error"),
        v.get("message"),
        v.pointer("/error/message"),
    ]
    .into_iter()
    .flatten()
    .find_map(|e| e.as_str().map(String::from))?;
    let text_of = |p: &Value| p.as_str().map_or_else(|| p.to_string(), String::from);
    let mut named: Vec<(String, String)> = match v.get("parameters") {
        Some(Value::Object(m)) => m.iter().map(|(k, p)| (k.clone(), text_of(p))).collect(),
        Some(Value::Array(a)) => a
            .iter()
            .enumerate()
            .map(|(i, p)| ((i + 1).to_string(), text_of(p)))
            .collect(),
        _ => Vec::new(),
    };
    // Longest names first: `%fieldName` before `%field`, `%10` before `%1`.
    named.sort_by_key(|(k, _)| std::cmp::Reverse(k.len()));
    Some(
        named
            .iter()
            .fold(text, |t, (k, p)| t.replace(&format!("%{k}"), p)),
    )
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

#[cfg(test)]
mod tests {
    use super::error_reason;
    use serde_json::json;

    #[test]
    fn error_reasons_are_read_and_magento_placeholders_filled() {
        let magento = json!({"message": "No such entity with %fieldName = %fieldValue, %field",
                             "parameters": {"fieldName": "customerId", "fieldValue": 9, "field": "x"}});
        assert_eq!(
            error_reason(&magento).as_deref(),
            Some("No such entity with customerId = 9, x")
        );
        let listed = json!({"message": "%1 of %10", "parameters": ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j"]});
        assert_eq!(error_reason(&listed).as_deref(), Some("a of j"));
        let woo = json!({"code": "woocommerce_rest_shop_order_invalid_id", "message": "Invalid ID.", "data": {"status": 400}});
        assert_eq!(error_reason(&woo).as_deref(), Some("Invalid ID."));
        assert_eq!(
            error_reason(&json!({"error": {"message": "nope"}})).as_deref(),
            Some("nope")
        );
        assert_eq!(error_reason(&json!({"ok": true})), None);
    }
}
