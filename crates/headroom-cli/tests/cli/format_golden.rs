//! Golden tests: the human and JSON output of each daemon command, fed fixed responses.

use headroom_cli::{format, history};
use headroom_ipc::{
    DspTiming, History, HistorySample, Meters, PipewireState, ProfileEntry, ProfileList,
    ProfileShow, ProfileSource, Route, RouteRule, Routes, RuleSource, SettingEntry, SettingValue,
    Status, StreamInfo,
};

fn status() -> Status {
    Status {
        state: headroom_ipc::StateWord::Levelling,
        daemon_version: "0.1.0".into(),
        protocol_version: 1,
        uptime_s: 7500,
        pipewire: PipewireState::Connected,
        real_sink: Some("alsa_output.pci-0000_00_1f.3.analog-stereo".into()),
        processed_sink: "headroom-processed".into(),
        processed_channels: None,
        promote_default: false,
        profile: "night".into(),
        bypass: false,
        dsp: DspTiming {
            call_count: 1000,
            mean_us: 12.46,
            max_us: 95,
            spike_count: 1,
        },
        xruns: 3,
        meters: Meters {
            in_momentary_lufs: -21.04,
            in_short_term_lufs: -22.4,
            in_integrated_lufs: -70.0,
            in_true_peak_dbtp: -3.0,
            out_momentary_lufs: -16.2,
            out_short_term_lufs: -16.1,
            out_integrated_lufs: -16.0,
            out_true_peak_dbtp: -1.25,
            agc_gain_db: 6.2,
            compressor_gr_db: 2.5,
            limiter_gr_db: 0.75,
            target_lufs: -16.0,
            bypass: false,
            frames: 48000,
        },
        streams: 2,
        profile_error: None,
        profile_error_active: None,
        profile_in_force: None,
        alerts: vec![],
        config_warnings: vec![],
        file_warnings: vec![],
    }
}

#[test]
fn status_human() {
    let want = "\
State      LEVELLING
headroomd 0.1.0 (protocol 1), up 2h 05m
PipeWire   connected
Output     headroom-processed → alsa_output.pci-0000_00_1f.3.analog-stereo
Profile    night
Bypass     off
Loudness   in   M -21.0  S -22.4  I     — LUFS
           out  M -16.2  S -16.1  I -16.0 LUFS  (target -16.0)
True peak  out -1.2 dBTP
Gain       AGC +6.2 dB, compressor GR 2.5 dB, limiter GR 0.8 dB
DSP        mean 12.5 µs, max 95 µs, 1 spikes, 3 xruns
Streams    2
";
    assert_eq!(format::status(&status()), want);
}

#[test]
fn status_human_names_a_surround_bus_and_not_a_stereo_one() {
    let mut s = status();
    s.real_sink = Some("receiver".into());
    s.processed_channels = Some("FL FR FC LFE RL RR".into());
    let text = format::status(&s);
    assert!(
        text.contains(
            "Output     headroom-processed → receiver, 6 channels (FL FR FC LFE RL RR)\n"
        ),
        "{text}"
    );
    assert!(
        format::output_line(&s)
            == "Output     headroom-processed → receiver, 6 channels (FL FR FC LFE RL RR)\n"
    );
    s.processed_channels = Some("FL FR".into());
    assert!(
        format::status(&s).contains("Output     headroom-processed → receiver\n"),
        "{}",
        format::status(&s)
    );
}
#[test]
fn status_human_bypassed_with_a_profile_error() {
    let mut s = status();
    s.bypass = true;
    s.meters.bypass = true;
    s.state = headroom_ipc::StateWord::Bypass;
    s.profile_error = Some("night.toml:3:15: agc.target_lufs = 99 is out of range".into());
    s.profile_in_force = Some(headroom_ipc::ProfileInForce::LastGood);
    let alert = |kind, message: &str| headroom_ipc::Alert {
        kind,
        message: message.into(),
        since_unix_ms: 1_700_000_000_000,
    };
    s.alerts = vec![
        alert(
            headroom_ipc::AlertKind::ProfileError,
            "night.toml:3:15: agc.target_lufs = 99 is out of range (keeping the last good profile)",
        ),
        alert(
            headroom_ipc::AlertKind::InputClipping,
            "the input arrives clipped",
        ),
    ];
    let text = format::status(&s);
    // The state word first, the other alerts under it; the profile error once, at the end.
    assert!(
        text.starts_with(
            "State      BYPASS\nAlert      input_clipping: the input arrives clipped\nheadroomd "
        ),
        "{text}"
    );
    assert_eq!(text.matches("agc.target_lufs = 99").count(), 1, "{text}");
    assert!(text.contains("Bypass     on\n"), "{text}");
    assert!(
        text.contains("Gain       BYPASS (audio passes unchanged: no chain gain, no Layer A)\n"),
        "{text}"
    );
    assert!(!text.contains("AGC +"), "no stale gains: {text}");
    assert!(
        text.ends_with(
            "Profile error  night.toml:3:15: agc.target_lufs = 99 is out of range \
             (the last good profile stays active)\n"
        ),
        "{text}"
    );
    let v = serde_json::to_value(&s).unwrap();
    assert_eq!(
        v["profile_error"],
        "night.toml:3:15: agc.target_lufs = 99 is out of range"
    );
    assert_eq!(v["profile_in_force"], "last_good");
}

