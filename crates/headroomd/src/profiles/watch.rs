//! Hot reload: [`ProfileStore::watch`] follows the config file and the profiles directory and
//! reports what changed.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Weak};
use std::time::Duration;

use crossbeam_channel::Sender;
use notify_debouncer_mini::notify::{RecommendedWatcher, RecursiveMode};
use notify_debouncer_mini::{new_debouncer, DebounceEventResult, DebouncedEventKind, Debouncer};
use parking_lot::Mutex;

use super::lookup::{source_path, user_profile_files};
use super::{ProfileEvent, ProfileStore, StoreError};

/// Debounce interval of the file watcher: changes are applied this long after the last write
/// to a file settles (well within a second).
pub const WATCH_DEBOUNCE: Duration = Duration::from_millis(200);

impl ProfileStore {
    /// Starts watching the config file's directory and the user profiles directory (both
    /// created if missing; non-recursive, so editors that save by renaming are seen). Every
    /// change is applied within about [`WATCH_DEBOUNCE`] by [`ProfileStore::reload`] — the
    /// same reload as `profile.reload` — and what it reports is sent on `sender`
    /// (`Changed`, `Error`, `AlertsNotify`); an invalid edit of a profile in the profiles
    /// directory that is not the active one is reported as an `Error` too, and its repair
    /// (or removal) as `Fixed`. Watching stops
    /// when the handle is dropped.
    ///
    /// Symlinks are followed: when the config file, a profile in the profiles directory or
    /// the active profile is a symlink (as dotfile managers make), the directory of its
    /// final target is watched too, and a change of the target counts as a change of the
    /// link. These extra watches (and that of the directory of a profile selected by path)
    /// are re-armed after every reload, so they follow the active profile and re-pointed
    /// links; their parents are watched too, so that such a folder replaced (its old one
    /// moved away and a new one made, or deleted and made again) is watched anew and read.
    ///
    /// The folders that hold the config and profiles directories are watched too, so a
    /// directory that is replaced (moved away and a new one moved in, as dotfile managers
    /// do; deleted and made again; swapped for a file) is seen: the new one is watched from
    /// then on, everything is reloaded, and every profile file of the new folder is checked
    /// as if edited (an invalid one reported, the end of an error of one that is gone or
    /// loads). [`ProfileStore::reload`] (`profile.reload`) watches a replaced folder again as
    /// well.
    pub fn watch(&self, sender: Sender<ProfileEvent>) -> Result<WatchHandle, StoreError> {
        let paths = self.paths();
        let config_dir = paths
            .config_file
            .parent()
            .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
        let mut dirs = vec![config_dir, paths.profiles_dir.clone()];
        dirs.dedup();
        for d in &dirs {
            fs::create_dir_all(d).map_err(|e| StoreError::io(d, e))?;
        }
        // Canonical forms, since the watcher reports canonical paths on some systems.
        let canon = |p: &Path| fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
        let config_file = canon(paths.config_file.parent().unwrap_or(Path::new(".")))
            .join(paths.config_file.file_name().unwrap_or_default());
        let profiles_dir = canon(&paths.profiles_dir);
        // Reading a file raises inotify events of its own (IN_OPEN); only paths whose
        // metadata really changed trigger a reload, so reloads never feed themselves.
        let mut seen: HashMap<PathBuf, Option<Fingerprint>> = HashMap::new();
        seen.insert(config_file.clone(), fingerprint(&config_file));
        for (_, p) in user_profile_files(&paths) {
            let p = profiles_dir.join(p.file_name().unwrap_or_default());
            let fp = fingerprint(&p);
            seen.insert(p, fp);
        }
        let base: Vec<PathBuf> = dirs.iter().map(|d| canon(d)).collect();
        let (extra_dirs, mut links) = self.extra_watches(&base, &config_file, &profiles_dir);
        let shared = Arc::new(Mutex::new(Shared {
            debouncer: None,
            folders: Vec::new(),
            fixed: Vec::new(),
            extra: Vec::new(),
        }));
        let weak: Weak<Mutex<Shared>> = Arc::downgrade(&shared);
        let store = self.clone();
        let (config_file_h, profiles_dir_h, base_h) =
            (config_file.clone(), profiles_dir.clone(), base.clone());
        let handler = move |res: DebounceEventResult| match res {
            Ok(events) => {
                let (config_file, profiles_dir) = (&config_file_h, &profiles_dir_h);
                // A config or profiles folder replaced: watch the new one, reload, and
                // check every profile that was or is in it.
                let (replaced, followed_replaced) = store.rewatch_folders();
                let mut relevant = replaced || followed_replaced;
                let mut edited: Vec<PathBuf> = Vec::new();
                if replaced {
                    for (_, p) in user_profile_files(&store.paths()) {
                        let p = profiles_dir.join(p.file_name().unwrap_or_default());
                        seen.insert(p.clone(), fingerprint(&p));
                        edited.push(p);
                    }
                    for p in seen.keys() {
                        let gone_profile = p.extension().is_some_and(|x| x == "toml")
                            && p.parent() == Some(profiles_dir.as_path())
                            && !edited.contains(p);
                        if gone_profile {
                            edited.push(p.clone());
                        }
                    }
                    seen.retain(|p, _| p == config_file || p.exists());
                }
                // A change of a symlink's target is a change of the link(s) too.
                let events = events.into_iter().flat_map(|ev| {
                    let aliases = links.get(&ev.path).cloned().unwrap_or_default();
                    std::iter::once((ev.kind, ev.path))
                        .chain(aliases.into_iter().map(move |a| (ev.kind, a)))
                });
                let events: Vec<(DebouncedEventKind, PathBuf)> = events.collect();
                for (kind, p) in events {
                    // `AnyContinuous` fires while a file is still being written (e.g.
                    // between the truncation and the write of an in-place save); act only
                    // once the path has been quiet for the debounce interval.
                    if kind != DebouncedEventKind::Any {
                        continue;
                    }
                    let is_config = p == *config_file || p == paths.config_file;
                    let is_profile = p.extension().is_some_and(|x| x == "toml")
                        && p.parent()
                            .is_some_and(|d| d == profiles_dir || d == paths.profiles_dir);
                    if !(is_config || is_profile || store.is_active_path(&p)) {
                        continue;
                    }
                    let fp = fingerprint(&p);
                    if seen.get(&p) == Some(&fp) {
                        continue;
                    }
                    seen.insert(p.clone(), fp);
                    relevant = true;
                    if is_profile && !edited.contains(&p) {
                        edited.push(p);
                    }
                }
                if !relevant {
                    return;
                }
                // The same reload as `profile.reload`: the profile, then `[alerts] notify`.
                let mut events = store.reload();
                // Follow the active profile and re-pointed links (before the events go out,
                // so whoever sees them can count on the new watches). A folder watched from
                // now on may have gained its files before its watch was on (a folder made
                // again, then written): read once more then.
                for _ in 0..3 {
                    let (wanted, now) = store.extra_watches(&base_h, config_file, profiles_dir);
                    links = now;
                    let fresh = weak.upgrade().is_some_and(|s| s.lock().arm(wanted));
                    if !fresh {
                        break;
                    }
                    let more = store.reload();
                    if more.is_empty() {
                        break;
                    }
                    events.extend(more);
                }
                let active_file = events
                    .iter()
                    .rev()
                    .find_map(|ev| ev.error().map(|e| e.file.clone()))
                    .or_else(|| store.active_path());
                for ev in events {
                    let _ = sender.send(ev);
                }
                // Report broken edits of profiles that are not active, too, and the end of
                // such an error when the file loads again or is gone.
                for p in edited {
                    let same = active_file.as_ref().is_some_and(|a| canon(a) == canon(&p));
                    if same {
                        continue;
                    }
                    if !p.exists() {
                        let _ = sender.send(ProfileEvent::Fixed(p));
                        continue;
                    }
                    match super::check_profile_file(&p) {
                        Err(e) => {
                            let _ = sender.send(ProfileEvent::Error(e));
                        }
                        Ok(()) => {
                            let _ = sender.send(ProfileEvent::Fixed(p));
                        }
                    }
                }
            }
            Err(e) => tracing::warn!("profile watcher: {e}"),
        };
        let mut debouncer =
            new_debouncer(WATCH_DEBOUNCE, handler).map_err(|e| StoreError::Watch {
                path: dirs[0].clone(),
                message: e.to_string(),
            })?;
        let mut folders = Vec::with_capacity(dirs.len());
        for d in &dirs {
            let id = folder_identity(d);
            debouncer
                .watcher()
                .watch(d, RecursiveMode::NonRecursive)
                .map_err(|e| StoreError::Watch {
                    path: d.clone(),
                    message: e.to_string(),
                })?;
            folders.push(Folder {
                path: d.clone(),
                id,
            });
        }
        // Their parents (what is not watched already), so that a replaced folder is seen.
        let mut parents: Vec<PathBuf> = Vec::new();
        for d in &dirs {
            let Some(parent) = d.parent().filter(|p| !p.as_os_str().is_empty()) else {
                continue;
            };
            if dirs.iter().any(|x| x == parent) || parents.iter().any(|x| x == parent) {
                continue;
            }
            match debouncer
                .watcher()
                .watch(parent, RecursiveMode::NonRecursive)
            {
                Ok(()) => parents.push(parent.to_path_buf()),
                Err(e) => tracing::debug!(
                    "profile watcher: cannot watch {} (a replaced {} would go unseen): {e}",
                    parent.display(),
                    d.display()
                ),
            }
        }
        {
            let mut g = shared.lock();
            g.debouncer = Some(debouncer);
            g.fixed = dirs.iter().chain(&base).cloned().chain(parents).collect();
            g.folders = folders;
            // Read as the store opened; nothing to read again.
            let _ = g.arm(extra_dirs);
        }
        self.watcher.lock().0 = Arc::downgrade(&shared);
        Ok(WatchHandle { _shared: shared })
    }

