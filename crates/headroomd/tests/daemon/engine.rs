//! The real [`Engine`] without PipeWire: inputs in, outputs out. The test plays the PipeWire
//! thread (graph model and events) and the file watcher, and checks what the engine asks for.

use std::path::Path;
use std::time::{Duration, Instant};

use headroom_ipc::{
    BypassMode, ErrorCode, Event, Request, Response, Route, RuleSource, SettingValue, Topic,
};
use headroomd::engine::{Engine, Input, Output};
use headroomd::profiles::ProfileStore;
use headroomd::pw::{PwCommand, BUS_SINK_NAME};
use headroomd::DaemonConfig;

use crate::support::rig::{memory_history, Rig};

fn commands(out: &[Output]) -> Vec<PwCommand> {
    out.iter()
        .filter_map(|o| match o {
            Output::Pw(c) => Some(c.clone()),
            _ => None,
        })
        .collect()
}

fn events(out: &[Output]) -> Vec<Event> {
    out.iter()
        .filter_map(|o| match o {
            Output::Publish(e) => Some(e.clone()),
            _ => None,
        })
        .collect()
}

fn params(out: &[Output]) -> Vec<headroom_core::ChainParams> {
    out.iter()
        .filter_map(|o| match o {
            Output::Params(p) => Some(*p),
            _ => None,
        })
        .collect()
}

fn move_to(node_id: u32, target: Option<&str>) -> PwCommand {
    PwCommand::MoveStream {
        node_id,
        target: target.map(str::to_string),
    }
}

fn write(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
}

/// The acceptance path: a stream is routed, a runtime rule moves it, a profile reload changes
/// the chain and the routing, bypass toggles — all as outputs of the real engine.
#[test]
fn route_change_profile_reload_and_bypass_without_pipewire() {
    let mut rig = Rig::new(DaemonConfig::default());
    assert!(events(&rig.on(Input::Start))
        .iter()
        .any(|e| matches!(e, Event::DaemonStarted(_))));
    // Nothing moves before the bus is ready.
    let early = rig.node_added(50, "Stream/Output/Audio", &[("application.name", "mpv")]);
    assert!(commands(&early).is_empty(), "{early:?}");
    rig.bus_up();
    // Ready: the stream goes to the processed sink and gets a Layer A tap.
    let (_, r) = rig.request(Request::RouteList { cursor: None });
    let Ok(Response::Routes(routes)) = r else {
        panic!("{r:?}")
    };
    assert_eq!(routes.streams.len(), 1);
    assert_eq!(routes.streams[0].route, Route::Processed);

    // Route change: a runtime rule (any case) sends mpv straight to the speakers.
    let (out, r) = rig.request(Request::RouteSet {
        app: "MPV".into(),
        route: Route::Bypass,
    });
    assert_eq!(r, Ok(Response::Ok));
    let cmds = commands(&out);
    assert!(cmds.contains(&move_to(50, Some("speakers"))), "{cmds:?}");
    assert!(
        cmds.contains(&PwCommand::DetachTap { node_id: 50 }),
        "{cmds:?}"
    );
    assert!(cmds.contains(&PwCommand::SetStreamVolume {
        node_id: 50,
        volume: 1.0
    }));
    let evs = events(&out);
    assert!(evs.contains(&Event::rule_changed(
        "MPV",
        Some(Route::Bypass),
        RuleSource::User
    )));
    assert!(evs.iter().any(|e| matches!(e,
        Event::StreamRouted(s) if s.node_id == 50 && s.route == Route::Bypass
            && s.target.as_deref() == Some("speakers"))));
    let saved = std::fs::read_to_string(rig.state.join("routes.json")).unwrap();
    assert!(saved.contains("MPV") && saved.contains("bypass"), "{saved}");
    // A pattern that is not a glob changes nothing.
    let (out, r) = rig.request(Request::RouteSet {
        app: "mp[v".into(),
        route: Route::Processed,
    });
    assert_eq!(r.unwrap_err().code, ErrorCode::InvalidParams);
    assert!(out.is_empty(), "{out:?}");
    assert_eq!(
        std::fs::read_to_string(rig.state.join("routes.json")).unwrap(),
        saved
    );

    // Profile reload: the user makes `mine` active (target −20, vlc bypassed by a profile rule).
    write(
        &rig.config.join("profiles/mine.toml"),
        "[agc]\ntarget_lufs = -20\n\n[[route.rules]]\nmatch = { app = \"VLC*\" }\nroute = \"bypass\"\n",
    );
    write(&rig.config.join("config.toml"), "profile = \"mine\"\n");
    let (out, r) = rig.request(Request::ProfileReload);
    assert_eq!(
        r,
        Ok(Response::ProfileActive(headroom_ipc::ProfileActive {
            name: "mine".into()
        }))
    );
    let p = params(&out);
    assert_eq!(p.last().map(|p| p.agc.target_lufs), Some(-20.0), "{out:?}");
    assert_eq!(
        rig.bus.params().agc.target_lufs,
        -16.0,
        "the runner writes params, not the engine"
    );
    assert!(events(&out)
        .iter()
        .any(|e| matches!(e, Event::ProfileChanged(c) if c.name == "mine")));
    // The profile's rule (globs ignore case) routes a new vlc stream around the chain.
    let out = rig.node_added(
        51,
        "Stream/Output/Audio",
        &[("application.name", "vlc media player")],
    );
    assert!(
        commands(&out).contains(&move_to(51, Some("speakers"))),
        "{out:?}"
    );
    // A broken edit is reported with its position; the last good profile stays.
    write(
        &rig.config.join("profiles/mine.toml"),
        "[agc]\ntarget_lufs = -99\n",
    );
    let (out, r) = rig.request(Request::ProfileReload);
    let err = r.unwrap_err();
    assert_eq!(err.code, ErrorCode::InvalidValue);
    assert!(err.message.contains("mine.toml:2:15"), "{}", err.message);
    assert!(params(&out).is_empty());
    assert!(events(&out)
        .iter()
        .any(|e| matches!(e, Event::ProfileError(pe) if pe.line == Some(2))));
    assert_eq!(rig.engine.params().agc.target_lufs, -20.0);

    // Bypass: on by toggle, reported everywhere, off again.
    let (out, r) = rig.request(Request::BypassSet {
        mode: BypassMode::Toggle,
    });
    assert_eq!(
        r,
        Ok(Response::Bypass(headroom_ipc::BypassState { bypass: true }))
    );
    assert!(params(&out).last().unwrap().bypass);
    assert!(events(&out).contains(&Event::setting_changed(
        "bypass",
        SettingValue::Bool(true),
        true
    )));
    let (_, r) = rig.request(Request::Status);
    let Ok(Response::Status(st)) = r else {
        panic!("{r:?}")
    };
    assert!(st.bypass && st.meters.bypass);
    assert_eq!(st.profile, "mine");
    assert_eq!(st.real_sink.as_deref(), Some("speakers"));
    let tick = rig.on(Input::Tick {
        now: Instant::now(),
    });
    assert!(events(&tick).iter().any(|e| matches!(e,
        Event::MetersTick(t) if t.meters.bypass && t.meters.target_lufs == -20.0)));
    let (out, _) = rig.request(Request::BypassSet {
        mode: BypassMode::Off,
    });
    assert!(!params(&out).last().unwrap().bypass);

    // Shutdown undoes what the engine did to the streams, then stops the bus.
    let out = rig.on(Input::Shutdown {
        reason: "test".into(),
    });
    let cmds = commands(&out);
    assert!(cmds.contains(&move_to(50, None)), "{cmds:?}");
    assert!(cmds.contains(&move_to(51, None)), "{cmds:?}");
    assert_eq!(cmds.last(), Some(&PwCommand::Shutdown));
    assert!(events(&out).contains(&Event::shutdown("test")));
}

