//! Tokeniser for the inside of `{{ … }}` and `{% … %}`, following Pebble's `LexerImpl`.
//!
//! Operators are matched before names (longest first; word operators need a non-word
//! character after them), strings are single- or double-quoted (only `\'`, `\"` and
//! `\\` are unescaped, other backslashes are kept), double-quoted strings support
//! `#{ expr }` interpolation, numbers are `123`, `123L` or `1.5`. Brackets are tracked so
//! that `}}` inside a map literal does not close the tag.

/// A lexical token.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Tok {
    /// Identifier.
    Name(String),
    /// Integer literal (Java `long`).
    Int(i64),
    /// Decimal literal, as written (`1.5`).
    Float(String),
    /// String literal without interpolation.
    Str(String),
    /// Double-quoted string with `#{}` interpolation.
    Interp(Vec<StrPart>),
    /// Operator (`and`, `==`, `??`, `|`, …).
    Op(&'static str),
    /// Punctuation: one of `()[]{}?:.,=`.
    Punct(char),
}

/// A piece of an interpolated string.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum StrPart {
    /// Literal text.
    Lit(String),
    /// An embedded expression.
    Expr(Vec<Tok>),
}

/// Which delimiter ends the token stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stop {
    /// `}}` (or `-}}`).
    Print,
    /// `%}` (or `-%}`).
    Tag,
    /// `}` closing a `#{` interpolation.
    Interp,
}

/// Result of lexing one tag body.
#[derive(Debug)]
pub(crate) struct Lexed {
    /// The tokens.
    pub(crate) toks: Vec<Tok>,
    /// Byte offset just after the closing delimiter.
    pub(crate) end: usize,
    /// Whether the closing delimiter had a `-` (trim following whitespace).
    pub(crate) trim_after: bool,
}

const OPERATORS: &[&str] = &[
    "contains", "equals", "???", "and", "not", "??", "==", "!=", ">=", "<=", "or", "is", "..", "+",
    "-", "*", "/", "%", "|", "~", ">", "<",
];

/// Maximum number of tokens in a single tag (bounds memory on hostile input).
const MAX_TOKENS: usize = 100_000;

/// Lexes from `pos` until the `stop` delimiter at bracket depth 0.
pub(crate) fn lex(src: &str, pos: usize, stop: Stop) -> Result<Lexed, String> {
    lex_at(src, pos, stop, 0)
}

/// Maximum nesting of `#{}` interpolations.
const MAX_INTERPOLATION_DEPTH: usize = 16;

