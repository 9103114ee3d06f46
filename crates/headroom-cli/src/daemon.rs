//! The commands that talk to headroomd over its control socket.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;

use headroom_client::{Client, ClientError};
use headroom_ipc::{BypassMode, Route, SettingValue, Topic};

use crate::cli::{self, Command, ProfileCmd, RouteCmd, SettingCmd};
use crate::connection::{client_error, connect, socket_path};
use crate::error::{CliError, CliResult};
use crate::format;
use crate::output::emit;

/// Parses topic names (`meters`, `routing`, …); empty means every topic.
pub fn parse_topics(names: &[String]) -> CliResult<Vec<Topic>> {
    if names.is_empty() {
        return Ok(Topic::ALL.to_vec());
    }
    names
        .iter()
        .flat_map(|n| n.split(','))
        .filter(|n| !n.is_empty())
        .map(|n| {
            n.parse::<Topic>().map_err(|_| {
                let all: Vec<&str> = Topic::ALL.iter().map(|t| t.as_str()).collect();
                CliError::usage(format!("unknown topic `{n}` (topics: {})", all.join(", ")))
            })
        })
        .collect()
}

/// The `--plot` size: the terminal's width (at most 200) and height less 4 (16 to 40), or
/// 80 × 24 off a terminal; `height` when given.
fn plot_size(height: Option<u16>) -> (u16, u16) {
    let term = std::io::stdout()
        .is_terminal()
        .then(|| crossterm::terminal::size().ok())
        .flatten();
    let (w, h) = term.map_or((80, 24), |(w, h)| {
        (w.clamp(40, 200), h.saturating_sub(4).clamp(16, 40))
    });
    (w, height.unwrap_or(h))
}

/// Prints the warning the daemon's last reply carried (the request was carried out, but
/// e.g. could not be saved), on standard error.
fn warn_of(c: &Client) {
    if let Some(w) = c.warning() {
        eprintln!("headroom: warning: {}", format::printable_text(w));
    }
}

