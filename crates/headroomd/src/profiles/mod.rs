//! The profile store: which profiles exist, which one is active, runtime overrides, and hot
//! reload.
//!
//! Layout (all paths configurable through [`StorePaths`]):
//!
//! * `$XDG_CONFIG_HOME/headroom/config.toml` — daemon config; its `profile = "name"` key
//!   names the active profile (a name, or a path to a `.toml` file). Written atomically by
//!   [`ProfileStore::use_profile`]; other keys in it are kept (comments are not).
//! * `$XDG_CONFIG_HOME/headroom/profiles/*.toml` — user profiles. A user profile with the
//!   name of a shipped one (`default`, `music`, `night`, `speech`) replaces it.
//! * `$XDG_STATE_HOME/headroom/state.json` — runtime overrides (see [`crate::state_file`]).
//!
//! The store is cheap to clone and thread-safe; every clone shares the same state. The engine
//! keeps one, calls [`ProfileStore::effective`] for the parameters to run, the mutating
//! methods on behalf of the control socket, and [`ProfileStore::watch`] once to receive
//! [`ProfileEvent`]s when files change.
//!
//! Files: `lookup` (finding and loading profiles by name or path), `config_file` (the daemon
//! config's `profile = …`), `watch` (hot reload).

mod config_file;
mod lookup;
mod watch;

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use headroom_profile::{
    shipped_profiles, ChangeKind, Profile, ProfileDiff, ProfileError, SettingValue,
    DEFAULT_PROFILE_NAME,
};
use parking_lot::Mutex;

use crate::state_file::{Overrides, StateFile};
use config_file::{profile_position, read_config, read_config_located, write_config};
pub(crate) use lookup::is_path;
use lookup::{load_profile, profile_names, resolve_path};

pub use config_file::{read_alerts_notify, unknown_key_warnings};
pub use watch::{WatchHandle, WATCH_DEBOUNCE};

/// Where the store keeps its files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StorePaths {
    /// The daemon config file (`<config_dir>/config.toml`).
    pub config_file: PathBuf,
    /// The user profiles directory (`<config_dir>/profiles`).
    pub profiles_dir: PathBuf,
    /// The state file (`<state_dir>/state.json`).
    pub state_file: PathBuf,
}

impl StorePaths {
    /// Standard layout under a config directory (`…/headroom`) and a state directory.
    pub fn new(config_dir: impl AsRef<Path>, state_dir: impl AsRef<Path>) -> Self {
        let config_dir = config_dir.as_ref();
        StorePaths {
            config_file: config_dir.join("config.toml"),
            profiles_dir: config_dir.join("profiles"),
            state_file: state_dir.as_ref().join(crate::state_file::STATE_FILE_NAME),
        }
    }

    /// `$XDG_CONFIG_HOME/headroom` (default `~/.config/headroom`) and
    /// `$XDG_STATE_HOME/headroom` (default `~/.local/state/headroom`).
    pub fn from_env() -> Result<Self, StoreError> {
        let (config, state) = default_dirs()?;
        Ok(StorePaths::new(config, state))
    }
}

/// `($XDG_CONFIG_HOME/headroom, $XDG_STATE_HOME/headroom)` with the XDG fallbacks under
/// `$HOME`.
pub fn default_dirs() -> Result<(PathBuf, PathBuf), StoreError> {
    let var = |name: &str| {
        std::env::var_os(name)
            .map(PathBuf::from)
            .filter(|p| p.is_absolute())
    };
    let home = var("HOME");
    let base = |xdg: &str, fallback: &str| {
        var(xdg)
            .or_else(|| home.as_ref().map(|h| h.join(fallback)))
            .map(|p| p.join("headroom"))
            .ok_or(StoreError::NoHome)
    };
    Ok((
        base("XDG_CONFIG_HOME", ".config")?,
        base("XDG_STATE_HOME", ".local/state")?,
    ))
}

