//! Pebble expression parser (precedence climbing, as `ExpressionParser.java`).
//!
//! Precedences (higher binds tighter; all binary operators are left-associative):
//! `or` 10, `and` 15, `is`/`is not`/`contains` 20, `==`/`equals`/`!=`/`<`/`>`/`<=`/`>=` 30,
//! `+`/`-` 40, `*`/`/`/`%` 60, `|` 100, `~` 110, `..`/`??`/`???` 120; unary `not`/`-`/`+`
//! take a primary operand (precedence 500). The ternary `c ? a : b` is only recognised
//! at the top of an expression (or of a parenthesised one / an argument), like Pebble.

use super::lexer::{StrPart, Tok};

/// Maximum expression nesting accepted before failing with a limit error.
pub(crate) const MAX_DEPTH: usize = 48;
/// Maximum number of binary operators in one left-associative chain.
const MAX_CHAIN: usize = 5_000;
/// Maximum number of `.name` / `[key]` / call steps after a primary expression.
const MAX_PATH: usize = 200;

/// An expression tree.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Expr {
    Null,
    Bool(bool),
    Int(i64),
    /// Decimal literal, as written.
    Float(String),
    Str(String),
    List(Vec<Expr>),
    Map(Vec<(Expr, Expr)>),
    Var(String),
    Attr(Box<Expr>, String),
    Index(Box<Expr>, Box<Expr>),
    Method(Box<Expr>, String, Vec<Expr>),
    Call(String, Args),
    Filter(Box<Expr>, String, Args),
    /// `x is [not] name(args)`; the flag is `true` for `is not`.
    Test(Box<Expr>, String, Args, bool),
    Not(Box<Expr>),
    Neg(Box<Expr>),
    Pos(Box<Expr>),
    Binary(BinOp, Box<Expr>, Box<Expr>),
    Ternary(Box<Expr>, Box<Expr>, Box<Expr>),
}

/// Call arguments: positional first, then named.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct Args {
    pub(crate) pos: Vec<Expr>,
    pub(crate) named: Vec<(String, Expr)>,
}

/// Binary operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BinOp {
    Or,
    And,
    Contains,
    Eq,
    Ne,
    Lt,
    Gt,
    Le,
    Ge,
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Concat,
    Range,
    Coalesce,
    CoalesceUndef,
}

enum Infix {
    Bin(BinOp),
    Filter,
    Test(bool),
}

fn infix(op: &str) -> Option<(Infix, u32)> {
    Some(match op {
        "or" => (Infix::Bin(BinOp::Or), 10),
        "and" => (Infix::Bin(BinOp::And), 15),
        "is" => (Infix::Test(false), 20),
        "is not" => (Infix::Test(true), 20),
        "contains" => (Infix::Bin(BinOp::Contains), 20),
        "==" | "equals" => (Infix::Bin(BinOp::Eq), 30),
        "!=" => (Infix::Bin(BinOp::Ne), 30),
        "<" => (Infix::Bin(BinOp::Lt), 30),
        ">" => (Infix::Bin(BinOp::Gt), 30),
        "<=" => (Infix::Bin(BinOp::Le), 30),
        ">=" => (Infix::Bin(BinOp::Ge), 30),
        "+" => (Infix::Bin(BinOp::Add), 40),
        "-" => (Infix::Bin(BinOp::Sub), 40),
        "*" => (Infix::Bin(BinOp::Mul), 60),
        "/" => (Infix::Bin(BinOp::Div), 60),
        "%" => (Infix::Bin(BinOp::Mod), 60),
        "|" => (Infix::Filter, 100),
        "~" => (Infix::Bin(BinOp::Concat), 110),
        ".." => (Infix::Bin(BinOp::Range), 120),
        "??" => (Infix::Bin(BinOp::Coalesce), 120),
        "???" => (Infix::Bin(BinOp::CoalesceUndef), 120),
        _ => return None,
    })
}

