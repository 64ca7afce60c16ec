//! SLAs: `MAX_DURATION` (a deadline armed at start) and `EXECUTION_ASSERTION` (checked
//! as the execution progresses). A violation adds the SLA's labels and applies its
//! behaviour: FAIL (end FAILED), CANCEL (end CANCELLED) or NONE (labels only).

use kite_flow::model::sla::{SlaBehavior, SlaType};
use kite_flow::plugin::LogLevel;

use super::{Action, Cx, TimerKind, context};
use crate::model::{Label, State};

/// Arms the MAX_DURATION deadlines.
pub fn arm(cx: &mut Cx<'_>) {
    for (index, sla) in cx.flow.sla.iter().enumerate() {
        if sla.kind == SlaType::MaxDuration
            && let Some(d) = sla.duration
        {
            let start = cx.rec.execution.state.start_date.unwrap_or(cx.now);
            cx.actions.push(Action::Timer {
                at: start + d.to_chrono(),
                timer: TimerKind::Sla { index },
            });
        }
    }
}

/// A deadline passed.
pub fn on_deadline(cx: &mut Cx<'_>, index: usize) {
    if cx.rec.execution.current().is_terminated() {
        return;
    }
    violate(cx, index, "the execution exceeded its maximum duration");
}

/// Checks the assertions; whether something changed.
pub fn check_assertions(cx: &mut Cx<'_>) -> bool {
    let mut changed = false;
    for (index, sla) in cx.flow.sla.iter().enumerate() {
        if sla.kind != SlaType::ExecutionAssertion || cx.rec.internal.sla_violated.contains(&index)
        {
            continue;
        }
        let Some(assertion) = &sla.assertion else {
            continue;
        };
        let needs = context::Needs::of(assertion);
        let vars = context::execution_vars_for(cx.rt, cx.flow, &cx.rec.execution, needs);
        let ctx = context::render_context(cx.rt, vars, &cx.rec.internal.error_logs, cx.now);
        let holds = cx
            .rt
            .engine
            .render(assertion, &ctx)
            .map(|v| kite_expr::is_truthy(&v))
            .unwrap_or(false);
        if !holds {
            violate(cx, index, "the execution assertion does not hold");
            changed = true;
        }
        if cx.rec.execution.current().is_terminated() {
            break;
        }
    }
    changed
}

fn violate(cx: &mut Cx<'_>, index: usize, why: &str) {
    if cx.rec.internal.sla_violated.contains(&index) {
        return;
    }
    cx.rec.internal.sla_violated.push(index);
    let Some(sla) = cx.flow.sla.get(index) else {
        return;
    };
    cx.log(
        None,
        LogLevel::Warn,
        format!("SLA '{}' violated: {why}", sla.id),
    );
    for l in sla.labels.iter() {
        let labels = &mut cx.rec.execution.labels;
        match labels.iter_mut().find(|x| x.key == l.key) {
            Some(x) => x.value = l.value.clone(),
            None => labels.push(Label {
                key: l.key.clone(),
                value: l.value.clone(),
            }),
        }
    }
    match sla.behavior {
        SlaBehavior::Fail => cx.stop_all(State::Failed),
        SlaBehavior::Cancel => cx.stop_all(State::Cancelled),
        SlaBehavior::None => {}
    }
}
