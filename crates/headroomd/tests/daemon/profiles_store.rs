//! The profile store: selection, overrides and their persistence, hot reload with a real
//! file watcher.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crossbeam_channel::Receiver;
use headroom_profile::{ChangeKind, Profile, SettingValue};
use headroomd::profiles::{
    Fallback, ProfileEvent, ProfileSource, ProfileStore, StoreError, WatchHandle,
};
use headroomd::state_file::StateFile;

/// Changes must be picked up within this long.
const PICKUP: Duration = Duration::from_secs(1);

struct Dirs {
    _tmp: tempfile::TempDir,
    config: PathBuf,
    state: PathBuf,
}

impl Dirs {
    fn new() -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let config = tmp.path().join("config/headroom");
        let state = tmp.path().join("state/headroom");
        fs::create_dir_all(config.join("profiles")).unwrap();
        Dirs {
            _tmp: tmp,
            config,
            state,
        }
    }

    fn profile(&self, name: &str) -> PathBuf {
        self.config.join("profiles").join(format!("{name}.toml"))
    }

    fn store(&self) -> ProfileStore {
        ProfileStore::new(&self.config, &self.state)
    }

    /// A `dotfiles` folder beside the config with `mine.toml` (target −16) in it, and the
    /// profile `mine` a symlink to it (as dotfile managers make): the folder and the target.
    fn mine_in_dotfiles(&self) -> (PathBuf, PathBuf) {
        let dotfiles = self._tmp.path().join("dotfiles");
        fs::create_dir_all(&dotfiles).unwrap();
        let target = dotfiles.join("mine.toml");
        fs::write(&target, mine(-16.0)).unwrap();
        std::os::unix::fs::symlink(&target, self.profile("mine")).unwrap();
        (dotfiles, target)
    }

    fn write_config(&self, text: &str) {
        fs::write(self.config.join("config.toml"), text).unwrap();
    }

    /// Directories with the user's profile `mine` (target −16) active, and its store.
    fn mine_active() -> (Dirs, ProfileStore) {
        let d = Dirs::new();
        fs::write(d.profile("mine"), mine(-16.0)).unwrap();
        d.write_config("profile = \"mine\"\n");
        let s = d.store();
        (d, s)
    }
}

/// `s` watched: the handle (watching while it lives) and its events.
fn watched(s: &ProfileStore) -> (WatchHandle, Receiver<ProfileEvent>) {
    let (tx, rx) = crossbeam_channel::unbounded();
    (s.watch(tx).unwrap(), rx)
}

/// A `ProfileEvent::Error`'s file, line, column and message (panics on any other event).
fn error_parts(ev: ProfileEvent) -> (PathBuf, usize, usize, String) {
    let e = ev
        .error()
        .cloned()
        .unwrap_or_else(|| panic!("not an error: {ev:?}"));
    (e.file, e.line, e.column, e.message)
}

/// The one event of a reload (panics on none or more).
fn only(events: Vec<ProfileEvent>) -> ProfileEvent {
    let [ev]: [ProfileEvent; 1] = events
        .try_into()
        .unwrap_or_else(|e| panic!("not one event: {e:?}"));
    ev
}

/// The next error reported within [`PICKUP`], as [`error_parts`].
fn next_error(rx: &Receiver<ProfileEvent>, what: &str) -> (PathBuf, usize, usize, String) {
    let ev = wait_for(rx, PICKUP, |e| matches!(e, ProfileEvent::Error(_)))
        .unwrap_or_else(|| panic!("{what}: no error reported within {PICKUP:?}"));
    error_parts(ev)
}

fn mine(target: f32) -> String {
    format!("description = \"mine\"\n[agc]\ntarget_lufs = {target:.1}\n")
}

/// The first event matching `pred` within `timeout`, skipping others.
fn wait_for(
    rx: &Receiver<ProfileEvent>,
    timeout: Duration,
    pred: impl Fn(&ProfileEvent) -> bool,
) -> Option<ProfileEvent> {
    let deadline = Instant::now() + timeout;
    loop {
        let left = deadline.checked_duration_since(Instant::now())?;
        match rx.recv_timeout(left) {
            Ok(ev) if pred(&ev) => return Some(ev),
            Ok(_) => continue,
            Err(_) => return None,
        }
    }
}

fn changed_target(ev: &ProfileEvent) -> Option<f32> {
    match ev {
        ProfileEvent::Changed { profile, .. } => Some(profile.chain.agc.target_lufs),
        ProfileEvent::Error(_) | ProfileEvent::AlertsNotify(_) | ProfileEvent::Fixed(_) => None,
    }
}

fn write_via_rename(path: &Path, text: &str) {
    let tmp = path.with_extension("toml.tmp~");
    fs::write(&tmp, text).unwrap();
    fs::rename(&tmp, path).unwrap();
}

#[test]
fn fresh_store_uses_default_profile() {
    let d = Dirs::new();
    let s = d.store();
    assert!(s.take_warnings().is_empty());
    assert_eq!(s.active_name(), "default");
    assert_eq!(s.active_source(), ProfileSource::Shipped);
    assert_eq!(*s.active(), Profile::default());
    assert_eq!(*s.effective(), Profile::default());
    assert!(s.overrides().is_empty());
}

