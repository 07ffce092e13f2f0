//! Built-in TLS (`[server.tls]`): HTTPS and WSS on the main port for deployments without a
//! proxy. rustls on the aws-lc-rs provider (the one reqwest and sqlx already link), TLS 1.2
//! and 1.3 with rustls' default suites, ALPN `http/1.1` only (the server is HTTP/1 with
//! WebSocket upgrades).
//!
//! - [`Tls::load`] reads the PEM chain and key, checks the key belongs to the certificate,
//!   and logs the certificate's subject, names and expiry. Its errors name the config key
//!   and the file, like every config error (`config::validate` runs the same load at start).
//! - The certificate sits behind a [`ResolvesServerCert`] holding an `Arc<CertifiedKey>`:
//!   [`Tls::reload`] swaps it, so new handshakes get the new certificate while connections
//!   already open keep theirs, and a reload that fails leaves the old one in place.
//! - [`spawn_sighup`] reloads on SIGHUP (`systemctl reload kefu`); without TLS it logs that
//!   there is nothing to reload instead of letting SIGHUP's default action kill the server.
//! - [`handshake`] runs in each connection's task, bounded by
//!   `limits.http.header_read_timeout_secs` like the request headers after it, so a client
//!   that opens TCP and never says hello cannot hold a descriptor; one that speaks plain
//!   HTTP to this port is told to use https.

use std::{
    net::SocketAddr,
    path::Path,
    sync::{Arc, PoisonError, RwLock},
    time::Duration,
};

use tokio::{
    io::AsyncWriteExt as _,
    net::TcpStream,
    sync::watch,
    time::{Instant, timeout_at},
};
use tokio_rustls::{
    TlsAcceptor,
    rustls::{
        self, InconsistentKeys, ServerConfig,
        crypto::{CryptoProvider, aws_lc_rs},
        pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject},
        server::{ClientHello, ResolvesServerCert},
        sign::CertifiedKey,
    },
    server::TlsStream,
};

use crate::config::TlsSettings;

const CERT_KEY: &str = "server.tls.cert";
const KEY_KEY: &str = "server.tls.key";

/// A certificate or key that cannot be used, worded like a config error: the key it came
/// from and what is wrong with which file.
#[derive(Debug, thiserror::Error)]
#[error("config key `{key}`: {detail}")]
pub struct TlsError {
    /// `server.tls.cert`, `server.tls.key` or `server.tls`.
    pub key: &'static str,
    /// What is wrong, naming the file.
    pub detail: String,
}

fn fail(key: &'static str, detail: impl Into<String>) -> TlsError {
    TlsError {
        key,
        detail: detail.into(),
    }
}

/// The server's TLS: one acceptor for the life of the process, whose certificate
/// [`Tls::reload`] replaces.
pub struct Tls {
    settings: TlsSettings,
    current: Arc<Current>,
    acceptor: TlsAcceptor,
}

impl std::fmt::Debug for Tls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tls")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

/// The certificate new handshakes get.
#[derive(Debug)]
struct Current(RwLock<Arc<CertifiedKey>>);

impl ResolvesServerCert for Current {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        // A clone of an `Arc` under a read lock: writers (a reload) are rare and quick.
        Some(
            self.0
                .read()
                .unwrap_or_else(PoisonError::into_inner)
                .clone(),
        )
    }
}

