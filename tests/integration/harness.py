"""Shared helpers for drover's black-box integration tests.

Every test runs the built programs for real.  Each process tree we start is
tagged with a unique DROVER_TEST_TAG in its environment; workers inherit it,
so after a run we can find any survivor (orphan) by scanning /proc, whatever
it was reparented to.  Waiting is done by polling with a deadline, never by
fixed sleeps.
"""
import json
import os
import re
import signal
import subprocess
import time
import unittest
import uuid

BUILD = os.environ.get("DROVER_BUILD") or os.path.join(
    os.path.dirname(__file__), "..", "..", "build")
DROVER = os.path.join(BUILD, "drover")
DROVERD = os.path.join(BUILD, "droverd")
WORKER = os.path.join(BUILD, "drover-worker")
TESTWORKERS = os.environ.get("DROVER_TEST_WORKERS") or os.path.join(
    BUILD, "tests", "workers")
TW = os.path.join(TESTWORKERS, "tw")
SOURCE = os.environ.get("DROVER_SOURCE") or os.path.join(
    os.path.dirname(__file__), "..", "..")
SCORE_PY = os.path.join(SOURCE, "tests", "workers", "score.py")

SUMMARY_RE = re.compile(
    r"drover: (?P<jobs>\d+) jobs, (?P<ok>\d+) ok, (?P<failed>\d+) failed"
    r"(?: \((?P<breakdown>[^)]*)\))?, (?P<retried>\d+) retried"
    r"(?:, (?P<restarts>\d+) restarts)? in (?P<wall>[\d.]+) s "
    r"\((?P<rate>\d+) jobs/s\)"
    r"(?:; sum (?P<sum>\S+) min (?P<min>\S+) max (?P<max>\S+) "
    r"mean (?P<mean>\S+))?$", re.M)


def sum_squares(n):
    return n * (n + 1) * (2 * n + 1) // 6


def tagged_env(extra=None):
    """A copy of the environment with a fresh test tag (and extras)."""
    env = dict(os.environ)
    env["DROVER_TEST_TAG"] = uuid.uuid4().hex
    env.pop("DROVER_WORKER", None)
    if extra:
        env.update(extra)
    return env


def tagged_pids(tag):
    """Pids of live processes whose environment carries tag."""
    found = []
    needle = ("DROVER_TEST_TAG=" + tag).encode()
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/environ", "rb") as f:
                env = f.read()
            with open(f"/proc/{d}/stat") as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if needle in env.split(b"\0") and state != "Z":
            found.append(int(d))
    return found


def children(pid):
    """(pid, state) of the direct children of pid."""
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                rest = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(rest[1]) == pid:
            out.append((int(d), rest[0]))
    return out


def wait_for(pred, timeout=10.0, interval=0.01, what="condition"):
    """Poll pred() until it is truthy; fail the test after timeout."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for "
                                 f"{what}")
        time.sleep(interval)


def fd_count(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


class Result:
    def __init__(self, rc, out, err, tag):
        self.rc = rc
        self.out = out
        self.err = err
        self.tag = tag

    @property
    def text(self):
        return self.out.decode("utf-8", "replace")

    @property
    def errtext(self):
        return self.err.decode("utf-8", "replace")

    def summary(self):
        """The text summary line on stderr, parsed."""
        m = None
        for m in SUMMARY_RE.finditer(self.errtext):
            pass
        if m is None:
            raise AssertionError("no summary line in stderr:\n" +
                                 self.errtext[-2000:])
        d = m.groupdict()
        for k in ("jobs", "ok", "failed", "retried", "rate"):
            d[k] = int(d[k])
        d["restarts"] = int(d["restarts"] or 0)
        return d

    def json_lines(self):
        """Every stdout line parsed as JSON (each must parse)."""
        return [json.loads(line) for line in self.text.splitlines()]

    def jobs_and_summary(self):
        objs = self.json_lines()
        assert objs and "summary" in objs[-1], "last line is not a summary"
        return objs[:-1], objs[-1]["summary"]


def run(args, stdin=b"", timeout=120, env=None, check_orphans=True):
    """Run `drover run ARGS` with stdin; assert no process of it survives."""
    env = env or tagged_env()
    p = subprocess.run([DROVER, "run"] + list(args), input=stdin,
                       capture_output=True, timeout=timeout, env=env)
    if check_orphans:
        wait_for(lambda: not tagged_pids(env["DROVER_TEST_TAG"]),
                 timeout=5, what="every process of the run to exit")
    return Result(p.returncode, p.stdout, p.stderr, env["DROVER_TEST_TAG"])


def start(args, stdin=subprocess.PIPE, env=None, **kw):
    """Start `drover run ARGS` in the background (for signal tests)."""
    env = env or tagged_env()
    p = subprocess.Popen([DROVER, "run"] + list(args), stdin=stdin,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         env=env, **kw)
    p.tag = env["DROVER_TEST_TAG"]
    return p


def feed_and_wait(p, data, timeout=300):
    """Write data to p's stdin from a thread while collecting its stdout and
    stderr, then wait for it.  Returns (out, err) as bytes."""
    import threading
    box = {}

    def feed():
        try:
            p.stdin.write(data)
            p.stdin.close()
        except (BrokenPipeError, ValueError):
            pass

    def drain(name, f):
        box[name] = f.read()

    ts = [threading.Thread(target=feed),
          threading.Thread(target=drain, args=("out", p.stdout)),
          threading.Thread(target=drain, args=("err", p.stderr))]
    for t in ts:
        t.start()
    p.wait(timeout=timeout)
    for t in ts:
        t.join(timeout=10)
    return box.get("out", b""), box.get("err", b"")


def lines(*items):
    return "".join(f"{i}\n" for i in items).encode()


class DroverTestCase(unittest.TestCase):
    maxDiff = 4000

    def assertSummary(self, res, **expect):
        s = res.summary()
        for k, v in expect.items():
            self.assertEqual(s[k], v, f"summary {k}: {res.errtext[-1500:]}")
        return s
