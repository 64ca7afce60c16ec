//! The `SecretStore` port: where `secret('NAME')` finds values that are not in the
//! environment. Locally there is none ([`NoSecrets`]); on AWS, Secrets Manager.

use std::fmt;

use async_trait::async_trait;

/// A store of named secrets.
#[async_trait]
pub trait SecretStore: Send + Sync + fmt::Debug {
    /// The secret `name`, `None` when the store has no such secret; `Err` with a message
    /// naming the secret when the store cannot be read.
    async fn get(&self, name: &str) -> Result<Option<String>, String>;
}

/// A store without secrets.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoSecrets;

#[async_trait]
impl SecretStore for NoSecrets {
    async fn get(&self, _name: &str) -> Result<Option<String>, String> {
        Ok(None)
    }
}
