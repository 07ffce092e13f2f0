//! Loading: built-in defaults, then the TOML file, then `KEFU_*` variables, merged by
//! figment; and the wording of what goes wrong, naming the key, where its value came from
//! (a file path or the exact environment variable) and what was expected.

use figment::{
    Figment,
    providers::{Data, Env, Format, Serialized, Toml},
};

use super::Settings;

/// A configuration error, worded for the person who wrote the config.
#[derive(Debug, thiserror::Error)]
pub struct ConfigError {
    /// The offending key (`routing.offer_timeout_secs`); empty when a source as a whole
    /// could not be read (TOML syntax), whose message then says the line and column.
    pub key: String,
    pub source_name: String,
    pub expected: String,
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.key.is_empty() {
            write!(f, "config {}: {}", self.source_name, self.expected)
        } else {
            write!(
                f,
                "config key `{}` (from {}): {}",
                self.key, self.source_name, self.expected
            )
        }
    }
}

impl Settings {
    /// Loads defaults, then `file` if given, then `KEFU_*` variables, and validates.
    pub fn load(file: Option<&std::path::Path>) -> Result<Self, ConfigError> {
        if let Some(path) = file
            && !path.exists()
        {
            return Err(ConfigError {
                key: "--config".into(),
                source_name: "the command line".into(),
                expected: format!("file {} does not exist", path.display()),
            });
        }
        Self::load_layers(file.map(Toml::file_exact))
    }

    /// [`Settings::load`] with the TOML document given as text instead of a file (the
    /// config fuzzer uses it): defaults, then `toml`, then `KEFU_*` variables, validated.
    pub fn load_str(toml: &str) -> Result<Self, ConfigError> {
        Self::load_layers(Some(Toml::string(toml)))
    }

    fn load_layers(toml: Option<Data<Toml>>) -> Result<Self, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Settings::default()));
        if let Some(toml) = toml {
            figment = figment.merge(toml);
        }
        refuse_escapes_figment_misreads()?;
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
}

/// Deepest `[`/`{` nesting accepted in an environment value: figment's value parser
/// recurses once per level, and a few thousand levels overflowed the stack (found by
/// `fuzz/fuzz_targets/config.rs`). Real overrides nest two or three levels.
const MAX_ENV_NESTING: usize = 32;

/// How deep `[` and `{` nest in `value`, outside double-quoted strings.
fn nesting(value: &str) -> usize {
    let (mut depth, mut deepest, mut quoted, mut escaped) = (0usize, 0, false, false);
    for c in value.chars() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            '[' | '{' if !quoted => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            ']' | '}' if !quoted => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    deepest
}

/// figment 0.10.19 unescapes a quoted environment value by slicing at a character count
/// where it means bytes (`value/escape.rs`): `KEFU_X="é\n"` panics, and `"éa\n"` silently
/// loses text. Such a value is refused, naming the variable, before figment reads it
/// (found by `fuzz/fuzz_targets/config.rs`). Quotes, a backslash and non-ASCII text together
/// is the only way to reach that slice; unquoted values and `\u` escapes are unaffected.
fn refuse_escapes_figment_misreads() -> Result<(), ConfigError> {
    for (name, value) in std::env::vars_os() {
        let (Some(name), Some(value)) = (name.to_str(), value.to_str()) else {
            continue;
        };
        let Some(key) = name.strip_prefix("KEFU_") else {
            continue;
        };
        if nesting(value) > MAX_ENV_NESTING {
            return Err(ConfigError {
                key: key.replace("__", ".").to_lowercase(),
                source_name: format!("environment variable {name}"),
                expected: format!(
                    "arrays and tables nested at most {MAX_ENV_NESTING} deep (figment parses \
                     them recursively: deeper ones overflow the stack)"
                ),
            });
        }
        if value.contains('"') && value.contains('\\') && !value.is_ascii() {
            return Err(ConfigError {
                key: key.replace("__", ".").to_lowercase(),
                source_name: format!("environment variable {name}"),
                expected: "a quoted value with backslash escapes must be ASCII: write other \
                           characters as \\u escapes, or leave the value unquoted"
                    .into(),
            });
        }
    }
    Ok(())
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
    use crate::config::EXAMPLE;
    use figment::Jail;

    #[test]
    fn example_config_loads_with_fresh_secrets_and_not_with_the_placeholder() {
        Jail::expect_with(|jail| {
            let fresh = crate::config::init::fresh("kefu-data".as_ref()).unwrap();
            jail.create_file("kefu.toml", &fresh)?;
            let s = Settings::load(Some("kefu.toml".as_ref())).map_err(|e| e.to_string())?;
            assert_eq!(s.sites.len(), 1, "the example declares one demo site");

            jail.create_file("kefu.toml", EXAMPLE)?;
            let err = Settings::load(Some("kefu.toml".as_ref()))
                .unwrap_err()
                .to_string();
            assert!(
                err.contains("sites.0.identity_secret") && err.contains("placeholder"),
                "{err}"
            );
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

    /// Found by the config fuzzer: figment panicked on a quoted environment value with a
    /// backslash escape after non-ASCII text; kefu now refuses it, naming the variable.
    #[test]
    fn a_quoted_escaped_non_ascii_env_value_is_refused_not_a_crash() {
        Jail::expect_with(|jail| {
            jail.set_env("KEFU_SITES__0__WELCOME", "\"欢迎\\n光临\"");
            let err = Settings::load(None).unwrap_err();
            assert_eq!(err.key, "sites.0.welcome", "{err}");
            let text = err.to_string();
            assert!(text.contains("KEFU_SITES__0__WELCOME"), "{text}");
            jail.clear_env();
            jail.set_env("KEFU_LOG__FORMAT", "\"hum\\u00e9n\"");
            let err = Settings::load(None).unwrap_err();
            assert_eq!(
                err.key, "log.format",
                "ASCII escapes reach validation: {err}"
            );
            Ok(())
        });
    }

    /// Found by the config fuzzer: a file that is not TOML was reported as
    /// "config key `` (from …)", naming an empty key.
    #[test]
    fn a_syntax_error_names_the_source_and_line_not_an_empty_key() {
        // In a jail only to keep other tests' variables out of this load.
        Jail::expect_with(|_| {
            let err = Settings::load_str("[routing]\noffer_timeout_secs = = 3\n").unwrap_err();
            assert!(err.key.is_empty(), "no key to name: {err:?}");
            let text = err.to_string();
            assert!(!text.contains("``"), "no empty key in: {text}");
            assert!(text.starts_with("config TOML source string: "), "{text}");
            assert!(text.contains("line 2"), "says where: {text}");
            Ok(())
        });
    }

    /// figment's recursive value parser overflowed the stack on a deeply nested override;
    /// kefu now refuses it, naming the variable (found by the config fuzzer).
    #[test]
    fn a_deeply_nested_env_value_is_refused_not_a_stack_overflow() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("KEFU_LOG__LEVEL", "[".repeat(6000));
            let err = Settings::load_str("").unwrap_err().to_string();
            assert!(err.contains("KEFU_LOG__LEVEL"), "{err}");
            assert!(err.contains("nested at most 32"), "{err}");
            jail.set_env("KEFU_LOG__LEVEL", "\"[[[[ just text in quotes\"");
            if let Err(e) = Settings::load_str("") {
                let err = e.to_string();
                assert!(
                    !err.contains("nested"),
                    "quoted brackets do not count: {err}"
                );
            }
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
