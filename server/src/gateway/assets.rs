//! The shopper's front end, embedded in the binary: `/widget.js` (the script a shop embeds)
//! and `/chat?site=…` (a full-page chat for links from emails, mini-programs and QR codes).
//!
//! `widget.js` is built from `widget/` by Vite; `build.rs` refuses to compile without it.

use std::sync::LazyLock;

use axum::{
    extract::State,
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{Html, IntoResponse, Response},
};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use tower_http::compression::CompressionLayer;
use utoipa::IntoParams;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{AppState, error::ErrorBody, extract::Query};

static WIDGET_JS: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../widget/dist/widget.js"
));

/// Strong validator for `widget.js`: shops' pages revalidate it cheaply on every load.
static WIDGET_ETAG: LazyLock<String> = LazyLock::new(|| {
    let digest = Sha256::digest(WIDGET_JS);
    format!("\"{}\"", hex::encode(&digest[..12]))
});

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(widget))
        .routes(routes!(chat_page))
        .layer(CompressionLayer::new())
}

/// The script a shop embeds (`<script src=".../widget.js" data-site="…">`).
#[utoipa::path(get, path = "/widget.js", tag = "visitor",
    params(("If-None-Match" = Option<String>, Header, description = "The ETag of a copy the browser has")),
    responses(
        (status = 200, description = "The widget", content_type = "text/javascript", body = String),
        (status = 304, description = "The browser's copy is current"),
    ))]
async fn widget(headers: HeaderMap) -> Response {
    let etag = WIDGET_ETAG.as_str();
    let cached = headers
        .get(header::IF_NONE_MATCH)
        .is_some_and(|v| v.as_bytes() == etag.as_bytes());
    let common = [
        (
            header::ETAG,
            HeaderValue::from_str(etag).expect("hex in quotes is a valid header"),
        ),
        // Revalidate often: a new release must reach shoppers within minutes.
        (
            header::CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=300"),
        ),
        // Shops load it from their own pages.
        (
            header::ACCESS_CONTROL_ALLOW_ORIGIN,
            HeaderValue::from_static("*"),
        ),
        (
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ),
    ];
    if cached {
        return (StatusCode::NOT_MODIFIED, common).into_response();
    }
    (
        common,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/javascript; charset=utf-8"),
        )],
        WIDGET_JS,
    )
        .into_response()
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ChatQuery {
    /// The site id; the page says so when it is missing or unknown.
    pub site: Option<String>,
    /// The shop's product or order the link is about (e.g. from an order e-mail).
    pub product: Option<String>,
    pub order: Option<String>,
    /// `en` or `zh-CN`; otherwise the browser's language.
    pub lang: Option<String>,
}

/// The full-page chat: the same widget in page mode.
#[utoipa::path(get, path = "/chat", tag = "visitor",
    params(ChatQuery),
    responses(
        (status = 200, description = "The chat page", content_type = "text/html", body = String),
        (status = 400, description = "A malformed query string", body = ErrorBody),
        (status = 404, description = "No site, or an unknown one (an explaining page)", content_type = "text/html", body = String),
    ))]
async fn chat_page(State(state): State<AppState>, Query(q): Query<ChatQuery>) -> Response {
    let Some(site) = q.site.as_deref().and_then(|id| state.settings.site(id)) else {
        let body = "<!doctype html><meta charset=utf-8><title>Kefu</title>\
                    <p>This chat link is incomplete or out of date: it needs a known <code>site</code>.</p>";
        return (StatusCode::NOT_FOUND, page_headers(&[]), Html(body)).into_response();
    };
    let lang = match q.lang.as_deref() {
        Some(l) if l.starts_with("zh") => "zh-CN",
        Some(_) => "en",
        None => "",
    };
    let mut attrs = format!(r#" data-site="{}" data-mode="page""#, escape(&site.id));
    for (name, value) in [("data-product-id", &q.product), ("data-order-id", &q.order)] {
        if let Some(v) = value.as_deref().filter(|v| !v.is_empty() && v.len() <= 64) {
            attrs.push_str(&format!(r#" {name}="{}""#, escape(v)));
        }
    }
    let html_lang = if lang.is_empty() {
        String::new()
    } else {
        format!(r#" lang="{lang}""#)
    };
    let body = format!(
        r#"<!doctype html>
<html{html_lang}>
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1, viewport-fit=cover">
<title>{name}</title>
<style>html,body{{margin:0;height:100%;background:#f6f7f9}}</style>
</head>
<body>
<script src="/widget.js"{attrs} async></script>
<noscript>Chat needs JavaScript.</noscript>
</body>
</html>
"#,
        name = escape(&site.name),
    );
    (page_headers(&site.allowed_origins), Html(body)).into_response()
}

/// The chat page runs only our script; images may come from the shop (product cards) or
/// be attachments fetched into blob URLs. Only the site's own pages (`allowed_origins`) and
/// ours may frame it: another site framing the chat could dress it up as its own and read
/// nothing, but trick the shopper into typing there.
fn page_headers(framers: &[String]) -> HeaderMap {
    let ancestors = frame_ancestors(framers);
    let csp = format!(
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
         img-src 'self' blob: data: https:; connect-src 'self'; object-src 'none'; \
         base-uri 'none'; form-action 'none'; frame-ancestors {ancestors}"
    );
    let mut headers = HeaderMap::new();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_str(&csp).expect("origins are checked to be header-safe"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    // X-Frame-Options cannot list origins; it is the fallback for browsers without CSP only
    // when nobody may frame the page.
    if ancestors == "'none'" {
        headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    }
    headers
}

/// The `frame-ancestors` sources: the site's allowed origins that are plain
/// `http(s)://host[:port]` (anything else could break out of the policy), or `'none'`.
fn frame_ancestors(origins: &[String]) -> String {
    let sources: Vec<&str> = origins
        .iter()
        .map(String::as_str)
        .filter(|o| is_plain_origin(o))
        .collect();
    if sources.is_empty() {
        "'none'".into()
    } else {
        sources.join(" ")
    }
}

fn is_plain_origin(origin: &str) -> bool {
    let Some(authority) = origin
        .strip_prefix("https://")
        .or_else(|| origin.strip_prefix("http://"))
    else {
        return false;
    };
    !authority.is_empty()
        && authority
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || ".-:[]".contains(c))
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_origins_may_frame_the_chat() {
        let origins = [
            "https://shop.example".to_string(),
            "http://127.0.0.1:8080".to_string(),
            "https://evil.example; script-src *".to_string(),
            "javascript:alert(1)".to_string(),
        ];
        assert_eq!(
            frame_ancestors(&origins),
            "https://shop.example http://127.0.0.1:8080"
        );
        assert_eq!(frame_ancestors(&[]), "'none'");
    }
}
