//! Reports over real HTTP: who may ask, what a bad query gets, the CSV tables, and numbers
//! that follow a real chat (the shopper writes over the socket, an agent answers, closes,
//! the shopper rates). The exact arithmetic over a scripted day is `reports::tests`.

mod common;

use common::*;
use kefu_proto::v1::{self as pb, client_envelope::Kind as In};
use kefu_server::store::{Role, now_ms};
use serde_json::{Value, json};

const HOUR: i64 = 3_600_000;

/// `from`/`to` an hour either side of now.
fn around_now() -> String {
    let now = now_ms();
    format!("from={}&to={}", now - HOUR, now + HOUR)
}

async fn summary(srv: &TestServer, token: &str) -> Value {
    let (status, body) = srv
        .get(&format!("/api/v1/reports/summary?{}", around_now()), token)
        .await;
    assert_eq!(status, 200, "{body}");
    body
}

/// A CSV table: status, content type and body.
async fn csv(srv: &TestServer, token: &str, path: &str) -> (u16, String, String) {
    let res = srv
        .http
        .get(srv.url(&format!("/api/v1/reports/{path}")))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    let kind = res
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    (status, kind, res.text().await.unwrap())
}

#[tokio::test]
async fn the_numbers_follow_a_real_chat() {
    let srv = TestServer::start().await;
    let boss = srv.agent("boss", Role::Supervisor, &[], 0).await;
    let ann = srv.agent("ann", Role::Agent, &["pre-sales"], 5).await;
    let mut a = srv.agent_ws(&ann).await;

    let (_shopper, v, conv) = shopper_opens(&srv, "Where is my parcel?").await;
    a.accept_next_offer().await;
    let r = summary(&srv, &boss.token).await;
    assert_eq!(
        (r["opened"].as_u64(), r["closed"].as_u64()),
        (Some(1), Some(0))
    );
    assert_eq!(r["first_response_ms"]["count"], 0, "not answered yet: {r}");
    assert_eq!(r["first_response_ms"]["p50"], Value::Null);

    // A private note is no answer; the public reply is.
    a.send(In::Send(pb::SendMessage {
        conversation_id: conv.clone(),
        client_msg_id: "note-1".into(),
        body: Some(note_body("checking the carrier")),
        group: String::new(),
        context: None,
    }))
    .await;
    a.say(&conv, "reply-1", "It left the warehouse today").await;
    let r = summary(&srv, &boss.token).await;
    assert_eq!(r["first_response_ms"]["count"], 1, "{r}");
    assert!(r["first_response_ms"]["p50"].as_i64().unwrap() >= 0);

    a.send(In::Close(pb::CloseConversation {
        conversation_id: conv.clone(),
    }))
    .await;
    eventually("the conversation closes", || async {
        let (_, c) = srv
            .get(&format!("/api/v1/conversations/{conv}"), &v.token)
            .await;
        (c["state"] == "closed").then_some(())
    })
    .await;
    let (status, _) = srv
        .post(
            &format!("/api/v1/conversations/{conv}/rating"),
            &v.token,
            json!({"score": 5, "comment": "快"}),
        )
        .await;
    assert_eq!(status, 204);

    let r = summary(&srv, &boss.token).await;
    assert_eq!(r["opened"], 1, "{r}");
    assert_eq!(r["closed"], 1);
    assert_eq!(r["transfers"], 0);
    assert_eq!(r["first_response_ms"]["count"], 1);
    assert_eq!(r["resolution_ms"]["count"], 1);
    assert_eq!(r["csat"]["responses"], 1);
    assert_eq!(r["csat"]["average"], 5.0);
    assert_eq!(r["csat"]["response_rate"], 1.0);
    assert_eq!(r["csat"]["distribution"], json!([0, 0, 0, 0, 1]));
    // No breach was recorded: the answered and closed conversation met both targets.
    assert_eq!(r["service_level"]["first_response"]["met"], 1);
    assert_eq!(r["service_level"]["resolution"]["attainment"], 1.0);
    let hours = r["busiest_hours"].as_array().unwrap();
    assert_eq!(hours.len(), 7);
    assert!(hours.iter().all(|d| d.as_array().unwrap().len() == 24));
    let cells: u64 = hours
        .iter()
        .flat_map(|d| d.as_array().unwrap())
        .map(|n| n.as_u64().unwrap())
        .sum();
    assert_eq!(cells, 1, "one conversation in the heat map");
    let opened_daily: u64 = r["daily"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["opened"].as_u64().unwrap())
        .sum();
    assert_eq!(opened_daily, 1);
    assert_eq!(r["by_agent"].as_array().unwrap().len(), 1);
    assert_eq!(r["by_agent"][0]["agent_id"], ann.id.as_str());
    assert_eq!(r["by_agent"][0]["display_name"], "Agent ann");
    assert_eq!(r["by_agent"][0]["closed"], 1);
    assert_eq!(r["by_agent"][0]["csat_average"], 5.0);
    assert_eq!(r["by_group"][0]["group"], "pre-sales");
    assert_eq!(r["by_group"][0]["opened"], 1);

    // The filters reach the store: another agent, group or channel selects nothing.
    for filter in [
        format!("agent={}", boss.id),
        "group=after-sales".into(),
        "channel=api".into(),
        "tag=vip".into(),
        "site=elsewhere".into(),
    ] {
        let path = format!("/api/v1/reports/summary?{}&{filter}", around_now());
        let (status, r) = srv.get(&path, &boss.token).await;
        assert_eq!((status, r["opened"].as_u64()), (200, Some(0)), "{filter}");
    }
    let path = format!(
        "/api/v1/reports/summary?{}&agent={}&channel=web&site={SITE}",
        around_now(),
        ann.id
    );
    assert_eq!(srv.get(&path, &boss.token).await.1["opened"], 1);
}

