#!/usr/bin/env bash
# headroom demo (`make demo`): plays a programme with a large loudness swing (quiet speech-like
# part, then loud music-like part) once straight into the real sink and once through
# headroomd's `headroom-processed` sink, records what the real sink played both times, and
# prints before/after loudness.
#
# Without a running PipeWire it re-runs itself inside a private headless sandbox
# (target/release/hr-sandbox). On a desktop it uses your session: it plays audio on your
# current default sink and never changes which sink is the default. If headroomd is already
# running (its sink exists) that instance is used; otherwise one is started for the demo and
# stopped afterwards.
#
# Environment:
#   HEADROOM_DEMO_BIN=DIR     use the binaries in DIR (headroomd, headroom, and hr-sandbox when
#                             no PipeWire is running) instead of target/release, and skip the
#                             release build. A relative DIR is taken from the current directory.
#   HEADROOM_DEMO_SECS=N      length in seconds of each half of the programme (default 12).
#   HEADROOM_DEMO_TARGET=L    the target loudness the table compares against (default -16 LUFS).
set -euo pipefail
SCRIPT=$(cd "$(dirname "$0")" && pwd)/$(basename "$0")
if [[ -n "${HEADROOM_DEMO_BIN:-}" ]]; then
    HEADROOM_DEMO_BIN=$(cd "$HEADROOM_DEMO_BIN" && pwd) || {
        echo "demo: HEADROOM_DEMO_BIN is not a directory" >&2; exit 1; }
    export HEADROOM_DEMO_BIN
fi
cd "$(dirname "$SCRIPT")/.."
ROOT=$(pwd)
TARGET_LUFS=${HEADROOM_DEMO_TARGET:--16}
SECS=${HEADROOM_DEMO_SECS:-12}
[[ "$SECS" =~ ^[1-9][0-9]*$ ]] || { echo "demo: HEADROOM_DEMO_SECS must be a whole number of seconds (>= 1), got '$SECS'" >&2; exit 1; }
BIN=${HEADROOM_DEMO_BIN:-$ROOT/target/release}

if [[ -z "${HEADROOM_DEMO_INNER:-}" ]]; then
    if [[ -z "${HEADROOM_DEMO_BIN:-}" ]]; then
        echo "== building (release)"
        cargo build --release -q -p headroomd -p headroom-tests -p headroom-cli
    fi
    if ! pw-cli info 0 >/dev/null 2>&1; then
        echo "== no PipeWire running: using a private headless sandbox"
        [[ -x "$BIN/hr-sandbox" ]] || { echo "demo: $BIN/hr-sandbox is missing (build it first)" >&2; exit 1; }
        exec env HEADROOM_DEMO_INNER=1 "$BIN/hr-sandbox" run -- "$SCRIPT" "$@"
    fi
fi

[[ -x "$BIN/headroomd" ]] || { echo "demo: $BIN/headroomd is missing (build it first)" >&2; exit 1; }

for tool in sox pw-play pw-record pw-metadata pw-dump python3; do
    command -v "$tool" >/dev/null || { echo "demo: $tool is missing (run \`make deps\`)" >&2; exit 1; }
done

