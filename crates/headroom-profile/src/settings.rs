//! Dotted-key settings of a profile: list, describe, read and change them (checked against
//! the schema and the whole profile's validation).

use crate::check::out_of_range;
use crate::error::{Invalid, Seg};
use crate::profile::Profile;
use crate::schema::{self, SettingInfo, SettingKind, SettingValue};
use crate::suggest::closest;
use crate::{ErrorKind, ProfileError};

impl Profile {
    /// Every dotted-key setting with its type, built-in default, range and description.
    pub fn keys() -> Vec<SettingInfo> {
        let defaults = Profile::default();
        schema::FIELDS
            .iter()
            .map(|f| SettingInfo {
                key: f.key,
                kind: f.kind,
                default: (f.get)(&defaults),
                range: f.range,
                doc: f.doc,
            })
            .collect()
    }

    /// Type and range of one setting.
    pub fn key_info(key: &str) -> Result<SettingInfo, ProfileError> {
        let f = lookup(key)?;
        Ok(SettingInfo {
            key: f.key,
            kind: f.kind,
            default: (f.get)(&Profile::default()),
            range: f.range,
            doc: f.doc,
        })
    }

    /// Reads a setting by dotted key, e.g. `agc.target_lufs`.
    pub fn get(&self, key: &str) -> Result<SettingValue, ProfileError> {
        Ok((lookup(key)?.get)(self))
    }

    /// Changes a setting by dotted key. The value is converted to the setting's type (a
    /// string `"on"` for a bool, `"-18"` for a number), then the whole profile is validated;
    /// on any error the profile is left unchanged.
    pub fn set(&mut self, key: &str, value: SettingValue) -> Result<(), ProfileError> {
        let f = lookup(key)?;
        let v = schema::coerce(f.kind, &value).map_err(|()| wrong_type(f, &value))?;
        if let Some(inv) = out_of_range(f, &v) {
            return Err(inv.into_error());
        }
        let mut next = self.clone();
        (f.put)(&mut next, &v);
        next.check().map_err(Invalid::into_error)?;
        *self = next;
        Ok(())
    }

    /// This profile with several settings changed together: each value is converted to its
    /// setting's type and range-checked on its own, then the ordering rules (a silence gate
    /// below the target, the target below the limiter's ceiling) are checked on the result,
    /// so values that only fit together — a target of -5 with a silence gate of -10 — are
    /// taken whatever their order. A setting that cannot be applied is left out and returned
    /// with the reason: an unknown key, a wrong type, a value out of range, or an ordering
    /// rule it breaks (of the two settings a rule names, the one given here is left out; the
    /// first the rule names when both are).
    pub fn with_settings<'a>(
        &self,
        settings: impl IntoIterator<Item = (&'a str, &'a SettingValue)>,
    ) -> (Profile, Vec<(String, ProfileError)>) {
        let mut taken: Vec<(&'static schema::Field, SettingValue)> = Vec::new();
        let mut left_out = Vec::new();
        for (key, value) in settings {
            let f = match lookup(key) {
                Ok(f) => f,
                Err(e) => {
                    left_out.push((key.to_owned(), e));
                    continue;
                }
            };
            let v = match schema::coerce(f.kind, value) {
                Ok(v) => v,
                Err(()) => {
                    left_out.push((f.key.to_owned(), wrong_type(f, value)));
                    continue;
                }
            };
            if let Some(inv) = out_of_range(f, &v) {
                left_out.push((f.key.to_owned(), inv.into_error()));
                continue;
            }
            let mut alone = self.clone();
            (f.put)(&mut alone, &v);
            match alone.check_all(false).into_iter().next() {
                Some(inv) => left_out.push((f.key.to_owned(), inv.into_error())),
                None => taken.push((f, v)),
            }
        }
        loop {
            let mut p = self.clone();
            for (f, v) in &taken {
                (f.put)(&mut p, v);
            }
            let Err(inv) = p.check() else {
                return (p, left_out);
            };
            let other = inv.fallback.as_deref().map(dotted);
            let culprit = taken
                .iter()
                .position(|(f, _)| f.key == inv.key)
                .or_else(|| {
                    other
                        .as_deref()
                        .and_then(|o| taken.iter().position(|(f, _)| f.key == o))
                });
            match culprit {
                Some(i) => {
                    let (f, _) = taken.remove(i);
                    left_out.push((f.key.to_owned(), inv.into_error()));
                }
                None => {
                    // The rule broken is not about the settings given (this profile itself
                    // breaks it): none of them can be judged, so none is applied.
                    let e = inv.into_error();
                    left_out.extend(taken.drain(..).map(|(f, _)| (f.key.to_owned(), e.clone())));
                    return (self.clone(), left_out);
                }
            }
        }
    }
}

/// The dotted key of a path into the profile (`agc.target_lufs`).
fn dotted(path: &[Seg]) -> String {
    path.iter()
        .filter_map(|s| match s {
            Seg::Key(k) => Some(k.as_str()),
            Seg::Index(_) => None,
        })
        .collect::<Vec<_>>()
        .join(".")
}

fn wrong_type(f: &schema::Field, value: &SettingValue) -> ProfileError {
    let kind = if f.kind == SettingKind::Route && matches!(value, SettingValue::String(_)) {
        ErrorKind::InvalidRoute
    } else {
        ErrorKind::WrongType
    };
    let msg = if kind == ErrorKind::InvalidRoute {
        format!(
            "{} = {value} is not a route (expected \"processed\" or \"bypass\")",
            f.key
        )
    } else {
        // A number's range says what is valid in full.
        let range = f.range.map(|r| format!(" {r}")).unwrap_or_default();
        format!(
            "{} must be {}{range}, got {} ({value})",
            f.key,
            f.kind.expected_loose(),
            value.type_name()
        )
    };
    ProfileError::new(kind, Some(f.key.to_owned()), msg)
}

fn lookup(key: &str) -> Result<&'static schema::Field, ProfileError> {
    schema::field(key).ok_or_else(|| {
        ProfileError::new(
            ErrorKind::UnknownKey,
            Some(key.to_owned()),
            format!("unknown setting `{key}` ({})", unknown_key_hint(key)),
        )
    })
}

/// What is valid instead of the unknown `key`: the closest key when it looks like a typo of
/// one, else the keys of the section it names (`agc`, `agc.target`), else every top-level key
/// and section.
fn unknown_key_hint(key: &str) -> String {
    let keys = || schema::FIELDS.iter().map(|f| f.key);
    if let Some(s) = closest(key, keys()) {
        return format!("did you mean `{s}`?");
    }
    let section = key.split('.').next().unwrap_or_default();
    let in_section: Vec<&str> = keys()
        .filter(|k| {
            k.split_once('.')
                .is_some_and(|(s, _)| s.eq_ignore_ascii_case(section))
        })
        .collect();
    if !in_section.is_empty() {
        return format!("keys of [{section}]: {}", in_section.join(", "));
    }
    let mut names: Vec<String> = Vec::new();
    for k in keys() {
        let name = match k.split_once('.') {
            Some((s, _)) => format!("{s}.*"),
            None => k.to_owned(),
        };
        if !names.contains(&name) {
            names.push(name);
        }
    }
    format!("settings: {}", names.join(", "))
}
