//! The album table (text golden and JSON) and a bad file among good ones.

use crate::support::audio::{ffmpeg, tone};
use crate::support::{headroom, text};

/// Expected `headroom analyze .` over the three files of `album_table_is_stable`.
const ALBUM_TABLE: &str = "\
INTEGRATED     LRA   MAX M   MAX S  TRUE PEAK  SAMPLE PEAK  FILE
      LUFS      LU    LUFS    LUFS       dBTP         dBFS
     -20.0     0.0   -20.0   -20.0      -20.0        -20.0  ./a-loud.wav
     -30.0     0.0   -30.0   -30.0      -30.0        -30.0  ./b-quiet.flac
         —     0.0       —       —       -inf         -inf  ./c-silent.wav
     -22.6    10.0   -20.0   -20.0      -20.0        -20.0  ALBUM (3 files, 15.0 s)
";

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
    // Not audio, and not there at all: each costs only itself.
    for bad in ["b.wav", "gone.wav"] {
        let out = headroom(d, &["--json", "analyze", "a.wav", bad, "c.wav"]);
        assert_eq!(out.status.code(), Some(1), "{bad}");
        let lines: Vec<serde_json::Value> = text(&out.stdout)
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        // a, the bad one (its error), c, the album of the two read, then the command's own
        // error as every `--json` error ends: {"error":{"code","message"}}.
        assert_eq!(lines.len(), 5, "{bad}: {}", text(&out.stdout));
        assert_eq!(lines[1]["file"], bad);
        assert!(lines[1]["error"].as_str().unwrap().contains(bad));
        assert_eq!(lines[3]["album"]["files"], 2);
        assert_eq!(lines[4]["error"]["code"], "failed");
        assert!(lines[4]["error"]["message"]
            .as_str()
            .unwrap()
            .contains("1 of 3 files"));
        assert!(text(&out.stderr).contains(bad));

        let to = format!("out-{}", bad.trim_end_matches(".wav"));
        let out = headroom(d, &["render", "a.wav", bad, "c.wav", "-o", &to]);
        assert_eq!(out.status.code(), Some(1), "{bad}: {}", text(&out.stderr));
        assert!(text(&out.stderr).contains(bad), "{}", text(&out.stderr));
        for good in ["a.wav", "c.wav"] {
            assert!(
                d.join(&to).join(good).is_file(),
                "{bad}: {good} not rendered"
            );
        }
        assert!(!d.join(&to).join(bad).exists());
    }
}
