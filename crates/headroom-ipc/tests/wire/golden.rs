//! Golden wire tests: literal JSON for every message type decodes to the expected typed
//! value, and the typed value encodes back to the same JSON.

use std::collections::BTreeMap;

use headroom_ipc::*;
use serde_json::Value;

fn json(s: &str) -> Value {
    serde_json::from_str(s).expect("golden literal is valid JSON")
}

fn client(literal: &str, expected: ClientFrame) {
    let decoded = decode_client_frame(literal.as_bytes())
        .unwrap_or_else(|e| panic!("decoding {literal}: {e}"));
    assert_eq!(decoded, expected, "decode {literal}");
    let line = encode_line(&expected);
    assert!(line.ends_with('\n') && !line[..line.len() - 1].contains('\n'));
    assert_eq!(json(&line), json(literal), "encode {expected:?}");
}

fn server(literal: &str, expected: ServerFrame) {
    let decoded = decode_server_frame(literal.as_bytes())
        .unwrap_or_else(|e| panic!("decoding {literal}: {e}"));
    assert_eq!(decoded, expected, "decode {literal}");
    let line = encode_line(&expected);
    assert!(line.ends_with('\n') && !line[..line.len() - 1].contains('\n'));
    assert_eq!(json(&line), json(literal), "encode {expected:?}");
}

fn req(id: u64, request: Request) -> ClientFrame {
    ClientFrame::Request(RequestFrame { id, request })
}

fn ok(id: u64, result: Response) -> ServerFrame {
    ServerFrame::Response {
        id,
        result,
        warning: None,
    }
}

fn meters() -> Meters {
    Meters {
        in_momentary_lufs: -20.5,
        in_short_term_lufs: -21.25,
        in_integrated_lufs: -22.0,
        in_true_peak_dbtp: -3.5,
        out_momentary_lufs: -18.0,
        out_short_term_lufs: -18.25,
        out_integrated_lufs: -18.5,
        out_true_peak_dbtp: -1.5,
        agc_gain_db: 3.5,
        compressor_gr_db: 1.25,
        limiter_gr_db: 0.5,
        target_lufs: -18.0,
        bypass: false,
        frames: 480000,
    }
}

const METERS_JSON: &str = r#"{"in_momentary_lufs":-20.5,"in_short_term_lufs":-21.25,
"in_integrated_lufs":-22.0,"in_true_peak_dbtp":-3.5,"out_momentary_lufs":-18.0,
"out_short_term_lufs":-18.25,"out_integrated_lufs":-18.5,"out_true_peak_dbtp":-1.5,
"agc_gain_db":3.5,"compressor_gr_db":1.25,"limiter_gr_db":0.5,"target_lufs":-18.0,
"bypass":false,"frames":480000}"#;

fn status() -> Status {
    Status {
        state: headroom_ipc::StateWord::Levelling,
        daemon_version: "0.1.0".into(),
        protocol_version: 1,
        uptime_s: 42,
        pipewire: PipewireState::Connected,
        real_sink: Some("alsa_output.pci-0000_00_1f.3.analog-stereo".into()),
        processed_sink: "headroom-processed".into(),
        processed_channels: Some("FL FR".into()),
        promote_default: false,
        profile: "night".into(),
        bypass: false,
        dsp: DspTiming {
            call_count: 1000,
            mean_us: 12.5,
            max_us: 80,
            spike_count: 0,
        },
        xruns: 2,
        meters: meters(),
        streams: 3,
        profile_error: None,
        profile_error_active: None,
        profile_in_force: None,
        alerts: vec![],
        config_warnings: vec![],
        file_warnings: vec![],
    }
}

fn status_json() -> String {
    format!(
        r#"{{"state":"levelling","daemon_version":"0.1.0","protocol_version":1,"uptime_s":42,
"pipewire":{{"state":"connected"}},"real_sink":"alsa_output.pci-0000_00_1f.3.analog-stereo",
"processed_sink":"headroom-processed","processed_channels":"FL FR","promote_default":false,"profile":"night","bypass":false,
"dsp":{{"call_count":1000,"mean_us":12.5,"max_us":80,"spike_count":0}},"xruns":2,
"meters":{METERS_JSON},"streams":3,"alerts":[]}}"#
    )
}

fn stream() -> StreamInfo {
    StreamInfo {
        node_id: 57,
        app: "Firefox".into(),
        binary: Some("firefox".into()),
        media_name: Some("YouTube".into()),
        matched_rule: Some("firefox".into()),
        route: Route::Processed,
        target: Some("headroom-processed".into()),
        layer_a_reduction_db: Some(2.5),
        sink: None,
        note: None,
    }
}

