//! The command-line grammar of `headroom` (clap derive).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Text appended to `headroom --help`: exit codes and the environment.
pub const AFTER_HELP: &str = "\
Exit codes:
  0  success
  1  error: the daemon refused the request, or bad input (unreadable file, invalid profile, ...)
  2  usage error (unknown command, missing or malformed argument)
  3  headroomd is not running (start it with `systemctl --user start headroomd` or `headroomd`)

Environment:
  HEADROOM_SOCKET   control socket path when --socket is not given; set but empty counts as
                    unset, as for headroomd (default: $XDG_RUNTIME_DIR/headroom/control.sock)
  XDG_CONFIG_HOME   user profiles are read from $XDG_CONFIG_HOME/headroom/profiles/NAME.toml";

/// `headroom`: control and monitor the headroom loudness leveller, or run its DSP on files.
#[derive(Debug, Parser)]
#[command(
    name = "headroom",
    version,
    about = "Control and monitor the headroom loudness leveller, or run its DSP offline on audio files",
    after_help = AFTER_HELP,
    propagate_version = true
)]
pub struct Cli {
    /// Print machine-readable JSON instead of human-readable text.
    #[arg(long, global = true)]
    pub json: bool,

    /// Path of the daemon's control socket [default: $HEADROOM_SOCKET when set and not empty,
    /// else $XDG_RUNTIME_DIR/headroom/control.sock].
    // `$HEADROOM_SOCKET` is read by `connection::socket_path` (through
    // `headroom_ipc::default_socket_path`), not by clap: clap would take an empty variable
    // for a missing `--socket` value, while headroomd treats it as unset.
    #[arg(long, global = true, value_name = "PATH")]
    pub socket: Option<PathBuf>,

    /// The command to run.
    #[command(subcommand)]
    pub command: Command,
}

/// Every `headroom` command.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Show the daemon's state: bus, profile, loudness, gain reduction, streams.
    Status,
    /// Per-application routing rules: processed or bypass.
    #[command(subcommand)]
    Route(RouteCmd),
    /// Change a setting, e.g. `headroom set agc.target_lufs -18`.
    #[command(after_long_help = headroom_profile::settings_help())]
    Set(SetArgs),
    /// Print one setting.
    #[command(after_long_help = headroom_profile::settings_help())]
    Get {
        /// Dotted setting key, e.g. `limiter.ceiling_dbtp`.
        key: String,
    },
    /// List every setting with its value.
    Settings,
    /// Reset settings to the active profile's values.
    #[command(subcommand)]
    Setting(SettingCmd),
    /// List, show, activate or reload profiles.
    #[command(subcommand)]
    Profile(ProfileCmd),
    /// Bypass the processing (audio passes unchanged), or resume it. Bypass lasts until
    /// `bypass off`, across restarts of headroomd.
    Bypass {
        /// `on`, `off` or `toggle`.
        mode: BypassMode,
    },
    /// Full-screen live monitor (or NDJSON events with --json).
    #[command(after_help = MONITOR_HELP)]
    Monitor(MonitorArgs),
    /// Recent per-second metrics kept by the daemon.
    History(HistoryArgs),
    /// Install or remove the systemd user unit for headroomd.
    #[command(subcommand)]
    Service(ServiceCmd),
    /// Print a shell completion script.
    Completions {
        /// Shell to generate completions for.
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff) to stdout, or write all pages to a directory.
    Man {
        /// Write headroom.1, one page per subcommand (headroom-status.1, …) and headroomd.1
        /// into DIR.
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
    /// Run the headroom chain offline over audio files into WAV or FLAC (no daemon needed).
    #[command(after_help = RENDER_HELP)]
    Render(RenderArgs),
    /// Measure audio files and folders: integrated loudness, loudness range, peaks, and the
    /// album loudness of the whole set (no daemon needed).
    #[command(after_help = ANALYZE_HELP)]
    Analyze(AnalyzeArgs),
    /// Check a profile file, or headroomd's config.toml, for errors (no daemon needed).
    Validate {
        /// Profile TOML file; a file named config.toml is checked as headroomd's
        /// configuration (the profile it names must load; unknown keys are warnings).
        file: PathBuf,
    },
}

