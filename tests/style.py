#!/usr/bin/env python3
"""House-style check (STYLE.md), run in the test suite: the KNF rules that a
machine can check without rewriting the code's shape.

- each C file opens with a comment saying what it is for;
- lines are at most 80 columns (tabs count to the next multiple of 8);
- indentation is tabs, optionally followed by 4 spaces of continuation;
- no trailing white space;
- a function definition has its return type on its own line, so that
  `grep '^name('` finds it.
"""
import os
import re
import subprocess
import sys

ROOT = os.environ.get("DROVER_SOURCE") or os.path.join(
    os.path.dirname(__file__), "..")
DEF_SAME_LINE = re.compile(
    r"^(static |extern |const |unsigned |struct |enum |inline )*"
    r"[A-Za-z_][A-Za-z0-9_]*[ \t*]+\**[A-Za-z_][A-Za-z0-9_]*\([^;]*\)\s*$")


def width(line):
    col = 0
    for ch in line:
        col = (col // 8 + 1) * 8 if ch == "\t" else col + 1
    return col


def check(path, problems):
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    rel = os.path.relpath(path, ROOT)
    if not lines[0].startswith("/*"):
        problems.append(f"{rel}:1: no opening comment")
    for n, line in enumerate(lines, 1):
        if width(line) > 80:
            problems.append(f"{rel}:{n}: longer than 80 columns")
        if line != line.rstrip():
            problems.append(f"{rel}:{n}: trailing white space")
        indent = re.match(r"^[ \t]*", line).group(0)
        if line.strip() and not re.fullmatch(r"\t*( {2}| {4})?", indent) and \
                not line.lstrip().startswith("*"):
            problems.append(f"{rel}:{n}: indentation is not tabs "
                            "(+4 spaces)")
        if (DEF_SAME_LINE.match(line) and n < len(lines) and
                lines[n].startswith("{")):
            problems.append(f"{rel}:{n}: return type and name on one "
                            "line in a definition")


def main():
    files = subprocess.run(["git", "-C", ROOT, "ls-files", "*.c", "*.h"],
                           capture_output=True, text=True).stdout.split()
    if not files:
        for d, _, names in os.walk(ROOT):
            if "build" in d or "/." in d:
                continue
            files += [os.path.relpath(os.path.join(d, n), ROOT)
                      for n in names if n.endswith((".c", ".h"))]
    problems = []
    for f in sorted(files):
        check(os.path.join(ROOT, f), problems)
    for p in problems:
        print(p)
    print(f"style: {len(files)} files, {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
