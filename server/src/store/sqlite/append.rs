//! The message writer's connection, and appending a batch on it: per message a lookup of
//! its idempotency key and an insert, per conversation one `UPDATE … RETURNING` that hands
//! out its seqs, all on statements prepared once and kept in the connection's cache. That
//! update also keeps the reports' reply times (`first_response_at`, `last_agent_reply_at`).
//!
//! It speaks to SQLite directly (rusqlite), not through sqlx: the writer has a thread of its
//! own, and sqlx would hand each statement to a connection thread and back, two thread
//! wake-ups per statement, on the one path every message takes (docs/BENCHMARKS.md has the
//! figures). Single-row statements also spare SQLite the statement journal a multi-row
//! write keeps (a copy of every page it touches, in case it fails halfway) and the parsing
//! of a new statement text for each batch size: together 15% of the writer's time.

use std::{collections::HashMap, sync::LazyLock, time::Duration};

use rusqlite::{Connection, OptionalExtension, Row, TransactionBehavior, params};
use uuid::Uuid;

use super::{error::Db, messages::MESSAGE_COLUMNS};
use crate::store::{AppendResult, NewMessage, StoreResult, StoredMessage, reports::Added};

/// A message already stored under an idempotency key (searched in its unique index).
static FIND_RESEND: LazyLock<String> = LazyLock::new(|| {
    format!("select {MESSAGE_COLUMNS} from message where sender_id = ?1 and client_msg_id = ?2")
});
static INSERT: LazyLock<String> = LazyLock::new(|| {
    format!(
        "insert into message ({MESSAGE_COLUMNS}, private) values (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"
    )
});
/// Reserves `?2` seqs and notes the batch's first and last agent reply (`?4`, `?5`, null
/// when none: SQLite's two-argument `max` is null if either is); returns the last seq and
/// who may see the conversation.
const TAKE_SEQS: &str = "update conversation set last_seq = last_seq + ?2, updated_at = ?3, \
     first_response_at = coalesce(first_response_at, ?4), \
     last_agent_reply_at = coalesce(max(last_agent_reply_at, ?5), ?5, last_agent_reply_at) \
     where id = ?1 returning last_seq, visitor_id, agent_id, group_name";
const AUDIENCE: &str = "select visitor_id, agent_id, group_name from conversation where id = ?1";

/// The connection the message writer commits on.
pub(super) struct MessageWriter {
    conn: Connection,
}

impl MessageWriter {
    /// Opens `path`, already created and migrated through the pool, with the pool's
    /// settings (see `SqliteStore::open`) and a page cache that holds every open
    /// conversation's hot index pages: 64 MiB, where SQLite's default of 2 MiB re-read them
    /// from the file on every batch.
    pub fn open(path: &str) -> StoreResult<Self> {
        let open = || -> rusqlite::Result<Connection> {
            let conn = Connection::open(path)?;
            conn.busy_timeout(Duration::from_secs(10))?;
            conn.pragma_update(None, "journal_mode", "wal")?;
            conn.pragma_update(None, "synchronous", "full")?;
            conn.pragma_update(None, "foreign_keys", true)?;
            conn.pragma_update(None, "temp_store", "memory")?;
            conn.pragma_update(None, "wal_autocheckpoint", 10_000)?;
            conn.pragma_update(None, "cache_size", -65_536)?;
            Ok(conn)
        };
        Ok(Self { conn: open().db()? })
    }

    /// Stores a batch in one transaction. Blocks its thread for the commit (the writer's
    /// own thread; see `sessions::writer`).
    pub fn append(&mut self, batch: &[NewMessage]) -> StoreResult<Appended> {
        let mut commit = || -> rusqlite::Result<Appended> {
            let tx = self
                .conn
                .transaction_with_behavior(TransactionBehavior::Immediate)?;
            let out = append_batch(&tx, batch)?;
            tx.commit()?;
            Ok(out)
        };
        commit().db()
    }
}

/// Who may see a conversation's messages, as of this commit.
#[derive(Clone)]
struct Audience {
    visitor_id: Uuid,
    agent_id: Option<Uuid>,
    group: String,
}

/// What happens to one message of the batch.
enum Plan {
    /// A resend of a message stored earlier (boxed: resends are rare, plans are many).
    Resend(Box<StoredMessage>),
    /// A resend of the message at this index of the same batch.
    Repeat(usize),
    New,
}

/// What a committed batch did.
pub(super) struct Appended {
    /// One per message of the batch, in order.
    pub results: Vec<AppendResult>,
    /// Each conversation written to: its new `last_seq` and `updated_at`.
    pub seqs: Vec<(Uuid, i64, i64)>,
}

