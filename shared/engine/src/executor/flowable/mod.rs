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

use std::collections::HashMap;
use std::sync::OnceLock;

use kite_flow::Task;
use kite_flow::plugin::PluginType;
use kite_flow::tasks as t;

use super::Cx;
use super::branch::Decision;
use crate::model::State;

/// Initialises a run that just became RUNNING (or was restarted).
pub type StartFn = fn(&mut Cx<'_>, &Task, &str) -> Result<(), String>;
/// What a running flowable does next.
pub type NextFn = for<'f> fn(&Cx<'f>, &'f Task, &str) -> Decision<'f>;
/// Looks again at a waiting flowable: an end state when it is over (WaitFor's condition).
pub type WaitFn = fn(&mut Cx<'_>, &Task, &str) -> Option<State>;
/// A child execution of an executable run ended.
pub type ChildEndedFn = fn(&mut Cx<'_>, &Task, &str, subflow::Ended<'_>);

/// The behaviour of one flowable or executable task type in the decision.
#[derive(Debug, Clone, Copy)]
pub struct Handler {
    /// Initialises a run that just became RUNNING.
    pub start: StartFn,
    /// Starts a RESTARTED run again, its attempt already pushed (default: `start`).
    pub restart: Option<StartFn>,
    /// What comes next; executables have none (they end when their child ends).
    pub next: Option<NextFn>,
    /// Called while `next` says Wait.
    pub on_wait: Option<WaitFn>,
    /// A child execution ended (executables).
    pub on_child_ended: Option<ChildEndedFn>,
}

impl Handler {
    /// A flowable that decides with `next` and needs no initialisation.
    const fn flowable(next: NextFn) -> Self {
        Self {
            start: no_start,
            restart: None,
            next: Some(next),
            on_wait: None,
            on_child_ended: None,
        }
    }

    /// A flowable initialised by `start`.
    const fn with_start(mut self, start: StartFn) -> Self {
        self.start = start;
        self
    }
}

fn no_start(_: &mut Cx<'_>, _: &Task, _: &str) -> Result<(), String> {
    Ok(())
}

/// Flowable and executable handlers by canonical task type name: one per type, as the
/// worker's `Runners` are for runnable tasks. A type without one is an error, never a
/// silent success.
#[derive(Debug, Default)]
pub struct Flowables {
    by_type: HashMap<&'static str, Handler>,
}

impl Flowables {
    /// Registers `handler` for `T`.
    pub fn register<T: PluginType>(&mut self, handler: Handler) -> &mut Self {
        self.by_type.insert(T::TYPE, handler);
        self
    }

    /// The handler of a type.
    pub fn get(&self, type_name: &str) -> Option<&Handler> {
        self.by_type.get(type_name)
    }

    /// Every type with a handler.
    pub fn types(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.by_type.keys().copied()
    }

    /// The core flowable and executable types.
    pub fn core() -> &'static Flowables {
        static CORE: OnceLock<Flowables> = OnceLock::new();
        CORE.get_or_init(|| {
            let mut r = Flowables::default();
            let each = Handler::flowable(for_each::next).with_start(for_each::start);
            r.register::<t::sequential::Sequential>(Handler::flowable(sequential::next))
                .register::<t::parallel::Parallel>(Handler::flowable(parallel::next))
                .register::<t::r#if::If>(Handler::flowable(r#if::next).with_start(r#if::start))
                .register::<t::switch::Switch>(
                    Handler::flowable(switch::next).with_start(switch::start),
                )
                .register::<t::for_each::ForEach>(each)
                .register::<t::each_sequential::EachSequential>(each)
                .register::<t::each_parallel::EachParallel>(each)
                .register::<t::dag::Dag>(Handler::flowable(dag::next))
                .register::<t::allow_failure::AllowFailure>(Handler::flowable(allow_failure::next))
                .register::<t::pause::Pause>(
                    Handler::flowable(pause::next).with_start(pause::start),
                )
                .register::<t::wait_for::WaitFor>(Handler {
                    on_wait: Some(wait_for::check),
                    ..Handler::flowable(wait_for::next).with_start(wait_for::start)
                })
                .register::<t::working_directory::WorkingDirectory>(
                    Handler::flowable(working_directory::next).with_start(working_directory::start),
                )
                .register::<t::for_each_item::ForEachItem>(Handler::flowable(for_each_item::next))
                .register::<t::subflow::Subflow>(Handler {
                    start: subflow::start,
                    restart: Some(subflow::restart),
                    next: None,
                    on_wait: None,
                    on_child_ended: Some(subflow::on_child_ended),
                })
                .register::<t::for_each_item::ForEachItemItems>(Handler {
                    start: for_each_item::start_items_attempt,
                    restart: Some(for_each_item::start_items),
                    next: None,
                    on_wait: None,
                    on_child_ended: Some(for_each_item::on_items_child_ended),
                });
            r
        })
    }
}

/// The handler of `task`'s type: an error naming the type when there is none.
pub fn handler(task: &Task) -> Result<&'static Handler, String> {
    Flowables::core().get(task.type_name).ok_or_else(|| {
        format!(
            "task `{}`: Kite has no executor handler for the flowable type `{}`",
            task.id, task.type_name
        )
    })
}

/// Initialises a flowable (or executable) run that just became RUNNING.
pub fn start(cx: &mut Cx<'_>, task: &Task, id: &str) -> Result<(), String> {
    (handler(task)?.start)(cx, task, id)
}

/// Starts a RESTARTED executable run again (its attempt already pushed).
pub fn restart(cx: &mut Cx<'_>, task: &Task, id: &str) -> Result<(), String> {
    let h = handler(task)?;
    (h.restart.unwrap_or(h.start))(cx, task, id)
}

/// What a running flowable does next (a type without a handler fails: its start already
/// logged why).
pub fn next<'f>(cx: &Cx<'f>, task: &'f Task, id: &str) -> Decision<'f> {
    match handler(task).ok().and_then(|h| h.next) {
        Some(next) => next(cx, task, id),
        None => Decision::Done(State::Failed),
    }
}

/// Looks again at a waiting flowable: its end state when it is over.
pub fn on_wait(cx: &mut Cx<'_>, task: &Task, id: &str) -> Option<State> {
    handler(task).ok()?.on_wait?(cx, task, id)
}

/// A child execution of executable run `id` ended.
pub fn on_child_ended(cx: &mut Cx<'_>, task: &Task, id: &str, ended: subflow::Ended<'_>) {
    match handler(task).ok().and_then(|h| h.on_child_ended) {
        Some(f) => f(cx, task, id, ended),
        None => {
            let message = format!(
                "task `{}` ({}) has no child execution to wait for",
                task.id, task.type_name
            );
            cx.log(Some(id), kite_flow::plugin::LogLevel::Error, message);
        }
    }
}
