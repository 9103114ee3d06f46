//! A playing stream is moved processed → bypass → processed by changing rules at runtime; the
//! captures of both sinks show the audio move each time within 500 ms and stay for 5 s.
//!
//! Driven by the in-process bus + routing controller harness (`routing_common`), Layer A on
//! (the stream is tapped while processed).

mod routing_common;

use std::time::{Duration, Instant};

use headroom_core::LayerAParams;
use headroom_tests::{sine, wait_for, Sandbox, Wav, DEFAULT_SINK};
use headroomd::pw::BUS_SINK_NAME;
use headroomd::routing::{Route, RouteConfig};
use routing_common::*;

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

#[test]
fn runtime_rule_changes_move_a_playing_stream_and_it_stays() {
    let sb = Sandbox::start().expect("sandbox");
    let drv = Driver::start(&sb, RouteConfig::default(), LayerAParams::default()).expect("bus");
    let freq = 1000.0;
    let level_db = -20.0;
    let amp = 10f64.powf(level_db / 20.0);
    let wav = sb.path("tone.wav");
    sine(freq, level_db, 24.0).write(&wav).unwrap();

    // Capture the processed sink's input (its monitor: what enters the chain) and the real
    // sink (bus output + bypassed streams).
    let t0 = Instant::now();
    let rec_bus = sb.record(BUS_SINK_NAME, &sb.path("bus.wav")).unwrap();
    let start_bus = t0.elapsed().as_secs_f64();
    let rec_real = sb.record(DEFAULT_SINK, &sb.path("real.wav")).unwrap();
    let start_real = t0.elapsed().as_secs_f64();

    let mut player = play(&sb, &wav, "mover").unwrap();
    let id = wait_for("stream", Duration::from_secs(5), || stream_id(&sb, "mover")).unwrap();
    wait_for("stream processed", Duration::from_secs(3), || {
        Ok((plays_into(&sb, id)? == [BUS_SINK_NAME]).then_some(()))
    })
    .unwrap();

    let mut phases = Vec::new();
    for route in [
        Route::Bypass,
        Route::Processed,
        Route::Bypass,
        Route::Processed,
    ] {
        let expect = match route {
            Route::Processed => BUS_SINK_NAME,
            Route::Bypass => DEFAULT_SINK,
        };
        let t = t0.elapsed().as_secs_f64();
        let changed = Instant::now();
        drv.set_rule("mover", route);
        wait_for(
            &format!("stream in {expect}"),
            Duration::from_millis(500),
            || Ok((plays_into(&sb, id)? == [expect]).then_some(())),
        )
        .unwrap_or_else(|e| panic!("not moved within 500 ms: {e:#}"));
        eprintln!("{route}: moved in {:?}", changed.elapsed());
        phases.push((t, route));
        let until = changed + Duration::from_secs(5);
        while Instant::now() < until {
            assert_eq!(
                plays_into(&sb, id).unwrap(),
                [expect],
                "the move was undone"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        // The router agrees.
        let r = drv.route_of("mover").unwrap();
        assert_eq!(r.route, Some(route));
        assert_eq!(r.linked_to.as_deref(), Some(expect));
        // Taps follow the route (Layer A on): only a processed stream is tapped.
        assert_eq!(drv.tap_count(), usize::from(route == Route::Processed));
    }
    let _ = player.kill();
    let _ = player.wait();
    let bus = rec_bus.stop().unwrap();
    let real = rec_real.stop().unwrap();

    for (t, route) in phases {
        let (a, b) = (t + 0.6, t + 4.8);
        let on_bus = tone_blocks(&bus, freq, amp, a - start_bus, b - start_bus);
        let on_real = tone_blocks(&real, freq, amp, a - start_real, b - start_real);
        assert!(
            on_bus.len() > 40 && on_real.len() > 40,
            "captures too short"
        );
        for (i, (x, y)) in on_bus.iter().zip(&on_real).enumerate() {
            match route {
                // Into the chain: the bus input carries the tone at its level.
                Route::Processed => assert!(
                    x.abs() < 0.5,
                    "processed phase at {t:.1}s, block {i}: tone at the bus input {x:+.1} dB"
                ),
                // Bypassed: nothing enters the chain; the real sink has the tone untouched.
                Route::Bypass => {
                    assert!(
                        *x < -40.0,
                        "bypass phase at {t:.1}s, block {i}: the bus still gets the tone ({x:+.1} dB)"
                    );
                    assert!(
                        y.abs() < 0.5,
                        "bypass phase at {t:.1}s, block {i}: real sink tone {y:+.1} dB"
                    );
                }
            }
        }
    }
}
