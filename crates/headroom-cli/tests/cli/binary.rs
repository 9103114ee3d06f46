//! The built `headroom` binary: exit codes, messages, help, completions and man pages.

use crate::support::{assert_fails, headroom, in_private_dirs, text, BIN};
use std::process::Command;

#[test]
fn daemon_down_exits_3_with_how_to_start() {
    let dir = tempfile::tempdir().unwrap();
    for args in [
        &["status"][..],
        &["route", "list"],
        &["set", "agc.target_lufs", "-18"],
        &["get", "agc.target_lufs"],
        &["settings"],
        &["setting", "reset", "--all"],
        &["profile", "list"],
        &["bypass", "toggle"],
        &["history", "--since", "5m"],
        &["monitor"],
        &["monitor", "--no-wait"],
        &["monitor", "--json", "--no-wait", "meters"],
        &["--json", "status"],
    ] {
        let out = headroom(dir.path(), args);
        assert_eq!(
            out.status.code(),
            Some(3),
            "{args:?}: {}",
            text(&out.stderr)
        );
        let err = text(&out.stderr);
        assert_eq!(err.lines().count(), 1, "{args:?}: not one line: {err}");
        assert!(err.contains("headroomd is not running"), "{args:?}: {err}");
        assert!(
            err.contains("systemctl --user start headroomd"),
            "{args:?}: {err}"
        );
        if args.contains(&"--json") {
            // The error, machine-readable, on standard output (one line).
            let v: serde_json::Value = serde_json::from_str(text(&out.stdout).trim())
                .unwrap_or_else(|e| panic!("{args:?}: {e}: {}", text(&out.stdout)));
            assert_eq!(v["error"]["code"], "daemon_down", "{args:?}");
            assert!(v["error"]["message"]
                .as_str()
                .unwrap()
                .contains("headroomd is not running"));
        } else {
            assert!(
                out.stdout.is_empty(),
                "{args:?} printed {}",
                text(&out.stdout)
            );
        }
    }
}

#[test]
fn socket_env_points_elsewhere() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("custom.sock");
    let out = Command::new(BIN)
        .arg("status")
        .env("HEADROOM_SOCKET", &sock)
        .output()
        .unwrap();
    assert_fails(&out, 3, "custom.sock");
}

/// A socket file left by a daemon that was killed (`kill -9`): nobody accepts on it.
#[test]
fn left_over_socket_says_daemon_not_running() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("headroom/control.sock");
    std::fs::create_dir_all(sock.parent().unwrap()).unwrap();
    drop(std::os::unix::net::UnixListener::bind(&sock).unwrap());
    let out = headroom(dir.path(), &["status"]);
    assert_fails(&out, 3, "headroomd is not running (connection refused");
    assert_fails(&out, 3, "left over from a daemon that stopped");
    assert_fails(&out, 3, "systemctl --user start headroomd");
    assert!(!text(&out.stderr).contains("no control socket"));
    let out = headroom(dir.path(), &["status", "--json"]);
    let v: serde_json::Value = serde_json::from_str(text(&out.stdout).trim()).unwrap();
    assert_eq!(v["error"]["code"], "daemon_down");
}

#[test]
fn empty_socket_env_counts_as_unset() {
    let dir = tempfile::tempdir().unwrap();
    let out = in_private_dirs(Command::new(BIN).arg("status"), dir.path())
        .env("HEADROOM_SOCKET", "")
        .output()
        .unwrap();
    // The default path, as headroomd uses it with the same environment.
    let default = dir.path().join("headroom/control.sock");
    assert_fails(&out, 3, &default.display().to_string());
    // `--socket` still wins over the variable, and an empty `--socket` is refused.
    let out = in_private_dirs(
        Command::new(BIN).args(["status", "--socket", "/nonexistent/x.sock"]),
        dir.path(),
    )
    .env("HEADROOM_SOCKET", dir.path().join("other.sock"))
    .output()
    .unwrap();
    assert_fails(&out, 3, "/nonexistent/x.sock");
    let out = headroom(dir.path(), &["status", "--socket", ""]);
    assert_fails(&out, 2, "--socket");
}

#[test]
fn usage_errors_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    for args in [
        &["frobnicate"][..],
        &["bypass", "sideways"],
        &["route", "set", "mpv", "elsewhere"],
        &["setting", "reset"],
        &["history", "--since", "soon"],
        &["monitor", "nosuchtopic"],
        &["render", "a.wav"],
    ] {
        let out = headroom(dir.path(), args);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?}: {}",
            text(&out.stderr)
        );
    }
}