/// The `settings/changed` of a set, a bypass, a reset and a reset of all says whether the
/// value is overridden, as `setting.get` and `settings/snapshot` do.
#[test]
fn setting_changed_events_carry_overridden() {
    let mut rig = Rig::new(DaemonConfig::default());
    let changed = |out: &[Output]| -> Vec<(String, SettingValue, Option<bool>)> {
        events(out)
            .into_iter()
            .filter_map(|e| match e {
                Event::SettingChanged(c) => Some((c.key, c.value, c.overridden)),
                _ => None,
            })
            .collect()
    };
    let get = |rig: &mut Rig, key: &str| match rig.request(Request::SettingGet { key: key.into() })
    {
        (_, Ok(Response::Setting(e))) => (e.value, e.overridden),
        other => panic!("{other:?}"),
    };
    let (out, r) = rig.request(Request::SettingSet {
        key: "agc.target_lufs".into(),
        value: SettingValue::Int(-18),
    });
    r.unwrap();
    let ev = changed(&out);
    assert_eq!(
        ev,
        [("agc.target_lufs".into(), SettingValue::Int(-18), Some(true))]
    );
    assert_eq!(get(&mut rig, "agc.target_lufs"), (ev[0].1.clone(), true));

    let (out, _) = rig.request(Request::BypassSet {
        mode: BypassMode::On,
    });
    assert_eq!(
        changed(&out),
        [("bypass".into(), SettingValue::Bool(true), Some(true))]
    );

    // A reset gives the profile's value back: no longer an override.
    let (out, r) = rig.request(Request::SettingReset {
        key: Some("agc.target_lufs".into()),
        all: false,
    });
    r.unwrap();
    let ev = changed(&out);
    assert_eq!(ev.len(), 1, "{ev:?}");
    assert_eq!(ev[0].2, Some(false), "{ev:?}");
    assert_eq!(get(&mut rig, "agc.target_lufs"), (ev[0].1.clone(), false));

    let (out, r) = rig.request(Request::SettingReset {
        key: None,
        all: true,
    });
    r.unwrap();
    assert_eq!(
        changed(&out),
        [("bypass".into(), SettingValue::Bool(false), Some(false))]
    );
    assert_eq!(get(&mut rig, "bypass"), (SettingValue::Bool(false), false));
}

/// `profile.show` of the active profile lists the settings changed at run time that are in
/// force over it (it showed the profile's values with no word of them, while `get`,
/// `settings` and `status` gave the values in force); another profile's has none.
#[test]
fn profile_show_of_the_active_profile_lists_the_overrides_in_force() {
    let mut rig = Rig::new(DaemonConfig::default());
    let show = |rig: &mut Rig, name: Option<&str>| match rig.request(Request::ProfileShow {
        name: name.map(Into::into),
    }) {
        (_, Ok(Response::ProfileShow(p))) => p,
        other => panic!("{other:?}"),
    };
    assert!(show(&mut rig, None).overrides.is_empty());
    let (_, r) = rig.request(Request::SettingSet {
        key: "agc.target_lufs".into(),
        value: SettingValue::Int(-19),
    });
    r.unwrap();
    let p = show(&mut rig, None);
    assert_eq!(p.overrides.len(), 1, "{p:?}");
    let o = &p.overrides[0];
    assert_eq!(o.key, "agc.target_lufs");
    assert!(o.overridden);
    assert_eq!(o.value.as_f64(), Some(-19.0), "{o:?}");
    assert_eq!(o.default.as_f64(), Some(-16.0), "{o:?}");
    let active = p.name.clone();
    assert_eq!(show(&mut rig, Some(&active)).overrides, p.overrides);
    let other = if active == "night" { "music" } else { "night" };
    assert!(show(&mut rig, Some(other)).overrides.is_empty());
    let (_, r) = rig.request(Request::SettingReset {
        key: None,
        all: true,
    });
    r.unwrap();
    assert!(show(&mut rig, None).overrides.is_empty());
}

#[test]
fn runtime_rules_survive_a_restart_and_bad_ones_are_skipped() {
    let mut rig = Rig::new(DaemonConfig::default());
    rig.request(Request::RouteSet {
        app: "firefox".into(),
        route: Route::Bypass,
    })
    .1
    .unwrap();
    let saved = std::fs::read_to_string(rig.state.join("routes.json")).unwrap();
    // Written by hand: a valid rule and one that is not a glob.
    let edited = saved.replacen('[', "[\n  [\"fire[fox\", \"processed\"],", 1);
    write(&rig.state.join("routes.json"), &edited);
    let store = ProfileStore::new(&rig.config, &rig.state);
    let engine = Engine::new(
        store,
        rig.bus.clone(),
        memory_history(),
        rig.state.join("routes.json"),
        &DaemonConfig::default(),
    );
    let rules: Vec<String> = engine
        .routing()
        .router()
        .user_rules()
        .iter()
        .map(|r| r.app.to_string())
        .collect();
    assert_eq!(rules, ["firefox"]);
    // Unset of a rule that does not exist.
    let (out, r) = rig.request(Request::RouteUnset {
        app: "nothing".into(),
    });
    assert_eq!(r.unwrap_err().code, ErrorCode::NotFound);
    assert!(out.is_empty());
}

/// A `routes.json` that is not UTF-8 is kept aside like one that does not parse: it was
/// only reported as unreadable, and the next `route.set` wrote over it.
#[test]
fn a_routes_file_that_is_not_utf8_is_kept_aside() {
    let mut rig = Rig::new(DaemonConfig::default());
    let file = rig.state.join("routes.json");
    let garbage = b"[[\"fire\xff\xfefox\", \"bypass\"]]".to_vec();
    std::fs::create_dir_all(&rig.state).unwrap();
    std::fs::write(&file, &garbage).unwrap();
    let store = ProfileStore::new(&rig.config, &rig.state);
    let engine = Engine::new(
        store,
        rig.bus.clone(),
        memory_history(),
        file.clone(),
        &DaemonConfig::default(),
    );
    assert!(engine.routing().router().user_rules().is_empty());
    let kept: Vec<_> = std::fs::read_dir(&rig.state)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().contains("routes.json.corrupt-"))
        .collect();
    assert_eq!(kept.len(), 1, "{kept:?}");
    assert_eq!(std::fs::read(&kept[0]).unwrap(), garbage);
    // A rule set now writes a new file; the old bytes stay in the copy.
    rig.request(Request::RouteSet {
        app: "mpv".into(),
        route: Route::Bypass,
    })
    .1
    .unwrap();
    assert_eq!(std::fs::read(&kept[0]).unwrap(), garbage);
}

#[test]
fn command_line_overrides_win_over_the_profile() {
    let mut rig = Rig::new(DaemonConfig {
        bypass: true,
        preferred_real_sink: Some("hdmi".into()),
        ..DaemonConfig::default()
    });
    assert!(rig.engine.params().bypass);
    // Turning bypass off in the settings does not lift `--bypass`.
    let (out, _) = rig.request(Request::BypassSet {
        mode: BypassMode::Off,
    });
    assert!(params(&out).iter().all(|p| p.bypass), "{out:?}");
    // A profile's preferred sink is not sent while `--real-sink` is in force.
    let (out, r) = rig.request(Request::SettingSet {
        key: "preferred_real_sink".into(),
        value: SettingValue::String("usb".into()),
    });
    r.unwrap();
    assert!(
        !commands(&out)
            .iter()
            .any(|c| matches!(c, PwCommand::SetPreferredSink(_))),
        "{out:?}"
    );
    // And the reply says so (it was only logged).
    let said: Vec<String> = out
        .iter()
        .filter_map(|o| match o {
            Output::Warning(w) => Some(w.clone()),
            _ => None,
        })
        .collect();
    assert!(
        said.iter()
            .any(|w| w.contains("is not applied: `--real-sink hdmi` is in force")),
        "{said:?}"
    );
}

