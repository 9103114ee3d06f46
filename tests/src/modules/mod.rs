//! The module graph of a crate, read from its sources, to prove it has no import cycles.
//!
//! An edge `a → b` means module `a` names something in module `b`: a `use` of it, or a path
//! like `crate::b::f()`, `super::b::T` or `b::f()` (a child module of `a`) anywhere in its
//! code. A path is attributed to the deepest module it runs through (`crate::pw::taps::X` →
//! `pw::taps`), following re-exports (`crate::Profile`, re-exported by the crate root from
//! `profile`, counts as `profile`). Declaring a child (`mod b;`) is not an edge, and neither is naming something
//! in an enclosing module (`crate::LUFS_FLOOR`, `super::PwEvent` from `pw::thread`): a
//! module's ancestors are the facade it is reached through (they declare it and re-export
//! from it). What remains are the dependencies between sibling and cousin modules — the ones
//! that make code hard to move or test on its own when they go round in a circle.
//!
//! The reader is deliberately simple (comments and string literals are blanked out first,
//! macros are read as code); it is exact for the code style of this workspace.

mod source;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use source::{deepest_module, follow_reexports, paths, pub_uses, strip};

/// The module graph: module path (`""` for the crate root, `pw::taps`, …) → modules it uses.
pub type ModuleGraph = BTreeMap<String, BTreeSet<String>>;

/// Reads every `.rs` file under `src` (the crate root is `lib.rs` or `main.rs` in it) and
/// returns the graph of the library's modules.
pub fn module_graph(src: &Path) -> Result<ModuleGraph> {
    let mut files = Vec::new();
    collect_files(src, &mut files)?;
    let mut modules: BTreeMap<String, String> = BTreeMap::new();
    for f in &files {
        let Some(m) = module_of(src, f) else { continue };
        let text = std::fs::read_to_string(f).with_context(|| format!("{}", f.display()))?;
        modules.insert(m, strip(&text));
    }
    let known: BTreeSet<String> = modules.keys().cloned().collect();
    let mut reexports: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
    for (m, code) in &modules {
        for (name, target) in pub_uses(code, m, &known) {
            reexports.insert((m.clone(), name), target);
        }
    }
    let mut graph = ModuleGraph::new();
    for (m, code) in &modules {
        let mut deps = BTreeSet::new();
        for path in paths(code, m, &known) {
            let path = follow_reexports(path, &known, &reexports);
            if let Some(target) = deepest_module(&path, &known) {
                let ancestor = target.is_empty() || m.starts_with(&format!("{target}::"));
                if target != *m && !ancestor {
                    deps.insert(target);
                }
            }
        }
        graph.insert(m.clone(), deps);
    }
    Ok(graph)
}

/// Every cycle of `graph` as the list of modules on it (one per strongly connected component
/// with more than one module), sorted.
pub fn cycles(graph: &ModuleGraph) -> Vec<Vec<String>> {
    // Tarjan's strongly connected components.
    struct T<'g> {
        g: &'g ModuleGraph,
        index: BTreeMap<&'g str, usize>,
        low: BTreeMap<&'g str, usize>,
        stack: Vec<&'g str>,
        on_stack: BTreeSet<&'g str>,
        next: usize,
        out: Vec<Vec<String>>,
    }
    impl<'g> T<'g> {
        fn visit(&mut self, v: &'g str) {
            self.index.insert(v, self.next);
            self.low.insert(v, self.next);
            self.next += 1;
            self.stack.push(v);
            self.on_stack.insert(v);
            for w in self.g.get(v).into_iter().flatten() {
                let w = w.as_str();
                if !self.index.contains_key(w) {
                    self.visit(w);
                    let lw = self.low[w];
                    let lv = self.low.get_mut(v).expect("visited");
                    *lv = (*lv).min(lw);
                } else if self.on_stack.contains(w) {
                    let iw = self.index[w];
                    let lv = self.low.get_mut(v).expect("visited");
                    *lv = (*lv).min(iw);
                }
            }
            if self.low[v] == self.index[v] {
                let mut comp = Vec::new();
                while let Some(w) = self.stack.pop() {
                    self.on_stack.remove(w);
                    comp.push(w.to_string());
                    if w == v {
                        break;
                    }
                }
                if comp.len() > 1 {
                    comp.sort();
                    self.out.push(comp);
                }
            }
        }
    }
    let mut t = T {
        g: graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        next: 0,
        out: Vec::new(),
    };
    for v in graph.keys() {
        if !t.index.contains_key(v.as_str()) {
            t.visit(v);
        }
    }
    t.out.sort();
    t.out
}

