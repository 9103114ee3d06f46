//! `hr-eval`: the levelling evaluation behind `make eval`.
//!
//! Builds seven programmes from recorded and synthetic material (cached under
//! `target/eval/programmes/`, keyed by a hash of the recipe), renders each through every
//! profile with `headroom render` (at most `--jobs` at a time; renders are cached by the
//! binary's, the profile's and the programme's hashes), measures input and output with its
//! own meter (BS.1770 K-weighting, the `ebur128` crate for whole-file figures) and prints one
//! table, per-section details and a pass/fail list. It always exits 0 once the report is
//! printed: it is a report, not a test.
//!
//! `hr-eval run --bin target/release/headroom --profile profiles/` is what `make eval` runs;
//! `hr-eval build` only makes the programmes; `hr-eval measure DESC.json OUT.wav PROFILE.toml`
//! measures one file you rendered yourself.

mod assemble;
mod material;
mod meter;
mod programmes;
mod report;

use std::collections::{BTreeMap, VecDeque};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::time::Instant;

use anyhow::{anyhow, bail, Context, Result};
use clap::{Args, Parser, Subcommand};
use headroom_tests::{read_wav, Wav};
use sha2::{Digest, Sha256};

use assemble::Description;
use material::Material;
use report::{ProfileInfo, Report};

#[derive(Parser)]
#[command(
    name = "hr-eval",
    about = "Evaluates headroom's levelling on a suite of programmes"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Build the programmes, render them through the profiles, print the report.
    Run(RunArgs),
    /// Only build (or find cached) programmes and print their paths.
    Build {
        /// Cache directory.
        #[arg(long, default_value = "target/eval")]
        out: PathBuf,
        /// Programmes to build, comma-separated (default: all).
        #[arg(long)]
        only: Option<String>,
    },
    /// Measure one rendered file against a programme description and a profile's target.
    Measure {
        /// The programme's description (`target/eval/programmes/NAME.json`).
        description: PathBuf,
        /// The rendered WAV.
        wav: PathBuf,
        /// The profile it was rendered with.
        profile: PathBuf,
    },
}

#[derive(Args)]
struct RunArgs {
    /// Cache and report directory.
    #[arg(long, default_value = "target/eval")]
    out: PathBuf,
    /// The `headroom` binary to render with.
    #[arg(long)]
    bin: PathBuf,
    /// Profile files or directories of them (repeatable).
    #[arg(long = "profile", required = true)]
    profiles: Vec<PathBuf>,
    /// Programmes to run, comma-separated (default: all).
    #[arg(long)]
    only: Option<String>,
    /// Passed to `headroom render --set` (repeatable), e.g. `agc.rise_db_per_s=20`.
    #[arg(long = "set", allow_hyphen_values = true)]
    sets: Vec<String>,
    /// Renders and measurements at a time.
    #[arg(long, default_value_t = 2)]
    jobs: usize,
    /// Cross-check integrated loudness, LRA and true peak with ffmpeg's ebur128 filter.
    #[arg(long)]
    ffmpeg: bool,
}

/// Hex SHA-256.
pub fn hash_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn main() -> Result<()> {
    match Cli::parse().cmd {
        Cmd::Run(a) => run(a),
        Cmd::Build { out, only } => {
            for (d, wav) in programmes(&out, &selection(only.as_deref())?)? {
                println!("{} {} ({:.1} s)", d.name, wav.display(), d.duration_s);
            }
            Ok(())
        }
        Cmd::Measure {
            description,
            wav,
            profile,
        } => {
            let d: Description = serde_json::from_slice(&std::fs::read(&description)?)
                .with_context(|| format!("reading {}", description.display()))?;
            let p = ProfileInfo::load(&profile)?;
            let w = read_wav(&wav)?;
            let fig = report::measure(&d, &w.samples, w.channels, w.rate, p.target)?;
            println!("{}", serde_json::to_string_pretty(&fig)?);
            Ok(())
        }
    }
}