/// A parse failure; `limit` marks nesting-depth failures.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ParseError {
    pub(crate) message: String,
    pub(crate) limit: bool,
}

impl ParseError {
    fn syntax(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            limit: false,
        }
    }
}

type PResult<T> = Result<T, ParseError>;

/// Parser over a token slice.
pub(crate) struct Parser<'t> {
    toks: &'t [Tok],
    pos: usize,
    depth: usize,
}

impl<'t> Parser<'t> {
    pub(crate) fn new(toks: &'t [Tok]) -> Self {
        Self {
            toks,
            pos: 0,
            depth: 0,
        }
    }

    /// Parses one whole expression and requires the end of input.
    pub(crate) fn parse_all(toks: &'t [Tok]) -> PResult<Expr> {
        let mut p = Self::new(toks);
        if p.at_end() {
            return Err(ParseError::syntax("Empty expression"));
        }
        let e = p.expression()?;
        p.expect_end()?;
        Ok(e)
    }

    pub(crate) fn at_end(&self) -> bool {
        self.pos >= self.toks.len()
    }

    pub(crate) fn peek(&self) -> Option<&'t Tok> {
        self.toks.get(self.pos)
    }

    fn peek_at(&self, off: usize) -> Option<&'t Tok> {
        self.toks.get(self.pos + off)
    }

    pub(crate) fn next(&mut self) -> Option<&'t Tok> {
        let t = self.toks.get(self.pos);
        self.pos += 1;
        t
    }

    pub(crate) fn expect_end(&self) -> PResult<()> {
        match self.peek() {
            None => Ok(()),
            Some(t) => Err(ParseError::syntax(format!(
                "Unexpected token {}",
                describe(t)
            ))),
        }
    }

    pub(crate) fn expect_punct(&mut self, c: char) -> PResult<()> {
        match self.next() {
            Some(Tok::Punct(p)) if *p == c => Ok(()),
            Some(t) => Err(ParseError::syntax(format!(
                "Expected \"{c}\" but found {}",
                describe(t)
            ))),
            None => Err(ParseError::syntax(format!(
                "Expected \"{c}\" but reached the end of the expression"
            ))),
        }
    }

    pub(crate) fn is_punct(&self, c: char) -> bool {
        matches!(self.peek(), Some(Tok::Punct(p)) if *p == c)
    }

    pub(crate) fn expect_name(&mut self) -> PResult<String> {
        match self.next() {
            Some(Tok::Name(n)) => Ok(n.clone()),
            Some(t) => Err(ParseError::syntax(format!(
                "Expected a name but found {}",
                describe(t)
            ))),
            None => Err(ParseError::syntax(
                "Expected a name but reached the end of the expression",
            )),
        }
    }

    /// A full expression (ternary allowed).
    pub(crate) fn expression(&mut self) -> PResult<Expr> {
        self.parse(0)
    }

    fn enter(&mut self) -> PResult<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(ParseError {
                message: format!("Expression nested too deeply (more than {MAX_DEPTH} levels)"),
                limit: true,
            });
        }
        Ok(())
    }

    fn parse(&mut self, min_prec: u32) -> PResult<Expr> {
        self.enter()?;
        let r = self.parse_inner(min_prec);
        self.depth -= 1;
        r
    }

    fn parse_inner(&mut self, min_prec: u32) -> PResult<Expr> {
        let mut expr = match self.peek() {
            Some(Tok::Op(op @ ("not" | "-" | "+"))) => {
                self.pos += 1;
                let operand = self.parse(500)?;
                match *op {
                    "not" => Expr::Not(Box::new(operand)),
                    "-" => Expr::Neg(Box::new(operand)),
                    _ => Expr::Pos(Box::new(operand)),
                }
            }
            Some(Tok::Punct('(')) => {
                self.pos += 1;
                let inner = self.parse(0)?;
                self.expect_punct(')')?;
                self.postfix(inner)?
            }
            Some(Tok::Punct('[')) => {
                let l = self.list()?;
                self.postfix(l)?
            }
            Some(Tok::Punct('{')) => {
                let m = self.map()?;
                self.postfix(m)?
            }
            _ => self.primary()?,
        };
        // Left-deep chains built by this loop nest without recursion; bound them. A run
        // of one operator family is flattened when emitted, so only family changes (and
        // filters/tests/comparisons) add nesting.
        let (mut chain, mut nesting, mut family) = (0usize, 0usize, None::<u8>);
        while let Some(Tok::Op(op)) = self.peek() {
            let Some((kind, prec)) = infix(op) else { break };
            if prec < min_prec {
                break;
            }
            let fam = match &kind {
                Infix::Bin(BinOp::Add | BinOp::Sub) => Some(1),
                Infix::Bin(BinOp::Mul | BinOp::Div | BinOp::Mod) => Some(2),
                Infix::Bin(BinOp::Concat) => Some(3),
                Infix::Bin(BinOp::And) => Some(4),
                Infix::Bin(BinOp::Or) => Some(5),
                Infix::Bin(BinOp::Coalesce) => Some(6),
                Infix::Bin(BinOp::CoalesceUndef) => Some(7),
                _ => None,
            };
            chain += 1;
            if fam.is_none() || fam != family {
                nesting += 1;
            }
            family = fam;
            if chain > MAX_CHAIN || self.depth + nesting > MAX_DEPTH {
                return Err(ParseError {
                    message: "Expression nested too deeply or too long".into(),
                    limit: true,
                });
            }
            self.pos += 1;
            expr = match kind {
                Infix::Filter => {
                    let name = self.expect_name()?;
                    let args = if self.is_punct('(') {
                        self.args()?
                    } else {
                        Args::default()
                    };
                    Expr::Filter(Box::new(expr), name, args)
                }
                Infix::Test(negated) => {
                    let name = self.expect_name()?;
                    let args = if self.is_punct('(') {
                        self.args()?
                    } else {
                        Args::default()
                    };
                    Expr::Test(Box::new(expr), name, args, negated)
                }
                Infix::Bin(b) => {
                    let right = self.parse(prec + 1)?;
                    Expr::Binary(b, Box::new(expr), Box::new(right))
                }
            };
        }
        if min_prec == 0 && self.is_punct('?') {
            self.pos += 1;
            let a = self.parse(0)?;
            self.expect_punct(':')?;
            let b = self.parse(0)?;
            expr = Expr::Ternary(Box::new(expr), Box::new(a), Box::new(b));
        }
        Ok(expr)
    }

    fn primary(&mut self) -> PResult<Expr> {
        let tok = self
            .next()
            .ok_or_else(|| ParseError::syntax("Unexpected end of expression"))?;
        let node = match tok {
            Tok::Name(n) => match n.as_str() {
                "true" | "TRUE" => Expr::Bool(true),
                "false" | "FALSE" => Expr::Bool(false),
                "null" | "NULL" | "none" | "NONE" => Expr::Null,
                _ if self.is_punct('(') => {
                    let args = self.args()?;
                    Expr::Call(n.clone(), args)
                }
                _ => Expr::Var(n.clone()),
            },
            Tok::Int(i) => Expr::Int(*i),
            Tok::Float(f) => Expr::Float(f.clone()),
            Tok::Str(s) => Expr::Str(s.clone()),
            Tok::Interp(parts) => self.interpolation(parts)?,
            other => {
                return Err(ParseError::syntax(format!(
                    "Unexpected token {}",
                    describe(other)
                )));
            }
        };
        self.postfix(node)
    }

    fn interpolation(&mut self, parts: &[StrPart]) -> PResult<Expr> {
        let mut acc: Option<Expr> = None;
        for part in parts {
            let e = match part {
                StrPart::Lit(s) => Expr::Str(s.clone()),
                StrPart::Expr(toks) => {
                    let mut sub = Parser {
                        toks,
                        pos: 0,
                        depth: self.depth,
                    };
                    let e = sub.expression()?;
                    sub.expect_end()?;
                    e
                }
            };
            acc = Some(match acc {
                None => e,
                Some(prev) => Expr::Binary(BinOp::Concat, Box::new(prev), Box::new(e)),
            });
        }
        Ok(acc.unwrap_or(Expr::Str(String::new())))
    }

    fn postfix(&mut self, mut node: Expr) -> PResult<Expr> {
        let mut steps = 0usize;
        loop {
            steps += 1;
            if steps > MAX_PATH {
                return Err(ParseError {
                    message: format!("Attribute chain longer than {MAX_PATH} steps"),
                    limit: true,
                });
            }
            if self.is_punct('.') {
                self.pos += 1;
                let name = match self.next() {
                    Some(Tok::Name(n)) => n.clone(),
                    // word operators are valid attribute names (`x.contains`, `x.is`)
                    Some(Tok::Op(op)) if op.bytes().all(|b| b.is_ascii_alphabetic()) => {
                        (*op).to_owned()
                    }
                    Some(Tok::Int(i)) => {
                        node = Expr::Index(Box::new(node), Box::new(Expr::Int(*i)));
                        continue;
                    }
                    Some(t) => {
                        return Err(ParseError::syntax(format!(
                            "Expected an attribute name but found {}",
                            describe(t)
                        )));
                    }
                    None => {
                        return Err(ParseError::syntax("Expected an attribute name after \".\""));
                    }
                };
                if self.is_punct('(') {
                    let args = self.args()?;
                    if !args.named.is_empty() {
                        return Err(ParseError::syntax(
                            "Can not use named arguments when calling a bean method",
                        ));
                    }
                    node = Expr::Method(Box::new(node), name, args.pos);
                } else {
                    node = Expr::Attr(Box::new(node), name);
                }
            } else if self.is_punct('[') {
                self.pos += 1;
                self.enter()?;
                let key = self.parse(0);
                self.depth -= 1;
                let key = key?;
                self.expect_punct(']')?;
                node = Expr::Index(Box::new(node), Box::new(key));
            } else {
                return Ok(node);
            }
        }
    }

    /// `( args )` — positional then `name = value`.
    pub(crate) fn args(&mut self) -> PResult<Args> {
        self.expect_punct('(')?;
        let mut args = Args::default();
        let mut first = true;
        while !self.is_punct(')') {
            if !first {
                self.expect_punct(',')?;
            }
            first = false;
            if let (Some(Tok::Name(n)), Some(Tok::Punct('='))) = (self.peek(), self.peek_at(1)) {
                self.pos += 2;
                let v = self.parse(0)?;
                args.named.push((n.clone(), v));
            } else {
                if !args.named.is_empty() {
                    return Err(ParseError::syntax(
                        "Positional arguments must be declared before any named arguments.",
                    ));
                }
                args.pos.push(self.parse(0)?);
            }
            if self.at_end() {
                return Err(ParseError::syntax(
                    "Expected \")\" but reached the end of the expression",
                ));
            }
        }
        self.expect_punct(')')?;
        Ok(args)
    }

    fn list(&mut self) -> PResult<Expr> {
        self.expect_punct('[')?;
        let mut items = Vec::new();
        if self.is_punct(']') {
            self.pos += 1;
            return Ok(Expr::List(items));
        }
        loop {
            items.push(self.parse(0)?);
            if self.is_punct(']') {
                self.pos += 1;
                return Ok(Expr::List(items));
            }
            self.expect_punct(',')?;
        }
    }

    fn map(&mut self) -> PResult<Expr> {
        self.expect_punct('{')?;
        let mut entries = Vec::new();
        if self.is_punct('}') {
            self.pos += 1;
            return Ok(Expr::Map(entries));
        }
        loop {
            let k = self.parse(0)?;
            self.expect_punct(':')?;
            let v = self.parse(0)?;
            entries.push((k, v));
            if self.is_punct('}') {
                self.pos += 1;
                return Ok(Expr::Map(entries));
            }
            self.expect_punct(',')?;
        }
    }
}

