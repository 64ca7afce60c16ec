//! [`S3Storage`]: the [`Storage`] port on one Amazon S3 bucket.
//!
//! The object key is the [`StorageKey`]'s validated path (`company/team/flow/...`), used
//! as is: keys are never built from unvalidated text, so nothing outside the port's key
//! rules reaches the bucket. A folder is a key prefix ending in `/`.
//!
//! * `put` is one `PutObject` (atomic, as S3 writes always are).
//! * `put_stream` reads up to one part (8 MiB); a stream that ends within it is one
//!   `PutObject`, anything bigger a multipart upload of 8 MiB parts, aborted on any
//!   error (so no half object is ever visible and no parts are left behind). At most two
//!   parts are held in memory.
//! * `open` streams the body (`ByteStream::into_async_read`); `get_to_file` uses it.
//! * `size`, `exists` and `delete` use `HeadObject` (`delete` reports whether the object
//!   existed, then `DeleteObject`s it).
//! * `list` pages through `ListObjectsV2` under `folder/` and returns every key strictly
//!   below the folder, sorted. Keys in the bucket that are not valid storage keys (not
//!   written through this port) are skipped.
//!
//! moto answers a successful `CompleteMultipartUpload` under the wrong XML root element,
//! which the SDK refuses; such an answer (HTTP 200, moto's root, no error code) is taken as
//! the success it is. S3 itself never sends it.
//!
//! S3 lets a key also be the folder of another key (`a/b` and `a/b/c`); the local
//! implementations refuse it and Kite's key layout never needs it, so no check is made
//! here. [`S3Storage::create_bucket`] and [`S3Storage::delete_bucket`] serve `kite infra
//! up/down`.

use std::fmt;

use async_trait::async_trait;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::operation::list_objects_v2::ListObjectsV2Error;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    BucketLocationConstraint, CompletedMultipartUpload, CompletedPart, CreateBucketConfiguration,
    Delete, ObjectIdentifier,
};
use bytes::Bytes;
use kite_ports::storage::ObjectReader;
use kite_ports::{Storage, StorageError, StorageKey};
use tokio::io::{AsyncRead, AsyncReadExt};

use crate::config::Clients;
use crate::sqs::{Malformed, sdk};

/// The size of one multipart-upload part (and the largest single `PutObject` of
/// `put_stream`).
pub const PART_SIZE: usize = 8 * 1024 * 1024;

type HttpResponse = aws_smithy_runtime_api::http::Response;

/// The `Storage` port on one S3 bucket. Cheap to clone.
#[derive(Clone)]
pub struct S3Storage {
    client: aws_sdk_s3::Client,
    bucket: String,
}

impl fmt::Debug for S3Storage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("S3Storage")
            .field("bucket", &self.bucket)
            .finish_non_exhaustive()
    }
}

impl S3Storage {
    /// Storage in `bucket` (the full bucket name, e.g. `{prefix}storage`).
    pub fn new(clients: &Clients, bucket: impl Into<String>) -> Self {
        Self {
            client: clients.s3.clone(),
            bucket: bucket.into(),
        }
    }

    /// The bucket name.
    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// Creates `bucket` (idempotent: a bucket this account already owns is fine). In
    /// `us-east-1` without a location constraint, elsewhere with the client's region.
    pub async fn create_bucket(clients: &Clients, bucket: &str) -> Result<(), StorageError> {
        let region = clients.config.region.as_str();
        let mut request = clients.s3.create_bucket().bucket(bucket);
        if region != "us-east-1" {
            request = request.create_bucket_configuration(
                CreateBucketConfiguration::builder()
                    .location_constraint(BucketLocationConstraint::from(region))
                    .build(),
            );
        }
        match request.send().await {
            Ok(_) => Ok(()),
            Err(err) if err.code() == Some("BucketAlreadyOwnedByYou") => Ok(()),
            Err(err) => Err(backend(bucket, "create bucket", err)),
        }
    }

