//! Hostile files: FIFOs, devices and oversized files where headroomd reads its profiles,
//! config and state, and symlinks where it writes its history, never hang, exhaust memory or
//! write elsewhere; each gets a clear error.

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

use headroom_ipc::{Request, Response};
use headroomd::engine::Engine;
use headroomd::history::{segment_name, History, HistoryConfig, Sample};
use headroomd::profiles::ProfileStore;
use headroomd::pw::BusShared;
use headroomd::DaemonConfig;

use crate::support::rig::{memory_history, Rig};

/// Runs `f` on its own thread; panics if it has not returned within 20 s (it hangs).
fn within_deadline<T: Send + 'static>(what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(Duration::from_secs(20))
        .unwrap_or_else(|_| panic!("{what} hangs"))
}

fn mkfifo(path: &Path) {
    nix::unistd::mkfifo(path, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
}

struct Dirs {
    _tmp: tempfile::TempDir,
    config: PathBuf,
    state: PathBuf,
}

fn dirs() -> Dirs {
    let tmp = tempfile::tempdir().unwrap();
    let config = tmp.path().join("config/headroom");
    let state = tmp.path().join("state/headroom");
    std::fs::create_dir_all(config.join("profiles")).unwrap();
    std::fs::create_dir_all(&state).unwrap();
    Dirs {
        _tmp: tmp,
        config,
        state,
    }
}

/// An engine over `d` (what the daemon builds at start-up), built within the deadline.
fn engine_over(d: &Dirs) -> Engine {
    let (config, state) = (d.config.clone(), d.state.clone());
    within_deadline("starting the engine", move || {
        let store = ProfileStore::new(&config, &state);
        let params = Engine::chain_params(&store.effective(), false);
        let bus = BusShared::new(params, 2000);
        Engine::new(
            store,
            bus,
            memory_history(),
            state.join("routes.json"),
            &DaemonConfig::default(),
        )
    })
}

#[test]
fn fifo_state_and_routes_files_do_not_hang_start_up() {
    let d = dirs();
    mkfifo(&d.state.join("state.json"));
    mkfifo(&d.state.join("routes.json"));
    mkfifo(&d.config.join("config.toml"));
    let mut e = engine_over(&d);
    let reply = within_deadline("a request", move || {
        let mut out = e.on(headroomd::engine::Input::Request(Request::SettingList));
        out.pop()
    });
    assert!(
        matches!(
            reply,
            Some(headroomd::engine::Output::Reply(Ok(Response::Settings(_))))
        ),
        "{reply:?}"
    );
}

#[test]
fn device_symlinks_are_refused_with_a_clear_error() {
    let d = dirs();
    for p in [
        d.state.join("state.json"),
        d.state.join("routes.json"),
        d.config.join("profiles/zero.toml"),
    ] {
        std::os::unix::fs::symlink("/dev/zero", p).unwrap();
    }
    std::fs::write(d.config.join("config.toml"), "profile = \"zero\"\n").unwrap();
    let (config, state) = (d.config.clone(), d.state.clone());
    let store = within_deadline("opening the store", move || {
        ProfileStore::new(&config, &state)
    });
    let warnings = store.take_warnings().join("\n");
    assert!(
        warnings.contains("character device"),
        "no clear warning: {warnings}"
    );
    // The daemon still runs on the shipped default.
    assert_ne!(store.active_name(), "");

    let mut rig = Rig::new(DaemonConfig::default());
    std::os::unix::fs::symlink("/dev/zero", rig.config.join("profiles/zero.toml")).unwrap();
    mkfifo(&rig.config.join("profiles/fifo.toml"));
    for name in ["/dev/zero", "zero", "fifo", "/dev/stdin"] {
        let (_, r) = rig.request(Request::ProfileShow {
            name: Some(name.into()),
        });
        let err = r.expect_err(name);
        assert!(
            err.message.contains("not a regular file") || err.message.contains("not found"),
            "{name}: {}",
            err.message
        );
    }
    // The FIFO and the device are listed as profiles that do not load (as the watcher
    // reports them), each saying what it is.
    let (_, r) = rig.request(Request::ProfileList);
    let Ok(Response::ProfileList(list)) = r else {
        panic!("{r:?}")
    };
    for (name, what) in [("fifo", "a FIFO"), ("zero", "a character device")] {
        let p = list.profiles.iter().find(|p| p.name == name).expect(name);
        assert!(
            p.error.as_deref().is_some_and(|e| e.contains(what)),
            "{name}: {:?}",
            p.error
        );
    }
}

/// A profile named by path is shown as the user's file it is, at the path it is read
/// from (it was shown as a shipped profile at a made-up `(built in) profiles/<path>.toml`,
/// its TOML rewritten from the defaults).
#[test]
fn a_profile_named_by_path_is_shown_as_the_file_it_is() {
    let mut rig = Rig::new(DaemonConfig::default());
    let text = "# mine\n[agc]\ntarget_lufs = -19.0\n";
    let file = rig.config.join("mine.toml");
    std::fs::write(&file, text).unwrap();
    for name in [file.to_string_lossy().into_owned(), "./mine.toml".into()] {
        let (_, r) = rig.request(Request::ProfileShow {
            name: Some(name.clone()),
        });
        let Ok(Response::ProfileShow(show)) = r else {
            panic!("{name}: {r:?}")
        };
        assert_eq!(show.source, headroom_ipc::ProfileSource::User, "{name}");
        assert_eq!(
            std::path::Path::new(&show.path),
            rig.config.join(name.trim_start_matches("./")).as_path(),
            "{name}"
        );
        assert_eq!(show.toml, text, "{name}");
    }
}

/// A broken profile file named by path is shown with its errors, as a broken one in the
/// profiles folder is (it was refused with `unknown_key`); `profile.use` of it answers
/// `invalid_value`, and a config file that is not text is the user's to fix
/// (`invalid_value`), not an internal failure.
#[test]
fn broken_files_by_path_are_shown_and_refused_as_invalid_values() {
    use headroom_ipc::ErrorCode;
    let mut rig = Rig::new(DaemonConfig::default());
    let file = rig.config.join("unk.toml");
    std::fs::write(&file, "[agc]\ntargte = 1\n").unwrap();
    let name = file.to_string_lossy().into_owned();
    let (_, r) = rig.request(Request::ProfileShow {
        name: Some(name.clone()),
    });
    let Ok(Response::ProfileShow(show)) = r else {
        panic!("{r:?}")
    };
    assert!(
        show.error
            .as_deref()
            .is_some_and(|e| e.contains("unk.toml:2:1")),
        "{show:?}"
    );
    let (_, r) = rig.request(Request::ProfileUse { name });
    assert_eq!(r.unwrap_err().code, ErrorCode::InvalidValue);
    std::fs::write(rig.config.join("config.toml"), [0xff, 0xfe, 0x00, 0x9f]).unwrap();
    let (_, r) = rig.request(Request::ProfileUse {
        name: "night".into(),
    });
    let e = r.unwrap_err();
    assert_eq!(e.code, ErrorCode::InvalidValue, "{e:?}");
    assert!(e.message.contains("config.toml"), "{}", e.message);
}

/// `profile.show` of a path shows a profile file only: one that loads as a profile, or a
/// regular file named `*.toml` (through a symlink too), with its errors. Any other file the
/// daemon can read (`/etc/passwd`, `/proc/self/environ`, a `.toml` name linked to another
/// file) was shown whole under its errors; it is refused, none of it in the reply.
#[test]
fn profile_show_of_a_path_shows_profile_files_only() {
    use headroom_ipc::ErrorCode;
    let mut rig = Rig::new(DaemonConfig::default());
    let secret = rig.config.join("secret");
    std::fs::write(&secret, "password = \"hunter2\"\n").unwrap();
    let link = rig.config.join("link.toml");
    std::os::unix::fs::symlink(&secret, &link).unwrap();
    for name in [
        secret.to_string_lossy().into_owned(),
        link.to_string_lossy().into_owned(),
        "/proc/self/environ".into(),
        "/etc/passwd".into(),
    ] {
        let (_, r) = rig.request(Request::ProfileShow {
            name: Some(name.clone()),
        });
        let e = r.expect_err(&name);
        assert_eq!(e.code, ErrorCode::InvalidValue, "{name}: {e:?}");
        assert!(
            e.message.contains("is not a profile"),
            "{name}: {}",
            e.message
        );
        assert!(!e.message.contains("hunter2"), "{name}: {}", e.message);
    }
    // A broken profile file, named or linked to, is shown with its errors.
    let broken = rig.config.join("broken.toml");
    std::fs::write(&broken, "[agc]\ntargte = 1\n").unwrap();
    let to_broken = rig.config.join("to-broken");
    std::os::unix::fs::symlink(&broken, &to_broken).unwrap();
    for name in [&broken, &to_broken] {
        let (_, r) = rig.request(Request::ProfileShow {
            name: Some(name.to_string_lossy().into_owned()),
        });
        let Ok(Response::ProfileShow(show)) = r else {
            panic!("{name:?}: {r:?}")
        };
        assert_eq!(show.toml, "[agc]\ntargte = 1\n", "{name:?}");
        assert!(
            show.error.as_deref().is_some_and(|e| e.contains("targte")),
            "{show:?}"
        );
    }
    // A valid profile is shown whatever its name.
    let plain = rig.config.join("plain");
    std::fs::write(&plain, "[agc]\ntarget_lufs = -19.0\n").unwrap();
    let (_, r) = rig.request(Request::ProfileShow {
        name: Some(plain.to_string_lossy().into_owned()),
    });
    let Ok(Response::ProfileShow(show)) = r else {
        panic!("{r:?}")
    };
    assert_eq!(show.toml, "[agc]\ntarget_lufs = -19.0\n");
    // An oversized one is refused by path as by name, naming the limit.
    let big = rig.config.join("big.toml");
    let mut text = String::from("[agc]\ntarget_lufs = -20.0\n");
    text.push_str(&"# padding\n".repeat(headroomd::files::MAX_FILE_BYTES as usize / 10 + 1));
    std::fs::write(&big, text).unwrap();
    let (_, r) = rig.request(Request::ProfileShow {
        name: Some(big.to_string_lossy().into_owned()),
    });
    let e = r.unwrap_err();
    assert!(e.message.contains("1048576-byte limit"), "{}", e.message);
}

#[test]
fn oversized_files_are_refused_naming_the_limit() {
    let mut rig = Rig::new(DaemonConfig::default());
    let big = rig.config.join("profiles/big.toml");
    let mut text = String::from("[agc]\ntarget_lufs = -20.0\n");
    while text.len() <= headroomd::files::MAX_FILE_BYTES as usize {
        text.push_str("# padding padding padding padding padding padding padding padding\n");
    }
    std::fs::write(&big, text).unwrap();
    let (_, r) = rig.request(Request::ProfileShow {
        name: Some("big".into()),
    });
    let err = r.unwrap_err();
    assert!(
        err.message.contains("1048576-byte limit"),
        "{}",
        err.message
    );
}

fn sample(t: u64) -> Sample {
    Sample {
        unix_ms: 1_700_000_000_000 + t * 1000,
        ..Sample::default()
    }
}

#[test]
fn history_reads_are_bounded_and_skip_foreign_segments() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("history");
    std::fs::create_dir_all(&dir).unwrap();
    // An older segment that is /dev/zero; one with a 64 KB line before a good sample; one
    // that is a single 16 MB line (read up to a bound, held nowhere).
    std::os::unix::fs::symlink("/dev/zero", dir.join(segment_name(3))).unwrap();
    let mut seg2 = vec![b'7'; 64 << 10];
    seg2.push(b'\n');
    seg2.extend_from_slice(serde_json::to_string(&sample(1)).unwrap().as_bytes());
    seg2.push(b'\n');
    std::fs::write(dir.join(segment_name(2)), seg2).unwrap();
    std::fs::write(dir.join(segment_name(1)), vec![b'{'; 16 << 20]).unwrap();
    let h = History::new(&HistoryConfig {
        dir: Some(dir.clone()),
        ..HistoryConfig::default()
    })
    .unwrap();
    let got = within_deadline("reading the history", move || h.query(0).unwrap());
    assert_eq!(
        got.iter().map(|s| s.unix_ms).collect::<Vec<_>>(),
        vec![sample(1).unix_ms]
    );
}

