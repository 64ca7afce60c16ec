//! The `Storage` port: S3-shaped internal storage behind `kestra:///` URIs.
//!
//! Objects are addressed by a [`StorageKey`], a validated relative path such
//! as `company.team/my-flow/executions/<id>/tasks/<task>/<taskrun>/out.csv`
//! (the namespace is one segment, so keys are unambiguous);
//! its URI form is `kestra:///` followed by the key. Key validation is a
//! **security boundary**: keys end up as paths on local disk, so anything
//! that could escape the storage root (`..`, `.`, absolute paths, empty
//! segments, backslashes, NUL and other control characters) is rejected
//! before an implementation ever sees it.
//!
//! Semantics shared by every implementation:
//!
//! * `put*` replaces the whole object atomically: readers see the old or the
//!   new content, never a mix, and a crash never leaves a half object.
//! * `get`/`size` of a missing object fail with [`StorageError::NotFound`];
//!   `exists` and `delete` report absence as `false`.
//! * `list(prefix)` returns, sorted, every key *strictly below* the prefix
//!   "directory" (`a/b` lists `a/b/c` and `a/b/c/d`, not `a/bc`).
//! * Keys form a tree: a key cannot also be the directory of another key
//!   (`a/b` and `a/b/c` cannot coexist). S3 would allow it, local disk
//!   cannot, so the local implementations report
//!   [`StorageError::KeyConflict`] and Kite's key layout never needs it.
//! * Large objects stream: [`Storage::put_stream`], [`Storage::put_file`],
//!   [`Storage::open`] and [`Storage::get_to_file`] never hold a whole object
//!   in memory in the disk implementation.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use async_trait::async_trait;
use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncWriteExt};

/// The URI scheme prefix of internal storage.
pub const URI_PREFIX: &str = "kestra:///";
/// Longest key, in bytes (S3: 1024).
pub const MAX_KEY_BYTES: usize = 1024;
/// Longest key segment, in bytes (file systems: 255).
pub const MAX_SEGMENT_BYTES: usize = 255;

/// A validated, relative storage key: non-empty `/`-separated segments.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StorageKey(String);

impl StorageKey {
    /// Parses a key such as `ns/flow/file.txt` (no leading slash).
    pub fn new(key: impl Into<String>) -> Result<Self, StorageError> {
        let key = key.into();
        validate_key(&key)?;
        Ok(Self(key))
    }