/// Unknown keys of the config file: one `Config` line each, at the end; on the wire only
/// when there are some.
#[test]
fn status_human_lists_config_warnings() {
    let mut s = status();
    s.config_warnings = vec![
        "config.toml:1:1: unknown key `profle` (did you mean `profile`?); ignored".into(),
        "config.toml:4:1: unknown key `notfy` in [alerts] (did you mean `notify`?); ignored".into(),
    ];
    let text = format::status(&s);
    assert!(
        text.ends_with(
            "Streams    2\n\
             Config     config.toml:1:1: unknown key `profle` (did you mean `profile`?); ignored\n\
             Config     config.toml:4:1: unknown key `notfy` in [alerts] (did you mean \
             `notify`?); ignored\n"
        ),
        "{text}"
    );
    let v = serde_json::to_value(&s).unwrap();
    assert_eq!(v["config_warnings"][1], s.config_warnings[1].as_str());
    let v = serde_json::to_value(status()).unwrap();
    assert!(v.get("config_warnings").is_none(), "{v}");
}

/// State files the daemon found corrupt at start: one `File` line each, after the
/// config warnings; on the wire only when there are some.
#[test]
fn status_human_lists_state_file_warnings() {
    let mut s = status();
    s.config_warnings = vec!["config.toml:1:1: unknown key `x`; ignored".into()];
    s.file_warnings = vec![
        "routes.json is corrupt (expected value at line 1 column 1); moved to \
         routes.json.corrupt-1700000000; starting without user rules"
            .into(),
    ];
    let text = format::status(&s);
    assert!(
        text.ends_with(
            "Config     config.toml:1:1: unknown key `x`; ignored\n\
             File       routes.json is corrupt (expected value at line 1 column 1); moved to \
             routes.json.corrupt-1700000000; starting without user rules\n"
        ),
        "{text}"
    );
    let v = serde_json::to_value(&s).unwrap();
    assert_eq!(v["file_warnings"][0], s.file_warnings[0].as_str());
    let v = serde_json::to_value(status()).unwrap();
    assert!(v.get("file_warnings").is_none(), "{v}");
}

/// The profile error line says what is in force, as the daemon reports it: the last good
/// version, or the fallback a file that failed at start-up left (never "the last good
/// profile" then: there was none).
#[test]
fn status_human_says_what_is_in_force_after_a_profile_error() {
    use headroom_ipc::ProfileInForce as F;
    let error = "night.toml:3:15: agc.target_lufs = 99 is out of range";
    for (profile, in_force, tail, wire) in [
        (
            "night",
            Some(F::LastGood),
            " (the last good profile stays active)",
            Some("last_good"),
        ),
        (
            "night",
            Some(F::Shipped),
            " (in force: the shipped `night` profile)",
            Some("shipped"),
        ),
        (
            "/srv/p.toml",
            Some(F::BuiltIn),
            " (in force: the built-in defaults)",
            Some("built_in"),
        ),
        (
            "default",
            Some(F::Default),
            " (in force: the `default` profile)",
            Some("default"),
        ),
        // A daemon that does not say: nothing is claimed.
        ("night", None, "", None),
    ] {
        let mut s = status();
        s.profile = profile.into();
        s.profile_error = Some(error.into());
        s.profile_in_force = in_force;
        let text = format::status(&s);
        assert!(
            text.ends_with(&format!("Profile error  {error}{tail}\n")),
            "{in_force:?}: {text}"
        );
        let v = serde_json::to_value(&s).unwrap();
        match wire {
            Some(w) => assert_eq!(v["profile_in_force"], w),
            None => assert!(v.get("profile_in_force").is_none(), "{v}"),
        }
        let back: headroom_ipc::Status = serde_json::from_value(v).unwrap();
        assert_eq!(back, s);
    }
}

