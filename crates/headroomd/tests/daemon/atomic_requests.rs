//! A request is applied completely or not at all. A setting, bypass or route rule that
//! cannot be saved (a full disk) is in force all the same and the reply carries a warning;
//! a profile that cannot be recorded in the config file is an error and nothing of it is in
//! force.

use headroom_ipc::{BypassMode, Request, Response, Route, SettingValue};
use headroomd::engine::Output;
use headroomd::DaemonConfig;

use crate::support::rig::Rig;

fn no_side_effects(out: &[Output]) {
    assert!(
        out.iter()
            .all(|o| !matches!(o, Output::Pw(_) | Output::Publish(_) | Output::Params(_))),
        "a failed request had effects: {out:?}"
    );
}

/// Saving fails: each state file is a directory the daemon cannot replace.
fn rig_that_cannot_save() -> Rig {
    let mut rig = Rig::new(DaemonConfig::default());
    rig.bus_up();
    rig.node_added(50, "Stream/Output/Audio", &[("application.name", "foo")]);
    for f in ["routes.json", "state.json"] {
        std::fs::create_dir_all(rig.state.join(f).join("keep")).unwrap();
    }
    std::fs::create_dir_all(rig.config.join("config.toml").join("keep")).unwrap();
    rig
}

/// The warning the reply carries (the output right before it), if any.
fn reply_warning(out: &[Output]) -> Option<String> {
    out.iter().rev().find_map(|o| match o {
        Output::Warning(w) => Some(w.clone()),
        _ => None,
    })
}

/// The chain parameters the engine hands the audio thread in `out` (the last ones).
fn params_of(out: &[Output]) -> headroom_core::ChainParams {
    out.iter()
        .rev()
        .find_map(|o| match o {
            Output::Params(p) => Some(*p),
            _ => None,
        })
        .expect("new chain parameters")
}

#[test]
fn a_route_that_cannot_be_saved_is_in_force_and_the_reply_warns() {
    let mut rig = rig_that_cannot_save();
    let (out, r) = rig.request(Request::RouteSet {
        app: "foo".into(),
        route: Route::Bypass,
    });
    assert!(matches!(r, Ok(Response::Ok)), "{r:?}");
    let w = reply_warning(&out).expect("a warning");
    assert!(w.contains("routes.json") && w.contains("in force"), "{w}");
    let (_, r) = rig.request(Request::RouteList { cursor: None });
    let Ok(Response::Routes(routes)) = r else {
        panic!("{r:?}")
    };
    assert!(routes.rules.iter().any(|r| r.app == "foo"), "{routes:?}");
    let (out, r) = rig.request(Request::RouteUnset { app: "foo".into() });
    assert!(r.is_ok(), "{r:?}");
    assert!(reply_warning(&out).is_some());
}

#[test]
fn settings_and_bypass_that_cannot_be_saved_are_in_force_and_the_reply_warns() {
    let mut rig = rig_that_cannot_save();
    let (out, r) = rig.request(Request::BypassSet {
        mode: BypassMode::On,
    });
    assert!(
        matches!(r, Ok(Response::Bypass(ref b)) if b.bypass),
        "{r:?}"
    );
    assert!(params_of(&out).bypass, "the emergency switch works");
    let w = reply_warning(&out).expect("a warning");
    assert!(w.contains("state.json") && w.contains("in force"), "{w}");

    let (out, r) = rig.request(Request::SettingSet {
        key: "agc.target_lufs".into(),
        value: SettingValue::Float(-20.0),
    });
    assert!(matches!(r, Ok(Response::Setting(_))), "{r:?}");
    assert_eq!(params_of(&out).agc.target_lufs, -20.0);
    assert!(reply_warning(&out).is_some());
    let (out, r) = rig.request(Request::SettingReset {
        key: None,
        all: true,
    });
    assert!(r.is_ok(), "{r:?}");
    assert!(reply_warning(&out).is_some());

    // Saved again once the file can be written: no warning.
    std::fs::remove_dir_all(rig.state.join("state.json")).unwrap();
    let (out, r) = rig.request(Request::BypassSet {
        mode: BypassMode::Off,
    });
    assert!(r.is_ok(), "{r:?}");
    assert_eq!(reply_warning(&out), None);
}

