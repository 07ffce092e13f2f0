//! Plugin names in `kefu.toml` → plugins. A table `[plugins.<name>]` declares one plugin;
//! besides its own settings it may set `enabled`, `priority` (overrides the plugin's own)
//! and `timeout_ms` (the time box of each call, default 1,000). An unknown name or a bad
//! setting fails start-up with the key at fault.

use std::{collections::BTreeMap, sync::Arc, time::Duration};

use anyhow::{Context as _, anyhow};
use serde::de::DeserializeOwned;

use super::Plugin;

/// Default time box of one plugin call.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_millis(1000);

type Factory = Box<dyn Fn(serde_json::Value) -> anyhow::Result<Arc<dyn Plugin>> + Send + Sync>;

/// A plugin as declared: the plugin, where it runs in the order, and its time box.
#[derive(Clone)]
pub struct Declared {
    pub plugin: Arc<dyn Plugin>,
    pub priority: i32,
    pub timeout: Duration,
}

/// The plugins Kefu can build, by name.
pub struct Registry {
    factories: BTreeMap<String, Factory>,
}

impl Registry {
    /// No plugins at all.
    pub fn empty() -> Self {
        Self {
            factories: BTreeMap::new(),
        }
    }

    /// Kefu's built-in plugins.
    pub fn builtin() -> Self {
        super::builtin::register(Self::empty())
    }

    /// Adds a plugin built from its settings table `S` (use `#[serde(deny_unknown_fields)]`
    /// on `S` so typos are reported). `make` may refuse settings serde cannot check.
    pub fn register<S, P>(
        mut self,
        name: &str,
        make: impl Fn(S) -> anyhow::Result<P> + Send + Sync + 'static,
    ) -> Self
    where
        S: DeserializeOwned,
        P: Plugin,
    {
        let factory: Factory = Box::new(move |value| {
            let settings = serde_json::from_value(value)?;
            Ok(Arc::new(make(settings)?) as Arc<dyn Plugin>)
        });
        self.factories.insert(name.to_string(), factory);
        self
    }

    /// Names this registry knows.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.factories.keys().map(String::as_str)
    }

    /// Builds the enabled plugins of `[plugins]`, highest priority first (then by name).
    pub fn build(
        &self,
        declared: &BTreeMap<String, serde_json::Value>,
    ) -> anyhow::Result<Vec<Declared>> {
        let mut plugins = Vec::new();
        for (name, value) in declared {
            let factory = self.factories.get(name).ok_or_else(|| {
                let known: Vec<_> = self.names().collect();
                anyhow!(
                    "config key `plugins.{name}`: unknown plugin `{name}`; known plugins: {}",
                    known.join(", ")
                )
            })?;
            let mut table = match value {
                serde_json::Value::Object(t) => t.clone(),
                _ => return Err(anyhow!("config key `plugins.{name}`: expected a table")),
            };
            let enabled: Option<bool> = common(&mut table, name, "enabled")?;
            let priority: Option<i32> = common(&mut table, name, "priority")?;
            let timeout_ms: Option<u64> = common(&mut table, name, "timeout_ms")?;
            let plugin = factory(serde_json::Value::Object(table))
                .with_context(|| format!("config key `plugins.{name}`"))?;
            if enabled == Some(false) {
                continue;
            }
            if timeout_ms == Some(0) {
                return Err(anyhow!(
                    "config key `plugins.{name}.timeout_ms`: expected at least 1"
                ));
            }
            plugins.push(Declared {
                priority: priority.unwrap_or_else(|| plugin.priority()),
                timeout: timeout_ms
                    .map(Duration::from_millis)
                    .unwrap_or(DEFAULT_TIMEOUT),
                plugin,
            });
        }
        plugins.sort_by(|a, b| (b.priority, a.plugin.name()).cmp(&(a.priority, b.plugin.name())));
        Ok(plugins)
    }
}

/// Removes and parses one of the keys every plugin table accepts.
fn common<T: DeserializeOwned>(
    table: &mut serde_json::Map<String, serde_json::Value>,
    plugin: &str,
    key: &str,
) -> anyhow::Result<Option<T>> {
    table
        .remove(key)
        .map(serde_json::from_value)
        .transpose()
        .with_context(|| format!("config key `plugins.{plugin}.{key}`"))
}
