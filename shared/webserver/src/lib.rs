//! Kite's REST API: Kestra's `/api/v1` routes over a [`Platform`], as an axum [`Router`].
//!
//! ```no_run
//! # async fn demo(platform: std::sync::Arc<kite_engine::services::Platform>) -> std::io::Result<()> {
//! let state = kite_webserver::AppState::new(platform).with_token("s3cret");
//! let app = kite_webserver::router(state);
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//! axum::serve(listener, app).await
//! # }
//! ```
//!
//! Every response body is JSON in Kestra's shapes (executions, task runs, logs and flows
//! come straight from the engine's serde models); errors are
//! `{"message": ..., "field": ..., "errors": [...]}` with a 4xx status for anything the
//! client got wrong (a malformed body, an unknown flow or execution, invalid inputs), and
//! a 5xx only when a backend fails.
//!
//! # Layout
//!
//! | module | what |
//! |---|---|
//! | [`error`] | [`ApiError`], the JSON error shape, and the layer that turns every non-JSON error response into it |
//! | `guard` | browser protections before anything else: `Host` names the server, no foreign `Origin` or `Sec-Fetch-Site: cross-site`, only documented content types on state-changing requests |
//! | `auth` | optional bearer token / basic auth (health endpoints stay open) |
//! | `params` | lenient query-string parsing (repeated keys, `labels=k:v`) and identifier checks |
//! | `flows` | `/flows`: create, update, get, list, search, delete, revisions, validate |
//! | `graph` | `/flows/{namespace}/{id}/graph`: a cluster graph of the task tree |
//! | `inputs` | reading execution/resume inputs from multipart (files streamed to storage) or JSON bodies |
//! | `disposition` | `Content-Disposition: attachment` with sanitised file names |
//! | `executions` | `/executions`: create (optionally waiting), get, search, kill, resume, delete, files, follow (SSE) |
//! | `logs` | `/logs/{executionId}`: list, download, follow (SSE) |
//! | `kv` | `/namespaces/{ns}/kv`: the namespace key-value store |
//! | `webhook` | `/executions/webhook/{namespace}/{flowId}/{key}`: Webhook triggers (authenticated by their key, not the API token) |
//! | `triggers` | `/triggers`: trigger states (search, per flow), disable/enable, unlock, backfills |
//! | `health` | `/health`, `/api/v1/health`, `/ready`, `/ping` |
//! | [`catalog`] | the namespaces that hold flows (searches across namespaces need them) |
//! | [`openapi`] | the route table and the OpenAPI 3.1 document served at `/api/v1/openapi.json` |

pub mod catalog;
pub mod error;
pub mod openapi;

mod auth;
mod disposition;
mod executions;
mod flows;
mod graph;
mod guard;
mod health;
mod inputs;
mod kv;
mod logs;
mod params;
mod triggers;
mod webhook;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{delete, get, post, put};
use kite_engine::services::Platform;

pub use error::ApiError;
/// The trigger types the webserver serves (Webhook).
pub use webhook::TRIGGER_TYPES as SERVED_TRIGGER_TYPES;

/// Default largest request body for uploads (execution and resume inputs): 100 MiB.
pub const DEFAULT_MAX_UPLOAD_BYTES: usize = 100 * 1024 * 1024;
/// Largest webhook body: 1 MiB.
pub const MAX_WEBHOOK_BODY_BYTES: usize = webhook::MAX_BODY_BYTES;
/// Largest body of every other route (flow sources, JSON): 16 MiB.
pub const MAX_BODY_BYTES: usize = 16 * 1024 * 1024;

/// Options of the API.
#[derive(Clone)]
pub struct Options {
    /// When set, requests must carry `Authorization: Bearer <token>`.
    pub token: Option<String>,
    /// When set, requests may authenticate with basic auth `user:password`.
    pub basic_auth: Option<(String, String)>,
    /// Largest upload body (multipart execution inputs), in bytes.
    pub max_upload_bytes: usize,
    /// How often waiting and following requests re-read an execution when no end
    /// notification arrives (executions ending in another process).
    pub poll_interval: Duration,
    /// Names the `Host` header may carry besides the loopback names (`localhost`,
    /// `127.0.0.1`, `[::1]`, any port): `name` (any port), `name:port`, or `*.suffix`.
    pub public_hosts: Vec<String>,
    /// Origins (`scheme://host[:port]`) allowed to call the API besides the server's own.
    pub allowed_origins: Vec<String>,
    /// Called on the blocking pool before each flow source is parsed (instrumentation:
    /// tests hold parses there to show the async threads stay free).
    pub parse_hook: Option<ParseHook>,
}

