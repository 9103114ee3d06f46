#!/usr/bin/env bash
# Installs headroom for the current user (or system-wide with PREFIX=/usr/local, as root):
#   binaries     $PREFIX/bin/{headroom,headroomd}
#   unit         $XDG_CONFIG_HOME/systemd/user/headroomd.service (ExecStart=$PREFIX/bin/headroomd)
#                or, when PREFIX is not under $HOME, $PREFIX/lib/systemd/user/headroomd.service
#   completions  $DATADIR/bash-completion/completions/headroom
#                $DATADIR/zsh/site-functions/_headroom
#                $DATADIR/fish/vendor_completions.d/headroom.fish
#   man pages    $DATADIR/man/man1/headroom.1, headroom-SUBCOMMAND.1 and headroomd.1
#   profiles     $DATADIR/headroom/profiles/*.toml (the shipped ones, for reference)
#
# Usage: scripts/install.sh [--uninstall]
# Environment:
#   PREFIX          install prefix (default: $HOME/.local)
#   DATADIR         data directory (default: $PREFIX/share)
#   DESTDIR         staging root for packaging (prepended to every path written)
#   BIN_DIR         where the built binaries are (default: target/release)
#   NO_SYSTEMCTL=1  do not run `systemctl --user daemon-reload`
#   ENABLE=1        also `systemctl --user enable --now headroomd`
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PREFIX="${PREFIX:-$HOME/.local}"
DATADIR="${DATADIR:-$PREFIX/share}"
DESTDIR="${DESTDIR:-}"
BIN_DIR="${BIN_DIR:-${CARGO_TARGET_DIR:-$here/target}/release}"

bindir="$PREFIX/bin"
case "$PREFIX" in
  "$HOME"|"$HOME"/*) unitdir="${XDG_CONFIG_HOME:-$HOME/.config}/systemd/user" ;;
  *) unitdir="$PREFIX/lib/systemd/user" ;;
esac
bash_dir="$DATADIR/bash-completion/completions"
zsh_dir="$DATADIR/zsh/site-functions"
fish_dir="$DATADIR/fish/vendor_completions.d"
man_dir="$DATADIR/man/man1"
profiles_dir="$DATADIR/headroom/profiles"

files=(
  "$bindir/headroom" "$bindir/headroomd" "$unitdir/headroomd.service"
  "$bash_dir/headroom" "$zsh_dir/_headroom" "$fish_dir/headroom.fish" "$man_dir/headroom.1"
  "$man_dir/headroomd.1"
)
for p in "$here"/profiles/*.toml; do files+=("$profiles_dir/$(basename "$p")"); done

systemctl_user() {
  [ "${NO_SYSTEMCTL:-0}" = 1 ] && return 0
  [ -n "$DESTDIR" ] && return 0
  command -v systemctl >/dev/null 2>&1 || return 0
  systemctl --user "$@" 2>/dev/null || echo "install.sh: note: \`systemctl --user $*\` did not succeed (no user session?)" >&2
}

if [ "${1:-}" = "--uninstall" ]; then
  systemctl_user disable --now headroomd.service
  for f in "${files[@]}"; do
    if [ -e "$DESTDIR$f" ]; then rm -f "$DESTDIR$f" && echo "removed $DESTDIR$f"; fi
  done
  for f in "$DESTDIR$man_dir"/headroom-*.1; do
    if [ -e "$f" ]; then rm -f "$f" && echo "removed $f"; fi
  done
  rmdir "$DESTDIR$profiles_dir" "$DESTDIR$DATADIR/headroom" 2>/dev/null || true
  systemctl_user daemon-reload
  exit 0
elif [ -n "${1:-}" ]; then
  echo "usage: $0 [--uninstall]" >&2
  exit 2
fi

for b in headroom headroomd; do
  if [ ! -x "$BIN_DIR/$b" ]; then
    echo "install.sh: $BIN_DIR/$b not found — build first (\`make release\` or \`cargo build --release\`)" >&2
    exit 1
  fi
done

install -d "$DESTDIR$bindir" "$DESTDIR$unitdir" "$DESTDIR$bash_dir" "$DESTDIR$zsh_dir" \
  "$DESTDIR$fish_dir" "$DESTDIR$man_dir" "$DESTDIR$profiles_dir"
install -m 0644 "$here"/profiles/*.toml "$DESTDIR$profiles_dir/"
install -m 0755 "$BIN_DIR/headroom" "$DESTDIR$bindir/headroom"
install -m 0755 "$BIN_DIR/headroomd" "$DESTDIR$bindir/headroomd"

# The unit from dist/, with ExecStart pointing at the installed daemon.
sed "s|^ExecStart=.*|ExecStart=$bindir/headroomd|" "$here/dist/headroomd.service" \
  > "$DESTDIR$unitdir/headroomd.service"
chmod 0644 "$DESTDIR$unitdir/headroomd.service"

# Generated from the command line itself, so they always match the installed version.
cli="$BIN_DIR/headroom"
"$cli" completions bash > "$DESTDIR$bash_dir/headroom"
"$cli" completions zsh > "$DESTDIR$zsh_dir/_headroom"
"$cli" completions fish > "$DESTDIR$fish_dir/headroom.fish"
"$cli" man --dir "$DESTDIR$man_dir" > /dev/null
chmod 0644 "$DESTDIR$bash_dir/headroom" "$DESTDIR$zsh_dir/_headroom" \
  "$DESTDIR$fish_dir/headroom.fish" "$DESTDIR$man_dir"/headroom*.1

for f in "${files[@]}"; do echo "installed $DESTDIR$f"; done

systemctl_user daemon-reload
if [ "${ENABLE:-0}" = 1 ]; then
  systemctl_user enable --now headroomd.service
else
  echo "start it with: systemctl --user enable --now headroomd"
fi
case ":$PATH:" in
  *":$bindir:"*) ;;
  *) echo "note: $bindir is not on your PATH" ;;
esac
