//! Reading the paths a module's source names: comments and literals blanked out, `use` trees
//! expanded, paths made absolute, re-exports followed.

use std::collections::{BTreeMap, BTreeSet};

/// The code with comments and the contents of string and char literals blanked out.
pub(super) fn strip(text: &str) -> String {
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
pub(super) fn paths(code: &str, module: &str, known: &BTreeSet<String>) -> Vec<Vec<String>> {
    let here = segments(module);
    let children = children_of(module, known);
    let mut out = Vec::new();
    // `use` trees, expanded.
    for (_, tree) in use_statements(code) {
        for p in expand_use_tree(tree) {
            if let Some(abs) = absolute(&p, &here, &children, true) {
                out.push(abs);
            }
        }
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
pub(super) fn pub_uses(
    code: &str,
    module: &str,
    known: &BTreeSet<String>,
) -> Vec<(String, Vec<String>)> {
    let here = segments(module);
    let children = children_of(module, known);
    let mut out = Vec::new();
    for (_, tree) in use_statements(code).into_iter().filter(|(re, _)| *re) {
        for (p, alias) in expand_use_tree_named(tree) {
            if let Some(abs) = absolute(&p, &here, &children, true) {
                out.push((alias, abs));
            }
        }
    }
    out
}

/// Every `use` statement of `code`: whether it re-exports (`pub use`, `pub(…) use`) and its
/// tree (the text between `use` and `;`).
fn use_statements(code: &str) -> Vec<(bool, &str)> {
    let mut out = Vec::new();
    let mut rest = code;
    while let Some(pos) = find_keyword(rest, "use") {
        let before = rest[..pos].trim_end();
        let reexport = before.ends_with("pub") || before.ends_with(')') && before.contains("pub(");
        let after = &rest[pos + 3..];
        let Some(end) = after.find(';') else { break };
        out.push((reexport, after[..end].trim()));
        rest = &after[end..];
    }
    out
}

/// `pw::taps` → `["pw", "taps"]`; the crate root `""` → `[]`.
fn segments(module: &str) -> Vec<String> {
    if module.is_empty() {
        Vec::new()
    } else {
        module.split("::").map(str::to_string).collect()
    }
}

/// Replaces a leading path through a re-export by the path it stands for (repeatedly).
pub(super) fn follow_reexports(
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

pub(super) fn deepest_module(path: &[String], known: &BTreeSet<String>) -> Option<String> {
    (0..=path.len())
        .rev()
        .map(|n| path[..n].join("::"))
        .find(|m| known.contains(m))
}
