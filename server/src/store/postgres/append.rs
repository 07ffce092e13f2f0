//! Appending a batch of messages: one transaction, a fixed handful of statements whatever
//! the batch size, acknowledged only once committed.
//!
//! 1. Lock the batch's conversations, in id order (two writers locking the same ones in the
//!    same order cannot deadlock), and read who may see them.
//! 2. Find resends: messages already stored under a batch message's idempotency key.
//! 3. Hand out seqs: one `update … from unnest(…)` raises each conversation's `last_seq` by
//!    its number of new messages; under the row lock, so seqs are gapless and never shared
//!    whichever node writes. The same statement keeps the reports' reply times
//!    (`first_response_at`, `last_agent_reply_at`).
//! 4. Insert the new messages in one multi-row `insert … on conflict (sender_id,
//!    client_msg_id) do nothing`.
//!
//! If another writer committed one of our keys between 2 and 4, the insert skips that row
//! and its seq would be a gap: the transaction is rolled back and the batch tried again, and
//! the next attempt finds the stored original in step 2.

use std::collections::HashMap;

use sqlx::{AssertSqlSafe, PgPool, Postgres, Row, Transaction};
use uuid::Uuid;

use super::{error::Db, messages::MESSAGE_COLUMNS};
use crate::store::{
    AppendResult, NewMessage, StoreError, StoreResult, StoredMessage, reports::Added,
};

/// Attempts before giving up on a batch whose keys keep being stored by another writer
/// meanwhile (each retry finds the earlier winners, so a second attempt nearly always
/// succeeds).
const MAX_ATTEMPTS: usize = 3;

/// Stores `batch` (see `Messages::append_messages`).
pub(super) async fn append(pool: &PgPool, batch: &[NewMessage]) -> StoreResult<Vec<AppendResult>> {
    if batch.is_empty() {
        return Ok(Vec::new());
    }
    for _ in 0..MAX_ATTEMPTS {
        let mut tx = pool.begin().await.db()?;
        if let Some(results) = attempt(&mut tx, batch).await? {
            tx.commit().await.db()?;
            return Ok(results);
        }
        tx.rollback().await.db()?;
        tracing::debug!("another writer stored one of the batch's keys meanwhile; retrying");
    }
    Err(StoreError::Internal(
        format!("another writer kept storing this batch's messages ({MAX_ATTEMPTS} attempts)")
            .into(),
    ))
}

/// Who may see a conversation's messages, as of this transaction.
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

/// One try at the batch inside `tx`; `None` when a concurrent writer took one of its keys.
async fn attempt(
    tx: &mut Transaction<'_, Postgres>,
    batch: &[NewMessage],
) -> StoreResult<Option<Vec<AppendResult>>> {
    let audiences = lock_conversations(tx, batch).await?;
    let stored = find_resends(tx, batch).await?;

    let mut first: HashMap<(Uuid, &str), usize> = HashMap::new();
    let mut new_per_conv: HashMap<Uuid, Added> = HashMap::new();
    let mut plans = Vec::with_capacity(batch.len());
    for (i, m) in batch.iter().enumerate() {
        let key = (m.sender_id, m.client_msg_id.as_str());
        let plan = if let Some(j) = first.get(&key) {
            Plan::Repeat(*j)
        } else if let Some(original) = stored.get(&(m.sender_id, m.client_msg_id.clone())) {
            Plan::Resend(Box::new(original.clone()))
        } else {
            first.insert(key, i);
            if audiences.contains_key(&m.conversation_id) {
                new_per_conv.entry(m.conversation_id).or_default().add(m);
            }
            Plan::New
        };
        plans.push(plan);
    }
    let mut next_seq = take_seqs(tx, &new_per_conv).await?;

    let mut new = Vec::new();
    let mut results: Vec<AppendResult> = Vec::with_capacity(batch.len());
    for (m, plan) in batch.iter().zip(plans) {
        let result = match plan {
            Plan::Resend(message) => {
                match audience_of(tx, &audiences, message.conversation_id).await? {
                    Some(a) => stored_result(*message, true, &a),
                    None => AppendResult::NoConversation,
                }
            }
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
                Some(seq) => {
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
                    new.push(message.clone());
                    stored_result(message, false, &audiences[&m.conversation_id])
                }
            },
        };
        results.push(result);
    }
    let inserted = insert(tx, &new).await?;
    Ok((inserted == new.len() as u64).then_some(results))
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

/// Locks the batch's conversations (those that exist) until commit; returns their audience.
async fn lock_conversations(
    tx: &mut Transaction<'_, Postgres>,
    batch: &[NewMessage],
) -> StoreResult<HashMap<Uuid, Audience>> {
    let mut ids: Vec<Uuid> = batch.iter().map(|m| m.conversation_id).collect();
    ids.sort_unstable();
    ids.dedup();
    let rows = sqlx::query(
        "select id, visitor_id, agent_id, group_name from conversation where id = any($1) \
         order by id for update",
    )
    .bind(ids)
    .fetch_all(&mut **tx)
    .await
    .db()?;
    rows.iter()
        .map(|r| Ok((r.try_get("id")?, audience(r)?)))
        .collect::<sqlx::Result<_>>()
        .db()
}

fn audience(r: &sqlx::postgres::PgRow) -> sqlx::Result<Audience> {
    Ok(Audience {
        visitor_id: r.try_get("visitor_id")?,
        agent_id: r.try_get("agent_id")?,
        group: r.try_get("group_name")?,
    })
}

