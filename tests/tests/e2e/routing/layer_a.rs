//! Layer A through the bus: a loud app (−8 LUFS) and a quiet app (−30 LUFS) play into the
//! processed sink together, each with a volume the user set in their mixer (`channelVolumes`:
//! the loud one raised to 1.1, the quiet one lowered to 0.7 on wpctl's cubic scale). Layer A
//! judges each app by its own loudness, before the user's volume: while both play, the loud
//! app's master volume goes down and the quiet one's up, so that the two would arrive within
//! 3 LU of each other, and the user's volumes stay on top (they arrive that much further
//! apart); once the quiet app ends, the loud one alone is held only `threshold_lu` over the
//! target; the user's volumes are never touched; turning Layer A off restores the master
//! volume.
//!
//! Expected (default profile: bus target −16 LUFS, threshold 6 LU, max reduction 12 dB, max
//! boost 20 dB, deadband 1.5 LU each way): together the apps aim at one level, the target
//! −16 (within reach: the loud one can go down to −20, the quiet one up to −10): the loud app
//! is turned down 8 − 1.5 = 6.5 dB and the quiet one lifted 14 − 1.5 = 12.5 dB; with the
//! user's volumes (+2.48 and −9.29 dB) they arrive at −12.02 and −26.79 LUFS. Alone, the loud
//! app is 8 LU over the target, 2 LU over the threshold → 2 dB.
//!
//! Runs against a real `headroomd` (default profile; `set layer_a.enabled false` over the
//! control socket) and against headroomd's engine and bus run in this process
//! (`support::backend`).

use std::time::{Duration, Instant};

use crate::support::backend::LayerView;
use crate::support::*;
use headroom_client::proc_stat::ProcStat;
use headroom_core::LayerAParams;
use headroom_tests::{sine, wait_for, Sandbox};
use headroomd::pw::BUS_SINK_NAME;

fn db(v: f64) -> f64 {
    20.0 * v.log10()
}

