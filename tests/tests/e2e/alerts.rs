//! The state word and the alerts of a running daemon: the real sink removed gives NO OUTPUT
//! and one `real_sink_missing` alert, recreating it clears both; bypass shows as BYPASS.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use headroom_client::{Client, ClientError, Subscription};
use headroom_ipc::{AlertKind, BypassMode, Event, StateWord, Status, Topic};
use headroom_tests::daemon::{with_log, Daemon};
use headroom_tests::{wait_for, Sandbox, DEFAULT_SINK};

fn socket(sb: &Sandbox) -> PathBuf {
    PathBuf::from(&sb.env()["XDG_RUNTIME_DIR"]).join("headroom/control.sock")
}

fn status(sb: &Sandbox) -> anyhow::Result<Status> {
    Ok(Client::connect_to(socket(sb))?.status()?)
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

    let mut sub = Client::connect_to(socket(&sb))
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
    Client::connect_to(socket(&sb))
        .unwrap()
        .bypass_set(BypassMode::On)
        .unwrap();
    wait_state(&sb, &d, StateWord::Bypass, Duration::from_secs(5));
}