/// `set preferred_real_sink NAME` for a sink that does not exist (a typo) is carried out — the
/// sink is played into once it appears — but the reply says that it is not there and where
/// the sound plays meanwhile; it was only in the log. An existing sink gets no warning.
#[test]
fn a_preferred_real_sink_that_does_not_exist_is_warned_of_in_the_reply() {
    let mut rig = Rig::new(DaemonConfig::default());
    rig.bus_up();
    let warnings = |out: &[Output]| -> Vec<String> {
        out.iter()
            .filter_map(|o| match o {
                Output::Warning(w) => Some(w.clone()),
                _ => None,
            })
            .collect()
    };
    let (out, r) = rig.request(Request::SettingSet {
        key: "preferred_real_sink".into(),
        value: SettingValue::String("alsa_output.typo".into()),
    });
    r.unwrap();
    let said = warnings(&out);
    assert!(
        said.iter().any(|w| w.contains(
            "the preferred real sink `alsa_output.typo` is not present; playing into speakers"
        )),
        "{said:?}"
    );
    assert!(
        commands(&out)
            .iter()
            .any(|c| matches!(c, PwCommand::SetPreferredSink(Some(n)) if n == "alsa_output.typo")),
        "{out:?}"
    );
    let (out, r) = rig.request(Request::SettingSet {
        key: "preferred_real_sink".into(),
        value: SettingValue::String("speakers".into()),
    });
    r.unwrap();
    assert!(warnings(&out).is_empty(), "{out:?}");
}

#[test]
fn ticks_step_layer_a_and_record_history_once_a_second() {
    let mut rig = Rig::new(DaemonConfig::default());
    rig.bus_up();
    rig.node_added(60, "Stream/Output/Audio", &[("application.name", "loud")]);
    // The tap reads −4 LUFS: 12 LU over the −16 target, 6 over the threshold.
    let meter = std::sync::Arc::new(headroomd::pw::taps::TapMeter::default());
    rig.bus.taps().insert_for_tests(60, meter.clone());
    let start = Instant::now();
    let mut volume = 1.0f32;
    for i in 0..100u32 {
        let heard = -4.0 + 20.0 * f64::from(volume).log10();
        meter.publish(heard, heard);
        let out = rig.on(Input::Tick {
            now: start + Duration::from_millis(100 * u64::from(i)),
        });
        for c in commands(&out) {
            if let PwCommand::SetStreamVolume {
                node_id: 60,
                volume: v,
            } = c
            {
                volume = v;
            }
        }
    }
    let db = -20.0 * f64::from(volume).log10();
    assert!((db - 6.0).abs() < 0.2, "reduction {db:.2} dB");
    // One sample per second of ticks (the first tick is less than a second after start).
    let (_, r) = rig.request(Request::History {
        since_secs: None,
        from_unix_ms: None,
    });
    let Ok(Response::History(h)) = r else {
        panic!("{r:?}")
    };
    assert!((8..=10).contains(&h.samples.len()), "{}", h.samples.len());
    // Subscribers starting now see the stream with its reduction.
    let snap = match rig
        .on(Input::Snapshot(vec![Topic::Routing, Topic::Meters]))
        .pop()
    {
        Some(Output::Snapshot(s)) => s,
        other => panic!("{other:?}"),
    };
    assert!(matches!(&snap[0], Event::RoutingSnapshot(r)
        if r.streams[0].layer_a_reduction_db.is_some_and(|d| (d - 6.0).abs() < 0.2)));
    assert!(matches!(&snap[1], Event::MetersTick(t) if t.layer_a.len() == 1));
    assert_eq!(BUS_SINK_NAME, "headroom-processed");
}

/// The true peaks a tick shows are those of every block the audio thread stored since the
/// tick before, not only of the last one (a block is a few milliseconds, a tick 100 ms);
/// `status` between ticks shows the last tick's.
#[test]
fn a_tick_shows_the_true_peak_of_every_block_since_the_last() {
    let mut rig = Rig::new(DaemonConfig::default());
    rig.bus_up();
    let meters = rig.bus.meters();
    let start = Instant::now();
    let mut frames = 0u64;
    let mut tick = |rig: &mut Rig, i: u64, blocks: &[(f32, f32)]| {
        for &(in_tp, out_tp) in blocks {
            frames += 256;
            meters.store(&headroom_core::MeterSnapshot {
                in_momentary_lufs: -20.0,
                in_true_peak_dbtp: in_tp,
                out_true_peak_dbtp: out_tp,
                frames,
                ..headroom_core::MeterSnapshot::unmeasured()
            });
        }
        let ticks: Vec<_> = events(&rig.on(Input::Tick {
            now: start + Duration::from_millis(100 * i),
        }))
        .into_iter()
        .filter_map(|e| match e {
            Event::MetersTick(t) => Some((t.meters.in_true_peak_dbtp, t.meters.out_true_peak_dbtp)),
            _ => None,
        })
        .collect();
        assert_eq!(ticks.len(), 1, "{ticks:?}");
        ticks[0]
    };
    let status = |rig: &mut Rig| match rig.request(Request::Status).1 {
        Ok(Response::Status(s)) => (s.meters.in_true_peak_dbtp, s.meters.out_true_peak_dbtp),
        other => panic!("{other:?}"),
    };
    // A loud block in the middle of the tick's blocks, the last ones quiet.
    let mut blocks = vec![(-24.0, -12.0); 18];
    blocks[4] = (-0.5, -1.5);
    assert_eq!(tick(&mut rig, 1, &blocks), (-0.5, -1.5));
    assert_eq!(status(&mut rig), (-0.5, -1.5));
    // The next tick starts a new hold: the loud block is not seen again.
    assert_eq!(tick(&mut rig, 2, &[(-24.0, -12.0); 18]), (-24.0, -12.0));
    assert_eq!(status(&mut rig), (-24.0, -12.0));
}

