//! A small SQL scanner: splits a script into statements at top-level `;` and, for
//! PostgreSQL, turns named `:name` placeholders into `$n`.
//!
//! Skipped while scanning: string literals (`'...'`; PostgreSQL's `E'...'` with backslash
//! escapes), quoted identifiers (`"..."`; SQLite's `` `...` `` and `[...]`), dollar-quoted
//! bodies (`$$...$$`, `$tag$...$tag$`, PostgreSQL), line comments and block comments
//! (nested in PostgreSQL) and `::` casts. A SQLite `CREATE [TEMP] TRIGGER` ends at
//! `END;` only, as in SQLite's own `sqlite3_complete`.
//!
//! A placeholder is a `:` followed by a letter or `_`, not preceded by `:`; an array slice
//! with a column bound (`arr[lo:hi]`) reads as one, so write it `arr[lo : hi]` when a query
//! has `parameters`.

use kite_flow::tasks::jdbc::Dialect;

/// One statement of a script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Statement {
    /// The statement, placeholders rewritten as `$1`, `$2`... when asked.
    pub text: String,
    /// The `:name` placeholder names, in `$n` order (each name once).
    pub names: Vec<String>,
}

/// Splits `sql` into its non-empty statements; with `rewrite`, `:name` placeholders become
/// `$n` (numbered per statement).
pub(crate) fn split(sql: &str, dialect: Dialect, rewrite: bool) -> Vec<Statement> {
    let pg = dialect == Dialect::Postgres;
    let chars: Vec<char> = sql.chars().collect();
    let n = chars.len();
    let mut out = Vec::new();
    let mut st = Current::default();
    let mut i = 0;
    let ident_char = |c: char| c.is_alphanumeric() || c == '_' || c == '$';
    while i < n {
        let c = chars[i];
        let prev = if i > 0 { Some(chars[i - 1]) } else { None };
        if !(c.is_alphanumeric() || c == '_') {
            st.end_word();
        }
        let skip_to = match c {
            '\'' => {
                let escapes =
                    pg && matches!(prev, Some('E' | 'e')) && !(i >= 2 && ident_char(chars[i - 2]));
                Some(scan_quoted(&chars, i, '\'', escapes))
            }
            '"' => Some(scan_quoted(&chars, i, '"', false)),
            '`' if !pg => Some(scan_quoted(&chars, i, '`', false)),
            '[' if !pg => Some(
                chars[i..]
                    .iter()
                    .position(|&c| c == ']')
                    .map_or(n, |p| i + p + 1),
            ),
            '$' if pg && !prev.is_some_and(ident_char) => dollar_tag(&chars, i).map(|len| {
                let tag = &chars[i..i + len];
                (i + len..n)
                    .find(|&j| j + len <= n && chars[j..j + len] == *tag)
                    .map_or(n, |j| j + len)
            }),
            _ => None,
        };
        if let Some(end) = skip_to {
            st.text.extend(&chars[i..end]);
            st.meaningful = true;
            i = end;
            continue;
        }
        match c {
            '-' if chars.get(i + 1) == Some(&'-') => {
                let end = chars[i..]
                    .iter()
                    .position(|&c| c == '\n')
                    .map_or(n, |p| i + p);
                st.text.extend(&chars[i..end]);
                i = end;
            }
            '/' if chars.get(i + 1) == Some(&'*') => {
                let end = scan_block_comment(&chars, i, pg);
                st.text.extend(&chars[i..end]);
                i = end;
            }
            ':' if pg && chars.get(i + 1) == Some(&':') => {
                st.text.push_str("::");
                st.meaningful = true;
                i += 2;
            }
            ':' if prev != Some(':')
                && chars
                    .get(i + 1)
                    .is_some_and(|&c| c.is_alphabetic() || c == '_') =>
            {
                let start = i + 1;
                let end = chars[start..]
                    .iter()
                    .position(|&c| !(c.is_alphanumeric() || c == '_'))
                    .map_or(n, |p| start + p);
                let name: String = chars[start..end].iter().collect();
                let idx = match st.names.iter().position(|x| *x == name) {
                    Some(p) => p + 1,
                    None => {
                        st.names.push(name);
                        st.names.len()
                    }
                };
                if rewrite {
                    st.text.push_str(&format!("${idx}"));
                } else {
                    st.text.extend(&chars[i..end]);
                }
                st.meaningful = true;
                i = end;
            }
            ';' if pg || !st.in_open_trigger() => {
                if st.meaningful {
                    out.push(st.finish());
                }
                st = Current::default();
                i += 1;
            }
            _ => {
                if !c.is_whitespace() {
                    st.meaningful = true;
                }
                if c.is_alphanumeric() || c == '_' {
                    st.word.push(c);
                }
                st.text.push(c);
                i += 1;
            }
        }
    }
    st.end_word();
    if st.meaningful {
        out.push(st.finish());
    }
    out
}

