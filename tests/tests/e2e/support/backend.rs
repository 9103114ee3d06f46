//! The two "daemons" every routing scenario runs against: headroomd's real engine with a real
//! bus in this process ([`Driver`], inspected directly) and a real `headroomd` child driven
//! over its control socket ([`DaemonBackend`]), behind one [`Backend`] trait.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use headroom_ipc::{Request, SettingValue};
use headroom_tests::{wait_for, Sandbox};
use headroomd::control::{Broadcaster, Handler};
use headroomd::engine::{Engine, EngineThread, ROUTES_FILE_NAME};
use headroomd::history::{History, HistoryConfig};
use headroomd::layer_a::LayerAState;
use headroomd::profiles::ProfileStore;
use headroomd::pw::{AudioBus, AudioHandle, BusOptions, BusShared, BUS_SINK_NAME};
use headroomd::routing::{Route, StreamRoute};
use headroomd::DaemonConfig;

use super::graph::plays_into;

/// Writes `profile_toml` as the user profile `routing-test` of `sb` and makes it the active
/// profile (named in the daemon config).
fn use_test_profile(sb: &Sandbox, profile_toml: &str) -> Result<()> {
    let dir = PathBuf::from(&sb.env()["XDG_CONFIG_HOME"]).join("headroom");
    std::fs::create_dir_all(dir.join("profiles"))?;
    std::fs::write(dir.join("profiles/routing-test.toml"), profile_toml)?;
    std::fs::write(dir.join("config.toml"), "profile = \"routing-test\"\n")?;
    Ok(())
}

/// headroomd's engine with a real bus, in this process: what the daemon runs, without its
/// control socket, file watcher and signal handling.
pub struct Driver {
    engine: Option<EngineThread>,
    bus: Option<AudioHandle>,
    shared: BusShared,
}

