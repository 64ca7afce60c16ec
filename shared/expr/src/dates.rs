//! Dates as Kestra's `AbstractDate` handles them: conversion of inputs (ISO strings,
//! epoch seconds, custom `existingFormat`), time zones (`ZoneId.of` syntax), Java
//! `DateTimeFormatter` patterns and named formats, and `dateAdd` units.
//!
//! Supported pattern letters: `G u y D M L d Q q Y w E e c F a h K k H m s S A n N V z
//! O X x Z`, `'quoted'` literals, `''`, and `[optional]` sections. Text is English
//! (Locale.US). Week-based fields (`Y`, `w`, `e`/`c` numbers) use ISO weeks. The default
//! zone (no `timeZone` argument) is UTC, where Kestra would use the JVM default zone.

use chrono::{
    DateTime, Datelike, Duration, FixedOffset, Months, NaiveDate, NaiveDateTime, NaiveTime, Offset,
    TimeZone, Timelike, Utc,
};
use chrono_tz::{OffsetName, Tz};

/// A `ZoneId`: a region (`Europe/Paris`, `UTC`) or a fixed offset (`+01:00`, `Z`).
#[derive(Debug, Clone)]
pub(crate) enum Zone {
    Region(Tz),
    Fixed(FixedOffset, String),
}

impl Zone {
    /// UTC (the default zone).
    pub(crate) fn utc() -> Self {
        Zone::Region(Tz::UTC)
    }

    /// `ZoneId.of(s)`.
    pub(crate) fn parse(s: &str) -> Result<Self, String> {
        let t = s.trim();
        if t == "Z" {
            return Ok(Zone::Fixed(
                FixedOffset::east_opt(0).unwrap_or(Utc.fix()),
                "Z".into(),
            ));
        }
        if let Some(off) = parse_offset_id(t) {
            return Ok(Zone::Fixed(off, format_offset_id(off.local_minus_utc())));
        }
        for prefix in ["UTC", "GMT", "UT"] {
            if let Some(rest) = t.strip_prefix(prefix)
                && (rest.starts_with('+') || rest.starts_with('-'))
                && let Some(off) = parse_offset_id(rest)
            {
                return Ok(Zone::Fixed(
                    off,
                    format!("{prefix}{}", format_offset_id(off.local_minus_utc())),
                ));
            }
        }
        t.parse::<Tz>()
            .map(Zone::Region)
            .map_err(|_| format!("Unknown time-zone ID: {s}"))
    }

    /// The zoned date-time of `instant` in this zone.
    pub(crate) fn at(&self, instant: DateTime<Utc>) -> Zdt {
        match self {
            Zone::Region(tz) => {
                let dt = instant.with_timezone(tz);
                Zdt {
                    instant,
                    local: dt.naive_local(),
                    offset: dt.offset().fix().local_minus_utc(),
                    zone_id: tz.name().to_owned(),
                    abbr: dt.offset().abbreviation().unwrap_or(tz.name()).to_owned(),
                    region: true,
                }
            }
            Zone::Fixed(off, id) => Zdt {
                instant,
                local: instant.with_timezone(off).naive_local(),
                offset: off.local_minus_utc(),
                zone_id: id.clone(),
                abbr: id.clone(),
                region: false,
            },
        }
    }

    /// The zoned date-time of a local date-time in this zone (gaps shift forward,
    /// overlaps take the earlier offset, like `ZonedDateTime.of`).
    pub(crate) fn at_local(&self, local: NaiveDateTime) -> Zdt {
        match self {
            Zone::Region(tz) => {
                let instant = match tz.from_local_datetime(&local) {
                    chrono::LocalResult::Single(dt) => dt.with_timezone(&Utc),
                    chrono::LocalResult::Ambiguous(a, _) => a.with_timezone(&Utc),
                    chrono::LocalResult::None => {
                        let before = tz
                            .from_utc_datetime(&(local - Duration::hours(24)))
                            .offset()
                            .fix();
                        (local - Duration::seconds(i64::from(before.local_minus_utc()))).and_utc()
                    }
                };
                self.at(instant)
            }
            Zone::Fixed(off, _) => {
                self.at((local - Duration::seconds(i64::from(off.local_minus_utc()))).and_utc())
            }
        }
    }
}

fn parse_offset_id(s: &str) -> Option<FixedOffset> {
    let (sign, rest) = match s.as_bytes().first()? {
        b'+' => (1, &s[1..]),
        b'-' => (-1, &s[1..]),
        _ => return None,
    };
    let digits: String = rest.chars().filter(|c| *c != ':').collect();
    if digits.is_empty() || !digits.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let (h, m, sec) = match digits.len() {
        1 | 2 => (digits.parse::<i32>().ok()?, 0, 0),
        4 => (digits[..2].parse().ok()?, digits[2..].parse().ok()?, 0),
        6 => (
            digits[..2].parse().ok()?,
            digits[2..4].parse().ok()?,
            digits[4..].parse().ok()?,
        ),
        _ => return None,
    };
    if h > 18 || m > 59 || sec > 59 {
        return None;
    }
    FixedOffset::east_opt(sign * (h * 3600 + m * 60 + sec))
}

