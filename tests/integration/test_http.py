#!/usr/bin/env python3
"""The http handler of drover-worker against a local HTTP server that the
tests start on 127.0.0.1 (a port of its own): slow answers, 500s, 429 with
Retry-After (seconds and an HTTP date), a hang past the timeout, a reset, a
redirect, a large body, a refused port, TLS with a self-signed certificate.
Every job is reported once with the right status, retries are counted at
the server, the per-host cap and the rate limit are held as the server sees
them (request timestamps), and it all works under droverd too."""
import email.utils
import hashlib
import json
import os
import shutil
import socket
import ssl
import struct
import subprocess
import sys
import tempfile
import threading
import time
import unittest
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, os.path.dirname(__file__))
from harness import (DroverTestCase, Droverd, SOURCE, WORKER,  # noqa: E402
                     run, tagged_env)

BIG = 5 * 1024 * 1024


def body_of(path):
    """What /ok/... answers: a body derived from the path."""
    return f"ok {path}\n".encode()


def sha(b):
    return hashlib.sha256(b).hexdigest()


class Server:
    """A threaded HTTP/1.1 server on 127.0.0.1 that records every request
    (path, monotonic time, client port) and its concurrency."""

    def __init__(self, tls=None):
        self.lock = threading.Lock()
        self.log = []
        self.counts = {}
        self.running = 0
        self.max_running = 0
        self.stop = threading.Event()
        outer = self

        class H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            wbufsize = 1 << 16      # headers and body in one write

            def log_message(self, *a):
                pass

            def send(self, code, body=b"", headers=()):
                self.send_response(code)
                for k, v in headers:
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                outer.handle(self)

            def do_POST(self):
                outer.handle(self)

            def do_PUT(self):
                outer.handle(self)

        class S(ThreadingHTTPServer):
            request_queue_size = 256    # bursts of connects: no SYN drops

            def handle_error(self, request, client_address):
                pass                    # resets and hang-ups are the point

        self.httpd = S(("127.0.0.1", 0), H)
        self.httpd.daemon_threads = True
        if tls:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(*tls)
            self.httpd.socket = ctx.wrap_socket(self.httpd.socket,
                                                server_side=True)
        self.port = self.httpd.server_address[1]
        self.scheme = "https" if tls else "http"
        self.thread = threading.Thread(target=self.httpd.serve_forever,
                                       daemon=True)
        self.thread.start()

    def url(self, path):
        return f"{self.scheme}://127.0.0.1:{self.port}{path}"

    def close(self):
        self.stop.set()
        self.httpd.shutdown()
        self.httpd.server_close()

    def times(self, path):
        with self.lock:
            return [t for p, t, _ in self.log if p == path]

    def count(self, path):
        with self.lock:
            return self.counts.get(path, 0)

    def handle(self, h):
        path = h.path
        n = int(h.headers.get("Content-Length") or 0)
        data = h.rfile.read(n) if n else b""
        with self.lock:
            self.log.append((path, time.monotonic(), h.client_address[1]))
            k = self.counts[path] = self.counts.get(path, 0) + 1
            self.running += 1
            self.max_running = max(self.max_running, self.running)
        try:
            self.answer(h, path, k, data)
        finally:
            with self.lock:
                self.running -= 1

    def answer(self, h, path, k, data):
        parts = path.split("?")[0].split("/")
        kind = parts[1] if len(parts) > 1 else ""
        arg = parts[2] if len(parts) > 2 else ""
        if kind == "ok":
            h.send(200, body_of(path))
        elif kind == "slow":
            time.sleep(int(arg) / 1000)    # the slowness under test
            h.send(200, body_of(path))
        elif kind == "flaky":           # /flaky/K/tag: 500 K times, then ok
            if k <= int(arg):
                h.send(500, b"try again\n")
            else:
                h.send(200, body_of(path))
        elif kind == "always500":
            h.send(503, b"down\n")
        elif kind == "busy":            # /busy/S/tag: 429 once, Retry-After S
            if k == 1:
                h.send(429, b"slow down\n", [("Retry-After", arg)])
            else:
                h.send(200, body_of(path))
        elif kind == "busydate":        # 429 once, Retry-After as a date
            if k == 1:
                when = email.utils.formatdate(time.time() + int(arg),
                                              usegmt=True)
                h.send(429, b"", [("Retry-After", when)])
            else:
                h.send(200, body_of(path))
        elif kind == "status":
            h.send(int(arg), b"status\n")
        elif kind == "hang":
            self.stop.wait(30)
        elif kind == "reset":
            h.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                    struct.pack("ii", 1, 0))
            h.connection.close()
            h.close_connection = True
        elif kind == "redirect":
            h.send(302, b"", [("Location", "/ok/" + arg)])
        elif kind == "loop":
            h.send(302, b"", [("Location", path)])
        elif kind == "big":
            h.send(200, b"x" * BIG)
        elif kind == "echo":
            doc = {"method": h.command, "x_test": h.headers.get("X-Test"),
                   "ua": h.headers.get("User-Agent"),
                   "body": data.decode()}
            h.send(200, json.dumps(doc, sort_keys=True).encode())
        else:
            h.send(404, b"no such path\n")


