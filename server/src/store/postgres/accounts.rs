//! [`Accounts`] on PostgreSQL: agents (with their group memberships), groups, agent tokens.

use async_trait::async_trait;
use sqlx::{FromRow, Postgres, Row, Transaction, postgres::PgRow};
use uuid::Uuid;

use super::{
    PgStore,
    error::{Db, conflict_or},
    named, one, touched,
};
use crate::store::{
    Accounts, Agent, AgentPatch, Group, NewAgent, Role, StoreError, StoreResult, TokenRecord,
    now_ms,
};

impl FromRow<'_, PgRow> for Agent {
    fn from_row(row: &PgRow) -> sqlx::Result<Self> {
        Ok(Self {
            id: row.try_get("id")?,
            username: row.try_get("username")?,
            display_name: row.try_get("display_name")?,
            password_hash: row.try_get("password_hash")?,
            role: named(row, "role")?,
            capacity: row.try_get("capacity")?,
            disabled: row.try_get("disabled")?,
            created_at: row.try_get("created_at")?,
            // Filled from `agent_group_member` by `with_groups`.
            groups: Vec::new(),
        })
    }
}

impl FromRow<'_, PgRow> for TokenRecord {
    fn from_row(row: &PgRow) -> sqlx::Result<Self> {
        Ok(Self {
            token_hash: row.try_get("token_hash")?,
            agent_id: row.try_get("agent_id")?,
            created_at: row.try_get("created_at")?,
            expires_at: row.try_get("expires_at")?,
            revoked_at: row.try_get("revoked_at")?,
        })
    }
}

async fn set_groups(
    tx: &mut Transaction<'_, Postgres>,
    agent: Uuid,
    groups: &[String],
) -> StoreResult<()> {
    sqlx::query("delete from agent_group_member where agent_id = $1")
        .bind(agent)
        .execute(&mut **tx)
        .await
        .db()?;
    for g in groups {
        sqlx::query("insert into agent_group_member (agent_id, group_name) values ($1, $2)")
            .bind(agent)
            .bind(g)
            .execute(&mut **tx)
            .await
            .map_err(|e| conflict_or(e, &format!("group `{g}` does not exist")))?;
    }
    Ok(())
}

impl PgStore {
    async fn with_groups(&self, mut agent: Agent) -> StoreResult<Agent> {
        agent.groups = sqlx::query_scalar(
            "select group_name from agent_group_member where agent_id = $1 order by group_name",
        )
        .bind(agent.id)
        .fetch_all(&self.pool)
        .await
        .db()?;
        Ok(agent)
    }
}

