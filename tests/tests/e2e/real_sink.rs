//! The preferred real sink (`--real-sink`, the profile's `preferred_real_sink`) against a
//! running daemon: the processed output plays into it and nowhere else, follows the default
//! sink while it is gone and returns when it comes back, and a long PipeWire + WirePlumber
//! outage is survived without restarting the daemon.

use std::time::{Duration, Instant};

use headroom_client::Client;
use headroom_tests::daemon::{
    bus_output_targets, channel, link_targets, node_id_by_app, record_io, spawn_daemon, with_log,
    write_wav, Daemon, BUS_SINK,
};
use headroom_tests::{sine, wait_for, workspace_bin, Sandbox, Wav, DEFAULT_SINK};

/// The second null sink, asked for by name.
const PREFERRED: &str = "preferred-speakers";

/// `Some(())` once the bus output is linked into `sink` and nothing else.
fn bus_on(sb: &Sandbox, sink: &str) -> anyhow::Result<Option<()>> {
    Ok((bus_output_targets(sb)? == Some(vec![sink.to_string()])).then_some(()))
}

/// Waits until the bus output plays into `sink` only; returns how long that took.
fn wait_bus_on(sb: &Sandbox, d: &Daemon, sink: &str, timeout: Duration) -> Duration {
    let t = Instant::now();
    with_log(
        d,
        wait_for(&format!("bus output on {sink}"), timeout, || {
            bus_on(sb, sink)
        }),
    )
    .unwrap_or_else(|e| {
        panic!(
            "{e:?}\nbus output targets: {:?}",
            bus_output_targets(sb).ok().flatten()
        )
    });
    t.elapsed()
}

fn set_default(sb: &Sandbox, name: &str) {
    let id = sb.node_id(name).unwrap().expect("node");
    let st = sb
        .command("wpctl")
        .args(["set-default", &id.to_string()])
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(st.success(), "wpctl set-default {name} failed");
    // WirePlumber decides the default asynchronously (a just-created sink may take it a
    // moment); the daemon's 1 s to follow counts from when the default has changed.
    sb.wait_default_sink(name, Duration::from_secs(3))
        .unwrap_or_else(|e| panic!("{e:#}"));
}

/// Watches the bus output for 1 s (longer than the daemon takes to follow a change): it must
/// stay on `sink` only.
fn assert_stays_on(sb: &Sandbox, d: &Daemon, sink: &str, after: &str) {
    let watch = Instant::now();
    while watch.elapsed() < Duration::from_secs(1) {
        assert_eq!(
            bus_output_targets(sb).unwrap(),
            Some(vec![sink.to_string()]),
            "the output left {sink} when {after}; log:\n{}",
            d.log()
        );
    }
}

/// The real sink the daemon reports in `status`.
fn status_real_sink(sb: &Sandbox) -> Option<String> {
    Client::connect_to(sb.control_socket())
        .and_then(|mut c| c.status())
        .expect("status over the control socket")
        .real_sink
}

/// Waits (2 s at most) until `status` reports `want` as the real sink: the engine hears of the
/// PipeWire thread's choice shortly after the output has moved.
fn assert_status_real_sink(sb: &Sandbox, want: &str) {
    let got = wait_for(
        "status reports the real sink",
        Duration::from_secs(2),
        || Ok((status_real_sink(sb).as_deref() == Some(want)).then_some(())),
    );
    assert!(
        got.is_ok(),
        "status reports {:?} as the real sink, not {want}",
        status_real_sink(sb)
    );
}

/// Creates [`PREFERRED`] and checks that it did not become the default sink (so a test that
/// finds the output on it proves the preference, not the default).
fn add_preferred_sink(sb: &Sandbox) {
    sb.create_null_sink(PREFERRED).unwrap();
    assert_eq!(
        sb.default_sink().unwrap().as_deref(),
        Some(DEFAULT_SINK),
        "creating {PREFERRED} changed the default sink"
    );
}

