//! Kefu's wire contract: the `kefu.v1` protobuf package, generated at build time from
//! `proto/kefu/v1/*.proto`. Never edit generated code; change the `.proto` files.

/// Version 1 of the protocol spoken on every Kefu WebSocket.
pub mod v1 {
    #![allow(clippy::doc_lazy_continuation, clippy::large_enum_variant)]
    include!(concat!(env!("OUT_DIR"), "/kefu.v1.rs"));
}

pub use prost::Message as ProstMessage;