/// `taps_heard`: whether the backend reports what the taps hear (the daemon's `route.list`
/// carries the reductions only).
fn scenario(sb: &Sandbox, b: &mut dyn Backend, taps_heard: bool) {
    // A stereo 1 kHz sine at P dBFS peak reads P LUFS.
    let loud = sb.path("loud.wav");
    let quiet = sb.path("quiet.wav");
    sine(1000.0, -8.0, 40.0).write(&loud).unwrap();
    sine(1000.0, -30.0, 40.0).write(&quiet).unwrap();
    let mut pl = play(sb, &loud, "loud-app").unwrap();
    let mut pq = play(sb, &quiet, "quiet-app").unwrap();
    let lid = wait_for("loud stream", Duration::from_secs(5), || {
        stream_id(sb, "loud-app")
    })
    .unwrap();
    let qid = wait_for("quiet stream", Duration::from_secs(5), || {
        stream_id(sb, "quiet-app")
    })
    .unwrap();
    wait_for("both processed", Duration::from_secs(3), || {
        Ok(
            (plays_into(sb, lid)? == [BUS_SINK_NAME] && plays_into(sb, qid)? == [BUS_SINK_NAME])
                .then_some(()),
        )
    })
    .unwrap();
    wait_for("taps", Duration::from_secs(3), || {
        Ok((tap_nodes(sb)? == 2).then_some(()))
    })
    .unwrap();
    // The user's own volumes (wpctl's scale is cubic: channelVolumes = v³).
    let (user_l, user_q) = (1.1f64.powi(3), 0.7f64.powi(3));
    set_user_volume(sb, lid, 1.1).unwrap();
    set_user_volume(sb, qid, 0.7).unwrap();
    let user_volumes_kept = |what: &str| {
        let ul = user_volume(sb, lid).unwrap().unwrap_or(0.0);
        let uq = user_volume(sb, qid).unwrap().unwrap_or(0.0);
        assert!(
            (ul - user_l).abs() < 1e-3 && (uq - user_q).abs() < 1e-3,
            "{what}: user volumes {ul:.4} / {uq:.4}, set {user_l:.4} / {user_q:.4}"
        );
    };
    wait_for("user volumes applied", Duration::from_secs(2), || {
        let ul = user_volume(sb, lid)?.unwrap_or(0.0);
        let uq = user_volume(sb, qid)?.unwrap_or(0.0);
        Ok(((ul - user_l).abs() < 1e-3 && (uq - user_q).abs() < 1e-3).then_some(()))
    })
    .unwrap();

    // Together: the loud one down, the quiet one up (attack 6 dB/s; the estimates fill
    // within 3 s). Levelled means held there for a second: the volumes pass through the
    // window on their way (0.6 dB a tick at the attack rate), and the user's volume change
    // just before moves the estimates for a moment (the quiet app's lift went 0.7 dB past
    // its mark once, right after the volumes had first been within it).
    let (want_l, want_q) = (-6.5, 12.5);
    let close = |v: Option<f64>, want: f64, tol: f64| v.is_some_and(|v| (db(v) - want).abs() < tol);
    let mut since: Option<Instant> = None;
    wait_for("both apps levelled", Duration::from_secs(15), || {
        let (vl, vq) = (stream_volume(sb, lid)?, stream_volume(sb, qid)?);
        since = if close(vl, want_l, 0.4) && close(vq, want_q, 0.4) {
            since.or_else(|| Some(Instant::now()))
        } else {
            None
        };
        Ok(since
            .is_some_and(|t| t.elapsed() >= Duration::from_secs(1))
            .then_some(()))
    })
    .unwrap_or_else(|e| {
        panic!(
            "{e:#}\nlayer A: {:?} / {:?}\nvolumes: {:?} / {:?}",
            b.layer_a("loud-app"),
            b.layer_a("quiet-app"),
            stream_volume(sb, lid),
            stream_volume(sb, qid)
        )
    });
    user_volumes_kept("while Layer A holds both");
    let l = b.layer_a("loud-app").expect("loud app state");
    let q = b.layer_a("quiet-app").expect("quiet app state");
    assert!((l.reduction_db + want_l as f32).abs() < 0.5, "{l:?}");
    assert!((q.reduction_db + want_q as f32).abs() < 0.5, "{q:?}");
    if taps_heard {
        // The taps hear both after every volume: within 3 LU of each other (± the settling)
        // but for the user's volumes, which stay on top.
        let users = db(user_l) - db(user_q);
        let (hl, hq) = wait_for("short-term of both taps", Duration::from_secs(4), || {
            let l = b.layer_a("loud-app").and_then(|s| s.short_term_lufs);
            let q = b.layer_a("quiet-app").and_then(|s| s.short_term_lufs);
            Ok(l.zip(q).filter(|(l, q)| (l - q - users).abs() < 3.5))
        })
        .unwrap_or_else(|e| {
            panic!(
                "{e:#}: {:?} / {:?}",
                b.layer_a("loud-app"),
                b.layer_a("quiet-app")
            )
        });
        eprintln!("together: loud app heard at {hl:.2}, quiet app at {hq:.2} LUFS");
    }

    // The quiet app ends: the loud one alone goes back to threshold_lu over the target
    // (release 1.5 dB/s: 4.5 dB in 3 s).
    let _ = pq.kill();
    let _ = pq.wait();
    let want = 2.0;
    let settled = wait_for("loud app alone", Duration::from_secs(10), || {
        let Some(v) = stream_volume(sb, lid)? else {
            return Ok(None);
        };
        Ok(((db(v) + want).abs() < 0.25).then_some(v))
    })
    .unwrap_or_else(|e| {
        panic!(
            "{e:#}\nlayer A state: {:?}\nvolume: {:?}",
            b.layer_a("loud-app"),
            stream_volume(sb, lid)
        )
    });
    eprintln!("loud app alone: volume {:.2} dB", db(settled));
    let l = b.layer_a("loud-app").expect("loud app state");
    assert!((l.reduction_db - want as f32).abs() < 0.3, "{l:?}");
    if taps_heard {
        // The tap hears the stream after both volumes: −8 + 2.48 − 2 = −7.52 LUFS, once its
        // 3-s short-term window has left the release behind.
        let heard_alone = -8.0 + db(user_l) - 2.0;
        wait_for(
            "loud tap short-term at -7.52 LUFS",
            Duration::from_secs(6),
            || {
                let heard = b.layer_a("loud-app").and_then(|s| s.short_term_lufs);
                Ok(heard.filter(|h| (h - heard_alone).abs() < 0.7))
            },
        )
        .unwrap_or_else(|e| panic!("{e:#}: {:?}", b.layer_a("loud-app")));
    }

    // Layer A off: back to unity at once, taps gone.
    b.set_layer_a_enabled(false);
    wait_for("volume restored", Duration::from_secs(1), || {
        let vl = stream_volume(sb, lid)?.unwrap_or(0.0);
        Ok(((vl - 1.0).abs() < 1e-3).then_some(()))
    })
    .unwrap();
    let ul = user_volume(sb, lid).unwrap().unwrap_or(0.0);
    assert!(
        (ul - user_l).abs() < 1e-3,
        "user volume {ul:.4} after Layer A is turned off"
    );
    wait_for("taps removed", Duration::from_secs(2), || {
        Ok((tap_nodes(sb)? == 0).then_some(()))
    })
    .unwrap();
    let _ = pl.kill();
    let _ = pl.wait();
    assert!(b.layer_a("loud-app").is_none());
}