    /// Builds a key from segments, each of which must be a valid segment.
    pub fn from_parts<I, S>(parts: I) -> Result<Self, StorageError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut key = String::new();
        for part in parts {
            let part = part.as_ref();
            validate_segment(part, part)?;
            if !key.is_empty() {
                key.push('/');
            }
            key.push_str(part);
        }
        Self::new(key)
    }

    /// This key with one more segment.
    pub fn join(&self, segment: &str) -> Result<Self, StorageError> {
        validate_segment(segment, segment)?;
        Self::new(format!("{}/{}", self.0, segment))
    }

    /// The key of a flow's folder: `<namespace>/<flow>`, the namespace as **one** segment
    /// (`company.team` + `etl` → `company.team/etl`).
    ///
    /// Neither a namespace nor a flow id may contain `/`, so the first segment of a key is
    /// always its namespace and the second its flow: no namespace and flow id can be chosen
    /// so that their folder equals, or lies inside, another flow's or execution's folder.
    /// (Kestra, and Kite before, turned the namespace's dots into folders, which made
    /// `a.b` + `c` and `a.b.c.executions` + `<id>` overlap; see [`Self::legacy_for_execution`].)
    pub fn for_flow(namespace: &str, flow_id: &str) -> Result<Self, StorageError> {
        Self::for_namespace(namespace)?.join(flow_id)
    }

    /// The folder of a namespace: `<namespace>` (one segment, dots kept).
    pub fn for_namespace(namespace: &str) -> Result<Self, StorageError> {
        if namespace.is_empty() || namespace.starts_with('_') {
            return Err(StorageError::InvalidKey {
                key: namespace.to_owned(),
                reason: "a namespace is not empty and does not start with `_` (reserved for Kite's own folders)".into(),
            });
        }
        Self::from_parts([namespace])
    }

    /// The folder of one execution:
    /// `<namespace>/<flow>/executions/<execution>`.
    pub fn for_execution(
        namespace: &str,
        flow_id: &str,
        execution_id: &str,
    ) -> Result<Self, StorageError> {
        Self::for_flow(namespace, flow_id)?
            .join("executions")?
            .join(execution_id)
    }

    /// The folder one execution had in the layout of earlier Kite versions (and Kestra):
    /// `<namespace with dots as folders>/<flow>/executions/<execution>`. Files written
    /// before the layout changed stay there; only reads of an execution's own (or its
    /// parents') files use this folder.
    pub fn legacy_for_execution(
        namespace: &str,
        flow_id: &str,
        execution_id: &str,
    ) -> Result<Self, StorageError> {
        if namespace.is_empty() {
            return Err(StorageError::InvalidKey {
                key: namespace.to_owned(),
                reason: "the namespace is empty".into(),
            });
        }
        Self::from_parts(
            namespace
                .split('.')
                .chain([flow_id, "executions", execution_id]),
        )
    }

    /// The namespace a key belongs to: its first segment, unless it is one of Kite's own
    /// folders (`_executions`, `_messages`, `_states`...).
    pub fn namespace(&self) -> Option<&str> {
        self.segments().next().filter(|s| !s.starts_with('_'))
    }

    /// A task run's output file:
    /// `<namespace>/<flow>/executions/<execution>/tasks/<task>/<taskrun>/<file>`.
    pub fn for_task_output(
        namespace: &str,
        flow_id: &str,
        execution_id: &str,
        task_id: &str,
        taskrun_id: &str,
        file_name: &str,
    ) -> Result<Self, StorageError> {
        Self::for_execution(namespace, flow_id, execution_id)?
            .join("tasks")?
            .join(task_id)?
            .join(taskrun_id)?
            .join(file_name)
    }

    /// Parses a `kestra:///...` URI; percent-escapes are decoded and the
    /// result is validated like any key (so `%2e%2e` is still rejected).
    pub fn parse_uri(uri: &str) -> Result<Self, StorageError> {
        let invalid = |reason: &str| StorageError::InvalidKey {
            key: uri.to_owned(),
            reason: reason.to_owned(),
        };
        let rest = uri
            .strip_prefix(URI_PREFIX)
            .ok_or_else(|| invalid("internal storage URIs start with `kestra:///`"))?;
        if rest.contains(['?', '#']) {
            return Err(invalid(
                "query strings and fragments are not allowed (percent-encode `?` and `#`)",
            ));
        }
        let segments = rest
            .split('/')
            .map(|raw| {
                let decoded = percent_decode(raw).ok_or_else(|| {
                    invalid("bad percent-encoding (expected %XX escapes of UTF-8 text)")
                })?;
                validate_segment(&decoded, uri)?;
                Ok(decoded)
            })
            .collect::<Result<Vec<_>, StorageError>>()?;
        let key = Self::from_parts(&segments).map_err(|err| match err {
            StorageError::InvalidKey { reason, .. } => StorageError::InvalidKey {
                key: uri.to_owned(),
                reason,
            },
            other => other,
        })?;
        Ok(key)
    }

    /// The `kestra:///...` URI of this key, percent-encoding anything outside
    /// the characters a URI path segment may hold.
    pub fn to_uri(&self) -> String {
        let mut uri = String::with_capacity(URI_PREFIX.len() + self.0.len());
        uri.push_str(URI_PREFIX);
        for (index, segment) in self.segments().enumerate() {
            if index > 0 {
                uri.push('/');
            }
            percent_encode_into(segment, &mut uri);
        }
        uri
    }

    /// The key as text (`a/b/c`).
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The segments of the key.
    pub fn segments(&self) -> impl Iterator<Item = &str> {
        self.0.split('/')
    }

    /// The last segment.
    pub fn file_name(&self) -> &str {
        self.0.rsplit('/').next().unwrap_or(&self.0)
    }

    /// The key without its last segment, if it has more than one.
    pub fn parent(&self) -> Option<Self> {
        self.0
            .rsplit_once('/')
            .map(|(parent, _)| Self(parent.to_owned()))
    }

    /// Whether `self` is strictly below the folder `prefix`.
    pub fn is_under(&self, prefix: &StorageKey) -> bool {
        self.0
            .strip_prefix(prefix.as_str())
            .is_some_and(|rest| rest.starts_with('/'))
    }
}

