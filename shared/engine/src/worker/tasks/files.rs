//! Working-directory file helpers shared by the script tasks and `storage.LocalFiles`:
//! writing `inputFiles` (inline content or `kestra://` URIs), collecting `outputFiles` by glob,
//! and the glob matcher itself (`*`, `**`, `?`, `[...]`, `{a,b}`, Java-glob-like).

use std::path::{Component, Path, PathBuf};

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::worker::{RunContext, TaskError};

/// A relative path inside the working directory, refusing absolute paths and `..`.
pub(crate) fn safe_relative(name: &str, what: &str) -> Result<PathBuf, TaskError> {
    let invalid = |why: &str| TaskError::new(format!("invalid {what} `{name}`: {why}"));
    if name.trim().is_empty() {
        return Err(invalid("the name is empty"));
    }
    if name.contains('\0') {
        return Err(invalid("NUL bytes are not allowed"));
    }
    let path = Path::new(name);
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::Normal(p) => out.push(p),
            Component::CurDir => {}
            Component::ParentDir => {
                return Err(invalid(
                    "`..` is not allowed (only paths inside the working directory)",
                ));
            }
            Component::RootDir | Component::Prefix(_) => {
                return Err(invalid(
                    "only relative paths inside the working directory are allowed",
                ));
            }
        }
    }
    if out.as_os_str().is_empty() {
        return Err(invalid("the name designates the working directory itself"));
    }
    Ok(out)
}

/// The `inputFiles`/`inputs` property as name → content, rendered: a map (values rendered;
/// `null` means an empty file) or a string rendering to a JSON object of such a map.
pub(crate) fn render_input_files(
    ctx: &RunContext,
    value: Option<&Value>,
    extra: &Map<String, Value>,
) -> Result<Vec<(String, String)>, TaskError> {
    let mut out = Vec::new();
    match value {
        None | Some(Value::Null) => {}
        Some(Value::Object(map)) => {
            for (name, content) in map {
                let name = ctx.render_with(name, extra)?;
                let content = match content {
                    Value::Null => String::new(),
                    Value::String(s) => ctx.render_with(s, extra)?,
                    other => serde_json::to_string(&ctx.render_value(other)?)
                        .map_err(|e| TaskError::new(e.to_string()))?,
                };
                out.push((name, content));
            }
        }
        Some(Value::String(s)) => {
            let rendered = ctx.render_with(s, extra)?;
            let parsed: Map<String, Value> = serde_json::from_str(&rendered).map_err(|e| {
                TaskError::new(format!("input files must be a map of file name to content, or a JSON string of one: {e}"))
            })?;
            for (name, content) in parsed {
                let content = match content {
                    Value::Null => String::new(),
                    Value::String(s) => s,
                    other => other.to_string(),
                };
                out.push((name, content));
            }
        }
        Some(other) => {
            return Err(TaskError::new(format!(
                "input files must be a map of file name to content, or a JSON string of one (got {other})"
            )));
        }
    }
    Ok(out)
}

/// Writes rendered input files into `dir`: a content starting with `kestra://` is copied from
/// internal storage, anything else is written as text. Returns the written paths.
pub(crate) async fn write_input_files(
    ctx: &RunContext,
    dir: &Path,
    files: &[(String, String)],
) -> Result<Vec<PathBuf>, TaskError> {
    let mut written = Vec::with_capacity(files.len());
    for (name, content) in files {
        let rel = safe_relative(name, "input file name")?;
        let path = dir.join(rel);
        if let Some(parent) = path.parent() {
            tokio::fs::create_dir_all(parent).await?;
        }
        if content.starts_with("kestra://") {
            let key = ctx.input_key(content)?;
            ctx.storage.get_to_file(&key, &path).await?;
        } else {
            tokio::fs::write(&path, content.as_bytes())
                .await
                .map_err(|e| TaskError::new(format!("cannot write input file `{name}`: {e}")))?;
        }
        written.push(path);
    }
    Ok(written)
}

/// A storage file name for a local file: a short hash of its relative path (so `a/x.txt`
/// and `b/x.txt` do not collide) and its base name, like Kestra's `<id>-<name>`.
pub(crate) fn unique_file_name(relative: &str) -> String {
    let digest = Sha256::digest(relative.as_bytes());
    let hash: String = digest.iter().take(5).map(|b| format!("{b:02x}")).collect();
    let base = relative.rsplit('/').next().unwrap_or(relative);
    let base: String = base
        .chars()
        .map(|c| if c.is_control() || c == '\\' { '_' } else { c })
        .collect();
    format!("{hash}-{base}")
}

