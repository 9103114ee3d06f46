//! Small promises: corrupt-file backups never overwrite each other and show in `status`, an
//! override that is not in force is not reported as overridden, case folding of rules is
//! Unicode-wide, each start-up warning is logged once, and so is a profile error seen again.

use std::io::Write;
use std::sync::{Arc, Mutex};

use headroom_ipc::{Request, Response, Route, RuleSource};
use headroomd::engine::Engine;
use headroomd::profiles::ProfileStore;
use headroomd::pw::BusShared;
use headroomd::DaemonConfig;

use crate::support::rig::{memory_history, Rig};

fn engine_over(config: &std::path::Path, state: &std::path::Path) -> Engine {
    let store = ProfileStore::new(config, state);
    let params = Engine::chain_params(&store.effective(), false);
    Engine::new(
        store,
        BusShared::new(params, 2000),
        memory_history(),
        state.join("routes.json"),
        &DaemonConfig::default(),
    )
}

#[test]
fn each_corrupt_routes_file_gets_its_own_backup() {
    let tmp = tempfile::tempdir().unwrap();
    let (config, state) = (tmp.path().join("config"), tmp.path().join("state"));
    std::fs::create_dir_all(&state).unwrap();
    for text in ["{ first", "[ second"] {
        std::fs::write(state.join("routes.json"), text).unwrap();
        drop(engine_over(&config, &state));
    }
    let mut backups: Vec<String> = std::fs::read_dir(&state)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("routes.json.corrupt"))
        .collect();
    backups.sort();
    assert_eq!(backups.len(), 2, "{backups:?}");
    let texts: Vec<String> = backups
        .iter()
        .map(|b| std::fs::read_to_string(state.join(b)).unwrap())
        .collect();
    assert!(texts.contains(&"{ first".to_string()) && texts.contains(&"[ second".to_string()));
}

#[test]
fn one_bad_rule_in_the_routes_file_costs_only_that_rule() {
    // A hand edit with one bad route value and an empty pattern between two good rules: the
    // good ones load (the whole file used to be moved aside, every rule lost), the file as
    // it was is kept aside, and the rules that loaded are saved in its place.
    let tmp = tempfile::tempdir().unwrap();
    let (config, state) = (tmp.path().join("config"), tmp.path().join("state"));
    std::fs::create_dir_all(&state).unwrap();
    // (and a pattern with a control character, which `route.set` refuses and no command
    // line could remove)
    let text = r#"[["mpv","bypass"],["vlc","sideways"],["","processed"],["  ","bypass"],["a\u0000b","bypass"],["firefox","processed"]]"#;
    std::fs::write(state.join("routes.json"), text).unwrap();
    let mut e = engine_over(&config, &state);
    let mut out = e.on(headroomd::engine::Input::Request(Request::RouteList {
        cursor: None,
    }));
    let Some(headroomd::engine::Output::Reply(Ok(Response::Routes(routes)))) = out.pop() else {
        panic!("{out:?}")
    };
    let user: Vec<(&str, Route)> = routes
        .rules
        .iter()
        .filter(|r| r.source == RuleSource::User)
        .map(|r| (r.app.as_str(), r.route))
        .collect();
    assert_eq!(
        user,
        [("mpv", Route::Bypass), ("firefox", Route::Processed)],
        "{routes:?}"
    );
    let backups: Vec<std::path::PathBuf> = std::fs::read_dir(&state)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.to_string_lossy().contains("routes.json.corrupt"))
        .collect();
    assert_eq!(backups.len(), 1, "{backups:?}");
    assert_eq!(std::fs::read_to_string(&backups[0]).unwrap(), text);
    let saved = std::fs::read_to_string(state.join("routes.json")).unwrap();
    assert!(
        saved.contains("mpv")
            && saved.contains("firefox")
            && !saved.contains("sideways")
            && !saved.contains("a\\u0000b"),
        "{saved}"
    );
}

