//! Settings as `kefu config check` prints them: every secret replaced by a marker, so the
//! output can be pasted into a support ticket or a CI log.
//!
//! Secrets are found by the name of their key, not by a list of fields: a new connector,
//! plugin or webhook option called `…secret`, `…token`, `password` or `…key` is redacted
//! without anyone remembering to add it here.

use serde_json::Value;

use super::Settings;

/// What a secret that is set prints as. An empty secret prints as `""` (not set).
pub const REDACTED: &str = "*** (set, redacted)";

/// Whether a key names a secret (`identity_secret`, `token`, `access_token`, `password`,
/// `api_key`…). Lifetimes such as `token_ttl_hours` are numbers and stay visible.
fn is_secret_key(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    ["secret", "token", "password", "passwd", "api_key", "apikey"]
        .iter()
        .any(|s| key.contains(s))
        || key == "key"
        || key.ends_with("_key")
}

/// `url` with the password of its `user:password@` part replaced by `***`, for printing
/// (`store.url = "postgres://kefu:pw@db/kefu"` carries the database password).
pub fn url_without_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let Some(at) = rest[..authority_end].rfind('@') else {
        return url.to_string();
    };
    match rest[..at].split_once(':') {
        Some((user, _password)) => format!("{scheme}://{user}:***{}", &rest[at..]),
        None => url.to_string(),
    }
}

fn redact(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (key, v) in map.iter_mut() {
                match v {
                    Value::String(s) if is_secret_key(key) => {
                        if !s.is_empty() {
                            *s = REDACTED.to_string();
                        }
                    }
                    Value::String(s) if key == "url" || key.ends_with("_url") => {
                        *s = url_without_password(s);
                    }
                    _ => redact(v),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(redact),
        _ => {}
    }
}

impl Settings {
    /// The settings as pretty JSON with every secret redacted.
    pub fn redacted_json(&self) -> String {
        let mut value = serde_json::to_value(self).unwrap_or_default();
        redact(&mut value);
        serde_json::to_string_pretty(&value).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_redacted_by_key_and_the_rest_is_kept() {
        let mut v = serde_json::json!({
            "auth": {"token_ttl_hours": 12},
            "sites": [{"id": "shop", "identity_secret": "s3cr3t", "name": "Shop"}],
            "webhooks": [{"url": "http://127.0.0.1/h", "secret": "whsec"}],
            "integrations": {"backoffice": {"auth": {"type": "bearer", "token": "bo-token"}},
                             "shopify": {"access_token": ""}},
            "plugins": {"translate": {"api_key": "k-123", "model": "m"}},
        });
        redact(&mut v);
        let text = v.to_string();
        for secret in ["s3cr3t", "whsec", "bo-token", "k-123"] {
            assert!(
                !text.contains(secret),
                "{secret} must not be printed: {text}"
            );
        }
        assert_eq!(v["sites"][0]["identity_secret"], REDACTED);
        assert_eq!(
            v["integrations"]["shopify"]["access_token"], "",
            "an unset secret shows as unset"
        );
        assert_eq!(
            v["auth"]["token_ttl_hours"], 12,
            "numbers named *token* stay"
        );
        assert_eq!(v["plugins"]["translate"]["model"], "m");
        assert_eq!(v["sites"][0]["name"], "Shop");
    }

    #[test]
    fn passwords_in_urls_are_redacted_and_the_rest_kept() {
        let mut v = serde_json::json!({"store": {"url": "postgres://kefu:pa:ss@db:5432/kefu?sslmode=require"}});
        redact(&mut v);
        assert_eq!(
            v["store"]["url"], "postgres://kefu:***@db:5432/kefu?sslmode=require",
            "the password goes, host and options stay"
        );
        for plain in [
            "postgres://kefu@db/kefu",
            "sqlite:///var/lib/kefu/kefu.db",
            "http://127.0.0.1/a@b",
            "",
        ] {
            assert_eq!(
                url_without_password(plain),
                plain,
                "nothing secret in {plain}"
            );
        }
    }
}
