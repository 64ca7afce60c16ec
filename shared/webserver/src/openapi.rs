//! The route table and the OpenAPI 3.1 document built from it (`GET /api/v1/openapi.json`).
//!
//! The document is written by hand from [`ROUTES`] rather than generated with utoipa: the
//! response bodies are the engine's serde models (which carry no OpenAPI derive and belong
//! to another crate), so annotations would have had to restate them anyway. A test sends a
//! request to every entry of [`ROUTES`] and fails if the router does not know it.

use axum::Json;
use serde_json::{Map, Value, json};

/// One documented operation.
#[derive(Debug, Clone, Copy)]
pub struct Route {
    /// Lower-case HTTP method.
    pub method: &'static str,
    /// Path with `{param}` placeholders.
    pub path: &'static str,
    /// Group.
    pub tag: &'static str,
    /// What it does.
    pub summary: &'static str,
    /// Query parameters: (name, description).
    pub query: &'static [(&'static str, &'static str)],
    /// Accepted request content types (empty: no body).
    pub body: &'static [&'static str],
    /// Responses: (status, description, schema component or "").
    pub responses: &'static [(u16, &'static str, &'static str)],
    /// Open without credentials.
    pub public: bool,
    /// Called by other sites by design (webhooks): the guard skips its Origin /
    /// `Sec-Fetch-Site` rule (the `Host` check stays).
    pub cross_site: bool,
}

const fn route(
    method: &'static str,
    path: &'static str,
    tag: &'static str,
    summary: &'static str,
) -> Route {
    Route {
        method,
        path,
        tag,
        summary,
        query: &[],
        body: &[],
        responses: &[(200, "OK", "")],
        public: false,
        cross_site: false,
    }
}

/// In [`Route::body`]: any content type, or none.
pub const ANY_BODY: &str = "*/*";

/// Flow sources. `text/yaml` is not a type a browser may send cross-site without asking.
const YAML: &[&str] = &["application/x-yaml", "application/yaml", "text/yaml"];
/// Execution and resume inputs: multipart (files) or JSON. Never form-urlencoded nor
/// text/plain: those a page of another site may send (see `guard`).
const INPUTS: &[&str] = &["multipart/form-data", "application/json"];
/// JSON bodies.
const JSON: &[&str] = &["application/json"];

