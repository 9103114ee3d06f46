//! What `render` writes: the input's sample format and tags kept, `--format`, `-o DIR`.

use headroom_cli::audio::{self, OutputSamples};

use crate::support::audio::{ffmpeg, programme, write_wav_i16};
use crate::support::{assert_fails, headroom, text};

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
        "-metadata",
        "comment=A comment",
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
    // MP3 in: FLAC out (lossless, 24-bit), title and comment kept (ffmpeg writes the
    // comment as a user text frame, which was dropped).
    let m = audio::open(&outdir.join("song2.flac")).unwrap();
    assert_eq!(m.info().format, audio::SampleFormat::Int(24));
    for (k, v) in [("TITLE", "Lossy"), ("COMMENT", "A comment")] {
        assert!(
            m.info().tags.iter().any(|t| t.key == k && t.value == v),
            "{k}: {:?}",
            m.info().tags
        );
    }
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
    assert_fails(&out, 2, "--format");
    // A container that contradicts the name is refused (no FLAC written as x.wav), nothing
    // written; one that agrees, or a sample format alone, is fine (above).
    for (name, format) in [("x.wav", "flac"), ("x.flac", "wav,s16")] {
        let target = d.join(name);
        let out = headroom(
            d,
            &[
                "render",
                wav.to_str().unwrap(),
                target.to_str().unwrap(),
                "--format",
                format,
            ],
        );
        assert_fails(&out, 2, "the name says");
        assert!(!target.exists(), "{name}");
    }
    let agrees = d.join("agrees.flac");
    let out = headroom(
        d,
        &[
            "render",
            "-q",
            wav.to_str().unwrap(),
            agrees.to_str().unwrap(),
            "--format",
            "flac,s16",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
}

/// The file `render` writes is byte for byte what the chain makes of the whole input in one
/// piece, dithered and written in one go: decoding, processing and writing on separate
/// threads in batches changes nothing — for a length with a partial last batch, one of whole
/// batches, with and without the loudness summary.
#[test]
fn render_output_is_the_chain_over_the_whole_input_byte_for_byte() {
    use headroom_cli::audio::Audio;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // 65 536 frames is a batch of the render pipeline.
    for (name, frames) in [("odd", 48_000 * 7 + 333), ("whole", 65_536 * 5)] {
        let src = d.join(format!("{name}.wav"));
        let secs = frames as f64 / 48_000.0;
        let mut input = programme(48_000, secs + 0.1, 1.0);
        input.samples.truncate(frames * 2);
        input.write_wav(&src, OutputSamples::S16).unwrap();
        // The reference: the input as the renderer reads it, through the default chain at
        // the default block, then written as one 16-bit WAV.
        let read = Audio::read(&src).unwrap();
        assert_eq!(read.frames(), frames);
        let params = headroom_profile::Profile::default().chain;
        let mut chain = headroom_core::Chain::new(48_000, 2, 1024, &params);
        let reference = Audio {
            rate: 48_000,
            channels: 2,
            samples: headroom_cli::offline::render_aligned(&mut chain, &read.samples, 1024),
        };
        let ref_path = d.join(format!("{name}-reference.wav"));
        reference.write_wav(&ref_path, OutputSamples::S16).unwrap();
        let want = std::fs::read(&ref_path).unwrap();
        for quiet in [false, true] {
            let out_path = d.join(format!("{name}-{quiet}.wav"));
            let mut args = vec!["render", src.to_str().unwrap(), out_path.to_str().unwrap()];
            if quiet {
                args.push("-q");
            }
            let out = headroom(d, &args);
            assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
            let got = std::fs::read(&out_path).unwrap();
            assert_eq!(got.len(), want.len(), "{name}, quiet {quiet}: length");
            let first = got.iter().zip(&want).position(|(a, b)| a != b);
            assert_eq!(
                first, None,
                "{name}, quiet {quiet}: bytes differ from offset"
            );
        }
    }
}

/// `-o out.wav` (as ffmpeg and sox take it) is refused as a usage error that shows the
/// one-file form, and creates nothing; a folder that already has such a name is used.
#[test]
fn a_missing_input_leaves_no_output_folder_behind() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let out = headroom(d, &["render", "-q", "missing.wav", "-o", "levelled"]);
    assert_ne!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        !d.join("levelled").exists(),
        "the output folder was created"
    );
}

