//! Auto-promote (`route.promote_default`, `--promote-default`) against a running daemon:
//! `headroom-processed` becomes the default sink, a new stream is linked into it from its first
//! sample, a bypassed app plays on the real sink, a default chosen with `wpctl set-default`
//! while promoted becomes the real sink (headroom stays the default), turning it off and
//! SIGTERM give the default back, after `kill -9` WirePlumber falls back by itself and a restart
//! promotes again onto the remembered sink, and the sink's volume (`wpctl set-volume` on
//! `headroom-processed`) scales the output after the chain.

use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use headroom_client::Client;
use headroom_ipc::{Route, Status};
use headroom_tests::daemon::{bus_output_targets, with_log, write_wav, Daemon, BUS_SINK};
use headroom_tests::sandbox::metadata_value_name;
use headroom_tests::{sine, wait_for, Sandbox, DEFAULT_SINK};

use crate::support::*;

/// A sink the user picks while headroom is promoted.
const OTHER: &str = "other-speakers";

fn client(sb: &Sandbox) -> Client {
    Client::connect_to(sb.control_socket()).expect("control socket")
}

fn status(sb: &Sandbox) -> Status {
    client(sb).status().expect("status")
}

/// `default.configured.audio.sink` (the user's choice as WirePlumber stores it).
fn configured_default(sb: &Sandbox) -> Option<String> {
    let out = sb
        .command("pw-metadata")
        .args(["-n", "default", "0", "default.configured.audio.sink"])
        .stderr(Stdio::null())
        .output()
        .expect("pw-metadata");
    metadata_value_name(&String::from_utf8_lossy(&out.stdout))
}

/// `wpctl set-default` on the node called `name`.
fn wpctl_set_default(sb: &Sandbox, name: &str) {
    let id = sb.node_id(name).unwrap().expect("node");
    let st = sb
        .command("wpctl")
        .args(["set-default", &id.to_string()])
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(st.success(), "wpctl set-default {name} failed");
}

/// Waits (generously) until the bus output plays into `sink` only; returns how long it took.
fn wait_output_on(sb: &Sandbox, d: &Daemon, sink: &str) -> Duration {
    let t = Instant::now();
    with_log(
        d,
        wait_for(
            &format!("bus output on {sink}"),
            Duration::from_secs(10),
            || Ok((bus_output_targets(sb)? == Some(vec![sink.to_string()])).then_some(())),
        ),
    )
    .unwrap_or_else(|e| panic!("{e:?}"));
    t.elapsed()
}

/// Waits for `status` to name `sink` as the real sink. The PipeWire thread moves the output
/// first and tells the engine after, so `status` may name the sink before for a moment
/// after the graph shows the move (a loaded machine made it long enough to be seen).
fn wait_status_real_sink(sb: &Sandbox, d: &Daemon, sink: &str) {
    with_log(
        d,
        wait_for(
            &format!("status naming {sink} the real sink"),
            Duration::from_secs(5),
            || Ok((status(sb).real_sink.as_deref() == Some(sink)).then_some(())),
        ),
    )
    .unwrap_or_else(|e| panic!("{e:?}"));
}

fn wait_default(sb: &Sandbox, d: &Daemon, sink: &str) -> Duration {
    let t = Instant::now();
    with_log(d, sb.wait_default_sink(sink, Duration::from_secs(10)))
        .unwrap_or_else(|e| panic!("{e:?}"));
    t.elapsed()
}

/// `pw-dump --monitor` into a file: every object and every change while it runs.
struct GraphLog {
    child: Child,
    path: std::path::PathBuf,
}

impl GraphLog {
    fn start(sb: &Sandbox, name: &str) -> GraphLog {
        let path = sb.path(name);
        let child = sb
            .command("pw-dump")
            .arg("--monitor")
            .stdout(std::fs::File::create(&path).unwrap())
            .stderr(Stdio::null())
            .spawn()
            .expect("pw-dump --monitor");
        // Ready once the initial graph is written.
        wait_for("pw-dump --monitor", Duration::from_secs(5), || {
            let text = std::fs::read_to_string(&path)?;
            Ok(text.contains(BUS_SINK).then_some(()))
        })
        .unwrap();
        GraphLog { child, path }
    }

