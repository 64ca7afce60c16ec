//! Reading the dates and times date-based conditions compare: ISO-8601 date-times with an
//! offset (Kestra's `trigger.date`), optionally followed by a `[Region/City]` zone, plain
//! dates, and times of day with an optional offset.

use chrono::{DateTime, Duration, FixedOffset, NaiveDate, NaiveTime, TimeZone};
use kite_flow::plugin::Condition;

use super::{ConditionError, Scope, short_name};

/// What [`parse_date_time`] reads.
pub const DATE_TIME: &str =
    "an ISO-8601 date-time with an offset (e.g. `2024-03-31T10:00:00+02:00`)";
/// What [`parse_local_date`] reads.
pub const DATE: &str =
    "an ISO-8601 date (`2024-03-31`) or date-time with an offset (`2024-03-31T10:00:00+02:00`)";
/// What [`parse_time_of_day`] reads.
pub const TIME: &str = "a time of day `HH:mm[:ss]` with an optional offset (e.g. `16:00:00+02:00`)";

/// The default of the `date` property.
pub const DEFAULT_DATE: &str = "{{ trigger.date }}";

/// Reads a date-time with an offset: `2024-03-31T03:00:00+02:00`, `Z`, fractional seconds,
/// minutes-only times (`T03:00+02:00`, as Java prints them), `+02`, `+0200`. A trailing
/// `[Europe/Paris]` zone shows the instant in that zone; with a zone, the offset may be left
/// out (a local time in a DST gap moves forward by an hour, as in Java).
pub fn parse_date_time(s: &str) -> Option<DateTime<FixedOffset>> {
    let (body, zone) = split_zone(s.trim())?;
    let zone = match zone {
        Some(z) => Some(z.parse::<chrono_tz::Tz>().ok()?),
        None => None,
    };
    let sep = body.find(['T', 't', ' '])?;
    let date = NaiveDate::parse_from_str(&body[..sep], "%Y-%m-%d").ok()?;
    let (time, offset) = parse_time_of_day(&body[sep + 1..])?;
    let local = date.and_time(time);
    match (offset, zone) {
        (Some(offset), None) => offset.from_local_datetime(&local).single(),
        (Some(offset), Some(tz)) => Some(
            offset
                .from_local_datetime(&local)
                .single()?
                .with_timezone(&tz)
                .fixed_offset(),
        ),
        (None, Some(tz)) => tz
            .from_local_datetime(&local)
            .earliest()
            .or_else(|| {
                tz.from_local_datetime(&(local + Duration::hours(1)))
                    .earliest()
            })
            .map(|d| d.fixed_offset()),
        (None, None) => None,
    }
}

/// Reads a day: a plain date, or the local date of a date-time with an offset.
pub fn parse_local_date(s: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
        .ok()
        .or_else(|| parse_date_time(s).map(|d| d.date_naive()))
}

/// Reads a time of day, `HH:mm[:ss[.fraction]]`, and its offset when it has one.
pub fn parse_time_of_day(s: &str) -> Option<(NaiveTime, Option<FixedOffset>)> {
    let s = s.trim();
    let (time, offset) = match s.find(['Z', 'z', '+', '-']) {
        Some(i) => (&s[..i], Some(parse_offset(&s[i..])?)),
        None => (s, None),
    };
    let time = NaiveTime::parse_from_str(time, "%H:%M:%S%.f")
        .or_else(|_| NaiveTime::parse_from_str(time, "%H:%M"))
        .ok()?;
    Some((time, offset))
}