/// Errors of store operations requested by a client.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A profile file or a setting is invalid.
    #[error("{0}")]
    Profile(#[from] ProfileError),
    /// No profile of that name.
    #[error("no profile named `{name}` (available: {})", available.join(", "))]
    NotFound {
        /// The name asked for.
        name: String,
        /// Every profile that exists.
        available: Vec<String>,
    },
    /// No profile file at the path given (a path is a name with `/` or ending in `.toml`).
    #[error("no profile file at {} (profiles: {}; or the path of a .toml file)", path.display(), available.join(", "))]
    NoFile {
        /// The path asked for.
        path: PathBuf,
        /// Every profile that exists by name.
        available: Vec<String>,
    },
    /// A profile file asked for (by path, or by name in the profiles directory) exists but
    /// cannot be read as one: a directory or other non-regular file, no permission, too
    /// large, not UTF-8.
    #[error("cannot use {} as a profile: {source}", path.display())]
    Unreadable {
        /// The path asked for.
        path: PathBuf,
        /// Why it cannot be read.
        #[source]
        source: io::Error,
    },
    /// Reading or writing a file failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        #[source]
        source: io::Error,
    },
    /// `preferred_real_sink` set to one of headroomd's own nodes (the processed sink, say):
    /// the processed audio would play back into itself.
    #[error(
        "{key} = {value} is headroomd's own node, not an output device (name the device the \
         processed sound should play to; `headroom status` shows the one in use)"
    )]
    OwnNode {
        /// The setting.
        key: String,
        /// The node name given.
        value: String,
    },
    /// The daemon config file is invalid.
    #[error("{0}")]
    Config(String),
    /// Neither `$XDG_CONFIG_HOME`/`$XDG_STATE_HOME` nor `$HOME` is set.
    #[error("cannot find the config directory: neither XDG_CONFIG_HOME nor HOME is set")]
    NoHome,
    /// The file watcher could not be started.
    #[error("cannot watch {}: {message}", path.display())]
    Watch {
        /// What was to be watched.
        path: PathBuf,
        /// Why it failed.
        message: String,
    },
}

