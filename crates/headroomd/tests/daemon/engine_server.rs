//! The real engine on its thread behind the real control socket, without PipeWire: what a
//! client sends reaches the engine, what the engine decides reaches the client, the
//! subscribers and the PipeWire side (here a channel that records the commands).

use std::time::Duration;

use crossbeam_channel::Receiver;
use headroom_client::Client;
use headroom_ipc::{BypassMode, ErrorCode, Event, Route, SettingValue, Topic};
use headroomd::pw::{GraphNode, PwCommand, PwEvent};
use headroomd::DaemonConfig;

use crate::support::rig::Rig;
use crate::support::serve::{bad_profile, serve, Running, Served};

const WAIT: Duration = Duration::from_secs(5);

/// Commands until one matches `pred` (within [`WAIT`]).
fn wait_command(rx: &Receiver<PwCommand>, pred: impl Fn(&PwCommand) -> bool) -> PwCommand {
    loop {
        let c = rx.recv_timeout(WAIT).expect("no such command");
        if pred(&c) {
            return c;
        }
    }
}

#[test]
fn clients_drive_the_real_engine_through_the_socket() {
    let Served {
        run:
            Running {
                tmp: _tmp,
                config,
                bus,
                engine,
                commands: cmd_rx,
                pw_events: pw_tx,
                profile_events: prof_tx,
                ..
            },
        mut server,
        socket: path,
    } = serve(Rig::new(DaemonConfig::default()));

    let mut sub = Client::connect_to(&path)
        .unwrap()
        .subscribe(&[Topic::Settings, Topic::Routing, Topic::Profile])
        .unwrap();
    sub.set_timeout(Some(WAIT)).unwrap();
    let first: Vec<Event> = (0..3).map(|_| sub.next().unwrap().unwrap()).collect();
    let keys = headroom_profile::Profile::keys().len();
    assert!(
        first
            .iter()
            .any(|e| matches!(e, Event::SettingsSnapshot(s) if s.settings.len() == keys)),
        "{first:?}"
    );
    assert!(first
        .iter()
        .any(|e| matches!(e, Event::RoutingSnapshot(r) if r.streams.is_empty())));
    assert!(first
        .iter()
        .any(|e| matches!(e, Event::ProfileSnapshot(p) if p.active == "default")));

    let mut c = Client::connect_to(&path).unwrap();
    assert_eq!(c.status().unwrap().profile, "default");
    // A setting goes to the engine, the audio thread's mailbox and the subscribers.
    let e = c.setting_set("agc.target_lufs", -18).unwrap();
    assert_eq!(e.value, SettingValue::Int(-18));
    assert!(e.overridden);
    assert_eq!(
        sub.next().unwrap().unwrap(),
        Event::setting_changed("agc.target_lufs", SettingValue::Int(-18), true)
    );
    assert_eq!(bus.params().agc.target_lufs, -18.0);
    assert_eq!(engine.inspect(|e| e.params().agc.target_lufs), Some(-18.0));
    assert!(c.bypass_set(BypassMode::Toggle).unwrap());
    assert!(bus.params().bypass);
    assert_eq!(
        sub.next().unwrap().unwrap(),
        Event::setting_changed("bypass", SettingValue::Bool(true), true)
    );
    let err = c.setting_set("agc.target", 1).unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::UnknownKey));

    // The PipeWire side reports the bus and a stream; the engine routes it.
    bus.graph().write().nodes.insert(
        30,
        GraphNode {
            id: 30,
            serial: Some(1030),
            name: Some("speakers".into()),
            media_class: Some("Audio/Sink".into()),
            props: Default::default(),
        },
    );
    pw_tx
        .send(PwEvent::RealSinkChanged {
            name: Some("speakers".into()),
        })
        .unwrap();
    pw_tx
        .send(PwEvent::BusReady {
            latency_frames: 72,
            sink_id: 31,
            playback_id: 32,
            channels: "FL FR".into(),
        })
        .unwrap();
    pw_tx
        .send(PwEvent::NodeAdded {
            id: 50,
            serial: Some(1050),
            props: [("application.name".to_string(), "mpv".to_string())].into(),
            media_class: Some("Stream/Output/Audio".into()),
        })
        .unwrap();
    wait_command(&cmd_rx, |c| {
        *c == PwCommand::MoveStream {
            node_id: 50,
            target: Some("headroom-processed".into()),
        }
    });
    assert!(matches!(sub.next().unwrap().unwrap(),
        Event::StreamRouted(s) if s.node_id == 50 && s.route == Route::Processed));
    // `route set` over the socket moves it.
    c.route_set("mpv", Route::Bypass).unwrap();
    wait_command(&cmd_rx, |c| {
        *c == PwCommand::MoveStream {
            node_id: 50,
            target: Some("speakers".into()),
        }
    });
    let rules = c.route_list().unwrap().rules;
    assert_eq!(rules.len(), 1);
    assert_eq!(
        (rules[0].app.as_str(), rules[0].route),
        ("mpv", Route::Bypass)
    );
    let err = c.route_set("mp[v", Route::Bypass).unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::InvalidParams));

    // A profile file went bad on disk: the subscribers hear of it.
    prof_tx
        .send(bad_profile(config.join("profiles/x.toml")))
        .unwrap();
    loop {
        match sub.next().unwrap().unwrap() {
            Event::ProfileError(e) => {
                assert_eq!((e.line, e.column), (Some(3), Some(14)));
                break;
            }
            // The routing events of the route change come first.
            Event::RuleChanged(_)
            | Event::StreamRouted(_)
            | Event::LayerAAttached(_)
            | Event::LayerADetached(_) => {}
            other => panic!("{other:?}"),
        }
    }

    // Stopping the engine undoes the routing and stops the bus.
    let sent = engine.commands_sent();
    assert!(sent.moves >= 2 && sent.taps_attached >= 1, "{sent:?}");
    engine.stop("test");
    wait_command(&cmd_rx, |c| {
        *c == PwCommand::MoveStream {
            node_id: 50,
            target: None,
        }
    });
    wait_command(&cmd_rx, |c| *c == PwCommand::Shutdown);
    server.shutdown();
}
