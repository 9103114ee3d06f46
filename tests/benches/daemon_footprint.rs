//! Memory and CPU of the release `headroomd` in a headless PipeWire sandbox, against a reference
//! measured in the same run: PipeWire's own `pw-loopback` (the same stream-pair sink shape, no
//! processing) carrying the same signal at the same quantum.
//!
//! Run with `make bench` or, after `cargo build --release -p headroomd`,
//! `cargo bench -p headroom-tests --bench daemon_footprint`. Prints one table: RSS idle and
//! while processing (quantum 256, one application stream, so one Layer A tap), CPU while
//! processing, each with its ratio to the reference, and the RSS goal (≤ 12 MB). Then the cost
//! as the work grows: CPU and RSS with 1, 8 and 32 application streams playing at once (each
//! tapped by headroomd, each a stream into `pw-loopback`'s sink for the reference), and per
//! added stream.

use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use headroom_tests::daemon::{
    force_quantum, link_targets, node_id_by_app, write_wav, Daemon, BUS_SINK,
};
use headroom_tests::{sine, wait_for, workspace_bin, Sandbox};

/// The quantum the processing figures are taken at.
const QUANTUM: u32 = 256;
/// How long CPU time is summed over.
const CPU_WINDOW: Duration = Duration::from_secs(5);
/// The RSS goal for the daemon while processing, kB.
const RSS_GOAL_KB: u64 = 12 * 1024;
/// Numbers of simultaneous streams for the cost-as-the-work-grows figures.
const STREAMS: [usize; 3] = [1, 8, 32];
/// Name prefix of headroom's tap nodes.
const TAP_PREFIX: &str = "headroom-tap-";

/// Resident set size of `pid`, kB.
fn rss_kb(pid: u32) -> Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .context("no VmRSS")
}

/// CPU time of every thread of `pid` so far, ns (from each task's schedstat).
fn cpu_ns(pid: u32) -> Result<u64> {
    let mut total = 0;
    for t in std::fs::read_dir(format!("/proc/{pid}/task"))? {
        let s = std::fs::read_to_string(t?.path().join("schedstat")).unwrap_or_default();
        total += s
            .split_whitespace()
            .next()
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0);
    }
    Ok(total)
}

/// CPU use of `pid` over [`CPU_WINDOW`], percent of one core.
fn cpu_percent(pid: u32) -> Result<f64> {
    let (t0, c0) = (Instant::now(), cpu_ns(pid)?);
    std::thread::sleep(CPU_WINDOW);
    let (t1, c1) = (Instant::now(), cpu_ns(pid)?);
    Ok((c1 - c0) as f64 / (t1 - t0).as_nanos() as f64 * 100.0)
}

/// One process's figures.
struct Figures {
    idle_rss_kb: u64,
    rss_kb: u64,
    cpu: f64,
}

/// Plays `wav` into `sink` and measures `pid` while it flows.
fn measure(sb: &Sandbox, pid: u32, sink: &str, wav: &Path, app: &str) -> Result<Figures> {
    // Idle: the process is up (its sink exists) and nothing plays yet.
    let idle_rss_kb = rss_kb(pid)?;
    let mut player: Child = sb
        .play_cmd(wav, sink, &[&format!("application.name={app}")])
        .spawn()?;
    wait_for("player linked", Duration::from_secs(5), || {
        let Some(id) = node_id_by_app(sb, app)? else {
            return Ok(None);
        };
        Ok((!link_targets(sb, id)?.is_empty()).then_some(()))
    })?;
    // Two seconds of steady state before measuring (meters, taps and buffers all in use).
    std::thread::sleep(Duration::from_secs(2));
    let cpu = cpu_percent(pid)?;
    let rss = rss_kb(pid)?;
    let _ = player.kill();
    let _ = player.wait();
    Ok(Figures {
        idle_rss_kb,
        rss_kb: rss,
        cpu,
    })
}

/// Number of headroom tap nodes in the graph.
fn tap_count(sb: &Sandbox) -> Result<usize> {
    Ok(sb
        .dump()?
        .iter()
        .filter(|o| {
            o["type"] == "PipeWire:Interface:Node"
                && o["info"]["props"]["node.name"]
                    .as_str()
                    .is_some_and(|n| n.starts_with(TAP_PREFIX))
        })
        .count())
}

/// Plays `wav` as `n` streams at once into `sink` (apps `<app>-0` …) and measures `pid` (CPU,
/// RSS) once every stream is linked and, with `taps`, tapped; stops them and waits until
/// their taps are gone. Returns (CPU %, RSS kB).
fn measure_streams(
    sb: &Sandbox,
    pid: u32,
    sink: &str,
    wav: &Path,
    app: &str,
    n: usize,
    taps: bool,
) -> Result<(f64, u64)> {
    let mut players = Vec::with_capacity(n);
    let r = (|| {
        for k in 0..n {
            let name = format!("{app}-{k}");
            players.push(
                sb.play_cmd(wav, sink, &[&format!("application.name={name}")])
                    .spawn()?,
            );
        }
        wait_for("all players linked", Duration::from_secs(30), || {
            for k in 0..n {
                let Some(id) = node_id_by_app(sb, &format!("{app}-{k}"))? else {
                    return Ok(None);
                };
                if link_targets(sb, id)?.is_empty() {
                    return Ok(None);
                }
            }
            Ok(Some(()))
        })?;
        if taps {
            wait_for("every stream tapped", Duration::from_secs(30), || {
                Ok((tap_count(sb)? >= n).then_some(()))
            })?;
        }
        std::thread::sleep(Duration::from_secs(2));
        let cpu = cpu_percent(pid)?;
        Ok((cpu, rss_kb(pid)?))
    })();
    for p in &mut players {
        let _ = p.kill();
        let _ = p.wait();
    }
    if taps {
        wait_for("taps removed", Duration::from_secs(30), || {
            Ok((tap_count(sb)? == 0).then_some(()))
        })?;
    }
    r
}