fn format_offset_id(secs: i32) -> String {
    if secs == 0 {
        return "Z".into();
    }
    let sign = if secs < 0 { '-' } else { '+' };
    let a = secs.unsigned_abs();
    let (h, m, s) = (a / 3600, a / 60 % 60, a % 60);
    if s == 0 {
        format!("{sign}{h:02}:{m:02}")
    } else {
        format!("{sign}{h:02}:{m:02}:{s:02}")
    }
}

/// A zoned date-time.
#[derive(Debug, Clone)]
pub(crate) struct Zdt {
    pub(crate) instant: DateTime<Utc>,
    pub(crate) local: NaiveDateTime,
    /// Offset from UTC in seconds.
    pub(crate) offset: i32,
    zone_id: String,
    abbr: String,
    region: bool,
}

impl Zdt {
    /// Epoch seconds.
    pub(crate) fn epoch_seconds(&self) -> i64 {
        self.instant.timestamp()
    }

    /// Nano-of-second.
    pub(crate) fn nanos(&self) -> u32 {
        self.instant.timestamp_subsec_nanos()
    }
}

// ---------------------------------------------------------------------------------
// Input conversion
// ---------------------------------------------------------------------------------

/// A date input as Kestra's `AbstractDate.convert` sees it.
pub(crate) enum DateInput<'a> {
    /// Epoch seconds (Java `Long`).
    Epoch(f64),
    /// A string to parse.
    Text(&'a str),
}

/// Converts an input into a zoned date-time in `zone`.
pub(crate) fn convert(
    input: DateInput<'_>,
    zone: &Zone,
    existing_format: Option<&str>,
) -> Result<Zdt, String> {
    match input {
        DateInput::Epoch(secs) => {
            let whole = secs.floor();
            let nanos = ((secs - whole) * 1e9).round() as u32;
            let instant = DateTime::from_timestamp(whole as i64, nanos.min(999_999_999))
                .ok_or_else(|| format!("Epoch value out of range: {secs}"))?;
            Ok(zone.at(instant))
        }
        DateInput::Text(s) => {
            let parsed = match existing_format {
                Some(fmt) => parse_with_pattern(s, fmt)?,
                None => parse_iso(s)
                    .ok_or_else(|| format!("Text '{s}' could not be parsed as a date"))?,
            };
            parsed
                .resolve(zone)
                .ok_or_else(|| format!("Text '{s}' could not be parsed as a date"))
        }
    }
}

#[derive(Debug, Default, Clone)]
struct Parsed {
    year: Option<i32>,
    month: Option<u32>,
    day: Option<u32>,
    day_of_year: Option<u32>,
    hour: Option<u32>,
    hour12: Option<u32>,
    pm: Option<bool>,
    minute: Option<u32>,
    second: Option<u32>,
    nano: Option<u32>,
    offset: Option<i32>,
    zone: Option<Zone>,
    epoch: Option<i64>,
}

impl Parsed {
    fn resolve(self, default_zone: &Zone) -> Option<Zdt> {
        if let Some(e) = self.epoch {
            return Some(default_zone.at(DateTime::from_timestamp(e, 0)?));
        }
        let date = match (self.year, self.month, self.day, self.day_of_year) {
            (Some(y), Some(m), Some(d), _) => NaiveDate::from_ymd_opt(y, m, d)?,
            (Some(y), _, _, Some(doy)) => NaiveDate::from_yo_opt(y, doy)?,
            _ => return None,
        };
        let hour = match (self.hour, self.hour12, self.pm) {
            (Some(h), _, _) => Some(if h == 24 { 0 } else { h }),
            (None, Some(h), pm) => Some(h % 12 + if pm == Some(true) { 12 } else { 0 }),
            _ => None,
        };
        let time = match hour {
            Some(h) => NaiveTime::from_hms_nano_opt(
                h,
                self.minute.unwrap_or(0),
                self.second.unwrap_or(0),
                self.nano.unwrap_or(0),
            )?,
            None => NaiveTime::MIN,
        };
        let local = NaiveDateTime::new(date, time);
        let zdt = match (self.offset, &self.zone) {
            (_, Some(z)) => z.at_local(local),
            (Some(off), None) => {
                let z = Zone::Fixed(FixedOffset::east_opt(off)?, format_offset_id(off));
                z.at_local(local)
            }
            (None, None) => return Some(default_zone.at_local(local)),
        };
        Some(default_zone.at(zdt.instant))
    }
}

