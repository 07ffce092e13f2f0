//! The behaviour suite and PostgreSQL's own checks, each on a fresh database of the server
//! `TEST_POSTGRES_URL` names (see `kefu_testkit::postgres`). Unset, they say so and pass;
//! `scripts/test.sh` always sets it.

use std::sync::Arc;

use kefu_testkit::TestDatabase;
use uuid::Uuid;

use super::PgStore;
use crate::store::{
    tests::{self as behaviour, conversation, new_agent, text},
    *,
};

/// A store on a fresh database; the database lives as long as the guard. `None` (after
/// saying so) when no PostgreSQL server is configured.
pub(crate) async fn open() -> Option<(TestDatabase, PgStore)> {
    let Some(db) = TestDatabase::create() else {
        eprintln!("skipped: TEST_POSTGRES_URL is not set (scripts/postgres.sh starts a server)");
        return None;
    };
    let store = PgStore::open(&db.url, 4).await.unwrap();
    Some((db, store))
}

#[tokio::test]
async fn the_behaviour_suite_passes_on_postgres() {
    let Some((_db, store)) = open().await else {
        return;
    };
    behaviour::suite(&store).await;
    store.close().await;
}

#[tokio::test]
async fn an_unreachable_server_is_unavailable_not_a_bug() {
    // Port 1 on loopback: nothing listens, the connection is refused at once.
    let Err(e) = PgStore::open("postgres://kefu@127.0.0.1:1/kefu", 1).await else {
        panic!("opened a database where no server listens");
    };
    assert!(matches!(e, StoreError::Unavailable(_)), "{e:?}");
}

#[tokio::test]
async fn a_url_with_a_bad_option_is_a_configuration_error_without_its_password() {
    let Err(e) = PgStore::open(
        "postgres://kefu:hunter2@127.0.0.1/kefu?sslmode=sometimes",
        1,
    )
    .await
    else {
        panic!("accepted sslmode=sometimes");
    };
    let text = e.to_string();
    assert!(matches!(e, StoreError::Config(_)), "{e:?}");
    assert!(
        !text.contains("hunter2"),
        "the password is not shown: {text}"
    );
}

#[tokio::test]
async fn a_schema_newer_than_the_binary_is_refused_naming_its_version() {
    let Some((db, store)) = open().await else {
        return;
    };
    sqlx::query(
        "insert into _sqlx_migrations (version, description, success, checksum, execution_time) \
         values (9999, 'from a newer kefu', true, '\\x00', 0)",
    )
    .execute(&store.pool)
    .await
    .unwrap();
    store.close().await;
    let Err(e) = PgStore::open(&db.url, 1).await else {
        panic!("a newer schema was accepted");
    };
    let text = e.to_string();
    assert!(matches!(e, StoreError::Migration(_)), "{e:?}");
    assert!(
        text.contains("schema version 9999") && !text.contains('\n'),
        "one line naming the version: {text}"
    );
}

