#!/usr/bin/env python3
"""Shared pools on Redis Streams (docs/architecture.md, "Shared pools"), end
to end: a real redis-server started here (127.0.0.1, a free port, a
temporary directory, AOF on) and two or three droverd nodes with a shared
pool of the same name.  A batch submitted to one node is run by all and
comes back exact; a node kill -9ed mid-batch has its jobs claimed by the
others; redis-server kill -9ed and restarted on the same port and
directory loses nothing; a poison job ends crashed after its attempts; a
long job is not stolen from a live node; the submitting node dies and the
client finishes through another.  Nothing talks to any other address."""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.request

sys.path.insert(0, os.path.dirname(__file__))
from harness import (DROVER, Droverd, DroverTestCase, TW,  # noqa: E402
                     conf_check, free_port, sum_squares, tagged_env,
                     tagged_pids, wait_for)

REDIS_SERVER = shutil.which("redis-server")
REDIS_CLI = shutil.which("redis-cli")



class Redis:
    """A redis-server of our own: 127.0.0.1, a free port, AOF on."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="drover-redis-")
        self.port = free_port()
        self.proc = None

    def start(self):
        self.log = open(os.path.join(self.dir, "redis.log"), "ab")
        self.proc = subprocess.Popen(
            [REDIS_SERVER, "--bind", "127.0.0.1", "--port", str(self.port),
             "--dir", self.dir, "--appendonly", "yes", "--save", "",
             "--protected-mode", "no", "--daemonize", "no"],
            stdout=self.log, stderr=self.log)
        wait_for(lambda: self.ping(), timeout=10, what="redis-server")
        return self

    def cli(self, *args):
        p = subprocess.run([REDIS_CLI, "-h", "127.0.0.1", "-p",
                            str(self.port)] + list(args),
                           capture_output=True, text=True, timeout=10)
        return p.stdout.strip()

    def ping(self):
        try:
            return self.cli("ping") == "PONG"
        except subprocess.TimeoutExpired:
            return False

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        self.log.close()

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
            self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    @property
    def url(self):
        return f"redis://127.0.0.1:{self.port}"


@unittest.skipUnless(REDIS_SERVER and REDIS_CLI,
                     "needs redis-server and redis-cli (apt-get install "
                     "redis-server)")
class SharedCase(DroverTestCase):
    POOL = ('name = "sq"; workers = 2; handler = "square"; shared = true; '
            'claim_idle = 1.5;')

    def setUp(self):
        self.redis = Redis().start()
        self.nodes = []

    def tearDown(self):
        for d in self.nodes:
            if d.proc is not None and d.proc.poll() is None:
                rc = d.stop()
                log = d.logtext()
                self.assertNotIn("Sanitizer", log)
                self.assertNotIn("runtime error", log)
                self.assertEqual(rc, 0, log[-2000:])
            d.kill()
            shutil.rmtree(d.dir, ignore_errors=True)
        self.redis.stop()

    def node(self, pools=None, extra=""):
        d = Droverd(pools or [self.POOL],
                    extra=f'redis = "{self.redis.url}";\n' + extra)
        d.start()
        self.nodes.append(d)
        wait_for(lambda: d.status().get("shared", {}).get("connected"),
                 timeout=10, what="the node to connect to Redis")
        return d

    def start_then_drain(self, new, old):
        """Start node new, then SIGTERM node old: it exits 0."""
        new.start()
        self.nodes.append(new)
        wait_for(lambda: new.status().get("shared", {}).get("connected"),
                 timeout=10, what="the new node to connect to Redis")
        old.proc.send_signal(signal.SIGTERM)
        self.assertEqual(old.proc.wait(timeout=30), 0,
                         old.logtext()[-2000:])

    def kill9(self, d):
        d.proc.send_signal(signal.SIGKILL)
        d.proc.wait()
        d.logf.close()
        log = d.logtext()
        self.assertNotIn("Sanitizer", log)
        self.assertNotIn("runtime error", log)

    def submit(self, nodes, n, *opts, stdin=None, pool="sq"):
        """drover submit of 1..n (or stdin) through these nodes."""
        env = tagged_env()
        args = [DROVER, "submit", "--pool", pool, "--reconnect", "30"]
        for d in nodes:
            args += ["--socket", d.sock]
        p = subprocess.Popen(args + list(opts), stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             env=env)
        out = []

        def reader():
            for line in p.stdout:
                out.append(line)
        t = threading.Thread(target=reader)
        t.start()
        data = stdin if stdin is not None else \
            b"".join(b"%d\n" % i for i in range(1, n + 1))
        feed = threading.Thread(target=lambda: (p.stdin.write(data),
                                                p.stdin.close()))
        feed.start()
        return p, out, t, feed

    def finish(self, proc, t, feed, timeout=120):
        rc = proc.wait(timeout=timeout)
        t.join()
        feed.join()
        err = proc.stderr.read().decode()
        proc.stdout.close()
        proc.stderr.close()
        return rc, err

    def check_exact(self, rc, out, err, n):
        self.assertEqual(rc, 0, err)
        self.assertEqual(sorted(int(x) for x in out),
                         [i * i for i in range(1, n + 1)])
        self.assertIn(f"drover: {n} jobs, {n} ok, 0 failed", err)
        self.assertIn(f"sum {sum_squares(n)} ", err)

    def results_by_node(self, batch):
        """How many result entries each node added to batch's stream."""
        text = self.redis.cli("--no-raw", "XRANGE",
                              "drover:{%s}:r" % batch, "-", "+")
        return text


