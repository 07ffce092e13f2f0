//! The hub's frames to and from the other nodes.
//!
//! Subjects: `kefu.visitor.<id>` (every tab of one shopper), `kefu.agent.<id>` (every
//! device of one agent), `kefu.watchers` (supervisors and admins, who see every
//! conversation), `kefu.control` (close these sockets). A frame for a conversation goes to
//! its shopper's and agents' subjects, so a node subscribes for the people whose sockets it
//! holds — the hub says when the first one opens and the last one closes — and hears
//! nothing else.
//!
//! Publishing never waits: frames queue for one publisher task (which keeps their order)
//! and are dropped, counted, if that queue is full; the writer waits for [`Remote::published`]
//! before acking. Delivery is at-most-once: a socket that sees a gap in a conversation's
//! `seq` reads the missing messages from the database (`gateway::ws`).

use std::{
    collections::HashMap,
    str::FromStr,
    sync::{Arc, Weak},
};

use async_nats::{HeaderMap, Subscriber, client::RequestErrorKind};
use bytes::Bytes;
use futures_util::StreamExt;
use tokio::{
    sync::{mpsc, oneshot},
    task::AbortHandle,
};
use uuid::Uuid;

use crate::sessions::hub::{Disconnect, Hub, Interest, Outbound, Recipients, Remote};

/// Frames waiting for the publisher task.
const QUEUE: usize = 64 * 1024;
const CONTROL: &str = "kefu.control";
const WATCHERS: &str = "kefu.watchers";
/// Nobody subscribes here: a request to it is a round trip to the NATS server.
const SETTLE: &str = "kefu.settle";
/// `<conversation>:<seq>` of a stored message, for the receiving socket's resume filter.
const SEQ_HEADER: &str = "Kefu-Seq";
/// On `kefu.watchers`: the agents the frame also went to by their own subject, so a
/// supervisor among them does not get it twice.
const AGENTS_HEADER: &str = "Kefu-Agents";

/// What the publisher task is asked, in order.
enum Outgoing {
    Frame {
        subject: String,
        headers: HeaderMap,
        payload: Bytes,
    },
    /// Answer once every frame before this one is with the NATS server.
    Flush(oneshot::Sender<()>),
}

pub(super) struct Fanout {
    out: mpsc::Sender<Outgoing>,
    interest: mpsc::UnboundedSender<Change>,
}

/// What the subscription task is asked, in order.
enum Change {
    Interest(Interest, bool),
    /// Answer once the subscriptions asked for so far are known to the NATS server.
    Settled(oneshot::Sender<()>),
}

fn subject(who: Interest) -> String {
    match who {
        Interest::Visitor(v) => format!("kefu.visitor.{v}"),
        Interest::Agent(a) => format!("kefu.agent.{a}"),
        Interest::Watchers => WATCHERS.to_string(),
    }
}

impl Fanout {
    pub(super) fn start(client: async_nats::Client, hub: &Arc<Hub>) -> Arc<Self> {
        let (out, rx) = mpsc::channel::<Outgoing>(QUEUE);
        tokio::spawn(publish(client.clone(), rx));
        let (interest, rx) = mpsc::unbounded_channel::<Change>();
        tokio::spawn(subscriptions(client, Arc::downgrade(hub), rx));
        Arc::new(Self { out, interest })
    }

    fn send(&self, subject: String, headers: HeaderMap, payload: Bytes) {
        let m = Outgoing::Frame {
            subject,
            headers,
            payload,
        };
        if self.out.try_send(m).is_err() {
            metrics::counter!("kefu_cluster_frames_dropped_total").increment(1);
        }
    }
}

impl Remote for Fanout {
    fn publish(&self, to: &Recipients<'_>, out: &Outbound) {
        let mut headers = HeaderMap::new();
        if let Some((conv, seq)) = out.seq {
            headers.insert(SEQ_HEADER, format!("{conv}:{seq}").as_str());
        }
        if let Some(v) = to.visitor {
            self.send(
                subject(Interest::Visitor(v)),
                headers.clone(),
                out.frame.clone(),
            );
        }
        for a in to.agents {
            self.send(
                subject(Interest::Agent(*a)),
                headers.clone(),
                out.frame.clone(),
            );
        }
        if to.watchers {
            let agents: Vec<String> = to.agents.iter().map(Uuid::to_string).collect();
            headers.insert(AGENTS_HEADER, agents.join(",").as_str());
            self.send(WATCHERS.to_string(), headers, out.frame.clone());
        }
    }

    fn interest(&self, who: Interest, on: bool) {
        let _ = self.interest.send(Change::Interest(who, on));
    }

    fn published(&self) -> oneshot::Receiver<()> {
        let (tx, rx) = oneshot::channel();
        // Full queue: the frames before were dropped (counted); nothing to wait for.
        if let Err(mpsc::error::TrySendError::Full(Outgoing::Flush(tx))) =
            self.out.try_send(Outgoing::Flush(tx))
        {
            let _ = tx.send(());
        }
        rx
    }

    fn settled(&self) -> oneshot::Receiver<()> {
        let (tx, rx) = oneshot::channel();
        let _ = self.interest.send(Change::Settled(tx));
        rx
    }

