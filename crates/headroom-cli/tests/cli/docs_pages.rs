//! Man pages and completion scripts: the sections a user looks for, every setting key from
//! the schema, and the values completion offers.

use headroom_profile::Profile;

use crate::support::{assert_fails, headroom, text, BIN};

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
    for shell in ["bash", "zsh", "fish"] {
        let script = run(&["completions", shell], dir.path());
        for want in [
            "agc.target_lufs",
            "layer_a.max_reduction_db",
            "route.bypass_notifications",
            "routing",
            "meters",
            "processed",
            "toggle",
            // Profile names are listed when a name is completed, not when the script is made.
            "headroom profile list --names 2>/dev/null",
        ] {
            assert!(script.contains(want), "{shell} completion lacks {want}");
        }
        assert!(
            !script.contains("speech"),
            "{shell}: a fixed list of profiles"
        );
        assert!(!script.contains("__headroom_profile_names__"), "{shell}");
    }
    let zsh = run(&["completions", "zsh"], dir.path());
    assert!(zsh.contains("':name -- Profile name:_headroom_profile_names'"));
    assert!(zsh.contains("_headroom_profile_names() {"));
    let fish = run(&["completions", "fish"], dir.path());
    assert!(fish.contains(
        "__fish_seen_subcommand_from use\" -f -a \"(headroom profile list --names 2>/dev/null)\""
    ));
}

/// `profile list --names`: the profiles on this machine, names only, one a line, no daemon
/// needed; a profile file added later is listed at once.
#[test]
fn profile_list_names_prints_names_only_without_a_daemon() {
    let dir = tempfile::tempdir().unwrap();
    let names = run(&["profile", "list", "--names"], dir.path());
    assert_eq!(names, "default\nmusic\nnight\nspeech\n");
    let profiles = dir.path().join("config/headroom/profiles");
    std::fs::create_dir_all(&profiles).unwrap();
    std::fs::write(profiles.join("evening.toml"), "").unwrap();
    std::fs::write(profiles.join("night.toml"), "").unwrap();
    std::fs::write(profiles.join("notes.txt"), "").unwrap();
    let names = run(&["profile", "list", "--names"], dir.path());
    assert_eq!(names, "default\nevening\nmusic\nnight\nspeech\n");
    let json: serde_json::Value =
        serde_json::from_str(&run(&["--json", "profile", "list", "--names"], dir.path())).unwrap();
    assert_eq!(
        json,
        serde_json::json!({"names": ["default", "evening", "music", "night", "speech"]})
    );
    // What is no profile (the daemon's rule) is neither listed nor taken by name: a hidden
    // file, a name with a control character, a folder, a symlink that leads nowhere. They
    // were listed (all but the hidden one), and the hidden one and the control character
    // were loaded by `render --profile`.
    let valid = "[agc]\ntarget_lufs = -20.0\n";
    std::fs::write(profiles.join(".hidden.toml"), valid).unwrap();
    std::fs::write(profiles.join("ctl\u{1}x.toml"), valid).unwrap();
    std::fs::create_dir(profiles.join("folder.toml")).unwrap();
    std::os::unix::fs::symlink(profiles.join("gone.toml"), profiles.join("dangling.toml")).unwrap();
    let names = run(&["profile", "list", "--names"], dir.path());
    assert_eq!(names, "default\nevening\nmusic\nnight\nspeech\n");
    let x = dir.path().join("x.wav");
    crate::support::audio::write_wav_i16(&x, 48_000, 2, 4_800);
    for name in [".hidden", "ctl\u{1}x", "folder", "dangling"] {
        let out = headroom(
            dir.path(),
            &[
                "render",
                "-q",
                "--profile",
                name,
                x.to_str().unwrap(),
                "/dev/null",
            ],
        );
        assert_fails(&out, 1, "no profile");
    }
}

/// What bash offers after `headroom profile use ` when the script was generated before the
/// user's profile existed: the script asks `headroom profile list --names` at that moment.
#[test]
fn bash_completes_profile_names_made_after_the_script() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("headroom.bash");
    std::fs::write(&script, run(&["completions", "bash"], dir.path())).unwrap();
    let profiles = dir.path().join("config/headroom/profiles");
    std::fs::create_dir_all(&profiles).unwrap();
    std::fs::write(profiles.join("evening.toml"), "").unwrap();
    let bin_dir = std::path::Path::new(BIN).parent().unwrap();
    let complete = |words: &str| {
        let out = std::process::Command::new("bash")
            .arg("-c")
            .arg(format!(
                "source {}; COMP_WORDS=({words}); COMP_CWORD=$((${{#COMP_WORDS[@]}} - 1)); \
                 COMP_LINE=\"${{COMP_WORDS[*]}}\"; COMP_POINT=${{#COMP_LINE}}; \
                 _headroom headroom \"${{COMP_WORDS[COMP_CWORD]}}\" \"${{COMP_WORDS[COMP_CWORD-1]}}\"; \
                 printf '%s\\n' \"${{COMPREPLY[@]}}\"",
                script.display()
            ))
            .env(
                "PATH",
                format!("{}:{}", bin_dir.display(), std::env::var("PATH").unwrap()),
            )
            .env("HOME", dir.path())
            .env("XDG_CONFIG_HOME", dir.path().join("config"))
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", text(&out.stderr));
        // The options clap offers beside them (`--help`, …) are left out.
        let mut v: Vec<String> = text(&out.stdout)
            .lines()
            .filter(|w| !w.starts_with('-'))
            .map(String::from)
            .collect();
        v.sort();
        v
    };
    assert_eq!(
        complete("headroom profile use ''"),
        ["default", "evening", "music", "night", "speech"]
    );
    assert_eq!(complete("headroom profile show ev"), ["evening"]);
}
