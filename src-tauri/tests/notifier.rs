//! Notifications: a burst becomes one, offers lead, the agent's switches are obeyed (with a
//! recording display), and a real one reaches the desktop's notification server (dunst in
//! `scripts/desktop-session.sh`).

mod common;

use std::{
    io::{BufRead, BufReader},
    process::{Command, Stdio},
    sync::{Arc, mpsc},
};

use common::*;
use kefu_desk::{
    model::Settings,
    notifier::{Desktop, Display, Kind, Notice, Notifier, Toast},
};

fn notice(kind: Kind, conversation_id: &str, who: &str, text: &str) -> Notice {
    Notice {
        kind,
        conversation_id: conversation_id.into(),
        who: who.into(),
        text: text.into(),
    }
}

/// Waits until `n` toasts were shown; returns them.
async fn shown(display: &Recorder, n: usize) -> Vec<Toast> {
    eventually(&format!("{n} notification(s)"), async || {
        display.toasts().len() >= n
    })
    .await;
    display.toasts()
}

#[tokio::test]
async fn a_burst_of_messages_raises_one_notification() {
    let display = Arc::new(Recorder::default());
    let notifier = Notifier::start(display.clone(), Settings::default());
    let people = ["王芳", "Ben", "Cat", "Dev", "Eve"];
    for i in 0..30 {
        let who = people[i % people.len()];
        notifier.notify(notice(
            Kind::Message,
            &format!("c{}", i % 5),
            who,
            &format!("message {i}"),
        ));
    }
    let burst = shown(&display, 1).await;
    // One more, after the burst: it gets a notification of its own, so none of the burst
    // was left over for a second one.
    notifier.notify(notice(Kind::Message, "c9", "Zoe", "later"));
    let toasts = shown(&display, 2).await;
    assert_eq!(toasts.len(), 2, "{toasts:?}");
    assert_eq!(burst[0].summary, "30 new messages");
    assert_eq!(burst[0].body, "王芳, Ben, Cat and 2 more");
    assert_eq!(
        burst[0].conversation_id, "c4",
        "without offers, a click opens the latest message's chat"
    );
    assert_eq!(
        (toasts[1].summary.as_str(), toasts[1].body.as_str()),
        ("Zoe", "later"),
        "a single notice shows who and what"
    );
}

#[tokio::test]
async fn an_offer_leads_its_batch() {
    let display = Arc::new(Recorder::default());
    let notifier = Notifier::start(display.clone(), Settings::default());
    notifier.notify(notice(Kind::Message, "c1", "Amy", "hello"));
    notifier.notify(notice(Kind::Offer, "c2", "Ben", "wants to chat"));
    notifier.notify(notice(Kind::Message, "c3", "Cat", "are you there?"));
    let toasts = shown(&display, 1).await;
    assert_eq!(toasts[0].summary, "1 new chat, 2 new messages");
    assert_eq!(toasts[0].body, "Amy, Ben, Cat");
    assert_eq!(toasts[0].conversation_id, "c2", "a click opens the offer");
    assert!(toasts[0].sound, "sound is on by default");
}

#[tokio::test]
async fn switched_off_kinds_are_dropped() {
    let display = Arc::new(Recorder::default());
    let quiet = Settings {
        notify_messages: false,
        sound: false,
        ..Settings::default()
    };
    let notifier = Notifier::start(display.clone(), quiet.clone());
    for i in 0..5 {
        notifier.notify(notice(Kind::Message, "c1", "Amy", &format!("m{i}")));
    }
    notifier.notify(notice(Kind::Offer, "c2", "Ben", "wants to chat"));
    let toasts = shown(&display, 1).await;
    assert_eq!(
        (toasts[0].summary.as_str(), toasts[0].body.as_str()),
        ("Ben", "wants to chat"),
        "only the offer was notified"
    );
    assert!(!toasts[0].sound, "silent as asked");

    // Offers off, messages back on.
    notifier.update_settings(Settings {
        notify_offers: false,
        notify_messages: true,
        ..quiet
    });
    notifier.notify(notice(Kind::Offer, "c3", "Cat", "wants to chat"));
    notifier.notify(notice(Kind::Message, "c1", "Amy", "back again"));
    let toasts = shown(&display, 2).await;
    assert_eq!(
        (toasts[1].summary.as_str(), toasts[1].body.as_str()),
        ("Amy", "back again"),
        "only the message was notified: {toasts:?}"
    );
}

/// Lines a child prints, as they come.
fn lines_of(child: &mut std::process::Child) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    let out = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines() {
            let Ok(line) = line else { return };
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    rx
}

/// Reads lines until one contains `needle`, failing after [`WAIT`].
fn wait_for_line(lines: &mpsc::Receiver<String>, needle: &str) {
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match lines.recv_timeout(left) {
            Ok(line) if line.contains(needle) => return,
            Ok(_) => {}
            Err(e) => panic!("no line with {needle:?} from dbus-monitor: {e}"),
        }
    }
}

fn dunstctl(args: &[&str]) -> String {
    let out = Command::new("dunstctl")
        .args(args)
        .output()
        .expect("dunstctl runs");
    assert!(out.status.success(), "dunstctl {args:?}: {out:?}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn a_desktop_notification_reaches_the_notification_server() {
    require_desktop_session();
    let summary = format!("Kefu test {}", uuid::Uuid::new_v4());
    let mut monitor = Command::new("dbus-monitor")
        .args([
            "--session",
            "interface='org.freedesktop.Notifications',member='Notify'",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("dbus-monitor runs");
    let lines = lines_of(&mut monitor);
    // Once it has become a monitor, it loses its own name: from then on it sees everything.
    wait_for_line(&lines, "member=NameLost");

    Desktop::new(|_| {}).show(Toast {
        summary: summary.clone(),
        body: "3 new messages".into(),
        conversation_id: "c1".into(),
        sound: true,
    });
    wait_for_line(&lines, &summary);
    let _ = monitor.kill();
    let _ = monitor.wait();

    // The server took it: closed, it is in dunst's history.
    dunstctl(&["close-all"]);
    let deadline = std::time::Instant::now() + WAIT;
    while !dunstctl(&["history"]).contains(&summary) {
        assert!(
            std::time::Instant::now() < deadline,
            "dunst never listed {summary:?}"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}