def by_id(objs):
    """JSON records by id, checking each id is reported once."""
    out = {}
    for o in objs:
        assert o["id"] not in out, f"job {o['id']} reported twice"
        out[o["id"]] = o
    return out


class HttpCase(DroverTestCase):
    def setUp(self):
        self.srv = Server()
        self.addCleanup(self.srv.close)

    def http(self, urls, *opts, args=(), **kw):
        stdin = "".join(u + "\n" for u in urls).encode()
        o = []
        for x in opts:
            o += ["-o", x]
        return run(list(args) + o + ["http"], stdin, **kw)


class TestJobs(HttpCase):
    def test_every_kind_reported_once_with_its_status(self):
        s = self.srv
        cases = [
            (s.url("/ok/1"), "ok", f"200 {len(body_of('/ok/1'))} "
             f"{sha(body_of('/ok/1'))}"),
            (s.url("/slow/300"), "ok", None),
            (s.url("/flaky/2/a"), "ok", None),
            (s.url("/always500"), "failed", "HTTP 503 after 3 tries"),
            (s.url("/status/404"), "failed", "HTTP 404"),
            (s.url("/status/403"), "failed", "HTTP 403"),
            (s.url("/hang"), "failed", "Timeout was reached"),
            (s.url("/reset"), "failed", "Connection reset by peer"),
            (s.url("/redirect/7"), "ok", f"200 {len(body_of('/ok/7'))} "
             f"{sha(body_of('/ok/7'))}"),
            (s.url("/loop"), "failed", "Number of redirects hit maximum"),
            (s.url("/big"), "ok", f"200 {BIG} {sha(b'x' * BIG)}"),
            ("http://127.0.0.1:1/", "failed", "Couldn't connect to server"),
            ("http://nosuch.invalid/", "failed",
             "Couldn't resolve host name"),
            ("ftp://127.0.0.1/x", "failed", "Unsupported protocol"),
            ("", "failed", "empty job"),
        ]
        r = self.http([c[0] for c in cases], "timeout=1", "backoff=0.05",
                      args=["-w", "2", "--json"])
        self.assertEqual(r.rc, 1, r.errtext)
        jobs, summary = r.jobs_and_summary()
        got = by_id(jobs)
        self.assertEqual(sorted(got), list(range(len(cases))))
        for i, (url, status, text) in enumerate(cases):
            with self.subTest(url=url):
                o = got[i]
                self.assertEqual(o["status"], status, o)
                self.assertEqual(o["attempts"], 1, o)
                if text is None:
                    continue
                if status == "ok":
                    self.assertEqual(o["output"], text)
                else:
                    self.assertIn(text, o["error"])
        self.assertEqual(summary["ok"], 5)
        # Retries happen in the handler, counted at the server.
        self.assertEqual(s.count("/flaky/2/a"), 3)
        self.assertEqual(s.count("/always500"), 3)
        self.assertEqual(s.count("/status/404"), 1)
        self.assertEqual(s.count("/status/403"), 1)
        self.assertEqual(s.count("/hang"), 1)
        self.assertEqual(s.count("/loop"), 6)   # the first + 5 redirects

    def test_json_records_have_the_fields(self):
        # result-fields: members of the record, ok or failed, not in output.
        s = self.srv
        urls = [s.url("/ok/f"), s.url("/status/404"), s.url("/always500"),
                s.url("/flaky/1/f"), s.url("/big")]
        r = self.http(urls, "backoff=0.05", args=["-w", "2", "--json"])
        self.assertEqual(r.rc, 1, r.errtext)
        jobs, _ = r.jobs_and_summary()
        got = by_id(jobs)
        want = [(200, len(body_of("/ok/f")), 1), (404, len(b"status\n"), 1),
                (503, len(b"down\n"), 3), (200, len(body_of("/flaky/1/f")),
                                            2), (200, BIG, 1)]
        for i, (code, size, tries) in enumerate(want):
            with self.subTest(url=urls[i]):
                o = got[i]
                self.assertEqual(o["http_status"], code, o)
                self.assertEqual(o["bytes"], size, o)
                self.assertEqual(o["tries"], tries, o)
                self.assertEqual(o["http_version"], "1.1", o)
                self.assertGreater(o["ttfb_us"], 0, o)
                self.assertGreater(o["total_us"], 0, o)
                self.assertLessEqual(o["ttfb_us"], o["total_us"], o)
                self.assertEqual(o["status"], "ok" if code == 200
                                 else "failed", o)
        self.assertEqual(got[0]["output"].split()[0], "200")
        self.assertNotIn("http_status", got[0]["output"])

    def test_fields_status_500_and_none_without_a_request(self):
        s = self.srv
        r = self.http([s.url("/status/500"), ""], "attempts=1",
                      args=["--json", "-w", "1"])
        got = by_id(r.jobs_and_summary()[0])
        self.assertEqual(got[0]["http_status"], 500, got[0])
        self.assertEqual(got[0]["error"], "HTTP 500 after 1 try")
        self.assertNotIn("http_status", got[1])   # no request was made
        self.assertNotIn("http_version", got[1])

    def test_http_version_empty_without_an_answer(self):
        r = self.http(["http://127.0.0.1:1/"], args=["--json"])
        o = r.jobs_and_summary()[0][0]
        self.assertEqual((o["http_status"], o["http_version"]), (0, ""), o)

    def test_text_output_has_no_fields(self):
        r = self.http([self.srv.url("/ok/t")], args=["-w", "1"])
        self.assertEqual(r.rc, 0, r.errtext)
        self.assertEqual(r.text, f"200 {len(body_of('/ok/t'))} "
                         f"{sha(body_of('/ok/t'))}\n")

    def test_output_json_has_status_bytes_timings_and_tries(self):
        r = self.http([self.srv.url("/slow/200"), self.srv.url("/flaky/1/b")],
                      "output=json", "backoff=0.05", args=["--json"])
        self.assertEqual(r.rc, 0, r.errtext)
        jobs, _ = r.jobs_and_summary()
        out = {o["id"]: json.loads(o["output"]) for o in jobs}
        want = body_of("/slow/200")
        self.assertEqual(out[0]["http_status"], 200)
        self.assertEqual(out[0]["bytes"], len(want))
        self.assertEqual(out[0]["sha256"], sha(want))
        self.assertGreaterEqual(out[0]["total_us"], 200000)
        self.assertGreaterEqual(out[0]["total_us"], out[0]["ttfb_us"])
        self.assertGreaterEqual(out[0]["ttfb_us"], 200000)
        self.assertEqual(out[0]["tries"], 1)
        self.assertEqual(out[1]["tries"], 2)

    def test_json_request_method_headers_body(self):
        req = {"url": self.srv.url("/echo"), "method": "PUT",
               "headers": {"X-Test": "yes"}, "body": "payload"}
        bad = [{"method": "GET"}, {"url": 3}, {"url": "x", "extra": 1},
               {"url": "x", "headers": {"A": 1}}]
        r = self.http([json.dumps(req), json.dumps({"url": req["url"],
                       "body": "b"})] + [json.dumps(b) for b in bad] +
                      ["{not json"], "output=body", "user_agent=ua-test",
                      "header=X-Test: from-option", args=["--json"])
        self.assertEqual(r.rc, 1, r.errtext)
        got = by_id(r.jobs_and_summary()[0])
        echo = json.loads(got[0]["output"])
        self.assertEqual(echo, {"method": "PUT", "x_test": "yes",
                                "ua": "ua-test", "body": "payload"})
        echo = json.loads(got[1]["output"])
        self.assertEqual((echo["method"], echo["x_test"], echo["body"]),
                         ("POST", "from-option", "b"))
        for i in range(2, 7):
            self.assertEqual(got[i]["status"], "failed", got[i])
        self.assertIn('no "url"', got[2]["error"])
        self.assertIn("not a JSON request", got[6]["error"])

    def test_body_over_max_body_fails(self):
        r = self.http([self.srv.url("/big"), self.srv.url("/ok/2")],
                      "output=body", "max_body=1M", args=["--json"])
        got = by_id(r.jobs_and_summary()[0])
        self.assertEqual(got[0]["status"], "failed")
        self.assertIn("body over 1048576 bytes", got[0]["error"])
        self.assertEqual(got[1]["output"], body_of("/ok/2").decode())