/// What a start found wrong with the daemon's own files is in `status`, one message each
/// naming the file and where it went: a corrupt `state.json` and `promote.json`, a
/// `routes.json` with a rule that cannot be read. (They were only logged: a user whose rules
/// or settings were gone saw nothing.) Fine files give no message.
#[test]
fn corrupt_state_files_at_start_show_in_status() {
    let status = |e: &mut Engine| {
        let mut out = e.on(headroomd::engine::Input::Request(Request::Status));
        let Some(headroomd::engine::Output::Reply(Ok(Response::Status(s)))) = out.pop() else {
            panic!("{out:?}")
        };
        s
    };
    let tmp = tempfile::tempdir().unwrap();
    let (config, state) = (tmp.path().join("config"), tmp.path().join("state"));
    std::fs::create_dir_all(&state).unwrap();
    std::fs::write(
        state.join("routes.json"),
        r#"[["mpv","bypass"],["vlc","sideways"]]"#,
    )
    .unwrap();
    std::fs::write(state.join("state.json"), "{\"version\":1,").unwrap();
    std::fs::write(state.join("promote.json"), "not json").unwrap();
    let mut e = engine_over(&config, &state);
    let s = status(&mut e);
    assert_eq!(s.file_warnings.len(), 3, "{:?}", s.file_warnings);
    for (file, says) in [
        ("routes.json", "skipped rule 2"),
        ("state.json", "is corrupt"),
        ("promote.json", "is corrupt"),
    ] {
        let w = s
            .file_warnings
            .iter()
            .find(|w| w.contains(&format!("{}", state.join(file).display())))
            .unwrap_or_else(|| panic!("no warning for {file}: {:?}", s.file_warnings));
        assert!(
            w.contains(says) && w.contains(&format!("{file}.corrupt-")),
            "{file}: {w}"
        );
    }
    // The next start reads what the first left: clean files, nothing to say.
    let mut e = engine_over(&config, &state);
    assert!(status(&mut e).file_warnings.is_empty());
}

#[test]
fn an_override_not_in_force_is_not_shown_as_overridden() {
    let tmp = tempfile::tempdir().unwrap();
    let (config, state) = (tmp.path().join("config"), tmp.path().join("state"));
    std::fs::create_dir_all(&state).unwrap();
    // A silence gate above any target: it cannot be applied to the profile.
    std::fs::write(
        state.join("state.json"),
        r#"{"version":1,"overrides":{"agc.silence_gate_lufs":-1.0,"agc.target_lufs":-20.0}}"#,
    )
    .unwrap();
    let mut e = engine_over(&config, &state);
    let mut get = |key: &str| {
        let mut out = e.on(headroomd::engine::Input::Request(Request::SettingGet {
            key: key.into(),
        }));
        match out.pop() {
            Some(headroomd::engine::Output::Reply(Ok(Response::Setting(s)))) => s,
            other => panic!("{other:?}"),
        }
    };
    let gate = get("agc.silence_gate_lufs");
    assert!(!gate.overridden, "{gate:?}");
    assert_ne!(gate.value.as_f64(), Some(-1.0));
    let target = get("agc.target_lufs");
    assert!(target.overridden);
    assert_eq!(target.value.as_f64(), Some(-20.0));
}

#[test]
fn rules_fold_case_beyond_ascii() {
    let mut rig = Rig::new(DaemonConfig::default());
    rig.bus_up();
    rig.node_added(50, "Stream/Output/Audio", &[("application.name", "äpp")]);
    for app in ["Äpp", "äpp", "ÄPP"] {
        let (_, r) = rig.request(Request::RouteSet {
            app: app.into(),
            route: Route::Bypass,
        });
        assert_eq!(r, Ok(Response::Ok));
    }
    let (_, r) = rig.request(Request::RouteList { cursor: None });
    let Ok(Response::Routes(routes)) = r else {
        panic!("{r:?}")
    };
    let user: Vec<&str> = routes
        .rules
        .iter()
        .filter(|r| r.source == RuleSource::User)
        .map(|r| r.app.as_str())
        .collect();
    assert_eq!(user, ["ÄPP"], "one rule for one pattern");
    assert_eq!(routes.streams[0].route, Route::Bypass);
    let (_, r) = rig.request(Request::RouteUnset { app: "äPp".into() });
    assert_eq!(r, Ok(Response::Ok));
}

