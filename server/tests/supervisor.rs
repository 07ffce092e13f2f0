//! The supervisors' live floor and actions over real sockets: the floor after Hello and
//! after each change (a shopper queues, an agent accepts, replies, changes status, leaves),
//! never on an agent's socket; every action refused to agents, done for supervisors,
//! audited and visible in the conversation; a whisper that never reaches the shopper (its
//! socket, a resume, its REST history, webhooks); a status set by a supervisor reaching
//! the agent's desk; and in cluster mode, a supervisor on one node watching an agent on
//! another.

mod common;

use std::sync::{Arc, Mutex};

use axum::{Router, body::Bytes, extract::State, routing::post};
use common::*;
use kefu_proto::v1::{
    self as pb, client_envelope::Kind as In, conversation_event::Kind as Ev,
    server_envelope::Kind as Out,
};
use kefu_server::{store::Role, webhooks::WebhookSettings};
use kefu_testkit::{NatsCluster, TestDatabase};
use serde_json::{Value, json};

/// Reads a supervisor's socket until a floor that `ok` accepts; panics naming `what` (and
/// the last floor seen) if none comes within the kit's wait.
async fn floor_where(ws: &mut Ws, what: &str, ok: impl Fn(&pb::Floor) -> bool) -> pb::Floor {
    let deadline = tokio::time::Instant::now() + WAIT;
    let mut last = None;
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        match ws.next_within(left).await {
            Ok(Some(Out::Floor(f))) if ok(&f) => return f,
            Ok(Some(Out::Floor(f))) => last = Some(f),
            Ok(Some(_)) => {}
            Ok(None) => panic!("the supervisor's socket closed waiting for: {what}"),
            Err(_) => panic!("no floor with {what} in {WAIT:?}; the last one: {last:#?}"),
        }
    }
}

fn agent<'a>(floor: &'a pb::Floor, id: &str) -> &'a pb::FloorAgent {
    floor
        .agents
        .iter()
        .find(|a| a.agent_id == id)
        .unwrap_or_else(|| panic!("agent {id} on the floor: {floor:#?}"))
}

fn queue<'a>(floor: &'a pb::Floor, group: &str) -> &'a pb::FloorQueue {
    floor
        .queues
        .iter()
        .find(|q| q.group == group)
        .unwrap_or_else(|| panic!("queue {group} on the floor: {floor:#?}"))
}

fn status(floor: &pb::Floor, id: &str) -> pb::AgentStatus {
    pb::AgentStatus::try_from(agent(floor, id).status).unwrap()
}

/// Reads an agent's socket until `f` picks a frame, failing on any floor: agents never get
/// one.
async fn agent_until<T>(ws: &mut Ws, mut f: impl FnMut(&Out) -> Option<T>) -> T {
    ws.recv_until(|k| {
        assert!(
            !matches!(k, Out::Floor(_)),
            "an agent's socket received the floor"
        );
        f(k)
    })
    .await
}

/// The agent takes its next offer.
async fn accept_offer(ws: &mut Ws) -> String {
    let conv = agent_until(ws, |k| match k {
        Out::Event(e) if matches!(e.kind, Some(Ev::Offered(_))) => Some(e.conversation_id.clone()),
        _ => None,
    })
    .await;
    ws.send(In::Accept(pb::AcceptOffer {
        conversation_id: conv.clone(),
    }))
    .await;
    agent_until(ws, |k| match k {
        Out::Event(e) if e.conversation_id == conv && matches!(e.kind, Some(Ev::Assigned(_))) => {
            Some(())
        }
        _ => None,
    })
    .await;
    conv
}

