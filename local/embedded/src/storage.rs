//! [`DiskStorage`]: the [`Storage`] port on a local directory.
//!
//! Layout under the root:
//!
//! * `objects/<key segments...>`: one regular file per object;
//! * `tmp/`: staging files, emptied when the storage is opened.
//!
//! Every write goes to a fresh file in `tmp/`, is fsynced, then renamed over
//! the target (same file system, so the rename is atomic) and the target's
//! folder is fsynced: readers see the old or the new object, and a crash
//! leaves at worst an orphan in `tmp/`, never a half object. Deleting the
//! last object of a folder removes the empty folders up to `objects/`, and a
//! write whose folder is pruned concurrently retries.
//!
//! Keys reach this module already validated by
//! [`StorageKey`] (no `..`, `.`, empty segments,
//! backslashes, NUL or control characters), so joining their segments under
//! `objects/` cannot escape it. Listing never follows symbolic links. The
//! root is assumed to belong to Kite alone.

use std::io;
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use bytes::Bytes;
use kite_ports::storage::{ObjectReader, Storage, StorageError, StorageKey};
use tokio::io::{AsyncRead, AsyncWriteExt};

/// How many times a write retries when a concurrent delete prunes its folder.
const INSTALL_ATTEMPTS: usize = 5;
/// Write buffer for streamed uploads.
const STREAM_BUFFER: usize = 1 << 20;

/// Objects as files under a root directory.
#[derive(Debug, Clone)]
pub struct DiskStorage {
    objects: PathBuf,
    tmp: PathBuf,
}

impl DiskStorage {
    /// Opens (creating if needed) storage under `root`, discarding staging
    /// files left by a crash. Open a root once per process (a second open
    /// would discard the first one's in-progress staging files); clones share
    /// it.
    pub async fn open(root: impl Into<PathBuf>) -> Result<Self, StorageError> {
        let root = root.into();
        let objects = root.join("objects");
        let tmp = root.join("tmp");
        let fail = |source: io::Error| StorageError::Backend {
            key: root.display().to_string(),
            operation: "open",
            source: Box::new(source),
        };
        tokio::fs::create_dir_all(&objects).await.map_err(fail)?;
        if tokio::fs::try_exists(&tmp).await.map_err(fail)? {
            tokio::fs::remove_dir_all(&tmp).await.map_err(fail)?;
        }
        tokio::fs::create_dir_all(&tmp).await.map_err(fail)?;
        Ok(Self { objects, tmp })
    }

    /// The directory holding the objects.
    pub fn objects_dir(&self) -> &Path {
        &self.objects
    }

    fn path_of(&self, key: &StorageKey) -> PathBuf {
        let mut path = self.objects.clone();
        path.extend(key.segments());
        path
    }

    fn staging_path(&self) -> PathBuf {
        self.tmp.join(uuid::Uuid::new_v4().simple().to_string())
    }

    /// The path of `key` if it is a regular file, else `NotFound`.
    async fn object_path(&self, key: &StorageKey) -> Result<PathBuf, StorageError> {
        let path = self.path_of(key);
        match tokio::fs::symlink_metadata(&path).await {
            Ok(meta) if meta.is_file() => Ok(path),
            Ok(_) => Err(not_found(key)),
            Err(err) if missing(&err) => Err(not_found(key)),
            Err(err) => Err(io_error(key, "stat", err)),
        }
    }

    /// Streams `reader` into a synced staging file; returns it and its size.
    async fn stage_stream(
        &self,
        key: &StorageKey,
        reader: &mut (dyn AsyncRead + Send + Unpin),
    ) -> Result<(PathBuf, u64), StorageError> {
        let staging = self.staging_path();
        let result = async {
            let file = tokio::fs::File::create(&staging)
                .await
                .map_err(|e| io_error(key, "create staging file", e))?;
            let mut writer = tokio::io::BufWriter::with_capacity(STREAM_BUFFER, file);
            let size = copy_stream(key, reader, &mut writer).await?;
            writer
                .flush()
                .await
                .map_err(|e| io_error(key, "write", e))?;
            writer
                .into_inner()
                .sync_all()
                .await
                .map_err(|e| io_error(key, "sync", e))?;
            Ok(size)
        }
        .await;
        match result {
            Ok(size) => Ok((staging, size)),
            Err(err) => {
                discard(&staging).await;
                Err(err)
            }
        }
    }