/// [`measure_streams`] for every count in [`STREAMS`].
fn scaling(
    sb: &Sandbox,
    pid: u32,
    sink: &str,
    wav: &Path,
    app: &str,
    taps: bool,
) -> Result<Vec<(f64, u64)>> {
    STREAMS
        .iter()
        .map(|&n| measure_streams(sb, pid, sink, wav, app, n, taps))
        .collect()
}

fn reference(sb: &Sandbox, wav: &Path) -> Result<(Figures, Vec<(f64, u64)>)> {
    let mut lb = sb
        .command("pw-loopback")
        .args([
            "-m",
            "[ FL FR ]",
            "--capture-props",
            "media.class=Audio/Sink node.name=footprint-reference",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("starting pw-loopback")?;
    let r = (|| {
        wait_for("pw-loopback sink", Duration::from_secs(5), || {
            Ok(sb.node_id("footprint-reference")?.map(|_| ()))
        })?;
        let one = measure(
            sb,
            lb.id(),
            "footprint-reference",
            wav,
            "footprint-ref-tone",
        )?;
        let grown = scaling(
            sb,
            lb.id(),
            "footprint-reference",
            wav,
            "footprint-ref-many",
            false,
        )?;
        Ok((one, grown))
    })();
    let _ = lb.kill();
    let _ = lb.wait();
    r
}

fn main() -> Result<()> {
    // Test harnesses that list benchmarks (`--list`) get none: this one runs as a whole.
    if std::env::args().any(|a| a == "--list") {
        return Ok(());
    }
    let bin = workspace_bin("headroomd")?;
    if !bin.to_string_lossy().contains("/release/") {
        bail!("run as a benchmark (release build): {}", bin.display());
    }
    let sb = Sandbox::start()?;
    force_quantum(&sb, QUANTUM)?;
    let wav = write_wav(&sb, "footprint.wav", &sine(440.0, -20.0, 30.0))?;

    let (reference, ref_grown) = reference(&sb, &wav)?;
    let d = Daemon::start_bin(&sb, &bin, &[])?;
    let pid = d.pid().context("headroomd pid")?;
    let ours = measure(&sb, pid, BUS_SINK, &wav, "footprint-tone")?;
    let grown = scaling(&sb, pid, BUS_SINK, &wav, "footprint-many", true)?;

    let ratio = |a: f64, b: f64| if b > 0.0 { a / b } else { f64::NAN };
    let mb = |kb: u64| kb as f64 / 1024.0;
    println!("daemon footprint, quantum {QUANTUM}, one stream (release build)");
    println!(
        "{:<28} {:>12} {:>14} {:>8}",
        "", "headroomd", "pw-loopback", "ratio"
    );
    println!(
        "{:<28} {:>9.1} MB {:>11.1} MB {:>7.2}×",
        "RSS idle",
        mb(ours.idle_rss_kb),
        mb(reference.idle_rss_kb),
        ratio(ours.idle_rss_kb as f64, reference.idle_rss_kb as f64)
    );
    println!(
        "{:<28} {:>9.1} MB {:>11.1} MB {:>7.2}×",
        "RSS processing",
        mb(ours.rss_kb),
        mb(reference.rss_kb),
        ratio(ours.rss_kb as f64, reference.rss_kb as f64)
    );
    println!(
        "{:<28} {:>10.2} % {:>12.2} % {:>7.2}×",
        "CPU processing (one core)",
        ours.cpu,
        reference.cpu,
        ratio(ours.cpu, reference.cpu)
    );
    println!(
        "RSS goal ≤ {:.0} MB while processing: {}",
        mb(RSS_GOAL_KB),
        if ours.rss_kb <= RSS_GOAL_KB {
            "met"
        } else {
            "MISSED"
        }
    );
    println!();
    println!("cost as the work grows, quantum {QUANTUM} (headroomd: one Layer A tap per stream)");
    println!(
        "{:<10} {:>14} {:>14} {:>14} {:>14}",
        "streams", "headroomd CPU", "pw-loopback", "headroomd RSS", "pw-loopback"
    );
    for ((n, o), r) in STREAMS.iter().zip(&grown).zip(&ref_grown) {
        println!(
            "{:<10} {:>12.2} % {:>12.2} % {:>11.1} MB {:>11.1} MB",
            n,
            o.0,
            r.0,
            mb(o.1),
            mb(r.1)
        );
    }
    // Per added stream: the slope from the first count to each larger one.
    if let (Some(&n0), Some(o0), Some(r0)) = (STREAMS.first(), grown.first(), ref_grown.first()) {
        for ((&n, o), r) in STREAMS.iter().zip(&grown).zip(&ref_grown).skip(1) {
            let k = (n - n0) as f64;
            println!(
                "per added stream, {n0} → {n}: headroomd {:+.3} % CPU, {:+.0} kB RSS; \
                 pw-loopback {:+.3} % CPU, {:+.0} kB RSS",
                (o.0 - o0.0) / k,
                (o.1 as f64 - o0.1 as f64) / k,
                (r.0 - r0.0) / k,
                (r.1 as f64 - r0.1 as f64) / k,
            );
        }
    }
    Ok(())
}