/// An error in another profile's file (one that is not active) does not claim the last good
/// profile stays: the active profile is not affected, and the line says so. With the active
/// profile's own error (`profile_error_active: true`) the line is as before; a daemon that
/// does not say whose file it is gets the line it always had.
#[test]
fn status_human_says_an_inactive_profiles_error_leaves_the_active_one_alone() {
    use headroom_ipc::ProfileInForce as F;
    let error = "/home/u/.config/headroom/profiles/loud.toml:1:9: expected a number";
    for (active, in_force, tail) in [
        (
            Some(false),
            Some(F::LastGood),
            " (not the active profile: `night` is not affected)",
        ),
        (
            Some(false),
            Some(F::Shipped),
            " (not the active profile: `night` is not affected; \
             in force: the shipped `night` profile)",
        ),
        (
            Some(true),
            Some(F::LastGood),
            " (the last good profile stays active)",
        ),
        (
            None,
            Some(F::LastGood),
            " (the last good profile stays active)",
        ),
        (
            Some(false),
            None,
            " (not the active profile: `night` is not affected)",
        ),
    ] {
        let mut s = status();
        s.profile_error = Some(error.into());
        s.profile_error_active = active;
        s.profile_in_force = in_force;
        let text = format::status(&s);
        assert!(
            text.ends_with(&format!("Profile error  {error}{tail}\n")),
            "{active:?} {in_force:?}: {text}"
        );
        let v = serde_json::to_value(&s).unwrap();
        match active {
            Some(a) => assert_eq!(v["profile_error_active"], a, "{v}"),
            None => assert!(v.get("profile_error_active").is_none(), "{v}"),
        }
        let back: headroom_ipc::Status = serde_json::from_value(v).unwrap();
        assert_eq!(back, s);
    }
}

#[test]
fn status_human_disconnected_and_silent() {
    let mut s = status();
    s.pipewire = PipewireState::Disconnected {
        reason: "connection refused".into(),
    };
    s.real_sink = None;
    s.bypass = true;
    s.meters = Meters::silent(-16.0);
    let text = format::status(&s);
    assert!(
        text.contains("PipeWire   disconnected (connection refused)\n"),
        "{text}"
    );
    assert!(text.contains("→ (no output device)\n"), "{text}");
    assert!(text.contains("Bypass     on\n"), "{text}");
    assert!(
        text.contains("in   M     —  S     —  I     — LUFS"),
        "{text}"
    );
    assert!(text.contains("True peak  out —\n"), "{text}");
    // The real sink kept for the reconnection is not shown as if it played.
    s.real_sink = Some("speakers".into());
    let text = format::status(&s);
    assert!(
        text.contains("→ speakers  (once PipeWire is back: nothing plays now)\n"),
        "{text}"
    );
}

#[test]
fn status_json_is_the_wire_object() {
    let v = serde_json::to_value(status()).unwrap();
    assert_eq!(v["daemon_version"], "0.1.0");
    assert_eq!(v["profile"], "night");
    assert_eq!(v["pipewire"]["state"], "connected");
    assert_eq!(v["meters"]["in_integrated_lufs"], -70.0);
    assert_eq!(v["dsp"]["max_us"], 95);
    assert_eq!(v["xruns"], 3);
}

fn routes() -> Routes {
    Routes {
        rules: vec![
            RouteRule {
                app: "firefox".into(),
                route: Route::Processed,
                source: RuleSource::User,
            },
            RouteRule {
                app: "Ardour*".into(),
                route: Route::Bypass,
                source: RuleSource::Profile,
            },
        ],
        streams: vec![
            StreamInfo {
                node_id: 57,
                app: "Firefox".into(),
                binary: Some("firefox-esr".into()),
                media_name: Some("Video".into()),
                matched_rule: Some("firefox".into()),
                route: Route::Processed,
                target: Some("headroom-processed".into()),
                layer_a_reduction_db: Some(2.5),
                sink: Some("Headroom (processed)".into()),
                note: None,
            },
            StreamInfo {
                node_id: 102,
                app: String::new(),
                binary: Some("aplay".into()),
                media_name: None,
                matched_rule: None,
                route: Route::Processed,
                target: None,
                layer_a_reduction_db: None,
                sink: Some("Speakers".into()),
                note: Some("the app does not allow moving it (node.dont-reconnect)".into()),
            },
        ],
        next_cursor: None,
    }
}

#[test]
fn routes_human() {
    let want = "\
Rules
  APP      ROUTE      SOURCE
  firefox  processed  user
  Ardour*  bypass     profile
Streams
  ID   APP      ROUTE      RULE     SINK                  LAYER A  MEDIA
  57   Firefox  processed  firefox  Headroom (processed)  -2.5 dB  Video
  102  aplay    processed  (none)   Speakers              —
  note: 102 (aplay): the app does not allow moving it (node.dont-reconnect)
";
    assert_eq!(format::routes(&routes()), want);
    let empty = Routes {
        rules: vec![],
        streams: vec![],
        next_cursor: None,
    };
    assert_eq!(
        format::routes(&empty),
        "Rules\n  (none: every stream takes the default route)\nStreams\n  (none)\n"
    );
}

