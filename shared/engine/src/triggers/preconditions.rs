//! The window of a Flow trigger: its `preconditions` (Kestra 0.19+) or a legacy
//! `MultipleCondition` among its `conditions`. Pure: which named requirements an upstream
//! state change meets, and which window (bucket) it falls in. The stored state of each
//! window is [`super::windows`]'s.
//!
//! # Requirements
//! - `preconditions.flows[i]` (named `flows[i]`): the upstream execution belongs to
//!   `namespace` (and `flowId` when given), is in one of `states` (any, when empty: the
//!   trigger's `states` already filtered it), and carries every label of `labels`;
//! - `preconditions.where[i]` (named by its `id`): its filters, AND-ed (or OR-ed with
//!   `operand: OR`); FLOW_ID, NAMESPACE and STATE compare text, EXPRESSION renders its
//!   value in the upstream execution's context (`labels`, `outputs`, `execution`...);
//! - each named condition of a `MultipleCondition` (named by its key), decided by the
//!   condition evaluator.
//!
//! # Windows (times of day in UTC)
//! - DURATION_WINDOW (default, 24 hours): consecutive windows of `window`, aligned on the
//!   Unix epoch shifted by `windowAdvance` (so on UTC midnight when `window` divides a day);
//! - SLIDING_WINDOW: one window per trigger; a requirement counts when it was met within
//!   `window` before the latest change;
//! - DAILY_TIME_DEADLINE: from midnight to `deadline`; later changes count for nothing;
//! - DAILY_TIME_WINDOW: from `startTime` to `endTime`; changes outside count for nothing.

use chrono::{DateTime, Duration, TimeZone, Utc};
use kite_flow::conditions::multiple::MultipleCondition;
use kite_flow::plugin::{Condition, Trigger};
use kite_flow::triggers::flow::{
    FilterField, FlowTrigger, UpstreamFlow, WhereCondition, WindowKind, window_kind,
};

use crate::conditions::{ConditionContext, ConditionError, UpstreamExecution};