impl Tls {
    /// Reads `settings.cert` and `settings.key` and builds the acceptor. Errors name the
    /// config key and the file.
    pub fn load(settings: &TlsSettings) -> Result<Self, TlsError> {
        let provider = provider();
        let (key, summary) = certified_key(settings, &provider)?;
        summary.log("TLS certificate loaded");
        let current = Arc::new(Current(RwLock::new(Arc::new(key))));
        let mut config = ServerConfig::builder_with_provider(Arc::new(provider))
            .with_safe_default_protocol_versions()
            .map_err(|e| fail("server.tls", format!("setting up TLS: {e}")))?
            .with_no_client_auth()
            .with_cert_resolver(current.clone());
        // HTTP/1.1 only: a client offering nothing but h2 is refused in the handshake
        // rather than spoken to in a protocol it did not ask for.
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Self {
            settings: settings.clone(),
            current,
            acceptor: TlsAcceptor::from(Arc::new(config)),
        })
    }

    /// The acceptor for new connections (cheap to clone).
    pub fn acceptor(&self) -> TlsAcceptor {
        self.acceptor.clone()
    }

    /// Reads the files again; on success new handshakes get the new certificate. On
    /// failure the certificate in use stays.
    pub fn reload(&self) -> Result<CertSummary, TlsError> {
        let (key, summary) = certified_key(&self.settings, &provider())?;
        *self
            .current
            .0
            .write()
            .unwrap_or_else(PoisonError::into_inner) = Arc::new(key);
        Ok(summary)
    }

    /// [`Tls::reload`], logged and counted (`kefu_tls_reloads_total{outcome}`).
    pub fn reload_logged(&self) {
        match self.reload() {
            Ok(summary) => {
                metrics::counter!("kefu_tls_reloads_total", "outcome" => "ok").increment(1);
                summary.log("TLS certificate reloaded");
            }
            Err(e) => {
                metrics::counter!("kefu_tls_reloads_total", "outcome" => "failed").increment(1);
                tracing::error!(error = %e, "TLS reload failed: still serving the previous certificate");
            }
        }
    }
}

/// Only aws-lc-rs is compiled in; naming it keeps rustls from needing a process default.
fn provider() -> CryptoProvider {
    aws_lc_rs::default_provider()
}

/// Checks `settings` the way start-up will use them (`config::validate` calls it, so
/// `kefu config check` reports a bad certificate too).
pub fn check(settings: &TlsSettings) -> Result<(), TlsError> {
    certified_key(settings, &provider()).map(|_| ())
}

fn certified_key(
    settings: &TlsSettings,
    provider: &CryptoProvider,
) -> Result<(CertifiedKey, CertSummary), TlsError> {
    let (cert_path, key_path) = (&settings.cert, &settings.key);
    if cert_path.as_os_str().is_empty() || key_path.as_os_str().is_empty() {
        let missing = if cert_path.as_os_str().is_empty() {
            CERT_KEY
        } else {
            KEY_KEY
        };
        return Err(fail(
            missing,
            "set both server.tls.cert and server.tls.key (PEM files), or neither for plain HTTP",
        ));
    }
    let pem = read(CERT_KEY, cert_path)?;
    let chain = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| {
            fail(
                CERT_KEY,
                format!("{} is not valid PEM: {e}", cert_path.display()),
            )
        })?;
    if chain.is_empty() {
        return Err(fail(
            CERT_KEY,
            format!(
                "{} holds no certificate (expected a PEM chain, \
                 -----BEGIN CERTIFICATE----- …, the server's certificate first)",
                cert_path.display()
            ),
        ));
    }
    let pem = read(KEY_KEY, key_path)?;
    let key = PrivateKeyDer::from_pem_slice(&pem).map_err(|e| {
        let why = match e {
            rustls::pki_types::pem::Error::NoItemsFound => "holds no private key (expected \
                 -----BEGIN PRIVATE KEY-----, RSA PRIVATE KEY or EC PRIVATE KEY; \
                 encrypted keys are not supported)"
                .to_string(),
            e => format!("is not valid PEM: {e}"),
        };
        fail(KEY_KEY, format!("{} {why}", key_path.display()))
    })?;
    let signing_key = provider.key_provider.load_private_key(key).map_err(|e| {
        fail(
            KEY_KEY,
            format!("{}: unusable private key: {e}", key_path.display()),
        )
    })?;
    let summary = CertSummary::of(&chain);
    let certified = CertifiedKey::new(chain, signing_key);
    match certified.keys_match() {
        Ok(()) | Err(rustls::Error::InconsistentKeys(InconsistentKeys::Unknown)) => {}
        Err(rustls::Error::InconsistentKeys(InconsistentKeys::KeyMismatch)) => {
            return Err(fail(
                KEY_KEY,
                format!(
                    "{} is not the private key of the certificate in {} (server.tls.cert); \
                     install the key and certificate issued together",
                    key_path.display(),
                    cert_path.display()
                ),
            ));
        }
        Err(e) => {
            return Err(fail(
                CERT_KEY,
                format!(
                    "{}: the first certificate cannot be read: {e}",
                    cert_path.display()
                ),
            ));
        }
    }
    Ok((certified, summary))
}