#[test]
fn routes_json() {
    let v = serde_json::to_value(routes()).unwrap();
    assert_eq!(v["rules"][0]["route"], "processed");
    assert_eq!(v["rules"][1]["source"], "profile");
    assert_eq!(v["streams"][0]["node_id"], 57);
    assert_eq!(
        v["streams"][1]["layer_a_reduction_db"],
        serde_json::Value::Null
    );
    assert_eq!(v["streams"][0]["sink"], "Headroom (processed)");
    assert!(v["streams"][0].get("note").is_none());
    assert_eq!(
        v["streams"][1]["note"],
        "the app does not allow moving it (node.dont-reconnect)"
    );
}

fn entries() -> Vec<SettingEntry> {
    vec![
        SettingEntry {
            key: "agc.target_lufs".into(),
            value: SettingValue::Int(-18),
            default: SettingValue::Int(-16),
            overridden: true,
        },
        SettingEntry {
            key: "limiter.enabled".into(),
            value: SettingValue::Bool(true),
            default: SettingValue::Bool(true),
            overridden: false,
        },
    ]
}

#[test]
fn settings_human() {
    let e = entries();
    assert_eq!(
        format::setting(&e[0]),
        "agc.target_lufs = -18 (profile: -16)\n"
    );
    assert_eq!(format::setting(&e[1]), "limiter.enabled = true\n");
    // An empty string shows as `""`, not as nothing after the `=`.
    let empty = SettingEntry {
        key: "preferred_real_sink".into(),
        value: SettingValue::String(String::new()),
        default: SettingValue::String(String::new()),
        overridden: true,
    };
    assert_eq!(
        format::setting(&empty),
        "preferred_real_sink = \"\" (profile: \"\")\n"
    );
    let want = "\
KEY              VALUE  PROFILE  OVERRIDDEN
agc.target_lufs  -18    -16      *
limiter.enabled  true   true
* set at run time; `headroom setting reset KEY|--all` restores the profile value
";
    assert_eq!(format::settings(&e), want);
    assert_eq!(format::settings(&e[1..]).lines().count(), 2);
    assert_eq!(format::settings(&[]), "(no settings)\n");
}

#[test]
fn settings_json() {
    let v = serde_json::to_value(&entries()[0]).unwrap();
    assert_eq!(
        v,
        serde_json::json!({"key":"agc.target_lufs","value":-18,"default":-16,"overridden":true})
    );
}

#[test]
fn profiles_human_and_json() {
    let list = ProfileList {
        profiles: vec![
            ProfileEntry {
                name: "default".into(),
                source: ProfileSource::Shipped,
                active: false,
                description: "Balanced levelling".into(),
                error: None,
            },
            ProfileEntry {
                name: "night".into(),
                source: ProfileSource::User,
                active: true,
                description: String::new(),
                error: Some("night.toml:2:15: agc.target_lufs = 99 is out of range".into()),
            },
        ],
        active: "night".into(),
    };
    let want = "   NAME     SOURCE   DESCRIPTION\n   default  shipped  Balanced levelling\n*  night    user     INVALID: night.toml:2:15: agc.target_lufs = 99 is out of range\n";
    assert_eq!(format::profile_list(&list), want);
    let v = serde_json::to_value(&list).unwrap();
    assert_eq!(v["active"], "night");
    assert_eq!(v["profiles"][1]["source"], "user");
    assert_eq!(v["profiles"][0]["description"], "Balanced levelling");
    assert!(v["profiles"][1].get("description").is_none());
    assert_eq!(
        v["profiles"][1]["error"],
        "night.toml:2:15: agc.target_lufs = 99 is out of range"
    );

    let show = ProfileShow {
        name: "night".into(),
        source: ProfileSource::User,
        path: "/home/u/.config/headroom/profiles/night.toml".into(),
        toml: "[agc]\ntarget_lufs = -20".into(),
        error: None,
        overrides: vec![],
    };
    assert_eq!(
        format::profile_show(&show),
        "# profile night (user, /home/u/.config/headroom/profiles/night.toml)\n[agc]\ntarget_lufs = -20\n"
    );
    let broken = ProfileShow {
        error: Some("n.toml:1:10: bypass must be a boolean\nn.toml:3:1: unknown key".into()),
        ..show.clone()
    };
    assert_eq!(
        format::profile_show(&broken),
        "# profile night (user, /home/u/.config/headroom/profiles/night.toml)\n\
         # INVALID — this profile cannot be used until these are fixed:\n\
         #   n.toml:1:10: bypass must be a boolean\n\
         #   n.toml:3:1: unknown key\n\
         [agc]\ntarget_lufs = -20\n"
    );
    // The settings changed at run time over the active profile, as comments: the output
    // stays a profile file.
    let overridden = ProfileShow {
        overrides: vec![
            SettingEntry {
                key: "agc.target_lufs".into(),
                value: SettingValue::Int(-19),
                default: SettingValue::Int(-20),
                overridden: true,
            },
            SettingEntry {
                key: "bypass".into(),
                value: SettingValue::Bool(true),
                default: SettingValue::Bool(false),
                overridden: true,
            },
        ],
        ..show
    };
    let text = format::profile_show(&overridden);
    assert_eq!(
        text,
        "# profile night (user, /home/u/.config/headroom/profiles/night.toml)\n\
         # runtime overrides in force (headroom set), over the values below:\n\
         #   agc.target_lufs = -19 (profile: -20)\n\
         #   bypass = true (profile: false)\n\
         # `headroom setting reset KEY|--all` restores the profile's values\n\
         [agc]\ntarget_lufs = -20\n"
    );
    let p = headroom_profile::Profile::parse(&text, "night.toml").unwrap();
    assert_eq!(p.chain.agc.target_lufs, -20.0);
    assert_eq!(format::profile_active("music"), "active profile: music\n");
}