#[tokio::test]
async fn the_floor_reaches_supervisors_after_hello_and_each_change_and_never_agents() {
    let srv = TestServer::start().await;
    let sue = srv.agent("sue", Role::Supervisor, &[], 3).await;
    let ann = srv.agent("ann", Role::Agent, &["pre-sales"], 2).await;
    let mut sup = srv.agent_ws(&sue).await;

    let first = floor_where(&mut sup, "any floor after Hello", |_| true).await;
    let a = agent(&first, &ann.id);
    assert_eq!(
        (
            status(&first, &ann.id),
            a.active,
            a.capacity,
            a.groups.as_slice()
        ),
        (
            pb::AgentStatus::Offline,
            0,
            2,
            &["pre-sales".to_string()][..]
        ),
        "an agent who never connected is on the floor, offline"
    );
    assert_eq!(queue(&first, "pre-sales").waiting, 0);
    assert_eq!(
        queue(&first, "after-sales").waiting,
        0,
        "empty queues are listed too"
    );

    let mut desk = srv.agent_ws(&ann).await;
    floor_where(&mut sup, "ann online", |f| {
        status(f, &ann.id) == pb::AgentStatus::Online
    })
    .await;

    let (mut shopper, _, conv) = shopper_opens(&srv, "is this kettle in stock?").await;
    let queued = floor_where(&mut sup, "one shopper waiting", |f| {
        queue(f, "pre-sales").waiting == 1
    })
    .await;
    let q = queue(&queued, "pre-sales");
    assert!(
        q.oldest_since_ms > 0 && q.oldest_since_ms <= queued.at_ms,
        "the wait started when it queued: {q:?}"
    );
    assert_eq!(q.agents_online, 1, "ann answers pre-sales and is online");

    assert_eq!(accept_offer(&mut desk).await, conv);
    let taken = floor_where(&mut sup, "ann holding it and nobody waiting", |f| {
        queue(f, "pre-sales").waiting == 0 && agent(f, &ann.id).active == 1
    })
    .await;
    // The expected wait of pre-sales is the one wait on record: this conversation's.
    let facts = srv.store.floor_facts(0).await.unwrap();
    let row = facts
        .recent
        .iter()
        .find(|r| r.group == "pre-sales")
        .expect("the assigned conversation is on record");
    let waited = row.assigned_at.unwrap() - row.queued_at.unwrap();
    assert_eq!(queue(&taken, "pre-sales").expected_wait_ms, waited);
    assert_eq!(agent(&taken, &ann.id).last_reply_at_ms, 0, "no reply yet");

    desk.say(&conv, "r1", "yes, two left").await;
    let replied = floor_where(&mut sup, "ann's reply", |f| {
        agent(f, &ann.id).last_reply_at_ms > 0
    })
    .await;
    assert!(agent(&replied, &ann.id).last_reply_at_ms <= replied.at_ms);
    shopper
        .recv_message(|m| text_of(m) == Some("yes, two left"))
        .await;

    desk.send(In::SetStatus(pb::SetStatus {
        status: pb::AgentStatus::Away as i32,
    }))
    .await;
    floor_where(&mut sup, "ann away", |f| {
        status(f, &ann.id) == pb::AgentStatus::Away
    })
    .await;

    // The same floor over REST, for supervisors only.
    let (code, body) = srv.get("/api/v1/floor", &sue.token).await;
    assert_eq!(code, 200, "{body}");
    let a = body["agents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["agent_id"] == ann.id.as_str())
        .expect("ann in the JSON floor");
    assert_eq!(
        (&a["status"], &a["active"], &a["capacity"]),
        (&json!("away"), &json!(1), &json!(2))
    );
    let pre_sales = body["queues"]
        .as_array()
        .unwrap()
        .iter()
        .find(|q| q["group"] == "pre-sales")
        .expect("pre-sales in the JSON floor");
    assert_eq!(pre_sales["waiting"], 0);
    assert!(body["breaches"].is_array());
    let (code, _) = srv.get("/api/v1/floor", &ann.token).await;
    assert_eq!(code, 403, "agents do not see the floor");

    // Everything the agent's socket got meanwhile was read by `agent_until`, or is here.
    let rest = desk.frames_until_heartbeat(1).await;
    assert!(
        rest.iter().all(|k| !matches!(k, Out::Floor(_))),
        "an agent's socket received the floor"
    );
    drop(desk);
    let left = floor_where(&mut sup, "ann offline once her socket closed", |f| {
        status(f, &ann.id) == pb::AgentStatus::Offline
    })
    .await;
    assert_eq!(
        agent(&left, &ann.id).active,
        1,
        "she keeps it through the reconnect grace period (a minute by default)"
    );
}

/// Supervisor actions as an agent would call them: all refused.
async fn agents_are_refused(srv: &TestServer, agent: &TestAgent, conv: &str, other: &str) {
    let calls = [
        (
            format!("/api/v1/conversations/{conv}/reassign"),
            json!({"group": "after-sales"}),
        ),
        (
            format!("/api/v1/conversations/{conv}/whisper"),
            json!({"text": "psst", "client_msg_id": "agent-whisper"}),
        ),
        (format!("/api/v1/conversations/{conv}/take-over"), json!({})),
        (
            format!("/api/v1/agents/{other}/status"),
            json!({"status": "away"}),
        ),
    ];
    for (path, body) in calls {
        let (code, answer) = srv.post(&path, &agent.token, body).await;
        assert_eq!(code, 403, "{path} is for supervisors: {answer}");
    }
}

/// The audit entries of `action` (in a conversation, or anywhere), newest first.
async fn audited(
    srv: &TestServer,
    sup: &TestAgent,
    conv: Option<&str>,
    action: &str,
) -> Vec<Value> {
    let path = match conv {
        Some(c) => format!("/api/v1/audit?conversation_id={c}"),
        None => "/api/v1/audit?limit=1000".into(),
    };
    let (code, body) = srv.get(&path, &sup.token).await;
    assert_eq!(code, 200, "{body}");
    body.as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == action)
        .cloned()
        .collect()
}

