//! What the coordinator tells a worker (one JSON line per command on its stdin) and what the
//! worker answers (one JSON line on its stdout).

use std::{collections::HashMap, net::Ipv4Addr};

use serde::{Deserialize, Serialize};

use crate::track::Tally;

/// An agent account the coordinator created and signed in.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct AgentLogin {
    pub id: String,
    pub token: String,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "cmd", rename_all = "snake_case")]
pub enum Cmd {
    /// Where the server is (comma-separated nodes of a cluster), which source addresses to spread sockets over (bind before
    /// connect), and how many visitor sessions to start for later shoppers.
    Setup {
        server: String,
        site: String,
        sources: Vec<Ipv4Addr>,
        visitors: usize,
    },
    /// Connect `shoppers` more shoppers (of the visitors set up) and these agents; answers
    /// once every socket of this worker is connected.
    Connect {
        shoppers: usize,
        agents: Vec<AgentLogin>,
    },
    /// The first `shoppers` shoppers without a conversation open one, paced at `rate`/s.
    Open {
        shoppers: usize,
        rate: f64,
    },
    /// Open-loop load over every open conversation for `secs` at `rate` messages/s; agents
    /// answer every `reply_every`-th message (0: never).
    Load {
        rate: f64,
        secs: f64,
        reply_every: u32,
    },
    /// Every second for `secs`, `fraction` of the shoppers drop their socket and reconnect.
    Storm {
        fraction: f64,
        secs: f64,
    },
    /// This worker's agent number `agent` stops (or resumes) reading its socket.
    Stall {
        agent: usize,
        stalled: bool,
    },
    /// Open-loop round trips to the raw TCP echo server at `addr`.
    Echo {
        addr: String,
        connections: usize,
        rate: f64,
        secs: f64,
    },
    /// Counters, cheap: polled while waiting for a run to settle.
    Status,
    /// Everything measured; `reset` clears the latency histograms for the next phase.
    Report {
        reset: bool,
    },
    Quit,
}

/// Cheap counters of a worker.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Status {
    pub connected: usize,
    pub assigned: usize,
    pub sent: u64,
    pub acked: u64,
    pub delivered: u64,
    pub reconnects: u64,
    /// Sockets the server closed (a subset of `reconnects`).
    pub dropped: u64,
    pub errors: u64,
    /// The longest a socket was without a connection after losing one, ms.
    pub longest_gap_ms: u64,
}

/// What agents heard of one queued conversation.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize)]
pub struct Heard {
    /// Agents that got its `Queued` event.
    pub agents: u32,
    /// When the last of them did (machine-wide monotonic ns).
    pub last_ns: u64,
    /// Longest time from the event's server timestamp to an agent having it, µs (wall clock:
    /// the event carries unix milliseconds).
    pub since_event_us: u64,
}

impl Heard {
    pub fn add(&mut self, o: Heard) {
        self.agents += o.agents;
        self.last_ns = self.last_ns.max(o.last_ns);
        self.since_event_us = self.since_event_us.max(o.since_event_us);
    }
}

/// A worker's full account.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Report {
    pub status: Status,
    /// Base64 HdrHistograms by name (µs from the intended send time).
    pub hists: HashMap<String, String>,
    /// Conversation+direction → what this worker saw of it.
    pub tallies: HashMap<String, Tally>,
    /// Conversations this worker's shoppers opened since the last reset → intended ns.
    pub opened: HashMap<String, u64>,
    /// Conversation → what agents heard of it being queued.
    pub queued_heard: HashMap<String, Heard>,
    /// First error messages, for the log.
    pub error_samples: Vec<String>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "reply", rename_all = "snake_case")]
pub enum Reply {
    Done,
    Status(Status),
    Report(Box<Report>),
    Failed { error: String },
}
