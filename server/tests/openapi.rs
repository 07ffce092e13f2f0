//! The OpenAPI description is generated from the handlers (`gateway::openapi`): it is a valid
//! OpenAPI 3.1 document, every operation it lists is served, the server serves no route it
//! does not list, and the limits it states are the ones the handlers enforce.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use common::*;
use kefu_server::store::Role;
use serde_json::Value;

const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

async fn served_description(srv: &TestServer) -> Value {
    let res = srv
        .http
        .get(srv.url("/api/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.headers()["content-type"],
        "application/json",
        "served as JSON"
    );
    res.json().await.unwrap()
}

/// `{id}`, `{name}` in a path made concrete (ids that exist nowhere).
fn concrete(path: &str) -> String {
    path.replace("{id}", &uuid::Uuid::new_v4().to_string())
        .replace("{name}", "no-such-group")
}

/// Every (method, path) the description lists.
fn operations(spec: &Value) -> BTreeSet<(String, String)> {
    let mut ops = BTreeSet::new();
    for (path, item) in spec["paths"].as_object().unwrap() {
        for method in METHODS {
            if item.get(method).is_some() {
                ops.insert((method.to_string(), path.clone()));
            }
        }
    }
    ops
}

#[tokio::test]
async fn every_documented_operation_is_served_and_nothing_else() {
    let srv = TestServer::start().await;
    let admin = srv.agent("root", Role::Admin, &["pre-sales"], 5).await;
    let spec = served_description(&srv).await;
    let documented = operations(&spec);
    assert!(
        documented.len() >= 45,
        "the whole API is described: {}",
        documented.len()
    );
    let paths: BTreeSet<&String> = documented.iter().map(|(_, p)| p).collect();
    let mut checked = 0;
    for path in paths {
        let url = srv.url(&concrete(path));
        for method in METHODS {
            let res = srv
                .http
                .request(method.to_uppercase().parse().unwrap(), &url)
                .bearer_auth(&admin.token)
                .header("content-type", "application/json")
                .body("{}")
                .send()
                .await
                .unwrap();
            let status = res.status().as_u16();
            let body = res.text().await.unwrap_or_default();
            // axum answers an unrouted path with an empty 404 and an unrouted method on a
            // routed path with 405; every handler's own 404 says why in its body.
            let routed = status != 405 && !(status == 404 && body.is_empty());
            let is_documented = documented.contains(&(method.to_string(), path.clone()));
            assert_eq!(
                routed, is_documented,
                "{method} {path}: documented {is_documented}, but answered {status} ({body})"
            );
            checked += 1;
        }
    }
    assert!(checked >= 150, "checked {checked} method and path pairs");
}

/// Routes only come from `routes!`, which describes each one as it registers it: a plain
/// `.route(…)` in the gateway would serve a path the description does not list.
#[test]
fn every_route_is_registered_with_its_description() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/gateway");
    let mut files = 0;
    // The gateway's folders too (`limits/`).
    let mut paths = vec![];
    let mut dirs = vec![dir];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                paths.push(path);
            }
        }
    }
    for path in paths {
        let source = std::fs::read_to_string(&path).unwrap();
        for (n, line) in source.lines().enumerate() {
            // A plain axum router (`Router::new()`, not `OpenApiRouter::new()`) likewise.
            let line = line.replace("OpenApiRouter::new()", "");
            // Routes are registered with a literal path (`sessions.route(…)` is a domain call).
            for bare in [
                ".route(\"",
                ".route_service(\"",
                ".nest_service(\"",
                "Router::new()",
            ] {
                assert!(
                    !line.contains(bare),
                    "{}:{}: `{bare}` serves routes the OpenAPI description does not list; \
                     annotate the handler with #[utoipa::path] and register it with \
                     `.routes(routes!(handler))` (see gateway/openapi.rs)",
                    path.display(),
                    n + 1
                );
            }
        }
        files += 1;
    }
    assert!(files >= 15, "read the gateway's {files} files");
}

/// Every `$ref` in `value`.
fn refs<'a>(value: &'a Value, out: &mut Vec<&'a str>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                if k == "$ref" {
                    out.push(v.as_str().unwrap());
                } else {
                    refs(v, out);
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| refs(v, out)),
        _ => {}
    }
}