/// Parses `ZonedDateTime`, `LocalDateTime` and `LocalDate` ISO forms
/// (`2024-01-15T10:30:00.5+01:00[Europe/Paris]`, `2024-01-15T10:30Z`, `2024-01-15`).
fn parse_iso(s: &str) -> Option<Parsed> {
    let s = s.trim();
    let mut p = Parsed::default();
    let b = s.as_bytes();
    let mut i = 0;
    let num = |i: &mut usize, n: usize| -> Option<u32> {
        let part = s.get(*i..*i + n)?;
        if !part.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        *i += n;
        part.parse().ok()
    };
    let neg = b.first() == Some(&b'-');
    if neg || b.first() == Some(&b'+') {
        i += 1;
    }
    let ylen = s[i..].bytes().take_while(u8::is_ascii_digit).count();
    if ylen < 4 {
        return None;
    }
    let y = num(&mut i, ylen)? as i32;
    p.year = Some(if neg { -y } else { y });
    (b.get(i) == Some(&b'-')).then_some(())?;
    i += 1;
    p.month = Some(num(&mut i, 2)?);
    (b.get(i) == Some(&b'-')).then_some(())?;
    i += 1;
    p.day = Some(num(&mut i, 2)?);
    if i == b.len() {
        return Some(p);
    }
    if !matches!(b.get(i), Some(b'T' | b't' | b' ')) {
        return None;
    }
    i += 1;
    p.hour = Some(num(&mut i, 2)?);
    (b.get(i) == Some(&b':')).then_some(())?;
    i += 1;
    p.minute = Some(num(&mut i, 2)?);
    if b.get(i) == Some(&b':') {
        i += 1;
        p.second = Some(num(&mut i, 2)?);
        if b.get(i) == Some(&b'.') || b.get(i) == Some(&b',') {
            i += 1;
            let n = s[i..].bytes().take_while(u8::is_ascii_digit).count();
            if n == 0 || n > 9 {
                return None;
            }
            let frac = &s[i..i + n];
            p.nano = Some(frac.parse::<u32>().ok()? * 10u32.pow(9 - n as u32));
            i += n;
        }
    }
    if i == b.len() {
        return Some(p);
    }
    match b[i] {
        b'Z' | b'z' => {
            p.offset = Some(0);
            i += 1;
        }
        b'+' | b'-' => {
            let end = s[i..].find('[').map_or(s.len(), |e| i + e);
            let off = parse_offset_id(&s[i..end])?;
            p.offset = Some(off.local_minus_utc());
            i = end;
        }
        _ => {}
    }
    if b.get(i) == Some(&b'[') {
        let end = s[i..].find(']')? + i;
        let zone = Zone::parse(&s[i + 1..end]).ok()?;
        if let Zone::Region(_) = zone {
            p.zone = Some(zone);
        }
        i = end + 1;
    }
    (i == b.len()).then_some(p)
}

// ---------------------------------------------------------------------------------
// Patterns
// ---------------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq)]
enum Item {
    Lit(String),
    Field(char, usize),
    Optional(Vec<Item>),
}

const LETTERS: &str = "GuyDMLdQqYwWEecFaBhKkHmsSAnNVvzOXxZ";

fn compile(pattern: &str) -> Result<Vec<Item>, String> {
    let chars: Vec<char> = pattern.chars().collect();
    let mut stack: Vec<Vec<Item>> = vec![Vec::new()];
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let top = stack.last_mut().ok_or("invalid pattern")?;
        if c.is_ascii_alphabetic() {
            if !LETTERS.contains(c) {
                return Err(format!("Unknown pattern letter: {c}"));
            }
            let mut n = 1;
            while i + n < chars.len() && chars[i + n] == c {
                n += 1;
            }
            top.push(Item::Field(c, n));
            i += n;
            continue;
        }
        match c {
            '\'' => {
                let mut lit = String::new();
                i += 1;
                if chars.get(i) == Some(&'\'') {
                    top.push(Item::Lit("'".into()));
                    i += 1;
                    continue;
                }
                loop {
                    match chars.get(i) {
                        None => {
                            return Err(format!(
                                "Pattern ends with an incomplete string literal: {pattern}"
                            ));
                        }
                        Some('\'') if chars.get(i + 1) == Some(&'\'') => {
                            lit.push('\'');
                            i += 2;
                        }
                        Some('\'') => {
                            i += 1;
                            break;
                        }
                        Some(ch) => {
                            lit.push(*ch);
                            i += 1;
                        }
                    }
                }
                top.push(Item::Lit(lit));
                continue;
            }
            '[' => stack.push(Vec::new()),
            ']' => {
                if stack.len() < 2 {
                    return Err(format!(
                        "Pattern invalid as it contains ] without previous [: {pattern}"
                    ));
                }
                let inner = stack.pop().unwrap_or_default();
                stack
                    .last_mut()
                    .ok_or("invalid pattern")?
                    .push(Item::Optional(inner));
            }
            '{' | '}' | '#' => return Err(format!("Pattern includes reserved character: '{c}'")),
            c => top.push(Item::Lit(c.to_string())),
        }
        i += 1;
    }
    while stack.len() > 1 {
        let inner = stack.pop().unwrap_or_default();
        stack
            .last_mut()
            .ok_or("invalid pattern")?
            .push(Item::Optional(inner));
    }
    Ok(stack.pop().unwrap_or_default())
}

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const DAYS: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];

fn pad(n: i64, width: usize) -> String {
    if n < 0 {
        format!("-{:0width$}", n.unsigned_abs())
    } else {
        format!("{n:0width$}")
    }
}

fn text_form(full: &str, count: usize) -> String {
    match count {
        4 => full.to_owned(),
        5 => full.chars().take(1).collect(),
        _ => full.chars().take(3).collect(),
    }
}

fn offset_str(secs: i32, colon: bool, with_minutes: bool, z_for_zero: bool) -> String {
    if secs == 0 && z_for_zero {
        return "Z".into();
    }
    let sign = if secs < 0 { '-' } else { '+' };
    let a = secs.unsigned_abs();
    let (h, m, s) = (a / 3600, a / 60 % 60, a % 60);
    let mut out = format!("{sign}{h:02}");
    if with_minutes || m != 0 || s != 0 {
        if colon {
            out.push(':');
        }
        out.push_str(&format!("{m:02}"));
    }
    if s != 0 {
        if colon {
            out.push(':');
        }
        out.push_str(&format!("{s:02}"));
    }
    out
}