    /// Renames a synced staging file over the object, creating folders.
    async fn install(&self, key: &StorageKey, staging: &Path) -> Result<(), StorageError> {
        let result = self.install_inner(key, staging).await;
        if result.is_err() {
            discard(staging).await;
        }
        result
    }

    async fn install_inner(&self, key: &StorageKey, staging: &Path) -> Result<(), StorageError> {
        let target = self.path_of(key);
        let parent = target.parent().unwrap_or(&self.objects).to_owned();
        for attempt in 1..=INSTALL_ATTEMPTS {
            if let Err(err) = tokio::fs::create_dir_all(&parent).await {
                return Err(match self.blocking_ancestor(key).await {
                    Some(other) => conflict(key, other),
                    None => io_error(key, "create folder", err),
                });
            }
            if let Ok(meta) = tokio::fs::symlink_metadata(&target).await
                && meta.is_dir()
            {
                return Err(conflict(key, format!("{key}/")));
            }
            match tokio::fs::rename(staging, &target).await {
                Ok(()) => return sync_dir(key, &parent).await,
                // A concurrent delete pruned the (empty) folder: recreate it.
                Err(err) if missing(&err) && attempt < INSTALL_ATTEMPTS => {}
                Err(err) => return Err(io_error(key, "rename into place", err)),
            }
        }
        Err(io_error(
            key,
            "rename into place",
            io::Error::other("the folder kept disappearing"),
        ))
    }

    /// The nearest ancestor of `key` that exists as an object.
    async fn blocking_ancestor(&self, key: &StorageKey) -> Option<String> {
        let mut ancestor = key.parent();
        while let Some(folder) = ancestor {
            if let Ok(meta) = tokio::fs::symlink_metadata(self.path_of(&folder)).await
                && !meta.is_dir()
            {
                return Some(folder.to_string());
            }
            ancestor = folder.parent();
        }
        None
    }

    /// Removes empty folders from `dir` up to (not including) `objects/`.
    async fn prune(&self, mut dir: Option<&Path>) {
        while let Some(folder) = dir {
            if folder == self.objects || !folder.starts_with(&self.objects) {
                break;
            }
            if tokio::fs::remove_dir(folder).await.is_err() {
                break;
            }
            dir = folder.parent();
        }
    }
}

#[async_trait]
impl Storage for DiskStorage {
    async fn put(&self, key: &StorageKey, bytes: Bytes) -> Result<(), StorageError> {
        let staging = self.staging_path();
        let written = {
            let staging = staging.clone();
            tokio::task::spawn_blocking(move || -> io::Result<()> {
                use std::io::Write;
                let mut file = std::fs::File::create(&staging)?;
                file.write_all(&bytes)?;
                file.sync_all()
            })
            .await
        };
        match written {
            Ok(Ok(())) => self.install(key, &staging).await,
            Ok(Err(err)) => {
                discard(&staging).await;
                Err(io_error(key, "write", err))
            }
            Err(join) => {
                discard(&staging).await;
                Err(StorageError::Backend {
                    key: key.to_string(),
                    operation: "write",
                    source: Box::new(join),
                })
            }
        }
    }

    async fn put_stream(
        &self,
        key: &StorageKey,
        reader: &mut (dyn AsyncRead + Send + Unpin),
    ) -> Result<u64, StorageError> {
        let (staging, size) = self.stage_stream(key, reader).await?;
        self.install(key, &staging).await?;
        Ok(size)
    }

