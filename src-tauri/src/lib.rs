//! # kefu-desk: the agent's desktop workstation
//!
//! An offline-first core that never imports `tauri`, and a thin Tauri shell over it.
//!
//! # Layout
//! - [`cache`]: the local SQLite cache — conversations (with what the list shows), messages
//!   (deduped by seq), customer views, and the outbox of messages not yet acknowledged.
//! - [`client`]: the server's REST API (with the supervisor's calls in `client/supervision.rs`)
//!   and the agent WebSocket.
//! - [`sync`]: the engine that keeps cache and server in step — resume by seq after every
//!   (re)connect, deliver the outbox exactly once and in order, reconnect with backoff.
//! - [`desk`]: everything the window can ask for, over the modules above: the chats, and
//!   (`desk/supervisor.rs`) the live floor the server pushes to supervisors, their actions,
//!   reports and search.
//! - [`secrets`] (OS keyring), [`notifier`] (OS notifications, coalesced), [`logging`]
//!   (rotating log file), [`model`] (the types the window sees).
//! - [`app`]: the Tauri shell — window, tray, commands and events (the only module that
//!   uses `tauri`).

pub mod app;
pub mod cache;
pub mod client;
pub mod desk;
pub mod logging;
pub mod model;
pub mod notifier;
pub mod secrets;
pub mod sync;