#[test]
fn bypass_and_route_messages() {
    assert_eq!(
        format::bypass(true),
        "bypass on: audio passes unprocessed\n"
    );
    assert_eq!(format::bypass(false), "bypass off: audio is processed\n");
    assert_eq!(
        format::route_changed("mpv", Some(Route::Bypass)),
        "mpv: bypass\n"
    );
    assert_eq!(
        format::route_changed("mpv", None),
        "mpv: rule removed (default route applies)\n"
    );
}

fn sample(unix_ms: u64, in_s: f32, out_s: f32, agc: f32, lim: f32, xruns: u64) -> HistorySample {
    HistorySample {
        unix_ms,
        in_short_term_lufs: in_s,
        out_short_term_lufs: out_s,
        agc_gain_db: agc,
        compressor_gr_db: 1.0,
        limiter_gr_db: lim,
        dsp_mean_us: 40.0,
        dsp_max_us: 230.0,
        spikes: 0,
        xruns,
    }
}

fn utc_view(every_s: u64, since_secs: Option<u64>, now_unix_ms: u64) -> history::View {
    history::View::new(every_s * 1000, true, since_secs, now_unix_ms)
}

#[test]
fn history_every_sample_and_json() {
    let h = History {
        interval_ms: 1000,
        samples: vec![
            sample(1_700_000_000_000, -22.4, -16.1, 6.2, 0.0, 0),
            sample(1_700_000_001_000, -70.0, -70.0, -1.0, 0.0, 1),
        ],
        next_unix_ms: None,
        marks: vec![],
        kept_since_unix_ms: Some(1_700_000_000_000),
    };
    let want = "\
TIME                 IN S   OUT S  AGC dB  COMP GR  LIM GR  DSP µs  XRUNS
2023-11-14 22:13:20  -22.4  -16.1  +6.2    1.0      0.0     40      0
2023-11-14 22:13:21  —      —      -1.0    1.0      0.0     40      1
2 samples in 2 rows of 1 s; times UTC; IN/OUT S: energy mean, GR: largest, XRUNS: new
";
    assert_eq!(history::render(&h, &utc_view(1, None, 0)), want);
    let v = serde_json::to_value(&h).unwrap();
    assert_eq!(v["samples"][1]["in_short_term_lufs"], -70.0);
    let empty = History {
        interval_ms: 1000,
        samples: vec![],
        next_unix_ms: None,
        marks: vec![],
        kept_since_unix_ms: None,
    };
    assert_eq!(
        history::render(&empty, &utc_view(60, None, 0)),
        "(no history in that window)\n"
    );
}

