//! The sync engine against a real `kefu` process (on 127.0.0.1 with its own data folder)
//! and a real cache file: offline writes survive an app restart and a server restart and
//! arrive exactly once, in order; a gap is filled by resume without duplicates.

mod common;

use common::*;
use kefu_desk::model::ConversationState;
use kefu_desk::{
    cache::{Cache, ConversationInfo},
    client,
    sync::{Event, Sync},
};
use kefu_proto::v1::{self as pb, server_envelope::Kind as Out};
use tokio::sync::broadcast;

const PASSWORD: &str = "a-long-password";

/// Adds agent `ann` and signs her in (a wrong password is refused first).
async fn agent(kefu: &Kefu) -> client::Server {
    kefu.add_agent("ann", "Ann", PASSWORD).await;
    assert!(
        matches!(
            client::login(&kefu.url(), "ann", "wrong-password").await,
            Err(client::ClientError::BadCredentials)
        ),
        "a wrong password is told apart from other failures"
    );
    client::login(&kefu.url(), "ann", PASSWORD).await.unwrap()
}

async fn wait_for<T>(
    events: &mut broadcast::Receiver<Event>,
    mut f: impl FnMut(&Event) -> Option<T>,
) -> T {
    loop {
        let e = tokio::time::timeout(WAIT, events.recv())
            .await
            .expect("an event in time")
            .expect("engine running");
        if let Some(t) = f(&e) {
            return t;
        }
    }
}

/// Whether the cache holds the message with this client_msg_id.
async fn has_cached(cache: &Cache, conv: &str, client_msg_id: &str) -> bool {
    cache
        .messages(conv)
        .await
        .unwrap()
        .iter()
        .any(|m| m.client_msg_id == client_msg_id)
}

/// Waits for the engine to be online, then for the next offered chat, and accepts it.
async fn accept_next(sync: &Sync, events: &mut broadcast::Receiver<Event>) -> String {
    let conv = wait_for(events, |e| match e {
        Event::Changed { event: ev, .. }
            if matches!(ev.kind, Some(pb::conversation_event::Kind::Offered(_))) =>
        {
            Some(ev.conversation_id.clone())
        }
        _ => None,
    })
    .await;
    sync.accept(&conv).await.unwrap();
    conv
}

/// A new agent's cache in `dir` and its sync engine, once online.
async fn online_engine(
    kefu: &Kefu,
    dir: &std::path::Path,
) -> (client::Server, Cache, Sync, broadcast::Receiver<Event>) {
    let account = agent(kefu).await;
    let cache = Cache::open(&dir.join("cache.db"), "a1").await.unwrap();
    let sync = Sync::start(cache.clone(), account.clone());
    let mut events = sync.subscribe();
    wait_for(&mut events, |e| matches!(e, Event::Online).then_some(())).await;
    (account, cache, sync, events)
}

#[tokio::test]
async fn offline_writes_survive_app_and_server_restarts_and_arrive_once_in_order() {
    let data = tempfile::tempdir().unwrap();
    let desk = tempfile::tempdir().unwrap();
    let kefu = Kefu::start(data.path(), "127.0.0.1:0");
    let (account, cache, sync, mut events) = online_engine(&kefu, desk.path()).await;
    let mut shop = Shopper::open(&kefu, "Lin").await;
    let conv = shop.say("你好, where is my parcel?").await.conversation_id;
    assert_eq!(
        accept_next(&sync, &mut events).await,
        conv,
        "the only agent online is offered the chat"
    );

    let first = sync.send_text(&conv, "one").await.unwrap();
    wait_for(&mut events, |e| {
        matches!(e, Event::Frame(Out::Ack(a)) if a.client_msg_id == first).then_some(())
    })
    .await;

    // The server goes away; the agent keeps writing.
    let stopped = kefu.kill();
    eventually("the engine to notice", async || !sync.is_online()).await;
    sync.send_text(&conv, "two").await.unwrap();
    sync.send_text(&conv, "three").await.unwrap();
    assert_eq!(
        cache.pending(None).await.unwrap().len(),
        2,
        "offline messages wait in the outbox"
    );

    // The app is closed with them pending, and started again.
    drop(events);
    drop(sync);
    let cache = Cache::open(&desk.path().join("cache.db"), "a1")
        .await
        .unwrap();
    assert_eq!(
        cache.pending(None).await.unwrap().len(),
        2,
        "the outbox survived the restart"
    );
    let sync = Sync::start(cache.clone(), account.clone());

    // The server comes back on the same address and data.
    let kefu = stopped.start();
    eventually("the outbox to drain", async || {
        cache.pending(None).await.unwrap().is_empty()
    })
    .await;
    assert_eq!(
        server_agent_texts(&kefu, &account.token, &conv).await,
        ["one", "two", "three"],
        "each once, in order"
    );
    assert!(sync.is_online(), "acks came over a live connection");
}

