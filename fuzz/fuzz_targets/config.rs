//! Arbitrary text as `kefu.toml`, plus `KEFU_*` environment overrides, through the real
//! loading and validation (`Settings::load_str`: defaults, the TOML, the environment,
//! `validate`).
//!
//! Input: the TOML document, optionally followed by a NUL byte and `NAME=value` lines, each
//! set as `KEFU_NAME` for this one load (the seeds in `corpus/config` show both).
//!
//! Invariants: nothing panics; every refusal names a key (or, for TOML that does not parse,
//! says where), says where the value came from, and what was expected; an accepted
//! configuration loads again unchanged from its own serialization.

#![no_main]

use figment::{Figment, providers::Serialized};
use kefu_server::config::Settings;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (toml, env) = match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[][..]),
    };
    let Ok(toml) = std::str::from_utf8(toml) else {
        return;
    };
    let vars = env_vars(env);
    for (name, value) in &vars {
        set_env(name, Some(value));
    }
    let loaded = Settings::load_str(toml);
    for (name, _) in &vars {
        set_env(name, None);
    }
    match loaded {
        Ok(settings) => {
            // What was accepted must survive a second pass (kefu re-reads nothing, but
            // `config check` and the tests print and reload settings).
            let again = Settings::from_figment(&Figment::from(Serialized::defaults(&settings)))
                .unwrap_or_else(|e| panic!("accepted settings reload: {e}"));
            assert_eq!(
                format!("{again:?}"),
                format!("{settings:?}"),
                "settings reload unchanged"
            );
        }
        Err(e) => {
            let text = e.to_string();
            // A key, or for a document that is not TOML at all, the line and column.
            assert!(
                !e.key.is_empty() || e.expected.contains("line"),
                "a refusal names the key or the place: {text}"
            );
            assert!(
                !text.starts_with("config key ``"),
                "no empty key named: {text}"
            );
            assert!(!e.source_name.is_empty(), "says where from: {text}");
            assert!(!e.expected.is_empty(), "says what was expected: {text}");
        }
    }
});

/// `NAME=value` lines → (`KEFU_NAME`, value); names reduced to what an environment allows.
fn env_vars(env: &[u8]) -> Vec<(String, String)> {
    String::from_utf8_lossy(env)
        .lines()
        .take(8)
        .filter_map(|line| {
            let (name, value) = line.split_once('=')?;
            let name: String = name
                .chars()
                .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            let value = value.replace('\0', "");
            (!name.is_empty()).then(|| (format!("KEFU_{}", name.to_ascii_uppercase()), value))
        })
        .collect()
}

/// The environment is process-wide; this target runs on libFuzzer's one thread and starts
/// none, and every variable it sets is removed before the next input.
#[allow(unsafe_code)]
fn set_env(name: &str, value: Option<&str>) {
    // SAFETY: no other thread reads or writes the environment (see above).
    unsafe {
        match value {
            Some(v) => std::env::set_var(name, v),
            None => std::env::remove_var(name),
        }
    }
}
