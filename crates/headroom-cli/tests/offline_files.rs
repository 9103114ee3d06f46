//! `headroom analyze` and `render` on real files of every supported format, made at test time
//! with ffmpeg (installed by `make deps`), and the safety of `render`'s output handling.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use headroom_cli::audio::{self, Audio, OutputSamples};

const BIN: &str = env!("CARGO_BIN_EXE_headroom");

fn headroom(dir: &Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .current_dir(dir)
        .env_remove("HEADROOM_SOCKET")
        .env("XDG_RUNTIME_DIR", dir)
        .env("XDG_CONFIG_HOME", dir.join("config"))
        .env("HOME", dir)
        .output()
        .expect("run headroom")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Runs ffmpeg quietly; a missing ffmpeg is a setup error (`make deps` installs it).
fn ffmpeg(args: &[&str]) {
    let out = Command::new("ffmpeg")
        .args(["-v", "error", "-nostdin", "-y"])
        .args(args)
        .output()
        .expect("ffmpeg not found: run `make deps` (it installs ffmpeg)");
    assert!(
        out.status.success(),
        "ffmpeg {args:?}: {}",
        text(&out.stderr)
    );
}

/// A programme-like stereo signal: three partials with a slow level swing, about −18 LUFS.
fn programme(rate: u32, secs: f64, gain: f32) -> Audio {
    let n = (secs * f64::from(rate)) as usize;
    let mut samples = Vec::with_capacity(n * 2);
    for i in 0..n {
        let t = i as f64 / f64::from(rate);
        let env = 0.6 + 0.4 * (2.0 * std::f64::consts::PI * 0.3 * t).sin();
        let x = env
            * (0.12 * (2.0 * std::f64::consts::PI * 220.0 * t).sin()
                + 0.08 * (2.0 * std::f64::consts::PI * 997.0 * t).sin()
                + 0.04 * (2.0 * std::f64::consts::PI * 3100.0 * t).sin());
        samples.push(gain * x as f32);
        samples.push(gain * 0.8 * x as f32);
    }
    Audio {
        rate,
        channels: 2,
        samples,
    }
}

/// `analyze --json` of one file: its JSON object.
fn analyze_json(dir: &Path, file: &Path) -> serde_json::Value {
    let out = headroom(dir, &["--json", "analyze", file.to_str().unwrap()]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}: {}",
        file.display(),
        text(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Encodes `src` into each supported format with ffmpeg; returns (label, path).
fn all_formats(dir: &Path, src: &Path) -> Vec<(&'static str, PathBuf)> {
    let s = src.to_str().unwrap();
    let cases: &[(&str, &str, &[&str])] = &[
        ("flac", "x.flac", &["-c:a", "flac"]),
        (
            "flac24",
            "x24.flac",
            &["-c:a", "flac", "-sample_fmt", "s32"],
        ),
        ("mp3", "x.mp3", &["-c:a", "libmp3lame", "-b:a", "320k"]),
        ("vorbis", "x.ogg", &["-c:a", "libvorbis", "-q:a", "8"]),
        ("aac", "x.m4a", &["-c:a", "aac", "-b:a", "256k"]),
        ("alac", "alac.m4a", &["-c:a", "alac"]),
        ("aiff", "x.aiff", &["-c:a", "pcm_s16be"]),
        ("wav-s24", "s24.wav", &["-c:a", "pcm_s24le"]),
        ("wav-s32", "s32.wav", &["-c:a", "pcm_s32le"]),
        ("wav-f32", "f32.wav", &["-c:a", "pcm_f32le"]),
        ("wav-f64", "f64.wav", &["-c:a", "pcm_f64le"]),
        ("wav-u8", "u8.wav", &["-c:a", "pcm_u8"]),
        (
            "rf64",
            "rf64.wav",
            &["-c:a", "pcm_s16le", "-rf64", "always"],
        ),
    ];
    cases
        .iter()
        .map(|(label, name, codec)| {
            let out = dir.join(name);
            let mut args = vec!["-i", s];
            args.extend_from_slice(codec);
            args.push(out.to_str().unwrap());
            ffmpeg(&args);
            (*label, out)
        })
        .collect()
}

#[test]
fn every_format_measures_like_the_same_signal_as_wav() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("ref.wav");
    programme(48_000, 8.0, 1.0)
        .write_wav(&src, OutputSamples::S16)
        .unwrap();
    let reference = analyze_json(dir.path(), &src)["integrated_lufs"]
        .as_f64()
        .unwrap();
    assert!((-24.0..-12.0).contains(&reference), "{reference}");
    for (label, path) in all_formats(dir.path(), &src) {
        let v = analyze_json(dir.path(), &path);
        let i = v["integrated_lufs"].as_f64().unwrap();
        // The same signal as WAV: what ffmpeg's decoder makes of the file. Lossy encoders
        // change the signal a little, so the original is only a loose reference for them.
        let decoded = dir.path().join(format!("{label}-decoded.wav"));
        ffmpeg(&[
            "-i",
            path.to_str().unwrap(),
            "-c:a",
            "pcm_f32le",
            decoded.to_str().unwrap(),
        ]);
        let same = analyze_json(dir.path(), &decoded)["integrated_lufs"]
            .as_f64()
            .unwrap();
        assert!(
            (i - same).abs() <= 0.1,
            "{label}: {i} LUFS vs {same} LUFS for the same signal as WAV ({v})"
        );
        let lossy = matches!(label, "mp3" | "vorbis" | "aac");
        // 8-bit quantisation noise adds a little energy of its own.
        let tol = if lossy || label == "wav-u8" { 0.3 } else { 0.1 };
        assert!(
            (i - reference).abs() <= tol,
            "{label}: {i} LUFS vs {reference} LUFS for the original ({v})"
        );
        assert_eq!(v["rate"], 48_000, "{label}");
        assert_eq!(v["channels"], 2, "{label}");
        let d = v["duration_s"].as_f64().unwrap();
        // symphonia does not apply MP4 edit lists: AAC keeps its encoder priming (1024
        // frames) and end padding.
        let slack = if label == "aac" { 0.05 } else { 0.01 };
        assert!((d - 8.0).abs() < slack, "{label}: {d} s");
    }
}

/// Overwrites bytes `[from, to)` of a file with pseudo-random ones.
fn scramble(path: &Path, from: f64, to: f64) {
    let mut b = std::fs::read(path).unwrap();
    let (a, z) = (
        (b.len() as f64 * from) as usize,
        (b.len() as f64 * to) as usize,
    );
    let mut x = 0x2545_f491u32;
    for byte in &mut b[a..z] {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        *byte = x as u8;
    }
    std::fs::write(path, b).unwrap();
}

#[test]
fn corrupt_and_truncated_files_fail_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("ref.wav");
    programme(44_100, 6.0, 1.0)
        .write_wav(&src, OutputSamples::S16)
        .unwrap();
    let mut files = all_formats(dir.path(), &src);
    files.push(("wav", src.clone()));
    for (label, path) in files {
        let bytes = std::fs::read(&path).unwrap();
        let cut = dir.path().join(format!(
            "cut-{}",
            path.file_name().unwrap().to_str().unwrap()
        ));
        std::fs::write(&cut, &bytes[..bytes.len() * 6 / 10]).unwrap();
        let bad = dir.path().join(format!(
            "bad-{}",
            path.file_name().unwrap().to_str().unwrap()
        ));
        std::fs::write(&bad, &bytes).unwrap();
        // Compressed streams have checksums and structure to find damage with; PCM has none,
        // so its damage is to the header.
        let pcm = label.starts_with("wav") || label == "rf64" || label == "aiff";
        if pcm {
            let len = bytes.len() as f64;
            scramble(&bad, 0.0, 40.0 / len);
        } else {
            scramble(&bad, 0.3, 0.5);
        }
        let head_only = dir.path().join(format!(
            "head-{}",
            path.file_name().unwrap().to_str().unwrap()
        ));
        std::fs::write(&head_only, &bytes[..bytes.len().min(200)]).unwrap();
        for (what, file) in [
            ("truncated", &cut),
            ("scrambled", &bad),
            ("header only", &head_only),
        ] {
            for cmd in ["analyze", "render"] {
                let out_file = dir.path().join("o.wav");
                let mut args = vec![cmd, file.to_str().unwrap()];
                if cmd == "render" {
                    args.push(out_file.to_str().unwrap());
                }
                let out = headroom(dir.path(), &args);
                let err = text(&out.stderr);
                assert!(!err.contains("panicked"), "{label} {what} {cmd}: {err}");
                assert_eq!(out.status.code(), Some(1), "{label} {what} {cmd}: {err}");
                assert!(
                    err.contains(file.file_name().unwrap().to_str().unwrap()),
                    "{label} {what} {cmd}: the error does not name the file: {err}"
                );
                assert!(
                    !out_file.exists(),
                    "{label} {what}: a failed render left output"
                );
            }
        }
    }
    // Not audio at all, whatever the name says.
    for name in ["words.mp3", "words.flac", "words.m4a", "empty.ogg"] {
        let p = dir.path().join(name);
        std::fs::write(
            &p,
            if name.starts_with("empty") {
                ""
            } else {
                "just some words, no audio"
            },
        )
        .unwrap();
        let out = headroom(dir.path(), &["analyze", p.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(1), "{name}");
        assert!(
            text(&out.stderr).contains(name),
            "{name}: {}",
            text(&out.stderr)
        );
    }
}

/// Expected `headroom analyze .` over the three files of `album_table_is_stable`.
const ALBUM_TABLE: &str = "\
INTEGRATED     LRA   MAX M   MAX S  TRUE PEAK  SAMPLE PEAK  FILE
      LUFS      LU    LUFS    LUFS       dBTP         dBFS
     -20.0     0.0   -20.0   -20.0      -20.0        -20.0  ./a-loud.wav
     -30.0     0.0   -30.0   -30.0      -30.0        -30.0  ./b-quiet.flac
         —     0.0       —       —       -inf         -inf  ./c-silent.wav
     -22.6    10.0   -20.0   -20.0      -20.0        -20.0  ALBUM (3 files, 15.0 s)
";

/// A 1 kHz stereo sine, peak `peak_db` dBFS, at 48 kHz.
fn tone(peak_db: f64, secs: f64) -> Audio {
    let amp = 10f64.powf(peak_db / 20.0);
    let n = (secs * 48_000.0) as usize;
    let samples = (0..n)
        .flat_map(|i| {
            let v =
                (amp * (2.0 * std::f64::consts::PI * 1000.0 * i as f64 / 48_000.0).sin()) as f32;
            [v, v]
        })
        .collect();
    Audio {
        rate: 48_000,
        channels: 2,
        samples,
    }
}

#[test]
fn album_table_is_stable() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    tone(-20.0, 5.0).write(&d.join("a-loud.wav")).unwrap();
    tone(-30.0, 5.0).write(&d.join("q.wav")).unwrap();
    ffmpeg(&[
        "-i",
        d.join("q.wav").to_str().unwrap(),
        "-sample_fmt",
        "s32",
        d.join("b-quiet.flac").to_str().unwrap(),
    ]);
    std::fs::remove_file(d.join("q.wav")).unwrap();
    tone(-200.0, 5.0).write(&d.join("c-silent.wav")).unwrap();
    std::fs::write(d.join("notes.txt"), "not audio, skipped by the folder walk").unwrap();
    for jobs in ["1", "2"] {
        let out = headroom(d, &["analyze", "--jobs", jobs, "."]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        assert_eq!(text(&out.stdout), ALBUM_TABLE, "--jobs {jobs}");
    }
    // JSON: one object per file, then the album.
    let out = headroom(d, &["--json", "analyze", "."]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let lines: Vec<serde_json::Value> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 4);
    assert_eq!(lines[1]["file"], "./b-quiet.flac");
    assert_eq!(lines[1]["codec"], "FLAC");
    assert_eq!(lines[3]["album"]["files"], 3);
    let album_i = lines[3]["album"]["integrated_lufs"].as_f64().unwrap();
    // Two equally long files 10 LU apart: 10·log10((10^-2 + 10^-3) / 2) = -22.6 LUFS.
    assert!((album_i + 22.596).abs() < 0.02, "{album_i}");
}

#[test]
fn a_bad_file_among_many_is_reported_and_the_rest_measured() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    tone(-20.0, 2.0).write(&d.join("a.wav")).unwrap();
    std::fs::write(d.join("b.wav"), "RIFF nonsense").unwrap();
    tone(-20.0, 2.0).write(&d.join("c.wav")).unwrap();
    let out = headroom(d, &["--json", "analyze", "a.wav", "b.wav", "c.wav"]);
    assert_eq!(out.status.code(), Some(1));
    let lines: Vec<serde_json::Value> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 4, "{}", text(&out.stdout));
    assert_eq!(lines[1]["file"], "b.wav");
    assert!(lines[1]["error"].as_str().unwrap().contains("b.wav"));
    assert_eq!(lines[3]["album"]["files"], 2);
    assert!(text(&out.stderr).contains("b.wav"));
}

