//! Flow inputs: every Kestra input type with its validators.
//!
//! One flat struct is used for all types (as Kestra's YAML is flat); [`Input::problems`]
//! reports properties that do not apply to the declared type. Resolving supplied values
//! against these declarations lives in [`crate::inputs`].

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Input types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum InputType {
    /// Text.
    String,
    /// Integer.
    Int,
    /// Floating-point number.
    Float,
    /// Boolean.
    Boolean,
    /// Boolean (alias).
    Bool,
    /// ISO-8601 instant.
    Datetime,
    /// ISO-8601 date.
    Date,
    /// ISO-8601 time.
    Time,
    /// ISO-8601 duration.
    Duration,
    /// An uploaded file, stored as a `kestra://` URI.
    File,
    /// A JSON document.
    Json,
    /// A YAML document.
    Yaml,
    /// A URI.
    Uri,
    /// An e-mail address.
    Email,
    /// A secret string (masked in logs).
    Secret,
    /// A list of `itemType` values.
    Array,
    /// One of `values` (deprecated, use SELECT).
    Enum,
    /// One of `values`.
    Select,
    /// Several of `values`.
    Multiselect,
}

impl InputType {
    /// The upper-case name.
    pub fn name(&self) -> &'static str {
        match self {
            InputType::String => "STRING",
            InputType::Int => "INT",
            InputType::Float => "FLOAT",
            InputType::Boolean => "BOOLEAN",
            InputType::Bool => "BOOL",
            InputType::Datetime => "DATETIME",
            InputType::Date => "DATE",
            InputType::Time => "TIME",
            InputType::Duration => "DURATION",
            InputType::File => "FILE",
            InputType::Json => "JSON",
            InputType::Yaml => "YAML",
            InputType::Uri => "URI",
            InputType::Email => "EMAIL",
            InputType::Secret => "SECRET",
            InputType::Array => "ARRAY",
            InputType::Enum => "ENUM",
            InputType::Select => "SELECT",
            InputType::Multiselect => "MULTISELECT",
        }
    }
}

/// `dependsOn: {inputs, condition}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DependsOn {
    /// Inputs resolved before this one.
    #[serde(default)]
    pub inputs: Vec<String>,
    /// The input is enabled only when this renders `true`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub condition: Option<String>,
}

/// One declared input.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Input {
    /// Id (dots make nested maps: `a.b` → `inputs.a.b`).
    #[serde(default)]
    pub id: String,
    /// Deprecated name of `id`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The type.
    #[serde(rename = "type")]
    pub kind: InputType,
    /// Description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Label shown in forms (≤ 64 characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// Whether a value is required (default true).
    #[serde(default = "yes")]
    pub required: bool,
    /// Value used when none is supplied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub defaults: Option<serde_json::Value>,
    /// Pre-filled value in forms (not used when none is supplied).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefill: Option<serde_json::Value>,
    /// Other inputs this one depends on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub depends_on: Option<DependsOn>,
    /// STRING/SECRET: a regular expression the whole value must match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validator: Option<String>,
    /// INT/FLOAT/DURATION: minimum.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<serde_json::Value>,
    /// INT/FLOAT/DURATION: maximum.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<serde_json::Value>,
    /// DATETIME/DATE/TIME: the value must be after this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<String>,
    /// DATETIME/DATE/TIME: the value must be before this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<String>,
    /// FILE: extension of the stored file (default `.upl`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extension: Option<String>,
    /// ARRAY/MULTISELECT: type of the items.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item_type: Option<InputType>,
    /// ENUM/SELECT/MULTISELECT: the allowed values.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub values: Option<Vec<String>>,
    /// MULTISELECT: deprecated name of `values`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub options: Option<Vec<String>>,
    /// SELECT/MULTISELECT: an expression producing the allowed values.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expression: Option<String>,
    /// SELECT/MULTISELECT: accept values outside the list.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub allow_custom_value: bool,
    /// SELECT: show as radio buttons.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub is_radio: bool,
    /// SELECT: select the first value by default.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub auto_select_first: bool,
}

