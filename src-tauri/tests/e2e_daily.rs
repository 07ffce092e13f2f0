//! End to end, the desk's daily-use features in the real window: the built `kefu-desk`
//! binary under Xvfb, driven over WebDriver (`tauri-driver` + `WebKitWebDriver`), against a
//! real `kefu --demo` process, with scripted shoppers and bots on real sockets.
//!
//! - What a shopper sends (name, page, messages, file names) is inert: no element, link or
//!   script comes of it, it reads literally, and a 3,000-character word widens nothing.
//! - A bot's tag shows on the open list at once; a file dropped on the composer reaches the
//!   shopper; a `kefu://` link given to a second launch opens its chat in the first window
//!   and the second process exits.
//! - "Start at login" writes and removes the autostart entry.
//!
//! One app runs at a time (the single-instance plugin would hand a second to the first), so
//! the tests take turns. Screenshots go to `test-output/screenshots/2x-*.png`. Needs the
//! desktop session of `scripts/desktop-session.sh`, like `e2e.rs`.

mod common;
mod window;

use std::path::PathBuf;

use common::{Kefu, Shopper, eventually};
use fantoccini::Client;
use kefu_proto::v1::{
    self as pb, client_envelope::Kind as In, message_body::Kind as Body,
    server_envelope::Kind as Out,
};
use serde_json::{Value, json};
use window::{
    AppEnv, Driver, checked, click, connect, find, find_all, js, screenshot, session_bus, sign_in,
    tauri_driver, text, wait_attr,
};

/// A display name with markup and a right-to-left override (U+202E) in it.
const NAME: &str = "<img src=x onerror=alert(1)>\u{202E}evil";
/// A page title with markup, and an override that shows "txt.exe" as "exe.txt".
const TITLE: &str = "<b>Sale</b> \u{202E}txt.exe";
const JS_URL: &str = "javascript:alert(document.cookie)";
const SCRIPT: &str = "<script>alert(1)</script>";
const MD_LINK: &str = "[click](javascript:alert(1))";
/// A file name with an override in the middle (what follows it shows reversed) and markup.
const FILE: &str = "invoice\u{202E}fdp.exe<b>.pdf";

/// A 24 × 24 px orange PNG, whole (the server checks the signature; the window decodes it).
const PHOTO: [u8; 88] = [
    0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x18, 0x00, 0x00, 0x00, 0x18, 0x08, 0x02, 0x00, 0x00, 0x00, 0x6F, 0x15, 0xAA,
    0xAF, 0x00, 0x00, 0x00, 0x1F, 0x49, 0x44, 0x41, 0x54, 0x78, 0xDA, 0x63, 0xF8, 0x3A, 0x8F, 0x9B,
    0x2A, 0x88, 0x61, 0xD4, 0xA0, 0x51, 0x83, 0x46, 0x0D, 0x1A, 0x35, 0x68, 0xD4, 0xA0, 0x51, 0x83,
    0x06, 0xDE, 0x20, 0x00, 0x4A, 0x42, 0xA3, 0xAE, 0x4B, 0xAE, 0xE2, 0x4D, 0x00, 0x00, 0x00, 0x00,
    0x49, 0x45, 0x4E, 0x44, 0xAE, 0x42, 0x60, 0x82,
];

/// The tests take turns: see the module's docs.
static ONE_APP: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// A signed-in desk in a real window, on its own server and folders. Fields drop in order:
/// the app (with tauri-driver) before the server, the folders and, last, the turn.
struct Desk {
    c: Client,
    _driver: Driver,
    kefu: Kefu,
    env: AppEnv,
    dir: PathBuf,
    _tmp: tempfile::TempDir,
    _turn: tokio::sync::MutexGuard<'static, ()>,
}

impl Desk {
    /// Starts a server and the app (with a HOME of its own when `own_home`), and signs the
    /// demo admin in through the form.
    async fn start(own_home: bool) -> Self {
        session_bus();
        let turn = ONE_APP.lock().await;
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().to_path_buf();
        let kefu = Kefu::start(&dir.join("server"), "127.0.0.1:0");
        let mut env = AppEnv::under(&dir);
        if own_home {
            let home = dir.join("home");
            std::fs::create_dir_all(&home).unwrap();
            env = env.with_home(&home);
        }
        let driver = tauri_driver(&env);
        let c = connect(&driver).await;
        sign_in(&c, &kefu.url()).await;
        Self {
            c,
            _driver: driver,
            kefu,
            env,
            dir,
            _tmp: tmp,
            _turn: turn,
        }
    }

