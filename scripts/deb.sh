#!/usr/bin/env bash
# Builds a Debian package of headroom from the release binaries, with dpkg-deb:
#   /usr/bin/{headroom,headroomd}                    (stripped)
#   /usr/lib/systemd/user/headroomd.service          (ExecStart=/usr/bin/headroomd)
#   /usr/share/{bash-completion,zsh,fish}/…          completions
#   /usr/share/man/man1/headroom*.1.gz, headroomd.1.gz
#   /usr/share/headroom/profiles/*.toml              the shipped profiles
#   /usr/share/doc/headroom/{copyright,changelog.gz}
# Output: target/deb/headroom_VERSION_ARCH.deb; the unit checked with systemd-analyze verify,
# the package with lintian (no errors) when they are installed.
#
# Usage: scripts/deb.sh            (expects target/release/{headroom,headroomd}; `make deb`
#                                   builds them first)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
target="${CARGO_TARGET_DIR:-$here/target}"
version="$(sed -n 's/^version = "\(.*\)"/\1/p' "$here/Cargo.toml" | head -1)"
arch="$(dpkg --print-architecture)"
out="$target/deb"
stage="$out/headroom_${version}_${arch}"
rm -rf "$stage"
mkdir -p "$stage"

# Everything install.sh installs, under /usr.
DESTDIR="$stage" PREFIX=/usr DATADIR=/usr/share BIN_DIR="$target/release" NO_SYSTEMCTL=1 \
  HOME=/nonexistent bash "$here/scripts/install.sh" > /dev/null
# zsh's directory for packaged completions on Debian.
mkdir -p "$stage/usr/share/zsh/vendor-completions"
mv "$stage/usr/share/zsh/site-functions/_headroom" "$stage/usr/share/zsh/vendor-completions/"
rmdir "$stage/usr/share/zsh/site-functions"

strip --strip-unneeded --remove-section=.comment --remove-section=.note \
  "$stage/usr/bin/headroom" "$stage/usr/bin/headroomd"
gzip -9n "$stage"/usr/share/man/man1/*.1

doc="$stage/usr/share/doc/headroom"
mkdir -p "$doc"
cat > "$doc/copyright" <<COPYRIGHT
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: headroom
Source: https://example.invalid/headroom

Files: *
Copyright: 2026 headroom developers
License: MIT or Apache-2.0

License: MIT
 Permission is hereby granted, free of charge, to any person obtaining a copy of this
 software and associated documentation files (the "Software"), to deal in the Software
 without restriction, including without limitation the rights to use, copy, modify, merge,
 publish, distribute, sublicense, and/or sell copies of the Software, and to permit persons
 to whom the Software is furnished to do so, subject to the following conditions:
 .
 The above copyright notice and this permission notice shall be included in all copies or
 substantial portions of the Software.
 .
 THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR IMPLIED,
 INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY, FITNESS FOR A PARTICULAR
 PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE AUTHORS OR COPYRIGHT HOLDERS BE LIABLE
 FOR ANY CLAIM, DAMAGES OR OTHER LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR
 OTHERWISE, ARISING FROM, OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER
 DEALINGS IN THE SOFTWARE.

License: Apache-2.0
 On Debian systems, the full text of the Apache License, Version 2.0 can be found in
 /usr/share/common-licenses/Apache-2.0.
COPYRIGHT
date_r="$(date -R -d "@${SOURCE_DATE_EPOCH:-$(git -C "$here" log -1 --format=%ct 2>/dev/null || date +%s)}")"
printf 'headroom (%s) unstable; urgency=medium\n\n  * Release %s.\n\n -- headroom developers <headroom@example.invalid>  %s\n' \
  "$version" "$version" "$date_r" | gzip -9n > "$doc/changelog.gz"

# Ownership root:root (dpkg-deb --root-owner-group), files 0644 and directories 0755 but for
# the binaries.
find "$stage" -type d -exec chmod 0755 {} +
find "$stage" -type f -exec chmod 0644 {} +
chmod 0755 "$stage/usr/bin/headroom" "$stage/usr/bin/headroomd"

mkdir -p "$stage/DEBIAN"
# A headroomd linked with packed relocations (crates/headroomd/build.rs) needs glibc 2.36's
# loader.
libc=2.34
if readelf -V "$stage/usr/bin/headroomd" 2>/dev/null | grep -q GLIBC_ABI_DT_RELR; then
    libc=2.36
fi
libpw="$(dpkg-query -W -f='${Version}' libpipewire-0.3-0 2>/dev/null | sed 's/-[^-]*$//')"
size="$(du -sk --exclude=DEBIAN "$stage" | cut -f1)"
cat > "$stage/DEBIAN/control" <<CONTROL
Package: headroom
Version: $version
Architecture: $arch
Maintainer: headroom developers <headroom@example.invalid>
Installed-Size: $size
Depends: libc6 (>= $libc), libgcc-s1 (>= 4.2), libpipewire-0.3-0 (>= ${libpw:-0.3.65})
Recommends: pipewire, wireplumber
Section: sound
Priority: optional
Homepage: https://example.invalid/headroom
Description: system-wide loudness leveller for PipeWire
 headroom brings a quiet dialogue scene, a loud advert and a video call to one
 comfortable loudness, with no clipping, no pumping and no audible delay.
 .
 headroomd is a PipeWire user service providing the sink "Headroom (processed)":
 an AGC toward a LUFS target, a compressor and a lookahead true-peak limiter,
 with per-application taps that turn single loud apps down. The headroom
 command controls it (routing rules, settings, profiles, bypass, a live
 monitor) and runs the same chain offline on WAV files.
CONTROL
(cd "$stage" && find usr -type f -exec md5sum {} + | sort -k2) > "$stage/DEBIAN/md5sums"
chmod 0644 "$stage/DEBIAN/control" "$stage/DEBIAN/md5sums"

# The packaged unit passes `systemd-analyze verify` (ExecStart pointed at the staged binary,
# which is where the package puts it once installed).
if command -v systemd-analyze > /dev/null; then
  check="$out/verify/headroomd.service"
  mkdir -p "$out/verify"
  sed "s|^ExecStart=/usr/bin/headroomd|ExecStart=$stage/usr/bin/headroomd|" \
    "$stage/usr/lib/systemd/user/headroomd.service" > "$check"
  if ! msg="$(systemd-analyze verify --man=no "$check" 2>&1)" || [ -n "$msg" ]; then
    echo "deb.sh: systemd-analyze verify of the unit: $msg" >&2
    exit 1
  fi
  rm -r "$out/verify"
fi

deb="$out/headroom_${version}_${arch}.deb"
dpkg-deb --root-owner-group -Zxz --build "$stage" "$deb" > /dev/null
echo "built $deb"
if command -v lintian > /dev/null; then
  lintian --fail-on error "$deb"
  echo "lintian: no errors"
else
  echo "note: lintian is not installed; not checked"
fi
