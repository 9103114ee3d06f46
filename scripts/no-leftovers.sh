#!/usr/bin/env bash
# Fails if any process started inside a test sandbox (marked with HEADROOM_SANDBOX in its
# environment) is still running.
set -u
left=""
for env in /proc/[0-9]*/environ; do
  pid=${env#/proc/}; pid=${pid%/environ}
  [ "$pid" = "$$" ] && continue
  if { tr "\0" "\n" < "$env"; } 2>/dev/null | grep -q "^HEADROOM_SANDBOX="; then
    left="$left $pid($(cat /proc/$pid/comm 2>/dev/null))"
  fi
done
if [ -n "$left" ]; then
  echo "no-leftovers: sandbox processes still running:$left" >&2
  exit 1
fi
echo "no-leftovers: no sandbox process left running"