class TestRetries(HttpCase):
    def test_retry_after_seconds_is_honoured(self):
        r = self.http([self.srv.url("/busy/1/a")], "backoff=0.01",
                      args=["--json"])
        self.assertEqual(r.rc, 0, r.errtext)
        t = self.srv.times("/busy/1/a")
        self.assertEqual(len(t), 2)
        self.assertGreaterEqual(t[1] - t[0], 0.99)

    def test_retry_after_date_is_honoured(self):
        r = self.http([self.srv.url("/busydate/2/a")], "backoff=0.01",
                      args=["--json"])
        self.assertEqual(r.rc, 0, r.errtext)
        t = self.srv.times("/busydate/2/a")
        self.assertEqual(len(t), 2)
        # A date has whole seconds: at least one of the two asked.
        self.assertGreaterEqual(t[1] - t[0], 0.99)

    def test_retry_after_over_max_wait_fails_at_once(self):
        r = self.http([self.srv.url("/busy/120/a")], "max_wait=5",
                      args=["--json"])
        o = r.jobs_and_summary()[0][0]
        self.assertEqual(o["status"], "failed")
        self.assertIn("Retry-After 120 s is over max_wait 5 s", o["error"])
        self.assertEqual(self.srv.count("/busy/120/a"), 1)

    def test_backoff_grows_and_attempts_bound_the_tries(self):
        r = self.http([self.srv.url("/always500")], "attempts=4",
                      "backoff=0.1", args=["--json"])
        o = r.jobs_and_summary()[0][0]
        self.assertEqual(o["error"], "HTTP 503 after 4 tries")
        t = self.srv.times("/always500")
        gaps = [b - a for a, b in zip(t, t[1:])]
        self.assertEqual(len(gaps), 3)
        for i, g in enumerate(gaps):     # 0.1, 0.2, 0.4 less 25% jitter
            self.assertGreaterEqual(g, 0.1 * 2 ** i * 0.75 - 0.01, gaps)


