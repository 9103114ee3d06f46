//! `render`'s output handling: output == input, FIFOs, interrupts, shared input checks,
//! bounded memory.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use headroom_cli::audio::{Audio, OutputSamples};

use crate::support::audio::{
    drained_fifo, fmt_chunk, hostile_wav, programme, run_measuring_rss, sparse_wav, tone,
    write_wav_i16,
};
use crate::support::{assert_fails, headroom, in_private_dirs, text, BIN};

/// `--in-place a.wav out.wav`: out.wav was taken for a second file to replace, a.wav was
/// rewritten and only then out.wav failed. A missing argument is refused before anything.
#[test]
fn in_place_with_a_missing_argument_renders_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let a = d.join("a.wav");
    tone(-30.0, 1.0).write_wav(&a, OutputSamples::S16).unwrap();
    let original = std::fs::read(&a).unwrap();
    let out_wav = d.join("out.wav");
    let out = headroom(
        d,
        &[
            "render",
            "-q",
            "--in-place",
            a.to_str().unwrap(),
            out_wav.to_str().unwrap(),
        ],
    );
    assert_fails(
        &out,
        1,
        "no such file; with --in-place every argument is a file to replace",
    );
    assert_eq!(std::fs::read(&a).unwrap(), original, "a.wav was rewritten");
    assert!(!out_wav.exists());
}

