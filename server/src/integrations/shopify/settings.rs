//! The settings of a Shopify shop (`[integrations.shopify]`) and the checks serde cannot make.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Settings of the Shopify connector (e.g. `[integrations.shopify]`).
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShopifySettings {
    /// Name used in metrics and in the agent's source status.
    #[serde(default = "default_name")]
    pub name: String,
    /// The shop's base URL, e.g. `https://kefu-demo.myshopify.com` (no path).
    pub shop_url: String,
    /// An Admin API access token (`shpat_…`) with `read_customers`, `read_orders`,
    /// `write_orders` (cancel) and `read_returns` + `write_returns` (create a return).
    pub access_token: String,
    /// Admin API version, `YYYY-MM` (a quarterly release) or `unstable`.
    #[serde(default = "default_api_version")]
    pub api_version: String,
    /// Largest answer read, bytes; larger ones are refused rather than buffered.
    #[serde(default = "default_max_body")]
    pub max_body_bytes: usize,
}

fn default_name() -> String {
    "shopify".into()
}

fn default_api_version() -> String {
    "2025-01".into()
}

fn default_max_body() -> usize {
    4 * 1024 * 1024
}

/// The token never appears in logs or error messages.
impl fmt::Debug for ShopifySettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ShopifySettings")
            .field("name", &self.name)
            .field("shop_url", &self.shop_url)
            .field("access_token", &"<redacted>")
            .field("api_version", &self.api_version)
            .field("max_body_bytes", &self.max_body_bytes)
            .finish()
    }
}

impl ShopifySettings {
    /// Checks what serde cannot; returns the offending key (relative) and what it expects.
    pub fn validate(&self) -> Result<(), (String, String)> {
        let bad = |k: &str, e: &str| Err((k.to_string(), e.to_string()));
        let expect_url = "expected the shop's base URL, such as https://{shop}.myshopify.com";
        let Ok(url) = reqwest::Url::parse(&self.shop_url) else {
            return bad("shop_url", expect_url);
        };
        if !matches!(url.scheme(), "http" | "https")
            || url.host_str().is_none()
            || url.path() != "/"
            || url.query().is_some()
            || url.fragment().is_some()
        {
            return bad("shop_url", &format!("{expect_url} (no path or query)"));
        }
        let token = self.access_token.trim();
        if token.is_empty() || !token.bytes().all(|b| b.is_ascii_graphic()) {
            return bad(
                "access_token",
                "expected an Admin API access token (shpat_…), printable ASCII",
            );
        }
        let v = self.api_version.as_str();
        let dated = v.len() == 7
            && v.as_bytes()[4] == b'-'
            && v[..4].bytes().all(|b| b.is_ascii_digit())
            && matches!(&v[5..], "01" | "04" | "07" | "10");
        if !(dated || v == "unstable") {
            return bad(
                "api_version",
                "expected a quarterly Admin API version such as 2025-01, or unstable",
            );
        }
        if self.max_body_bytes == 0 {
            return bad("max_body_bytes", "expected at least 1");
        }
        Ok(())
    }
}
