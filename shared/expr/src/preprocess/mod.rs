//! Pebble → minijinja source translation.
//!
//! [`prepare`] scans the template (text, `{{ }}`, `{% %}`, `{# #}`, `{% raw %}` /
//! `{% verbatim %}`), applies Pebble's whitespace control (`{{-`/`-}}` trim *all*
//! whitespace on that side, newlines included) itself, parses each tag with the Pebble
//! grammar (`lexer.rs`, `parser.rs`) and writes the equivalent minijinja source
//! (`emit.rs`). Text and raw content are copied so that minijinja cannot misread them.
//! For error reporting it records, for every emitted tag, where it lives in the
//! generated source together with the original tag text and line.

pub(crate) mod emit;
pub(crate) mod lexer;
pub(crate) mod parser;

use std::collections::HashSet;
use std::ops::Range;

use crate::error::{ExprError, ExprErrorKind};
use emit::{Emitter, is_identifier, quote_into};
use lexer::{Stop, Tok, lex};
use parser::{Args, Parser};

/// Maximum number of tags (`{{ }}`, `{% %}`, `{# #}`) in one template.
pub(crate) const MAX_TAGS: usize = 50_000;

/// Variable holding the value of a typed render.
pub(crate) const TYPED_RESULT: &str = "__kite_result";

/// What the generated template is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Render to text.
    Text,
    /// Render to text, but keep `{% raw %}…{% endraw %}` tags around raw content (used
    /// between passes of recursive rendering).
    KeepRaw,
    /// If the template is a single `{{ expr }}`, store its value in [`TYPED_RESULT`]
    /// instead of printing it; otherwise like [`Mode::Text`].
    Typed,
}

/// One emitted tag: where it is in the generated source, and what the user wrote.
#[derive(Debug, Clone)]
pub(crate) struct Span {
    pub(crate) generated: Range<usize>,
    pub(crate) text: String,
    pub(crate) line: usize,
}

/// The generated minijinja source.
#[derive(Debug, Clone)]
pub(crate) struct Prepared {
    pub(crate) source: String,
    pub(crate) spans: Vec<Span>,
}

/// Whether a string contains template syntax at all.
pub(crate) fn needs_render(s: &str) -> bool {
    let b = s.as_bytes();
    memchr_brace(b).is_some()
}

fn memchr_brace(b: &[u8]) -> Option<usize> {
    let mut i = 0;
    while i + 1 < b.len() {
        if b[i] == b'{' && matches!(b[i + 1], b'{' | b'%' | b'#') {
            return Some(i);
        }
        i += 1;
    }
    None
}

#[derive(Debug)]
enum SegKind {
    Text(String),
    Print(Vec<Tok>),
    Tag(Vec<Tok>),
    Raw { content: String },
    Comment,
}

#[derive(Debug)]
struct Segment {
    kind: SegKind,
    range: Range<usize>,
    line: usize,
}

