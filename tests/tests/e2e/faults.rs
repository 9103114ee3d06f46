//! headroomd under faults: killed with SIGKILL, PipeWire restarted under it, its real sink
//! removed, the default sink changed (also to its own sink), SIGTERM.

use std::process::Stdio;
use std::time::{Duration, Instant};

use headroom_tests::daemon::{
    bus_linked, bus_output_targets, link_targets, move_stream, node_id_by_app, with_log, write_wav,
    Daemon, BUS_SINK,
};
use headroom_tests::{sine, wait_for, Sandbox, Wav, DEFAULT_SINK};

/// How long the tests wait for the daemon and the session to react. Typical times are a few
/// hundred milliseconds (printed, and recorded in BENCHMARKS.md); the deadline is generous so
/// that a loaded 2-core machine (a busy CPU, a slow WirePlumber) does not fail them.
const DEADLINE: Duration = Duration::from_secs(10);

/// RMS (dBFS) of the capture between `from_s` and `to_s` seconds.
fn window_db(w: &Wav, from_s: f64, to_s: f64) -> f64 {
    let f = |s: f64| (s * w.rate as f64) as usize;
    w.slice(f(from_s), f(to_s)).rms_db()
}

/// Makes `name` the default sink (as `wpctl set-default` does) once WirePlumber takes it.
fn set_default(sb: &Sandbox, name: &str) {
    sb.set_default_sink(name, DEADLINE)
        .unwrap_or_else(|e| panic!("{name} not made the default: {e:#}"));
}

/// Waits until the app's stream node exists and is linked into `sink` (among others).
fn wait_app_on(sb: &Sandbox, app: &str, sink: &str, timeout: Duration) -> anyhow::Result<u32> {
    wait_for(&format!("{app} on {sink}"), timeout, || {
        let Some(id) = node_id_by_app(sb, app)? else {
            return Ok(None);
        };
        // Layer A may tap the stream too: only the sink matters here.
        Ok(link_targets(sb, id)?
            .iter()
            .any(|t| t == sink)
            .then_some(id))
    })
}

#[test]
fn sigkill_puts_routed_streams_back_on_the_real_sink() {
    let sb = Sandbox::start().expect("sandbox");
    let mut d = Daemon::start(&sb, &["--bypass"]).expect("headroomd");
    let wav = write_wav(&sb, "long.wav", &sine(440.0, -20.0, 12.0)).unwrap();
    let mut player = sb
        .play_app_cmd(&wav, &["application.name=victim"])
        .spawn()
        .unwrap();
    // Route it through the bus as the daemon's routing does (target.object by name); the
    // daemon's own default routing may have done so already.
    let id = wait_for("victim linked", DEADLINE, || {
        let Some(id) = node_id_by_app(&sb, "victim")? else {
            return Ok(None);
        };
        Ok((!link_targets(&sb, id)?.is_empty()).then_some(id))
    })
    .unwrap();
    move_stream(&sb, id, Some(BUS_SINK)).unwrap();
    with_log(&d, wait_app_on(&sb, "victim", BUS_SINK, DEADLINE)).unwrap();

    let rec = sb.record(DEFAULT_SINK, &sb.path("cap.wav")).unwrap();
    let t_rec = Instant::now();
    std::thread::sleep(Duration::from_millis(1500));
    let t_kill = t_rec.elapsed().as_secs_f64();
    d.kill9();
    let back = Instant::now();
    wait_app_on(&sb, "victim", DEFAULT_SINK, DEADLINE)
        .expect("the stream was not relinked to the real sink after SIGKILL");
    println!("relinked {:?} after SIGKILL", back.elapsed());
    let t_back = t_rec.elapsed().as_secs_f64();
    std::thread::sleep(Duration::from_millis(2500));
    let cap = rec.stop().unwrap();
    let _ = player.kill();
    let _ = player.wait();
    // Audible before the kill (through the bus) and once relinked (directly).
    let before = window_db(&cap, 0.3, t_kill - 0.2);
    let after = window_db(&cap, t_back + 0.5, t_back + 2.0);
    assert!(
        before > -30.0,
        "no signal through the bus before the kill: {before:.1} dBFS"
    );
    assert!(
        after > -30.0,
        "silence on the real sink after the kill: {after:.1} dBFS"
    );
    assert!(
        sb.node_id(BUS_SINK).unwrap().is_none(),
        "the bus sink lingers after SIGKILL"
    );
}

#[test]
fn sigterm_exits_cleanly_and_removes_the_sink() {
    let sb = Sandbox::start().expect("sandbox");
    let mut d = Daemon::start(&sb, &[]).expect("headroomd");
    let t = Instant::now();
    let log = d.terminate().unwrap();
    assert!(t.elapsed() < DEADLINE, "shutdown took {:?}", t.elapsed());
    println!("shut down in {:?}", t.elapsed());
    assert!(log.contains("SIGTERM"), "no SIGTERM log line:\n{log}");
    wait_for("bus sink gone", DEADLINE, || {
        Ok(sb.node_id(BUS_SINK)?.is_none().then_some(()))
    })
    .unwrap();
}

