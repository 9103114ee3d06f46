//! Places the code `headroomd`'s steady state runs together at the start of its text
//! (`code-order.txt`, a symbol ordering file for the linker), release builds for
//! x86_64 Linux only, where rustc links with its own `lld`. With the start-up code's pages
//! released after start-up (`headroomd::code_pages`), the kernel then maps back only the
//! windows holding that code instead of nearly all of the text. Regenerate the file with
//! `scripts/code-order.sh` after larger changes (names it no longer finds are ignored).
//! `HEADROOM_NO_CODE_ORDER=1` builds without it; so does a build that chooses its own linker
//! (`target.<triple>.linker` or linker flags in `RUSTFLAGS`), which may not be lld.
//!
//! The same builds pack their relative relocations (`DT_RELR`) when the C library they
//! build against is glibc 2.36 or later (which can load them): the relocation table, read
//! once by the loader, shrinks from ≈ 240 kB to ≈ 8 kB, and the constants behind it are read
//! in fewer page windows once start-up is over (≈ 80 kB less resident).

use std::path::Path;

fn main() {
    println!("cargo:rerun-if-changed=code-order.txt");
    println!("cargo:rerun-if-env-changed=HEADROOM_NO_CODE_ORDER");
    let release = std::env::var("PROFILE").is_ok_and(|p| p == "release");
    let target = std::env::var("TARGET").unwrap_or_default();
    let off = std::env::var_os("HEADROOM_NO_CODE_ORDER").is_some_and(|v| v != "0");
    let flags = std::env::var("CARGO_ENCODED_RUSTFLAGS").unwrap_or_default();
    let own_linker = std::env::var_os("RUSTC_LINKER").is_some()
        || ["linker", "fuse-ld", "link-self-contained"]
            .iter()
            .any(|f| flags.contains(f));
    if !release || off || own_linker || target != "x86_64-unknown-linux-gnu" {
        return;
    }
    let order = Path::new(env!("CARGO_MANIFEST_DIR")).join("code-order.txt");
    println!(
        "cargo:rustc-link-arg-bin=headroomd=-Wl,--symbol-ordering-file={}",
        order.display()
    );
    println!("cargo:rustc-link-arg-bin=headroomd=-Wl,--no-warn-symbol-ordering");
    if glibc_loads_relr() {
        println!("cargo:rustc-link-arg-bin=headroomd=-Wl,-z,pack-relative-relocs");
    }
}

/// Whether this machine's glibc (`getconf GNU_LIBC_VERSION`) is 2.36 or later, the first
/// whose loader reads packed relocations; false when that cannot be told.
fn glibc_loads_relr() -> bool {
    let Ok(out) = std::process::Command::new("getconf")
        .arg("GNU_LIBC_VERSION")
        .output()
    else {
        return false;
    };
    let text = String::from_utf8_lossy(&out.stdout);
    let mut parts = text
        .trim()
        .strip_prefix("glibc ")
        .unwrap_or("")
        .split('.')
        .map(|p| p.parse::<u32>().ok());
    match (parts.next().flatten(), parts.next().flatten()) {
        (Some(major), Some(minor)) => (major, minor) >= (2, 36),
        _ => false,
    }
}
