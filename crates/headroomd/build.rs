//! Places the code `headroomd`'s steady state runs together at the start of its text
//! (`code-order.txt`, a symbol ordering file for the linker), release builds for
//! x86_64 Linux only, where rustc links with its own `lld`. With the start-up code's pages
//! released after start-up (`headroomd::code_pages`), the kernel then maps back only the
//! windows holding that code instead of nearly all of the text. Regenerate the file with
//! `scripts/code-order.sh` after larger changes (names it no longer finds are ignored).
//! `HEADROOM_NO_CODE_ORDER=1` builds without it; so does a build that chooses its own linker
//! (`target.<triple>.linker` or linker flags in `RUSTFLAGS`), which may not be lld.

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
}