class TestShared(SharedCase):
    def test_two_nodes_exact(self):
        """A batch through node A is run by both nodes and is exact;
        status and /metrics show the shared queue."""
        a = self.node()
        b = self.node()
        n = 20000
        p, out, t, feed = self.submit([a], n)
        rc, err = self.finish(p, t, feed)
        self.check_exact(rc, out, err, n)
        acked = [d.status()["shared"]["pools"]["sq"]["acked"]
                 for d in (a, b)]
        self.assertEqual(sum(acked), n, acked)
        self.assertTrue(all(x > 0 for x in acked), acked)
        st = a.status()["shared"]
        self.assertEqual(st["redis"], f"127.0.0.1:{self.redis.port}")
        wait_for(lambda: a.status()["shared"]["pools"]["sq"]["length"] ==
                 0, timeout=10, what="XLEN 0 after every XDEL")
        self.assertEqual(self.redis.cli("XLEN", "drover:{sq}:q"), "0")

    def test_node_killed_mid_batch(self):
        """Node B is kill -9ed mid-batch: its pending entries are claimed
        by A after claim_idle, every id comes once, the sum is exact."""
        pool = ('name = "sq"; workers = 2; handler = "sleep"; '
                'shared = true; claim_idle = 1.5;')
        a = self.node([pool])
        b = self.node([pool])
        # More entries than one read takes (500): both nodes get some,
        # whichever blocked first.
        n = 2000
        p, out, t, feed = self.submit([a], n, stdin=b"5\n" * n)
        wait_for(lambda: b.status()["shared"]["pools"]["sq"]["acked"] >=
                 20, timeout=60, what="B to run some")
        self.kill9(b)
        rc, err = self.finish(p, t, feed)
        self.assertEqual(rc, 0, err)
        self.assertEqual([int(x) for x in out], [5] * n)
        self.assertIn(f"drover: {n} jobs, {n} ok, 0 failed", err)
        self.assertIn(f"sum {5 * n} ", err)
        self.assertGreater(a.status()["shared"]["pools"]["sq"]["claimed"],
                           0)

    def test_deleted_pending_entries(self):
        """Another client trims the stream while a dead node holds entries
        (redis#6199, #10756: trimmed entries stay pending): the survivor's
        claim finds them deleted, drops them from the PEL, says so in its
        log, status and /metrics, and goes on with new batches."""
        pool = ('name = "sq"; workers = 2; handler = "sleep"; '
                'shared = true; claim_idle = 3.0;')
        port = free_port()
        a = self.node([pool, 'name = "sq2"; workers = 1; handler = "sleep"; '
                       'shared = true;'],
                      extra=f'metrics = "127.0.0.1:{port}";\n')
        b = self.node([pool])
        n = 40
        p, out, t, feed = self.submit([a], n, stdin=b"3000\n" * n)
        q = "drover:{sq}:q"

        def held():
            return {d: d.status()["shared"]["pools"]["sq"]["inflight"]
                    for d in (a, b)}
        wait_for(lambda: all(v > 0 for v in held().values()), timeout=30,
                 what="both nodes running jobs")
        # B's pending entries, by the PEL (B is named by its node name),
        # once B is dead and they cannot change; the stream trimmed at
        # once, well within claim_idle (A cannot have claimed them).
        b_node = b.status()["shared"]["node"]
        self.kill9(b)
        g = "drover:{sq}:g"
        b_pending = self.redis.cli("XPENDING", q, g, "-", "+", "100",
                                   b_node).count(b_node)
        trimmed = int(self.redis.cli("XTRIM", q, "MAXLEN", "0"))
        self.assertGreater(b_pending, 0)
        self.assertGreaterEqual(trimmed, b_pending)
        # A's own running entries go from the PEL too, but A runs them.
        wait_for(lambda: a.status()["shared"]["pools"]["sq"]["deleted"] ==
                 b_pending, timeout=20,
                 what="A to find B's deleted entries")
        wait_for(lambda: self.redis.cli("XPENDING", q, g, "-", "+",
                                        "100", b_node) == "",
                 timeout=10, what="B's entries out of the PEL")
        log = a.logtext()
        self.assertIn(f"{b_pending} pending entr", log)
        self.assertIn("deleted from the stream by another client", log)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics",
                                    timeout=5) as r:
            text = r.read().decode()
        self.assertIn(f'drover_shared_deleted_total{{pool="sq"}} '
                      f'{b_pending}', text)
        # The open batch cannot complete (its jobs are gone): the client
        # is stopped.  A goes on: a batch of another shared pool runs
        # (sq's workers still have A's own queued entries of 3 s each).
        p.kill()
        self.finish(p, t, feed)
        p, out, t, feed = self.submit([a], 4, stdin=b"1\n" * 4, pool="sq2")
        rc, err = self.finish(p, t, feed)
        self.assertEqual(rc, 0, err)
        self.assertEqual(out, [b"1\n"] * 4)

    def test_redis_killed_and_restarted(self):
        """redis-server kill -9ed mid-batch and started again on the same
        port and directory (AOF): the nodes reconnect, drover submit
        reconnects and resends, nothing is lost, the sum is exact."""
        a = self.node()
        self.node()
        n = 30000
        p, out, t, feed = self.submit([a], n)
        wait_for(lambda: len(out) >= n // 3, timeout=60,
                 what="a third of the results")
        self.redis.kill9()
        time.sleep(0.3)     # the nodes see it gone (not a wait for them)
        self.redis.start()
        rc, err = self.finish(p, t, feed)
        self.check_exact(rc, out, err, n)
        self.assertIn("lost Redis", err)

    def test_poison_job(self):
        """A job that kills its worker ends crashed after max_attempts;
        the others are exact."""
        pool = ('name = "sq"; workers = 2; command = [ "%s", "crash-on", '
                '"13" ]; protocol = "line"; shared = true; '
                'claim_idle = 1.5; max_attempts = 2;' % TW)
        a = self.node([pool])
        self.node([pool])
        n = 50
        p, out, t, feed = self.submit([a], n)
        rc, err = self.finish(p, t, feed)
        self.assertEqual(rc, 1, err)
        self.assertIn(f"drover: {n} jobs, {n - 1} ok, 1 failed", err)
        self.assertIn("crashed", err)

    def test_long_job_not_stolen(self):
        """A job longer than claim_idle on a live node is not claimed by
        the other: it runs once, and no node claims anything."""
        pool = ('name = "sq"; workers = 1; handler = "sleep"; '
                'shared = true; claim_idle = 0.5;')
        a = self.node([pool])
        b = self.node([pool])
        p, out, t, feed = self.submit([a], 2, stdin=b"3000\n3000\n")
        rc, err = self.finish(p, t, feed)
        self.assertEqual(rc, 0, err)
        self.assertEqual(sorted(out), [b"3000\n", b"3000\n"])
        for d in (a, b):
            self.assertEqual(d.status()["shared"]["pools"]["sq"]
                             ["claimed"], 0)
        batch = err.split("drover: batch ")[1].split()[0]
        self.assertEqual(self.redis.cli("XLEN", "drover:{%s}:r" % batch),
                         "2")

    def test_batches_lists_shared(self):
        """drover batches on the submitting node lists its shared batch
        while it runs (with its counts), the other node does not; once it
        is complete and its client gone, neither does."""
        pool = ('name = "sq"; workers = 2; handler = "sleep"; '
                'shared = true;')
        a = self.node([pool])
        b = self.node([pool])
        p, out, t, feed = self.submit([a], 3, stdin=b"1\n1\n2500\n")
        wait_for(lambda: len(out) == 2, timeout=30, what="two results")

        def listing(d):
            r = d.client(["batches", "--json"])
            self.assertEqual(r.rc, 0, r.errtext)
            return json.loads(r.out)
        got = listing(a)
        self.assertEqual(len(got), 1, got)
        self.assertEqual((got[0]["pool"], got[0]["state"], got[0]["jobs"],
                          got[0]["done"], got[0]["failed"],
                          got[0]["shared"]),
                         ("sq", "ended", 3, 2, 0, True))
        self.assertGreater(got[0]["created"], time.time() - 60)
        self.assertEqual(listing(b), [])
        r = a.client(["batches"])
        self.assertIn(got[0]["id"].encode(), r.out)
        rc, err = self.finish(p, t, feed)
        self.assertEqual(rc, 0, err)
        self.assertIn(f"drover: batch {got[0]['id']}", err)
        wait_for(lambda: listing(a) == [], timeout=10,
                 what="the complete batch gone from the list")

    def test_submitting_node_killed(self):
        """The node the client submits through dies: drover submit
        reconnects to the next --socket, which replays the batch's
        results and goes on; the output and sum are exact."""
        a = self.node()
        b = self.node()
        n = 20000
        p, out, t, feed = self.submit([a, b], n)
        wait_for(lambda: len(out) >= n // 4, timeout=60,
                 what="a quarter of the results")
        self.kill9(a)
        rc, err = self.finish(p, t, feed)
        self.check_exact(rc, out, err, n)
        self.assertIn("reconnecting", err)

    def test_submitting_node_drains(self):
        """SIGTERM of the node the client submits through: the client gets
        BYE (stopped, durable) once what it sent is ACCEPTED, not an EOF,
        goes on through the next --socket, and the output is exact; the
        drained node exits 0."""
        pool = ('name = "sq"; workers = 2; handler = "sleep"; '
                'shared = true;')
        a = self.node([pool])
        # B starts once A has read every entry (its queue has room for
        # them all), so that A has queued ones to give back.
        b = Droverd([pool], extra=f'redis = "{self.redis.url}";\n')
        n = 60
        p, out, t, feed = self.submit([a, b], n, stdin=b"200\n" * n)
        wait_for(lambda: len(out) >= 4, timeout=30, what="four results")
        self.assertGreater(a.status()["shared"]["pools"]["sq"]["inflight"],
                           10)
        self.start_then_drain(b, a)
        rc, err = self.finish(p, t, feed)
        self.assertEqual(rc, 0, err)
        self.assertEqual(out, [b"200\n"] * n)
        self.assertIn(f"drover: {n} jobs, {n} ok, 0 failed", err)
        self.assertIn("droverd is shutting down", err)
        self.assertNotIn("connection lost", err)
        # A gave its queued entries back: B ran them at once, without
        # waiting claim_idle (30 s) to claim them.
        self.assertEqual(b.status()["shared"]["pools"]["sq"]["claimed"], 0)
        self.assertRegex(a.logtext(), r"no longer shared here \([1-9]\d* queued "
                         r"entries given back")

    def drain_holding_all(self, a_pool, n, settle=0.0):
        """Drain node A (pool a_pool) once it holds every entry of a batch
        of n one-second sleeps, B started: nothing may stay pending on
        A's consumer, and B runs what A gave back without claiming."""
        a = self.node([a_pool])
        b = Droverd(['name = "sq"; workers = 2; handler = "sleep"; '
                     'shared = true;'],
                    extra=f'redis = "{self.redis.url}";\n')
        p, out, t, feed = self.submit([a, b], n, stdin=b"1\n" * n)
        wait_for(lambda: a.status()["shared"]["pools"]["sq"]["inflight"]
                 == n - len(out) and len(out) >= 1, timeout=30,
                 what="A to hold every entry")
        time.sleep(settle)
        a_node = a.status()["shared"]["node"]
        self.start_then_drain(b, a)
        self.assertEqual(self.redis.cli("XPENDING", "drover:{sq}:q",
                                        "drover:{sq}:g", "-", "+", "100",
                                        a_node), "")
        rc, err = self.finish(p, t, feed)
        self.assertEqual(rc, 0, err)
        self.assertEqual(out, [b"1\n"] * n)
        self.assertEqual(b.status()["shared"]["pools"]["sq"]["claimed"], 0)

    def test_drain_leaves_nothing_pending(self):
        """A drained node whose pool runs nothing (rate-limited) gives
        every queued entry back before it exits: none stays pending on
        its consumer (the last transactions reach Redis), the other node
        runs them without claiming, and the output is exact."""
        self.drain_holding_all('name = "sq"; workers = 2; handler = '
                               '"sleep"; shared = true; rate = 2.0; '
                               'burst = 1.0;', 30)

    def test_drain_with_a_read_blocked(self):
        """A node drained while its read of the stream blocks (its pool
        has room: it holds every entry and waits for more): the entries
        it gives back must not be handed to that read, which would leave
        them pending on a consumer that is gone until another node
        claimed them (claim_idle, 30 s)."""
        self.drain_holding_all('name = "sq"; workers = 1; handler = '
                               '"sleep"; shared = true; rate = 1.0; '
                               'burst = 1.0;', 4, settle=0.3)

    def test_results_on_any_node(self):
        """drover results ID on another node than the submitter's."""
        a = self.node()
        b = self.node()
        p, out, t, feed = self.submit([a], 100)
        rc, err = self.finish(p, t, feed)
        self.check_exact(rc, out, err, 100)
        batch = err.split("drover: batch ")[1].split()[0]
        r = b.client(["results", batch, "--wait"])
        self.assertEqual(r.rc, 0, r.errtext)
        self.assertEqual(sorted(int(x) for x in r.out.split()),
                         [i * i for i in range(1, 101)])
        self.assertIn(f"sum {sum_squares(100)} ", r.errtext)
        r = b.client(["results", "0" * 32])
        self.assertNotEqual(r.rc, 0)
        self.assertIn("unknown batch", r.errtext)

    def test_config(self):
        rc, err, path = conf_check('redis = "localhost:6379";\npools = ({ '
                                   'name = "a"; handler = "square"; });\n')
        self.assertEqual(rc, 2)
        self.assertIn("redis: 'localhost:6379' is not", err[0])
        rc, err, path = conf_check('pools = ({ name = "a"; handler = '
                                   '"square"; shared = true; });\n')
        self.assertEqual(rc, 2)
        self.assertIn("pool 'a': shared = true needs redis", err[0])
        for good in ("redis://127.0.0.1", "redis://127.0.0.1:6380/2",
                     "unix:/run/redis/redis.sock"):
            rc, err, path = conf_check(f'redis = "{good}";\npools = ({{ '
                                       'name = "a"; handler = "square"; '
                                       'shared = true; });\n')
            self.assertEqual(rc, 0, err)


if __name__ == "__main__":
    unittest.main()
