//! Settings: built-in defaults, then a TOML file, then `KEFU_*` environment variables
//! (`KEFU_ROUTING__OFFER_TIMEOUT_SECS=20`: `__` separates nesting levels).
//!
//! Every error names the key, where its value came from, and what was expected, because
//! the person reading it is an IT admin with a config file open, not a Rust developer.

use std::{net::SocketAddr, path::PathBuf, time::Duration};

use figment::{
    Figment,
    providers::{Env, Format, Serialized, Toml},
};
use serde::{Deserialize, Serialize};

/// The commented example printed by `kefu config example`; also parsed in tests so it
/// never drifts from what the loader accepts.
pub const EXAMPLE: &str = include_str!("../kefu.example.toml");

/// The `[plugins]` of [`EXAMPLE`] (keyword escalation and the FAQ bot): what `--demo` runs
/// when the configuration declares no plugins, so the Quick start shows automation.
pub fn example_plugins() -> std::collections::BTreeMap<String, serde_json::Value> {
    Figment::from(Toml::string(EXAMPLE))
        .extract_inner("plugins")
        .unwrap_or_default()
}

/// All settings of one `kefu` process.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    pub server: ServerSettings,
    pub store: StoreSettings,
    pub log: LogSettings,
    pub auth: AuthSettings,
    pub routing: RoutingSettings,
    pub limits: LimitSettings,
    pub attachments: AttachmentSettings,
    pub integrations: IntegrationSettings,
    /// The shops this deployment serves.
    pub sites: Vec<Site>,
    /// In-process plugins, one table each: `[plugins.keyword_escalation]`, `[plugins.faq]`…
    /// (see `docs/plugins.md`). Checked when the server starts.
    #[serde(default)]
    pub plugins: std::collections::BTreeMap<String, serde_json::Value>,
    /// Outgoing webhooks (`[[webhooks]]`).
    #[serde(default)]
    pub webhooks: Vec<crate::webhooks::WebhookSettings>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSettings {
    /// Address to listen on.
    pub listen: String,
    /// Where the database and attachments live by default.
    pub data_dir: PathBuf,
    /// Seconds to wait for connections to drain on shutdown.
    pub shutdown_grace_secs: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreSettings {
    /// `sqlite://path/to/kefu.db`; empty means `<data_dir>/kefu.db`.
    pub url: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogSettings {
    /// `human` or `json`.
    pub format: String,
    /// A tracing filter, e.g. `info` or `kefu_server=debug,info`; `RUST_LOG` wins if set.
    pub level: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthSettings {
    /// Lifetime of an agent login token.
    pub token_ttl_hours: u64,
    /// Lifetime of a shopper's visitor token (renewed on each visit).
    pub visitor_ttl_days: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoutingSettings {
    /// Concurrent conversations per agent unless the account says otherwise.
    pub default_capacity: u32,
    /// Seconds an offer waits for acceptance before moving on.
    pub offer_timeout_secs: u64,
    /// Assign offered conversations at once instead of waiting for Accept.
    pub auto_accept: bool,
    /// Seconds an agent may be disconnected before losing its conversations.
    pub agent_grace_secs: u64,
    /// Seconds without a message before a conversation closes by itself (0: never).
    pub idle_close_secs: u64,
    /// Seconds after closing during which a shopper writing again reopens the conversation.
    pub reopen_window_secs: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitSettings {
    /// Largest WebSocket frame accepted, bytes.
    pub max_frame_bytes: usize,
    /// Largest text in one message, bytes.
    pub max_text_bytes: usize,
    /// Per-socket read buffer, bytes (small keeps idle sockets cheap).
    pub ws_read_buffer_bytes: usize,
    /// Frames queued for one connection before it is disconnected as too slow.
    pub outbound_queue: usize,
    /// Sustained messages per second one socket may send.
    pub messages_per_second: u32,
    /// Burst above that rate.
    pub messages_burst: u32,
    /// Most messages one history page or resume batch returns.
    pub history_page_max: u32,
    /// Seconds between heartbeats a client must keep.
    pub heartbeat_secs: u64,
    /// Largest JSON request body, bytes.
    pub max_json_bytes: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttachmentSettings {
    /// Directory for uploads; empty means `<data_dir>/attachments`.
    pub dir: PathBuf,
    /// Largest upload, bytes.
    pub max_bytes: usize,
    /// Content types accepted.
    pub allowed_types: Vec<String>,
}

/// The retailer's back office (`[integrations]`).
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct IntegrationSettings {
    /// Timeouts, retries and caching of back-office lookups.
    #[serde(default)]
    pub cache: crate::integrations::view::ViewSettings,
    /// The generic REST connector; absent means no customer view.
    #[serde(default)]
    pub backoffice: Option<crate::integrations::rest::RestSettings>,
    /// A Shopify shop as the back office (instead of `backoffice`).
    #[serde(default)]
    pub shopify: Option<crate::integrations::shopify::ShopifySettings>,
    /// Limits on actions agents take from the chat.
    #[serde(default)]
    pub actions: ActionSettings,
}

/// Limits on actions from the chat (`[integrations.actions]`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ActionSettings {
    /// Largest return or cancellation an agent may make, in minor units of the order's
    /// currency (100000 = 1,000.00); above it, supervisors only.
    pub agent_limit_minor: i64,
}

impl Default for ActionSettings {
    fn default() -> Self {
        Self {
            agent_limit_minor: 100_000,
        }
    }
}

/// One shop served by this deployment.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Site {
    /// Widget id used in the embed snippet (`data-site`).
    pub id: String,
    /// Shop name shown to agents.
    pub name: String,
    /// Origins allowed to open shopper sockets (e.g. `https://shop.example`).
    pub allowed_origins: Vec<String>,
    /// Secret the shop's backend uses to sign customer ids (HMAC-SHA256). Empty disables
    /// signed identities for this site.
    #[serde(default)]
    pub identity_secret: String,
    /// Group new conversations queue in.
    pub default_group: String,
    /// Greeting the widget shows when a shopper opens it; empty uses the widget's own
    /// greeting in the shopper's language.
    #[serde(default)]
    pub welcome: String,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            server: ServerSettings {
                listen: "127.0.0.1:8080".into(),
                data_dir: PathBuf::from("kefu-data"),
                shutdown_grace_secs: 10,
            },
            store: StoreSettings { url: String::new() },
            log: LogSettings {
                format: "human".into(),
                level: "info".into(),
            },
            auth: AuthSettings {
                token_ttl_hours: 12,
                visitor_ttl_days: 90,
            },
            routing: RoutingSettings {
                default_capacity: 5,
                offer_timeout_secs: 30,
                auto_accept: false,
                agent_grace_secs: 60,
                idle_close_secs: 3600,
                reopen_window_secs: 1800,
            },
            limits: LimitSettings {
                max_frame_bytes: 64 * 1024,
                max_text_bytes: 16 * 1024,
                ws_read_buffer_bytes: 1024,
                outbound_queue: 256,
                messages_per_second: 10,
                messages_burst: 30,
                history_page_max: 200,
                heartbeat_secs: 30,
                max_json_bytes: 64 * 1024,
            },
            attachments: AttachmentSettings {
                dir: PathBuf::new(),
                max_bytes: 10 * 1024 * 1024,
                allowed_types: [
                    "image/png",
                    "image/jpeg",
                    "image/gif",
                    "image/webp",
                    "application/pdf",
                    "text/plain",
                ]
                .map(String::from)
                .to_vec(),
            },
            integrations: IntegrationSettings::default(),
            sites: Vec::new(),
            plugins: Default::default(),
            webhooks: Vec::new(),
        }
    }
}

/// A configuration error, worded for the person who wrote the config.
#[derive(Debug, thiserror::Error)]
#[error("config key `{key}` (from {source_name}): {expected}")]
pub struct ConfigError {
    pub key: String,
    pub source_name: String,
    pub expected: String,
}

impl Settings {
    /// Loads defaults, then `file` if given, then `KEFU_*` variables, and validates.
    pub fn load(file: Option<&std::path::Path>) -> Result<Self, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Settings::default()));
        if let Some(path) = file {
            if !path.exists() {
                return Err(ConfigError {
                    key: "--config".into(),
                    source_name: "the command line".into(),
                    expected: format!("file {} does not exist", path.display()),
                });
            }
            figment = figment.merge(Toml::file_exact(path));
        }
        figment = figment.merge(Env::prefixed("KEFU_").split("__"));
        Self::from_figment(&figment)
    }

    /// Extracts and validates settings from an assembled figment.
    pub fn from_figment(figment: &Figment) -> Result<Self, ConfigError> {
        let settings: Settings = figment.extract().map_err(|e| describe(figment, e))?;
        settings.validate().map_err(|(key, expected)| ConfigError {
            source_name: source_of(figment, &key),
            key,
            expected,
        })?;
        Ok(settings)
    }

    /// Semantic checks serde cannot express. Returns the offending key and what it expects.
    fn validate(&self) -> Result<(), (String, String)> {
        let bad = |k: &str, e: &str| Err((k.to_string(), e.to_string()));
        if self.server.listen.parse::<SocketAddr>().is_err() {
            return bad(
                "server.listen",
                &format!(
                    "expected host:port such as 127.0.0.1:8080, got `{}`",
                    self.server.listen
                ),
            );
        }
        if !self.store.url.is_empty() && !self.store.url.starts_with("sqlite:") {
            return bad(
                "store.url",
                "expected sqlite://path (PostgreSQL arrives with cluster mode)",
            );
        }
        if !["human", "json"].contains(&self.log.format.as_str()) {
            return bad("log.format", "expected `human` or `json`");
        }
        if tracing_subscriber::EnvFilter::try_new(&self.log.level).is_err() {
            return bad(
                "log.level",
                "expected a tracing filter such as `info` or `kefu_server=debug`",
            );
        }
        if self.auth.token_ttl_hours == 0 || self.auth.visitor_ttl_days == 0 {
            return bad("auth", "token lifetimes must be at least 1");
        }
        if self.routing.offer_timeout_secs == 0 {
            return bad("routing.offer_timeout_secs", "expected at least 1 second");
        }
        let l = &self.limits;
        if !(1024..=16 * 1024 * 1024).contains(&l.max_frame_bytes) {
            return bad(
                "limits.max_frame_bytes",
                "expected between 1024 and 16777216",
            );
        }
        if l.max_text_bytes == 0 || l.max_text_bytes >= l.max_frame_bytes {
            return bad(
                "limits.max_text_bytes",
                "expected above 0 and below limits.max_frame_bytes",
            );
        }
        if !(1024..=128 * 1024).contains(&l.ws_read_buffer_bytes) {
            return bad(
                "limits.ws_read_buffer_bytes",
                "expected between 1024 and 131072",
            );
        }
        if l.outbound_queue == 0
            || l.messages_per_second == 0
            || l.history_page_max == 0
            || l.heartbeat_secs == 0
        {
            return bad(
                "limits",
                "queue sizes, rates, page size and heartbeat must be at least 1",
            );
        }
        if self.attachments.max_bytes == 0 {
            return bad("attachments.max_bytes", "expected at least 1");
        }
        for (i, t) in self.attachments.allowed_types.iter().enumerate() {
            if t.parse::<mime::Mime>().is_err() || t.contains("svg") || t.contains("html") {
                return bad(
                    &format!("attachments.allowed_types.{i}"),
                    "expected a content type such as image/png; HTML and SVG are never served",
                );
            }
        }
        if let Some(b) = &self.integrations.backoffice
            && let Err((k, e)) = b.validate()
        {
            return bad(&format!("integrations.backoffice.{k}"), &e);
        }
        if let Some(s) = &self.integrations.shopify
            && let Err((k, e)) = s.validate()
        {
            return bad(&format!("integrations.shopify.{k}"), &e);
        }
        if self.integrations.shopify.is_some() && self.integrations.backoffice.is_some() {
            return bad(
                "integrations.shopify",
                "configure either backoffice or shopify, not both",
            );
        }
        if self.integrations.cache.timeout_ms == 0 {
            return bad("integrations.cache.timeout_ms", "expected at least 1");
        }
        let mut ids = std::collections::HashSet::new();
        for (i, s) in self.sites.iter().enumerate() {
            if s.id.is_empty()
                || !s
                    .id
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            {
                return bad(
                    &format!("sites.{i}.id"),
                    "expected letters, digits, `-` or `_`",
                );
            }
            if !ids.insert(&s.id) {
                return bad(
                    &format!("sites.{i}.id"),
                    &format!("site id `{}` appears twice", s.id),
                );
            }
            for (j, o) in s.allowed_origins.iter().enumerate() {
                if !(o.starts_with("http://") || o.starts_with("https://")) || o.ends_with('/') {
                    return bad(
                        &format!("sites.{i}.allowed_origins.{j}"),
                        "expected an origin like https://shop.example (scheme and host, no path)",
                    );
                }
            }
            if s.default_group.is_empty() {
                return bad(
                    &format!("sites.{i}.default_group"),
                    "expected a group name such as pre-sales",
                );
            }
        }
        crate::webhooks::validate(&self.webhooks)?;
        Ok(())
    }

    /// The SQLite URL to open.
    pub fn store_url(&self) -> String {
        if self.store.url.is_empty() {
            format!(
                "sqlite://{}",
                self.server.data_dir.join("kefu.db").display()
            )
        } else {
            self.store.url.clone()
        }
    }

    /// Directory for attachment bytes.
    pub fn attachment_dir(&self) -> PathBuf {
        if self.attachments.dir.as_os_str().is_empty() {
            self.server.data_dir.join("attachments")
        } else {
            self.attachments.dir.clone()
        }
    }

    /// Looks a site up by its widget id.
    pub fn site(&self, id: &str) -> Option<&Site> {
        self.sites.iter().find(|s| s.id == id)
    }

    pub fn heartbeat(&self) -> Duration {
        Duration::from_secs(self.limits.heartbeat_secs)
    }
}

