//! A scripted day on each backend: conversations with known opening, first-response and
//! closing times, transfers, ratings and breaches, written through the store's methods as
//! the server writes them; then the exact report, the same on SQLite and PostgreSQL. The
//! columns the events maintain are read back with SQL.

use std::{collections::HashMap, sync::Arc};

use uuid::Uuid;

use super::*;
use crate::store::{postgres::PgStore, sqlite::SqliteStore, *};

const MIN: i64 = 60_000;
const HOUR: i64 = 60 * MIN;
/// 2026-03-02T00:00:00Z, a Monday.
const T0: i64 = 20_514 * 24 * HOUR;

/// What a backend offers beyond the store's traits, for this test only.
trait Raw {
    /// `channel, first_response_at, last_agent_reply_at, transfers, queued_at, assigned_at`.
    async fn columns(&self, conv: Uuid) -> Columns;
}

#[derive(Debug, PartialEq, Eq)]
struct Columns {
    channel: String,
    first_response_at: Option<i64>,
    last_agent_reply_at: Option<i64>,
    transfers: i64,
    queued_at: Option<i64>,
    assigned_at: Option<i64>,
}

const COLUMNS: &str = "select channel, first_response_at, last_agent_reply_at, transfers, \
    queued_at, assigned_at from conversation where id = $1";

macro_rules! raw_for {
    ($store:ty) => {
        impl Raw for $store {
            async fn columns(&self, conv: Uuid) -> Columns {
                use sqlx::Row;
                let r = sqlx::query(COLUMNS)
                    .bind(conv)
                    .fetch_one(self.pool())
                    .await
                    .unwrap();
                Columns {
                    channel: r.get(0),
                    first_response_at: r.get(1),
                    last_agent_reply_at: r.get(2),
                    transfers: r.get(3),
                    queued_at: r.get(4),
                    assigned_at: r.get(5),
                }
            }
        }
    };
}
raw_for!(SqliteStore);
raw_for!(PgStore);

#[tokio::test]
async fn a_scripted_day_gives_the_exact_report_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open_in(dir.path()).await.unwrap());
    scripted_day(store).await;
}

#[tokio::test]
async fn a_scripted_day_gives_the_exact_report_on_postgres() {
    let Some((_db, store)) = crate::store::postgres::tests::open().await else {
        return;
    };
    scripted_day(Arc::new(store)).await;
}

/// The day's conversations, by what happens to them.
struct Day {
    ann: Uuid,
    bob: Uuid,
    /// c1 … c5 opened in the day; c0 the evening before.
    c: [Uuid; 6],
}

async fn open(store: &dyn Store, site: &str, group: &str, channel: &str, at: i64) -> Uuid {
    let visitor = Visitor {
        id: Uuid::now_v7(),
        site_id: site.into(),
        token_hash: Uuid::now_v7().to_string(),
        customer_id: None,
        display_name: "Shopper".into(),
        email: None,
        phone: None,
        created_at: at,
        expires_at: i64::MAX,
        last_agent_id: None,
        blocked_at: None,
    };
    store.create_visitor(&visitor).await.unwrap();
    let id = Uuid::now_v7();
    store
        .create_conversation(&Conversation {
            id,
            site_id: site.into(),
            visitor_id: visitor.id,
            group: group.into(),
            state: ConvState::Queued,
            agent_id: None,
            last_seq: 0,
            created_at: at,
            updated_at: at,
            closed_at: None,
            close_reason: None,
            context: PageContext::default(),
            tags: vec![],
            priority: Priority::Normal,
            channel: channel.into(),
        })
        .await
        .unwrap();
    id
}

fn message(conv: Uuid, role: SenderRole, sender: Uuid, body: Body, at: i64) -> NewMessage {
    NewMessage {
        conversation_id: conv,
        client_msg_id: Uuid::now_v7().to_string(),
        sender_role: role,
        sender_id: sender,
        sender_name: "someone".into(),
        body,
        created_at: at,
    }
}

fn said(text: &str) -> Body {
    Body::Text { text: text.into() }
}

/// An agent's public reply.
fn reply(conv: Uuid, agent: Uuid, at: i64) -> NewMessage {
    message(conv, SenderRole::Agent, agent, said("Hello"), at)
}

fn rating(score: i64, at: i64) -> Rating {
    Rating {
        score,
        comment: String::new(),
        created_at: at,
    }
}

