//! Contract cases of the [`Storage`] port.
//!
//! Key validation itself is pure and tested with [`StorageKey`]; these cases
//! check that implementations store, stream, list and delete faithfully, keep
//! odd-but-valid keys inside their root, and never expose half-written
//! objects.

use std::future::Future;
use std::io;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncReadExt, ReadBuf};

use super::{Fixture, run_cases};
use crate::clock::ManualClock;
use crate::storage::{Storage, StorageError, StorageKey};

/// Cases that need the implementation to take time from the
/// [`ManualClock`] (none: storage is timeless).
pub const TIME_TRAVEL: &[&str] = &[];

/// The cases of this suite, listed once: `__kite_storage_cases!([callback] args…)` expands to
/// `callback!(args… [case, …])`.
#[doc(hidden)]
#[macro_export]
macro_rules! __kite_storage_cases {
    ([$($callback:tt)*] $($args:tt)*) => {
        $($callback)*! { $($args)* [
            round_trip,
            overwrite_replaces,
            missing_objects,
            empty_object,
            list_by_prefix,
            unusual_keys_stay_inside,
            uri_keys,
            large_stream,
            put_file_and_get_to_file,
            concurrent_writers_never_mix,
            delete_then_reuse_folder,
        ] }
    };
}

/// The names of every case of this suite.
pub const CASES: &[&str] = crate::__kite_storage_cases!([crate::__kite_case_names]);

/// Runs every storage case, each on a fresh implementation from `make`.
pub async fn run_all<F, Fut>(make: F)
where
    F: Fn(ManualClock) -> Fut,
    Fut: Future<Output = Fixture<dyn Storage>>,
{
    crate::__kite_storage_cases!([run_cases] storage, make,);
}

fn key(k: &str) -> StorageKey {
    StorageKey::new(k).unwrap_or_else(|e| panic!("test key {k:?} is invalid: {e}"))
}

async fn put(s: &dyn Storage, k: &str, bytes: &[u8]) {
    s.put(&key(k), Bytes::copy_from_slice(bytes))
        .await
        .unwrap_or_else(|e| panic!("put {k} failed: {e}"));
}

async fn get(s: &dyn Storage, k: &str) -> Bytes {
    s.get(&key(k))
        .await
        .unwrap_or_else(|e| panic!("get {k} failed: {e}"))
}

async fn list(s: &dyn Storage, prefix: &str) -> Vec<String> {
    s.list(&key(prefix))
        .await
        .unwrap_or_else(|e| panic!("list {prefix} failed: {e}"))
        .into_iter()
        .map(|k| k.to_string())
        .collect()
}

/// Put, get, size, exists, delete.
pub async fn round_trip(s: Arc<dyn Storage>, _clock: ManualClock) {
    let s = &*s;
    let k = "company/team/flow/executions/e1/tasks/t1/r1/out.txt";
    put(s, k, b"hello world").await;
    assert_eq!(get(s, k).await, Bytes::from_static(b"hello world"));
    assert_eq!(s.size(&key(k)).await.ok(), Some(11));
    assert_eq!(s.exists(&key(k)).await.ok(), Some(true));
    let mut streamed = Vec::new();
    let mut reader = s
        .open(&key(k))
        .await
        .unwrap_or_else(|e| panic!("open failed: {e}"));
    reader
        .read_to_end(&mut streamed)
        .await
        .unwrap_or_else(|e| panic!("reading the stream failed: {e}"));
    assert_eq!(streamed, b"hello world");
    assert_eq!(s.delete(&key(k)).await.ok(), Some(true));
    assert_eq!(s.exists(&key(k)).await.ok(), Some(false));
    assert_eq!(
        s.delete(&key(k)).await.ok(),
        Some(false),
        "deleting a missing object reports false"
    );
}

/// A second put replaces the whole object (shorter content included).
pub async fn overwrite_replaces(s: Arc<dyn Storage>, _clock: ManualClock) {
    let s = &*s;
    put(s, "a/file", b"a much longer first version").await;
    put(s, "a/file", b"short").await;
    assert_eq!(get(s, "a/file").await, Bytes::from_static(b"short"));
    assert_eq!(s.size(&key("a/file")).await.ok(), Some(5));
    assert_eq!(list(s, "a").await, ["a/file"]);
}