fn yes() -> bool {
    true
}

impl Input {
    /// A declaration of `id` with type `kind` and no validator (e.g. to type a flow output).
    pub fn typed(id: impl Into<String>, kind: InputType, required: bool) -> Self {
        Self {
            id: id.into(),
            name: None,
            kind,
            description: None,
            display_name: None,
            required,
            defaults: None,
            prefill: None,
            depends_on: None,
            validator: None,
            min: None,
            max: None,
            after: None,
            before: None,
            extension: None,
            item_type: None,
            values: None,
            options: None,
            expression: None,
            allow_custom_value: true,
            is_radio: false,
            auto_select_first: false,
        }
    }

    /// The id, falling back to the deprecated `name`.
    pub fn key(&self) -> &str {
        if self.id.is_empty() {
            self.name.as_deref().unwrap_or("")
        } else {
            &self.id
        }
    }

    /// Properties set that do not apply to this type, and other static problems.
    pub fn problems(&self) -> Vec<(&'static str, String)> {
        use InputType as T;
        let t = self.kind;
        let mut out = Vec::new();
        let mut only = |field: &'static str, set: bool, types: &[InputType]| {
            if set && !types.contains(&t) {
                let names: Vec<&str> = types.iter().map(InputType::name).collect();
                out.push((
                    field,
                    format!(
                        "`{field}` does not apply to inputs of type {}; it is for {}",
                        t.name(),
                        names.join(", ")
                    ),
                ));
            }
        };
        only(
            "validator",
            self.validator.is_some(),
            &[T::String, T::Secret],
        );
        only("min", self.min.is_some(), &[T::Int, T::Float, T::Duration]);
        only("max", self.max.is_some(), &[T::Int, T::Float, T::Duration]);
        only(
            "after",
            self.after.is_some(),
            &[T::Datetime, T::Date, T::Time],
        );
        only(
            "before",
            self.before.is_some(),
            &[T::Datetime, T::Date, T::Time],
        );
        only("extension", self.extension.is_some(), &[T::File]);
        only(
            "itemType",
            self.item_type.is_some(),
            &[T::Array, T::Multiselect],
        );
        only(
            "values",
            self.values.is_some(),
            &[T::Enum, T::Select, T::Multiselect],
        );
        only("options", self.options.is_some(), &[T::Multiselect]);
        only(
            "expression",
            self.expression.is_some(),
            &[T::Select, T::Multiselect],
        );
        only(
            "allowCustomValue",
            self.allow_custom_value,
            &[T::Select, T::Multiselect],
        );
        only("isRadio", self.is_radio, &[T::Select]);
        if self.id.is_empty() && self.name.is_none() {
            out.push(("id", "missing required property `id`".to_owned()));
        }
        if t == T::File && self.defaults.is_some() {
            out.push((
                "defaults",
                "no `defaults` can be set for inputs of type 'FILE'".to_owned(),
            ));
        }
        if t == T::Array {
            match self.item_type {
                None => out.push(("itemType", "an ARRAY input needs `itemType`".to_owned())),
                Some(T::Array) => out.push(("itemType", "`itemType` cannot be `ARRAY`".to_owned())),
                Some(_) => {}
            }
        }
        if matches!(t, T::Enum | T::Select | T::Multiselect)
            && self.values.is_none()
            && self.options.is_none()
            && self.expression.is_none()
        {
            out.push((
                "values",
                format!("a {} input needs `values` (or `expression`)", t.name()),
            ));
        }
        if let Some(d) = &self.display_name
            && d.chars().count() > 64
        {
            out.push((
                "displayName",
                "`displayName` is limited to 64 characters".to_owned(),
            ));
        }
        if let Some(v) = &self.validator
            && let Err(e) = fancy_regex::Regex::new(v)
        {
            out.push(("validator", format!("invalid pattern [{v}]: {e}")));
        }
        out
    }
}
