//! An app's own choice of output and the user's are respected, notifications bypass, and
//! `route list` says where each stream plays (SINK) and why it is not where its rule wants it.
//!
//! `usb-headset` is a second output next to the default one (the real sink): a call app
//! sending to a headset, a DAW to its interface.

use std::time::Duration;

use headroom_tests::daemon::{move_stream, Daemon};
use headroom_tests::{sine, wait_for, Sandbox, DEFAULT_SINK};
use headroomd::pw::BUS_SINK_NAME;

use super::{client, headroom_ok};
use crate::support::*;

const OTHER: &str = "usb-headset";

/// A notification sound as a mail client plays it (`media.role = Notification`; pw-play's
/// own `--media-role` wins over `-P`).
fn notification(sb: &Sandbox, wav: &std::path::Path) -> std::process::Command {
    let mut c = sb.command("pw-play");
    c.args([
        "--media-role",
        "Notification",
        "-P",
        "{ application.name=Thunderbird }",
    ])
    .arg(wav)
    .stdout(std::process::Stdio::null())
    .stderr(std::process::Stdio::null());
    c
}

#[test]
fn own_targets_user_moves_and_notifications_are_respected_and_reported() {
    let sb = Sandbox::start().expect("sandbox");
    sb.create_null_sink(OTHER).unwrap();
    assert_eq!(sb.default_sink().unwrap().as_deref(), Some(DEFAULT_SINK));
    let mut d = Daemon::start(&sb, &[]).expect("headroomd");
    let mut c = client(&sb);
    let wav = sb.path("tone.wav");
    sine(440.0, -20.0, 60.0).write(&wav).unwrap();
    let spawn = |cmd: &mut std::process::Command| cmd.spawn().unwrap();
    // An app that picks its device.
    let mut zoom = spawn(&mut sb.play_cmd(&wav, OTHER, &["application.name=Zoom"]));
    // Apps that do not.
    let mut firefox = spawn(&mut sb.play_app_cmd(&wav, &["application.name=Firefox"]));
    let mut bell = spawn(&mut notification(&sb, &wav));
    let id = |app: &str| wait_for(app, Duration::from_secs(5), || stream_id(&sb, app)).unwrap();
    let (zid, fid, bid) = (id("Zoom"), id("Firefox"), id("Thunderbird"));
    let on = |sid: u32, sink: &str, what: &str| {
        wait_for(what, Duration::from_secs(5), || {
            Ok((plays_into(&sb, sid)? == [sink]).then_some(()))
        })
        .unwrap_or_else(|e| {
            panic!(
                "{e:#}: plays into {:?}; {:#?}\n{}",
                plays_into(&sb, sid),
                client(&sb).route_list(),
                d.log()
            )
        });
    };
    on(fid, BUS_SINK_NAME, "Firefox processed");
    on(
        bid,
        DEFAULT_SINK,
        "the notification bypasses to the real sink",
    );
    on(zid, OTHER, "Zoom where it sent itself");

    // route list: SINK is what mixers show, the note says why Zoom is not processed.
    let routes = wait_for("route list settled", Duration::from_secs(5), || {
        let r = c.route_list()?;
        let ok = r.streams.len() == 3 && r.streams.iter().all(|s| s.sink.is_some());
        Ok(ok.then_some(r))
    })
    .unwrap();
    let get = |app: &str| {
        routes
            .streams
            .iter()
            .find(|s| s.app == app)
            .unwrap()
            .clone()
    };
    let (z, f, b) = (get("Zoom"), get("Firefox"), get("Thunderbird"));
    assert_eq!(f.sink.as_deref(), Some("Headroom (processed)"), "{f:?}");
    assert_eq!(f.note, None, "{f:?}");
    assert_eq!(z.target.as_deref(), Some(OTHER), "{z:?}");
    assert_eq!(
        z.note.as_deref(),
        Some("the app chose its output (usb-headset)"),
        "{z:?}"
    );
    assert_eq!(b.matched_rule.as_deref(), Some("media.role=Notification"));
    assert_eq!(b.target.as_deref(), Some(DEFAULT_SINK));
    let text = headroom_ok(&sb, &["route", "list"]);
    assert!(text.contains("SINK"), "{text}");
    assert!(text.contains("Headroom (processed)"), "{text}");
    assert!(
        text.contains("the app chose its output (usb-headset)"),
        "{text}"
    );

    // The user moves Firefox in a mixer (a target.object the daemon did not write): it stays.
    move_stream(&sb, fid, Some(OTHER)).unwrap();
    on(fid, OTHER, "Firefox where the user moved it");
    // Waited for by its own note: the link to the other sink can be seen before the
    // target the user wrote, and for that moment the stream is rightly "pending: moving to
    // headroom-processed" (a note all the same, which this wait took for the answer).
    let f = wait_for("Firefox noted as moved", Duration::from_secs(3), || {
        let r = c.route_list()?;
        Ok(r.streams.into_iter().find(|s| {
            s.app == "Firefox"
                && s.note
                    .as_deref()
                    .is_some_and(|n| n.starts_with("moved by the user"))
        }))
    })
    .unwrap();
    assert_eq!(f.note.as_deref(), Some("moved by the user (usb-headset)"));
    // A rule change elsewhere does not undo the user's choice.
    headroom_ok(&sb, &["route", "set", "nobody", "bypass"]);
    assert_eq!(plays_into(&sb, fid).unwrap(), [OTHER]);

    // A rule for the app that says processed wins over the app's own choice.
    headroom_ok(&sb, &["route", "set", "zoom", "processed"]);
    on(zid, BUS_SINK_NAME, "Zoom processed by its rule");
    // Taking the rule away gives Zoom its own choice back.
    headroom_ok(&sb, &["route", "unset", "zoom"]);
    on(zid, OTHER, "Zoom back where it sent itself");
    // Firefox is still where the user put it.
    assert_eq!(plays_into(&sb, fid).unwrap(), [OTHER]);

    for p in [&mut zoom, &mut firefox, &mut bell] {
        let _ = p.kill();
        let _ = p.wait();
    }
    d.terminate().unwrap();
}

#[test]
fn notifications_are_processed_when_the_profile_says_so() {
    let sb = Sandbox::start().expect("sandbox");
    super::write_user_profile(&sb, "all-in", "[route]\nbypass_notifications = false\n");
    let dir = std::path::PathBuf::from(&sb.env()["XDG_CONFIG_HOME"]).join("headroom");
    std::fs::write(dir.join("config.toml"), "profile = \"all-in\"\n").unwrap();
    let mut d = Daemon::start(&sb, &[]).expect("headroomd");
    assert_eq!(client(&sb).status().unwrap().profile, "all-in");
    let wav = sb.path("tone.wav");
    sine(440.0, -20.0, 30.0).write(&wav).unwrap();
    let mut bell = notification(&sb, &wav).spawn().unwrap();
    let bid = wait_for("bell", Duration::from_secs(5), || {
        stream_id(&sb, "Thunderbird")
    })
    .unwrap();
    wait_for("processed", Duration::from_secs(5), || {
        Ok((plays_into(&sb, bid)? == [BUS_SINK_NAME]).then_some(()))
    })
    .unwrap_or_else(|e| panic!("{e:#}\n{}", d.log()));
    let _ = bell.kill();
    let _ = bell.wait();
    d.terminate().unwrap();
}