fn source_of(figment: &Figment, key: &str) -> String {
    figment
        .find_metadata(key)
        .map(|m| source_name(m, key))
        .unwrap_or_else(|| "built-in defaults".into())
}

/// Names a value's origin the way an admin would look for it: a file path, or the exact
/// environment variable.
fn source_name(m: &figment::Metadata, key: &str) -> String {
    if m.name.contains("environment") {
        return format!(
            "environment variable KEFU_{}",
            key.replace('.', "__").to_uppercase()
        );
    }
    match &m.source {
        Some(figment::Source::File(p)) => p.display().to_string(),
        _ => m.name.to_string(),
    }
}

fn describe(figment: &Figment, e: figment::Error) -> ConfigError {
    let key = e.path.join(".");
    let source_name = match &e.metadata {
        Some(m) => source_name(m, &key),
        None => source_of(figment, &key),
    };
    let expected = match &e.kind {
        figment::error::Kind::UnknownField(f, _) => {
            return ConfigError {
                key: if key.is_empty() {
                    f.clone()
                } else {
                    format!("{key}.{f}")
                },
                source_name,
                expected: "unknown key; `kefu config example` lists every key".into(),
            };
        }
        figment::error::Kind::InvalidType(actual, expected) => {
            format!("expected {expected}, found {actual}")
        }
        figment::error::Kind::Message(m) => m.clone(),
        other => other.to_string(),
    };
    ConfigError {
        key,
        source_name,
        expected,
    }
}

