//! The demo shop's website: the storefront a shopper sees, with the Kefu chat widget
//! embedded exactly as a retailer would embed it.
//!
//! - `GET /`: header, six featured products, footer.
//! - `GET /products/{sku}`: one catalogue product; its widget tag carries
//!   `data-product-id="{sku}"` so the agent sees which product the shopper is looking at.
//! - `?lang=zh-CN` on either page sets `<html lang="zh-CN">` (the widget takes its language
//!   from it) and the shop's own texts; anything else is English.
//!
//! Every page has a demo bar: "sign in as" buttons for two customers of the data set. The
//! server, playing the shop's backend, signs each customer id with the site's identity
//! secret (`hex(HMAC-SHA256(secret, customer_id))`) and renders it into the page; clicking
//! a button calls `Kefu.identify({customerId, name, email, signature})` in the browser and
//! opens the chat. If the widget does not load, the bar says the chat server is unreachable.
//!
//! Everything interpolated into HTML goes through [`escape_html`]; JSON in inline scripts
//! goes through [`script_json`].
//!
//! The shop's own words, in English and Chinese, are in `lang`.

mod lang;

use std::fmt;

use axum::{
    extract::{Path, Query, State, rejection::QueryRejection},
    http::StatusCode,
    response::{Html, IntoResponse, Response},
};
use hmac::{Hmac, Mac};
use serde::Serialize;
use sha2::Sha256;

use crate::{
    catalogue::{self, Product},
    dataset::Dataset,
    http::AppState,
    model::Customer,
    money::format_cents,
};

pub use lang::Lang;
use lang::{LangQuery, lang_of};

/// The Kefu server whose `widget.js` the pages embed, unless told otherwise.
pub const DEFAULT_KEFU_URL: &str = "http://127.0.0.1:8080";

/// The identity secret of the `demo` site that `kefu --demo` creates.
pub const DEFAULT_IDENTITY_SECRET: &str = "demo-identity-secret";

/// The site id the widget is embedded with; `kefu --demo` creates this site.
pub const SITE_ID: &str = "demo";

/// The products on the home page, in order: most of them play a part in C10001's orders.
pub const FEATURED: [&str; 6] = [
    "CM-2100", "KT-1702", "TC-1001", "BP-3002", "SK-0050", "BK-2025",
];

/// What the shop pages need to know about Kefu.
#[derive(Clone, PartialEq, Eq)]
pub struct ShopSettings {
    /// Base URL of the Kefu server, e.g. `http://127.0.0.1:8080`; `/widget.js` is added.
    pub kefu_url: String,
    /// The site's identity secret, shared with Kefu, to sign customer ids.
    pub identity_secret: String,
}

impl Default for ShopSettings {
    fn default() -> Self {
        Self {
            kefu_url: DEFAULT_KEFU_URL.to_owned(),
            identity_secret: DEFAULT_IDENTITY_SECRET.to_owned(),
        }
    }
}

impl fmt::Debug for ShopSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ShopSettings")
            .field("kefu_url", &self.kefu_url)
            .field("identity_secret", &"<redacted>")
            .finish()
    }
}

/// `text` safe to put in HTML text and in quoted attribute values.
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// `value` as JSON that is safe inside an inline `<script>`: `<`, `>` and `&` become `\u003c`
/// and friends (so no `</script>` or `<!--` can end the script early), and the two line
/// separators JavaScript once refused in strings are escaped too.
pub fn script_json<T: Serialize + ?Sized>(value: &T) -> String {
    let json = serde_json::to_string(value).unwrap_or_else(|_| "null".to_owned());
    json.replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
        .replace('\u{2028}', "\\u2028")
        .replace('\u{2029}', "\\u2029")
}

