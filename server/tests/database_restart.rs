//! PostgreSQL crashing and coming back while shoppers write: `/readyz` turns 503 while the
//! database is gone, nothing is acked that was not committed, kefu reconnects by itself and
//! carries on, and afterwards every acked message is stored exactly once, in order.
//!
//! Runs in the PostgreSQL pass of `scripts/test.sh` (`TEST_POSTGRES_URL` set), on a database
//! server of its own (`ThrowawayServer`): it stops that server, so it cannot share one.

mod common;

use std::{
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use common::*;
use kefu_testkit::{
    TestDatabase, ThrowawayServer,
    load::{Shopper, Tally},
};

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
    assert_eq!(kefu.readyz().await, 200);

    let acked_total = Arc::new(AtomicUsize::new(0));
    let mut shoppers = Vec::new();
    for _ in 0..SHOPPERS {
        let (_, visitor, conv) = shopper_opens(&kefu, "hello").await;
        let load = Shopper {
            nodes: vec![kefu.addr],
            token: visitor.token,
            conv,
            messages: PER_SHOPPER,
            window: WINDOW,
            every: None,
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
    let acked_at_crash = acked_total.load(Ordering::SeqCst);
    eprintln!("database crashed after {acked_at_crash} acks");
    // Every shopper keeps a window of sends open until its last message is acked: with
    // messages still to ack, sends were in flight when the database went down.
    let unfinished = shoppers.iter().filter(|s| !s.is_finished()).count();
    eventually("/readyz answers 503 while the database is down", || async {
        (kefu.readyz().await == 503).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    postgres.restart();
    eventually("/readyz answers 200 once the database is back", || async {
        (kefu.readyz().await == 200).then_some(())
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
    // Sends the outage failed were resent (counted here); a server that rode the outage out
    // may fail none. Either way the crash must have come mid-traffic, else this proves nothing.
    assert!(
        acked_at_crash < SHOPPERS * PER_SHOPPER && unfinished == SHOPPERS,
        "the crash hit messages in flight (acked {acked_at_crash}, {unfinished} shoppers still sending)"
    );

    let admin = kefu.login("admin", PASSWORD).await;
    for outcome in &outcomes {
        let stored = kefu.stored_messages(&admin, &outcome.conv).await;
        assert_eq!(outcome.acked.len(), PER_SHOPPER);
        assert_eq!(
            outcome.tally(&stored),
            Tally::default(),
            "nothing lost, duplicated or reordered"
        );
        assert_eq!(
            stored.len(),
            PER_SHOPPER + 1,
            "the opening message and every message sent"
        );
    }

    // Conversations open again as before: routing and the lifecycle use the new connections.
    let (_, _, conv) = shopper_opens(&kefu, "after the restart").await;
    assert!(!conv.is_empty());
}
