//! How long a report over a year of a busy shop takes: generates 100,000 conversations
//! with 1,000,000 messages (and their ratings and breaches) into a fresh SQLite file, and a
//! fresh PostgreSQL database when a server URL is given, then times the report a `GET
//! /reports/summary` computes (the store's facts, agent names, the maths) over the year,
//! several runs.
//!
//! ```sh
//! cargo run --release --example report_bench
//! cargo run --release --example report_bench -- --postgres postgres://postgres@127.0.0.1:5432/postgres
//! ```
//!
//! Options: `--conversations N` (100000), `--messages N` per conversation (10), `--runs N`
//! (7), `--keep` (keep the databases, to look at them). The rows are bulk-inserted in a few transactions, not through the server: the
//! point is the read. `docs/reports.md` has the figures.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use kefu_server::{
    reports::{Params, ReportQuery, Reporter},
    store::{NewAgent, Role, Store, postgres::PgStore, sqlite::SqliteStore},
};
use kefu_testkit::TestDatabase;
use uuid::Uuid;

const DAY: i64 = 86_400_000;
/// 2025-01-01T00:00Z: the generated year.
const START: i64 = 20_089 * DAY;
const AGENTS: usize = 50;
const GROUPS: [&str; 4] = ["pre-sales", "after-sales", "billing", "vip"];
const SITES: [&str; 3] = ["shop", "outlet", "global"];

struct Options {
    conversations: usize,
    messages: usize,
    runs: usize,
    postgres: Option<String>,
    /// Keep the databases (to look at them with `sqlite3` and `psql`).
    keep: bool,
}

fn options() -> Options {
    let mut o = Options {
        conversations: 100_000,
        messages: 10,
        runs: 7,
        postgres: None,
        keep: false,
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || {
            args.next()
                .unwrap_or_else(|| panic!("{flag} needs a value"))
        };
        let number = |v: String| v.parse().unwrap_or_else(|_| panic!("{v} is no number"));
        match flag.as_str() {
            "--conversations" => o.conversations = number(value()),
            "--messages" => o.messages = number(value()),
            "--runs" => o.runs = number(value()),
            "--postgres" => o.postgres = Some(value()),
            "--keep" => o.keep = true,
            other => panic!("unknown option {other}"),
        }
    }
    o
}

/// SplitMix64: the same data on every run and backend, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

