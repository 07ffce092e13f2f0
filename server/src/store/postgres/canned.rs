//! [`CannedReplies`] on PostgreSQL.

use async_trait::async_trait;
use sqlx::{FromRow, Row, postgres::PgRow};
use uuid::Uuid;

use super::{
    PgStore,
    error::{Db, conflict_or},
    one, touched,
};
use crate::store::{CannedReplies, CannedReply, StoreResult};

impl FromRow<'_, PgRow> for CannedReply {
    fn from_row(row: &PgRow) -> sqlx::Result<Self> {
        Ok(Self {
            id: row.try_get("id")?,
            shortcut: row.try_get("shortcut")?,
            title: row.try_get("title")?,
            body: row.try_get("body")?,
            created_by: row.try_get("created_by")?,
            created_at: row.try_get("created_at")?,
            updated_at: row.try_get("updated_at")?,
        })
    }
}

#[async_trait]
impl CannedReplies for PgStore {
    async fn list_canned(&self) -> StoreResult<Vec<CannedReply>> {
        sqlx::query_as("select * from canned_reply order by shortcut")
            .fetch_all(&self.pool)
            .await
            .db()
    }

    async fn upsert_canned(&self, r: &CannedReply) -> StoreResult<()> {
        sqlx::query(
            "insert into canned_reply (id, shortcut, title, body, created_by, created_at, updated_at) \
             values ($1, $2, $3, $4, $5, $6, $7) on conflict (id) do update set shortcut = excluded.shortcut, \
             title = excluded.title, body = excluded.body, updated_at = excluded.updated_at",
        )
        .bind(r.id)
        .bind(&r.shortcut)
        .bind(&r.title)
        .bind(&r.body)
        .bind(r.created_by)
        .bind(r.created_at)
        .bind(r.updated_at)
        .execute(&self.pool)
        .await
        .map_err(|e| conflict_or(e, &format!("shortcut `{}` is taken", r.shortcut)))?;
        Ok(())
    }

    async fn canned(&self, id: Uuid) -> StoreResult<CannedReply> {
        one(sqlx::query_as("select * from canned_reply where id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .db()?)
    }

    async fn delete_canned(&self, id: Uuid) -> StoreResult<()> {
        touched(
            sqlx::query("delete from canned_reply where id = $1")
                .bind(id)
                .execute(&self.pool)
                .await
                .db()?,
        )
    }
}
