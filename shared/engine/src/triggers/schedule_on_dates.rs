//! `io.kestra.plugin.core.trigger.ScheduleOnDates`: an execution at each listed date.
//!
//! `dates` is a list of ISO-8601 date-times (or an expression rendering to one); a date
//! without an offset is read in `timezone` (default UTC). Dates are fired in order, each
//! once; dates in the past when the trigger is deployed are not fired, and the missed ones
//! follow `recoverMissedSchedules` like a Schedule.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use kite_flow::Flow;
use kite_flow::plugin::Trigger;
use kite_flow::triggers::schedule::RecoverMissedSchedules;
use kite_flow::triggers::schedule_on_dates::ScheduleOnDates;
use serde_json::{Map, Value};

use super::registry::{EvalContext, Evaluation, TickTrigger};
use super::{Occurrence, TriggerError, iso};

/// The ScheduleOnDates implementation.
#[derive(Debug, Clone, Copy)]
pub struct ScheduleOnDatesTrigger;

fn zone(spec: &ScheduleOnDates) -> Result<Tz, String> {
    match &spec.timezone {
        None => Ok(chrono_tz::UTC),
        Some(n) => n
            .parse::<Tz>()
            .map_err(|_| format!("`{n}` is not a valid time-zone ID (e.g. Europe/Paris, UTC)")),
    }
}

fn parse_date(s: &str, tz: Tz) -> Result<DateTime<Utc>, String> {
    use chrono::TimeZone;
    if let Ok(d) = DateTime::parse_from_rfc3339(s) {
        return Ok(d.with_timezone(&Utc));
    }
    for fmt in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M:%S",
    ] {
        if let Ok(n) = chrono::NaiveDateTime::parse_from_str(s, fmt) {
            return tz
                .from_local_datetime(&n)
                .earliest()
                .map(|d| d.with_timezone(&Utc))
                .ok_or_else(|| format!("`{s}` does not exist in {tz} (a DST gap)"));
        }
    }
    if let Ok(d) = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return tz
            .from_local_datetime(&d.and_hms_opt(0, 0, 0).unwrap_or_default())
            .earliest()
            .map(|d| d.with_timezone(&Utc))
            .ok_or_else(|| format!("`{s}` does not exist in {tz}"));
    }
    Err(format!(
        "`{s}` is not an ISO-8601 date-time (e.g. 2026-12-24T09:00:00+01:00)"
    ))
}

/// The dates of a definition, sorted, without duplicates (rendering `dates` when it is an
/// expression).
pub fn dates(
    render: impl Fn(&Value) -> Result<Value, String>,
    spec: &ScheduleOnDates,
) -> Result<Vec<DateTime<Utc>>, String> {
    let tz = zone(spec)?;
    let value = render(&spec.dates)?;
    let list = match value {
        Value::Array(a) => a,
        Value::String(s) => match serde_json::from_str::<Value>(&s) {
            Ok(Value::Array(a)) => a,
            _ => vec![Value::String(s)],
        },
        other => return Err(format!("`dates` must be a list of date-times, not {other}")),
    };
    let mut out = Vec::new();
    for v in list {
        let s = v
            .as_str()
            .ok_or_else(|| format!("`dates` holds {v}, not a date-time string"))?;
        out.push(parse_date(s, tz)?);
    }
    out.sort();
    out.dedup();
    Ok(out)
}

fn render_plain(v: &Value) -> Result<Value, String> {
    Ok(v.clone())
}

#[async_trait::async_trait]
impl TickTrigger for ScheduleOnDatesTrigger {
    fn first_due(
        &self,
        _flow: &Flow,
        trigger: &Trigger,
        now: DateTime<Utc>,
    ) -> Result<Option<DateTime<Utc>>, String> {
        let Some(s) = trigger.spec::<ScheduleOnDates>() else {
            return Err("not a ScheduleOnDates".into());
        };
        // Expressions are rendered at the tick; a literal list is checked now.
        let has_expression = s.dates.to_string().contains("{{");
        if has_expression {
            return Ok(Some(now));
        }
        Ok(dates(render_plain, s)?.into_iter().find(|d| *d >= now))
    }