#[test]
fn history_spill_never_writes_through_a_symlink() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("history");
    let victim = tmp.path().join("victim.txt");
    std::fs::write(&victim, "precious\n").unwrap();
    let mut h = History::new(&HistoryConfig {
        retention: Duration::from_secs(5),
        dir: Some(dir.clone()),
        ..HistoryConfig::default()
    })
    .unwrap();
    // The link appears while the daemon runs (segment 0 not created yet), and as segment 1,
    // which the next rotation would rename.
    std::os::unix::fs::symlink(&victim, dir.join(segment_name(0))).unwrap();
    for t in 0..50 {
        let _ = h.record(sample(t));
    }
    assert!(h.spill_errors() > 0, "the spill did not notice the link");
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious\n");
    // At start-up a link in place of the segment is refused too (history in memory only).
    let again = History::new(&HistoryConfig {
        dir: Some(dir.clone()),
        ..HistoryConfig::default()
    });
    if let Ok(mut h) = again {
        for t in 100..200 {
            let _ = h.record(sample(t));
        }
        let _ = h.flush_to_disk();
    }
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious\n");
}

#[test]
fn marks_are_never_written_through_a_symlink() {
    use headroom_ipc::{HistoryMark, MarkKind};
    use headroomd::history::MARKS_FILE;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("history");
    std::fs::create_dir_all(&dir).unwrap();
    let victim = tmp.path().join("victim.txt");
    std::fs::write(&victim, "precious\n").unwrap();
    std::os::unix::fs::symlink(&victim, dir.join(MARKS_FILE)).unwrap();
    let mut h = History::new(&HistoryConfig {
        dir: Some(dir.clone()),
        ..HistoryConfig::default()
    })
    .unwrap();
    let mark = |t: u64| HistoryMark {
        unix_ms: t,
        kind: MarkKind::Bypass,
        text: "bypass on".into(),
    };
    assert!(h.mark(mark(1)).is_err(), "the link was written through");
    // Also when the file is rewritten (twice the kept marks appended).
    for t in 2..(2 * headroomd::history::MAX_MARKS as u64 + 10) {
        let _ = h.mark(mark(t));
    }
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious\n");
    // Kept in memory all the same.
    assert!(!h.marks_since(0).is_empty());
}
