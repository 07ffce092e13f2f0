//! Structured requests from a shopper and an agent, driven through a real kefu: the server
//! library on 127.0.0.1:0 with a temp SQLite database (`kefu_testkit::TestServer`, the
//! built-in plugins of the example config on), real WebSockets, the real socket loop,
//! `Sessions`, the writer and the router. One server and one runtime per fuzzing process
//! (starting one per input would take longer than the input); each input is a script of
//! requests whose conversation ids and client message ids point at ones seen before, so
//! the fuzzer reaches accept, transfer, resume and resend paths rather than only
//! "not a UUID".
//!
//! After each script every socket is drained up to the echo of a heartbeat sent last (the
//! server handles one socket's frames in order, so the echo means all were handled).
//!
//! Invariants: no panic anywhere in the server (libFuzzer aborts on any thread's panic);
//! every error frame is typed (a known `ErrorCode`, not `Unspecified` or `Internal`) with a
//! message; an ack names the message the store holds at that seq, and a resend of an acked
//! `client_msg_id` is acked with the same message (stored once); no connection receives the
//! same message twice; the server keeps answering.

#![no_main]

use std::{
    collections::{HashMap, HashSet},
    sync::{LazyLock, Mutex},
};

use arbitrary::Arbitrary;
use futures_util::SinkExt as _;
use kefu_proto::v1::{
    self as pb, client_envelope::Kind as In, message_body::Kind as Body,
    server_envelope::Kind as Out,
};
use kefu_server::store::Role;
use kefu_testkit::{TestAgent, TestServer, TestVisitor, Ws};
use libfuzzer_sys::fuzz_target;
use tokio_tungstenite::tungstenite::Message;
use uuid::Uuid;

/// Longest script per input: enough for open → offer → accept → transfer → close.
const MAX_STEPS: usize = 12;
/// Conversation and client message ids remembered for later steps to point at.
const REMEMBERED: usize = 16;

#[derive(Arbitrary, Debug)]
struct Step {
    who: Who,
    req: Req,
}

#[derive(Arbitrary, Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Who {
    Agent,
    ShopperA,
    ShopperB,
}

/// A conversation id: one seen before (most useful), none, or any text.
#[derive(Arbitrary, Debug)]
enum Conv {
    Known(u8),
    Empty,
    Raw(String),
}

/// A client message id: new, one sent before (a resend), or any text.
#[derive(Arbitrary, Debug)]
enum MsgId {
    Fresh,
    Again(u8),
    Raw(String),
}

#[derive(Arbitrary, Debug)]
enum BodySpec {
    None,
    Text(String),
    Note(String),
    Attachment(String),
    Product {
        id: String,
        title: String,
        price: i64,
        url: String,
    },
    Order {
        id: String,
        status: String,
        total: i64,
        items: u32,
        tracking: String,
    },
    Return {
        id: String,
        order: String,
        items: u32,
        refund: i64,
    },
    System {
        kind: String,
        text: String,
    },
}

#[derive(Arbitrary, Debug)]
enum Req {
    Send {
        conv: Conv,
        id: MsgId,
        body: BodySpec,
        group: String,
        url: String,
        title: String,
    },
    Resume {
        conv: Conv,
        last_seq: u64,
    },
    Typing {
        conv: Conv,
        typing: bool,
    },
    Read {
        conv: Conv,
        up_to: u64,
    },
    Status(i32),
    Accept(Conv),
    Decline(Conv),
    Transfer {
        conv: Conv,
        to: Option<Who>,
        group: String,
        note: String,
    },
    Close(Conv),
    Raw(Vec<u8>),
}

/// One client's socket and what it has been sent on it.
struct Client {
    ws: Ws,
    token: String,
    path: &'static str,
    delivered: HashSet<(String, u64)>,
}

struct Harness {
    rt: tokio::runtime::Runtime,
    srv: TestServer,
    agent: TestAgent,
    /// An agent that never connects: a transfer target that is offline.
    other_agent: TestAgent,
    clients: HashMap<Who, Client>,
    conversations: Vec<String>,
    msg_ids: Vec<String>,
    /// (sender, client_msg_id) → the message id its first ack named.
    acked: HashMap<(Who, String), String>,
    /// (conversation, seq) → message id, over every socket.
    seqs: HashMap<(String, u64), String>,
    heartbeat: i64,
}