    /// Accepts a waiting chat from its row in the queue and waits until the open chat says
    /// it is the agent's (an offer is listed in Mine too, so the row alone would not tell).
    async fn accept(&self, conv: &str) {
        let c = &self.c;
        click(c, "[data-testid=view-queue]").await;
        click(c, &format!("{} [data-testid=accept]", row(conv))).await;
        find(
            c,
            &format!(
                "{} [data-testid=conversation-state].state-assigned",
                pane(conv)
            ),
        )
        .await;
    }

    /// The texts of the messages in the open chat.
    async fn pane_texts(&self) -> Vec<String> {
        let texts = js(
            &self.c,
            "return Array.from(document.querySelectorAll(\
             '[data-testid=chat-pane] [data-testid=message-text]'), e => e.textContent);",
            vec![],
        )
        .await;
        serde_json::from_value(texts).unwrap()
    }
}

fn row(conv: &str) -> String {
    format!("[data-testid=conversation-item][data-id='{conv}']")
}

fn pane(conv: &str) -> String {
    format!("[data-testid=chat-pane][data-id='{conv}']")
}

/// Uploads a file as the shopper and sends it into their conversation; returns the ack.
async fn shopper_sends_file(
    kefu: &Kefu,
    shopper: &mut Shopper,
    name: &str,
    mime: &str,
    bytes: &[u8],
) -> pb::Ack {
    let res = reqwest::Client::new()
        .post(format!(
            "{}/api/v1/conversations/{}/attachments",
            kefu.url(),
            shopper.conversation_id
        ))
        .query(&[("filename", name)])
        .bearer_auth(&shopper.token)
        .header("content-type", mime)
        .body(bytes.to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201, "the shopper's upload is stored");
    let up: Value = res.json().await.unwrap();
    let id = uuid::Uuid::new_v4().to_string();
    let send = In::Send(pb::SendMessage {
        conversation_id: shopper.conversation_id.clone(),
        client_msg_id: id.clone(),
        body: Some(pb::MessageBody {
            kind: Some(Body::Attachment(pb::AttachmentRef {
                attachment_id: up["attachment_id"].as_str().unwrap().into(),
                file_name: up["file_name"].as_str().unwrap().into(),
                content_type: up["content_type"].as_str().unwrap().into(),
                size_bytes: up["size_bytes"].as_u64().unwrap(),
            })),
        }),
        group: String::new(),
        context: None,
    });
    shopper.send(send).await;
    shopper
        .recv_until(|f| match f {
            Out::Ack(a) if a.client_msg_id == id => Some(a.clone()),
            Out::Error(e) => panic!("the shopper's file was refused: {e:?}"),
            _ => None,
        })
        .await
}

/// Elements (tag names) inside `scope` that are not ours: markup a shopper sent, parsed.
const FOREIGN_ELEMENTS: &str = "
    const [scope] = arguments;
    const root = document.querySelector(scope);
    if (!root) return ['missing: ' + scope];
    return Array.from(root.querySelectorAll('img, script, b, iframe, object, embed, [onerror], [onclick]'),
        e => e.outerHTML.slice(0, 120));
";

/// What overflows sideways: the regions, the scrolling boxes inside them, the page.
const OVERFLOW: &str = "
    const out = [];
    const slack = 1;
    const regions = {
        pane: document.querySelector('[data-testid=chat-pane]'),
        list: document.querySelector('[data-testid=conversation-rows]'),
        nav: document.querySelector('[data-testid=conversation-rows]')?.parentElement,
        panel: document.querySelector('[data-testid=customer-panel]'),
    };
    for (const [name, el] of Object.entries(regions)) {
        if (!el) { out.push(name + ' missing'); continue; }
        if (el.scrollWidth > el.clientWidth + slack)
            out.push(`${name}: scrollWidth ${el.scrollWidth} > clientWidth ${el.clientWidth}`);
        for (const d of el.querySelectorAll('*')) {
            const x = getComputedStyle(d).overflowX;
            if ((x === 'auto' || x === 'scroll') && d.scrollWidth > d.clientWidth + slack)
                out.push(`${name} > ${d.tagName}.${d.className}: scrollWidth ${d.scrollWidth} > ${d.clientWidth}`);
        }
    }
    const page = document.documentElement.scrollWidth;
    if (page > window.innerWidth) out.push(`page: scrollWidth ${page} > innerWidth ${window.innerWidth}`);
    return out;
