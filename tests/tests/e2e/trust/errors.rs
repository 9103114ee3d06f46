//! Errors a user and a script can read: `--json` errors on standard output with the exit
//! code kept, an active profile's error in `status` (and another profile's, told apart), a
//! broken profile shown with its errors.

use std::time::Duration;

use headroom_tests::daemon::Daemon;
use headroom_tests::{wait_for, Sandbox};

use super::{client, headroom, headroom_ok, write_user_profile};

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text.trim()).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

#[test]
fn errors_are_machine_readable_and_profile_errors_are_shown() {
    let sb = Sandbox::start().expect("sandbox");
    let path = write_user_profile(&sb, "mine", "[agc]\ntarget_lufs = -20.0\n");
    let mut d = Daemon::start(&sb, &[]).expect("headroomd");
    headroom_ok(&sb, &["profile", "use", "mine"]);

    // A refused request: the daemon's code and message on stdout, exit code 1.
    let r = headroom(&sb, &["set", "agc.target_lufs", "99", "--json"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let v = json(&r.stdout);
    assert_eq!(v["error"]["code"], "invalid_value", "{v}");
    assert!(v["error"]["message"]
        .as_str()
        .unwrap()
        .contains("agc.target_lufs"));
    assert!(
        r.stderr.contains("agc.target_lufs"),
        "stderr keeps the message"
    );
    let r = headroom(&sb, &["profile", "use", "nosuch", "--json"]);
    assert_eq!(r.code, 1);
    assert_eq!(json(&r.stdout)["error"]["code"], "not_found");

    // The active profile's file breaks (two errors): the last good profile stays, status
    // says why, in text and JSON.
    std::fs::write(
        &path,
        "bypass = 1\n[agc]\ntarget_lufs = -20.0\nrise_db_per_s = -3\n",
    )
    .unwrap();
    let st = wait_for("the error in status", Duration::from_secs(10), || {
        Ok(client(&sb).status()?.profile_error)
    })
    .unwrap_or_else(|e| panic!("{e:#}\n{}", d.log()));
    assert!(st.contains("mine.toml:1:10"), "{st}");
    let s = json(&headroom_ok(&sb, &["status", "--json"]));
    assert_eq!(s["profile"], "mine");
    assert!(s["profile_error"]
        .as_str()
        .unwrap()
        .contains("mine.toml:1:10"));
    assert_eq!(s["profile_in_force"], "last_good", "{s}");
    let text = headroom_ok(&sb, &["status"]);
    assert!(text.contains("Profile error"), "{text}");
    assert!(
        text.contains("the last good profile stays active"),
        "{text}"
    );
    // The value in force is still the last good one.
    let g = json(&headroom_ok(&sb, &["get", "agc.target_lufs", "--json"]));
    assert_eq!(g["value"], -20.0);

    // `profile show` shows the file as written and every error in it.
    let show = headroom_ok(&sb, &["profile", "show", "mine"]);
    assert!(show.contains("INVALID"), "{show}");
    assert!(show.contains("mine.toml:1:10"), "{show}");
    assert!(show.contains("mine.toml:4:17"), "{show}");
    assert!(show.contains("rise_db_per_s = -3"), "{show}");
    let sj = json(&headroom_ok(&sb, &["profile", "show", "mine", "--json"]));
    assert_eq!(sj["error"].as_str().unwrap().lines().count(), 2, "{sj}");
    // `profile list` marks it.
    let list = headroom_ok(&sb, &["profile", "list"]);
    assert!(list.contains("INVALID"), "{list}");

    // Fixed: the error goes away.
    std::fs::write(&path, "[agc]\ntarget_lufs = -21.0\n").unwrap();
    wait_for("the error cleared", Duration::from_secs(10), || {
        Ok(client(&sb).status()?.profile_error.is_none().then_some(()))
    })
    .unwrap();
    assert!(!headroom_ok(&sb, &["status"]).contains("Profile error"));

    // Another profile's file breaks: status names it and says the active profile is not
    // affected (never "the last good profile stays active").
    let other = write_user_profile(&sb, "other", "[agc]\ntarget_lufs = -20.0\n");
    std::fs::write(&other, "[agc]\ntarget_lufs = \"x\"\n").unwrap();
    wait_for("the other error in status", Duration::from_secs(10), || {
        Ok(client(&sb)
            .status()?
            .profile_error
            .filter(|e| e.contains("other.toml"))
            .map(|_| ()))
    })
    .unwrap_or_else(|e| panic!("{e:#}\n{}", d.log()));
    let s = json(&headroom_ok(&sb, &["status", "--json"]));
    assert_eq!(s["profile_error_active"], false, "{s}");
    let text = headroom_ok(&sb, &["status"]);
    assert!(text.contains("other.toml:2:15"), "{text}");
    assert!(
        text.contains("(not the active profile: `mine` is not affected)"),
        "{text}"
    );
    assert!(!text.contains("last good"), "{text}");
    // The active profile breaks too: its error is the one status reports, and a later error
    // of the other file does not hide it.
    std::fs::write(&path, "bypass = 1\n").unwrap();
    wait_for(
        "the active error in status",
        Duration::from_secs(10),
        || {
            Ok(client(&sb)
                .status()?
                .profile_error
                .filter(|e| e.contains("mine.toml"))
                .map(|_| ()))
        },
    )
    .unwrap_or_else(|e| panic!("{e:#}\n{}", d.log()));
    std::fs::write(&other, "[agc]\n\ntarget_lufs = \"y\"\n").unwrap();
    wait_for("the other error logged", Duration::from_secs(10), || {
        Ok(d.log().contains("other.toml:3:15").then_some(()))
    })
    .unwrap();
    let s = json(&headroom_ok(&sb, &["status", "--json"]));
    assert!(
        s["profile_error"]
            .as_str()
            .unwrap()
            .contains("mine.toml:1:10"),
        "{s}"
    );
    assert_eq!(s["profile_error_active"], true, "{s}");
    assert!(
        headroom_ok(&sb, &["status"]).contains("the last good profile stays active"),
        "{s}"
    );
    std::fs::write(&path, "[agc]\ntarget_lufs = -21.0\n").unwrap();
    std::fs::remove_file(&other).unwrap();
    wait_for("the errors cleared", Duration::from_secs(10), || {
        Ok(client(&sb).status()?.profile_error.is_none().then_some(()))
    })
    .unwrap();

    // Broken when the daemon starts, the file has no last good version: what is in force is
    // the fallback the log names, and status says which, never "the last good profile".
    let in_force = |d: &Daemon, wire: &str, text: &str, log: &str, alert: &str| {
        let s = json(&headroom_ok(&sb, &["status", "--json"]));
        assert!(s["profile_error"].is_string(), "{s}");
        assert_eq!(s["profile_in_force"], wire, "{s}");
        // The alert says the same.
        let message = s["alerts"]
            .as_array()
            .and_then(|a| a.iter().find(|a| a["kind"] == "profile_error"))
            .and_then(|a| a["message"].as_str())
            .unwrap_or_else(|| panic!("no profile_error alert: {s}"))
            .to_owned();
        assert!(message.ends_with(alert), "{message}");
        assert!(!message.contains("last good"), "{message}");
        let status = headroom_ok(&sb, &["status"]);
        assert!(status.contains(text), "{status}");
        assert!(!status.contains("last good"), "{status}");
        assert!(d.log().contains(log), "{}", d.log());
    };
    std::fs::write(&path, "[agc]\ntarget_lufs = 99\n").unwrap();
    d.terminate().unwrap();
    let mut d = Daemon::start(&sb, &[]).expect("headroomd");
    in_force(
        &d,
        "built_in",
        "(in force: the built-in defaults)",
        "using the built-in defaults",
        "(the built-in defaults are in force)",
    );
    // A reload that still fails says the same of what stays in force.
    let r = headroom(&sb, &["profile", "reload"]);
    assert_ne!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr.contains("(the built-in defaults stay in force)"),
        "{}",
        r.stderr
    );
    // A user file in place of a shipped profile falls back to the shipped one.
    headroom_ok(&sb, &["profile", "use", "night"]);
    write_user_profile(&sb, "night", "[agc]\ntarget_lufs = 99\n");
    wait_for("the night error in status", Duration::from_secs(10), || {
        Ok(client(&sb)
            .status()?
            .profile_error
            .filter(|e| e.contains("night.toml"))
            .map(|_| ()))
    })
    .unwrap_or_else(|e| panic!("{e:#}\n{}", d.log()));
    d.terminate().unwrap();
    let mut d = Daemon::start(&sb, &[]).expect("headroomd");
    in_force(
        &d,
        "shipped",
        "(in force: the shipped `night` profile)",
        "using the shipped `night` profile",
        "(the shipped profile of that name is in force)",
    );
    d.terminate().unwrap();
}

/// `monitor --json` started before the daemon waits for it; a daemon killed with SIGKILL
/// leaves its socket file, which the command line reports as a daemon that is not running
/// (connection refused), not as a missing socket; the monitor follows the restarted daemon.
#[test]
fn killed_daemon_is_reported_and_monitor_json_follows_it_back() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;

    let sb = Sandbox::start().expect("sandbox");
    let bin = headroom_tests::workspace_bin("headroom").expect("headroom built");
    let mut mon = sb
        .command(&bin)
        .args(["monitor", "--json", "daemon"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // A bound on the whole test: the monitor is killed if it is still running then.
    let (done, watch) = std::sync::mpsc::channel::<()>();
    let pid = mon.id().to_string();
    let watchdog = std::thread::spawn(move || {
        if watch.recv_timeout(Duration::from_secs(120)).is_err() {
            let _ = std::process::Command::new("kill").arg(&pid).status();
        }
    });
    let mut notes = BufReader::new(mon.stderr.take().unwrap()).lines();
    let mut events = BufReader::new(mon.stdout.take().unwrap()).lines();
    let mut note = || notes.next().expect("a note on stderr").unwrap();
    // Reads events until the `daemon` topic's snapshot (each connection starts with it).
    let mut snapshot = || loop {
        let line = events.next().expect("an event line").unwrap();
        let v = json(&line);
        if v["topic"] == "daemon" && v["event"] == "snapshot" {
            return v;
        }
    };
    assert!(note().contains("not running; waiting for it"));

    let mut d = Daemon::start(&sb, &[]).expect("headroomd");
    snapshot();
    assert!(note().contains("connected to headroomd"));
    d.kill9();
    assert!(note().contains("closed the connection; waiting"));
    let r = headroom(&sb, &["status"]);
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("headroomd is not running (connection refused"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("systemctl --user start headroomd"),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains("no control socket"), "{}", r.stderr);

    let mut d = Daemon::start(&sb, &[]).expect("headroomd again");
    snapshot();
    let _ = mon.kill();
    let _ = mon.wait();
    let _ = done.send(());
    watchdog.join().unwrap();
    d.terminate().expect("clean exit");
}
