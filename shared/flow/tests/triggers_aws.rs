//! The AWS trigger types (S3 file detection, SQS batches, SQS realtime): what parses, and what
//! validation rejects with its location.

use kite_flow::triggers::aws_s3::{S3Action, S3Trigger};
use kite_flow::triggers::aws_sqs::SqsTrigger;
use kite_flow::triggers::aws_sqs_realtime::SqsRealtimeTrigger;
use kite_flow::{Diagnostic, parse_flow};

fn flow(trigger: &str) -> String {
    format!(
        "id: watch\nnamespace: kite.tests\ntasks:\n  - id: log\n    type: io.kestra.plugin.core.log.Log\n    message: hi\ntriggers:\n{trigger}"
    )
}

fn errors(source: &str) -> Vec<Diagnostic> {
    parse_flow(source).errors().cloned().collect()
}

#[test]
fn s3_trigger_parses_with_kestra_properties() {
    let src = flow(
        r#"  - id: files
    type: io.kestra.plugin.aws.s3.Trigger
    bucket: incoming
    prefix: in/
    regexp: ".*\\.csv"
    maxKeys: 50
    interval: PT10S
    action: MOVE
    moveTo:
      key: archive
      bucket: done
    filter: FILES
    region: eu-west-1
    endpointOverride: http://127.0.0.1:5000
    accessKeyId: "{{ secret('AWS_KEY') }}"
    secretKeyId: "{{ secret('AWS_SECRET') }}"
"#,
    );
    let parsed = parse_flow(&src);
    let f = parsed
        .flow
        .unwrap_or_else(|| panic!("{:?}", parsed.diagnostics));
    let t = f.triggers[0].spec::<S3Trigger>().expect("an S3 trigger");
    assert_eq!(t.bucket, "incoming");
    assert_eq!(t.action, S3Action::Move);
    assert_eq!(t.move_to.as_ref().unwrap().bucket.as_deref(), Some("done"));
    assert_eq!(t.interval().as_millis(), 10_000);
    let c = t.connection();
    assert_eq!(c.region.as_deref(), Some("eu-west-1"));
    assert_eq!(
        c.endpoint_override.as_deref(),
        Some("http://127.0.0.1:5000")
    );
    assert!(t.filter_accepts("a.csv") && !t.filter_accepts("dir/"));
}

#[test]
fn s3_defaults_are_kestras() {
    let src = flow(
        "  - id: files\n    type: io.kestra.plugin.aws.s3.Trigger\n    bucket: b\n    action: NONE\n",
    );
    let f = parse_flow(&src).flow.expect("valid");
    let t = f.triggers[0].spec::<S3Trigger>().unwrap();
    assert_eq!(t.interval().as_millis(), 60_000);
    assert!(t.filter_accepts("dir/") && t.filter_accepts("file"));
}

#[test]
fn s3_interval_under_a_second_is_rejected_at_its_line() {
    let src = flow(
        "  - id: files\n    type: io.kestra.plugin.aws.s3.Trigger\n    bucket: b\n    action: DELETE\n    interval: PT0.5S\n",
    );
    let errs = errors(&src);
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert_eq!(errs[0].path, "triggers[0].interval");
    assert_eq!(errs[0].loc.line, 12, "the property's line: {errs:?}");
    assert!(errs[0].message.contains("at least one second"), "{errs:?}");
}

#[test]
fn s3_move_needs_move_to() {
    let src = flow(
        "  - id: files\n    type: io.kestra.plugin.aws.s3.Trigger\n    bucket: b\n    action: MOVE\n",
    );
    let errs = errors(&src);
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert_eq!(errs[0].path, "triggers[0].moveTo");
    assert_eq!(
        errs[0].loc.line, 8,
        "at the trigger, where moveTo is missing: {errs:?}"
    );
}

#[test]
fn s3_action_is_required_and_unknown_properties_are_refused() {
    let missing = errors(&flow(
        "  - id: files\n    type: io.kestra.plugin.aws.s3.Trigger\n    bucket: b\n",
    ));
    assert!(
        missing.iter().any(|e| e.message.contains("action")),
        "{missing:?}"
    );
    let unknown = errors(&flow(
        "  - id: files\n    type: io.kestra.plugin.aws.s3.Trigger\n    bucket: b\n    action: NONE\n    colour: red\n",
    ));
    assert!(
        unknown.iter().any(|e| e.message.contains("colour")),
        "{unknown:?}"
    );
}

#[test]
fn s3_bad_regexp_and_half_credentials_are_rejected() {
    let errs = errors(&flow(
        "  - id: files\n    type: io.kestra.plugin.aws.s3.Trigger\n    bucket: b\n    action: NONE\n    regexp: \"(\"\n    accessKeyId: k\n",
    ));
    let paths: Vec<&str> = errs.iter().map(|e| e.path.as_str()).collect();
    assert!(paths.contains(&"triggers[0].regexp"), "{errs:?}");
    assert!(paths.contains(&"triggers[0].accessKeyId"), "{errs:?}");
}

#[test]
fn sqs_triggers_parse_and_check_their_limits() {
    let src = flow(
        r#"  - id: batch
    type: io.kestra.plugin.aws.sqs.Trigger
    queueUrl: http://127.0.0.1:5000/123456789012/in
    maxRecords: 5
    maxDuration: PT2S
    interval: PT1S
    serdeType: JSON
  - id: each
    type: io.kestra.plugin.aws.sqs.RealtimeTrigger
    queueUrl: http://127.0.0.1:5000/123456789012/in2
"#,
    );
    let parsed = parse_flow(&src);
    let f = parsed
        .flow
        .unwrap_or_else(|| panic!("{:?}", parsed.diagnostics));
    let b = f.triggers[0].spec::<SqsTrigger>().unwrap();
    assert_eq!(b.interval().as_millis(), 1000);
    let r = f.triggers[1].spec::<SqsRealtimeTrigger>().unwrap();
    assert!(r.serde_type.is_none());

    let errs = errors(&flow(
        "  - id: batch\n    type: io.kestra.plugin.aws.sqs.Trigger\n    queueUrl: q\n    maxRecords: 0\n    interval: PT0S\n",
    ));
    let paths: Vec<&str> = errs.iter().map(|e| e.path.as_str()).collect();
    assert!(paths.contains(&"triggers[0].maxRecords"), "{errs:?}");
    assert!(paths.contains(&"triggers[0].interval"), "{errs:?}");

    let endless = errors(&flow(
        "  - id: batch\n    type: io.kestra.plugin.aws.sqs.Trigger\n    queueUrl: q\n",
    ));
    assert_eq!(endless.len(), 1, "{endless:?}");
    assert!(endless[0].message.contains("maxDuration"), "{endless:?}");
}
