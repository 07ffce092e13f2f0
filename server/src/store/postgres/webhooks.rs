//! [`WebhookLog`] on PostgreSQL: the newest delivery attempts, trimmed on every insert.

use async_trait::async_trait;
use sqlx::{FromRow, Row, postgres::PgRow};

use super::{PgStore, error::Db};
use crate::store::{StoreResult, WebhookDelivery, WebhookLog};

impl FromRow<'_, PgRow> for WebhookDelivery {
    fn from_row(row: &PgRow) -> sqlx::Result<Self> {
        Ok(Self {
            id: row.try_get("id")?,
            webhook: row.try_get("webhook")?,
            delivery_id: row.try_get("delivery_id")?,
            event: row.try_get("event")?,
            attempt: row.try_get("attempt")?,
            at: row.try_get("at")?,
            status: row.try_get("status")?,
            error: row.try_get("error")?,
            duration_ms: row.try_get("duration_ms")?,
            delivered: row.try_get("delivered")?,
        })
    }
}

#[async_trait]
impl WebhookLog for PgStore {
    async fn insert_delivery(&self, d: &WebhookDelivery, keep: i64) -> StoreResult<()> {
        let mut tx = self.pool.begin().await.db()?;
        sqlx::query(
            "insert into webhook_delivery (id, webhook, delivery_id, event, attempt, at, status, error, duration_ms, delivered) \
             values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(d.id)
        .bind(&d.webhook)
        .bind(d.delivery_id)
        .bind(&d.event)
        .bind(d.attempt)
        .bind(d.at)
        .bind(d.status)
        .bind(&d.error)
        .bind(d.duration_ms)
        .bind(d.delivered)
        .execute(&mut *tx)
        .await
        .db()?;
        sqlx::query(
            "delete from webhook_delivery where id not in \
             (select id from webhook_delivery order by at desc, id desc limit $1)",
        )
        .bind(keep)
        .execute(&mut *tx)
        .await
        .db()?;
        tx.commit().await.db()?;
        Ok(())
    }

    async fn list_deliveries(&self, limit: i64) -> StoreResult<Vec<WebhookDelivery>> {
        sqlx::query_as("select * from webhook_delivery order by at desc, id desc limit $1")
            .bind(limit)
            .fetch_all(&self.pool)
            .await
            .db()
    }
}
