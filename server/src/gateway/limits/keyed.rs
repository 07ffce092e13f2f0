//! A keyed rate limiter whose memory is bounded: keys are hashed to 8 bytes (a 60 kB
//! username costs what a short one does), keys back at a full quota are pruned, and a
//! limiter holding `max_keys` refuses every check until pruning makes room (failing closed
//! under a flood of distinct keys rather than growing).

use std::{
    hash::{BuildHasher, Hash, RandomState},
    num::NonZeroU32,
    sync::atomic::{AtomicBool, AtomicU32, Ordering},
    time::Duration,
};

use governor::{
    Quota, RateLimiter,
    clock::{Clock, DefaultClock},
    middleware::NoOpMiddleware,
    state::keyed::DefaultKeyedStateStore,
};

use crate::config::{Period, Rate};

/// The governor quota of a configured rate.
pub fn quota(rate: Rate) -> Quota {
    let n = NonZeroU32::new(rate.per_period).unwrap_or(NonZeroU32::MIN);
    let burst = NonZeroU32::new(rate.burst).unwrap_or(NonZeroU32::MIN);
    match rate.period {
        Period::Second => Quota::per_second(n),
        Period::Minute => Quota::per_minute(n),
        Period::Hour => Quota::per_hour(n),
    }
    .allow_burst(burst)
}

/// Why a request was refused, and when the same key may try again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refused {
    /// The `kind` label of `kefu_rate_limited_total`.
    pub kind: &'static str,
    pub retry_after: Duration,
}

/// Counts a refusal in `kefu_rate_limited_total{kind}`.
pub fn count(kind: &'static str) {
    metrics::counter!("kefu_rate_limited_total", "kind" => kind).increment(1);
}

/// How many checks pass between two looks at the key count (a look visits every shard).
const SIZE_CHECK_EVERY: u32 = 64;

pub struct Keyed<C: Clock = DefaultClock> {
    kind: &'static str,
    limiter: RateLimiter<u64, DefaultKeyedStateStore<u64>, C, NoOpMiddleware<C::Instant>>,
    /// Seeded per process, so nobody can aim many keys at one slot.
    hasher: RandomState,
    max_keys: usize,
    checks: AtomicU32,
    /// Set when `max_keys` was reached; cleared by [`Keyed::prune`].
    full: AtomicBool,
    clock: C,
}

impl Keyed {
    pub fn new(kind: &'static str, rate: Rate, max_keys: usize) -> Self {
        Self::with_clock(kind, rate, max_keys, DefaultClock::default())
    }
}

impl<C: Clock + Clone> Keyed<C> {
    pub fn with_clock(kind: &'static str, rate: Rate, max_keys: usize, clock: C) -> Self {
        Self {
            kind,
            limiter: RateLimiter::new(
                quota(rate),
                DefaultKeyedStateStore::default(),
                clock.clone(),
            ),
            hasher: RandomState::new(),
            max_keys,
            checks: AtomicU32::new(0),
            full: AtomicBool::new(false),
            clock,
        }
    }

    /// Takes one event for `key`.
    pub fn check(&self, key: impl Hash) -> Result<(), Refused> {
        self.check_n(key, 1)
    }

    /// Takes `n` events for `key` at once (at least 1); more than the burst never passes.
    pub fn check_n(&self, key: impl Hash, n: u32) -> Result<(), Refused> {
        let refused = |retry_after| {
            count(self.kind);
            Err(Refused {
                kind: self.kind,
                retry_after,
            })
        };
        if self
            .checks
            .fetch_add(1, Ordering::Relaxed)
            .is_multiple_of(SIZE_CHECK_EVERY)
            && self.limiter.len() >= self.max_keys
            && !self.full.swap(true, Ordering::Relaxed)
        {
            tracing::warn!(kind = self.kind, keys = self.max_keys, "rate limiter full");
        }
        if self.full.load(Ordering::Relaxed) {
            // Pruning here would walk every key per request: leave it to the pruner.
            return refused(Duration::from_secs(1));
        }
        let key = self.hasher.hash_one(key);
        let n = NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN);
        match self.limiter.check_key_n(&key, n) {
            Ok(Ok(())) => Ok(()),
            Ok(Err(not_until)) => refused(not_until.wait_time_from(self.clock.now())),
            // More than the whole burst: waiting does not help.
            Err(_) => refused(Duration::MAX),
        }
    }

    /// Forgets keys whose quota is full again (they behave like new keys anyway).
    pub fn prune(&self) {
        self.limiter.retain_recent();
        self.limiter.shrink_to_fit();
        self.full
            .store(self.limiter.len() >= self.max_keys, Ordering::Relaxed);
    }

    /// Keys remembered now.
    pub fn len(&self) -> usize {
        self.limiter.len()
    }

    pub fn is_empty(&self) -> bool {
        self.limiter.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use governor::clock::FakeRelativeClock;

    #[test]
    fn a_flood_of_distinct_keys_is_forgotten_once_their_quota_refills() {
        let clock = FakeRelativeClock::default();
        let limiter = Keyed::with_clock("test", Rate::per_second(1, 2), 1_000_000, clock.clone());
        for i in 0..10_000 {
            limiter.check(format!("user-{i}")).unwrap();
        }
        assert_eq!(
            limiter.len(),
            10_000,
            "every key is remembered while it counts"
        );
        clock.advance(Duration::from_secs(5));
        limiter.check("fresh").unwrap();
        limiter.prune();
        assert_eq!(
            limiter.len(),
            1,
            "only the key used within its refill time stays"
        );
    }

    #[test]
    fn a_full_limiter_refuses_until_pruning_makes_room() {
        let clock = FakeRelativeClock::default();
        let limiter = Keyed::with_clock("test", Rate::per_second(1, 1), 100, clock.clone());
        let passed = (0..1_000).filter(|i| limiter.check(i).is_ok()).count();
        assert!(
            limiter.len() < 100 + SIZE_CHECK_EVERY as usize,
            "the key count stays near max_keys: {}",
            limiter.len()
        );
        assert!(
            passed < 1_000,
            "keys beyond the bound were refused ({passed} passed)"
        );
        clock.advance(Duration::from_secs(2));
        limiter.prune();
        assert_eq!(limiter.len(), 0, "refilled keys are forgotten");
        assert!(limiter.check("shopper").is_ok(), "room again after pruning");
    }

    #[test]
    fn each_key_has_its_own_quota() {
        let limiter = Keyed::new("test", Rate::per_hour(1, 3), 1000);
        let flood = (0..10)
            .filter(|_| limiter.check("attacker").is_ok())
            .count();
        assert_eq!(flood, 3, "the burst passes, then nothing");
        assert!(
            limiter.check("shopper").is_ok(),
            "another key is not affected"
        );
        let refused = limiter.check("attacker").unwrap_err();
        assert!(refused.retry_after > Duration::ZERO, "says when to retry");
    }

    #[test]
    fn more_than_the_burst_at_once_never_passes() {
        let limiter = Keyed::new("test", Rate::per_hour(10, 10), 1000);
        assert!(limiter.check_n("v", 10).is_ok());
        assert_eq!(
            limiter.check_n("w", 11).unwrap_err().retry_after,
            Duration::MAX
        );
    }
}
