//! Finding profiles: by name (the user's profiles directory first, then the shipped ones) or
//! by path, and listing them.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use headroom_profile::{empty_file_error, has_settings, shipped_profiles, Profile};

use super::{ProfileSource, StoreError, StorePaths};

pub(crate) fn is_path(name: &str) -> bool {
    name.contains('/') || name.ends_with(".toml")
}

/// The file a profile named by path is read from: an absolute path as it is, a relative one
/// against the config file's directory (where `profile = "…"` is written; the daemon's own
/// working directory means nothing to whoever wrote the name — `headroom profile use`
/// sends the path made absolute against the caller's).
pub(super) fn resolve_path(paths: &StorePaths, name: &str) -> PathBuf {
    let path = Path::new(name);
    match paths.config_file.parent() {
        Some(dir) if path.is_relative() => dir.join(path),
        _ => path.to_path_buf(),
    }
}

/// Loads a profile by name (user directory first, then shipped) or by path.
pub(super) fn load_profile(
    paths: &StorePaths,
    name: &str,
) -> Result<(Profile, ProfileSource), StoreError> {
    if is_path(name) {
        let path = resolve_path(paths, name);
        let text = match read_profile_text(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(StoreError::NoFile {
                    path,
                    available: profile_names(paths),
                })
            }
            Err(e) => return Err(StoreError::Unreadable { path, source: e }),
        };
        let shown = path.display().to_string();
        if !has_settings(&text) {
            return Err(empty_file_error(&shown).into());
        }
        let p = Profile::parse(&text, &shown)?;
        return Ok((p, ProfileSource::Path(path)));
    }
    // A hidden file (`.NAME.toml`, an editor's or a sync tool's), or a name with a control
    // character, is no profile: not listed, and not taken by name either (it was, though
    // `profile list` did not show it).
    if !headroom_profile::file::is_profile_name(name) {
        return Err(StoreError::NotFound {
            name: name.to_owned(),
            available: profile_names(paths),
        });
    }
    let user = paths.profiles_dir.join(format!("{name}.toml"));
    let shipped = shipped_profiles().iter().find(|(n, _)| *n == name);
    match read_profile_text(&user) {
        // A file without settings is no profile (a file being written looks like that): it
        // does not replace the shipped profile of its name with the defaults, and another
        // one is an error (the last good version stays in force).
        Ok(text) if !has_settings(&text) => match shipped {
            Some((n, text)) => {
                tracing::warn!(
                    "{}: no settings in it (empty, or still being written): the shipped `{n}` \
                     profile is used",
                    user.display()
                );
                let p = Profile::parse_named(n, text, &format!("profiles/{n}.toml"))?;
                Ok((p, ProfileSource::Shipped))
            }
            None => Err(empty_file_error(&user.display().to_string()).into()),
        },
        Ok(text) => {
            let p = Profile::parse_named(name, &text, &user.display().to_string())?;
            Ok((
                p,
                ProfileSource::User {
                    path: user,
                    shadows_shipped: shipped.is_some(),
                },
            ))
        }
        // No such file — also when the profiles folder is a file (a `profile show >` that
        // went to the folder's name) or leads nowhere (a symlink to itself, its target
        // gone): the shipped profiles stay usable.
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
            ) || !folder_usable(&paths.profiles_dir) =>
        {
            match shipped {
                Some((n, text)) => {
                    let p = Profile::parse_named(n, text, &format!("profiles/{n}.toml"))?;
                    Ok((p, ProfileSource::Shipped))
                }
                None => Err(StoreError::NotFound {
                    name: name.to_owned(),
                    available: profile_names(paths),
                }),
            }
        }
        Err(e) => Err(StoreError::Unreadable {
            path: user,
            source: e,
        }),
    }
}

/// Reads a profile file ([`crate::files::read_regular_to_string`]). A symlink whose target
/// is missing or that loops is the user's profile, broken: its error
/// (`ErrorKind::InvalidInput`) says where it points, so that it is reported as that file,
/// not as "no profile named" (nor replaced by a shipped profile of its name).
fn read_profile_text(p: &Path) -> io::Result<String> {
    crate::files::read_regular_to_string(p).map_err(|e| {
        match headroom_profile::file::broken_link(p) {
            Some(why) => io::Error::new(io::ErrorKind::InvalidInput, why),
            None => e,
        }
    })
}

/// Whether `dir` leads to a folder (through any symlinks). A profiles folder that is a
/// symlink loop made every shipped profile "user, invalid: too many levels of symbolic
/// links" and `profile use night` fail.
fn folder_usable(dir: &Path) -> bool {
    fs::metadata(dir).is_ok_and(|m| m.is_dir())
}

/// Names of every profile (shipped and user), sorted and deduplicated.
pub(super) fn profile_names(paths: &StorePaths) -> Vec<String> {
    let mut names: Vec<String> = shipped_profiles()
        .iter()
        .map(|(n, _)| (*n).to_owned())
        .collect();
    names.extend(user_profile_files(paths).into_iter().map(|(n, _)| n));
    names.sort();
    names.dedup();
    names
}

pub(super) fn user_profile_files(paths: &StorePaths) -> Vec<(String, PathBuf)> {
    let Ok(dir) = fs::read_dir(&paths.profiles_dir) else {
        return Vec::new();
    };
    let mut out: Vec<(String, PathBuf)> = dir
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter_map(|p| Some((headroom_profile::file::user_profile_name(&p)?, p)))
        .collect();
    out.sort();
    out
}

pub(super) fn source_path(source: &ProfileSource) -> Option<&Path> {
    match source {
        ProfileSource::User { path, .. } | ProfileSource::Path(path) => Some(path),
        ProfileSource::Shipped | ProfileSource::BuiltIn => None,
    }
}
