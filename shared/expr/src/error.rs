//! Error types.
//!
//! [`ExprError`] is the only error type of the public API. Every variant carries the
//! failing expression text (the whole `{{ … }}` / `{% … %}` tag as written by the user)
//! and its 1-based line, and its `Display` reads like Kestra's messages, e.g.
//! ``Unable to find `foo` used in the expression `{{ foo.bar }}` at line 1``.
//!
//! Internally, runtime helpers raise [`minijinja::Error`]s that carry a [`Fault`] as
//! their source; the engine turns those into [`ExprError`]s once it knows which tag
//! of the original template failed (see `engine.rs`).

use std::fmt;

/// Broad category of an [`ExprError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ExprErrorKind {
    /// The template or an expression does not parse.
    Syntax,
    /// A variable or attribute does not exist (strict variables).
    Undefined,
    /// A function or filter failed (missing secret, unreadable file, bad argument…).
    Function,
    /// An operation was applied to values of the wrong type.
    TypeError,
    /// A resource limit was hit (fuel, output size, recursion, nesting…).
    Limit,
}

impl fmt::Display for ExprErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Syntax => "syntax error",
            Self::Undefined => "undefined variable",
            Self::Function => "function error",
            Self::TypeError => "type error",
            Self::Limit => "limit exceeded",
        })
    }
}

/// An expression failed to parse or to render.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExprError {
    /// The template does not parse.
    #[error("{message}{}", at(expression, *line))]
    Syntax {
        /// What is wrong.
        message: String,
        /// The failing tag as written (may be empty when unknown).
        expression: String,
        /// 1-based line of the tag.
        line: usize,
    },
    /// Strict variables: a variable or attribute does not exist.
    #[error("Unable to find `{name}` used in the expression `{expression}` at line {line}")]
    Undefined {
        /// The missing variable or attribute name.
        name: String,
        /// The failing tag as written.
        expression: String,
        /// 1-based line of the tag.
        line: usize,
    },
    /// A function or filter failed.
    #[error("{message}{}", at(expression, *line))]
    Function {
        /// What went wrong.
        message: String,
        /// The failing tag as written.
        expression: String,
        /// 1-based line of the tag.
        line: usize,
    },
    /// An operation got values of the wrong type.
    #[error("{message}{}", at(expression, *line))]
    TypeError {
        /// What went wrong.
        message: String,
        /// The failing tag as written.
        expression: String,
        /// 1-based line of the tag.
        line: usize,
    },
    /// A resource limit was exceeded.
    #[error("{message}{}", at(expression, *line))]
    Limit {
        /// Which limit.
        message: String,
        /// The failing tag as written (may be empty when the whole template is at fault).
        expression: String,
        /// 1-based line of the tag.
        line: usize,
    },
}

fn at(expression: &str, line: usize) -> String {
    if expression.is_empty() {
        String::new()
    } else {
        format!(" in the expression `{expression}` at line {line}")
    }
}

impl ExprError {
    /// The category of this error.
    pub fn kind(&self) -> ExprErrorKind {
        match self {
            Self::Syntax { .. } => ExprErrorKind::Syntax,
            Self::Undefined { .. } => ExprErrorKind::Undefined,
            Self::Function { .. } => ExprErrorKind::Function,
            Self::TypeError { .. } => ExprErrorKind::TypeError,
            Self::Limit { .. } => ExprErrorKind::Limit,
        }
    }

    /// The failing tag as written in the template (empty when unknown).
    pub fn expression(&self) -> &str {
        match self {
            Self::Syntax { expression, .. }
            | Self::Undefined { expression, .. }
            | Self::Function { expression, .. }
            | Self::TypeError { expression, .. }
            | Self::Limit { expression, .. } => expression,
        }
    }

    /// 1-based line of the failing tag.
    pub fn line(&self) -> usize {
        match self {
            Self::Syntax { line, .. }
            | Self::Undefined { line, .. }
            | Self::Function { line, .. }
            | Self::TypeError { line, .. }
            | Self::Limit { line, .. } => *line,
        }
    }