class TestConcurrency(HttpCase):
    def test_one_worker_holds_many_requests(self):
        urls = [self.srv.url(f"/slow/300?{i}") for i in range(40)]
        t0 = time.monotonic()
        r = self.http(urls, "per_host=40", args=["-w", "1", "--window",
                                                 "40", "-q"])
        wall = time.monotonic() - t0
        self.assertEqual(r.rc, 0, r.errtext)
        self.assertSummary(r, jobs=40, ok=40)
        self.assertGreaterEqual(self.srv.max_running, 30)
        self.assertLess(wall, 5.0)      # 12 s one at a time

    def test_per_host_cap(self):
        urls = [self.srv.url(f"/slow/100?{i}") for i in range(24)]
        r = self.http(urls, "per_host=3", args=["-w", "1", "-q"])
        self.assertSummary(r, jobs=24, ok=24)
        self.assertEqual(self.srv.max_running, 3)

    def test_connections_are_reused(self):
        urls = [self.srv.url(f"/ok/{i}") for i in range(300)]
        r = self.http(urls, "per_host=4", args=["-w", "1", "-q"])
        self.assertSummary(r, jobs=300, ok=300)
        ports = {p for _, _, p in self.srv.log}
        self.assertLessEqual(len(ports), 8, "a connection per request?")

    def test_rate_limit_held_at_the_server(self):
        urls = [self.srv.url(f"/ok/{i}") for i in range(100)]
        r = self.http(urls, args=["-w", "4", "--rate", "50", "-q"])
        self.assertSummary(r, jobs=100, ok=100)
        t = sorted(self.srv.times(p) [0] for p in
                   {x[0] for x in self.srv.log})
        # In any one-second window, at most rate + burst (1) requests.
        worst = max(sum(1 for b in t if a <= b < a + 1.0) for a in t)
        self.assertLessEqual(worst, 52, worst)
        rate = (len(t) - 1) / (t[-1] - t[0])
        self.assertLess(rate, 52)
        self.assertGreater(rate, 40)


