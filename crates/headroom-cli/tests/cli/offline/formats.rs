//! Every input format against the same signal as WAV, corrupt and truncated files of each,
//! other sample rates, EXTENSIBLE 24-in-32 and RF64 lengths.

use headroom_cli::audio::{self, Audio, OutputSamples};

use crate::support::audio::{
    all_formats, analyze_json, ffmpeg, fmt_chunk, programme, scramble, sparse_file,
};
use crate::support::{headroom, text};

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
        // AAC too: its encoder priming and padding are cut as the MP4 edit list says.
        assert!((d - 8.0).abs() < 0.01, "{label}: {d} s");
    }
}

/// `render --set bypass=true` of `input` into `out` as `format` (in `dir`), which must
/// succeed; the audio it wrote.
fn bypass_render(
    dir: &std::path::Path,
    input: &std::path::Path,
    out: &std::path::Path,
    format: &str,
) -> Audio {
    let r = headroom(
        dir,
        &[
            "render",
            "-q",
            input.to_str().unwrap(),
            out.to_str().unwrap(),
            "--format",
            format,
            "--set",
            "bypass=true",
        ],
    );
    assert_eq!(
        r.status.code(),
        Some(0),
        "{}: {}",
        input.display(),
        text(&r.stderr)
    );
    Audio::read(out).unwrap()
}

/// AAC in MP4 starts with the encoder's priming and ends padded; the file's edit list says
/// where the programme is, and `render` keeps to it: as many frames as the source, in time
/// with it (a bypass render lines up with the source to the frame; it was 1024 frames late
/// and longer).
#[test]
fn aac_in_mp4_is_rendered_in_time_with_its_source() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let src = d.join("src.wav");
    // Noise, whose correlation with itself peaks at one lag only.
    let mut x = 0x2545_f491_4f6c_dd1du64;
    let source = Audio {
        rate: 48_000,
        channels: 2,
        samples: (0..2 * 5 * 48_000)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                ((x >> 40) as f32 / (1u64 << 24) as f32 - 0.5) * 0.5
            })
            .collect(),
    };
    source.write_wav(&src, OutputSamples::F32).unwrap();
    let m4a = d.join("src.m4a");
    ffmpeg(&[
        "-i",
        src.to_str().unwrap(),
        "-c:a",
        "aac",
        "-b:a",
        "256k",
        m4a.to_str().unwrap(),
    ]);
    let got = bypass_render(d, &m4a, &d.join("out.wav"), "f32");
    assert_eq!(got.samples.len(), source.samples.len());
    // The lag (frames) at which the render best matches the source, over 2 s of its middle.
    let corr = |lag: isize| -> f64 {
        (48_000..144_000isize)
            .map(|i| {
                let j = (i + lag) as usize * 2;
                f64::from(source.samples[i as usize * 2]) * f64::from(got.samples[j])
            })
            .sum()
    };
    let best = (-2048..=2048isize)
        .max_by(|&a, &b| corr(a).total_cmp(&corr(b)))
        .unwrap();
    assert_eq!(best, 0, "the render lags the source by {best} frames");
}

/// ALAC in MP4 whose length is no whole number of milliseconds: ffmpeg writes the edit list
/// in the movie's time scale (ms), rounded up, and the file was refused as truncated ("the
/// stream ends at 5.00 s, its header announces 5.00 s") — 47 of every 48 such files. Lossless,
/// so the render holds the source sample for sample.
#[test]
fn alac_of_any_length_renders_whole_and_exact() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for frames in [240_000usize, 240_024, 240_047] {
        let src = d.join(format!("src{frames}.wav"));
        let source = Audio {
            rate: 48_000,
            channels: 2,
            samples: (0..2 * frames)
                .map(|i| ((i as f32 * 0.0123).sin() * 0.25 * 32768.0).round() / 32768.0)
                .collect(),
        };
        source.write_wav(&src, OutputSamples::S16).unwrap();
        let m4a = d.join(format!("src{frames}.m4a"));
        ffmpeg(&[
            "-i",
            src.to_str().unwrap(),
            "-c:a",
            "alac",
            m4a.to_str().unwrap(),
        ]);
        let got = bypass_render(d, &m4a, &d.join(format!("out{frames}.wav")), "s16");
        assert_eq!(got.samples.len(), source.samples.len(), "{frames} frames");
        assert!(
            got.samples == source.samples,
            "{frames} frames: the render differs from the source"
        );
    }
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
        // The file on disk says the same as the summary. Two meters read it: the render's
        // live meter gates exactly, `analyze` gates its histogram of 0.1 LU bins, so the
        // blocks within 0.1 LU of the relative gate (this programme's output rises through
        // it while the levelling settles) may count in one and not the other: 0.05 LU at
        // 96 kHz here.
        let back = analyze_json(d, &output);
        assert!((back["integrated_lufs"].as_f64().unwrap() - after).abs() < 0.1);
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
    h.extend(fmt_chunk(1, 2, 48_000, 16));
    h.extend_from_slice(b"data");
    h.extend_from_slice(&u32::MAX.to_le_bytes());
    sparse_file(&p, &h, data);
    let mut dec = audio::open(&p).unwrap();
    assert_eq!(dec.info().frames, Some(frames));
    let mut buf = vec![1.0f32; 4096];
    assert_eq!(dec.read(&mut buf).unwrap(), 4096);
    assert!(buf.iter().all(|&s| s == 0.0));
}

