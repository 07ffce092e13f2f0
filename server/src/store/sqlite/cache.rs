//! Conversations by id, kept in memory.
//!
//! Every message sent is authorised against its conversation, so `conversation(id)` is the
//! hottest read there is; and in WAL mode a connection that reads after another one wrote
//! starts from an empty page cache. `perf` at 5,000 msg/s showed half of kefu's CPU on the
//! SQLite connection threads, most of it these reads (docs/BENCHMARKS.md).
//!
//! Coherence: every write to a conversation row goes through this process's store, which
//! calls [`ConversationCache::forget`] (or [`ConversationCache::appended`]) after the write.
//! A read that raced such a write must not put its older copy back: reads note the
//! [`epoch`](ConversationCache::epoch) before going to the database and [`fill`] only if no
//! write happened since. Both sides take the same lock, so a fill either lands before a
//! write's forget (and is removed by it) or sees the epoch moved and is dropped.
//!
//! [`fill`]: ConversationCache::fill

use std::{collections::HashMap, sync::Mutex};

use uuid::Uuid;

use crate::store::Conversation;

/// Most conversations kept. Past it the cache starts over: simpler than an LRU, and the
/// working set (open chats) is far smaller.
const MAX_ENTRIES: usize = 20_000;

#[derive(Default)]
pub(super) struct ConversationCache {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    /// Bumped by every write; see the module docs.
    epoch: u64,
    by_id: HashMap<Uuid, Conversation>,
}

impl ConversationCache {
    pub fn get(&self, id: Uuid) -> Option<Conversation> {
        self.lock().by_id.get(&id).cloned()
    }

    /// To be read before the database, and handed to [`fill`](Self::fill) after it.
    pub fn epoch(&self) -> u64 {
        self.lock().epoch
    }

    /// Keeps a copy read from the database, unless a write happened since `epoch`.
    pub fn fill(&self, c: &Conversation, epoch: u64) {
        let mut inner = self.lock();
        if inner.epoch != epoch {
            return;
        }
        if inner.by_id.len() >= MAX_ENTRIES {
            inner.by_id.clear();
        }
        inner.by_id.insert(c.id, c.clone());
    }

    /// A write to this conversation happened (or may have, if it failed).
    pub fn forget(&self, id: Uuid) {
        let mut inner = self.lock();
        inner.epoch += 1;
        inner.by_id.remove(&id);
    }

    /// Messages were appended: the same change the `UPDATE` made, applied to the copy.
    pub fn appended(&self, id: Uuid, last_seq: i64, updated_at: i64) {
        let mut inner = self.lock();
        inner.epoch += 1;
        if let Some(c) = inner.by_id.get_mut(&id) {
            c.last_seq = last_seq;
            c.updated_at = updated_at;
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // Nothing can panic while the lock is held; a poisoned one still holds a valid map.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{ConvState, Priority};

    fn conv(last_seq: i64) -> Conversation {
        Conversation {
            id: Uuid::from_u128(7),
            site_id: "s".into(),
            visitor_id: Uuid::from_u128(1),
            group: "g".into(),
            state: ConvState::Queued,
            agent_id: None,
            last_seq,
            created_at: 1,
            updated_at: 1,
            closed_at: None,
            close_reason: None,
            context: Default::default(),
            tags: vec![],
            priority: Priority::Normal,
            channel: "web".into(),
        }
    }

    #[test]
    fn a_read_that_raced_a_write_is_not_kept() {
        let cache = ConversationCache::default();
        let before = cache.epoch();
        cache.forget(Uuid::from_u128(99)); // any write, even to another conversation
        cache.fill(&conv(3), before);
        assert!(cache.get(Uuid::from_u128(7)).is_none());
        cache.fill(&conv(3), cache.epoch());
        assert_eq!(cache.get(Uuid::from_u128(7)).map(|c| c.last_seq), Some(3));
    }

    #[test]
    fn appends_update_the_copy_and_forget_removes_it() {
        let cache = ConversationCache::default();
        cache.fill(&conv(3), cache.epoch());
        cache.appended(Uuid::from_u128(7), 5, 42);
        let c = cache.get(Uuid::from_u128(7)).expect("cached");
        assert_eq!((c.last_seq, c.updated_at), (5, 42));
        cache.forget(Uuid::from_u128(7));
        assert!(cache.get(Uuid::from_u128(7)).is_none());
    }
}
