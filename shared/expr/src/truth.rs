//! Kestra's `TruthUtils`: truthiness of a *rendered* condition string.

/// Whether a rendered condition is true, as Kestra's `TruthUtils.isTruthy` decides it.
///
/// Exactly `"false"`, `"0"`, `"-0"` and `""` are falsy; everything else is truthy.
/// Like Kestra the comparison is exact: no trimming, no case folding (`" false"` and
/// `"False"` are truthy). A null condition is falsy: render it to `""` first.
pub fn is_truthy(rendered: &str) -> bool {
    !matches!(rendered, "false" | "0" | "-0" | "")
}

#[cfg(test)]
mod tests {
    use super::is_truthy;

    #[test]
    fn falsy_values() {
        for v in ["false", "0", "-0", ""] {
            assert!(!is_truthy(v), "{v:?}");
        }
    }

    #[test]
    fn truthy_values() {
        for v in ["true", "1", "yes", " ", "False", " false", "0.0", "null"] {
            assert!(is_truthy(v), "{v:?}");
        }
    }
}
