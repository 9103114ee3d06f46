//! The stream-move mechanism the router relies on, on the installed WirePlumber: writing
//! `target.object = <sink name>` for a playing stream in the `default` metadata relinks it
//! (the audio moves, within 500 ms, and stays for 5 s — WirePlumber does not undo it), and
//! deleting the key sends it back to the default sink. Also checks the restore-stream
//! interaction the router documents: a name written in `target.object` leaves no remembered
//! target for the app.

use std::process::Stdio;
use std::time::{Duration, Instant};

use headroom_tests::{sine, wait_for, Sandbox, Wav, DEFAULT_SINK};

/// RMS in dBFS of each 100 ms block of `wav` between `from` and `to` seconds.
fn block_rms(wav: &Wav, from: f64, to: f64) -> Vec<f64> {
    let r = wav.rate as f64;
    let mut out = Vec::new();
    let mut t = from;
    while t + 0.1 <= to + 1e-9 {
        let a = (t * r) as usize;
        let b = ((t + 0.1) * r) as usize;
        out.push(wav.slice(a, b).rms_db());
        t += 0.1;
    }
    out
}

/// Id of the stream node with `application.name == app`.
fn stream_id(sb: &Sandbox, app: &str) -> anyhow::Result<Option<u32>> {
    Ok(sb.dump()?.iter().find_map(|o| {
        (o["type"] == "PipeWire:Interface:Node"
            && o["info"]["props"]["application.name"] == app
            && o["info"]["props"]["media.class"] == "Stream/Output/Audio")
            .then(|| o["id"].as_u64().map(|v| v as u32))
            .flatten()
    }))
}

/// Names of the nodes `id`'s output is linked into.
fn linked_sinks(sb: &Sandbox, id: u32) -> anyhow::Result<Vec<String>> {
    headroom_tests::daemon::link_targets(sb, id)
}

fn set_target(sb: &Sandbox, id: u32, target: Option<&str>) {
    let mut c = sb.command("pw-metadata");
    c.args(["-n", "default"]);
    match target {
        Some(t) => c.args([&id.to_string(), "target.object", t]),
        None => c.args(["-d", &id.to_string(), "target.object"]),
    };
    let st = c
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(st.success(), "pw-metadata failed: {st}");
}

