//! `render` and `analyze` basics: length, sample format and alignment, the JSON summary,
//! profiles, the documented keys, clear errors and an untouched output on failure.

use std::path::Path;

use headroom_cli::audio::{self, Audio, OutputSamples};

use crate::support::audio::write_wav_i16;
use crate::support::{assert_fails, headroom, text};

#[test]
fn render_keeps_length_format_and_alignment() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.wav");
    let output = dir.path().join("out.wav");
    let output16 = dir.path().join("out16.wav");
    write_wav_i16(&input, 44100, 2, 44100 + 123);
    let args = |out: &Path, format: Option<&str>| {
        let mut a = vec![
            "render".to_string(),
            input.to_str().unwrap().into(),
            out.to_str().unwrap().into(),
            "--block".into(),
            "256".into(),
            "--set".into(),
            "agc.enabled=false".into(),
            "--set".into(),
            "compressor.enabled=false".into(),
        ];
        if let Some(f) = format {
            a.extend(["--format".to_string(), f.into()]);
        }
        a
    };
    let run = |a: Vec<String>| {
        let refs: Vec<&str> = a.iter().map(String::as_str).collect();
        headroom(dir.path(), &refs)
    };
    // By default the input's sample format is kept: 16-bit in, 16-bit out.
    let out = run(args(&output16, None));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let r = audio::open(&output16).unwrap();
    assert_eq!(r.info().format, audio::SampleFormat::Int(16));
    assert_eq!(r.info().frames, Some(44100 + 123));

    let out = run(args(&output, Some("f32")));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("rendered"));
    let r = audio::open(&output).unwrap();
    let info = r.info();
    assert_eq!((info.rate, info.channels), (44100, 2));
    assert_eq!(info.format, audio::SampleFormat::Float(32));
    assert_eq!(info.frames, Some(44100 + 123));
    // With AGC and compressor off, a -12 dBFS sine passes the limiter unchanged: the output
    // matches the input sample for sample when the latency is compensated.
    let got = Audio::read(&output).unwrap().samples;
    let want = Audio::read(&input).unwrap().samples;
    assert_eq!(got.len(), want.len());
    let worst = got
        .iter()
        .zip(&want)
        .skip(2 * 4800) // let any start-up smoothing settle
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    assert!(
        worst < 0.01,
        "output not time-aligned with input (worst diff {worst})"
    );
}

#[test]
fn render_json_summary_and_profile_flag() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.wav");
    let output = dir.path().join("out.wav");
    write_wav_i16(&input, 48000, 1, 4800);
    let (i, o) = (input.to_str().unwrap(), output.to_str().unwrap());
    let render = |json: bool, profile: &str| {
        let args = ["--json", "render", i, o, "--profile", profile];
        headroom(dir.path(), &args[usize::from(!json)..])
    };
    let out = render(true, "night");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["frames"], 4800);
    assert_eq!(v["channels"], 1);
    assert_eq!(v["rate"], 48000);

    // A user profile in $XDG_CONFIG_HOME/headroom/profiles overrides by name.
    let pdir = dir.path().join("config/headroom/profiles");
    std::fs::create_dir_all(&pdir).unwrap();
    std::fs::write(pdir.join("mine.toml"), "[agc]\ntarget_lufs = -19\n").unwrap();
    let out = render(false, "mine");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let out = render(false, "nope");
    assert_fails(&out, 1, "no profile `nope`");

    // A profile file without settings (empty, comments only: a file being written) is no
    // profile of defaults: a user copy of a shipped profile leaves the shipped one in use
    // (with a warning), any other is an error at its first line, as in the daemon.
    for empty in ["", "# nothing yet\n"] {
        std::fs::write(pdir.join("night.toml"), empty).unwrap();
        let out = render(true, "night");
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        assert!(
            text(&out.stderr).contains("the shipped `night` profile is used"),
            "{}",
            text(&out.stderr)
        );
        std::fs::write(pdir.join("mine.toml"), empty).unwrap();
        let shown = format!("{}:1:1: no settings", pdir.join("mine.toml").display());
        assert_fails(&render(false, "mine"), 1, &shown);
        let path = pdir.join("mine.toml");
        assert_fails(&render(false, path.to_str().unwrap()), 1, &shown);
        assert_fails(
            &headroom(dir.path(), &["validate", path.to_str().unwrap()]),
            1,
            &shown,
        );
    }
}

#[test]
fn bad_audio_files_fail_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("junk.wav");
    std::fs::write(&junk, "RIFF but not really a wave file").unwrap();
    let empty = dir.path().join("empty.wav");
    write_wav_i16(&empty, 48000, 2, 0);
    let out_path = dir.path().join("o.wav");
    let out_s = out_path.to_str().unwrap();
    for (args, needle) in [
        (vec!["render", "/nonexistent/x.wav", out_s], "cannot open"),
        (
            vec!["render", junk.to_str().unwrap(), out_s],
            "not a valid WAV",
        ),
        (vec!["render", empty.to_str().unwrap(), out_s], "no audio"),
        (vec!["analyze", junk.to_str().unwrap()], "not a valid WAV"),
        (vec!["analyze", "/nonexistent/x.wav"], "cannot open"),
        (
            vec![
                "render",
                junk.to_str().unwrap(),
                out_s,
                "--set",
                "agc.bogus=1",
            ],
            "unknown setting",
        ),
    ] {
        let out = headroom(dir.path(), &args);
        assert_eq!(
            out.status.code(),
            Some(1),
            "{args:?}: {}",
            text(&out.stderr)
        );
        let err = text(&out.stderr);
        assert!(err.contains(needle), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
    }
    assert!(!out_path.exists(), "a failed render left an output file");
}