impl StoreError {
    fn io(path: &Path, source: io::Error) -> Self {
        StoreError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// What the store reports when files change.
#[derive(Debug, Clone)]
pub enum ProfileEvent {
    /// The effective parameters changed (edited profile, other profile selected in the config
    /// file).
    Changed {
        /// The new effective profile (active profile + overrides).
        profile: Arc<Profile>,
        /// Whether new parameter values suffice or the graph must be rebuilt.
        diff: ChangeKind,
        /// What exactly changed.
        detail: ProfileDiff,
    },
    /// A profile or the config file is invalid: the last good profile stays active (or, for
    /// a profile that is not the active one, sent by the file watcher, the active profile is
    /// not affected).
    Error(FileError),
    /// `[alerts] notify` in the config file changed to this value (reported by
    /// [`ProfileStore::reload`], for the file watcher and `profile.reload` alike, when the
    /// value differs from the one read before; an invalid value is logged and changes
    /// nothing). Desktop notifications follow it; the profile is not concerned.
    AlertsNotify(bool),
    /// A file reported in error before loads again, with nothing else changed (a profile
    /// that is not the active one, edited, loads again or was removed — sent by the file
    /// watcher —, or the config file or active profile put back as it was — sent by a
    /// reload): that error is over.
    Fixed(PathBuf),
}

/// A profile or the config file that does not load: where and what. Shown as
/// `file:line:column: message`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{}: {message}", file.display(), position(*line, *column))]
pub struct FileError {
    /// The offending file.
    pub file: PathBuf,
    /// Line of the problem (from 1; 0 when the problem has no position, e.g. a missing file).
    pub line: usize,
    /// Column of the problem (from 1; 0 when it has no position).
    pub column: usize,
    /// What is wrong, with the key concerned.
    pub message: String,
}

/// `:line:column`, or nothing for an error without a position (line 0).
fn position(line: usize, column: usize) -> String {
    if line == 0 {
        String::new()
    } else {
        format!(":{line}:{column}")
    }
}

impl FileError {
    fn from_profile_error(file: &Path, e: &ProfileError) -> Self {
        let (line, column) = e.location.as_ref().map_or((0, 0), |l| (l.line, l.column));
        FileError {
            file: file.to_path_buf(),
            line,
            column,
            message: e.message.clone(),
        }
    }

    fn from_store_error(file: &Path, e: &StoreError) -> Self {
        // The file is named once, in front: an error that names it too says only what.
        let message = match e {
            StoreError::Profile(pe) => return FileError::from_profile_error(file, pe),
            StoreError::Io { path, source } if path == file => source.to_string(),
            StoreError::Unreadable { path, source } if path == file => {
                format!("cannot use it as a profile: {source}")
            }
            other => other.to_string(),
        };
        FileError {
            file: file.to_path_buf(),
            line: 0,
            column: 0,
            message,
        }
    }
}

/// Whether the profile file `p` loads (read and parsed as a profile), without activating it:
/// what the file watcher reports for edits of profiles that are not active, and what the
/// engine checks of a file whose error it showed when another profile is selected.
pub fn check_profile_file(p: &Path) -> Result<(), FileError> {
    crate::files::read_regular_to_string(p)
        .map_err(|e| StoreError::io(p, e))
        .and_then(|t| Ok(Profile::parse(&t, &p.display().to_string())?))
        .map(drop)
        .map_err(|e| FileError::from_store_error(p, &e))
}

impl ProfileEvent {
    /// The error, if this is one.
    pub fn error(&self) -> Option<&FileError> {
        match self {
            ProfileEvent::Error(e) => Some(e),
            ProfileEvent::Changed { .. }
            | ProfileEvent::AlertsNotify(_)
            | ProfileEvent::Fixed(_) => None,
        }
    }

    /// For an error, where and what: `file:line:column: message`.
    pub fn error_text(&self) -> Option<String> {
        self.error().map(ToString::to_string)
    }
}

/// Where a profile comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProfileSource {
    /// Embedded in the binary (`profiles/*.toml` of the source tree).
    Shipped,
    /// A user profile in the profiles directory.
    User {
        /// The file.
        path: PathBuf,
        /// It replaces a shipped profile of the same name.
        shadows_shipped: bool,
    },
    /// A file named by path (config `profile = "/some/where.toml"`).
    Path(PathBuf),
    /// The built-in defaults, used when the configured profile could not be loaded at
    /// start-up.
    BuiltIn,
}

/// One entry of [`ProfileStore::list`].
#[derive(Debug, Clone, PartialEq)]
pub struct ProfileInfo {
    /// Profile name.
    pub name: String,
    /// Its description (empty if it does not parse).
    pub description: String,
    /// Where it comes from.
    pub source: ProfileSource,
    /// Whether it is the active profile.
    pub active: bool,
    /// Why it cannot be used, if it is invalid (`file:line:col: message`).
    pub error: Option<String>,
}

/// What the store put in force at start-up in place of what the config file selects, because
/// it could not be loaded ([`ProfileStore::fallback`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fallback {
    /// The `default` profile: the config file could not be read.
    Default,
    /// The shipped profile of the configured name: the user's file of that name failed.
    Shipped,
    /// The built-in defaults: the configured profile failed and none of that name is shipped.
    BuiltIn,
}

struct Inner {
    /// Why the config file or the active profile could not be used at start (a fallback is
    /// in force), if so.
    startup_error: Option<String>,
    /// The fallback in force since start-up, until a profile loads as the config file says.
    fallback: Option<Fallback>,
    /// The file of the last error [`Inner::reload_profile`] (or start-up) met in the config
    /// file or the active profile, until a reload succeeds: that reload reports it `Fixed`
    /// when nothing else changed (the file was put back as it was).
    error_file: Option<PathBuf>,
    paths: StorePaths,
    /// Name (or path) the config file selects, as written there.
    active_name: String,
    active_source: ProfileSource,
    active: Arc<Profile>,
    overrides: Overrides,
    effective: Arc<Profile>,
    /// Why the last save of the overrides failed, until one succeeds.
    save_error: Option<String>,
    /// Keys of the overrides that do not fit the active profile and are not in force.
    ignored: std::collections::BTreeSet<String>,
    warnings: Vec<String>,
    /// The config file's `[alerts] notify` as last read (`false` until it reads as `true`).
    alerts_notify: bool,
    /// Why `[alerts] notify` could not be read the last time, logged once until it reads
    /// again.
    alerts_notify_error: Option<String>,
    /// The config file's unknown keys as last read ([`unknown_key_warnings`]), each logged
    /// when it first appears.
    config_warnings: Vec<String>,
    /// What was wrong with the state file when the store opened it (corrupt: moved aside).
    state_file_warning: Option<String>,
}

