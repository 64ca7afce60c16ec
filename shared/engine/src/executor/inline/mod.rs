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

use std::collections::HashMap;
use std::sync::OnceLock;

use kite_flow::Task;
use kite_flow::plugin::PluginType;
use kite_flow::tasks as t;
use serde_json::{Map, Value};

use super::Cx;
use crate::model::State;

/// The outcome of an inline task: state and outputs, or an error message (FAILED).
pub type Outcome = Result<(State, Map<String, Value>), String>;

/// Runs one inline task type.
pub type InlineFn = fn(&mut Cx<'_>, &Task, &str) -> Outcome;

/// The inline task types by canonical type name.
pub fn registry() -> &'static HashMap<&'static str, InlineFn> {
    static CORE: OnceLock<HashMap<&'static str, InlineFn>> = OnceLock::new();
    CORE.get_or_init(|| {
        let mut m: HashMap<&'static str, InlineFn> = HashMap::new();
        m.insert(t::log::Log::TYPE, log::run);
        m.insert(t::r#return::Return::TYPE, r#return::run);
        m.insert(t::echo::Echo::TYPE, echo::run);
        m.insert(t::output_values::OutputValues::TYPE, output_values::run);
        m.insert(t::fail::Fail::TYPE, fail::run);
        m.insert(t::labels::Labels::TYPE, labels::run);
        m.insert(t::exit::Exit::TYPE, exit::run);
        m.insert(t::resume::Resume::TYPE, resume::run);
        m
    })
}

/// Runs `task` inline if it is an inline type.
pub fn run(cx: &mut Cx<'_>, task: &Task, id: &str) -> Option<Outcome> {
    registry().get(task.type_name).map(|f| f(cx, task, id))
}
