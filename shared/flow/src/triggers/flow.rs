//! `io.kestra.plugin.core.trigger.Flow`: executions started by other executions changing
//! state.
//!
//! Besides the model, this file holds what the engine and the validation share about it:
//! the execution state names (`states`), the `where` filters of the preconditions
//! ([`Filter::field`], [`Filter::kind`], [`Filter::matches_text`]) and the time windows of
//! the preconditions and of the legacy `MultipleCondition` ([`WindowKind`]). Validation
//! rejects a trigger whose preconditions can never be met: no `flows` and no `where`, an
//! unknown filter field or type, a filter without the value it compares, a window that is
//! not positive, a daily window that ends before it starts.

use chrono::NaiveTime;
use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::duration::IsoDuration;
use crate::model::label::Labels;
use crate::plugin::{Category, PluginType};
use crate::validate::Validator;

/// The execution states Kestra names (what `states` lists may contain).
pub const EXECUTION_STATES: &[&str] = &[
    "CREATED",
    "QUEUED",
    "RUNNING",
    "PAUSED",
    "RETRYING",
    "RETRIED",
    "RESTARTED",
    "KILLING",
    "SUCCESS",
    "WARNING",
    "FAILED",
    "KILLED",
    "CANCELLED",
    "SKIPPED",
];

/// Whether `name` is an execution state (`CANCELED` accepted, any case).
pub fn is_state_name(name: &str) -> bool {
    let n = name.trim().to_ascii_uppercase();
    n == "CANCELED" || EXECUTION_STATES.contains(&n.as_str())
}

/// An upstream flow the preconditions wait for.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpstreamFlow {
    /// Its namespace.
    pub namespace: String,
    /// Its id (any flow of the namespace when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flow_id: Option<String>,
    /// States that count (default: any the trigger's `states` let through).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub states: Vec<String>,
    /// Labels the upstream execution must carry.
    #[serde(default, skip_serializing_if = "Labels::is_empty")]
    pub labels: Labels,
}

/// One filter of a `where` precondition.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Filter {
    /// FLOW_ID, NAMESPACE, STATE, EXPRESSION.
    pub field: String,
    /// EQUAL_TO, NOT_EQUAL_TO, IN, NOT_IN, IS_TRUE, IS_FALSE, IS_NULL, IS_NOT_NULL,
    /// STARTS_WITH, ENDS_WITH, REGEX, CONTAINS.
    #[serde(rename = "type")]
    pub kind: String,
    /// The value compared.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// The values compared (IN, NOT_IN).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<String>,
}

/// What a filter looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FilterField {
    /// The upstream flow id.
    FlowId,
    /// The upstream namespace.
    Namespace,
    /// The upstream state.
    State,
    /// An expression (`value`) rendered against the upstream execution.
    Expression,
}

/// How a filter compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FilterType {
    /// Equal to `value`.
    EqualTo,
    /// Not equal to `value`.
    NotEqualTo,
    /// One of `values`.
    In,
    /// None of `values`.
    NotIn,
    /// The expression renders to true.
    IsTrue,
    /// The expression renders to false.
    IsFalse,
    /// The expression renders to nothing.
    IsNull,
    /// The expression renders to something.
    IsNotNull,
    /// Starts with `value`.
    StartsWith,
    /// Ends with `value`.
    EndsWith,
    /// Matches the regular expression `value` (whole text).
    Regex,
    /// Contains `value`.
    Contains,
}

impl FilterType {
    fn compares_text(self) -> bool {
        !matches!(
            self,
            FilterType::IsTrue | FilterType::IsFalse | FilterType::IsNull | FilterType::IsNotNull
        )
    }
}

impl Filter {
    /// The field, or why it is unknown.
    pub fn field(&self) -> Result<FilterField, String> {
        Ok(match self.field.trim().to_ascii_uppercase().as_str() {
            "FLOW_ID" => FilterField::FlowId,
            "NAMESPACE" => FilterField::Namespace,
            "STATE" => FilterField::State,
            "EXPRESSION" => FilterField::Expression,
            other => {
                return Err(format!(
                    "unknown filter field `{other}` (FLOW_ID, NAMESPACE, STATE or EXPRESSION)"
                ));
            }
        })
    }

