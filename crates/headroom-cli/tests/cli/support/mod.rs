//! Helpers of the CLI's tests: the built binary, its output as text, a private tmux server,
//! and ([`audio`]) the audio fixtures of the offline commands.

pub mod audio;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// The `headroom` binary built for these tests.
pub const BIN: &str = env!("CARGO_BIN_EXE_headroom");

/// Runs `headroom ARGS…` in `dir` with a private runtime and config directory, so no real
/// daemon or user file is used.
pub fn headroom(dir: &Path, args: &[&str]) -> Output {
    in_private_dirs(Command::new(BIN).args(args), dir)
        .output()
        .expect("run headroom")
}

/// `cmd` run in `dir`, with `dir` as its runtime directory, home and (`dir/config`) config
/// directory, and no `HEADROOM_SOCKET`: no real daemon or user file is reached.
pub fn in_private_dirs<'a>(cmd: &'a mut Command, dir: &Path) -> &'a mut Command {
    cmd.current_dir(dir)
        .env_remove("HEADROOM_SOCKET")
        .env("XDG_RUNTIME_DIR", dir)
        .env("XDG_CONFIG_HOME", dir.join("config"))
        .env("HOME", dir)
}

/// Output bytes as text (lossy).
pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Asserts that `out` exited with `code` and said `needle` on stderr (shown when not).
#[track_caller]
pub fn assert_fails(out: &Output, code: i32, needle: &str) {
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(code), "{err}");
    assert!(err.contains(needle), "stderr lacks {needle:?}: {err}");
}

/// A private tmux server (own socket) with one session `mon`; killed on drop.
pub struct Tmux {
    /// The server's socket.
    pub sock: PathBuf,
}

impl Tmux {
    /// Starts `headroom monitor` with the sandbox's environment in a `width`×`height` session
    /// `mon` of a private server (its socket in the sandbox); `then` runs in the same shell
    /// after the monitor exits (e.g. to keep the pane or record the exit code).
    pub fn start_monitor(
        sb: &headroom_tests::Sandbox,
        width: u16,
        height: u16,
        then: &str,
    ) -> Tmux {
        if Command::new("tmux").arg("-V").output().is_err() {
            panic!("tmux is not installed: run `make deps`");
        }
        let tmux = Tmux {
            sock: sb.path("tmux.sock"),
        };
        let env: Vec<String> = sb
            .env()
            .iter()
            .map(|(k, v)| format!("{k}='{}'", v.to_string_lossy()))
            .collect();
        let shell = format!("env {} '{}' monitor; {then}", env.join(" "), BIN);
        let (w, h) = (width.to_string(), height.to_string());
        let out = tmux.cmd(&["new-session", "-d", "-s", "mon", "-x", &w, "-y", &h, &shell]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        tmux
    }

    /// Runs `tmux -S SOCK ARGS…`.
    pub fn cmd(&self, args: &[&str]) -> Output {
        Command::new("tmux")
            .arg("-S")
            .arg(&self.sock)
            .args(args)
            .output()
            .expect("tmux")
    }

    /// The visible text of the session's pane.
    pub fn pane(&self) -> String {
        String::from_utf8_lossy(&self.cmd(&["capture-pane", "-p", "-t", "mon"]).stdout).into_owned()
    }

    /// A tmux format value of the session, e.g. `#{alternate_on}`.
    pub fn display(&self, what: &str) -> String {
        String::from_utf8_lossy(&self.cmd(&["display", "-p", "-t", "mon", what]).stdout)
            .trim()
            .to_string()
    }

    /// Polls the pane until `f` holds (15 s at most); returns the pane that satisfied it.
    pub fn wait(&self, what: &str, mut f: impl FnMut(&str) -> bool) -> String {
        let start = Instant::now();
        loop {
            let pane = self.pane();
            if f(&pane) {
                return pane;
            }
            assert!(
                start.elapsed() < Duration::from_secs(15),
                "timed out waiting for {what}; pane:\n{pane}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.cmd(&["kill-server"]);
    }
}