    /// Deletes `bucket` after emptying it (objects and unfinished multipart uploads); a
    /// missing bucket is fine. The bucket is assumed unversioned (Kite never enables
    /// versioning).
    pub async fn delete_bucket(clients: &Clients, bucket: &str) -> Result<(), StorageError> {
        let client = &clients.s3;
        let keys = match list_keys(client, bucket, None).await {
            Ok(keys) => keys,
            Err(err) if err.code() == Some("NoSuchBucket") => return Ok(()),
            Err(err) => return Err(backend(bucket, "list", err)),
        };
        for chunk in keys.chunks(1000) {
            let objects = chunk
                .iter()
                .map(|k| ObjectIdentifier::builder().key(k).build())
                .collect::<Result<Vec<_>, _>>()
                .map_err(|err| StorageError::Backend {
                    key: bucket.to_owned(),
                    operation: "delete objects",
                    source: Box::new(err),
                })?;
            let delete = Delete::builder()
                .set_objects(Some(objects))
                .quiet(true)
                .build()
                .map_err(|err| StorageError::Backend {
                    key: bucket.to_owned(),
                    operation: "delete objects",
                    source: Box::new(err),
                })?;
            let out = client
                .delete_objects()
                .bucket(bucket)
                .delete(delete)
                .send()
                .await
                .map_err(|err| backend(bucket, "delete objects", err))?;
            if let Some(failed) = out.errors().first() {
                return Err(StorageError::Backend {
                    key: failed.key().unwrap_or(bucket).to_owned(),
                    operation: "delete objects",
                    source: Box::new(Malformed("DeleteObjects refused an object")),
                });
            }
        }
        let (mut key_marker, mut upload_marker) = (None, None);
        loop {
            let uploads = client
                .list_multipart_uploads()
                .bucket(bucket)
                .set_key_marker(key_marker.take())
                .set_upload_id_marker(upload_marker.take())
                .send()
                .await
                .map_err(|err| backend(bucket, "list multipart uploads", err))?;
            for upload in uploads.uploads() {
                if let (Some(key), Some(id)) = (upload.key(), upload.upload_id()) {
                    client
                        .abort_multipart_upload()
                        .bucket(bucket)
                        .key(key)
                        .upload_id(id)
                        .send()
                        .await
                        .map_err(|err| backend(key, "abort multipart upload", err))?;
                }
            }
            if !uploads.is_truncated.unwrap_or(false) {
                break;
            }
            key_marker = uploads.next_key_marker;
            upload_marker = uploads.next_upload_id_marker;
            if key_marker.is_none() && upload_marker.is_none() {
                break;
            }
        }
        match client.delete_bucket().bucket(bucket).send().await {
            Ok(_) => Ok(()),
            Err(err) if err.code() == Some("NoSuchBucket") => Ok(()),
            Err(err) => Err(backend(bucket, "delete bucket", err)),
        }
    }

    async fn head(&self, key: &StorageKey) -> Result<Option<u64>, StorageError> {
        match self
            .client
            .head_object()
            .bucket(&self.bucket)
            .key(key.as_str())
            .send()
            .await
        {
            Ok(out) => Ok(Some(
                out.content_length
                    .and_then(|n| u64::try_from(n).ok())
                    .unwrap_or(0),
            )),
            Err(err) if is_not_found(&err) => Ok(None),
            Err(err) => Err(backend(key.as_str(), "head", err)),
        }
    }

    async fn get_object(
        &self,
        key: &StorageKey,
    ) -> Result<aws_sdk_s3::operation::get_object::GetObjectOutput, StorageError> {
        self.client
            .get_object()
            .bucket(&self.bucket)
            .key(key.as_str())
            .send()
            .await
            .map_err(|err| {
                if is_not_found(&err) {
                    not_found(key)
                } else {
                    backend(key.as_str(), "get", err)
                }
            })
    }

