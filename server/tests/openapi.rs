//! The OpenAPI description is served and every operation it lists exists on the server.

mod common;

use common::*;
use kefu_server::store::Role;
use serde_json::Value;

#[tokio::test]
async fn every_documented_operation_is_served() {
    let srv = TestServer::start().await;
    let admin = srv.agent("root", Role::Admin, &["pre-sales"], 5).await;
    let res = srv
        .http
        .get(srv.url("/api/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let spec: Value = res.json().await.unwrap();
    assert_eq!(spec["openapi"], "3.1.0");
    let paths = spec["paths"].as_object().unwrap();
    assert!(paths.len() >= 25, "the whole REST API is described");
    let mut checked = 0;
    for (path, item) in paths {
        let concrete = path
            .replace("{id}", &uuid::Uuid::new_v4().to_string())
            .replace("{name}", "no-such-group");
        for method in ["get", "post", "patch", "delete"] {
            if item.get(method).is_none() {
                continue;
            }
            let req = srv
                .http
                .request(method.to_uppercase().parse().unwrap(), srv.url(&concrete))
                .bearer_auth(&admin.token)
                .header("content-type", "application/json")
                .body("{}");
            let res = req.send().await.unwrap();
            let status = res.status().as_u16();
            let body = res.text().await.unwrap_or_default();
            assert_ne!(
                status, 405,
                "{method} {path} is documented but the method is not routed"
            );
            let json_404 = serde_json::from_str::<Value>(&body)
                .map(|v| v.get("code").is_some())
                .unwrap_or(false);
            assert!(
                status != 404 || json_404,
                "{method} {path} is documented but not routed ({body})"
            );
            checked += 1;
        }
    }
    assert!(checked >= 30, "checked {checked} operations");
}
