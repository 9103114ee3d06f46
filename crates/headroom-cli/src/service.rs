//! `headroom service install|uninstall`: the systemd user unit for headroomd.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::error::{CliError, CliResult};

/// The unit file shipped in `dist/headroomd.service`, with `ExecStart=` pointing at
/// `%h/.local/bin/headroomd`.
pub const UNIT_TEMPLATE: &str = include_str!("../../../dist/headroomd.service");

/// Name of the unit.
pub const UNIT_NAME: &str = "headroomd.service";

/// Returns the unit text with `ExecStart=` set to `exec` (other lines unchanged), written
/// as systemd reads a command line ([`exec_word`]).
pub fn unit_with_exec(exec: &Path) -> String {
    let mut out = String::with_capacity(UNIT_TEMPLATE.len() + 64);
    for line in UNIT_TEMPLATE.lines() {
        if line.starts_with("ExecStart=") {
            out.push_str("ExecStart=");
            out.push_str(&exec_word(&exec.display().to_string()));
        } else {
            out.push_str(line);
        }
        out.push('\n');
    }
    out
}

/// `path` as one word of a systemd command line (`systemd.service(5)`, "Command lines"):
/// `%` doubled (systemd expands `%` specifiers), and the word double-quoted, with `\` and
/// `"` escaped, when it holds whitespace, quotes, a backslash or a semicolon (written bare,
/// `/opt/my apps/headroomd` was the command `/opt/my` with an argument).
pub fn exec_word(path: &str) -> String {
    let p = path.replace('%', "%%");
    if !p
        .chars()
        .any(|c| c.is_whitespace() || matches!(c, '"' | '\'' | '\\' | ';'))
    {
        return p;
    }
    let mut q = String::with_capacity(p.len() + 2);
    q.push('"');
    for c in p.chars() {
        match c {
            '"' => q.push_str("\\\""),
            '\\' => q.push_str("\\\\"),
            '\n' => q.push_str("\\n"),
            '\t' => q.push_str("\\t"),
            c => q.push(c),
        }
    }
    q.push('"');
    q
}

/// `~/.config/systemd/user` (honours `$XDG_CONFIG_HOME`).
pub fn user_unit_dir() -> CliResult<PathBuf> {
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))
        .ok_or_else(|| CliError::failed("neither XDG_CONFIG_HOME nor HOME is set"))?;
    Ok(base.join("systemd").join("user"))
}

/// Finds the headroomd binary: next to the running `headroom`, else on `PATH`.
pub fn find_headroomd() -> Option<PathBuf> {
    if let Some(dir) = std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(Path::to_path_buf))
    {
        let p = dir.join("headroomd");
        if p.is_file() {
            return Some(p);
        }
    }
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|d| d.join("headroomd"))
        .find(|p| p.is_file())
}

fn systemctl(args: &[&str]) -> CliResult {
    let status = Command::new("systemctl")
        .arg("--user")
        .args(args)
        .status()
        .map_err(|e| CliError::failed(format!("cannot run systemctl: {e}")))?;
    if status.success() {
        Ok(())
    } else {
        Err(CliError::failed(format!(
            "`systemctl --user {}` failed ({status})",
            args.join(" ")
        )))
    }
}

/// Writes the unit into `dir` with `ExecStart=exec`; returns the unit path.
pub fn write_unit(dir: &Path, exec: &Path) -> CliResult<PathBuf> {
    std::fs::create_dir_all(dir)
        .map_err(|e| CliError::failed(format!("cannot create {}: {e}", dir.display())))?;
    let path = dir.join(UNIT_NAME);
    std::fs::write(&path, unit_with_exec(exec))
        .map_err(|e| CliError::failed(format!("cannot write {}: {e}", path.display())))?;
    Ok(path)
}

/// `headroom service install`.
pub fn install(exec: Option<PathBuf>, no_enable: bool) -> CliResult<String> {
    let exec = match exec {
        Some(p) => p,
        None => find_headroomd().ok_or_else(|| {
            CliError::failed(
                "cannot find the headroomd binary next to headroom or on PATH; pass --exec PATH",
            )
        })?,
    };
    let exec = std::fs::canonicalize(&exec)
        .map_err(|e| CliError::failed(format!("{}: {e}", exec.display())))?;
    let path = write_unit(&user_unit_dir()?, &exec)?;
    let mut msg = format!("wrote {}\n", path.display());
    if !no_enable {
        systemctl(&["daemon-reload"])?;
        systemctl(&["enable", "--now", UNIT_NAME])?;
        msg.push_str("enabled and started headroomd.service\n");
    }
    Ok(msg)
}

/// `headroom service uninstall`.
pub fn uninstall(no_enable: bool) -> CliResult<String> {
    let path = user_unit_dir()?.join(UNIT_NAME);
    let mut msg = String::new();
    if !no_enable {
        // The unit may already be stopped or unknown; removing the file is what matters.
        let _ = systemctl(&["disable", "--now", UNIT_NAME]);
    }
    match std::fs::remove_file(&path) {
        Ok(()) => msg.push_str(&format!("removed {}\n", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            msg.push_str(&format!("{} was not installed\n", path.display()))
        }
        Err(e) => {
            return Err(CliError::failed(format!(
                "cannot remove {}: {e}",
                path.display()
            )))
        }
    }
    if !no_enable {
        let _ = systemctl(&["daemon-reload"]);
    }
    Ok(msg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exec_start_is_rewritten() {
        let text = unit_with_exec(Path::new("/opt/x/headroomd"));
        assert!(text.contains("\nExecStart=/opt/x/headroomd\n"), "{text}");
        assert_eq!(text.matches("ExecStart=").count(), 1);
        assert!(text.contains("WantedBy=default.target"));
    }

    #[test]
    fn exec_start_is_one_word_for_systemd_whatever_the_path() {
        assert_eq!(exec_word("/usr/bin/headroomd"), "/usr/bin/headroomd");
        assert_eq!(
            exec_word("/tmp/dir with space/headroomd"),
            "\"/tmp/dir with space/headroomd\""
        );
        assert_eq!(exec_word("/opt/100%r/headroomd"), "/opt/100%%r/headroomd");
        assert_eq!(exec_word("/a \"b\"/c\\d"), "\"/a \\\"b\\\"/c\\\\d\"");
        let text = unit_with_exec(Path::new("/tmp/my apps/headroomd"));
        assert!(
            text.contains("\nExecStart=\"/tmp/my apps/headroomd\"\n"),
            "{text}"
        );
    }

    #[test]
    fn write_unit_creates_the_directory() {
        let dir = tempfile::tempdir().unwrap();
        let sub = dir.path().join("systemd/user");
        let p = write_unit(&sub, Path::new("/usr/bin/true")).unwrap();
        let text = std::fs::read_to_string(p).unwrap();
        assert!(text.contains("ExecStart=/usr/bin/true"));
    }
}
