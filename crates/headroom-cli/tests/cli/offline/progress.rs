//! What `render` and `analyze` tell a user: a progress bar on a terminal only (and only for
//! files longer than a few seconds, and not with `--quiet`), a before/after summary whose
//! figures `--json` gives too.

use std::path::Path;
use std::process::{Command, Output};

use headroom_cli::audio::OutputSamples;

use crate::support::audio::{analyze_json, programme, sparse_wav};
use crate::support::{headroom, in_private_dirs, text, BIN};

/// Runs `headroom ARGS…` in `dir` on a pseudo-terminal (`script` from util-linux), so its
/// stdout and stderr are a terminal; returns everything it wrote there.
fn on_terminal(dir: &Path, args: &[&str]) -> Output {
    let cmd = std::iter::once(BIN)
        .chain(args.iter().copied())
        .map(|a| format!("'{a}'"))
        .collect::<Vec<_>>()
        .join(" ");
    in_private_dirs(
        Command::new("script").args(["-qec", &cmd, "/dev/null"]),
        dir,
    )
    .output()
    .expect("script (util-linux) not found")
}

/// Whether a terminal transcript holds a drawn progress bar of a file.
fn has_bar(out: &Output) -> bool {
    text(&out.stdout).contains("% eta")
}

#[test]
fn progress_is_shown_on_a_terminal_for_long_files_only() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // A minute of (sparse, silent) audio, and three seconds of programme.
    sparse_wav(&d.join("long.wav"), 60 * 48_000);
    programme(48_000, 3.0, 1.0)
        .write_wav(&d.join("short.wav"), OutputSamples::S16)
        .unwrap();

    let r = on_terminal(d, &["render", "long.wav", "out.wav"]);
    assert_eq!(r.status.code(), Some(0), "{}", text(&r.stdout));
    assert!(
        has_bar(&r),
        "no progress on a terminal: {}",
        text(&r.stdout)
    );
    assert!(
        text(&r.stdout).contains("out.wav"),
        "the bar names the output"
    );
    assert!(text(&r.stdout).contains("rendered long.wav"));

    let a = on_terminal(d, &["analyze", "long.wav"]);
    assert_eq!(a.status.code(), Some(0), "{}", text(&a.stdout));
    assert!(
        has_bar(&a),
        "no progress on a terminal: {}",
        text(&a.stdout)
    );
    let many = on_terminal(d, &["analyze", "long.wav", "short.wav"]);
    assert!(
        text(&many.stdout).contains("2/2 files"),
        "{}",
        text(&many.stdout)
    );

    // --quiet, a short file, or no terminal: no bar.
    let q = on_terminal(d, &["render", "-q", "long.wav", "out.wav"]);
    assert_eq!(q.status.code(), Some(0), "{}", text(&q.stdout));
    assert!(!has_bar(&q), "{}", text(&q.stdout));
    assert!(q.stdout.is_empty(), "--quiet wrote {:?}", text(&q.stdout));
    let s = on_terminal(d, &["render", "short.wav", "out.wav"]);
    assert!(!has_bar(&s), "{}", text(&s.stdout));
    for args in [
        &["render", "long.wav", "out.wav"][..],
        &["analyze", "long.wav"],
    ] {
        let p = headroom(d, args);
        assert_eq!(p.status.code(), Some(0), "{}", text(&p.stderr));
        assert!(p.stderr.is_empty(), "{args:?}: {}", text(&p.stderr));
    }
}

/// The six figures of a text summary's second line: integrated, loudness range and true
/// peak, each before and after.
fn summary_figures(summary: &str) -> [f64; 6] {
    let line = summary
        .lines()
        .find(|l| l.trim_start().starts_with("integrated"))
        .unwrap_or_else(|| panic!("no figures in {summary:?}"));
    let nums: Vec<f64> = line
        .split(|c: char| c.is_whitespace() || c == ',')
        .filter_map(|w| w.parse().ok())
        .collect();
    nums.try_into()
        .unwrap_or_else(|n| panic!("{line:?}: {n:?}"))
}

#[test]
fn the_summary_gives_before_and_after_and_json_the_same_figures() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let input = d.join("in.wav");
    // A quiet programme the chain brings up.
    programme(48_000, 20.0, 0.15)
        .write_wav(&input, OutputSamples::S16)
        .unwrap();
    let args = ["render", "in.wav", "out.wav"];
    let t = headroom(d, &args);
    assert_eq!(t.status.code(), Some(0), "{}", text(&t.stderr));
    let human = summary_figures(&text(&t.stdout));
    let j = headroom(d, &[&["--json"][..], &args].concat());
    assert_eq!(j.status.code(), Some(0), "{}", text(&j.stderr));
    let v: serde_json::Value = serde_json::from_slice(&j.stdout).unwrap();
    let f = |side: &str, key: &str| v[side][key].as_f64().unwrap();
    let json = [
        f("before", "integrated_lufs"),
        f("after", "integrated_lufs"),
        f("before", "lra_lu"),
        f("after", "lra_lu"),
        f("before", "true_peak_dbtp"),
        f("after", "true_peak_dbtp"),
    ];
    for (h, j) in human.iter().zip(&json) {
        assert!((h - j).abs() <= 0.051, "text {human:?} vs JSON {json:?}");
    }
    // The figures are those of the files: before = the input, after = what was written.
    let a_in = analyze_json(d, &input);
    let a_out = analyze_json(d, &d.join("out.wav"));
    assert!((json[0] - a_in["integrated_lufs"].as_f64().unwrap()).abs() < 0.05);
    assert!((json[1] - a_out["integrated_lufs"].as_f64().unwrap()).abs() < 0.05);
    assert!((json[5] - a_out["true_peak_dbtp"].as_f64().unwrap()).abs() < 0.2);
    assert!(json[1] > json[0] + 6.0, "not levelled: {json:?}");
    // --quiet: nothing on stdout, the output still written.
    std::fs::remove_file(d.join("out.wav")).unwrap();
    let q = headroom(d, &["render", "--quiet", "in.wav", "out.wav"]);
    assert_eq!(q.status.code(), Some(0), "{}", text(&q.stderr));
    assert!(q.stdout.is_empty() && q.stderr.is_empty());
    assert!(d.join("out.wav").is_file());
    // --quiet with --json: the JSON (what --json asks for), as documented, and nothing else.
    let qj = headroom(d, &["render", "--quiet", "--json", "in.wav", "out.wav"]);
    assert_eq!(qj.status.code(), Some(0), "{}", text(&qj.stderr));
    assert!(qj.stderr.is_empty(), "{}", text(&qj.stderr));
    let v: serde_json::Value = serde_json::from_slice(&qj.stdout).expect("one JSON object");
    assert!(v["after"]["integrated_lufs"].is_number(), "{v}");
}