#[test]
fn daemon_apps_playing_together_meet_and_off_restores() {
    let sb = Sandbox::start().expect("sandbox");
    let mut b = DaemonBackend::start(&sb, None).expect("headroomd");
    scenario(&sb, &mut b, false);
    b.daemon.terminate().unwrap();
}

#[test]
fn in_process_apps_playing_together_meet_and_off_restores() {
    let sb = Sandbox::start().expect("sandbox");
    assert_eq!(LayerAParams::default().threshold_lu, 6.0);
    let mut drv = Driver::start(&sb, None).expect("bus");
    scenario(&sb, &mut drv, true);
    drv.stop().unwrap();
}

/// A mono and a six-channel app (a voice call, a 5.1 film) are tapped and judged like a
/// stereo one: the same 1 kHz sine at −8 dBFS on the front pair (mono: on its one channel,
/// which PipeWire plays on both) reads the same loudness at each app's tap, so the three
/// get the same reduction and are heard within 0.5 LU of each other.
#[test]
fn mono_and_six_channel_apps_are_tapped_and_judged_like_stereo() {
    let sb = Sandbox::start().expect("sandbox");
    let mut drv = Driver::start(&sb, None).expect("bus");
    let stereo = sine(1000.0, -8.0, 30.0);
    let with_channels = |channels: usize| {
        let mut w = stereo.clone();
        w.channels = channels;
        w.samples = stereo
            .samples
            .chunks_exact(2)
            .flat_map(|f| (0..channels).map(move |c| if c < 2 { f[c] } else { 0.0 }))
            .collect();
        w
    };
    let apps = [
        ("stereo-app", stereo.clone()),
        ("mono-app", with_channels(1)),
        ("six-app", with_channels(6)),
    ];
    let mut players = Vec::new();
    for (app, w) in &apps {
        let path = sb.path(&format!("{app}.wav"));
        w.write(&path).unwrap();
        players.push(play(&sb, &path, app).unwrap());
    }
    wait_for("three taps", Duration::from_secs(5), || {
        Ok((tap_nodes(&sb)? == 3).then_some(()))
    })
    .unwrap();
    let views = wait_for("the three agree", Duration::from_secs(20), || {
        let v: Vec<LayerView> = apps
            .iter()
            .filter_map(|(app, _)| Backend::layer_a(&mut drv, app))
            .collect();
        let heard: Vec<f64> = v.iter().filter_map(|s| s.short_term_lufs).collect();
        if v.len() < 3 || heard.len() < 3 {
            return Ok(None);
        }
        let spread = |xs: &[f64]| {
            xs.iter().cloned().fold(f64::MIN, f64::max)
                - xs.iter().cloned().fold(f64::MAX, f64::min)
        };
        let red: Vec<f64> = v.iter().map(|s| f64::from(s.reduction_db)).collect();
        // Reductions under way (over 1 dB) and the three together.
        Ok(
            (red.iter().all(|r| *r > 1.0) && spread(&red) < 0.5 && spread(&heard) < 0.5)
                .then_some(v),
        )
    })
    .unwrap_or_else(|e| {
        let v: Vec<_> = apps
            .iter()
            .map(|(app, _)| (app, Backend::layer_a(&mut drv, app)))
            .collect();
        panic!("{e:#}: {v:?}")
    });
    eprintln!("stereo / mono / six-channel apps: {views:?}");
    for mut p in players {
        let _ = p.kill();
        let _ = p.wait();
    }
    drv.stop().unwrap();
}

/// A loud (−8 LUFS) and a quiet (−30 LUFS) app playing into the bus, once Layer A has lifted
/// the quiet one by more than 6 dB: the two players and the streams' ids (loud, quiet).
fn quiet_app_lifted(sb: &Sandbox) -> ([std::process::Child; 2], u32, u32) {
    let loud = sb.path("loud.wav");
    let quiet = sb.path("quiet.wav");
    sine(1000.0, -8.0, 30.0).write(&loud).unwrap();
    sine(1000.0, -30.0, 30.0).write(&quiet).unwrap();
    let players = [
        play(sb, &loud, "loud-app").unwrap(),
        play(sb, &quiet, "quiet-app").unwrap(),
    ];
    let (lid, qid) = wait_for("both streams", Duration::from_secs(5), || {
        Ok(stream_id(sb, "loud-app")?.zip(stream_id(sb, "quiet-app")?))
    })
    .unwrap();
    wait_for("the quiet app lifted", Duration::from_secs(15), || {
        Ok(stream_volume(sb, qid)?.filter(|&v| db(v) > 6.0).map(|_| ()))
    })
    .unwrap();
    (players, lid, qid)
}

