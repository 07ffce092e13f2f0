//! `business_hours`: when a conversation opens while nobody is at work, tell the shopper
//! they can leave a message, tag it `after-hours`, and optionally move it to the queue of a
//! group that handles messages left overnight.
//!
//! ```toml
//! [plugins.business_hours]
//! utc_offset = "+08:00"
//! days = ["mon", "tue", "wed", "thu", "fri"]
//! open = "09:00"
//! close = "18:00"
//! holidays = ["2025-10-01", "2025-10-02"]
//! leave_message_group = "after-sales"
//! ```
//!
//! Times are a fixed UTC offset (no daylight saving), so no timezone database is needed.
//! Opening hours cannot span midnight; `close = "24:00"` runs to the end of the day.
//!
//! The same [`Schedule`] pauses service-level clocks (`sessions::service_levels`): while
//! nobody is at work, a first response or a resolution cannot fall due. [`configured`]
//! reads it from `[plugins.business_hours]`; [`business_ms_between`] and [`due_at`] count
//! opening hours only.

use std::collections::BTreeSet;

use anyhow::{Context as _, anyhow, bail, ensure};
use async_trait::async_trait;
use serde::Deserialize;

use crate::{
    plugins::{Context, HookResult, Lifecycle, Plugin, Registry},
    store::now_ms,
};

const TAG: &str = "after-hours";
const DAY_MS: i64 = 86_400_000;
const DAY_NAMES: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