/// A webhook: authenticated by its key (no API credentials), called cross-site.
const fn webhook(method: &'static str, body: &'static [&'static str]) -> Route {
    Route {
        body,
        responses: &[
            (
                200,
                "The execution (once ended with the trigger's `wait`; its outputs map with `returnOutputs`)",
                "Execution",
            ),
            (
                204,
                "The trigger's conditions do not hold: no execution",
                "",
            ),
            (
                404,
                "`Flow not found`: unknown or disabled flow or trigger, or wrong key (one answer)",
                "Error",
            ),
            (413, "Body over 1 MiB", "Error"),
            (
                422,
                "The execution cannot start (required inputs without defaults)",
                "Error",
            ),
        ],
        public: true,
        cross_site: true,
        ..route(
            method,
            "/api/v1/executions/webhook/{namespace}/{flowId}/{key}",
            "Executions",
            "Call a Webhook trigger: the body, headers and query parameters become `trigger.body`, `trigger.headers` and `trigger.parameters`; a header `Idempotency-Key` makes retries start one execution",
        )
    }
}

/// Every route of the API.
pub const ROUTES: &[Route] = &[
    webhook("get", &[]),
    webhook("post", &[ANY_BODY]),
    webhook("put", &[ANY_BODY]),
    Route {
        body: YAML,
        responses: &[
            (200, "The created flow, with its source", "Flow"),
            (422, "Invalid flow, or the id exists", "Error"),
        ],
        ..route(
            "post",
            "/api/v1/flows",
            "Flows",
            "Create a flow from its YAML source",
        )
    },
    Route {
        body: YAML,
        responses: &[(200, "One result per YAML document", "ValidateResults")],
        ..route(
            "post",
            "/api/v1/flows/validate",
            "Flows",
            "Validate a multi-document YAML source",
        )
    },
    Route {
        query: &[
            ("namespace", "Namespace prefix"),
            ("q", "Text contained in the id or namespace"),
            ("page", "Page number, from 1 (default 1)"),
            ("size", "Page size (default 10)"),
        ],
        responses: &[(200, "A page of flows", "PagedFlows")],
        ..route("get", "/api/v1/flows/search", "Flows", "Search flows")
    },
    Route {
        query: &[("q", "Text contained in the namespace")],
        ..route(
            "get",
            "/api/v1/flows/distinct-namespaces",
            "Flows",
            "Namespaces that hold flows",
        )
    },
    Route {
        responses: &[(200, "The flows of the namespace", "Flows")],
        ..route(
            "get",
            "/api/v1/flows/{namespace}",
            "Flows",
            "Every flow of a namespace",
        )
    },
    Route {
        query: &[
            ("source", "Include the YAML source (default false)"),
            ("revision", "A given revision (default: latest)"),
        ],
        responses: &[(200, "The flow", "Flow"), (404, "Unknown flow", "Error")],
        ..route(
            "get",
            "/api/v1/flows/{namespace}/{id}",
            "Flows",
            "Get a flow",
        )
    },
    Route {
        body: YAML,
        responses: &[
            (200, "The new revision, with its source", "Flow"),
            (404, "Unknown flow", "Error"),
            (
                422,
                "Invalid flow, or id/namespace differ from the path",
                "Error",
            ),
        ],
        ..route(
            "put",
            "/api/v1/flows/{namespace}/{id}",
            "Flows",
            "Update a flow from its YAML source",
        )
    },
    Route {
        responses: &[(204, "Deleted", ""), (404, "Unknown flow", "Error")],
        ..route(
            "delete",
            "/api/v1/flows/{namespace}/{id}",
            "Flows",
            "Delete a flow",
        )
    },
    Route {
        responses: &[
            (200, "Every revision, oldest first, with sources", "Flows"),
            (404, "Unknown flow", "Error"),
        ],
        ..route(
            "get",
            "/api/v1/flows/{namespace}/{id}/revisions",
            "Flows",
            "Revisions of a flow",
        )
    },
    Route {
        query: &[("revision", "A given revision (default: latest)")],
        responses: &[
            (
                200,
                "Nodes, edges and clusters of the task tree",
                "FlowGraph",
            ),
            (404, "Unknown flow", "Error"),
        ],
        ..route(
            "get",
            "/api/v1/flows/{namespace}/{id}/graph",
            "Flows",
            "Graph of a flow",
        )
    },
    Route {
        query: &[
            ("labels", "A label `key:value` (repeatable)"),
            (
                "wait",
                "Answer when the execution has ended (default false)",
            ),
            ("revision", "Flow revision (default: latest)"),
        ],
        body: INPUTS,
        responses: &[
            (200, "The execution (final when wait=true)", "Execution"),
            (404, "Unknown flow", "Error"),
            (409, "The flow is disabled", "Error"),
            (422, "Invalid inputs or labels", "Error"),
        ],
        ..route(
            "post",
            "/api/v1/executions/{namespace}/{id}",
            "Executions",
            "Create an execution (inputs as multipart parts, files included)",
        )
    },
    Route {
        query: &[
            ("namespace", "Namespace prefix"),
            ("flowId", "Flow id"),
            ("state", "A state (repeatable or comma-separated)"),
            ("labels", "A label `key:value` (repeatable)"),
            ("q", "Text contained in the id, flow id or namespace"),
            ("startDate", "Started at or after this ISO-8601 date-time"),
            ("endDate", "Started at or before this ISO-8601 date-time"),
            ("page", "Page number, from 1 (default 1)"),
            ("size", "Page size (default 10)"),
        ],
        responses: &[(200, "A page of executions, newest first", "PagedExecutions")],
        ..route(
            "get",
            "/api/v1/executions/search",
            "Executions",
            "Search executions",
        )
    },
    Route {
        query: &[
            ("namespace", "Namespace prefix"),
            ("flowId", "Flow id"),
            ("page", "Page number"),
            ("size", "Page size"),
        ],
        responses: &[(200, "A page of executions, newest first", "PagedExecutions")],
        ..route("get", "/api/v1/executions", "Executions", "List executions")
    },
    Route {
        responses: &[
            (200, "The execution", "Execution"),
            (404, "Unknown execution", "Error"),
        ],
        ..route(
            "get",
            "/api/v1/executions/{executionId}",
            "Executions",
            "Get an execution",
        )
    },
    Route {
        responses: &[
            (204, "Deleted, with its files", ""),
            (404, "Unknown execution", "Error"),
        ],
        ..route(
            "delete",
            "/api/v1/executions/{executionId}",
            "Executions",
            "Delete an execution",
        )
    },
    Route {
        responses: &[
            (202, "Kill requested", ""),
            (404, "Unknown execution", "Error"),
            (409, "Already ended", "Error"),
        ],
        ..route(
            "delete",
            "/api/v1/executions/{executionId}/kill",
            "Executions",
            "Kill an execution",
        )
    },
    Route {
        responses: &[
            (200, "The restarted execution", "Execution"),
            (404, "Unknown execution", "Error"),
            (409, "Not FAILED, KILLED, WARNING or PAUSED", "Error"),
        ],
        ..route(
            "post",
            "/api/v1/executions/{executionId}/restart",
            "Executions",
            "Restart an execution from its failed task runs (same id, new attempts)",
        )
    },
    Route {
        query: &[(
            "taskRunId",
            "Replay from this task run (from scratch when absent)",
        )],
        responses: &[
            (200, "The new execution", "Execution"),
            (404, "Unknown execution", "Error"),
            (422, "Unknown task run", "Error"),
        ],
        ..route(
            "post",
            "/api/v1/executions/{executionId}/replay",
            "Executions",
            "Replay an execution in a new one",
        )
    },
    Route {
        body: &["application/json"],
        responses: &[
            (200, "The execution", "Execution"),
            (404, "Unknown execution", "Error"),
            (422, "Unknown task run or non-terminal state", "Error"),
        ],
        ..route(
            "post",
            "/api/v1/executions/{executionId}/state",
            "Executions",
            "Change the state of a task run (`{taskRunId, state}`); the execution goes on",
        )
    },
    Route {
        body: INPUTS,
        responses: &[
            (204, "Resumed", ""),
            (404, "Unknown execution", "Error"),
            (409, "Not paused", "Error"),
            (422, "Invalid onResume inputs", "Error"),
        ],
        ..route(
            "post",
            "/api/v1/executions/{executionId}/resume",
            "Executions",
            "Resume a paused execution",
        )
    },
    Route {
        query: &[("path", "A kestra:/// URI below the execution's folder")],
        responses: &[
            (200, "The file (application/octet-stream)", ""),
            (403, "Not a file of this execution", "Error"),
            (404, "Unknown execution or file", "Error"),
            (422, "Malformed path", "Error"),
        ],
        ..route(
            "get",
            "/api/v1/executions/{executionId}/file",
            "Executions",
            "Download a file of an execution",
        )
    },
    Route {
        query: &[("path", "A kestra:/// URI below the execution's folder")],
        responses: &[
            (200, "`{size}`", ""),
            (403, "Not a file of this execution", "Error"),
            (404, "Unknown file", "Error"),
        ],
        ..route(
            "get",
            "/api/v1/executions/{executionId}/file/metas",
            "Executions",
            "Size of a file of an execution",
        )
    },
    Route {
        responses: &[
            (
                200,
                "text/event-stream: the execution on each change; the last event has id `end`",
                "",
            ),
            (404, "Unknown execution", "Error"),
        ],
        ..route(
            "get",
            "/api/v1/executions/{executionId}/follow",
            "Executions",
            "Follow an execution",
        )
    },
    Route {
        query: &[
            ("minLevel", "TRACE, DEBUG, INFO, WARN or ERROR"),
            ("taskId", "Only lines of this task"),
            ("taskRunId", "Only lines of this task run"),
            ("attempt", "Only lines of this attempt"),
            (
                "page",
                "Page number, from 1 (default 1; without `page` and `size`, every line)",
            ),
            ("size", "Page size (default 100, at most 10000)"),
        ],
        responses: &[
            (
                200,
                "The log lines, oldest first (header X-Total-Count: lines matching in all)",
                "LogEntries",
            ),
            (400, "Invalid filter or page", "Error"),
            (404, "Unknown execution", "Error"),
        ],
        ..route(
            "get",
            "/api/v1/logs/{executionId}",
            "Logs",
            "Logs of an execution",
        )
    },
    Route {
        query: &[
            ("minLevel", "TRACE, DEBUG, INFO, WARN or ERROR"),
            ("taskId", "Only lines of this task"),
        ],
        responses: &[
            (200, "text/plain lines `timestamp LEVEL [task] message`", ""),
            (404, "Unknown execution", "Error"),
        ],
        ..route(
            "get",
            "/api/v1/logs/{executionId}/download",
            "Logs",
            "Download the logs of an execution",
        )
    },
    Route {
        query: &[
            ("minLevel", "TRACE, DEBUG, INFO, WARN or ERROR"),
            ("taskId", "Only lines of this task"),
        ],
        responses: &[
            (
                200,
                "text/event-stream: one line per event, until the execution ends",
                "",
            ),
            (404, "Unknown execution", "Error"),
        ],
        ..route(
            "get",
            "/api/v1/logs/{executionId}/follow",
            "Logs",
            "Follow the logs of an execution",
        )
    },
    Route {
        responses: &[(200, "`[{key}]`", "")],
        ..route(
            "get",
            "/api/v1/namespaces/{namespace}/kv",
            "KV",
            "Keys of a namespace",
        )
    },
    Route {
        responses: &[(200, "The value", "KvValue"), (404, "No such key", "Error")],
        ..route(
            "get",
            "/api/v1/namespaces/{namespace}/kv/{key}",
            "KV",
            "Get a value",
        )
    },
    Route {
        body: &["application/json"],
        responses: &[
            (200, "Stored", ""),
            (422, "Empty value or invalid ttl header", "Error"),
        ],
        ..route(
            "put",
            "/api/v1/namespaces/{namespace}/kv/{key}",
            "KV",
            "Set a value (header `ttl`: ISO-8601 duration)",
        )
    },
    Route {
        responses: &[(200, "Whether the key existed", "")],
        ..route(
            "delete",
            "/api/v1/namespaces/{namespace}/kv/{key}",
            "KV",
            "Delete a value",
        )
    },
    Route {
        query: &[
            ("namespace", "Namespace prefix"),
            ("flowId", "Flow id"),
            (
                "q",
                "Text contained in the namespace, flow id or trigger id",
            ),
            ("page", "Page number, from 1 (default 1)"),
            ("size", "Page size (default 10)"),
            (
                "sort",
                "`field:asc|desc` (namespace, flowId, triggerId, date, nextExecutionDate, updatedDate, executionId)",
            ),
        ],
        responses: &[
            (
                200,
                "A page of `{abstractTrigger, triggerContext}`",
                "PagedTriggers",
            ),
            (422, "Invalid filter, page or sort", "Error"),
        ],
        ..route(
            "get",
            "/api/v1/triggers/search",
            "Triggers",
            "Search triggers",
        )
    },
    Route {
        query: &[
            ("q", "Text contained in the trigger id"),
            ("page", "Page number, from 1 (default 1)"),
            ("size", "Page size (default 10)"),
            ("sort", "`field:asc|desc`"),
        ],
        responses: &[
            (200, "A page of trigger contexts", "PagedTriggerContexts"),
            (404, "Unknown flow", "Error"),
        ],
        ..route(
            "get",
            "/api/v1/triggers/{namespace}/{flowId}",
            "Triggers",
            "The triggers of a flow",
        )
    },
    Route {
        body: JSON,
        responses: &[
            (200, "The new trigger context", "TriggerContext"),
            (404, "Unknown trigger", "Error"),
            (409, "A backfill is already under way", "Error"),
            (422, "Invalid context or backfill", "Error"),
        ],
        ..route(
            "put",
            "/api/v1/triggers",
            "Triggers",
            "Update a trigger: `disabled` (operator override) and/or a new `backfill` `{start, end?, inputs?, labels?}`",
        )
    },
    Route {
        responses: &[
            (200, "The trigger context", "TriggerContext"),
            (404, "Unknown trigger", "Error"),
        ],
        ..route(
            "post",
            "/api/v1/triggers/{namespace}/{flowId}/{triggerId}/unlock",
            "Triggers",
            "Unlock a trigger (forget the execution it runs)",
        )
    },
    Route {
        body: JSON,
        responses: &[
            (200, "The trigger context", "TriggerContext"),
            (404, "Unknown trigger", "Error"),
            (409, "No backfill", "Error"),
        ],
        ..route(
            "put",
            "/api/v1/triggers/backfill/pause",
            "Triggers",
            "Pause the backfill of a trigger (body: a trigger context)",
        )
    },
    Route {
        body: JSON,
        responses: &[
            (200, "The trigger context", "TriggerContext"),
            (404, "Unknown trigger", "Error"),
            (409, "No backfill", "Error"),
        ],
        ..route(
            "put",
            "/api/v1/triggers/backfill/unpause",
            "Triggers",
            "Resume the backfill of a trigger (body: a trigger context)",
        )
    },
    Route {
        body: JSON,
        responses: &[
            (200, "The trigger context", "TriggerContext"),
            (404, "Unknown trigger", "Error"),
        ],
        ..route(
            "post",
            "/api/v1/triggers/backfill/delete",
            "Triggers",
            "Delete the backfill of a trigger (body: a trigger context)",
        )
    },
    Route {
        body: JSON,
        responses: &[
            (200, "`{count}` of triggers changed", ""),
            (422, "Invalid body", "Error"),
        ],
        ..route(
            "post",
            "/api/v1/triggers/set-disabled/by-triggers",
            "Triggers",
            "Disable or enable triggers (`{triggers: [contexts], disabled}`)",
        )
    },
    Route {
        public: true,
        ..route("get", "/health", "Health", "Liveness")
    },
    Route {
        public: true,
        ..route("get", "/api/v1/health", "Health", "Liveness")
    },
    Route {
        public: true,
        responses: &[(200, "Ready", ""), (503, "The queue does not answer", "")],
        ..route("get", "/ready", "Health", "Readiness")
    },
    Route {
        public: true,
        responses: &[(200, "Ready", ""), (503, "The queue does not answer", "")],
        ..route("get", "/api/v1/ready", "Health", "Readiness")
    },
    Route {
        public: true,
        ..route("get", "/ping", "Health", "Answers pong")
    },
    Route {
        ..route(
            "get",
            "/api/v1/openapi.json",
            "Documentation",
            "This document",
        )
    },
];

fn schemas() -> Value {
    let error = json!({
        "type": "object",
        "required": ["message"],
        "properties": {
            "message": {"type": "string"},
            "field": {"type": "string"},
            "errors": {"type": "array", "items": {"type": "object", "properties": {"message": {"type": "string"}, "path": {"type": "string"}}}}
        }
    });
    let state = json!({
        "type": "object",
        "properties": {
            "current": {"type": "string", "enum": ["CREATED","QUEUED","RUNNING","PAUSED","RETRYING","RETRIED","RESTARTED","KILLING","SUCCESS","WARNING","FAILED","KILLED","CANCELLED","SKIPPED"]},
            "histories": {"type": "array", "items": {"type": "object", "properties": {"state": {"type": "string"}, "date": {"type": "string", "format": "date-time"}}}},
            "startDate": {"type": "string", "format": "date-time"},
            "endDate": {"type": "string", "format": "date-time"},
            "duration": {"type": "string"}
        }
    });
    let execution = json!({
        "type": "object",
        "properties": {
            "id": {"type": "string"}, "namespace": {"type": "string"}, "flowId": {"type": "string"},
            "flowRevision": {"type": "integer"}, "state": {"$ref": "#/components/schemas/State"},
            "taskRunList": {"type": "array", "items": {"type": "object"}},
            "inputs": {"type": "object"}, "outputs": {"type": "object"},
            "labels": {"type": "array", "items": {"type": "object", "properties": {"key": {"type": "string"}, "value": {"type": "string"}}}},
            "parentId": {"type": "string"}, "originalId": {"type": "string"}, "trigger": {"type": "object"},
            "metadata": {"type": "object"}
        }
    });
    let flow = json!({
        "type": "object",
        "description": "The flow as JSON (Kestra's Flow), plus revision, deleted and, when asked, source",
        "properties": {
            "id": {"type": "string"}, "namespace": {"type": "string"}, "revision": {"type": "integer"},
            "tasks": {"type": "array", "items": {"type": "object"}}, "inputs": {"type": "array", "items": {"type": "object"}},
            "disabled": {"type": "boolean"}, "deleted": {"type": "boolean"}, "source": {"type": "string"}
        }
    });
    let log = json!({
        "type": "object",
        "properties": {
            "namespace": {"type": "string"}, "flowId": {"type": "string"}, "taskId": {"type": "string"},
            "executionId": {"type": "string"}, "taskRunId": {"type": "string"}, "attemptNumber": {"type": "integer"},
            "timestamp": {"type": "string", "format": "date-time"}, "level": {"type": "string"},
            "thread": {"type": "string"}, "message": {"type": "string"}
        }
    });
    let validate = json!({
        "type": "object",
        "properties": {
            "index": {"type": "integer"}, "flow": {"type": ["string", "null"]}, "namespace": {"type": ["string", "null"]},
            "constraints": {"type": ["string", "null"]}, "outdated": {"type": "boolean"},
            "deprecationPaths": {"type": "array", "items": {"type": "string"}},
            "warnings": {"type": "array", "items": {"type": "string"}},
            "infos": {"type": "array", "items": {"type": "string"}}
        }
    });
    let backfill = json!({
        "type": "object",
        "properties": {
            "start": {"type": "string", "format": "date-time"}, "end": {"type": "string", "format": "date-time"},
            "currentDate": {"type": "string", "format": "date-time"}, "paused": {"type": "boolean"},
            "inputs": {"type": "object"}, "labels": {"type": "array", "items": {"type": "object", "properties": {"key": {"type": "string"}, "value": {"type": "string"}}}},
            "created": {"type": "string", "format": "date-time"}
        }
    });
    let trigger_context = json!({
        "type": "object",
        "properties": {
            "namespace": {"type": "string"}, "flowId": {"type": "string"}, "triggerId": {"type": "string"},
            "date": {"type": "string", "format": "date-time"}, "nextExecutionDate": {"type": "string", "format": "date-time"},
            "backfill": {"$ref": "#/components/schemas/Backfill"}, "disabled": {"type": "boolean"},
            "executionId": {"type": "string"}, "updatedDate": {"type": "string", "format": "date-time"},
            "stopAfter": {"type": "array", "items": {"type": "string"}}
        }
    });
    let trigger_row = json!({
        "type": "object",
        "properties": {
            "abstractTrigger": {"type": "object", "description": "The trigger's definition (id, type and properties)"},
            "triggerContext": {"$ref": "#/components/schemas/TriggerContext"}
        }
    });
    let paged = |item: &str| {
        json!({
            "type": "object",
            "properties": {"results": {"type": "array", "items": {"$ref": format!("#/components/schemas/{item}")}}, "total": {"type": "integer"}}
        })
    };
    json!({
        "Error": error,
        "State": state,
        "Execution": execution,
        "PagedExecutions": paged("Execution"),
        "Flow": flow,
        "Flows": {"type": "array", "items": {"$ref": "#/components/schemas/Flow"}},
        "PagedFlows": paged("Flow"),
        "FlowGraph": {"type": "object", "properties": {"nodes": {"type": "array"}, "edges": {"type": "array"}, "clusters": {"type": "array"}}},
        "LogEntry": log,
        "LogEntries": {"type": "array", "items": {"$ref": "#/components/schemas/LogEntry"}},
        "ValidateResult": validate,
        "ValidateResults": {"type": "array", "items": {"$ref": "#/components/schemas/ValidateResult"}},
        "Backfill": backfill,
        "TriggerContext": trigger_context,
        "TriggerRow": trigger_row,
        "PagedTriggers": paged("TriggerRow"),
        "PagedTriggerContexts": paged("TriggerContext"),
        "KvValue": {"type": "object", "properties": {"type": {"type": "string", "enum": ["STRING", "NUMBER", "BOOLEAN", "JSON"]}, "value": {}}}
    })
}

fn operation(r: &Route) -> Value {
    let mut params: Vec<Value> = r
        .path
        .split('/')
        .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
        .map(|name| json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}}))
        .collect();
    params.extend(
        r.query
            .iter()
            .map(|(name, description)| json!({"name": name, "in": "query", "required": *name == "path", "description": description, "schema": {"type": "string"}})),
    );
    let mut responses = Map::new();
    for (code, description, schema) in r.responses {
        let mut resp = json!({ "description": description });
        if !schema.is_empty() {
            resp["content"] = json!({"application/json": {"schema": {"$ref": format!("#/components/schemas/{schema}")}}});
        }
        responses.insert(code.to_string(), resp);
    }
    if !r.cross_site {
        responses.entry("403").or_insert_with(|| {
        json!({"description": "A foreign Origin or Sec-Fetch-Site: cross-site", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}})
        });
    }
    responses.entry("421").or_insert_with(|| {
        json!({"description": "The Host header does not name this server", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}})
    });
    if r.method != "get" && !r.body.contains(&ANY_BODY) {
        responses.entry("415").or_insert_with(|| {
            json!({"description": "A content type the route does not accept", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}})
        });
    }
    if !r.public {
        responses
            .entry("401")
            .or_insert_with(|| json!({"description": "Missing or wrong credentials (when authentication is configured)"}));
    }
    let mut op = json!({
        "tags": [r.tag],
        "summary": r.summary,
        "operationId": format!("{}{}", r.method, r.path.replace(['/', '{', '}', '.', '-'], "_")),
        "parameters": params,
        "responses": responses,
    });
    if !r.body.is_empty() {
        let content: Map<String, Value> = r
            .body
            .iter()
            .map(|ct| {
                let schema = if ct.starts_with("multipart") {
                    json!({"type": "object", "additionalProperties": {"type": "string", "format": "binary"}})
                } else if *ct == "application/json" {
                    json!({"type": "object"})
                } else if *ct == ANY_BODY {
                    json!({})
                } else {
                    json!({"type": "string"})
                };
                ((*ct).to_owned(), json!({ "schema": schema }))
            })
            .collect();
        op["requestBody"] = json!({ "required": false, "content": content });
    }
    if r.public {
        op["security"] = json!([]);
    }
    op
}

