//! The report itself: every number of `GET /reports/summary`, worked out from the facts of
//! the conversations opened in the range (see `crate::store::Reports`).

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::{
    ReportQuery,
    calendar::{date, local},
    stats::{mean, percentile, ratio},
};
use crate::store::ConversationFacts;

/// How the team did over a range: conversations opened in `[from, to)` and what became of
/// them.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[schema(as = ReportSummary)]
pub struct Summary {
    /// The range asked for, unix ms (`to` excluded).
    pub from: i64,
    pub to: i64,
    /// Conversations opened in the range.
    pub opened: u64,
    /// Of those, how many are closed now.
    pub closed: u64,
    /// Transfers of those conversations (to another agent, or to another group's queue).
    pub transfers: u64,
    /// From opening to the first public message of a human agent.
    pub first_response_ms: Durations,
    /// From opening to closing, of the closed ones.
    pub resolution_ms: Durations,
    pub service_level: ServiceLevel,
    pub csat: Csat,
    /// Conversations opened per weekday (7 rows, Monday first) and hour (24 columns), in
    /// the asked time zone offset.
    pub busiest_hours: Vec<Vec<u64>>,
    /// Every day of the range in the asked offset, oldest first.
    pub daily: Vec<Day>,
    /// One row per agent who has or had one of the conversations (its last agent).
    pub by_agent: Vec<AgentRow>,
    /// One row per group the conversations are in now.
    pub by_group: Vec<GroupRow>,
}

/// Percentiles of durations in milliseconds (nearest rank; null without data).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[schema(as = ReportDurations)]
pub struct Durations {
    pub count: u64,
    pub p50: Option<i64>,
    pub p90: Option<i64>,
}

/// Service-level attainment per target.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[schema(as = ReportServiceLevel)]
pub struct ServiceLevel {
    pub first_response: Attainment,
    pub resolution: Attainment,
}

/// Met: answered (resp. closed) without a breach of the target; breached: a breach was
/// recorded (answered or not).
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[schema(as = ReportAttainment)]
pub struct Attainment {
    pub met: u64,
    pub breached: u64,
    /// `met / (met + breached)`; null when both are 0.
    pub attainment: Option<f64>,
}

/// The shoppers' satisfaction ratings of the conversations.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[schema(as = ReportCsat)]
pub struct Csat {
    /// Conversations rated.
    pub responses: u64,
    /// Mean score, 1 to 5.
    pub average: Option<f64>,
    /// Rated / closed.
    pub response_rate: Option<f64>,
    /// How many rated 1, 2, 3, 4 and 5.
    pub distribution: Vec<u64>,
}

/// One day of the range.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[schema(as = ReportDay)]
pub struct Day {
    /// `YYYY-MM-DD` in the asked offset.
    pub day: String,
    /// Conversations opened that day.
    pub opened: u64,
    /// Of those, how many are closed now.
    pub closed: u64,
}

/// One agent's conversations.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[schema(as = ReportAgentRow)]
pub struct AgentRow {
    pub agent_id: Uuid,
    /// Empty if the account is gone.
    pub display_name: String,
    pub closed: u64,
    pub first_response_p50: Option<i64>,
    pub resolution_p50: Option<i64>,
    pub transfers: u64,
    pub csat_average: Option<f64>,
}

/// One group's conversations.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[schema(as = ReportGroupRow)]
pub struct GroupRow {
    pub group: String,
    pub opened: u64,
    pub closed: u64,
    pub first_response_p50: Option<i64>,
    pub resolution_p50: Option<i64>,
    /// First-response attainment.
    pub attainment: Option<f64>,
}

/// What is gathered per conversation set (all, one agent, one group) before percentiles.
#[derive(Default)]
struct Tally {
    opened: u64,
    closed: u64,
    transfers: u64,
    first_response: Vec<i64>,
    resolution: Vec<i64>,
    scores: Vec<i64>,
    first_response_met: u64,
    first_response_breached: u64,
    resolution_met: u64,
    resolution_breached: u64,
}

impl Tally {
    fn add(&mut self, f: &ConversationFacts) {
        self.opened += 1;
        self.transfers += f.transfers.max(0) as u64;
        if let Some(at) = f.first_response_at {
            self.first_response.push((at - f.created_at).max(0));
        }
        if let Some(at) = f.closed_at {
            self.closed += 1;
            self.resolution.push((at - f.created_at).max(0));
        }
        if let Some(score) = f.score {
            self.scores.push(score);
        }
        if f.first_response_breached {
            self.first_response_breached += 1;
        } else if f.first_response_at.is_some() {
            self.first_response_met += 1;
        }
        if f.resolution_breached {
            self.resolution_breached += 1;
        } else if f.closed_at.is_some() {
            self.resolution_met += 1;
        }
    }

