//! The crate's module graph has no import cycles (see `headroom_tests::modules`).

#[test]
fn module_graph_has_no_cycles() {
    headroom_tests::modules::assert_no_cycles(env!("CARGO_MANIFEST_DIR"));
}
