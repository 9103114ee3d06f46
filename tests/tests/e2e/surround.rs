//! A real sink with more than two channels: `headroom-processed` takes the real sink's
//! layout, so a 5.1 programme played into it reaches 5.1 speakers with every channel in its
//! place (a stereo bus mixed it down to two and left the centre, LFE and surrounds silent);
//! when the user switches to stereo speakers the bus follows, and a stream that was playing
//! into it is back in it. `status` names the layout. Layer A's taps hear every channel:
//! a 5.1 voice in the centre alone reads its loudness.

use std::process::Stdio;
use std::time::Duration;

use anyhow::{anyhow, Result};
use headroom_client::Client;
use headroom_ipc::{Event, Topic};
use headroom_tests::daemon::{bus_output_targets, with_log, write_wav, Daemon, BUS_SINK};
use headroom_tests::{wait_for, Sandbox, Wav, DEFAULT_SINK};

/// The 5.1 null sink.
const SURROUND: &str = "surround-speakers";
/// Its positions, in the order the test's files and recordings use.
const POSITIONS: [&str; 6] = ["FL", "FR", "FC", "LFE", "RL", "RR"];
/// One tone per channel, Hz (whole cycles in a second; the LFE's low).
const TONES: [f64; 6] = [300.0, 500.0, 700.0, 100.0, 1100.0, 1300.0];

/// `audio.channels` of `headroom-processed` (`None` while it is absent).
fn bus_channels(sb: &Sandbox) -> Result<Option<String>> {
    Ok(sb.dump()?.iter().find_map(|o| {
        (o["type"] == "PipeWire:Interface:Node" && o["info"]["props"]["node.name"] == BUS_SINK)
            .then(|| {
                let v = &o["info"]["props"]["audio.channels"];
                v.as_str()
                    .map(str::to_string)
                    .or_else(|| v.as_u64().map(|n| n.to_string()))
            })
            .flatten()
    }))
}

/// `processed_channels` in the daemon's status.
fn status_channels(sb: &Sandbox) -> Result<Option<String>> {
    Ok(Client::connect_to(sb.control_socket())?
        .status()?
        .processed_channels)
}

/// Waits until the bus has the channel positions `positions` (space-separated), plays into
/// `sink` only, and `status` says so.
fn wait_bus(sb: &Sandbox, d: &Daemon, positions: &str, sink: &str) -> Result<()> {
    let channels = positions.split(' ').count();
    with_log(
        d,
        wait_for(
            &format!("a {channels}-channel bus playing into {sink}"),
            Duration::from_secs(10),
            || {
                let ok = bus_channels(sb)? == Some(channels.to_string())
                    && bus_output_targets(sb)? == Some(vec![sink.to_string()])
                    && status_channels(sb)?.as_deref() == Some(positions);
                Ok(ok.then_some(()))
            },
        ),
    )
}

/// `secs` of six channels at 48 kHz, channel `c` at time `t` s being `sample(c, t)`.
fn six_channels(secs: f64, sample: impl Fn(usize, f64) -> f64) -> Wav {
    let rate = 48_000u32;
    let n = (secs * f64::from(rate)) as usize;
    let samples = (0..n)
        .flat_map(|k| {
            let t = k as f64 / f64::from(rate);
            std::array::from_fn::<f32, 6, _>(|c| sample(c, t) as f32)
        })
        .collect();
    Wav {
        rate,
        channels: 6,
        samples,
    }
}

/// A sine at `freq` Hz, `peak_dbfs`, at time `t` s.
fn tone(freq: f64, peak_dbfs: f64, t: f64) -> f64 {
    10f64.powf(peak_dbfs / 20.0) * (2.0 * std::f64::consts::PI * freq * t).sin()
}

/// `secs` of the six tones at −26 dBFS, one per channel.
fn six_tones(secs: f64) -> Wav {
    six_channels(secs, |c, t| tone(TONES[c], -26.0, t))
}

/// Amplitude of the tone at `freq` (whole cycles in the segment) in channel `ch` of
/// `frames` frames of `w` from `start`.
fn tone_amplitude(w: &Wav, ch: usize, freq: f64, start: usize, frames: usize) -> f64 {
    let (mut re, mut im) = (0.0f64, 0.0f64);
    for k in 0..frames {
        let x = f64::from(w.samples[(start + k) * w.channels + ch]);
        let ph = 2.0 * std::f64::consts::PI * freq * k as f64 / f64::from(w.rate);
        re += x * ph.cos();
        im -= x * ph.sin();
    }
    2.0 * re.hypot(im) / frames as f64
}

/// `node.name` of the test's player.
const PLAYER: &str = "hr-test-surround-player";

/// Plays `wav` into the processed sink as a 5.1 stream named [`PLAYER`].
fn play_cmd(sb: &Sandbox, wav: &std::path::Path) -> std::process::Command {
    let mut c = sb.command("pw-play");
    c.args(["--target", BUS_SINK, "--channel-map", &POSITIONS.join(",")])
        .args(["-P", &format!("{{ node.name={PLAYER} }}")])
        .arg(wav)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    c
}