    async fn put_file(&self, key: &StorageKey, path: &Path) -> Result<u64, StorageError> {
        let local = |operation: &'static str| {
            move |source| StorageError::LocalFile {
                path: path.to_owned(),
                operation,
                source,
            }
        };
        let meta = tokio::fs::metadata(path).await.map_err(local("read"))?;
        if !meta.is_file() {
            return Err(local("read")(io::Error::other("not a regular file")));
        }
        let staging = self.staging_path();
        let copied = async {
            let size = tokio::fs::copy(path, &staging)
                .await
                .map_err(local("copy"))?;
            tokio::fs::File::open(&staging)
                .await
                .map_err(|e| io_error(key, "open staging file", e))?
                .sync_all()
                .await
                .map_err(|e| io_error(key, "sync", e))?;
            Ok(size)
        }
        .await;
        match copied {
            Ok(size) => {
                self.install(key, &staging).await?;
                Ok(size)
            }
            Err(err) => {
                discard(&staging).await;
                Err(err)
            }
        }
    }

    async fn get(&self, key: &StorageKey) -> Result<Bytes, StorageError> {
        let path = self.object_path(key).await?;
        match tokio::fs::read(&path).await {
            Ok(bytes) => Ok(Bytes::from(bytes)),
            Err(err) if missing(&err) => Err(not_found(key)),
            Err(err) => Err(io_error(key, "read", err)),
        }
    }

    async fn open(&self, key: &StorageKey) -> Result<ObjectReader, StorageError> {
        let path = self.object_path(key).await?;
        match tokio::fs::File::open(&path).await {
            Ok(file) => Ok(Box::new(file)),
            Err(err) if missing(&err) => Err(not_found(key)),
            Err(err) => Err(io_error(key, "open", err)),
        }
    }

    async fn get_to_file(&self, key: &StorageKey, path: &Path) -> Result<u64, StorageError> {
        let source = self.object_path(key).await?;
        match tokio::fs::copy(&source, path).await {
            Ok(size) => Ok(size),
            Err(err) => {
                if tokio::fs::try_exists(&source).await.ok() == Some(false) {
                    Err(not_found(key))
                } else {
                    Err(StorageError::LocalFile {
                        path: path.to_owned(),
                        operation: "write",
                        source: err,
                    })
                }
            }
        }
    }

    async fn size(&self, key: &StorageKey) -> Result<u64, StorageError> {
        let path = self.path_of(key);
        match tokio::fs::symlink_metadata(&path).await {
            Ok(meta) if meta.is_file() => Ok(meta.len()),
            Ok(_) => Err(not_found(key)),
            Err(err) if missing(&err) => Err(not_found(key)),
            Err(err) => Err(io_error(key, "stat", err)),
        }
    }

    async fn exists(&self, key: &StorageKey) -> Result<bool, StorageError> {
        match self.object_path(key).await {
            Ok(_) => Ok(true),
            Err(StorageError::NotFound { .. }) => Ok(false),
            Err(err) => Err(err),
        }
    }

    async fn delete(&self, key: &StorageKey) -> Result<bool, StorageError> {
        let path = match self.object_path(key).await {
            Ok(path) => path,
            Err(StorageError::NotFound { .. }) => return Ok(false),
            Err(err) => return Err(err),
        };
        match tokio::fs::remove_file(&path).await {
            Ok(()) => {
                self.prune(path.parent()).await;
                Ok(true)
            }
            Err(err) if missing(&err) => Ok(false),
            Err(err) => Err(io_error(key, "delete", err)),
        }
    }

    async fn list(&self, prefix: &StorageKey) -> Result<Vec<StorageKey>, StorageError> {
        let dir = self.path_of(prefix);
        let base: Vec<String> = prefix.segments().map(str::to_owned).collect();
        let listed = tokio::task::spawn_blocking(move || {
            let mut found = Vec::new();
            let mut segments = base;
            walk(&dir, &mut segments, &mut found).map(|()| found)
        })
        .await
        .map_err(|join| StorageError::Backend {
            key: prefix.to_string(),
            operation: "list",
            source: Box::new(join),
        })?;
        let mut keys = listed.map_err(|err| io_error(prefix, "list", err))?;
        keys.sort();
        Ok(keys)
    }
}

/// Collects the files below `dir` (whose key segments are `segments`).
/// Vanishing entries (concurrent deletes) are skipped; so are names that are
/// not valid keys (files not written by Kite).
fn walk(dir: &Path, segments: &mut Vec<String>, found: &mut Vec<StorageKey>) -> io::Result<()> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(err) if missing(&err) || err.kind() == io::ErrorKind::NotADirectory => return Ok(()),
        Err(err) => return Err(err),
    };
    for entry in entries {
        let entry = match entry {
            Ok(entry) => entry,
            Err(err) if missing(&err) => continue,
            Err(err) => return Err(err),
        };
        let Ok(name) = entry.file_name().into_string() else {
            continue;
        };
        let file_type = match entry.file_type() {
            Ok(file_type) => file_type,
            Err(err) if missing(&err) => continue,
            Err(err) => return Err(err),
        };
        segments.push(name);
        if file_type.is_dir() {
            walk(&entry.path(), segments, found)?;
        } else if file_type.is_file()
            && let Ok(key) = StorageKey::from_parts(segments.iter())
        {
            found.push(key);
        }
        segments.pop();
    }
    Ok(())
}

