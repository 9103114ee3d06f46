//! The terminal loop of `headroom monitor` and its NDJSON mode.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossterm::event::{self, Event as TermEvent};
use headroom_client::{Client, ClientError, Subscription};
use headroom_ipc::{BypassMode, Event, History, Route, SettingValue, Status, Topic};

use super::events::{apply_event, apply_status};
use super::keys::{on_key, perform, Control};
use super::state::{MonitorState, HISTORY_SPAN_S};
use crate::connection::{client_error, connect};
use crate::error::{CliError, CliResult, ErrorKind};

/// Pause between reconnection attempts while the daemon is away.
const RETRY: Duration = Duration::from_secs(1);
/// How often the status (uptime, DSP timing, xruns) is refreshed.
const STATUS_EVERY: Duration = Duration::from_secs(1);
/// Longest wait for input before redrawing.
const FRAME: Duration = Duration::from_millis(100);

enum Msg {
    /// The daemon's recent history and the wall clock when it arrived, ms.
    History(Box<History>, u64),
    Event(Event),
    Status(Box<Status>),
    Disconnected(String),
}

/// What the TUI says while no daemon answers.
pub const WAITING: &str = "waiting for headroomd …";

/// `headroom monitor`: the TUI, or NDJSON events on `out` with `json`. With `wait`, the TUI
/// (and the NDJSON stream) started before the daemon waits for it (connecting when it
/// appears) instead of exiting; both reconnect when the daemon comes back (the NDJSON stream
/// only with `wait`; without it, it ends with exit code 3 when the daemon leaves).
pub fn run(
    socket: &Path,
    topics: &[Topic],
    json: bool,
    wait: bool,
    out: &mut dyn Write,
) -> CliResult {
    if json {
        return run_json(socket, topics, wait, out);
    }
    // Connect before touching the terminal, so a daemon that is down is reported plainly
    // (or, with `wait`, waited for).
    let (tx, rx) = mpsc::channel();
    let sub = match connect(socket)
        .and_then(|c| open_subscription(c, topics, &tx).map_err(|e| client_error(e, socket)))
    {
        Ok(s) => Some(s),
        // Waiting needs the screen to say so; without a terminal, report it plainly.
        Err(e) if wait && e.kind == ErrorKind::DaemonDown && std::io::stdout().is_terminal() => {
            None
        }
        Err(e) => return Err(e),
    };
    if !std::io::stdout().is_terminal() {
        return Err(CliError::failed(
            "headroom monitor needs a terminal; use `headroom monitor --json` for an NDJSON event stream",
        ));
    }
    if sub.is_none() {
        let _ = tx.send(Msg::Disconnected(WAITING.to_string()));
    }
    spawn_events(sub, tx.clone(), socket.to_path_buf(), topics.to_vec());
    spawn_status(tx, socket.to_path_buf());

    // SIGTERM, SIGHUP (the terminal closed) and SIGINT end the monitor as `q` does, with the
    // terminal restored (killed outright they left it in the alternate screen, the cursor
    // hidden: `timeout 10 headroom monitor`).
    let stop = Arc::new(AtomicUsize::new(0));
    for sig in [
        signal_hook::consts::SIGTERM,
        signal_hook::consts::SIGHUP,
        signal_hook::consts::SIGINT,
    ] {
        let _ = signal_hook::flag::register_usize(sig, Arc::clone(&stop), sig as usize);
    }
    // `try_init` enters raw mode and the alternate screen and installs a panic hook that
    // restores the terminal before the panic message is printed.
    let mut terminal = ratatui::try_init()
        .map_err(|e| CliError::failed(format!("cannot set up the terminal: {e}")))?;
    let names: Vec<String> = topics.iter().map(|t| t.as_str().to_string()).collect();
    let result = ui_loop(&mut terminal, rx, socket, names, &stop);
    ratatui::restore();
    result
}

/// The error that ends a monitor stopped by `signal` (exit code 128 + the signal).
fn stopped_by(signal: usize) -> CliError {
    let name = match signal as i32 {
        signal_hook::consts::SIGTERM => "SIGTERM",
        signal_hook::consts::SIGHUP => "SIGHUP",
        _ => "SIGINT",
    };
    CliError::new(
        ErrorKind::Interrupted(u8::try_from(signal).unwrap_or(u8::MAX)),
        format!("monitor stopped by {name}"),
    )
}