/// See [`Options::parse_hook`].
pub type ParseHook = Arc<dyn Fn() + Send + Sync>;

impl Default for Options {
    fn default() -> Self {
        Self {
            token: None,
            basic_auth: None,
            max_upload_bytes: DEFAULT_MAX_UPLOAD_BYTES,
            poll_interval: Duration::from_millis(200),
            public_hosts: Vec::new(),
            allowed_origins: Vec::new(),
            parse_hook: None,
        }
    }
}

impl std::fmt::Debug for Options {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Options")
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field(
                "basic_auth",
                &self
                    .basic_auth
                    .as_ref()
                    .map(|(u, _)| format!("{u}:<redacted>")),
            )
            .field("max_upload_bytes", &self.max_upload_bytes)
            .field("poll_interval", &self.poll_interval)
            .field("public_hosts", &self.public_hosts)
            .field("allowed_origins", &self.allowed_origins)
            .field("parse_hook", &self.parse_hook.is_some())
            .finish()
    }
}

impl Options {
    /// Whether any authentication is required.
    pub fn auth_required(&self) -> bool {
        self.token.is_some() || self.basic_auth.is_some()
    }
}

/// The state shared by every handler: the platform and the API options. Cheap to clone.
#[derive(Clone, Debug)]
pub struct AppState {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    platform: Arc<Platform>,
    options: Options,
}

impl AppState {
    /// The API over `platform`, open to anyone who can reach it.
    pub fn new(platform: Arc<Platform>) -> Self {
        Self::with_options(platform, Options::default())
    }

    /// The API over `platform` with `options`.
    pub fn with_options(platform: Arc<Platform>, options: Options) -> Self {
        Self {
            inner: Arc::new(Inner { platform, options }),
        }
    }

    /// Requires `Authorization: Bearer <token>`. An empty token never turns authentication
    /// off: it matches no request (the binaries refuse it before they get here).
    pub fn with_token(self, token: impl Into<String>) -> Self {
        let token = token.into();
        self.map_options(|o| o.token = Some(token))
    }

    /// Accepts basic auth `user:password`.
    pub fn with_basic_auth(self, user: impl Into<String>, password: impl Into<String>) -> Self {
        let pair = (user.into(), password.into());
        self.map_options(|o| o.basic_auth = Some(pair))
    }

    /// Sets the largest upload body (multipart execution and resume inputs), in bytes.
    pub fn with_max_upload_bytes(self, bytes: usize) -> Self {
        self.map_options(|o| o.max_upload_bytes = bytes)
    }

    /// Adds names the `Host` header may carry (see [`Options::public_hosts`]).
    pub fn with_public_hosts(self, hosts: impl IntoIterator<Item = String>) -> Self {
        let hosts: Vec<String> = hosts.into_iter().filter(|h| !h.trim().is_empty()).collect();
        self.map_options(|o| o.public_hosts.extend(hosts))
    }

    /// Adds origins allowed to call the API (see [`Options::allowed_origins`]).
    pub fn with_allowed_origins(self, origins: impl IntoIterator<Item = String>) -> Self {
        let origins: Vec<String> = origins
            .into_iter()
            .filter(|o| !o.trim().is_empty())
            .collect();
        self.map_options(|o| o.allowed_origins.extend(origins))
    }

    /// Calls `hook` on the blocking pool before each flow source is parsed.
    pub fn with_parse_hook(self, hook: ParseHook) -> Self {
        self.map_options(|o| o.parse_hook = Some(hook))
    }

    fn map_options(self, f: impl FnOnce(&mut Options)) -> Self {
        let mut options = self.inner.options.clone();
        f(&mut options);
        Self::with_options(self.inner.platform.clone(), options)
    }

    /// The platform.
    pub fn platform(&self) -> &Arc<Platform> {
        &self.inner.platform
    }

    /// The options.
    pub fn options(&self) -> &Options {
        &self.inner.options
    }
}

