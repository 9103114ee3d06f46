//! Every example in the `--help` texts works: each `headroom …` snippet parses and passes the
//! checks the command makes before it talks to the daemon (topics, setting keys and values,
//! durations, `--set` assignments), and each argument example (`e.g. \`…\``) is accepted by
//! that argument.

use clap::{CommandFactory, Parser};
use headroom_cli::cli::{Cli, Command};
use headroom_profile::{parse_assignment, Profile};

/// Backticked snippets of `text`.
fn snippets(text: &str) -> Vec<String> {
    text.split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect()
}

/// Every (sub)command's long help, with its command path.
fn helps() -> Vec<(Vec<String>, String, clap::Command)> {
    fn walk(
        cmd: &mut clap::Command,
        path: Vec<String>,
        out: &mut Vec<(Vec<String>, String, clap::Command)>,
    ) {
        let help = cmd.render_long_help().to_string();
        out.push((path.clone(), help, cmd.clone()));
        for sub in cmd.get_subcommands_mut() {
            let mut p = path.clone();
            p.push(sub.get_name().to_string());
            walk(sub, p, out);
        }
    }
    let mut out = Vec::new();
    let mut root = Cli::command();
    root.build();
    walk(&mut root, Vec::new(), &mut out);
    out
}

/// The checks a parsed example must pass before any daemon is asked.
fn check(cli: Cli, example: &str) {
    match cli.command {
        Command::Monitor(a) => {
            headroom_cli::daemon::parse_topics(&a.topics)
                .unwrap_or_else(|e| panic!("`{example}`: {e}"));
        }
        Command::Set(a) => {
            let mut p = Profile::default();
            let v = headroom_ipc::SettingValue::parse_cli(&a.value);
            let v = match v {
                headroom_ipc::SettingValue::Bool(b) => headroom_profile::SettingValue::Bool(b),
                headroom_ipc::SettingValue::Int(i) => {
                    headroom_profile::SettingValue::Number(i as f64)
                }
                headroom_ipc::SettingValue::Float(f) => headroom_profile::SettingValue::Number(f),
                headroom_ipc::SettingValue::String(s) => headroom_profile::SettingValue::String(s),
            };
            p.set(&a.key, v)
                .unwrap_or_else(|e| panic!("`{example}`: {e}"));
        }
        Command::Get { key } => {
            Profile::key_info(&key).unwrap_or_else(|e| panic!("`{example}`: {e}"));
        }
        Command::Render(r) => {
            let mut p = Profile::default();
            for s in &r.sets {
                let (k, v) = parse_assignment(s).unwrap_or_else(|e| panic!("`{example}`: {e}"));
                p.set(&k, v).unwrap_or_else(|e| panic!("`{example}`: {e}"));
            }
        }
        _ => {}
    }
}

#[test]
fn every_help_example_parses_and_passes_the_commands_checks() {
    let mut checked = 0;
    for (path, help, cmd) in helps() {
        // Whole command lines.
        for s in snippets(&help)
            .into_iter()
            .filter(|s| s.starts_with("headroom "))
        {
            let words: Vec<&str> = s.split_whitespace().collect();
            let cli = Cli::try_parse_from(&words)
                .unwrap_or_else(|e| panic!("help of {path:?}: `{s}` does not parse: {e}"));
            check(cli, &s);
            checked += 1;
        }
        // Argument examples: `e.g. `X``, in the help of the argument they belong to.
        for arg in cmd.get_arguments() {
            let Some(h) = arg.get_long_help().or(arg.get_help()) else {
                continue;
            };
            let h = h.to_string();
            let Some((_, examples)) = h.split_once("e.g.") else {
                continue;
            };
            for ex in snippets(examples) {
                if ex.starts_with("headroom ") {
                    continue; // checked above
                }
                let id = arg.get_id().as_str();
                let mut line: Vec<String> = vec!["headroom".into()];
                line.extend(path.iter().cloned());
                match (path.last().map(String::as_str), id) {
                    (Some("monitor"), "topics") => {
                        line.extend(ex.split_whitespace().map(String::from))
                    }
                    (Some("get"), "key") => line.push(ex.clone()),
                    (Some("set"), "key") => line.extend([ex.clone(), "0".into()]),
                    (Some("history"), "since") => line.extend(["--since".into(), ex.clone()]),
                    (Some("render"), "sets") => {
                        line.extend(["in.wav".into(), "out.wav".into()]);
                        line.extend(ex.split_whitespace().map(String::from));
                    }
                    _ => continue,
                }
                let text = line.join(" ");
                let cli = Cli::try_parse_from(&line)
                    .unwrap_or_else(|e| panic!("help of {path:?} {id}: `{ex}` ({text}): {e}"));
                // `set KEY 0` only checks the key.
                if path.last().map(String::as_str) != Some("set") {
                    check(cli, &text);
                } else {
                    Profile::key_info(&ex).unwrap_or_else(|e| panic!("`{ex}`: {e}"));
                }
                checked += 1;
            }
        }
    }
    assert!(checked >= 8, "only {checked} examples found");
}

#[test]
fn every_man_page_example_parses_and_passes_the_commands_checks() {
    for (line, _) in headroom_cli::manpages::EXAMPLES {
        let words: Vec<&str> = line.split_whitespace().collect();
        let cli = Cli::try_parse_from(&words).unwrap_or_else(|e| panic!("`{line}`: {e}"));
        check(cli, line);
    }
}
