#!/usr/bin/env python3
"""A text-protocol test worker in Python, speaking the protocol named by
DROVER_PROTOCOL: `line` (one result per line, in order) or `tagged`
("ID<TAB>job" in, "ID<TAB>result" out, in any order; docs/protocol.md).
It squares integers and fails other jobs; "bang" is answered "!bang"
(written "!!bang"), and a job over 10 characters with a failure whose
reason is the job itself.  Then it does what its mode says:

    textw.py square [STATS]         behave
    textw.py swap [STATS]           answer pairs of jobs out of order: hold
                                    a job while the next one is already
                                    read, answer that one first
    textw.py twice V [STATS]        answer job V, then answer it again
                                    (tagged: the same id twice)
    textw.py unknown V [STATS]      after job V, answer an id never sent
    textw.py notab V [STATS]        after job V, write a line without a tab
    textw.py nondecimal V [STATS]   after job V, write "x7<TAB>49"
    textw.py long V [STATS]         answer job V with 1000 bytes

STATS, if given, is a file that gets one line at exit: "swapped N held M",
N the pairs answered out of order, M the most jobs it ever had read and
not answered (how many the supervisor sent before reading a result)."""
import os
import sys

PROTO = os.environ.get("DROVER_PROTOCOL", "")
TAGGED = PROTO == "tagged"
MODE = sys.argv[1] if len(sys.argv) > 1 else "square"
HAS_V = MODE in ("twice", "unknown", "notab", "nondecimal", "long")
V = sys.argv[2] if HAS_V else None
STATS = sys.argv[3 if HAS_V else 2] if len(sys.argv) > (3 if HAS_V else 2) \
    else None

out = []
swapped = 0
held_max = 0


def result(tag, job):
    """The result line for one job (without the id)."""
    if PROTO not in ("line", "tagged"):
        return f"!DROVER_PROTOCOL is {PROTO!r}"
    if job == "bang":
        return "!!bang"
    if MODE == "long" and job == V:
        return "y" * 1000
    try:
        n = int(job)
    except ValueError:
        return "!" + job if len(job) > 10 else f"!cannot square {job!r}"
    return str(n * n)


def answer(tag, job):
    line = result(tag, job)
    out.append(f"{tag}\t{line}\n" if TAGGED else line + "\n")
    if job != V:
        return
    if MODE == "twice":
        out.append(out[-1])
    elif MODE == "unknown" and TAGGED:
        out.append("987654321\t1\n")
    elif MODE == "notab":
        out.append("garbage\n")
    elif MODE == "nondecimal":
        out.append("x7\t49\n")


def flush():
    if out:
        os.write(1, "".join(out).encode())
        out.clear()


def main():
    global swapped, held_max
    buf = b""
    held = None
    while True:
        if b"\n" not in buf:
            flush()
            data = os.read(0, 65536)
            if not data:
                break
            buf += data
            continue
        held_max = max(held_max, buf.count(b"\n") + (held is not None))
        raw, buf = buf.split(b"\n", 1)
        text = raw.decode()
        if TAGGED:
            tag, job = text.split("\t", 1)
        else:
            tag, job = None, text
        if MODE == "swap" and TAGGED and held is None and b"\n" in buf:
            held = (tag, job)   # the next job is here: answer it first
            continue
        answer(tag, job)
        if held is not None:
            answer(*held)
            held = None
            swapped += 1
    if held is not None:
        answer(*held)
    flush()
    if STATS:
        with open(STATS, "a") as f:
            f.write(f"swapped {swapped} held {held_max}\n")


main()
