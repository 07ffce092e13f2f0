//! Correctness and latency bookkeeping.
//!
//! Every message is numbered `k = 1, 2, …` within its conversation and direction. The sender
//! keeps an [`Outbox`] (what it sent and which acks came back), the receiver an [`Inbox`]
//! (which numbers arrived, and in what order). Both sides end as a [`Tally`] keyed by
//! conversation and direction; the coordinator merges the tallies of every process and
//! counts lost, duplicated and reordered messages.

use std::collections::{BTreeMap, HashMap};

use base64::Engine as _;
use hdrhistogram::serialization::Serializer as _;
use serde::{Deserialize, Serialize};

/// Latencies in microseconds, from the intended send time.
pub type Hist = hdrhistogram::Histogram<u64>;

pub fn hist() -> Hist {
    // 1 µs .. 10 min at 3 significant digits; larger values saturate instead of failing.
    Hist::new_with_bounds(1, 600_000_000, 3).expect("valid histogram bounds")
}

pub fn record(h: &mut Hist, from_ns: u64, to_ns: u64) {
    h.saturating_record((to_ns.saturating_sub(from_ns) / 1000).max(1));
}

/// Which way a message went.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Dir {
    ToAgent,
    ToShopper,
}

/// The sender's side of one conversation and direction.
#[derive(Default)]
pub struct Outbox {
    sent: u64,
    /// `k` → intended send time, until acked.
    pending: BTreeMap<u64, u64>,
    dup_acks: u64,
}

impl Outbox {
    /// Numbers the next message and remembers when it was meant to go.
    pub fn next(&mut self, intended_ns: u64) -> u64 {
        self.sent += 1;
        self.pending.insert(self.sent, intended_ns);
        self.sent
    }

    /// An ack for `k`: its intended send time the first time, `None` for a duplicate.
    pub fn ack(&mut self, k: u64) -> Option<u64> {
        let t = self.pending.remove(&k);
        if t.is_none() {
            self.dup_acks += 1;
        }
        t
    }

    /// Unacked messages, oldest first (resent after a reconnect under the same ids).
    pub fn unacked(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        self.pending.iter().map(|(k, t)| (*k, *t))
    }
}

/// The receiver's side of one conversation and direction.
#[derive(Default)]
pub struct Inbox {
    seen: Vec<bool>,
    max: u64,
    dups: u64,
    reordered: u64,
}

impl Inbox {
    /// Records message `k`; `false` if it was a duplicate.
    pub fn arrive(&mut self, k: u64) -> bool {
        let i = k as usize;
        if self.seen.len() <= i {
            self.seen.resize(i + 1, false);
        }
        if self.seen[i] {
            self.dups += 1;
            return false;
        }
        self.seen[i] = true;
        if k < self.max {
            self.reordered += 1;
        }
        self.max = self.max.max(k);
        true
    }
}

/// What one process knows of one conversation and direction; sender and receiver fill
/// different fields, [`Tally::merge`] joins them.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Tally {
    pub sent: u64,
    pub unacked: Vec<u64>,
    pub dup_acks: u64,
    pub delivered_max: u64,
    /// Numbers below `delivered_max` that never arrived.
    pub missing: Vec<u64>,
    pub dups: u64,
    pub reordered: u64,
}

impl From<&Outbox> for Tally {
    fn from(o: &Outbox) -> Self {
        Self {
            sent: o.sent,
            unacked: o.pending.keys().copied().collect(),
            dup_acks: o.dup_acks,
            ..Default::default()
        }
    }
}

impl From<&Inbox> for Tally {
    fn from(i: &Inbox) -> Self {
        Self {
            delivered_max: i.max,
            missing: (1..i.max).filter(|k| !i.seen[*k as usize]).collect(),
            dups: i.dups,
            reordered: i.reordered,
            ..Default::default()
        }
    }
}