#[cfg(test)]
#[allow(clippy::result_large_err)] // figment's Jail closures return figment::Error
mod tests {
    use super::*;
    use figment::Jail;

    #[test]
    fn example_config_loads_as_written() {
        Jail::expect_with(|jail| {
            jail.create_file("kefu.toml", EXAMPLE)?;
            let s = Settings::load(Some("kefu.toml".as_ref())).map_err(|e| e.to_string())?;
            assert_eq!(s.sites.len(), 1, "the example declares one demo site");
            Ok(())
        });
    }

    #[test]
    fn env_overrides_file_and_errors_name_the_variable() {
        Jail::expect_with(|jail| {
            jail.create_file("kefu.toml", "[routing]\noffer_timeout_secs = 12\n")?;
            jail.set_env("KEFU_ROUTING__AUTO_ACCEPT", "true");
            let s = Settings::load(Some("kefu.toml".as_ref())).map_err(|e| e.to_string())?;
            assert_eq!(
                s.routing.offer_timeout_secs, 12,
                "the file overrides the default"
            );
            assert!(
                s.routing.auto_accept,
                "the environment overrides the default"
            );

            jail.set_env("KEFU_ROUTING__OFFER_TIMEOUT_SECS", "soon");
            let err = Settings::load(Some("kefu.toml".as_ref()))
                .unwrap_err()
                .to_string();
            assert!(
                err.contains("routing.offer_timeout_secs"),
                "names the key: {err}"
            );
            assert!(
                err.contains("KEFU_ROUTING__OFFER_TIMEOUT_SECS"),
                "names the variable: {err}"
            );
            Ok(())
        });
    }

