//! The man pages: `headroom(1)` (clap's sections plus SETTINGS — generated from the settings
//! schema —, FILES, ENVIRONMENT, EXIT STATUS and EXAMPLES), one page per subcommand, and
//! `headroomd(1)`.

use std::io::Write;
use std::path::Path;

use clap::CommandFactory;
use clap_mangen::roff::{bold, italic, roman, Roff};
use headroom_profile::{Profile, SettingKind};

use crate::cli::Cli;

/// Text of a section: paragraphs separated by blank lines.
fn paragraphs(roff: &mut Roff, text: &str) {
    for (i, p) in text.split("\n\n").enumerate() {
        if i > 0 {
            roff.control("PP", []);
        }
        roff.text([roman(p.replace('\n', " "))]);
    }
}

/// `.TP` items: a bold tag and its text.
fn items(roff: &mut Roff, rows: &[(&str, &str)]) {
    for (tag, text) in rows {
        roff.control("TP", []);
        roff.text([bold(*tag)]);
        roff.text([roman(*text)]);
    }
}

/// The SETTINGS section: every key, its type, range, built-in default and meaning.
fn settings(roff: &mut Roff) {
    roff.control("SH", ["SETTINGS"]);
    paragraphs(
        roff,
        "Dotted keys, as in a profile file ([section] key = value) and for headroom set, get and \
         render --set. The defaults below are the built-in ones; a profile sets its own, and \
         headroom get shows the active profile's value as the default.",
    );
    for k in Profile::keys() {
        roff.control("TP", []);
        roff.text([
            bold(k.key),
            roman(" ("),
            italic(k.kind.to_string()),
            roman(")"),
        ]);
        let mut what = format!("{}. Default {}", k.doc, k.default);
        if let Some(r) = k.range {
            what.push_str(&format!("; {}", r.describe()));
        }
        if k.kind == SettingKind::Route {
            what.push_str("; \"processed\" or \"bypass\"");
        }
        if k.kind == SettingKind::Bool {
            what.push_str("; on the command line also yes/no, on/off, 1/0");
        }
        what.push('.');
        roff.text([roman(what)]);
    }
}

fn files(roff: &mut Roff) {
    roff.control("SH", ["FILES"]);
    items(
        roff,
        &[
            (
                "$XDG_CONFIG_HOME/headroom/config.toml",
                "Which profile is active (profile = \"NAME\"), written by headroom profile use; \
                 [alerts] notify = true also sends alerts as desktop notifications (read when \
                 headroomd starts; off by default). An unknown key (a typo) is ignored with a \
                 warning, logged and shown by headroom status.",
            ),
            (
                "$XDG_CONFIG_HOME/headroom/profiles/NAME.toml",
                "User profiles; one named like a shipped profile replaces it. Edits apply within a \
                 second; a broken file keeps the last good profile and is reported by headroom \
                 status and headroom validate (a broken profile that is not active is \
                 reported, and the active one is not affected).",
            ),
            (
                "/usr/share/headroom/profiles/",
                "The shipped profiles as installed (default, music, night, speech); they are also \
                 built into the binaries.",
            ),
            (
                "$XDG_STATE_HOME/headroom/",
                "Runtime state: setting overrides (headroom set), routing rules (routes.json), \
                 the history; headroomd.lock keeps a second headroomd of the same user from \
                 starting.",
            ),
            (
                "$XDG_RUNTIME_DIR/headroom/control.sock",
                "The daemon's control socket (mode 0600).",
            ),
            (
                "~/.config/systemd/user/headroomd.service, /usr/lib/systemd/user/headroomd.service",
                "The systemd user unit (headroom service install, or the package).",
            ),
        ],
    );
}

fn environment(roff: &mut Roff) {
    roff.control("SH", ["ENVIRONMENT"]);
    items(
        roff,
        &[
            (
                "HEADROOM_SOCKET",
                "Control socket path when --socket is not given; empty counts as unset \
                 (default $XDG_RUNTIME_DIR/headroom/control.sock).",
            ),
            (
                "XDG_CONFIG_HOME",
                "Where config.toml and user profiles are read (default ~/.config).",
            ),
            (
                "XDG_STATE_HOME",
                "Where overrides, rules and history are kept (default ~/.local/state).",
            ),
            ("XDG_RUNTIME_DIR", "Where the control socket lives."),
        ],
    );
}