fn gmt_str(secs: i32, long: bool) -> String {
    if secs == 0 {
        return "GMT".into();
    }
    let sign = if secs < 0 { '-' } else { '+' };
    let a = secs.unsigned_abs();
    let (h, m) = (a / 3600, a / 60 % 60);
    if long {
        format!("GMT{sign}{h:02}:{m:02}")
    } else if m == 0 {
        format!("GMT{sign}{h}")
    } else {
        format!("GMT{sign}{h}:{m:02}")
    }
}

fn format_field(out: &mut String, z: &Zdt, c: char, n: usize) -> Result<(), String> {
    let d = &z.local;
    let year = i64::from(d.year());
    match c {
        'G' => out.push_str(match n {
            4 => {
                if year > 0 {
                    "Anno Domini"
                } else {
                    "Before Christ"
                }
            }
            5 => {
                if year > 0 {
                    "A"
                } else {
                    "B"
                }
            }
            _ => {
                if year > 0 {
                    "AD"
                } else {
                    "BC"
                }
            }
        }),
        'y' | 'u' | 'Y' => {
            let y = if c == 'Y' {
                i64::from(d.iso_week().year())
            } else {
                year
            };
            let y = if c == 'y' && y <= 0 { 1 - y } else { y };
            if n == 2 {
                out.push_str(&pad(y.rem_euclid(100), 2));
            } else {
                out.push_str(&pad(y, n));
            }
        }
        'D' => out.push_str(&pad(i64::from(d.ordinal()), n)),
        'M' | 'L' => match n {
            1 | 2 => out.push_str(&pad(i64::from(d.month()), n)),
            _ => out.push_str(&text_form(MONTHS[d.month0() as usize], n)),
        },
        'd' => out.push_str(&pad(i64::from(d.day()), n)),
        'Q' | 'q' => {
            let q = (d.month0() / 3 + 1) as i64;
            match n {
                1 | 2 => out.push_str(&pad(q, n)),
                3 => out.push_str(&format!("Q{q}")),
                4 => out.push_str(
                    ["1st quarter", "2nd quarter", "3rd quarter", "4th quarter"][(q - 1) as usize],
                ),
                _ => out.push_str(&q.to_string()),
            }
        }
        'w' => out.push_str(&pad(i64::from(d.iso_week().week()), n)),
        'W' => out.push_str(&pad(
            i64::from(
                (d.day()
                    + d.with_day(1)
                        .map_or(0, |f| f.weekday().num_days_from_monday())
                    - 1)
                    / 7
                    + 1,
            ),
            n,
        )),
        'E' => out.push_str(&text_form(
            DAYS[d.weekday().num_days_from_monday() as usize],
            n,
        )),
        'e' | 'c' => match n {
            1 | 2 => out.push_str(&pad(i64::from(d.weekday().number_from_sunday()), n)),
            _ => out.push_str(&text_form(
                DAYS[d.weekday().num_days_from_monday() as usize],
                n,
            )),
        },
        'F' => out.push_str(&pad(i64::from((d.day() - 1) / 7 + 1), n)),
        'a' => out.push_str(if d.hour() < 12 { "AM" } else { "PM" }),
        'B' => out.push_str(match d.hour() {
            6..=11 => "in the morning",
            12..=17 => "in the afternoon",
            18..=20 => "in the evening",
            _ => "at night",
        }),
        'h' => out.push_str(&pad(i64::from((d.hour() + 11) % 12 + 1), n)),
        'K' => out.push_str(&pad(i64::from(d.hour() % 12), n)),
        'k' => out.push_str(&pad(
            i64::from(if d.hour() == 0 { 24 } else { d.hour() }),
            n,
        )),
        'H' => out.push_str(&pad(i64::from(d.hour()), n)),
        'm' => out.push_str(&pad(i64::from(d.minute()), n)),
        's' => out.push_str(&pad(i64::from(d.second()), n)),
        'S' => {
            let nanos = format!("{:09}", d.nanosecond() % 1_000_000_000);
            if n <= 9 {
                out.push_str(&nanos[..n]);
            } else {
                out.push_str(&nanos);
                out.push_str(&"0".repeat(n - 9));
            }
        }
        'A' => out.push_str(&pad(
            i64::from(d.num_seconds_from_midnight()) * 1000 + i64::from(d.nanosecond() / 1_000_000),
            n,
        )),
        'n' => out.push_str(&pad(i64::from(d.nanosecond() % 1_000_000_000), n)),
        'N' => out.push_str(&pad(
            i64::from(d.num_seconds_from_midnight()) * 1_000_000_000
                + i64::from(d.nanosecond() % 1_000_000_000),
            n,
        )),
        'V' => {
            if n != 2 {
                return Err("Pattern letter count must be 2: V".into());
            }
            out.push_str(&z.zone_id);
        }
        'v' | 'z' => out.push_str(&z.abbr),
        'O' => out.push_str(&gmt_str(z.offset, n == 4)),
        'X' | 'x' => {
            let zero = c == 'X';
            out.push_str(&match n {
                1 => offset_str(z.offset, false, false, zero),
                2 | 4 => offset_str(z.offset, false, true, zero),
                _ => offset_str(z.offset, true, true, zero),
            });
        }
        'Z' => out.push_str(&match n {
            1..=3 => offset_str(z.offset, false, true, false),
            4 => gmt_str(z.offset, true),
            _ => offset_str(z.offset, true, true, true),
        }),
        other => return Err(format!("Unknown pattern letter: {other}")),
    }
    Ok(())
}

