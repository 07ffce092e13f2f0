//! Opaque bearer tokens. The client holds 32 random bytes; the server stores only their
//! SHA-256, so a leaked database does not leak usable tokens.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use rand::RngCore;
use sha2::{Digest, Sha256};

/// Prefix of agent tokens (lets support tell token kinds apart at a glance).
pub const AGENT_PREFIX: &str = "kfa_";
/// Prefix of bot account tokens.
pub const BOT_PREFIX: &str = "kfb_";
/// Prefix of shopper (visitor) tokens.
pub const VISITOR_PREFIX: &str = "kfv_";

/// A fresh token with the given prefix.
pub fn generate(prefix: &str) -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!("{prefix}{}", URL_SAFE_NO_PAD.encode(bytes))
}

/// The at-rest form of a token.
pub fn hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

#[cfg(test)]
mod tests {
    #[test]
    fn tokens_are_unique_and_hash_stably() {
        let a = super::generate(super::AGENT_PREFIX);
        let b = super::generate(super::AGENT_PREFIX);
        assert_ne!(a, b);
        assert!(a.starts_with("kfa_") && a.len() > 40);
        assert_eq!(super::hash(&a), super::hash(&a));
        assert_ne!(super::hash(&a), super::hash(&b));
        assert_eq!(super::hash(&a).len(), 64, "hex SHA-256");
    }
}