/// The conversation's messages as a supervisor reads them.
async fn history(srv: &TestServer, sup: &TestAgent, conv: &str) -> Vec<Value> {
    let path = format!("/api/v1/conversations/{conv}/messages?after_seq=0&limit=200");
    let (code, body) = srv.get(&path, &sup.token).await;
    assert_eq!(code, 200, "{body}");
    body["messages"].as_array().unwrap().clone()
}

fn has_activity(messages: &[Value], text: &str) -> bool {
    messages
        .iter()
        .any(|m| m["body"]["type"] == "system" && m["body"]["text"] == text)
}

async fn agent_of(srv: &TestServer, conv: &str) -> Option<String> {
    let c = srv.store.conversation(conv.parse().unwrap()).await.unwrap();
    c.agent_id.map(|a| a.to_string())
}

#[tokio::test]
async fn supervisors_reassign_take_over_set_status_and_close_each_audited_and_shown() {
    let srv = TestServer::start().await;
    let sue = srv.agent("sue", Role::Supervisor, &[], 3).await;
    let ann = srv.agent("ann", Role::Agent, &["pre-sales"], 3).await;
    let bob = srv.agent("bob", Role::Agent, &["pre-sales"], 3).await;
    let cid = srv.agent("cid", Role::Agent, &["after-sales"], 3).await;
    let dee = srv.agent("dee", Role::Agent, &["pre-sales"], 3).await;
    let _sup_desk = srv.agent_ws(&sue).await;
    let mut ann_desk = srv.agent_ws(&ann).await;
    let mut bob_desk = srv.agent_ws(&bob).await;
    let mut cid_desk = srv.agent_ws(&cid).await;

    let (_shopper, _, conv) = shopper_opens(&srv, "my order is late").await;
    assert_eq!(
        accept_offer(&mut ann_desk).await,
        conv,
        "ann is offered it first"
    );
    agents_are_refused(&srv, &ann, &conv, &bob.id).await;
    let refused = audited(&srv, &sue, Some(&conv), "reassign").await;
    assert_eq!(
        refused[0]["result"], "refused",
        "a refused attempt is audited too"
    );

    // Reassign an assigned conversation to another agent, with a note.
    let (code, body) = srv
        .post(
            &format!("/api/v1/conversations/{conv}/reassign"),
            &sue.token,
            json!({"agent_id": bob.id, "note": "VIP: be gentle"}),
        )
        .await;
    assert_eq!(code, 204, "{body}");
    assert_eq!(agent_of(&srv, &conv).await, Some(bob.id.clone()));
    agent_until(&mut bob_desk, |k| match k {
        Out::Event(e)
            if e.conversation_id == conv && matches!(e.kind, Some(Ev::Transferred(_))) =>
        {
            Some(())
        }
        _ => None,
    })
    .await;
    let messages = history(&srv, &sue, &conv).await;
    assert!(
        has_activity(
            &messages,
            "Agent sue transferred the conversation to Agent bob"
        ),
        "the activity names the supervisor: {messages:#?}"
    );
    assert!(
        messages
            .iter()
            .any(|m| m["body"]["type"] == "private_note" && m["body"]["text"] == "VIP: be gentle"),
        "the note is kept as a private note"
    );
    let done = audited(&srv, &sue, Some(&conv), "reassign").await;
    assert_eq!(done[0]["result"], "ok", "{done:#?}");
    assert_eq!(done[0]["actor_id"], sue.id.as_str());

    // Take it over.
    let path = format!("/api/v1/conversations/{conv}/take-over");
    let (code, body) = srv.post(&path, &sue.token, json!({})).await;
    assert_eq!(code, 204, "{body}");
    assert_eq!(agent_of(&srv, &conv).await, Some(sue.id.clone()));
    let (code, _) = srv.post(&path, &sue.token, json!({})).await;
    assert_eq!(code, 409, "it is hers already");
    let messages = history(&srv, &sue, &conv).await;
    assert!(has_activity(
        &messages,
        "Agent sue took over the conversation"
    ));
    assert_eq!(
        audited(&srv, &sue, Some(&conv), "take_over").await[1]["result"],
        "ok",
        "the first take-over is audited as done (the second as refused)"
    );

    // A waiting conversation: to another group, then to one of its agents.
    let (_second, _, waiting) = shopper_opens(&srv, "a return please").await;
    let reassign = format!("/api/v1/conversations/{waiting}/reassign");
    let (code, body) = srv
        .post(&reassign, &sue.token, json!({"group": "after-sales"}))
        .await;
    assert_eq!(code, 204, "{body}");
    let moved = srv
        .store
        .conversation(waiting.parse().unwrap())
        .await
        .unwrap();
    assert_eq!(moved.group, "after-sales");
    let (code, body) = srv
        .post(&reassign, &sue.token, json!({"agent_id": dee.id}))
        .await;
    assert_eq!(code, 409, "dee is not connected: {body}");
    let (code, body) = srv
        .post(
            &reassign,
            &sue.token,
            json!({"agent_id": cid.id, "note": "for you"}),
        )
        .await;
    assert_eq!(code, 204, "{body}");
    assert_eq!(agent_of(&srv, &waiting).await, Some(cid.id.clone()));
    let messages = history(&srv, &sue, &waiting).await;
    assert!(has_activity(
        &messages,
        "Agent sue transferred the conversation to after-sales"
    ));
    assert!(has_activity(
        &messages,
        "Agent sue assigned the conversation to Agent cid"
    ));
    let entries = audited(&srv, &sue, Some(&waiting), "reassign").await;
    let results: Vec<&str> = entries
        .iter()
        .map(|e| e["result"].as_str().unwrap())
        .collect();
    assert_eq!(results, ["ok", "refused", "ok"], "newest first");

    // Bad requests and unknown ids.
    let (code, _) = srv
        .post(
            &reassign,
            &sue.token,
            json!({"agent_id": bob.id, "group": "pre-sales"}),
        )
        .await;
    assert_eq!(code, 400, "one target at a time");
    let unknown = uuid::Uuid::now_v7();
    for (path, body) in [
        (
            format!("/api/v1/conversations/{unknown}/reassign"),
            json!({"group": "pre-sales"}),
        ),
        (
            format!("/api/v1/conversations/{unknown}/whisper"),
            json!({"text": "x", "client_msg_id": "w-unknown"}),
        ),
        (
            format!("/api/v1/conversations/{unknown}/take-over"),
            json!({}),
        ),
        (
            format!("/api/v1/agents/{unknown}/status"),
            json!({"status": "away"}),
        ),
        (
            format!("/api/v1/conversations/{conv}/reassign"),
            json!({"agent_id": unknown}),
        ),
    ] {
        let (code, answer) = srv.post(&path, &sue.token, body).await;
        assert_eq!(code, 404, "{path}: {answer}");
    }

    // Set an agent's status: its own desk hears it.
    let status = format!("/api/v1/agents/{}/status", ann.id);
    let (code, _) = srv
        .post(&status, &sue.token, json!({"status": "busy"}))
        .await;
    assert_eq!(code, 400, "online, away or offline");
    let (code, body) = srv
        .post(&status, &sue.token, json!({"status": "away"}))
        .await;
    assert_eq!(code, 204, "{body}");
    let told = agent_until(&mut ann_desk, |k| match k {
        Out::Presence(p) if p.agent_id == ann.id => Some(p.status),
        _ => None,
    })
    .await;
    assert_eq!(told, pb::AgentStatus::Away as i32, "ann's desk shows away");
    let (code, _) = srv
        .post(
            &format!("/api/v1/agents/{}/status", dee.id),
            &sue.token,
            json!({"status": "away"}),
        )
        .await;
    assert_eq!(code, 409, "dee is not connected");
    let entries = audited(&srv, &sue, None, "set_agent_status").await;
    assert!(
        entries
            .iter()
            .any(|e| e["target"] == ann.id.as_str() && e["result"] == "ok"),
        "{entries:#?}"
    );

    // Close someone else's conversation.
    let (code, body) = srv
        .post(
            &format!("/api/v1/conversations/{waiting}/close"),
            &sue.token,
            json!({}),
        )
        .await;
    assert_eq!(code, 204, "{body}");
    agent_until(&mut cid_desk, |k| match k {
        Out::Event(e) if e.conversation_id == waiting && matches!(e.kind, Some(Ev::Closed(_))) => {
            Some(())
        }
        _ => None,
    })
    .await;
    assert!(has_activity(
        &history(&srv, &sue, &waiting).await,
        "Conversation closed"
    ));
    let closed = audited(&srv, &sue, Some(&waiting), "close").await;
    assert_eq!(closed.len(), 1, "{closed:#?}");
    assert_eq!(closed[0]["result"], "ok");
}