/// headroomd started in a terminal that is then closed gets SIGHUP: it stops as on SIGTERM
/// and gives the streams their volume back (killed by SIGHUP's default action, it left a
/// quiet app lifted 12.5 dB for as long as the app played on).
#[test]
fn sighup_stops_cleanly_and_gives_the_streams_their_volume_back() {
    let sb = Sandbox::start().expect("sandbox");
    let mut b = DaemonBackend::start(&sb, None).expect("headroomd");
    let (mut players, _, qid) = quiet_app_lifted(&sb);
    let log = b.daemon.stop_with(libc::SIGHUP).unwrap();
    assert!(log.contains("SIGHUP"), "no SIGHUP log line:\n{log}");
    // A clean stop puts the volumes back itself: its guard leaves with it, doing nothing.
    assert!(
        headroom_tests::daemon::sandbox_pids(&sb, "headroom-guard").is_empty(),
        "a guard outlived a clean stop"
    );
    assert!(!log.contains("headroom-guard:"), "{log}");
    wait_for(
        "the quiet app's volume back",
        Duration::from_secs(5),
        || {
            Ok(stream_volume(&sb, qid)?
                .filter(|&v| (v - 1.0).abs() < 1e-4)
                .map(|_| ()))
        },
    )
    .unwrap_or_else(|e| panic!("{e:#}: volume {:?}", stream_volume(&sb, qid)));
    for p in &mut players {
        let _ = p.kill();
        let _ = p.wait();
    }
}

/// headroomd killed with SIGKILL (or crashed) cannot give the streams their volume back
/// itself: its guard does (`headroom-guard`, forked at start) and then exits. A quiet app
/// lifted 12.5 dB used to stay lifted for as long as it played on.
#[test]
fn after_sigkill_the_guard_gives_the_streams_their_volume_back() {
    let sb = Sandbox::start().expect("sandbox");
    let mut b = DaemonBackend::start(&sb, None).expect("headroomd");
    let guards = || headroom_tests::daemon::sandbox_pids(&sb, "headroom-guard");
    assert_eq!(guards().len(), 1, "one guard while headroomd runs");
    let (mut players, lid, qid) = quiet_app_lifted(&sb);
    b.daemon.kill9();
    let at_one = |id: u32| -> anyhow::Result<bool> {
        Ok(stream_volume(&sb, id)?.is_some_and(|v| (v - 1.0).abs() < 1e-4))
    };
    wait_for("both volumes back at 1", Duration::from_secs(5), || {
        Ok((at_one(qid)? && at_one(lid)?).then_some(()))
    })
    .unwrap_or_else(|e| {
        panic!(
            "{e:#}: volumes {:?} / {:?}\n{}",
            stream_volume(&sb, lid),
            stream_volume(&sb, qid),
            b.daemon.log()
        )
    });
    wait_for("the guard gone", Duration::from_secs(5), || {
        Ok(guards().is_empty().then_some(()))
    })
    .unwrap();
    assert!(
        b.daemon.log().contains("headroom-guard: headroomd ended"),
        "{}",
        b.daemon.log()
    );
    for p in &mut players {
        let _ = p.kill();
        let _ = p.wait();
    }
}

/// `/proc/PID/stat`'s state letter of process `pid` (`T`: stopped by a signal).
fn proc_state(pid: u32) -> Option<char> {
    ProcStat::read(pid).map(|s| s.state)
}

/// `/proc/PID/stat`'s process group of process `pid`.
fn proc_group(pid: u32) -> Option<i32> {
    ProcStat::read(pid).map(|s| s.pgrp)
}