#[test]
fn an_output_dir_named_like_an_audio_file_is_refused_unless_it_exists() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    programme(48_000, 1.0, 0.5)
        .write_wav(&d.join("in.wav"), OutputSamples::S16)
        .unwrap();
    for name in ["out.wav", "out.FLAC", "Out.Mp3", "x.ogg", "y.m4a"] {
        let out = headroom(d, &["render", "-q", "in.wav", "-o", name]);
        assert_fails(&out, 2, "-o takes a folder");
        assert_fails(&out, 2, &format!("headroom render in.wav {name}"));
        assert!(!d.join(name).exists(), "{name} was created");
        let out = headroom(d, &["--json", "render", "in.wav", "--output-dir", name]);
        assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v["error"]["code"], "usage", "{v}");
        assert!(!d.join(name).exists(), "{name} was created");
    }
    // Several inputs: the hint names the form, not a file.
    let out = headroom(d, &["render", "in.wav", "in.wav", "-o", "out.wav"]);
    assert_fails(&out, 2, "headroom render IN out.wav");
    // An existing file of that name is not turned into a folder either.
    std::fs::write(d.join("taken.wav"), b"x").unwrap();
    let out = headroom(d, &["render", "in.wav", "-o", "taken.wav"]);
    assert_fails(&out, 2, "-o takes a folder");
    assert_eq!(std::fs::read(d.join("taken.wav")).unwrap(), b"x");
    // An existing folder with an audio name, and a new folder with any other name, work.
    std::fs::create_dir(d.join("album.flac")).unwrap();
    let out = headroom(d, &["render", "-q", "in.wav", "-o", "album.flac"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(d.join("album.flac/in.wav").is_file());
    let out = headroom(d, &["render", "-q", "in.wav", "-o", "levelled"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(d.join("levelled/in.wav").is_file());
}

/// `render DIR -o DIR/levelled` a second time: the walk of DIR skipped nothing, so the
/// first run's outputs in DIR/levelled were rendered again (and their names collided with
/// the inputs'). The output folder is not searched for inputs, and the run says so.
#[test]
fn the_output_folder_inside_the_input_folder_is_not_taken_as_input() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir(d.join("music")).unwrap();
    for name in ["a.wav", "b.wav"] {
        programme(48_000, 1.0, 0.5)
            .write_wav(&d.join("music").join(name), OutputSamples::S16)
            .unwrap();
    }
    for run in 0..2 {
        let out = headroom(d, &["--json", "render", "music", "-o", "music/levelled"]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "run {run}: {}",
            text(&out.stderr)
        );
        let lines = text(&out.stdout).lines().count();
        assert_eq!(lines, 2, "run {run}: {}", text(&out.stdout));
        assert_eq!(
            text(&out.stderr).contains("music/levelled: the output folder is not searched"),
            run == 1,
            "run {run}: {}",
            text(&out.stderr)
        );
    }
    let mut made: Vec<_> = std::fs::read_dir(d.join("music/levelled"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    made.sort();
    assert_eq!(made, ["a.wav", "b.wav"]);
    // The input folder itself as -o: refused before anything is written (sub/c.wav was
    // rendered to music/c.wav, beside the originals, and the run failed on a.wav).
    std::fs::create_dir(d.join("music/sub")).unwrap();
    programme(48_000, 1.0, 0.5)
        .write_wav(&d.join("music/sub/c.wav"), OutputSamples::S16)
        .unwrap();
    for o in ["music", "music/", "./music"] {
        let out = headroom(d, &["render", "-q", "music", "-o", o]);
        assert_fails(&out, 2, "that is the input folder music");
        assert!(
            !d.join("music/c.wav").exists(),
            "-o {o}: rendered into the input folder"
        );
    }
    // A file as -o says so.
    std::fs::write(d.join("notes"), b"x").unwrap();
    let out = headroom(d, &["render", "-q", "music/a.wav", "-o", "notes"]);
    assert_fails(&out, 2, "-o takes a folder; notes is a file");
}

/// A symbolic link to a folder inside an input folder (a music library that links in
/// another disk's albums) was skipped without a word while links to files were taken. It is
/// walked now; a link back to a parent, or to a folder walked already, is not walked twice.
#[test]
fn links_to_folders_are_walked_once_and_loops_end() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for f in ["lib/a.wav", "elsewhere/album/z.wav"] {
        let path = d.join(f);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        programme(48_000, 1.0, 0.5)
            .write_wav(&path, OutputSamples::S16)
            .unwrap();
    }
    std::os::unix::fs::symlink(d.join("elsewhere/album"), d.join("lib/album")).unwrap();
    std::os::unix::fs::symlink(d.join("lib"), d.join("lib/loop")).unwrap();
    std::os::unix::fs::symlink(d.join("elsewhere/album"), d.join("lib/same-album")).unwrap();
    let out = headroom(d, &["--json", "analyze", "lib"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let files: Vec<String> = text(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| v["file"].as_str().map(str::to_string))
        .collect();
    assert_eq!(
        files,
        ["lib/a.wav", "lib/album/z.wav"],
        "{}",
        text(&out.stdout)
    );
}

/// A file met twice — named beside its folder, named twice, or linked into the folder — is
/// taken once, with a note. `render DIR DIR/a.wav -o OUT` failed as if two files collided on
/// `OUT/a.wav`, and `analyze` counted the file twice in the album row.
#[test]
fn a_file_met_twice_is_taken_once() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir(d.join("lib")).unwrap();
    programme(48_000, 1.0, 0.5)
        .write_wav(&d.join("lib/a.wav"), OutputSamples::S16)
        .unwrap();
    programme(48_000, 2.0, 0.1)
        .write_wav(&d.join("lib/b.wav"), OutputSamples::S16)
        .unwrap();
    std::os::unix::fs::symlink(d.join("lib/a.wav"), d.join("lib/c.wav")).unwrap();
    let out = headroom(
        d,
        &[
            "--json",
            "render",
            "lib",
            "lib/a.wav",
            "lib/b.wav",
            "-o",
            "out",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let inputs: Vec<String> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .map(|v| v["input"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(inputs, ["lib/a.wav", "lib/b.wav"], "{}", text(&out.stdout));
    let err = text(&out.stderr);
    assert!(
        err.contains("lib/c.wav: the same file as lib/a.wav: taken once"),
        "{err}"
    );
    assert!(err.contains("lib/a.wav: named twice: taken once"), "{err}");
    assert!(!d.join("out/c.wav").exists());
    // The album counts each file once: the same figures as the two files alone.
    let album = |args: &[&str]| {
        let out = headroom(d, &[&["--json", "analyze"], args].concat());
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        let last = text(&out.stdout).lines().last().unwrap().to_string();
        serde_json::from_str::<serde_json::Value>(&last).unwrap()["album"].clone()
    };
    let twice = album(&["lib", "lib/a.wav", "lib/a.wav"]);
    let once = album(&["lib/a.wav", "lib/b.wav"]);
    assert!(twice.is_object(), "{twice}");
    assert_eq!(twice, once);
}

/// FLAC is written at up to 96 kHz (the encoder's limit): a faster FLAC rendered into a
/// folder (whose default keeps the input's container) comes out as WAV with a note; a FLAC
/// output asked for by name is an error that says what to do. A 192 kHz FLAC failed with
/// `cannot encode FLAC: verification error`, in both cases.
#[test]
fn hi_res_input_is_rendered_to_wav_when_flac_cannot_hold_it() {
    let dir = tempfile::tempdir().unwrap();
    let wav = dir.path().join("hr.wav");
    write_wav_i16(&wav, 192_000, 2, 19_200);
    let flac = dir.path().join("hr.flac");
    let sox = std::process::Command::new("sox")
        .args([wav.to_str().unwrap(), flac.to_str().unwrap()])
        .status()
        .expect("sox (make deps installs it) makes the 192 kHz FLAC input");
    assert!(sox.success());
    let out = dir.path().join("out");
    let r = headroom(
        dir.path(),
        &[
            "render",
            flac.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
        ],
    );
    assert_eq!(r.status.code(), Some(0), "{}", text(&r.stderr));
    assert!(
        text(&r.stderr).contains("rendered to WAV"),
        "{}",
        text(&r.stderr)
    );
    assert!(out.join("hr.wav").is_file());
    assert!(!out.join("hr.flac").exists());
    let named = dir.path().join("named.flac");
    assert_fails(
        &headroom(
            dir.path(),
            &["render", wav.to_str().unwrap(), named.to_str().unwrap()],
        ),
        1,
        "FLAC is written at up to 96000 Hz; render to WAV",
    );
    assert!(!named.exists());
}

/// A folder given where one output file goes says to use `-o` (it said it could not tell the
/// output format from the name).
#[test]
fn a_folder_as_the_output_file_points_to_dash_o() {
    let dir = tempfile::tempdir().unwrap();
    let wav = dir.path().join("a.wav");
    write_wav_i16(&wav, 48_000, 2, 4_800);
    let folder = dir.path().join("outdir");
    std::fs::create_dir(&folder).unwrap();
    assert_fails(
        &headroom(
            dir.path(),
            &["render", wav.to_str().unwrap(), folder.to_str().unwrap()],
        ),
        2,
        &format!(
            "{}: is a folder; to render into it use -o",
            folder.display()
        ),
    );
}

/// An output named like a format `render` reads but does not write says which it writes;
/// a name with no audio extension says how to choose.
#[test]
fn an_output_named_like_a_format_it_only_reads_says_what_it_writes() {
    let dir = tempfile::tempdir().unwrap();
    let wav = dir.path().join("a.wav");
    write_wav_i16(&wav, 48_000, 2, 4_800);
    let mp3 = dir.path().join("out.mp3");
    assert_fails(
        &headroom(dir.path(), &["render", wav.to_str().unwrap(), mp3.to_str().unwrap()]),
        2,
        &format!(
            "{}: render writes WAV or FLAC, not .mp3 (it reads .mp3); name the output .wav or .flac, or use --format wav|flac",
            mp3.display()
        ),
    );
    assert!(!mp3.exists());
    let odd = dir.path().join("out.xyz");
    assert_fails(
        &headroom(
            dir.path(),
            &["render", wav.to_str().unwrap(), odd.to_str().unwrap()],
        ),
        2,
        &format!(
            "{}: cannot tell the output format from the name",
            odd.display()
        ),
    );
}

#[test]
fn a_bad_file_among_many_gets_its_own_json_line_and_the_rest_are_rendered() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    crate::support::audio::tone(-20.0, 1.0)
        .write(&d.join("a.wav"))
        .unwrap();
    std::fs::write(d.join("b.wav"), "RIFF nonsense").unwrap();
    crate::support::audio::tone(-20.0, 1.0)
        .write(&d.join("c.wav"))
        .unwrap();
    let out = headroom(
        d,
        &["--json", "render", "a.wav", "b.wav", "c.wav", "-o", "out"],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let lines: Vec<serde_json::Value> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    // a, b (its error), c, then the command's own error as every `--json` error ends.
    assert_eq!(lines.len(), 4, "{}", text(&out.stdout));
    assert!(lines[0]["input"].as_str().unwrap().ends_with("a.wav"));
    assert!(lines[0].get("error").is_none());
    assert_eq!(lines[1]["input"], "b.wav");
    assert!(lines[1]["output"].as_str().unwrap().ends_with("b.wav"));
    assert!(lines[1]["error"].as_str().unwrap().contains("b.wav"));
    assert!(lines[2]["input"].as_str().unwrap().ends_with("c.wav"));
    assert_eq!(lines[3]["error"]["code"], "failed");
    assert!(d.join("out/a.wav").exists() && d.join("out/c.wav").exists());
    assert!(!d.join("out/b.wav").exists());
}

/// Integer output is dithered only where the audio is off the output's grid: digital silence
/// rendered stays digital silence, and a 16- or 24-bit file rendered in bypass to its own
/// depth comes back bit for bit (WAV and FLAC), while processed audio is dithered.
#[test]
fn silence_stays_silent_and_a_bypass_render_is_bit_exact() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let render = |args: &[&str]| {
        let mut all = vec!["render", "-q"];
        all.extend_from_slice(args);
        let out = headroom(d, &all);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{args:?}: {}",
            text(&out.stderr)
        );
    };
    let read = |name: &str| audio::Audio::read(&d.join(name)).unwrap();
    audio::Audio {
        rate: 48_000,
        channels: 2,
        samples: vec![0.0; 2 * 48_000 * 3],
    }
    .write_wav(&d.join("silence.wav"), OutputSamples::S16)
    .unwrap();
    for out in ["silence-out.wav", "silence-out.flac"] {
        render(&["silence.wav", out]);
        let got = read(out);
        assert!(got.samples.iter().all(|&v| v == 0.0), "{out}: not silent");
    }
    for (samples, ext) in [
        (OutputSamples::S16, "wav"),
        (OutputSamples::S24, "wav"),
        (OutputSamples::S16, "flac"),
    ] {
        let input = format!("in-{samples:?}.wav");
        programme(48_000, 3.0, 0.5)
            .write_wav(&d.join(&input), samples)
            .unwrap();
        let want = read(&input);
        let out = format!("bypass-{samples:?}.{ext}");
        render(&[&input, &out, "--set", "bypass=true"]);
        assert!(read(&out).samples == want.samples, "{out}: not bit-exact");
        let out = format!("levelled-{samples:?}.{ext}");
        render(&[&input, &out]);
        assert!(read(&out).samples != want.samples, "{out}: left as it was");
    }
}