#[async_trait]
impl Accounts for PgStore {
    async fn create_agent(&self, a: &NewAgent) -> StoreResult<Agent> {
        let id = Uuid::now_v7();
        let mut tx = self.pool.begin().await.db()?;
        sqlx::query(
            "insert into agent (id, username, display_name, password_hash, role, capacity, created_at) \
             values ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(id)
        .bind(&a.username)
        .bind(&a.display_name)
        .bind(&a.password_hash)
        .bind(a.role.as_str())
        .bind(a.capacity)
        .bind(now_ms())
        .execute(&mut *tx)
        .await
        .map_err(|e| conflict_or(e, &format!("username `{}` is taken", a.username)))?;
        set_groups(&mut tx, id, &a.groups).await?;
        tx.commit().await.db()?;
        self.agent(id).await
    }

    async fn agent(&self, id: Uuid) -> StoreResult<Agent> {
        let agent = sqlx::query_as::<_, Agent>("select * from agent where id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .db()?;
        self.with_groups(one(agent)?).await
    }

    async fn agent_by_username(&self, username: &str) -> StoreResult<Agent> {
        let agent = sqlx::query_as::<_, Agent>("select * from agent where username = $1")
            .bind(username)
            .fetch_optional(&self.pool)
            .await
            .db()?;
        self.with_groups(one(agent)?).await
    }

    async fn list_agents(&self) -> StoreResult<Vec<Agent>> {
        let agents = sqlx::query_as::<_, Agent>("select * from agent order by username")
            .fetch_all(&self.pool)
            .await
            .db()?;
        let mut out = Vec::with_capacity(agents.len());
        for a in agents {
            out.push(self.with_groups(a).await?);
        }
        Ok(out)
    }

    async fn update_agent(&self, id: Uuid, p: &AgentPatch) -> StoreResult<Agent> {
        let mut tx = self.pool.begin().await.db()?;
        let done = sqlx::query(
            "update agent set display_name = coalesce($1, display_name), \
             password_hash = coalesce($2, password_hash), role = coalesce($3, role), \
             capacity = coalesce($4, capacity), disabled = coalesce($5, disabled) where id = $6",
        )
        .bind(&p.display_name)
        .bind(&p.password_hash)
        .bind(p.role.map(Role::as_str))
        .bind(p.capacity)
        .bind(p.disabled)
        .bind(id)
        .execute(&mut *tx)
        .await
        .db()?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        if let Some(groups) = &p.groups {
            set_groups(&mut tx, id, groups).await?;
        }
        if p.disabled == Some(true) || p.password_hash.is_some() {
            sqlx::query(
                "update auth_token set revoked_at = $1 where agent_id = $2 and revoked_at is null",
            )
            .bind(now_ms())
            .bind(id)
            .execute(&mut *tx)
            .await
            .db()?;
        }
        tx.commit().await.db()?;
        self.agent(id).await
    }

    async fn delete_agent(&self, id: Uuid) -> StoreResult<()> {
        // Conversations keep their history: an agent with conversations is disabled instead.
        let has_history: i64 =
            sqlx::query_scalar("select count(*) from conversation where agent_id = $1")
                .bind(id)
                .fetch_one(&self.pool)
                .await
                .db()?;
        if has_history > 0 {
            self.update_agent(
                id,
                &AgentPatch {
                    disabled: Some(true),
                    ..Default::default()
                },
            )
            .await?;
            return Ok(());
        }
        touched(
            sqlx::query("delete from agent where id = $1")
                .bind(id)
                .execute(&self.pool)
                .await
                .db()?,
        )
    }

    async fn count_agents(&self) -> StoreResult<i64> {
        sqlx::query_scalar("select count(*) from agent")
            .fetch_one(&self.pool)
            .await
            .db()
    }

    async fn create_group(&self, g: &Group) -> StoreResult<Group> {
        sqlx::query("insert into agent_group (name, display_name, created_at) values ($1, $2, $3)")
            .bind(&g.name)
            .bind(&g.display_name)
            .bind(now_ms())
            .execute(&self.pool)
            .await
            .map_err(|e| conflict_or(e, &format!("group `{}` exists", g.name)))?;
        Ok(Group {
            name: g.name.clone(),
            display_name: g.display_name.clone(),
            members: vec![],
        })
    }

    async fn list_groups(&self) -> StoreResult<Vec<Group>> {
        let rows = sqlx::query("select name, display_name from agent_group order by name")
            .fetch_all(&self.pool)
            .await
            .db()?;
        let mut groups = Vec::with_capacity(rows.len());
        for r in rows {
            let name: String = r.try_get("name").db()?;
            let members =
                sqlx::query_scalar("select agent_id from agent_group_member where group_name = $1")
                    .bind(&name)
                    .fetch_all(&self.pool)
                    .await
                    .db()?;
            groups.push(Group {
                name,
                display_name: r.try_get("display_name").db()?,
                members,
            });
        }
        Ok(groups)
    }

    async fn delete_group(&self, name: &str) -> StoreResult<()> {
        touched(
            sqlx::query("delete from agent_group where name = $1")
                .bind(name)
                .execute(&self.pool)
                .await
                .db()?,
        )
    }

    async fn insert_token(&self, t: &TokenRecord) -> StoreResult<()> {
        sqlx::query(
            "insert into auth_token (token_hash, agent_id, created_at, expires_at) values ($1, $2, $3, $4)",
        )
        .bind(&t.token_hash)
        .bind(t.agent_id)
        .bind(t.created_at)
        .bind(t.expires_at)
        .execute(&self.pool)
        .await
        .db()?;
        Ok(())
    }

    async fn token(&self, token_hash: &str) -> StoreResult<TokenRecord> {
        one(
            sqlx::query_as("select * from auth_token where token_hash = $1")
                .bind(token_hash)
                .fetch_optional(&self.pool)
                .await
                .db()?,
        )
    }

    async fn revoke_token(&self, token_hash: &str, at: i64) -> StoreResult<()> {
        sqlx::query(
            "update auth_token set revoked_at = $1 where token_hash = $2 and revoked_at is null",
        )
        .bind(at)
        .bind(token_hash)
        .execute(&self.pool)
        .await
        .db()?;
        Ok(())
    }
}
