//! Bad input over real sockets: every malformed, oversize, unknown or out-of-range request
//! gets a typed error (or, for a frame too big to read, a clean close), the server never
//! panics, the offending socket keeps working when it can, and everyone else keeps being
//! served.
//!
//! Each scenario is a function taking the server, so it runs alone on a fresh server (to
//! pinpoint a failure) and, in `one_server_survives_all_bad_input`, together with all the
//! others on one server that must still answer afterwards.

mod common;

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, Once},
};

use common::*;
use futures_util::SinkExt as _;
use kefu_proto::v1::{self as pb, client_envelope::Kind as In, server_envelope::Kind as Out};
use kefu_server::store::Role;
use prost::Message as _;
use tokio_tungstenite::tungstenite::Message;

// ---------------------------------------------------------------------------------------
// Panic watch: the server runs in this process, and tokio swallows a panicking connection
// task (the socket just drops). A panic hook records every panic raised outside the test
// code itself, so "the server never panics" is checked, not assumed.
// ---------------------------------------------------------------------------------------

static SERVER_PANICS: Mutex<Vec<String>> = Mutex::new(Vec::new());
static HOOK: Once = Once::new();

fn watch_for_server_panics() {
    HOOK.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            // Test assertions and unwraps report a location under `tests/`; anything else
            // (server code or a library it calls) is a server panic.
            let in_tests = info.location().is_some_and(|l| l.file().contains("tests/"));
            if !in_tests {
                let thread = std::thread::current().name().unwrap_or("?").to_string();
                SERVER_PANICS
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(format!("[thread {thread}] {info}"));
            }
            default(info);
        }));
    });
}

fn assert_no_server_panic() {
    let panics = SERVER_PANICS
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    assert!(
        panics.is_empty(),
        "bad input must never make the server panic, but it did: {panics:#?}"
    );
}

async fn start() -> TestServer {
    watch_for_server_panics();
    TestServer::start().await
}

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

fn send_req(conv: &str, client_msg_id: &str, text: &str) -> pb::SendMessage {
    pb::SendMessage {
        conversation_id: conv.into(),
        client_msg_id: client_msg_id.into(),
        body: Some(text_body(text)),
        group: String::new(),
        context: None,
    }
}

fn envelope(kind: In) -> Vec<u8> {
    pb::ClientEnvelope { kind: Some(kind) }.encode_to_vec()
}

async fn send_binary(ws: &mut Ws, bytes: Vec<u8>) {
    ws.send_raw(Message::Binary(bytes.into())).await;
}

/// Sends a request that must be refused; returns the error (failing if it is acked).
async fn refused(ws: &mut Ws, req: pb::SendMessage) -> pb::Error {
    let id = req.client_msg_id.clone();
    ws.send(In::Send(req)).await;
    ws.recv_until(|k| match k {
        Out::Error(e) => Some(e.clone()),
        Out::Ack(a) => panic!("request {id:?} must be refused, but it was acked: {a:?}"),
        _ => None,
    })
    .await
}

/// The next error on the socket, which must carry `code`.
async fn expect_error(ws: &mut Ws, code: pb::ErrorCode, why: &str) -> pb::Error {
    let e = ws.recv_error().await;
    assert_eq!(
        e.code,
        code as i32,
        "{why}: expected {code:?}, got {:?} ({:?})",
        pb::ErrorCode::try_from(e.code),
        e.message
    );
    e
}

/// Proves a socket is still served: a heartbeat is echoed.
async fn heartbeat_echoed(ws: &mut Ws, at_ms: i64, why: &str) {
    ws.send(In::Heartbeat(pb::Heartbeat { at_ms })).await;
    let echoed = ws
        .recv_until(|k| match k {
            Out::Heartbeat(h) => Some(h.at_ms),
            _ => None,
        })
        .await;
    assert_eq!(echoed, at_ms, "{why}: the heartbeat is echoed unchanged");
}

