//! Kefu's test kit: one way to start kefu for a test, sign people in and script the clients
//! that talk to it, shared by the server's tests, the desk's tests and the bench.
//!
//! # Layout
//! - [`endpoint`]: [`Endpoint`], a running kefu as a client sees it (its address and an HTTP
//!   client): sign-in, visitor sessions, agents made over the admin API, `get`/`post` with a
//!   bearer token, `/metrics`, and the sockets of [`ws`].
//! - `inproc` (feature `in-process`): [`TestServer`], the server library run inside the test
//!   on 127.0.0.1:0 with a temp SQLite database and test settings, plugins included.
//! - [`process`]: [`KefuCommand`] / [`KefuProcess`], the built `kefu` binary with a generated
//!   config, a first admin made with `kefu agent add`, ready once `/readyz` answers, killed
//!   on drop.
//! - [`postgres`]: [`TestDatabase`], a fresh PostgreSQL database per server when
//!   `TEST_POSTGRES_URL` names a PostgreSQL server (otherwise servers use SQLite).
//! - [`nats`]: [`NatsCluster`], NATS servers of the test's own for cluster mode, and
//!   [`nats::Relay`], a TCP relay a test can cut.
//! - [`load`]: [`load::Shopper`], a shopper writing into its conversation through any of
//!   several nodes, resending what was not acked, recording every ack.
//! - [`ws`]: [`Ws`], a scripted protobuf WebSocket client (shopper, agent or bot) and the
//!   message helpers tests build frames with.
//!
//! Both handles dereference to [`Endpoint`], so a helper written against `&Endpoint` works on
//! either. Everything here panics on failure, as a test wants, except what the bench uses to
//! start kefu and make agents: those return [`Error`].

pub mod endpoint;
#[cfg(feature = "in-process")]
mod inproc;
pub mod load;
pub mod nats;
pub mod postgres;
pub mod process;
pub mod ws;

use std::time::Duration;

pub use endpoint::{AgentSpec, Endpoint, TestAgent, TestVisitor, shopper_opens};
#[cfg(feature = "in-process")]
pub use inproc::{TestServer, test_settings, test_settings_and_database};
pub use nats::NatsCluster;
pub use postgres::{TEST_POSTGRES_URL, TestDatabase, ThrowawayServer};
pub use process::{KefuCommand, KefuProcess, kefu_bin, target_dir, workspace_bin};
pub use ws::{Ws, is_bot, note_body, text_body, text_msg, text_of, ws_request};

/// How long any single expected event may take before a test fails. Generous: CI is shared.
pub const WAIT: Duration = Duration::from_secs(15);
/// The test site's id (in-process settings, and [`KefuCommand::test_site`]).
pub const SITE: &str = "shop";
/// The origin the test site's pages are served from.
pub const ORIGIN: &str = "http://shop.test";
/// The test site's identity secret, for signing shopper identities.
pub const SECRET: &str = "test-identity-secret";
/// The password of every agent the kit creates.
pub const PASSWORD: &str = "correct horse battery";

/// Reads `stream` until the server closes it; returns what it sent. Panics if it is still
/// open after [`WAIT`] (a server that should have cut a stalled or refused client off).
pub async fn read_until_closed<S: tokio::io::AsyncRead + Unpin>(stream: &mut S) -> Vec<u8> {
    use tokio::io::AsyncReadExt as _;
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    loop {
        match tokio::time::timeout(WAIT, stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return got,
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
            Err(_) => panic!("the server kept the connection open past the wait time"),
        }
    }
}

/// What can go wrong starting kefu or talking to it, for callers that report rather than
/// panic (the bench).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The scratch folder, config file or log could not be written.
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    /// `kefu agent add` ran but failed (its message went to its stderr).
    #[error("`kefu agent add --username {username}` failed ({status})")]
    AgentAdd {
        username: String,
        status: std::process::ExitStatus,
    },
    /// kefu closed its stdout without saying where it listens: it failed to start.
    #[error("kefu exited before listening{log}")]
    NoListenLine { log: String },
    /// kefu's first line was not the `kefu listening on http://…` one.
    #[error("unexpected first line from kefu: {0}")]
    UnexpectedLine(String),
    /// kefu listened but `/readyz` did not answer 200 in time.
    #[error("kefu on {addr} was not ready within {secs} s{log}")]
    NotReady {
        addr: String,
        secs: u64,
        log: String,
    },
    /// A request failed or was refused.
    #[error("{what}: {source}")]
    Http {
        what: String,
        #[source]
        source: reqwest::Error,
    },
    /// An answer lacked a field the kit needs.
    #[error("{what}: no `{field}` in {body}")]
    Missing {
        what: String,
        field: &'static str,
        body: serde_json::Value,
    },
}

/// Polls `f` until it returns `Some`, failing after [`WAIT`].
pub async fn eventually<T, F: std::future::Future<Output = Option<T>>>(
    what: &str,
    mut f: impl FnMut() -> F,
) -> T {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        if let Some(t) = f().await {
            return t;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for: {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
