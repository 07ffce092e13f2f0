//! The demo shop website over a real socket: the widget tag as a retailer embeds it, product
//! pages, the language switch, and the signed identities of the sign-in demo.

use hmac::{Hmac, Mac};
use kefu_demo_backoffice::{
    Config, catalogue, dataset, serve_with,
    shop::{self, FEATURED},
};
use reqwest::{StatusCode, header::CONTENT_TYPE};
use serde_json::Value;
use sha2::Sha256;
use tokio::net::TcpListener;

const KEFU_URL: &str = "http://127.0.0.1:18080";
const SECRET: &str = "shop-test-secret";

struct Page {
    status: StatusCode,
    content_type: String,
    html: String,
}

/// A server with `kefu_url` and `identity_secret` set; returns its base URL.
async fn start(config: Config) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(serve_with(listener, config, std::future::pending()));
    base
}

async fn start_configured() -> String {
    start(Config {
        kefu_url: KEFU_URL.to_owned(),
        identity_secret: SECRET.to_owned(),
        ..Config::default()
    })
    .await
}

async fn get(base: &str, path: &str) -> Page {
    let response = reqwest::get(format!("{base}{path}")).await.unwrap();
    let status = response.status();
    let content_type = response
        .headers()
        .get(CONTENT_TYPE)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let html = response.text().await.unwrap();
    Page {
        status,
        content_type,
        html,
    }
}