/// Damage is named for what it is — corrupt data (a FLAC frame or an Ogg page that fails its
/// checksum, wherever it lies) or a file cut off (FLAC, Ogg, an M4A cut before its index or
/// inside its audio data) — and `analyze` and `render` name the same position for it, whatever sizes they read in.
#[test]
fn damage_is_named_for_what_it_is_at_the_same_position_in_both_commands() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let audio = programme(44_100, 8.0, 1.0);
    let src = d.join("ref.wav");
    audio.write_wav(&src, OutputSamples::S16).unwrap();
    // FLAC from headroom's own encoder; Ogg Vorbis and AAC in M4A (its index at the end, as
    // ffmpeg writes it by default) from ffmpeg.
    let flac = d.join("x.flac");
    let spec = audio::EncoderSpec {
        rate: audio.rate,
        channels: audio.channels,
        samples: OutputSamples::S16,
        container: audio::Container::Flac,
        frames_hint: Some(audio.frames() as u64),
        tags: Vec::new(),
    };
    let mut enc = audio::Encoder::new(
        Box::new(std::fs::File::create(&flac).unwrap()),
        true,
        &flac,
        &spec,
    )
    .unwrap();
    enc.write(&audio.samples).unwrap();
    enc.finish().unwrap();
    let ogg = d.join("x.ogg");
    let m4a = d.join("x.m4a");
    for (out, codec) in [(&ogg, "libvorbis"), (&m4a, "aac")] {
        ffmpeg(&[
            "-i",
            src.to_str().unwrap(),
            "-c:a",
            codec,
            out.to_str().unwrap(),
        ]);
    }
    // The index first (as streaming files have it): the cut falls in the audio data.
    let m4a_front = d.join("front.m4a");
    ffmpeg(&[
        "-i",
        src.to_str().unwrap(),
        "-c:a",
        "aac",
        "-movflags",
        "+faststart",
        m4a_front.to_str().unwrap(),
    ]);
    let damaged = |from: &std::path::Path, name: &str, at: f64, cut: bool| {
        let mut b = std::fs::read(from).unwrap();
        let i = (b.len() as f64 * at) as usize;
        if cut {
            b.truncate(i);
        } else {
            for x in &mut b[i..i + 8] {
                *x ^= 0x5a;
            }
        }
        let p = d.join(name);
        std::fs::write(&p, b).unwrap();
        p
    };
    // The first FLAC frame damaged: after the metadata blocks (4-byte headers, the last
    // one flagged).
    let flac_first = d.join("flac-first.flac");
    let mut b = std::fs::read(&flac).unwrap();
    let mut i = 4;
    loop {
        let last = b[i] & 0x80 != 0;
        i +=
            4 + usize::from(b[i + 1]) * 65536 + usize::from(b[i + 2]) * 256 + usize::from(b[i + 3]);
        if last {
            break;
        }
    }
    assert_eq!(
        &b[i..i + 2],
        b"\xff\xf8",
        "a frame starts after the metadata"
    );
    for x in &mut b[i + 20..i + 28] {
        *x ^= 0x5a;
    }
    std::fs::write(&flac_first, b).unwrap();
    let cases = [
        (flac_first, "corrupt"),
        (damaged(&flac, "flac-mid.flac", 0.5, false), "corrupt"),
        (damaged(&flac, "flac-late.flac", 0.9, false), "corrupt"),
        (damaged(&flac, "flac-cut.flac", 0.6, true), "truncated"),
        (damaged(&ogg, "ogg-mid.ogg", 0.6, false), "corrupt"),
        (damaged(&ogg, "ogg-late.ogg", 0.9, false), "corrupt"),
        (damaged(&ogg, "ogg-cut.ogg", 0.6, true), "truncated"),
        (damaged(&m4a, "m4a-cut.m4a", 0.6, true), "truncated"),
        (
            damaged(&m4a_front, "m4a-front-cut.m4a", 0.6, true),
            "truncated",
        ),
    ];
    for (file, want) in &cases {
        let name = file.file_name().unwrap().to_str().unwrap();
        let a = headroom(d, &["analyze", name]);
        let r = headroom(d, &["render", name, "o.wav"]);
        let (ea, er) = (text(&a.stderr), text(&r.stderr));
        assert_eq!(a.status.code(), Some(1), "{name}: {ea}");
        assert_eq!(r.status.code(), Some(1), "{name}: {er}");
        let other = if *want == "corrupt" {
            "truncated"
        } else {
            "corrupt"
        };
        assert!(
            ea.contains(&format!("{name}: {want}")) && !ea.contains(other),
            "{name}: want {want}: {ea}"
        );
        assert!(!ea.contains("not an audio file"), "{name}: {ea}");
        assert_eq!(ea, er, "{name}: analyze and render disagree");
        if *want == "corrupt" || !name.starts_with("m4a") {
            assert!(ea.contains(" s"), "{name}: no position: {ea}");
        }
        assert!(!d.join("o.wav").exists());
    }
}

