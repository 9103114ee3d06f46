//! The parts of `headroom-core` the offline commands use beyond the [`headroom_core::Chain`]
//! and the analysis: profiles and dotted-key settings. Kept in one place so the rest of the
//! command line does not depend on their exact shapes.

use std::path::{Path, PathBuf};

use crate::error::{CliError, CliResult};
use headroom_profile::{
    empty_file_error, has_settings, parse_assignment, shipped_profiles, Profile,
};

/// Where user profiles live: `$XDG_CONFIG_HOME/headroom/profiles` (or `~/.config/…`).
pub fn user_profile_dir() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))?;
    Some(base.join("headroom").join("profiles"))
}

/// The names of the profiles on this machine: the shipped ones and the user's
/// (`NAME.toml` in [`user_profile_dir`], valid or not: the daemon lists those too; see
/// [`headroom_profile::file::user_profile_name`] for what is no profile), sorted, each
/// once. Reads one directory; never asks the daemon.
pub fn profile_names() -> Vec<String> {
    let mut names: Vec<String> = headroom_profile::shipped_profiles()
        .iter()
        .map(|(n, _)| n.to_string())
        .collect();
    if let Some(dir) = user_profile_dir() {
        if let Ok(rd) = std::fs::read_dir(dir) {
            // The daemon's rule: hidden files, names with control characters, folders and
            // dangling links are no profiles.
            names.extend(
                rd.flatten()
                    .filter_map(|e| headroom_profile::file::user_profile_name(&e.path())),
            );
        }
    }
    names.sort();
    names.dedup();
    names
}

/// Checks a profile file; on error the message lists every error found, one a line, each
/// `file:line:col: message`. Returns a one-line summary on success (the description cut to
/// 120 characters) and the profile's
/// advice ([`Profile::advice`]: valid settings that will not do what the rest asks).
pub fn validate_profile(path: &Path) -> CliResult<(String, Vec<String>)> {
    let text = read_profile_text(path)?;
    if !has_settings(&text) {
        return Err(CliError::failed(
            empty_file_error(&path.display().to_string()).to_string(),
        ));
    }
    let profile = Profile::parse_all(&text, &path.display().to_string()).map_err(|errs| {
        let lines: Vec<String> = errs.iter().map(ToString::to_string).collect();
        CliError::failed(lines.join("\n"))
    })?;
    let advice = profile.advice();
    let mut msg = format!(
        "{}: ok (profile `{}`{})\n",
        path.display(),
        profile.name,
        if profile.description.is_empty() {
            String::new()
        } else {
            format!(": {}", crate::format::clip(&profile.description, 120))
        }
    );
    for a in &advice {
        msg.push_str(&format!("{}: warning: {a}\n", path.display()));
    }
    Ok((msg, advice))
}

/// What [`validate_config`] found in a valid config file.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ConfigCheck {
    /// The active profile it names (`default` when none).
    pub profile: String,
    /// `[alerts] notify`.
    pub notify: bool,
    /// Unknown keys, `file:line:col: unknown key …; ignored` (headroomd ignores them too).
    pub warnings: Vec<String>,
}

/// Checks the daemon's config file `path` as headroomd reads it
/// ([`headroom_profile::config`]): valid TOML, `profile` a non-empty string naming a profile
/// that loads (by name: the user's profiles directory, then the shipped ones; or a path),
/// `[alerts] notify` true or false. On error the message lists every error, one a line.
pub fn validate_config(path: &Path) -> CliResult<ConfigCheck> {
    use headroom_profile::config::{
        config_alerts_notify, config_profile, config_profile_position, config_unknown_keys,
    };
    let text = read_profile_text(path)?;
    let file = path.display().to_string();
    let profile = config_profile(&text);
    let notify = config_alerts_notify(&text);
    let mut errors: Vec<String> = Vec::new();
    if let Err(e) = &profile {
        errors.push(e.located(&file));
    }
    if let Err(e) = &notify {
        let line = e.located(&file);
        if !errors.contains(&line) {
            errors.push(line);
        }
    }
    if let Ok(name) = &profile {
        if let Err(e) = load_profile(name) {
            // At the `profile` value (the file names none when it is `default`'s).
            let at = match config_profile_position(&text) {
                (0, _) => file.clone(),
                (line, column) => format!("{file}:{line}:{column}"),
            };
            errors.push(format!("{at}: profile `{name}` does not load: {e}"));
        }
    }
    if !errors.is_empty() {
        return Err(CliError::failed(errors.join("\n")));
    }
    Ok(ConfigCheck {
        profile: profile.unwrap_or_default(),
        notify: notify.unwrap_or_default(),
        warnings: config_unknown_keys(&text)
            .iter()
            .map(|p| p.located(&file))
            .collect(),
    })
}

