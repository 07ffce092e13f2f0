//! What every backend must do, written against `&dyn Store` so each backend's tests run
//! the same [`suite`] on a fresh store (SQLite: `store::sqlite`'s tests). Backend-specific
//! checks (query plans, caches, driver error mapping) stay with their backend.

use uuid::Uuid;

use super::*;

mod search;

/// Runs every behaviour check on `store`, which must be freshly migrated and empty.
pub async fn suite(store: &dyn Store) {
    one_batch_numbers_each_conversation_and_stores_each_message_once(store).await;
    conflicts_say_what_was_taken(store).await;
    a_visitor_has_one_open_conversation(store).await;
    missing_rows_are_not_found(store).await;
    search::suite(store).await;
}

/// A visitor and a queued conversation of theirs; returns the conversation's id.
pub async fn conversation(store: &dyn Store) -> Uuid {
    let visitor = Visitor {
        blocked_at: None,
        id: Uuid::now_v7(),
        site_id: "shop".into(),
        token_hash: Uuid::now_v7().to_string(),
        customer_id: None,
        display_name: "Visitor".into(),
        email: None,
        phone: None,
        created_at: 0,
        expires_at: i64::MAX,
        last_agent_id: None,
    };
    store.create_visitor(&visitor).await.unwrap();
    let id = Uuid::now_v7();
    store
        .create_conversation(&Conversation {
            id,
            site_id: "shop".into(),
            visitor_id: visitor.id,
            group: "pre-sales".into(),
            state: ConvState::Queued,
            agent_id: None,
            last_seq: 0,
            created_at: 0,
            updated_at: 0,
            closed_at: None,
            close_reason: None,
            context: PageContext::default(),
            tags: vec![],
            priority: Priority::default(),
            channel: CHANNEL_WEB.into(),
        })
        .await
        .unwrap();
    id
}

/// A shopper's text message whose text is its `client_msg_id`.
pub fn text(conversation_id: Uuid, sender_id: Uuid, client_msg_id: &str) -> NewMessage {
    NewMessage {
        conversation_id,
        client_msg_id: client_msg_id.into(),
        sender_role: SenderRole::Shopper,
        sender_id,
        sender_name: "Visitor".into(),
        body: Body::Text {
            text: client_msg_id.into(),
        },
        created_at: 1,
    }
}

/// An agent account named `name`, in no group.
pub fn new_agent(name: &str) -> NewAgent {
    NewAgent {
        username: name.into(),
        display_name: name.into(),
        password_hash: "x".into(),
        role: Role::Agent,
        capacity: 5,
        groups: vec![],
    }
}

fn seq_of(r: &AppendResult) -> (i64, bool) {
    match r {
        AppendResult::Stored {
            message, duplicate, ..
        } => (message.seq, *duplicate),
        AppendResult::NoConversation => (-1, false),
    }
}

async fn one_batch_numbers_each_conversation_and_stores_each_message_once(store: &dyn Store) {
    let (a, b, sender) = (
        conversation(store).await,
        conversation(store).await,
        Uuid::now_v7(),
    );
    let first = store
        .append_messages(&[
            text(a, sender, "a1"),
            text(b, sender, "b1"),
            text(a, sender, "a2"),
            text(a, sender, "a1"), // resent within the batch
            text(Uuid::now_v7(), sender, "x1"),
        ])
        .await
        .unwrap();
    let seqs: Vec<_> = first.iter().map(seq_of).collect();
    assert_eq!(
        seqs,
        [(1, false), (1, false), (2, false), (1, true), (-1, false)]
    );
    // A later batch: a resend of a stored message, then a new one.
    let second = store
        .append_messages(&[text(a, sender, "a2"), text(a, sender, "a3")])
        .await
        .unwrap();
    assert_eq!(
        second.iter().map(seq_of).collect::<Vec<_>>(),
        [(2, true), (3, false)]
    );
    let stored = store.messages_after(a, 0, 10, false).await.unwrap();
    let ids: Vec<_> = stored.iter().map(|m| m.client_msg_id.as_str()).collect();
    assert_eq!(ids, ["a1", "a2", "a3"]);
    assert_eq!(store.conversation(a).await.unwrap().last_seq, 3);
    assert_eq!(store.conversation(b).await.unwrap().last_seq, 1);
}

/// The message of a `Conflict` reaches the user as it is (409 and the WS error frame).
fn conflict_message<T: std::fmt::Debug>(result: StoreResult<T>) -> String {
    match result {
        Err(StoreError::Conflict(m)) => m,
        other => panic!("expected a conflict, got {other:?}"),
    }
}

