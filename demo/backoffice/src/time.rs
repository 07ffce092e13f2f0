//! UTC timestamps with whole seconds, written as RFC 3339 (`2026-11-20T08:31:00Z`).
//!
//! The format only ever needs UTC at second precision, so a few lines of civil-calendar
//! arithmetic (Howard Hinnant's `days_from_civil`) replace a date-time dependency.

use std::{
    fmt,
    str::FromStr,
    time::{SystemTime, UNIX_EPOCH},
};

use serde::{Deserialize, Serialize};

/// Seconds in a minute, hour and day, for readable offsets.
pub const MINUTE: i64 = 60;
/// Seconds in an hour.
pub const HOUR: i64 = 60 * MINUTE;
/// Seconds in a day.
pub const DAY: i64 = 24 * HOUR;

/// A UTC instant, whole seconds since the Unix epoch. Serialises as RFC 3339 with `Z`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub struct Timestamp(i64);

/// A string that is not `YYYY-MM-DDTHH:MM:SSZ`.
#[derive(Debug, thiserror::Error)]
#[error("expected an RFC 3339 UTC time like 2026-11-20T08:31:00Z, found {0:?}")]
pub struct ParseTimestampError(String);

impl Timestamp {
    /// The instant `secs` seconds after 1970-01-01T00:00:00Z.
    pub const fn from_unix(secs: i64) -> Self {
        Self(secs)
    }

    /// Seconds since the Unix epoch.
    pub const fn unix(self) -> i64 {
        self.0
    }

    /// The instant at the given UTC calendar date and time of day.
    pub const fn utc(year: i64, month: i64, day: i64, hour: i64, minute: i64, second: i64) -> Self {
        Self(days_from_civil(year, month, day) * DAY + hour * HOUR + minute * MINUTE + second)
    }

    /// The wall clock, truncated to the second.
    pub fn now() -> Self {
        let secs = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        Self(i64::try_from(secs).unwrap_or(i64::MAX))
    }

    /// This instant moved by `secs` seconds (negative: earlier).
    pub const fn plus(self, secs: i64) -> Self {
        Self(self.0 + secs)
    }

    /// The UTC calendar year, used in order and return numbers.
    pub fn year(self) -> i64 {
        civil_from_days(self.0.div_euclid(DAY)).0
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (y, m, d) = civil_from_days(self.0.div_euclid(DAY));
        let s = self.0.rem_euclid(DAY);
        write!(
            f,
            "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
            s / HOUR,
            s % HOUR / MINUTE,
            s % MINUTE
        )
    }
}

impl FromStr for Timestamp {
    type Err = ParseTimestampError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bad = || ParseTimestampError(text.to_owned());
        let b = text.as_bytes();
        let shape_ok = b.len() == 20
            && b[4] == b'-'
            && b[7] == b'-'
            && b[10] == b'T'
            && b[13] == b':'
            && b[16] == b':'
            && b[19] == b'Z';
        if !shape_ok {
            return Err(bad());
        }
        let num = |range: std::ops::Range<usize>| -> Result<i64, ParseTimestampError> {
            let part = &text[range];
            if part.bytes().all(|c| c.is_ascii_digit()) {
                part.parse().map_err(|_| bad())
            } else {
                Err(bad())
            }
        };
        let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
        let (h, mi, s) = (num(11..13)?, num(14..16)?, num(17..19)?);
        let valid = (1..=12).contains(&mo)
            && (1..=31).contains(&d)
            && h < 24
            && mi < 60
            && s < 60
            && civil_from_days(days_from_civil(y, mo, d)) == (y, mo, d);
        if !valid {
            return Err(bad());
        }
        Ok(Self::utc(y, mo, d, h, mi, s))
    }
}

impl From<Timestamp> for String {
    fn from(t: Timestamp) -> Self {
        t.to_string()
    }
}

impl TryFrom<String> for Timestamp {
    type Error = ParseTimestampError;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        text.parse()
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
const fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = (if y >= 0 { y } else { y - 399 }) / 400;
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date `days` after 1970-01-01, as (year, month, day).
const fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = (if z >= 0 { z } else { z - 146_096 }) / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + if month <= 2 { 1 } else { 0 };
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_known_instants() {
        // 1795163460 is `date -u -d 2026-11-20T08:31:00Z +%s`.
        assert_eq!(
            Timestamp::from_unix(1_795_163_460).to_string(),
            "2026-11-20T08:31:00Z"
        );
        assert_eq!(Timestamp::from_unix(0).to_string(), "1970-01-01T00:00:00Z");
        assert_eq!(
            Timestamp::utc(2024, 2, 29, 23, 59, 59).to_string(),
            "2024-02-29T23:59:59Z",
            "leap day must survive the round trip"
        );
    }

    #[test]
    fn parses_what_it_writes_and_rejects_the_rest() {
        let t: Timestamp = "2026-11-20T08:31:00Z".parse().unwrap();
        assert_eq!(t.unix(), 1_795_163_460);
        assert_eq!(t.year(), 2026);
        for bad in [
            "2026-11-20 08:31:00Z",
            "2026-11-20T08:31:00+08:00",
            "2026-02-30T00:00:00Z",
            "2026-13-01T00:00:00Z",
            "",
        ] {
            assert!(
                bad.parse::<Timestamp>().is_err(),
                "{bad:?} is not RFC 3339 UTC"
            );
        }
    }
}