/// What the shop's backend sends with a signed-in customer: lowercase
/// `hex(HMAC-SHA256(secret, customer_id))`.
pub fn identity_signature(secret: &str, customer_id: &str) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(customer_id.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// The customers the demo bar offers to sign in as: the showcase customer C10001, and the
/// first other customer with a Latin-script name and an e-mail address.
pub fn demo_customers(data: &Dataset) -> Vec<&Customer> {
    let showcase = &data.showcase().customer_id;
    let mut chosen: Vec<&Customer> = data.customer(showcase).into_iter().collect();
    let latin = |c: &&Customer| {
        &c.id != showcase
            && !c.emails.is_empty()
            && c.name
                .chars()
                .all(|ch| ch.is_ascii_alphabetic() || " .'-".contains(ch))
    };
    chosen.extend(data.customers().iter().find(latin));
    chosen
}

/// The identity the widget gets from `Kefu.identify(…)`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Identity<'a> {
    customer_id: &'a str,
    name: &'a str,
    email: &'a str,
    signature: String,
}

/// `GET /`.
pub(crate) async fn home(
    State(state): State<AppState>,
    query: Result<Query<LangQuery>, QueryRejection>,
) -> Html<String> {
    let lang = lang_of(query);
    let t = lang.text();
    let cards: String = FEATURED
        .iter()
        .filter_map(|sku| catalogue::product(sku))
        .map(|p| product_card(p, lang))
        .collect();
    let main = format!(
        r#"<section class="hero"><h1>{title}</h1><p>{body}</p></section>
<h2>{featured}</h2>
<ul class="grid">{cards}</ul>"#,
        title = escape_html(t.hero_title),
        body = escape_html(t.hero_body),
        featured = escape_html(t.featured),
    );
    Html(render_page(&state, lang, t.shop_name, None, &main))
}

/// `GET /products/{sku}`: 404 (an HTML page) for a SKU not in the catalogue.
pub(crate) async fn product(
    State(state): State<AppState>,
    Path(sku): Path<String>,
    query: Result<Query<LangQuery>, QueryRejection>,
) -> Response {
    let lang = lang_of(query);
    let t = lang.text();
    let back = format!(
        r#"<p><a class="back" href="/{q}">{all}</a></p>"#,
        q = lang.query(),
        all = escape_html(t.all_products),
    );
    let Some(p) = catalogue::product(&sku) else {
        let main = format!(
            "{back}<section class=\"hero\"><h1>{}</h1><p>{}</p></section>",
            escape_html(t.not_found_title),
            escape_html(t.not_found_body),
        );
        let page = render_page(&state, lang, t.not_found_title, None, &main);
        return (StatusCode::NOT_FOUND, Html(page)).into_response();
    };
    let main = format!(
        r#"{back}<article class="product">
<div class="art big" style="--hue:{hue}" aria-hidden="true">{emoji}</div>
<div class="details">
<h1>{name}</h1>
<p class="price">{price}</p>
<p class="sku">SKU {sku}</p>
<p>{blurb}</p>
<p class="actions"><button type="button" class="primary" disabled title="{cart_note}">{add}</button>
<button type="button" data-kefu-open>{ask}</button></p>
<p class="muted">{cart_note}</p>
</div>
</article>"#,
        hue = hue(p.sku),
        emoji = emoji(p.sku),
        name = escape_html(p.name),
        price = price(p),
        sku = escape_html(p.sku),
        blurb = escape_html(t.blurb),
        add = escape_html(t.add_to_cart),
        ask = escape_html(t.ask_about),
        cart_note = escape_html(t.cart_note),
    );
    let title = format!("{} · {}", p.name, t.shop_name);
    Html(render_page(&state, lang, &title, Some(p.sku), &main)).into_response()
}

fn product_card(p: &Product, lang: Lang) -> String {
    format!(
        r#"<li><a class="card" href="/products/{sku}{q}">
<div class="art" style="--hue:{hue}" aria-hidden="true">{emoji}</div>
<span class="name">{name}</span><span class="price">{price}</span></a></li>"#,
        sku = escape_html(p.sku),
        q = lang.query(),
        hue = hue(p.sku),
        emoji = emoji(p.sku),
        name = escape_html(p.name),
        price = price(p),
    )
}

fn price(p: &Product) -> String {
    format!("¥{}", format_cents(p.price_cents))
}