    /// Stops it and returns every object version it printed.
    fn stop(mut self) -> Vec<serde_json::Value> {
        headroom_tests::sandbox::stop_child(&mut self.child, libc::SIGINT, Duration::from_secs(2))
            .unwrap();
        let text = std::fs::read_to_string(&self.path).unwrap();
        let mut out = Vec::new();
        for v in serde_json::Deserializer::from_str(&text).into_iter::<serde_json::Value>() {
            let Ok(serde_json::Value::Array(items)) = v else {
                break;
            };
            out.extend(items);
        }
        out
    }
}

/// Every node a stream of `app` was ever linked into, by id, in `log` (headroom's Layer A
/// taps, which listen to the stream, excluded).
fn ever_linked_into(log: &[serde_json::Value], app: &str) -> Vec<u64> {
    let taps: Vec<u64> = log
        .iter()
        .filter(|o| {
            o["type"] == "PipeWire:Interface:Node"
                && o["info"]["props"]["node.name"]
                    .as_str()
                    .is_some_and(|n| n.starts_with("headroom-tap-"))
        })
        .filter_map(|o| o["id"].as_u64())
        .collect();
    let streams: Vec<u64> = log
        .iter()
        .filter(|o| {
            o["type"] == "PipeWire:Interface:Node" && o["info"]["props"]["application.name"] == app
        })
        .filter_map(|o| o["id"].as_u64())
        .collect();
    let mut into: Vec<u64> = log
        .iter()
        .filter(|o| {
            o["type"] == "PipeWire:Interface:Link"
                && o["info"]["output-node-id"]
                    .as_u64()
                    .is_some_and(|id| streams.contains(&id))
        })
        .filter_map(|o| o["info"]["input-node-id"].as_u64())
        .filter(|id| !taps.contains(id))
        .collect();
    into.sort_unstable();
    into.dedup();
    into
}

