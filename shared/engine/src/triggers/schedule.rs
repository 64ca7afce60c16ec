//! `io.kestra.plugin.core.trigger.Schedule`: an execution at each fire time of a cron
//! expression in a time zone.
//!
//! Fire times are computed on local wall-clock times, then placed in the zone: a local
//! time skipped by a DST change fires nothing, a repeated one fires once (at its first
//! instant). The tick creates the executions of fire times up to its lookahead ahead, as
//! executions scheduled for their date; fire times older than the grace period were
//! missed (Kite was down) and `recoverMissedSchedules` decides: ALL (Kestra's default)
//! fires each, LAST the latest, NONE none. `lateMaximumDelay` skips a fire time seen
//! later than that after it. `conditions` are evaluated for each fire time with
//! `trigger.date` set to it. A backfill replays the fire times of a past range.

use chrono::{DateTime, NaiveDateTime, Utc};
use chrono_tz::Tz;
use kite_flow::Flow;
use kite_flow::plugin::Trigger;
use kite_flow::triggers::schedule::{RecoverMissedSchedules, Schedule, parse_cron};
use serde_json::{Map, Value};

use super::registry::{EvalContext, Evaluation, TickTrigger};
use super::{Backfill, Occurrence, TriggerError, iso};
use crate::model::Label;

/// The Schedule implementation.
#[derive(Debug, Clone, Copy)]
pub struct ScheduleTrigger;

/// A parsed schedule: cron and zone.
#[derive(Debug, Clone)]
pub struct CronSchedule {
    cron: croner::Cron,
    tz: Tz,
}

/// How many matching wall-clock times are examined before giving up (a cron that never
/// matches a real instant).
const MAX_STEPS: usize = 10_000;

impl CronSchedule {
    /// Parses `cron` in zone `tz` (default UTC).
    pub fn new(cron: &str, with_seconds: bool, tz: Option<&str>) -> Result<Self, String> {
        let cron = parse_cron(cron, with_seconds)
            .map_err(|e| format!("invalid cron expression `{cron}`: {e}"))?;
        let tz = match tz {
            None => chrono_tz::UTC,
            Some(name) => name.parse::<Tz>().map_err(|_| {
                format!("`{name}` is not a valid time-zone ID (e.g. Europe/Paris, UTC)")
            })?,
        };
        Ok(Self { cron, tz })
    }

    /// Of a Schedule definition.
    pub fn of(spec: &Schedule) -> Result<Self, String> {
        Self::new(&spec.cron, spec.with_seconds, spec.timezone.as_deref())
    }

    /// The zone.
    pub fn tz(&self) -> Tz {
        self.tz
    }

    /// The first fire time strictly after `t`.
    pub fn next_after(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        use chrono::TimeZone;
        use chrono::offset::LocalResult;
        let mut local: NaiveDateTime = t.with_timezone(&self.tz).naive_local();
        for _ in 0..MAX_STEPS {
            local = self.cron.find_next_occurrence(&local, false).ok()?;
            match self.tz.from_local_datetime(&local) {
                LocalResult::Single(d) => {
                    let d = d.with_timezone(&Utc);
                    if d > t {
                        return Some(d);
                    }
                }
                LocalResult::Ambiguous(first, _) => {
                    // A repeated wall-clock time fires once, at its first instant.
                    let d = first.with_timezone(&Utc);
                    if d > t {
                        return Some(d);
                    }
                }
                // Skipped by the change to summer time: no fire.
                LocalResult::None => {}
            }
        }
        None
    }

    /// The last fire time strictly before `t`.
    pub fn previous_before(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        use chrono::TimeZone;
        use chrono::offset::LocalResult;
        let mut local: NaiveDateTime = t.with_timezone(&self.tz).naive_local();
        for _ in 0..MAX_STEPS {
            local = self.cron.find_previous_occurrence(&local, false).ok()?;
            match self.tz.from_local_datetime(&local) {
                LocalResult::Single(d) | LocalResult::Ambiguous(d, _) => {
                    let d = d.with_timezone(&Utc);
                    if d < t {
                        return Some(d);
                    }
                }
                LocalResult::None => {}
            }
        }
        None
    }