fn format_items(out: &mut String, z: &Zdt, items: &[Item]) -> Result<(), String> {
    for it in items {
        match it {
            Item::Lit(s) => out.push_str(s),
            Item::Field(c, n) => format_field(out, z, *c, *n)?,
            Item::Optional(inner) => format_items(out, z, inner)?,
        }
    }
    Ok(())
}

fn iso_local_time(z: &Zdt) -> String {
    let d = &z.local;
    let mut s = format!("{:02}:{:02}:{:02}", d.hour(), d.minute(), d.second());
    let nanos = d.nanosecond() % 1_000_000_000;
    if nanos != 0 {
        let mut f = format!("{nanos:09}");
        while f.ends_with('0') {
            f.pop();
        }
        s.push('.');
        s.push_str(&f);
    }
    s
}

fn iso_local_date(z: &Zdt) -> String {
    let y = z.local.year();
    let year = if (0..=9999).contains(&y) {
        format!("{y:04}")
    } else {
        format!("{y:+05}")
    };
    format!("{year}-{:02}-{:02}", z.local.month(), z.local.day())
}

fn zoned_suffix(z: &Zdt) -> String {
    let mut s = offset_str(z.offset, true, true, true);
    if z.region {
        s.push('[');
        s.push_str(&z.zone_id);
        s.push(']');
    }
    s
}

/// Formats `z` with a Kestra named format or a Java pattern.
pub(crate) fn format(z: &Zdt, format: &str) -> Result<String, String> {
    let off = || offset_str(z.offset, true, true, true);
    Ok(match format {
        "iso" => return format_pattern(z, "yyyy-MM-dd'T'HH:mm:ss.SSSSSSXXX"),
        "iso_sec" => return format_pattern(z, "yyyy-MM-dd'T'HH:mm:ssXXX"),
        "sql" => return format_pattern(z, "yyyy-MM-dd HH:mm:ss.SSSSSS"),
        "sql_seq" => return format_pattern(z, "yyyy-MM-dd HH:mm:ss"),
        "iso_local_date" => iso_local_date(z),
        "iso_date" => format!("{}{}", iso_local_date(z), off()),
        "iso_local_time" => iso_local_time(z),
        "iso_time" | "iso_offset_time" => format!("{}{}", iso_local_time(z), off()),
        "iso_local_date_time" => format!("{}T{}", iso_local_date(z), iso_local_time(z)),
        "iso_offset_date_time" => format!("{}T{}{}", iso_local_date(z), iso_local_time(z), off()),
        "iso_date_time" | "iso_zoned_date_time" => {
            format!(
                "{}T{}{}",
                iso_local_date(z),
                iso_local_time(z),
                zoned_suffix(z)
            )
        }
        "iso_instant" => {
            let utc = Zone::utc().at(z.instant);
            let nanos = utc.local.nanosecond() % 1_000_000_000;
            let frac = if nanos == 0 {
                String::new()
            } else if nanos.is_multiple_of(1_000_000) {
                format!(".{:03}", nanos / 1_000_000)
            } else if nanos.is_multiple_of(1000) {
                format!(".{:06}", nanos / 1000)
            } else {
                format!(".{nanos:09}")
            };
            format!(
                "{}T{:02}:{:02}:{:02}{frac}Z",
                iso_local_date(&utc),
                utc.local.hour(),
                utc.local.minute(),
                utc.local.second()
            )
        }
        "iso_ordinal_date" => format!("{:04}-{:03}{}", z.local.year(), z.local.ordinal(), off()),
        "iso_week_date" => {
            let w = z.local.iso_week();
            format!(
                "{:04}-W{:02}-{}{}",
                w.year(),
                w.week(),
                z.local.weekday().number_from_monday(),
                off()
            )
        }
        "rfc_1123_date_time" => {
            let o = if z.offset == 0 {
                "GMT".to_owned()
            } else {
                offset_str(z.offset, false, true, false)
            };
            format!("{} {}", format_pattern(z, "EEE, d MMM yyyy HH:mm:ss")?, o)
        }
        "short" => return format_pattern(z, "M/d/yy, h:mm a"),
        "medium" => return format_pattern(z, "MMM d, y, h:mm:ss a"),
        "long" => return format_pattern(z, "MMMM d, y 'at' h:mm:ss a z"),
        "full" => return format_pattern(z, "EEEE, MMMM d, y 'at' h:mm:ss a zzzz"),
        pattern => return format_pattern(z, pattern),
    })
}

fn format_pattern(z: &Zdt, pattern: &str) -> Result<String, String> {
    let items = compile(pattern)?;
    let mut out = String::new();
    format_items(&mut out, z, &items)?;
    Ok(out)
}

// ---------------------------------------------------------------------------------
// Parsing with a pattern (existingFormat)
// ---------------------------------------------------------------------------------

struct Cursor<'s> {
    s: &'s str,
    pos: usize,
}

fn is_numeric_field(it: Option<&Item>) -> bool {
    matches!(it, Some(Item::Field(c, n)) if "yuDdHhKkmsSnAN".contains(*c) || ("ML".contains(*c) && *n <= 2))
}

