//! Scripted shoppers for the demo (`--shoppers N`): up to N demo customers at a time chat
//! with Kefu over the real widget socket, so a supervisor signed in to the demo sees the live
//! floor move. Each one signs in as a customer of the data set (the shop signs the id, as
//! the demo shop's pages do), asks a question in Chinese or English, answers the agent a
//! couple of times, thanks them and closes. Nobody answering within a few minutes: the
//! shopper leaves the conversation queued, as a real one would, and the next one comes.
//! Demo tooling, not product code.

use std::time::Duration;

use anyhow::{Context as _, bail};
use futures_util::{SinkExt as _, StreamExt as _};
use kefu_proto::v1::{
    self as pb, ClientEnvelope, client_envelope::Kind as In, server_envelope::Kind as Out,
};
use prost::Message as _;
use rand::{Rng as _, seq::IndexedRandom as _};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::{self, client::IntoClientRequest as _, http::HeaderValue};

use crate::{Dataset, shop::identity_signature};

/// Where the shoppers write and as whom.
#[derive(Clone)]
pub struct Script {
    /// Kefu's base URL, e.g. `http://127.0.0.1:8080`.
    pub kefu_url: String,
    /// The demo shop's own origin (the `demo` site allows it).
    pub origin: String,
    /// The `demo` site's identity secret.
    pub identity_secret: String,
    /// Customer ids to sign in as.
    pub customers: Vec<String>,
    /// Seconds a shopper takes to read and answer, drawn from this range ([`THINKING`] in
    /// the demo; tests answer at once).
    pub thinking: std::ops::Range<u64>,
}

/// How long demo shoppers take to answer, in seconds.
pub const THINKING: std::ops::Range<u64> = 3..10;

/// Opening questions: (group, text).
const OPENERS: [(&str, &str); 8] = [
    (
        "after-sales",
        "你好，我的快递三天没更新了，能帮我查一下吗？",
    ),
    ("after-sales", "我想退货，衣服尺码不合适。"),
    ("pre-sales", "这款保温杯有红色的吗？"),
    ("pre-sales", "请问双十二有什么优惠？"),
    (
        "after-sales",
        "Hi, my order arrived damaged. What can I do?",
    ),
    ("after-sales", "Where is my refund? It has been a week."),
    ("pre-sales", "Does this jacket come in XL?"),
    ("pre-sales", "Do you ship to Hong Kong?"),
];

const FOLLOW_UPS: [&str; 6] = [
    "好的，订单号在我的账户里能看到吗？",
    "明白了，大概需要几天？",
    "OK, thanks. How long will that take?",
    "Can you send me the tracking link?",
    "那我等你们的消息。",
    "Great, one more question: is the warranty included?",
];

const THANKS: [&str; 3] = ["谢谢！", "Thanks a lot!", "好的，谢谢你的帮助。"];

/// How long a shopper waits for a human before leaving the chat queued.
const PATIENCE: Duration = Duration::from_secs(180);