/// `route.promote_default` at runtime, then everything that happens while promoted, then
/// SIGTERM.
#[test]
fn promote_default_makes_headroom_the_default_and_gives_it_back() {
    let sb = Sandbox::start().expect("sandbox");
    let d = Daemon::start(&sb, &[]).expect("headroomd");
    assert!(!status(&sb).promote_default);
    assert_eq!(sb.default_sink().unwrap().as_deref(), Some(DEFAULT_SINK));

    // On at runtime: headroom-processed is the default, the previous default the real sink.
    client(&sb)
        .setting_set("route.promote_default", true)
        .expect("set route.promote_default");
    let took = wait_default(&sb, &d, BUS_SINK);
    println!("route.promote_default on: {BUS_SINK} the default after {took:?}");
    assert_eq!(configured_default(&sb).as_deref(), Some(BUS_SINK));
    wait_status_real_sink(&sb, &d, DEFAULT_SINK);
    assert!(status(&sb).promote_default);
    wait_output_on(&sb, &d, DEFAULT_SINK);
    let listing = sb
        .command(headroom_tests::workspace_bin("headroom").unwrap())
        .args(["route", "list"])
        .output()
        .unwrap();
    let listing = String::from_utf8_lossy(&listing.stdout);
    assert!(
        listing.contains("promoted") && listing.contains(DEFAULT_SINK),
        "route list: {listing}"
    );

    // A new stream is linked into headroom-processed from its first sample: it was never
    // linked anywhere else.
    let bus_id = u64::from(sb.node_id(BUS_SINK).unwrap().unwrap());
    let tone = write_wav(&sb, "tone.wav", &sine(1000.0, -20.0, 1.0)).unwrap();
    let log = GraphLog::start(&sb, "first-sample.json");
    let rec = sb.record(DEFAULT_SINK, &sb.path("first.wav")).unwrap();
    let st = play(&sb, &tone, "promoted-app").unwrap().wait().unwrap();
    assert!(st.success());
    let cap = rec.stop().unwrap();
    let graph = log.stop();
    let into = ever_linked_into(&graph, "promoted-app");
    assert_eq!(
        into,
        vec![bus_id],
        "the new stream was linked into {into:?}, not only into {BUS_SINK} ({bus_id})"
    );
    let active = cap.active_range(1e-3).map_or(0, |(a, b)| b - a);
    assert!(
        active > 24_000,
        "only {active} frames of the processed tone reached {DEFAULT_SINK}"
    );

    // A bypassed app plays on the real sink.
    client(&sb)
        .route_set("bypassed-app", Route::Bypass)
        .unwrap();
    let long = write_wav(&sb, "long.wav", &sine(440.0, -20.0, 20.0)).unwrap();
    let mut player = play(&sb, &long, "bypassed-app").unwrap();
    let id = wait_for("bypassed stream", Duration::from_secs(5), || {
        stream_id(&sb, "bypassed-app")
    })
    .unwrap();
    with_log(
        &d,
        wait_for(
            "bypassed app on the real sink",
            Duration::from_secs(5),
            || Ok((plays_into(&sb, id)? == [DEFAULT_SINK]).then_some(())),
        ),
    )
    .unwrap();

    // The user picks another sink while promoted: the output follows, headroom stays the
    // default, and the bypassed app follows the real sink too.
    sb.create_null_sink(OTHER).unwrap();
    let t = Instant::now();
    wpctl_set_default(&sb, OTHER);
    let followed = wait_output_on(&sb, &d, OTHER);
    println!("wpctl set-default {OTHER}: output on it after {followed:?}");
    wait_default(&sb, &d, BUS_SINK);
    wait_for(
        "headroom configured default again",
        Duration::from_secs(5),
        || Ok((configured_default(&sb).as_deref() == Some(BUS_SINK)).then_some(())),
    )
    .unwrap();
    println!(
        "wpctl set-default {OTHER}: {BUS_SINK} the default again after {:?}",
        t.elapsed()
    );
    wait_status_real_sink(&sb, &d, OTHER);
    with_log(
        &d,
        wait_for(
            "bypassed app on the new real sink",
            Duration::from_secs(5),
            || Ok((plays_into(&sb, id)? == [OTHER]).then_some(())),
        ),
    )
    .unwrap();
    let _ = player.kill();
    let _ = player.wait();
    let persisted = std::fs::read_to_string(
        Path::new(&sb.env()["XDG_STATE_HOME"]).join("headroom/promote.json"),
    )
    .unwrap();
    assert!(persisted.contains(OTHER), "promote.json: {persisted}");

    // Off at runtime: the user's sink is the default again; on again: promoted again.
    client(&sb)
        .setting_set("route.promote_default", false)
        .unwrap();
    wait_default(&sb, &d, OTHER);
    assert_eq!(configured_default(&sb).as_deref(), Some(OTHER));
    assert!(!status(&sb).promote_default);
    client(&sb)
        .setting_set("route.promote_default", true)
        .unwrap();
    wait_default(&sb, &d, BUS_SINK);
    wait_output_on(&sb, &d, OTHER);

    // SIGTERM gives the default back.
    let mut d = d;
    d.terminate().unwrap();
    let took = wait_default(&sb, &d, OTHER);
    println!("SIGTERM: {OTHER} the default again after {took:?}");
    assert_eq!(configured_default(&sb).as_deref(), Some(OTHER));
}