/// Every regular file below `dir` (symbolic links are not followed), as `/`-separated
/// relative paths, sorted.
pub(crate) async fn list_files(dir: &Path) -> Result<Vec<String>, TaskError> {
    let dir = dir.to_owned();
    tokio::task::spawn_blocking(move || {
        let mut out = Vec::new();
        let mut stack = vec![(dir.clone(), String::new())];
        while let Some((abs, rel)) = stack.pop() {
            let entries = match std::fs::read_dir(&abs) {
                Ok(e) => e,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => {
                    return Err(TaskError::new(format!(
                        "cannot list {}: {e}",
                        abs.display()
                    )));
                }
            };
            for entry in entries {
                let entry = entry?;
                let kind = entry.file_type()?;
                let name = entry.file_name().to_string_lossy().into_owned();
                let child_rel = if rel.is_empty() {
                    name
                } else {
                    format!("{rel}/{name}")
                };
                if kind.is_dir() {
                    stack.push((entry.path(), child_rel));
                } else if kind.is_file() {
                    out.push(child_rel);
                }
            }
        }
        out.sort();
        Ok(out)
    })
    .await
    .map_err(|e| TaskError::new(format!("listing files failed: {e}")))?
}

/// Uploads the files of `dir` matching any of `globs` (relative to `dir`) as outputs of the
/// task run; returns relative path → `kestra:///` URI.
pub(crate) async fn upload_matching(
    ctx: &RunContext,
    dir: &Path,
    globs: &[String],
) -> Result<Map<String, Value>, TaskError> {
    let mut out = Map::new();
    if globs.is_empty() {
        return Ok(out);
    }
    let patterns = globs
        .iter()
        .map(|g| Glob::new(g))
        .collect::<Result<Vec<_>, _>>()?;
    for rel in list_files(dir).await? {
        if patterns.iter().any(|p| p.matches(&rel)) {
            let uri = ctx
                .put_output_file(&dir.join(&rel), &unique_file_name(&rel))
                .await?;
            out.insert(rel, Value::String(uri));
        }
    }
    Ok(out)
}

/// Uploads every file of `dir`; returns relative path → URI.
pub(crate) async fn upload_all(
    ctx: &RunContext,
    dir: &Path,
) -> Result<Map<String, Value>, TaskError> {
    let mut out = Map::new();
    for rel in list_files(dir).await? {
        let uri = ctx
            .put_output_file(&dir.join(&rel), &unique_file_name(&rel))
            .await?;
        out.insert(rel, Value::String(uri));
    }
    Ok(out)
}

/// A compiled glob: `*` (any characters but `/`), `**` (anything, and `**/` zero or more
/// folders), `?` (one character but `/`), `[abc]`/`[a-z]`/`[!x]`, `{a,b}` alternatives and
/// `\` escapes. Matched against the whole `/`-separated relative path.
#[derive(Debug, Clone)]
pub(crate) struct Glob {
    alternatives: Vec<Vec<Tok>>,
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Lit(char),
    Any,
    Star,
    DoubleStar,
    DoubleStarSlash,
    Class {
        negated: bool,
        items: Vec<(char, char)>,
    },
}

impl Glob {
    /// Compiles `pattern` (rejecting absolute paths and `..`).
    pub(crate) fn new(pattern: &str) -> Result<Self, TaskError> {
        let trimmed = pattern.trim();
        let p = trimmed.strip_prefix("./").unwrap_or(trimmed);
        if p.is_empty() {
            return Err(TaskError::new("empty output file pattern"));
        }
        if p.starts_with('/') || p.split('/').any(|s| s == "..") {
            return Err(TaskError::new(format!(
                "invalid output file pattern `{pattern}`: only relative paths inside the working directory are allowed"
            )));
        }
        let alternatives = expand_braces(p)?
            .iter()
            .map(|alt| tokenize(alt))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self { alternatives })
    }

    /// Whether `path` (relative, `/`-separated) matches.
    pub(crate) fn matches(&self, path: &str) -> bool {
        let chars: Vec<char> = path.chars().collect();
        self.alternatives.iter().any(|toks| {
            let mut failed = std::collections::HashSet::new();
            match_at(toks, 0, &chars, 0, &mut failed)
        })
    }
}

fn expand_braces(p: &str) -> Result<Vec<String>, TaskError> {
    let chars: Vec<char> = p.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            '\\' => i += 2,
            '{' => {
                let mut depth = 0;
                let mut parts = Vec::new();
                let mut start = i + 1;
                let mut j = i;
                while j < chars.len() {
                    match chars[j] {
                        '\\' => j += 1,
                        '{' => depth += 1,
                        '}' => {
                            depth -= 1;
                            if depth == 0 {
                                parts.push(chars[start..j].iter().collect::<String>());
                                break;
                            }
                        }
                        ',' if depth == 1 => {
                            parts.push(chars[start..j].iter().collect::<String>());
                            start = j + 1;
                        }
                        _ => {}
                    }
                    j += 1;
                }
                if j >= chars.len() {
                    return Err(TaskError::new(format!(
                        "invalid pattern `{p}`: unclosed `{{`"
                    )));
                }
                let prefix: String = chars[..i].iter().collect();
                let suffix: String = chars[j + 1..].iter().collect();
                let mut out = Vec::new();
                for part in parts {
                    out.extend(expand_braces(&format!("{prefix}{part}{suffix}"))?);
                }
                return Ok(out);
            }
            _ => i += 1,
        }
    }
    Ok(vec![p.to_owned()])
}