/// The state word and the alerts through the real engine: synthetic meters in the bus's
/// atomics, ticks with synthetic times, PipeWire events; the word shows in ticks and
/// `status`, the alerts as `alerts` events, once each way.
#[test]
fn state_word_and_alerts_follow_meters_sink_and_bypass() {
    use headroom_ipc::{AlertKind, StateWord};
    let mut rig = Rig::new(DaemonConfig::default());
    rig.bus_up();
    let start = Instant::now();
    let mut t = 0u64;
    let mut frames = 0u64;
    let meters = rig.bus.meters();
    // Runs `ms` of ticks with the input at `in_m` LUFS and the limiter at `gr` dB; returns
    // the tick's state words and the alert events.
    let mut run = |rig: &mut Rig, ms: u64, in_m: f32, gr: f32| {
        let mut words = Vec::new();
        let mut alerts = Vec::new();
        for _ in 0..ms / 100 {
            t += 100;
            frames += 4800;
            let mut m = meters.load();
            m.in_momentary_lufs = in_m;
            m.in_short_term_lufs = in_m;
            m.in_true_peak_dbtp = in_m + 5.0;
            m.limiter_gr_db = gr;
            m.frames = frames;
            meters.store(&m);
            for e in events(&rig.on(Input::Tick {
                now: start + Duration::from_millis(t),
            })) {
                match e {
                    Event::MetersTick(tick) => words.push(tick.state.unwrap()),
                    Event::AlertRaised(_) | Event::AlertCleared(_) => alerts.push(e),
                    _ => {}
                }
            }
        }
        (words, alerts)
    };
    let status = |rig: &mut Rig| match rig.request(Request::Status).1 {
        Ok(Response::Status(s)) => s,
        other => panic!("{other:?}"),
    };

    // Nothing heard yet: QUIET, until the programme has been over the gate for 300 ms.
    let (words, alerts) = run(&mut rig, 3_000, -20.0, 0.0);
    assert_eq!(words[0], StateWord::Quiet);
    assert!(
        words[5..].iter().all(|w| *w == StateWord::Levelling),
        "{words:?}"
    );
    assert!(alerts.is_empty(), "{alerts:?}");
    assert_eq!(status(&mut rig).state, StateWord::Levelling);

    // Silence: QUIET after the entry time, not before.
    let (words, _) = run(&mut rig, 3_000, -80.0, 0.0);
    assert_eq!(words[5], StateWord::Levelling);
    assert_eq!(*words.last().unwrap(), StateWord::Quiet);

    // Sustained limiting: LIMITING, then one alert.
    let (words, alerts) = run(&mut rig, 15_000, -10.0, 9.0);
    assert_eq!(*words.last().unwrap(), StateWord::Limiting);
    assert!(
        matches!(&alerts[..], [Event::AlertRaised(a)] if a.kind == AlertKind::SustainedLimiting),
        "{alerts:?}"
    );
    let (_, alerts) = run(&mut rig, 8_000, -20.0, 0.0);
    assert!(
        matches!(&alerts[..], [Event::AlertCleared(c)] if c.kind == AlertKind::SustainedLimiting),
        "{alerts:?}"
    );

    // Bypass shows at once: the word follows the same bypass the status and meters report,
    // before the next tick.
    rig.request(Request::BypassSet {
        mode: BypassMode::On,
    })
    .1
    .expect("bypass on");
    let s = status(&mut rig);
    assert_eq!(
        (s.state, s.bypass, s.meters.bypass),
        (StateWord::Bypass, true, true)
    );
    let (words, _) = run(&mut rig, 100, -20.0, 0.0);
    assert_eq!(words, [StateWord::Bypass]);
    assert_eq!(status(&mut rig).state, StateWord::Bypass);

    // The real sink goes away: NO OUTPUT (over bypass) and one alert; back: both clear.
    rig.on(Input::Pw(headroomd::pw::PwEvent::RealSinkChanged {
        name: None,
    }));
    let (words, alerts) = run(&mut rig, 5_000, -20.0, 0.0);
    assert_eq!(*words.last().unwrap(), StateWord::NoOutput);
    assert!(
        matches!(&alerts[..], [Event::AlertRaised(a)] if a.kind == AlertKind::RealSinkMissing),
        "{alerts:?}"
    );
    let s = status(&mut rig);
    assert_eq!(s.state, StateWord::NoOutput);
    assert_eq!(s.alerts.len(), 1);
    // A subscriber starting now gets the active alert in its snapshot.
    let snap = match rig.on(Input::Snapshot(vec![Topic::Alerts])).pop() {
        Some(Output::Snapshot(s)) => s,
        other => panic!("{other:?}"),
    };
    assert!(matches!(&snap[..], [Event::AlertsSnapshot(a)] if a.active.len() == 1));
    rig.on(Input::Pw(headroomd::pw::PwEvent::RealSinkChanged {
        name: Some("speakers".into()),
    }));
    let (words, alerts) = run(&mut rig, 3_000, -20.0, 0.0);
    assert_eq!(*words.last().unwrap(), StateWord::Bypass);
    assert!(
        matches!(&alerts[..], [Event::AlertCleared(c)] if c.kind == AlertKind::RealSinkMissing),
        "{alerts:?}"
    );
    assert!(status(&mut rig).alerts.is_empty());

    // The session manager goes: DEGRADED and an alert at once; back, the alert stays until
    // the bus is seen linked (the session judged whole): then cleared.
    rig.request(Request::BypassSet {
        mode: BypassMode::Off,
    })
    .1
    .expect("bypass off");
    assert_eq!(status(&mut rig).state, StateWord::Levelling);
    let out = rig.on(Input::Pw(headroomd::pw::PwEvent::WirePlumberMissing));
    assert!(events(&out)
        .iter()
        .any(|e| matches!(e, Event::AlertRaised(a) if a.kind == AlertKind::SessionBroken)));
    assert_eq!(status(&mut rig).state, StateWord::Degraded);
    let out = rig.on(Input::Pw(headroomd::pw::PwEvent::WirePlumberBack));
    assert!(!events(&out)
        .iter()
        .any(|e| matches!(e, Event::AlertCleared(_) | Event::AlertRaised(_))));
    assert_eq!(status(&mut rig).state, StateWord::Degraded);
    let out = rig.on(Input::Pw(headroomd::pw::PwEvent::SessionWhole));
    assert!(events(&out)
        .iter()
        .any(|e| matches!(e, Event::AlertCleared(c) if c.kind == AlertKind::SessionBroken)));

    // WirePlumber restarted on its own does not link the bus; the advice is to restart
    // PipeWire with it. After that (a new connection) the alert goes: the PipeWire thread
    // forgets the last session's facts and reports the new one's anew.
    rig.on(Input::Pw(headroomd::pw::PwEvent::SessionIncomplete));
    assert_eq!(status(&mut rig).state, StateWord::Degraded);
    rig.on(Input::Pw(headroomd::pw::PwEvent::Disconnected {
        reason: "test".into(),
    }));
    let out = rig.on(Input::Pw(headroomd::pw::PwEvent::Connected));
    assert!(events(&out)
        .iter()
        .any(|e| matches!(e, Event::AlertCleared(c) if c.kind == AlertKind::SessionBroken)));
    assert!(!status(&mut rig)
        .alerts
        .iter()
        .any(|a| a.kind == AlertKind::SessionBroken));
}

/// A profile that fails at start-up and `--bypass`: the status's `profile_error` and its
/// alert agree from the first request, and the word is BYPASS as `bypass` is.
#[test]
fn startup_profile_error_and_bypass_agree_in_status() {
    use headroom_ipc::{AlertKind, StateWord};
    let rig = Rig::new(DaemonConfig::default());
    write(&rig.config.join("config.toml"), "profile = \"mine\"\n");
    write(
        &rig.config.join("profiles/mine.toml"),
        "[agc]\ntarget_lufs = 3\n",
    );
    let store = ProfileStore::new(&rig.config, &rig.state);
    let mut engine = Engine::new(
        store,
        rig.bus.clone(),
        memory_history(),
        rig.state.join("routes.json"),
        &DaemonConfig {
            bypass: true,
            ..DaemonConfig::default()
        },
    );
    let s = match engine.on(Input::Request(Request::Status)).pop() {
        Some(Output::Reply(Ok(Response::Status(s)))) => s,
        other => panic!("{other:?}"),
    };
    let e = s.profile_error.expect("profile error in status");
    assert!(e.contains("mine.toml:2:15"), "{e}");
    assert_eq!(s.alerts.len(), 1, "{:?}", s.alerts);
    assert_eq!(s.alerts[0].kind, AlertKind::ProfileError);
    assert!(s.alerts[0].message.starts_with(&e), "{:?}", s.alerts[0]);
    assert_eq!((s.state, s.bypass), (StateWord::Bypass, true));
}

