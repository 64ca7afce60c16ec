//! String filters: case, trimming, `replace` (Kestra: pairs map + `regexp=true`),
//! `split` (Java `String.split` regex semantics), `abbreviate`, `slugify`,
//! `substringBefore/After[Last]`, `startsWith`/`endsWith`, `escapeChar`,
//! `indent`/`nindent`, `urlencode`/`urldecode`, `escape`, `raw`, `default`.

use std::cell::RefCell;
use std::collections::HashMap;

use fancy_regex::Regex;
use minijinja::value::ValueKind;
use minijinja::{Environment, Error, Value};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};
use unicode_normalization::UnicodeNormalization;

use super::{ArgList, add_filter};
use crate::convert::{is_map, is_seq, map_pairs, map_value, seq_items, seq_value, text};
use crate::error::{func_err, type_err};
use crate::runtime::{check_len, is_empty};

pub(crate) fn register(env: &mut Environment<'static>) {
    add_filter(env, "default", &["default"], true, |v, a| {
        Ok(if is_empty(v) {
            a.get(0).cloned().unwrap_or_default()
        } else {
            v.clone()
        })
    });
    add_filter(env, "upper", &[], false, |v, _| {
        map_str(v, |s| Ok(s.to_uppercase()))
    });
    add_filter(env, "lower", &[], false, |v, _| {
        map_str(v, |s| Ok(s.to_lowercase()))
    });
    add_filter(env, "capitalize", &[], false, |v, _| {
        map_str(v, |s| Ok(capitalize(s)))
    });
    add_filter(env, "title", &[], false, |v, _| {
        map_str(v, |s| Ok(title(s)))
    });
    add_filter(env, "trim", &[], false, |v, _| {
        map_str(v, |s| Ok(s.trim().to_owned()))
    });
    add_filter(env, "raw", &[], false, |v, _| Ok(v.clone()));
    add_filter(env, "escape", &["strategy"], false, |v, a| {
        let strategy = a.str(0).unwrap_or_else(|| "html".into());
        map_str(v, |s| escape(s, &strategy))
    });
    add_filter(env, "replace", &["replace_pairs", "regexp"], false, replace);
    add_filter(env, "split", &["delimiter", "limit"], false, |v, a| {
        if v.is_none() {
            return Ok(Value::from(()));
        }
        let delim = a.req_str(0)?;
        let limit = a.int(1)?.unwrap_or(0);
        let parts = java_split(&text(v), &delim, limit)?;
        Ok(seq_value(parts.into_iter().map(Value::from).collect()))
    });
    add_filter(env, "abbreviate", &["length"], false, |v, a| {
        let max = a.req_int(0)?;
        if max < 0 {
            return Err(type_err(
                "Invalid argument to abbreviate filter; must be greater than zero",
            ));
        }
        map_str(v, |s| Ok(abbreviate(s, max as usize)))
    });
    add_filter(env, "slugify", &[], false, |v, _| {
        map_str(v, |s| Ok(slugify(s)))
    });
    add_filter(env, "substringBefore", &["separator"], false, |v, a| {
        let sep = a.str(0).unwrap_or_default();
        map_str(v, |s| {
            Ok(if sep.is_empty() {
                String::new()
            } else {
                s.find(&sep).map_or(s, |i| &s[..i]).to_owned()
            })
        })
    });
    add_filter(env, "substringBeforeLast", &["separator"], false, |v, a| {
        let sep = a.str(0).unwrap_or_default();
        map_str(v, |s| {
            Ok(if sep.is_empty() {
                s.to_owned()
            } else {
                s.rfind(&sep).map_or(s, |i| &s[..i]).to_owned()
            })
        })
    });
    add_filter(env, "substringAfter", &["separator"], false, |v, a| {
        let sep = a.str(0).unwrap_or_default();
        map_str(v, |s| {
            Ok(s.find(&sep)
                .filter(|_| !sep.is_empty())
                .map_or("", |i| &s[i + sep.len()..])
                .to_owned())
        })
    });
    add_filter(env, "substringAfterLast", &["separator"], false, |v, a| {
        let sep = a.str(0).unwrap_or_default();
        map_str(v, |s| {
            Ok(s.rfind(&sep)
                .filter(|_| !sep.is_empty())
                .map_or("", |i| &s[i + sep.len()..])
                .to_owned())
        })
    });
    add_filter(env, "startsWith", &["value"], false, |v, a| {
        let p = a.req_str(0)?;
        Ok(if v.is_none() {
            Value::from(())
        } else {
            Value::from(text(v).starts_with(&p))
        })
    });
    add_filter(env, "endsWith", &["value"], false, |v, a| {
        let p = a.req_str(0)?;
        Ok(if v.is_none() {
            Value::from(())
        } else {
            Value::from(text(v).ends_with(&p))
        })
    });
    add_filter(env, "escapeChar", &["type"], false, |v, a| {
        let kind = a
            .str(0)
            .ok_or_else(|| func_err("The 'escapeChar' filter expects an argument 'type'."))?;
        let (from, to) = match kind.to_ascii_lowercase().as_str() {
            "single" => ("'", "\\'"),
            "double" => ("\"", "\\\""),
            "shell" => ("'", "'\\''"),
            _ => {
                return Err(func_err(
                    "The 'escapeChar' filter expects the value of 'type' to be either 'single', 'double', or 'shell'.",
                ));
            }
        };
        deep_map_str(v, &|s| Ok(s.replace(from, to)))
    });
    add_filter(env, "indent", &["amount", "prefix"], false, |v, a| {
        indent(v, a, false)
    });
    add_filter(env, "nindent", &["amount", "prefix"], false, |v, a| {
        indent(v, a, true)
    });
    add_filter(env, "urlencode", &[], false, |v, _| {
        map_str(v, |s| Ok(url_encode(s)))
    });
    add_filter(env, "urldecode", &[], false, |v, _| {
        map_str(v, |s| {
            percent_decode_str(&s.replace('+', " "))
                .decode_utf8()
                .map(|c| c.into_owned())
                .map_err(|e| func_err(format!("Invalid URL-encoded value: {e}")))
        })
    });
}

