//! Shared pieces of the `routing_*` end-to-end tests: an in-process driver that runs
//! headroomd's PipeWire bus and its [`RoutingController`] inside a [`Sandbox`] (events in,
//! commands out, 10 Hz Layer A ticks) — the same calls the daemon's engine makes — plus graph
//! helpers.

#![allow(dead_code)]

use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use crossbeam_channel::{select, Sender};
use headroom_core::LayerAParams;
use headroom_tests::{wait_for, Sandbox};
use headroomd::layer_a::LayerAState;
use headroomd::pw::{AudioBus, AudioHandle, BusOptions, PwCommand, BUS_SINK_NAME};
use headroomd::routing::{Route, RouteConfig, RoutingController, StreamRoute};

enum Ctl {
    SetRule(String, Route),
    UnsetRule(String),
    Profile(RouteConfig),
    LayerA(LayerAParams),
    Stop(Sender<()>),
}

#[derive(Default)]
struct Snapshot {
    routes: Vec<StreamRoute>,
    layer_a: Vec<LayerAState>,
    commands: u64,
    moves: u64,
    attaches: u64,
}

/// headroomd's bus plus the routing controller, in this process.
pub struct Driver {
    bus: Option<AudioHandle>,
    ctl: Sender<Ctl>,
    thread: Option<JoinHandle<()>>,
    snap: Arc<Mutex<Snapshot>>,
}

impl Driver {
    /// Starts the bus in `sb` (this process's PipeWire environment is pointed at it) with the
    /// given profile routing and Layer A parameters; returns once the processed sink exists
    /// and its output is linked.
    pub fn start(sb: &Sandbox, profile: RouteConfig, layer_a: LayerAParams) -> Result<Self> {
        for (k, v) in sb.env() {
            std::env::set_var(k, v);
        }
        let (ev_tx, ev_rx) = crossbeam_channel::unbounded();
        let bus = AudioBus::start(BusOptions::default(), ev_tx).context("starting the bus")?;
        let target = bus.params().agc.target_lufs;
        let mut ctl = RoutingController::new(BUS_SINK_NAME, layer_a, target);
        let (ctl_tx, ctl_rx) = crossbeam_channel::unbounded();
        let snap = Arc::new(Mutex::new(Snapshot::default()));
        let cmd = bus.commander();
        let graph = bus.graph();
        let taps = bus.taps();
        let snap2 = snap.clone();
        // Profile rules first, as the engine does at start.
        let initial = ctl.set_profile_rules(profile);
        let thread = std::thread::spawn(move || {
            let send = |cmds: Vec<PwCommand>, snap: &Arc<Mutex<Snapshot>>| {
                {
                    let mut s = snap.lock().unwrap();
                    s.commands += cmds.len() as u64;
                    for c in &cmds {
                        match c {
                            PwCommand::MoveStream { .. } => s.moves += 1,
                            PwCommand::AttachTap { .. } => s.attaches += 1,
                            _ => {}
                        }
                    }
                }
                for c in cmds {
                    let _ = cmd.send(c);
                }
            };
            send(initial, &snap2);
            let tick = crossbeam_channel::tick(Duration::from_millis(100));
            let mut last = Instant::now();
            loop {
                select! {
                    recv(ev_rx) -> ev => {
                        let Ok(ev) = ev else { return };
                        let g = graph.read().clone();
                        let cmds = ctl.on_event(&ev, Some(&g));
                        send(cmds, &snap2);
                    }
                    recv(ctl_rx) -> c => {
                        let cmds = match c {
                            Ok(Ctl::SetRule(app, r)) => {
                                ctl.set_user_rule(headroomd::routing::UserRule::new(&app, r).unwrap())
                            }
                            Ok(Ctl::UnsetRule(app)) => ctl.unset_user_rule(&app).1,
                            Ok(Ctl::Profile(p)) => ctl.set_profile_rules(p),
                            Ok(Ctl::LayerA(p)) => ctl.set_layer_a(p),
                            Ok(Ctl::Stop(done)) => {
                                send(ctl.shutdown(), &snap2);
                                let _ = done.send(());
                                return;
                            }
                            Err(_) => return,
                        };
                        send(cmds, &snap2);
                    }
                    recv(tick) -> _ => {
                        let dt = last.elapsed().as_secs_f32();
                        last = Instant::now();
                        let cmds = ctl.tick(&taps, dt);
                        send(cmds, &snap2);
                        ctl.update_links(&graph.read());
                    }
                }
                let mut s = snap2.lock().unwrap();
                s.routes = ctl.state();
                s.layer_a = ctl.layer_a_state();
            }
        });
        let d = Driver {
            bus: Some(bus),
            ctl: ctl_tx,
            thread: Some(thread),
            snap,
        };
        wait_for("bus ready", Duration::from_secs(10), || {
            let Some(out) = sb.node_id("headroom-output")? else {
                return Ok(None);
            };
            Ok(
                (sb.node_id(BUS_SINK_NAME)?.is_some() && !plays_into(sb, out)?.is_empty())
                    .then_some(()),
            )
        })?;
        Ok(d)
    }

