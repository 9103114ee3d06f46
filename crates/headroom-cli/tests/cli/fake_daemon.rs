//! The built `headroom` binary against a stand-in daemon speaking the real protocol
//! (headroom-ipc frames on a Unix socket): requests on the wire, output, exit codes.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};

use crate::support::Tmux;
use crate::support::{assert_fails, text, BIN};
use headroom_ipc::{
    decode_client_frame, encode_line, BypassState, ClientFrame, DspTiming, ErrorCode, Event,
    IpcError, Meters, PipewireState, Request, Response, ServerFrame, ServerHello, SettingEntry,
    SettingValue, Settings, Status, Subscribed, PROTOCOL_VERSION,
};

fn status() -> Status {
    Status {
        state: headroom_ipc::StateWord::Levelling,
        daemon_version: "9.9.9".into(),
        protocol_version: PROTOCOL_VERSION,
        uptime_s: 42,
        pipewire: PipewireState::Connected,
        real_sink: Some("fake-speakers".into()),
        processed_sink: "headroom-processed".into(),
        processed_channels: None,
        promote_default: false,
        profile: "speech".into(),
        bypass: false,
        dsp: DspTiming {
            call_count: 10,
            mean_us: 20.0,
            max_us: 40,
            spike_count: 0,
        },
        xruns: 0,
        meters: Meters::silent(-16.0),
        streams: 0,
        profile_error: None,
        profile_error_active: None,
        profile_in_force: None,
        alerts: vec![],
        config_warnings: vec![],
        file_warnings: vec![],
    }
}

/// Two minutes of history: the input at −30 then −20 LUFS, the output at −18.
fn history() -> headroom_ipc::History {
    let t0 = 1_700_000_040_000;
    headroom_ipc::History {
        interval_ms: 1000,
        samples: (0..120u64)
            .map(|i| headroom_ipc::HistorySample {
                unix_ms: t0 + i * 1000,
                in_short_term_lufs: if i < 60 { -30.0 } else { -20.0 },
                out_short_term_lufs: -18.0,
                agc_gain_db: if i < 60 { 12.0 } else { 2.0 },
                compressor_gr_db: 0.5,
                limiter_gr_db: 0.0,
                dsp_mean_us: 30.0,
                dsp_max_us: 90.0,
                spikes: 0,
                xruns: 0,
            })
            .collect(),
        next_unix_ms: None,
        marks: vec![],
        kept_since_unix_ms: Some(t0),
    }
}

struct Fake {
    socket: PathBuf,
    requests: Arc<Mutex<Vec<Request>>>,
    _dir: tempfile::TempDir,
}

fn reply(req: &Request) -> Result<Response, IpcError> {
    let entry = |key: &str, value: SettingValue| SettingEntry {
        key: key.into(),
        value,
        default: SettingValue::Int(-16),
        overridden: true,
    };
    match req {
        Request::Status => Ok(Response::Status(Box::new(status()))),
        Request::SettingSet { key, value } => Ok(Response::Setting(entry(key, value.clone()))),
        Request::SettingGet { key } if key == "agc.target_lufs" => {
            Ok(Response::Setting(entry(key, SettingValue::Int(-18))))
        }
        Request::SettingGet { key } => Err(IpcError::new(
            ErrorCode::UnknownKey,
            format!("unknown setting `{key}`"),
        )),
        Request::SettingReset { .. } => Ok(Response::Settings(Settings { settings: vec![] })),
        Request::BypassSet { .. } => Ok(Response::Bypass(BypassState { bypass: true })),
        Request::RouteSet { .. } | Request::RouteUnset { .. } => Ok(Response::Ok),
        Request::RouteList { .. } => Ok(Response::Routes(headroom_ipc::Routes {
            rules: vec![],
            streams: vec![headroom_ipc::StreamInfo {
                node_id: 57,
                app: "Firefox".into(),
                binary: Some("firefox-esr".into()),
                media_name: None,
                matched_rule: Some("default".into()),
                route: headroom_ipc::Route::Processed,
                target: Some("headroom-processed".into()),
                layer_a_reduction_db: None,
                sink: Some("Headroom (processed)".into()),
                note: None,
            }],
            next_cursor: None,
        })),
        Request::History { .. } => Ok(Response::History(history())),
        Request::ProfileReload => Ok(Response::ProfileActive(headroom_ipc::ProfileActive {
            name: "night".into(),
        })),
        Request::Subscribe { topics } => Ok(Response::Subscribed(Subscribed {
            topics: topics.clone(),
        })),
        other => Err(IpcError::new(
            ErrorCode::UnknownMethod,
            format!("{} not faked", other.method()),
        )),
    }
}