#[test]
fn route_set_warns_when_nothing_matches_and_suggests_near_names() {
    use headroom_cli::daemon::unmatched_rule_warning;
    let r = routes();
    assert_eq!(unmatched_rule_warning("firefox", &r), None);
    assert_eq!(unmatched_rule_warning("FIRE*", &r), None);
    assert_eq!(unmatched_rule_warning("aplay", &r), None, "binaries count");
    let mut with_arecord = r.clone();
    with_arecord.rules.push(RouteRule {
        app: "arecord".into(),
        route: Route::Bypass,
        source: RuleSource::User,
    });
    assert_eq!(
        unmatched_rule_warning("arec*", &with_arecord),
        None,
        "apps named by other rules"
    );
    // Another rule's pattern names no app: it neither matches nor is offered as one.
    let w = unmatched_rule_warning("ard*", &r).unwrap();
    assert!(!w.contains("Ardour"), "{w}");
    assert_eq!(
        unmatched_rule_warning("firefx", &r).unwrap(),
        "no playing stream or known app matches `firefx`; the rule is kept and applies when \
         such an app plays — did you mean `Firefox`?"
    );
    let w = unmatched_rule_warning("zoom", &r).unwrap();
    assert!(
        w.ends_with("(known apps: aplay, Firefox, firefox-esr)"),
        "{w}"
    );
    // A name with control characters (typed, or another program's) is written out: the
    // warning is printed as text of several lines, whose own breaks are kept.
    let w = unmatched_rule_warning("zo\nom\u{1b}x", &r).unwrap();
    assert!(w.contains("`zo\\nom\\u{1b}x`"), "{w}");
    assert!(!w.chars().any(char::is_control), "{w}");
}

/// Three minutes at one sample a second, one row a minute; a restart, bypass and an alert
/// between the rows they fall in; a window asked for beyond what is kept says so.
#[test]
fn history_summarised_per_minute_with_marks() {
    use headroom_ipc::{HistoryMark, MarkKind};
    let t0 = 1_700_000_040_000; // 22:14:00 UTC
    let mut samples = Vec::new();
    for i in 0..180u64 {
        let (in_s, out_s, lim, xruns) = match i / 60 {
            0 => (-30.0, -18.0, 0.0, 0),
            // The second minute: loud, the limiter working; two xruns; half unmeasured.
            1 => (
                if i % 2 == 0 { -10.0 } else { -70.0 },
                -17.0,
                if i == 100 { 4.5 } else { 1.0 },
                if i < 90 { 0 } else { 2 },
            ),
            // A restart: the counter starts again at 0, then one xrun.
            _ => (-25.0, -18.0, 0.0, u64::from(i >= 170)),
        };
        samples.push(sample(t0 + i * 1000, in_s, out_s, 3.0, lim, xruns));
    }
    let mark = |s: u64, kind, text: &str| HistoryMark {
        unix_ms: t0 + s * 1000,
        kind,
        text: text.into(),
    };
    let h = History {
        interval_ms: 1000,
        samples,
        next_unix_ms: None,
        marks: vec![
            mark(30, MarkKind::Bypass, "bypass on"),
            mark(31, MarkKind::Bypass, "bypass off"),
            mark(
                95,
                MarkKind::Alert,
                "xrun_burst: 3 xruns within 10 s: audio drops out",
            ),
            mark(120, MarkKind::Started, "headroomd 0.1.0 started"),
        ],
        kept_since_unix_ms: Some(t0),
    };
    let now = t0 + 180_000;
    let want = "\
note: headroomd keeps history from 2023-11-14 22:14:00 (3m 00s back) — showing all of it
TIME                 IN S   OUT S  AGC dB  COMP GR  LIM GR  DSP µs  XRUNS
2023-11-14 22:14:00  -30.0  -18.0  +3.0    1.0      0.0     40      0
  * 2023-11-14 22:14:30  bypass on
  * 2023-11-14 22:14:31  bypass off
2023-11-14 22:15:00  -10.0  -17.0  +3.0    1.0      4.5     40      2
  ! 2023-11-14 22:15:35  xrun_burst: 3 xruns within 10 s: audio drops out
2023-11-14 22:16:00  -25.0  -18.0  +3.0    1.0      0.0     40      1
  ▶ 2023-11-14 22:16:00  headroomd 0.1.0 started
180 samples in 3 rows of 1 min; times UTC; IN/OUT S: energy mean, GR: largest, XRUNS: new
";
    assert_eq!(history::render(&h, &utc_view(60, Some(86_400), now)), want);
    // Within what is kept: no note.
    let got = history::render(&h, &utc_view(60, Some(180), now));
    assert!(got.starts_with("TIME"), "{got}");
}

