//! argon2id password hashing. Hashing is CPU-heavy by design, so it runs on the blocking pool
//! and never stalls the async workers that carry chat traffic.

use argon2::{
    Argon2,
    password_hash::{PasswordHasher, PasswordVerifier, phc::PasswordHash},
};

/// Hashes a password into a PHC string (argon2id, random salt, library defaults).
pub async fn hash(password: String) -> anyhow::Result<String> {
    tokio::task::spawn_blocking(move || {
        Argon2::default()
            .hash_password(password.as_bytes())
            .map(|h| h.to_string())
            .map_err(|e| anyhow::anyhow!("hashing password: {e}"))
    })
    .await?
}

/// Checks a password against a stored PHC string. A malformed hash counts as a mismatch.
pub async fn verify(password: String, phc: String) -> bool {
    tokio::task::spawn_blocking(move || {
        PasswordHash::new(&phc)
            .map(|h| {
                Argon2::default()
                    .verify_password(password.as_bytes(), &h)
                    .is_ok()
            })
            .unwrap_or(false)
    })
    .await
    .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn hashes_are_argon2id_salted_and_verify() {
        let a = super::hash("s3cret".into()).await.unwrap();
        let b = super::hash("s3cret".into()).await.unwrap();
        assert!(a.starts_with("$argon2id$"), "argon2id PHC string: {a}");
        assert_ne!(a, b, "each hash has its own salt");
        assert!(super::verify("s3cret".into(), a.clone()).await);
        assert!(!super::verify("wrong".into(), a).await);
        assert!(!super::verify("s3cret".into(), "not a hash".into()).await);
    }
}
