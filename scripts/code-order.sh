#!/usr/bin/env bash
# Regenerates crates/headroomd/code-order.txt, the linker's symbol ordering file for the
# release headroomd (crates/headroomd/build.rs): the functions of headroomd's own executable
# that run once start-up is over: those a tapped stream's steady state runs first, most run
# first, then the lock and wait paths whose running depends on timing, then the others. It runs the release headroomd under
# valgrind's callgrind in a PipeWire sandbox, switches instrumentation on when the bus is
# ready (so the release of the start-up code and everything after it is counted), and plays
# the steady state through: a tapped stream, a second stream on another sink, a
# subscriber, status / route / history requests, Layer A off and on, a profile reload, the
# streams stopping, the graph going idle and a stream starting again. The file lists mangled
# symbol names, whose hashes depend on the code and on the packages built together (cargo
# unifies their features), so they are resolved against the three ways the project builds
# headroomd: the footprint bench's `-p headroomd`, `make bench`'s, `make release`'s. Names the
# linker does not find are ignored (those functions land among the cold ones): run it again
# after changes to the code — a stale list costs memory, never correctness.
#
# Usage: scripts/code-order.sh      (needs valgrind, python3, pw-play, nm; a few minutes)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
out="$root/crates/headroomd/code-order.txt"

if [ "${1:-}" != "--inside" ]; then
    cd "$root"
    work="$(mktemp -d)"
    trap 'rm -rf "$work"' EXIT
    cargo build --release -j2 -p headroom-tests --bin hr-sandbox
    cargo build --release -j2 -p headroomd
    cp target/release/headroomd "$work/headroomd"
    target/release/hr-sandbox run -- "$0" --inside "$work"
    # The functions by cost (the steady state's first, then the lock and wait paths that
    # timing decides, then the rest), with their sizes.
    nm -S --defined-only "$work/headroomd" | awk '$3 ~ /^[tT]$/ {print $4, $2}' >"$work/sizes"
    python3 "$root/scripts/code-order.py" callgrind "$work/callgrind.out.1" \
        --pinned "$work/sizes" "$work/callgrind.out.2" >"$work/ran"
    : >"$work/names"
    for pkgs in "-p headroomd" "-p headroomd -p headroom-cli" "--workspace --bins"; do
        # shellcheck disable=SC2086
        cargo build --release -j2 $pkgs
        nm -S --defined-only target/release/headroomd | awk '$3 ~ /^[tT]$/ {print $4, $2}' >>"$work/names"
    done
    python3 "$root/scripts/code-order.py" resolve "$work/ran" "$work/sizes" "$work/names" >"$out"
    # headroomd as the footprint bench builds it, linked with the new list.
    cargo build --release -j2 -p headroomd
    echo "$(wc -l <"$out") symbols in $out"
    exit 0
fi

# Inside the sandbox.
work="$2"
log="$work/headroomd.log"
python3 - "$work/tone.wav" <<'EOF'
import math, struct, sys, wave
w = wave.open(sys.argv[1], "wb")
w.setnchannels(2); w.setsampwidth(2); w.setframerate(48000)
w.writeframes(b"".join(struct.pack("<hh", *(2 * [int(3000 * math.sin(2 * math.pi * 440 * i / 48000))])) for i in range(48000 * 40)))
EOF
req() {
    python3 - "$1" <<'EOF'
import os, socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(os.environ["XDG_RUNTIME_DIR"] + "/headroom/control.sock")
f = s.makefile("rw"); f.readline(); f.write(sys.argv[1] + "\n"); f.flush(); f.readline()
EOF
}
wait_log() {
    for _ in $(seq 600); do grep -q "$1" "$log" && return 0; sleep 0.1; done
    echo "headroomd never logged '$1'" >&2; exit 1
}
pw-metadata -n settings 0 clock.force-quantum 256 >/dev/null
RUST_LOG=info valgrind --tool=callgrind --instr-atstart=no --demangle=no \
    --callgrind-out-file="$work/callgrind.out" "$work/headroomd" 2>"$log" &
vg=$!
wait_log "is ready"
callgrind_control -i on "$vg" >/dev/null
wait_log "start-up over"
# First part: the steady state of a tapped stream playing, nothing else (what every cycle
# runs, placed first).
pw-play --target headroom-processed -P application.name=order-1 "$work/tone.wav" & p1=$!
sleep 8
callgrind_control -d "$vg" >/dev/null
# Second part: everything else that runs once start-up is over.
req '{"id":1,"method":"status"}'
python3 - <<'EOF' &
import os, socket, time
s = socket.socket(socket.AF_UNIX)
s.connect(os.environ["XDG_RUNTIME_DIR"] + "/headroom/control.sock")
f = s.makefile("rw"); f.readline()
f.write('{"id":1,"method":"subscribe","params":{"topics":["meters","settings"]}}\n'); f.flush()
end = time.time() + 6
while time.time() < end and f.readline():
    pass
EOF
sub=$!
sleep 6
req '{"id":2,"method":"status"}'
req '{"id":3,"method":"route.list"}'
req '{"id":4,"method":"history","params":{}}'
pw-play -P application.name=order-2 "$work/tone.wav" & p2=$!
sleep 4
req '{"id":5,"method":"setting.set","params":{"key":"layer_a.enabled","value":false}}'
sleep 2
req '{"id":6,"method":"setting.set","params":{"key":"layer_a.enabled","value":true}}'
req '{"id":7,"method":"profile.reload"}'
req '{"id":8,"method":"setting.reset","params":{"key":"layer_a.enabled"}}'
sleep 3
kill "$p1" "$p2"; wait "$p1" "$p2" "$sub" || true
sleep 8
pw-play --target headroom-processed -P application.name=order-3 "$work/tone.wav" & p3=$!
sleep 5
kill "$p3"; wait "$p3" || true
sleep 3
callgrind_control -d "$vg" >/dev/null
kill "$vg"; wait "$vg" || true
