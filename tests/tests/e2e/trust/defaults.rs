//! `default` is the active profile's value everywhere: `get --json`, `settings`, `setting
//! reset` and the settings a subscriber (the monitor) receives.

use headroom_ipc::{Event, SettingValue, Topic};
use headroom_tests::daemon::Daemon;
use headroom_tests::Sandbox;

use super::{client, headroom_ok, write_user_profile};

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

#[test]
fn defaults_are_the_active_profiles_values() {
    let sb = Sandbox::start().expect("sandbox");
    write_user_profile(
        &sb,
        "mine",
        "description = \"My quiet evenings\"\n[agc]\ntarget_lufs = -20.0\n",
    );
    let mut d = Daemon::start(&sb, &[]).expect("headroomd");

    headroom_ok(&sb, &["profile", "use", "speech"]);
    let g = json(&headroom_ok(&sb, &["get", "agc.rise_db_per_s", "--json"]));
    assert_eq!(g["value"], 20.0, "{g}");
    assert_eq!(g["default"], 20.0, "speech's own value: {g}");
    let list = json(&headroom_ok(&sb, &["settings", "--json"]));
    let entry = |key: &str| {
        list["settings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["key"] == key)
            .cloned()
            .unwrap_or_else(|| panic!("{key} missing: {list}"))
    };
    assert_eq!(entry("agc.rise_db_per_s")["default"], 20.0);
    assert_eq!(
        entry("description")["default"],
        "Strong levelling for dialogue, podcasts and calls"
    );
    let text = headroom_ok(&sb, &["settings"]);
    let line = text
        .lines()
        .find(|l| l.starts_with("agc.rise_db_per_s"))
        .unwrap();
    assert!(!line.contains("15"), "built-in default shown: {line}");

    headroom_ok(&sb, &["profile", "use", "mine"]);
    headroom_ok(&sb, &["set", "agc.target_lufs", "-18"]);
    let got = headroom_ok(&sb, &["get", "agc.target_lufs"]);
    assert!(got.contains("(profile: -20)"), "{got}");
    let reset = headroom_ok(&sb, &["setting", "reset", "agc.target_lufs"]);
    let line = reset
        .lines()
        .find(|l| l.starts_with("agc.target_lufs"))
        .unwrap_or_else(|| panic!("{reset}"));
    assert!(
        line.matches("-20").count() == 2 && !line.contains("-16"),
        "reset shows: {line}"
    );

    // A subscriber's settings snapshot carries the same defaults.
    let mut sub = headroom_client::Client::connect_to(sb.control_socket())
        .unwrap()
        .subscribe(&[Topic::Settings])
        .unwrap();
    let snap = loop {
        match sub.next() {
            Some(Ok(Event::SettingsSnapshot(s))) => break s,
            Some(Ok(_)) => continue,
            other => panic!("no settings snapshot: {other:?}"),
        }
    };
    let t = snap
        .settings
        .iter()
        .find(|e| e.key == "agc.target_lufs")
        .unwrap();
    assert_eq!(t.default, SettingValue::Int(-20));
    // One boolean parser: 0/1, yes/no, on/off, true/false.
    for (typed, want) in [("0", false), ("on", true), ("no", false), ("1", true)] {
        headroom_ok(&sb, &["set", "limiter.enabled", typed]);
        let v = json(&headroom_ok(&sb, &["get", "limiter.enabled", "--json"]));
        assert_eq!(v["value"], want, "set limiter.enabled {typed}: {v}");
    }
    let _ = client(&sb).status().unwrap();
    d.terminate().unwrap();
}
