//! Flowable task behaviour, one file per type: how a run starts and what comes next.

pub mod allow_failure;
pub mod dag;
pub mod for_each;
pub mod for_each_item;
pub mod r#if;
pub mod parallel;
pub mod pause;
pub mod sequential;
pub mod subflow;
pub mod switch;
pub mod wait_for;
pub mod working_directory;

use kite_flow::Task;
use kite_flow::plugin::PluginType;
use kite_flow::tasks as t;

use super::Cx;
use super::branch::Decision;

/// Initialises a flowable (or executable) run that just became RUNNING.
pub fn start(cx: &mut Cx<'_>, task: &Task, id: &str) -> Result<(), String> {
    match task.type_name {
        t::r#if::If::TYPE => r#if::start(cx, task, id),
        t::switch::Switch::TYPE => switch::start(cx, task, id),
        t::for_each::ForEach::TYPE
        | t::each_sequential::EachSequential::TYPE
        | t::each_parallel::EachParallel::TYPE => for_each::start(cx, task, id),
        t::pause::Pause::TYPE => pause::start(cx, task, id),
        t::wait_for::WaitFor::TYPE => {
            let mut out = serde_json::Map::new();
            out.insert("iterationCount".into(), serde_json::Value::from(0));
            cx.set_outputs(id, out);
            Ok(())
        }
        t::subflow::Subflow::TYPE => {
            cx.push_attempt(id);
            subflow::start_child(cx, task, id);
            Ok(())
        }
        t::for_each_item::ForEachItem::TYPE => Ok(()),
        t::working_directory::WorkingDirectory::TYPE => working_directory::start(cx, task, id),
        t::for_each_item::ForEachItemItems::TYPE => {
            cx.push_attempt(id);
            for_each_item::start_items(cx, task, id)
        }
        t::template::Template::TYPE => {
            Err("Template tasks are not supported: templates are replaced by subflows".into())
        }
        _ => Ok(()),
    }
}

/// What a running flowable does next.
pub fn next<'f>(cx: &Cx<'f>, task: &'f Task, id: &str) -> Decision<'f> {
    match task.type_name {
        t::sequential::Sequential::TYPE => sequential::next(cx, task, id),
        t::parallel::Parallel::TYPE => parallel::next(cx, task, id),
        t::r#if::If::TYPE => r#if::next(cx, task, id),
        t::switch::Switch::TYPE => switch::next(cx, task, id),
        t::for_each::ForEach::TYPE
        | t::each_sequential::EachSequential::TYPE
        | t::each_parallel::EachParallel::TYPE => for_each::next(cx, task, id),
        t::dag::Dag::TYPE => dag::next(cx, task, id),
        t::allow_failure::AllowFailure::TYPE => allow_failure::next(cx, task, id),
        t::pause::Pause::TYPE => pause::next(cx, task, id),
        t::wait_for::WaitFor::TYPE => wait_for::next(cx, task, id),
        t::working_directory::WorkingDirectory::TYPE => working_directory::next(cx, task, id),
        t::for_each_item::ForEachItem::TYPE => for_each_item::next(cx, task, id),
        _ => Decision::Done(crate::model::State::Failed),
    }
}