/// A sandbox with the preferred sink next to the default one, and a daemon started with
/// `--real-sink` playing into it.
fn start_on_preferred() -> (Sandbox, Daemon) {
    let sb = Sandbox::start().expect("sandbox");
    add_preferred_sink(&sb);
    let d = Daemon::start(&sb, &["--real-sink", PREFERRED]).expect("headroomd");
    wait_bus_on(&sb, &d, PREFERRED, Duration::from_secs(2));
    (sb, d)
}

/// The nodes application `app`'s playback stream is linked to, `None` while it has none.
fn app_targets(sb: &Sandbox, app: &str) -> anyhow::Result<Option<Vec<String>>> {
    let Some(id) = node_id_by_app(sb, app)? else {
        return Ok(None);
    };
    Ok(Some(link_targets(sb, id)?))
}

/// Plays a 2 s tone into the bus while recording both sinks' monitors sample-aligned:
/// asserts that the tone arrives on `on` and that `off` stays silent.
fn assert_plays_only_into(sb: &Sandbox, d: &Daemon, on: &str, off: &str) {
    let wav = write_wav(sb, "tone.wav", &sine(1000.0, -20.0, 2.0)).unwrap();
    let rec = record_io(sb, on, off, &sb.path("both.wav")).unwrap();
    with_log(
        d,
        sb.play(&wav, BUS_SINK, &["application.name=real-sink-probe"]),
    )
    .unwrap();
    let cap = rec.stop().unwrap();
    let on_ch = channel(&cap, 0);
    let off_ch = channel(&cap, 2);
    let active = |x: &[f32]| {
        let first = x.iter().position(|s| s.abs() > 1e-3);
        let last = x.iter().rposition(|s| s.abs() > 1e-3);
        first.zip(last).map_or(0, |(a, b)| b + 1 - a)
    };
    let peak = |x: &[f32]| x.iter().fold(0f32, |m, s| m.max(s.abs()));
    assert!(
        active(&on_ch) > 48_000,
        "only {} frames of the tone reached {on} (peak {:.5}); log:\n{}",
        active(&on_ch),
        peak(&on_ch),
        d.log()
    );
    assert!(
        peak(&off_ch) < 1e-4,
        "{off} received the bus output too (peak {:.5})",
        peak(&off_ch)
    );
    println!(
        "{on}: {} frames of signal, peak {:.3}; {off}: peak {:.6}",
        active(&on_ch),
        peak(&on_ch),
        peak(&off_ch)
    );
}

/// Records `sink`'s monitor for `secs` while something already plays; the capture's RMS in
/// dBFS over its second half (the first half covers the recorder's own start).
fn level_on(sb: &Sandbox, sink: &str, secs: f64) -> f64 {
    let rec = sb.record(sink, &sb.path("level.wav")).unwrap();
    std::thread::sleep(Duration::from_secs_f64(secs));
    let cap: Wav = rec.stop().unwrap();
    let n = cap.frames();
    cap.slice(n / 2, n).rms_db()
}

#[test]
fn real_sink_flag_plays_into_that_sink_and_not_the_default() {
    let (sb, d) = start_on_preferred();
    assert_status_real_sink(&sb, PREFERRED);
    assert_plays_only_into(&sb, &d, PREFERRED, DEFAULT_SINK);

    // The preferred sink wins over the default: a new default sink does not move the output.
    sb.create_null_sink("third-speakers").unwrap();
    set_default(&sb, "third-speakers");
    sb.wait_default_sink("third-speakers", Duration::from_secs(2))
        .unwrap();
    assert_stays_on(&sb, &d, PREFERRED, "the default sink changed");
}

