//! headroomd's processed bus end to end: audio played into `headroom-processed` reaches the
//! real sink — unchanged with bypass on, levelled with the chain on — and the latency the bus
//! adds against playing straight into the real sink, measured by cross-correlating a direct
//! and a processed copy of the same signal mixed by the real sink in the same graph cycle.

use std::time::Duration;

use headroom_core::{Chain, ChainParams};

use headroom_tests::daemon::{
    best_lag, bursts, channel, concat, force_quantum, pw_link, with_log, write_wav, Daemon,
    BUS_SINK,
};
use headroom_tests::{sine, wait_for, Sandbox, DEFAULT_SINK};

#[test]
fn bypassed_bus_passes_audio_unchanged() {
    let sb = Sandbox::start().expect("sandbox");
    let mut d = Daemon::start(&sb, &["--bypass"]).expect("headroomd");
    let src = sine(1000.0, -20.0, 3.0);
    let wav = write_wav(&sb, "sine.wav", &src).unwrap();
    let rec = sb.record(DEFAULT_SINK, &sb.path("cap.wav")).unwrap();
    with_log(
        &d,
        sb.play(&wav, BUS_SINK, &["application.name=bypass-test"]),
    )
    .unwrap();
    let cap = rec.stop().unwrap();
    if let Ok(p) = std::env::var("HEADROOM_KEEP_CAPTURE") {
        cap.write(std::path::Path::new(&p)).unwrap();
    }
    let log = d.terminate().unwrap();
    println!("{}", log.lines().last().unwrap_or_default());
    let (a, b) = cap
        .active_range(1e-3)
        .unwrap_or_else(|| panic!("no signal reached {DEFAULT_SINK}; log:\n{log}"));
    assert!(
        (b - a) as f64 > 0.9 * src.frames() as f64,
        "only {} of {} frames arrived",
        b - a,
        src.frames()
    );
    // Skip the stream's start and end (ramps of the players, not of the bus).
    let body = cap.slice(a + 24_000, b - 24_000);
    let (want, got) = (src.rms_db(), body.rms_db());
    assert!(
        (got - want).abs() <= 0.1,
        "bypass changed the level: played {want:.3} dBFS, got {got:.3} dBFS"
    );
    assert!(
        (body.peak_db() - src.peak_db()).abs() <= 0.1,
        "bypass changed the peak: {:.3} vs {:.3} dBFS",
        body.peak_db(),
        src.peak_db()
    );
}

/// Frames between the starts of two noise bursts of [`bursts`] (0.3 s; each burst lasts 0.2 s).
const BURST_PERIOD: usize = 14_400;
/// Noise bursts of a latency measurement.
const N_BURSTS: usize = 10;
/// Frequency of the sine that follows the bursts, Hz (not a divisor of any quantum).
const GLITCH_SINE_HZ: f64 = 997.0;
/// Length of the sine, seconds.
const GLITCH_SINE_SECS: f64 = 5.0;
/// Frames of one glitch-count window (0.1 s).
const GLITCH_WINDOW: usize = 4_800;
/// Sine-fit residual, relative to the window's level, above which a window holds a glitch.
const GLITCH_RESIDUAL_DB: f64 = -60.0;

/// What one run of [`measure_added_latency`] found.
#[derive(Debug)]
struct Measured {
    /// Per burst: lag of processed against direct (frames), correlation, gain (dB).
    bursts: Vec<(usize, f64, f64)>,
    /// Median lag, frames.
    lag: usize,
    /// Median correlation.
    corr: f64,
    /// Median gain, dB.
    gain_db: f64,
    /// Sine windows compared on each path.
    windows: usize,
    /// Windows with a discontinuity on the direct path (the graph's own glitches).
    direct_glitches: usize,
    /// Windows with a discontinuity on the processed path.
    processed_glitches: usize,
}

fn median<T: Copy + PartialOrd>(v: &[T]) -> T {
    let mut s = v.to_vec();
    s.sort_by(|a, b| a.partial_cmp(b).expect("no NaN"));
    s[s.len() / 2]
}