static HARNESS: LazyLock<Mutex<Harness>> = LazyLock::new(|| Mutex::new(Harness::start()));

fuzz_target!(|steps: Vec<Step>| {
    let mut h = HARNESS.lock().unwrap_or_else(|p| p.into_inner());
    h.run(&steps[..steps.len().min(MAX_STEPS)]);
});

impl Harness {
    fn start() -> Self {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        let (srv, agent, other_agent, clients) = rt.block_on(async {
            let srv = TestServer::start_with(|s| {
                s.plugins = kefu_server::config::example_plugins();
                s.routing.offer_timeout_secs = 3600;
                // One server hears every input at hundreds per second from the same three
                // sockets: per-connection frame quotas and socket caps would soon close them
                // and refuse the reconnects. Those limits have their own tests
                // (server/tests/limits.rs); here they stay out of the way.
                let lavish = kefu_server::config::Rate::per_second(1_000_000, 1_000_000);
                let f = &mut s.limits.frames;
                (f.typing, f.read, f.heartbeat, f.request, f.refusals) =
                    (lavish, lavish, lavish, lavish, lavish);
                s.limits.visitor.max_sockets = 10_000;
                s.limits.agent.max_sockets = 10_000;
            })
            .await;
            let agent = srv
                .agent("fuzz-agent", Role::Agent, &["pre-sales"], 1000)
                .await;
            let other = srv
                .agent("fuzz-other", Role::Agent, &["pre-sales"], 1000)
                .await;
            let mut clients = HashMap::new();
            clients.insert(
                Who::Agent,
                Client::connect(&srv, "agent", agent.token.clone()).await,
            );
            for who in [Who::ShopperA, Who::ShopperB] {
                let v: TestVisitor = srv.visitor().await;
                clients.insert(who, Client::connect(&srv, "shopper", v.token).await);
            }
            (srv, agent, other, clients)
        });
        Self {
            rt,
            srv,
            agent,
            other_agent,
            clients,
            conversations: Vec::new(),
            msg_ids: Vec::new(),
            acked: HashMap::new(),
            seqs: HashMap::new(),
            heartbeat: 0,
        }
    }

    fn run(&mut self, steps: &[Step]) {
        let frames: Vec<(Who, Message, Option<String>)> = steps
            .iter()
            .map(|s| {
                let (frame, id) = self.frame(&s.req);
                (s.who, frame, id)
            })
            .collect();
        let rt = std::mem::replace(
            &mut self.rt,
            tokio::runtime::Builder::new_current_thread()
                .build()
                .expect("a placeholder runtime"),
        );
        rt.block_on(async {
            for (who, frame, id) in frames {
                if let Some(id) = id {
                    remember(&mut self.msg_ids, id);
                }
                let client = self.clients.get_mut(&who).expect("every client exists");
                if client.ws.ws.send(frame).await.is_err() {
                    client.reconnect(&self.srv).await;
                }
            }
            for who in [Who::Agent, Who::ShopperA, Who::ShopperB] {
                self.drain(who).await;
            }
        });
        self.rt = rt;
    }

    /// Reads `who`'s socket up to the echo of a fresh heartbeat, checking every frame.
    async fn drain(&mut self, who: Who) {
        self.heartbeat += 1;
        let mark = self.heartbeat;
        let hb = In::Heartbeat(pb::Heartbeat { at_ms: mark });
        let client = self.clients.get_mut(&who).expect("every client exists");
        let sent = client
            .ws
            .ws
            .send(Message::Binary(
                prost::Message::encode_to_vec(&pb::ClientEnvelope { kind: Some(hb) }).into(),
            ))
            .await;
        if sent.is_err() {
            client.reconnect(&self.srv).await;
            return;
        }
        loop {
            let client = self.clients.get_mut(&who).expect("every client exists");
            let Some(frame) = client.ws.next().await else {
                // The server closed it (a goodbye was checked below): a new socket.
                client.reconnect(&self.srv).await;
                return;
            };
            match frame {
                Out::Heartbeat(h) if h.at_ms == mark => return,
                Out::Ack(a) => self.check_ack(who, a).await,
                Out::Error(e) => check_error(&e),
                Out::Message(m) => self.check_message(who, m),
                Out::Event(e) => remember(&mut self.conversations, e.conversation_id),
                Out::GoAway(g) => assert!(
                    pb::GoAwayCode::try_from(g.code as i32).is_ok() && !g.reason.is_empty(),
                    "a goodbye is typed and says why: {g:?}"
                ),
                _ => {}
            }
        }
    }