#[tokio::test]
async fn only_supervisors_and_admins_read_reports() {
    let srv = TestServer::start().await;
    let ann = srv.agent("ann", Role::Agent, &["pre-sales"], 5).await;
    let boss = srv.agent("boss", Role::Supervisor, &[], 0).await;
    let root = srv.agent("root", Role::Admin, &[], 0).await;
    let shopper = srv.visitor().await;
    for path in ["summary", "agents.csv", "hours.csv"] {
        let path = format!("/api/v1/reports/{path}?{}", around_now());
        assert_eq!(srv.get(&path, &ann.token).await.0, 403, "agent: {path}");
        assert_eq!(
            srv.get(&path, &shopper.token).await.0,
            403,
            "shopper: {path}"
        );
        let anonymous = srv.http.get(srv.url(&path)).send().await.unwrap();
        assert_eq!(anonymous.status(), 401, "{path}");
        for token in [&boss.token, &root.token] {
            let res = srv.http.get(srv.url(&path)).bearer_auth(token).send().await;
            assert_eq!(res.unwrap().status(), 200, "{path}");
        }
    }
}

#[tokio::test]
async fn a_bad_query_is_a_400_that_says_what_is_wrong() {
    let srv = TestServer::start().await;
    let boss = srv.agent("boss", Role::Supervisor, &[], 0).await;
    let now = now_ms();
    let day = 24 * HOUR;
    let range = format!("from={}&to={now}", now - day);
    let cases = [
        (format!("summary?to={now}"), "from"),
        (format!("summary?from={now}&to={now}"), "before"),
        (format!("summary?from={now}&to={}", now - 1), "before"),
        (
            format!("summary?from={}&to={now}", now - 401 * day),
            "400 days",
        ),
        (format!("summary?from=-5&to={now}"), "unix milliseconds"),
        (format!("summary?from=soon&to={now}"), ""),
        (
            format!("summary?{range}&tz_offset_minutes=900"),
            "tz_offset_minutes",
        ),
        (format!("summary?{range}&tz_offset_minutes=x"), ""),
        (format!("summary?{range}&agent=ann"), "agent"),
        (format!("summary?{range}&channel=fax"), "channel"),
        (format!("summary?{range}&group=%00"), "group"),
        (format!("summary?{range}&colour=red"), "colour"),
        (format!("weekly.csv?{range}"), "weekly"),
        (format!("agents.json?{range}"), ".csv"),
        (format!("agents.csv?{range}&agent=ann"), "agent"),
    ];
    for (query, says) in cases {
        let (status, body) = srv
            .get(&format!("/api/v1/reports/{query}"), &boss.token)
            .await;
        assert_eq!(status, 400, "{query}: {body}");
        assert_eq!(body["code"], "invalid_argument", "{query}");
        let message = body["message"].as_str().unwrap();
        assert!(message.contains(says), "{query}: `{message}` names {says}");
    }
    let fine = format!("/api/v1/reports/summary?{range}&tz_offset_minutes=-720&group=");
    assert_eq!(srv.get(&fine, &boss.token).await.0, 200);
}