/// A shopper opens a conversation in `group`; returns its socket, visitor and conversation.
async fn shopper_opens_in(srv: &TestServer, group: &str, id: &str) -> (Ws, TestVisitor, String) {
    let v = srv.visitor().await;
    let mut ws = srv.shopper_ws(&v).await;
    ws.send(In::Send(pb::SendMessage {
        group: group.into(),
        context: None,
        ..send_req("", id, "hello")
    }))
    .await;
    let want = id.to_string();
    let ack = ws
        .recv_until(|k| match k {
            Out::Ack(a) if a.client_msg_id == want => Some(a.clone()),
            Out::Error(e) => panic!("opening a conversation in {group} must work: {e:?}"),
            _ => None,
        })
        .await;
    (ws, v, ack.conversation_id)
}

/// Client ids of the stored messages of a conversation, as its shopper sees them.
async fn stored_ids(srv: &TestServer, conv: &str, token: &str) -> Vec<String> {
    let (status, page) = srv
        .get(
            &format!("/api/v1/conversations/{conv}/messages?limit=200"),
            token,
        )
        .await;
    assert_eq!(status, 200, "the conversation's owner may read its history");
    page["messages"]
        .as_array()
        .expect("a history page has a messages array")
        .iter()
        .map(|m| m["client_msg_id"].as_str().unwrap_or_default().to_string())
        .collect()
}

/// The server still answers health checks and a brand-new shopper can start a chat.
async fn assert_still_serving(srv: &TestServer) {
    let res = srv
        .http
        .get(srv.url("/healthz"))
        .send()
        .await
        .expect("/healthz answers");
    assert_eq!(
        res.status(),
        200,
        "after bad input the process must still be healthy"
    );
    let (mut ws, _, conv) = shopper_opens(srv, "anyone there?").await;
    assert!(
        uuid::Uuid::parse_str(&conv).is_ok(),
        "a fresh shopper still gets a real conversation after bad input: {conv:?}"
    );
    heartbeat_echoed(&mut ws, 424_242, "a fresh shopper socket is served").await;
    assert_no_server_panic();
}

// ---------------------------------------------------------------------------------------
// Scenarios
// ---------------------------------------------------------------------------------------

/// 1. Garbage bytes get MALFORMED_FRAME and the socket keeps working.
async fn garbage_bytes(srv: &TestServer) {
    let garbage: [&[u8]; 4] = [
        &[0xFF; 16],                                 // a varint that never ends
        b"\x0a\xff\xff\xff\xff\x0f",                 // field 1 claiming 4 GiB of payload
        b"\x0f\x00\x01\x02",                         // wire type 7 does not exist
        b"{\"send\":{\"client_msg_id\":\"x\"}}\r\n", // JSON, not protobuf
    ];
    for g in garbage {
        assert!(
            pb::ClientEnvelope::decode(g).is_err(),
            "test precondition: {g:?} must not decode as a ClientEnvelope"
        );
    }

    let v = srv.visitor().await;
    let mut ws = srv.shopper_ws(&v).await;
    for (i, g) in garbage.iter().enumerate() {
        send_binary(&mut ws, g.to_vec()).await;
        let e = expect_error(
            &mut ws,
            pb::ErrorCode::MalformedFrame,
            &format!("garbage #{i} cannot be decoded"),
        )
        .await;
        assert_eq!(
            e.client_msg_id, "",
            "nothing was decoded, so no client_msg_id can be echoed"
        );
    }
    let ack = ws.say("", "after-garbage", "still here").await;
    assert!(
        ack.seq >= 1,
        "a valid SendMessage after garbage on the same socket is stored and acked"
    );

    // The same holds on an agent socket.
    let agent = srv.agent("garbage-agent", Role::Agent, &[], 5).await;
    let mut a = srv.agent_ws(&agent).await;
    send_binary(&mut a, garbage[0].to_vec()).await;
    expect_error(
        &mut a,
        pb::ErrorCode::MalformedFrame,
        "garbage from an agent cannot be decoded",
    )
    .await;
    heartbeat_echoed(&mut a, 7, "an agent socket survives garbage").await;
}

