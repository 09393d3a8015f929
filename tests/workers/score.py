#!/usr/bin/env python3
"""A line-protocol worker in Python: for each integer job, sleep a random
moment (so that completion order differs from input order) and answer
"<job*2> <pid>".  Used by the --ordered integration test."""
import os
import random
import sys
import time

pid = os.getpid()
for line in sys.stdin:
    n = int(line)
    time.sleep(random.random() * 0.003)
    sys.stdout.write(f"{n * 2} {pid}\n")
    sys.stdout.flush()
