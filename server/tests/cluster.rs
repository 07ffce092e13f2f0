//! Cluster mode: three kefu nodes on one PostgreSQL database, joined by a three-server NATS
//! cluster, all real processes on 127.0.0.1 ports.
//!
//! - people on different nodes chat, type, read, transfer and resume as on one node; two
//!   tabs of one shopper writing through two nodes at once share one conversation;
//! - the router's node is killed (SIGKILL) while shoppers write: another node routes within
//!   5 s, every acked message is stored once, in order, agents hear each once and in
//!   order (counted as kefu-bench counts), and nothing is assigned twice;
//! - a NATS server dies under load: traffic goes on;
//! - a node is cut off from NATS (not from its clients): it turns not-ready, refuses work,
//!   its clients move to the other nodes, nothing is lost;
//! - every node is restarted in turn under load: nothing is lost;
//! - a node's frames are held up on their way to NATS while another node's overtake them:
//!   the agent still hears the conversation in seq order, each message once;
//! - an admin's change to an agent, made through a node without its sockets, holds after
//!   the router's node dies (the new router reads the account, not an old report).
//!
//! Runs in the PostgreSQL pass of `scripts/test.sh` (`TEST_POSTGRES_URL`); cluster mode
//! needs PostgreSQL. The scenarios take turns (each runs six servers and a load on two
//! cores).

mod common;

