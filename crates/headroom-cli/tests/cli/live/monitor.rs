//! `headroom monitor` in a real terminal (tmux) against a live headroomd in a private PipeWire
//! sandbox: the streams table fills when an app plays, the meters go from "no measurement" to
//! live values, `b` toggles bypass in the daemon, `q` quits and restores the terminal.
//! Needs the workspace binaries built (`make test` does) and tmux (`make deps` installs it).

use std::path::Path;
use std::time::{Duration, Instant};

use crate::support::Tmux;

use crate::support::BIN;
use headroom_tests::daemon::{write_wav, Daemon, BUS_SINK};
use headroom_tests::{sine, Sandbox};

/// The "In" value of the loudness panel's row `row` ("Momentary", …), if it is a number.
fn loudness_in(pane: &str, row: &str) -> Option<f64> {
    let line = pane.lines().find(|l| l.contains(row))?;
    let after = line.split(row).nth(1)?;
    after.split_whitespace().next()?.parse().ok()
}

fn bypass_of(sb: &Sandbox) -> bool {
    let out = sb
        .command(BIN)
        .args(["--json", "status"])
        .output()
        .expect("headroom status");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("status json");
    v["bypass"].as_bool().expect("bypass field")
}

#[test]
fn monitor_follows_a_live_daemon_and_restores_the_terminal() {
    let sb = Sandbox::start().expect("sandbox");
    let d = Daemon::start(&sb, &[]).expect("headroomd");
    let exit_file = sb.path("monitor.exit");
    let tmux = Tmux::start_monitor(
        &sb,
        110,
        36,
        &format!("echo $? > '{}'; sleep 60", exit_file.display()),
    );

    // Before any audio: the title is there and, once the first tick arrived, the loudness
    // panel shows "no measurement" and the target in force.
    tmux.wait("the title", |p| p.contains("headroom monitor — headroomd"));
    assert_eq!(tmux.display("#{alternate_on}"), "1");
    let pane = tmux.wait("the target", |p| {
        p.lines()
            .any(|l| l.contains("Momentary") && l.contains("-16.0"))
    });
    assert_eq!(loudness_in(&pane, "Momentary"), None, "{pane}");

    // An app plays: the streams table fills and the meters come alive.
    let wav = write_wav(&sb, "tone.wav", &sine(440.0, -26.0, 20.0)).unwrap();
    let mut player = sb
        .play_cmd(&wav, BUS_SINK, &["application.name=tmuxtone"])
        .spawn()
        .unwrap();
    tmux.wait("the stream in the table", |p| {
        p.lines()
            .any(|l| l.contains("tmuxtone") && l.contains("processed"))
    });
    let first = tmux.wait("a momentary reading", |p| {
        loudness_in(p, "Momentary").is_some()
    });
    let m1 = loudness_in(&first, "Momentary").unwrap();
    assert!((-40.0..-20.0).contains(&m1), "momentary in {m1}:\n{first}");
    // The AGC line moves as the gain rises toward the target.
    let agc = |p: &str| {
        p.lines()
            .find(|l| l.contains("AGC gain"))
            .map(|l| l.split("AGC gain").nth(1).unwrap_or("").trim().to_string())
    };
    let agc1 = agc(&first);
    tmux.wait("the AGC gain to move", |p| agc(p) != agc1);

    // `b` toggles bypass in the daemon and the monitor shows it.
    assert!(!bypass_of(&sb));
    tmux.cmd(&["send-keys", "-t", "mon", "b"]);
    tmux.wait("the BYPASS badge", |p| p.contains("BYPASS"));
    assert!(bypass_of(&sb), "daemon not bypassed; log:\n{}", d.log());

    // `q` quits with 0 and restores the normal screen and the cursor.
    tmux.cmd(&["send-keys", "-t", "mon", "q"]);
    let start = Instant::now();
    while std::fs::read_to_string(&exit_file).map_or(true, |s| s.trim().is_empty()) {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "monitor did not exit:\n{}",
            tmux.pane()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(std::fs::read_to_string(&exit_file).unwrap().trim(), "0");
    assert_eq!(tmux.display("#{alternate_on}"), "0");
    assert_eq!(tmux.display("#{cursor_flag}"), "1");
    assert!(!tmux.pane().contains("Bus DSP"));
    let _ = player.kill();
    let _ = player.wait();
    assert!(Path::new(&exit_file).exists());
}
