#!/usr/bin/env python3
"""Helpers of scripts/code-order.sh (Python standard library only).

  code-order.py callgrind OUT... [--pinned SIZES] OUT...
                                    the functions of headroomd's executable that ran in
                                    callgrind output files: the first file's, most
                                    instructions first, then those of the next not listed
                                    yet, and so on; `--pinned SIZES` puts the functions of
                                    SIZES that run only when threads contend or wait (see
                                    PINNED) at that point
  code-order.py resolve RAN SIZES NAMES
                                    for each function of RAN (in its order), every symbol of
                                    NAMES that is the same function in another build: the same
                                    name once the hashes that depend on the crate graph are
                                    removed, and the same size (instances of one generic
                                    function share their name but mostly not their size).
                                    SIZES and NAMES: lines `symbol size-in-hex` (`nm -S`), SIZES
                                    of the build RAN was measured on
"""

import collections
import re
import sys


# Functions that run only when threads contend for a lock, wait on one another or first use
# a thread-local: timing decides whether they run, and under valgrind, which runs one thread
# at a time, they hardly ever do. Each one left among the cold code pulls a window of it
# back into memory when it first runs.
PINNED = re.compile(
    r"parking_lot"                  # parking_lot and parking_lot_core: slow paths, parking
    r"|3std3sys4sync"               # std's futex mutex, rwlock, condvar and once
    r"|3std6thread9functions"       # park, park_timeout
    r"|thread_local11destructors"   # a thread's first thread-local with a destructor
    r"|crossbeam_channel7context"   # blocking send/recv: waiting for the other side
    r"|crossbeam_channel5waker"
)


def pinned(sizes):
    """The symbols of SIZES (`symbol size` lines) that PINNED matches."""
    return [name for name, _ in sized(sizes) if PINNED.search(name)]


def callgrind(args):
    """The functions of every file in turn, each file's most run first, each function once;
    `--pinned SIZES` among the files inserts the pinned functions of SIZES at that point."""
    seen = set()
    it = iter(args)
    for arg in it:
        names = pinned(next(it)) if arg == "--pinned" else callgrind_one(arg)
        for name in names:
            if name not in seen:
                seen.add(name)
                print(name)


def callgrind_one(path):
    cost = collections.Counter()
    names, objs, ob, fn, after_call = {}, {}, None, None, False
    for line in open(path):
        m = re.match(r"(c?)(ob|fn)=\((\d+)\)(?: (.*))?", line.strip())
        if m:
            callee, kind, ident, name = m.groups()
            table = objs if kind == "ob" else names
            if name:
                table[ident] = name
            if not callee:
                if kind == "ob":
                    ob = table[ident]
                else:
                    fn = table[ident]
            continue
        if line.startswith("calls="):
            after_call = True
            continue
        if (line[:1].isdigit() or line[:1] in "+-*") and ob and ob.endswith("/headroomd"):
            parts = line.split()
            if not after_call and len(parts) >= 2:
                # callgrind marks recursion depth with 'N.
                cost[re.sub(r"'\d+$", "", fn)] += int(parts[-1])
        after_call = False
    return [name for name, _ in cost.most_common()]


def key(name):
    """A symbol without ThinLTO's `.llvm.N` suffix, the legacy mangling's hash and the v0
    mangling's crate disambiguators."""
    name = re.sub(r"\.llvm\.\d+$", "", name)
    name = re.sub(r"17h[0-9a-f]{16}E", "E", name)
    return re.sub(r"Cs[0-9A-Za-z]+_", "Cs_", name)


def sized(path):
    for line in open(path):
        name, size = line.split()
        yield name, int(size, 16)


def resolve(ran, sizes, names):
    size_of = dict(sized(sizes))
    by_key = collections.defaultdict(list)
    for n, size in sized(names):
        by_key[(key(n), size)].append(n)
    seen = set()
    for k in open(ran).read().split():
        for n in by_key.get((key(k), size_of.get(k)), []):
            if n not in seen:
                seen.add(n)
                print(n)


if __name__ == "__main__":
    if sys.argv[1:2] == ["callgrind"] and len(sys.argv) >= 3:
        callgrind(sys.argv[2:])
    elif sys.argv[1:2] == ["resolve"] and len(sys.argv) == 5:
        resolve(sys.argv[2], sys.argv[3], sys.argv[4])
    else:
        sys.exit(__doc__)