/// Writes the day (times are hours and minutes after 2026-03-02T00:00Z).
async fn script<S: Store + Raw>(store: &S) -> Day {
    let at = |h: i64, m: i64| T0 + h * HOUR + m * MIN;
    for name in ["pre-sales", "after-sales"] {
        let group = Group {
            name: name.into(),
            display_name: name.into(),
            members: vec![],
        };
        store.create_group(&group).await.unwrap();
    }
    let mut agents = vec![];
    for (name, shown) in [("ann", "Ann"), ("bob", "Bob")] {
        let new = NewAgent {
            username: name.into(),
            display_name: shown.into(),
            password_hash: "x".into(),
            role: Role::Agent,
            capacity: 5,
            groups: vec!["pre-sales".into(), "after-sales".into()],
        };
        agents.push(store.create_agent(&new).await.unwrap().id);
    }
    let (ann, bob) = (agents[0], agents[1]);
    let shopper = Uuid::now_v7();

    // c0, the evening before: answered, closed, rated 1; outside the range. An agent
    // leaving puts it back in its own queue: no transfer.
    let c0 = open(store, "shop", "pre-sales", "web", at(-1, 0)).await;
    assert!(
        store
            .assign_if_unassigned(c0, ann, at(-1, 1))
            .await
            .unwrap()
    );
    store.requeue(c0, "pre-sales", at(-1, 2)).await.unwrap();
    assert!(
        store
            .assign_if_unassigned(c0, bob, at(-1, 3))
            .await
            .unwrap()
    );
    store
        .append_messages(&[reply(c0, bob, at(-1, 4))])
        .await
        .unwrap();
    store
        .close_conversation(c0, "CLOSE_REASON_AGENT", at(-1, 30))
        .await
        .unwrap();
    store
        .insert_rating(c0, &rating(1, at(-1, 31)))
        .await
        .unwrap();

    // c1 09:00, pre-sales, vip: Ann answers in 2 minutes, closes at 09:10, rated 5.
    let c1 = open(store, "shop", "pre-sales", "web", at(9, 0)).await;
    store.add_tags(c1, &["vip".into()]).await.unwrap();
    assert!(store.assign_if_unassigned(c1, ann, at(9, 1)).await.unwrap());
    // c2 09:30, pre-sales: a bot, a private note and Kefu's activity entry are no answer;
    // Ann answers at 09:34 (one batch with c1's shopper and Ann's second reply there).
    let c2 = open(store, "shop", "pre-sales", "web", at(9, 30)).await;
    store
        .append_messages(&[
            reply(c1, ann, at(9, 2)),
            message(c1, SenderRole::Shopper, shopper, said("Thanks"), at(9, 3)),
            message(
                c2,
                SenderRole::Bot,
                Uuid::now_v7(),
                said("Hi, a bot"),
                at(9, 30),
            ),
        ])
        .await
        .unwrap();
    assert!(
        store
            .assign_if_unassigned(c2, ann, at(9, 31))
            .await
            .unwrap()
    );
    let mut activity = NewMessage::system(c2, "assigned", "Ann joined".into());
    activity.created_at = at(9, 31);
    let note = Body::PrivateNote {
        text: "VIP, be nice".into(),
    };
    store
        .append_messages(&[
            activity,
            message(c2, SenderRole::Agent, ann, note, at(9, 32)),
            reply(c1, ann, at(9, 5)),
        ])
        .await
        .unwrap();
    store
        .append_messages(&[reply(c2, ann, at(9, 34))])
        .await
        .unwrap();
    store
        .close_conversation(c1, "CLOSE_REASON_AGENT", at(9, 10))
        .await
        .unwrap();
    store
        .insert_rating(c1, &rating(5, at(9, 11)))
        .await
        .unwrap();
    // Ann transfers c2 to Bob at 09:40; he replies at 09:41; closed at 10:00, after its
    // resolution target fell due; rated 3.
    assert!(store.reassign(c2, ann, bob, at(9, 40)).await.unwrap());
    store
        .append_messages(&[reply(c2, bob, at(9, 41))])
        .await
        .unwrap();
    let breach = async |conv, target, due: i64| {
        assert!(store.record_breach(conv, target, due, due).await.unwrap());
    };
    breach(c2, Target::Resolution, at(9, 50)).await;
    store
        .close_conversation(c2, "CLOSE_REASON_AGENT", at(10, 0))
        .await
        .unwrap();
    store
        .insert_rating(c2, &rating(3, at(10, 1)))
        .await
        .unwrap();

    // c3 14:00, after-sales, opened by a bot over the API, invoice: Bob answers after 10
    // minutes, past the first-response target; closed at 15:00, not rated.
    let c3 = open(store, "shop", "after-sales", "api", at(14, 0)).await;
    store.add_tags(c3, &["invoice".into()]).await.unwrap();
    assert!(
        store
            .assign_if_unassigned(c3, bob, at(14, 5))
            .await
            .unwrap()
    );
    breach(c3, Target::FirstResponse, at(14, 5)).await;
    let again = store.record_breach(c3, Target::FirstResponse, at(14, 5), at(14, 6));
    assert!(!again.await.unwrap(), "a breach fires once");
    store
        .append_messages(&[reply(c3, bob, at(14, 10))])
        .await
        .unwrap();
    store
        .close_conversation(c3, "CLOSE_REASON_AGENT", at(15, 0))
        .await
        .unwrap();

    // c4 14:20 on the `outlet` shop, pre-sales, vip: Ann answers in a minute, transfers it
    // to after-sales at 14:30, Bob takes it at 14:35 and replies; still open.
    let c4 = open(store, "outlet", "pre-sales", "web", at(14, 20)).await;
    store.add_tags(c4, &["vip".into()]).await.unwrap();
    assert!(
        store
            .assign_if_unassigned(c4, ann, at(14, 21))
            .await
            .unwrap()
    );
    store
        .append_messages(&[reply(c4, ann, at(14, 21))])
        .await
        .unwrap();
    store.requeue(c4, "after-sales", at(14, 30)).await.unwrap();
    assert!(
        store
            .assign_if_unassigned(c4, bob, at(14, 35))
            .await
            .unwrap()
    );
    store
        .append_messages(&[reply(c4, bob, at(14, 36))])
        .await
        .unwrap();

    // c5 23:30, after-sales: nobody answers; its first-response target is breached while it
    // waits. Moved within the queues it keeps its wait.
    let c5 = open(store, "shop", "after-sales", "web", at(23, 30)).await;
    store.requeue(c5, "after-sales", at(23, 40)).await.unwrap();
    breach(c5, Target::FirstResponse, at(23, 45)).await;
    let _c6 = open(store, "shop", "after-sales", "web", at(24, 0)).await; // the next day

    Day {
        ann,
        bob,
        c: [c0, c1, c2, c3, c4, c5],
    }
}