/// The statement being scanned.
#[derive(Debug, Default)]
struct Current {
    text: String,
    names: Vec<String>,
    meaningful: bool,
    /// The word being read, its first three words, and the last complete one (upper-case).
    word: String,
    first: Vec<String>,
    last: String,
}

impl Current {
    fn end_word(&mut self) {
        if self.word.is_empty() {
            return;
        }
        let w = std::mem::take(&mut self.word).to_uppercase();
        if self.first.len() < 3 {
            self.first.push(w.clone());
        }
        self.last = w;
    }

    /// A `CREATE [TEMP] TRIGGER` not yet closed by `END` (a `;` inside it does not end it).
    fn in_open_trigger(&self) -> bool {
        let f: Vec<&str> = self.first.iter().map(String::as_str).collect();
        let trigger = matches!(
            f.as_slice(),
            ["CREATE", "TRIGGER", ..] | ["CREATE", "TEMP" | "TEMPORARY", "TRIGGER"]
        );
        trigger && self.last != "END"
    }

    fn finish(self) -> Statement {
        Statement {
            text: self.text.trim().to_owned(),
            names: self.names,
        }
    }
}

/// The end (exclusive) of the quoted text opening at `start` (an unterminated one runs to
/// the end; the database reports it).
fn scan_quoted(chars: &[char], start: usize, quote: char, backslash: bool) -> usize {
    let mut i = start + 1;
    while i < chars.len() {
        let c = chars[i];
        if backslash && c == '\\' {
            i += 2;
            continue;
        }
        if c == quote {
            if chars.get(i + 1) == Some(&quote) {
                i += 2;
                continue;
            }
            return i + 1;
        }
        i += 1;
    }
    chars.len()
}

fn scan_block_comment(chars: &[char], start: usize, nested: bool) -> usize {
    let mut depth = 0usize;
    let mut i = start;
    while i < chars.len() {
        if chars[i] == '/' && chars.get(i + 1) == Some(&'*') && (nested || depth == 0) {
            depth += 1;
            i += 2;
        } else if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
            depth -= 1;
            i += 2;
            if depth == 0 {
                return i;
            }
        } else {
            i += 1;
        }
    }
    chars.len()
}

/// The length of the dollar-quote tag (`$$`, `$tag$`) at `start`, if it is one.
fn dollar_tag(chars: &[char], start: usize) -> Option<usize> {
    let first = *chars.get(start + 1)?;
    if !(first.is_alphabetic() || first == '_' || first == '$') {
        return None;
    }
    let mut i = start + 1;
    while i < chars.len() {
        let c = chars[i];
        if c == '$' {
            return Some(i + 1 - start);
        }
        if !(c.is_alphanumeric() || c == '_') {
            return None;
        }
        i += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(sql: &str, dialect: Dialect) -> Vec<String> {
        split(sql, dialect, true)
            .into_iter()
            .map(|s| s.text)
            .collect()
    }

    #[test]
    fn splits_at_top_level_semicolons_only() {
        let pg = Dialect::Postgres;
        assert_eq!(
            texts(
                "create table t(a text); insert into t values ('x;y'); -- c;\n",
                pg
            ),
            vec!["create table t(a text)", "insert into t values ('x;y')"]
        );
        assert_eq!(
            texts(
                "do $body$ begin perform 1; end $body$; select \"a;b\" from t /* ; /* ; */ */",
                pg
            ),
            vec![
                "do $body$ begin perform 1; end $body$",
                "select \"a;b\" from t /* ; /* ; */ */"
            ]
        );
        assert_eq!(texts(" ; -- only a comment\n;", pg), Vec::<String>::new());
        assert_eq!(texts("select E'it\\'s;' ;", pg), vec!["select E'it\\'s;'"]);
    }

    #[test]
    fn sqlite_quotes_and_triggers() {
        let lite = Dialect::Sqlite;
        assert_eq!(
            texts(
                "select [a;b], `c;d` from t; create temp trigger tr after insert on t begin \
                 update t set n = n + 1; delete from u; end; select 'e\\';",
                lite
            ),
            vec![
                "select [a;b], `c;d` from t",
                "create temp trigger tr after insert on t begin update t set n = n + 1; delete from u; end",
                "select 'e\\'"
            ]
        );
    }

    #[test]
    fn rewrites_named_placeholders() {
        let s = split(
            "select :a::int, ':b', $1x, :a, :c_2 -- :d\n from t where x = ':e'",
            Dialect::Postgres,
            true,
        );
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].names, vec!["a", "c_2"]);
        assert_eq!(
            s[0].text,
            "select $1::int, ':b', $1x, $1, $2 -- :d\n from t where x = ':e'"
        );
        let kept = split("select arr[1:2], :x", Dialect::Postgres, false);
        assert_eq!(kept[0].names, vec!["x"]);
        assert_eq!(kept[0].text, "select arr[1:2], :x");
    }
}