#[test]
fn use_profile_writes_config_atomically_and_survives_restart() {
    let d = Dirs::new();
    let s = d.store();
    let diff = s.use_profile("night").unwrap();
    assert_eq!(diff.kind(), Some(ChangeKind::ParamsOnly));
    assert_eq!(s.active().name, "night");
    assert_eq!(s.effective().chain.agc.target_lufs, -20.0);
    let cfg = fs::read_to_string(d.config.join("config.toml")).unwrap();
    assert!(cfg.contains("profile = \"night\""), "{cfg}");
    // No temporary files are left next to it.
    let leftovers: Vec<_> = fs::read_dir(&d.config)
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().contains(".tmp"))
        .collect();
    assert!(leftovers.is_empty());
    let again = d.store();
    assert_eq!(again.active_name(), "night");
    assert_eq!(*again.active(), *s.active());

    // Unknown names are rejected and change nothing.
    match s.use_profile("nigth") {
        Err(StoreError::NotFound { name, available }) => {
            assert_eq!(name, "nigth");
            assert!(available.contains(&"night".to_string()));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(s.active().name, "night");
}

#[test]
fn config_keeps_other_keys_when_profile_changes() {
    let d = Dirs::new();
    fs::write(
        d.config.join("config.toml"),
        "profile = \"music\"\nlog_level = \"debug\"\n",
    )
    .unwrap();
    let s = d.store();
    assert_eq!(s.active_name(), "music");
    s.use_profile("speech").unwrap();
    let cfg = fs::read_to_string(d.config.join("config.toml")).unwrap();
    assert!(cfg.contains("log_level = \"debug\""), "{cfg}");
    assert!(cfg.contains("profile = \"speech\""), "{cfg}");
}

#[test]
fn user_profiles_override_shipped_and_are_listed() {
    let d = Dirs::new();
    fs::write(d.profile("night"), mine(-30.0)).unwrap();
    fs::write(d.profile("custom"), mine(-14.0)).unwrap();
    fs::write(d.profile("broken"), "[agc]\ntarget_lufs = \"x\"\n").unwrap();
    // A name no command line could give back (and that would break a list of one name per
    // line) is no profile.
    fs::write(d.profile("two\nlines"), mine(-14.0)).unwrap();
    fs::write(d.profile("tab\there"), mine(-14.0)).unwrap();
    let s = d.store();
    let list = s.list();
    let names: Vec<&str> = list.iter().map(|i| i.name.as_str()).collect();
    assert_eq!(
        names,
        ["broken", "custom", "default", "music", "night", "speech"]
    );
    let night = list.iter().find(|i| i.name == "night").unwrap();
    assert!(matches!(
        night.source,
        ProfileSource::User {
            shadows_shipped: true,
            ..
        }
    ));
    assert_eq!(night.description, "mine");
    let broken = list.iter().find(|i| i.name == "broken").unwrap();
    let err = broken.error.as_deref().unwrap();
    assert!(
        err.ends_with("broken.toml:2:15: agc.target_lufs must be a number, found a string"),
        "{err}"
    );
    assert!(list.iter().find(|i| i.name == "default").unwrap().active);

    s.use_profile("night").unwrap();
    assert_eq!(s.effective().chain.agc.target_lufs, -30.0);
    match s.use_profile("broken") {
        Err(StoreError::Profile(e)) => assert_eq!(e.location.unwrap().line, 2),
        other => panic!("{other:?}"),
    }
    assert_eq!(s.active().name, "night");
    // By path, too.
    let p = d.profile("custom");
    s.use_profile(p.to_str().unwrap()).unwrap();
    assert_eq!(s.effective().chain.agc.target_lufs, -14.0);
    assert_eq!(s.active_source(), ProfileSource::Path(p));
}

/// A profile named by a relative path is read against the config directory, where
/// `profile = "…"` is written, whatever the daemon's working directory: it was read against
/// that, so the same name meant another file after a restart from elsewhere.
#[test]
fn a_relative_profile_path_is_read_against_the_config_directory() {
    let d = Dirs::new();
    fs::write(d.config.join("mine.toml"), mine(-13.0)).unwrap();
    fs::write(d.profile("sub"), mine(-21.0)).unwrap();
    let s = d.store();
    s.use_profile("./mine.toml").unwrap();
    assert_eq!(s.effective().chain.agc.target_lufs, -13.0);
    assert_eq!(
        s.active_source(),
        ProfileSource::Path(d.config.join("./mine.toml"))
    );
    s.use_profile("profiles/sub.toml").unwrap();
    assert_eq!(s.effective().chain.agc.target_lufs, -21.0);
    assert_eq!(s.profile_path("x/y.toml"), d.config.join("x/y.toml"));
    assert_eq!(s.profile_path("/abs/y.toml"), PathBuf::from("/abs/y.toml"));
    // A restart reads the same file.
    drop(s);
    let t = d.store();
    assert_eq!(t.effective().chain.agc.target_lufs, -21.0);
    match t.use_profile("./absent.toml") {
        Err(StoreError::NoFile { path, .. }) => assert_eq!(path, d.config.join("./absent.toml")),
        other => panic!("{other:?}"),
    }
}

/// The profiles folder is a file (`headroom profile show night > ~/.config/headroom/profiles`
/// is an easy slip): the shipped profiles stay usable and listed as shipped, with one warning
/// (every shipped profile was listed as a broken user file and none could be used).
#[test]
fn a_profiles_folder_that_is_a_file_leaves_the_shipped_profiles_usable() {
    let d = Dirs::new();
    fs::remove_dir(d.config.join("profiles")).unwrap();
    fs::write(d.config.join("profiles"), mine(-30.0)).unwrap();
    let s = d.store();
    let warnings = s.take_warnings().join("\n");
    assert!(warnings.contains("not a folder"), "{warnings}");
    s.use_profile("night").unwrap();
    assert_eq!(s.active_source(), ProfileSource::Shipped);
    for info in s.list() {
        assert!(info.error.is_none(), "{info:?}");
        assert_eq!(info.source, ProfileSource::Shipped, "{info:?}");
    }
}

#[test]
fn invalid_active_profile_at_startup_falls_back_with_warning() {
    let d = Dirs::new();
    d.write_config("profile = \"mine\"\n");
    fs::write(d.profile("mine"), "[agc]\ntarget_lufs = 3\n").unwrap();
    let s = d.store();
    let w = s.take_warnings();
    assert_eq!(w.len(), 1, "{w:?}");
    assert!(w[0].contains("mine.toml:2:15"), "{w:?}");
    // Kept for `status` (the warning is logged once).
    let e = s.startup_error().expect("startup error kept");
    assert!(e.contains("mine.toml:2:15"), "{e}");
    assert_eq!(s.active_source(), ProfileSource::BuiltIn);
    assert_eq!(s.fallback(), Some(Fallback::BuiltIn));
    assert_eq!(*s.effective(), Profile::default());
    // Still broken on a reload: the fallback stays in force; repaired, it is over.
    fs::write(d.profile("mine"), "[agc]\ntarget_lufs = 4\n").unwrap();
    s.reload();
    assert_eq!(s.fallback(), Some(Fallback::BuiltIn));
    fs::write(d.profile("mine"), "[agc]\ntarget_lufs = -20\n").unwrap();
    s.reload();
    assert_eq!(s.fallback(), None);

    // A broken user copy of a shipped profile falls back to the shipped one.
    d.write_config("profile = \"night\"\n");
    fs::write(d.profile("night"), "garbage").unwrap();
    let s = d.store();
    assert_eq!(s.take_warnings().len(), 1);
    assert_eq!(s.active_source(), ProfileSource::Shipped);
    assert_eq!(s.fallback(), Some(Fallback::Shipped));
    assert_eq!(s.effective().chain.agc.target_lufs, -20.0);
    // Another profile put in use ends the fallback.
    s.use_profile("music").unwrap();
    assert_eq!(s.fallback(), None);

    // A broken config file falls back to `default`.
    d.write_config("profile = \n");
    let s = d.store();
    let w = s.take_warnings();
    assert!(w[0].contains("config.toml:1:11"), "{w:?}");
    assert!(s.startup_error().unwrap().contains("config.toml:1:11"));
    assert_eq!(s.active_name(), "default");
    assert_eq!(s.fallback(), Some(Fallback::Default));
    // Choosing a profile cannot rewrite it; the error points where `status` does (it
    // named the TOML error without its line:col).
    let e = s.use_profile("music").unwrap_err().to_string();
    assert!(
        e.contains("config.toml:1:11: cannot update it, it is not valid TOML"),
        "{e}"
    );
    assert_eq!(s.active_name(), "default", "nothing changed");
    // A good start has none.
    d.write_config("profile = \"music\"\n");
    assert_eq!(d.store().startup_error(), None);
    assert_eq!(d.store().fallback(), None);
}

#[test]
fn overrides_persist_across_stores_and_reset() {
    let d = Dirs::new();
    let s = d.store();
    let diff = s
        .set_override("agc.target_lufs", SettingValue::Number(-18.0))
        .unwrap();
    assert_eq!(diff.kind(), Some(ChangeKind::ParamsOnly));
    s.set_override("layer_a.enabled", SettingValue::String("off".into()))
        .unwrap();
    s.set_override("limiter.lookahead_ms", SettingValue::Number(1.0))
        .unwrap();
    assert_eq!(s.active().chain.agc.target_lufs, -16.0);
    assert_eq!(s.effective().chain.agc.target_lufs, -18.0);
    assert!(!s.effective().layer_a.enabled);

    let t = d.store();
    assert!(t.take_warnings().is_empty());
    assert_eq!(t.effective().chain.agc.target_lufs, -18.0);
    assert!(!t.effective().layer_a.enabled);
    assert_eq!(
        t.overrides().get("layer_a.enabled"),
        Some(&SettingValue::Bool(false))
    );

    // Overrides stay in force when the profile changes.
    t.use_profile("music").unwrap();
    assert_eq!(t.effective().chain.agc.target_lufs, -18.0);
    assert_eq!(t.effective().chain.compressor.ratio, 1.5);

    // Invalid values are rejected and not stored.
    assert!(t
        .set_override("compressor.attack_ms", SettingValue::Number(-3.0))
        .is_err());
    assert!(t
        .set_override("agc.targte_lufs", SettingValue::Number(-3.0))
        .is_err());
    assert_eq!(t.overrides().len(), 3);

    let diff = t.reset("limiter.lookahead_ms").unwrap();
    assert_eq!(diff.kind(), Some(ChangeKind::Rebuild));
    assert!(t.reset("limiter.lookahead_ms").unwrap().is_empty());
    assert!(t.reset("no.such.key").is_err());
    assert_eq!(d.store().overrides().len(), 2);
    t.reset_all().unwrap();
    assert!(t.effective().layer_a.enabled);
    assert_eq!(*t.effective(), *t.active());
    let u = d.store();
    assert!(u.overrides().is_empty());
    assert_eq!(*u.effective(), *u.active());
}

#[test]
fn overrides_are_checked_together_not_one_by_one_against_the_profile() {
    let d = Dirs::new();
    let s = d.store();
    s.set_override("agc.target_lufs", SettingValue::Number(-5.0))
        .unwrap();
    // Below the target in force (-5), above the profile's (-16): it applies, and stays after
    // a restart.
    s.set_override("agc.silence_gate_lufs", SettingValue::Number(-10.0))
        .unwrap();
    assert_eq!(s.effective().chain.agc.silence_gate_lufs, -10.0);
    assert!(s.is_overridden("agc.silence_gate_lufs"));
    assert!(s.take_warnings().is_empty());
    let t = d.store();
    assert!(t.take_warnings().is_empty());
    assert_eq!(t.effective().chain.agc.silence_gate_lufs, -10.0);
    assert_eq!(t.effective().chain.agc.target_lufs, -5.0);

    // Resetting the target would leave the gate above the profile's: the gate goes out of
    // force (kept, reported), and comes back with a target it fits.
    t.reset("agc.target_lufs").unwrap();
    assert!(!t.is_overridden("agc.silence_gate_lufs"));
    assert_eq!(t.take_warnings().len(), 1);
    // A set the store could not put in force is an error and is not stored.
    match t.set_override("agc.silence_gate_lufs", SettingValue::Number(-12.0)) {
        Err(StoreError::Profile(e)) => {
            assert!(e.message.contains("must be below agc.target_lufs"), "{e}")
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        t.overrides().get("agc.silence_gate_lufs"),
        Some(&SettingValue::Number(-10.0))
    );
    t.set_override("agc.target_lufs", SettingValue::Number(-8.0))
        .unwrap();
    assert!(t.is_overridden("agc.silence_gate_lufs"));
    assert_eq!(t.effective().chain.agc.silence_gate_lufs, -10.0);
}

#[test]
fn use_profile_writes_through_a_symlinked_config_file() {
    let d = Dirs::new();
    let dotfile = d.config.parent().unwrap().join("dotfiles-config.toml");
    fs::write(&dotfile, "# mine\nprofile = \"default\"\n").unwrap();
    let link = d.config.join("config.toml");
    std::os::unix::fs::symlink(&dotfile, &link).unwrap();
    let s = d.store();
    s.use_profile("night").unwrap();
    assert!(fs::symlink_metadata(&link)
        .unwrap()
        .file_type()
        .is_symlink());
    assert_eq!(
        fs::read_to_string(&dotfile).unwrap(),
        "# mine\nprofile = \"night\"\n"
    );
    assert_eq!(d.store().active_name(), "night");
}

/// A config file that is a dangling link into a folder that does not exist: `profile use`
/// made the folder (`/nonexistent`) and wrote the file there, saying nothing. It is refused
/// now, naming the link's target, and nothing is made or changed.
#[test]
fn use_profile_through_a_link_into_a_missing_folder_is_refused() {
    let d = Dirs::new();
    let nowhere = d.config.parent().unwrap().join("gone/dotfiles/config.toml");
    let link = d.config.join("config.toml");
    std::os::unix::fs::symlink(&nowhere, &link).unwrap();
    let s = d.store();
    let e = s.use_profile("night").unwrap_err().to_string();
    assert!(e.contains("config.toml"), "{e}");
    assert!(
        e.contains("whose folder") && e.contains("gone/dotfiles"),
        "{e}"
    );
    assert!(
        !d.config.parent().unwrap().join("gone").exists(),
        "the folder was made"
    );
    assert_ne!(s.active_name(), "night");
}

#[test]
fn a_change_that_cannot_be_saved_is_in_force_all_the_same() {
    let d = Dirs::new();
    // The state directory cannot be created: a file is in its place.
    fs::create_dir_all(d.state.parent().unwrap()).unwrap();
    fs::write(&d.state, "not a directory").unwrap();
    let s = d.store();
    assert_eq!(s.save_error(), None);
    s.set_override("bypass", SettingValue::Bool(true)).unwrap();
    assert!(s.effective().chain.bypass);
    let e = s.save_error().expect("the failed save is reported");
    assert!(e.contains("state.json"), "{e}");
    s.reset("bypass").unwrap();
    assert!(!s.effective().chain.bypass);
    s.set_override("agc.target_lufs", SettingValue::Number(-20.0))
        .unwrap();
    s.reset_all().unwrap();
    assert_eq!(*s.effective(), *s.active());
    assert!(s.save_error().is_some());
    // Once the state can be saved again, the error is over.
    fs::remove_file(&d.state).unwrap();
    s.set_override("bypass", SettingValue::Bool(true)).unwrap();
    assert_eq!(s.save_error(), None);
    assert!(d.store().effective().chain.bypass);
}

#[test]
fn the_daemons_own_sink_is_no_preferred_real_sink() {
    let d = Dirs::new();
    let s = d.store();
    for own in ["headroom-processed", "headroom-output"] {
        match s.set_override("preferred_real_sink", SettingValue::String(own.into())) {
            Err(e @ StoreError::OwnNode { .. }) => {
                assert!(e.to_string().contains(own), "{e}")
            }
            other => panic!("{other:?}"),
        }
    }
    assert!(s.overrides().is_empty());
    s.set_override(
        "preferred_real_sink",
        SettingValue::String("alsa_output.usb".into()),
    )
    .unwrap();
    assert_eq!(
        s.effective().preferred_real_sink.as_deref(),
        Some("alsa_output.usb")
    );
}

/// The state files moved aside in `dir` (`state.json.corrupt-…`).
fn state_backups(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    fs::read_dir(dir)
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with("state.json.corrupt-")
        })
        .map(|e| e.path())
        .collect()
}