/// A chat the desk accepted and whose first message ("hello") it cached, then the desk
/// closed (its engine stopped): the account, its cache, the shopper, the first ack.
async fn chat_then_desk_closed(
    kefu: &Kefu,
    dir: &std::path::Path,
) -> (client::Server, Cache, Shopper, pb::Ack) {
    let (account, cache, sync, mut events) = online_engine(kefu, dir).await;
    let mut shop = Shopper::open(kefu, "Lin").await;
    let hello = shop.say("hello").await;
    accept_next(&sync, &mut events).await;
    wait_for(&mut events, |e| {
        matches!(e, Event::Message(m) if m.client_msg_id == hello.client_msg_id).then_some(())
    })
    .await;
    (account, cache, shop, hello)
}

#[tokio::test]
async fn a_gap_is_filled_by_resume_without_duplicates() {
    let data = tempfile::tempdir().unwrap();
    let desk = tempfile::tempdir().unwrap();
    let kefu = Kefu::start(data.path(), "127.0.0.1:0");
    // The desktop is closed while the shopper keeps writing.
    let (account, cache, mut shop, hello) = chat_then_desk_closed(&kefu, desk.path()).await;
    let conv = hello.conversation_id.clone();
    let mut written = vec![hello.client_msg_id];
    for i in 1..=5 {
        written.push(shop.say(&format!("message {i} 📦")).await.client_msg_id);
    }
    let sync = Sync::start(cache.clone(), account.clone());
    let last = written.last().unwrap().clone();
    eventually("the gap to be filled", async || {
        has_cached(&cache, &conv, &last).await
    })
    .await;
    // Live traffic after the resume is not stored twice either.
    shop.reconnect(&kefu).await;
    let live = shop.say("one more").await.client_msg_id;
    written.push(live.clone());
    eventually("the live message", async || {
        has_cached(&cache, &conv, &live).await
    })
    .await;
    let cached = cache.messages(&conv).await.unwrap();
    let seqs: Vec<u64> = cached.iter().map(|m| m.seq).collect();
    assert!(
        seqs.windows(2).all(|w| w[0] < w[1]),
        "cached in seq order, no duplicates: {seqs:?}"
    );
    let shopper_ids: Vec<String> = cached
        .iter()
        .filter(|m| {
            m.sender
                .as_ref()
                .is_some_and(|p| p.role == pb::Role::Shopper as i32)
        })
        .map(|m| m.client_msg_id.clone())
        .collect();
    assert_eq!(
        shopper_ids, written,
        "every shopper message once, in the order written"
    );
    // Storing a message again is a no-op.
    assert!(
        !cache.store_message(&cached[0], false).await.unwrap(),
        "a duplicate is not stored twice"
    );
    drop(sync);
}

/// A resume cut short (app closed, connection lost) after a later message arrived live
/// leaves a gap below the newest cached message; the next connection fills it.
#[tokio::test]
async fn a_gap_below_the_newest_cached_message_is_filled_on_reconnect() {
    let data = tempfile::tempdir().unwrap();
    let desk = tempfile::tempdir().unwrap();
    let kefu = Kefu::start(data.path(), "127.0.0.1:0");
    let (account, cache, sync, mut events) = online_engine(&kefu, desk.path()).await;
    let mut shop = Shopper::open(&kefu, "Lin").await;
    let first = shop.say("first").await;
    let conv = first.conversation_id;
    accept_next(&sync, &mut events).await;
    let last = shop.say("last").await.client_msg_id;
    eventually("the conversation to be cached", async || {
        has_cached(&cache, &conv, &first.client_msg_id).await
            && has_cached(&cache, &conv, &last).await
    })
    .await;
    let everything = cache.messages(&conv).await.unwrap();
    drop(events);
    drop(sync);

    // Another cache holding only the newest message of a chat that is ours.
    let gappy = Cache::open(&desk.path().join("gappy.db"), "a1")
        .await
        .unwrap();
    gappy
        .upsert(&ConversationInfo {
            id: conv.clone(),
            state: Some(ConversationState::Assigned),
            ..Default::default()
        })
        .await
        .unwrap();
    gappy
        .store_message(everything.last().unwrap(), false)
        .await
        .unwrap();
    let _sync = Sync::start(gappy.clone(), account.clone());
    // The server's history is the measure: a message it wrote after the first cache was
    // read (a bot's, a notice) is part of what the gap fill must bring.
    let seqs = |ms: &[pb::Message]| ms.iter().map(|m| m.seq).collect::<Vec<_>>();
    let server_seqs = async || -> Vec<u64> {
        let history = server_messages(&kefu, &account.token, &conv).await;
        history.iter().filter_map(|m| m["seq"].as_u64()).collect()
    };
    eventually("the gap to be filled", async || {
        seqs(&gappy.messages(&conv).await.unwrap()) == server_seqs().await
    })
    .await;
    let filled = seqs(&gappy.messages(&conv).await.unwrap());
    assert!(
        filled.starts_with(&seqs(&everything)),
        "every message the first cache held, once, in order: {filled:?}"
    );
}

