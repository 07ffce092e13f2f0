//! The desk — everything the window asks for — against a real `kefu` process on 127.0.0.1
//! (its own data folder), with real cache files, an in-memory keyring and a recording
//! notification display: sign-in and restored sessions (online and offline), the chat
//! flow, offline sends, a chat transferred away while offline, an expired session, the
//! customer view from the demo back office, the page the shopper is on, and cache retention.

mod common;

use std::{path::Path, sync::Arc};

use common::*;
use kefu_desk::{
    cache::{Cache, ConversationInfo, now_ms},
    desk::{Desk, Dirs},
    model::{
        Agent, AgentStatus, ChatMessage, ConversationState, ConversationSummary, DeliveryState,
        DeskErrorCode, MatchedBy, MessageBody, PageContext, Sender, Update, Verification, View,
    },
    secrets::Secrets,
};
use kefu_proto::v1 as pb;
use keyring_core::CredentialStore;
use serde_json::json;
use tokio::sync::broadcast;

const PASSWORD: &str = "a-long-password";

/// A fresh in-memory keyring (the sample store of keyring-core).
fn keyring() -> Arc<CredentialStore> {
    keyring_core::sample::Store::new().unwrap()
}

/// One run of the app: the desk, its updates from the moment it opened, its toasts.
struct App {
    desk: Arc<Desk>,
    updates: broadcast::Receiver<Update>,
    toasts: Arc<Recorder>,
}

/// Opens the app on the files under `root` with the keyring `store`, as a start of the
/// process would.
fn open(root: &Path, store: &Arc<CredentialStore>) -> App {
    let toasts = Arc::new(Recorder::default());
    let dirs = Dirs {
        data: root.join("data"),
        config: root.join("config"),
    };
    let desk = Desk::new(dirs, Secrets::with_store(store.clone()), toasts.clone()).unwrap();
    let updates = desk.subscribe();
    App {
        desk,
        updates,
        toasts,
    }
}

/// The cache file the desk keeps under `root` (one per account; these tests use one).
fn cache_file(root: &Path) -> std::path::PathBuf {
    let files: Vec<_> = std::fs::read_dir(root.join("data"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "db"))
        .collect();
    assert_eq!(files.len(), 1, "one account, one cache file: {files:?}");
    files[0].clone()
}

fn text(m: &ChatMessage) -> &str {
    match &m.body {
        MessageBody::Text { text } | MessageBody::Note { text } => text,
        _ => "",
    }
}

impl App {
    /// Reads updates until `f` picks one, failing after [`WAIT`].
    async fn next<T>(&mut self, what: &str, mut f: impl FnMut(&Update) -> Option<T>) -> T {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            match tokio::time::timeout_at(deadline, self.updates.recv()).await {
                Err(_) => panic!("timed out waiting for {what}"),
                Ok(Err(broadcast::error::RecvError::Lagged(_))) => continue,
                Ok(Err(e)) => panic!("updates ended waiting for {what}: {e}"),
                Ok(Ok(u)) => {
                    if let Some(t) = f(&u) {
                        return t;
                    }
                }
            }
        }
    }

    /// Waits for `conv` to be offered to this agent; returns the offered row.
    async fn offer(&mut self, conv: &str) -> ConversationSummary {
        self.next("the offer", |u| match u {
            Update::Conversation { conversation: c }
                if c.id == conv && c.state == ConversationState::Offered =>
            {
                Some(c.clone())
            }
            _ => None,
        })
        .await
    }

    async fn online(&mut self, online: bool) {
        self.next("the connection to change", |u| {
            matches!(u, Update::Connection { online: o, .. } if *o == online).then_some(())
        })
        .await;
    }

    /// Sets the agent away and waits until the desk says so.
    async fn step_away(&mut self) {
        self.desk.set_status(AgentStatus::Away).await.unwrap();
        self.next("the agent to be away", |u| {
            matches!(
                u,
                Update::Status {
                    status: AgentStatus::Away
                }
            )
            .then_some(())
        })
        .await;
    }

    /// Signs in and waits until the desk is connected.
    async fn sign_in(&mut self, kefu: &Kefu, username: &str) -> Agent {
        let agent = self
            .desk
            .sign_in(&kefu.url(), username, PASSWORD)
            .await
            .unwrap();
        self.online(true).await;
        agent
    }

    /// The ids in a view of the list.
    async fn ids(&self, view: View, query: Option<&str>) -> Vec<String> {
        self.desk
            .conversations(view, query.map(String::from))
            .await
            .unwrap()
            .into_iter()
            .map(|c| c.id)
            .collect()
    }

    /// The shopper's chat is offered to this (the only online) agent, who accepts it.
    /// Returns the conversation id once it is hers (an offer shows in Mine already).
    async fn accept_chat(&mut self, shopper: &mut Shopper, first: &str) -> String {
        let conv = shopper.say(first).await.conversation_id;
        self.offer(&conv).await;
        self.desk.accept(&conv).await.unwrap();
        self.next("the chat to be assigned", |u| {
            matches!(u, Update::Conversation { conversation: c }
                if c.id == conv && c.state == ConversationState::Assigned)
            .then_some(())
        })
        .await;
        assert!(self.ids(View::Mine, None).await.contains(&conv));
        conv
    }

    /// Sends a text and waits for the server's ack.
    async fn reply(&mut self, conv: &str, text: &str) -> ChatMessage {
        let sent = self.desk.send_text(conv, text, false).await.unwrap();
        let id = sent.client_msg_id.clone();
        self.next("the ack", |u| {
            matches!(u, Update::Delivered { client_msg_id, .. } if *client_msg_id == id)
                .then_some(())
        })
        .await;
        sent
    }

    async fn history(&self, conv: &str) -> Vec<ChatMessage> {
        self.desk.history(conv, None).await.unwrap().messages
    }
}