/// The warning the fake daemon's `profile.reload` replies with.
const CONFIG_TYPO: &str =
    "config.toml:1:1: unknown key `profle` (did you mean `profile`?); ignored";

fn serve(stream: UnixStream, requests: Arc<Mutex<Vec<Request>>>) {
    let mut w = stream.try_clone().unwrap();
    let hello = ServerFrame::Hello(ServerHello {
        protocol_version: PROTOCOL_VERSION,
        daemon_version: "9.9.9".into(),
    });
    if w.write_all(encode_line(&hello).as_bytes()).is_err() {
        return;
    }
    for line in BufReader::new(stream).lines() {
        let Ok(line) = line else { return };
        let Ok(ClientFrame::Request(rf)) = decode_client_frame(line.as_bytes()) else {
            continue;
        };
        requests.lock().unwrap().push(rf.request.clone());
        let frame = match reply(&rf.request) {
            Ok(result) => ServerFrame::Response {
                id: rf.id,
                result,
                warning: matches!(rf.request, Request::ProfileReload).then(|| CONFIG_TYPO.into()),
            },
            Err(error) => ServerFrame::Error {
                id: Some(rf.id),
                error,
            },
        };
        if w.write_all(encode_line(&frame).as_bytes()).is_err() {
            return;
        }
        if matches!(rf.request, Request::Subscribe { .. }) {
            // Two events, then the daemon "goes away".
            let mut m = Meters::silent(-16.0);
            m.out_short_term_lufs = -16.5;
            for e in [Event::started("9.9.9"), Event::meters_tick(m, vec![])] {
                let _ = w.write_all(encode_line(&ServerFrame::Event(e)).as_bytes());
            }
            return;
        }
    }
}

fn start() -> Fake {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("control.sock");
    start_at(socket, dir)
}

/// The stand-in daemon listening at `socket` (in `dir`) from now on.
fn start_at(socket: PathBuf, dir: tempfile::TempDir) -> Fake {
    let listener = UnixListener::bind(&socket).unwrap();
    let requests = Arc::new(Mutex::new(Vec::new()));
    let r = requests.clone();
    std::thread::spawn(move || {
        for s in listener.incoming() {
            let Ok(s) = s else { return };
            let r = r.clone();
            std::thread::spawn(move || serve(s, r));
        }
    });
    Fake {
        socket,
        requests,
        _dir: dir,
    }
}

fn headroom(socket: &Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .env("HEADROOM_SOCKET", socket)
        .output()
        .unwrap()
}

#[test]
fn status_human_and_json_over_the_socket() {
    let fake = start();
    let out = headroom(&fake.socket, &["status"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), headroom_cli::format::status(&status()));

    let out = headroom(&fake.socket, &["status", "--json"]);
    assert_eq!(out.status.code(), Some(0));
    let got: Status = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(got, status());
}

#[test]
fn requests_reach_the_wire_as_typed() {
    let fake = start();
    let cases: Vec<(Vec<&str>, Request)> = vec![
        (
            vec!["set", "agc.target_lufs", "-18"],
            Request::SettingSet {
                key: "agc.target_lufs".into(),
                value: SettingValue::Int(-18),
            },
        ),
        (
            vec!["set", "limiter.ceiling_dbtp", "-1.5"],
            Request::SettingSet {
                key: "limiter.ceiling_dbtp".into(),
                value: SettingValue::Float(-1.5),
            },
        ),
        (
            vec!["setting", "reset", "--all"],
            Request::SettingReset {
                key: None,
                all: true,
            },
        ),
        (
            vec!["setting", "reset", "agc.target_lufs"],
            Request::SettingReset {
                key: Some("agc.target_lufs".into()),
                all: false,
            },
        ),
        (
            vec!["bypass", "toggle"],
            Request::BypassSet {
                mode: headroom_ipc::BypassMode::Toggle,
            },
        ),
        (
            vec!["route", "set", "mpv", "bypass"],
            Request::RouteSet {
                app: "mpv".into(),
                route: headroom_ipc::Route::Bypass,
            },
        ),
        (
            vec!["route", "unset", "mpv"],
            Request::RouteUnset { app: "mpv".into() },
        ),
    ];
    for (args, want) in cases {
        fake.requests.lock().unwrap().clear();
        let out = headroom(&fake.socket, &args);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{args:?}: {}",
            text(&out.stderr)
        );
        let got = fake.requests.lock().unwrap().clone();
        // `route set` then reads the streams, to warn about a rule nothing matches.
        let got = match (&want, got.as_slice()) {
            (Request::RouteSet { .. }, [first, Request::RouteList { .. }]) => vec![first.clone()],
            _ => got,
        };
        assert_eq!(got.as_slice(), &[want], "{args:?}");
    }
    let out = headroom(&fake.socket, &["set", "agc.target_lufs", "-18"]);
    assert_eq!(text(&out.stdout), "agc.target_lufs = -18 (profile: -16)\n");
}

