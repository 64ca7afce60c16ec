//! Java number formatting and parsing used by `numberformat` and `number`.
//!
//! `decimal_format` implements the common subset of `java.text.DecimalFormat` patterns
//! (US symbols): `#` and `0` digits, `,` grouping, `.` fraction, literal prefix/suffix
//! (quoted with `'`), `%` and `‰` multipliers, `E0` scientific notation, and an optional
//! `;negative` sub-pattern. Rounding is `HALF_EVEN` on the exact binary value, like Java.

use minijinja::Error;

use crate::convert::Num;
use crate::error::type_err;

#[derive(Debug, Default)]
struct Pattern {
    prefix: String,
    suffix: String,
    neg_prefix: Option<String>,
    neg_suffix: Option<String>,
    min_int: usize,
    grouping: usize,
    min_frac: usize,
    max_frac: usize,
    show_point: bool,
    multiplier: u32,
    exp_digits: Option<usize>,
}

fn parse_affix(
    chars: &[char],
    i: &mut usize,
    stop_at_number: bool,
    mult: &mut u32,
) -> Result<String, Error> {
    let mut out = String::new();
    while *i < chars.len() {
        let c = chars[*i];
        if stop_at_number && matches!(c, '#' | '0' | ',' | '.') {
            break;
        }
        if !stop_at_number && c == ';' {
            break;
        }
        match c {
            '\'' => {
                *i += 1;
                if chars.get(*i) == Some(&'\'') {
                    out.push('\'');
                    *i += 1;
                    continue;
                }
                while *i < chars.len() && chars[*i] != '\'' {
                    out.push(chars[*i]);
                    *i += 1;
                }
                *i += 1;
                continue;
            }
            '%' => {
                *mult = 100;
                out.push('%');
            }
            '\u{2030}' => {
                *mult = 1000;
                out.push('\u{2030}');
            }
            '\u{a4}' => out.push('$'),
            c => out.push(c),
        }
        *i += 1;
    }
    Ok(out)
}

fn parse_pattern(pattern: &str) -> Result<Pattern, Error> {
    let chars: Vec<char> = pattern.chars().collect();
    let mut p = Pattern {
        multiplier: 1,
        ..Pattern::default()
    };
    let mut i = 0;
    let mut mult = 1;
    p.prefix = parse_affix(&chars, &mut i, true, &mut mult)?;
    let (mut int_digits, mut zeros_int, mut seen_point, mut last_group) =
        (0usize, 0usize, false, None::<usize>);
    while i < chars.len() {
        match chars[i] {
            '#' if !seen_point => int_digits += 1,
            '0' if !seen_point => {
                int_digits += 1;
                zeros_int += 1;
            }
            ',' if !seen_point => last_group = Some(int_digits),
            '.' if !seen_point => seen_point = true,
            '0' => {
                p.min_frac += 1;
                p.max_frac += 1;
            }
            '#' => p.max_frac += 1,
            'E' => {
                i += 1;
                let mut n = 0;
                while i < chars.len() && chars[i] == '0' {
                    n += 1;
                    i += 1;
                }
                p.exp_digits = Some(n.max(1));
                break;
            }
            _ => break,
        }
        i += 1;
    }
    if int_digits == 0 && !seen_point && p.exp_digits.is_none() {
        return Err(type_err(format!("Malformed pattern \"{pattern}\"")));
    }
    p.min_int = zeros_int;
    p.grouping = last_group.map_or(0, |g| int_digits - g);
    p.show_point = seen_point && p.max_frac == 0;
    p.suffix = parse_affix(&chars, &mut i, false, &mut mult)?;
    if chars.get(i) == Some(&';') {
        i += 1;
        let mut m2 = mult;
        let np = parse_affix(&chars, &mut i, true, &mut m2)?;
        while i < chars.len() && matches!(chars[i], '#' | '0' | ',' | '.') {
            i += 1;
        }
        let ns = parse_affix(&chars, &mut i, false, &mut m2)?;
        p.neg_prefix = Some(np);
        p.neg_suffix = Some(ns);
    }
    p.multiplier = mult;
    Ok(p)
}

