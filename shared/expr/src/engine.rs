//! [`Engine`]: configuration, template cache, rendering entry points and error mapping.
//!
//! Templates are translated (`preprocess`) and compiled by a minijinja loader on first
//! use, keyed by mode + source, and kept until the cache holds [`CACHE_CAPACITY`]
//! templates, at which point it is cleared. Templates larger than
//! [`MAX_CACHED_TEMPLATE`] are compiled for each render and not cached.
//!
//! Each render pushes a `runtime::Frame` (host, variables, limits) for the helpers,
//! writes into a size-limited buffer, and runs with the configured fuel.

use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};

use minijinja::syntax::SyntaxConfig;
use minijinja::{AutoEscape, Environment, UndefinedBehavior, Value};
use serde_json::Value as Json;

use crate::context::Context;
use crate::error::{ExprError, ExprErrorKind, Fault, find_fault, nested_err};
use crate::preprocess::{self, Mode, Prepared, TYPED_RESULT, needs_render};
use crate::runtime::{self, Frame, frame, push_frame};

/// Number of compiled templates kept before the cache is cleared.
pub const CACHE_CAPACITY: usize = 1000;
/// Templates longer than this (bytes) are not cached.
pub const MAX_CACHED_TEMPLATE: usize = 64 * 1024;
/// Maximum nesting of `render()` calls.
pub const MAX_RENDER_DEPTH: usize = 5;
/// Maximum number of passes of recursive rendering (Kestra's `MAX_RENDERING_AMOUNT`).
pub const MAX_RENDER_PASSES: usize = 100;
/// Maximum nesting of maps/lists walked by [`Engine::render_value`].
pub const MAX_VALUE_DEPTH: usize = 256;

/// Engine limits and options.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EngineConfig {
    /// Instruction budget of one render (`None`: unlimited). Exhaustion is a
    /// [`ExprErrorKind::Limit`] error.
    pub max_fuel: Option<u64>,
    /// Maximum size in bytes of a rendered string (and of any string built while
    /// rendering).
    pub max_output_bytes: usize,
    /// Kestra's `kestra.variables.recursive-rendering`: re-render the output until it
    /// no longer changes.
    pub recursive_rendering: bool,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            max_fuel: Some(5_000_000),
            max_output_bytes: 10 * 1024 * 1024,
            recursive_rendering: false,
        }
    }
}

/// A Pebble-compatible expression engine. Cheap to clone; shareable across threads.
#[derive(Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

struct Inner {
    env: RwLock<Environment<'static>>,
    loaded: Arc<AtomicUsize>,
    config: EngineConfig,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("config", &self.inner.config)
            .field(
                "cached_templates",
                &self.inner.loaded.load(Ordering::Relaxed),
            )
            .finish()
    }
}

impl Default for Engine {
    fn default() -> Self {
        Self::new(EngineConfig::default())
    }
}

const PREFIX_TEXT: &str = "s\u{0}";
const PREFIX_RAW: &str = "r\u{0}";
const PREFIX_TYPED: &str = "t\u{0}";

fn prefix(mode: Mode) -> &'static str {
    match mode {
        Mode::Text => PREFIX_TEXT,
        Mode::KeepRaw => PREFIX_RAW,
        Mode::Typed => PREFIX_TYPED,
    }
}