/// With no audio flowing, no tapped stream and the state word settled, the engine is idle
/// (its thread stops ticking); the next input fills in one history sample per second of the
/// idle time, and audio flowing or a tapped stream keep it busy.
#[test]
fn idle_engine_needs_no_ticks_and_keeps_the_history_whole() {
    use headroom_ipc::StateWord;
    let mut rig = Rig::new(DaemonConfig::default());
    rig.bus_up();
    let start = Instant::now();
    let tick = |rig: &mut Rig, ms: u64| {
        rig.on(Input::Tick {
            now: start + Duration::from_millis(ms),
        })
    };
    let history_len = |rig: &mut Rig| match rig.request(Request::History {
        since_secs: None,
        from_unix_ms: None,
    }) {
        (_, Ok(Response::History(h))) => h.samples.len(),
        other => panic!("{other:?}"),
    };
    // Nothing plays: QUIET from the first tick (nothing has been heard), and then nothing is
    // left to change.
    let mut t = 0;
    while !rig.engine.is_idle() {
        t += 100;
        assert!(t <= 5_000, "not idle after {t} ms of ticks without audio");
        let words: Vec<_> = events(&tick(&mut rig, t))
            .into_iter()
            .filter_map(|e| match e {
                Event::MetersTick(m) => m.state,
                _ => None,
            })
            .collect();
        assert_eq!(words, [StateWord::Quiet], "at {t} ms");
    }
    // 30 s without ticks; the next tick finds the history filled in for them: one sample a
    // second of the whole run, as if it had ticked all along.
    tick(&mut rig, t + 30_000);
    assert!(rig.engine.is_idle(), "still nothing to do");
    let expected = ((t + 30_000) / 1000) as usize;
    let kept = history_len(&mut rig);
    assert!(
        (expected - 1..=expected + 1).contains(&kept),
        "{kept} samples after {} ms",
        t + 30_000
    );

    // Audio flowing: busy, and the meters show what flows.
    let meters = rig.bus.meters();
    let mut m = meters.load();
    m.frames += 4800;
    m.out_momentary_lufs = -16.5;
    m.out_short_term_lufs = -17.0;
    m.out_integrated_lufs = -16.0;
    meters.store(&m);
    tick(&mut rig, t + 30_100);
    assert!(
        !rig.engine.is_idle(),
        "frames flowed but the engine is idle"
    );
    let out_meters = |rig: &mut Rig| match rig.request(Request::Status) {
        (_, Ok(Response::Status(s))) => (
            s.meters.out_momentary_lufs,
            s.meters.out_short_term_lufs,
            s.meters.out_integrated_lufs,
        ),
        other => panic!("{other:?}"),
    };
    assert_eq!(out_meters(&mut rig), (-16.5, -17.0, -16.0));
    // It stops flowing: the meters' last readings stand for a moment (a long graph quantum
    // is no pause), then momentary and short-term read as no measurement (the integrated
    // loudness stays), and the engine is idle again (QUIET already holds).
    tick(&mut rig, t + 30_200);
    assert_eq!(out_meters(&mut rig), (-16.5, -17.0, -16.0));
    assert!(
        !rig.engine.is_idle(),
        "idle while the meters still show audio"
    );
    tick(&mut rig, t + 30_700);
    let floor = headroom_ipc::LUFS_FLOOR;
    assert_eq!(out_meters(&mut rig), (floor, floor, -16.0));
    let mut u = t + 30_700;
    while !rig.engine.is_idle() {
        u += 100;
        assert!(
            u <= t + 36_000,
            "not idle {} ms after the audio stopped",
            u - t - 30_100
        );
        tick(&mut rig, u);
    }

    // A tapped stream: Layer A steps every tick.
    rig.node_added(60, "Stream/Output/Audio", &[("application.name", "mpv")]);
    let meter = std::sync::Arc::new(headroomd::pw::taps::TapMeter::default());
    rig.bus.taps().insert_for_tests(60, meter);
    tick(&mut rig, u + 100);
    assert!(
        !rig.engine.is_idle(),
        "a stream is tapped but the engine is idle"
    );
}

#[test]
fn a_profile_change_gives_subscribers_every_setting_with_the_new_profiles_defaults() {
    let mut rig = Rig::new(DaemonConfig::default());
    // A subscriber's fold, from its snapshot on: what `headroom monitor` draws from.
    let mut fold = headroom_ipc::state::DaemonState::new();
    match rig.on(Input::Snapshot(vec![Topic::Settings])).pop() {
        Some(Output::Snapshot(s)) => s.iter().for_each(|e| fold.apply(e)),
        other => panic!("{other:?}"),
    }
    let ceiling = |f: &headroom_ipc::state::DaemonState| {
        let e = f.setting("limiter.ceiling_dbtp").unwrap();
        (e.value.as_f64(), e.default.as_f64())
    };
    assert_eq!(ceiling(&fold), (Some(-1.0), Some(-1.0)));
    let (out, r) = rig.request(Request::SettingSet {
        key: "agc.target_lufs".into(),
        value: SettingValue::Float(-18.0),
    });
    r.unwrap();
    events(&out).iter().for_each(|e| fold.apply(e));

    // `profile.use night`: its ceiling (−3) and target (−20) are the new defaults at once; the
    // override stays.
    let (out, r) = rig.request(Request::ProfileUse {
        name: "night".into(),
    });
    r.unwrap();
    events(&out).iter().for_each(|e| fold.apply(e));
    assert_eq!(ceiling(&fold), (Some(-3.0), Some(-3.0)));
    let target = fold.setting("agc.target_lufs").unwrap();
    assert_eq!(
        (
            target.value.as_f64(),
            target.default.as_f64(),
            target.overridden
        ),
        (Some(-18.0), Some(-20.0), true)
    );

    // The active file edited (hot reload): the same.
    write(
        &rig.config.join("profiles/night.toml"),
        "[limiter]\nceiling_dbtp = -2.0\n",
    );
    let reloaded = rig.engine.store().reload();
    assert!(!reloaded.is_empty(), "a change");
    for ev in reloaded {
        events(&rig.on(Input::Profile(ev)))
            .iter()
            .for_each(|e| fold.apply(e));
    }
    assert_eq!(ceiling(&fold), (Some(-2.0), Some(-2.0)));
    assert_eq!(
        fold.setting("agc.target_lufs").unwrap().default.as_f64(),
        Some(-16.0)
    );
}

/// A profile file that does not load is `invalid_value` with its `file:line:col`, whatever is
/// wrong in it (an unknown key too: `unknown_key` is `setting.*`'s code), and a file with
/// very many errors is answered at once (its positions are found from a line index).
#[test]
fn a_profile_file_that_does_not_load_is_invalid_value() {
    let mut rig = Rig::new(DaemonConfig::default());
    let file = rig.config.join("many.toml");
    let text: String = (0..20_000).map(|i| format!("k{i} = 1\n")).collect();
    std::fs::write(&file, text).unwrap();
    let started = Instant::now();
    let (_, r) = rig.request(Request::ProfileUse {
        name: file.display().to_string(),
    });
    let err = r.unwrap_err();
    assert_eq!(err.code, ErrorCode::InvalidValue, "{}", err.message);
    assert!(
        err.message.contains("many.toml:1:1: unknown key `k0`"),
        "{}",
        err.message
    );
    eprintln!("20 000 errors answered in {:?}", started.elapsed());
}

/// A profile path that exists but is no readable profile file (a directory here) is an
/// `invalid_value` naming the path and why, not an internal error; the active profile stays.
#[test]
fn a_directory_given_as_profile_is_refused_clearly() {
    let mut rig = Rig::new(DaemonConfig::default());
    let dir = rig.config.join("not-a-profile.toml");
    std::fs::create_dir_all(&dir).unwrap();
    let before = rig.engine.store().active_name();
    let (_, r) = rig.request(Request::ProfileUse {
        name: dir.display().to_string(),
    });
    let err = r.unwrap_err();
    assert_eq!(err.code, ErrorCode::InvalidValue, "{}", err.message);
    assert_eq!(
        err.message,
        format!(
            "cannot use {} as a profile: a directory, not a regular file: refused \
             (give a profile's name or the path of a .toml file)",
            dir.display()
        )
    );
    assert_eq!(rig.engine.store().active_name(), before);
}

/// A profile or rule that does not exist is `not_found`, and the message names it and what
/// exists: a missing profile file is no internal error.
#[test]
fn missing_profiles_and_rules_are_not_found_with_what_exists() {
    let mut rig = Rig::new(DaemonConfig::default());
    let (_, r) = rig.request(Request::ProfileUse {
        name: "/nonexistent/mine.toml".into(),
    });
    let err = r.unwrap_err();
    assert_eq!(err.code, ErrorCode::NotFound, "{}", err.message);
    assert_eq!(
        err.message,
        "no profile file at /nonexistent/mine.toml (profiles: default, music, night, speech; \
         or the path of a .toml file)"
    );
    let (_, r) = rig.request(Request::RouteUnset { app: "mpv".into() });
    let err = r.unwrap_err();
    assert_eq!(err.code, ErrorCode::NotFound);
    assert_eq!(
        err.message,
        "no user rule for `mpv` (there are no user rules)"
    );
    for app in ["firefox", "vlc"] {
        rig.request(Request::RouteSet {
            app: app.into(),
            route: Route::Bypass,
        })
        .1
        .unwrap();
    }
    let (_, r) = rig.request(Request::RouteUnset { app: "mpv".into() });
    assert_eq!(
        r.unwrap_err().message,
        "no user rule for `mpv` (user rules: `vlc`, `firefox`)"
    );
}

