//! Identifiers: 22-character base62 ids like Kestra's, random for executions and derived
//! deterministically for task runs (so a decision replayed after a crash yields the same ids).

use sha2::{Digest, Sha256};

const ALPHABET: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

fn base62(mut n: u128) -> String {
    let mut out = [b'0'; 22];
    for slot in out.iter_mut().rev() {
        *slot = ALPHABET[(n % 62) as usize];
        n /= 62;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A fresh random id.
pub fn random_id() -> String {
    base62(uuid::Uuid::new_v4().as_u128())
}

/// An id derived from `parts` (stable across runs and machines).
pub fn derived_id(parts: &[&str]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p.as_bytes());
        h.update([0u8]);
    }
    let digest = h.finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    base62(u128::from_be_bytes(bytes))
}

/// Whether `s` looks like an id of ours (base62, 1..=64 characters).
pub fn is_valid_id(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_22_base62_chars() {
        let id = random_id();
        assert_eq!(id.len(), 22);
        assert!(is_valid_id(&id));
        assert_ne!(random_id(), id);
        assert_eq!(derived_id(&["a", "b"]), derived_id(&["a", "b"]));
        assert_ne!(derived_id(&["a", "b"]), derived_id(&["ab"]));
    }
}