/// Residual of the least-squares fit of `a·sin + b·cos + c` at [`GLITCH_SINE_HZ`] to `x`,
/// in dB relative to `x`'s RMS: a clean window of the sine reads far below −100 dB, a dropout
/// or a jump in the window far above [`GLITCH_RESIDUAL_DB`].
#[allow(clippy::needless_range_loop)] // 3×3 matrix arithmetic reads best with indices
fn sine_fit_residual_db(x: &[f32]) -> f64 {
    let w = 2.0 * std::f64::consts::PI * GLITCH_SINE_HZ / 48_000.0;
    let basis = |i: usize| {
        let t = w * i as f64;
        [t.sin(), t.cos(), 1.0]
    };
    let (mut m, mut r) = ([[0f64; 3]; 3], [0f64; 3]);
    for (i, &v) in x.iter().enumerate() {
        let b = basis(i);
        for j in 0..3 {
            r[j] += b[j] * v as f64;
            for k in 0..3 {
                m[j][k] += b[j] * b[k];
            }
        }
    }
    // Gaussian elimination on the 3×3 normal equations (well conditioned over 0.1 s).
    for c in 0..3 {
        for row in c + 1..3 {
            let f = m[row][c] / m[c][c];
            for k in c..3 {
                m[row][k] -= f * m[c][k];
            }
            r[row] -= f * r[c];
        }
    }
    let mut coef = [0f64; 3];
    for c in (0..3).rev() {
        let s: f64 = (c + 1..3).map(|k| m[c][k] * coef[k]).sum();
        coef[c] = (r[c] - s) / m[c][c];
    }
    let (mut res, mut sig) = (0f64, 0f64);
    for (i, &v) in x.iter().enumerate() {
        let b = basis(i);
        let fit: f64 = (0..3).map(|k| coef[k] * b[k]).sum();
        res += (v as f64 - fit).powi(2);
        sig += (v as f64).powi(2);
    }
    if sig <= 0.0 {
        return 0.0;
    }
    10.0 * (res.max(1e-30) / sig).log10()
}

/// Windows of `x` from `from` (each [`GLITCH_WINDOW`] frames, `n` of them) whose sine fit
/// leaves a residual above [`GLITCH_RESIDUAL_DB`].
fn glitch_windows(x: &[f32], from: usize, n: usize) -> usize {
    (0..n)
        .filter(|k| {
            let a = from + k * GLITCH_WINDOW;
            let w = &x[a.min(x.len())..(a + GLITCH_WINDOW).min(x.len())];
            w.len() < GLITCH_WINDOW || sine_fit_residual_db(w) > GLITCH_RESIDUAL_DB
        })
        .count()
}

/// Plays, on the left channel only, [`N_BURSTS`] noise bursts and then a sine into the bus
/// while the same stream's left output is also linked straight into the real sink's *right*
/// input, and records what the real sink plays. The right channel is then the direct path and
/// the left channel the processed one, mixed by the same sink in the same graph cycle, so their
/// lag is exactly what the bus adds. Each burst is measured on its own (lag up to `max_lag`)
/// and the medians are taken, so a glitch of the graph in one burst does not decide the
/// result; the sine counts discontinuities on each path (per 0.1 s window), so the bus's
/// glitches can be told from the graph's own in the same run.
fn measure_added_latency(sb: &Sandbox, d: &Daemon, name: &str, max_lag: usize) -> Measured {
    let noise = bursts(-20.0, (N_BURSTS * BURST_PERIOD) as f64 / 48_000.0, 11);
    let mut src = concat(&[noise, sine(GLITCH_SINE_HZ, -20.0, GLITCH_SINE_SECS)]);
    for frame in src.samples.chunks_exact_mut(2) {
        frame[1] = 0.0;
    }
    let wav = write_wav(sb, &format!("{name}.wav"), &src).unwrap();
    let rec = sb
        .record(DEFAULT_SINK, &sb.path(&format!("{name}-cap.wav")))
        .unwrap();
    let node = format!("hr-latency-{name}");
    let mut player = sb
        .play_cmd(
            &wav,
            BUS_SINK,
            &[
                "application.name=latency-test",
                &format!("node.name={node}"),
            ],
        )
        .spawn()
        .unwrap();
    // The direct path: the player's left output into the real sink's right input (pw-link
    // fails until the player's port exists).
    let linked = wait_for(
        "direct link to the real sink",
        Duration::from_secs(10),
        || {
            let ok = pw_link(
                sb,
                &format!("{node}:output_FL"),
                &format!("{DEFAULT_SINK}:playback_FR"),
            )?;
            Ok(ok.then_some(()))
        },
    );
    with_log(d, linked).unwrap();
    assert!(player.wait().unwrap().success(), "pw-play failed");
    let cap = rec.stop().unwrap();
    let processed = channel(&cap, 0);
    let direct = channel(&cap, 1);
    let start = direct
        .iter()
        .position(|s| s.abs() > 1e-3)
        .unwrap_or_else(|| panic!("nothing arrived on the direct path; log:\n{}", d.log()));
    let energy_db = |v: &[f32], from: usize, len: usize| -> f64 {
        let s = &v[from.min(v.len())..(from + len).min(v.len())];
        10.0 * (s.iter().map(|&x| (x as f64).powi(2)).sum::<f64>() / s.len().max(1) as f64).log10()
    };
    // The middle of each burst: clear of its edges whatever the lag.
    let (skip, len) = (1_200, 6_000);
    let bursts: Vec<(usize, f64, f64)> = (0..N_BURSTS)
        .map(|k| start + k * BURST_PERIOD + skip)
        .filter(|&a| a + len + max_lag <= direct.len())
        .map(|a| {
            let (lag, corr) = best_lag(&direct, &processed, a, len, max_lag);
            let gain = energy_db(&processed, a + lag, len) - energy_db(&direct, a, len);
            (lag, corr, gain)
        })
        .collect();
    assert!(
        bursts.len() >= N_BURSTS / 2,
        "only {} bursts arrived; log:\n{}",
        bursts.len(),
        d.log()
    );
    let lag = median(&bursts.iter().map(|b| b.0).collect::<Vec<_>>());
    let corr = median(&bursts.iter().map(|b| b.1).collect::<Vec<_>>());
    let gain_db = median(&bursts.iter().map(|b| b.2).collect::<Vec<_>>());
    // The sine, without its first and last 0.1 s (the player's ramps).
    let sine_start = start + N_BURSTS * BURST_PERIOD + GLITCH_WINDOW;
    let windows = (GLITCH_SINE_SECS * 48_000.0) as usize / GLITCH_WINDOW - 2;
    Measured {
        bursts,
        lag,
        corr,
        gain_db,
        windows,
        direct_glitches: glitch_windows(&direct, sine_start, windows),
        processed_glitches: glitch_windows(&processed, sine_start + lag, windows),
    }
}

