//! The real window, for the end-to-end tests: the built `kefu-desk` binary under
//! `tauri-driver` (which drives `WebKitWebDriver`, which starts the app), the environment the
//! app runs in, and WebDriver helpers that wait for what a person would wait for (an element
//! to appear, an attribute to change), never for a fixed time.
//!
//! Only one app may run per desktop session: the single-instance plugin owns a D-Bus name,
//! and a second launch hands its arguments to the first and exits. [`connect`] waits until
//! no other instance holds that name, and [`Driver`] takes the app down with it, so tests
//! that run one after another never meet each other's window.
#![allow(dead_code)] // each test binary uses a different part

use std::{
    ffi::OsString,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::Duration,
};

use crate::common::{self, WAIT, eventually};
use fantoccini::{Client, ClientBuilder, Locator, elements::Element};
use serde_json::{Value, json};

/// The D-Bus name the single-instance plugin owns while an app runs (`identifier` in
/// tauri.conf.json, plus the plugin's suffix).
const INSTANCE_NAME: &str = "app.kefu.desk.SingleInstance";

/// A child process killed when dropped.
pub struct Proc(pub Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Fails a test started outside a desktop session.
pub fn session_bus() {
    assert!(
        std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some()
            && std::env::var_os("DISPLAY").is_some(),
        "the end-to-end test needs a display and a session bus: run it through scripts/desktop-session.sh"
    );
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn which(bin: &str) -> PathBuf {
    let cargo_bin = std::env::var_os("HOME")
        .map(|h| PathBuf::from(h).join(".cargo/bin").join(bin))
        .filter(|p| p.exists());
    cargo_bin.unwrap_or_else(|| PathBuf::from(bin))
}

/// The app binary the tests drive (built by cargo with the UI in `ui/dist` embedded).
pub fn app_path() -> PathBuf {
    let app = common::target_dir().join("kefu-desk");
    assert!(
        app.exists(),
        "no app binary: `cargo test --workspace` builds it (after `cd ui && npm run build`)"
    );
    app
}

/// What the app's process gets on top of the test's own environment (display, session bus):
/// its folders, and maybe its own HOME. tauri-driver hands its environment to
/// WebKitWebDriver, which hands it to the app it starts; [`AppEnv::launch`] gives a second
/// launch the same.
#[derive(Clone)]
pub struct AppEnv {
    vars: Vec<(&'static str, OsString)>,
}

impl AppEnv {
    /// The app's data, config and cache folders under `dir`.
    pub fn under(dir: &Path) -> Self {
        Self {
            vars: vec![
                ("XDG_DATA_HOME", dir.join("data").into()),
                ("XDG_CONFIG_HOME", dir.join("config").into()),
                ("XDG_CACHE_HOME", dir.join("cache").into()),
            ],
        }
    }

    /// Also a HOME of its own: what the app writes there (the autostart entry, which
    /// tauri-plugin-autostart puts under `$HOME/.config` whatever XDG_CONFIG_HOME says)
    /// lands in the test's folder, not in the user's.
    pub fn with_home(mut self, home: &Path) -> Self {
        self.vars.push(("HOME", home.into()));
        self
    }

    fn apply<'a>(&self, command: &'a mut Command) -> &'a mut Command {
        command.envs(self.vars.iter().map(|(k, v)| (k, v)))
    }

    /// Starts the app binary itself with `args`, as the desktop does for a `kefu://` link or
    /// a double click; its output goes to `log`.
    pub fn launch(&self, args: &[&str], log: &Path) -> Proc {
        let out = std::fs::File::create(log).unwrap();
        let err = out.try_clone().unwrap();
        let child = self
            .apply(&mut Command::new(app_path()))
            .args(args)
            .env("RUST_LOG", "info")
            .stdout(out)
            .stderr(err)
            .spawn()
            .expect("the app binary starts");
        Proc(child)
    }
}

/// tauri-driver, and through it WebKitWebDriver and the app: dropping it ends all three, also
/// when a test failed before closing its session (a leftover app would take the next test's
/// launch as a second instance).
pub struct Driver {
    child: Child,
    pub port: u16,
}

impl Drop for Driver {
    fn drop(&mut self) {
        // Found before tauri-driver goes: its orphans are no longer its children.
        let pids = descendants(self.child.id());
        let _ = self.child.kill();
        let _ = self.child.wait();
        for pid in pids {
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .stderr(Stdio::null())
                .status();
        }
    }
}

/// The processes `pid` started, and the ones they started, and so on (parents from
/// `/proc/<pid>/stat`).
fn descendants(pid: u32) -> Vec<u32> {
    let parents: Vec<(u32, u32)> = std::fs::read_dir("/proc")
        .map(|d| d.flatten().collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .filter_map(|e| {
            let child: u32 = e.file_name().to_str()?.parse().ok()?;
            let stat = std::fs::read_to_string(e.path().join("stat")).ok()?;
            // "pid (comm) state ppid …", and comm may hold spaces or parentheses.
            let after = &stat[stat.rfind(')')? + 1..];
            let parent = after.split_whitespace().nth(1)?.parse().ok()?;
            Some((child, parent))
        })
        .collect();
    let mut found = Vec::new();
    let mut queue = vec![pid];
    while let Some(parent) = queue.pop() {
        for &(child, _) in parents.iter().filter(|(_, p)| *p == parent) {
            found.push(child);
            queue.push(child);
        }
    }
    found
}

/// Starts tauri-driver on a free port; the app it starts runs in `env`.
pub fn tauri_driver(env: &AppEnv) -> Driver {
    let port = free_port();
    let native = free_port();
    let child = env
        .apply(&mut Command::new(which("tauri-driver")))
        .args([
            "--port",
            &port.to_string(),
            "--native-port",
            &native.to_string(),
        ])
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("tauri-driver runs (cargo install tauri-driver --locked)");
    Driver { child, port }
}

/// Whether an app holds the single-instance name on the session bus.
fn an_app_is_running() -> bool {
    let out = Command::new("dbus-send")
        .args([
            "--session",
            "--print-reply",
            "--dest=org.freedesktop.DBus",
            "/org/freedesktop/DBus",
            "org.freedesktop.DBus.NameHasOwner",
            &format!("string:{INSTANCE_NAME}"),
        ])
        .output()
        .expect("dbus-send runs");
    String::from_utf8_lossy(&out.stdout).contains("boolean true")
}

/// Waits until no app holds the single-instance name (one started for this session would
/// otherwise hand its launch to the older one and exit).
pub async fn no_app_running() {
    eventually("no other kefu-desk on the session bus", async || {
        !an_app_is_running()
    })
    .await;
}

/// Opens a WebDriver session: tauri-driver starts the app.
pub async fn connect(driver: &Driver) -> Client {
    let app = app_path();
    no_app_running().await;
    let mut caps = serde_json::Map::new();
    caps.insert("browserName".into(), json!("wry"));
    caps.insert(
        "tauri:options".into(),
        json!({ "application": app.to_string_lossy() }),
    );
    let url = format!("http://127.0.0.1:{}", driver.port);
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        match ClientBuilder::rustls()
            .unwrap()
            .capabilities(caps.clone())
            .connect(&url)
            .await
        {
            Ok(c) => return c,
            Err(_) if tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(e) => panic!("connecting to tauri-driver: {e}"),
        }
    }
}

pub async fn find(c: &Client, css: &str) -> Element {
    c.wait()
        .at_most(WAIT)
        .for_element(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("waiting for {css}: {e}"))
}

/// Every element matched by `css` now (no waiting).
pub async fn find_all(c: &Client, css: &str) -> Vec<Element> {
    c.find_all(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("finding {css}: {e}"))
}

/// Clicks the element matched by `css`, finding it again while it is on the page but not
/// yet clickable, or was replaced between finding and clicking (a re-rendered row or pane).
pub async fn click(c: &Client, css: &str) {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        match find(c, css).await.click().await {
            Ok(()) => return,
            Err(e) if tokio::time::Instant::now() < deadline && passing(&e) => {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => panic!("clicking {css}: {e}"),
        }
    }
}

/// Types into the field matched by `css`, waiting while it is on the page but not yet
/// focusable (the window is still laying out, or a view is fading in).
pub async fn type_into(c: &Client, css: &str, text: &str) {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        match find(c, css).await.send_keys(text).await {
            Ok(()) => return,
            Err(e) if tokio::time::Instant::now() < deadline && passing(&e) => {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => panic!("typing into {css}: {e}"),
        }
    }
}

/// An element that is not interactable yet, or was replaced by a new render: worth finding
/// again.
fn passing(e: &fantoccini::error::CmdError) -> bool {
    use fantoccini::error::{CmdError, ErrorStatus};
    matches!(e, CmdError::Standard(w)
        if matches!(w.error, ErrorStatus::ElementNotInteractable | ErrorStatus::StaleElementReference))
}

pub async fn attr(e: &Element, name: &str) -> String {
    e.attr(name).await.unwrap().unwrap_or_default()
}

/// Waits until the element matched by `css` has `name` = `value` (found and read in one
/// step, so a re-render in between cannot fail it).
pub async fn wait_attr(c: &Client, css: &str, name: &str, value: &str) {
    eventually(&format!("{css} {name}={value}"), async || {
        js(
            c,
            "return document.querySelector(arguments[0])?.getAttribute(arguments[1]) ?? null;",
            vec![json!(css), json!(name)],
        )
        .await
            == json!(value)
    })
    .await;
}

/// The text of the element matched by `css` now (`textContent`: all of it, as the DOM
/// holds it, whether scrolled into view or cut by an ellipsis); `None` when there is none.
pub async fn text(c: &Client, css: &str) -> Option<String> {
    let v = js(
        c,
        "return document.querySelector(arguments[0])?.textContent ?? null;",
        vec![json!(css)],
    )
    .await;
    v.as_str().map(String::from)
}

/// Whether the checkbox matched by `css` is checked now.
pub async fn checked(c: &Client, css: &str) -> bool {
    js(
        c,
        "return document.querySelector(arguments[0])?.checked === true;",
        vec![json!(css)],
    )
    .await
        == json!(true)
}

/// Runs `script` (a function body; `arguments` holds `args`) in the window; its result.
pub async fn js(c: &Client, script: &str, args: Vec<Value>) -> Value {
    c.execute(script, args)
        .await
        .unwrap_or_else(|e| panic!("running {script}: {e}"))
}

/// Keeps the page painting (a 1 px dot in a corner, its alpha changing every frame) until
/// `window.__kefuPaint.stop()`: WebKitWebDriver takes a screenshot after the web view's next
/// presentation update, and an idle desk may not paint again for a minute (the list's
/// times tick once a minute), so without it a screenshot can wait that long, or forever.
const KEEP_PAINTING: &str = "
    if (window.__kefuPaint) return;
    const dot = document.createElement('div');
    dot.setAttribute('aria-hidden', 'true');
    dot.style.cssText = 'position:fixed;right:0;bottom:0;width:1px;height:1px;pointer-events:none;z-index:2147483647';
    document.body.appendChild(dot);
    let painting = true;
    let frame = 0;
    const paint = () => {
        if (!painting) return dot.remove();
        dot.style.background = frame++ % 2 ? 'rgba(0,0,0,0.01)' : 'rgba(0,0,0,0.02)';
        requestAnimationFrame(paint);
    };
    requestAnimationFrame(paint);
    window.__kefuPaint = { stop() { painting = false; window.__kefuPaint = null; } };
";

/// Saves the window as `test-output/screenshots/<name>.png`.
pub async fn screenshot(c: &Client, name: &str) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../test-output/screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    js(c, KEEP_PAINTING, vec![]).await;
    let png = tokio::time::timeout(WAIT, c.screenshot())
        .await
        .unwrap_or_else(|_| panic!("screenshot {name}: the web view did not paint in time"))
        .unwrap();
    js(c, "window.__kefuPaint?.stop();", vec![]).await;
    std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
}

/// Fills the sign-in form for the demo admin on `server`.
pub async fn fill_sign_in(c: &Client, server: &str) {
    find(c, "[data-testid=signin-server]")
        .await
        .clear()
        .await
        .unwrap();
    type_into(c, "[data-testid=signin-server]", server).await;
    type_into(c, "[data-testid=signin-username]", "demo").await;
    type_into(c, "[data-testid=signin-password]", "kefu-demo").await;
}

/// Submits the sign-in form and waits until the desk is online.
pub async fn submit_sign_in(c: &Client) {
    click(c, "[data-testid=signin-submit]").await;
    wait_attr(c, "[data-testid=connection-state]", "data-state", "online").await;
}

/// Signs the demo admin in to `server` through the form.
pub async fn sign_in(c: &Client, server: &str) {
    fill_sign_in(c, server).await;
    submit_sign_in(c).await;
}
