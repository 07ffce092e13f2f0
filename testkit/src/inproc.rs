//! kefu inside the test process: the server library's `run_with` on 127.0.0.1:0, a temp
//! SQLite database (or a fresh PostgreSQL one, see [`crate::postgres`]) and test settings, with the plugins the test registers. The test can
//! reach into the store and settings directly; everything a client does goes through
//! [`Endpoint`], which [`TestServer`] dereferences to.

use std::{ops::Deref, sync::Arc};

use kefu_server::{
    auth::password,
    config::{Rate, Settings, Site},
    seed,
    store::{NewAgent, Role, Store},
};
use tokio::{sync::oneshot, task::JoinHandle};

use crate::{Endpoint, ORIGIN, PASSWORD, SECRET, SITE, TestAgent, TestDatabase};

/// A kefu server running in this process.
pub struct TestServer {
    endpoint: Endpoint,
    pub store: Arc<dyn Store>,
    pub settings: Settings,
    _dir: tempfile::TempDir,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<anyhow::Result<()>>>,
    /// Declared last, so it is dropped (`DROP DATABASE … WITH (FORCE)`) after the rest.
    _database: Option<TestDatabase>,
}

impl Deref for TestServer {
    type Target = Endpoint;

    fn deref(&self) -> &Endpoint {
        &self.endpoint
    }
}

/// Settings for tests: temp data dir, one site, defaults otherwise.
pub fn test_settings(dir: &std::path::Path) -> Settings {
    let mut s = Settings::default();
    s.server.listen = "127.0.0.1:0".into();
    s.server.data_dir = dir.to_path_buf();
    s.server.shutdown_grace_secs = 2;
    s.sites.push(Site {
        id: SITE.into(),
        name: "Test shop".into(),
        allowed_origins: vec![ORIGIN.into()],
        identity_secret: SECRET.into(),
        default_group: "pre-sales".into(),
        welcome: String::new(),
    });
    // Tests send faster than a person types, and every client comes from 127.0.0.1.
    s.limits.messages_per_second = 1000;
    s.limits.messages_burst = 1000;
    let lavish = Rate::per_second(10_000, 10_000);
    s.limits.visitor.frames = lavish;
    s.limits.visitor.conversations = lavish;
    s.limits.ip.sessions = lavish;
    s.limits.ip.conversations = lavish;
    s.limits.ip.logins = lavish;
    s
}

/// [`test_settings`], on a fresh PostgreSQL database when `TEST_POSTGRES_URL` is set (see
/// [`crate::postgres`]); the database is dropped with the returned handle, so keep it as
/// long as the settings are in use.
pub fn test_settings_and_database(dir: &std::path::Path) -> (Settings, Option<TestDatabase>) {
    let mut settings = test_settings(dir);
    let database = TestDatabase::create();
    if let Some(db) = &database {
        settings.store.url = db.url.clone();
        // Test binaries run servers side by side; PostgreSQL allows ~100 connections.
        settings.store.pool_size = 4;
    }
    (settings, database)
}

impl TestServer {
    /// Starts with [`test_settings`] and the built-in plugins.
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    /// Starts with [`test_settings`] changed by `tweak`.
    pub async fn start_with(tweak: impl FnOnce(&mut Settings)) -> Self {
        Self::start_with_plugins(tweak, kefu_server::plugins::Registry::builtin()).await
    }

    /// Starts with `registry` offering the plugins `[plugins]` may name (tests add their own).
    pub async fn start_with_plugins(
        tweak: impl FnOnce(&mut Settings),
        registry: kefu_server::plugins::Registry,
    ) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let (mut settings, database) = test_settings_and_database(dir.path());
        tweak(&mut settings);
        let store = kefu_server::open_store(&settings).await.unwrap();
        seed::ensure_groups(store.as_ref()).await.unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(kefu_server::run_with(
            settings.clone(),
            store.clone(),
            listener,
            async move {
                let _ = stopped.await;
            },
            registry,
        ));
        Self {
            endpoint: Endpoint::new(addr, reqwest::Client::new()),
            store,
            settings,
            _dir: dir,
            stop: Some(stop),
            task: Some(task),
            _database: database,
        }
    }

    /// Stops the server gracefully and waits for it.
    pub async fn shutdown(mut self) {
        let _ = self.stop.take().unwrap().send(());
        self.task.take().unwrap().await.unwrap().unwrap();
    }

    /// Creates an agent directly in the store and signs it in over REST.
    pub async fn agent(
        &self,
        username: &str,
        role: Role,
        groups: &[&str],
        capacity: i64,
    ) -> TestAgent {
        let agent = self
            .store
            .create_agent(&NewAgent {
                username: username.into(),
                display_name: format!("Agent {username}"),
                password_hash: password::hash(PASSWORD.into()).await.unwrap(),
                role,
                capacity,
                groups: groups.iter().map(|g| g.to_string()).collect(),
            })
            .await
            .unwrap();
        let token = self.login(username, PASSWORD).await;
        TestAgent {
            id: agent.id.to_string(),
            token,
        }
    }
}
