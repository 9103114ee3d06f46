//! Desktop notifications of alerts over the freedesktop notification D-Bus interface
//! (`org.freedesktop.Notifications.Notify` on the session bus), when `config.toml` says
//! `[alerts] notify = true` (off by default).
//!
//! Threads: the engine's thread hands alert events to [`Notifier::offer`], which never
//! blocks (a bounded queue; an alert that finds it full is dropped and counted in the log);
//! a thread of its own (`headroom-notify`) talks to D-Bus. The audio callback has nothing to
//! do with it. The connection is made at the first alert and made again at the next alert
//! after a failure (no notification server, no session bus: logged once per failure streak,
//! never fatal). A raised alert is shown until it clears (the server's default timeout); its
//! clearing replaces it (`replaces_id`) with a short-lived "cleared" notification.
//!
//! [`Notifications`] is the switch the daemon holds: `[alerts] notify` is read at start-up and
//! again whenever the config file changes (the profile watcher reports it as
//! [`crate::profiles::ProfileEvent::AlertsNotify`]); turning it on starts a notifier, turning
//! it off ends the notifier's thread once its queue is empty.

use std::collections::HashMap;

use crossbeam_channel::{bounded, Receiver, Sender, TrySendError};
use headroom_ipc::{AlertKind, Event};
use parking_lot::Mutex;
use zbus::blocking::Connection;
use zbus::zvariant::Value;

/// Alerts waiting for the notification thread at most.
const QUEUE: usize = 32;
/// How long a "cleared" notification stays, ms.
const CLEARED_TIMEOUT_MS: i32 = 5000;

/// Which bus to send notifications on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Bus {
    /// The user's session bus (`DBUS_SESSION_BUS_ADDRESS`).
    Session,
    /// A bus at this D-Bus address (tests).
    Address(String),
}

/// Sends alert notifications from a thread of its own.
#[derive(Debug, Clone)]
pub struct Notifier {
    tx: Sender<Event>,
}

impl Notifier {
    /// Starts the notification thread. Allocates; spawns a thread.
    pub fn spawn(bus: Bus) -> std::io::Result<Notifier> {
        let (tx, rx) = bounded(QUEUE);
        std::thread::Builder::new()
            .name("headroom-notify".into())
            .spawn(move || serve(bus, rx))?;
        Ok(Notifier { tx })
    }

    /// Queues `event` when it is an alert being raised or cleared; other events are ignored.
    /// Never blocks.
    pub fn offer(&self, event: &Event) {
        if !matches!(event, Event::AlertRaised(_) | Event::AlertCleared(_)) {
            return;
        }
        match self.tx.try_send(event.clone()) {
            Ok(()) | Err(TrySendError::Disconnected(_)) => {}
            Err(TrySendError::Full(_)) => {
                tracing::warn!("desktop notifications fall behind; an alert was not shown")
            }
        }
    }
}

/// Desktop notifications switched on and off while the daemon runs (`[alerts] notify`).
/// Shared between the engine's thread, which offers alerts, and whoever follows the config
/// file; thread-safe, cheap to call.
#[derive(Debug)]
pub struct Notifications {
    bus: Bus,
    notifier: Mutex<Option<Notifier>>,
}

impl Notifications {
    /// Off, sending on `bus` once turned on.
    pub fn new(bus: Bus) -> Notifications {
        Notifications {
            bus,
            notifier: Mutex::new(None),
        }
    }

    /// Turns notifications on (starting the notification thread when it is not running) or
    /// off (its thread ends after the alerts already queued). Logs the change; a notifier that
    /// cannot start is logged and leaves them off. Allocates; may spawn a thread.
    pub fn set_enabled(&self, on: bool) {
        let mut n = self.notifier.lock();
        match (on, n.is_some()) {
            (true, false) => match Notifier::spawn(self.bus.clone()) {
                Ok(x) => {
                    tracing::info!("alerts are also sent as desktop notifications");
                    *n = Some(x);
                }
                Err(e) => tracing::warn!("desktop notifications are off: {e}"),
            },
            (false, true) => {
                tracing::info!("desktop notifications of alerts are off");
                *n = None;
            }
            _ => {}
        }
    }

