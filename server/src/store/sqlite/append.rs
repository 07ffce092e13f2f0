//! The message writer's connection, and appending a batch on it in a constant number of
//! statements: one lookup of resends, one `UPDATE … RETURNING` that hands out every
//! conversation's seqs, one multi-row `INSERT`.
//!
//! It speaks to SQLite directly (rusqlite), not through sqlx: the writer has a thread of its
//! own, and sqlx would hand each statement to a connection thread and back, two thread
//! wake-ups per statement, five statements per batch, on the one path every message takes
//! (docs/BENCHMARKS.md has the figures).

use std::{collections::HashMap, time::Duration};

use rusqlite::{Connection, Row, TransactionBehavior, params_from_iter, types::Value};
use uuid::Uuid;

use super::MESSAGE_COLUMNS;
use crate::store::{AppendResult, NewMessage, SenderRole, StoreError, StoreResult, StoredMessage};

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
        let conn = Connection::open(path)?;
        conn.busy_timeout(Duration::from_secs(10))?;
        conn.pragma_update(None, "journal_mode", "wal")?;
        conn.pragma_update(None, "synchronous", "full")?;
        conn.pragma_update(None, "foreign_keys", true)?;
        conn.pragma_update(None, "temp_store", "memory")?;
        conn.pragma_update(None, "wal_autocheckpoint", 10_000)?;
        conn.pragma_update(None, "cache_size", -65_536)?;
        Ok(Self { conn })
    }

    /// Stores a batch in one transaction. Blocks its thread for the commit (the writer's
    /// own thread; see `sessions::writer`).
    pub fn append(&mut self, batch: &[NewMessage]) -> StoreResult<Appended> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let out = append_batch(&tx, batch)?;
        tx.commit()?;
        Ok(out)
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
    /// A resend of a message stored earlier.
    Resend,
    /// A resend of the message at this index of the same batch.
    Repeat(usize),
    New,
}

type Key<'a> = (Uuid, &'a str);

/// What a committed batch did.
pub(super) struct Appended {
    /// One per message of the batch, in order.
    pub results: Vec<AppendResult>,
    /// Each conversation written to: its new `last_seq` and `updated_at`.
    pub seqs: Vec<(Uuid, i64, i64)>,
}

fn append_batch(tx: &Connection, batch: &[NewMessage]) -> StoreResult<Appended> {
    let stored = resends(tx, batch)?;
    let mut first: HashMap<Key, usize> = HashMap::new();
    // Conversation → (new messages, newest created_at).
    let mut new_per_conv: HashMap<Uuid, (i64, i64)> = HashMap::new();
    let plans: Vec<Plan> = batch
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let key = (m.sender_id, m.client_msg_id.as_str());
            if stored.contains_key(&key) {
                return Plan::Resend;
            }
            if let Some(j) = first.get(&key) {
                return Plan::Repeat(*j);
            }
            first.insert(key, i);
            let e = new_per_conv.entry(m.conversation_id).or_default();
            e.0 += 1;
            e.1 = e.1.max(m.created_at);
            Plan::New
        })
        .collect();
    let mut next_seq = take_seqs(tx, &new_per_conv)?;
    let seqs = next_seq
        .iter()
        .map(|(id, (first, _))| {
            let (n, at) = new_per_conv[id];
            (*id, first + n - 1, at)
        })
        .collect();
    let resent: Vec<Uuid> = stored.values().map(|m| m.conversation_id).collect();
    let audiences = audiences(tx, &resent)?;

    let mut results: Vec<AppendResult> = Vec::with_capacity(batch.len());
    let mut fresh = Vec::new();
    for (m, plan) in batch.iter().zip(&plans) {
        let result = match plan {
            Plan::Resend => {
                let message = stored[&(m.sender_id, m.client_msg_id.as_str())].clone();
                match audiences.get(&message.conversation_id) {
                    Some(a) => stored_result(message, true, a),
                    None => AppendResult::NoConversation,
                }
            }
            Plan::Repeat(j) => match &results[*j] {
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
                    fresh.push(message.clone());
                    stored_result(message, false, audience)
                }
            },
        };
        results.push(result);
    }
    insert(tx, &fresh)?;
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

