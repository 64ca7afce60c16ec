//! The API token of `kite server local` and how clients find it.
//!
//! The server keeps a random token (32 bytes from the OS's generator, 64 hex digits) in
//! `<data>/api-token`, created at first start with mode 0600 through a temporary file
//! linked into place (never overwritten: a second server starting at the same time reads
//! the winner's). `--token-file PATH` or `KITE_TOKEN` give another token (`--token T`
//! works too, but shows in `ps`); `--no-auth` turns authentication off, loopback only.
//!
//! Clients (`kite execute`, `kite flow deploy`) take, in order: `--token-file PATH`
//! (`KITE_TOKEN_FILE`), `--token`/`KITE_TOKEN`, then `.kite/api-token` (the default data
//! folder) when it exists.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

/// The token file's name in a data folder.
pub const FILE_NAME: &str = "api-token";
/// The default data folder of `kite server local` (relative to the working directory).
pub const DEFAULT_DATA: &str = ".kite";

/// Where a server's token lives in `data`.
pub fn path_in(data: &Path) -> PathBuf {
    data.join(FILE_NAME)
}

/// A new random token: 32 bytes, hex.
pub fn generate() -> anyhow::Result<String> {
    let mut bytes = [0u8; 32];
    getrandom::getrandom(&mut bytes)
        .map_err(|e| anyhow::anyhow!("cannot draw random bytes for the API token: {e}"))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// Reads a token file: its content without surrounding whitespace, never empty.
pub fn read(path: &Path) -> anyhow::Result<String> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the token file {}", path.display()))?;
    let token = text.trim();
    if token.is_empty() {
        bail!(
            "the token file {} is empty: put the token in it, or remove it to have a new one created",
            path.display()
        );
    }
    if token.chars().any(|c| c.is_whitespace() || c.is_control()) {
        bail!(
            "the token file {} holds more than one word: it must hold only the token",
            path.display()
        );
    }
    Ok(token.to_owned())
}

/// Checks a token given on the command line or in `KITE_TOKEN`.
pub fn check_given(token: &str) -> anyhow::Result<String> {
    let t = token.trim();
    if t.is_empty() {
        bail!(
            "the token is empty (--token \"\" or KITE_TOKEN=\"\"): give a token, use --token-file PATH, \
             or --no-auth to run without authentication (loopback only)"
        );
    }
    Ok(t.to_owned())
}

/// The token of `data`: read when the file exists, else created. `true` when created now.
pub fn load_or_create(data: &Path) -> anyhow::Result<(String, bool)> {
    let path = path_in(data);
    if path.exists() {
        warn_if_shared(&path);
        return Ok((read(&path)?, false));
    }
    std::fs::create_dir_all(data)
        .with_context(|| format!("cannot create the data folder {}", data.display()))?;
    let token = generate()?;
    let created = crate::commands::private_file::create_once(&path, &format!("{token}\n"))
        .with_context(|| format!("cannot create the token file {}", path.display()))?;
    if created {
        Ok((token, true))
    } else {
        Ok((read(&path)?, false))
    }
}

#[cfg(unix)]
fn warn_if_shared(path: &Path) {
    use std::os::unix::fs::PermissionsExt as _;
    if let Ok(m) = std::fs::metadata(path)
        && m.permissions().mode() & 0o077 != 0
    {
        eprintln!(
            "warning: the token file {} can be read by other users (mode {:o}): chmod 600 it",
            path.display(),
            m.permissions().mode() & 0o777
        );
    }
}

#[cfg(not(unix))]
fn warn_if_shared(_: &Path) {}

/// The token a client sends: `--token-file`, else `--token`/`KITE_TOKEN`, else the default
/// data folder's token file when it exists, else none.
pub fn for_client(
    token: Option<&str>,
    token_file: Option<&Path>,
) -> anyhow::Result<Option<String>> {
    if let Some(p) = token_file {
        return read(p).map(Some);
    }
    if let Some(t) = token {
        return check_given(t).map(Some);
    }
    let default = path_in(Path::new(DEFAULT_DATA));
    if default.exists() {
        return read(&default).map(Some);
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn created_once_private_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let (t1, created) = load_or_create(&data).unwrap();
        assert!(created);
        assert_eq!(t1.len(), 64);
        assert!(t1.chars().all(|c| c.is_ascii_hexdigit()));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(path_in(&data))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let (t2, created) = load_or_create(&data).unwrap();
        assert!(!created);
        assert_eq!(t1, t2);
        assert_ne!(t1, generate().unwrap());
        let leftovers: Vec<_> = std::fs::read_dir(&data).unwrap().collect();
        assert_eq!(leftovers.len(), 1, "only the token file remains");
    }

    #[test]
    fn empty_tokens_are_errors() {
        assert!(check_given("").is_err());
        assert!(check_given("  ").is_err());
        assert!(for_client(Some(""), None).is_err());
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("t");
        std::fs::write(&f, "\n").unwrap();
        assert!(read(&f).unwrap_err().to_string().contains("is empty"));
        std::fs::write(&f, " abc \n").unwrap();
        assert_eq!(for_client(None, Some(&f)).unwrap().as_deref(), Some("abc"));
        assert_eq!(
            for_client(Some("x"), Some(&f)).unwrap().as_deref(),
            Some("abc")
        );
        assert_eq!(for_client(Some("x"), None).unwrap().as_deref(), Some("x"));
    }
}
