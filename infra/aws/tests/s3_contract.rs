//! The `Storage` contract suite on [`S3Storage`] against the moto emulator (a fresh bucket
//! per fixture), plus multipart uploads and bucket management.
//!
//! Run with `cargo test -p kite-aws --features testing --test s3_contract`.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use kite_aws::{Clients, S3Storage, testing};
use kite_ports::contract::Fixture;
use kite_ports::{ManualClock, Storage, StorageError, StorageKey};
use tokio::io::{AsyncRead, AsyncReadExt, ReadBuf};

/// Clients with a fresh prefix and a storage on a new bucket `{prefix}storage`.
async fn storage() -> (Clients, S3Storage) {
    let clients = testing::clients().await;
    let bucket = clients.config.name("storage");
    S3Storage::create_bucket(&clients, &bucket)
        .await
        .expect("create bucket");
    let storage = S3Storage::new(&clients, bucket);
    (clients, storage)
}

mod contract {
    use super::*;

    kite_ports::storage_contract_tests!(|_clock: ManualClock| async move {
        let (_clients, storage) = storage().await;
        Fixture::new(Arc::new(storage) as Arc<dyn Storage>)
    });
}

const MIB: usize = 1024 * 1024;

/// Deterministic bytes: byte `i` of the stream is a function of `i`.
fn byte_at(i: u64) -> u8 {
    let x = i.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ (i >> 13);
    x.to_le_bytes()[3]
}

/// An `AsyncRead` of `len` pattern bytes that fails with an I/O error after `fail_at`
/// bytes, if set.
struct Pattern {
    offset: u64,
    len: u64,
    fail_at: Option<u64>,
}

impl AsyncRead for Pattern {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.fail_at.is_some_and(|at| self.offset >= at) {
            return Poll::Ready(Err(io::Error::other("the source broke")));
        }
        let left = usize::try_from(self.len - self.offset).unwrap_or(usize::MAX);
        let n = left.min(buf.remaining()).min(64 * 1024);
        let start = self.offset;
        let chunk: Vec<u8> = (0..n as u64).map(|i| byte_at(start + i)).collect();
        buf.put_slice(&chunk);
        self.offset += n as u64;
        Poll::Ready(Ok(()))
    }
}

fn key(k: &str) -> StorageKey {
    StorageKey::new(k).expect("valid key")
}

fn count(clients: &Clients, operation: &str) -> u64 {
    clients
        .metrics
        .snapshot()
        .requests
        .iter()
        .filter(|((_, op), _)| op == operation)
        .map(|(_, n)| n)
        .sum()
}

/// A 20 MiB stream goes up as a multipart upload of 8 MiB parts and comes back byte for
/// byte through a streaming read.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multipart_round_trip() {
    let (clients, storage) = storage().await;
    let len = (20 * MIB) as u64;
    let k = key("big/twenty.bin");
    let written = storage
        .put_stream(
            &k,
            &mut Pattern {
                offset: 0,
                len,
                fail_at: None,
            },
        )
        .await
        .expect("put_stream");
    assert_eq!(written, len);
    assert_eq!(count(&clients, "CreateMultipartUpload"), 1);
    assert_eq!(count(&clients, "UploadPart"), 3, "8 + 8 + 4 MiB");
    assert_eq!(count(&clients, "CompleteMultipartUpload"), 1);
    assert_eq!(storage.size(&k).await.expect("size"), len);

    let mut reader = storage.open(&k).await.expect("open");
    let mut buffer = vec![0u8; 256 * 1024];
    let mut offset = 0u64;
    loop {
        let n = reader.read(&mut buffer).await.expect("read");
        if n == 0 {
            break;
        }
        for (i, b) in buffer[..n].iter().enumerate() {
            assert_eq!(*b, byte_at(offset + i as u64), "byte {}", offset + i as u64);
        }
        offset += n as u64;
    }
    assert_eq!(offset, len);
}

/// A stream of exactly one part, and one under it, are single `PutObject`s.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn small_streams_are_single_puts() {
    let (clients, storage) = storage().await;
    for (name, len) in [("one-part", 8 * MIB), ("small", 1000)] {
        let k = key(&format!("streams/{name}"));
        let written = storage
            .put_stream(
                &k,
                &mut Pattern {
                    offset: 0,
                    len: len as u64,
                    fail_at: None,
                },
            )
            .await
            .expect("put_stream");
        assert_eq!(written, len as u64);
        let back = storage.get(&k).await.expect("get");
        assert_eq!(back.len(), len);
        assert!(
            back.iter()
                .enumerate()
                .all(|(i, b)| *b == byte_at(i as u64))
        );
    }
    assert_eq!(count(&clients, "CreateMultipartUpload"), 0);
    assert_eq!(count(&clients, "PutObject"), 2);
}

/// A source that fails in the middle of a multipart upload leaves no object and no
/// unfinished upload behind.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_stream_aborts_the_upload() {
    let (clients, storage) = storage().await;
    let k = key("broken/upload.bin");
    let result = storage
        .put_stream(
            &k,
            &mut Pattern {
                offset: 0,
                len: (30 * MIB) as u64,
                fail_at: Some((20 * MIB) as u64),
            },
        )
        .await;
    match result {
        Err(StorageError::Source { key, .. }) => assert_eq!(key, "broken/upload.bin"),
        other => panic!("a broken source should be a Source error, got {other:?}"),
    }
    assert!(!storage.exists(&k).await.expect("exists"));
    assert_eq!(count(&clients, "AbortMultipartUpload"), 1);
    let uploads = clients
        .s3
        .list_multipart_uploads()
        .bucket(storage.bucket())
        .send()
        .await
        .expect("list uploads");
    assert!(uploads.uploads().is_empty(), "{:?}", uploads.uploads());
}

/// Objects are stored under their key as is, in the given bucket.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn object_key_is_the_storage_key() {
    let (clients, storage) = storage().await;
    let k = StorageKey::parse_uri("kestra:///io/kestra/demo/f/a%20b.csv").expect("uri");
    storage
        .put(&k, Bytes::from_static(b"x"))
        .await
        .expect("put");
    let head = clients
        .s3
        .head_object()
        .bucket(storage.bucket())
        .key("io/kestra/demo/f/a b.csv")
        .send()
        .await
        .expect("the object is under the decoded key");
    assert_eq!(head.content_length, Some(1));
}

/// `create_bucket` is idempotent; `delete_bucket` empties and removes a bucket, and a
/// missing bucket is fine.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bucket_lifecycle() {
    let (clients, storage) = storage().await;
    let bucket = storage.bucket().to_owned();
    S3Storage::create_bucket(&clients, &bucket)
        .await
        .expect("creating again is fine");
    for i in 0..5 {
        storage
            .put(&key(&format!("a/{i}")), Bytes::from_static(b"x"))
            .await
            .expect("put");
    }
    clients
        .s3
        .create_multipart_upload()
        .bucket(&bucket)
        .key("a/unfinished")
        .send()
        .await
        .expect("start an upload");
    S3Storage::delete_bucket(&clients, &bucket)
        .await
        .expect("delete bucket");
    let gone = clients.s3.head_bucket().bucket(&bucket).send().await;
    assert!(gone.is_err(), "the bucket is gone");
    S3Storage::delete_bucket(&clients, &bucket)
        .await
        .expect("deleting a missing bucket is fine");
}
