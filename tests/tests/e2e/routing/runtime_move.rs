//! A playing stream is moved processed → bypass → processed by changing rules at runtime; the
//! links change (typically within 500 ms; the time is printed, the test allows 10 s for a
//! loaded machine) and stay for 5 s, and captures of both sinks taken during each phase show
//! the audio where the links say.
//!
//! Runs against a real `headroomd` (`route set` over the control socket) and against
//! headroomd's engine and bus run in this process (`support::backend`), Layer A on (the stream is
//! tapped while processed).

use std::time::{Duration, Instant};

use crate::support::*;
use headroom_tests::{sine, wait_for, Sandbox, Wav, DEFAULT_SINK};
use headroomd::pw::BUS_SINK_NAME;
use headroomd::routing::Route;

/// Amplitudes of `freq` in 100 ms blocks between `from` and `to` s, dB re `amp`.
fn tone_blocks(w: &Wav, freq: f64, amp: f64, from: f64, to: f64) -> Vec<f64> {
    let mut out = Vec::new();
    let mut t = from;
    while t + 0.1 <= to + 1e-9 {
        out.push(
            20.0 * (tone_amplitude(w, freq, t, t + 0.1) / amp)
                .max(1e-9)
                .log10(),
        );
        t += 0.1;
    }
    out
}

fn scenario(sb: &Sandbox, b: &mut dyn Backend) {
    let freq = 1000.0;
    let level_db = -20.0;
    let amp = 10f64.powf(level_db / 20.0);
    let wav = sb.path("tone.wav");
    sine(freq, level_db, 30.0).write(&wav).unwrap();

    let mut player = play(sb, &wav, "mover").unwrap();
    let id = wait_for("stream", Duration::from_secs(5), || stream_id(sb, "mover")).unwrap();
    wait_for("stream processed", Duration::from_secs(3), || {
        Ok((plays_into(sb, id)? == [BUS_SINK_NAME]).then_some(()))
    })
    .unwrap();

    for (n, route) in [
        Route::Bypass,
        Route::Processed,
        Route::Bypass,
        Route::Processed,
    ]
    .into_iter()
    .enumerate()
    {
        let expect = match route {
            Route::Processed => BUS_SINK_NAME,
            Route::Bypass => DEFAULT_SINK,
        };
        let changed = Instant::now();
        b.set_rule("mover", route);
        wait_for(
            &format!("stream in {expect}"),
            Duration::from_secs(10),
            || Ok((plays_into(sb, id)? == [expect]).then_some(())),
        )
        .unwrap_or_else(|e| panic!("not moved within 10 s: {e:#}"));
        let moved = Instant::now();
        eprintln!("{route}: moved in {:?}", moved - changed);
        // Capture both sinks for the rest of the phase: the processed sink's input (its
        // monitor: what enters the chain) and the real sink (bus output + bypassed streams).
        let rec_bus = sb
            .record(BUS_SINK_NAME, &sb.path(&format!("bus{n}.wav")))
            .unwrap();
        let rec_real = sb
            .record(DEFAULT_SINK, &sb.path(&format!("real{n}.wav")))
            .unwrap();
        // Stay there: the links must not change for 5 s.
        let until = moved + Duration::from_secs(5);
        while Instant::now() < until {
            assert_eq!(plays_into(sb, id).unwrap(), [expect], "the move was undone");
            std::thread::sleep(Duration::from_millis(200));
        }
        let bus = rec_bus.stop().unwrap();
        let real = rec_real.stop().unwrap();
        // The routing side agrees (it learns of the new links from PipeWire's events, which
        // may trail the graph dump on a loaded machine: poll).
        let agreed = wait_for("the routing side agrees", Duration::from_secs(10), || {
            let r = b.stream("mover");
            Ok(r.filter(|r| {
                r.route == Some(route)
                    && r.linked_to.as_deref() == Some(expect)
                    && r.rule.as_deref() == Some("app=mover")
            }))
        });
        assert!(agreed.is_ok(), "routing side: {:?}", b.stream("mover"));
        // Taps follow the route (Layer A on): only a processed stream is tapped.
        let tapped = wait_for("taps follow the route", Duration::from_secs(10), || {
            let want = usize::from(route == Route::Processed);
            Ok((tap_nodes(sb)? == want
                && b.layer_a("mover").is_some() == (route == Route::Processed))
                .then_some(()))
        });
        assert!(
            tapped.is_ok(),
            "{} tap nodes, Layer A {:?} in the {route} phase",
            tap_nodes(sb).unwrap_or(usize::MAX),
            b.layer_a("mover").map(|l| l.reduction_db)
        );

        // The audio is where the links say, for the whole captured span.
        let span = |w: &Wav| w.frames() as f64 / f64::from(w.rate);
        let on_bus = tone_blocks(&bus, freq, amp, 0.1, span(&bus) - 0.2);
        let on_real = tone_blocks(&real, freq, amp, 0.1, span(&real) - 0.2);
        assert!(
            on_bus.len() >= 20 && on_real.len() >= 20,
            "captures too short: {} / {} blocks",
            on_bus.len(),
            on_real.len()
        );
        // Where the tone must be, it is at its level in the median block and in half the
        // blocks, none is louder, and it is never gone for three blocks in a row: a graph
        // that misses cycles on a loaded machine drops part of a block (rarely a whole one,
        // never raises one). Where it must not be, no block carries it.
        let at_level = |blocks: &[f64], what: &str| {
            let mut sorted = blocks.to_vec();
            sorted.sort_by(f64::total_cmp);
            let median = sorted[sorted.len() / 2];
            let near = blocks.iter().filter(|x| x.abs() < 1.5).count();
            let gone = blocks.windows(3).any(|w| w.iter().all(|x| *x <= -20.0));
            assert!(
                median.abs() < 0.5
                    && near * 2 >= blocks.len()
                    && blocks.iter().all(|x| *x < 0.5)
                    && !gone,
                "phase {n} ({route}): {what}: median {median:+.1} dB, {near} of {} blocks \
                 at the level; blocks (dB): {blocks:.1?}",
                blocks.len()
            );
        };
        match route {
            // Into the chain: the bus input carries the tone at its level.
            Route::Processed => at_level(&on_bus, "tone at the bus input"),
            // Bypassed: nothing enters the chain…
            Route::Bypass => {
                for (i, x) in on_bus.iter().enumerate() {
                    assert!(
                        *x < -40.0,
                        "bypass phase {n}, block {i}: the bus still gets the tone ({x:+.1} dB)"
                    );
                }
                // …and the real sink has the tone untouched.
                at_level(&on_real, "tone at the real sink");
            }
        }
    }
    let _ = player.kill();
    let _ = player.wait();
}

#[test]
fn daemon_runtime_rule_changes_move_a_playing_stream_and_it_stays() {
    let sb = Sandbox::start().expect("sandbox");
    let mut b = DaemonBackend::start(&sb, None).expect("headroomd");
    scenario(&sb, &mut b);
    b.daemon.terminate().unwrap();
}

#[test]
fn in_process_runtime_rule_changes_move_a_playing_stream_and_it_stays() {
    let sb = Sandbox::start().expect("sandbox");
    let mut drv = Driver::start(&sb, None).expect("bus");
    scenario(&sb, &mut drv);
    drv.stop().unwrap();
}