/// Runs `analyze` and `render` of `input` in `d`: both succeed and say `want` on standard
/// error. Returns the render's output.
fn both_warn(d: &std::path::Path, input: &std::path::Path, want: &str) -> std::path::PathBuf {
    let out = d.join("out.wav");
    for args in [
        vec!["analyze", input.to_str().unwrap()],
        vec![
            "render",
            "-q",
            input.to_str().unwrap(),
            out.to_str().unwrap(),
        ],
    ] {
        let r = headroom(d, &args);
        assert_eq!(r.status.code(), Some(0), "{args:?}: {}", text(&r.stderr));
        assert!(
            text(&r.stderr).contains(want),
            "{args:?}: {}",
            text(&r.stderr)
        );
    }
    out
}

/// Float samples that are not numbers (NaN, infinite: damaged data) are read as silence and
/// said so on standard error, by `analyze` and `render` alike (they were replaced silently).
#[test]
fn not_a_number_samples_are_read_as_silence_with_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mut a = programme(48_000, 2.0, 0.3);
    a.samples[1000] = f32::NAN;
    a.samples[2001] = f32::INFINITY;
    a.samples[3002] = f32::NEG_INFINITY;
    let input = d.join("nan.wav");
    a.write_wav(&input, OutputSamples::F32).unwrap();
    let out = both_warn(d, &input, "3 samples were not a number");
    let got = Audio::read(&out).unwrap();
    assert!(got.samples.iter().all(|v| v.is_finite() && v.abs() < 1.0));
    // An undamaged file: no warning.
    let clean = d.join("clean.wav");
    programme(48_000, 1.0, 0.3)
        .write_wav(&clean, OutputSamples::F32)
        .unwrap();
    let an = headroom(d, &["analyze", clean.to_str().unwrap()]);
    assert!(
        !text(&an.stderr).contains("not a number") && !text(&an.stderr).contains("beyond"),
        "{}",
        text(&an.stderr)
    );
}

/// A file of nothing but samples that are not numbers reads as digital silence does: the
/// table's `-inf` and `—` are the floors in JSON (−144 dB peaks, −70 LUFS), whose numbers
/// are never infinite.
#[test]
fn all_not_a_number_reads_as_silence_in_the_table_and_in_json() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let nan = d.join("nan.wav");
    let silence = d.join("silence.wav");
    let mut a = programme(48_000, 1.0, 0.3);
    a.samples.iter_mut().for_each(|s| *s = f32::NAN);
    a.write_wav(&nan, OutputSamples::F32).unwrap();
    a.samples.iter_mut().for_each(|s| *s = 0.0);
    a.write_wav(&silence, OutputSamples::F32).unwrap();
    for f in [&nan, &silence] {
        let t = text(&headroom(d, &["analyze", f.to_str().unwrap()]).stdout);
        assert!(t.contains("true peak             -inf dBTP"), "{t}");
        assert!(t.contains("sample peak           -inf dBFS"), "{t}");
        assert!(t.contains("integrated loudness   —"), "{t}");
        let j = analyze_json(d, f);
        assert_eq!(j["true_peak_dbtp"], -144.0, "{j}");
        assert_eq!(j["sample_peak_dbfs"], -144.0, "{j}");
        assert_eq!(j["integrated_lufs"], -70.0, "{j}");
        assert_eq!(j["lra_lu"], 0.0, "{j}");
    }
}

/// Float samples beyond ±1000 (+60 dBFS: wrongly scaled or damaged data) are clamped to it by
/// the chain and the analysis; `analyze` and `render` say so, since the peaks they report are
/// then lower than what the file holds (a file of ±3.4e38 read as +60 dBFS, silently).
#[test]
fn float_samples_beyond_60_dbfs_are_clamped_with_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mut a = programme(48_000, 2.0, 0.3);
    a.samples[1000] = 3.4e38;
    a.samples[2001] = -2000.0;
    let input = d.join("huge.wav");
    a.write_wav(&input, OutputSamples::F32).unwrap();
    both_warn(d, &input, "2 samples were beyond ±1000 (+60 dBFS");
    // ±1000 itself is in range.
    a.samples[1000] = 1000.0;
    a.samples[2001] = -1000.0;
    a.write_wav(&input, OutputSamples::F32).unwrap();
    let an = headroom(d, &["analyze", input.to_str().unwrap()]);
    assert!(!text(&an.stderr).contains("beyond"), "{}", text(&an.stderr));
}