/// Every route of the API (see [`openapi::ROUTES`] for the list).
pub fn router(state: AppState) -> Router {
    let upload_limit = DefaultBodyLimit::max(state.options().max_upload_bytes);
    let api = Router::new()
        // Flows.
        .route("/api/v1/flows", post(flows::create))
        .route("/api/v1/flows/validate", post(flows::validate))
        .route("/api/v1/flows/search", get(flows::search))
        .route(
            "/api/v1/flows/distinct-namespaces",
            get(flows::distinct_namespaces),
        )
        .route("/api/v1/flows/{namespace}", get(flows::list))
        .route(
            "/api/v1/flows/{namespace}/{id}",
            get(flows::get).put(flows::update).delete(flows::delete),
        )
        .route(
            "/api/v1/flows/{namespace}/{id}/revisions",
            get(flows::revisions),
        )
        .route("/api/v1/flows/{namespace}/{id}/graph", get(flows::graph))
        // Executions.
        .route("/api/v1/executions", get(executions::search))
        .route("/api/v1/executions/search", get(executions::search))
        .route(
            "/api/v1/executions/{id}",
            get(executions::get).delete(executions::delete),
        )
        .route(
            "/api/v1/executions/{id}/{flow}",
            post(executions::create).layer(upload_limit),
        )
        .route("/api/v1/executions/{id}/kill", delete(executions::kill))
        .route("/api/v1/executions/{id}/restart", post(executions::restart))
        .route("/api/v1/executions/{id}/replay", post(executions::replay))
        .route(
            "/api/v1/executions/{id}/state",
            post(executions::change_state),
        )
        .route(
            "/api/v1/executions/{id}/resume",
            post(executions::resume).layer(upload_limit),
        )
        .route("/api/v1/executions/{id}/file", get(executions::file))
        .route(
            "/api/v1/executions/{id}/file/metas",
            get(executions::file_metas),
        )
        .route("/api/v1/executions/{id}/follow", get(executions::follow))
        .route(
            "/api/v1/executions/webhook/{namespace}/{flowId}/{key}",
            get(webhook::call)
                .post(webhook::call)
                .put(webhook::call)
                .layer(DefaultBodyLimit::max(webhook::MAX_BODY_BYTES)),
        )
        // Logs.
        .route("/api/v1/logs/{id}", get(logs::list))
        .route("/api/v1/logs/{id}/download", get(logs::download))
        .route("/api/v1/logs/{id}/follow", get(logs::follow))
        // KV.
        .route("/api/v1/namespaces/{namespace}/kv", get(kv::keys))
        .route(
            "/api/v1/namespaces/{namespace}/kv/{key}",
            get(kv::get).put(kv::put).delete(kv::delete),
        )
        // Triggers.
        .route("/api/v1/triggers", put(triggers::update))
        .route("/api/v1/triggers/search", get(triggers::search))
        .route(
            "/api/v1/triggers/backfill/pause",
            put(triggers::pause_backfill),
        )
        .route(
            "/api/v1/triggers/backfill/unpause",
            put(triggers::unpause_backfill),
        )
        .route(
            "/api/v1/triggers/backfill/delete",
            post(triggers::delete_backfill),
        )
        .route(
            "/api/v1/triggers/set-disabled/by-triggers",
            post(triggers::set_disabled_by_triggers),
        )
        .route(
            "/api/v1/triggers/{namespace}/{flowId}",
            get(triggers::of_flow),
        )
        .route(
            "/api/v1/triggers/{namespace}/{flowId}/{triggerId}/unlock",
            post(triggers::unlock),
        )
        // Health and documentation.
        .route("/health", get(health::health))
        .route("/api/v1/health", get(health::health))
        .route("/ready", get(health::ready))
        .route("/api/v1/ready", get(health::ready))
        .route("/ping", get(health::ping))
        .route("/api/v1/openapi.json", get(openapi::serve))
        .fallback(error::no_route);
    api.layer(axum::middleware::from_fn_with_state(
        state.clone(),
        auth::require,
    ))
    .layer(axum::middleware::from_fn_with_state(
        state.clone(),
        guard::check,
    ))
    .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
    .layer(axum::middleware::map_response(error::normalize))
    .with_state(state)
}