    /// Sorts the durations, for percentiles.
    fn sorted(mut self) -> Self {
        self.first_response.sort_unstable();
        self.resolution.sort_unstable();
        self
    }

    fn durations(sorted: &[i64]) -> Durations {
        Durations {
            count: sorted.len() as u64,
            p50: percentile(sorted, 50),
            p90: percentile(sorted, 90),
        }
    }

    fn first_response_attainment(&self) -> Attainment {
        attainment(self.first_response_met, self.first_response_breached)
    }
}

fn attainment(met: u64, breached: u64) -> Attainment {
    Attainment {
        met,
        breached,
        attainment: ratio(met, met + breached),
    }
}

/// The report of `q` over `facts` (the conversations its filter selected); `names` gives
/// agents' display names.
pub fn summarize(
    q: &ReportQuery,
    facts: &[ConversationFacts],
    names: &HashMap<Uuid, String>,
) -> Summary {
    let tz = q.tz_offset_minutes;
    let first_day = local(q.filter.from, tz).day;
    let last_day = local(q.filter.to - 1, tz).day;
    let mut daily: Vec<Day> = (first_day..=last_day)
        .map(|d| Day {
            day: date(d),
            opened: 0,
            closed: 0,
        })
        .collect();
    let mut hours = vec![vec![0u64; 24]; 7];
    let mut all = Tally::default();
    let mut agents: HashMap<Uuid, Tally> = HashMap::new();
    let mut groups: BTreeMap<&str, Tally> = BTreeMap::new();
    for f in facts {
        all.add(f);
        if let Some(agent) = f.agent_id {
            agents.entry(agent).or_default().add(f);
        }
        groups.entry(&f.group).or_default().add(f);
        let at = local(f.created_at, tz);
        hours[at.weekday][at.hour] += 1;
        // The store returns only conversations opened in the range; a day outside it
        // would be a bug there, and is skipped rather than panicking here.
        if let Some(day) = usize::try_from(at.day - first_day)
            .ok()
            .and_then(|i| daily.get_mut(i))
        {
            day.opened += 1;
            day.closed += u64::from(f.closed_at.is_some());
        }
    }
    let all = all.sorted();
    let mut distribution = vec![0u64; 5];
    for &s in &all.scores {
        if let Some(n) = usize::try_from(s - 1)
            .ok()
            .and_then(|i| distribution.get_mut(i))
        {
            *n += 1;
        }
    }
    let mut by_agent: Vec<AgentRow> = agents
        .into_iter()
        .map(|(agent_id, t)| {
            let t = t.sorted();
            AgentRow {
                agent_id,
                display_name: names.get(&agent_id).cloned().unwrap_or_default(),
                closed: t.closed,
                first_response_p50: percentile(&t.first_response, 50),
                resolution_p50: percentile(&t.resolution, 50),
                transfers: t.transfers,
                csat_average: mean(&t.scores),
            }
        })
        .collect();
    by_agent.sort_by(|a, b| (&a.display_name, a.agent_id).cmp(&(&b.display_name, b.agent_id)));
    let by_group = groups
        .into_iter()
        .map(|(group, t)| {
            let t = t.sorted();
            GroupRow {
                group: group.to_string(),
                opened: t.opened,
                closed: t.closed,
                first_response_p50: percentile(&t.first_response, 50),
                resolution_p50: percentile(&t.resolution, 50),
                attainment: t.first_response_attainment().attainment,
            }
        })
        .collect();
    Summary {
        from: q.filter.from,
        to: q.filter.to,
        opened: all.opened,
        closed: all.closed,
        transfers: all.transfers,
        first_response_ms: Tally::durations(&all.first_response),
        resolution_ms: Tally::durations(&all.resolution),
        service_level: ServiceLevel {
            first_response: all.first_response_attainment(),
            resolution: attainment(all.resolution_met, all.resolution_breached),
        },
        csat: Csat {
            responses: all.scores.len() as u64,
            average: mean(&all.scores),
            response_rate: ratio(all.scores.len() as u64, all.closed),
            distribution,
        },
        busiest_hours: hours,
        daily,
        by_agent,
        by_group,
    }
}