/// Most warnings [`ProfileStore::take_warnings`] holds between two calls.
pub const MAX_QUEUED_WARNINGS: usize = 64;

/// Profiles, the active one, overrides and hot reload. See the module docs.
#[derive(Clone)]
pub struct ProfileStore {
    inner: Arc<Mutex<Inner>>,
    /// The file watcher of [`ProfileStore::watch`] while it runs, so that
    /// [`ProfileStore::reload`] watches a replaced config or profiles folder again.
    watcher: Arc<Mutex<watch::WatcherSlot>>,
}

impl std::fmt::Debug for ProfileStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let g = self.inner.lock();
        f.debug_struct("ProfileStore")
            .field("paths", &g.paths)
            .field("active", &g.active_name)
            .finish_non_exhaustive()
    }
}

impl Inner {
    /// Saves the overrides to the state file; a failure is logged and kept in `save_error`
    /// (the overrides stay in force all the same).
    fn save_overrides(&mut self) {
        let path = &self.paths.state_file;
        match StateFile::new(path).save(&self.overrides) {
            Ok(()) => self.save_error = None,
            Err(e) => {
                let msg = format!(
                    "cannot save the overrides to {}: {e} (they are in force, but will be \
                     lost when headroomd stops)",
                    path.display()
                );
                tracing::warn!("{msg}");
                self.save_error = Some(msg);
            }
        }
    }

    /// Queues a warning for [`ProfileStore::take_warnings`]: once (the same override skipped
    /// again at every hot reload is queued once) and at most [`MAX_QUEUED_WARNINGS`], the
    /// oldest dropped first, since only some requests drain the queue.
    fn queue_warning(&mut self, w: String) {
        if self.warnings.contains(&w) {
            return;
        }
        if self.warnings.len() >= MAX_QUEUED_WARNINGS {
            self.warnings.remove(0);
        }
        self.warnings.push(w);
    }

    /// Recomputes the effective profile; returns the diff from the previous one.
    fn recompute(&mut self) -> ProfileDiff {
        let (eff, skipped) = self.overrides.apply_to_keyed(&self.active);
        self.ignored = skipped.iter().map(|(k, _)| k.clone()).collect();
        for (_, w) in skipped {
            // Logged here, once, as it is found (the store's users do not log them again).
            tracing::warn!("{w}");
            self.queue_warning(w);
        }
        let diff = self.effective.diff(&eff);
        self.effective = Arc::new(eff);
        diff
    }

    /// Re-reads the config file and the active profile: the profile's event (see
    /// [`Inner::reload_profile`]), then `AlertsNotify` when `[alerts] notify` changed.
    fn reload(&mut self) -> Vec<ProfileEvent> {
        let mut events: Vec<ProfileEvent> = self.reload_profile().into_iter().collect();
        events.extend(self.reload_alerts_notify());
        self.reload_config_warnings();
        events
    }

    /// Re-reads the config file's unknown keys; a warning not met at the last reading is
    /// logged (a typo is logged once, not at every reload).
    fn reload_config_warnings(&mut self) {
        let now = unknown_key_warnings(&self.paths.config_file);
        for w in now.iter().filter(|w| !self.config_warnings.contains(w)) {
            tracing::warn!("{w}");
        }
        self.config_warnings = now;
    }

    /// Re-reads `[alerts] notify`: `Some(on)` when it changed. An invalid value is logged (once
    /// until the file reads again) and changes nothing.
    fn reload_alerts_notify(&mut self) -> Option<ProfileEvent> {
        match read_alerts_notify(&self.paths.config_file) {
            Ok(on) => {
                self.alerts_notify_error = None;
                (on != self.alerts_notify).then(|| {
                    self.alerts_notify = on;
                    ProfileEvent::AlertsNotify(on)
                })
            }
            Err(e) => {
                if self.alerts_notify_error.as_ref() != Some(&e) {
                    tracing::warn!(
                        "{e} (desktop notifications stay {})",
                        if self.alerts_notify { "on" } else { "off" }
                    );
                    self.alerts_notify_error = Some(e);
                }
                None
            }
        }
    }

