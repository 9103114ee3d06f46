//! The control plane of a running daemon: many clients at once, a subscriber that never reads
//! does not stall other subscribers or the audio path, and bad frames close only their own
//! connection.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use headroom_client::Client;
use headroom_ipc::{Event, Topic};
use headroom_tests::daemon::{write_wav, Daemon, BUS_SINK};
use headroom_tests::{sine, Sandbox};

/// The bus meters of every meter tick a new subscriber gets within `span`.
fn meter_ticks(sb: &Sandbox, span: Duration) -> Vec<headroom_ipc::Meters> {
    let mut sub = Client::connect_to(sb.control_socket())
        .unwrap()
        .subscribe(&[Topic::Meters])
        .unwrap();
    sub.set_timeout(Some(Duration::from_millis(500))).unwrap();
    let start = Instant::now();
    let mut ticks = Vec::new();
    while start.elapsed() < span {
        if let Some(Ok(Event::MetersTick(t))) = sub.next() {
            ticks.push(t.meters);
        }
    }
    ticks
}

/// Plays `wav` into the processed bus as the app `app`, and waits (up to 5 s) until the
/// bus's input reads over `lufs`. Returns the player and a client of the daemon.
fn play_into_bus(
    sb: &Sandbox,
    app: &str,
    wav: &headroom_tests::Wav,
    lufs: f32,
) -> (std::process::Child, Client) {
    let path = write_wav(sb, &format!("{app}.wav"), wav).unwrap();
    let player = sb
        .play_cmd(&path, BUS_SINK, &[&format!("application.name={app}")])
        .spawn()
        .unwrap();
    let mut client = Client::connect_to(sb.control_socket()).unwrap();
    headroom_tests::wait_for("audio through the bus", Duration::from_secs(5), || {
        Ok((client.status()?.meters.in_momentary_lufs > lufs).then_some(()))
    })
    .unwrap();
    (player, client)
}

#[test]
fn stalled_subscriber_does_not_slow_others_or_the_audio_path() {
    let sb = Sandbox::start().expect("sandbox");
    let d = Daemon::start(&sb, &[]).expect("headroomd");
    let (mut player, mut client) = play_into_bus(&sb, "tone", &sine(440.0, -20.0, 8.0), -40.0);
    // Audio flows: take the baseline.
    let before = client.status().unwrap();

    // A subscriber to everything that never reads.
    let stalled = Client::connect_to(sb.control_socket())
        .unwrap()
        .subscribe(&Topic::ALL)
        .unwrap();
    // A healthy subscriber counts meter ticks for 3 s.
    let ticks = meter_ticks(&sb, Duration::from_secs(3)).len();
    let after = client.status().unwrap();
    let _ = player.wait();
    drop(stalled);

    // ~10 Hz: allow for scheduling on a loaded machine, but a stall would give ~0.
    assert!(
        ticks >= 20,
        "only {ticks} meter ticks in 3 s; log:\n{}",
        d.log()
    );
    assert_eq!(
        after.xruns, before.xruns,
        "xruns while a subscriber stalled"
    );
    assert!(
        after.dsp.call_count > before.dsp.call_count + 50,
        "the audio callback stopped running: {:?} -> {:?}",
        before.dsp,
        after.dsp
    );
}

