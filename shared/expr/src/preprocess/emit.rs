//! Translation of Pebble expressions and tags into minijinja source.
//!
//! minijinja only evaluates control flow; every operator whose semantics differ is
//! emitted as a call to a runtime helper (`runtime.rs`):
//!
//! | Pebble | emitted |
//! |---|---|
//! | `a.b[c]` (strict) | `__ks("a", a, "b", c)` — errors naming the missing part |
//! | same, inside `??`/`default`/`is defined` | `__kl(a, "b", c)` — undefined propagates |
//! | `a ?? b ?? c` | `(__kcw(a) or __kcw(b) or [c])[0]` (`???` uses `__kcwu`) |
//! | `c ? a : b` | `(a if __kb(c) else b)` |
//! | `a and b` / `not a` | `(__kb(a) and __kb(b))` / `(not __kb(a))` |
//! | `a + b - c`, `a * b / c` | `__karith(a, "+", b, "-", c)` |
//! | `a ~ b ~ c` | `__kcat(a, b, c)` |
//! | `==`, `!=`, `<`… | `__keq`, `__kne`, `__klt`… |
//! | `a contains b`, `a..b` | `__kcontains(a, b)`, `__kf_range(a, b)` |
//! | `x is [not] t(args)` | `[(not ]__kt_t(x, args)[)]` |
//! | `f(args)` (Kestra/Pebble function) | `__kf_f(args)` |
//! | `x \| f(args)` | `(x\|f(args))` (filters registered under their Pebble names) |
//! | `loop.index` / `loop.revindex` | `loop.index0` / `loop.revindex0` (Pebble is 0-based) |
//!
//! Left-associative chains of one operator family are flattened into one variadic call
//! so that long chains do not nest.

use std::collections::HashSet;

use super::parser::{Args, BinOp, Expr};

/// Maximum bracket nesting of emitted code (guards minijinja's recursive parser/VM).
pub(crate) const MAX_EMIT_DEPTH: usize = 64;

/// Maximum number of operands in one emitted variadic helper call.
const MAX_CALL_ITEMS: usize = 200;

/// Functions implemented by the runtime (emitted as `__kf_<name>`).
pub(crate) const FUNCTIONS: &[&str] = &[
    "now",
    "render",
    "renderOnce",
    "read",
    "json",
    "fromJson",
    "yaml",
    "secret",
    "errorLogs",
    "kv",
    "fileSize",
    "fileExists",
    "isFileEmpty",
    "currentEachOutput",
    "range",
    "min",
    "max",
    "uuid",
    "id",
    "randomInt",
    "printContext",
    "fetchContext",
];

/// Filters registered in the environment under these (Pebble/Kestra) names.
pub(crate) const FILTERS: &[&str] = &[
    "abbreviate",
    "abs",
    "base64decode",
    "base64encode",
    "capitalize",
    "chunk",
    "className",
    "date",
    "dateAdd",
    "default",
    "distinct",
    "endsWith",
    "escape",
    "escapeChar",
    "first",
    "flatten",
    "indent",
    "jq",
    "join",
    "json",
    "keys",
    "last",
    "length",
    "lower",
    "md5",
    "merge",
    "nindent",
    "number",
    "numberformat",
    "numberFormat",
    "raw",
    "replace",
    "reverse",
    "rsort",
    "sha1",
    "sha256",
    "sha512",
    "slice",
    "slugify",
    "sort",
    "split",
    "startsWith",
    "substringAfter",
    "substringAfterLast",
    "substringBefore",
    "substringBeforeLast",
    "timestamp",
    "timestampMicro",
    "timestampNano",
    "title",
    "toJson",
    "trim",
    "upper",
    "urldecode",
    "urlencode",
    "values",
    "yaml",
];

/// Tests (emitted as `__kt_<name>`).
pub(crate) const TESTS: &[&str] = &[
    "defined", "null", "empty", "even", "odd", "iterable", "map", "json",
];