fn lex_at(src: &str, mut pos: usize, stop: Stop, depth: usize) -> Result<Lexed, String> {
    if depth > MAX_INTERPOLATION_DEPTH {
        return Err(format!(
            "String interpolations nested more than {MAX_INTERPOLATION_DEPTH} levels deep"
        ));
    }
    let bytes = src.as_bytes();
    let mut toks = Vec::new();
    let mut brackets: Vec<u8> = Vec::new();
    loop {
        // skip whitespace
        while pos < bytes.len() && (bytes[pos] as char).is_ascii_whitespace() {
            pos += 1;
        }
        if pos >= bytes.len() {
            return Err(match stop {
                Stop::Print => "Unclosed \"{{\": expected \"}}\"".into(),
                Stop::Tag => "Unclosed \"{%\": expected \"%}\"".into(),
                Stop::Interp => "Unclosed string interpolation \"#{\"".into(),
            });
        }
        if toks.len() > MAX_TOKENS {
            return Err("Expression is too long".into());
        }
        let rest = &src[pos..];
        if brackets.is_empty() {
            match stop {
                Stop::Print => {
                    if rest.starts_with("-}}") {
                        return Ok(Lexed {
                            toks,
                            end: pos + 3,
                            trim_after: true,
                        });
                    }
                    if rest.starts_with("}}") {
                        return Ok(Lexed {
                            toks,
                            end: pos + 2,
                            trim_after: false,
                        });
                    }
                }
                Stop::Tag => {
                    if rest.starts_with("-%}") {
                        return Ok(Lexed {
                            toks,
                            end: pos + 3,
                            trim_after: true,
                        });
                    }
                    if rest.starts_with("%}") {
                        return Ok(Lexed {
                            toks,
                            end: pos + 2,
                            trim_after: false,
                        });
                    }
                }
                Stop::Interp => {
                    if rest.starts_with('}') {
                        return Ok(Lexed {
                            toks,
                            end: pos + 1,
                            trim_after: false,
                        });
                    }
                }
            }
        }
        // operators
        if let Some((op, len)) = match_operator(rest) {
            toks.push(Tok::Op(op));
            pos += len;
            continue;
        }
        let c = rest.chars().next().unwrap_or(' ');
        // names
        if c.is_alphabetic() || c == '_' {
            let len = rest
                .char_indices()
                .find(|&(_, ch)| !(ch.is_alphanumeric() || ch == '_'))
                .map_or(rest.len(), |(i, _)| i);
            toks.push(Tok::Name(rest[..len].to_owned()));
            pos += len;
            continue;
        }
        // numbers
        if c.is_ascii_digit() {
            let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
            let after = &rest[digits..];
            if after.starts_with('L') {
                let n = rest[..digits]
                    .parse::<i64>()
                    .map_err(|_| format!("Invalid number {}", &rest[..digits]))?;
                toks.push(Tok::Int(n));
                pos += digits + 1;
                continue;
            }
            let frac = after
                .strip_prefix('.')
                .map_or(0, |f| f.bytes().take_while(u8::is_ascii_digit).count());
            if frac > 0 {
                let len = digits + 1 + frac;
                toks.push(Tok::Float(rest[..len].to_owned()));
                pos += len;
            } else {
                let n = rest[..digits]
                    .parse::<i64>()
                    .map_err(|_| format!("Invalid number {}", &rest[..digits]))?;
                toks.push(Tok::Int(n));
                pos += digits;
            }
            continue;
        }
        // punctuation
        if "()[]{}?:.,=".contains(c) {
            match c {
                '(' | '[' | '{' => brackets.push(c as u8),
                ')' | ']' | '}' => {
                    let open = brackets
                        .pop()
                        .ok_or_else(|| format!("Unexpected \"{c}\""))?;
                    let expected = match open {
                        b'(' => ')',
                        b'[' => ']',
                        _ => '}',
                    };
                    if expected != c {
                        return Err(format!("Unclosed \"{}\"", open as char));
                    }
                }
                _ => {}
            }
            toks.push(Tok::Punct(c));
            pos += 1;
            continue;
        }
        if c == '\'' || c == '"' {
            let (tok, len) = lex_string(src, pos, depth)?;
            toks.push(tok);
            pos += len;
            continue;
        }
        return Err(format!("Unexpected character [{c}]"));
    }
}

fn match_operator(rest: &str) -> Option<(&'static str, usize)> {
    // "is not" may have any whitespace between the two words
    if let Some(after_is) = rest.strip_prefix("is") {
        let ws = after_is.bytes().take_while(u8::is_ascii_whitespace).count();
        if ws > 0
            && after_is[ws..].starts_with("not")
            && !is_word_byte(after_is.as_bytes().get(ws + 3))
        {
            return Some(("is not", 2 + ws + 3));
        }
    }
    for op in OPERATORS {
        if rest.starts_with(op) {
            let word = op.as_bytes()[0].is_ascii_alphabetic();
            if word && is_word_byte(rest.as_bytes().get(op.len())) {
                continue;
            }
            return Some((op, op.len()));
        }
    }
    None
}

fn is_word_byte(b: Option<&u8>) -> bool {
    b.is_some_and(|b| b.is_ascii_alphanumeric() || *b == b'_')
}

