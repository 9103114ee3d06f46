#!/usr/bin/env bash
# Makes the toolchain pinned in rust-toolchain.toml resolve, with every component the file lists
# (rustfmt, clippy), on two kinds of machine:
#  - rustup can download: install the pinned channel with its components (or add the missing
#    components to an existing install of it);
#  - rustup cannot download: use an installed 1.95.x toolchain that has the components under the
#    pinned name (a symlink in rustup's toolchain folder).
# Ends with an error naming what is missing when neither works.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v rustup >/dev/null || exit 0

want=$(sed -n 's/^channel *= *"\(.*\)"/\1/p' rust-toolchain.toml)
# components = ["rustfmt", "clippy"] -> "rustfmt clippy"
comps=$(sed -n 's/^components *= *\[\(.*\)\]/\1/p' rust-toolchain.toml | tr -d '",' )
home=${RUSTUP_HOME:-$HOME/.rustup}
host=$(rustup show 2>/dev/null | sed -n 's/^Default host: //p' || true)
[ -n "$host" ] || host=$(rustc +stable -vV 2>/dev/null | sed -n 's/^host: //p' || true)
[ -n "$host" ] || host=x86_64-unknown-linux-gnu

# The binary by which a component shows that it is installed in toolchain folder $1.
has_component() { # dir component
  case "$2" in
    rustfmt) [ -x "$1/bin/rustfmt" ] && [ -x "$1/bin/cargo-fmt" ] ;;
    clippy) [ -x "$1/bin/cargo-clippy" ] && [ -x "$1/bin/clippy-driver" ] ;;
    rust-src) [ -d "$1/lib/rustlib/src" ] ;;
    *) rustup component list --toolchain "$(basename "$1")" --installed 2>/dev/null \
         | grep -q "^$2" ;;
  esac
}
complete() { # dir
  [ -x "$1/bin/rustc" ] || return 1
  for c in $comps; do has_component "$1" "$c" || return 1; done
}
missing_of() { # dir
  local m=""
  for c in $comps; do has_component "$1" "$c" || m="$m $c"; done
  echo "$m"
}

pinned="$home/toolchains/$want-$host"
if complete "$pinned"; then exit 0; fi

# 1. The pinned toolchain exists (e.g. a minimal install) but lacks components: add them.
if [ -x "$pinned/bin/rustc" ] && [ ! -L "$pinned" ]; then
  missing=$(missing_of "$pinned")
  echo "toolchain: adding$missing to $want"
  # shellcheck disable=SC2086
  if rustup component add --toolchain "$want" $missing >/dev/null 2>&1 && complete "$pinned"; then
    exit 0
  fi
fi

# 2. Not installed: install it with its components.
if [ ! -e "$pinned" ]; then
  args=()
  for c in $comps; do args+=(--component "$c"); done
  if rustup toolchain install "$want" --profile minimal "${args[@]}" >/dev/null 2>&1 \
     && complete "$pinned"; then
    echo "toolchain: installed $want with $comps"
    exit 0
  fi
fi

# 3. No download: an installed 1.95.x with every component, under the pinned name.
for cand in "$home"/toolchains/*; do
  [ "$cand" = "$pinned" ] && continue
  [ -L "$cand" ] && continue
  complete "$cand" || continue
  ver=$("$cand/bin/rustc" --version 2>/dev/null | awk '{print $2}')
  case "$ver" in
    "$want".*|"$want")
      if [ -L "$pinned" ]; then
        rm -f "$pinned"
      elif [ -e "$pinned" ]; then
        # An incomplete install of the pinned name that cannot be completed offline.
        rustup toolchain uninstall "$want" >/dev/null 2>&1 || rm -rf "$pinned"
      fi
      ln -sfn "$cand" "$pinned"
      echo "toolchain: using $(basename "$cand") (rustc $ver) as $want"
      exit 0;;
  esac
done

if [ -x "$pinned/bin/rustc" ]; then
  echo "toolchain: Rust $want lacks$(missing_of "$pinned"); run 'rustup component add --toolchain $want$(missing_of "$pinned")'" >&2
else
  echo "toolchain: Rust $want is not installed; run 'rustup toolchain install $want --component ${comps// / --component }'" >&2
fi
exit 1
