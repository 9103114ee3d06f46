//! Offline speed against ffmpeg, measured in the same run (`make bench`, or
//! `cargo bench -p headroom-cli --bench offline`). Prints, for a 10-minute stereo 16-bit
//! 48 kHz WAV, the time of `headroom analyze` and `headroom render` as a ratio of
//! `ffmpeg -af ebur128=peak=true` (target ≤ 0.25×), and for a folder of 20 FLAC tracks the
//! files per second of `headroom analyze` on one and on all cores against ffmpeg's ebur128 on
//! the same files (target: all cores ≥ 1.5× one core on 2 cores). Wall-clock and CPU times
//! are both shown: on a machine busy with other work the wall-clock ratio is the noisier one.
//! Fixtures are made with ffmpeg (`make deps` installs it). Nothing here asserts a timing.
//!
//! Run without `--bench` (`cargo test -p headroom-cli --bench offline`, as `make test` does)
//! it is a smoke run: the same commands once each on a 20-second file and a folder of three
//! 5-second tracks, with the debug build, checking that every command succeeds and that the
//! render has the input's length; the ratios it prints mean nothing.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

const BIN: &str = env!("CARGO_BIN_EXE_headroom");

/// The full benchmark or the smoke run.
struct Mode {
    smoke: bool,
    runs: usize,
    long_secs: u32,
    tracks: usize,
    track_secs: u32,
}

/// CPU seconds (user + system) used by finished children of this process so far.
fn children_cpu() -> f64 {
    // SAFETY: getrusage fills the zeroed struct it is given; RUSAGE_CHILDREN is valid.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: as above; `u` is a valid, writable rusage.
    unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut u) };
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 * 1e-6;
    tv(u.ru_utime) + tv(u.ru_stime)
}

/// Runs `cmd` `runs` times; returns the median wall-clock and CPU seconds.
fn time(runs: usize, mut make: impl FnMut() -> Command) -> (f64, f64) {
    let mut walls = Vec::new();
    let mut cpus = Vec::new();
    for _ in 0..runs {
        let mut cmd = make();
        cmd.stdout(Stdio::null()).stderr(Stdio::null());
        let cpu0 = children_cpu();
        let t0 = Instant::now();
        let st = cmd.status().expect("run");
        walls.push(t0.elapsed().as_secs_f64());
        cpus.push(children_cpu() - cpu0);
        assert!(st.success(), "{cmd:?} failed");
    }
    walls.sort_by(f64::total_cmp);
    cpus.sort_by(f64::total_cmp);
    (walls[runs / 2], cpus[runs / 2])
}

fn ffmpeg(args: &[&str]) {
    let st = Command::new("ffmpeg")
        .args(["-v", "error", "-nostdin", "-y"])
        .args(args)
        .status()
        .expect("ffmpeg not found: run `make deps`");
    assert!(st.success(), "ffmpeg {args:?}");
}

fn ebur128(file: &Path) -> Command {
    let mut c = Command::new("ffmpeg");
    c.args(["-nostdin", "-nostats", "-v", "error", "-i"])
        .arg(file)
        .args(["-af", "ebur128=peak=true", "-f", "null", "-"]);
    c
}

fn headroom(args: &[&str]) -> Command {
    let mut c = Command::new(BIN);
    c.args(args);
    c
}

fn line(name: &str, (wall, cpu): (f64, f64), reference: Option<(f64, f64)>) {
    match reference {
        Some((rw, rc)) => println!(
            "  {name:<34} {wall:6.2} s wall {cpu:6.2} s CPU   {:.2}x / {:.2}x of ffmpeg",
            wall / rw,
            cpu / rc
        ),
        None => println!("  {name:<34} {wall:6.2} s wall {cpu:6.2} s CPU"),
    }
}

fn main() {
    // `cargo bench` passes --bench; `cargo test --bench offline` passes nothing: a smoke run.
    let mode = if std::env::args().any(|a| a == "--bench") {
        Mode {
            smoke: false,
            runs: 3,
            long_secs: 600,
            tracks: 20,
            track_secs: 60,
        }
    } else {
        Mode {
            smoke: true,
            runs: 1,
            long_secs: 20,
            tracks: 3,
            track_secs: 5,
        }
    };
    let runs = mode.runs;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let long = d.join("long.wav");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        &format!(
            "anoisesrc=color=pink:duration={}:sample_rate=48000:amplitude=0.2",
            mode.long_secs
        ),
        "-af",
        "volume='0.5+0.4*sin(2*PI*0.05*t)':eval=frame",
        "-ac",
        "2",
        "-c:a",
        "pcm_s16le",
        long.to_str().unwrap(),
    ]);
    let out = d.join("out.wav");
    let (l, o) = (long.to_str().unwrap(), out.to_str().unwrap());
    let smoke = if mode.smoke {
        " — smoke run (debug build, figures not comparable)"
    } else {
        ""
    };
    println!(
        "offline: {} s stereo 16-bit 48 kHz WAV, median of {runs} runs (target <= 0.25x){smoke}",
        mode.long_secs
    );
    let reference = time(runs, || ebur128(&long));
    line("ffmpeg -af ebur128=peak=true", reference, None);
    line(
        "headroom analyze",
        time(runs, || headroom(&["analyze", l])),
        Some(reference),
    );
    line(
        "headroom render (with summary)",
        time(runs, || headroom(&["render", l, o])),
        Some(reference),
    );
    line(
        "headroom render --quiet",
        time(runs, || headroom(&["render", "-q", l, o])),
        Some(reference),
    );

    let album = d.join("album");
    std::fs::create_dir(&album).unwrap();
    let tracks = mode.tracks;
    for i in 0..tracks {
        let name = album.join(format!("{i:02}.flac"));
        let src = format!(
            "anoisesrc=color=pink:duration={}:sample_rate=44100:amplitude={}:seed={i}",
            mode.track_secs,
            0.05 + 0.01 * i as f64
        );
        ffmpeg(&[
            "-f",
            "lavfi",
            "-i",
            &src,
            "-ac",
            "2",
            "-sample_fmt",
            "s16",
            name.to_str().unwrap(),
        ]);
    }
    let files: Vec<_> = (0..tracks)
        .map(|i| album.join(format!("{i:02}.flac")))
        .collect();
    let a = album.to_str().unwrap();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "folder: {tracks} FLAC tracks of {} s stereo 44.1 kHz, {cores} cores",
        mode.track_secs
    );
    let ff = time(runs, || {
        // One ffmpeg after another, as a shell loop would.
        let mut c = Command::new("sh");
        let mut script = String::new();
        for f in &files {
            script.push_str(&format!(
                "ffmpeg -nostdin -nostats -v error -i '{}' -af ebur128=peak=true -f null - || exit 1\n",
                f.display()
            ));
        }
        c.args(["-c", &script]);
        c
    });
    let one = time(runs, || headroom(&["analyze", "--jobs", "1", a]));
    let all = time(runs, || headroom(&["analyze", a]));
    let fps = |(w, _): (f64, f64)| tracks as f64 / w;
    println!(
        "  {:<34} {:6.1} files/s",
        "ffmpeg ebur128, one file at a time",
        fps(ff)
    );
    println!(
        "  {:<34} {:6.1} files/s",
        "headroom analyze --jobs 1",
        fps(one)
    );
    println!(
        "  {:<34} {:6.1} files/s",
        format!("headroom analyze (--jobs {cores})"),
        fps(all)
    );
    println!(
        "  all cores vs one core: {:.2}x wall-clock (target >= 1.5x on 2 cores); vs ffmpeg: {:.1}x",
        one.0 / all.0,
        ff.0 / all.0
    );
}