/// Emission failure; `limit` marks nesting-depth failures.
#[derive(Debug, Clone)]
pub(crate) struct EmitError {
    pub(crate) message: String,
    pub(crate) limit: bool,
}

fn syntax(message: impl Into<String>) -> EmitError {
    EmitError {
        message: message.into(),
        limit: false,
    }
}

type EResult = Result<(), EmitError>;

/// Writes minijinja code for expressions.
pub(crate) struct Emitter<'m> {
    pub(crate) out: String,
    macros: &'m HashSet<String>,
}

impl<'m> Emitter<'m> {
    pub(crate) fn new(macros: &'m HashSet<String>) -> Self {
        Self {
            out: String::new(),
            macros,
        }
    }

    /// Emits `e` and checks the nesting of the produced code.
    pub(crate) fn top(&mut self, e: &Expr) -> EResult {
        let start = self.out.len();
        self.expr(e, false)?;
        if nesting(&self.out[start..]) > MAX_EMIT_DEPTH {
            return Err(EmitError {
                message: "Expression nested too deeply".into(),
                limit: true,
            });
        }
        Ok(())
    }

    fn push(&mut self, s: &str) {
        self.out.push_str(s);
    }

    /// Emits an expression; `lenient` is true inside the operand of a catching construct.
    pub(crate) fn expr(&mut self, e: &Expr, lenient: bool) -> EResult {
        match e {
            Expr::Null => self.push("none"),
            Expr::Bool(b) => self.push(if *b { "true" } else { "false" }),
            Expr::Int(i) => self.push(&i.to_string()),
            Expr::Float(f) => self.push(f),
            Expr::Str(s) => quote_into(&mut self.out, s),
            Expr::List(items) => {
                self.push("[");
                self.list(items, lenient)?;
                self.push("]");
            }
            Expr::Map(entries) => {
                self.push("{");
                for (i, (k, v)) in entries.iter().enumerate() {
                    if i > 0 {
                        self.push(", ");
                    }
                    self.expr(k, lenient)?;
                    self.push(": ");
                    self.expr(v, lenient)?;
                }
                self.push("}");
            }
            Expr::Var(_) | Expr::Attr(..) | Expr::Index(..) => self.path(e, lenient)?,
            Expr::Method(obj, name, args) => {
                self.push("__kmeth(");
                self.expr(obj, lenient)?;
                self.push(", ");
                quote_into(&mut self.out, name);
                for a in args {
                    self.push(", ");
                    self.expr(a, lenient)?;
                }
                self.push(")");
            }
            Expr::Call(name, args) => {
                if FUNCTIONS.contains(&name.as_str()) {
                    self.push("__kf_");
                    self.push(name);
                } else if self.macros.contains(name) && is_identifier(name) {
                    self.push(name);
                } else {
                    return Err(syntax(format!(
                        "Function or Macro [{name}] does not exist."
                    )));
                }
                self.push("(");
                self.args(args, lenient, false)?;
                self.push(")");
            }
            Expr::Filter(input, name, args) => {
                if !FILTERS.contains(&name.as_str()) {
                    return Err(syntax(format!("Filter [{name}] does not exist.")));
                }
                self.push("(");
                self.expr(input, lenient || name == "default")?;
                self.push("|");
                self.push(name);
                if !(args.pos.is_empty() && args.named.is_empty()) {
                    self.push("(");
                    self.args(args, lenient, false)?;
                    self.push(")");
                }
                self.push(")");
            }
            Expr::Test(input, name, args, negated) => {
                if !TESTS.contains(&name.as_str()) {
                    return Err(syntax(format!("Test [{name}] does not exist.")));
                }
                if *negated {
                    self.push("(not ");
                }
                self.push("__kt_");
                self.push(name);
                self.push("(");
                self.expr(input, lenient || name == "defined" || name == "null")?;
                self.args(args, lenient, true)?;
                self.push(")");
                if *negated {
                    self.push(")");
                }
            }
            Expr::Not(x) => {
                self.push("(not __kb(");
                self.expr(x, lenient)?;
                self.push("))");
            }
            Expr::Neg(x) => self.call("__kneg", &[x], lenient)?,
            Expr::Pos(x) => self.call("__kpos", &[x], lenient)?,
            Expr::Ternary(c, a, b) => {
                self.push("(");
                self.expr(a, lenient)?;
                self.push(" if __kb(");
                self.expr(c, lenient)?;
                self.push(") else ");
                self.expr(b, lenient)?;
                self.push(")");
            }
            Expr::Binary(op, l, r) => self.binary(*op, l, r, e, lenient)?,
        }
        Ok(())
    }

