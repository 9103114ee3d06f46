//! Memory and CPU of the release `headroomd` in a headless PipeWire sandbox, against a reference
//! measured in the same run: PipeWire's own `pw-loopback` (the same stream-pair sink shape, no
//! processing) carrying the same signal at the same quantum.
//!
//! Run with `make bench` or, after `cargo build --release -p headroomd`,
//! `cargo bench -p headroom-tests --bench daemon_footprint`. Prints one table: RSS idle and
//! while processing (quantum 256, one application stream, so one Layer A tap), CPU while
//! processing, each with its ratio to the reference, and the RSS goal (≤ 12 MB); the same
//! stream with Layer A turned off (no tap: the bus alone). The reference is measured twice:
//! as `pw-loopback` runs by default (its data thread on normal scheduling) and with a
//! real-time data thread (`client-rt.conf`), as headroomd's is; on a virtual machine the
//! real-time wakeups alone cost about as much as the whole default `pw-loopback`, so the
//! second is the like-for-like figure. Then headroomd and both references carrying one
//! stream each, each in a sandbox (a graph) of its own, all three at the same time over the
//! same windows (the load of a shared machine moves between windows seconds apart; this way
//! it weighs on all three alike): the medians and the window-by-window ratios. Then the cost
//! as the work grows: CPU and RSS with 1, 8 and 32 application streams playing at once (each
//! tapped by headroomd, each a stream into `pw-loopback`'s sink for the reference), and per
//! added stream, with the xruns headroomd's own counters saw meanwhile (the 32-stream window
//! lasts 60 s). Last, headroomd idle again after all of that (no stream, no subscriber): its
//! CPU time and its threads' wakeups (context switches) over 60 s.
//!
//! A window counts only when its streams are verified, not assumed: it starts once a look at
//! the graph shows every player's stream running and linked into its sink (and, for
//! headroomd with Layer A on, its tap running and linked from it; with Layer A off, no tap),
//! and at its end the very same streams and taps (the same object serials: none went and
//! came back) must still be there, with every player still running and its file not yet
//! played out. A window that fails this is printed marked NOT VALID with the reason, and the
//! run fails once everything is printed.
//!
//! `HEADROOM_FOOTPRINT_SMOKE=1` runs a short correctness version (any build, no reference,
//! one tapped stream for 2 s, idle for 3 s; `make test` runs it with
//! `cargo test -p headroom-tests --bench daemon_footprint`): it checks that the stream was
//! tapped and processed, that the daemon answered `status` with its xrun counter, and that
//! idle it has no periodic wakeups (a count, not a timing: the ticking daemon had ≈ 30 a
//! second). It prints the same figures and asserts no timing.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use headroom_tests::daemon::{force_quantum, write_wav, Daemon, BUS_SINK};
use headroom_tests::{sine, wait_for, workspace_bin, Sandbox, DEFAULT_SINK};

/// The quantum the processing figures are taken at.
const QUANTUM: u32 = 256;
/// The RSS goal for the daemon while processing, kB.
const RSS_GOAL_KB: u64 = 12 * 1024;
/// Windows of the same-window comparison (headroomd and both references at once).
const SAME_WINDOWS: usize = 8;
/// Longest wait for the streams of a window to be ready.
const READY_TIMEOUT: Duration = Duration::from_secs(30);
/// Steady state before a window starts (meters, taps and buffers all in use), once its
/// streams are ready.
const WARM_UP: Duration = Duration::from_secs(2);
/// How much longer the played file lasts than the longest a window can end after its
/// players start (their start, the ready wait, the warm-up and the window).
const PLAY_MARGIN: Duration = Duration::from_secs(10);
/// Most wakeups the smoke run allows over its idle window (external events such as the
/// session manager suspending the sink may wake the daemon a few times; a periodic tick
/// would wake it ≈ 90 times).
const SMOKE_IDLE_WAKEUPS_MAX: u64 = 10;

/// How long the run measures: the full benchmark or the smoke run.
#[derive(Debug, Clone)]
struct Mode {
    smoke: bool,
    /// How long CPU time is summed over.
    cpu_window: Duration,
    /// Numbers of simultaneous streams for the cost-as-the-work-grows figures.
    streams: Vec<usize>,
    /// The window at the largest count (xruns over it are reported).
    long_window: Duration,
    /// The idle window.
    idle_window: Duration,
}

impl Mode {
    fn from_env() -> Mode {
        if std::env::var_os("HEADROOM_FOOTPRINT_SMOKE").is_some_and(|v| v != "0") {
            Mode {
                smoke: true,
                cpu_window: Duration::from_secs(2),
                streams: vec![1],
                long_window: Duration::from_secs(2),
                idle_window: Duration::from_secs(3),
            }
        } else {
            Mode {
                smoke: false,
                cpu_window: Duration::from_secs(5),
                streams: vec![1, 8, 32],
                long_window: Duration::from_secs(60),
                idle_window: Duration::from_secs(60),
            }
        }
    }

    /// The CPU window for `n` streams.
    fn window(&self, n: usize) -> Duration {
        if Some(&n) == self.streams.last() {
            self.long_window
        } else {
            self.cpu_window
        }
    }

    /// Seconds of the played file: it outlasts every window, even one that starts only as
    /// the ready wait times out (the same-window comparison's windows count as one).
    fn wav_secs(&self) -> f64 {
        let longest = self.long_window.max(self.cpu_window * SAME_WINDOWS as u32);
        (READY_TIMEOUT + WARM_UP + longest + PLAY_MARGIN).as_secs_f64()
    }
}
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

