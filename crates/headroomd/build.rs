//! Links `headroomd` with packed relative relocations (`DT_RELR`) where the C library can load
//! them (glibc 2.36 and later, native builds).
//!
//! A position-independent executable carries one relocation for every pointer in its
//! read-only data (vtables, string tables, panic locations): ≈ 10 000 for headroomd. The
//! dynamic loader reads them all at start, so the ≈ 240 kB table stays resident for the
//! daemon's whole life. Packed, the table is ≈ 3 % of that size; what the loader writes is
//! the same. A glibc older than 2.36 cannot load such a binary (it needs the
//! `GLIBC_ABI_DT_RELR` version), so the flag is only passed when the glibc the binary is
//! built against has it; cross builds get the plain table, and so do other architectures
//! than x86-64 (where the toolchain's default linker, LLD, is known to take the flag).

use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let var = |k: &str| std::env::var(k).unwrap_or_default();
    let native = var("HOST") == var("TARGET");
    let x86_64_linux_gnu = var("CARGO_CFG_TARGET_ARCH") == "x86_64"
        && var("CARGO_CFG_TARGET_OS") == "linux"
        && var("CARGO_CFG_TARGET_ENV") == "gnu";
    if native && x86_64_linux_gnu && glibc_at_least(2, 36) {
        println!("cargo:rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
    }
}

/// Whether the build machine's glibc (`getconf GNU_LIBC_VERSION`, e.g. `glibc 2.36`) is at
/// least `major.minor`; false when it cannot be told.
fn glibc_at_least(major: u32, minor: u32) -> bool {
    let Ok(out) = Command::new("getconf").arg("GNU_LIBC_VERSION").output() else {
        return false;
    };
    let text = String::from_utf8_lossy(&out.stdout);
    let Some(version) = text.trim().strip_prefix("glibc ") else {
        return false;
    };
    let mut parts = version.split('.').map(|p| p.parse::<u32>().ok());
    match (parts.next().flatten(), parts.next().flatten()) {
        (Some(a), Some(b)) => (a, b) >= (major, minor),
        _ => false,
    }
}
