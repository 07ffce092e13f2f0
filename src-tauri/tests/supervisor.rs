//! The supervisor's desk against a real `kefu` process on 127.0.0.1: the live floor pushed
//! over the agent socket (to supervisors, never to agents), every action from the floor
//! (reassign, whisper, take over, close, set an agent's status) checked by role, reports
//! with their CSV export, and search.

mod common;

use std::{path::Path, sync::Arc};

use common::*;
use kefu_desk::{
    desk::{Desk, Dirs},
    model::{
        Agent, AgentStatus, ConversationState, DeskErrorCode, Floor, MessageBody, Presence,
        ReportFilter, ReportTable, SearchQuery, Sender, Update,
    },
    secrets::Secrets,
};
use tokio::sync::broadcast;

const PASSWORD: &str = "a-long-password";

/// One desk, its updates from the moment it opened.
struct App {
    desk: Arc<Desk>,
    updates: broadcast::Receiver<Update>,
    /// Every update read so far, for what must never have come.
    seen: Vec<Update>,
    _root: tempfile::TempDir,
}

impl App {
    fn open() -> Self {
        let root = tempfile::tempdir().unwrap();
        let dirs = Dirs {
            data: root.path().join("data"),
            config: root.path().join("config"),
        };
        let store = keyring_core::sample::Store::new().unwrap();
        let desk = Desk::new(
            dirs,
            Secrets::with_store(store),
            Arc::new(Recorder::default()),
        )
        .unwrap();
        let updates = desk.subscribe();
        Self {
            desk,
            updates,
            seen: Vec::new(),
            _root: root,
        }
    }

    /// Signs in and waits until the desk is connected.
    async fn sign_in(kefu: &Kefu, username: &str) -> (Self, Agent) {
        let mut app = Self::open();
        let agent = app
            .desk
            .sign_in(&kefu.url(), username, PASSWORD)
            .await
            .unwrap();
        app.next("the desk to connect", |u| {
            matches!(u, Update::Connection { online: true, .. }).then_some(())
        })
        .await;
        (app, agent)
    }

    /// Reads updates until `f` picks one, failing after [`WAIT`].
    async fn next<T>(&mut self, what: &str, mut f: impl FnMut(&Update) -> Option<T>) -> T {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            match tokio::time::timeout_at(deadline, self.updates.recv()).await {
                Err(_) => panic!("timed out waiting for {what}"),
                Ok(Err(broadcast::error::RecvError::Lagged(_))) => continue,
                Ok(Err(e)) => panic!("updates ended waiting for {what}: {e}"),
                Ok(Ok(u)) => {
                    let picked = f(&u);
                    self.seen.push(u);
                    if let Some(t) = picked {
                        return t;
                    }
                }
            }
        }
    }

    /// Waits for a floor that satisfies `f`.
    async fn floor_where(&mut self, what: &str, f: impl Fn(&Floor) -> bool) -> Floor {
        self.next(what, |u| match u {
            Update::Floor { floor } if f(floor) => Some(floor.clone()),
            _ => None,
        })
        .await
    }
}

fn waiting(floor: &Floor, group: &str) -> u32 {
    floor
        .queues
        .iter()
        .find(|q| q.group == group)
        .map_or(0, |q| q.waiting)
}

fn status_of(floor: &Floor, agent_id: &str) -> Option<Presence> {
    floor
        .agents
        .iter()
        .find(|a| a.agent_id == agent_id)
        .map(|a| a.status)
}

/// A fresh server with agent `ann` (pre-sales, stepped away so chats wait in the queue) and
/// supervisor `sue`, both signed in to desks of their own.
struct Floorwalk {
    kefu: Kefu,
    ann: App,
    ann_id: String,
    sue: App,
    sue_id: String,
    _data: tempfile::TempDir,
}

async fn floorwalk() -> Floorwalk {
    let data = tempfile::tempdir().unwrap();
    let kefu = Kefu::start(data.path(), "127.0.0.1:0");
    let ann_id = kefu.add_agent("ann", "Ann", PASSWORD).await;
    let sue_id = kefu.add_supervisor("sue", "Sue", PASSWORD).await;
    let (ann, _) = App::sign_in(&kefu, "ann").await;
    ann.desk.set_status(AgentStatus::Away).await.unwrap();
    let (sue, _) = App::sign_in(&kefu, "sue").await;
    Floorwalk {
        kefu,
        ann,
        ann_id,
        sue,
        sue_id,
        _data: data,
    }
    .settled()
    .await
}

impl Floorwalk {
    /// Waits until the supervisor's floor shows ann away (her status reached the server).
    async fn settled(mut self) -> Self {
        let ann_id = self.ann_id.clone();
        self.sue
            .floor_where("ann away on the floor", |f| {
                status_of(f, &ann_id) == Some(Presence::Away)
            })
            .await;
        self
    }

    /// A shopper opens a chat; it waits in pre-sales (ann is away).
    async fn shopper(&mut self, name: &str, text: &str) -> (Shopper, String) {
        let mut shopper = Shopper::open(&self.kefu, name).await;
        let conv = shopper.say(text).await.conversation_id;
        (shopper, conv)
    }
}

