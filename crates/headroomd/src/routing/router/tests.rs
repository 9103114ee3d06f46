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
        ..RouteConfig::default()
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
        ..RouteConfig::default()
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
        ..RouteConfig::default()
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
        ..RouteConfig::default()
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
        ..RouteConfig::default()
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
        ..RouteConfig::default()
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
        ..RouteConfig::default()
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
    r.set_link_target(1, Some(PROCESSED_SINK.into()), None);
    r.set_link_target(99, Some("x".into()), None);
    assert_eq!(r.state()[0].linked_to.as_deref(), Some(PROCESSED_SINK));
}

#[test]
fn a_stream_naming_its_own_target_is_left_there_unless_a_rule_says_processed() {
    let mut r = router_with_real();
    let daw = stream(
        7,
        &[("application.name", "Ardour"), ("target.object", "headset")],
    );
    assert_eq!(r.on_stream_added(daw), None, "left where the app sent it");
    let st = &r.state()[0];
    assert_eq!(st.status, StreamStatus::AppTarget);
    assert_eq!(st.rule_route, Some(Route::Processed));
    assert_eq!(
        st.note().as_deref(),
        Some("the app chose its output (headset)")
    );
    assert!(r.processed_streams().is_empty());
    // A rule for the app that says processed wins; taking it away gives the app its choice back.
    assert_eq!(
        r.set_user_rule(user("ardour", Route::Processed)),
        vec![mv(7, Some(PROCESSED_SINK))]
    );
    assert_eq!(r.state()[0].status, StreamStatus::Routed);
    assert_eq!(r.unset_user_rule("ardour").1, vec![mv(7, None)]);
    assert_eq!(r.state()[0].status, StreamStatus::AppTarget);
    // A bypass rule leaves it where it is as well.
    assert!(r.set_user_rule(user("ardour", Route::Bypass)).is_empty());
    // `node.target` (the older key) counts too; empty and -1 do not.
    let old = stream(8, &[("application.name", "x"), ("node.target", "hdmi")]);
    assert_eq!(r.on_stream_added(old), None);
    let none = stream(9, &[("application.name", "y"), ("target.object", "-1")]);
    assert_eq!(r.on_stream_added(none), Some(mv(9, Some(PROCESSED_SINK))));
}

/// An app that plays straight into the processed sink is processed whatever the rules say;
/// a bypass rule for it is named with the reason it does not apply.
#[test]
fn a_bypass_rule_for_an_app_that_chose_the_processed_sink_says_why_it_does_not_apply() {
    let mut r = router_with_real();
    let play = stream(
        60,
        &[
            ("application.name", "pw-play"),
            ("target.object", PROCESSED_SINK),
        ],
    );
    assert_eq!(r.on_stream_added(play), Some(mv(60, Some(PROCESSED_SINK))));
    assert!(r.state()[0].note().is_none_or(|n| n.starts_with("pending")));
    r.set_user_rule(user("pw-play", Route::Bypass));
    let st = &r.state()[0];
    assert_eq!(
        (st.route, st.rule_route),
        (Some(Route::Processed), Some(Route::Bypass))
    );
    assert_eq!(
        st.note(),
        Some(format!("the app chose its output ({PROCESSED_SINK})"))
    );
}