/// 2. A valid envelope cut in half gets MALFORMED_FRAME; the socket stays usable, and the
///    whole frame sent afterwards is stored normally.
async fn truncated_frame(srv: &TestServer) {
    let full = envelope(In::Send(send_req(
        "",
        "cut-in-half",
        "this frame is going to be cut in half on its way",
    )));
    let half = full[..full.len() / 2].to_vec();
    assert!(
        pb::ClientEnvelope::decode(&half[..]).is_err(),
        "test precondition: half an envelope must not decode"
    );

    let v = srv.visitor().await;
    let mut ws = srv.shopper_ws(&v).await;
    send_binary(&mut ws, half).await;
    let e = expect_error(
        &mut ws,
        pb::ErrorCode::MalformedFrame,
        "a truncated envelope cannot be decoded",
    )
    .await;
    assert_eq!(
        e.client_msg_id, "",
        "a frame that did not decode has no client_msg_id to echo"
    );

    send_binary(&mut ws, full).await;
    let ack = ws
        .recv_until(|k| match k {
            Out::Ack(a) => Some(a.clone()),
            Out::Error(e) => panic!("the complete frame must be accepted: {e:?}"),
            _ => None,
        })
        .await;
    assert_eq!(
        ack.client_msg_id, "cut-in-half",
        "the complete frame is acked under its own client_msg_id"
    );
    let ids = stored_ids(srv, &ack.conversation_id, &v.token).await;
    assert_eq!(
        ids.iter().filter(|id| *id == "cut-in-half").count(),
        1,
        "only the complete frame was stored, once: {ids:?}"
    );
}

/// 3. A frame over `max_frame_bytes` closes that socket; an agent and another shopper in
///    the middle of a conversation carry on as if nothing happened.
async fn oversize_frame(srv: &TestServer) {
    let max = srv.settings.limits.max_frame_bytes;
    // A dedicated group so this agent is offered this conversation only, even on a server
    // where other scenarios left conversations queued.
    let agent = srv
        .agent("oversize-agent", Role::Agent, &["after-sales"], 5)
        .await;
    let mut a = srv.agent_ws(&agent).await;
    let (mut shopper, _, conv) = shopper_opens_in(srv, "after-sales", "os-open").await;
    assert_eq!(
        a.accept_next_offer().await,
        conv,
        "the after-sales agent is offered the after-sales conversation"
    );
    shopper.say(&conv, "os-before-s", "before the attack").await;
    a.recv_message(|m| m.client_msg_id == "os-before-s").await;
    a.say(&conv, "os-before-a", "hello from the agent").await;
    shopper
        .recv_message(|m| m.client_msg_id == "os-before-a")
        .await;

    // An otherwise valid SendMessage whose frame is one limit too big.
    let attacker_v = srv.visitor().await;
    let mut attacker = srv.shopper_ws(&attacker_v).await;
    assert_eq!(
        attacker.hello.max_frame_bytes as usize, max,
        "hello announces the frame limit the client is about to break"
    );
    let big = envelope(In::Send(send_req("", "os-huge", &"x".repeat(max))));
    assert!(
        big.len() > max,
        "test precondition: the frame ({}) exceeds max_frame_bytes ({max})",
        big.len()
    );
    // The server may close before it has read the whole frame, so a write error here is an
    // acceptable outcome, not a test failure.
    let _ = attacker.ws.send(Message::Binary(big.into())).await;
    let frames = attacker.drain_until_closed().await;
    for f in &frames {
        match f {
            Out::Error(e) => assert_eq!(
                e.code,
                pb::ErrorCode::TooLarge as i32,
                "the only error an oversize frame may get is TOO_LARGE: {e:?}"
            ),
            Out::Ack(ack) => panic!("an oversize frame must never be stored: {ack:?}"),
            _ => {}
        }
    }

    // Everyone else is unaffected, in both directions.
    shopper.say(&conv, "os-after-s", "after the attack").await;
    let m = a.recv_message(|m| m.client_msg_id == "os-after-s").await;
    assert_eq!(
        text_of(&m),
        Some("after the attack"),
        "the agent still receives the shopper's messages"
    );
    a.say(&conv, "os-after-a", "all good here").await;
    let m = shopper
        .recv_message(|m| m.client_msg_id == "os-after-a")
        .await;
    assert_eq!(
        text_of(&m),
        Some("all good here"),
        "the shopper still receives the agent's messages"
    );
    // The offender is not banned: it may reconnect and behave.
    let mut again = srv.shopper_ws(&attacker_v).await;
    let ack = again.say("", "os-behaving", "sorry").await;
    assert!(
        ack.seq >= 1,
        "a client closed for an oversize frame can reconnect and send normally"
    );
}

