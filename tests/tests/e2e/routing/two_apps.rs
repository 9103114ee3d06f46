//! Two apps play at once; a profile rule sends one through the processed sink and the other
//! straight to the real sink. The processed one comes out levelled, the bypassed one
//! unchanged — also after someone makes `headroom-processed` the default sink (the bypass
//! target is the real sink by name, not "the default").
//!
//! Runs against a real `headroomd` (control socket) and against headroomd's engine and bus run
//! in this process (`support::backend`).

use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::support::*;
use headroom_tests::{sine, wait_for, Sandbox, DEFAULT_SINK};
use headroomd::pw::BUS_SINK_NAME;
use headroomd::routing::Route;

const PROFILE: &str = r#"
description = "routing test: everything levelled except plain-*"
[layer_a]
enabled = false
[route]
default = "processed"
[[route.rules]]
match = { app = "plain-*" }
route = "bypass"
"#;

fn scenario(sb: &Sandbox, b: &mut dyn Backend) {
    // Two quiet tones (−30 dBFS peak) at different frequencies, so the mix on the real sink
    // can be taken apart.
    let (f_proc, f_byp) = (1000.0, 440.0);
    let level_db = -30.0;
    let amp = 10f64.powf(level_db / 20.0);
    let wav_p = sb.path("p.wav");
    let wav_b = sb.path("b.wav");
    sine(f_proc, level_db, 14.0).write(&wav_p).unwrap();
    sine(f_byp, level_db, 14.0).write(&wav_b).unwrap();

    let rec = sb.record(DEFAULT_SINK, &sb.path("out.wav")).unwrap();
    let mut p = play(sb, &wav_p, "levelled-app").unwrap();
    let mut q = play(sb, &wav_b, "plain-app").unwrap();

    let pid = wait_for("processed app stream", Duration::from_secs(5), || {
        stream_id(sb, "levelled-app")
    })
    .unwrap();
    let bid = wait_for("bypassed app stream", Duration::from_secs(5), || {
        stream_id(sb, "plain-app")
    })
    .unwrap();
    wait_for("streams routed", Duration::from_secs(3), || {
        Ok(
            (plays_into(sb, pid)? == [BUS_SINK_NAME] && plays_into(sb, bid)? == [DEFAULT_SINK])
                .then_some(()),
        )
    })
    .unwrap();

    // The routing side agrees.
    let sp = wait_for("route state", Duration::from_secs(2), || {
        Ok(b.stream("levelled-app").filter(|s| s.linked_to.is_some()))
    })
    .unwrap();
    assert_eq!(sp.route, Some(Route::Processed));
    assert_eq!(sp.rule, None, "the default route applies");
    assert_eq!(sp.linked_to.as_deref(), Some(BUS_SINK_NAME));
    let sb_ = b.stream("plain-app").unwrap();
    assert_eq!(sb_.route, Some(Route::Bypass));
    assert_eq!(sb_.rule.as_deref(), Some("app=plain-*"));
    assert_eq!(sb_.linked_to.as_deref(), Some(DEFAULT_SINK));

    // Someone makes headroom-processed the default sink: the bypass holds.
    let bus_id = sb.node_id(BUS_SINK_NAME).unwrap().unwrap();
    let st = sb
        .command("wpctl")
        .args(["set-default", &bus_id.to_string()])
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(st.success());
    sb.wait_default_sink(BUS_SINK_NAME, Duration::from_secs(3))
        .unwrap();
    let until = Instant::now() + Duration::from_secs(2);
    while Instant::now() < until {
        assert_eq!(plays_into(sb, bid).unwrap(), [DEFAULT_SINK], "bypass lost");
        assert_eq!(plays_into(sb, pid).unwrap(), [BUS_SINK_NAME]);
        std::thread::sleep(Duration::from_millis(200));
    }
    // Back to normal. (WirePlumber moves the capture stream along with the default sink;
    // wait until it records the real sink again before judging levels.)
    let real_id = sb.node_id(DEFAULT_SINK).unwrap().unwrap();
    let st = sb
        .command("wpctl")
        .args(["set-default", &real_id.to_string()])
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(st.success());
    sb.wait_default_sink(DEFAULT_SINK, Duration::from_secs(3))
        .unwrap();
    wait_for(
        "recorder back on the real sink",
        Duration::from_secs(3),
        || {
            let Some(rec_id) = sb.node_id("hr-test-recorder")? else {
                return Ok(None);
            };
            let links = objects(sb, "PipeWire:Interface:Link")?;
            Ok(links
                .iter()
                .any(|l| {
                    l["info"]["input-node-id"].as_u64() == Some(u64::from(rec_id))
                        && l["info"]["output-node-id"].as_u64() == Some(u64::from(real_id))
                })
                .then_some(()))
        },
    )
    .unwrap();

    let _ = p.wait();
    let _ = q.wait();
    let cap = rec.stop().unwrap();

    let (start, end) = cap.active_range(1e-4).expect("capture is silent");
    let secs = |f: usize| f as f64 / f64::from(cap.rate);
    // Judge the last 4 s before the tones end (the AGC has had ≥ 8 s to rise).
    let (from, to) = (secs(end) - 4.5, secs(end) - 0.5);
    assert!(to - from > 3.0 && from > secs(start));
    // Per 100 ms block, then the median: a cycle the graph misses on a loaded machine shifts
    // the tone's phase, which a coherent measurement over the whole window would read as a
    // large drop in level; it spoils one block here.
    let median_db = |freq: f64| {
        let mut v: Vec<f64> = (0..((to - from) * 10.0) as usize)
            .map(|i| {
                let t = from + i as f64 * 0.1;
                20.0 * (tone_amplitude(&cap, freq, t, t + 0.1) / amp)
                    .max(1e-9)
                    .log10()
            })
            .collect();
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let byp_db = median_db(f_byp);
    let proc_db = median_db(f_proc);
    eprintln!("bypassed tone {byp_db:+.2} dB, processed tone {proc_db:+.2} dB vs. source");
    assert!(
        byp_db.abs() < 0.3,
        "the bypassed app changed level by {byp_db:+.2} dB"
    );
    // −30 LUFS toward the −16 LUFS AGC target: clearly boosted.
    assert!(
        proc_db > 6.0,
        "the processed app was not levelled up: {proc_db:+.2} dB"
    );
}

#[test]
fn daemon_rule_sends_one_app_through_the_chain_and_bypasses_the_other() {
    let sb = Sandbox::start().expect("sandbox");
    let mut b = DaemonBackend::start(&sb, Some(PROFILE)).expect("headroomd");
    scenario(&sb, &mut b);
    b.daemon.terminate().unwrap();
}

#[test]
fn in_process_rule_sends_one_app_through_the_chain_and_bypasses_the_other() {
    let sb = Sandbox::start().expect("sandbox");
    let mut drv = Driver::start(&sb, Some(PROFILE)).expect("bus");
    scenario(&sb, &mut drv);
    drv.stop().unwrap();
}
