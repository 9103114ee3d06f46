//! Source material: recorded spoken phrases (`alsa-utils`), recorded effects
//! (`sound-theme-freedesktop`), orchestral music (`wesnoth-1.16-music`), `espeak-ng` speech and
//! `sox` noise. Each clip is converted once into a 48 kHz 32-bit float WAV under
//! `target/eval/clips/`, named by a hash of the commands that make it and of the tools'
//! versions, so re-runs reuse it and a changed recipe or tool makes a new one.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};
use headroom_tests::read_wav;

use crate::assemble::Audio;

/// Sample rate of every clip and programme.
pub const RATE: u32 = 48_000;

const ALSA_DIR: &str = "/usr/share/sounds/alsa";
const EFFECTS_DIR: &str = "/usr/share/sounds/freedesktop/stereo";
const MUSIC_DIR: &str = "/usr/share/games/wesnoth/1.16/data/core/music";

/// The Debian packages the material comes from (installed by `make eval`).
pub const PACKAGES: &str = "alsa-utils sound-theme-freedesktop wesnoth-1.16-music espeak-ng sox";

/// An `espeak-ng` speaker: voice+variant, words per minute, pitch (0–99).
#[derive(Debug, Clone, Copy)]
pub struct Voice {
    /// `-v` argument, e.g. `en-us+m3`.
    pub voice: &'static str,
    /// `-s`, words per minute.
    pub speed: u32,
    /// `-p`, 0–99.
    pub pitch: u32,
}

impl Voice {
    /// Voice+variant, words per minute, pitch.
    pub const fn new(voice: &'static str, speed: u32, pitch: u32) -> Voice {
        Voice {
            voice,
            speed,
            pitch,
        }
    }
}

/// One piece of source material.
#[derive(Debug, Clone)]
pub enum Clip {
    /// A recorded phrase from `alsa-utils` (e.g. `Front_Left`), optionally pitch-shifted by
    /// `cents` (a different speaker from the same recording), leading and trailing silence
    /// trimmed.
    Phrase {
        /// File stem under /usr/share/sounds/alsa.
        name: &'static str,
        /// Pitch shift in cents (0: the recording as it is).
        cents: i32,
    },
    /// A sentence spoken by `espeak-ng` at amplitude `amp` (0–200), silence trimmed.
    Speech {
        /// The speaker.
        voice: Voice,
        /// `-a`, amplitude.
        amp: u32,
        /// What is said.
        text: &'static str,
    },
    /// `dur` seconds of a Wesnoth track from `start` seconds.
    Music {
        /// File stem under the Wesnoth music directory.
        track: &'static str,
        /// Offset, seconds.
        start: f64,
        /// Length, seconds.
        dur: f64,
    },
    /// A recorded effect from `sound-theme-freedesktop` (file stem).
    Effect(&'static str),
    /// `sox synth` noise (`pinknoise`, `brownnoise`, …), `dur` seconds, stereo, optionally
    /// low-passed at `lowpass` Hz.
    Noise {
        /// sox synth type.
        colour: &'static str,
        /// Length, seconds.
        dur: f64,
        /// Low-pass corner, Hz (0: none).
        lowpass: u32,
    },
}

impl Clip {
    /// A short readable name for the cache file.
    fn slug(&self) -> String {
        let s = match self {
            Clip::Phrase { name, cents } => format!("phrase-{name}-{cents}"),
            Clip::Speech { voice, text, .. } => {
                let words: String = text
                    .split_whitespace()
                    .take(3)
                    .collect::<Vec<_>>()
                    .join("_");
                format!("speech-{}-{}", voice.voice, words)
            }
            Clip::Music { track, start, .. } => format!("music-{track}-{start}"),
            Clip::Effect(name) => format!("effect-{name}"),
            Clip::Noise { colour, dur, .. } => format!("noise-{colour}-{dur}"),
        };
        s.chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                    c
                } else {
                    '_'
                }
            })
            .collect()
    }

    /// The commands that make the clip at `out` (`tmp` is scratch space).
    fn commands(&self, out: &Path, tmp: &Path) -> Vec<Vec<String>> {
        let out = out.display().to_string();
        let tmp = tmp.display().to_string();
        let float = ["-e", "floating-point", "-b", "32"];
        let trim_silence = [
            "silence", "1", "0.01", "-50d", "reverse", "silence", "1", "0.01", "-50d", "reverse",
        ];
        let sox = |input: &str, effects: &[&str]| -> Vec<String> {
            ["sox", "-R", "-V1", input]
                .iter()
                .chain(&float)
                .chain(&[out.as_str()])
                .chain(effects)
                .map(|s| s.to_string())
                .collect()
        };
        match self {
            Clip::Phrase { name, cents } => {
                let input = format!("{ALSA_DIR}/{name}.wav");
                let mut fx = vec![];
                let cents = cents.to_string();
                if cents != "0" {
                    fx.extend(["pitch", cents.as_str()]);
                }
                fx.extend(["rate", "-v", "48000"]);
                fx.extend(trim_silence);
                vec![sox(&input, &fx)]
            }
            Clip::Speech { voice, amp, text } => {
                let espeak = vec![
                    "espeak-ng".to_string(),
                    "-v".into(),
                    voice.voice.into(),
                    "-s".into(),
                    voice.speed.to_string(),
                    "-p".into(),
                    voice.pitch.to_string(),
                    "-a".into(),
                    amp.to_string(),
                    "-w".into(),
                    tmp.clone(),
                    text.to_string(),
                ];
                let mut fx = vec!["rate", "-v", "48000"];
                fx.extend(trim_silence);
                vec![espeak, sox(&tmp, &fx)]
            }
            Clip::Music { track, start, dur } => {
                let input = format!("{MUSIC_DIR}/{track}.ogg");
                let (s, d) = (start.to_string(), dur.to_string());
                vec![sox(
                    &input,
                    &["trim", &s, &d, "rate", "-v", "48000", "channels", "2"],
                )]
            }
            Clip::Effect(name) => {
                let input = format!("{EFFECTS_DIR}/{name}.oga");
                vec![sox(&input, &["rate", "-v", "48000", "channels", "2"])]
            }
            Clip::Noise {
                colour,
                dur,
                lowpass,
            } => {
                let mut cmd: Vec<String> = ["sox", "-R", "-V1", "-n", "-r", "48000", "-c", "2"]
                    .iter()
                    .chain(&float)
                    .map(|s| s.to_string())
                    .collect();
                cmd.push(out.clone());
                cmd.extend(["synth".to_string(), dur.to_string(), colour.to_string()]);
                if *lowpass > 0 {
                    cmd.extend(["lowpass".to_string(), lowpass.to_string()]);
                }
                vec![cmd]
            }
        }
    }

    /// The installed file the clip is made from, if any.
    fn source_file(&self) -> Option<PathBuf> {
        match self {
            Clip::Phrase { name, .. } => Some(format!("{ALSA_DIR}/{name}.wav").into()),
            Clip::Music { track, .. } => Some(format!("{MUSIC_DIR}/{track}.ogg").into()),
            Clip::Effect(name) => Some(format!("{EFFECTS_DIR}/{name}.oga").into()),
            Clip::Speech { .. } | Clip::Noise { .. } => None,
        }
    }
}

