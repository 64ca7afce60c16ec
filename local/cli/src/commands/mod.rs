//! One module per `kite` command.

pub mod bench;
pub mod flow_run;
pub mod flow_schema;
pub mod flow_validate;
pub mod platform;
pub mod remote;
pub mod server_local;
