//! PostgreSQL crashing and coming back while shoppers write: `/readyz` turns 503 while the
//! database is gone, nothing is acked that was not committed, kefu reconnects by itself and
//! carries on, and afterwards every acked message is stored exactly once, in order.
//!
//! Runs in the PostgreSQL pass of `scripts/test.sh` (`TEST_POSTGRES_URL` set), on a database
//! server of its own (`ThrowawayServer`): it stops that server, so it cannot share one.

mod common;

use std::{
    collections::HashMap,
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use common::*;
use futures_util::SinkExt;
use kefu_proto::v1::{ClientEnvelope, server_envelope::Kind as Out};
use kefu_testkit::{TestDatabase, ThrowawayServer};
use prost::Message as _;
use tokio_tungstenite::tungstenite::Message;

const SHOPPERS: usize = 6;
/// Messages each shopper has acked by the end.
const PER_SHOPPER: usize = 150;
/// Messages a shopper has in flight at once, as a widget with a queue of unsent ones would.
const WINDOW: usize = 8;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_crash_under_load_loses_and_duplicates_nothing() {
    if kefu_testkit::postgres::server_url().is_none() {
        eprintln!("skipped: runs in the PostgreSQL pass of scripts/test.sh (TEST_POSTGRES_URL)");
        return;
    }
    let postgres = ThrowawayServer::start();
    let kefu = KefuCommand::new()
        .test_site()
        .admin("admin", PASSWORD)
        .database(TestDatabase::create_on(&postgres.url))
        .log_to_file()
        .start()
        .unwrap();
    assert_eq!(readyz(&kefu).await, 200);

    let acked_total = Arc::new(AtomicUsize::new(0));
    let mut shoppers = Vec::new();
    for _ in 0..SHOPPERS {
        let (_, visitor, conv) = shopper_opens(&kefu, "hello").await;
        let load = Load {
            addr: kefu.addr,
            token: visitor.token,
            conv,
            acked_total: acked_total.clone(),
        };
        shoppers.push(tokio::spawn(load.run()));
    }

    // The crash comes while messages are in flight on every socket.
    eventually("shoppers have written a while", || {
        let n = acked_total.load(Ordering::SeqCst);
        async move { (n >= SHOPPERS * PER_SHOPPER / 4).then_some(()) }
    })
    .await;
    postgres.crash();
    eprintln!(
        "database crashed after {} acks",
        acked_total.load(Ordering::SeqCst)
    );
    eventually("/readyz answers 503 while the database is down", || async {
        (readyz(&kefu).await == 503).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    postgres.restart();
    eventually("/readyz answers 200 once the database is back", || async {
        (readyz(&kefu).await == 200).then_some(())
    })
    .await;

    let mut outcomes = Vec::new();
    for shopper in shoppers {
        let outcome = tokio::time::timeout(Duration::from_secs(120), shopper)
            .await
            .unwrap_or_else(|_| {
                panic!(
                    "every message acked after the restart; kefu's log:\n{}",
                    kefu.log_tail(40)
                )
            })
            .unwrap();
        outcomes.push(outcome);
    }
    let failures: usize = outcomes.iter().map(|o| o.failures).sum();
    eprintln!("sends or sockets that failed during the outage: {failures}");
    assert!(
        failures > 0,
        "the crash hit messages in flight (else this test proved nothing)"
    );

    let admin = kefu.login("admin", PASSWORD).await;
    for outcome in &outcomes {
        let stored = kefu.stored_messages(&admin, &outcome.conv).await;
        let seqs: Vec<u64> = stored.iter().map(|(_, seq)| *seq).collect();
        assert_eq!(
            seqs,
            (1..=stored.len() as u64).collect::<Vec<_>>(),
            "seq has no gap and no repeat"
        );
        let by_id: HashMap<&str, u64> = stored.iter().map(|(id, s)| (id.as_str(), *s)).collect();
        assert_eq!(by_id.len(), stored.len(), "no message stored twice");
        assert_eq!(
            stored.len(),
            PER_SHOPPER + 1,
            "the opening message and every message sent, once each"
        );
        for (id, seq) in &outcome.acked {
            assert_eq!(
                by_id.get(id.as_str()),
                Some(seq),
                "acked message {id} is stored with the seq its ack named"
            );
        }
    }

    // Conversations open again as before: routing and the lifecycle use the new connections.
    let (_, _, conv) = shopper_opens(&kefu, "after the restart").await;
    assert!(!conv.is_empty());
}

/// One shopper writing `PER_SHOPPER` messages into its conversation, resending (with the
/// same ids) whatever failed or was in flight when its socket dropped, until all are acked.
struct Load {
    addr: SocketAddr,
    token: String,
    conv: String,
    acked_total: Arc<AtomicUsize>,
}

/// What one shopper saw: each message's ack, and how many sends or sockets failed.
struct Outcome {
    conv: String,
    acked: HashMap<String, u64>,
    failures: usize,
}

impl Load {
    async fn run(self) -> Outcome {
        let mut acked = HashMap::new();
        let mut failures = 0;
        let mut pending: Vec<String> = Vec::new();
        let mut next = 0;
        let mut socket: Option<Ws> = None;
        while acked.len() < PER_SHOPPER {
            let Some(ws) = socket.as_mut() else {
                match Ws::try_connect(self.addr, "shopper", &self.token, Some(ORIGIN)).await {
                    Ok(mut ws) => {
                        // The widget's outbox: everything unacked goes again, same ids.
                        let mut sent = true;
                        for id in &pending {
                            sent &= self.send(&mut ws, id).await;
                        }
                        socket = sent.then_some(ws);
                    }
                    Err(_) => {
                        failures += 1;
                        tokio::time::sleep(Duration::from_millis(200)).await;
                    }
                }
                continue;
            };
            let mut open = true;
            while open && pending.len() < WINDOW && next < PER_SHOPPER {
                let id = format!("m{next}");
                open = self.send(ws, &id).await;
                pending.push(id);
                next += 1;
            }
            let frame = if open {
                ws.next_within(Duration::from_secs(20)).await.ok().flatten()
            } else {
                None
            };
            match frame {
                Some(Out::Ack(a)) => {
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
                Some(Out::Error(e)) if acked.contains_key(&e.client_msg_id) => {}
                Some(Out::Error(e)) => {
                    // Not stored: the same message again, after a pause.
                    assert!(
                        pending.contains(&e.client_msg_id),
                        "an error names the message that failed: {e:?}"
                    );
                    failures += 1;
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    if !self.send(ws, &e.client_msg_id).await {
                        socket = None;
                    }
                }
                Some(_) => {}
                None => {
                    failures += 1;
                    socket = None;
                }
            }
        }
        Outcome {
            conv: self.conv,
            acked,
            failures,
        }
    }

    /// Sends message `id`; false if the socket is gone.
    async fn send(&self, ws: &mut Ws, id: &str) -> bool {
        let text = text_msg(&self.conv, id, &format!("message {id}"));
        let frame = ClientEnvelope { kind: Some(text) }.encode_to_vec();
        ws.ws.send(Message::Binary(frame.into())).await.is_ok()
    }
}

/// `/readyz`'s status (0 if it did not answer in time).
async fn readyz(kefu: &KefuProcess) -> u16 {
    reqwest::Client::new()
        .get(kefu.url("/readyz"))
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .map_or(0, |r| r.status().as_u16())
}
