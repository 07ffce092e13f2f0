//! `GET /api/v1/search` over real HTTP: what each role finds (an agent its groups', a
//! supervisor everything), that every result opens its conversation, and the 400s that say
//! what is wrong. One conversation is written through the shopper's socket (the message
//! writer's path, where the index is kept); what the search finds is the store's behaviour
//! suite (`store/tests/search.rs`).

mod common;

use common::*;
use kefu_server::store::{Body, Conversation, NewMessage, Role, SenderRole, Visitor};
use serde_json::Value;
use uuid::Uuid;

/// `GET /api/v1/search` with `params`, as `token`: status and body.
async fn search(srv: &TestServer, token: &str, params: &[(&str, &str)]) -> (u16, Value) {
    let res = srv
        .http
        .get(srv.url("/api/v1/search"))
        .query(params)
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

/// The conversation ids of a 200 answer, checking its total.
fn found(status: u16, body: &Value) -> Vec<String> {
    assert_eq!(status, 200, "{body}");
    let results = body["results"].as_array().expect("a list of results");
    assert_eq!(
        body["total"].as_u64(),
        Some(results.len() as u64),
        "one page holds them all: {body}"
    );
    results
        .iter()
        .map(|r| r["conversation_id"].as_str().unwrap().to_string())
        .collect()
}

/// A conversation in `group` opened by a shopper called `name`, with one text; made in the
/// store beside the running server (a shopper's socket opens only in the site's group).
async fn seeded(srv: &TestServer, like: &str, name: &str, group: &str, text: &str) -> String {
    let template = srv.store.conversation(like.parse().unwrap()).await.unwrap();
    let visitor = srv.store.visitor(template.visitor_id).await.unwrap();
    let v = Visitor {
        id: Uuid::now_v7(),
        token_hash: Uuid::now_v7().to_string(),
        display_name: name.into(),
        ..visitor
    };
    srv.store.create_visitor(&v).await.unwrap();
    let c = Conversation {
        id: Uuid::now_v7(),
        visitor_id: v.id,
        group: group.into(),
        last_seq: 0,
        ..template
    };
    srv.store.create_conversation(&c).await.unwrap();
    srv.store
        .append_messages(&[NewMessage {
            conversation_id: c.id,
            client_msg_id: Uuid::now_v7().to_string(),
            sender_role: SenderRole::Shopper,
            sender_id: v.id,
            sender_name: name.into(),
            body: Body::Text { text: text.into() },
            created_at: kefu_server::store::now_ms(),
        }])
        .await
        .unwrap();
    c.id.to_string()
}

#[tokio::test]
async fn each_role_finds_what_it_may_see_and_every_result_opens() {
    let srv = TestServer::start().await;
    let ann = srv.agent("ann", Role::Agent, &["pre-sales"], 5).await;
    let bob = srv.agent("bob", Role::Agent, &["after-sales"], 5).await;
    let sue = srv.agent("sue", Role::Supervisor, &[], 5).await;
    // Through the socket: the site's group, pre-sales.
    let (_shopper, _, presales) = shopper_opens(&srv, "我要退货，快递单号是 SF100200300").await;
    let aftersales = seeded(
        &srv,
        &presales,
        "Alice",
        "after-sales",
        "退货 please: where is my PARCEL?",
    )
    .await;

    let (status, body) = search(&srv, &ann.token, &[("q", "退货")]).await;
    assert_eq!(
        found(status, &body),
        [presales.as_str()],
        "ann (pre-sales) does not find after-sales' conversation"
    );
    let (status, body) = search(&srv, &bob.token, &[("q", "退货")]).await;
    assert_eq!(
        found(status, &body),
        [aftersales.as_str()],
        "and bob the other way round"
    );
    let (status, body) = search(&srv, &sue.token, &[("q", "退货")]).await;
    let mut both = found(status, &body);
    both.sort();
    let mut expected = vec![presales.clone(), aftersales.clone()];
    expected.sort();
    assert_eq!(both, expected, "a supervisor finds both");

    // The four-character word, English in any case, the customer.
    let (status, body) = search(&srv, &sue.token, &[("q", "快递单号")]).await;
    assert_eq!(found(status, &body), [presales.as_str()]);
    let (status, body) = search(&srv, &sue.token, &[("q", "parcel")]).await;
    assert_eq!(found(status, &body), [aftersales.as_str()]);
    let (status, body) = search(&srv, &ann.token, &[("customer", "alice")]).await;
    assert_eq!(
        found(status, &body),
        Vec::<String>::new(),
        "not ann's to find"
    );
    let (status, body) = search(&srv, &sue.token, &[("customer", "alice")]).await;
    assert_eq!(found(status, &body), [aftersales.as_str()]);

    // Each result opens: its conversation's history holds the matched message at `seq`.
    for (who, token) in [
        ("sue", &sue.token),
        ("ann", &ann.token),
        ("bob", &bob.token),
    ] {
        let (status, body) = search(&srv, token, &[("q", "退货")]).await;
        for hit in body["results"].as_array().unwrap() {
            assert_eq!(status, 200);
            let id = hit["conversation_id"].as_str().unwrap();
            let seq = hit["seq"].as_u64().expect("a message matched");
            let (status, page) = srv
                .get(&format!("/api/v1/conversations/{id}/messages"), token)
                .await;
            assert_eq!(status, 200, "{who} opens {id}: {page}");
            let message = page["messages"]
                .as_array()
                .unwrap()
                .iter()
                .find(|m| m["seq"].as_u64() == Some(seq))
                .unwrap_or_else(|| panic!("{who}: no message {seq} in {page}"));
            let text = message["body"]["text"].as_str().unwrap();
            assert!(text.contains("退货"), "{who}: the matched message: {text}");
            assert_eq!(
                hit["snippet"].as_str(),
                Some(text),
                "a short text is its own snippet"
            );
        }
    }
}

#[tokio::test]
async fn bad_parameters_are_refused_saying_what_is_wrong() {
    let srv = TestServer::start().await;
    let ann = srv.agent("ann", Role::Agent, &["pre-sales"], 5).await;
    for (params, says) in [
        (
            &[][..],
            "give at least one of q, customer, order, tag, agent, from, to",
        ),
        (&[("q", "退")][..], "`q` must be 2 to 200 characters"),
        (&[("q", "  ")][..], "`q` must be 2 to 200 characters"),
        (
            &[("q", "ok"), ("limit", "51")][..],
            "`limit` must be 1 to 50",
        ),
        (
            &[("q", "ok"), ("offset", "-1")][..],
            "`offset` must be 0 to 10000",
        ),
        (
            &[("from", "20"), ("to", "10")][..],
            "`from` must be before `to`",
        ),
        (&[("q", "a\u{0}b")][..], "control characters"),
        (&[("agent", "ann")][..], "agent"),
        (&[("limit", "many")][..], "limit"),
        (&[("text", "退货")][..], "unknown field"),
    ] {
        let (status, body) = search(&srv, &ann.token, params).await;
        assert_eq!(status, 400, "{params:?}: {body}");
        assert_eq!(body["code"], "invalid_argument", "{params:?}");
        let message = body["message"].as_str().unwrap();
        assert!(message.contains(says), "{params:?}: {message}");
    }

    // Only agents search: a shopper is refused, a stranger asked to sign in.
    let shopper = srv.visitor().await;
    let (status, _) = search(&srv, &shopper.token, &[("q", "退货")]).await;
    assert_eq!(status, 403, "a shopper token");
    let res = srv
        .http
        .get(srv.url("/api/v1/search?q=ok"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401, "no token");
}

/// The bounds the OpenAPI description states for paging are the ones enforced (with a
/// criterion: `tests/openapi.rs` tries each parameter alone, which a search refuses).
#[tokio::test]
async fn stated_paging_limits_are_the_enforced_ones() {
    let srv = TestServer::start().await;
    let ann = srv.agent("ann", Role::Agent, &["pre-sales"], 5).await;
    let res = srv
        .http
        .get(srv.url("/api/openapi.json"))
        .send()
        .await
        .unwrap();
    let spec: Value = res.json().await.unwrap();
    let params = spec["paths"]["/api/v1/search"]["get"]["parameters"]
        .as_array()
        .expect("GET /api/v1/search is described");
    for name in ["limit", "offset"] {
        let schema = &params
            .iter()
            .find(|p| p["name"] == name)
            .unwrap_or_else(|| panic!("{name} is described"))["schema"];
        let (min, max) = (
            schema["minimum"].as_i64().unwrap(),
            schema["maximum"].as_i64().unwrap(),
        );
        for (value, ok) in [(min - 1, false), (min, true), (max, true), (max + 1, false)] {
            let value = value.to_string();
            let (status, body) = search(&srv, &ann.token, &[("tag", "vip"), (name, &value)]).await;
            assert_eq!(
                status,
                if ok { 200 } else { 400 },
                "{name}={value}: the description allows {min} to {max}: {body}"
            );
        }
    }
}
