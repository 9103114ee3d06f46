//! The full chain (input and output meters, AGC, compressor, true-peak limiter) and each of its
//! stages against the `ebur128` crate measuring M, S, I and true peak on the same audio, stereo
//! 48 kHz, in the same run. Every stage with CPU-specific kernels (the meters' K-weighting and
//! both true-peak interpolators) runs twice: with the kernels the CPU allows (`avx`: AVX / AVX2
//! when present) and with the portable ones forced (`portable`,
//! [`headroom_core::util::force_portable`]; the output is the same bit for bit).
//!
//! * `chain_vs_ebur128/<impl>/<block>`: one block of `block` frames (throughput in frames, so
//!   criterion reports frames per second; ns per frame = time / block). The chain copies the
//!   block into its in-place buffer first (a `memcpy`, included).
//! * `stages_vs_ebur128/<stage>/<block>`: each stage alone, as the chain runs it: `meters`
//!   (input and output meter together, [`LiveMeter::process_pair`]), `agc` (gain ramp and
//!   control every 64 frames, fed changing readings), `compressor`, `limiter`; `ebur128` is
//!   the reference again, measured in this group.
//! * `read_msi/<impl>`: reading momentary, short-term and integrated loudness once per block
//!   (`Chain::meters`, which reads them for both input and output, against the three
//!   `ebur128` queries).
//!
//! At the end the bench prints every ratio against the `ebur128` reference of its own group
//! and block size, from criterion's estimates of this run (mean time per block).
//!
//! Run with `cargo bench -p headroom-core --bench chain -- --warm-up-time 1
//! --measurement-time 3`.

use std::hint::black_box;
use std::path::PathBuf;
use std::time::SystemTime;

use criterion::{BenchmarkId, Criterion, Throughput};
use ebur128::{EbuR128, Mode};
use headroom_core::agc::{self, Agc};
use headroom_core::compressor::Compressor;
use headroom_core::limiter::Limiter;
use headroom_core::meter::LiveMeter;
use headroom_core::util::force_portable;
use headroom_core::{Chain, ChainParams};

#[path = "common/signal.rs"]
mod signal;

use signal::{signal, RATE};

const BLOCKS: [usize; 4] = [64, 256, 1024, 4096];
const STAGE_BLOCKS: [usize; 2] = [64, 1024];
/// The two kernel paths: (name, portable forced).
const PATHS: [(&str, bool); 2] = [("avx", false), ("portable", true)];

fn reference() -> EbuR128 {
    EbuR128::new(2, RATE, Mode::M | Mode::S | Mode::I | Mode::TRUE_PEAK).expect("ebur128")
}