    async fn put_bytes(&self, key: &StorageKey, bytes: Bytes) -> Result<(), StorageError> {
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key.as_str())
            .body(ByteStream::from(bytes))
            .send()
            .await
            .map(drop)
            .map_err(|err| backend(key.as_str(), "put", err))
    }

    /// Uploads `first`, `second` and the rest of `reader` as a multipart upload.
    async fn multipart(
        &self,
        key: &StorageKey,
        first: Vec<u8>,
        second: Vec<u8>,
        reader: &mut (dyn AsyncRead + Send + Unpin),
    ) -> Result<u64, StorageError> {
        let created = self
            .client
            .create_multipart_upload()
            .bucket(&self.bucket)
            .key(key.as_str())
            .send()
            .await
            .map_err(|err| backend(key.as_str(), "create multipart upload", err))?;
        let upload_id = created.upload_id.ok_or_else(|| StorageError::Backend {
            key: key.to_string(),
            operation: "create multipart upload",
            source: Box::new(Malformed("CreateMultipartUpload without UploadId")),
        })?;
        let result = self
            .upload_parts(key, &upload_id, first, second, reader)
            .await;
        if result.is_err() {
            // Best effort: an upload left behind is invisible and S3 lifecycle rules (or
            // `delete_bucket`) remove it; the original error is the one that matters.
            let aborted = self
                .client
                .abort_multipart_upload()
                .bucket(&self.bucket)
                .key(key.as_str())
                .upload_id(&upload_id)
                .send()
                .await;
            if let Err(err) = aborted {
                tracing::warn!(key = %key, error = %sdk(err), "aborting a multipart upload failed");
            }
        }
        result
    }

    async fn upload_parts(
        &self,
        key: &StorageKey,
        upload_id: &str,
        first: Vec<u8>,
        second: Vec<u8>,
        reader: &mut (dyn AsyncRead + Send + Unpin),
    ) -> Result<u64, StorageError> {
        let mut parts = Vec::new();
        let mut total = 0u64;
        let mut current = first;
        let mut next = Some(second);
        let mut number = 1i32;
        loop {
            total += current.len() as u64;
            let out = self
                .client
                .upload_part()
                .bucket(&self.bucket)
                .key(key.as_str())
                .upload_id(upload_id)
                .part_number(number)
                .body(ByteStream::from(current))
                .send()
                .await
                .map_err(|err| backend(key.as_str(), "upload part", err))?;
            parts.push(
                CompletedPart::builder()
                    .set_e_tag(out.e_tag)
                    .part_number(number)
                    .build(),
            );
            number += 1;
            current = match next.take() {
                Some(chunk) => chunk,
                None => read_part(key, reader).await?,
            };
            if current.is_empty() {
                break;
            }
        }
        let completed = self
            .client
            .complete_multipart_upload()
            .bucket(&self.bucket)
            .key(key.as_str())
            .upload_id(upload_id)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(parts))
                    .build(),
            )
            .send()
            .await;
        match completed {
            Ok(_) => Ok(total),
            Err(err) if completed_with_moto_root(&err) => Ok(total),
            Err(err) => Err(backend(key.as_str(), "complete multipart upload", err)),
        }
    }
}

#[async_trait]
impl Storage for S3Storage {
    async fn put(&self, key: &StorageKey, bytes: Bytes) -> Result<(), StorageError> {
        self.put_bytes(key, bytes).await
    }

    async fn put_stream(
        &self,
        key: &StorageKey,
        reader: &mut (dyn AsyncRead + Send + Unpin),
    ) -> Result<u64, StorageError> {
        let first = read_part(key, reader).await?;
        if first.len() < PART_SIZE {
            let size = first.len() as u64;
            self.put_bytes(key, Bytes::from(first)).await?;
            return Ok(size);
        }
        let second = read_part(key, reader).await?;
        if second.is_empty() {
            let size = first.len() as u64;
            self.put_bytes(key, Bytes::from(first)).await?;
            return Ok(size);
        }
        self.multipart(key, first, second, reader).await
    }

    async fn get(&self, key: &StorageKey) -> Result<Bytes, StorageError> {
        let out = self.get_object(key).await?;
        out.body
            .collect()
            .await
            .map(|data| data.into_bytes())
            .map_err(|err| StorageError::Backend {
                key: key.to_string(),
                operation: "read",
                source: Box::new(err),
            })
    }

    async fn open(&self, key: &StorageKey) -> Result<ObjectReader, StorageError> {
        let out = self.get_object(key).await?;
        Ok(Box::new(Box::pin(out.body.into_async_read())))
    }

    async fn size(&self, key: &StorageKey) -> Result<u64, StorageError> {
        self.head(key).await?.ok_or_else(|| not_found(key))
    }

    async fn exists(&self, key: &StorageKey) -> Result<bool, StorageError> {
        Ok(self.head(key).await?.is_some())
    }