/// Translates `src` into minijinja source.
pub(crate) fn prepare(src: &str, mode: Mode) -> Result<Prepared, ExprError> {
    let segments = scan(src)?;
    let macros: HashSet<String> = segments
        .iter()
        .filter_map(|s| match &s.kind {
            SegKind::Tag(toks) => match (toks.first(), toks.get(1)) {
                (Some(Tok::Name(t)), Some(Tok::Name(n))) if t == "macro" => Some(n.clone()),
                _ => None,
            },
            _ => None,
        })
        .collect();

    let meaningful: Vec<&Segment> = segments
        .iter()
        .filter(|s| !matches!(&s.kind, SegKind::Text(t) if t.is_empty()))
        .collect();
    if mode == Mode::Typed
        && let [seg] = meaningful.as_slice()
        && let SegKind::Print(toks) = &seg.kind
    {
        let tag = &src[seg.range.clone()];
        let mut em = Emitter::new(&macros);
        let e = Parser::parse_all(toks).map_err(|e| parse_err(e, tag, seg.line))?;
        em.top(&e).map_err(|e| emit_err(e, tag, seg.line))?;
        let mut source = format!("{{% set {TYPED_RESULT} = ");
        let start = source.len();
        source.push_str(&em.out);
        let end = source.len();
        source.push_str(" %}");
        return Ok(Prepared {
            source,
            spans: vec![Span {
                generated: start..end,
                text: tag.to_owned(),
                line: seg.line,
            }],
        });
    }

    let mut out = Prepared {
        source: String::with_capacity(src.len() + 64),
        spans: Vec::new(),
    };
    for seg in &segments {
        let tag = &src[seg.range.clone()];
        match &seg.kind {
            SegKind::Text(t) => push_text(&mut out.source, t),
            SegKind::Comment => {}
            SegKind::Raw { content } => {
                if mode == Mode::KeepRaw {
                    push_text(&mut out.source, "{% raw %}");
                    push_text(&mut out.source, content);
                    push_text(&mut out.source, "{% endraw %}");
                } else {
                    push_text(&mut out.source, content);
                }
            }
            SegKind::Print(toks) => {
                let e = Parser::parse_all(toks).map_err(|e| parse_err(e, tag, seg.line))?;
                let mut em = Emitter::new(&macros);
                em.top(&e).map_err(|e| emit_err(e, tag, seg.line))?;
                let start = out.source.len() + 3;
                out.source.push_str("{{ ");
                out.source.push_str(&em.out);
                let end = out.source.len();
                out.source.push_str(" }}");
                out.spans.push(Span {
                    generated: start..end,
                    text: tag.to_owned(),
                    line: seg.line,
                });
            }
            SegKind::Tag(toks) => {
                if let Some(code) = emit_tag(toks, &macros).map_err(|e| match e {
                    TagError::Parse(p) => parse_err(p, tag, seg.line),
                    TagError::Emit(m) => emit_err(m, tag, seg.line),
                })? {
                    let start = out.source.len();
                    out.source.push_str(&code);
                    let end = out.source.len();
                    out.spans.push(Span {
                        generated: start..end,
                        text: tag.to_owned(),
                        line: seg.line,
                    });
                }
            }
        }
    }
    Ok(out)
}

fn parse_err(e: parser::ParseError, tag: &str, line: usize) -> ExprError {
    let kind = if e.limit {
        ExprErrorKind::Limit
    } else {
        ExprErrorKind::Syntax
    };
    ExprError::new(kind, e.message, tag, line)
}

fn emit_err(e: emit::EmitError, tag: &str, line: usize) -> ExprError {
    let kind = if e.limit {
        ExprErrorKind::Limit
    } else {
        ExprErrorKind::Syntax
    };
    ExprError::new(kind, e.message, tag, line)
}

/// Copies literal text so that minijinja outputs it verbatim.
fn push_text(out: &mut String, text: &str) {
    if text.is_empty() {
        return;
    }
    if memchr_brace(text.as_bytes()).is_some() || text.ends_with('{') {
        out.push_str("{{ ");
        quote_into(out, text);
        out.push_str(" }}");
    } else {
        out.push_str(text);
    }
}

