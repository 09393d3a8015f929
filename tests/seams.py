#!/usr/bin/env python3
"""The seams between modules, as a test (docs/architecture.md, "Modules").

A module is a .c file and the header of the same name (pool.c and its parts
pool_*.c, which share pool_impl.h, are one).  Module A depends on module B
when A.c includes B.h, or when A's object file uses a symbol that B's
defines (which also catches a header shared by several .c files, such as
cli.h once was).  The dependencies must form no cycle: a module that calls
back into the one that calls it takes a hooks struct instead (pool_hooks,
daemon_hooks, supervisor_hooks, input_hooks).  Also: the engine and
`drover` do not depend on the config loader (conf.c, libconfig), and no
source cites a design file that is not in the repository.
"""

import glob
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DIRS = ["common", "config", "daemon", "cli", "worker"]
INCLUDE = re.compile(r'^#include "([^"]+)\.h"', re.M)


def modules():
    """Map each module (by stem) to the stems of the headers it includes."""
    mods = {}
    for d in DIRS:
        for name in sorted(os.listdir(os.path.join(ROOT, d))):
            if not name.endswith(".c"):
                continue
            stem = name[:-2]
            text = open(os.path.join(ROOT, d, name)).read()
            hdr = os.path.join(ROOT, d, stem + ".h")
            if os.path.exists(hdr):
                text += open(hdr).read()
            incs = {module_of(i) for i in INCLUDE.findall(text)}
            m = module_of(stem)
            old = mods.get(m, (d, set()))[1]
            mods[m] = (d, (old | incs) - {m})
    return mods


def module_of(stem):
    """pool_dispatch -> pool: the parts of a module split in files."""
    base = stem.split("_")[0]
    if base != stem and os.path.exists(
            os.path.join(ROOT, "daemon", base + "_impl.h")):
        return base
    return stem


def add_symbol_deps(mods, build):
    """Add the dependencies that the object files in build show."""
    defs, uses = {}, {}
    for obj in glob.glob(os.path.join(build, "**", "*.c.o"), recursive=True):
        rel = os.path.relpath(obj, build)
        if rel.startswith(("tests", "bench")) or "example" in rel:
            continue
        stem = os.path.basename(obj)[:-4].split("_", 1)[-1] \
            if os.path.basename(obj).startswith(("worker_", "daemon_",
                                                 "cli_", ".._common_")) \
            else os.path.basename(obj)[:-4]
        stem = module_of(stem)
        out = subprocess.run(["nm", obj], capture_output=True, text=True,
                             check=True).stdout
        for line in out.splitlines():
            f = line.split()
            if len(f) == 3 and f[1] in "TDBR":
                defs.setdefault(f[2], set()).add(stem)
            elif len(f) == 2 and f[0] == "U":
                uses.setdefault(stem, set()).add(f[1])
    for stem, syms in uses.items():
        for sym in syms:
            for d in defs.get(sym, ()):
                if d != stem and stem in mods:
                    mods[stem][1].add(d)
    return len(defs) != 0


def cycles(mods):
    """Every dependency cycle among modules, each as a list of stems."""
    found, state = [], {}

    def visit(m, path):
        state[m] = 1
        for dep in sorted(mods[m][1]):
            if dep not in mods:
                continue
            if state.get(dep) == 1:
                found.append(path[path.index(dep):] + [dep])
            elif dep not in state:
                visit(dep, path + [dep])
        state[m] = 2

    for m in sorted(mods):
        if m not in state:
            visit(m, [m])
    return found


def closure(mods, start):
    seen, todo = set(), [start]
    while todo:
        m = todo.pop()
        for dep in mods.get(m, ("", set()))[1]:
            if dep in mods and dep not in seen:
                seen.add(dep)
                todo.append(dep)
    return seen


def main():
    mods = modules()
    problems = []
    build = os.environ.get("DROVER_BUILD")
    if build is not None and not add_symbol_deps(mods, build):
        problems.append("no object files under %s" % build)
    for c in cycles(mods):
        problems.append("include cycle: " + " -> ".join(c))
    for m in ("pool", "worker", "run", "iobatch", "settings", "poolconf"):
        if m in mods and "conf" in closure(mods, m) | {m}:
            problems.append(m + ".c depends on the config loader (conf.c)")
    for d in DIRS + ["docs", "bench", "tests", "python"]:
        for dirpath, _, files in os.walk(os.path.join(ROOT, d)):
            for name in files:
                if not re.search(r"\.(c|h|py|md|sh|go|[1-8])$", name):
                    continue
                path = os.path.join(dirpath, name)
                if path == os.path.abspath(__file__):
                    continue
                for i, line in enumerate(open(path, errors="replace"), 1):
                    if re.search(r"DESIGN(\.md| §)", line):
                        problems.append("%s:%d: cites DESIGN, not in the "
                                        "repository" % (
                                            os.path.relpath(path, ROOT), i))
    for p in problems:
        print(p)
    print("%d modules, %d problems" % (len(mods), len(problems)))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
