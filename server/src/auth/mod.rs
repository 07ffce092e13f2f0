//! Credentials: argon2id passwords, opaque bearer tokens stored as SHA-256, and the shop's
//! signed customer identity.

pub mod identity;
pub mod password;
pub mod token;
