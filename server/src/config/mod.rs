//! Settings: built-in defaults, then a TOML file, then `KEFU_*` environment variables
//! (`KEFU_ROUTING__OFFER_TIMEOUT_SECS=20`: `__` separates nesting levels).
//!
//! Every error names the key, where its value came from, and what was expected, because
//! the person reading it is an IT admin with a config file open, not a Rust developer.
//!
//! - this file: the settings types, their defaults and what other modules ask of them;
//! - `load`: assembling the sources and turning figment's errors into [`ConfigError`];
//! - `validate`: the checks serde cannot express.

pub mod init;
mod limits;
mod load;
mod redact;
pub mod service_levels;
mod validate;

use std::{path::PathBuf, time::Duration};

use figment::{
    Figment,
    providers::{Format, Toml},
};
use serde::{Deserialize, Serialize};

pub use limits::{
    AgentLimits, FrameLimits, HttpLimits, IpLimits, LoginLimits, Period, Rate, VisitorLimits,
};
pub use load::ConfigError;
pub use redact::{REDACTED, url_without_password};

/// The commented example printed by `kefu config example`; also parsed in tests so it
/// never drifts from what the loader accepts.
pub const EXAMPLE: &str = include_str!("../../kefu.example.toml");

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
    /// Who may read `/metrics` (`[metrics]`).
    #[serde(default)]
    pub metrics: MetricsSettings,
    /// Cluster mode (`[cluster]`, see `docs/CLUSTER.md`); absent: one node on its own.
    #[serde(default)]
    pub cluster: Option<ClusterSettings>,
    /// Signed builds of the desktop app for the desks (`[desk_updates]`, see
    /// `docs/desktop-updates.md`); absent: desks are not offered updates.
    #[serde(default)]
    pub desk_updates: DeskUpdateSettings,
    /// First-response and resolution targets (`[service_levels]`, see
    /// `docs/service-levels.md`); absent: nothing is tracked.
    #[serde(default)]
    pub service_levels: service_levels::ServiceLevelSettings,
}

/// Where the signed desktop builds Kefu offers to its desks live (`[desk_updates]`).
///
/// The folder holds `latest.json` (Tauri's static update format) and the bundles it names;
/// both are read on each request, so publishing a release needs no restart.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct DeskUpdateSettings {
    /// The folder (e.g. `/var/lib/kefu/desk-updates`); it must exist when kefu starts.
    /// Empty: desktop updates are off and their endpoints answer 404.
    pub dir: PathBuf,
}

impl DeskUpdateSettings {
    /// The configured folder, or `None` when desktop updates are off.
    pub fn dir(&self) -> Option<&std::path::Path> {
        (!self.dir.as_os_str().is_empty()).then_some(self.dir.as_path())
    }
}

/// Several `kefu` nodes on one PostgreSQL, joined by NATS (`[cluster]`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterSettings {
    /// NATS servers, comma-separated (`nats://10.0.0.5:4222,nats://10.0.0.6:4222`); the
    /// client learns the rest of the NATS cluster from them.
    pub nats_url: String,
    /// This node's name, unique in the cluster (logs, presence). Empty: the host name and
    /// the listening port.
    #[serde(default)]
    pub node: String,
    /// A NATS credentials file (`.creds`: user JWT and NKey seed), if the servers ask for one.
    #[serde(default)]
    pub credentials: String,
    /// Connect to NATS over TLS only (a `tls://` URL implies it).
    #[serde(default)]
    pub tls_required: bool,
    /// A PEM file of CA certificates to trust for NATS' TLS, besides the system's.
    #[serde(default)]
    pub tls_ca: String,
}

/// Where `/metrics` is served and who may read it (`[metrics]`).
///
/// By default it stays on the main port and open, as Prometheus scrapers expect; a
/// deployment reachable from the internet should set `listen` to a private address, a
/// `token`, or both (the README's config section says so).
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct MetricsSettings {
    /// Serve `/metrics` on this address only (e.g. `127.0.0.1:9464`), not on the main
    /// port. Empty: on the main port.
    pub listen: String,
    /// Require `Authorization: Bearer <token>` to read `/metrics`. Empty: no token.
    pub token: String,
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
    /// Built-in TLS (`[server.tls]`); absent or empty: plain HTTP, as behind a proxy.
    #[serde(default)]
    pub tls: TlsSettings,
}

/// HTTPS and WSS on the main port without a proxy (`[server.tls]`, see `docs/TLS.md`).
/// Both files are read at start and again on SIGHUP; a reload that fails keeps the
/// certificate in use.
#[derive(Debug, Clone, Serialize, Deserialize, Default, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct TlsSettings {
    /// PEM certificate chain: the server's certificate first, then its intermediates (a
    /// `fullchain.pem`). Empty, with `key` empty too: no TLS.
    pub cert: PathBuf,
    /// PEM private key of the certificate (PKCS#8, RSA or EC), unencrypted.
    pub key: PathBuf,
}

impl TlsSettings {
    /// Whether TLS is configured (validation has made sure both files are named).
    pub fn enabled(&self) -> bool {
        !self.cert.as_os_str().is_empty() || !self.key.as_os_str().is_empty()
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreSettings {
    /// `sqlite://path/to/kefu.db` or `postgres://…`; empty means `<data_dir>/kefu.db`.
    pub url: String,
    /// Most connections to PostgreSQL (unused by SQLite, which keeps its own few).
    pub pool_size: u32,
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
    /// Per frame kind on one socket (`[limits.frames]`).
    #[serde(default)]
    pub frames: FrameLimits,
    /// Per shopper over all its sockets and requests (`[limits.visitor]`).
    #[serde(default)]
    pub visitor: VisitorLimits,
    /// Agents' sockets (`[limits.agent]`).
    #[serde(default)]
    pub agent: AgentLimits,
    /// Per source address on unauthenticated endpoints (`[limits.ip]`).
    #[serde(default)]
    pub ip: IpLimits,
    /// Password guessing (`[limits.login]`).
    #[serde(default)]
    pub login: LoginLimits,
    /// The HTTP layer: header timeout, limiter memory (`[limits.http]`).
    #[serde(default)]
    pub http: HttpLimits,
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
                tls: TlsSettings::default(),
            },
            store: StoreSettings {
                url: String::new(),
                pool_size: 10,
            },
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
                frames: FrameLimits::default(),
                visitor: VisitorLimits::default(),
                agent: AgentLimits::default(),
                ip: IpLimits::default(),
                login: LoginLimits::default(),
                http: HttpLimits::default(),
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
            metrics: MetricsSettings::default(),
            cluster: None,
            desk_updates: DeskUpdateSettings::default(),
            service_levels: Default::default(),
        }
    }
}

/// Whether `url` names PostgreSQL (`postgres://` or `postgresql://`).
pub fn is_postgres_url(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

impl Settings {
    /// Whether [`Settings::store_url`] names PostgreSQL.
    pub fn store_is_postgres(&self) -> bool {
        is_postgres_url(&self.store.url)
    }

    /// The database URL to open (SQLite in the data directory unless `store.url` is set).
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