/// A stopped headroomd keeps its nodes in the graph, so nothing moves the streams routed
/// through it, and they were silent until it ran again. Ctrl-Z (SIGTSTP) no longer stops it
/// (logged and ignored), and a SIGSTOP, which cannot be ignored, is undone by its guard
/// while a stream plays through the sink: the audio callbacks run again.
#[test]
fn ctrl_z_does_not_stop_headroomd_and_its_guard_resumes_it_from_sigstop() {
    let sb = Sandbox::start().expect("sandbox");
    let mut b = DaemonBackend::start(&sb, None).expect("headroomd");
    let wav = sb.path("app.wav");
    sine(440.0, -20.0, 60.0).write(&wav).unwrap();
    let mut player = play(&sb, &wav, "stopped-test-app").unwrap();
    wait_for(
        "the app playing through the bus",
        Duration::from_secs(10),
        || {
            let Some(id) = stream_id(&sb, "stopped-test-app")? else {
                return Ok(None);
            };
            Ok(plays_into(&sb, id)?
                .iter()
                .any(|n| n == BUS_SINK_NAME)
                .then_some(()))
        },
    )
    .unwrap();
    let pid = b.daemon.pid().expect("pid");
    // The guard has a process group of its own: a stop sent to headroomd's group (a shell's
    // `kill -STOP %1`) stopped both, and nothing resumed them.
    let guards = headroom_tests::daemon::sandbox_pids(&sb, "headroom-guard");
    assert_eq!(guards.len(), 1, "{guards:?}");
    let guard_group = proc_group(guards[0] as u32);
    assert!(guard_group.is_some(), "no group for the guard");
    assert_ne!(
        guard_group,
        proc_group(pid),
        "the guard shares headroomd's group"
    );
    let calls = || -> anyhow::Result<u64> {
        Ok(headroom_client::Client::connect_to(sb.control_socket())?
            .status()?
            .dsp
            .call_count)
    };
    let running_again = |what: &str| {
        let before = calls().unwrap_or_else(|e| panic!("{what}: status: {e:#}"));
        wait_for(what, Duration::from_secs(10), || {
            Ok((calls()? > before).then_some(()))
        })
        .unwrap_or_else(|e| panic!("{e:#}\n{}", b.daemon.log()));
    };

    let logged = |what: &str, line: &str| {
        wait_for(what, Duration::from_secs(10), || {
            Ok(b.daemon.log().contains(line).then_some(()))
        })
        .unwrap_or_else(|e| panic!("{e:#}: state {:?}\n{}", proc_state(pid), b.daemon.log()));
    };

    // SAFETY: kill(2) with a live child's pid and a valid signal number.
    assert_eq!(unsafe { libc::kill(pid as i32, libc::SIGTSTP) }, 0);
    logged("the SIGTSTP logged", "SIGTSTP (Ctrl-Z) ignored");
    assert_ne!(proc_state(pid), Some('T'), "stopped by SIGTSTP");
    running_again("audio callbacks after Ctrl-Z");

    // SAFETY: as above.
    assert_eq!(unsafe { libc::kill(pid as i32, libc::SIGSTOP) }, 0);
    logged(
        "the guard's resume",
        "headroom-guard: headroomd was stopped (SIGSTOP)",
    );
    running_again("audio callbacks after the resume");
    assert!(b.daemon.is_running(), "{}", b.daemon.log());
    let _ = player.kill();
    let _ = player.wait();
    let log = b.daemon.terminate().unwrap();
    assert!(!log.contains("cannot be resumed"), "{log}");
}

/// The loud app stops and the quiet one plays on alone: the lift Layer A gave it beside the
/// loud one is kept (the bus AGC levels it either way). Let go at the release rate (1.5
/// dB/s), it was a fall the AGC could only chase: the quiet app came out 3–4 LU under the
/// target for ≈ 12 s.
#[test]
fn the_quiet_app_keeps_its_lift_when_the_loud_one_stops() {
    let sb = Sandbox::start().expect("sandbox");
    let mut b = DaemonBackend::start(&sb, None).expect("headroomd");
    let ([mut pl, mut pq], _, qid) = quiet_app_lifted(&sb);
    // Let the lift settle (attack 6 dB/s toward 12.5 dB).
    let lifted = wait_for("the lift settled", Duration::from_secs(10), || {
        Ok(stream_volume(&sb, qid)?
            .map(db)
            .filter(|&v| (v - 12.5).abs() < 0.15))
    })
    .unwrap();
    let _ = pl.kill();
    let _ = pl.wait();
    wait_for("the loud stream gone", Duration::from_secs(5), || {
        Ok(stream_id(&sb, "loud-app")?.is_none().then_some(()))
    })
    .unwrap();
    // 5 s alone: at the release rate the lift would have lost 7.5 dB.
    let until = std::time::Instant::now() + Duration::from_secs(5);
    while std::time::Instant::now() < until {
        let v = stream_volume(&sb, qid).unwrap().map(db).unwrap_or(0.0);
        assert!(
            (v - lifted).abs() < 0.3,
            "lift {lifted:.2} dB → {v:.2} dB alone; layer A: {:?}",
            b.layer_a("quiet-app")
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let _ = pq.kill();
    let _ = pq.wait();
    b.daemon.terminate().unwrap();
}