/// `headroom monitor` details shown in its --help.
pub const MONITOR_HELP: &str = "\
Topics: daemon, routing, meters, profile, settings, alerts (default: all).

Keys: q, Esc or Ctrl-C quit; b toggles bypass; p activates the next profile; Up/Down (k/j)
select a stream, r gives its app a rule routing it the other way (processed <-> bypass, the
rule `route set` sets), a toggles Layer A (layer_a.enabled); ? shows help. The chart starts with the last
minute of the daemon's history.
Grey loudness values are stale (no meter tick for 2 s) or have no measurement (at or below
the -70 LUFS gate). When headroomd goes away the monitor says so and reconnects when it is back.

With --json: one event per line (NDJSON, the wire form of the control protocol's events).
Like the full-screen monitor it waits for headroomd when it is not running and reconnects
when it comes back; each connection starts with the topics' snapshot events again, and what
it waits for is said on standard error. With --no-wait it exits with code 3 instead: at the
start when no daemon runs, or when the daemon closes the connection.";

/// `headroom render` details shown in its --help.
pub const RENDER_HELP: &str = "\
Forms:
  headroom render IN OUT              one file
  headroom render IN... -o DIR        each input (or every audio file in a folder) to DIR/NAME.EXT
  headroom render FILE... --in-place  replace each file with its render (WAV and FLAC only)
-o takes a folder: `-o out.wav` is refused unless out.wav is an existing folder (write one
file with `headroom render IN out.wav`). A folder given as input is walked recursively for
audio files, except the -o folder inside it (`render music -o music/levelled` again does not
render its own outputs). A file met twice (named beside its folder, or linked) is rendered
once.

Input: WAV (PCM 8/16/24/32-bit, float, WAVE_FORMAT_EXTENSIBLE, RF64), FLAC, MP3, Ogg Vorbis,
AAC or ALAC in MP4/M4A, AIFF; 8 to 768 kHz, 1 to 64 channels. Rendered at its own rate.

Output: WAV (RF64 past 4 GiB) or FLAC, chosen by OUT's extension or --format wav|flac (with
-o DIR: the input's container when it is WAV or FLAC, else FLAC; a FIFO, a device or
/dev/stdout: WAV). The sample format is the input's (16-bit stays 16-bit, 24-bit stays
24-bit, 8-bit gives 16-bit, float and lossy inputs give 32-bit float WAV or 24-bit FLAC)
unless --format s16|s24|f32 says otherwise; integer output is TPDF-dithered.
Tags are carried over (FLAC: all; WAV: title, artist, album, date, genre, comment, track,
copyright), except ReplayGain/R128 gains, which no longer hold.