    /// The directories to watch besides `base` (the config and profiles directories,
    /// canonical): the directory of a profile selected by path, and the directory of the
    /// final target of every symlink among the config file, the profiles and the active
    /// profile. Also returns each such target (canonical) with the links to it, as the
    /// watcher reports them (`config_file` and files of `profiles_dir`, canonical
    /// directories) or as the active profile's path is given.
    fn extra_watches(
        &self,
        base: &[PathBuf],
        config_file: &Path,
        profiles_dir: &Path,
    ) -> (Vec<PathBuf>, HashMap<PathBuf, Vec<PathBuf>>) {
        let mut dirs: Vec<PathBuf> = Vec::new();
        let mut links: HashMap<PathBuf, Vec<PathBuf>> = HashMap::new();
        let add_dir = |d: PathBuf, dirs: &mut Vec<PathBuf>| {
            if !base.contains(&d) && !dirs.contains(&d) {
                dirs.push(d);
            }
        };
        let mut candidates = vec![config_file.to_path_buf()];
        for (_, p) in user_profile_files(&self.paths()) {
            candidates.push(profiles_dir.join(p.file_name().unwrap_or_default()));
        }
        if let Some(active) = self.active_path() {
            // A profile selected by path outside the watched directories.
            if let Some(parent) = active.parent() {
                let parent = fs::canonicalize(parent).unwrap_or_else(|_| parent.to_path_buf());
                add_dir(parent, &mut dirs);
            }
            candidates.push(active);
        }
        for link in candidates {
            let is_link = fs::symlink_metadata(&link).is_ok_and(|m| m.file_type().is_symlink());
            if !is_link {
                continue;
            }
            let Ok(target) = fs::canonicalize(&link) else {
                // Leading nowhere now (its target's folder moved away or deleted): the
                // folder it names is watched for the target to come back.
                if let Some(parent) = dangling_target(&link).as_deref().and_then(Path::parent) {
                    add_dir(parent.to_path_buf(), &mut dirs);
                }
                continue;
            };
            if let Some(parent) = target.parent() {
                add_dir(parent.to_path_buf(), &mut dirs);
            }
            let aliases = links.entry(target).or_default();
            if !aliases.contains(&link) {
                aliases.push(link);
            }
        }
        (dirs, links)
    }

