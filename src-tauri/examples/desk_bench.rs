//! Measures the desktop app, in two runs of it:
//! 1. an **empty profile** at the sign-in screen: the baseline memory;
//! 2. **1,000 cached conversations** (50 open with 200 messages each, the rest closed with
//!    20; offline: the server is unreachable): cold start to an interactive list, 50
//!    switches between the open ones (click → the conversation's last message painted,
//!    timed inside the page so WebDriver's round trips are not counted), and memory after
//!    the switching, idle.
//!
//! Memory is read per process: the app and each WebKit process it started (RSS, and PSS,
//! which shares the pages of common libraries out between the processes using them).
//!
//! Run in a desktop session, against a built app (release for representative figures):
//! `scripts/desktop-session.sh cargo run --release -p kefu-desk --example desk_bench -- <path to kefu-desk>`

use std::{
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use fantoccini::{Client, ClientBuilder, Locator};
use kefu_desk::{
    cache::{Cache, ConversationInfo},
    desk::{Dirs, cache_file},
    model::{Agent, ConversationState, Role},
    secrets::Secrets,
};
use kefu_proto::v1 as pb;

const CONVERSATIONS: usize = 1000;
/// Open conversations (assigned to the agent), each with `OPEN_MESSAGES`; the rest are
/// closed history with `CLOSED_MESSAGES`.
const OPEN: usize = 50;
const OPEN_MESSAGES: u64 = 200;
const CLOSED_MESSAGES: u64 = 20;
/// Switches timed, cycling through the first rows of the list.
const SWITCHES: usize = 50;
const CYCLE: usize = 20;
/// Nothing listens here: the app starts offline, from its cache.
const SERVER: &str = "http://127.0.0.1:9";
const AGENT_ID: &str = "bench-agent";

fn messages(i: usize) -> u64 {
    if i < OPEN {
        OPEN_MESSAGES
    } else {
        CLOSED_MESSAGES
    }
}

fn conversation_id(i: usize) -> String {
    format!("00000000-0000-4000-8000-{i:012}")
}

async fn seed(dirs: &Dirs) -> anyhow::Result<()> {
    let agent = Agent {
        id: AGENT_ID.into(),
        username: "demo".into(),
        display_name: "Bench Agent".into(),
        role: Role::Agent,
    };
    let cache = Cache::open(&cache_file(dirs, SERVER, "demo"), AGENT_ID).await?;
    // Recent enough to be inside the default retention (30 days).
    let now = kefu_desk::cache::now_ms();
    for i in 0..CONVERSATIONS {
        let id = conversation_id(i);
        cache
            .upsert(&ConversationInfo {
                id: id.clone(),
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
        for seq in 1..=messages(i) {
            let role = if seq % 2 == 1 {
                pb::Role::Shopper
            } else {
                pb::Role::Agent
            };
            let m = pb::Message {
                id: uuid::Uuid::new_v4().to_string(),
                conversation_id: id.clone(),
                seq,
                client_msg_id: format!("bench-{i}-{seq}"),
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
                // Newest conversation first, its messages in order.
                created_at_ms: now - (i as i64) * 600_000 + seq as i64 * 1000,
            };
            cache.store_message(&m, false).await?;
        }
    }
    sign_in_offline(dirs, &agent).await
}

/// What a signed-in desk keeps: the prefs naming the agent, and the token in the keyring.
async fn sign_in_offline(dirs: &Dirs, agent: &Agent) -> anyhow::Result<()> {
    let prefs = serde_json::json!({ "server_url": SERVER, "username": "demo", "agent": agent });
    std::fs::write(dirs.config.join("desk.json"), serde_json::to_vec(&prefs)?)?;
    // The Secret Service store runs its own runtime: call it off this one.
    tokio::task::spawn_blocking(|| Secrets::platform()?.save(SERVER, "demo", "bench-token"))
        .await??;
    Ok(())
}

/// `VmRSS` and `Pss` of a process, KiB.
fn memory_kib(pid: u32) -> (u64, u64) {
    let field = |file: &str, name: &str| -> u64 {
        std::fs::read_to_string(format!("/proc/{pid}/{file}"))
            .ok()
            .and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with(name))
                    .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
            })
            .unwrap_or(0)
    };
    (field("status", "VmRSS:"), field("smaps_rollup", "Pss:"))
}