/// 4. An envelope with no request in it, or only fields from the future, is UNKNOWN_TYPE.
async fn unknown_type(srv: &TestServer) {
    let cases: [(&str, Vec<u8>); 4] = [
        ("an empty frame", vec![]),
        ("an envelope with no kind", envelope_without_kind()),
        ("only varint field 99", vec![0x98, 0x06, 0x01]),
        ("only length-delimited field 99", {
            let mut b = vec![0x9a, 0x06, 0x03];
            b.extend_from_slice(b"new");
            b
        }),
    ];
    let v = srv.visitor().await;
    let mut ws = srv.shopper_ws(&v).await;
    for (what, bytes) in cases {
        let decoded = pb::ClientEnvelope::decode(&bytes[..])
            .unwrap_or_else(|e| panic!("test precondition: {what} decodes: {e}"));
        assert!(
            decoded.kind.is_none(),
            "test precondition: {what} carries no known request"
        );
        send_binary(&mut ws, bytes).await;
        expect_error(
            &mut ws,
            pb::ErrorCode::UnknownType,
            &format!("{what} decodes but asks for nothing known"),
        )
        .await;
    }
    ws.say("", "after-unknown", "still here").await;
}

fn envelope_without_kind() -> Vec<u8> {
    pb::ClientEnvelope { kind: None }.encode_to_vec()
}

/// 5. Invalid UTF-8 in a protobuf string, and WebSocket text frames, are MALFORMED_FRAME.
async fn invalid_utf8_and_text_frames(srv: &TestServer) {
    let mut bytes = envelope(In::Send(send_req("", "bad-utf8", "@@")));
    let at: Vec<usize> = bytes
        .windows(2)
        .enumerate()
        .filter(|(_, w)| *w == b"@@")
        .map(|(i, _)| i)
        .collect();
    assert_eq!(
        at.len(),
        1,
        "test precondition: the text bytes appear once in the frame"
    );
    bytes[at[0]..at[0] + 2].copy_from_slice(&[0xFF, 0xFE]);
    assert!(
        pb::ClientEnvelope::decode(&bytes[..]).is_err(),
        "test precondition: a string field with 0xFF 0xFE must not decode"
    );

    let v = srv.visitor().await;
    let mut ws = srv.shopper_ws(&v).await;
    send_binary(&mut ws, bytes).await;
    expect_error(
        &mut ws,
        pb::ErrorCode::MalformedFrame,
        "a Text body with invalid UTF-8 is not a valid ClientEnvelope",
    )
    .await;
    // Nothing was stored under that id: the same id with valid text is a first send.
    let ack = ws.say("", "bad-utf8", "now valid").await;
    let ids = stored_ids(srv, &ack.conversation_id, &v.token).await;
    assert_eq!(
        ids,
        ["bad-utf8"],
        "only the valid resend was stored; the invalid one never reached the store"
    );

    // Text frames are refused, whatever they contain.
    for text in ["hello", "{\"send\":{\"client_msg_id\":\"t\"}}", ""] {
        ws.send_raw(Message::Text(text.into())).await;
        expect_error(
            &mut ws,
            pb::ErrorCode::MalformedFrame,
            &format!("the text frame {text:?} is refused: frames are binary protobuf"),
        )
        .await;
    }
    ws.say(&ack.conversation_id, "after-text", "still here")
        .await;
}