    /// `trigger.date`, `trigger.next`, `trigger.previous` of the fire time `at`.
    pub fn variables(&self, at: DateTime<Utc>) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert(
            "date".into(),
            Value::String(iso(at.with_timezone(&self.tz))),
        );
        if let Some(n) = self.next_after(at) {
            m.insert("next".into(), Value::String(iso(n.with_timezone(&self.tz))));
        }
        if let Some(p) = self.previous_before(at) {
            m.insert(
                "previous".into(),
                Value::String(iso(p.with_timezone(&self.tz))),
            );
        }
        m
    }
}

fn spec(trigger: &Trigger) -> Option<&Schedule> {
    trigger.spec::<Schedule>()
}

fn labels_of(backfill: &Backfill) -> Vec<Label> {
    let mut labels = backfill.labels.clone();
    if !labels.iter().any(|l| l.key == "system.backfill") {
        labels.push(Label {
            key: "system.backfill".into(),
            value: "true".into(),
        });
    }
    labels
}

#[async_trait::async_trait]
impl TickTrigger for ScheduleTrigger {
    fn first_due(
        &self,
        _flow: &Flow,
        trigger: &Trigger,
        now: DateTime<Utc>,
    ) -> Result<Option<DateTime<Utc>>, String> {
        let Some(s) = spec(trigger) else {
            return Err("not a Schedule".into());
        };
        Ok(CronSchedule::of(s)?.next_after(now - chrono::Duration::milliseconds(1)))
    }