WORK=$(mktemp -d /tmp/headroom-demo.XXXXXX)
HD_PID=""
cleanup() {
    if [[ -n "$HD_PID" ]]; then
        kill -TERM "$HD_PID" 2>/dev/null || true
        wait "$HD_PID" 2>/dev/null || true
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT

# The graph as one JSON array. pw-dump prints the graph again (and removals as objects without
# a type) when it changes while being dumped, which happens whenever other clients come and
# go: merge every document it printed, by object id.
graph() {
    pw-dump 2>/dev/null | python3 -c '
import json, sys
text, dec, pos, objs = sys.stdin.read(), json.JSONDecoder(), 0, {}
while True:
    while pos < len(text) and text[pos].isspace():
        pos += 1
    if pos >= len(text):
        break
    doc, pos = dec.raw_decode(text, pos)
    for o in doc if isinstance(doc, list) else [doc]:
        if "type" not in o and o.get("info") is None:
            objs.pop(o.get("id"), None)
        else:
            objs[o.get("id")] = {**objs.get(o.get("id"), {}), **o}
json.dump(list(objs.values()), sys.stdout)'
}

node_exists() {
    graph | python3 -c '
import json, sys
name = sys.argv[1]
sys.exit(0 if any(o.get("type") == "PipeWire:Interface:Node"
                  and o.get("info", {}).get("props", {}).get("node.name") == name
                  for o in json.load(sys.stdin)) else 1)' "$1"
}

# The sink headroomd plays into (what headroom-output is linked to), else the default sink.
real_sink() {
    graph | python3 -c '
import json, sys
objs = json.load(sys.stdin)
nodes = {o["id"]: o.get("info", {}).get("props", {}) for o in objs
         if o.get("type") == "PipeWire:Interface:Node"}
out = [i for i, p in nodes.items() if p.get("node.name") == "headroom-output"]
for o in objs:
    if o.get("type") == "PipeWire:Interface:Link" and out and \
            o["info"].get("output-node-id") == out[0]:
        print(nodes.get(o["info"]["input-node-id"], {}).get("node.name", "")); sys.exit()
for o in objs:
    if o.get("type") == "PipeWire:Interface:Metadata" and \
            o.get("props", {}).get("metadata.name") == "default":
        for m in o.get("metadata", []):
            if m.get("key") == "default.audio.sink":
                v = m.get("value")
                print(v.get("name", "") if isinstance(v, dict) else json.loads(v).get("name", ""))
                sys.exit()'
}

if node_exists headroom-processed; then
    echo "== using the running headroomd"
else
    echo "== starting headroomd"
    RUST_LOG=${RUST_LOG:-warn} "$BIN/headroomd" 2>"$WORK/headroomd.log" &
    HD_PID=$!
    for _ in $(seq 100); do
        node_exists headroom-processed && [[ -n "$(real_sink)" ]] && break
        sleep 0.1
    done
    node_exists headroom-processed || { echo "headroomd did not come up:"; cat "$WORK/headroomd.log"; exit 1; }
fi
SINK=$(real_sink)
[[ -n "$SINK" && "$SINK" != headroom-processed ]] || { echo "no real sink found" >&2; exit 1; }
echo "== real sink: $SINK"

echo "== generating the programme: $SECS s quiet speech-like (≈ -33 LUFS), $SECS s loud music-like (≈ -12 LUFS)"
sox -n -r 48000 -c 2 -b 32 -e float "$WORK/quiet.wav" synth "$SECS" pinknoise \
    tremolo 3.5 90 lowpass 3500 highpass 120 gain -n -20
sox -n -r 48000 -c 2 -b 32 -e float "$WORK/loud.wav" synth "$SECS" pinknoise \
    synth "$SECS" sine mix 110 synth "$SECS" square amod 2 tremolo 2 40 gain -n -1
sox "$WORK/quiet.wav" "$WORK/loud.wav" "$WORK/programme.wav"

capture() { # $1 = output wav, $2 = playback target, $3 = extra stream properties
    pw-record --target "$SINK" -P '{ stream.capture.sink=true node.name=headroom-demo-rec }' \
        --rate 48000 --channels 2 --format f32 "$1" &
    local rec=$!
    sleep 0.5
    pw-play --target "$2" -P "{ application.name=headroom-demo media.role=Music $3 }" "$WORK/programme.wav"
    sleep 0.3
    kill -INT "$rec"
    wait "$rec" 2>/dev/null || true
}

echo "== playing straight into $SINK"
# node.dont-reconnect: headroomd's routing leaves this stream where it is.
capture "$WORK/before.wav" "$SINK" "node.dont-reconnect=true"
echo "== playing through headroom-processed"
capture "$WORK/after.wav" headroom-processed ""

# Trim leading/trailing silence so both captures cover just the programme.
for f in before after; do
    sox -V1 "$WORK/$f.wav" "$WORK/$f.trim.wav" silence 1 0.01 -60d reverse silence 1 0.01 -60d reverse
done

HEADROOM=$BIN/headroom
if "$HEADROOM" analyze --help >/dev/null 2>&1; then
    echo "== loudness (target $TARGET_LUFS LUFS)"
    python3 - "$HEADROOM" "$WORK" "$TARGET_LUFS" <<'EOF'
import json, subprocess, sys
headroom, work, target = sys.argv[1], sys.argv[2], float(sys.argv[3])

def analyze(path):
    out = subprocess.run([headroom, "analyze", "--json", path], capture_output=True, text=True)
    return json.loads(out.stdout) if out.returncode == 0 else None

def duration(path):
    return float(subprocess.run(["soxi", "-D", path], capture_output=True, text=True).stdout)

def short_term(path):
    # Short-term loudness every 0.5 s: the gated loudness of each 3 s window.
    vals, t, d = [], 0.0, duration(path)
    while t + 3.0 <= d:
        w = f"{work}/win.wav"
        subprocess.run(["sox", path, w, "trim", str(t), "3"], check=True)
        a = analyze(w)
        if a and a["integrated_lufs"] is not None and a["integrated_lufs"] > -70:
            vals.append(a["integrated_lufs"])
        t += 0.5
    return vals

def p95(xs):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(0.95 * (len(xs) - 1))))] if xs else float("nan")

rows = []
for label, f in (("direct", "before"), ("headroom", "after")):
    path = f"{work}/{f}.trim.wav"
    a = analyze(path)
    st = short_term(path)
    rows.append((label, a["integrated_lufs"], p95([abs(v - target) for v in st]),
                 min(st) if st else float("nan"), max(st) if st else float("nan"),
                 a["true_peak_dbtp"]))
print(f"{'':10} {'integrated':>11} {'P95 |S-target|':>15} {'short-term range':>20} {'true peak':>10}")
for label, i, p, lo, hi, tp in rows:
    print(f"{label:10} {i:8.1f} LUFS {p:12.1f} LU {lo:7.1f} .. {hi:5.1f} LUFS {tp:6.1f} dBTP")
EOF
else
    echo "== 'headroom analyze' is not available: RMS and peak only (sox)"
    for f in before after; do
        printf '%-8s ' "$f"
        sox "$WORK/$f.trim.wav" -n stats 2>&1 | awk '/RMS lev dB|Pk lev dB/ {printf "%s %s  ", $1" "$2" "$3, $4}'
        echo
    done
fi