/// Applies `f` to the string form of `v`; null stays null.
pub(crate) fn map_str(
    v: &Value,
    f: impl FnOnce(&str) -> Result<String, Error>,
) -> Result<Value, Error> {
    if v.is_none() {
        return Ok(Value::from(()));
    }
    let out = match v.as_str() {
        Some(s) if v.kind() == ValueKind::String => f(s)?,
        _ => f(&text(v))?,
    };
    check_len(out.len())?;
    Ok(Value::from(out))
}

/// Applies `f` to every string inside maps and lists (other scalars are stringified).
fn deep_map_str(v: &Value, f: &dyn Fn(&str) -> Result<String, Error>) -> Result<Value, Error> {
    if v.is_none() {
        return Ok(Value::from(()));
    }
    if is_map(v) {
        let pairs = map_pairs(v)
            .into_iter()
            .map(|(k, val)| {
                Ok((
                    k,
                    if val.is_none() {
                        val
                    } else {
                        deep_map_str(&val, f)?
                    },
                ))
            })
            .collect::<Result<Vec<_>, Error>>()?;
        return Ok(map_value(pairs));
    }
    if is_seq(v) {
        let items = seq_items(v)
            .iter()
            .map(|i| {
                if i.is_none() {
                    Ok(i.clone())
                } else {
                    deep_map_str(i, f)
                }
            })
            .collect::<Result<Vec<_>, Error>>()?;
        return Ok(seq_value(items));
    }
    map_str(v, f)
}

fn capitalize(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut done = false;
    for c in s.chars() {
        if !done && !c.is_whitespace() {
            out.extend(c.to_uppercase());
            done = true;
        } else {
            out.push(c);
        }
    }
    out
}

