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

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

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

/// The code with comments and the contents of string and char literals blanked out.
fn strip(text: &str) -> String {
    let b: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let next = b.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < b.len() && b[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let mut depth = 0;
            while i < b.len() {
                if b[i] == '/' && b.get(i + 1) == Some(&'*') {
                    depth += 1;
                    i += 2;
                } else if b[i] == '*' && b.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
            out.push(' ');
        } else if c == 'r' && (next == Some('"') || next == Some('#')) && is_raw_start(&b, i) {
            // r"…" or r#"…"#
            let mut j = i + 1;
            let mut hashes = 0;
            while b.get(j) == Some(&'#') {
                hashes += 1;
                j += 1;
            }
            j += 1; // the quote
            loop {
                if j >= b.len() {
                    break;
                }
                if b[j] == '"' && (0..hashes).all(|h| b.get(j + 1 + h) == Some(&'#')) {
                    j += 1 + hashes;
                    break;
                }
                j += 1;
            }
            out.push_str("\"\"");
            i = j;
        } else if c == '"' {
            i += 1;
            while i < b.len() && b[i] != '"' {
                if b[i] == '\\' {
                    i += 1;
                }
                i += 1;
            }
            i += 1;
            out.push_str("\"\"");
        } else if c == '\'' && is_char_literal(&b, i) {
            i += 1;
            while i < b.len() && b[i] != '\'' {
                if b[i] == '\\' {
                    i += 1;
                }
                i += 1;
            }
            i += 1;
            out.push_str("' '");
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

fn is_raw_start(b: &[char], i: usize) -> bool {
    let prev_ident = i > 0 && (b[i - 1].is_alphanumeric() || b[i - 1] == '_');
    if prev_ident {
        return false;
    }
    let mut j = i + 1;
    while b.get(j) == Some(&'#') {
        j += 1;
    }
    b.get(j) == Some(&'"')
}

/// A `'` that opens a char literal (not a lifetime or a label).
fn is_char_literal(b: &[char], i: usize) -> bool {
    matches!(
        (b.get(i + 1), b.get(i + 2)),
        (Some('\\'), _) | (Some(_), Some('\''))
    )
}

fn is_ident_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Every path the code names, made absolute (segments from the crate root), as far as it can
/// be told apart from paths into other crates.
fn paths(code: &str, module: &str, known: &BTreeSet<String>) -> Vec<Vec<String>> {
    let here: Vec<String> = if module.is_empty() {
        Vec::new()
    } else {
        module.split("::").map(str::to_string).collect()
    };
    let children = children_of(module, known);
    let mut out = Vec::new();
    // `use` trees, expanded.
    let mut rest = code;
    while let Some(pos) = find_keyword(rest, "use") {
        let after = &rest[pos + 3..];
        let Some(end) = after.find(';') else { break };
        for p in expand_use_tree(after[..end].trim()) {
            if let Some(abs) = absolute(&p, &here, &children, true) {
                out.push(abs);
            }
        }
        rest = &after[end..];
    }
    // Paths in expressions and types.
    let chars: Vec<char> = code.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let starts = is_ident_char(chars[i])
            && (i == 0 || !(is_ident_char(chars[i - 1]) || chars[i - 1] == ':'));
        if !starts {
            i += 1;
            continue;
        }
        let mut segs = Vec::new();
        let mut j = i;
        loop {
            let s = j;
            while j < chars.len() && is_ident_char(chars[j]) {
                j += 1;
            }
            segs.push(chars[s..j].iter().collect::<String>());
            if chars.get(j) == Some(&':')
                && chars.get(j + 1) == Some(&':')
                && chars.get(j + 2).is_some_and(|c| is_ident_char(*c))
            {
                j += 2;
            } else {
                break;
            }
        }
        if segs.len() > 1 {
            if let Some(abs) = absolute(&segs, &here, &children, false) {
                out.push(abs);
            }
        }
        i = j.max(i + 1);
    }
    out
}

/// The names a module re-exports (`pub use a::b::C;`, `pub use x::{Y as Z}`) and the absolute
/// paths they stand for.
fn pub_uses(code: &str, module: &str, known: &BTreeSet<String>) -> Vec<(String, Vec<String>)> {
    let here: Vec<String> = if module.is_empty() {
        Vec::new()
    } else {
        module.split("::").map(str::to_string).collect()
    };
    let children = children_of(module, known);
    let mut out = Vec::new();
    let mut rest = code;
    while let Some(pos) = find_keyword(rest, "use") {
        let before = rest[..pos].trim_end();
        let is_pub = before.ends_with("pub") || before.ends_with(')') && before.contains("pub(");
        let after = &rest[pos + 3..];
        let Some(end) = after.find(';') else { break };
        if is_pub {
            for (p, alias) in expand_use_tree_named(after[..end].trim()) {
                if let Some(abs) = absolute(&p, &here, &children, true) {
                    out.push((alias, abs));
                }
            }
        }
        rest = &after[end..];
    }
    out
}

/// Replaces a leading path through a re-export by the path it stands for (repeatedly).
fn follow_reexports(
    mut path: Vec<String>,
    known: &BTreeSet<String>,
    reexports: &BTreeMap<(String, String), Vec<String>>,
) -> Vec<String> {
    for _ in 0..8 {
        let Some(m) = deepest_module(&path, known) else {
            return path;
        };
        let depth = if m.is_empty() {
            0
        } else {
            m.split("::").count()
        };
        let Some(name) = path.get(depth) else {
            return path;
        };
        match reexports.get(&(m, name.clone())) {
            Some(target) => {
                let mut p = target.clone();
                p.extend(path[depth + 1..].iter().cloned());
                path = p;
            }
            None => return path,
        }
    }
    path
}

fn children_of(module: &str, known: &BTreeSet<String>) -> BTreeSet<String> {
    known
        .iter()
        .filter_map(|m| {
            let rest = if module.is_empty() {
                m.as_str()
            } else {
                m.strip_prefix(module)?.strip_prefix("::")?
            };
            (!rest.is_empty() && !rest.contains("::")).then(|| rest.to_string())
        })
        .collect()
}

fn find_keyword(s: &str, kw: &str) -> Option<usize> {
    let mut from = 0;
    while let Some(p) = s[from..].find(kw) {
        let at = from + p;
        let before = s[..at].chars().next_back();
        let after = s[at + kw.len()..].chars().next();
        if !before.is_some_and(is_ident_char) && after.is_some_and(char::is_whitespace) {
            return Some(at);
        }
        from = at + kw.len();
    }
    None
}

/// Like [`expand_use_tree`], with the name each path is visible under (its last segment or
/// its `as` rename); glob imports are left out.
fn expand_use_tree_named(tree: &str) -> Vec<(Vec<String>, String)> {
    let mut out = Vec::new();
    // Renames are rare in re-exports; read them from the original text.
    let renames: BTreeMap<String, String> = tree
        .split([',', '{', '}'])
        .filter_map(|part| {
            let words: Vec<&str> = part.split_whitespace().collect();
            match words.as_slice() {
                [.., from, "as", to] => {
                    Some((from.rsplit("::").next()?.to_string(), to.to_string()))
                }
                _ => None,
            }
        })
        .collect();
    for p in expand_use_tree(tree) {
        if tree.contains('*') && p.last().is_none() {
            continue;
        }
        if let Some(last) = p.last() {
            let name = renames.get(last).cloned().unwrap_or_else(|| last.clone());
            out.push((p, name));
        }
    }
    out
}

/// `a::{b, c::{d, e}}` → `[a, b]`, `[a, c, d]`, `[a, c, e]` (renames and globs dropped).
fn expand_use_tree(tree: &str) -> Vec<Vec<String>> {
    // Drop renames (`X as Y`) before the whitespace that delimits them goes.
    let words: Vec<&str> = tree.split_whitespace().collect();
    let mut kept = String::new();
    let mut k = 0;
    while k < words.len() {
        if words[k] == "as" {
            // Skip the new name, keep any punctuation glued to it (`Y,` or `Y}`).
            let rename = words.get(k + 1).copied().unwrap_or("");
            kept.extend(rename.chars().skip_while(|c| is_ident_char(*c)));
            k += 2;
        } else {
            kept.push_str(words[k]);
            k += 1;
        }
    }
    let tree = kept;
    let mut out = Vec::new();
    expand(&tree, &mut Vec::new(), &mut out);
    out
}

fn expand(tree: &str, prefix: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
    if let Some(open) = tree.find('{') {
        let head = tree[..open].trim_end_matches("::");
        let n = prefix.len();
        prefix.extend(
            head.split("::")
                .filter(|s| !s.is_empty())
                .map(str::to_string),
        );
        let inner = &tree[open + 1..tree.rfind('}').unwrap_or(tree.len())];
        let mut depth = 0;
        let mut start = 0;
        for (k, c) in inner.char_indices() {
            match c {
                '{' => depth += 1,
                '}' => depth -= 1,
                ',' if depth == 0 => {
                    expand(&inner[start..k], prefix, out);
                    start = k + 1;
                }
                _ => {}
            }
        }
        expand(&inner[start..], prefix, out);
        prefix.truncate(n);
    } else if !tree.is_empty() {
        let mut p = prefix.clone();
        p.extend(
            tree.split("::")
                .filter(|s| !s.is_empty() && *s != "*" && *s != "self")
                .map(str::to_string),
        );
        out.push(p);
    }
}

/// Makes `segs` absolute from the crate root, if it starts at `crate`, `super`, `self` or a
/// child module of `here`; `None` for paths into other crates or local names.
fn absolute(
    segs: &[String],
    here: &[String],
    children: &BTreeSet<String>,
    in_use: bool,
) -> Option<Vec<String>> {
    let first = segs.first()?;
    let mut base: Vec<String> = match first.as_str() {
        "crate" => Vec::new(),
        "self" => here.to_vec(),
        "super" => {
            let mut b = here.to_vec();
            let mut k = 0;
            while segs.get(k).is_some_and(|s| s == "super") {
                b.pop()?;
                k += 1;
            }
            b.extend(segs[k..].iter().cloned());
            return Some(b);
        }
        c if children.contains(c) && (in_use || segs.len() > 1) => {
            let mut b = here.to_vec();
            b.extend(segs.iter().cloned());
            return Some(b);
        }
        _ => return None,
    };
    base.extend(segs[1..].iter().cloned());
    Some(base)
}

fn deepest_module(path: &[String], known: &BTreeSet<String>) -> Option<String> {
    (0..=path.len())
        .rev()
        .map(|n| path[..n].join("::"))
        .find(|m| known.contains(m))
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
