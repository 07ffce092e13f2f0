//! The desktop core against a real kefu server (in this process, on 127.0.0.1 with its own
//! SQLite) and a real cache file: offline writes survive an app restart and a server
//! restart and arrive exactly once, in order; a gap is filled by resume without duplicates.

use std::{net::SocketAddr, path::Path, sync::Arc, time::Duration};

use futures_util::{SinkExt, StreamExt};
use kefu_desk::{
    cache::Cache,
    client,
    sync::{Event, Sync},
};
use kefu_proto::v1::{self as pb, client_envelope::Kind as In, server_envelope::Kind as Out};
use kefu_server::{
    auth::password,
    config::{Settings, Site},
    seed,
    store::{NewAgent, Role, Store},
};
use prost::Message as _;
use serde_json::{Value, json};
use tokio::sync::oneshot;
use tokio_tungstenite::tungstenite::Message as WsMessage;

const WAIT: Duration = Duration::from_secs(20);

struct Server {
    addr: SocketAddr,
    store: Arc<dyn Store>,
    stop: oneshot::Sender<()>,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

/// Starts kefu on `dir`, on `addr` (or a free port).
async fn start(dir: &Path, addr: Option<SocketAddr>) -> Server {
    let mut s = Settings::default();
    s.server.data_dir = dir.to_path_buf();
    s.server.shutdown_grace_secs = 1;
    s.limits.messages_per_second = 1000;
    s.limits.messages_burst = 1000;
    s.sites.push(Site {
        id: "shop".into(),
        name: "Shop".into(),
        allowed_origins: vec!["http://shop.test".into()],
        identity_secret: "secret".into(),
        default_group: "pre-sales".into(),
    });
    let store = kefu_server::open_store(&s).await.unwrap();
    seed::ensure_groups(store.as_ref()).await.unwrap();
    let listener =
        tokio::net::TcpListener::bind(addr.unwrap_or_else(|| "127.0.0.1:0".parse().unwrap()))
            .await
            .unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(kefu_server::run(s, store.clone(), listener, async move {
        let _ = stopped.await;
    }));
    Server {
        addr,
        store,
        stop,
        task,
    }
}

impl Server {
    async fn shutdown(self) {
        let _ = self.stop.send(());
        self.task.await.unwrap().unwrap();
    }
    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

async fn agent(srv: &Server) -> client::Server {
    srv.store
        .create_agent(&NewAgent {
            username: "ann".into(),
            display_name: "Ann".into(),
            password_hash: password::hash("a-long-password".into()).await.unwrap(),
            role: Role::Agent,
            capacity: 5,
            groups: vec!["pre-sales".into()],
        })
        .await
        .unwrap();
    assert!(matches!(
        client::login(&srv.url(), "ann", "wrong-password").await,
        Err(client::ClientError::BadCredentials)
    ));
    client::login(&srv.url(), "ann", "a-long-password")
        .await
        .unwrap()
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A shopper's socket; returns it with its visitor token.
async fn shopper(srv: &Server, token: Option<&str>) -> (Ws, String) {
    let token = match token {
        Some(t) => t.to_string(),
        None => {
            let v: Value = reqwest::Client::new()
                .post(format!("{}/api/v1/visitor/session", srv.url()))
                .json(&json!({"site_id": "shop"}))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            v["visitor_token"].as_str().unwrap().to_string()
        }
    };
    let (ws, _) =
        tokio_tungstenite::connect_async(format!("ws://{}/ws/shopper?token={token}", srv.addr))
            .await
            .unwrap();
    (ws, token)
}

async fn shopper_says(ws: &mut Ws, conv: &str, id: &str, text: &str) -> String {
    let body = pb::MessageBody {
        kind: Some(pb::message_body::Kind::Text(pb::Text { text: text.into() })),
    };
    let send = In::Send(pb::SendMessage {
        conversation_id: conv.into(),
        client_msg_id: id.into(),
        body: Some(body),
        group: String::new(),
    });
    ws.send(WsMessage::Binary(
        pb::ClientEnvelope { kind: Some(send) }
            .encode_to_vec()
            .into(),
    ))
    .await
    .unwrap();
    loop {
        let frame = tokio::time::timeout(WAIT, ws.next())
            .await
            .expect("an ack in time")
            .unwrap()
            .unwrap();
        if let WsMessage::Binary(b) = frame
            && let Ok(pb::ServerEnvelope {
                kind: Some(Out::Ack(a)),
            }) = pb::ServerEnvelope::decode(b)
            && a.client_msg_id == id
        {
            return a.conversation_id;
        }
    }
}

async fn wait_for<T>(
    events: &mut tokio::sync::broadcast::Receiver<Event>,
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

async fn eventually(what: &str, mut f: impl AsyncFnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while !f().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
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

/// The agent's texts in the server's history of `conv`, in seq order.
async fn agent_texts(srv: &Server, server: &client::Server, conv: &str) -> Vec<String> {
    let page: Value = reqwest::Client::new()
        .get(format!(
            "{}/api/v1/conversations/{conv}/messages?limit=200",
            srv.url()
        ))
        .bearer_auth(&server.token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    page["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["sender_role"] == "agent" && m["body"]["type"] == "text")
        .map(|m| m["body"]["text"].as_str().unwrap().to_string())
        .collect()
}

/// Starts the engine and accepts the next offered chat.
async fn accept_next(sync: &Sync, events: &mut tokio::sync::broadcast::Receiver<Event>) -> String {
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

#[tokio::test]
async fn offline_writes_survive_app_and_server_restarts_and_arrive_once_in_order() {
    let data = tempfile::tempdir().unwrap();
    let desk = tempfile::tempdir().unwrap();
    let srv = start(data.path(), None).await;
    let addr = srv.addr;
    let account = agent(&srv).await;
    let cache = Cache::open(&desk.path().join("cache.db")).await.unwrap();
    let sync = Sync::start(cache.clone(), account.clone());
    let mut events = sync.subscribe();
    let (mut shop, _) = shopper(&srv, None).await;
    let conv = shopper_says(&mut shop, "", "s1", "你好, where is my parcel?").await;
    assert_eq!(accept_next(&sync, &mut events).await, conv);

    let first = sync.send_text(&conv, "one").await.unwrap();
    wait_for(&mut events, |e| {
        matches!(e, Event::Frame(Out::Ack(a)) if a.client_msg_id == first).then_some(())
    })
    .await;

    // The server goes away; the agent keeps writing.
    srv.shutdown().await;
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
    let cache = Cache::open(&desk.path().join("cache.db")).await.unwrap();
    assert_eq!(
        cache.pending(None).await.unwrap().len(),
        2,
        "the outbox survived the restart"
    );
    let sync = Sync::start(cache.clone(), account.clone());

    // The server comes back on the same address and data.
    let srv = start(data.path(), Some(addr)).await;
    eventually("the outbox to drain", async || {
        cache.pending(None).await.unwrap().is_empty()
    })
    .await;
    assert_eq!(
        agent_texts(&srv, &account, &conv).await,
        ["one", "two", "three"],
        "each once, in order"
    );
    assert!(sync.is_online());
    srv.shutdown().await;
}

#[tokio::test]
async fn a_gap_is_filled_by_resume_without_duplicates() {
    let data = tempfile::tempdir().unwrap();
    let desk = tempfile::tempdir().unwrap();
    let srv = start(data.path(), None).await;
    let account = agent(&srv).await;
    let cache = Cache::open(&desk.path().join("cache.db")).await.unwrap();
    let sync = Sync::start(cache.clone(), account.clone());
    let mut events = sync.subscribe();
    let (mut shop, token) = shopper(&srv, None).await;
    let conv = shopper_says(&mut shop, "", "s0", "hello").await;
    accept_next(&sync, &mut events).await;
    wait_for(&mut events, |e| {
        matches!(e, Event::Message(m) if m.client_msg_id == "s0").then_some(())
    })
    .await;

    // The desktop is closed while the shopper keeps writing.
    drop(events);
    drop(sync);
    for i in 1..=5 {
        shopper_says(
            &mut shop,
            &conv,
            &format!("s{i}"),
            &format!("message {i} 📦"),
        )
        .await;
    }
    drop(shop);
    let sync = Sync::start(cache.clone(), account.clone());
    eventually("the gap to be filled", async || {
        has_cached(&cache, &conv, "s5").await
    })
    .await;
    // Live traffic after the resume is not stored twice either.
    let (mut shop, _) = shopper(&srv, Some(&token)).await;
    shopper_says(&mut shop, &conv, "s6", "one more").await;
    eventually("the live message", async || {
        has_cached(&cache, &conv, "s6").await
    })
    .await;
    let cached = cache.messages(&conv).await.unwrap();
    let seqs: Vec<u64> = cached.iter().map(|m| m.seq).collect();
    assert!(
        seqs.windows(2).all(|w| w[0] < w[1]),
        "cached in seq order, no duplicates: {seqs:?}"
    );
    let shopper_ids: Vec<&str> = cached
        .iter()
        .filter(|m| {
            m.sender
                .as_ref()
                .is_some_and(|p| p.role == pb::Role::Shopper as i32)
        })
        .map(|m| m.client_msg_id.as_str())
        .collect();
    assert_eq!(shopper_ids, ["s0", "s1", "s2", "s3", "s4", "s5", "s6"]);
    // Storing a message again is a no-op.
    assert!(
        !cache.store_message(&cached[0], false).await.unwrap(),
        "a duplicate is not stored twice"
    );
    drop(sync);
    srv.shutdown().await;
}
