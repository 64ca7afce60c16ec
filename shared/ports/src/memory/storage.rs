//! [`MemoryStorage`]: the in-memory twin of the [`Storage`] port.

use std::collections::BTreeMap;
use std::io::Cursor;
use std::sync::Mutex;

use async_trait::async_trait;
use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncReadExt};

use super::lock;
use crate::storage::{ObjectReader, Storage, StorageError, StorageKey};

/// Objects in a sorted map. Enforces the same key-tree rule as local disk
/// (a key cannot also be a folder) so code tested here works there.
#[derive(Debug, Default)]
pub struct MemoryStorage {
    objects: Mutex<BTreeMap<String, Bytes>>,
}

impl MemoryStorage {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn object(&self, key: &StorageKey) -> Result<Bytes, StorageError> {
        lock(&self.objects)
            .get(key.as_str())
            .cloned()
            .ok_or_else(|| StorageError::NotFound {
                key: key.to_string(),
            })
    }
}

#[async_trait]
impl Storage for MemoryStorage {
    async fn put(&self, key: &StorageKey, bytes: Bytes) -> Result<(), StorageError> {
        let mut objects = lock(&self.objects);
        let conflict = |other: &str| StorageError::KeyConflict {
            key: key.to_string(),
            other: other.to_owned(),
        };
        let mut ancestor = key.parent();
        while let Some(folder) = ancestor {
            if objects.contains_key(folder.as_str()) {
                return Err(conflict(folder.as_str()));
            }
            ancestor = folder.parent();
        }
        let folder = format!("{key}/");
        if let Some((child, _)) = objects.range(folder.clone()..).next()
            && child.starts_with(&folder)
        {
            return Err(conflict(child));
        }
        objects.insert(key.to_string(), bytes);
        Ok(())
    }

    async fn put_stream(
        &self,
        key: &StorageKey,
        reader: &mut (dyn AsyncRead + Send + Unpin),
    ) -> Result<u64, StorageError> {
        let mut buffer = Vec::new();
        reader
            .read_to_end(&mut buffer)
            .await
            .map_err(|source| StorageError::Source {
                key: key.to_string(),
                source,
            })?;
        let size = buffer.len() as u64;
        self.put(key, Bytes::from(buffer)).await?;
        Ok(size)
    }

    async fn get(&self, key: &StorageKey) -> Result<Bytes, StorageError> {
        self.object(key)
    }

    async fn open(&self, key: &StorageKey) -> Result<ObjectReader, StorageError> {
        Ok(Box::new(Cursor::new(self.object(key)?)))
    }

    async fn size(&self, key: &StorageKey) -> Result<u64, StorageError> {
        Ok(self.object(key)?.len() as u64)
    }

    async fn exists(&self, key: &StorageKey) -> Result<bool, StorageError> {
        Ok(lock(&self.objects).contains_key(key.as_str()))
    }

    async fn delete(&self, key: &StorageKey) -> Result<bool, StorageError> {
        Ok(lock(&self.objects).remove(key.as_str()).is_some())
    }

    async fn list(&self, prefix: &StorageKey) -> Result<Vec<StorageKey>, StorageError> {
        let folder = format!("{prefix}/");
        lock(&self.objects)
            .range(folder.clone()..)
            .take_while(|(key, _)| key.starts_with(&folder))
            .map(|(key, _)| StorageKey::new(key.as_str()))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(k: &str) -> StorageKey {
        StorageKey::new(k).expect("valid key")
    }

    #[tokio::test]
    async fn keys_cannot_also_be_folders() {
        let storage = MemoryStorage::new();
        storage.put(&key("a/b"), Bytes::new()).await.expect("put");
        assert!(matches!(
            storage.put(&key("a/b/c"), Bytes::new()).await,
            Err(StorageError::KeyConflict { other, .. }) if other == "a/b"
        ));
        assert!(matches!(
            storage.put(&key("a"), Bytes::new()).await,
            Err(StorageError::KeyConflict { other, .. }) if other == "a/b"
        ));
        storage
            .put(&key("a/bc"), Bytes::new())
            .await
            .expect("sibling");
    }
}