fn parse_items(cur: &mut Cursor<'_>, items: &[Item], p: &mut Parsed) -> Result<(), String> {
    for (idx, it) in items.iter().enumerate() {
        match it {
            Item::Lit(l) => {
                if cur.s[cur.pos..].starts_with(l.as_str()) {
                    cur.pos += l.len();
                } else {
                    return Err(format!("expected '{l}' at index {}", cur.pos));
                }
            }
            Item::Optional(inner) => {
                let (save_pos, save) = (cur.pos, p.clone());
                if parse_items(cur, inner, p).is_err() {
                    cur.pos = save_pos;
                    *p = save;
                }
            }
            Item::Field(c, n) => {
                let adjacent = is_numeric_field(items.get(idx + 1));
                parse_field(cur, *c, *n, adjacent, p)?;
            }
        }
    }
    Ok(())
}

fn take_digits(cur: &mut Cursor<'_>, min: usize, max: usize) -> Result<u64, String> {
    let rest = &cur.s[cur.pos..];
    let n = rest
        .bytes()
        .take(max)
        .take_while(u8::is_ascii_digit)
        .count();
    if n < min {
        return Err(format!("expected a number at index {}", cur.pos));
    }
    let v = rest[..n].parse::<u64>().map_err(|e| e.to_string())?;
    cur.pos += n;
    Ok(v)
}

fn take_name(cur: &mut Cursor<'_>, names: &[&str], count: usize) -> Result<usize, String> {
    let rest = cur.s[cur.pos..].to_ascii_lowercase();
    let mut best: Option<(usize, usize)> = None;
    for (i, full) in names.iter().enumerate() {
        let form = text_form(full, count).to_ascii_lowercase();
        for cand in [full.to_ascii_lowercase(), form] {
            if !cand.is_empty()
                && rest.starts_with(&cand)
                && best.is_none_or(|(_, l)| cand.len() > l)
            {
                best = Some((i, cand.len()));
            }
        }
    }
    let (i, len) = best.ok_or_else(|| format!("expected a name at index {}", cur.pos))?;
    cur.pos += len;
    Ok(i)
}

fn parse_offset_at(cur: &mut Cursor<'_>, allow_z: bool) -> Result<i32, String> {
    let rest = &cur.s[cur.pos..];
    if allow_z && (rest.starts_with('Z') || rest.starts_with('z')) {
        cur.pos += 1;
        return Ok(0);
    }
    let rest_gmt = rest
        .strip_prefix("GMT")
        .or_else(|| rest.strip_prefix("UTC"));
    let (skip, body) = match rest_gmt {
        Some(r) if !r.starts_with(['+', '-']) => {
            cur.pos += 3;
            return Ok(0);
        }
        Some(r) => (3, r),
        None => (0, rest),
    };
    let len = body
        .char_indices()
        .take_while(|(i, c)| {
            (*i == 0 && (*c == '+' || *c == '-')) || (*i > 0 && (c.is_ascii_digit() || *c == ':'))
        })
        .count();
    let off = parse_offset_id(&body[..len])
        .ok_or_else(|| format!("expected an offset at index {}", cur.pos))?;
    cur.pos += skip + len;
    Ok(off.local_minus_utc())
}

fn parse_field(
    cur: &mut Cursor<'_>,
    c: char,
    n: usize,
    adjacent: bool,
    p: &mut Parsed,
) -> Result<(), String> {
    let (min, max) = if adjacent { (n, n) } else { (1, 10) };
    match c {
        'y' | 'u' | 'Y' => {
            if n == 2 {
                p.year = Some(2000 + take_digits(cur, 2, 2)? as i32);
            } else {
                let neg = cur.s[cur.pos..].starts_with('-');
                if neg {
                    cur.pos += 1;
                }
                let y = take_digits(cur, min.max(1), max)? as i32;
                p.year = Some(if neg { -y } else { y });
            }
        }
        'M' | 'L' => {
            if n <= 2 {
                p.month = Some(take_digits(cur, min, max.min(2).max(min))? as u32);
            } else {
                p.month = Some(take_name(cur, &MONTHS, n)? as u32 + 1);
            }
        }
        'd' => p.day = Some(take_digits(cur, min, max.min(2).max(min))? as u32),
        'D' => p.day_of_year = Some(take_digits(cur, min, max.min(3).max(min))? as u32),
        'H' | 'k' => p.hour = Some(take_digits(cur, min, max.min(2).max(min))? as u32),
        'h' | 'K' => p.hour12 = Some(take_digits(cur, min, max.min(2).max(min))? as u32),
        'm' => p.minute = Some(take_digits(cur, min, max.min(2).max(min))? as u32),
        's' => p.second = Some(take_digits(cur, min, max.min(2).max(min))? as u32),
        'S' => {
            let start = cur.pos;
            let v = take_digits(cur, n, n)?;
            let digits = cur.pos - start;
            p.nano = Some((v * 10u64.pow(9u32.saturating_sub(digits as u32))) as u32);
        }
        'n' => p.nano = Some(take_digits(cur, 1, 9)? as u32),
        'a' => {
            let rest = cur.s[cur.pos..].to_ascii_uppercase();
            if rest.starts_with("AM") {
                p.pm = Some(false);
            } else if rest.starts_with("PM") {
                p.pm = Some(true);
            } else {
                return Err(format!("expected AM/PM at index {}", cur.pos));
            }
            cur.pos += 2;
        }
        'E' => {
            take_name(cur, &DAYS, n)?;
        }
        'e' | 'c' => {
            if n <= 2 {
                take_digits(cur, 1, 2)?;
            } else {
                take_name(cur, &DAYS, n)?;
            }
        }
        'G' => {
            let rest = &cur.s[cur.pos..];
            let len = ["Anno Domini", "AD", "BC", "A", "B"]
                .iter()
                .find(|e| rest.starts_with(**e))
                .map_or(0, |e| e.len());
            cur.pos += len;
        }
        'X' => p.offset = Some(parse_offset_at(cur, true)?),
        'x' | 'Z' | 'O' => p.offset = Some(parse_offset_at(cur, true)?),
        'V' | 'z' | 'v' => {
            let rest = &cur.s[cur.pos..];
            let len = rest
                .char_indices()
                .take_while(|(_, ch)| ch.is_ascii_alphanumeric() || "/_+-:".contains(*ch))
                .count();
            let id = &rest[..len];
            let zone = Zone::parse(id).map_err(|e| e.to_string())?;
            cur.pos += len;
            p.zone = Some(zone);
        }
        'A' | 'N' | 'F' | 'w' | 'W' | 'Q' | 'q' | 'B' => {
            take_digits(cur, 1, 19)?;
        }
        other => return Err(format!("Unsupported pattern letter for parsing: {other}")),
    }
    Ok(())
}