    /// The comparison, or why it is unknown.
    pub fn kind(&self) -> Result<FilterType, String> {
        Ok(match self.kind.trim().to_ascii_uppercase().as_str() {
            "EQUAL_TO" => FilterType::EqualTo,
            "NOT_EQUAL_TO" => FilterType::NotEqualTo,
            "IN" => FilterType::In,
            "NOT_IN" => FilterType::NotIn,
            "IS_TRUE" => FilterType::IsTrue,
            "IS_FALSE" => FilterType::IsFalse,
            "IS_NULL" => FilterType::IsNull,
            "IS_NOT_NULL" => FilterType::IsNotNull,
            "STARTS_WITH" => FilterType::StartsWith,
            "ENDS_WITH" => FilterType::EndsWith,
            "REGEX" => FilterType::Regex,
            "CONTAINS" => FilterType::Contains,
            other => {
                return Err(format!(
                    "unknown filter type `{other}` (EQUAL_TO, NOT_EQUAL_TO, IN, NOT_IN, \
                     IS_TRUE, IS_FALSE, IS_NULL, IS_NOT_NULL, STARTS_WITH, ENDS_WITH, REGEX, \
                     CONTAINS)"
                ));
            }
        })
    }

    /// What makes this filter impossible to evaluate, as (property, message).
    pub fn problems(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        let field = self.field().map_err(|e| out.push(("field", e))).ok();
        let kind = self.kind().map_err(|e| out.push(("type", e))).ok();
        let (Some(field), Some(kind)) = (field, kind) else {
            return out;
        };
        let name = self.field.trim().to_ascii_uppercase();
        let kind_name = self.kind.trim().to_ascii_uppercase();
        match field {
            FilterField::Expression => {
                if kind.compares_text() {
                    out.push((
                        "type",
                        format!(
                            "an EXPRESSION filter takes IS_TRUE, IS_FALSE, IS_NULL or \
                             IS_NOT_NULL, not {kind_name}"
                        ),
                    ));
                }
                if self.value.as_deref().is_none_or(|v| v.trim().is_empty()) {
                    out.push((
                        "value",
                        "an EXPRESSION filter needs the expression in `value`".into(),
                    ));
                }
            }
            _ => {
                if !kind.compares_text() {
                    out.push((
                        "type",
                        format!("a {name} filter cannot be {kind_name}: it compares text"),
                    ));
                } else if matches!(kind, FilterType::In | FilterType::NotIn) {
                    if self.values.is_empty() && self.value.is_none() {
                        out.push((
                            "values",
                            format!("a {kind_name} filter needs `values` to compare with"),
                        ));
                    }
                } else if self.value.is_none() {
                    out.push((
                        "value",
                        format!("a {kind_name} filter needs a `value` to compare with"),
                    ));
                }
                if kind == FilterType::Regex
                    && let Some(v) = &self.value
                    && let Err(e) = fancy_regex::Regex::new(v)
                {
                    out.push(("value", format!("`{v}` is not a regular expression: {e}")));
                }
                let exact = matches!(
                    kind,
                    FilterType::EqualTo
                        | FilterType::NotEqualTo
                        | FilterType::In
                        | FilterType::NotIn
                );
                if field == FilterField::State && exact {
                    for v in self.value.iter().chain(&self.values) {
                        if !is_state_name(v) {
                            out.push(("value", format!("`{v}` is not an execution state")));
                        }
                    }
                }
            }
        }
        out
    }

    /// For a FLOW_ID, NAMESPACE or STATE filter: whether `actual` passes (false when the
    /// filter does not read; validation rejects those).
    pub fn matches_text(&self, actual: &str) -> bool {
        let Ok(kind) = self.kind() else {
            return false;
        };
        let state = matches!(self.field(), Ok(FilterField::State));
        let same = |a: &str, b: &str| {
            if state {
                a.trim().eq_ignore_ascii_case(b.trim())
                    || (a.eq_ignore_ascii_case("CANCELLED") && b.eq_ignore_ascii_case("CANCELED"))
            } else {
                a == b
            }
        };
        let value = self.value.as_deref().unwrap_or_default();
        let values = || {
            self.values
                .iter()
                .map(String::as_str)
                .chain(self.value.as_deref())
        };
        match kind {
            FilterType::EqualTo => same(actual, value),
            FilterType::NotEqualTo => !same(actual, value),
            FilterType::In => values().any(|v| same(actual, v)),
            FilterType::NotIn => !values().any(|v| same(actual, v)),
            FilterType::StartsWith => actual.starts_with(value),
            FilterType::EndsWith => actual.ends_with(value),
            FilterType::Contains => actual.contains(value),
            FilterType::Regex => fancy_regex::Regex::new(&format!("^(?:{value})$"))
                .ok()
                .and_then(|re| re.is_match(actual).ok())
                .unwrap_or(false),
            FilterType::IsTrue
            | FilterType::IsFalse
            | FilterType::IsNull
            | FilterType::IsNotNull => false,
        }
    }

