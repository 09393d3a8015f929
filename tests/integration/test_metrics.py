#!/usr/bin/env python3
"""Observability (droverd(8), METRICS and LOGGING): /metrics in the Prometheus
format checked by promtool, counters equal to what happened, /status equal to
drover status, /healthz following pool health across a reload, 404s, log
prefixes, and a worker flooding stderr without slowing the batch or growing
memory."""
import http.client
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from harness import (TW, Droverd, DroverTestCase, free_port, lines,  # noqa
                     rss_kb, sum_squares, wait_for)


def get(port, path):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    c.request("GET", path)
    r = c.getresponse()
    body = r.read().decode()
    c.close()
    return r.status, r.getheader("Content-Type"), body


def samples(text):
    """{(name, frozenset(labels)): value} from an exposition."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = re.match(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([^}]*)\})? (\S+)$',
                     line)
        assert m, f"bad sample line: {line!r}"
        labels = frozenset(re.findall(r'(\w+)="([^"]*)"', m.group(3) or ""))
        out[(m.group(1), labels)] = float(m.group(4))
    return out


def val(s, name, **labels):
    return s[(name, frozenset(labels.items()))]


class MetricsCase(DroverTestCase):
    pools = ['name = "square"; workers = 3; handler = "square";']

    def setUp(self):
        self.port = free_port()
        self.d = Droverd(self.pools, metrics=f"127.0.0.1:{self.port}")
        self.d.start()
        # At rest before any snapshot is compared: every worker of a
        # live pool past its start-up.
        wait_for(lambda: all(p["state"] == "failed" or
                             (len(p["workers"]) == p["workers_target"] and
                              all(w["state"] == "ready"
                                  for w in p["workers"]))
                             for p in self.d.status()["pools"]),
                 what="the workers")

    def tearDown(self):
        self.assertEqual(self.d.stop(), 0, self.d.logtext()[-2000:])


class TestMetrics(MetricsCase):
    def test_promtool_accepts_a_live_scrape(self):
        self.d.submit("square", lines(1, 2, "x"))
        status, ctype, body = get(self.port, "/metrics")
        self.assertEqual(status, 200)
        self.assertTrue(ctype.startswith("text/plain; version=0.0.4"))
        promtool = shutil.which("promtool")
        self.assertIsNotNone(promtool, "promtool is needed (package "
                             "prometheus)")
        p = subprocess.run([promtool, "check", "metrics"], input=body,
                           capture_output=True, text=True)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        for fam in ("drover_jobs_total", "drover_job_duration_seconds",
                    "drover_queue_depth", "drover_inflight",
                    "drover_workers", "drover_worker_restarts_total",
                    "drover_config_reloads_total", "drover_rate_limited_total",
                    "drover_build_info", "process_start_time_seconds",
                    "process_resident_memory_bytes", "process_open_fds"):
            self.assertIn(f"# TYPE {fam} ", body)

    def test_counters_equal_what_happened(self):
        n, bad = 1000, 37
        data = [str(i) if i % 27 else "x" for i in range(1, n + 1)]
        self.assertEqual(data.count("x"), bad)
        r = self.d.submit("square", "\n".join(data).encode() + b"\n")
        self.assertEqual(r.rc, 1)
        r = self.d.submit("square", b"9" * (1024 * 1024 + 5) + b"\n")
        self.assertEqual(r.summary()["failed"], 1)
        s = samples(get(self.port, "/metrics")[2])
        self.assertEqual(val(s, "drover_jobs_total", pool="square",
                             status="ok"), n - bad)
        self.assertEqual(val(s, "drover_jobs_total", pool="square",
                             status="failed"), bad)
        # The over-long job was rejected by the client: it never reached
        # the pool, and is not counted there.
        self.assertEqual(val(s, "drover_jobs_total", pool="square",
                             status="rejected"), 0)
        self.assertEqual(val(s, "drover_job_duration_seconds_count",
                             pool="square"), n)
        self.assertEqual(val(s, "drover_job_duration_seconds_bucket",
                             pool="square", le="+Inf"), n)
        les = sorted((float(dict(k[1])["le"]), v) for k, v in s.items()
                     if k[0] == "drover_job_duration_seconds_bucket" and
                     dict(k[1])["le"] != "+Inf")
        counts = [v for _, v in les]
        self.assertEqual(counts, sorted(counts), "buckets are cumulative")
        self.assertEqual(val(s, "drover_queue_depth", pool="square"), 0)
        self.assertEqual(val(s, "drover_inflight", pool="square"), 0)
        self.assertEqual(val(s, "drover_config_reloads_total",
                             result="success"), 0)

    def test_worker_gauges_match_status(self):
        # Both snapshots at rest: every worker past its start-up.
        wait_for(lambda: [w["state"] for w in self.d.pool("square")[
            "workers"]] == ["ready"] * 3, what="three ready workers")
        st = self.d.pool("square")
        s = samples(get(self.port, "/metrics")[2])
        by_state = {}
        for w in st["workers"]:
            by_state[w["state"]] = by_state.get(w["state"], 0) + 1
        for state in ("starting", "ready", "retiring", "stopping"):
            self.assertEqual(val(s, "drover_workers", pool="square",
                                 state=state), by_state.get(state, 0))
        self.assertEqual(val(s, "drover_workers", pool="square",
                             state="ready"), 3)
        # A fixed pool's range is its size (a dynamic one's: test_dynamic).
        for name in ("target", "min", "max"):
            self.assertEqual(val(s, "drover_workers_" + name,
                                 pool="square"), 3)

    def test_status_endpoint_is_drover_status(self):
        status, ctype, body = get(self.port, "/status")
        self.assertEqual(status, 200)
        self.assertEqual(ctype, "application/json")
        web = json.loads(body)
        cli = self.d.status()
        for d in (web, cli):
            d.pop("uptime_s")
            d.pop("clients")
            for p in d["pools"]:
                p.pop("jobs_per_s")
                for w in p["workers"]:
                    for k in ("uptime_s", "rss_kb", "current_job_age_s"):
                        w.pop(k)
        self.assertEqual(web, cli)

    def test_unknown_paths_404_and_methods_405(self):
        for path in ("/", "/metricsx", "/metrics/x", "/nope"):
            self.assertEqual(get(self.port, path)[0], 404, path)
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
        c.request("POST", "/metrics", body="x")
        self.assertEqual(c.getresponse().status, 405)

    def test_reload_counters(self):
        self.assertEqual(self.d.client(["reload"]).rc, 0)
        with open(self.d.conf, "a") as f:
            f.write("junk;\n")
        self.assertEqual(self.d.client(["reload"]).rc, 2)
        s = samples(get(self.port, "/metrics")[2])
        self.assertEqual(val(s, "drover_config_reloads_total",
                             result="success"), 1)
        self.assertEqual(val(s, "drover_config_reloads_total",
                             result="failure"), 1)


class TestHealth(MetricsCase):
    pools = ['name = "square"; workers = 2; handler = "square";',
             f'name = "fragile"; workers = 1; command = "{TW} exit-at-start";'
             ' start_retries = 2;']

    def test_healthz_follows_the_pools(self):
        wait_for(lambda: get(self.port, "/healthz")[0] == 503,
                 what="healthz to turn 503")
        status, _, body = get(self.port, "/healthz")
        self.assertIn("pool fragile failed", body)
        self.assertIn("boom: cannot start", body)
        s = samples(get(self.port, "/metrics")[2])
        self.assertEqual(val(s, "drover_pool_up", pool="fragile"), 0)
        self.assertGreaterEqual(val(s, "drover_worker_restarts_total",
                                    pool="fragile", reason="start"), 2)
        r = self.d.submit("fragile", b"1\n")
        self.assertEqual(r.rc, 3)
        self.assertIn("has failed", r.errtext)
        self.d.write([self.pools[0], 'name = "fragile"; workers = 1; '
                      f'command = "{TW} square";'])
        r = self.d.client(["reload"])
        self.assertEqual(r.rc, 0, r.errtext)
        self.assertIn("restarted", r.text)
        # The failed pool and its successor share a name: one series each.
        body = get(self.port, "/metrics")[2]
        p = subprocess.run([shutil.which("promtool"), "check", "metrics"],
                           input=body, capture_output=True, text=True)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertEqual(body.count('drover_pool_up{pool="fragile"}'), 1)
        wait_for(lambda: get(self.port, "/healthz")[0] == 200,
                 what="healthz back to 200")
        r = self.d.submit("fragile", lines(3, 4))
        self.assertEqual(r.summary()["sum"], "25")


class TestWorkerFds(MetricsCase):
    pools = [f'name = "fds"; workers = 2; command = "{TW} fds";']

    def test_workers_inherit_no_socket_of_droverd(self):
        get(self.port, "/metrics")
        r = self.d.submit("fds", lines(*range(1, 11)), "--json")
        self.assertEqual(r.rc, 0, r.errtext)
        jobs, _ = r.jobs_and_summary()
        self.assertEqual({",".join(sorted(j["output"].split(",")))
                          for j in jobs}, {"0,1,2"})


class TestUnixMetrics(DroverTestCase):
    def test_unix_socket_endpoint(self):
        d = Droverd(['name = "s"; workers = 1; handler = "square";'])
        path = os.path.join(d.dir, "metrics.sock")
        d.metrics = f"unix:{path}"
        d.write(['name = "s"; workers = 1; handler = "square";'])
        d.start()
        try:
            wait_for(lambda: os.path.exists(path), what="metrics socket")
            s = socket.socket(socket.AF_UNIX)
            s.connect(path)
            s.sendall(b"GET /healthz HTTP/1.0\r\n\r\n")
            data = b""
            while chunk := s.recv(4096):
                data += chunk
            self.assertTrue(data.startswith(b"HTTP/1.0 200"), data)
        finally:
            self.assertEqual(d.stop(), 0)


class TestLogs(DroverTestCase):
    def test_stderr_flood_neither_slows_nor_grows(self):
        d = Droverd([f'name = "noisy"; workers = 2; command = "{TW} '
                     'stderr-flood 200";'])
        d.start()
        try:
            n = 3000
            t0 = time.monotonic()
            r = d.submit("noisy", lines(*range(1, n + 1)), "--quiet")
            took = time.monotonic() - t0
            self.assertEqual(r.rc, 0, r.errtext)
            self.assertEqual(r.summary()["sum"], str(sum_squares(n)))
            self.assertLess(took, 30)
            log = d.logtext()
            self.assertIn("lines of stderr dropped", log)
            self.assertLess(log.count("noise line"), n * 200 // 10)
            self.assertLess(rss_kb(d.proc.pid), 64 * 1024)
        finally:
            self.assertEqual(d.stop(), 0)

    def test_journal_prefixes(self):
        d = Droverd(['name = "s"; workers = 1; handler = "square";'])
        st = os.stat(d.log) if os.path.exists(d.log) else None
        del st
        # JOURNAL_STREAM must name our stderr: create the log first.
        open(d.log, "wb").close()
        st = os.stat(d.log)
        d.env["JOURNAL_STREAM"] = f"{st.st_dev}:{st.st_ino}"
        d.start()
        try:
            wait_for(lambda: "<6>" in d.logtext(), what="<6> prefixes")
            self.assertRegex(d.logtext(), r"(?m)^<6>starting ")
        finally:
            self.assertEqual(d.stop(), 0)
        d2 = Droverd(['name = "s"; workers = 1; handler = "square";'])
        d2.start()
        try:
            wait_for(lambda: "starting" in d2.logtext(), what="a log line")
            self.assertRegex(d2.logtext(), r"(?m)^\d{4}-\d\d-\d\dT\d\d:\d\d:"
                             r"\d\d\.\d{3} droverd\[\d+\]: info: starting ")
        finally:
            self.assertEqual(d2.stop(), 0)


if __name__ == "__main__":
    unittest.main()
