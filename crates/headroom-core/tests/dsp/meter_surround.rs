//! Channel weights of the live meter and of the offline analysis on surround layouts
//! (BS.1770-4 as ffmpeg's `ebur128` filter applies it to the default layout of each channel
//! count): both against the `ebur128` crate given the layout's channel map explicitly, LFE
//! content left out, and every channel of 7.1 measured.

use crate::support::{frames, interleave, programme, sine};
use ebur128::{Channel, EbuR128, Mode};
use headroom_core::analysis::{analyze, Analysis};
use headroom_core::meter::LiveMeter;
use headroom_core::LUFS_FLOOR;

use Channel::{
    Center as C, Left as L, LeftSurround as Ls, Right as R, RightSurround as Rs, Unused as Lfe,
};

/// The reference channel map of each layout: L R C 1.0, surround 1.41, LFE out.
fn reference_map(ch: usize) -> Vec<Channel> {
    match ch {
        4 => vec![L, R, Ls, Rs],
        5 => vec![L, R, C, Ls, Rs],
        6 => vec![L, R, C, Lfe, Ls, Rs],
        // 6.1: the back centre weighs as a surround channel, as in ffmpeg.
        7 => vec![L, R, C, Lfe, Ls, Ls, Rs],
        // 7.1: back and side pairs are surround channels.
        8 => vec![L, R, C, Lfe, Ls, Rs, Ls, Rs],
        _ => unreachable!(),
    }
}

/// Integrated, max momentary and max short-term loudness of the reference over `sig`
/// (momentary and short-term read at every 100 ms boundary), floored at −70.
fn reference(sig: &[f32], rate: u32, ch: usize) -> (f64, Vec<(f64, f64)>) {
    let mut r = EbuR128::new(ch as u32, rate, Mode::M | Mode::S | Mode::I).unwrap();
    r.set_channel_map(&reference_map(ch)).unwrap();
    let sub = (rate as usize + 5) / 10;
    let mut ms = Vec::new();
    for block in sig.chunks(sub * ch) {
        r.add_frames_f32(block).unwrap();
        ms.push((
            r.loudness_momentary().unwrap().max(LUFS_FLOOR),
            r.loudness_shortterm().unwrap().max(LUFS_FLOOR),
        ));
    }
    (r.loudness_global().unwrap().max(LUFS_FLOOR), ms)
}

/// The live meter's momentary and short-term at every boundary, and its integrated
/// loudness, and the analysis' integrated loudness: all within 0.1 LU of the reference.
fn check(sig: &[f32], rate: u32, ch: usize, what: &str) -> (f64, Analysis) {
    let (ri, rms) = reference(sig, rate, ch);
    let sub = (rate as usize + 5) / 10;
    let mut live = LiveMeter::new(rate, ch);
    for (block, &(rm, rs)) in sig.chunks(sub * ch).zip(&rms) {
        live.process(block);
        if block.len() == sub * ch {
            let (m, s) = (live.momentary_lufs(), live.short_term_lufs());
            assert!((m - rm).abs() <= 0.1, "{what}: live M {m} vs {rm}");
            assert!((s - rs).abs() <= 0.1, "{what}: live S {s} vs {rs}");
        }
    }
    let i = live.integrated_lufs();
    assert!((i - ri).abs() <= 0.1, "{what}: live I {i} vs {ri}");
    let a = analyze(sig, rate, ch).unwrap();
    assert!(
        (a.integrated_lufs - ri).abs() <= 0.1,
        "{what}: analysis I {} vs {ri}",
        a.integrated_lufs
    );
    (ri, a)
}

/// A 1 kHz sine of −12 dBFS peak in channel `only` of `ch` silent channels.
fn sine_in(rate: u32, ch: usize, only: usize, secs: f64) -> Vec<f32> {
    let n = frames(rate, secs);
    let chans: Vec<Vec<f64>> = (0..ch)
        .map(|c| {
            if c == only {
                sine(rate, 1000.0, 0.25, 0.0, n)
            } else {
                vec![0.0; n]
            }
        })
        .collect();
    interleave(&chans)
}

#[test]
fn surround_programmes_agree_with_ebur128_mapped_by_layout() {
    for (seed, ch) in [(51u64, 4usize), (52, 5), (53, 6), (54, 7), (55, 8)] {
        let sig = programme(seed, 48_000, ch, 8.0);
        let (i, _) = check(&sig, 48_000, ch, &format!("{ch} ch programme"));
        assert!(i > LUFS_FLOOR, "{ch} ch: programme must be measurable");
    }
}

#[test]
fn each_channel_weighs_as_its_layout_says() {
    let rate = 48_000;
    for ch in 4..=8 {
        for only in 0..ch {
            let sig = sine_in(rate, ch, only, 4.0);
            let what = format!("{ch} ch, sine in channel {only}");
            let (i, a) = check(&sig, rate, ch, &what);
            let lfe = ch >= 6 && only == 3;
            if lfe {
                assert_eq!(i, LUFS_FLOOR, "{ch} ch: LFE content must not be measured");
            } else {
                // A 1 kHz sine of −12 dBFS peak reads −15.0 LUFS in a front channel (weight
                // 1.0) and −13.5 in a surround one (1.41, +1.5 dB).
                let surround = match ch {
                    4 => only >= 2,
                    _ => only >= 3,
                };
                let want = if surround { -13.55 } else { -15.04 };
                assert!((i - want).abs() <= 0.05, "{what}: {i}, want {want}");
                // A steady tone: its maxima are its integrated loudness.
                assert!((a.max_momentary_lufs - i).abs() <= 0.1, "{what}: {a:?}");
                assert!((a.max_short_term_lufs - i).abs() <= 0.1, "{what}: {a:?}");
            }
        }
    }
}

#[test]
fn lfe_only_content_reads_no_measurement() {
    let rate = 48_000;
    for ch in [6usize, 7, 8] {
        let sig = sine_in(rate, ch, 3, 5.0);
        let mut live = LiveMeter::new(rate, ch);
        live.process(&sig);
        assert_eq!(live.integrated_lufs(), LUFS_FLOOR, "{ch} ch live I");
        assert_eq!(live.momentary_lufs(), LUFS_FLOOR, "{ch} ch live M");
        assert_eq!(live.short_term_lufs(), LUFS_FLOOR, "{ch} ch live S");
        let a = analyze(&sig, rate, ch).unwrap();
        assert_eq!(a.integrated_lufs, LUFS_FLOOR, "{ch} ch analysis I");
        assert_eq!(a.max_momentary_lufs, LUFS_FLOOR, "{ch} ch analysis max M");
        // Peaks still see the LFE channel.
        assert!(a.true_peak_dbtp > -13.0, "{ch} ch: {}", a.true_peak_dbtp);
    }
}

/// Mono and stereo keep weight 1.0 on every channel: the same readings as the crate's
/// default map.
#[test]
fn mono_and_stereo_weights_are_unchanged() {
    for ch in [1usize, 2] {
        let sig = programme(60 + ch as u64, 48_000, ch, 6.0);
        let mut r = EbuR128::new(ch as u32, 48_000, Mode::I).unwrap();
        r.add_frames_f32(&sig).unwrap();
        let mut live = LiveMeter::new(48_000, ch);
        live.process(&sig);
        let ri = r.loudness_global().unwrap();
        assert!((live.integrated_lufs() - ri).abs() <= 0.05, "{ch} ch");
    }
}
