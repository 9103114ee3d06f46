//! Profile files: shipped profiles, defaults, and every error class with its exact position.

use headroom_core::params::{AgcParams, ChainParams, LayerAParams};
use headroom_profile::{shipped_profiles, ErrorKind, MatchKey, Profile, ProfileError, Route};

fn parse_err(text: &str) -> ProfileError {
    match Profile::parse(text, "profiles/test.toml") {
        Ok(p) => panic!("expected an error, parsed {p:?}"),
        Err(e) => e,
    }
}

fn assert_err(text: &str, kind: ErrorKind, line: usize, col: usize, message: &str) {
    let e = parse_err(text);
    assert_eq!(e.kind, kind, "{e}");
    let loc = e.location.as_ref().expect("error has a location");
    assert_eq!(loc.file, "profiles/test.toml");
    assert_eq!((loc.line, loc.column), (line, col), "{e}");
    assert_eq!(
        e.to_string(),
        format!("profiles/test.toml:{line}:{col}: {message}")
    );
}

#[test]
fn shipped_default_equals_builtin_defaults() {
    let (name, text) = shipped_profiles()
        .iter()
        .find(|(n, _)| *n == "default")
        .expect("default profile shipped");
    let p = Profile::parse(text, &format!("profiles/{name}.toml")).unwrap();
    let d = Profile::default();
    assert_eq!(p.chain.agc, d.chain.agc);
    assert_eq!(p.chain.compressor, d.chain.compressor);
    assert_eq!(p.chain.limiter, d.chain.limiter);
    assert_eq!(p.chain.bypass, d.chain.bypass);
    assert_eq!(p.layer_a, d.layer_a);
    assert_eq!(p.route, d.route);
    assert_eq!(p.preferred_real_sink, d.preferred_real_sink);
    assert_eq!(p.description, d.description);
    assert_eq!(p, d);
    assert_eq!(d.chain, ChainParams::default());
    assert_eq!(d.layer_a, LayerAParams::default());
}

#[test]
fn every_shipped_profile_parses_and_validates() {
    let names: Vec<&str> = shipped_profiles().iter().map(|(n, _)| *n).collect();
    assert_eq!(names, ["default", "music", "night", "speech"]);
    for (name, text) in shipped_profiles() {
        let p = Profile::parse(text, &format!("profiles/{name}.toml"))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(p.name, *name);
        assert!(!p.description.is_empty(), "{name} has a description");
        p.validate().unwrap();
        // The profile round-trips through TOML written from the schema.
        let again = Profile::parse(&p.to_toml(), &format!("{name}.toml")).unwrap();
        assert_eq!(again, p, "{name}");
    }
}

#[test]
fn shipped_profiles_differ_as_documented() {
    let get = |n: &str| Profile::shipped(n).unwrap().unwrap();
    let (d, night, music, speech) = (get("default"), get("night"), get("music"), get("speech"));
    assert!(night.chain.agc.target_lufs < d.chain.agc.target_lufs);
    assert!(night.chain.compressor.ratio > d.chain.compressor.ratio);
    assert!(night.chain.agc.window_s < d.chain.agc.window_s);
    assert!(night.chain.limiter.ceiling_dbtp < d.chain.limiter.ceiling_dbtp);
    assert!(music.chain.agc.window_s > d.chain.agc.window_s);
    assert!(speech.chain.agc.max_boost_db > d.chain.agc.max_boost_db);
    assert!(music.chain.agc.rise_db_per_s < d.chain.agc.rise_db_per_s);
    assert!(music.chain.compressor.ratio < d.chain.compressor.ratio);
    assert!(speech.chain.agc.rise_db_per_s > d.chain.agc.rise_db_per_s);
    assert!(speech.chain.compressor.ratio > d.chain.compressor.ratio);
    assert!(Profile::shipped("nope").is_none());
}

#[test]
fn empty_file_is_all_defaults() {
    let p = Profile::parse("", "x/empty.toml").unwrap();
    assert_eq!(p.name, "empty");
    assert_eq!(p.chain, ChainParams::default());
    assert_eq!(p.description, "");
}