fn title(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut next_upper = true;
    for c in s.chars() {
        if c.is_whitespace() {
            next_upper = true;
            out.push(c);
        } else if next_upper {
            out.extend(c.to_uppercase());
            next_upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

fn abbreviate(s: &str, max: usize) -> String {
    let len = s.chars().count();
    if len < max || len <= 3 {
        return s.to_owned();
    }
    if max <= 3 {
        return s.chars().take(max).collect();
    }
    let mut out: String = s.chars().take(max - 3).collect();
    out.push_str("...");
    out
}

/// Kestra's `Slugify.of`.
pub(crate) fn slugify(s: &str) -> String {
    let no_ws: String = s
        .chars()
        .map(|c| if c.is_whitespace() { '-' } else { c })
        .collect();
    let kept: String = no_ws
        .nfd()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
        .collect();
    let mut slug = kept.replace('_', "-");
    while slug.contains("--") {
        slug = slug.replace("--", "-");
    }
    let slug = slug.strip_prefix('-').unwrap_or(&slug);
    let slug = slug.strip_suffix('-').unwrap_or(slug);
    slug.to_ascii_lowercase()
}

fn escape(s: &str, strategy: &str) -> Result<String, Error> {
    match strategy {
        "html" | "html_attr" => {
            let mut out = String::with_capacity(s.len());
            for c in s.chars() {
                match c {
                    '&' => out.push_str("&amp;"),
                    '<' => out.push_str("&lt;"),
                    '>' => out.push_str("&gt;"),
                    '"' => out.push_str("&quot;"),
                    '\'' => out.push_str("&#39;"),
                    c => out.push(c),
                }
            }
            Ok(out)
        }
        "js" | "json" => {
            let mut out = String::new();
            crate::convert::json_escape(&mut out, s);
            Ok(out[1..out.len() - 1].to_owned())
        }
        "url_param" => Ok(url_encode(s)),
        other => Err(func_err(format!("Unknown escaping strategy '{other}'"))),
    }
}

const URL_SAFE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'.')
    .remove(b'-')
    .remove(b'*')
    .remove(b'_')
    .remove(b' ');

/// Java's `URLEncoder.encode(s, UTF-8)`: spaces become `+`.
fn url_encode(s: &str) -> String {
    utf8_percent_encode(s, URL_SAFE)
        .to_string()
        .replace(' ', "+")
}

fn indent(v: &Value, a: &ArgList, leading_newline: bool) -> Result<Value, Error> {
    let which = if leading_newline { "nindent" } else { "indent" };
    if v.is_none() {
        return Ok(Value::from(()));
    }
    let s = text(v);
    if s.is_empty() {
        return Ok(Value::from(s));
    }
    let amount = a.int(0)?.ok_or_else(|| {
        func_err(format!(
            "The '{which}' filter expects an integer as argument 'amount'."
        ))
    })?;
    if amount < 0 {
        return Err(func_err(format!(
            "The '{which}' filter expects a positive integer >=0 as argument 'amount'."
        )));
    }
    let prefix = if a.has(1) {
        a.str(1).unwrap_or_default()
    } else {
        " ".to_owned()
    };
    let nl = if s.contains("\r\n") {
        "\r\n"
    } else if s.contains("\n\r") {
        "\n\r"
    } else if s.contains('\n') {
        "\n"
    } else if s.contains('\r') {
        "\r"
    } else {
        "\n"
    };
    let pad_len = prefix.len().saturating_mul(amount as usize);
    let lines = s.matches(nl).count() + usize::from(leading_newline);
    check_len(
        s.len()
            .saturating_add(pad_len.saturating_mul(lines))
            .saturating_add(nl.len()),
    )?;
    let pad = prefix.repeat(amount as usize);
    let replacement = format!("{nl}{pad}");
    let base = if leading_newline {
        format!("{nl}{s}")
    } else {
        s
    };
    Ok(Value::from(base.replace(nl, &replacement)))
}

fn replace(v: &Value, a: &ArgList) -> Result<Value, Error> {
    let pairs: Vec<(String, String)> = match a.get(0) {
        Some(p) if is_map(p) => map_pairs(p)
            .iter()
            .map(|(k, v)| (text(k), text(v)))
            .collect(),
        // convenience: replace('a', 'b')
        Some(p)
            if p.kind() == ValueKind::String
                && a.get(1).is_some_and(|x| x.kind() == ValueKind::String) =>
        {
            return map_str(v, |s| {
                let (from, to) = (text(p), a.str(1).unwrap_or_default());
                literal_replace(s, &from, &to)
            });
        }
        Some(_) => {
            return Err(type_err(
                "The argument 'replace_pairs' of 'replace' must be a map",
            ));
        }
        None => return Err(func_err("The argument 'replace_pairs' is required.")),
    };
    let regexp = a.bool(1)?.unwrap_or(false);
    deep_map_str(v, &|s| {
        let mut data = s.to_owned();
        for (from, to) in &pairs {
            data = if regexp {
                regex_replace(&data, from, to)?
            } else {
                literal_replace(&data, from, to)?
            };
        }
        Ok(data)
    })
}

fn literal_replace(s: &str, from: &str, to: &str) -> Result<String, Error> {
    if from.is_empty() {
        // Java inserts `to` between every char
        let n = s.chars().count() + 1;
        check_len(s.len().saturating_add(to.len().saturating_mul(n)))?;
        let mut out = String::from(to);
        for c in s.chars() {
            out.push(c);
            out.push_str(to);
        }
        return Ok(out);
    }
    let count = s.matches(from).count();
    check_len(s.len().saturating_add(to.len().saturating_mul(count)))?;
    Ok(s.replace(from, to))
}

thread_local! {
    static REGEX_CACHE: RefCell<HashMap<String, Regex>> = RefCell::new(HashMap::new());
}

/// Compiles (and caches per thread) a regular expression.
pub(crate) fn compile_regex(pattern: &str) -> Result<Regex, Error> {
    if let Some(re) = REGEX_CACHE.with(|c| c.borrow().get(pattern).cloned()) {
        return Ok(re);
    }
    let re = Regex::new(pattern)
        .map_err(|e| func_err(format!("Invalid regular expression '{pattern}': {e}")))?;
    REGEX_CACHE.with(|c| {
        let mut c = c.borrow_mut();
        if c.len() > 256 {
            c.clear();
        }
        c.insert(pattern.to_owned(), re.clone());
    });
    Ok(re)
}

/// Java `String.replaceAll` (`$1`, `${name}`, `\$` in the replacement).
pub(crate) fn regex_replace(s: &str, pattern: &str, replacement: &str) -> Result<String, Error> {
    let re = compile_regex(pattern)?;
    let mut rep = String::new();
    let mut chars = replacement.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some('$') => rep.push_str("$$"),
                Some(n) => rep.push(n),
                None => return Err(func_err("character to be escaped is missing")),
            },
            '$' => {
                if chars.peek() == Some(&'{') {
                    rep.push('$');
                } else {
                    let mut digits = String::new();
                    while let Some(d) = chars.peek().filter(|d| d.is_ascii_digit()) {
                        digits.push(*d);
                        chars.next();
                    }
                    if digits.is_empty() {
                        return Err(func_err("Illegal group reference"));
                    }
                    rep.push_str(&format!("${{{digits}}}"));
                }
            }
            c => rep.push(c),
        }
    }
    let out = re
        .try_replacen(s, 0, rep.as_str())
        .map_err(|e| func_err(format!("Regular expression failed: {e}")))?;
    check_len(out.len())?;
    Ok(out.into_owned())
}