#[test]
fn corrupt_state_file_is_backed_up_and_ignored() {
    for garbage in [
        &b"{\"version\": 1, \"overrides\": {\"agc.target_l"[..],
        b"",
        b"\xff\xfe not json",
        b"{\"version\": 99, \"overrides\": {}}",
    ] {
        let d = Dirs::new();
        fs::create_dir_all(&d.state).unwrap();
        let state = d.state.join("state.json");
        fs::write(&state, garbage).unwrap();
        let s = d.store();
        let w = s.take_warnings();
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(w[0].contains("corrupt"), "{w:?}");
        assert!(s.overrides().is_empty());
        assert_eq!(*s.effective(), Profile::default());
        let backups = state_backups(&d.state);
        assert_eq!(backups.len(), 1);
        assert_eq!(fs::read(&backups[0]).unwrap(), garbage);
        assert!(!state.exists());
        // The store keeps working and writes a fresh file.
        s.set_override("bypass", SettingValue::Bool(true)).unwrap();
        assert!(d.store().effective().chain.bypass);
    }
}

#[test]
fn an_override_that_is_no_setting_value_costs_only_itself() {
    // One `null`, a list and a number too large for a double: each was enough to move the
    // whole file aside and start with no overrides at all.
    let d = Dirs::new();
    fs::create_dir_all(&d.state).unwrap();
    let state = d.state.join("state.json");
    let long = format!("[{}1]", "1, ".repeat(10_000));
    let text = format!(
        r#"{{"version": 1, "overrides": {{"agc.target_lufs": -18, "bypass": null,
        "agc.window_s": 1e999, "limiter.ceiling_dbtp": [1], "route.default": "bypass",
        "agc.max_boost_db": {long}}}}}"#
    );
    let text = text.as_bytes();
    fs::write(&state, text).unwrap();
    let s = d.store();
    let w = s.take_warnings();
    assert_eq!(w.len(), 1, "{w:?}");
    for key in [
        "bypass = null",
        "agc.window_s = 1e999",
        "limiter.ceiling_dbtp = [1]",
    ] {
        assert!(w[0].contains(key), "{key} not named: {w:?}");
    }
    // A value of 30 kB is named by its start only.
    assert!(w[0].contains("agc.max_boost_db = [1, 1, "), "{w:?}");
    assert!(w[0].len() < 1_000, "{} bytes of warning", w[0].len());
    assert_eq!(s.effective().chain.agc.target_lufs, -18.0);
    assert_eq!(
        s.overrides().get("route.default"),
        Some(&SettingValue::String("bypass".into()))
    );
    assert_eq!(s.overrides().len(), 2);
    // The file as it was is kept aside; the overrides that were read are saved.
    let backups = state_backups(&d.state);
    assert_eq!(backups.len(), 1);
    assert_eq!(fs::read(&backups[0]).unwrap(), text);
    let again = StateFile::new(&state).load();
    assert!(again.warning.is_none(), "{:?}", again.warning);
    assert_eq!(again.overrides, s.overrides());
}