fn read(key: &'static str, path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|e| fail(key, format!("cannot read {}: {e}", path.display())))
}

/// What the log says about a certificate: enough to tell which one is being served.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertSummary {
    /// The subject's common name, organisation… (`CN=kefu.example.com`); may be empty.
    pub subject: String,
    /// DNS names and IP addresses the certificate is for (subjectAltName).
    pub names: Vec<String>,
    /// End of validity, seconds since 1970 (UTC), when the certificate could be read.
    pub not_after: Option<i64>,
    /// Certificates in the chain, the server's own included.
    pub chain_len: usize,
}

impl CertSummary {
    fn of(chain: &[CertificateDer<'_>]) -> Self {
        let parsed = chain.first().and_then(|c| x509::summary(c.as_ref()));
        let (subject, names, not_after) = parsed.unwrap_or_default();
        Self {
            subject,
            names,
            not_after,
            chain_len: chain.len(),
        }
    }

    /// Logs the certificate, warns when it has expired or expires within two weeks, and
    /// publishes its expiry (`kefu_tls_certificate_expiry_timestamp_seconds`) for alerts.
    fn log(&self, what: &str) {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        let expires = self.not_after.map_or("unknown".into(), x509::format_utc);
        tracing::info!(subject = %self.subject, names = ?self.names, %expires, chain = self.chain_len, "{what}");
        if let Some(t) = self.not_after {
            metrics::gauge!("kefu_tls_certificate_expiry_timestamp_seconds").set(t as f64);
            let days = (t - now).div_euclid(86_400);
            if t <= now {
                tracing::warn!(subject = %self.subject, %expires, "the TLS certificate has EXPIRED: clients will refuse it; install a new one and send SIGHUP");
            } else if days < 14 {
                tracing::warn!(subject = %self.subject, %expires, days, "the TLS certificate expires soon");
            }
        }
    }
}

/// Reloads the certificate on every SIGHUP until `stop` turns true. Without TLS a SIGHUP
/// is logged and ignored (its default action would end the process).
pub fn spawn_sighup(tls: Option<Arc<Tls>>, mut stop: watch::Receiver<bool>) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut hup = signal(SignalKind::hangup())?;
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    got = hup.recv() => if got.is_none() { return },
                    _ = stop.wait_for(|s| *s) => return,
                }
                match &tls {
                    Some(tls) => {
                        tracing::info!("SIGHUP: reloading the TLS certificate");
                        // File reads and a key check: a few milliseconds, off the runtime.
                        let tls = tls.clone();
                        if let Err(e) =
                            tokio::task::spawn_blocking(move || tls.reload_logged()).await
                        {
                            tracing::error!(error = %e, "TLS reload task failed");
                        }
                    }
                    None => tracing::info!("SIGHUP: nothing to reload ([server.tls] is not set)"),
                }
            }
        });
    }
    #[cfg(not(unix))]
    let _ = (tls, stop);
    Ok(())
}