    /// Re-reads the config file's `profile` and the active profile: `Changed` when the
    /// effective profile changed, `Error` when one of them is invalid, `None` otherwise.
    fn reload_profile(&mut self) -> Option<ProfileEvent> {
        let name = match read_config_located(&self.paths.config_file) {
            Ok(n) => n,
            Err(p) => {
                self.error_file = Some(self.paths.config_file.clone());
                return Some(ProfileEvent::Error(FileError {
                    file: self.paths.config_file.clone(),
                    line: p.line,
                    column: p.column,
                    message: p.message,
                }));
            }
        };
        let (profile, source) = match load_profile(&self.paths, &name) {
            Ok(x) => x,
            Err(e) => {
                let error = load_error(&self.paths, &name, &e);
                self.error_file = Some(error.file.clone());
                return Some(ProfileEvent::Error(error));
            }
        };
        self.active_name = name;
        self.active_source = source;
        self.active = Arc::new(profile);
        self.fallback = None;
        let detail = self.recompute();
        let fixed = self.error_file.take();
        match detail.kind() {
            Some(diff) => Some(ProfileEvent::Changed {
                profile: self.effective.clone(),
                diff,
                detail,
            }),
            // Put back as it was: the same profile, but the error is over.
            None => fixed.map(ProfileEvent::Fixed),
        }
    }
}

/// An error loading profile `name` as a [`FileError`]: about the file
/// [`error_file_of`] names, at the `profile` value when that is the config file.
fn load_error(paths: &StorePaths, name: &str, e: &StoreError) -> FileError {
    let file = error_file_of(paths, name, e);
    let mut error = FileError::from_store_error(&file, e);
    if file == paths.config_file {
        // A name that names no profile: the mistake is the `profile` value.
        (error.line, error.column) = profile_position(&file);
    }
    error
}

/// The file an error loading profile `name` is about: the config file for a name that does
/// not exist (a mistake there), else the profile's file.
fn error_file_of(paths: &StorePaths, name: &str, e: &StoreError) -> PathBuf {
    if matches!(e, StoreError::NotFound { .. }) {
        paths.config_file.clone()
    } else if is_path(name) {
        resolve_path(paths, name)
    } else {
        paths.profiles_dir.join(format!("{name}.toml"))
    }
}

impl ProfileStore {
    /// Opens the store with the standard layout under `config_dir` (e.g.
    /// `~/.config/headroom`) and `state_dir` (e.g. `~/.local/state/headroom`). Never fails:
    /// problems (invalid config, invalid active profile, corrupt state file) fall back to
    /// defaults and are reported by [`ProfileStore::take_warnings`].
    pub fn new(config_dir: impl AsRef<Path>, state_dir: impl AsRef<Path>) -> Self {
        ProfileStore::open(StorePaths::new(config_dir, state_dir))
    }