/// Glitch windows the processed path may have beyond those of the direct path in the same run.
/// The bus is one more real-time wakeup in the graph cycle (the player wakes the bus, the bus
/// the real sink), so when the CPU is contended and the graph misses cycles by itself, some
/// cycles are missed only by the longer path: the slack grows with the direct path's own
/// glitches (measured on the loaded 2-core machine: up to about 1.5 times the direct path's).
/// On a graph that runs cleanly it stays at a few windows, far below what a bus that drops a
/// cycle every second or so shows.
fn glitch_allowance(m: &Measured) -> usize {
    2 + m.windows / 20 + m.direct_glitches / 2
}

/// Why `m` fails at `quantum` (`None`: it passes). The lag is the median over the bursts; the
/// audio must come through unchanged (correlation and gain) in the best burst — every burst
/// fails for a bus that alters the audio, while a glitch of the graph spoils only some; the
/// glitches the bus adds are judged against the direct path's.
fn latency_verdict(m: &Measured, quantum: usize, lookahead: usize) -> Option<String> {
    let best = m
        .bursts
        .iter()
        .copied()
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .expect("bursts measured");
    if best.1 <= 0.999 {
        return Some(format!(
            "processed output does not match the direct path in any burst (best correlation \
             {:.4}, median {:.4})",
            best.1, m.corr
        ));
    }
    if best.2.abs() > 0.1 {
        return Some(format!("bypass gain {:.3} dB", best.2));
    }
    if !(lookahead..=lookahead + quantum).contains(&m.lag) {
        return Some(format!(
            "bus adds {} frames (median) at quantum {quantum}, outside lookahead ({lookahead}) \
             .. lookahead + one quantum",
            m.lag
        ));
    }
    if m.processed_glitches > m.direct_glitches + glitch_allowance(m) {
        return Some(format!(
            "the bus glitches: {} of {} windows through the bus, {} on the direct path",
            m.processed_glitches, m.windows, m.direct_glitches
        ));
    }
    None
}

