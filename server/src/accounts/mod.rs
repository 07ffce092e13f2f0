//! Who may act, and with what rights: agent accounts, groups, sign-in tokens, bot accounts,
//! visitors and the team's canned replies.
//!
//! This is the only door to account state. A change that affects live connections — an
//! agent disabled, deleted, re-grouped, given a new role or capacity, a token revoked —
//! reaches them here, at once, through [`Sessions`]: routing forgets or updates the agent,
//! and its sockets are closed with a typed reason ([`kefu_proto::v1::GoAwayCode`]).
//!
//! - `agents`: agent accounts and groups, with their live effects.
//! - `sign_in`: passwords → tokens, tokens → callers, logout.
//! - `visitors`: the shopper's session bootstrap and signed shop identity.
//! - `blocking`: supervisors block and unblock shoppers, audited, with live effect.
//! - `bots`: bot accounts and their tokens.
//! - `canned`: canned replies.

mod agents;
mod blocking;
mod bots;
mod canned;
mod sign_in;
mod visitors;

use std::sync::Arc;

pub use bots::new_bot;
pub use canned::CannedText;
pub use sign_in::{AgentSignIn, SignedIn};
pub use visitors::{VisitorRequest, VisitorSession};

use crate::{config::Settings, sessions::Sessions, store::Store};

/// The account service shared by every REST handler.
pub struct Accounts {
    store: Arc<dyn Store>,
    sessions: Arc<Sessions>,
    settings: Arc<Settings>,
}

impl Accounts {
    pub fn new(store: Arc<dyn Store>, sessions: Arc<Sessions>, settings: Arc<Settings>) -> Self {
        Self {
            store,
            sessions,
            settings,
        }
    }
}
