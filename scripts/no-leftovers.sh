#!/usr/bin/env bash
# Fails if any process started inside a test sandbox of this checkout is still running. Every
# sandbox process carries HEADROOM_SANDBOX (its sandbox directory) and HEADROOM_SANDBOX_CHECKOUT
# (the checkout whose tests started it) in its environment; sandboxes started by other checkouts
# on the same machine are not this checkout's leftovers and are ignored.
set -u
root=$(cd "$(dirname "$0")/.." && pwd -P)
left=""
for env in /proc/[0-9]*/environ; do
  pid=${env#/proc/}; pid=${pid%/environ}
  [ "$pid" = "$$" ] && continue
  if { tr "\0" "\n" < "$env"; } 2>/dev/null | grep -qxF "HEADROOM_SANDBOX_CHECKOUT=$root"; then
    left="$left $pid($(cat /proc/$pid/comm 2>/dev/null))"
  fi
done
if [ -n "$left" ]; then
  echo "no-leftovers: sandbox processes of $root still running:$left" >&2
  exit 1
fi
echo "no-leftovers: no sandbox process of $root left running"
