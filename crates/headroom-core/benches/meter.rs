//! LiveMeter against the `ebur128` crate, stereo 48 kHz:
//! * `process/<impl>/<block>`: measuring one block of `block` frames (divide by the block
//!   size for ns per frame);
//! * `read_msi/<impl>`: reading momentary, short-term and integrated loudness once (what a
//!   per-block meter display or AGC does);
//! * `block_with_reads/<impl>/<block>`: both together, per block.
//!
//! * `truepeak_push/1024`: `TruePeakDetector::push` on every sample of a stereo block (the
//!   per-sample interface the limiter uses), for comparison with `process/LiveMeter`.
//!
//! The reference runs `Mode::M | Mode::S | Mode::I | Mode::TRUE_PEAK`, the same measurements
//! the live meter keeps (the live meter also keeps LRA and sample peak).

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use ebur128::{EbuR128, Mode};
use headroom_core::meter::LiveMeter;
use headroom_core::truepeak::TruePeakDetector;

const RATE: u32 = 48_000;

/// 10 s of stereo pseudo-random noise at about −20 dBFS.
fn signal() -> Vec<f32> {
    let mut s = 0x1234_5678_9abc_def0u64;
    (0..RATE as usize * 10 * 2)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            ((s >> 40) as f32 / (1u64 << 24) as f32 - 0.5) * 0.2
        })
        .collect()
}

fn reference() -> EbuR128 {
    EbuR128::new(2, RATE, Mode::M | Mode::S | Mode::I | Mode::TRUE_PEAK).expect("ebur128")
}

fn bench_process(c: &mut Criterion) {
    let sig = signal();
    let mut g = c.benchmark_group("process");
    for block in [64usize, 256, 1024] {
        g.throughput(Throughput::Elements(block as u64));
        let blocks: Vec<&[f32]> = sig.chunks_exact(block * 2).collect();
        let mut live = LiveMeter::new(RATE, 2);
        let mut i = 0usize;
        g.bench_function(BenchmarkId::new("LiveMeter", block), |b| {
            b.iter(|| {
                live.process(black_box(blocks[i % blocks.len()]));
                i += 1;
            })
        });
        let mut r = reference();
        let mut i = 0usize;
        g.bench_function(BenchmarkId::new("ebur128", block), |b| {
            b.iter(|| {
                r.add_frames_f32(black_box(blocks[i % blocks.len()]))
                    .unwrap();
                i += 1;
            })
        });
    }
    g.finish();
}

fn bench_reads(c: &mut Criterion) {
    let sig = signal();
    let mut live = LiveMeter::new(RATE, 2);
    live.process(&sig);
    let mut r = reference();
    r.add_frames_f32(&sig).unwrap();
    let mut g = c.benchmark_group("read_msi");
    g.bench_function("LiveMeter", |b| {
        b.iter(|| {
            black_box(live.momentary_lufs())
                + black_box(live.short_term_lufs())
                + black_box(live.integrated_lufs())
        })
    });
    g.bench_function("ebur128", |b| {
        b.iter(|| {
            black_box(r.loudness_momentary().unwrap())
                + black_box(r.loudness_shortterm().unwrap())
                + black_box(r.loudness_global().unwrap())
        })
    });
    g.finish();
}

fn bench_block_with_reads(c: &mut Criterion) {
    let sig = signal();
    let mut g = c.benchmark_group("block_with_reads");
    for block in [256usize, 1024] {
        g.throughput(Throughput::Elements(block as u64));
        let blocks: Vec<&[f32]> = sig.chunks_exact(block * 2).collect();
        let mut live = LiveMeter::new(RATE, 2);
        let mut i = 0usize;
        g.bench_function(BenchmarkId::new("LiveMeter", block), |b| {
            b.iter(|| {
                live.process(black_box(blocks[i % blocks.len()]));
                i += 1;
                live.momentary_lufs() + live.short_term_lufs() + live.integrated_lufs()
            })
        });
        let mut r = reference();
        let mut i = 0usize;
        g.bench_function(BenchmarkId::new("ebur128", block), |b| {
            b.iter(|| {
                r.add_frames_f32(black_box(blocks[i % blocks.len()]))
                    .unwrap();
                i += 1;
                r.loudness_momentary().unwrap()
                    + r.loudness_shortterm().unwrap()
                    + r.loudness_global().unwrap()
            })
        });
    }
    g.finish();
}

fn bench_truepeak_push(c: &mut Criterion) {
    let sig = signal();
    let mut g = c.benchmark_group("truepeak_push");
    let block = 1024usize;
    g.throughput(Throughput::Elements(block as u64));
    let blocks: Vec<&[f32]> = sig.chunks_exact(block * 2).collect();
    let mut d = TruePeakDetector::new(RATE, 2);
    let mut i = 0usize;
    g.bench_function(BenchmarkId::new("TruePeakDetector", block), |b| {
        b.iter(|| {
            let mut m = 0.0f32;
            for f in black_box(blocks[i % blocks.len()]).chunks_exact(2) {
                m = m.max(d.push(0, f[0])).max(d.push(1, f[1]));
            }
            i += 1;
            m
        })
    });
    g.finish();
}

criterion_group!(
    benches,
    bench_process,
    bench_reads,
    bench_block_with_reads,
    bench_truepeak_push
);
criterion_main!(benches);
