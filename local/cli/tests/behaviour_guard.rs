//! The behaviour guard: nothing a flow may name validates and then does nothing.
//!
//! Every task, trigger and condition type the flow registry accepts must have behaviour at
//! run time in the installation `kite server local` and the Lambdas wire — a worker runner
//! (`Runners::core`), an executor handler (flowable, inline or timer:
//! `executor::decided_types`), a trigger implementation (the tick registry with the AWS
//! triggers, the Flow-trigger listeners, the webserver's Webhook) or a condition evaluator —
//! or be refused at validation. Every property the model keeps (the flow's, every task's
//! and trigger's common ones, each type's own, all read from the model's JSON Schema) must
//! have behaviour, or be refused or warned about at validation with its `file:line:col`.
//!
//! The lists of types and properties come from the registries and the model; the only
//! hand-written lists are [`BEHAVIOUR`] (properties with behaviour, commented with where it
//! lives), [`REFUSED_TYPES`] and the samples of [`refusal_sample`] — and the guard checks
//! those samples really are refused or warned about, so the lists cannot lie silently.

use std::collections::{BTreeMap, BTreeSet};

use kite_flow::plugin::{Category, Registry, TASK_COMMON_FIELDS, TRIGGER_COMMON_FIELDS};
use kite_flow::{Severity, parse_flow};

/// Types refused at validation, with a flow using each (checked to be refused).
const REFUSED_TYPES: &[(&str, &str)] = &[
    (
        "io.kestra.plugin.core.flow.Template",
        "  - id: t\n    type: io.kestra.plugin.core.flow.Template\n    namespace: company.team\n    templateId: tpl\n",
    ),
    (
        "io.kestra.plugin.core.condition.PublicHoliday",
        "  - id: t\n    type: io.kestra.plugin.core.log.Log\n    message: hi\ntriggers:\n  - id: s\n    type: io.kestra.plugin.core.trigger.Schedule\n    cron: \"0 9 * * *\"\n    conditions:\n      - type: io.kestra.plugin.core.condition.PublicHoliday\n        country: FR\n",
    ),
];

