#!/usr/bin/env bash
# Makes the toolchain pinned in rust-toolchain.toml (channel "1.95") resolve on a machine that
# has Rust 1.95.x installed under another name (e.g. "1.95.0" or "stable") and cannot download.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v rustup >/dev/null || exit 0
want=$(sed -n 's/^channel *= *"\(.*\)"/\1/p' rust-toolchain.toml)
if rustup run "$want" rustc --version >/dev/null 2>&1; then exit 0; fi
host=$(rustc +stable -vV 2>/dev/null | sed -n 's/^host: //p' || true)
[ -n "$host" ] || host=x86_64-unknown-linux-gnu
home=${RUSTUP_HOME:-$HOME/.rustup}
for cand in "$home"/toolchains/*; do
  [ -x "$cand/bin/rustc" ] || continue
  ver=$("$cand/bin/rustc" --version 2>/dev/null | awk '{print $2}')
  case "$ver" in
    "$want".*|"$want")
      if rustup toolchain install "$want" --profile minimal >/dev/null 2>&1; then exit 0; fi
      ln -sfn "$cand" "$home/toolchains/$want-$host"
      echo "toolchain: using $(basename "$cand") (rustc $ver) as $want"
      exit 0;;
  esac
done
echo "toolchain: Rust $want is not installed; install it with 'rustup toolchain install $want'" >&2
exit 1
