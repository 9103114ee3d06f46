//! `dist/headroomd.service` passes `systemd-analyze verify`, as written by
//! `headroom service install` (ExecStart pointed at an existing binary).

use std::path::Path;
use std::process::Command;

use headroom_cli::service::{unit_with_exec, UNIT_NAME, UNIT_TEMPLATE};

fn which(cmd: &str) -> Option<std::path::PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .chain(["/usr/bin".into(), "/bin".into()])
        .map(|d| d.join(cmd))
        .find(|p| p.is_file())
}

/// Runs `systemd-analyze verify --man=no` on `text` saved as headroomd.service; returns
/// (success, stderr).
fn verify(analyze: &Path, text: &str) -> (bool, String) {
    let dir = tempfile::tempdir().unwrap();
    let unit = dir.path().join(UNIT_NAME);
    std::fs::write(&unit, text).unwrap();
    let out = Command::new(analyze)
        .args(["verify", "--man=no"])
        .arg(&unit)
        .output()
        .expect("run systemd-analyze");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn shipped_unit_has_the_expected_shape() {
    let t = UNIT_TEMPLATE;
    for line in [
        "Type=simple",
        "ExecStart=%h/.local/bin/headroomd",
        "Restart=on-failure",
        "After=pipewire.service wireplumber.service",
        "Wants=pipewire.service wireplumber.service",
        "WantedBy=default.target",
    ] {
        assert!(t.lines().any(|l| l == line), "missing `{line}` in\n{t}");
    }
}

#[test]
fn unit_passes_systemd_analyze_verify() {
    let Some(analyze) = which("systemd-analyze") else {
        eprintln!("SKIPPED: systemd-analyze is not installed");
        return;
    };
    let exec = Path::new(env!("CARGO_BIN_EXE_headroom"));
    let (ok, stderr) = verify(&analyze, &unit_with_exec(exec));
    assert!(ok, "systemd-analyze verify failed:\n{stderr}");
    assert!(
        stderr.trim().is_empty(),
        "systemd-analyze verify warned:\n{stderr}"
    );

    // The check does catch mistakes: an unknown key and a missing binary are reported.
    let broken = unit_with_exec(Path::new("/nonexistent/headroomd")).replace(
        "Restart=on-failure",
        "Restart=on-failure\nRestartEverySoOften=yes",
    );
    let (ok, stderr) = verify(&analyze, &broken);
    assert!(!ok, "a unit with a missing ExecStart binary passed");
    assert!(stderr.contains("RestartEverySoOften"), "{stderr}");
}

#[test]
fn install_script_installs_and_uninstalls_everything() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let script = root.join("scripts/install.sh");
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path().join("home");
    let bins = tmp.path().join("bins");
    std::fs::create_dir_all(&home).unwrap();
    std::fs::create_dir_all(&bins).unwrap();
    // A one-line wrapper stands in for the command line binary, so the install copies a few
    // bytes rather than the whole debug build, while the completions and man pages it
    // generates still come from the real binary.
    let wrapper = bins.join("headroom");
    std::fs::write(
        &wrapper,
        format!(
            "#!/bin/sh\nexec '{}' \"$@\"\n",
            env!("CARGO_BIN_EXE_headroom")
        ),
    )
    .unwrap();
    std::fs::set_permissions(
        &wrapper,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    // The daemon binary is not built by this crate's tests; any executable stands in.
    std::fs::copy("/bin/true", bins.join("headroomd")).unwrap();
    let run = |args: &[&str]| {
        Command::new("bash")
            .arg(&script)
            .args(args)
            .env("HOME", &home)
            .env_remove("XDG_CONFIG_HOME")
            .env_remove("PREFIX")
            .env_remove("DESTDIR")
            .env("BIN_DIR", &bins)
            .env("NO_SYSTEMCTL", "1")
            .output()
            .unwrap()
    };
    let out = run(&[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let local = home.join(".local");
    let unit = home.join(".config/systemd/user/headroomd.service");
    for p in [
        local.join("bin/headroom"),
        local.join("bin/headroomd"),
        unit.clone(),
        local.join("share/bash-completion/completions/headroom"),
        local.join("share/zsh/site-functions/_headroom"),
        local.join("share/fish/vendor_completions.d/headroom.fish"),
        local.join("share/man/man1/headroom.1"),
        local.join("share/man/man1/headroom-status.1"),
        local.join("share/man/man1/headroom-route-set.1"),
    ] {
        let len = std::fs::metadata(&p).map(|m| m.len()).unwrap_or(0);
        assert!(len > 0, "{} missing or empty", p.display());
    }
    let unit_text = std::fs::read_to_string(&unit).unwrap();
    let exec = format!("ExecStart={}", local.join("bin/headroomd").display());
    assert!(unit_text.lines().any(|l| l == exec), "{unit_text}");
    let man = std::fs::read_to_string(local.join("share/man/man1/headroom.1")).unwrap();
    assert!(man.contains(".TH headroom"), "{man}");

    let out = run(&["--uninstall"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!unit.exists());
    assert!(!local.join("bin/headroom").exists());
    assert!(!local.join("share/man/man1/headroom.1").exists());
    assert!(!local.join("share/man/man1/headroom-status.1").exists());

    // Missing binaries: a clear error, nothing installed.
    std::fs::remove_file(bins.join("headroomd")).unwrap();
    let out = run(&[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("build first"));
    assert!(!local.join("bin/headroom").exists());
}
