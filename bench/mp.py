#!/usr/bin/env python3
"""bench/mp.py: the Python peer of section 1 (bench/README.md).

What a Python user reaches for to square a file of integers on N cores:
multiprocessing.Pool(N).imap_unordered(f, items, chunksize=1000), the
items being the lines of stdin, f parsing and squaring one.  The main
process sums the squares (Python integers are exact) and prints a summary
line on stderr in goref's format, which bench/run.sh checks:

    mp: N jobs in X s (R jobs/s); sum S

    mp.py [-w N] [-c CHUNKSIZE] < seq-file
"""
import argparse
import multiprocessing
import sys
import time


def square(line):
    """One job: the integer on a line, squared."""
    n = int(line)
    return n * n


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("-w", type=int, default=2, help="worker processes")
    ap.add_argument("-c", type=int, default=1000, help="imap chunksize")
    a = ap.parse_args()
    if a.w < 1 or a.c < 1:
        print("mp: -w and -c must be at least 1", file=sys.stderr)
        sys.exit(2)
    t0 = time.perf_counter()
    total = 0
    jobs = 0
    with multiprocessing.Pool(a.w) as pool:
        for sq in pool.imap_unordered(square, sys.stdin.buffer,
                                      chunksize=a.c):
            total += sq
            jobs += 1
    t = time.perf_counter() - t0
    print(f"mp: {jobs} jobs in {t:.3f} s ({jobs / t:.0f} jobs/s); "
          f"sum {total}", file=sys.stderr)


if __name__ == "__main__":
    main()
