//! Signing in: a username and password become an opaque token (stored as its SHA-256);
//! a token becomes a caller on every request; logging out revokes the token and closes the
//! sockets opened with it.

use std::sync::LazyLock;

use kefu_proto::v1 as pb;

use super::Accounts;
use crate::{
    auth::{password, token},
    sessions::{AgentInfo, OpError, agent_info},
    store::{Agent, Role, StoreError, TokenRecord, Visitor, now_ms},
};

/// Verifying against this when the username is unknown keeps the response time the same,
/// so timing does not reveal which usernames exist.
static DUMMY_HASH: LazyLock<String> = LazyLock::new(|| {
    use argon2::password_hash::PasswordHasher;
    argon2::Argon2::default()
        .hash_password(b"not a real password")
        .map(|h| h.to_string())
        .unwrap_or_default()
});

/// A new sign-in: the token (shown once), when it expires, and who it is for.
pub struct SignedIn {
    pub token: String,
    pub expires_at_ms: i64,
    pub agent: Agent,
}

/// An authenticated agent request: who, and the hash of the token it used (for logout).
pub struct AgentSignIn {
    pub agent: AgentInfo,
    pub token_hash: String,
}

impl AgentSignIn {
    /// Refuses callers below `role`.
    pub fn require(&self, role: Role) -> Result<(), OpError> {
        if self.agent.role >= role {
            Ok(())
        } else {
            Err(OpError::new(
                pb::ErrorCode::Forbidden,
                format!("this needs the {role:?} role or higher").to_lowercase(),
            ))
        }
    }
}

fn unauthenticated(message: &str) -> OpError {
    OpError::new(pb::ErrorCode::Unauthenticated, message)
}

impl Accounts {
    /// Checks a password and issues a token. Wrong username and wrong password answer the
    /// same, in the same time.
    pub async fn login(&self, username: &str, pass: String) -> Result<SignedIn, OpError> {
        let agent = match self.store.agent_by_username(username.trim()).await {
            Ok(a) => Some(a),
            Err(StoreError::NotFound) => None,
            Err(e) => return Err(e.into()),
        };
        let phc = agent
            .as_ref()
            .map_or_else(|| DUMMY_HASH.clone(), |a| a.password_hash.clone());
        let ok = password::verify(pass, phc).await;
        let agent = agent
            .filter(|_| ok)
            .ok_or_else(|| unauthenticated("wrong username or password"))?;
        if agent.disabled {
            return Err(unauthenticated("this account is disabled"));
        }
        let token = token::generate(token::AGENT_PREFIX);
        let now = now_ms();
        let expires_at_ms = now + (self.settings.auth.token_ttl_hours * 3_600_000) as i64;
        self.store
            .insert_token(&TokenRecord {
                token_hash: token::hash(&token),
                agent_id: agent.id,
                created_at: now,
                expires_at: expires_at_ms,
                revoked_at: None,
            })
            .await?;
        tracing::info!(agent = %agent.username, "signed in");
        Ok(SignedIn {
            token,
            expires_at_ms,
            agent,
        })
    }

    /// Revokes the token and closes the sockets opened with it; the agent's other sign-ins
    /// (another device) stay.
    pub async fn logout(&self, who: &AgentSignIn) -> Result<(), OpError> {
        self.store.revoke_token(&who.token_hash, now_ms()).await?;
        self.sessions
            .agent_signed_out(who.agent.id, Some(&who.token_hash));
        Ok(())
    }

    /// Resolves an agent token; refuses unknown, revoked, expired tokens and disabled
    /// accounts.
    pub async fn authenticate_agent(&self, t: &str) -> Result<AgentSignIn, OpError> {
        let token_hash = token::hash(t);
        let record = match self.store.token(&token_hash).await {
            Err(StoreError::NotFound) => {
                return Err(unauthenticated("unknown token; sign in again"));
            }
            other => other?,
        };
        if record.revoked_at.is_some() {
            return Err(unauthenticated("this token was revoked; sign in again"));
        }
        if record.expires_at <= now_ms() {
            return Err(unauthenticated("this token expired; sign in again"));
        }
        let agent = self.store.agent(record.agent_id).await?;
        if agent.disabled {
            return Err(unauthenticated("this account is disabled"));
        }
        Ok(AgentSignIn {
            agent: agent_info(&agent),
            token_hash,
        })
    }

    /// Resolves a visitor token; refuses unknown and expired ones.
    pub async fn authenticate_visitor(&self, t: &str) -> Result<Visitor, OpError> {
        let visitor = match self.store.visitor_by_token(&token::hash(t)).await {
            Err(StoreError::NotFound) => return Err(unauthenticated("unknown visitor token")),
            other => other?,
        };
        if visitor.expires_at <= now_ms() {
            return Err(unauthenticated(
                "visitor token expired; start a new session",
            ));
        }
        if visitor.blocked_at.is_some() {
            return Err(super::blocking::blocked());
        }
        Ok(visitor)
    }
}
