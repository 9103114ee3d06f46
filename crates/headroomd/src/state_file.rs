//! Runtime overrides (`headroom set KEY=VALUE`) persisted across daemon restarts.
//!
//! The overrides live in `$XDG_STATE_HOME/headroom/state.json`:
//!
//! ```json
//! { "version": 1, "overrides": { "agc.target_lufs": -18.0, "bypass": true } }
//! ```
//!
//! The file is always replaced atomically ([`write_atomic`]: temporary file in the same
//! directory, fsync, rename, fsync of the directory; through a symbolic link, the file it
//! points to is replaced), so a crash leaves either the old or the new state. A file that
//! is nevertheless unreadable (truncated by a full disk, edited by hand) is reported, moved
//! aside to `state.json.corrupt-<unix seconds>` so nothing is lost, and ignored: the
//! daemon starts with no overrides instead of failing. A readable file with an override
//! that is no setting value (`null`, a list, a number too large for a double) costs only
//! that override: the file as it was is kept aside the same way and the overrides that
//! were read are saved in its place.

use std::collections::BTreeMap;
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use headroom_profile::{Profile, SettingValue};
use serde::{Deserialize, Serialize};

/// File name of the state file inside the state directory.
pub const STATE_FILE_NAME: &str = "state.json";

/// Format version written to the state file.
pub const STATE_VERSION: u32 = 1;

/// Dotted-key settings applied on top of the active profile.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Overrides {
    values: BTreeMap<String, SettingValue>,
}

impl Overrides {
    /// No overrides.
    pub fn new() -> Self {
        Self::default()
    }

    /// The override of `key`, if any.
    pub fn get(&self, key: &str) -> Option<&SettingValue> {
        self.values.get(key)
    }

    /// Sets an override (not validated here: [`crate::profiles::ProfileStore::set_override`]
    /// validates before storing).
    pub fn insert(&mut self, key: impl Into<String>, value: SettingValue) {
        self.values.insert(key.into(), value);
    }

    /// Removes the override of `key`, returning it.
    pub fn remove(&mut self, key: &str) -> Option<SettingValue> {
        self.values.remove(key)
    }

    /// Removes every override.
    pub fn clear(&mut self) {
        self.values.clear();
    }

    /// Number of overrides.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// Overrides in key order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &SettingValue)> {
        self.values.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// `profile` with the overrides applied together ([`Profile::with_settings`]: each
    /// checked on its own, the ordering rules on the result, so overrides that only fit
    /// together — a target of -5 and a silence gate of -10 — both apply). An override that
    /// does not fit (unknown key, out of range, or in conflict with the profile, e.g. a
    /// silence gate above the new profile's target) is skipped and described in the returned
    /// warnings.
    pub fn apply_to(&self, profile: &Profile) -> (Profile, Vec<String>) {
        let (p, skipped) = self.apply_to_keyed(profile);
        (p, skipped.into_iter().map(|(_, w)| w).collect())
    }

    /// [`Overrides::apply_to`], with the key of each skipped override next to its warning.
    pub fn apply_to_keyed(&self, profile: &Profile) -> (Profile, Vec<(String, String)>) {
        let (p, left_out) = profile.with_settings(self.iter());
        let skipped = left_out
            .into_iter()
            .map(|(k, e)| {
                let w = match self.values.get(&k) {
                    Some(v) => format!("override {k} = {v} ignored: {e}"),
                    None => format!("override {k} ignored: {e}"),
                };
                (k, w)
            })
            .collect();
        (p, skipped)
    }
}

#[derive(Serialize)]
struct OnDisk {
    version: u32,
    overrides: Overrides,
}

/// The file as read: each override's JSON text on its own, so that one that is no setting
/// value costs only itself.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OnDiskRead<'a> {
    version: u32,
    #[serde(default, borrow)]
    overrides: BTreeMap<String, &'a serde_json::value::RawValue>,
}

/// Result of [`StateFile::load`].
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Loaded {
    /// The overrides read (empty when the file is missing or unusable).
    pub overrides: Overrides,
    /// What went wrong, for the log, when the file was unusable.
    pub warning: Option<String>,
    /// Where an unusable file was moved to.
    pub backup: Option<PathBuf>,
}

/// The state file at a fixed path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateFile {
    path: PathBuf,
}

