//! The abuse limits under `[limits]`: per frame kind on a socket (`[limits.frames]`), per
//! shopper (`[limits.visitor]`), per source address (`[limits.ip]`), sign-in
//! (`[limits.login]`) and the HTTP layer (`[limits.http]`). Every table is optional; the
//! defaults suit a shop, and the measurements behind them are in issue 18.

use serde::{Deserialize, Serialize};

/// A rate and the burst allowed above it: `per_second = 5`, `burst = 20`.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Rate {
    /// Sustained events per `period`.
    pub per_period: u32,
    /// Events allowed at once above the sustained rate.
    pub burst: u32,
    /// The period `per_period` is counted over: `second`, `minute` or `hour`.
    pub period: Period,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Period {
    Second,
    Minute,
    Hour,
}

impl Rate {
    pub const fn per_second(per_period: u32, burst: u32) -> Self {
        Self {
            per_period,
            burst,
            period: Period::Second,
        }
    }
    pub const fn per_minute(per_period: u32, burst: u32) -> Self {
        Self {
            per_period,
            burst,
            period: Period::Minute,
        }
    }
    pub const fn per_hour(per_period: u32, burst: u32) -> Self {
        Self {
            per_period,
            burst,
            period: Period::Hour,
        }
    }
}

/// `[limits.frames]`: what one WebSocket connection may send, per kind of frame
/// (`SendMessage` keeps `limits.messages_per_second`/`messages_burst`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FrameLimits {
    /// Typing indicators; beyond the rate they are dropped silently (the next one says the
    /// same thing).
    pub typing: Rate,
    /// Read receipts; beyond the rate they are refused with `RATE_LIMITED`.
    pub read: Rate,
    /// Heartbeats; beyond the rate they are refused with `RATE_LIMITED`.
    pub heartbeat: Rate,
    /// Every other request (resume, close, accept, transfer, status…).
    pub request: Rate,
    /// Refused or dropped frames a connection may accumulate before it is closed with
    /// `GoAway` code `RATE_LIMITED`: a client that ignores the errors is abusing.
    pub refusals: Rate,
}

impl Default for FrameLimits {
    fn default() -> Self {
        Self {
            typing: Rate::per_second(4, 20),
            read: Rate::per_second(20, 100),
            heartbeat: Rate::per_second(10, 50),
            request: Rate::per_second(20, 100),
            refusals: Rate::per_second(10, 200),
        }
    }
}

/// `[limits.visitor]`: what one shopper (all its sockets and requests together) may do.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct VisitorLimits {
    /// Frames of every kind over all of the shopper's sockets.
    pub frames: Rate,
    /// Sockets one visitor token may hold open at once; the next is refused with `GoAway`
    /// code `TOO_MANY_CONNECTIONS`.
    pub max_sockets: u32,
    /// Conversations one shopper may open (and left messages it may post).
    pub conversations: Rate,
    /// Uploads, counted per file.
    pub uploads: Rate,
    /// Upload volume in KiB (1024 bytes); one file may not exceed `burst` KiB of it.
    pub upload_kib: Rate,
}

impl Default for VisitorLimits {
    fn default() -> Self {
        Self {
            frames: Rate::per_second(30, 200),
            max_sockets: 5,
            conversations: Rate::per_hour(20, 5),
            uploads: Rate::per_hour(30, 10),
            upload_kib: Rate::per_hour(100 * 1024, 50 * 1024),
        }
    }
}

/// `[limits.agent]`: agents' sockets, and what agents do on a shopper's word.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AgentLimits {
    /// Sockets one sign-in token may hold open at once (the desk needs one; a reload
    /// briefly two); the next is refused with `GoAway` code `TOO_MANY_CONNECTIONS`.
    pub max_sockets: u32,
    /// Attempts to verify a shopper by an order number they quote, per conversation: a
    /// shopper guessing numbers gets a handful of tries, not an oracle.
    pub verifications: Rate,
}

impl Default for AgentLimits {
    fn default() -> Self {
        Self {
            max_sockets: 10,
            verifications: Rate::per_hour(10, 5),
        }
    }
}