/// The latency the bus adds against playing straight into the real sink, at quanta 1024, 512
/// and 256 (printed; run with `--nocapture`): at least the chain's lookahead, at most the
/// lookahead plus one quantum (the median over several bursts); bypassed, the bus passes the
/// audio unchanged and adds hardly any glitches to those the graph has by itself on the direct
/// path.
#[test]
fn bus_adds_lookahead_plus_at_most_one_quantum() {
    let lookahead = Chain::new(48_000, 2, 1024, &ChainParams::default()).latency_frames();
    let sb = Sandbox::start().expect("sandbox");
    let d = Daemon::start(&sb, &["--bypass"]).expect("headroomd");
    for quantum in [1024usize, 512, 256] {
        if quantum != 1024 {
            force_quantum(&sb, quantum as u32).unwrap();
        }
        // Search up to two quanta past the limit: a bus that adds more shows as a poor match.
        let max_lag = lookahead + 2 * quantum;
        let mut failures = Vec::new();
        // A second run only when the first fails: the graph of a loaded machine can glitch
        // through a whole run by itself; a bus that adds latency or glitches fails both.
        for round in 0..2 {
            let m = measure_added_latency(&sb, &d, &format!("q{quantum}-{round}"), max_lag);
            println!(
                "quantum {quantum}: bus adds {} frames ({:.2} ms; lookahead {lookahead}), \
                 correlation {:.4}, gain {:.4} dB (medians of {} bursts); glitch windows \
                 {} through the bus, {} direct, of {}",
                m.lag,
                m.lag as f64 / 48.0,
                m.corr,
                m.gain_db,
                m.bursts.len(),
                m.processed_glitches,
                m.direct_glitches,
                m.windows
            );
            match latency_verdict(&m, quantum, lookahead) {
                None => break,
                Some(why) => failures.push(format!("{why}; bursts {:?}", m.bursts)),
            }
        }
        assert!(
            failures.len() < 2,
            "quantum {quantum}: {}\nheadroomd log:\n{}",
            failures.join("\n"),
            d.log()
        );
    }
}

/// The verdict passes a clean bus on a glitching graph and fails a bus that adds latency,
/// alters the audio or glitches by itself.
#[test]
fn latency_verdict_tells_the_bus_from_the_graph() {
    let m = |lag: usize, corr: f64, gain: f64, direct: usize, processed: usize| Measured {
        bursts: vec![
            (lag, corr, gain),
            (lag, corr - 0.05, gain),
            (lag, 0.9, -0.3),
        ],
        lag,
        corr,
        gain_db: gain,
        windows: 48,
        direct_glitches: direct,
        processed_glitches: processed,
    };
    let (q, la) = (512, 72);
    // Clean, and a graph that glitches by itself with the bus following it.
    assert_eq!(latency_verdict(&m(72, 1.0, 0.0, 0, 0), q, la), None);
    assert_eq!(latency_verdict(&m(72, 1.0, 0.0, 15, 23), q, la), None);
    // Latency beyond one quantum, or less than the lookahead.
    assert!(latency_verdict(&m(72 + 513, 1.0, 0.0, 0, 0), q, la).is_some());
    assert!(latency_verdict(&m(10, 1.0, 0.0, 0, 0), q, la).is_some());
    // Audio altered in every burst.
    assert!(latency_verdict(&m(72, 0.98, 0.0, 0, 0), q, la).is_some());
    assert!(latency_verdict(&m(72, 1.0, -0.5, 0, 0), q, la).is_some());
    // A bus dropping a cycle every second on a clean graph, or twice the graph's glitches.
    assert!(latency_verdict(&m(72, 1.0, 0.0, 0, 10), q, la).is_some());
    assert!(latency_verdict(&m(72, 1.0, 0.0, 10, 20), q, la).is_some());
}

#[test]
fn sine_fit_counts_dropouts_and_jumps() {
    let clean = sine(GLITCH_SINE_HZ, -20.0, 1.0);
    let x = channel(&clean, 0);
    assert_eq!(glitch_windows(&x, 0, 10), 0);
    // A 256-frame dropout and a 128-frame jump (a lost quantum) each spoil one window.
    let mut y = x.clone();
    y[10_000..10_256].fill(0.0);
    y.drain(30_000..30_128);
    assert_eq!(glitch_windows(&y, 0, 9), 2);
}

