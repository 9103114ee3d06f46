//! The monitor's view model follows the daemon's events.

use std::collections::BTreeMap;

use headroom_cli::monitor::{apply_event, apply_status, Banner, MonitorState, ERROR_BANNER_MS};
use headroom_ipc::{
    DspTiming, Event, LayerAAttached, LayerADetached, LayerALevel, Meters, PipewireState,
    ProfileError, ProfileSource, Route, Routes, SettingValue, Status, StreamInfo, StreamRemoved,
    Topic,
};

fn stream(id: u32, app: &str, route: Route) -> StreamInfo {
    StreamInfo {
        node_id: id,
        app: app.into(),
        binary: None,
        media_name: Some(format!("{app} media")),
        matched_rule: None,
        route,
        target: None,
        layer_a_reduction_db: None,
        sink: None,
        note: None,
    }
}

fn status() -> Status {
    Status {
        state: headroom_ipc::StateWord::Levelling,
        daemon_version: "0.1.0".into(),
        protocol_version: 1,
        uptime_s: 100,
        pipewire: PipewireState::Connected,
        real_sink: None,
        processed_sink: "headroom-processed".into(),
        processed_channels: None,
        promote_default: false,
        profile: "default".into(),
        bypass: false,
        dsp: DspTiming {
            call_count: 5,
            mean_us: 11.0,
            max_us: 30,
            spike_count: 2,
        },
        xruns: 1,
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

#[test]
fn config_file_warnings_are_shown_once_when_they_appear() {
    let mut s = MonitorState::default();
    let mut st = status();
    apply_status(&mut s, &st, 0);
    assert_eq!(s.banner, None);
    st.config_warnings = vec![
        "/c/config.toml:1:1: unknown key `profle` (did you mean `profile`?); ignored".into(),
        "/c/config.toml:3:1: unknown key `x`; ignored".into(),
    ];
    apply_status(&mut s, &st, 1_000);
    assert_eq!(
        s.banner,
        Some(Banner::Error(
            "/c/config.toml:1:1: unknown key `profle` (did you mean `profile`?); ignored \
             (and 1 more: headroom status)"
                .into()
        ))
    );
    // The same warnings on the next polls: the banner is not raised again once it expired.
    s.tick(1_000 + ERROR_BANNER_MS + 1);
    assert_eq!(s.banner, None);
    apply_status(&mut s, &st, 1_000 + ERROR_BANNER_MS + 2);
    assert_eq!(s.banner, None);
}

#[test]
fn streams_follow_snapshot_routing_and_layer_a() {
    let mut s = MonitorState::default();
    apply_event(
        &mut s,
        &Event::RoutingSnapshot(Routes {
            rules: vec![],
            streams: vec![
                stream(1, "a", Route::Processed),
                stream(2, "b", Route::Bypass),
            ],
            next_cursor: None,
        }),
        0,
    );
    assert_eq!(s.streams.len(), 2);
    // Re-routed stream is updated in place; a new one is appended.
    apply_event(
        &mut s,
        &Event::StreamRouted(stream(2, "b", Route::Processed)),
        1,
    );
    apply_event(
        &mut s,
        &Event::StreamRouted(stream(3, "c", Route::Processed)),
        1,
    );
    let routes: Vec<(u32, &str)> = s
        .streams
        .iter()
        .map(|r| (r.node_id, r.route.as_str()))
        .collect();
    assert_eq!(
        routes,
        vec![(1, "processed"), (2, "processed"), (3, "processed")]
    );

    apply_event(
        &mut s,
        &Event::LayerAAttached(LayerAAttached {
            node_id: 1,
            app: "a".into(),
        }),
        2,
    );
    assert_eq!(s.streams[0].layer_a_db, Some(0.0));
    apply_event(
        &mut s,
        &Event::meters_tick(
            Meters::silent(-16.0),
            vec![LayerALevel {
                node_id: 1,
                app: "a".into(),
                short_term_lufs: -8.0,
                reduction_db: 4.5,
            }],
        ),
        3,
    );
    assert_eq!(s.streams[0].layer_a_db, Some(4.5));
    apply_event(
        &mut s,
        &Event::LayerADetached(LayerADetached { node_id: 1 }),
        4,
    );
    assert_eq!(s.streams[0].layer_a_db, None);
    apply_event(
        &mut s,
        &Event::StreamRemoved(StreamRemoved { node_id: 2 }),
        5,
    );
    let ids: Vec<u32> = s.streams.iter().map(|r| r.node_id).collect();
    assert_eq!(ids, vec![1, 3]);
}

#[test]
fn meters_status_profile_and_settings() {
    let mut s = MonitorState::default();
    apply_event(&mut s, &Event::DaemonSnapshot(Box::new(status())), 1000);
    assert_eq!(
        (s.version.as_str(), s.profile.as_str(), s.uptime_s),
        ("0.1.0", "default", 100)
    );
    assert_eq!((s.dsp.spikes, s.dsp.xruns, s.dsp.max_us), (2, 1, 30));
    let mut m = Meters::silent(-18.0);
    m.in_short_term_lufs = -30.0;
    m.out_short_term_lufs = -18.5;
    apply_event(&mut s, &Event::meters_tick(m, vec![]), 1100);
    let mv = s.meters.unwrap();
    assert_eq!((mv.in_s, mv.out_s, mv.target_lufs), (-30.0, -18.5, -18.0));
    assert_eq!(s.history.back().map(|p| (p.1, p.2)), Some((-30.0, -18.5)));

    apply_event(
        &mut s,
        &Event::profile_changed("night", ProfileSource::Shipped),
        1200,
    );
    assert_eq!(s.profile, "night");
    apply_event(
        &mut s,
        &Event::setting_changed("limiter.ceiling_dbtp", SettingValue::Float(-2.0), true),
        1300,
    );
    assert_eq!(s.ceiling_dbtp, -2.0);
    apply_event(
        &mut s,
        &Event::setting_changed("agc.target_lufs", SettingValue::Int(-20), true),
        1300,
    );
    assert_eq!(s.ceiling_dbtp, -2.0);
}

#[test]
fn banners_for_overflow_errors_and_shutdown() {
    let mut s = MonitorState::default();
    let mut dropped = BTreeMap::new();
    dropped.insert(Topic::Meters, 7);
    dropped.insert(Topic::Routing, 1);
    apply_event(&mut s, &Event::overflow(dropped), 10);
    match &s.banner {
        Some(Banner::Overflow(t)) => {
            assert!(t.starts_with("8 events dropped (routing, meters)"), "{t}")
        }
        other => panic!("{other:?}"),
    }
    apply_event(
        &mut s,
        &Event::ProfileError(ProfileError {
            file: "night.toml".into(),
            line: Some(3),
            column: Some(1),
            message: "unknown key".into(),
        }),
        20,
    );
    assert_eq!(
        s.banner,
        Some(Banner::Error("night.toml:3:1: unknown key".into()))
    );
    apply_event(&mut s, &Event::shutdown("SIGTERM"), 30);
    assert!(matches!(&s.banner, Some(Banner::Disconnected(t)) if t.contains("SIGTERM")));
    // The daemon comes back: its snapshot clears the banner.
    apply_event(&mut s, &Event::DaemonSnapshot(Box::new(status())), 40);
    assert_eq!(s.banner, None);
}
