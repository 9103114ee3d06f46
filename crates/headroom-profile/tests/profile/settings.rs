//! Dotted-key settings: get, set, keys, command-line assignments, diffs.

use headroom_profile::{
    parse_assignment, ChangeKind, ErrorKind, Profile, Route, SettingKind, SettingValue,
};

#[test]
fn get_reads_every_kind() {
    let p = Profile::default();
    assert_eq!(
        p.get("agc.target_lufs").unwrap(),
        SettingValue::Number(-16.0)
    );
    assert_eq!(
        p.get("limiter.ceiling_dbtp").unwrap(),
        SettingValue::Number(-1.0)
    );
    assert_eq!(p.get("bypass").unwrap(), SettingValue::Bool(false));
    assert_eq!(p.get("layer_a.enabled").unwrap(), SettingValue::Bool(true));
    assert_eq!(
        p.get("route.default").unwrap(),
        SettingValue::String("processed".into())
    );
    assert_eq!(
        p.get("preferred_real_sink").unwrap(),
        SettingValue::String(String::new())
    );
    assert_eq!(
        p.get("layer_a.release_db_per_s").unwrap(),
        SettingValue::Number(1.5)
    );
}

#[test]
fn unknown_setting_suggests() {
    let e = Profile::default().get("agc.targte_lufs").unwrap_err();
    assert_eq!(e.kind, ErrorKind::UnknownKey);
    assert_eq!(
        e.to_string(),
        "unknown setting `agc.targte_lufs` (did you mean `agc.target_lufs`?)"
    );
    let mut p = Profile::default();
    assert_eq!(
        p.set("nope.nothing", SettingValue::Bool(true))
            .unwrap_err()
            .kind,
        ErrorKind::UnknownKey
    );
}

/// An unknown key that is no typo of one still gets what is valid: the keys of the section
/// it names, or every top-level key and section.
#[test]
fn unknown_setting_says_what_is_valid() {
    let msg = |key: &str| Profile::default().get(key).unwrap_err().to_string();
    let m = msg("agc.target");
    assert!(
        m.starts_with("unknown setting `agc.target` (keys of [agc]: agc.enabled, agc.target_lufs,"),
        "{m}"
    );
    assert!(!m.contains("limiter."), "{m}");
    let m = msg("limiter");
    assert!(
        m.starts_with("unknown setting `limiter` (keys of [limiter]: limiter.enabled,"),
        "{m}"
    );
    assert_eq!(
        msg("volume.level"),
        "unknown setting `volume.level` (settings: description, bypass, preferred_real_sink, \
         agc.*, compressor.*, limiter.*, layer_a.*, route.*)"
    );
    assert_eq!(msg("volume.level").lines().count(), 1);
}

/// A value of the wrong type for a number names the value and the whole valid range.
#[test]
fn wrong_type_for_a_number_names_the_range() {
    let mut p = Profile::default();
    let e = p
        .set("agc.target_lufs", SettingValue::String("abc".into()))
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::WrongType);
    assert_eq!(
        e.to_string(),
        "agc.target_lufs must be a number between -40 and -5, got a string (\"abc\")"
    );
}

