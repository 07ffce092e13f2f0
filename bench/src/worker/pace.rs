//! Open-loop pacing: the i-th order is due at `start + i / rate`, whatever happened to the
//! orders before it. Each order carries its intended time, and latency is measured from it,
//! so a stalled server shows up as latency instead of as a slower send rate (no coordinated
//! omission).

use std::time::Duration;

use tokio::sync::mpsc::UnboundedSender;

use crate::clock::now_ns;

/// Sends `n` orders made by `order(intended_ns)` round-robin to `peers` at `rate` per second.
pub async fn paced<T>(
    peers: &[&UnboundedSender<T>],
    rate: f64,
    n: usize,
    order: impl Fn(u64) -> T,
) {
    if peers.is_empty() || n == 0 || rate <= 0.0 {
        return;
    }
    let period_ns = 1e9 / rate;
    let start_ns = now_ns();
    let start = tokio::time::Instant::now();
    let mut i = 0;
    while i < n {
        let due_ns = (i as f64 * period_ns) as u64;
        let elapsed = start.elapsed().as_nanos() as u64;
        if due_ns > elapsed {
            tokio::time::sleep(Duration::from_nanos(due_ns - elapsed)).await;
        }
        // Everything due by now goes out in this pass (timers are ~1 ms coarse).
        let now = start.elapsed().as_nanos() as u64;
        while i < n && (i as f64 * period_ns) as u64 <= now {
            let intended = start_ns + (i as f64 * period_ns) as u64;
            let _ = peers[i % peers.len()].send(order(intended));
            i += 1;
        }
    }
}
