#!/usr/bin/env python3
# Line worker: each job is "SECONDS BYTES": sleep, then answer BYTES x's.
import sys
import time
for line in sys.stdin:
    s, n = line.split()
    time.sleep(float(s))
    sys.stdout.write("x" * int(n) + "\n")
    sys.stdout.flush()