/// Properties with behaviour at run time, by owner (`flow`, `task` and `trigger` for the
/// common properties, else the type), with where the behaviour lives.
const BEHAVIOUR: &[(&str, &[&str])] = &[
    // The flow document: ids, documentation and model (webserver, repositories), tasks
    // lists (executor), plugin defaults (applied by the parser), concurrency
    // (services/concurrency), outputs, retry, SLA (executor), disabled/deleted (repos).
    (
        "flow",
        &[
            "id",
            "namespace",
            "revision",
            "description",
            "labels",
            "inputs",
            "variables",
            "tasks",
            "errors",
            "finally",
            "afterExecution",
            "listeners",
            "triggers",
            "pluginDefaults",
            "taskDefaults",
            "concurrency",
            "outputs",
            "retry",
            "sla",
            "disabled",
            "deleted",
        ],
    ),
    // Every task: executor (retry.rs, runIf, disabled, allowFailure/allowWarning), worker
    // (timeout, log levels), documentation (description).
    (
        "task",
        &[
            "id",
            "type",
            "description",
            "retry",
            "timeout",
            "disabled",
            "allowFailure",
            "allowWarning",
            "runIf",
            "logLevel",
            "minLogLevel",
        ],
    ),
    // Every trigger: triggers/sync and tick (disabled, conditions, labels, stopAfter, log
    // levels), documentation.
    (
        "trigger",
        &[
            "id",
            "type",
            "description",
            "conditions",
            "disabled",
            "labels",
            "stopAfter",
            "logLevel",
            "minLogLevel",
        ],
    ),
    // executor/flowable/*.rs
    (
        "io.kestra.plugin.core.flow.Sequential",
        &["tasks", "errors", "finally"],
    ),
    (
        "io.kestra.plugin.core.flow.Parallel",
        &["tasks", "concurrent", "errors", "finally"],
    ),
    (
        "io.kestra.plugin.core.flow.If",
        &["condition", "then", "else", "errors", "finally"],
    ),
    (
        "io.kestra.plugin.core.flow.Switch",
        &["value", "cases", "defaults", "errors", "finally"],
    ),
    (
        "io.kestra.plugin.core.flow.ForEach",
        &["values", "concurrencyLimit", "tasks", "errors", "finally"],
    ),
    (
        "io.kestra.plugin.core.flow.EachSequential",
        &["value", "tasks", "errors"],
    ),
    (
        "io.kestra.plugin.core.flow.EachParallel",
        &["value", "concurrent", "tasks", "errors"],
    ),
    (
        "io.kestra.plugin.core.flow.Dag",
        &["tasks", "concurrent", "errors", "finally"],
    ),
    (
        "io.kestra.plugin.core.flow.AllowFailure",
        &["tasks", "errors"],
    ),
    (
        "io.kestra.plugin.core.flow.Subflow",
        &[
            "namespace",
            "flowId",
            "revision",
            "inputs",
            "labels",
            "wait",
            "transmitFailed",
            "inheritLabels",
            "scheduleDate",
            "outputs",
        ],
    ),
    (
        "io.kestra.plugin.core.flow.ForEachItem",
        &[
            "items",
            "batch",
            "namespace",
            "flowId",
            "revision",
            "inputs",
            "labels",
            "wait",
            "transmitFailed",
            "inheritLabels",
            "scheduleDate",
            "errors",
        ],
    ),
    (
        "io.kestra.plugin.core.flow.Pause",
        &["delay", "onResume", "tasks", "errors"],
    ),
    (
        "io.kestra.plugin.core.flow.WaitFor",
        &[
            "condition",
            "tasks",
            "checkFrequency",
            "failOnMaxReached",
            "errors",
        ],
    ),
    // executor/flowable/working_directory.rs and the worker's job extras.
    (
        "io.kestra.plugin.core.flow.WorkingDirectory",
        &[
            "tasks",
            "cache",
            "inputFiles",
            "outputFiles",
            "errors",
            "finally",
        ],
    ),
    // executor/inline/*.rs
    ("io.kestra.plugin.core.log.Log", &["message", "level"]),
    ("io.kestra.plugin.core.debug.Return", &["format"]),
    ("io.kestra.plugin.core.debug.Echo", &["format", "level"]),
    ("io.kestra.plugin.core.output.OutputValues", &["values"]),
    (
        "io.kestra.plugin.core.execution.Fail",
        &["condition", "errorMessage"],
    ),
    ("io.kestra.plugin.core.execution.Exit", &["state"]),
    ("io.kestra.plugin.core.execution.Labels", &["labels"]),
    (
        "io.kestra.plugin.core.execution.Resume",
        &["executionId", "namespace", "flowId", "inputs"],
    ),
    // executor (a timer)
    ("io.kestra.plugin.core.flow.Sleep", &["duration"]),
    // worker/tasks/*.rs
    (
        "io.kestra.plugin.core.log.Fetch",
        &["executionId", "namespace", "flowId", "tasksId", "level"],
    ),
    (
        "io.kestra.plugin.core.kv.Set",
        &["key", "value", "namespace", "overwrite", "ttl", "kvType"],
    ),
    (
        "io.kestra.plugin.core.kv.Get",
        &["key", "namespace", "errorOnMissing"],
    ),
    ("io.kestra.plugin.core.kv.GetKeys", &["prefix", "namespace"]),
    (
        "io.kestra.plugin.core.kv.Delete",
        &["key", "namespace", "errorOnMissing"],
    ),
    (
        "io.kestra.plugin.core.state.Set",
        &["name", "namespace", "taskrunValue", "data"],
    ),
    (
        "io.kestra.plugin.core.state.Get",
        &["name", "namespace", "taskrunValue", "errorOnMissing"],
    ),
    (
        "io.kestra.plugin.core.state.Delete",
        &["name", "namespace", "taskrunValue", "errorOnMissing"],
    ),
    ("io.kestra.plugin.core.storage.Size", &["uri"]),
    (
        "io.kestra.plugin.core.storage.Delete",
        &["uri", "errorOnMissing"],
    ),
    (
        "io.kestra.plugin.core.storage.Concat",
        &["files", "separator", "extension"],
    ),
    (
        "io.kestra.plugin.core.storage.Split",
        &["from", "bytes", "partitions", "rows", "separator"],
    ),
    (
        "io.kestra.plugin.core.storage.LocalFiles",
        &["inputs", "outputs"],
    ),
    (
        "io.kestra.plugin.core.http.Request",
        &[
            "uri",
            "method",
            "body",
            "formData",
            "contentType",
            "headers",
            "options",
            "sslOptions",
            "allowFailed",
            "encryptBody",
            "failOnEmptyResponse",
        ],
    ),
    (
        "io.kestra.plugin.core.trigger.Toggle",
        &["namespace", "flowId", "trigger", "enabled"],
    ),
    // worker/tasks/script_*.rs and process.rs (taskRunner: only Process, the default, is
    // accepted; its other values are refused, see `refusal_sample`).
    (
        "io.kestra.plugin.scripts.shell.Commands",
        &[
            "commands",
            "env",
            "inputFiles",
            "outputFiles",
            "beforeCommands",
            "interpreter",
            "warningOnStdErr",
        ],
    ),
    (
        "io.kestra.plugin.scripts.shell.Script",
        &[
            "script",
            "env",
            "inputFiles",
            "outputFiles",
            "beforeCommands",
            "interpreter",
            "warningOnStdErr",
        ],
    ),
    (
        "io.kestra.plugin.scripts.python.Commands",
        &[
            "commands",
            "env",
            "inputFiles",
            "outputFiles",
            "beforeCommands",
            "interpreter",
            "warningOnStdErr",
        ],
    ),
    (
        "io.kestra.plugin.scripts.python.Script",
        &[
            "script",
            "env",
            "inputFiles",
            "outputFiles",
            "beforeCommands",
            "interpreter",
            "warningOnStdErr",
        ],
    ),
    // worker/tasks/jdbc
    ("io.kestra.plugin.jdbc.postgresql.Query", JDBC_QUERY),
    ("io.kestra.plugin.jdbc.sqlite.Query", JDBC_QUERY),
    // triggers/schedule.rs, schedule_on_dates.rs, flow.rs, http.rs, jdbc.rs
    (
        "io.kestra.plugin.core.trigger.Schedule",
        &[
            "cron",
            "withSeconds",
            "timezone",
            "inputs",
            "lateMaximumDelay",
            "recoverMissedSchedules",
            "backfill",
            "scheduleConditions",
        ],
    ),
    (
        "io.kestra.plugin.core.trigger.ScheduleOnDates",
        &["dates", "timezone", "inputs", "recoverMissedSchedules"],
    ),
    (
        "io.kestra.plugin.core.trigger.Flow",
        &["states", "inputs", "preconditions"],
    ),
    // the webserver's webhook.rs
    (
        "io.kestra.plugin.core.trigger.Webhook",
        &["key", "wait", "returnOutputs"],
    ),
    (
        "io.kestra.plugin.core.http.Trigger",
        &[
            "uri",
            "method",
            "body",
            "headers",
            "responseCondition",
            "interval",
            "encryptBody",
            "contentType",
            "options",
        ],
    ),
    ("io.kestra.plugin.jdbc.postgresql.Trigger", JDBC_TRIGGER),
    ("io.kestra.plugin.jdbc.sqlite.Trigger", JDBC_TRIGGER),
    // kite-aws triggers/s3.rs, sqs.rs, clients.rs
    (
        "io.kestra.plugin.aws.s3.Trigger",
        &[
            "bucket",
            "prefix",
            "regexp",
            "maxKeys",
            "interval",
            "action",
            "moveTo",
            "filter",
            "delimiter",
            "marker",
            "expectedBucketOwner",
            "requestPayer",
            "region",
            "endpointOverride",
            "accessKeyId",
            "secretKeyId",
            "sessionToken",
            "stsRoleArn",
            "stsRoleExternalId",
            "stsRoleSessionName",
            "stsRoleSessionDuration",
            "stsEndpointOverride",
            "forcePathStyle",
            "pathStyleAccess",
        ],
    ),
    (
        "io.kestra.plugin.aws.sqs.Trigger",
        &[
            "queueUrl",
            "maxRecords",
            "maxDuration",
            "interval",
            "serdeType",
            "region",
            "endpointOverride",
            "accessKeyId",
            "secretKeyId",
            "sessionToken",
            "stsRoleArn",
            "stsRoleExternalId",
            "stsRoleSessionName",
            "stsRoleSessionDuration",
            "stsEndpointOverride",
            "forcePathStyle",
        ],
    ),
    (
        "io.kestra.plugin.aws.sqs.RealtimeTrigger",
        &[
            "queueUrl",
            "serdeType",
            "region",
            "endpointOverride",
            "accessKeyId",
            "secretKeyId",
            "sessionToken",
            "stsRoleArn",
            "stsRoleExternalId",
            "stsRoleSessionName",
            "stsRoleSessionDuration",
            "stsEndpointOverride",
            "forcePathStyle",
        ],
    ),
    // kite-engine conditions/*.rs (MultipleCondition: triggers/preconditions.rs)
    (
        "io.kestra.plugin.core.condition.ExecutionFlow",
        &["namespace", "flowId"],
    ),
    (
        "io.kestra.plugin.core.condition.ExecutionNamespace",
        &["namespace", "comparison", "prefix"],
    ),
    (
        "io.kestra.plugin.core.condition.ExecutionStatus",
        &["in", "notIn"],
    ),
    (
        "io.kestra.plugin.core.condition.ExecutionLabels",
        &["labels"],
    ),
    (
        "io.kestra.plugin.core.condition.ExecutionOutputs",
        &["expression"],
    ),
    (
        "io.kestra.plugin.core.condition.HasRetryAttempt",
        &["in", "notIn"],
    ),
    (
        "io.kestra.plugin.core.condition.Expression",
        &["expression"],
    ),
    ("io.kestra.plugin.core.condition.Not", &["conditions"]),
    ("io.kestra.plugin.core.condition.Or", &["conditions"]),
    (
        "io.kestra.plugin.core.condition.DayWeek",
        &["date", "dayOfWeek"],
    ),
    (
        "io.kestra.plugin.core.condition.DayWeekInMonth",
        &["date", "dayOfWeek", "dayInMonth"],
    ),
    ("io.kestra.plugin.core.condition.Weekend", &["date"]),
    (
        "io.kestra.plugin.core.condition.TimeBetween",
        &["date", "after", "before"],
    ),
    (
        "io.kestra.plugin.core.condition.DateTimeBetween",
        &["date", "after", "before"],
    ),
    (
        "io.kestra.plugin.core.condition.MultipleCondition",
        &[
            "id",
            "conditions",
            "window",
            "windowAdvance",
            "timeWindow",
            "resetOnSuccess",
        ],
    ),
    (
        "io.kestra.plugin.core.condition.FlowCondition",
        &["namespace", "flowId"],
    ),
    (
        "io.kestra.plugin.core.condition.FlowNamespace",
        &["namespace", "prefix"],
    ),
];

