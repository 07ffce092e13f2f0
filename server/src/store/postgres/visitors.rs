//! [`Visitors`] on PostgreSQL.

use async_trait::async_trait;
use sqlx::{FromRow, Row, postgres::PgRow};
use uuid::Uuid;

use super::{
    PgStore,
    error::{Db, conflict_or},
    one,
};
use crate::store::{StoreResult, Visitor, Visitors};

impl FromRow<'_, PgRow> for Visitor {
    fn from_row(row: &PgRow) -> sqlx::Result<Self> {
        Ok(Self {
            id: row.try_get("id")?,
            site_id: row.try_get("site_id")?,
            token_hash: row.try_get("token_hash")?,
            customer_id: row.try_get("customer_id")?,
            display_name: row.try_get("display_name")?,
            email: row.try_get("email")?,
            phone: row.try_get("phone")?,
            created_at: row.try_get("created_at")?,
            expires_at: row.try_get("expires_at")?,
            last_agent_id: row.try_get("last_agent_id")?,
            blocked_at: row.try_get("blocked_at")?,
        })
    }
}

#[async_trait]
impl Visitors for PgStore {
    async fn create_visitor(&self, v: &Visitor) -> StoreResult<()> {
        sqlx::query(
            "insert into visitor (id, site_id, token_hash, customer_id, display_name, email, phone, created_at, expires_at) \
             values ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(v.id)
        .bind(&v.site_id)
        .bind(&v.token_hash)
        .bind(&v.customer_id)
        .bind(&v.display_name)
        .bind(&v.email)
        .bind(&v.phone)
        .bind(v.created_at)
        .bind(v.expires_at)
        .execute(&self.pool)
        .await
        .map_err(|e| conflict_or(e, "visitor exists"))?;
        Ok(())
    }

    async fn visitor_by_token(&self, token_hash: &str) -> StoreResult<Visitor> {
        one(
            sqlx::query_as("select * from visitor where token_hash = $1")
                .bind(token_hash)
                .fetch_optional(&self.pool)
                .await
                .db()?,
        )
    }

    async fn visitor(&self, id: Uuid) -> StoreResult<Visitor> {
        one(sqlx::query_as("select * from visitor where id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .db()?)
    }

    async fn visitor_by_customer(&self, site_id: &str, customer_id: &str) -> StoreResult<Visitor> {
        one(
            sqlx::query_as("select * from visitor where site_id = $1 and customer_id = $2")
                .bind(site_id)
                .bind(customer_id)
                .fetch_optional(&self.pool)
                .await
                .db()?,
        )
    }

    async fn refresh_visitor_token(
        &self,
        id: Uuid,
        token_hash: &str,
        expires_at: i64,
    ) -> StoreResult<()> {
        sqlx::query("update visitor set token_hash = $1, expires_at = $2 where id = $3")
            .bind(token_hash)
            .bind(expires_at)
            .bind(id)
            .execute(&self.pool)
            .await
            .db()?;
        Ok(())
    }

    async fn set_visitor_contact(
        &self,
        id: Uuid,
        email: Option<&str>,
        phone: Option<&str>,
    ) -> StoreResult<()> {
        sqlx::query("update visitor set email = coalesce($1, email), phone = coalesce($2, phone) where id = $3")
            .bind(email)
            .bind(phone)
            .bind(id)
            .execute(&self.pool)
            .await
            .db()?;
        Ok(())
    }

    async fn set_visitor_blocked(&self, id: Uuid, blocked_at: Option<i64>) -> StoreResult<()> {
        let done = sqlx::query("update visitor set blocked_at = $1 where id = $2")
            .bind(blocked_at)
            .bind(id)
            .execute(&self.pool)
            .await
            .db()?;
        if done.rows_affected() == 0 {
            return Err(crate::store::StoreError::NotFound);
        }
        Ok(())
    }

    async fn link_customer(&self, id: Uuid, customer_id: &str, name: &str) -> StoreResult<()> {
        sqlx::query("update visitor set customer_id = $1, display_name = $2 where id = $3")
            .bind(customer_id)
            .bind(name)
            .bind(id)
            .execute(&self.pool)
            .await
            .map_err(|e| conflict_or(e, "customer already linked to another visitor"))?;
        Ok(())
    }
}
