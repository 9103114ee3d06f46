//! The `headroom` binary against a real headroomd in a private PipeWire sandbox.
//! Needs the workspace binaries built (`cargo build --workspace --bins`; `make test` does).

use std::io::{BufRead, BufReader};
use std::process::{Output, Stdio};
use std::time::Duration;

use crate::support::BIN;
use headroom_tests::daemon::{write_wav, Daemon, BUS_SINK};
use headroom_tests::{sine, wait_for, Sandbox};

fn run(sb: &Sandbox, args: &[&str]) -> Output {
    sb.command(BIN)
        .args(args)
        .env_remove("HEADROOM_SOCKET")
        .output()
        .expect("run headroom")
}

fn ok_json(sb: &Sandbox, args: &[&str]) -> serde_json::Value {
    let mut a = vec!["--json"];
    a.extend_from_slice(args);
    let out = run(sb, &a);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{args:?}: {e}: {}", String::from_utf8_lossy(&out.stdout)))
}

#[test]
fn commands_against_a_live_daemon() {
    let sb = Sandbox::start().expect("sandbox");
    let mut d = Daemon::start(&sb, &[]).expect("headroomd");

    let st = ok_json(&sb, &["status"]);
    assert_eq!(st["pipewire"]["state"], "connected", "{st}");
    assert_eq!(st["processed_sink"], BUS_SINK);
    assert_eq!(st["profile"], "default");
    let human = run(&sb, &["status"]);
    let text = String::from_utf8_lossy(&human.stdout);
    assert!(text.starts_with("State      "), "{text}");
    assert!(text.lines().any(|l| l.starts_with("headroomd ")), "{text}");

    // Settings: a negative value round-trips; reset restores the profile value.
    let e = ok_json(&sb, &["set", "agc.target_lufs", "-18"]);
    assert_eq!(e["value"].as_f64(), Some(-18.0), "{e}");
    assert_eq!(e["overridden"], true);
    let e = ok_json(&sb, &["get", "agc.target_lufs"]);
    assert_eq!(e["value"].as_f64(), Some(-18.0), "{e}");
    ok_json(&sb, &["setting", "reset", "--all"]);
    let e = ok_json(&sb, &["get", "agc.target_lufs"]);
    assert_eq!(e["overridden"], false, "{e}");
    let bad = run(&sb, &["set", "agc.target_lufs", "+99"]);
    assert_eq!(bad.status.code(), Some(1));

    // Bypass and profiles.
    assert_eq!(ok_json(&sb, &["bypass", "on"])["bypass"], true);
    assert_eq!(ok_json(&sb, &["status"])["bypass"], true);
    assert_eq!(ok_json(&sb, &["bypass", "toggle"])["bypass"], false);
    assert_eq!(ok_json(&sb, &["profile", "use", "night"])["name"], "night");
    let list = ok_json(&sb, &["profile", "list"]);
    assert_eq!(list["active"], "night", "{list}");
    assert_eq!(ok_json(&sb, &["status"])["profile"], "night");
    let missing = run(&sb, &["profile", "use", "no-such-profile"]);
    assert_eq!(missing.status.code(), Some(1));

    // A playing app shows up in `route list`; a rule for it is listed.
    let wav = write_wav(&sb, "tone.wav", &sine(440.0, -20.0, 20.0)).unwrap();
    let mut player = sb
        .play_cmd(&wav, BUS_SINK, &["application.name=clitest"])
        .spawn()
        .unwrap();
    let routes = wait_for("the stream in route list", Duration::from_secs(10), || {
        let r = ok_json(&sb, &["route", "list"]);
        let found = r["streams"]
            .as_array()
            .is_some_and(|s| s.iter().any(|x| x["app"] == "clitest"));
        Ok(found.then_some(r))
    })
    .unwrap();
    assert!(routes["streams"].is_array());
    ok_json(&sb, &["route", "set", "clitest", "bypass"]);
    let r = ok_json(&sb, &["route", "list"]);
    assert!(
        r["rules"]
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x["app"] == "clitest" && x["route"] == "bypass"),
        "{r}"
    );
    ok_json(&sb, &["route", "unset", "clitest"]);

    // History fills once a second.
    let h = wait_for("history samples", Duration::from_secs(10), || {
        let h = ok_json(&sb, &["history", "--since", "1m"]);
        Ok(h["samples"]
            .as_array()
            .is_some_and(|s| !s.is_empty())
            .then_some(h))
    })
    .unwrap();
    assert_eq!(h["interval_ms"], 1000);

    // monitor --json streams NDJSON meter ticks.
    let mut mon = sb
        .command(BIN)
        .args(["monitor", "--json", "meters"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(mon.stdout.take().unwrap()).lines();
    for _ in 0..3 {
        let line = lines.next().expect("an event line").unwrap();
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["topic"], "meters", "{line}");
    }
    let _ = mon.kill();
    let _ = mon.wait();
    let _ = player.kill();
    let _ = player.wait();

    // Daemon gone: exit code 3.
    d.terminate().unwrap();
    let out = run(&sb, &["status"]);
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Bad input to `set`, `get`, `route` and `profile` gets one line on stderr naming the bad
/// value and what is valid, and exit code 1; nothing on stdout.
#[test]
fn bad_input_gets_one_clear_line() {
    let sb = Sandbox::start().expect("sandbox");
    let _d = Daemon::start(&sb, &[]).expect("headroomd");
    let profiles = "default, music, night, speech";
    let cases: &[(&[&str], &[&str])] = &[
        // Unknown keys: a typo gets the key meant, anything else the keys that exist.
        (
            &["get", "agc.targte_lufs"],
            &["`agc.targte_lufs`", "did you mean `agc.target_lufs`?"],
        ),
        (
            &["set", "agc.target", "-18"],
            &["`agc.target`", "agc.target_lufs"],
        ),
        (&["get", "volume"], &["`volume`", "agc.*", "limiter.*"]),
        (
            &["setting", "reset", "volume"],
            &["`volume`", "agc.*", "limiter.*"],
        ),
        // Values out of range or of the wrong type: the value and the valid range.
        (
            &["set", "agc.target_lufs", "99"],
            &["agc.target_lufs = 99", "between -40 and -5"],
        ),
        (
            &["set", "agc.target_lufs", "abc"],
            &["\"abc\"", "a number between -40 and -5"],
        ),
        (&["set", "bypass", "maybe"], &["\"maybe\"", "true/false"]),
        (
            &["set", "route.default", "sideways"],
            &["\"sideways\"", "\"processed\" or \"bypass\""],
        ),
        // Profiles that do not exist, by name or by path: the profiles that do.
        (&["profile", "use", "nosuch"], &["`nosuch`", profiles]),
        (&["profile", "show", "nosuch"], &["`nosuch`", profiles]),
        (
            &["profile", "use", "/nonexistent/mine.toml"],
            &["/nonexistent/mine.toml", profiles],
        ),
        // Route rules: a pattern that is no glob, a rule that does not exist.
        (
            &["route", "set", "fire[fox", "bypass"],
            &["`fire[fox`", "unclosed `[`"],
        ),
        (
            &["route", "unset", "nosuch"],
            &["`nosuch`", "there are no user rules"],
        ),
    ];
    let check = |args: &[&str], needles: &[&str]| {
        let out = run(&sb, args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
        assert!(out.stdout.is_empty(), "{args:?} printed on stdout");
        assert_eq!(err.lines().count(), 1, "{args:?}: not one line: {err}");
        assert!(err.starts_with("headroom: "), "{args:?}: {err}");
        for n in needles {
            assert!(err.contains(n), "{args:?}: lacks {n:?}: {err}");
        }
    };
    for (args, needles) in cases {
        check(args, needles);
    }
    // With rules, the rules that exist.
    ok_json(&sb, &["route", "set", "firefox", "bypass"]);
    check(&["route", "unset", "chrome"], &["`chrome`", "`firefox`"]);
}
