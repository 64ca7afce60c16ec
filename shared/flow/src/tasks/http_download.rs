//! `io.kestra.plugin.core.http.Download`: an HTTP response body saved to internal storage.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::plugin::PluginType;
use crate::tasks::http_request::HttpRequest;

/// Downloads `uri` into a file of internal storage (output `uri`).
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(transparent)]
pub struct HttpDownload(pub HttpRequest);

impl PluginType for HttpDownload {
    const TYPE: &'static str = "io.kestra.plugin.core.http.Download";
    const ALIASES: &'static [&'static str] = &["io.kestra.plugin.fs.http.Download"];
}
