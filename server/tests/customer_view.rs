//! The customer view against a local mock back office speaking the generic format
//! (`docs/backoffice-format.md`): happy path, slow, failing, malformed and huge answers,
//! Unicode, missing optional fields, caching with stale-while-revalidate, parallel fan-out,
//! an e-mail or phone only suggesting a customer, search and manual linking, and
//! authorization.

mod common;

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use axum::{
    Router,
    extract::{Path, Query, State},
    http::StatusCode,
    response::{IntoResponse, Response},
    routing::get,
};
use common::*;
use kefu_server::{
    auth::identity,
    integrations::{rest::RestSettings, view::ViewSettings},
    store::Role,
};
use serde_json::{Value, json};

/// What the mock answers on one route.
#[derive(Clone)]
struct Reply {
    status: u16,
    body: String,
    delay_ms: u64,
}

impl Reply {
    fn json(v: Value) -> Self {
        Self {
            status: 200,
            body: v.to_string(),
            delay_ms: 0,
        }
    }
    fn delayed(mut self, ms: u64) -> Self {
        self.delay_ms = ms;
        self
    }
}

/// Each request: route, when it arrived, when it was answered.
type RequestLog = Arc<Mutex<Vec<(&'static str, Instant, Instant)>>>;

/// A back office whose answers each test sets, recording when each request arrived and
/// was answered.
#[derive(Clone, Default)]
struct Mock {
    replies: Arc<Mutex<HashMap<&'static str, Reply>>>,
    log: RequestLog,
}

impl Mock {
    fn set(&self, route: &'static str, r: Reply) {
        self.replies.lock().unwrap().insert(route, r);
    }
    fn hits(&self, route: &str) -> usize {
        self.log
            .lock()
            .unwrap()
            .iter()
            .filter(|(r, _, _)| *r == route)
            .count()
    }
    async fn answer(&self, route: &'static str) -> Response {
        let arrived = Instant::now();
        let r = self
            .replies
            .lock()
            .unwrap()
            .get(route)
            .cloned()
            .unwrap_or(Reply {
                status: 404,
                body: r#"{"error":"not found"}"#.into(),
                delay_ms: 0,
            });
        tokio::time::sleep(Duration::from_millis(r.delay_ms)).await;
        self.log
            .lock()
            .unwrap()
            .push((route, arrived, Instant::now()));
        (
            StatusCode::from_u16(r.status).unwrap(),
            [("content-type", "application/json")],
            r.body,
        )
            .into_response()
    }
}

async fn start_mock(mock: Mock) -> String {
    let app = Router::new()
        .route(
            "/customers",
            get(
                |State(m): State<Mock>, Query(q): Query<HashMap<String, String>>| async move {
                    m.answer(if q.contains_key("q") {
                        "search"
                    } else {
                        "customer_by_contact"
                    })
                    .await
                },
            ),
        )
        .route(
            "/customers/{id}",
            get(
                |State(m): State<Mock>, Path(_id): Path<String>| async move {
                    m.answer("customer").await
                },
            ),
        )
        .route(
            "/customers/{id}/orders",
            get(|State(m): State<Mock>| async move { m.answer("orders").await }),
        )
        .route(
            "/customers/{id}/returns",
            get(|State(m): State<Mock>| async move { m.answer("returns").await }),
        )
        .with_state(mock);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

fn customer_json() -> Value {
    json!({
        "id": "C1", "name": "王芳 🌸 Fang", "emails": ["fang@example.cn"], "phones": ["+86 138 0013 8000"],
        "tier": "金卡 gold", "tags": ["vip", "😀"], "lifetime_value": {"amount": "12890.00", "currency": "CNY"},
        "notes": [{"at": "2026-10-01T10:00:00Z", "author": "李娜", "text": "晚上六点后送货 🚚"}],
        "attributes": {"birthday": "03-14"}
    })
}

fn orders_json() -> Value {
    json!({"orders": [
        {"id": "SO-1", "status": "shipped", "items": [{"sku": "KT-1", "name": "电水壶 ☕", "quantity": 1,
          "unit_price": {"amount": "199.00", "currency": "CNY"}}],
         "shipments": [{"carrier": "SF Express", "tracking_number": "SF1", "tracking_url": "https://sf.example/SF1"}]},
        {"id": "SO-2", "status": "paid"}
    ]})
}

fn returns_json() -> Value {
    json!({"returns": [{"id": "RMA-1", "order_id": "SO-1", "status": "requested", "items": [{"sku": "KT-1", "quantity": 1}]}]})
}

fn happy_mock() -> Mock {
    let m = Mock::default();
    m.set("customer", Reply::json(customer_json()));
    m.set(
        "customer_by_contact",
        Reply::json(json!({"customers": [customer_json()]})),
    );
    m.set(
        "search",
        Reply::json(json!({"customers": [customer_json()]})),
    );
    m.set("orders", Reply::json(orders_json()));
    m.set("returns", Reply::json(returns_json()));
    m
}

fn backoffice(url: &str) -> RestSettings {
    RestSettings::new("erp", url)
}

struct Setup {
    srv: TestServer,
    mock: Mock,
    agent: TestAgent,
    agent_ws: Ws,
}

async fn setup(mock: Mock, cache: ViewSettings) -> Setup {
    let url = start_mock(mock.clone()).await;
    let srv = TestServer::start_with(|s| {
        s.integrations.backoffice = Some(backoffice(&url));
        s.integrations.cache = cache;
    })
    .await;
    let agent = srv.agent("ann", Role::Agent, &["pre-sales"], 5).await;
    let agent_ws = srv.agent_ws(&agent).await;
    Setup {
        srv,
        mock,
        agent,
        agent_ws,
    }
}

fn quick() -> ViewSettings {
    ViewSettings {
        timeout_ms: 2000,
        retries: 2,
        cache_ttl_secs: 60,
        stale_secs: 3600,
    }
}

/// A signed-in customer opens a chat (not yet accepted).
async fn open_signed_chat(s: &Setup, customer_id: &str) -> (Ws, String) {
    let v = s
        .srv
        .visitor_with(json!({"site_id": SITE, "customer_id": customer_id, "signature": identity::sign(SECRET, customer_id)}))
        .await;
    let mut ws = s.srv.shopper_ws(&v).await;
    let conv = ws
        .say("", "hello", "where is my parcel?")
        .await
        .conversation_id;
    (ws, conv)
}

/// Waits for the customer view pushed to the offered agent.
async fn pushed_view(s: &mut Setup, conv: &str) -> Value {
    let ready = s
        .agent_ws
        .recv_event(|e| match &e.kind {
            Some(kefu_proto::v1::conversation_event::Kind::CustomerViewReady(r))
                if e.conversation_id == conv =>
            {
                Some(r.clone())
            }
            _ => None,
        })
        .await;
    let mut v: Value = serde_json::from_str(&ready.view_json).unwrap();
    v["matched_by_event"] = ready.matched_by.into();
    v
}

/// A signed-in customer opens a chat; the agent accepts it. Returns the conversation id.
async fn customer_chat(s: &mut Setup, customer_id: &str) -> String {
    let v = s
        .srv
        .visitor_with(json!({"site_id": SITE, "customer_id": customer_id, "signature": identity::sign(SECRET, customer_id)}))
        .await;
    let mut ws = s.srv.shopper_ws(&v).await;
    let ack = ws.say("", "hello", "where is my parcel?").await;
    assert_eq!(s.agent_ws.accept_next_offer().await, ack.conversation_id);
    ack.conversation_id
}

async fn view(s: &Setup, conv: &str) -> Value {
    let (status, v) = s
        .srv
        .get(
            &format!("/api/v1/conversations/{conv}/customer"),
            &s.agent.token,
        )
        .await;
    assert_eq!(
        status, 200,
        "the assigned agent reads the customer view: {v}"
    );
    v
}

#[tokio::test]
async fn profile_orders_and_returns_arrive_with_unicode_intact() {
    let mut s = setup(happy_mock(), quick()).await;
    let conv = customer_chat(&mut s, "C1").await;
    let v = view(&s, &conv).await;
    assert_eq!(
        v["matched_by"], "customer_id",
        "the signed identity is used first"
    );
    assert_eq!(v["customer"]["state"], "ok");
    assert_eq!(v["customer"]["source"], "erp");
    assert_eq!(v["customer"]["data"]["name"], "王芳 🌸 Fang");
    assert_eq!(
        v["customer"]["data"]["notes"][0]["text"],
        "晚上六点后送货 🚚"
    );
    assert_eq!(v["orders"]["state"], "ok");
    assert_eq!(v["orders"]["data"][0]["items"][0]["name"], "电水壶 ☕");
    assert_eq!(
        v["orders"]["data"][0]["shipments"][0]["tracking_number"],
        "SF1"
    );
    assert_eq!(
        v["orders"]["data"][1]["items"],
        json!([]),
        "missing optional fields default to empty"
    );
    assert_eq!(v["returns"]["data"][0]["id"], "RMA-1");
    assert_eq!(
        v["conversations"].as_array().unwrap().len(),
        1,
        "earlier conversations are listed"
    );
}

#[tokio::test]
async fn a_slow_source_times_out_alone() {
    let m = happy_mock();
    m.set("orders", Reply::json(orders_json()).delayed(5_000));
    let mut s = setup(
        m,
        ViewSettings {
            timeout_ms: 400,
            retries: 0,
            ..quick()
        },
    )
    .await;
    let conv = customer_chat(&mut s, "C1").await;
    let v = view(&s, &conv).await;
    assert_eq!(
        v["orders"]["state"], "timed_out",
        "the slow source is reported as timed out"
    );
    assert_eq!(v["customer"]["state"], "ok", "the others still arrive");
    assert_eq!(v["returns"]["state"], "ok");
}

#[tokio::test]
async fn server_errors_are_retried_client_errors_are_not() {
    let m = happy_mock();
    m.set(
        "orders",
        Reply {
            status: 503,
            body: r#"{"error":"maintenance"}"#.into(),
            delay_ms: 0,
        },
    );
    m.set(
        "returns",
        Reply {
            status: 400,
            body: r#"{"error":"bad customer id"}"#.into(),
            delay_ms: 0,
        },
    );
    let mut s = setup(
        m,
        ViewSettings {
            retries: 2,
            ..quick()
        },
    )
    .await;
    // The offer's prefetch is exactly one lookup per source: count its calls.
    let (_ws, conv) = open_signed_chat(&s, "C1").await;
    let v = pushed_view(&mut s, &conv).await;
    assert_eq!(v["orders"]["state"], "error");
    assert!(
        v["orders"]["error"]
            .as_str()
            .unwrap()
            .contains("maintenance"),
        "the reason is shown: {v}"
    );
    assert_eq!(s.mock.hits("orders"), 3, "a 503 is retried twice");
    assert_eq!(v["returns"]["state"], "error");
    assert_eq!(s.mock.hits("returns"), 1, "a 400 is not retried");
    assert_eq!(v["customer"]["state"], "ok");
}

#[tokio::test]
async fn malformed_and_huge_answers_are_errors_not_crashes() {
    let m = happy_mock();
    m.set(
        "orders",
        Reply {
            status: 200,
            body: "{\"orders\": [ {\"id\": ".into(),
            delay_ms: 0,
        },
    );
    let huge = format!(
        "{{\"returns\": [], \"padding\": \"{}\"}}",
        "x".repeat(10 * 1024 * 1024)
    );
    m.set(
        "returns",
        Reply {
            status: 200,
            body: huge,
            delay_ms: 0,
        },
    );
    let mut s = setup(m, quick()).await;
    let conv = customer_chat(&mut s, "C1").await;
    let v = view(&s, &conv).await;
    assert_eq!(v["orders"]["state"], "error");
    assert!(
        v["orders"]["error"]
            .as_str()
            .unwrap()
            .contains("expected format"),
        "{v}"
    );
    assert_eq!(v["returns"]["state"], "error");
    assert!(
        v["returns"]["error"]
            .as_str()
            .unwrap()
            .contains("larger than"),
        "a 10 MB body is refused: {v}"
    );
    assert_eq!(v["customer"]["state"], "ok");
}

#[tokio::test]
async fn cached_views_are_served_and_stale_ones_refresh_in_the_background() {
    // Fresh cache: a second view costs no back-office call.
    let mut s = setup(happy_mock(), quick()).await;
    let conv = customer_chat(&mut s, "C1").await;
    view(&s, &conv).await;
    view(&s, &conv).await;
    assert_eq!(
        s.mock.hits("orders"),
        1,
        "the second view is served from cache"
    );

    // TTL 0: the second view is stale and triggers exactly one refresh.
    let mut s = setup(
        happy_mock(),
        ViewSettings {
            cache_ttl_secs: 0,
            ..quick()
        },
    )
    .await;
    let conv = customer_chat(&mut s, "C1").await;
    view(&s, &conv).await;
    let before = s.mock.hits("orders");
    let v = view(&s, &conv).await;
    assert_eq!(
        v["orders"]["state"], "stale",
        "old data is served, marked stale"
    );
    assert_eq!(v["orders"]["data"][0]["id"], "SO-1");
    let mock = s.mock.clone();
    eventually("a background refresh", || {
        let m = mock.clone();
        async move { (m.hits("orders") > before).then_some(()) }
    })
    .await;
}

#[tokio::test]
async fn the_three_sources_are_asked_at_once() {
    let m = happy_mock();
    for route in ["customer", "orders", "returns"] {
        let r = m.replies.lock().unwrap().get(route).cloned().unwrap();
        m.set(route, r.delayed(200));
    }
    let mut s = setup(m, quick()).await;
    let conv = customer_chat(&mut s, "C1").await;
    view(&s, &conv).await;
    let log = s.mock.log.lock().unwrap().clone();
    let last_arrival = log.iter().map(|e| e.1).max().unwrap();
    let first_answer = log.iter().map(|e| e.2).min().unwrap();
    assert_eq!(log.len(), 3);
    assert!(
        last_arrival < first_answer,
        "all three requests were in flight before any was answered"
    );
}

#[tokio::test]
async fn an_email_only_suggests_a_customer_when_no_customer_id_is_signed() {
    let mut s = setup(happy_mock(), quick()).await;
    let v = s
        .srv
        .visitor_with(json!({"site_id": SITE, "email": "fang@example.cn"}))
        .await;
    let mut ws = s.srv.shopper_ws(&v).await;
    let conv = ws.say("", "hi", "hello").await.conversation_id;
    s.agent_ws.accept_next_offer().await;
    let view = view(&s, &conv).await;
    assert_eq!(view["matched_by"], "email");
    assert_eq!(view["verification"], "unverified");
    assert_eq!(view["suggestion"]["name"], "王芳 🌸 Fang");
    assert!(
        view["customer"]["data"].is_null(),
        "a typed e-mail proves nothing: no profile"
    );
    assert_eq!(view["orders"]["state"], "unavailable");
    assert_eq!(s.mock.hits("customer_by_contact"), 1);
    assert_eq!(
        s.mock.hits("orders") + s.mock.hits("returns"),
        0,
        "an unverified shopper's orders are not even fetched"
    );

    // An anonymous shopper has nothing to look up: said plainly, nothing called.
    let anon = s.srv.visitor().await;
    let mut ws = s.srv.shopper_ws(&anon).await;
    let conv = ws.say("", "hi", "hello").await.conversation_id;
    s.agent_ws.accept_next_offer().await;
    let view = self::view(&s, &conv).await;
    assert_eq!(view["matched_by"], "none");
    assert_eq!(view["customer"]["state"], "unavailable");
}

#[tokio::test]
async fn agents_search_and_link_a_customer_by_hand() {
    let mut s = setup(happy_mock(), quick()).await;
    let anon = s.srv.visitor().await;
    let mut ws = s.srv.shopper_ws(&anon).await;
    let conv = ws.say("", "hi", "it's Fang").await.conversation_id;
    s.agent_ws.accept_next_offer().await;

    let (status, found) = s.srv.get("/api/v1/customers?q=Fang", &s.agent.token).await;
    assert_eq!(status, 200);
    assert_eq!(found[0]["id"], "C1");
    let (status, _) = s.srv.get("/api/v1/customers?q=F", &s.agent.token).await;
    assert_eq!(status, 400, "one character is too little to search");

    let (status, linked) = s
        .srv
        .post(
            &format!("/api/v1/conversations/{conv}/customer/link"),
            &s.agent.token,
            json!({"customer_id": "C1"}),
        )
        .await;
    assert_eq!(status, 200, "{linked}");
    assert_eq!(linked["matched_by"], "customer_id");
    assert_eq!(linked["orders"]["data"][0]["id"], "SO-1");

    // The shopper cannot read the view; an agent of another group cannot either.
    let (status, _) = s
        .srv
        .get(
            &format!("/api/v1/conversations/{conv}/customer"),
            &anon.token,
        )
        .await;
    assert_eq!(status, 403);
    let other = s.srv.agent("zed", Role::Agent, &["after-sales"], 5).await;
    let (status, _) = s
        .srv
        .get(
            &format!("/api/v1/conversations/{conv}/customer"),
            &other.token,
        )
        .await;
    assert_eq!(status, 403);
    // Linking to a customer the back office does not know is refused.
    s.mock.set(
        "customer",
        Reply {
            status: 404,
            body: r#"{"error":"no such customer"}"#.into(),
            delay_ms: 0,
        },
    );
    let (status, _) = s
        .srv
        .post(
            &format!("/api/v1/conversations/{conv}/customer/link"),
            &s.agent.token,
            json!({"customer_id": "C404"}),
        )
        .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn the_view_is_prefetched_on_offer_and_pushed_to_the_agent() {
    let mut s = setup(happy_mock(), quick()).await;
    let (_ws, conv) = open_signed_chat(&s, "C1").await;
    // Before accepting, the offered agent receives the view.
    let pushed = pushed_view(&mut s, &conv).await;
    assert_eq!(pushed["matched_by_event"], "customer_id");
    assert_eq!(pushed["customer"]["data"]["name"], "王芳 🌸 Fang");
    assert_eq!(pushed["orders"]["data"][0]["id"], "SO-1");
    // Accepting and opening the panel is served from the warmed cache.
    s.agent_ws
        .send(kefu_proto::v1::client_envelope::Kind::Accept(
            kefu_proto::v1::AcceptOffer {
                conversation_id: conv.clone(),
            },
        ))
        .await;
    let v = view(&s, &conv).await;
    assert_eq!(v["orders"]["state"], "ok");
    assert_eq!(s.mock.hits("orders"), 1, "the prefetch warmed the cache");
}

#[tokio::test]
async fn a_back_office_with_other_field_names_is_mapped_by_configuration() {
    use kefu_server::integrations::{Connector, CustomerKey, rest};
    let m = Mock::default();
    m.set("customer", Reply::json(json!({"id": "C9", "full_name": "Zhang Wei 张伟 🐼", "contact": {"mails": ["zw@example.cn"]}})));
    m.set("orders", Reply::json(json!({"data": {"items": [
        {"order_no": "A-77", "state": "shipped", "lines": [{"code": "SKU-1", "title": "茶杯", "qty": 2}]}
    ]}})));
    let url = start_mock(m).await;
    let mut settings = RestSettings::new("legacy-erp", &url);
    settings.lists.orders = "/data/items".into();
    settings
        .fields
        .customer
        .insert("name".into(), "/full_name".into());
    settings
        .fields
        .customer
        .insert("emails".into(), "/contact/mails".into());
    settings
        .fields
        .order
        .insert("id".into(), "/order_no".into());
    settings
        .fields
        .order
        .insert("status".into(), "/state".into());
    settings
        .fields
        .order
        .insert("items".into(), "/lines".into());
    settings
        .fields
        .order_item
        .insert("sku".into(), "/code".into());
    settings
        .fields
        .order_item
        .insert("name".into(), "/title".into());
    settings
        .fields
        .order_item
        .insert("quantity".into(), "/qty".into());
    settings.validate().expect("the mapping is valid");
    let conn = rest::RestConnector::new(settings, rest::http_client(Duration::from_secs(5)))
        .expect("a connector");
    let c = conn
        .find_customer(&CustomerKey::Id("C9".into()))
        .await
        .unwrap()
        .data
        .unwrap();
    assert_eq!(c.name, "Zhang Wei 张伟 🐼");
    assert_eq!(c.emails, ["zw@example.cn"]);
    let orders = conn.orders("C9").await.unwrap().data;
    assert_eq!(orders[0].id, "A-77");
    assert_eq!(orders[0].status, "shipped");
    assert_eq!(
        (orders[0].items[0].sku.as_str(), orders[0].items[0].quantity),
        ("SKU-1", 2)
    );

    let mut bad = RestSettings::new("x", &url);
    bad.fields.order.insert("id".into(), "order_no".into());
    let (key, _) = bad.validate().unwrap_err();
    assert_eq!(
        key, "fields.order.id",
        "a mapping that is not a JSON pointer is refused by name"
    );
}

#[tokio::test]
async fn the_connector_authenticates_as_configured() {
    use axum::http::HeaderMap;
    use kefu_server::integrations::{Connector, CustomerKey, rest};
    let seen: Arc<Mutex<Vec<HeaderMap>>> = Arc::default();
    let log = seen.clone();
    let app = Router::new().route(
        "/customers/{id}",
        get(move |headers: HeaderMap| {
            let log = log.clone();
            async move {
                log.lock().unwrap().push(headers);
                axum::Json(customer_json())
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let auths = [
        rest::Auth::Bearer {
            token: "t0ken".into(),
        },
        rest::Auth::Basic {
            username: "kefu".into(),
            password: "pw".into(),
        },
        rest::Auth::Hmac {
            header: "X-Signature".into(),
            secret: "s3cret".into(),
        },
    ];
    for auth in auths {
        let mut settings = RestSettings::new("erp", &url);
        settings.auth = auth;
        let conn = rest::RestConnector::new(settings, rest::http_client(Duration::from_secs(5)))
            .expect("a connector");
        conn.find_customer(&CustomerKey::Id("C1".into()))
            .await
            .unwrap()
            .data
            .expect("found");
    }
    let seen = seen.lock().unwrap();
    assert_eq!(seen[0]["authorization"], "Bearer t0ken");
    assert_eq!(
        seen[1]["authorization"], "Basic a2VmdTpwdw==",
        "basic auth of kefu:pw"
    );
    let ts = seen[2]["x-kefu-timestamp"].to_str().unwrap().to_string();
    let expected = {
        use hmac::{Hmac, Mac};
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(b"s3cret").unwrap();
        mac.update(format!("{ts}.GET./customers/C1.").as_bytes());
        hex::encode(mac.finalize().into_bytes())
    };
    assert_eq!(
        seen[2]["x-signature"].to_str().unwrap(),
        expected,
        "HMAC over timestamp, method, path and body"
    );
}

#[tokio::test]
async fn a_phone_number_suggests_a_customer_too() {
    let mut s = setup(happy_mock(), quick()).await;
    let v = s
        .srv
        .visitor_with(json!({"site_id": SITE, "phone": "+86 138-0013-8000"}))
        .await;
    let mut ws = s.srv.shopper_ws(&v).await;
    let conv = ws.say("", "hi", "hello").await.conversation_id;
    s.agent_ws.accept_next_offer().await;
    let view = view(&s, &conv).await;
    assert_eq!(view["matched_by"], "phone");
    assert_eq!(view["suggestion"]["name"], "王芳 🌸 Fang");
    assert!(view["customer"]["data"].is_null(), "only a suggestion");
    // Something that is not a phone number is ignored rather than looked up.
    let odd = s
        .srv
        .visitor_with(json!({"site_id": SITE, "phone": "call me maybe"}))
        .await;
    let stored = s.srv.store.visitor(odd.id.parse().unwrap()).await.unwrap();
    assert_eq!(stored.phone, None);
}