    async fn delete(&self, key: &StorageKey) -> Result<bool, StorageError> {
        if self.head(key).await?.is_none() {
            return Ok(false);
        }
        self.client
            .delete_object()
            .bucket(&self.bucket)
            .key(key.as_str())
            .send()
            .await
            .map_err(|err| backend(key.as_str(), "delete", err))?;
        Ok(true)
    }

    async fn list(&self, prefix: &StorageKey) -> Result<Vec<StorageKey>, StorageError> {
        let folder = format!("{prefix}/");
        let mut keys = Vec::new();
        let raw_keys = list_keys(&self.client, &self.bucket, Some(&folder))
            .await
            .map_err(|err| backend(prefix.as_str(), "list", err))?;
        for raw in raw_keys {
            match StorageKey::new(raw.as_str()) {
                Ok(key) if key.is_under(prefix) => keys.push(key),
                Ok(_) => {}
                Err(err) => {
                    tracing::warn!(bucket = %self.bucket, key = %raw, error = %err, "skipping an object whose key is not a storage key");
                }
            }
        }
        keys.sort();
        Ok(keys)
    }
}

/// Every key of `bucket` (under `prefix`), in S3's order.
async fn list_keys(
    client: &aws_sdk_s3::Client,
    bucket: &str,
    prefix: Option<&str>,
) -> Result<Vec<String>, SdkError<ListObjectsV2Error, HttpResponse>> {
    let mut keys = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let out = client
            .list_objects_v2()
            .bucket(bucket)
            .set_prefix(prefix.map(str::to_owned))
            .set_continuation_token(token.take())
            .send()
            .await?;
        keys.extend(
            out.contents()
                .iter()
                .filter_map(|o| o.key().map(str::to_owned)),
        );
        match out.next_continuation_token {
            Some(next) if out.is_truncated.unwrap_or(false) => token = Some(next),
            _ => return Ok(keys),
        }
    }
}

/// Reads up to [`PART_SIZE`] bytes (fewer only at the end of the stream).
async fn read_part(
    key: &StorageKey,
    reader: &mut (dyn AsyncRead + Send + Unpin),
) -> Result<Vec<u8>, StorageError> {
    let mut part = Vec::with_capacity(PART_SIZE);
    reader
        .take(PART_SIZE as u64)
        .read_to_end(&mut part)
        .await
        .map_err(|source| StorageError::Source {
            key: key.to_string(),
            source,
        })?;
    Ok(part)
}

/// moto (5.x) answers a successful `CompleteMultipartUpload` with the root element
/// `CompleteMultipartUploadResponse` instead of S3's `CompleteMultipartUploadResult`, which
/// the SDK refuses to parse. A 200 answer with that root is a success (S3 itself never
/// sends it; its in-band failures have an `Error` root and an error code).
fn completed_with_moto_root<E: ProvideErrorMetadata>(err: &SdkError<E, HttpResponse>) -> bool {
    err.code().is_none()
        && err.raw_response().is_some_and(|r| {
            r.status().is_success()
                && r.body()
                    .bytes()
                    .is_some_and(|body| body.windows(MOTO_ROOT.len()).any(|w| w == MOTO_ROOT))
        })
}

const MOTO_ROOT: &[u8] = b"<CompleteMultipartUploadResponse";

fn not_found(key: &StorageKey) -> StorageError {
    StorageError::NotFound {
        key: key.to_string(),
    }
}

/// An object that is not there (`NoSuchKey`, or a bodiless 404 of `HeadObject`); a
/// missing bucket is not a missing object.
fn is_not_found<E: ProvideErrorMetadata>(err: &SdkError<E, HttpResponse>) -> bool {
    match err.code() {
        Some("NoSuchKey" | "NotFound") => true,
        Some(_) => false,
        None => err
            .raw_response()
            .is_some_and(|r| r.status().as_u16() == 404),
    }
}

fn backend<E>(key: &str, operation: &'static str, err: SdkError<E, HttpResponse>) -> StorageError
where
    E: std::error::Error + Send + Sync + 'static,
{
    StorageError::Backend {
        key: key.to_owned(),
        operation,
        source: Box::new(sdk(err)),
    }
}
