//! One headroomd per user: a second daemon with another socket path is refused before it
//! touches the control socket, the state files or PipeWire.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use headroomd::instance::{InstanceLock, LOCK_FILE_NAME};

/// Runs the `headroomd` binary in private directories under `root`, with its socket at
/// `socket`; kills it if it is still running after 10 s. Returns its exit code and stderr.
fn run_daemon(root: &Path, socket: &Path) -> (Option<i32>, String) {
    run_daemon_with(root, socket, &[], &[])
}

/// [`run_daemon`] with `env` added and `args` given.
fn run_daemon_with(
    root: &Path,
    socket: &Path,
    env: &[(&str, &str)],
    args: &[&str],
) -> (Option<i32>, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_headroomd"))
        .args(args)
        .env_clear()
        .envs(env.iter().copied())
        .env("HOME", root.join("home"))
        .env("XDG_CONFIG_HOME", root.join("config"))
        .env("XDG_STATE_HOME", root.join("state"))
        .env("XDG_RUNTIME_DIR", root.join("run"))
        .env("HEADROOM_SOCKET", socket)
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start headroomd");
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            break child.wait().unwrap();
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    (status.code(), err)
}

/// Where [`another_daemon_running`] keeps its state and socket, under its temporary home.
const STATE_DIR: &str = "state/headroom";
const FIRST_SOCKET: &str = "run/headroom/control.sock";

/// A temporary home whose instance lock is held, as by a headroomd running there (this
/// process holds it until the returned lock is dropped).
fn another_daemon_running() -> (tempfile::TempDir, InstanceLock) {
    let tmp = tempfile::tempdir().unwrap();
    let lock =
        InstanceLock::acquire(&tmp.path().join(STATE_DIR), &tmp.path().join(FIRST_SOCKET)).unwrap();
    (tmp, lock)
}

#[test]
fn a_second_daemon_with_another_socket_is_refused_before_touching_anything() {
    let (tmp, _running) = another_daemon_running();
    let state_dir = tmp.path().join(STATE_DIR);
    let first_socket = tmp.path().join(FIRST_SOCKET);

    let second_socket = tmp.path().join("x/control.sock");
    let (code, err) = run_daemon(tmp.path(), &second_socket);
    assert_eq!(code, Some(1), "{err}");
    let expected = format!(
        "another headroomd is already running (pid {}, socket {}; lock {})",
        std::process::id(),
        first_socket.display(),
        state_dir.join(LOCK_FILE_NAME).display()
    );
    assert!(err.contains(&expected), "{err}");
    assert!(!second_socket.exists(), "no socket bound");
    assert!(
        !second_socket.parent().unwrap().exists(),
        "nor its directory"
    );
    let mut left: Vec<_> = std::fs::read_dir(&state_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    left.sort();
    assert_eq!(left, [LOCK_FILE_NAME], "no state file touched");
    assert!(
        !err.contains("PipeWire"),
        "refused before PipeWire is reached: {err}"
    );
}

/// A socket path longer than a Unix socket address holds is one clear error naming the
/// path and the limit (it said "path must be shorter than SUN_LEN" twice), given before
/// anything is made: neither the socket's folder nor the state directory.
#[test]
fn a_socket_path_too_long_is_refused_before_anything_is_made() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("d".repeat(100));
    let socket = dir.join("control.sock");
    let len = socket.as_os_str().len();
    let (code, err) = run_daemon(tmp.path(), &socket);
    assert_eq!(code, Some(1), "{err}");
    let expected = format!(
        "control socket path {} is {len} bytes long; a Unix socket path holds at most 107",
        socket.display()
    );
    assert!(err.contains(&expected), "{err}");
    assert_eq!(err.matches("bytes long").count(), 1, "{err}");
    assert!(!err.contains("SUN_LEN"), "{err}");
    assert!(!dir.exists(), "the socket's folder was made");
    assert!(
        !tmp.path().join(STATE_DIR).exists(),
        "the state folder was made"
    );
}