/// A process's children, whichever of its threads started them.
fn children(pid: u32) -> Vec<u32> {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return Vec::new();
    };
    tasks
        .flatten()
        .flat_map(|task| {
            std::fs::read_to_string(task.path().join("children"))
                .unwrap_or_default()
                .split_whitespace()
                .filter_map(|p| p.parse().ok())
                .collect::<Vec<u32>>()
        })
        .collect()
}

fn name(pid: u32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .unwrap_or_default()
        .trim()
        .to_string()
}

/// The app's process (the bench runs one at a time) and every process under it (the WebKit
/// processes, and any sandbox helpers), with their memory.
fn report_memory(app: &Path) -> u64 {
    let app_name: String = app
        .file_name()
        .unwrap()
        .to_string_lossy()
        .chars()
        .take(15) // what /proc/<pid>/comm keeps
        .collect();
    let root = std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .find(|&pid| name(pid) == app_name);
    let Some(root) = root else {
        println!("  ({app_name} is not running: has it exited?)");
        return 0;
    };
    let mut stack = vec![root];
    let mut rows = Vec::new();
    while let Some(pid) = stack.pop() {
        rows.push((name(pid), memory_kib(pid)));
        stack.extend(children(pid));
    }
    let mib = |k: u64| k as f64 / 1024.0;
    let (mut rss, mut pss) = (0, 0);
    for (n, (r, p)) in &rows {
        println!(
            "  {n:<22} RSS {:7.1} MiB   PSS {:7.1} MiB",
            mib(*r),
            mib(*p)
        );
        rss += r;
        pss += p;
    }
    println!(
        "  {:<22} RSS {:7.1} MiB   PSS {:7.1} MiB",
        "total",
        mib(rss),
        mib(pss)
    );
    rss
}

/// One life of the app under tauri-driver, on the profile under `home`.
struct Run {
    driver: Child,
    client: Client,
}

impl Run {
    async fn start(app: &Path, home: &Path, port: u16) -> anyhow::Result<Self> {
        let xdg = |d: &str| home.join(d);
        let driver =
            Command::new(Path::new(&std::env::var("HOME")?).join(".cargo/bin/tauri-driver"))
                .args([
                    "--port",
                    &port.to_string(),
                    "--native-port",
                    &(port + 1).to_string(),
                ])
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
        let client = ClientBuilder::rustls()?
            .capabilities(caps)
            .connect(&format!("http://127.0.0.1:{port}"))
            .await?;
        Ok(Self { driver, client })
    }

    async fn idle_memory(&self, app: &Path) -> u64 {
        tokio::time::sleep(Duration::from_secs(10)).await;
        report_memory(app)
    }

    async fn stop(mut self) -> anyhow::Result<()> {
        self.client.close().await?;
        let _ = self.driver.kill();
        let _ = self.driver.wait();
        Ok(())
    }
}