/// A kefu process with agent `ann` and a signed-in desk.
struct Setup {
    kefu: Kefu,
    app: App,
    ann: Agent,
    /// What must live as long as the test: bind it, or its folders go at once.
    keep: Keep,
}

struct Keep {
    _data: tempfile::TempDir,
    root: tempfile::TempDir,
    store: Arc<CredentialStore>,
}

async fn setup() -> Setup {
    setup_with(&[]).await
}

async fn setup_with(env: &[(&str, &str)]) -> Setup {
    let data = tempfile::tempdir().unwrap();
    let kefu = Kefu::start_with(data.path(), "127.0.0.1:0", env);
    kefu.add_agent("ann", "Ann", PASSWORD).await;
    let root = tempfile::tempdir().unwrap();
    let store = keyring();
    let mut app = open(root.path(), &store);
    let ann = app.sign_in(&kefu, "ann").await;
    Setup {
        kefu,
        app,
        ann,
        keep: Keep {
            _data: data,
            root,
            store,
        },
    }
}

/// Runs one life of the app: a runtime of its own, dropped at the end with every task the
/// desk started, as when the process exits.
fn app_run<T>(f: impl std::future::Future<Output = T>) -> T {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

#[test]
fn sign_in_keeps_the_token_in_the_keyring_and_a_restart_restores_the_session_even_offline() {
    let data = tempfile::tempdir().unwrap();
    let kefu = Kefu::start(data.path(), "127.0.0.1:0");
    let root = tempfile::tempdir().unwrap();
    let store = keyring();

    let (ann, conv) = app_run(async {
        kefu.add_agent("ann", "Ann", PASSWORD).await;
        let mut app = open(root.path(), &store);
        let wrong = app
            .desk
            .sign_in(&kefu.url(), "ann", "not-her-password")
            .await
            .unwrap_err();
        assert_eq!(
            wrong.code,
            DeskErrorCode::BadCredentials,
            "a wrong password: {wrong:?}"
        );
        let nowhere = app
            .desk
            .sign_in("http://127.0.0.1:1", "ann", PASSWORD)
            .await
            .unwrap_err();
        assert_eq!(
            nowhere.code,
            DeskErrorCode::Unreachable,
            "nothing listens there: {nowhere:?}"
        );
        assert!(
            app.desk.session().await.unwrap().agent.is_none(),
            "failed sign-ins sign nobody in"
        );

        let ann = app.sign_in(&kefu, "ann").await;
        assert_eq!(ann.username, "ann");
        let token = Secrets::with_store(store.clone())
            .load(&kefu.url(), "ann")
            .unwrap()
            .expect("the token is kept in the keyring");
        assert_eq!(
            kefu.get("/api/v1/me", &token).await["username"],
            "ann",
            "the kept token is the session's own"
        );
        let session = app.desk.session().await.unwrap();
        assert_eq!(
            session.agent.map(|a| a.id),
            Some(ann.id.clone()),
            "signed in as ann"
        );
        assert_eq!(session.server_url, Some(kefu.url()));
        let mut shopper = Shopper::open(&kefu, "Lin").await;
        let conv = app.accept_chat(&mut shopper, "Is the kettle 220 V?").await;
        app.next("the shopper's message to be cached", |u| {
            matches!(u, Update::Message { message: m }
                if m.conversation_id == conv && m.sender == Sender::Shopper)
            .then_some(())
        })
        .await;
        (ann, conv)
    });

    // The app starts again: the keyring signs ann back in.
    app_run(async {
        let mut again = open(root.path(), &store);
        let session = again.desk.session().await.unwrap();
        assert_eq!(
            session.agent.map(|a| a.id),
            Some(ann.id.clone()),
            "restored from the keyring, no password asked"
        );
        again.online(true).await;
    });

    // And again with the server down: signed in, from the cache.
    let _stopped = kefu.kill();
    app_run(async {
        let mut offline = open(root.path(), &store);
        let session = offline.desk.session().await.unwrap();
        assert_eq!(
            session.agent.map(|a| a.id),
            Some(ann.id.clone()),
            "an offline start stays signed in"
        );
        offline.online(false).await;
        assert_eq!(
            offline.ids(View::Mine, None).await,
            [conv.as_str()],
            "the cached conversations show offline"
        );
        let history = offline.history(&conv).await;
        assert!(
            history
                .iter()
                .any(|m| m.sender == Sender::Shopper && text(m) == "Is the kettle 220 V?"),
            "the cached messages show offline: {history:?}"
        );
    });
}

/// An agent who stepped away and restarts the app is still away: the desk shows it and
/// sets it on the new connection, so no chat is offered until they come back.
#[test]
fn the_status_the_agent_chose_survives_a_restart_and_keeps_chats_away_until_they_return() {
    let data = tempfile::tempdir().unwrap();
    let kefu = Kefu::start(data.path(), "127.0.0.1:0");
    let root = tempfile::tempdir().unwrap();
    let store = keyring();
    app_run(async {
        kefu.add_agent("ann", "Ann", PASSWORD).await;
        let mut app = open(root.path(), &store);
        app.sign_in(&kefu, "ann").await;
        app.step_away().await;
    });

    app_run(async {
        let mut again = open(root.path(), &store);
        let session = again.desk.session().await.unwrap();
        assert_eq!(session.status, AgentStatus::Away, "shown from the start");
        again.online(true).await;
        let mut shopper = Shopper::open(&kefu, "Lin").await;
        let conv = shopper.say("anyone there?").await.conversation_id;
        // Ann comes back; only then is the chat offered to her.
        again.desk.set_status(AgentStatus::Online).await.unwrap();
        let mut back = false;
        again
            .next("the offer after ann is back", |u| match u {
                Update::Status {
                    status: AgentStatus::Online,
                } => {
                    back = true;
                    None
                }
                Update::Conversation { conversation: c }
                    if c.id == conv && c.state == ConversationState::Offered =>
                {
                    assert!(back, "offered while ann was away");
                    Some(())
                }
                _ => None,
            })
            .await;
    });
}

#[tokio::test]
async fn an_offered_chat_is_accepted_read_answered_once_and_found_by_search() {
    let Setup {
        kefu,
        mut app,
        ann,
        keep: _keep,
    } = setup().await;
    let mut shopper = Shopper::open(&kefu, "Lin").await;
    let conv = shopper.say("Where is my parcel? 📦").await.conversation_id;

    let offered = app.offer(&conv).await;
    assert_eq!(offered.shopper_name, "Lin", "the offer names the shopper");
    assert_eq!(
        offered.views,
        [View::Mine, View::Offered, View::Queue, View::Open],
        "an offer waits for Ann's answer in her list and in the queue"
    );
    for view in View::ALL {
        assert_eq!(
            app.ids(view, None).await.contains(&conv),
            offered.views.contains(&view),
            "{view:?}: the cache's list agrees with the live row"
        );
    }

    app.desk.accept(&conv).await.unwrap();
    app.next("the assignment", |u| {
        matches!(u, Update::Conversation { conversation: c }
            if c.id == conv && c.state == ConversationState::Assigned
                && c.agent_id.as_deref() == Some(ann.id.as_str()))
        .then_some(())
    })
    .await;
    assert_eq!(app.ids(View::Mine, None).await, [conv.as_str()]);
    assert!(
        app.ids(View::Queue, None).await.is_empty(),
        "left the queue"
    );

    // What the shopper wrote before and after the accept arrives as updates.
    app.next("the first message", |u| {
        matches!(u, Update::Message { message: m }
            if m.conversation_id == conv && m.sender == Sender::Shopper
                && text(m) == "Where is my parcel? 📦")
        .then_some(())
    })
    .await;
    shopper.say("It was due on Monday").await;
    app.next("the second message", |u| {
        matches!(u, Update::Message { message: m }
            if m.sender == Sender::Shopper && text(m) == "It was due on Monday")
        .then_some(())
    })
    .await;
    let from_shopper: Vec<String> = app
        .history(&conv)
        .await
        .iter()
        .filter(|m| m.sender == Sender::Shopper)
        .map(|m| text(m).to_string())
        .collect();
    assert_eq!(
        from_shopper,
        ["Where is my parcel? 📦", "It was due on Monday"],
        "history in order"
    );

    // The reply reaches the shopper once: the next one is the next thing they hear.
    app.reply(&conv, "It ships today").await;
    assert_eq!(
        shopper.agent_texts_until("It ships today").await,
        ["It ships today"]
    );
    app.reply(&conv, "Anything else?").await;
    assert_eq!(
        shopper.agent_texts_until("Anything else?").await,
        ["Anything else?"],
        "nothing heard twice in between"
    );

    assert_eq!(
        app.ids(View::Mine, Some("monday")).await,
        [conv.as_str()],
        "found by a word of a message, any case"
    );
    assert_eq!(app.ids(View::Open, Some("parcel")).await, [conv.as_str()]);
    assert!(
        app.ids(View::Mine, Some("refund")).await.is_empty(),
        "a word nobody wrote finds nothing"
    );

    eventually("a notification for the offer", async || {
        app.toasts.toasts().first().is_some_and(|t| {
            t.conversation_id == conv && (t.summary == "Lin" || t.summary.starts_with("1 new chat"))
        })
    })
    .await;
}

/// A tag or priority set by a bot reaches the open list at once, as the row's new state
/// (no reload): the server's `Updated` event, cached, then sent to the window.
#[tokio::test]
async fn a_bots_tags_and_priority_show_on_the_row_live() {
    let Setup {
        kefu,
        mut app,
        keep: _keep,
        ..
    } = setup().await;
    let mut shopper = Shopper::open(&kefu, "Lin").await;
    let conv = app.accept_chat(&mut shopper, "退货怎么办？").await;
    let token = kefu.bot_token("Triage").await;
    let http = reqwest::Client::new();
    let handoff = http
        .post(format!(
            "{}/api/v1/bot/conversations/{conv}/handoff",
            kefu.url()
        ))
        .bearer_auth(&token)
        .json(&json!({"priority": "urgent"}))
        .send()
        .await
        .unwrap();
    assert_eq!(handoff.status(), 200);
    let row = app
        .next("the row with the bot's labels", |u| match u {
            Update::Conversation { conversation: c }
                if c.id == conv && c.priority == kefu_desk::model::Priority::Urgent =>
            {
                Some(c.clone())
            }
            _ => None,
        })
        .await;
    assert!(
        row.tags.iter().any(|t| t == "handoff"),
        "the handoff's tag, beside any the demo's plugins set: {:?}",
        row.tags
    );
    assert_eq!(row.views, [View::Mine, View::Open], "still Ann's chat");
    let listed = app.desk.conversations(View::Mine, None).await.unwrap();
    assert_eq!(
        (listed[0].tags.as_slice(), listed[0].priority),
        (row.tags.as_slice(), row.priority),
        "the cache holds what the window was told"
    );
}

#[tokio::test]
async fn messages_written_offline_are_pending_then_reach_the_shopper_once_in_order() {
    let Setup {
        kefu,
        mut app,
        keep,
        ..
    } = setup().await;
    let mut shopper = Shopper::open(&kefu, "Lin").await;
    let conv = app.accept_chat(&mut shopper, "Hello?").await;
    app.reply(&conv, "Hi, let me check").await;
    let heard = shopper.hears("Hi, let me check").await;

    let stopped = kefu.kill();
    app.online(false).await;
    let offline = ["one ✈", "two", "three"];
    for t in offline {
        let m = app.desk.send_text(&conv, t, false).await.unwrap();
        assert_eq!(
            m.delivery,
            DeliveryState::Pending,
            "{t} waits in the outbox"
        );
    }
    let history = app.history(&conv).await;
    let (sent, pending) = history.split_at(history.len() - 3);
    assert!(
        pending
            .iter()
            .all(|m| m.delivery == DeliveryState::Pending && m.seq.is_none() && m.mine),
        "the unsent come last, pending: {pending:?}"
    );
    assert_eq!(pending.iter().map(text).collect::<Vec<_>>(), offline);
    assert!(
        sent.iter().all(|m| m.seq.is_some()),
        "everything before them was sent: {sent:?}"
    );

    let kefu = stopped.start();
    eventually("the outbox to drain", async || {
        app.history(&conv)
            .await
            .iter()
            .all(|m| m.delivery != DeliveryState::Pending)
    })
    .await;
    // The shopper comes back and catches up on what they missed.
    shopper.reconnect(&kefu).await;
    shopper.resume(heard.seq).await;
    let missed = shopper.agent_texts_until("three").await;
    assert_eq!(missed, offline, "each once, in the order written");
    app.reply(&conv, "All caught up").await;
    assert_eq!(
        shopper.agent_texts_until("All caught up").await,
        ["All caught up"],
        "nothing arrives twice"
    );

    // A message acked a moment ago is in the history once the server's copy is cached.
    eventually("the last reply in the history", async || {
        app.history(&conv)
            .await
            .iter()
            .any(|m| text(m) == "All caught up" && m.seq.is_some())
    })
    .await;
    let history = app.history(&conv).await;
    let agent: Vec<&ChatMessage> = history.iter().filter(|m| m.mine).collect();
    assert_eq!(
        agent.iter().map(|m| text(m)).collect::<Vec<_>>(),
        ["Hi, let me check", "one ✈", "two", "three", "All caught up"],
    );
    assert!(
        agent
            .iter()
            .all(|m| m.delivery == DeliveryState::Sent && m.seq.is_some()),
        "all shown as sent: {agent:?}"
    );
    let token = kefu.login("ann", PASSWORD).await;
    assert_eq!(
        server_agent_texts(&kefu, &token, &conv).await,
        ["Hi, let me check", "one ✈", "two", "three", "All caught up"],
        "stored once each on the server"
    );
    let cache = Cache::open(&cache_file(keep.root.path()), "a1")
        .await
        .unwrap();
    assert!(
        cache.pending(None).await.unwrap().is_empty(),
        "outbox empty"
    );
}

/// A chat is transferred away while the desk is offline, with a message waiting for it.
///
/// To keep the desk disconnected while the transfer happens, the server is stopped and
/// started on the same data but another port, where the demo admin (a supervisor) moves
/// the chat to `after-sales` (ann is not in that group); then it comes back on the address
/// the desk knows.
#[tokio::test]
async fn a_chat_transferred_away_while_offline_leaves_mine_and_its_unsent_message_fails() {
    let Setup {
        kefu,
        mut app,
        keep: _keep,
        ..
    } = setup().await;
    let mut shopper = Shopper::open(&kefu, "Lin").await;
    let conv = app.accept_chat(&mut shopper, "Hello?").await;
    app.reply(&conv, "Hi!").await;

    let stopped = kefu.kill();
    app.online(false).await;
    let lost = app
        .desk
        .send_text(&conv, "written offline", false)
        .await
        .unwrap();

    let elsewhere = stopped.start_elsewhere();
    let admin = elsewhere.admin_token().await;
    Staff::connect(&elsewhere, &admin)
        .await
        .transfer_to_group(&conv, "after-sales")
        .await;
    elsewhere.kill();

    let kefu = stopped.start();
    let (mut failed, mut removed) = (None, None);
    while failed.is_none() || removed.is_none() {
        match app
            .next("the transfer to be noticed", |u| Some(u.clone()))
            .await
        {
            Update::Undeliverable {
                conversation_id,
                client_msg_id,
                reason,
            } if client_msg_id == lost.client_msg_id => failed = Some((conversation_id, reason)),
            Update::Removed {
                conversation_id,
                reason,
            } if conversation_id == conv => removed = Some(reason),
            _ => {}
        }
    }
    let (failed_in, why) = failed.unwrap();
    assert_eq!(
        failed_in, conv,
        "the window is told which chat's message failed ({why})"
    );
    assert_eq!(removed.unwrap(), "transferred");
    assert!(
        !app.ids(View::Mine, None).await.contains(&conv),
        "no longer mine"
    );
    assert!(
        app.history(&conv)
            .await
            .iter()
            .all(|m| m.delivery != DeliveryState::Pending),
        "not stuck in the outbox"
    );
    let admin = kefu.admin_token().await;
    assert_eq!(
        server_agent_texts(&kefu, &admin, &conv).await,
        ["Hi!"],
        "the offline message never reached the shopper"
    );
}

#[tokio::test]
async fn a_revoked_token_ends_the_session_keeping_the_cache_and_the_outbox() {
    let Setup {
        kefu,
        mut app,
        keep,
        ..
    } = setup().await;
    let mut shopper = Shopper::open(&kefu, "Lin").await;
    let conv = app.accept_chat(&mut shopper, "Hello?").await;
    app.reply(&conv, "Hi!").await;
    let secrets = Secrets::with_store(keep.store.clone());
    let token = secrets.load(&kefu.url(), "ann").unwrap().unwrap();
    assert_eq!(
        kefu.post("/api/v1/auth/logout", &token).await,
        reqwest::StatusCode::NO_CONTENT,
        "signed out elsewhere"
    );

    // The desk finds out when it reconnects; meanwhile it wrote something.
    let stopped = kefu.kill();
    app.online(false).await;
    let unsent = app
        .desk
        .send_text(&conv, "sent before I knew", false)
        .await
        .unwrap();
    let kefu = stopped.start();
    let message = app
        .next("the session to expire", |u| match u {
            Update::SessionExpired { message } => Some(message.clone()),
            _ => None,
        })
        .await;
    let session = app.desk.session().await.unwrap();
    assert!(session.agent.is_none(), "back to sign-in");
    assert_eq!(session.notice.as_ref(), Some(&message), "saying why");
    assert_eq!(
        session.username.as_deref(),
        Some("ann"),
        "the username is kept for the form"
    );
    assert_eq!(
        secrets.load(&kefu.url(), "ann").unwrap(),
        None,
        "the dead token left the keyring"
    );
    let code = app.desk.conversations(View::Mine, None).await.unwrap_err();
    assert_eq!(code.code, DeskErrorCode::NotSignedIn);

    let cache = Cache::open(&cache_file(keep.root.path()), "a1")
        .await
        .unwrap();
    assert!(
        cache.conversation(&conv).await.unwrap().is_some(),
        "the cache file was kept"
    );
    assert_eq!(
        cache
            .pending(None)
            .await
            .unwrap()
            .iter()
            .map(|p| p.client_msg_id.clone())
            .collect::<Vec<_>>(),
        [unsent.client_msg_id.as_str()],
        "and the unsent message with it"
    );

    app.sign_in(&kefu, "ann").await;
    assert!(
        app.ids(View::Mine, None).await.contains(&conv),
        "the cached chat is back"
    );
    let admin = kefu.admin_token().await;
    eventually("the kept message to be delivered", async || {
        server_agent_texts(&kefu, &admin, &conv).await.len() == 2
    })
    .await;
    assert_eq!(
        server_agent_texts(&kefu, &admin, &conv).await,
        ["Hi!", "sent before I knew"]
    );
}

#[tokio::test]
async fn the_customer_view_comes_from_the_back_office_and_from_the_cache_when_offline() {
    let backoffice = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let backoffice_url = format!("http://{}", backoffice.local_addr().unwrap());
    tokio::spawn(kefu_demo_backoffice::serve(backoffice, 42));
    let data = kefu_demo_backoffice::dataset(42);
    let customer_id = data.showcase().customer_id.clone();
    let email = data.customer(&customer_id).unwrap().emails[0].clone();
    let mut orders: Vec<String> = data
        .orders_of(&customer_id)
        .unwrap()
        .iter()
        .map(|o| o.id.clone())
        .collect();
    orders.sort();
    assert!(!orders.is_empty(), "the showcase customer has orders");

    let Setup {
        kefu,
        mut app,
        keep: _keep,
        ..
    } = setup_with(&[(
        "KEFU_INTEGRATIONS__BACKOFFICE__BASE_URL",
        backoffice_url.as_str(),
    )])
    .await;
    // The shopper types a customer's e-mail (anyone could).
    let mut shopper = Shopper::open_with(
        &kefu,
        json!({"site_id": "demo", "name": "Fang", "email": email}),
    )
    .await;
    let conv = app.accept_chat(&mut shopper, "My espresso machine?").await;

    let order_ids = |p: &kefu_desk::model::CustomerPanel| {
        let mut ids: Vec<String> = p
            .orders
            .data
            .iter()
            .flatten()
            .map(|o| o.id.clone())
            .collect();
        ids.sort();
        ids
    };
    // A typed e-mail only suggests the customer: their name, no data.
    let unverified = app
        .desk
        .customer_view(&conv, true)
        .await
        .unwrap()
        .expect("a customer view");
    assert_eq!(unverified.verification, Verification::Unverified);
    assert_eq!(unverified.matched_by, MatchedBy::Email);
    let suggestion = unverified.suggestion.as_ref().expect("a suggestion");
    assert_eq!(suggestion.name, data.customer(&customer_id).unwrap().name);
    assert!(unverified.customer.data.is_none() && order_ids(&unverified).is_empty());

    // The agent checks an order number the shopper quotes: someone else's is refused.
    let elses = data
        .customers()
        .iter()
        .filter(|c| c.id != customer_id)
        .find_map(|c| data.orders_of(&c.id)?.first().map(|o| o.id.clone()))
        .unwrap();
    let refused = app.desk.verify_customer(&conv, &elses).await.unwrap_err();
    assert_eq!(refused.code, DeskErrorCode::Invalid, "{refused:?}");
    let asked_at = now_ms();
    let fresh = app.desk.verify_customer(&conv, &orders[0]).await.unwrap();
    assert_eq!(fresh.verification, Verification::Verified);
    assert!(!fresh.from_cache, "fetched from the server");
    assert_eq!(
        fresh.customer.data.as_ref().map(|c| c.id.as_str()),
        Some(customer_id.as_str()),
        "matched by {:?}",
        fresh.matched_by
    );
    assert_eq!(order_ids(&fresh), orders, "every order of the customer");

    // The server also pushes the verified view over the socket; whichever copy the cache
    // kept last (the pushed one may arrive a moment before the answer), it is one received
    // after the verification was asked for and before the server stopped.
    let stopped_at = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let _stopped = kefu.kill();
    let cached = app
        .desk
        .customer_view(&conv, true)
        .await
        .unwrap()
        .expect("the cached copy");
    assert!(cached.from_cache, "served from the cache");
    assert_eq!(order_ids(&cached), orders, "the same orders");
    assert!(
        (asked_at..=stopped_at).contains(&cached.received_at),
        "a copy fetched before: {} not in {asked_at}..={stopped_at}",
        cached.received_at,
    );
}

#[tokio::test]
async fn the_list_shows_the_page_the_shopper_is_on_from_the_offer_then_the_latest_from_the_server()
{
    let Setup {
        kefu,
        mut app,
        keep: _keep,
        ..
    } = setup().await;
    // Ann steps away while the chat opens, so its offer is made when she is back, from the
    // conversation as stored, page included. (An offer made the instant a conversation opens
    // may be built before the server has stored its page; the next refresh then brings it.)
    app.step_away().await;
    let mut shopper = Shopper::open(&kefu, "Lin").await;
    shopper
        .open_conversation(
            &kefu,
            json!({"context": {"url": "https://shop.test/p/42", "title": "Kettle", "product_id": "42"}}),
        )
        .await;
    let conv = shopper.say("Is this one 220 V?").await.conversation_id;
    let kettle = PageContext {
        url: Some("https://shop.test/p/42".into()),
        title: Some("Kettle".into()),
        product_id: Some("42".into()),
        order_id: None,
    };

    // The offer carries the page the conversation was opened on (no refresh runs meanwhile:
    // coming back online is a status, not a reconnect).
    app.desk.set_status(AgentStatus::Online).await.unwrap();
    let offered = app.offer(&conv).await;
    assert_eq!(
        offered.page.as_ref(),
        Some(&kettle),
        "the offered row says where the shopper is"
    );
    let queued = app.desk.conversations(View::Queue, None).await.unwrap();
    assert_eq!(
        queued
            .iter()
            .find(|c| c.id == conv)
            .and_then(|c| c.page.as_ref()),
        Some(&kettle),
        "the list the UI reads has it from the cache: {queued:?}"
    );

    // The shopper writes from an order page. No live event says so: the agent learns it
    // from the server's list on the next refresh (here, after the server restarts).
    app.desk.accept(&conv).await.unwrap();
    app.next("the chat to be assigned", |u| {
        matches!(u, Update::Conversation { conversation: c }
            if c.id == conv && c.state == ConversationState::Assigned)
        .then_some(())
    })
    .await;
    let order_page = pb::PageContext {
        url: "https://shop.test/orders/7".into(),
        title: "Order 7".into(),
        product_id: String::new(),
        order_id: "7".into(),
    };
    shopper
        .say_on("And where is my order?", Some(order_page))
        .await;
    let stopped = kefu.kill();
    app.online(false).await;
    let _kefu = stopped.start();
    app.online(true).await;
    // Replaced whole: the kettle's product id does not linger next to the order.
    let order = PageContext {
        url: Some("https://shop.test/orders/7".into()),
        title: Some("Order 7".into()),
        product_id: None,
        order_id: Some("7".into()),
    };
    eventually("the refreshed list to show the latest page", async || {
        let mine = app.desk.conversations(View::Mine, None).await.unwrap();
        mine.iter()
            .any(|c| c.id == conv && c.page.as_ref() == Some(&order))
    })
    .await;
}

#[tokio::test]
async fn pruning_drops_only_old_closed_conversations_without_unsent_messages() {
    let dir = tempfile::tempdir().unwrap();
    let cache = Cache::open(&dir.path().join("cache.db"), "a1")
        .await
        .unwrap();
    let day = 86_400_000;
    let (now, old) = (now_ms(), now_ms() - 40 * day);
    let conversation = |id: &str, state, closed_at: Option<i64>| ConversationInfo {
        id: id.into(),
        state: Some(state),
        agent_id: Some(Some("ann".into())),
        created_at: Some(old),
        updated_at: Some(old),
        closed_at: Some(closed_at),
        ..Default::default()
    };
    use ConversationState::{Assigned, Closed};
    for c in [
        conversation("old-closed", Closed, Some(old)),
        conversation("old-open", Assigned, None),
        conversation("old-unsent", Closed, Some(old)),
        conversation("closed-yesterday", Closed, Some(now - day - 60_000)),
    ] {
        cache.upsert(&c).await.unwrap();
    }
    let message = pb::Message {
        id: "m1".into(),
        conversation_id: "old-closed".into(),
        seq: 1,
        client_msg_id: "c1".into(),
        created_at_ms: old,
        ..Default::default()
    };
    cache.store_message(&message, false).await.unwrap();
    cache
        .put_customer_view("old-closed", &json!({"matched_by": "email"}))
        .await
        .unwrap();
    cache
        .enqueue(&pb::SendMessage {
            conversation_id: "old-unsent".into(),
            client_msg_id: "u1".into(),
            ..Default::default()
        })
        .await
        .unwrap();

    assert_eq!(
        cache.prune(30).await.unwrap(),
        1,
        "one conversation is old enough"
    );
    assert!(cache.conversation("old-closed").await.unwrap().is_none());
    assert!(
        cache.messages("old-closed").await.unwrap().is_empty(),
        "its messages went with it"
    );
    assert!(
        cache.customer_view("old-closed").await.unwrap().is_none(),
        "and its customer view"
    );
    for kept in ["old-open", "old-unsent", "closed-yesterday"] {
        assert!(
            cache.conversation(kept).await.unwrap().is_some(),
            "{kept} stays"
        );
    }
    assert_eq!(
        cache.pending(None).await.unwrap().len(),
        1,
        "the outbox stays"
    );
    assert_eq!(cache.prune(30).await.unwrap(), 0, "nothing more to prune");
    assert_eq!(
        cache.prune(1).await.unwrap(),
        1,
        "a shorter retention drops the one closed yesterday"
    );
}

#[tokio::test]
async fn files_go_out_as_attachments_and_bad_files_get_clear_errors() {
    use base64::Engine as _;
    let Setup {
        kefu,
        mut app,
        keep: _keep,
        ..
    } = setup().await;
    let mut shopper = Shopper::open(&kefu, "Lin").await;
    let conv = app.accept_chat(&mut shopper, "Here is a photo?").await;
    let b64 = |bytes: &[u8]| base64::engine::general_purpose::STANDARD.encode(bytes);

    // A real PNG signature: uploaded, sent, and the shopper receives the attachment.
    let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
    let sent = app
        .desk
        .send_file(&conv, "receipt.png", "image/png", &b64(&png))
        .await
        .unwrap();
    let MessageBody::Attachment {
        attachment_id,
        file_name,
        mime,
        ..
    } = &sent.body
    else {
        panic!("an attachment: {sent:?}");
    };
    assert_eq!(
        (file_name.as_str(), mime.as_str()),
        ("receipt.png", "image/png")
    );
    let received = shopper
        .recv_until(|f| match f {
            pb::server_envelope::Kind::Message(m) => match m.body.as_ref()?.kind.as_ref()? {
                pb::message_body::Kind::Attachment(a) => Some(a.clone()),
                _ => None,
            },
            _ => None,
        })
        .await;
    assert_eq!(&received.attachment_id, attachment_id);
    let shown = app.desk.attachment(attachment_id).await.unwrap();
    assert_eq!(shown, format!("data:image/png;base64,{}", b64(&png)));

    // What the server refuses comes back as a clear, typed error; nothing is queued.
    let html = app
        .desk
        .send_file(&conv, "page.png", "image/png", &b64(b"<html>not a picture"))
        .await
        .unwrap_err();
    assert_eq!(html.code, DeskErrorCode::Invalid, "{html:?}");
    let exe = app
        .desk
        .send_file(&conv, "setup.exe", "application/x-msdownload", &b64(b"MZ"))
        .await
        .unwrap_err();
    assert_eq!(exe.code, DeskErrorCode::Invalid, "{exe:?}");
    assert!(exe.message.contains("not accepted"), "{}", exe.message);
    let garbage = app
        .desk
        .send_file(&conv, "x.png", "image/png", "%%% not base64 %%%")
        .await
        .unwrap_err();
    assert_eq!(garbage.code, DeskErrorCode::Invalid);
    let history = app.history(&conv).await;
    assert_eq!(
        history
            .iter()
            .filter(|m| matches!(m.body, MessageBody::Attachment { .. }))
            .count(),
        1,
        "only the good file is in the conversation"
    );
}