async fn copy_stream(
    key: &StorageKey,
    reader: &mut (dyn AsyncRead + Send + Unpin),
    writer: &mut (impl tokio::io::AsyncWrite + Unpin),
) -> Result<u64, StorageError> {
    use tokio::io::AsyncReadExt;
    let mut buffer = vec![0u8; 64 * 1024];
    let mut size = 0u64;
    loop {
        let n = reader
            .read(&mut buffer)
            .await
            .map_err(|source| StorageError::Source {
                key: key.to_string(),
                source,
            })?;
        if n == 0 {
            return Ok(size);
        }
        writer
            .write_all(&buffer[..n])
            .await
            .map_err(|e| io_error(key, "write", e))?;
        size += n as u64;
    }
}

/// fsyncs a folder so a rename into it survives a crash.
async fn sync_dir(key: &StorageKey, dir: &Path) -> Result<(), StorageError> {
    #[cfg(unix)]
    {
        tokio::fs::File::open(dir)
            .await
            .map_err(|e| io_error(key, "open folder", e))?
            .sync_all()
            .await
            .map_err(|e| io_error(key, "sync folder", e))?;
    }
    #[cfg(not(unix))]
    let _ = (key, dir);
    Ok(())
}

async fn discard(path: &Path) {
    // Best effort: an orphan staging file is removed at the next open.
    let _ = tokio::fs::remove_file(path).await;
}

fn missing(err: &io::Error) -> bool {
    err.kind() == io::ErrorKind::NotFound
}

fn not_found(key: &StorageKey) -> StorageError {
    StorageError::NotFound {
        key: key.to_string(),
    }
}

fn conflict(key: &StorageKey, other: String) -> StorageError {
    StorageError::KeyConflict {
        key: key.to_string(),
        other,
    }
}

fn io_error(key: &StorageKey, operation: &'static str, err: io::Error) -> StorageError {
    StorageError::Backend {
        key: key.to_string(),
        operation,
        source: Box::new(err),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(k: &str) -> StorageKey {
        StorageKey::new(k).expect("valid key")
    }

    #[tokio::test]
    async fn files_land_under_objects_and_tmp_is_cleaned() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(dir.path().join("tmp")).expect("mkdir");
        std::fs::write(dir.path().join("tmp/orphan"), b"half").expect("orphan");
        let storage = DiskStorage::open(dir.path()).await.expect("open");
        assert!(
            !dir.path().join("tmp/orphan").exists(),
            "crash leftovers are discarded"
        );
        storage
            .put(&key("ns/flow/file.txt"), Bytes::from_static(b"data"))
            .await
            .expect("put");
        assert_eq!(
            std::fs::read(dir.path().join("objects/ns/flow/file.txt")).expect("read"),
            b"data"
        );
        assert_eq!(
            std::fs::read_dir(dir.path().join("tmp"))
                .expect("tmp")
                .count(),
            0,
            "no staging file remains"
        );
        assert!(
            storage
                .delete(&key("ns/flow/file.txt"))
                .await
                .expect("delete")
        );
        assert!(
            !dir.path().join("objects/ns").exists(),
            "empty folders are pruned"
        );
        assert!(dir.path().join("objects").exists());
    }

    #[tokio::test]
    async fn keys_cannot_also_be_folders() {
        let dir = tempfile::tempdir().expect("tempdir");
        let storage = DiskStorage::open(dir.path()).await.expect("open");
        storage.put(&key("a/b"), Bytes::new()).await.expect("put");
        assert!(matches!(
            storage.put(&key("a/b/c"), Bytes::new()).await,
            Err(StorageError::KeyConflict { other, .. }) if other == "a/b"
        ));
        assert!(matches!(
            storage.put(&key("a"), Bytes::new()).await,
            Err(StorageError::KeyConflict { .. })
        ));
        assert_eq!(
            std::fs::read_dir(dir.path().join("tmp"))
                .expect("tmp")
                .count(),
            0,
            "failed writes leave no staging file"
        );
    }

    #[tokio::test]
    async fn listing_ignores_symlinks_and_foreign_names() {
        let dir = tempfile::tempdir().expect("tempdir");
        let outside = tempfile::tempdir().expect("outside");
        std::fs::write(outside.path().join("secret"), b"s").expect("secret");
        let storage = DiskStorage::open(dir.path()).await.expect("open");
        storage
            .put(&key("a/real"), Bytes::new())
            .await
            .expect("put");
        #[cfg(unix)]
        std::os::unix::fs::symlink(outside.path(), dir.path().join("objects/a/link"))
            .expect("symlink");
        std::fs::write(dir.path().join("objects/a/back\\slash"), b"x").expect("foreign");
        let listed = storage.list(&key("a")).await.expect("list");
        assert_eq!(listed, [key("a/real")]);
    }
}