#[tokio::test]
async fn every_table_exports_as_csv_with_a_header_and_quoting() {
    let srv = TestServer::start().await;
    let root = srv.agent("root", Role::Admin, &[], 0).await;
    let quoted = AgentSpec {
        display_name: Some("Wu \"Jack\", Jr.".into()),
        ..AgentSpec::agent("jack", &["pre-sales"])
    };
    let jack = srv.add_agent(&root.token, &quoted).await;
    let mut a = srv.agent_ws(&jack).await;
    let (_shopper, _, conv) = shopper_opens(&srv, "hello").await;
    a.accept_next_offer().await;
    a.say(&conv, "reply-1", "hi").await;

    let q = around_now();
    let header = |body: &str| body.lines().next().unwrap_or_default().to_string();
    for (table, head) in [
        ("summary", "metric,value"),
        (
            "agents",
            "agent_id,display_name,closed,first_response_p50_ms,resolution_p50_ms,transfers,csat_average",
        ),
        (
            "groups",
            "group,opened,closed,first_response_p50_ms,resolution_p50_ms,attainment",
        ),
        ("daily", "day,opened,closed"),
        ("csat", "score,responses"),
    ] {
        let (status, kind, body) = csv(&srv, &root.token, &format!("{table}.csv?{q}")).await;
        assert_eq!(status, 200, "{table}: {body}");
        assert_eq!(kind, "text/csv; charset=utf-8", "{table}");
        assert_eq!(header(&body), head, "{table}");
        assert!(body.ends_with("\r\n"), "{table}: CRLF line ends");
    }
    let (_, _, agents) = csv(&srv, &root.token, &format!("agents.csv?{q}")).await;
    let row = format!("{},\"Wu \"\"Jack\"\", Jr.\",0,", jack.id);
    assert!(
        agents.lines().nth(1).unwrap().starts_with(&row),
        "RFC 4180 quoting: {agents}"
    );
    let (_, _, summary) = csv(&srv, &root.token, &format!("summary.csv?{q}")).await;
    assert!(summary.contains("\r\nopened,1\r\n"), "{summary}");
    assert!(
        summary.contains("\r\nfirst_response_count,1\r\n"),
        "{summary}"
    );
    assert!(
        summary.contains("\r\ncsat_average,\r\n"),
        "no data is an empty field: {summary}"
    );
    let (_, _, hours) = csv(&srv, &root.token, &format!("hours.csv?{q}")).await;
    let lines: Vec<&str> = hours.lines().collect();
    assert_eq!(lines.len(), 8, "a header and 7 weekdays: {hours}");
    assert!(lines[0].starts_with("weekday,00,01,") && lines[0].ends_with(",23"));
    assert!(lines[1].starts_with("Monday,") && lines[7].starts_with("Sunday,"));
    let (_, _, scores) = csv(&srv, &root.token, &format!("csat.csv?{q}")).await;
    assert_eq!(
        scores,
        "score,responses\r\n1,0\r\n2,0\r\n3,0\r\n4,0\r\n5,0\r\n"
    );
}
