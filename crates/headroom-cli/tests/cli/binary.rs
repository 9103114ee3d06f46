//! The built `headroom` binary: exit codes, messages, offline commands end to end.

use crate::support::{text, BIN};
use std::path::Path;
use std::process::{Command, Output};

/// Runs headroom with a private runtime/config dir so no real daemon or user file is used.
fn headroom(dir: &Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .env_remove("HEADROOM_SOCKET")
        .env("XDG_RUNTIME_DIR", dir)
        .env("XDG_CONFIG_HOME", dir.join("config"))
        .env("HOME", dir)
        .output()
        .expect("run headroom")
}

fn write_wav_i16(path: &Path, rate: u32, channels: u16, frames: usize) {
    let spec = hound::WavSpec {
        channels,
        sample_rate: rate,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    for i in 0..frames {
        let v = (0.25
            * (2.0 * std::f64::consts::PI * 997.0 * i as f64 / rate as f64).sin()
            * 32767.0) as i16;
        for _ in 0..channels {
            w.write_sample(v).unwrap();
        }
    }
    w.finalize().unwrap();
}

#[test]
fn daemon_down_exits_3_with_how_to_start() {
    let dir = tempfile::tempdir().unwrap();
    for args in [
        &["status"][..],
        &["route", "list"],
        &["set", "agc.target_lufs", "-18"],
        &["get", "agc.target_lufs"],
        &["settings"],
        &["setting", "reset", "--all"],
        &["profile", "list"],
        &["bypass", "toggle"],
        &["history", "--since", "5m"],
        &["monitor"],
        &["monitor", "--no-wait"],
        &["monitor", "--json", "meters"],
        &["--json", "status"],
    ] {
        let out = headroom(dir.path(), args);
        assert_eq!(
            out.status.code(),
            Some(3),
            "{args:?}: {}",
            text(&out.stderr)
        );
        let err = text(&out.stderr);
        assert!(err.contains("headroomd is not running"), "{args:?}: {err}");
        assert!(
            err.contains("systemctl --user start headroomd"),
            "{args:?}: {err}"
        );
        assert!(
            out.stdout.is_empty(),
            "{args:?} printed {}",
            text(&out.stdout)
        );
    }
}

#[test]
fn socket_env_points_elsewhere() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("custom.sock");
    let out = Command::new(BIN)
        .arg("status")
        .env("HEADROOM_SOCKET", &sock)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert!(
        text(&out.stderr).contains("custom.sock"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn usage_errors_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    for args in [
        &["frobnicate"][..],
        &["bypass", "sideways"],
        &["route", "set", "mpv", "elsewhere"],
        &["setting", "reset"],
        &["history", "--since", "soon"],
        &["monitor", "nosuchtopic"],
        &["render", "a.wav"],
    ] {
        let out = headroom(dir.path(), args);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?}: {}",
            text(&out.stderr)
        );
    }
}

#[test]
fn help_documents_exit_codes() {
    let dir = tempfile::tempdir().unwrap();
    let out = headroom(dir.path(), &["--help"]);
    assert_eq!(out.status.code(), Some(0));
    let help = text(&out.stdout);
    assert!(help.contains("Exit codes:"), "{help}");
    assert!(help.contains("3  headroomd is not running"), "{help}");
    let out = headroom(dir.path(), &["render", "--help"]);
    assert!(text(&out.stdout).contains("time-aligned"));
}

#[test]
fn completions_and_man_page() {
    let dir = tempfile::tempdir().unwrap();
    for shell in ["bash", "zsh", "fish"] {
        let out = headroom(dir.path(), &["completions", shell]);
        assert_eq!(out.status.code(), Some(0), "{shell}");
        let s = text(&out.stdout);
        assert!(
            s.contains("headroom") && s.contains("monitor"),
            "{shell}: {s}"
        );
    }
    let out = headroom(dir.path(), &["man"]);
    assert_eq!(out.status.code(), Some(0));
    let man = text(&out.stdout);
    assert!(
        man.starts_with(".ie") || man.contains(".TH headroom"),
        "{man}"
    );
    assert!(man.contains("Exit codes"), "man page lacks the exit codes");
}

