//! `kite flow validate` and `kite flow schema` as a user runs them.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn kite(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kite"))
        .args(args)
        .output()
        .expect("kite runs")
}

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn valid_folder_exits_zero_with_a_summary() {
    let o = kite(&[
        "flow",
        "validate",
        examples().join("flows").to_str().unwrap(),
    ]);
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(out.contains("✓ - kite.examples / hello"), "{out}");
    assert!(out.contains("✓ - kite.examples / webhook"), "{out}");
    let n = std::fs::read_dir(examples().join("flows"))
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .is_ok_and(|e| e.path().extension().is_some_and(|x| x == "yaml"))
        })
        .count();
    assert!(
        out.contains(&format!("{n} flows checked: {n} valid, 0 invalid")),
        "{out}"
    );
}

#[test]
fn a_bad_webhook_key_is_refused_at_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("hook.yaml");
    std::fs::write(
        &f,
        "id: hook\nnamespace: kite.test\ntasks:\n  - id: a\n    type: io.kestra.plugin.core.log.Log\n    message: hi\ntriggers:\n  - id: call\n    type: io.kestra.plugin.core.trigger.Webhook\n    key: not/a key\n",
    )
    .unwrap();
    let o = kite(&["flow", "validate", f.to_str().unwrap()]);
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(
        out.contains(&format!(
            "{}:10:5: triggers[0].key: the webhook key has characters outside [a-zA-Z0-9_-]",
            f.display()
        )),
        "{out}"
    );
}

#[test]
fn invalid_file_prints_file_line_col_and_exits_one() {
    let file = examples().join("invalid/typos.yaml");
    let o = kite(&["flow", "validate", file.to_str().unwrap()]);
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    let shown = file.display().to_string();
    assert!(
        out.contains(&format!(
            "{shown}:5:11: Invalid type: io.kestra.plugin.core.log.Logg"
        )),
        "{out}"
    );
    assert!(
        out.contains("Did you mean `io.kestra.plugin.core.log.Log`?"),
        "{out}"
    );
    assert!(
        out.contains(&format!("{shown}:9:5: Unrecognized field \"fromat\"")),
        "{out}"
    );
    assert!(out.contains("Did you mean `format`?"), "{out}");
    assert!(out.contains("1 flow checked: 0 valid, 1 invalid"), "{out}");
}

#[test]
fn json_report_for_tools() {
    let file = examples().join("invalid/typos.yaml");
    let o = kite(&["flow", "validate", "--json", file.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("JSON");
    let d = &v[0]["flows"][0]["diagnostics"][0];
    assert_eq!(d["severity"], "error");
    assert_eq!(d["loc"]["line"], 5);
    assert_eq!(d["path"], "tasks[0].type");
}

#[test]
fn warnings_and_infos_do_not_fail() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("old.yml");
    std::fs::write(
        &f,
        "id: old\nnamespace: system\ntasks:\n  - id: e\n    type: io.kestra.plugin.core.debug.Echo\n    format: hi\n  - id: a\n    type: io.kestra.core.tasks.log.Log\n    message: hi\n",
    )
    .unwrap();
    let o = kite(&["flow", "validate", f.to_str().unwrap()]);
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(
        out.contains("⚠") && out.contains("tasks[0] is deprecated"),
        "{out}"
    );
    assert!(
        out.contains("ℹ")
            && out.contains(
                "io.kestra.core.tasks.log.Log is replaced by io.kestra.plugin.core.log.Log"
            ),
        "{out}"
    );
}

#[test]
fn missing_path_is_a_usage_error() {
    let o = kite(&["flow", "validate", "/no/such/flow.yaml"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("no such file or folder"));
}

#[test]
fn not_utf8_is_reported_not_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("bin.yaml");
    std::fs::write(&f, [0xff, 0xfe, 0x00, 0x41]).unwrap();
    let o = kite(&["flow", "validate", f.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stdout(&o).contains("not UTF-8"));
}

#[test]
fn schema_is_json_schema_with_every_core_task() {
    let o = kite(&["flow", "schema"]);
    assert_eq!(o.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("JSON");
    assert!(v["$schema"].as_str().unwrap().contains("2020-12"));
    assert!(
        v["$defs"]["io.kestra.plugin.core.flow.ForEach"]["properties"]["concurrencyLimit"]
            .is_object()
    );
    assert_eq!(
        v["required"],
        serde_json::json!(["tasks"])
            .as_array()
            .map(|_| v["required"].clone())
            .unwrap()
    );
}
