//! OS notifications for offers, assignments and new messages, coalesced so a burst of
//! messages raises one notification, not a storm.
//!
//! Notices are collected for [`GATHER`]; then one notification is shown for the batch,
//! replacing the previous one (same notification id), and nothing else is shown for
//! [`QUIET`]. Clicking it reports the conversation to open.

use std::{sync::Arc, time::Duration};

use tokio::sync::mpsc;

use crate::model::Settings;

/// How long notices are gathered into one notification.
pub const GATHER: Duration = Duration::from_millis(600);
/// Least time between two notifications.
pub const QUIET: Duration = Duration::from_secs(2);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A conversation was offered to me or assigned to me.
    Offer,
    /// A shopper wrote in a conversation not on screen.
    Message,
}

/// Something worth telling the agent.
#[derive(Debug, Clone)]
pub struct Notice {
    pub kind: Kind,
    pub conversation_id: String,
    /// Shopper's name.
    pub who: String,
    /// What they wrote (or "wants to chat").
    pub text: String,
}

/// One notification as shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Toast {
    pub summary: String,
    pub body: String,
    /// Conversation a click opens.
    pub conversation_id: String,
    pub sound: bool,
}

/// Where toasts go: the OS ([`Desktop`]) or, in tests, a recorder.
pub trait Display: Send + Sync + 'static {
    fn show(&self, toast: Toast);
}

/// Handle to the notifier task.
#[derive(Clone)]
pub struct Notifier {
    tx: mpsc::UnboundedSender<Notice>,
    settings: Arc<std::sync::RwLock<Settings>>,
}

impl Notifier {
    /// Starts the notifier task on the current tokio runtime.
    pub fn start(display: Arc<dyn Display>, settings: Settings) -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        let settings = Arc::new(std::sync::RwLock::new(settings));
        tokio::spawn(run(rx, display, settings.clone()));
        Self { tx, settings }
    }

    /// Queues a notice (dropped if the agent turned that kind off).
    pub fn notify(&self, notice: Notice) {
        let on = {
            let s = self.settings.read().expect("settings lock");
            match notice.kind {
                Kind::Offer => s.notify_offers,
                Kind::Message => s.notify_messages,
            }
        };
        if on {
            let _ = self.tx.send(notice);
        }
    }

    pub fn update_settings(&self, settings: Settings) {
        *self.settings.write().expect("settings lock") = settings;
    }
}

async fn run(
    mut rx: mpsc::UnboundedReceiver<Notice>,
    display: Arc<dyn Display>,
    settings: Arc<std::sync::RwLock<Settings>>,
) {
    let mut last_shown: Option<tokio::time::Instant> = None;
    while let Some(first) = rx.recv().await {
        let mut batch = vec![first];
        let quiet_until = last_shown.map(|t| t + QUIET);
        let deadline = tokio::time::Instant::now() + GATHER;
        let deadline = quiet_until.map_or(deadline, |q| q.max(deadline));
        while let Ok(Some(n)) = tokio::time::timeout_at(deadline, rx.recv()).await {
            batch.push(n);
        }
        let sound = settings.read().expect("settings lock").sound;
        let toast = summarize(&batch, sound);
        // Showing talks to D-Bus synchronously: keep it off the runtime's workers.
        let display = display.clone();
        let _ = tokio::task::spawn_blocking(move || display.show(toast)).await;
        last_shown = Some(tokio::time::Instant::now());
    }
}

/// One toast for a batch of notices. Offers come first: they need an answer.
pub fn summarize(batch: &[Notice], sound: bool) -> Toast {
    let lead = batch
        .iter()
        .find(|n| n.kind == Kind::Offer)
        .unwrap_or_else(|| batch.last().expect("a batch is never empty"));
    let mut people: Vec<&str> = Vec::new();
    for n in batch {
        if !people.contains(&n.who.as_str()) {
            people.push(&n.who);
        }
    }
    let (summary, body) = if batch.len() == 1 {
        (lead.who.clone(), lead.text.clone())
    } else {
        let offers = batch.iter().filter(|n| n.kind == Kind::Offer).count();
        let messages = batch.len() - offers;
        let mut parts = Vec::new();
        if offers > 0 {
            parts.push(format!(
                "{offers} new chat{}",
                if offers == 1 { "" } else { "s" }
            ));
        }
        if messages > 0 {
            parts.push(format!(
                "{messages} new message{}",
                if messages == 1 { "" } else { "s" }
            ));
        }
        let names = if people.len() > 3 {
            format!("{} and {} more", people[..3].join(", "), people.len() - 3)
        } else {
            people.join(", ")
        };
        (parts.join(", "), names)
    };
    Toast {
        summary,
        body,
        conversation_id: lead.conversation_id.clone(),
        sound,
    }
}

/// Notifications through the OS (notify-rust: D-Bus on Linux, toast on Windows,
/// Notification Center on macOS). `on_click` gets the conversation id.
pub struct Desktop {
    on_click: Arc<dyn Fn(String) + Send + Sync>,
    /// The notification the next one replaces.
    last_id: std::sync::Mutex<Option<u32>>,
}

impl Desktop {
    pub fn new(on_click: impl Fn(String) + Send + Sync + 'static) -> Self {
        Self {
            on_click: Arc::new(on_click),
            last_id: std::sync::Mutex::new(None),
        }
    }
}

impl Display for Desktop {
    fn show(&self, toast: Toast) {
        let mut n = notify_rust::Notification::new();
        n.appname("Kefu")
            .summary(&toast.summary)
            .body(&toast.body)
            .action("default", "Open");
        #[cfg(all(unix, not(target_os = "macos")))]
        {
            n.icon("kefu-desk")
                .hint(notify_rust::Hint::Category("im.received".into()));
            if toast.sound {
                n.sound_name("message-new-instant");
            }
            if let Some(id) = *self.last_id.lock().expect("notification id lock") {
                n.id(id);
            }
        }
        let on_click = self.on_click.clone();
        let conversation_id = toast.conversation_id;
        // Waiting for the click blocks: it gets a thread of its own.
        match n.show() {
            Ok(handle) => {
                #[cfg(all(unix, not(target_os = "macos")))]
                {
                    *self.last_id.lock().expect("notification id lock") = Some(handle.id());
                    std::thread::spawn(move || {
                        handle.wait_for_action(|action| {
                            if action == "default" {
                                on_click(conversation_id);
                            }
                        })
                    });
                }
                #[cfg(not(all(unix, not(target_os = "macos"))))]
                {
                    let _ = (handle, on_click, conversation_id);
                }
            }
            Err(e) => tracing::warn!(error = %e, "showing a notification"),
        }
    }
}
