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
    r"drover: (?P<jobs>\d+) jobs?, (?P<ok>\d+) ok, (?P<failed>\d+) failed"
    r"(?: \((?P<breakdown>[^)]*)\))?, (?P<retried>\d+) retried"
    r"(?:, (?P<restarts>\d+) restarts?)? in (?P<wall>[\d.]+) s "
    r"\((?P<rate>[\d.]+) jobs/s\)"
    r"(?:; sum (?P<sum>\S+) min (?P<min>\S+) max (?P<max>\S+) "
    r"mean (?P<mean>\S+))?$", re.M)


def free_port():
    """A TCP port free on 127.0.0.1 now (for a server the test starts)."""
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


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


def wait_for(pred, timeout=10.0, interval=0.01, what="condition",
             detail=None):
    """Poll pred() until it is truthy; fail the test after timeout, with
    detail() (say, a log) in the message if given."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for "
                                 f"{what}" +
                                 (": " + detail() if detail else ""))
        time.sleep(interval)


def observe_quiet(seconds, pred, interval=0.02, what="condition"):
    """Check that pred() stays truthy for `seconds`; fail as soon as it is
    not.

    A bounded observation, not a synchronisation: for the tests that show
    something does NOT happen (a process that does not spin, a worker that
    is not replaced), there is no event to wait for, the absence is the
    result.  wait_for() whatever can be waited for first, keep `seconds`
    short, and prefer a positive control (something that must happen in
    the same time) where there is one."""
    deadline = time.monotonic() + seconds
    while True:
        if not pred():
            raise AssertionError(f"{what} did not hold for {seconds}s")
        if time.monotonic() > deadline:
            return
        time.sleep(interval)


def observe(seconds, sample, interval=0.05):
    """sample() every interval for `seconds`; the values, in order.  A
    bounded observation like observe_quiet() (a peak, not an event)."""
    values = []
    observe_quiet(seconds, lambda: values.append(sample()) or True,
                  interval=interval)
    return values


def unread(fd):
    """Bytes waiting to be read on fd, a pipe or a socket."""
    import fcntl
    import struct
    import termios
    buf = fcntl.ioctl(fd, termios.FIONREAD, struct.pack("i", 0))
    return struct.unpack("i", buf)[0]


def pipe_full(pid, fd):
    """Is pid's fd, a pipe (either end), full: a writer to it blocked or
    told EAGAIN?  Asked of a write end of our own, opened again through
    /proc/PID/fd: it polls writable while the pipe has room."""
    import select
    try:
        w = os.open(f"/proc/{pid}/fd/{fd}", os.O_WRONLY | os.O_NONBLOCK)
    except OSError:
        return False
    try:
        return not select.select([], [w], [], 0)[1]
    finally:
        os.close(w)


def cpu_seconds(pid):
    """User and system CPU time pid has used."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def bytes_written(pid):
    """What pid has written so far, to files, pipes and sockets alike."""
    with open(f"/proc/{pid}/io") as f:
        for line in f:
            if line.startswith("wchar:"):
                return int(line.split()[1])
    return 0


def in_nanosleep(pid):
    """Is pid asleep in nanosleep(2) (a sleep worker busy with a job)?"""
    try:
        with open(f"/proc/{pid}/wchan") as f:
            return "nanosleep" in f.read()
    except OSError:
        return False


def read_until(f, needle, timeout=10.0, what=None):
    """Read the pipe f (a file object or an fd) until needle has come; what
    was read, which the caller owns (it is no longer in f)."""
    import select
    fd = f if isinstance(f, int) else f.fileno()
    got = b""
    deadline = time.monotonic() + timeout
    while needle not in got:
        left = deadline - time.monotonic()
        ready = select.select([fd], [], [], max(left, 0))[0]
        chunk = os.read(fd, 65536) if ready else b""
        if not chunk:
            raise AssertionError(f"no {what or needle!r} in {timeout}s "
                                 f"before EOF: {got[-500:]!r}")
        got += chunk
    return got


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
        for k in ("jobs", "ok", "failed", "retried"):
            d[k] = int(d[k])
        d["rate"] = float(d["rate"])
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


def conf_check(conf_text):
    """droverd -t on conf_text: (exit status, stderr lines, the file's path,
    which is gone by then)."""
    import tempfile
    fd, path = tempfile.mkstemp(suffix=".conf")
    with os.fdopen(fd, "w") as f:
        f.write(conf_text)
    p = subprocess.run([DROVERD, "-t", "-c", path], capture_output=True,
                       text=True, timeout=30)
    os.unlink(path)
    return p.returncode, p.stderr.splitlines(), path


