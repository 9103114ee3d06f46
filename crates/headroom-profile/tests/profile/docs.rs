//! The settings table of the docs (`SETTINGS.md`, included in the crate docs) is derived from
//! the schema; this test keeps the file in step. `HEADROOM_BLESS=1` rewrites it.

use std::path::Path;

#[test]
fn settings_doc_matches_the_schema() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("SETTINGS.md");
    let want = headroom_profile::settings_markdown();
    if std::env::var_os("HEADROOM_BLESS").is_some() {
        std::fs::write(&path, &want).unwrap();
    }
    let have = std::fs::read_to_string(&path).unwrap();
    assert_eq!(
        have,
        want,
        "{} is out of date: run `HEADROOM_BLESS=1 cargo test -p headroom-profile settings_doc`",
        path.display()
    );
    // Every setting appears, with its range where it has one.
    for info in headroom_profile::Profile::keys() {
        assert!(have.contains(&format!("`{}`", info.key)), "{}", info.key);
        if let Some(r) = info.range {
            assert!(have.contains(&r.describe()), "{}", info.key);
        }
    }
}

#[test]
fn settings_help_lists_every_key() {
    let help = headroom_profile::settings_help();
    for info in headroom_profile::Profile::keys() {
        assert!(help.contains(info.key), "{}", info.key);
        assert!(help.contains(info.doc), "{}", info.key);
    }
}