";

/// A shopper with a hostile name, page and messages: everything reads as the literal text it
/// is, no element, link or script comes of it, and nothing widens the window.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_a_shopper_sends_stays_inert_text_in_the_window() {
    let desk = Desk::start(false).await;
    let (c, kefu) = (&desk.c, &desk.kefu);
    // Anything that runs alert() (an onerror, a script) leaves a mark instead of a dialog.
    js(
        c,
        "window.__kefuAlert = false; \
         window.alert = window.confirm = window.prompt = () => { window.__kefuAlert = true; };",
        vec![],
    )
    .await;

    let mut shopper = Shopper::open_with(kefu, json!({"site_id": "demo", "name": NAME})).await;
    shopper
        .open_conversation(kefu, json!({"context": {"url": JS_URL, "title": TITLE}}))
        .await;
    let conv = shopper.say(SCRIPT).await.conversation_id;
    desk.accept(&conv).await;
    shopper.say(MD_LINK).await;
    let pdf = b"%PDF-1.4\n%\xE2\xE3\xCF\xD3\n1 0 obj\n<<>>\nendobj\n";
    shopper_sends_file(kefu, &mut shopper, FILE, "application/pdf", pdf).await;
    // Last, so it is also the row's preview.
    let long = "W".repeat(3000);
    shopper.say(&long).await;

    click(c, "[data-testid=view-mine]").await;
    let item = row(&conv);
    find(c, &item).await;
    eventually("the shopper's three texts in the chat", async || {
        let texts = desk.pane_texts().await;
        [SCRIPT, MD_LINK, long.as_str()]
            .iter()
            .all(|t| texts.iter().any(|s| s == t))
    })
    .await;
    find(c, "[data-testid=chat-pane] [data-testid=attachment-name]").await;
    find(c, "[data-testid=chat-pane] [data-testid=page-title]").await;
    find(c, "[data-testid=customer-panel]").await;
    screenshot(c, "20b-inert-content-latest").await;
    // From the top, so the picture shows every hostile value at once.
    js(
        c,
        "const pane = document.querySelector('[data-testid=chat-pane]');
         for (const e of pane.querySelectorAll('*'))
             if (e.scrollHeight > e.clientHeight && getComputedStyle(e).overflowY === 'auto') e.scrollTop = 0;",
        vec![],
    )
    .await;
    screenshot(c, "20-inert-content").await;

    // Literal text, where each value belongs.
    assert_eq!(
        text(c, &format!("{item} [data-testid=conversation-name]"))
            .await
            .as_deref(),
        Some(NAME),
        "the row names the shopper literally"
    );
    assert_eq!(
        text(c, "[data-testid=chat-shopper-name]").await.as_deref(),
        Some(NAME),
        "the chat's header names the shopper literally"
    );
    assert_eq!(
        text(c, "[data-testid=page-title]").await.as_deref(),
        Some(TITLE),
        "the page title is shown as its text"
    );
    assert_eq!(
        text(c, "[data-testid=chat-pane] [data-testid=attachment-name]")
            .await
            .as_deref(),
        Some(FILE),
        "the file name reads as sent"
    );
    // innerText: the text as laid out, which markup would not be part of.
    let visible = js(
        c,
        "return document.querySelector('[data-testid=chat-pane]').innerText;",
        vec![],
    )
    .await;
    let visible = visible.as_str().unwrap_or_default();
    assert!(
        visible.contains(SCRIPT) && visible.contains(MD_LINK),
        "the markup shows as characters on screen: {visible:.300}"
    );

    // No element, link or handler came of it.
    for scope in [
        item.as_str(),
        "[data-testid=chat-pane]",
        "[data-testid=chat-pane] header",
        "[data-testid=customer-panel]",
    ] {
        let foreign = js(c, FOREIGN_ELEMENTS, vec![json!(scope)]).await;
        assert_eq!(
            foreign,
            json!([]),
            "elements made from shopper text in {scope}"
        );
    }
    for css in [
        "a[href^='javascript:' i]",
        "[href^='javascript:' i]",
        "[src^='javascript:' i]",
        "script:not([type=module])",
    ] {
        assert!(
            find_all(c, css).await.is_empty(),
            "nothing in the document may be {css}"
        );
    }
    assert!(
        find_all(c, "[data-testid=page-url]").await.is_empty(),
        "a javascript: page is not shown as an address (the server drops it too)"
    );

    // Nothing widens the columns or the page.
    let overflow = js(c, OVERFLOW, vec![]).await;
    assert_eq!(overflow, json!([]), "sideways overflow");
    assert_eq!(
        js(c, "return window.__kefuAlert;", vec![]).await,
        json!(false),
        "nothing the shopper sent ran alert()"
    );
    c.clone().close().await.unwrap();
}

