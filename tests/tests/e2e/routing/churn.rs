//! Stream churn: 50 short streams start and end within 30 s while routing and Layer A are
//! on. Afterwards no tap or link is left over (node and link counts back to the baseline),
//! the router and the tap registry are empty, and memory is stable.
//!
//! Runs against a real `headroomd` (RSS from `/proc/<pid>/status`) and against headroomd's
//! engine and bus run in this process (`support::backend`; the RSS is then this process's, which
//! holds the bus, the PipeWire thread and the engine).

use std::process::Child;
use std::time::{Duration, Instant};

use crate::support::*;
use headroom_tests::{sine, wait_for, Sandbox};

fn counts(sb: &Sandbox) -> (usize, usize) {
    let dump = sb.dump().unwrap();
    let n = |t: &str| dump.iter().filter(|o| o["type"] == t).count();
    (n("PipeWire:Interface:Node"), n("PipeWire:Interface:Link"))
}

/// Runs the churn.
fn scenario(sb: &Sandbox, b: &mut dyn Backend) {
    let wav = sb.path("blip.wav");
    sine(1000.0, -10.0, 0.4).write(&wav).unwrap();
    let (nodes0, links0) = counts(sb);

    let mut children: Vec<Child> = Vec::new();
    let start = Instant::now();
    let mut rss_warm = None;
    for i in 0..50 {
        // One stream every 0.6 s: 50 streams in 30 s, up to two at once.
        let due = start + Duration::from_millis(600 * i);
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        children.push(play(sb, &wav, &format!("churn-{i}")).unwrap());
        children.retain_mut(|c| !matches!(c.try_wait(), Ok(Some(_))));
        if i == 10 {
            rss_warm = b.rss_kib();
        }
    }
    for mut c in children {
        let _ = c.wait();
    }
    assert!(start.elapsed() < Duration::from_secs(32));

    // Every stream was routed and tapped.
    if let Some((moves, attaches)) = b.commands_sent() {
        assert!(moves >= 50, "only {moves} moves for 50 streams");
        assert!(attaches >= 50, "only {attaches} taps for 50 streams");
    }

    // All gone: no streams in the router, no taps, graph back to the baseline.
    wait_for("graph back to baseline", Duration::from_secs(5), || {
        Ok(
            (counts(sb) == (nodes0, links0) && tap_nodes(sb)? == 0 && b.stream_count() == 0)
                .then_some(()),
        )
    })
    .unwrap_or_else(|e| {
        panic!(
            "{e:#}: nodes/links {:?} vs {:?}, taps {}, streams {}",
            counts(sb),
            (nodes0, links0),
            tap_nodes(sb).unwrap_or(99),
            b.stream_count()
        )
    });
    // Memory is judged where the bus is a process of its own (the daemon): in process, the
    // test binary's RSS also counts the tests running alongside.
    if let (Some(rss_warm), Some(rss_end)) = (rss_warm, b.rss_kib()) {
        eprintln!("RSS after 10 streams {rss_warm} KiB, after 50 {rss_end} KiB");
        assert!(
            rss_end < rss_warm + 2048,
            "memory grew by {} KiB over 40 streams",
            rss_end.saturating_sub(rss_warm)
        );
    }
}

#[test]
fn daemon_fifty_short_streams_leave_no_taps_links_or_memory_behind() {
    let sb = Sandbox::start().expect("sandbox");
    let mut b = DaemonBackend::start(&sb, None).expect("headroomd");
    // The daemon's routing events prove every stream was routed and tapped.
    let sock = sb.control_socket();
    let mut sub = headroom_client::Client::connect_to(&sock)
        .unwrap()
        .subscribe(&[headroom_ipc::Topic::Routing])
        .unwrap();
    sub.set_timeout(Some(std::time::Duration::from_millis(200)))
        .unwrap();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let watcher = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut routed = std::collections::BTreeSet::new();
            let mut tapped = std::collections::BTreeSet::new();
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                match sub.next() {
                    Some(Ok(headroom_ipc::Event::StreamRouted(s))) => {
                        if s.app.starts_with("churn-") && s.route == headroom_ipc::Route::Processed
                        {
                            routed.insert(s.app);
                        }
                    }
                    Some(Ok(headroom_ipc::Event::LayerAAttached(a))) => {
                        if a.app.starts_with("churn-") {
                            tapped.insert(a.app);
                        }
                    }
                    Some(_) => {}
                    None => break,
                }
            }
            (routed.len(), tapped.len())
        })
    };
    scenario(&sb, &mut b);
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let (routed, tapped) = watcher.join().unwrap();
    assert_eq!(routed, 50, "streams routed to the processed sink");
    assert_eq!(tapped, 50, "streams tapped");
    b.daemon.terminate().unwrap();
}

#[test]
fn in_process_fifty_short_streams_leave_no_taps_links_or_memory_behind() {
    let sb = Sandbox::start().expect("sandbox");
    let mut drv = Driver::start(&sb, None).expect("bus");
    scenario(&sb, &mut drv);
    assert_eq!(drv.tap_count(), 0, "tap registry not empty");
    assert!(drv.layer_a().is_empty());
    drv.stop().unwrap();
}