#[test]
fn other_rates_are_measured_and_levelled_at_their_own_rate() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mut results = Vec::new();
    for rate in [44_100u32, 48_000, 96_000] {
        let input = d.join(format!("in{rate}.wav"));
        let output = d.join(format!("out{rate}.wav"));
        // A quiet programme (about −34 LUFS) the chain brings up towards its target.
        programme(rate, 30.0, 0.15)
            .write_wav(&input, OutputSamples::S24)
            .unwrap();
        let out = headroom(
            d,
            &[
                "--json",
                "render",
                input.to_str().unwrap(),
                output.to_str().unwrap(),
            ],
        );
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v["rate"], rate);
        assert_eq!(v["samples"], "s24");
        let before = v["before"]["integrated_lufs"].as_f64().unwrap();
        let after = v["after"]["integrated_lufs"].as_f64().unwrap();
        let tp = v["after"]["true_peak_dbtp"].as_f64().unwrap();
        // The file on disk says the same as the summary.
        let back = analyze_json(d, &output);
        assert!((back["integrated_lufs"].as_f64().unwrap() - after).abs() < 0.05);
        assert_eq!(back["rate"], rate);
        assert!(after > before + 10.0, "{rate}: {before} -> {after}");
        // The limiter's ceiling (-1 dBTP) holds at every rate (Tech 3341 true-peak tolerance).
        assert!(tp <= -0.8, "{rate}: true peak {tp}");
        results.push((rate, before, after));
    }
    // The same programme is levelled the same at each rate.
    for &(rate, before, after) in &results {
        assert!(
            (before - results[1].1).abs() < 0.1,
            "{rate}: input {before}"
        );
        assert!(
            (after - results[1].2).abs() < 0.5,
            "{rate}: {after} vs {} at 48 kHz",
            results[1].2
        );
    }
}

