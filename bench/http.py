#!/usr/bin/env python3
"""bench/http.py: the http handler beside `xargs -P C curl` and GNU parallel
with curl, on the same local server and URLs, at the same concurrency C, in
one run (section "http" of bench/run.sh; see bench/README.md).

The server is nginx (Debian's nginx-light) on 127.0.0.1, one worker
process, serving N static 1 KiB files with keep-alive: a C server that does
not make itself the bottleneck, which this checks by measuring its CPU time
during drover's runs (a server near 100% of a CPU would cap the figure).
drover runs `-w 2 --window C/2 -o per_host=C/2`: C requests in flight in
all, the same as `xargs -P C` and `parallel -j C`.  Every run is checked:
drover's summary (N ok) and N lines of "200 1024 SHA256" (each file's hash);
xargs and parallel print curl's %{http_code}, N lines of 200.  Runs are
interleaved (run 1 of each, run 2 ...); each cell is the median and the
min-max of the runs.  Markdown on stdout; stdlib only."""
import argparse
import hashlib
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

CURL = ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}\n"]


def note(msg):
    print("bench: http: " + msg, file=sys.stderr, flush=True)


def cpu_s(pid):
    """utime + stime of pid, in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        rest = f.read().rsplit(")", 1)[1].split()
    return (int(rest[11]) + int(rest[12])) / os.sysconf("SC_CLK_TCK")


class Nginx:
    def __init__(self, work, n):
        self.dir = tempfile.mkdtemp(prefix="http-", dir=work)
        root = os.path.join(self.dir, "www")
        os.makedirs(root)
        self.sha = []
        for i in range(n):
            data = (f"{i:08d}\n" * 114)[:1023].encode() + b"\n"
            with open(os.path.join(root, f"f{i}"), "wb") as f:
                f.write(data)
            self.sha.append(hashlib.sha256(data).hexdigest())
        conf = os.path.join(self.dir, "nginx.conf")
        with open(conf, "w") as f:
            f.write(f"""daemon off;
worker_processes 1;
pid {self.dir}/nginx.pid;
error_log {self.dir}/error.log;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    keepalive_requests 1000000;
    client_body_temp_path {self.dir};
    proxy_temp_path {self.dir};
    fastcgi_temp_path {self.dir};
    uwsgi_temp_path {self.dir};
    scgi_temp_path {self.dir};
    server {{
        listen 127.0.0.1:0;
        root {root};
    }}
}}
""")
        # Port 0 is not allowed by nginx: pick a free one first.
        import socket
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        self.port = s.getsockname()[1]
        s.close()
        text = open(conf).read().replace("127.0.0.1:0",
                                         f"127.0.0.1:{self.port}")
        with open(conf, "w") as f:
            f.write(text)
        self.proc = subprocess.Popen(["nginx", "-c", conf, "-p", self.dir],
                                     stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), 1).close()
                break
            except OSError:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    raise SystemExit("bench: http: nginx did not start")
                time.sleep(0.02)
        kids = subprocess.run(["pgrep", "-P", str(self.proc.pid)],
                              capture_output=True, text=True).stdout.split()
        self.worker = int(kids[0])

    def close(self):
        self.proc.send_signal(signal.SIGQUIT)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        shutil.rmtree(self.dir, ignore_errors=True)


def timed(argv, stdin):
    t0 = time.monotonic()
    p = subprocess.run(argv, input=stdin, capture_output=True)
    return time.monotonic() - t0, p


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--concurrency", type=int, default=8)
    a = ap.parse_args()
    c, n = a.concurrency, a.n
    os.makedirs(a.work, exist_ok=True)
    srv = Nginx(a.work, n)
    try:
        urls = [f"http://127.0.0.1:{srv.port}/f{i}" for i in range(n)]
        stdin = "".join(u + "\n" for u in urls).encode()
        drover = [os.path.join(a.build, "drover"), "run", "-w", "2",
                  "--window", str(c // 2), "-o", f"per_host={c // 2}",
                  "--no-progress", "http"]
        benches = {
            "drover": drover,
            "xargs -P curl": ["xargs", "-P", str(c), "-n", "1"] + CURL,
        }
        if shutil.which("parallel"):
            benches["GNU parallel curl"] = (
                ["parallel", "--will-cite", "-q", "-j", str(c)] + CURL +
                ["{}"])
        want = sorted(f"200 1024 {h}" for h in srv.sha)
        res = {k: [] for k in benches}
        busy = []
        for r in range(a.runs):
            for name, argv in benches.items():
                c0 = cpu_s(srv.worker)
                wall, p = timed(argv, stdin)
                cpu = cpu_s(srv.worker) - c0
                out = p.stdout.decode().splitlines()
                if name == "drover":
                    ok = (p.returncode == 0 and sorted(out) == want and
                          re.search(rf"drover: {n} jobs, {n} ok",
                                    p.stderr.decode()))
                    busy.append(cpu / wall)
                else:
                    ok = p.returncode == 0 and out == ["200"] * n
                if not ok:
                    raise SystemExit(f"bench: http: {name} run {r + 1} "
                                     f"failed: rc {p.returncode}\n" +
                                     p.stderr.decode()[-2000:])
                res[name].append(n / wall)
                note(f"{name} run {r + 1}: {n / wall:.0f} req/s "
                     f"(nginx {100 * cpu / wall:.0f}% of a CPU)")
    finally:
        srv.close()

    med = {k: statistics.median(v) for k, v in res.items()}
    print(f"## http: {n} GETs of 1 KiB from nginx on 127.0.0.1, "
          f"{c} in flight\n")
    if os.environ.get("BENCH_HOST"):
        print(f"Host: {os.environ['BENCH_HOST']}.\n")
    print("| program | requests/s (median) | min-max | vs xargs+curl |")
    print("|---|---:|---:|---:|")
    for k, v in res.items():
        print(f"| {k} | {med[k]:.0f} | {min(v):.0f}-{max(v):.0f} | "
              f"{med[k] / med['xargs -P curl']:.1f}x |")
    print(f"\nnginx's one worker used {100 * max(busy):.0f}% of a CPU at "
          f"most during drover's runs, so it was not the limit.  Commands:\n")
    for k, argv in benches.items():
        words = [repr(w)[1:-1] if "\n" in w else w for w in argv]
        print(f"- {k}: `{' '.join(words)} < urls`")
    ratio = med["drover"] / med["xargs -P curl"]
    with open(os.path.join(a.out, "targets.tsv"), "a") as f:
        f.write("\t".join(["http", "drover http vs xargs -P curl, req/s",
                           ">= 5x", f"{ratio:.1f}x",
                           "met" if ratio >= 5 else "**missed**"]) + "\n")
    print()


if __name__ == "__main__":
    main()