/// A value clap refuses is one line naming it and, where there is a list, the valid values.
#[test]
fn invalid_values_are_one_line_with_the_valid_ones() {
    let dir = tempfile::tempdir().unwrap();
    for (args, needles) in [
        (
            &["route", "set", "mpv", "elsewhere"][..],
            &["'elsewhere'", "(possible values: processed, bypass)"][..],
        ),
        (
            &["bypass", "sideways"],
            &["'sideways'", "(possible values: on, off, toggle)"],
        ),
        (
            &["history", "--since", "soon"],
            &["`soon` is not a duration (try 90s, 10m, 2h, 1d)"],
        ),
    ] {
        let out = headroom(dir.path(), args);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{args:?}: not one line: {err}");
        assert!(err.starts_with("error: invalid value "), "{args:?}: {err}");
        for n in needles {
            assert!(err.contains(n), "{args:?}: lacks {n:?}: {err}");
        }
    }
}

#[test]
fn help_documents_exit_codes() {
    let dir = tempfile::tempdir().unwrap();
    let out = headroom(dir.path(), &["--help"]);
    assert_eq!(out.status.code(), Some(0));
    let help = text(&out.stdout);
    assert!(help.contains("Exit codes:"), "{help}");
    assert!(help.contains("3  headroomd is not running"), "{help}");
    let out = headroom(dir.path(), &["render", "--help"]);
    assert!(text(&out.stdout).contains("time-aligned"));
}

#[test]
fn completions_and_man_page() {
    let dir = tempfile::tempdir().unwrap();
    for shell in ["bash", "zsh", "fish"] {
        let out = headroom(dir.path(), &["completions", shell]);
        assert_eq!(out.status.code(), Some(0), "{shell}");
        let s = text(&out.stdout);
        assert!(
            s.contains("headroom") && s.contains("monitor"),
            "{shell}: {s}"
        );
    }
    let out = headroom(dir.path(), &["man"]);
    assert_eq!(out.status.code(), Some(0));
    let man = text(&out.stdout);
    assert!(
        man.starts_with(".ie") || man.contains(".TH headroom"),
        "{man}"
    );
    assert!(
        man.contains(".SH \"EXIT STATUS\""),
        "man page lacks the exit codes"
    );
}

