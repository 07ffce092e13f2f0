//! The report's tables as CSV (RFC 4180: comma-separated, CRLF line ends, fields quoted
//! when they hold a comma, quote or line break): a header row, then one row per item.
//! Empty fields are "no data" (the JSON's nulls); durations are milliseconds.

use std::str::FromStr;

use super::Summary;

/// One table of the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Table {
    /// The headline numbers, one `metric,value` row each.
    Summary,
    Agents,
    Groups,
    /// The heat map: a row per weekday, a column per hour.
    Hours,
    Daily,
    /// How many rated each score.
    Csat,
}

impl Table {
    pub const ALL: [Self; 6] = [
        Self::Summary,
        Self::Agents,
        Self::Groups,
        Self::Hours,
        Self::Daily,
        Self::Csat,
    ];

    /// The name in `GET /reports/{name}.csv`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Summary => "summary",
            Self::Agents => "agents",
            Self::Groups => "groups",
            Self::Hours => "hours",
            Self::Daily => "daily",
            Self::Csat => "csat",
        }
    }

    /// The table of `s` as CSV bytes.
    pub fn csv(self, s: &Summary) -> Vec<u8> {
        let rows = match self {
            Self::Summary => summary_rows(s),
            Self::Agents => agent_rows(s),
            Self::Groups => group_rows(s),
            Self::Hours => hour_rows(s),
            Self::Daily => daily_rows(s),
            Self::Csat => csat_rows(s),
        };
        let mut out = csv::WriterBuilder::new()
            .terminator(csv::Terminator::CRLF)
            .from_writer(Vec::new());
        for row in rows {
            // Writing to memory cannot fail.
            out.write_record(&row).expect("CSV into a Vec");
        }
        out.into_inner().expect("CSV into a Vec")
    }
}

impl FromStr for Table {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|t| t.name() == s)
            .ok_or_else(|| {
                let names: Vec<String> = Self::ALL
                    .iter()
                    .map(|t| format!("{}.csv", t.name()))
                    .collect();
                format!("no report table `{s}`: ask for one of {}", names.join(", "))
            })
    }
}

type Rows = Vec<Vec<String>>;

fn header(names: &[&str]) -> Vec<String> {
    names.iter().map(|n| n.to_string()).collect()
}

/// A number, or an empty field for none.
fn opt<T: ToString>(v: Option<T>) -> String {
    v.map(|v| v.to_string()).unwrap_or_default()
}

fn summary_rows(s: &Summary) -> Rows {
    let (fr, res) = (&s.service_level.first_response, &s.service_level.resolution);
    let metrics: [(&str, String); 20] = [
        ("from", s.from.to_string()),
        ("to", s.to.to_string()),
        ("opened", s.opened.to_string()),
        ("closed", s.closed.to_string()),
        ("transfers", s.transfers.to_string()),
        (
            "first_response_count",
            s.first_response_ms.count.to_string(),
        ),
        ("first_response_p50_ms", opt(s.first_response_ms.p50)),
        ("first_response_p90_ms", opt(s.first_response_ms.p90)),
        ("resolution_count", s.resolution_ms.count.to_string()),
        ("resolution_p50_ms", opt(s.resolution_ms.p50)),
        ("resolution_p90_ms", opt(s.resolution_ms.p90)),
        ("first_response_met", fr.met.to_string()),
        ("first_response_breached", fr.breached.to_string()),
        ("first_response_attainment", opt(fr.attainment)),
        ("resolution_met", res.met.to_string()),
        ("resolution_breached", res.breached.to_string()),
        ("resolution_attainment", opt(res.attainment)),
        ("csat_responses", s.csat.responses.to_string()),
        ("csat_average", opt(s.csat.average)),
        ("csat_response_rate", opt(s.csat.response_rate)),
    ];
    let mut rows = vec![header(&["metric", "value"])];
    rows.extend(metrics.into_iter().map(|(m, v)| vec![m.to_string(), v]));
    rows
}

fn agent_rows(s: &Summary) -> Rows {
    let mut rows = vec![header(&[
        "agent_id",
        "display_name",
        "closed",
        "first_response_p50_ms",
        "resolution_p50_ms",
        "transfers",
        "csat_average",
    ])];
    rows.extend(s.by_agent.iter().map(|a| {
        vec![
            a.agent_id.to_string(),
            a.display_name.clone(),
            a.closed.to_string(),
            opt(a.first_response_p50),
            opt(a.resolution_p50),
            a.transfers.to_string(),
            opt(a.csat_average),
        ]
    }));
    rows
}

fn group_rows(s: &Summary) -> Rows {
    let mut rows = vec![header(&[
        "group",
        "opened",
        "closed",
        "first_response_p50_ms",
        "resolution_p50_ms",
        "attainment",
    ])];
    rows.extend(s.by_group.iter().map(|g| {
        vec![
            g.group.clone(),
            g.opened.to_string(),
            g.closed.to_string(),
            opt(g.first_response_p50),
            opt(g.resolution_p50),
            opt(g.attainment),
        ]
    }));
    rows
}

const WEEKDAYS: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];

fn hour_rows(s: &Summary) -> Rows {
    let mut head = vec!["weekday".to_string()];
    head.extend((0..24).map(|h| format!("{h:02}")));
    let mut rows = vec![head];
    rows.extend(WEEKDAYS.iter().zip(&s.busiest_hours).map(|(day, hours)| {
        let mut row = vec![day.to_string()];
        row.extend(hours.iter().map(|n| n.to_string()));
        row
    }));
    rows
}

fn daily_rows(s: &Summary) -> Rows {
    let mut rows = vec![header(&["day", "opened", "closed"])];
    rows.extend(
        s.daily
            .iter()
            .map(|d| vec![d.day.clone(), d.opened.to_string(), d.closed.to_string()]),
    );
    rows
}

fn csat_rows(s: &Summary) -> Rows {
    let mut rows = vec![header(&["score", "responses"])];
    rows.extend(
        s.csat
            .distribution
            .iter()
            .enumerate()
            .map(|(i, n)| vec![(i + 1).to_string(), n.to_string()]),
    );
    rows
}
