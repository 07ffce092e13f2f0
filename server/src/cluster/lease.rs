//! Which node runs the router: the one holding a PostgreSQL advisory lock.
//!
//! Why a PostgreSQL lock and not a NATS KV key with a TTL: the lock belongs to a database
//! session, so it is released the moment its node's connection drops (a killed process, a
//! node cut off from the database) with no TTL to tune and no clock involved; and a node
//! that cannot reach PostgreSQL could not route anyway (every routing decision is a write
//! there). Every node that is not the router tries for the lock each second, so a new router
//! starts within about a second of the old one's death, rebuilt from PostgreSQL
//! ([`Router::spawn`]) and from the nodes' presence reports, which all arrive within
//! another second. Two routers for a moment (the old one has not yet noticed it lost its
//! connection) cannot assign a conversation twice: the store's `… where agent_id is null`
//! guard decides.
//!
//! The router also steps down when its node is cut off from NATS: holding the lock there,
//! it would keep every other node from routing.

use std::{sync::Arc, time::Duration};

use sqlx::{Connection, PgConnection};

use super::{Cluster, link};
use crate::{
    config::RoutingSettings,
    events::EventSink,
    sessions::{hub::Hub, routing::Router, writer::Writer},
    store::Store,
};

/// The advisory lock's key ("kefurout" as bytes).
const LOCK_KEY: i64 = 0x6b65_6675_726f_7574;
const TRY_EVERY: Duration = Duration::from_secs(1);
const CHECK_EVERY: Duration = Duration::from_millis(500);
const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

/// What the router needs from this node to run here.
pub struct RouterDeps {
    pub store: Arc<dyn Store>,
    pub hub: Arc<Hub>,
    pub writer: Writer,
    pub cfg: RoutingSettings,
    pub events: EventSink,
}

impl Cluster {
    /// Starts competing for the router lease and returns this node's handle to whichever
    /// node runs the router.
    pub fn start_routing(self: &Arc<Self>, deps: RouterDeps) -> Router {
        tokio::spawn(compete(self.clone(), deps));
        link::forwarder(self.control.clone(), self.node.clone())
    }
}

async fn compete(cluster: Arc<Cluster>, deps: RouterDeps) {
    let mut conn: Option<PgConnection> = None;
    loop {
        if !cluster.connected() {
            conn = None; // dropping it closes the session: no lock is kept
        } else {
            if conn.is_none() {
                conn = PgConnection::connect(&cluster.db_url)
                    .await
                    .inspect_err(|e| tracing::warn!(error = %e, "router lease: connecting"))
                    .ok();
            }
            if let Some(c) = conn.as_mut() {
                let got = sqlx::query_scalar::<_, bool>("select pg_try_advisory_lock($1)")
                    .bind(LOCK_KEY)
                    .fetch_one(&mut *c)
                    .await;
                match got {
                    Ok(true) => {
                        lead(&cluster, &deps, c).await;
                        if let Some(c) = conn.take() {
                            let _ = c.close().await; // releases the lock if still held
                        }
                    }
                    Ok(false) => {}
                    Err(e) => {
                        tracing::warn!(error = %e, "router lease: asking for the lock");
                        conn = None;
                    }
                }
            }
        }
        tokio::time::sleep(TRY_EVERY).await;
    }
}

/// Runs the router here until the lock's connection or NATS fails.
async fn lead(cluster: &Arc<Cluster>, deps: &RouterDeps, lock: &mut PgConnection) {
    let router = Router::spawn(
        deps.store.clone(),
        deps.hub.clone(),
        deps.writer.clone(),
        deps.cfg.clone(),
        deps.events.clone(),
    )
    .await;
    let router = match router {
        Ok(r) => r,
        Err(e) => return tracing::error!(error = %e, "router lease: restoring routing state"),
    };
    let sub = match cluster.control.subscribe(link::ROUTER).await {
        Ok(s) => s,
        Err(e) => return tracing::error!(error = %e, "router lease: subscribing"),
    };
    cluster
        .leading
        .store(true, std::sync::atomic::Ordering::Relaxed);
    metrics::gauge!("kefu_cluster_router").set(1.0);
    tracing::info!(node = %cluster.node, "this node runs the router");
    let serving = tokio::spawn(link::serve(cluster.control.clone(), router, sub));
    loop {
        tokio::time::sleep(CHECK_EVERY).await;
        let db = tokio::time::timeout(CHECK_TIMEOUT, sqlx::query("select 1").execute(&mut *lock));
        // `is_ready`, not `connected`: a NATS server dying costs a reconnect of a few
        // hundred ms, which should not cost the cluster its router.
        let alive = cluster.is_ready() && matches!(db.await, Ok(Ok(_)));
        if !alive || serving.is_finished() {
            break;
        }
    }
    serving.abort(); // drops the subscription and the router handle: the router stops
    cluster
        .leading
        .store(false, std::sync::atomic::Ordering::Relaxed);
    metrics::gauge!("kefu_cluster_router").set(0.0);
    tracing::warn!(node = %cluster.node, "stepped down as router");
}