    async fn evaluate(&self, cx: &EvalContext<'_>) -> Result<Evaluation, TriggerError> {
        let Some(s) = spec(cx.trigger) else {
            return Err(cx.definition_error("not a Schedule"));
        };
        let sched = CronSchedule::of(s).map_err(|m| cx.definition_error(m))?;
        let lookahead = chrono::Duration::from_std(cx.config.lookahead).unwrap_or_default();
        let grace = chrono::Duration::from_std(cx.config.grace).unwrap_or_default();
        let horizon = cx.now + lookahead;
        let late = s.late_maximum_delay.map(|d| d.to_chrono());
        let recover = s
            .recover_missed_schedules
            .unwrap_or(RecoverMissedSchedules::All);
        let inputs: Map<String, Value> = s.inputs.clone().into_iter().collect();
        let mut eval = Evaluation::default();

        // The regular fire times, from the stored next one up to the horizon.
        let mut candidates = Vec::new();
        let mut at = cx.state.next_execution_date;
        while let Some(t) = at {
            if t > horizon || candidates.len() >= cx.config.max_per_trigger {
                break;
            }
            candidates.push(t);
            at = sched.next_after(t);
        }
        let next = at;
        let (missed, current): (Vec<_>, Vec<_>) =
            candidates.into_iter().partition(|t| cx.now - *t > grace);
        let mut fire_times: Vec<DateTime<Utc>> = match recover {
            RecoverMissedSchedules::All => missed,
            RecoverMissedSchedules::Last => missed.last().copied().into_iter().collect(),
            RecoverMissedSchedules::None => Vec::new(),
        };
        fire_times.extend(current);
        for t in fire_times {
            if let Some(late) = late
                && cx.now - t > late
            {
                tracing::info!(trigger = %cx.trigger.id, date = %t, "fire time skipped: later than lateMaximumDelay");
                continue;
            }
            let vars = sched.variables(t);
            if !super::conditions_hold(cx, &vars)? {
                continue;
            }
            let mut occ = Occurrence::new(format!("schedule|{}", t.timestamp_millis()), vars);
            occ.inputs = inputs.clone();
            occ.schedule_date = (t > cx.now).then_some(t);
            eval.occurrences.push(occ);
            eval.date = Some(t);
        }
        eval.next = next;

        // A backfill: its fire times up to its end (or now), a batch per tick.
        if let Some(b) = cx.state.backfill.as_ref().filter(|b| !b.paused) {
            let mut b = b.clone();
            let end = b.end.map_or(cx.now, |e| e.min(cx.now));
            let mut at = match b.current_date {
                Some(c) => Some(c),
                None => sched.next_after(b.start - chrono::Duration::milliseconds(1)),
            };
            let created = b.created.map(|c| c.timestamp_millis()).unwrap_or_default();
            let mut fired = 0;
            while let Some(t) = at {
                if t > end || fired >= cx.config.max_per_trigger {
                    break;
                }
                let vars = sched.variables(t);
                if super::conditions_hold(cx, &vars)? {
                    let mut occ = Occurrence::new(
                        format!("backfill|{created}|{}", t.timestamp_millis()),
                        vars,
                    );
                    let mut backfill_inputs = inputs.clone();
                    backfill_inputs.extend(b.inputs.clone());
                    occ.inputs = backfill_inputs;
                    occ.labels = labels_of(&b);
                    eval.occurrences.push(occ);
                    fired += 1;
                }
                at = sched.next_after(t);
            }
            eval.backfill = Some(match at {
                // More to run than one tick fires.
                Some(t) if t <= end => {
                    b.current_date = Some(t);
                    Some(b)
                }
                // Done: past its end, or caught up with now (the schedule goes on).
                _ => None,
            });
        }
        Ok(eval)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn a_skipped_local_hour_fires_nothing_a_repeated_one_fires_once() {
        // Europe/Paris: 2026-03-29 02:00 → 03:00 (skipped); 2026-10-25 03:00 → 02:00 (repeated).
        let s = CronSchedule::new("30 2 * * *", false, Some("Europe/Paris")).unwrap();
        let spring = s.next_after(utc("2026-03-28T12:00:00Z")).unwrap();
        assert_eq!(spring, utc("2026-03-30T00:30:00Z"), "29 March has no 02:30");
        let autumn = s.next_after(utc("2026-10-24T12:00:00Z")).unwrap();
        assert_eq!(
            autumn,
            utc("2026-10-25T00:30:00Z"),
            "the first 02:30 (+02:00)"
        );
        let after = s.next_after(autumn).unwrap();
        assert_eq!(
            after,
            utc("2026-10-26T01:30:00Z"),
            "not the second 02:30 (+01:00)"
        );
    }

    #[test]
    fn nicknames_seconds_and_special_fields_parse() {
        for (cron, secs) in [
            ("@hourly", false),
            ("@daily", false),
            ("@weekly", false),
            ("@monthly", false),
            ("@yearly", false),
            ("@annually", false),
            ("0 0 L * *", false),
            ("0 0 15W * *", false),
            ("0 0 * * 5#3", false),
            ("*/5 * * * * *", true),
        ] {
            CronSchedule::new(cron, secs, None).unwrap_or_else(|e| panic!("{cron}: {e}"));
        }
        let s = CronSchedule::new("* * * * * *", true, None).unwrap();
        let t = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        assert_eq!(s.next_after(t), Some(t + chrono::Duration::seconds(1)));
        assert!(CronSchedule::new("61 * * * *", false, None).is_err());
        assert!(CronSchedule::new("* * * * *", false, Some("Mars/Base")).is_err());
    }

    #[test]
    fn variables_carry_the_zone_offset() {
        let s = CronSchedule::new("0 9 * * *", false, Some("Europe/Paris")).unwrap();
        let v = s.variables(utc("2026-01-05T08:00:00Z"));
        assert_eq!(v["date"], "2026-01-05T09:00:00+01:00");
        assert_eq!(v["next"], "2026-01-06T09:00:00+01:00");
        assert_eq!(v["previous"], "2026-01-04T09:00:00+01:00");
        let u = CronSchedule::new("0 9 * * *", false, None).unwrap();
        assert_eq!(
            u.variables(utc("2026-01-05T09:00:00Z"))["date"],
            "2026-01-05T09:00:00Z"
        );
    }
}