    /// Opens the store with explicit paths. See [`ProfileStore::new`].
    pub fn open(paths: StorePaths) -> Self {
        let mut warnings = Vec::new();
        let mut startup_error = None;
        let mut error_file = None;
        let mut fallback = None;
        let name = read_config(&paths.config_file).unwrap_or_else(|e| {
            startup_error = Some(e.to_string());
            fallback = Some(Fallback::Default);
            error_file = Some(paths.config_file.clone());
            warnings.push(format!("{e}; using the `{DEFAULT_PROFILE_NAME}` profile"));
            DEFAULT_PROFILE_NAME.into()
        });
        let (active, source) = match load_profile(&paths, &name) {
            Ok(x) => x,
            Err(e) => {
                let located = load_error(&paths, &name, &e);
                startup_error = Some(located.to_string());
                error_file = Some(located.file.clone());
                let e = located;
                // No last good profile yet: fall back to the shipped one of that name, else
                // the built-in defaults.
                let shipped = if is_path(&name) {
                    None
                } else {
                    Profile::shipped(&name).and_then(Result::ok)
                };
                match shipped {
                    Some(p) => {
                        warnings.push(format!("{e}; using the shipped `{name}` profile"));
                        fallback = Some(Fallback::Shipped);
                        (p, ProfileSource::Shipped)
                    }
                    None => {
                        warnings.push(format!("{e}; using the built-in defaults"));
                        fallback = Some(Fallback::BuiltIn);
                        (Profile::default(), ProfileSource::BuiltIn)
                    }
                }
            }
        };
        if paths.profiles_dir.exists() && !paths.profiles_dir.is_dir() {
            warnings.push(format!(
                "{}: not a folder, so no profiles of yours are read from it (user profiles \
                 go in a folder of that name); the shipped profiles are in use",
                paths.profiles_dir.display()
            ));
        }
        let (alerts_notify, alerts_notify_error) = match read_alerts_notify(&paths.config_file) {
            Ok(on) => (on, None),
            Err(e) => {
                warnings.push(notify_warning(&e, false));
                (false, Some(e))
            }
        };
        let config_warnings = unknown_key_warnings(&paths.config_file);
        warnings.extend(config_warnings.iter().cloned());
        let loaded = StateFile::new(&paths.state_file).load();
        warnings.extend(loaded.warning.clone());
        // Logged here, once; the overrides' own warnings are logged by `recompute`.
        for w in &warnings {
            tracing::warn!("{w}");
        }
        let active = Arc::new(active);
        let mut inner = Inner {
            paths,
            active_name: name,
            active_source: source,
            effective: active.clone(),
            active,
            overrides: loaded.overrides,
            save_error: None,
            ignored: Default::default(),
            warnings,
            startup_error,
            fallback,
            error_file,
            alerts_notify,
            alerts_notify_error,
            config_warnings,
            state_file_warning: loaded.warning,
        };
        inner.recompute();
        ProfileStore {
            inner: Arc::new(Mutex::new(inner)),
            watcher: Arc::default(),
        }
    }

    /// Opens the store in the XDG directories ([`StorePaths::from_env`]).
    pub fn from_env() -> Result<Self, StoreError> {
        Ok(ProfileStore::open(StorePaths::from_env()?))
    }

    /// The paths in use.
    pub fn paths(&self) -> StorePaths {
        self.inner.lock().paths.clone()
    }

    /// Why the config file or the active profile could not be used when the store opened
    /// (`file:line:col: message`; a fallback profile is in force), if so.
    pub fn startup_error(&self) -> Option<String> {
        self.inner.lock().startup_error.clone()
    }

    /// What the last reading of the config file found wrong that is no error (start-up, hot
    /// reload, [`reload`](Self::reload)): its unknown keys, ``file:line:col: unknown key
    /// `profle` (did you mean `profile`?); ignored``, in file order, then an `[alerts] notify`
    /// that is not `true` or `false`, with what the notifications do meanwhile. The rest of the
    /// file loads all the same.
    pub fn config_warnings(&self) -> Vec<String> {
        let g = self.inner.lock();
        let mut w = g.config_warnings.clone();
        if let Some(e) = &g.alerts_notify_error {
            w.push(notify_warning(e, g.alerts_notify));
        }
        w
    }

    /// The file [`startup_error`](Self::startup_error) is about (while no reload has
    /// succeeded since).
    pub fn startup_error_file(&self) -> Option<PathBuf> {
        let g = self.inner.lock();
        g.startup_error.as_ref().and(g.error_file.clone())
    }

    /// The file whose error keeps what the config file selects from loading (the config
    /// file, or the profile it names), met at start-up or by the last
    /// [`reload`](Self::reload), until a reload or [`use_profile`](Self::use_profile)
    /// succeeds; `None` when the selection loads. An invalid profile that is not selected
    /// is never this file.
    pub fn error_file(&self) -> Option<PathBuf> {
        self.inner.lock().error_file.clone()
    }

    /// The fallback in force because the config file or the active profile could not be
    /// loaded at start-up, until a profile loads as the config file says (a reload, or
    /// [`use_profile`](Self::use_profile)); `None` when what is in force is what the config
    /// file selects (or its last good version, after a later error).
    pub fn fallback(&self) -> Option<Fallback> {
        self.inner.lock().fallback
    }

