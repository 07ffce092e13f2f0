//! Routing commands over NATS: every node forwards its own (in order, one at a time) to
//! `kefu.router`, where only the router's node listens, and reports its agent sockets
//! every second.
//!
//! A command that finds no router (one is taking over) is tried again until
//! [`FORWARD_FOR`] has passed. What is lost meanwhile is rebuilt by the next router from
//! PostgreSQL and the presence reports; the store's guards keep a repeated command from
//! assigning anything twice.

use std::time::Duration;

use async_nats::{Client, Subscriber};
use bytes::Bytes;
use futures_util::StreamExt;
use tokio::{sync::mpsc, time::Instant};

use crate::sessions::routing::{Cmd, Request, Response, Router, nodes::REPORT_EVERY_MS};

pub(super) const ROUTER: &str = "kefu.router";
/// How long a command keeps looking for a router (a takeover takes 1–2 s).
const FORWARD_FOR: Duration = Duration::from_secs(15);
const RETRY_EVERY: Duration = Duration::from_millis(200);

/// A router handle whose commands go to the cluster's router, and the task reporting this
/// node's agent sockets.
pub(super) fn forwarder(client: Client, node: String) -> Router {
    let (tx, mut rx) = mpsc::channel::<Cmd>(1024);
    tokio::spawn(async move {
        while let Some(cmd) = rx.recv().await {
            let answer = forward(&client, &cmd.req).await;
            if let (Some(reply), Some(answer)) = (cmd.reply, answer) {
                let _ = reply.send(answer);
            }
        }
    });
    let router = Router::forwarding(tx, node);
    let reporter = router.clone();
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_millis(REPORT_EVERY_MS)).await;
            reporter.report_presence().await;
        }
    });
    router
}

/// Sends one command to the router and returns its answer; `None` if there was no router
/// for [`FORWARD_FOR`] (the caller then hears "routing is unavailable").
async fn forward(client: &Client, req: &Request) -> Option<Response> {
    let payload: Bytes = serde_json::to_vec(req).ok()?.into();
    let deadline = Instant::now() + FORWARD_FOR;
    loop {
        match client.request(ROUTER, payload.clone()).await {
            Ok(msg) => {
                return serde_json::from_slice(&msg.payload)
                    .inspect_err(|e| tracing::error!(error = %e, "unreadable router answer"))
                    .ok();
            }
            Err(e) if Instant::now() < deadline => {
                tracing::debug!(error = %e, "no router yet; trying again");
                tokio::time::sleep(RETRY_EVERY).await;
            }
            Err(e) => {
                tracing::error!(error = %e, ?req, "no router answered; command dropped");
                metrics::counter!("kefu_cluster_routing_dropped_total").increment(1);
                return None;
            }
        }
    }
}

/// On the router's node: answers the commands of every node. They reach the router in the
/// order they arrive; answers go back as each is done.
pub(super) async fn serve(client: Client, router: Router, mut sub: Subscriber) {
    while let Some(msg) = sub.next().await {
        let Some(reply_to) = msg.reply else { continue };
        let req: Request = match serde_json::from_slice(&msg.payload) {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(error = %e, "unreadable routing command");
                continue;
            }
        };
        let Some(answer) = router.submit(req).await else {
            return; // the router stopped: this node is stepping down
        };
        let client = client.clone();
        tokio::spawn(async move {
            let Ok(answer) = answer.await else { return };
            match serde_json::to_vec(&answer) {
                Ok(json) => {
                    if let Err(e) = client.publish(reply_to, json.into()).await {
                        tracing::warn!(error = %e, "answering a routing command");
                    }
                }
                Err(e) => tracing::error!(error = %e, "encoding a routing answer"),
            }
        });
    }
}
