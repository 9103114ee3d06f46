//! An engine without PipeWire: the real [`Engine`] over temporary config and state
//! directories and a [`BusShared`] the test fills in, as the PipeWire thread would.

use std::path::PathBuf;

use headroom_core::timing::DEFAULT_SPIKE_THRESHOLD_US;
use headroom_ipc::{IpcError, Request, Response};
use headroomd::engine::{Engine, Input, Output};
use headroomd::history::{History, HistoryConfig};
use headroomd::profiles::ProfileStore;
use headroomd::pw::{BusShared, GraphNode, PwEvent};
use headroomd::DaemonConfig;

/// A history kept in memory only.
pub fn memory_history() -> History {
    History::new(&HistoryConfig {
        dir: None,
        ..HistoryConfig::default()
    })
    .unwrap()
}

/// An engine over temporary config and state directories and a bus without PipeWire.
pub struct Rig {
    /// The temporary directory holding `config` and `state`.
    pub tmp: tempfile::TempDir,
    /// The config directory (`…/headroom`, with `profiles/`).
    pub config: PathBuf,
    /// The state directory.
    pub state: PathBuf,
    /// The bus state the engine reads; the test plays the PipeWire thread on it.
    pub bus: BusShared,
    /// The engine.
    pub engine: Engine,
}

impl Rig {
    /// An engine with the command-line options `daemon`.
    pub fn new(daemon: DaemonConfig) -> Self {
        Self::with_history(daemon, memory_history())
    }

    /// An engine with the command-line options `daemon` over `history`.
    pub fn with_history(daemon: DaemonConfig, history: History) -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let config = tmp.path().join("config/headroom");
        let state = tmp.path().join("state/headroom");
        std::fs::create_dir_all(config.join("profiles")).unwrap();
        let store = ProfileStore::new(&config, &state);
        let params = Engine::chain_params(&store.effective(), daemon.bypass);
        let bus = BusShared::new(params, DEFAULT_SPIKE_THRESHOLD_US);
        let engine = Engine::new(
            store,
            bus.clone(),
            history,
            state.join("routes.json"),
            &daemon,
        );
        Rig {
            tmp,
            config,
            state,
            bus,
            engine,
        }
    }

    /// Feeds one input.
    pub fn on(&mut self, input: Input) -> Vec<Output> {
        self.engine.on(input)
    }

    /// Sends a request; returns the outputs before the reply, and the reply (always last).
    pub fn request(&mut self, req: Request) -> (Vec<Output>, Result<Response, IpcError>) {
        let mut out = self.on(Input::Request(req));
        match out.pop() {
            Some(Output::Reply(r)) => (out, r),
            other => panic!("the reply is not the last output: {other:?}"),
        }
    }

    /// What the PipeWire thread does when a node appears: the graph model first, then the
    /// event.
    pub fn node_added(&mut self, id: u32, class: &str, props: &[(&str, &str)]) -> Vec<Output> {
        let props: std::collections::BTreeMap<String, String> = props
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let node = GraphNode {
            id,
            serial: Some(u64::from(id) + 1000),
            name: props.get("node.name").cloned(),
            media_class: Some(class.to_string()),
            props: props.clone(),
        };
        self.bus.graph().write().nodes.insert(id, node);
        self.on(Input::Pw(PwEvent::NodeAdded {
            id,
            serial: Some(u64::from(id) + 1000),
            props,
            media_class: Some(class.to_string()),
        }))
    }

    /// PipeWire up, the speakers present and the bus ready.
    pub fn bus_up(&mut self) {
        self.on(Input::Pw(PwEvent::Connected));
        self.node_added(30, "Audio/Sink", &[("node.name", "speakers")]);
        self.on(Input::Pw(PwEvent::RealSinkChanged {
            name: Some("speakers".into()),
        }));
        self.on(Input::Pw(PwEvent::BusReady {
            latency_frames: 72,
            sink_id: 31,
            playback_id: 32,
            channels: "FL FR".into(),
        }));
    }
}