/// 6. Field limits: too long, empty, missing, or not a UUID, each with a typed error that
///    echoes the client_msg_id, and nothing stored.
async fn field_limits(srv: &TestServer) {
    let max = srv.settings.limits.max_text_bytes;
    let v = srv.visitor().await;
    let mut ws = srv.shopper_ws(&v).await;
    let conv = ws.say("", "fl-open", "hi").await.conversation_id;

    let e = refused(&mut ws, send_req(&conv, "fl-long", &"x".repeat(max + 1))).await;
    assert_eq!(
        e.code,
        pb::ErrorCode::TooLarge as i32,
        "text one byte over max_text_bytes is TOO_LARGE: {e:?}"
    );
    assert_eq!(
        e.client_msg_id, "fl-long",
        "the error names the message that was refused"
    );
    // The limit is in bytes, not characters: 'é' is two bytes.
    let e = refused(
        &mut ws,
        send_req(&conv, "fl-long-utf8", &"é".repeat(max / 2 + 1)),
    )
    .await;
    assert_eq!(
        (e.code, e.client_msg_id.as_str()),
        (pb::ErrorCode::TooLarge as i32, "fl-long-utf8"),
        "multi-byte text over max_text_bytes bytes is TOO_LARGE even with fewer chars"
    );
    // Exactly at the limit is fine.
    ws.say(&conv, "fl-at-limit", &"y".repeat(max)).await;

    let invalid: [(&str, pb::SendMessage); 6] = [
        ("empty text", send_req(&conv, "fl-empty", "")),
        ("blank text", send_req(&conv, "fl-blank", " \n\t ")),
        (
            "no body",
            pb::SendMessage {
                body: None,
                ..send_req(&conv, "fl-nobody", "x")
            },
        ),
        ("empty client_msg_id", send_req(&conv, "", "no id")),
        (
            "a client_msg_id over 64 characters",
            send_req(&conv, &"k".repeat(65), "long id"),
        ),
        (
            "a conversation_id that is not a UUID",
            send_req("conversation-42", "fl-baduuid", "where?"),
        ),
    ];
    for (what, req) in invalid {
        let id = req.client_msg_id.clone();
        let e = refused(&mut ws, req).await;
        assert_eq!(
            e.code,
            pb::ErrorCode::InvalidArgument as i32,
            "{what} is INVALID_ARGUMENT: {e:?}"
        );
        assert_eq!(
            e.client_msg_id, id,
            "the error for {what} echoes the client_msg_id sent"
        );
    }

    ws.say(&conv, "fl-after", "still fine").await;
    let ids = stored_ids(srv, &conv, &v.token).await;
    assert_eq!(
        ids,
        ["fl-open", "fl-at-limit", "fl-after"],
        "refused messages are never stored"
    );
}

