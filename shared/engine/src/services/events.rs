//! The executor's handler. The events of one execution that arrive together (a FIFO batch
//! of its group) are applied to its record in order and stored with **one** conditional
//! write; then their actions are carried out with the sends batched (up to 10 messages per
//! `SendMessageBatch`) and the log lines written alongside the sends rather than before
//! them, so a task hop costs one state write on its critical path.
//!
//! Records this process wrote last are kept with their version ([`RecordCache`], bounded):
//! the next event of the same execution skips the read. Staleness is settled by the
//! conditional write: on a version conflict the record is read again and the events are
//! applied again (the executor is a pure function of record and event, so this is safe).
//!
//! Redelivery: every event id applied is remembered with its actions in the record's outbox
//! ring ([`crate::executor::record::EARLIER_OUTBOXES`] deep), and a run applied together is
//! never longer than that ring, so a run delivered again re-sends the actions of each of its
//! events, whatever stopped the first delivery after the write.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use futures::future::BoxFuture;
use kite_flow::Flow;
use kite_ports::queue::{MAX_BATCH, MAX_BATCH_BYTES};
use kite_ports::{DocumentError, Expect, OutgoingMessage};

use super::{Platform, ServiceError, TimerMessage, concurrency, now_ms};
use crate::executor::limits::Ceiling;
use crate::executor::lookups::{Looked, Lookup};
use crate::executor::{self, Action, Event, Record, SlotAnswer, record::EARLIER_OUTBOXES};
use crate::model::State;
use crate::repo::RepoError;
use crate::repo::executions::ExecutionRepo;
use crate::services::ExecutorMessage;

/// Records kept at most.
const CACHED_RECORDS: usize = 256;
/// Records with more task runs than this are not kept (memory).
const CACHED_TASK_RUNS: usize = 2_000;

/// The last written record (and its version) of executions handled here recently.
#[derive(Debug, Default)]
pub(crate) struct RecordCache {
    map: Mutex<HashMap<String, (Record, u64)>>,
}

impl RecordCache {
    /// Takes the record of `id` out of the cache (the handler puts it back once written).
    fn take(&self, id: &str) -> Option<(Record, u64)> {
        self.map.lock().ok()?.remove(id)
    }

    /// Keeps `rec` at `version`.
    fn keep(&self, rec: Record, version: u64) {
        if rec.execution.task_run_list.len() > CACHED_TASK_RUNS {
            return;
        }
        if let Ok(mut map) = self.map.lock() {
            if map.len() >= CACHED_RECORDS {
                map.clear();
            }
            map.insert(rec.execution.id.clone(), (rec, version));
        }
    }
}

/// Most rounds of lookups one event's decision may ask for.
const MAX_NEED_ROUNDS: usize = 8;

/// A decision, its needs answered.
enum Decided {
    /// The record and the actions.
    Done(Box<Record>, Vec<Action>),
    /// It needed values and its record is half decided (no copy was kept).
    Lost,
}

/// How far a run of executor messages got.
#[derive(Debug)]
pub struct Handled {
    /// Messages handled, from the first: they can be deleted.
    pub done: usize,
    /// Why message number `done` failed (the ones after it were not handled), if one did.
    pub error: Option<ServiceError>,
}