Safety: OUT is written to a hidden .OUT.PID.partial file (OUT's name shortened, with a hash,
when it is near the file system's longest name) and renamed into place at the end, so a failed
or interrupted (Ctrl-C, SIGTERM, SIGHUP) render leaves no partial file and never damages an existing
OUT. OUT may not be IN unless --in-place. A character device or FIFO (/dev/null, a pipe) is
written directly as a stream; block devices are refused. /dev/stdout is a stream whatever it
is: a file standard output was redirected to is written from where it stands, not replaced.

Latency: the chain's lookahead limiter delays audio by a few frames. render compensates it: the
first latency frames of the chain output are dropped and the input is flushed with zeros at the
end, so OUT has exactly as many frames as IN and is time-aligned with it.

Prints one line per file (before -> after: integrated loudness, loudness range, true peak)
unless --quiet; --json prints one object per file with the same figures (a file that failed:
{\"input\", \"output\", \"error\"}), with --quiet too. A progress bar is
shown on a terminal for files longer than 10 s (not with --quiet).";

/// `headroom analyze` details shown in its --help.
pub const ANALYZE_HELP: &str = "\
Formats: WAV (PCM, float, EXTENSIBLE, RF64), FLAC, MP3, Ogg Vorbis, AAC/ALAC in MP4/M4A, AIFF.
Folders are walked recursively for files with those extensions (links to folders followed,
each folder once; a file met twice is measured once); files are measured in parallel (--jobs,
default: all cores).

One file: a table of its figures. Several: one row per file and an ALBUM row, the integrated
loudness and loudness range of all files as one programme (as ReplayGain album gain measures
it), the highest peaks and maxima. --json: one JSON object per line for each file, then
{\"album\": {...}} when there are several. A file that cannot be read is reported on stderr and
the others are still measured; the exit code is then 1.";

/// `headroom route …`
#[derive(Debug, Subcommand)]
pub enum RouteCmd {
    /// List routing rules and the streams they apply to.
    List,
    /// Route an application through the processing or around it.
    Set {
        /// Application name (as shown by `headroom route list` / `headroom status`).
        app: String,
        /// `processed` or `bypass`.
        route: RouteMode,
    },
    /// Remove an application's rule (it falls back to the default route).
    Unset {
        /// Application name.
        app: String,
    },
}

/// A routing decision for an application.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RouteMode {
    /// Through the headroom chain.
    Processed,
    /// Straight to the speakers.
    Bypass,
}

/// `headroom set KEY VALUE`
#[derive(Debug, Args)]
pub struct SetArgs {
    /// Dotted setting key, e.g. `agc.target_lufs`.
    pub key: String,
    /// New value (negative numbers are fine: `headroom set agc.target_lufs -18`).
    #[arg(allow_negative_numbers = true, allow_hyphen_values = true)]
    pub value: String,
}

/// `headroom setting …`
#[derive(Debug, Subcommand)]
pub enum SettingCmd {
    /// Reset one setting (or all with --all) to the active profile's value.
    Reset(ResetArgs),
}

/// `headroom setting reset KEY|--all`
#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
pub struct ResetArgs {
    /// Dotted setting key.
    pub key: Option<String>,
    /// Reset every setting.
    #[arg(long)]
    pub all: bool,
}

/// `headroom profile …`
#[derive(Debug, Subcommand)]
pub enum ProfileCmd {
    /// List available profiles (the active one is marked).
    List {
        /// Print only the names of the profiles on this machine (shipped and in
        /// $XDG_CONFIG_HOME/headroom/profiles), one a line, without asking the daemon (what
        /// the shell completions call).
        #[arg(long)]
        names: bool,
    },
    /// Show a profile's settings (the active one when NAME is omitted).
    Show {
        /// Profile name.
        name: Option<String>,
    },
    /// Activate a profile.
    Use {
        /// Profile name.
        name: String,
    },
    /// Re-read profile files from disk.
    Reload,
}

/// `headroom bypass on|off|toggle`
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BypassMode {
    /// Bypass the processing.
    On,
    /// Resume processing.
    Off,
    /// Flip the bypass state.
    Toggle,
}

/// `headroom monitor [TOPICS…]`
#[derive(Debug, Args)]
pub struct MonitorArgs {
    /// Event topics to follow (default: all), e.g. `meters routing`.
    pub topics: Vec<String>,
    /// With no daemon running, exit (code 3) instead of waiting for one to start; with
    /// --json, also exit (code 3) when the daemon closes the connection instead of
    /// reconnecting.
    #[arg(long)]
    pub no_wait: bool,
}

/// `headroom history [--since 10m] [--every 1m] [--utc] [--summary | --plot]`
///
/// headroomd samples the processed bus once a second; it keeps the last hour in memory and
/// older samples on disk, up to 8 segments of 1 MiB (about a day at one sample a second),
/// and marks restarts, bypass, profile changes and alerts (the last 2048).
#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// How far back to go: a number with unit s, m, h or d (e.g. `90s`, `10m`, `2h`).
    /// Further back than headroomd keeps (about a day) shows what is kept, and says so.
    #[arg(long, default_value = "10m", value_parser = parse_duration_secs, allow_hyphen_values = true)]
    pub since: u64,
    /// Length of one row: the samples of each span are summarised (`1s`: every sample).
    #[arg(long, default_value = "1m", value_parser = parse_duration_secs, allow_hyphen_values = true)]
    pub every: u64,
    /// Show times in UTC instead of local time.
    #[arg(long)]
    pub utc: bool,
    /// Instead of rows: the minimum, median, 95th percentile and maximum of each figure over
    /// the span (with --json, as one object).
    #[arg(long, conflicts_with = "plot")]
    pub summary: bool,
    /// Instead of rows: a chart of input and output loudness and of the gains over the span,
    /// as wide as the terminal (80 columns when not on a terminal).
    #[arg(long)]
    pub plot: bool,
    /// Height of the --plot chart in lines (default: the terminal's height less 4, 16 to 40;
    /// 24 when not on a terminal).
    #[arg(long, value_name = "LINES", requires = "plot", value_parser = clap::value_parser!(u16).range(16..=200))]
    pub height: Option<u16>,
}

/// `headroom service …`
#[derive(Debug, Subcommand)]
pub enum ServiceCmd {
    /// Write ~/.config/systemd/user/headroomd.service and enable it.
    Install {
        /// Path of the headroomd binary for ExecStart (default: next to this `headroom`,
        /// else found on PATH).
        #[arg(long, value_name = "PATH")]
        exec: Option<PathBuf>,
        /// Only write the unit file; do not run `systemctl --user daemon-reload/enable`.
        #[arg(long)]
        no_enable: bool,
    },
    /// Stop, disable and remove the systemd user unit.
    Uninstall {
        /// Only remove the unit file; do not run systemctl.
        #[arg(long)]
        no_enable: bool,
    },
}

/// `headroom analyze FILE|DIR…`
#[derive(Debug, Args)]
pub struct AnalyzeArgs {
    /// Audio files or folders to measure.
    #[arg(required = true, value_name = "FILE|DIR")]
    pub paths: Vec<PathBuf>,
    /// Files measured at once (default: the number of cores).
    #[arg(short, long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=256))]
    pub jobs: Option<u32>,
}

/// `--format` values of `render`: a container, a sample format, or both (`flac,s16`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FormatArg {
    /// WAV container (RF64 past 4 GiB).
    Wav,
    /// FLAC container.
    Flac,
    /// 16-bit integer samples (TPDF-dithered).
    S16,
    /// 24-bit integer samples (TPDF-dithered).
    S24,
    /// 32-bit float samples (WAV only).
    F32,
}

/// `headroom render IN OUT …`, `render IN… -o DIR`, `render FILE… --in-place`
#[derive(Debug, Args)]
pub struct RenderArgs {
    /// `IN OUT`; with -o or --in-place, the inputs (files or folders).
    #[arg(required = true, value_name = "IN [OUT]")]
    pub paths: Vec<PathBuf>,
    /// Write each input to DIR (created if missing) under its own name. A DIR named like an
    /// audio file (`-o out.wav`) is refused unless it is an existing folder: for one file,
    /// give `IN OUT`.
    #[arg(
        short = 'o',
        long = "output-dir",
        value_name = "DIR",
        conflicts_with = "in_place"
    )]
    pub output_dir: Option<PathBuf>,
    /// Replace each input with its render (needed when OUT is IN).
    #[arg(long)]
    pub in_place: bool,
    /// Output container and/or sample format: wav, flac, s16, s24, f32 (comma-separated,
    /// e.g. `flac,s24`). Default: from the output name and the input's sample format.
    #[arg(long, value_delimiter = ',', value_name = "FORMAT")]
    pub format: Vec<FormatArg>,
    /// Print nothing on success (and skip the before/after measurement); with --json the
    /// JSON objects are still printed (they are what --json asks for), only the progress
    /// bar is left out.
    #[arg(short, long)]
    pub quiet: bool,
    /// Profile name (shipped or in $XDG_CONFIG_HOME/headroom/profiles) or path to a TOML file.
    #[arg(long, value_name = "NAME|PATH")]
    pub profile: Option<String>,
    /// Override a setting, e.g. `--set agc.target_lufs=-20` (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE", allow_hyphen_values = true)]
    pub sets: Vec<String>,
    /// Frames per processing block.
    #[arg(long, default_value_t = 1024, value_parser = clap::value_parser!(u32).range(1..=1_048_576))]
    pub block: u32,
}

