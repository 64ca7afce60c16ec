//! Counts of AWS requests by service and operation, gathered by an SDK interceptor on every
//! client built by [`Clients`](crate::Clients), plus the capacity units the DynamoDB adapter
//! consumes (computed from item sizes, as DynamoDB bills them). The cost benchmark reads
//! them; they cost one uncontended mutex per request.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextRef;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;

/// A snapshot of the counters.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Snapshot {
    /// Requests (attempts) by `(service, operation)`.
    pub requests: BTreeMap<(String, String), u64>,
    /// DynamoDB read capacity units consumed (4 KB each, strongly consistent).
    pub read_units: f64,
    /// DynamoDB write capacity units consumed (1 KB each; twice in transactions).
    pub write_units: f64,
}

impl Snapshot {
    /// Requests of one service.
    pub fn service(&self, service: &str) -> u64 {
        self.requests
            .iter()
            .filter(|((s, _), _)| s.eq_ignore_ascii_case(service))
            .map(|(_, n)| n)
            .sum()
    }

    /// The difference `self - earlier`.
    pub fn since(&self, earlier: &Snapshot) -> Snapshot {
        let mut requests = self.requests.clone();
        for (k, n) in &earlier.requests {
            if let Some(v) = requests.get_mut(k) {
                *v = v.saturating_sub(*n);
            }
        }
        requests.retain(|_, n| *n > 0);
        Snapshot {
            requests,
            read_units: self.read_units - earlier.read_units,
            write_units: self.write_units - earlier.write_units,
        }
    }
}

/// Shared counters (cheap to clone).
#[derive(Debug, Clone, Default)]
pub struct Metrics {
    inner: Arc<Mutex<Snapshot>>,
}

impl Metrics {
    /// An interceptor that counts every request attempt of a client.
    pub fn interceptor(&self) -> CountRequests {
        CountRequests {
            metrics: self.clone(),
        }
    }

    /// Adds DynamoDB capacity units.
    pub fn add_units(&self, read: f64, write: f64) {
        let mut s = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        s.read_units += read;
        s.write_units += write;
    }

    fn count(&self, service: &str, operation: &str) {
        let mut s = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        *s.requests
            .entry((service.to_owned(), operation.to_owned()))
            .or_default() += 1;
    }

    /// The counters now.
    pub fn snapshot(&self) -> Snapshot {
        self.inner.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// The SDK interceptor behind [`Metrics::interceptor`].
#[derive(Debug, Clone)]
pub struct CountRequests {
    metrics: Metrics,
}

impl Intercept for CountRequests {
    fn name(&self) -> &'static str {
        "KiteCountRequests"
    }

    fn read_before_transmit(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Some(meta) = cfg.load::<Metadata>() {
            self.metrics.count(meta.service(), meta.name());
        }
        Ok(())
    }
}

/// Write capacity units of an item of `bytes` (1 KB each, rounded up; at least 1).
pub fn write_units(bytes: usize) -> f64 {
    bytes.div_ceil(1024).max(1) as f64
}

/// Read capacity units of a strongly consistent read of `bytes` (4 KB each, rounded up).
pub fn read_units(bytes: usize) -> f64 {
    bytes.div_ceil(4096).max(1) as f64
}
