#!/usr/bin/env bash
# CPU of several audio processes measured over the same windows, each in its own PipeWire
# sandbox, all sandboxes running at once: the load of a shared machine, which moves from one
# window to the next, then weighs on every subject alike, and their ratios window by window
# are steadier than those of runs taken one after the other. Quantum 256, one 440 Hz stream
# (pw-play with a real-time data thread) into each subject's sink.
#
# Usage: scripts/cpu-windows.sh WINDOWS SECONDS LABEL=SUBJECT...
#   SUBJECT: ref          pw-loopback as it runs by default (normal scheduling)
#            ref-rt       pw-loopback with a real-time data thread (client-rt.conf)
#            BIN:tap      a headroomd binary, Layer A on (the stream tapped)
#            BIN:notap    the same with layer_a.enabled off
#            BIN:other    Layer A on, the real-time data thread moved to normal scheduling
#                         (chrt; an experiment, headroomd never does that itself)
# Prints one line per window and subject: LABEL WINDOW CPU_US_PER_S, then medians and the
# window-by-window ratios of every headroomd subject to every reference.
# Example (after `cargo build --release -p headroomd -p headroom-cli -p headroom-tests`):
#   scripts/cpu-windows.sh 12 5 ref=ref rt=ref-rt hd=target/release/headroomd:tap
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
HR="$ROOT/target/release/headroom"
SANDBOX="$ROOT/target/release/hr-sandbox"

if [[ "${1:-}" == --one ]]; then
  # Inside a sandbox: --one LABEL SUBJECT START_EPOCH WINDOWS SECONDS WAV
  L=$2 S=$3 START=$4 N=$5 W=$6 WAV=$7
  pw-metadata -n settings 0 clock.force-quantum 256 >/dev/null
  case "$S" in
    ref | ref-rt)
      [[ "$S" == ref-rt ]] && export PIPEWIRE_CONFIG_NAME=client-rt.conf
      pw-loopback -m '[ FL FR ]' --capture-props 'media.class=Audio/Sink node.name=cpu-ref' \
        >/dev/null 2>&1 &
      P=$! SINK=cpu-ref
      unset PIPEWIRE_CONFIG_NAME
      ;;
    *)
      B=${S%:*} M=${S##*:}
      "$B" >"$ROOT/target/cpu-windows/$L.log" 2>&1 &
      P=$! SINK=headroom-processed
      ;;
  esac
  for _ in $(seq 100); do
    pw-cli ls Node 2>/dev/null | grep -q "\"$SINK\"" && break
    sleep 0.1
  done
  case "$S" in
    *:notap) "$HR" set layer_a.enabled off >/dev/null ;;
    *:other)
      sleep 1
      for t in /proc/$P/task/*; do
        [[ "$(awk '{print $41}' "$t/stat")" == 1 ]] && chrt -o -p 0 "$(basename "$t")"
      done
      ;;
  esac
  PIPEWIRE_CONFIG_NAME=client-rt.conf pw-play --target "$SINK" "$WAV" &
  PL=$!
  cs() { cat /proc/$P/task/*/schedstat 2>/dev/null | awk '{s += $1} END {print s}'; }
  now=$(date +%s)
  ((now < START)) && sleep $((START - now))
  for k in $(seq "$N"); do
    c0=$(cs) t0=$(date +%s%N)
    sleep "$W"
    c1=$(cs) t1=$(date +%s%N)
    echo "$L $k $(((c1 - c0) * 1000000 / (t1 - t0)))"
  done
  kill $PL $P 2>/dev/null || true
  wait 2>/dev/null || true
  exit 0
fi

N=$1 W=$2
shift 2
mkdir -p "$ROOT/target/cpu-windows"
# Longer than the start delay, the setup and every window together.
secs=$((N * W + 60))
WAV="$ROOT/target/cpu-windows/tone-$secs.wav"
[[ -f "$WAV" ]] || sox -n -r 48000 -c 2 "$WAV" synth "$secs" sine 440 vol 0.1
OUT="$ROOT/target/cpu-windows/last.txt"
: >"$OUT"
START=$(($(date +%s) + 20))
REFS=()
for a in "$@"; do
  case "${a#*=}" in ref | ref-rt) REFS+=("${a%%=*}") ;; esac
  "$SANDBOX" run -- "$0" --one "${a%%=*}" "${a#*=}" "$START" "$N" "$W" "$WAV" >>"$OUT" 2>/dev/null &
done
wait
sort -k2n -k1,1 "$OUT"
python3 - "$OUT" "${REFS[@]}" <<'EOF'
import collections, statistics as st, sys
d = collections.defaultdict(dict)
refs = sys.argv[2:]
for line in open(sys.argv[1]):
    p = line.split()
    if len(p) == 3 and p[1].isdigit():
        d[p[0]][int(p[1])] = int(p[2]) / 1000
for k, v in d.items():
    x = list(v.values())
    print(f"{k:10s} median {st.median(x):6.2f} ms/s  range {min(x):6.2f}–{max(x):6.2f}")
for a in d:
    for b in refs:
        if a in refs:
            continue
        r = [d[a][i] / d[b][i] for i in d[a] if i in d[b] and d[b][i] > 0]
        if r:
            print(f"{a}/{b}: median {st.median(r):.2f}×  windows {min(r):.2f}–{max(r):.2f}×")
EOF
