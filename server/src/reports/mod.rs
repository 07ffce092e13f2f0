//! Reports: how the team did over a date range (opened, closed, first response and
//! resolution times, service-level attainment, transfers, satisfaction, busiest hours), per
//! agent and group, filterable by shop, group, agent, tag and channel.
//!
//! The store keeps per-conversation facts as events happen (`store::Reports`: a range scan
//! of conversation rows, never of messages); the numbers are worked out here in plain Rust,
//! so SQLite and PostgreSQL give the same. `docs/reports.md` says what each number means.
//!
//! - [`ReportQuery`]: the checked query (range, filters, time-zone offset).
//! - `summary`: the report; `tables`: the same numbers as CSV tables.
//! - `calendar`, `stats`: days at an offset, percentiles.

mod calendar;
mod stats;
mod summary;
mod tables;
#[cfg(test)]
mod tests;

use std::{collections::HashMap, sync::Arc};

use uuid::Uuid;

pub use summary::{AgentRow, Attainment, Csat, Day, Durations, GroupRow, ServiceLevel, Summary};
pub use tables::Table;

use crate::store::{ReportFilter, Store, StoreResult};

/// The longest range a report covers.
pub const MAX_SPAN_DAYS: i64 = 400;
/// The latest time a range may name: 9999-12-31T23:59:59.999Z.
pub const MAX_TIME_MS: i64 = 253_402_300_799_999;
/// The time-zone offsets reports accept, in minutes east of UTC (UTC−12:00 to UTC+14:00).
pub const TZ_OFFSET_MINUTES: std::ops::RangeInclusive<i32> = -720..=840;
/// The channels a conversation can be opened through.
pub const CHANNELS: [&str; 2] = [crate::store::CHANNEL_WEB, crate::store::CHANNEL_API];
/// The longest text filter (site, group, tag).
pub const MAX_FILTER_CHARS: usize = 200;

/// A report's parameters as the caller gave them (`GET /reports/…` query).
#[derive(Debug, Clone, Default)]
pub struct Params {
    pub from: i64,
    pub to: i64,
    pub site: Option<String>,
    pub group: Option<String>,
    pub agent: Option<String>,
    pub tag: Option<String>,
    pub channel: Option<String>,
    pub tz_offset_minutes: Option<i32>,
}

/// A checked report query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportQuery {
    pub filter: ReportFilter,
    /// Minutes east of UTC for the heat map and the days.
    pub tz_offset_minutes: i32,
}

impl ReportQuery {
    /// Checks `p`; the error says what is wrong, for a 400. Empty filters are no filter.
    pub fn parse(p: Params) -> Result<Self, String> {
        if !(0..=MAX_TIME_MS).contains(&p.from) || !(0..=MAX_TIME_MS).contains(&p.to) {
            return Err(format!(
                "`from` and `to` are unix milliseconds from 0 to {MAX_TIME_MS}"
            ));
        }
        if p.from >= p.to {
            return Err("`from` must be before `to`".into());
        }
        if p.to - p.from > MAX_SPAN_DAYS * 86_400_000 {
            return Err(format!(
                "the range is at most {MAX_SPAN_DAYS} days: narrow `from`–`to`"
            ));
        }
        let tz_offset_minutes = p.tz_offset_minutes.unwrap_or(0);
        if !TZ_OFFSET_MINUTES.contains(&tz_offset_minutes) {
            return Err(format!(
                "`tz_offset_minutes` must be from {} to {}",
                TZ_OFFSET_MINUTES.start(),
                TZ_OFFSET_MINUTES.end()
            ));
        }
        let agent = match text("agent", p.agent)? {
            Some(a) => Some(
                Uuid::parse_str(&a).map_err(|_| format!("`agent` is no agent id (UUID): `{a}`"))?,
            ),
            None => None,
        };
        let channel = text("channel", p.channel)?;
        if let Some(c) = &channel
            && !CHANNELS.contains(&c.as_str())
        {
            return Err(format!("`channel` must be one of {}", CHANNELS.join(", ")));
        }
        Ok(Self {
            filter: ReportFilter {
                from: p.from,
                to: p.to,
                site: text("site", p.site)?,
                group: text("group", p.group)?,
                agent,
                tag: text("tag", p.tag)?,
                channel,
            },
            tz_offset_minutes,
        })
    }
}

/// A text filter: none when absent or empty; refused when too long or holding control
/// characters (no name has them, and PostgreSQL refuses NUL in text).
fn text(name: &str, value: Option<String>) -> Result<Option<String>, String> {
    let Some(v) = value.filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    if v.chars().count() > MAX_FILTER_CHARS {
        return Err(format!(
            "`{name}` is longer than {MAX_FILTER_CHARS} characters"
        ));
    }
    if v.chars().any(char::is_control) {
        return Err(format!("`{name}` holds control characters"));
    }
    Ok(Some(v))
}

/// Reports over the store.
#[derive(Clone)]
pub struct Reporter {
    store: Arc<dyn Store>,
}

impl Reporter {
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self { store }
    }

    /// The report of `q`.
    pub async fn summary(&self, q: &ReportQuery) -> StoreResult<Summary> {
        let facts = self.store.report_facts(&q.filter).await?;
        let names: HashMap<Uuid, String> = self
            .store
            .list_agents()
            .await?
            .into_iter()
            .map(|a| (a.id, a.display_name))
            .collect();
        Ok(summary::summarize(q, &facts, &names))
    }
}
