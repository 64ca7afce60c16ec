//! Kite's flow language: Kestra-syntax YAML parsed into a typed, validated [`Flow`].
//!
//! ```
//! let parsed = kite_flow::parse_flow("id: hello\nnamespace: demo\ntasks:\n  - id: hi\n    type: io.kestra.plugin.core.log.Log\n    message: Hello\n");
//! let flow = parsed.flow.expect("valid");
//! assert_eq!(flow.tasks[0].type_name, "io.kestra.plugin.core.log.Log");
//! ```
//!
//! # Layout
//! - [`yaml`]: YAML text → spanned [`yaml::Node`] tree (budgets, duplicate keys).
//! - [`de`]: serde deserializer over nodes; errors carry `line:col` and a property path.
//! - [`parse`]: the parse pipeline (plugin defaults, typed model, plugins via the registry).
//! - [`plugin`]: [`Task`], [`Trigger`], [`Condition`], the [`plugin::PluginType`] trait and the [`Registry`].
//! - [`tasks`], [`triggers`], [`conditions`]: one file per core type.
//! - [`model`]: flow, inputs, outputs, labels, retry, concurrency, SLA, plugin defaults.
//! - [`validate`]: flow-level rules; [`graph`]: cycle detection.
//! - [`inputs`]: resolving supplied input values against declarations.
//! - [`schema`]: the JSON Schema of the language, for editors.
//! - [`diagnostic`], [`duration`], [`property`]: shared value types.

pub mod conditions;
pub mod de;
pub mod diagnostic;
pub mod duration;
pub mod graph;
pub mod inputs;
pub mod model;
pub mod parse;
pub mod plugin;
pub mod property;
pub mod schema;
pub mod tasks;
pub mod triggers;
pub mod validate;
pub mod yaml;

pub use diagnostic::{Diagnostic, Location, Severity};
pub use duration::IsoDuration;
pub use model::flow::Flow;
pub use parse::{Parsed, parse_flow, parse_flow_with, parse_flows};
pub use plugin::{Condition, Registry, Task, TaskKind, Trigger};