use std::{
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use common::*;
use kefu_proto::v1::{self as pb, client_envelope::Kind as In, server_envelope::Kind as Out};
use kefu_testkit::{
    NatsCluster, TestDatabase,
    load::{Listener, Outcome, Shopper, Tally},
    nats::Relay,
};
use serde_json::Value;

/// One scenario at a time: each is six servers and a load.
static TURN: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Three kefu nodes (`nodes[0]` started first, so it takes the router lease) and the NATS
/// cluster joining them.
struct Cluster {
    nats: NatsCluster,
    nodes: Vec<Option<KefuProcess>>,
    admin: String,
}

impl Cluster {
    /// Starts NATS and three kefu nodes; `nats_for(i)` is node i's `cluster.nats_url`.
    async fn start_with(nats: NatsCluster, nats_for: impl Fn(usize) -> String) -> Option<Self> {
        let db = TestDatabase::create()?;
        let base = KefuCommand::new()
            .test_site()
            .database(db)
            .log_to_file()
            .env("RUST_LOG", "warn,kefu_server=info,async_nats=info")
            .env("KEFU_ROUTING__AUTO_ACCEPT", "true");
        let mut nodes = Vec::new();
        for i in 0..3 {
            let mut cmd = base.clone().config(format!(
                "[cluster]\nnats_url = \"{}\"\nnode = \"k{i}\"\n",
                nats_for(i)
            ));
            if i == 0 {
                cmd = cmd.admin("admin", PASSWORD);
            }
            nodes.push(Some(cmd.start().expect("a kefu node starts")));
        }
        let admin = nodes[0].as_ref().unwrap().login("admin", PASSWORD).await;
        Some(Self { nats, nodes, admin })
    }

    /// Starts NATS and three nodes, node `relayed` reaching NATS through relays the test
    /// can cut or hold up (its clients reach it directly).
    async fn start_relayed(relayed: usize) -> (Self, Vec<Relay>) {
        let nats = NatsCluster::start(3);
        let mut relays = Vec::new();
        for i in 0..3 {
            relays.push(Relay::start(nats.addr(i)).await);
        }
        let direct = nats.url();
        let through: Vec<String> = relays
            .iter()
            .map(|r| format!("nats://{}", r.addr))
            .collect();
        let through = through.join(",");
        let nats_for = |i| match i == relayed {
            true => through.clone(),
            false => direct.clone(),
        };
        let c = Self::start_with(nats, nats_for).await.unwrap();
        (c, relays)
    }

    async fn start() -> Option<Self> {
        let nats = NatsCluster::start(3);
        let url = nats.url();
        Self::start_with(nats, |_| url.clone()).await
    }

    fn node(&self, i: usize) -> &KefuProcess {
        self.nodes[i].as_ref().expect("node running")
    }

    fn addrs(&self) -> Vec<SocketAddr> {
        (0..self.nodes.len()).map(|i| self.node(i).addr).collect()
    }

    /// The node that took the router lease first. Generous: the nodes start on a machine
    /// busy with the other tests' servers (once 15 s were not enough in a full run); the
    /// logs say why if it times out.
    async fn first_router(&self) -> usize {
        let first = async {
            loop {
                if let Some(r) = self.router().await {
                    return r;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        };
        tokio::time::timeout(Duration::from_secs(45), first)
            .await
            .unwrap_or_else(|_| panic!("no router after 45 s; logs:\n{}", self.logs()))
    }

    /// The node running the router now, if any says so.
    async fn router(&self) -> Option<usize> {
        for (i, node) in self.nodes.iter().enumerate() {
            if let Some(n) = node
                && metrics_of(n).await.contains("kefu_cluster_router 1")
            {
                return Some(i);
            }
        }
        None
    }

    async fn agent(&self, name: &str, capacity: i64) -> TestAgent {
        let mut spec = AgentSpec::agent(name, &["pre-sales"]);
        spec.capacity = Some(capacity);
        self.node(0).add_agent(&self.admin, &spec).await
    }

    /// Shoppers with an open conversation each, the i-th writing through node `i % 3`
    /// first; `per_second` messages a second each.
    async fn shoppers(&self, n: usize, messages: usize, per_second: u32) -> Load {
        let acked = Arc::new(AtomicUsize::new(0));
        let addrs = self.addrs();
        let mut tasks = Vec::new();
        for i in 0..n {
            let first = self.node(i % 3);
            let (_, visitor, conv) = shopper_opens(first, "hello").await;
            let mut nodes = addrs.clone();
            nodes.rotate_left(i % 3);
            let shopper = Shopper {
                nodes,
                token: visitor.token,
                conv,
                messages,
                window: 8,
                every: Some(Duration::from_secs(1) / per_second),
                acked_total: acked.clone(),
            };
            tasks.push(tokio::spawn(shopper.run()));
        }
        Load { acked, tasks }
    }

    /// Checks each outcome against the history, read through node `via`; returns totals.
    async fn tally(&self, outcomes: &[Outcome], via: usize) -> Tally {
        let mut total = Tally::default();
        for o in outcomes {
            let stored = self.node(via).stored_messages(&self.admin, &o.conv).await;
            let t = o.tally(&stored);
            total.lost += t.lost;
            total.duplicated += t.duplicated;
            total.reordered += t.reordered;
        }
        total
    }

    /// Checks the shoppers' outcomes against the history: 0 lost, 0 duplicated, 0 reordered.
    async fn assert_nothing_lost(&self, outcomes: &[Outcome], via: usize) {
        let tally = self.tally(outcomes, via).await;
        assert_eq!(
            tally,
            Tally::default(),
            "0 lost / 0 duplicated / 0 reordered"
        );
    }

    /// How many times routing assigned `conv` (its "joined" activity messages).
    async fn assignments(&self, conv: &str, via: usize) -> usize {
        let mut after = 0;
        let mut assigned = 0;
        loop {
            let path = format!("/api/v1/conversations/{conv}/messages?after_seq={after}&limit=200");
            let (status, page) = self.node(via).get(&path, &self.admin).await;
            assert_eq!(status, 200, "{page}");
            let messages = page["messages"].as_array().expect("messages");
            for m in messages {
                after = m["seq"].as_u64().expect("seq");
                if m["body"]["kind"] == "assigned" {
                    assigned += 1;
                }
            }
            if page["has_more"] != Value::Bool(true) {
                return assigned;
            }
        }
    }

    /// Awaits `step`, failing with the nodes' logs if it takes longer than [`WAIT`].
    async fn within<T>(&self, what: &str, step: impl std::future::Future<Output = T>) -> T {
        match tokio::time::timeout(WAIT, step).await {
            Ok(t) => t,
            Err(_) => panic!("{what}: timed out; logs:\n{}", self.logs()),
        }
    }

    /// `conv` is assigned to the agent on `agent`; the shopper writes, the agent hears it
    /// and answers, the shopper hears the answer.
    async fn converse(&self, shopper: &mut Ws, agent: &mut Ws, conv: &str) {
        let assigned = agent.recv_event(|e| {
            let yes = matches!(e.kind, Some(pb::conversation_event::Kind::Assigned(_)));
            (yes && e.conversation_id == conv).then_some(())
        });
        self.within("the agent is assigned the conversation", assigned)
            .await;
        shopper.say(conv, "s-live", "are you there?").await;
        let heard = agent.recv_message(|m| m.conversation_id == conv && is_shoppers(m));
        self.within("the agent hears the shopper", heard).await;
        let reply = agent.say(conv, "a-live", "yes, here").await;
        let answered = shopper.recv_message(|m| m.seq == reply.seq);
        self.within("the shopper hears the agent", answered).await;
    }

    fn logs(&self) -> String {
        let mut text = String::new();
        for (i, n) in self.nodes.iter().enumerate() {
            if let Some(n) = n {
                text += &format!("--- k{i}\n{}\n", n.log_tail(40));
            }
        }
        text
    }
}

/// Shoppers writing.
struct Load {
    acked: Arc<AtomicUsize>,
    tasks: Vec<tokio::task::JoinHandle<Outcome>>,
}

impl Load {
    async fn until_acked(&self, n: usize) {
        eventually("shoppers have written a while", || {
            let acked = self.acked.load(Ordering::SeqCst);
            async move { (acked >= n).then_some(()) }
        })
        .await;
    }

    async fn finish(self, cluster: &Cluster) -> Vec<Outcome> {
        let mut outcomes = Vec::new();
        for task in self.tasks {
            let outcome = tokio::time::timeout(Duration::from_secs(120), task)
                .await
                .unwrap_or_else(|_| {
                    panic!("every message acked in the end; logs:\n{}", cluster.logs())
                })
                .expect("a shopper task");
            outcomes.push(outcome);
        }
        outcomes
    }
}

/// A node's `/metrics` text (empty if it does not answer: it may be dead).
async fn metrics_of(node: &KefuProcess) -> String {
    let res = reqwest::Client::new()
        .get(node.url("/metrics"))
        .timeout(Duration::from_secs(5))
        .send()
        .await;
    match res {
        Ok(r) => r.text().await.unwrap_or_default(),
        Err(_) => String::new(),
    }
}

fn skipped() -> bool {
    let skip = kefu_testkit::postgres::server_url().is_none();
    if skip {
        eprintln!("skipped: cluster mode runs in the PostgreSQL pass of scripts/test.sh");
    }
    skip
}

fn is_shoppers(m: &pb::Message) -> bool {
    m.sender
        .as_ref()
        .is_some_and(|s| s.role == pb::Role::Shopper as i32)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn people_on_different_nodes_chat_type_read_transfer_and_resume() {
    if skipped() {
        return;
    }
    let _turn = TURN.lock().await;
    let c = Cluster::start().await.unwrap();
    let ana = c.agent("ana", 5).await;
    let bo = c.agent("bo", 5).await;
    // Ana on node 1, the shopper on node 0, the router wherever the lease is.
    let mut ana_ws = c.node(1).agent_ws(&ana).await;
    let (mut shopper, visitor, conv) = shopper_opens(c.node(0), "hello").await;
    let assigned = shopper
        .recv_event(|e| match &e.kind {
            Some(pb::conversation_event::Kind::Assigned(a)) => a.agent.clone(),
            _ => None,
        })
        .await;
    assert_eq!(
        assigned.id, ana.id,
        "the only agent online, on another node, got it"
    );

    shopper.say(&conv, "s1", "where is my order?").await;
    ana_ws
        .recv_message(|m| text_of(m) == Some("where is my order?"))
        .await;
    let reply = ana_ws.say(&conv, "a1", "checking, one moment").await;
    let got = shopper
        .recv_message(|m| text_of(m) == Some("checking, one moment"))
        .await;
    assert_eq!(got.seq, reply.seq);

    shopper.typing(&conv).await;
    let typing = ana_ws.recv_typing().await;
    assert!(typing.typing && typing.conversation_id == conv);
    ana_ws.read_up_to(&conv, reply.seq).await;
    let read = shopper.recv_read().await;
    assert_eq!(
        read.up_to_seq, reply.seq,
        "ana's read receipt crossed nodes"
    );

    // A transfer to Bo on node 2.
    let mut bo_ws = c.node(2).agent_ws(&bo).await;
    ana_ws
        .send(In::Transfer(pb::TransferConversation {
            conversation_id: conv.clone(),
            to_agent_id: bo.id.clone(),
            to_group: String::new(),
            note: "wants a refund".into(),
        }))
        .await;
    let to = bo_ws
        .recv_event(|e| match &e.kind {
            Some(pb::conversation_event::Kind::Transferred(t)) if e.conversation_id == conv => {
                Some(t.to_agent_id.clone())
            }
            _ => None,
        })
        .await;
    assert_eq!(to, bo.id);
    let from_bo = bo_ws.say(&conv, "b1", "Bo here, refund on its way").await;
    shopper.recv_message(|m| m.seq == from_bo.seq).await;

    // The shopper leaves node 0 and comes back on node 2: Bo's messages meanwhile arrive
    // by Resume, each once, and live traffic follows.
    drop(shopper);
    let b2 = bo_ws.say(&conv, "b2", "done").await;
    let b3 = bo_ws.say(&conv, "b3", "anything else?").await;
    let mut back = c.node(2).shopper_ws(&visitor).await;
    back.send(In::Resume(pb::Resume {
        conversation_id: conv.clone(),
        last_seq: from_bo.seq,
    }))
    .await;
    let mut replayed = Vec::new();
    loop {
        match back.next().await.expect("socket open") {
            Out::Message(m) => replayed.push(m.seq),
            Out::ResumeDone(_) => break,
            _ => {}
        }
    }
    assert_eq!(replayed, vec![b2.seq, b3.seq], "no gap, no duplicate");
    let b4 = bo_ws.say(&conv, "b4", "bye").await;
    let live = back.recv_message(|m| !is_shoppers(m)).await;
    assert_eq!(
        live.seq, b4.seq,
        "live messages follow the replay, none twice"
    );

    // Two tabs of one shopper write their first message at once through two nodes: one
    // conversation, not two (each node's own lock covers only itself; the schema decides).
    for i in 0..10 {
        let v = c.node(0).visitor().await;
        let mut tab1 = c.node(0).shopper_ws(&v).await;
        let mut tab2 = c.node(1).shopper_ws(&v).await;
        let (id1, id2) = (format!("tab1-{i}"), format!("tab2-{i}"));
        let (a1, a2) = tokio::join!(
            tab1.say("", &id1, "hi from tab 1"),
            tab2.say("", &id2, "hi from tab 2"),
        );
        assert_eq!(
            a1.conversation_id, a2.conversation_id,
            "both tabs write into one conversation"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_the_router_node_under_load_loses_nothing() {
    if skipped() {
        return;
    }
    let _turn = TURN.lock().await;
    let mut c = Cluster::start().await.unwrap();
    let router = c.first_router().await;
    // Agents on the other nodes take the conversations and hear them as the desk does.
    let others: Vec<usize> = (0..3).filter(|i| *i != router).collect();
    let mut agents = Vec::new();
    for (k, node) in others.iter().enumerate() {
        let a = c.agent(&format!("agent{k}"), 50).await;
        agents.push(Listener::start(c.node(*node).agent_ws(&a).await));
    }
    // 18 shoppers at 50 messages a second each: ~900 messages a second.
    let load = c.shoppers(18, 300, 50).await;
    load.until_acked(18 * 300 / 4).await;

    let killed_at = Instant::now();
    drop(c.nodes[router].take()); // SIGKILL
    let new_router = eventually("another node runs the router", || c.router()).await;
    let takeover = killed_at.elapsed();
    eprintln!("router k{router} killed; k{new_router} routes after {takeover:?}");
    assert_ne!(new_router, router);
    assert!(
        takeover < Duration::from_secs(5),
        "a new router within 5 s, took {takeover:?}"
    );

    let outcomes = load.finish(&c).await;
    let failures: usize = outcomes.iter().map(|o| o.failures).sum();
    let gap = outcomes.iter().map(|o| o.longest_gap).max().unwrap();
    eprintln!("failed sends or sockets: {failures}; longest wait for an ack: {gap:?}");
    assert!(
        failures > 0,
        "the kill hit shoppers writing through that node"
    );
    c.assert_nothing_lost(&outcomes, new_router).await;
    // Routing works on: a new conversation is assigned, once; none was assigned twice.
    let (mut shopper, _, conv) = shopper_opens(c.node(new_router), "after the kill").await;
    shopper
        .recv_event(|e| {
            matches!(e.kind, Some(pb::conversation_event::Kind::Assigned(_))).then_some(())
        })
        .await;
    for conv in outcomes.iter().map(|o| o.conv.clone()).chain([conv]) {
        assert_eq!(
            c.assignments(&conv, new_router).await,
            1,
            "{conv} assigned once"
        );
    }
    // The agents heard every message once and in order, though the shoppers who wrote
    // through the dead node moved: what it stored but had not published, and the moved
    // shoppers' frames that overtook the dead node's, come in their place in seq order.
    let mut heard = Vec::new();
    for agent in agents {
        heard.push(agent.stop().await);
    }
    let mut delivered = Tally::default();
    for o in &outcomes {
        let by = heard.iter().find(|h| h.arrived.contains_key(&o.conv));
        let t = by
            .expect("an agent heard each conversation")
            .tally(&o.conv, o.acked.len());
        delivered.lost += t.lost;
        delivered.duplicated += t.duplicated;
        delivered.reordered += t.reordered;
    }
    assert!(
        heard.iter().all(|h| !h.closed),
        "the agents' sockets stayed open"
    );
    assert_eq!(
        delivered,
        Tally::default(),
        "agents heard 0 lost / 0 duplicated / 0 reordered"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn losing_a_nats_server_under_load_loses_nothing() {
    if skipped() {
        return;
    }
    let _turn = TURN.lock().await;
    let mut c = Cluster::start().await.unwrap();
    let ana = c.agent("ana", 50).await;
    let mut ana_ws = c.node(1).agent_ws(&ana).await;
    let load = c.shoppers(12, 200, 50).await;
    load.until_acked(12 * 200 / 4).await;
    c.nats.kill(0);
    let outcomes = load.finish(&c).await;
    c.assert_nothing_lost(&outcomes, 1).await;
    // Live delivery across nodes goes on over the NATS servers left.
    let (mut shopper, _, conv) = shopper_opens(c.node(2), "still there?").await;
    c.converse(&mut shopper, &mut ana_ws, &conv).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_cut_off_from_nats_gives_its_clients_up() {
    if skipped() {
        return;
    }
    let _turn = TURN.lock().await;
    // Node 2 reaches NATS through relays the test can cut; its clients reach it directly.
    let (c, relays) = Cluster::start_relayed(2).await;
    let ana = c.agent("ana", 50).await;
    let mut ana_ws = c.node(0).agent_ws(&ana).await;
    let load = c.shoppers(12, 200, 50).await;
    load.until_acked(12 * 200 / 4).await;

    relays.iter().for_each(Relay::cut);
    let cut_off = c.node(2).addr;
    eventually("the cut-off node turns not-ready", || async {
        (c.node(2).readyz().await == 503).then_some(())
    })
    .await;
    // It refuses new sockets: shoppers go elsewhere.
    let v = c.node(2).visitor().await;
    let refused = Ws::try_connect(cut_off, "shopper", &v.token, Some(ORIGIN)).await;
    if let Ok(mut ws) = refused {
        assert_eq!(ws.go_away_code().await, pb::GoAwayCode::ShuttingDown);
    }

    let outcomes = load.finish(&c).await;
    c.assert_nothing_lost(&outcomes, 0).await;
    // Ana, on a connected node, heard the shoppers that moved.
    let (mut shopper, _, conv) = shopper_opens(c.node(1), "moved over").await;
    c.converse(&mut shopper, &mut ana_ws, &conv).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rolling_restart_under_load_loses_nothing() {
    if skipped() {
        return;
    }
    let _turn = TURN.lock().await;
    let mut c = Cluster::start().await.unwrap();
    let ana = c.agent("ana", 50).await;
    let _ana_ws = c.node(1).agent_ws(&ana).await;
    let load = c.shoppers(12, 400, 50).await;
    for i in 0..3 {
        load.until_acked(12 * 400 * (i + 1) / 5).await;
        let stopped = c.nodes[i].take().expect("running").terminate();
        let again = stopped.start().expect("the node starts again");
        c.nodes[i] = Some(again);
    }
    let outcomes = load.finish(&c).await;
    c.assert_nothing_lost(&outcomes, 0).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_held_up_between_nodes_arrives_in_its_place() {
    if skipped() {
        return;
    }
    let _turn = TURN.lock().await;
    // Node 0 reaches NATS through relays the test can hold up.
    let (c, relays) = Cluster::start_relayed(0).await;
    let ana = c.agent("ana", 5).await;
    let mut ana_ws = c.node(1).agent_ws(&ana).await;
    // One shopper with a tab on node 0 and one on node 2; Ana, on node 1, takes the chat
    // and resumes it from the start, as the desk does.
    let (mut tab0, visitor, conv) = shopper_opens(c.node(0), "hello").await;
    let assigned = ana_ws.recv_event(|e| {
        let yes = matches!(e.kind, Some(pb::conversation_event::Kind::Assigned(_)));
        (yes && e.conversation_id == conv).then_some(())
    });
    c.within("Ana is assigned the chat", assigned).await;
    ana_ws
        .send(In::Resume(pb::Resume {
            conversation_id: conv.clone(),
            last_seq: 0,
        }))
        .await;
    ana_ws
        .recv_until(|k| matches!(k, Out::ResumeDone(_)).then_some(()))
        .await;
    let mut tab2 = c.node(2).shopper_ws(&visitor).await;

    // Node 0 stores the first tab's message, but its frame waits on the way to NATS; the
    // second tab's message, through node 2, overtakes it.
    relays.iter().for_each(|r| r.hold(true));
    tab0.send_text(&conv, "held", "first").await;
    eventually("node 0 stored the first message", || async {
        let stored = c.node(2).stored_messages(&c.admin, &conv).await;
        stored.iter().any(|(id, _)| id == "held").then_some(())
    })
    .await;
    let second = tab2.say(&conv, "next", "second").await;
    let heard = ana_ws.recv_message(is_shoppers).await;
    assert_eq!(
        text_of(&heard),
        Some("first"),
        "the first message comes first, read from the database"
    );
    assert_eq!(ana_ws.recv_message(is_shoppers).await.seq, second.seq);

    // Let node 0's frames through: the first tab is acked, and the late frame is not
    // delivered to Ana a second time.
    relays.iter().for_each(|r| r.hold(false));
    tab0.recv_until(|k| matches!(k, Out::Ack(a) if a.client_msg_id == "held").then_some(()))
        .await;
    let third = tab2.say(&conv, "after", "third").await;
    assert_eq!(
        ana_ws.recv_message(is_shoppers).await.seq,
        third.seq,
        "nothing twice: the next message Ana hears is the third"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agents_new_capacity_survives_a_new_router() {
    if skipped() {
        return;
    }
    let _turn = TURN.lock().await;
    let mut c = Cluster::start().await.unwrap();
    let router = c.first_router().await;
    // Cy's desk on one node, the admin's change through another, the router on a third.
    let (desk, admin_via) = ((router + 1) % 3, (router + 2) % 3);
    let cy = c.agent("cy", 1).await;
    let mut cy_ws = c.node(desk).agent_ws(&cy).await;
    let status = c
        .node(admin_via)
        .patch(
            &format!("/api/v1/agents/{}", cy.id),
            &c.admin,
            serde_json::json!({"capacity": 2}),
        )
        .await;
    assert_eq!(status, 200);

    drop(c.nodes[router].take()); // SIGKILL
    eventually("another node runs the router", || c.router()).await;
    // Cy's node still reports Cy as signed in with room for one; the new router must use
    // the account's two.
    let mut chats = Vec::new();
    for text in ["first", "second"] {
        let (shopper, _, conv) = shopper_opens(c.node(desk), text).await;
        chats.push((shopper, conv));
    }
    let mut assigned = Vec::new();
    while assigned.len() < 2 {
        let step = cy_ws.recv_event(|e| {
            matches!(e.kind, Some(pb::conversation_event::Kind::Assigned(_)))
                .then(|| e.conversation_id.clone())
        });
        assigned.push(c.within("Cy gets both chats (capacity 2)", step).await);
    }
    assigned.sort();
    let mut opened: Vec<String> = chats.iter().map(|(_, conv)| conv.clone()).collect();
    opened.sort();
    assert_eq!(assigned, opened);
}