    #[test]
    fn bad_file_values_name_the_file_and_key() {
        Jail::expect_with(|jail| {
            jail.create_file("prod.toml", "[server]\nlisten = \"everywhere\"\n")?;
            let err = Settings::load(Some("prod.toml".as_ref()))
                .unwrap_err()
                .to_string();
            assert!(
                err.starts_with("config key `server.listen` (from "),
                "{err}"
            );
            assert!(err.contains("prod.toml"), "names the file: {err}");

            jail.create_file("typo.toml", "[routing]\nofer_timeout_secs = 3\n")?;
            let err = Settings::load(Some("typo.toml".as_ref()))
                .unwrap_err()
                .to_string();
            assert!(
                err.contains("ofer_timeout_secs") && err.contains("unknown key"),
                "{err}"
            );
            Ok(())
        });
    }

    #[test]
    fn a_bad_backoffice_url_names_its_key() {
        Jail::expect_with(|jail| {
            jail.create_file(
                "kefu.toml",
                "[integrations.backoffice]\nbase_url = \"erp.local\"\n",
            )?;
            let err = Settings::load(Some("kefu.toml".as_ref()))
                .unwrap_err()
                .to_string();
            assert!(err.contains("integrations.backoffice.base_url"), "{err}");
            jail.create_file(
                "ok.toml",
                "[integrations.backoffice]\nbase_url = \"http://127.0.0.1:8090\"\n",
            )?;
            let s = Settings::load(Some("ok.toml".as_ref())).map_err(|e| e.to_string())?;
            assert_eq!(
                s.integrations.backoffice.unwrap().paths.orders_by_customer,
                "/customers/{customer_id}/orders"
            );
            Ok(())
        });
    }

    #[test]
    fn missing_file_is_an_error() {
        let err = Settings::load(Some("/nonexistent/kefu.toml".as_ref()))
            .unwrap_err()
            .to_string();
        assert!(err.contains("does not exist"), "{err}");
    }
}