/// `kill -9` while promoted: WirePlumber falls back to a real sink by itself and the stream
/// plays there; the next start promotes again, onto the sink the user had chosen.
#[test]
fn after_kill_9_wireplumber_falls_back_and_a_restart_promotes_again() {
    let sb = Sandbox::start().expect("sandbox");
    let mut d = Daemon::start(&sb, &["--promote-default"]).expect("headroomd");
    wait_default(&sb, &d, BUS_SINK);
    let long = write_wav(&sb, "long.wav", &sine(440.0, -20.0, 60.0)).unwrap();
    let mut player = play(&sb, &long, "steady-app").unwrap();
    let id = wait_for("stream", Duration::from_secs(5), || {
        stream_id(&sb, "steady-app")
    })
    .unwrap();
    with_log(
        &d,
        wait_for("stream in headroom", Duration::from_secs(5), || {
            Ok((plays_into(&sb, id)? == [BUS_SINK]).then_some(()))
        }),
    )
    .unwrap();

    d.kill9();
    let t = Instant::now();
    wait_for("stream on the real sink", Duration::from_secs(10), || {
        Ok((plays_into(&sb, id)? == [DEFAULT_SINK]).then_some(()))
    })
    .unwrap();
    println!(
        "kill -9: the stream plays on {DEFAULT_SINK} after {:?}",
        t.elapsed()
    );
    wait_default(&sb, &d, DEFAULT_SINK);
    // WirePlumber still has headroom-processed configured (it fell back because the node is
    // gone), so only headroom's own record knows the user's sink.
    assert_eq!(configured_default(&sb).as_deref(), Some(BUS_SINK));

    let d = Daemon::start(&sb, &["--promote-default"]).expect("headroomd again");
    let took = wait_default(&sb, &d, BUS_SINK);
    println!("restart: {BUS_SINK} the default again after {took:?}");
    wait_output_on(&sb, &d, DEFAULT_SINK);
    wait_status_real_sink(&sb, &d, DEFAULT_SINK);
    with_log(
        &d,
        wait_for("stream in headroom again", Duration::from_secs(10), || {
            Ok((plays_into(&sb, id)? == [BUS_SINK]).then_some(()))
        }),
    )
    .unwrap();
    let _ = player.kill();
    let _ = player.wait();

    // The user chooses another sink while promoted, then the daemon is killed again: the
    // restarted daemon plays into that sink, whatever WirePlumber fell back to meanwhile.
    sb.create_null_sink(OTHER).unwrap();
    wpctl_set_default(&sb, OTHER);
    wait_output_on(&sb, &d, OTHER);
    wait_default(&sb, &d, BUS_SINK);
    let mut d = d;
    d.kill9();
    wait_for("a real default sink", Duration::from_secs(10), || {
        Ok(sb.default_sink()?.filter(|s| s != BUS_SINK).map(|_| ()))
    })
    .unwrap();
    println!(
        "second kill -9: WirePlumber fell back to {:?}",
        sb.default_sink().unwrap()
    );
    let d = Daemon::start(&sb, &["--promote-default"]).expect("headroomd a third time");
    wait_default(&sb, &d, BUS_SINK);
    wait_output_on(&sb, &d, OTHER);
    wait_status_real_sink(&sb, &d, OTHER);
}