impl StateFile {
    /// The state file at `path`.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        StateFile { path: path.into() }
    }

    /// `state_dir/state.json`.
    pub fn in_dir(state_dir: impl AsRef<Path>) -> Self {
        StateFile::new(state_dir.as_ref().join(STATE_FILE_NAME))
    }

    /// Its path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Reads the overrides. A missing file is simply empty. A corrupt one is renamed to
    /// `<name>.corrupt-<unix seconds>` and reported in [`Loaded::warning`]; never panics.
    pub fn load(&self) -> Loaded {
        let bytes = match crate::files::read_regular(&self.path) {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Loaded::default(),
            Err(e) => {
                return Loaded {
                    warning: Some(format!(
                        "cannot read state file {}: {e}; starting without overrides",
                        self.path.display()
                    )),
                    ..Loaded::default()
                }
            }
        };
        let problem = match serde_json::from_slice::<OnDiskRead>(&bytes) {
            Ok(d) if d.version == STATE_VERSION => return self.read_overrides(d.overrides),
            Ok(d) => format!("unsupported version {}", d.version),
            Err(e) => e.to_string(),
        };
        let (backup, note) = match self.move_aside() {
            Ok(p) => {
                let note = format!("moved to {}", p.display());
                (Some(p), note)
            }
            Err(e) => (None, format!("could not move it aside: {e}")),
        };
        Loaded {
            overrides: Overrides::new(),
            warning: Some(format!(
                "state file {} is corrupt ({problem}); {note}; starting without overrides",
                self.path.display()
            )),
            backup,
        }
    }

    fn move_aside(&self) -> io::Result<PathBuf> {
        move_aside(&self.path)
    }

    /// The overrides of a readable file: each that is a setting value is kept; when one is
    /// not, the file is moved aside and the ones kept are saved in its place.
    fn read_overrides(&self, raw: BTreeMap<String, &serde_json::value::RawValue>) -> Loaded {
        let mut overrides = Overrides::new();
        let mut bad = Vec::new();
        for (key, text) in raw {
            match serde_json::from_str::<SettingValue>(text.get()) {
                Ok(v) => overrides.insert(key, v),
                Err(_) => {
                    // Named as written, cut short (one value may be most of the file).
                    let t: String = text.get().chars().take(40).collect();
                    let cut = if t.len() < text.get().len() {
                        "…"
                    } else {
                        ""
                    };
                    bad.push(format!("{key} = {t}{cut}"));
                }
            }
        }
        if bad.is_empty() {
            return Loaded {
                overrides,
                ..Loaded::default()
            };
        }
        let what = format!(
            "state file {}: override{} {} not a boolean, number or string",
            self.path.display(),
            if bad.len() == 1 { "" } else { "s" },
            bad.join(", ") + if bad.len() == 1 { " is" } else { " are" },
        );
        let (backup, note) = match self.move_aside() {
            Ok(p) => match self.save(&overrides) {
                Ok(()) => {
                    let note = format!("the file as it was is kept as {}", p.display());
                    (Some(p), note)
                }
                Err(e) => {
                    let note = format!(
                        "the file as it was is kept as {} (saving the rest failed: {e})",
                        p.display()
                    );
                    (Some(p), note)
                }
            },
            Err(e) => (None, format!("could not move it aside: {e}")),
        };
        Loaded {
            warning: Some(format!(
                "{what}; skipped, the other overrides are in force; {note}"
            )),
            overrides,
            backup,
        }
    }

    /// Writes the overrides atomically, creating the directory if needed.
    pub fn save(&self, overrides: &Overrides) -> io::Result<()> {
        let disk = OnDisk {
            version: STATE_VERSION,
            overrides: overrides.clone(),
        };
        let mut text = serde_json::to_string_pretty(&disk).map_err(io::Error::other)?;
        text.push('\n');
        write_atomic(&self.path, text.as_bytes())
    }
}

/// Moves the unusable file `path` aside ([`move_aside`]) and says where, for a log line:
/// `moved to <backup>`, or why it could not be.
pub fn move_aside_note(path: &Path) -> String {
    match move_aside(path) {
        Ok(backup) => format!("moved to {}", backup.display()),
        Err(err) => format!("could not move it aside: {err}"),
    }
}

/// Moves the unusable file `path` aside to `<path>.corrupt-<unix seconds>` (with `-1`, `-2`, …
/// appended when that name is taken), so an earlier backup is never overwritten. Returns the
/// new name. When `path` is a symbolic link, the file it points to is moved aside next to
/// itself and the link stays, for [`write_atomic`] to write the next contents through.
pub fn move_aside(path: &Path) -> io::Result<PathBuf> {
    let path = &resolve_links(path)?;
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let base = format!("{}.corrupt-{secs}", path.display());
    let mut candidate = PathBuf::from(&base);
    let mut n = 1;
    // `symlink_metadata`: a dangling link is a name that is taken, too.
    while fs::symlink_metadata(&candidate).is_ok() {
        candidate = PathBuf::from(format!("{base}-{n}"));
        n += 1;
    }
    fs::rename(path, &candidate)?;
    Ok(candidate)
}

