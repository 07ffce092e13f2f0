//! Password guessing: failures slow down one (username, source address) pair, with a delay
//! that doubles per failure. Nothing locks the account itself, so an attacker who keeps
//! failing from its own address cannot keep the real user, signing in from theirs, out.

use std::{
    collections::HashMap,
    hash::{BuildHasher, RandomState},
    net::IpAddr,
    sync::Mutex,
    time::{Duration, Instant},
};

use crate::config::LoginLimits;

struct Failures {
    count: u32,
    /// No attempt is accepted before this.
    until: Instant,
    /// The latest failure: the record is kept `max_delay_secs` after it.
    last: Instant,
}

pub struct Lockout {
    cfg: LoginLimits,
    max_keys: usize,
    hasher: RandomState,
    /// Keyed by a hash of (username, address): 8 bytes whatever the username.
    failures: Mutex<HashMap<u64, Failures>>,
}

impl Lockout {
    pub fn new(cfg: LoginLimits, max_keys: usize) -> Self {
        Self {
            cfg,
            max_keys,
            hasher: RandomState::new(),
            failures: Mutex::new(HashMap::new()),
        }
    }

    fn key(&self, username: &str, ip: IpAddr) -> u64 {
        self.hasher.hash_one((username, ip))
    }

    /// `Err(wait)` while this pair must still wait after its last failure.
    pub fn check(&self, username: &str, ip: IpAddr, now: Instant) -> Result<(), Duration> {
        let key = self.key(username, ip);
        match self.failures.lock().expect("lockout lock").get(&key) {
            Some(f) if f.until > now => Err(f.until - now),
            _ => Ok(()),
        }
    }

    /// Records a wrong password; from the `free_failures`-th on, the pair waits
    /// `base_delay_ms` × 2ⁿ (at most `max_delay_secs`).
    pub fn failed(&self, username: &str, ip: IpAddr, now: Instant) {
        let key = self.key(username, ip);
        let mut map = self.failures.lock().expect("lockout lock");
        if map.len() >= self.max_keys && !map.contains_key(&key) {
            prune_locked(&mut map, now, self.max_delay());
            if map.len() >= self.max_keys {
                // Pairs already slowed stay slowed; the per-address limit still applies.
                super::keyed::count("login_table_full");
                return;
            }
        }
        let f = map.entry(key).or_insert(Failures {
            count: 0,
            until: now,
            last: now,
        });
        f.count = f.count.saturating_add(1);
        f.last = now;
        if let Some(over) = f.count.checked_sub(self.cfg.free_failures) {
            let factor = 1u64 << over.min(30);
            let delay = Duration::from_millis(self.cfg.base_delay_ms.saturating_mul(factor))
                .min(Duration::from_secs(self.cfg.max_delay_secs));
            f.until = now + delay;
        }
    }

    /// A correct password clears the pair's record.
    pub fn succeeded(&self, username: &str, ip: IpAddr) {
        let key = self.key(username, ip);
        self.failures.lock().expect("lockout lock").remove(&key);
    }

    /// Forgets pairs whose wait is over and who have not failed for the longest delay.
    pub fn prune(&self, now: Instant) {
        let keep = self.max_delay();
        prune_locked(&mut self.failures.lock().expect("lockout lock"), now, keep);
    }

    pub fn len(&self) -> usize {
        self.failures.lock().expect("lockout lock").len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn max_delay(&self) -> Duration {
        Duration::from_secs(self.cfg.max_delay_secs)
    }
}

/// A pair quiet for `keep` past its wait is forgotten: its next failures count from zero
/// again, which gives an attacker `free_failures` guesses per `keep` at most.
fn prune_locked(map: &mut HashMap<u64, Failures>, now: Instant, keep: Duration) {
    map.retain(|_, f| f.until > now || now.saturating_duration_since(f.last) < keep);
    map.shrink_to_fit();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lockout() -> Lockout {
        Lockout::new(
            LoginLimits {
                max_username_bytes: 254,
                free_failures: 3,
                base_delay_ms: 1000,
                max_delay_secs: 60,
            },
            1000,
        )
    }

    const ATTACKER: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 66));
    const OWNER: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 7));

    #[test]
    fn delays_double_per_failure_for_the_guessing_address_only() {
        let l = lockout();
        let t = Instant::now();
        for _ in 0..3 {
            assert!(l.check("alice", ATTACKER, t).is_ok(), "free failures");
            l.failed("alice", ATTACKER, t);
        }
        assert_eq!(l.check("alice", ATTACKER, t), Err(Duration::from_secs(1)));
        let t = t + Duration::from_secs(1);
        l.failed("alice", ATTACKER, t);
        assert_eq!(l.check("alice", ATTACKER, t), Err(Duration::from_secs(2)));
        for _ in 0..20 {
            l.failed("alice", ATTACKER, t);
        }
        assert_eq!(
            l.check("alice", ATTACKER, t),
            Err(Duration::from_secs(60)),
            "capped at max_delay_secs"
        );
        assert!(
            l.check("alice", OWNER, t).is_ok(),
            "the owner's address is not slowed"
        );
        assert!(
            l.check("bob", ATTACKER, t).is_ok(),
            "other users are not slowed"
        );
    }

    #[test]
    fn success_clears_and_pruning_forgets_finished_waits() {
        let l = lockout();
        let t = Instant::now();
        for i in 0..500 {
            for _ in 0..4 {
                l.failed(&format!("user-{i}-{}", "x".repeat(1000)), ATTACKER, t);
            }
        }
        assert_eq!(l.len(), 500);
        l.prune(t + Duration::from_secs(30));
        assert_eq!(l.len(), 500, "recent failures are remembered");
        l.prune(t + Duration::from_secs(61));
        assert_eq!(
            l.len(),
            0,
            "every wait is over and quiet, so nothing is kept"
        );
        l.failed("alice", OWNER, t);
        l.succeeded("alice", OWNER);
        assert!(l.is_empty(), "a correct password forgets the failures");
    }

    #[test]
    fn the_table_never_exceeds_max_keys() {
        let l = Lockout::new(LoginLimits::default(), 100);
        let t = Instant::now();
        for i in 0..10_000 {
            for _ in 0..20 {
                l.failed(&format!("u{i}"), ATTACKER, t);
            }
        }
        assert!(l.len() <= 100, "bounded: {}", l.len());
    }
}