#[test]
fn set_checks_type_and_range_and_keeps_profile_on_error() {
    let mut p = Profile::default();
    p.set("agc.target_lufs", SettingValue::Number(-18.0))
        .unwrap();
    assert_eq!(p.chain.agc.target_lufs, -18.0);
    p.set("bypass", SettingValue::Bool(true)).unwrap();
    assert!(p.chain.bypass);
    p.set("route.default", SettingValue::String("bypass".into()))
        .unwrap();
    assert_eq!(p.route.default, Route::Bypass);
    p.set(
        "preferred_real_sink",
        SettingValue::String("alsa_out".into()),
    )
    .unwrap();
    assert_eq!(p.preferred_real_sink.as_deref(), Some("alsa_out"));
    p.set("preferred_real_sink", SettingValue::String(String::new()))
        .unwrap();
    assert_eq!(p.preferred_real_sink, None);

    let before = p.clone();
    let e = p
        .set(
            "preferred_real_sink",
            SettingValue::String("a\u{1b}[2Jb".into()),
        )
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::OutOfRange);
    assert_eq!(
        e.to_string(),
        "preferred_real_sink holds the control character U+001B; text settings take none"
    );
    assert_eq!(p, before);
    // Just outside the range: shown as given, not rounded onto its edge.
    let e = p
        .set(
            "agc.target_lufs",
            SettingValue::Number(-40.000_000_000_000_1),
        )
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "agc.target_lufs = -40.0000000000001 is out of range (must be between -40 and -5)"
    );
    let e = p
        .set("compressor.attack_ms", SettingValue::Number(-3.0))
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::OutOfRange);
    assert_eq!(
        e.to_string(),
        "compressor.attack_ms = -3 is out of range (must be > 0 and ≤ 500)"
    );
    assert_eq!(p, before);

    // A value too large for the setting's `f32` is reported as given, not as the infinity
    // it would narrow to; alone and among others.
    for (v, shown) in [(-1e308, "-1e308"), (1e39, "1e39"), (-4e38, "-4e38")] {
        let e = p
            .set("agc.target_lufs", SettingValue::Number(v))
            .unwrap_err();
        assert_eq!(e.kind, ErrorKind::OutOfRange);
        assert_eq!(
            e.to_string(),
            format!("agc.target_lufs = {shown} is out of range (must be between -40 and -5)")
        );
        let n = SettingValue::Number(v);
        let (q, left_out) = p.with_settings([("agc.target_lufs", &n)]);
        assert_eq!(q, before);
        assert_eq!(left_out.len(), 1);
        assert!(left_out[0]
            .1
            .to_string()
            .contains(&format!("= {shown} is out")));
    }
    assert_eq!(p, before);

    // A value inside the range that the `f32` cannot hold (it would be 0, which is not) is
    // reported as given too; alone and among others.
    for (v, shown) in [(1e-300, "1e-300"), (1e-46, "1e-46")] {
        let want = format!(
            "agc.rise_db_per_s = {shown} is too small to represent (it would be 0; must be > 0 and ≤ 100)"
        );
        let e = p
            .set("agc.rise_db_per_s", SettingValue::Number(v))
            .unwrap_err();
        assert_eq!(e.kind, ErrorKind::OutOfRange);
        assert_eq!(e.to_string(), want);
        let n = SettingValue::Number(v);
        let (q, left_out) = p.with_settings([("agc.rise_db_per_s", &n)]);
        assert_eq!(q, before);
        assert_eq!(left_out.len(), 1);
        assert_eq!(left_out[0].1.to_string(), want);
    }
    assert_eq!(p, before);

    let e = p
        .set("agc.target_lufs", SettingValue::String("loud".into()))
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::WrongType);
    assert_eq!(p, before);

    let e = p
        .set("route.default", SettingValue::String("processd".into()))
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::InvalidRoute);

    // Cross-field ordering is checked too.
    let e = p
        .set("agc.silence_gate_lufs", SettingValue::Number(-10.0))
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Ordering);
    assert_eq!(p, before);

    let e = p
        .set("limiter.lookahead_ms", SettingValue::Number(f64::NAN))
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::OutOfRange);
}

#[test]
fn set_coerces_command_line_strings() {
    let mut p = Profile::default();
    p.set("layer_a.enabled", SettingValue::String("off".into()))
        .unwrap();
    assert!(!p.layer_a.enabled);
    for (text, want) in [("0", false), ("1", true), ("no", false), ("On", true)] {
        p.set("limiter.enabled", SettingValue::String(text.into()))
            .unwrap();
        assert_eq!(p.chain.limiter.enabled, want, "{text}");
    }
    let err = p
        .set("limiter.enabled", SettingValue::String("enabled".into()))
        .unwrap_err();
    assert!(
        err.message.contains("yes/no, on/off or 1/0"),
        "{}",
        err.message
    );
    p.set("agc.max_boost_db", SettingValue::String("6".into()))
        .unwrap();
    assert_eq!(p.chain.agc.max_boost_db, 6.0);
    p.set("preferred_real_sink", SettingValue::Number(42.0))
        .unwrap();
    assert_eq!(p.preferred_real_sink.as_deref(), Some("42"));
    assert_eq!(
        p.set("bypass", SettingValue::Number(2.0)).unwrap_err().kind,
        ErrorKind::WrongType
    );
}