#[test]
fn validate_reports_file_line_col() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.toml");
    std::fs::write(&good, "description = \"fine\"\n[agc]\ntarget_lufs = -18\n").unwrap();
    let out = headroom(dir.path(), &["validate", good.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("ok"));
    // A long description is cut on the one-line summary.
    let long = dir.path().join("long.toml");
    std::fs::write(
        &long,
        format!("description = \"{}\"\n", "x".repeat(100_000)),
    )
    .unwrap();
    let out = headroom(dir.path(), &["validate", long.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let said = text(&out.stdout);
    assert!(
        said.len() < 300 && said.contains("x…"),
        "{} bytes",
        said.len()
    );

    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "[agc]\ntarget_lufs = -18\ntargte_lufs = -20\n").unwrap();
    let out = headroom(dir.path(), &["validate", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    let prefix = format!("{}:3:1: ", bad.display());
    assert!(err.contains(&prefix), "{err}");

    let out = headroom(dir.path(), &["validate", "/nonexistent.toml"]);
    assert_eq!(out.status.code(), Some(1));

    // A symlink that leads nowhere says where it points, as the daemon says it.
    let (a, b) = (dir.path().join("a.toml"), dir.path().join("b.toml"));
    std::os::unix::fs::symlink(&b, &a).unwrap();
    std::os::unix::fs::symlink(&a, &b).unwrap();
    let out = headroom(dir.path(), &["validate", a.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("lead back in a loop"),
        "{}",
        text(&out.stderr)
    );
    let dangling = dir.path().join("dangling.toml");
    std::os::unix::fs::symlink(dir.path().join("gone.toml"), &dangling).unwrap();
    let out = headroom(dir.path(), &["validate", dangling.to_str().unwrap()]);
    assert!(
        text(&out.stderr).contains("gone.toml, which does not exist"),
        "{}",
        text(&out.stderr)
    );
}

/// A user's profile copied from `default` with a low target keeps `default`'s cut, which
/// cannot bring loud programme down to it (an outside test: −30 LUFS with 24 dB came out
/// 3.7 LU over for full-scale music, and `validate` said "ok"). Valid, with a warning;
/// the shipped profiles have none.
#[test]
fn validate_warns_of_a_cut_short_of_the_target() {
    let dir = tempfile::tempdir().unwrap();
    let low = dir.path().join("low.toml");
    std::fs::write(&low, "[agc]\ntarget_lufs = -30\nmax_cut_db = 24\n").unwrap();
    let out = headroom(dir.path(), &["validate", low.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let said = text(&out.stdout);
    assert!(
        said.contains("ok")
            && said.contains("warning: agc.max_cut_db = 24")
            && said.contains("25 dB"),
        "{said}"
    );
    let out = headroom(dir.path(), &["--json", "validate", low.to_str().unwrap()]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["valid"], true);
    assert_eq!(v["warnings"].as_array().map(Vec::len), Some(1), "{v}");
    for (name, _) in headroom_profile::shipped_profiles() {
        let p = headroom_profile::Profile::shipped(name).unwrap().unwrap();
        assert!(p.advice().is_empty(), "{name}: {:?}", p.advice());
    }
}

/// A target the ceiling leaves no room for: valid, but programme comes out under it (an
/// outside test: −8 LUFS under a −7 dBTP ceiling rendered dialogue and adverts at −15.9, and
/// neither `validate` nor `render` said a word).
#[test]
fn validate_and_render_warn_of_a_target_too_close_to_the_ceiling() {
    let dir = tempfile::tempdir().unwrap();
    let tight = dir.path().join("tight.toml");
    std::fs::write(
        &tight,
        "[agc]\ntarget_lufs = -8\nmax_cut_db = 40\n[limiter]\nceiling_dbtp = -7\n",
    )
    .unwrap();
    let out = headroom(dir.path(), &["validate", tight.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let said = text(&out.stdout);
    assert!(
        said.contains("warning: agc.target_lufs = -8 is only 1 LU under limiter.ceiling_dbtp = -7"),
        "{said}"
    );
    // `render` says it too (not with -q), and renders.
    let src = dir.path().join("in.wav");
    crate::support::audio::tone(-20.0, 1.0)
        .write_wav(&src, headroom_cli::audio::OutputSamples::S16)
        .unwrap();
    let dst = dir.path().join("out.wav");
    let args = |quiet: bool| {
        let mut a = vec!["render"];
        if quiet {
            a.push("-q");
        }
        a.extend([
            "--profile",
            tight.to_str().unwrap(),
            src.to_str().unwrap(),
            dst.to_str().unwrap(),
        ]);
        a
    };
    let out = headroom(dir.path(), &args(false));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("headroom: warning: agc.target_lufs = -8 is only 1 LU"),
        "{}",
        text(&out.stderr)
    );
    std::fs::remove_file(&dst).unwrap();
    let out = headroom(dir.path(), &args(true));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stderr), "");
    // The limiter off: no ceiling, no warning.
    let out = headroom(
        dir.path(),
        &[
            "render",
            "--set",
            "agc.target_lufs=-8",
            "--set",
            "limiter.ceiling_dbtp=-7",
            "--set",
            "limiter.enabled=false",
            src.to_str().unwrap(),
            dst.to_str().unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        !text(&out.stderr).contains("warning"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn validate_checks_the_daemon_config_as_the_daemon_reads_it() {
    // A file named config.toml is headroomd's configuration, not a profile: it was read as
    // one (`unknown key `profile``) and a typo the daemon ignores was not shown at all.
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("config.toml");
    let c = cfg.display().to_string();
    std::fs::write(&cfg, "profle = \"night\"\n[alerts]\nnotify = true\n").unwrap();
    let out = headroom(dir.path(), &["validate", &c]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        format!(
            "{c}:1:1: unknown key `profle` (did you mean `profile`?); ignored\n\
             {c}: ok (headroomd config: profile `default`, desktop notifications on)\n"
        )
    );
    // Every error at once: a value of the wrong type and a profile that does not load.
    std::fs::write(&cfg, "profile = \"nigth\"\n[alerts]\nnotify = \"yes\"\n").unwrap();
    let out = headroom(dir.path(), &["validate", &c]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains(&format!("{c}:3:10: `alerts.notify` must be true or false")),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "{c}:1:11: profile `nigth` does not load: no profile `nigth`"
        )),
        "{err}"
    );
    // --json: what the daemon would run with.
    std::fs::write(&cfg, "profile = \"night\"\n").unwrap();
    let out = headroom(dir.path(), &["validate", &c, "--json"]);
    assert_eq!(out.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_str(text(&out.stdout).trim()).unwrap();
    assert_eq!(v["kind"], "config");
    assert_eq!(v["profile"], "night");
    assert_eq!(v["notify"], false);
}

#[test]
fn validate_reports_every_error_and_json_errors_go_to_stdout() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        "bypass = 1\n[agc]\ntarget_lufs = 99\n[limiter]\nceilng_dbtp = -1\n",
    )
    .unwrap();
    let b = bad.display().to_string();
    let out = headroom(dir.path(), &["validate", &b]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    // One line per problem, each `headroom: FILE:LINE:COL: …` alike.
    let want = format!(
        "headroom: {b}:1:10: bypass must be a boolean (true or false), found an integer\n\
         headroom: {b}:3:15: agc.target_lufs = 99 is out of range (must be between -40 and -5)\n\
         headroom: {b}:5:1: unknown key `ceilng_dbtp` in [limiter] (did you mean `ceiling_dbtp`?)\n"
    );
    assert_eq!(err, want);
    assert!(out.stdout.is_empty());

    // --json: the same on standard output as {"error":{"code","message"}}, exit code kept.
    let out = headroom(dir.path(), &["validate", &b, "--json"]);
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_str(text(&out.stdout).trim()).unwrap();
    assert_eq!(v["error"]["code"], "failed");
    let message: String = v["error"]["message"]
        .as_str()
        .unwrap()
        .lines()
        .map(|l| format!("headroom: {l}\n"))
        .collect();
    assert_eq!(message, want);

    // A usage error with --json: code `usage`, exit code 2.
    let out = headroom(dir.path(), &["--json", "set", "agc.target_lufs"]);
    assert_eq!(out.status.code(), Some(2));
    let v: serde_json::Value = serde_json::from_str(text(&out.stdout).trim()).unwrap();
    assert_eq!(v["error"]["code"], "usage", "{v}");
    assert!(!v["error"]["message"].as_str().unwrap().is_empty());
    // A group without its subcommand (`headroom --json route`): the same, not only clap's
    // help on standard error (stdout was empty).
    for group in ["route", "profile", "setting", "service"] {
        let out = headroom(dir.path(), &["--json", group]);
        assert_eq!(out.status.code(), Some(2), "{group}");
        let v: serde_json::Value = serde_json::from_str(text(&out.stdout).trim())
            .unwrap_or_else(|e| panic!("{group}: {e}: {:?}", text(&out.stdout)));
        assert_eq!(v["error"]["code"], "usage", "{v}");
        let msg = v["error"]["message"].as_str().unwrap();
        assert!(msg.contains(&format!("headroom {group}")), "{msg}");
    }
    // `--set KEY VALUE` (a space instead of `=`): a hint that says how to write it.
    for json in [false, true] {
        let mut args = vec![
            "render",
            "in.wav",
            "out.wav",
            "--set",
            "agc.target_lufs",
            "-20",
        ];
        if json {
            args.push("--json");
        }
        let out = headroom(dir.path(), &args);
        assert_eq!(out.status.code(), Some(2));
        let hint = "--set takes KEY=VALUE as one argument: --set agc.target_lufs=-20";
        if json {
            let v: serde_json::Value = serde_json::from_str(text(&out.stdout).trim()).unwrap();
            assert!(
                v["error"]["message"].as_str().unwrap().contains(hint),
                "{v}"
            );
        } else {
            let err = text(&out.stderr);
            assert!(err.contains(hint), "{err}");
            assert!(!err.contains("'-- -2'"), "clap's tip does not apply: {err}");
        }
    }
    // --help stays help.
    let out = headroom(dir.path(), &["--json", "--help"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(text(&out.stdout).contains("Usage"));
}

#[test]
fn man_dir_writes_a_page_per_subcommand() {
    let dir = tempfile::tempdir().unwrap();
    let mandir = dir.path().join("man1");
    let out = headroom(dir.path(), &["man", "--dir", mandir.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    for page in [
        "headroom.1",
        "headroom-status.1",
        "headroom-render.1",
        "headroom-profile-use.1",
    ] {
        let t = std::fs::read_to_string(mandir.join(page)).unwrap_or_default();
        assert!(t.contains(".TH"), "{page} missing or not a man page");
    }
    // The settings list of `headroom set` comes from the profile schema: every key, with its
    // description.
    let set_page = std::fs::read_to_string(mandir.join("headroom-set.1")).unwrap();
    let help = text(&headroom(dir.path(), &["set", "--help"]).stdout);
    for info in headroom_profile::Profile::keys() {
        assert!(set_page.contains(info.key), "man page lacks {}", info.key);
        assert!(help.contains(info.key), "--help lacks {}", info.key);
        assert!(
            help.contains(info.doc),
            "--help lacks the doc of {}",
            info.key
        );
    }
}

#[test]
fn a_closed_stdout_ends_quietly_and_a_full_disk_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    // The reader is gone before headroom writes: every write fails with EPIPE.
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let out = Command::new(BIN)
        .args(["completions", "bash"])
        .env("HOME", dir.path())
        .stdout(writer)
        .stderr(std::process::Stdio::piped())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(out.stderr.is_empty(), "{}", text(&out.stderr));
    // Any other write error is one.
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap();
    let out = Command::new(BIN)
        .args(["completions", "bash"])
        .env("HOME", dir.path())
        .stdout(full)
        .output()
        .unwrap();
    assert_fails(&out, 1, "No space left on device");
}