/// `kill -9` while promoted, then a start without promotion: the configured default the
/// killed run left naming `headroom-processed` is given back to the user's sink (else every
/// new stream would follow it into the processed sink while headroom says it is not
/// promoted); and once given back the sink is forgotten, so a later start leaves a default
/// the user picked themselves — `headroom-processed` included — alone.
#[test]
fn a_start_without_promotion_gives_back_the_default_a_killed_run_left() {
    let sb = Sandbox::start().expect("sandbox");
    let mut d = Daemon::start(&sb, &["--promote-default"]).expect("headroomd");
    wait_default(&sb, &d, BUS_SINK);
    d.kill9();
    wait_default(&sb, &d, DEFAULT_SINK);
    assert_eq!(configured_default(&sb).as_deref(), Some(BUS_SINK));

    let mut d = Daemon::start(&sb, &[]).expect("headroomd, not promoting");
    with_log(
        &d,
        wait_for(
            "the configured default given back",
            Duration::from_secs(10),
            || Ok((configured_default(&sb).as_deref() == Some(DEFAULT_SINK)).then_some(())),
        ),
    )
    .unwrap();
    wait_output_on(&sb, &d, DEFAULT_SINK);
    wait_default(&sb, &d, DEFAULT_SINK);
    assert!(!status(&sb).promote_default);

    // The user makes headroom the default themselves; a restart leaves it so.
    wpctl_set_default(&sb, BUS_SINK);
    wait_default(&sb, &d, BUS_SINK);
    d.terminate().unwrap();
    let d = Daemon::start(&sb, &[]).expect("headroomd, a third time");
    // Ready: the output is linked, so the default metadata has been read.
    wait_output_on(&sb, &d, DEFAULT_SINK);
    assert_eq!(configured_default(&sb).as_deref(), Some(BUS_SINK));
}

/// The processed sink's volume (what desktop volume keys change once it is the default)
/// applies after the chain: the captured level drops by the volume set, the chain's input
/// and output loudness (and its target) stay where they were.
#[test]
fn sink_volume_scales_the_output_after_the_chain() {
    let sb = Sandbox::start().expect("sandbox");
    let d = Daemon::start(&sb, &["--promote-default"]).expect("headroomd");
    wait_default(&sb, &d, BUS_SINK);
    let target = f64::from(status(&sb).meters.target_lufs);
    // A steady 1 kHz sine at −20 dBFS peak reads −20 LUFS: the AGC lifts it toward the target.
    let wav = write_wav(&sb, "steady.wav", &sine(1000.0, -20.0, 90.0)).unwrap();
    let mut player = play(&sb, &wav, "steady-app").unwrap();
    let id = wait_for("stream", Duration::from_secs(5), || {
        stream_id(&sb, "steady-app")
    })
    .unwrap();
    wait_for("stream in headroom", Duration::from_secs(5), || {
        Ok((plays_into(&sb, id)? == [BUS_SINK]).then_some(()))
    })
    .unwrap();
    // Settled: the chain's output short-term loudness moved less than 0.3 LU in the last
    // second.
    let settled = |what: &str| {
        let mut last: Option<(Instant, f32)> = None;
        let mut seen = Vec::new();
        with_log(
            &d,
            wait_for(what, Duration::from_secs(40), || {
                let m = status(&sb).meters;
                match last {
                    Some((t, v)) if t.elapsed() >= Duration::from_secs(1) => {
                        seen.push(m.out_short_term_lufs);
                        last = Some((Instant::now(), m.out_short_term_lufs));
                        let stable = (m.out_short_term_lufs - v).abs() < 0.3
                            && m.out_short_term_lufs > -60.0;
                        Ok(stable.then_some(m))
                    }
                    Some(_) => Ok(None),
                    None => {
                        last = Some((Instant::now(), m.out_short_term_lufs));
                        Ok(None)
                    }
                }
            }),
        )
        .unwrap_or_else(|e| panic!("{e:?}\noutput short-term readings: {seen:?}"))
    };
    let before = settled("output settled at the target");
    let level = |name: &str| {
        let rec = sb.record(DEFAULT_SINK, &sb.path(name)).unwrap();
        // The measuring window (not a synchronisation): 2 s of the steady tone.
        std::thread::sleep(Duration::from_secs(2));
        let cap = rec.stop().unwrap();
        let n = cap.frames();
        cap.slice(n / 4, n).rms_db()
    };
    let a = level("before.wav");

    let bus = sb.node_id(BUS_SINK).unwrap().unwrap();
    set_user_volume(&sb, bus, 0.5).unwrap();
    let set = wait_for("the sink volume read back", Duration::from_secs(5), || {
        Ok(user_volume(&sb, bus)?.filter(|v| (v - 0.125).abs() < 1e-3))
    })
    .unwrap();
    let out_id = sb
        .node_id(headroom_tests::daemon::BUS_OUTPUT)
        .unwrap()
        .unwrap();
    with_log(
        &d,
        wait_for(
            "the volume on the output stream",
            Duration::from_secs(5),
            || Ok(user_volume(&sb, out_id)?.filter(|v| (v - set).abs() < 1e-3)),
        ),
    )
    .unwrap();
    // Let the AGC do whatever it would do about it, then measure again.
    std::thread::sleep(Duration::from_secs(4));
    let b = level("after.wav");
    let after = settled("output still at the target");
    let want = 20.0 * set.log10();
    println!(
        "sink volume {set:.3} ({want:.2} dB): captured {a:.2} → {b:.2} dBFS ({:+.2} dB); \
         chain in {:.2} → {:.2} LUFS, out {:.2} → {:.2} LUFS, target {target}",
        b - a,
        before.in_short_term_lufs,
        after.in_short_term_lufs,
        before.out_short_term_lufs,
        after.out_short_term_lufs,
    );
    assert!(
        (b - a - want).abs() < 1.0,
        "the captured level changed by {:+.2} dB, not {want:.2} dB",
        b - a
    );
    assert!(
        (after.in_short_term_lufs - before.in_short_term_lufs).abs() < 1.0,
        "the chain's input changed: the volume applied before the chain"
    );
    assert_eq!(f64::from(after.target_lufs), target);
    let _ = player.kill();
    let _ = player.wait();
}