    fn list(&mut self, items: &[Expr], lenient: bool) -> EResult {
        for (i, it) in items.iter().enumerate() {
            if i > 0 {
                self.push(", ");
            }
            self.expr(it, lenient)?;
        }
        Ok(())
    }

    fn call(&mut self, f: &str, args: &[&Expr], lenient: bool) -> EResult {
        self.push(f);
        self.push("(");
        for (i, a) in args.iter().enumerate() {
            if i > 0 {
                self.push(", ");
            }
            self.expr(a, lenient)?;
        }
        self.push(")");
        Ok(())
    }

    /// Arguments; `leading_comma` when appended after an already emitted first argument.
    fn args(&mut self, args: &Args, lenient: bool, leading_comma: bool) -> EResult {
        let mut first = !leading_comma;
        for a in &args.pos {
            if !first {
                self.push(", ");
            }
            first = false;
            self.expr(a, lenient)?;
        }
        for (name, a) in &args.named {
            if !is_kwarg_name(name) {
                return Err(syntax(format!("Invalid argument name \"{name}\"")));
            }
            if !first {
                self.push(", ");
            }
            first = false;
            self.push(name);
            self.push("=");
            self.expr(a, lenient)?;
        }
        Ok(())
    }

    fn binary(&mut self, op: BinOp, l: &Expr, r: &Expr, whole: &Expr, lenient: bool) -> EResult {
        match op {
            BinOp::Or | BinOp::And => {
                let items = flatten(whole, |o| o == op);
                let sep = if op == BinOp::Or { " or " } else { " and " };
                self.push("(");
                for (i, (_, it)) in items.iter().enumerate() {
                    if i > 0 {
                        self.push(sep);
                    }
                    self.push("__kb(");
                    self.expr(it, lenient)?;
                    self.push(")");
                }
                self.push(")");
            }
            BinOp::Eq => self.call("__keq", &[l, r], lenient)?,
            BinOp::Ne => self.call("__kne", &[l, r], lenient)?,
            BinOp::Lt => self.call("__klt", &[l, r], lenient)?,
            BinOp::Gt => self.call("__kgt", &[l, r], lenient)?,
            BinOp::Le => self.call("__kle", &[l, r], lenient)?,
            BinOp::Ge => self.call("__kge", &[l, r], lenient)?,
            BinOp::Contains => self.call("__kcontains", &[l, r], lenient)?,
            BinOp::Range => self.call("__kf_range", &[l, r], lenient)?,
            BinOp::Add | BinOp::Sub | BinOp::Mul | BinOp::Div | BinOp::Mod => {
                let additive = matches!(op, BinOp::Add | BinOp::Sub);
                let items = flatten(whole, |o| {
                    if additive {
                        matches!(o, BinOp::Add | BinOp::Sub)
                    } else {
                        matches!(o, BinOp::Mul | BinOp::Div | BinOp::Mod)
                    }
                });
                self.variadic("__karith", &items, lenient, |em, o| {
                    quote_into(&mut em.out, op_symbol(o.unwrap_or(op)));
                    em.push(", ");
                })?;
            }
            BinOp::Concat => {
                let items = flatten(whole, |o| o == BinOp::Concat);
                self.variadic("__kcat", &items, lenient, |_, _| {})?;
            }
            BinOp::Coalesce | BinOp::CoalesceUndef => {
                let items = flatten(whole, |o| o == op);
                let wrap = if op == BinOp::Coalesce {
                    "__kcw("
                } else {
                    "__kcwu("
                };
                self.push("(");
                let last = items.len() - 1;
                for (i, (_, it)) in items.iter().enumerate() {
                    if i < last {
                        self.push(wrap);
                        self.expr(it, true)?;
                        self.push(") or ");
                    } else {
                        self.push("[");
                        self.expr(it, lenient)?;
                        self.push("]");
                    }
                }
                self.push(")[0]");
            }
        }
        Ok(())
    }

