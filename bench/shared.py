#!/usr/bin/env python3
"""bench/shared.py: shared pools on Redis Streams beside Celery 5 on the
same Redis, in one run (section "shared" of bench/run.sh; see
bench/README.md).

One redis-server of our own (127.0.0.1, a free port, a temporary directory,
AOF on with its default `appendfsync everysec`, as the tests run it), then:

- drover: two droverd nodes, each with a shared pool "sq" of W square
  workers (2 W worker processes in all), on database 0; `drover submit
  --quiet --pool sq` of `seq 1 N` to node A, timed from outside; every run
  is checked (N ok, the exact sum of squares in the summary line) and both
  nodes must have run some of the jobs (their `acked` counts).
- Celery 5 (Debian's python3-celery, python3-redis): two `celery worker`
  processes (prefork, `-c W`: 2 W worker processes in all, the same number),
  Redis as the broker (database 2) and the result backend (database 3);
  a client that sends `group(square.s(i) for i in 1..N)`, waits for every
  result (`GroupResult.get()`, which the Redis backend joins natively) and
  sums them, timed from outside in the same way; the sum is checked.
  Celery's defaults otherwise: early acks (a task whose worker dies is
  lost), prefetch 4: settings that favour its speed over drover's promise.

Runs are interleaved (run 1 of each, run 2 ...); drover is measured at
Celery's N too, so that the ratio is taken at one size as well as at each
one's.  Markdown on stdout; targets appended to OUT/targets.tsv."""
import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from suite import (children_of, check_drover, die, group,  # noqa: E402
                   med_lo_hi, note, print_host, seq_file, timed, verdict)

TASKS = textwrap.dedent("""\
    import os
    from celery import Celery
    url = os.environ["BENCH_REDIS"]
    app = Celery("benchtasks", broker=url + "/2", backend=url + "/3")
    app.conf.update(worker_hijack_root_logger=False, result_expires=600)


    @app.task
    def square(x):
        return x * x
    """)

CLIENT = textwrap.dedent("""\
    import sys
    from celery import group
    from benchtasks import square
    n = int(sys.argv[1])
    r = group(square.s(i) for i in range(1, n + 1)).apply_async()
    got = r.get(timeout=3600)
    print(len(got), sum(got))
    r.forget()
    """)


# Celery is Debian's (python3-celery), so it runs under Debian's python3
# whatever python3 runs this script.
PY = "/usr/bin/python3" if os.access("/usr/bin/python3", os.X_OK) else \
    sys.executable


