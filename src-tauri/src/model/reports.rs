//! Reports over a date range (`GET /api/v1/reports/summary`, and one CSV per table), for
//! supervisors and admins. The shapes are the server's JSON, field for field: the window
//! shows the server's numbers and computes none of its own.

use serde::{Deserialize, Serialize};
use specta::Type;

/// Which conversations a report counts: those OPENED in `[from, to)`, narrowed by the
/// optional filters.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, Type)]
pub struct ReportFilter {
    /// Unix ms, inclusive.
    pub from: i64,
    /// Unix ms, exclusive; after `from`, at most 400 days later.
    pub to: i64,
    /// A shop (site id).
    pub site: Option<String>,
    pub group: Option<String>,
    /// An agent's id.
    pub agent: Option<String>,
    pub tag: Option<String>,
    /// `web` (widget, chat page) or `api` (bots).
    pub channel: Option<String>,
    /// The viewer's offset from UTC in minutes (e.g. 480 for China), for days and hours.
    pub tz_offset_minutes: Option<i32>,
}

impl ReportFilter {
    /// The filter as query parameters; empty filters are left out.
    pub fn query(&self) -> Vec<(&'static str, String)> {
        let mut q = vec![("from", self.from.to_string()), ("to", self.to.to_string())];
        let optional = [
            ("site", &self.site),
            ("group", &self.group),
            ("agent", &self.agent),
            ("tag", &self.tag),
            ("channel", &self.channel),
        ];
        for (name, value) in optional {
            if let Some(v) = value.as_deref().map(str::trim).filter(|v| !v.is_empty()) {
                q.push((name, v.to_string()));
            }
        }
        if let Some(tz) = self.tz_offset_minutes {
            q.push(("tz_offset_minutes", tz.to_string()));
        }
        q
    }
}

/// Percentiles of a duration, ms; `None` when nothing was measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Type)]
pub struct Percentiles {
    pub count: u64,
    pub p50: Option<i64>,
    pub p90: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Type)]
pub struct Attainment {
    pub met: u64,
    pub breached: u64,
    /// met / (met + breached); `None` when both are 0.
    pub attainment: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Type)]
pub struct ServiceLevel {
    pub first_response: Attainment,
    pub resolution: Attainment,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Type)]
pub struct Csat {
    pub responses: u64,
    pub average: Option<f64>,
    /// Rated / closed; `None` when nothing closed.
    pub response_rate: Option<f64>,
    /// How many rated 1, 2, 3, 4 and 5.
    pub distribution: Vec<u64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Type)]
pub struct DailyCount {
    /// `YYYY-MM-DD` in the filter's time zone.
    pub day: String,
    pub opened: u64,
    pub closed: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Type)]
pub struct AgentReport {
    pub agent_id: String,
    pub display_name: String,
    pub closed: u64,
    pub first_response_p50: Option<i64>,
    pub resolution_p50: Option<i64>,
    pub transfers: u64,
    pub csat_average: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Type)]
pub struct GroupReport {
    pub group: String,
    pub opened: u64,
    pub closed: u64,
    pub first_response_p50: Option<i64>,
    pub resolution_p50: Option<i64>,
    pub attainment: Option<f64>,
}

/// The whole summary for a filter.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Type)]
pub struct ReportSummary {
    pub from: i64,
    pub to: i64,
    pub opened: u64,
    pub closed: u64,
    pub transfers: u64,
    pub first_response_ms: Percentiles,
    pub resolution_ms: Percentiles,
    pub service_level: ServiceLevel,
    pub csat: Csat,
    /// Conversations opened per weekday (7 rows, Monday first) and hour (24 columns).
    pub busiest_hours: Vec<Vec<u64>>,
    pub daily: Vec<DailyCount>,
    pub by_agent: Vec<AgentReport>,
    pub by_group: Vec<GroupReport>,
}

/// A table a report can be exported as (`GET /api/v1/reports/{table}.csv`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(rename_all = "snake_case")]
pub enum ReportTable {
    Summary,
    Agents,
    Groups,
    Hours,
    Daily,
    Csat,
}

impl ReportTable {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Summary => "summary",
            Self::Agents => "agents",
            Self::Groups => "groups",
            Self::Hours => "hours",
            Self::Daily => "daily",
            Self::Csat => "csat",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_contracts_summary_reads_and_empty_filters_stay_out_of_the_query() {
        let json = serde_json::json!({
            "from": 0, "to": 10, "opened": 4, "closed": 3, "transfers": 1,
            "first_response_ms": {"count": 3, "p50": 2000, "p90": null},
            "resolution_ms": {"count": 0, "p50": null, "p90": null},
            "service_level": {"first_response": {"met": 2, "breached": 1, "attainment": 0.6667},
                              "resolution": {"met": 0, "breached": 0, "attainment": null}},
            "csat": {"responses": 1, "average": 5.0, "response_rate": 0.3333, "distribution": [0,0,0,0,1]},
            "busiest_hours": vec![vec![0; 24]; 7],
            "daily": [{"day": "2026-12-01", "opened": 4, "closed": 3}],
            "by_agent": [{"agent_id": "a", "display_name": "Ann", "closed": 3, "first_response_p50": 2000,
                          "resolution_p50": null, "transfers": 1, "csat_average": 5.0}],
            "by_group": [{"group": "g", "opened": 4, "closed": 3, "first_response_p50": 2000,
                          "resolution_p50": null, "attainment": null}],
        });
        let summary: ReportSummary = serde_json::from_value(json).unwrap();
        assert_eq!(
            summary.service_level.first_response.attainment,
            Some(0.6667)
        );
        let filter = ReportFilter {
            from: 1,
            to: 2,
            group: Some(" ".into()),
            tag: Some("vip".into()),
            tz_offset_minutes: Some(480),
            ..Default::default()
        };
        assert_eq!(
            filter.query(),
            [
                ("from", "1".to_string()),
                ("to", "2".into()),
                ("tag", "vip".into()),
                ("tz_offset_minutes", "480".into())
            ],
            "a blank group is no filter"
        );
    }
}