fn exit_status(roff: &mut Roff) {
    roff.control("SH", ["EXIT STATUS"]);
    items(
        roff,
        &[
            ("0", "Success."),
            (
                "1",
                "The daemon refused the request, or bad input (unreadable file, invalid profile).",
            ),
            (
                "2",
                "Usage error: unknown command, missing or malformed argument.",
            ),
            ("3", "headroomd is not running."),
            (
                "130, 143",
                "render was stopped by SIGINT or SIGTERM (its partial output removed).",
            ),
        ],
    );
    paragraphs(
        roff,
        "With --json an error is also printed on standard output as \
         {\"error\":{\"code\":CODE,\"message\":TEXT}}; CODE is the daemon's error code \
         (unknown_key, invalid_value, not_found, ...) or failed, usage, daemon_down, io, \
         interrupted.",
    );
}

/// The EXAMPLES section (each one is checked by the test of the help texts' examples).
pub const EXAMPLES: &[(&str, &str)] = &[
    (
        "headroom status",
        "Where audio goes, the profile, loudness in and out, gains.",
    ),
    (
        "headroom route set firefox bypass",
        "Send Firefox straight to the speakers.",
    ),
    (
        "headroom profile use speech",
        "Strong levelling for dialogue.",
    ),
    (
        "headroom set agc.target_lufs -18",
        "Louder target; persists.",
    ),
    (
        "headroom set limiter.enabled off",
        "Booleans take on/off, yes/no, 1/0.",
    ),
    (
        "headroom monitor meters routing",
        "Live view of two topics.",
    ),
    (
        "headroom render in.wav out.wav --profile night --set agc.target_lufs=-20",
        "Run the chain over a file.",
    ),
    (
        "headroom validate my.toml",
        "Every error of a profile, file:line:col.",
    ),
];

fn examples(roff: &mut Roff) {
    roff.control("SH", ["EXAMPLES"]);
    items(roff, EXAMPLES);
}

/// `headroom(1)`.
pub fn headroom_page(out: &mut dyn Write) -> std::io::Result<()> {
    let man = clap_mangen::Man::new(Cli::command());
    man.render_title(out)?;
    man.render_name_section(out)?;
    man.render_synopsis_section(out)?;
    man.render_description_section(out)?;
    man.render_options_section(out)?;
    man.render_subcommands_section(out)?;
    let mut roff = Roff::default();
    settings(&mut roff);
    files(&mut roff);
    environment(&mut roff);
    exit_status(&mut roff);
    examples(&mut roff);
    roff.control("SH", ["SEE ALSO"]);
    roff.text([roman(
        "headroomd(1), headroom-SUBCOMMAND(1) for each subcommand, pipewire(1), wireplumber(1)",
    )]);
    roff.to_writer(out)?;
    man.render_version_section(out)
}

