//! Reports for supervisors and admins: `GET /reports/summary` (JSON) and every table of it
//! as CSV (`GET /reports/{table}.csv`). The numbers come from `crate::reports`.

use axum::{
    extract::State,
    http::header,
    response::{IntoResponse, Response},
};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{
    AppState,
    auth::AgentAuth,
    error::{ApiError, ApiResult, ErrorBody},
    extract::{Json, Path, Query},
    openapi::{AgentErrors, ParamErrors},
};
use crate::{
    reports::{Params, ReportQuery, Reporter, Summary, Table},
    store::Role,
};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(report_summary))
        .routes(routes!(report_table))
}

/// The query of every report. The numbers' limits are stated in words, not as `minimum`
/// and `maximum`: `from` and `to` are only valid together (`from < to`, 400 days apart at
/// most), so no one of them is valid alone between bounds.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct ReportParams {
    /// Start of the range, unix ms (0 to 253402300799999): conversations opened at or after
    /// it.
    from: i64,
    /// End of the range, unix ms, excluded: after `from`, at most 400 days later.
    to: i64,
    /// Only this shop's conversations (site id).
    #[param(max_length = 200, pattern = r"^[^\x00-\x1f\x7f-\x9f]*$")]
    site: Option<String>,
    /// Only conversations in this group now.
    #[param(max_length = 200, pattern = r"^[^\x00-\x1f\x7f-\x9f]*$")]
    group: Option<String>,
    /// Only conversations this agent has or had last.
    #[param(value_type = Option<Uuid>)]
    agent: Option<String>,
    /// Only conversations with this tag.
    #[param(max_length = 200, pattern = r"^[^\x00-\x1f\x7f-\x9f]*$")]
    tag: Option<String>,
    /// Only conversations opened through this channel: `web` (widget, chat page) or `api`.
    #[param(pattern = r"^(web|api)$")]
    channel: Option<String>,
    /// Minutes east of UTC for the heat map and the days, −720 to 840 (e.g. 480 for
    /// China); default 0.
    #[param(default = 0)]
    tz_offset_minutes: Option<i32>,
}

/// The path of a CSV table.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
struct TablePath {
    /// The table's file name: `summary.csv`, `agents.csv`, `groups.csv`, `hours.csv`,
    /// `daily.csv` or `csat.csv`.
    #[param(pattern = r"^(summary|agents|groups|hours|daily|csat)\.csv$")]
    table: String,
}

impl ReportParams {
    /// The checked query; a 400 saying what is wrong otherwise.
    fn query(self) -> ApiResult<ReportQuery> {
        ReportQuery::parse(Params {
            from: self.from,
            to: self.to,
            site: self.site,
            group: self.group,
            agent: self.agent,
            tag: self.tag,
            channel: self.channel,
            tz_offset_minutes: self.tz_offset_minutes,
        })
        .map_err(ApiError::BadRequest)
    }
}

/// Supervisors and admins only; then the report of `params`.
async fn report(state: &AppState, auth: &AgentAuth, params: ReportParams) -> ApiResult<Summary> {
    auth.require(Role::Supervisor)?;
    let q = params.query()?;
    Ok(Reporter::new(state.actions.store.clone())
        .summary(&q)
        .await?)
}

/// How the team did over a range (supervisors and admins): conversations opened in
/// `[from, to)`, first-response and resolution times (p50, p90), service-level
/// attainment, transfers, satisfaction, busiest hours, per day, agent and group.
#[utoipa::path(get, path = "/reports/summary", tag = "reports",
    params(ReportParams),
    responses(
        (status = 200, description = "The report", body = Summary),
        AgentErrors, ParamErrors,
    ),
    security(("bearer" = [])))]
async fn report_summary(
    State(state): State<AppState>,
    auth: AgentAuth,
    Query(params): Query<ReportParams>,
) -> ApiResult<Json<Summary>> {
    Ok(Json(report(&state, &auth, params).await?))
}

/// One table of the report as CSV (supervisors and admins): `summary` (metric, value),
/// `agents`, `groups`, `hours` (weekday × hour), `daily`, `csat` (score, responses). A
/// header row, RFC 4180 quoting; empty fields are "no data", durations are milliseconds.
#[utoipa::path(get, path = "/reports/{table}", tag = "reports",
    params(TablePath, ReportParams),
    responses(
        (status = 200, description = "The table", content_type = "text/csv", body = String),
        AgentErrors,
        (status = 400, description = "No such table, or a query parameter is malformed or out of range", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn report_table(
    State(state): State<AppState>,
    auth: AgentAuth,
    Path(TablePath { table: file }): Path<TablePath>,
    Query(params): Query<ReportParams>,
) -> ApiResult<Response> {
    auth.require(Role::Supervisor)?;
    let table: Table = file
        .strip_suffix(".csv")
        .ok_or_else(|| format!("no report table `{file}`: the name ends in `.csv`"))
        .and_then(str::parse)
        .map_err(ApiError::BadRequest)?;
    let s = report(&state, &auth, params).await?;
    let disposition = format!("attachment; filename=\"kefu-{}.csv\"", table.name());
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        table.csv(&s),
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use utoipa::IntoParams;

    use super::*;
    use crate::reports::CHANNELS;

    /// The pattern a parameter is described with.
    fn pattern<P: IntoParams>(name: &str) -> String {
        let params = serde_json::to_value(P::into_params(|| None)).unwrap();
        let param = params
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == name)
            .unwrap_or_else(|| panic!("{name} is described"));
        param["schema"]["pattern"].as_str().unwrap().to_string()
    }

    /// The described names (a pattern, for the fuzzer) are the ones the handlers accept.
    #[test]
    fn the_described_tables_and_channels_are_the_accepted_ones() {
        let tables: Vec<&str> = Table::ALL.iter().map(|t| t.name()).collect();
        assert_eq!(
            pattern::<TablePath>("table"),
            format!(r"^({})\.csv$", tables.join("|"))
        );
        assert_eq!(
            pattern::<ReportParams>("channel"),
            format!("^({})$", CHANNELS.join("|"))
        );
    }
}
