//! [`AwsSecrets`]: the [`SecretStore`] port on AWS Secrets Manager.
//!
//! `secret('NAME')` reads the `SecretString` of the Secrets Manager secret
//! `{prefix}NAME`. A secret that does not exist (or is scheduled for deletion) is `None`.
//! Answers, present or absent, are cached in the process for [`CACHE_TTL`] (5 minutes),
//! timed by the [`Clock`] handed in, so a warm Lambda does not call Secrets Manager for
//! every expression; a rotated secret is seen within that time.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_secretsmanager::error::ProvideErrorMetadata;
use chrono::{DateTime, Utc};
use kite_ports::{Clock, SecretStore};

use crate::config::Clients;
use crate::sqs::sdk;

/// How long an answer is reused.
pub const CACHE_TTL: Duration = Duration::from_secs(5 * 60);

/// Secrets from AWS Secrets Manager. Cheap to clone (clones share the cache).
#[derive(Clone)]
pub struct AwsSecrets {
    client: aws_sdk_secretsmanager::Client,
    prefix: String,
    clock: Arc<dyn Clock>,
    cache: Arc<Mutex<Cache>>,
}

/// Name → (value, when it was read).
type Cache = HashMap<String, (Option<String>, DateTime<Utc>)>;

impl fmt::Debug for AwsSecrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AwsSecrets")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl AwsSecrets {
    /// The secrets of the installation of `clients` (`NAME` is `{prefix}NAME`), cached by
    /// `clock`.
    pub fn new(clients: &Clients, clock: Arc<dyn Clock>) -> Self {
        Self {
            client: clients.secrets.clone(),
            prefix: clients.config.prefix.clone(),
            clock,
            cache: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    /// The Secrets Manager name of secret `name`.
    pub fn secret_id(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }

    fn cached(&self, name: &str, now: DateTime<Utc>) -> Option<Option<String>> {
        let cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
        let (value, read_at) = cache.get(name)?;
        let age = now.signed_duration_since(*read_at).to_std().ok()?;
        (age < CACHE_TTL).then(|| value.clone())
    }

    async fn fetch(&self, name: &str) -> Result<Option<String>, String> {
        let id = self.secret_id(name);
        match self.client.get_secret_value().secret_id(&id).send().await {
            Ok(out) => {
                if let Some(text) = out.secret_string {
                    return Ok(Some(text));
                }
                match out.secret_binary.map(|b| String::from_utf8(b.into_inner())) {
                    Some(Ok(text)) => Ok(Some(text)),
                    _ => Err(format!(
                        "secret `{name}` ({id} in AWS Secrets Manager) has no text value"
                    )),
                }
            }
            Err(err) => match err.code() {
                Some("ResourceNotFoundException") => Ok(None),
                Some("InvalidRequestException")
                    if err.message().is_some_and(|m| m.contains("delet")) =>
                {
                    Ok(None)
                }
                _ => Err(format!(
                    "cannot read secret `{name}` ({id}) from AWS Secrets Manager: {}",
                    sdk(err)
                )),
            },
        }
    }
}

#[async_trait]
impl SecretStore for AwsSecrets {
    async fn get(&self, name: &str) -> Result<Option<String>, String> {
        let now = self.clock.now();
        if let Some(value) = self.cached(name, now) {
            return Ok(value);
        }
        let value = self.fetch(name).await?;
        self.cache
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(name.to_owned(), (value.clone(), now));
        Ok(value)
    }
}