/// `headroomd(1)`.
pub fn headroomd_page(out: &mut dyn Write) -> std::io::Result<()> {
    let mut roff = Roff::default();
    roff.control(
        "TH",
        [
            "headroomd",
            "1",
            "",
            &format!("headroomd {}", env!("CARGO_PKG_VERSION")),
        ],
    );
    roff.control("SH", ["NAME"]);
    roff.text([roman(
        "headroomd - system-wide loudness leveller for PipeWire",
    )]);
    roff.control("SH", ["SYNOPSIS"]);
    roff.text([
        bold("headroomd"),
        roman(" ["),
        bold("--config"),
        roman(" "),
        italic("PATH"),
        roman("] ["),
        bold("--real-sink"),
        roman(" "),
        italic("NODE_NAME"),
        roman("] ["),
        bold("--bypass"),
        roman("] ["),
        bold("--promote-default"),
        roman("]"),
    ]);
    roff.control("SH", ["DESCRIPTION"]);
    paragraphs(
        &mut roff,
        "headroomd provides the PipeWire sink \"Headroom (processed)\" (node headroom-processed) \
         and plays what reaches it, levelled, into the real output device: an AGC toward a LUFS \
         target, a compressor and a lookahead true-peak limiter. It routes application streams \
         into it by rules, turns single loud applications down with per-stream taps (Layer A), \
         follows profile files as they change and answers the headroom command on a Unix \
         socket. It normally runs as a systemd user service (headroomd.service).\n\n\
         A stream the user moved to another output, or whose application chose its own, is \
         left there unless a rule for that application says processed; notification sounds \
         bypass by default. On exit the daemon moves the streams it routed back and removes \
         its sink.",
    );
    roff.control("SH", ["OPTIONS"]);
    items(
        &mut roff,
        &[
            (
                "--config PATH",
                "Config file (default $XDG_CONFIG_HOME/headroom/config.toml).",
            ),
            (
                "--real-sink NODE_NAME",
                "Play into this sink when it exists, instead of the default sink (also \
                 HEADROOM_REAL_SINK). Wins over the profile's preferred_real_sink.",
            ),
            ("--bypass", "Start with the levelling chain bypassed."),
            (
                "--promote-default",
                "Make headroom-processed the default sink while running (the previous default \
                 becomes the real sink and is restored on exit); same as \
                 route.promote_default = true.",
            ),
            ("-h, --help", "Print help."),
            ("-V, --version", "Print the version."),
        ],
    );
    roff.control("SH", ["ENVIRONMENT"]);
    items(
        &mut roff,
        &[
            ("HEADROOM_REAL_SINK", "As --real-sink."),
            (
                "HEADROOM_SOCKET",
                "Control socket path (empty counts as unset).",
            ),
            (
                "RUST_LOG",
                "Log filter, e.g. debug or warn,headroomd=debug (default info); logs go to \
                 standard error (the journal under systemd).",
            ),
            (
                "XDG_CONFIG_HOME, XDG_STATE_HOME, XDG_RUNTIME_DIR",
                "Where configuration, state and the socket live; see headroom(1), FILES.",
            ),
        ],
    );
    files(&mut roff);
    roff.control("SH", ["SIGNALS"]);
    paragraphs(
        &mut roff,
        "SIGTERM, SIGINT and SIGHUP (the terminal it runs in closed) stop the daemon cleanly: \
         stream volumes restored, streams moved back, the sink removed, the history written. \
         After SIGKILL or a crash its guard process (headroom-guard, started with it) puts \
         the streams' Layer A volumes back at 1 and exits.\n\n\
         A stopped headroomd would silence every stream playing through its sink, so it does \
         not stop: SIGTSTP (Ctrl-Z) is logged and ignored, and SIGTTOU does not stop it in a \
         terminal's background. SIGSTOP cannot be ignored: while a stream plays through the \
         sink, or the sink is the default, the guard sends SIGCONT within about a second and \
         says so in the log; a stop by a debugger is left alone.",
    );
    roff.control("SH", ["EXIT STATUS"]);
    paragraphs(
        &mut roff,
        "0 after a clean stop; non-zero when it cannot start (e.g. another headroomd of the \
         same user is running, whatever its socket, or the socket directory is unusable).",
    );
    roff.control("SH", ["EXAMPLES"]);
    items(
        &mut roff,
        &[
            (
                "systemctl --user enable --now headroomd",
                "Run it as a user service.",
            ),
            ("journalctl --user -u headroomd", "Read its log."),
            (
                "headroomd --real-sink alsa_output.usb-headset --bypass",
                "Run it by hand.",
            ),
        ],
    );
    roff.control("SH", ["SEE ALSO"]);
    roff.text([roman("headroom(1), pipewire(1), wireplumber(1)")]);
    roff.to_writer(out)
}

/// Writes headroom.1, headroom-SUBCOMMAND.1 for every subcommand and headroomd.1 into `dir`.
pub fn write_all(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    clap_mangen::generate_to(Cli::command(), dir)?;
    let mut page = Vec::new();
    headroom_page(&mut page)?;
    std::fs::write(dir.join("headroom.1"), page)?;
    let mut page = Vec::new();
    headroomd_page(&mut page)?;
    std::fs::write(dir.join("headroomd.1"), page)
}

/// Stands for the profile names in the generated scripts until [`completion_script`] puts
/// the call that lists them at completion time in its place.
const PROFILE_NAMES: &str = "__headroom_profile_names__";

/// The command that lists the profile names when a shell completes one (quiet, names only).
pub const PROFILE_NAMES_COMMAND: &str = "headroom profile list --names 2>/dev/null";

/// The command as the completion scripts see it: the same grammar, with the values a user
/// picks from offered for completion — setting keys (`set`, `get`, `setting reset`), topics
/// (`monitor`), profile names (`profile use|show`; a stand-in here, see [`completion_script`];
/// `render --profile` keeps completing files, since it takes a path too) and rule modes (already choices). Only the scripts use it: the real
/// parser keeps its own checks and messages.
pub fn completion_command() -> clap::Command {
    use clap::builder::PossibleValuesParser;
    let keys: Vec<&'static str> = Profile::keys().iter().map(|k| k.key).collect();
    let topics: Vec<&'static str> = headroom_ipc::Topic::ALL
        .iter()
        .map(|t| t.as_str())
        .collect();
    let key_arg = |a: clap::Arg| a.value_parser(PossibleValuesParser::new(keys.clone()));
    let profile_arg = |a: clap::Arg| a.value_parser(PossibleValuesParser::new([PROFILE_NAMES]));
    Cli::command()
        .mut_subcommand("set", |c| c.mut_arg("key", key_arg))
        .mut_subcommand("get", |c| c.mut_arg("key", key_arg))
        .mut_subcommand("setting", |c| {
            c.mut_subcommand("reset", |r| r.mut_arg("key", key_arg))
        })
        .mut_subcommand("monitor", |c| {
            c.mut_arg("topics", |a| {
                a.value_parser(PossibleValuesParser::new(topics.clone()))
            })
        })
        .mut_subcommand("profile", |c| {
            c.mut_subcommand("use", |u| u.mut_arg("name", profile_arg))
                .mut_subcommand("show", |u| u.mut_arg("name", profile_arg))
        })
}

