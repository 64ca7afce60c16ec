//! ISO-8601 durations (`PT15M`, `P1DT2H`, `PT0.5S`) as Java's `Duration.parse` accepts them.

use std::fmt;
use std::str::FromStr;

use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A non-calendar duration with millisecond precision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct IsoDuration {
    millis: i64,
}

/// Why a duration did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{text}` is not an ISO-8601 duration (examples: PT30S, PT15M, PT1H30M, P1D)")]
pub struct DurationError {
    text: String,
}

impl IsoDuration {
    /// A duration of `millis` milliseconds.
    pub const fn from_millis(millis: i64) -> Self {
        Self { millis }
    }

    /// A duration of `secs` seconds.
    pub const fn from_secs(secs: i64) -> Self {
        Self {
            millis: secs * 1000,
        }
    }

    /// Milliseconds.
    pub const fn as_millis(&self) -> i64 {
        self.millis
    }

    /// As a `std::time::Duration` (negative durations become zero).
    pub fn to_std(&self) -> std::time::Duration {
        std::time::Duration::from_millis(self.millis.max(0) as u64)
    }

    /// As a `chrono::Duration`.
    pub fn to_chrono(&self) -> chrono::Duration {
        chrono::Duration::milliseconds(self.millis)
    }
}

impl FromStr for IsoDuration {
    type Err = DurationError;

    fn from_str(text: &str) -> Result<Self, DurationError> {
        let err = || DurationError {
            text: text.to_owned(),
        };
        let s = text.trim();
        let (neg, s) = match s.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, s.strip_prefix('+').unwrap_or(s)),
        };
        let s = s
            .strip_prefix('P')
            .or_else(|| s.strip_prefix('p'))
            .ok_or_else(err)?;
        if s.is_empty() {
            return Err(err());
        }
        let (date, time) = match s.find(['T', 't']) {
            Some(i) => (&s[..i], Some(&s[i + 1..])),
            None => (s, None),
        };
        let mut millis: f64 = 0.0;
        let mut any = false;
        let mut parse_part = |part: &str, units: &[(char, f64)]| -> Result<(), DurationError> {
            let mut num = String::new();
            let mut order = 0;
            for c in part.chars() {
                if c.is_ascii_digit() || c == '.' || c == ',' || c == '-' || c == '+' {
                    num.push(if c == ',' { '.' } else { c });
                } else {
                    let u = c.to_ascii_uppercase();
                    let pos = units.iter().position(|(uc, _)| *uc == u).ok_or_else(err)?;
                    if pos < order || num.is_empty() {
                        return Err(err());
                    }
                    order = pos + 1;
                    let v: f64 = num.parse().map_err(|_| err())?;
                    millis += v * units[pos].1;
                    num.clear();
                    any = true;
                }
            }
            if num.is_empty() { Ok(()) } else { Err(err()) }
        };
        parse_part(date, &[('W', 604_800_000.0), ('D', 86_400_000.0)])?;
        if let Some(t) = time {
            if t.is_empty() {
                return Err(err());
            }
            parse_part(t, &[('H', 3_600_000.0), ('M', 60_000.0), ('S', 1_000.0)])?;
        }
        if !any || !millis.is_finite() || millis.abs() > 9.0e15 {
            return Err(err());
        }
        let millis = millis.round() as i64;
        Ok(Self {
            millis: if neg { -millis } else { millis },
        })
    }
}

impl fmt::Display for IsoDuration {
    /// Formats like Java's `Duration.toString()`: `PT1H30M`, `PT0.5S`, `PT0S`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.millis == 0 {
            return f.write_str("PT0S");
        }
        let sign = if self.millis < 0 { "-" } else { "" };
        let total = self.millis.unsigned_abs();
        let hours = total / 3_600_000;
        let minutes = (total / 60_000) % 60;
        let ms = total % 60_000;
        f.write_str("PT")?;
        if hours > 0 {
            write!(f, "{sign}{hours}H")?;
        }
        if minutes > 0 {
            write!(f, "{sign}{minutes}M")?;
        }
        if ms > 0 {
            let secs = ms / 1000;
            let frac = ms % 1000;
            if frac == 0 {
                write!(f, "{sign}{secs}S")?;
            } else {
                let frac = format!("{frac:03}");
                write!(f, "{sign}{secs}.{}S", frac.trim_end_matches('0'))?;
            }
        }
        Ok(())
    }
}

impl Serialize for IsoDuration {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for IsoDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

impl JsonSchema for IsoDuration {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Duration".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "description": "An ISO-8601 duration, e.g. PT30S, PT15M, PT1H, P1D",
            "pattern": "^[-+]?[Pp]([0-9.,]+[WwDd])*([Tt]([0-9.,]+[HhMmSs])+)?$"
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(s: &str) -> i64 {
        s.parse::<IsoDuration>().unwrap().as_millis()
    }

    #[test]
    fn parses_java_durations() {
        assert_eq!(ms("PT15M"), 900_000);
        assert_eq!(ms("PT1H30M"), 5_400_000);
        assert_eq!(ms("P1D"), 86_400_000);
        assert_eq!(ms("P1DT2H"), 93_600_000);
        assert_eq!(ms("PT0.5S"), 500);
        assert_eq!(ms("PT0.001S"), 1);
        assert_eq!(ms("-PT1S"), -1000);
        assert_eq!(ms("pt2s"), 2000);
    }

    #[test]
    fn rejects_garbage() {
        for bad in [
            "", "P", "PT", "15M", "PT1X", "PT1S2H", "P1H", "1 minute", "PTS",
        ] {
            assert!(bad.parse::<IsoDuration>().is_err(), "{bad}");
        }
    }

    #[test]
    fn formats_like_java() {
        for s in ["PT15M", "PT1H30M", "PT0.5S", "PT24H", "PT0S", "PT1M1.25S"] {
            assert_eq!(s.parse::<IsoDuration>().unwrap().to_string(), s);
        }
    }
}
