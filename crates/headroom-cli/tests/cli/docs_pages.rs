//! Man pages and completion scripts: the sections a user looks for, every setting key from
//! the schema, and the values completion offers.

use headroom_profile::Profile;

use crate::support::{text, BIN};

fn run(args: &[&str], home: &std::path::Path) -> String {
    let out = std::process::Command::new(BIN)
        .args(args)
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join("config"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{args:?}: {}", text(&out.stderr));
    text(&out.stdout)
}

#[test]
fn man_pages_have_settings_files_environment_exit_status_and_examples() {
    let dir = tempfile::tempdir().unwrap();
    let page = run(&["man"], dir.path());
    for section in [
        ".SH NAME",
        ".SH SYNOPSIS",
        ".SH SETTINGS",
        ".SH FILES",
        ".SH ENVIRONMENT",
        ".SH \"EXIT STATUS\"",
        ".SH EXAMPLES",
    ] {
        assert!(page.contains(section), "headroom.1 lacks {section}");
    }
    // Every key of the schema, with its default, in SETTINGS (roff escapes `-` as `\-`).
    let settings = page.split(".SH SETTINGS").nth(1).unwrap();
    for k in Profile::keys() {
        let key = k.key.replace('-', "\\-");
        assert!(settings.contains(&key), "SETTINGS lacks {}", k.key);
    }
    assert!(
        settings.contains("between \\-40 and \\-5"),
        "ranges are shown"
    );

    let out = dir.path().join("man");
    run(&["man", "--dir", out.to_str().unwrap()], dir.path());
    for f in ["headroom.1", "headroomd.1", "headroom-route-set.1"] {
        let t = std::fs::read_to_string(out.join(f)).unwrap_or_default();
        assert!(t.starts_with(".TH") || t.contains("\n.TH"), "{f}: {t:.80}");
    }
    let d = std::fs::read_to_string(out.join("headroomd.1")).unwrap();
    for s in [
        "\\-\\-real\\-sink",
        "\\-\\-bypass",
        "HEADROOM_REAL_SINK",
        "RUST_LOG",
        ".SH FILES",
    ] {
        assert!(d.contains(s), "headroomd.1 lacks {s}");
    }
}

#[test]
fn completions_offer_keys_topics_profiles_and_modes() {
    let dir = tempfile::tempdir().unwrap();
    let profiles = dir.path().join("config/headroom/profiles");
    std::fs::create_dir_all(&profiles).unwrap();
    std::fs::write(profiles.join("evening.toml"), "").unwrap();
    for shell in ["bash", "zsh", "fish"] {
        let script = run(&["completions", shell], dir.path());
        for want in [
            "agc.target_lufs",
            "layer_a.max_reduction_db",
            "route.bypass_notifications",
            "routing",
            "meters",
            "speech",
            "evening",
            "processed",
            "toggle",
        ] {
            assert!(script.contains(want), "{shell} completion lacks {want}");
        }
    }
}
