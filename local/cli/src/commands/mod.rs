//! One module per `kite` command.

pub mod aws;
pub mod bench;
pub mod bench_aws;
pub mod bench_triggers;
pub mod flow_run;
pub mod flow_schema;
pub mod flow_validate;
pub mod infra;
pub mod platform;
pub mod private_file;
pub mod remote;
pub mod server_local;
pub mod token;