/// One named requirement of a window.
#[derive(Debug, Clone, Copy)]
pub enum Requirement<'a> {
    /// An upstream flow (`preconditions.flows[i]`).
    Upstream(&'a UpstreamFlow),
    /// A `where` entry.
    Where(&'a WhereCondition),
    /// A named condition of a `MultipleCondition`.
    Condition(&'a Condition),
}

/// The window of one trigger.
#[derive(Debug, Clone)]
pub struct Window<'a> {
    /// The id its state is stored under (`preconditions.id`, the MultipleCondition's id).
    pub id: String,
    /// How it groups changes in time.
    pub kind: WindowKind,
    /// Whether its results are cleared once it fired (default true).
    pub reset_on_success: bool,
    /// The named requirements, all needed.
    pub requirements: Vec<(String, Requirement<'a>)>,
}

impl<'a> Window<'a> {
    /// The window of `trigger`, if it has one; an error when it cannot be used (validation
    /// rejects those: this is for flows stored before it did).
    pub fn of(trigger: &'a Trigger) -> Result<Option<Self>, String> {
        let spec = trigger.spec::<FlowTrigger>();
        if let Some(pre) = spec.and_then(|s| s.preconditions.as_ref()) {
            let mut requirements: Vec<(String, Requirement<'a>)> = pre
                .flows
                .iter()
                .enumerate()
                .map(|(i, f)| (format!("flows[{i}]"), Requirement::Upstream(f)))
                .collect();
            requirements.extend(
                pre.filters
                    .iter()
                    .map(|w| (format!("where.{}", w.id), Requirement::Where(w))),
            );
            if requirements.is_empty() {
                return Err("preconditions list no `flows` and no `where`: never met".into());
            }
            return Ok(Some(Window {
                id: pre.id.clone().unwrap_or_else(|| "preconditions".into()),
                kind: window_kind(pre.time_window.as_ref())?,
                reset_on_success: pre.reset_on_success.unwrap_or(true),
                requirements,
            }));
        }
        let Some(m) = trigger
            .common
            .conditions
            .iter()
            .find_map(|c| c.spec::<MultipleCondition>())
        else {
            return Ok(None);
        };
        if m.conditions.is_empty() {
            return Err(format!("MultipleCondition `{}` has no conditions", m.id));
        }
        Ok(Some(Window {
            id: m.id.clone(),
            kind: m.window_kind()?,
            reset_on_success: m.reset_on_success.unwrap_or(true),
            requirements: m
                .conditions
                .iter()
                .map(|(name, c)| (name.clone(), Requirement::Condition(c)))
                .collect(),
        }))
    }

    /// The names of the requirements `upstream` meets, and why some could not be decided
    /// (those count as not met). `render` renders an EXPRESSION filter in the upstream
    /// execution's context (`None`: it rendered to nothing).
    pub fn met(
        &self,
        upstream: &UpstreamExecution,
        cx: &ConditionContext<'_>,
        render: &dyn Fn(&str) -> Result<Option<String>, String>,
    ) -> (Vec<String>, Vec<String>) {
        let mut met = Vec::new();
        let mut problems = Vec::new();
        for (name, r) in &self.requirements {
            let ok = match r {
                Requirement::Upstream(f) => Ok(upstream_matches(f, upstream)),
                Requirement::Where(w) => where_matches(w, upstream, render)
                    .map_err(|e| format!("`where` entry `{}`: {e}", w.id)),
                Requirement::Condition(c) => {
                    crate::conditions::evaluate(c, cx).map_err(|e: ConditionError| e.to_string())
                }
            };
            match ok {
                Ok(true) => met.push(name.clone()),
                Ok(false) => {}
                Err(e) => problems.push(e),
            }
        }
        (met, problems)
    }

    /// The names of every requirement.
    pub fn names(&self) -> Vec<String> {
        self.requirements.iter().map(|(n, _)| n.clone()).collect()
    }
}

/// Whether `upstream` is an execution `f` waits for.
pub fn upstream_matches(f: &UpstreamFlow, upstream: &UpstreamExecution) -> bool {
    f.namespace == upstream.namespace
        && f.flow_id.as_ref().is_none_or(|id| *id == upstream.flow_id)
        && (f.states.is_empty()
            || f.states
                .iter()
                .any(|s| crate::model::State::parse(s) == Some(upstream.state)))
        && f.labels.iter().all(|l| {
            upstream
                .labels
                .iter()
                .any(|u| u.key == l.key && u.value == l.value)
        })
}

/// Whether `upstream` passes the filters of `w` (AND-ed, or OR-ed; evaluated in order and
/// only as far as needed, so an expression is not rendered for a change an earlier filter
/// already decided).
pub fn where_matches(
    w: &WhereCondition,
    upstream: &UpstreamExecution,
    render: &dyn Fn(&str) -> Result<Option<String>, String>,
) -> Result<bool, String> {
    let any = w.is_or();
    for f in &w.filters {
        let ok = match f.field()? {
            FilterField::FlowId => f.matches_text(&upstream.flow_id),
            FilterField::Namespace => f.matches_text(&upstream.namespace),
            FilterField::State => f.matches_text(upstream.state.name()),
            FilterField::Expression => {
                let rendered = render(f.value.as_deref().unwrap_or_default())?;
                f.matches_rendered(rendered.as_deref())
            }
        };
        if ok == any {
            return Ok(any);
        }
    }
    Ok(!any)
}

/// The window a change at `at` falls in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bucket {
    /// Names it among the trigger's windows.
    pub key: String,
    /// When it closes (its stored state may go some time after).
    pub end: DateTime<Utc>,
    /// For a sliding window: how far back a met requirement counts.
    pub sliding: Option<Duration>,
}

/// The bucket of a change at `at`; `None` when the change falls outside every window
/// (after a daily deadline, outside a daily window).
pub fn bucket(kind: WindowKind, at: DateTime<Utc>) -> Option<Bucket> {
    let stamp = |d: DateTime<Utc>| d.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let day = at.date_naive();
    match kind {
        WindowKind::Duration { window, advance } => {
            let w = window.as_millis().max(1);
            let a = advance.as_millis();
            let t = at.timestamp_millis() - a;
            let start_ms = t.div_euclid(w) * w + a;
            let start = Utc.timestamp_millis_opt(start_ms).single()?;
            Some(Bucket {
                key: stamp(start),
                end: start + Duration::milliseconds(w),
                sliding: None,
            })
        }
        WindowKind::Sliding { window } => Some(Bucket {
            key: "sliding".into(),
            end: at + window.to_chrono(),
            sliding: Some(window.to_chrono()),
        }),
        WindowKind::DailyDeadline { deadline } => {
            let start = day.and_hms_opt(0, 0, 0)?.and_utc();
            let end = day.and_time(deadline).and_utc();
            (at <= end).then(|| Bucket {
                key: stamp(start),
                end,
                sliding: None,
            })
        }
        WindowKind::DailyWindow { start, end } => {
            let start = day.and_time(start).and_utc();
            let end = day.and_time(end).and_utc();
            (start <= at && at <= end).then(|| Bucket {
                key: stamp(start),
                end,
                sliding: None,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveTime;
    use kite_flow::IsoDuration;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn duration_windows_are_consecutive_and_shifted() {
        let kind = WindowKind::Duration {
            window: IsoDuration::from_secs(3600),
            advance: IsoDuration::default(),
        };
        let b = bucket(kind, at("2024-05-01T10:59:59Z")).unwrap();
        assert_eq!(b.key, "2024-05-01T10:00:00.000Z");
        assert_eq!(b.end, at("2024-05-01T11:00:00Z"));
        let next = bucket(kind, at("2024-05-01T11:00:00Z")).unwrap();
        assert_eq!(next.key, "2024-05-01T11:00:00.000Z");
        let day = WindowKind::Duration {
            window: IsoDuration::from_secs(86_400),
            advance: IsoDuration::from_secs(6 * 3600),
        };
        assert_eq!(
            bucket(day, at("2024-05-01T05:00:00Z")).unwrap().key,
            "2024-04-30T06:00:00.000Z"
        );
        assert_eq!(
            bucket(day, at("2024-05-01T07:00:00Z")).unwrap().key,
            "2024-05-01T06:00:00.000Z"
        );
    }

    #[test]
    fn daily_windows_ignore_changes_outside() {
        let deadline = WindowKind::DailyDeadline {
            deadline: NaiveTime::from_hms_opt(9, 0, 0).unwrap(),
        };
        let b = bucket(deadline, at("2024-05-01T08:00:00Z")).unwrap();
        assert_eq!(b.key, "2024-05-01T00:00:00.000Z");
        assert_eq!(b.end, at("2024-05-01T09:00:00Z"));
        assert!(bucket(deadline, at("2024-05-01T09:00:01Z")).is_none());
        let window = WindowKind::DailyWindow {
            start: NaiveTime::from_hms_opt(8, 0, 0).unwrap(),
            end: NaiveTime::from_hms_opt(10, 0, 0).unwrap(),
        };
        assert!(bucket(window, at("2024-05-01T07:59:59Z")).is_none());
        assert_eq!(
            bucket(window, at("2024-05-01T09:00:00Z")).unwrap().key,
            "2024-05-01T08:00:00.000Z"
        );
        assert!(bucket(window, at("2024-05-01T10:00:01Z")).is_none());
    }

    #[test]
    fn sliding_windows_have_one_bucket() {
        let kind = WindowKind::Sliding {
            window: IsoDuration::from_secs(60),
        };
        let a = bucket(kind, at("2024-05-01T08:00:00Z")).unwrap();
        let b = bucket(kind, at("2024-05-02T08:00:00Z")).unwrap();
        assert_eq!(a.key, b.key);
        assert_eq!(a.sliding, Some(Duration::seconds(60)));
    }
}