/// CPU use of `pid` over `window`, percent of one core.
fn cpu_percent(pid: u32, window: Duration) -> Result<f64> {
    let (t0, c0) = (Instant::now(), cpu_ns(pid)?);
    std::thread::sleep(window);
    let (t1, c1) = (Instant::now(), cpu_ns(pid)?);
    Ok(c1.saturating_sub(c0) as f64 / (t1 - t0).as_nanos() as f64 * 100.0)
}

/// Context switches (voluntary and not) of every thread of `pid` so far: how often its
/// threads woke up or were woken. (A thread that ends takes its count with it, so
/// differences are taken saturating; a connection thread of the control socket ends after
/// its client.)
fn wakeups(pid: u32) -> Result<u64> {
    let mut total = 0;
    for t in std::fs::read_dir(format!("/proc/{pid}/task"))? {
        let s = std::fs::read_to_string(t?.path().join("status")).unwrap_or_default();
        total += s
            .lines()
            .filter(|l| {
                l.starts_with("voluntary_ctxt_switches:")
                    || l.starts_with("nonvoluntary_ctxt_switches:")
            })
            .filter_map(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
            .sum::<u64>();
    }
    Ok(total)
}

/// Turns Layer A (and so the per-stream taps) on or off in the sandbox's headroomd.
fn set_layer_a(sb: &Sandbox, on: bool) -> Result<()> {
    headroom_client::Client::connect_to(sb.control_socket())?
        .setting_set("layer_a.enabled", headroom_ipc::SettingValue::Bool(on))?;
    Ok(())
}

/// headroomd's status over its control socket in the sandbox.
fn status(sb: &Sandbox) -> Result<headroom_ipc::Status> {
    Ok(headroom_client::Client::connect_to(sb.control_socket())?.status()?)
}

/// Idle figures: CPU time and wakeups over a window.
struct Idle {
    window: Duration,
    cpu_ms: f64,
    wakeups: u64,
    /// RSS at the end of the window, kB.
    rss_kb: u64,
}

/// Whether the graph has suspended the node named `name` (the session manager suspends
/// nodes a few seconds after they last ran).
fn suspended(sb: &Sandbox, name: &str) -> Result<bool> {
    Ok(sb.dump()?.iter().any(|o| {
        o["type"] == "PipeWire:Interface:Node"
            && o["info"]["props"]["node.name"] == name
            && o["info"]["state"] == "suspended"
    }))
}

/// Waits until headroomd has settled — no alert active (an alert's clearing is timed: an
/// `xrun_burst` after xruns on a loaded machine keeps the daemon ticking until it clears,
/// 60 s later), its sink suspended by the graph, then a whole second without a wakeup (or
/// 30 s) — then measures its CPU time and wakeups over `window`, and its RSS after it.
fn measure_idle(sb: &Sandbox, pid: u32, window: Duration) -> Result<Idle> {
    wait_for("no alert active", Duration::from_secs(90), || {
        Ok(status(sb)?.alerts.is_empty().then_some(()))
    })?;
    wait_for(
        "the processed sink suspended",
        Duration::from_secs(30),
        || Ok(suspended(sb, BUS_SINK)?.then_some(())),
    )?;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let w0 = wakeups(pid)?;
        std::thread::sleep(Duration::from_secs(1));
        if wakeups(pid)? == w0 || Instant::now() > deadline {
            break;
        }
    }
    let (c0, w0, t0) = (cpu_ns(pid)?, wakeups(pid)?, Instant::now());
    std::thread::sleep(window);
    let (c1, w1, t1) = (cpu_ns(pid)?, wakeups(pid)?, Instant::now());
    Ok(Idle {
        window: t1 - t0,
        cpu_ms: c1.saturating_sub(c0) as f64 / 1e6,
        wakeups: w1.saturating_sub(w0),
        rss_kb: rss_kb(pid)?,
    })
}

/// One process's figures.
struct Figures {
    idle_rss_kb: u64,
    rss_kb: u64,
    cpu: f64,
    /// How its streams were found.
    check: Verdict,
}

/// Plays `wav` into `sink` and measures `pid` while it flows; with `tapped`, the stream must
/// carry a headroomd tap, else none.
#[allow(clippy::too_many_arguments)]
fn measure(
    sb: &Sandbox,
    pid: u32,
    sink: &str,
    wav: &Path,
    app: &str,
    tapped: bool,
    mode: &Mode,
) -> Result<Figures> {
    // Idle: the process is up (its sink exists) and nothing plays yet.
    let idle_rss_kb = rss_kb(pid)?;
    let mut players = Players::spawn(sb, wav, mode.wav_secs(), sink, &[app.into()], tapped)?;
    let r = over_window(sb, &mut players, mode.cpu_window, || {
        Ok((cpu_percent(pid, mode.cpu_window)?, rss_kb(pid)?))
    });
    let stopped = players.stop(sb);
    let ((cpu, rss), check) = r?;
    stopped?;
    Ok(Figures {
        idle_rss_kb,
        rss_kb: rss,
        cpu,
        check,
    })
}

/// A player of `wav` into `sink` as app `app`, with a real-time data thread (as the soak's:
/// a late player on a busy machine is not a missed cycle of the sink it plays into).
fn player(sb: &Sandbox, wav: &Path, sink: &str, app: &str) -> std::process::Command {
    let mut c = sb.play_cmd(wav, sink, &[&format!("application.name={app}")]);
    c.env("PIPEWIRE_CONFIG_NAME", "client-rt.conf");
    c
}

/// The application streams of one measurement: a player per app name, all into one sink,
/// each stream tapped by headroomd or none of them. Killed when dropped.
struct Players {
    children: Vec<Child>,
    apps: Vec<String>,
    sink: String,
    /// Whether every stream must carry a tap (else none may).
    tapped: bool,
    /// When the first player started: none has played longer.
    started: Instant,
    /// Seconds of the played file: a player ends that long after it starts playing.
    wav_secs: f64,
}