#[test]
fn render_keeps_length_format_and_alignment() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.wav");
    let output = dir.path().join("out.wav");
    write_wav_i16(&input, 44100, 2, 44100 + 123);
    let out = headroom(
        dir.path(),
        &[
            "render",
            input.to_str().unwrap(),
            output.to_str().unwrap(),
            "--block",
            "256",
            "--set",
            "agc.enabled=false",
            "--set",
            "compressor.enabled=false",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("rendered"));
    let r = hound::WavReader::open(&output).unwrap();
    let spec = r.spec();
    assert_eq!(
        (spec.sample_rate, spec.channels, spec.bits_per_sample),
        (44100, 2, 32)
    );
    assert_eq!(spec.sample_format, hound::SampleFormat::Float);
    assert_eq!(r.duration() as usize, 44100 + 123);
    // With AGC and compressor off, a -12 dBFS sine passes the limiter unchanged: the output
    // matches the input sample for sample when the latency is compensated.
    let got: Vec<f32> = r.into_samples::<f32>().map(Result::unwrap).collect();
    let want: Vec<f32> = hound::WavReader::open(&input)
        .unwrap()
        .into_samples::<i16>()
        .map(|s| s.unwrap() as f32 / 32768.0)
        .collect();
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
    let out = headroom(
        dir.path(),
        &[
            "--json",
            "render",
            input.to_str().unwrap(),
            output.to_str().unwrap(),
            "--profile",
            "night",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["frames"], 4800);
    assert_eq!(v["channels"], 1);
    assert_eq!(v["rate"], 48000);

    // A user profile in $XDG_CONFIG_HOME/headroom/profiles overrides by name.
    let pdir = dir.path().join("config/headroom/profiles");
    std::fs::create_dir_all(&pdir).unwrap();
    std::fs::write(pdir.join("mine.toml"), "[agc]\ntarget_lufs = -19\n").unwrap();
    let out = headroom(
        dir.path(),
        &[
            "render",
            input.to_str().unwrap(),
            output.to_str().unwrap(),
            "--profile",
            "mine",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let out = headroom(
        dir.path(),
        &[
            "render",
            input.to_str().unwrap(),
            output.to_str().unwrap(),
            "--profile",
            "nope",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("no profile `nope`"),
        "{}",
        text(&out.stderr)
    );
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
fn validate_reports_file_line_col() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.toml");
    std::fs::write(&good, "description = \"fine\"\n[agc]\ntarget_lufs = -18\n").unwrap();
    let out = headroom(dir.path(), &["validate", good.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("ok"));

    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "[agc]\ntarget_lufs = -18\ntargte_lufs = -20\n").unwrap();
    let out = headroom(dir.path(), &["validate", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    let prefix = format!("{}:3:1: ", bad.display());
    assert!(err.contains(&prefix), "{err}");

    let out = headroom(dir.path(), &["validate", "/nonexistent.toml"]);
    assert_eq!(out.status.code(), Some(1));
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
            "integrated_lufs",
            "lra_lu",
            "max_momentary_lufs",
            "max_short_term_lufs",
            "sample_peak_dbfs",
            "true_peak_dbtp"
        ]
    );
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
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 48000,
        bits_per_sample: 32,
        sample_format: hound::SampleFormat::Float,
    };
    let mut w = hound::WavWriter::create(&silent, spec).unwrap();
    for _ in 0..48000 {
        w.write_sample(0.0f32).unwrap();
    }
    w.finalize().unwrap();
    let out = headroom(dir.path(), &["analyze", silent.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("no measurement"),
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn man_dir_writes_a_page_per_subcommand() {
    let dir = tempfile::tempdir().unwrap();
    let mandir = dir.path().join("man1");
    let out = headroom(dir.path(), &["man", "--dir", mandir.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    for page in [
        "headroom.1",
        "headroom-status.1",
        "headroom-render.1",
        "headroom-profile-use.1",
    ] {
        let t = std::fs::read_to_string(mandir.join(page)).unwrap_or_default();
        assert!(t.contains(".TH"), "{page} missing or not a man page");
    }
    // The settings list of `headroom set` comes from the profile schema: every key, with its
    // description.
    let set_page = std::fs::read_to_string(mandir.join("headroom-set.1")).unwrap();
    let help = text(&headroom(dir.path(), &["set", "--help"]).stdout);
    for info in headroom_profile::Profile::keys() {
        assert!(set_page.contains(info.key), "man page lacks {}", info.key);
        assert!(help.contains(info.key), "--help lacks {}", info.key);
        assert!(
            help.contains(info.doc),
            "--help lacks the doc of {}",
            info.key
        );
    }
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
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("truncated"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(std::fs::read(&out_path).unwrap(), b"precious");
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("partial"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");

    let out = headroom(dir.path(), &["analyze", cut.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("truncated"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn a_closed_stdout_ends_quietly_and_a_full_disk_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    // The reader is gone before headroom writes: every write fails with EPIPE.
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let out = Command::new(BIN)
        .args(["completions", "bash"])
        .env("HOME", dir.path())
        .stdout(writer)
        .stderr(std::process::Stdio::piped())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(out.stderr.is_empty(), "{}", text(&out.stderr));
    // Any other write error is one.
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap();
    let out = Command::new(BIN)
        .args(["completions", "bash"])
        .env("HOME", dir.path())
        .stdout(full)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("No space left on device"),
        "{}",
        text(&out.stderr)
    );
}
