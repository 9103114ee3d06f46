//! Golden tests: the human and JSON output of each daemon command, fed fixed responses.

use headroom_cli::format;
use headroom_ipc::{
    DspTiming, History, HistorySample, Meters, PipewireState, ProfileEntry, ProfileList,
    ProfileShow, ProfileSource, Route, RouteRule, Routes, RuleSource, SettingEntry, SettingValue,
    Status, StreamInfo,
};

fn status() -> Status {
    Status {
        daemon_version: "0.1.0".into(),
        protocol_version: 1,
        uptime_s: 7500,
        pipewire: PipewireState::Connected,
        real_sink: Some("alsa_output.pci-0000_00_1f.3.analog-stereo".into()),
        processed_sink: "headroom-processed".into(),
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
    }
}

#[test]
fn status_human() {
    let want = "\
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
  ID   APP      ROUTE      RULE       LAYER A  MEDIA
  57   Firefox  processed  firefox    -2.5 dB  Video
  102  aplay    processed  (default)  —
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
            },
            ProfileEntry {
                name: "night".into(),
                source: ProfileSource::User,
                active: true,
            },
        ],
        active: "night".into(),
    };
    let want = "   NAME     SOURCE\n   default  shipped\n*  night    user\n";
    assert_eq!(format::profile_list(&list), want);
    let v = serde_json::to_value(&list).unwrap();
    assert_eq!(v["active"], "night");
    assert_eq!(v["profiles"][1]["source"], "user");

    let show = ProfileShow {
        name: "night".into(),
        source: ProfileSource::User,
        path: "/home/u/.config/headroom/profiles/night.toml".into(),
        toml: "[agc]\ntarget_lufs = -20".into(),
    };
    assert_eq!(
        format::profile_show(&show),
        "# profile night (user, /home/u/.config/headroom/profiles/night.toml)\n[agc]\ntarget_lufs = -20\n"
    );
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

#[test]
fn history_human_and_json() {
    let h = History {
        interval_ms: 1000,
        samples: vec![
            HistorySample {
                unix_ms: 1_700_000_000_000,
                in_short_term_lufs: -22.4,
                out_short_term_lufs: -16.1,
                agc_gain_db: 6.2,
                compressor_gr_db: 2.5,
                limiter_gr_db: 0.0,
                dsp_mean_us: 41.6,
                dsp_max_us: 230.0,
                spikes: 0,
                xruns: 0,
            },
            HistorySample {
                unix_ms: 1_700_000_001_000,
                in_short_term_lufs: -70.0,
                out_short_term_lufs: -70.0,
                agc_gain_db: -1.0,
                compressor_gr_db: 0.0,
                limiter_gr_db: 0.0,
                dsp_mean_us: 40.2,
                dsp_max_us: 230.0,
                spikes: 0,
                xruns: 1,
            },
        ],
        next_unix_ms: None,
    };
    let want = "\
TIME (UTC)           IN S   OUT S  AGC dB  COMP GR  LIM GR  DSP µs  XRUNS
2023-11-14 22:13:20  -22.4  -16.1  +6.2    2.5      0.0     42      0
2023-11-14 22:13:21  —      —      -1.0    0.0      0.0     40      1
2 samples, every 1000 ms
";
    assert_eq!(format::history(&h), want);
    let v = serde_json::to_value(&h).unwrap();
    assert_eq!(v["samples"][1]["in_short_term_lufs"], -70.0);
    assert_eq!(
        format::history(&History {
            interval_ms: 1000,
            samples: vec![],
            next_unix_ms: None,
        }),
        "(no history in that window)\n"
    );
}