impl Driver {
    /// Starts the bus in `sb` (this process's PipeWire environment is pointed at it) and the
    /// engine over the sandbox's config and state directories; `profile_toml`, when given,
    /// becomes the active profile. Returns once the processed sink exists and its output is
    /// linked.
    pub fn start(sb: &Sandbox, profile_toml: Option<&str>) -> Result<Self> {
        for (k, v) in sb.env() {
            std::env::set_var(k, v);
        }
        if let Some(p) = profile_toml {
            use_test_profile(sb, p)?;
        }
        let config = PathBuf::from(&sb.env()["XDG_CONFIG_HOME"]).join("headroom");
        let state = PathBuf::from(&sb.env()["XDG_STATE_HOME"]).join("headroom");
        let store = ProfileStore::new(&config, &state);
        let effective = store.effective();
        if profile_toml.is_some() && store.active_name() != "routing-test" {
            bail!("profile not active: {}", store.active_name());
        }
        let (pw_tx, pw_rx) = crossbeam_channel::unbounded();
        let bus = AudioBus::start(
            BusOptions {
                params: Engine::chain_params(&effective, false),
                preferred_real_sink: effective.preferred_real_sink.clone(),
                ..BusOptions::default()
            },
            pw_tx,
        )
        .context("starting the bus")?;
        let history = History::new(&HistoryConfig {
            dir: None,
            ..HistoryConfig::default()
        })?;
        let shared = bus.shared();
        let engine = Engine::new(
            store,
            shared.clone(),
            history,
            state.join(ROUTES_FILE_NAME),
            &DaemonConfig::default(),
        );
        // No file watcher: the profile channel closes at once.
        let (_, prof_rx) = crossbeam_channel::unbounded();
        let engine = EngineThread::spawn(
            engine,
            Box::new(bus.commander()),
            Broadcaster::new(),
            pw_rx,
            prof_rx,
        )?;
        let d = Driver {
            engine: Some(engine),
            bus: Some(bus),
            shared,
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

    fn engine(&self) -> &EngineThread {
        self.engine.as_ref().expect("engine running")
    }

    /// Sends a request to the engine, as a client does; panics on an error reply.
    fn request(&self, req: Request) {
        let r = self.engine().handler().handle(req);
        if let Err(e) = r {
            panic!("the engine refused: {e}");
        }
    }

    /// Routing state.
    pub fn routes(&self) -> Vec<StreamRoute> {
        self.engine()
            .inspect(|e| e.routing().state())
            .unwrap_or_default()
    }

    /// Layer A state.
    pub fn layer_a(&self) -> Vec<LayerAState> {
        self.engine()
            .inspect(|e| e.routing().layer_a_state())
            .unwrap_or_default()
    }

    /// The routing state of the stream of `app`, once there is one.
    pub fn route_of(&self, app: &str) -> Option<StreamRoute> {
        self.routes().into_iter().find(|r| r.app == app)
    }

    /// Number of taps the bus holds.
    pub fn tap_count(&self) -> usize {
        self.shared.taps().len()
    }

    /// Stops the engine (routing and volumes undone), then the bus.
    pub fn stop(&mut self) -> Result<()> {
        if let Some(e) = self.engine.take() {
            e.stop("test over");
        }
        if let Some(bus) = self.bus.take() {
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

fn ipc_route(r: Route) -> headroom_ipc::Route {
    match r {
        Route::Processed => headroom_ipc::Route::Processed,
        Route::Bypass => headroom_ipc::Route::Bypass,
    }
}
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
    /// `set layer_a.enabled …`.
    fn set_layer_a_enabled(&mut self, on: bool);
    /// The stream of `app`, if known.
    fn stream(&mut self, app: &str) -> Option<StreamView>;
    /// Layer A state of the stream of `app`, if tapped.
    fn layer_a(&mut self, app: &str) -> Option<LayerView>;
    /// Number of streams the routing side knows.
    fn stream_count(&mut self) -> usize;
    /// Resident set size of the process running the bus, KiB, when it is a process of its
    /// own (`None` in process: the test binary's RSS counts the tests running alongside).
    fn rss_kib(&self) -> Option<u64>;
    /// (`MoveStream`, `AttachTap`) commands sent to PipeWire so far, when the backend can tell.
    fn commands_sent(&self) -> Option<(u64, u64)> {
        None
    }
}

impl Backend for Driver {
    fn set_rule(&mut self, app: &str, route: Route) {
        self.request(Request::RouteSet {
            app: app.into(),
            route: ipc_route(route),
        });
    }
    fn set_layer_a_enabled(&mut self, on: bool) {
        self.request(Request::SettingSet {
            key: "layer_a.enabled".into(),
            value: SettingValue::Bool(on),
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
    fn rss_kib(&self) -> Option<u64> {
        None
    }
    fn commands_sent(&self) -> Option<(u64, u64)> {
        let s = self.engine().commands_sent();
        Some((s.moves, s.taps_attached))
    }
}

/// A real `headroomd` in the sandbox, driven through `headroom-client`.
pub struct DaemonBackend {
    /// The daemon process.
    pub daemon: headroom_tests::daemon::Daemon,
    client: headroom_client::Client,
}

impl DaemonBackend {
    /// Starts `headroomd` in `sb`. `profile_toml`, when given, becomes the active profile
    /// (written as a user profile `routing-test` and named in the daemon config).
    pub fn start(sb: &Sandbox, profile_toml: Option<&str>) -> Result<Self> {
        if let Some(p) = profile_toml {
            use_test_profile(sb, p)?;
        }
        let daemon = headroom_tests::daemon::Daemon::start(sb, &[])?;
        let sock = sb.control_socket();
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
    fn rss_kib(&self) -> Option<u64> {
        let pid = self.daemon.pid()?;
        std::fs::read_to_string(format!("/proc/{pid}/status"))
            .ok()
            .and_then(|s| {
                s.lines()
                    .find_map(|l| l.strip_prefix("VmRSS:"))
                    .and_then(|v| v.split_whitespace().next()?.parse().ok())
            })
    }
}
