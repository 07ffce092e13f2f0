//! A back office in a shape Kefu has never seen ("Lotus ERP": envelopes with in-band error
//! codes, a by-id lookup answering a list, amounts and quantities as strings, statuses in
//! Chinese, tags as objects, unix times, paged orders) mapped by configuration alone —
//! `tests/fixtures/lotus/backoffice.toml`, jq filters — and seen by an agent through the
//! real server: profile, orders with items and shipments across pages, returns with refund
//! amounts, a return created and an order cancelled in Lotus's own body shape. Then what
//! goes wrong: a wrong-typed field, a record without an id, a runaway filter, a filter that
//! does not compile, and `kefu config check` trying a mapping on a sample answer.

mod common;

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use axum::{
    Json, Router,
    extract::{Query, State},
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use common::*;
use figment::{
    Figment,
    providers::{Format, Toml},
};
use kefu_server::{
    auth::identity, config::Settings, integrations::rest::RestSettings, store::Role,
};
use serde_json::{Value, json};

const MAPPING: &str = include_str!("fixtures/lotus/backoffice.toml");
const TOKEN: &str = "lotus-test-token";

/// Lotus's answers, and the bodies of the actions it received.
#[derive(Clone, Default)]
struct Lotus {
    received: Arc<Mutex<Vec<(String, Value)>>>,
}

type Q = Query<HashMap<String, String>>;

fn ok(data: Value) -> Response {
    Json(json!({"code": 0, "msg": "ok", "data": data})).into_response()
}

fn member() -> Value {
    json!({"member_no": 880012, "nick": "李雷 Lei", "mobile": "13800138000", "mail": "li.lei@example.cn",
           "level": {"code": "V2", "name": "黄金会员"},
           "labels": [{"id": 1, "name": "VIP"}, {"id": 7, "name": "爱买茶"}],
           "points_value": "1288.50", "reg_ts": 1709344800})
}

/// Four trades, newest first, two to a page.
fn trades() -> Vec<Value> {
    let trade = |no: &str, created: i64, status: &str, sku: &str, num: &str, price: &str| {
        json!({"trade_no": no, "member_no": 880012, "created": created, "status": status, "pay_status": "已支付",
               "amount": {"goods": price, "freight": "12.00", "total": "211.00"}, "currency": "CNY",
               "details": [{"goods_sku": sku, "title": "不锈钢电水壶 1.7L", "num": num, "price": price}],
               "logistics": [{"company": "顺丰速运", "waybill": format!("SF{created}"), "state": "运输中", "send_time": created + 3600}],
               "receiver": {"name": "李雷", "phone": "13800138000",
                            "addr": {"province": "上海", "city": "上海市", "detail": "徐汇区漕溪北路 1 号", "zip": "200030"}}})
    };
    vec![
        trade("T3", 1763700000, "已发货", "KT-1702", "1", "199.00"),
        trade("T2", 1763600000, "已签收", "MUG-01", "2", "39.90"),
        trade("T1", 1763500000, "待付款", "TEA-88", "3", "58.00"),
        trade("T0", 1763400000, "待付款", "TEA-88", "1", "58.00"),
    ]
}

async fn start(lotus: Lotus) -> String {
    let app = Router::new()
        .route(
            "/api/v2/member/get",
            get(|q: Q| async move {
                match q.get("member_no").map(String::as_str) {
                    Some("880012") => ok(json!({"list": [member()]})),
                    _ => Json(json!({"code": 40004, "msg": "会员不存在"})).into_response(),
                }
            }),
        )
        .route(
            "/api/v2/member/search",
            get(|| async { ok(json!({"list": [member()]})) }),
        )
        .route(
            "/api/v2/trade/list",
            get(|q: Q| async move {
                let page: usize = q["page_no"].parse().unwrap();
                let size: usize = q["page_size"].parse().unwrap();
                let all = trades();
                let rows: Vec<_> = all.iter().skip((page - 1) * size).take(size).cloned().collect();
                let has_next = page * size < all.len();
                ok(json!({"trades": rows, "page": {"no": page, "size": size, "has_next": has_next}}))
            }),
        )
        .route(
            "/api/v2/aftersale/list",
            get(|| async {
                ok(json!({"rows": [
                    {"as_no": "AS-9001", "trade_no": "T2", "member_no": 880012, "as_status": "退款成功", "reason": "杯子有裂纹",
                     "goods": [{"goods_sku": "MUG-01", "title": "马克杯", "num": 1}], "refund_fee": "39.90", "apply_time": 1763650000},
                    {"as_no": "AS-9000", "trade_no": "T1", "member_no": 880012, "as_status": "待审核", "reason": "不想要了",
                     "goods": [{"goods_sku": "TEA-88", "title": "乌龙茶", "num": 1}], "refund_fee": "0.00", "apply_time": 1763550000}
                ]}))
            }),
        )
        .route(
            "/api/v2/aftersale/apply",
            post(|State(l): State<Lotus>, h: HeaderMap, Json(body): Json<Value>| async move {
                assert_eq!(h["authorization"], format!("Bearer {TOKEN}"));
                l.received.lock().unwrap().push(("apply".into(), body.clone()));
                ok(json!({"as_no": "AS-9002", "trade_no": body["trade_no"], "as_status": "待审核",
                          "reason": body["reason"], "goods": body["goods"]}))
            }),
        )
        .route(
            "/api/v2/trade/cancel",
            post(|State(l): State<Lotus>, Json(body): Json<Value>| async move {
                l.received.lock().unwrap().push(("cancel".into(), body.clone()));
                if body["trade_no"] == "T1" {
                    // Lotus refuses in band: HTTP 200, a non-zero code.
                    return Json(json!({"code": 40902, "msg": "订单正在出库，不能取消"})).into_response();
                }
                ok(json!({"trade_no": body["trade_no"], "status": "已取消"}))
            }),
        )
        .fallback(|| async { (StatusCode::NOT_FOUND, "no such route").into_response() })
        .with_state(lotus);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

/// The mapping as a retailer writes it, `extra` TOML overriding parts of it.
fn settings(url: &str, extra: &str) -> RestSettings {
    let s: RestSettings = Figment::from(Toml::string(MAPPING))
        .merge(Toml::string(&format!("base_url = \"{url}\"\n{extra}")))
        .extract()
        .expect("the mapping loads");
    s.validate().expect("the mapping is valid");
    s
}

struct Desk {
    srv: TestServer,
    agent: TestAgent,
    agent_ws: Ws,
    conv: String,
}

/// Member 880012 opens a chat; an agent accepts it.
async fn desk(backoffice: RestSettings) -> Desk {
    let srv = TestServer::start_with(|s| s.integrations.backoffice = Some(backoffice)).await;
    let agent = srv.agent("ann", Role::Agent, &["pre-sales"], 5).await;
    let mut agent_ws = srv.agent_ws(&agent).await;
    let v = srv
        .visitor_with(json!({"site_id": SITE, "customer_id": "880012", "signature": identity::sign(SECRET, "880012")}))
        .await;
    let mut ws = srv.shopper_ws(&v).await;
    let ack = ws.say("", "hello", "我的水壶到哪了？").await;
    assert_eq!(agent_ws.accept_next_offer().await, ack.conversation_id);
    Desk {
        srv,
        agent,
        agent_ws,
        conv: ack.conversation_id,
    }
}

async fn view(d: &Desk) -> Value {
    let path = format!("/api/v1/conversations/{}/customer", d.conv);
    let (status, v) = d.srv.get(&path, &d.agent.token).await;
    assert_eq!(status, 200, "{v}");
    v
}

async fn act(d: &Desk, action: &str, body: Value) -> (u16, Value) {
    let path = format!("/api/v1/conversations/{}/actions/{action}", d.conv);
    d.srv.post(&path, &d.agent.token, body).await
}

#[tokio::test]
async fn an_unfamiliar_back_office_is_mapped_by_configuration_alone() {
    let lotus = Lotus::default();
    let url = start(lotus.clone()).await;
    let d = desk(settings(&url, "")).await;
    let v = view(&d).await;

    let c = &v["customer"];
    assert_eq!(c["state"], "ok", "{v}");
    assert_eq!(c["warnings"], json!([]));
    assert_eq!(
        c["data"],
        json!({"id": "880012", "name": "李雷 Lei", "emails": ["li.lei@example.cn"], "phones": ["13800138000"],
               "tier": "黄金会员", "tags": ["VIP", "爱买茶"], "lifetime_value": {"amount": "1288.50", "currency": "CNY"},
               "created_at": "2024-03-02T02:00:00Z", "notes": [], "attributes": {}})
    );

    let orders = &v["orders"];
    assert_eq!(orders["state"], "ok", "{v}");
    assert_eq!(orders["warnings"], json!([]));
    let ids: Vec<_> = orders["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["id"].clone())
        .collect();
    assert_eq!(
        ids,
        vec!["T3", "T2", "T1", "T0"],
        "both pages, newest first"
    );
    let t3 = &orders["data"][0];
    assert_eq!(t3["status"], "shipped");
    assert_eq!(t3["placed_at"], "2025-11-21T04:40:00Z");
    assert_eq!(t3["total"], json!({"amount": "211.00", "currency": "CNY"}));
    assert_eq!(
        t3["items"],
        json!([{"sku": "KT-1702", "name": "不锈钢电水壶 1.7L", "quantity": 1,
                "unit_price": {"amount": "199.00", "currency": "CNY"}, "image_url": null}])
    );
    assert_eq!(
        t3["shipments"],
        json!([{"carrier": "顺丰速运", "tracking_number": "SF1763700000", "tracking_url": null,
                "status": "in_transit", "shipped_at": "2025-11-21T05:40:00Z"}])
    );
    assert_eq!(t3["shipping_address"]["line1"], "徐汇区漕溪北路 1 号");
    assert_eq!(
        orders["data"][1]["items"][0]["quantity"], 2,
        "\"2\" became 2"
    );
    assert_eq!(orders["data"][2]["status"], "pending");

    let returns = &v["returns"];
    assert_eq!(returns["state"], "ok", "{v}");
    let r = &returns["data"][0];
    assert_eq!(
        (r["id"].as_str(), r["status"].as_str()),
        (Some("AS-9001"), Some("refunded"))
    );
    assert_eq!(
        r["refund"],
        json!({"amount": {"amount": "39.90", "currency": "CNY"}, "state": "refunded"})
    );
    assert_eq!(returns["data"][1]["refund"]["state"], "none");

    // A return, in Lotus's body shape; the answer mapped back to ours.
    let (status, ret) = act(
        &d,
        "create-return",
        json!({"order_id": "T3", "items": [{"sku": "KT-1702", "quantity": 1}], "reason": "壶盖松动"}),
    )
    .await;
    assert_eq!(status, 201, "{ret}");
    assert_eq!(ret["id"], "AS-9002", "{ret}");
    assert_eq!(
        ret["items"],
        json!([{"sku": "KT-1702", "name": null, "quantity": 1}])
    );
    // Cancelling: refused in band (HTTP 200, an error code) for one trade, done for another.
    let (status, refused) = act(
        &d,
        "cancel-order",
        json!({"order_id": "T1", "reason": "买错了"}),
    )
    .await;
    assert_eq!(status, 422, "{refused}");
    assert!(
        refused.to_string().contains("订单正在出库，不能取消"),
        "{refused}"
    );
    let (status, cancelled) = act(
        &d,
        "cancel-order",
        json!({"order_id": "T0", "reason": "买错了"}),
    )
    .await;
    assert_eq!(status, 200, "{cancelled}");
    assert_eq!(cancelled["status"], "cancelled");
    let received = lotus.received.lock().unwrap().clone();
    assert_eq!(
        received,
        vec![
            (
                "apply".to_string(),
                json!({"trade_no": "T3", "as_type": "RETURN_REFUND", "reason": "壶盖松动",
                                         "goods": [{"goods_sku": "KT-1702", "num": 1}]})
            ),
            (
                "cancel".to_string(),
                json!({"trade_no": "T1", "cancel_reason": "买错了"})
            ),
            (
                "cancel".to_string(),
                json!({"trade_no": "T0", "cancel_reason": "买错了"})
            ),
        ]
    );
    drop(d.agent_ws);
}

#[tokio::test]
async fn a_wrong_typed_field_is_a_warning_and_the_rest_still_shows() {
    let url = start(Lotus::default()).await;
    // A mapping that forgets two conversions: the tier object as is, the points as a bare string.
    let careless = r#"
[map]
customer = '.data.list[0] | {id: (.member_no | tostring), name: .nick, tier: .level, lifetime_value: .points_value}'
"#;
    let d = desk(settings(&url, careless)).await;
    let v = view(&d).await;
    let c = &v["customer"];
    assert_eq!(c["state"], "ok", "{v}");
    assert_eq!(c["data"]["name"], "李雷 Lei");
    assert_eq!(c["data"]["tier"], Value::Null);
    let mut warnings: Vec<String> = serde_json::from_value(c["warnings"].clone()).unwrap();
    warnings.sort();
    assert_eq!(warnings.len(), 2, "{warnings:?}");
    assert!(
        warnings[0].starts_with("customer.lifetime_value: invalid type: string"),
        "{warnings:?}"
    );
    assert!(
        warnings[1].starts_with("customer.tier: invalid type: map"),
        "{warnings:?}"
    );
    assert_eq!(
        v["orders"]["state"], "ok",
        "orders are looked up all the same"
    );
    assert_eq!(v["orders"]["data"].as_array().unwrap().len(), 4);
    assert_eq!(v["returns"]["state"], "ok");
}

#[tokio::test]
async fn a_record_without_an_id_is_an_error_not_an_empty_profile() {
    let url = start(Lotus::default()).await;
    // Forgets that the by-id answer is a list.
    let unwrapped_wrong = "[map]\ncustomer = '.data | {id: .member_no, name: .nick}'\n";
    let d = desk(settings(&url, unwrapped_wrong)).await;
    let v = view(&d).await;
    assert_eq!(v["customer"]["state"], "error", "{v}");
    assert_eq!(v["customer"]["data"], Value::Null);
    let why = v["customer"]["error"].as_str().unwrap();
    assert!(
        why.contains("customer: the record has no `id` after mapping"),
        "{why}"
    );
}

#[tokio::test]
async fn a_runaway_filter_is_cut_off_like_a_timeout() {
    let url = start(Lotus::default()).await;
    let runaway = "filter_timeout_ms = 100\n[map]\nreturns = 'last(repeat(.))'\n";
    let d = desk(settings(&url, runaway)).await;
    let v = view(&d).await;
    assert_eq!(v["returns"]["state"], "timed_out", "{v}");
    let why = v["returns"]["error"].as_str().unwrap();
    assert!(why.contains("map.returns: cut off after 100 ms"), "{why}");
    assert_eq!(v["customer"]["state"], "ok");
    assert_eq!(v["orders"]["state"], "ok");
}

#[test]
fn a_filter_that_does_not_compile_stops_start_naming_the_key() {
    let toml = "[integrations.backoffice]\nbase_url = \"http://127.0.0.1:9\"\n[integrations.backoffice.map]\norders = '''\n.data.trades[] |\n  {id: .trade_no,, status}\n'''\n";
    let e = Settings::load_str(toml).unwrap_err();
    assert_eq!(e.key, "integrations.backoffice.map.orders");
    assert!(e.expected.starts_with("line 2, column "), "{e}");
}

#[tokio::test]
async fn config_check_runs_each_filter_on_a_sample_answer() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("kefu.toml");
    // The mapping's tables moved under [integrations.backoffice], as in a kefu.toml.
    let mapping = MAPPING.replace("\n[", "\n[integrations.backoffice.");
    let toml = format!("[integrations.backoffice]\nbase_url = \"http://127.0.0.1:9\"\n{mapping}");
    std::fs::write(&config, toml).unwrap();
    let sample = dir.path().join("trades.json");
    std::fs::write(
        &sample,
        json!({"code": 0, "data": {"trades": [trades()[1]], "page": {"has_next": false}}})
            .to_string(),
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_kefu"))
        .arg("config")
        .arg("check")
        .arg(format!("--config={}", config.display()))
        .arg(format!("--sample=orders={}", sample.display()))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("== map.orders on"), "{stdout}");
    assert!(stdout.contains("\"id\": \"T2\""), "{stdout}");
    assert!(stdout.contains("\"status\": \"delivered\""), "{stdout}");
    assert!(stdout.contains("paging.next on it: false"), "{stdout}");

    // A sample the mapping cannot read: the error, and exit status 1.
    std::fs::write(
        &sample,
        json!({"code": 50001, "msg": "系统繁忙"}).to_string(),
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_kefu"))
        .args(["config", "check", &format!("--config={}", config.display())])
        .arg(format!("--sample=orders={}", sample.display()))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success());
    assert!(stdout.contains("error: map.orders: 系统繁忙"), "{stdout}");
}

/// Every jq program in docs/backoffice-format.md compiles, and the cookbook's recipes do
/// what the text says on the inputs it describes.
#[test]
fn the_documented_filters_work() {
    use kefu_server::integrations::rest::{Args, Program};
    let doc = include_str!("../../docs/backoffice-format.md");
    let programs: Vec<&str> = doc
        .split("```jq\n")
        .skip(1)
        .map(|block| block.split("```").next().unwrap())
        .collect();
    assert!(programs.len() >= 10, "{}", programs.len());
    for p in &programs {
        Program::compile("doc", p).unwrap_or_else(|e| panic!("{e}:\n{p}"));
    }
    let run = |code: &str, input: Value| {
        let code = programs.iter().find(|p| p.contains(code)).expect(code);
        Program::compile("doc", code)
            .unwrap()
            .run_here(input, &Args::default(), std::time::Duration::from_secs(1))
            .unwrap()
    };
    let money = |n: f64| {
        run(
            "def money2",
            json!({"grand_total": n, "order_currency_code": "EUR"}),
        )
    };
    assert_eq!(
        money(149.5),
        vec![json!({"amount": "149.50", "currency": "EUR"})]
    );
    assert_eq!(
        money(0.07),
        vec![json!({"amount": "0.07", "currency": "EUR"})]
    );
    assert_eq!(
        money(-3.1),
        vec![json!({"amount": "-3.10", "currency": "EUR"})]
    );
    assert_eq!(
        run("\"已签收\": \"delivered\"", json!({"status": "已发货"})),
        vec![json!("shipped")]
    );
    assert_eq!(
        run(
            "split(\",\")",
            json!({"labels": [{"name": "VIP"}], "phone": "138 0013 8000, +86 21 5555"})
        ),
        vec![json!({"tags": ["VIP"], "phones": ["138 0013 8000", "+86 21 5555"]})]
    );
    assert_eq!(
        run("todate", json!({"created": 1763700000})),
        vec![json!({"placed_at": "2025-11-21T04:40:00Z"})]
    );
    assert_eq!(
        run(
            "sub(\" \"; \"T\")",
            json!({"created_at": "2026-11-20 08:31:00"})
        ),
        vec![json!({"placed_at": "2026-11-20T08:31:00Z"})]
    );
    assert_eq!(
        run(
            "parent_item_id == null",
            json!({"items": [
            {"sku": "B", "name": "Bundle", "qty_ordered": "1", "parent_item_id": null},
            {"sku": "B-1", "name": "Part", "qty_ordered": "1", "parent_item_id": 7}]})
        ),
        vec![json!([{"sku": "B", "name": "Bundle", "quantity": 1}])]
    );
    let args = Args {
        order: Some(
            json!({"line_items": [{"id": 41, "sku": "KT-1702"}, {"id": 42, "sku": "MUG-01"}]}),
        ),
        ..Args::default()
    };
    let body = programs
        .iter()
        .find(|p| p.contains("$order.line_items"))
        .unwrap();
    let out = Program::compile("doc", body)
        .unwrap()
        .run_here(
            json!({"order_id": "1", "items": [{"sku": "MUG-01", "quantity": 2}], "reason": "broken"}),
            &args,
            std::time::Duration::from_secs(1),
        )
        .unwrap();
    assert_eq!(
        out,
        vec![json!({"reason": "broken", "line_items": [{"id": 42, "quantity": 2}]})]
    );
}
