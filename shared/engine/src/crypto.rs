//! Encryption at rest of SECRET inputs and outputs (Kestra's `kestra.encryption.secret-key`).
//!
//! AES-256-GCM with a 96-bit IV; the stored text is `base64(iv ‖ ciphertext ‖ tag)`, as
//! Kestra's `EncryptionService` writes it, and a value is stored as Kestra's
//! `EncryptedString`: `{"type": "io.kestra.datatype:aes_encrypted", "value": "<base64>"}`.
//! Values are decrypted only into a render context (`executor::context::render_context`),
//! never into the record, a message or a log.
//!
//! The key is configured (`KITE_ENCRYPTION_KEY`): 32 bytes, given either as a 32-character
//! string (Kestra's format: the string's bytes are the key) or as the base64 of 32 bytes.
//!
//! The cipher is `ring`'s (already compiled in for rustls' TLS provider: no new crate to
//! build or audit, constant-time and hardware-accelerated AES-GCM). Encryption outside the
//! pure executor uses a random IV; the executor (which must decide the same way twice)
//! derives the IV from HMAC-SHA256 of a context and the plaintext under a key derived from
//! the encryption key (a synthetic IV: equal IVs only for equal context and plaintext, which
//! then give equal ciphertexts).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use kite_flow::Flow;
use kite_flow::model::input::InputType;
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::rand::{SecureRandom, SystemRandom};
use serde_json::{Value, json};

/// The `type` of an encrypted value (Kestra's `EncryptedString.TYPE`).
pub const ENCRYPTED_TYPE: &str = "io.kestra.datatype:aes_encrypted";

/// The environment variable holding the key.
pub const KEY_VARIABLE: &str = "KITE_ENCRYPTION_KEY";

/// Why a key or a value could not be used. Never carries key material or plaintext.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CryptoError {
    /// The configured key is not 32 bytes (raw or base64).
    #[error(
        "the encryption key must be 32 bytes: a 32-character string, or the base64 of 32 random bytes (e.g. `openssl rand -base64 32`); the one given has {0} bytes"
    )]
    BadKey(usize),
    /// The stored text is not base64 of an IV and a ciphertext, or it does not decrypt with
    /// this key (wrong key, or altered).
    #[error(
        "cannot decrypt a SECRET value: it was encrypted with another key, or altered (not retryable)"
    )]
    Undecryptable,
    /// The system random generator failed.
    #[error("the system random generator failed (retryable)")]
    Random,
}

/// An AES-256-GCM key.
pub struct EncryptionKey {
    key: LessSafeKey,
    iv_key: ring::hmac::Key,
}

impl std::fmt::Debug for EncryptionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EncryptionKey(..)")
    }
}

impl EncryptionKey {
    /// A key from its configured text (a 32-character string, or base64 of 32 bytes).
    pub fn parse(text: &str) -> Result<Self, CryptoError> {
        let text = text.trim();
        let bytes = if text.len() == 32 {
            text.as_bytes().to_vec()
        } else {
            match STANDARD.decode(text) {
                Ok(b) if b.len() == 32 => b,
                Ok(b) => return Err(CryptoError::BadKey(b.len())),
                Err(_) => return Err(CryptoError::BadKey(text.len())),
            }
        };
        Self::from_bytes(&bytes)
    }

    /// The key of `KITE_ENCRYPTION_KEY` in `env`, `None` when unset or empty.
    pub fn from_env(env: &[(String, String)]) -> Result<Option<Self>, CryptoError> {
        match env.iter().find(|(k, _)| k == KEY_VARIABLE) {
            Some((_, v)) if !v.trim().is_empty() => Self::parse(v).map(Some),
            _ => Ok(None),
        }
    }

    fn from_bytes(bytes: &[u8]) -> Result<Self, CryptoError> {
        let unbound =
            UnboundKey::new(&AES_256_GCM, bytes).map_err(|_| CryptoError::BadKey(bytes.len()))?;
        let derive = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, bytes);
        let iv_key_bytes = ring::hmac::sign(&derive, b"kite synthetic iv key");
        Ok(Self {
            key: LessSafeKey::new(unbound),
            iv_key: ring::hmac::Key::new(ring::hmac::HMAC_SHA256, iv_key_bytes.as_ref()),
        })
    }

    /// A new random key as its configuration text (base64 of 32 bytes).
    pub fn generate() -> Result<String, CryptoError> {
        let mut bytes = [0u8; 32];
        SystemRandom::new()
            .fill(&mut bytes)
            .map_err(|_| CryptoError::Random)?;
        Ok(STANDARD.encode(bytes))
    }

    /// Encrypts `plain` with a random IV: `base64(iv ‖ ciphertext ‖ tag)`.
    pub fn encrypt(&self, plain: &str) -> Result<String, CryptoError> {
        let mut iv = [0u8; NONCE_LEN];
        SystemRandom::new()
            .fill(&mut iv)
            .map_err(|_| CryptoError::Random)?;
        Ok(self.seal(iv, plain))
    }

    /// Encrypts `plain` with an IV derived from `context` and `plain` (the same inputs give
    /// the same text: for the pure executor, which must decide the same way twice).
    pub fn encrypt_deterministic(&self, context: &str, plain: &str) -> String {
        let mut ctx = ring::hmac::Context::with_key(&self.iv_key);
        ctx.update(&(context.len() as u64).to_be_bytes());
        ctx.update(context.as_bytes());
        ctx.update(plain.as_bytes());
        let tag = ctx.sign();
        let mut iv = [0u8; NONCE_LEN];
        iv.copy_from_slice(&tag.as_ref()[..NONCE_LEN]);
        self.seal(iv, plain)
    }

    fn seal(&self, iv: [u8; NONCE_LEN], plain: &str) -> String {
        let mut buf = plain.as_bytes().to_vec();
        // Sealing fails only for inputs over GCM's 64 GiB limit, far above any value here.
        if self
            .key
            .seal_in_place_append_tag(Nonce::assume_unique_for_key(iv), Aad::empty(), &mut buf)
            .is_err()
        {
            buf.clear();
        }
        let mut out = iv.to_vec();
        out.extend_from_slice(&buf);
        STANDARD.encode(out)
    }

    /// Decrypts `base64(iv ‖ ciphertext ‖ tag)`.
    pub fn decrypt(&self, text: &str) -> Result<String, CryptoError> {
        let bytes = STANDARD
            .decode(text.trim())
            .map_err(|_| CryptoError::Undecryptable)?;
        if bytes.len() < NONCE_LEN + AES_256_GCM.tag_len() {
            return Err(CryptoError::Undecryptable);
        }
        let (iv, rest) = bytes.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(iv).map_err(|_| CryptoError::Undecryptable)?;
        let mut buf = rest.to_vec();
        let plain = self
            .key
            .open_in_place(nonce, Aad::empty(), &mut buf)
            .map_err(|_| CryptoError::Undecryptable)?;
        String::from_utf8(plain.to_vec()).map_err(|_| CryptoError::Undecryptable)
    }

    /// Kestra's `EncryptedString` JSON for `base64` text.
    pub fn wrap(encrypted: String) -> Value {
        json!({ "type": ENCRYPTED_TYPE, "value": encrypted })
    }
}