/// A picture for a product (the catalogue's image host is fictional).
fn emoji(sku: &str) -> &'static str {
    match sku.get(..2).unwrap_or_default() {
        "KT" | "TP" | "TC" => "🍵",
        "CM" | "CF" | "MG" | "VF" => "☕",
        "RC" | "AF" | "BL" | "OL" => "🍳",
        "PL" | "BD" | "TW" => "🛏️",
        "BP" | "SP" => "🎧",
        "WT" => "⌚",
        "KB" | "MS" | "PB" | "CB" | "LD" => "💡",
        "SK" | "HD" | "ET" => "🧴",
        "SH" => "👟",
        "BK" => "🎒",
        "TS" | "JK" | "SC" => "👕",
        "TY" | "BB" => "🧸",
        _ => "🛍️",
    }
}

/// A background hue per product, stable across runs.
fn hue(sku: &str) -> u32 {
    sku.bytes()
        .fold(7_u32, |h, b| h.wrapping_mul(31).wrapping_add(u32::from(b)))
        % 360
}

/// The whole page around `main`: head, demo bar, header, footer, widget tag.
fn render_page(
    state: &AppState,
    lang: Lang,
    title: &str,
    product_id: Option<&str>,
    main: &str,
) -> String {
    let settings = state.shop();
    let t = lang.text();
    let (sign_in_buttons, identities) = state.read(|data| {
        let customers = demo_customers(data);
        let buttons: String = customers
            .iter()
            .map(|c| {
                format!(
                    r#"<button type="button" class="signin" data-customer-id="{id}">{name} <small>{email}</small></button>"#,
                    id = escape_html(&c.id),
                    name = escape_html(&c.name),
                    email = escape_html(primary_email(c)),
                )
            })
            .collect();
        let identities: Vec<Identity<'_>> = customers
            .iter()
            .map(|c| Identity {
                customer_id: &c.id,
                name: &c.name,
                email: primary_email(c),
                signature: identity_signature(&settings.identity_secret, &c.id),
            })
            .collect();
        (buttons, script_json(&identities))
    });
    let kefu_url = settings.kefu_url.trim_end_matches('/');
    let (other_tag, other_name) = t.other_lang;
    format!(
        r##"<!doctype html>
<html lang="{lang}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>{STYLE}</style>
</head>
<body>
<div class="demo-bar" id="demo-bar" data-signed-in="{signed_in_as}" data-identify-failed="{identify_failed}">
<div class="wrap">
<span class="badge">{demo}</span> <span>{sign_in_as}</span> {sign_in_buttons}
<span id="demo-status" class="status" role="status"></span>
<p id="kefu-unreachable" class="warn" hidden>{unreachable_before} <code>{kefu_url}/widget.js</code>{unreachable_after}</p>
</div>
</div>
<header><div class="wrap">
<a class="logo" href="/{lang_query}">{shop_name}</a>
<span class="tagline">{tagline}</span>
<nav><a href="?lang={other_tag}" hreflang="{other_tag}">{other_name}</a>
<button type="button" data-kefu-open>{chat}</button></nav>
</div></header>
<main class="wrap">
{main}
</main>
<footer><div class="wrap">{footer} · <a href="/customers/C10001">/customers/C10001</a> · <a href="/healthz">/healthz</a></div></footer>
<script id="kefu-demo-identities" type="application/json">{identities}</script>
<script>{SCRIPT}</script>
{widget}
</body>
</html>
"##,
        lang = lang.tag(),
        title = escape_html(title),
        signed_in_as = escape_html(t.signed_in_as),
        identify_failed = escape_html(t.identify_failed),
        demo = escape_html(t.demo),
        sign_in_as = escape_html(t.sign_in_as),
        unreachable_before = escape_html(t.unreachable.0),
        unreachable_after = escape_html(t.unreachable.1),
        kefu_url = escape_html(kefu_url),
        lang_query = lang.query(),
        shop_name = escape_html(t.shop_name),
        tagline = escape_html(t.tagline),
        other_tag = escape_html(other_tag),
        other_name = escape_html(other_name),
        chat = escape_html(t.chat),
        footer = escape_html(t.footer),
        widget = widget_tag(kefu_url, product_id),
    )
}

