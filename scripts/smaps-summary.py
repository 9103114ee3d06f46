#!/usr/bin/env python3
"""Where a process's resident memory goes, from /proc/PID/smaps: resident size by kind of
mapping (the executable's code, its read-only data, its relocated and writable data, shared
libraries, heap, anonymous mappings, stacks, PipeWire's shared memory), each split into shared
and private, clean and dirty, with the shared libraries' resident pages one by one.

Usage: scripts/smaps-summary.py PID [EXE_NAME]
  EXE_NAME  the executable's file name (default: /proc/PID/comm), so its mappings are told
            apart from the libraries'.
Example, in `target/release/hr-sandbox run -- bash` while a stream plays into headroomd:
  scripts/smaps-summary.py "$(pidof headroomd)" headroomd
All figures kB. Python standard library only.
"""

import collections
import re
import sys

FIELDS = ["Size", "Rss", "Pss", "Shared_Clean", "Shared_Dirty", "Private_Clean",
          "Private_Dirty", "Anonymous"]


def mappings(pid):
    """(permissions, path, fields) of every mapping of `pid`."""
    out, cur = [], None
    with open(f"/proc/{pid}/smaps") as f:
        for line in f:
            m = re.match(r"^([0-9a-f]+)-([0-9a-f]+) (\S+) \S+ \S+ \S+\s*(.*)$", line)
            if m:
                cur = (m.group(3), m.group(4).strip(), collections.Counter())
                cur[2]["Size"] = (int(m.group(2), 16) - int(m.group(1), 16)) // 1024
                out.append(cur)
            elif cur is not None:
                key, _, value = line.partition(":")
                value = value.strip()
                if value.endswith("kB") and key != "Size":
                    cur[2][key] += int(value.split()[0])
    return out


def kind(perm, path, exe):
    """The row a mapping is counted in."""
    if path == "[heap]":
        return "heap"
    if path.startswith("[stack"):
        return "main thread's stack"
    if path in ("[vdso]", "[vvar]", "[vvar_vclock]", "[vsyscall]"):
        return "vdso"
    if path == "":
        return "anonymous (arenas, mmaps, thread stacks)"
    if path.startswith("/memfd") or path.startswith("/dev/"):
        return "shared memory (PipeWire buffers)"
    if path.endswith("/" + exe):
        if "x" in perm:
            return "executable: code"
        if perm.startswith("r--"):
            return "executable: read-only (+ relocated)"
        return "executable: writable data"
    if ".so" in path:
        return "libraries: code" if "x" in perm else "libraries: data"
    return "other files"


def main():
    pid = sys.argv[1]
    exe = sys.argv[2] if len(sys.argv) > 2 else open(f"/proc/{pid}/comm").read().strip()
    rows, libs = collections.OrderedDict(), collections.Counter()
    for perm, path, f in mappings(pid):
        k = kind(perm, path, exe)
        rows.setdefault(k, collections.Counter()).update(f)
        if k.startswith("libraries"):
            libs[path.rsplit("/", 1)[-1]] += f["Rss"]
    head = ["size", "rss", "pss", "sh.cl", "sh.di", "pr.cl", "pr.di", "anon"]
    print(f"{'':<42}" + "".join(f"{h:>8}" for h in head))
    total = collections.Counter()
    for k, f in sorted(rows.items(), key=lambda kv: -kv[1]["Rss"]):
        total.update(f)
        print(f"{k:<42}" + "".join(f"{f[x]:>8}" for x in FIELDS))
    print(f"{'total':<42}" + "".join(f"{total[x]:>8}" for x in FIELDS))
    print("\nlibraries, resident:")
    for name, rss in libs.most_common():
        if rss:
            print(f"  {name:<44}{rss:>8}")


if __name__ == "__main__":
    main()