#[test]
fn partial_sections_and_integers_are_accepted() {
    let p = Profile::parse(
        "bypass = true\npreferred_real_sink = \"alsa_output.usb\"\n[agc]\ntarget_lufs = -20\n",
        "p.toml",
    )
    .unwrap();
    assert!(p.chain.bypass);
    assert_eq!(p.chain.agc.target_lufs, -20.0);
    assert_eq!(p.chain.agc.max_boost_db, AgcParams::default().max_boost_db);
    assert_eq!(p.preferred_real_sink.as_deref(), Some("alsa_output.usb"));
}

#[test]
fn routing_rules_parse_in_order() {
    let text = r#"
[route]
default = "bypass"

[[route.rules]]
match = { "application.name" = "Firefox*", "media.role" = "Music" }
route = "processed"

[[route.rules]]
match = { app = "mpv" }
route = "bypass"
"#;
    let p = Profile::parse(text, "r.toml").unwrap();
    assert_eq!(p.route.default, Route::Bypass);
    assert_eq!(p.route.rules.len(), 2);
    let r0 = &p.route.rules[0];
    assert_eq!(r0.route, Route::Processed);
    assert_eq!(
        r0.matches.keys().copied().collect::<Vec<_>>(),
        [MatchKey::ApplicationName, MatchKey::MediaRole]
    );
    assert_eq!(r0.matches[&MatchKey::ApplicationName].as_str(), "Firefox*");
    let props = |k: &str| match k {
        "application.name" => Some("Firefox"),
        "media.role" => Some("Music"),
        _ => None,
    };
    assert_eq!(p.route.route_for(props), Route::Processed);
    let mpv = |k: &str| (k == "application.process.binary").then_some("mpv");
    assert_eq!(p.route.route_for(mpv), Route::Bypass);
    assert_eq!(p.route.matching_rule(|_| None), None);
}

#[test]
fn unknown_key_with_suggestion() {
    assert_err(
        "[agc]\nenabled = true\ntargte_lufs = -16.0\n",
        ErrorKind::UnknownKey,
        3,
        1,
        "unknown key `targte_lufs` in [agc] (did you mean `target_lufs`?)",
    );
    assert_err(
        "descripton = \"x\"\n",
        ErrorKind::UnknownKey,
        1,
        1,
        "unknown key `descripton` (did you mean `description`?)",
    );
    assert_err(
        "\n[compresor]\nratio = 2\n",
        ErrorKind::UnknownKey,
        2,
        2,
        "unknown key `compresor` (did you mean `compressor`?)",
    );
    assert_err(
        "[limiter]\n  zzz = 1\n",
        ErrorKind::UnknownKey,
        2,
        3,
        "unknown key `zzz` in [limiter]",
    );
    assert_err(
        "[route]\ndefualt = \"bypass\"\n",
        ErrorKind::UnknownKey,
        2,
        1,
        "unknown key `defualt` in [route] (did you mean `default`?)",
    );
}

#[test]
fn wrong_type() {
    assert_err(
        "[agc]\ntarget_lufs = \"loud\"\n",
        ErrorKind::WrongType,
        2,
        15,
        "agc.target_lufs must be a number, found a string",
    );
    assert_err(
        "bypass = 1\n",
        ErrorKind::WrongType,
        1,
        10,
        "bypass must be a boolean (true or false), found an integer",
    );
    assert_err(
        "agc = 3\n",
        ErrorKind::WrongType,
        1,
        7,
        "agc must be a table, found an integer",
    );
}

/// Text settings take no control characters: nothing a sink is called, and a description
/// with a line break would break the one-line list that shows it.
#[test]
fn text_with_a_control_character_is_refused_where_it_stands() {
    assert_err(
        "description = \"two\\nlines\"\n",
        ErrorKind::OutOfRange,
        1,
        15,
        "description holds the control character U+000A; text settings take none",
    );
    assert_err(
        "bypass = false\npreferred_real_sink = \"a\\u0000b\"\n",
        ErrorKind::OutOfRange,
        2,
        23,
        "preferred_real_sink holds the control character U+0000; text settings take none",
    );
}

