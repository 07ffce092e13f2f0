//! The kit itself: both ways of starting kefu carry a chat between a scripted shopper and a
//! scripted agent, a process keeps its data across a kill and a restart on the same address,
//! and a kefu that cannot start is reported with its own words.

use kefu_testkit::{
    AgentSpec, Endpoint, Error, KefuCommand, PASSWORD, TestAgent, TestServer, eventually,
    shopper_opens, text_of,
};

/// A shopper writes, the agent accepts the offer and answers, the shopper hears it.
async fn chat(srv: &Endpoint, agent: &TestAgent) {
    let mut a = srv.agent_ws(agent).await;
    let (mut shopper, _v, conv) = shopper_opens(srv, "is the kettle in stock?").await;
    assert_eq!(
        a.accept_next_offer().await,
        conv,
        "the only agent online is offered the shopper's conversation"
    );
    a.say(&conv, "reply-1", "yes, two left").await;
    let heard = shopper
        .recv_message(|m| text_of(m) == Some("yes, two left"))
        .await;
    assert_eq!(
        heard.conversation_id, conv,
        "the answer lands in the shopper's conversation"
    );
}

#[tokio::test]
async fn in_process_server_carries_a_chat_and_shuts_down() {
    let srv = TestServer::start().await;
    let agent = srv
        .agent("ann", kefu_server::store::Role::Agent, &["pre-sales"], 5)
        .await;
    chat(&srv, &agent).await;
    assert!(
        srv.metrics().await.contains("kefu_"),
        "/metrics speaks Prometheus with kefu's own series"
    );
    srv.shutdown().await;
}

#[tokio::test]
async fn process_makes_its_admin_carries_a_chat_and_keeps_its_data_across_a_kill() {
    let kefu = KefuCommand::new()
        .test_site()
        .admin("boss", PASSWORD)
        .log_to_file()
        .start()
        .unwrap_or_else(|e| panic!("{e}"));
    let admin = kefu.try_login("boss", PASSWORD).await.unwrap();
    let agent = kefu
        .add_agent(&admin, &AgentSpec::agent("ann", &["pre-sales"]))
        .await;
    let (status, me) = kefu.get("/api/v1/me", &agent.token).await;
    assert_eq!(
        (status, me["username"].as_str()),
        (200, Some("ann")),
        "the agent made over the admin API is signed in: {me}"
    );
    chat(&kefu, &agent).await;

    let addr = kefu.addr;
    let data = kefu.data_dir().to_path_buf();
    let again = kefu.kill().start().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(again.addr, addr, "a restart comes back on the same address");
    assert_eq!(again.data_dir(), data, "and on the same data");
    eventually("the admin to sign in after the restart", || async {
        again.try_login("boss", PASSWORD).await.ok()
    })
    .await;
}

#[test]
fn a_kefu_that_cannot_start_is_reported_with_its_log() {
    let err = KefuCommand::new()
        .config("[routing]\nno_such_key = 1\n")
        .log_to_file()
        .start()
        .err()
        .expect("an unknown config key stops kefu before it listens");
    assert!(
        matches!(&err, Error::NoListenLine { log } if log.contains("no_such_key")),
        "the error carries kefu's own complaint: {err}"
    );
}
