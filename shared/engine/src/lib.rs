//! Kite's engine: the execution model, the executor state machine, the worker and the
//! services that connect them through ports.
//!
//! # Layout
//! - [`model`]: executions, task runs, states, logs, ids (Kestra's JSON shapes).
//! - [`access`]: which internal-storage files an execution may read.
//! - [`executor`]: the pure decision function and its per-task-type behaviour.
//! - [`conditions`]: the pure evaluator of trigger conditions (Schedule, Webhook, Flow).
//! - [`crypto`]: SECRET inputs and outputs encrypted at rest (AES-256-GCM).
//! - [`masking`]: secret values masked in logs and outputs.
//! - [`triggers`]: schedules, polling, webhook and flow triggers: trigger states, exactly-once
//!   firing, the tick.
//! - `testing` (feature `testing`): a throw-away PostgreSQL server for tests.

pub mod access;
pub mod conditions;
pub mod crypto;
pub mod executor;
pub mod masking;
pub mod model;
pub mod repo;
pub mod services;
#[cfg(feature = "testing")]
pub mod testing;
pub mod tls;
pub mod triggers;
pub mod worker;