fn selection(only: Option<&str>) -> Result<Vec<&'static str>> {
    let Some(only) = only.filter(|s| !s.trim().is_empty()) else {
        return Ok(programmes::NAMES.to_vec());
    };
    only.split(',')
        .map(|n| {
            programmes::NAMES
                .iter()
                .copied()
                .find(|p| *p == n.trim())
                .ok_or_else(|| {
                    anyhow!(
                        "no programme `{n}` (programmes: {})",
                        programmes::NAMES.join(", ")
                    )
                })
        })
        .collect()
}

/// Finds each programme in the cache or builds it; returns descriptions and WAV paths.
fn programmes(out: &Path, names: &[&str]) -> Result<Vec<(Description, PathBuf)>> {
    let dir = out.join("programmes");
    std::fs::create_dir_all(&dir)?;
    let mut material = Material::new(&out.join("clips"))?;
    let mut result = Vec::new();
    for &name in names {
        let key = hash_hex(
            format!(
                "{}\n{}\n{name}",
                programmes::RECIPE_SOURCES.concat(),
                material.versions()
            )
            .as_bytes(),
        );
        let (wav, json) = (
            dir.join(format!("{name}.wav")),
            dir.join(format!("{name}.json")),
        );
        let cached = std::fs::read(&json)
            .ok()
            .and_then(|b| serde_json::from_slice::<Description>(&b).ok())
            .filter(|d| d.key == key && wav.is_file());
        let d = match cached {
            Some(d) => d,
            None => {
                let t = Instant::now();
                let mut p = programmes::build(name, &mut material)?;
                let d = p.finish(&key);
                let tmp = dir.join(format!(".{name}.partial.wav"));
                Wav {
                    rate: material::RATE,
                    channels: 2,
                    samples: std::mem::take(&mut p.audio.data),
                }
                .write(&tmp)?;
                std::fs::rename(&tmp, &wav)?;
                std::fs::write(&json, serde_json::to_string_pretty(&d)?)?;
                eprintln!(
                    "hr-eval: built {name} ({:.1} s of audio) in {:.1} s",
                    d.duration_s,
                    t.elapsed().as_secs_f64()
                );
                d
            }
        };
        result.push((d, wav));
    }
    if material.made > 0 {
        eprintln!("hr-eval: made {} source clips", material.made);
    }
    Ok(result)
}

/// Profile files from files and directories (a directory's `*.toml`, sorted).
fn profile_files(args: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for a in args {
        if a.is_dir() {
            let mut v: Vec<PathBuf> = std::fs::read_dir(a)?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "toml"))
                .collect();
            v.sort();
            if v.is_empty() {
                bail!("{}: no *.toml profiles", a.display());
            }
            files.extend(v);
        } else if a.is_file() {
            files.push(a.clone());
        } else {
            bail!("{}: no such profile file or directory", a.display());
        }
    }
    Ok(files)
}

enum Job {
    Input(usize),
    Render(usize, usize),
}