/// Levelling of a 20 LU swing (−30 LUFS then −10 LUFS, target −16 LUFS). Depends on the real
/// chain (AGC, compressor, limiter) and its default parameters.
#[test]
fn chain_levels_a_20_lu_swing() {
    let sb = Sandbox::start().expect("sandbox");
    let d = Daemon::start(&sb, &[]).expect("headroomd");
    let quiet = bursts(-30.0, 14.0, 3);
    let loud = bursts(-10.0, 12.0, 5);
    let prog = concat(&[quiet, loud]);
    let wav = write_wav(&sb, "swing.wav", &prog).unwrap();
    let rec = sb.record(DEFAULT_SINK, &sb.path("levelled.wav")).unwrap();
    with_log(
        &d,
        sb.play(&wav, BUS_SINK, &["application.name=level-test"]),
    )
    .unwrap();
    let cap = rec.stop().unwrap();
    let (a, _) = cap
        .active_range(1e-4)
        .unwrap_or_else(|| panic!("no signal; log:\n{}", d.log()));
    let out = cap.slice(a, a + prog.frames());
    let st = headroom_tests::short_term_series(&out).unwrap();
    // Entry i covers the 3 s window ending at (i+1)·100 ms.
    let check = |from_s: f64, to_s: f64, what: &str| {
        let from = (from_s * 10.0) as usize;
        let to = ((to_s * 10.0) as usize).min(st.len());
        assert!(to > from, "capture too short for {what}");
        for (i, v) in st[from..to].iter().enumerate() {
            assert!(
                (v - (-16.0)).abs() <= 2.0,
                "{what}: short-term {v:.1} LUFS at {:.1} s, want −16 ± 2",
                (from + i + 1) as f64 / 10.0
            );
        }
    };
    // Quiet part: +14 dB at the default 3 dB/s rise needs ≈ 5 s, then a full 3 s window.
    check(9.0, 14.0, "quiet part");
    // Loud part: 3 s settling after the swing at 14 s, plus a full 3 s window.
    check(14.0 + 3.0 + 3.0, 26.0, "loud part");
    let mut m = ebur128::EbuR128::new(2, 48_000, ebur128::Mode::TRUE_PEAK).unwrap();
    m.add_frames_f32(&out.samples).unwrap();
    let tp = (0..2).map(|c| m.true_peak(c).unwrap()).fold(0f64, f64::max);
    let tp_db = 20.0 * tp.log10();
    assert!(
        tp_db <= -1.0 + 0.1,
        "true peak {tp_db:.2} dBTP above the −1 dBTP ceiling"
    );
    let _ = Duration::ZERO;
}

/// Bypass turned on and off while Layer A cuts a lone loud app (`night`: a tone at −6 dBFS
/// peak, ≈ 9 dB over the threshold) at quantum 2048: the stream's volume goes back to 1 and
/// the bus input's compensation of the cut goes with it, in the same cycle, so the output
/// steps straight to the source and back — never over the source. (The compensation ramped
/// across the whole block: 9 dB over the source for 45 ms when bypass came on.)
#[test]
fn bypass_with_layer_a_cutting_steps_straight_to_the_source() {
    use headroom_ipc::BypassMode;
    let sb = Sandbox::start().expect("sandbox");
    force_quantum(&sb, 2048).expect("quantum");
    let tone = sine(440.0, -6.0, 20.0);
    let wav = write_wav(&sb, "tone.wav", &tone).expect("tone");
    let mut d = Daemon::start(&sb, &[]).expect("headroomd");
    let mut c = crate::trust::client(&sb);
    c.profile_use("night").expect("profile.use night");
    let rec = sb
        .record(DEFAULT_SINK, &sb.path("live.wav"))
        .expect("recorder");
    let mut p = sb
        .play_cmd(&wav, BUS_SINK, &["application.name=tone"])
        .spawn()
        .expect("pw-play");
    // Layer A has cut the tone (its attack takes ≈ 1.5 s) and the AGC has settled on it.
    let cut = wait_for("Layer A's cut", Duration::from_secs(15), || {
        let r = c.route_list()?;
        Ok(r.streams
            .iter()
            .find_map(|s| s.layer_a_reduction_db)
            .filter(|cut| *cut > 6.0))
    })
    .unwrap_or_else(|e| panic!("{e:#}\n{}", d.log()));
    std::thread::sleep(Duration::from_secs(2));
    for on in [true, false, true, false] {
        let mode = if on { BypassMode::On } else { BypassMode::Off };
        c.bypass_set(mode).expect("bypass.set");
        std::thread::sleep(Duration::from_millis(1500));
    }
    let _ = p.kill();
    let _ = p.wait();
    let live = rec.stop().expect("recording");
    let log = d.terminate().expect("headroomd stops");
    // The loudest millisecond of the recording: the source's peak (−6 dBFS) at most.
    let left = headroom_tests::daemon::left(&live);
    let loudest = left
        .chunks(48)
        .map(|c| c.iter().fold(0.0f32, |m, v| m.max(v.abs())))
        .fold(0.0f32, f32::max);
    let loudest_db = 20.0 * f64::from(loudest).log10();
    eprintln!("Layer A cut {cut:.1} dB; loudest millisecond {loudest_db:.2} dBFS");
    assert!(
        loudest_db < -6.0 + 0.5,
        "bypass with Layer A cutting {cut:.1} dB: {loudest_db:.2} dBFS out of a −6 dBFS tone\n{log}"
    );
}
