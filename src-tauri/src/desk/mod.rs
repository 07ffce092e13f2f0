//! The desk: everything the window can ask for, without the window. Tauri commands are thin
//! wrappers over these methods, and tests drive them directly against a real server.
//!
//! It owns the signed-in session (server, cache, sync engine), the agent's preferences,
//! the keyring and the notifier, and turns sync events into [`Update`]s for the window.

mod convert;
mod ops;
mod pump;
mod supervisor;

pub use ops::safe_file_name;

use std::{
    collections::{HashMap, HashSet},
    path::PathBuf,
    sync::{Arc, Mutex},
};

use serde::{Deserialize, Serialize};
use tokio::sync::{RwLock, broadcast};

use crate::{
    cache::Cache,
    client::{self, ClientError, Server},
    model::{Agent, AgentStatus, CannedReply, DeskError, DeskErrorCode, Session, Settings, Update},
    notifier::{Display, Notifier},
    secrets::Secrets,
    sync::{NotOnline, Sync},
};

/// Where the desk keeps its files.
#[derive(Debug, Clone)]
pub struct Dirs {
    /// Cache databases (one per account).
    pub data: PathBuf,
    /// `desk.json`: server, username and settings (no secrets).
    pub config: PathBuf,
}

/// What `desk.json` holds.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
struct Prefs {
    server_url: Option<String>,
    username: Option<String>,
    /// The agent last signed in, so the app starts signed in while offline.
    agent: Option<Agent>,
    /// The status the agent chose, asserted on every connect so a restart or a dropped
    /// network does not put an agent who stepped away back into routing.
    status: AgentStatus,
    #[serde(deserialize_with = "settings_over_defaults")]
    settings: Settings,
}

/// Settings as saved, over the defaults: a setting an older version did not save (e.g.
/// `start_at_login`) takes its default instead of losing the whole file.
fn settings_over_defaults<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Settings, D::Error> {
    let saved = serde_json::Value::deserialize(d)?;
    let mut merged = serde_json::to_value(Settings::default()).map_err(serde::de::Error::custom)?;
    if let (Some(merged), serde_json::Value::Object(saved)) = (merged.as_object_mut(), saved) {
        merged.extend(saved);
    }
    serde_json::from_value(merged).map_err(serde::de::Error::custom)
}

/// The signed-in session.
#[derive(Clone)]
struct Active {
    server: Server,
    agent: Agent,
    cache: Cache,
    sync: Sync,
    /// The floor and unconfirmed whispers of this session.
    watch: Arc<supervisor::Watch>,
}

pub struct Desk {
    dirs: Dirs,
    secrets: Secrets,
    notifier: Notifier,
    prefs: Mutex<Prefs>,
    active: RwLock<Option<Active>>,
    /// Why the last session ended, for the sign-in screen.
    notice: Mutex<Option<String>>,
    updates: broadcast::Sender<Update>,
    /// Conversation on screen.
    focus: Mutex<Option<String>>,
    /// Highest seq each shopper has read (read receipts seen this run).
    shopper_read: Mutex<HashMap<String, u64>>,
    /// Last canned replies fetched, for offline use.
    canned: Mutex<Vec<CannedReply>>,
    /// Conversations this agent asked to accept (their assignment needs no notification).
    accepting: Mutex<HashSet<String>>,
}

impl From<ClientError> for DeskError {
    fn from(e: ClientError) -> Self {
        let code = match &e {
            ClientError::BadCredentials => DeskErrorCode::BadCredentials,
            ClientError::SessionExpired => DeskErrorCode::SessionExpired,
            ClientError::Unreachable(_) => DeskErrorCode::Unreachable,
            ClientError::Forbidden(_) => DeskErrorCode::Forbidden,
            ClientError::NotFound(_) => DeskErrorCode::NotFound,
            ClientError::Conflict(_) => DeskErrorCode::Conflict,
            ClientError::Invalid(_) => DeskErrorCode::Invalid,
            ClientError::Server(_) => DeskErrorCode::Internal,
        };
        DeskError::new(code, e.to_string())
    }
}

impl From<NotOnline> for DeskError {
    fn from(e: NotOnline) -> Self {
        DeskError::new(DeskErrorCode::Unreachable, e.to_string())
    }
}

fn not_signed_in() -> DeskError {
    DeskError::new(DeskErrorCode::NotSignedIn, "sign in first")
}

/// One cache file per account, so two agents sharing a machine never see each other's chats.
pub fn cache_file(dirs: &Dirs, server_url: &str, username: &str) -> PathBuf {
    let key: String = format!("{username}@{server_url}")
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    dirs.data.join(format!("cache-{key}.db"))
}