/// Missing objects: `get`, `open` and `size` fail with `NotFound` naming the
/// key; `exists` is false; listing an unknown folder is empty.
pub async fn missing_objects(s: Arc<dyn Storage>, _clock: ManualClock) {
    let s = &*s;
    let k = key("no/such/object");
    let not_found = |result: Result<(), StorageError>, what: &str| match result {
        Err(StorageError::NotFound { key }) => assert_eq!(key, "no/such/object"),
        other => panic!("{what} of a missing object gave {other:?}"),
    };
    not_found(s.get(&k).await.map(drop), "get");
    not_found(s.open(&k).await.map(drop), "open");
    not_found(s.size(&k).await.map(drop), "size");
    assert_eq!(s.exists(&k).await.ok(), Some(false));
    assert!(list(s, "no").await.is_empty());
    put(s, "no/such/thing", b"x").await;
    assert_eq!(
        s.exists(&key("no/such")).await.ok(),
        Some(false),
        "a folder is not an object"
    );
    for (what, result) in [
        ("get", s.get(&key("no/such")).await.map(drop)),
        ("size", s.size(&key("no/such")).await.map(drop)),
    ] {
        match result {
            Err(StorageError::NotFound { key }) => assert_eq!(key, "no/such"),
            other => panic!("{what} of a folder gave {other:?}"),
        }
    }
    assert_eq!(
        s.delete(&key("no/such")).await.ok(),
        Some(false),
        "deleting a folder deletes nothing"
    );
    assert_eq!(list(s, "no").await, ["no/such/thing"]);
}

/// Zero-byte objects exist and read back empty.
pub async fn empty_object(s: Arc<dyn Storage>, _clock: ManualClock) {
    let s = &*s;
    put(s, "empty/one", b"").await;
    assert_eq!(s.exists(&key("empty/one")).await.ok(), Some(true));
    assert_eq!(s.size(&key("empty/one")).await.ok(), Some(0));
    assert!(get(s, "empty/one").await.is_empty());
    assert_eq!(list(s, "empty").await, ["empty/one"]);
}

/// `list` is recursive, sorted, segment-aware, and excludes the prefix
/// itself.
pub async fn list_by_prefix(s: Arc<dyn Storage>, _clock: ManualClock) {
    let s = &*s;
    for k in [
        "ns/flow/executions/e1/tasks/b/r/out",
        "ns/flow/executions/e1/tasks/a/r/out",
        "ns/flow/executions/e1/inputs/file",
        "ns/flow/executions/e10/tasks/a/r/out",
        "ns/flow2/x",
        "other/y",
    ] {
        put(s, k, k.as_bytes()).await;
    }
    assert_eq!(
        list(s, "ns/flow/executions/e1").await,
        [
            "ns/flow/executions/e1/inputs/file",
            "ns/flow/executions/e1/tasks/a/r/out",
            "ns/flow/executions/e1/tasks/b/r/out",
        ],
        "e1 does not list e10"
    );
    assert_eq!(
        list(s, "ns/flow").await.len(),
        4,
        "flow does not list flow2"
    );
    assert_eq!(list(s, "ns").await.len(), 5);
    assert!(
        list(s, "ns/flow/executions/e1/inputs/file")
            .await
            .is_empty()
    );
    assert!(list(s, "n").await.is_empty());
}

/// Keys that look odd but are valid (dots inside names, hidden names,
/// spaces, Unicode, URI punctuation) are stored as given and listed back
/// exactly.
pub async fn unusual_keys_stay_inside(s: Arc<dyn Storage>, _clock: ManualClock) {
    let s = &*s;
    let keys = [
        "odd/a..b",
        "odd/.hidden",
        "odd/...",
        "odd/with space",
        "odd/ünï/日本語.txt",
        "odd/%2e%2e",
        "odd/colon:at@sign",
    ];
    for k in keys {
        put(s, k, k.as_bytes()).await;
    }
    for k in keys {
        assert_eq!(get(s, k).await, Bytes::copy_from_slice(k.as_bytes()), "{k}");
    }
    let mut expected: Vec<String> = keys.iter().map(|k| (*k).to_owned()).collect();
    expected.sort();
    assert_eq!(list(s, "odd").await, expected);
}

