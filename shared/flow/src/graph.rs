//! Cycle detection for dependency graphs (Dag tasks, input `dependsOn`).

use std::collections::HashMap;

/// The nodes of one cycle of `deps` (node → nodes it depends on), sorted; None if acyclic.
/// Dependencies on unknown nodes are ignored.
pub fn find_cycle<'a>(deps: &HashMap<&'a str, Vec<&'a str>>) -> Option<Vec<&'a str>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        Active,
        Done,
    }
    let mut keys: Vec<&str> = deps.keys().copied().collect();
    keys.sort_unstable();
    let mut marks: HashMap<&str, Mark> = keys.iter().map(|k| (*k, Mark::New)).collect();
    for start in keys {
        if marks[start] != Mark::New {
            continue;
        }
        // Iterative DFS keeping the active path.
        let mut stack: Vec<(&str, usize)> = vec![(start, 0)];
        marks.insert(start, Mark::Active);
        while let Some((node, idx)) = stack.last().copied() {
            let next = deps.get(node).and_then(|d| d.get(idx)).copied();
            match next {
                Some(n) => {
                    if let Some(top) = stack.last_mut() {
                        top.1 += 1;
                    }
                    match marks.get(n).copied() {
                        Some(Mark::New) => {
                            marks.insert(n, Mark::Active);
                            stack.push((n, 0));
                        }
                        Some(Mark::Active) => {
                            let pos = stack.iter().position(|(s, _)| *s == n).unwrap_or(0);
                            let mut cycle: Vec<&str> =
                                stack[pos..].iter().map(|(s, _)| *s).collect();
                            cycle.sort_unstable();
                            return Some(cycle);
                        }
                        _ => {}
                    }
                }
                None => {
                    marks.insert(node, Mark::Done);
                    stack.pop();
                }
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_cycles() {
        let mut g = HashMap::new();
        g.insert("a", vec!["b"]);
        g.insert("b", vec!["c"]);
        g.insert("c", vec![]);
        assert_eq!(find_cycle(&g), None);
        g.insert("c", vec!["b"]);
        assert_eq!(find_cycle(&g), Some(vec!["b", "c"]));
        g.insert("c", vec!["c"]);
        assert_eq!(find_cycle(&g), Some(vec!["c"]));
    }
}
