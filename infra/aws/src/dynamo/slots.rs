//! [`IndexSlots`]: which of the table's GSI slots each index name is written to.

use std::collections::BTreeMap;

use kite_ports::DocumentError;

/// Number of GSI slots of the table (`gsi1`..`gsi3`).
pub const SLOT_COUNT: u8 = 3;

/// Maps index names to the table's GSI slots `1..=3` (see the [table design](super)).
///
/// Two indexes used by the same document must be in different slots. Names without an
/// entry use the fallback slot (1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexSlots {
    slots: BTreeMap<String, u8>,
    fallback: u8,
}

impl IndexSlots {
    /// No names mapped: every index uses slot 1.
    pub fn empty() -> Self {
        Self {
            slots: BTreeMap::new(),
            fallback: 1,
        }
    }

    /// Maps `index` to `slot` (1 to [`SLOT_COUNT`]; other values make writes and queries on
    /// that index fail as invalid).
    pub fn with(mut self, index: impl Into<String>, slot: u8) -> Self {
        self.slots.insert(index.into(), slot);
        self
    }

    /// The slot of names without an entry.
    pub fn fallback(mut self, slot: u8) -> Self {
        self.fallback = slot;
        self
    }

    /// The slot of `index`.
    pub fn slot(&self, index: &str) -> u8 {
        self.slots.get(index).copied().unwrap_or(self.fallback)
    }

    /// The explicit entries, by name.
    pub fn entries(&self) -> impl Iterator<Item = (&str, u8)> {
        self.slots.iter().map(|(name, slot)| (name.as_str(), *slot))
    }

    pub(super) fn checked_slot(&self, table: &str, index: &str) -> Result<u8, DocumentError> {
        let slot = self.slot(index);
        if (1..=SLOT_COUNT).contains(&slot) {
            Ok(slot)
        } else {
            Err(DocumentError::Invalid {
                table: table.to_owned(),
                reason: format!(
                    "index `{index}` is mapped to GSI slot {slot}, but the DynamoDB table has \
                     slots 1 to {SLOT_COUNT}"
                ),
            })
        }
    }
}

impl Default for IndexSlots {
    /// The engine's indexes (`namespace`, `execution` → 1, `flow`, `trigger_listen` → 2,
    /// `state`, `trigger_due` → 3) and
    /// those of the port's contract suite (`by_ns`, `by_x`, `by_kind`, `by_sort` → 1,
    /// `by_flow` → 2, `by_state` → 3).
    fn default() -> Self {
        [
            ("namespace", 1),
            ("execution", 1),
            ("flow", 2),
            ("state", 3),
            ("trigger_listen", 2),
            ("trigger_due", 3),
            ("by_ns", 1),
            ("by_x", 1),
            ("by_kind", 1),
            ("by_sort", 1),
            ("by_flow", 2),
            ("by_state", 3),
        ]
        .into_iter()
        .fold(Self::empty(), |slots, (index, slot)| {
            slots.with(index, slot)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_slots_separate_indexes_used_together() {
        let slots = IndexSlots::default();
        assert_ne!(slots.slot("flow"), slots.slot("namespace"));
        assert_ne!(slots.slot("by_flow"), slots.slot("by_state"));
        let triggers = ["namespace", "trigger_due", "trigger_listen"].map(|i| slots.slot(i));
        assert!(
            triggers[0] != triggers[1] && triggers[1] != triggers[2] && triggers[0] != triggers[2],
            "the triggers table's indexes share a slot: {triggers:?}"
        );
        assert_eq!(slots.slot("anything"), 1);
    }
}