    async fn evaluate(&self, cx: &EvalContext<'_>) -> Result<Evaluation, TriggerError> {
        let Some(s) = cx.trigger.spec::<ScheduleOnDates>() else {
            return Err(cx.definition_error("not a ScheduleOnDates"));
        };
        let tz = zone(s).map_err(|m| cx.definition_error(m))?;
        let ctx = super::fire::render_context(cx.platform, cx.flow, &Map::new());
        let all = dates(
            |v| {
                cx.platform
                    .rt
                    .engine
                    .render_value(v, &ctx)
                    .map_err(|e| e.to_string())
            },
            s,
        )
        .map_err(|m| cx.definition_error(format!("dates: {m}")))?;
        let lookahead = chrono::Duration::from_std(cx.config.lookahead).unwrap_or_default();
        let grace = chrono::Duration::from_std(cx.config.grace).unwrap_or_default();
        let from = cx.state.next_execution_date.unwrap_or(cx.now);
        let due: Vec<_> = all
            .iter()
            .copied()
            .filter(|d| *d >= from && *d <= cx.now + lookahead)
            .take(cx.config.max_per_trigger)
            .collect();
        let (missed, current): (Vec<_>, Vec<_>) = due.iter().partition(|d| cx.now - **d > grace);
        let recover = s
            .recover_missed_schedules
            .unwrap_or(RecoverMissedSchedules::All);
        let mut fire: Vec<DateTime<Utc>> = match recover {
            RecoverMissedSchedules::All => missed,
            RecoverMissedSchedules::Last => missed.last().copied().into_iter().collect(),
            RecoverMissedSchedules::None => Vec::new(),
        };
        fire.extend(current);
        let inputs: Map<String, Value> = s.inputs.clone().into_iter().collect();
        let mut eval = Evaluation::default();
        for (i, d) in fire.iter().enumerate() {
            let mut vars = Map::new();
            vars.insert("date".into(), Value::String(iso(d.with_timezone(&tz))));
            if let Some(n) = fire.get(i + 1).or_else(|| all.iter().find(|x| *x > d)) {
                vars.insert("next".into(), Value::String(iso(n.with_timezone(&tz))));
            }
            if let Some(p) = all.iter().rev().find(|x| *x < d) {
                vars.insert("previous".into(), Value::String(iso(p.with_timezone(&tz))));
            }
            if !super::conditions_hold(cx, &vars)? {
                continue;
            }
            let mut occ = Occurrence::new(format!("dates|{}", d.timestamp_millis()), vars);
            occ.inputs = inputs.clone();
            occ.schedule_date = (*d > cx.now).then_some(*d);
            eval.occurrences.push(occ);
            eval.date = Some(*d);
        }
        let last_seen = due.last().copied();
        eval.next = match last_seen {
            Some(l) => all.into_iter().find(|d| *d > l),
            None => all.into_iter().find(|d| *d >= from),
        };
        Ok(eval)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_read_offsets_and_zones() {
        let spec: ScheduleOnDates = serde_json::from_value(serde_json::json!({
            "dates": ["2026-12-24T09:00:00+01:00", "2026-12-25T09:00:00", "2026-12-24T08:00:00Z"],
            "timezone": "Europe/Paris"
        }))
        .unwrap();
        let d = dates(render_plain, &spec).unwrap();
        assert_eq!(d.len(), 2, "two dates name the same instant");
        assert_eq!(d[1].to_rfc3339(), "2026-12-25T08:00:00+00:00");
        let bad: ScheduleOnDates =
            serde_json::from_value(serde_json::json!({"dates": ["tomorrow"]})).unwrap();
        assert!(dates(render_plain, &bad).unwrap_err().contains("ISO-8601"));
    }
}