    /// Watches the config and profiles folders, and the folders followed besides them,
    /// again where one was replaced since it was watched ([`Shared::rewatch_folders`]);
    /// whether a config or profiles folder was, and whether a followed one was. Nothing
    /// while no watcher runs.
    pub(crate) fn rewatch_folders(&self) -> (bool, bool) {
        let shared = self.watcher.lock().0.upgrade();
        shared.map_or((false, false), |s| s.lock().rewatch_folders())
    }

    /// The file the active profile was read from (`None` for a shipped profile or the
    /// built-in defaults).
    pub(crate) fn active_path(&self) -> Option<PathBuf> {
        source_path(&self.inner.lock().active_source).map(Path::to_path_buf)
    }

    fn is_active_path(&self, p: &Path) -> bool {
        self.active_path()
            .is_some_and(|a| a == p || fs::canonicalize(&a).is_ok_and(|c| c == p))
    }
}

/// What identifies one version of a file without reading it (reading would raise new
/// watcher events): device, inode, size, modification and change times.
type Fingerprint = (u64, u64, u64, i64, i64, i64, i64);

fn fingerprint(p: &Path) -> Option<Fingerprint> {
    use std::os::unix::fs::MetadataExt;
    let m = fs::metadata(p).ok()?;
    Some((
        m.dev(),
        m.ino(),
        m.size(),
        m.mtime(),
        m.mtime_nsec(),
        m.ctime(),
        m.ctime_nsec(),
    ))
}