/// Replaces the file at `path` with `contents` atomically, as [`replace_atomic`] does; when
/// `path` is a symbolic link (a dotfile manager's link to `config.toml`, say), the file it
/// points to is replaced (links to links followed; a dangling link's target is created in
/// its folder, and refused when that folder does not exist: a link to `/nonexistent/x`
/// made `/nonexistent`) and the link stays.
pub fn write_atomic(path: &Path, contents: &[u8]) -> io::Result<()> {
    let target = resolve_links(path)?;
    if target != path {
        if let Some(folder) = target.parent().filter(|d| !d.as_os_str().is_empty()) {
            if !folder.is_dir() {
                return Err(io::Error::new(
                    io::ErrorKind::NotFound,
                    format!(
                        "it is a symbolic link to {}, whose folder {} does not exist (create \
                         the folder, or remove the link)",
                        target.display(),
                        folder.display()
                    ),
                ));
            }
        }
    }
    replace_atomic(&target, contents)
}

/// Longest chain of symbolic links [`write_atomic`] follows (the kernel's limit).
const MAX_LINKS: usize = 40;

/// The file a write to `path` replaces: `path` itself, or the end of the chain of symbolic
/// links starting there (relative targets are relative to the link's directory).
fn resolve_links(path: &Path) -> io::Result<PathBuf> {
    let mut p = path.to_path_buf();
    for _ in 0..MAX_LINKS {
        match fs::symlink_metadata(&p) {
            Ok(m) if m.file_type().is_symlink() => {
                let target = fs::read_link(&p)?;
                p = match p.parent() {
                    Some(dir) => dir.join(target),
                    None => target,
                };
            }
            _ => return Ok(p),
        }
    }
    Err(io::Error::new(
        io::ErrorKind::InvalidInput,
        format!("{}: too many levels of symbolic links", path.display()),
    ))
}