/// Parses `90`, `90s`, `10m`, `2h`, `1d` into seconds.
pub fn parse_duration_secs(s: &str) -> Result<u64, String> {
    let s = s.trim();
    if s.starts_with('-') {
        // `--since -5m`: read as an option, it said "unexpected argument '-5'".
        return Err(format!(
            "`{s}`: a duration is how far back, never negative (try 5m)"
        ));
    }
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: u64 = num
        .parse()
        .map_err(|_| format!("`{s}` is not a duration (try 90s, 10m, 2h, 1d)"))?;
    let mult = match unit.trim() {
        "" | "s" | "sec" => 1,
        "m" | "min" => 60,
        "h" => 3600,
        "d" => 86400,
        other => {
            return Err(format!(
                "unknown duration unit `{other}` (use s, m, h or d)"
            ))
        }
    };
    n.checked_mul(mult)
        .ok_or_else(|| format!("duration `{s}` is too large"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn clap_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn monitor_help_names_every_topic() {
        let line = MONITOR_HELP.lines().next().unwrap_or_default();
        let named: Vec<&str> = line
            .trim_start_matches("Topics: ")
            .split(" (")
            .next()
            .unwrap_or_default()
            .split(", ")
            .collect();
        let all: Vec<&str> = headroom_ipc::Topic::ALL
            .iter()
            .map(|t| t.as_str())
            .collect();
        assert_eq!(named, all, "{line}");
    }

    #[test]
    fn negative_setting_values_parse() {
        let cli = Cli::try_parse_from(["headroom", "set", "agc.target_lufs", "-18"]).unwrap();
        match cli.command {
            Command::Set(a) => {
                assert_eq!(a.key, "agc.target_lufs");
                assert_eq!(a.value, "-18");
            }
            other => panic!("parsed as {other:?}"),
        }
        let cli = Cli::try_parse_from([
            "headroom",
            "render",
            "a.wav",
            "b.wav",
            "--set",
            "agc.target_lufs=-20",
            "--format",
            "flac,s16",
        ])
        .unwrap();
        match cli.command {
            Command::Render(r) => {
                assert_eq!(r.sets, vec!["agc.target_lufs=-20"]);
                assert_eq!(r.format, vec![FormatArg::Flac, FormatArg::S16]);
                assert_eq!(r.paths.len(), 2);
            }
            other => panic!("parsed as {other:?}"),
        }
    }

    #[test]
    fn json_flag_is_global() {
        let cli = Cli::try_parse_from(["headroom", "status", "--json"]).unwrap();
        assert!(cli.json);
        let cli = Cli::try_parse_from(["headroom", "--json", "route", "list"]).unwrap();
        assert!(cli.json);
    }

    #[test]
    fn setting_reset_needs_key_or_all() {
        assert!(Cli::try_parse_from(["headroom", "setting", "reset"]).is_err());
        assert!(Cli::try_parse_from(["headroom", "setting", "reset", "k", "--all"]).is_err());
        assert!(Cli::try_parse_from(["headroom", "setting", "reset", "--all"]).is_ok());
    }

    #[test]
    fn durations_parse() {
        assert_eq!(parse_duration_secs("90"), Ok(90));
        assert_eq!(parse_duration_secs("10m"), Ok(600));
        assert_eq!(parse_duration_secs("2h"), Ok(7200));
        assert!(parse_duration_secs("x").is_err());
        assert!(parse_duration_secs("5y").is_err());
        // A negative span is told as such, not taken for an option.
        let e = Cli::try_parse_from(["headroom", "history", "--since", "-5m"])
            .unwrap_err()
            .to_string();
        assert!(e.contains("never negative"), "{e}");
    }
}
