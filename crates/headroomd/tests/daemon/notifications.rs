//! Desktop notifications of alerts: a private D-Bus session bus (`dbus-daemon`) with a small
//! notification server on it receives what the daemon's notifier sends; `[alerts] notify` in
//! the config file, read at start-up and followed when the file changes.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use headroom_ipc::{Alert, AlertCleared, AlertKind, Event, Request, Response};
use headroomd::control::Handler;
use headroomd::notify::{Bus, Notifications, Notifier};
use headroomd::profiles::{read_alerts_notify, ProfileStore};
use headroomd::DaemonConfig;
use zbus::zvariant::OwnedValue;

use crate::support::serve::bad_profile;

/// One `Notify` call as the server received it.
#[derive(Debug, Clone)]
struct Received {
    app: String,
    replaces: u32,
    summary: String,
    body: String,
    urgency: Option<u8>,
    timeout: i32,
}

struct FakeServer {
    got: Arc<Mutex<Vec<Received>>>,
}

#[zbus::interface(name = "org.freedesktop.Notifications")]
impl FakeServer {
    #[allow(clippy::too_many_arguments)]
    fn notify(
        &self,
        app_name: String,
        replaces_id: u32,
        _app_icon: String,
        summary: String,
        body: String,
        _actions: Vec<String>,
        hints: HashMap<String, OwnedValue>,
        expire_timeout: i32,
    ) -> u32 {
        let urgency = hints.get("urgency").and_then(|v| u8::try_from(v).ok());
        let mut got = self.got.lock().unwrap();
        got.push(Received {
            app: app_name,
            replaces: replaces_id,
            summary,
            body,
            urgency,
            timeout: expire_timeout,
        });
        // Ids from 7 on, so a replaces_id of 0 is never mistaken for one.
        6 + got.len() as u32
    }
}

/// A session bus of its own, stopped (by its PID) when dropped.
struct DbusDaemon {
    child: Child,
    address: String,
    _dir: tempfile::TempDir,
}

impl DbusDaemon {
    fn start() -> DbusDaemon {
        let dir = tempfile::tempdir().unwrap();
        let mut child = Command::new("dbus-daemon")
            .args(["--session", "--nofork", "--print-address=1"])
            .arg(format!(
                "--address=unix:path={}",
                dir.path().join("bus").display()
            ))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("dbus-daemon (Debian package dbus; `make deps` installs it)");
        // Ready once it prints its address.
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert!(line.starts_with("unix:"), "dbus-daemon printed {line:?}");
        DbusDaemon {
            child,
            address: line.trim().to_string(),
            _dir: dir,
        }
    }
}

impl Drop for DbusDaemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A private session bus with the notification server on it: the bus, what the server
/// received, and the server's connection (serving while it lives).
fn notification_server() -> (
    DbusDaemon,
    Arc<Mutex<Vec<Received>>>,
    zbus::blocking::Connection,
) {
    let bus = DbusDaemon::start();
    let got = Arc::new(Mutex::new(Vec::new()));
    let server = zbus::blocking::connection::Builder::address(bus.address.as_str())
        .unwrap()
        .name("org.freedesktop.Notifications")
        .unwrap()
        .serve_at(
            "/org/freedesktop/Notifications",
            FakeServer { got: got.clone() },
        )
        .unwrap()
        .build()
        .unwrap();
    (bus, got, server)
}

fn wait_for(got: &Arc<Mutex<Vec<Received>>>, n: usize) -> Vec<Received> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let g = got.lock().unwrap().clone();
        if g.len() >= n || Instant::now() > deadline {
            return g;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn alerts_raised_and_cleared_reach_the_notification_server() {
    let (bus, got, _server) = notification_server();

    let n = Notifier::spawn(Bus::Address(bus.address.clone())).unwrap();
    // Events that are not alerts are not shown.
    n.offer(&Event::ProfileChanged(headroom_ipc::ProfileChanged {
        name: "night".into(),
        source: headroom_ipc::ProfileSource::Shipped,
    }));
    n.offer(&Event::AlertRaised(Alert {
        kind: AlertKind::RealSinkMissing,
        message: "no real sink to play into".into(),
        since_unix_ms: 1,
    }));
    let g = wait_for(&got, 1);
    assert_eq!(g.len(), 1, "{g:?}");
    assert_eq!(g[0].app, "headroom");
    assert_eq!(g[0].summary, "headroom: no output device");
    assert_eq!(g[0].body, "no real sink to play into");
    assert_eq!(
        (g[0].replaces, g[0].urgency, g[0].timeout),
        (0, Some(2), -1)
    );

    n.offer(&Event::AlertCleared(AlertCleared {
        kind: AlertKind::RealSinkMissing,
        message: "playing into alsa_output.usb".into(),
        since_unix_ms: 1,
        unix_ms: 2,
    }));
    let g = wait_for(&got, 2);
    assert_eq!(g.len(), 2, "{g:?}");
    // The clearing replaces the alert's notification (its id was 7) and goes away by itself.
    assert_eq!(g[1].summary, "headroom: no output device — cleared");
    assert_eq!(
        (g[1].replaces, g[1].urgency, g[1].timeout),
        (7, Some(0), 5000)
    );
}

#[test]
fn alerts_notify_is_read_from_the_config_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.toml");
    assert_eq!(read_alerts_notify(&path), Ok(false), "no file: off");
    std::fs::write(&path, "profile = \"night\"\n").unwrap();
    assert_eq!(read_alerts_notify(&path), Ok(false), "no [alerts]: off");
    std::fs::write(&path, "profile = \"night\"\n[alerts]\nnotify = true\n").unwrap();
    assert_eq!(read_alerts_notify(&path), Ok(true));
    std::fs::write(&path, "[alerts]\nnotify = false\n").unwrap();
    assert_eq!(read_alerts_notify(&path), Ok(false));
    std::fs::write(&path, "[alerts]\nnotify = 1\n").unwrap();
    let e = read_alerts_notify(&path).unwrap_err();
    assert!(
        e.ends_with(":2:10: `alerts.notify` must be true or false"),
        "{e}"
    );
}

