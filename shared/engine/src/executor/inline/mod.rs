//! Runnable tasks pure enough to run inside the executor, without a worker hop: one file
//! per type. Each renders its properties and returns the attempt's state and outputs.

pub mod echo;
pub mod exit;
pub mod fail;
pub mod labels;
pub mod log;
pub mod output_values;
pub mod resume;
pub mod r#return;

use kite_flow::Task;
use kite_flow::plugin::PluginType;
use kite_flow::tasks as t;
use serde_json::{Map, Value};

use super::Cx;
use crate::model::State;

/// The outcome of an inline task: state and outputs, or an error message (FAILED).
pub type Outcome = Result<(State, Map<String, Value>), String>;

/// Runs `task` inline if it is an inline type.
pub fn run(cx: &mut Cx<'_>, task: &Task, id: &str) -> Option<Outcome> {
    Some(match task.type_name {
        t::log::Log::TYPE => log::run(cx, task, id),
        t::r#return::Return::TYPE => r#return::run(cx, task, id),
        t::echo::Echo::TYPE => echo::run(cx, task, id),
        t::output_values::OutputValues::TYPE => output_values::run(cx, task, id),
        t::fail::Fail::TYPE => fail::run(cx, task, id),
        t::labels::Labels::TYPE => labels::run(cx, task, id),
        t::exit::Exit::TYPE => exit::run(cx, task, id),
        t::resume::Resume::TYPE => resume::run(cx, task, id),
        _ => return None,
    })
}