    /// For an EXPRESSION filter: whether the rendered `value` (`None`: it rendered to
    /// nothing) passes.
    pub fn matches_rendered(&self, rendered: Option<&str>) -> bool {
        let text = rendered.map(str::trim).filter(|t| !t.is_empty());
        match self.kind() {
            Ok(FilterType::IsTrue) => text.is_some_and(|t| t.eq_ignore_ascii_case("true")),
            Ok(FilterType::IsFalse) => text.is_some_and(|t| t.eq_ignore_ascii_case("false")),
            Ok(FilterType::IsNull) => text.is_none_or(|t| t == "null"),
            Ok(FilterType::IsNotNull) => text.is_some_and(|t| t != "null"),
            _ => false,
        }
    }
}

/// A `where` precondition.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WhereCondition {
    /// Id.
    pub id: String,
    /// AND (default) or OR.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operand: Option<String>,
    /// Filters.
    pub filters: Vec<Filter>,
}

impl WhereCondition {
    /// Whether the filters are OR-ed (`operand: OR`); AND otherwise.
    pub fn is_or(&self) -> bool {
        self.operand
            .as_deref()
            .is_some_and(|o| o.trim().eq_ignore_ascii_case("OR"))
    }
}

/// A time window for preconditions.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TimeWindow {
    /// DURATION_WINDOW (default), SLIDING_WINDOW, DAILY_TIME_WINDOW, DAILY_TIME_DEADLINE.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Window length.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<IsoDuration>,
    /// Window start offset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window_advance: Option<IsoDuration>,
    /// Daily deadline.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deadline: Option<String>,
    /// Daily window start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_time: Option<String>,
    /// Daily window end.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_time: Option<String>,
}

/// The default window: 24 hours.
pub const DEFAULT_WINDOW: IsoDuration = IsoDuration::from_secs(24 * 3600);

/// How the conditions of a window are grouped in time (all times of day are UTC).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WindowKind {
    /// Consecutive windows of `window`, aligned on the Unix epoch (so on UTC midnight for
    /// windows dividing a day) shifted by `advance`.
    Duration {
        /// Length.
        window: IsoDuration,
        /// Offset of the window starts.
        advance: IsoDuration,
    },
    /// Every condition met within the `window` before the latest event.
    Sliding {
        /// Length.
        window: IsoDuration,
    },
    /// From midnight until `deadline`, every day; events after it count for nothing.
    DailyDeadline {
        /// Time of day.
        deadline: NaiveTime,
    },
    /// From `start` to `end`, every day; events outside count for nothing.
    DailyWindow {
        /// Time of day it opens.
        start: NaiveTime,
        /// Time of day it closes.
        end: NaiveTime,
    },
}

/// Reads a time of day: `HH:MM`, `HH:MM:SS`, `HH:MM:SS.fff`, optionally followed by `Z` or an
/// offset (`+02:00`), which is then converted to UTC.
pub fn parse_time_of_day(text: &str) -> Result<NaiveTime, String> {
    let t = text.trim();
    let bad = || format!("`{text}` is not a time of day (HH:MM or HH:MM:SS, UTC)");
    let (clock, offset_secs) = if let Some(c) = t.strip_suffix(['Z', 'z']) {
        (c, 0)
    } else if let Some(i) = t.rfind(['+', '-']).filter(|&i| i >= 5) {
        let (c, off) = t.split_at(i);
        let sign = if off.starts_with('-') { -1 } else { 1 };
        let hm: Vec<&str> = off[1..].split(':').collect();
        let h: i32 = hm.first().and_then(|h| h.parse().ok()).ok_or_else(bad)?;
        let m: i32 = hm
            .get(1)
            .map_or(Some(0), |m| m.parse().ok())
            .ok_or_else(bad)?;
        (c, sign * (h * 3600 + m * 60))
    } else {
        (t, 0)
    };
    let time = NaiveTime::parse_from_str(clock, "%H:%M:%S%.f")
        .or_else(|_| NaiveTime::parse_from_str(clock, "%H:%M"))
        .map_err(|_| bad())?;
    Ok(time - chrono::Duration::seconds(i64::from(offset_secs)))
}