    /// Builds an error of `kind`; `name_or_message` is the missing name for
    /// [`ExprErrorKind::Undefined`] and the message otherwise.
    pub(crate) fn new(
        kind: ExprErrorKind,
        name_or_message: impl Into<String>,
        expression: impl Into<String>,
        line: usize,
    ) -> Self {
        let (text, expression) = (name_or_message.into(), expression.into());
        match kind {
            ExprErrorKind::Syntax => Self::Syntax {
                message: text,
                expression,
                line,
            },
            ExprErrorKind::Undefined => Self::Undefined {
                name: text,
                expression,
                line,
            },
            ExprErrorKind::Function => Self::Function {
                message: text,
                expression,
                line,
            },
            ExprErrorKind::TypeError => Self::TypeError {
                message: text,
                expression,
                line,
            },
            ExprErrorKind::Limit => Self::Limit {
                message: text,
                expression,
                line,
            },
        }
    }

    /// A limit error that is not tied to one tag.
    pub(crate) fn limit(message: impl Into<String>) -> Self {
        Self::Limit {
            message: message.into(),
            expression: String::new(),
            line: 1,
        }
    }
}

/// Internal error payload attached (as `source`) to the `minijinja::Error`s raised by
/// the runtime helpers, so that the engine can recover the precise kind.
#[derive(Debug, Clone)]
pub(crate) enum Fault {
    /// A plain failure of the given kind (message / missing name).
    Plain(ExprErrorKind, String),
    /// A fully formed error coming from a nested render (`render()` function, loader).
    Nested(ExprError),
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Plain(_, m) => f.write_str(m),
            Self::Nested(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for Fault {}

/// Builds a `minijinja::Error` carrying a [`Fault`].
pub(crate) fn fault(kind: ExprErrorKind, message: impl Into<String>) -> minijinja::Error {
    let message = message.into();
    let mj_kind = match kind {
        ExprErrorKind::Syntax => minijinja::ErrorKind::SyntaxError,
        ExprErrorKind::Undefined => minijinja::ErrorKind::UndefinedError,
        _ => minijinja::ErrorKind::InvalidOperation,
    };
    minijinja::Error::new(mj_kind, message.clone()).with_source(Fault::Plain(kind, message))
}

/// Shorthand for a [`ExprErrorKind::Function`] fault.
pub(crate) fn func_err(message: impl Into<String>) -> minijinja::Error {
    fault(ExprErrorKind::Function, message)
}

/// Shorthand for a [`ExprErrorKind::TypeError`] fault.
pub(crate) fn type_err(message: impl Into<String>) -> minijinja::Error {
    fault(ExprErrorKind::TypeError, message)
}

/// Shorthand for a [`ExprErrorKind::Limit`] fault.
pub(crate) fn limit_err(message: impl Into<String>) -> minijinja::Error {
    fault(ExprErrorKind::Limit, message)
}

/// Shorthand for an [`ExprErrorKind::Undefined`] fault naming `name`.
pub(crate) fn undefined_err(name: impl Into<String>) -> minijinja::Error {
    fault(ExprErrorKind::Undefined, name)
}

/// Wraps a complete [`ExprError`] so that it crosses minijinja unchanged.
pub(crate) fn nested_err(err: ExprError) -> minijinja::Error {
    minijinja::Error::new(minijinja::ErrorKind::InvalidOperation, err.to_string())
        .with_source(Fault::Nested(err))
}

/// Finds the [`Fault`] in the source chain of a minijinja error.
pub(crate) fn find_fault(err: &minijinja::Error) -> Option<&Fault> {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(err);
    while let Some(e) = cur {
        if let Some(f) = e.downcast_ref::<Fault>() {
            return Some(f);
        }
        cur = e.source();
    }
    None
}