fn group(int_part: &str, size: usize) -> String {
    if size == 0 || int_part.len() <= size {
        return int_part.to_owned();
    }
    let bytes = int_part.as_bytes();
    let mut out = String::with_capacity(int_part.len() + int_part.len() / size);
    for (i, b) in bytes.iter().enumerate() {
        if i > 0 && (bytes.len() - i).is_multiple_of(size) {
            out.push(',');
        }
        out.push(*b as char);
    }
    out
}

/// Formats `n` with a `DecimalFormat` pattern.
pub(crate) fn decimal_format(n: Num, pattern: &str) -> Result<String, Error> {
    let p = parse_pattern(pattern)?;
    let negative = match n {
        Num::I(i) => i < 0,
        Num::F(f) => f < 0.0 || (f == 0.0 && f.is_sign_negative()),
    };
    if let Num::F(f) = n
        && !f.is_finite()
    {
        return Ok(if f.is_nan() {
            "NaN".into()
        } else if f > 0.0 {
            "∞".into()
        } else {
            "-∞".into()
        });
    }
    let body = if let Some(exp_digits) = p.exp_digits {
        scientific(n.as_f64().abs() * f64::from(p.multiplier), &p, exp_digits)
    } else {
        let (int_part, frac_part) = match n {
            Num::I(i) if p.multiplier == 1 || i.checked_mul(i64::from(p.multiplier)).is_some() => {
                let v = i.unsigned_abs() * u64::from(p.multiplier);
                (v.to_string(), String::new())
            }
            _ => {
                let f = n.as_f64().abs() * f64::from(p.multiplier);
                let s = format!("{f:.prec$}", prec = p.max_frac);
                match s.split_once('.') {
                    Some((a, b)) => (a.to_owned(), b.to_owned()),
                    None => (s, String::new()),
                }
            }
        };
        let mut frac = frac_part;
        while frac.len() > p.min_frac && frac.ends_with('0') {
            frac.pop();
        }
        while frac.len() < p.min_frac {
            frac.push('0');
        }
        let mut int_part = int_part.trim_start_matches('0').to_owned();
        while int_part.len() < p.min_int {
            int_part.insert(0, '0');
        }
        if int_part.is_empty() && frac.is_empty() {
            int_part.push('0');
        }
        let mut s = group(&int_part, p.grouping);
        if !frac.is_empty() || p.show_point {
            s.push('.');
            s.push_str(&frac);
        }
        s
    };
    Ok(if negative {
        match (&p.neg_prefix, &p.neg_suffix) {
            (Some(np), Some(ns)) => format!("{np}{body}{ns}"),
            _ => format!("-{}{body}{}", p.prefix, p.suffix),
        }
    } else {
        format!("{}{body}{}", p.prefix, p.suffix)
    })
}

fn scientific(f: f64, p: &Pattern, exp_digits: usize) -> String {
    let int_digits = p.min_int.max(1) as i32;
    let (mut mant, mut exp) = if f == 0.0 {
        (0.0, 0)
    } else {
        let e = f.log10().floor() as i32 - (int_digits - 1);
        (f / 10f64.powi(e), e)
    };
    let mut s = format!("{mant:.prec$}", prec = p.max_frac);
    if s.split('.')
        .next()
        .is_some_and(|i| i.len() as i32 > int_digits)
    {
        mant /= 10.0;
        exp += 1;
        s = format!("{mant:.prec$}", prec = p.max_frac);
    }
    let (i, fr) = s
        .split_once('.')
        .map_or((s.clone(), String::new()), |(a, b)| {
            (a.to_owned(), b.to_owned())
        });
    let mut fr = fr;
    while fr.len() > p.min_frac && fr.ends_with('0') {
        fr.pop();
    }
    let mut out = i;
    if !fr.is_empty() {
        out.push('.');
        out.push_str(&fr);
    }
    out.push('E');
    if exp < 0 {
        out.push('-');
    }
    out.push_str(&format!(
        "{:0width$}",
        exp.unsigned_abs(),
        width = exp_digits
    ));
    out
}

