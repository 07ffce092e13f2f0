//! One signed-in shopper: its WebSocket, and the conversation it holds — send, wait for the
//! Ack (and with `wait_for_answers` the FAQ bot's answer), pause, again.

use std::{
    net::SocketAddr,
    time::{Duration, Instant},
};

use futures_util::{SinkExt, StreamExt};
use kefu_proto::v1::{self as pb, client_envelope::Kind as In, server_envelope::Kind as Out};
use kefu_server::auth::identity;
use prost::Message as _;
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::{
    MaybeTlsStream, WebSocketStream,
    tungstenite::{Message, client::IntoClientRequest, http::HeaderValue},
};

use crate::{BOT_NAME, HANDOFF, LINES, ORIGIN, REPLY_WAIT, SECRET, SITE, Samples, WAIT, think};

/// What one shopper measured.
#[derive(Default)]
pub struct ShopperResult {
    pub acks: Samples,
    pub replies: Samples,
    pub handoffs: usize,
    pub missing: usize,
}

/// A signed-in shopper's WebSocket.
pub struct Shopper {
    pub ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

impl Shopper {
    /// Starts a visitor session for a signed customer id (so `recommend` asks for the
    /// customer view) and opens the socket as the site's page would.
    pub async fn connect(addr: SocketAddr, customer_id: &str) -> Self {
        let session: Value = reqwest::Client::new()
            .post(format!("http://{addr}/api/v1/visitor/session"))
            .header("origin", ORIGIN)
            .json(&json!({
                "site_id": SITE,
                "customer_id": customer_id,
                "signature": identity::sign(SECRET, customer_id),
            }))
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .expect("visitor session")
            .json()
            .await
            .expect("session JSON");
        let token = session["visitor_token"].as_str().expect("visitor_token");
        let mut req = format!("ws://{addr}/ws/shopper?token={token}")
            .into_client_request()
            .expect("request");
        req.headers_mut()
            .insert("origin", HeaderValue::from_static(ORIGIN));
        let (ws, _) = tokio_tungstenite::connect_async(req)
            .await
            .expect("shopper socket");
        let mut me = Self { ws };
        while !matches!(me.next(WAIT).await, Some(Out::Hello(_))) {}
        me
    }

    /// The next server frame, or `None` when `wait` ran out.
    async fn next(&mut self, wait: Duration) -> Option<Out> {
        loop {
            let msg = tokio::time::timeout(wait, self.ws.next()).await.ok()?;
            match msg {
                Some(Ok(Message::Binary(b))) => {
                    let env = pb::ServerEnvelope::decode(b).expect("server frame decodes");
                    return Some(env.kind.expect("frame kind"));
                }
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                other => panic!("shopper socket ended: {other:?}"),
            }
        }
    }

    /// Sends `messages` lines one after another; with `wait_for_answers`, also waits for
    /// the FAQ bot's answer to each (until it hands off or fails to answer).
    pub async fn converse(
        &mut self,
        shopper: usize,
        messages: usize,
        wait_for_answers: bool,
    ) -> ShopperResult {
        let mut r = ShopperResult::default();
        let mut conv = String::new();
        let mut bot_talks = wait_for_answers;
        // Staggered starts, spread over one mean pause.
        tokio::time::sleep(Duration::from_millis(shopper as u64)).await;
        for j in 0..messages {
            let id = format!("s{shopper}-m{j}");
            let text = LINES[(shopper * 3 + j) % LINES.len()];
            let frame = pb::ClientEnvelope {
                kind: Some(In::Send(pb::SendMessage {
                    conversation_id: conv.clone(),
                    client_msg_id: id.clone(),
                    body: Some(pb::MessageBody {
                        kind: Some(pb::message_body::Kind::Text(pb::Text { text: text.into() })),
                    }),
                    group: String::new(),
                    context: None,
                })),
            };
            let sent = Instant::now();
            self.ws
                .send(Message::Binary(frame.encode_to_vec().into()))
                .await
                .expect("send");
            // The server's id of this message, once acked; bot frames that came first.
            let mut message_id: Option<String> = None;
            let mut bot_frames: Vec<(pb::Message, Instant)> = Vec::new();
            let mut answered = false;
            let mut answer_deadline: Option<Instant> = None;
            loop {
                if let Some(mid) = &message_id {
                    let reply = bot_frames
                        .iter()
                        .find(|(m, _)| m.client_msg_id.contains(mid));
                    if let Some((m, at)) = reply {
                        r.replies.push(j, *at - sent);
                        if text_of(m).starts_with(HANDOFF) {
                            r.handoffs += 1;
                            bot_talks = false;
                        }
                        answered = true;
                    }
                    if answered || !bot_talks {
                        break;
                    }
                }
                let wait = match answer_deadline {
                    Some(d) => d.saturating_duration_since(Instant::now()),
                    None => WAIT,
                };
                let Some(frame) = self.next(wait).await else {
                    if message_id.is_none() {
                        panic!("no Ack for {id} within {WAIT:?}");
                    }
                    r.missing += 1;
                    bot_talks = false; // don't wait on a silent bot again
                    break;
                };
                let at = Instant::now();
                match frame {
                    Out::Ack(a) if a.client_msg_id == id => {
                        r.acks.push(j, at - sent);
                        conv = a.conversation_id;
                        message_id = Some(a.message_id);
                        answer_deadline = Some(at + REPLY_WAIT);
                    }
                    Out::Error(e) if e.client_msg_id == id => panic!("send {id} failed: {e:?}"),
                    Out::Message(m) if is_faq(&m) => bot_frames.push((m, at)),
                    _ => {}
                }
            }
            tokio::time::sleep(think(shopper, j)).await;
        }
        r
    }
}

fn is_faq(m: &pb::Message) -> bool {
    m.sender
        .as_ref()
        .is_some_and(|s| s.role == pb::Role::Bot as i32 && s.display_name == BOT_NAME)
}

fn text_of(m: &pb::Message) -> &str {
    match m.body.as_ref().and_then(|b| b.kind.as_ref()) {
        Some(pb::message_body::Kind::Text(t)) => &t.text,
        _ => "",
    }
}