    /// `route set APP ROUTE`.
    pub fn set_rule(&self, app: &str, route: Route) {
        let _ = self.ctl.send(Ctl::SetRule(app.into(), route));
    }

    /// `route unset APP`.
    pub fn unset_rule(&self, app: &str) {
        let _ = self.ctl.send(Ctl::UnsetRule(app.into()));
    }

    /// New profile routing.
    pub fn set_profile(&self, p: RouteConfig) {
        let _ = self.ctl.send(Ctl::Profile(p));
    }

    /// New Layer A parameters.
    pub fn set_layer_a(&self, p: LayerAParams) {
        let _ = self.ctl.send(Ctl::LayerA(p));
    }

    /// Routing state.
    pub fn routes(&self) -> Vec<StreamRoute> {
        self.snap.lock().unwrap().routes.clone()
    }

    /// Layer A state.
    pub fn layer_a(&self) -> Vec<LayerAState> {
        self.snap.lock().unwrap().layer_a.clone()
    }

    /// The routing state of the stream of `app`, once there is one.
    pub fn route_of(&self, app: &str) -> Option<StreamRoute> {
        self.routes().into_iter().find(|r| r.app == app)
    }

    /// (`MoveStream`, `AttachTap`) commands sent so far.
    pub fn counts(&self) -> (u64, u64) {
        let s = self.snap.lock().unwrap();
        (s.moves, s.attaches)
    }

    /// A closure reading [`Driver::counts`] without borrowing the driver.
    pub fn counts_handle(&self) -> impl Fn() -> (u64, u64) {
        let snap = self.snap.clone();
        move || {
            let s = snap.lock().unwrap();
            (s.moves, s.attaches)
        }
    }

    /// Number of taps the bus holds.
    pub fn tap_count(&self) -> usize {
        self.bus.as_ref().map_or(0, |b| b.taps().len())
    }

    /// Undoes routing and volumes, then stops the bus.
    pub fn stop(&mut self) -> Result<()> {
        let (tx, rx) = crossbeam_channel::bounded(1);
        let _ = self.ctl.send(Ctl::Stop(tx));
        let _ = rx.recv_timeout(Duration::from_secs(2));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        if let Some(bus) = self.bus.take() {
            let _ = bus.send(PwCommand::Shutdown);
            if bus.join().is_err() {
                bail!("the PipeWire thread panicked");
            }
        }
        Ok(())
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.stop();
    }
}

/// `pw-dump` objects of `type` (e.g. `"PipeWire:Interface:Link"`).
pub fn objects(sb: &Sandbox, ty: &str) -> Result<Vec<serde_json::Value>> {
    Ok(sb.dump()?.into_iter().filter(|o| o["type"] == ty).collect())
}

/// Id of the playback stream with `application.name == app`.
pub fn stream_id(sb: &Sandbox, app: &str) -> Result<Option<u32>> {
    Ok(objects(sb, "PipeWire:Interface:Node")?
        .iter()
        .find_map(|o| {
            (o["info"]["props"]["application.name"] == app
                && o["info"]["props"]["media.class"] == "Stream/Output/Audio")
                .then(|| o["id"].as_u64().map(|v| v as u32))
                .flatten()
        }))
}

/// Names of the nodes `id` plays into (headroom's taps excluded).
pub fn plays_into(sb: &Sandbox, id: u32) -> Result<Vec<String>> {
    let mut v = headroom_tests::daemon::link_targets(sb, id)?;
    v.retain(|n| !n.starts_with("headroom-tap-"));
    Ok(v)
}

/// A number from node `id`'s Props param: `key` (an array's first entry), linear.
fn props_number(sb: &Sandbox, id: u32, key: &str) -> Result<Option<f64>> {
    let nodes = objects(sb, "PipeWire:Interface:Node")?;
    let Some(n) = nodes.iter().find(|o| o["id"].as_u64() == Some(id as u64)) else {
        return Ok(None);
    };
    Ok(n["info"]["params"]["Props"]
        .as_array()
        .into_iter()
        .flatten()
        .find_map(|p| {
            let v = &p[key];
            v.as_f64().or_else(|| v[0].as_f64())
        }))
}

