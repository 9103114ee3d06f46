//! The full chain (input and output meters, AGC, compressor, true-peak limiter) against the
//! `ebur128` crate measuring M, S, I and true peak on the same audio, stereo 48 kHz, in the
//! same run:
//! * `chain_vs_ebur128/<impl>/<block>`: one block of `block` frames (throughput in frames, so
//!   criterion reports frames per second; ns per frame = time / block). The chain copies the
//!   block into its in-place buffer first (a `memcpy`, included).
//! * `read_msi/<impl>`: reading momentary, short-term and integrated loudness once per block
//!   (`Chain::meters`, which reads them for both input and output, against the three
//!   `ebur128` queries).
//!
//! Run with `cargo bench -p headroom-core --bench chain -- --warm-up-time 1
//! --measurement-time 3` and compare the two implementations per block size.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use ebur128::{EbuR128, Mode};
use headroom_core::{Chain, ChainParams};

const RATE: u32 = 48_000;

/// 10 s of stereo programme-like audio: a few tones plus noise, with a slow 20 dB level
/// swing so that every stage has work to do.
fn signal() -> Vec<f32> {
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

fn reference() -> EbuR128 {
    EbuR128::new(2, RATE, Mode::M | Mode::S | Mode::I | Mode::TRUE_PEAK).expect("ebur128")
}

fn bench_process(c: &mut Criterion) {
    let sig = signal();
    let mut g = c.benchmark_group("chain_vs_ebur128");
    for block in [64usize, 256, 1024] {
        g.throughput(Throughput::Elements(block as u64));
        let blocks: Vec<&[f32]> = sig.chunks_exact(block * 2).collect();
        let mut chain = Chain::new(RATE, 2, block, &ChainParams::default());
        let mut buf = vec![0.0f32; block * 2];
        let mut i = 0usize;
        g.bench_function(BenchmarkId::new("chain", block), |b| {
            b.iter(|| {
                buf.copy_from_slice(blocks[i % blocks.len()]);
                chain.process(black_box(&mut buf));
                i += 1;
            })
        });
        let mut r = reference();
        let mut i = 0usize;
        g.bench_function(BenchmarkId::new("ebur128", block), |b| {
            b.iter(|| {
                r.add_frames_f32(black_box(blocks[i % blocks.len()]))
                    .expect("add frames");
                i += 1;
            })
        });
    }
    g.finish();
}

/// Cost of each stage alone on 1024-frame blocks, to see where the chain's time goes.
fn bench_stages(c: &mut Criterion) {
    use headroom_core::compressor::Compressor;
    use headroom_core::limiter::Limiter;
    use headroom_core::meter::LiveMeter;
    let sig = signal();
    let block = 1024usize;
    let blocks: Vec<&[f32]> = sig.chunks_exact(block * 2).collect();
    let p = ChainParams::default();
    let mut g = c.benchmark_group("stages");
    g.throughput(Throughput::Elements(block as u64));
    let mut buf = vec![0.0f32; block * 2];
    let mut meter = LiveMeter::new(RATE, 2);
    let mut i = 0usize;
    g.bench_function("live_meter", |b| {
        b.iter(|| {
            meter.process(black_box(blocks[i % blocks.len()]));
            i += 1;
        })
    });
    let mut comp = Compressor::new(RATE, 2, &p.compressor);
    g.bench_function("compressor", |b| {
        b.iter(|| {
            buf.copy_from_slice(blocks[i % blocks.len()]);
            comp.process(black_box(&mut buf));
            i += 1;
        })
    });
    let mut lim = Limiter::new(RATE, 2, &p.limiter);
    g.bench_function("limiter", |b| {
        b.iter(|| {
            buf.copy_from_slice(blocks[i % blocks.len()]);
            lim.process(black_box(&mut buf));
            i += 1;
        })
    });
    g.finish();
}

fn bench_reads(c: &mut Criterion) {
    let sig = signal();
    let mut chain = Chain::new(RATE, 2, 1024, &ChainParams::default());
    let mut buf = sig.clone();
    chain.process(&mut buf);
    let mut r = reference();
    r.add_frames_f32(&sig).expect("add frames");
    let mut g = c.benchmark_group("read_msi");
    g.bench_function("chain_meters", |b| b.iter(|| black_box(chain.meters())));
    g.bench_function("ebur128", |b| {
        b.iter(|| {
            let m = r.loudness_momentary().unwrap_or(f64::NEG_INFINITY);
            let s = r.loudness_shortterm().unwrap_or(f64::NEG_INFINITY);
            let i = r.loudness_global().unwrap_or(f64::NEG_INFINITY);
            black_box((m, s, i))
        })
    });
    g.finish();
}

criterion_group!(benches, bench_process, bench_stages, bench_reads);
criterion_main!(benches);
