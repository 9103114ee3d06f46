#!/usr/bin/env python3
"""Helpers of scripts/code-order.sh (Python standard library only).

  code-order.py callgrind OUT...    the functions of headroomd's executable that ran in
                                    callgrind output files: the first file's, most
                                    instructions first, then those of the next not listed
                                    yet, and so on
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


def callgrind(paths):
    """The functions of every file in turn, each file's most run first, each function once."""
    seen = set()
    for path in paths:
        for name in callgrind_one(path):
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