#[tokio::test]
async fn the_floor_is_pushed_to_a_supervisor_as_it_moves_and_never_to_an_agent() {
    let mut w = floorwalk().await;
    let before = w.sue.desk.floor().await.unwrap();
    assert_eq!(
        waiting(&before, "pre-sales"),
        0,
        "nobody waits yet: {before:?}"
    );
    assert!(
        before.agents.iter().any(|a| a.agent_id == w.ann_id),
        "every agent is on the floor: {before:?}"
    );

    let (_lin, conv) = w.shopper("Lin", "Is the kettle 220 V?").await;
    let floor = w
        .sue
        .floor_where("the queue to grow", |f| waiting(f, "pre-sales") == 1)
        .await;
    let queue = floor
        .queues
        .iter()
        .find(|q| q.group == "pre-sales")
        .unwrap();
    assert!(
        queue.oldest_since_ms.is_some_and(|t| t <= floor.at_ms),
        "the longest wait started before the floor was built: {queue:?}"
    );
    assert_eq!(
        w.sue.desk.floor().await.unwrap(),
        floor,
        "a window opening now gets the floor last pushed"
    );
    let open = w.sue.desk.floor_conversations().await.unwrap();
    assert!(
        open.iter()
            .any(|c| c.id == conv && c.state == ConversationState::Queued),
        "the floor lists the waiting chat: {open:?}"
    );

    // Ann comes back and takes it: the queue empties and her load shows it.
    w.ann.desk.set_status(AgentStatus::Online).await.unwrap();
    w.ann
        .next("the chat offered to ann", |u| {
            matches!(u, Update::Conversation { conversation: c }
                if c.id == conv && c.state == ConversationState::Offered)
            .then_some(())
        })
        .await;
    w.ann.desk.accept(&conv).await.unwrap();
    let ann_id = w.ann_id.clone();
    w.sue
        .floor_where("ann's chat to count on the floor", |f| {
            waiting(f, "pre-sales") == 0
                && f.agents
                    .iter()
                    .any(|a| a.agent_id == ann_id && a.active == 1 && a.status == Presence::Online)
        })
        .await;

    // The agent's desk was connected all along and heard of the same chat, but no floor.
    w.ann
        .next("the assignment on ann's desk", |u| {
            matches!(u, Update::Conversation { conversation: c }
                if c.id == conv && c.state == ConversationState::Assigned)
            .then_some(())
        })
        .await;
    assert!(
        !w.ann.seen.iter().any(|u| matches!(u, Update::Floor { .. })),
        "an agent's socket never carries the floor"
    );
    let refused = w.ann.desk.floor().await.unwrap_err();
    assert_eq!(
        refused.code,
        DeskErrorCode::Forbidden,
        "nor does the REST floor answer an agent: {refused:?}"
    );
}

#[tokio::test]
async fn a_supervisor_reassigns_whispers_takes_over_closes_and_sets_an_agents_status() {
    let mut w = floorwalk().await;
    let (mut lin, conv) = w.shopper("Lin", "My order never came").await;
    w.sue
        .floor_where("the chat waiting", |f| waiting(f, "pre-sales") == 1)
        .await;

    // An agent may not act from the floor.
    let refused = w
        .ann
        .desk
        .reassign(&conv, Some(w.ann_id.clone()), None, None)
        .await
        .unwrap_err();
    assert_eq!(refused.code, DeskErrorCode::Forbidden, "{refused:?}");
    let nothing = w
        .sue
        .desk
        .reassign(&conv, None, Some(" ".into()), None)
        .await;
    assert_eq!(
        nothing.unwrap_err().code,
        DeskErrorCode::Invalid,
        "a blank target is refused before asking the server"
    );

    // Reassign the waiting chat to ann (away, so only a supervisor can give it to her).
    w.sue
        .desk
        .reassign(
            &conv,
            Some(w.ann_id.clone()),
            None,
            Some("VIP, be quick".into()),
        )
        .await
        .unwrap();
    let ann_id = w.ann_id.clone();
    w.ann
        .next("the chat assigned to ann", |u| {
            matches!(u, Update::Conversation { conversation: c }
                if c.id == conv && c.agent_id.as_deref() == Some(ann_id.as_str())
                    && c.state == ConversationState::Assigned)
            .then_some(())
        })
        .await;

    // Whisper: ann sees a private note; the shopper never does.
    let whispered = w
        .sue
        .desk
        .whisper(&conv, "Offer the 10% coupon")
        .await
        .unwrap();
    assert!(
        matches!(&whispered.body, MessageBody::Note { text } if text == "Offer the 10% coupon"),
        "{whispered:?}"
    );
    w.ann
        .next("the whisper on ann's desk", |u| match u {
            Update::Message { message: m }
                if m.conversation_id == conv
                    && matches!(&m.body, MessageBody::Note { text } if text == "Offer the 10% coupon") =>
            {
                assert_eq!(m.sender, Sender::Agent, "{m:?}");
                Some(())
            }
            _ => None,
        })
        .await;
    let after = lin.say("Hello?").await;
    let heard = server_messages(&w.kefu, &lin.token, &conv).await;
    assert!(
        !heard.iter().any(|m| m.to_string().contains("10% coupon")),
        "the shopper's history up to seq {} holds no whisper: {heard:?}",
        after.seq
    );

    // Sue takes it over: it is hers now.
    w.sue.desk.take_over(&conv).await.unwrap();
    let sue_id = w.sue_id.clone();
    w.sue
        .next("the chat to be sue's", |u| {
            matches!(u, Update::Conversation { conversation: c }
                if c.id == conv && c.agent_id.as_deref() == Some(sue_id.as_str()))
            .then_some(())
        })
        .await;

    // And closes it.
    w.sue.desk.close_conversation(&conv).await.unwrap();
    w.sue
        .next("the chat closed", |u| {
            matches!(u, Update::Conversation { conversation: c }
                if c.id == conv && c.state == ConversationState::Closed)
            .then_some(())
        })
        .await;
    let again = w.sue.desk.close_conversation(&conv).await.unwrap_err();
    assert_eq!(
        again.code,
        DeskErrorCode::Conflict,
        "closed already: {again:?}"
    );

    // Ann is set offline from the floor, then available again.
    w.sue
        .desk
        .set_agent_status(&w.ann_id, Presence::Offline)
        .await
        .unwrap();
    let ann_id = w.ann_id.clone();
    w.sue
        .floor_where("ann offline", |f| {
            status_of(f, &ann_id) == Some(Presence::Offline)
        })
        .await;
    let by_agent = w
        .ann
        .desk
        .set_agent_status(&w.sue_id, Presence::Away)
        .await
        .unwrap_err();
    assert_eq!(by_agent.code, DeskErrorCode::Forbidden, "{by_agent:?}");
}