fn parse_with_pattern(s: &str, fmt: &str) -> Result<Parsed, String> {
    let iso_like = match fmt {
        "iso"
        | "iso_sec"
        | "iso_date_time"
        | "iso_zoned_date_time"
        | "iso_offset_date_time"
        | "iso_local_date_time"
        | "iso_local_date"
        | "iso_date"
        | "iso_instant" => true,
        "sql" => return parse_with_pattern(s, "yyyy-MM-dd HH:mm:ss[.SSSSSS]"),
        "sql_seq" => return parse_with_pattern(s, "yyyy-MM-dd HH:mm:ss"),
        _ => false,
    };
    if iso_like {
        return parse_iso(s)
            .ok_or_else(|| format!("Text '{s}' could not be parsed with the format '{fmt}'"));
    }
    let items = compile(fmt)?;
    let mut cur = Cursor { s, pos: 0 };
    let mut p = Parsed::default();
    parse_items(&mut cur, &items, &mut p)
        .map_err(|e| format!("Text '{s}' could not be parsed with the format '{fmt}': {e}"))?;
    if cur.pos != s.len() {
        return Err(format!(
            "Text '{s}' could not be parsed with the format '{fmt}', unparsed text found at index {}",
            cur.pos
        ));
    }
    if p.hour.is_none() && p.hour12.is_some() && p.pm.is_none() {
        p.pm = Some(false);
    }
    Ok(p)
}

// ---------------------------------------------------------------------------------
// Arithmetic
// ---------------------------------------------------------------------------------

