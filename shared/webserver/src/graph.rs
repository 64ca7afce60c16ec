//! A flow's task tree as a graph in the spirit of Kestra's `FlowGraph`: `nodes`, `edges`
//! and `clusters`.
//!
//! The flow is a cluster from `root.start` to `root.end`; each runnable task is one node;
//! each flowable task is a node (its cluster's entry) plus a `<id>.end` node, with its
//! branches between them: in sequence (`SEQUENTIAL`), side by side (`PARALLEL` for
//! Parallel/Dag/EachParallel), or as alternatives (`CHOICE` for `then`/`else`/`cases`).
//! `errors` branches hang off with `ERROR`, `finally` with `FINALLY`. Triggers point at
//! `root.start`.

use kite_flow::{Flow, Task};
use serde_json::{Value, json};

const NODE_TASK: &str = "io.kestra.core.models.hierarchies.GraphTask";
const NODE_ROOT: &str = "io.kestra.core.models.hierarchies.GraphClusterRoot";
const NODE_END: &str = "io.kestra.core.models.hierarchies.GraphClusterEnd";
const NODE_TRIGGER: &str = "io.kestra.core.models.hierarchies.GraphTrigger";
const CLUSTER: &str = "io.kestra.core.models.hierarchies.GraphCluster";

#[derive(Default)]
struct Graph {
    nodes: Vec<Value>,
    edges: Vec<Value>,
    clusters: Vec<Value>,
}

impl Graph {
    fn node(&mut self, uid: &str, kind: &str, task: Option<&Task>) {
        let mut n = json!({ "uid": uid, "type": kind });
        if let Some(t) = task {
            n["task"] = t.to_json();
        }
        self.nodes.push(n);
    }

    fn edge(&mut self, source: &str, target: &str, relation: &str, value: Option<&str>) {
        let mut rel = json!({ "relationType": relation });
        if let Some(v) = value {
            rel["value"] = Value::String(v.to_owned());
        }
        self.edges
            .push(json!({ "source": source, "target": target, "relation": rel }));
    }

    /// Adds `task` (and its subtree); returns (entry uid, exit uid).
    fn task(&mut self, task: &Task, parents: &[String]) -> (String, String) {
        let uid = task.id.clone();
        self.node(&uid, NODE_TASK, Some(task));
        let branches = task.branches();
        if branches.is_empty() {
            return (uid.clone(), uid);
        }
        let end = format!("{uid}.end");
        self.node(&end, NODE_END, None);
        let cluster = format!("cluster_{uid}");
        let mut inner_parents = parents.to_vec();
        inner_parents.push(cluster.clone());
        let first_node = self.nodes.len();
        let parallel = ["Parallel", "Dag", "EachParallel"]
            .iter()
            .any(|s| task.type_name.rsplit('.').next() == Some(s));
        for b in branches {
            let (relation, value) = match b.name {
                "errors" => ("ERROR", None),
                "finally" => ("FINALLY", None),
                "then" | "else" | "defaults" => ("CHOICE", Some(b.name.to_owned())),
                "cases" => ("CHOICE", b.key.map(str::to_owned)),
                _ if parallel => ("PARALLEL", None),
                _ => ("SEQUENTIAL", None),
            };
            if relation == "PARALLEL" {
                for t in b.tasks {
                    let (entry, exit) = self.task(t, &inner_parents);
                    self.edge(&uid, &entry, relation, None);
                    self.edge(&exit, &end, relation, None);
                }
            } else {
                self.sequence(
                    b.tasks,
                    &uid,
                    &end,
                    relation,
                    value.as_deref(),
                    &inner_parents,
                );
            }
        }
        let members: Vec<Value> = self.nodes[first_node..]
            .iter()
            .map(|n| n["uid"].clone())
            .collect();
        self.clusters.push(json!({
            "cluster": { "uid": cluster, "type": CLUSTER, "taskNode": uid },
            "nodes": members,
            "parents": parents,
            "start": uid,
            "end": end,
        }));
        (uid, end)
    }

    /// Chains `tasks` from `from` to `to`; the first edge carries `relation`.
    fn sequence(
        &mut self,
        tasks: &[Task],
        from: &str,
        to: &str,
        relation: &str,
        value: Option<&str>,
        parents: &[String],
    ) {
        let mut prev = from.to_owned();
        let mut rel = relation;
        let mut val = value;
        for t in tasks {
            let (entry, exit) = self.task(t, parents);
            self.edge(&prev, &entry, rel, val);
            prev = exit;
            rel = "SEQUENTIAL";
            val = None;
        }
        self.edge(
            &prev,
            to,
            if tasks.is_empty() {
                relation
            } else {
                "SEQUENTIAL"
            },
            None,
        );
    }
}

/// The graph of `flow`.
pub(crate) fn flow_graph(flow: &Flow) -> Value {
    let mut g = Graph::default();
    g.node("root.start", NODE_ROOT, None);
    g.node("root.end", NODE_END, None);
    for t in &flow.triggers {
        let uid = format!("root.Triggers.{}", t.id);
        let mut n = json!({ "uid": uid, "type": NODE_TRIGGER });
        n["trigger"] = t.to_json();
        g.nodes.push(n);
        g.edge(&uid, "root.start", "SEQUENTIAL", None);
    }
    g.sequence(
        &flow.tasks,
        "root.start",
        "root.end",
        "SEQUENTIAL",
        None,
        &[],
    );
    if !flow.errors.is_empty() {
        g.sequence(&flow.errors, "root.start", "root.end", "ERROR", None, &[]);
    }
    if !flow.finally.is_empty() {
        g.sequence(
            &flow.finally,
            "root.start",
            "root.end",
            "FINALLY",
            None,
            &[],
        );
    }
    if !flow.after_execution.is_empty() {
        g.node("root.afterExecution.end", NODE_END, None);
        g.sequence(
            &flow.after_execution,
            "root.end",
            "root.afterExecution.end",
            "AFTER_EXECUTION",
            None,
            &[],
        );
    }
    json!({ "nodes": g.nodes, "edges": g.edges, "clusters": g.clusters })
}