/// What one look at the graph shows of a measurement's streams.
#[derive(Debug, Default)]
struct Look {
    /// The `object.serial` of each stream that plays as the measurement needs, and of its
    /// tap (when tapped), by app name.
    playing: BTreeMap<String, (u64, Option<u64>)>,
    /// Why each of the others does not, one entry per stream.
    not: Vec<String>,
}

impl Players {
    /// Starts a player of `wav` (`wav_secs` long) into `sink` for each of `apps`.
    fn spawn(
        sb: &Sandbox,
        wav: &Path,
        wav_secs: f64,
        sink: &str,
        apps: &[String],
        tapped: bool,
    ) -> Result<Players> {
        let mut me = Players {
            children: Vec::with_capacity(apps.len()),
            apps: apps.to_vec(),
            sink: sink.into(),
            tapped,
            started: Instant::now(),
            wav_secs,
        };
        for app in apps {
            me.children.push(
                player(sb, wav, sink, app)
                    .spawn()
                    .context("starting pw-play")?,
            );
        }
        Ok(me)
    }

    /// One look at the graph (a single `pw-dump`): a stream plays as needed when its player
    /// runs, its node is running and actively linked into the sink, and, with `tapped`, its
    /// tap node (`headroom-tap-<node id>`) is running and actively linked from it; without,
    /// it has no tap.
    fn look(&mut self, sb: &Sandbox) -> Result<Look> {
        let dump = sb.dump()?;
        let nodes: Vec<&serde_json::Value> = dump
            .iter()
            .filter(|o| o["type"] == "PipeWire:Interface:Node")
            .collect();
        let by_name = |name: &str| {
            nodes
                .iter()
                .find(|n| n["info"]["props"]["node.name"] == name)
                .copied()
        };
        let linked = |from: u64, to: u64| {
            dump.iter().any(|o| {
                o["type"] == "PipeWire:Interface:Link"
                    && o["info"]["output-node-id"].as_u64() == Some(from)
                    && o["info"]["input-node-id"].as_u64() == Some(to)
                    && o["info"]["state"] == "active"
            })
        };
        let serial = |n: &serde_json::Value| n["info"]["props"]["object.serial"].as_u64();
        let state = |n: &serde_json::Value| n["info"]["state"].as_str().unwrap_or("?").to_owned();
        let sink = by_name(&self.sink).and_then(|n| n["id"].as_u64());
        let mut look = Look::default();
        for (app, child) in self.apps.iter().zip(&mut self.children) {
            let mut one = || -> std::result::Result<(u64, Option<u64>), String> {
                if let Ok(Some(st)) = child.try_wait() {
                    return Err(format!("its player exited ({st})"));
                }
                let node = nodes
                    .iter()
                    .find(|n| n["info"]["props"]["application.name"] == app.as_str())
                    .ok_or("no node")?;
                let id = node["id"].as_u64().ok_or("no id")?;
                if state(node) != "running" {
                    return Err(format!("node {id} {}", state(node)));
                }
                if !sink.is_some_and(|s| linked(id, s)) {
                    return Err(format!("node {id} not actively linked into {}", self.sink));
                }
                let own = serial(node).ok_or("no serial")?;
                let tap = by_name(&format!("{TAP_PREFIX}{id}"));
                match (self.tapped, tap) {
                    (false, None) => Ok((own, None)),
                    (false, Some(_)) => Err(format!("node {id} tapped (no tap expected)")),
                    (true, None) => Err(format!("node {id} not tapped")),
                    (true, Some(t)) => {
                        let tid = t["id"].as_u64().ok_or("no tap id")?;
                        if state(t) != "running" {
                            return Err(format!("the tap of node {id} {}", state(t)));
                        }
                        if !linked(id, tid) {
                            return Err(format!("node {id} not actively linked into its tap"));
                        }
                        Ok((own, Some(serial(t).ok_or("no tap serial")?)))
                    }
                }
            };
            match one() {
                Ok(v) => {
                    look.playing.insert(app.clone(), v);
                }
                Err(why) => look.not.push(format!("{app}: {why}")),
            }
        }
        Ok(look)
    }

    /// Waits until every stream plays as needed (see [`Players::look`]).
    fn wait_ready(&mut self, sb: &Sandbox) -> Result<()> {
        let what = if self.tapped {
            "every stream playing and tapped"
        } else {
            "every stream playing"
        };
        let mut last = Vec::new();
        wait_for(what, READY_TIMEOUT, || {
            let look = self.look(sb)?;
            last = look.not;
            Ok(last.is_empty().then_some(()))
        })
        .with_context(|| format!("{} of {}: {}", last.len(), self.apps.len(), last.join("; ")))
    }

    /// Kills the players and, if they were tapped, waits until headroomd has removed every
    /// tap.
    fn stop(&mut self, sb: &Sandbox) -> Result<()> {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
        if self.tapped {
            wait_for("taps removed", READY_TIMEOUT, || {
                Ok((tap_count(sb)? == 0).then_some(()))
            })?;
        }
        Ok(())
    }
}

