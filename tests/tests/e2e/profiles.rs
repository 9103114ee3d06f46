//! Profiles against a running daemon: hot reload of the active profile file (a new target
//! shows in the meters within 1 s; garbage keeps the old profile and raises `profile/error`;
//! the fix applies), and runtime overrides that survive `kill -9`.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use headroom_client::{Client, Subscription};
use headroom_ipc::{Event, SettingValue, Topic};
use headroom_tests::daemon::Daemon;
use headroom_tests::Sandbox;

fn config_dir(sb: &Sandbox) -> PathBuf {
    PathBuf::from(&sb.env()["XDG_CONFIG_HOME"]).join("headroom")
}

fn state_file(sb: &Sandbox) -> PathBuf {
    PathBuf::from(&sb.env()["XDG_STATE_HOME"]).join("headroom/state.json")
}

fn profile_text(target: f64) -> String {
    let default = headroom_profile::shipped_profiles()
        .iter()
        .find(|(n, _)| *n == "default")
        .expect("shipped default profile")
        .1;
    let mut out = String::new();
    let mut in_agc = false;
    for line in default.lines() {
        let t = line.trim_start();
        if t.starts_with('[') {
            in_agc = t.starts_with("[agc]");
        }
        if in_agc && t.starts_with("target_lufs") {
            out.push_str(&format!("target_lufs = {target:.1}\n"));
        } else {
            out.push_str(line);
            out.push('\n');
        }
    }
    assert!(out.contains(&format!("target_lufs = {target:.1}")));
    out
}

/// Writes like an editor that saves via rename.
fn write_via_rename(path: &std::path::Path, text: &str) {
    let tmp = path.with_extension("toml.swp");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

/// Waits for the first event satisfying `pred`, up to `timeout`.
fn wait_event(
    sub: &mut Subscription,
    timeout: Duration,
    mut pred: impl FnMut(&Event) -> bool,
) -> Option<Event> {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        let left = deadline
            .saturating_duration_since(Instant::now())
            .max(Duration::from_millis(1));
        sub.set_timeout(Some(left)).unwrap();
        match sub.next() {
            Some(Ok(ev)) if pred(&ev) => return Some(ev),
            Some(Ok(_)) | Some(Err(headroom_client::ClientError::Timeout)) => {}
            other => panic!("subscription ended: {other:?}"),
        }
    }
    None
}

fn tick_target(ev: &Event) -> Option<f32> {
    match ev {
        Event::MetersTick(t) => Some(t.meters.target_lufs),
        _ => None,
    }
}