def cpu_s(pid):
    """utime + stime of pid, in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        rest = f.read().rsplit(")", 1)[1].split()
    return (int(rest[11]) + int(rest[12])) / os.sysconf("SC_CLK_TCK")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Setup:
    """redis-server, two droverd nodes and two Celery workers, all ours."""

    def __init__(self, a, workers):
        self.a = a
        self.w = workers
        self.dir = tempfile.mkdtemp(prefix="drover-bench-shared-",
                                    dir=a.work)
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}"
        self.procs = []
        self.logs = []

    def spawn(self, name, argv, **kw):
        log = open(os.path.join(self.dir, name + ".log"), "wb")
        self.logs.append(log)
        p = subprocess.Popen(argv, stdout=log, stderr=log, **kw)
        self.procs.append((name, p))
        return p

    def cli(self, *args):
        p = subprocess.run(["redis-cli", "-h", "127.0.0.1", "-p",
                            str(self.port)] + list(args),
                           capture_output=True, text=True, timeout=30)
        return p.stdout.strip()

    def wait(self, what, pred, timeout=30):
        deadline = time.monotonic() + timeout
        while not pred():
            for name, p in self.procs:
                if p.poll() is not None:
                    die(f"shared: {name} exited {p.returncode} while "
                        f"waiting for {what}; see {self.dir}/{name}.log")
            if time.monotonic() > deadline:
                die(f"shared: timed out waiting for {what}")
            time.sleep(0.05)

    def start(self):
        self.spawn("redis", ["redis-server", "--bind", "127.0.0.1",
                             "--port", str(self.port), "--dir", self.dir,
                             "--appendonly", "yes", "--save", "",
                             "--protected-mode", "no"])
        self.wait("redis-server", lambda: self.cli("ping") == "PONG")
        self.nodes = []
        for name in ("a", "b"):
            sock = os.path.join(self.dir, f"{name}.sock")
            conf = os.path.join(self.dir, f"{name}.conf")
            with open(conf, "w") as f:
                f.write(f'socket = "{sock}";\nlog_level = "warning";\n'
                        f'redis = "{self.url}/0";\n'
                        f'pools = ( {{ name = "sq"; workers = {self.w}; '
                        f'handler = "square"; shared = true; }} );\n')
            p = self.spawn("droverd-" + name,
                           [os.path.join(self.a.build, "droverd"), "-c",
                            conf])
            self.nodes.append((sock, p))
            self.wait(f"droverd {name}", lambda: os.path.exists(sock) and
                      len(children_of(p.pid)) >= self.w and
                      self.status(sock).get("shared", {}).get("connected"))
        with open(os.path.join(self.dir, "benchtasks.py"), "w") as f:
            f.write(TASKS)
        with open(os.path.join(self.dir, "client.py"), "w") as f:
            f.write(CLIENT)
        self.env = dict(os.environ, BENCH_REDIS=self.url,
                        PYTHONPATH=self.dir)
        for name in ("c1", "c2"):
            self.spawn("celery-" + name,
                       [PY, "-m", "celery", "-A", "benchtasks",
                        "worker", "-P", "prefork", "-c", str(self.w),
                        "-n", f"{name}@%h", "-l", "warning",
                        "--without-gossip", "--without-mingle",
                        "--without-heartbeat"],
                       cwd=self.dir, env=self.env)
        # Both Celery workers consume (2 W processes under them) before
        # any run: a warm start for both sides.
        self.wait("the Celery workers", self.celery_ready, timeout=60)

    def celery_ready(self):
        kids = [len(children_of(p.pid)) for name, p in self.procs
                if name.startswith("celery-")]
        return all(k >= self.w for k in kids)

    def status(self, sock):
        p = subprocess.run([os.path.join(self.a.build, "drover"), "status",
                            "--json", "--socket", sock],
                           capture_output=True, text=True, timeout=30)
        if p.returncode != 0:
            return {}
        return json.loads(p.stdout)

    def acked(self):
        return [self.status(s)["shared"]["pools"]["sq"]["acked"]
                for s, _ in self.nodes]

    def stop(self):
        for name, p in reversed(self.procs):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for name, p in reversed(self.procs):
            try:
                rc = p.wait(timeout=60)
            except subprocess.TimeoutExpired:
                p.kill()
                rc = p.wait()
            if name.startswith("droverd") and rc != 0:
                die(f"shared: {name} exited {rc}; see "
                    f"{self.dir}/{name}.log")
        for log in self.logs:
            log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def drover_run(s, a, n, label, run, busy=None):
    inp = seq_file(a, n)
    before = s.acked()
    pids = [p.pid for name, p in s.procs if name == "redis" or
            name.startswith("droverd-")]
    cpu0 = [cpu_s(pid) for pid in pids]
    wall, rc, _, err = timed([os.path.join(a.build, "drover"), "submit",
                              "--quiet", "--pool", "sq", "--socket",
                              s.nodes[0][0]], inp)
    cpu1 = [cpu_s(pid) for pid in pids]
    check_drover(label, rc, err, n, n * (n + 1) * (2 * n + 1) // 6)
    if busy is not None:
        busy.append([(y - x) / wall for x, y in zip(cpu0, cpu1)])
    # Each node's acked count moves when its result transaction is
    # answered, just after the client has the result: wait for them.
    s.wait("the nodes' acked counts",
           lambda: sum(s.acked()) - sum(before) == n, timeout=30)
    took = [x - y for x, y in zip(s.acked(), before)]
    if min(took) == 0:
        die(f"{label}: one node ran no job: {took}")
    note(f"{label} run {run}: {n / wall:,.0f} jobs/s (nodes {took})")
    return n / wall, took


def celery_run(s, n, run):
    t0 = time.perf_counter()
    p = subprocess.run([PY, os.path.join(s.dir, "client.py"),
                        str(n)], capture_output=True, text=True,
                       env=s.env, cwd=s.dir)
    wall = time.perf_counter() - t0
    want = f"{n} {n * (n + 1) * (2 * n + 1) // 6}"
    if p.returncode != 0 or p.stdout.strip() != want:
        die(f"celery run {run}: exit {p.returncode}, printed "
            f"{p.stdout.strip()!r}, expected {want!r}; {p.stderr[-2000:]}")
    note(f"celery run {run}: {n / wall:,.0f} tasks/s")
    return n / wall


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--workers", type=int, default=2,
                    help="worker processes per node (W)")
    ap.add_argument("--n", type=int, default=500000,
                    help="drover's jobs per run")
    ap.add_argument("--celery-n", type=int, default=20000,
                    help="Celery's tasks per run (drover runs it too)")
    a = ap.parse_args()
    for t in ("redis-server", "redis-cli"):
        if shutil.which(t) is None:
            die(f"shared: {t} missing (apt-get install redis-server)")
    p = subprocess.run([PY, "-c", "import celery, redis; "
                        "print(celery.__version__)"],
                       capture_output=True, text=True)
    if p.returncode != 0:
        die("shared: Celery missing (apt-get install python3-celery "
            "python3-redis)")
    celery_version = p.stdout.strip()
    v = subprocess.run(["redis-server", "--version"], capture_output=True,
                       text=True).stdout
    redis_version = v.split("v=")[1].split()[0] if "v=" in v else "?"
    s = Setup(a, a.workers)
    try:
        s.start()
        rates = {"big": [], "small": [], "celery": []}
        took = []
        busy = []       # CPU shares of redis, droverd a, b per big run
        # Warm-up, untimed: connections, imports, the page cache.
        drover_run(s, a, 1000, "drover warm-up", 0)
        celery_run(s, 1000, 0)
        for run in range(1, a.runs + 1):
            r, t = drover_run(s, a, a.n, "drover", run, busy)
            rates["big"].append(r)
            took.append(t)
            rates["small"].append(drover_run(s, a, a.celery_n,
                                             "drover small", run)[0])
            rates["celery"].append(celery_run(s, a.celery_n, run))
            # Celery's results are forgotten by its client; its broker
            # database holds nothing between runs.
        qlen = s.cli("-n", "0", "XLEN", "drover:{sq}:q")
    finally:
        s.stop()
    med = {k: med_lo_hi(v) for k, v in rates.items()}
    w2 = 2 * a.workers
    print(f"## 10. Shared pools: two droverd nodes on one Redis, beside "
          f"Celery {celery_version}\n")
    print_host()
    print(f"One redis-server {redis_version} on 127.0.0.1 (AOF on, `appendfsync "
          f"everysec`), {w2} worker processes on each side: two droverd "
          f"nodes with a shared pool of {a.workers} square workers each, "
          f"`drover submit --quiet` of `seq 1 N` to one node; two Celery "
          f"workers (prefork, `-c {a.workers}`), Redis broker and result "
          f"backend, a client sending `group(square.s(i) for i in 1..N)` "
          f"and summing `GroupResult.get()`.  Wall clock around each "
          f"client, warm servers, runs interleaved, every sum checked; "
          f"both nodes ran jobs in every drover run (per node, last run: "
          f"{took[-1][0]:,} and {took[-1][1]:,}).\n")
    print("| program | N | jobs/s median | min–max |")
    print("|---|--:|--:|--:|")
    for k, title, n in (("big", "drover, 2 nodes", a.n),
                        ("small", "drover, 2 nodes", a.celery_n),
                        ("celery", f"Celery {celery_version}, 2 workers",
                         a.celery_n)):
        m, lo, hi = med[k]
        print(f"| {title} | {group(n)} | {group(m)} | "
              f"{group(lo)}–{group(hi)} |")
    ratio = med["big"][0] / med["celery"][0]
    ratio_same = med["small"][0] / med["celery"][0]
    print(f"\ndrover / Celery: {ratio:.1f}x ({ratio_same:.1f}x at Celery's "
          f"N); the stream `drover:{{sq}}:q` held {qlen} entries after the "
          f"runs (every result's XDEL).\n")
    share = [max(b[i] for b in busy) for i in range(3)]
    print(f"During drover's runs of N = {group(a.n)}, at most: "
          f"redis-server {100 * share[0]:.0f}% of a CPU, droverd A "
          f"(the submitter's node) {100 * share[1]:.0f}%, droverd B "
          f"{100 * share[2]:.0f}% (utime + stime over the run's wall "
          f"time; the workers, the client and Celery's idle workers share "
          f"the rest of the 2 CPUs).\n")
    with open(os.path.join(a.out, "targets.tsv"), "a") as f:
        for row in (["10 shared", "drover 2 nodes / Celery 5", ">= 10x",
                     f"{ratio:.1f}x", verdict(ratio >= 10)],
                    ["10 shared", "drover 2 nodes jobs/s", ">= 20,000",
                     group(med["big"][0]),
                     verdict(med["big"][0] >= 20000)]):
            f.write("\t".join(row) + "\n")


if __name__ == "__main__":
    main()
