//! The chain's CPU time against the `ebur128` crate's M|S|I|TRUE_PEAK metering, measured as
//! this thread's CPU time (`/proc/thread-self/schedstat`, Linux) with the reference and each
//! chain run alternately in one process, so that load from other processes affects them
//! alike. Complements the criterion bench (`benches/chain.rs`, same signal) on a loaded
//! machine.
//!
//! `cargo run --release -p headroom-core --example chain_cpu -- [block] [rounds] [path]`
//! prints, for the AVX and the portable path, the fastest round's ns per frame and its ratio
//! to the reference's fastest round (one round = 250 s of stereo 48 kHz audio). `path`
//! (`avx` or `portable`) runs that path alone, for a profile of one path.

use ebur128::{EbuR128, Mode};
use headroom_core::util::force_portable;
use headroom_core::{Chain, ChainParams};

#[path = "../benches/common/signal.rs"]
mod signal;

use signal::{signal, RATE};

/// Times the 10-s signal is processed per round: the thread's CPU clock advances in
/// scheduler ticks on some kernels, so a round must be long against a tick (≈ 0.2 s here).
const PASSES: usize = 25;

/// CPU time of this thread so far, ns.
fn cpu_ns() -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|t| t.split_whitespace().next()?.parse().ok())
        .expect("/proc/thread-self/schedstat (Linux)")
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let block: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(256);
    let rounds: usize = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(9);
    let only = args.get(3).map(String::as_str);
    let sig = signal();
    let frames = (sig.len() / 2 * PASSES) as f64;
    let mut reference =
        EbuR128::new(2, RATE, Mode::M | Mode::S | Mode::I | Mode::TRUE_PEAK).expect("ebur128");
    let mut chains: Vec<(&str, Chain)> = [("avx", false), ("portable", true)]
        .into_iter()
        .filter(|(name, _)| only.is_none_or(|o| o == *name))
        .map(|(name, portable)| {
            force_portable(portable);
            let c = Chain::new(RATE, 2, block, &ChainParams::default());
            force_portable(false);
            (name, c)
        })
        .collect();
    let mut buf = vec![0.0f32; block * 2];
    let mut best = vec![f64::INFINITY; chains.len() + 1];
    for _ in 0..rounds {
        let t0 = cpu_ns();
        for _ in 0..PASSES {
            for b in sig.chunks_exact(block * 2) {
                reference.add_frames_f32(b).expect("add frames");
            }
        }
        best[0] = best[0].min((cpu_ns() - t0) as f64 / frames);
        for (k, (_, chain)) in chains.iter_mut().enumerate() {
            let t0 = cpu_ns();
            for _ in 0..PASSES {
                for b in sig.chunks_exact(block * 2) {
                    buf.copy_from_slice(b);
                    chain.process(std::hint::black_box(&mut buf));
                }
            }
            best[k + 1] = best[k + 1].min((cpu_ns() - t0) as f64 / frames);
        }
    }
    let mut line = format!("block {block:5}: ebur128 {:.1} ns/frame", best[0]);
    for (k, (name, _)) in chains.iter().enumerate() {
        let t = best[k + 1];
        line += &format!(" | chain_{name} {t:.1} ns/frame {:.3}x", t / best[0]);
    }
    println!("{line}");
}
