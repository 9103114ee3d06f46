//! Property tests: the profile parser never panics, valid profiles round-trip through TOML,
//! and the glob matcher agrees with simple string predicates.

use headroom_profile::{shipped_profiles, Bound, Glob, Profile, SettingValue};
use proptest::prelude::*;

fn default_text() -> &'static str {
    shipped_profiles()
        .iter()
        .find(|(n, _)| *n == "default")
        .map(|(_, t)| *t)
        .unwrap()
}

/// A value inside `[lo, hi]`, nudged off exclusive bounds.
fn in_range(lo: Bound, hi: Bound, t: f64) -> f64 {
    let (a, a_excl) = match lo {
        Bound::Inclusive(a) => (a, false),
        Bound::Exclusive(a) => (a, true),
    };
    let (b, b_excl) = match hi {
        Bound::Inclusive(b) => (b, false),
        Bound::Exclusive(b) => (b, true),
    };
    let v = a + (b - a) * t;
    // Keep to values an f32 holds exactly enough, and off exclusive ends.
    let v = (v * 100.0).round() / 100.0;
    if (a_excl && v <= a) || (b_excl && v >= b) {
        (a + b) / 2.0
    } else {
        v
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn parse_never_panics_on_arbitrary_text(text in "\\PC{0,200}") {
        let _ = Profile::parse(&text, "fuzz.toml");
    }

    #[test]
    fn parse_never_panics_on_edited_default(pos in 0usize..4000, del in 0usize..8,
                                            insert in "[\\[\\]\"=a-z0-9.\\-\n #{}]{0,6}") {
        let base = default_text();
        let mut pos = pos.min(base.len());
        while !base.is_char_boundary(pos) { pos -= 1; }
        let mut end = (pos + del).min(base.len());
        while !base.is_char_boundary(end) { end += 1; }
        let text = format!("{}{}{}", &base[..pos], insert, &base[end..]);
        match Profile::parse(&text, "edit.toml") {
            Ok(p) => prop_assert!(p.validate().is_ok()),
            Err(e) => {
                let loc = e.location.expect("file errors carry a location");
                prop_assert!(loc.line >= 1 && loc.column >= 1);
                prop_assert!(loc.line <= text.lines().count().max(1) + 1);
            }
        }
    }

    #[test]
    fn valid_settings_round_trip_through_toml(ts in proptest::collection::vec(0.0f64..=1.0, 40),
                                              bools in proptest::collection::vec(any::<bool>(), 40)) {
        let mut p = Profile::default();
        for (i, info) in Profile::keys().iter().enumerate() {
            let v = match (&info.default, info.range) {
                (SettingValue::Number(_), Some(r)) => SettingValue::Number(in_range(r.min, r.max, ts[i])),
                (SettingValue::Bool(_), _) => SettingValue::Bool(bools[i]),
                _ => continue,
            };
            // Ordering rules may reject a combination; then the profile stays valid as is.
            let _ = p.set(info.key, v);
        }
        p.validate().unwrap();
        let again = Profile::parse_named(&p.name, &p.to_toml(), "rt.toml").unwrap();
        prop_assert_eq!(again, p);
    }

    #[test]
    fn literal_glob_matches_exactly_itself_in_any_case(s in "[a-zA-Z0-9 ._-]{0,12}", t in "[a-zA-Z0-9 ._-]{0,12}") {
        let g = Glob::new(&s).unwrap();
        prop_assert!(g.matches(&s));
        prop_assert!(g.matches(&s.to_uppercase()));
        prop_assert_eq!(g.matches(&t), s.eq_ignore_ascii_case(&t));
    }

    #[test]
    fn star_globs_agree_with_str_methods(s in "[a-c]{0,4}", t in "[a-c]{0,10}") {
        prop_assert_eq!(Glob::new(&format!("*{s}*")).unwrap().matches(&t), t.contains(&s));
        prop_assert_eq!(Glob::new(&format!("{s}*")).unwrap().matches(&t), t.starts_with(&s));
        prop_assert_eq!(Glob::new(&format!("*{s}")).unwrap().matches(&t), t.ends_with(&s));
        let q: String = s.chars().map(|_| '?').collect();
        prop_assert_eq!(Glob::new(&q).unwrap().matches(&t), t.chars().count() == s.chars().count());
    }
}