impl Platform {
    /// Handles one message of the executor queue.
    pub async fn handle_executor_message(&self, body: &str) -> Result<(), ServiceError> {
        match self.handle_executor_messages(&[body]).await.error {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// Handles consecutive messages of the executor queue (one FIFO group's messages of a
    /// batch, in order): the events of one execution are applied together and stored with
    /// one write. Stops at the first message that fails.
    pub async fn handle_executor_messages(&self, bodies: &[&str]) -> Handled {
        let mut msgs = Vec::with_capacity(bodies.len());
        let mut decode_error = None;
        for body in bodies {
            match self.decode_executor_message(body).await {
                Ok(m) => msgs.push(m),
                Err(e) => {
                    decode_error = Some(e);
                    break;
                }
            }
        }
        let mut done = 0;
        while done < msgs.len() {
            let id = msgs[done].execution_id.clone();
            let run = msgs[done..]
                .iter()
                .take(EARLIER_OUTBOXES)
                .take_while(|m| m.execution_id == id)
                .count();
            if let Err(e) = self.apply_events(&id, &msgs[done..done + run]).await {
                return Handled {
                    done,
                    error: Some(e),
                };
            }
            done += run;
        }
        Handled {
            done,
            error: decode_error,
        }
    }

    async fn decode_executor_message(&self, body: &str) -> Result<ExecutorMessage, ServiceError> {
        let body = self.dereference(body).await?;
        serde_json::from_str(&body).map_err(|source| ServiceError::Malformed {
            what: "executor",
            source,
        })
    }

    /// Applies `msgs` (events of execution `id`, in order) with one state write, then
    /// carries out their actions.
    async fn apply_events(&self, id: &str, msgs: &[ExecutorMessage]) -> Result<(), ServiceError> {
        let mut cached = self.records.take(id);
        // Keep a copy of the record before each decision, to decide again after a `Need`.
        // Only for flows that may need lookups, unless one needed them unexpectedly.
        let mut always_copy = false;
        'read: loop {
            let from_cache = cached.is_some();
            let (mut rec, version) = match cached.take() {
                Some(found) => found,
                None => match self.repos.executions.get(id).await? {
                    Some(found) => found,
                    None => {
                        tracing::warn!(execution = %id, "event for an unknown execution dropped");
                        return Ok(());
                    }
                },
            };
            let flow = self
                .load_flow(
                    &rec.execution.namespace,
                    &rec.execution.flow_id,
                    Some(rec.execution.flow_revision),
                )
                .await
                .inspect_err(|e| tracing::error!(execution = %id, "cannot load the flow: {e}"))?;
            let flow = Arc::new(flow);
            let copy = always_copy || executor::lookups::may_look_up(&flow);
            let before = rec.internal.last_event.clone();
            let mut actions = Vec::new();
            let mut ended = Vec::new();
            for msg in msgs {
                let killed_parent = self.killed_parent(&rec, msg).await?;
                let event = if killed_parent {
                    &Event::Kill
                } else {
                    &msg.event
                };
                let now = now_ms(self.clock.as_ref());
                let mut acts = match self
                    .decide_with_lookups(&flow, rec, event, &msg.id, now, copy)
                    .await?
                {
                    Decided::Done(back, acts) => {
                        rec = *back;
                        acts
                    }
                    Decided::Lost => {
                        // A decision needed lookups but no copy was kept: its record is
                        // half decided. Nothing was written: read the record again and
                        // decide again, keeping copies this time.
                        always_copy = true;
                        cached = None;
                        continue 'read;
                    }
                };
                let asked = acts.iter().any(|a| matches!(a, Action::RequestSlot));
                acts.retain(|a| !matches!(a, Action::RequestSlot));
                actions.extend(acts);
                if !asked {
                    continue;
                }
                // Flow concurrency: the slot is asked for here (a conditional write) and
                // its answer applied as the next event, under an id derived from this one
                // (a redelivery asks again, idempotently, and finds the answer applied).
                let answer = self.slot_answer(&flow, &rec).await?;
                let slot_event = Event::Slot { answer };
                let slot_id = format!("{}-slot", msg.id);
                match self
                    .decide_with_lookups(&flow, rec, &slot_event, &slot_id, now, copy)
                    .await?
                {
                    Decided::Done(back, acts) => {
                        rec = *back;
                        actions.extend(acts);
                    }
                    Decided::Lost => {
                        always_copy = true;
                        cached = None;
                        continue 'read;
                    }
                }
                let state = rec.execution.current();
                if state.is_terminated() && answer != SlotAnswer::Granted {
                    ended.push(state);
                }
            }
            // A record changes when an event is applied (its id becomes the last one);
            // events delivered again change nothing.
            let changed = rec.internal.last_event != before;
            let version = if !changed {
                version
            } else {
                let now = now_ms(self.clock.as_ref());
                let (back, json, more) = self.encode_within_ceiling(&flow, rec, now).await;
                rec = back;
                actions.extend(more);
                match self
                    .repos
                    .executions
                    .put_encoded(&rec, json?, Expect::Version(version))
                    .await
                {
                    Ok(v) => v,
                    // A stale cached record: read it again and re-apply.
                    Err(RepoError::Store(DocumentError::Conflict { .. })) if from_cache => continue,
                    Err(e) => return Err(e.into()),
                }
            };
            for state in ended {
                let _ = self.ended.send((id.to_owned(), state));
            }
            let carried = self.carry_out(&flow, &rec, actions).await;
            self.records.keep(rec, version);
            return carried;
        }
    }

    /// Whether `msg` starts a child execution whose parent is already being killed (or
    /// was): the child is then killed instead of started.
    ///
    /// This settles the race between a kill and the creation of a child under
    /// at-least-once delivery: the parent's record is written KILLING/KILLED before it
    /// sends `Kill` to its children, and a child's record is written before its `Start` is
    /// sent. So either the child exists when its `Kill` is handled (and is killed), or the
    /// `Kill` found no execution, and then the parent was KILLING/KILLED before the child
    /// was created: the child's start reads the parent (a strongly consistent read) and
    /// sees it. The grandchildren follow, one level at a time.
    async fn killed_parent(
        &self,
        rec: &Record,
        msg: &ExecutorMessage,
    ) -> Result<bool, ServiceError> {
        if !matches!(msg.event, Event::Start | Event::Timer(_))
            || rec.execution.current() != State::Created
            || rec.internal.last_event.as_deref() == Some(msg.id.as_str())
        {
            return Ok(false);
        }
        let Some(parent) = rec
            .execution
            .trigger
            .as_ref()
            .filter(|t| t.kind == executor::flowable::subflow::SUBFLOW_TRIGGER)
            .and_then(|t| t.variables.get("parentExecutionId"))
            .and_then(serde_json::Value::as_str)
        else {
            return Ok(false);
        };
        let killed = self
            .repos
            .executions
            .get(parent)
            .await?
            .is_some_and(|(p, _)| matches!(p.execution.current(), State::Killing | State::Killed));
        if killed {
            tracing::info!(execution = %rec.execution.id, parent = %parent, "parent killed: the child is killed instead of started");
        }
        Ok(killed)
    }

    /// Applies `event` to `rec` and decides, answering what the decision needs: when it
    /// returns [`Action::Need`], the values are looked up here (outside the decision),
    /// recorded into the copy of the record taken before deciding, and the event is
    /// decided again, at most [`MAX_NEED_ROUNDS`] times. [`Decided::Lost`] when a decision
    /// needed values and no copy was kept (`copy` false).
    async fn decide_with_lookups(
        &self,
        flow: &Arc<Flow>,
        mut rec: Record,
        event: &Event,
        event_id: &str,
        now: chrono::DateTime<chrono::Utc>,
        copy: bool,
    ) -> Result<Decided, ServiceError> {
        for _ in 0..=MAX_NEED_ROUNDS {
            let spare = copy.then(|| rec.clone());
            let (back, actions) = self.decide(flow, rec, event, event_id, now).await;
            let [Action::Need(needed)] = actions.as_slice() else {
                return Ok(Decided::Done(Box::new(back), actions));
            };
            let Some(mut spare) = spare else {
                return Ok(Decided::Lost);
            };
            tracing::debug!(
                execution = %spare.execution.id,
                event = %event_id,
                needs = %needed.iter().map(ToString::to_string).collect::<Vec<_>>().join(", "),
                "the decision needs values: looking them up"
            );
            let answers = self.look_up(needed.clone()).await;
            spare.internal.lookups.record(event_id, answers);
            rec = spare;
        }
        Err(ServiceError::Decision {
            execution: rec.execution.id.clone(),
            event: event_id.to_owned(),
            reason: format!(
                "it still needed values after {MAX_NEED_ROUNDS} rounds of lookups \
                 (kv(), secret(), read()... whose answers lead to more of them)"
            ),
        })
    }

    /// Answers `needed` with the platform's host (I/O, on the blocking pool: the host
    /// blocks on the async ports).
    async fn look_up(&self, needed: Vec<Lookup>) -> Vec<(Lookup, Looked)> {
        let host = self.rt.host.clone();
        on_blocking_pool(move || {
            needed
                .into_iter()
                .map(|l| {
                    let answer = l.answer(host.as_ref());
                    (l, answer)
                })
                .collect()
        })
        .await
    }

    /// Applies `msg` to `rec` with the pure decision function, on the blocking pool: a
    /// decision may take seconds (a loop over 100,000 values), and must not hold an async
    /// thread meanwhile (the API, the pollers and the signal handlers run there). A panic
    /// of the decision is raised again here (the dispatch turns it into a failed message).
    async fn decide(
        &self,
        flow: &Arc<Flow>,
        mut rec: Record,
        event: &Event,
        event_id: &str,
        now: chrono::DateTime<chrono::Utc>,
    ) -> (Record, Vec<Action>) {
        let (flow, rt) = (Arc::clone(flow), self.rt.clone());
        let (event, event_id) = (event.clone(), event_id.to_owned());
        let hook = self.decision_hook.clone();
        let run = move || {
            if let Some(hook) = &hook {
                hook(&rec.execution.id);
            }
            let actions = executor::handle(&flow, &mut rec, &event, &event_id, &rt, now);
            (rec, actions)
        };
        on_blocking_pool(run).await
    }

    /// Encodes `rec` for storage (on the blocking pool); a record over the size ceiling
    /// fails its execution (the failed record is stored: it is at most one step over).
    async fn encode_within_ceiling(
        &self,
        flow: &Arc<Flow>,
        mut rec: Record,
        now: chrono::DateTime<chrono::Utc>,
    ) -> (Record, Result<String, RepoError>, Vec<Action>) {
        let (flow, rt) = (Arc::clone(flow), self.rt.clone());
        let run = move || {
            let json = ExecutionRepo::encode(&rec);
            let limits = rt.limits;
            let size = json.as_ref().map_or(0, String::len);
            if size <= limits.max_record_bytes || rec.execution.current().is_terminated() {
                return (rec, json, Vec::new());
            }
            let message = Ceiling::RecordBytes.exceeded(
                &limits,
                format!("Execution failed: its record takes {size} bytes"),
            );
            let actions = executor::fail(&flow, &mut rec, &message, &rt, now);
            let json = ExecutionRepo::encode(&rec);
            (rec, json, actions)
        };
        on_blocking_pool(run).await
    }

    /// The execution an executor message body is for (None when it does not decode).
    pub async fn executor_message_execution(&self, body: &str) -> Option<String> {
        self.decode_executor_message(body)
            .await
            .ok()
            .map(|m| m.execution_id)
    }

    /// Fails execution `id` with `message` (logged as an ERROR): its live task runs are
    /// killed and it ends FAILED. An execution already ended, or unknown, is left as is.
    pub async fn fail_execution(&self, id: &str, message: &str) -> Result<(), ServiceError> {
        self.records.take(id);
        for _ in 0..5 {
            let Some((mut rec, version)) = self.repos.executions.get(id).await? else {
                return Ok(());
            };
            if rec.execution.current().is_terminated() {
                return Ok(());
            }
            let e = &rec.execution;
            let flow = self
                .load_flow(&e.namespace, &e.flow_id, Some(e.flow_revision))
                .await?;
            let flow = Arc::new(flow);
            let now = now_ms(self.clock.as_ref());
            let (fl, rt, msg) = (Arc::clone(&flow), self.rt.clone(), message.to_owned());
            let run = move || {
                let actions = executor::fail(&fl, &mut rec, &msg, &rt, now);
                let json = ExecutionRepo::encode(&rec);
                (rec, json, actions)
            };
            let (rec, json, actions) = match tokio::task::spawn_blocking(run).await {
                Ok(done) => done,
                Err(e) => return Err(ServiceError::Other(format!("failing {id}: {e}"))),
            };
            match self
                .repos
                .executions
                .put_encoded(&rec, json?, Expect::Version(version))
                .await
            {
                Ok(_) => return self.carry_out(&flow, &rec, actions).await,
                Err(RepoError::Store(DocumentError::Conflict { .. })) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(ServiceError::Other(format!(
            "execution {id}: could not be failed, its record kept changing"
        )))
    }

    /// The answer to a CREATED execution's concurrency slot request (the conditional
    /// write of the slots document); an execution no longer CREATED (a redelivered
    /// start) asks nothing: its answer was applied already.
    async fn slot_answer(&self, flow: &Flow, rec: &Record) -> Result<SlotAnswer, ServiceError> {
        let e = &rec.execution;
        let Some(c) = &flow.concurrency else {
            return Ok(SlotAnswer::Granted);
        };
        if e.current() != State::Created {
            return Ok(SlotAnswer::Granted);
        }
        Ok(
            match self.admit(&e.namespace, &e.flow_id, c, &e.id).await? {
                concurrency::Admission::Run => SlotAnswer::Granted,
                concurrency::Admission::Queued => SlotAnswer::Queued,
                concurrency::Admission::Cancel => SlotAnswer::Cancelled,
                concurrency::Admission::Fail => SlotAnswer::Failed,
            },
        )
    }

    /// Frees the concurrency slot of `rec`'s execution; the queued execution it goes to
    /// is started (`Unqueue`).
    async fn release_slot(&self, flow: &Flow, rec: &Record) -> Result<(), ServiceError> {
        let e = &rec.execution;
        if let Some(c) = &flow.concurrency
            && let Some(next) = self.release(&e.namespace, &e.flow_id, c, &e.id).await?
        {
            self.send_event(&next, Event::Unqueue).await?;
        }
        Ok(())
    }

    /// Carries out `actions` of `rec`: messages are sent in batches per queue, log lines
    /// are written at the same time as the sends.
    pub(crate) async fn carry_out(
        &self,
        flow: &Flow,
        rec: &Record,
        actions: Vec<Action>,
    ) -> Result<(), ServiceError> {
        let mut jobs = Vec::new();
        let mut timers = Vec::new();
        let mut events = Vec::new();
        let mut logs = Vec::new();
        let mut kills = Vec::new();
        // The rest, carried out one after another once the batched sends are done.
        let mut later: Vec<BoxFuture<'_, Result<(), ServiceError>>> = Vec::new();
        for action in actions {
            match action {
                Action::Dispatch(job) => {
                    let body = serde_json::to_string(&job)
                        .map_err(|e| ServiceError::Other(e.to_string()))?;
                    jobs.push(OutgoingMessage::new(self.by_reference(body).await?));
                }
                Action::Timer { at, timer } => timers.push(TimerMessage {
                    execution_id: rec.execution.id.clone(),
                    at,
                    timer,
                }),
                Action::Logs { entries } => {
                    for l in &entries {
                        tracing::debug!(execution = %l.execution_id, task = ?l.task_id, "{}", l.message);
                    }
                    logs.extend(entries);
                }
                Action::NotifyParent {
                    execution_id,
                    task_run_id,
                    state,
                    outputs,
                    error,
                } => {
                    let event = Event::SubflowEnded {
                        task_run_id,
                        execution_id: rec.execution.id.clone(),
                        state,
                        outputs,
                        error,
                    };
                    events.push(self.event_message(&execution_id, event).await?);
                }
                Action::KillTask { task_run_id } => kills.push(task_run_id),
                // Answered before the decision is kept (`decide_with_lookups`).
                Action::ReleaseSlot => later.push(Box::pin(self.release_slot(flow, rec))),
                // Asked for before the record is written (`apply_events`).
                Action::RequestSlot => tracing::warn!(
                    execution = %rec.execution.id,
                    "a RequestSlot action reached carry_out; ignored"
                ),
                Action::Need(needed) => tracing::warn!(
                    execution = %rec.execution.id,
                    "a Need action reached carry_out; ignored ({} lookups)",
                    needed.len()
                ),
                Action::KillExecution { execution_id } => {
                    events.push(self.event_message(&execution_id, Event::Kill).await?);
                }
                Action::StartSubflow(req) => later.push(Box::pin(self.start_subflow(req))),
                Action::RetryExecution { at } => {
                    later.push(Box::pin(self.retry_in_new_execution(&rec.execution, at)));
                }
                Action::ResumeExecution {
                    execution_id,
                    inputs,
                } => later.push(Box::pin(self.resume_other(execution_id, inputs))),
                Action::Ended { state } => later.push(Box::pin(self.on_ended(flow, rec, state))),
                Action::ExecutionStateChanged(change) => {
                    later.push(Box::pin(self.on_state_changed(flow, rec, change)));
                }
            }
        }
        let sends = async {
            self.request_kills(&rec.execution.id, kills).await?;
            self.send_all(&self.names.worker, jobs).await?;
            self.send_all(&self.names.executor, events).await?;
            self.schedule_timers(timers).await?;
            for step in later {
                step.await?;
            }
            Ok::<(), ServiceError>(())
        };
        let write_logs = async {
            if !logs.is_empty() {
                self.repos.logs.append(&logs).await?;
            }
            Ok::<(), ServiceError>(())
        };
        tokio::try_join!(sends, write_logs)?;
        Ok(())
    }

    /// Asks the workers running `task_runs` to stop them: one kill request each, written
    /// side by side (see [`crate::worker::kill`]).
    async fn request_kills(
        &self,
        execution_id: &str,
        task_runs: Vec<String>,
    ) -> Result<(), ServiceError> {
        use futures::{StreamExt, TryStreamExt};
        let now = self.clock.now();
        futures::stream::iter(task_runs)
            .map(|id| async move {
                self.repos
                    .kills
                    .request(&id, execution_id, now)
                    .await
                    .map_err(ServiceError::from)
            })
            .buffer_unordered(16)
            .try_collect::<()>()
            .await
    }

    /// The execution's state changed: the Flow triggers listening react
    /// ([`crate::triggers::flow`]).
    async fn on_state_changed(
        &self,
        flow: &Flow,
        rec: &Record,
        change: executor::StateChange,
    ) -> Result<(), ServiceError> {
        crate::triggers::flow::on_state_changed(self, flow, rec, &change).await?;
        Ok(())
    }

    async fn retry_in_new_execution(
        &self,
        e: &crate::model::Execution,
        at: chrono::DateTime<chrono::Utc>,
    ) -> Result<(), ServiceError> {
        let next = self.replay_as_retry(e, at).await?;
        tracing::info!(execution = %e.id, next = %next, "retrying in a new execution");
        Ok(())
    }

    /// The Resume task's action: resumes another execution, if it exists.
    async fn resume_other(
        &self,
        execution_id: String,
        inputs: serde_json::Map<String, serde_json::Value>,
    ) -> Result<(), ServiceError> {
        if self.repos.executions.get(&execution_id).await?.is_some() {
            self.send_event(&execution_id, Event::Resume { inputs })
                .await
        } else {
            tracing::warn!(execution = %execution_id, "Resume task: no such execution");
            Ok(())
        }
    }

    /// The execution ended: its trigger's `stopAfter` applies (its concurrency slot was
    /// released by [`Action::ReleaseSlot`], just before).
    async fn on_ended(&self, flow: &Flow, rec: &Record, state: State) -> Result<(), ServiceError> {
        let e = &rec.execution;
        crate::triggers::stop_after::on_execution_ended(self, flow, e, state).await?;
        let _ = self.ended.send((e.id.clone(), state));
        Ok(())
    }

    /// Sends `msgs` to `queue`, in order, in batches of at most 10 messages and 256 KiB.
    pub(crate) async fn send_all(
        &self,
        queue: &str,
        msgs: Vec<OutgoingMessage>,
    ) -> Result<(), ServiceError> {
        let mut batch: Vec<OutgoingMessage> = Vec::new();
        let mut size = 0;
        for msg in msgs {
            if !batch.is_empty()
                && (batch.len() == MAX_BATCH || size + msg.body.len() > MAX_BATCH_BYTES)
            {
                self.send_chunk(queue, std::mem::take(&mut batch)).await?;
                size = 0;
            }
            size += msg.body.len();
            batch.push(msg);
        }
        if !batch.is_empty() {
            self.send_chunk(queue, batch).await?;
        }
        Ok(())
    }

    async fn send_chunk(
        &self,
        queue: &str,
        batch: Vec<OutgoingMessage>,
    ) -> Result<(), ServiceError> {
        match <[OutgoingMessage; 1]>::try_from(batch) {
            Ok([msg]) => {
                self.queue.send(queue, msg).await?;
            }
            Err(batch) => {
                self.queue.send_batch(queue, batch).await?;
            }
        }
        Ok(())
    }
}

/// Runs `f` on the blocking pool (CPU-bound work that must not hold an async thread) and
/// returns its result; a panic of `f` is raised again here, so the dispatch fails only the
/// message concerned.
async fn on_blocking_pool<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    match tokio::task::spawn_blocking(f).await {
        Ok(done) => done,
        Err(e) => match e.try_into_panic() {
            Ok(panic) => std::panic::resume_unwind(panic),
            Err(e) => panic!("work on the blocking pool was cancelled: {e}"),
        },
    }
}
