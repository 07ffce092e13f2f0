//! Measures the desktop app: cold start to an interactive window with 1,000 cached
//! conversations (25 open, the rest closed; offline: the server is unreachable), switch
//! time between conversations, and idle memory (RSS) of the app and its WebKit processes.
//!
//! Run in a desktop session, against a built app (release for representative figures):
//! `scripts/desktop-session.sh cargo run -p kefu-desk --example desk_bench -- <path to kefu-desk>`

use std::{
    path::Path,
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use fantoccini::{ClientBuilder, Locator};
use kefu_desk::{
    cache::{Cache, ConversationInfo},
    desk::{Dirs, cache_file},
    model::{Agent, ConversationState, Role},
    secrets::Secrets,
};
use kefu_proto::v1 as pb;

const CONVERSATIONS: usize = 1000;
const MESSAGES: u64 = 20;
/// Of which open (assigned to the agent); the rest are closed.
const OPEN: usize = 25;
/// Nothing listens here: the app starts offline, from its cache.
const SERVER: &str = "http://127.0.0.1:9";

async fn seed(dirs: &Dirs) -> anyhow::Result<()> {
    let agent = Agent {
        id: "bench-agent".into(),
        username: "demo".into(),
        display_name: "Bench Agent".into(),
        role: Role::Agent,
    };
    std::fs::create_dir_all(&dirs.data)?;
    std::fs::create_dir_all(&dirs.config)?;
    let cache = Cache::open(&cache_file(dirs, SERVER, "demo")).await?;
    // Recent enough to be inside the default retention (30 days).
    let now = kefu_desk::cache::now_ms();
    for i in 0..CONVERSATIONS {
        let id = uuid::Uuid::new_v4().to_string();
        cache
            .upsert(&ConversationInfo {
                id: id.clone(),
                // An agent's cache: a few open chats, the rest closed history.
                state: Some(if i < OPEN {
                    ConversationState::Assigned
                } else {
                    ConversationState::Closed
                }),
                group: Some("pre-sales".into()),
                agent_id: Some(Some(agent.id.clone())),
                shopper_name: Some(format!("Shopper {i}")),
                ..Default::default()
            })
            .await?;
        for seq in 1..=MESSAGES {
            let role = if seq % 2 == 1 {
                pb::Role::Shopper
            } else {
                pb::Role::Agent
            };
            let m = pb::Message {
                id: uuid::Uuid::new_v4().to_string(),
                conversation_id: id.clone(),
                seq,
                client_msg_id: uuid::Uuid::new_v4().to_string(),
                sender: Some(pb::Participant {
                    role: role as i32,
                    id: if role == pb::Role::Agent {
                        agent.id.clone()
                    } else {
                        "v".into()
                    },
                    display_name: format!("Shopper {i}"),
                }),
                body: Some(pb::MessageBody {
                    kind: Some(pb::message_body::Kind::Text(pb::Text {
                        text: format!("Message {seq} about order SO-{i:05}: where is it?"),
                    })),
                }),
                created_at_ms: now - (i as i64) * 60_000 + seq as i64,
            };
            cache.store_message(&m, false).await?;
        }
    }
    let prefs = serde_json::json!({ "server_url": SERVER, "username": "demo", "agent": agent });
    std::fs::write(dirs.config.join("desk.json"), serde_json::to_vec(&prefs)?)?;
    // The Secret Service store runs its own runtime: call it off this one.
    tokio::task::spawn_blocking(|| Secrets::platform()?.save(SERVER, "demo", "bench-token"))
        .await??;
    Ok(())
}

fn rss_kib(pid: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

fn pids(pattern: &str) -> Vec<String> {
    let out = Command::new("pgrep")
        .args(["-f", pattern])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(String::from)
        .collect()
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let app = std::env::args()
        .nth(1)
        .expect("usage: desk_bench <path to kefu-desk>");
    let app = std::fs::canonicalize(app)?;
    let home = tempfile::tempdir()?;
    let xdg = |d: &str| home.path().join(d);
    let dirs = Dirs {
        data: xdg("data").join("app.kefu.desk"),
        config: xdg("config").join("app.kefu.desk"),
    };
    let t = Instant::now();
    seed(&dirs).await?;
    println!(
        "seeded {CONVERSATIONS} conversations × {MESSAGES} messages in {:?}",
        t.elapsed()
    );

    let port = 4455;
    let mut driver =
        Command::new(Path::new(&std::env::var("HOME")?).join(".cargo/bin/tauri-driver"))
            .args(["--port", &port.to_string(), "--native-port", "4456"])
            .env("XDG_DATA_HOME", xdg("data"))
            .env("XDG_CONFIG_HOME", xdg("config"))
            .env("XDG_CACHE_HOME", xdg("cache"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
    tokio::time::sleep(Duration::from_millis(500)).await;

    let mut caps = serde_json::Map::new();
    caps.insert("browserName".into(), "wry".into());
    caps.insert(
        "tauri:options".into(),
        serde_json::json!({ "application": app.to_string_lossy() }),
    );
    let start = Instant::now();
    let c = ClientBuilder::rustls()?
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{port}"))
        .await?;
    c.wait()
        .at_most(Duration::from_secs(60))
        .for_element(Locator::Css("[data-testid=conversation-item]"))
        .await?;
    let cold = start.elapsed();
    let items = c
        .find_all(Locator::Css("[data-testid=conversation-item]"))
        .await?;
    println!(
        "cold start to an interactive list: {cold:?} ({} rows shown)",
        items.len()
    );

    let mut switches = Vec::new();
    for item in items.iter().take(21) {
        let id = item.attr("data-id").await?.unwrap_or_default();
        let t = Instant::now();
        item.click().await?;
        let pane = format!("[data-testid=chat-pane][data-id='{id}'] [data-testid=message]");
        c.wait()
            .at_most(Duration::from_secs(30))
            .for_element(Locator::Css(&pane))
            .await?;
        switches.push(t.elapsed());
    }
    switches.remove(0); // the first open also loads the customer panel's code paths
    switches.sort();
    println!(
        "switch between conversations (to messages shown), {} switches: median {:?}, max {:?}",
        switches.len(),
        switches[switches.len() / 2],
        switches[switches.len() - 1]
    );

    tokio::time::sleep(Duration::from_secs(10)).await;
    let app_path = app.to_string_lossy().to_string();
    let main: u64 = pids(&app_path).iter().map(|p| rss_kib(p)).sum();
    let web: u64 = pids("WebKitWebProcess|WebKitNetworkProcess")
        .iter()
        .map(|p| rss_kib(p))
        .sum();
    println!(
        "idle RSS after 10 s: app {:.1} MiB + WebKit processes {:.1} MiB = {:.1} MiB",
        main as f64 / 1024.0,
        web as f64 / 1024.0,
        (main + web) as f64 / 1024.0
    );
    c.close().await?;
    let _ = driver.kill();
    Ok(())
}