/// Human description of a token for error messages.
pub(crate) fn describe(t: &Tok) -> String {
    match t {
        Tok::Name(n) => format!("\"{n}\""),
        Tok::Int(i) => format!("\"{i}\""),
        Tok::Float(f) => format!("\"{f}\""),
        Tok::Str(s) => format!("string '{s}'"),
        Tok::Interp(_) => "string".into(),
        Tok::Op(o) => format!("\"{o}\""),
        Tok::Punct(c) => format!("\"{c}\""),
    }
}

#[cfg(test)]
mod tests {
    use super::super::lexer::{Stop, lex};
    use super::*;

    fn parse(s: &str) -> Expr {
        let src = format!("{s} }}}}");
        let toks = lex(&src, 0, Stop::Print).unwrap().toks;
        Parser::parse_all(&toks).unwrap()
    }

    fn var(n: &str) -> Box<Expr> {
        Box::new(Expr::Var(n.into()))
    }

    #[test]
    fn precedence() {
        // `~` binds tighter than `|`
        assert_eq!(
            parse("a ~ b | upper"),
            Expr::Filter(
                Box::new(Expr::Binary(BinOp::Concat, var("a"), var("b"))),
                "upper".into(),
                Args::default()
            )
        );
        // `??` binds tighter than `==`
        assert_eq!(
            parse("a ?? 1 == 1"),
            Expr::Binary(
                BinOp::Eq,
                Box::new(Expr::Binary(
                    BinOp::Coalesce,
                    var("a"),
                    Box::new(Expr::Int(1))
                )),
                Box::new(Expr::Int(1))
            )
        );
        // `not` binds to the primary only (Pebble 3)
        assert_eq!(
            parse("not a and b"),
            Expr::Binary(BinOp::And, Box::new(Expr::Not(var("a"))), var("b"))
        );
    }

