//! Ceilings of one execution: how many task runs it may create, how many values one loop
//! (`ForEach`, `ForEachItem`) may iterate, how large its record may grow. An execution
//! that would pass one fails (FAILED, with an ERROR log line naming the ceiling, its value
//! and how to raise it) instead of taking the executor's memory and time.

use std::fmt;

/// The ceilings (see the module docs). Set on [`super::Runtime::limits`]; `kite server
/// local` takes them from flags or the environment, the Lambda functions from the
/// environment ([`Limits::from_env`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Task runs per execution (`KITE_MAX_TASK_RUNS`).
    pub max_task_runs: usize,
    /// Values per loop (`KITE_MAX_LOOP_VALUES`).
    pub max_loop_values: usize,
    /// Bytes of an execution record as stored, JSON (`KITE_MAX_RECORD_BYTES`).
    pub max_record_bytes: usize,
}

/// The default number of task runs per execution: a loop at the values ceiling with one
/// task inside (100,001 runs) fits, with room for the rest of its flow.
pub const DEFAULT_MAX_TASK_RUNS: usize = 200_000;
/// The default number of values per loop.
pub const DEFAULT_MAX_LOOP_VALUES: usize = 100_000;
/// The default record size: 256 MiB. Records over 300 KB are kept in internal storage
/// (S3 or files), which allows far more; the bound is what one executor step can read,
/// decide and write within its memory (a 100,000-run record is tens of MB).
pub const DEFAULT_MAX_RECORD_BYTES: usize = 256 * 1024 * 1024;

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_task_runs: DEFAULT_MAX_TASK_RUNS,
            max_loop_values: DEFAULT_MAX_LOOP_VALUES,
            max_record_bytes: DEFAULT_MAX_RECORD_BYTES,
        }
    }
}

/// One ceiling: its name, its environment variable and its `kite server local` flag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ceiling {
    /// [`Limits::max_task_runs`].
    TaskRuns,
    /// [`Limits::max_loop_values`].
    LoopValues,
    /// [`Limits::max_record_bytes`].
    RecordBytes,
}

impl Ceiling {
    /// The environment variable setting it.
    pub fn env(self) -> &'static str {
        match self {
            Ceiling::TaskRuns => "KITE_MAX_TASK_RUNS",
            Ceiling::LoopValues => "KITE_MAX_LOOP_VALUES",
            Ceiling::RecordBytes => "KITE_MAX_RECORD_BYTES",
        }
    }

    /// The `kite server local` flag setting it.
    pub fn flag(self) -> &'static str {
        match self {
            Ceiling::TaskRuns => "--max-task-runs",
            Ceiling::LoopValues => "--max-loop-values",
            Ceiling::RecordBytes => "--max-record-bytes",
        }
    }

    /// Its name in messages.
    pub fn name(self) -> &'static str {
        match self {
            Ceiling::TaskRuns => "task runs per execution",
            Ceiling::LoopValues => "values per loop",
            Ceiling::RecordBytes => "bytes per execution record",
        }
    }

    /// Its value in `limits`.
    pub fn of(self, limits: &Limits) -> usize {
        match self {
            Ceiling::TaskRuns => limits.max_task_runs,
            Ceiling::LoopValues => limits.max_loop_values,
            Ceiling::RecordBytes => limits.max_record_bytes,
        }
    }

    /// The message failing an execution that passed it: `what` happened.
    pub fn exceeded(self, limits: &Limits, what: impl fmt::Display) -> String {
        format!(
            "{what}: over the ceiling of {} {} (raise it with {} on `kite server local` or the {} environment variable)",
            self.of(limits),
            self.name(),
            self.flag(),
            self.env()
        )
    }
}

impl Limits {
    /// The defaults, overridden by the variables `get` returns (`KITE_MAX_*`); a value
    /// that is not a positive integer is an error naming the variable.
    pub fn from_env(get: impl Fn(&str) -> Option<String>) -> Result<Limits, String> {
        let mut limits = Limits::default();
        for (ceiling, slot) in [
            (Ceiling::TaskRuns, &mut limits.max_task_runs),
            (Ceiling::LoopValues, &mut limits.max_loop_values),
            (Ceiling::RecordBytes, &mut limits.max_record_bytes),
        ] {
            if let Some(raw) = get(ceiling.env()) {
                *slot = parse_positive(&raw).map_err(|e| format!("{}: {e}", ceiling.env()))?;
            }
        }
        Ok(limits)
    }
}

/// A positive integer (`_` separators allowed).
pub fn parse_positive(raw: &str) -> Result<usize, String> {
    match raw.trim().replace('_', "").parse::<usize>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(format!("`{raw}` is not a positive integer")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_env_reads_overrides_and_refuses_garbage() {
        let l =
            Limits::from_env(|k| (k == "KITE_MAX_TASK_RUNS").then(|| "5_000".to_owned())).unwrap();
        assert_eq!(l.max_task_runs, 5_000);
        assert_eq!(l.max_loop_values, DEFAULT_MAX_LOOP_VALUES);
        let e = Limits::from_env(|k| (k == "KITE_MAX_LOOP_VALUES").then(|| "0".to_owned()))
            .unwrap_err();
        assert!(e.contains("KITE_MAX_LOOP_VALUES"), "{e}");
    }
}