/// The config file (`--config`) names a profile file whose `preferred_real_sink` is the second
/// sink; editing the profile moves the output within 1 s (hot reload), and back.
#[test]
fn profile_preferred_real_sink_plays_into_that_sink_and_follows_edits() {
    let sb = Sandbox::start().expect("sandbox");
    add_preferred_sink(&sb);
    let profile = sb.path("prefer.toml");
    let write_profile = |sink: &str| {
        let tmp = profile.with_extension("toml.tmp");
        std::fs::write(
            &tmp,
            format!("description = \"test\"\npreferred_real_sink = \"{sink}\"\n"),
        )
        .unwrap();
        std::fs::rename(&tmp, &profile).unwrap();
    };
    write_profile(PREFERRED);
    let config = sb.path("headroomd.toml");
    std::fs::write(
        &config,
        format!("profile = {:?}\n", profile.display().to_string()),
    )
    .unwrap();
    let d = Daemon::start(&sb, &["--config", config.to_str().unwrap()]).expect("headroomd");
    wait_bus_on(&sb, &d, PREFERRED, Duration::from_secs(2));
    assert_status_real_sink(&sb, PREFERRED);
    assert_plays_only_into(&sb, &d, PREFERRED, DEFAULT_SINK);

    // "" follows the default sink again.
    write_profile("");
    let took = wait_bus_on(&sb, &d, DEFAULT_SINK, Duration::from_secs(1));
    println!("profile edit to \"\": output on the default sink after {took:?}");
    write_profile(PREFERRED);
    let took = wait_bus_on(&sb, &d, PREFERRED, Duration::from_secs(1));
    println!("profile edit back: output on {PREFERRED} after {took:?}");
}

/// While a stream plays through the bus, the preferred sink disappears (output follows the
/// default sink within 1 s, audibly, and keeps following it when the default changes) and comes
/// back under the same name (output returns to it within 1 s, audibly).
#[test]
fn output_leaves_a_removed_preferred_sink_and_returns_when_it_is_back() {
    let (sb, d) = start_on_preferred();
    let wav = write_wav(&sb, "long.wav", &sine(440.0, -20.0, 15.0)).unwrap();
    let mut player = sb
        .play_cmd(&wav, BUS_SINK, &["application.name=long-player"])
        .spawn()
        .unwrap();
    with_log(
        &d,
        wait_for("player in the bus", Duration::from_secs(5), || {
            Ok(app_targets(&sb, "long-player")?
                .is_some_and(|t| t.iter().any(|t| t == BUS_SINK))
                .then_some(()))
        }),
    )
    .unwrap();
    let before = level_on(&sb, PREFERRED, 0.6);
    assert!(
        before > -40.0,
        "no signal on {PREFERRED} before the removal: {before:.1} dBFS"
    );

    sb.destroy_node(PREFERRED).unwrap();
    let away = wait_bus_on(&sb, &d, DEFAULT_SINK, Duration::from_secs(1));
    println!("preferred sink removed: output on the default sink after {away:?}");
    assert_status_real_sink(&sb, DEFAULT_SINK);
    let during = level_on(&sb, DEFAULT_SINK, 0.6);
    assert!(
        during > -40.0,
        "no signal on {DEFAULT_SINK} while {PREFERRED} is gone: {during:.1} dBFS"
    );

    // While it is gone, the output follows the default sink as it changes.
    sb.create_null_sink("third-speakers").unwrap();
    set_default(&sb, "third-speakers");
    let moved = wait_bus_on(&sb, &d, "third-speakers", Duration::from_secs(1));
    println!("default changed while the preferred sink is gone: output followed after {moved:?}");

    sb.create_null_sink(PREFERRED).unwrap();
    let back = wait_bus_on(&sb, &d, PREFERRED, Duration::from_secs(1));
    println!("preferred sink back: output on it after {back:?}");
    assert_status_real_sink(&sb, PREFERRED);
    let after = level_on(&sb, PREFERRED, 0.6);
    assert!(
        after > -40.0,
        "no signal on {PREFERRED} after it came back: {after:.1} dBFS"
    );
    let _ = player.kill();
    let _ = player.wait();
}

