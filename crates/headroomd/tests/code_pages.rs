//! `headroomd::code_pages` on this test binary's own code, in a process of its own (one test:
//! no other test runs code meanwhile).

use headroomd::code_pages::{release_code_pages, Released};

/// Resident kB of this process's mappings of its own executable.
fn exe_rss_kb() -> u64 {
    let exe = std::fs::read_link("/proc/self/exe").unwrap();
    let exe = exe.to_str().unwrap().to_owned();
    let smaps = std::fs::read_to_string("/proc/self/smaps").unwrap();
    let (mut ours, mut kb) = (false, 0);
    for line in smaps.lines() {
        let first = line.split_whitespace().next().unwrap_or("");
        if !first.ends_with(':') && first.contains('-') {
            ours = line.trim_end().ends_with(exe.as_str());
        } else if ours && first == "Rss:" {
            kb += line
                .split_whitespace()
                .nth(1)
                .unwrap()
                .parse::<u64>()
                .unwrap();
        }
    }
    kb
}

#[test]
fn the_executables_read_only_pages_are_released_and_only_what_runs_comes_back() {
    let before = exe_rss_kb();
    let Released::Dropped { resident_kb } = release_code_pages().unwrap() else {
        panic!("not released");
    };
    assert!(
        resident_kb > 0 && resident_kb <= before,
        "{resident_kb} of {before} kB"
    );
    // Reading smaps runs code again, so some of it is back, but not all of it.
    let after = exe_rss_kb();
    assert!(after < before, "{before} kB → {after} kB");
    // Released once more: works the same (nothing is left in a state it cannot handle).
    assert!(matches!(
        release_code_pages().unwrap(),
        Released::Dropped { .. }
    ));
}
