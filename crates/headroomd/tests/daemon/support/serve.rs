//! The real engine of a [`Rig`] on its own thread, as `headroomd` runs it, without PipeWire:
//! its commands for the PipeWire side are recorded in a channel, the test sends what the
//! PipeWire thread and the file watcher would; [`serve`] puts the control socket in front.

use std::path::PathBuf;
use std::sync::Arc;

use crossbeam_channel::{unbounded, Receiver, Sender};
use headroomd::control::{Broadcaster, Server, ServerHandle};
use headroomd::engine::EngineThread;
use headroomd::notify::Notifications;
use headroomd::profiles::{FileError, ProfileEvent};
use headroomd::pw::{BusShared, PwCommand, PwEvent};

use super::rig::Rig;

/// A [`Rig`]'s engine running on its thread.
pub struct Running {
    /// The temporary directory of the rig (the socket goes in `run/` below it).
    pub tmp: tempfile::TempDir,
    /// The config directory (`…/headroom`, with `profiles/`).
    pub config: PathBuf,
    /// The bus state the engine reads and writes.
    pub bus: BusShared,
    /// The engine's thread (stopped when dropped).
    pub engine: EngineThread,
    /// Every command the engine sent to the PipeWire side.
    pub commands: Receiver<PwCommand>,
    /// What the PipeWire thread would report.
    pub pw_events: Sender<PwEvent>,
    /// What the profile watcher would report.
    pub profile_events: Sender<ProfileEvent>,
    /// The subscribers' broadcaster the engine publishes to.
    pub broadcaster: Broadcaster,
}

impl Rig {
    /// Starts the engine on its thread (its alerts also offered to `notifications`).
    pub fn spawn(self, notifications: Option<Arc<Notifications>>) -> Running {
        let Rig {
            tmp,
            config,
            bus,
            engine,
            ..
        } = self;
        let (cmd_tx, commands) = unbounded();
        let (pw_events, pw_rx) = unbounded();
        let (profile_events, prof_rx) = unbounded();
        let broadcaster = Broadcaster::new();
        let engine = EngineThread::spawn_notifying(
            engine,
            Box::new(cmd_tx),
            broadcaster.clone(),
            pw_rx,
            prof_rx,
            notifications,
        )
        .unwrap();
        Running {
            tmp,
            config,
            bus,
            engine,
            commands,
            pw_events,
            profile_events,
            broadcaster,
        }
    }
}

/// A running engine behind the real control socket.
pub struct Served {
    /// The engine and its channels.
    pub run: Running,
    /// The control server (shut down when dropped).
    pub server: ServerHandle,
    /// Its socket.
    pub socket: PathBuf,
}

/// Starts `rig`'s engine on its thread and the control server in front of it, at
/// `run/control.sock` in the rig's directory.
pub fn serve(rig: Rig) -> Served {
    let run = rig.spawn(None);
    let socket = run.tmp.path().join("run/control.sock");
    let server = Server::start(
        &socket,
        Arc::new(run.engine.handler()),
        run.broadcaster.clone(),
    )
    .unwrap();
    Served {
        run,
        server,
        socket,
    }
}

/// `profile/error` for `file` at line 3, column 14 (what the watcher sends for a bad edit).
pub fn bad_profile(file: PathBuf) -> ProfileEvent {
    ProfileEvent::Error(FileError {
        file,
        line: 3,
        column: 14,
        message: "expected a number".into(),
    })
}
