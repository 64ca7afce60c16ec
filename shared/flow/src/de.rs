//! A serde `Deserializer` over a [`Node`] tree.
//!
//! Typed structs (task properties, inputs, retry policies...) are derived with serde and
//! read from the spanned tree through this deserializer, so that every error it raises is
//! stamped with the location and property path of the deepest node involved. Scalars are
//! coerced the way Kestra's Jackson setup does (`"5"` into an integer, `5` into a string).
//!
//! Plugin values (tasks, triggers, conditions) are parsed by the registry rather than by
//! serde: a field of type [`crate::Task`] asks for a newtype struct with a marker name,
//! this deserializer recognises it and hands the node to the registry (see
//! [`crate::parse`]).

use std::fmt;

use serde::de::{
    self, DeserializeSeed, Deserializer, EnumAccess, IntoDeserializer, MapAccess, SeqAccess,
    VariantAccess, Visitor,
};

use crate::diagnostic::{Diagnostic, Location, did_you_mean};
use crate::yaml::{Node, Value, join_path};

/// Deserializes `T` from `node`, whose property path is `path`.
pub fn from_node<T: de::DeserializeOwned>(node: &Node, path: &str) -> Result<T, Diagnostic> {
    T::deserialize(NodeDe::new(node, path))
}

/// Deserializer for one node.
#[derive(Debug)]
pub struct NodeDe<'a> {
    node: &'a Node,
    path: String,
}

impl<'a> NodeDe<'a> {
    /// A deserializer for `node` at `path`.
    pub fn new(node: &'a Node, path: &str) -> Self {
        Self {
            node,
            path: path.to_owned(),
        }
    }

    fn stamp(&self, e: Diagnostic) -> Diagnostic {
        stamp(e, self.node.loc, &self.path)
    }

    fn mismatch(&self, expected: &str) -> Diagnostic {
        let found = match &self.node.value {
            Value::Str(s) => format!("the string \"{}\"", truncate(s, 60)),
            _ => self.node.kind().to_owned(),
        };
        let what = if self.path.is_empty() {
            "value".to_owned()
        } else {
            format!("`{}`", self.path)
        };
        Diagnostic::error(
            self.node.loc,
            self.path.clone(),
            format!("{what} must be {expected}, found {found}"),
        )
    }
}

/// Gives a diagnostic raised deep inside serde the location and path of the node it
/// concerns, naming the property in the message when it does not say it yet.
fn stamp(mut e: Diagnostic, loc: Location, path: &str) -> Diagnostic {
    if e.path.is_empty() && !path.is_empty() {
        e.path = path.to_owned();
        if !e.message.contains(path) && !e.message.starts_with("Unrecognized field") {
            e.message = format!("`{path}`: {}", e.message);
        }
    }
    e.or_at(loc)
}

fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_owned()
    } else {
        let t: String = s.chars().take(max).collect();
        format!("{t}...")
    }
}

macro_rules! int_method {
    ($method:ident, $visit:ident, $ty:ty) => {
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Diagnostic> {
            let n: Option<$ty> = match &self.node.value {
                Value::Int(i) => <$ty>::try_from(*i).ok(),
                Value::Float(f) if f.fract() == 0.0 => <$ty>::try_from(*f as i64).ok(),
                Value::Str(s) => s.trim().parse::<$ty>().ok(),
                _ => None,
            };
            match n {
                Some(n) => visitor.$visit(n).map_err(|e| self.stamp(e)),
                None => Err(self.mismatch(concat!("an integer (", stringify!($ty), ")"))),
            }
        }
    };
}

