//! What validation refuses, or accepts with a located warning, rather than letting a flow
//! do nothing at run time: removed templates, other task runners, namespace files,
//! properties kept for compatibility.

mod common;

use common::{assert_error, assert_valid, log};
use kite_flow::{Location, Severity};

const HEAD: &str = "id: orders\nnamespace: company.sales\n";

#[test]
fn template_tasks_are_refused_with_the_replacement() {
    let d = assert_error(
        &format!(
            "{HEAD}tasks:\n  - id: tpl\n    type: io.kestra.plugin.core.flow.Template\n    namespace: company.sales\n    templateId: shared\n"
        ),
        &[
            "tpl: io.kestra.plugin.core.flow.Template is not supported",
            "Subflow",
        ],
    );
    assert_eq!(d.loc, Location::new(4, 5));
}

#[test]
fn task_runners_other_than_process_are_refused_at_the_property() {
    let script = |runner: &str| {
        format!(
            "{HEAD}tasks:\n  - id: sh\n    type: io.kestra.plugin.scripts.shell.Commands\n    commands: [\"echo hi\"]\n    taskRunner:\n      type: {runner}\n"
        )
    };
    let d = assert_error(
        &script("io.kestra.plugin.scripts.runner.docker.Docker"),
        &[
            "tasks[0].taskRunner: the task runner `io.kestra.plugin.scripts.runner.docker.Docker` is not supported",
        ],
    );
    assert_eq!(d.loc, Location::new(7, 5));
    assert_eq!(d.path, "tasks[0].taskRunner");
    assert_valid(&script("io.kestra.plugin.core.runner.Process"));
}

#[test]
fn enabled_namespace_files_are_refused_disabled_ones_accepted() {
    let script = |nf: &str| {
        format!(
            "{HEAD}tasks:\n  - id: py\n    type: io.kestra.plugin.scripts.python.Script\n    script: print(1)\n    namespaceFiles:\n{nf}"
        )
    };
    let d = assert_error(
        &script("      include: [\"*.py\"]\n"),
        &["namespace files are not supported"],
    );
    assert_eq!(d.loc, Location::new(7, 5));
    assert_valid(&script("      enabled: false\n"));
    let wd = format!(
        "{HEAD}tasks:\n  - id: wd\n    type: io.kestra.plugin.core.flow.WorkingDirectory\n    namespaceFiles:\n      enabled: true\n    tasks:\n      - id: t\n        type: io.kestra.plugin.core.log.Log\n        message: hi\n"
    );
    let d = assert_error(
        &wd,
        &["tasks[0].namespaceFiles: namespace files are not supported"],
    );
    assert_eq!(d.loc, Location::new(6, 5));
}

#[test]
fn properties_kept_for_compatibility_are_warned_at_their_location() {
    let parsed = assert_valid(&format!(
        "{HEAD}tasks:\n  - id: sh\n    type: io.kestra.plugin.scripts.shell.Script\n    script: echo hi\n    containerImage: ubuntu:24.04\n    logToFile: true\n"
    ));
    let warnings: Vec<_> = parsed
        .diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Warning)
        .map(|d| (d.path.as_str(), d.loc, d.render("f.yaml")))
        .collect();
    assert_eq!(warnings.len(), 2, "{warnings:#?}");
    assert_eq!(warnings[0].0, "tasks[0].containerImage");
    assert_eq!(warnings[0].1, Location::new(7, 5));
    assert!(
        warnings[0].2.starts_with(
            "f.yaml:7:5: warning: tasks[0].containerImage: `containerImage` is ignored"
        ),
        "{}",
        warnings[0].2
    );
    assert_eq!(warnings[1].0, "tasks[0].logToFile");
    assert_eq!(warnings[1].1, Location::new(8, 5));
}

#[test]
fn listeners_refuse_multiple_condition_and_public_holiday_is_refused() {
    let d = assert_error(
        &format!(
            "{HEAD}tasks:\n{}listeners:\n  - conditions:\n      - type: io.kestra.plugin.core.condition.MultipleCondition\n        id: w\n        conditions:\n          a:\n            type: io.kestra.plugin.core.condition.ExecutionStatus\n            in: [SUCCESS]\n    tasks:\n{}",
            log("t"),
            log("l")
                .replace("  - ", "      - ")
                .replace("\n    ", "\n        ")
        ),
        &[
            "listeners[0].conditions[0]: a MultipleCondition",
            "only applies to Flow triggers",
        ],
    );
    assert_eq!(d.loc, Location::new(9, 9));
}