/// Runs a daemon command.
pub fn run(cmd: Command, socket: Option<PathBuf>, json: bool, out: &mut dyn Write) -> CliResult {
    let path = socket_path(socket);
    if let Command::Monitor(args) = cmd {
        let topics = parse_topics(&args.topics)?;
        return crate::monitor::run(&path, &topics, json, !args.no_wait, out);
    }
    let mut c = connect(&path)?;
    let err = |e: ClientError| client_error(e, &path);
    match cmd {
        Command::Status => {
            let s = c.status().map_err(err)?;
            emit(out, json, &s, || format::status(&s))
        }
        Command::Route(RouteCmd::List) => {
            let r = c.route_list().map_err(err)?;
            // The human form starts with where the output goes (and whether headroom is the
            // default sink); `--json` stays the `routes` reply.
            let status = if json { None } else { c.status().ok() };
            emit(out, json, &r, || {
                let head = status.as_ref().map(format::output_line).unwrap_or_default();
                format!("{head}{}", format::routes(&r))
            })
        }
        Command::Route(RouteCmd::Set { app, route }) => {
            let route = match route {
                cli::RouteMode::Processed => Route::Processed,
                cli::RouteMode::Bypass => Route::Bypass,
            };
            c.route_set(&app, route).map_err(err)?;
            warn_of(&c);
            if let Some(w) = c
                .route_list()
                .ok()
                .and_then(|r| unmatched_rule_warning(&app, &r))
            {
                eprintln!("headroom: warning: {}", format::printable_text(&w));
            }
            emit(
                out,
                json,
                &serde_json::json!({"app": app, "route": route}),
                || format::route_changed(&app, Some(route)),
            )
        }
        Command::Route(RouteCmd::Unset { app }) => {
            c.route_unset(&app).map_err(err)?;
            warn_of(&c);
            emit(
                out,
                json,
                &serde_json::json!({"app": app, "route": null}),
                || format::route_changed(&app, None),
            )
        }
        Command::Set(a) => {
            let e = c
                .setting_set(&a.key, cli_value(&a.key, &a.value))
                .map_err(err)?;
            warn_of(&c);
            emit(out, json, &e, || format::setting(&e))
        }
        Command::Get { key } => {
            let e = c.setting_get(&key).map_err(err)?;
            emit(out, json, &e, || format::setting(&e))
        }
        Command::Settings => {
            let list = c.setting_list().map_err(err)?;
            emit(out, json, &serde_json::json!({"settings": list}), || {
                format::settings(&list)
            })
        }
        Command::Setting(SettingCmd::Reset(a)) => {
            let key = if a.all { None } else { a.key.as_deref() };
            let list = c.setting_reset(key).map_err(err)?;
            warn_of(&c);
            emit(out, json, &serde_json::json!({"settings": list}), || {
                format::settings(&list)
            })
        }
        Command::Profile(ProfileCmd::List { .. }) => {
            let p = c.profile_list().map_err(err)?;
            emit(out, json, &p, || format::profile_list(&p))
        }
        Command::Profile(ProfileCmd::Show { name }) => {
            let name = name.map(|n| profile_arg(&n));
            let p = c.profile_show(name.as_deref()).map_err(err)?;
            emit(out, json, &p, || format::profile_show(&p))
        }
        Command::Profile(ProfileCmd::Use { name }) => {
            let n = c.profile_use(&profile_arg(&name)).map_err(err)?;
            warn_of(&c);
            emit(out, json, &serde_json::json!({"name": n}), || {
                format::profile_active(&n)
            })
        }
        Command::Profile(ProfileCmd::Reload) => {
            let n = c.profile_reload().map_err(err)?;
            warn_of(&c);
            emit(out, json, &serde_json::json!({"name": n}), || {
                format::profile_active(&n)
            })
        }
        Command::Bypass { mode } => {
            let mode = match mode {
                cli::BypassMode::On => BypassMode::On,
                cli::BypassMode::Off => BypassMode::Off,
                cli::BypassMode::Toggle => BypassMode::Toggle,
            };
            let on = c.bypass_set(mode).map_err(err)?;
            warn_of(&c);
            emit(out, json, &serde_json::json!({"bypass": on}), || {
                format::bypass(on)
            })
        }
        Command::History(a) => {
            let h = c.history(Some(a.since)).map_err(err)?;
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as u64);
            let view = crate::history::View::new(a.every.max(1) * 1000, a.utc, Some(a.since), now);
            if a.summary {
                let s = crate::history::summary(&h);
                return emit(out, json, &s, || crate::history::render_summary(&h, &view));
            }
            if a.plot {
                if json {
                    return Err(CliError::usage(
                        "--plot draws a chart; use --json without --plot for the samples",
                    ));
                }
                let (w, height) = plot_size(a.height);
                let color =
                    std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
                let text = crate::history::render_plot(&h, &view, w, height, color);
                out.write_all(text.as_bytes())?;
                return Ok(());
            }
            emit(out, json, &h, || crate::history::render(&h, &view))
        }
        other => Err(CliError::failed(format!(
            "{other:?} does not talk to the daemon"
        ))),
    }
}

/// The warning for `route set APP …` when no playing stream and no other rule's app matches
/// `app` (a typo such as `firefx`): the rule is kept, the user is told, with the nearest app
/// names known to the daemon. `None` when something matches.
pub fn unmatched_rule_warning(app: &str, routes: &headroom_ipc::Routes) -> Option<String> {
    let glob = headroom_profile::Glob::new(app).ok()?;
    let mut names: Vec<&str> = Vec::new();
    for s in &routes.streams {
        names.extend(std::iter::once(s.app.as_str()).filter(|a| !a.is_empty()));
        names.extend(s.binary.as_deref());
    }
    // Apps named by other rules are known too (an app that is not playing right now) —
    // when a rule names one: a pattern (`Ardour*`) names no app, and was offered as one
    // ("known apps: Ardour*").
    names.extend(
        routes
            .rules
            .iter()
            .map(|r| r.app.as_str())
            .filter(|a| !a.eq_ignore_ascii_case(app) && !a.contains('=') && !is_pattern(a)),
    );
    if names.iter().any(|n| glob.matches(n)) {
        return None;
    }
    names.sort_by_key(|n| n.to_lowercase());
    names.dedup_by(|a, b| a.eq_ignore_ascii_case(b));
    let lower = app.to_lowercase();
    let lowered: Vec<String> = names.iter().map(|n| n.to_lowercase()).collect();
    let near = headroom_profile::closest(&lower, lowered.iter().map(String::as_str))
        .and_then(|l| names.iter().find(|n| n.to_lowercase() == l));
    // Names come from the user and from other programs: control characters written out.
    let p = crate::format::printable;
    let mut msg = format!(
        "no playing stream or known app matches `{}`; the rule is kept and applies when \
         such an app plays",
        p(app)
    );
    if let Some(n) = near {
        msg.push_str(&format!(" — did you mean `{}`?", p(n)));
    } else if !names.is_empty() {
        let names: Vec<String> = names.iter().map(|n| p(n)).collect();
        msg.push_str(&format!(" (known apps: {})", names.join(", ")));
    }
    Some(msg)
}