#[test]
fn out_of_range() {
    assert_err(
        "# comment\n\n[compressor]\nratio = 2.0\nknee_db = 6\n\nattack_ms = -3\n",
        ErrorKind::OutOfRange,
        7,
        13,
        "compressor.attack_ms = -3 is out of range (must be > 0 and ≤ 500)",
    );
    assert_err(
        "[limiter]\nceiling_dbtp = 0.5\n",
        ErrorKind::OutOfRange,
        2,
        16,
        "limiter.ceiling_dbtp = 0.5 is out of range (must be between -20 and 0)",
    );
    assert_err(
        "[limiter]\nlookahead_ms = 2.0\n",
        ErrorKind::OutOfRange,
        2,
        16,
        "limiter.lookahead_ms = 2 is out of range (must be > 0 and ≤ 1.5)",
    );
    // Too large for the setting's f32: reported as written, not as an infinity.
    assert_err(
        "[agc]\ntarget_lufs = -1e308\n",
        ErrorKind::OutOfRange,
        2,
        15,
        "agc.target_lufs = -1e308 is out of range (must be between -40 and -5)",
    );
    // Inside the range as written, but 0 once narrowed to the setting's f32.
    assert_err(
        "[agc]\nrise_db_per_s = 1e-300\n",
        ErrorKind::OutOfRange,
        2,
        17,
        "agc.rise_db_per_s = 1e-300 is too small to represent (it would be 0; must be > 0 and ≤ 100)",
    );
    assert_err(
        "[compressor]\nratio = 0.5\n",
        ErrorKind::OutOfRange,
        2,
        9,
        "compressor.ratio = 0.5 is out of range (must be between 1 and 20)",
    );
    assert_err(
        "[agc]\ntarget_lufs = -60\n",
        ErrorKind::OutOfRange,
        2,
        15,
        "agc.target_lufs = -60 is out of range (must be between -40 and -5)",
    );
    assert_err(
        "[agc]\nmax_boost_db = -1\n",
        ErrorKind::OutOfRange,
        2,
        16,
        "agc.max_boost_db = -1 is out of range (must be between 0 and 40)",
    );
    let e = parse_err("[agc]\ntarget_lufs = nan\n");
    assert_eq!(e.kind, ErrorKind::OutOfRange);
    assert_eq!(e.location.unwrap().line, 2);
}

#[test]
fn ordering_violation() {
    assert_err(
        "[agc]\ntarget_lufs = -20.0\nsilence_gate_lufs = -15.0\n",
        ErrorKind::Ordering,
        3,
        21,
        "agc.silence_gate_lufs = -15 must be below agc.target_lufs = -20",
    );
    // Only the ceiling is in the file: the error points at it.
    assert_err(
        "[limiter]\nceiling_dbtp = -18\n",
        ErrorKind::Ordering,
        2,
        16,
        "agc.target_lufs = -16 must be below limiter.ceiling_dbtp = -18 \
         (the limiter would hold every signal under the target)",
    );
}

#[test]
fn ordering_violation_target_above_ceiling() {
    let e = parse_err("[agc]\ntarget_lufs = -8\n[limiter]\nceiling_dbtp = -10\n");
    assert_eq!(e.kind, ErrorKind::Ordering);
    let loc = e.location.unwrap();
    assert_eq!((loc.line, loc.column), (2, 15));
    assert!(
        e.message.contains("limiter.ceiling_dbtp = -10"),
        "{}",
        e.message
    );
}