/// Polls `cond` for up to 20 s; whether it became true.
fn eventually(cond: impl Fn() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !cond() {
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    true
}

#[test]
fn alerts_notify_is_followed_when_the_config_file_changes() {
    let (bus, got, _server) = notification_server();
    let rig = crate::support::rig::Rig::new(DaemonConfig::default());
    let (config, state) = (rig.config.clone(), rig.state.clone());
    let config_file = config.join("config.toml");
    std::fs::write(&config_file, "[alerts]\nnotify = false\n").unwrap();
    // Off at start-up, as `run` reads it; the profile watcher follows the file from here.
    let notifications = Arc::new(Notifications::new(Bus::Address(bus.address.clone())));
    notifications.set_enabled(read_alerts_notify(&config_file).unwrap());
    assert!(!notifications.is_enabled());
    let run = rig.spawn(Some(notifications.clone()));
    let prof_tx = run.profile_events.clone();
    let _watch = ProfileStore::new(&config, &state)
        .watch(prof_tx.clone())
        .unwrap();
    let engine = &run.engine;
    let handler = engine.handler();
    // A profile error raises the `profile_error` alert; a reload that loads clears it.
    let raise_and_clear = || {
        prof_tx
            .send(bad_profile(config.join("profiles/x.toml")))
            .unwrap();
        // The error and the requests come through different channels: the reload only
        // once the status shows the error.
        assert!(eventually(|| matches!(
            handler.handle(Request::Status).map(|r| r.result),
            Ok(Response::Status(s)) if s.profile_error.is_some()
        )));
        handler.handle(Request::ProfileReload).unwrap();
    };

    std::fs::write(&config_file, "[alerts]\nnotify = true\n").unwrap();
    assert!(eventually(|| notifications.is_enabled()), "not turned on");
    raise_and_clear();
    let g = wait_for(&got, 2);
    assert_eq!(g.len(), 2, "{g:?}");
    assert_eq!(g[0].summary, "headroom: profile error");
    assert!(
        g[0].body.contains("x.toml:3:14: expected a number"),
        "{g:?}"
    );
    assert_eq!(g[1].summary, "headroom: profile error — cleared");

    // An invalid value changes nothing; `false` turns them off.
    std::fs::write(&config_file, "[alerts]\nnotify = \"yes\"\n").unwrap();
    std::fs::write(&config_file, "[alerts]\nnotify = false\n").unwrap();
    assert!(eventually(|| !notifications.is_enabled()), "not turned off");
    raise_and_clear();
    // On again: only the alerts from now on are shown.
    std::fs::write(
        &config_file,
        "profile = \"night\"\n[alerts]\nnotify = true\n",
    )
    .unwrap();
    assert!(
        eventually(|| notifications.is_enabled()),
        "not turned on again"
    );
    raise_and_clear();
    let g = wait_for(&got, 4);
    assert_eq!(g.len(), 4, "{g:?}");
    assert_eq!(
        (g[2].summary.as_str(), g[2].replaces),
        ("headroom: profile error", 0)
    );
    assert_eq!(g[3].summary, "headroom: profile error — cleared");
    run.engine.stop("test");
}

/// `profile.reload` re-reads `[alerts] notify` as a hot reload does: with no file watcher at
/// all, the explicit reload alone turns desktop notifications on and off.
#[test]
fn profile_reload_applies_alerts_notify() {
    let rig = crate::support::rig::Rig::new(DaemonConfig::default());
    let config_file = rig.config.join("config.toml");
    // Nothing is sent: no bus is needed behind the address.
    let notifications = Arc::new(Notifications::new(Bus::Address(
        "unix:path=/nonexistent/headroom-test-bus".into(),
    )));
    let run = rig.spawn(Some(notifications.clone()));
    let handler = run.engine.handler();
    assert!(!notifications.is_enabled());

    std::fs::write(&config_file, "[alerts]\nnotify = true\n").unwrap();
    // The reply comes after everything the reload applied.
    handler.handle(Request::ProfileReload).unwrap();
    assert!(
        notifications.is_enabled(),
        "not turned on by profile.reload"
    );

    // An invalid value changes nothing; `false` turns them off.
    std::fs::write(&config_file, "[alerts]\nnotify = \"yes\"\n").unwrap();
    handler.handle(Request::ProfileReload).unwrap();
    assert!(notifications.is_enabled());
    std::fs::write(&config_file, "[alerts]\nnotify = false\n").unwrap();
    handler.handle(Request::ProfileReload).unwrap();
    assert!(
        !notifications.is_enabled(),
        "not turned off by profile.reload"
    );
    run.engine.stop("test");
}