fn append_batch(tx: &Connection, batch: &[NewMessage]) -> rusqlite::Result<Appended> {
    let mut find_resend = tx.prepare_cached(&FIND_RESEND)?;
    let mut first: HashMap<(Uuid, &str), usize> = HashMap::new();
    let mut new_per_conv: HashMap<Uuid, Added> = HashMap::new();
    let mut plans = Vec::with_capacity(batch.len());
    for (i, m) in batch.iter().enumerate() {
        let key = (m.sender_id, m.client_msg_id.as_str());
        let plan = if let Some(j) = first.get(&key) {
            Plan::Repeat(*j)
        } else if let Some(stored) = find_resend
            .query_row(params![m.sender_id, m.client_msg_id], message)
            .optional()?
        {
            Plan::Resend(Box::new(stored))
        } else {
            first.insert(key, i);
            new_per_conv.entry(m.conversation_id).or_default().add(m);
            Plan::New
        };
        plans.push(plan);
    }
    let mut next_seq = take_seqs(tx, &new_per_conv)?;
    let seqs = next_seq
        .iter()
        .map(|(id, (first, _))| {
            let added = &new_per_conv[id];
            (*id, first + added.n - 1, added.at)
        })
        .collect();

    let mut insert = tx.prepare_cached(&INSERT)?;
    let mut results: Vec<AppendResult> = Vec::with_capacity(batch.len());
    for (m, plan) in batch.iter().zip(plans) {
        let result = match plan {
            Plan::Resend(message) => match audience_of(tx, message.conversation_id)? {
                Some(a) => stored_result(*message, true, &a),
                None => AppendResult::NoConversation,
            },
            Plan::Repeat(j) => match &results[j] {
                AppendResult::Stored {
                    message,
                    visitor_id,
                    agent_id,
                    group,
                    ..
                } => AppendResult::Stored {
                    message: message.clone(),
                    duplicate: true,
                    visitor_id: *visitor_id,
                    agent_id: *agent_id,
                    group: group.clone(),
                },
                AppendResult::NoConversation => AppendResult::NoConversation,
            },
            Plan::New => match next_seq.get_mut(&m.conversation_id) {
                None => AppendResult::NoConversation,
                Some((seq, audience)) => {
                    let message = StoredMessage {
                        id: Uuid::now_v7(),
                        conversation_id: m.conversation_id,
                        seq: *seq,
                        client_msg_id: m.client_msg_id.clone(),
                        sender_role: m.sender_role,
                        sender_id: m.sender_id,
                        sender_name: m.sender_name.clone(),
                        body: m.body.clone(),
                        created_at: m.created_at,
                    };
                    *seq += 1;
                    insert_one(&mut insert, &message)?;
                    stored_result(message, false, audience)
                }
            },
        };
        results.push(result);
    }
    Ok(Appended { results, seqs })
}

fn stored_result(message: StoredMessage, duplicate: bool, a: &Audience) -> AppendResult {
    AppendResult::Stored {
        message,
        duplicate,
        visitor_id: a.visitor_id,
        agent_id: a.agent_id,
        group: a.group.clone(),
    }
}

/// `visitor_id, agent_id, group_name` from column `i` on.
fn audience(row: &Row, i: usize) -> rusqlite::Result<Audience> {
    Ok(Audience {
        visitor_id: row.get(i)?,
        agent_id: row.get(i + 1)?,
        group: row.get(i + 2)?,
    })
}

/// A row of `MESSAGE_COLUMNS` (the sqlx side reads the same columns in `messages.rs`).
fn message(row: &Row) -> rusqlite::Result<StoredMessage> {
    let role: String = row.get(4)?;
    let body: String = row.get(7)?;
    Ok(StoredMessage {
        id: row.get(0)?,
        conversation_id: row.get(1)?,
        seq: row.get(2)?,
        client_msg_id: row.get(3)?,
        sender_role: role.parse().map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(4, rusqlite::types::Type::Text, Box::new(e))
        })?,
        sender_id: row.get(5)?,
        sender_name: row.get(6)?,
        body: serde_json::from_str(&body).map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(7, rusqlite::types::Type::Text, Box::new(e))
        })?,
        created_at: row.get(8)?,
    })
}

/// Reserves each conversation's new seqs: conversation → (first seq, audience). Missing
/// conversations are left out.
fn take_seqs(
    tx: &Connection,
    new_per_conv: &HashMap<Uuid, Added>,
) -> rusqlite::Result<HashMap<Uuid, (i64, Audience)>> {
    let mut take = tx.prepare_cached(TAKE_SEQS)?;
    let mut seqs = HashMap::with_capacity(new_per_conv.len());
    for (&id, a) in new_per_conv {
        let n = a.n;
        let taken = take
            .query_row(params![id, n, a.at, a.first_reply, a.last_reply], |row| {
                Ok((row.get::<_, i64>(0)?, audience(row, 1)?))
            })
            .optional()?;
        if let Some((last, audience)) = taken {
            seqs.insert(id, (last - n + 1, audience));
        }
    }
    Ok(seqs)
}