pub(super) fn register(registry: Registry) -> Registry {
    registry.register("business_hours", BusinessHours::new)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Settings {
    #[serde(default = "defaults::utc_offset")]
    utc_offset: String,
    #[serde(default = "defaults::days")]
    days: Vec<String>,
    #[serde(default = "defaults::open")]
    open: String,
    #[serde(default = "defaults::close")]
    close: String,
    #[serde(default)]
    holidays: Vec<String>,
    #[serde(default = "defaults::message")]
    message: String,
    leave_message_group: Option<String>,
}

mod defaults {
    pub fn utc_offset() -> String {
        "+00:00".into()
    }
    pub fn days() -> Vec<String> {
        super::DAY_NAMES[..5]
            .iter()
            .map(|d| d.to_string())
            .collect()
    }
    pub fn open() -> String {
        "09:00".into()
    }
    pub fn close() -> String {
        "18:00".into()
    }
    pub fn message() -> String {
        "您好，现在是非工作时间。您可以直接留言，我们上班后会尽快回复您。/ \
         Hi! We're closed right now. Leave us a message and we'll reply as soon as we're open."
            .into()
    }
}

/// When someone is at work, in local time of a fixed UTC offset.
#[derive(Debug, Clone, PartialEq)]
pub struct Schedule {
    offset_minutes: i64,
    /// Monday first.
    days: [bool; 7],
    /// Minutes after local midnight; `open < close <= 1440`.
    open: i64,
    close: i64,
    /// Local days since 1970-01-01.
    holidays: BTreeSet<i64>,
}

/// Whether `unix_ms` falls in opening hours.
fn is_open(schedule: &Schedule, unix_ms: i64) -> bool {
    let local = unix_ms + schedule.offset_minutes * 60_000;
    let day = local.div_euclid(DAY_MS);
    let minute = local.rem_euclid(DAY_MS) / 60_000;
    // 1970-01-01 was a Thursday, index 3 counting from Monday.
    let weekday = (day + 3).rem_euclid(7) as usize;
    schedule.days[weekday]
        && !schedule.holidays.contains(&day)
        && (schedule.open..schedule.close).contains(&minute)
}

/// The opening hours of local day `day` (days since 1970-01-01 in the schedule's offset) as
/// unix ms `[open, close)`, or `None` on a closed weekday or a holiday.
fn hours_of(schedule: &Schedule, day: i64) -> Option<(i64, i64)> {
    let weekday = (day + 3).rem_euclid(7) as usize;
    if !schedule.days[weekday] || schedule.holidays.contains(&day) {
        return None;
    }
    let midnight = day * DAY_MS - schedule.offset_minutes * 60_000;
    Some((
        midnight + schedule.open * 60_000,
        midnight + schedule.close * 60_000,
    ))
}

/// The local day `unix_ms` falls on.
fn local_day(schedule: &Schedule, unix_ms: i64) -> i64 {
    (unix_ms + schedule.offset_minutes * 60_000).div_euclid(DAY_MS)
}

/// How far [`due_at`] looks for opening hours before calling a target never due: ten years.
const HORIZON_DAYS: i64 = 3653;

/// Milliseconds of opening hours in `[from, to)` (0 when `to <= from`).
pub fn business_ms_between(schedule: &Schedule, from: i64, to: i64) -> i64 {
    if to <= from {
        return 0;
    }
    (local_day(schedule, from)..=local_day(schedule, to - 1))
        .filter_map(|day| hours_of(schedule, day))
        .map(|(open, close)| (close.min(to) - open.max(from)).max(0))
        .sum()
}

/// The instant at which `target_ms` of opening hours will have passed since `start`: when a
/// target whose clock pauses outside opening hours falls due. Always within opening hours
/// (or at a closing time). `None` when the schedule does not open that much in ten years
/// (no working day at all, say): such a target is never due.
pub fn due_at(schedule: &Schedule, start: i64, target_ms: i64) -> Option<i64> {
    if !schedule.days.contains(&true) {
        return None;
    }
    let mut left = target_ms.max(0);
    let first = local_day(schedule, start);
    for day in first..first + HORIZON_DAYS {
        let Some((open, close)) = hours_of(schedule, day) else {
            continue;
        };
        let begin = open.max(start);
        if begin >= close {
            continue;
        }
        if left <= close - begin {
            return Some(begin + left);
        }
        left -= close - begin;
    }
    None
}

/// The schedule of `[plugins.business_hours]` when that plugin is declared and not
/// `enabled = false`; `None` otherwise. Its settings are checked as the plugin checks them
/// (start-up has already refused bad ones).
pub fn configured(
    plugins: &std::collections::BTreeMap<String, serde_json::Value>,
) -> anyhow::Result<Option<Schedule>> {
    let Some(serde_json::Value::Object(table)) = plugins.get("business_hours") else {
        return Ok(None);
    };
    let mut table = table.clone();
    if table.remove("enabled") == Some(serde_json::Value::Bool(false)) {
        return Ok(None);
    }
    // The keys every plugin table accepts (`plugins::registry`), none of the schedule's.
    table.remove("priority");
    table.remove("timeout_ms");
    let settings: Settings = serde_json::from_value(serde_json::Value::Object(table))
        .context("config key `plugins.business_hours`")?;
    Schedule::new(&settings)
        .map(Some)
        .context("config key `plugins.business_hours`")
}

impl Schedule {
    fn new(s: &Settings) -> anyhow::Result<Self> {
        let mut days = [false; 7];
        for d in &s.days {
            let i = DAY_NAMES
                .iter()
                .position(|n| n.eq_ignore_ascii_case(d.trim()))
                .ok_or_else(|| {
                    anyhow!("days: unknown day `{d}`; expected {}", DAY_NAMES.join(", "))
                })?;
            days[i] = true;
        }
        let open = parse_time(&s.open, false).context("open")?;
        let close = parse_time(&s.close, true).context("close")?;
        ensure!(
            close > open,
            "close `{}` must be after open `{}` (hours cannot span midnight)",
            s.close,
            s.open
        );
        let holidays = s
            .holidays
            .iter()
            .enumerate()
            .map(|(i, d)| parse_date(d).with_context(|| format!("holidays[{i}]")))
            .collect::<anyhow::Result<_>>()?;
        Ok(Self {
            offset_minutes: parse_offset(&s.utc_offset).context("utc_offset")?,
            days,
            open,
            close,
            holidays,
        })
    }
}

/// `"+08:00"` or `"-05:30"` → minutes east of UTC.
fn parse_offset(text: &str) -> anyhow::Result<i64> {
    let bad = || anyhow!("`{text}`: expected +HH:MM or -HH:MM, e.g. +08:00");
    let (sign, rest) = match text.split_at_checked(1) {
        Some(("+", rest)) => (1, rest),
        Some(("-", rest)) => (-1, rest),
        _ => return Err(bad()),
    };
    let (h, m) = two_numbers(rest, ':').ok_or_else(bad)?;
    if h > 14 || m > 59 {
        return Err(bad());
    }
    Ok(sign * (h * 60 + m))
}

/// `"09:30"` → minutes after midnight; `"24:00"` only if `end_of_day` may be named.
fn parse_time(text: &str, end_of_day: bool) -> anyhow::Result<i64> {
    let latest = if end_of_day { "24:00" } else { "23:59" };
    let bad = || anyhow!("`{text}`: expected HH:MM from 00:00 to {latest}");
    match two_numbers(text, ':').ok_or_else(bad)? {
        (24, 0) if end_of_day => Ok(24 * 60),
        (h, m) if h < 24 && m < 60 => Ok(h * 60 + m),
        _ => Err(bad()),
    }
}

/// `"2025-10-01"` → days since 1970-01-01.
fn parse_date(text: &str) -> anyhow::Result<i64> {
    let bad = || anyhow!("`{text}`: expected a date YYYY-MM-DD, e.g. 2025-10-01");
    let parts: Vec<&str> = text.split('-').collect();
    let [y, m, d] = parts[..] else {
        return Err(bad());
    };
    if y.len() != 4 || m.len() != 2 || d.len() != 2 {
        return Err(bad());
    }
    let num = |s: &str| {
        s.parse::<i64>()
            .ok()
            .filter(|_| s.bytes().all(|b| b.is_ascii_digit()))
    };
    let (Some(y), Some(m), Some(d)) = (num(y), num(m), num(d)) else {
        return Err(bad());
    };
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let month_days = [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    if !(1..=12).contains(&m) || d < 1 || d > month_days[(m - 1) as usize] {
        bail!("`{text}`: no such date");
    }
    Ok(days_from_civil(y, m, d))
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12; // March = 0
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `"09:30"` → `(9, 30)`: exactly two digits on each side of `sep`.
fn two_numbers(text: &str, sep: char) -> Option<(i64, i64)> {
    let (a, b) = text.split_once(sep)?;
    let two_digits = |s: &str| {
        (s.len() == 2 && s.bytes().all(|b| b.is_ascii_digit())).then(|| s.parse().ok())?
    };
    Some((two_digits(a)?, two_digits(b)?))
}

struct BusinessHours {
    schedule: Schedule,
    message: String,
    leave_message_group: Option<String>,
}

impl BusinessHours {
    fn new(s: Settings) -> anyhow::Result<Self> {
        ensure!(!s.message.trim().is_empty(), "message: must not be blank");
        if let Some(g) = &s.leave_message_group {
            ensure!(
                !g.trim().is_empty(),
                "leave_message_group: must not be blank"
            );
        }
        Ok(Self {
            schedule: Schedule::new(&s)?,
            message: s.message,
            leave_message_group: s.leave_message_group,
        })
    }
}

#[async_trait]
impl Plugin for BusinessHours {
    fn name(&self) -> &str {
        "business_hours"
    }

    fn groups(&self) -> Vec<String> {
        self.leave_message_group.iter().cloned().collect()
    }

    /// First: later plugins (the FAQ bot) see the `after-hours` tag and the new group.
    fn priority(&self) -> i32 {
        200
    }

    /// Each opening out of hours (a new conversation, or one reopened) gets the message
    /// once; messages within an open conversation do not repeat it.
    async fn on_lifecycle(&self, ctx: &mut Context, event: &Lifecycle) -> HookResult {
        if !matches!(event, Lifecycle::Opened { .. }) || is_open(&self.schedule, now_ms()) {
            return Ok(());
        }
        ctx.reply(self.message.clone());
        ctx.tag(TAG);
        if let Some(group) = &self.leave_message_group {
            ctx.route_to_group(group.clone());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schedule(json: serde_json::Value) -> anyhow::Result<Schedule> {
        Schedule::new(&serde_json::from_value(json)?)
    }

    /// Unix ms of a UTC date and time.
    fn at(date: &str, h: i64, m: i64) -> i64 {
        (parse_date(date).unwrap() * 1440 + h * 60 + m) * 60_000
    }

    #[test]
    fn dates_count_days_from_the_epoch() {
        assert_eq!(parse_date("1970-01-01").unwrap(), 0);
        assert_eq!(parse_date("2000-03-01").unwrap(), 11_017);
        assert_eq!(parse_date("2024-02-29").unwrap(), 19_782);
        assert!(parse_date("2023-02-29").is_err(), "not a leap year");
    }

    #[test]
    fn weekdays_and_hours_bound_opening_times() {
        let s = schedule(serde_json::json!({})).unwrap(); // Mon–Fri 09:00–18:00 UTC
        // 2025-06-02 was a Monday.
        assert!(!is_open(&s, at("2025-06-02", 8, 59)));
        assert!(is_open(&s, at("2025-06-02", 9, 0)));
        assert!(is_open(&s, at("2025-06-02", 17, 59)));
        assert!(!is_open(&s, at("2025-06-02", 18, 0)), "close is exclusive");
        assert!(is_open(&s, at("2025-06-06", 12, 0)), "Friday");
        assert!(!is_open(&s, at("2025-06-07", 12, 0)), "Saturday");
        assert!(!is_open(&s, at("2025-06-08", 12, 0)), "Sunday");
        assert!(
            !is_open(&s, at("1970-01-03", 12, 0)),
            "the epoch's Saturday"
        );
        assert!(is_open(&s, at("1970-01-01", 12, 0)), "the epoch's Thursday");
    }

    #[test]
    fn the_offset_can_move_the_local_day() {
        let weekdays = serde_json::json!(["mon", "tue", "wed", "thu", "fri"]);
        let s = schedule(serde_json::json!({
            "utc_offset": "+08:00", "days": weekdays, "open": "00:00", "close": "24:00"
        }))
        .unwrap();
        // Sunday 2025-06-01 20:00 UTC is Monday 04:00 in UTC+8: open.
        assert!(is_open(&s, at("2025-06-01", 20, 0)));
        // Friday 2025-06-06 20:00 UTC is Saturday 04:00 in UTC+8: closed.
        assert!(!is_open(&s, at("2025-06-06", 20, 0)));
        let s = schedule(serde_json::json!({
            "utc_offset": "-05:30", "days": weekdays, "open": "00:00", "close": "24:00"
        }))
        .unwrap();
        // Saturday 2025-06-07 02:00 UTC is Friday 20:30 in UTC-5:30: open.
        assert!(is_open(&s, at("2025-06-07", 2, 0)));
        // Monday 2025-06-02 05:00 UTC is Sunday 23:30 local: closed; 05:30 UTC is Monday.
        assert!(!is_open(&s, at("2025-06-02", 5, 0)));
        assert!(is_open(&s, at("2025-06-02", 5, 30)));
        // Hours move too: 09:00 in UTC+8 is 01:00 UTC.
        let s = schedule(serde_json::json!({"utc_offset": "+08:00"})).unwrap();
        assert!(!is_open(&s, at("2025-06-02", 0, 59)));
        assert!(is_open(&s, at("2025-06-02", 1, 0)));
    }

    #[test]
    fn holidays_are_closed_in_local_time() {
        let s = schedule(serde_json::json!({
            "utc_offset": "+08:00", "holidays": ["2025-10-01"]
        }))
        .unwrap();
        // Wednesday 2025-10-01 10:00 local = 02:00 UTC.
        assert!(!is_open(&s, at("2025-10-01", 2, 0)));
        // Tuesday 2025-09-30 17:00 local = 09:00 UTC: still open, though UTC is the 30th too.
        assert!(is_open(&s, at("2025-09-30", 9, 0)));
        // Thursday 2025-10-02 09:00 local = 2025-10-02 01:00 UTC: open again.
        assert!(is_open(&s, at("2025-10-02", 1, 0)));
    }

    #[test]
    fn close_at_24_00_runs_to_midnight() {
        let all = DAY_NAMES.to_vec();
        let s =
            schedule(serde_json::json!({"days": all, "open": "00:00", "close": "24:00"})).unwrap();
        for h in [0, 12, 23] {
            assert!(is_open(&s, at("2025-06-07", h, 59)), "{h}:59");
        }
        let never = schedule(serde_json::json!({"days": []})).unwrap();
        assert!(!is_open(&never, at("2025-06-02", 12, 0)));
    }

    const HOUR: i64 = 3_600_000;

    /// Mon–Fri 09:00–18:00 in UTC+8, with 2025-10-01 (a Wednesday) off.
    fn china_office() -> Schedule {
        schedule(serde_json::json!({"utc_offset": "+08:00", "holidays": ["2025-10-01"]})).unwrap()
    }

    /// Unix ms of a date and time in UTC+8.
    fn beijing(date: &str, h: i64, m: i64) -> i64 {
        at(date, h, m) - 8 * HOUR
    }

    #[test]
    fn a_clock_started_in_hours_runs_until_it_is_due() {
        let s = china_office();
        // Monday 2025-06-02 10:00 local + 2h = 12:00.
        let start = beijing("2025-06-02", 10, 0);
        assert_eq!(
            due_at(&s, start, 2 * HOUR),
            Some(beijing("2025-06-02", 12, 0))
        );
        assert_eq!(
            business_ms_between(&s, start, beijing("2025-06-02", 12, 0)),
            2 * HOUR
        );
        // Exactly to closing time is still that day.
        assert_eq!(
            due_at(&s, start, 8 * HOUR),
            Some(beijing("2025-06-02", 18, 0))
        );
    }

    #[test]
    fn the_night_pauses_the_clock() {
        let s = china_office();
        // Monday 17:00 + 2h: one hour on Monday, one on Tuesday from 09:00.
        let start = beijing("2025-06-02", 17, 0);
        assert_eq!(
            due_at(&s, start, 2 * HOUR),
            Some(beijing("2025-06-03", 10, 0))
        );
        assert_eq!(
            business_ms_between(&s, start, beijing("2025-06-03", 9, 0)),
            HOUR,
            "the night counts nothing"
        );
        // Opened at 03:00, before opening: the clock starts at 09:00.
        let early = beijing("2025-06-03", 3, 0);
        assert_eq!(
            due_at(&s, early, 30 * 60_000),
            Some(beijing("2025-06-03", 9, 30))
        );
        // Opened after closing: the next morning.
        let late = beijing("2025-06-03", 20, 0);
        assert_eq!(due_at(&s, late, HOUR), Some(beijing("2025-06-04", 10, 0)));
    }

    #[test]
    fn weekends_pause_the_clock() {
        let s = china_office();
        // Friday 2025-06-06 17:30 + 1h: half an hour Friday, half on Monday 2025-06-09.
        let start = beijing("2025-06-06", 17, 30);
        assert_eq!(due_at(&s, start, HOUR), Some(beijing("2025-06-09", 9, 30)));
        // Saturday noon + 15 minutes: Monday 09:15.
        assert_eq!(
            due_at(&s, beijing("2025-06-07", 12, 0), 15 * 60_000),
            Some(beijing("2025-06-09", 9, 15))
        );
        assert_eq!(
            business_ms_between(
                &s,
                beijing("2025-06-06", 18, 0),
                beijing("2025-06-09", 9, 0)
            ),
            0,
            "a whole weekend is closed"
        );
        // A week of opening hours is five days of nine hours.
        assert_eq!(
            business_ms_between(&s, beijing("2025-06-02", 0, 0), beijing("2025-06-09", 0, 0)),
            45 * HOUR
        );
    }

    #[test]
    fn holidays_pause_the_clock() {
        let s = china_office();
        // Tuesday 2025-09-30 17:00 + 2h: 1h Tuesday, Wednesday is a holiday, 1h Thursday.
        let start = beijing("2025-09-30", 17, 0);
        assert_eq!(
            due_at(&s, start, 2 * HOUR),
            Some(beijing("2025-10-02", 10, 0))
        );
        assert_eq!(
            business_ms_between(&s, start, beijing("2025-10-02", 10, 0)),
            2 * HOUR
        );
    }

    #[test]
    fn long_targets_span_many_working_days() {
        let s = china_office();
        // 3 working days of 9 hours from Monday 09:00: due Wednesday 18:00.
        let start = beijing("2025-06-02", 9, 0);
        assert_eq!(
            due_at(&s, start, 27 * HOUR),
            Some(beijing("2025-06-04", 18, 0))
        );
        // One more minute: Thursday 09:01.
        assert_eq!(
            due_at(&s, start, 27 * HOUR + 60_000),
            Some(beijing("2025-06-05", 9, 1))
        );
    }

    #[test]
    fn a_schedule_that_never_opens_is_never_due() {
        let never = schedule(serde_json::json!({"days": []})).unwrap();
        assert_eq!(due_at(&never, at("2025-06-02", 12, 0), 1000), None);
        assert_eq!(business_ms_between(&never, 0, at("2025-06-02", 12, 0)), 0);
    }

    #[test]
    fn the_schedule_is_read_from_the_plugin_table_unless_disabled() {
        let declared = |json: serde_json::Value| {
            let json = serde_json::json!({"business_hours": json});
            serde_json::from_value(json).unwrap()
        };
        let s = configured(&declared(serde_json::json!({
            "utc_offset": "+08:00", "holidays": ["2025-10-01"], "priority": 5, "timeout_ms": 200
        })))
        .unwrap();
        assert_eq!(
            s,
            Some(china_office()),
            "the plugin's common keys are not the schedule's"
        );
        let off = configured(&declared(serde_json::json!({"enabled": false}))).unwrap();
        assert_eq!(off, None, "a disabled plugin pauses nothing");
        assert_eq!(configured(&Default::default()).unwrap(), None);
        let err = configured(&declared(serde_json::json!({"open": "25:00"}))).unwrap_err();
        assert!(format!("{err:#}").contains("`25:00`"), "{err:#}");
    }

    proptest::proptest! {
        /// `due_at` is the inverse of counting opening hours, wherever the clock starts.
        #[test]
        fn due_at_counts_exactly_the_target_in_hours(
            start in 1_700_000_000_000_i64..1_800_000_000_000,
            target in 1_i64..(40 * HOUR),
            offset in -12_i64..=14,
        ) {
            let s = schedule(serde_json::json!({
                "utc_offset": format!("{}{:02}:00", if offset < 0 { '-' } else { '+' }, offset.abs()),
                "holidays": ["2025-10-01", "2026-01-01"],
            }))
            .unwrap();
            let due = due_at(&s, start, target).expect("weekdays open");
            proptest::prop_assert_eq!(business_ms_between(&s, start, due), target);
            proptest::prop_assert!(
                business_ms_between(&s, start, due - 1) < target,
                "not due a moment earlier"
            );
        }
    }

    #[test]
    fn bad_settings_name_the_value() {
        for (json, expected) in [
            (serde_json::json!({"days": ["mon", "mo"]}), "`mo`"),
            (serde_json::json!({"open": "25:00"}), "`25:00`"),
            (serde_json::json!({"open": "9:00"}), "`9:00`"),
            (
                serde_json::json!({"open": "24:00", "close": "24:00"}),
                "`24:00`",
            ),
            (
                serde_json::json!({"close": "08:00"}),
                "close `08:00` must be after open `09:00`",
            ),
            (
                serde_json::json!({"open": "18:00", "close": "18:00"}),
                "must be after",
            ),
            (serde_json::json!({"utc_offset": "+8"}), "`+8`"),
            (serde_json::json!({"utc_offset": "08:00"}), "`08:00`"),
            (serde_json::json!({"utc_offset": "+15:00"}), "`+15:00`"),
            (
                serde_json::json!({"holidays": ["2025-13-01"]}),
                "`2025-13-01`",
            ),
            (
                serde_json::json!({"holidays": ["10/01/2025"]}),
                "holidays[0]",
            ),
        ] {
            let err = format!("{:#}", schedule(json.clone()).expect_err("refused"));
            assert!(err.contains(expected), "{json}: {err}");
        }
    }
}
