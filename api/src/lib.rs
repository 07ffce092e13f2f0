//! Kefu's JSON shapes that more than one crate reads or writes, defined once so the server's
//! wire format and its readers cannot drift apart.
//!
//! # Layout
//! - [`customer`]: the customer view beside a chat — the back office's profile, orders and
//!   returns (field names follow `docs/backoffice-format.md`), each [`Section`] with its
//!   source's state. The server builds and sends it; the desk decodes it and hands it to its
//!   window.
//! - [`identity`]: whether the shopper is verified to be that customer ([`ShopperView`]); an
//!   unverified shopper only gets a suggested customer's name.
//!
//! The `specta` feature derives `specta::Type` on every type, so the desk's generated
//! TypeScript bindings describe exactly what the server sends; the `utoipa` feature derives
//! `utoipa::ToSchema`, so the server's OpenAPI description does too.

pub mod customer;
pub mod identity;

pub use customer::*;
pub use identity::*;
