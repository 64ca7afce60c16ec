//! An index over an execution's task runs: by id, by parent, by (parent, loop value).
//!
//! Without it every lookup scans the whole task run list, and a decision over a loop of
//! N values costs N² (each created run looks its siblings and ancestors up). The index
//! is not stored (it is rebuilt from the list after a read) and keeps itself in step with
//! the list, which stays a plain public `Vec`: runs are appended (the index takes the new
//! tail on its next use), and a list changed otherwise (runs removed by a restart, a list
//! replaced) is noticed by a check on each use (length, last id, the ids found) and
//! indexed again.

use std::collections::HashMap;
use std::sync::Mutex;

use super::task_run::TaskRun;

/// The index (empty until first used). Cloning gives an empty index; two indexes always
/// compare equal (they are derived data).
#[derive(Default)]
pub struct RunIndex {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    /// How many runs of the list are indexed.
    len: usize,
    /// The id of the last indexed run (to notice a list changed other than by appends).
    last_id: String,
    by_id: HashMap<String, usize>,
    by_parent: HashMap<Option<String>, Vec<usize>>,
    by_value: HashMap<(Option<String>, String), Vec<usize>>,
    /// How many times the list was indexed from scratch (for tests).
    rebuilds: u64,
}

impl Inner {
    fn sync(&mut self, list: &[TaskRun]) {
        let prefix_kept =
            self.len <= list.len() && (self.len == 0 || list[self.len - 1].id == self.last_id);
        if !prefix_kept {
            self.rebuild(list);
            return;
        }
        for (i, r) in list.iter().enumerate().skip(self.len) {
            self.add(i, r);
        }
        self.len = list.len();
        if let Some(last) = list.last() {
            self.last_id.clone_from(&last.id);
        }
    }

    fn rebuild(&mut self, list: &[TaskRun]) {
        let rebuilds = self.rebuilds + 1;
        *self = Inner {
            rebuilds,
            ..Inner::default()
        };
        self.sync(list);
    }

    fn add(&mut self, i: usize, r: &TaskRun) {
        super::execution::visit(1);
        self.by_id.insert(r.id.clone(), i);
        self.by_parent
            .entry(r.parent_task_run_id.clone())
            .or_default()
            .push(i);
        if let Some(v) = &r.value {
            self.by_value
                .entry((r.parent_task_run_id.clone(), v.clone()))
                .or_default()
                .push(i);
        }
    }

    fn position(&mut self, list: &[TaskRun], id: &str) -> Option<usize> {
        super::execution::visit(1);
        self.sync(list);
        match self.by_id.get(id) {
            Some(&i) if list.get(i).is_some_and(|r| r.id == id) => Some(i),
            Some(_) => {
                self.rebuild(list);
                self.by_id.get(id).copied()
            }
            None => None,
        }
    }

    fn positions(
        &mut self,
        list: &[TaskRun],
        parent: Option<&str>,
        value: Option<&str>,
    ) -> Vec<usize> {
        self.sync(list);
        let found = self.lookup(parent, value);
        let fits = |i: &usize| {
            list.get(*i).is_some_and(|r| {
                r.parent_task_run_id.as_deref() == parent
                    && (value.is_none() || r.value.as_deref() == value)
            })
        };
        if found.iter().all(fits) {
            return found;
        }
        self.rebuild(list);
        self.lookup(parent, value)
    }

    fn lookup(&self, parent: Option<&str>, value: Option<&str>) -> Vec<usize> {
        let parent = parent.map(str::to_owned);
        match value {
            None => self.by_parent.get(&parent).cloned().unwrap_or_default(),
            Some(v) => self
                .by_value
                .get(&(parent, v.to_owned()))
                .cloned()
                .unwrap_or_default(),
        }
    }
}

impl RunIndex {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // The index is derived data: a panic while it was held leaves at worst a stale
        // index, which the checks on use rebuild.
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The position of run `id` in `list`.
    pub fn position(&self, list: &[TaskRun], id: &str) -> Option<usize> {
        self.lock().position(list, id)
    }

    /// The positions of the children of `parent` (with loop `value` when given), in
    /// creation order.
    pub fn children(
        &self,
        list: &[TaskRun],
        parent: Option<&str>,
        value: Option<&str>,
    ) -> Vec<usize> {
        self.lock().positions(list, parent, value)
    }

    /// How many times the list was indexed from scratch.
    pub fn rebuilds(&self) -> u64 {
        self.lock().rebuilds
    }
}

impl Clone for RunIndex {
    fn clone(&self) -> Self {
        Self::default()
    }
}

impl PartialEq for RunIndex {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl std::fmt::Debug for RunIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RunIndex")
    }
}
