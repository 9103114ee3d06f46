//! A request is applied completely or not at all: when its change cannot be saved, the
//! daemon reports the error and nothing of it is in force; when it is in force, the reply
//! says so.

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

#[test]
fn a_route_that_cannot_be_saved_is_not_in_force() {
    let mut rig = rig_that_cannot_save();
    let (out, r) = rig.request(Request::RouteSet {
        app: "foo".into(),
        route: Route::Bypass,
    });
    let err = r.expect_err("saving must fail");
    assert!(err.message.contains("routes.json"), "{}", err.message);
    no_side_effects(&out);
    let (_, r) = rig.request(Request::RouteList { cursor: None });
    let Ok(Response::Routes(routes)) = r else {
        panic!("{r:?}")
    };
    assert!(routes.rules.iter().all(|r| r.app != "foo"), "{routes:?}");
    let foo = routes.streams.iter().find(|s| s.app == "foo").unwrap();
    assert_eq!(foo.route, Route::Processed);
    assert!(matches!(
        foo.matched_rule.as_deref(),
        None | Some("default")
    ));
}

#[test]
fn settings_bypass_and_profiles_that_cannot_be_saved_are_not_in_force() {
    let mut rig = rig_that_cannot_save();
    let before = rig
        .engine
        .on(headroomd::engine::Input::Request(Request::SettingList));
    for req in [
        Request::SettingSet {
            key: "agc.target_lufs".into(),
            value: SettingValue::Float(-20.0),
        },
        Request::BypassSet {
            mode: BypassMode::On,
        },
        Request::ProfileUse {
            name: "night".into(),
        },
    ] {
        let (out, r) = rig.request(req.clone());
        assert!(r.is_err(), "{req:?}: {r:?}");
        no_side_effects(&out);
    }
    let after = rig
        .engine
        .on(headroomd::engine::Input::Request(Request::SettingList));
    assert_eq!(format!("{before:?}"), format!("{after:?}"));
    let (_, r) = rig.request(Request::Status);
    let Ok(Response::Status(s)) = r else {
        panic!("{r:?}")
    };
    assert!(!s.bypass);
    assert_ne!(s.profile, "night");
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
    let r = handler.handle(Request::RouteList { cursor: None }).unwrap();
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
