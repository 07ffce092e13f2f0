//! Durable state: accounts, tokens, visitors, conversations, messages, canned replies,
//! attachments, the audit log, bots and webhook deliveries.
//!
//! # Layout
//! - `model`: the rows, plain data that names no database library.
//! - One trait per resource, each in its own file: [`Accounts`] (agents, groups, tokens),
//!   [`Visitors`], [`Conversations`] (incl. rating, tags, priority), [`Messages`] (incl.
//!   attachments), [`CannedReplies`], [`Audit`], [`Bots`], [`WebhookLog`], and the
//!   supervisors' reads: [`Reports`], [`Search`], [`Floor`], [`ServiceLevels`].
//! - [`Store`]: all of them plus `ping` and `close`; the rest of Kefu holds an
//!   `Arc<dyn Store>` (code holding a concrete backend imports [`prelude`]).
//! - [`StoreError`]: what went wrong, in terms a caller can act on; each backend maps its
//!   driver's errors onto it and no driver type leaves the backend's module.
//! - `sqlite`: the embedded backend (the default); `postgres`: PostgreSQL, for cluster mode.
//!   Each mirrors the other: one file per resource, driver errors mapped in `error.rs`, the
//!   batched message writer in `append.rs`, migrations in `migrations/<backend>/`.
//! - [`copy`]: `kefu store copy`, every row of a SQLite database into an empty PostgreSQL
//!   one, driven by a per-table column list.
//! - `schema`: running a backend's migrations; a database newer than the binary is refused.
//! - `tests` (test builds only): the behaviour every backend must show, over `&dyn Store`.
//!
//! Ids are UUIDs, times are unix milliseconds, so the SQL stays portable.

mod accounts;
mod audit;
mod bots;
mod canned;
mod conversations;
pub mod copy;
pub(crate) mod floor;
mod messages;
mod model;
pub mod postgres;
mod reports;
mod schema;
mod search;
mod service_levels;
pub mod sqlite;
#[cfg(test)]
pub(crate) mod tests;
mod visitors;
mod webhooks;

pub use accounts::Accounts;
pub use audit::Audit;
pub use bots::Bots;
pub use canned::CannedReplies;
pub use conversations::{Conversations, OPEN_ALREADY};
pub use floor::{Floor, FloorAccount, FloorFacts, QueueFacts, RecentConversation};
pub use messages::Messages;
pub use model::*;
pub use reports::{ConversationFacts, ReportFilter, Reports};
pub use search::{Search, SearchPage, SearchQuery, SearchResult, SearchScope};
pub use service_levels::{OpenBreach, OpenClock, ServiceLevels, Target, UnknownTarget};
pub use visitors::Visitors;
pub use webhooks::WebhookLog;

use async_trait::async_trait;

/// The newest schema version this build knows on either backend (`kefu doctor` and
/// `kefu restore` compare a database's with it).
pub(crate) fn latest_schema_version(postgres: bool) -> i64 {
    schema::latest(if postgres {
        &postgres::MIGRATOR
    } else {
        &sqlite::MIGRATOR
    })
}

/// The store's traits in one import: `use crate::store::prelude::*;`
/// (`kefu_server::store::prelude::*` outside the crate). Calls on an `Arc<dyn Store>` need
/// none (a trait object's supertraits are in scope); calls on a concrete backend such as
/// `SqliteStore`, or through a generic `S: Store`, do.
pub mod prelude {
    pub use super::{
        Accounts, Audit, Bots, CannedReplies, Conversations, Messages, Reports, Search,
        ServiceLevels, Store, Visitors, WebhookLog,
    };
}

/// The cause behind an error, whatever the backend.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Errors a store reports to its callers. Backend-neutral: each backend maps its driver's
/// errors onto these variants, which say what the caller should do.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A row the caller referenced does not exist; nothing changed. Answer "not found", or
    /// treat it as "absent" where absence is normal (an unknown token, no earlier chat).
    #[error("not found")]
    NotFound,
    /// A constraint refused the write (a username already taken, a group that does not
    /// exist). The message says which, in words fit for the user who asked: show it. The
    /// same write will fail the same way.
    #[error("conflict: {0}")]
    Conflict(String),
    /// The database could not take the operation now: unreachable, pool exhausted or
    /// closed, I/O failure, disk full, locked for too long. The operation did not happen
    /// and may succeed later: answer "retry later"; readiness should fail while it lasts.
    #[error("database error: {0}")]
    Unavailable(#[source] BoxError),
    /// A stored row could not be read into the model (an unknown enum name, JSON that does
    /// not parse, a damaged file). Retrying will not help: log it, answer "internal error";
    /// the data needs looking at.
    #[error("unreadable data in the database: {0}")]
    Corrupt(#[source] BoxError),
    /// The backend failed in a way no other variant describes, most likely a bug in a
    /// query. The operation did not happen: log it and answer "internal error".
    #[error("database error: {0}")]
    Internal(#[source] BoxError),
    /// The store cannot be opened as configured (e.g. a database URL the backend cannot
    /// use). Start-up stops; the message says what to change.
    #[error("invalid store configuration: {0}")]
    Config(String),
    /// Start-up could not bring the schema to this version (a migration failed, or the
    /// database was migrated by a newer Kefu). Start-up stops; the message names the
    /// migration.
    #[error("migration failed: {0}")]
    Migration(#[source] BoxError),
}

/// Result of store calls.
pub type StoreResult<T> = Result<T, StoreError>;

/// Everything Kefu keeps on disk: every resource trait, plus the store's own lifecycle.
/// Implementations must be safe to call from many tasks.
#[async_trait]
pub trait Store:
    Accounts
    + Visitors
    + Conversations
    + Messages
    + CannedReplies
    + Audit
    + Bots
    + WebhookLog
    + Reports
    + ServiceLevels
    + Search
    + Floor
    + 'static
{
    /// Cheap liveness probe of the database.
    async fn ping(&self) -> StoreResult<()>;

    /// Flushes and closes the database at shutdown.
    async fn close(&self);
}
