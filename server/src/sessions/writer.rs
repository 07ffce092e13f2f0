//! The one message writer: batches appends into single transactions, then publishes each
//! stored message in commit order before answering its sender.
//!
//! Because publishing happens here, in one task, in commit order, every connection sees a
//! conversation's messages in `seq` order. The sender's `Ack` is sent only after the commit.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use tokio::sync::{mpsc, oneshot};

use super::hub::{Hub, Outbound, Recipients};
use crate::{
    events::{Event, EventSink},
    store::{AppendResult, NewMessage, SenderRole, Store, StoreError},
    wire,
};

/// Most messages committed in one transaction. A batch costs a page or two per conversation
/// it touches, so under heavy load larger batches share pages: at 512 the writer saturated
/// near 9,000 msg/s, at 2,048 it stores 10,000/s with p99 under 100 ms (docs/BENCHMARKS.md).
const MAX_BATCH: usize = 2048;

/// Longest an ack waits for its frames to reach NATS. A node cut off that long turns
/// not-ready; the message is stored all the same and other sockets fill the gap from the
/// database when the next message comes.
const PUBLISH_WAIT: Duration = Duration::from_secs(2);

struct Job {
    message: NewMessage,
    queued_at: Instant,
    reply: oneshot::Sender<Result<AppendResult, WriteError>>,
}

/// Why a message was not stored. None of these acknowledges it: a client keeps the message
/// in its outbox and resends it (stored once); Kefu's own activity entries are logged.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// The store failed the batch this message was in; none of the batch was stored.
    /// Shared, because one failure answers every message of the batch.
    #[error("storing failed: {0}")]
    Store(#[source] Arc<StoreError>),
    /// The writer no longer takes messages: the server is shutting down.
    #[error("server is shutting down")]
    ShuttingDown,
    /// The writer stopped before answering (its thread ended mid-batch).
    #[error("writer stopped")]
    Stopped,
}

/// Handle to the writer task.
#[derive(Clone)]
pub struct Writer {
    tx: mpsc::Sender<Job>,
}

impl Writer {
    /// Starts the writer. It stops when every handle is dropped, after draining its queue.
    /// Stored messages are also emitted to `events` (plugins, webhooks), after delivery.
    ///
    /// The writer runs on a thread of its own: on the shared runtime each of a batch's
    /// round trips to the database waited behind thousands of connection tasks (10k msg/s
    /// offered: 6 ms for a `begin`; on its own thread the ack p99 went 2.7 s → 0.4 s). The
    /// SQLite store now commits synchronously on this thread, which blocks nothing else.
    pub fn spawn(store: Arc<dyn Store>, hub: Arc<Hub>, events: EventSink) -> Self {
        let (tx, rx) = mpsc::channel(4 * MAX_BATCH);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("the writer's runtime needs only a thread and an epoll instance");
        std::thread::Builder::new()
            .name("kefu-writer".into())
            .spawn(move || runtime.block_on(run(rx, store, hub, events)))
            .expect("spawning the writer thread");
        Self { tx }
    }

    /// Stores a message; resolves once it is committed (and published), or with the reason
    /// it was not.
    pub async fn append(&self, message: NewMessage) -> Result<AppendResult, WriteError> {
        let (reply, done) = oneshot::channel();
        self.tx
            .send(Job {
                message,
                queued_at: Instant::now(),
                reply,
            })
            .await
            .map_err(|_| WriteError::ShuttingDown)?;
        done.await.map_err(|_| WriteError::Stopped)?
    }
}

async fn run(mut rx: mpsc::Receiver<Job>, store: Arc<dyn Store>, hub: Arc<Hub>, events: EventSink) {
    let mut jobs = Vec::with_capacity(MAX_BATCH);
    // Batches whose acks wait for their frames to reach NATS (cluster mode).
    let mut acking = tokio::task::JoinSet::new();
    while rx.recv_many(&mut jobs, MAX_BATCH).await > 0 {
        let (batch, waiting): (Vec<NewMessage>, Vec<_>) = jobs
            .drain(..)
            .map(|j| (j.message, (j.queued_at, j.reply)))
            .unzip();
        metrics::histogram!("kefu_write_batch_size").record(batch.len() as f64);
        // Its rate of `_sum` is the share of time the writer spends storing: at 1.0 it is
        // the bottleneck, whatever the CPU says.
        let started = Instant::now();
        let stored = store.append_messages(&batch).await;
        metrics::histogram!("kefu_write_commit_seconds").record(started.elapsed().as_secs_f64());
        match stored {
            Ok(results) => {
                let mut answers = Vec::with_capacity(results.len());
                for ((queued_at, reply), result) in waiting.into_iter().zip(results) {
                    if let AppendResult::Stored {
                        message,
                        duplicate,
                        visitor_id,
                        agent_id,
                        ..
                    } = &result
                    {
                        // A resend is published again: the first copy may have died with the
                        // node that stored it, before it went out. Sockets skip a seq they
                        // already delivered.
                        let private = message.body.is_private();
                        let agents: Vec<_> = agent_id.iter().copied().collect();
                        hub.publish(
                            &Recipients {
                                visitor: (!private).then_some(*visitor_id),
                                agents: &agents,
                                watchers: true,
                                except: None,
                            },
                            Outbound {
                                frame: wire::message_frame(message),
                                seq: Some((message.conversation_id, message.seq)),
                            },
                        );
                        if !duplicate {
                            count_message(message.sender_role, private);
                            if !events.is_empty() {
                                events.emit(Event::Message(Arc::new(message.clone())));
                            }
                        }
                    }
                    answers.push((queued_at, reply, result));
                }
                let answer = move || {
                    for (queued_at, reply, result) in answers {
                        metrics::histogram!("kefu_ack_latency_seconds")
                            .record(queued_at.elapsed().as_secs_f64());
                        let _ = reply.send(Ok(result));
                    }
                };
                // In cluster mode a message is acked once its frames are with NATS too: a
                // node that dies after an ack has nothing left to publish. The writer goes
                // on with the next batch meanwhile.
                match hub.published() {
                    None => answer(),
                    Some(published) => {
                        while acking.try_join_next().is_some() {}
                        acking.spawn(async move {
                            let _ = tokio::time::timeout(PUBLISH_WAIT, published).await;
                            answer();
                        });
                    }
                }
            }
            Err(e) => {
                tracing::error!(error = %e, batch = batch.len(), "storing messages failed");
                let e = Arc::new(e);
                for (_, reply) in waiting {
                    let _ = reply.send(Err(WriteError::Store(e.clone())));
                }
            }
        }
    }
    // Shutting down: the last acks still go out.
    while acking.join_next().await.is_some() {}
}

fn count_message(role: SenderRole, private: bool) {
    let direction = match (role, private) {
        (_, true) => "note",
        (SenderRole::Shopper, _) => "from_shopper",
        (SenderRole::Agent | SenderRole::Bot, _) => "to_shopper",
        (SenderRole::System, _) => "system",
    };
    metrics::counter!("kefu_messages_total", "direction" => direction).increment(1);
}