#[test]
fn edited_profile_applies_within_a_second_and_garbage_keeps_the_last_good_one() {
    let sb = Sandbox::start().expect("sandbox");
    let dir = config_dir(&sb);
    std::fs::create_dir_all(dir.join("profiles")).unwrap();
    let file = dir.join("profiles/mine.toml");
    std::fs::write(&file, profile_text(-16.0)).unwrap();
    std::fs::write(dir.join("config.toml"), "profile = \"mine\"\n").unwrap();

    let d = Daemon::start(&sb, &[]).expect("headroomd");
    let mut client = Client::connect_to(sb.control_socket()).unwrap();
    assert_eq!(client.status().unwrap().profile, "mine", "{}", d.log());
    let mut sub = Client::connect_to(sb.control_socket())
        .unwrap()
        .subscribe(&[Topic::Meters, Topic::Profile])
        .unwrap();
    assert!(
        wait_event(&mut sub, Duration::from_secs(2), |e| tick_target(e)
            == Some(-16.0))
        .is_some(),
        "no meters tick with the initial target"
    );

    // 1. A new target in the file shows in the meters within 1 s.
    let t0 = Instant::now();
    write_via_rename(&file, &profile_text(-20.0));
    let got = wait_event(&mut sub, Duration::from_millis(1500), |e| {
        tick_target(e) == Some(-20.0)
    });
    assert!(
        got.is_some(),
        "target -20 not seen in meters; log:\n{}",
        d.log()
    );
    let took = t0.elapsed();
    assert!(took <= Duration::from_secs(1), "reload took {took:?}");

    // 2. Garbage: an error event naming file:line, and the old target stays.
    write_via_rename(&file, "[agc]\ntarget_lufs = \"loud\"\n");
    let err = wait_event(&mut sub, Duration::from_secs(2), |e| {
        matches!(e, Event::ProfileError(_))
    });
    match err {
        Some(Event::ProfileError(pe)) => {
            assert!(pe.file.ends_with("mine.toml"), "{pe:?}");
            assert_eq!(pe.line, Some(2), "{pe:?}");
            assert!(pe.column.is_some(), "{pe:?}");
        }
        other => panic!("no profile error event: {other:?}; log:\n{}", d.log()),
    }
    let target = client.setting_get("agc.target_lufs").unwrap();
    assert_eq!(target.value.as_f64(), Some(-20.0));
    // Ticks after the error still carry the last good target.
    let after = wait_event(&mut sub, Duration::from_secs(1), |e| {
        tick_target(e).is_some()
    });
    assert_eq!(after.as_ref().and_then(tick_target), Some(-20.0));

    // 3. Fixing the file applies it.
    write_via_rename(&file, &profile_text(-14.0));
    assert!(
        wait_event(&mut sub, Duration::from_millis(1500), |e| tick_target(e)
            == Some(-14.0))
        .is_some(),
        "fixed profile not applied; log:\n{}",
        d.log()
    );
}

#[test]
fn overrides_survive_kill_9_and_a_truncated_state_file_is_reported() {
    let sb = Sandbox::start().expect("sandbox");
    let mut d = Daemon::start(&sb, &[]).expect("headroomd");
    let mut client = Client::connect_to(sb.control_socket()).unwrap();
    let set = client
        .setting_set("agc.target_lufs", SettingValue::Int(-18))
        .unwrap();
    assert!(set.overridden);
    // A bad value is refused and changes nothing.
    assert!(client
        .setting_set("limiter.ceiling_dbtp", SettingValue::Float(3.0))
        .is_err());
    drop(client);
    d.kill9();

    let d = Daemon::start(&sb, &[]).expect("headroomd restarted");
    let mut client = Client::connect_to(sb.control_socket()).unwrap();
    let got = client.setting_get("agc.target_lufs").unwrap();
    assert_eq!(got.value.as_f64(), Some(-18.0), "{}", d.log());
    assert!(got.overridden);
    assert_eq!(
        client
            .setting_get("limiter.ceiling_dbtp")
            .unwrap()
            .value
            .as_f64(),
        Some(-1.0)
    );
    let status = client.status().unwrap();
    assert_eq!(status.meters.target_lufs, -18.0);
    drop(client);
    drop(d);

    // Truncate the state file: the daemon starts with defaults and says so.
    let state = state_file(&sb);
    let text = std::fs::read_to_string(&state).unwrap();
    std::fs::write(&state, &text[..text.len() / 2]).unwrap();
    let d = Daemon::start(&sb, &[]).expect("headroomd with a truncated state file");
    let mut client = Client::connect_to(sb.control_socket()).unwrap();
    let got = client.setting_get("agc.target_lufs").unwrap();
    assert_eq!(got.value.as_f64(), Some(-16.0));
    assert!(!got.overridden);
    let log = d.log();
    assert!(
        log.contains("WARN") && log.contains("state"),
        "no warning about the state file in the log:\n{log}"
    );
    assert_eq!(
        log.matches("is corrupt").count(),
        1,
        "the state file warning is not logged exactly once:\n{log}"
    );
    let backups = std::fs::read_dir(state.parent().unwrap())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains("corrupt"))
        .count();
    assert_eq!(backups, 1, "the corrupt state file was not kept aside");
}