/// Makes and caches clips; loads them as stereo [`Audio`].
pub struct Material {
    dir: PathBuf,
    versions: String,
    loaded: HashMap<String, Audio>,
    /// Clips made (not found in the cache) during this run.
    pub made: usize,
}

impl Material {
    /// Checks the tools and opens the clip cache in `dir`.
    pub fn new(dir: &Path) -> Result<Material> {
        std::fs::create_dir_all(dir)?;
        Ok(Material {
            dir: dir.to_path_buf(),
            versions: tool_versions()?,
            loaded: HashMap::new(),
            made: 0,
        })
    }

    /// The tools' versions (part of every cache key).
    pub fn versions(&self) -> &str {
        &self.versions
    }

    /// The clip as 48 kHz stereo audio (mono clips on both channels), made if not cached.
    pub fn get(&mut self, clip: &Clip) -> Result<Audio> {
        let probe = Path::new("OUT");
        let mut key_text = format!("{}\n", self.versions);
        for cmd in clip.commands(probe, Path::new("TMP")) {
            key_text.push_str(&cmd.join("\u{1f}"));
            key_text.push('\n');
        }
        if let Some(src) = clip.source_file() {
            let len = std::fs::metadata(&src)
                .with_context(|| {
                    format!(
                        "{} is missing: run `make eval`, which installs {PACKAGES}",
                        src.display()
                    )
                })?
                .len();
            key_text.push_str(&format!("{} {len}\n", src.display()));
        }
        let key = crate::hash_hex(key_text.as_bytes());
        if let Some(a) = self.loaded.get(&key) {
            return Ok(a.clone());
        }
        let path = self.dir.join(format!("{}-{}.wav", clip.slug(), &key[..12]));
        if !path.is_file() {
            let part = self.dir.join(format!(".{}.partial.wav", &key[..12]));
            let tmp = self.dir.join(format!(".{}.tmp.wav", &key[..12]));
            for cmd in clip.commands(&part, &tmp) {
                run(&cmd)?;
            }
            let _ = std::fs::remove_file(&tmp);
            std::fs::rename(&part, &path)?;
            self.made += 1;
        }
        let wav = read_wav(&path)?;
        if wav.rate != RATE || wav.samples.is_empty() {
            bail!("{}: expected non-empty {RATE} Hz audio", path.display());
        }
        let audio = Audio::from_interleaved(&wav.samples, wav.channels);
        self.loaded.insert(key, audio.clone());
        Ok(audio)
    }
}

fn run(cmd: &[String]) -> Result<()> {
    let out = Command::new(&cmd[0])
        .args(&cmd[1..])
        .output()
        .with_context(|| format!("running {} (installed by `make eval`: {PACKAGES})", cmd[0]))?;
    if !out.status.success() {
        bail!(
            "{} failed ({}): {}",
            cmd.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

fn tool_versions() -> Result<String> {
    let mut v = String::new();
    for (tool, arg) in [("sox", "--version"), ("espeak-ng", "--version")] {
        let out = Command::new(tool).arg(arg).output().with_context(|| {
            format!("{tool} not found: run `make eval`, which installs {PACKAGES}")
        })?;
        v.push_str(
            String::from_utf8_lossy(&out.stdout)
                .lines()
                .next()
                .unwrap_or(tool)
                .trim(),
        );
        v.push('\n');
    }
    Ok(v)
}