    /// Whether alerts are being sent as notifications.
    pub fn is_enabled(&self) -> bool {
        self.notifier.lock().is_some()
    }

    /// Hands `event` to the notifier when notifications are on (see [`Notifier::offer`]).
    /// Never blocks on D-Bus.
    pub fn offer(&self, event: &Event) {
        if let Some(n) = self.notifier.lock().as_ref() {
            n.offer(event);
        }
    }
}

/// The notification's title for an alert kind.
pub fn title(kind: AlertKind) -> &'static str {
    match kind {
        AlertKind::XrunBurst => "audio dropouts (xruns)",
        AlertKind::RealSinkMissing => "no output device",
        AlertKind::ProfileError => "profile error",
        AlertKind::SustainedLimiting => "limiting hard",
        AlertKind::InputClipping => "input is clipping",
        AlertKind::SessionBroken => "session manager problem",
        AlertKind::Unknown => "alert",
    }
}

fn connect(bus: &Bus) -> zbus::Result<Connection> {
    match bus {
        Bus::Session => Connection::session(),
        Bus::Address(a) => zbus::blocking::connection::Builder::address(a.as_str())?.build(),
    }
}

/// `Notify(app_name, replaces_id, app_icon, summary, body, actions, hints, expire_timeout)`;
/// the notification's id.
fn notify(
    conn: &Connection,
    replaces: u32,
    summary: &str,
    body: &str,
    urgency: u8,
    timeout_ms: i32,
) -> zbus::Result<u32> {
    let hints: HashMap<&str, Value> = HashMap::from([
        ("urgency", Value::U8(urgency)),
        ("category", Value::from("device")),
    ]);
    let actions: Vec<&str> = Vec::new();
    let reply = conn.call_method(
        Some("org.freedesktop.Notifications"),
        "/org/freedesktop/Notifications",
        Some("org.freedesktop.Notifications"),
        "Notify",
        &(
            "headroom",
            replaces,
            "audio-volume-high",
            summary,
            body,
            actions,
            hints,
            timeout_ms,
        ),
    )?;
    reply.body().deserialize::<u32>()
}

fn serve(bus: Bus, rx: Receiver<Event>) {
    let mut conn: Option<Connection> = None;
    let mut shown: HashMap<AlertKind, u32> = HashMap::new();
    let mut failing = false;
    for ev in rx {
        let (kind, summary, body, replaces, urgency, timeout) = match &ev {
            Event::AlertRaised(a) => (
                a.kind,
                format!("headroom: {}", title(a.kind)),
                a.message.clone(),
                shown.get(&a.kind).copied().unwrap_or(0),
                // Critical for losing the output, normal otherwise.
                if a.kind == AlertKind::RealSinkMissing {
                    2
                } else {
                    1
                },
                -1,
            ),
            Event::AlertCleared(c) => (
                c.kind,
                format!("headroom: {} — cleared", title(c.kind)),
                c.message.clone(),
                shown.get(&c.kind).copied().unwrap_or(0),
                0,
                CLEARED_TIMEOUT_MS,
            ),
            _ => continue,
        };
        if conn.is_none() {
            conn = match connect(&bus) {
                Ok(c) => Some(c),
                Err(e) => {
                    if !failing {
                        tracing::warn!("desktop notifications unavailable: {e}");
                        failing = true;
                    }
                    continue;
                }
            };
        }
        let Some(c) = conn.as_ref() else { continue };
        match notify(c, replaces, &summary, &body, urgency, timeout) {
            Ok(id) => {
                failing = false;
                if matches!(ev, Event::AlertRaised(_)) {
                    shown.insert(kind, id);
                } else {
                    shown.remove(&kind);
                }
            }
            Err(e) => {
                if !failing {
                    tracing::warn!("desktop notification failed: {e}");
                    failing = true;
                }
                conn = None;
            }
        }
    }
}