#[test]
fn many_clients_and_bad_frames_against_the_real_daemon() {
    let sb = Sandbox::start().expect("sandbox");
    let d = Daemon::start(&sb, &[]).expect("headroomd");
    let path = sb.control_socket();

    // 100 clients connected at once, each asking in turn.
    let mut clients: Vec<Client> = (0..100)
        .map(|_| Client::connect_to(&path).expect("connect"))
        .collect();
    for (i, c) in clients.iter_mut().enumerate() {
        let s = c.status().unwrap_or_else(|e| panic!("client {i}: {e}"));
        assert_eq!(s.processed_sink, BUS_SINK);
    }

    // Garbage on one connection: an error reply, the connection survives a malformed line.
    let mut raw = UnixStream::connect(&path).unwrap();
    raw.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    let mut reader = BufReader::new(raw.try_clone().unwrap());
    let mut hello = String::new();
    reader.read_line(&mut hello).unwrap();
    assert!(hello.contains("\"hello\""), "{hello}");
    raw.write_all(b"{not json\n").unwrap();
    let mut reply = String::new();
    reader.read_line(&mut reply).unwrap();
    assert!(reply.contains("\"error\""), "{reply}");
    // An oversized frame closes that connection only.
    let big = vec![b'x'; headroom_ipc::MAX_FRAME_BYTES + 10];
    let _ = raw.write_all(&big);
    let _ = raw.write_all(b"\n");
    let mut rest = String::new();
    let _ = reader.read_line(&mut rest); // the error frame, if it arrives before the close
    let mut tail = String::new();
    let closed = matches!(reader.read_line(&mut tail), Ok(0) | Err(_));
    assert!(
        closed,
        "connection still open after an oversized frame: {tail}"
    );

    // Everyone else is fine.
    for c in clients.iter_mut().step_by(10) {
        c.status().expect("other clients unaffected");
    }
    drop(d);
}

/// The meters' true peaks cover all the audio between two ticks: short bursts between quiet
/// stretches (2 ms every 250 ms, 28 dB over the tone under them) show in the ticks they fall
/// in, not only when one happens to be in the last few milliseconds before a tick.
#[test]
fn meter_ticks_show_the_true_peak_of_short_bursts() {
    let sb = Sandbox::start().expect("sandbox");
    let d = Daemon::start(&sb, &[]).expect("headroomd");
    let mut wav = sine(440.0, -30.0, 8.0);
    let rate = f64::from(wav.rate);
    let burst = (0.002 * rate) as usize;
    let every = (0.25 * rate) as usize;
    let amp = 10f64.powf(-2.0 / 20.0);
    for (i, f) in wav.samples.chunks_exact_mut(2).enumerate() {
        if i % every < burst {
            let v = (amp * (2.0 * std::f64::consts::PI * 1000.0 * i as f64 / rate).sin()) as f32;
            f.fill(v);
        }
    }
    let (mut player, mut client) = play_into_bus(&sb, "bursts", &wav, -50.0);
    let ceiling = match client.setting_get("limiter.ceiling_dbtp").unwrap().value {
        headroom_ipc::SettingValue::Float(v) => v as f32,
        headroom_ipc::SettingValue::Int(v) => v as f32,
        other => panic!("ceiling {other:?}"),
    };
    // Ticks while audio flows (the frame count moves), and those whose input true peak
    // shows a burst (−2 dBTP; the tone alone reads −30).
    let (mut flowing, mut hot, mut last_frames) = (0u32, 0u32, None);
    let (mut peaks, mut out_peaks) = (Vec::new(), Vec::new());
    for m in meter_ticks(&sb, Duration::from_secs(3)) {
        if last_frames.is_some_and(|f| m.frames > f) {
            flowing += 1;
            hot += u32::from(m.in_true_peak_dbtp > -6.0);
            peaks.push(m.in_true_peak_dbtp);
            out_peaks.push(m.out_true_peak_dbtp);
        }
        last_frames = Some(m.frames);
    }
    let _ = player.kill();
    let _ = player.wait();
    eprintln!("{hot} of {flowing} ticks show a burst");
    // Four bursts a second, ten ticks: about four ticks in ten hold one. A tick that read
    // only its last block (5 ms at quantum 256) would hold one in about one in forty.
    assert!(
        flowing >= 15,
        "{flowing} ticks with audio; log:\n{}",
        d.log()
    );
    assert!(
        f64::from(hot) >= 0.25 * f64::from(flowing),
        "{hot} of {flowing} ticks show a burst: {peaks:?}"
    );
    assert!(
        peaks.iter().all(|&p| p < 0.0 && p > -40.0),
        "true peaks out of range: {peaks:?}"
    );
    // The bursts come out limited: the meter sees them, under the ceiling.
    assert!(
        out_peaks.iter().all(|&p| p <= ceiling),
        "output true peaks over the ceiling {ceiling}: {out_peaks:?}"
    );
    assert!(
        out_peaks.iter().filter(|&&p| p > ceiling - 1.0).count() * 2 >= hot as usize,
        "the output meter missed the limited bursts: {out_peaks:?}"
    );
}