impl Desk {
    /// Opens the desk: reads preferences; signs nothing in yet (see [`Desk::session`]).
    pub fn new(
        dirs: Dirs,
        secrets: Secrets,
        display: Arc<dyn Display>,
    ) -> anyhow::Result<Arc<Self>> {
        std::fs::create_dir_all(&dirs.data)?;
        std::fs::create_dir_all(&dirs.config)?;
        let prefs: Prefs = match std::fs::read(dirs.config.join("desk.json")) {
            Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or_else(|e| {
                tracing::warn!(error = %e, "desk.json unreadable; starting from defaults");
                Prefs::default()
            }),
            Err(_) => Prefs::default(),
        };
        let notifier = Notifier::start(display, prefs.settings.clone());
        Ok(Arc::new(Self {
            dirs,
            secrets,
            notifier,
            prefs: Mutex::new(prefs),
            active: RwLock::new(None),
            notice: Mutex::new(None),
            updates: broadcast::channel(1024).0,
            focus: Mutex::new(None),
            shopper_read: Mutex::new(HashMap::new()),
            canned: Mutex::new(Vec::new()),
            accepting: Mutex::new(HashSet::new()),
        }))
    }

    /// Updates for the window from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Update> {
        self.updates.subscribe()
    }

    fn emit(&self, update: Update) {
        let _ = self.updates.send(update);
    }

    /// Tells the window how a conversation's row looks now, as cached.
    async fn emit_conversation(&self, cache: &Cache, id: &str) -> anyhow::Result<()> {
        if let Some(conversation) = cache.conversation(id).await? {
            self.emit(Update::Conversation { conversation });
        }
        Ok(())
    }

    fn save_prefs(&self, change: impl FnOnce(&mut Prefs)) -> Result<(), DeskError> {
        let json = {
            let mut prefs = self.prefs.lock().expect("prefs lock");
            change(&mut prefs);
            serde_json::to_vec_pretty(&*prefs).map_err(anyhow::Error::from)?
        };
        // Write then rename, so a crash never leaves half a file.
        let path = self.dirs.config.join("desk.json");
        let tmp = path.with_extension("json.tmp");
        std::fs::write(&tmp, json).map_err(anyhow::Error::from)?;
        std::fs::rename(&tmp, &path).map_err(anyhow::Error::from)?;
        Ok(())
    }

    async fn active(&self) -> Result<Active, DeskError> {
        self.active.read().await.clone().ok_or_else(not_signed_in)
    }

    /// Runs a keyring call on a blocking thread (D-Bus, prompts).
    async fn keyring<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Secrets) -> anyhow::Result<T> + Send + 'static,
    ) -> Result<T, DeskError> {
        let secrets = self.secrets.clone();
        tokio::task::spawn_blocking(move || f(&secrets))
            .await
            .map_err(anyhow::Error::from)?
            .map_err(|e| {
                DeskError::new(
                    DeskErrorCode::Internal,
                    format!("the system keyring is not available: {e:#}"),
                )
            })
    }

    /// Who is signed in. On the first call after start, a token kept in the keyring signs
    /// the agent back in — offline too, from the cache; the server checks it when reachable.
    pub async fn session(self: &Arc<Self>) -> Result<Session, DeskError> {
        let prefs = self.prefs.lock().expect("prefs lock").clone();
        if self.active.read().await.is_none()
            && let (Some(url), Some(user), Some(agent)) =
                (&prefs.server_url, &prefs.username, &prefs.agent)
        {
            let (u, n) = (url.clone(), user.clone());
            if let Some(token) = self.keyring(move |s| s.load(&u, &n)).await? {
                let server = Server::new(url, &token);
                self.activate(server.clone(), agent.clone()).await?;
                let desk = self.clone();
                tokio::spawn(async move {
                    if let Err(ClientError::SessionExpired) = server.me().await {
                        desk.expire().await;
                    }
                });
            }
        }
        let agent = self.active.read().await.as_ref().map(|a| a.agent.clone());
        Ok(Session {
            server_url: prefs.server_url,
            username: prefs.username,
            agent,
            status: prefs.status,
            notice: self.notice.lock().expect("notice lock").clone(),
        })
    }

    /// Signs in, keeps the token in the keyring and starts syncing.
    pub async fn sign_in(
        self: &Arc<Self>,
        server_url: &str,
        username: &str,
        password: &str,
    ) -> Result<Agent, DeskError> {
        if username.trim().is_empty() || password.is_empty() {
            return Err(DeskError::new(
                DeskErrorCode::Invalid,
                "enter your username and password",
            ));
        }
        let server = client::login(server_url, username.trim(), password).await?;
        let agent = server.me().await?;
        let (url, user, token) = (
            server.base_url.clone(),
            agent.username.clone(),
            server.token.clone(),
        );
        self.keyring(move |s| s.save(&url, &user, &token)).await?;
        self.save_prefs(|p| {
            p.server_url = Some(server.base_url.clone());
            p.username = Some(agent.username.clone());
            p.agent = Some(agent.clone());
            // Signing in is starting work.
            p.status = AgentStatus::Online;
        })?;
        *self.notice.lock().expect("notice lock") = None;
        self.stop().await;
        self.activate(server, agent.clone()).await?;
        Ok(agent)
    }

    /// Signs out: ends the server session (when reachable), deletes the keyring entry and
    /// stops syncing. The cache stays for the next sign-in of this account.
    pub async fn sign_out(&self) -> Result<(), DeskError> {
        if let Some(active) = self.stop().await {
            let _ = tokio::time::timeout(std::time::Duration::from_secs(3), active.server.logout())
                .await;
            let (url, user) = (active.server.base_url, active.agent.username);
            self.keyring(move |s| s.delete(&url, &user)).await?;
        }
        self.save_prefs(|p| p.agent = None)
    }

    /// The server refused our token: back to sign-in, keeping the cache.
    async fn expire(&self) {
        let message = "Your session has expired or was ended. Sign in again; nothing cached or unsent was lost.";
        if let Some(active) = self.stop().await {
            let (url, user) = (active.server.base_url, active.agent.username);
            if let Err(e) = self.keyring(move |s| s.delete(&url, &user)).await {
                tracing::warn!(error = %e.message, "deleting the expired token");
            }
        }
        let _ = self.save_prefs(|p| p.agent = None);
        *self.notice.lock().expect("notice lock") = Some(message.into());
        self.emit(Update::SessionExpired {
            message: message.into(),
        });
    }

    fn shopper_read_seq(&self, conversation_id: &str) -> u64 {
        let read = self.shopper_read.lock().expect("read lock");
        read.get(conversation_id).copied().unwrap_or(0)
    }

    fn accepting(&self, conversation_id: &str) -> bool {
        self.accepting
            .lock()
            .expect("accepting lock")
            .contains(conversation_id)
    }

    async fn stop(&self) -> Option<Active> {
        self.active.write().await.take()
    }

    async fn activate(self: &Arc<Self>, server: Server, agent: Agent) -> Result<(), DeskError> {
        let path = cache_file(&self.dirs, &server.base_url, &agent.username);
        let cache = Cache::open(&path, &agent.id).await?;
        let retention = self
            .prefs
            .lock()
            .expect("prefs lock")
            .settings
            .retention_days;
        let pruned = cache.prune(retention).await?;
        tracing::info!(pruned, cache = %path.display(), "cache opened");
        let sync = Sync::start(cache.clone(), server.clone());
        sync.set_focus(self.focus.lock().expect("focus lock").clone());
        sync.set_status(ops::wire_status(
            self.prefs.lock().expect("prefs lock").status,
        ));
        let events = sync.subscribe();
        let watch = Arc::new(supervisor::Watch::default());
        // The pump holds no `Sync` handle: when the session ends the engine stops, its
        // event channel closes and the pump ends with it.
        tokio::spawn(pump::run(
            self.clone(),
            server.clone(),
            agent.clone(),
            cache.clone(),
            watch.clone(),
            events,
        ));
        *self.active.write().await = Some(Active {
            server,
            agent,
            cache,
            sync,
            watch,
        });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefs_from_an_older_version_keep_the_session_and_default_what_is_new() {
        let older = serde_json::json!({
            "server_url": "http://kefu.test",
            "username": "ann",
            "agent": {"id": "a1", "username": "ann", "display_name": "Ann", "role": "agent"},
            "settings": {"notify_offers": false, "notify_messages": true, "sound": true,
                         "retention_days": 7, "language": "zh-CN", "theme": "dark"},
        });
        let prefs: Prefs = serde_json::from_value(older).unwrap();
        assert_eq!(prefs.agent.map(|a| a.id).as_deref(), Some("a1"));
        assert_eq!(prefs.status, AgentStatus::Online, "no status saved: online");
        assert!(!prefs.settings.notify_offers, "saved settings are kept");
        assert_eq!(prefs.settings.retention_days, 7);
        assert!(
            !prefs.settings.start_at_login,
            "new settings take their default"
        );
    }
}