class TestProtocols(HttpCase):
    def test_line_protocol_answers_in_job_order(self):
        stdin = (self.srv.url("/slow/400") + "\n" + self.srv.url("/ok/1") +
                 "\n").encode()
        env = tagged_env({"DROVER_PROTOCOL": "line"})
        p = subprocess.run([WORKER, "http"], input=stdin, env=env,
                           capture_output=True, timeout=30)
        self.assertEqual(p.returncode, 0, p.stderr)
        lines = p.stdout.decode().splitlines()
        self.assertEqual(lines, [
            f"200 {len(body_of('/slow/400'))} {sha(body_of('/slow/400'))}",
            f"200 {len(body_of('/ok/1'))} {sha(body_of('/ok/1'))}"])

    def test_tagged_protocol_answers_as_they_finish(self):
        stdin = (f"7\t{self.srv.url('/slow/400')}\n"
                 f"9\t{self.srv.url('/ok/1')}\n").encode()
        env = tagged_env({"DROVER_PROTOCOL": "tagged"})
        p = subprocess.run([WORKER, "http"], input=stdin, env=env,
                           capture_output=True, timeout=30)
        self.assertEqual(p.returncode, 0, p.stderr)
        tags = [ln.split("\t")[0] for ln in p.stdout.decode().splitlines()]
        self.assertEqual(tags, ["9", "7"])


class TestOptions(unittest.TestCase):
    def test_bad_options_are_usage_errors(self):
        for opts, msg in [
                (["-o", "nope=1", "http"], "unknown http option 'nope'"),
                (["-o", "timeout=x", "http"], "timeout: 'x' is not"),
                (["-o", "tls_verify=maybe", "http"], "is not yes or no"),
                (["-o", "header=bad", "http"], "is not \"Name: value\""),
                (["-o", "output=xml", "http"], "status|body|json"),
                (["-o", "timeout=1", "square"], "takes no options"),
                (["-o", "timeout", "http"], "is not KEY=VALUE")]:
            with self.subTest(opts=opts):
                r = run(opts, b"")
                self.assertEqual(r.rc, 2, r.errtext)
                self.assertIn(msg, r.errtext)

    def test_worker_refuses_a_bad_option_with_125(self):
        p = subprocess.run([WORKER, "http", "attempts=0"], input=b"",
                           capture_output=True, timeout=30)
        self.assertEqual(p.returncode, 125)
        self.assertIn(b"attempts: '0' is not a whole number", p.stderr)

    def test_options_table_is_printed(self):
        p = subprocess.run([WORKER, "--options"], capture_output=True,
                           text=True, timeout=30, check=True)
        keys = [ln.split("\t")[1] for ln in p.stdout.splitlines()]
        self.assertIn("per_host", keys)
        self.assertIn("max_wait", keys)

    def test_every_option_is_in_the_man_page(self):
        p = subprocess.run([WORKER, "--options"], capture_output=True,
                           text=True, timeout=30, check=True)
        with open(os.path.join(SOURCE, "docs", "drover-worker.7")) as f:
            page = f.read()
        for ln in p.stdout.splitlines():
            handler, key, default, _ = ln.split("\t")
            with self.subTest(key=key):
                self.assertIn(f".It Ic {key} Ns = Ns ", page,
                              f"{handler} option {key} not documented")


