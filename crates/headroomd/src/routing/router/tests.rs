//! The router's decisions, rule by rule and event by event.

use super::*;
use headroom_profile::MatchKey;
use headroom_profile::RouteRule;

fn stream(id: u32, props: &[(&str, &str)]) -> StreamNode {
    StreamNode::new(id, "Stream/Output/Audio", props.iter().copied())
}

fn app(id: u32, name: &str) -> StreamNode {
    stream(id, &[("application.name", name), ("node.name", "pw-play")])
}

fn rule(m: &[(&str, &str)], route: Route) -> RouteRule {
    RouteRule {
        matches: m
            .iter()
            .map(|(k, v)| {
                (
                    k.parse::<MatchKey>().unwrap(),
                    headroom_profile::Glob::new(v).unwrap(),
                )
            })
            .collect(),
        route,
    }
}

fn user(app: &str, route: Route) -> UserRule {
    UserRule::new(app, route).unwrap()
}

fn router_with_real() -> Router {
    let mut r = Router::default();
    assert!(r.on_real_sink_changed(Some("speakers")).is_empty());
    r
}

fn mv(id: u32, t: Option<&str>) -> Move {
    Move {
        node_id: id,
        target: t.map(str::to_string),
    }
}

#[test]
fn default_processed_routes_new_stream_to_processed_sink() {
    let mut r = router_with_real();
    assert_eq!(
        r.on_stream_added(app(40, "mpv")),
        Some(mv(40, Some(PROCESSED_SINK)))
    );
    let st = r.state();
    assert_eq!(st.len(), 1);
    assert_eq!(st[0].route, Some(Route::Processed));
    assert_eq!(st[0].matched.as_ref().unwrap().source, RuleSource::Default);
    assert_eq!(st[0].target.as_deref(), Some(PROCESSED_SINK));
}

#[test]
fn block_list_bypasses_matching_app_to_real_sink() {
    let mut r = router_with_real();
    r.set_profile_rules(RouteConfig {
        default: Route::Processed,
        rules: vec![rule(&[("app", "ardour*")], Route::Bypass)],
    });
    assert_eq!(
        r.on_stream_added(app(1, "ardour8")),
        Some(mv(1, Some("speakers")))
    );
    assert_eq!(
        r.on_stream_added(app(2, "firefox")),
        Some(mv(2, Some(PROCESSED_SINK)))
    );
}

#[test]
fn allow_list_processes_only_listed_apps() {
    let mut r = router_with_real();
    r.set_profile_rules(RouteConfig {
        default: Route::Bypass,
        rules: vec![
            rule(&[("app", "firefox")], Route::Processed),
            rule(&[("media.role", "Movie")], Route::Processed),
        ],
    });
    assert_eq!(
        r.on_stream_added(app(1, "firefox"))
            .unwrap()
            .target
            .as_deref(),
        Some(PROCESSED_SINK)
    );
    assert_eq!(
        r.on_stream_added(app(2, "spotify"))
            .unwrap()
            .target
            .as_deref(),
        Some("speakers")
    );
    let movie = stream(3, &[("application.name", "vlc"), ("media.role", "Movie")]);
    assert_eq!(
        r.on_stream_added(movie).unwrap().target.as_deref(),
        Some(PROCESSED_SINK)
    );
    assert_eq!(r.processed_streams(), vec![1, 3]);
}

#[test]
fn app_key_matches_binary_too() {
    let mut r = router_with_real();
    r.set_user_rule(user("chromium", Route::Bypass));
    let s = stream(
        5,
        &[
            ("application.name", "Chromium input"),
            ("application.process.binary", "chromium"),
        ],
    );
    assert_eq!(
        r.on_stream_added(s).unwrap().target.as_deref(),
        Some("speakers")
    );
    assert_eq!(r.state()[0].app, "Chromium input");
    assert_eq!(r.state()[0].binary.as_deref(), Some("chromium"));
}