/// Runs `concurrent` shoppers for ever, each new one a few seconds after the last left.
pub async fn run(script: Script, concurrent: usize) {
    // Kefu usually starts beside us: wait for it rather than fail the first visits.
    let health = format!("{}/healthz", script.kefu_url);
    while !reqwest::get(&health)
        .await
        .is_ok_and(|r| r.status().is_success())
    {
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..concurrent {
        let script = script.clone();
        tasks.spawn(async move {
            // Stagger the first arrivals so the queue grows visibly.
            tokio::time::sleep(Duration::from_secs(3 * i as u64)).await;
            loop {
                if let Err(e) = chat_once(&script).await {
                    tracing::warn!(error = format!("{e:#}"), "scripted shopper stopped");
                }
                let pause = rand::rng().random_range(5..20);
                tokio::time::sleep(Duration::from_secs(pause)).await;
            }
        });
    }
    while tasks.join_next().await.is_some() {}
}

/// One shopper's visit: sign in, open a chat, talk, close.
async fn chat_once(script: &Script) -> anyhow::Result<()> {
    let (customer, (group, opener)) = {
        let mut rng = rand::rng();
        let customer = script
            .customers
            .choose(&mut rng)
            .context("no customers to sign in as")?
            .clone();
        (customer, *OPENERS.choose(&mut rng).expect("openers"))
    };
    let token = sign_in(script, &customer).await?;
    let url = format!(
        "{}/ws/shopper?token={token}",
        script.kefu_url.replacen("http", "ws", 1)
    );
    let mut request = url.into_client_request()?;
    request
        .headers_mut()
        .insert("origin", HeaderValue::from_str(&script.origin)?);
    let (mut ws, _) = tokio_tungstenite::connect_async(request)
        .await
        .context("connecting the shopper socket")?;
    let mut conversation = String::new();
    send(&mut ws, &conversation, group, opener).await?;
    let mut replies_left = rand::rng().random_range(1..=3);
    let deadline = tokio::time::Instant::now() + PATIENCE;
    let mut heartbeat = tokio::time::interval(Duration::from_secs(20));
    loop {
        let frame = tokio::select! {
            frame = ws.next() => frame,
            _ = heartbeat.tick() => {
                let beat = In::Heartbeat(pb::Heartbeat { at_ms: 0 });
                ws.send(frame_of(beat)).await?;
                continue;
            }
            () = tokio::time::sleep_until(deadline) => {
                tracing::info!(%customer, "nobody answered; the scripted shopper leaves it queued");
                return Ok(());
            }
        };
        let Some(frame) = frame else {
            bail!("kefu closed the socket")
        };
        let tungstenite::Message::Binary(bytes) = frame? else {
            continue;
        };
        match pb::ServerEnvelope::decode(bytes)?.kind {
            Some(Out::Ack(ack)) => conversation = ack.conversation_id,
            Some(Out::Message(m)) if from_agent(&m) => {
                // Read, think, type.
                let pause = rand::rng().random_range(script.thinking.clone());
                tokio::time::sleep(Duration::from_secs(pause)).await;
                if replies_left == 0 {
                    let thanks = *THANKS.choose(&mut rand::rng()).expect("thanks");
                    send(&mut ws, &conversation, group, thanks).await?;
                    let close = In::Close(pb::CloseConversation {
                        conversation_id: conversation.clone(),
                    });
                    ws.send(frame_of(close)).await?;
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    return Ok(());
                }
                replies_left -= 1;
                let text = *FOLLOW_UPS.choose(&mut rand::rng()).expect("follow-ups");
                send(&mut ws, &conversation, group, text).await?;
            }
            Some(Out::Error(e)) => bail!("kefu refused a frame: {}", e.message),
            _ => {}
        }
    }
}

/// A visitor token for `customer`, signed in as the shop's backend would.
async fn sign_in(script: &Script, customer: &str) -> anyhow::Result<String> {
    let body = json!({
        "site_id": "demo",
        "customer_id": customer,
        "signature": identity_signature(&script.identity_secret, customer),
    });
    let response = reqwest::Client::new()
        .post(format!("{}/api/v1/visitor/session", script.kefu_url))
        .header("origin", &script.origin)
        .json(&body)
        .send()
        .await
        .context("is kefu running?")?;
    let status = response.status();
    let answer: Value = response.json().await.unwrap_or(Value::Null);
    if !status.is_success() {
        bail!("visitor session refused ({status}): {answer}");
    }
    answer["visitor_token"]
        .as_str()
        .map(str::to_owned)
        .with_context(|| format!("no token in {answer}"))
}

fn from_agent(m: &pb::Message) -> bool {
    m.sender
        .as_ref()
        .is_some_and(|s| s.role == pb::Role::Agent as i32)
}

async fn send<S>(ws: &mut S, conversation: &str, group: &str, text: &str) -> anyhow::Result<()>
where
    S: futures_util::Sink<tungstenite::Message> + Unpin,
    S::Error: std::error::Error + Send + Sync + 'static,
{
    let send = In::Send(pb::SendMessage {
        conversation_id: conversation.to_owned(),
        client_msg_id: uuid::Uuid::new_v4().to_string(),
        body: Some(pb::MessageBody {
            kind: Some(pb::message_body::Kind::Text(pb::Text {
                text: text.to_owned(),
            })),
        }),
        group: group.to_owned(),
        context: None,
    });
    ws.send(frame_of(send)).await?;
    Ok(())
}

fn frame_of(kind: In) -> tungstenite::Message {
    let envelope = ClientEnvelope { kind: Some(kind) };
    tungstenite::Message::Binary(envelope.encode_to_vec().into())
}

/// The customers scripted shoppers sign in as: the first 50 of the data set.
pub fn customers(data: &Dataset) -> Vec<String> {
    data.customers()
        .iter()
        .take(50)
        .map(|c| c.id.clone())
        .collect()
}
