#!/usr/bin/env bash
# `make eval`: the levelling evaluation. Installs the material's Debian packages, builds
# `headroom` (release) and `hr-eval`, then lets `hr-eval run` build the programmes (cached in
# target/eval/programmes), render them through the profiles (cached in target/eval/renders)
# and print the report (also in target/eval/report.txt and results.json). Always exits 0 once
# the report is printed; FAIL lines say which requirement is not met.
#
# Environment (all optional; `make eval VAR=value` passes them):
#   PROFILES=DIR        profiles to evaluate: DIR/*.toml (default: profiles/ of this tree)
#   EVAL_PROFILE=FILE   evaluate this profile file (instead of PROFILES unless both are set)
#   EVAL_ONLY=a,b       only these programmes (tv-evening film-night podcast playlist
#                       speech-noise recovery onset)
#   EVAL_SET="k=v ..."  passed to `headroom render --set` (e.g. "agc.rise_db_per_s=20")
#   EVAL_BIN=PATH       render with this headroom binary instead of building this tree's
#   EVAL_REV=REV        build REV (a commit, branch or tag of this repository) and render with
#                       it, with REV's profiles unless PROFILES/EVAL_PROFILE say otherwise
#   EVAL_FFMPEG=1       cross-check integrated loudness, LRA and true peak with ffmpeg
#   EVAL_JOBS=N         renders at a time (default 2)
#   EVAL_OUT=DIR        cache and report directory (default target/eval)
set -euo pipefail
cd "$(dirname "$0")/.."
CARGO=${CARGO:-cargo}
OUT=${EVAL_OUT:-target/eval}
# Absolute, so that it still names the same place from the directories cargo runs in.
case $OUT in /*) ;; *) OUT=$PWD/$OUT ;; esac

pkgs="alsa-utils sound-theme-freedesktop wesnoth-1.16-music espeak-ng sox libsox-fmt-base"
if [ -n "${EVAL_FFMPEG:-}" ]; then pkgs="$pkgs ffmpeg"; fi
# shellcheck disable=SC2086
scripts/apt-ensure.sh $pkgs

profile_default=profiles
if [ -n "${EVAL_REV:-}" ] && [ -n "${EVAL_BIN:-}" ]; then
    echo "make eval: set EVAL_REV or EVAL_BIN, not both" >&2
    exit 2
fi
if [ -n "${EVAL_REV:-}" ]; then
    sha=$(git rev-parse --verify --quiet "${EVAL_REV}^{commit}") || {
        echo "make eval: EVAL_REV=$EVAL_REV is not a commit of this repository" >&2
        exit 2
    }
    src=$OUT/rev/$sha
    if [ ! -x "$src/headroom" ]; then
        echo "make eval: building headroom at $EVAL_REV ($sha) in $src"
        rm -rf "$src"
        mkdir -p "$src"
        git archive "$sha" | tar -x -C "$src"
        # One target directory for all revisions: dependencies are built once.
        CARGO_TARGET_DIR=$OUT/rev-target $CARGO build --release --quiet \
            --manifest-path "$src/Cargo.toml" -p headroom-cli --bin headroom
        cp "$OUT/rev-target/release/headroom" "$src/headroom"
    fi
    bin=$src/headroom
    profile_default=$src/profiles
    $CARGO build --release --quiet -p headroom-tests --bin hr-eval
elif [ -n "${EVAL_BIN:-}" ]; then
    bin=$EVAL_BIN
    $CARGO build --release --quiet -p headroom-tests --bin hr-eval
else
    bin=target/release/headroom
    # The same build as `make release`, so the binary (and with it the render cache) does not
    # change between `make release` and `make eval`.
    $CARGO build --workspace --bins --release --quiet
fi

args=(run --out "$OUT" --bin "$bin" --jobs "${EVAL_JOBS:-2}")
if [ -n "${PROFILES:-}" ]; then args+=(--profile "$PROFILES"); fi
if [ -n "${EVAL_PROFILE:-}" ]; then args+=(--profile "$EVAL_PROFILE"); fi
if [ -z "${PROFILES:-}" ] && [ -z "${EVAL_PROFILE:-}" ]; then args+=(--profile "$profile_default"); fi
if [ -n "${EVAL_ONLY:-}" ]; then args+=(--only "$EVAL_ONLY"); fi
for s in ${EVAL_SET:-}; do args+=(--set "$s"); done
if [ -n "${EVAL_FFMPEG:-}" ]; then args+=(--ffmpeg); fi
exec target/release/hr-eval "${args[@]}"
