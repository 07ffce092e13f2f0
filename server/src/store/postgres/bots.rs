//! [`Bots`] on PostgreSQL.

use async_trait::async_trait;
use sqlx::{FromRow, Row, postgres::PgRow};
use uuid::Uuid;

use super::{
    PgStore,
    error::{Db, conflict_or},
    one, touched,
};
use crate::store::{Bot, Bots, StoreResult};

impl FromRow<'_, PgRow> for Bot {
    fn from_row(row: &PgRow) -> sqlx::Result<Self> {
        Ok(Self {
            id: row.try_get("id")?,
            name: row.try_get("name")?,
            token_hash: row.try_get("token_hash")?,
            created_at: row.try_get("created_at")?,
            last_used_at: row.try_get("last_used_at")?,
        })
    }
}

#[async_trait]
impl Bots for PgStore {
    async fn create_bot(&self, b: &Bot) -> StoreResult<()> {
        sqlx::query("insert into bot (id, name, token_hash, created_at) values ($1, $2, $3, $4)")
            .bind(b.id)
            .bind(&b.name)
            .bind(&b.token_hash)
            .bind(b.created_at)
            .execute(&self.pool)
            .await
            .map_err(|e| conflict_or(e, "a bot with that name exists"))?;
        Ok(())
    }

    async fn bot_by_token(&self, token_hash: &str, now: i64) -> StoreResult<Bot> {
        one(
            sqlx::query_as("update bot set last_used_at = $1 where token_hash = $2 returning *")
                .bind(now)
                .bind(token_hash)
                .fetch_optional(&self.pool)
                .await
                .db()?,
        )
    }

    async fn list_bots(&self) -> StoreResult<Vec<Bot>> {
        sqlx::query_as("select * from bot order by name")
            .fetch_all(&self.pool)
            .await
            .db()
    }

    async fn delete_bot(&self, id: Uuid) -> StoreResult<()> {
        touched(
            sqlx::query("delete from bot where id = $1")
                .bind(id)
                .execute(&self.pool)
                .await
                .db()?,
        )
    }
}