/// An error reported for a profile that is not the active one (the file watcher's) is over
/// when that file loads again (`Fixed`): `status` drops it and the alert clears. The repair
/// of another file leaves it.
#[test]
fn a_repaired_inactive_profile_clears_its_error() {
    use headroom_ipc::AlertKind;
    use headroomd::profiles::ProfileEvent;
    let mut rig = Rig::new(DaemonConfig::default());
    let other = rig.config.join("profiles/other.toml");
    let status = |rig: &mut Rig| match rig.request(Request::Status) {
        (_, Ok(Response::Status(s))) => s,
        other => panic!("{other:?}"),
    };
    file_error(
        &mut rig,
        &other,
        2,
        "limiter.ceiling_dbtp = 3 is out of range",
    );
    let s = status(&mut rig);
    assert!(s
        .profile_error
        .is_some_and(|e| e.contains("other.toml:2:16")));
    assert!(s.alerts.iter().any(|a| a.kind == AlertKind::ProfileError));
    // Another file's repair changes nothing.
    rig.on(Input::Profile(ProfileEvent::Fixed(
        rig.config.join("profiles/third.toml"),
    )));
    assert!(status(&mut rig).profile_error.is_some());
    // Its own does.
    let cleared = events(&rig.on(Input::Profile(ProfileEvent::Fixed(other))));
    assert!(
        cleared
            .iter()
            .any(|e| matches!(e, Event::AlertCleared(c) if c.kind == AlertKind::ProfileError)),
        "{cleared:?}"
    );
    let s = status(&mut rig);
    assert_eq!(s.profile_error, None);
    assert!(!s.alerts.iter().any(|a| a.kind == AlertKind::ProfileError));
}

/// `status` tells an error of another profile's file (`profile_error_active: false`: the
/// active profile is not affected) from one of the active profile's file (`true`: its last
/// good version stays), and the active profile's error is not hidden by a later error of
/// another file. The alert's message says the same.
#[test]
fn status_tells_an_inactive_profiles_error_from_the_active_ones() {
    use headroom_ipc::AlertKind;
    use headroomd::profiles::ProfileEvent;
    let mut rig = Rig::new(DaemonConfig::default());
    let mine = rig.config.join("profiles/mine.toml");
    std::fs::write(&mine, "[agc]\ntarget_lufs = -20.0\n").unwrap();
    let (_, r) = rig.request(Request::ProfileUse {
        name: "mine".into(),
    });
    r.unwrap();
    let status = |rig: &mut Rig| match rig.request(Request::Status) {
        (_, Ok(Response::Status(s))) => s,
        other => panic!("{other:?}"),
    };
    assert_eq!(status(&mut rig).profile_error_active, None);
    let other_error = |rig: &mut Rig, line| {
        let other = rig.config.join("profiles/other.toml");
        file_error(
            rig,
            &other,
            line,
            "limiter.ceiling_dbtp = 3 is out of range",
        )
    };
    other_error(&mut rig, 2);
    let s = status(&mut rig);
    assert_error_names(&s, "other.toml:2:16");
    assert_eq!(s.profile_error_active, Some(false));
    let alert = profile_error_alert(&s);
    assert!(
        alert
            .message
            .ends_with("(not the active profile: it is not affected)"),
        "{}",
        alert.message
    );
    // The active profile's file breaks: its error is reported, the last good version stays.
    std::fs::write(&mine, "bypass = 1\n").unwrap();
    let (_, r) = rig.request(Request::ProfileReload);
    assert!(r.is_err());
    let s = status(&mut rig);
    assert_error_names(&s, "mine.toml:1:10");
    assert_eq!(s.profile_error_active, Some(true));
    assert_eq!(
        s.profile_in_force,
        Some(headroom_ipc::ProfileInForce::LastGood)
    );
    // The alert says so too (it spoke of the other file, "not affected", before).
    let alert = profile_error_alert(&s);
    assert!(
        alert.message.contains("mine.toml:1:10")
            && alert.message.ends_with("(keeping the last good profile)"),
        "{}",
        alert.message
    );
    // The same when the watcher reports it.
    rig.on(Input::Profile(ProfileEvent::Fixed(mine.clone())));
    other_error(&mut rig, 2);
    file_error(&mut rig, &mine, 1, "bypass = 1 is not a boolean");
    let s = status(&mut rig);
    let alert = profile_error_alert(&s);
    assert!(
        alert.message.contains("mine.toml:1:16")
            && alert.message.ends_with("(keeping the last good profile)"),
        "{}",
        alert.message
    );
    // Another file's later error does not hide it.
    other_error(&mut rig, 3);
    let s = status(&mut rig);
    assert_error_names(&s, "mine.toml:1:16");
    assert_eq!(s.profile_error_active, Some(true));
    // Repaired: the other file's error, which it hid, is reported again (that file is still
    // broken: it was forgotten, and status said all was well).
    std::fs::write(&mine, "[agc]\ntarget_lufs = -21.0\n").unwrap();
    let (_, r) = rig.request(Request::ProfileReload);
    r.unwrap();
    let s = status(&mut rig);
    assert_error_names(&s, "other.toml:3:16");
    assert_eq!(s.profile_error_active, Some(false));
    // The active profile reloading again does not clear it; the file loading again does.
    rig.request(Request::ProfileReload).1.unwrap();
    assert_error_names(&status(&mut rig), "other.toml:3:16");
    rig.on(Input::Profile(ProfileEvent::Fixed(
        rig.config.join("profiles/other.toml"),
    )));
    let s = status(&mut rig);
    assert_eq!((s.profile_error, s.profile_error_active), (None, None));
    assert!(!s.alerts.iter().any(|a| a.kind == AlertKind::ProfileError));
}

/// The error of a profile that is selected and repaired in one reload (the config file and
/// the profile changed together, as a checkout of dotfiles does) is over, also when it was
/// shown as another profile's error just before; and the error of the active profile stays,
/// as another profile's, when a different profile is selected while its file is still
/// broken, until that file loads.
#[test]
fn a_profile_errors_end_follows_its_file_not_the_order_of_reloads() {
    use headroom_ipc::AlertKind;
    use headroomd::profiles::ProfileEvent;
    let mut rig = Rig::new(DaemonConfig::default());
    let mine = rig.config.join("profiles/mine.toml");
    let config = rig.config.join("config.toml");
    let good = "[agc]\ntarget_lufs = -20.0\n";
    let bad = "[agc]\ntarget_lufs = [\n";
    std::fs::write(&mine, good).unwrap();
    rig.request(Request::ProfileUse {
        name: "mine".into(),
    })
    .1
    .unwrap();
    let status = |rig: &mut Rig| match rig.request(Request::Status) {
        (_, Ok(Response::Status(s))) => s,
        other => panic!("{other:?}"),
    };
    let reload = |rig: &mut Rig| rig.request(Request::ProfileReload).1;
    let no_error = |s: &headroom_ipc::Status| {
        s.profile_error.is_none()
            && s.profile_error_active.is_none()
            && !s.alerts.iter().any(|a| a.kind == AlertKind::ProfileError)
    };
    // The active profile breaks, then the config file, then the config selects `night`:
    // the broken profile is reported as another profile's.
    std::fs::write(&mine, bad).unwrap();
    assert!(reload(&mut rig).is_err());
    std::fs::write(&config, "profile = 5\n").unwrap();
    assert!(reload(&mut rig).is_err());
    std::fs::write(&config, "profile = \"night\"\n").unwrap();
    reload(&mut rig).unwrap();
    let s = status(&mut rig);
    assert_error_names(&s, "mine.toml:2:");
    assert_eq!(s.profile_error_active, Some(false));
    // The config selects it again and it is repaired, in one reload: no error is left.
    std::fs::write(&config, "profile = \"mine\"\n").unwrap();
    std::fs::write(&mine, good).unwrap();
    reload(&mut rig).unwrap();
    let s = status(&mut rig);
    assert_eq!(s.profile, "mine");
    assert!(no_error(&s), "{s:?}");

    // The active profile breaks and another is selected: its file is still broken, so its
    // error stays, now as another profile's.
    std::fs::write(&mine, bad).unwrap();
    assert!(reload(&mut rig).is_err());
    assert_eq!(status(&mut rig).profile_error_active, Some(true));
    rig.request(Request::ProfileUse {
        name: "night".into(),
    })
    .1
    .unwrap();
    let s = status(&mut rig);
    assert_error_names(&s, "mine.toml:2:");
    assert_eq!(s.profile_error_active, Some(false));
    let alert = profile_error_alert(&s);
    assert!(
        alert.message.contains("not the active profile"),
        "{alert:?}"
    );
    // Repaired (the watcher reports it): over.
    std::fs::write(&mine, good).unwrap();
    rig.on(Input::Profile(ProfileEvent::Fixed(mine.clone())));
    assert!(no_error(&status(&mut rig)));
    // A profile that loads when another is selected leaves nothing behind.
    rig.request(Request::ProfileUse {
        name: "mine".into(),
    })
    .1
    .unwrap();
    rig.request(Request::ProfileUse {
        name: "night".into(),
    })
    .1
    .unwrap();
    assert!(no_error(&status(&mut rig)));
}

