//! What an operator runs beside the server: `kefu config init`, `kefu doctor`, `kefu backup`
//! under load and `kefu restore`, and systemd's notifications — all through the real binary.

mod common;

use std::{
    collections::HashSet,
    os::unix::net::UnixDatagram,
    path::{Path, PathBuf},
    process::{Command, Output},
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use common::*;
use kefu_proto::v1::server_envelope::Kind as Out;
use kefu_testkit::kefu_bin;

/// `kefu ARGS` with a clean environment plus `env` (kefu reads KEFU_* as config).
fn kefu(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(kefu_bin());
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("RUST_LOG", "warn")
        .envs(env.iter().copied())
        .args(args);
    cmd.output().expect("kefu runs")
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// `kefu config init CONF --data-dir DATA`.
fn init(conf: &Path, data: &Path) -> Output {
    kefu(
        &[
            "config",
            "init",
            conf.to_str().unwrap(),
            "--data-dir",
            data.to_str().unwrap(),
        ],
        &[],
    )
}

/// The line of `kefu doctor`'s report about `what`.
fn report_line<'a>(report: &'a str, what: &str) -> &'a str {
    report
        .lines()
        .find(|l| l.get(6..).is_some_and(|rest| rest.starts_with(what)))
        .unwrap_or_else(|| panic!("the report has a `{what}` line:\n{report}"))
}

#[test]
fn a_fresh_config_passes_the_doctor_and_a_broken_one_is_told_how_to_fix_it() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("kefu.toml");
    let data = dir.path().join("data");
    let conf_s = conf.to_str().unwrap();
    let out = init(&conf, &data);
    assert!(out.status.success(), "{}", text(&out));
    let written = std::fs::read_to_string(&conf).unwrap();
    assert!(
        !written.contains("change-me"),
        "no placeholder secret survives"
    );

    // Port 0: the check binds it, and 8080 may be taken on a shared machine.
    let free = [("KEFU_SERVER__LISTEN", "127.0.0.1:0")];
    let out = kefu(&["doctor", "--config", conf_s], &free);
    let report = text(&out);
    assert!(out.status.success(), "a fresh install passes:\n{report}");
    for what in [
        "config",
        "data directory",
        "database",
        "back office",
        "open files",
        "listen",
    ] {
        let line = report_line(&report, what);
        assert!(!line.starts_with("FAIL"), "{line}");
    }
    assert!(
        report_line(&report, "database").contains("kefu creates it at start"),
        "{report}"
    );

    // A back office that does not answer, and the listen address held by another program.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = closed.local_addr().unwrap();
    drop(closed);
    let squatter = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let taken = squatter.local_addr().unwrap().to_string();
    let base_url = format!("http://{dead}/api");
    let out = kefu(
        &["doctor", "--config", conf_s],
        &[
            ("KEFU_SERVER__LISTEN", taken.as_str()),
            ("KEFU_INTEGRATIONS__BACKOFFICE__BASE_URL", base_url.as_str()),
        ],
    );
    let report = text(&out);
    assert!(!out.status.success(), "problems fail the run:\n{report}");
    let back_office = report_line(&report, "back office");
    assert!(
        back_office.starts_with("FAIL") && back_office.contains("unreachable"),
        "{report}"
    );
    let listen = report_line(&report, "listen");
    assert!(
        listen.starts_with("FAIL") && listen.contains("taken by another program"),
        "{report}"
    );
    assert!(report.contains("fix: "), "each problem says what to do");
    drop(squatter);

    // A config that does not load stops there, naming the key.
    std::fs::write(&conf, "[routing]\ndefault_capacity = \"lots\"\n").unwrap();
    let out = kefu(&["doctor", "--config", conf_s], &free);
    let report = text(&out);
    assert!(!out.status.success(), "{report}");
    assert!(
        report_line(&report, "config").contains("default_capacity"),
        "{report}"
    );

    let out = init(&conf, &data);
    assert!(!out.status.success(), "init never overwrites");
    assert!(text(&out).contains("already exists"), "{}", text(&out));
}

#[tokio::test]
async fn the_doctor_recognises_the_kefu_already_listening() {
    let server = KefuCommand::new().start().unwrap();
    let addr = server.addr.to_string();
    let data = server.data_dir().to_str().unwrap().to_string();
    let out = tokio::task::spawn_blocking(move || {
        kefu(
            &["doctor"],
            &[
                ("KEFU_SERVER__LISTEN", addr.as_str()),
                ("KEFU_SERVER__DATA_DIR", data.as_str()),
            ],
        )
    })
    .await
    .unwrap();
    let report = text(&out);
    assert!(
        report_line(&report, "listen").contains("a running kefu answers there"),
        "{report}"
    );
}

