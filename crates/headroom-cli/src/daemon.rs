//! The commands that talk to headroomd over its control socket.

use std::io::Write;
use std::path::PathBuf;

use headroom_client::ClientError;
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
            emit(
                out,
                json,
                &serde_json::json!({"app": app, "route": route}),
                || format::route_changed(&app, Some(route)),
            )
        }
        Command::Route(RouteCmd::Unset { app }) => {
            c.route_unset(&app).map_err(err)?;
            emit(
                out,
                json,
                &serde_json::json!({"app": app, "route": null}),
                || format::route_changed(&app, None),
            )
        }
        Command::Set(a) => {
            let e = c
                .setting_set(&a.key, SettingValue::parse_cli(&a.value))
                .map_err(err)?;
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
            emit(out, json, &serde_json::json!({"settings": list}), || {
                format::settings(&list)
            })
        }
        Command::Profile(ProfileCmd::List) => {
            let p = c.profile_list().map_err(err)?;
            emit(out, json, &p, || format::profile_list(&p))
        }
        Command::Profile(ProfileCmd::Show { name }) => {
            let p = c.profile_show(name.as_deref()).map_err(err)?;
            emit(out, json, &p, || format::profile_show(&p))
        }
        Command::Profile(ProfileCmd::Use { name }) => {
            let n = c.profile_use(&name).map_err(err)?;
            emit(out, json, &serde_json::json!({"name": n}), || {
                format::profile_active(&n)
            })
        }
        Command::Profile(ProfileCmd::Reload) => {
            let n = c.profile_reload().map_err(err)?;
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
            emit(out, json, &h, || crate::history::render(&h, &view))
        }
        other => Err(CliError::failed(format!(
            "{other:?} does not talk to the daemon"
        ))),
    }
}
