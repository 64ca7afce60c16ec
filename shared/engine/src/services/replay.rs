//! Replay: a new execution of the same flow revision with the same inputs and labels,
//! from scratch or from a given task run (that run and its ancestors run again; what ran
//! before it is kept; what came after it is dropped). `parentId` is the replayed execution,
//! `originalId` is kept.

use std::collections::{BTreeMap, BTreeSet};

use kite_ports::Expect;

use super::{Platform, ServiceError};
use crate::executor::{Event, Record};
use crate::model::{Execution, State, StateHistory, ids};

impl Platform {
    /// A new execution of `e`'s chain for `CREATE_NEW_EXECUTION` retries, started at `at`
    /// (its id is derived, so a redelivered action creates it once).
    pub async fn replay_as_retry(
        &self,
        e: &Execution,
        at: chrono::DateTime<chrono::Utc>,
    ) -> Result<String, ServiceError> {
        let new_id = ids::derived_id(&[&e.id, "retry"]);
        if self.start_if_created(&new_id).await? {
            return Ok(new_id);
        }
        let now = super::now_ms(self.clock.as_ref());
        let mut exec = Execution {
            id: new_id.clone(),
            state: StateHistory::new(State::Created, now),
            task_run_list: Vec::new(),
            outputs: Default::default(),
            parent_id: Some(e.id.clone()),
            original_id: e.original_id.clone().or_else(|| Some(e.id.clone())),
            ..e.clone()
        };
        exec.metadata.attempt_number = e.metadata.attempt_number + 1;
        exec.schedule_date = Some(at);
        let rec = Record::new(exec);
        self.repos.executions.put(&rec, Expect::Absent).await?;
        self.start_created(&rec.execution).await?;
        Ok(new_id)
    }

    /// Replays execution `id` (from `task_run_id` when given); returns the new execution.
    pub async fn replay(
        &self,
        id: &str,
        task_run_id: Option<&str>,
    ) -> Result<Execution, ServiceError> {
        let (old, _) = self
            .repos
            .executions
            .get(id)
            .await?
            .ok_or_else(|| ServiceError::Other(format!("execution {id} not found")))?;
        let now = super::now_ms(self.clock.as_ref());
        let new_id = ids::random_id();
        let e = &old.execution;
        let mut exec = Execution {
            id: new_id.clone(),
            state: StateHistory::new(State::Created, now),
            task_run_list: Vec::new(),
            outputs: Default::default(),
            parent_id: Some(e.id.clone()),
            original_id: e.original_id.clone().or_else(|| Some(e.id.clone())),
            ..e.clone()
        };
        exec.labels.retain(|l| l.key != "system.correlationId");
        exec.labels.push(crate::model::Label {
            key: "system.correlationId".into(),
            value: new_id.clone(),
        });
        let mut rec = Record::new(exec);
        if let Some(target) = task_run_id {
            let pos = e
                .task_run_list
                .iter()
                .position(|r| r.id == target)
                .ok_or_else(|| {
                    ServiceError::Other(format!("task run {target} is not part of execution {id}"))
                })?;
            let mut ancestors = BTreeSet::new();
            let mut cur = e.task_run_list[pos].parent_task_run_id.clone();
            while let Some(c) = cur {
                cur = e.task_run(&c).and_then(|r| r.parent_task_run_id.clone());
                ancestors.insert(c);
            }
            let map: BTreeMap<String, String> = e
                .task_run_list
                .iter()
                .map(|r| (r.id.clone(), ids::derived_id(&[&new_id, &r.id])))
                .collect();
            for (i, r) in e.task_run_list.iter().enumerate() {
                let keep = i < pos || ancestors.contains(&r.id) || i == pos;
                if !keep {
                    continue;
                }
                let mut r = r.clone();
                r.execution_id = new_id.clone();
                r.id = map[&r.id].clone();
                r.parent_task_run_id = r
                    .parent_task_run_id
                    .as_ref()
                    .map(|p| map.get(p).cloned().unwrap_or_default());
                if i == pos || ancestors.contains(&e.task_run_list[i].id) {
                    r.state.set(State::Restarted, now);
                }
                rec.execution.task_run_list.push(r);
            }
            for (old_id, v) in &old.internal.loops {
                if let Some(n) = map.get(old_id) {
                    rec.internal.loops.insert(n.clone(), v.clone());
                }
            }
            for (old_id, v) in &old.internal.branches {
                if let Some(n) = map.get(old_id) {
                    rec.internal.branches.insert(n.clone(), v.clone());
                }
            }
            rec.internal.seq = old.internal.seq;
        }
        self.repos.executions.put(&rec, Expect::Absent).await?;
        self.send_event(&new_id, Event::Start).await?;
        Ok(rec.execution)
    }
}