/// Resolves `--profile NAME|PATH`: an existing file path (or anything ending in `.toml`) is
/// read as a profile file; otherwise NAME is looked up in the user profile directory first
/// (a user profile overrides a shipped one of the same name), then among the shipped profiles.
pub fn load_profile(spec: &str) -> CliResult<Profile> {
    let as_path = Path::new(spec);
    let looks_like_path = spec.contains('/') || spec.ends_with(".toml");
    if looks_like_path || as_path.is_file() {
        return parse_file(as_path);
    }
    if let Some(dir) = user_profile_dir().filter(|_| headroom_profile::file::is_profile_name(spec))
    {
        let candidate = dir.join(format!("{spec}.toml"));
        if candidate.is_file() {
            // As the daemon: a user file without settings does not replace the shipped
            // profile of its name (and is an error when there is none).
            let text = read_profile_text(&candidate)?;
            if has_settings(&text) || Profile::shipped(spec).is_none() {
                return parse_text(&candidate, &text);
            }
            eprintln!(
                "headroom: warning: {}: no settings in it (empty, or still being written): the \
                 shipped `{spec}` profile is used",
                candidate.display()
            );
        }
    }
    match Profile::shipped(spec) {
        Some(parsed) => parsed.map_err(|e| CliError::failed(e.to_string())),
        None => {
            let shipped: Vec<&str> = shipped_profiles().iter().map(|(n, _)| *n).collect();
            Err(CliError::failed(format!(
                "no profile `{spec}` (shipped: {}; user profiles: {})",
                shipped.join(", "),
                user_profile_dir()
                    .map(|d| d.display().to_string())
                    .unwrap_or_else(|| "$XDG_CONFIG_HOME/headroom/profiles".into())
            )))
        }
    }
}

/// The text of the profile file `path`, read as the daemon reads it
/// ([`headroom_profile::file`]): a regular file (a device, FIFO or directory is refused
/// without reading from it: a FIFO without a writer would block, `/dev/zero` never ends) of
/// at most 1 MiB, as UTF-8.
fn read_profile_text(path: &Path) -> CliResult<String> {
    headroom_profile::file::read_regular_to_string(path).map_err(|e| {
        // A symlink that leads nowhere says where it points, as the daemon says it.
        let why = headroom_profile::file::broken_link(path).unwrap_or_else(|| e.to_string());
        CliError::failed(format!("{}: cannot read: {why}", path.display()))
    })
}

fn parse_file(path: &Path) -> CliResult<Profile> {
    let text = read_profile_text(path)?;
    parse_text(path, &text)
}

/// A profile file's `text` (read from `path`) parsed; a file without settings is an error
/// ([`headroom_profile::has_settings`]); the error lists every error found, one a line.
fn parse_text(path: &Path, text: &str) -> CliResult<Profile> {
    let shown = path.display().to_string();
    if !has_settings(text) {
        return Err(CliError::failed(empty_file_error(&shown).to_string()));
    }
    // Every error, one a line, as `headroom validate` lists them.
    Profile::parse_all(text, &shown).map_err(|errs| {
        let lines: Vec<String> = errs.iter().map(ToString::to_string).collect();
        CliError::failed(lines.join("\n"))
    })
}

/// Applies one `key=value` override (dotted key, e.g. `agc.target_lufs=-20`) to `profile`,
/// with the profile's own type conversion and range checks; on error nothing changes.
pub fn apply_setting(profile: &mut Profile, assignment: &str) -> CliResult {
    let (key, value) =
        parse_assignment(assignment).map_err(|e| CliError::usage(format!("--set: {e}")))?;
    profile
        .set(&key, value)
        .map_err(|e| CliError::failed(format!("--set {assignment}: {e}")))
}

/// The profile `render` runs: the named one or file (built-in defaults when `None`) with the
/// `--set` overrides applied in order; its [`Profile::advice`] says what it will not do.
pub fn render_profile(profile: Option<&str>, sets: &[String]) -> CliResult<Profile> {
    let mut p = match profile {
        Some(spec) => load_profile(spec)?,
        None => Profile::default(),
    };
    for s in sets {
        apply_setting(&mut p, s)?;
    }
    Ok(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dotted_settings_apply() {
        let p = render_profile(
            None,
            &[
                "agc.target_lufs=-20".into(),
                "limiter.enabled=false".into(),
                "bypass=true".into(),
            ],
        )
        .unwrap()
        .chain;
        assert_eq!(p.agc.target_lufs, -20.0);
        assert!(!p.limiter.enabled);
        assert!(p.bypass);
    }

    #[test]
    fn bad_settings_are_rejected() {
        for bad in ["agc.nope=1", "agc.target_lufs=loud", "agc.target_lufs=+40"] {
            let e = render_profile(None, &[bad.to_string()]).unwrap_err();
            assert_eq!(e.code, crate::error::EXIT_ERROR, "{bad}: {e}");
        }
        assert_eq!(
            render_profile(None, &["agc.target_lufs".into()])
                .unwrap_err()
                .code,
            2
        );
    }

    #[test]
    fn shipped_profiles_resolve_by_name() {
        for (name, _) in shipped_profiles() {
            let p = load_profile(name).unwrap();
            assert_eq!(p.name, *name);
        }
        let e = load_profile("no-such-profile").unwrap_err();
        assert!(e.message.contains("no profile `no-such-profile`"), "{e}");
    }
}