/// Two writers (two stores: two nodes) append to the same conversations at once. Every
/// message gets a seq, and each conversation's seqs are 1..=n with no gap and no repeat.
#[tokio::test]
async fn concurrent_batches_from_two_writers_keep_seqs_gapless() {
    let Some((db, first)) = open().await else {
        return;
    };
    let second = PgStore::open(&db.url, 4).await.unwrap();
    let writers: [Arc<dyn Store>; 2] = [Arc::new(first), Arc::new(second)];
    let convs = [
        conversation(writers[0].as_ref()).await,
        conversation(writers[0].as_ref()).await,
    ];
    let (batches, per_batch) = (20, 5);
    let mut tasks = Vec::new();
    for (w, store) in writers.iter().enumerate() {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let sender = Uuid::now_v7();
            for b in 0..batches {
                // Both conversations in each batch, in an order that differs per writer, so
                // the writers' locks interleave.
                let batch: Vec<_> = (0..per_batch)
                    .map(|i| text(convs[(i + w) % 2], sender, &format!("w{w}-b{b}-m{i}")))
                    .collect();
                let results = store.append_messages(&batch).await.unwrap();
                assert!(
                    results.iter().all(|r| matches!(
                        r,
                        AppendResult::Stored {
                            duplicate: false,
                            ..
                        }
                    )),
                    "every message of a fresh batch is stored once: {results:?}"
                );
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let total = (2 * batches * per_batch) as i64;
    let mut stored = 0;
    for c in convs {
        let messages = writers[1].messages_after(c, 0, 1000, true).await.unwrap();
        let seqs: Vec<i64> = messages.iter().map(|m| m.seq).collect();
        let expected: Vec<i64> = (1..=seqs.len() as i64).collect();
        assert_eq!(seqs, expected, "seqs of one conversation are gapless");
        let last = writers[1].conversation(c).await.unwrap().last_seq;
        assert_eq!(last, seqs.len() as i64, "last_seq is the newest seq");
        stored += seqs.len() as i64;
    }
    assert_eq!(stored, total, "every message stored exactly once");
    for w in writers {
        w.close().await;
    }
}

/// The same message sent through two writers at once (a resend that reached two nodes):
/// stored once; both answers carry the stored message, and only one says it is new.
#[tokio::test]
async fn a_resend_racing_the_original_is_stored_once() {
    let Some((db, first)) = open().await else {
        return;
    };
    let second = PgStore::open(&db.url, 4).await.unwrap();
    let c = conversation(&first).await;
    let sender = Uuid::now_v7();
    for round in 0..10 {
        let key = format!("race-{round}");
        let batch = [text(c, sender, &key)];
        let (a, b) = tokio::join!(
            first.append_messages(&batch),
            second.append_messages(&batch)
        );
        let (a, b) = (a.unwrap().remove(0), b.unwrap().remove(0));
        let (
            AppendResult::Stored {
                message: ma,
                duplicate: da,
                ..
            },
            AppendResult::Stored {
                message: mb,
                duplicate: db_,
                ..
            },
        ) = (a, b)
        else {
            panic!("the conversation exists");
        };
        assert_eq!(
            ma.id, mb.id,
            "both writers answer with the one stored message"
        );
        assert!(da != db_, "exactly one of them stored it (round {round})");
    }
    let stored = first.messages_after(c, 0, 100, true).await.unwrap();
    assert_eq!(stored.len(), 10, "one message per key");
    assert_eq!(stored.last().unwrap().seq, 10, "no seq was lost to a race");
    first.close().await;
    second.close().await;
}

/// The same key sent into two conversations through two writers at once: their locks do
/// not order them, so one writer's insert finds the key taken only when the other commits.
/// It must roll back (or its seq would be a gap) and answer with the stored message.
#[tokio::test]
async fn a_key_taken_meanwhile_in_another_conversation_leaves_no_gap() {
    let Some((db, first)) = open().await else {
        return;
    };
    let second = PgStore::open(&db.url, 4).await.unwrap();
    let convs = [conversation(&first).await, conversation(&first).await];
    let sender = Uuid::now_v7();
    for round in 0..20 {
        let key = format!("both-{round}");
        let (to_first, to_second) = (
            [text(convs[0], sender, &key)],
            [text(convs[1], sender, &key)],
        );
        let (a, b) = tokio::join!(
            first.append_messages(&to_first),
            second.append_messages(&to_second),
        );
        let ids: Vec<(Uuid, bool)> = [a, b]
            .into_iter()
            .map(|r| match r.unwrap().remove(0) {
                AppendResult::Stored {
                    message, duplicate, ..
                } => (message.id, duplicate),
                AppendResult::NoConversation => panic!("both conversations exist"),
            })
            .collect();
        assert_eq!(
            ids[0].0, ids[1].0,
            "one message per key, whichever writer won"
        );
        assert!(ids[0].1 != ids[1].1, "exactly one writer stored it");
    }
    for c in convs {
        let seqs: Vec<i64> = first
            .messages_after(c, 0, 100, true)
            .await
            .unwrap()
            .iter()
            .map(|m| m.seq)
            .collect();
        assert_eq!(seqs, (1..=seqs.len() as i64).collect::<Vec<_>>(), "gapless");
        assert_eq!(
            first.conversation(c).await.unwrap().last_seq,
            seqs.len() as i64,
            "no seq was handed out for a message that was not stored"
        );
    }
    first.close().await;
    second.close().await;
}

/// Two routers (two nodes) assigning the same conversation at once: the SQL guard lets one.
#[tokio::test]
async fn two_nodes_cannot_both_assign_a_conversation() {
    let Some((db, first)) = open().await else {
        return;
    };
    let second = PgStore::open(&db.url, 4).await.unwrap();
    let ann = first.create_agent(&new_agent("ann")).await.unwrap().id;
    let bob = first.create_agent(&new_agent("bob")).await.unwrap().id;
    for _ in 0..10 {
        let c = conversation(&first).await;
        let (a, b) = tokio::join!(
            first.assign_if_unassigned(c, ann, 1),
            second.assign_if_unassigned(c, bob, 1),
        );
        assert!(a.unwrap() ^ b.unwrap(), "exactly one assignment succeeds");
    }
    first.close().await;
    second.close().await;
}

/// A stored name this version does not know is reported as corrupt data, on reads and on
/// the writer's resend lookup alike.
#[tokio::test]
async fn an_unknown_sender_role_is_corrupt_data() {
    let Some((_db, store)) = open().await else {
        return;
    };
    let (c, sender) = (conversation(&store).await, Uuid::now_v7());
    store
        .append_messages(&[text(c, sender, "m1")])
        .await
        .unwrap();
    sqlx::query("update message set sender_role = 'robot'")
        .execute(&store.pool)
        .await
        .unwrap();
    let read = store.messages_after(c, 0, 10, true).await;
    assert!(matches!(read, Err(StoreError::Corrupt(_))), "{read:?}");
    let resent = store.append_messages(&[text(c, sender, "m1")]).await;
    assert!(matches!(resent, Err(StoreError::Corrupt(_))), "{resent:?}");
    store.close().await;
}

/// Tags keep their order, each once, across calls and within one.
#[tokio::test]
async fn tags_are_added_once_in_order() {
    let Some((_db, store)) = open().await else {
        return;
    };
    let c = conversation(&store).await;
    let tags = |t: &[&str]| t.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    assert_eq!(
        store
            .add_tags(c, &tags(&["vip", "refund", "vip"]))
            .await
            .unwrap(),
        tags(&["vip", "refund"])
    );
    assert_eq!(
        store.add_tags(c, &tags(&["refund", "late"])).await.unwrap(),
        tags(&["vip", "refund", "late"])
    );
    assert_eq!(
        store.conversation(c).await.unwrap().tags,
        tags(&["vip", "refund", "late"])
    );
    assert!(matches!(
        store.add_tags(Uuid::now_v7(), &tags(&["x"])).await,
        Err(StoreError::NotFound)
    ));
    store.close().await;
}
