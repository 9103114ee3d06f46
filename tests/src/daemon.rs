//! A running `headroomd` inside a [`Sandbox`], for end-to-end tests, plus signal helpers
//! (latency by cross-correlation, per-window levels).

use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};

use crate::{wait_for, workspace_bin, Sandbox, Wav};

/// `node.name` of the daemon's processed sink.
pub const BUS_SINK: &str = "headroom-processed";
/// `node.name` of the daemon's playback stream.
pub const BUS_OUTPUT: &str = "headroom-output";

/// A `headroomd` child process; killed (SIGKILL) and reaped on drop unless stopped before.
pub struct Daemon {
    child: Option<Child>,
    log: PathBuf,
}

impl Daemon {
    /// Starts the built `headroomd` (debug or release, next to the test binary) in `sb` with
    /// `args`, logging to `headroomd.log` in the sandbox, and waits until it is ready.
    pub fn start(sb: &Sandbox, args: &[&str]) -> Result<Self> {
        Self::start_logging(sb, args, "info")
    }

    /// Like [`Daemon::start`], logging with the `RUST_LOG` filter `log` (unless
    /// `HEADROOM_TEST_LOG` names one): more detail where a test's failure would need it.
    pub fn start_logging(sb: &Sandbox, args: &[&str], log: &str) -> Result<Self> {
        Self::launch(sb, &workspace_bin("headroomd")?, args, log)
    }

    /// Like [`Daemon::start`] with an explicit binary.
    pub fn start_bin(sb: &Sandbox, bin: &std::path::Path, args: &[&str]) -> Result<Self> {
        Self::launch(sb, bin, args, "info")
    }

    /// [`Daemon::spawn_bin`], then waits until the daemon is ready.
    fn launch(sb: &Sandbox, bin: &std::path::Path, args: &[&str], log: &str) -> Result<Self> {
        let mut d = Self::spawn_bin(sb, bin, args, log)?;
        d.wait_ready(sb, Duration::from_secs(10))?;
        Ok(d)
    }