const JDBC_QUERY: &[&str] = &[
    "url",
    "username",
    "password",
    "sql",
    "fetchType",
    "parameters",
    "timeZoneId",
    "fetchSize",
    "fetch",
    "fetchOne",
    "store",
    "ssl",
    "sslMode",
    "sslRootCert",
    "sslCert",
    "sslKey",
    "sslKeyPassword",
    "sqliteFile",
    "outputDbFile",
];

const JDBC_TRIGGER: &[&str] = &[
    "url",
    "username",
    "password",
    "sql",
    "fetchType",
    "parameters",
    "timeZoneId",
    "fetchSize",
    "ssl",
    "sslMode",
    "sslRootCert",
    "sslCert",
    "sslKey",
    "sslKeyPassword",
    "interval",
    "fetch",
    "fetchOne",
    "store",
];

const LOG: &str = "  - id: t\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n";

/// A flow setting `property` of `owner` in a way Kite refuses or warns about (accepted
/// for compatibility and ignored); none when the guard knows no such use.
fn refusal_sample(owner: &str, property: &str) -> Option<String> {
    let task = |extra: &str| format!("{LOG}{extra}");
    let trigger = |extra: &str| {
        format!(
            "{LOG}triggers:\n  - id: s\n    type: io.kestra.plugin.core.trigger.Schedule\n    cron: \"0 9 * * *\"\n{extra}"
        )
    };
    let script = |extra: &str| {
        let body = if owner.ends_with("Commands") {
            "    commands: [\"echo hi\"]\n"
        } else {
            "    script: echo hi\n"
        };
        format!("  - id: t\n    type: {owner}\n{body}{extra}")
    };
    let aws = |extra: &str| {
        let required = match owner {
            "io.kestra.plugin.aws.s3.Trigger" => "    bucket: b\n    action: NONE\n",
            _ => "    queueUrl: https://sqs.eu-west-1.amazonaws.com/1/q\n",
        };
        format!(
            "{LOG}triggers:\n  - id: a\n    type: {owner}\n    region: eu-west-1\n{required}{extra}"
        )
    };
    Some(match (owner, property) {
        ("flow", "tenantId") => format!("tenantId: main\n{LOG}"),
        ("task", "logToFile") => task("    logToFile: true\n"),
        ("task", "version") => task("    version: \"1.0\"\n"),
        ("task", "workerGroup") => task("    workerGroup:\n      key: gpu\n"),
        ("trigger", "logToFile") => trigger("    logToFile: true\n"),
        ("trigger", "workerGroup") => trigger("    workerGroup:\n      key: gpu\n"),
        ("trigger", "failOnTriggerError") => trigger("    failOnTriggerError: true\n"),
        ("io.kestra.plugin.core.flow.WorkingDirectory", "namespaceFiles" | "env") => format!(
            "  - id: wd\n    type: io.kestra.plugin.core.flow.WorkingDirectory\n    {}\n    tasks:\n      - id: t\n        type: io.kestra.plugin.core.log.Log\n        message: hi\n",
            if property == "env" {
                "env:\n      A: b"
            } else {
                "namespaceFiles:\n      enabled: true"
            }
        ),
        ("io.kestra.plugin.core.flow.Subflow", "restartBehavior") => "  - id: t\n    type: io.kestra.plugin.core.flow.Subflow\n    namespace: company.team\n    flowId: child\n    restartBehavior: RETRY_FAILED\n".into(),
        ("io.kestra.plugin.core.flow.Pause", "behavior") => "  - id: t\n    type: io.kestra.plugin.core.flow.Pause\n    timeout: PT1M\n    behavior: RESUME\n".into(),
        ("io.kestra.plugin.core.trigger.Schedule", "interval") => trigger("    interval: PT1M\n"),
        (_, "containerImage") if owner.starts_with("io.kestra.plugin.scripts.") => {
            script("    containerImage: python:3.12\n")
        }
        (_, "taskRunner") if owner.starts_with("io.kestra.plugin.scripts.") => {
            script("    taskRunner:\n      type: io.kestra.plugin.scripts.runner.docker.Docker\n")
        }
        (_, "namespaceFiles") if owner.starts_with("io.kestra.plugin.scripts.") => {
            script("    namespaceFiles:\n      enabled: true\n")
        }
        (_, "compatibilityMode") if owner.starts_with("io.kestra.plugin.aws.") => {
            aws("    compatibilityMode: true\n")
        }
        ("io.kestra.plugin.aws.s3.Trigger", "encodingType") => aws("    encodingType: url\n"),
        _ => return None,
    })
}