#[test]
fn daemon_errors_exit_1_with_its_message() {
    let fake = start();
    let out = headroom(&fake.socket, &["get", "agc.nope"]);
    assert_fails(&out, 1, "unknown setting `agc.nope`");
    let out = headroom(&fake.socket, &["profile", "list"]);
    assert_eq!(out.status.code(), Some(1));
    // With --json the daemon's error code and message come on standard output too.
    let out = headroom(&fake.socket, &["get", "agc.nope", "--json"]);
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_str(text(&out.stdout).trim()).unwrap();
    assert_eq!(v["error"]["code"], "unknown_key", "{v}");
    assert!(v["error"]["message"]
        .as_str()
        .unwrap()
        .contains("unknown setting `agc.nope`"));
}

#[test]
fn monitor_json_prints_ndjson_until_the_daemon_leaves() {
    let fake = start();
    let out = headroom(
        &fake.socket,
        &["monitor", "--json", "--no-wait", "meters", "daemon"],
    );
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("closed the connection"));
    let lines: Vec<serde_json::Value> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("each line is one JSON object"))
        .collect();
    assert_eq!(lines.len(), 3, "{}", text(&out.stdout));
    assert_eq!(lines[0]["topic"], "daemon");
    assert_eq!(lines[1]["topic"], "meters");
    // The end of the stream, machine-readable.
    assert_eq!(lines[2]["error"]["code"], "daemon_down");
    assert_eq!(lines[1]["data"]["meters"]["out_short_term_lufs"], -16.5);
    let subscribed = fake.requests.lock().unwrap().clone();
    assert_eq!(
        subscribed,
        vec![Request::Subscribe {
            topics: vec![headroom_ipc::Topic::Meters, headroom_ipc::Topic::Daemon]
        }]
    );
}

#[test]
fn monitor_json_without_a_daemon_and_no_wait_exits_3() {
    let dir = tempfile::tempdir().unwrap();
    let out = headroom(
        &dir.path().join("control.sock"),
        &["monitor", "--json", "--no-wait"],
    );
    assert_fails(&out, 3, "headroomd is not running");
}

/// Like the full-screen monitor, `monitor --json` waits for a daemon that is not running
/// yet and reconnects when it goes away and comes back (the stand-in daemon closes every
/// subscription after two events).
#[test]
fn monitor_json_waits_for_the_daemon_and_reconnects() {
    use std::process::Stdio;
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("control.sock");
    let mut mon = Command::new(BIN)
        .args(["monitor", "--json", "meters", "daemon"])
        .env("HEADROOM_SOCKET", &socket)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // A bound on the whole test: the monitor is killed if it is still running then.
    let (done, watch) = std::sync::mpsc::channel::<()>();
    let pid = mon.id().to_string();
    let watchdog = std::thread::spawn(move || {
        if watch
            .recv_timeout(std::time::Duration::from_secs(60))
            .is_err()
        {
            let _ = Command::new("kill").arg(&pid).status();
        }
    });
    let mut err = BufReader::new(mon.stderr.take().unwrap()).lines();
    let first = err.next().expect("a note on stderr").unwrap();
    assert!(first.contains("not running; waiting for it"), "{first}");
    let fake = start_at(socket, dir);
    let mut out = BufReader::new(mon.stdout.take().unwrap()).lines();
    let topics: Vec<String> = (0..4)
        .map(|_| {
            let line = out.next().expect("an event line").unwrap();
            let v: serde_json::Value = serde_json::from_str(&line).expect("NDJSON");
            v["topic"].as_str().unwrap().to_string()
        })
        .collect();
    let _ = mon.kill();
    let _ = mon.wait();
    let _ = done.send(());
    watchdog.join().unwrap();
    // Two connections, each starting again with its events.
    assert_eq!(topics, ["daemon", "meters", "daemon", "meters"]);
    let subscribes = fake
        .requests
        .lock()
        .unwrap()
        .iter()
        .filter(|r| matches!(r, Request::Subscribe { .. }))
        .count();
    assert!(subscribes >= 2, "{subscribes}");
    let notes: Vec<String> = err.map_while(Result::ok).collect();
    assert!(
        notes
            .iter()
            .any(|l| l.contains("closed the connection; waiting")),
        "{notes:?}"
    );
}

