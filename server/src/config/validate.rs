//! The checks serde cannot express: addresses, ranges, content types, site ids and origins,
//! and each connector's own settings. Each failure names the offending key and what it
//! expects; `load` adds where the value came from.

use std::net::SocketAddr;

use super::Settings;

impl Settings {
    /// Semantic checks serde cannot express. Returns the offending key and what it expects.
    pub(super) fn validate(&self) -> Result<(), (String, String)> {
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
        // Reads both files: a certificate that will not load stops start-up (and
        // `kefu config check`) here, with the key and the file named.
        if self.server.tls.enabled()
            && let Err(e) = crate::gateway::tls::check(&self.server.tls)
        {
            return bad(e.key, &e.detail);
        }
        if !self.metrics.listen.is_empty() && self.metrics.listen.parse::<SocketAddr>().is_err() {
            return bad(
                "metrics.listen",
                "expected host:port such as 127.0.0.1:9464, or empty for the main port",
            );
        }
        if !self.metrics.token.is_empty() && self.metrics.token.len() < 16 {
            return bad(
                "metrics.token",
                "expected at least 16 characters (or empty for no token)",
            );
        }
        // The folder's contents are read on each request (a release is published by copying
        // files in); only the folder itself must be there from the start.
        if let Some(dir) = self.desk_updates.dir() {
            let problem = match std::fs::metadata(dir) {
                Ok(m) if m.is_dir() => None,
                Ok(_) => Some("is not a folder".to_string()),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    Some("does not exist".to_string())
                }
                Err(e) => Some(format!("cannot be read: {e}")),
            };
            if let Some(problem) = problem {
                return bad(
                    "desk_updates.dir",
                    &format!(
                        "expected the folder holding latest.json and the desktop bundles \
                         (see docs/desktop-updates.md), or \"\" to turn desktop updates off; \
                         {} {problem}",
                        dir.display()
                    ),
                );
            }
        }
        if !self.store.url.is_empty()
            && !self.store.url.starts_with("sqlite:")
            && !super::is_postgres_url(&self.store.url)
        {
            return bad(
                "store.url",
                "expected sqlite://path or postgres://user@host:port/database",
            );
        }
        if let Some(c) = &self.cluster {
            if !self.store_is_postgres() {
                return bad(
                    "cluster",
                    "cluster mode needs PostgreSQL: set store.url = \"postgres://…\" \
                     (every node on the same database)",
                );
            }
            let urls: Vec<&str> = c.nats_url.split(',').map(str::trim).collect();
            if urls
                .iter()
                .any(|u| !["nats://", "tls://"].iter().any(|s| u.starts_with(s)) || u.len() < 8)
            {
                return bad(
                    "cluster.nats_url",
                    "expected nats://host:port (or tls://host:port), comma-separated",
                );
            }
            if !c
                .node
                .chars()
                .all(|ch| ch.is_ascii_alphanumeric() || "-_.".contains(ch))
                || c.node.len() > 64
            {
                return bad(
                    "cluster.node",
                    "expected up to 64 letters, digits, `-`, `_` or `.` (or empty for host:port)",
                );
            }
        }
        if !(1..=1000).contains(&self.store.pool_size) {
            return bad("store.pool_size", "expected between 1 and 1000");
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
        super::limits::validate(l)?;
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
            if super::init::PLACEHOLDER_SECRETS.contains(&s.identity_secret.as_str()) {
                return bad(
                    &format!("sites.{i}.identity_secret"),
                    "expected a secret of your own, not the example's placeholder (anyone who \
                     read the example could sign in as any of your customers): a long random \
                     string, e.g. `openssl rand -hex 32`, or \"\" to turn signed identities off",
                );
            }
            if s.default_group.is_empty() {
                return bad(
                    &format!("sites.{i}.default_group"),
                    "expected a group name such as pre-sales",
                );
            }
        }
        crate::webhooks::validate(&self.webhooks)?;
        self.service_levels.validate()?;
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::result_large_err)] // figment's Jail closures return figment::Error
mod tests {
    use crate::config::Settings;
    use figment::Jail;

    #[test]
    fn tls_files_are_checked_at_load_and_errors_name_key_source_and_file() {
        Jail::expect_with(|jail| {
            jail.create_file(
                "kefu.toml",
                "[server.tls]\ncert = \"missing-cert.pem\"\nkey = \"key.pem\"\n",
            )?;
            let e = Settings::load(Some("kefu.toml".as_ref())).unwrap_err();
            let text = e.to_string();
            assert_eq!(e.key, "server.tls.cert", "{text}");
            assert!(
                text.contains("kefu.toml): cannot read missing-cert.pem"),
                "names the file it came from and the file it could not read: {text}"
            );

            jail.create_file("kefu.toml", "[server.tls]\ncert = \"cert.pem\"\n")?;
            let e = Settings::load(Some("kefu.toml".as_ref())).unwrap_err();
            assert_eq!(e.key, "server.tls.key", "a certificate without a key: {e}");
            assert!(e.to_string().contains("set both"), "{e}");

            jail.create_file("kefu.toml", "[server.tls]\ncert = \"\"\nkey = \"\"\n")?;
            let s = Settings::load(Some("kefu.toml".as_ref())).map_err(|e| e.to_string())?;
            assert!(!s.server.tls.enabled(), "both empty: plain HTTP");
            Ok(())
        });
    }
}