/// The only real sink goes away and comes back, and nobody ever chose a default: WirePlumber
/// makes headroom's sink the default while it is the only sink, and gives the default back
/// to the real one when it returns (a tie in priority kept headroom's sink the default after
/// the outage).
#[test]
fn the_default_goes_back_to_a_real_sink_that_returns() {
    let sb = Sandbox::start().expect("sandbox");
    let d = spawn_daemon(&sb, &[]).expect("headroomd");
    wait_bus_on(&sb, &d, DEFAULT_SINK, Duration::from_secs(5));
    sb.destroy_node(DEFAULT_SINK).unwrap();
    with_log(
        &d,
        wait_for(
            "headroom's sink the default",
            Duration::from_secs(5),
            || Ok((sb.default_sink()?.as_deref() == Some(BUS_SINK)).then_some(())),
        ),
    )
    .unwrap();
    sb.create_null_sink(DEFAULT_SINK).unwrap();
    sb.wait_default_sink(DEFAULT_SINK, Duration::from_secs(5))
        .unwrap_or_else(|e| panic!("{e:#}"));
    wait_bus_on(&sb, &d, DEFAULT_SINK, Duration::from_secs(5));
}

/// A preferred sink that does not exist at start: the daemon runs, plays into the default sink,
/// says so in its log, and switches to the preferred sink once it appears.
#[test]
fn absent_preferred_sink_falls_back_to_the_default_and_is_logged() {
    let sb = Sandbox::start().expect("sandbox");
    let mut d = Daemon::start(&sb, &["--real-sink", PREFERRED]).expect("headroomd");
    wait_bus_on(&sb, &d, DEFAULT_SINK, Duration::from_secs(2));
    assert!(d.is_running(), "headroomd exited:\n{}", d.log());
    assert_status_real_sink(&sb, DEFAULT_SINK);
    let note = with_log(
        &d,
        wait_for(
            "a log line about the missing sink",
            Duration::from_secs(1),
            || {
                Ok(d.log()
                    .lines()
                    .find(|l| l.contains(PREFERRED) && l.contains("not present"))
                    .map(str::to_string))
            },
        ),
    )
    .unwrap();
    println!("log: {note}");
    assert!(
        note.contains(DEFAULT_SINK),
        "the log line does not say where the output goes instead: {note}"
    );

    sb.create_null_sink(PREFERRED).unwrap();
    let took = wait_bus_on(&sb, &d, PREFERRED, Duration::from_secs(1));
    println!("preferred sink appeared: output on it after {took:?}");
    assert_plays_only_into(&sb, &d, PREFERRED, DEFAULT_SINK);
}

