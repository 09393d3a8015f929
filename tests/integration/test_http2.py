#!/usr/bin/env python3
"""The http handler over HTTP/2, against nghttpd (Debian's nghttp2-server)
that the tests start on 127.0.0.1, on a free port: h2 over TLS, verified
against the test's own self-signed certificate, and h2c with prior
knowledge.  Every job is ok with the exact bytes of its file, the records
say http_version "2", and nghttpd's log (-v: a session id per connection,
a stream per request) shows the requests multiplexed over one connection
per worker, with streams in flight together on it.  With libcurl before
8.1.0 (Debian 12's 7.88.1) the handler does not multiplex, since
concurrent streams there now and then lose the end of a body: then one
stream per connection at a time, bodies up to 300 KiB included; and h2c
with 7.88: a connection per request, its way round curl's reuse bug."""
import ctypes
import hashlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from harness import (DroverTestCase, children, free_port,  # noqa: E402
                     run, wait_for)

NGHTTPD = shutil.which("nghttpd", path=os.environ.get("PATH", "") +
                       ":/usr/sbin:/sbin")
OPENSSL = shutil.which("openssl")
NFILES = 200
WORKERS = 2


def libcurl_version():
    """The version of the libcurl the worker loads (libcurl.so.4), as
    (major, minor, patch)."""
    lib = ctypes.CDLL("libcurl.so.4")
    lib.curl_version.restype = ctypes.c_char_p
    v = lib.curl_version().decode().split()[0].split("/")[1]
    return tuple(int(x) for x in re.findall(r"\d+", v)[:3])


# nghttpd -v: "[id=SESSION] [  T] recv (stream_id=S) :path: /f-N" for each
# request, "[id=SESSION] [  T] stream_id=S closed" when it is answered.
PATH_RE = re.compile(r"^\[id=(\d+)\] \[[ \d.]+\] recv \(stream_id=(\d+)\) "
                     r":path: (\S+)$")
CLOSED_RE = re.compile(r"^\[id=(\d+)\] \[[ \d.]+\] stream_id=(\d+) closed$")


def size_of(n):
    """The size of /f-n: all different, from 1 byte to about 300 KiB, so
    that the larger ones take many DATA frames (past the 192 KiB where
    libcurl 7.88's concurrent streams could stall)."""
    return n * 1543 + 1