#[test]
fn monitor_without_a_terminal_points_to_json() {
    let fake = start();
    let out = headroom(&fake.socket, &["monitor"]);
    assert_fails(&out, 1, "--json");
}

/// `headroom monitor` against `fake` in a 100×34 tmux session `mon` of a private server in
/// `dir`, once its title shows (on the alternate screen); its exit code goes to `dir/exit`.
/// `None` (and a note) when tmux is not installed.
fn monitor_in_tmux(fake: &Fake, dir: &Path) -> Option<(Tmux, PathBuf)> {
    if Command::new("tmux").arg("-V").output().is_err() {
        eprintln!("SKIPPED: tmux is not installed");
        return None;
    }
    let exit_file = dir.join("exit");
    let tmux = Tmux {
        sock: dir.join("tmux.sock"),
    };
    let shell = format!(
        "HEADROOM_SOCKET='{}' '{}' monitor; echo $? > '{}'; sleep 60",
        fake.socket.display(),
        BIN,
        exit_file.display()
    );
    let out = tmux.cmd(&[
        "new-session",
        "-d",
        "-s",
        "mon",
        "-x",
        "100",
        "-y",
        "34",
        &shell,
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    // The status poll fills the title; the fake closes every subscription after two
    // events, so the monitor keeps reconnecting and says so in between.
    tmux.wait("the title", |p| {
        p.contains("headroomd 9.9.9 — profile speech")
    });
    assert_eq!(tmux.display("#{alternate_on}"), "1");
    Some((tmux, exit_file))
}

#[test]
fn tui_draws_takes_keys_and_restores_the_terminal() {
    let fake = start();
    let dir = tempfile::tempdir().unwrap();
    let Some((tmux, exit_file)) = monitor_in_tmux(&fake, dir.path()) else {
        return;
    };
    tmux.cmd(&["send-keys", "-t", "mon", "?"]);
    tmux.wait("the help overlay", |p| p.contains("toggle bypass"));
    tmux.cmd(&["send-keys", "-t", "mon", "b"]);
    tmux.wait("a bypass request", |_| {
        fake.requests.lock().unwrap().iter().any(|r| {
            *r == Request::BypassSet {
                mode: headroom_ipc::BypassMode::Toggle,
            }
        })
    });
    tmux.cmd(&["send-keys", "-t", "mon", "q"]);
    tmux.wait("exit", |_| exit_file.exists());
    tmux.wait("exit code", |_| {
        !std::fs::read_to_string(&exit_file).unwrap().is_empty()
    });
    assert_eq!(std::fs::read_to_string(&exit_file).unwrap().trim(), "0");
    // Back on the normal screen with the cursor shown.
    assert_eq!(tmux.display("#{alternate_on}"), "0");
    assert_eq!(tmux.display("#{cursor_flag}"), "1");
    assert!(!tmux.pane().contains("Bus DSP"), "{}", tmux.pane());
}

/// The pids of `parent`'s children named `name` (from `/proc/*/stat`).
fn children_named(parent: u32, name: &str) -> Vec<u32> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // `pid (comm) state ppid …`; comm may hold spaces, so split at the last ')'.
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        let comm = &stat[open + 1..close];
        let ppid = stat[close + 1..].split_whitespace().nth(1);
        if comm == name && ppid.and_then(|p| p.parse::<u32>().ok()) == Some(parent) {
            out.push(pid);
        }
    }
    out
}