/// Runs the TLS handshake on a freshly accepted connection, within `limit` (the header
/// timeout: a client that never finishes its hello is dropped like one that never
/// finishes its headers). A client that sends a plain HTTP request instead is answered
/// `400` with a line saying to use https, then closed. `None`: the connection is over.
pub(super) async fn handshake(
    acceptor: &TlsAcceptor,
    tcp: TcpStream,
    peer: SocketAddr,
    limit: Duration,
) -> Option<TlsStream<TcpStream>> {
    let deadline = Instant::now() + limit;
    let mut first = [0u8; 1];
    match timeout_at(deadline, tcp.peek(&mut first)).await {
        Ok(Ok(1)) => {}
        Ok(_) => return None, // closed (or reset) before saying anything
        Err(_) => {
            handshake_failed(peer, "timeout", "no TLS hello within the header timeout");
            return None;
        }
    }
    // A TLS connection opens with a handshake record (content type 22); an HTTP request
    // with a method name.
    if first[0].is_ascii_uppercase() {
        handshake_failed(peer, "plain_http", "plain HTTP on the TLS port");
        let _ = timeout_at(deadline, answer_plain_http(tcp)).await;
        return None;
    }
    match timeout_at(deadline, acceptor.accept(tcp)).await {
        Ok(Ok(tls)) => Some(tls),
        Ok(Err(e)) => {
            handshake_failed(peer, "error", &e.to_string());
            None
        }
        Err(_) => {
            handshake_failed(
                peer,
                "timeout",
                "TLS handshake not finished within the header timeout",
            );
            None
        }
    }
}

/// Scanners and misconfigured clients fail handshakes all day: debug, and a counter.
fn handshake_failed(peer: SocketAddr, reason: &'static str, detail: &str) {
    metrics::counter!("kefu_tls_handshake_failures_total", "reason" => reason).increment(1);
    tracing::debug!(%peer, reason, detail, "TLS handshake failed");
}

async fn answer_plain_http(mut tcp: TcpStream) -> std::io::Result<()> {
    const BODY: &str = "This port speaks HTTPS: use https:// (and wss:// for WebSockets).\n";
    let head = format!(
        "HTTP/1.1 400 Bad Request\r\ncontent-type: text/plain; charset=utf-8\r\n\
         content-length: {}\r\nconnection: close\r\n\r\n",
        BODY.len()
    );
    tcp.write_all(head.as_bytes()).await?;
    tcp.write_all(BODY.as_bytes()).await?;
    tcp.shutdown().await
}

/// What the log says of a certificate, read by x509-parser (rustls has already checked it
/// against the key; a certificate it cannot read only makes the log say less).
mod x509 {
    use std::net::IpAddr;

    use x509_parser::{certificate::X509Certificate, extensions::GeneralName, prelude::FromDer};

    /// Subject, subjectAltNames (DNS names and IP addresses) and notAfter.
    pub(super) fn summary(der: &[u8]) -> Option<(String, Vec<String>, Option<i64>)> {
        let (_, cert) = X509Certificate::from_der(der).ok()?;
        let names = match cert.subject_alternative_name() {
            Ok(Some(san)) => san
                .value
                .general_names
                .iter()
                .filter_map(|n| match n {
                    GeneralName::DNSName(d) => Some(d.to_string()),
                    GeneralName::IPAddress(b) => ip(b).map(|ip| ip.to_string()),
                    _ => None,
                })
                .collect(),
            _ => Vec::new(),
        };
        Some((
            cert.subject().to_string(),
            names,
            Some(cert.validity().not_after.timestamp()),
        ))
    }

    fn ip(bytes: &[u8]) -> Option<IpAddr> {
        match bytes.len() {
            4 => Some(IpAddr::from(<[u8; 4]>::try_from(bytes).ok()?)),
            16 => Some(IpAddr::from(<[u8; 16]>::try_from(bytes).ok()?)),
            _ => None,
        }
    }