#[test]
fn render_keeps_format_and_tags_and_honours_format() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let wav = d.join("src.wav");
    programme(48_000, 3.0, 1.0)
        .write_wav(&wav, OutputSamples::S24)
        .unwrap();
    let tagged = d.join("song.flac");
    ffmpeg(&[
        "-i",
        wav.to_str().unwrap(),
        "-sample_fmt",
        "s32",
        "-metadata",
        "title=A Song",
        "-metadata",
        "artist=Some Band",
        "-metadata",
        "REPLAYGAIN_TRACK_GAIN=-6.00 dB",
        tagged.to_str().unwrap(),
    ]);
    let mp3 = d.join("song2.mp3");
    ffmpeg(&[
        "-i",
        wav.to_str().unwrap(),
        "-metadata",
        "title=Lossy",
        mp3.to_str().unwrap(),
    ]);
    let outdir = d.join("out");
    let out = headroom(
        d,
        &[
            "render",
            "-q",
            tagged.to_str().unwrap(),
            mp3.to_str().unwrap(),
            wav.to_str().unwrap(),
            "-o",
            outdir.to_str().unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        out.stdout.is_empty(),
        "--quiet printed {}",
        text(&out.stdout)
    );
    // FLAC in, 24-bit FLAC out, tags kept, the stale ReplayGain gain dropped.
    let f = audio::open(&outdir.join("song.flac")).unwrap();
    assert_eq!(f.info().format, audio::SampleFormat::Int(24));
    let tags: Vec<(String, String)> = f
        .info()
        .tags
        .iter()
        .map(|t| (t.key.clone(), t.value.clone()))
        .collect();
    assert!(
        tags.contains(&("TITLE".into(), "A Song".into())),
        "{tags:?}"
    );
    assert!(
        tags.contains(&("ARTIST".into(), "Some Band".into())),
        "{tags:?}"
    );
    assert!(
        !tags.iter().any(|(k, _)| k.starts_with("REPLAYGAIN")),
        "{tags:?}"
    );
    // MP3 in: FLAC out (lossless, 24-bit), title kept.
    let m = audio::open(&outdir.join("song2.flac")).unwrap();
    assert_eq!(m.info().format, audio::SampleFormat::Int(24));
    assert!(m
        .info()
        .tags
        .iter()
        .any(|t| t.key == "TITLE" && t.value == "Lossy"));
    // WAV in: WAV out, 24-bit kept.
    let w = audio::open(&outdir.join("src.wav")).unwrap();
    assert_eq!(w.info().format, audio::SampleFormat::Int(24));

    // --format picks the container and the sample format.
    let o16 = d.join("o16.flac");
    let out = headroom(
        d,
        &[
            "render",
            "-q",
            wav.to_str().unwrap(),
            o16.to_str().unwrap(),
            "--format",
            "s16",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        audio::open(&o16).unwrap().info().format,
        audio::SampleFormat::Int(16)
    );
    let of = d.join("of.wav");
    let out = headroom(
        d,
        &[
            "render",
            "-q",
            tagged.to_str().unwrap(),
            of.to_str().unwrap(),
            "--format",
            "f32",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        audio::open(&of).unwrap().info().format,
        audio::SampleFormat::Float(32)
    );
    for bad in ["flac,f32", "wav,flac", "s16,s24"] {
        let out = headroom(
            d,
            &[
                "render",
                wav.to_str().unwrap(),
                d.join("x.flac").to_str().unwrap(),
                "--format",
                bad,
            ],
        );
        assert_eq!(out.status.code(), Some(2), "{bad}: {}", text(&out.stderr));
    }
    let out = headroom(
        d,
        &[
            "render",
            wav.to_str().unwrap(),
            d.join("x.ogg").to_str().unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("--format"),
        "{}",
        text(&out.stderr)
    );
}

// ---- Regressions: output path, interrupted render, 24-in-32, shared input checks, RF64 ----

#[test]
fn output_that_is_the_input_is_refused_unless_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let x = d.join("x.wav");
    tone(-30.0, 2.0).write_wav(&x, OutputSamples::S16).unwrap();
    let original = std::fs::read(&x).unwrap();
    let link = d.join("link.wav");
    std::fs::hard_link(&x, &link).unwrap();
    for out_path in [&x, &link] {
        let out = headroom(
            d,
            &["render", x.to_str().unwrap(), out_path.to_str().unwrap()],
        );
        assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
        assert!(
            text(&out.stderr).contains("--in-place"),
            "{}",
            text(&out.stderr)
        );
        assert_eq!(
            std::fs::read(&x).unwrap(),
            original,
            "the input was changed"
        );
    }
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&x, std::fs::Permissions::from_mode(0o600)).unwrap();
    let out = headroom(d, &["render", "-q", "--in-place", x.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let after = Audio::read(&x).unwrap();
    assert_eq!(after.frames(), 96_000);
    assert!(after.peak_db() > -25.0, "not levelled: {}", after.peak_db());
    let mode = std::fs::metadata(&x).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "the replaced file lost its permissions");
    // Through a symlink the file it points to is rendered and the link stays a link.
    let sym = d.join("sym.wav");
    std::os::unix::fs::symlink(&x, &sym).unwrap();
    let out = headroom(d, &["render", "-q", "--in-place", sym.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(std::fs::symlink_metadata(&sym)
        .unwrap()
        .file_type()
        .is_symlink());
    assert_eq!(Audio::read(&x).unwrap().frames(), 96_000);
    let leftovers: Vec<_> = std::fs::read_dir(d)
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().contains("partial"))
        .collect();
    assert!(leftovers.is_empty());
}

#[test]
fn fifo_output_is_written_as_a_stream_and_stays_a_fifo() {
    use std::os::unix::fs::FileTypeExt;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let x = d.join("x.wav");
    tone(-20.0, 1.0).write_wav(&x, OutputSamples::S16).unwrap();
    let fifo = d.join("pipe");
    let st = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(st.success());
    let reader = {
        let fifo = fifo.clone();
        std::thread::spawn(move || std::fs::read(&fifo).unwrap())
    };
    let out = headroom(
        d,
        &["render", "-q", x.to_str().unwrap(), fifo.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let bytes = reader.join().unwrap();
    assert!(
        std::fs::metadata(&fifo).unwrap().file_type().is_fifo(),
        "the FIFO was replaced"
    );
    // What came through the pipe is a complete WAV stream with exact lengths.
    let copy = d.join("copy.wav");
    std::fs::write(&copy, &bytes).unwrap();
    let a = Audio::read(&copy).unwrap();
    assert_eq!(a.frames(), 48_000);
}

/// A WAV header for `frames` of 16-bit stereo at 48 kHz with the data made sparse.
fn sparse_wav(path: &Path, frames: u64) {
    let data = frames * 4;
    let mut h = Vec::new();
    h.extend_from_slice(b"RIFF");
    h.extend_from_slice(&((36 + data) as u32).to_le_bytes());
    h.extend_from_slice(b"WAVEfmt ");
    h.extend_from_slice(&16u32.to_le_bytes());
    h.extend_from_slice(&1u16.to_le_bytes());
    h.extend_from_slice(&2u16.to_le_bytes());
    h.extend_from_slice(&48_000u32.to_le_bytes());
    h.extend_from_slice(&(48_000u32 * 4).to_le_bytes());
    h.extend_from_slice(&4u16.to_le_bytes());
    h.extend_from_slice(&16u16.to_le_bytes());
    h.extend_from_slice(b"data");
    h.extend_from_slice(&(data as u32).to_le_bytes());
    std::fs::write(path, &h).unwrap();
    let f = std::fs::OpenOptions::new().write(true).open(path).unwrap();
    f.set_len(h.len() as u64 + data).unwrap();
}

#[test]
fn interrupted_render_leaves_no_partial_file() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let input = d.join("long.wav");
    // Three hours of (sparse, silent) audio: far longer than the test waits.
    sparse_wav(&input, 3 * 3600 * 48_000);
    for (sig, code) in [(libc::SIGINT, 130), (libc::SIGTERM, 143)] {
        let output = d.join("out.wav");
        let mut child = Command::new(BIN)
            .args([
                "render",
                "-q",
                input.to_str().unwrap(),
                output.to_str().unwrap(),
            ])
            .current_dir(d)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let partial = d.join(format!(".out.wav.{}.partial", child.id()));
        // Ready when the render has written audio to its partial file.
        let start = Instant::now();
        while std::fs::metadata(&partial).map_or(0, |m| m.len()) < 1 << 20 {
            assert!(
                start.elapsed() < Duration::from_secs(120),
                "render never started writing"
            );
            assert!(child.try_wait().unwrap().is_none(), "render ended early");
            std::thread::sleep(Duration::from_millis(20));
        }
        // SAFETY: kill(2) with a live child pid and a valid signal number.
        unsafe { libc::kill(child.id() as i32, sig) };
        let out = child.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(code), "{}", text(&out.stderr));
        assert!(
            text(&out.stderr).contains("interrupted"),
            "{}",
            text(&out.stderr)
        );
        assert!(!partial.exists(), "the partial file was left behind");
        assert!(!output.exists());
    }
}

#[test]
fn extensible_24_in_32_measures_like_24_bit() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // A -20 dBFS 1 kHz mono sine, 3 s, as a plain 24-bit WAV and as 24-in-32 EXTENSIBLE.
    let n = 3 * 48_000;
    let vals: Vec<i32> = (0..n)
        .map(|i| {
            (0.1 * (2.0 * std::f64::consts::PI * 1000.0 * i as f64 / 48_000.0).sin() * 8_388_607.0)
                as i32
        })
        .collect();
    let mut b = Vec::new();
    b.extend_from_slice(b"RIFF");
    b.extend_from_slice(&(4 + 8 + 40 + 8 + n as u32 * 4).to_le_bytes());
    b.extend_from_slice(b"WAVEfmt ");
    b.extend_from_slice(&40u32.to_le_bytes());
    b.extend_from_slice(&0xFFFEu16.to_le_bytes());
    b.extend_from_slice(&1u16.to_le_bytes());
    b.extend_from_slice(&48_000u32.to_le_bytes());
    b.extend_from_slice(&(48_000u32 * 4).to_le_bytes());
    b.extend_from_slice(&4u16.to_le_bytes());
    b.extend_from_slice(&32u16.to_le_bytes());
    b.extend_from_slice(&22u16.to_le_bytes());
    b.extend_from_slice(&24u16.to_le_bytes());
    b.extend_from_slice(&4u32.to_le_bytes());
    b.extend_from_slice(&[
        1, 0, 0, 0, 0, 0, 0x10, 0, 0x80, 0, 0, 0xAA, 0, 0x38, 0x9B, 0x71,
    ]);
    b.extend_from_slice(b"data");
    b.extend_from_slice(&(n as u32 * 4).to_le_bytes());
    for v in &vals {
        b.extend_from_slice(&(v << 8).to_le_bytes());
    }
    let ext = d.join("ext.wav");
    std::fs::write(&ext, b).unwrap();
    let plain = d.join("plain.wav");
    Audio {
        rate: 48_000,
        channels: 1,
        samples: vals.iter().map(|&v| v as f32 / 8_388_608.0).collect(),
    }
    .write_wav(&plain, OutputSamples::F32)
    .unwrap();
    let a = analyze_json(d, &ext);
    let p = analyze_json(d, &plain);
    let (ai, pi) = (
        a["integrated_lufs"].as_f64().unwrap(),
        p["integrated_lufs"].as_f64().unwrap(),
    );
    // A -20 dBFS sine in one channel reads about -23 LUFS.
    assert!((pi + 23.0).abs() < 0.2, "{pi}");
    assert!(
        (ai - pi).abs() < 0.01,
        "24-in-32 reads {ai} LUFS, the same signal {pi} LUFS"
    );
    assert_eq!(a["format"], "24-bit");
}

/// A small WAV whose header declares `rate` and `channels` (and holds two frames of zeros).
fn hostile_wav(path: &Path, rate: u32, channels: u16) {
    let data = 8 * u32::from(channels);
    let mut h = Vec::new();
    h.extend_from_slice(b"RIFF");
    h.extend_from_slice(&(36u32 + data).to_le_bytes());
    h.extend_from_slice(b"WAVEfmt ");
    h.extend_from_slice(&16u32.to_le_bytes());
    h.extend_from_slice(&3u16.to_le_bytes());
    h.extend_from_slice(&channels.to_le_bytes());
    h.extend_from_slice(&rate.to_le_bytes());
    h.extend_from_slice(&rate.wrapping_mul(4 * u32::from(channels)).to_le_bytes());
    h.extend_from_slice(&(4 * channels).to_le_bytes());
    h.extend_from_slice(&32u16.to_le_bytes());
    h.extend_from_slice(b"data");
    h.extend_from_slice(&data.to_le_bytes());
    h.resize(h.len() + data as usize, 0);
    std::fs::write(path, h).unwrap();
}

#[test]
fn render_and_analyze_share_the_input_checks() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for (name, rate, ch, needle) in [
        ("ghz.wav", 4_000_000_000u32, 1u16, "sample rate"),
        ("slow.wav", 100, 1, "sample rate"),
        ("wide.wav", 48_000, 16_000, "channel count"),
    ] {
        let p = d.join(name);
        hostile_wav(&p, rate, ch);
        let out_file = d.join("o.wav");
        let a = headroom(d, &["analyze", p.to_str().unwrap()]);
        let r = headroom(
            d,
            &["render", p.to_str().unwrap(), out_file.to_str().unwrap()],
        );
        for (cmd, out) in [("analyze", &a), ("render", &r)] {
            assert_eq!(out.status.code(), Some(1), "{name} {cmd}");
            let err = text(&out.stderr);
            assert!(
                err.contains(name) && err.contains(needle),
                "{name} {cmd}: {err}"
            );
        }
        assert_eq!(
            text(&a.stderr),
            text(&r.stderr),
            "{name}: the commands disagree"
        );
        assert!(!out_file.exists());
    }
}

#[test]
fn rf64_lengths_past_4_gib_are_read() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("big.wav");
    // An RF64 header for 5 GiB of 16-bit stereo, the data sparse.
    let frames: u64 = 5 << 28;
    let data = frames * 4;
    let mut h = Vec::new();
    h.extend_from_slice(b"RF64");
    h.extend_from_slice(&u32::MAX.to_le_bytes());
    h.extend_from_slice(b"WAVEds64");
    h.extend_from_slice(&28u32.to_le_bytes());
    h.extend_from_slice(&(data + 72).to_le_bytes());
    h.extend_from_slice(&data.to_le_bytes());
    h.extend_from_slice(&frames.to_le_bytes());
    h.extend_from_slice(&0u32.to_le_bytes());
    h.extend_from_slice(b"fmt ");
    h.extend_from_slice(&16u32.to_le_bytes());
    h.extend_from_slice(&1u16.to_le_bytes());
    h.extend_from_slice(&2u16.to_le_bytes());
    h.extend_from_slice(&48_000u32.to_le_bytes());
    h.extend_from_slice(&(48_000u32 * 4).to_le_bytes());
    h.extend_from_slice(&4u16.to_le_bytes());
    h.extend_from_slice(&16u16.to_le_bytes());
    h.extend_from_slice(b"data");
    h.extend_from_slice(&u32::MAX.to_le_bytes());
    std::fs::write(&p, &h).unwrap();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&p)
        .unwrap()
        .set_len(h.len() as u64 + data)
        .unwrap();
    let mut dec = audio::open(&p).unwrap();
    assert_eq!(dec.info().frames, Some(frames));
    let mut buf = vec![1.0f32; 4096];
    assert_eq!(dec.read(&mut buf).unwrap(), 4096);
    assert!(buf.iter().all(|&s| s == 0.0));
}