fn tokenize(p: &str) -> Result<Vec<Tok>, TaskError> {
    let chars: Vec<char> = p.chars().collect();
    let mut toks = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            '\\' => {
                let c = *chars.get(i + 1).ok_or_else(|| {
                    TaskError::new(format!("invalid pattern `{p}`: trailing `\\`"))
                })?;
                toks.push(Tok::Lit(c));
                i += 2;
            }
            '*' if chars.get(i + 1) == Some(&'*') => {
                let at_segment_start = i == 0 || chars[i - 1] == '/';
                if at_segment_start && chars.get(i + 2) == Some(&'/') {
                    toks.push(Tok::DoubleStarSlash);
                    i += 3;
                } else {
                    toks.push(Tok::DoubleStar);
                    i += 2;
                }
            }
            '*' => {
                toks.push(Tok::Star);
                i += 1;
            }
            '?' => {
                toks.push(Tok::Any);
                i += 1;
            }
            '[' => {
                let mut j = i + 1;
                let negated = matches!(chars.get(j), Some('!') | Some('^'));
                if negated {
                    j += 1;
                }
                let mut items = Vec::new();
                let mut first = true;
                while j < chars.len() && (chars[j] != ']' || first) {
                    first = false;
                    let lo = chars[j];
                    if chars.get(j + 1) == Some(&'-') && chars.get(j + 2).is_some_and(|c| *c != ']')
                    {
                        items.push((lo, chars[j + 2]));
                        j += 3;
                    } else {
                        items.push((lo, lo));
                        j += 1;
                    }
                }
                if j >= chars.len() {
                    return Err(TaskError::new(format!(
                        "invalid pattern `{p}`: unclosed `[`"
                    )));
                }
                toks.push(Tok::Class { negated, items });
                i = j + 1;
            }
            c => {
                toks.push(Tok::Lit(c));
                i += 1;
            }
        }
    }
    Ok(toks)
}

fn match_at(
    toks: &[Tok],
    ti: usize,
    s: &[char],
    si: usize,
    failed: &mut std::collections::HashSet<(usize, usize)>,
) -> bool {
    if failed.contains(&(ti, si)) {
        return false;
    }
    let result = match toks.get(ti) {
        None => si == s.len(),
        Some(Tok::Lit(c)) => s.get(si) == Some(c) && match_at(toks, ti + 1, s, si + 1, failed),
        Some(Tok::Any) => {
            s.get(si).is_some_and(|c| *c != '/') && match_at(toks, ti + 1, s, si + 1, failed)
        }
        Some(Tok::Class { negated, items }) => {
            s.get(si).is_some_and(|c| {
                *c != '/' && items.iter().any(|(lo, hi)| lo <= c && c <= hi) != *negated
            }) && match_at(toks, ti + 1, s, si + 1, failed)
        }
        Some(Tok::Star) => {
            let mut k = si;
            loop {
                if match_at(toks, ti + 1, s, k, failed) {
                    break true;
                }
                if k >= s.len() || s[k] == '/' {
                    break false;
                }
                k += 1;
            }
        }
        Some(Tok::DoubleStar) => (si..=s.len()).any(|k| match_at(toks, ti + 1, s, k, failed)),
        Some(Tok::DoubleStarSlash) => {
            // Zero folders, or any prefix ending with `/`.
            match_at(toks, ti + 1, s, si, failed)
                || (si..s.len()).any(|k| s[k] == '/' && match_at(toks, ti + 1, s, k + 1, failed))
        }
    };
    if !result {
        failed.insert((ti, si));
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(p: &str, s: &str) -> bool {
        Glob::new(p).unwrap().matches(s)
    }

    #[test]
    fn globs() {
        assert!(m("*.txt", "a.txt"));
        assert!(!m("*.txt", "d/a.txt"));
        assert!(m("**/*.txt", "a.txt"));
        assert!(m("**/*.txt", "d/e/a.txt"));
        assert!(m("sub/**", "sub/dir/x"));
        assert!(!m("sub/**", "other/x"));
        assert!(m("**", "a/b/c"));
        assert!(m("**.csv", "a/b.csv"));
        assert!(m("?.txt", "a.txt"));
        assert!(!m("?.txt", "ab.txt"));
        assert!(m("[a-c].txt", "b.txt"));
        assert!(!m("[!a-c].txt", "b.txt"));
        assert!(m("*.{csv,json}", "x.json"));
        assert!(m("./out.txt", "out.txt"));
        assert!(m("a\\*", "a*"));
        assert!(!m("a\\*", "ab"));
        assert!(Glob::new("../x").is_err());
        assert!(Glob::new("/etc/passwd").is_err());
    }

    #[test]
    fn relative_paths() {
        assert!(safe_relative("a/b.txt", "f").is_ok());
        assert!(safe_relative("../b.txt", "f").is_err());
        assert!(safe_relative("/b.txt", "f").is_err());
        assert!(safe_relative("a/../../b", "f").is_err());
        assert!(safe_relative(".", "f").is_err());
    }

    #[test]
    fn unique_names() {
        assert_ne!(unique_file_name("a/x.txt"), unique_file_name("b/x.txt"));
        assert!(unique_file_name("a/x.txt").ends_with("-x.txt"));
    }
}
