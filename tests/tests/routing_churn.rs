//! Stream churn: 50 short streams start and end within 30 s while routing and Layer A are
//! on. Afterwards no tap or link is left over (node and link counts back to the baseline),
//! the router and the tap registry are empty, and memory is stable.
//!
//! Driven by the in-process bus + routing controller harness (`routing_common`); the RSS
//! measured is this process's, which holds the bus, the PipeWire thread and the controller.

mod routing_common;

use std::process::Child;
use std::time::{Duration, Instant};

use headroom_core::LayerAParams;
use headroom_tests::{sine, wait_for, Sandbox};
use headroomd::routing::RouteConfig;
use routing_common::*;

fn counts(sb: &Sandbox) -> (usize, usize) {
    let dump = sb.dump().unwrap();
    let n = |t: &str| dump.iter().filter(|o| o["type"] == t).count();
    (n("PipeWire:Interface:Node"), n("PipeWire:Interface:Link"))
}

#[test]
fn fifty_short_streams_leave_no_taps_links_or_memory_behind() {
    let sb = Sandbox::start().expect("sandbox");
    let drv = Driver::start(&sb, RouteConfig::default(), LayerAParams::default()).expect("bus");
    let wav = sb.path("blip.wav");
    sine(1000.0, -10.0, 0.4).write(&wav).unwrap();
    let (nodes0, links0) = counts(&sb);

    let mut children: Vec<Child> = Vec::new();
    let start = Instant::now();
    let mut rss_warm = 0;
    for i in 0..50 {
        // One stream every 0.6 s: 50 streams in 30 s, up to two at once.
        let due = start + Duration::from_millis(600 * i);
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        children.push(play(&sb, &wav, &format!("churn-{i}")).unwrap());
        children.retain_mut(|c| !matches!(c.try_wait(), Ok(Some(_))));
        if i == 10 {
            rss_warm = rss_kib().unwrap();
        }
    }
    for mut c in children {
        let _ = c.wait();
    }
    assert!(start.elapsed() < Duration::from_secs(32));

    // Every stream was routed and tapped.
    let (moves, attaches) = drv.counts();
    assert!(moves >= 50, "only {moves} moves for 50 streams");
    assert!(attaches >= 50, "only {attaches} taps for 50 streams");

    // All gone: no streams in the router, no taps, graph back to the baseline.
    wait_for("graph back to baseline", Duration::from_secs(5), || {
        Ok((counts(&sb) == (nodes0, links0)
            && tap_nodes(&sb)? == 0
            && drv.tap_count() == 0
            && drv.routes().is_empty()
            && drv.layer_a().is_empty())
        .then_some(()))
    })
    .unwrap_or_else(|e| {
        panic!(
            "{e:#}: nodes/links {:?} vs {:?}, taps {} (registry {}), routes {:?}",
            counts(&sb),
            (nodes0, links0),
            tap_nodes(&sb).unwrap_or(99),
            drv.tap_count(),
            drv.routes()
        )
    });
    let rss_end = rss_kib().unwrap();
    eprintln!("RSS after 10 streams {rss_warm} KiB, after 50 {rss_end} KiB");
    assert!(
        rss_end < rss_warm + 2048,
        "memory grew by {} KiB over 40 streams",
        rss_end.saturating_sub(rss_warm)
    );
}