    /// Starts `bin` in `sb` with `args`, logging to `headroomd.log` in the sandbox with the
    /// `RUST_LOG` filter `log_filter` (unless `HEADROOM_TEST_LOG` names one), without
    /// waiting for it to be ready.
    fn spawn_bin(
        sb: &Sandbox,
        bin: &std::path::Path,
        args: &[&str],
        log_filter: &str,
    ) -> Result<Self> {
        let log = sb.path("headroomd.log");
        let f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)?;
        let child = sb
            .command(bin)
            .args(args)
            .env(
                "RUST_LOG",
                std::env::var("HEADROOM_TEST_LOG").unwrap_or_else(|_| log_filter.into()),
            )
            .env("NO_COLOR", "1")
            .stdout(Stdio::null())
            .stderr(f)
            .spawn()
            .with_context(|| format!("starting {}", bin.display()))?;
        Ok(Daemon {
            child: Some(child),
            log,
        })
    }

    /// Waits until the processed sink exists and the bus output is linked to a sink.
    pub fn wait_ready(&mut self, sb: &Sandbox, timeout: Duration) -> Result<()> {
        wait_for("headroomd ready", timeout, || {
            if let Some(c) = self.child.as_mut() {
                if let Some(st) = c.try_wait()? {
                    bail!("headroomd exited: {st}; log:\n{}", self.log());
                }
            }
            Ok(bus_linked(sb)?.then_some(()))
        })
    }

    /// Process id.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// The daemon's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// SIGKILL, reaped.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Sends SIGTERM and waits (up to 5 s) for a clean exit; returns the log.
    pub fn terminate(&mut self) -> Result<String> {
        self.stop_with(libc::SIGTERM)
    }

    /// Sends `signal` and waits (up to 5 s) for a clean exit, as [`Daemon::terminate`] does
    /// for SIGTERM; returns the log.
    pub fn stop_with(&mut self, signal: i32) -> Result<String> {
        let mut c = self.child.take().ok_or_else(|| anyhow!("not running"))?;
        // SAFETY: kill(2) on our own unreaped child.
        unsafe {
            libc::kill(c.id() as i32, signal);
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            if let Some(st) = c.try_wait()? {
                if !st.success() {
                    bail!("headroomd exited with {st}; log:\n{}", self.log());
                }
                return Ok(self.log());
            }
            if Instant::now() > deadline {
                let _ = c.kill();
                let _ = c.wait();
                bail!(
                    "headroomd ignored signal {signal} for 5 s; log:\n{}",
                    self.log()
                );
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// Whether `headroom-processed` exists and `headroom-output` has a link into some node.
pub fn bus_linked(sb: &Sandbox) -> Result<bool> {
    Ok(bus_output_targets(sb)?.is_some_and(|t| !t.is_empty()))
}

/// Names of the nodes `headroom-output` is linked into (`None` while the bus is absent).
pub fn bus_output_targets(sb: &Sandbox) -> Result<Option<Vec<String>>> {
    let dump = sb.dump()?;
    let name_of = |id: u64| {
        dump.iter().find_map(|o| {
            (o["type"] == "PipeWire:Interface:Node" && o["id"].as_u64() == Some(id))
                .then(|| o["info"]["props"]["node.name"].as_str().map(str::to_string))
                .flatten()
        })
    };
    let id_of = |name: &str| {
        dump.iter().find_map(|o| {
            (o["type"] == "PipeWire:Interface:Node" && o["info"]["props"]["node.name"] == name)
                .then(|| o["id"].as_u64())
                .flatten()
        })
    };
    if id_of(BUS_SINK).is_none() {
        return Ok(None);
    }
    let Some(out) = id_of(BUS_OUTPUT) else {
        return Ok(None);
    };
    let mut targets: Vec<String> = dump
        .iter()
        .filter(|o| {
            o["type"] == "PipeWire:Interface:Link"
                && o["info"]["output-node-id"].as_u64() == Some(out)
        })
        .filter_map(|o| o["info"]["input-node-id"].as_u64().and_then(name_of))
        .collect();
    targets.sort();
    targets.dedup();
    Ok(Some(targets))
}

/// Parses `key=value` pairs from the daemon's "audio bus stopped" log line.
pub fn bus_stats_from_log(log: &str) -> Option<std::collections::BTreeMap<String, String>> {
    let line = log
        .lines()
        .rev()
        .find(|l| l.contains("audio bus stopped"))?;
    Some(
        line.split_whitespace()
            .filter_map(|w| w.split_once('='))
            .map(|(k, v)| (k.to_string(), v.trim_matches('"').to_string()))
            .collect(),
    )
}

/// A mono view (left channel) of a WAV.
pub fn left(w: &Wav) -> Vec<f32> {
    w.samples
        .iter()
        .step_by(w.channels.max(1))
        .copied()
        .collect()
}

/// The lag (in frames) of `b` relative to `a` that maximises their cross-correlation, searched
/// over `0..=max_lag`; with the normalised correlation at that lag. Uses the first `len` frames
/// of `a` from `a_start`.
pub fn best_lag(a: &[f32], b: &[f32], a_start: usize, len: usize, max_lag: usize) -> (usize, f64) {
    let seg = &a[a_start.min(a.len())..(a_start + len).min(a.len())];
    let ea: f64 = seg.iter().map(|&x| (x as f64).powi(2)).sum();
    let mut best = (0, f64::MIN);
    for lag in 0..=max_lag {
        let start = a_start + lag;
        if start + seg.len() > b.len() {
            break;
        }
        let other = &b[start..start + seg.len()];
        let (mut dot, mut eb) = (0f64, 0f64);
        for (&x, &y) in seg.iter().zip(other) {
            dot += x as f64 * y as f64;
            eb += (y as f64).powi(2);
        }
        let c = if ea > 0.0 && eb > 0.0 {
            dot / (ea * eb).sqrt()
        } else {
            0.0
        };
        if c > best.1 {
            best = (lag, c);
        }
    }
    best
}

/// Writes a WAV and returns its path in the sandbox.
pub fn write_wav(sb: &Sandbox, name: &str, w: &Wav) -> Result<PathBuf> {
    let p = sb.path(name);
    w.write(&p)?;
    Ok(p)
}

/// Deterministic noise bursts: `secs` of white-ish noise at `rms_dbfs`, shaped into 200 ms
/// bursts separated by 100 ms of silence — a signal whose onsets make cross-correlation exact.
pub fn bursts(rms_dbfs: f64, secs: f64, seed: u32) -> Wav {
    let rate = 48_000u32;
    let n = (secs * rate as f64) as usize;
    let amp = 10f64.powf(rms_dbfs / 20.0) * 3f64.sqrt();
    let mut x = seed.max(1);
    let mut samples = Vec::with_capacity(n * 2);
    for i in 0..n {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        let on = (i % 14_400) < 9_600;
        let v = if on {
            ((x as f64 / u32::MAX as f64) * 2.0 - 1.0) * amp
        } else {
            0.0
        };
        samples.push(v as f32);
        samples.push(v as f32);
    }
    Wav {
        rate,
        channels: 2,
        samples,
    }
}

/// Concatenates WAVs of the same format.
pub fn concat(parts: &[Wav]) -> Wav {
    let mut out = Wav {
        rate: parts.first().map_or(48_000, |p| p.rate),
        channels: parts.first().map_or(2, |p| p.channels),
        samples: Vec::new(),
    };
    for p in parts {
        out.samples.extend_from_slice(&p.samples);
    }
    out
}

/// Helper for tests that must fail with the daemon's log attached.
pub fn with_log<T>(d: &Daemon, r: Result<T>) -> Result<T> {
    r.map_err(|e| e.context(format!("headroomd log:\n{}", d.log())))
}

/// The `object.serial` of the node named `name`.
pub fn node_serial(sb: &Sandbox, name: &str) -> Result<Option<u64>> {
    for o in sb.dump()? {
        if o["type"] == "PipeWire:Interface:Node" && o["info"]["props"]["node.name"] == name {
            return Ok(o["info"]["props"]["object.serial"].as_u64());
        }
    }
    Ok(None)
}

/// Runs `pw-metadata -n settings 0 clock.force-quantum N` (0 restores the default).
pub fn force_quantum(sb: &Sandbox, quantum: u32) -> Result<()> {
    let st = sb
        .command("pw-metadata")
        .args([
            "-n",
            "settings",
            "0",
            "clock.force-quantum",
            &quantum.to_string(),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()?;
    if !st.success() {
        bail!("pw-metadata clock.force-quantum failed: {st}");
    }
    Ok(())
}

/// Links port `from` to port `to` (`node:port` names) with `pw-link`; false when it fails
/// (e.g. a port does not exist yet).
pub fn pw_link(sb: &Sandbox, from: &str, to: &str) -> Result<bool> {
    Ok(sb
        .command("pw-link")
        .args([from, to])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()?
        .success())
}

/// Records the left channels of `input_sink`'s and `output_sink`'s monitors sample-aligned
/// in one 4-channel stream (channels 0 and 2), e.g. to measure what a filter sink between
/// them adds.
pub fn record_io(
    sb: &Sandbox,
    input_sink: &str,
    output_sink: &str,
    out: &std::path::Path,
) -> Result<crate::Recorder> {
    let child = sb
        .command("pw-record")
        .args([
            "-P",
            "{ node.autoconnect=false node.name=hr-bus-io }",
            "--rate",
            "48000",
            "--channels",
            "4",
            "--channel-map",
            "FL,FR,RL,RR",
            "--format",
            "f32",
        ])
        .arg(out)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("starting pw-record")?;
    let rec = crate::Recorder::from_child(child, out);
    let link = |from: &str, to: &str| pw_link(sb, from, to);
    wait_for("hr-bus-io ports linked", Duration::from_secs(5), || {
        let a = link(&format!("{input_sink}:monitor_FL"), "hr-bus-io:input_FL")?;
        Ok(a.then_some(()))
    })?;
    wait_for("hr-bus-io real sink linked", Duration::from_secs(5), || {
        let b = link(&format!("{output_sink}:monitor_FL"), "hr-bus-io:input_RL")?;
        Ok(b.then_some(()))
    })?;
    Ok(rec)
}

/// Channel `ch` of an interleaved WAV.
pub fn channel(w: &Wav, ch: usize) -> Vec<f32> {
    w.samples
        .iter()
        .skip(ch)
        .step_by(w.channels.max(1))
        .copied()
        .collect()
}

/// Moves the stream node `node_id` with `target.object` in the `default` metadata, as the
/// daemon's routing does (`None` deletes the key).
pub fn move_stream(sb: &Sandbox, node_id: u32, target: Option<&str>) -> Result<()> {
    let mut c = sb.command("pw-metadata");
    c.args(["-n", "default"]);
    match target {
        Some(t) => c.args([&node_id.to_string(), "target.object", t]),
        None => c.args(["-d", &node_id.to_string(), "target.object"]),
    };
    let st = c.stdout(Stdio::null()).stderr(Stdio::null()).status()?;
    if !st.success() {
        bail!("pw-metadata failed: {st}");
    }
    Ok(())
}

/// Names of the nodes the node `node_id` is linked into.
pub fn link_targets(sb: &Sandbox, node_id: u32) -> Result<Vec<String>> {
    let dump = sb.dump()?;
    let mut v: Vec<String> = dump
        .iter()
        .filter(|o| {
            o["type"] == "PipeWire:Interface:Link"
                && o["info"]["output-node-id"].as_u64() == Some(node_id as u64)
        })
        .filter_map(|o| {
            let id = o["info"]["input-node-id"].as_u64()?;
            dump.iter().find_map(|n| {
                (n["type"] == "PipeWire:Interface:Node" && n["id"].as_u64() == Some(id))
                    .then(|| n["info"]["props"]["node.name"].as_str().map(str::to_string))
                    .flatten()
            })
        })
        .collect();
    v.sort();
    v.dedup();
    Ok(v)
}

/// The id of the first node whose `application.name` is `app`.
pub fn node_id_by_app(sb: &Sandbox, app: &str) -> Result<Option<u32>> {
    for o in sb.dump()? {
        if o["type"] == "PipeWire:Interface:Node" && o["info"]["props"]["application.name"] == app {
            return Ok(o["id"].as_u64().map(|v| v as u32));
        }
    }
    Ok(None)
}

/// Pids of processes named `comm` started by the sandbox `sb` (their environment carries the
/// sandbox marker with this sandbox's directory).
pub fn sandbox_pids(sb: &Sandbox, comm: &str) -> Vec<i32> {
    let marker = format!("{}={}", crate::SANDBOX_MARKER, sb.dir().display());
    let mut pids = Vec::new();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return pids;
    };
    for e in dir.flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let name = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
        if name.trim() != comm {
            continue;
        }
        let env = std::fs::read(format!("/proc/{pid}/environ")).unwrap_or_default();
        if env.split(|&b| b == 0).any(|kv| kv == marker.as_bytes()) {
            pids.push(pid);
        }
    }
    pids
}

/// Starts the built `headroomd` in `sb` with `args` like [`Daemon::start`], without waiting for
/// it to be ready (e.g. while PipeWire is down).
pub fn spawn_daemon(sb: &Sandbox, args: &[&str]) -> Result<Daemon> {
    Daemon::spawn_bin(sb, &crate::workspace_bin("headroomd")?, args, "info")
}