/// `[limits.ip]`: what one source address may do without signing in (IPv6 counts per /64).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IpLimits {
    /// Visitor sessions (`POST /visitor/session`).
    pub sessions: Rate,
    /// Conversations opened, over all shoppers of the address and site.
    pub conversations: Rate,
    /// Sign-in attempts, over all usernames.
    pub logins: Rate,
    /// Proxies whose `X-Forwarded-For` is believed (their own address is never limited as
    /// a client). Empty: the peer address is the client.
    pub trusted_proxies: Vec<std::net::IpAddr>,
}

impl Default for IpLimits {
    fn default() -> Self {
        Self {
            sessions: Rate::per_minute(30, 60),
            conversations: Rate::per_hour(120, 30),
            logins: Rate::per_minute(30, 30),
            trusted_proxies: Vec::new(),
        }
    }
}

/// `[limits.login]`: password guessing. Failures slow down the pair (username, address)
/// exponentially; nothing locks the account, so an attacker cannot lock its owner out.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LoginLimits {
    /// Longer usernames are refused with 400 before anything is remembered about them.
    pub max_username_bytes: usize,
    /// Failures from one address for one username before the delay starts.
    pub free_failures: u32,
    /// The first delay; each further failure doubles it.
    pub base_delay_ms: u64,
    /// The delay never exceeds this.
    pub max_delay_secs: u64,
}

impl Default for LoginLimits {
    fn default() -> Self {
        Self {
            max_username_bytes: 254,
            free_failures: 10,
            base_delay_ms: 1000,
            max_delay_secs: 15 * 60,
        }
    }
}

/// `[limits.http]`: the HTTP layer under every route.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HttpLimits {
    /// A connection must deliver a request's headers within this many seconds of opening
    /// (or of its previous response): half-sent requests and idle connections are closed.
    pub header_read_timeout_secs: u64,
    /// Most keys any one limiter remembers; limiters are pruned every
    /// `prune_interval_secs` of keys that are back to a full quota.
    pub max_keys: usize,
    pub prune_interval_secs: u64,
}

impl Default for HttpLimits {
    fn default() -> Self {
        Self {
            header_read_timeout_secs: 10,
            max_keys: 100_000,
            prune_interval_secs: 60,
        }
    }
}

impl Rate {
    fn check(&self, key: &str) -> Result<(), (String, String)> {
        if self.per_period == 0 || self.burst == 0 {
            return Err((
                key.into(),
                "expected per_period and burst of at least 1".into(),
            ));
        }
        Ok(())
    }
}

/// The checks of these tables; returns the offending key and what it expects.
pub(super) fn validate(l: &super::LimitSettings) -> Result<(), (String, String)> {
    let rates = [
        ("limits.frames.typing", l.frames.typing),
        ("limits.frames.read", l.frames.read),
        ("limits.frames.heartbeat", l.frames.heartbeat),
        ("limits.frames.request", l.frames.request),
        ("limits.frames.refusals", l.frames.refusals),
        ("limits.visitor.frames", l.visitor.frames),
        ("limits.visitor.conversations", l.visitor.conversations),
        ("limits.visitor.uploads", l.visitor.uploads),
        ("limits.visitor.upload_kib", l.visitor.upload_kib),
        ("limits.ip.sessions", l.ip.sessions),
        ("limits.ip.conversations", l.ip.conversations),
        ("limits.ip.logins", l.ip.logins),
        ("limits.agent.verifications", l.agent.verifications),
    ];
    for (key, rate) in rates {
        rate.check(key)?;
    }
    let bad = |k: &str, e: &str| Err((k.to_string(), e.to_string()));
    if l.visitor.max_sockets == 0 {
        return bad("limits.visitor.max_sockets", "expected at least 1");
    }
    if l.agent.max_sockets == 0 {
        return bad("limits.agent.max_sockets", "expected at least 1");
    }
    if !(1..=4096).contains(&l.login.max_username_bytes) {
        return bad("limits.login.max_username_bytes", "expected 1 to 4096");
    }
    if l.login.base_delay_ms == 0 || l.login.max_delay_secs == 0 {
        return bad(
            "limits.login",
            "base_delay_ms and max_delay_secs must be at least 1",
        );
    }
    if l.http.header_read_timeout_secs == 0 {
        return bad(
            "limits.http.header_read_timeout_secs",
            "expected at least 1",
        );
    }
    if l.http.max_keys < 100 {
        return bad("limits.http.max_keys", "expected at least 100");
    }
    if l.http.prune_interval_secs == 0 {
        return bad("limits.http.prune_interval_secs", "expected at least 1");
    }
    Ok(())
}
