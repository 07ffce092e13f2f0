//! Every abuse limit of the HTTP edge, built in one place from `[limits]`: per frame kind
//! on a socket and per shopper over all its sockets ([`frames`]), per source address on
//! unauthenticated endpoints ([`client_ip`]), sign-in ([`login`]), uploads, conversations
//! and sockets per token. Each limiter's memory is bounded ([`keyed`]) and pruned by one
//! background task; each refusal counts in `kefu_rate_limited_total{kind}`.

pub mod client_ip;
pub mod frames;
pub mod keyed;
pub mod login;

use std::{
    collections::HashMap,
    hash::{BuildHasher, RandomState},
    net::IpAddr,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use uuid::Uuid;

pub use client_ip::ClientIp;
pub use frames::{FrameKind, FrameLimiter, Verdict};
use keyed::{Keyed, Refused, count};
use login::Lockout;

use crate::{
    config::{LimitSettings, Rate},
    sessions::OpError,
};

pub struct Limits {
    settings: LimitSettings,
    /// Frames of one shopper over all its sockets.
    pub visitor_frames: Keyed,
    /// Left messages (`left_message`) of one shopper: the WebSocket message quota.
    visitor_messages: Keyed,
    visitor_conversations: Keyed,
    uploads: Keyed,
    upload_kib: Keyed,
    ip_sessions: Keyed,
    /// Keyed by (site, address).
    ip_conversations: Keyed,
    ip_logins: Keyed,
    /// Keyed by conversation.
    verifications: Keyed,
    lockout: Lockout,
    sockets: Mutex<HashMap<u64, u32>>,
    hasher: RandomState,
}

/// A refusal as the API says it: REST answers 429 with `Retry-After`, a socket an error
/// frame.
fn refused(r: Refused, what: &str) -> OpError {
    if r.retry_after == Duration::MAX {
        let message = format!("too many {what}; this is more than the quota allows at once");
        return OpError::rate_limited(message, None);
    }
    let wait = r.retry_after.max(Duration::from_secs(1));
    let message = format!("too many {what}; retry in {} s", wait.as_secs());
    OpError::rate_limited(message, Some(wait))
}

impl Limits {
    pub fn new(l: &LimitSettings) -> Arc<Self> {
        let max = l.http.max_keys;
        let keyed = |kind, rate| Keyed::new(kind, rate, max);
        Arc::new(Self {
            visitor_frames: keyed("visitor_frames", l.visitor.frames),
            visitor_messages: keyed(
                "visitor_messages",
                Rate::per_second(l.messages_per_second, l.messages_burst),
            ),
            visitor_conversations: keyed("visitor_conversations", l.visitor.conversations),
            uploads: keyed("uploads", l.visitor.uploads),
            upload_kib: keyed("upload_bytes", l.visitor.upload_kib),
            ip_sessions: keyed("ip_sessions", l.ip.sessions),
            ip_conversations: keyed("ip_conversations", l.ip.conversations),
            ip_logins: keyed("ip_logins", l.ip.logins),
            verifications: keyed("verifications", l.agent.verifications),
            lockout: Lockout::new(l.login.clone(), max),
            sockets: Mutex::new(HashMap::new()),
            hasher: RandomState::new(),
            settings: l.clone(),
        })
    }

    fn keyed(&self) -> [&Keyed; 9] {
        [
            &self.visitor_frames,
            &self.visitor_messages,
            &self.visitor_conversations,
            &self.uploads,
            &self.upload_kib,
            &self.ip_sessions,
            &self.ip_conversations,
            &self.ip_logins,
            &self.verifications,
        ]
    }

    /// Forgets what no longer limits anybody.
    pub fn prune(&self) {
        for k in self.keyed() {
            k.prune();
        }
        self.lockout.prune(Instant::now());
    }

    /// Keys remembered by all limiters together.
    pub fn keys(&self) -> usize {
        self.keyed().iter().map(|k| k.len()).sum::<usize>() + self.lockout.len()
    }

    /// Prunes every `limits.http.prune_interval_secs` while the server runs.
    pub fn spawn_pruner(self: &Arc<Self>) {
        let every = Duration::from_secs(self.settings.http.prune_interval_secs);
        let limits = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.tick().await;
            loop {
                tick.tick().await;
                let Some(limits) = limits.upgrade() else {
                    return;
                };
                limits.prune();
                metrics::gauge!("kefu_rate_limiter_keys").set(limits.keys() as f64);
            }
        });
    }

    /// `POST /visitor/session`, per address.
    pub fn visitor_session(&self, ip: IpAddr) -> Result<(), OpError> {
        self.ip_sessions
            .check(client_ip::ip_key(ip))
            .map_err(|r| refused(r, "new visitor sessions from this address"))
    }

    /// Opening a conversation: per shopper, and per site and address.
    pub fn open_conversation(&self, site: &str, visitor: Uuid, ip: IpAddr) -> Result<(), OpError> {
        let what = "new conversations";
        self.ip_conversations
            .check((site, client_ip::ip_key(ip)))
            .map_err(|r| refused(r, what))?;
        self.visitor_conversations
            .check(visitor)
            .map_err(|r| refused(r, what))
    }

    /// A left message posts a message: the shopper's message quota applies.
    pub fn left_message(&self, visitor: Uuid) -> Result<(), OpError> {
        self.visitor_messages
            .check(visitor)
            .map_err(|r| refused(r, "messages; slow down and resend"))
    }

    /// Before an upload's bytes are read: the shopper's count of uploads.
    pub fn upload(&self, visitor: Uuid) -> Result<(), OpError> {
        self.uploads
            .check(visitor)
            .map_err(|r| refused(r, "uploads"))
    }

    /// After the bytes are read: the shopper's upload volume.
    pub fn upload_bytes(&self, visitor: Uuid, bytes: usize) -> Result<(), OpError> {
        let kib = u32::try_from(bytes.div_ceil(1024)).unwrap_or(u32::MAX);
        self.upload_kib
            .check_n(visitor, kib)
            .map_err(|r| refused(r, "uploaded bytes"))
    }

    /// Verifying the shopper of `conversation` by an order number they quoted.
    pub fn verification(&self, conversation: Uuid) -> Result<(), OpError> {
        self.verifications
            .check(conversation)
            .map_err(|r| refused(r, "verification attempts in this conversation"))
    }

    /// Whether a username is short enough to be remembered at all. A longer one names no
    /// account, so it is answered as any unknown username is (and schema-valid JSON, which
    /// counts characters, not bytes, is not refused as malformed).
    pub fn username_fits(&self, username: &str) -> Result<(), OpError> {
        if username.len() > self.settings.login.max_username_bytes {
            return Err(OpError::new(
                kefu_proto::v1::ErrorCode::Unauthenticated,
                "wrong username or password",
            ));
        }
        Ok(())
    }

    /// Before a password is checked: per address, and per (username, address) after
    /// failures.
    pub fn login_attempt(&self, username: &str, ip: IpAddr) -> Result<(), OpError> {
        self.ip_logins
            .check(client_ip::ip_key(ip))
            .map_err(|r| refused(r, "sign-in attempts from this address"))?;
        self.lockout
            .check(username, ip, Instant::now())
            .map_err(|wait| {
                count("login_delay");
                refused(
                    Refused {
                        kind: "login_delay",
                        retry_after: wait,
                    },
                    "failed sign-ins for this user from this address",
                )
            })
    }

    pub fn login_failed(&self, username: &str, ip: IpAddr) {
        self.lockout.failed(username, ip, Instant::now());
    }

    pub fn login_succeeded(&self, username: &str, ip: IpAddr) {
        self.lockout.succeeded(username, ip);
    }

    /// Takes a socket slot of `token_hash` if fewer than the caller's maximum are open;
    /// the slot frees itself when dropped.
    pub fn open_socket(self: &Arc<Self>, token_hash: &str, shopper: bool) -> Option<SocketSlot> {
        let max = if shopper {
            self.settings.visitor.max_sockets
        } else {
            self.settings.agent.max_sockets
        };
        let key = self.hasher.hash_one(token_hash);
        let mut open = self.sockets.lock().expect("socket count lock");
        let n = open.entry(key).or_insert(0);
        if *n >= max {
            count(if shopper {
                "visitor_sockets"
            } else {
                "agent_sockets"
            });
            return None;
        }
        *n += 1;
        Some(SocketSlot {
            limits: self.clone(),
            key,
        })
    }

    /// Sockets counted now, over all tokens.
    pub fn open_sockets(&self) -> u32 {
        self.sockets
            .lock()
            .expect("socket count lock")
            .values()
            .sum()
    }
}

/// One open socket of a token; dropping it frees the slot (and the entry at zero, so the
/// table holds only tokens with open sockets).
pub struct SocketSlot {
    limits: Arc<Limits>,
    key: u64,
}

impl Drop for SocketSlot {
    fn drop(&mut self) {
        let mut open = self.limits.sockets.lock().expect("socket count lock");
        if let Some(n) = open.get_mut(&self.key) {
            *n -= 1;
            if *n == 0 {
                open.remove(&self.key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Settings;

    #[test]
    fn socket_slots_are_capped_per_token_and_freed_on_drop() {
        let mut s = Settings::default().limits;
        s.visitor.max_sockets = 2;
        let limits = Limits::new(&s);
        let a = limits.open_socket("token-a", true).unwrap();
        let _b = limits.open_socket("token-a", true).unwrap();
        assert!(
            limits.open_socket("token-a", true).is_none(),
            "the third is refused"
        );
        assert!(
            limits.open_socket("token-b", true).is_some(),
            "another token is not"
        );
        drop(a);
        assert!(
            limits.open_socket("token-a", true).is_some(),
            "a freed slot is reusable"
        );
    }
}
