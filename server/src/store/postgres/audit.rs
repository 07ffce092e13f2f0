//! [`Audit`] on PostgreSQL.

use async_trait::async_trait;
use sqlx::{FromRow, Row, postgres::PgRow};
use uuid::Uuid;

use super::{PgStore, error::Db, named};
use crate::store::{Audit, AuditEntry, StoreResult};

impl FromRow<'_, PgRow> for AuditEntry {
    fn from_row(row: &PgRow) -> sqlx::Result<Self> {
        Ok(Self {
            id: row.try_get("id")?,
            at: row.try_get("at")?,
            actor_id: row.try_get("actor_id")?,
            actor_role: named(row, "actor_role")?,
            action: row.try_get("action")?,
            conversation_id: row.try_get("conversation_id")?,
            target: row.try_get("target")?,
            details: row.try_get("details")?,
            result: row.try_get("result")?,
            error: row.try_get("error")?,
        })
    }
}

#[async_trait]
impl Audit for PgStore {
    async fn insert_audit(&self, e: &AuditEntry) -> StoreResult<()> {
        sqlx::query(
            "insert into audit_log (id, at, actor_id, actor_role, action, conversation_id, target, details, result, error) \
             values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(e.id)
        .bind(e.at)
        .bind(e.actor_id)
        .bind(e.actor_role.as_str())
        .bind(&e.action)
        .bind(e.conversation_id)
        .bind(&e.target)
        .bind(&e.details)
        .bind(&e.result)
        .bind(&e.error)
        .execute(&self.pool)
        .await
        .db()?;
        Ok(())
    }

    async fn list_audit(
        &self,
        conversation_id: Option<Uuid>,
        limit: i64,
    ) -> StoreResult<Vec<AuditEntry>> {
        sqlx::query_as(
            "select * from audit_log where ($1::uuid is null or conversation_id = $1) \
             order by at desc, id desc limit $2",
        )
        .bind(conversation_id)
        .bind(limit)
        .fetch_all(&self.pool)
        .await
        .db()
    }
}