impl fmt::Display for StorageKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for StorageKey {
    type Err = StorageError;

    /// Accepts either a bare key or a `kestra:///` URI.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.starts_with("kestra:") {
            Self::parse_uri(s)
        } else {
            Self::new(s)
        }
    }
}

impl AsRef<str> for StorageKey {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

fn validate_key(key: &str) -> Result<(), StorageError> {
    let invalid = |reason: String| StorageError::InvalidKey {
        key: key.to_owned(),
        reason,
    };
    if key.is_empty() {
        return Err(invalid("the key is empty".into()));
    }
    if key.len() > MAX_KEY_BYTES {
        return Err(invalid(format!(
            "the key is {} bytes, over the {MAX_KEY_BYTES}-byte limit",
            key.len()
        )));
    }
    if key.starts_with('/') {
        return Err(invalid(
            "keys are relative: no leading `/` (use `kestra:///` URIs for absolute forms)".into(),
        ));
    }
    for segment in key.split('/') {
        validate_segment(segment, key)?;
    }
    Ok(())
}

fn validate_segment(segment: &str, key: &str) -> Result<(), StorageError> {
    let reason = if segment.is_empty() {
        "empty path segment (`//`, or a leading or trailing `/`)".to_owned()
    } else if segment == "." || segment == ".." {
        format!("`{segment}` segments are not allowed (path traversal)")
    } else if segment.contains('/') {
        "a segment cannot contain `/`".to_owned()
    } else if segment.contains('\\') {
        "backslashes are not allowed".to_owned()
    } else if segment.contains('\0') {
        "NUL bytes are not allowed".to_owned()
    } else if segment.chars().any(char::is_control) {
        "control characters are not allowed".to_owned()
    } else if segment.len() > MAX_SEGMENT_BYTES {
        format!("a segment is at most {MAX_SEGMENT_BYTES} bytes")
    } else {
        return Ok(());
    };
    Err(StorageError::InvalidKey {
        key: key.to_owned(),
        reason,
    })
}

fn percent_decode(raw: &str) -> Option<String> {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3)?;
            if !hex.iter().all(u8::is_ascii_hexdigit) {
                return None;
            }
            let hex = std::str::from_utf8(hex).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

fn percent_encode_into(segment: &str, out: &mut String) {
    for byte in segment.bytes() {
        let keep = byte.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@".contains(&byte);
        if keep {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
}

/// Storage failures; each names the key or local path involved.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StorageError {
    /// The key or URI is not acceptable (possibly a traversal attempt).
    #[error("invalid storage key `{key}`: {reason}")]
    InvalidKey {
        /// The key or URI as given.
        key: String,
        /// What is wrong.
        reason: String,
    },
    /// No object under this key.
    #[error("no object `{key}` in storage")]
    NotFound {
        /// The key.
        key: String,
    },
    /// The key collides with the folder of another key, or the reverse.
    #[error("storage key `{key}` conflicts with `{other}`: a key cannot also be a folder")]
    KeyConflict {
        /// The key being written.
        key: String,
        /// The existing key or folder in the way.
        other: String,
    },
    /// A local file given by the caller could not be read or written.
    #[error("cannot {operation} local file {path:?}: {source}")]
    LocalFile {
        /// The caller's file.
        path: PathBuf,
        /// What was being done.
        operation: &'static str,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// Reading the caller's stream failed.
    #[error("reading the stream to store as `{key}` failed: {source}")]
    Source {
        /// The key being written.
        key: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The backing store failed.
    #[error("storage backend failed during {operation} of `{key}`: {source}")]
    Backend {
        /// The key (or prefix).
        key: String,
        /// The operation that failed.
        operation: &'static str,
        /// The underlying error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

/// A readable object body.
pub type ObjectReader = Box<dyn AsyncRead + Send + Unpin>;

/// S3-shaped object storage. See the [module docs](self) for semantics.
#[async_trait]
pub trait Storage: Send + Sync + fmt::Debug {
    /// Stores `bytes` under `key`, replacing any previous object.
    async fn put(&self, key: &StorageKey, bytes: Bytes) -> Result<(), StorageError>;

    /// Stores everything `reader` yields under `key`; returns the size.
    async fn put_stream(
        &self,
        key: &StorageKey,
        reader: &mut (dyn AsyncRead + Send + Unpin),
    ) -> Result<u64, StorageError>;

    /// Stores the content of the local file `path` under `key`; returns the
    /// size.
    async fn put_file(&self, key: &StorageKey, path: &Path) -> Result<u64, StorageError> {
        let mut file =
            tokio::fs::File::open(path)
                .await
                .map_err(|source| StorageError::LocalFile {
                    path: path.to_owned(),
                    operation: "open",
                    source,
                })?;
        self.put_stream(key, &mut file).await
    }

    /// The whole object in memory (prefer [`Storage::open`] for big ones).
    async fn get(&self, key: &StorageKey) -> Result<Bytes, StorageError>;

    /// A stream over the object.
    async fn open(&self, key: &StorageKey) -> Result<ObjectReader, StorageError>;

    /// Writes the object to the local file `path` (created or truncated);
    /// returns the size.
    async fn get_to_file(&self, key: &StorageKey, path: &Path) -> Result<u64, StorageError> {
        let mut reader = self.open(key).await?;
        let local = |operation: &'static str| {
            move |source| StorageError::LocalFile {
                path: path.to_owned(),
                operation,
                source,
            }
        };
        let file = tokio::fs::File::create(path)
            .await
            .map_err(local("create"))?;
        let mut file = tokio::io::BufWriter::with_capacity(1 << 20, file);
        let size = tokio::io::copy(&mut reader, &mut file)
            .await
            .map_err(local("write"))?;
        file.flush().await.map_err(local("flush"))?;
        Ok(size)
    }

    /// The object's size in bytes.
    async fn size(&self, key: &StorageKey) -> Result<u64, StorageError>;

    /// Whether an object exists under `key`.
    async fn exists(&self, key: &StorageKey) -> Result<bool, StorageError>;

    /// Deletes the object; `false` if there was none.
    async fn delete(&self, key: &StorageKey) -> Result<bool, StorageError>;

    /// Every key strictly below the folder `prefix`, sorted.
    async fn list(&self, prefix: &StorageKey) -> Result<Vec<StorageKey>, StorageError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rejected(key: &str) -> bool {
        matches!(StorageKey::new(key), Err(StorageError::InvalidKey { .. }))
    }

    #[test]
    fn traversal_and_junk_are_rejected() {
        for bad in [
            "",
            "/etc/passwd",
            "..",
            "../x",
            "a/../../x",
            "a/./b",
            "a//b",
            "a/",
            "a\\..\\b",
            "a/b\0c",
            "a/\nb",
            "a/\u{7f}",
            &"x".repeat(256),
            &format!("{}/x", "a/".repeat(600)),
        ] {
            assert!(rejected(bad), "{bad:?} should be rejected");
        }
        assert!(StorageKey::from_parts(["a", "b/c"]).is_err());
        assert!(StorageKey::from_parts(["a", ".."]).is_err());
        assert!(StorageKey::from_parts(Vec::<&str>::new()).is_err());
        let key = StorageKey::new("a").expect("valid");
        assert!(key.join("..").is_err());
        assert!(key.join("").is_err());
    }

    #[test]
    fn odd_but_safe_keys_are_accepted() {
        for good in [
            "a",
            "a/b.c",
            "a..b",
            ".hidden",
            "...",
            "spa ce/ü/日本",
            "a:b@c",
        ] {
            assert!(StorageKey::new(good).is_ok(), "{good:?} should be accepted");
        }
    }

    /// Issue 8 item 7: with the namespace's dots as folders, `a.b.c.executions` + `X` was
    /// the folder of execution `X` of `a.b` + `c`, and `a.b` + `c` lay inside `a` + `b`.
    #[test]
    fn folders_of_different_flows_never_overlap() {
        let key = |r: Result<StorageKey, StorageError>| r.expect("valid parts");
        let victim = key(StorageKey::for_execution("a.b", "c", "X"));
        let pairs = [
            (
                key(StorageKey::for_flow("a.b.c.executions", "X")),
                victim.clone(),
            ),
            (
                key(StorageKey::for_flow("a.b", "c")),
                key(StorageKey::for_flow("a", "b")),
            ),
            (
                key(StorageKey::for_execution(
                    "a.b.c.executions.X",
                    "tasks",
                    "Y",
                )),
                victim.clone(),
            ),
            (
                key(StorageKey::for_execution("a", "b.c", "X")),
                key(StorageKey::for_execution("a.b", "c", "X")),
            ),
        ];
        for (one, other) in pairs {
            assert_ne!(one, other);
            assert!(!one.is_under(&other), "{one} lies inside {other}");
            assert!(!other.is_under(&one), "{other} lies inside {one}");
        }
        assert_eq!(victim.as_str(), "a.b/c/executions/X");
        assert_eq!(victim.namespace(), Some("a.b"));
        assert_eq!(
            key(StorageKey::legacy_for_execution("a.b", "c", "X")).as_str(),
            "a/b/c/executions/X"
        );
        assert_eq!(
            key(StorageKey::new("_executions/X/1.json")).namespace(),
            None
        );
        assert!(StorageKey::for_namespace("_executions").is_err());
    }

    #[test]
    fn uris_round_trip() {
        let key = StorageKey::for_task_output(
            "company.team",
            "etl",
            "4wjtkzwVGBM9yKnjm3yv8r",
            "extract",
            "5cJ4HQA6vqBd1dXRm8BKEv",
            "out file #1?.csv",
        )
        .expect("valid parts");
        assert_eq!(
            key.as_str(),
            "company.team/etl/executions/4wjtkzwVGBM9yKnjm3yv8r/tasks/extract/\
             5cJ4HQA6vqBd1dXRm8BKEv/out file #1?.csv"
        );
        let uri = key.to_uri();
        assert_eq!(
            uri,
            "kestra:///company.team/etl/executions/4wjtkzwVGBM9yKnjm3yv8r/tasks/extract/\
             5cJ4HQA6vqBd1dXRm8BKEv/out%20file%20%231%3F.csv"
        );
        assert_eq!(StorageKey::parse_uri(&uri).expect("round trip"), key);
        assert_eq!(uri.parse::<StorageKey>().expect("FromStr"), key);
        let unicode = StorageKey::new("ü/日本/100%").expect("valid");
        assert_eq!(
            StorageKey::parse_uri(&unicode.to_uri()).expect("round trip"),
            unicode
        );
        assert_eq!(key.file_name(), "out file #1?.csv");
        assert_eq!(
            StorageKey::new("a/b/c").expect("valid").parent(),
            Some(StorageKey::new("a/b").expect("valid"))
        );
    }

    #[test]
    fn bad_uris_are_rejected() {
        for bad in [
            "kestra://host/a",
            "kestra:/a",
            "s3:///a",
            "kestra:///",
            "kestra:////a",
            "kestra:///a/../b",
            "kestra:///a/%2e%2e/b",
            "kestra:///a/%2E%2E",
            "kestra:///a%2Fb",
            "kestra:///a%5Cb",
            "kestra:///a%00b",
            "kestra:///a/%zz",
            "kestra:///a/%f",
            "kestra:///a/%ff",
            "kestra:///a/%+1",
            "kestra:///a?b",
            "kestra:///a#b",
        ] {
            let err = StorageKey::parse_uri(bad).expect_err(bad);
            assert!(
                matches!(&err, StorageError::InvalidKey { key, .. } if key == bad),
                "{bad:?}: {err}"
            );
        }
    }

    #[test]
    fn prefixes_are_segment_aware() {
        let prefix = StorageKey::new("a/b").expect("valid");
        assert!(StorageKey::new("a/b/c").expect("valid").is_under(&prefix));
        assert!(!StorageKey::new("a/bc").expect("valid").is_under(&prefix));
        assert!(!prefix.is_under(&prefix));
    }

    #[test]
    fn the_namespace_is_one_segment() {
        assert_eq!(
            StorageKey::for_execution("io.kestra.tests", "hello", "x1")
                .expect("valid")
                .as_str(),
            "io.kestra.tests/hello/executions/x1"
        );
        assert!(StorageKey::for_flow("", "f").is_err());
        assert!(StorageKey::for_flow("..", "f").is_err());
        assert!(StorageKey::for_flow("_states", "f").is_err());
        assert!(StorageKey::for_flow("a/b", "f").is_err());
        assert!(StorageKey::for_flow("a", "..").is_err());
        assert!(StorageKey::legacy_for_execution("a..b", "f", "x").is_err());
    }
}