#[test]
fn a_surround_real_sink_keeps_every_channel_through_the_bus() -> Result<()> {
    let sb = Sandbox::start()?;
    sb.create_null_sink_at(SURROUND, &POSITIONS.join(" "))?;
    sb.set_default_sink(SURROUND, Duration::from_secs(5))?;
    let mut d = Daemon::start(&sb, &[])?;
    wait_bus(&sb, &d, &POSITIONS.join(" "), SURROUND)?;

    let wav = write_wav(&sb, "six-tones.wav", &six_tones(5.0))?;
    let rec = sb.record_at(SURROUND, &sb.path("surround-out.wav"), &POSITIONS)?;
    let st = play_cmd(&sb, &wav).status()?;
    anyhow::ensure!(st.success(), "pw-play failed: {st}");
    let got = rec.stop()?;
    anyhow::ensure!(got.channels == 6, "recorded {} channels", got.channels);
    let (start, end) = got
        .active_range(1e-4)
        .ok_or_else(|| anyhow!("nothing reached the 5.1 sink\n{}", d.log()))?;
    // The last whole second of the levelled tones (the AGC has settled on them by then).
    let frames = 48_000;
    anyhow::ensure!(
        end - start > 3 * frames,
        "only {} frames played",
        end - start
    );
    let from = end - frames - 4_800;
    let own: Vec<f64> = (0..6)
        .map(|c| tone_amplitude(&got, c, TONES[c], from, frames))
        .collect();
    for (c, name) in POSITIONS.iter().enumerate() {
        // Each channel carries its own tone, at the level of the others (one gain for all)…
        let rel_db = 20.0 * (own[c] / own[0]).log10();
        assert!(
            rel_db.abs() < 1.0,
            "{name}: its tone {rel_db:+.2} dB against FL's (amplitudes {own:?})\n{}",
            d.log()
        );
        // …and none of the others' (a downmix would put the centre and surrounds in FL/FR).
        for (k, other) in POSITIONS.iter().enumerate().filter(|&(k, _)| k != c) {
            let leak = tone_amplitude(&got, c, TONES[k], from, frames);
            assert!(
                leak < own[c] * 0.01,
                "{name} holds {other}'s tone at {:.1} dB under its own",
                20.0 * (leak / own[c]).log10()
            );
        }
    }

    // Layer A hears the centre: an app playing a 5.1 file with a 1 kHz tone at −20 dBFS peak
    // in the centre alone (a voice) reads −23 LUFS, as BS.1770 has it; a tap on FL and FR
    // heard nothing.
    let centre = six_channels(30.0, |c, t| {
        if POSITIONS[c] == "FC" {
            tone(1000.0, -20.0, t)
        } else {
            0.0
        }
    });
    let centre = write_wav(&sb, "centre.wav", &centre)?;
    let mut app = sb.command("pw-play");
    app.args(["--channel-map", &POSITIONS.join(",")])
        .args(["-P", "{ application.name=centre-app }"])
        .arg(&centre)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let mut app = app.spawn()?;
    let mut sub = Client::connect_to(sb.control_socket())?.subscribe(&[Topic::Meters])?;
    sub.set_timeout(Some(Duration::from_secs(2)))?;
    let heard = with_log(
        &d,
        wait_for(
            "the centre app's tap reading",
            Duration::from_secs(15),
            || {
                let Some(Ok(Event::MetersTick(t))) = sub.next() else {
                    return Ok(None);
                };
                Ok(t.layer_a
                    .iter()
                    .find(|l| l.app == "centre-app")
                    .map(|l| l.short_term_lufs)
                    .filter(|&v| (v + 23.0).abs() < 0.5))
            },
        ),
    );
    let _ = app.kill();
    let _ = app.wait();
    drop(sub);
    heard?;

    // Stereo speakers chosen while a 5.1 stream plays: the bus follows them, the stream is
    // back in the processed sink (mixed down by PipeWire, as into the speakers themselves).
    let long = write_wav(&sb, "six-tones-long.wav", &six_tones(20.0))?;
    let mut player = play_cmd(&sb, &long).spawn()?;
    let playing = || -> Result<Option<()>> {
        let dump = sb.dump()?;
        let id_of = |name: &str| {
            dump.iter().find_map(|o| {
                (o["type"] == "PipeWire:Interface:Node" && o["info"]["props"]["node.name"] == name)
                    .then(|| o["id"].as_u64())
                    .flatten()
            })
        };
        let (Some(bus), Some(player)) = (id_of(BUS_SINK), id_of(PLAYER)) else {
            return Ok(None);
        };
        let linked = dump.iter().any(|o| {
            o["type"] == "PipeWire:Interface:Link"
                && o["info"]["output-node-id"].as_u64() == Some(player)
                && o["info"]["input-node-id"].as_u64() == Some(bus)
        });
        Ok(linked.then_some(()))
    };
    with_log(
        &d,
        wait_for("the player in the 5.1 bus", Duration::from_secs(5), playing),
    )?;
    sb.set_default_sink(DEFAULT_SINK, Duration::from_secs(5))?;
    wait_bus(&sb, &d, "FL FR", DEFAULT_SINK)?;
    with_log(
        &d,
        wait_for(
            "the player back in the stereo bus",
            Duration::from_secs(5),
            playing,
        ),
    )?;
    let _ = player.kill();
    let _ = player.wait();
    let log = d.terminate()?;
    assert!(
        log.contains("making the bus anew"),
        "the switch was not logged:\n{log}"
    );
    Ok(())
}
