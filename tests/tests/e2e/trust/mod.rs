//! What users rely on, end to end: a bypass that lifts every change headroom makes, settings
//! that show the active profile's values, an app's own choice of output respected, `route
//! list` saying where a stream plays, machine-readable errors.

mod bypass;
mod choices;
mod defaults;
mod errors;

use std::path::PathBuf;

use headroom_tests::Sandbox;

/// A client of the sandbox's daemon, once its socket answers.
pub fn client(sb: &Sandbox) -> headroom_client::Client {
    headroom_tests::wait_for("control socket", std::time::Duration::from_secs(5), || {
        Ok(headroom_client::Client::connect_to(sb.control_socket()).ok())
    })
    .expect("control socket")
}

/// Writes `toml` as the user profile `name` of `sb` (not made active).
pub fn write_user_profile(sb: &Sandbox, name: &str, toml: &str) -> PathBuf {
    let dir = PathBuf::from(&sb.env()["XDG_CONFIG_HOME"]).join("headroom/profiles");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(&path, toml).unwrap();
    path
}

/// What one `headroom` command printed.
pub struct CliRun {
    /// Exit code.
    pub code: i32,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

/// Runs the `headroom` command line inside the sandbox.
pub fn headroom(sb: &Sandbox, args: &[&str]) -> CliRun {
    let bin = headroom_tests::workspace_bin("headroom").expect("headroom built");
    let out = sb.command(bin).args(args).output().unwrap();
    CliRun {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Runs `headroom ARGS`, asserting it succeeded; its standard output.
pub fn headroom_ok(sb: &Sandbox, args: &[&str]) -> String {
    let r = headroom(sb, args);
    assert_eq!(
        r.code, 0,
        "headroom {args:?} failed: {}{}",
        r.stdout, r.stderr
    );
    r.stdout
}