/// Objects addressed by `kestra:///` URIs (with percent-escapes) round-trip.
pub async fn uri_keys(s: Arc<dyn Storage>, _clock: ManualClock) {
    let s = &*s;
    let k =
        StorageKey::for_task_output("io.kestra.demo", "etl", "exec1", "load", "run1", "a b.csv")
            .unwrap_or_else(|e| panic!("task output key: {e}"));
    s.put(&k, Bytes::from_static(b"x,y\n1,2\n"))
        .await
        .unwrap_or_else(|e| panic!("put failed: {e}"));
    let uri = k.to_uri();
    assert_eq!(
        uri,
        "kestra:///io.kestra.demo/etl/executions/exec1/tasks/load/run1/a%20b.csv"
    );
    let parsed = StorageKey::parse_uri(&uri).unwrap_or_else(|e| panic!("parse {uri}: {e}"));
    assert_eq!(
        s.get(&parsed).await.ok(),
        Some(Bytes::from_static(b"x,y\n1,2\n"))
    );
    let execution = StorageKey::for_execution("io.kestra.demo", "etl", "exec1")
        .unwrap_or_else(|e| panic!("execution key: {e}"));
    assert_eq!(
        s.list(&execution).await.ok().map(|keys| keys.len()),
        Some(1)
    );
}

const LARGE: u64 = 20 * 1024 * 1024 + 12_345;

/// A 20 MiB stream goes in through `put_stream` and comes back byte for byte
/// through `open` and `get_to_file`.
pub async fn large_stream(s: Arc<dyn Storage>, _clock: ManualClock) {
    let s = &*s;
    let k = key("big/stream.bin");
    let written = s
        .put_stream(&k, &mut Pattern::new(LARGE))
        .await
        .unwrap_or_else(|e| panic!("put_stream failed: {e}"));
    assert_eq!(written, LARGE);
    assert_eq!(s.size(&k).await.ok(), Some(LARGE));
    let mut reader = s
        .open(&k)
        .await
        .unwrap_or_else(|e| panic!("open failed: {e}"));
    assert_matches_pattern(&mut reader, LARGE, "open").await;

    let path = scratch_path("large");
    let copied = s
        .get_to_file(&k, &path)
        .await
        .unwrap_or_else(|e| panic!("get_to_file failed: {e}"));
    assert_eq!(copied, LARGE);
    let mut file = tokio::fs::File::open(&path)
        .await
        .unwrap_or_else(|e| panic!("open {path:?}: {e}"));
    assert_matches_pattern(&mut file, LARGE, "get_to_file").await;
    let _ = tokio::fs::remove_file(&path).await;
}

/// `put_file` uploads a local file, `get_to_file` downloads one; a missing
/// local file is a `LocalFile` error naming it.
pub async fn put_file_and_get_to_file(s: Arc<dyn Storage>, _clock: ManualClock) {
    let s = &*s;
    let source = scratch_path("source");
    let target = scratch_path("target");
    let content = b"line 1\nline 2\n".repeat(1000);
    tokio::fs::write(&source, &content)
        .await
        .unwrap_or_else(|e| panic!("writing {source:?}: {e}"));
    let k = key("files/upload.txt");
    assert_eq!(
        s.put_file(&k, &source).await.ok(),
        Some(content.len() as u64)
    );
    assert_eq!(
        s.get_to_file(&k, &target).await.ok(),
        Some(content.len() as u64)
    );
    let downloaded = tokio::fs::read(&target)
        .await
        .unwrap_or_else(|e| panic!("reading {target:?}: {e}"));
    assert!(downloaded == content, "the file round-trips");
    let _ = tokio::fs::remove_file(&source).await;
    let _ = tokio::fs::remove_file(&target).await;

    match s.put_file(&key("files/missing"), &source).await {
        Err(StorageError::LocalFile { path, .. }) => assert_eq!(path, source),
        other => panic!("uploading a missing file gave {other:?}"),
    }
    assert_eq!(s.exists(&key("files/missing")).await.ok(), Some(false));
    match s.get_to_file(&key("files/absent"), &target).await {
        Err(StorageError::NotFound { .. }) => {}
        other => panic!("downloading a missing object gave {other:?}"),
    }
}

/// Concurrent writers of one key and a concurrent reader: every read sees one
/// complete version, never a mix or a truncated object.
pub async fn concurrent_writers_never_mix(s: Arc<dyn Storage>, _clock: ManualClock) {
    const SIZE: usize = 256 * 1024;
    let k = key("race/object");
    let mut tasks = Vec::new();
    for writer in 0..6u8 {
        let (s, k) = (Arc::clone(&s), k.clone());
        tasks.push(tokio::spawn(async move {
            for _ in 0..3 {
                s.put(&k, Bytes::from(vec![b'a' + writer; SIZE]))
                    .await
                    .unwrap_or_else(|e| panic!("put failed: {e}"));
            }
        }));
    }
    let reader = {
        let (s, k) = (Arc::clone(&s), k.clone());
        tokio::spawn(async move {
            for _ in 0..30 {
                match s.get(&k).await {
                    Ok(bytes) => check_uniform(&bytes, SIZE),
                    Err(StorageError::NotFound { .. }) => {}
                    Err(e) => panic!("get failed: {e}"),
                }
                tokio::task::yield_now().await;
            }
        })
    };
    for task in tasks {
        task.await.unwrap_or_else(|e| panic!("writer failed: {e}"));
    }
    reader
        .await
        .unwrap_or_else(|e| panic!("reader failed: {e}"));
    check_uniform(&get(&*s, "race/object").await, SIZE);
    assert_eq!(list(&*s, "race").await, ["race/object"], "no leftovers");
}