/// Splits the template into segments and applies whitespace control.
fn scan(src: &str) -> Result<Vec<Segment>, ExprError> {
    let b = src.as_bytes();
    let mut segs: Vec<Segment> = Vec::new();
    let mut pos = 0usize;
    let mut line = 1usize;
    let mut trim_next = false;
    while pos < b.len() {
        let Some(rel) = memchr_brace(&b[pos..]) else {
            push_text_seg(&mut segs, &src[pos..], &mut trim_next, line);
            break;
        };
        let start = pos + rel;
        if segs.len() > 2 * MAX_TAGS {
            return Err(ExprError::new(
                ExprErrorKind::Limit,
                format!("The template contains more than {MAX_TAGS} tags"),
                truncate(&src[start..]),
                line,
            ));
        }
        let text = &src[pos..start];
        push_text_seg(&mut segs, text, &mut trim_next, line);
        line += count_lines(text);
        let kind_byte = b[start + 1];
        let trim_before = b.get(start + 2) == Some(&b'-');
        let body_start = start + 2 + usize::from(trim_before);
        let tag_line = line;
        let err_ctx = |msg: String, end: usize| {
            let end = end.min(src.len()).max(start);
            let snippet = truncate(&src[start..end]);
            ExprError::new(ExprErrorKind::Syntax, msg, snippet, tag_line)
        };
        let (kind, end, trim_after) = match kind_byte {
            b'#' => {
                let Some(close) = src[body_start..].find("#}") else {
                    return Err(err_ctx("Unclosed comment.".into(), src.len()));
                };
                let end = body_start + close + 2;
                let trim_after = close > 0 && b[body_start + close - 1] == b'-';
                (SegKind::Comment, end, trim_after)
            }
            b'{' => {
                let lexed = lex(src, body_start, Stop::Print).map_err(|m| err_ctx(m, src.len()))?;
                (SegKind::Print(lexed.toks), lexed.end, lexed.trim_after)
            }
            _ => {
                let lexed = lex(src, body_start, Stop::Tag).map_err(|m| err_ctx(m, src.len()))?;
                match lexed.toks.as_slice() {
                    [Tok::Name(n)] if n == "raw" || n == "verbatim" => {
                        let end_name = if n == "raw" { "endraw" } else { "endverbatim" };
                        let Some((content_end, close_end, end_trim_before, end_trim_after)) =
                            find_tag_flags(src, lexed.end, end_name)
                        else {
                            return Err(err_ctx(format!("Unclosed {n} tag."), src.len()));
                        };
                        let mut content = &src[lexed.end..content_end];
                        if lexed.trim_after {
                            content = content.trim_start();
                        }
                        if end_trim_before {
                            content = content.trim_end();
                        }
                        (
                            SegKind::Raw {
                                content: content.to_owned(),
                            },
                            close_end,
                            end_trim_after,
                        )
                    }
                    _ => (SegKind::Tag(lexed.toks), lexed.end, lexed.trim_after),
                }
            }
        };
        if trim_before
            && let Some(Segment {
                kind: SegKind::Text(t),
                ..
            }) = segs.last_mut()
        {
            let trimmed_len = t.trim_end().len();
            t.truncate(trimmed_len);
        }
        line += count_lines(&src[start..end]);
        segs.push(Segment {
            kind,
            range: start..end,
            line: tag_line,
        });
        trim_next = trim_after;
        pos = end;
    }
    Ok(segs)
}

fn push_text_seg(segs: &mut Vec<Segment>, text: &str, trim_next: &mut bool, line: usize) {
    let t = if std::mem::take(trim_next) {
        text.trim_start()
    } else {
        text
    };
    if !t.is_empty() {
        segs.push(Segment {
            kind: SegKind::Text(t.to_owned()),
            range: 0..0,
            line,
        });
    }
}

fn count_lines(s: &str) -> usize {
    s.bytes().filter(|&c| c == b'\n').count()
}

