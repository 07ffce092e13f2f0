//! The agent's token in the OS keyring (Secret Service on Linux, Credential Manager on
//! Windows, Keychain on macOS), through the keyring-core family. Never in a file.
//!
//! Calls into the platform store can block (D-Bus, prompts): callers in async code run them
//! on a blocking thread.

use std::sync::Arc;

use keyring_core::{CredentialStore, Entry, Error};

/// Service name the tokens are stored under.
const SERVICE: &str = "kefu-desk";

/// Tokens keyed by server and username.
#[derive(Clone)]
pub struct Secrets {
    store: Arc<CredentialStore>,
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Secrets")
            .field("store", &self.store.id())
            .finish()
    }
}

impl Secrets {
    /// The platform's keyring.
    pub fn platform() -> anyhow::Result<Self> {
        #[cfg(target_os = "linux")]
        let store: Arc<CredentialStore> = zbus_secret_service_keyring_store::Store::new()?;
        #[cfg(target_os = "windows")]
        let store: Arc<CredentialStore> = windows_native_keyring_store::Store::new()?;
        #[cfg(target_os = "macos")]
        let store: Arc<CredentialStore> = apple_native_keyring_store::keychain::Store::new()?;
        Ok(Self { store })
    }

    /// Any keyring-core store (tests use the in-memory sample store).
    pub fn with_store(store: Arc<CredentialStore>) -> Self {
        Self { store }
    }

    fn entry(&self, server_url: &str, username: &str) -> anyhow::Result<Entry> {
        Ok(Entry::new_in_store(
            &self.store,
            SERVICE,
            &format!("{username}@{server_url}"),
        )?)
    }

    /// Stores (or replaces) the token.
    pub fn save(&self, server_url: &str, username: &str, token: &str) -> anyhow::Result<()> {
        Ok(self.entry(server_url, username)?.set_password(token)?)
    }

    /// The stored token, if any.
    pub fn load(&self, server_url: &str, username: &str) -> anyhow::Result<Option<String>> {
        match self.entry(server_url, username)?.get_password() {
            Ok(token) => Ok(Some(token)),
            Err(Error::NoEntry) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Deletes the token; deleting what is not there is fine.
    pub fn delete(&self, server_url: &str, username: &str) -> anyhow::Result<()> {
        match self.entry(server_url, username)?.delete_credential() {
            Ok(()) | Err(Error::NoEntry) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}
