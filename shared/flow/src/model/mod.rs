//! The typed flow model: the flow itself and the value types its properties use.

pub mod concurrency;
pub mod flow;
pub mod input;
pub mod label;
pub mod output;
pub mod plugin_defaults;
pub mod retry;
pub mod sla;