/// A start-up error is one line, `headroomd: MESSAGE` as the `headroom` command's are (it
/// was `Error: MESSAGE`), whatever RUST_BACKTRACE says (set, `main` returning the error
/// printed its `Debug` form: the message, then 40 frames of stack backtrace).
#[test]
fn a_start_up_error_is_one_line_with_rust_backtrace_set() {
    let (tmp, _running) = another_daemon_running();
    let (code, err) = run_daemon_with(
        tmp.path(),
        &tmp.path().join("x/control.sock"),
        &[("RUST_BACKTRACE", "1"), ("RUST_LIB_BACKTRACE", "1")],
        &[],
    );
    assert_eq!(code, Some(1), "{err}");
    let errors: Vec<&str> = err
        .lines()
        .filter(|l| l.starts_with("headroomd: "))
        .collect();
    assert_eq!(errors.len(), 1, "{err}");
    assert!(!err.contains("Error: "), "{err}");
    assert!(
        errors[0].contains("another headroomd is already running"),
        "{err}"
    );
    assert!(
        !err.contains("backtrace") && !err.contains("Backtrace"),
        "{err}"
    );
}

/// `--config` naming no file in an existing folder is said (it was silent: the defaults
/// were used, and a typo in the path went unnoticed).
#[test]
fn a_config_file_given_by_hand_that_does_not_exist_is_warned_about() {
    let (tmp, _running) = another_daemon_running();
    let missing = tmp.path().join("conifg.toml");
    let (_, err) = run_daemon_with(
        tmp.path(),
        &tmp.path().join("x/control.sock"),
        &[],
        &["--config", missing.to_str().unwrap()],
    );
    assert!(
        err.contains(&format!("--config {}: no such file", missing.display())),
        "{err}"
    );
}

/// `--config` naming a file in a folder that does not exist is a typo: one clear error
/// naming the folder, and nothing made. It was taken for a first start: the daemon made the
/// folders (to watch them) and started with the defaults, a warning in its log the only
/// trace.
#[test]
fn a_config_file_in_a_missing_folder_is_refused_and_nothing_is_made() {
    let tmp = tempfile::tempdir().unwrap();
    let folder = tmp.path().join("no-such/dir");
    let config = folder.join("c.toml");
    let socket = tmp.path().join("run/headroom/control.sock");
    let (code, err) = run_daemon_with(
        tmp.path(),
        &socket,
        &[],
        &["--config", config.to_str().unwrap()],
    );
    assert_eq!(code, Some(1), "{err}");
    let expected = format!(
        "--config {}: the folder {} does not exist",
        config.display(),
        folder.display()
    );
    assert!(err.contains(&expected), "{err}");
    assert!(!tmp.path().join("no-such").exists(), "the folder was made");
    assert!(!socket.exists(), "no socket bound");
}

/// `--real-sink headroom-processed` would have headroom play into its own sink; `set
/// preferred_real_sink` refuses that, and the flag (or `HEADROOM_REAL_SINK`) was ignored
/// without a word. It is refused at start, naming the flag, before anything is bound.
#[test]
fn headrooms_own_sink_as_the_real_sink_is_refused_at_start() {
    for (env, args) in [
        (None, vec!["--real-sink", "headroom-processed"]),
        (Some("headroom-processed"), vec![]),
    ] {
        let tmp = tempfile::tempdir().unwrap();
        let socket = tmp.path().join("run/headroom/control.sock");
        let envs: Vec<(&str, &str)> = env.map(|v| ("HEADROOM_REAL_SINK", v)).into_iter().collect();
        let (code, err) = run_daemon_with(tmp.path(), &socket, &envs, &args);
        assert_eq!(code, Some(1), "{err}");
        assert!(
            err.contains(
                "the real sink `headroom-processed` (--real-sink or HEADROOM_REAL_SINK) is \
                 headroomd's own node"
            ),
            "{err}"
        );
        assert!(!socket.exists(), "a socket was bound");
    }
}