/// What identifies a directory (device and inode); `None` when the path is missing or no
/// directory.
fn folder_identity(p: &Path) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    let m = fs::metadata(p).ok()?;
    m.is_dir().then(|| (m.dev(), m.ino()))
}

/// Where a symlink that leads nowhere points: its target as written, read against the
/// link's folder when relative (one level: a chain of links is not followed).
fn dangling_target(link: &Path) -> Option<PathBuf> {
    let to = fs::read_link(link).ok()?;
    if to.is_absolute() {
        return Some(to);
    }
    Some(link.parent()?.join(to))
}

/// A watched directory and the directory its watch is on.
struct Folder {
    path: PathBuf,
    /// [`folder_identity`] of what is watched (`None`: not watched now).
    id: Option<(u64, u64)>,
}

/// The running watcher, as [`ProfileStore`] refers to it (no strong reference: dropping the
/// [`WatchHandle`] still stops it).
#[derive(Default)]
pub(crate) struct WatcherSlot(Weak<Mutex<Shared>>);

/// The watcher and the directories it watches (the config and profiles directories, and
/// those besides them), shared by [`WatchHandle`], the event handler (which re-arms them)
/// and the store ([`ProfileStore::reload`]).
pub(crate) struct Shared {
    debouncer: Option<Debouncer<RecommendedWatcher>>,
    /// The config and profiles directories.
    folders: Vec<Folder>,
    /// Those and their parents: watched for as long as the watcher runs.
    fixed: Vec<PathBuf>,
    /// The folders followed besides them ([`ProfileStore::extra_watches`]) and their
    /// parents, so that one replaced (moved away, deleted and made again) is seen.
    extra: Vec<Folder>,
}