/// A folder with no audio in it is named, as `analyze` names it.
#[test]
fn an_empty_folder_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let empty = d.join("empty");
    std::fs::create_dir(&empty).unwrap();
    let out = headroom(
        d,
        &[
            "render",
            empty.to_str().unwrap(),
            "-o",
            d.join("o").to_str().unwrap(),
        ],
    );
    assert_fails(
        &out,
        1,
        &format!("no audio files to render in {}", empty.display()),
    );
}

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
        assert_fails(&out, 1, "--in-place");
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
fn a_file_the_user_may_not_write_is_not_replaced_and_a_replaced_file_keeps_its_owner() {
    // The render replaces its output by a rename, which the directory's permissions allow
    // even for a file the user may not write: a read-only file of another user was
    // replaced (and then owned by the user who rendered it). It is refused now, as a
    // shell's `>` would refuse it.
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o777)).unwrap();
    let x = d.join("x.wav");
    tone(-30.0, 1.0).write_wav(&x, OutputSamples::S16).unwrap();
    std::fs::set_permissions(&x, std::fs::Permissions::from_mode(0o444)).unwrap();
    let original = std::fs::read(&x).unwrap();
    // SAFETY: geteuid has no preconditions and cannot fail.
    let root = unsafe { libc::geteuid() } == 0;
    let out = if root {
        // As an unprivileged user (root may write any file), from a copy of the binary it
        // can reach wherever the build lies.
        let bin = d.join("headroom");
        std::fs::copy(BIN, &bin).unwrap();
        std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
        in_private_dirs(
            Command::new("setpriv")
                .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
                .arg(&bin)
                .args(["render", "-q", "--in-place"])
                .arg(&x),
            d,
        )
        .output()
        .expect("run setpriv")
    } else {
        headroom(d, &["render", "-q", "--in-place", x.to_str().unwrap()])
    };
    assert_fails(&out, 1, "cannot write");
    assert!(
        text(&out.stderr).contains("ermission denied"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(
        std::fs::read(&x).unwrap(),
        original,
        "the file was replaced"
    );
    if root {
        // A file of another user that root renders in place stays that user's.
        std::fs::set_permissions(&x, std::fs::Permissions::from_mode(0o640)).unwrap();
        std::os::unix::fs::chown(&x, Some(65534), Some(65534)).unwrap();
        let out = headroom(d, &["render", "-q", "--in-place", x.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        let meta = std::fs::metadata(&x).unwrap();
        assert_ne!(std::fs::read(&x).unwrap(), original, "not rendered");
        assert_eq!(
            (meta.uid(), meta.gid()),
            (65534, 65534),
            "the owner changed"
        );
        assert_eq!(meta.permissions().mode() & 0o777, 0o640);
    }
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

#[test]
fn a_character_device_output_is_written_and_stays_a_device() {
    use std::os::unix::fs::FileTypeExt;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let x = d.join("x.wav");
    tone(-20.0, 1.0).write_wav(&x, OutputSamples::S16).unwrap();
    let out = headroom(d, &["render", "-q", x.to_str().unwrap(), "/dev/null"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let meta = std::fs::metadata("/dev/null").unwrap();
    assert!(
        meta.file_type().is_char_device(),
        "/dev/null was replaced by a regular file"
    );
    let leftovers: Vec<_> = std::fs::read_dir("/dev")
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().starts_with(".null."))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    // A block device or a socket is refused, not replaced.
    let sock = d.join("sock.wav");
    let _listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
    let out = headroom(
        d,
        &["render", "-q", x.to_str().unwrap(), sock.to_str().unwrap()],
    );
    assert_fails(&out, 1, "sock");
    assert!(std::fs::metadata(&sock).unwrap().file_type().is_socket());
}

#[test]
fn an_output_past_4_gib_is_rf64_with_exact_lengths() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // 3.1 hours of sparse 16-bit stereo (2.1 GB on paper, nothing on disk) rendered as
    // 32-bit float: 4.3 GB of WAV, more than a RIFF length field holds. Written into a FIFO
    // drained by a thread that keeps the header and counts the bytes, so nothing reaches
    // the disk. (A seekable output reserves the `ds64` room and is promoted when finished:
    // the `audio::wav` unit tests check that on a 4 GiB counting sink.)
    let frames: u64 = 540_000_000;
    let input = d.join("long.wav");
    sparse_wav(&input, frames);
    let fifo = d.join("pipe");
    let drain = drained_fifo(&fifo, 128);
    let out = headroom(
        d,
        &[
            "render",
            "-q",
            "--format",
            "f32",
            input.to_str().unwrap(),
            fifo.to_str().unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let (h, total) = drain.join().unwrap();
    let u32_at = |i: usize| u32::from_le_bytes(h[i..i + 4].try_into().unwrap());
    let u64_at = |i: usize| u64::from_le_bytes(h[i..i + 8].try_into().unwrap());
    let data_bytes = frames * 2 * 4;
    assert!(total > 1 << 32, "only {total} bytes written");
    assert_eq!(&h[0..4], b"RF64", "{:?}", &h[0..16]);
    assert_eq!(u32_at(4), u32::MAX);
    assert_eq!(&h[8..16], b"WAVEds64");
    assert_eq!(u64_at(20), total - 8, "ds64 RIFF size");
    assert_eq!(u64_at(28), data_bytes, "ds64 data size");
    assert_eq!(u64_at(36), frames, "ds64 sample count");
    // Float's `fact` count is in ds64 too.
    let fact = h.windows(4).position(|w| w == b"fact").unwrap();
    assert_eq!(u32_at(fact + 8), u32::MAX, "fact sample count");
    let data = h.windows(4).position(|w| w == b"data").unwrap();
    assert_eq!(u32_at(data + 4), u32::MAX, "data chunk size");
    assert_eq!(total, (data + 8) as u64 + data_bytes);
}

/// Starts `headroom render -q input output` in `d` and returns it, with its partial file, once
/// it has written audio to that file (1 MiB).
fn render_writing(
    d: &std::path::Path,
    input: &std::path::Path,
    output: &std::path::Path,
) -> (std::process::Child, std::path::PathBuf) {
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
    let name = output.file_name().unwrap().to_str().unwrap();
    let partial = d.join(format!(".{name}.{}.partial", child.id()));
    let start = Instant::now();
    while std::fs::metadata(&partial).map_or(0, |m| m.len()) < 1 << 20 {
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "render never started writing"
        );
        assert!(child.try_wait().unwrap().is_none(), "render ended early");
        std::thread::sleep(Duration::from_millis(20));
    }
    (child, partial)
}

#[test]
fn interrupted_render_leaves_no_partial_file() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let input = d.join("long.wav");
    // Three hours of (sparse, silent) audio: far longer than the test waits.
    sparse_wav(&input, 3 * 3600 * 48_000);
    // SIGHUP too: the terminal or the ssh session the render ran in closed (it was killed
    // by the default action and left its partial file).
    for (sig, code) in [
        (libc::SIGINT, 130),
        (libc::SIGTERM, 143),
        (libc::SIGHUP, 129),
    ] {
        let output = d.join("out.wav");
        let (child, partial) = render_writing(d, &input, &output);
        // SAFETY: kill(2) with a live child pid and a valid signal number.
        unsafe { libc::kill(child.id() as i32, sig) };
        let out = child.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(code), "{}", text(&out.stderr));
        assert!(
            text(&out.stderr).contains("interrupted")
                && text(&out.stderr).contains("the partial output was removed"),
            "{}",
            text(&out.stderr)
        );
        assert!(!partial.exists(), "the partial file was left behind");
        assert!(!output.exists());
    }
    // A render killed outright (SIGKILL) cannot remove its partial file: the next render
    // of that output does, and leaves a running render's alone.
    let output = d.join("out.wav");
    let (mut killed, stale) = render_writing(d, &input, &output);
    killed.kill().unwrap();
    killed.wait().unwrap();
    assert!(stale.exists());
    let live = d.join(format!(".out.wav.{}.partial", std::process::id()));
    std::fs::write(&live, b"a running render's").unwrap();
    let short = d.join("short.wav");
    write_wav_i16(&short, 48_000, 2, 4_800);
    let r = headroom(
        d,
        &[
            "render",
            "-q",
            short.to_str().unwrap(),
            output.to_str().unwrap(),
        ],
    );
    assert_eq!(r.status.code(), Some(0), "{}", text(&r.stderr));
    assert!(
        !stale.exists(),
        "the killed render's partial file is still there"
    );
    assert!(live.exists(), "a running render's partial file was removed");
}

/// Stopped while it waits for a FIFO's reader: nothing was written, and it says so (it
/// said the partial output was removed).
#[test]
fn interrupted_while_waiting_for_a_fifo_reader_says_nothing_was_written() {
    use std::io::{BufRead, Read};
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let input = d.join("in.wav");
    write_wav_i16(&input, 48_000, 2, 4_800);
    let fifo = d.join("out.wav");
    assert!(Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    let mut child = Command::new(BIN)
        .current_dir(d)
        .args([
            "render",
            "-q",
            input.to_str().unwrap(),
            fifo.to_str().unwrap(),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut err = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    err.read_line(&mut line).unwrap();
    assert!(
        line.contains("waiting for a process to read this FIFO"),
        "{line}"
    );
    // SAFETY: kill(2) with a live child pid and a valid signal number.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let mut rest = String::new();
    err.read_to_string(&mut rest).unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130), "{rest}");
    assert!(
        rest.contains("interrupted by SIGINT; nothing was written"),
        "{rest}"
    );
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

/// A float WAV with garbage among the programme — ±1e30, ±∞, NaN, denormals — reads the
/// same in `analyze` as in `render`'s "before": both sanitise as the chain does (non-finite
/// and denormal samples are silence, magnitudes beyond ±1000 are clamped).
#[test]
fn analyze_reads_garbage_samples_as_render_does() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mut samples = programme(48_000, 8.0, 1.0).samples;
    let garbage = [
        1e30f32,
        -1e30,
        f32::INFINITY,
        f32::NEG_INFINITY,
        f32::NAN,
        1e-30,
        5e12,
    ];
    for (i, s) in samples.iter_mut().enumerate().skip(48_000 * 2) {
        if i % 97 == 0 {
            *s = garbage[(i / 97) % garbage.len()];
        }
    }
    let data: Vec<u8> = samples.iter().flat_map(|s| s.to_le_bytes()).collect();
    let mut wav = Vec::new();
    wav.extend_from_slice(b"RIFF");
    wav.extend_from_slice(&(36 + data.len() as u32).to_le_bytes());
    wav.extend_from_slice(b"WAVE");
    wav.extend(fmt_chunk(3, 2, 48_000, 32));
    wav.extend_from_slice(b"data");
    wav.extend_from_slice(&(data.len() as u32).to_le_bytes());
    wav.extend(data);
    let input = d.join("garbage.wav");
    std::fs::write(&input, wav).unwrap();
    let a = headroom(d, &["--json", "analyze", "garbage.wav"]);
    assert_eq!(a.status.code(), Some(0), "{}", text(&a.stderr));
    let a: serde_json::Value = serde_json::from_slice(&a.stdout).unwrap();
    let r = headroom(d, &["--json", "render", "garbage.wav", "out.wav"]);
    assert_eq!(r.status.code(), Some(0), "{}", text(&r.stderr));
    let r: serde_json::Value = serde_json::from_slice(&r.stdout).unwrap();
    let before = &r["before"];
    let (ai, ri) = (
        a["integrated_lufs"].as_f64().unwrap(),
        before["integrated_lufs"].as_f64().unwrap(),
    );
    // Clamped at +60 dBFS, the garbage dominates: far over the programme, far under 1e30's
    // +600 dB. The two meters gate differently fine (0.1 LU bins against 0.01).
    assert!((40.0..60.0).contains(&ai), "analyze {ai} LUFS");
    assert!((ai - ri).abs() < 0.1, "analyze {ai} LUFS, render {ri} LUFS");
    for key in ["true_peak_dbtp", "sample_peak_dbfs"] {
        let (x, y) = (a[key].as_f64().unwrap(), before[key].as_f64().unwrap());
        assert!((x - y).abs() < 1e-9, "{key}: analyze {x}, render {y}");
    }
    assert_eq!(a["sample_peak_dbfs"].as_f64().unwrap(), 60.0);
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
    let drain = drained_fifo(&fifo, 0);
    let (rc, render) = run_measuring_rss(d, &["render", "-q", "long.wav", "pipe"]);
    assert_eq!(rc, 0);
    let (_, bytes) = drain.join().unwrap();
    assert!(bytes > 3600 * 48_000 * 4, "{bytes} bytes came through");
    assert!(render < 64 * 1024, "render of 1 h: {render} KiB");
}

fn mkfifo(path: &std::path::Path) {
    let st = Command::new("mkfifo").arg(path).status().unwrap();
    assert!(st.success());
}

/// A FIFO given as input (or as a profile) is refused at once: opening it does not wait for
/// a writer, and it is never read (a FIFO or `/dev/zero` would hang or grow without end).
#[test]
fn fifos_and_devices_as_input_or_profile_are_refused_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let x = d.join("x.wav");
    tone(-20.0, 1.0).write_wav(&x, OutputSamples::S16).unwrap();
    let fifo = d.join("in.wav");
    mkfifo(&fifo);
    let (f, x, o) = (
        fifo.to_str().unwrap(),
        x.to_str().unwrap(),
        d.join("o.wav").display().to_string(),
    );
    assert_fails(&headroom(d, &["render", f, &o]), 1, "not a regular file");
    assert_fails(&headroom(d, &["analyze", f]), 1, "not a regular file");
    for bad in [f, "/dev/zero"] {
        assert_fails(
            &headroom(d, &["render", x, &o, "--profile", bad]),
            1,
            "not a regular file: refused",
        );
        assert_fails(
            &headroom(d, &["validate", bad]),
            1,
            "not a regular file: refused",
        );
    }
}

/// Rendering into a FIFO that nobody reads yet waits for a reader, says so, and a signal
/// ends the wait (exit 143 for SIGTERM).
#[test]
fn a_fifo_output_without_a_reader_waits_and_a_signal_ends_it() {
    use std::io::{BufRead, BufReader};
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let x = d.join("x.wav");
    tone(-20.0, 1.0).write_wav(&x, OutputSamples::S16).unwrap();
    let fifo = d.join("pipe");
    mkfifo(&fifo);
    let mut child = crate::support::in_private_dirs(
        Command::new(BIN).args(["render", "-q", x.to_str().unwrap(), fifo.to_str().unwrap()]),
        d,
    )
    .stderr(std::process::Stdio::piped())
    .spawn()
    .unwrap();
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    err.read_line(&mut line).unwrap();
    assert!(line.contains("waiting for a process to read"), "{line}");
    let st = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(st.success());
    assert_eq!(child.wait().unwrap().code(), Some(143));
}

/// With the audio on standard output (`/dev/stdout`), the summary goes to standard error:
/// what comes out of the pipe is the WAV stream and nothing else.
#[test]
fn the_summary_goes_to_stderr_when_the_audio_goes_to_stdout() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let x = d.join("x.wav");
    tone(-20.0, 1.0).write_wav(&x, OutputSamples::S16).unwrap();
    let out = headroom(
        d,
        &[
            "render",
            x.to_str().unwrap(),
            "/dev/stdout",
            "--format",
            "wav",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("rendered"),
        "{}",
        text(&out.stderr)
    );
    let copy = d.join("copy.wav");
    std::fs::write(&copy, &out.stdout).unwrap();
    let a = Audio::read(&copy).unwrap();
    assert_eq!(a.frames(), 48_000);
    assert!(!text(&out.stdout).contains("rendered"));
}

/// `/dev/stdout` is a stream whatever standard output is: WAV unless `--format` says
/// otherwise, whether it is a pipe or a file it was redirected to (it was "cannot tell the
/// output format from the name" for a file), and a file is written through standard output
/// from where it stands, never replaced (what was written before stays; no temporary file).
#[test]
fn dev_stdout_is_a_wav_stream_whether_a_pipe_or_a_file() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let x = d.join("x.wav");
    tone(-20.0, 1.0).write_wav(&x, OutputSamples::S16).unwrap();
    let args = ["render", "-q", x.to_str().unwrap(), "/dev/stdout"];
    // A pipe.
    let out = headroom(d, &args);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(&out.stdout[0..4], b"RIFF");
    // A file, with something written before the audio: `(printf HDR; headroom …) > f`.
    for (format, magic) in [(None, b"RIFF"), (Some("flac"), b"fLaC")] {
        let f = d.join("redirected");
        let mut file = std::fs::File::create(&f).unwrap();
        file.write_all(b"HDR").unwrap();
        let mut cmd = Command::new(BIN);
        cmd.args(args);
        if let Some(format) = format {
            cmd.args(["--format", format]);
        }
        let out = crate::support::in_private_dirs(&mut cmd, d)
            .stdout(Stdio::from(file))
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{format:?}: {}",
            text(&out.stderr)
        );
        let bytes = std::fs::read(&f).unwrap();
        assert_eq!(&bytes[0..3], b"HDR", "{format:?}");
        assert_eq!(&bytes[3..7], magic, "{format:?}");
        let copy = d.join(format!("copy.{}", format.unwrap_or("wav")));
        std::fs::write(&copy, &bytes[3..]).unwrap();
        assert_eq!(Audio::read(&copy).unwrap().frames(), 48_000, "{format:?}");
    }
    let mut left: Vec<_> = std::fs::read_dir(d)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    left.sort();
    assert_eq!(left, ["copy.flac", "copy.wav", "redirected", "x.wav"]);
}

/// An output name at the file system's limit (250 bytes, NAME_MAX being 255) renders: the
/// hidden temporary file beside it is shortened to fit, and nothing is left behind.
#[test]
fn an_output_name_near_the_limit_renders() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    tone(-20.0, 1.0)
        .write_wav(&d.join("in.wav"), OutputSamples::S16)
        .unwrap();
    let name = format!("{}.wav", "n".repeat(246));
    assert_eq!(name.len(), 250);
    let out = headroom(d, &["render", "-q", "in.wav", &name]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(Audio::read(&d.join(&name)).unwrap().frames(), 48_000);
    let mut left: Vec<_> = std::fs::read_dir(d)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    left.sort();
    assert_eq!(left, vec!["in.wav".to_string(), name.clone()]);
    // Replacing it goes through the same temporary file.
    let out = headroom(d, &["render", "-q", "in.wav", &name]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
}