/// Clicks conversation `i`'s row and waits, in the page, until its last message is in the
/// DOM and a frame with it has been painted; the milliseconds that took.
const SWITCH: &str = r#"
const [id, last, done] = arguments;
const row = document.querySelector(`[data-testid=conversation-item][data-id="${id}"]`);
if (!row) {
  const rows = [...document.querySelectorAll("[data-testid=conversation-item]")].map((r) => r.dataset.id);
  const list = document.querySelector("[data-testid=conversation-rows]");
  done(`row ${id} is not in the list: ${rows.length} rows mounted (${rows.slice(0, 3)}…), ` +
    `list scrollTop ${list?.scrollTop} height ${list?.clientHeight}`);
  return;
}
row.scrollIntoView({ block: "nearest" });
const target = `[data-testid=chat-pane][data-id="${id}"] [data-client-msg-id="${last}"]`;
// Where a pointer would land: the middle of the row.
const box = row.getBoundingClientRect();
const under = document.elementFromPoint(box.left + box.width / 2, box.top + box.height / 2);
const t0 = performance.now();
under.click();
const painted = () => requestAnimationFrame(() => requestAnimationFrame(() => done(performance.now() - t0)));
if (document.querySelector(target)) { painted(); return; }
const seen = new MutationObserver(() => {
  if (document.querySelector(target)) { seen.disconnect(); painted(); }
});
seen.observe(document.body, { childList: true, subtree: true });
"#;

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let at = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[at]
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let app = std::env::args()
        .nth(1)
        .expect("usage: desk_bench <path to kefu-desk>");
    let app: PathBuf = std::fs::canonicalize(app)?;

    // 1. The empty profile, at the sign-in screen.
    let empty = tempfile::tempdir()?;
    let run = Run::start(&app, empty.path(), 4455).await?;
    run.client
        .wait()
        .at_most(Duration::from_secs(60))
        .for_element(Locator::Css("[data-testid=signin-submit]"))
        .await?;
    println!("empty profile, sign-in screen, idle 10 s:");
    let baseline = run.idle_memory(&app).await;
    run.stop().await?;

    // 2. 1,000 cached conversations.
    let home = tempfile::tempdir()?;
    let dirs = Dirs {
        data: home.path().join("data").join("app.kefu.desk"),
        config: home.path().join("config").join("app.kefu.desk"),
    };
    std::fs::create_dir_all(&dirs.data)?;
    std::fs::create_dir_all(&dirs.config)?;
    let t = Instant::now();
    seed(&dirs).await?;
    println!(
        "seeded {CONVERSATIONS} conversations ({OPEN} open × {OPEN_MESSAGES} messages, the rest × {CLOSED_MESSAGES}) in {:.1?}",
        t.elapsed()
    );
    let start = Instant::now();
    let run = Run::start(&app, home.path(), 4465).await?;
    run.client
        .wait()
        .at_most(Duration::from_secs(60))
        .for_element(Locator::Css("[data-testid=conversation-item]"))
        .await?;
    println!("cold start to an interactive list: {:.2?}", start.elapsed());

    // The first rows as the list shows them (all open ones, each with 200 messages).
    let shown = run
        .client
        .execute(
            "return [...document.querySelectorAll('[data-testid=conversation-item]')].map((r) => r.dataset.id)",
            vec![],
        )
        .await?;
    let ids: Vec<String> = serde_json::from_value(shown)?;
    anyhow::ensure!(ids.len() >= CYCLE, "only {} rows shown", ids.len());
    let mut times = Vec::new();
    // One switch first, untimed: it loads the chat pane's and customer panel's code paths.
    for k in 0..=SWITCHES {
        let id = &ids[k % CYCLE];
        let i: usize = id.rsplit('-').next().unwrap_or_default().parse()?;
        anyhow::ensure!(i < OPEN, "row {id} is not an open conversation");
        let args = vec![
            id.clone().into(),
            format!("bench-{i}-{OPEN_MESSAGES}").into(),
        ];
        let answer = run.client.execute_async(SWITCH, args).await?;
        let Some(ms) = answer.as_f64() else {
            anyhow::bail!("switch {k}: {answer}");
        };
        if k > 0 {
            times.push(ms);
        }
    }
    times.sort_by(f64::total_cmp);
    println!(
        "{} switches (click → last message painted): p50 {:.1} ms, p95 {:.1} ms, max {:.1} ms",
        times.len(),
        percentile(&times, 0.5),
        percentile(&times, 0.95),
        times[times.len() - 1]
    );
    let rows = run
        .client
        .find_all(Locator::Css("[data-testid=conversation-item]"))
        .await?
        .len();
    let messages = run
        .client
        .find_all(Locator::Css("[data-testid=message]"))
        .await?
        .len();
    println!("DOM: {rows} list rows, {messages} messages mounted");
    println!("{CONVERSATIONS} conversations, after the switches, idle 10 s:");
    let loaded = run.idle_memory(&app).await;
    run.stop().await?;
    println!(
        "total RSS with {CONVERSATIONS} conversations / empty profile: {:.2}×",
        loaded as f64 / baseline as f64
    );
    Ok(())
}