impl Shared {
    /// Watches each config or profiles directory, and each folder followed besides them,
    /// whose path now holds another directory than the one watched (or none) again: an
    /// inotify watch follows the directory it was put on, which a replaced one no longer is.
    /// Returns whether a config or profiles directory was replaced, and whether a followed
    /// folder was.
    fn rewatch_folders(&mut self) -> (bool, bool) {
        let Some(d) = self.debouncer.as_mut() else {
            return (false, false);
        };
        let mut followed = false;
        for f in &mut self.extra {
            let now = folder_identity(&f.path);
            if now != f.id {
                followed = true;
                rewatch(d, f, now);
            }
        }
        let mut replaced = false;
        for f in &mut self.folders {
            let now = folder_identity(&f.path);
            if now == f.id {
                continue;
            }
            replaced = true;
            rewatch(d, f, now);
            if now.is_none() {
                tracing::warn!(
                    "profile watcher: {} is gone or no folder; watching for it to come back",
                    f.path.display()
                );
            } else if f.id.is_some() {
                tracing::info!(
                    "profile watcher: {} was replaced; watching the new folder",
                    f.path.display()
                );
            }
        }
        (replaced, followed)
    }

    /// Watches `wanted` (besides the config and profiles directories) and the parent of
    /// each, and stops watching the folders no longer wanted. A folder whose path holds
    /// another directory than the one watched is watched again; one that is missing is
    /// watched once it is there (its parent's events say when). A folder that cannot be
    /// watched is logged. Returns whether a folder is watched now that was not (a new one,
    /// or one that came back or was replaced): what it holds may have changed unseen.
    fn arm(&mut self, wanted: Vec<PathBuf>) -> bool {
        let Some(d) = self.debouncer.as_mut() else {
            return false;
        };
        let mut fresh = false;
        // A folder watched for good under another name is left to that watch: one inotify
        // watch per directory, which unwatching the other name would end.
        let fixed_ids: Vec<(u64, u64)> = self
            .fixed
            .iter()
            .filter_map(|p| folder_identity(p))
            .collect();
        let mut want: Vec<PathBuf> = Vec::new();
        for dir in wanted {
            let parent = dir
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .map(Path::to_path_buf);
            for p in std::iter::once(dir).chain(parent) {
                let fixed = self.fixed.contains(&p)
                    || folder_identity(&p).is_some_and(|id| fixed_ids.contains(&id));
                if !fixed && !want.contains(&p) {
                    want.push(p);
                }
            }
        }
        let mut armed = Vec::with_capacity(want.len());
        for mut f in std::mem::take(&mut self.extra) {
            if !want.contains(&f.path) {
                if f.id.is_some() {
                    let _ = d.watcher().unwatch(&f.path);
                }
                continue;
            }
            let now = folder_identity(&f.path);
            if now != f.id {
                rewatch(d, &mut f, now);
                fresh |= f.id.is_some();
            }
            armed.push(f);
        }
        for path in want {
            if armed.iter().any(|f| f.path == path) {
                continue;
            }
            let mut f = Folder { path, id: None };
            let now = folder_identity(&f.path);
            rewatch(d, &mut f, now);
            fresh |= f.id.is_some();
            armed.push(f);
        }
        self.extra = armed;
        fresh
    }
}

/// Points `f`'s watch at the directory its path holds now (`now`, its [`folder_identity`]):
/// the old watch dropped (moved away, it would report the old directory under this name;
/// deleted, the kernel has dropped it already), a new one put on (none while the path holds
/// no directory; one that cannot be put on is logged and leaves `f` unwatched).
fn rewatch(d: &mut Debouncer<RecommendedWatcher>, f: &mut Folder, now: Option<(u64, u64)>) {
    if f.id.take().is_some() {
        let _ = d.watcher().unwatch(&f.path);
    }
    if now.is_none() {
        return;
    }
    match d.watcher().watch(&f.path, RecursiveMode::NonRecursive) {
        Ok(()) => f.id = now,
        Err(e) => tracing::warn!("profile watcher: cannot watch {}: {e}", f.path.display()),
    }
}

/// Keeps the file watcher of [`ProfileStore::watch`] running; dropping it stops watching.
pub struct WatchHandle {
    _shared: Arc<Mutex<Shared>>,
}

impl std::fmt::Debug for WatchHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WatchHandle")
    }
}