/// Captures what `tracing` logs on this thread.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// What `tracing` logs on this thread while `f` runs.
fn logged(f: impl FnOnce()) -> String {
    let log = Captured::default();
    let sink = log.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || sink.clone())
        .with_ansi(false)
        .finish();
    tracing::subscriber::with_default(subscriber, f);
    let bytes = log.0.lock().unwrap().clone();
    String::from_utf8(bytes).unwrap()
}

#[test]
fn each_start_up_warning_is_logged_once() {
    let tmp = tempfile::tempdir().unwrap();
    let (config, state) = (tmp.path().join("config"), tmp.path().join("state"));
    std::fs::create_dir_all(&state).unwrap();
    std::fs::create_dir_all(&config).unwrap();
    std::fs::write(
        config.join("config.toml"),
        "profile = \"no-such-profile\"\n",
    )
    .unwrap();
    std::fs::write(state.join("state.json"), "{ truncated").unwrap();
    let text = logged(|| {
        let store = ProfileStore::new(&config, &state);
        // What the daemon does with them at start-up.
        let _ = store.take_warnings();
    });
    for needle in ["is corrupt", "no-such-profile"] {
        assert_eq!(
            text.matches(needle).count(),
            1,
            "`{needle}` not logged exactly once:\n{text}"
        );
    }
    // An override that does not fit, at load: once too.
    std::fs::write(
        state.join("state.json"),
        r#"{"version":1,"overrides":{"agc.silence_gate_lufs":-1.0}}"#,
    )
    .unwrap();
    let text = logged(|| {
        let _ = ProfileStore::new(&config, &state).take_warnings();
    });
    assert_eq!(text.matches("ignored").count(), 1, "{text}");
}

/// The same profile error reported twice in a row (one `sed -i` is seen as two changes) is
/// logged once; another error, and the same one after the file loaded in between, again.
#[test]
fn a_profile_error_seen_again_is_logged_once() {
    use headroomd::engine::Input;
    use headroomd::profiles::{FileError, ProfileEvent};
    let tmp = tempfile::tempdir().unwrap();
    let (config, state) = (tmp.path().join("config"), tmp.path().join("state"));
    std::fs::create_dir_all(config.join("profiles")).unwrap();
    std::fs::create_dir_all(&state).unwrap();
    let file = config.join("profiles/mine.toml");
    std::fs::write(&file, "[agc]\ntarget_lufs = -20.0\n").unwrap();
    std::fs::write(config.join("config.toml"), "profile = \"mine\"\n").unwrap();
    let mut e = engine_over(&config, &state);
    let error = |message: &str| {
        ProfileEvent::Error(FileError {
            file: file.clone(),
            line: 2,
            column: 15,
            message: message.into(),
        })
    };
    let text = logged(|| {
        e.on(Input::Profile(error("first mistake")));
        e.on(Input::Profile(error("first mistake")));
        e.on(Input::Profile(error("second mistake")));
        e.on(Input::Profile(ProfileEvent::Fixed(file.clone())));
        e.on(Input::Profile(error("second mistake")));
    });
    // The error's own line (the alert raised for it is logged apart).
    let said = |what: &str| {
        text.lines()
            .filter(|l| l.contains("engine::profiles") && l.contains(what))
            .count()
    };
    assert_eq!(said("first mistake"), 1, "{text}");
    assert_eq!(said("second mistake"), 2, "{text}");
}