/// Lexes a quoted string starting at `pos`; returns the token and its byte length.
fn lex_string(src: &str, pos: usize, depth: usize) -> Result<(Tok, usize), String> {
    let quote = src.as_bytes()[pos];
    let mut parts: Vec<StrPart> = Vec::new();
    let mut cur = String::new();
    let mut i = pos + 1;
    let bytes = src.as_bytes();
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'\\' && i + 1 < bytes.len() {
            let n = bytes[i + 1];
            if n == quote || n == b'\\' {
                cur.push(n as char);
                i += 2;
                continue;
            }
            cur.push('\\');
            i += 1;
            continue;
        }
        if b == quote {
            let len = i + 1 - pos;
            if parts.is_empty() {
                return Ok((Tok::Str(cur), len));
            }
            if !cur.is_empty() {
                parts.push(StrPart::Lit(cur));
            }
            return Ok((Tok::Interp(parts), len));
        }
        if quote == b'"' && b == b'#' && bytes.get(i + 1) == Some(&b'{') {
            if !cur.is_empty() {
                parts.push(StrPart::Lit(std::mem::take(&mut cur)));
            }
            let inner = lex_at(src, i + 2, Stop::Interp, depth + 1)?;
            parts.push(StrPart::Expr(inner.toks));
            i = inner.end;
            continue;
        }
        // copy one UTF-8 character
        let ch_len = src[i..].chars().next().map_or(1, char::len_utf8);
        cur.push_str(&src[i..i + ch_len]);
        i += ch_len;
    }
    Err(format!(
        "Unclosed string literal starting with {}",
        quote as char
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(s: &str) -> Vec<Tok> {
        let full = format!("{s} }}}}");
        lex(&full, 0, Stop::Print).unwrap().toks
    }

    #[test]
    fn operators_before_names() {
        assert_eq!(
            toks("a or b"),
            vec![Tok::Name("a".into()), Tok::Op("or"), Tok::Name("b".into())]
        );
        assert_eq!(toks("orders"), vec![Tok::Name("orders".into())]);
        assert_eq!(
            toks("x is not null"),
            vec![
                Tok::Name("x".into()),
                Tok::Op("is not"),
                Tok::Name("null".into())
            ]
        );
        assert_eq!(
            toks("a ??? b ?? c"),
            vec![
                Tok::Name("a".into()),
                Tok::Op("???"),
                Tok::Name("b".into()),
                Tok::Op("??"),
                Tok::Name("c".into())
            ]
        );
    }

    #[test]
    fn numbers_and_ranges() {
        assert_eq!(toks("1..5"), vec![Tok::Int(1), Tok::Op(".."), Tok::Int(5)]);
        assert_eq!(
            toks("2.50 7L"),
            vec![Tok::Float("2.50".into()), Tok::Int(7)]
        );
    }

    #[test]
    fn strings() {
        assert_eq!(
            toks(r"'it\'s' 'a\nb'"),
            vec![Tok::Str("it's".into()), Tok::Str("a\\nb".into())]
        );
        assert_eq!(
            toks(r#""x#{ 1 }y""#),
            vec![Tok::Interp(vec![
                StrPart::Lit("x".into()),
                StrPart::Expr(vec![Tok::Int(1)]),
                StrPart::Lit("y".into())
            ])]
        );
        assert_eq!(toks("'a ? b : c'"), vec![Tok::Str("a ? b : c".into())]);
    }

    #[test]
    fn nested_braces_do_not_close() {
        let src = "{'a': {'b': 1}} }} rest";
        let l = lex(src, 0, Stop::Print).unwrap();
        assert_eq!(&src[l.end..], " rest");
    }

    #[test]
    fn trim_marker() {
        let l = lex(" a -}}", 0, Stop::Print).unwrap();
        assert!(l.trim_after);
        assert!(lex(" a ", 0, Stop::Print).is_err());
        assert!(lex(" a ) }}", 0, Stop::Print).is_err());
    }
}