/// A rule written differently for the same pattern replaces the old one, and the reply's
/// warning says so (`route list` shows only the new text); the same text again, or another
/// pattern, gives no warning.
#[test]
fn a_rule_for_the_same_pattern_written_differently_says_what_it_replaces() {
    use headroom_ipc::Route as WireRoute;
    let mut rig = Rig::new(DaemonConfig::default());
    let set = |rig: &mut Rig, app: &str| {
        let (out, r) = rig.request(Request::RouteSet {
            app: app.into(),
            route: WireRoute::Bypass,
        });
        r.unwrap();
        out.iter()
            .filter_map(|o| match o {
                Output::Warning(w) => Some(w.clone()),
                _ => None,
            })
            .collect::<Vec<_>>()
    };
    assert!(set(&mut rig, "a*").is_empty());
    assert!(set(&mut rig, "a*").is_empty());
    assert!(set(&mut rig, "b*").is_empty());
    let w = set(&mut rig, "A**");
    assert!(
        w.len() == 1 && w[0].contains("`A**` is the same pattern as the rule `a*`"),
        "{w:?}"
    );
    let (_, r) = rig.request(Request::RouteList { cursor: None });
    let Ok(Response::Routes(routes)) = r else {
        panic!("{r:?}")
    };
    let apps: Vec<&str> = routes.rules.iter().map(|r| r.app.as_str()).collect();
    assert!(apps.contains(&"A**") && !apps.contains(&"a*"), "{apps:?}");
}

/// What the profile watcher reports for a file that does not load: `file` at `line`:16.
fn file_error(rig: &mut Rig, file: &Path, line: usize, message: &str) -> Vec<Output> {
    use headroomd::profiles::{FileError, ProfileEvent};
    rig.on(Input::Profile(ProfileEvent::Error(FileError {
        file: file.to_path_buf(),
        line,
        column: 16,
        message: message.into(),
    })))
}

/// The active `profile_error` alert of `s` (panics without one).
fn profile_error_alert(s: &headroom_ipc::Status) -> &headroom_ipc::Alert {
    s.alerts
        .iter()
        .find(|a| a.kind == headroom_ipc::AlertKind::ProfileError)
        .expect("the profile_error alert")
}

/// Asserts that status reports a profile error naming `place` (`FILE:LINE:COL`).
fn assert_error_names(s: &headroom_ipc::Status, place: &str) {
    assert!(
        s.profile_error
            .as_deref()
            .is_some_and(|e| e.contains(place)),
        "{s:?}"
    );
}

/// `profile.use` of a profile whose cut cannot reach its target (a copy of `default` at
/// −30 LUFS) is done, with a warning that says so; a shipped profile gets none.
#[test]
fn using_a_profile_whose_cut_falls_short_of_its_target_warns() {
    let mut rig = Rig::new(DaemonConfig::default());
    let dir = rig.config.join("profiles");
    std::fs::create_dir_all(&dir).unwrap();
    write(
        &dir.join("quiet.toml"),
        "[agc]\ntarget_lufs = -30\nmax_cut_db = 24\n",
    );
    let warning = |out: &[Output]| {
        out.iter().find_map(|o| match o {
            Output::Warning(w) => Some(w.clone()),
            _ => None,
        })
    };
    let (out, r) = rig.request(Request::ProfileUse {
        name: "quiet".into(),
    });
    r.unwrap();
    let w = warning(&out).expect("a warning");
    assert!(
        w.contains("agc.max_cut_db = 24") && w.contains("25 dB"),
        "{w}"
    );
    let (out, r) = rig.request(Request::ProfileUse {
        name: "night".into(),
    });
    r.unwrap();
    assert_eq!(warning(&out), None);
}

/// A `setting.set` that leaves the cut short of the target (`default`'s 24 dB with a target
/// of −30) warns as `profile.use` of such a profile does; a later set that changes nothing
/// of it does not warn again, and one that mends it neither. A `profile.reload` of an
/// edited profile that falls short says so in its reply.
#[test]
fn a_setting_or_an_edit_that_leaves_the_cut_short_of_the_target_warns() {
    let mut rig = Rig::new(DaemonConfig::default());
    let warning = |out: &[Output]| {
        out.iter().find_map(|o| match o {
            Output::Warning(w) => Some(w.clone()),
            _ => None,
        })
    };
    let mut set = |key: &str, value: SettingValue| {
        let (out, r) = rig.request(Request::SettingSet {
            key: key.into(),
            value,
        });
        r.unwrap();
        warning(&out)
    };
    let w = set("agc.target_lufs", SettingValue::Int(-30)).expect("a warning");
    assert!(
        w.contains("agc.max_cut_db = 24") && w.contains("25 dB"),
        "{w}"
    );
    assert_eq!(set("agc.rise_db_per_s", SettingValue::Int(10)), None);
    assert_eq!(set("agc.max_cut_db", SettingValue::Int(26)), None);
    assert_eq!(set("agc.target_lufs", SettingValue::Int(-18)), None);

    let dir = rig.config.join("profiles");
    std::fs::create_dir_all(&dir).unwrap();
    write(&dir.join("quiet.toml"), "[agc]\ntarget_lufs = -28\n");
    rig.request(Request::SettingReset {
        key: None,
        all: true,
    })
    .1
    .unwrap();
    rig.request(Request::ProfileUse {
        name: "quiet".into(),
    })
    .1
    .unwrap();
    write(
        &dir.join("quiet.toml"),
        "[agc]\ntarget_lufs = -30\nmax_cut_db = 20\n",
    );
    let (out, r) = rig.request(Request::ProfileReload);
    r.unwrap();
    let w = warning(&out).expect("a warning");
    assert!(w.contains("agc.max_cut_db = 20"), "{w}");

    // A setting changed with `set` stays in force over a profile chosen after it: said.
    rig.request(Request::SettingSet {
        key: "agc.target_lufs".into(),
        value: SettingValue::Int(-20),
    })
    .1
    .unwrap();
    let (out, r) = rig.request(Request::ProfileUse {
        name: "speech".into(),
    });
    r.unwrap();
    let w = warning(&out).expect("a warning");
    assert!(
        w.contains("stay in force") && w.contains("agc.target_lufs = -20"),
        "{w}"
    );
}

