//! Arbitrary bytes as what a client sends on an upgraded `/ws/*` socket, through the
//! server's decoding path exactly as the socket loop takes it: the WebSocket framing
//! (tungstenite, the library under axum's `WebSocket`, with kefu's default frame limits),
//! then for each binary message `wire::decode_request` (what `gateway/ws.rs` calls), then
//! the per-field readers the handlers apply (conversation ids, message bodies, page context).
//!
//! Invariants: nothing panics; a refused frame is a typed error (`MalformedFrame` or
//! `UnknownType`) with a message; a decoded request re-encodes and decodes to itself.

#![no_main]

use std::io::{self, Cursor, Read, Write};

use bytes::Bytes;
use kefu_proto::v1::{self as pb, client_envelope::Kind as In};
use kefu_server::{config::Settings, sessions::parse_id, wire};
use libfuzzer_sys::fuzz_target;
use prost::Message as _;
use tungstenite::{Message, protocol::Role, protocol::WebSocketConfig};

/// The socket as the server sees it: the client's bytes to read, writes discarded.
struct Peer(Cursor<Vec<u8>>);

impl Read for Peer {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(buf)
    }
}

impl Write for Peer {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fuzz_target!(|data: &[u8]| {
    // The first byte picks the layer: raw socket bytes (framing included) or one frame's
    // payload straight into the decoder, so the fuzzer also explores protobuf on its own.
    let Some((&layer, rest)) = data.split_first() else {
        return;
    };
    if layer & 1 == 0 {
        check_frame(Bytes::copy_from_slice(rest));
        return;
    }
    // The limits `gateway/ws.rs::configure` gives axum, from the default settings.
    let limits = Settings::default().limits;
    let config = WebSocketConfig::default()
        .read_buffer_size(limits.ws_read_buffer_bytes)
        .max_message_size(Some(limits.max_frame_bytes))
        .max_frame_size(Some(limits.max_frame_bytes));
    let mut socket = tungstenite::WebSocket::from_raw_socket(
        Peer(Cursor::new(rest.to_vec())),
        Role::Server,
        Some(config),
    );
    // The socket loop stops at the first error; so does this.
    while let Ok(msg) = socket.read() {
        if let Message::Binary(frame) = msg {
            check_frame(frame);
        }
    }
});

/// One binary message through `handle`'s decoding and the readers behind it.
fn check_frame(frame: Bytes) {
    let kind = match wire::decode_request(frame) {
        Ok(kind) => kind,
        Err(e) => {
            assert!(
                matches!(
                    e.code,
                    pb::ErrorCode::MalformedFrame | pb::ErrorCode::UnknownType
                ),
                "a refused frame is malformed or of an unknown type, not {:?}",
                e.code
            );
            assert!(!e.message.is_empty(), "a refused frame says why");
            return;
        }
    };
    let again = pb::ClientEnvelope {
        kind: Some(kind.clone()),
    }
    .encode_to_vec();
    assert_eq!(
        wire::decode_request(again.into()).ok().as_ref(),
        Some(&kind),
        "a decoded request re-encodes to itself"
    );
    match kind {
        In::Send(s) => {
            let _ = parse_id(&s.conversation_id);
            if let Some(body) = s.body {
                let _ = wire::body_from_pb(body);
            }
            if let Some(c) = s.context {
                let c = wire::page_context(c);
                if let Some(url) = c.url {
                    assert!(url.starts_with("http"), "only web pages are kept: {url}");
                }
            }
        }
        In::Resume(r) => drop(parse_id(&r.conversation_id)),
        In::Typing(t) => drop(parse_id(&t.conversation_id)),
        In::Read(r) => drop(parse_id(&r.conversation_id)),
        In::Accept(a) => drop(parse_id(&a.conversation_id)),
        In::Decline(d) => drop(parse_id(&d.conversation_id)),
        In::Transfer(t) => drop(parse_id(&t.conversation_id)),
        In::Close(c) => drop(parse_id(&c.conversation_id)),
        In::Heartbeat(_) | In::SetStatus(_) => {}
    }
}
