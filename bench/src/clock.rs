//! One clock for every process of a run: CLOCK_MONOTONIC is shared by all processes on a
//! Linux machine, so a send time written by a shopper's worker can be read by an agent's.

use nix::time::{ClockId, clock_gettime};

/// Nanoseconds on the machine-wide monotonic clock.
pub fn now_ns() -> u64 {
    let t = clock_gettime(ClockId::CLOCK_MONOTONIC).expect("CLOCK_MONOTONIC is readable");
    t.tv_sec() as u64 * 1_000_000_000 + t.tv_nsec() as u64
}