/// The encrypted text of `value` when it is an `EncryptedString` object.
pub fn as_encrypted(value: &Value) -> Option<&str> {
    let m = value.as_object()?;
    if m.len() == 2 && m.get("type")?.as_str()? == ENCRYPTED_TYPE {
        m.get("value")?.as_str()
    } else {
        None
    }
}

/// What `flow` declares that needs a key when `key` is `None` (`SECRET input `x``,
/// `SECRET output `y``); empty when a key is configured or nothing needs one.
pub fn secret_fields_without_key(flow: &Flow, key: Option<&EncryptionKey>) -> Vec<String> {
    if key.is_some() {
        return Vec::new();
    }
    let inputs = flow
        .inputs
        .iter()
        .filter(|i| i.kind == InputType::Secret)
        .map(|i| format!("SECRET input `{}`", i.id));
    let outputs = flow
        .outputs
        .iter()
        .filter(|o| o.kind == InputType::Secret)
        .map(|o| format!("SECRET output `{}`", o.id));
    inputs.chain(outputs).collect()
}

/// The message refusing `flow` when it needs a key and none is configured.
pub fn missing_key_message(flow: &Flow, key: Option<&EncryptionKey>) -> Option<String> {
    let fields = secret_fields_without_key(flow, key);
    if fields.is_empty() {
        return None;
    }
    Some(format!(
        "flow {}.{} declares {}, which is stored encrypted, but no encryption key is configured: set {KEY_VARIABLE} (a 32-character string or the base64 of 32 bytes, e.g. `openssl rand -base64 32`; `kite server local` creates one in its data folder)",
        flow.namespace,
        flow.id,
        fields.join(", ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_refuses_altered_text() {
        let key = EncryptionKey::parse("0123456789abcdef0123456789abcdef").unwrap();
        let sealed = key.encrypt("s3cret").unwrap();
        assert_ne!(sealed, key.encrypt("s3cret").unwrap(), "random IVs");
        assert_eq!(key.decrypt(&sealed).unwrap(), "s3cret");
        let raw = STANDARD.decode(&sealed).unwrap();
        assert_eq!(raw.len(), 12 + 6 + 16, "iv, ciphertext, tag");
        let mut altered = raw.clone();
        altered[14] ^= 1;
        assert_eq!(
            key.decrypt(&STANDARD.encode(altered)),
            Err(CryptoError::Undecryptable)
        );
        let other = EncryptionKey::parse(&EncryptionKey::generate().unwrap()).unwrap();
        assert_eq!(other.decrypt(&sealed), Err(CryptoError::Undecryptable));
        let d1 = key.encrypt_deterministic("e1/out", "s3cret");
        assert_eq!(d1, key.encrypt_deterministic("e1/out", "s3cret"));
        assert_ne!(d1, key.encrypt_deterministic("e2/out", "s3cret"));
        assert_eq!(key.decrypt(&d1).unwrap(), "s3cret");
    }

    #[test]
    fn keys_are_32_bytes_raw_or_base64() {
        assert!(EncryptionKey::parse(&EncryptionKey::generate().unwrap()).is_ok());
        let err = EncryptionKey::parse("short").unwrap_err();
        assert!(err.to_string().contains("32 bytes"), "{err}");
        assert!(!err.to_string().contains("short"));
        assert_eq!(
            EncryptionKey::parse(&STANDARD.encode([1u8; 16])).unwrap_err(),
            CryptoError::BadKey(16)
        );
    }

    #[test]
    fn wrapped_values_are_recognised() {
        let v = EncryptionKey::wrap("abc".into());
        assert_eq!(as_encrypted(&v), Some("abc"));
        assert_eq!(as_encrypted(&json!({"type": "x", "value": "abc"})), None);
        assert_eq!(as_encrypted(&json!("abc")), None);
    }
}
