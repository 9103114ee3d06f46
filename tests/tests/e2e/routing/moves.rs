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

    // Both sinks are captured from before the player starts to after the last move.
    let t0 = Instant::now();
    let rec_default = sb.record(DEFAULT_SINK, &sb.path("default.wav")).unwrap();
    let rec_other = sb.record(other, &sb.path("other.wav")).unwrap();
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

    // Where the audio went, read from the captures alone. Their frame counts stand for
    // wall-clock time only while the recorders miss nothing, which a loaded machine does
    // not promise, so the captures are not cut at the move times: each is read as its
    // sequence of tone and silence runs. Each phase lasted at least 5 s. The other sink: its
    // first tone is the first phase, then silence for the second, tone for the third. The
    // default sink: its first long tone is the second phase, with silence for the first
    // phase before it and for the third after it. A phase cut short (the stream moving back)
    // or a move that did not happen breaks the pattern. (The captures begin before the
    // player and end after the restore-stream checks moved the stream once more.)
    assert_eq!(phases.len(), 3);
    let summary =
        |runs: &[(bool, Vec<f64>)]| runs.iter().map(|r| (r.0, r.1.len())).collect::<Vec<_>>();
    let long = |r: &(bool, Vec<f64>)| r.1.len() >= 40;
    let runs_other = tone_runs(&cap_other);
    let first = runs_other.iter().position(|r| r.0);
    let pattern_other = first.and_then(|f| runs_other.get(f..f + 3));
    assert!(
        pattern_other.is_some_and(|p| p.iter().all(long)),
        "{other}: want its first tone, then silence, then tone, each ≥ 4 s: {:?}",
        summary(&runs_other)
    );
    let runs_default = tone_runs(&cap_default);
    let second = runs_default.iter().position(|r| r.0 && long(r));
    let pattern_default = second.and_then(|f| runs_default.get(f.checked_sub(1)?..f + 2));
    assert!(
        pattern_default.is_some_and(|p| p.iter().all(long)),
        "{DEFAULT_SINK}: want silence, its first long tone, silence, each ≥ 4 s: {:?}",
        summary(&runs_default)
    );
    // The tone is at its level where it plays (a missed graph cycle takes a few ms out of a
    // block: the median block, not every block).
    for (name, pattern) in [(other, pattern_other), (DEFAULT_SINK, pattern_default)] {
        for (_, blocks) in pattern.unwrap_or(&[]).iter().filter(|r| r.0) {
            let mut sorted = blocks.clone();
            sorted.sort_by(f64::total_cmp);
            let median = sorted[sorted.len() / 2];
            assert!(
                (median - -23.0).abs() < 1.0,
                "{name}: median {median:.1} dBFS, want the tone (−23): {blocks:.1?}"
            );
        }
    }
}

/// The capture as runs of tone and silence, each with its 100 ms blocks' RMS (dBFS): a block
/// over −40 dBFS is tone, under −60 silence, between the two it belongs to the run it is
/// in; a run of fewer than four blocks between two of the other kind is a dropout (or the
/// last moment of a move) and belongs to them.
fn tone_runs(w: &Wav) -> Vec<(bool, Vec<f64>)> {
    let span = w.frames() as f64 / f64::from(w.rate);
    let mut runs: Vec<(bool, Vec<f64>)> = Vec::new();
    for b in block_rms(w, 0.0, span) {
        let kind = if b > -40.0 {
            Some(true)
        } else if b < -60.0 {
            Some(false)
        } else {
            None
        };
        match (runs.last_mut(), kind) {
            (Some(last), Some(k)) if last.0 != k => runs.push((k, vec![b])),
            (Some(last), _) => last.1.push(b),
            (None, k) => runs.push((k.unwrap_or(false), vec![b])),
        }
    }
    // Absorb short runs into their neighbours, then join what became adjacent.
    let mut k = 1;
    while k + 1 < runs.len() {
        if runs[k].1.len() < 4 && runs[k - 1].0 == runs[k + 1].0 {
            let (_, mid) = runs.remove(k);
            let (_, next) = runs.remove(k);
            runs[k - 1].1.extend(mid);
            runs[k - 1].1.extend(next);
        } else {
            k += 1;
        }
    }
    runs
}