/// The volume a user set on the processed sink (volume keys once it is the default) is not
/// reset to 100 % by a restart, clean or `kill -9`: the new sink comes back at it (WirePlumber's
/// restore-stream keeps the volume of `Audio/*` nodes without device routes, keyed by
/// `application.name`, and sets it when the node appears) and the daemon applies it after the
/// chain again.
#[test]
fn sink_volume_survives_daemon_restarts() {
    let sb = Sandbox::start().expect("sandbox");
    let out_volume_is = |d: &Daemon, want: f64| {
        let out_id = sb
            .node_id(headroom_tests::daemon::BUS_OUTPUT)
            .unwrap()
            .unwrap();
        with_log(
            d,
            wait_for(
                "the volume on the output stream",
                Duration::from_secs(10),
                || Ok(user_volume(&sb, out_id)?.filter(|v| (v - want).abs() < 1e-3)),
            ),
        )
        .unwrap();
    };
    let sink_volume_is = |d: &Daemon, want: f64| {
        with_log(
            d,
            wait_for("the sink volume", Duration::from_secs(10), || {
                let Some(bus) = sb.node_id(BUS_SINK)? else {
                    return Ok(None);
                };
                Ok(user_volume(&sb, bus)?.filter(|v| (v - want).abs() < 1e-3))
            }),
        )
        .unwrap()
    };
    let mut d = Daemon::start(&sb, &["--promote-default"]).expect("headroomd");
    wait_default(&sb, &d, BUS_SINK);
    let bus = sb.node_id(BUS_SINK).unwrap().unwrap();
    set_user_volume(&sb, bus, 0.5).unwrap();
    let set = sink_volume_is(&d, 0.125);
    out_volume_is(&d, set);
    // A clean stop.
    d.terminate().unwrap();

    let mut d = Daemon::start(&sb, &["--promote-default"]).expect("headroomd again");
    sink_volume_is(&d, set);
    out_volume_is(&d, set);
    // Another volume, then `kill -9`.
    let bus = sb.node_id(BUS_SINK).unwrap().unwrap();
    set_user_volume(&sb, bus, 0.8).unwrap();
    let set = sink_volume_is(&d, 0.512);
    out_volume_is(&d, set);
    d.kill9();
    let d = Daemon::start(&sb, &["--promote-default"]).expect("headroomd a third time");
    sink_volume_is(&d, set);
    out_volume_is(&d, set);
}
