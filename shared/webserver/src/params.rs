//! Query strings and identifiers.
//!
//! [`Params`] keeps every `key=value` pair in order, so repeated keys (`labels=a:1&labels=b:2`,
//! `state=SUCCESS&state=FAILED`) work, and it never rejects a request by itself: handlers
//! ask for typed values and get a 422 naming the parameter when one does not parse.
//!
//! Identifiers coming from the path (namespaces, flow ids, KV keys) are checked before they
//! reach a repository: repository keys are built by joining them with `|`, so an unchecked
//! id could address another record.

use std::convert::Infallible;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use kite_engine::model::Label;

use crate::error::ApiError;

/// The decoded query string.
#[derive(Debug, Clone, Default)]
pub(crate) struct Params(Vec<(String, String)>);

impl Params {
    /// Parses a raw query string.
    pub(crate) fn parse(raw: Option<&str>) -> Self {
        Self(
            raw.map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
                .unwrap_or_default(),
        )
    }

    /// The last value of `key` (`key[]` counts too).
    pub(crate) fn get(&self, key: &str) -> Option<&str> {
        self.all(key).pop()
    }

    /// The non-empty last value of `key`.
    pub(crate) fn text(&self, key: &str) -> Option<&str> {
        self.get(key).map(str::trim).filter(|s| !s.is_empty())
    }

    /// Every value of `key`, in order (`key[]` counts too).
    pub(crate) fn all(&self, key: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(k, _)| k == key || k.strip_suffix("[]") == Some(key))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// A boolean (`true`/`false`, `1`/`0`; a bare `?key` is true).
    pub(crate) fn bool(&self, key: &str, default: bool) -> Result<bool, ApiError> {
        match self.get(key).map(|v| v.trim().to_ascii_lowercase()) {
            None => Ok(default),
            Some(v) => match v.as_str() {
                "" | "true" | "1" | "yes" => Ok(true),
                "false" | "0" | "no" => Ok(false),
                _ => Err(ApiError::invalid(
                    key,
                    format!("`{key}` must be true or false, not `{v}`"),
                )),
            },
        }
    }

    /// A positive integer at least `min`.
    pub(crate) fn number(&self, key: &str, default: usize, min: usize) -> Result<usize, ApiError> {
        match self.text(key) {
            None => Ok(default),
            Some(v) => match v.parse::<usize>() {
                Ok(n) if n >= min => Ok(n),
                _ => Err(ApiError::invalid(
                    key,
                    format!("`{key}` must be an integer of at least {min}, not `{v}`"),
                )),
            },
        }
    }

    /// An optional positive integer.
    pub(crate) fn optional_u32(&self, key: &str) -> Result<Option<u32>, ApiError> {
        match self.text(key) {
            None => Ok(None),
            Some(v) => v
                .parse::<u32>()
                .ok()
                .filter(|n| *n > 0)
                .map(Some)
                .ok_or_else(|| {
                    ApiError::invalid(
                        key,
                        format!("`{key}` must be a positive integer, not `{v}`"),
                    )
                }),
        }
    }

    /// `labels=k:v` pairs.
    pub(crate) fn labels(&self) -> Result<Vec<Label>, ApiError> {
        let mut out: Vec<Label> = Vec::new();
        for raw in self.all("labels") {
            let raw = raw.trim();
            if raw.is_empty() {
                continue;
            }
            let Some((k, v)) = raw.split_once(':') else {
                return Err(ApiError::invalid(
                    "labels",
                    format!("invalid label `{raw}`: expected `key:value`"),
                ));
            };
            let (k, v) = (k.trim(), v.trim());
            if k.is_empty() {
                return Err(ApiError::invalid(
                    "labels",
                    format!("invalid label `{raw}`: the key is empty"),
                ));
            }
            out.retain(|l| l.key != k);
            out.push(Label {
                key: k.to_owned(),
                value: v.to_owned(),
            });
        }
        Ok(out)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Params {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Self::parse(parts.uri.query()))
    }
}

fn valid_identifier(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 255
        && s.chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

/// Checks a namespace (`company.team`).
pub(crate) fn check_namespace(ns: &str) -> Result<(), ApiError> {
    if valid_identifier(ns) && !ns.ends_with('.') && !ns.contains("..") {
        Ok(())
    } else {
        Err(ApiError::invalid(
            "namespace",
            format!(
                "invalid namespace `{ns}`: use letters, digits, `_`, `-` and `.`-separated parts"
            ),
        ))
    }
}

/// Checks a flow id, execution id or KV key named `field`.
pub(crate) fn check_id(field: &str, id: &str) -> Result<(), ApiError> {
    if valid_identifier(id) {
        Ok(())
    } else {
        Err(ApiError::invalid(
            field,
            format!("invalid {field} `{id}`: use letters, digits, `.`, `_` and `-`"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_keys_and_labels() {
        let p = Params::parse(Some(
            "labels=a:1&labels=b:x:y&state=SUCCESS&state[]=FAILED&wait",
        ));
        let labels = p.labels().unwrap();
        assert_eq!(labels.len(), 2);
        assert_eq!(labels[1].value, "x:y");
        assert_eq!(p.all("state"), vec!["SUCCESS", "FAILED"]);
        assert!(p.bool("wait", false).unwrap());
        assert!(Params::parse(Some("labels=nokey")).labels().is_err());
        assert!(Params::parse(Some("page=0")).number("page", 1, 1).is_err());
    }

    #[test]
    fn identifiers() {
        assert!(check_namespace("company.team").is_ok());
        for bad in ["", "a|b", "a..b", ".a", "a/b", "$kite", "a b"] {
            assert!(check_namespace(bad).is_err(), "{bad}");
        }
        assert!(check_id("id", "my-flow_1.v2").is_ok());
        assert!(check_id("id", "../x").is_err());
    }
}
