//! Bypass is a true bypass: with a loud app processed and Layer A turning it down, `bypass on`
//! sets the app's master volume back to exactly 1.0 within a tick (the tap stays attached),
//! what reaches the speakers equals what the app plays, `status` reports no gains; `bypass
//! off` brings Layer A's reduction back.

use std::time::Duration;

use headroom_ipc::BypassMode;
use headroom_tests::daemon::Daemon;
use headroom_tests::{sine, wait_for, Sandbox, DEFAULT_SINK};
use headroomd::pw::BUS_SINK_NAME;

use super::client;
use crate::support::*;

#[test]
fn bypass_lifts_layer_a_and_the_chain_and_restores_them() {
    let sb = Sandbox::start().expect("sandbox");
    let mut d = Daemon::start(&sb, &[]).expect("headroomd");
    let mut c = client(&sb);
    // −4 dBFS peak sine = −4 LUFS: 12 LU over the −16 target, Layer A cuts 6 dB.
    let src = sine(1000.0, -4.0, 60.0);
    let wav = sb.path("loud.wav");
    src.write(&wav).unwrap();
    let mut player = play(&sb, &wav, "Spotify").unwrap();
    let id = wait_for("the stream", Duration::from_secs(5), || {
        stream_id(&sb, "Spotify")
    })
    .unwrap();
    wait_for("processed with a tap", Duration::from_secs(5), || {
        Ok((plays_into(&sb, id)? == [BUS_SINK_NAME] && tap_nodes(&sb)? == 1).then_some(()))
    })
    .unwrap();
    let reduced = wait_for("Layer A turns it down", Duration::from_secs(15), || {
        Ok(stream_volume(&sb, id)?.filter(|v| *v < 0.55))
    })
    .unwrap_or_else(|e| panic!("{e:#}\n{}", d.log()));

    assert!(c.bypass_set(BypassMode::On).unwrap());
    // One tick (100 ms) plus PipeWire's round trip; generous for a loaded machine.
    wait_for("unity volume under bypass", Duration::from_secs(2), || {
        Ok(stream_volume(&sb, id)?.filter(|v| (*v - 1.0).abs() < 1e-6))
    })
    .unwrap_or_else(|e| panic!("{e:#} (was {reduced})\n{}", d.log()));
    assert_eq!(tap_nodes(&sb).unwrap(), 1, "the tap stays attached");
    // Mixers show the tap under the app's name.
    let described = objects(&sb, "PipeWire:Interface:Node")
        .unwrap()
        .iter()
        .any(|o| o["info"]["props"]["node.description"] == "Headroom tap: Spotify");
    assert!(described, "no node described as `Headroom tap: Spotify`");

    // What reaches the speakers is what the app plays.
    let rec = sb.record(DEFAULT_SINK, &sb.path("bypassed.wav")).unwrap();
    std::thread::sleep(Duration::from_secs(3)); // the length of the recording, not a wait
    let cap = rec.stop().unwrap();
    let (a, b) = cap
        .active_range(1e-3)
        .unwrap_or_else(|| panic!("nothing reached {DEFAULT_SINK}\n{}", d.log()));
    assert!(b - a > 48_000, "only {} frames recorded", b - a);
    let body = cap.slice(a + 4800, b - 4800);
    let (want, got) = (src.rms_db(), body.rms_db());
    assert!(
        (got - want).abs() <= 0.1,
        "bypassed output {got:.3} dBFS, the app plays {want:.3} dBFS"
    );
    // Still unity after the recording (Layer A's ticks do not undo it).
    assert!((stream_volume(&sb, id).unwrap().unwrap() - 1.0).abs() < 1e-6);

    // status and route list show no gains in force.
    let st = c.status().unwrap();
    assert!(st.bypass && st.meters.bypass);
    assert_eq!(
        (
            st.meters.agc_gain_db,
            st.meters.compressor_gr_db,
            st.meters.limiter_gr_db
        ),
        (0.0, 0.0, 0.0)
    );
    let r = c.route_list().unwrap();
    let s = r.streams.iter().find(|s| s.app == "Spotify").unwrap();
    assert_eq!(s.layer_a_reduction_db, Some(0.0));

    // Off: Layer A's reduction comes back at once (no fresh attack).
    assert!(!c.bypass_set(BypassMode::Off).unwrap());
    let back = wait_for("reduction restored", Duration::from_secs(2), || {
        Ok(stream_volume(&sb, id)?.filter(|v| *v < 0.7))
    })
    .unwrap_or_else(|e| panic!("{e:#}\n{}", d.log()));
    assert!(
        (back - reduced).abs() < 0.05,
        "restored {back:.3}, was {reduced:.3}"
    );
    let _ = player.kill();
    let _ = player.wait();
    d.terminate().unwrap();
}