/// The audience of a resend's conversation: usually one the batch locked already.
async fn audience_of(
    tx: &mut Transaction<'_, Postgres>,
    locked: &HashMap<Uuid, Audience>,
    id: Uuid,
) -> StoreResult<Option<Audience>> {
    if let Some(a) = locked.get(&id) {
        return Ok(Some(a.clone()));
    }
    let row =
        sqlx::query("select visitor_id, agent_id, group_name from conversation where id = $1")
            .bind(id)
            .fetch_optional(&mut **tx)
            .await
            .db()?;
    row.as_ref().map(audience).transpose().db()
}

/// Messages already stored under any of the batch's idempotency keys, by key.
async fn find_resends(
    tx: &mut Transaction<'_, Postgres>,
    batch: &[NewMessage],
) -> StoreResult<HashMap<(Uuid, String), StoredMessage>> {
    let senders: Vec<Uuid> = batch.iter().map(|m| m.sender_id).collect();
    let keys: Vec<&str> = batch.iter().map(|m| m.client_msg_id.as_str()).collect();
    let found: Vec<StoredMessage> = sqlx::query_as(AssertSqlSafe(format!(
        "select {MESSAGE_COLUMNS} from message \
         where (sender_id, client_msg_id) in (select * from unnest($1::uuid[], $2::text[]))"
    )))
    .bind(senders)
    .bind(keys)
    .fetch_all(&mut **tx)
    .await
    .db()?;
    Ok(found
        .into_iter()
        .map(|m| ((m.sender_id, m.client_msg_id.clone()), m))
        .collect())
}

/// Reserves each conversation's new seqs: conversation → its first new seq.
async fn take_seqs(
    tx: &mut Transaction<'_, Postgres>,
    new_per_conv: &HashMap<Uuid, Added>,
) -> StoreResult<HashMap<Uuid, i64>> {
    if new_per_conv.is_empty() {
        return Ok(HashMap::new());
    }
    let (mut ids, mut counts, mut ats, mut firsts, mut lasts) =
        (vec![], vec![], vec![], vec![], vec![]);
    for (&id, a) in new_per_conv {
        ids.push(id);
        counts.push(a.n);
        ats.push(a.at);
        firsts.push(a.first_reply);
        lasts.push(a.last_reply);
    }
    // `greatest` ignores nulls: a batch without an agent reply keeps the last one.
    let rows = sqlx::query(
        "update conversation c set last_seq = c.last_seq + v.n, updated_at = v.at, \
         first_response_at = coalesce(c.first_response_at, v.first_reply), \
         last_agent_reply_at = greatest(c.last_agent_reply_at, v.last_reply) \
         from unnest($1::uuid[], $2::bigint[], $3::bigint[], $4::bigint[], $5::bigint[]) \
         as v(id, n, at, first_reply, last_reply) \
         where c.id = v.id returning c.id, c.last_seq",
    )
    .bind(ids)
    .bind(counts)
    .bind(ats)
    .bind(firsts)
    .bind(lasts)
    .fetch_all(&mut **tx)
    .await
    .db()?;
    let mut first = HashMap::with_capacity(rows.len());
    for r in rows {
        let id: Uuid = r.try_get("id").db()?;
        let last: i64 = r.try_get("last_seq").db()?;
        first.insert(id, last - new_per_conv[&id].n + 1);
    }
    Ok(first)
}

/// Inserts `messages` in one statement; returns how many rows it stored (fewer than given
/// when another writer committed one of their keys meanwhile).
async fn insert(
    tx: &mut Transaction<'_, Postgres>,
    messages: &[StoredMessage],
) -> StoreResult<u64> {
    if messages.is_empty() {
        return Ok(0);
    }
    let mut bodies = Vec::with_capacity(messages.len());
    for m in messages {
        bodies.push(serde_json::to_string(&m.body).map_err(|e| StoreError::Internal(e.into()))?);
    }
    let done = sqlx::query(
        "insert into message (id, conversation_id, seq, client_msg_id, sender_role, sender_id, \
         sender_name, body, created_at, private) \
         select id, conversation_id, seq, client_msg_id, sender_role, sender_id, sender_name, \
         body::jsonb, created_at, private \
         from unnest($1::uuid[], $2::uuid[], $3::bigint[], $4::text[], $5::text[], $6::uuid[], \
         $7::text[], $8::text[], $9::bigint[], $10::boolean[]) \
         as m(id, conversation_id, seq, client_msg_id, sender_role, sender_id, sender_name, \
         body, created_at, private) \
         on conflict (sender_id, client_msg_id) do nothing",
    )
    .bind(messages.iter().map(|m| m.id).collect::<Vec<_>>())
    .bind(
        messages
            .iter()
            .map(|m| m.conversation_id)
            .collect::<Vec<_>>(),
    )
    .bind(messages.iter().map(|m| m.seq).collect::<Vec<_>>())
    .bind(
        messages
            .iter()
            .map(|m| m.client_msg_id.as_str())
            .collect::<Vec<_>>(),
    )
    .bind(
        messages
            .iter()
            .map(|m| m.sender_role.as_str())
            .collect::<Vec<_>>(),
    )
    .bind(messages.iter().map(|m| m.sender_id).collect::<Vec<_>>())
    .bind(
        messages
            .iter()
            .map(|m| m.sender_name.as_str())
            .collect::<Vec<_>>(),
    )
    .bind(bodies)
    .bind(messages.iter().map(|m| m.created_at).collect::<Vec<_>>())
    .bind(
        messages
            .iter()
            .map(|m| m.body.is_private())
            .collect::<Vec<_>>(),
    )
    .execute(&mut **tx)
    .await
    .db()?;
    Ok(done.rows_affected())
}