/// `ZonedDateTime.plus(amount, ChronoUnit.valueOf(unit))`.
pub(crate) fn add(z: &Zdt, amount: i64, unit: &str, zone: &Zone) -> Result<Zdt, String> {
    let overflow = || format!("dateAdd overflow: {amount} {unit}");
    let instant_plus = |d: Option<Duration>| -> Result<Zdt, String> {
        let d = d.ok_or_else(overflow)?;
        Ok(zone.at(z.instant.checked_add_signed(d).ok_or_else(overflow)?))
    };
    let months = |m: i64| -> Result<Zdt, String> {
        let local = if m >= 0 {
            z.local
                .checked_add_months(Months::new(u32::try_from(m).map_err(|_| overflow())?))
        } else {
            z.local
                .checked_sub_months(Months::new(u32::try_from(-m).map_err(|_| overflow())?))
        };
        Ok(zone.at_local(local.ok_or_else(overflow)?))
    };
    let days = |d: i64| -> Result<Zdt, String> {
        let local = z
            .local
            .checked_add_signed(Duration::try_days(d).ok_or_else(overflow)?)
            .ok_or_else(overflow)?;
        Ok(zone.at_local(local))
    };
    match unit {
        "NANOS" => instant_plus(Some(Duration::nanoseconds(amount))),
        "MICROS" => instant_plus(Some(Duration::microseconds(amount))),
        "MILLIS" => instant_plus(Duration::try_milliseconds(amount)),
        "SECONDS" => instant_plus(Duration::try_seconds(amount)),
        "MINUTES" => instant_plus(Duration::try_minutes(amount)),
        "HOURS" => instant_plus(Duration::try_hours(amount)),
        "HALF_DAYS" => instant_plus(amount.checked_mul(12).and_then(Duration::try_hours)),
        "DAYS" => days(amount),
        "WEEKS" => days(amount.checked_mul(7).ok_or_else(overflow)?),
        "MONTHS" => months(amount),
        "YEARS" => months(amount.checked_mul(12).ok_or_else(overflow)?),
        "DECADES" => months(amount.checked_mul(120).ok_or_else(overflow)?),
        "CENTURIES" => months(amount.checked_mul(1200).ok_or_else(overflow)?),
        "MILLENNIA" => months(amount.checked_mul(12000).ok_or_else(overflow)?),
        other => Err(format!(
            "No enum constant java.time.temporal.ChronoUnit.{other}"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str, zone: &str) -> Zdt {
        convert(DateInput::Text(s), &Zone::parse(zone).unwrap(), None).unwrap()
    }

    #[test]
    fn iso_inputs() {
        let z = at("2024-01-15T10:30:00.123456Z", "UTC");
        assert_eq!(format(&z, "iso").unwrap(), "2024-01-15T10:30:00.123456Z");
        let z = at("2024-01-15T10:30:00+01:00", "Europe/Paris");
        assert_eq!(format(&z, "iso_sec").unwrap(), "2024-01-15T10:30:00+01:00");
        assert_eq!(
            format(&z, "iso_date_time").unwrap(),
            "2024-01-15T10:30:00+01:00[Europe/Paris]"
        );
        assert_eq!(format(&z, "iso_instant").unwrap(), "2024-01-15T09:30:00Z");
        let z = at("2024-01-15", "UTC");
        assert_eq!(format(&z, "sql_seq").unwrap(), "2024-01-15 00:00:00");
        assert!(convert(DateInput::Text("nope"), &Zone::utc(), None).is_err());
    }

    #[test]
    fn patterns() {
        let z = at("2024-03-05T14:07:09.5Z", "UTC");
        assert_eq!(format(&z, "EEE, d MMM yyyy").unwrap(), "Tue, 5 Mar 2024");
        assert_eq!(
            format(&z, "EEEE MMMM dd yy").unwrap(),
            "Tuesday March 05 24"
        );
        assert_eq!(format(&z, "h:mm a").unwrap(), "2:07 PM");
        assert_eq!(format(&z, "HH'h'mm''ss").unwrap(), "14h07'09");
        assert_eq!(
            format(&z, "yyyy-MM-dd'T'HH:mm:ss.SSSXXX").unwrap(),
            "2024-03-05T14:07:09.500Z"
        );
        assert_eq!(format(&z, "D Q w").unwrap(), "65 1 10");
        assert!(format(&z, "yyyy-MM-dd ppp").is_err());
        let z = at("2024-07-01T12:00:00Z", "America/New_York");
        assert_eq!(
            format(&z, "HH:mm xxx z VV").unwrap(),
            "08:00 -04:00 EDT America/New_York"
        );
        assert_eq!(format(&z, "Z O").unwrap(), "-0400 GMT-4");
    }

    #[test]
    fn existing_format() {
        let z = convert(
            DateInput::Text("15/01/2024 10:30"),
            &Zone::utc(),
            Some("dd/MM/yyyy HH:mm"),
        )
        .unwrap();
        assert_eq!(format(&z, "iso_sec").unwrap(), "2024-01-15T10:30:00Z");
        let z = convert(DateInput::Text("20240115"), &Zone::utc(), Some("yyyyMMdd")).unwrap();
        assert_eq!(format(&z, "iso_local_date").unwrap(), "2024-01-15");
        let z = convert(
            DateInput::Text("Jan 5, 2024 3:04 PM +0200"),
            &Zone::utc(),
            Some("MMM d, yyyy h:mm a Z"),
        )
        .unwrap();
        assert_eq!(format(&z, "iso_sec").unwrap(), "2024-01-05T13:04:00Z");
        let z = convert(
            DateInput::Text("2024-01-15"),
            &Zone::utc(),
            Some("yyyy-MM-dd[ HH:mm]"),
        )
        .unwrap();
        assert_eq!(format(&z, "iso_sec").unwrap(), "2024-01-15T00:00:00Z");
    }

    #[test]
    fn arithmetic() {
        let zone = Zone::utc();
        let z = at("2024-01-31T10:00:00Z", "UTC");
        assert_eq!(
            format(&add(&z, 1, "MONTHS", &zone).unwrap(), "iso_sec").unwrap(),
            "2024-02-29T10:00:00Z"
        );
        assert_eq!(
            format(&add(&z, -2, "HOURS", &zone).unwrap(), "iso_sec").unwrap(),
            "2024-01-31T08:00:00Z"
        );
        assert_eq!(
            format(&add(&z, 1, "YEARS", &zone).unwrap(), "iso_sec").unwrap(),
            "2025-01-31T10:00:00Z"
        );
        assert!(add(&z, 1, "FORTNIGHTS", &zone).is_err());
        let paris = Zone::parse("Europe/Paris").unwrap();
        let z = convert(DateInput::Text("2024-03-30T12:00:00"), &paris, None).unwrap();
        assert_eq!(
            format(&add(&z, 1, "DAYS", &paris).unwrap(), "iso_sec").unwrap(),
            "2024-03-31T12:00:00+02:00"
        );
    }

    #[test]
    fn zones() {
        assert!(Zone::parse("Mars/Olympus").is_err());
        assert!(matches!(Zone::parse("+05:30").unwrap(), Zone::Fixed(..)));
        assert!(matches!(Zone::parse("GMT+2").unwrap(), Zone::Fixed(..)));
        let z = convert(DateInput::Epoch(0.0), &Zone::parse("+05:30").unwrap(), None).unwrap();
        assert_eq!(format(&z, "iso_sec").unwrap(), "1970-01-01T05:30:00+05:30");
    }
}
