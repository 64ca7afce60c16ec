//! YAML loading into a tree of [`Node`]s that remember where they came from.
//!
//! The flow parser works on this tree rather than on raw serde events so that every
//! diagnostic, even one raised long after parsing (a duplicate task id, a Dag cycle),
//! can point at `file:line:col`. Loading goes through `serde-saphyr` with a budget
//! (events, aliases, nesting, input size) so hostile files (YAML bombs, deep nesting,
//! huge documents) end in an error within bounded memory. Duplicate mapping keys are
//! rejected here, with both locations.

use std::fmt;

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::Spanned;

use crate::diagnostic::{Diagnostic, Location};

/// Largest flow source accepted, in bytes.
pub const MAX_SOURCE_BYTES: usize = 8 * 1024 * 1024;
/// Deepest nesting of mappings and sequences accepted.
pub const MAX_DEPTH: usize = 64;
/// Most YAML events (scalars, collection starts, ...) one source may produce.
pub const MAX_EVENTS: usize = 500_000;
/// Most aliases (`*ref`) one source may use.
pub const MAX_ALIASES: usize = 1_000;
/// Most events aliases may replay in one source: an alias bomb (a few hundred bytes
/// expanding to millions of nodes) is refused after this much work.
pub const MAX_ALIAS_REPLAY: usize = 10_000;
/// Most nodes (scalars, mappings, sequences) one source may have.
pub const MAX_NODES: usize = 200_000;

/// A YAML value with its source position.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// Where the value starts (1-based line and column).
    pub loc: Location,
    /// The value.
    pub value: Value,
}

/// The shape of a [`Node`]. Mappings keep their source order.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// `~`, `null` or an empty value.
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// An integer that fits `i64`.
    Int(i64),
    /// A floating-point number (or an integer too large for `i64`).
    Float(f64),
    /// Any other scalar.
    Str(String),
    /// A sequence.
    Seq(Vec<Node>),
    /// A mapping, keys in source order.
    Map(Vec<(Node, Node)>),
}

impl Node {
    /// A node at `loc`.
    pub fn new(loc: Location, value: Value) -> Self {
        Self { loc, value }
    }

    /// The mapping entries, if this node is a mapping.
    pub fn as_map(&self) -> Option<&[(Node, Node)]> {
        match &self.value {
            Value::Map(m) => Some(m),
            _ => None,
        }
    }

    /// The sequence items, if this node is a sequence.
    pub fn as_seq(&self) -> Option<&[Node]> {
        match &self.value {
            Value::Seq(s) => Some(s),
            _ => None,
        }
    }

    /// The string, if this node is a string scalar.
    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// Whether the node is `null`.
    pub fn is_null(&self) -> bool {
        matches!(self.value, Value::Null)
    }