impl Drop for Players {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// How a window's streams were found.
#[derive(Debug, Default)]
struct Verdict {
    /// From the start of the first player until every stream played as needed.
    ready: Duration,
    /// Why the window does not count (`None`: it does; see [`over_window`]).
    invalid: Option<String>,
}

/// Runs `measure` (which takes `window`) once every stream of each of `players` plays as
/// needed ([`Players::wait_ready`], then [`WARM_UP`]), and tells whether the window counts
/// ([`Verdict`]): not when at its start a stream does not play as needed, or the played file
/// could end before the window does, or at its end a stream does not play as needed or is
/// not the same stream or tap as at the start (another `object.serial`: it went and came
/// back).
fn over_window<T>(
    sb: &Sandbox,
    players: &mut Players,
    window: Duration,
    measure: impl FnOnce() -> Result<T>,
) -> Result<(T, Verdict)> {
    over_windows(&mut [(sb, players)], window, measure)
}

/// [`over_window`] for players in several sandboxes at once (each with its sandbox).
fn over_windows<T>(
    players: &mut [(&Sandbox, &mut Players)],
    window: Duration,
    measure: impl FnOnce() -> Result<T>,
) -> Result<(T, Verdict)> {
    let mut ready = Duration::ZERO;
    for (sb, p) in players.iter_mut() {
        p.wait_ready(sb)?;
        ready = ready.max(p.started.elapsed());
    }
    std::thread::sleep(WARM_UP);
    let mut why = Vec::new();
    let mut starts = Vec::with_capacity(players.len());
    for (sb, p) in players.iter_mut() {
        let start = p.look(sb)?;
        why.extend(start.not.iter().map(|w| format!("at the start, {w}")));
        let left = p.wav_secs - p.started.elapsed().as_secs_f64();
        if left < window.as_secs_f64() + 1.0 {
            why.push(format!(
                "the played file may end {left:.1} s into a {:.0} s window",
                window.as_secs_f64()
            ));
        }
        starts.push(start);
    }
    let v = measure()?;
    let mut streams = 0;
    for ((sb, p), start) in players.iter_mut().zip(&starts) {
        let end = p.look(sb)?;
        why.extend(end.not.iter().map(|w| format!("at the end, {w}")));
        for (app, ids) in &start.playing {
            if end.playing.get(app).is_some_and(|e| e != ids) {
                why.push(format!(
                    "{app}: another stream or tap at the end than at the start"
                ));
            }
        }
        streams += p.apps.len();
    }
    let invalid = (!why.is_empty()).then(|| {
        format!(
            "{} finding(s) over {streams} stream(s): {}",
            why.len(),
            why.join("; ")
        )
    });
    Ok((v, Verdict { ready, invalid }))
}

/// One count of the cost-as-the-work-grows figures.
struct Grown {
    cpu: f64,
    rss_kb: u64,
    window: Duration,
    /// xruns headroomd counted over the window (`None`: the reference).
    xruns: Option<u64>,
    /// Callbacks headroomd counted over the window.
    callbacks: Option<u64>,
    /// How its streams were found.
    check: Verdict,
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
/// RSS, and with `ours` headroomd's xrun and callback counters) over `window` once every
/// stream plays and, with `ours`, is tapped (see [`over_window`]); stops them and waits
/// until their taps are gone.
#[allow(clippy::too_many_arguments)]
fn measure_streams(
    sb: &Sandbox,
    pid: u32,
    sink: &str,
    wav: &Path,
    app: &str,
    n: usize,
    ours: bool,
    window: Duration,
    mode: &Mode,
) -> Result<Grown> {
    let apps: Vec<String> = (0..n).map(|k| format!("{app}-{k}")).collect();
    let mut players = Players::spawn(sb, wav, mode.wav_secs(), sink, &apps, ours)?;
    let r = over_window(sb, &mut players, window, || {
        let before = if ours { Some(status(sb)?) } else { None };
        let cpu = cpu_percent(pid, window)?;
        let rss_kb = rss_kb(pid)?;
        let after = if ours { Some(status(sb)?) } else { None };
        let (xruns, callbacks) = match (before, after) {
            (Some(b), Some(a)) => (
                Some(a.xruns.saturating_sub(b.xruns)),
                Some(a.dsp.call_count.saturating_sub(b.dsp.call_count)),
            ),
            _ => (None, None),
        };
        Ok(Grown {
            cpu,
            rss_kb,
            window,
            xruns,
            callbacks,
            check: Verdict::default(),
        })
    });
    let stopped = players.stop(sb);
    let (grown, check) = r?;
    stopped?;
    Ok(Grown { check, ..grown })
}

/// [`measure_streams`] for every count of the mode.
fn scaling(
    sb: &Sandbox,
    pid: u32,
    sink: &str,
    wav: &Path,
    app: &str,
    ours: bool,
    mode: &Mode,
) -> Result<Vec<Grown>> {
    mode.streams
        .iter()
        .map(|&n| {
            // The reference's xruns are not counted: its window stays short.
            let window = if ours {
                mode.window(n)
            } else {
                mode.cpu_window
            };
            measure_streams(sb, pid, sink, wav, app, n, ours, window, mode)
        })
        .collect()
}

/// Starts `pw-loopback` with its sink named `sink`, playing into the sandbox's real sink,
/// its data thread real-time (`client-rt.conf`, as headroomd's) with `rt`, else on normal
/// scheduling (`client.conf`, what `pw-loopback` gets by default), and waits for the sink.
/// (Its playback stream names its target: with headroomd running, an untargeted stream
/// would be routed into `headroom-processed` and tapped.)
fn spawn_loopback(sb: &Sandbox, sink: &str, rt: bool) -> Result<Child> {
    let mut cmd = sb.command("pw-loopback");
    cmd.args([
        "-m",
        "[ FL FR ]",
        "-P",
        DEFAULT_SINK,
        "--capture-props",
        &format!("media.class=Audio/Sink node.name={sink}"),
    ])
    .stdout(Stdio::null())
    .stderr(Stdio::null());
    if rt {
        cmd.env("PIPEWIRE_CONFIG_NAME", "client-rt.conf");
    }
    let mut lb = cmd.spawn().context("starting pw-loopback")?;
    if let Err(e) = wait_for("pw-loopback sink", Duration::from_secs(5), || {
        Ok(sb.node_id(sink)?.map(|_| ()))
    }) {
        let _ = lb.kill();
        let _ = lb.wait();
        return Err(e);
    }
    Ok(lb)
}

/// Runs `f` on the pid of a `pw-loopback` whose sink is `footprint-reference` (see
/// [`spawn_loopback`]), then stops it.
fn with_loopback<T>(sb: &Sandbox, rt: bool, f: impl FnOnce(u32) -> Result<T>) -> Result<T> {
    let mut lb = spawn_loopback(sb, "footprint-reference", rt)?;
    let r = f(lb.id());
    let _ = lb.kill();
    let _ = lb.wait();
    r
}

/// CPU of headroomd and of both references over the same windows (percent of one core,
/// one entry per window).
struct SameWindows {
    ours: Vec<f64>,
    plain: Vec<f64>,
    rt: Vec<f64>,
    /// How their streams were found.
    check: Verdict,
}

/// A sandbox of its own (quantum [`QUANTUM`]) with `pw-loopback` in it (see
/// [`spawn_loopback`]) and one player of `signal` into it.
struct RefSandbox {
    players: Players,
    loopback: Child,
    pid: u32,
    // Dropped last: the processes above go first.
    sb: Sandbox,
}

impl RefSandbox {
    fn start(rt: bool, signal: &headroom_tests::Wav, wav_secs: f64) -> Result<RefSandbox> {
        let sb = Sandbox::start_unserialised()?;
        force_quantum(&sb, QUANTUM)?;
        let wav = write_wav(&sb, "same.wav", signal)?;
        let loopback = spawn_loopback(&sb, "footprint-reference", rt)?;
        let players = Players::spawn(
            &sb,
            &wav,
            wav_secs,
            "footprint-reference",
            &["footprint-same-ref".into()],
            false,
        )?;
        Ok(RefSandbox {
            pid: loopback.id(),
            players,
            loopback,
            sb,
        })
    }
}

impl Drop for RefSandbox {
    fn drop(&mut self) {
        let _ = self.players.stop(&self.sb);
        let _ = self.loopback.kill();
        let _ = self.loopback.wait();
    }
}

/// headroomd (`pid`, one tapped stream into its sink in `sb`), `pw-loopback` on normal
/// scheduling and `pw-loopback` with a real-time data thread, each carrying one stream in a
/// sandbox of its own, all three at once: their CPU over the same `windows` windows, so that
/// the load of a shared machine, which moves from one window to the next, weighs on all
/// three alike. Each has a graph of its own, as in the other figures: in one shared graph
/// the node that finishes last in a cycle wakes the driver for all of them (an `eventfd`
/// write that wakes another process, the dearest call of a cycle on a virtual machine),
/// which charges headroomd, the slowest, with the references' share. The windows count as
/// one for [`over_windows`]. Stops the player and waits until headroomd's tap is gone.
#[allow(clippy::too_many_arguments)]
fn same_windows(
    sb: &Sandbox,
    pid: u32,
    wav: &Path,
    signal: &headroom_tests::Wav,
    wav_secs: f64,
    windows: usize,
    window: Duration,
) -> Result<SameWindows> {
    let mut plain = RefSandbox::start(false, signal, wav_secs)?;
    let mut rt = RefSandbox::start(true, signal, wav_secs)?;
    let app = "footprint-same-ours".to_string();
    let mut ours = Players::spawn(sb, wav, wav_secs, BUS_SINK, &[app], true)?;
    let pids = [pid, plain.pid, rt.pid];
    let r = over_windows(
        &mut [
            (sb, &mut ours),
            (&plain.sb, &mut plain.players),
            (&rt.sb, &mut rt.players),
        ],
        window * windows as u32,
        || {
            let cpus = || -> Result<[u64; 3]> {
                Ok([cpu_ns(pids[0])?, cpu_ns(pids[1])?, cpu_ns(pids[2])?])
            };
            let mut out = SameWindows {
                ours: Vec::new(),
                plain: Vec::new(),
                rt: Vec::new(),
                check: Verdict::default(),
            };
            for _ in 0..windows {
                let (t0, c0) = (Instant::now(), cpus()?);
                std::thread::sleep(window);
                let (t1, c1) = (Instant::now(), cpus()?);
                let dt = (t1 - t0).as_nanos() as f64;
                let pct = |k: usize| c1[k].saturating_sub(c0[k]) as f64 / dt * 100.0;
                out.ours.push(pct(0));
                out.plain.push(pct(1));
                out.rt.push(pct(2));
            }
            Ok(out)
        },
    );
    let stopped = ours.stop(sb);
    drop((plain, rt));
    let (out, check) = r?;
    stopped?;
    Ok(SameWindows { check, ..out })
}

/// The median and the range of `v` (NaN for an empty `v`).
fn median_range(v: &[f64]) -> (f64, f64, f64) {
    let mut s: Vec<f64> = v.iter().copied().filter(|x| x.is_finite()).collect();
    s.sort_by(f64::total_cmp);
    match (s.first(), s.last()) {
        (Some(&lo), Some(&hi)) => {
            let n = s.len();
            let med = if n % 2 == 1 {
                s[n / 2]
            } else {
                (s[n / 2 - 1] + s[n / 2]) / 2.0
            };
            (med, lo, hi)
        }
        _ => (f64::NAN, f64::NAN, f64::NAN),
    }
}

/// Prints the same-window figures: each process's median CPU and the window-by-window
/// ratios of headroomd's to each reference's.
fn report_same_windows(w: &SameWindows, window: Duration) {
    let ratios = |r: &[f64]| -> Vec<f64> {
        w.ours
            .iter()
            .zip(r)
            .map(|(o, r)| if *r > 0.0 { o / r } else { f64::NAN })
            .collect()
    };
    let (o, _, _) = median_range(&w.ours);
    let (p, _, _) = median_range(&w.plain);
    let (t, _, _) = median_range(&w.rt);
    let (rp, rp_lo, rp_hi) = median_range(&ratios(&w.plain));
    let (rt, rt_lo, rt_hi) = median_range(&ratios(&w.rt));
    println!();
    println!(
        "same windows ({} × {:.0} s, one stream each, each in a sandbox of its own, all three \
         at once; medians): \
         headroomd {o:.2} %, pw-loopback {p:.2} %, pw-loopback with a real-time data thread \
         {t:.2} %{}",
        w.ours.len(),
        window.as_secs_f64(),
        mark(&[w.check.invalid.as_ref()])
    );
    println!(
        "  headroomd / pw-loopback: median {rp:.2}× ({rp_lo:.2}–{rp_hi:.2}× over the windows); \
         / pw-loopback real-time: median {rt:.2}× ({rt_lo:.2}–{rt_hi:.2}×)"
    );
}

/// The reference's figures: `pw-loopback` as it runs by default (normal scheduling), one
/// stream and the cost as the work grows; then one stream through `pw-loopback` with a
/// real-time data thread like headroomd's.
fn reference(sb: &Sandbox, wav: &Path, mode: &Mode) -> Result<Reference> {
    let (one, grown) = with_loopback(sb, false, |pid| {
        let one = measure(
            sb,
            pid,
            "footprint-reference",
            wav,
            "footprint-ref-tone",
            false,
            mode,
        )?;
        let grown = scaling(
            sb,
            pid,
            "footprint-reference",
            wav,
            "footprint-ref-many",
            false,
            mode,
        )?;
        Ok((one, grown))
    })?;
    let rt = with_loopback(sb, true, |pid| {
        measure(
            sb,
            pid,
            "footprint-reference",
            wav,
            "footprint-ref-rt-tone",
            false,
            mode,
        )
    })?;
    Ok(Reference { one, grown, rt })
}

/// What the reference measured.
struct Reference {
    /// One stream, `pw-loopback` on normal scheduling.
    one: Figures,
    /// The cost as the work grows, on normal scheduling.
    grown: Vec<Grown>,
    /// One stream, `pw-loopback` with a real-time data thread.
    rt: Figures,
}

fn main() -> Result<()> {
    // Test harnesses that list benchmarks (`--list`) get none: this one runs as a whole.
    if std::env::args().any(|a| a == "--list") {
        return Ok(());
    }
    let mode = Mode::from_env();
    let bin = workspace_bin("headroomd")?;
    if !mode.smoke && !bin.to_string_lossy().contains("/release/") {
        bail!(
            "run as a benchmark (release build), or set HEADROOM_FOOTPRINT_SMOKE=1: {}",
            bin.display()
        );
    }
    let sb = Sandbox::start()?;
    force_quantum(&sb, QUANTUM)?;
    let signal = sine(440.0, -20.0, mode.wav_secs());
    let wav = write_wav(&sb, "footprint.wav", &signal)?;

    let reference = if mode.smoke {
        None
    } else {
        Some(reference(&sb, &wav, &mode)?)
    };
    let mut d = Daemon::start_bin(&sb, &bin, &[])?;
    let pid = d.pid().context("headroomd pid")?;
    // Idle figures once start-up is over: the daemon then releases the code only start-up
    // ran from its resident memory (`headroomd::code_pages`), 1 s after its bus is ready.
    wait_for("start-up over", Duration::from_secs(10), || {
        Ok(d.log().contains("start-up over").then_some(()))
    })?;
    let r = (|| {
        let ours = measure(&sb, pid, BUS_SINK, &wav, "footprint-tone", true, &mode)?;
        // The same without the Layer A tap: what the bus alone costs.
        let untapped = if mode.smoke {
            None
        } else {
            set_layer_a(&sb, false)?;
            let f = measure(&sb, pid, BUS_SINK, &wav, "footprint-untapped", false, &mode);
            set_layer_a(&sb, true)?;
            Some(f?)
        };
        // headroomd and both references in the same windows (not in the smoke run: it has
        // no reference).
        let same = if mode.smoke {
            None
        } else {
            Some(same_windows(
                &sb,
                pid,
                &wav,
                &signal,
                mode.wav_secs(),
                SAME_WINDOWS,
                mode.cpu_window,
            )?)
        };
        let grown = scaling(&sb, pid, BUS_SINK, &wav, "footprint-many", true, &mode)?;
        let idle = measure_idle(&sb, pid, mode.idle_window)?;
        let st = status(&sb)?;
        Ok((ours, untapped, same, grown, idle, st))
    })();
    let (ours, untapped, same, grown, idle, st) = headroom_tests::daemon::with_log(&d, r)?;
    let log = d.terminate()?;
    report(&mode, &ours, &grown, &idle, reference.as_ref());
    report_code_order(&bin);
    if let (Some(u), Some(r)) = (&untapped, reference.as_ref()) {
        println!(
            "one stream without its Layer A tap (layer_a.enabled off): CPU {:.2} % ({:.2}× \
             pw-loopback's {:.2} % above, {:.2}× its {:.2} % with a real-time data thread), \
             RSS {:.1} MB ({:.2}×){}",
            u.cpu,
            u.cpu / r.one.cpu,
            r.one.cpu,
            u.cpu / r.rt.cpu,
            r.rt.cpu,
            u.rss_kb as f64 / 1024.0,
            u.rss_kb as f64 / r.one.rss_kb as f64,
            mark(&[
                u.check.invalid.as_ref(),
                r.one.check.invalid.as_ref(),
                r.rt.check.invalid.as_ref()
            ])
        );
    }
    if let Some(w) = &same {
        report_same_windows(w, mode.cpu_window);
    }
    let invalid = invalid_windows(
        &mode,
        &ours,
        untapped.as_ref(),
        same.as_ref(),
        &grown,
        reference.as_ref(),
    );
    if !invalid.is_empty() {
        println!();
        println!("windows that do not count (marked NOT VALID above):");
        for w in &invalid {
            println!("  {w}");
        }
        bail!(
            "{} measurement window(s) did not have their streams (and taps) throughout; \
             see above",
            invalid.len()
        );
    }
    if mode.smoke {
        smoke_checks(&grown, &idle, &st, &log)?;
    }
    Ok(())
}

/// ` NOT VALID` when any of `invalid` is set (a window of the figures on that line does not
/// count), else nothing.
fn mark(invalid: &[Option<&String>]) -> &'static str {
    if invalid.iter().any(Option::is_some) {
        "  NOT VALID"
    } else {
        ""
    }
}

/// Every measurement whose window does not count, named, with why.
fn invalid_windows(
    mode: &Mode,
    ours: &Figures,
    untapped: Option<&Figures>,
    same: Option<&SameWindows>,
    grown: &[Grown],
    reference: Option<&Reference>,
) -> Vec<String> {
    let mut all: Vec<(String, Option<&String>)> = vec![
        ("headroomd, one stream".into(), ours.check.invalid.as_ref()),
        (
            "headroomd, one stream without its tap".into(),
            untapped.and_then(|u| u.check.invalid.as_ref()),
        ),
        (
            "same windows".into(),
            same.and_then(|w| w.check.invalid.as_ref()),
        ),
    ];
    for (n, g) in mode.streams.iter().zip(grown) {
        all.push((format!("headroomd, {n} streams"), g.check.invalid.as_ref()));
    }
    if let Some(r) = reference {
        all.push((
            "pw-loopback, one stream".into(),
            r.one.check.invalid.as_ref(),
        ));
        all.push((
            "pw-loopback with a real-time data thread, one stream".into(),
            r.rt.check.invalid.as_ref(),
        ));
        for (n, g) in mode.streams.iter().zip(&r.grown) {
            all.push((
                format!("pw-loopback, {n} streams"),
                g.check.invalid.as_ref(),
            ));
        }
    }
    all.into_iter()
        .filter_map(|(what, why)| Some(format!("{what}: {}", why?)))
        .collect()
}

/// What the smoke run checks: the stream was tapped and processed, the daemon answered with
/// its counters, it went idle without periodic wakeups, and it stopped cleanly.
fn smoke_checks(grown: &[Grown], idle: &Idle, st: &headroom_ipc::Status, log: &str) -> Result<()> {
    let g = grown.first().context("no stream run")?;
    let (Some(callbacks), Some(_xruns)) = (g.callbacks, g.xruns) else {
        bail!("the daemon's xrun and callback counters were not read");
    };
    if callbacks == 0 {
        bail!("no audio callbacks while a stream played; log:\n{log}");
    }
    if st.dsp.call_count < callbacks {
        bail!(
            "status counts {} callbacks, fewer than the {callbacks} of the window",
            st.dsp.call_count
        );
    }
    if idle.wakeups > SMOKE_IDLE_WAKEUPS_MAX {
        bail!(
            "idle headroomd woke up {} times in {:.1} s (at most {SMOKE_IDLE_WAKEUPS_MAX} expected: \
             something ticks while nothing is to be done); log:\n{log}",
            idle.wakeups,
            idle.window.as_secs_f64()
        );
    }
    if headroom_tests::daemon::bus_stats_from_log(log).is_none() {
        bail!("no bus statistics at exit; log:\n{log}");
    }
    Ok(())
}

/// How much of `crates/headroomd/code-order.txt` the measured headroomd holds: a list made
/// before later changes to the code names functions that no longer exist under those names,
/// and the daemon's RSS reads ≈ 0.4–1 MB higher with it (BENCHMARKS.md, "Where the memory
/// goes"). Prints nothing for a debug build (which is linked without the list) or when `nm`
/// is missing.
fn report_code_order(bin: &Path) {
    if !bin.to_string_lossy().contains("/release/") {
        return;
    }
    let list = Path::new(env!("CARGO_MANIFEST_DIR")).join("../crates/headroomd/code-order.txt");
    let Ok(list) = std::fs::read_to_string(list) else {
        return;
    };
    let Ok(out) = std::process::Command::new("nm")
        .args(["--defined-only", "-S"])
        .arg(bin)
        .output()
    else {
        return;
    };
    let sizes: std::collections::HashMap<&str, u64> = std::str::from_utf8(&out.stdout)
        .unwrap_or("")
        .lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            let (_addr, size, _kind, name) = (f.next()?, f.next()?, f.next()?, f.next()?);
            Some((name, u64::from_str_radix(size, 16).ok()?))
        })
        .collect();
    let names: Vec<&str> = list.lines().filter(|l| !l.is_empty()).collect();
    let found: Vec<u64> = names.iter().filter_map(|n| sizes.get(n).copied()).collect();
    println!(
        "code-order.txt: {} of its {} names found in this headroomd ({:.2} MB of code placed \
         first; a list made on the same tree finds about 70 %, one made before later changes \
         to the code far fewer and costs memory: scripts/code-order.sh makes a new one)",
        found.len(),
        names.len(),
        found.iter().sum::<u64>() as f64 / (1024.0 * 1024.0)
    );
}