impl TimeWindow {
    /// The window this describes, or why it cannot be used.
    pub fn window_kind(&self) -> Result<WindowKind, String> {
        let kind = self
            .kind
            .as_deref()
            .map(|k| k.trim().to_ascii_uppercase())
            .unwrap_or_else(|| "DURATION_WINDOW".into());
        let window = self.window.unwrap_or(DEFAULT_WINDOW);
        let positive = |w: IsoDuration| {
            if w.as_millis() > 0 {
                Ok(w)
            } else {
                Err(format!(
                    "`window` must be a positive duration, not {w} (e.g. PT1H, P1D)"
                ))
            }
        };
        let time = |what: &str, v: &Option<String>| -> Result<NaiveTime, String> {
            match v {
                Some(t) => parse_time_of_day(t).map_err(|e| format!("`{what}`: {e}")),
                None => Err(format!("a {kind} window needs `{what}`")),
            }
        };
        match kind.as_str() {
            "DURATION_WINDOW" => Ok(WindowKind::Duration {
                window: positive(window)?,
                advance: self.window_advance.unwrap_or_default(),
            }),
            "SLIDING_WINDOW" => Ok(WindowKind::Sliding {
                window: positive(window)?,
            }),
            "DAILY_TIME_DEADLINE" => Ok(WindowKind::DailyDeadline {
                deadline: time("deadline", &self.deadline)?,
            }),
            "DAILY_TIME_WINDOW" => {
                let start = time("startTime", &self.start_time)?;
                let end = time("endTime", &self.end_time)?;
                if end <= start {
                    return Err(format!(
                        "`endTime` ({end}) must come after `startTime` ({start}) on the same day"
                    ));
                }
                Ok(WindowKind::DailyWindow { start, end })
            }
            other => Err(format!(
                "unknown window type `{other}` (DURATION_WINDOW, SLIDING_WINDOW, \
                 DAILY_TIME_WINDOW or DAILY_TIME_DEADLINE)"
            )),
        }
    }
}

/// The window of `time_window`, a 24-hour duration window when there is none.
pub fn window_kind(time_window: Option<&TimeWindow>) -> Result<WindowKind, String> {
    match time_window {
        Some(tw) => tw.window_kind(),
        None => Ok(WindowKind::Duration {
            window: DEFAULT_WINDOW,
            advance: IsoDuration::default(),
        }),
    }
}

/// Preconditions: several upstream executions within a window.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Preconditions {
    /// Id of the stored window state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Upstream flows that must all have run.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub flows: Vec<UpstreamFlow>,
    /// Extra filters.
    #[serde(default, rename = "where", skip_serializing_if = "Vec::is_empty")]
    pub filters: Vec<WhereCondition>,
    /// Window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_window: Option<TimeWindow>,
    /// Reset the window once fired (default true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reset_on_success: Option<bool>,
}