/// 7. Huge or nonsensical history requests are refused with 400; a resume from beyond the
///    end replays nothing.
async fn huge_history_requests(srv: &TestServer) {
    let max_page = srv.settings.limits.history_page_max;
    let v = srv.visitor().await;
    let mut ws = srv.shopper_ws(&v).await;
    let conv = ws
        .say("", "hh-open", "history please")
        .await
        .conversation_id;
    let path = |q: &str| format!("/api/v1/conversations/{conv}/messages?{q}");

    for q in [
        "limit=1000000",
        "limit=0",
        &format!("limit={}", max_page + 1),
    ] {
        let (status, body) = srv.get(&path(q), &v.token).await;
        assert_eq!(status, 400, "{q}: a page size out of range is refused");
        assert_eq!(
            body["code"], "invalid_argument",
            "{q}: the refusal is the JSON error with a typed code: {body}"
        );
    }
    for q in [
        "limit=abc",
        "limit=-1",
        "limit=4294967296",
        "limit=1e9",
        "after_seq=abc",
        "before_seq=18446744073709551615",
    ] {
        let (status, body) = srv.get(&path(q), &v.token).await;
        assert_eq!(
            status, 400,
            "{q}: a value that is not a number in range is a bad request: {body}"
        );
        assert_eq!(
            body["code"], "invalid_argument",
            "{q}: malformed parameters get the JSON error too: {body}"
        );
    }
    let (status, body) = srv
        .get("/api/v1/conversations/not-a-uuid/messages", &v.token)
        .await;
    assert_eq!(
        body["code"], "invalid_argument",
        "path errors are JSON too: {body}"
    );
    assert_eq!(
        status, 400,
        "a conversation id that is not a UUID is refused"
    );

    let (status, body) = srv.get(&path(&format!("limit={max_page}")), &v.token).await;
    assert_eq!(status, 200, "the largest allowed page is served: {body}");
    let (status, body) = srv
        .get(&path(&format!("after_seq={}", i64::MAX)), &v.token)
        .await;
    assert_eq!(status, 200, "paging from the largest seq is fine: {body}");
    assert_eq!(
        body["messages"].as_array().map(Vec::len),
        Some(0),
        "nothing comes after the largest seq: {body}"
    );

    // Resume from far beyond the end: no messages, a ResumeDone, no crash. The shopper's
    // own message also comes back live (every tab of the visitor sees it); wait for that
    // first so any message before ResumeDone can only be a replay.
    ws.recv_message(|m| m.client_msg_id == "hh-open").await;
    ws.send(In::Resume(pb::Resume {
        conversation_id: conv.clone(),
        last_seq: u64::MAX,
    }))
    .await;
    let mut replayed = Vec::new();
    let done = loop {
        match ws
            .next()
            .await
            .expect("the socket stays open during a resume")
        {
            Out::Message(m) => replayed.push(m),
            Out::ResumeDone(d) => break d,
            Out::Error(e) => panic!("resuming from u64::MAX must not fail: {e:?}"),
            _ => {}
        }
    };
    assert!(
        replayed.is_empty(),
        "nothing is after u64::MAX, so nothing is replayed: {replayed:?}"
    );
    assert_eq!(
        done.conversation_id, conv,
        "ResumeDone names the conversation resumed"
    );
    let real_last = srv
        .store
        .conversation(conv.parse().unwrap())
        .await
        .unwrap()
        .last_seq as u64;
    assert_eq!(
        done.last_seq, real_last,
        "ResumeDone reports the server's real last seq, not the client's claim"
    );

    // A resume naming no valid conversation is a typed error.
    ws.send(In::Resume(pb::Resume {
        conversation_id: "not-a-uuid".into(),
        last_seq: 0,
    }))
    .await;
    expect_error(
        &mut ws,
        pb::ErrorCode::InvalidArgument,
        "a resume with a conversation_id that is not a UUID",
    )
    .await;
    ws.say(&conv, "hh-after", "still here").await;
}

// ---------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn garbage_bytes_get_malformed_frame_and_the_socket_keeps_working() {
    let srv = start().await;
    garbage_bytes(&srv).await;
    assert_still_serving(&srv).await;
}

#[tokio::test]
async fn a_truncated_frame_gets_malformed_frame_and_the_socket_keeps_working() {
    let srv = start().await;
    truncated_frame(&srv).await;
    assert_still_serving(&srv).await;
}

#[tokio::test]
async fn an_oversize_frame_closes_only_that_socket() {
    let srv = start().await;
    oversize_frame(&srv).await;
    assert_still_serving(&srv).await;
}

#[tokio::test]
async fn an_envelope_without_a_known_request_gets_unknown_type() {
    let srv = start().await;
    unknown_type(&srv).await;
    assert_still_serving(&srv).await;
}

#[tokio::test]
async fn invalid_utf8_and_text_frames_get_malformed_frame() {
    let srv = start().await;
    invalid_utf8_and_text_frames(&srv).await;
    assert_still_serving(&srv).await;
}

#[tokio::test]
async fn field_limits_get_typed_errors_with_the_client_msg_id() {
    let srv = start().await;
    field_limits(&srv).await;
    assert_still_serving(&srv).await;
}

#[tokio::test]
async fn huge_history_requests_are_refused_and_resume_past_the_end_is_empty() {
    let srv = start().await;
    huge_history_requests(&srv).await;
    assert_still_serving(&srv).await;
}