fn truncate(s: &str) -> String {
    const MAX: usize = 200;
    if s.len() <= MAX {
        return s.to_owned();
    }
    let mut end = MAX;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

/// Finds the next `{%-? name -?%}` tag at or after `from`; returns its byte range.
pub(crate) fn find_tag(src: &str, from: usize, name: &str) -> Option<(usize, usize)> {
    find_tag_flags(src, from, name).map(|(start, end, _, _)| (start, end))
}

/// Like [`find_tag`], also returning the leading and trailing `-` trim flags.
fn find_tag_flags(src: &str, from: usize, name: &str) -> Option<(usize, usize, bool, bool)> {
    let b = src.as_bytes();
    let mut search = from;
    while let Some(rel) = src.get(search..)?.find("{%") {
        let start = search + rel;
        let mut i = start + 2;
        let trim_before = b.get(i) == Some(&b'-');
        if trim_before {
            i += 1;
        }
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        if src[i..].starts_with(name) {
            i += name.len();
            while i < b.len() && b[i].is_ascii_whitespace() {
                i += 1;
            }
            let trim_after = b.get(i) == Some(&b'-');
            if trim_after {
                i += 1;
            }
            if src[i..].starts_with("%}") {
                return Some((start, i + 2, trim_before, trim_after));
            }
        }
        search = start + 2;
    }
    None
}

enum TagError {
    Parse(parser::ParseError),
    Emit(emit::EmitError),
}

impl From<parser::ParseError> for TagError {
    fn from(e: parser::ParseError) -> Self {
        Self::Parse(e)
    }
}

impl From<emit::EmitError> for TagError {
    fn from(e: emit::EmitError) -> Self {
        Self::Emit(e)
    }
}

fn tag_syntax(message: impl Into<String>) -> TagError {
    TagError::Parse(parser::ParseError {
        message: message.into(),
        limit: false,
    })
}

/// Emits one `{% %}` tag; `None` for tags that produce nothing.
fn emit_tag(toks: &[Tok], macros: &HashSet<String>) -> Result<Option<String>, TagError> {
    let Some(Tok::Name(tag)) = toks.first() else {
        return Err(tag_syntax("A tag must start with a tag name"));
    };
    let mut p = Parser::new(&toks[1..]);
    let mut em = Emitter::new(macros);
    let code = match tag.as_str() {
        "if" | "elseif" | "elif" => {
            let e = p.expression()?;
            p.expect_end()?;
            em.out.push_str(if tag == "if" {
                "{% if __kb("
            } else {
                "{% elif __kb("
            });
            em.top(&e)?;
            em.out.push_str(") %}");
            em.out
        }
        "else" | "endif" | "endfor" | "endmacro" | "endfilter" => {
            p.expect_end()?;
            format!("{{% {tag} %}}")
        }
        "for" => {
            let var = new_var(&mut p)?;
            match p.next() {
                Some(Tok::Name(n)) if n == "in" => {}
                _ => return Err(tag_syntax("Expected \"in\" in the for tag")),
            }
            let e = p.expression()?;
            p.expect_end()?;
            em.out.push_str(&format!("{{% for {var} in __kiter("));
            em.top(&e)?;
            em.out.push_str(") %}");
            em.out
        }
        "set" => {
            let var = new_var(&mut p)?;
            p.expect_punct('=')?;
            let e = p.expression()?;
            p.expect_end()?;
            em.out.push_str(&format!("{{% set {var} = "));
            em.top(&e)?;
            em.out.push_str(" %}");
            em.out
        }
        "macro" => {
            let name = new_var(&mut p)?;
            let args = p.args()?;
            p.expect_end()?;
            em.out.push_str(&format!("{{% macro {name}("));
            let mut first = true;
            for a in &args.pos {
                let parser::Expr::Var(n) = a else {
                    return Err(tag_syntax("Macro arguments must be names"));
                };
                if !is_identifier(n) {
                    return Err(tag_syntax(format!(
                        "Unsupported macro argument name \"{n}\""
                    )));
                }
                if !first {
                    em.out.push_str(", ");
                }
                first = false;
                em.out.push_str(n);
            }
            for (n, default) in &args.named {
                if !is_identifier(n) {
                    return Err(tag_syntax(format!(
                        "Unsupported macro argument name \"{n}\""
                    )));
                }
                if !first {
                    em.out.push_str(", ");
                }
                first = false;
                em.out.push_str(n);
                em.out.push('=');
                em.top(default)?;
            }
            em.out.push_str(") %}");
            em.out
        }
        "filter" => {
            em.out.push_str("{% filter ");
            let mut first = true;
            loop {
                let name = p.expect_name()?;
                if !emit::FILTERS.contains(&name.as_str()) {
                    return Err(tag_syntax(format!("Filter [{name}] does not exist.")));
                }
                if !first {
                    em.out.push('|');
                }
                first = false;
                em.out.push_str(&name);
                if p.is_punct('(') {
                    let args: Args = p.args()?;
                    em.out.push('(');
                    let mut first_arg = true;
                    for a in &args.pos {
                        if !first_arg {
                            em.out.push_str(", ");
                        }
                        first_arg = false;
                        em.top(a)?;
                    }
                    for (n, a) in &args.named {
                        if !first_arg {
                            em.out.push_str(", ");
                        }
                        first_arg = false;
                        em.out.push_str(n);
                        em.out.push('=');
                        em.top(a)?;
                    }
                    em.out.push(')');
                }
                match p.next() {
                    None => break,
                    Some(Tok::Op("|")) => {}
                    Some(t) => {
                        return Err(tag_syntax(format!(
                            "Unexpected token {}",
                            parser::describe(t)
                        )));
                    }
                }
            }
            em.out.push_str(" %}");
            em.out
        }
        // accepted for compatibility, no effect (no auto-escaping, no inheritance)
        "autoescape" | "endautoescape" | "block" | "endblock" => return Ok(None),
        "endraw" | "endverbatim" => {
            return Err(tag_syntax(format!(
                "Unexpected \"{tag}\" without an opening tag"
            )));
        }
        "include" | "extends" | "import" | "from" | "embed" | "parallel" | "cache" | "flush" => {
            return Err(tag_syntax(format!("The \"{tag}\" tag is not supported")));
        }
        other => return Err(tag_syntax(format!("Unexpected tag name \"{other}\""))),
    };
    Ok(Some(code))
}

fn new_var(p: &mut Parser<'_>) -> Result<String, TagError> {
    let name = p.expect_name()?;
    if matches!(name.as_str(), "true" | "false" | "null" | "none") {
        return Err(tag_syntax(format!("Can not assign a value to {name}")));
    }
    if !is_identifier(&name) {
        return Err(tag_syntax(format!("Unsupported variable name \"{name}\"")));
    }
    Ok(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn src(t: &str) -> String {
        prepare(t, Mode::Text).unwrap().source
    }

    #[test]
    fn text_is_copied() {
        assert_eq!(src("hello }} %} world"), "hello }} %} world");
        assert_eq!(src("a{{ 1 }}"), "a{{ 1 }}");
        assert_eq!(src("a{ {{- 1 }}"), r#"{{ "a{" }}{{ 1 }}"#);
    }

    #[test]
    fn whitespace_control() {
        assert_eq!(src("a  \n {{- 1 -}} \n b"), "a{{ 1 }}b");
        assert_eq!(src("a {#- c -#} b"), "ab");
        assert_eq!(
            src("x {%- if true -%}\n y {%- endif %}"),
            "x{% if __kb(true) %}y{% endif %}"
        );
    }

    #[test]
    fn raw_blocks() {
        assert_eq!(src("{% raw %}{{ x }}{% endraw %}"), r#"{{ "{{ x }}" }}"#);
        let kept = prepare("{% raw %}a{% endraw %}", Mode::KeepRaw)
            .unwrap()
            .source;
        assert_eq!(kept, r#"{{ "{% raw %}" }}a{{ "{% endraw %}" }}"#);
        assert!(prepare("{% raw %}x", Mode::Text).is_err());
    }

    #[test]
    fn tags() {
        assert_eq!(src("{% elseif x %}"), r#"{% elif __kb(__ks("x", x)) %}"#);
        assert_eq!(
            src("{% for i in items %}"),
            r#"{% for i in __kiter(__ks("items", items)) %}"#
        );
        assert_eq!(src("{% set a = 1 %}"), "{% set a = 1 %}");
        assert!(prepare("{% include 'x' %}", Mode::Text).is_err());
        assert!(prepare("{% nope %}", Mode::Text).is_err());
    }

    #[test]
    fn typed_single_expression() {
        let p = prepare("{{ [1, 2] }}", Mode::Typed).unwrap();
        assert_eq!(p.source, "{% set __kite_result = [1, 2] %}");
        let p = prepare("x{{ 1 }}", Mode::Typed).unwrap();
        assert_eq!(p.source, "x{{ 1 }}");
    }

    #[test]
    fn lines_are_tracked() {
        let err = prepare("a\nb\n{{ x ? }}", Mode::Text).unwrap_err();
        assert_eq!(err.line(), 3);
        assert_eq!(err.expression(), "{{ x ? }}");
    }
}
