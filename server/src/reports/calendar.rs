//! Days, weekdays and hours of unix-millisecond times seen at a fixed UTC offset, without a
//! time-zone database: reports take the offset the desk's clock has (`tz_offset_minutes`).

const DAY_MS: i64 = 86_400_000;
const HOUR_MS: i64 = 3_600_000;

/// A time seen at a fixed offset from UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Local {
    /// Days since 1970-01-01 (local).
    pub day: i64,
    /// 0 = Monday … 6 = Sunday.
    pub weekday: usize,
    /// 0 … 23.
    pub hour: usize,
}

/// `at` (unix ms) at `offset_minutes` east of UTC.
pub fn local(at: i64, offset_minutes: i32) -> Local {
    let t = at + i64::from(offset_minutes) * 60_000;
    let day = t.div_euclid(DAY_MS);
    Local {
        day,
        // 1970-01-01 was a Thursday (3 with Monday as 0).
        weekday: (day + 3).rem_euclid(7) as usize,
        hour: (t.rem_euclid(DAY_MS) / HOUR_MS) as usize,
    }
}

/// `YYYY-MM-DD` of a day counted from 1970-01-01 (proleptic Gregorian; Howard Hinnant's
/// `civil_from_days`).
pub fn date(days: i64) -> String {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_weekdays_and_hours_follow_the_offset() {
        assert_eq!(date(0), "1970-01-01");
        assert_eq!(date(-1), "1969-12-31");
        assert_eq!(date(11_016), "2000-02-29");
        assert_eq!(date(20_454), "2026-01-01");
        // 2026-01-01T00:30Z: a Thursday in UTC, still Wednesday evening in New York (-300).
        let at = 20_454 * DAY_MS + 30 * 60_000;
        assert_eq!(
            local(at, 0),
            Local {
                day: 20_454,
                weekday: 3,
                hour: 0
            }
        );
        assert_eq!(
            local(at, -300),
            Local {
                day: 20_453,
                weekday: 2,
                hour: 19
            }
        );
        // Shanghai (+480): 08:30 the same Thursday.
        assert_eq!(local(at, 480).hour, 8);
        assert_eq!(local(at, 480).weekday, 3);
    }
}