#[tokio::test]
async fn one_server_survives_all_bad_input() {
    let srv = start().await;
    garbage_bytes(&srv).await;
    truncated_frame(&srv).await;
    oversize_frame(&srv).await;
    unknown_type(&srv).await;
    invalid_utf8_and_text_frames(&srv).await;
    field_limits(&srv).await;
    huge_history_requests(&srv).await;
    assert_still_serving(&srv).await;
    // And it still shuts down cleanly.
    srv.shutdown().await;
    assert_no_server_panic();
}

/// 8. Sending faster than the configured rate gets RATE_LIMITED for the excess, naming the
///    message; accepted ones are acked and stored, refused ones are not, and a refused one
///    can be resent once the bucket refills.
#[tokio::test]
async fn sending_too_fast_is_rate_limited_per_message() {
    watch_for_server_panics();
    let srv = TestServer::start_with(|s| {
        s.limits.messages_per_second = 1;
        s.limits.messages_burst = 3;
    })
    .await;
    let v = srv.visitor().await;
    let mut ws = srv.shopper_ws(&v).await;

    let ids: Vec<String> = (0..10).map(|i| format!("rl-{i}")).collect();
    for id in &ids {
        ws.send_text("", id, &format!("message {id}")).await;
    }
    // Each SendMessage gets exactly one answer: an ack or an error naming it.
    let mut answers: HashMap<String, Result<pb::Ack, pb::Error>> = HashMap::new();
    while answers.len() < ids.len() {
        let (id, answer) = ws
            .recv_until(|k| match k {
                Out::Ack(a) => Some((a.client_msg_id.clone(), Ok(a.clone()))),
                Out::Error(e) => Some((e.client_msg_id.clone(), Err(e.clone()))),
                _ => None,
            })
            .await;
        assert!(
            ids.contains(&id),
            "every answer names one of the messages sent, got {id:?}: {answer:?}"
        );
        assert!(
            answers.insert(id.clone(), answer).is_none(),
            "{id} is answered exactly once"
        );
    }
    for id in &ids[..3] {
        assert!(
            answers[id].is_ok(),
            "the burst of 3 is allowed, so {id} is acked: {:?}",
            answers[id]
        );
    }
    let mut limited = Vec::new();
    let mut acked = Vec::new();
    for id in &ids {
        match &answers[id] {
            Ok(_) => acked.push(id.clone()),
            Err(e) => {
                assert_eq!(
                    e.code,
                    pb::ErrorCode::RateLimited as i32,
                    "the only refusal of a valid message sent too fast is RATE_LIMITED: {e:?}"
                );
                limited.push(id.clone());
            }
        }
    }
    assert!(
        !limited.is_empty(),
        "10 messages at once against 1/s with a burst of 3 must hit the limit: {answers:?}"
    );
    let conv = answers[&ids[0]].as_ref().unwrap().conversation_id.clone();
    let stored = stored_ids(&srv, &conv, &v.token).await;
    assert_eq!(
        stored, acked,
        "exactly the acked messages were stored, in order; rate-limited ones were not"
    );

    // The bucket refills: the first refused message goes through when resent later.
    let retry = limited[0].clone();
    let ws = Arc::new(tokio::sync::Mutex::new(ws));
    let ack = eventually(
        "a rate-limited message is accepted when resent later",
        || {
            let (ws, conv, retry) = (ws.clone(), conv.clone(), retry.clone());
            async move {
                let mut ws = ws.lock().await;
                ws.send_text(&conv, &retry, "resent").await;
                ws.recv_until(|k| match k {
                    Out::Ack(a) if a.client_msg_id == retry => Some(Some(a.clone())),
                    Out::Error(e) if e.client_msg_id == retry => {
                        assert_eq!(
                            e.code,
                            pb::ErrorCode::RateLimited as i32,
                            "a resend is only ever refused for the rate: {e:?}"
                        );
                        Some(None)
                    }
                    _ => None,
                })
                .await
            }
        },
    )
    .await;
    assert_eq!(
        ack.conversation_id, conv,
        "the resend lands in the same conversation"
    );
    assert_still_serving(&srv).await;
}