/// An id as sqlx stores it: 16 bytes (rusqlite's `uuid` feature reads them back).
fn blob(id: Uuid) -> Value {
    Value::Blob(id.as_bytes().to_vec())
}

/// `visitor_id, agent_id, group_name` from column `i` on.
fn audience(row: &Row, i: usize) -> rusqlite::Result<Audience> {
    Ok(Audience {
        visitor_id: row.get(i)?,
        agent_id: row.get(i + 1)?,
        group: row.get(i + 2)?,
    })
}

/// Stored as the lowercase names the rest of the store reads (`SenderRole`'s sqlx mapping).
fn role_name(role: SenderRole) -> &'static str {
    match role {
        SenderRole::Shopper => "shopper",
        SenderRole::Agent => "agent",
        SenderRole::Bot => "bot",
        SenderRole::System => "system",
    }
}

fn role_from(row: &Row, i: usize) -> rusqlite::Result<SenderRole> {
    let name: String = row.get(i)?;
    [
        SenderRole::Shopper,
        SenderRole::Agent,
        SenderRole::Bot,
        SenderRole::System,
    ]
    .into_iter()
    .find(|r| role_name(*r) == name)
    .ok_or_else(|| {
        rusqlite::Error::FromSqlConversionFailure(
            i,
            rusqlite::types::Type::Text,
            format!("unknown sender role {name:?}").into(),
        )
    })
}

/// A row of `MESSAGE_COLUMNS`.
fn message(row: &Row) -> rusqlite::Result<StoredMessage> {
    let body: String = row.get(7)?;
    Ok(StoredMessage {
        id: row.get(0)?,
        conversation_id: row.get(1)?,
        seq: row.get(2)?,
        client_msg_id: row.get(3)?,
        sender_role: role_from(row, 4)?,
        sender_id: row.get(5)?,
        sender_name: row.get(6)?,
        body: serde_json::from_str(&body).map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(7, rusqlite::types::Type::Text, Box::new(e))
        })?,
        created_at: row.get(8)?,
    })
}

/// `(?, ?), (?, ?)…`: `rows` rows of `columns` placeholders.
fn placeholders(rows: usize, columns: usize) -> String {
    let row = format!("({})", vec!["?"; columns].join(", "));
    vec![row; rows].join(", ")
}

/// Messages of the batch already stored under their idempotency key.
fn resends<'b>(
    tx: &Connection,
    batch: &'b [NewMessage],
) -> StoreResult<HashMap<Key<'b>, StoredMessage>> {
    let params = batch
        .iter()
        .flat_map(|m| [blob(m.sender_id), Value::Text(m.client_msg_id.clone())]);
    let mut statement = tx.prepare(&resends_sql(batch.len()))?;
    let rows = statement.query_map(params_from_iter(params), message)?;
    let mut found = HashMap::new();
    for message in rows {
        let message = message?;
        // Key by the batch's own strings so lookups borrow nothing from the rows.
        if let Some(m) = batch
            .iter()
            .find(|m| m.sender_id == message.sender_id && m.client_msg_id == message.client_msg_id)
        {
            found.insert((m.sender_id, m.client_msg_id.as_str()), message);
        }
    }
    Ok(found)
}

/// Written `in (select … from (values …))`: for a row value IN a bare VALUES list some
/// SQLite versions (3.40, as in Debian 12) scan the whole message table on every batch;
/// this form searches the unique index in all of them. The plan is checked by a test.
fn resends_sql(n: usize) -> String {
    format!(
        "select {MESSAGE_COLUMNS} from message where (sender_id, client_msg_id) in \
         (select column1, column2 from (values {}))",
        placeholders(n, 2)
    )
}