/// Ten minutes at one sample a second: a quiet programme at −32 LUFS lifted by the AGC, a
/// loud one at −12 LUFS with the limiter working, then silence (unmeasured) and a restart.
fn evening() -> History {
    use headroom_ipc::{HistoryMark, MarkKind};
    let t0 = 1_700_000_040_000; // 22:14:00 UTC
    let mut samples = Vec::new();
    for i in 0..600u64 {
        let (in_s, out_s, agc, lim, xruns) = match i {
            0..=239 => (
                -32.0 + (i % 10) as f32 * 0.2,
                -18.5 + (i % 4) as f32 * 0.3,
                12.0,
                0.0,
                0,
            ),
            240..=419 => (
                -8.0 - (i % 6) as f32 * 0.5,
                -17.0,
                -9.0,
                1.0 + (i % 3) as f32,
                1,
            ),
            420..=479 => (-70.0, -70.0, -5.0, 0.0, 1),
            _ => (-24.0, -18.0, 6.0, 0.0, u64::from(i >= 590)),
        };
        samples.push(sample(t0 + i * 1000, in_s, out_s, agc, lim, xruns));
    }
    let mark = |s: u64, kind, text: &str| HistoryMark {
        unix_ms: t0 + s * 1000,
        kind,
        text: text.into(),
    };
    History {
        interval_ms: 1000,
        samples,
        next_unix_ms: None,
        marks: vec![
            mark(
                300,
                MarkKind::Alert,
                "sustained_limiting: the limiter has held 6 dB",
            ),
            mark(330, MarkKind::Cleared, "sustained_limiting cleared"),
            mark(480, MarkKind::Started, "headroomd 0.1.0 started"),
        ],
        kept_since_unix_ms: Some(t0),
    }
}

/// `history --summary`: min/median/P95/max per figure; unmeasured loudness left out; the
/// `--json` form carries the same figures.
#[test]
fn history_summary_golden() {
    let h = evening();
    let got = history::render_summary(&h, &utc_view(60, Some(600), 1_700_000_640_000));
    let want = "\
2023-11-14 22:14:00 to 2023-11-14 22:23:59 (10m 00s, 600 samples); times UTC
FIGURE           MIN    MEDIAN  P95    MAX    SAMPLES
in S (LUFS)      -32.0  -24.0   -8.0   -8.0   540
out S (LUFS)     -18.5  -17.9   -17.0  -17.0  540
AGC gain (dB)    -9.0   +6.0    +12.0  +12.0  600
comp GR (dB)     1.0    1.0     1.0    1.0    600
limiter GR (dB)  0.0    0.0     3.0    3.0    600
DSP mean (µs)    40     40      40     40     600
xruns: 2; marks: 3, alerts raised: 1; loudness: measured samples only (above -70 LUFS)
";
    assert_eq!(got, want);
    let v = serde_json::to_value(history::summary(&h)).unwrap();
    assert_eq!(v["in_short_term_lufs"]["p95"], -8.0);
    assert_eq!(v["out_short_term_lufs"]["samples"], 540);
    assert_eq!(v["xruns"], 2);
    let empty = History {
        samples: vec![],
        marks: vec![],
        ..h
    };
    assert_eq!(
        history::render_summary(&empty, &utc_view(60, None, 0)),
        "(no history in that window)\n"
    );
}

