//! Layer A through the bus: a loud app (−8 LUFS) and a quiet app (−30 LUFS) play into the
//! processed sink, each with a volume the user set in their mixer (`channelVolumes`: the loud
//! one raised to 1.1, the quiet one lowered to 0.7 on wpctl's cubic scale). The loud app's
//! master volume goes down by the expected amount, the quiet one stays at unity, and the
//! user's volumes are never touched; turning Layer A off restores both master volumes.
//!
//! Expected: bus target −16 LUFS (AGC default), threshold 6 LU → the loud app, at
//! −8 + 2.48 dB (user volume) LUFS, is 10.48 LU over the target, 4.48 LU over the threshold →
//! 4.48 dB reduction.
//!
//! Runs against a real `headroomd` (default profile; `set layer_a.enabled false` over the
//! control socket) and against headroomd's engine and bus run in this process
//! (`support::backend`).

use std::time::Duration;

use crate::support::*;
use headroom_core::LayerAParams;
use headroom_tests::{sine, wait_for, Sandbox};
use headroomd::pw::BUS_SINK_NAME;

fn db(v: f64) -> f64 {
    20.0 * v.log10()
}

fn scenario(sb: &Sandbox, b: &mut dyn Backend) {
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

    // The reduction settles (attack 6 dB/s; the estimate fills within 3 s).
    let want = 2.0 + db(user_l);
    let settled = wait_for("loud app reduced", Duration::from_secs(12), || {
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
    eprintln!("loud app volume {:.2} dB", db(settled));
    // And stays there, with the quiet app untouched, for 3 s.
    for _ in 0..15 {
        let vl = stream_volume(sb, lid).unwrap().unwrap();
        assert!(
            (db(vl) + want).abs() < 0.3,
            "loud app drifted to {:.2} dB",
            db(vl)
        );
        let vq = stream_volume(sb, qid).unwrap().unwrap_or(1.0);
        assert!((vq - 1.0).abs() < 1e-3, "quiet app volume {vq}");
        user_volumes_kept("while Layer A holds the reduction");
        std::thread::sleep(Duration::from_millis(200));
    }
    let l = b.layer_a("loud-app").expect("loud app state");
    let q = b.layer_a("quiet-app").expect("quiet app state");
    assert!((l.reduction_db - want as f32).abs() < 0.3, "{l:?}");
    assert_eq!(q.reduction_db, 0.0);
    if let Some(heard) = l.short_term_lufs {
        // The tap hears the stream after both volumes: −8 + 2.48 − 4.48 = −10 LUFS.
        assert!((heard + 10.0).abs() < 0.5, "loud tap reads {heard:.2} LUFS");
    }
    if let Some(qheard) = q.short_term_lufs {
        let expect = -30.0 + db(user_q);
        assert!(
            (qheard - expect).abs() < 0.5,
            "quiet tap reads {qheard:.2} LUFS, expected {expect:.2}"
        );
    }

    // Layer A off: both back to unity at once, taps gone.
    b.set_layer_a_enabled(false);
    wait_for("volumes restored", Duration::from_secs(1), || {
        let vl = stream_volume(sb, lid)?.unwrap_or(0.0);
        let vq = stream_volume(sb, qid)?.unwrap_or(0.0);
        Ok(((vl - 1.0).abs() < 1e-3 && (vq - 1.0).abs() < 1e-3).then_some(()))
    })
    .unwrap();
    user_volumes_kept("after Layer A is turned off");
    wait_for("taps removed", Duration::from_secs(2), || {
        Ok((tap_nodes(sb)? == 0).then_some(()))
    })
    .unwrap();
    let _ = pl.kill();
    let _ = pq.kill();
    let _ = pl.wait();
    let _ = pq.wait();
    assert!(b.layer_a("loud-app").is_none());
}

#[test]
fn daemon_loud_app_is_turned_down_quiet_app_untouched_and_off_restores() {
    let sb = Sandbox::start().expect("sandbox");
    let mut b = DaemonBackend::start(&sb, None).expect("headroomd");
    scenario(&sb, &mut b);
    b.daemon.terminate().unwrap();
}

#[test]
fn in_process_loud_app_is_turned_down_quiet_app_untouched_and_off_restores() {
    let sb = Sandbox::start().expect("sandbox");
    assert_eq!(LayerAParams::default().threshold_lu, 6.0);
    let mut drv = Driver::start(&sb, None).expect("bus");
    scenario(&sb, &mut drv);
    drv.stop().unwrap();
}