#[tokio::test]
async fn the_description_is_a_valid_openapi_3_1_document() {
    let srv = TestServer::start().await;
    let spec = served_description(&srv).await;
    assert_eq!(spec["openapi"], "3.1.0");
    assert!(spec["info"]["title"].is_string() && spec["info"]["version"].is_string());
    let schemes = &spec["components"]["securitySchemes"];
    assert_eq!(schemes["bearer"]["type"], "http");
    assert_eq!(schemes["bearer"]["scheme"], "bearer");

    let mut all_refs = Vec::new();
    refs(&spec, &mut all_refs);
    assert!(!all_refs.is_empty());
    for r in &all_refs {
        let name = r
            .strip_prefix("#/components/schemas/")
            .unwrap_or_else(|| panic!("{r}: only schema references are used"));
        assert!(
            spec["components"]["schemas"].get(name).is_some(),
            "{r} points at no schema"
        );
    }

    let mut operation_ids = BTreeMap::new();
    for (path, item) in spec["paths"].as_object().unwrap() {
        assert!(path.starts_with('/'), "{path}");
        let templated: BTreeSet<&str> = path
            .split('/')
            .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
            .collect();
        for method in METHODS {
            let Some(op) = item.get(method) else { continue };
            let at = format!("{method} {path}");
            if let Some(id) = op["operationId"].as_str() {
                assert!(
                    operation_ids.insert(id.to_string(), at.clone()).is_none(),
                    "{at}: operationId {id} is used twice"
                );
            }
            assert!(
                op["tags"].as_array().is_some_and(|t| !t.is_empty()),
                "{at}: tagged"
            );
            let params = op["parameters"].as_array().cloned().unwrap_or_default();
            let in_path: BTreeSet<&str> = params
                .iter()
                .filter(|p| p["in"] == "path")
                .map(|p| {
                    assert_eq!(p["required"], true, "{at}: path parameters are required");
                    p["name"].as_str().unwrap()
                })
                .collect();
            assert_eq!(
                in_path, templated,
                "{at}: path parameters match the template"
            );
            for p in &params {
                assert!(
                    ["path", "query", "header"].contains(&p["in"].as_str().unwrap()),
                    "{at}: {p}"
                );
                assert!(p["schema"].is_object(), "{at}: {} has a schema", p["name"]);
            }

            let responses = op["responses"].as_object().unwrap();
            assert!(!responses.is_empty(), "{at}: answers listed");
            for (status, response) in responses {
                let code: u16 = status.parse().unwrap_or_else(|_| panic!("{at}: {status}"));
                assert!((100..600).contains(&code), "{at}: {status}");
                assert!(
                    response["description"].is_string(),
                    "{at} {status}: described"
                );
                if (400..600).contains(&code)
                    && let Some(json) = response["content"].get("application/json")
                {
                    assert_eq!(
                        json["schema"]["$ref"], "#/components/schemas/Error",
                        "{at} {status}: errors are {{code, message}}"
                    );
                }
            }
            assert!(
                responses.keys().any(|s| s.starts_with('2') || s == "101"),
                "{at}: a success is listed"
            );

            let secured = op["security"].as_array().is_some_and(|s| !s.is_empty());
            if secured {
                assert!(
                    responses.contains_key("401") && responses.contains_key("403"),
                    "{at}: needs a token, so lists 401 and 403"
                );
            }
            if op["requestBody"]["content"]
                .get("application/json")
                .is_some()
            {
                for status in ["400", "413", "415"] {
                    assert!(
                        responses.contains_key(status),
                        "{at}: takes JSON, so lists {status}"
                    );
                }
            }
            if !in_path.is_empty() && !secured {
                assert!(responses.contains_key("404"), "{at}: lists 404");
            }
        }
    }
    assert!(operation_ids.len() >= 45, "every operation has an id");
}

/// The page-size limits the description states are exactly the ones the handlers enforce.
#[tokio::test]
async fn stated_limits_are_the_enforced_ones() {
    let srv = TestServer::start().await;
    let admin = srv.agent("root", Role::Admin, &["pre-sales"], 5).await;
    let spec = served_description(&srv).await;
    let mut checked = Vec::new();
    for (path, item) in spec["paths"].as_object().unwrap() {
        let Some(get) = item.get("get") else { continue };
        if path.contains('{') || get["security"].is_null() {
            continue;
        }
        // A search needs a criterion besides the parameter under test.
        let criterion: &[(&str, &str)] = if path == "/api/v1/search" {
            &[("tag", "vip")]
        } else {
            &[]
        };
        for p in get["parameters"].as_array().into_iter().flatten() {
            let (Some(min), Some(max)) = (
                p["schema"]["minimum"].as_i64(),
                p["schema"]["maximum"].as_i64(),
            ) else {
                continue;
            };
            let name = p["name"].as_str().unwrap();
            for (value, ok) in [(min - 1, false), (min, true), (max, true), (max + 1, false)] {
                let res = srv
                    .http
                    .get(srv.url(path))
                    .query(criterion)
                    .query(&[(name, value)])
                    .bearer_auth(&admin.token)
                    .send()
                    .await
                    .unwrap();
                let expected = if ok { 200 } else { 400 };
                assert_eq!(
                    res.status().as_u16(),
                    expected,
                    "GET {path}?{name}={value}: the description allows {min} to {max}"
                );
            }
            checked.push(format!("{path}?{name}"));
        }
    }
    checked.sort();
    assert_eq!(
        checked,
        [
            "/api/v1/admin/webhooks/deliveries?limit",
            "/api/v1/audit?limit",
            "/api/v1/conversations?limit",
            "/api/v1/search?limit",
            "/api/v1/search?offset",
        ],
        "every bounded parameter of a list was checked"
    );
}

/// The history page limit comes from the configuration, and so does the described one.
#[tokio::test]
async fn configured_limits_are_described() {
    let srv = TestServer::start_with(|s| {
        s.limits.history_page_max = 37;
        s.attachments.allowed_types = vec!["image/png".into(), "text/plain".into()];
    })
    .await;
    let spec = served_description(&srv).await;
    for path in [
        "/api/v1/conversations/{id}/messages",
        "/api/v1/bot/conversations/{id}/messages",
    ] {
        let limit = spec["paths"][path]["get"]["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == "limit")
            .unwrap();
        assert_eq!(limit["schema"]["maximum"], 37, "{path}: {limit}");
        assert_eq!(limit["schema"]["minimum"], 1, "{path}: {limit}");
    }
    let upload = &spec["paths"]["/api/v1/conversations/{id}/attachments"]["post"];
    let types: Vec<&String> = upload["requestBody"]["content"]
        .as_object()
        .unwrap()
        .keys()
        .collect();
    assert_eq!(
        types,
        ["image/png", "text/plain"],
        "uploads take the allowed types"
    );
}

/// `kefu openapi` prints the description for CI and docs: the same operations as served.
#[tokio::test]
async fn the_cli_prints_the_served_description() {
    let srv = TestServer::start().await;
    let served = served_description(&srv).await;
    let out = std::process::Command::new(kefu_testkit::kefu_bin())
        .arg("openapi")
        .env_clear()
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(printed["openapi"], "3.1.0");
    assert_eq!(operations(&printed), operations(&served));
}