/// Kestra's `number` filter: `NumberUtils.createNumber` (auto) or a given type.
pub(crate) fn parse_number(s: &str, kind: &str) -> Result<Num, Error> {
    let bad = || type_err(format!("{s} is not a valid number"));
    let t = s.trim();
    let parse_int = |t: &str| -> Option<i64> {
        let (neg, digits) = match t.strip_prefix('-') {
            Some(d) => (true, d),
            None => (false, t.strip_prefix('+').unwrap_or(t)),
        };
        let v = if let Some(h) = digits
            .strip_prefix("0x")
            .or_else(|| digits.strip_prefix("0X"))
            .or_else(|| digits.strip_prefix('#'))
        {
            i64::from_str_radix(h, 16).ok()?
        } else {
            digits.parse::<i64>().ok()?
        };
        Some(if neg { -v } else { v })
    };
    let parse_float = |t: &str| -> Option<f64> {
        let t = t.strip_suffix(['f', 'F', 'd', 'D']).unwrap_or(t);
        if t.is_empty() || t.contains(|c: char| c.is_ascii_alphabetic() && c != 'e' && c != 'E') {
            return None;
        }
        t.parse::<f64>().ok()
    };
    match kind.to_ascii_uppercase().as_str() {
        "INT" => parse_int(t)
            .filter(|i| i32::try_from(*i).is_ok())
            .map(Num::I)
            .ok_or_else(bad),
        "LONG" | "BIGINTEGER" => parse_int(t.strip_suffix(['l', 'L']).unwrap_or(t))
            .map(Num::I)
            .ok_or_else(bad),
        "FLOAT" | "DOUBLE" | "BIGDECIMAL" => parse_float(t).map(Num::F).ok_or_else(bad),
        "" => {
            if let Some(i) = parse_int(t.strip_suffix(['l', 'L']).unwrap_or(t)) {
                return Ok(Num::I(i));
            }
            parse_float(t).map(Num::F).ok_or_else(bad)
        }
        other => Err(type_err(format!("Unknown number type '{other}'"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fmt(n: f64, p: &str) -> String {
        decimal_format(Num::F(n), p).unwrap()
    }

    #[test]
    fn decimal_patterns() {
        assert_eq!(fmt(1.23456, "#.##"), "1.23");
        assert_eq!(fmt(3.0, "#.##"), "3");
        assert_eq!(fmt(0.5, "#.##"), ".5");
        assert_eq!(fmt(0.0, "#.##"), "0");
        assert_eq!(fmt(3.1, "0.00"), "3.10");
        assert_eq!(fmt(1234567.891, "#,###"), "1,234,568");
        assert_eq!(fmt(1234567.891, "#,##0.00"), "1,234,567.89");
        assert_eq!(fmt(-1234.5, "#,##0.0"), "-1,234.5");
        assert_eq!(fmt(0.125, "0.00"), "0.12");
        assert_eq!(fmt(0.256, "#%"), "26%");
        assert_eq!(fmt(12345.0, "0.###E0"), "1.234E4");
        assert_eq!(fmt(5.0, "'$'#,##0.00"), "$5.00");
        assert_eq!(
            decimal_format(Num::I(1_234_567), "#,##0.###").unwrap(),
            "1,234,567"
        );
        assert_eq!(decimal_format(Num::I(7), "000").unwrap(), "007");
    }

    #[test]
    fn number_parsing() {
        assert_eq!(parse_number("42", "").unwrap(), Num::I(42));
        assert_eq!(parse_number("4.5", "").unwrap(), Num::F(4.5));
        assert_eq!(parse_number("0x1F", "").unwrap(), Num::I(31));
        assert_eq!(parse_number("12", "DOUBLE").unwrap(), Num::F(12.0));
        assert!(parse_number("3000000000", "INT").is_err());
        assert!(parse_number("abc", "").is_err());
    }
}
