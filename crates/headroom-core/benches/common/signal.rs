//! The signal the chain bench and the `chain_cpu` example measure on (one definition, so
//! their figures compare).

/// Sample rate of [`signal`], Hz.
pub const RATE: u32 = 48_000;

/// 10 s of stereo programme-like audio: a few tones plus noise, with a slow 20 dB level
/// swing so that every stage has work to do.
pub fn signal() -> Vec<f32> {
    let mut s = 0x1234_5678_9abc_def0u64;
    let n = RATE as usize * 10;
    let mut out = Vec::with_capacity(n * 2);
    for i in 0..n {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        let noise = (s >> 40) as f32 / (1u64 << 24) as f32 - 0.5;
        let t = i as f32 / RATE as f32;
        let tone = (t * 2.0 * std::f32::consts::PI * 220.0).sin()
            + 0.5 * (t * 2.0 * std::f32::consts::PI * 1375.0).sin();
        let swing = 10f32.powf(((t * 0.4).sin() * 10.0 - 14.0) / 20.0);
        let v = swing * (0.6 * tone + 0.8 * noise);
        out.push(v);
        out.push(v * 0.9);
    }
    out
}