/// The workday's live features: a bot's tag reaches the open list, a file dropped on the
/// composer reaches the shopper, and a `kefu://` link given to a second launch opens its
/// chat in the first window while the second process exits.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn labels_dropped_files_and_kefu_links_work_in_the_running_window() {
    let desk = Desk::start(false).await;
    let (c, kefu) = (&desk.c, &desk.kefu);
    // A reload of the page would drop this.
    js(c, "window.__kefuSameLoad = true;", vec![]).await;

    let mut lin = Shopper::open(kefu, "Lin").await;
    let conv = lin.say("Is the kettle 220 V?").await.conversation_id;
    desk.accept(&conv).await;
    click(c, "[data-testid=view-mine]").await;
    let item = row(&conv);
    find(c, &item).await;

    // A bot tags the chat: the row shows the label without a reload.
    let vip = format!("{item} [data-testid=tag][title=vip]");
    assert!(find_all(c, &vip).await.is_empty(), "no vip label yet");
    let token = kefu.bot_token("Triage").await;
    let http = reqwest::Client::new();
    let tagged = http
        .post(format!(
            "{}/api/v1/bot/conversations/{conv}/tags",
            kefu.url()
        ))
        .bearer_auth(token)
        .json(&json!({"tags": ["vip"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(tagged.status(), 200, "the bot tags the chat");
    find(c, &vip).await;
    assert_eq!(text(c, &vip).await.as_deref(), Some("vip"));
    assert_eq!(
        js(c, "return window.__kefuSameLoad === true;", vec![]).await,
        json!(true),
        "the label came without reloading the window"
    );
    screenshot(c, "21-live-label").await;

    // A file dragged onto the composer: the drop target lights up, the drop sends it.
    let area = "[data-testid=chat-pane] [data-testid=composer-area]";
    find(c, area).await;
    js(
        c,
        "const [css, bytes] = arguments;
         const area = document.querySelector(css);
         const dt = new DataTransfer();
         dt.items.add(new File([new Uint8Array(bytes)], 'photo.png', { type: 'image/png' }));
         window.__kefuDrag = dt;
         for (const type of ['dragenter', 'dragover'])
             area.dispatchEvent(new DragEvent(type, { bubbles: true, cancelable: true, dataTransfer: dt }));",
        vec![json!(area), json!(PHOTO.to_vec())],
    )
    .await;
    find(c, "[data-testid=drop-hint]").await;
    screenshot(c, "22-drop-hint").await;
    let refused = js(
        c,
        "const area = document.querySelector(arguments[0]);
         const drop = new DragEvent('drop', { bubbles: true, cancelable: true, dataTransfer: window.__kefuDrag });
         return area.dispatchEvent(drop);",
        vec![json!(area)],
    )
    .await;
    assert_eq!(
        refused,
        json!(false),
        "the composer takes the drop (the web view does not open the file)"
    );
    let received = lin
        .recv_until(|f| match f {
            Out::Message(m) => match m.body.as_ref()?.kind.as_ref()? {
                Body::Attachment(a) => Some(a.clone()),
                _ => None,
            },
            _ => None,
        })
        .await;
    assert_eq!(
        (received.file_name.as_str(), received.content_type.as_str()),
        ("photo.png", "image/png"),
        "the shopper receives the dropped file"
    );
    assert_eq!(received.size_bytes, PHOTO.len() as u64, "all of it");
    let img = "[data-testid=chat-pane] [data-testid=attachment] img[alt='photo.png']";
    find(c, img).await;
    eventually("the picture, fetched back from the server, decoded", async || {
        js(
            c,
            "const img = document.querySelector(arguments[0]); return img.complete && img.naturalWidth;",
            vec![json!(img)],
        )
        .await
            == json!(24)
    })
    .await;
    assert!(
        find_all(c, "[data-testid=drop-hint]").await.is_empty(),
        "the highlight goes after the drop"
    );
    screenshot(c, "23-dropped-file").await;

    // Another chat is open and the list shows Closed when the link comes.
    let mut mei = Shopper::open(kefu, "Mei").await;
    let other = mei.say("Do you ship to Macau?").await.conversation_id;
    desk.accept(&other).await;
    click(c, "[data-testid=view-closed]").await;
    wait_attr(c, "[data-testid=view-closed]", "aria-selected", "true").await;
    wait_attr(c, "[data-testid=chat-pane]", "data-id", &other).await;

    // The desktop hands the link to a new process, which passes it on and exits.
    let log = desk.dir.join("second-launch.log");
    let mut second = desk
        .env
        .launch(&[&format!("kefu://conversation/{conv}")], &log);
    let mut status = None;
    eventually("the second launch exits by itself", async || {
        status = second.0.try_wait().unwrap();
        status.is_some()
    })
    .await;
    let output = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(
        status.unwrap().success(),
        "the second launch exits cleanly: {status:?}\n{output}"
    );
    assert!(
        !output.contains("kefu-desk starting"),
        "the second launch hands over before starting a desk of its own:\n{output}"
    );
    wait_attr(c, "[data-testid=chat-pane]", "data-id", &conv).await;
    wait_attr(c, "[data-testid=view-mine]", "aria-selected", "true").await;
    find(c, &format!("{item}[aria-current]")).await;
    screenshot(c, "24-opened-by-link").await;
    assert_eq!(
        js(c, "return window.__kefuSameLoad === true;", vec![]).await,
        json!(true),
        "the first window opened it (no new window, no reload)"
    );
    c.clone().close().await.unwrap();
}

/// "Start at login" in the settings writes the autostart entry that starts this binary, and
/// turning it off removes it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_at_login_adds_and_removes_the_autostart_entry() {
    let desk = Desk::start(true).await;
    let c = &desk.c;
    let autostart = desk.dir.join("home/.config/autostart");
    let entries = || -> Vec<PathBuf> {
        std::fs::read_dir(&autostart)
            .map(|d| d.map(|e| e.unwrap().path()).collect())
            .unwrap_or_default()
    };
    assert!(entries().is_empty(), "no autostart entry yet");

    click(c, "[data-testid=settings-open]").await;
    let toggle = "[data-testid=setting-start-at-login]";
    find(c, toggle).await;
    assert!(!checked(c, toggle).await, "off at first");
    click(c, toggle).await;
    eventually("an autostart entry", async || !entries().is_empty()).await;
    let files = entries();
    assert_eq!(files.len(), 1, "one entry: {files:?}");
    assert_eq!(
        files[0].file_name().unwrap(),
        "Kefu.desktop",
        "named after the product"
    );
    let entry = std::fs::read_to_string(&files[0]).unwrap();
    let exec = entry
        .lines()
        .find_map(|l| l.strip_prefix("Exec="))
        .unwrap_or_else(|| panic!("an Exec= line in {entry}"));
    let program = exec.split_whitespace().next().unwrap_or_default();
    assert_eq!(
        std::fs::canonicalize(program).ok(),
        std::fs::canonicalize(window::app_path()).ok(),
        "the entry starts this binary: {entry}"
    );
    assert!(checked(c, toggle).await, "the box says what the OS has");
    screenshot(c, "25-start-at-login").await;

    click(c, toggle).await;
    eventually("the autostart entry removed", async || entries().is_empty()).await;
    assert!(!checked(c, toggle).await, "off again");
    c.clone().close().await.unwrap();
}