/// The master `volume` of node `id` (the one Layer A sets), linear.
pub fn stream_volume(sb: &Sandbox, id: u32) -> Result<Option<f64>> {
    props_number(sb, id, "volume")
}

/// The first `channelVolumes` entry of node `id` (the volume a user sets in a mixer), linear.
pub fn user_volume(sb: &Sandbox, id: u32) -> Result<Option<f64>> {
    props_number(sb, id, "channelVolumes")
}

/// Sets node `id`'s volume the way a user does in a mixer (`wpctl set-volume`, cubic scale).
pub fn set_user_volume(sb: &Sandbox, id: u32, wpctl_volume: f64) -> Result<()> {
    let st = sb
        .command("wpctl")
        .args(["set-volume", &id.to_string(), &format!("{wpctl_volume}")])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()?;
    anyhow::ensure!(st.success(), "wpctl set-volume failed: {st}");
    Ok(())
}

/// Nodes whose name starts with `headroom-tap-`.
pub fn tap_nodes(sb: &Sandbox) -> Result<usize> {
    Ok(objects(sb, "PipeWire:Interface:Node")?
        .iter()
        .filter(|o| {
            o["info"]["props"]["node.name"]
                .as_str()
                .is_some_and(|n| n.starts_with("headroom-tap-"))
        })
        .count())
}

/// A `pw-play` of `wav` as application `app` (default target: WirePlumber decides; the
/// router moves it).
pub fn play(sb: &Sandbox, wav: &std::path::Path, app: &str) -> Result<std::process::Child> {
    sb.command("pw-play")
        .arg("-P")
        .arg(format!("{{ application.name={app} }}"))
        .arg(wav)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .context("starting pw-play")
}