/// `headroom monitor --json`: the events as NDJSON on `out`. Like the TUI, with `wait` it
/// waits for a daemon that is not running (trying once a second) and reconnects when the
/// daemon goes away and comes back; each new connection starts with the topics' snapshot
/// events again. What it is waiting for goes to standard error, never into the NDJSON.
/// Without `wait` it ends with [`ErrorKind::DaemonDown`] (exit code 3) when no daemon runs
/// or when the daemon closes the connection.
fn run_json(socket: &Path, topics: &[Topic], wait: bool, out: &mut dyn Write) -> CliResult {
    // Whether the current wait has been announced on standard error.
    let mut said = false;
    loop {
        let subscribed =
            connect(socket).and_then(|c| c.subscribe(topics).map_err(|e| client_error(e, socket)));
        let sub = match subscribed {
            Ok(s) => s,
            Err(e) if wait && e.kind == ErrorKind::DaemonDown => {
                if !said {
                    eprintln!(
                        "headroom: headroomd is not running; waiting for it at {} \
                         (--no-wait exits instead)",
                        socket.display()
                    );
                    said = true;
                }
                std::thread::sleep(RETRY);
                continue;
            }
            Err(e) => return Err(e),
        };
        if said {
            eprintln!("headroom: connected to headroomd");
        }
        for ev in sub {
            let ev = match ev {
                Ok(ev) => ev,
                // The connection broke (reset, unreadable): as if the daemon had left.
                Err(ClientError::Io(_) | ClientError::Closed) => break,
                Err(e) => return Err(client_error(e, socket)),
            };
            let line = serde_json::to_string(&ev).map_err(|e| CliError::failed(e.to_string()))?;
            writeln!(out, "{line}")?;
            out.flush()?;
        }
        if !wait {
            return Err(CliError::new(
                ErrorKind::DaemonDown,
                "headroomd closed the connection",
            ));
        }
        eprintln!("headroom: headroomd closed the connection; waiting for it to come back");
        said = true;
        std::thread::sleep(RETRY);
    }
}

fn reason(e: &ClientError) -> String {
    match e {
        ClientError::NotRunning { .. } => "headroomd is not running".into(),
        other => other.to_string(),
    }
}

/// Subscribes to `topics` on `c`; with the `meters` topic, first asks for the last minute of
/// history and sends it, so the chart starts with the daemon's past (a daemon that cannot
/// answer it is followed all the same, with an empty past).
fn open_subscription(
    mut c: Client,
    topics: &[Topic],
    tx: &Sender<Msg>,
) -> Result<Subscription, ClientError> {
    if topics.contains(&Topic::Meters) {
        if let Ok(h) = c.history(Some(HISTORY_SPAN_S as u64 + 1)) {
            let now_unix_ms = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as u64);
            let _ = tx.send(Msg::History(Box::new(h), now_unix_ms));
        }
    }
    c.subscribe(topics)
}

/// Forwards events; when the stream ends, reports it and resubscribes once the daemon is back.
fn spawn_events(first: Option<Subscription>, tx: Sender<Msg>, socket: PathBuf, topics: Vec<Topic>) {
    std::thread::spawn(move || {
        let mut sub = first;
        loop {
            if let Some(s) = sub.take() {
                let mut why = "headroomd closed the connection".to_string();
                for ev in s {
                    match ev {
                        Ok(e) => {
                            if tx.send(Msg::Event(e)).is_err() {
                                return;
                            }
                        }
                        Err(e) => {
                            why = reason(&e);
                            break;
                        }
                    }
                }
                if tx.send(Msg::Disconnected(why)).is_err() {
                    return;
                }
            }
            std::thread::sleep(RETRY);
            match Client::connect_to(&socket).and_then(|c| open_subscription(c, &topics, &tx)) {
                Ok(s) => sub = Some(s),
                Err(e) => {
                    let why = match e {
                        ClientError::NotRunning { .. } => WAITING.to_string(),
                        other => reason(&other),
                    };
                    if tx.send(Msg::Disconnected(why)).is_err() {
                        return;
                    }
                }
            }
        }
    });
}

/// Polls `status` once a second on its own connection (uptime, DSP timing, xruns).
fn spawn_status(tx: Sender<Msg>, socket: PathBuf) {
    std::thread::spawn(move || {
        let mut client: Option<Client> = None;
        loop {
            if client.is_none() {
                client = Client::connect_to(&socket).ok();
            }
            if let Some(c) = client.as_mut() {
                match c.status() {
                    Ok(s) => {
                        if tx.send(Msg::Status(Box::new(s))).is_err() {
                            return;
                        }
                    }
                    Err(_) => client = None,
                }
            }
            std::thread::sleep(STATUS_EVERY);
        }
    });
}

