//! Quantisation of `f32` samples to integers with TPDF dither.
//!
//! Triangular-PDF dither of ±1 LSB peak (the sum of two independent uniform values of ±½ LSB)
//! is added before rounding, which makes the quantisation error independent of the signal
//! (no distortion products, no truncation of fades into silence) at the cost of a flat noise
//! floor 4.8 dB above plain rounding. Values are clamped to the integer range.
//!
//! A sample already on the output's grid (an exact integer once scaled: digital silence, or
//! the samples of a 16-bit file rendered in bypass to 16 bits) is written as it is, without
//! dither: it has no quantisation error to decorrelate, and so silence stays digital silence
//! and a bypass render is bit-exact. Processed audio lands on the grid only by chance (about
//! one loud sample in 500 at 16 bits), which leaves its error statistics as they were.

/// A TPDF quantiser for one output bit depth. The random source is a xorshift generator with
/// a fixed seed, so renders are reproducible.
///
/// [`Quantizer::quantize_into`] draws the same sequence as one [`Quantizer::quantize`] per
/// sample, faster: the generator's steps depend on each other (a chain of six shifts and
/// xors per sample), so each pass of `PASS` samples draws `LANES` stretches of the one
/// sequence side by side, each started where the sequence is at the stretch's first sample.
/// The generator is linear over GF(2), so `SEG` steps are a fixed 64×64 bit matrix, applied
/// a byte at a time from the `jump` tables. The values are then quantised in a loop the
/// compiler vectorises; every sample gets the same arithmetic as in `quantize`.
#[derive(Debug, Clone)]
pub struct Quantizer {
    scale: f64,
    max: f64,
    min: f64,
    state: u64,
    /// `jump[j][b]`: the state [`SEG`] steps after the state `b << (8 * j)`.
    jump: Box<[[u64; 256]; 8]>,
    /// The CPU has AVX2: the quantising loop runs four samples at a time.
    wide: bool,
}

/// Adding and subtracting 1.5·2^52 rounds an `f64` below 2^51 in magnitude to the nearest
/// integer (ties to even) without a call to `round`.
const ROUND: f64 = 6_755_399_441_055_744.0;

/// Stretches of the sequence drawn side by side in [`Quantizer::quantize_into`].
const LANES: usize = 8;
/// Samples in each stretch.
const SEG: usize = 256;
/// Samples quantised per pass.
const PASS: usize = LANES * SEG;

/// One step of the xorshift generator.
#[inline]
fn step(mut x: u64) -> u64 {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    x
}

/// Quantises `x` with the draw `r`: two uniform values of 24 bits each from one 64-bit draw,
/// their difference the triangular dither, added unless `x` is on the grid already (module
/// docs); NaN and ±∞ count as 0; clamped to `[min, max]` (integers in the i32 range) and
/// rounded to the nearest integer, ties to even. `v + ROUND` holds that integer in the low
/// bits of its mantissa, so its low 32 bits are the result as an `i32` (what
/// `((v + ROUND) - ROUND) as i32` gives, without the conversion).
#[inline(always)]
fn dithered(x: f32, r: u64, scale: f64, min: f64, max: f64) -> i32 {
    let v = with_dither(x, r, scale).clamp(min, max);
    (v + ROUND).to_bits() as u32 as i32
}

/// `x` scaled to the output's integers, plus the triangular dither of the draw `r` unless the
/// scaled value is an integer already; NaN and ±∞ count as 0.
#[inline(always)]
fn with_dither(x: f32, r: u64, scale: f64) -> f64 {
    let u1 = (r >> 40) as i32;
    let u2 = ((r >> 16) & 0xFF_FFFF) as i32;
    let d = f64::from(u1 - u2) * (1.0 / (1u64 << 24) as f64);
    let x = if x.is_finite() { f64::from(x) } else { 0.0 };
    let y = x * scale;
    // Exact for |y| < 2^51; a larger value is clamped whatever this says.
    let on_grid = (y + ROUND) - ROUND == y;
    if on_grid {
        y
    } else {
        y + d
    }
}

/// Quantises `src` with `draws` into `vals` (as many as the shortest holds).
#[inline(always)]
fn dither_all(vals: &mut [i32], src: &[f32], draws: &[u64], scale: f64, min: f64, max: f64) {
    for ((v, &x), &r) in vals.iter_mut().zip(src).zip(draws) {
        *v = dithered(x, r, scale, min, max);
    }
}

/// [`dither_all`] compiled for AVX2 (the same operations on four lanes, so the same
/// values).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn dither_all_avx2(vals: &mut [i32], src: &[f32], draws: &[u64], scale: f64, min: f64, max: f64) {
    dither_all(vals, src, draws, scale, min, max);
}

fn detect_avx2() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx2")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