/// `history --plot` at 80×24: loudness and gains over the span, legends in the titles.
#[test]
fn history_plot_golden() {
    let h = evening();
    let got = history::render_plot(
        &h,
        &utc_view(60, Some(600), 1_700_000_640_000),
        80,
        24,
        false,
    );
    let want = "\
2023-11-14 22:14:00 to 2023-11-14 22:23:59 (10m 00s, 600 samples); times UTC
┌ Short-term loudness, LUFS: • in  ⠤ out ──────────────────────────────────────┐
│0   │                                                                         │
│    │                             ••••••••••••••••••••••                      │
│-10 │                             ⣀⣀⣀⣀⣀⣀⣀⣀⣀⣀⣀⣀⣀⣀⣀⣀⣀⣀⣀⣀⣀⣀                      │
│-20 │⠉⠉⠉⠉⠉⠉⠉⠉⠉⠉⠉⠉⠉⠉⠉⠉⠉⠉⠉⠉⠉⠉⠉⠉⠉⠉⠉⠉⠉⠁                            ⠉⠉⠉⠉⠉⠉⠉⠉⠉⠉⠉⠉⠉⠉⠉│
│    │                                                          •••••••••••••••│
│-30 │••••••••••••••••••••••••••••••                                           │
│-40 │                                                                         │
│    │                                                                         │
│-50 │                                                                         │
│-60 │                                                                         │
│    └─────────────────────────────────────────────────────────────────────────│
│22:14                                  22:18                             22:23│
└──────────────────────────────────────────────────────────────────────────────┘
┌ Gain, dB: ⠤ AGC  • compressor + limiter reduction ───────────────────────────┐
│+12 │⠉⠉⠉⠉⠉⠉⠉⠉⠉⠉⠉⠉⠉⠉⠉⠉⠉⠉⠉⠉⠉⠉⠉⠉⠉⠉⠉⠉⠉⠁                                           │
│    │                                                          ⠤⠤⠤⠤⠤⠤⠤⠤⠤⠤⠤⠤⠤⠤⠤│
│    │                                                                         │
│0   │•••••••••••••••••••••••••••••••••••••••••••••••••••••••••••••••••••••••••│
│    │                                                   ⠉⠉⠉⠉⠉⠉⠉⠁              │
│-12 │                             ⠉⠉⠉⠉⠉⠉⠉⠉⠉⠉⠉⠉⠉⠉⠉⠉⠉⠉⠉⠉⠉⠉                      │
│    └─────────────────────────────────────────────────────────────────────────│
│22:14                                  22:18                             22:23│
└──────────────────────────────────────────────────────────────────────────────┘
xruns: 2; marks: 3, alerts raised: 1 (`headroom history` lists them)
";
    assert_eq!(got, want);
    // On a terminal: the same chart in colour (input blue, output green).
    let coloured = history::render_plot(
        &h,
        &utc_view(60, Some(600), 1_700_000_640_000),
        80,
        24,
        true,
    );
    assert!(coloured.contains("\x1b[34m•") && coloured.contains("\x1b[32m⣀"));
    let mut plain = String::new();
    let mut rest = coloured.as_str();
    while let Some(k) = rest.find('\x1b') {
        plain.push_str(&rest[..k]);
        rest = &rest[k + rest[k..].find('m').unwrap() + 1..];
    }
    plain.push_str(rest);
    assert_eq!(plain, want);
    // Over a day: the time labels carry the day.
    let mut long = evening();
    long.samples[599].unix_ms = long.samples[0].unix_ms + 2 * 86_400_000;
    let got = history::render_plot(&long, &utc_view(60, None, 0), 80, 24, false);
    assert!(
        got.contains("│11-14 22:14") && got.contains("11-16 22:14│"),
        "{got}"
    );
}

/// Text that reaches the terminal from elsewhere — a sink's or profile's name, a profile's
/// description or file, an error, a setting's string value — has its control characters
/// written out as escapes: an escape sequence in it must not act on the terminal.
#[test]
fn control_characters_from_the_daemon_are_escaped_everywhere() {
    const EVIL: &str = "x\u{1b}[2J\u{7}\ry";
    let clean = |what: &str, text: &str| {
        assert!(
            !text
                .chars()
                .any(|c| c.is_control() && c != '\n' && c != '\t'),
            "{what}: {text:?}"
        );
        assert!(text.contains("x\\u{1b}[2J"), "{what}: {text:?}");
    };
    let mut s = status();
    s.real_sink = Some(EVIL.into());
    s.processed_sink = EVIL.into();
    s.profile = EVIL.into();
    s.promote_default = true;
    s.profile_error = Some(format!("p.toml:1:1: {EVIL}\nsecond line"));
    s.profile_in_force = Some(headroom_ipc::ProfileInForce::Shipped);
    s.config_warnings = vec![EVIL.into()];
    s.alerts = vec![headroom_ipc::Alert {
        kind: headroom_ipc::AlertKind::XrunBurst,
        message: EVIL.into(),
        since_unix_ms: 0,
    }];
    s.pipewire = PipewireState::Disconnected {
        reason: EVIL.into(),
    };
    let text = format::status(&s);
    clean("status", &text);
    assert!(
        text.contains("p.toml:1:1: x\\u{1b}[2J\\u{7}\\ry\nsecond line"),
        "{text}"
    );
    clean("route list", &format::output_line(&s));
    let e = SettingEntry {
        key: "description".into(),
        value: SettingValue::String(EVIL.into()),
        default: SettingValue::String(EVIL.into()),
        overridden: true,
    };
    clean("get", &format::setting(&e));
    clean("profile use", &format::profile_active(EVIL));
    clean(
        "route set",
        &format::route_changed(EVIL, Some(Route::Bypass)),
    );
    let show = ProfileShow {
        name: EVIL.into(),
        source: ProfileSource::User,
        path: EVIL.into(),
        toml: format!("# {EVIL}\r\n[agc]\r\n\ttarget_lufs = -20\r\n"),
        error: Some(EVIL.into()),
        overrides: vec![SettingEntry {
            key: EVIL.into(),
            value: SettingValue::String(EVIL.into()),
            default: SettingValue::String(EVIL.into()),
            overridden: true,
        }],
    };
    let text = format::profile_show(&show);
    clean("profile show", &text);
    // A file's lines and tabs are kept (its CRLF line ends read as line ends).
    assert!(text.ends_with("\n[agc]\n\ttarget_lufs = -20\n"), "{text:?}");
}
