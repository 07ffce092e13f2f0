//! # kefu-desk: the agent's desktop workstation
//!
//! The offline-first core. None of these modules imports `tauri`: they are tested without
//! a window, against a real `kefu` server and a real SQLite file.
//!
//! # Layout
//! - [`cache`]: the local SQLite cache — conversations, messages (deduped by seq) and the
//!   outbox of messages written but not yet acknowledged.
//! - [`client`]: signing in over REST and opening the agent WebSocket.
//! - [`sync`]: the engine that keeps cache and server in step — resume by seq after every
//!   (re)connect, deliver the outbox exactly once and in order, reconnect with backoff.

pub mod cache;
pub mod client;
pub mod sync;