#[test]
fn keys_list_every_setting_with_defaults() {
    let keys = Profile::keys();
    let d = Profile::default();
    for k in [
        "description",
        "bypass",
        "preferred_real_sink",
        "agc.enabled",
        "agc.target_lufs",
        "agc.max_boost_db",
        "agc.max_cut_db",
        "agc.rise_db_per_s",
        "agc.fall_db_per_s",
        "agc.silence_gate_lufs",
        "agc.window_s",
        "agc.max_momentary_lu",
        "compressor.enabled",
        "compressor.threshold_db",
        "compressor.ratio",
        "compressor.knee_db",
        "compressor.attack_ms",
        "compressor.release_ms",
        "compressor.makeup_db",
        "compressor.sidechain_bass_cut_db",
        "limiter.enabled",
        "limiter.ceiling_dbtp",
        "limiter.lookahead_ms",
        "limiter.release_ms",
        "layer_a.enabled",
        "layer_a.threshold_lu",
        "layer_a.max_reduction_db",
        "layer_a.max_boost_db",
        "layer_a.attack_db_per_s",
        "layer_a.release_db_per_s",
        "route.bypass_notifications",
        "route.default",
        "route.promote_default",
    ] {
        let info = keys
            .iter()
            .find(|i| i.key == k)
            .unwrap_or_else(|| panic!("{k} listed"));
        assert_eq!(info.default, d.get(k).unwrap());
        assert!(!info.doc.is_empty());
        assert_eq!(info.range.is_some(), info.kind == SettingKind::Number);
    }
    assert_eq!(keys.len(), 33, "every key of schema::FIELDS");
    // Every numeric default is inside its own range.
    for info in &keys {
        if let (Some(r), SettingValue::Number(v)) = (info.range, &info.default) {
            assert!(r.contains(*v), "{}", info.key);
        }
    }
    assert_eq!(
        Profile::key_info("limiter.lookahead_ms")
            .unwrap()
            .range
            .unwrap()
            .describe(),
        "> 0 and ≤ 1.5"
    );
}

#[test]
fn assignments_from_the_command_line() {
    assert_eq!(
        parse_assignment("agc.target_lufs=-18").unwrap(),
        ("agc.target_lufs".into(), SettingValue::Number(-18.0))
    );
    assert_eq!(
        parse_assignment(" bypass = true ").unwrap(),
        ("bypass".into(), SettingValue::Bool(true))
    );
    assert_eq!(
        parse_assignment("route.default=bypass").unwrap(),
        (
            "route.default".into(),
            SettingValue::String("bypass".into())
        )
    );
    assert_eq!(
        parse_assignment("preferred_real_sink=\"a=b\"").unwrap(),
        (
            "preferred_real_sink".into(),
            SettingValue::String("a=b".into())
        )
    );
    assert_eq!(
        parse_assignment("preferred_real_sink=").unwrap(),
        (
            "preferred_real_sink".into(),
            SettingValue::String(String::new())
        )
    );
    assert_eq!(
        parse_assignment("agc.target_lufs").unwrap_err().kind,
        ErrorKind::InvalidAssignment
    );
    assert_eq!(
        parse_assignment("=3").unwrap_err().kind,
        ErrorKind::InvalidAssignment
    );
    let (k, v) = parse_assignment("agc.target_lufs=-18").unwrap();
    let mut p = Profile::default();
    p.set(&k, v).unwrap();
    assert_eq!(p.chain.agc.target_lufs, -18.0);
}

#[test]
fn setting_values_serialize_untagged() {
    let v: Vec<SettingValue> = serde_json_like("[true, -18.5, \"bypass\"]");
    assert_eq!(
        v,
        [
            SettingValue::Bool(true),
            SettingValue::Number(-18.5),
            SettingValue::String("bypass".into())
        ]
    );
}

/// TOML arrays are enough to exercise the untagged representation without a JSON dependency.
fn serde_json_like(list: &str) -> Vec<SettingValue> {
    #[derive(serde::Deserialize)]
    struct W {
        v: Vec<SettingValue>,
    }
    toml::from_str::<W>(&format!("v = {list}")).unwrap().v
}