/// The daemon's `status`.
fn status_of(rig: &mut Rig) -> Box<headroom_ipc::Status> {
    match rig.request(Request::Status).1 {
        Ok(Response::Status(s)) => s,
        other => panic!("{other:?}"),
    }
}

/// A daemon whose `config.toml` is `text`, reloaded: the rig, the file and the reload's
/// outputs.
fn rig_reloading_config(text: &str) -> (Rig, std::path::PathBuf, Vec<Output>) {
    let mut rig = Rig::new(DaemonConfig::default());
    let file = rig.config.join("config.toml");
    std::fs::write(&file, text).unwrap();
    let (out, r) = rig.request(Request::ProfileReload);
    assert!(r.is_ok(), "{r:?}");
    (rig, file, out)
}

/// Writes a config file that holds nothing wrong and reloads: no warning in the reply, none
/// in `status`.
fn reload_a_clean_config(rig: &mut Rig, file: &std::path::Path, text: &str) {
    std::fs::write(file, text).unwrap();
    let (out, r) = rig.request(Request::ProfileReload);
    assert!(r.is_ok(), "{r:?}");
    assert!(!out.iter().any(|o| matches!(o, Output::Warning(_))));
    assert!(status_of(rig).config_warnings.is_empty());
}

/// A typo in `config.toml` is in `status` (`config_warnings`) and the warning of
/// `profile.reload`'s reply; the state word does not change for it, and fixing the file
/// clears it.
#[test]
fn config_typos_show_in_status_and_the_reload_reply() {
    let (mut rig, file, out) =
        rig_reloading_config("profile = \"night\"\n[alerts]\nnotfy = true\n");
    let expected = format!(
        "{}:3:1: unknown key `notfy` in [alerts] (did you mean `notify`?); ignored",
        file.display()
    );
    let warning = out.iter().rev().find_map(|o| match o {
        Output::Warning(w) => Some(w.clone()),
        _ => None,
    });
    assert_eq!(warning.as_deref(), Some(expected.as_str()));
    let st = status_of(&mut rig);
    assert_eq!(st.profile, "night", "the known keys load");
    assert_eq!(st.config_warnings, [expected]);
    assert!(st.profile_error.is_none());
    assert!(st.alerts.is_empty(), "{:?}", st.alerts);

    reload_a_clean_config(
        &mut rig,
        &file,
        "profile = \"night\"\n[alerts]\nnotify = true\n",
    );
}

/// An `[alerts] notify` that is not `true` or `false` was only logged: `status` and
/// `profile use` (which writes into that file) said nothing. It is a config warning now, with
/// its line:col and what the notifications do meanwhile.
#[test]
fn an_invalid_alerts_notify_shows_in_status_and_profile_use() {
    let (mut rig, file, _) =
        rig_reloading_config("profile = \"night\"\n[alerts]\nnotify = \"yes\"\n");
    let expected = format!(
        "{}:3:10: `alerts.notify` must be true or false; desktop notifications are off",
        file.display()
    );
    let st = status_of(&mut rig);
    assert_eq!(st.profile, "night", "the rest of the file loads");
    assert_eq!(st.config_warnings, std::slice::from_ref(&expected));
    assert!(st.alerts.is_empty(), "{:?}", st.alerts);
    let (out, r) = rig.request(Request::ProfileUse {
        name: "speech".into(),
    });
    assert!(r.is_ok(), "{r:?}");
    let warning = out.iter().rev().find_map(|o| match o {
        Output::Warning(w) => Some(w.clone()),
        _ => None,
    });
    assert!(
        warning.as_deref().is_some_and(|w| w.contains(&expected)),
        "{warning:?}"
    );
    assert_eq!(status_of(&mut rig).config_warnings, [expected]);

    reload_a_clean_config(
        &mut rig,
        &file,
        "profile = \"speech\"\n[alerts]\nnotify = false\n",
    );
}

/// `bypass on` then `off` (or two toggles) left `bypass = false` as an override: `settings`
/// marked it, and the next `profile use` said "your settings stay in force over the
/// profile: bypass = false". Back at the profile's own value it is no override now; `on`
/// still is one (it lasts over a restart, as IPC.md says).
#[test]
fn bypass_back_at_the_profiles_value_is_no_override() {
    let mut rig = Rig::new(DaemonConfig::default());
    let bypass = |rig: &mut Rig, mode: BypassMode| rig.request(Request::BypassSet { mode }).1;
    let overridden = |rig: &mut Rig| match rig.request(Request::SettingGet {
        key: "bypass".into(),
    }) {
        (_, Ok(Response::Setting(e))) => (e.value, e.overridden),
        other => panic!("{other:?}"),
    };
    bypass(&mut rig, BypassMode::On).unwrap();
    assert_eq!(overridden(&mut rig), (SettingValue::Bool(true), true));
    bypass(&mut rig, BypassMode::Off).unwrap();
    assert_eq!(overridden(&mut rig), (SettingValue::Bool(false), false));
    bypass(&mut rig, BypassMode::Toggle).unwrap();
    bypass(&mut rig, BypassMode::Toggle).unwrap();
    assert_eq!(overridden(&mut rig), (SettingValue::Bool(false), false));
    let (out, r) = rig.request(Request::ProfileUse {
        name: "night".into(),
    });
    assert!(r.is_ok(), "{r:?}");
    let warnings: Vec<&String> = out
        .iter()
        .filter_map(|o| match o {
            Output::Warning(w) => Some(w),
            _ => None,
        })
        .collect();
    assert!(
        warnings.iter().all(|w| !w.contains("bypass")),
        "{warnings:?}"
    );
    // Over a profile that bypasses, `off` is the override.
    let file = rig.config.join("profiles");
    std::fs::create_dir_all(&file).unwrap();
    std::fs::write(file.join("raw.toml"), "bypass = true\n").unwrap();
    rig.request(Request::ProfileUse { name: "raw".into() })
        .1
        .unwrap();
    assert_eq!(overridden(&mut rig), (SettingValue::Bool(true), false));
    bypass(&mut rig, BypassMode::Off).unwrap();
    assert_eq!(overridden(&mut rig), (SettingValue::Bool(false), true));
    bypass(&mut rig, BypassMode::On).unwrap();
    assert_eq!(overridden(&mut rig), (SettingValue::Bool(true), false));
}

#[test]
fn the_history_marks_bypass_only_when_it_changes() {
    // Two toggles leave bypass off but overridden; `setting reset --all` then, and setting
    // it off again, change nothing in force: they used to add a `bypass off` mark each.
    // A profile that turns it on is marked as well.
    let mut rig = Rig::new(DaemonConfig::default());
    let bypass = |rig: &mut Rig, mode: BypassMode| rig.request(Request::BypassSet { mode }).1;
    bypass(&mut rig, BypassMode::Toggle).unwrap();
    bypass(&mut rig, BypassMode::Toggle).unwrap();
    rig.request(Request::SettingReset {
        key: None,
        all: true,
    })
    .1
    .unwrap();
    bypass(&mut rig, BypassMode::Off).unwrap();
    rig.request(Request::SettingSet {
        key: "bypass".into(),
        value: SettingValue::Bool(false),
    })
    .1
    .unwrap();
    rig.request(Request::SettingSet {
        key: "bypass".into(),
        value: SettingValue::Bool(true),
    })
    .1
    .unwrap();
    bypass(&mut rig, BypassMode::On).unwrap();
    let (_, r) = rig.request(Request::History {
        since_secs: None,
        from_unix_ms: None,
    });
    let Ok(Response::History(h)) = r else {
        panic!("{r:?}")
    };
    let marks: Vec<&str> = h
        .marks
        .iter()
        .filter(|m| m.kind == headroom_ipc::MarkKind::Bypass)
        .map(|m| m.text.as_str())
        .collect();
    assert_eq!(
        marks,
        ["bypass on", "bypass off", "bypass on"],
        "{:?}",
        h.marks
    );
}