    /// The value of `key` in this mapping.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.get_entry(key).map(|(_, v)| v)
    }

    /// The key node and value of `key` in this mapping.
    pub fn get_entry(&self, key: &str) -> Option<(&Node, &Node)> {
        self.as_map()?
            .iter()
            .find(|(k, _)| k.scalar_text().as_deref() == Some(key))
            .map(|(k, v)| (k, v))
    }

    /// The text of a scalar as a user wrote it (numbers and booleans formatted back).
    pub fn scalar_text(&self) -> Option<String> {
        match &self.value {
            Value::Null => Some("null".into()),
            Value::Bool(b) => Some(b.to_string()),
            Value::Int(i) => Some(i.to_string()),
            Value::Float(f) => Some(format_float(*f)),
            Value::Str(s) => Some(s.clone()),
            Value::Seq(_) | Value::Map(_) => None,
        }
    }

    /// A short name of the node's kind, for error messages.
    pub fn kind(&self) -> &'static str {
        match self.value {
            Value::Null => "null",
            Value::Bool(_) => "a boolean",
            Value::Int(_) => "an integer",
            Value::Float(_) => "a number",
            Value::Str(_) => "a string",
            Value::Seq(_) => "a list",
            Value::Map(_) => "a map",
        }
    }

    /// Converts to JSON (mapping keys become strings).
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match &self.value {
            Value::Null => J::Null,
            Value::Bool(b) => J::Bool(*b),
            Value::Int(i) => J::from(*i),
            Value::Float(f) => serde_json::Number::from_f64(*f)
                .map(J::Number)
                .unwrap_or(J::Null),
            Value::Str(s) => J::String(s.clone()),
            Value::Seq(s) => J::Array(s.iter().map(Node::to_json).collect()),
            Value::Map(m) => J::Object(
                m.iter()
                    .map(|(k, v)| (k.scalar_text().unwrap_or_default(), v.to_json()))
                    .collect(),
            ),
        }
    }

    /// Builds a node tree from JSON, every node at `loc`.
    pub fn from_json(json: &serde_json::Value, loc: Location) -> Node {
        use serde_json::Value as J;
        let value = match json {
            J::Null => Value::Null,
            J::Bool(b) => Value::Bool(*b),
            J::Number(n) => match n.as_i64() {
                Some(i) => Value::Int(i),
                None => Value::Float(n.as_f64().unwrap_or_default()),
            },
            J::String(s) => Value::Str(s.clone()),
            J::Array(a) => Value::Seq(a.iter().map(|v| Node::from_json(v, loc)).collect()),
            J::Object(o) => Value::Map(
                o.iter()
                    .map(|(k, v)| {
                        (
                            Node::new(loc, Value::Str(k.clone())),
                            Node::from_json(v, loc),
                        )
                    })
                    .collect(),
            ),
        };
        Node::new(loc, value)
    }
}

/// Formats a float as Java would print a double (`1.0`, `2.5`).
pub fn format_float(f: f64) -> String {
    if f.is_finite() && f.fract() == 0.0 && f.abs() < 1e16 {
        format!("{f:.1}")
    } else {
        f.to_string()
    }
}

/// One YAML document as spanned serde data (the intermediate form serde-saphyr produces).
struct RawNode(Value);

fn loc_of<T>(s: &Spanned<T>) -> Location {
    Location::new(clamp(s.referenced.line()), clamp(s.referenced.column()))
}

fn clamp(n: u64) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

fn into_node(s: Spanned<RawNode>) -> Node {
    #[cfg(test)]
    tests::NODES_BUILT.with(|n| n.set(n.get() + 1));
    Node::new(loc_of(&s), s.value.0)
}

impl<'de> Deserialize<'de> for RawNode {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(RawVisitor)
    }
}

struct RawVisitor;

