//! One module per `kite` command.

pub mod flow_schema;
pub mod flow_validate;