#[test]
fn invalid_match_key_and_glob() {
    assert_err(
        "[[route.rules]]\nmatch = { \"application.nam\" = \"Firefox\" }\nroute = \"bypass\"\n",
        ErrorKind::InvalidMatch,
        2,
        11,
        "unknown match key `application.nam` in route.rules[0] (did you mean `application.name`?)",
    );
    assert_err(
        "[[route.rules]]\nmatch = { app = \"x\" }\nroute = \"bypass\"\n[[route.rules]]\nmatch = { app = \"Fire[fox\" }\nroute = \"bypass\"\n",
        ErrorKind::InvalidMatch,
        5,
        17,
        "route.rules[1].match.\"app\" = \"Fire[fox\" is not a valid glob: unclosed `[` at character 5",
    );
    assert_err(
        "[[route.rules]]\nmatch = {}\nroute = \"bypass\"\n",
        ErrorKind::InvalidMatch,
        2,
        9,
        "route.rules[0].match is empty: give at least one key (use route.default for a catch-all)",
    );
    assert_err(
        "[[route.rules]]\nmatch = { app = 3 }\nroute = \"bypass\"\n",
        ErrorKind::WrongType,
        2,
        17,
        "route.rules[0].match.\"app\" must be a string (a glob), found an integer",
    );
}

#[test]
fn bad_route_value() {
    assert_err(
        "[route]\ndefault = \"processd\"\n",
        ErrorKind::InvalidRoute,
        2,
        11,
        "route.default = \"processd\" is not a route (expected \"processed\" or \"bypass\"; did you mean \"processed\"?)",
    );
    assert_err(
        "[[route.rules]]\nmatch = { app = \"x\" }\nroute = \"off\"\n",
        ErrorKind::InvalidRoute,
        3,
        9,
        "route.rules[0].route = \"off\" is not a route (expected \"processed\" or \"bypass\")",
    );
    assert_err(
        "[[route.rules]]\nmatch = { app = \"x\" }\n",
        ErrorKind::MissingKey,
        1,
        1,
        "route.rules[0] has no `route` key",
    );
}

#[test]
fn toml_syntax_error() {
    let e = parse_err("[agc]\ntarget_lufs = \n");
    assert_eq!(e.kind, ErrorKind::Syntax);
    let loc = e.location.as_ref().unwrap();
    assert_eq!((loc.line, loc.column), (2, 15));
    assert!(e
        .to_string()
        .starts_with("profiles/test.toml:2:15: TOML syntax error: "));
    let e = parse_err("description = \"x\"\n[agc\n");
    assert_eq!(e.kind, ErrorKind::Syntax);
    assert_eq!(e.location.unwrap().line, 2);
    let e = parse_err("bypass = true\nbypass = false\n");
    assert_eq!(e.kind, ErrorKind::Syntax);
    let loc = e.location.unwrap();
    assert_eq!((loc.line, loc.column), (2, 1));
}

#[test]
fn a_bare_word_as_a_value_is_told_to_be_quoted() {
    // A name the parser takes for the start of `nan`, `inf`, `true` or `false` was
    // reported as `invalid float, expected `nan`` and nothing more.
    for (word, said) in [
        ("night", "invalid float"),
        ("film", "invalid boolean"),
        ("tv", "invalid boolean"),
        ("infinity-x", "invalid float"),
    ] {
        let e = parse_err(&format!("preferred_real_sink = {word}\n"));
        assert_eq!(e.kind, ErrorKind::Syntax);
        let text = e.to_string();
        assert!(text.contains(said), "{text}");
        assert!(
            text.contains(&format!(
                "text values are quoted: preferred_real_sink = \"{word}\""
            )),
            "{text}"
        );
    }
    // The parser's own hint is not repeated; other errors get none.
    let e = parse_err("description = hello\n").to_string();
    assert!(
        e.contains("must be quoted") && !e.contains("text values are"),
        "{e}"
    );
    let e = parse_err("[agc]\ntarget_lufs = \n").to_string();
    assert!(!e.contains("text values are"), "{e}");
    // The daemon's config file says the same.
    let p = headroom_profile::config::config_profile("profile = night\n").unwrap_err();
    assert!(
        p.message
            .contains("text values are quoted: profile = \"night\""),
        "{}",
        p.message
    );
}

