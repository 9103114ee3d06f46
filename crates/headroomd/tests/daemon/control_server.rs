//! Control server integration tests with a fake engine (no PipeWire).

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use crate::support::fake_engine::{start, start_with, tick, FakeEngine, Fixture};
use headroom_client::{Client, ClientError};
use headroom_ipc::*;
use headroomd::control::{ControlError, Server, ServerConfig};

const WAIT: Duration = Duration::from_secs(10);

/// Waits (spinning, at most [`WAIT`]) until `done`; panics with `what` otherwise.
fn wait_until(done: impl Fn() -> bool, what: &str) {
    let deadline = Instant::now() + WAIT;
    while !done() {
        assert!(Instant::now() < deadline, "{what}");
        std::thread::yield_now();
    }
}

/// A raw connection for sending arbitrary bytes.
struct Raw {
    reader: BufReader<UnixStream>,
    writer: UnixStream,
}

impl Raw {
    fn connect(path: &std::path::Path) -> Raw {
        let s = UnixStream::connect(path).expect("connect");
        s.set_read_timeout(Some(WAIT)).unwrap();
        let mut raw = Raw {
            writer: s.try_clone().unwrap(),
            reader: BufReader::new(s),
        };
        match raw.frame() {
            Some(ServerFrame::Hello(h)) => assert_eq!(h.protocol_version, PROTOCOL_VERSION),
            other => panic!("expected hello, got {other:?}"),
        }
        raw
    }

    fn send(&mut self, bytes: &[u8]) {
        self.writer.write_all(bytes).expect("send");
    }

    /// Next frame; `None` at end of stream.
    fn frame(&mut self) -> Option<ServerFrame> {
        let mut line = String::new();
        match self.reader.read_line(&mut line) {
            Ok(0) => None,
            Ok(_) => Some(decode_server_frame(line.trim_end().as_bytes()).expect("server frame")),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => None,
            Err(e) => panic!("read: {e}"),
        }
    }

    fn error(&mut self) -> (Option<u64>, IpcError) {
        match self.frame() {
            Some(ServerFrame::Error { id, error }) => (id, error),
            other => panic!("expected an error frame, got {other:?}"),
        }
    }

    fn assert_closed(&mut self) {
        let mut rest = Vec::new();
        match self.reader.read_to_end(&mut rest) {
            Ok(_) => assert!(
                rest.is_empty(),
                "unexpected data: {:?}",
                String::from_utf8_lossy(&rest)
            ),
            Err(e) => assert_eq!(e.kind(), std::io::ErrorKind::ConnectionReset, "{e}"),
        }
    }
}

#[test]
fn hundred_clients_connected_at_once_each_get_their_replies() {
    let fx = start();
    const N: usize = 100;
    let connected = Arc::new(Barrier::new(N + 1));
    let checked = Arc::new(Barrier::new(N + 1));
    let threads: Vec<_> = (0..N)
        .map(|i| {
            let path = fx.path.clone();
            let connected = Arc::clone(&connected);
            let checked = Arc::clone(&checked);
            std::thread::spawn(move || {
                let mut c = Client::connect_to(&path).expect("connect");
                connected.wait();
                checked.wait();
                let key = format!("client.{i}");
                let set = c.setting_set(&key, i as i64).expect("set");
                assert_eq!(set.value, SettingValue::Int(i as i64));
                for _ in 0..20 {
                    assert_eq!(
                        c.setting_get(&key).unwrap().value,
                        SettingValue::Int(i as i64)
                    );
                    assert_eq!(c.status().unwrap().processed_sink, "headroom-processed");
                }
                let err = c.setting_get("no.such.key").unwrap_err();
                assert_eq!(err.code(), Some(ErrorCode::UnknownKey));
            })
        })
        .collect();
    connected.wait();
    // Every client has its greeting, so every connection is registered.
    assert_eq!(fx.server.client_count(), N);
    checked.wait();
    for t in threads {
        t.join().expect("client thread");
    }
    assert!(fx.engine.calls.load(std::sync::atomic::Ordering::Relaxed) >= (N * 42) as u64);
}

