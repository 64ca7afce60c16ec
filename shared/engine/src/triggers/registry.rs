//! The [`TickTrigger`] trait and the registry of trigger implementations.
//!
//! A tick trigger is evaluated by the scheduler when its state is due: schedules compute
//! their fire times, polling triggers (HTTP, S3, SQS, JDBC) look at their source. Each
//! type is one implementation registered under its Kestra type name (and aliases, which
//! the flow parser already maps to the canonical name); crates outside the engine (the AWS
//! adapters) register theirs when they wire a platform.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use kite_flow::Flow;
use kite_flow::plugin::{PluginType, Trigger};

use super::{Occurrence, TickConfig, TriggerError, TriggerState};
use crate::services::Platform;

/// What an evaluation sees.
#[derive(Debug)]
pub struct EvalContext<'a> {
    /// The installation.
    pub platform: &'a Platform,
    /// The flow (latest revision).
    pub flow: &'a Flow,
    /// The trigger's definition.
    pub trigger: &'a Trigger,
    /// Its state (dates, backfill, memory).
    pub state: &'a TriggerState,
    /// The tick's instant.
    pub now: DateTime<Utc>,
    /// The tick's time settings.
    pub config: TickConfig,
}

impl EvalContext<'_> {
    /// A definition error of this trigger.
    pub fn definition_error(&self, message: impl Into<String>) -> TriggerError {
        TriggerError::Definition {
            namespace: self.flow.namespace.clone(),
            flow_id: self.flow.id.clone(),
            trigger_id: self.trigger.id.clone(),
            message: message.into(),
        }
    }

    /// A failure of the source this trigger polls.
    pub fn source_error(&self, message: impl Into<String>) -> TriggerError {
        TriggerError::Source {
            namespace: self.flow.namespace.clone(),
            flow_id: self.flow.id.clone(),
            trigger_id: self.trigger.id.clone(),
            message: message.into(),
        }
    }
}

/// What one evaluation decided.
#[derive(Debug, Default)]
pub struct Evaluation {
    /// The executions to start, in order.
    pub occurrences: Vec<Occurrence>,
    /// The new `date` (the last occurrence fired or the evaluation time).
    pub date: Option<DateTime<Utc>>,
    /// When to look again (none: never, e.g. a date list that is exhausted).
    pub next: Option<DateTime<Utc>>,
    /// The backfill as it stands after this evaluation (`None` = unchanged).
    pub backfill: Option<Option<super::Backfill>>,
    /// Type-specific memory to keep (`None` = unchanged).
    pub memory: Option<serde_json::Map<String, serde_json::Value>>,
}

/// A trigger evaluated on the scheduler's tick.
#[async_trait::async_trait]
pub trait TickTrigger: Send + Sync + std::fmt::Debug {
    /// When a trigger deployed (or changed) at `now` is first due; none: never.
    fn first_due(
        &self,
        flow: &Flow,
        trigger: &Trigger,
        now: DateTime<Utc>,
    ) -> Result<Option<DateTime<Utc>>, String>;

    /// Evaluates a due trigger.
    async fn evaluate(&self, cx: &EvalContext<'_>) -> Result<Evaluation, TriggerError>;

    /// How long after a failed evaluation to try again (polling triggers: their interval).
    fn retry_after(&self, _trigger: &Trigger) -> std::time::Duration {
        std::time::Duration::from_secs(60)
    }

    /// Called once the execution of `occurrence` exists (created now or before): moves or
    /// deletes the detected object, deletes the received message. At-least-once: called
    /// again when the tick sees the occurrence again.
    async fn acknowledge(
        &self,
        _cx: &EvalContext<'_>,
        _occurrence: &Occurrence,
    ) -> Result<(), TriggerError> {
        Ok(())
    }
}

/// Tick-trigger implementations by canonical type name.
#[derive(Debug, Clone, Default)]
pub struct TriggerRegistry {
    by_type: HashMap<&'static str, Arc<dyn TickTrigger>>,
    listen: HashMap<&'static str, fn(&Trigger) -> Option<String>>,
}

impl TriggerRegistry {
    /// The core trigger types (Schedule, ScheduleOnDates, http.Trigger, the JDBC polling
    /// triggers).
    pub fn core() -> Self {
        let mut r = Self::default();
        r.register(
            kite_flow::triggers::schedule::Schedule::TYPE,
            Arc::new(super::schedule::ScheduleTrigger),
        );
        r.register(
            kite_flow::triggers::schedule_on_dates::ScheduleOnDates::TYPE,
            Arc::new(super::schedule_on_dates::ScheduleOnDatesTrigger),
        );
        r.register(
            kite_flow::triggers::jdbc::postgresql::PostgresTrigger::TYPE,
            Arc::new(super::jdbc::JdbcPollTrigger::postgres()),
        );
        r.register(
            kite_flow::triggers::jdbc::sqlite::SqliteTrigger::TYPE,
            Arc::new(super::jdbc::JdbcPollTrigger::sqlite()),
        );
        r.register(
            kite_flow::triggers::http::HttpTrigger::TYPE,
            Arc::new(super::http::HttpPollTrigger),
        );
        r.listen_with(kite_flow::triggers::flow::FlowTrigger::TYPE, |_| {
            Some(FLOW_LISTENERS.to_owned())
        });
        r
    }

    /// Registers `imp` for `type_name`.
    pub fn register(&mut self, type_name: &'static str, imp: Arc<dyn TickTrigger>) -> &mut Self {
        self.by_type.insert(type_name, imp);
        self
    }

    /// Declares what triggers of `type_name` listen to (the `trigger_listen` index
    /// partition), so event handlers find them without reading every flow.
    pub fn listen_with(
        &mut self,
        type_name: &'static str,
        f: fn(&Trigger) -> Option<String>,
    ) -> &mut Self {
        self.listen.insert(type_name, f);
        self
    }

    /// Whether triggers of `type_name` are evaluated on the tick or found by the events
    /// they listen to.
    pub fn handles(&self, type_name: &str) -> bool {
        self.by_type.contains_key(type_name) || self.listen.contains_key(type_name)
    }

    /// The implementation for a type.
    pub fn get(&self, type_name: &str) -> Option<&Arc<dyn TickTrigger>> {
        self.by_type.get(type_name)
    }

    /// What a trigger listens to.
    pub fn listen_of(&self, trigger: &Trigger) -> Option<String> {
        self.listen.get(trigger.type_name).and_then(|f| f(trigger))
    }
}

/// The `trigger_listen` partition of Flow triggers.
pub const FLOW_LISTENERS: &str = "flow";
