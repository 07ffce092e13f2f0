//! argon2id password hashing.
//!
//! Hashing is CPU- and memory-heavy by design (19 MiB per call), so it runs on a few
//! dedicated threads: it never stalls the async workers that carry chat traffic, a burst of
//! sign-ins queues instead of taking every core, and memory stays bounded. (On tokio's
//! blocking pool, glibc kept each freed 19 MiB block in the arena of whichever of up to 512
//! threads used it: 200 agents signing in left kefu at ~650 MB resident.)

use std::sync::{Mutex, OnceLock, mpsc};

use argon2::{
    Argon2,
    password_hash::{PasswordHasher, PasswordVerifier, phc::PasswordHash},
};

type Job = Box<dyn FnOnce() + Send>;

/// Hashing threads: one per core, at most 4.
fn hashers() -> &'static mpsc::Sender<Job> {
    static POOL: OnceLock<mpsc::Sender<Job>> = OnceLock::new();
    POOL.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<Job>();
        let rx = std::sync::Arc::new(Mutex::new(rx));
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get().min(4));
        for i in 0..threads {
            let rx = rx.clone();
            std::thread::Builder::new()
                .name(format!("kefu-argon2-{i}"))
                .spawn(move || {
                    loop {
                        let job = rx.lock().expect("hasher queue").recv();
                        match job {
                            Ok(job) => job(),
                            Err(_) => return,
                        }
                    }
                })
                .expect("spawning a hashing thread");
        }
        tx
    })
}

/// Runs `f` on a hashing thread.
async fn on_hasher<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> anyhow::Result<T> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    hashers()
        .send(Box::new(move || {
            let _ = tx.send(f());
        }))
        .map_err(|_| anyhow::anyhow!("password hashing threads stopped"))?;
    Ok(rx.await?)
}

/// Hashes a password into a PHC string (argon2id, random salt, library defaults).
pub async fn hash(password: String) -> anyhow::Result<String> {
    on_hasher(move || {
        Argon2::default()
            .hash_password(password.as_bytes())
            .map(|h| h.to_string())
            .map_err(|e| anyhow::anyhow!("hashing password: {e}"))
    })
    .await?
}

/// Checks a password against a stored PHC string. A malformed hash counts as a mismatch.
pub async fn verify(password: String, phc: String) -> bool {
    on_hasher(move || {
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