/// The completion script for `shell`. Profile names are listed when the shell completes one,
/// by running [`PROFILE_NAMES_COMMAND`] (a profile added after the script was installed is
/// offered too): bash and fish run it in place of the list, zsh through a function of the
/// script (`_headroom_profile_names`). Other shells get clap's script with no profile names.
pub fn completion_script(shell: clap_complete::Shell) -> Vec<u8> {
    use clap_complete::Shell;
    // clap_complete panics on a failed write: generate into memory.
    let mut script = Vec::new();
    let mut cmd = completion_command();
    clap_complete::generate(shell, &mut cmd, "headroom", &mut script);
    let mut script = String::from_utf8_lossy(&script).into_owned();
    match shell {
        Shell::Bash => {
            script = script.replace(PROFILE_NAMES, &format!("$({PROFILE_NAMES_COMMAND})"));
        }
        Shell::Zsh => {
            script = script.replace(&format!("({PROFILE_NAMES})"), "_headroom_profile_names");
            let function = format!(
                "(( $+functions[_headroom_profile_names] )) ||\n\
                 _headroom_profile_names() {{\n    \
                 local -a names\n    \
                 names=(${{(f)\"$({PROFILE_NAMES_COMMAND})\"}})\n    \
                 _describe -t profiles 'profile' names\n\
                 }}\n\n"
            );
            let at = script
                .find("if [ \"$funcstack[1]\" = \"_headroom\" ]")
                .unwrap_or(script.len());
            script.insert_str(at, &function);
        }
        Shell::Fish => {
            script.push_str(&fish_positionals(&cmd));
            script = script.replace(PROFILE_NAMES, &format!("({PROFILE_NAMES_COMMAND})"));
        }
        _ => {
            script = script.replace(PROFILE_NAMES, "");
        }
    }
    script.into_bytes()
}

/// Lines appended to the fish script: clap's fish generator completes options and
/// subcommands only, so the positional values (setting keys, topics, profile names, modes)
/// are offered here, from the same lists as [`completion_command`].
pub fn fish_positionals(cmd: &clap::Command) -> String {
    fn values(cmd: &clap::Command, path: &[&str], arg: &str) -> Vec<String> {
        let mut c = cmd;
        for p in path {
            match c.find_subcommand(p) {
                Some(s) => c = s,
                None => return Vec::new(),
            }
        }
        c.get_arguments()
            .find(|a| a.get_id() == arg)
            .map(|a| {
                a.get_possible_values()
                    .iter()
                    .map(|v| v.get_name().to_string())
                    .collect()
            })
            .unwrap_or_default()
    }
    let rows: [(&[&str], &str, String); 8] = [
        (
            &["set"],
            "key",
            "__fish_headroom_using_subcommand set".into(),
        ),
        (
            &["get"],
            "key",
            "__fish_headroom_using_subcommand get".into(),
        ),
        (
            &["setting", "reset"],
            "key",
            "__fish_headroom_using_subcommand setting; and __fish_seen_subcommand_from reset"
                .into(),
        ),
        (
            &["monitor"],
            "topics",
            "__fish_headroom_using_subcommand monitor".into(),
        ),
        (
            &["profile", "use"],
            "name",
            "__fish_headroom_using_subcommand profile; and __fish_seen_subcommand_from use".into(),
        ),
        (
            &["profile", "show"],
            "name",
            "__fish_headroom_using_subcommand profile; and __fish_seen_subcommand_from show".into(),
        ),
        (
            &["bypass"],
            "mode",
            "__fish_headroom_using_subcommand bypass".into(),
        ),
        (
            &["route", "set"],
            "route",
            "__fish_headroom_using_subcommand route; and __fish_seen_subcommand_from set".into(),
        ),
    ];
    let mut out = String::from("\n# Values of positional arguments.\n");
    for (path, arg, cond) in rows {
        let v = values(cmd, path, arg);
        if !v.is_empty() {
            out.push_str(&format!(
                "complete -c headroom -n \"{cond}\" -f -a \"{}\"\n",
                v.join(" ")
            ));
        }
    }
    out
}