impl Preconditions {
    /// What makes these preconditions impossible to meet, as (property path relative to
    /// `preconditions`, message).
    pub fn problems(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        if self.flows.is_empty() && self.filters.is_empty() {
            out.push((
                String::new(),
                "preconditions can never be met: list upstream `flows` or `where` filters".into(),
            ));
        }
        for (i, f) in self.flows.iter().enumerate() {
            if f.namespace.trim().is_empty() {
                out.push((
                    format!("flows[{i}].namespace"),
                    "an upstream flow needs its namespace".into(),
                ));
            }
            for s in &f.states {
                if !is_state_name(s) {
                    out.push((
                        format!("flows[{i}].states"),
                        format!("`{s}` is not an execution state"),
                    ));
                }
            }
        }
        let mut ids = std::collections::HashSet::new();
        for (i, w) in self.filters.iter().enumerate() {
            if w.id.trim().is_empty() {
                out.push((
                    format!("where[{i}].id"),
                    "a `where` entry needs an id".into(),
                ));
            } else if !ids.insert(w.id.as_str()) {
                out.push((
                    format!("where[{i}].id"),
                    format!("`where` ids must be unique: `{}` is repeated", w.id),
                ));
            }
            if let Some(op) = &w.operand
                && !matches!(op.trim().to_ascii_uppercase().as_str(), "AND" | "OR")
            {
                out.push((
                    format!("where[{i}].operand"),
                    format!("unknown operand `{op}` (AND or OR)"),
                ));
            }
            if w.filters.is_empty() {
                out.push((
                    format!("where[{i}].filters"),
                    "a `where` entry needs at least one filter".into(),
                ));
            }
            for (j, f) in w.filters.iter().enumerate() {
                for (prop, message) in f.problems() {
                    out.push((format!("where[{i}].filters[{j}].{prop}"), message));
                }
            }
        }
        if let Err(e) = window_kind(self.time_window.as_ref()) {
            out.push(("timeWindow".into(), e));
        }
        out
    }
}

/// Starts an execution when executions of other flows change state (matching conditions).
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FlowTrigger {
    /// Upstream states that fire it (default: terminal states).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub states: Vec<String>,
    /// Inputs (may use `trigger.outputs` and the upstream execution's variables).
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub inputs: IndexMap<String, serde_json::Value>,
    /// Preconditions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preconditions: Option<Preconditions>,
}