#[tokio::test]
async fn reports_count_the_days_chats_and_export_csv_and_search_finds_them_by_role() {
    let mut w = floorwalk().await;
    let (_lin, first) = w.shopper("Lin", "退货 refund for the blue kettle").await;
    let (_mei, second) = w.shopper("Mei", "Where is order O-1001?").await;
    w.sue
        .floor_where("both chats waiting", |f| waiting(f, "pre-sales") == 2)
        .await;

    let now = kefu_desk::cache::now_ms();
    let today = ReportFilter {
        from: now - 3_600_000,
        to: now + 3_600_000,
        ..Default::default()
    };
    let summary = w.sue.desk.report_summary(&today).await.unwrap();
    assert_eq!(
        summary.opened, 2,
        "two chats opened in the range: {summary:?}"
    );
    assert_eq!(summary.closed, 0);
    let refused = w.ann.desk.report_summary(&today).await.unwrap_err();
    assert_eq!(
        refused.code,
        DeskErrorCode::Forbidden,
        "agents get no reports"
    );
    let backwards = ReportFilter {
        from: now,
        to: now,
        ..Default::default()
    };
    assert_eq!(
        w.sue
            .desk
            .report_summary(&backwards)
            .await
            .unwrap_err()
            .code,
        DeskErrorCode::Invalid
    );

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("groups.csv");
    w.sue
        .desk
        .save_report_csv(ReportTable::Groups, &today, &path)
        .await
        .unwrap();
    let csv = std::fs::read_to_string(&path).unwrap();
    let mut lines = csv.lines();
    assert!(
        lines.next().is_some_and(|h| h.contains(',')),
        "a header row: {csv}"
    );
    assert!(
        lines.any(|l| l.starts_with("pre-sales,") || l.starts_with("\"pre-sales\",")),
        "a row for pre-sales: {csv}"
    );
    assert_no_partial(dir.path());

    // Search: Chinese text, an order number; supervisors see all, ann her group's.
    let found = w
        .sue
        .desk
        .search(SearchQuery {
            q: Some("退货".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        found
            .results
            .iter()
            .map(|r| r.conversation_id.as_str())
            .collect::<Vec<_>>(),
        [first.as_str()],
        "{found:?}"
    );
    assert!(found.results[0].snippet.contains("退货"), "{found:?}");
    let by_order = w
        .ann
        .desk
        .search(SearchQuery {
            q: Some("O-1001".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(
        by_order.results.iter().any(|r| r.conversation_id == second),
        "ann answers pre-sales: she finds its chats: {by_order:?}"
    );

    // A found chat the desk never held opens: it is brought into the cache.
    let row = w
        .ann
        .desk
        .load_conversation(&second, Some("Mei".into()))
        .await
        .unwrap();
    assert_eq!(
        (row.id.as_str(), row.shopper_name.as_str()),
        (second.as_str(), "Mei")
    );
}

/// No `.kefu-partial` file is left where a CSV was saved.
fn assert_no_partial(dir: &Path) {
    let left: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .filter(|n| n.to_string_lossy().ends_with(".kefu-partial"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}