/// Amplitude (peak, linear) of the `freq` component of channel 0 of `w` between `from` and
/// `to` seconds (Goertzel over the window).
pub fn tone_amplitude(w: &headroom_tests::Wav, freq: f64, from: f64, to: f64) -> f64 {
    let r = f64::from(w.rate);
    let a = (from * r) as usize;
    let b = ((to * r) as usize).min(w.frames());
    if b <= a {
        return 0.0;
    }
    let n = (b - a) as f64;
    let k = 2.0 * (2.0 * std::f64::consts::PI * freq / r).cos();
    let (mut s1, mut s2) = (0.0f64, 0.0f64);
    for i in a..b {
        let x = f64::from(w.samples[i * w.channels]);
        let s0 = x + k * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    let power = s1 * s1 + s2 * s2 - k * s1 * s2;
    2.0 * power.max(0.0).sqrt() / n
}

/// Resident set size of this process, KiB.
pub fn rss_kib() -> Result<u64> {
    let s = std::fs::read_to_string("/proc/self/status")?;
    s.lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .context("no VmRSS")
}

// ------------------------------------------------------------------------------ backends

/// A stream as the routing side reports it.
#[derive(Debug, Clone)]
pub struct StreamView {
    /// Decided route.
    pub route: Option<Route>,
    /// What it is linked to (or asked to be).
    pub linked_to: Option<String>,
    /// Description of the matched rule (`None`: default route).
    pub rule: Option<String>,
}

/// Layer A state of a stream.
#[derive(Debug, Clone)]
pub struct LayerView {
    /// Current reduction, dB.
    pub reduction_db: f32,
    /// Short-term loudness at the tap (after the reduction), when the backend reports it.
    pub short_term_lufs: Option<f64>,
}

/// What the scenarios need from "the daemon": the in-process [`Driver`] or a real `headroomd`
/// driven over its control socket.
pub trait Backend {
    /// `route set APP ROUTE`.
    fn set_rule(&mut self, app: &str, route: Route);
    /// `route unset APP`.
    fn unset_rule(&mut self, app: &str);
    /// `set layer_a.enabled …`.
    fn set_layer_a_enabled(&mut self, on: bool);
    /// The stream of `app`, if known.
    fn stream(&mut self, app: &str) -> Option<StreamView>;
    /// Layer A state of the stream of `app`, if tapped.
    fn layer_a(&mut self, app: &str) -> Option<LayerView>;
    /// Number of streams the routing side knows.
    fn stream_count(&mut self) -> usize;
    /// Resident set size of the process running the bus, KiB.
    fn rss_kib(&self) -> u64;
}

impl Backend for Driver {
    fn set_rule(&mut self, app: &str, route: Route) {
        Driver::set_rule(self, app, route);
    }
    fn unset_rule(&mut self, app: &str) {
        Driver::unset_rule(self, app);
    }
    fn set_layer_a_enabled(&mut self, on: bool) {
        self.set_layer_a(LayerAParams {
            enabled: on,
            ..LayerAParams::default()
        });
    }
    fn stream(&mut self, app: &str) -> Option<StreamView> {
        self.route_of(app).map(|r| StreamView {
            route: r.route,
            linked_to: r.linked_to.or(r.target),
            rule: r
                .matched
                .filter(|m| m.source != headroomd::routing::RuleSource::Default)
                .map(|m| m.description),
        })
    }
    fn layer_a(&mut self, app: &str) -> Option<LayerView> {
        Driver::layer_a(self)
            .into_iter()
            .find(|s| s.app == app)
            .map(|s| LayerView {
                reduction_db: s.reduction_db,
                short_term_lufs: s.short_term_lufs,
            })
    }
    fn stream_count(&mut self) -> usize {
        self.routes().len()
    }
    fn rss_kib(&self) -> u64 {
        rss_kib().unwrap_or(0)
    }
}

/// A real `headroomd` in the sandbox, driven through `headroom-client`.
pub struct DaemonBackend {
    /// The daemon process.
    pub daemon: headroom_tests::daemon::Daemon,
    client: headroom_client::Client,
}

fn ipc_route(r: Route) -> headroom_ipc::Route {
    match r {
        Route::Processed => headroom_ipc::Route::Processed,
        Route::Bypass => headroom_ipc::Route::Bypass,
    }
}

impl DaemonBackend {
    /// Starts `headroomd` in `sb`. `profile_toml`, when given, becomes the active profile
    /// (written as a user profile `routing-test` and named in the daemon config).
    pub fn start(sb: &Sandbox, profile_toml: Option<&str>) -> Result<Self> {
        if let Some(p) = profile_toml {
            let dir = std::path::PathBuf::from(&sb.env()["XDG_CONFIG_HOME"]).join("headroom");
            std::fs::create_dir_all(dir.join("profiles"))?;
            std::fs::write(dir.join("profiles/routing-test.toml"), p)?;
            std::fs::write(dir.join("config.toml"), "profile = \"routing-test\"\n")?;
        }
        let daemon = headroom_tests::daemon::Daemon::start(sb, &[])?;
        let sock =
            std::path::PathBuf::from(&sb.env()["XDG_RUNTIME_DIR"]).join("headroom/control.sock");
        let client = wait_for("control socket", Duration::from_secs(5), || {
            Ok(headroom_client::Client::connect_to(&sock).ok())
        })?;
        let mut b = DaemonBackend { daemon, client };
        if profile_toml.is_some() {
            let active = b.client.status()?.profile;
            if active != "routing-test" {
                bail!("profile not active: {active}\n{}", b.daemon.log());
            }
        }
        Ok(b)
    }

    fn info(&mut self, app: &str) -> Option<headroom_ipc::StreamInfo> {
        self.client
            .route_list()
            .ok()?
            .streams
            .into_iter()
            .find(|s| s.app == app)
    }
}

impl Backend for DaemonBackend {
    fn set_rule(&mut self, app: &str, route: Route) {
        self.client.route_set(app, ipc_route(route)).unwrap();
    }
    fn unset_rule(&mut self, app: &str) {
        self.client.route_unset(app).unwrap();
    }
    fn set_layer_a_enabled(&mut self, on: bool) {
        self.client.setting_set("layer_a.enabled", on).unwrap();
    }
    fn stream(&mut self, app: &str) -> Option<StreamView> {
        self.info(app).map(|s| StreamView {
            route: Some(match s.route {
                headroom_ipc::Route::Processed => Route::Processed,
                headroom_ipc::Route::Bypass => Route::Bypass,
            }),
            linked_to: s.target,
            rule: s.matched_rule.filter(|r| r != "default"),
        })
    }
    fn layer_a(&mut self, app: &str) -> Option<LayerView> {
        self.info(app)?.layer_a_reduction_db.map(|r| LayerView {
            reduction_db: r,
            short_term_lufs: None,
        })
    }
    fn stream_count(&mut self) -> usize {
        self.client
            .route_list()
            .map(|r| r.streams.len())
            .unwrap_or(usize::MAX)
    }
    fn rss_kib(&self) -> u64 {
        let Some(pid) = self.daemon.pid() else {
            return 0;
        };
        std::fs::read_to_string(format!("/proc/{pid}/status"))
            .ok()
            .and_then(|s| {
                s.lines()
                    .find_map(|l| l.strip_prefix("VmRSS:"))
                    .and_then(|v| v.split_whitespace().next()?.parse().ok())
            })
            .unwrap_or(0)
    }
}