impl PluginType for FlowTrigger {
    const TYPE: &'static str = "io.kestra.plugin.core.trigger.Flow";
    const ALIASES: &'static [&'static str] = &["io.kestra.core.models.triggers.types.Flow"];
    const CATEGORY: Category = Category::Trigger;

    fn validate(&self, v: &mut Validator<'_>) {
        use crate::conditions::multiple::MultipleCondition;
        for s in &self.states {
            if !is_state_name(s) {
                v.trigger_error("states", format!("`{s}` is not an execution state"));
            }
        }
        if let Some(pre) = &self.preconditions {
            for (p, message) in pre.problems() {
                let property = if p.is_empty() {
                    "preconditions".to_owned()
                } else {
                    format!("preconditions.{p}")
                };
                v.trigger_error(&property, message);
            }
        }
        let Some(me) = v.trigger() else {
            return;
        };
        let multiple: Vec<_> = me
            .common
            .conditions
            .iter()
            .filter_map(|c| c.spec::<MultipleCondition>().map(|m| (c, m)))
            .collect();
        for (c, m) in &multiple {
            for message in m.problems() {
                v.error(c.loc, c.path.clone(), format!("{}: {message}", c.path));
            }
        }
        if multiple.len() + usize::from(self.preconditions.is_some()) > 1 {
            v.trigger_error(
                "conditions",
                "a Flow trigger takes one window of conditions: `preconditions` or one \
                 MultipleCondition, not several (split it into several triggers)",
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filter(field: &str, kind: &str, value: Option<&str>, values: &[&str]) -> Filter {
        Filter {
            field: field.into(),
            kind: kind.into(),
            value: value.map(str::to_owned),
            values: values.iter().map(|s| (*s).to_owned()).collect(),
        }
    }

    #[test]
    fn text_filters_compare() {
        let f = filter("NAMESPACE", "STARTS_WITH", Some("company."), &[]);
        assert!(f.matches_text("company.sales"));
        assert!(!f.matches_text("other.sales"));
        let f = filter("FLOW_ID", "IN", None, &["a", "b"]);
        assert!(f.matches_text("b"));
        assert!(!f.matches_text("c"));
        let f = filter("FLOW_ID", "NOT_IN", None, &["a"]);
        assert!(f.matches_text("b"));
        let f = filter("FLOW_ID", "REGEX", Some("ord.*s"), &[]);
        assert!(f.matches_text("orders"));
        assert!(!f.matches_text("my-orders"), "the whole text must match");
        let f = filter("STATE", "EQUAL_TO", Some("success"), &[]);
        assert!(f.matches_text("SUCCESS"));
        let f = filter("NAMESPACE", "ENDS_WITH", Some(".sales"), &[]);
        assert!(f.matches_text("company.sales"));
        let f = filter("FLOW_ID", "CONTAINS", Some("rde"), &[]);
        assert!(f.matches_text("orders"));
        let f = filter("FLOW_ID", "NOT_EQUAL_TO", Some("orders"), &[]);
        assert!(!f.matches_text("orders"));
    }

    #[test]
    fn expression_filters_read_the_rendered_value() {
        let f = filter("EXPRESSION", "IS_TRUE", Some("{{ x }}"), &[]);
        assert!(f.matches_rendered(Some("true")));
        assert!(!f.matches_rendered(Some("false")));
        assert!(!f.matches_rendered(None));
        let f = filter("EXPRESSION", "IS_NULL", Some("{{ x }}"), &[]);
        assert!(f.matches_rendered(None));
        assert!(f.matches_rendered(Some("")));
        assert!(!f.matches_rendered(Some("v")));
    }

    #[test]
    fn impossible_filters_are_reported() {
        let p = |f: Filter| {
            f.problems()
                .into_iter()
                .map(|(p, m)| format!("{p}: {m}"))
                .collect::<Vec<_>>()
        };
        assert!(p(filter("COLOR", "EQUAL_TO", Some("x"), &[]))[0].starts_with("field: unknown"));
        assert!(p(filter("FLOW_ID", "LIKE", Some("x"), &[]))[0].starts_with("type: unknown"));
        assert!(p(filter("FLOW_ID", "IS_TRUE", None, &[]))[0].contains("compares text"));
        assert!(p(filter("FLOW_ID", "EQUAL_TO", None, &[]))[0].contains("needs a `value`"));
        assert!(p(filter("FLOW_ID", "IN", None, &[]))[0].contains("needs `values`"));
        assert!(p(filter("EXPRESSION", "EQUAL_TO", Some("{{ a }}"), &[]))[0].contains("IS_TRUE"));
        assert!(p(filter("FLOW_ID", "REGEX", Some("(a"), &[]))[0].contains("not a regular"));
        assert!(p(filter("STATE", "EQUAL_TO", Some("DONE"), &[]))[0].contains("not an execution"));
        assert!(p(filter("NAMESPACE", "STARTS_WITH", Some("a"), &[])).is_empty());
    }

    #[test]
    fn windows_read() {
        let tw = |yaml: &str| {
            serde_json::from_str::<TimeWindow>(yaml)
                .unwrap()
                .window_kind()
        };
        assert_eq!(
            tw(r#"{"window": "PT1H"}"#).unwrap(),
            WindowKind::Duration {
                window: IsoDuration::from_secs(3600),
                advance: IsoDuration::default()
            }
        );
        assert!(
            tw(r#"{"window": "PT0S"}"#)
                .unwrap_err()
                .contains("positive")
        );
        assert!(
            tw(r#"{"window": "-PT1H"}"#)
                .unwrap_err()
                .contains("positive")
        );
        assert!(
            tw(r#"{"type": "WEEKLY"}"#)
                .unwrap_err()
                .contains("unknown window")
        );
        assert_eq!(
            tw(r#"{"type": "DAILY_TIME_DEADLINE", "deadline": "09:30"}"#).unwrap(),
            WindowKind::DailyDeadline {
                deadline: NaiveTime::from_hms_opt(9, 30, 0).unwrap()
            }
        );
        assert!(
            tw(r#"{"type": "DAILY_TIME_DEADLINE"}"#)
                .unwrap_err()
                .contains("needs `deadline`")
        );
        assert!(
            tw(r#"{"type": "DAILY_TIME_WINDOW", "startTime": "10:00", "endTime": "09:00"}"#)
                .unwrap_err()
                .contains("must come after")
        );
        assert_eq!(
            tw(r#"{"type": "DAILY_TIME_WINDOW", "startTime": "10:00:00+02:00", "endTime": "11:00Z"}"#)
                .unwrap(),
            WindowKind::DailyWindow {
                start: NaiveTime::from_hms_opt(8, 0, 0).unwrap(),
                end: NaiveTime::from_hms_opt(11, 0, 0).unwrap()
            }
        );
        assert!(parse_time_of_day("25:00").is_err());
    }
}