/// Runs headroom and returns its exit code and peak resident memory in KiB.
// The child is reaped by `wait4`, which also reports its peak memory.
#[allow(clippy::zombie_processes)]
fn run_measuring_rss(dir: &Path, args: &[&str]) -> (i32, i64) {
    let child = Command::new(BIN)
        .args(args)
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut status = 0;
    // SAFETY: zeroed rusage is a valid value for wait4 to fill.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: waits for our own child (not reaped elsewhere) with valid out-pointers.
    let pid = unsafe { libc::wait4(child.id() as i32, &mut status, 0, &mut usage) };
    assert_eq!(pid, child.id() as i32);
    (libc::WEXITSTATUS(status), usage.ru_maxrss)
}

#[test]
fn memory_stays_bounded_whatever_the_length() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let short = d.join("short.wav");
    let long = d.join("long.wav");
    // 10 s and 1 h of (sparse, silent) 16-bit stereo: 1.9 MB and 691 MB.
    sparse_wav(&short, 10 * 48_000);
    sparse_wav(&long, 3600 * 48_000);
    let (rc, small) = run_measuring_rss(d, &["analyze", "short.wav"]);
    assert_eq!(rc, 0);
    let (rc, big) = run_measuring_rss(d, &["analyze", "long.wav"]);
    assert_eq!(rc, 0);
    // Streaming: 360 times the audio, the same memory (a few MB of slack for the allocator).
    assert!(
        big < small + 8 * 1024,
        "analyze: {small} KiB for 10 s, {big} KiB for 2 h"
    );
    // render streams too: into a FIFO drained by a thread, so nothing reaches the disk.
    let fifo = d.join("pipe");
    assert!(Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    let drain = {
        let fifo = fifo.clone();
        std::thread::spawn(move || {
            let mut f = std::fs::File::open(&fifo).unwrap();
            std::io::copy(&mut f, &mut std::io::sink()).unwrap()
        })
    };
    let (rc, render) = run_measuring_rss(d, &["render", "-q", "long.wav", "pipe"]);
    assert_eq!(rc, 0);
    let bytes = drain.join().unwrap();
    assert!(bytes > 3600 * 48_000 * 4, "{bytes} bytes came through");
    assert!(render < 64 * 1024, "render of 1 h: {render} KiB");
}