#[test]
fn columns_count_characters_not_bytes() {
    let e = parse_err("description = \"ÄÖÜ\"; x = 1\n");
    assert_eq!(e.kind, ErrorKind::Syntax);
    let e = parse_err("description = \"ÄÖÜ\"\n[agc]\ntarget_lufs = 1\n");
    assert_eq!(e.location.unwrap().column, 15);
    let e = parse_err("[route]\ndefault = \"bypass\"\n[[route.rules]]\nmatch = { \"ä\" = \"x\" }\nroute=\"bypass\"\n");
    assert_eq!(e.kind, ErrorKind::InvalidMatch);
    assert_eq!(e.location.unwrap().column, 11);
}

#[test]
fn validation_without_a_file_reports_keys() {
    let mut p = Profile::default();
    p.chain.compressor.attack_ms = -3.0;
    let e = p.validate().unwrap_err();
    assert_eq!(e.kind, ErrorKind::OutOfRange);
    assert_eq!(e.key.as_deref(), Some("compressor.attack_ms"));
    assert!(e.location.is_none());
    assert_eq!(
        parse_err("[agc]\ntargte_lufs = 1\n").kind,
        ErrorKind::UnknownKey
    );
}

#[test]
fn to_toml_writes_exactly_the_schema_keys_and_the_rules() {
    let mut p = Profile::parse(
        "[[route.rules]]\nmatch = { app = \"a\\\"b\", \"media.role\" = \"Music\" }\nroute = \"bypass\"\n",
        "r.toml",
    )
    .unwrap();
    p.preferred_real_sink = Some("alsa \"usb\"".into());
    let text = p.to_toml();
    let doc: toml::Table = toml::from_str(&text).unwrap();
    let mut written: Vec<String> = Vec::new();
    for (k, v) in &doc {
        match v.as_table() {
            Some(t) => written.extend(
                t.keys()
                    .filter(|sub| !(k == "route" && *sub == "rules"))
                    .map(|sub| format!("{k}.{sub}")),
            ),
            None => written.push(k.clone()),
        }
    }
    written.sort();
    let mut keys: Vec<String> = Profile::keys().iter().map(|i| i.key.to_string()).collect();
    keys.sort();
    assert_eq!(written, keys);
    assert_eq!(doc["route"]["rules"].as_array().unwrap().len(), 1);
    assert_eq!(Profile::parse(&text, "r.toml").unwrap(), p);
}

#[test]
fn crlf_line_endings_and_line_col() {
    assert_err(
        "[agc]\r\n\r\ntarget_lufs = -60\r\n",
        ErrorKind::OutOfRange,
        3,
        15,
        "agc.target_lufs = -60 is out of range (must be between -40 and -5)",
    );
    use headroom_profile::line_col;
    assert_eq!(line_col("ab\ncd", 0), (1, 1));
    assert_eq!(line_col("ab\ncd", 3), (2, 1));
    assert_eq!(line_col("ab\ncd", 4), (2, 2));
    assert_eq!(line_col("ab\ncd", 99), (2, 3));
    assert_eq!(line_col("é", 1), (1, 1));
}

#[test]
fn parse_all_reports_every_error_in_file_order() {
    let text = "bypass = 1\n[agc]\ntarget_lufs = 99\nrise_db_per_s = \"fast\"\n[limiter]\nceilng_dbtp = -1\n";
    let errs = Profile::parse_all(text, "profiles/test.toml").unwrap_err();
    let at: Vec<(usize, usize)> = errs
        .iter()
        .map(|e| {
            let l = e.location.as_ref().expect("located");
            (l.line, l.column)
        })
        .collect();
    assert_eq!(at.len(), 4, "{errs:?}");
    assert_eq!(at[0], (1, 10), "{errs:?}");
    assert_eq!(at[1].0, 3, "{errs:?}");
    assert_eq!(at[2].0, 4, "{errs:?}");
    assert_eq!(at[3], (6, 1), "{errs:?}");
    // `parse` gives the first of them.
    assert_eq!(parse_err(text).to_string(), errs[0].to_string());
    // A valid file parses the same either way.
    assert!(Profile::parse_all("bypass = true\n", "p.toml").is_ok());
}