#[test]
fn state_file_round_trip_and_second_backup_gets_a_new_name() {
    let d = Dirs::new();
    let f = StateFile::in_dir(&d.state);
    let mut o = headroomd::state_file::Overrides::new();
    o.insert("agc.target_lufs", SettingValue::Number(-18.5));
    o.insert("route.default", SettingValue::String("bypass".into()));
    f.save(&o).unwrap();
    let loaded = f.load();
    assert_eq!(loaded.overrides, o);
    assert!(loaded.warning.is_none());
    fs::write(f.path(), "{").unwrap();
    let b1 = f.load().backup.unwrap();
    fs::write(f.path(), "}").unwrap();
    let b2 = f.load().backup.unwrap();
    assert_ne!(b1, b2);
    assert_eq!(fs::read_to_string(b1).unwrap(), "{");
    assert_eq!(fs::read_to_string(b2).unwrap(), "}");
}

#[test]
fn an_override_left_out_at_every_reload_is_queued_once() {
    // A silence gate at -30 fits a target of -16 but not one of -35: every hot reload of
    // the profile leaves it out again. The warning was queued each time and only
    // `profile use` drains the queue: it grew for as long as the daemon ran.
    let (d, s) = Dirs::mine_active();
    s.set_override("agc.silence_gate_lufs", SettingValue::Number(-30.0))
        .unwrap();
    let _ = s.take_warnings();
    fs::write(d.profile("mine"), mine(-35.0)).unwrap();
    for k in 0..200 {
        // Alternate two bodies, so every reload changes something.
        let body = format!("{}# {k}\n", mine(-35.0));
        fs::write(d.profile("mine"), body).unwrap();
        let _ = s.reload();
    }
    let w = s.take_warnings();
    assert_eq!(w.len(), 1, "{w:?}");
    assert!(w[0].contains("agc.silence_gate_lufs"), "{w:?}");
}

#[test]
fn reload_on_demand() {
    let (d, s) = Dirs::mine_active();
    assert!(s.reload().is_empty());
    fs::write(d.profile("mine"), mine(-22.0)).unwrap();
    let ev = only(s.reload());
    assert_eq!(changed_target(&ev), Some(-22.0));
    fs::write(d.profile("mine"), "[agc]\nattack = 1\n").unwrap();
    assert_eq!(
        error_parts(only(s.reload())),
        (
            d.profile("mine"),
            2,
            1,
            "unknown key `attack` in [agc]".to_string()
        )
    );
    assert_eq!(s.effective().chain.agc.target_lufs, -22.0);
}

/// `[alerts] notify` is part of a reload, on demand as on a file change: reported once when
/// it changes, not again while it stays; an invalid value changes nothing.
#[test]
fn reload_reports_alerts_notify_changes() {
    let (d, s) = Dirs::mine_active();
    assert!(!s.alerts_notify());
    d.write_config("profile = \"mine\"\n[alerts]\nnotify = true\n");
    assert!(matches!(
        s.reload().as_slice(),
        [ProfileEvent::AlertsNotify(true)]
    ));
    assert!(s.alerts_notify());
    assert!(s.reload().is_empty(), "reported again");
    d.write_config("profile = \"mine\"\n[alerts]\nnotify = 1\n");
    assert!(s.reload().is_empty());
    assert!(s.alerts_notify());
    // The profile's change and the switch in one reload, the profile first.
    fs::write(d.profile("mine"), mine(-22.0)).unwrap();
    d.write_config("profile = \"mine\"\n[alerts]\nnotify = false\n");
    let events = s.reload();
    assert!(
        matches!(
            events.as_slice(),
            [
                ProfileEvent::Changed { .. },
                ProfileEvent::AlertsNotify(false)
            ]
        ),
        "{events:?}"
    );
    // A store opened over a config that turns them on starts with them on.
    d.write_config("[alerts]\nnotify = true\n");
    assert!(d.store().alerts_notify());
}