impl<'de> Visitor<'de> for RawVisitor {
    type Value = RawNode;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any YAML value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<RawNode, E> {
        Ok(RawNode(Value::Bool(v)))
    }
    fn visit_i64<E>(self, v: i64) -> Result<RawNode, E> {
        Ok(RawNode(Value::Int(v)))
    }
    fn visit_u64<E>(self, v: u64) -> Result<RawNode, E> {
        Ok(RawNode(match i64::try_from(v) {
            Ok(i) => Value::Int(i),
            Err(_) => Value::Float(v as f64),
        }))
    }
    fn visit_i128<E>(self, v: i128) -> Result<RawNode, E> {
        Ok(RawNode(match i64::try_from(v) {
            Ok(i) => Value::Int(i),
            Err(_) => Value::Float(v as f64),
        }))
    }
    fn visit_u128<E>(self, v: u128) -> Result<RawNode, E> {
        Ok(RawNode(match i64::try_from(v) {
            Ok(i) => Value::Int(i),
            Err(_) => Value::Float(v as f64),
        }))
    }
    fn visit_f64<E>(self, v: f64) -> Result<RawNode, E> {
        Ok(RawNode(Value::Float(v)))
    }
    fn visit_str<E>(self, v: &str) -> Result<RawNode, E> {
        Ok(RawNode(Value::Str(v.to_owned())))
    }
    fn visit_string<E>(self, v: String) -> Result<RawNode, E> {
        Ok(RawNode(Value::Str(v)))
    }
    fn visit_char<E>(self, v: char) -> Result<RawNode, E> {
        Ok(RawNode(Value::Str(v.to_string())))
    }
    fn visit_bytes<E>(self, v: &[u8]) -> Result<RawNode, E> {
        Ok(RawNode(Value::Str(String::from_utf8_lossy(v).into_owned())))
    }
    fn visit_unit<E>(self) -> Result<RawNode, E> {
        Ok(RawNode(Value::Null))
    }
    fn visit_none<E>(self) -> Result<RawNode, E> {
        Ok(RawNode(Value::Null))
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<RawNode, D::Error> {
        RawNode::deserialize(d)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<RawNode, A::Error> {
        // Each nesting level costs several deserializer frames: grow the stack on demand so
        // the depth budget, not the thread's stack size, is what limits nesting.
        stacker::maybe_grow(STACK_RED_ZONE, STACK_GROWTH, || read_seq(seq))
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<RawNode, A::Error> {
        stacker::maybe_grow(STACK_RED_ZONE, STACK_GROWTH, || read_map(map))
    }
}

const STACK_RED_ZONE: usize = 256 * 1024;
const STACK_GROWTH: usize = 4 * 1024 * 1024;

fn read_seq<'de, A: SeqAccess<'de>>(mut seq: A) -> Result<RawNode, A::Error> {
    {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Spanned<RawNode>>()? {
            items.push(into_node(item));
        }
        Ok(RawNode(Value::Seq(items)))
    }
}

fn read_map<'de, A: MapAccess<'de>>(mut map: A) -> Result<RawNode, A::Error> {
    {
        let mut entries: Vec<(Node, Node)> = Vec::new();
        while let Some(key) = map.next_key::<Spanned<RawNode>>()? {
            let key = into_node(key);
            let value = into_node(map.next_value::<Spanned<RawNode>>()?);
            entries.push((key, value));
        }
        Ok(RawNode(Value::Map(entries)))
    }
}

/// Loads every YAML document of `source` (documents separated by `---`).
///
/// Errors carry the position serde-saphyr reports; `file` is only used for messages.
pub fn load_documents(source: &str) -> Result<Vec<Node>, Diagnostic> {
    if source.len() > MAX_SOURCE_BYTES {
        return Err(Diagnostic::error(
            Location::new(1, 1),
            "",
            format!(
                "the file is {} bytes, more than the {} bytes a flow may have; split it or move data to files",
                source.len(),
                MAX_SOURCE_BYTES
            ),
        ));
    }
    let options = options();
    let docs: Vec<Spanned<RawNode>> =
        serde_saphyr::from_multiple_with_options(source, options).map_err(yaml_error)?;
    let mut out = Vec::with_capacity(docs.len());
    for d in docs {
        let node = into_node(d);
        check_tree(&node, "", 0)?;
        out.push(node);
    }
    Ok(out)
}

fn options() -> serde_saphyr::Options {
    let mut budget = serde_saphyr::Budget::default();
    budget.max_events = MAX_EVENTS;
    budget.max_aliases = MAX_ALIASES;
    budget.max_nodes = MAX_NODES;
    budget.flow_nesting_limit = MAX_DEPTH;
    budget.max_depth = MAX_DEPTH;
    let mut options = serde_saphyr::Options::default();
    options.budget = Some(budget);
    options.alias_limits.max_total_replayed_events = MAX_ALIAS_REPLAY;
    // Duplicates reach our visitor (the last one is not silently kept: `check_tree`
    // rejects them with the dotted path of the key and both positions).
    options.duplicate_keys = serde_saphyr::DuplicateKeyPolicy::LastWins;
    // YAML 1.2 core booleans only (`y`, `on`, `NO` stay strings), like Jackson's YAML reader.
    options.strict_booleans = true;
    options.leading_zero_numbers_as_strings = true;
    options.underscored_numbers_as_strings = true;
    options
}

fn yaml_error(e: serde_saphyr::Error) -> Diagnostic {
    let loc = e
        .location()
        .map(|l| Location::new(clamp(l.line()), clamp(l.column())))
        .filter(|l| l.line > 0)
        .unwrap_or(Location::new(1, 1));
    let text = e.without_snippet().to_string();
    let first = text.lines().next().unwrap_or("invalid YAML").trim();
    let first = first
        .strip_prefix("error: ")
        .unwrap_or(first)
        .trim_end_matches(|c: char| c == ':' || c.is_whitespace());
    if matches!(e, serde_saphyr::Error::AliasReplayLimitExceeded { .. })
        || first.to_ascii_lowercase().contains("replay")
    {
        return Diagnostic::error(
            loc,
            "",
            format!(
                "the document's aliases expand to more than {MAX_ALIAS_REPLAY} nodes (an alias bomb?): use fewer aliases (`*name`), or write the values out"
            ),
        );
    }
    if first.contains("budget breached: Nodes") {
        return Diagnostic::error(
            loc,
            "",
            format!(
                "the document has more than {MAX_NODES} nodes (values, mappings and lists, aliases expanded); split the flow or move data to files"
            ),
        );
    }
    if let Some(rest) = first.strip_prefix("duplicate mapping key: ") {
        let key = rest.split(',').next().unwrap_or(rest).trim();
        return Diagnostic::error(
            loc,
            key,
            format!(
                "Duplicate field '{key}': this key is already defined above in the same map; remove one of them"
            ),
        );
    }
    Diagnostic::error(loc, "", format!("invalid YAML: {first}"))
}

/// Enforces the depth limit and rejects duplicate mapping keys, naming the dotted path.
fn check_tree(node: &Node, path: &str, depth: usize) -> Result<(), Diagnostic> {
    if depth > MAX_DEPTH {
        return Err(Diagnostic::error(
            node.loc,
            path,
            format!("the document nests deeper than {MAX_DEPTH} levels"),
        ));
    }
    match &node.value {
        Value::Seq(items) => {
            for (i, item) in items.iter().enumerate() {
                check_tree(item, &format!("{path}[{i}]"), depth + 1)?;
            }
        }
        Value::Map(entries) => {
            for (i, (k, v)) in entries.iter().enumerate() {
                let key = k.scalar_text().unwrap_or_default();
                let child = join_path(path, &key);
                if let Some((first, _)) = entries[..i]
                    .iter()
                    .find(|(other, _)| other.scalar_text().as_deref() == Some(key.as_str()))
                {
                    return Err(Diagnostic::error(
                        k.loc,
                        &child,
                        format!(
                            "Duplicate field '{child}': the key `{key}` is already defined at line {}, column {}; remove one of them",
                            first.loc.line, first.loc.col
                        ),
                    ));
                }
                check_tree(v, &child, depth + 1)?;
            }
        }
        _ => {}
    }
    Ok(())
}

/// `a.b` style path join used in diagnostics.
pub fn join_path(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    thread_local! {
        /// Nodes built by `into_node` on this thread (the work a load did).
        pub(super) static NODES_BUILT: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
    }

    /// A billion-laughs document: 9 levels of 9 aliases each (9^9 scalars once expanded).
    pub(crate) fn alias_bomb() -> String {
        let mut s = String::from(
            "id: bomb\nnamespace: company.team\nl0: &l0 [lol,lol,lol,lol,lol,lol,lol,lol,lol]\n",
        );
        for i in 1..9 {
            let p = format!("*l{}", i - 1);
            s.push_str(&format!("l{i}: &l{i} [{}]\n", [p.as_str(); 9].join(",")));
        }
        s.push_str("tasks: *l8\n");
        s
    }

    #[test]
    fn an_alias_bomb_is_refused_after_bounded_work() {
        let bomb = alias_bomb();
        assert!(bomb.len() < 700, "{} bytes", bomb.len());
        NODES_BUILT.with(|n| n.set(0));
        let err = load_documents(&bomb).expect_err("an alias bomb is refused");
        let built = NODES_BUILT.with(std::cell::Cell::get);
        assert!(
            built <= MAX_ALIAS_REPLAY + 100,
            "the load built {built} nodes before refusing (bound: {MAX_ALIAS_REPLAY} + 100)"
        );
        assert!(
            err.message.contains("aliases expand to more than"),
            "{}",
            err.message
        );
        assert!(err.loc.line > 3, "points at the alias: {:?}", err.loc);
        eprintln!(
            "{}:{}: {} ({built} nodes built)",
            err.loc.line, err.loc.col, err.message
        );
        // Aliases used with restraint still load.
        let fine = "a: &a [x, y]\nb: [*a, *a, *a]\n";
        let docs = load_documents(fine).expect("a few aliases");
        assert_eq!(
            docs[0].get("b").and_then(Node::as_seq).map(<[Node]>::len),
            Some(3)
        );
    }

    #[test]
    fn keeps_positions_of_nested_values() {
        let docs = load_documents("id: a\ntasks:\n  - id: t\n    type: x\n").unwrap();
        let root = &docs[0];
        let tasks = root.get("tasks").unwrap();
        let t = &tasks.as_seq().unwrap()[0];
        assert_eq!(t.get("type").unwrap().loc, Location::new(4, 11));
        assert_eq!(t.loc.line, 3);
    }

    #[test]
    fn duplicate_keys_name_the_path() {
        let err = load_documents("variables:\n  tf: 1\n  tf: 2\n").unwrap_err();
        assert!(err.message.contains("variables.tf"), "{}", err.message);
        assert_eq!(err.loc.line, 3);
    }

    #[test]
    fn scalars_are_typed() {
        let docs = load_documents("a: 1\nb: true\nc: '1'\nd: 1.5\ne: ~\n").unwrap();
        let m = &docs[0];
        assert_eq!(m.get("a").unwrap().value, Value::Int(1));
        assert_eq!(m.get("b").unwrap().value, Value::Bool(true));
        assert_eq!(m.get("c").unwrap().value, Value::Str("1".into()));
        assert_eq!(m.get("d").unwrap().value, Value::Float(1.5));
        assert_eq!(m.get("e").unwrap().value, Value::Null);
    }

    #[test]
    fn multiple_documents() {
        let docs = load_documents("a: 1\n---\nb: 2\n").unwrap();
        assert_eq!(docs.len(), 2);
        assert_eq!(docs[1].loc.line, 3);
    }

    #[test]
    fn syntax_errors_have_positions() {
        let err = load_documents("a:\n  - b\n c: [unclosed\n").unwrap_err();
        assert!(err.loc.line >= 2, "{err:?}");
        assert!(err.message.starts_with("invalid YAML"));
    }

    #[test]
    fn billion_laughs_is_rejected() {
        let mut src = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..12 {
            let p = i - 1;
            src.push_str(&format!(
                "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
            ));
        }
        assert!(load_documents(&src).is_err());
    }

    #[test]
    fn deep_nesting_is_rejected() {
        let src = format!("{}1{}", "[".repeat(10_000), "]".repeat(10_000));
        assert!(load_documents(&src).is_err());
    }

    #[test]
    fn deep_block_nesting_is_rejected() {
        let mut block = String::new();
        for i in 0..500 {
            block.push_str(&" ".repeat(i * 2));
            block.push_str("k:\n");
        }
        assert!(load_documents(&block).is_err());
    }
}