#[test]
fn a_profile_that_cannot_be_recorded_is_not_in_force() {
    let mut rig = rig_that_cannot_save();
    let (out, r) = rig.request(Request::ProfileUse {
        name: "night".into(),
    });
    assert!(r.is_err(), "{r:?}");
    no_side_effects(&out);
    let (_, r) = rig.request(Request::Status);
    let Ok(Response::Status(s)) = r else {
        panic!("{r:?}")
    };
    assert_ne!(s.profile, "night");
}

#[test]
fn a_profile_that_leaves_an_override_out_of_force_says_so_in_the_reply() {
    let mut rig = Rig::new(DaemonConfig::default());
    // -18 is below the default profile's target (-16), not below night's (-20).
    let (_, r) = rig.request(Request::SettingSet {
        key: "agc.silence_gate_lufs".into(),
        value: SettingValue::Int(-18),
    });
    assert!(r.is_ok(), "{r:?}");
    let (out, r) = rig.request(Request::ProfileUse {
        name: "night".into(),
    });
    assert!(r.is_ok(), "{r:?}");
    let w = reply_warning(&out).expect("a warning");
    assert!(
        w.contains("override agc.silence_gate_lufs = -18 ignored"),
        "{w}"
    );
    // Back to a profile it fits: in force over it, and said so.
    let (out, _) = rig.request(Request::ProfileUse {
        name: "default".into(),
    });
    let w = reply_warning(&out).expect("a warning");
    assert!(
        w.contains("stay in force") && w.contains("agc.silence_gate_lufs = -18"),
        "{w}"
    );
    assert!(!w.contains("ignored"), "{w}");
    // No settings of one's own: nothing to say.
    rig.request(Request::SettingReset {
        key: None,
        all: true,
    })
    .1
    .unwrap();
    let (out, _) = rig.request(Request::ProfileUse {
        name: "night".into(),
    });
    assert_eq!(reply_warning(&out), None);
}

/// A request the engine could not take up in time is answered `busy` and never applied.
#[test]
fn busy_means_not_applied() {
    use crossbeam_channel::bounded;
    use headroom_ipc::ErrorCode;
    use headroomd::control::Handler;

    let run = Rig::new(DaemonConfig::default()).spawn(None);
    let engine = &run.engine;
    let handler = engine.handler();
    let (stalled_tx, stalled_rx) = bounded(1);
    let (release_tx, release_rx) = bounded::<()>(1);
    let reply = std::thread::scope(|s| {
        // The engine's thread is held (as by a slow request) until the test releases it.
        let holder = s.spawn(move || {
            engine.inspect(move |_| {
                let _ = stalled_tx.send(());
                let _ = release_rx.recv();
            })
        });
        stalled_rx.recv().unwrap();
        let r = handler.handle(Request::RouteSet {
            app: "late".into(),
            route: Route::Bypass,
        });
        release_tx.send(()).unwrap();
        let _ = holder.join();
        r
    });
    let e = reply.expect_err("the engine was held");
    assert_eq!(e.code, ErrorCode::Busy);
    assert!(e.message.contains("not applied"), "{}", e.message);
    // Once free, the engine has dropped the withdrawn request.
    let r = handler
        .handle(Request::RouteList { cursor: None })
        .unwrap()
        .result;
    let Response::Routes(routes) = r else {
        panic!("{r:?}")
    };
    assert!(
        routes.rules.iter().all(|r| r.app != "late"),
        "a request answered `busy` was applied: {:?}",
        routes.rules
    );
    run.engine.stop("test over");
}