const STREAM_JSON: &str = r#"{"node_id":57,"app":"Firefox","binary":"firefox",
"media_name":"YouTube","matched_rule":"firefox","route":"processed",
"target":"headroom-processed","layer_a_reduction_db":2.5}"#;

fn routes() -> Routes {
    Routes {
        rules: vec![
            RouteRule {
                app: "firefox".into(),
                route: Route::Processed,
                source: RuleSource::User,
            },
            RouteRule {
                app: "ardour".into(),
                route: Route::Bypass,
                source: RuleSource::Profile,
            },
        ],
        streams: vec![
            stream(),
            StreamInfo {
                node_id: 60,
                app: String::new(),
                binary: None,
                media_name: None,
                matched_rule: None,
                route: Route::Processed,
                target: None,
                layer_a_reduction_db: None,
                sink: None,
                note: None,
            },
        ],
        next_cursor: None,
    }
}

fn routes_json() -> String {
    format!(
        r#"{{"rules":[{{"app":"firefox","route":"processed","source":"user"}},
{{"app":"ardour","route":"bypass","source":"profile"}}],"streams":[{STREAM_JSON},
{{"node_id":60,"app":"","binary":null,"media_name":null,"matched_rule":null,
"route":"processed","target":null,"layer_a_reduction_db":null}}]}}"#
    )
}

fn profile_list() -> ProfileList {
    ProfileList {
        profiles: vec![
            ProfileEntry {
                name: "default".into(),
                source: ProfileSource::Shipped,
                active: false,
                description: String::new(),
                error: None,
            },
            ProfileEntry {
                name: "night".into(),
                source: ProfileSource::User,
                active: true,
                description: String::new(),
                error: None,
            },
        ],
        active: "night".into(),
    }
}

const PROFILE_LIST_JSON: &str = r#"{"profiles":[
{"name":"default","source":"shipped","active":false},
{"name":"night","source":"user","active":true}],"active":"night"}"#;

fn settings() -> Settings {
    Settings {
        settings: vec![
            SettingEntry {
                key: "agc.target_lufs".into(),
                value: SettingValue::Int(-18),
                default: SettingValue::Float(-23.5),
                overridden: true,
            },
            SettingEntry {
                key: "limiter.enabled".into(),
                value: SettingValue::Bool(true),
                default: SettingValue::Bool(true),
                overridden: false,
            },
            SettingEntry {
                key: "output.device".into(),
                value: SettingValue::String("auto".into()),
                default: SettingValue::String("auto".into()),
                overridden: false,
            },
        ],
    }
}

const SETTINGS_JSON: &str = r#"{"settings":[
{"key":"agc.target_lufs","value":-18,"default":-23.5,"overridden":true},
{"key":"limiter.enabled","value":true,"default":true,"overridden":false},
{"key":"output.device","value":"auto","default":"auto","overridden":false}]}"#;