fn run(a: RunArgs) -> Result<()> {
    let t0 = Instant::now();
    let names = selection(a.only.as_deref())?;
    let progs = programmes(&a.out, &names)?;
    let t_build = t0.elapsed().as_secs_f64();
    let mut profiles = Vec::new();
    for f in profile_files(&a.profiles)? {
        let p = ProfileInfo::load(&f)?;
        if profiles.iter().any(|q: &ProfileInfo| q.name == p.name) {
            bail!("two profiles named `{}` ({})", p.name, f.display());
        }
        profiles.push(p);
    }
    let bin = std::fs::canonicalize(&a.bin)
        .with_context(|| format!("{}: no such binary", a.bin.display()))?;
    let bin_hash = hash_hex(&std::fs::read(&bin)?);
    let renders = a.out.join("renders");
    std::fs::create_dir_all(&renders)?;

    let mut queue: VecDeque<Job> = (0..progs.len()).map(Job::Input).collect();
    for i in 0..progs.len() {
        for j in 0..profiles.len() {
            queue.push_back(Job::Render(i, j));
        }
    }
    let queue = Mutex::new(queue);
    let inputs = Mutex::new(BTreeMap::new());
    let outputs = Mutex::new(BTreeMap::new());
    let ffmpeg_rows = Mutex::new(Vec::new());
    let errors = Mutex::new(Vec::new());
    let rendered = Mutex::new(0usize);
    let work = |job: Job| -> Result<()> {
        match job {
            Job::Input(i) => {
                let (d, wav) = &progs[i];
                let w = read_wav(wav)?;
                let fig = report::measure(d, &w.samples, w.channels, w.rate, f64::NAN)?;
                inputs.lock().unwrap().insert(d.name.clone(), fig);
            }
            Job::Render(i, j) => {
                let ((d, wav), p) = (&progs[i], &profiles[j]);
                let out = renders.join(format!("{}.{}.wav", d.name, p.name));
                let key_file = renders.join(format!("{}.{}.key", d.name, p.name));
                let key = hash_hex(
                    format!(
                        "{bin_hash}\n{}\n{}\n{}",
                        hash_hex(&std::fs::read(&p.path)?),
                        d.key,
                        a.sets.join("\n")
                    )
                    .as_bytes(),
                );
                let cached = out.is_file()
                    && std::fs::read_to_string(&key_file).is_ok_and(|k| k.trim() == key);
                if !cached {
                    let _ = std::fs::remove_file(&key_file);
                    let t = Instant::now();
                    let mut cmd = Command::new(&bin);
                    cmd.arg("render")
                        .arg(wav)
                        .arg(&out)
                        .arg("--profile")
                        .arg(&p.path);
                    for s in &a.sets {
                        cmd.arg("--set").arg(s);
                    }
                    let res = cmd
                        .output()
                        .with_context(|| format!("running {}", bin.display()))?;
                    if !res.status.success() {
                        bail!(
                            "{} render {} --profile {}: {}",
                            bin.display(),
                            d.name,
                            p.path.display(),
                            String::from_utf8_lossy(&res.stderr).trim()
                        );
                    }
                    std::fs::write(&key_file, &key)?;
                    *rendered.lock().unwrap() += 1;
                    eprintln!(
                        "hr-eval: rendered {} × {} in {:.1} s",
                        d.name,
                        p.name,
                        t.elapsed().as_secs_f64()
                    );
                }
                let w = read_wav(&out)?;
                let fig = report::measure(d, &w.samples, w.channels, w.rate, p.target)?;
                if a.ffmpeg {
                    let ff = ffmpeg_ebur128(&out)?;
                    ffmpeg_rows.lock().unwrap().push((
                        d.name.clone(),
                        p.name.clone(),
                        fig.integrated,
                        fig.lra,
                        fig.true_peak,
                        ff,
                    ));
                }
                outputs
                    .lock()
                    .unwrap()
                    .insert((d.name.clone(), p.name.clone()), fig);
            }
        }
        Ok(())
    };
    std::thread::scope(|s| {
        for _ in 0..a.jobs.max(1) {
            s.spawn(|| loop {
                let Some(job) = queue.lock().unwrap().pop_front() else {
                    break;
                };
                if let Err(e) = work(job) {
                    errors.lock().unwrap().push(format!("{e:#}"));
                }
            });
        }
    });
    let errors = errors.into_inner().unwrap();
    if !errors.is_empty() {
        bail!("{}", errors.join("\n"));
    }
    let (inputs, outputs) = (inputs.into_inner().unwrap(), outputs.into_inner().unwrap());
    let descs: Vec<Description> = progs.iter().map(|(d, _)| d.clone()).collect();
    let rep = Report {
        programmes: &descs,
        profiles: &profiles,
        inputs: &inputs,
        outputs: &outputs,
    };

    let mut text = String::new();
    text.push_str(&format!(
        "headroom levelling evaluation — binary {} (sha256 {}), profiles: {}{}\n\n",
        bin.display(),
        &bin_hash[..12],
        profiles
            .iter()
            .map(|p| format!("{} ({})", p.name, p.path.display()))
            .collect::<Vec<_>>()
            .join(", "),
        if a.sets.is_empty() {
            String::new()
        } else {
            format!(", --set {}", a.sets.join(" --set "))
        },
    ));
    text.push_str(&rep.table());
    text.push_str(&rep.details());
    let mut rows = ffmpeg_rows.into_inner().unwrap();
    if a.ffmpeg {
        rows.sort_by(|x, y| (&x.0, &x.1).cmp(&(&y.0, &y.1)));
        text.push_str("\n== cross-check with ffmpeg -af ebur128=peak=true (this meter / ffmpeg)\n");
        text.push_str(&format!(
            "  {:<13} {:<10} {:>17} {:>15} {:>17}\n",
            "programme", "profile", "integrated LUFS", "LRA LU", "true peak dBTP"
        ));
        for (prog, prof, i, lra, tp, ff) in rows {
            text.push_str(&format!(
                "  {prog:<13} {prof:<10} {:>17} {:>15} {:>17}\n",
                format!("{i:.1} / {:.1}", ff.0),
                format!("{lra:.1} / {:.1}", ff.1),
                format!("{tp:.1} / {:.1}", ff.2)
            ));
        }
    }
    let checks = rep.checks();
    let fails = checks.iter().filter(|c| c.pass == Some(false)).count();
    text.push_str(&format!(
        "\n== requirements: {} pass, {fails} FAIL, {} n/a\n",
        checks.iter().filter(|c| c.pass == Some(true)).count(),
        checks.iter().filter(|c| c.pass.is_none()).count()
    ));
    for c in &checks {
        text.push_str(&format!("{c}\n"));
    }
    let unassigned: Vec<&str> = profiles
        .iter()
        .filter(|p| p.role().is_none())
        .map(|p| p.name.as_str())
        .collect();
    if !unassigned.is_empty() {
        text.push_str(&format!(
            "(a profile's own requirements need its name to start with a shipped one's — default, night, speech, music; none checked for: {})\n",
            unassigned.join(", ")
        ));
    }
    print!("{text}");
    std::fs::write(a.out.join("report.txt"), &text)?;
    let json = serde_json::json!({
        "binary": bin, "binary_sha256": bin_hash, "sets": a.sets, "profiles": profiles,
        "programmes": descs, "inputs": inputs,
        "outputs": outputs.iter().map(|((d, p), f)| serde_json::json!({"programme": d, "profile": p, "figures": f})).collect::<Vec<_>>(),
        "checks": checks,
    });
    std::fs::write(
        a.out.join("results.json"),
        serde_json::to_string_pretty(&json)?,
    )?;
    eprintln!(
        "hr-eval: {} programmes × {} profiles, {} rendered now; {:.1} s (programmes {:.1} s); report in {}",
        progs.len(),
        profiles.len(),
        rendered.into_inner().unwrap(),
        t0.elapsed().as_secs_f64(),
        t_build,
        a.out.join("report.txt").display()
    );
    Ok(())
}

/// Integrated loudness, LRA and true peak of a file by ffmpeg's ebur128 filter.
fn ffmpeg_ebur128(path: &Path) -> Result<(f64, f64, f64)> {
    let out = Command::new("ffmpeg")
        .args(["-nostats", "-hide_banner", "-i"])
        .arg(path)
        .args(["-af", "ebur128=peak=true", "-f", "null", "-"])
        .output()
        .context("running ffmpeg (EVAL_FFMPEG=1 needs the ffmpeg package)")?;
    let text = String::from_utf8_lossy(&out.stderr);
    let summary = text
        .split("Summary:")
        .nth(1)
        .ok_or_else(|| anyhow!("ffmpeg printed no ebur128 summary"))?;
    let field = |name: &str| -> Result<f64> {
        summary
            .lines()
            .find_map(|l| l.trim().strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| anyhow!("ffmpeg summary without {name}"))
    };
    Ok((field("I:")?, field("LRA:")?, field("Peak:")?))
}