fn ui_loop(
    terminal: &mut ratatui::DefaultTerminal,
    rx: Receiver<Msg>,
    socket: &Path,
    topics: Vec<String>,
    stop: &AtomicUsize,
) -> CliResult {
    let start = Instant::now();
    let now = || start.elapsed().as_millis() as u64;
    let mut state = MonitorState::new(topics);
    let stopped = || match stop.load(Ordering::Relaxed) {
        0 => None,
        s => Some(stopped_by(s)),
    };
    loop {
        if let Some(e) = stopped() {
            return Err(e);
        }
        // Drain what arrived, waiting at most one frame for the first message.
        match rx.recv_timeout(Duration::from_millis(1)) {
            Ok(m) => handle(&mut state, m, now()),
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => {
                return Err(CliError::failed("monitor threads stopped"));
            }
        }
        while let Ok(m) = rx.try_recv() {
            handle(&mut state, m, now());
        }
        state.tick(now());
        terminal
            .draw(|f| super::draw::draw(f, &state))
            .map_err(|e| CliError::failed(format!("cannot draw: {e}")))?;
        // A signal may interrupt the wait for a key: it ends the monitor, not as an error.
        let ready = match event::poll(FRAME) {
            Ok(r) => r,
            Err(e) => return Err(stopped().unwrap_or_else(|| CliError::failed(e.to_string()))),
        };
        if ready {
            if let TermEvent::Key(k) = event::read().map_err(|e| CliError::failed(e.to_string()))? {
                if let Some(action) = on_key(&mut state, k, now()) {
                    let mut ctl = SocketControl {
                        socket,
                        warning: None,
                    };
                    if perform(&mut state, action, &mut ctl, now()) {
                        return Ok(());
                    }
                }
            }
        }
    }
}

fn handle(state: &mut MonitorState, m: Msg, now_ms: u64) {
    match m {
        Msg::History(h, now_unix_ms) => {
            let points: Vec<(u64, f32, f32, f32)> = h
                .samples
                .iter()
                .map(|s| {
                    (
                        s.unix_ms,
                        s.in_short_term_lufs,
                        s.out_short_term_lufs,
                        s.compressor_gr_db + s.limiter_gr_db,
                    )
                })
                .collect();
            state.prefill_history(&points, now_unix_ms, now_ms);
        }
        Msg::Event(e) => apply_event(state, &e, now_ms),
        Msg::Status(s) => apply_status(state, &s, now_ms),
        Msg::Disconnected(why) => state.disconnected(&why, now_ms),
    }
}

/// The monitor's keys' requests, each on a connection of its own.
struct SocketControl<'a> {
    socket: &'a Path,
    /// The warning of the last reply that carried one (see [`Control::take_warning`]).
    warning: Option<String>,
}

impl SocketControl<'_> {
    fn client(&mut self) -> Result<Client, String> {
        self.warning = None;
        connect(self.socket).map_err(|e| e.message)
    }

    /// Keeps the warning `c`'s last reply carried.
    fn keep_warning(&mut self, c: &Client) {
        if let Some(w) = c.warning() {
            self.warning = Some(w.to_string());
        }
    }

    fn err(&self, e: ClientError) -> String {
        client_error(e, self.socket).message
    }
}

impl Control for SocketControl<'_> {
    fn toggle_bypass(&mut self) -> Result<bool, String> {
        let mut c = self.client()?;
        let on = c.bypass_set(BypassMode::Toggle).map_err(|e| self.err(e))?;
        self.keep_warning(&c);
        Ok(on)
    }

    /// Activates the profile after the active one (by name, wrapping around).
    fn next_profile(&mut self) -> Result<String, String> {
        let mut c = self.client()?;
        let list = c.profile_list().map_err(|e| self.err(e))?;
        let mut names: Vec<&str> = list.profiles.iter().map(|p| p.name.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        let next = names
            .iter()
            .position(|n| *n == list.active)
            .map(|i| names[(i + 1) % names.len()])
            .or_else(|| names.first().copied())
            .ok_or_else(|| "no profiles available".to_string())?
            .to_string();
        let name = c.profile_use(&next).map_err(|e| self.err(e))?;
        self.keep_warning(&c);
        Ok(name)
    }

    fn set_route(&mut self, app: &str, route: Route) -> Result<(), String> {
        let mut c = self.client()?;
        c.route_set(app, route).map_err(|e| self.err(e))?;
        self.keep_warning(&c);
        Ok(())
    }

    fn toggle_layer_a(&mut self) -> Result<bool, String> {
        let mut c = self.client()?;
        let now = c
            .setting_get("layer_a.enabled")
            .map_err(|e| self.err(e))?
            .value;
        let on = !matches!(now, SettingValue::Bool(true));
        c.setting_set("layer_a.enabled", SettingValue::Bool(on))
            .map_err(|e| self.err(e))?;
        self.keep_warning(&c);
        Ok(on)
    }

    fn take_warning(&mut self) -> Option<String> {
        self.warning.take()
    }
}