/// Deleting the last object of a folder leaves nothing listed, and the
/// folder's name can then be used as an object key.
pub async fn delete_then_reuse_folder(s: Arc<dyn Storage>, _clock: ManualClock) {
    let s = &*s;
    put(s, "tree/a/b/c", b"1").await;
    put(s, "tree/a/b/d", b"2").await;
    assert_eq!(s.delete(&key("tree/a/b/c")).await.ok(), Some(true));
    assert_eq!(list(s, "tree").await, ["tree/a/b/d"]);
    assert_eq!(s.delete(&key("tree/a/b/d")).await.ok(), Some(true));
    assert!(list(s, "tree").await.is_empty());
    put(s, "tree/a/b", b"now a file").await;
    assert_eq!(get(s, "tree/a/b").await, Bytes::from_static(b"now a file"));
    assert_eq!(list(s, "tree").await, ["tree/a/b"]);
}

fn check_uniform(bytes: &[u8], size: usize) {
    assert_eq!(bytes.len(), size, "a read saw a truncated object");
    let first = bytes.first().copied().unwrap_or_default();
    assert!(
        bytes.iter().all(|b| *b == first),
        "a read saw a mix of two writes"
    );
}

fn scratch_path(what: &str) -> PathBuf {
    std::env::temp_dir().join(format!(
        "kite-storage-contract-{what}-{}",
        uuid::Uuid::new_v4().simple()
    ))
}

const BLOCK: usize = 64 * 1024;

/// One 64 KiB block of pseudo-random bytes; block `n` of the pattern is this
/// block rotated by a shift depending on `n`, so misplaced or repeated
/// blocks are caught while expected bytes are built with slice copies.
fn base_block() -> &'static [u8] {
    static BASE: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    BASE.get_or_init(|| {
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        (0..BLOCK)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state.to_le_bytes()[0]
            })
            .collect()
    })
}

/// Fills `out` with the pattern bytes starting at `offset`.
fn fill_pattern(mut offset: u64, mut out: &mut [u8]) {
    let base = base_block();
    let block_len = BLOCK as u64;
    while !out.is_empty() {
        let block = offset / block_len;
        let within = usize::try_from(offset % block_len).unwrap_or(0);
        let shift = usize::try_from(block.wrapping_mul(7919) % block_len).unwrap_or(0);
        let start = (within + shift) % BLOCK;
        let n = out.len().min(BLOCK - within).min(BLOCK - start);
        out[..n].copy_from_slice(&base[start..start + n]);
        out = &mut out[n..];
        offset += n as u64;
    }
}

async fn assert_matches_pattern(reader: &mut (dyn AsyncRead + Send + Unpin), len: u64, what: &str) {
    let mut buffer = vec![0u8; BLOCK];
    let mut expected = vec![0u8; BLOCK];
    let mut offset = 0u64;
    loop {
        let n = reader
            .read(&mut buffer)
            .await
            .unwrap_or_else(|e| panic!("{what}: read failed at {offset}: {e}"));
        if n == 0 {
            break;
        }
        fill_pattern(offset, &mut expected[..n]);
        assert!(
            buffer[..n] == expected[..n],
            "{what}: bytes {offset}..{} differ from what was written",
            offset + n as u64
        );
        offset += n as u64;
    }
    assert_eq!(offset, len, "{what}: length differs");
}

/// An `AsyncRead` yielding `len` deterministic bytes without holding them.
#[derive(Debug)]
struct Pattern {
    offset: u64,
    len: u64,
}

impl Pattern {
    fn new(len: u64) -> Self {
        Self { offset: 0, len }
    }
}

impl AsyncRead for Pattern {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let left = usize::try_from(self.len - self.offset).unwrap_or(usize::MAX);
        let n = left.min(buf.remaining()).min(BLOCK);
        let mut chunk = vec![0u8; n];
        fill_pattern(self.offset, &mut chunk);
        buf.put_slice(&chunk);
        self.offset += n as u64;
        Poll::Ready(Ok(()))
    }
}