#[test]
fn survives_a_pipewire_restart_and_processes_again() {
    let mut sb = Sandbox::start().expect("sandbox");
    let mut d = Daemon::start(&sb, &["--bypass"]).expect("headroomd");
    let t0 = Instant::now();
    sb.restart_stack()
        .expect("restarting PipeWire and WirePlumber");
    let stack_up = Instant::now();
    with_log(
        &d,
        wait_for("bus back", DEADLINE, || Ok(bus_linked(&sb)?.then_some(()))),
    )
    .unwrap();
    println!(
        "bus back {:?} after the stack was up again ({:?} after the kill)",
        stack_up.elapsed(),
        t0.elapsed()
    );
    assert!(d.is_running(), "headroomd died with PipeWire");
    // And it processes: a tone played into the bus reaches the new null sink.
    let wav = write_wav(&sb, "tone.wav", &sine(1000.0, -20.0, 2.0)).unwrap();
    let rec = sb.record(DEFAULT_SINK, &sb.path("after.wav")).unwrap();
    with_log(
        &d,
        sb.play(&wav, BUS_SINK, &["application.name=after-restart"]),
    )
    .unwrap();
    let cap = rec.stop().unwrap();
    let (a, b) = cap.active_range(1e-3).unwrap_or_else(|| {
        panic!(
            "no audio through the bus after the restart; log:\n{}",
            d.log()
        )
    });
    assert!((b - a) > 48_000, "only {} frames came through", b - a);
    let log = d.terminate().unwrap();
    assert!(
        log.contains("reconnecting"),
        "no reconnect in the log:\n{log}"
    );
}

#[test]
fn output_follows_sink_removal_and_default_changes() {
    let sb = Sandbox::start().expect("sandbox");
    sb.create_null_sink("other-speakers").unwrap();
    sb.create_null_sink("third-speakers").unwrap();
    // The metadata properties headroomd receives are logged: once, in `make test`, a
    // default change `pw-metadata` showed was never followed, with nothing in the log
    // to say whether it arrived (PLAN.md, Known gaps).
    let d =
        Daemon::start_logging(&sb, &[], "info,headroomd::pw::registry=debug").expect("headroomd");
    let on = |sink: &str| -> anyhow::Result<Option<()>> {
        Ok((bus_output_targets(&sb)? == Some(vec![sink.to_string()])).then_some(()))
    };
    with_log(
        &d,
        wait_for("bus on default", DEADLINE, || on(DEFAULT_SINK)),
    )
    .unwrap();

    // The user picks another default: the bus follows.
    set_default(&sb, "other-speakers");
    let t = Instant::now();
    with_log(
        &d,
        wait_for("bus on other", DEADLINE, || on("other-speakers")),
    )
    .unwrap();
    println!("followed a default change in {:?}", t.elapsed());

    // Someone makes headroom-processed the default: no feedback loop, output stays put.
    set_default(&sb, BUS_SINK);
    std::thread::sleep(Duration::from_millis(800));
    assert_eq!(
        bus_output_targets(&sb).unwrap(),
        Some(vec!["other-speakers".to_string()]),
        "bus output moved when its own sink became the default"
    );

    // The real sink disappears: the bus moves to a remaining sink.
    set_default(&sb, "other-speakers");
    sb.destroy_node("other-speakers").unwrap();
    let t = Instant::now();
    with_log(
        &d,
        wait_for("bus on a remaining sink", DEADLINE, || {
            let t = bus_output_targets(&sb)?;
            Ok(
                t.filter(|v| v.len() == 1 && (v[0] == DEFAULT_SINK || v[0] == "third-speakers"))
                    .map(|_| ()),
            )
        }),
    )
    .unwrap();
    println!("followed a sink removal in {:?}", t.elapsed());

    // A new sink appears and becomes the default: the bus follows and audio arrives there.
    sb.create_null_sink("new-speakers").unwrap();
    set_default(&sb, "new-speakers");
    with_log(&d, wait_for("bus on new", DEADLINE, || on("new-speakers"))).unwrap();
    let wav = write_wav(&sb, "tone.wav", &sine(1000.0, -20.0, 2.0)).unwrap();
    let rec = sb.record("new-speakers", &sb.path("new.wav")).unwrap();
    with_log(&d, sb.play(&wav, BUS_SINK, &["application.name=follow"])).unwrap();
    let cap = rec.stop().unwrap();
    assert!(
        cap.active_range(1e-3).is_some(),
        "no audio on the new sink; log:\n{}",
        d.log()
    );
}