def content_of(n):
    return (f"f-{n} ".encode() * (size_of(n) // 4 + 1))[:size_of(n)]



class Nghttpd:
    """nghttpd on 127.0.0.1 serving docroot, its verbose log in a file."""

    def __init__(self, docroot, logpath, tls=None):
        self.logpath = logpath
        for _ in range(5):      # a port taken between probe and bind
            self.port = free_port()
            args = [NGHTTPD, "-v", "-a", "127.0.0.1", "-d", docroot]
            args += [str(self.port)] + (list(tls) if tls else ["--no-tls"])
            self.log = open(logpath, "wb")
            self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL,
                                         stdout=self.log,
                                         stderr=subprocess.STDOUT)
            if wait_for(self.ready, timeout=10, what="nghttpd to listen",
                        detail=self.logtext) == "up":
                return
            self.proc.wait(timeout=10)
            self.log.close()
        raise AssertionError("nghttpd did not start: " + self.logtext())

    def ready(self):
        if self.proc.poll() is not None:
            return "exited"
        try:
            with socket.create_connection(("127.0.0.1", self.port),
                                          timeout=1):
                return "up"
        except OSError:
            return None

    def logtext(self):
        with open(self.logpath, errors="replace") as f:
            return f.read()

    def lines(self):
        return self.logtext().splitlines()

    def requests(self, lines=None):
        """(session, stream, path) of each request in the log lines."""
        out = []
        for line in self.lines() if lines is None else lines:
            m = PATH_RE.match(line)
            if m:
                out.append((int(m.group(1)), int(m.group(2)), m.group(3)))
        return out

    @staticmethod
    def most_in_flight(lines):
        """The most streams open together on one connection: from a
        request's :path to its stream's close, in log order."""
        open_ = {}
        most = 0
        for line in lines:
            m = PATH_RE.match(line)
            if m:
                s = open_.setdefault(m.group(1), set())
                s.add(m.group(2))
                most = max(most, len(s))
                continue
            m = CLOSED_RE.match(line)
            if m:
                open_.get(m.group(1), set()).discard(m.group(2))
        return most

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self.log.close()


@unittest.skipIf(NGHTTPD is None or OPENSSL is None,
                 "needs nghttpd (Debian's nghttp2-server) and openssl")
class Http2Case(DroverTestCase):
    tls = False

    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="drover-h2-")
        cls.docroot = os.path.join(cls.dir, "htdocs")
        os.mkdir(cls.docroot)
        for n in range(NFILES):
            with open(os.path.join(cls.docroot, f"f-{n}"), "wb") as f:
                f.write(content_of(n))
        tls = None
        if cls.tls:
            cls.cert = os.path.join(cls.dir, "cert.pem")
            cls.key = os.path.join(cls.dir, "key.pem")
            subprocess.run([OPENSSL, "req", "-x509", "-newkey", "rsa:2048",
                            "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1",
                            "-addext", "subjectAltName=IP:127.0.0.1",
                            "-keyout", cls.key, "-out", cls.cert],
                           check=True, capture_output=True, timeout=60)
            tls = (cls.key, cls.cert)
        try:
            cls.srv = Nghttpd(cls.docroot, os.path.join(cls.dir, "log"),
                              tls)
        except BaseException:
            shutil.rmtree(cls.dir, ignore_errors=True)
            raise

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()
        shutil.rmtree(cls.dir, ignore_errors=True)
        left = [c for c in children(os.getpid()) if c[1] != "Z"]
        assert not left, f"children left: {left}"

    def url(self, path):
        scheme = "https" if self.tls else "http"
        return f"{scheme}://127.0.0.1:{self.srv.port}{path}"

    def fetch_all(self, *opts):
        """Every /f-N through WORKERS workers; the records by id, and the
        lines nghttpd logged for them."""
        seen = len(self.srv.lines())
        urls = [self.url(f"/f-{n}") for n in range(NFILES)]
        args = ["--json", "-w", str(WORKERS)]
        for o in opts:
            args += ["-o", o]
        r = run(args + ["http"], "".join(u + "\n" for u in urls).encode())
        self.assertEqual(r.rc, 0, r.errtext[-2000:])
        jobs, summary = r.jobs_and_summary()
        self.assertEqual(summary["ok"], NFILES, r.errtext[-2000:])
        got = {}
        for o in jobs:
            self.assertNotIn(o["id"], got, "a job reported twice")
            got[o["id"]] = o
        self.assertEqual(sorted(got), list(range(NFILES)))
        for n in range(NFILES):
            o = got[n]
            body = content_of(n)
            with self.subTest(n=n):
                self.assertEqual(o["status"], "ok", o)
                self.assertEqual(o["http_status"], 200, o)
                self.assertEqual(o["http_version"], "2", o)
                self.assertEqual(o["bytes"], len(body), o)
                self.assertEqual(o["tries"], 1, o)
                self.assertEqual(o["output"], f"200 {len(body)} "
                                 f"{hashlib.sha256(body).hexdigest()}")
        # The log is written as nghttpd goes: wait for the last requests.
        wait_for(lambda: len(self.srv.requests(self.srv.lines()[seen:]))
                 >= NFILES, what="nghttpd to log every request",
                 detail=lambda: self.srv.logtext()[-2000:])
        lines = self.srv.lines()[seen:]
        self.assertEqual(sorted(p for _, _, p in self.srv.requests(lines)),
                         sorted(f"/f-{n}" for n in range(NFILES)))
        return got, lines

    def connections(self, lines):
        """The connections that carried requests, and the most streams in
        flight together on one."""
        conns = {s for s, _, _ in self.srv.requests(lines)}
        most = self.srv.most_in_flight(lines)
        print(f"\n{NFILES} requests over {len(conns)} connections, "
              f"at most {most} streams in flight on one", file=sys.stderr)
        return conns, most

    def check_multiplexed(self, lines, per_host):
        """One connection per worker at most, though per_host requests may
        be in flight to the host in each (HTTP/1.1 would need per_host
        connections), and streams in flight together on one of them.
        Before libcurl 8.1: one stream at a time on each connection, at
        most per_host connections per worker, reused."""
        conns, most = self.connections(lines)
        if libcurl_version() < (8, 1):
            self.assertEqual(most, 1)
            self.assertLessEqual(len(conns), WORKERS * per_host, conns)
            self.assertLess(len(conns), NFILES)     # reused
            return
        self.assertLessEqual(len(conns), WORKERS, conns)
        self.assertLess(len(conns), WORKERS * per_host)
        self.assertGreater(most, 1)
        self.assertLessEqual(most, per_host)


class TestH2Tls(Http2Case):
    tls = True

    def test_h2_over_tls_verified_multiplexed(self):
        # tls_verify is on (the default): cacert is what makes it pass.
        _, lines = self.fetch_all("cacert=" + self.cert, "per_host=16")
        self.check_multiplexed(lines, 16)

    def test_h2_with_the_default_per_host(self):
        _, lines = self.fetch_all("cacert=" + self.cert)
        self.check_multiplexed(lines, 6)

    def test_unverified_certificate_fails(self):
        r = run(["--json", "http"], (self.url("/f-1") + "\n").encode())
        o = r.jobs_and_summary()[0][0]
        self.assertEqual(o["status"], "failed", o)
        self.assertIn("certificate", o["error"])
        self.assertEqual(o["http_version"], "", o)    # no answer came


class TestH2cPriorKnowledge(Http2Case):
    def test_h2c_prior_knowledge(self):
        _, lines = self.fetch_all("http_version=2-prior-knowledge",
                                  "per_host=16")
        if (7, 88) <= libcurl_version() < (8, 0):
            # Its reuse bug: a connection per request, one stream each.
            conns, most = self.connections(lines)
            self.assertEqual(len(conns), NFILES)
            self.assertEqual(most, 1)
        else:
            self.check_multiplexed(lines, 16)


if __name__ == "__main__":
    unittest.main()