impl Quantizer {
    /// A quantiser to `bits`-bit signed integers (2 to 32).
    pub fn new(bits: u32) -> Quantizer {
        let bits = bits.clamp(2, 32);
        let full = (1u64 << (bits - 1)) as f64;
        // Column i of the matrix of SEG steps: where the state with only bit i set goes.
        let mut cols = [0u64; 64];
        for (i, c) in cols.iter_mut().enumerate() {
            *c = (0..SEG).fold(1u64 << i, |x, _| step(x));
        }
        let mut jump = Box::new([[0u64; 256]; 8]);
        for (j, table) in jump.iter_mut().enumerate() {
            for b in 1..256usize {
                let low = b & b.wrapping_neg();
                table[b] = table[b ^ low] ^ cols[8 * j + low.trailing_zeros() as usize];
            }
        }
        Quantizer {
            scale: full,
            max: full - 1.0,
            min: -full,
            state: 0x9E37_79B9_7F4A_7C15,
            jump,
            wide: detect_avx2(),
        }
    }

    /// The state [`SEG`] steps after `x`.
    #[inline]
    fn jump(&self, x: u64) -> u64 {
        self.jump.iter().enumerate().fold(0, |r, (j, table)| {
            r ^ table[((x >> (8 * j)) & 0xFF) as usize]
        })
    }

    /// [`dither_all`], with AVX2 where the CPU has it.
    #[inline]
    fn dither_all(&self, vals: &mut [i32], src: &[f32], draws: &[u64], s: f64, lo: f64, hi: f64) {
        #[cfg(target_arch = "x86_64")]
        if self.wide {
            // SAFETY: `wide` is only true when `is_x86_feature_detected!("avx2")` said so.
            unsafe { dither_all_avx2(vals, src, draws, s, lo, hi) };
            return;
        }
        dither_all(vals, src, draws, s, lo, hi);
    }

    /// The next value of the generator.
    #[inline]
    fn next(&mut self) -> u64 {
        self.state = step(self.state);
        self.state
    }

    /// Quantises `src` into little-endian integers of `width` bytes (2, 3 or 4) in `dst`,
    /// which must hold `src.len() * width` bytes. The same values as [`Quantizer::quantize`]
    /// sample by sample.
    pub fn quantize_into(&mut self, src: &[f32], dst: &mut [u8], width: usize) {
        let mut draws = [0u64; PASS];
        let mut vals = [0i32; PASS];
        let (scale, min, max) = (self.scale, self.min, self.max);
        for (src, dst) in src.chunks(PASS).zip(dst.chunks_mut(PASS * width)) {
            let n = src.len();
            if n == PASS {
                let mut lanes = [0u64; LANES];
                lanes[0] = self.state;
                for j in 1..LANES {
                    lanes[j] = self.jump(lanes[j - 1]);
                }
                for i in 0..SEG {
                    for (j, s) in lanes.iter_mut().enumerate() {
                        *s = step(*s);
                        draws[j * SEG + i] = *s;
                    }
                }
                self.state = lanes[LANES - 1];
            } else {
                for d in &mut draws[..n] {
                    *d = self.next();
                }
            }
            self.dither_all(&mut vals[..n], src, &draws[..n], scale, min, max);
            match width {
                2 => {
                    for (o, &v) in dst.chunks_exact_mut(2).zip(&vals[..n]) {
                        o.copy_from_slice(&(v as i16).to_le_bytes());
                    }
                }
                3 => {
                    for (o, &v) in dst.chunks_exact_mut(3).zip(&vals[..n]) {
                        o.copy_from_slice(&v.to_le_bytes()[..3]);
                    }
                }
                _ => {
                    for (o, &v) in dst.chunks_exact_mut(4).zip(&vals[..n]) {
                        o.copy_from_slice(&v.to_le_bytes());
                    }
                }
            }
        }
    }