fn flow_source(body: &str) -> String {
    let (head, tasks) = match body.strip_prefix("tenantId: main\n") {
        Some(rest) => ("tenantId: main\n", rest),
        None => ("", body),
    };
    format!("id: guarded\nnamespace: company.team\n{head}tasks:\n{tasks}")
}

/// Every property the model keeps, by owner.
fn model_properties(registry: &Registry) -> BTreeMap<String, BTreeSet<String>> {
    let schema = kite_flow::schema::flow_schema(registry);
    let keys = |v: &serde_json::Value| -> BTreeSet<String> {
        v["properties"]
            .as_object()
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default()
    };
    let mut out = BTreeMap::new();
    out.insert("flow".to_owned(), keys(&schema));
    out.insert(
        "task".to_owned(),
        TASK_COMMON_FIELDS.iter().map(|s| s.to_string()).collect(),
    );
    out.insert(
        "trigger".to_owned(),
        TRIGGER_COMMON_FIELDS
            .iter()
            .map(|s| s.to_string())
            .collect(),
    );
    for category in [Category::Task, Category::Trigger, Category::Condition] {
        let common: &[&str] = match category {
            Category::Task => TASK_COMMON_FIELDS,
            Category::Trigger => TRIGGER_COMMON_FIELDS,
            Category::Condition => &["type"],
        };
        for info in registry.types(category) {
            let own = keys(&schema["$defs"][info.type_name])
                .into_iter()
                .filter(|k| !common.contains(&k.as_str()))
                .collect();
            out.insert(info.type_name.to_owned(), own);
        }
    }
    out
}

