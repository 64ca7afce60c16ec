//! TLS set-up: HTTP clients use rustls with the `ring` provider, installed once per
//! process before the first client is built.

use std::sync::Once;

/// Installs rustls' ring provider as the process default (idempotent).
pub fn ensure_crypto_provider() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // An error means another provider was installed first: that one is used.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}