/// A webhook receiver keeping every body it gets.
#[derive(Clone, Default)]
struct Receiver {
    bodies: Arc<Mutex<Vec<String>>>,
}

async fn receive(State(r): State<Receiver>, body: Bytes) -> &'static str {
    r.bodies
        .lock()
        .unwrap()
        .push(String::from_utf8_lossy(&body).into());
    "ok"
}

impl Receiver {
    async fn start() -> (Self, String) {
        let me = Self::default();
        let app = Router::new()
            .route("/hook", post(receive))
            .with_state(me.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (me, url)
    }

    fn bodies(&self) -> Vec<String> {
        self.bodies.lock().unwrap().clone()
    }
}

const WHISPER: &str = "refund them quietly";

fn is_whisper(m: &pb::Message) -> bool {
    matches!(
        m.body.as_ref().and_then(|b| b.kind.as_ref()),
        Some(pb::message_body::Kind::PrivateNote(n)) if n.text == WHISPER
    )
}

#[tokio::test]
async fn a_whisper_reaches_the_agent_and_never_the_shopper() {
    let (hooks, url) = Receiver::start().await;
    let srv = TestServer::start_with(|s| {
        s.webhooks
            .push(WebhookSettings::new("crm", url, "whsec-0123456789-abcdef"))
    })
    .await;
    let sue = srv.agent("sue", Role::Supervisor, &[], 3).await;
    let ann = srv.agent("ann", Role::Agent, &["pre-sales"], 3).await;
    let mut desk = srv.agent_ws(&ann).await;
    let (mut shopper, visitor, conv) = shopper_opens(&srv, "can I get a refund?").await;
    accept_offer(&mut desk).await;

    let path = format!("/api/v1/conversations/{conv}/whisper");
    let (code, _) = srv
        .post(
            &path,
            &ann.token,
            json!({"text": WHISPER, "client_msg_id": "w1"}),
        )
        .await;
    assert_eq!(code, 403, "agents do not whisper");
    let (code, _) = srv
        .post(
            &path,
            &sue.token,
            json!({"text": "  ", "client_msg_id": "w0"}),
        )
        .await;
    assert_eq!(code, 400, "a blank whisper");
    let (code, _) = srv
        .post(
            &path,
            &sue.token,
            json!({"text": "a\u{0}b", "client_msg_id": "w0"}),
        )
        .await;
    assert_eq!(
        code, 400,
        "a NUL, which PostgreSQL cannot store, is bad input"
    );
    let (code, note) = srv
        .post(
            &path,
            &sue.token,
            json!({"text": WHISPER, "client_msg_id": "w1"}),
        )
        .await;
    assert_eq!(code, 200, "{note}");
    assert_eq!(
        note["body"],
        json!({"type": "private_note", "text": WHISPER})
    );
    assert_eq!(note["sender_id"], sue.id.as_str());
    let (_, again) = srv
        .post(
            &path,
            &sue.token,
            json!({"text": WHISPER, "client_msg_id": "w1"}),
        )
        .await;
    assert_eq!(again["id"], note["id"], "a resend is the same note");
    let heard = agent_until(&mut desk, |k| match k {
        Out::Message(m) if is_whisper(m) => Some(m.clone()),
        _ => None,
    })
    .await;
    assert_eq!(heard.sender.unwrap().id, sue.id, "from the supervisor");

    // The agent answers in public after it: the shopper gets that, never the whisper.
    desk.say(&conv, "after", "we can refund it").await;
    let live = shopper
        .recv_until(|k| match k {
            Out::Message(m) if is_whisper(m) => panic!("the whisper reached the shopper"),
            Out::Message(m) if text_of(m) == Some("we can refund it") => Some(m.seq),
            _ => None,
        })
        .await;
    let rest = shopper.frames_until_heartbeat(7).await;
    assert!(
        !rest
            .iter()
            .any(|k| matches!(k, Out::Message(m) if is_whisper(m))),
        "nor later"
    );
    // A resume on a new socket replays everything the shopper may see, without it.
    let mut shopper = srv.shopper_ws(&visitor).await;
    shopper
        .send(In::Resume(pb::Resume {
            conversation_id: conv.clone(),
            last_seq: 0,
        }))
        .await;
    let mut replayed = Vec::new();
    shopper
        .recv_until(|k| match k {
            Out::Message(m) => {
                replayed.push(m.clone());
                None
            }
            Out::ResumeDone(_) => Some(()),
            _ => None,
        })
        .await;
    assert!(
        replayed.iter().any(|m| m.seq == live),
        "the replay has the public reply"
    );
    assert!(
        !replayed.iter().any(is_whisper),
        "a resume never replays the whisper"
    );
    // Nor the shopper's REST history.
    let (code, page) = srv
        .get(
            &format!("/api/v1/conversations/{conv}/messages?after_seq=0&limit=200"),
            &visitor.token,
        )
        .await;
    assert_eq!(code, 200, "{page}");
    let texts = page.to_string();
    assert!(texts.contains("we can refund it") && !texts.contains(WHISPER));
    // Nor webhooks: the public reply after it is delivered, the whisper is not.
    eventually("the public reply's webhook", || async {
        hooks
            .bodies()
            .iter()
            .any(|b| b.contains("we can refund it"))
            .then_some(())
    })
    .await;
    assert!(
        hooks.bodies().iter().all(|b| !b.contains(WHISPER)),
        "a webhook carried the whisper"
    );
    let entries = audited(&srv, &sue, Some(&conv), "whisper").await;
    let results: Vec<&str> = entries
        .iter()
        .map(|e| e["result"].as_str().unwrap())
        .collect();
    assert_eq!(
        results,
        ["ok", "ok", "refused", "refused", "refused"],
        "every attempt, newest first"
    );
}

/// Cluster mode: the supervisor's node and the agent's are different (and at most one of
/// them runs the router). The floor follows the agent, a status the supervisor sets
/// through its own node reaches the agent's desk and holds, and the agent changing it back
/// at once is seen too.
#[tokio::test]
async fn in_a_cluster_the_floor_follows_an_agent_on_another_node() {
    let Some(db) = TestDatabase::create() else {
        eprintln!("skipped: cluster mode needs TEST_POSTGRES_URL");
        return;
    };
    let nats = NatsCluster::start(1);
    let base = KefuCommand::new().test_site().database(db).log_to_file();
    let node = |i: usize| {
        base.clone().config(format!(
            "[cluster]\nnats_url = \"{}\"\nnode = \"floor{i}\"\n",
            nats.url()
        ))
    };
    let first = node(0)
        .admin("admin", PASSWORD)
        .start()
        .expect("a kefu node starts");
    let second = node(1).start().expect("a second kefu node starts");
    let admin = first.login("admin", PASSWORD).await;
    let supervisor = AgentSpec {
        role: "supervisor".into(),
        ..AgentSpec::agent("sue", &[])
    };
    let sue = first.add_agent(&admin, &supervisor).await;
    let ann = first
        .add_agent(&admin, &AgentSpec::agent("ann", &["pre-sales"]))
        .await;

    let mut sup = second.agent_ws(&sue).await;
    floor_where(&mut sup, "ann offline", |f| {
        status(f, &ann.id) == pb::AgentStatus::Offline
    })
    .await;
    let mut desk = first.agent_ws(&ann).await;
    floor_where(&mut sup, "ann online on the other node", |f| {
        status(f, &ann.id) == pb::AgentStatus::Online
    })
    .await;
    let (_shopper, _, conv) = shopper_opens(&first, "hello from node 0").await;
    assert_eq!(accept_offer(&mut desk).await, conv);
    floor_where(&mut sup, "ann holding it, nobody waiting", |f| {
        agent(f, &ann.id).active == 1 && queue(f, "pre-sales").waiting == 0
    })
    .await;

    let path = format!("/api/v1/agents/{}/status", ann.id);
    let (code, body) = second
        .post(&path, &sue.token, json!({"status": "away"}))
        .await;
    assert_eq!(code, 204, "{body}");
    let told = agent_until(&mut desk, |k| match k {
        Out::Presence(p) if p.agent_id == ann.id => Some(p.status),
        _ => None,
    })
    .await;
    assert_eq!(told, pb::AgentStatus::Away as i32, "her desk shows away");
    floor_where(&mut sup, "ann away", |f| {
        status(f, &ann.id) == pb::AgentStatus::Away
    })
    .await;
    desk.send(In::SetStatus(pb::SetStatus {
        status: pb::AgentStatus::Online as i32,
    }))
    .await;
    floor_where(&mut sup, "ann online again, as she set it herself", |f| {
        status(f, &ann.id) == pb::AgentStatus::Online
    })
    .await;
    drop(desk);
    floor_where(&mut sup, "ann offline once her socket closed", |f| {
        status(f, &ann.id) == pb::AgentStatus::Offline
    })
    .await;
    drop((first, second, nats));
}