/// Reserves `n` seqs in each conversation: conversation → (first seq, audience). Missing
/// conversations are left out.
fn take_seqs(
    tx: &Connection,
    new_per_conv: &HashMap<Uuid, (i64, i64)>,
) -> StoreResult<HashMap<Uuid, (i64, Audience)>> {
    if new_per_conv.is_empty() {
        return Ok(HashMap::new());
    }
    let sql = format!(
        "update conversation set last_seq = last_seq + v.column2, updated_at = v.column3 \
         from (values {}) as v where conversation.id = v.column1 \
         returning id, last_seq, visitor_id, agent_id, group_name",
        placeholders(new_per_conv.len(), 3)
    );
    let params = new_per_conv
        .iter()
        .flat_map(|(id, (n, at))| [blob(*id), Value::Integer(*n), Value::Integer(*at)]);
    let mut statement = tx.prepare(&sql)?;
    let rows = statement.query_map(params_from_iter(params), |row| {
        Ok((row.get(0)?, row.get::<_, i64>(1)?, audience(row, 2)?))
    })?;
    let mut seqs = HashMap::with_capacity(new_per_conv.len());
    for row in rows {
        let (id, last, audience) = row?;
        let (n, _) = new_per_conv.get(&id).ok_or(StoreError::NotFound)?;
        seqs.insert(id, (last - n + 1, audience));
    }
    Ok(seqs)
}