#[test]
fn monitor_stopped_by_a_signal_restores_the_terminal() {
    // `timeout 10 headroom monitor`, a closed terminal (SIGHUP), `kill`: the monitor ends as
    // `q` ends it, back on the normal screen with the cursor shown, exit code 128 + the
    // signal (it stayed in the alternate screen with the cursor hidden).
    for (sig, code) in [("TERM", 143), ("HUP", 129)] {
        let fake = start();
        let dir = tempfile::tempdir().unwrap();
        let Some((tmux, exit_file)) = monitor_in_tmux(&fake, dir.path()) else {
            return;
        };
        let shell_pid: u32 = tmux.display("#{pane_pid}").parse().unwrap();
        let monitor = children_named(shell_pid, "headroom");
        assert_eq!(monitor.len(), 1, "{monitor:?}");
        let kill = Command::new("kill")
            .args([format!("-{sig}"), monitor[0].to_string()])
            .output()
            .unwrap();
        assert!(kill.status.success());
        tmux.wait("exit code", |_| {
            std::fs::read_to_string(&exit_file).is_ok_and(|t| !t.trim().is_empty())
        });
        assert_eq!(
            std::fs::read_to_string(&exit_file).unwrap().trim(),
            code.to_string(),
            "SIG{sig}"
        );
        assert_eq!(tmux.display("#{alternate_on}"), "0", "SIG{sig}");
        assert_eq!(tmux.display("#{cursor_flag}"), "1", "SIG{sig}");
    }
}

#[test]
fn route_set_warns_on_stderr_when_nothing_matches() {
    let fake = start();
    let out = headroom(&fake.socket, &["route", "set", "firefx", "bypass"]);
    assert_eq!(out.status.code(), Some(0), "the rule is still set");
    assert_eq!(text(&out.stdout), "firefx: bypass\n");
    assert_eq!(
        text(&out.stderr),
        "headroom: warning: no playing stream or known app matches `firefx`; the rule is kept \
         and applies when such an app plays — did you mean `Firefox`?\n"
    );
    let out = headroom(&fake.socket, &["route", "set", "firefox", "bypass"]);
    assert_eq!(text(&out.stderr), "", "a matching rule gets no warning");
}

/// `history --summary` (text and `--json`) and `history --plot` through the binary; `--plot`
/// with `--json` is a usage error.
#[test]
fn history_summary_and_plot_through_the_binary() {
    let fake = start();
    let out = headroom(
        &fake.socket,
        &["history", "--since", "2m", "--summary", "--utc"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let t = text(&out.stdout);
    let row = t.lines().find(|l| l.starts_with("in S (LUFS)")).expect(&t);
    assert_eq!(
        row.split_whitespace().collect::<Vec<_>>(),
        ["in", "S", "(LUFS)", "-30.0", "-30.0", "-20.0", "-20.0", "120"],
        "{t}"
    );
    let out = headroom(&fake.socket, &["--json", "history", "--summary"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["agc_gain_db"]["max"], 12.0, "{v}");
    assert_eq!(v["samples"], 120);

    // Not on a terminal: 80 columns; --height sets the lines of the two charts.
    let out = headroom(
        &fake.socket,
        &["history", "--plot", "--height", "20", "--utc"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let t = text(&out.stdout);
    let chart: Vec<&str> = t
        .lines()
        .filter(|l| l.starts_with(['┌', '│', '└']))
        .collect();
    assert_eq!(chart.len(), 20, "{t}");
    assert!(chart.iter().all(|l| l.chars().count() == 80), "{t}");
    assert!(
        t.contains("Short-term loudness") && t.contains("Gain, dB"),
        "{t}"
    );
    assert!(!t.contains('\x1b'), "colour off a terminal: {t}");

    let out = headroom(&fake.socket, &["--json", "history", "--plot"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let out = headroom(&fake.socket, &["history", "--plot", "--summary"]);
    assert_eq!(out.status.code(), Some(2));
}

/// The warning of a reply is printed on standard error: `profile reload` with a typo in the
/// config file.
#[test]
fn profile_reload_prints_the_replys_warning() {
    let fake = start();
    let out = headroom(&fake.socket, &["profile", "reload"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("night"), "{}", text(&out.stdout));
    assert_eq!(
        text(&out.stderr),
        format!("headroom: warning: {CONFIG_TYPO}\n")
    );
}
