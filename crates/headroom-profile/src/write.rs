//! [`to_toml`]: a profile as TOML text, written from the schema ([`crate::schema::FIELDS`]):
//! top-level keys, one table per section, then the routing rules.

use crate::profile::Profile;
use crate::schema::{fields_in, format_number, sections, SettingValue};

/// A value in TOML syntax: `true`, `-16`, `1.5`, `"text"` (quoted and escaped).
fn value(v: &SettingValue) -> String {
    match v {
        SettingValue::Bool(b) => b.to_string(),
        SettingValue::Number(n) => format_number(*n),
        SettingValue::String(s) => quoted(s),
    }
}

fn quoted(s: &str) -> String {
    toml::Value::String(s.to_owned()).to_string()
}

impl Profile {
    /// The profile as TOML text (without comments) that [`Profile::parse`] reads back to an
    /// equal profile: every setting of the schema in its section, then the routing rules.
    pub fn to_toml(&self) -> String {
        to_toml(self)
    }
}

/// The profile as TOML text that [`Profile::parse`] reads back to an equal profile.
fn to_toml(p: &Profile) -> String {
    let mut out = String::new();
    for f in fields_in(None) {
        out.push_str(&format!("{} = {}\n", f.name(), value(&(f.get)(p))));
    }
    for section in sections() {
        out.push_str(&format!("\n[{section}]\n"));
        for f in fields_in(Some(section)) {
            out.push_str(&format!("{} = {}\n", f.name(), value(&(f.get)(p))));
        }
    }
    for rule in &p.route.rules {
        let matches: Vec<String> = rule
            .matches
            .iter()
            .map(|(k, g)| format!("{} = {}", quoted(k.as_str()), quoted(g.as_str())))
            .collect();
        out.push_str(&format!(
            "\n[[route.rules]]\nmatch = {{ {} }}\nroute = {}\n",
            matches.join(", "),
            quoted(rule.route.as_str())
        ));
    }
    out
}