impl Tally {
    pub fn merge(&mut self, o: Tally) {
        self.sent += o.sent;
        self.unacked.extend(o.unacked);
        self.dup_acks += o.dup_acks;
        if o.delivered_max > 0 {
            self.delivered_max = self.delivered_max.max(o.delivered_max);
            self.missing.extend(o.missing);
        }
        self.dups += o.dups;
        self.reordered += o.reordered;
    }
}

/// The verdict over every conversation and direction.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Verdict {
    pub sent: u64,
    /// Sent but never acknowledged.
    pub unacked: u64,
    /// Acknowledged but never delivered.
    pub lost: u64,
    /// Delivered (or acknowledged) more than once.
    pub duplicated: u64,
    /// Delivered after a later message of the same conversation and direction.
    pub reordered: u64,
}

impl Verdict {
    pub fn of(tallies: &HashMap<String, Tally>) -> Self {
        let mut v = Self::default();
        for t in tallies.values() {
            v.sent += t.sent;
            v.unacked += t.unacked.len() as u64;
            let acked_but_missing = (1..=t.sent).filter(|k| {
                !t.unacked.contains(k) && (*k > t.delivered_max || t.missing.contains(k))
            });
            v.lost += acked_but_missing.count() as u64;
            v.duplicated += t.dups + t.dup_acks;
            v.reordered += t.reordered;
        }
        v
    }

    pub fn clean(&self) -> bool {
        self.unacked == 0 && self.lost == 0 && self.duplicated == 0 && self.reordered == 0
    }
}

/// Key of a tally: conversation and direction.
pub fn key(conversation_id: &str, dir: Dir) -> String {
    format!("{conversation_id}/{dir:?}")
}

/// Histograms travel between processes as base64 of the HdrHistogram V2 encoding.
pub fn encode(h: &Hist) -> String {
    let mut buf = Vec::new();
    hdrhistogram::serialization::V2Serializer::new()
        .serialize(h, &mut buf)
        .expect("histograms serialize");
    base64::engine::general_purpose::STANDARD.encode(buf)
}

pub fn decode(s: &str) -> anyhow::Result<Hist> {
    let bytes = base64::engine::general_purpose::STANDARD.decode(s)?;
    Ok(hdrhistogram::serialization::Deserializer::new().deserialize(&mut bytes.as_slice())?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verdict(out: &Outbox, inbox: &Inbox) -> Verdict {
        let mut t = Tally::from(out);
        t.merge(Tally::from(inbox));
        Verdict::of(&HashMap::from([("c/ToAgent".to_string(), t)]))
    }

    #[test]
    fn a_clean_run_is_clean() {
        let (mut out, mut inbox) = (Outbox::default(), Inbox::default());
        for _ in 0..3 {
            let k = out.next(0);
            out.ack(k);
            inbox.arrive(k);
        }
        let v = verdict(&out, &inbox);
        assert!(v.clean(), "{v:?}");
        assert_eq!(v.sent, 3);
    }

    #[test]
    fn lost_duplicated_reordered_and_unacked_are_each_counted() {
        let (mut out, mut inbox) = (Outbox::default(), Inbox::default());
        for _ in 0..6 {
            out.next(0);
        }
        for k in 1..=5 {
            out.ack(k);
        }
        out.ack(5); // a second ack
        for k in [1, 3, 2, 3] {
            inbox.arrive(k); // 2 after 3; 3 twice; 4 and 5 never
        }
        let v = verdict(&out, &inbox);
        assert_eq!(
            v,
            Verdict {
                sent: 6,
                unacked: 1,
                lost: 2,
                duplicated: 2,
                reordered: 1
            }
        );
    }

    #[test]
    fn histograms_cross_processes_intact() {
        let mut h = hist();
        record(&mut h, 0, 1_500_000);
        record(&mut h, 0, 9_000_000);
        let back = decode(&encode(&h)).unwrap();
        assert_eq!(back.len(), 2);
        assert_eq!(back.max(), h.max());
    }
}
