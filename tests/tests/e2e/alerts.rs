//! The state word and the alerts of a running daemon: the real sink removed gives NO OUTPUT
//! and one `real_sink_missing` alert, recreating it clears both; bypass shows as BYPASS. With
//! `[alerts] notify = true`, the alert and its clearing reach a notification server on the
//! sandbox's session bus.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use headroom_client::{Client, ClientError, Subscription};
use headroom_ipc::{AlertKind, BypassMode, Event, StateWord, Status, Topic};
use headroom_tests::daemon::{with_log, Daemon};
use headroom_tests::{wait_for, Sandbox, DEFAULT_SINK};

fn status(sb: &Sandbox) -> anyhow::Result<Status> {
    Ok(Client::connect_to(sb.control_socket())?.status()?)
}

/// Waits (polling) until the daemon's state word is `want`.
fn wait_state(sb: &Sandbox, d: &Daemon, want: StateWord, timeout: Duration) {
    with_log(
        d,
        wait_for(&format!("state {want}"), timeout, || {
            Ok((status(sb)?.state == want).then_some(()))
        }),
    )
    .unwrap_or_else(|e| panic!("{e:?}"));
}

/// The next alert event within `timeout`, skipping snapshots.
fn next_alert(sub: &mut Subscription, timeout: Duration) -> Option<Event> {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        match sub.next() {
            Some(Ok(e @ (Event::AlertRaised(_) | Event::AlertCleared(_)))) => return Some(e),
            Some(Ok(_)) | Some(Err(ClientError::Timeout)) => {}
            Some(Err(e)) => panic!("subscription: {e}"),
            None => panic!("the daemon closed the subscription"),
        }
    }
    None
}

#[test]
fn removing_the_real_sink_raises_no_output_and_an_alert_recreating_it_clears_both() {
    let sb = Sandbox::start().expect("sandbox");
    let d = Daemon::start(&sb, &[]).expect("headroomd");
    with_log(
        &d,
        wait_for("the real sink", Duration::from_secs(10), || {
            Ok((status(&sb)?.real_sink.as_deref() == Some(DEFAULT_SINK)).then_some(()))
        }),
    )
    .unwrap();
    // Nothing plays: the word settles on QUIET (no audio flows), and no alert is active.
    wait_state(&sb, &d, StateWord::Quiet, Duration::from_secs(10));
    assert!(status(&sb).unwrap().alerts.is_empty());

    let mut sub = Client::connect_to(sb.control_socket())
        .unwrap()
        .subscribe(&[Topic::Alerts])
        .unwrap();
    sub.set_timeout(Some(Duration::from_millis(200))).unwrap();

    sb.destroy_node(DEFAULT_SINK).unwrap();
    let raised = next_alert(&mut sub, Duration::from_secs(15));
    assert!(
        matches!(&raised, Some(Event::AlertRaised(a)) if a.kind == AlertKind::RealSinkMissing),
        "{raised:?}\nlog:\n{}",
        d.log()
    );
    wait_state(&sb, &d, StateWord::NoOutput, Duration::from_secs(5));
    let s = status(&sb).unwrap();
    assert_eq!(s.real_sink, None);
    assert!(s
        .alerts
        .iter()
        .any(|a| a.kind == AlertKind::RealSinkMissing));
    // Raised once: nothing more while the sink stays away.
    assert_eq!(next_alert(&mut sub, Duration::from_secs(3)), None);

    sb.create_null_sink(DEFAULT_SINK).unwrap();
    let cleared = next_alert(&mut sub, Duration::from_secs(15));
    assert!(
        matches!(&cleared, Some(Event::AlertCleared(c)) if c.kind == AlertKind::RealSinkMissing),
        "{cleared:?}\nlog:\n{}",
        d.log()
    );
    wait_state(&sb, &d, StateWord::Quiet, Duration::from_secs(5));
    assert!(status(&sb).unwrap().alerts.is_empty());

    // Bypass shows at once, over QUIET.
    Client::connect_to(sb.control_socket())
        .unwrap()
        .bypass_set(BypassMode::On)
        .unwrap();
    wait_state(&sb, &d, StateWord::Bypass, Duration::from_secs(5));
}

/// The `Notify` calls a notification server received: (replaces_id, summary, body).
type Notes = std::sync::Arc<std::sync::Mutex<Vec<(u32, String, String)>>>;

struct NotificationServer {
    got: Notes,
}

#[zbus::interface(name = "org.freedesktop.Notifications")]
impl NotificationServer {
    #[allow(clippy::too_many_arguments)]
    fn notify(
        &self,
        _app_name: String,
        replaces_id: u32,
        _app_icon: String,
        summary: String,
        body: String,
        _actions: Vec<String>,
        _hints: std::collections::HashMap<String, zbus::zvariant::OwnedValue>,
        _expire_timeout: i32,
    ) -> u32 {
        let mut got = self.got.lock().unwrap();
        got.push((replaces_id, summary, body));
        100 + got.len() as u32
    }
}

#[test]
fn alerts_become_desktop_notifications_when_asked_for() {
    let sb = Sandbox::start().expect("sandbox");
    let config = PathBuf::from(&sb.env()["XDG_CONFIG_HOME"]).join("headroom");
    std::fs::create_dir_all(&config).unwrap();
    std::fs::write(config.join("config.toml"), "[alerts]\nnotify = true\n").unwrap();
    let bus = sb.env()["DBUS_SESSION_BUS_ADDRESS"]
        .to_string_lossy()
        .into_owned();
    let got = Notes::default();
    let _server = zbus::blocking::connection::Builder::address(bus.as_str())
        .unwrap()
        .name("org.freedesktop.Notifications")
        .unwrap()
        .serve_at(
            "/org/freedesktop/Notifications",
            NotificationServer { got: got.clone() },
        )
        .unwrap()
        .build()
        .unwrap();
    let d = Daemon::start(&sb, &[]).expect("headroomd");
    with_log(
        &d,
        wait_for("the real sink", Duration::from_secs(10), || {
            Ok((status(&sb)?.real_sink.as_deref() == Some(DEFAULT_SINK)).then_some(()))
        }),
    )
    .unwrap();
    let notes = |n: usize| {
        with_log(
            &d,
            wait_for(
                &format!("{n} notifications"),
                Duration::from_secs(20),
                || {
                    let g = got.lock().unwrap().clone();
                    Ok((g.len() >= n).then_some(g))
                },
            ),
        )
        .unwrap()
    };

    sb.destroy_node(DEFAULT_SINK).unwrap();
    let g = notes(1);
    assert_eq!(g[0].0, 0);
    assert_eq!(g[0].1, "headroom: no output device", "{g:?}");
    sb.create_null_sink(DEFAULT_SINK).unwrap();
    let g = notes(2);
    assert_eq!(g.len(), 2, "{g:?}");
    // The clearing replaces the alert's notification.
    assert_eq!(
        (g[1].0, g[1].1.as_str()),
        (101, "headroom: no output device — cleared")
    );
}
