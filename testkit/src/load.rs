//! [`Shopper`]: a shopper writing into its conversation as the widget does — a window of
//! messages in flight, everything unacked sent again with the same ids after a failure —
//! through any of several kefu nodes, moving to the next one when its socket fails. What it
//! saw ([`Outcome`]) is checked against what the server stored with [`Outcome::check`]:
//! nothing acked is lost, nothing is stored twice, seqs have no gap, order holds.
//!
//! [`Listener`]: an agent's socket read as the desk reads it, noting the order the load's
//! messages arrive in; [`Heard::tally`] counts lost, duplicated and reordered deliveries
//! as kefu-bench does.

use std::{
    collections::HashMap,
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use futures_util::SinkExt;
use kefu_proto::v1::{
    self as pb, ClientEnvelope, client_envelope::Kind as In, conversation_event::Kind as Event,
    server_envelope::Kind as Out,
};
use prost::Message as _;
use tokio_tungstenite::tungstenite::Message;

use crate::{ORIGIN, Ws, text_msg};

/// One shopper's load.
#[derive(Clone)]
pub struct Shopper {
    /// Nodes to write through: the first one, then the next after each failure.
    pub nodes: Vec<SocketAddr>,
    pub token: String,
    pub conv: String,
    /// Messages to have acked in the end (`m0`, `m1`, …).
    pub messages: usize,
    /// Messages in flight at once.
    pub window: usize,
    /// Time between two new messages (none: as fast as acks come).
    pub every: Option<Duration>,
    /// Acks of new messages, over all shoppers sharing it.
    pub acked_total: Arc<AtomicUsize>,
}

/// What one shopper saw.
#[derive(Debug)]
pub struct Outcome {
    pub conv: String,
    /// Each message's seq as its ack said.
    pub acked: HashMap<String, u64>,
    /// Sends or sockets that failed (each was tried again).
    pub failures: usize,
    /// The longest time without any ack while messages were in flight.
    pub longest_gap: Duration,
}

impl Shopper {
    /// Writes until every message is acked.
    pub async fn run(self) -> Outcome {
        let mut acked = HashMap::new();
        let mut failures = 0;
        let mut pending: Vec<String> = Vec::new();
        let mut next = 0;
        let mut node = 0;
        let mut socket: Option<Ws> = None;
        let start = Instant::now();
        let mut last_ack = Instant::now();
        let mut longest_gap = Duration::ZERO;
        while acked.len() < self.messages {
            if !pending.is_empty() {
                longest_gap = longest_gap.max(last_ack.elapsed());
            }
            let Some(ws) = socket.as_mut() else {
                let addr = self.nodes[node % self.nodes.len()];
                match Ws::try_connect(addr, "shopper", &self.token, Some(ORIGIN)).await {
                    Ok(mut ws) => {
                        let mut sent = true;
                        for id in &pending {
                            sent &= self.send(&mut ws, id).await;
                        }
                        socket = sent.then_some(ws);
                    }
                    Err(_) => {
                        failures += 1;
                        node += 1;
                        tokio::time::sleep(Duration::from_millis(200)).await;
                    }
                }
                continue;
            };
            let mut open = true;
            while open && pending.len() < self.window && next < self.messages {
                if let Some(every) = self.every {
                    let due = start + every * next as u32;
                    if due > Instant::now() {
                        if pending.is_empty() {
                            tokio::time::sleep_until(due.into()).await;
                        } else {
                            break;
                        }
                    }
                }
                let id = format!("m{next}");
                open = self.send(ws, &id).await;
                pending.push(id);
                next += 1;
            }
            let wait = match (self.every, pending.is_empty()) {
                (Some(every), _) => every.min(Duration::from_secs(20)),
                (None, _) => Duration::from_secs(20),
            };
            let frame = match open {
                true => ws.next_within(wait).await,
                false => Ok(None),
            };
            match frame {
                Ok(Some(Out::Ack(a))) => {
                    last_ack = Instant::now();
                    pending.retain(|id| *id != a.client_msg_id);
                    match acked.insert(a.client_msg_id.clone(), a.seq) {
                        Some(first) => assert_eq!(
                            first, a.seq,
                            "a resend of {} is acked with its first seq",
                            a.client_msg_id
                        ),
                        None => {
                            self.acked_total.fetch_add(1, Ordering::SeqCst);
                        }
                    }
                }
                Ok(Some(Out::Error(e))) if acked.contains_key(&e.client_msg_id) => {}
                Ok(Some(Out::Error(e))) => {
                    // Not stored. As the widget does: hold, reconnect and send the whole
                    // outbox again in order (resending this one alone would put it after
                    // later ones still in flight).
                    assert!(
                        pending.contains(&e.client_msg_id),
                        "an error names the message that failed: {e:?}"
                    );
                    failures += 1;
                    socket = None;
                    node += 1;
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Ok(Some(Out::GoAway(_))) | Ok(None) => {
                    failures += 1;
                    socket = None;
                    node += 1;
                }
                Ok(Some(_)) => {}
                // Quiet for a while: with a pace that is normal, otherwise the socket is dead.
                Err(_) if self.every.is_some() && last_ack.elapsed() < Duration::from_secs(20) => {}
                Err(_) => {
                    failures += 1;
                    socket = None;
                    node += 1;
                }
            }
        }
        Outcome {
            conv: self.conv,
            acked,
            failures,
            longest_gap,
        }
    }

    /// Sends message `id`; false if the socket is gone.
    async fn send(&self, ws: &mut Ws, id: &str) -> bool {
        let text = text_msg(&self.conv, id, &format!("message {id}"));
        let frame = ClientEnvelope { kind: Some(text) }.encode_to_vec();
        ws.ws.send(Message::Binary(frame.into())).await.is_ok()
    }
}

/// Totals over many shoppers, as kefu-bench reports them.
#[derive(Debug, Default, PartialEq)]
pub struct Tally {
    pub lost: usize,
    pub duplicated: usize,
    pub reordered: usize,
}

impl Outcome {
    /// Compares what was acked with what is `stored` (`(client_msg_id, seq)`, by seq) in
    /// the conversation; other messages there (the opening one, routing's) are left out but
    /// for the seq check.
    pub fn tally(&self, stored: &[(String, u64)]) -> Tally {
        let mut tally = Tally::default();
        let mut seen: HashMap<&str, u64> = HashMap::new();
        for (id, seq) in stored {
            if seen.insert(id.as_str(), *seq).is_some() {
                tally.duplicated += 1;
            }
        }
        for (id, seq) in &self.acked {
            if seen.get(id.as_str()) != Some(seq) {
                tally.lost += 1;
            }
        }
        // Messages m0, m1, … must be stored in that order.
        let order: Vec<usize> = stored
            .iter()
            .filter_map(|(id, _)| id.strip_prefix('m')?.parse().ok())
            .collect();
        tally.reordered = order.windows(2).filter(|w| w[0] > w[1]).count();
        let seqs: Vec<u64> = stored.iter().map(|(_, s)| *s).collect();
        let gapless = seqs == (1..=stored.len() as u64).collect::<Vec<_>>();
        assert!(gapless, "seqs 1..n with no gap or repeat: {seqs:?}");
        assert_eq!(
            order.len(),
            self.acked.len() + tally.duplicated,
            "the conversation holds each message acked"
        );
        tally
    }
}

/// An agent's socket read as the desk reads it: a conversation it is assigned is resumed
/// from its start, and the load's messages (`m0`, `m1`, …) are noted in the order they
/// arrive.
pub struct Listener {
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<Heard>,
}

/// What a [`Listener`] heard: per conversation, the load's message numbers in arrival order.
#[derive(Debug, Default)]
pub struct Heard {
    pub arrived: HashMap<String, Vec<usize>>,
    /// Whether the socket closed before the listener was stopped.
    pub closed: bool,
}

impl Listener {
    pub fn start(mut ws: Ws) -> Self {
        let (stop, mut stopped) = tokio::sync::oneshot::channel();
        let task = tokio::spawn(async move {
            let mut heard = Heard::default();
            let mut beat = Instant::now();
            while stopped.try_recv().is_err() {
                if beat.elapsed() > Duration::from_secs(5) {
                    beat = Instant::now();
                    let at_ms = 0;
                    ws.send(In::Heartbeat(pb::Heartbeat { at_ms })).await;
                }
                match ws.next_within(Duration::from_millis(200)).await {
                    Err(_) => {}
                    Ok(None) => {
                        heard.closed = true;
                        return heard;
                    }
                    Ok(Some(Out::Event(e))) if matches!(e.kind, Some(Event::Assigned(_))) => {
                        let resume = pb::Resume {
                            conversation_id: e.conversation_id,
                            last_seq: 0,
                        };
                        ws.send(In::Resume(resume)).await;
                    }
                    Ok(Some(Out::Message(m))) => {
                        if let Some(k) = m
                            .client_msg_id
                            .strip_prefix('m')
                            .and_then(|k| k.parse().ok())
                        {
                            heard.arrived.entry(m.conversation_id).or_default().push(k);
                        }
                    }
                    Ok(Some(_)) => {}
                }
            }
            heard
        });
        Self { stop, task }
    }

    /// Stops listening; what was heard.
    pub async fn stop(self) -> Heard {
        let _ = self.stop.send(());
        self.task.await.expect("the listener task")
    }
}

impl Heard {
    /// Compares what arrived in `conv` with the `messages` its shopper had acked: numbers
    /// that never arrived, arrived twice, or arrived after a higher one.
    pub fn tally(&self, conv: &str, messages: usize) -> Tally {
        let arrived = self
            .arrived
            .get(conv)
            .map(Vec::as_slice)
            .unwrap_or_default();
        let mut seen = vec![false; messages];
        let mut tally = Tally::default();
        let mut max = None;
        for &k in arrived {
            match seen.get_mut(k) {
                Some(true) => tally.duplicated += 1,
                Some(s) => *s = true,
                None => {}
            }
            if max.is_some_and(|m| k < m) {
                tally.reordered += 1;
            }
            max = max.max(Some(k));
        }
        tally.lost = seen.iter().filter(|s| !**s).count();
        tally
    }
}