/// Benchmarks the `ebur128` reference on `block`-frame blocks as `<group>/ebur128/<block>`.
fn bench_reference(
    g: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    blocks: &[&[f32]],
    block: usize,
) {
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

fn bench_process(c: &mut Criterion) {
    let sig = signal();
    let mut g = c.benchmark_group("chain_vs_ebur128");
    for block in BLOCKS {
        g.throughput(Throughput::Elements(block as u64));
        let blocks: Vec<&[f32]> = sig.chunks_exact(block * 2).collect();
        for (path, portable) in PATHS {
            force_portable(portable);
            let mut chain = Chain::new(RATE, 2, block, &ChainParams::default());
            force_portable(false);
            let mut buf = vec![0.0f32; block * 2];
            let mut i = 0usize;
            g.bench_function(BenchmarkId::new(format!("chain_{path}"), block), |b| {
                b.iter(|| {
                    buf.copy_from_slice(blocks[i % blocks.len()]);
                    chain.process(black_box(&mut buf));
                    i += 1;
                })
            });
        }
        bench_reference(&mut g, &blocks, block);
    }
    g.finish();
}

/// Cost of each stage alone, to see where the chain's time goes on each path.
fn bench_stages(c: &mut Criterion) {
    let sig = signal();
    let p = ChainParams::default();
    let mut g = c.benchmark_group("stages_vs_ebur128");
    for block in STAGE_BLOCKS {
        g.throughput(Throughput::Elements(block as u64));
        let blocks: Vec<&[f32]> = sig.chunks_exact(block * 2).collect();
        let mut buf = vec![0.0f32; block * 2];
        for (path, portable) in PATHS {
            force_portable(portable);
            let mut a = LiveMeter::new(RATE, 2);
            let mut b2 = LiveMeter::new(RATE, 2);
            let mut lim = Limiter::new(RATE, 2, &p.limiter);
            force_portable(false);
            let mut i = 0usize;
            g.bench_function(BenchmarkId::new(format!("meters_{path}"), block), |b| {
                b.iter(|| {
                    let x = blocks[i % blocks.len()];
                    LiveMeter::process_pair(&mut a, black_box(x), &mut b2, black_box(x));
                    i += 1;
                })
            });
            g.bench_function(BenchmarkId::new(format!("limiter_{path}"), block), |b| {
                b.iter(|| {
                    buf.copy_from_slice(blocks[i % blocks.len()]);
                    lim.process(black_box(&mut buf));
                    i += 1;
                })
            });
        }
        // The AGC as the chain runs it: process up to each control point, then control. The
        // readings change every 100 ms (75 steps) so that its gain keeps ramping.
        let mut agc = Agc::new(RATE, 2, &p.agc);
        let mut steps = 0usize;
        let mut pos = 0usize;
        let mut i = 0usize;
        g.bench_function(BenchmarkId::new("agc", block), |b| {
            b.iter(|| {
                buf.copy_from_slice(blocks[i % blocks.len()]);
                let mut rest = &mut buf[..];
                while !rest.is_empty() {
                    let todo = (agc::STEP - pos).min(rest.len() / 2);
                    let (seg, next) = rest.split_at_mut(todo * 2);
                    agc.process(black_box(seg), 2);
                    rest = next;
                    pos += todo;
                    if pos == agc::STEP {
                        pos = 0;
                        steps += 1;
                        let fresh = steps.is_multiple_of(75);
                        let m = -23.0 + 12.0 * ((steps / 75) as f64 * 0.7).sin();
                        agc.control(m, m, fresh);
                    }
                }
                i += 1;
            })
        });
        let mut comp = Compressor::new(RATE, 2, &p.compressor);
        g.bench_function(BenchmarkId::new("compressor", block), |b| {
            b.iter(|| {
                buf.copy_from_slice(blocks[i % blocks.len()]);
                comp.process(black_box(&mut buf));
                i += 1;
            })
        });
        bench_reference(&mut g, &blocks, block);
    }
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

/// Where criterion keeps its estimates (`$CRITERION_HOME`, else the target directory's
/// `criterion`).
fn criterion_dir() -> PathBuf {
    if let Some(home) = std::env::var_os("CRITERION_HOME") {
        return PathBuf::from(home);
    }
    if let Some(t) = std::env::var_os("CARGO_TARGET_DIR") {
        return PathBuf::from(t).join("criterion");
    }
    PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .map(|t| t.join("criterion"))
        .unwrap_or_else(|| PathBuf::from("target/criterion"))
}

/// Mean time per iteration (ns) of `group/id/block` if criterion measured it after `since`.
fn mean_ns(group: &str, id: &str, block: usize, since: SystemTime) -> Option<f64> {
    let path = criterion_dir()
        .join(group)
        .join(id)
        .join(block.to_string())
        .join("new")
        .join("estimates.json");
    let fresh = std::fs::metadata(&path).ok()?.modified().ok()? >= since;
    if !fresh {
        return None;
    }
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()?;
    v.get("mean")?.get("point_estimate")?.as_f64()
}

/// Prints every implementation's ratio against the `ebur128` reference of the same group and
/// block size, for everything measured in this run.
fn print_ratios(since: SystemTime) {
    let groups: [(&str, &[usize], &[&str]); 2] = [
        (
            "chain_vs_ebur128",
            &BLOCKS,
            &["chain_avx", "chain_portable"],
        ),
        (
            "stages_vs_ebur128",
            &STAGE_BLOCKS,
            &[
                "meters_avx",
                "meters_portable",
                "agc",
                "compressor",
                "limiter_avx",
                "limiter_portable",
            ],
        ),
    ];
    println!(
        "\nRatios against the ebur128 crate's M|S|I|TRUE_PEAK, same run (mean time per block):"
    );
    for (group, blocks, ids) in groups {
        for &block in blocks {
            let Some(reference) = mean_ns(group, "ebur128", block, since) else {
                continue;
            };
            let mut line = format!(
                "  {group} block {block:>4}: ebur128 {:.1} ns/frame",
                reference / block as f64
            );
            for id in ids {
                if let Some(t) = mean_ns(group, id, block, since) {
                    line.push_str(&format!(
                        " | {id} {:.1} ns/frame {:.3}x",
                        t / block as f64,
                        t / reference
                    ));
                }
            }
            println!("{line}");
        }
    }
}

fn main() {
    let since = SystemTime::now();
    let mut c = Criterion::default().configure_from_args();
    bench_process(&mut c);
    bench_stages(&mut c);
    bench_reads(&mut c);
    c.final_summary();
    print_ratios(since);
}