/// `Z`, `+HH`, `+HHMM`, `+HH:MM`, `+HH:MM:SS` (or `-`).
fn parse_offset(s: &str) -> Option<FixedOffset> {
    if s.eq_ignore_ascii_case("z") {
        return FixedOffset::east_opt(0);
    }
    let sign = match s.as_bytes().first()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let rest = &s[1..];
    let b = rest.as_bytes();
    let fields: Vec<&str> = match b.len() {
        2 => vec![rest],
        4 => vec![&rest[..2], &rest[2..]],
        5 if b[2] == b':' => vec![&rest[..2], &rest[3..]],
        8 if b[2] == b':' && b[5] == b':' => vec![&rest[..2], &rest[3..5], &rest[6..]],
        _ => return None,
    };
    let mut seconds = 0;
    for (i, f) in fields.iter().enumerate() {
        if !f.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        let n: i32 = f.parse().ok()?;
        if i > 0 && n > 59 {
            return None;
        }
        seconds += n * [3600, 60, 1][i];
    }
    FixedOffset::east_opt(sign * seconds)
}

fn split_zone(s: &str) -> Option<(&str, Option<&str>)> {
    match s.strip_suffix(']') {
        Some(rest) => {
            let open = rest.rfind('[')?;
            Some((&rest[..open], Some(&rest[open + 1..])))
        }
        None => Some((s, None)),
    }
}

fn bad_date(
    c: &Condition,
    property: &'static str,
    value: String,
    expected: &'static str,
) -> ConditionError {
    ConditionError::BadDate {
        path: c.path.clone(),
        condition: short_name(c),
        property,
        value,
        expected,
    }
}

/// Renders `c`'s `date` property (default `{{ trigger.date }}`) as a date-time.
pub(crate) fn date_time(
    scope: &Scope<'_>,
    c: &Condition,
    date: Option<&str>,
) -> Result<DateTime<FixedOffset>, ConditionError> {
    let rendered = scope.render(c, "date", date.unwrap_or(DEFAULT_DATE))?;
    parse_date_time(&rendered).ok_or_else(|| bad_date(c, "date", rendered, DATE_TIME))
}

/// Renders `c`'s `date` property (default `{{ trigger.date }}`) as a day.
pub(crate) fn local_date(
    scope: &Scope<'_>,
    c: &Condition,
    date: Option<&str>,
) -> Result<NaiveDate, ConditionError> {
    let rendered = scope.render(c, "date", date.unwrap_or(DEFAULT_DATE))?;
    parse_local_date(&rendered).ok_or_else(|| bad_date(c, "date", rendered, DATE))
}

/// Renders the optional date-time bound `property` of `c`.
pub(crate) fn date_time_bound(
    scope: &Scope<'_>,
    c: &Condition,
    property: &'static str,
    value: Option<&str>,
) -> Result<Option<DateTime<FixedOffset>>, ConditionError> {
    let Some(value) = value else {
        return Ok(None);
    };
    let rendered = scope.render(c, property, value)?;
    parse_date_time(&rendered)
        .map(Some)
        .ok_or_else(|| bad_date(c, property, rendered, DATE_TIME))
}

/// Renders the optional time-of-day bound `property` of `c`.
pub(crate) fn time_bound(
    scope: &Scope<'_>,
    c: &Condition,
    property: &'static str,
    value: Option<&str>,
) -> Result<Option<(NaiveTime, Option<FixedOffset>)>, ConditionError> {
    let Some(value) = value else {
        return Ok(None);
    };
    let rendered = scope.render(c, property, value)?;
    parse_time_of_day(&rendered)
        .map(Some)
        .ok_or_else(|| bad_date(c, property, rendered, TIME))
}

/// Reads a day of the week written `MONDAY`..`SUNDAY` (any case).
pub fn parse_weekday(s: &str) -> Option<chrono::Weekday> {
    use chrono::Weekday::*;
    const DAYS: [(&str, chrono::Weekday); 7] = [
        ("MONDAY", Mon),
        ("TUESDAY", Tue),
        ("WEDNESDAY", Wed),
        ("THURSDAY", Thu),
        ("FRIDAY", Fri),
        ("SATURDAY", Sat),
        ("SUNDAY", Sun),
    ];
    let s = s.trim();
    DAYS.iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(s))
        .map(|(_, d)| *d)
}

