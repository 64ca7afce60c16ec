//! [`Context`]: the variables an expression sees plus the [`Host`] serving I/O.

use std::fmt;
use std::sync::{Arc, OnceLock};

use serde_json::{Map, Value as Json};

use crate::host::Host;

/// Variables (`flow`, `inputs`, `outputs`, `taskrun`, …) and the host.
///
/// Cheap to clone. The conversion of the variables into the template engine's value
/// model happens once, on first use, and is shared by every render with this context.
#[derive(Clone)]
pub struct Context {
    vars: Arc<Map<String, Json>>,
    host: Arc<dyn Host>,
    root: Arc<OnceLock<minijinja::Value>>,
}

impl fmt::Debug for Context {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Context")
            .field("vars", &self.vars)
            .finish_non_exhaustive()
    }
}

impl Context {
    /// A context from a JSON object of variables. A non-object value yields no variables.
    pub fn new(vars: Json, host: Arc<dyn Host>) -> Self {
        let vars = match vars {
            Json::Object(map) => map,
            _ => Map::new(),
        };
        Self::from_map(vars, host)
    }

    /// A context from a map of variables.
    pub fn from_map(vars: Map<String, Json>, host: Arc<dyn Host>) -> Self {
        Self {
            vars: Arc::new(vars),
            host,
            root: Arc::new(OnceLock::new()),
        }
    }

    /// The variables.
    pub fn vars(&self) -> &Map<String, Json> {
        &self.vars
    }

    /// The host.
    pub fn host(&self) -> &Arc<dyn Host> {
        &self.host
    }

    /// A copy of this context with one more (or a replaced) top-level variable.
    #[must_use]
    pub fn with_var(&self, name: impl Into<String>, value: Json) -> Self {
        let mut vars = (*self.vars).clone();
        vars.insert(name.into(), value);
        Self::from_map(vars, Arc::clone(&self.host))
    }

    pub(crate) fn vars_arc(&self) -> &Arc<Map<String, Json>> {
        &self.vars
    }

    /// The variables as a template value (converted once).
    pub(crate) fn root(&self) -> &minijinja::Value {
        self.root
            .get_or_init(|| crate::convert::from_json_map(&self.vars))
    }
}