@unittest.skipIf(shutil.which("openssl") is None,
                 "needs the openssl command to make a test certificate")
class TestTls(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="drover-tls-")
        cls.cert = os.path.join(cls.dir, "cert.pem")
        cls.key = os.path.join(cls.dir, "key.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048",
                        "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1",
                        "-addext", "subjectAltName=IP:127.0.0.1",
                        "-keyout", cls.key, "-out", cls.cert],
                       check=True, capture_output=True, timeout=60)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir, ignore_errors=True)

    def test_verified_by_default_cacert_and_opt_out(self):
        srv = Server(tls=(self.cert, self.key))
        self.addCleanup(srv.close)
        url = (srv.url("/ok/1") + "\n").encode()
        r = run(["--json", "http"], url)
        o = r.jobs_and_summary()[0][0]
        self.assertEqual(o["status"], "failed")
        self.assertIn("certificate", o["error"])
        for opt in ("cacert=" + self.cert, "tls_verify=no"):
            with self.subTest(opt=opt):
                r = run(["--json", "-o", opt, "http"], url)
                o = r.jobs_and_summary()[0][0]
                self.assertEqual(o["status"], "ok", o)
                self.assertTrue(o["output"].startswith("200 "))
                # This server has no h2: ALPN falls back to HTTP/1.1.
                self.assertEqual(o["http_version"], "1.1", o)


class TestDroverd(HttpCase):
    def test_http_pool(self):
        d = Droverd(['name = "web"; handler = "http"; workers = 2; '
                     'options = ["backoff=0.05", "output=json", '
                     '"per_host=4"];'])
        d.start()
        self.addCleanup(d.kill)
        self.assertEqual(d.pool("web")["window"], 32)
        urls = ([self.srv.url(f"/ok/{i}") for i in range(50)] +
                [self.srv.url("/flaky/1/d"), self.srv.url("/status/404")])
        r = d.submit("web", "".join(u + "\n" for u in urls).encode(),
                     "--json")
        self.assertEqual(r.rc, 1, r.errtext)
        got = by_id(r.jobs_and_summary()[0])
        self.assertEqual(sorted(got), list(range(52)))
        for i in range(51):
            self.assertEqual(got[i]["status"], "ok", got[i])
            self.assertEqual(json.loads(got[i]["output"])["http_status"],
                             200)
        self.assertEqual(json.loads(got[50]["output"])["tries"], 2)
        self.assertEqual(got[51]["error"], "HTTP 404")
        self.assertEqual(d.stop(), 0)

    def test_bad_options_refused_at_load(self):
        d = Droverd(['name = "web"; handler = "http"; '
                     'options = ["per_host=0"];',
                     'name = "sq"; handler = "square"; '
                     'options = ["timeout=1"];'])
        p = subprocess.run([os.path.join(os.path.dirname(WORKER),
                                         "droverd"), "-t", "-c", d.conf],
                           capture_output=True, text=True, timeout=30)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("pool 'web': options: per_host: '0' is not",
                      p.stderr)
        self.assertIn("pool 'sq': options: the square handler takes no "
                      "options", p.stderr)


if __name__ == "__main__":
    unittest.main()
