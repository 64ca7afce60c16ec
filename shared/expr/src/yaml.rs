//! YAML serialisation for the `yaml` filter, shaped like Kestra's Jackson `YAMLMapper`
//! (no `---` marker, minimal quotes, list items indented under their key).

use serde_json::Value as Json;

use crate::convert::{java_double, json_escape};

/// Serialises `v` as a YAML document (ends with a newline).
pub(crate) fn to_yaml(v: &Json) -> String {
    let mut out = String::new();
    for line in lines(v) {
        out.push_str(&line);
        out.push('\n');
    }
    out
}

fn is_block(v: &Json) -> bool {
    match v {
        Json::Object(m) => !m.is_empty(),
        Json::Array(a) => !a.is_empty(),
        _ => false,
    }
}

fn lines(v: &Json) -> Vec<String> {
    match v {
        Json::Object(m) if !m.is_empty() => {
            let mut out = Vec::new();
            for (k, val) in m {
                let key = scalar_str(k);
                if is_block(val) {
                    out.push(format!("{key}:"));
                    out.extend(lines(val).into_iter().map(|l| format!("  {l}")));
                } else {
                    out.push(format!("{key}: {}", scalar(val)));
                }
            }
            out
        }
        Json::Array(a) if !a.is_empty() => {
            let mut out = Vec::new();
            for item in a {
                if is_block(item) {
                    let sub = lines(item);
                    let mut it = sub.into_iter();
                    if let Some(first) = it.next() {
                        out.push(format!("- {first}"));
                    }
                    out.extend(it.map(|l| format!("  {l}")));
                } else {
                    out.push(format!("- {}", scalar(item)));
                }
            }
            out
        }
        other => vec![scalar(other)],
    }
}

fn scalar(v: &Json) -> String {
    match v {
        Json::Null => "null".into(),
        Json::Bool(b) => b.to_string(),
        Json::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
            (Some(i), _, _) => i.to_string(),
            (_, Some(u), _) => u.to_string(),
            (_, _, Some(f)) => java_double(f),
            _ => n.to_string(),
        },
        Json::String(s) => scalar_str(s),
        Json::Object(_) => "{}".into(),
        Json::Array(_) => "[]".into(),
    }
}

fn looks_special(s: &str) -> bool {
    let lower = s.to_ascii_lowercase();
    if matches!(
        lower.as_str(),
        "true"
            | "false"
            | "yes"
            | "no"
            | "on"
            | "off"
            | "null"
            | "~"
            | "y"
            | "n"
            | ".inf"
            | "-.inf"
            | ".nan"
    ) {
        return true;
    }
    let t = s.strip_prefix(['-', '+']).unwrap_or(s);
    !t.is_empty()
        && (t.parse::<f64>().is_ok()
            || t.starts_with("0x")
            || t.starts_with("0o")
            || t.chars()
                .all(|c| c.is_ascii_digit() || c == '_' || c == ':'))
}

fn scalar_str(s: &str) -> String {
    let needs_quotes = s.is_empty()
        || looks_special(s)
        || s.starts_with(|c: char| "-?:,[]{}#&*!|>'\"%@`".contains(c) || c.is_whitespace())
        || s.ends_with(|c: char| c.is_whitespace() || c == ':')
        || s.contains(": ")
        || s.contains(" #")
        || s.chars().any(|c| c.is_control());
    if needs_quotes {
        let mut out = String::new();
        json_escape(&mut out, s);
        out
    } else {
        s.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn documents() {
        let v = json!({"a": 1, "b": "x", "c": [1, {"d": true, "e": null}], "f": {}, "g": "123", "h": "a: b"});
        assert_eq!(
            to_yaml(&v),
            "a: 1\nb: x\nc:\n  - 1\n  - d: true\n    e: null\nf: {}\ng: \"123\"\nh: \"a: b\"\n"
        );
        assert_eq!(to_yaml(&json!("hello")), "hello\n");
        assert_eq!(to_yaml(&json!([[1, 2], 3])), "- - 1\n  - 2\n- 3\n");
        assert_eq!(to_yaml(&json!("multi\nline")), "\"multi\\nline\"\n");
    }
}
