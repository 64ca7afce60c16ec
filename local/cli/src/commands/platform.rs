//! Building a [`Platform`] for the CLI: in memory (`kite flow run`) or on the embedded
//! store (`kite server local`).

use std::sync::Arc;

use kite_engine::crypto::EncryptionKey;
use kite_engine::executor::Expressions;
use kite_engine::repo::Repos;
use kite_engine::services::host::PlatformHost;
use kite_engine::services::{Platform, QueueNames};
use kite_engine::worker::kill::KillPolling;
use kite_ports::{
    Clock, DocumentStore, MemoryDocuments, MemoryQueue, MemoryStorage, Queue, Storage, SystemClock,
};
use serde_json::{Map, Value};

/// The process environment as pairs.
pub fn env_pairs() -> Vec<(String, String)> {
    std::env::vars().collect()
}

/// `globals` from `KITE_GLOBALS` (a JSON object), empty otherwise.
pub fn globals() -> anyhow::Result<Map<String, Value>> {
    match std::env::var("KITE_GLOBALS") {
        Ok(s) if !s.trim().is_empty() => match serde_json::from_str::<Value>(&s) {
            Ok(Value::Object(m)) => Ok(m),
            _ => anyhow::bail!("KITE_GLOBALS must be a JSON object"),
        },
        _ => Ok(Map::new()),
    }
}

/// A platform over the given ports.
pub async fn build(
    queue: Arc<dyn Queue>,
    storage: Arc<dyn Storage>,
    docs: Arc<dyn DocumentStore>,
    clock: Arc<dyn Clock>,
    work_root: std::path::PathBuf,
    key_file: Option<&std::path::Path>,
) -> anyhow::Result<Platform> {
    let repos = Repos::new(docs, storage.clone());
    let env = env_pairs();
    let host = PlatformHost::new(&env, storage.clone(), repos.clone(), clock.clone());
    let mut rt = Expressions::new(Arc::new(host), globals()?, &env);
    rt.max_subflow_depth =
        kite_engine::executor::context::max_subflow_depth(&env).map_err(anyhow::Error::msg)?;
    if let Some(key) = encryption_key(&env, key_file)? {
        rt = rt.with_encryption_key(key);
    }
    let platform = Platform::new(
        queue,
        storage,
        repos,
        clock,
        rt,
        QueueNames::with_prefix("kite-"),
        work_root,
    )
    // S3 and SQS triggers poll the endpoints their flows name (any S3-compatible store).
    .with_trigger_registry(kite_aws::triggers::registry())
    .with_kill_polling(
        KillPolling::from_env(&env, KillPolling::LOCAL).map_err(anyhow::Error::msg)?,
    );
    platform.ensure_queues().await?;
    Ok(platform)
}

/// An in-memory platform (nothing persists).
pub async fn in_memory() -> anyhow::Result<Platform> {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let work_root = std::env::temp_dir().join(format!("kite-run-{}", std::process::id()));
    build(
        Arc::new(MemoryQueue::new(clock.clone())),
        Arc::new(MemoryStorage::new()),
        Arc::new(MemoryDocuments::new(clock.clone())),
        clock,
        work_root,
        None,
    )
    .await
}

/// A platform on the embedded backends under `data_dir`: queues and documents in
/// `kite.db` (SQLite), internal storage in `storage/`, task working directories in
/// `work/`. Everything survives a restart (or a crash) of the process.
pub async fn embedded(data_dir: &std::path::Path) -> anyhow::Result<Platform> {
    use anyhow::Context as _;
    if let Err(e) = std::fs::create_dir_all(data_dir) {
        if is_read_only(&e) {
            anyhow::bail!("{}", read_only_message(data_dir, &e));
        }
        return Err(e)
            .with_context(|| format!("cannot create the data folder {}", data_dir.display()));
    }
    check_writable(data_dir)?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let db = data_dir.join("kite.db");
    let embedded = kite_embedded::Embedded::open(&db, clock.clone())
        .with_context(|| format!("cannot open {}", db.display()))?;
    let storage_dir = data_dir.join("storage");
    let storage = kite_embedded::DiskStorage::open(&storage_dir)
        .await
        .with_context(|| format!("cannot open the storage folder {}", storage_dir.display()))?;
    build(
        Arc::new(embedded.queue()),
        Arc::new(storage),
        Arc::new(embedded.documents()),
        clock,
        data_dir.join("work"),
        Some(&data_dir.join(KEY_FILE)),
    )
    .await
}

/// Whether `e` says a file or folder cannot be written (permissions, read-only file system).
fn is_read_only(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::PermissionDenied | std::io::ErrorKind::ReadOnlyFilesystem
    )
}

fn read_only_message(dir: &std::path::Path, e: &std::io::Error) -> String {
    format!(
        "the data folder {d} is read-only ({e}): Kite keeps its database, files and API token \
         there. Make it writable (e.g. `chmod u+w {d}`, or remount it read-write) or choose \
         another folder with --data DIR",
        d = dir.display()
    )
}

/// Says once, clearly, that the data folder (or its database file) cannot be written, instead
/// of SQLite's "unable to open database file".
fn check_writable(dir: &std::path::Path) -> anyhow::Result<()> {
    use anyhow::Context as _;
    let probe = dir.join(format!(".kite-write-check-{}", std::process::id()));
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&probe)
    {
        Ok(_) => {
            let _ = std::fs::remove_file(&probe);
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            let _ = std::fs::remove_file(&probe);
        }
        Err(e) if is_read_only(&e) => anyhow::bail!("{}", read_only_message(dir, &e)),
        Err(e) => {
            return Err(e)
                .with_context(|| format!("cannot write in the data folder {}", dir.display()));
        }
    }
    let db = dir.join("kite.db");
    if db.exists()
        && let Err(e) = std::fs::OpenOptions::new().read(true).write(true).open(&db)
        && is_read_only(&e)
    {
        anyhow::bail!(
            "the database file {} is read-only ({e}): make it writable (e.g. `chmod u+w {}`) or \
             choose another folder with --data DIR",
            db.display(),
            db.display()
        );
    }
    Ok(())
}

/// The file of the data folder holding the encryption key `kite server local` created.
pub const KEY_FILE: &str = "encryption.key";

/// The key encrypting SECRET inputs and outputs: `KITE_ENCRYPTION_KEY` when set; otherwise,
/// with a data folder, the key in `key_file`, created (random, mode 0600) at first start.
pub fn encryption_key(
    env: &[(String, String)],
    key_file: Option<&std::path::Path>,
) -> anyhow::Result<Option<EncryptionKey>> {
    use anyhow::Context as _;
    if let Some(key) = EncryptionKey::from_env(env)
        .with_context(|| format!("invalid {}", kite_engine::crypto::KEY_VARIABLE))?
    {
        return Ok(Some(key));
    }
    let Some(path) = key_file else {
        return Ok(None);
    };
    if !path.exists()
        && crate::commands::private_file::create_once(path, &EncryptionKey::generate()?)
            .with_context(|| format!("cannot create the encryption key {}", path.display()))?
    {
        println!(
            "Created an encryption key for SECRET inputs in {} (keep it: without it they cannot be read; set {} to use another)",
            path.display(),
            kite_engine::crypto::KEY_VARIABLE
        );
    }
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the encryption key {}", path.display()))?;
    let key = EncryptionKey::parse(&text)
        .with_context(|| format!("invalid encryption key in {}", path.display()))?;
    Ok(Some(key))
}