fn query(tz_offset_minutes: i32, tweak: impl FnOnce(&mut Params)) -> ReportQuery {
    let mut p = Params {
        from: T0,
        to: T0 + 24 * HOUR,
        tz_offset_minutes: Some(tz_offset_minutes),
        ..Default::default()
    };
    tweak(&mut p);
    ReportQuery::parse(p).unwrap()
}

fn heat(cells: &[(usize, usize, u64)]) -> Vec<Vec<u64>> {
    let mut hours = vec![vec![0; 24]; 7];
    for &(day, hour, n) in cells {
        hours[day][hour] = n;
    }
    hours
}

async fn scripted_day<S: Store + Raw>(store: Arc<S>) {
    let day = script(store.as_ref()).await;
    let [c0, _, c2, _, c4, c5] = day.c;
    let at = |h: i64, m: i64| T0 + h * HOUR + m * MIN;

    // The columns, as the events left them.
    let columns = |channel: &str, fr, last, transfers, queued, assigned| Columns {
        channel: channel.into(),
        first_response_at: fr,
        last_agent_reply_at: last,
        transfers,
        queued_at: queued,
        assigned_at: assigned,
    };
    let expected = HashMap::from([
        (
            c0,
            columns(
                "web",
                Some(at(-1, 4)),
                Some(at(-1, 4)),
                0,
                Some(at(-1, 2)),
                Some(at(-1, 3)),
            ),
        ),
        (
            c2,
            columns(
                "web",
                Some(at(9, 34)),
                Some(at(9, 41)),
                1,
                Some(at(9, 30)),
                Some(at(9, 40)),
            ),
        ),
        (
            c4,
            columns(
                "web",
                Some(at(14, 21)),
                Some(at(14, 36)),
                1,
                Some(at(14, 30)),
                Some(at(14, 35)),
            ),
        ),
        (c5, columns("web", None, None, 0, Some(at(23, 30)), None)),
    ]);
    for (conv, want) in &expected {
        assert_eq!(&store.columns(*conv).await, want, "{conv}");
    }
    assert_eq!(store.columns(day.c[3]).await.channel, "api");
    store
        .reopen_conversation(c0, "pre-sales", at(0, 5))
        .await
        .unwrap();
    assert_eq!(
        store.columns(c0).await.queued_at,
        Some(at(0, 5)),
        "reopened"
    );

    let reporter = Reporter::new(store.clone());
    let s = reporter.summary(&query(0, |_| {})).await.unwrap();
    let want = Summary {
        from: T0,
        to: T0 + 24 * HOUR,
        opened: 5,
        closed: 3,
        transfers: 2,
        first_response_ms: Durations {
            count: 4,
            p50: Some(2 * MIN),
            p90: Some(10 * MIN),
        },
        resolution_ms: Durations {
            count: 3,
            p50: Some(30 * MIN),
            p90: Some(60 * MIN),
        },
        service_level: ServiceLevel {
            first_response: Attainment {
                met: 3,
                breached: 2,
                attainment: Some(0.6),
            },
            resolution: Attainment {
                met: 2,
                breached: 1,
                attainment: Some(2.0 / 3.0),
            },
        },
        csat: Csat {
            responses: 2,
            average: Some(4.0),
            response_rate: Some(2.0 / 3.0),
            distribution: vec![0, 0, 1, 0, 1],
        },
        busiest_hours: heat(&[(0, 9, 2), (0, 14, 2), (0, 23, 1)]),
        daily: vec![super::Day {
            day: "2026-03-02".into(),
            opened: 5,
            closed: 3,
        }],
        by_agent: vec![
            AgentRow {
                agent_id: day.ann,
                display_name: "Ann".into(),
                closed: 1,
                first_response_p50: Some(2 * MIN),
                resolution_p50: Some(10 * MIN),
                transfers: 0,
                csat_average: Some(5.0),
            },
            AgentRow {
                agent_id: day.bob,
                display_name: "Bob".into(),
                closed: 2,
                first_response_p50: Some(4 * MIN),
                resolution_p50: Some(30 * MIN),
                transfers: 2,
                csat_average: Some(3.0),
            },
        ],
        by_group: vec![
            GroupRow {
                group: "after-sales".into(),
                opened: 3,
                closed: 1,
                first_response_p50: Some(MIN),
                resolution_p50: Some(60 * MIN),
                attainment: Some(1.0 / 3.0),
            },
            GroupRow {
                group: "pre-sales".into(),
                opened: 2,
                closed: 2,
                first_response_p50: Some(2 * MIN),
                resolution_p50: Some(10 * MIN),
                attainment: Some(1.0),
            },
        ],
    };
    assert_eq!(s, want);

    // Seen from Shanghai (UTC+8) the same range spans two local days.
    let east = reporter.summary(&query(480, |_| {})).await.unwrap();
    assert_eq!(
        east.busiest_hours,
        heat(&[(0, 17, 2), (0, 22, 2), (1, 7, 1)])
    );
    let days: Vec<_> = east
        .daily
        .iter()
        .map(|d| (d.day.as_str(), d.opened, d.closed))
        .collect();
    assert_eq!(days, [("2026-03-02", 4, 3), ("2026-03-03", 1, 0)]);
    assert_eq!((east.opened, east.csat.clone()), (s.opened, s.csat.clone()));

    // Each filter narrows the same facts.
    let opened = async |tweak: fn(&mut Params)| {
        let r = reporter.summary(&query(0, tweak)).await.unwrap();
        (r.opened, r.closed, r.transfers)
    };
    assert_eq!(
        opened(|p| p.group = Some("pre-sales".into())).await,
        (2, 2, 1)
    );
    assert_eq!(opened(|p| p.tag = Some("vip".into())).await, (2, 1, 1));
    assert_eq!(opened(|p| p.tag = Some("invoice".into())).await, (1, 1, 0));
    assert_eq!(opened(|p| p.channel = Some("api".into())).await, (1, 1, 0));
    assert_eq!(opened(|p| p.channel = Some("web".into())).await, (4, 2, 2));
    assert_eq!(opened(|p| p.site = Some("outlet".into())).await, (1, 0, 1));
    assert_eq!(opened(|p| p.site = Some("nowhere".into())).await, (0, 0, 0));
    let bob = day.bob.to_string();
    let by_bob = reporter
        .summary(&query(0, |p| p.agent = Some(bob)))
        .await
        .unwrap();
    assert_eq!((by_bob.opened, by_bob.closed, by_bob.transfers), (3, 2, 2));
    assert_eq!(by_bob.by_agent.len(), 1);
    assert_eq!(by_bob.first_response_ms.p50, Some(4 * MIN));

    // An empty range: zeros and nulls, every day listed.
    let quiet = reporter
        .summary(&query(0, |p| {
            p.from = T0 + 30 * 24 * HOUR;
            p.to = T0 + 33 * 24 * HOUR;
        }))
        .await
        .unwrap();
    assert_eq!(quiet.opened, 0);
    assert_eq!(quiet.first_response_ms.p50, None);
    assert_eq!(quiet.service_level.first_response.attainment, None);
    assert_eq!((quiet.csat.average, quiet.csat.response_rate), (None, None));
    assert_eq!(quiet.daily.len(), 3);
    assert!(quiet.by_agent.is_empty() && quiet.by_group.is_empty());
}
