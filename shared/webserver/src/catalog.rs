//! The namespaces that hold flows, and saving flows so that they are known.
//!
//! The repositories answer per-namespace queries only, while Kestra's searches
//! (`/flows/search`, `/executions/search` without a namespace) span every namespace. Until
//! the flow repository can list namespaces itself, every flow saved through
//! [`save_flow`] records its namespace in the KV repository under the reserved namespace
//! [`CATALOG_NAMESPACE`], which no API route accepts (it is not a valid namespace name).
//!
//! Callers that store flows outside the API (`kite server local --flows DIR`) use
//! [`save_flow`] and [`split_documents`] too.

use kite_engine::repo::{RepoError, StoredFlow};
use kite_engine::services::Platform;
use serde_json::Value;

/// The reserved KV namespace holding the catalog (`$` is not allowed in namespaces).
pub const CATALOG_NAMESPACE: &str = "$kite.namespaces";

/// Records `namespace` as holding flows.
pub async fn register_namespace(platform: &Platform, namespace: &str) -> Result<(), RepoError> {
    if platform
        .repos
        .kv
        .get(CATALOG_NAMESPACE, namespace)
        .await?
        .is_none()
    {
        platform
            .repos
            .kv
            .set(CATALOG_NAMESPACE, namespace, Value::Bool(true), None, true)
            .await?;
    }
    Ok(())
}

/// Every namespace that ever held a flow, sorted.
pub async fn namespaces(platform: &Platform) -> Result<Vec<String>, RepoError> {
    let mut out = platform.repos.kv.keys(CATALOG_NAMESPACE, None).await?;
    out.sort();
    out.dedup();
    Ok(out)
}

/// Saves `flow` (parsed from `source`) as a new revision (or returns the latest when the
/// source did not change) and records its namespace.
pub async fn save_flow(
    platform: &Platform,
    flow: &kite_flow::Flow,
    source: &str,
) -> Result<StoredFlow, kite_engine::services::ServiceError> {
    register_namespace(platform, &flow.namespace).await?;
    platform.deploy_flow(flow, source).await
}

/// One YAML document of a multi-document source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Document {
    /// The 1-based line of the source where the document starts.
    pub first_line: u32,
    /// The document's text.
    pub source: String,
}

/// Splits a multi-document YAML source on `---` lines, as Kestra does; documents holding
/// only blanks and comments are dropped (a lone leading or trailing `---` is harmless).
pub fn split_documents(source: &str) -> Vec<Document> {
    let mut docs = Vec::new();
    let mut current = String::new();
    let mut first_line = 1u32;
    let mut line_no = 0u32;
    for line in source.split_inclusive('\n') {
        line_no += 1;
        let bare = line.trim_end();
        let is_separator = bare == "---" || bare.starts_with("--- #") || bare == "...";
        if is_separator {
            push_document(&mut docs, std::mem::take(&mut current), first_line);
            first_line = line_no + 1;
        } else {
            current.push_str(line);
        }
    }
    push_document(&mut docs, current, first_line);
    docs
}

fn push_document(docs: &mut Vec<Document>, source: String, first_line: u32) {
    let meaningful = source.lines().any(|l| {
        let t = l.trim();
        !t.is_empty() && !t.starts_with('#')
    });
    if meaningful {
        docs.push(Document { first_line, source });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_on_separator_lines() {
        let docs =
            split_documents("---\nid: a\n---\n# only a comment\n---\nid: b\nx: '---'\n...\n");
        assert_eq!(docs.len(), 2);
        assert_eq!(docs[0].first_line, 2);
        assert_eq!(docs[0].source, "id: a\n");
        assert_eq!(docs[1].first_line, 6);
        assert_eq!(docs[1].source, "id: b\nx: '---'\n");
        assert!(split_documents("  \n# nothing\n").is_empty());
    }
}
