#!/usr/bin/env bash
# Soak: headroomd processes programme audio for 10 minutes (HEADROOM_SOAK_SECS) at a forced
# 256-frame quantum inside a private PipeWire sandbox, and must report 0 xruns (callback
# spikes over 2 ms are reported). Run via `make soak` or directly, on an otherwise idle machine
# (xruns are a property of the whole machine: on a loaded one every PipeWire client misses
# cycles). The release build is what is measured: the test runs the `headroomd` next to it,
# and both are built here with `--release`.
# HEADROOM_SOAK_SECS=60 scripts/soak.sh runs the 60-second version; HEADROOM_SOAK_STREAMS=32
# plays 32 application streams at once, each tapped by Layer A (`make soak-32`).
set -euo pipefail
cd "$(dirname "$0")/.."
export HEADROOM_SOAK_SECS="${HEADROOM_SOAK_SECS:-600}"
cargo build --release -p headroomd
exec cargo test --release -p headroom-tests --test e2e soak:: -- --nocapture
