//! What one WebSocket connection may send, per kind of frame, plus the shopper's quota over
//! all its sockets. A client over a rate is told so (typing is dropped silently: the next
//! indicator says the same); one that keeps going anyway is closed, and only it.

use std::sync::Arc;

use governor::{DefaultDirectRateLimiter, RateLimiter};
use uuid::Uuid;

use super::{
    Limits,
    keyed::{count, quota},
};
use crate::config::{LimitSettings, Rate};

/// The kinds of client frame with a quota of their own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameKind {
    Message,
    Typing,
    Read,
    Heartbeat,
    /// Everything else: resume, close, accept, transfer, status, undecodable frames.
    Request,
}

impl FrameKind {
    fn label(self) -> &'static str {
        match self {
            FrameKind::Message => "ws_message",
            FrameKind::Typing => "ws_typing",
            FrameKind::Read => "ws_read",
            FrameKind::Heartbeat => "ws_heartbeat",
            FrameKind::Request => "ws_request",
        }
    }
}

/// What to do with a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Handle,
    /// Over the rate, and not worth an answer (typing).
    Drop,
    /// Over the rate: answer `RATE_LIMITED`.
    Refuse,
    /// Refused too often: close with `GoAway` code `RATE_LIMITED`.
    Close,
}

/// One connection's limiters (boxed in the connection: idle sockets stay small).
pub struct FrameLimiter {
    message: DefaultDirectRateLimiter,
    typing: DefaultDirectRateLimiter,
    read: DefaultDirectRateLimiter,
    heartbeat: DefaultDirectRateLimiter,
    request: DefaultDirectRateLimiter,
    refusals: DefaultDirectRateLimiter,
    /// The shopper's quota over all its sockets.
    visitor: Option<(Arc<Limits>, Uuid)>,
}

fn direct(rate: Rate) -> DefaultDirectRateLimiter {
    RateLimiter::direct(quota(rate))
}

impl FrameLimiter {
    pub fn new(l: &LimitSettings, visitor: Option<(Arc<Limits>, Uuid)>) -> Self {
        Self {
            message: direct(Rate::per_second(l.messages_per_second, l.messages_burst)),
            typing: direct(l.frames.typing),
            read: direct(l.frames.read),
            heartbeat: direct(l.frames.heartbeat),
            request: direct(l.frames.request),
            refusals: direct(l.frames.refusals),
            visitor,
        }
    }

    /// Takes one frame of `kind` from this connection's and its shopper's quotas.
    pub fn admit(&self, kind: FrameKind) -> Verdict {
        let limiter = match kind {
            FrameKind::Message => &self.message,
            FrameKind::Typing => &self.typing,
            FrameKind::Read => &self.read,
            FrameKind::Heartbeat => &self.heartbeat,
            FrameKind::Request => &self.request,
        };
        let within = limiter.check().is_ok()
            && self
                .visitor
                .as_ref()
                .is_none_or(|(limits, id)| limits.visitor_frames.check(id).is_ok());
        if within {
            return Verdict::Handle;
        }
        count(kind.label());
        if self.refusals.check().is_err() {
            count("ws_closed");
            return Verdict::Close;
        }
        if kind == FrameKind::Typing {
            Verdict::Drop
        } else {
            Verdict::Refuse
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Settings;

    #[test]
    fn each_kind_has_its_own_quota_and_persistent_abuse_closes() {
        let mut s = Settings::default().limits;
        s.frames.typing = Rate::per_hour(1, 2);
        s.frames.read = Rate::per_hour(1, 3);
        s.frames.refusals = Rate::per_hour(1, 5);
        let f = FrameLimiter::new(&s, None);
        assert_eq!(f.admit(FrameKind::Typing), Verdict::Handle);
        assert_eq!(f.admit(FrameKind::Typing), Verdict::Handle);
        assert_eq!(
            f.admit(FrameKind::Typing),
            Verdict::Drop,
            "typing is dropped"
        );
        for _ in 0..3 {
            assert_eq!(f.admit(FrameKind::Read), Verdict::Handle);
        }
        assert_eq!(
            f.admit(FrameKind::Read),
            Verdict::Refuse,
            "reads are refused"
        );
        assert_eq!(
            f.admit(FrameKind::Heartbeat),
            Verdict::Handle,
            "a flood of one kind leaves the others alone"
        );
        let verdicts: Vec<_> = (0..5).map(|_| f.admit(FrameKind::Typing)).collect();
        assert_eq!(verdicts.last(), Some(&Verdict::Close), "{verdicts:?}");
    }
}