    /// What was wrong with the state file when the store was opened (unreadable, or
    /// corrupt and moved aside); `None` when it was fine or missing.
    pub fn state_file_warning(&self) -> Option<String> {
        self.inner.lock().state_file_warning.clone()
    }

    /// Problems met since the last call (start-up fallbacks, skipped overrides), oldest
    /// first. Each has already been logged once when it was found.
    pub fn take_warnings(&self) -> Vec<String> {
        std::mem::take(&mut self.inner.lock().warnings)
    }

    /// The active profile, without overrides.
    pub fn active(&self) -> Arc<Profile> {
        self.inner.lock().active.clone()
    }

    /// The file a profile named by path (a name holding a `/` or ending in `.toml`) is read
    /// from: a relative path against the config file's directory.
    pub fn profile_path(&self, name: &str) -> PathBuf {
        resolve_path(&self.paths(), name)
    }

    /// The name (or path) of the active profile, as the config file gives it.
    pub fn active_name(&self) -> String {
        self.inner.lock().active_name.clone()
    }

    /// Where the active profile was loaded from.
    pub fn active_source(&self) -> ProfileSource {
        self.inner.lock().active_source.clone()
    }

    /// What the daemon runs: the active profile with the overrides applied.
    pub fn effective(&self) -> Arc<Profile> {
        self.inner.lock().effective.clone()
    }

    /// The current overrides.
    pub fn overrides(&self) -> Overrides {
        self.inner.lock().overrides.clone()
    }

    /// Whether an override of `key` is in force: stored, and fitting the active profile (an
    /// override skipped because it does not fit is kept in `state.json` but is not in force).
    pub fn is_overridden(&self, key: &str) -> bool {
        let g = self.inner.lock();
        g.overrides.get(key).is_some() && !g.ignored.contains(key)
    }

    /// Every profile: shipped ones and user ones (a user profile replaces the shipped one of
    /// the same name), sorted by name, each parsed to report its description or error.
    pub fn list(&self) -> Vec<ProfileInfo> {
        let (paths, active_name) = {
            let g = self.inner.lock();
            (g.paths.clone(), g.active_name.clone())
        };
        profile_names(&paths)
            .into_iter()
            .map(|name| {
                let active = name == active_name;
                match load_profile(&paths, &name) {
                    Ok((p, source)) => ProfileInfo {
                        name,
                        description: p.description,
                        source,
                        active,
                        error: None,
                    },
                    Err(e) => {
                        let path = paths.profiles_dir.join(format!("{name}.toml"));
                        ProfileInfo {
                            name,
                            description: String::new(),
                            source: ProfileSource::User {
                                shadows_shipped: shipped_profiles()
                                    .iter()
                                    .any(|(n, _)| path.file_stem().is_some_and(|s| s == *n)),
                                path,
                            },
                            active,
                            error: Some(e.to_string()),
                        }
                    }
                }
            })
            .collect()
    }

    /// Loads and validates a profile by name or path without activating it.
    pub fn load(&self, name_or_path: &str) -> Result<Profile, StoreError> {
        let paths = self.paths();
        load_profile(&paths, name_or_path).map(|(p, _)| p)
    }

    /// Makes `name_or_path` the active profile: validates it, records it in the config file
    /// (atomically) and returns what changed in the effective profile. On error nothing
    /// changes. Overrides stay in force.
    pub fn use_profile(&self, name_or_path: &str) -> Result<ProfileDiff, StoreError> {
        let mut g = self.inner.lock();
        let (profile, source) = load_profile(&g.paths, name_or_path)?;
        write_config(&g.paths.config_file, name_or_path)?;
        // The same keys and `[alerts] notify` (logged already), perhaps a line further down;
        // a valid `notify` that differs is applied by the reload this write sets off.
        g.config_warnings = unknown_key_warnings(&g.paths.config_file);
        g.alerts_notify_error = read_alerts_notify(&g.paths.config_file).err();
        g.active_name = name_or_path.to_owned();
        g.active_source = source;
        g.active = Arc::new(profile);
        g.fallback = None;
        g.error_file = None;
        Ok(g.recompute())
    }