    async fn check_ack(&mut self, who: Who, a: pb::Ack) {
        assert!(
            a.seq > 0 && !a.message_id.is_empty(),
            "an ack names its message: {a:?}"
        );
        let first = self
            .acked
            .entry((who, a.client_msg_id.clone()))
            .or_insert_with(|| a.message_id.clone());
        assert_eq!(
            *first, a.message_id,
            "a resend of {} is acked with the message stored the first time",
            a.client_msg_id
        );
        let conv = Uuid::parse_str(&a.conversation_id).expect("an ack's conversation is a UUID");
        let stored = self
            .srv
            .store
            .messages_after(conv, a.seq as i64 - 1, 1, true)
            .await
            .expect("the store answers");
        assert_eq!(
            stored.first().map(|m| m.id.to_string()),
            Some(a.message_id.clone()),
            "the acked message is stored at its seq"
        );
        remember(&mut self.conversations, a.conversation_id);
    }

    fn check_message(&mut self, who: Who, m: pb::Message) {
        let key = (m.conversation_id.clone(), m.seq);
        let client = self.clients.get_mut(&who).expect("every client exists");
        assert!(
            client.delivered.insert(key.clone()),
            "{who:?} got message {} of {} twice on one socket",
            m.seq,
            m.conversation_id
        );
        let first = self.seqs.entry(key).or_insert_with(|| m.id.clone());
        assert_eq!(*first, m.id, "one message per seq of a conversation");
        remember(&mut self.conversations, m.conversation_id);
    }

    fn conv(&self, c: &Conv) -> String {
        match c {
            Conv::Known(i) if !self.conversations.is_empty() => {
                self.conversations[*i as usize % self.conversations.len()].clone()
            }
            Conv::Known(_) | Conv::Empty => String::new(),
            Conv::Raw(s) => s.clone(),
        }
    }

    fn agent_id(&self, who: Option<Who>) -> String {
        match who {
            None => String::new(),
            Some(Who::Agent) => self.agent.id.clone(),
            Some(_) => self.other_agent.id.clone(),
        }
    }

    /// The frame a step sends, and the client message id it uses, if any.
    fn frame(&self, req: &Req) -> (Message, Option<String>) {
        let (kind, id) = match req {
            Req::Raw(bytes) => return (Message::Binary(bytes.clone().into()), None),
            Req::Send {
                conv,
                id,
                body,
                group,
                url,
                title,
            } => {
                let id = match id {
                    MsgId::Again(i) if !self.msg_ids.is_empty() => {
                        self.msg_ids[*i as usize % self.msg_ids.len()].clone()
                    }
                    MsgId::Fresh | MsgId::Again(_) => Uuid::new_v4().to_string(),
                    MsgId::Raw(s) => s.clone(),
                };
                let send = pb::SendMessage {
                    conversation_id: self.conv(conv),
                    client_msg_id: id.clone(),
                    body: body_of(body),
                    group: group.clone(),
                    context: Some(pb::PageContext {
                        url: url.clone(),
                        title: title.clone(),
                        ..Default::default()
                    }),
                };
                (In::Send(send), Some(id))
            }
            Req::Resume { conv, last_seq } => (
                In::Resume(pb::Resume {
                    conversation_id: self.conv(conv),
                    last_seq: *last_seq,
                }),
                None,
            ),
            Req::Typing { conv, typing } => (
                In::Typing(pb::Typing {
                    conversation_id: self.conv(conv),
                    typing: *typing,
                    who: None,
                }),
                None,
            ),
            Req::Read { conv, up_to } => (
                In::Read(pb::ReadReceipt {
                    conversation_id: self.conv(conv),
                    up_to_seq: *up_to,
                    who: None,
                }),
                None,
            ),
            Req::Status(s) => (In::SetStatus(pb::SetStatus { status: *s }), None),
            Req::Accept(c) => (
                In::Accept(pb::AcceptOffer {
                    conversation_id: self.conv(c),
                }),
                None,
            ),
            Req::Decline(c) => (
                In::Decline(pb::DeclineOffer {
                    conversation_id: self.conv(c),
                }),
                None,
            ),
            Req::Transfer {
                conv,
                to,
                group,
                note,
            } => (
                In::Transfer(pb::TransferConversation {
                    conversation_id: self.conv(conv),
                    to_agent_id: self.agent_id(*to),
                    to_group: group.clone(),
                    note: note.clone(),
                }),
                None,
            ),
            Req::Close(c) => (
                In::Close(pb::CloseConversation {
                    conversation_id: self.conv(c),
                }),
                None,
            ),
        };
        let bytes = prost::Message::encode_to_vec(&pb::ClientEnvelope { kind: Some(kind) });
        (Message::Binary(bytes.into()), id)
    }
}