fn hmac_hex(secret: &str, message: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(message.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// The JSON of `<script id="kefu-demo-identities" type="application/json">`.
fn identities(html: &str) -> Vec<Value> {
    let open = r#"<script id="kefu-demo-identities" type="application/json">"#;
    let start = html.find(open).expect("the page carries the identities") + open.len();
    let end = start + html[start..].find("</script>").unwrap();
    let json: Value = serde_json::from_str(&html[start..end]).unwrap();
    json.as_array().unwrap().clone()
}

#[tokio::test]
async fn home_embeds_the_widget_from_the_configured_kefu_url() {
    let base = start_configured().await;
    let page = get(&base, "/").await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(page.content_type, "text/html; charset=utf-8");
    assert!(page.html.starts_with("<!doctype html>"), "{}", page.html);
    assert!(page.html.contains(r#"<html lang="en">"#));
    assert!(page.html.contains("<title>Kefu demo shop</title>"));
    assert!(
        page.html.contains(&format!(
            r#"<script src="{KEFU_URL}/widget.js" data-site="demo" async></script>"#
        )),
        "{}",
        page.html
    );
    assert!(
        !page.html.contains("data-product-id"),
        "the home page is about no product"
    );
    for sku in FEATURED {
        let p = catalogue::product(sku).unwrap();
        assert!(
            page.html.contains(&format!(r#"href="/products/{sku}""#)),
            "links {sku}"
        );
        assert!(
            page.html.contains(&shop::escape_html(p.name)),
            "shows {}",
            p.name
        );
    }
    assert!(
        page.html.contains("¥2899.00"),
        "the espresso machine's price"
    );
    assert!(
        page.html.contains(r#"href="?lang=zh-CN""#),
        "offers Chinese"
    );
}

#[tokio::test]
async fn the_default_kefu_url_is_the_local_demo_server() {
    let base = start(Config::default()).await;
    let page = get(&base, "/").await;
    assert!(page.html.contains(
        r#"<script src="http://127.0.0.1:8080/widget.js" data-site="demo" async></script>"#
    ));
    let data = dataset(Config::default().seed);
    let c10001 = &identities(&page.html)[0];
    assert_eq!(c10001["customerId"], data.showcase().customer_id.as_str());
    assert_eq!(
        c10001["signature"],
        hmac_hex("demo-identity-secret", "C10001"),
        "signed with the secret of `kefu --demo`"
    );
}

#[tokio::test]
async fn product_pages_name_the_product_to_the_widget() {
    let base = start_configured().await;
    let page = get(&base, "/products/CM-2100").await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(page.content_type, "text/html; charset=utf-8");
    assert!(
        page.html.contains(&format!(
            r#"<script src="{KEFU_URL}/widget.js" data-site="demo" data-product-id="CM-2100" async></script>"#
        )),
        "{}",
        page.html
    );
    assert!(page.html.contains("<h1>Espresso Machine Barista Pro</h1>"));
    assert!(page.html.contains("¥2899.00"));

    // Every catalogue product has a page, not only the featured ones.
    let page = get(&base, "/products/PT-0010").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.html.contains(r#"data-product-id="PT-0010""#));
}

#[tokio::test]
async fn an_unknown_product_is_404() {
    let base = start_configured().await;
    for path in [
        "/products/NOPE-1",
        "/products/kt-1702",
        "/products/%3Cscript%3E",
    ] {
        let page = get(&base, path).await;
        assert_eq!(page.status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(page.content_type, "text/html; charset=utf-8", "{path}");
        assert!(
            !page.html.contains("data-product-id"),
            "{path}: no product to tell the widget about"
        );
        assert!(!page.html.contains("<script>alert"), "{path}");
    }
}

#[tokio::test]
async fn lang_zh_cn_sets_the_html_lang() {
    let base = start_configured().await;
    for path in ["/?lang=zh-CN", "/products/KT-1702?lang=zh-CN"] {
        let page = get(&base, path).await;
        assert_eq!(page.status, StatusCode::OK, "{path}");
        assert!(page.html.contains(r#"<html lang="zh-CN">"#), "{path}");
        assert!(
            page.html.contains(r#"href="?lang=en""#),
            "{path}: offers English back"
        );
    }
    let page = get(&base, "/?lang=zh-CN").await;
    assert!(
        page.html.contains(r#"href="/products/KT-1702?lang=zh-CN""#),
        "links keep the language"
    );
    for path in [
        "/?lang=en",
        "/?lang=%22%3E%3Cscript%3E",
        "/?lang=fr",
        "/?x=%zz",
    ] {
        let page = get(&base, path).await;
        assert_eq!(page.status, StatusCode::OK, "{path}");
        assert!(page.html.contains(r#"<html lang="en">"#), "{path}");
    }
}

#[tokio::test]
async fn the_page_carries_identities_signed_with_the_configured_secret() {
    let base = start_configured().await;
    let data = dataset(Config::default().seed);
    for path in ["/", "/products/KT-1702"] {
        let page = get(&base, path).await;
        let identities = identities(&page.html);
        assert!(
            (1..=2).contains(&identities.len()),
            "{path}: one or two customers to sign in as: {identities:?}"
        );
        assert_eq!(identities[0]["customerId"], "C10001");
        for identity in &identities {
            let id = identity["customerId"].as_str().unwrap();
            let customer = data.customer(id).unwrap();
            assert_eq!(identity["name"], customer.name.as_str(), "{id}");
            assert_eq!(identity["email"], customer.emails[0].as_str(), "{id}");
            let signature = identity["signature"].as_str().unwrap();
            assert_eq!(signature, hmac_hex(SECRET, id), "{path}: signature of {id}");
            assert_eq!(signature, signature.to_lowercase(), "lowercase hex");
            assert_ne!(
                signature,
                hmac_hex("demo-identity-secret", id),
                "the configured secret, not the default"
            );
            // The button shows who it signs in as.
            assert!(
                page.html.contains(&format!(r#"data-customer-id="{id}""#)),
                "{path}: a button for {id}"
            );
            assert!(page.html.contains(&shop::escape_html(&customer.name)));
            assert!(page.html.contains(&shop::escape_html(&customer.emails[0])));
        }
        assert!(
            page.html.contains("Kefu.identify") || page.html.contains("kefu.identify("),
            "{path}: the button calls Kefu.identify"
        );
    }
}

#[test]
fn html_and_script_json_are_escaped() {
    let name = r#"<script>alert("x")</script> & 'Bob'"#;
    assert_eq!(
        shop::escape_html(name),
        "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;Bob&#39;"
    );
    assert_eq!(
        shop::escape_html("王芳 😀"),
        "王芳 😀",
        "other text is kept"
    );

    let json = shop::script_json(&serde_json::json!({ "name": name, "sep": "a\u{2028}b" }));
    assert!(!json.contains('<'), "{json}");
    assert!(!json.contains('>'), "{json}");
    assert!(!json.contains('\u{2028}'), "{json}");
    let back: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(back["name"], name, "still the same JSON value");
}

#[test]
fn the_widget_tag_escapes_what_it_interpolates() {
    assert_eq!(
        shop::widget_tag("http://127.0.0.1:8080/", None),
        r#"<script src="http://127.0.0.1:8080/widget.js" data-site="demo" async></script>"#
    );
    assert_eq!(
        shop::widget_tag(r#"http://x"><script>"#, Some(r#"a"b"#)),
        r#"<script src="http://x&quot;&gt;&lt;script&gt;/widget.js" data-site="demo" data-product-id="a&quot;b" async></script>"#
    );
}

#[test]
fn signatures_are_hmac_sha256_hex() {
    assert_eq!(
        shop::identity_signature("demo-identity-secret", "C10001"),
        hmac_hex("demo-identity-secret", "C10001")
    );
    // A known vector: HMAC-SHA256("key", "The quick brown fox jumps over the lazy dog").
    assert_eq!(
        shop::identity_signature("key", "The quick brown fox jumps over the lazy dog"),
        "f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8"
    );
}

#[tokio::test]
async fn shop_pages_are_not_delayed_and_refuse_other_methods_in_json() {
    let delay = std::time::Duration::from_secs(2);
    let base = start(Config {
        delay,
        ..Config::default()
    })
    .await;
    let started = std::time::Instant::now();
    let page = get(&base, "/").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        started.elapsed() < delay,
        "the shop answered after {:?}; --delay-ms is for the back office",
        started.elapsed()
    );

    let response = reqwest::Client::new()
        .post(format!("{base}/"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    let body: Value = response.json().await.unwrap();
    assert!(body["error"].is_string(), "{body}");
}