async fn conflicts_say_what_was_taken(store: &dyn Store) {
    store.create_agent(&new_agent("suite-ann")).await.unwrap();
    assert_eq!(
        conflict_message(store.create_agent(&new_agent("suite-ann")).await),
        "username `suite-ann` is taken"
    );
    let in_no_group = NewAgent {
        groups: vec!["no-such-group".into()],
        ..new_agent("suite-bob")
    };
    assert_eq!(
        conflict_message(store.create_agent(&in_no_group).await),
        "group `no-such-group` does not exist: references something that does not exist"
    );
    let group = Group {
        name: "suite-group".into(),
        display_name: "Suite".into(),
        members: vec![],
    };
    store.create_group(&group).await.unwrap();
    assert_eq!(
        conflict_message(store.create_group(&group).await),
        "group `suite-group` exists"
    );

    let conv = conversation(store).await;
    let rating = Rating {
        score: 5,
        comment: String::new(),
        created_at: 1,
    };
    store.insert_rating(conv, &rating).await.unwrap();
    assert_eq!(
        conflict_message(store.insert_rating(conv, &rating).await),
        "this conversation was rated already"
    );

    let bot = |name: &str| Bot {
        id: Uuid::now_v7(),
        name: name.into(),
        token_hash: Uuid::now_v7().to_string(),
        created_at: 1,
        last_used_at: None,
    };
    store.create_bot(&bot("suite-bot")).await.unwrap();
    assert_eq!(
        conflict_message(store.create_bot(&bot("suite-bot")).await),
        "a bot with that name exists"
    );

    let canned = |shortcut: &str| CannedReply {
        id: Uuid::now_v7(),
        shortcut: shortcut.into(),
        title: "Hi".into(),
        body: "Hello!".into(),
        created_by: Uuid::nil(),
        created_at: 1,
        updated_at: 1,
    };
    store.upsert_canned(&canned("/suite")).await.unwrap();
    assert_eq!(
        conflict_message(store.upsert_canned(&canned("/suite")).await),
        "shortcut `/suite` is taken"
    );
}

/// Two nodes opening or reopening a conversation for one visitor at once: the second write
/// is refused, whichever it is.
async fn a_visitor_has_one_open_conversation(store: &dyn Store) {
    let first = store.conversation(conversation(store).await).await.unwrap();
    let second = Conversation {
        id: Uuid::now_v7(),
        created_at: 1,
        ..first.clone()
    };
    assert_eq!(
        conflict_message(store.create_conversation(&second).await),
        OPEN_ALREADY
    );
    assert!(
        store
            .close_conversation(first.id, "CLOSE_REASON_AGENT", 2)
            .await
            .unwrap()
    );
    store.create_conversation(&second).await.unwrap();
    assert_eq!(
        conflict_message(store.reopen_conversation(first.id, "pre-sales", 3).await),
        OPEN_ALREADY
    );
    let latest = store
        .latest_conversation_of_visitor(first.visitor_id)
        .await
        .unwrap();
    assert_eq!(latest.id, second.id, "the open one stays the visitor's");
}

async fn missing_rows_are_not_found(store: &dyn Store) {
    fn not_found<T: std::fmt::Debug>(what: &str, result: StoreResult<T>) {
        assert!(
            matches!(result, Err(StoreError::NotFound)),
            "{what}: expected NotFound, got {result:?}"
        );
    }
    let nobody = Uuid::now_v7();
    not_found("agent", store.agent(nobody).await);
    not_found("username", store.agent_by_username("suite-nobody").await);
    not_found("delete agent", store.delete_agent(nobody).await);
    not_found("delete group", store.delete_group("suite-none").await);
    not_found("token", store.token("no-such-hash").await);
    not_found("visitor", store.visitor(nobody).await);
    not_found(
        "visitor token",
        store.visitor_by_token("no-such-hash").await,
    );
    not_found("conversation", store.conversation(nobody).await);
    not_found("latest", store.latest_conversation_of_visitor(nobody).await);
    not_found("priority", store.set_priority(nobody, Priority::High).await);
    not_found("canned", store.canned(nobody).await);
    not_found("delete canned", store.delete_canned(nobody).await);
    not_found("attachment", store.attachment(nobody).await);
    not_found("bot", store.bot_by_token("no-such-hash", 1).await);
    not_found("delete bot", store.delete_bot(nobody).await);
    // Absence that is normal is not an error.
    let conv = conversation(store).await;
    assert!(
        store.rating(conv).await.unwrap().is_none(),
        "an unrated conversation has no rating"
    );
}