    /// Quantises one sample in [-1, 1] (NaN counts as 0) to an integer with TPDF dither (none
    /// for a sample on the grid already: module docs). Draws from the generator either way.
    #[inline]
    pub fn quantize(&mut self, x: f32) -> i32 {
        let r = self.next();
        let v = with_dither(x, r, self.scale).clamp(self.min, self.max);
        ((v + ROUND) - ROUND) as i32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `quantize_into` writes what `quantize` gives sample by sample, at every width, for
    /// every kind of value, in whole passes and in pieces of any length.
    #[test]
    fn quantize_into_gives_the_values_of_quantize() {
        let specials = [
            f32::NAN,
            f32::INFINITY,
            f32::NEG_INFINITY,
            2.0,
            -2.0,
            1.0,
            -1.0,
            0.5 / 32768.0,
            -0.5 / 8_388_608.0,
            -0.0,
            1e-30,
            f32::MAX,
        ];
        let src: Vec<f32> = (0..3 * PASS + 555)
            .map(|i| match i % 97 {
                k if k < specials.len() => specials[k],
                _ => (i as f32 * 0.013).sin() * 0.99,
            })
            .collect();
        for (bits, width) in [(16u32, 2usize), (24, 3), (32, 4)] {
            let mut one = Quantizer::new(bits);
            let want: Vec<u8> = src
                .iter()
                .flat_map(|&x| one.quantize(x).to_le_bytes()[..width].to_vec())
                .collect();
            for (piece, wide) in [1usize, 7, PASS - 1, PASS, PASS + 1, 3 * PASS, src.len()]
                .into_iter()
                .flat_map(|p| [(p, false), (p, detect_avx2())])
            {
                let mut q = Quantizer::new(bits);
                q.wide = wide;
                let mut got = vec![0u8; src.len() * width];
                for (s, d) in src.chunks(piece).zip(got.chunks_mut(piece * width)) {
                    q.quantize_into(s, d, width);
                }
                assert!(got == want, "{bits} bits in pieces of {piece}, AVX2 {wide}");
                assert_eq!(q.state, one.state, "{bits} bits in pieces of {piece}");
            }
        }
    }

    #[test]
    fn dither_is_triangular_of_one_lsb_and_unbiased() {
        let mut q = Quantizer::new(16);
        // A quarter step over a step: the triangular dither of ±1 step puts it one step
        // under with chance (¼)²/2, one over with (¾)²/2, on the step itself otherwise, and
        // its mean is the value itself.
        let n = 200_000;
        let mut sum = 0i64;
        let mut hist = [0u32; 3];
        for _ in 0..n {
            let v = q.quantize(100.25 / 32768.0);
            assert!((99..=101).contains(&v), "{v}");
            hist[(v - 99) as usize] += 1;
            sum += i64::from(v);
        }
        let mean = sum as f64 / n as f64;
        assert!((mean - 100.25).abs() < 0.01, "mean {mean}");
        let p = |k: usize| f64::from(hist[k]) / n as f64;
        assert!((p(0) - 0.03125).abs() < 0.005, "{hist:?}");
        assert!((p(2) - 0.28125).abs() < 0.01, "{hist:?}");
    }

    /// Samples on the output's grid are written as they are: digital silence stays silent and
    /// a 16-bit signal comes back bit for bit; a sample off the grid is dithered.
    #[test]
    fn samples_on_the_grid_are_not_dithered() {
        for (bits, width) in [(16u32, 2usize), (24, 3)] {
            let full = (1u64 << (bits - 1)) as f32;
            let src: Vec<f32> = (0..PASS + 100)
                .map(|i| match i % 4 {
                    0 => 0.0,
                    1 => -0.0,
                    2 => ((i as i64 * 7919) % 32768 - 16384) as f32 / 32768.0,
                    _ => -1.0,
                })
                .collect();
            let mut q = Quantizer::new(bits);
            let mut out = vec![0u8; src.len() * width];
            q.quantize_into(&src, &mut out, width);
            for (k, (&x, o)) in src.iter().zip(out.chunks_exact(width)).enumerate() {
                let mut b = [0u8; 4];
                b[4 - width..].copy_from_slice(o);
                let v = i32::from_le_bytes(b) >> (8 * (4 - width));
                assert_eq!(v as f32, x * full, "{bits} bits, sample {k}");
            }
        }
        // Off the grid by a hundredth of a step: dithered, so it spreads over neighbours.
        let mut q = Quantizer::new(16);
        let vals: std::collections::BTreeSet<i32> =
            (0..1000).map(|_| q.quantize(5.01 / 32768.0)).collect();
        assert!(vals.len() >= 2, "{vals:?}");
    }

    #[test]
    fn clamps_and_handles_non_finite() {
        let mut q = Quantizer::new(24);
        assert_eq!(q.quantize(2.0), (1 << 23) - 1);
        assert_eq!(q.quantize(-2.0), -(1 << 23));
        assert!(q.quantize(f32::NAN).abs() <= 1);
    }

    #[test]
    fn a_fade_below_one_lsb_is_not_truncated_to_silence() {
        // A sine of 0.4 LSB amplitude: plain rounding gives all zeros, dither keeps it.
        let mut q = Quantizer::new(16);
        let amp = 0.4 / 32768.0;
        let n = 48_000;
        let corr: f64 = (0..n)
            .map(|i| {
                let s = (i as f64 * 0.05).sin();
                f64::from(q.quantize((amp * s) as f32)) * s
            })
            .sum::<f64>()
            / n as f64;
        // The correlation with the sine recovers its amplitude (0.4 × ½ in LSB²-units).
        assert!((corr - 0.2).abs() < 0.05, "{corr}");
    }
}