/// Replaces `path` with `contents` atomically: writes a temporary file in the same
/// directory, fsyncs it, renames it over `path` and fsyncs the directory. Creates the
/// directory if missing. Whatever is at `path` is replaced, a symbolic link too (for
/// headroom's own files, which are never written through a link; [`write_atomic`] follows
/// one). A
/// replaced file's permissions are kept. On error the old file is untouched and the
/// temporary file removed; once the rename is done the save has succeeded (a failed
/// directory fsync is logged), so an error always means the file still holds the old
/// contents.
pub fn replace_atomic(path: &Path, contents: &[u8]) -> io::Result<()> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    fs::create_dir_all(&dir)?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "file".into());
    let tmp = dir.join(format!(
        ".{name}.tmp-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let result = (|| {
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)?;
        if let Ok(m) = fs::symlink_metadata(path) {
            if m.is_file() {
                f.set_permissions(m.permissions())?;
            }
        }
        f.write_all(contents)?;
        f.sync_all()?;
        drop(f);
        fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
        return result;
    }
    // The new contents are in place: a failed fsync of the directory only weakens their
    // durability against a crash. Reporting it as a failure would let the caller keep the old
    // state in memory while the file holds the new one.
    if let Err(e) = fs::File::open(&dir).and_then(|d| d.sync_all()) {
        tracing::warn!(
            "{} saved, but syncing {} failed: {e}",
            path.display(),
            dir.display()
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{symlink, PermissionsExt};

    #[test]
    fn move_aside_moves_the_file_a_link_points_to_and_keeps_the_link() {
        let dir = tempfile::tempdir().unwrap();
        let dotfiles = dir.path().join("dotfiles");
        fs::create_dir(&dotfiles).unwrap();
        let real = dotfiles.join("routes.json");
        fs::write(&real, "[ corrupt").unwrap();
        let link = dir.path().join("routes.json");
        symlink(&real, &link).unwrap();
        let backup = move_aside(&link).unwrap();
        assert_eq!(backup.parent(), Some(dotfiles.as_path()));
        assert_eq!(fs::read_to_string(&backup).unwrap(), "[ corrupt");
        assert!(fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink());
        write_atomic(&link, b"[]").unwrap();
        assert_eq!(fs::read_to_string(&real).unwrap(), "[]");
        assert!(fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink());
    }

    #[test]
    fn write_atomic_replaces_the_file_a_link_points_to_and_keeps_the_link() {
        let dir = tempfile::tempdir().unwrap();
        let dotfiles = dir.path().join("dotfiles");
        fs::create_dir(&dotfiles).unwrap();
        let real = dotfiles.join("config.toml");
        fs::write(&real, "profile = \"default\"\n").unwrap();
        fs::set_permissions(&real, fs::Permissions::from_mode(0o640)).unwrap();
        // A link to a (relative) link to the file, as stow makes them.
        let middle = dir.path().join("middle.toml");
        symlink("dotfiles/config.toml", &middle).unwrap();
        let link = dir.path().join("config.toml");
        symlink(&middle, &link).unwrap();
        write_atomic(&link, b"profile = \"night\"\n").unwrap();
        assert!(fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink());
        assert!(fs::symlink_metadata(&middle)
            .unwrap()
            .file_type()
            .is_symlink());
        assert_eq!(fs::read_to_string(&real).unwrap(), "profile = \"night\"\n");
        let mode = fs::metadata(&real).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o640);
        // No temporary file is left next to the link or the file.
        for d in [dir.path(), dotfiles.as_path()] {
            let names: Vec<_> = fs::read_dir(d)
                .unwrap()
                .map(|e| e.unwrap().file_name().into_string().unwrap())
                .filter(|n| n.contains(".tmp-"))
                .collect();
            assert!(names.is_empty(), "{names:?}");
        }
        // A dangling link: its target is created.
        let dangling = dir.path().join("state.json");
        symlink(dotfiles.join("state.json"), &dangling).unwrap();
        write_atomic(&dangling, b"{}").unwrap();
        assert!(fs::symlink_metadata(&dangling)
            .unwrap()
            .file_type()
            .is_symlink());
        assert_eq!(fs::read(dotfiles.join("state.json")).unwrap(), b"{}");
        // A dangling link into a folder that does not exist: refused, and no folder made.
        let lost = dir.path().join("routes.json");
        let nowhere = dir.path().join("no-such/dir/routes.json");
        symlink(&nowhere, &lost).unwrap();
        let e = write_atomic(&lost, b"[]").unwrap_err();
        assert!(
            e.to_string().contains("whose folder") && e.to_string().contains("no-such/dir"),
            "{e}"
        );
        assert!(!dir.path().join("no-such").exists(), "the folder was made");
        assert!(fs::symlink_metadata(&lost)
            .unwrap()
            .file_type()
            .is_symlink());
        // A loop is an error, and changes nothing.
        let a = dir.path().join("a");
        symlink(dir.path().join("b"), &a).unwrap();
        symlink(&a, dir.path().join("b")).unwrap();
        assert!(write_atomic(&a, b"x").is_err());
        assert!(fs::symlink_metadata(&a).unwrap().file_type().is_symlink());
    }

    #[test]
    fn replace_atomic_replaces_a_link_itself() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("elsewhere");
        fs::write(&real, "old").unwrap();
        let link = dir.path().join("marks.jsonl");
        symlink(&real, &link).unwrap();
        replace_atomic(&link, b"new").unwrap();
        assert!(fs::symlink_metadata(&link).unwrap().is_file());
        assert_eq!(fs::read_to_string(&real).unwrap(), "old");
    }

    #[test]
    fn saving_overrides_through_a_linked_state_file_keeps_the_link() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real-state.json");
        let link = dir.path().join(STATE_FILE_NAME);
        symlink(&real, &link).unwrap();
        let f = StateFile::new(&link);
        let mut o = Overrides::new();
        o.insert("bypass", SettingValue::Bool(true));
        f.save(&o).unwrap();
        assert!(fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink());
        assert_eq!(f.load().overrides, o);
    }

    #[test]
    fn overrides_that_fit_together_apply_whatever_their_key_order() {
        // `agc.silence_gate_lufs` sorts before `agc.target_lufs`: -10 is above the profile's
        // target (-16) but below the overridden one.
        let mut o = Overrides::new();
        o.insert("agc.target_lufs", SettingValue::Number(-5.0));
        o.insert("agc.silence_gate_lufs", SettingValue::Number(-10.0));
        let (p, warnings) = o.apply_to(&Profile::default());
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(p.chain.agc.target_lufs, -5.0);
        assert_eq!(p.chain.agc.silence_gate_lufs, -10.0);
    }

    #[test]
    fn apply_skips_conflicting_overrides() {
        let mut o = Overrides::new();
        o.insert("agc.target_lufs", SettingValue::Number(-20.0));
        o.insert("agc.silence_gate_lufs", SettingValue::Number(-10.0));
        o.insert("no.such", SettingValue::Bool(true));
        let (p, warnings) = o.apply_to(&Profile::default());
        assert_eq!(p.chain.agc.target_lufs, -20.0);
        assert_eq!(
            p.chain.agc.silence_gate_lufs,
            headroom_core::AgcParams::default().silence_gate_lufs
        );
        assert_eq!(warnings.len(), 2, "{warnings:?}");
    }
}
