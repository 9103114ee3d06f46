//! `headroom monitor` at 80×24 in tmux against a live headroomd with two apps playing: both
//! apps' loudness in the streams table, one re-routed to bypass by keys (`↓`/`r`), checked
//! with `headroom route list`.

use std::time::Duration;

use crate::support::{Tmux, BIN};
use headroom_tests::daemon::{write_wav, Daemon};
use headroom_tests::{sine, wait_for, Sandbox};

/// The LUFS S value of `app`'s row (the column before the route), if it is a number.
fn app_loudness(pane: &str, app: &str) -> Option<f64> {
    let line = pane.lines().find(|l| l.contains(app))?;
    let words: Vec<&str> = line
        .split(|c: char| c.is_whitespace() || c == '│')
        .filter(|w| !w.is_empty())
        .collect();
    let at = words
        .iter()
        .position(|w| *w == "processed" || *w == "bypass")?;
    words.get(at.checked_sub(1)?)?.parse().ok()
}

fn route_of(sb: &Sandbox, app: &str) -> Option<String> {
    let out = sb
        .command(BIN)
        .args(["--json", "route", "list"])
        .output()
        .expect("headroom route list");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("route list json");
    v["streams"]
        .as_array()?
        .iter()
        .find(|s| s["app"] == app)
        .and_then(|s| s["route"].as_str().map(str::to_string))
}

#[test]
fn monitor_shows_two_apps_and_reroutes_one_by_keys() {
    let sb = Sandbox::start().expect("sandbox");
    let d = Daemon::start(&sb, &[]).expect("headroomd");
    // Two apps, a loud one and a quiet one, playing to the default sink like desktop apps.
    let loud = write_wav(&sb, "loud.wav", &sine(440.0, -10.0, 60.0)).unwrap();
    let quiet = write_wav(&sb, "quiet.wav", &sine(660.0, -30.0, 60.0)).unwrap();
    let mut players = vec![
        sb.play_app_cmd(&loud, &["application.name=tmuxmusic"])
            .spawn()
            .unwrap(),
        sb.play_app_cmd(&quiet, &["application.name=tmuxcall"])
            .spawn()
            .unwrap(),
    ];
    for app in ["tmuxmusic", "tmuxcall"] {
        wait_for(app, Duration::from_secs(20), || {
            Ok((route_of(&sb, app).as_deref() == Some("processed")).then_some(()))
        })
        .unwrap_or_else(|e| panic!("{app} not processed: {e}; log:\n{}", d.log()));
    }

    let tmux = Tmux::start_monitor(&sb, 80, 24, "sleep 60");

    // Both apps with their own loudness (Layer A taps); the loud one reads louder.
    let pane = tmux.wait("both apps' loudness", |p| {
        app_loudness(p, "tmuxmusic").is_some() && app_loudness(p, "tmuxcall").is_some()
    });
    let (m, c) = (
        app_loudness(&pane, "tmuxmusic").unwrap(),
        app_loudness(&pane, "tmuxcall").unwrap(),
    );
    assert!(m > c + 10.0, "music {m}, call {c}:\n{pane}");
    // The footer is whole at 80×24.
    assert!(pane.contains("q quit") && pane.contains("? help"), "{pane}");

    // Select the call (the first row is selected to begin with) and route it to bypass.
    let rows: Vec<&str> = pane
        .lines()
        .filter(|l| l.contains("tmuxmusic") || l.contains("tmuxcall"))
        .collect();
    if !rows[0].contains("tmuxcall") {
        tmux.cmd(&["send-keys", "-t", "mon", "Down"]);
    }
    tmux.cmd(&["send-keys", "-t", "mon", "r"]);
    tmux.wait("the rule's confirmation", |p| {
        p.contains("rule set: tmuxcall → bypass")
    });
    wait_for("tmuxcall bypassed", Duration::from_secs(20), || {
        Ok((route_of(&sb, "tmuxcall").as_deref() == Some("bypass")).then_some(()))
    })
    .unwrap_or_else(|e| panic!("{e}; pane:\n{}\nlog:\n{}", tmux.pane(), d.log()));
    assert_eq!(route_of(&sb, "tmuxmusic").as_deref(), Some("processed"));
    tmux.wait("the table showing the bypass", |p| {
        p.lines()
            .any(|l| l.contains("tmuxcall") && l.contains("bypass"))
    });

    tmux.cmd(&["send-keys", "-t", "mon", "q"]);
    for p in &mut players {
        let _ = p.kill();
        let _ = p.wait();
    }
}
