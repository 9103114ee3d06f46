//! A fake engine behind the real control server, for the tests of the server itself
//! (connections, framing, subscribers, shutdown): settings in a map, a bypass flag, canned
//! status and routes, and a way to make it panic.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use headroom_ipc::*;
use headroomd::control::{Broadcaster, Handler, Reply, Server, ServerConfig, ServerHandle};
use parking_lot::Mutex;

/// A fake engine: settings in a map, bypass flag, canned status and routes.
pub struct FakeEngine {
    pub broadcaster: Broadcaster,
    pub settings: Mutex<BTreeMap<String, SettingValue>>,
    pub bypass: AtomicBool,
    pub calls: AtomicU64,
}

impl FakeEngine {
    pub fn new(broadcaster: Broadcaster) -> Arc<Self> {
        let mut settings = BTreeMap::new();
        settings.insert("agc.target_lufs".to_owned(), SettingValue::Int(-23));
        settings.insert("limiter.enabled".to_owned(), SettingValue::Bool(true));
        Arc::new(FakeEngine {
            broadcaster,
            settings: Mutex::new(settings),
            bypass: AtomicBool::new(false),
            calls: AtomicU64::new(0),
        })
    }

    pub fn status(&self) -> Status {
        Status {
            state: headroom_ipc::StateWord::Levelling,
            daemon_version: "0.1.0".into(),
            protocol_version: PROTOCOL_VERSION,
            uptime_s: 1,
            pipewire: PipewireState::Disconnected {
                reason: "fake engine".into(),
            },
            real_sink: None,
            processed_sink: "headroom-processed".into(),
            processed_channels: None,
            promote_default: false,
            profile: "default".into(),
            bypass: self.bypass.load(Ordering::SeqCst),
            dsp: DspTiming::default(),
            xruns: 0,
            meters: Meters::silent(-23.0),
            streams: 0,
            profile_error: None,
            profile_error_active: None,
            profile_in_force: None,
            alerts: vec![],
            config_warnings: vec![],
            file_warnings: vec![],
        }
    }

    fn entry(&self, key: &str) -> Result<SettingEntry, IpcError> {
        let settings = self.settings.lock();
        let value = settings
            .get(key)
            .cloned()
            .ok_or_else(|| IpcError::unknown_key(key))?;
        Ok(SettingEntry {
            key: key.to_owned(),
            default: value.clone(),
            value,
            overridden: false,
        })
    }

    fn all(&self) -> Settings {
        let settings = self.settings.lock();
        Settings {
            settings: settings
                .iter()
                .map(|(k, v)| SettingEntry {
                    key: k.clone(),
                    value: v.clone(),
                    default: v.clone(),
                    overridden: false,
                })
                .collect(),
        }
    }
}

impl Handler for FakeEngine {
    fn handle(&self, req: Request) -> Result<Reply, IpcError> {
        self.answer(req).map(Reply::from)
    }

    fn snapshot(&self, topics: &[Topic]) -> Vec<Event> {
        let mut out = Vec::new();
        for t in topics {
            match t {
                Topic::Daemon => out.push(Event::DaemonSnapshot(Box::new(self.status()))),
                Topic::Settings => out.push(Event::SettingsSnapshot(self.all())),
                Topic::Meters => {
                    let mut m = Meters::silent(-23.0);
                    m.frames = u64::MAX;
                    out.push(Event::meters_tick(m, vec![]));
                }
                _ => {}
            }
        }
        out
    }
}

/// A server on a fresh temporary socket with a fake engine.
pub struct Fixture {
    /// Holds the socket's directory for as long as the fixture lives.
    pub _dir: tempfile::TempDir,
    pub path: PathBuf,
    pub engine: Arc<FakeEngine>,
    pub broadcaster: Broadcaster,
    pub server: ServerHandle,
}

pub fn start() -> Fixture {
    start_with(ServerConfig::default())
}

pub fn start_with(config: ServerConfig) -> Fixture {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("run/control.sock");
    let broadcaster = Broadcaster::new();
    let engine = FakeEngine::new(broadcaster.clone());
    let server = Server::start_with(&path, engine.clone(), broadcaster.clone(), config)
        .expect("server starts");
    Fixture {
        _dir: dir,
        path,
        engine,
        broadcaster,
        server,
    }
}

/// Meters tick carrying `n` in `frames`, to check order and completeness.
pub fn tick(n: u64) -> Event {
    let mut m = Meters::silent(-23.0);
    m.frames = n;
    Event::meters_tick(m, vec![])
}

impl FakeEngine {
    /// The result of `req`.
    fn answer(&self, req: Request) -> Result<Response, IpcError> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        match req {
            Request::Status => Ok(Response::Status(Box::new(self.status()))),
            Request::SettingGet { key } => self.entry(&key).map(Response::Setting),
            Request::SettingSet { key, value } => {
                if key == "panic" {
                    panic!("fake engine asked to panic");
                }
                if key.starts_with("client.") || self.settings.lock().contains_key(&key) {
                    self.settings.lock().insert(key.clone(), value.clone());
                    self.broadcaster
                        .publish(&Event::setting_changed(key.clone(), value, true));
                    self.entry(&key).map(Response::Setting)
                } else {
                    Err(IpcError::unknown_key(&key))
                }
            }
            Request::SettingList => Ok(Response::Settings(self.all())),
            Request::BypassSet { mode } => {
                let new = match mode {
                    BypassMode::On => true,
                    BypassMode::Off => false,
                    BypassMode::Toggle => !self.bypass.load(Ordering::SeqCst),
                };
                self.bypass.store(new, Ordering::SeqCst);
                Ok(Response::Bypass(BypassState { bypass: new }))
            }
            Request::ProfileUse { name } => {
                Err(IpcError::not_found(format!("no profile named `{name}`")))
            }
            Request::RouteList { .. } => Ok(Response::Routes(Routes {
                rules: vec![],
                streams: vec![],
                next_cursor: None,
            })),
            Request::RouteSet { .. } | Request::RouteUnset { .. } => Ok(Response::Ok),
            other => Err(IpcError::new(
                ErrorCode::Unavailable,
                format!("`{}` is not supported by the fake engine", other.method()),
            )),
        }
    }
}
