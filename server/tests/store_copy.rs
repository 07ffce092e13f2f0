//! `kefu store copy`: a SQLite deployment filled by a real server (the demo's accounts and
//! a scripted chat) arrives whole in PostgreSQL (every table, same rows, same history read
//! back through the store), a second copy into the filled target is refused, `--resume` on
//! it completes without changing a count, and a kefu started on the copy serves the same
//! history to the same sign-in. Needs `TEST_POSTGRES_URL`; without it the test says "skipped".

mod common;

use common::*;
use kefu_server::store::{
    AuditEntry, Role, WebhookDelivery,
    copy::{self, CopyError},
    postgres::PgStore,
    prelude::*,
    sqlite::SqliteStore,
};
use serde_json::json;
use uuid::Uuid;

#[tokio::test]
async fn a_sqlite_deployment_is_copied_into_postgresql_whole_and_once() {
    let Some(target) = kefu_testkit::TestDatabase::create() else {
        eprintln!("skipped: {} is unset", kefu_testkit::TEST_POSTGRES_URL);
        return;
    };
    // The source is SQLite whatever TEST_POSTGRES_URL says, in a directory that outlives
    // the server.
    let data = tempfile::tempdir().unwrap();
    let source = format!("sqlite://{}", data.path().join("kefu.db").display());
    let url = source.clone();
    let srv = TestServer::start_with(move |s| s.store.url = url).await;
    // What `kefu --demo` puts in an empty database: the groups and the demo admin.
    assert!(
        kefu_server::seed::demo(srv.store.as_ref()).await.unwrap(),
        "the demo account is made on the empty database"
    );

    // Agents (with groups and sign-in tokens), a shopper's chat with replies, a canned reply.
    let sup = srv.agent("sue", Role::Supervisor, &["pre-sales"], 5).await;
    let agent = srv.agent("ann", Role::Agent, &["pre-sales"], 5).await;
    let mut a = srv.agent_ws(&agent).await;
    let (mut shopper, visitor, conv) = shopper_opens(&srv, "hello").await;
    assert_eq!(a.accept_next_offer().await, conv, "the only agent gets it");
    shopper.say(&conv, "s1", "is the blue one in stock?").await;
    a.say(&conv, "a1", "yes, in every size").await;
    shopper.say(&conv, "s2", "thanks").await;
    let (status, created) = srv
        .post(
            "/api/v1/canned-replies",
            &sup.token,
            json!({"shortcut": "hi", "title": "Greeting", "body": "Hello! How can I help?"}),
        )
        .await;
    assert_eq!(
        status, 201,
        "the supervisor creates a canned reply: {created}"
    );
    drop((a, shopper));

    // What needs a back office, a webhook receiver or an upload goes in through the store,
    // so that every table has rows to copy.
    let conv_id: Uuid = conv.parse().unwrap();
    let store = srv.store.clone();
    store.add_tags(conv_id, &["vip".into()]).await.unwrap();
    store
        .insert_audit(&AuditEntry {
            id: Uuid::now_v7(),
            at: 1,
            actor_id: agent.id.parse().unwrap(),
            actor_role: Role::Agent,
            action: "create_return".into(),
            conversation_id: Some(conv_id),
            target: "order-1".into(),
            details: r#"{"order_id": "order-1",  "reason":"size"}"#.into(),
            result: "ok".into(),
            error: None,
        })
        .await
        .unwrap();
    let (bot, _token) = kefu_server::accounts::new_bot("helper").unwrap();
    store.create_bot(&bot).await.unwrap();
    store
        .insert_delivery(
            &WebhookDelivery {
                id: Uuid::now_v7(),
                webhook: "crm".into(),
                delivery_id: Uuid::now_v7(),
                event: "message.created".into(),
                attempt: 1,
                at: 2,
                status: Some(500),
                error: Some("status 500".into()),
                duration_ms: 12,
                delivered: false,
            },
            100,
        )
        .await
        .unwrap();
    store
        .insert_attachment(&kefu_server::store::Attachment {
            id: Uuid::now_v7(),
            conversation_id: conv_id,
            uploader_id: visitor.id.parse().unwrap(),
            file_name: "receipt.pdf".into(),
            content_type: "application/pdf".into(),
            size_bytes: 3,
            sha256: "abc".into(),
            created_at: 3,
        })
        .await
        .unwrap();
    // A missed resolution target, recorded while it is still open (breaches of closed
    // conversations are not recorded).
    assert!(
        store
            .record_breach(conv_id, kefu_server::store::Target::Resolution, 3, 3)
            .await
            .unwrap(),
        "the breach is recorded"
    );
    assert!(
        store
            .close_conversation(conv_id, "resolved", 4)
            .await
            .unwrap()
    );
    store
        .insert_rating(
            conv_id,
            &kefu_server::store::Rating {
                score: 5,
                comment: "quick".into(),
                created_at: 5,
            },
        )
        .await
        .unwrap();
    drop(store);
    let history = format!("/api/v1/conversations/{conv}/messages?after_seq=0&limit=200");
    let (status, served_before) = srv.get(&history, &sup.token).await;
    assert_eq!(status, 200, "{served_before}");
    assert!(
        served_before["messages"]
            .as_array()
            .is_some_and(|m| m.len() >= 4),
        "the chat is served: {served_before}"
    );
    srv.shutdown().await;

    // Batches of two: every table with more rows is read in several pages (keyset paging,
    // including the two-column key of agent_group_member).
    let fresh = copy::Options {
        resume: false,
        batch: 2,
    };
    let resume = copy::Options {
        resume: true,
        batch: 2,
    };
    let report = copy::copy(&source, &target.url, &fresh).await.unwrap();
    println!("{report}");
    assert_eq!(report.differing(), Vec::<&str>::new(), "every row arrived");
    for t in &report.tables {
        assert!(
            t.source > 0,
            "table {} had rows in the source, or the test does not show it is copied",
            t.table
        );
    }

    // Read back through each backend's store, the data is the same (Debug shows every
    // field, including those the API never serialises).
    let from = SqliteStore::open(&source).await.unwrap();
    let to = PgStore::open(&target.url, 2).await.unwrap();
    macro_rules! same {
        ($what:literal, $call:ident ( $($arg:expr),* )) => {
            assert_eq!(
                format!("{:?}", from.$call($($arg),*).await.unwrap()),
                format!("{:?}", to.$call($($arg),*).await.unwrap()),
                "{} read from PostgreSQL equals what SQLite held",
                $what
            );
        };
    }
    let messages = from.messages_after(conv_id, 0, 1000, true).await.unwrap();
    assert!(
        messages.len() >= 4,
        "the chat's messages were stored: {messages:?}"
    );
    same!("the history", messages_after(conv_id, 0, 1000, true));
    same!("the conversation", conversation(conv_id));
    same!("the rating", rating(conv_id));
    same!("the visitor", visitor(visitor.id.parse().unwrap()));
    same!("the audit log", list_audit(None, 100));
    same!("the canned replies", list_canned());
    same!("the bots", list_bots());
    same!("the webhook log", list_deliveries(100));
    same!("the agent", agent(agent.id.parse().unwrap()));
    from.close().await;
    to.close().await;

    // The target has rows now: a second copy is refused, with one line saying what to do.
    let refused = copy::copy(&source, &target.url, &fresh).await;
    let Err(e @ CopyError::TargetNotEmpty(_)) = refused else {
        panic!("a copy into a filled database must be refused: {refused:?}");
    };
    let message = e.to_string();
    assert!(
        message.contains("--resume") && !message.contains('\n'),
        "the refusal names the flag, on one line: {message}"
    );

    // Resuming over a complete copy inserts nothing and finds the same counts.
    let again = copy::copy(&source, &target.url, &resume).await.unwrap();
    assert_eq!(
        again.tables, report.tables,
        "a resumed copy of a complete target changes no count"
    );

    // A copy interrupted inside `message` (later tables empty, part of the messages
    // missing) is finished by resuming it.
    let pg = sqlx::PgPool::connect(&target.url).await.unwrap();
    for statement in [
        "delete from message where seq > 2",
        "delete from rating",
        "delete from attachment",
        "delete from canned_reply",
        "delete from audit_log",
        "delete from bot",
        "delete from webhook_delivery",
    ] {
        sqlx::query(statement).execute(&pg).await.unwrap();
    }
    pg.close().await;
    let interrupted = copy::copy(&source, &target.url, &resume).await.unwrap();
    assert_eq!(
        interrupted.tables, report.tables,
        "resuming an interrupted copy brings every table to the source's count"
    );

    // A kefu on the target serves what the SQLite one did: the demo admin signs in with
    // the demo password, the supervisor's sign-in token still works, the history is the same.
    let target_url = target.url.clone();
    let moved = TestServer::start_with(move |s| s.store.url = target_url).await;
    moved
        .login(
            kefu_server::seed::DEMO_USER,
            kefu_server::seed::DEMO_PASSWORD,
        )
        .await;
    let (status, served_after) = moved.get(&history, &sup.token).await;
    assert_eq!(status, 200, "{served_after}");
    assert_eq!(
        served_after, served_before,
        "the moved kefu serves the same history"
    );
    moved.shutdown().await;
}