class Droverd:
    """A droverd on a private config, socket and log in a temp dir."""

    def __init__(self, pools, extra="", shutdown_timeout=5.0, metrics=None,
                 env=None, log_level="info"):
        import tempfile
        self.dir = tempfile.mkdtemp(prefix="droverd-test-")
        self.sock = os.path.join(self.dir, "droverd.sock")
        self.conf = os.path.join(self.dir, "droverd.conf")
        self.log = os.path.join(self.dir, "droverd.log")
        self.env = env or tagged_env()
        self.tag = self.env["DROVER_TEST_TAG"]
        self.metrics = metrics
        self.write(pools, extra, shutdown_timeout, log_level)
        self.proc = None

    def write(self, pools, extra="", shutdown_timeout=5.0, log_level="info"):
        """(Re)write the config file with these pools."""
        text = (f'socket = "{self.sock}";\n'
                f'shutdown_timeout = {float(shutdown_timeout)};\n'
                f'log_level = "{log_level}";\n')
        if self.metrics:
            text += f'metrics = "{self.metrics}";\n'
        text += extra + "\npools = (\n" + ",\n".join(
            "  { " + p + " }" for p in pools) + "\n);\n"
        with open(self.conf, "w") as f:
            f.write(text)

    def start(self, nofile=None):
        """Start it; nofile: its RLIMIT_NOFILE."""
        def limit():
            import resource
            resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))
        self.logf = open(self.log, "wb")
        self.proc = subprocess.Popen([DROVERD, "-c", self.conf],
                                     stdout=self.logf, stderr=self.logf,
                                     env=self.env,
                                     preexec_fn=limit if nofile else None)
        wait_for(lambda: os.path.exists(self.sock) or
                 self.proc.poll() is not None, what="the control socket")
        if self.proc.poll() is not None:
            raise AssertionError("droverd exited: " + self.logtext())
        return self

    def logtext(self):
        with open(self.log, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def client(self, args, stdin=b"", timeout=120, env=None, cwd=None):
        env = dict(env or self.env)
        env["DROVER_SOCKET"] = self.sock
        p = subprocess.run([DROVER] + list(args), input=stdin,
                           capture_output=True, timeout=timeout, env=env,
                           cwd=cwd)
        return Result(p.returncode, p.stdout, p.stderr, self.tag)

    def submit(self, pool, stdin, *opts, **kw):
        return self.client(["submit", "--pool", pool] + list(opts), stdin,
                           **kw)

    def start_submit(self, pool, *opts, **kw):
        env = dict(self.env)
        env["DROVER_SOCKET"] = self.sock
        return subprocess.Popen([DROVER, "submit", "--pool", pool] +
                                list(opts), stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, env=env, **kw)

    def status(self):
        r = self.client(["status", "--json"])
        assert r.rc == 0, r.errtext
        return json.loads(r.out)

    def pool(self, name):
        for p in self.status()["pools"]:
            if p["name"] == name:
                return p
        raise KeyError(name)

    def signal(self, sig):
        self.proc.send_signal(sig)

    def stop(self, timeout=30):
        """SIGTERM, wait for the exit status, check no process is left."""
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(signal.SIGTERM)
        rc = self.proc.wait(timeout=timeout)
        self.logf.close()
        wait_for(lambda: not tagged_pids(self.tag), timeout=5,
                 what="every process of droverd to exit")
        return rc

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if self.proc is not None and not self.logf.closed:
            self.logf.close()


# The control protocol (docs/protocol.md), raw, for clients that misbehave.
CTL_REQUEST, CTL_REPLY, CTL_JOB, CTL_END, CTL_RESULT, CTL_BYE = range(1, 7)
CTL_RECORDS = 9
CTL_SUMS = 10
CTL_INPUT = 11
CTL_READ = 12
CTL_VERSION = 1


def ctl_frame(typ, payload=b"", id=0, status=0):
    import struct
    if isinstance(payload, str):
        payload = payload.encode()
    return struct.pack("<IBBHQ", len(payload), typ, status, 0, id) + payload


def ctl_request(obj):
    return ctl_frame(CTL_REQUEST, json.dumps(obj), id=CTL_VERSION)


def ctl_connect(path, timeout=10.0):
    import socket
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(path)
    return s


def ctl_read_one(s):
    """One message (type, status, id, payload), read to its end and no
    further."""
    import struct
    buf = b""
    while len(buf) < 16:
        chunk = s.recv(16 - len(buf))
        if not chunk:
            raise EOFError("the connection ended before a message")
        buf += chunk
    n, typ, st, _, id_ = struct.unpack_from("<IBBHQ", buf)
    body = b""
    while len(body) < n:
        chunk = s.recv(n - len(body))
        if not chunk:
            raise EOFError("the connection ended inside a message")
        body += chunk
    return (typ, st, id_, body)


def ctl_read_all(s):
    """Messages (type, status, id, payload) until EOF or a reset."""
    import socket
    import struct
    out, buf = [], b""
    while True:
        try:
            chunk = s.recv(1 << 20)
        except (ConnectionResetError, socket.timeout):
            break
        if not chunk:
            break
        buf += chunk
        while len(buf) >= 16:
            n, typ, st, _, id_ = struct.unpack_from("<IBBHQ", buf)
            if len(buf) < 16 + n:
                break
            out.append((typ, st, id_, buf[16:16 + n]))
            buf = buf[16 + n:]
    return out