#[test]
fn all_keys_of_a_rule_must_match_and_missing_keys_do_not() {
    let mut r = router_with_real();
    r.set_profile_rules(RouteConfig {
        default: Route::Processed,
        rules: vec![rule(
            &[("app", "firefox"), ("media.name", "*meeting*")],
            Route::Bypass,
        )],
    });
    assert_eq!(
        r.on_stream_added(stream(
            1,
            &[
                ("application.name", "firefox"),
                ("media.name", "Team meeting")
            ]
        ))
        .unwrap()
        .target
        .as_deref(),
        Some("speakers")
    );
    // No media.name: the rule cannot match.
    assert_eq!(
        r.on_stream_added(app(2, "firefox"))
            .unwrap()
            .target
            .as_deref(),
        Some(PROCESSED_SINK)
    );
}

#[test]
fn user_rules_win_over_profile_rules_and_newest_user_rule_first() {
    let mut r = router_with_real();
    r.set_profile_rules(RouteConfig {
        default: Route::Processed,
        rules: vec![rule(&[("app", "mpv")], Route::Bypass)],
    });
    r.on_stream_added(app(1, "mpv"));
    assert_eq!(r.state()[0].route, Some(Route::Bypass));
    assert_eq!(
        r.state()[0].matched.as_ref().unwrap().source,
        RuleSource::Profile
    );

    let moves = r.set_user_rule(user("mpv", Route::Processed));
    assert_eq!(moves, vec![mv(1, Some(PROCESSED_SINK))]);
    let m = r.state()[0].matched.clone().unwrap();
    assert_eq!(m.source, RuleSource::User);
    assert_eq!(m.description, "app=mpv");

    // A newer, broader user rule wins over the older one.
    let moves = r.set_user_rule(user("m*", Route::Bypass));
    assert_eq!(moves, vec![mv(1, Some("speakers"))]);
    // Re-setting "mpv" makes it the newest again.
    let moves = r.set_user_rule(user("MPV", Route::Processed));
    assert_eq!(moves, vec![mv(1, Some(PROCESSED_SINK))]);
    assert_eq!(r.user_rules().len(), 2);
}

#[test]
fn unset_user_rule_falls_back_to_profile_then_default() {
    let mut r = router_with_real();
    r.set_profile_rules(RouteConfig {
        default: Route::Bypass,
        rules: vec![],
    });
    r.on_stream_added(app(7, "game"));
    assert_eq!(
        r.set_user_rule(user("game", Route::Processed)),
        vec![mv(7, Some(PROCESSED_SINK))]
    );
    let (removed, moves) = r.unset_user_rule("game");
    assert!(removed);
    assert_eq!(moves, vec![mv(7, Some("speakers"))]);
    let (removed, moves) = r.unset_user_rule("game");
    assert!(!removed);
    assert!(moves.is_empty());
}

#[test]
fn no_move_when_nothing_changes() {
    let mut r = router_with_real();
    r.on_stream_added(app(1, "a"));
    assert!(r.set_user_rule(user("a", Route::Processed)).is_empty());
    assert!(r.set_profile_rules(RouteConfig::default()).is_empty());
    assert!(r.on_real_sink_changed(Some("speakers")).is_empty());
}

#[test]
fn bypassed_streams_follow_the_real_sink() {
    let mut r = Router::default();
    r.set_profile_rules(RouteConfig {
        default: Route::Bypass,
        rules: vec![rule(&[("app", "p")], Route::Processed)],
    });
    // Real sink unknown: a bypassed stream is left alone, a processed one moves.
    assert_eq!(r.on_stream_added(app(1, "b")), None);
    assert_eq!(
        r.on_stream_added(app(2, "p")),
        Some(mv(2, Some(PROCESSED_SINK)))
    );
    assert_eq!(
        r.on_real_sink_changed(Some("hdmi")),
        vec![mv(1, Some("hdmi"))]
    );
    assert_eq!(
        r.on_real_sink_changed(Some("usb")),
        vec![mv(1, Some("usb"))]
    );
    // Real sink gone: delete our key, WirePlumber falls back.
    assert_eq!(r.on_real_sink_changed(None), vec![mv(1, None)]);
    // The processed sink is never taken as the real sink.
    assert!(r.on_real_sink_changed(Some(PROCESSED_SINK)).is_empty());
    assert_eq!(r.real_sink(), None);
}

