//! Core task types, one file per type, registered in [`register`].

pub mod allow_failure;
pub mod dag;
pub mod each_parallel;
pub mod each_sequential;
pub mod echo;
pub mod exit;
pub mod fail;
pub mod fetch;
pub mod for_each;
pub mod for_each_item;
pub mod http_download;
pub mod http_request;
pub mod r#if;
pub mod jdbc;
pub mod kv_delete;
pub mod kv_get;
pub mod kv_get_keys;
pub mod kv_set;
pub mod labels;
pub mod local_files;
pub mod log;
pub mod output_values;
pub mod parallel;
pub mod pause;
pub mod resume;
pub mod r#return;
pub mod script_commands;
pub mod script_inline;
pub mod sequential;
pub mod sleep;
pub mod state_delete;
pub mod state_get;
pub mod state_set;
pub mod storage_concat;
pub mod storage_delete;
pub mod storage_size;
pub mod storage_split;
pub mod subflow;
pub mod switch;
pub mod template;
pub mod toggle;
pub mod wait_for;
pub mod working_directory;

use crate::plugin::{Registry, Task};
use crate::validate::Validator;

/// Registers every core task type.
pub fn register(r: &mut Registry) {
    r.register::<sequential::Sequential>()
        .register::<parallel::Parallel>()
        .register::<r#if::If>()
        .register::<switch::Switch>()
        .register::<for_each::ForEach>()
        .register::<each_sequential::EachSequential>()
        .register::<each_parallel::EachParallel>()
        .register::<dag::Dag>()
        .register::<allow_failure::AllowFailure>()
        .register::<subflow::Subflow>()
        .register::<for_each_item::ForEachItem>()
        .register::<pause::Pause>()
        .register::<wait_for::WaitFor>()
        .register::<working_directory::WorkingDirectory>()
        .register::<template::Template>()
        .register::<log::Log>()
        .register::<r#return::Return>()
        .register::<echo::Echo>()
        .register::<output_values::OutputValues>()
        .register::<fail::Fail>()
        .register::<exit::Exit>()
        .register::<labels::Labels>()
        .register::<resume::Resume>()
        .register::<sleep::Sleep>()
        .register::<fetch::Fetch>()
        .register::<kv_set::KvSet>()
        .register::<kv_get::KvGet>()
        .register::<kv_get_keys::KvGetKeys>()
        .register::<kv_delete::KvDelete>()
        .register::<state_set::StateSet>()
        .register::<state_get::StateGet>()
        .register::<state_delete::StateDelete>()
        .register::<storage_size::StorageSize>()
        .register::<storage_delete::StorageDelete>()
        .register::<storage_concat::StorageConcat>()
        .register::<storage_split::StorageSplit>()
        .register::<local_files::LocalFiles>()
        .register::<http_request::HttpRequest>()
        .register::<http_download::HttpDownload>()
        .register::<toggle::Toggle>()
        .register::<script_commands::ShellCommands>()
        .register::<script_inline::ShellScript>()
        .register::<script_commands::PythonCommands>()
        .register::<script_inline::PythonScript>();
    r.register::<jdbc::postgresql::PostgresQuery>();
    r.register::<jdbc::sqlite::SqliteQuery>();
}

/// Reports `name` as empty (Kestra's "must not be empty") on the current task.
pub(crate) fn require_tasks(v: &mut Validator<'_>, name: &str, tasks: &[Task]) {
    if tasks.is_empty() {
        v.task_error(format!("`{name}` must not be empty: add at least one task"));
    }
}

/// The legacy alias of a core flowable task (`io.kestra.core.tasks.flows.X`).
macro_rules! legacy_flows {
    ($name:literal) => {
        concat!("io.kestra.core.tasks.flows.", $name)
    };
}
pub(crate) use legacy_flows;