/// WirePlumber 0.4.13 restarted on its own breaks linking for every client: headroomd notices
/// the session manager leaving and coming back, and warns when its bus is then left unlinked
/// (or reports the bus linked again). The `session_broken` alert is raised once and stays
/// until the session is judged: not cleared when WirePlumber is merely back (it was, and
/// raised again when the link did not come: two notifications for one broken session).
#[test]
fn wireplumber_restarted_alone_is_detected() {
    use headroom_client::{Client, ClientError};
    use headroom_ipc::{AlertKind, Event, Topic};
    let sb = Sandbox::start().expect("sandbox");
    let d = Daemon::start(&sb, &[]).expect("headroomd");
    let mut sub = Client::connect_to(sb.control_socket())
        .unwrap()
        .subscribe(&[Topic::Alerts])
        .unwrap();
    sub.set_timeout(Some(Duration::from_millis(100))).unwrap();
    let pids = headroom_tests::daemon::sandbox_pids(&sb, "wireplumber");
    assert_eq!(
        pids.len(),
        1,
        "expected one wireplumber in the sandbox: {pids:?}"
    );
    // SAFETY: kill(2) on the sandbox's own wireplumber (the sandbox reaps it on drop).
    unsafe {
        libc::kill(pids[0], libc::SIGKILL);
    }
    with_log(
        &d,
        wait_for("missing session manager noticed", DEADLINE, || {
            Ok(d.log()
                .contains("default metadata disappeared")
                .then_some(()))
        }),
    )
    .unwrap();
    let mut wp = sb
        .command("wireplumber")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // The session_broken alert's events, as a subscriber sees them.
    let mut events: Vec<(bool, String)> = Vec::new();
    let mut drain = |events: &mut Vec<(bool, String)>| loop {
        match sub.next() {
            Some(Ok(Event::AlertRaised(a))) if a.kind == AlertKind::SessionBroken => {
                events.push((true, a.message))
            }
            Some(Ok(Event::AlertCleared(c))) if c.kind == AlertKind::SessionBroken => {
                events.push((false, c.message))
            }
            Some(Ok(_)) => {}
            Some(Err(ClientError::Timeout)) => return,
            Some(Err(e)) => panic!("subscription: {e}"),
            None => panic!("the daemon closed the subscription"),
        }
    };
    let outcome = wait_for("session manager back and judged", DEADLINE, || {
        drain(&mut events);
        let log = d.log();
        if !log.contains("session manager is back") {
            return Ok(None);
        }
        if log.contains("session is incomplete") {
            return Ok(Some("incomplete"));
        }
        Ok(bus_linked(&sb)?.then_some("linked"))
    });
    let outcome = with_log(&d, outcome).unwrap();
    println!("after a WirePlumber-only restart the bus is {outcome}");
    if outcome == "linked" {
        with_log(
            &d,
            wait_for("the alert cleared", DEADLINE, || {
                drain(&mut events);
                Ok(events.iter().any(|(raised, _)| !raised).then_some(()))
            }),
        )
        .unwrap();
    } else {
        // Another second of events: nothing clears while nothing is linked.
        let until = Instant::now() + Duration::from_secs(1);
        while Instant::now() < until {
            drain(&mut events);
        }
        let status = Client::connect_to(sb.control_socket())
            .unwrap()
            .status()
            .unwrap();
        let alert = status
            .alerts
            .iter()
            .find(|a| a.kind == AlertKind::SessionBroken);
        assert!(
            alert.is_some_and(|a| a
                .message
                .contains("restart PipeWire and WirePlumber together")),
            "{:?}",
            status.alerts
        );
    }
    let _ = wp.kill();
    let _ = wp.wait();
    println!("session_broken events: {events:?}");
    let raised = events.iter().filter(|(r, _)| *r).count();
    let cleared = events.len() - raised;
    assert_eq!(raised, 1, "{events:?}");
    assert_eq!(cleared, usize::from(outcome == "linked"), "{events:?}");
    assert!(events[0].0, "{events:?}");
}

/// On SIGTERM the daemon moves the streams it routed back (deletes their `target.object`):
/// they keep playing on the real sink and no target is left behind in the metadata.
#[test]
fn sigterm_moves_routed_streams_back() {
    let sb = Sandbox::start().expect("sandbox");
    let mut d = Daemon::start(&sb, &[]).expect("headroomd");
    let wav = write_wav(&sb, "long.wav", &sine(440.0, -20.0, 10.0)).unwrap();
    let mut player = sb
        .play_app_cmd(&wav, &["application.name=routed-app"])
        .spawn()
        .unwrap();
    // The daemon's default routing sends new app streams through the bus.
    let id = with_log(&d, wait_app_on(&sb, "routed-app", BUS_SINK, DEADLINE)).unwrap();
    d.terminate().unwrap();
    let t = Instant::now();
    wait_app_on(&sb, "routed-app", DEFAULT_SINK, DEADLINE)
        .expect("the stream did not go back to the real sink after SIGTERM");
    println!("back on the real sink {:?} after SIGTERM", t.elapsed());
    let out = sb
        .command("pw-metadata")
        .args(["-n", "default", &id.to_string(), "target.object"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        !text.contains("headroom-processed"),
        "a target into the gone bus is left in the metadata: {text}"
    );
    let _ = player.kill();
    let _ = player.wait();
}
