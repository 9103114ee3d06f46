//! The monitor's keys against a fake daemon control: selecting a stream and re-routing it,
//! Layer A, bypass, profile, and what the banner says.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use headroom_cli::monitor::{
    literal_glob, on_key, perform, Action, Banner, Control, MonitorState, StreamRow,
};
use headroom_ipc::Route;

/// Records the requests; `layer_a` is the setting's value, `fail` makes every request fail,
/// `warning` is carried by the next reply.
#[derive(Default)]
struct FakeControl {
    calls: Vec<String>,
    layer_a: bool,
    bypass: bool,
    fail: bool,
    warning: Option<String>,
}

impl Control for FakeControl {
    fn toggle_bypass(&mut self) -> Result<bool, String> {
        self.calls.push("bypass toggle".into());
        self.bypass = !self.bypass;
        Ok(self.bypass)
    }
    fn next_profile(&mut self) -> Result<String, String> {
        self.calls.push("profile next".into());
        Ok("night".into())
    }
    fn set_route(&mut self, app: &str, route: Route) -> Result<(), String> {
        self.calls.push(format!("route set {app} {route:?}"));
        if self.fail {
            return Err("headroomd is not running".into());
        }
        Ok(())
    }
    fn toggle_layer_a(&mut self) -> Result<bool, String> {
        self.calls.push("layer_a toggle".into());
        self.layer_a = !self.layer_a;
        Ok(self.layer_a)
    }
    fn take_warning(&mut self) -> Option<String> {
        self.warning.take()
    }
}

fn row(id: u32, app: &str, route: &str) -> StreamRow {
    StreamRow {
        node_id: id,
        app: app.into(),
        media: None,
        route: route.into(),
        layer_a_db: None,
        rule_app: (!app.starts_with("node ")).then(|| app.to_string()),
        sink: None,
    }
}

fn key(code: KeyCode) -> KeyEvent {
    KeyEvent::new(code, KeyModifiers::NONE)
}

/// Presses `code`; performs what it asks. Returns whether the monitor quits.
fn press(s: &mut MonitorState, ctl: &mut FakeControl, code: KeyCode) -> bool {
    match on_key(s, key(code), 1_000) {
        Some(a) => perform(s, a, ctl, 1_000),
        None => false,
    }
}

#[test]
fn select_a_stream_and_route_it_both_ways() {
    let mut s = MonitorState::new(vec![]);
    s.set_streams(vec![
        row(41, "Firefox", "processed"),
        row(42, "mpv [HD]*", "processed"),
        row(43, "Zoom", "bypass"),
    ]);
    let mut ctl = FakeControl::default();
    // Down once: mpv; r sends it to bypass, its name matched literally.
    assert!(!press(&mut s, &mut ctl, KeyCode::Down));
    assert!(!press(&mut s, &mut ctl, KeyCode::Char('r')));
    assert_eq!(ctl.calls, vec![r"route set mpv \[HD\]\* Bypass"]);
    assert!(
        matches!(&s.banner, Some(Banner::Info(m)) if m.contains("bypass")),
        "{:?}",
        s.banner
    );
    // j to Zoom (bypassed): r brings it back to processed; further down stays on Zoom.
    press(&mut s, &mut ctl, KeyCode::Char('j'));
    press(&mut s, &mut ctl, KeyCode::Down);
    press(&mut s, &mut ctl, KeyCode::Char('r'));
    assert_eq!(ctl.calls[1], "route set Zoom Processed");
    // Up twice (k): Firefox.
    press(&mut s, &mut ctl, KeyCode::Up);
    press(&mut s, &mut ctl, KeyCode::Char('k'));
    press(&mut s, &mut ctl, KeyCode::Char('r'));
    assert_eq!(ctl.calls[2], "route set Firefox Bypass");
}

#[test]
fn layer_a_bypass_profile_and_quit() {
    let mut s = MonitorState::new(vec![]);
    let mut ctl = FakeControl {
        layer_a: true,
        ..Default::default()
    };
    press(&mut s, &mut ctl, KeyCode::Char('a'));
    assert_eq!(s.banner, Some(Banner::Info("Layer A off".into())));
    press(&mut s, &mut ctl, KeyCode::Char('a'));
    assert_eq!(s.banner, Some(Banner::Info("Layer A on".into())));
    press(&mut s, &mut ctl, KeyCode::Char('b'));
    assert_eq!(s.banner, Some(Banner::Info("bypass on".into())));
    press(&mut s, &mut ctl, KeyCode::Char('p'));
    assert_eq!(s.profile, "night");
    assert_eq!(
        ctl.calls,
        vec![
            "layer_a toggle",
            "layer_a toggle",
            "bypass toggle",
            "profile next"
        ]
    );
    assert!(!press(&mut s, &mut ctl, KeyCode::Char('?')));
    assert!(s.show_help);
    assert!(press(&mut s, &mut ctl, KeyCode::Char('q')));
    assert_eq!(
        on_key(
            &mut s,
            KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL),
            0
        ),
        Some(Action::Quit)
    );
}

#[test]
fn route_key_without_a_nameable_stream_or_with_a_failing_daemon_says_so() {
    let mut s = MonitorState::new(vec![]);
    let mut ctl = FakeControl::default();
    press(&mut s, &mut ctl, KeyCode::Char('r'));
    assert_eq!(s.banner, Some(Banner::Error("no stream selected".into())));
    s.set_streams(vec![row(7, "node 7", "processed")]);
    press(&mut s, &mut ctl, KeyCode::Char('r'));
    assert!(matches!(&s.banner, Some(Banner::Error(m)) if m.contains("no application name")));
    assert!(ctl.calls.is_empty(), "{:?}", ctl.calls);
    s.set_streams(vec![row(8, "Firefox", "processed")]);
    ctl.fail = true;
    press(&mut s, &mut ctl, KeyCode::Char('r'));
    assert_eq!(
        s.banner,
        Some(Banner::Error("headroomd is not running".into()))
    );
}

#[test]
fn literal_globs_match_only_the_name() {
    for name in ["mpv [HD]*", "a?b", r"back\slash", "plain"] {
        let g = headroom_profile::Glob::new(&literal_glob(name)).unwrap();
        assert!(g.matches(name), "{name}");
    }
    let g = headroom_profile::Glob::new(&literal_glob("mpv*")).unwrap();
    assert!(!g.matches("mpv2"));
}

#[test]
fn a_reply_warning_is_shown_with_what_was_done() {
    // The daemon carried out the request but says, e.g., that it could not save it: the
    // banner shows both, as an error; the next reply without a warning is plain again.
    let mut s = MonitorState::new(vec![]);
    let mut ctl = FakeControl {
        warning: Some("cannot save the overrides to /x/state.json: No space left on device".into()),
        ..Default::default()
    };
    press(&mut s, &mut ctl, KeyCode::Char('b'));
    assert_eq!(
        s.banner,
        Some(Banner::Error(
            "bypass on; warning: cannot save the overrides to /x/state.json: No space left on device"
                .into()
        ))
    );
    press(&mut s, &mut ctl, KeyCode::Char('b'));
    assert_eq!(s.banner, Some(Banner::Info("bypass off".into())));
}