    /// `Mar  1 12:00:00 2027 +00:00`, as `openssl x509 -enddate` shows it.
    pub(super) fn format_utc(t: i64) -> String {
        x509_parser::time::ASN1Time::from_timestamp(t)
            .map(|t| t.to_string())
            .unwrap_or_else(|_| format!("{t} s after 1970"))
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn garbage_reads_as_nothing() {
            assert_eq!(summary(&[]), None);
            assert_eq!(summary(&[0x30, 0x84, 0xff, 0xff, 0xff, 0xff]), None);
            assert_eq!(summary(&[0x30, 0x03, 0x30, 0x01]), None);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn self_signed(names: &[&str]) -> (String, String) {
        let names = names.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let c = rcgen::generate_simple_self_signed(names).unwrap();
        (c.cert.pem(), c.signing_key.serialize_pem())
    }

    fn files(dir: &Path, cert: &str, key: &str) -> TlsSettings {
        std::fs::write(dir.join("cert.pem"), cert).unwrap();
        std::fs::write(dir.join("key.pem"), key).unwrap();
        TlsSettings {
            cert: dir.join("cert.pem"),
            key: dir.join("key.pem"),
        }
    }

    #[test]
    fn a_matching_pair_loads_and_is_described() {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = self_signed(&["kefu.test", "127.0.0.1"]);
        let settings = files(dir.path(), &cert, &key);
        Tls::load(&settings).expect("a fresh self-signed pair loads");
        let chain = CertificateDer::pem_slice_iter(cert.as_bytes())
            .collect::<Result<Vec<_>, _>>()
            .unwrap();
        let s = CertSummary::of(&chain);
        assert_eq!(
            s.subject, "CN=rcgen self signed cert",
            "rcgen's default subject"
        );
        assert_eq!(
            s.names,
            ["kefu.test", "127.0.0.1"],
            "DNS and IP names both read"
        );
        // 4096-01-01T00:00:00Z, counted here.
        let leap = |y: i64| (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
        let days: i64 = (1970..4096).map(|y| if leap(y) { 366 } else { 365 }).sum();
        assert_eq!(
            s.not_after,
            Some(days * 86_400),
            "rcgen's default notAfter is 4096-01-01"
        );
    }

    #[test]
    fn errors_name_the_key_and_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = self_signed(&["kefu.test"]);
        let (_, other_key) = self_signed(&["kefu.test"]);
        let mut settings = files(dir.path(), &cert, &other_key);
        let e = Tls::load(&settings).unwrap_err();
        assert_eq!(e.key, KEY_KEY, "a mismatched key is the key's fault: {e}");
        assert!(
            e.detail
                .contains("is not the private key of the certificate"),
            "{e}"
        );

        settings = files(dir.path(), &key, &key);
        let e = Tls::load(&settings).unwrap_err();
        assert_eq!(e.key, CERT_KEY, "a key where the chain should be: {e}");
        assert!(e.detail.contains("holds no certificate"), "{e}");

        settings = files(dir.path(), &cert, &cert);
        let e = Tls::load(&settings).unwrap_err();
        assert_eq!(e.key, KEY_KEY, "a certificate where the key should be: {e}");
        assert!(e.detail.contains("holds no private key"), "{e}");

        settings.key = dir.path().join("missing.pem");
        let e = Tls::load(&settings).unwrap_err();
        assert_eq!(e.key, KEY_KEY);
        assert!(
            e.to_string()
                .starts_with("config key `server.tls.key`: cannot read ")
                && e.detail.contains("missing.pem"),
            "names the key and the file: {e}"
        );

        settings.key = Default::default();
        let e = Tls::load(&settings).unwrap_err();
        assert_eq!(e.key, KEY_KEY, "a cert without a key: {e}");
    }

    #[test]
    fn a_failed_reload_keeps_the_certificate_and_a_good_one_replaces_it() {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = self_signed(&["one.test"]);
        let settings = files(dir.path(), &cert, &key);
        let tls = Tls::load(&settings).unwrap();
        let served = |tls: &Tls| tls.current.0.read().unwrap().cert[0].as_ref().to_vec();
        let first = served(&tls);

        std::fs::write(&settings.cert, "-----BEGIN CERTIFICATE-----\nnot base64!\n").unwrap();
        assert!(tls.reload().is_err(), "a broken file does not load");
        assert_eq!(
            served(&tls),
            first,
            "the old certificate stays after a failed reload"
        );

        let (cert2, key2) = self_signed(&["two.test"]);
        files(dir.path(), &cert2, &key2);
        let summary = tls.reload().expect("the new pair loads");
        assert_eq!(summary.names, ["two.test"]);
        assert_ne!(
            served(&tls),
            first,
            "new handshakes get the new certificate"
        );
    }
}