    /// Emits `f(i0, [sep] i1, …)`, chunked so that no call exceeds [`MAX_CALL_ITEMS`]
    /// items: `f(f(i0 … i99), [sep] i100 …)` (the helpers fold from the left).
    fn variadic(
        &mut self,
        f: &str,
        items: &[(Option<BinOp>, &Expr)],
        lenient: bool,
        sep: impl Fn(&mut Self, Option<BinOp>),
    ) -> EResult {
        let chunks = items.len().div_ceil(MAX_CALL_ITEMS).max(1);
        for _ in 0..chunks {
            self.push(f);
            self.push("(");
        }
        for (i, (o, it)) in items.iter().enumerate() {
            if i > 0 {
                if i % MAX_CALL_ITEMS == 0 {
                    self.push(")");
                }
                self.push(", ");
                sep(self, *o);
            }
            self.expr(it, lenient)?;
        }
        self.push(")");
        Ok(())
    }

    fn path(&mut self, e: &Expr, lenient: bool) -> EResult {
        let mut steps: Vec<Step<'_>> = Vec::new();
        let mut cur = e;
        loop {
            match cur {
                Expr::Attr(inner, name) => {
                    steps.push(Step::Name(name));
                    cur = inner;
                }
                Expr::Index(inner, key) => {
                    steps.push(Step::Key(key));
                    cur = inner;
                }
                _ => break,
            }
        }
        steps.reverse();
        let root_name = match cur {
            Expr::Var(n) => Some(n.as_str()),
            _ => None,
        };
        if root_name == Some("loop")
            && let Some(Step::Name(first)) = steps.first_mut()
        {
            match *first {
                "index" => *first = "index0",
                "revindex" => *first = "revindex0",
                _ => {}
            }
        }
        if lenient {
            if steps.is_empty() {
                return match root_name {
                    Some(n) => {
                        self.var_ref(n);
                        Ok(())
                    }
                    None => self.expr(cur, true),
                };
            }
            self.push("__kl(");
        } else {
            self.push("__ks(");
            match root_name {
                Some(n) => quote_into(&mut self.out, n),
                None => self.push("none"),
            }
            self.push(", ");
        }
        match root_name {
            Some(n) => self.var_ref(n),
            None => self.expr(cur, lenient)?,
        }
        for s in &steps {
            self.push(", ");
            match s {
                Step::Name(n) => quote_into(&mut self.out, n),
                Step::Key(k) => self.expr(k, lenient)?,
            }
        }
        self.push(")");
        Ok(())
    }

    fn var_ref(&mut self, name: &str) {
        if is_identifier(name) {
            self.push(name);
        } else {
            self.push("__kvar(");
            quote_into(&mut self.out, name);
            self.push(")");
        }
    }
}

