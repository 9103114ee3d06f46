//! Audio fixtures of the offline commands' tests: signals, files ffmpeg makes at test time
//! (installed by `make deps`), hand-made hostile headers, and running `headroom` on them.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use headroom_cli::audio::{Audio, OutputSamples};

use super::{headroom, text, BIN};

/// Runs ffmpeg quietly; a missing ffmpeg is a setup error (`make deps` installs it).
pub fn ffmpeg(args: &[&str]) {
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
pub fn programme(rate: u32, secs: f64, gain: f32) -> Audio {
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
pub fn analyze_json(dir: &Path, file: &Path) -> serde_json::Value {
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
pub fn all_formats(dir: &Path, src: &Path) -> Vec<(&'static str, PathBuf)> {
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

/// Overwrites bytes `[from, to)` of a file with pseudo-random ones.
pub fn scramble(path: &Path, from: f64, to: f64) {
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

/// A 1 kHz stereo sine, peak `peak_db` dBFS, at 48 kHz.
pub fn tone(peak_db: f64, secs: f64) -> Audio {
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

/// A `fmt ` chunk of 16 bytes: `format` (1 PCM, 3 float), `channels`, `rate`, `bits` per
/// sample (the byte rate and block alignment follow from them, wrapping as a hostile header
/// may need).
pub fn fmt_chunk(format: u16, channels: u16, rate: u32, bits: u16) -> Vec<u8> {
    let align = channels.wrapping_mul(bits / 8);
    let mut h = Vec::new();
    h.extend_from_slice(b"fmt ");
    h.extend_from_slice(&16u32.to_le_bytes());
    h.extend_from_slice(&format.to_le_bytes());
    h.extend_from_slice(&channels.to_le_bytes());
    h.extend_from_slice(&rate.to_le_bytes());
    h.extend_from_slice(&rate.wrapping_mul(u32::from(align)).to_le_bytes());
    h.extend_from_slice(&align.to_le_bytes());
    h.extend_from_slice(&bits.to_le_bytes());
    h
}

/// Writes `header` to `path` and extends the file by `data` bytes without writing them (a
/// sparse file: long audio that takes no room on disk).
pub fn sparse_file(path: &Path, header: &[u8], data: u64) {
    std::fs::write(path, header).unwrap();
    let f = std::fs::OpenOptions::new().write(true).open(path).unwrap();
    f.set_len(header.len() as u64 + data).unwrap();
}

/// A WAV header for `frames` of 16-bit stereo at 48 kHz with the data made sparse.
pub fn sparse_wav(path: &Path, frames: u64) {
    let data = frames * 4;
    let mut h = Vec::new();
    h.extend_from_slice(b"RIFF");
    h.extend_from_slice(&((36 + data) as u32).to_le_bytes());
    h.extend_from_slice(b"WAVE");
    h.extend(fmt_chunk(1, 2, 48_000, 16));
    h.extend_from_slice(b"data");
    h.extend_from_slice(&(data as u32).to_le_bytes());
    sparse_file(path, &h, data);
}

/// A small WAV whose header declares `rate` and `channels` (and holds two frames of zeros).
pub fn hostile_wav(path: &Path, rate: u32, channels: u16) {
    let data = 8 * u32::from(channels);
    let mut h = Vec::new();
    h.extend_from_slice(b"RIFF");
    h.extend_from_slice(&(36u32 + data).to_le_bytes());
    h.extend_from_slice(b"WAVE");
    h.extend(fmt_chunk(3, channels, rate, 32));
    h.extend_from_slice(b"data");
    h.extend_from_slice(&data.to_le_bytes());
    h.resize(h.len() + data as usize, 0);
    std::fs::write(path, h).unwrap();
}

/// Makes a FIFO at `path` and starts a thread that reads it to the end: the output of a
/// render goes through without reaching the disk. The thread returns the first `head` bytes
/// and the number of bytes read in all.
pub fn drained_fifo(path: &Path, head: usize) -> std::thread::JoinHandle<(Vec<u8>, u64)> {
    assert!(Command::new("mkfifo").arg(path).status().unwrap().success());
    let path = path.to_path_buf();
    std::thread::spawn(move || {
        use std::io::Read;
        let mut f = std::fs::File::open(&path).unwrap();
        let mut first = vec![0u8; head];
        f.read_exact(&mut first).unwrap();
        let rest = std::io::copy(&mut f, &mut std::io::sink()).unwrap();
        (first, head as u64 + rest)
    })
}

/// Runs headroom and returns its exit code and peak resident memory in KiB.
///
/// The peak is the kernel's high-water mark of the process's own memory (`VmHWM` in
/// `/proc/PID/status`), polled while it runs. (`wait4`'s `ru_maxrss` would not do: a process
/// started from this one inherits the test binary's high-water mark across `exec`.) The
/// mark only grows, so the last reading misses at most the final few milliseconds. A run that
/// ended before the first reading (a short one on a loaded machine: a finished process has no
/// `VmHWM`) is run again, up to 10 times.
pub fn run_measuring_rss(dir: &Path, args: &[&str]) -> (i32, u64) {
    for _ in 0..10 {
        let (rc, peak) = run_measuring_rss_once(dir, args);
        if peak > 0 {
            return (rc, peak);
        }
    }
    panic!("headroom {args:?} ended before its memory could be read, 10 times");
}

fn run_measuring_rss_once(dir: &Path, args: &[&str]) -> (i32, u64) {
    let mut child = Command::new(BIN)
        .args(args)
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let status_file = format!("/proc/{}/status", child.id());
    let mut peak = 0;
    loop {
        if let Ok(s) = std::fs::read_to_string(&status_file) {
            let hwm = s
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok());
            peak = peak.max(hwm.unwrap_or(0));
        }
        if let Some(status) = child.try_wait().unwrap() {
            return (status.code().unwrap_or(-1), peak);
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

/// Writes a 16-bit WAV of a −12 dBFS 997 Hz sine on every channel (`frames` long).
pub fn write_wav_i16(path: &Path, rate: u32, channels: u16, frames: usize) {
    let ch = usize::from(channels);
    let mut samples = Vec::with_capacity(frames * ch);
    for i in 0..frames {
        let v =
            (0.25 * (2.0 * std::f64::consts::PI * 997.0 * i as f64 / f64::from(rate)).sin()) as f32;
        samples.extend(std::iter::repeat_n(v, ch));
    }
    Audio {
        rate,
        channels: ch,
        samples,
    }
    .write_wav(path, OutputSamples::S16)
    .unwrap();
}

pub use headroom_tests::audio::true_peak_reference_db;

/// The true peak ffmpeg's `ebur128=peak=true` reports for `file` (its summary's one decimal).
pub fn ffmpeg_true_peak_db(file: &Path) -> f64 {
    let out = Command::new("ffmpeg")
        .args(["-nostdin", "-nostats", "-hide_banner", "-i"])
        .arg(file)
        .args(["-af", "ebur128=peak=true", "-f", "null", "-"])
        .output()
        .expect("ffmpeg not found: run `make deps` (it installs ffmpeg)");
    let err = String::from_utf8_lossy(&out.stderr);
    let summary = err.rsplit("True peak:").next().unwrap_or_default();
    summary
        .lines()
        .find_map(|l| l.trim().strip_prefix("Peak:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no true peak in ffmpeg's output: {err}"))
}