/// After a reconnect the server replays what the desk missed before any live message of
/// the conversation (issue 18, item 15): the engine names its resume points in the upgrade
/// request. With a `Resume` frame after `Hello`, a message the shopper wrote during the
/// reconnect could arrive before the replay of older ones.
#[tokio::test]
async fn after_a_reconnect_the_replay_comes_before_live_messages() {
    let data = tempfile::tempdir().unwrap();
    let desk = tempfile::tempdir().unwrap();
    let kefu = Kefu::start(data.path(), "127.0.0.1:0");
    let (account, cache, mut shop, hello) = chat_then_desk_closed(&kefu, desk.path()).await;
    let conv = hello.conversation_id;

    // Missed while the desk is closed, then more while it reconnects.
    for i in 0..20 {
        shop.say(&format!("missed {i}")).await;
    }
    let sync = Sync::start(cache.clone(), account.clone());
    let mut events = sync.subscribe();
    let writer = tokio::spawn(async move {
        for i in 0..20 {
            shop.say(&format!("live {i}")).await;
        }
        shop
    });
    // Every message new to the cache, as the engine announces it, until the last live one.
    let mut seen: Vec<(u64, String)> = Vec::new();
    while seen.last().is_none_or(|(_, t)| t != "live 19") {
        let m = wait_for(&mut events, |e| match e {
            Event::Message(m) if m.conversation_id == conv => Some(m.clone()),
            _ => None,
        })
        .await;
        let text = match m.body.and_then(|b| b.kind) {
            Some(pb::message_body::Kind::Text(t)) => t.text,
            _ => String::new(),
        };
        seen.push((m.seq, text));
    }
    writer.await.unwrap();
    // Messages already cached raise no event, so the announced seqs may skip some; they
    // must only ever go up. (A live message overtaking the replay comes out of order.)
    let seqs: Vec<u64> = seen.iter().map(|(seq, _)| *seq).collect();
    assert!(
        seqs.windows(2).all(|w| w[0] < w[1]),
        "replay then live, in seq order, no repeats: {seqs:?}"
    );
    let cached: Vec<u64> = cache
        .messages(&conv)
        .await
        .unwrap()
        .iter()
        .map(|m| m.seq)
        .collect();
    let last = *cached.last().unwrap();
    assert_eq!(
        cached,
        (1..=last).collect::<Vec<_>>(),
        "the cache has every message once"
    );
    // The closed desk's socket may still take the first missed message into the cache as
    // it closes (no event then): the cache, not the events, holds every text.
    let texts: Vec<String> = cache
        .messages(&conv)
        .await
        .unwrap()
        .into_iter()
        .filter_map(|m| match m.body.and_then(|b| b.kind) {
            Some(pb::message_body::Kind::Text(t)) => Some(t.text),
            _ => None,
        })
        .filter(|t| t.starts_with("missed") || t.starts_with("live"))
        .collect();
    let expected: Vec<String> = (0..20)
        .map(|i| format!("missed {i}"))
        .chain((0..20).map(|i| format!("live {i}")))
        .collect();
    assert_eq!(texts, expected, "each once, in the order written");
    let announced = seen.iter().filter(|(_, t)| t.starts_with("live")).count();
    assert_eq!(announced, 20, "every live message is announced: {seen:?}");
}