/// Java `String.split(regex, limit)`.
pub(crate) fn java_split(s: &str, pattern: &str, limit: i64) -> Result<Vec<String>, Error> {
    let re = compile_regex(pattern)?;
    let mut out: Vec<String> = Vec::new();
    let mut index = 0usize;
    let mut matched = false;
    for m in re.find_iter(s) {
        let m = m.map_err(|e| func_err(format!("Regular expression failed: {e}")))?;
        if limit > 0 && out.len() as i64 >= limit - 1 {
            break;
        }
        if m.end() == 0 {
            // a zero-width match at the beginning never produces an empty leading substring
            continue;
        }
        matched = true;
        out.push(s[index..m.start()].to_owned());
        index = m.end();
        if out.len() > crate::runtime::MAX_LIST {
            return Err(crate::error::limit_err("split produced too many elements"));
        }
    }
    if !matched {
        return Ok(vec![s.to_owned()]);
    }
    out.push(s[index..].to_owned());
    if limit == 0 {
        while out.last().is_some_and(String::is_empty) {
            out.pop();
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_like_java() {
        assert_eq!(
            java_split("a,b,,c,,", ",", 0).unwrap(),
            vec!["a", "b", "", "c"]
        );
        assert_eq!(java_split("a,b,c", ",", 2).unwrap(), vec!["a", "b,c"]);
        assert_eq!(java_split("a.b", "\\.", 0).unwrap(), vec!["a", "b"]);
        assert_eq!(java_split("abc", "", 0).unwrap(), vec!["a", "b", "c"]);
        assert_eq!(java_split("none", ",", 0).unwrap(), vec!["none"]);
        assert_eq!(
            java_split("a,b,,", ",", -1).unwrap(),
            vec!["a", "b", "", ""]
        );
    }

    #[test]
    fn helpers() {
        assert_eq!(slugify(" Héllo  Wörld_now! "), "hello-world-now");
        assert_eq!(abbreviate("this is long", 7), "this...");
        assert_eq!(abbreviate("hello", 5), "he...");
        assert_eq!(abbreviate("hi", 5), "hi");
        assert_eq!(capitalize("  hello world"), "  Hello world");
        assert_eq!(title("hello big world"), "Hello Big World");
        assert_eq!(url_encode("a b&c=d/é"), "a+b%26c%3Dd%2F%C3%A9");
        assert_eq!(
            regex_replace("a1b22", "([0-9]+)", "<$1>").unwrap(),
            "a<1>b<22>"
        );
        assert_eq!(regex_replace("cost", "c", "\\$").unwrap(), "$ost");
    }
}
