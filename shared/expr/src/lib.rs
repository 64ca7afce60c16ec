//! Pebble-compatible expressions, as Kestra evaluates them (`{{ … }}`, `{% … %}`).
//!
//! Kite renders Kestra-syntax flows; their properties contain Pebble templates. This
//! crate renders those templates with Kestra's configuration of Pebble (strict
//! variables, no auto-escaping, no newline trimming, recursive rendering off) on top
//! of [minijinja](https://docs.rs/minijinja), through a translation layer.
//!
//! ```
//! use std::sync::Arc;
//! use kite_expr::{Context, Engine, EngineConfig, TestHost};
//!
//! let engine = Engine::new(EngineConfig::default());
//! let ctx = Context::new(serde_json::json!({"inputs": {"name": "kite"}}), Arc::new(TestHost::default()));
//! assert_eq!(engine.render("Hello {{ inputs.name | upper }}", &ctx).unwrap(), "Hello KITE");
//! assert_eq!(engine.render("{{ inputs.missing ?? 'none' }}", &ctx).unwrap(), "none");
//! let err = engine.render("{{ foo.bar }}", &ctx).unwrap_err();
//! assert_eq!(err.to_string(), "Unable to find `foo` used in the expression `{{ foo.bar }}` at line 1");
//! ```
//!
//! # Layout
//!
//! | module | role |
//! |---|---|
//! | [`engine`](crate::Engine) (`engine.rs`) | public entry points, template cache, limits, error mapping |
//! | `context.rs` | [`Context`]: variables + [`Host`] |
//! | `host.rs` | [`Host`] trait, [`NoHost`], [`TestHost`] |
//! | `error.rs` | [`ExprError`] and the internal fault plumbing |
//! | `truth.rs` | [`is_truthy`] (Kestra's `TruthUtils`) |
//! | `preprocess/` | Pebble lexer, parser and the translation to minijinja source |
//! | `runtime.rs` | helpers called by translated code (paths, operators, tests), output formatter, per-render frame |
//! | `methods.rs` | Java bean methods (`s.length()`, `map.containsKey(k)`) |
//! | `convert.rs` | value model: JSON conversion, Java `toString`, equality, ordering |
//! | `filters/` | filters by family: strings, collections, numbers, encoding, dates |
//! | `functions.rs` | Kestra functions (`now`, `secret`, `render`, `kv`, `currentEachOutput`, …) |
//! | `dates.rs` | Java `DateTimeFormatter` patterns, named formats, zones, `dateAdd` |
//! | `java_format.rs` | `DecimalFormat` subset (`numberformat`), number parsing (`number`) |
//! | `jq.rs` | the `jq` filter (jaq) |
//! | `yaml.rs` | the `yaml` filter's serialiser |
//!
//! # Semantics worth knowing
//!
//! * Strict variables: a missing variable or attribute fails with
//!   [`ExprError::Undefined`]; `??` (null or undefined), `???` (undefined only), the
//!   `default` filter and the `defined`/`null` tests catch it, at any depth of the path.
//! * `{{ }}` prints maps and lists as JSON (Kestra's `JsonWriter`), null as nothing,
//!   doubles like Java (`1.0`, `1.0E10`); `~` and `+` use Java's `toString` (`{a=1}`).
//! * Integer arithmetic stays integral (`10 / 4` is `2`); `loop.index` is 0-based.
//! * Time never comes from the system clock: `now()` asks [`Host::now`].
//!
//! # Differences from Pebble/Kestra
//!
//! * Dates: the default zone is UTC (Kestra uses the JVM zone); text is English only;
//!   `Y`/`w`/`e` use ISO weeks; the `full`/`long`/`medium`/`short` styles approximate
//!   the US CLDR patterns.
//! * `numberformat`/`numberFormat` implement a `DecimalFormat` subset with US symbols;
//!   `number('BIGDECIMAL')` yields a double.
//! * `yaml()` parses YAML 1.1 booleans like serde-saphyr (`y`/`n` are booleans too).
//! * Not implemented: `fileURI`, `encrypt`/`decrypt`, `fromIon`/`toIon`, `ksuid`,
//!   `nanoId`, `http`, `include`/`extends`/`import` tags; `{% block %}` renders inline.
//! * Supersets: `replace('a', 'b')`, `reverse` on strings, `range()` is lazy (capped at
//!   1,000,000 elements like Kestra's bounded range), lists/maps are truthy when
//!   non-empty, `<`/`>` also compare strings, Java methods are emulated for strings,
//!   lists and maps only.
//! * `jq` programs run without an instruction budget (only their output count is capped).

mod context;
mod convert;
mod dates;
mod engine;
mod error;
mod filters;
mod functions;
mod host;
mod java_format;
mod jq;
mod methods;
mod preprocess;
mod runtime;
mod truth;
mod yaml;

pub use context::Context;
pub use engine::{
    CACHE_CAPACITY, Engine, EngineConfig, MAX_CACHED_TEMPLATE, MAX_RENDER_DEPTH, MAX_RENDER_PASSES,
    MAX_VALUE_DEPTH,
};
pub use error::{ExprError, ExprErrorKind};
pub use host::{Host, NoHost, TestHost};
pub use truth::is_truthy;