/// Runs the `headroom` command line inside the sandbox; asserts it succeeded and returns its
/// standard output.
fn headroom(sb: &Sandbox, args: &[&str]) -> String {
    let bin = workspace_bin("headroom").expect("headroom built");
    let out = sb.command(bin).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "headroom {args:?} failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The runtime setting (`headroom set preferred_real_sink NAME`): the output moves within 1 s,
/// the choice survives a daemon crash and restart, and resetting it follows the default again.
#[test]
fn runtime_setting_moves_the_output_and_survives_a_restart() {
    let sb = Sandbox::start().expect("sandbox");
    add_preferred_sink(&sb);
    let mut d = Daemon::start(&sb, &[]).expect("headroomd");
    wait_bus_on(&sb, &d, DEFAULT_SINK, Duration::from_secs(2));

    headroom(&sb, &["set", "preferred_real_sink", PREFERRED]);
    let took = wait_bus_on(&sb, &d, PREFERRED, Duration::from_secs(1));
    println!("`headroom set preferred_real_sink`: output moved after {took:?}");
    let got = headroom(&sb, &["get", "preferred_real_sink"]);
    assert!(got.contains(PREFERRED), "headroom get says: {got}");

    d.kill9();
    let d = Daemon::start(&sb, &[]).expect("headroomd again");
    wait_bus_on(&sb, &d, PREFERRED, Duration::from_secs(2));
    assert_plays_only_into(&sb, &d, PREFERRED, DEFAULT_SINK);

    headroom(&sb, &["setting", "reset", "preferred_real_sink"]);
    let took = wait_bus_on(&sb, &d, DEFAULT_SINK, Duration::from_secs(1));
    println!("`headroom setting reset preferred_real_sink`: output back after {took:?}");
}

/// `--real-sink` wins over the setting: changing the setting leaves the output where it is and
/// the daemon says why.
#[test]
fn real_sink_flag_wins_over_the_setting_and_says_so() {
    let (sb, d) = start_on_preferred();
    headroom(&sb, &["set", "preferred_real_sink", DEFAULT_SINK]);
    let line = with_log(
        &d,
        wait_for(
            "the log says the setting is not applied",
            Duration::from_secs(1),
            || {
                Ok(d.log()
                    .lines()
                    .find(|l| l.contains("not applied") && l.contains(PREFERRED))
                    .map(str::to_string))
            },
        ),
    )
    .unwrap();
    println!("log: {line}");
    assert_stays_on(
        &sb,
        &d,
        PREFERRED,
        "the setting changed (--real-sink given)",
    );
}

/// PipeWire and WirePlumber stopped for 15 s (far beyond the 1 s reconnect backoff cap), then
/// started again with only the default sink: the same daemon process has its bus back and
/// linked within 2 s, returns to the preferred sink when it is created again, routes a new app
/// stream through the bus and levels it.
#[test]
fn long_stack_outage_bus_back_within_2s_routing_and_levelling_reapplied() {
    let (mut sb, mut d) = start_on_preferred();
    sb.stop_stack().unwrap();
    let down = Instant::now();
    with_log(
        &d,
        wait_for("disconnect noticed", Duration::from_secs(2), || {
            Ok(d.log().contains("reconnecting").then_some(()))
        }),
    )
    .unwrap();
    // The outage itself: its length is the point of the test.
    let outage = Duration::from_secs(15);
    std::thread::sleep(outage.saturating_sub(down.elapsed()));
    assert!(
        d.is_running(),
        "headroomd died during the outage:\n{}",
        d.log()
    );

    let pipewire_up = sb.start_stack().unwrap();
    let stack_up = Instant::now();
    let node_back = with_log(
        &d,
        wait_for("bus sink back", Duration::from_secs(2), || {
            Ok(sb.node_id(BUS_SINK)?.map(|_| pipewire_up.elapsed()))
        }),
    )
    .unwrap();
    let linked = wait_bus_on(&sb, &d, DEFAULT_SINK, Duration::from_secs(2));
    println!(
        "outage {:?}; bus sink back {node_back:?} after PipeWire answered; bus output on the \
         default sink {linked:?} after the stack was up ({:?} after PipeWire answered)",
        stack_up.duration_since(down),
        pipewire_up.elapsed()
    );
    sb.create_null_sink(PREFERRED).unwrap();
    let back = wait_bus_on(&sb, &d, PREFERRED, Duration::from_secs(1));
    println!("preferred sink created again: output on it after {back:?}");

    // A new app stream on the default sink is routed through the bus again, and its
    // 0 dBFS-peak tone (−3 dBFS RMS) comes out levelled: below the −1 dBTP ceiling and, once
    // the AGC has acted, far quieter than it went in.
    let loud = sine(1000.0, 0.0, 4.0);
    let in_rms = loud.rms_db();
    let wav = write_wav(&sb, "loud.wav", &loud).unwrap();
    let rec = sb.record(PREFERRED, &sb.path("after.wav")).unwrap();
    let mut player = sb
        .play_app_cmd(&wav, &["application.name=after-outage"])
        .spawn()
        .unwrap();
    let t = Instant::now();
    with_log(
        &d,
        wait_for(
            "new stream routed into the bus",
            Duration::from_secs(2),
            || {
                Ok(app_targets(&sb, "after-outage")?
                    .is_some_and(|t| t.iter().any(|t| t == BUS_SINK))
                    .then_some(()))
            },
        ),
    )
    .unwrap();
    println!("new stream routed into the bus after {:?}", t.elapsed());
    assert!(player.wait().unwrap().success(), "pw-play failed");
    let cap = rec.stop().unwrap();
    let (a, b) = cap
        .active_range(1e-3)
        .unwrap_or_else(|| panic!("no audio through the bus after the outage:\n{}", d.log()));
    assert!(b - a > 2 * 48_000, "only {} frames came through", b - a);
    let late = cap.slice(b - 48_000, b);
    let (late_rms, late_peak) = (late.rms_db(), late.peak_db());
    println!(
        "after the outage: in {in_rms:.1} dBFS RMS; out, last second: {late_rms:.1} dBFS RMS, \
         peak {late_peak:.2} dBFS"
    );
    assert!(
        late_peak <= -0.9,
        "output peak {late_peak:.2} dBFS above the ceiling"
    );
    assert!(
        late_rms < in_rms - 6.0,
        "output {late_rms:.1} dBFS RMS not levelled (input {in_rms:.1})"
    );
    assert!(d.is_running(), "headroomd died:\n{}", d.log());
    let log = d.terminate().unwrap();
    assert!(log.contains("connected to PipeWire"), "{log}");
}

/// headroomd started while PipeWire is down (a login where the daemon comes up first): it keeps
/// retrying, and once the stack is up it has its bus on the preferred sink within 2 s.
#[test]
fn started_before_pipewire_comes_up_when_it_does() {
    let mut sb = Sandbox::start().expect("sandbox");
    sb.stop_stack().unwrap();
    let mut d = spawn_daemon(&sb, &["--real-sink", PREFERRED]).unwrap();
    with_log(
        &d,
        wait_for("connection failure noticed", Duration::from_secs(3), || {
            Ok(d.log().contains("cannot connect").then_some(()))
        }),
    )
    .unwrap();
    // Long enough for the reconnect backoff to reach its cap.
    std::thread::sleep(Duration::from_secs(3));
    assert!(
        d.is_running(),
        "headroomd gave up without PipeWire:\n{}",
        d.log()
    );
    let pipewire_up = sb.start_stack().unwrap();
    let stack_up = Instant::now();
    sb.create_null_sink(PREFERRED).unwrap();
    d.wait_ready(&sb, Duration::from_secs(2)).unwrap();
    wait_bus_on(&sb, &d, PREFERRED, Duration::from_secs(2));
    println!(
        "bus on {PREFERRED} {:?} after the stack was up ({:?} after PipeWire answered)",
        stack_up.elapsed(),
        pipewire_up.elapsed()
    );
    assert_plays_only_into(&sb, &d, PREFERRED, DEFAULT_SINK);
}

/// A bypassed app stream plays straight into the real sink, i.e. the preferred one, and follows
/// it like the bus output: to the default sink while it is gone, back when it returns.
#[test]
fn bypassed_streams_follow_the_preferred_sink() {
    let (sb, d) = start_on_preferred();
    headroom(&sb, &["route", "set", "direct-app", "bypass"]);
    let wav = write_wav(&sb, "long.wav", &sine(440.0, -20.0, 10.0)).unwrap();
    let mut player = sb
        .play_app_cmd(&wav, &["application.name=direct-app"])
        .spawn()
        .unwrap();
    let app_only_on = |sink: &str, timeout: Duration| {
        let t = Instant::now();
        with_log(
            &d,
            wait_for(&format!("direct-app on {sink} only"), timeout, || {
                Ok((app_targets(&sb, "direct-app")? == Some(vec![sink.to_string()])).then_some(()))
            }),
        )
        .unwrap();
        t.elapsed()
    };
    app_only_on(PREFERRED, Duration::from_secs(3));
    let level = level_on(&sb, PREFERRED, 0.6);
    assert!(
        level > -30.0,
        "the bypassed stream is not heard on {PREFERRED}: {level:.1} dBFS"
    );

    sb.destroy_node(PREFERRED).unwrap();
    let away = app_only_on(DEFAULT_SINK, Duration::from_secs(1));
    println!("preferred sink removed: bypassed stream on the default sink after {away:?}");
    sb.create_null_sink(PREFERRED).unwrap();
    let back = app_only_on(PREFERRED, Duration::from_secs(1));
    println!("preferred sink back: bypassed stream on it after {back:?}");
    let _ = player.kill();
    let _ = player.wait();
}