    /// Sets a runtime override, puts it in force and saves it. The value is type- and
    /// range-checked, and the ordering rules are checked with it and every other override
    /// applied to the active profile together; a value that cannot be put in force that way
    /// is an error and changes nothing. Returns what changed. A failed save does not undo
    /// the change: see [`ProfileStore::save_error`].
    pub fn set_override(&self, key: &str, value: SettingValue) -> Result<ProfileDiff, StoreError> {
        let mut g = self.inner.lock();
        let mut eff = (*g.effective).clone();
        eff.set(key, value)?;
        // Store the value as the setting's own type (e.g. "off" → false).
        let normalized = eff.get(key)?;
        if key == "preferred_real_sink" {
            if let SettingValue::String(name) = &normalized {
                if name.starts_with(crate::names::OWN_NODE_PREFIX) {
                    return Err(StoreError::OwnNode {
                        key: key.to_owned(),
                        value: name.clone(),
                    });
                }
            }
        }
        let mut next = g.overrides.clone();
        next.insert(key, normalized);
        // As `recompute` will apply them: an override it would skip is refused here.
        let (_, left_out) = g.active.with_settings(next.iter());
        if let Some((_, e)) = left_out.into_iter().find(|(k, _)| k == key) {
            return Err(StoreError::Profile(e));
        }
        g.overrides = next;
        g.save_overrides();
        Ok(g.recompute())
    }

    /// Removes the override of `key` (no-op if there is none) and saves the change (a failed
    /// save does not undo it: see [`ProfileStore::save_error`]; with none to remove, a save
    /// that failed before is tried again). Unknown keys are an error.
    pub fn reset(&self, key: &str) -> Result<ProfileDiff, StoreError> {
        Profile::key_info(key)?;
        let mut g = self.inner.lock();
        if g.overrides.get(key).is_none() {
            if g.save_error.is_some() {
                g.save_overrides();
            }
            return Ok(ProfileDiff::default());
        }
        g.overrides.remove(key);
        g.save_overrides();
        Ok(g.recompute())
    }

    /// Removes every override and saves the change (a failed save does not undo it: see
    /// [`ProfileStore::save_error`]).
    pub fn reset_all(&self) -> Result<ProfileDiff, StoreError> {
        let mut g = self.inner.lock();
        g.overrides.clear();
        g.save_overrides();
        Ok(g.recompute())
    }

    /// Why the overrides in force could not be saved to the state file the last time they
    /// changed (a full disk, no permission), if so: they stay in force, but a restarted
    /// daemon would not have them. `None` once a save succeeds. Each failure is logged when
    /// it happens.
    pub fn save_error(&self) -> Option<String> {
        self.inner.lock().save_error.clone()
    }

    /// Whether alerts are sent as desktop notifications: the config file's `[alerts] notify`
    /// as last read (when the store opened, or at the last [`ProfileStore::reload`]).
    pub fn alerts_notify(&self) -> bool {
        self.inner.lock().alerts_notify
    }

    /// Re-reads the config file and the active profile now: what the file watcher does on
    /// every change, and `profile.reload` on demand. Returns what changed, in order: `Changed`
    /// if the effective profile changed or `Error` if the config or profile is invalid (the
    /// last good profile stays), then `AlertsNotify` if `[alerts] notify` changed (an invalid
    /// value is logged and changes nothing). Empty when nothing changed.
    ///
    /// With the file watcher running, a config or profiles folder that was replaced (moved
    /// away, deleted and made again, swapped for a new one) is watched again first.
    pub fn reload(&self) -> Vec<ProfileEvent> {
        self.rewatch_folders();
        self.inner.lock().reload()
    }
}

/// The warning for an `[alerts] notify` that is neither `true` nor `false` (`error`, with its
/// file:line:col), saying whether notifications are `on` meanwhile: logged at start-up and
/// listed in `status`'s config warnings.
fn notify_warning(error: &str, on: bool) -> String {
    format!(
        "{error}; desktop notifications are {}",
        if on { "on" } else { "off" }
    )
}