    #[test]
    fn ternary_is_top_level() {
        assert_eq!(
            parse("x == 3 ? 'ok' : ko"),
            Expr::Ternary(
                Box::new(Expr::Binary(BinOp::Eq, var("x"), Box::new(Expr::Int(3)))),
                Box::new(Expr::Str("ok".into())),
                var("ko")
            )
        );
    }

    #[test]
    fn postfix_chains() {
        assert_eq!(
            parse("outputs['my-task'].value[0]"),
            Expr::Index(
                Box::new(Expr::Attr(
                    Box::new(Expr::Index(
                        var("outputs"),
                        Box::new(Expr::Str("my-task".into()))
                    )),
                    "value".into()
                )),
                Box::new(Expr::Int(0))
            )
        );
        assert!(matches!(parse("a.size()"), Expr::Method(_, _, _)));
        assert!(
            matches!(parse("now(format='yyyy')"), Expr::Call(_, Args { named, .. }) if named.len() == 1)
        );
    }

    #[test]
    fn deep_nesting_is_a_limit() {
        let src = format!("{}1{} }}}}", "(".repeat(200), ")".repeat(200));
        let toks = lex(&src, 0, Stop::Print).unwrap().toks;
        let err = Parser::parse_all(&toks).unwrap_err();
        assert!(err.limit);
    }

    #[test]
    fn errors() {
        for bad in ["a ?", "a b", "(a", "[1,", "f(a=1, 2)", "x |", "a ? b"] {
            let src = format!("{bad} }}}}");
            if let Ok(l) = lex(&src, 0, Stop::Print) {
                assert!(Parser::parse_all(&l.toks).is_err(), "{bad}");
            }
        }
    }
}