/// Whether a rule's app holds glob syntax (see [`headroom_profile::Glob`]): then it is a
/// pattern, not an app's name.
fn is_pattern(app: &str) -> bool {
    app.contains(['*', '?', '[', '\\'])
}

/// A profile named by path (it holds a `/` or ends in `.toml`, as the daemon tells them) is
/// sent made absolute against this command's working directory: the daemon reads a relative
/// path against its config directory, not against where `headroom` was run. A name is sent
/// as it is.
fn profile_arg(name: &str) -> String {
    let path = std::path::Path::new(name);
    if (name.contains('/') || name.ends_with(".toml")) && path.is_relative() {
        if let Ok(abs) = std::path::absolute(path) {
            return abs.to_string_lossy().into_owned();
        }
    }
    name.to_owned()
}

#[cfg(test)]
mod tests {
    use super::profile_arg;

    #[test]
    fn a_profile_path_is_sent_absolute_and_a_name_as_it_is() {
        let cwd = std::env::current_dir().unwrap();
        assert_eq!(profile_arg("night"), "night");
        assert_eq!(profile_arg("/etc/x.toml"), "/etc/x.toml");
        for rel in ["./mine.toml", "mine.toml", "sub/mine"] {
            let sent = profile_arg(rel);
            assert!(std::path::Path::new(&sent).is_absolute(), "{rel} → {sent}");
            assert!(sent.starts_with(&*cwd.to_string_lossy()), "{rel} → {sent}");
            assert!(
                sent.ends_with(rel.trim_start_matches("./")),
                "{rel} → {sent}"
            );
        }
    }
}

/// The value `headroom set KEY VALUE` sends: a text setting (`description`,
/// `preferred_real_sink`, a route) gets the text exactly as typed — read as a number, `007`
/// became `7` and `1e3` `1000`, so a sink whose name looks like a number could not be named;
/// any other key (and one this build does not know) is read as a boolean, a number or text
/// ([`SettingValue::parse_cli`]).
fn cli_value(key: &str, value: &str) -> SettingValue {
    use headroom_profile::{Profile, SettingKind};
    let text = Profile::keys()
        .iter()
        .find(|k| k.key == key)
        .is_some_and(|k| matches!(k.kind, SettingKind::String | SettingKind::Route));
    if text {
        SettingValue::String(value.to_owned())
    } else {
        SettingValue::parse_cli(value)
    }
}

#[cfg(test)]
mod value_tests {
    use super::*;

    #[test]
    fn text_settings_are_sent_as_typed_and_numbers_as_numbers() {
        for v in ["007", "1e3", "99999999999999999999", "+5", "true", "-16.0"] {
            assert_eq!(
                cli_value("preferred_real_sink", v),
                SettingValue::String(v.to_owned())
            );
            assert_eq!(
                cli_value("description", v),
                SettingValue::String(v.to_owned())
            );
        }
        assert_eq!(cli_value("agc.target_lufs", "-20"), SettingValue::Int(-20));
        assert_eq!(
            cli_value("agc.target_lufs", "-20.5"),
            SettingValue::Float(-20.5)
        );
        assert_eq!(cli_value("bypass", "true"), SettingValue::Bool(true));
        assert_eq!(cli_value("no.such.key", "007"), SettingValue::Int(7));
    }
}