/// The OpenAPI document.
pub fn document() -> Value {
    let mut paths = Map::new();
    for r in ROUTES {
        let entry = paths.entry(r.path.to_owned()).or_insert_with(|| json!({}));
        entry[r.method] = operation(r);
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Kite API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Kestra-compatible REST API of Kite (a subset of Kestra's /api/v1)."
        },
        "paths": paths,
        "components": {
            "schemas": schemas(),
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "basic": {"type": "http", "scheme": "basic"}
            }
        },
        "security": [{"bearer": []}, {"basic": []}]
    })
}

/// `GET /api/v1/openapi.json`.
pub(crate) async fn serve() -> Json<Value> {
    Json(document())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_is_documented_once() {
        let mut seen = std::collections::HashSet::new();
        for r in ROUTES {
            assert!(
                seen.insert((r.method, r.path)),
                "{} {} twice",
                r.method,
                r.path
            );
        }
        let doc = document();
        for r in ROUTES {
            assert!(
                doc["paths"][r.path][r.method].is_object(),
                "{} {}",
                r.method,
                r.path
            );
        }
        let schemas = doc["components"]["schemas"].as_object().unwrap();
        let text = doc.to_string();
        for (i, _) in text.match_indices("#/components/schemas/") {
            let name: String = text[i + 21..]
                .chars()
                .take_while(|c| c.is_alphanumeric())
                .collect();
            assert!(schemas.contains_key(&name), "missing schema {name}");
        }
    }
}
