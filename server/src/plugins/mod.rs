//! Plugins: behaviour retailers add without touching Kefu's core.
//!
//! A [`Plugin`] hears every message a shopper or agent sends and every turn in a
//! conversation's life (opened, assigned, transferred, closed). Through its [`Context`] it
//! can reply, leave a note for agents, tag, set priority, route to a group or agent, or stop
//! the plugins after it. Plugins run after the message is committed and acknowledged, one
//! conversation's events in order, each call time-boxed in its own task: a plugin that
//! errors, panics or overruns is logged, counted in `/metrics` and skipped, and the message
//! it was looking at has already been stored and delivered.
//!
//! Plugins hear [`Event`]s from [`crate::events`], the one stream sessions emit to.
//! - `context`: what a plugin sees and the actions it asks for.
//! - `bus`: the workers that call plugins in priority order and apply their actions.
//! - `registry`: plugin names in `kefu.toml` → plugins; unknown names fail start-up.
//! - `builtin`: keyword escalation, FAQ bot, business hours, product recommendation.
//!
//! `docs/plugins.md` walks through writing one.

pub mod builtin;
pub mod bus;
pub mod context;
pub mod registry;

use async_trait::async_trait;

pub use crate::events::{Event, Lifecycle};
pub use context::{Action, Context};
pub use registry::Registry;

use crate::store::StoredMessage;

/// What a plugin's hook returns: an error is logged and counted, and the plugin's actions
/// from that call are dropped.
pub type HookResult = anyhow::Result<()>;

/// Behaviour added to every conversation. Each hook has a default that does nothing, so a
/// plugin implements only what it needs.
#[async_trait]
pub trait Plugin: Send + Sync + 'static {
    /// The name it is declared under in `kefu.toml` (`[plugins.<name>]`); used in logs,
    /// metrics and as the sender name of its notes.
    fn name(&self) -> &str;

    /// The sender name shoppers and agents see on its replies and notes.
    fn sender_name(&self) -> &str {
        self.name()
    }

    /// Groups it may route conversations to: checked at start-up, so a misspelt group is a
    /// configuration error rather than a failure later, mid-conversation.
    fn groups(&self) -> Vec<String> {
        Vec::new()
    }

    /// Plugins with a higher priority run first; equal priorities run by name.
    fn priority(&self) -> i32 {
        0
    }

    /// A shopper or an agent sent a message (already stored and delivered). Messages from
    /// bots, plugins and Kefu itself do not come here, so plugins never answer each other.
    async fn on_message(&self, _ctx: &mut Context, _message: &StoredMessage) -> HookResult {
        Ok(())
    }

    /// A conversation opened, was assigned, transferred or closed.
    async fn on_lifecycle(&self, _ctx: &mut Context, _event: &Lifecycle) -> HookResult {
        Ok(())
    }
}