impl Engine {
    /// Builds an engine.
    pub fn new(config: EngineConfig) -> Self {
        let loaded = Arc::new(AtomicUsize::new(0));
        let mut env = Environment::empty();
        env.set_undefined_behavior(UndefinedBehavior::Chainable);
        if let Ok(syntax) = SyntaxConfig::builder().keep_trailing_newline(true).build() {
            env.set_syntax(syntax);
        }
        env.set_fuel(config.max_fuel);
        env.set_debug(false);
        env.set_auto_escape_callback(|_| AutoEscape::None);
        env.set_formatter(runtime::format_value);
        runtime::register(&mut env);
        crate::filters::register(&mut env);
        crate::functions::register(&mut env);
        let counter = Arc::clone(&loaded);
        env.set_loader(move |name: &str| {
            let (mode, src) = if let Some(s) = name.strip_prefix(PREFIX_TYPED) {
                (Mode::Typed, s)
            } else if let Some(s) = name.strip_prefix(PREFIX_RAW) {
                (Mode::KeepRaw, s)
            } else if let Some(s) = name.strip_prefix(PREFIX_TEXT) {
                (Mode::Text, s)
            } else {
                return Ok(None);
            };
            let prepared = preprocess::prepare(src, mode).map_err(nested_err)?;
            counter.fetch_add(1, Ordering::Relaxed);
            Ok(Some(prepared.source))
        });
        Self {
            inner: Arc::new(Inner {
                env: RwLock::new(env),
                loaded,
                config,
            }),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &EngineConfig {
        &self.inner.config
    }

    /// Renders a template to a string.
    ///
    /// Strings without `{{`, `{%` or `{#` are returned unchanged.
    pub fn render(&self, template: &str, ctx: &Context) -> Result<String, ExprError> {
        if !needs_render(template) {
            return Ok(template.to_owned());
        }
        let out = self.with_env(ctx, |env| {
            let cfg = self.inner.config;
            if cfg.recursive_rendering {
                render_recursive(env, template, ctx.root(), &cfg)
            } else {
                render_once(env, template, ctx.root(), Mode::Text, &cfg).map(Rendered::into_string)
            }
        })?;
        Ok(strip_raw_tags(out))
    }

    /// Renders a template; if it is exactly one `{{ expr }}` (after whitespace control),
    /// returns the native value of `expr` (list, map, number, boolean, null), otherwise
    /// the rendered string.
    pub fn render_typed(&self, template: &str, ctx: &Context) -> Result<Json, ExprError> {
        if !needs_render(template) {
            return Ok(Json::String(template.to_owned()));
        }
        let cfg = self.inner.config;
        let rendered = self.with_env(ctx, |env| {
            render_once(env, template, ctx.root(), Mode::Typed, &cfg)
        })?;
        match rendered {
            Rendered::Value(v) => Ok(crate::convert::to_json(&v)),
            Rendered::Text(s) if cfg.recursive_rendering && needs_render(&s) => {
                self.render(&s, ctx).map(Json::String)
            }
            Rendered::Text(s) => Ok(Json::String(strip_raw_tags(s))),
        }
    }

    /// Renders every string (map keys included) inside `value`; other values are kept.
    pub fn render_value(&self, value: &Json, ctx: &Context) -> Result<Json, ExprError> {
        self.render_value_at(value, ctx, 0)
    }

    fn render_value_at(
        &self,
        value: &Json,
        ctx: &Context,
        depth: usize,
    ) -> Result<Json, ExprError> {
        if depth > MAX_VALUE_DEPTH {
            return Err(ExprError::limit(format!(
                "Value nested more than {MAX_VALUE_DEPTH} levels deep"
            )));
        }
        Ok(match value {
            Json::String(s) => Json::String(self.render(s, ctx)?),
            Json::Array(items) => Json::Array(
                items
                    .iter()
                    .map(|v| self.render_value_at(v, ctx, depth + 1))
                    .collect::<Result<_, _>>()?,
            ),
            Json::Object(map) => {
                let mut out = serde_json::Map::with_capacity(map.len());
                for (k, v) in map {
                    let key = self.render(k, ctx)?;
                    let v = self.render_value_at(v, ctx, depth + 1)?;
                    out.entry(key).or_insert(v);
                }
                Json::Object(out)
            }
            other => other.clone(),
        })
    }

    /// Checks the syntax of a template without rendering it.
    pub fn check(&self, template: &str) -> Result<(), ExprError> {
        if !needs_render(template) {
            return Ok(());
        }
        let prepared = preprocess::prepare(template, Mode::Text)?;
        let env = self
            .inner
            .env
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let env: &Environment<'_> = &env;
        env.template_from_named_str("<check>", &prepared.source)
            .map(|_| ())
            .map_err(|e| map_error(&e, template, Mode::Text, Some(&prepared)))
    }

    fn with_env<T>(
        &self,
        ctx: &Context,
        f: impl FnOnce(&Environment<'_>) -> Result<T, ExprError>,
    ) -> Result<T, ExprError> {
        let _frame = push_frame(Frame {
            host: Arc::clone(ctx.host()),
            vars: Arc::clone(ctx.vars_arc()),
            config: self.inner.config,
            depth: 0,
        });
        let result = {
            let env = self
                .inner
                .env
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            f(&env)
        };
        if self.inner.loaded.load(Ordering::Relaxed) > CACHE_CAPACITY
            && let Ok(mut env) = self.inner.env.try_write()
        {
            env.clear_templates();
            self.inner.loaded.store(0, Ordering::Relaxed);
        }
        result
    }
}

/// Result of one render pass.
enum Rendered {
    Text(String),
    Value(Value),
}

impl Rendered {
    fn into_string(self) -> String {
        match self {
            Rendered::Text(s) => s,
            Rendered::Value(v) => crate::convert::print_string(&v),
        }
    }
}

/// An `io::Write` that refuses to grow past a limit.
struct LimitedWriter {
    buf: Vec<u8>,
    max: usize,
    exceeded: bool,
}

impl io::Write for LimitedWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        if self.buf.len() + data.len() > self.max {
            self.exceeded = true;
            return Err(io::Error::other("output limit exceeded"));
        }
        self.buf.extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn output_limit(cfg: &EngineConfig) -> ExprError {
    ExprError::limit(format!(
        "The rendered output exceeds the maximum allowed size of {} bytes",
        cfg.max_output_bytes
    ))
}

/// One render pass of `template` in `mode`.
fn render_once(
    env: &Environment<'_>,
    template: &str,
    root: &Value,
    mode: Mode,
    cfg: &EngineConfig,
) -> Result<Rendered, ExprError> {
    let mut writer = LimitedWriter {
        buf: Vec::new(),
        max: cfg.max_output_bytes,
        exceeded: false,
    };
    let large;
    let tmpl = if template.len() <= MAX_CACHED_TEMPLATE {
        let name = format!("{}{template}", prefix(mode));
        env.get_template(&name)
            .map_err(|e| map_error(&e, template, mode, None))?
    } else {
        large = preprocess::prepare(template, mode)?;
        env.template_from_named_str("<template>", &large.source)
            .map_err(|e| map_error(&e, template, mode, Some(&large)))?
    };
    let captured = match tmpl.render_captured_to(root.clone(), &mut writer) {
        Ok(c) => c,
        Err(_) if writer.exceeded => return Err(output_limit(cfg)),
        Err(e) => return Err(map_error(&e, template, mode, None)),
    };
    if mode == Mode::Typed
        && let Some(v) = captured.state().lookup(TYPED_RESULT)
    {
        return Ok(Rendered::Value(v));
    }
    drop(captured);
    String::from_utf8(writer.buf)
        .map(Rendered::Text)
        .map_err(|_| {
            ExprError::new(
                ExprErrorKind::TypeError,
                "The output is not valid UTF-8",
                "",
                1,
            )
        })
}

fn render_recursive(
    env: &Environment<'_>,
    template: &str,
    root: &Value,
    cfg: &EngineConfig,
) -> Result<String, ExprError> {
    let mut current = template.to_owned();
    for _ in 0..=MAX_RENDER_PASSES {
        if !needs_render(&current) {
            return Ok(current);
        }
        let out = render_once(env, &current, root, Mode::KeepRaw, cfg)?.into_string();
        if out == current {
            return Ok(out);
        }
        current = out;
    }
    Err(ExprError::limit("Too many rendering attempts"))
}

/// `render()` / `renderOnce()` inside a template.
pub(crate) fn render_nested(
    env: &Environment<'_>,
    template: &str,
    root: &Value,
    recursive: bool,
) -> Result<String, ExprError> {
    if !needs_render(template) {
        return Ok(template.to_owned());
    }
    let parent = frame().map_err(|_| ExprError::limit("render() called outside of a render"))?;
    if parent.depth >= MAX_RENDER_DEPTH {
        return Err(ExprError::limit(format!(
            "render() calls nested more than {MAX_RENDER_DEPTH} levels deep"
        )));
    }
    let cfg = parent.config;
    let _frame = push_frame(Frame {
        host: Arc::clone(&parent.host),
        vars: Arc::clone(&parent.vars),
        config: cfg,
        depth: parent.depth + 1,
    });
    if recursive {
        render_recursive(env, template, root, &cfg)
    } else {
        render_once(env, template, root, Mode::KeepRaw, &cfg).map(Rendered::into_string)
    }
}

/// Replaces `{% raw %}X{% endraw %}` by `X` in a rendered output, like Kestra does after
/// rendering (raw tags survive recursive passes and `render()` calls until then).
fn strip_raw_tags(s: String) -> String {
    if !s.contains("{%") {
        return s;
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s.as_str();
    while let Some((open_start, open_end)) = preprocess::find_tag(rest, 0, "raw") {
        let Some((close_start, close_end)) = preprocess::find_tag(rest, open_end, "endraw") else {
            break;
        };
        out.push_str(&rest[..open_start]);
        out.push_str(&rest[open_end..close_start]);
        rest = &rest[close_end..];
    }
    out.push_str(rest);
    out
}

/// Turns a minijinja error into an [`ExprError`] naming the failing tag of `template`.
fn map_error(
    err: &minijinja::Error,
    template: &str,
    mode: Mode,
    prepared: Option<&Prepared>,
) -> ExprError {
    let fault = find_fault(err);
    if let Some(Fault::Nested(e)) = fault {
        return e.clone();
    }
    let (kind, message) = match fault {
        Some(Fault::Plain(kind, msg)) => (*kind, msg.clone()),
        _ => classify(err),
    };
    let owned;
    let prepared = match prepared {
        Some(p) => Some(p),
        None => {
            owned = preprocess::prepare(template, mode).ok();
            owned.as_ref()
        }
    };
    let (expression, line) = prepared.and_then(|p| locate(err, p)).unwrap_or_default();
    ExprError::new(kind, message, expression, line.max(1))
}

fn classify(err: &minijinja::Error) -> (ExprErrorKind, String) {
    use minijinja::ErrorKind as K;
    let detail = err
        .detail()
        .map_or_else(|| err.kind().to_string(), str::to_owned);
    match err.kind() {
        K::SyntaxError => (ExprErrorKind::Syntax, detail),
        K::OutOfFuel => (
            ExprErrorKind::Limit,
            "The expression exceeded its instruction budget (fuel)".into(),
        ),
        K::UnknownFunction | K::UnknownFilter | K::UnknownTest | K::UnknownMethod => {
            (ExprErrorKind::Function, detail)
        }
        K::UndefinedError => (ExprErrorKind::Function, detail),
        _ if detail.contains("recursion") => (ExprErrorKind::Limit, detail),
        _ => (ExprErrorKind::TypeError, detail),
    }
}

/// Finds the original tag of the generated span the error points at.
fn locate(err: &minijinja::Error, p: &Prepared) -> Option<(String, usize)> {
    if p.spans.is_empty() {
        return None;
    }
    let pos = match (err.range(), err.line()) {
        (Some(r), _) => r.start,
        (None, Some(line)) => {
            let mut offset = 0;
            for (i, l) in p.source.split_inclusive('\n').enumerate() {
                if i + 1 == line {
                    break;
                }
                offset += l.len();
            }
            offset
        }
        (None, None) => return p.spans.first().map(|s| (s.text.clone(), s.line)),
    };
    let span = p
        .spans
        .iter()
        .find(|s| s.generated.start <= pos && pos <= s.generated.end)
        .or_else(|| p.spans.iter().rev().find(|s| s.generated.start <= pos))
        .or_else(|| p.spans.first())?;
    Some((span.text.clone(), span.line))
}

#[cfg(test)]
mod tests {
    use super::strip_raw_tags;

    #[test]
    fn raw_tags_are_stripped() {
        assert_eq!(
            strip_raw_tags("a{% raw %}{{ x }}{%- endraw %}b".into()),
            "a{{ x }}b"
        );
        assert_eq!(strip_raw_tags("{% if %}".into()), "{% if %}");
        assert_eq!(strip_raw_tags("{%}{%%}".into()), "{%}{%%}");
    }
}
