//! `io.kestra.plugin.core.http.Request`: one HTTP request, the response as outputs.

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::plugin::PluginType;

/// HTTP client options.
#[derive(Debug, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct HttpOptions {
    /// Connect timeout.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connect_timeout: Option<crate::property::Dyn<crate::duration::IsoDuration>>,
    /// Read timeout.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_timeout: Option<crate::property::Dyn<crate::duration::IsoDuration>>,
    /// Follow redirects (default true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub follow_redirects: Option<bool>,
    /// Basic authentication.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub basic_auth_user: Option<String>,
    /// Basic authentication.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub basic_auth_password: Option<String>,
    /// Anything else Kestra's client accepts is kept for compatibility.
    #[serde(flatten)]
    pub other: IndexMap<String, serde_json::Value>,
}

/// The HTTP properties shared by Request and Download.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HttpRequest {
    /// The URI.
    pub uri: String,
    /// Method (default GET).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// Request body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// Form fields (URL-encoded or multipart).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub form_data: Option<IndexMap<String, serde_json::Value>>,
    /// Content type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    /// Headers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub headers: Option<IndexMap<String, serde_json::Value>>,
    /// Client options.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub options: Option<HttpOptions>,
    /// TLS options.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssl_options: Option<serde_json::Value>,
    /// Do not fail on 4xx/5xx.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub allow_failed: bool,
    /// Encrypt the body in outputs.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub encrypt_body: bool,
    /// Fail when the body is empty (Download, default true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fail_on_empty_response: Option<bool>,
}

impl PluginType for HttpRequest {
    const TYPE: &'static str = "io.kestra.plugin.core.http.Request";
    const ALIASES: &'static [&'static str] = &["io.kestra.plugin.fs.http.Request"];
}
