//! Routing rules built from the raw keys and patterns of a profile file, with errors that say
//! which rule and key are wrong (located in the file by the parser).

use crate::error::{Invalid, Seg};
use crate::suggest::closest;
use crate::{ErrorKind, Glob, MatchKey};

pub(crate) fn rule_key(i: usize) -> String {
    format!("route.rules[{i}]")
}

/// Builds a validated rule from raw strings. `path` locates errors.
pub(crate) fn build_match(i: usize, key: &str, pattern: &str) -> Result<(MatchKey, Glob), Invalid> {
    let mut path = vec![
        Seg::Key("route".into()),
        Seg::Key("rules".into()),
        Seg::Index(i),
        Seg::Key("match".into()),
        Seg::Key(key.to_owned()),
    ];
    let mk = key.parse::<MatchKey>().map_err(|()| {
        let hint = match closest(key, MatchKey::ALL.iter().map(|k| k.as_str())) {
            Some(s) => format!(" (did you mean `{s}`?)"),
            None => format!(
                " (expected one of {})",
                MatchKey::ALL
                    .iter()
                    .map(|k| format!("`{k}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        Invalid {
            kind: ErrorKind::InvalidMatch,
            key: format!("{}.match", rule_key(i)),
            message: format!("unknown match key `{key}` in {}{hint}", rule_key(i)),
            path: path.clone(),
            fallback: None,
            at_key: true,
        }
    })?;
    let glob = Glob::new(pattern).map_err(|e| {
        let k = format!("{}.match.\"{key}\"", rule_key(i));
        Invalid {
            kind: ErrorKind::InvalidMatch,
            message: format!("{k} = {pattern:?} is not a valid glob: {e}"),
            key: k,
            path: std::mem::take(&mut path),
            fallback: None,
            at_key: false,
        }
    })?;
    Ok((mk, glob))
}

pub(crate) fn empty_match(i: usize) -> Invalid {
    let mut inv = Invalid::at(
        ErrorKind::InvalidMatch,
        &format!("{}.match", rule_key(i)),
        format!(
            "{}.match is empty: give at least one key (use route.default for a catch-all)",
            rule_key(i)
        ),
    );
    inv.path = vec![
        Seg::Key("route".into()),
        Seg::Key("rules".into()),
        Seg::Index(i),
        Seg::Key("match".into()),
    ];
    inv
}