#[test]
fn hot_reload_with_a_real_watcher() {
    let (d, s) = Dirs::mine_active();
    let (_watch, rx) = watched(&s);

    // 1. In-place edit of the target.
    let t0 = Instant::now();
    fs::write(d.profile("mine"), mine(-20.0)).unwrap();
    let ev = wait_for(&rx, PICKUP, |e| changed_target(e) == Some(-20.0))
        .expect("edit picked up within 1 s");
    let took = t0.elapsed();
    match ev {
        ProfileEvent::Changed { diff, detail, .. } => {
            assert_eq!(diff, ChangeKind::ParamsOnly);
            assert!(detail.chain && !detail.latency);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(s.effective().chain.agc.target_lufs, -20.0);
    eprintln!("in-place edit applied after {took:?}");

    // 2. Editor-style save: write a temporary file, rename it over the profile.
    write_via_rename(&d.profile("mine"), &mine(-24.0));
    wait_for(&rx, PICKUP, |e| changed_target(e) == Some(-24.0))
        .expect("rename picked up within 1 s");

    // 3. Garbage: an error with its position; the last good profile stays.
    fs::write(
        d.profile("mine"),
        "description = \"mine\"\n[agc]\ntarget_lufs = \n",
    )
    .unwrap();
    let (file, line, column, message) = next_error(&rx, "garbage");
    assert_eq!((file, line, column), (d.profile("mine"), 3, 15));
    assert!(message.starts_with("TOML syntax error"), "{message}");
    assert_eq!(s.effective().chain.agc.target_lufs, -24.0);

    // An out-of-range value is an error as well.
    write_via_rename(&d.profile("mine"), "[compressor]\nratio = 0.5\n");
    let (_, line, column, message) = next_error(&rx, "out of range");
    assert_eq!((line, column), (2, 9));
    assert!(
        message.contains("compressor.ratio = 0.5 is out of range"),
        "{message}"
    );
    assert_eq!(s.effective().chain.agc.target_lufs, -24.0);

    // 4. Fixing it applies.
    fs::write(d.profile("mine"), mine(-19.0)).unwrap();
    wait_for(&rx, PICKUP, |e| changed_target(e) == Some(-19.0)).expect("fix applied");

    // 5. Selecting another profile in the config file switches to it.
    write_via_rename(&d.config.join("config.toml"), "profile = \"night\"\n");
    let ev = wait_for(&rx, PICKUP, |e| matches!(e, ProfileEvent::Changed { .. }))
        .expect("config change picked up");
    match ev {
        ProfileEvent::Changed { profile, .. } => assert_eq!(profile.name, "night"),
        other => panic!("{other:?}"),
    }
    assert_eq!(s.active_name(), "night");

    // A broken config file is reported with its position; the profile stays.
    d.write_config("profile = 7\n");
    let (file, line, column, _) = next_error(&rx, "broken config");
    assert_eq!((file, line, column), (d.config.join("config.toml"), 1, 11));
    assert_eq!(s.active().name, "night");
    // A config file naming a profile that does not exist points at the config file, at the
    // name.
    d.write_config("# mine\nprofile = \"nope\"\n");
    let (file, line, column, message) = next_error(&rx, "unknown profile");
    assert_eq!((file, line, column), (d.config.join("config.toml"), 2, 11));
    assert!(message.starts_with("no profile named `nope`"), "{message}");
    d.write_config("profile = \"night\"\n");
    assert_eq!(s.active().name, "night");

    // 6. A broken edit of an inactive profile is reported, the active one is untouched.
    fs::write(d.profile("other"), "[limiter]\nceiling_dbtp = 3\n").unwrap();
    let (file, line, _, _) = next_error(&rx, "inactive profile");
    // The watcher's path (canonical on some systems).
    assert_eq!(file.file_name().unwrap(), "other.toml");
    assert_eq!(line, 2);
    assert_eq!(s.active().name, "night");
    // Its repair is reported too (that error is over).
    fs::write(d.profile("other"), "[limiter]\nceiling_dbtp = -2\n").unwrap();
    let fixed = wait_for(&rx, PICKUP, |e| matches!(e, ProfileEvent::Fixed(_)))
        .expect("repair of the inactive profile reported");
    match fixed {
        ProfileEvent::Fixed(p) => assert_eq!(p.file_name().unwrap(), "other.toml"),
        other => panic!("{other:?}"),
    }
    assert_eq!(s.active().name, "night");

    // 7. Overrides apply on top of hot-reloaded profiles.
    s.use_profile("mine").unwrap();
    s.set_override("agc.max_boost_db", SettingValue::Number(3.0))
        .unwrap();
    fs::write(d.profile("mine"), mine(-21.0)).unwrap();
    let ev = wait_for(&rx, PICKUP, |e| changed_target(e) == Some(-21.0)).expect("applied");
    match ev {
        ProfileEvent::Changed { profile, .. } => assert_eq!(profile.chain.agc.max_boost_db, 3.0),
        other => panic!("{other:?}"),
    }
}

#[test]
fn dropping_the_watch_handle_stops_events() {
    let (d, s) = Dirs::mine_active();
    let (watch, rx) = watched(&s);
    fs::write(d.profile("mine"), mine(-20.0)).unwrap();
    wait_for(&rx, PICKUP, |e| changed_target(e) == Some(-20.0)).expect("watching");
    drop(watch);
    fs::write(d.profile("mine"), mine(-25.0)).unwrap();
    // With the watcher gone, only an explicit reload sees the change.
    assert!(wait_for(&rx, Duration::from_millis(600), |_| true).is_none());
    assert_eq!(changed_target(&only(s.reload())), Some(-25.0));
}

/// A FIFO named like a profile in the profiles folder is reported and does not stop hot
/// reload (nothing waits for a writer that never comes).
#[test]
fn a_fifo_profile_does_not_stop_hot_reload() {
    let (d, s) = Dirs::mine_active();
    let (_watch, rx) = watched(&s);
    nix::unistd::mkfifo(
        &d.profile("fifo"),
        nix::sys::stat::Mode::from_bits_truncate(0o600),
    )
    .unwrap();
    let ev = wait_for(&rx, Duration::from_secs(10), |e| {
        e.error().is_some_and(|e| e.file == d.profile("fifo"))
    })
    .expect("the FIFO is reported");
    let text = ev.error_text().unwrap();
    let (_, _, _, message) = error_parts(ev);
    assert!(message.contains("FIFO"), "{message}");
    // The file is named once.
    let path = d.profile("fifo").display().to_string();
    assert_eq!(text.matches(&path).count(), 1, "{text}");
    // `profile list` shows it, as a profile that does not load.
    let listed = s.list();
    let fifo = listed.iter().find(|p| p.name == "fifo").expect("listed");
    assert!(
        fifo.error.as_deref().is_some_and(|e| e.contains("FIFO")),
        "{:?}",
        fifo.error
    );
    fs::write(d.profile("mine"), mine(-21.0)).unwrap();
    wait_for(&rx, Duration::from_secs(10), |e| {
        changed_target(e) == Some(-21.0)
    })
    .expect("an edit after the FIFO is still picked up");
}

/// A profile and a config file that are symlinks to files elsewhere (as dotfile managers
/// make): editing the targets is applied, a broken edit reported, like edits of the files
/// themselves; re-pointed links and a newly selected symlinked profile are followed.
#[test]
fn hot_reload_follows_symlinked_profiles_and_config() {
    use std::os::unix::fs::symlink;
    let d = Dirs::new();
    let (dotfiles, target) = d.mine_in_dotfiles();
    let config_target = dotfiles.join("config.toml");
    fs::write(&config_target, "profile = \"mine\"\n").unwrap();
    symlink(&config_target, d.config.join("config.toml")).unwrap();
    let s = d.store();
    assert_eq!(s.effective().chain.agc.target_lufs, -16.0);
    let (_watch, rx) = watched(&s);

    // 1. In-place edit and editor-style save of the target.
    fs::write(&target, mine(-20.0)).unwrap();
    wait_for(&rx, PICKUP, |e| changed_target(e) == Some(-20.0))
        .expect("edit of the target picked up within 1 s");
    write_via_rename(&target, &mine(-22.0));
    wait_for(&rx, PICKUP, |e| changed_target(e) == Some(-22.0))
        .expect("rename over the target picked up within 1 s");

    // 2. A broken edit of the target is reported (as the profile's file); the last good
    // profile stays; the repair applies.
    fs::write(&target, "[compressor]\nratio = 0.5\n").unwrap();
    let (file, line, _, message) = next_error(&rx, "broken target");
    assert_eq!(file.file_name().unwrap(), "mine.toml");
    assert_eq!(line, 2);
    assert!(message.contains("compressor.ratio"), "{message}");
    assert_eq!(s.effective().chain.agc.target_lufs, -22.0);
    fs::write(&target, mine(-19.0)).unwrap();
    wait_for(&rx, PICKUP, |e| changed_target(e) == Some(-19.0)).expect("repair applied");

    // 3. The link re-pointed to a file in another folder: that file is followed now.
    let other_dir = d._tmp.path().join("elsewhere");
    fs::create_dir_all(&other_dir).unwrap();
    let target2 = other_dir.join("mine2.toml");
    fs::write(&target2, mine(-18.0)).unwrap();
    let tmp_link = d.config.join("profiles/.mine.toml.tmp");
    symlink(&target2, &tmp_link).unwrap();
    fs::rename(&tmp_link, d.profile("mine")).unwrap();
    wait_for(&rx, PICKUP, |e| changed_target(e) == Some(-18.0)).expect("re-pointed link");
    fs::write(&target2, mine(-17.0)).unwrap();
    wait_for(&rx, PICKUP, |e| changed_target(e) == Some(-17.0))
        .expect("edit of the new target picked up");

    // 4. The config file's target edited: another profile is selected.
    fs::write(&config_target, "profile = \"night\"\n").unwrap();
    let ev = wait_for(&rx, PICKUP, |e| matches!(e, ProfileEvent::Changed { .. }))
        .expect("edit of the config file's target picked up");
    match ev {
        ProfileEvent::Changed { profile, .. } => assert_eq!(profile.name, "night"),
        other => panic!("{other:?}"),
    }

    // 5. A symlinked profile selected by path, in a folder that is not watched at start.
    let links = d._tmp.path().join("links");
    fs::create_dir_all(&links).unwrap();
    let third = dotfiles.join("third.toml");
    fs::write(&third, mine(-15.0)).unwrap();
    let by_path = links.join("third.toml");
    symlink(&third, &by_path).unwrap();
    fs::write(
        &config_target,
        format!("profile = \"{}\"\n", by_path.display()),
    )
    .unwrap();
    wait_for(&rx, PICKUP, |e| changed_target(e) == Some(-15.0)).expect("selected by path");
    fs::write(&third, mine(-14.0)).unwrap();
    wait_for(&rx, PICKUP, |e| changed_target(e) == Some(-14.0))
        .expect("edit of the selected profile's target picked up");
    fs::write(&third, "[agc]\ntarget_lufs = \"loud\"\n").unwrap();
    let (_, line, _, _) = next_error(&rx, "broken selected target");
    assert_eq!(line, 2);
    assert_eq!(s.effective().chain.agc.target_lufs, -14.0);
}

/// A broken active profile or config file put back exactly as it was: the reload finds
/// nothing changed in the profile, and reports the error over (`Fixed`) so that it clears.
#[test]
fn a_file_put_back_as_it_was_reports_its_error_over() {
    let (d, s) = Dirs::mine_active();
    let good = mine(-16.0);
    fs::write(d.profile("mine"), "[agc]\ntarget_lufs = \n").unwrap();
    assert!(matches!(&s.reload()[..], [ProfileEvent::Error(_)]));
    fs::write(d.profile("mine"), &good).unwrap();
    match &s.reload()[..] {
        [ProfileEvent::Fixed(f)] => assert_eq!(f, &d.profile("mine")),
        other => panic!("{other:?}"),
    }
    // Nothing to report any more.
    assert!(s.reload().is_empty());
    let config = d.config.join("config.toml");
    d.write_config("profile = \n");
    assert!(matches!(&s.reload()[..], [ProfileEvent::Error(_)]));
    d.write_config("profile = \"mine\"\n");
    match &s.reload()[..] {
        [ProfileEvent::Fixed(f)] => assert_eq!(f, &config),
        other => panic!("{other:?}"),
    }
}

/// A profile that failed at start-up names its file, so its repair clears the error.
#[test]
fn a_startup_error_names_its_file() {
    let d = Dirs::new();
    fs::write(d.profile("mine"), "[agc]\ntarget_lufs = \n").unwrap();
    d.write_config("profile = \"mine\"\n");
    let s = d.store();
    assert!(s.startup_error().is_some());
    assert_eq!(s.startup_error_file(), Some(d.profile("mine")));
    // Moving the config to another profile that loads ends it, changed or not.
    d.write_config("profile = \"default\"\n");
    let evs = s.reload();
    assert!(
        evs.iter()
            .any(|e| matches!(e, ProfileEvent::Changed { .. } | ProfileEvent::Fixed(_))),
        "{evs:?}"
    );
}

/// A file error without a position reads `file: message`, not `file:0:0: message`.
#[test]
fn file_errors_without_a_position_name_the_file_only() {
    use headroomd::profiles::FileError;
    let e = |line, column| FileError {
        file: "/c/config.toml".into(),
        line,
        column,
        message: "cannot read it: a FIFO, not a regular file: refused".into(),
    };
    assert_eq!(
        e(0, 0).to_string(),
        "/c/config.toml: cannot read it: a FIFO, not a regular file: refused"
    );
    assert_eq!(
        e(3, 7).to_string(),
        "/c/config.toml:3:7: cannot read it: a FIFO, not a regular file: refused"
    );
}

/// Typos in `config.toml` are warnings with their position and a suggestion: the known keys
/// load all the same, nothing falls back, and a fixed file reports none.
#[test]
fn config_typos_are_warnings_and_the_known_keys_still_load() {
    let d = Dirs::new();
    fs::write(d.profile("mine"), mine(-16.0)).unwrap();
    d.write_config(
        "profle = \"night\"\nprofile = \"mine\"\n\n[alerts]\nnotfy = false\nnotify = true\n",
    );
    let s = d.store();
    assert_eq!(s.active_name(), "mine");
    assert!(s.alerts_notify());
    assert!(s.startup_error().is_none());
    assert!(s.fallback().is_none());
    let file = d.config.join("config.toml");
    let expected = [
        format!(
            "{}:1:1: unknown key `profle` (did you mean `profile`?); ignored",
            file.display()
        ),
        format!(
            "{}:5:1: unknown key `notfy` in [alerts] (did you mean `notify`?); ignored",
            file.display()
        ),
    ];
    assert_eq!(s.config_warnings(), expected);
    assert_eq!(s.take_warnings(), expected, "start-up warnings (logged)");

    // The typo alone selects nothing: the default profile, with the warning.
    d.write_config("profle = \"mine\"\n");
    s.reload();
    assert_eq!(s.active_name(), "default");
    assert_eq!(s.config_warnings().len(), 1);
    assert!(s.config_warnings()[0].contains("`profle`"));

    d.write_config("profile = \"mine\"\n[alerts]\nnotify = true\n");
    s.reload();
    assert_eq!(s.active_name(), "mine");
    assert!(s.config_warnings().is_empty());
}

/// A profile file without settings (empty, or comments only: how a file looks while a shell
/// redirection or an editor writes it) is no profile of defaults: `profile show night >
/// night.toml` made the file empty first, the daemon loaded it, and the active `night`
/// became the built-in defaults (target −16 instead of −20), with no error anywhere.
#[test]
fn a_profile_file_without_settings_replaces_nothing() {
    // A user copy of a shipped profile: the shipped one stays in force.
    let d = Dirs::new();
    d.write_config("profile = \"night\"\n");
    let s = d.store();
    assert_eq!(s.effective().chain.agc.target_lufs, -20.0);
    for text in ["", "\n  \n", "# profile night (user, …)\n"] {
        fs::write(d.profile("night"), text).unwrap();
        let events = s.reload();
        assert!(
            events.iter().all(|e| changed_target(e).is_none()),
            "{text:?}: {events:?}"
        );
        assert_eq!(s.effective().chain.agc.target_lufs, -20.0, "{text:?}");
        assert_eq!(
            d.store().effective().chain.agc.target_lufs,
            -20.0,
            "{text:?} at startup"
        );
    }
    // Written, it is the user's profile.
    fs::write(d.profile("night"), mine(-23.0)).unwrap();
    s.reload();
    assert_eq!(s.effective().chain.agc.target_lufs, -23.0);

    // A profile of the user's own: an error at its first line, the last good one stays.
    let (d, s) = Dirs::mine_active();
    fs::write(d.profile("mine"), mine(-22.0)).unwrap();
    s.reload();
    fs::write(d.profile("mine"), "# nothing yet\n").unwrap();
    let (path, line, col, msg) = error_parts(only(s.reload()));
    assert_eq!((path, line, col), (d.profile("mine"), 1, 1));
    assert!(msg.contains("no settings"), "{msg}");
    assert_eq!(s.effective().chain.agc.target_lufs, -22.0);
}

/// The profiles folder replaced — swapped for a new one as dotfile managers do, deleted and
/// made again, turned into a file and back — is watched again: every change after it is
/// picked up, and what it did to the active profile is reported.
#[test]
fn hot_reload_goes_on_when_the_profiles_folder_is_replaced() {
    let (d, s) = Dirs::mine_active();
    let (_watch, rx) = watched(&s);
    let dir = d.config.join("profiles");
    let aside = d.config.join("profiles.old");
    let fresh = d.config.join("profiles.new");

    // 1. Swapped: a new folder moved in, the old one moved away and deleted.
    fs::create_dir(&fresh).unwrap();
    fs::write(fresh.join("mine.toml"), mine(-22.0)).unwrap();
    fs::rename(&dir, &aside).unwrap();
    fs::rename(&fresh, &dir).unwrap();
    fs::remove_dir_all(&aside).unwrap();
    wait_for(&rx, PICKUP, |e| changed_target(e) == Some(-22.0)).expect("swapped folder read");
    // Edits in the new folder are followed, broken ones of other profiles reported.
    fs::write(d.profile("mine"), mine(-23.0)).unwrap();
    wait_for(&rx, PICKUP, |e| changed_target(e) == Some(-23.0))
        .expect("an edit in the swapped-in folder is picked up");
    fs::write(d.profile("other"), "[limiter]\nceiling_dbtp = 3\n").unwrap();
    let (file, line, _, _) = next_error(&rx, "broken profile in the swapped-in folder");
    assert_eq!(
        (file.file_name().unwrap(), line),
        ("other.toml".as_ref(), 2)
    );
    fs::remove_file(d.profile("other")).unwrap();
    wait_for(&rx, PICKUP, |e| matches!(e, ProfileEvent::Fixed(_))).expect("its end reported");

    // 2. Deleted: the active profile is missing (reported, the last good one stays); made
    // again, it is read and followed.
    fs::remove_dir_all(&dir).unwrap();
    let (file, _, _, message) = next_error(&rx, "profiles folder deleted");
    assert_eq!(file, d.config.join("config.toml"));
    assert!(message.contains("no profile named `mine`"), "{message}");
    assert_eq!(s.effective().chain.agc.target_lufs, -23.0);
    fs::create_dir(&dir).unwrap();
    fs::write(d.profile("mine"), mine(-24.0)).unwrap();
    wait_for(&rx, PICKUP, |e| changed_target(e) == Some(-24.0)).expect("made again, read");
    fs::write(d.profile("mine"), mine(-25.0)).unwrap();
    wait_for(&rx, PICKUP, |e| changed_target(e) == Some(-25.0))
        .expect("an edit in the remade folder is picked up");

    // 3. A file in its place: reported; the folder back as it was: the error is over, and
    // edits are followed again.
    fs::rename(&dir, &aside).unwrap();
    fs::write(&dir, "not a folder\n").unwrap();
    let (_, _, _, message) = next_error(&rx, "profiles folder turned into a file");
    assert!(message.contains("no profile named `mine`"), "{message}");
    fs::remove_file(&dir).unwrap();
    fs::rename(&aside, &dir).unwrap();
    wait_for(&rx, PICKUP, |e| matches!(e, ProfileEvent::Fixed(_)))
        .expect("the folder back: the error is over");
    fs::write(d.profile("mine"), mine(-26.0)).unwrap();
    wait_for(&rx, PICKUP, |e| changed_target(e) == Some(-26.0))
        .expect("an edit after the folder came back is picked up");
}

/// The folders followed besides the config and profiles folders — that of a symlinked
/// profile's target, that of a profile selected by path — replaced (moved away and a new one
/// made, as dotfile managers do; deleted and made again): the new folder is followed, edits
/// in it are applied, and the moved-away one is no longer read.
#[test]
fn hot_reload_goes_on_when_a_followed_folder_is_replaced() {
    let d = Dirs::new();
    let (dotfiles, target) = d.mine_in_dotfiles();
    d.write_config("profile = \"mine\"\n");
    let s = d.store();
    let (_watch, rx) = watched(&s);

    // 1. The target's folder moved away, a new one made with the file in it.
    let aside = d._tmp.path().join("dotfiles.old");
    fs::rename(&dotfiles, &aside).unwrap();
    fs::create_dir(&dotfiles).unwrap();
    fs::write(&target, mine(-21.0)).unwrap();
    wait_for(&rx, PICKUP, |e| changed_target(e) == Some(-21.0))
        .expect("the file in the new folder read");
    fs::write(&target, mine(-22.0)).unwrap();
    wait_for(&rx, PICKUP, |e| changed_target(e) == Some(-22.0))
        .expect("an in-place edit in the new folder picked up");
    write_via_rename(&target, &mine(-23.0));
    wait_for(&rx, PICKUP, |e| changed_target(e) == Some(-23.0))
        .expect("an editor-style save in the new folder picked up");
    // The old folder is not followed any more: an edit there changes nothing.
    fs::write(aside.join("mine.toml"), mine(-30.0)).unwrap();
    assert!(
        wait_for(&rx, PICKUP, |e| matches!(e, ProfileEvent::Changed { .. })).is_none(),
        "an edit of the moved-away folder changed the profile"
    );
    assert_eq!(s.effective().chain.agc.target_lufs, -23.0);

    // 2. A profile selected by path; its folder deleted and made again.
    let dir = d._tmp.path().join("by-path");
    fs::create_dir_all(&dir).unwrap();
    let file = dir.join("p.toml");
    fs::write(&file, mine(-19.0)).unwrap();
    d.write_config(&format!("profile = \"{}\"\n", file.display()));
    wait_for(&rx, PICKUP, |e| changed_target(e) == Some(-19.0)).expect("selected by path");
    fs::remove_dir_all(&dir).unwrap();
    let (f, _, _, _) = next_error(&rx, "the selected profile's folder deleted");
    assert_eq!(f, file);
    fs::create_dir(&dir).unwrap();
    fs::write(&file, mine(-24.0)).unwrap();
    wait_for(&rx, PICKUP, |e| changed_target(e) == Some(-24.0)).expect("made again, read");
    fs::write(&file, mine(-25.0)).unwrap();
    wait_for(&rx, PICKUP, |e| changed_target(e) == Some(-25.0))
        .expect("an edit in the remade folder picked up");
}

/// A hidden `.NAME.toml` in the profiles folder is no profile: not listed, and not taken by
/// name.
#[test]
fn a_hidden_file_in_the_profiles_folder_is_no_profile() {
    let d = Dirs::new();
    fs::write(d.profile(".hidden"), mine(-20.0)).unwrap();
    let s = d.store();
    assert!(!s.list().iter().any(|p| p.name.contains("hidden")));
    let e = s.use_profile(".hidden").unwrap_err();
    assert!(matches!(e, StoreError::NotFound { .. }), "{e}");
}

/// A file named `NAME.toml.toml` is no profile named `NAME.toml`: a name ending in `.toml`
/// is a path. It was listed as `NAME.toml`, invalid ("no profile file at …/NAME.toml"),
/// and `profile use` refused it while listing it among the available profiles.
#[test]
fn a_file_whose_name_ends_in_toml_twice_is_no_profile() {
    let d = Dirs::new();
    fs::write(d.profile("x.toml"), mine(-20.0)).unwrap();
    let s = d.store();
    assert!(
        !s.list().iter().any(|p| p.name.starts_with('x')),
        "{:?}",
        s.list()
    );
    let e = s.use_profile("x.toml").unwrap_err();
    assert!(!e.to_string().contains(", x.toml"), "not offered: {e}");
}

/// A profiles folder that leads nowhere — a symlink to itself, or to a folder that is gone —
/// holds no user profiles: the shipped ones are listed as shipped and stay usable.
#[test]
fn a_profiles_folder_that_leads_nowhere_leaves_the_shipped_profiles_usable() {
    use std::os::unix::fs::symlink;
    let d = Dirs::new();
    let dir = d.config.join("profiles");
    for target in [dir.clone(), d._tmp.path().join("gone")] {
        let _ = fs::remove_dir_all(&dir);
        let _ = fs::remove_file(&dir);
        symlink(&target, &dir).unwrap();
        let s = d.store();
        let list = s.list();
        let night = list
            .iter()
            .find(|p| p.name == "night")
            .expect("night listed");
        assert!(
            night.error.is_none() && matches!(night.source, ProfileSource::Shipped),
            "{night:?}"
        );
        s.use_profile("night").expect("the shipped night");
        assert_eq!(s.active_name(), "night");
    }
}

/// A profile that is a symlink leading nowhere (its target deleted, or a loop) is reported as
/// that file, broken, and the last good profile stays — not as "no profile named".
#[test]
fn a_profile_symlink_that_leads_nowhere_says_so() {
    use std::os::unix::fs::symlink;
    let (d, s) = Dirs::mine_active();
    let target = d._tmp.path().join("dotfiles-mine.toml");
    fs::write(&target, mine(-20.0)).unwrap();
    fs::remove_file(d.profile("mine")).unwrap();
    symlink(&target, d.profile("mine")).unwrap();
    assert_eq!(changed_target(&only(s.reload())), Some(-20.0));

    fs::remove_file(&target).unwrap();
    let (file, _, _, message) = error_parts(only(s.reload()));
    assert_eq!(file, d.profile("mine"));
    assert!(
        message.contains(&format!(
            "it is a symlink to {}, which does not exist",
            target.display()
        )),
        "{message}"
    );
    assert_eq!(s.effective().chain.agc.target_lufs, -20.0);

    fs::remove_file(d.profile("mine")).unwrap();
    symlink("mine.toml", d.profile("mine")).unwrap();
    let (file, _, _, message) = error_parts(only(s.reload()));
    assert_eq!(file, d.profile("mine"));
    assert!(message.contains("lead back in a loop"), "{message}");

    // A shipped name is no fallback for a broken link of the user's.
    let night = d.profile("night");
    symlink(d._tmp.path().join("gone.toml"), &night).unwrap();
    let e = s.use_profile("night").unwrap_err().to_string();
    assert!(e.contains("which does not exist"), "{e}");
    assert_eq!(s.active_name(), "mine");
}