#[test]
fn no_target_in_the_metadata_is_no_ones_choice() {
    // WirePlumber writes `target.node = -1` for a stream whose app named its output
    // (`pw-play --target`): the app's choice stays what the stream shows, not a user's move.
    let mut r = router_with_real();
    let play = stream(
        52,
        &[
            ("application.name", "pw-play"),
            ("target.object", "speakers"),
        ],
    );
    assert_eq!(r.on_stream_added(play), None);
    assert_eq!(r.on_target_changed(52, "target.node", Some("-1")), None);
    let st = &r.state()[0];
    assert_eq!(st.status, StreamStatus::AppTarget);
    assert_eq!(
        st.note().as_deref(),
        Some("the app chose its output (speakers)")
    );
    // A stream with no target of its own stays routed; so does one that appears with -1
    // (or an empty value) already in the metadata.
    assert_eq!(
        r.on_stream_added(app(53, "mpv")),
        Some(mv(53, Some(PROCESSED_SINK)))
    );
    // Our `target.object` replaced by -1 is ours gone (as deleted): written again.
    assert_eq!(
        r.on_target_changed(53, "target.object", Some(" -1 ")),
        Some(mv(53, Some(PROCESSED_SINK)))
    );
    assert_eq!(r.on_target_changed(53, "target.node", Some("")), None);
    for id in [54, 55] {
        let v = if id == 54 { "-1" } else { "" };
        assert_eq!(
            r.on_stream_added_with_target(app(id, "vlc"), Some(v)),
            Some(mv(id, Some(PROCESSED_SINK)))
        );
    }
    assert!(r
        .state()
        .iter()
        .skip(1)
        .all(|s| s.status == StreamStatus::Routed));
}

#[test]
fn a_target_set_by_someone_else_is_the_users_choice() {
    let mut r = router_with_real();
    assert_eq!(
        r.on_stream_added(app(5, "Spotify")),
        Some(mv(5, Some(PROCESSED_SINK)))
    );
    // The echo of our own write changes nothing.
    assert_eq!(
        r.on_target_changed(5, "target.object", Some(PROCESSED_SINK)),
        None
    );
    assert_eq!(r.state()[0].status, StreamStatus::Routed);
    // A mixer moves it to the speakers: left there, ours no longer written.
    assert_eq!(
        r.on_target_changed(5, "target.object", Some("speakers")),
        None
    );
    let st = &r.state()[0];
    assert_eq!(st.status, StreamStatus::UserTarget);
    assert_eq!(st.target, None);
    assert_eq!(st.note().as_deref(), Some("moved by the user (speakers)"));
    // Rule changes keep it there...
    assert!(r.set_user_rule(user("other", Route::Bypass)).is_empty());
    // ...unless a rule for the app says processed.
    assert_eq!(
        r.set_user_rule(user("spotify", Route::Processed)),
        vec![mv(5, Some(PROCESSED_SINK))]
    );
    r.unset_user_rule("spotify");
    // The user deletes their target: routed by the rules again.
    r.on_target_changed(5, "target.object", None);
    assert_eq!(r.state()[0].status, StreamStatus::Routed);
    // A target already there when the stream appears (restored by the session manager) is
    // the user's too, unless it is one of ours.
    let restored = r.on_stream_added_with_target(app(6, "Zoom"), Some("headset"));
    assert_eq!(restored, None);
    assert_eq!(r.state()[1].status, StreamStatus::UserTarget);
    let ours = r.on_stream_added_with_target(app(7, "mpv"), Some("speakers"));
    assert_eq!(ours, Some(mv(7, Some(PROCESSED_SINK))));
}

#[test]
fn notification_roles_bypass_by_default_unless_a_rule_matches() {
    let mut r = router_with_real();
    let bell = stream(
        3,
        &[
            ("application.name", "Thunderbird"),
            ("media.role", "Notification"),
        ],
    );
    assert_eq!(r.on_stream_added(bell), Some(mv(3, Some("speakers"))));
    let m = r.state()[0].matched.clone().unwrap();
    assert_eq!(m.source, RuleSource::Role);
    assert_eq!(m.description, "media.role=Notification");
    // A rule for the app wins.
    assert_eq!(
        r.set_user_rule(user("thunderbird", Route::Processed)),
        vec![mv(3, Some(PROCESSED_SINK))]
    );
    r.unset_user_rule("thunderbird");
    // The profile key turns it off.
    let moves = r.set_profile_rules(RouteConfig {
        bypass_notifications: false,
        ..RouteConfig::default()
    });
    assert_eq!(moves, vec![mv(3, Some(PROCESSED_SINK))]);
    assert_eq!(r.state()[0].route, Some(Route::Processed));
    let alarm = stream(4, &[("application.name", "clock"), ("media.role", "alarm")]);
    assert_eq!(r.on_stream_added(alarm), Some(mv(4, Some(PROCESSED_SINK))));
}
