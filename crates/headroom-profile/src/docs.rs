//! Documentation derived from the schema: the settings table of the crate docs
//! (`SETTINGS.md`) and the settings list of `headroom set --help` and its man page.

use crate::profile::Profile;
use crate::schema::{Field, SettingKind, SettingValue, FIELDS};

/// How a row's allowed values read in the docs: the range (with an ordering rule from the
/// description), or the two routes.
fn allowed(f: &Field) -> String {
    match (f.kind, f.range) {
        (SettingKind::Route, _) => "`\"processed\"` or `\"bypass\"`".to_owned(),
        (_, Some(r)) => r.describe(),
        _ => String::new(),
    }
}

/// The settings table of the docs (Markdown): key, type, default, allowed values, meaning.
pub fn settings_markdown() -> String {
    let defaults = Profile::default();
    let mut out = String::from(
        "| key | type | default | allowed | meaning |\n|-----|------|---------|---------|---------|\n",
    );
    for f in FIELDS {
        let default = match (f.get)(&defaults) {
            SettingValue::String(s) if s.is_empty() => "`\"\"`".to_owned(),
            v => format!("`{v}`"),
        };
        out.push_str(&format!(
            "| `{}` | {} | {default} | {} | {} |\n",
            f.key,
            f.kind,
            allowed(f),
            f.doc
        ));
    }
    out
}

/// The settings list for `headroom set --help` and its man page (plain text).
pub fn settings_help() -> String {
    let defaults = Profile::default();
    let width = FIELDS.iter().map(|f| f.key.len()).max().unwrap_or(0);
    let mut out = String::from("Settings (dotted keys, as in a profile file):\n");
    for f in FIELDS {
        let mut what = format!("{}, default {}", f.kind, (f.get)(&defaults));
        let a = allowed(f).replace('`', "");
        if !a.is_empty() {
            what.push_str(&format!(", {a}"));
        }
        out.push_str(&format!(
            "  {:width$}  {}\n  {:width$}  ({what})\n",
            f.key, f.doc, ""
        ));
    }
    out
}