impl<'de> Deserializer<'de> for NodeDe<'_> {
    type Error = Diagnostic;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Diagnostic> {
        let r = match &self.node.value {
            Value::Null => visitor.visit_unit(),
            Value::Bool(b) => visitor.visit_bool(*b),
            Value::Int(i) => visitor.visit_i64(*i),
            Value::Float(f) => visitor.visit_f64(*f),
            Value::Str(s) => visitor.visit_str(s),
            Value::Seq(items) => visitor.visit_seq(SeqDe::new(items, &self.path)),
            Value::Map(entries) => visitor.visit_map(MapDe::new(entries, &self.path)),
        };
        r.map_err(|e| self.stamp(e))
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Diagnostic> {
        let b = match &self.node.value {
            Value::Bool(b) => Some(*b),
            Value::Str(s) if s.eq_ignore_ascii_case("true") => Some(true),
            Value::Str(s) if s.eq_ignore_ascii_case("false") => Some(false),
            _ => None,
        };
        match b {
            Some(b) => visitor.visit_bool(b).map_err(|e| self.stamp(e)),
            None => Err(self.mismatch("a boolean (true or false)")),
        }
    }

    int_method!(deserialize_i8, visit_i8, i8);
    int_method!(deserialize_i16, visit_i16, i16);
    int_method!(deserialize_i32, visit_i32, i32);
    int_method!(deserialize_i64, visit_i64, i64);
    int_method!(deserialize_u8, visit_u8, u8);
    int_method!(deserialize_u16, visit_u16, u16);
    int_method!(deserialize_u32, visit_u32, u32);
    int_method!(deserialize_u64, visit_u64, u64);

    fn deserialize_f32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Diagnostic> {
        self.deserialize_f64(visitor)
    }

    fn deserialize_f64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Diagnostic> {
        let f = match &self.node.value {
            Value::Int(i) => Some(*i as f64),
            Value::Float(f) => Some(*f),
            Value::Str(s) => s.trim().parse::<f64>().ok(),
            _ => None,
        };
        match f {
            Some(f) => visitor.visit_f64(f).map_err(|e| self.stamp(e)),
            None => Err(self.mismatch("a number")),
        }
    }

    fn deserialize_char<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Diagnostic> {
        self.deserialize_string(visitor)
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Diagnostic> {
        self.deserialize_string(visitor)
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Diagnostic> {
        match &self.node.value {
            Value::Str(s) => visitor.visit_str(s).map_err(|e| self.stamp(e)),
            Value::Bool(_) | Value::Int(_) | Value::Float(_) => {
                let text = self.node.scalar_text().unwrap_or_default();
                visitor.visit_string(text).map_err(|e| self.stamp(e))
            }
            _ => Err(self.mismatch("a string")),
        }
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Diagnostic> {
        self.deserialize_string(visitor)
    }

    fn deserialize_byte_buf<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Diagnostic> {
        self.deserialize_string(visitor)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Diagnostic> {
        if self.node.is_null() {
            visitor.visit_none().map_err(|e| self.stamp(e))
        } else {
            let stamp_loc = self.node.loc;
            let path = self.path.clone();
            visitor
                .visit_some(self)
                .map_err(|e| stamp(e, stamp_loc, &path))
        }
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Diagnostic> {
        match self.node.value {
            Value::Null => visitor.visit_unit().map_err(|e| self.stamp(e)),
            _ => Err(self.mismatch("empty (null)")),
        }
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Diagnostic> {
        self.deserialize_unit(visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Diagnostic> {
        if let Some(kind) = crate::parse::plugin_marker(name) {
            let slot = crate::parse::parse_plugin_into_slot(kind, self.node, &self.path);
            return visitor.visit_u64(slot).map_err(|e| self.stamp(e));
        }
        if name == crate::parse::NODE_MARKER {
            let slot = crate::parse::stash_node(self.node.clone());
            return visitor.visit_u64(slot).map_err(|e| self.stamp(e));
        }
        let loc = self.node.loc;
        let path = self.path.clone();
        visitor
            .visit_newtype_struct(self)
            .map_err(|e| stamp(e, loc, &path))
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Diagnostic> {
        match &self.node.value {
            Value::Seq(items) => visitor
                .visit_seq(SeqDe::new(items, &self.path))
                .map_err(|e| self.stamp(e)),
            _ => Err(self.mismatch("a list")),
        }
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, Diagnostic> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, Diagnostic> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Diagnostic> {
        match &self.node.value {
            Value::Map(entries) => visitor
                .visit_map(MapDe::new(entries, &self.path))
                .map_err(|e| self.stamp(e)),
            _ => Err(self.mismatch("a map of `key: value` entries")),
        }
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Diagnostic> {
        self.deserialize_map(visitor)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Diagnostic> {
        match &self.node.value {
            Value::Str(_) | Value::Int(_) | Value::Bool(_) => {
                let text = self.node.scalar_text().unwrap_or_default();
                let r = visitor.visit_enum(EnumDe {
                    tag: text.clone(),
                    content: None,
                    path: self.path.clone(),
                });
                r.map_err(|e| {
                    if e.message.starts_with("unknown variant") {
                        self.unknown_value(&text, variants)
                    } else {
                        self.stamp(e)
                    }
                })
            }
            Value::Map(entries) if entries.len() == 1 => {
                let (k, v) = &entries[0];
                let tag = k.scalar_text().unwrap_or_default();
                visitor
                    .visit_enum(EnumDe {
                        tag,
                        content: Some(v),
                        path: self.path.clone(),
                    })
                    .map_err(|e| self.stamp(e))
            }
            _ => Err(self.mismatch(&format!("one of {}", variants.join(", ")))),
        }
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Diagnostic> {
        self.deserialize_string(visitor)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Diagnostic> {
        visitor.visit_unit()
    }
}

impl NodeDe<'_> {
    fn unknown_value(&self, text: &str, variants: &[&str]) -> Diagnostic {
        let what = if self.path.is_empty() {
            "value".to_owned()
        } else {
            format!("`{}`", self.path)
        };
        Diagnostic::error(
            self.node.loc,
            self.path.clone(),
            format!(
                "invalid {what}: `{text}` is not one of {}.{}",
                variants.join(", "),
                did_you_mean(text, variants.iter().copied())
            ),
        )
    }
}

struct SeqDe<'a> {
    items: std::slice::Iter<'a, Node>,
    index: usize,
    path: &'a str,
}

impl<'a> SeqDe<'a> {
    fn new(items: &'a [Node], path: &'a str) -> Self {
        Self {
            items: items.iter(),
            index: 0,
            path,
        }
    }
}

impl<'de> SeqAccess<'de> for SeqDe<'_> {
    type Error = Diagnostic;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, Diagnostic> {
        match self.items.next() {
            Some(node) => {
                let path = format!("{}[{}]", self.path, self.index);
                self.index += 1;
                seed.deserialize(NodeDe::new(node, &path)).map(Some)
            }
            None => Ok(None),
        }
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.items.len())
    }
}

struct MapDe<'a> {
    entries: std::slice::Iter<'a, (Node, Node)>,
    current: Option<&'a (Node, Node)>,
    path: &'a str,
}

impl<'a> MapDe<'a> {
    fn new(entries: &'a [(Node, Node)], path: &'a str) -> Self {
        Self {
            entries: entries.iter(),
            current: None,
            path,
        }
    }
}

impl<'de> MapAccess<'de> for MapDe<'_> {
    type Error = Diagnostic;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Diagnostic> {
        match self.entries.next() {
            Some(entry) => {
                self.current = Some(entry);
                let key = entry.0.scalar_text().unwrap_or_default();
                let path = join_path(self.path, &key);
                seed.deserialize(NodeDe::new(&entry.0, &path)).map(Some)
            }
            None => Ok(None),
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(
        &mut self,
        seed: V,
    ) -> Result<V::Value, Diagnostic> {
        let Some((k, v)) = self.current.take() else {
            return Err(de::Error::custom("value requested before its key"));
        };
        let key = k.scalar_text().unwrap_or_default();
        seed.deserialize(NodeDe::new(v, &join_path(self.path, &key)))
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.entries.len())
    }
}

struct EnumDe<'a> {
    tag: String,
    content: Option<&'a Node>,
    path: String,
}

impl<'de, 'a> EnumAccess<'de> for EnumDe<'a> {
    type Error = Diagnostic;
    type Variant = VariantDe<'a>;

    fn variant_seed<V: DeserializeSeed<'de>>(
        self,
        seed: V,
    ) -> Result<(V::Value, Self::Variant), Diagnostic> {
        let de: de::value::StringDeserializer<Diagnostic> = self.tag.into_deserializer();
        let v = seed.deserialize(de)?;
        Ok((
            v,
            VariantDe {
                content: self.content,
                path: self.path,
            },
        ))
    }
}

struct VariantDe<'a> {
    content: Option<&'a Node>,
    path: String,
}

impl<'de> VariantAccess<'de> for VariantDe<'_> {
    type Error = Diagnostic;

    fn unit_variant(self) -> Result<(), Diagnostic> {
        Ok(())
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(
        self,
        seed: T,
    ) -> Result<T::Value, Diagnostic> {
        match self.content {
            Some(n) => seed.deserialize(NodeDe::new(n, &self.path)),
            None => Err(de::Error::custom("expected a value for this variant")),
        }
    }

    fn tuple_variant<V: Visitor<'de>>(
        self,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, Diagnostic> {
        match self.content {
            Some(n) => NodeDe::new(n, &self.path).deserialize_seq(visitor),
            None => Err(de::Error::custom("expected a list for this variant")),
        }
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Diagnostic> {
        match self.content {
            Some(n) => NodeDe::new(n, &self.path).deserialize_map(visitor),
            None => Err(de::Error::custom("expected a map for this variant")),
        }
    }
}

thread_local! {
    static EXTRA_FIELDS: std::cell::RefCell<Vec<&'static str>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Runs `f` with `names` also accepted in "did you mean" suggestions for unknown fields.
pub fn with_extra_field_names<T>(names: &[&'static str], f: impl FnOnce() -> T) -> T {
    let saved = EXTRA_FIELDS.with(|x| std::mem::replace(&mut *x.borrow_mut(), names.to_vec()));
    let out = f();
    EXTRA_FIELDS.with(|x| *x.borrow_mut() = saved);
    out
}

/// Builds the message of an unknown property.
pub fn unknown_field_message(field: &str, expected: &[&str]) -> String {
    let extra = EXTRA_FIELDS.with(|x| x.borrow().clone());
    let mut known: Vec<&str> = expected.iter().copied().chain(extra).collect();
    known.sort_unstable();
    known.dedup();
    let hint = did_you_mean(field, known.iter().copied());
    if known.is_empty() {
        format!("Unrecognized field \"{field}\": this object has no properties; remove it.")
    } else {
        format!(
            "Unrecognized field \"{field}\", not a known property.{hint} Known properties: {}.",
            known.join(", ")
        )
    }
}

impl de::Error for Diagnostic {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        Diagnostic::error(Location::UNKNOWN, "", msg.to_string())
    }

    fn unknown_field(field: &str, expected: &'static [&'static str]) -> Self {
        Diagnostic::error(
            Location::UNKNOWN,
            "",
            unknown_field_message(field, expected),
        )
    }

    fn missing_field(field: &'static str) -> Self {
        Diagnostic::error(
            Location::UNKNOWN,
            "",
            format!("missing required property `{field}`: add `{field}: ...`"),
        )
    }

    fn invalid_type(unexp: de::Unexpected<'_>, exp: &dyn de::Expected) -> Self {
        Diagnostic::error(
            Location::UNKNOWN,
            "",
            format!("invalid type: found {unexp}, expected {exp}"),
        )
    }
}