impl Client {
    async fn connect(srv: &TestServer, path: &'static str, token: String) -> Self {
        Self {
            ws: srv_ws(srv, path, &token).await,
            token,
            path,
            delivered: HashSet::new(),
        }
    }

    /// A new socket with the same token (what a client does after a goodbye).
    async fn reconnect(&mut self, srv: &TestServer) {
        self.ws = srv_ws(srv, self.path, &self.token).await;
        self.delivered.clear();
    }
}

async fn srv_ws(srv: &TestServer, path: &str, token: &str) -> Ws {
    let origin = (path == "shopper").then_some(kefu_testkit::ORIGIN);
    Ws::connect(srv.addr, path, token, origin).await
}

fn check_error(e: &pb::Error) {
    let code = pb::ErrorCode::try_from(e.code).expect("a known error code");
    assert!(
        !matches!(code, pb::ErrorCode::Unspecified | pb::ErrorCode::Internal),
        "an error frame is typed, not {code:?}: {}",
        e.message
    );
    assert!(!e.message.is_empty(), "an error frame says why");
}

fn remember(list: &mut Vec<String>, id: String) {
    if id.is_empty() || list.contains(&id) {
        return;
    }
    if list.len() == REMEMBERED {
        list.remove(0);
    }
    list.push(id);
}

fn body_of(b: &BodySpec) -> Option<pb::MessageBody> {
    let kind = match b {
        BodySpec::None => return None,
        BodySpec::Text(t) => Body::Text(pb::Text { text: t.clone() }),
        BodySpec::Note(t) => Body::PrivateNote(pb::PrivateNote { text: t.clone() }),
        BodySpec::Attachment(id) => Body::Attachment(pb::AttachmentRef {
            attachment_id: id.clone(),
            ..Default::default()
        }),
        BodySpec::Product {
            id,
            title,
            price,
            url,
        } => Body::ProductCard(pb::ProductCard {
            product_id: id.clone(),
            title: title.clone(),
            price_minor: *price,
            currency: "CNY".into(),
            image_url: url.clone(),
            url: url.clone(),
        }),
        BodySpec::Order {
            id,
            status,
            total,
            items,
            tracking,
        } => Body::OrderCard(pb::OrderCard {
            order_id: id.clone(),
            status: status.clone(),
            total_minor: *total,
            currency: "CNY".into(),
            placed_at_ms: 0,
            item_count: *items,
            tracking_url: tracking.clone(),
        }),
        BodySpec::Return {
            id,
            order,
            items,
            refund,
        } => Body::ReturnCard(pb::ReturnCard {
            return_id: id.clone(),
            order_id: order.clone(),
            status: "requested".into(),
            item_count: *items,
            refund_minor: *refund,
            currency: "CNY".into(),
        }),
        BodySpec::System { kind, text } => Body::System(pb::SystemActivity {
            kind: kind.clone(),
            text: text.clone(),
        }),
    };
    Some(pb::MessageBody { kind: Some(kind) })
}