#[test]
fn own_streams_captures_and_sinks_are_never_routed() {
    let mut r = router_with_real();
    assert_eq!(
        r.on_stream_added(stream(1, &[("node.name", "headroom-output")])),
        None
    );
    assert_eq!(
        r.on_stream_added(stream(2, &[("application.name", "headroomd")])),
        None
    );
    assert_eq!(
        r.on_stream_added(stream(
            3,
            &[("node.name", "x"), (HEADROOM_ROLE_PROP, "tap")]
        )),
        None
    );
    assert_eq!(
        r.on_stream_added(StreamNode::new(
            4,
            "Stream/Input/Audio",
            [("application.name", "rec")]
        )),
        None
    );
    assert_eq!(
        r.on_stream_added(StreamNode::new(
            5,
            "Audio/Sink",
            [("node.name", "speakers")]
        )),
        None
    );
    assert!(r.state().is_empty());
    assert!(r.set_user_rule(user("*", Route::Bypass)).is_empty());
}

#[test]
fn dont_reconnect_streams_are_fixed() {
    let mut r = router_with_real();
    let s = stream(
        9,
        &[("application.name", "pro"), ("node.dont-reconnect", "true")],
    );
    assert_eq!(r.on_stream_added(s), None);
    let st = r.state();
    assert_eq!(st[0].status, StreamStatus::Fixed);
    assert_eq!(st[0].route, None);
    assert!(r.set_user_rule(user("pro", Route::Bypass)).is_empty());
    assert!(r.processed_streams().is_empty());
}

#[test]
fn removed_streams_are_forgotten_and_shutdown_deletes_our_keys() {
    let mut r = router_with_real();
    r.on_stream_added(app(1, "a"));
    r.on_stream_added(app(2, "b"));
    r.on_stream_added(stream(
        3,
        &[("application.name", "c"), ("node.dont-reconnect", "true")],
    ));
    assert!(r.on_stream_removed(2));
    assert!(!r.on_stream_removed(2));
    assert_eq!(r.shutdown_moves(), vec![mv(1, None)]);
    // Nothing left to undo.
    assert!(r.shutdown_moves().is_empty());
}

#[test]
fn property_changes_re_route_and_reapply_rewrites_targets() {
    let mut r = router_with_real();
    r.set_profile_rules(RouteConfig {
        default: Route::Processed,
        rules: vec![rule(&[("media.name", "*call*")], Route::Bypass)],
    });
    let s = stream(
        4,
        &[("application.name", "browser"), ("media.name", "music")],
    );
    assert_eq!(
        r.on_stream_added(s.clone()),
        Some(mv(4, Some(PROCESSED_SINK)))
    );
    let mut props = s.props.clone();
    props.insert("media.name".into(), "video call".into());
    assert_eq!(
        r.on_stream_changed(4, props.clone()),
        Some(mv(4, Some("speakers")))
    );
    assert_eq!(r.on_stream_changed(4, props), None);
    assert_eq!(r.on_stream_changed(99, BTreeMap::new()), None);
    // After the bus comes back, every target is written again.
    assert_eq!(r.reapply(), vec![mv(4, Some("speakers"))]);
    r.clear_streams();
    assert!(r.state().is_empty());
}

#[test]
fn link_targets_are_reported() {
    let mut r = router_with_real();
    r.on_stream_added(app(1, "a"));
    r.set_link_target(1, Some(PROCESSED_SINK.into()));
    r.set_link_target(99, Some("x".into()));
    assert_eq!(r.state()[0].linked_to.as_deref(), Some(PROCESSED_SINK));
}
