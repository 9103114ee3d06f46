//! Two apps play at once; a rule sends one through the processed sink and the other straight
//! to the real sink. The processed one comes out levelled, the bypassed one unchanged.
//!
//! Driven by the in-process bus + routing controller harness (`routing_common`).

mod routing_common;

use std::time::Duration;

use headroom_core::profile::{Glob, MatchKey};
use headroom_core::LayerAParams;
use headroom_tests::{sine, wait_for, Sandbox, DEFAULT_SINK};
use headroomd::pw::BUS_SINK_NAME;
use headroomd::routing::{Route, RouteConfig, RouteRule, RuleSource};
use routing_common::*;

#[test]
fn rule_sends_one_app_through_the_chain_and_bypasses_the_other() {
    let sb = Sandbox::start().expect("sandbox");
    // Block-list: everything processed except `plain-app`.
    let profile = RouteConfig {
        default: Route::Processed,
        rules: vec![RouteRule {
            matches: [(MatchKey::App, Glob::new("plain-*").unwrap())].into(),
            route: Route::Bypass,
        }],
    };
    let layer_a = LayerAParams {
        enabled: false,
        ..LayerAParams::default()
    };
    let mut drv = Driver::start(&sb, profile, layer_a).expect("bus");

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
    let mut p = play(&sb, &wav_p, "levelled-app").unwrap();
    let mut b = play(&sb, &wav_b, "plain-app").unwrap();

    let pid = wait_for("processed app stream", Duration::from_secs(5), || {
        stream_id(&sb, "levelled-app")
    })
    .unwrap();
    let bid = wait_for("bypassed app stream", Duration::from_secs(5), || {
        stream_id(&sb, "plain-app")
    })
    .unwrap();
    wait_for("streams routed", Duration::from_secs(3), || {
        Ok(
            (plays_into(&sb, pid)? == [BUS_SINK_NAME] && plays_into(&sb, bid)? == [DEFAULT_SINK])
                .then_some(()),
        )
    })
    .unwrap();

    // The router's view agrees.
    let rp = wait_for("route state", Duration::from_secs(2), || {
        Ok(drv.route_of("levelled-app"))
    })
    .unwrap();
    assert_eq!(rp.route, Some(Route::Processed));
    assert_eq!(rp.matched.unwrap().source, RuleSource::Default);
    let rb = drv.route_of("plain-app").unwrap();
    assert_eq!(rb.route, Some(Route::Bypass));
    let m = rb.matched.unwrap();
    assert_eq!(m.source, RuleSource::Profile);
    assert_eq!(m.description, "app=plain-*");
    assert_eq!(rb.target.as_deref(), Some(DEFAULT_SINK));

    let _ = p.wait();
    let _ = b.wait();
    let cap = rec.stop().unwrap();
    drv.stop().unwrap();

    let (start, end) = cap.active_range(1e-4).expect("capture is silent");
    let secs = |f: usize| f as f64 / f64::from(cap.rate);
    // Judge the last 4 s before the tones end (the AGC has had ≥ 8 s to rise at 3 dB/s).
    let (from, to) = (secs(end) - 4.5, secs(end) - 0.5);
    assert!(to - from > 3.0 && from > secs(start));
    let a_byp = tone_amplitude(&cap, f_byp, from, to);
    let a_proc = tone_amplitude(&cap, f_proc, from, to);
    let byp_db = 20.0 * (a_byp / amp).log10();
    let proc_db = 20.0 * (a_proc / amp).log10();
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