/// Prints every figure (with the reference's and the ratios when there is one).
fn report(
    mode: &Mode,
    ours: &Figures,
    grown: &[Grown],
    idle: &Idle,
    reference: Option<&Reference>,
) {
    let ratio = |a: f64, b: f64| if b > 0.0 { a / b } else { f64::NAN };
    let mb = |kb: u64| kb as f64 / 1024.0;
    let smoke = if mode.smoke {
        " — smoke run (no reference, any build: the figures are not comparable)"
    } else {
        ""
    };
    println!("daemon footprint, quantum {QUANTUM}, one stream{smoke}");
    println!(
        "{:<28} {:>12} {:>14} {:>8}",
        "", "headroomd", "pw-loopback", "ratio"
    );
    let (r_idle, r_rss, r_cpu) = reference.map_or((0, 0, 0.0), |r| {
        (r.one.idle_rss_kb, r.one.rss_kb, r.one.cpu)
    });
    let r_rt_cpu = reference.map_or(0.0, |r| r.rt.cpu);
    println!(
        "{:<28} {:>9.1} MB {:>11.1} MB {:>7.2}×",
        "RSS idle",
        mb(ours.idle_rss_kb),
        mb(r_idle),
        ratio(ours.idle_rss_kb as f64, r_idle as f64)
    );
    let one_mark = mark(&[
        ours.check.invalid.as_ref(),
        reference.and_then(|r| r.one.check.invalid.as_ref()),
    ]);
    println!(
        "{:<28} {:>9.1} MB {:>11.1} MB {:>7.2}×{one_mark}",
        "RSS processing",
        mb(ours.rss_kb),
        mb(r_rss),
        ratio(ours.rss_kb as f64, r_rss as f64)
    );
    println!(
        "{:<28} {:>10.2} % {:>12.2} % {:>7.2}×{one_mark}",
        "CPU processing (one core)",
        ours.cpu,
        r_cpu,
        ratio(ours.cpu, r_cpu)
    );
    // headroomd's data thread is real-time (client-rt.conf); pw-loopback's is not by
    // default. On a virtual machine the real-time wakeups alone cost about as much CPU
    // as the whole default pw-loopback, so the like-for-like ratio is this one.
    println!(
        "{:<28} {:>10.2} % {:>12.2} % {:>7.2}×{}",
        "CPU, reference real-time",
        ours.cpu,
        r_rt_cpu,
        ratio(ours.cpu, r_rt_cpu),
        mark(&[
            ours.check.invalid.as_ref(),
            reference.and_then(|r| r.rt.check.invalid.as_ref())
        ])
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
    println!(
        "cost as the work grows, quantum {QUANTUM} (headroomd: one Layer A tap per stream; \
         ready after: from the first player's start until every stream played and was \
         tapped, headroomd / pw-loopback)"
    );
    println!(
        "{:<8} {:>14} {:>12} {:>14} {:>12} {:>18} {:>16}",
        "streams",
        "headroomd CPU",
        "pw-loopback",
        "headroomd RSS",
        "pw-loopback",
        "headroomd xruns",
        "ready after"
    );
    let none = Vec::new();
    let ref_grown = reference.map_or(&none, |r| &r.grown);
    for (k, (n, o)) in mode.streams.iter().zip(grown).enumerate() {
        let r = ref_grown.get(k);
        println!(
            "{:<8} {:>12.2} % {:>10.2} % {:>11.1} MB {:>9.1} MB {:>8} in {:>3.0} s \
             {:>5.1} / {:>4.1} s{}",
            n,
            o.cpu,
            r.map_or(f64::NAN, |r| r.cpu),
            mb(o.rss_kb),
            mb(r.map_or(0, |r| r.rss_kb)),
            o.xruns.map_or("?".into(), |x| x.to_string()),
            o.window.as_secs_f64(),
            o.check.ready.as_secs_f64(),
            r.map_or(f64::NAN, |r| r.check.ready.as_secs_f64()),
            mark(&[
                o.check.invalid.as_ref(),
                r.and_then(|r| r.check.invalid.as_ref())
            ])
        );
    }
    // Per added stream: the slope from the first count to each larger one.
    if let (Some(&n0), Some(o0), Some(r0)) =
        (mode.streams.first(), grown.first(), ref_grown.first())
    {
        for ((&n, o), r) in mode.streams.iter().zip(grown).zip(ref_grown).skip(1) {
            let k = (n - n0) as f64;
            println!(
                "per added stream, {n0} → {n}: headroomd {:+.3} % CPU, {:+.0} kB RSS; \
                 pw-loopback {:+.3} % CPU, {:+.0} kB RSS",
                (o.cpu - o0.cpu) / k,
                (o.rss_kb as f64 - o0.rss_kb as f64) / k,
                (r.cpu - r0.cpu) / k,
                (r.rss_kb as f64 - r0.rss_kb as f64) / k,
            );
        }
    }
    println!();
    let secs = idle.window.as_secs_f64();
    println!(
        "idle (no stream, no subscriber, after the runs above): {:.2} ms CPU in {secs:.0} s \
         ({:.4} % of one core), {} wakeups ({:.2}/s); RSS {:.1} MB",
        idle.cpu_ms,
        idle.cpu_ms / 10.0 / secs,
        idle.wakeups,
        idle.wakeups as f64 / secs,
        idle.rss_kb as f64 / 1024.0
    );
}
