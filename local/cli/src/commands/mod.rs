//! One module per `kite` command.

pub mod flow_run;
pub mod flow_schema;
pub mod platform;
pub mod flow_validate;