    fn disconnect(&self, what: Disconnect) {
        match serde_json::to_vec(&what) {
            Ok(json) => self.send(CONTROL.into(), HeaderMap::new(), json.into()),
            Err(e) => tracing::error!(error = %e, "encoding a disconnect"),
        }
    }
}

/// Publishes queued frames in order. Whoever waits for a flush is answered after one flush
/// for everything taken from the queue with it: under load one round trip serves many
/// writer batches instead of one each.
async fn publish(client: async_nats::Client, mut rx: mpsc::Receiver<Outgoing>) {
    let mut taken = Vec::with_capacity(256);
    let mut waiting = Vec::new();
    while rx.recv_many(&mut taken, 256).await > 0 {
        for m in taken.drain(..) {
            match m {
                Outgoing::Frame {
                    subject,
                    headers,
                    payload,
                } => {
                    if let Err(e) = client.publish_with_headers(subject, headers, payload).await {
                        tracing::warn!(error = %e, "publishing to the cluster");
                    }
                }
                Outgoing::Flush(done) => waiting.push(done),
            }
        }
        if !waiting.is_empty() {
            if let Err(e) = client.flush().await {
                tracing::warn!(error = %e, "flushing frames to the cluster");
            }
            waiting.drain(..).for_each(|done| {
                let _ = done.send(());
            });
        }
    }
}

/// Keeps one subscription per interest the hub announced, in the order announced.
async fn subscriptions(
    client: async_nats::Client,
    hub: Weak<Hub>,
    mut rx: mpsc::UnboundedReceiver<Change>,
) {
    match client.subscribe(CONTROL).await {
        Ok(sub) => {
            tokio::spawn(control(sub, hub.clone()));
        }
        Err(e) => tracing::error!(error = %e, "subscribing to cluster control"),
    }
    let mut subs: HashMap<Interest, AbortHandle> = HashMap::new();
    while let Some(change) = rx.recv().await {
        let (who, on) = match change {
            Change::Interest(who, on) => (who, on),
            Change::Settled(done) => {
                // The server answers a request nobody serves itself ("no responders"), once
                // it has read everything this connection sent before: the SUBs too. (A
                // flush only writes them to the socket.) Bounded: NATS may be away.
                let asked = client.request(SETTLE, Bytes::new());
                match tokio::time::timeout(std::time::Duration::from_secs(2), asked).await {
                    Ok(Err(e)) if e.kind() != RequestErrorKind::NoResponders => {
                        tracing::warn!(error = %e, "settling subscriptions");
                    }
                    Err(_) => tracing::warn!("settling subscriptions: no answer from NATS"),
                    Ok(_) => {}
                }
                let _ = done.send(());
                continue;
            }
        };
        if !on {
            if let Some(task) = subs.remove(&who) {
                task.abort(); // dropping the subscriber unsubscribes
            }
            continue;
        }
        if subs.contains_key(&who) {
            continue;
        }
        match client.subscribe(subject(who)).await {
            Ok(sub) => {
                let task = tokio::spawn(deliver(sub, who, hub.clone()));
                subs.insert(who, task.abort_handle());
            }
            Err(e) => tracing::error!(error = %e, ?who, "subscribing for a socket"),
        }
    }
}

/// Delivers another node's frames for `who` to the sockets here.
async fn deliver(mut sub: Subscriber, who: Interest, hub: Weak<Hub>) {
    while let Some(msg) = sub.next().await {
        let Some(hub) = hub.upgrade() else { return };
        let header = |name: &str| {
            msg.headers
                .as_ref()
                .and_then(|h| h.get(name))
                .map(|v| v.as_str().to_string())
        };
        let seq = header(SEQ_HEADER).and_then(|s| {
            let (conv, seq) = s.split_once(':')?;
            Some((Uuid::from_str(conv).ok()?, seq.parse().ok()?))
        });
        let out = Outbound {
            frame: msg.payload.clone(),
            seq,
        };
        match who {
            Interest::Visitor(v) => {
                let to = Recipients {
                    visitor: Some(v),
                    ..Default::default()
                };
                hub.deliver(&to, out, &[]);
            }
            Interest::Agent(a) => {
                let to = Recipients {
                    agents: &[a],
                    ..Default::default()
                };
                hub.deliver(&to, out, &[]);
            }
            Interest::Watchers => {
                let skip: Vec<Uuid> = header(AGENTS_HEADER)
                    .unwrap_or_default()
                    .split(',')
                    .filter_map(|a| Uuid::from_str(a).ok())
                    .collect();
                let to = Recipients {
                    watchers: true,
                    ..Default::default()
                };
                hub.deliver(&to, out, &skip);
            }
        }
    }
}

/// Closes the sockets other nodes ask to close (a logout, a block, a removed account).
async fn control(mut sub: Subscriber, hub: Weak<Hub>) {
    while let Some(msg) = sub.next().await {
        let Some(hub) = hub.upgrade() else { return };
        match serde_json::from_slice::<Disconnect>(&msg.payload) {
            Ok(what) => {
                let closed = hub.disconnect_here(what);
                tracing::info!(?what, closed, "sockets closed at another node's request");
            }
            Err(e) => tracing::warn!(error = %e, "unreadable cluster control message"),
        }
    }
}