fn primary_email(c: &Customer) -> &str {
    c.emails.first().map_or("", String::as_str)
}

/// `<script src="{kefu_url}/widget.js" data-site="demo" [data-product-id="…"] async></script>`.
pub fn widget_tag(kefu_url: &str, product_id: Option<&str>) -> String {
    let product = product_id
        .map(|id| format!(r#" data-product-id="{}""#, escape_html(id)))
        .unwrap_or_default();
    format!(
        r#"<script src="{}/widget.js" data-site="{SITE_ID}"{product} async></script>"#,
        escape_html(kefu_url.trim_end_matches('/')),
    )
}

const STYLE: &str = r#"
:root { --ink:#1f2430; --muted:#667085; --line:#e4e7ec; --brand:#c2410c; --bg:#faf8f5; }
* { box-sizing: border-box; }
body { margin:0; font-family: system-ui, -apple-system, "Segoe UI", "PingFang SC", "Noto Sans CJK SC", sans-serif; color:var(--ink); background:var(--bg); line-height:1.5; }
a { color:inherit; }
.wrap { max-width:1080px; margin:0 auto; padding:0 20px; }
.demo-bar { background:#1f2430; color:#f2f4f7; font-size:14px; padding:8px 0; }
.demo-bar .wrap { display:flex; flex-wrap:wrap; align-items:center; gap:8px; }
.badge { background:var(--brand); color:#fff; border-radius:4px; padding:1px 6px; font-weight:600; font-size:12px; text-transform:uppercase; }
.signin { background:#344054; color:#fff; border:1px solid #475467; border-radius:999px; padding:3px 12px; cursor:pointer; font:inherit; }
.signin small { color:#d0d5dd; }
.signin.active { background:#067647; border-color:#067647; }
.status { color:#a6f4c5; }
.warn { flex-basis:100%; margin:4px 0 0; color:#fec84b; }
header { background:#fff; border-bottom:1px solid var(--line); }
header .wrap { display:flex; flex-wrap:wrap; align-items:center; gap:12px 20px; padding-top:16px; padding-bottom:16px; }
.logo { font-size:22px; font-weight:700; text-decoration:none; color:var(--brand); }
.tagline { color:var(--muted); }
nav { margin-left:auto; display:flex; gap:14px; align-items:center; }
button { font:inherit; border-radius:8px; border:1px solid var(--line); background:#fff; padding:8px 14px; cursor:pointer; }
button.primary { background:var(--brand); border-color:var(--brand); color:#fff; }
button:disabled { opacity:.6; cursor:not-allowed; }
.hero { padding:40px 0 8px; }
.hero h1 { font-size:clamp(26px, 4vw, 40px); margin:0 0 8px; }
.hero p { color:var(--muted); max-width:640px; margin:0; }
h2 { margin:32px 0 16px; font-size:20px; }
.grid { list-style:none; padding:0; margin:0 0 40px; display:grid; gap:20px; grid-template-columns:repeat(auto-fill, minmax(200px, 1fr)); }
.card { display:flex; flex-direction:column; gap:6px; text-decoration:none; background:#fff; border:1px solid var(--line); border-radius:14px; padding:12px; height:100%; transition:box-shadow .15s, transform .15s; }
.card:hover { box-shadow:0 8px 24px rgba(16,24,40,.08); transform:translateY(-2px); }
.art { aspect-ratio:4/3; border-radius:10px; display:grid; place-items:center; font-size:56px; background:linear-gradient(135deg, hsl(var(--hue) 70% 92%), hsl(calc(var(--hue) + 40) 70% 84%)); }
.art.big { font-size:120px; }
.name { font-weight:600; }
.price { color:var(--brand); font-weight:700; font-size:18px; }
.back { display:inline-block; margin-top:24px; color:var(--muted); text-decoration:none; }
.product { display:grid; gap:32px; grid-template-columns:minmax(0, 1fr) minmax(0, 1fr); margin:16px 0 48px; }
.product h1 { margin:0 0 8px; }
.product .price { font-size:26px; margin:0; }
.sku, .muted { color:var(--muted); font-size:14px; }
.actions { display:flex; flex-wrap:wrap; gap:10px; }
footer { border-top:1px solid var(--line); color:var(--muted); font-size:14px; padding:24px 0 40px; background:#fff; }
@media (max-width: 720px) { .product { grid-template-columns:1fr; } .tagline { display:none; } }
"#;

/// Reads the identities and texts from the page; talks to `window.Kefu` once widget.js has
/// defined it, and says so when it never does.
const SCRIPT: &str = r#"
(function () {
  "use strict";
  var KEY = "kefu-demo-customer";
  var bar = document.getElementById("demo-bar");
  var status = document.getElementById("demo-status");
  var unreachable = document.getElementById("kefu-unreachable");
  var identities = JSON.parse(document.getElementById("kefu-demo-identities").textContent);
  var failed = false;

  function offline() { failed = true; unreachable.hidden = false; }
  // widget.js failing to load (server down, wrong --kefu-url) fires "error" on its tag.
  document.addEventListener("error", function (e) {
    var el = e.target;
    if (el && el.tagName === "SCRIPT" && el.hasAttribute("data-site")) { offline(); }
  }, true);

  // Runs fn(window.Kefu) as soon as the widget has loaded; gives up after 8 s.
  function whenKefu(fn) {
    var waited = 0;
    (function poll() {
      if (window.Kefu) { unreachable.hidden = true; fn(window.Kefu); return; }
      if (failed || waited >= 8000) { offline(); return; }
      waited += 100;
      setTimeout(poll, 100);
    })();
  }

  function remember(id) { try { sessionStorage.setItem(KEY, id); } catch (e) { /* private mode */ } }
  function remembered() { try { return sessionStorage.getItem(KEY); } catch (e) { return null; } }

  function signIn(who, openChat) {
    whenKefu(function (kefu) {
      new Promise(function (resolve) { resolve(kefu.identify(who)); }).then(function () {
        remember(who.customerId);
        status.textContent = bar.dataset.signedIn + " " + who.name;
        document.querySelectorAll(".signin").forEach(function (b) {
          b.classList.toggle("active", b.dataset.customerId === who.customerId);
        });
        if (openChat) { kefu.open(); }
      }, function (err) {
        status.textContent = bar.dataset.identifyFailed + " " + (err && err.message ? err.message : err);
      });
    });
  }

  document.querySelectorAll(".signin").forEach(function (button) {
    button.addEventListener("click", function () {
      var who = identities.find(function (i) { return i.customerId === button.dataset.customerId; });
      if (who) { signIn(who, true); }
    });
  });
  document.querySelectorAll("[data-kefu-open]").forEach(function (button) {
    button.addEventListener("click", function () { whenKefu(function (kefu) { kefu.open(); }); });
  });

  // Stay signed in across pages, as a real shop would; otherwise just check the widget loads.
  var again = identities.find(function (i) { return i.customerId === remembered(); });
  if (again) { signIn(again, false); } else { whenKefu(function () {}); }
})();
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn featured_products_are_in_the_catalogue() {
        for sku in FEATURED {
            assert!(catalogue::product(sku).is_some(), "{sku} is not sold");
        }
    }

    #[test]
    fn the_seeded_data_offers_two_customers_with_email() {
        let data = crate::dataset(crate::DEFAULT_SEED);
        let customers = demo_customers(&data);
        assert_eq!(customers.len(), 2, "{customers:?}");
        assert_eq!(customers[0].id, "C10001");
        assert!(customers.iter().all(|c| !c.emails.is_empty()));
    }

    #[test]
    fn settings_do_not_print_the_secret() {
        let debug = format!("{:?}", ShopSettings::default());
        assert!(!debug.contains(DEFAULT_IDENTITY_SECRET), "{debug}");
    }
}
