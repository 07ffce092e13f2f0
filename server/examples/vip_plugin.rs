//! A custom `kefu` with one plugin of your own: customers of a configured tier skip the
//! queue. Build and run it exactly like `kefu`:
//!
//! ```sh
//! cargo run -p kefu-server --example vip_plugin -- -config=kefu.toml
//! ```
//!
//! with `[plugins.vip]` and `tier = "gold"` in `kefu.toml`. See `docs/plugins.md`.

use async_trait::async_trait;
use kefu_server::{
    plugins::{Context, HookResult, Plugin, Registry},
    store::{Priority, SenderRole, StoredMessage},
};

/// Customers of `tier` are answered first.
struct Vip {
    tier: String,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)] // a typo in kefu.toml fails start-up instead of being ignored
struct VipSettings {
    tier: String,
}

#[async_trait]
impl Plugin for Vip {
    fn name(&self) -> &str {
        "vip"
    }

    fn priority(&self) -> i32 {
        150
    }

    async fn on_message(&self, ctx: &mut Context, m: &StoredMessage) -> HookResult {
        if m.sender_role != SenderRole::Shopper || ctx.has_tag("vip") {
            return Ok(());
        }
        let Some(view) = ctx.customer_view().await else {
            return Ok(()); // an anonymous shopper
        };
        let tier = view.customer.data.and_then(|c| c.tier).unwrap_or_default();
        if tier == self.tier {
            ctx.tag("vip");
            ctx.set_priority(Priority::Urgent);
            ctx.note(format!("{tier} customer: answer first."));
        }
        Ok(())
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let plugins = Registry::builtin().register("vip", |s: VipSettings| Ok(Vip { tier: s.tier }));
    kefu_server::cli::main_with(plugins).await
}