#[test]
fn analyze_reports_exactly_the_documented_keys() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("tone.wav");
    // 5 s of a -12 dBFS (0.25 peak) 997 Hz sine on both channels.
    write_wav_i16(&input, 48000, 2, 5 * 48000);
    let out = headroom(dir.path(), &["analyze", input.to_str().unwrap(), "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "channels",
            "codec",
            "duration_s",
            "file",
            "format",
            "integrated_lufs",
            "lra_lu",
            "max_momentary_lufs",
            "max_short_term_lufs",
            "rate",
            "sample_peak_dbfs",
            "true_peak_dbtp"
        ]
    );
    assert_eq!(v["codec"], "WAV");
    assert_eq!(v["format"], "16-bit");
    assert_eq!(v["rate"], 48000);
    assert_eq!(v["duration_s"], 5.0);
    // A 1 kHz sine at 0 dBFS peak in both channels reads 0 LUFS (EBU Tech 3341), so this
    // one (peak 0.25 = -12.04 dBFS) reads about -12.04 LUFS.
    let sp = v["sample_peak_dbfs"].as_f64().unwrap();
    assert!((sp + 12.04).abs() < 0.05, "sample peak {sp}");
    let i = v["integrated_lufs"].as_f64().unwrap();
    assert!((i + 12.04).abs() < 0.2, "integrated {i}");
    let tp = v["true_peak_dbtp"].as_f64().unwrap();
    assert!(
        tp >= sp - 0.01 && tp < sp + 0.6,
        "true peak {tp} vs sample peak {sp}"
    );

    let out = headroom(dir.path(), &["analyze", input.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0));
    let human = text(&out.stdout);
    assert!(
        human.contains("integrated loudness") && human.contains("LUFS"),
        "{human}"
    );

    // Digital silence: loudness reads "no measurement", no -inf anywhere.
    let silent = dir.path().join("silent.wav");
    Audio {
        rate: 48000,
        channels: 1,
        samples: vec![0.0; 48000],
    }
    .write_wav(&silent, OutputSamples::F32)
    .unwrap();
    let out = headroom(dir.path(), &["analyze", silent.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("no measurement"),
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn failed_render_leaves_an_existing_output_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let cut = dir.path().join("cut.wav");
    write_wav_i16(&cut, 48000, 2, 10_000);
    let f = std::fs::OpenOptions::new().write(true).open(&cut).unwrap();
    f.set_len(44 + 1001).unwrap(); // the header still announces 10 000 frames
    drop(f);
    let out_path = dir.path().join("keep.wav");
    std::fs::write(&out_path, b"precious").unwrap();
    let out = headroom(
        dir.path(),
        &["render", cut.to_str().unwrap(), out_path.to_str().unwrap()],
    );
    assert_fails(&out, 1, "truncated");
    assert_eq!(std::fs::read(&out_path).unwrap(), b"precious");
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("partial"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");

    let out = headroom(dir.path(), &["analyze", cut.to_str().unwrap()]);
    assert_fails(&out, 1, "truncated");
}

#[test]
fn analyze_escapes_control_characters_in_names_and_render_lists_every_profile_error() {
    // A file name with a line break and a terminal escape broke the table's row and sent
    // the escape to the terminal; `render --profile FILE` told only the first of a
    // profile's errors (`headroom validate` lists them all).
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_wav_i16(&d.join("a.wav"), 48_000, 2, 48_000);
    write_wav_i16(&d.join("b\n\u{1b}[31m.wav"), 48_000, 2, 48_000);
    let out = headroom(d, &["analyze", "a.wav", "b\n\u{1b}[31m.wav"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let table = text(&out.stdout);
    assert!(!table.contains('\u{1b}'), "{table}");
    assert!(table.contains("b\\n\\u{1b}[31m.wav\n"), "{table}");
    assert_eq!(table.lines().count(), 2 + 2 + 1, "{table}");
    std::fs::write(
        d.join("bad.toml"),
        "[agc]\ntarget_lufz = -20.0\n[limitr]\nceiling_dbtp = -1.0\n",
    )
    .unwrap();
    let out = headroom(
        d,
        &[
            "render",
            "-q",
            "--profile",
            "./bad.toml",
            "a.wav",
            "/dev/null",
        ],
    );
    assert_fails(&out, 1, "bad.toml:2:1");
    assert!(
        text(&out.stderr).contains("bad.toml:3:"),
        "{}",
        text(&out.stderr)
    );
}