/// One generated conversation and what hangs off it.
struct Conv {
    id: Uuid,
    visitor: Uuid,
    site: &'static str,
    group: &'static str,
    channel: &'static str,
    tags: &'static str,
    state: &'static str,
    agent: Option<Uuid>,
    created_at: i64,
    first_response_at: Option<i64>,
    last_agent_reply_at: Option<i64>,
    closed_at: Option<i64>,
    transfers: i64,
    assigned_at: Option<i64>,
    score: Option<i64>,
    breaches: Vec<(&'static str, i64)>,
}

fn conversation(rng: &mut Rng, agents: &[Uuid]) -> Conv {
    // Busier in the day (08:00–22:00) than at night.
    let day = rng.below(365) as i64;
    let hour = if rng.chance(85) {
        8 + rng.below(14)
    } else {
        rng.below(24)
    } as i64;
    let created_at = START + day * DAY + hour * 3_600_000 + rng.below(3_600_000) as i64;
    let agent = rng
        .chance(97)
        .then(|| agents[rng.below(agents.len() as u64) as usize]);
    let assigned_at = agent.map(|_| created_at + 1_000 + rng.below(60_000) as i64);
    let first_response_at = assigned_at
        .filter(|_| rng.chance(95))
        .map(|a| a + 5_000 + rng.below(600_000) as i64);
    let closed_at = first_response_at
        .filter(|_| rng.chance(92))
        .map(|f| f + 60_000 + rng.below(7_200_000) as i64);
    let score = closed_at.filter(|_| rng.chance(35)).map(|_| {
        // Mostly content shoppers.
        [1, 2, 3, 4, 4, 5, 5, 5, 5, 5][rng.below(10) as usize]
    });
    let mut breaches = vec![];
    if rng.chance(7) {
        breaches.push(("first_response", created_at + 120_000));
    }
    if closed_at.is_some() && rng.chance(5) {
        breaches.push(("resolution", created_at + 3_600_000));
    }
    Conv {
        id: Uuid::now_v7(),
        visitor: Uuid::now_v7(),
        site: SITES[rng.below(3) as usize],
        group: GROUPS[rng.below(4) as usize],
        channel: if rng.chance(10) { "api" } else { "web" },
        tags: if rng.chance(20) { "[\"vip\"]" } else { "[]" },
        state: match (closed_at, agent) {
            (Some(_), _) => "closed",
            (None, Some(_)) => "assigned",
            (None, None) => "queued",
        },
        agent,
        created_at,
        first_response_at,
        last_agent_reply_at: first_response_at.map(|f| f + 30_000),
        closed_at,
        transfers: i64::from(rng.chance(8)),
        assigned_at,
        score,
        breaches,
    }
}

/// The `i`th message of `c`: shopper and agent take turns, 30 s apart.
fn message(c: &Conv, i: usize) -> (Uuid, Uuid, &'static str, i64, String) {
    let (sender, role) = match (i % 2, c.agent) {
        (1, Some(agent)) => (agent, "agent"),
        _ => (c.visitor, "shopper"),
    };
    let body = format!(r#"{{"type":"text","text":"Message {i} about my order"}}"#);
    (
        sender,
        Uuid::now_v7(),
        role,
        c.created_at + i as i64 * 30_000,
        body,
    )
}

async fn create_agents(store: &dyn Store) -> Vec<Uuid> {
    let mut ids = vec![];
    for i in 0..AGENTS {
        let agent = NewAgent {
            username: format!("agent{i}"),
            display_name: format!("Agent {i}"),
            password_hash: "x".into(),
            role: Role::Agent,
            capacity: 5,
            groups: vec![],
        };
        ids.push(store.create_agent(&agent).await.unwrap().id);
    }
    ids
}

fn generate(o: &Options, agents: &[Uuid]) -> Vec<Conv> {
    let mut rng = Rng(24);
    (0..o.conversations)
        .map(|_| conversation(&mut rng, agents))
        .collect()
}

fn fill_sqlite(path: &str, convs: &[Conv], messages: usize) -> rusqlite::Result<()> {
    let mut conn = rusqlite::Connection::open(path)?;
    // A throwaway file: no journal, no fsync, a page cache that holds the indexes.
    conn.pragma_update(None, "journal_mode", "off")?;
    conn.pragma_update(None, "synchronous", "off")?;
    conn.pragma_update(None, "cache_size", -262_144)?;
    let tx = conn.transaction()?;
    {
        let mut visitor = tx.prepare(
            "insert into visitor (id, site_id, token_hash, display_name, created_at, expires_at) \
             values (?1, ?2, ?3, 'Shopper', ?4, ?5)",
        )?;
        let mut conv = tx.prepare(
            "insert into conversation (id, site_id, visitor_id, group_name, state, agent_id, \
             last_seq, created_at, updated_at, closed_at, tags, channel, first_response_at, \
             last_agent_reply_at, transfers, queued_at, assigned_at) \
             values (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?8, ?15)",
        )?;
        let mut message = tx.prepare(
            "insert into message (id, conversation_id, seq, client_msg_id, sender_role, \
             sender_id, sender_name, private, body, created_at) \
             values (?1, ?2, ?3, ?4, ?5, ?6, 'someone', 0, ?7, ?8)",
        )?;
        let mut rating = tx.prepare(
            "insert into rating (conversation_id, score, comment, created_at) values (?1, ?2, '', ?3)",
        )?;
        let mut breach = tx.prepare(
            "insert into sla_breach (conversation_id, target, due_at, at) values (?1, ?2, ?3, ?3)",
        )?;
        for c in convs {
            visitor.execute(rusqlite::params![
                c.visitor,
                c.site,
                c.visitor.to_string(),
                c.created_at,
                i64::MAX
            ])?;
            conv.execute(rusqlite::params![
                c.id,
                c.site,
                c.visitor,
                c.group,
                c.state,
                c.agent,
                messages as i64,
                c.created_at,
                c.closed_at,
                c.tags,
                c.channel,
                c.first_response_at,
                c.last_agent_reply_at,
                c.transfers,
                c.assigned_at,
            ])?;
            for i in 0..messages {
                let (sender, id, role, at, body) = self::message(c, i);
                let key = format!("{}-{i}", c.id);
                message.execute(rusqlite::params![
                    id,
                    c.id,
                    i as i64 + 1,
                    key,
                    role,
                    sender,
                    body,
                    at
                ])?;
            }
            if let (Some(score), Some(at)) = (c.score, c.closed_at) {
                rating.execute(rusqlite::params![c.id, score, at])?;
            }
            for (target, at) in &c.breaches {
                breach.execute(rusqlite::params![c.id, target, at])?;
            }
        }
    }
    tx.commit()
}

async fn fill_postgres(url: &str, convs: &[Conv], messages: usize) -> sqlx::Result<()> {
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .connect(url)
        .await?;
    for chunk in convs.chunks(5_000) {
        let mut tx = pool.begin().await?;
        let col = |f: fn(&Conv) -> Uuid| chunk.iter().map(f).collect::<Vec<_>>();
        sqlx::query(
            "insert into visitor (id, site_id, token_hash, display_name, created_at, expires_at) \
             select id, site, id::text, 'Shopper', at, 9223372036854775807 \
             from unnest($1::uuid[], $2::text[], $3::bigint[]) as v(id, site, at)",
        )
        .bind(col(|c| c.visitor))
        .bind(chunk.iter().map(|c| c.site).collect::<Vec<_>>())
        .bind(chunk.iter().map(|c| c.created_at).collect::<Vec<_>>())
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "insert into conversation (id, site_id, visitor_id, group_name, state, agent_id, \
             last_seq, created_at, updated_at, closed_at, tags, channel, first_response_at, \
             last_agent_reply_at, transfers, queued_at, assigned_at) \
             select id, site, visitor, grp, state, agent, $15, created, created, closed, \
             tags::jsonb, channel, fr, lr, transfers, created, assigned \
             from unnest($1::uuid[], $2::text[], $3::uuid[], $4::text[], $5::text[], \
             $6::uuid[], $7::bigint[], $8::bigint[], $9::text[], $10::text[], $11::bigint[], \
             $12::bigint[], $13::bigint[], $14::bigint[]) \
             as c(id, site, visitor, grp, state, agent, created, closed, tags, channel, fr, lr, \
             transfers, assigned)",
        )
        .bind(col(|c| c.id))
        .bind(chunk.iter().map(|c| c.site).collect::<Vec<_>>())
        .bind(col(|c| c.visitor))
        .bind(chunk.iter().map(|c| c.group).collect::<Vec<_>>())
        .bind(chunk.iter().map(|c| c.state).collect::<Vec<_>>())
        .bind(chunk.iter().map(|c| c.agent).collect::<Vec<_>>())
        .bind(chunk.iter().map(|c| c.created_at).collect::<Vec<_>>())
        .bind(chunk.iter().map(|c| c.closed_at).collect::<Vec<_>>())
        .bind(chunk.iter().map(|c| c.tags).collect::<Vec<_>>())
        .bind(chunk.iter().map(|c| c.channel).collect::<Vec<_>>())
        .bind(
            chunk
                .iter()
                .map(|c| c.first_response_at)
                .collect::<Vec<_>>(),
        )
        .bind(
            chunk
                .iter()
                .map(|c| c.last_agent_reply_at)
                .collect::<Vec<_>>(),
        )
        .bind(chunk.iter().map(|c| c.transfers).collect::<Vec<_>>())
        .bind(chunk.iter().map(|c| c.assigned_at).collect::<Vec<_>>())
        .bind(messages as i64)
        .execute(&mut *tx)
        .await?;
        let (
            mut ids,
            mut convs_of,
            mut seqs,
            mut keys,
            mut roles,
            mut senders,
            mut bodies,
            mut ats,
        ) = (
            vec![],
            vec![],
            vec![],
            vec![],
            vec![],
            vec![],
            vec![],
            vec![],
        );
        for c in chunk {
            for i in 0..messages {
                let (sender, id, role, at, body) = message(c, i);
                ids.push(id);
                convs_of.push(c.id);
                seqs.push(i as i64 + 1);
                keys.push(format!("{}-{i}", c.id));
                roles.push(role);
                senders.push(sender);
                bodies.push(body);
                ats.push(at);
            }
        }
        sqlx::query(
            "insert into message (id, conversation_id, seq, client_msg_id, sender_role, \
             sender_id, sender_name, private, body, created_at) \
             select id, conv, seq, key, role, sender, 'someone', false, body::jsonb, at \
             from unnest($1::uuid[], $2::uuid[], $3::bigint[], $4::text[], $5::text[], \
             $6::uuid[], $7::text[], $8::bigint[]) \
             as m(id, conv, seq, key, role, sender, body, at)",
        )
        .bind(ids)
        .bind(convs_of)
        .bind(seqs)
        .bind(keys)
        .bind(roles)
        .bind(senders)
        .bind(bodies)
        .bind(ats)
        .execute(&mut *tx)
        .await?;
        let rated: Vec<&Conv> = chunk.iter().filter(|c| c.score.is_some()).collect();
        sqlx::query(
            "insert into rating (conversation_id, score, comment, created_at) \
             select id, score, '', at from unnest($1::uuid[], $2::bigint[], $3::bigint[]) \
             as r(id, score, at)",
        )
        .bind(rated.iter().map(|c| c.id).collect::<Vec<_>>())
        .bind(rated.iter().map(|c| c.score).collect::<Vec<_>>())
        .bind(rated.iter().map(|c| c.closed_at).collect::<Vec<_>>())
        .execute(&mut *tx)
        .await?;
        let breaches: Vec<(Uuid, &str, i64)> = chunk
            .iter()
            .flat_map(|c| c.breaches.iter().map(|(t, at)| (c.id, *t, *at)))
            .collect();
        sqlx::query(
            "insert into sla_breach (conversation_id, target, due_at, at) \
             select id, target, at, at from unnest($1::uuid[], $2::text[], $3::bigint[]) \
             as b(id, target, at)",
        )
        .bind(breaches.iter().map(|b| b.0).collect::<Vec<_>>())
        .bind(breaches.iter().map(|b| b.1).collect::<Vec<_>>())
        .bind(breaches.iter().map(|b| b.2).collect::<Vec<_>>())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
    }
    sqlx::query("analyze").execute(&pool).await?;
    pool.close().await;
    Ok(())
}

/// Times the year's report `runs` times; prints every run, p50 and max.
async fn time_reports(name: &str, store: Arc<dyn Store>, runs: usize) {
    let q = ReportQuery::parse(Params {
        from: START,
        to: START + 365 * DAY,
        tz_offset_minutes: Some(480),
        ..Default::default()
    })
    .unwrap();
    let reporter = Reporter::new(store.clone());
    let (mut totals, mut facts) = (vec![], vec![]);
    let mut opened = 0;
    for _ in 0..runs {
        let t = Instant::now();
        let rows = store.report_facts(&q.filter).await.unwrap();
        facts.push(t.elapsed());
        let t = Instant::now();
        let summary = reporter.summary(&q).await.unwrap();
        totals.push(t.elapsed());
        assert_eq!(summary.opened as usize, rows.len());
        opened = summary.opened;
    }
    let secs = |d: &Duration| format!("{:.3}", d.as_secs_f64());
    let runs_shown: Vec<String> = totals.iter().map(secs).collect();
    let (p50, max) = (median(&mut totals), totals.iter().max().copied().unwrap());
    println!(
        "{name}: report over 365 days ({opened} conversations): runs {} s; p50 {} s, max {} s \
         (store's facts alone: p50 {} s)",
        runs_shown.join(" "),
        secs(&p50),
        secs(&max),
        secs(&median(&mut facts)),
    );
}

fn median(d: &mut [Duration]) -> Duration {
    d.sort();
    d[(d.len() - 1) / 2]
}

#[tokio::main]
async fn main() {
    let o = options();
    let messages = o.conversations * o.messages;

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kefu.db");
    let url = format!("sqlite://{}", path.display());
    let store = SqliteStore::open(&url).await.unwrap();
    let agents = create_agents(&store).await;
    let convs = generate(&o, &agents);
    store.close().await;
    let t = Instant::now();
    fill_sqlite(path.to_str().unwrap(), &convs, o.messages).unwrap();
    println!(
        "sqlite: {} conversations, {messages} messages written in {:.1} s",
        o.conversations,
        t.elapsed().as_secs_f64()
    );
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&url).await.unwrap());
    time_reports("sqlite", store.clone(), o.runs).await;
    store.close().await;
    if o.keep {
        println!("sqlite: kept {}", dir.keep().join("kefu.db").display());
    }

    if let Some(server) = &o.postgres {
        let db = TestDatabase::create_on(server);
        let store = PgStore::open(&db.url, 4).await.unwrap();
        let agents = create_agents(&store).await;
        let convs = generate(&o, &agents);
        let t = Instant::now();
        fill_postgres(&db.url, &convs, o.messages).await.unwrap();
        println!(
            "postgres: {} conversations, {messages} messages written in {:.1} s",
            o.conversations,
            t.elapsed().as_secs_f64()
        );
        let store: Arc<dyn Store> = Arc::new(store);
        time_reports("postgres", store.clone(), o.runs).await;
        store.close().await;
        if o.keep {
            println!("postgres: kept {}", db.url);
            // Not dropped: dropping it drops the database.
            let _kept = std::mem::ManuallyDrop::new(db);
        }
    }
}