#[test]
fn golden_requests() {
    client(r#"{"id":1,"method":"status"}"#, req(1, Request::Status));
    client(
        r#"{"id":2,"method":"profile.list"}"#,
        req(2, Request::ProfileList),
    );
    client(
        r#"{"id":3,"method":"profile.show","params":{"name":"night"}}"#,
        req(
            3,
            Request::ProfileShow {
                name: Some("night".into()),
            },
        ),
    );
    client(
        r#"{"id":4,"method":"profile.show","params":{}}"#,
        req(4, Request::ProfileShow { name: None }),
    );
    client(
        r#"{"id":5,"method":"profile.use","params":{"name":"night"}}"#,
        req(
            5,
            Request::ProfileUse {
                name: "night".into(),
            },
        ),
    );
    client(
        r#"{"id":6,"method":"profile.reload"}"#,
        req(6, Request::ProfileReload),
    );
    client(
        r#"{"id":7,"method":"route.list","params":{}}"#,
        req(7, Request::RouteList { cursor: None }),
    );
    client(
        r#"{"id":9,"method":"route.list","params":{"cursor":1042}}"#,
        req(9, Request::RouteList { cursor: Some(1042) }),
    );
    client(
        r#"{"id":8,"method":"route.set","params":{"app":"firefox","route":"bypass"}}"#,
        req(
            8,
            Request::RouteSet {
                app: "firefox".into(),
                route: Route::Bypass,
            },
        ),
    );
    client(
        r#"{"id":9,"method":"route.set","params":{"app":"mpv","route":"processed"}}"#,
        req(
            9,
            Request::RouteSet {
                app: "mpv".into(),
                route: Route::Processed,
            },
        ),
    );
    client(
        r#"{"id":10,"method":"route.unset","params":{"app":"firefox"}}"#,
        req(
            10,
            Request::RouteUnset {
                app: "firefox".into(),
            },
        ),
    );
    client(
        r#"{"id":11,"method":"setting.get","params":{"key":"agc.target_lufs"}}"#,
        req(
            11,
            Request::SettingGet {
                key: "agc.target_lufs".into(),
            },
        ),
    );
    for (lit, value) in [
        ("-18", SettingValue::Int(-18)),
        ("-18.5", SettingValue::Float(-18.5)),
        ("true", SettingValue::Bool(true)),
        ("\"auto\"", SettingValue::String("auto".into())),
    ] {
        client(
            &format!(
                r#"{{"id":12,"method":"setting.set","params":{{"key":"agc.target_lufs","value":{lit}}}}}"#
            ),
            req(
                12,
                Request::SettingSet {
                    key: "agc.target_lufs".into(),
                    value,
                },
            ),
        );
    }
    client(
        r#"{"id":13,"method":"setting.list"}"#,
        req(13, Request::SettingList),
    );
    client(
        r#"{"id":14,"method":"setting.reset","params":{"key":"agc.target_lufs"}}"#,
        req(
            14,
            Request::SettingReset {
                key: Some("agc.target_lufs".into()),
                all: false,
            },
        ),
    );
    client(
        r#"{"id":15,"method":"setting.reset","params":{"all":true}}"#,
        req(
            15,
            Request::SettingReset {
                key: None,
                all: true,
            },
        ),
    );
    for (lit, mode) in [
        ("on", BypassMode::On),
        ("off", BypassMode::Off),
        ("toggle", BypassMode::Toggle),
    ] {
        client(
            &format!(r#"{{"id":16,"method":"bypass.set","params":{{"mode":"{lit}"}}}}"#),
            req(16, Request::BypassSet { mode }),
        );
    }
    client(
        r#"{"id":17,"method":"subscribe","params":{"topics":["daemon","routing","meters","profile","settings","alerts"]}}"#,
        req(
            17,
            Request::Subscribe {
                topics: Topic::ALL.to_vec(),
            },
        ),
    );
    client(
        r#"{"id":18,"method":"history","params":{"since_secs":60}}"#,
        req(
            18,
            Request::History {
                since_secs: Some(60),
                from_unix_ms: None,
            },
        ),
    );
    client(
        r#"{"id":19,"method":"history","params":{}}"#,
        req(
            19,
            Request::History {
                since_secs: None,
                from_unix_ms: None,
            },
        ),
    );
    client(
        r#"{"type":"hello","protocol_version":1}"#,
        ClientFrame::Hello(ClientHello {
            protocol_version: 1,
        }),
    );
    assert_eq!(METHODS.len(), 15);
}

#[test]
fn lenient_request_forms_decode() {
    // Absent, null and empty params are equivalent for methods that take none or only
    // optional ones.
    for lit in [
        r#"{"id":1,"method":"status","params":null}"#,
        r#"{"id":1,"method":"status","params":{}}"#,
    ] {
        assert_eq!(
            decode_client_frame(lit.as_bytes()).unwrap(),
            req(1, Request::Status)
        );
    }
    assert_eq!(
        decode_client_frame(br#"{"id":1,"method":"history"}"#).unwrap(),
        req(
            1,
            Request::History {
                since_secs: None,
                from_unix_ms: None
            }
        )
    );
    assert_eq!(
        decode_client_frame(br#"{"id":1,"method":"profile.show"}"#).unwrap(),
        req(1, Request::ProfileShow { name: None })
    );
    // History bounds beyond u64 (floats to a JSON parser) saturate; a whole float is taken.
    for (lit, since, from) in [
        (
            r#"{"since_secs":99999999999999999999999}"#,
            Some(u64::MAX),
            None,
        ),
        (
            r#"{"since_secs":1e300,"from_unix_ms":18446744073709551616}"#,
            Some(u64::MAX),
            Some(u64::MAX),
        ),
        (r#"{"since_secs":60.0,"from_unix_ms":null}"#, Some(60), None),
    ] {
        let frame = format!(r#"{{"id":2,"method":"history","params":{lit}}}"#);
        assert_eq!(
            decode_client_frame(frame.as_bytes()).unwrap(),
            req(
                2,
                Request::History {
                    since_secs: since,
                    from_unix_ms: from
                }
            ),
            "{lit}"
        );
    }
}

#[test]
fn golden_request_errors() {
    let cases: &[(&str, Option<u64>, ErrorCode)] = &[
        (r#"{"id":1,"method":"status""#, None, ErrorCode::BadRequest),
        (r#"[1,2]"#, None, ErrorCode::BadRequest),
        (r#"{"method":"status"}"#, None, ErrorCode::BadRequest),
        (
            r#"{"id":-1,"method":"status"}"#,
            None,
            ErrorCode::BadRequest,
        ),
        (
            r#"{"id":"x","method":"status"}"#,
            None,
            ErrorCode::BadRequest,
        ),
        (r#"{"id":3}"#, Some(3), ErrorCode::BadRequest),
        (r#"{"id":3,"method":7}"#, Some(3), ErrorCode::BadRequest),
        (r#"{"type":"bogus"}"#, None, ErrorCode::BadRequest),
        (r#"{"type":"hello"}"#, None, ErrorCode::BadRequest),
        (
            r#"{"id":4,"method":"nope"}"#,
            Some(4),
            ErrorCode::UnknownMethod,
        ),
        (
            r#"{"id":5,"method":"profile.use"}"#,
            Some(5),
            ErrorCode::InvalidParams,
        ),
        (
            r#"{"id":5,"method":"profile.use","params":{"name":""}}"#,
            Some(5),
            ErrorCode::InvalidParams,
        ),
        (
            r#"{"id":6,"method":"route.set","params":{"app":"x","route":"sideways"}}"#,
            Some(6),
            ErrorCode::InvalidParams,
        ),
        // A pattern no app could match: blanks at its ends.
        (
            r#"{"id":6,"method":"route.set","params":{"app":" firefox ","route":"bypass"}}"#,
            Some(6),
            ErrorCode::InvalidParams,
        ),
        (
            r#"{"id":7,"method":"setting.set","params":{"key":"a","value":[1]}}"#,
            Some(7),
            ErrorCode::InvalidParams,
        ),
        (
            r#"{"id":7,"method":"setting.set","params":{"key":"a","value":null}}"#,
            Some(7),
            ErrorCode::InvalidParams,
        ),
        (
            r#"{"id":8,"method":"setting.reset"}"#,
            Some(8),
            ErrorCode::InvalidParams,
        ),
        (
            r#"{"id":8,"method":"setting.reset","params":{"key":"a","all":true}}"#,
            Some(8),
            ErrorCode::InvalidParams,
        ),
        (
            r#"{"id":9,"method":"subscribe","params":{"topics":[]}}"#,
            Some(9),
            ErrorCode::InvalidParams,
        ),
        (
            r#"{"id":9,"method":"subscribe","params":{"topics":["weather"]}}"#,
            Some(9),
            ErrorCode::InvalidParams,
        ),
        (
            r#"{"id":10,"method":"bypass.set","params":{"mode":"maybe"}}"#,
            Some(10),
            ErrorCode::InvalidParams,
        ),
        (
            r#"{"id":11,"method":"status","params":[1]}"#,
            Some(11),
            ErrorCode::InvalidParams,
        ),
        (
            r#"{"id":12,"method":"history","params":{"since_secs":-1}}"#,
            Some(12),
            ErrorCode::InvalidParams,
        ),
        (
            r#"{"id":12,"method":"history","params":{"since_secs":1.5}}"#,
            Some(12),
            ErrorCode::InvalidParams,
        ),
        (
            r#"{"id":12,"method":"history","params":{"from_unix_ms":"now"}}"#,
            Some(12),
            ErrorCode::InvalidParams,
        ),
        (
            r#"{"id":13,"method":"route.set","params":{"app":"a\u0000b","route":"bypass"}}"#,
            Some(13),
            ErrorCode::InvalidParams,
        ),
        (
            r#"{"id":13,"method":"route.unset","params":{"app":"tab\there"}}"#,
            Some(13),
            ErrorCode::InvalidParams,
        ),
        (
            r#"{"id":13,"method":"setting.get","params":{"key":"agc.\u007f"}}"#,
            Some(13),
            ErrorCode::InvalidParams,
        ),
    ];
    for (lit, id, code) in cases {
        let err = decode_client_frame(lit.as_bytes()).expect_err(lit);
        assert_eq!(err.id, *id, "{lit}");
        assert_eq!(err.error.code, *code, "{lit}: {}", err.error.message);
        assert!(!err.error.message.is_empty());
        // In the protocol's words, not serde's names of Rust types.
        for internal in ["Request::", "untagged", "variant", "enum"] {
            assert!(
                !err.error.message.contains(internal),
                "{lit}: {}",
                err.error.message
            );
        }
    }
    let err = decode_client_frame(b"{\"id\":1,\xff}").unwrap_err();
    assert_eq!(err.error.code, ErrorCode::BadRequest);
}

#[test]
fn golden_responses() {
    server(
        r#"{"type":"hello","protocol_version":1,"daemon_version":"0.1.0"}"#,
        ServerFrame::Hello(ServerHello {
            protocol_version: 1,
            daemon_version: "0.1.0".into(),
        }),
    );
    server(r#"{"id":1,"result":{"kind":"ok"}}"#, ok(1, Response::Ok));
    server(
        &format!(
            r#"{{"id":1,"result":{{"kind":"status",{}}}"#,
            &status_json()[1..]
        ),
        ok(1, Response::Status(Box::new(status()))),
    );
    let mut down = status();
    down.pipewire = PipewireState::Disconnected {
        reason: "connection refused".into(),
    };
    down.real_sink = None;
    let down_json = status_json()
        .replace(
            r#""state":"connected""#,
            r#""state":"disconnected","reason":"connection refused""#,
        )
        .replace(r#""alsa_output.pci-0000_00_1f.3.analog-stereo""#, "null");
    server(
        &format!(
            r#"{{"id":1,"result":{{"kind":"status",{}}}"#,
            &down_json[1..]
        ),
        ok(1, Response::Status(Box::new(down))),
    );
    server(
        &format!(
            r#"{{"id":2,"result":{{"kind":"profile_list",{}}}"#,
            &PROFILE_LIST_JSON[1..]
        ),
        ok(2, Response::ProfileList(profile_list())),
    );
    server(
        r#"{"id":3,"result":{"kind":"profile_show","name":"night","source":"user",
"path":"/home/u/.config/headroom/profiles/night.toml","toml":"[agc]\ntarget_lufs = -20\n"}}"#,
        ok(
            3,
            Response::ProfileShow(ProfileShow {
                name: "night".into(),
                source: ProfileSource::User,
                path: "/home/u/.config/headroom/profiles/night.toml".into(),
                toml: "[agc]\ntarget_lufs = -20\n".into(),
                error: None,
                overrides: vec![],
            }),
        ),
    );
    server(
        r#"{"id":5,"result":{"kind":"profile_active","name":"night"}}"#,
        ok(
            5,
            Response::ProfileActive(ProfileActive {
                name: "night".into(),
            }),
        ),
    );
    server(
        &format!(
            r#"{{"id":7,"result":{{"kind":"routes",{}}}"#,
            &routes_json()[1..]
        ),
        ok(7, Response::Routes(routes())),
    );
    server(
        r#"{"id":11,"result":{"kind":"setting","key":"agc.target_lufs","value":-18,
"default":-23.5,"overridden":true}}"#,
        ok(
            11,
            Response::Setting(SettingEntry {
                key: "agc.target_lufs".into(),
                value: SettingValue::Int(-18),
                default: SettingValue::Float(-23.5),
                overridden: true,
            }),
        ),
    );
    server(
        &format!(
            r#"{{"id":13,"result":{{"kind":"settings",{}}}"#,
            &SETTINGS_JSON[1..]
        ),
        ok(13, Response::Settings(settings())),
    );
    server(
        r#"{"id":16,"result":{"kind":"bypass","bypass":true}}"#,
        ok(16, Response::Bypass(BypassState { bypass: true })),
    );
    server(
        r#"{"id":17,"result":{"kind":"subscribed","topics":["meters","settings"]}}"#,
        ok(
            17,
            Response::Subscribed(Subscribed {
                topics: vec![Topic::Meters, Topic::Settings],
            }),
        ),
    );
    server(
        r#"{"id":18,"result":{"kind":"history","interval_ms":1000,"samples":[
{"unix_ms":1700000000000,"in_short_term_lufs":-25.5,"out_short_term_lufs":-18.5,
"agc_gain_db":6.0,"compressor_gr_db":1.0,"limiter_gr_db":0.0,"dsp_mean_us":42.5,
"dsp_max_us":180.0,"spikes":0,"xruns":1}],
"marks":[{"unix_ms":1700000000500,"kind":"bypass","text":"bypass on"}],
"kept_since_unix_ms":1699990000000}}"#,
        ok(
            18,
            Response::History(History {
                interval_ms: 1000,
                samples: vec![HistorySample {
                    unix_ms: 1_700_000_000_000,
                    in_short_term_lufs: -25.5,
                    out_short_term_lufs: -18.5,
                    agc_gain_db: 6.0,
                    compressor_gr_db: 1.0,
                    limiter_gr_db: 0.0,
                    dsp_mean_us: 42.5,
                    dsp_max_us: 180.0,
                    spikes: 0,
                    xruns: 1,
                }],
                next_unix_ms: None,
                marks: vec![headroom_ipc::HistoryMark {
                    unix_ms: 1_700_000_000_500,
                    kind: headroom_ipc::MarkKind::Bypass,
                    text: "bypass on".into(),
                }],
                kept_since_unix_ms: Some(1_699_990_000_000),
            }),
        ),
    );
}

#[test]
fn golden_errors() {
    let codes = [
        ("bad_request", ErrorCode::BadRequest),
        ("unknown_method", ErrorCode::UnknownMethod),
        ("invalid_params", ErrorCode::InvalidParams),
        ("unknown_key", ErrorCode::UnknownKey),
        ("invalid_value", ErrorCode::InvalidValue),
        ("not_found", ErrorCode::NotFound),
        ("busy", ErrorCode::Busy),
        ("unavailable", ErrorCode::Unavailable),
        ("internal", ErrorCode::Internal),
        ("frame_too_large", ErrorCode::FrameTooLarge),
        ("version_mismatch", ErrorCode::VersionMismatch),
        ("permission_denied", ErrorCode::PermissionDenied),
        ("timeout", ErrorCode::Timeout),
    ];
    for (lit, code) in codes {
        assert_eq!(code.as_str(), lit);
        server(
            &format!(r#"{{"id":1,"error":{{"code":"{lit}","message":"m"}}}}"#),
            ServerFrame::Error {
                id: Some(1),
                error: IpcError::new(code, "m"),
            },
        );
    }
    server(
        r#"{"id":null,"error":{"code":"frame_too_large","message":"frame exceeds 65536 bytes"}}"#,
        ServerFrame::Error {
            id: None,
            error: IpcError::new(ErrorCode::FrameTooLarge, "frame exceeds 65536 bytes"),
        },
    );
    // A code from a newer daemon is readable as `unknown`.
    let f = decode_server_frame(br#"{"id":2,"error":{"code":"quota_exceeded","message":"m"}}"#)
        .unwrap();
    assert_eq!(
        f,
        ServerFrame::Error {
            id: Some(2),
            error: IpcError::new(ErrorCode::Unknown, "m"),
        }
    );
}

fn event(topic: &str, name: &str, data: &str, expected: Event) {
    assert_eq!(expected.topic().as_str(), topic);
    assert_eq!(expected.name(), name);
    server(
        &format!(r#"{{"type":"event","topic":"{topic}","event":"{name}","data":{data}}}"#),
        ServerFrame::Event(expected),
    );
}

#[test]
fn golden_events() {
    event(
        "daemon",
        "started",
        r#"{"daemon_version":"0.1.0","protocol_version":1}"#,
        Event::started("0.1.0"),
    );
    event(
        "daemon",
        "shutdown",
        r#"{"reason":"signal"}"#,
        Event::shutdown("signal"),
    );
    let mut dropped = BTreeMap::new();
    dropped.insert(Topic::Meters, 12);
    dropped.insert(Topic::Routing, 1);
    event(
        "daemon",
        "overflow",
        r#"{"dropped":{"meters":12,"routing":1}}"#,
        Event::overflow(dropped),
    );
    event(
        "daemon",
        "snapshot",
        &status_json(),
        Event::DaemonSnapshot(Box::new(status())),
    );
    let alert = headroom_ipc::Alert {
        kind: headroom_ipc::AlertKind::RealSinkMissing,
        message: "no real sink".into(),
        since_unix_ms: 1_700_000_000_000,
    };
    event(
        "alerts",
        "raised",
        r#"{"kind":"real_sink_missing","message":"no real sink","since_unix_ms":1700000000000}"#,
        Event::AlertRaised(alert.clone()),
    );
    event(
        "alerts",
        "cleared",
        r#"{"kind":"real_sink_missing","message":"playing into speakers","since_unix_ms":1700000000000,"unix_ms":1700000004000}"#,
        Event::AlertCleared(headroom_ipc::AlertCleared {
            kind: headroom_ipc::AlertKind::RealSinkMissing,
            message: "playing into speakers".into(),
            since_unix_ms: 1_700_000_000_000,
            unix_ms: 1_700_000_004_000,
        }),
    );
    event(
        "alerts",
        "snapshot",
        r#"{"active":[{"kind":"real_sink_missing","message":"no real sink","since_unix_ms":1700000000000}]}"#,
        Event::AlertsSnapshot(headroom_ipc::Alerts {
            active: vec![alert],
        }),
    );
    // Words and kinds of a newer daemon decode as unknown, not as errors.
    let w: headroom_ipc::StateWord = serde_json::from_str(r#""warming_up""#).unwrap();
    assert_eq!(w, headroom_ipc::StateWord::Unknown);
    let k: headroom_ipc::AlertKind = serde_json::from_str(r#""disk_full""#).unwrap();
    assert_eq!(k, headroom_ipc::AlertKind::Unknown);
    for (w, wire, label) in [
        (headroom_ipc::StateWord::NoOutput, "no_output", "NO OUTPUT"),
        (headroom_ipc::StateWord::Degraded, "degraded", "DEGRADED"),
        (headroom_ipc::StateWord::Quiet, "quiet", "QUIET"),
    ] {
        assert_eq!(serde_json::to_string(&w).unwrap(), format!("\"{wire}\""));
        assert_eq!(w.label(), label);
    }
    event(
        "routing",
        "rule_changed",
        r#"{"app":"firefox","route":"bypass","source":"user"}"#,
        Event::rule_changed("firefox", Some(Route::Bypass), RuleSource::User),
    );
    event(
        "routing",
        "rule_changed",
        r#"{"app":"firefox","route":null,"source":"user"}"#,
        Event::rule_changed("firefox", None, RuleSource::User),
    );
    event(
        "routing",
        "stream_routed",
        STREAM_JSON,
        Event::StreamRouted(stream()),
    );
    event(
        "routing",
        "stream_removed",
        r#"{"node_id":57}"#,
        Event::StreamRemoved(StreamRemoved { node_id: 57 }),
    );
    event(
        "routing",
        "layer_a_attached",
        r#"{"node_id":57,"app":"Firefox"}"#,
        Event::LayerAAttached(LayerAAttached {
            node_id: 57,
            app: "Firefox".into(),
        }),
    );
    event(
        "routing",
        "layer_a_detached",
        r#"{"node_id":57}"#,
        Event::LayerADetached(LayerADetached { node_id: 57 }),
    );
    event(
        "routing",
        "snapshot",
        &routes_json(),
        Event::RoutingSnapshot(routes()),
    );
    event(
        "meters",
        "tick",
        &format!(
            r#"{{"meters":{METERS_JSON},"layer_a":[{{"node_id":57,"app":"Firefox",
"short_term_lufs":-14.5,"reduction_db":4.0}}]}}"#
        ),
        Event::meters_tick(
            meters(),
            vec![LayerALevel {
                node_id: 57,
                app: "Firefox".into(),
                short_term_lufs: -14.5,
                reduction_db: 4.0,
            }],
        ),
    );
    event(
        "profile",
        "changed",
        r#"{"name":"night","source":"user"}"#,
        Event::profile_changed("night", ProfileSource::User),
    );
    event(
        "profile",
        "error",
        r#"{"file":"/home/u/.config/headroom/profiles/night.toml","line":3,"column":14,
"message":"expected a number"}"#,
        Event::ProfileError(ProfileError {
            file: "/home/u/.config/headroom/profiles/night.toml".into(),
            line: Some(3),
            column: Some(14),
            message: "expected a number".into(),
        }),
    );
    event(
        "profile",
        "snapshot",
        PROFILE_LIST_JSON,
        Event::ProfileSnapshot(profile_list()),
    );
    event(
        "settings",
        "changed",
        r#"{"key":"agc.target_lufs","value":-18,"overridden":true}"#,
        Event::setting_changed("agc.target_lufs", SettingValue::Int(-18), true),
    );
    event(
        "settings",
        "snapshot",
        SETTINGS_JSON,
        Event::SettingsSnapshot(settings()),
    );
    // Unknown events from a newer daemon are kept raw.
    event(
        "routing",
        "teleported",
        r#"{"node_id":1}"#,
        Event::Other {
            topic: Topic::Routing,
            event: "teleported".into(),
            data: json(r#"{"node_id":1}"#),
        },
    );
}

#[test]
fn meters_never_serialise_non_finite_values() {
    let mut m = meters();
    m.in_momentary_lufs = f32::NEG_INFINITY;
    m.out_integrated_lufs = f32::NAN;
    m.in_true_peak_dbtp = -300.0;
    m.agc_gain_db = f32::INFINITY;
    let line = encode_line(&Event::meters_tick(m, vec![]));
    let ServerFrame::Event(Event::MetersTick(t)) =
        decode_server_frame(line.trim().as_bytes()).expect("sanitised meters decode")
    else {
        panic!("not a tick: {line}");
    };
    assert_eq!(t.meters.in_momentary_lufs, LUFS_FLOOR);
    assert_eq!(t.meters.out_integrated_lufs, LUFS_FLOOR);
    assert_eq!(t.meters.in_true_peak_dbtp, LUFS_FLOOR);
    assert_eq!(t.meters.agc_gain_db, 0.0);
    assert_eq!(t.meters.out_momentary_lufs, -18.0);
}

#[test]
fn malformed_server_frames_are_errors() {
    for lit in [
        &b"{"[..],
        b"null",
        br#"{"id":1}"#,
        br#"{"type":"event","topic":"meters","event":"tick","data":{}}"#,
        br#"{"type":"event","topic":"weather","event":"x","data":{}}"#,
        br#"{"type":"nope"}"#,
        br#"{"id":1,"result":{"kind":"mystery"}}"#,
    ] {
        assert!(
            decode_server_frame(lit).is_err(),
            "{}",
            String::from_utf8_lossy(lit)
        );
    }
}

#[test]
fn setting_value_parse_cli() {
    assert_eq!(SettingValue::parse_cli("true"), SettingValue::Bool(true));
    assert_eq!(SettingValue::parse_cli("-18"), SettingValue::Int(-18));
    assert_eq!(SettingValue::parse_cli("-18.5"), SettingValue::Float(-18.5));
    assert_eq!(
        SettingValue::parse_cli("nan"),
        SettingValue::String("nan".into())
    );
    assert_eq!(SettingValue::Int(-18).as_f64(), Some(-18.0));
}

#[test]
fn unknown_fields_are_ignored_for_forward_compatibility() {
    assert_eq!(
        decode_client_frame(br#"{"id":1,"method":"status","trace":"x"}"#).unwrap(),
        req(1, Request::Status)
    );
    // Unknown *params* are refused, so a typo never silently changes what a request does
    // and a client using a newer optional parameter learns the daemon does not support it.
    let err = decode_client_frame(
        br#"{"id":2,"method":"route.set","params":{"app":"mpv","route":"bypass","priority":3}}"#,
    )
    .unwrap_err();
    assert_eq!(err.error.code, ErrorCode::InvalidParams);
    assert!(
        err.error.message.contains("priority"),
        "{}",
        err.error.message
    );
    // Newer daemons may add result fields.
    let f = decode_server_frame(br#"{"id":3,"result":{"kind":"bypass","bypass":true,"since":5}}"#)
        .unwrap();
    assert_eq!(f, ok(3, Response::Bypass(BypassState { bypass: true })));
}

/// A `status` from a daemon that predates auto-promote (no `promote_default`) still decodes,
/// as not promoted.
#[test]
fn status_without_promote_default_decodes_as_not_promoted() {
    let old = status_json().replace("\"promote_default\":false,", "");
    assert!(!old.contains("promote_default"));
    let s: Status = serde_json::from_str(&old).expect("older status decodes");
    assert_eq!(s, status());
    let promoted: Status = serde_json::from_str(
        &status_json().replace("\"promote_default\":false", "\"promote_default\":true"),
    )
    .unwrap();
    assert!(promoted.promote_default);
}

/// A `settings/changed` from a daemon that predates `overridden` still decodes, saying
/// nothing of it.
#[test]
fn setting_changed_without_overridden_decodes() {
    let line = br#"{"type":"event","topic":"settings","event":"changed","data":{"key":"agc.target_lufs","value":-18}}"#;
    let ServerFrame::Event(Event::SettingChanged(c)) = decode_server_frame(line).unwrap() else {
        panic!("not a settings/changed");
    };
    assert_eq!(
        (c.key.as_str(), &c.value, c.overridden),
        ("agc.target_lufs", &SettingValue::Int(-18), None)
    );
}