#[test]
fn diff_classifies_changes() {
    let a = Profile::default();
    assert_eq!(a.diff(&a).kind(), None);
    let mut b = a.clone();
    b.set("agc.target_lufs", SettingValue::Number(-20.0))
        .unwrap();
    let d = a.diff(&b);
    assert!(d.chain && !d.latency);
    assert_eq!(d.kind(), Some(ChangeKind::ParamsOnly));
    let mut c = a.clone();
    c.set("limiter.lookahead_ms", SettingValue::Number(1.0))
        .unwrap();
    assert!(a.diff(&c).latency);
    assert!(!a.diff(&c).chain);
    assert_eq!(a.diff(&c).kind(), Some(ChangeKind::Rebuild));
    let mut s = a.clone();
    s.set("preferred_real_sink", SettingValue::String("x".into()))
        .unwrap();
    assert_eq!(a.diff(&s).kind(), Some(ChangeKind::Rebuild));
    let mut r = a.clone();
    r.set("route.default", SettingValue::String("bypass".into()))
        .unwrap();
    assert!(a.diff(&r).routing);
    assert_eq!(a.diff(&r).kind(), Some(ChangeKind::ParamsOnly));
    let mut l = a.clone();
    l.set("layer_a.enabled", SettingValue::Bool(false)).unwrap();
    assert_eq!(a.diff(&l).kind(), Some(ChangeKind::Rebuild));
}

#[test]
fn with_settings_checks_the_ordering_rules_on_all_of_them_together() {
    // The gate comes first in key order and is above the profile's target (-16), but below
    // the target given with it.
    let target = SettingValue::Number(-5.0);
    let gate = SettingValue::Number(-10.0);
    let settings = [
        ("agc.silence_gate_lufs", &gate),
        ("agc.target_lufs", &target),
    ];
    let (p, left_out) = Profile::default().with_settings(settings);
    assert!(left_out.is_empty(), "{left_out:?}");
    assert_eq!(p.chain.agc.target_lufs, -5.0);
    assert_eq!(p.chain.agc.silence_gate_lufs, -10.0);
    p.validate().unwrap();
}

#[test]
fn with_settings_leaves_out_what_does_not_fit_and_says_why() {
    let mut base = Profile::default();
    base.set("limiter.ceiling_dbtp", SettingValue::Number(-6.0))
        .unwrap();
    let target = SettingValue::Number(-5.0);
    let gate = SettingValue::Number(-12.0);
    let unknown = SettingValue::Bool(true);
    let wrong = SettingValue::String("loud".into());
    let settings = [
        ("agc.silence_gate_lufs", &gate),
        ("agc.target_lufs", &target),
        ("no.such", &unknown),
        ("agc.max_boost_db", &wrong),
    ];
    let (p, left_out) = base.with_settings(settings);
    let keys: Vec<&str> = left_out.iter().map(|(k, _)| k.as_str()).collect();
    // The target breaks the ceiling's rule; without it the gate breaks the target's.
    assert_eq!(
        keys,
        [
            "no.such",
            "agc.max_boost_db",
            "agc.target_lufs",
            "agc.silence_gate_lufs"
        ]
    );
    assert_eq!(left_out[2].1.kind, ErrorKind::Ordering);
    assert_eq!(p, base);
}

#[test]
fn with_settings_leaves_out_the_given_setting_of_a_broken_rule() {
    // The profile's gate (-60) is fine; the target given breaks the ceiling's rule, which
    // names the target first; the ceiling given too stays.
    let ceiling = SettingValue::Number(-12.0);
    let target = SettingValue::Number(-10.0);
    let (p, left_out) = Profile::default().with_settings([
        ("agc.target_lufs", &target),
        ("limiter.ceiling_dbtp", &ceiling),
    ]);
    assert_eq!(left_out.len(), 1, "{left_out:?}");
    assert_eq!(left_out[0].0, "agc.target_lufs");
    assert_eq!(p.chain.limiter.ceiling_dbtp, -12.0);
    assert_eq!(
        p.chain.agc.target_lufs,
        Profile::default().chain.agc.target_lufs
    );
    // A gate above the profile's target, given alone: left out, naming both.
    let gate = SettingValue::Number(-12.0);
    let mut base = Profile::default();
    base.set("agc.target_lufs", SettingValue::Number(-20.0))
        .unwrap();
    let (p, left_out) = base.with_settings([("agc.silence_gate_lufs", &gate)]);
    assert_eq!(p, base);
    assert_eq!(
        left_out[0].1.message,
        "agc.silence_gate_lufs = -12 must be below agc.target_lufs = -20"
    );
}