/// Describes the cycles of the crate whose sources are in `src` (`Ok("")` when there are none),
/// with the edges inside each cycle, for a test failure message.
pub fn describe_cycles(src: &Path) -> Result<String> {
    let g = module_graph(src)?;
    let mut out = String::new();
    for c in cycles(&g) {
        out.push_str(&format!("cycle among {}:\n", c.join(", ")));
        for a in &c {
            for b in g[a].iter().filter(|b| c.contains(b)) {
                let name = |m: &str| {
                    if m.is_empty() {
                        "crate".to_string()
                    } else {
                        m.to_string()
                    }
                };
                out.push_str(&format!("  {} → {}\n", name(a), name(b)));
            }
        }
    }
    Ok(out)
}

/// Panics, listing the cycles, when the library of the crate at `manifest_dir` (its
/// `CARGO_MANIFEST_DIR`) has module import cycles. For a test in each crate:
/// `headroom_tests::modules::assert_no_cycles(env!("CARGO_MANIFEST_DIR"))`.
pub fn assert_no_cycles(manifest_dir: &str) {
    let src = Path::new(manifest_dir).join("src");
    let cycles = describe_cycles(&src).unwrap_or_else(|e| panic!("{e:#}"));
    assert!(
        cycles.is_empty(),
        "module import cycles in {}:\n{cycles}",
        src.display()
    );
}

fn collect_files(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    for e in std::fs::read_dir(dir).with_context(|| format!("{}", dir.display()))? {
        let p = e?.path();
        if p.is_dir() {
            collect_files(&p, out)?;
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
    Ok(())
}

/// `src/lib.rs` → `""`, `src/pw/mod.rs` → `pw`, `src/pw/taps.rs` → `pw::taps`; binaries
/// (`main.rs`, `bin/`) are not part of the library's graph.
fn module_of(src: &Path, file: &Path) -> Option<String> {
    let rel = file.strip_prefix(src).ok()?;
    let mut parts: Vec<String> = rel
        .iter()
        .map(|c| c.to_string_lossy().into_owned())
        .collect();
    if parts.first().is_some_and(|p| p == "bin") || parts == ["main.rs"] {
        return None;
    }
    let last = parts.pop()?;
    match last.as_str() {
        "lib.rs" | "mod.rs" => {}
        other => parts.push(other.trim_end_matches(".rs").to_string()),
    }
    Some(parts.join("::"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn graph(files: &[(&str, &str)]) -> ModuleGraph {
        let dir = tempfile::tempdir().unwrap();
        for (name, text) in files {
            let p = dir.path().join(name);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        }
        module_graph(dir.path()).unwrap()
    }

    #[test]
    fn finds_use_and_path_edges_and_cycles() {
        let g = graph(&[
            ("lib.rs", "mod a; mod b; pub mod c;\n// use crate::b;\n"),
            (
                "a.rs",
                "use crate::b::{X as Base, y::Z};\nfn f() { let s = \"crate::c::q\"; }\n",
            ),
            ("b.rs", "pub struct X;\nfn g() { crate::a::h(); }\n"),
            ("c/mod.rs", "mod d;\npub use d::Thing;\n"),
            ("c/d.rs", "use super::Other;\npub struct Thing;\n"),
        ]);
        assert_eq!(g["a"], ["b".to_string()].into());
        assert_eq!(g["b"], ["a".to_string()].into());
        assert_eq!(g[""], BTreeSet::new());
        assert_eq!(g["c"], ["c::d".to_string()].into());
        // An item of the enclosing module is not an edge.
        assert_eq!(g["c::d"], BTreeSet::new());
        assert_eq!(cycles(&g), vec![vec!["a".to_string(), "b".to_string()]]);
    }

    #[test]
    fn paths_through_reexports_count_for_the_defining_module() {
        let g = graph(&[
            (
                "lib.rs",
                "mod a; mod b;\npub use a::A;\npub use b::{B as Bee};\n",
            ),
            ("a.rs", "pub struct A;\nfn f(_: crate::Bee) {}\n"),
            ("b.rs", "use crate::A;\npub struct B;\n"),
        ]);
        assert_eq!(g["a"], ["b".to_string()].into());
        assert_eq!(g["b"], ["a".to_string()].into());
        assert_eq!(g[""], ["a".to_string(), "b".to_string()].into());
        assert_eq!(cycles(&g), vec![vec!["a".to_string(), "b".to_string()]]);
    }

    #[test]
    fn sibling_and_nested_paths_are_attributed_to_the_deepest_module() {
        let g = graph(&[
            ("lib.rs", "pub mod p;\n"),
            ("p/mod.rs", "pub mod q;\npub mod r;\n"),
            ("p/q.rs", "use super::r::T;\nfn f(x: &super::r::U) {}\n"),
            ("p/r.rs", "pub struct T; pub struct U;\n"),
        ]);
        assert_eq!(g["p::q"], ["p::r".to_string()].into());
        assert!(cycles(&g).is_empty());
    }
}
