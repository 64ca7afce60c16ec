//! Files only their owner may read (the API token, the encryption key), created once:
//! written to a temporary file with mode 0600 and synced, then hard-linked into place, so
//! the file is never seen half-written and never overwritten (a second process starting at
//! the same time keeps the winner's).

use std::io::Write as _;
use std::path::Path;

/// Creates `path` holding `text`, readable by its owner only. `Ok(false)` when it already
/// existed (it is left as it is).
pub fn create_once(path: &Path, text: &str) -> std::io::Result<bool> {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    let tmp = path.with_file_name(format!(".{name}.{}.tmp", std::process::id()));
    let write = || -> std::io::Result<()> {
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt as _;
            options.mode(0o600);
        }
        let mut f = options.open(&tmp)?;
        f.write_all(text.as_bytes())?;
        f.sync_all()
    };
    let _ = std::fs::remove_file(&tmp);
    let written = write();
    let linked = written.and_then(|()| std::fs::hard_link(&tmp, path));
    let _ = std::fs::remove_file(&tmp);
    match linked {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(e),
    }
}