#[test]
fn slow_subscriber_does_not_slow_others_and_learns_of_its_losses() {
    let fx = start();
    let slow = Client::connect_to(&fx.path)
        .unwrap()
        .subscribe(&[Topic::Meters])
        .unwrap();
    const FAST: usize = 3;
    const EVENTS: u64 = 3000;
    let mut fast_rx = Vec::new();
    for _ in 0..FAST {
        let mut sub = Client::connect_to(&fx.path)
            .unwrap()
            .subscribe(&[Topic::Meters])
            .unwrap();
        // Snapshot first.
        match sub.next() {
            Some(Ok(Event::MetersTick(t))) => assert_eq!(t.meters.frames, u64::MAX),
            other => panic!("expected snapshot tick, got {other:?}"),
        }
        let (tx, rx) = crossbeam_channel::unbounded();
        std::thread::spawn(move || {
            for e in sub {
                if tx.send(e.expect("event")).is_err() {
                    return;
                }
            }
        });
        fast_rx.push(rx);
    }
    let mut worst = Duration::ZERO;
    for i in 0..EVENTS {
        let sent = Instant::now();
        fx.broadcaster.publish(&tick(i));
        for rx in &fast_rx {
            match rx.recv_timeout(WAIT) {
                Ok(Event::MetersTick(t)) => assert_eq!(t.meters.frames, i, "in order, none lost"),
                other => panic!("fast subscriber got {other:?} for event {i}"),
            }
        }
        worst = worst.max(sent.elapsed());
    }
    assert!(
        worst < Duration::from_secs(1),
        "fast subscribers waited up to {worst:?}"
    );
    assert!(
        fx.broadcaster.dropped_total() > 0,
        "the slow subscriber overflowed"
    );

    // The slow subscriber resumes: it gets what was queued, then an overflow notice, and
    // every published event is either delivered or counted.
    let mut slow = slow;
    slow.set_timeout(Some(WAIT)).unwrap();
    match slow.next() {
        Some(Ok(Event::MetersTick(t))) => assert_eq!(t.meters.frames, u64::MAX),
        other => panic!("expected snapshot tick, got {other:?}"),
    }
    let mut delivered = 0u64;
    let mut dropped = 0u64;
    let mut last = None;
    let mut final_sent = false;
    loop {
        match slow.next().expect("stream open").expect("event") {
            Event::MetersTick(t) => {
                if let Some(prev) = last {
                    assert!(t.meters.frames > prev, "order kept");
                }
                last = Some(t.meters.frames);
                delivered += 1;
                if t.meters.frames == EVENTS {
                    break;
                }
            }
            Event::Overflow(o) => {
                assert!(o.dropped.keys().all(|t| *t == Topic::Meters));
                dropped += o.dropped.values().sum::<u64>();
                if !final_sent {
                    // Delivery resumes after the notice.
                    fx.broadcaster.publish(&tick(EVENTS));
                    final_sent = true;
                }
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert!(dropped > 0);
    assert_eq!(
        delivered + dropped,
        EVENTS + 1,
        "every event delivered or counted"
    );
    assert_eq!(dropped, fx.broadcaster.dropped_total());
}

#[test]
fn subscriber_gets_snapshot_then_deltas() {
    let fx = start();
    let mut sub = Client::connect_to(&fx.path)
        .unwrap()
        .subscribe(&[Topic::Settings, Topic::Daemon])
        .unwrap();
    sub.set_timeout(Some(WAIT)).unwrap();
    let first: Vec<Event> = (0..2).map(|_| sub.next().unwrap().unwrap()).collect();
    assert!(matches!(first[0], Event::DaemonSnapshot(_)), "{first:?}");
    match &first[1] {
        Event::SettingsSnapshot(s) => {
            assert!(s.settings.iter().any(|e| e.key == "agc.target_lufs"))
        }
        other => panic!("{other:?}"),
    }
    let mut c = Client::connect_to(&fx.path).unwrap();
    c.setting_set("agc.target_lufs", -18).unwrap();
    fx.broadcaster.publish(&tick(1)); // not subscribed: must not arrive
    fx.broadcaster.publish(&Event::shutdown("test"));
    assert_eq!(
        sub.next().unwrap().unwrap(),
        Event::setting_changed("agc.target_lufs", SettingValue::Int(-18), true)
    );
    assert_eq!(sub.next().unwrap().unwrap(), Event::shutdown("test"));
}

#[test]
fn malformed_frames_get_errors_and_the_connection_survives() {
    let fx = start();
    let mut other = Client::connect_to(&fx.path).unwrap();
    let mut raw = Raw::connect(&fx.path);
    let cases: &[(&[u8], Option<u64>, ErrorCode)] = &[
        (b"this is not json\n", None, ErrorCode::BadRequest),
        (b"\xff\xfe\n", None, ErrorCode::BadRequest),
        (
            b"{\"id\":3,\"method\":\"warp.drive\"}\n",
            Some(3),
            ErrorCode::UnknownMethod,
        ),
        (b"{\"type\":\"teleport\"}\n", None, ErrorCode::BadRequest),
        (
            b"{\"id\":4,\"method\":\"setting.set\",\"params\":{\"key\":1}}\n",
            Some(4),
            ErrorCode::InvalidParams,
        ),
        (
            b"{\"id\":5,\"method\":\"setting.get\",\"params\":{\"key\":\"nope\"}}\n",
            Some(5),
            ErrorCode::UnknownKey,
        ),
        (
            b"{\"id\":6,\"method\":\"setting.set\",\"params\":{\"key\":\"panic\",\"value\":1}}\n",
            Some(6),
            ErrorCode::Internal,
        ),
        (
            b"{\"id\":7,\"method\":\"profile.use\",\"params\":{\"name\":\"x\"}}\n",
            Some(7),
            ErrorCode::NotFound,
        ),
    ];
    for (bytes, id, code) in cases {
        raw.send(bytes);
        let (got_id, err) = raw.error();
        assert_eq!(
            (got_id, err.code),
            (*id, *code),
            "{}",
            String::from_utf8_lossy(bytes)
        );
    }
    // Still usable, including a request split over several writes.
    raw.send(b"{\"id\":9,\"met");
    raw.send(b"hod\":\"status\"}\n");
    match raw.frame() {
        Some(ServerFrame::Response {
            id: 9,
            result: Response::Status(_),
            ..
        }) => {}
        other => panic!("{other:?}"),
    }
    assert!(other.status().is_ok());
}

#[test]
fn oversized_frame_closes_only_that_connection() {
    let fx = start();
    let mut other = Client::connect_to(&fx.path).unwrap();
    let mut raw = Raw::connect(&fx.path);
    let big = vec![b'a'; MAX_FRAME_BYTES + 100];
    raw.send(&big);
    let (id, err) = raw.error();
    assert_eq!((id, err.code), (None, ErrorCode::FrameTooLarge));
    raw.assert_closed();
    assert!(other.status().is_ok());
    let mut fresh = Client::connect_to(&fx.path).unwrap();
    assert!(fresh.status().is_ok());
}

#[test]
fn flood_of_garbage_closes_the_connection() {
    let fx = start();
    let mut raw = Raw::connect(&fx.path);
    let garbage = "garbage\n".repeat(headroomd::control::MAX_CONSECUTIVE_BAD_FRAMES as usize);
    raw.send(garbage.as_bytes());
    for _ in 0..headroomd::control::MAX_CONSECUTIVE_BAD_FRAMES {
        assert_eq!(raw.error().1.code, ErrorCode::BadRequest);
    }
    assert_eq!(raw.error().1.code, ErrorCode::BadRequest);
    raw.assert_closed();
    assert!(Client::connect_to(&fx.path).unwrap().status().is_ok());
}

#[test]
fn unknown_methods_and_unfitting_params_do_not_count_as_malformed() {
    // Well-formed requests the daemon cannot carry out are answered, however many, and the
    // connection stays open; a malformed frame among them starts the count afresh.
    let fx = start();
    let mut raw = Raw::connect(&fx.path);
    let n = 2 * headroomd::control::MAX_CONSECUTIVE_BAD_FRAMES as usize;
    let mut frames = String::new();
    for k in 0..n {
        frames += if k % 2 == 0 {
            "{\"id\":7,\"method\":\"nope\"}\n"
        } else {
            "{\"id\":8,\"method\":\"status\",\"params\":[1]}\n"
        };
        if k % 5 == 4 {
            frames += "garbage\n";
        }
    }
    frames += "{\"id\":1,\"method\":\"status\"}\n";
    raw.send(frames.as_bytes());
    let mut codes = Vec::new();
    loop {
        match raw.frame() {
            Some(ServerFrame::Response { id, .. }) => {
                assert_eq!(id, 1);
                break;
            }
            Some(ServerFrame::Error { error, .. }) => codes.push(error.code),
            other => panic!("{other:?} after {codes:?}"),
        }
    }
    let count = |c: ErrorCode| codes.iter().filter(|&&x| x == c).count();
    assert_eq!(count(ErrorCode::UnknownMethod), n / 2);
    assert_eq!(count(ErrorCode::InvalidParams), n / 2);
    assert_eq!(count(ErrorCode::BadRequest), n / 5);
}

#[test]
fn incompatible_protocol_version_is_refused() {
    let fx = start();
    let mut raw = Raw::connect(&fx.path);
    raw.send(b"{\"type\":\"hello\",\"protocol_version\":1}\n{\"id\":1,\"method\":\"status\"}\n");
    assert!(matches!(
        raw.frame(),
        Some(ServerFrame::Response { id: 1, .. })
    ));
    raw.send(b"{\"type\":\"hello\",\"protocol_version\":2}\n");
    let (_, err) = raw.error();
    assert_eq!(err.code, ErrorCode::VersionMismatch);
    assert!(err.message.contains("version 2"), "{}", err.message);
    raw.assert_closed();
}

#[test]
fn stale_socket_is_replaced_and_live_socket_is_not_stolen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("control.sock");
    // A socket file left behind by a dead daemon.
    drop(UnixListener::bind(&path).unwrap());
    assert!(path.exists());
    assert!(matches!(
        Client::connect_to(&path).unwrap_err(),
        ClientError::NotRunning { stale: true, .. }
    ));
    let b = headroomd::control::Broadcaster::new();
    let engine = FakeEngine::new(b.clone());
    let mut first = Server::start(&path, engine.clone(), b.clone()).expect("stale socket replaced");
    assert!(Client::connect_to(&path).unwrap().status().is_ok());

    let err = Server::start(&path, engine.clone(), b.clone()).unwrap_err();
    assert!(matches!(err, ControlError::AlreadyRunning { .. }));
    let msg = err.to_string();
    assert!(
        msg.starts_with("another headroomd is already running (socket ")
            && msg.contains("control.sock"),
        "{msg}"
    );
    // The first server is unaffected.
    assert!(Client::connect_to(&path).unwrap().status().is_ok());
    first.shutdown();
    assert!(!path.exists(), "shutdown unlinks the socket");
    // Now it can be started again.
    let _again = Server::start(&path, engine, b).unwrap();
    assert!(Client::connect_to(&path).unwrap().status().is_ok());
}

#[test]
fn shutdown_does_not_unlink_a_socket_that_is_not_ours() {
    let fx = start();
    let mut server = fx.server;
    std::fs::remove_file(&fx.path).unwrap();
    let b = headroomd::control::Broadcaster::new();
    let engine = FakeEngine::new(b.clone());
    let _second = Server::start(&fx.path, engine, b).unwrap();
    server.shutdown();
    assert!(fx.path.exists());
    assert!(Client::connect_to(&fx.path).unwrap().status().is_ok());
}

#[test]
fn client_of_another_uid_is_refused() {
    let own = nix::unistd::geteuid().as_raw();
    let fx = start_with(ServerConfig {
        allowed_uid: Some(own.wrapping_add(1)),
        ..ServerConfig::default()
    });
    match Client::connect_to(&fx.path) {
        Err(ClientError::Server(e)) => {
            assert_eq!(e.code, ErrorCode::PermissionDenied);
            assert!(e.message.contains(&own.to_string()), "{}", e.message);
        }
        other => panic!("expected permission_denied, got {other:?}"),
    }
}

#[test]
fn shutdown_flushes_subscribers_then_closes_them() {
    let fx = start();
    let mut sub = Client::connect_to(&fx.path)
        .unwrap()
        .subscribe(&[Topic::Daemon])
        .unwrap();
    sub.set_timeout(Some(WAIT)).unwrap();
    assert!(matches!(sub.next(), Some(Ok(Event::DaemonSnapshot(_)))));
    let mut idle = Client::connect_to(&fx.path).unwrap();
    fx.broadcaster.publish(&Event::shutdown("test"));
    let mut server = fx.server;
    server.shutdown();
    assert_eq!(sub.next().unwrap().unwrap(), Event::shutdown("test"));
    assert!(sub.next().is_none(), "stream ends after shutdown");
    // The client finds its connection shut and, trying again, no daemon.
    assert!(matches!(
        idle.status(),
        Err(ClientError::Closed | ClientError::Io(_) | ClientError::NotRunning { .. })
    ));
    assert!(!fx.path.exists());
    assert_eq!(server.client_count(), 0);
    assert_eq!(fx.broadcaster.subscriber_count(), 0);
}

#[test]
fn typed_client_calls_round_trip() {
    let fx = start();
    let mut c = Client::connect_to(&fx.path).unwrap();
    assert_eq!(c.server_hello().daemon_version, env!("CARGO_PKG_VERSION"));
    assert!(c.bypass_set(BypassMode::Toggle).unwrap());
    assert!(!c.bypass_set(BypassMode::Toggle).unwrap());
    assert!(c.bypass_set(BypassMode::On).unwrap());
    assert!(c.status().unwrap().bypass);
    c.route_set("firefox", Route::Bypass).unwrap();
    c.route_unset("firefox").unwrap();
    assert!(c.route_list().unwrap().rules.is_empty());
    assert_eq!(c.setting_list().unwrap().len(), 2);
    let e = c.profile_use("nope").unwrap_err();
    assert_eq!(e.code(), Some(ErrorCode::NotFound));
    assert!(e.to_string().contains("nope"));
    let e = c.history(None).unwrap_err();
    assert_eq!(e.code(), Some(ErrorCode::Unavailable));
}

#[test]
fn closed_connections_are_forgotten() {
    let fx = start();
    let clients: Vec<Client> = (0..5)
        .map(|_| Client::connect_to(&fx.path).unwrap())
        .collect();
    assert_eq!(fx.server.client_count(), 5);
    drop(clients);
    wait_until(|| fx.server.client_count() == 0, "connections not reaped");
    // Their descriptors are closed when they end, not when the next connection comes (the
    // server held one per connection gone until then).
    let clients: Vec<Client> = (0..20)
        .map(|_| Client::connect_to(&fx.path).unwrap())
        .collect();
    assert_eq!(fx.server.held_sockets(), 20);
    drop(clients);
    wait_until(
        || fx.server.held_sockets() == 0,
        "sockets of ended connections held",
    );
}

/// Short deadlines for the deadline tests; what is not under test stays long.
fn deadlines(first_frame_ms: u64, frame_ms: u64, idle_ms: u64) -> ServerConfig {
    ServerConfig {
        first_frame_timeout: Duration::from_millis(first_frame_ms),
        frame_timeout: Duration::from_millis(frame_ms),
        idle_timeout: Duration::from_millis(idle_ms),
        ..ServerConfig::default()
    }
}

/// Reads the `timeout` error the server closes a connection with, then the end of the
/// stream (bounded by the connection's read timeout, `WAIT`).
fn assert_timed_out(raw: &mut Raw, reason: &str) {
    let (id, err) = raw.error();
    assert_eq!((id, err.code), (None, ErrorCode::Timeout), "{err:?}");
    assert!(err.message.contains(reason), "{}", err.message);
    assert!(
        err.message.contains("closing the connection"),
        "{}",
        err.message
    );
    raw.assert_closed();
}

#[test]
fn connection_without_a_first_frame_is_closed_at_its_deadline() {
    let fx = start_with(deadlines(200, 60_000, 60_000));
    let mut raw = Raw::connect(&fx.path);
    assert_timed_out(&mut raw, "no whole frame within 0.2 s of connecting");
}

#[test]
fn frame_left_unfinished_is_closed_at_its_deadline() {
    let fx = start_with(deadlines(60_000, 200, 60_000));
    let mut raw = Raw::connect(&fx.path);
    raw.send(b"{\"type\":\"hello\",\"protocol_version\":1}\n{\"id\":1,\"meth");
    assert_timed_out(&mut raw, "a frame was not completed within 0.2 s");
}

#[test]
fn trickled_frame_does_not_extend_the_frame_deadline() {
    let fx = start_with(deadlines(60_000, 300, 60_000));
    let mut raw = Raw::connect(&fx.path);
    raw.send(b"{\"type\":\"hello\",\"protocol_version\":1}\n");
    let started = Instant::now();
    // One byte at a time, more often than the deadline: the frame's first byte counts.
    let trickle = std::thread::spawn({
        let mut w = raw.writer.try_clone().unwrap();
        move || {
            for b in b"{\"id\":1,\"method\":\"status\"".iter().cycle() {
                if w.write_all(&[*b]).is_err() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    });
    assert_timed_out(&mut raw, "a frame was not completed within 0.3 s");
    assert!(started.elapsed() < WAIT);
    let _ = raw.writer.shutdown(std::net::Shutdown::Both);
    trickle.join().unwrap();
}

#[test]
fn idle_connection_is_closed_unless_subscribed() {
    let fx = start_with(deadlines(60_000, 60_000, 200));
    // The subscriber goes quiet first; the plain connection after it.
    let mut events = Client::connect_to(&fx.path)
        .unwrap()
        .subscribe(&[Topic::Meters])
        .unwrap();
    events.set_timeout(Some(WAIT)).unwrap();
    let mut raw = Raw::connect(&fx.path);
    raw.send(b"{\"id\":1,\"method\":\"status\"}\n");
    assert!(matches!(
        raw.frame(),
        Some(ServerFrame::Response { id: 1, .. })
    ));
    assert_timed_out(&mut raw, "idle for 0.2 s without a subscription");
    // The subscriber, quiet for longer, is still served.
    fx.broadcaster.publish(&tick(7));
    let got = events
        .by_ref()
        .map(|e| e.expect("event"))
        .find_map(|e| match e {
            Event::MetersTick(m) => (m.meters.frames == 7).then_some(()),
            _ => None,
        });
    assert!(got.is_some(), "the subscriber was cut off");
}

#[test]
fn client_kept_between_requests_reconnects_after_an_idle_close() {
    let fx = start_with(deadlines(60_000, 60_000, 200));
    let mut c = Client::connect_to(&fx.path).unwrap();
    c.status().unwrap();
    // The server closes the idle connection (the thread ends and is reaped).
    wait_until(
        || fx.server.client_count() == 0,
        "idle connection not closed",
    );
    // A request that changes something is applied once, on the new connection.
    assert!(c
        .bypass_set(BypassMode::Toggle)
        .expect("the client connects again"));
    assert!(c.status().unwrap().bypass);
}

#[test]
fn stalled_connections_at_the_limit_make_room_after_the_deadline() {
    let fx = start_with(ServerConfig {
        max_clients: 4,
        ..deadlines(300, 60_000, 60_000)
    });
    let mut stalled: Vec<Raw> = (0..4).map(|_| Raw::connect(&fx.path)).collect();
    // The limit is reached: the next connection is refused.
    match Client::connect_to(&fx.path) {
        Err(ClientError::Server(e)) => assert_eq!(e.code, ErrorCode::Busy, "{e:?}"),
        other => panic!("expected busy, got {other:?}"),
    }
    for raw in &mut stalled {
        assert_timed_out(raw, "no whole frame within 0.3 s");
    }
    // Once the stalled connections are seen closed, their slots are free.
    let mut c = Client::connect_to(&fx.path).expect("room again");
    c.status().unwrap();
}

/// A short write deadline; what is not under test stays long.
fn write_deadline(write_ms: u64, max_clients: usize) -> ServerConfig {
    ServerConfig {
        max_clients,
        write_timeout: Duration::from_millis(write_ms),
        ..ServerConfig::default()
    }
}

/// Sends `status` requests on `raw` without ever reading, until the server cuts the
/// connection (the client's write fails). Bounded: a server that never cuts makes the
/// client's write block until its write timeout, and the test fail.
fn send_requests_until_cut(raw: &Raw) {
    let mut w = raw.writer.try_clone().unwrap();
    w.set_write_timeout(Some(WAIT * 3)).unwrap();
    let request = b"{\"id\":1,\"method\":\"status\"}\n";
    let err = loop {
        if let Err(e) = w.write_all(request) {
            break e;
        }
    };
    assert!(
        matches!(
            err.kind(),
            std::io::ErrorKind::BrokenPipe | std::io::ErrorKind::ConnectionReset
        ),
        "the server did not cut the connection: {err}"
    );
}

/// Reads what the server wrote before cutting `raw`: whole `status` replies only, no error
/// frame, then the end (the last reply may be cut short).
fn assert_cut_after_replies(raw: &mut Raw) {
    let mut rest = Vec::new();
    if let Err(e) = raw.reader.read_to_end(&mut rest) {
        assert_eq!(e.kind(), std::io::ErrorKind::ConnectionReset, "{e}");
    }
    let complete = rest.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
    let replies = rest[..complete]
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .inspect(|l| match decode_server_frame(l) {
            Ok(ServerFrame::Response {
                id: 1,
                result: Response::Status(_),
                ..
            }) => {}
            other => panic!("expected a status reply, got {other:?}"),
        })
        .count();
    assert!(replies > 0, "no reply was written before the cut");
}

#[test]
fn client_that_does_not_read_its_replies_is_cut_at_the_write_deadline() {
    let fx = start_with(write_deadline(200, 1));
    let mut raw = Raw::connect(&fx.path);
    // The replies fill the socket's buffers, then the requests do: the server's next reply
    // misses its deadline and the connection is cut, which makes the client's write fail.
    send_requests_until_cut(&raw);
    assert_cut_after_replies(&mut raw);
    // The only slot is free again.
    let mut c = Client::connect_to(&fx.path).expect("room again");
    assert_eq!(c.status().unwrap().processed_sink, "headroom-processed");
}

/// Subscribes `raw` to `settings` and reads the answer; returns the settings snapshot.
fn subscribe_to_settings(raw: &mut Raw) -> Event {
    raw.send(b"{\"id\":1,\"method\":\"subscribe\",\"params\":{\"topics\":[\"settings\"]}}\n");
    assert!(matches!(
        raw.frame(),
        Some(ServerFrame::Response {
            id: 1,
            result: Response::Subscribed(_),
            ..
        })
    ));
    match raw.frame() {
        Some(ServerFrame::Event(e @ Event::SettingsSnapshot(_))) => e,
        other => panic!("expected the settings snapshot, got {other:?}"),
    }
}

/// Changes a setting of the fake engine and publishes the change, as the engine does.
fn change(fx: &Fixture, key: &str, value: SettingValue) {
    fx.engine
        .settings
        .lock()
        .insert(key.to_owned(), value.clone());
    fx.broadcaster
        .publish(&Event::setting_changed(key, value, true));
}

/// Publishes 100 changes of 64 KiB each: more than a subscriber's queue and socket buffers
/// hold together, so for a subscriber that does not read, events are dropped and its event
/// thread waits in `write`.
fn flood(fx: &Fixture) {
    let before = fx.broadcaster.dropped_total();
    let big = "x".repeat(64 * 1024);
    for i in 0..100 {
        change(fx, "filler", SettingValue::String(format!("{big}{i}")));
    }
    assert!(
        fx.broadcaster.dropped_total() > before,
        "the queue overflowed"
    );
}

#[test]
fn subscriber_that_does_not_read_its_replies_is_cut_too() {
    let fx = start_with(write_deadline(200, 1));
    let mut raw = Raw::connect(&fx.path);
    subscribe_to_settings(&mut raw);
    // Events the client does not read fill its socket and its queue (the event thread waits
    // in `write`), then its requests wait for their replies: it is cut at the deadline.
    flood(&fx);
    send_requests_until_cut(&raw);
    let mut c = Client::connect_to(&fx.path).expect("room again");
    c.status().unwrap();
    wait_until(
        || fx.broadcaster.subscriber_count() == 0,
        "the subscriber was not removed",
    );
}

#[test]
fn subscriber_that_stops_sending_without_reading_is_closed_after_the_write_deadline() {
    let fx = start_with(write_deadline(200, 1));
    let mut raw = Raw::connect(&fx.path);
    subscribe_to_settings(&mut raw);
    flood(&fx);
    // The client is done sending but reads nothing: its queued events get as long as a
    // reply to be written, then the connection is closed and its slot freed.
    raw.writer.shutdown(std::net::Shutdown::Write).unwrap();
    wait_until(
        || fx.server.client_count() == 0,
        "the connection was not closed",
    );
    Client::connect_to(&fx.path).unwrap().status().unwrap();
    assert_eq!(fx.broadcaster.subscriber_count(), 0);
}

#[test]
fn paused_subscriber_is_not_cut_off_and_catches_up_when_it_reads_again() {
    let fx = start_with(write_deadline(200, 3));
    let mut sub = Raw::connect(&fx.path);
    let mut state = DaemonState::new();
    state.apply(&subscribe_to_settings(&mut sub));
    // The subscriber stops reading (a monitor stopped with Ctrl-Z). Changes go on, far more
    // than its socket's buffers and its queue hold, for well over the write deadline.
    let mut other = Client::connect_to(&fx.path).unwrap();
    flood(&fx);
    for i in 0..10i64 {
        other.setting_set("agc.target_lufs", -20 - i).unwrap();
        change(&fx, "filler", SettingValue::String(format!("late{i}")));
        // Waiting past the write deadline is the point here.
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(
        fx.server.client_count(),
        2,
        "the paused subscriber is still connected"
    );
    // Other clients are served meanwhile, a new one included.
    assert_eq!(
        other.setting_get("agc.target_lufs").unwrap().value,
        SettingValue::Int(-29)
    );
    Client::connect_to(&fx.path).unwrap().status().unwrap();

    // It reads again: valid frames, the overflow notice followed at once by a fresh
    // snapshot, and from there the daemon's state.
    let mut overflows = 0;
    let mut lost = 0;
    loop {
        let event = match sub.frame() {
            Some(ServerFrame::Event(e)) => e,
            other => panic!("the subscriber was cut off or got {other:?}"),
        };
        state.apply(&event);
        if let Event::Overflow(o) = &event {
            assert!(o.dropped.keys().all(|t| *t == Topic::Settings), "{o:?}");
            lost += o.dropped.values().sum::<u64>();
            overflows += 1;
            match sub.frame() {
                Some(ServerFrame::Event(e @ Event::SettingsSnapshot(_))) => state.apply(&e),
                other => panic!("expected a snapshot after the overflow notice, got {other:?}"),
            }
        }
        let target = state.setting("agc.target_lufs").map(|e| e.value.clone());
        if overflows > 0 && target == Some(SettingValue::Int(-29)) {
            break;
        }
    }
    assert_eq!(lost, fx.broadcaster.dropped_total(), "every loss reported");
    // One more change arrives as a delta, and the subscriber's view is the daemon's.
    other.setting_set("agc.target_lufs", -16).unwrap();
    while state.setting("agc.target_lufs").map(|e| &e.value) != Some(&SettingValue::Int(-16)) {
        match sub.frame() {
            Some(ServerFrame::Event(e)) => state.apply(&e),
            other => panic!("expected an event, got {other:?}"),
        }
    }
    let seen: BTreeMap<String, SettingValue> = state
        .settings
        .iter()
        .map(|e| (e.key.clone(), e.value.clone()))
        .collect();
    assert_eq!(seen, *fx.engine.settings.lock());
    // The connection still answers requests.
    sub.send(b"{\"id\":2,\"method\":\"status\"}\n");
    loop {
        match sub.frame() {
            Some(ServerFrame::Response { id: 2, .. }) => break,
            Some(ServerFrame::Event(_)) => {}
            other => panic!("expected the status reply, got {other:?}"),
        }
    }
}