enum Step<'a> {
    Name(&'a str),
    Key(&'a Expr),
}

/// Flattens a left-deep chain of binary nodes whose operator satisfies `same`.
/// Returns `(operator before the item, item)` pairs; the first item has no operator.
fn flatten(e: &Expr, same: impl Fn(BinOp) -> bool) -> Vec<(Option<BinOp>, &Expr)> {
    let mut rev: Vec<(Option<BinOp>, &Expr)> = Vec::new();
    let mut cur = e;
    while let Expr::Binary(op, l, r) = cur {
        if !same(*op) {
            break;
        }
        rev.push((Some(*op), r));
        cur = l;
    }
    rev.push((None, cur));
    rev.reverse();
    rev
}

fn op_symbol(op: BinOp) -> &'static str {
    match op {
        BinOp::Add => "+",
        BinOp::Sub => "-",
        BinOp::Mul => "*",
        BinOp::Div => "/",
        _ => "%",
    }
}

const KEYWORDS: &[&str] = &[
    "true",
    "false",
    "none",
    "True",
    "False",
    "None",
    "and",
    "or",
    "not",
    "in",
    "is",
    "if",
    "else",
    "for",
    "recursive",
    "with",
    "without",
    "context",
    "import",
    "from",
    "as",
    "self",
    "super",
    "loop_controls",
    "set",
];

/// Whether `name` can be written as a bare minijinja identifier.
pub(crate) fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !KEYWORDS.contains(&name)
        && !name.starts_with("__k")
}

/// Whether `name` can be a keyword-argument name.
fn is_kwarg_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !KEYWORDS[..13].contains(&name)
}

/// Appends `s` as a minijinja double-quoted string literal.
pub(crate) fn quote_into(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                out.push_str(&format!("\\u{:04x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Maximum bracket nesting of emitted code, skipping string literals.
pub(crate) fn nesting(code: &str) -> usize {
    let (mut depth, mut max, mut in_str, mut esc) = (0usize, 0usize, false, false);
    for b in code.bytes() {
        if in_str {
            if esc {
                esc = false;
            } else if b == b'\\' {
                esc = true;
            } else if b == b'"' {
                in_str = false;
            }
            continue;
        }
        match b {
            b'"' => in_str = true,
            b'(' | b'[' | b'{' => {
                depth += 1;
                max = max.max(depth);
            }
            b')' | b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    max
}

#[cfg(test)]
mod tests {
    use super::super::lexer::{Stop, lex};
    use super::super::parser::Parser;
    use super::*;

    fn emit(s: &str) -> String {
        let src = format!("{s} }}}}");
        let toks = lex(&src, 0, Stop::Print).unwrap().toks;
        let e = Parser::parse_all(&toks).unwrap();
        let macros = HashSet::new();
        let mut em = Emitter::new(&macros);
        em.top(&e).unwrap();
        em.out
    }

    #[test]
    fn paths() {
        assert_eq!(emit("inputs.x"), r#"__ks("inputs", inputs, "x")"#);
        assert_eq!(
            emit("outputs['a-b'].v ?? 'd'"),
            r#"(__kcw(__kl(outputs, "a-b", "v")) or ["d"])[0]"#
        );
        assert_eq!(emit("loop.index"), r#"__ks("loop", loop, "index0")"#);
    }

    #[test]
    fn operators() {
        assert_eq!(
            emit("a ? b : c"),
            r#"(__ks("b", b) if __kb(__ks("a", a)) else __ks("c", c))"#
        );
        assert_eq!(emit("1 + 2 - 3"), r#"__karith(1, "+", 2, "-", 3)"#);
        assert_eq!(emit("'a' ~ 'b' ~ 'c'"), r#"__kcat("a", "b", "c")"#);
        assert_eq!(emit("x is not defined"), r#"(not __kt_defined(x))"#);
        assert_eq!(emit("x | default('y')"), r#"(x|default("y"))"#);
        assert_eq!(emit("now(format='x')"), r#"__kf_now(format="x")"#);
    }

    #[test]
    fn nesting_counts_outside_strings() {
        assert_eq!(nesting(r#"f("((((", g(1))"#), 2);
    }
}
