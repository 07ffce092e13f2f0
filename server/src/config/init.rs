//! `kefu config init FILE`: the first configuration of a new installation (the packages'
//! postinst writes /etc/kefu/kefu.toml with it). It is the commented example with every
//! secret drawn fresh and the data directory set: an example's placeholder secret left in
//! production would let anyone sign shopper identities.

use std::{io::Write, path::Path};

use anyhow::Context;
use rand::RngCore;

use super::EXAMPLE;

/// Secrets of [`EXAMPLE`] that are live settings (not comments), each replaced by 32 random
/// bytes in hex. The test below fails if the example stops containing one; validation
/// refuses them, so a copied example cannot run with a secret everyone knows.
pub(crate) const PLACEHOLDER_SECRETS: &[&str] = &["change-me-to-a-long-random-string"];

/// The data directory line of [`EXAMPLE`].
const DATA_DIR_LINE: &str = "data_dir = \"kefu-data\"";

/// [`EXAMPLE`] with fresh secrets and `data_dir` set.
pub fn fresh(data_dir: &Path) -> anyhow::Result<String> {
    let data_dir = data_dir
        .to_str()
        .context("the data directory's path must be UTF-8")?;
    anyhow::ensure!(
        EXAMPLE.contains(DATA_DIR_LINE),
        "the example configuration has no `{DATA_DIR_LINE}` line to set"
    );
    // A JSON string is a valid TOML basic string (same escapes).
    let mut text = EXAMPLE.replacen(
        DATA_DIR_LINE,
        &format!("data_dir = {}", serde_json::Value::from(data_dir)),
        1,
    );
    for placeholder in PLACEHOLDER_SECRETS {
        anyhow::ensure!(
            text.contains(placeholder),
            "the example configuration no longer holds the secret `{placeholder}`"
        );
        text = text.replace(placeholder, &random_secret());
    }
    Ok(text)
}

/// Writes [`fresh`] to `path`, readable by its owner and group only (it holds secrets).
/// Refuses to overwrite: an existing configuration is the operator's.
pub fn write_new(path: &Path, data_dir: &Path) -> anyhow::Result<()> {
    let text = fresh(data_dir)?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o640);
    let mut file = options.open(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::AlreadyExists {
            anyhow::anyhow!(
                "{} already exists; kefu config init never overwrites a configuration \
                 (move it away first to start over)",
                path.display()
            )
        } else {
            anyhow::anyhow!("creating {}: {e}", path.display())
        }
    })?;
    // Set again: the umask may have narrowed the mode asked for at creation.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(std::fs::Permissions::from_mode(0o640))
            .with_context(|| format!("setting the mode of {}", path.display()))?;
    }
    file.write_all(text.as_bytes())
        .and_then(|()| file.sync_all())
        .with_context(|| format!("writing {}", path.display()))
}

fn random_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Settings;

    #[test]
    fn a_fresh_config_loads_with_new_secrets_and_the_data_directory() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data \"quoted\"");
        let file = dir.path().join("kefu.toml");
        write_new(&file, &data).unwrap();
        let text = std::fs::read_to_string(&file).unwrap();
        for placeholder in PLACEHOLDER_SECRETS {
            assert!(!text.contains(placeholder), "{placeholder} was replaced");
        }
        let settings = Settings::load(Some(&file)).unwrap();
        assert_eq!(settings.server.data_dir, data);
        assert_eq!(
            settings.server.listen, "127.0.0.1:8080",
            "local only by default"
        );
        let secret = &settings.sites[0].identity_secret;
        assert_eq!(secret.len(), 64);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&file).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o640, "no one else reads the secrets");
        }

        let other = fresh(&data).unwrap();
        assert!(
            !other.contains(secret.as_str()),
            "each installation draws its own secret"
        );
        let again = write_new(&file, &data).unwrap_err().to_string();
        assert!(again.contains("already exists"), "{again}");
        assert_eq!(std::fs::read_to_string(&file).unwrap(), text, "left alone");
    }
}
