//! The execution model, in Kestra's JSON shapes.

pub mod execution;
pub mod ids;
pub mod log;
pub mod run_index;
pub mod state;
pub mod task_run;

pub use execution::{Execution, ExecutionTrigger, Label};
pub use log::LogEntry;
pub use state::{State, StateHistory};
pub use task_run::{Attempt, TaskRun};