/// Sends from a few shoppers until told to stop, recording every ack (conversation,
/// client_msg_id) as it arrives.
struct Load {
    acked: Arc<Mutex<Vec<(String, String)>>>,
    stop: Arc<AtomicBool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Load {
    async fn start(server: &Endpoint, shoppers: usize) -> Self {
        let acked = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let mut tasks = Vec::new();
        for s in 0..shoppers {
            let visitor = server.visitor().await;
            let mut ws = server.shopper_ws(&visitor).await;
            let first = ws.say("", &format!("s{s}-0"), "hello").await;
            let conv = first.conversation_id.clone();
            acked
                .lock()
                .unwrap()
                .push((conv.clone(), first.client_msg_id));
            let (acked, stop) = (acked.clone(), stop.clone());
            tasks.push(tokio::spawn(async move {
                let mut sent = 1;
                let mut in_flight = 0;
                while !stop.load(Ordering::Relaxed) {
                    while in_flight < 16 {
                        ws.send_text(&conv, &format!("s{s}-{sent}"), "where is my order?")
                            .await;
                        sent += 1;
                        in_flight += 1;
                    }
                    if let Some(Out::Ack(a)) = ws.next().await {
                        in_flight -= 1;
                        acked.lock().unwrap().push((conv.clone(), a.client_msg_id));
                    }
                }
            }));
        }
        Self { acked, stop, tasks }
    }

    fn acked(&self) -> Vec<(String, String)> {
        self.acked.lock().unwrap().clone()
    }

    async fn wait_for(&self, n: usize) {
        let deadline = Instant::now() + WAIT;
        while self.acked.lock().unwrap().len() < n {
            assert!(Instant::now() < deadline, "the load reached {n} acks");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn stop(self) -> Vec<(String, String)> {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.tasks {
            let _ = tokio::time::timeout(Duration::from_secs(5), t).await;
        }
        self.acked.lock().unwrap().clone()
    }
}

#[tokio::test]
async fn a_backup_taken_under_load_holds_every_message_acked_before_it() {
    let server = KefuCommand::new()
        .test_site()
        .admin("admin", PASSWORD)
        .start()
        .unwrap();
    let data = server.data_dir().to_path_buf();
    let backup_dir = tempfile::tempdir().unwrap();
    let file = backup_dir.path().join("kefu-backup.tar");
    let data_env = data.to_str().unwrap().to_string();

    if std::env::var_os("TEST_POSTGRES_URL").is_some() {
        // PostgreSQL installations back up with pg_dump; kefu says so instead of copying
        // an unrelated SQLite file.
        let out = kefu(
            &["backup", file.to_str().unwrap()],
            &[
                ("KEFU_SERVER__DATA_DIR", data_env.as_str()),
                ("KEFU_STORE__URL", "postgres://kefu@127.0.0.1:5432/kefu"),
            ],
        );
        assert!(!out.status.success());
        assert!(text(&out).contains("pg_dump"), "{}", text(&out));
        return;
    }

    // An attachment, so the backup carries files as well as rows.
    let visitor = server.visitor().await;
    let mut ws = server.shopper_ws(&visitor).await;
    let conv = ws.say("", "with-file", "my receipt").await.conversation_id;
    let receipt = b"Receipt 1234: 2 x mug".to_vec();
    let res = server
        .http
        .post(server.url(&format!("/api/v1/conversations/{conv}/attachments")))
        .query(&[("filename", "receipt.txt")])
        .bearer_auth(&visitor.token)
        .header("content-type", "text/plain")
        .body(receipt.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201, "upload accepted");
    let uploaded: serde_json::Value = res.json().await.unwrap();
    let attachment = uploaded["attachment_id"].as_str().unwrap().to_string();

    let load = Load::start(&server, 4).await;
    load.wait_for(300).await;
    let acked_before = load.acked();
    let backup = {
        let (file, data_env) = (file.clone(), data_env.clone());
        tokio::task::spawn_blocking(move || {
            kefu(
                &["backup", file.to_str().unwrap()],
                &[("KEFU_SERVER__DATA_DIR", data_env.as_str())],
            )
        })
        .await
        .unwrap()
    };
    let acked_during = load.acked().len() - acked_before.len();
    let acked_all = load.stop().await;
    assert!(backup.status.success(), "{}", text(&backup));
    println!(
        "backup: {} acked before, {acked_during} acked while it ran, {} in all; {}",
        acked_before.len(),
        acked_all.len(),
        text(&backup).trim()
    );
    assert!(
        acked_all.len() > acked_before.len(),
        "the load went on around the backup"
    );

    // Restore into an empty data directory and serve from it.
    let restored = tempfile::tempdir().unwrap();
    let restored_data = restored.path().join("data");
    let restored_env = restored_data.to_str().unwrap().to_string();
    let out = kefu(
        &["restore", file.to_str().unwrap()],
        &[("KEFU_SERVER__DATA_DIR", restored_env.as_str())],
    );
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        std::fs::read(restored_data.join("attachments").join(&attachment)).unwrap(),
        receipt,
        "the attachment's bytes came back"
    );
    let server = KefuCommand::new()
        .test_site()
        .data_dir(&restored_data)
        .start()
        .unwrap();
    let admin = server.login("admin", PASSWORD).await;
    let convs: HashSet<&String> = acked_all.iter().map(|(c, _)| c).collect();
    let mut stored = HashSet::new();
    for c in convs {
        let messages = server.stored_messages(&admin, c).await;
        let seqs: Vec<u64> = messages.iter().map(|m| m.1).collect();
        assert_eq!(
            seqs,
            (1..=seqs.len() as u64).collect::<Vec<_>>(),
            "each restored conversation is whole: no gap, nothing twice"
        );
        for (id, _) in messages {
            assert!(stored.insert((c.clone(), id)), "each message once");
        }
    }
    let missing: Vec<_> = acked_before
        .iter()
        .filter(|m| !stored.contains(*m))
        .collect();
    assert!(
        missing.is_empty(),
        "{} of {} messages acked before the backup are missing from it, e.g. {:?}",
        missing.len(),
        acked_before.len(),
        missing.first()
    );

    // A second restore over the restored data is refused, and so is a file that is not a
    // backup; neither touches what is there.
    drop(server);
    let out = kefu(
        &["restore", file.to_str().unwrap()],
        &[("KEFU_SERVER__DATA_DIR", restored_env.as_str())],
    );
    assert!(!out.status.success());
    assert!(
        text(&out).contains("empty data directory"),
        "{}",
        text(&out)
    );
    let junk = backup_dir.path().join("junk.tar");
    std::fs::write(&junk, b"not a tar file at all").unwrap();
    let empty = restored.path().join("empty");
    let out = kefu(
        &["restore", junk.to_str().unwrap()],
        &[("KEFU_SERVER__DATA_DIR", empty.to_str().unwrap())],
    );
    assert!(!out.status.success());
    assert!(text(&out).contains("not a kefu backup"), "{}", text(&out));
    assert!(
        !empty.join("kefu.db").exists(),
        "a failed restore leaves no database behind"
    );
    let out = kefu(
        &["backup", file.to_str().unwrap()],
        &[("KEFU_SERVER__DATA_DIR", data_env.as_str())],
    );
    assert!(
        !out.status.success(),
        "an existing backup is never overwritten"
    );
}

/// systemd's side of `Type=notify`: a datagram socket named by NOTIFY_SOCKET.
struct Systemd {
    socket: UnixDatagram,
    _dir: tempfile::TempDir,
    path: PathBuf,
}

impl Systemd {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify");
        let socket = UnixDatagram::bind(&path).unwrap();
        socket
            .set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        Self {
            socket,
            _dir: dir,
            path,
        }
    }

    /// Datagrams until one contains `want` (or the wait ends): every state seen.
    fn until(&self, want: &str) -> Vec<String> {
        let deadline = Instant::now() + WAIT;
        let mut seen = Vec::new();
        let mut buf = [0u8; 4096];
        while Instant::now() < deadline {
            if let Ok(n) = self.socket.recv(&mut buf) {
                let msg = String::from_utf8_lossy(&buf[..n]).to_string();
                let done = msg.lines().any(|l| l == want);
                seen.push(msg);
                if done {
                    return seen;
                }
            }
        }
        panic!("systemd never heard {want}; it heard {seen:?}");
    }

    fn path(&self) -> &Path {
        &self.path
    }
}

#[tokio::test]
async fn systemd_hears_ready_watchdog_pings_and_stopping() {
    let systemd = Systemd::new();
    let server = KefuCommand::new()
        .env("NOTIFY_SOCKET", systemd.path().to_str().unwrap())
        .env("WATCHDOG_USEC", "200000")
        .start()
        .unwrap();
    let heard = systemd.until("READY=1");
    assert_eq!(server.readyz().await, 200, "READY means it serves");
    assert!(!heard.iter().any(|m| m.contains("STOPPING")), "{heard:?}");
    // 200 ms watchdog: pings every 100 ms.
    systemd.until("WATCHDOG=1");
    systemd.until("WATCHDOG=1");
    let _ = server.terminate();
    systemd.until("STOPPING=1");
}