/// The current audience of a conversation a resend belongs to.
fn audience_of(tx: &Connection, id: Uuid) -> rusqlite::Result<Option<Audience>> {
    let mut find = tx.prepare_cached(AUDIENCE)?;
    find.query_row(params![id], |row| audience(row, 0))
        .optional()
}

fn insert_one(insert: &mut rusqlite::CachedStatement, m: &StoredMessage) -> rusqlite::Result<()> {
    let body = serde_json::to_string(&m.body)
        .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
    insert.execute(params![
        m.id,
        m.conversation_id,
        m.seq,
        m.client_msg_id,
        m.sender_role.as_str(),
        m.sender_id,
        m.sender_name,
        body,
        m.created_at,
        m.body.is_private(),
    ])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use uuid::Uuid;

    use super::super::tests::open;
    use crate::store::{
        tests::{conversation, new_agent, text},
        *,
    };

    #[tokio::test]
    async fn finding_resends_searches_the_index_instead_of_scanning_every_message() {
        let (_dir, store) = open().await;
        let plan: Vec<String> = sqlx::query(sqlx::AssertSqlSafe(format!(
            "explain query plan {}",
            *super::FIND_RESEND
        )))
        .bind(Uuid::now_v7())
        .bind("a")
        .fetch_all(&store.pool)
        .await
        .unwrap()
        .iter()
        .map(|row| sqlx::Row::get(row, "detail"))
        .collect();
        assert!(
            plan.iter()
                .any(|d| d.starts_with("SEARCH message USING INDEX")),
            "{plan:?}"
        );
        assert!(!plan.iter().any(|d| d == "SCAN message"), "{plan:?}");
    }

    /// A stored name this version does not know is reported as corrupt data, on the
    /// writer's connection (resends) and the pool's (reads) alike.
    #[tokio::test]
    async fn an_unknown_sender_role_is_corrupt_data() {
        let (_dir, store) = open().await;
        let (c, sender) = (conversation(&store).await, Uuid::now_v7());
        store
            .append_messages(&[text(c, sender, "m1")])
            .await
            .unwrap();
        sqlx::query("update message set sender_role = 'robot'")
            .execute(&store.pool)
            .await
            .unwrap();
        let read = store.messages_after(c, 0, 10, true).await;
        assert!(matches!(read, Err(StoreError::Corrupt(_))), "{read:?}");
        let resent = store.append_messages(&[text(c, sender, "m1")]).await;
        assert!(matches!(resent, Err(StoreError::Corrupt(_))), "{resent:?}");
    }

    /// The in-memory copy `conversation()` serves must match the row after every kind of
    /// write (the cache is in `super::cache`).
    #[tokio::test]
    async fn cached_conversations_match_the_database_after_every_write() {
        let (_dir, store) = open().await;
        let mut agents = vec![];
        for name in ["ann", "bob"] {
            agents.push(store.create_agent(&new_agent(name)).await.unwrap().id);
        }
        let (c, sender) = (conversation(&store).await, Uuid::now_v7());
        let fresh = async || -> String {
            let row: Conversation = sqlx::query_as("select * from conversation where id = ?")
                .bind(c)
                .fetch_one(&store.pool)
                .await
                .unwrap();
            format!("{row:?}")
        };
        let check = async |after: &str| {
            let served = format!("{:?}", store.conversation(c).await.unwrap());
            assert_eq!(served, fresh().await, "stale after {after}");
        };
        check("create").await;
        store
            .append_messages(&[text(c, sender, "m1"), text(c, sender, "m2")])
            .await
            .unwrap();
        check("append").await;
        store.assign_if_unassigned(c, agents[0], 5).await.unwrap();
        check("assign").await;
        store.add_tags(c, &["vip".into()]).await.unwrap();
        check("tags").await;
        store.set_priority(c, Priority::Urgent).await.unwrap();
        check("priority").await;
        let page = PageContext {
            url: Some("https://shop.example/p/1".into()),
            ..Default::default()
        };
        store.set_page_context(c, &page).await.unwrap();
        check("page").await;
        store.reassign(c, agents[0], agents[1], 6).await.unwrap();
        check("reassign").await;
        store.requeue(c, "after-sales", 7).await.unwrap();
        check("requeue").await;
        store.close_conversation(c, "agent", 8).await.unwrap();
        check("close").await;
        store.reopen_conversation(c, "pre-sales", 9).await.unwrap();
        check("reopen").await;
        assert_eq!(store.conversation(c).await.unwrap().last_seq, 2);
    }
}