/// Renders `c`'s `dayOfWeek` property as a weekday.
pub(crate) fn weekday(
    scope: &Scope<'_>,
    c: &Condition,
    value: &str,
) -> Result<chrono::Weekday, ConditionError> {
    let rendered = scope.render(c, "dayOfWeek", value)?;
    parse_weekday(&rendered).ok_or_else(|| {
        ConditionError::invalid(
            c,
            format!("`dayOfWeek` is `{rendered}`, which is not one of MONDAY..SUNDAY"),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dt(s: &str) -> String {
        parse_date_time(s)
            .map(|d| d.to_rfc3339())
            .unwrap_or_else(|| "none".into())
    }

    #[test]
    fn reads_iso_date_times_with_offsets() {
        assert_eq!(dt("2024-03-31T03:00:00+02:00"), "2024-03-31T03:00:00+02:00");
        assert_eq!(dt("2024-03-31T01:00:00Z"), "2024-03-31T01:00:00+00:00");
        assert_eq!(
            dt("2024-03-31T01:00:00.123456Z"),
            "2024-03-31T01:00:00.123456+00:00"
        );
        assert_eq!(dt("2024-03-31T03:00+02:00"), "2024-03-31T03:00:00+02:00");
        assert_eq!(dt("2024-03-31 03:00:00-0500"), "2024-03-31T03:00:00-05:00");
        assert_eq!(dt("2024-03-31T03:00:00+02"), "2024-03-31T03:00:00+02:00");
    }

    #[test]
    fn a_zone_suffix_shows_the_instant_in_that_zone() {
        assert_eq!(
            dt("2024-03-31T03:00+02:00[Europe/Paris]"),
            "2024-03-31T03:00:00+02:00"
        );
        // The same instant written in UTC, shown in Paris.
        assert_eq!(
            dt("2024-03-31T01:00:00Z[Europe/Paris]"),
            "2024-03-31T03:00:00+02:00"
        );
        // No offset: the zone's, and a time in the spring-forward gap moves forward.
        assert_eq!(
            dt("2024-03-31T02:30:00[Europe/Paris]"),
            "2024-03-31T03:30:00+02:00"
        );
        assert_eq!(dt("2024-03-31T03:00:00+02:00[Mars/Olympus]"), "none");
    }

    #[test]
    fn refuses_what_is_not_a_zoned_date_time() {
        for bad in [
            "",
            "tomorrow",
            "2024-03-31",
            "2024-03-31T03:00:00",
            "2024-13-01T00:00:00Z",
            "2024-03-31T25:00:00Z",
            "2024-03-31T03:00:00+2",
            "2024-03-31T03:00:00+02:99",
        ] {
            assert_eq!(dt(bad), "none", "{bad}");
        }
    }

    #[test]
    fn local_dates_come_from_the_offset() {
        assert_eq!(
            parse_local_date("2024-03-31"),
            NaiveDate::from_ymd_opt(2024, 3, 31)
        );
        // 23:30 UTC on the 30th is already the 31st in Paris.
        assert_eq!(
            parse_local_date("2024-03-31T00:30:00+01:00"),
            NaiveDate::from_ymd_opt(2024, 3, 31)
        );
        assert_eq!(parse_local_date("31/03/2024"), None);
    }

    #[test]
    fn times_of_day() {
        let (t, o) = parse_time_of_day("16:00:00+02:00").unwrap();
        assert_eq!(t, NaiveTime::from_hms_opt(16, 0, 0).unwrap());
        assert_eq!(o, FixedOffset::east_opt(7200));
        let (t, o) = parse_time_of_day("08:15").unwrap();
        assert_eq!(t, NaiveTime::from_hms_opt(8, 15, 0).unwrap());
        assert_eq!(o, None);
        assert!(parse_time_of_day("16:19:12.000000-03:30").is_some());
        assert!(parse_time_of_day("4pm").is_none());
    }

    #[test]
    fn weekdays() {
        assert_eq!(parse_weekday("MONDAY"), Some(chrono::Weekday::Mon));
        assert_eq!(parse_weekday(" sunday "), Some(chrono::Weekday::Sun));
        assert_eq!(parse_weekday("MON"), None);
    }
}