/// Current audiences of the conversations resends belong to.
fn audiences(tx: &Connection, ids: &[Uuid]) -> StoreResult<HashMap<Uuid, Audience>> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let sql = format!(
        "select id, visitor_id, agent_id, group_name from conversation where id in ({})",
        vec!["?"; ids.len()].join(", ")
    );
    let mut statement = tx.prepare(&sql)?;
    let rows = statement.query_map(params_from_iter(ids.iter().map(|id| blob(*id))), |row| {
        Ok((row.get(0)?, audience(row, 1)?))
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

fn insert(tx: &Connection, messages: &[StoredMessage]) -> StoreResult<()> {
    if messages.is_empty() {
        return Ok(());
    }
    let mut params = Vec::with_capacity(messages.len() * 10);
    for m in messages {
        let body = serde_json::to_string(&m.body)
            .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
        params.extend([
            blob(m.id),
            blob(m.conversation_id),
            Value::Integer(m.seq),
            Value::Text(m.client_msg_id.clone()),
            Value::Text(role_name(m.sender_role).into()),
            blob(m.sender_id),
            Value::Text(m.sender_name.clone()),
            Value::Text(body),
            Value::Integer(m.created_at),
            Value::Integer(m.body.is_private().into()),
        ]);
    }
    let sql = format!(
        "insert into message ({MESSAGE_COLUMNS}, private) values {}",
        placeholders(messages.len(), 10)
    );
    tx.execute(&sql, params_from_iter(params))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::SqliteStore;
    use crate::store::*;

    async fn open() -> (tempfile::TempDir, SqliteStore) {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path().join("t.db").to_str().unwrap())
            .await
            .unwrap();
        (dir, store)
    }

    async fn conversation(store: &SqliteStore) -> Uuid {
        let visitor = Visitor {
            id: Uuid::now_v7(),
            site_id: "shop".into(),
            token_hash: Uuid::now_v7().to_string(),
            customer_id: None,
            display_name: "Visitor".into(),
            email: None,
            phone: None,
            created_at: 0,
            expires_at: i64::MAX,
            last_agent_id: None,
        };
        store.create_visitor(&visitor).await.unwrap();
        let id = Uuid::now_v7();
        store
            .create_conversation(&Conversation {
                id,
                site_id: "shop".into(),
                visitor_id: visitor.id,
                group: "pre-sales".into(),
                state: ConvState::Queued,
                agent_id: None,
                last_seq: 0,
                created_at: 0,
                updated_at: 0,
                closed_at: None,
                close_reason: None,
                context: PageContext::default(),
                tags: vec![],
                priority: Priority::default(),
            })
            .await
            .unwrap();
        id
    }

    fn text(conversation_id: Uuid, sender_id: Uuid, client_msg_id: &str) -> NewMessage {
        NewMessage {
            conversation_id,
            client_msg_id: client_msg_id.into(),
            sender_role: SenderRole::Shopper,
            sender_id,
            sender_name: "Visitor".into(),
            body: Body::Text {
                text: client_msg_id.into(),
            },
            created_at: 1,
        }
    }

    fn seq_of(r: &AppendResult) -> (i64, bool) {
        match r {
            AppendResult::Stored {
                message, duplicate, ..
            } => (message.seq, *duplicate),
            AppendResult::NoConversation => (-1, false),
        }
    }

    #[tokio::test]
    async fn one_batch_numbers_each_conversation_and_stores_each_message_once() {
        let (_dir, store) = open().await;
        let (a, b, sender) = (
            conversation(&store).await,
            conversation(&store).await,
            Uuid::now_v7(),
        );
        let first = store
            .append_messages(&[
                text(a, sender, "a1"),
                text(b, sender, "b1"),
                text(a, sender, "a2"),
                text(a, sender, "a1"), // resent within the batch
                text(Uuid::now_v7(), sender, "x1"),
            ])
            .await
            .unwrap();
        let seqs: Vec<_> = first.iter().map(seq_of).collect();
        assert_eq!(
            seqs,
            [(1, false), (1, false), (2, false), (1, true), (-1, false)]
        );
        // A later batch: a resend of a stored message, then a new one.
        let second = store
            .append_messages(&[text(a, sender, "a2"), text(a, sender, "a3")])
            .await
            .unwrap();
        assert_eq!(
            second.iter().map(seq_of).collect::<Vec<_>>(),
            [(2, true), (3, false)]
        );
        let stored = store.messages_after(a, 0, 10, false).await.unwrap();
        let ids: Vec<_> = stored.iter().map(|m| m.client_msg_id.as_str()).collect();
        assert_eq!(ids, ["a1", "a2", "a3"]);
        assert_eq!(store.conversation(a).await.unwrap().last_seq, 3);
        assert_eq!(store.conversation(b).await.unwrap().last_seq, 1);
    }

    #[tokio::test]
    async fn an_in_memory_database_is_refused_with_the_reason() {
        // The writer's own connection could not see it: messages would go nowhere.
        let Err(e) = SqliteStore::open("sqlite::memory:").await else {
            panic!("an in-memory database was accepted");
        };
        assert!(e.to_string().contains("in-memory"), "{e}");
    }

    #[tokio::test]
    async fn finding_resends_searches_the_index_instead_of_scanning_every_message() {
        let (_dir, store) = open().await;
        let (c, sender) = (Uuid::now_v7(), Uuid::now_v7());
        let batch = [text(c, sender, "a"), text(c, sender, "b")];
        let sql = super::resends_sql(batch.len());
        let mut explain = sqlx::query(sqlx::AssertSqlSafe(format!("explain query plan {sql}")));
        for m in &batch {
            explain = explain.bind(m.sender_id).bind(m.client_msg_id.clone());
        }
        let plan: Vec<String> = explain
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

    /// The in-memory copy `conversation()` serves must match the row after every kind of
    /// write (the cache is in `super::cache`).
    #[tokio::test]
    async fn cached_conversations_match_the_database_after_every_write() {
        let (_dir, store) = open().await;
        let mut agents = vec![];
        for name in ["ann", "bob"] {
            let a = store
                .create_agent(&NewAgent {
                    username: name.into(),
                    display_name: name.into(),
                    password_hash: "x".into(),
                    role: Role::Agent,
                    capacity: 5,
                    groups: vec![],
                })
                .await
                .unwrap();
            agents.push(a.id);
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