#[test]
fn every_type_has_behaviour_or_is_refused_at_validation() {
    let registry = Registry::global();
    let runners = kite_engine::worker::Runners::core();
    let decided = kite_engine::executor::decided_types();
    let triggers = kite_aws::triggers::registry();
    let refused: BTreeMap<&str, &str> = REFUSED_TYPES.iter().copied().collect();
    let mut problems = Vec::new();
    for (name, sample) in REFUSED_TYPES {
        let parsed = parse_flow(&flow_source(sample));
        let refusal = parsed
            .errors()
            .find(|d| d.message.contains(name) && d.message.contains("not supported"));
        match refusal {
            Some(d) if d.loc.is_known() => {}
            _ => problems.push(format!(
                "{name} is listed as refused but its sample is not refused with a located \
                 \"not supported\" error: {:#?}",
                parsed.diagnostics
            )),
        }
    }
    let mut counted = 0;
    for category in [Category::Task, Category::Trigger, Category::Condition] {
        for info in registry.types(category) {
            counted += 1;
            let t = info.type_name;
            let behaviour = match category {
                Category::Task => runners.get(t).is_some() || decided.contains(t),
                Category::Trigger => {
                    triggers.handles(t) || kite_webserver::SERVED_TRIGGER_TYPES.contains(&t)
                }
                Category::Condition => kite_engine::conditions::has_evaluator(t),
            };
            if !behaviour && !refused.contains_key(t) {
                problems.push(format!(
                    "{category:?} {t} validates but has no behaviour at run time (no worker \
                     runner, executor handler, trigger implementation or condition evaluator) \
                     and is not refused at validation"
                ));
            }
        }
    }
    assert!(counted > 70, "the registry lists only {counted} types");
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn every_property_has_behaviour_or_is_refused_or_warned_at_its_location() {
    let registry = Registry::global();
    let properties = model_properties(registry);
    let listed: BTreeMap<&str, BTreeSet<&str>> = BEHAVIOUR
        .iter()
        .map(|(owner, props)| (*owner, props.iter().copied().collect()))
        .collect();
    let refused_types: BTreeSet<&str> = REFUSED_TYPES.iter().map(|(t, _)| *t).collect();
    let mut problems = Vec::new();
    let mut checked = 0;
    for (owner, props) in &properties {
        if refused_types.contains(owner.as_str()) {
            continue; // the whole type is refused
        }
        for prop in props {
            checked += 1;
            if listed
                .get(owner.as_str())
                .is_some_and(|l| l.contains(prop.as_str()))
            {
                continue;
            }
            let Some(body) = refusal_sample(owner, prop) else {
                problems.push(format!(
                    "`{prop}` of {owner}: the model keeps it, but it is not listed with \
                     behaviour and validation neither refuses nor warns about it"
                ));
                continue;
            };
            let source = flow_source(&body);
            let parsed = parse_flow(&source);
            let found = parsed.diagnostics.iter().find(|d| {
                matches!(d.severity, Severity::Error | Severity::Warning)
                    && (d.path == *prop || d.path.ends_with(&format!(".{prop}")))
            });
            match found {
                Some(d) => {
                    // Located at the property itself: `file:line:col` points at its key.
                    let line = source.lines().nth(d.loc.line.saturating_sub(1) as usize);
                    let at = line
                        .map(|l| l.chars().skip(d.loc.col.saturating_sub(1) as usize).collect::<String>())
                        .unwrap_or_default();
                    if !d.loc.is_known() || !at.starts_with(prop.as_str()) {
                        problems.push(format!(
                            "`{prop}` of {owner}: the diagnostic is not located at the property \
                             ({}: `{at}`): {}",
                            d.loc, d.message
                        ));
                    }
                }
                None => problems.push(format!(
                    "`{prop}` of {owner}: its sample is neither refused nor warned about:\n{source}\n{:#?}",
                    parsed.diagnostics
                )),
            }
        }
    }
    // No stale entry: every listed property exists in the model.
    for (owner, props) in BEHAVIOUR {
        for p in *props {
            if !properties.get(*owner).is_some_and(|m| m.contains(*p)) {
                problems.push(format!(
                    "BEHAVIOUR lists `{p}` of {owner}, which the model does not keep"
                ));
            }
        }
    }
    assert!(checked > 300, "only {checked} properties checked");
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
