//! Demo data for the Quick start: the groups a retailer starts with and one admin account,
//! created only when the database has no agents yet.

use crate::{
    auth::password,
    store::{Group, NewAgent, Role, Store, StoreError},
};

/// The demo admin's credentials, printed at start-up in demo mode.
pub const DEMO_USER: &str = "demo";
pub const DEMO_PASSWORD: &str = "kefu-demo";

/// Creates the standard groups and, on an empty database, the demo admin.
/// Returns whether the demo account was created now.
pub async fn demo(store: &dyn Store) -> anyhow::Result<bool> {
    ensure_groups(store).await?;
    if store.count_agents().await? > 0 {
        return Ok(false);
    }
    store
        .create_agent(&NewAgent {
            username: DEMO_USER.into(),
            display_name: "Demo Agent".into(),
            password_hash: password::hash(DEMO_PASSWORD.into()).await?,
            role: Role::Admin,
            capacity: 5,
            groups: vec!["pre-sales".into(), "after-sales".into()],
        })
        .await?;
    Ok(true)
}

/// The groups every new deployment has.
pub async fn ensure_groups(store: &dyn Store) -> anyhow::Result<()> {
    for (name, display_name) in [("pre-sales", "Pre-sales"), ("after-sales", "After-sales")] {
        match store
            .create_group(&Group {
                name: name.into(),
                display_name: display_name.into(),
                members: vec![],
            })
            .await
        {
            Ok(_) | Err(StoreError::Conflict(_)) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}