#[test]
fn target_object_moves_a_playing_stream_and_it_stays() {
    let sb = Sandbox::start().expect("sandbox");
    let other = "other-sink";
    sb.create_null_sink(other).unwrap();
    let wav = sb.path("tone.wav");
    sine(1000.0, -20.0, 22.0).write(&wav).unwrap();

    // Capture frame 0 of each recorder is (within the readiness poll) when record() returned.
    let t0 = Instant::now();
    let rec_default = sb.record(DEFAULT_SINK, &sb.path("default.wav")).unwrap();
    let start_default = t0.elapsed().as_secs_f64();
    let rec_other = sb.record(other, &sb.path("other.wav")).unwrap();
    let start_other = t0.elapsed().as_secs_f64();
    let mut player = sb
        .command("pw-play")
        .args(["-P", "{ application.name=mover }"])
        .arg(&wav)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let id = wait_for("player stream", Duration::from_secs(5), || {
        stream_id(&sb, "mover")
    })
    .unwrap();
    wait_for(
        "player linked to the default sink",
        Duration::from_secs(5),
        || Ok((linked_sinks(&sb, id)? == [DEFAULT_SINK]).then_some(())),
    )
    .unwrap();

    // (time of the move, sink the audio must be in afterwards)
    let mut phases = Vec::new();
    for (target, expect) in [
        (Some(other), other),
        (None, DEFAULT_SINK),
        (Some(other), other),
    ] {
        let t = t0.elapsed().as_secs_f64();
        set_target(&sb, id, target);
        let moved = Instant::now();
        wait_for(
            &format!("stream linked to {expect}"),
            Duration::from_millis(500),
            || Ok((linked_sinks(&sb, id)? == [expect]).then_some(())),
        )
        .unwrap_or_else(|e| panic!("not relinked within 500 ms: {e:#}"));
        eprintln!("relinked to {expect} in {:?}", moved.elapsed());
        phases.push((t, expect));
        // Stay there: the links must not change for 5 s (checked continuously).
        let until = moved + Duration::from_secs(5);
        while Instant::now() < until {
            assert_eq!(
                linked_sinks(&sb, id).unwrap(),
                [expect],
                "the move was undone"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
    // restore-stream: a target written as a node name is not remembered for the app
    // (pw-play's key is `Output/Audio:media.role:Music`; its volume entries prove restore-stream
    // saved state for it).
    let state = sb.path("state/wireplumber/restore-stream");
    let read_state = || std::fs::read_to_string(&state).unwrap_or_default();
    let remembered = read_state();
    assert!(
        remembered.contains("Output/Audio:media.role:Music:"),
        "restore-stream saved nothing for the stream:\n{remembered}"
    );
    let target_lines: Vec<&str> = remembered
        .lines()
        .filter(|l| l.contains(":target"))
        .collect();
    assert!(
        target_lines.is_empty(),
        "restore-stream remembered a target: {target_lines:?}"
    );
    // Control: a target written as an object serial *is* remembered…
    let serial = sb.dump().unwrap().iter().find_map(|o| {
        (o["info"]["props"]["node.name"] == other)
            .then(|| o["info"]["props"]["object.serial"].as_u64())
            .flatten()
    });
    set_target(&sb, id, Some(&serial.expect("sink serial").to_string()));
    wait_for(
        "restore-stream to remember a serial target",
        Duration::from_secs(5),
        || {
            Ok(read_state()
                .contains(&format!(":target={other}"))
                .then_some(()))
        },
    )
    .unwrap();
    // …and a later name write clears it again.
    set_target(&sb, id, Some(DEFAULT_SINK));
    wait_for(
        "restore-stream to forget the target",
        Duration::from_secs(5),
        || Ok((!read_state().contains(":target")).then_some(())),
    )
    .unwrap();
    let _ = player.kill();
    let _ = player.wait();
    let cap_default = rec_default.stop().unwrap();
    let cap_other = rec_other.stop().unwrap();

    // Check 0.6 s … 4.8 s after each move (the relink took < 500 ms, see above; the margin
    // covers the recorders' start-up uncertainty).
    for (t, expect) in phases {
        let (on, on_start, off, off_start) = if expect == other {
            (&cap_other, start_other, &cap_default, start_default)
        } else {
            (&cap_default, start_default, &cap_other, start_other)
        };
        let on_blocks = block_rms(on, t - on_start + 0.6, t - on_start + 4.8);
        let off_blocks = block_rms(off, t - off_start + 0.6, t - off_start + 4.8);
        assert!(on_blocks.len() > 40, "capture too short");
        // The tone plays on the sink the stream was moved to in every block (a graph that
        // misses a cycle on a loaded machine takes a few ms out of a block: such a block
        // reads a little low, so nine in ten must be the tone within 1.5 dB and none may be
        // gone), and never on the other one.
        let near = on_blocks
            .iter()
            .filter(|a| (**a - -23.0).abs() < 1.5)
            .count();
        assert!(
            near * 10 >= on_blocks.len() * 9,
            "{expect}: only {near} of {} blocks after the move at {t:.2}s are the tone (−23 dBFS): {on_blocks:.1?}",
            on_blocks.len()
        );
        for (i, (a, b)) in on_blocks.iter().zip(&off_blocks).enumerate() {
            assert!(
                *a > -40.0,
                "{expect}: block {i} after the move at {t:.2}s has {a:.1} dBFS, want the tone (−23)"
            );
            assert!(
                *b < -60.0,
                "the other sink still plays at block {i}: {b:.1} dBFS"
            );
        }
    }
}
