#!/usr/bin/env python3
"""Durable batches in droverd (docs/protocol.md, "Durable batches"), end to
end with real processes: droverd is kill -9ed at random moments while
batches run, attached and detached, restarted on the same journal, and
every job's result comes exactly once with an exact sum; ACCEPTED means
committed; a job running at the crash is charged an attempt; a full or
unwritable journal refuses work with a clear error and /healthz 503;
retention deletes completed batches.

The client here speaks the control protocol itself (harness.ctl_*), the
way a client in another language would: it keeps the jobs no ACCEPTED has
covered, resends them after a reconnect under the same batch id, and
counts the first RESULT of each id."""
import json
import os
import random
import re
import shutil
import signal
import socket
import sqlite3
import struct
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(__file__))
from harness import (CTL_END, CTL_JOB, CTL_REPLY, CTL_BYE,  # noqa: E402
                     CTL_RESULT, DROVER, Droverd, DroverTestCase, conf_check,
                     ctl_connect, ctl_frame, ctl_request, free_port,
                     sum_squares, tagged_env, tagged_pids, wait_for)

CTL_ACCEPTED = 8
SQUARE = 'name = "sq"; workers = 2; handler = "square";'
SLEEP = 'name = "nap"; workers = 2; handler = "sleep";'



class Conn:
    """One connection's framing: send, and read whole messages."""

    def __init__(self, path, timeout=30.0):
        self.s = ctl_connect(path, timeout)
        self.buf = b""

    def send(self, data):
        self.s.sendall(data)

    def msgs(self, block=True):
        """Whole messages read so far (and more, waiting if block)."""
        out = []
        while True:
            while len(self.buf) >= 16:
                n, typ, st, _, id_ = struct.unpack_from("<IBBHQ", self.buf)
                if len(self.buf) < 16 + n:
                    break
                out.append((typ, st, id_, self.buf[16:16 + n]))
                self.buf = self.buf[16 + n:]
            if out or not block:
                return out
            try:
                chunk = self.s.recv(1 << 20)
            except (ConnectionResetError, BrokenPipeError):
                chunk = b""
            if not chunk:
                return None         # EOF
            self.buf += chunk

    def close(self):
        self.s.close()


class DurableClient:
    """A client that survives droverd's death: the resend rule."""

    def __init__(self, sock, pool, jobs, detach=False):
        self.sock = sock
        self.pool = pool
        self.jobs = jobs            # id -> bytes; ids increase
        self.detach = detach
        self.batch = None
        self.acked = -1             # jobs up to this id are committed
        self.ended = False          # ... and the END
        self.results = {}           # id -> (status, attempts, output)
        self.dups = 0
        self.bye = None
        self.reconnects = 0
        self.sent = 0               # JOBs sent, resends included

    def connect(self, deadline):
        while True:
            try:
                c = Conn(self.sock)
                req = {"op": "submit", "pool": self.pool,
                       "sections": ["stderr", "output", "input"]}
                if self.batch:
                    req["batch"] = self.batch
                if self.detach:
                    req["detach"] = True
                c.send(ctl_request(req))
                m = c.msgs()
                if m is None:
                    raise ConnectionError("EOF before the reply")
                typ, _, _, p = m[0]
                assert typ == CTL_REPLY, m
                rep = json.loads(p)
                assert rep["ok"], rep
                assert rep["durable"] is True
                if self.batch:
                    assert rep["batch"] == self.batch
                self.batch = rep["batch"]
                c.buf = b"".join(
                    struct.pack("<IBBHQ", len(pl), t, s, 0, i) + pl
                    for t, s, i, pl in m[1:]) + c.buf
                return c, rep
            except (ConnectionError, FileNotFoundError, OSError,
                    AssertionError) as e:
                if time.monotonic() > deadline:
                    raise AssertionError(f"no droverd to reconnect to: {e}")
                time.sleep(0.05)

    def take(self, msgs):
        for typ, st, id_, p in msgs:
            if typ == CTL_ACCEPTED:
                self.acked = max(self.acked, id_)
                self.ended |= st == 1
            elif typ == CTL_RESULT:
                if id_ in self.results:
                    self.dups += 1
                    continue
                attempts = struct.unpack_from("<I", p, 4)[0]
                self.results[id_] = (st, attempts, p[16:])
            elif typ == CTL_BYE:
                self.bye = json.loads(p)

    def run(self, reconnect=60.0, between=None):
        """Until BYE (or, detached, the END accepted); reconnecting."""
        first = True
        ids = sorted(self.jobs)
        while True:
            c, rep = self.connect(time.monotonic() + reconnect)
            if not first:
                self.reconnects += 1
            first = False
            # Resend what is not covered (droverd has below next_id).
            todo = [i for i in ids if i > self.acked and
                    i >= rep["next_id"]]
            out = b"".join(ctl_frame(CTL_JOB, self.jobs[i], id=i)
                           for i in todo)
            self.sent += len(todo)
            out += ctl_frame(CTL_END)
            try:
                c.send(out)
                while True:
                    m = c.msgs()
                    if m is None:
                        break           # droverd died: go again
                    self.take(m)
                    if between:
                        between(self)
                    if self.detach and self.ended:
                        c.close()
                        return
                    if self.bye is not None:
                        if self.bye.get("stopped") and \
                                self.bye.get("durable"):
                            self.bye = None
                            break       # drained: come back later
                        c.close()
                        return
            except (BrokenPipeError, ConnectionResetError):
                pass
            c.close()


def results_op(sock, batch, wait=False, timeout=60):
    """{"op":"results"}: the REPLY, every RESULT, the BYE."""
    c = Conn(sock, timeout)
    c.send(ctl_request({"op": "results", "batch": batch, "wait": wait,
                        "sections": ["stderr", "output", "input"]}))
    msgs = []
    while True:
        m = c.msgs()
        if m is None:
            break
        msgs += m
    c.close()
    assert msgs and msgs[0][0] == CTL_REPLY, msgs[:1]
    rep = json.loads(msgs[0][3])
    res = [(i, st, p[16:]) for t, st, i, p in msgs if t == CTL_RESULT]
    results_op.attempts = {i: struct.unpack_from("<I", p, 4)[0]
                           for t, _, i, p in msgs if t == CTL_RESULT}
    byes = [json.loads(p) for t, _, _, p in msgs if t == CTL_BYE]
    return rep, res, byes[0] if byes else None


def ask(sock, obj):
    c = Conn(sock)
    c.send(ctl_request(obj))
    m = c.msgs()
    c.close()
    return json.loads(m[0][3])


class DurableCase(DroverTestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="drover-durable-")
        self.journal = os.path.join(self.dir, "journal.db")
        self.d = None

    def tearDown(self):
        if self.d is not None:
            # A clean exit: the journal closed, nothing leaked (ASan).
            if self.d.proc is not None and self.d.proc.poll() is None:
                rc = self.d.stop()
                log = self.d.logtext()
                self.assertNotIn("Sanitizer", log)
                self.assertNotIn("runtime error", log)
                self.assertEqual(rc, 0, log[-2000:])
            self.d.kill()
            shutil.rmtree(self.d.dir, ignore_errors=True)
        shutil.rmtree(self.dir, ignore_errors=True)

    def droverd(self, pools, extra="", metrics=None):
        self.d = Droverd(pools, extra=f'journal = "{self.journal}";\n' +
                         extra, metrics=metrics)
        return self.d.start()

    def rewrite(self, pools, extra=""):
        self.d.write(pools, f'journal = "{self.journal}";\n' + extra)

    def restart(self):
        """Start droverd again on the same config and journal."""
        old = self.d
        new = Droverd.__new__(Droverd)
        new.__dict__.update(old.__dict__)
        new.proc = None
        wait_for(lambda: not tagged_pids(old.tag), timeout=10,
                 what="the killed droverd's workers to exit")
        if os.path.exists(old.sock):
            os.unlink(old.sock)
        self.d = new.start()
        return self.d

    def kill9(self):
        self.d.proc.send_signal(signal.SIGKILL)
        self.d.proc.wait()
        self.d.logf.close()
        log = self.d.logtext()      # the restart starts a new one
        self.assertNotIn("Sanitizer", log)
        self.assertNotIn("runtime error", log)

    def check_exact(self, cl, n):
        self.assertEqual(sorted(cl.results), list(range(1, n + 1)))
        bad = {i: r for i, r in cl.results.items() if r[0] != 0}
        self.assertEqual(bad, {})
        self.assertEqual(sum(int(r[2]) for r in cl.results.values()),
                         sum_squares(n))


class TestDurable(DurableCase):
    def test_plain_batch(self):
        """A durable batch without a crash: REPLY with a batch id,
        ACCEPTED before the results it covers, BYE with the id; status
        and /metrics show the journal."""
        self.droverd([SQUARE], metrics=f"127.0.0.1:{free_port()}")
        cl = DurableClient(self.d.sock, "sq",
                           {i: str(i).encode() for i in range(1, 1001)})
        cl.run()
        self.check_exact(cl, 1000)
        self.assertEqual(cl.dups, 0)
        self.assertEqual(cl.acked, 1000)
        self.assertTrue(cl.ended)
        self.assertEqual(cl.bye["batch"], cl.batch)
        self.assertEqual(len(cl.batch), 32)
        b = ask(self.d.sock, {"op": "batches"})
        self.assertEqual([(x["id"], x["state"], x["jobs"], x["done"],
                           x["failed"]) for x in b["batches"]],
                         [(cl.batch, "complete", 1000, 1000, 0)])
        # The complete state is recorded after the last result.
        wait_for(lambda: self.d.status()["journal"]["batches"]["complete"]
                 == 1, timeout=10, what="the batch recorded complete")
        st = self.d.status()
        self.assertEqual(st["journal"]["state"], "ok")
        self.assertGreater(st["journal"]["commits"], 0)
        with urllib.request.urlopen(f"http://{self.d.metrics}/metrics",
                                    timeout=5) as r:
            text = r.read().decode()
        for fam in ("drover_journal_commits_total",
                    "drover_journal_commit_seconds_bucket",
                    "drover_journal_rows_per_commit_count",
                    'drover_journal_bytes{kind="live"}',
                    "drover_journal_failed 0"):
            self.assertIn(fam, text)
        self.assertIn('drover_batches{state="complete"} 1', text)
        m = re.search(r"^drover_journal_commits_total (\d+)$", text, re.M)
        self.assertGreater(int(m.group(1)), 0)

    def test_kill9_attached(self):
        """kill -9 of droverd at random moments during an attached batch
        of square jobs: the client reconnects, resends what no ACCEPTED
        covered, and gets every result once, with the exact sum."""
        n = 20000
        # Paced (4000 jobs/s), so that there is work left at every kill:
        # unpaced, the jobs a restart recovers can all be done before
        # the client reads, and the batch end before the third kill.
        self.droverd([SQUARE + ' rate = 4000.0; burst = 100.0;'])
        rnd = random.Random(int(os.environ.get("DROVER_TEST_SEED", "7")))
        kills = []

        def between(cl):
            got = len(cl.results)
            # Once per connection: the next kill waits for a reconnect.
            if len(kills) < 3 and len(kills) == cl.reconnects and \
                    cl.bye is None and \
                    got >= (len(kills) + 1) * n // 5 + \
                    rnd.randrange(n // 10):
                kills.append(got)
                self.kill9()
                self.restart()

        cl = DurableClient(self.d.sock, "sq",
                           {i: str(i).encode() for i in range(1, n + 1)})
        cl.run(between=between)
        self.assertEqual(len(kills), 3, kills)
        self.assertGreaterEqual(cl.reconnects, 3)
        self.check_exact(cl, n)
        self.assertEqual(self.d.proc.poll(), None)

    def test_kill9_several_clients_sleep(self):
        """Three clients, sleep jobs (running ones are charged), two kills:
        every batch exact."""
        self.droverd(['name = "nap"; workers = 4; handler = "sleep";'])
        n = 60
        cls = [DurableClient(self.d.sock, "nap",
                             {i: str(i % 7).encode()
                              for i in range(1, n + 1)})
               for _ in range(3)]
        import threading
        errs = []

        def go(cl):
            try:
                cl.run()
            except Exception as e:      # noqa: BLE001
                errs.append(e)
        ts = [threading.Thread(target=go, args=(cl,)) for cl in cls]
        for t in ts:
            t.start()
        for k in range(2):
            wait_for(lambda: sum(len(c.results) for c in cls) >=
                     (k + 1) * n, timeout=60, what="results")
            self.kill9()
            self.restart()
        for t in ts:
            t.join(120)
        self.assertEqual(errs, [])
        for cl in cls:
            self.assertEqual(sorted(cl.results), list(range(1, n + 1)))
            self.assertEqual(sum(int(r[2]) for r in cl.results.values()),
                             sum(i % 7 for i in range(1, n + 1)))

    def test_accepted_means_committed(self):
        """Once ACCEPTED covers every job, kill -9 before they could run
        (the pool dispatches one a minute): after a restart every job
        runs and its result comes, exactly once."""
        self.droverd(['name = "slow"; workers = 1; handler = "square"; '
                      'rate = 0.02; burst = 1.0;'])
        n = 200
        c = Conn(self.d.sock)
        c.send(ctl_request({"op": "submit", "pool": "slow"}))
        out = b"".join(ctl_frame(CTL_JOB, str(i), id=i)
                       for i in range(1, n + 1)) + ctl_frame(CTL_END)
        c.send(out)
        cl = DurableClient(self.d.sock, "slow", {})
        first = c.msgs()
        rep = json.loads(first[0][3])
        cl.batch = rep["batch"]
        cl.take(first[1:])
        while not cl.ended:
            cl.take(c.msgs())
        self.assertEqual(cl.acked, n)
        self.kill9()
        # What droverd wrote before it died counts as taken (a RESULT of
        # the one job that could run may come after the END's ACCEPTED):
        # read it from the socket, up to the EOF.
        while (m := c.msgs()) is not None:
            cl.take(m)
        c.close()
        self.assertLessEqual(len(cl.results), 1)
        # The new droverd runs them at full speed.
        self.rewrite(['name = "slow"; workers = 2; handler = "square";'])
        self.restart()
        cl.jobs = {}
        cl.run()
        self.check_exact(cl, n)
        self.assertEqual(cl.bye["batch"], cl.batch)

    def test_detached_kill9_then_results(self):
        """A detached batch (the client leaves once the END is accepted),
        droverd killed mid-run, restarted: drover's results op with wait
        returns each job once with the exact sum; batches says complete."""
        self.droverd(['name = "nap"; workers = 2; handler = "sleep";'])
        n = 300
        cl = DurableClient(self.d.sock, "nap",
                           {i: b"5" for i in range(1, n + 1)}, detach=True)
        cl.run()
        self.assertTrue(cl.ended)
        self.assertEqual(cl.results, {})    # a detached client gets none
        wait_for(lambda: ask(self.d.sock, {"op": "batches"})["batches"][0]
                 ["done"] >= n // 3, timeout=60, what="a third done")
        self.kill9()
        self.restart()
        rep, res, bye = results_op(self.d.sock, cl.batch, wait=True)
        self.assertEqual(rep["batch"], cl.batch)
        ids = [i for i, _, _ in res]
        self.assertEqual(ids, list(range(1, n + 1)))
        self.assertEqual(sum(int(o) for _, _, o in res), 5 * n)
        self.assertEqual(bye["state"], "complete")
        self.assertEqual((bye["jobs"], bye["done"]), (n, n))
        b = ask(self.d.sock, {"op": "batches"})["batches"]
        self.assertEqual([(x["state"], x["done"]) for x in b],
                         [("complete", n)])

    def test_charged_at_restart(self):
        """A job running when droverd died is charged an attempt: with
        max_attempts = 1 it ends crashed at start-up without running
        again; with 2 it runs again, as attempt 2."""
        self.droverd(['name = "one"; workers = 1; handler = "sleep"; '
                      'max_attempts = 1;',
                      'name = "two"; workers = 1; handler = "sleep"; '
                      'max_attempts = 2;'])
        batches = {}
        for pool in ("one", "two"):
            c = Conn(self.d.sock)
            c.send(ctl_request({"op": "submit", "pool": pool}) +
                   ctl_frame(CTL_JOB, b"60000", id=1) +
                   ctl_frame(CTL_JOB, b"1", id=2) + ctl_frame(CTL_END))
            m = c.msgs()
            batches[pool] = json.loads(m[0][3])["batch"]
            c.close()
        # Both first jobs are running (each pool has one worker).
        wait_for(lambda: all(p["inflight"] == 1 for p in
                             self.d.status()["pools"]), timeout=30,
                 what="the long jobs to run")
        time.sleep(0.3)     # the start records' commit (group commit)
        self.kill9()
        self.rewrite(['name = "one"; workers = 1; handler = "sleep"; '
                      'max_attempts = 1;',
                      'name = "two"; workers = 1; handler = "sleep"; '
                      'max_attempts = 2; job_timeout = 0.5;'])
        self.restart()
        _, res, bye = results_op(self.d.sock, batches["one"], wait=True)
        got = {i: (st, o) for i, st, o in res}
        self.assertEqual(got[1][0], 3, got)     # crashed
        self.assertIn(b"droverd stopped while it ran (attempt 1 of 1)",
                      got[1][1])
        self.assertEqual(got[2], (0, b"1"))
        _, res, _ = results_op(self.d.sock, batches["two"], wait=True)
        got = {i: st for i, st, _ in res}
        # Attempt 2 ran and timed out (0.5 s): not crashed at start-up.
        self.assertEqual(got[1], 2, res)
        self.assertEqual(results_op.attempts[1], 2)
        self.assertIn("2 batches, 4 unfinished jobs (2 charged an attempt)",
                      self.d.logtext())

    def test_resend_is_ignored(self):
        """A resend of ids the batch holds gets no second RESULT; a
        second connection to the batch takes it over."""
        self.droverd([SQUARE])
        c = Conn(self.d.sock)
        c.send(ctl_request({"op": "submit", "pool": "sq"}) +
               b"".join(ctl_frame(CTL_JOB, str(i), id=i)
                        for i in range(1, 11)))
        m = c.msgs()
        batch = json.loads(m[0][3])["batch"]
        got = {}
        while True:
            for t, st, i, p in m:
                if t == CTL_RESULT:
                    got[i] = got.get(i, 0) + 1
            if len(got) == 10:
                break
            m = c.msgs()
        self.assertEqual(set(got.values()), {1})
        c2 = Conn(self.d.sock)
        c2.send(ctl_request({"op": "submit", "pool": "sq",
                             "batch": batch}))
        rep = json.loads(c2.msgs()[0][3])
        self.assertEqual((rep["next_id"], rep["jobs"], rep["done"]),
                         (11, 10, 10))
        # The first connection is told, and closed.
        rest = []
        while (m := c.msgs()) is not None:
            rest += m
        byes = [json.loads(p) for t, _, _, p in rest if t == CTL_BYE]
        self.assertEqual(byes[0]["stopped"],
                         "another connection took the batch")
        self.assertIs(byes[0]["taken"], True)
        c2.send(b"".join(ctl_frame(CTL_JOB, str(i), id=i)
                         for i in range(1, 13)) + ctl_frame(CTL_END))
        msgs = []
        while (m := c2.msgs()) is not None:
            msgs += m
        res = [i for t, _, i, _ in msgs if t == CTL_RESULT]
        self.assertEqual(sorted(res), [11, 12])
        bye = [json.loads(p) for t, _, _, p in msgs if t == CTL_BYE][0]
        self.assertEqual(bye["batch"], batch)

    def test_drain_keeps_jobs(self):
        """SIGTERM while a durable batch runs: droverd stops soon (the
        queued jobs wait in the journal), BYE says stopped and durable,
        and after a restart the batch completes, exact."""
        self.droverd(['name = "nap"; workers = 2; handler = "sleep";'])
        n = 100
        cl = DurableClient(self.d.sock, "nap",
                           {i: b"20" for i in range(1, n + 1)})
        stopped = []

        def between(cl):
            if not stopped and len(cl.results) >= 10:
                stopped.append(1)
                self.d.proc.send_signal(signal.SIGTERM)
                self.assertEqual(self.d.proc.wait(timeout=10), 0)
                self.d.logf.close()
                self.restart()
        cl.run(between=between)
        self.assertEqual(sorted(cl.results), list(range(1, n + 1)))
        self.assertEqual(sum(int(r[2]) for r in cl.results.values()),
                         20 * n)

    def test_results_and_batches_errors(self):
        self.droverd([SQUARE, 'name = "mem"; workers = 1; '
                      'handler = "square"; durable = false;'])
        r = ask(self.d.sock, {"op": "results", "batch": "nope"})
        self.assertEqual(r, {"ok": False, "error": "unknown batch 'nope'"})
        r = ask(self.d.sock, {"op": "submit", "pool": "sq",
                              "batch": "nope"})
        self.assertEqual(r["error"], "unknown batch 'nope'")
        r = ask(self.d.sock, {"op": "submit", "pool": "mem",
                              "detach": True})
        self.assertIn("pool 'mem' keeps no batches: it has durable = "
                      "false", r["error"])
        # A non-durable pool beside: no batch id, no ACCEPTED.
        c = Conn(self.d.sock)
        c.send(ctl_request({"op": "submit", "pool": "mem"}) +
               ctl_frame(CTL_JOB, b"3", id=0) + ctl_frame(CTL_END))
        msgs = []
        while (m := c.msgs()) is not None:
            msgs += m
        self.assertNotIn("batch", json.loads(msgs[0][3]))
        self.assertEqual([t for t, _, _, _ in msgs],
                         [CTL_REPLY, CTL_RESULT, CTL_BYE])

    def test_no_journal(self):
        self.d = Droverd([SQUARE]).start()
        r = ask(self.d.sock, {"op": "batches"})
        self.assertFalse(r["ok"])
        self.assertIn("droverd has no journal", r["error"])

    def test_retention(self):
        """result_retention = 1: a completed batch is gone from batches
        and from the file soon after; an unfinished one stays."""
        self.droverd([SQUARE, SLEEP], extra="result_retention = 1.0;\n")
        cl = DurableClient(self.d.sock, "sq",
                           {i: str(i).encode() for i in range(1, 101)})
        cl.run()
        c = Conn(self.d.sock)
        c.send(ctl_request({"op": "submit", "pool": "nap"}) +
               ctl_frame(CTL_JOB, b"60000", id=1))
        keep = json.loads(c.msgs()[0][3])["batch"]
        # A client that leaves without END: its batch ends after a
        # retention period without it, completes, and goes too.
        c2 = Conn(self.d.sock)
        c2.send(ctl_request({"op": "submit", "pool": "sq"}) +
                ctl_frame(CTL_JOB, b"7", id=1))
        left = json.loads(c2.msgs()[0][3])["batch"]
        c2.close()
        wait_for(lambda: [b["id"] for b in ask(
            self.d.sock, {"op": "batches"})["batches"]] == [keep],
            timeout=30, what="the completed batches to be dropped")
        wait_for(lambda: self.d.status()["journal"]["deleted_batches"] == 2,
                 timeout=30, what="the journal to delete them")
        self.assertIn(f"batch {left}: no client for 1 s and no END: ended",
                      self.d.logtext())
        self.d.kill()
        db = sqlite3.connect(self.journal)
        rows = db.execute("SELECT b.id, count(j.id) FROM batch b LEFT JOIN"
                          " job j ON j.bkey = b.bkey GROUP BY b.id"
                          ).fetchall()
        db.close()
        self.assertEqual(rows, [(keep, 1)])

    def test_journal_max_mb(self):
        """Over journal_max_mb, new batches are refused with a clear
        error; the running ones go on."""
        self.droverd([SQUARE], extra="journal_max_mb = 1;\n")
        big = b"x" * 60000
        c = Conn(self.d.sock)
        c.send(ctl_request({"op": "submit", "pool": "sq"}) +
               b"".join(ctl_frame(CTL_JOB, big, id=i) for i in range(40)) +
               ctl_frame(CTL_END))
        msgs = []
        while (m := c.msgs()) is not None:
            msgs += m
        self.assertEqual(len([1 for t, *_ in msgs if t == CTL_RESULT]), 40)
        wait_for(lambda: self.d.status()["journal"]["state"] == "full",
                 timeout=10, what="the journal to be full")
        r = ask(self.d.sock, {"op": "submit", "pool": "sq"})
        self.assertFalse(r["ok"])
        self.assertIn("journal is full (journal_max_mb 1)", r["error"])

    def test_unwritable_journal(self):
        """A journal droverd cannot open: it does not start, and says
        which file and why; -t says the directory is missing."""
        ro = os.path.join(self.dir, "ro")
        os.mkdir(ro, 0o555)
        if os.geteuid() == 0:
            # Root writes through a mode: a read-only file system then.
            subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=1m",
                            "tmpfs", ro], check=True)
            self.addCleanup(subprocess.run, ["umount", "-l", ro])
        self.journal = os.path.join(ro, "journal.db")
        d = Droverd([SQUARE], extra=f'journal = "{self.journal}";\n')
        self.d = d
        with self.assertRaises(AssertionError) as e:
            d.start()
        self.assertRegex(str(e.exception), "error: journal " +
                         re.escape(self.journal) + ": cannot open: ")
        self.assertEqual(d.proc.returncode, 1)
        self.assertFalse(os.path.exists(d.sock))    # it never listened
        rc, err, path = conf_check(f'journal = "{self.dir}/none/j.db";\n'
                                   'pools = ({ name = "a"; '
                                   'handler = "square"; });\n')
        self.assertEqual(rc, 2)
        self.assertEqual(err, [f"{path}:1: journal: directory "
                               f"{self.dir}/none: No such file or "
                               "directory"])
        rc, err, path = conf_check('journal = "j.db";\npools = ({ '
                                   'name = "a"; handler = "square"; });\n')
        self.assertEqual(err, [f"{path}:1: journal: 'j.db' is not an "
                               "absolute path"])

    @unittest.skipUnless(os.geteuid() == 0, "needs root to mount a tmpfs")
    def test_full_disk(self):
        """The journal's filesystem fills up mid-batch: no ACCEPTED after
        the failure, the durable pool fails with the reason, /healthz
        answers 503, and new submits are refused."""
        mnt = os.path.join(self.dir, "small")
        os.mkdir(mnt)
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs",
                        mnt], check=True)
        self.addCleanup(subprocess.run, ["umount", "-l", mnt])
        self.journal = os.path.join(mnt, "journal.db")
        port = free_port()
        self.d = Droverd([SQUARE], extra=f'journal = "{self.journal}";\n',
                         metrics=f"127.0.0.1:{port}").start()
        big = b"y" * 100000
        c = Conn(self.d.sock)
        c.send(ctl_request({"op": "submit", "pool": "sq"}))
        cl = DurableClient(self.d.sock, "sq", {})
        msgs = c.msgs()
        cl.batch = json.loads(msgs[0][3])["batch"]
        try:
            for i in range(200):
                c.send(ctl_frame(CTL_JOB, big, id=i))
        except (BrokenPipeError, ConnectionResetError):
            pass
        while (m := c.msgs()) is not None:
            cl.take(m)
        self.assertIsNotNone(cl.bye)
        self.assertIn("journal failed", cl.bye["stopped"])
        self.assertLess(cl.acked, 199)
        st = self.d.status()
        self.assertEqual(st["journal"]["state"], "failed")
        self.assertEqual(st["pools"][0]["state"], "failed")
        self.assertIn("journal failed", st["pools"][0]["failure"])
        with self.assertRaises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz",
                                   timeout=5)
        self.assertEqual(e.exception.code, 503)
        r = ask(self.d.sock, {"op": "submit", "pool": "sq"})
        self.assertFalse(r["ok"])
        self.assertIn("journal failed", r["error"])
        self.assertIn("journal failed", self.d.logtext())


BIGW = os.path.join(os.path.dirname(__file__), "..", "workers", "bigw.py")


class TestDurableRegressions(DurableCase):
    """Defects found in review, each with the test that failed before."""

    def test_sink_result_after_peer_gone(self):
        """A client that stops reading, then goes (its writes fail) while
        its jobs run: the results handed after that must not touch the
        freed client (ASan saw a use-after-free in client_schedule)."""
        self.droverd([f'name = "big"; workers = 8; window = 1; '
                      f'command = ["python3", "{BIGW}"]; '
                      'protocol = "line";'])
        c = Conn(self.d.sock)
        jobs = [b"0 1000000"] * 8 + [b"2 1000000"] * 8
        c.send(ctl_request({"op": "submit", "pool": "big"}) +
               b"".join(ctl_frame(CTL_JOB, j, id=i + 1)
                        for i, j in enumerate(jobs)))
        wait_for(lambda: self.d.pool("big")["jobs"]["ok"] >= 8,
                 timeout=60, what="8 MB of results waiting for us")
        c.send(ctl_frame(CTL_JOB, b"0 1", id=len(jobs) + 1))
        c.s.shutdown(socket.SHUT_RD)    # droverd's writes fail now
        wait_for(lambda: self.d.pool("big")["jobs"]["ok"] >= 16,
                 timeout=60, what="the running jobs to end")
        self.assertIsNone(self.d.proc.poll(), self.d.logtext()[-2000:])
        c.close()

    def test_drain_after_recovery_is_quick(self):
        """SIGTERM soon after a restart that recovered more jobs than the
        pool's queue holds: the drain does not run the backlog (it stays
        in the journal) and ends at once, not at shutdown_timeout."""
        # Room for every job (16 workers, window 64), dispatched slowly.
        self.droverd(['name = "nap"; workers = 16; window = 64; '
                      'handler = "sleep"; rate = 1.0; burst = 1.0;'])
        n = 2000
        c = Conn(self.d.sock)
        c.send(ctl_request({"op": "submit", "pool": "nap"}) +
               b"".join(ctl_frame(CTL_JOB, b"50", id=i)
                        for i in range(1, n + 1)) + ctl_frame(CTL_END))
        cl = DurableClient(self.d.sock, "nap", {})
        while not cl.ended:
            cl.take(c.msgs())
        self.kill9()
        c.close()
        self.rewrite(['name = "nap"; workers = 4; handler = "sleep";'])
        self.restart()
        wait_for(lambda: "unfinished jobs" in self.d.logtext(), timeout=10,
                 what="the recovery")
        t0 = time.monotonic()
        self.d.proc.send_signal(signal.SIGTERM)
        self.assertEqual(self.d.proc.wait(timeout=30), 0)
        took = time.monotonic() - t0
        self.d.logf.close()
        self.assertNotIn("shutdown_timeout", self.d.logtext())
        self.assertLess(took, 3.0)
        db = sqlite3.connect(self.journal)
        left = db.execute("SELECT count(*) FROM job WHERE status IS NULL"
                          ).fetchone()[0]
        db.close()
        self.assertGreater(left, 0)     # waiting for the next start

    def test_exec_cwd_client_is_not_durable(self):
        """A pool with exec_cwd = "client" runs each job in the client's
        directory, which the journal does not keep: its batches are not
        durable, and the job runs where the client is."""
        self.droverd(['name = "c"; handler = "exec"; exec = "cat {}"; '
                      'exec_cwd = "client";'])
        with open(os.path.join(self.dir, "f.txt"), "w") as f:
            f.write("hello\n")
        r = self.d.client(["submit", "--pool", "c"], b"f.txt\n",
                          timeout=60, cwd=self.dir)
        self.assertEqual((r.rc, r.out), (0, b"hello\n"), r.errtext)
        self.assertNotIn("drover: batch", r.errtext)

    def test_gone_readers_and_detached_free_their_fds(self):
        """A `results --wait` client that gives up, and a detached client
        that leaves after its END is accepted, are noticed at once: their
        connections are closed, droverd's fds go back where they were."""
        from harness import fd_count
        self.droverd([SLEEP])
        c = Conn(self.d.sock)
        c.send(ctl_request({"op": "submit", "pool": "nap"}) +
               ctl_frame(CTL_JOB, b"60000", id=1))
        batch = json.loads(c.msgs()[0][3])["batch"]
        base = fd_count(self.d.proc.pid)
        for _ in range(20):
            r = Conn(self.d.sock)
            r.send(ctl_request({"op": "results", "batch": batch,
                                "wait": True}))
            self.assertTrue(json.loads(r.msgs()[0][3])["ok"])
            r.close()
        for _ in range(20):
            cl = DurableClient(self.d.sock, "nap", {1: b"1"}, detach=True)
            cl.run()
        wait_for(lambda: fd_count(self.d.proc.pid) <= base, timeout=10,
                 what="droverd's fds back to %d" % base)
        c.close()

    def test_resume_gets_what_is_committed(self):
        """A connection that takes up a batch whose END is committed gets
        ACCEPTED with ended at once (a detached client that reconnects
        waits for nothing else), before any replay."""
        self.droverd([SLEEP])
        cl = DurableClient(self.d.sock, "nap", {i: b"60000"
                                                for i in range(1, 4)},
                           detach=True)
        cl.run()
        again = DurableClient(self.d.sock, "nap", {}, detach=True)
        again.batch = cl.batch
        c, rep = again.connect(time.monotonic() + 10)
        again.take(c.msgs())
        while not again.ended:
            again.take(c.msgs())
        self.assertEqual((again.acked, again.ended), (3, True))
        c.close()

    def test_resumed_reply_says_what_is_committed(self):
        """The REPLY to a resumed submit gives the committed next id (the
        client drops its jobs below it): with commits held back, it is
        not the count of jobs droverd has only read."""
        self.droverd([SQUARE])
        c = Conn(self.d.sock)
        c.send(ctl_request({"op": "submit", "pool": "sq"}) +
               b"".join(ctl_frame(CTL_JOB, str(i), id=i)
                        for i in range(0, 50)) + ctl_frame(CTL_END))
        cl = DurableClient(self.d.sock, "sq", {})
        m = c.msgs()
        cl.batch = json.loads(m[0][3])["batch"]
        cl.take(m[1:])
        while not cl.ended:
            cl.take(c.msgs())
        c.close()
        rep = ask(self.d.sock, {"op": "submit", "pool": "sq",
                                "batch": cl.batch})
        self.assertEqual(rep["next_id"], 50)


class TestSubmitSurvives(DurableCase):
    """drover submit itself across kill -9s of droverd: the same output,
    summary and exit status as if nothing had happened."""

    def run_killed(self, n, kills, opts=(), stdin=None):
        import threading
        self.droverd([SQUARE])
        env = tagged_env({"DROVER_SOCKET": self.d.sock})  # not droverd's
        p = subprocess.Popen(
            [DROVER, "submit", "--pool", "sq", "--reconnect", "30"] +
            list(opts),
            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, env=env)
        out = []

        def reader():
            for line in p.stdout:
                out.append(line)
        t = threading.Thread(target=reader)
        t.start()
        feed = threading.Thread(target=lambda: (p.stdin.write(
            stdin if stdin is not None else
            b"".join(b"%d\n" % i for i in range(1, n + 1))),
            p.stdin.close()))
        feed.start()
        for k in range(kills):
            wait_for(lambda: len(out) >= (k + 1) * n // (kills + 2),
                     timeout=60, what="results before a kill")
            self.kill9()
            self.restart()
        rc = p.wait(timeout=120)
        t.join()
        feed.join()
        err = p.stderr.read().decode()
        p.stdout.close()
        p.stderr.close()
        return rc, out, err

    def test_submit_reconnects(self):
        n = 50000
        rc, out, err = self.run_killed(n, 2)
        self.assertEqual(rc, 0, err)
        self.assertEqual(sorted(int(x) for x in out),
                         sorted(i * i for i in range(1, n + 1)))
        self.assertIn(f"drover: {n} jobs, {n} ok, 0 failed", err)
        self.assertIn(f"sum {sum_squares(n)} ", err)
        self.assertEqual(err.count("reconnecting for up to 30 s"), 2, err)
        self.assertRegex(err, r"drover: batch [0-9a-f]{32}\n")

    def test_detach_then_results(self):
        """--detach prints the id once the END is accepted; droverd is
        killed mid-run; drover results --wait prints every result once
        with the exact summary."""
        self.droverd(['name = "nap"; workers = 2; handler = "sleep";'])
        n = 400
        r = self.d.client(["submit", "--pool", "nap", "--detach"],
                          b"3\n" * n)
        self.assertEqual(r.rc, 0, r.errtext)
        batch = r.out.decode().strip()
        self.assertRegex(batch, r"^[0-9a-f]{32}$")
        wait_for(lambda: json.loads(self.d.client(
            ["batches", "--json"]).out)[0]["done"] >= 50, timeout=60,
            what="some results")
        self.kill9()
        self.restart()
        r = self.d.client(["results", batch, "--wait"], timeout=120)
        self.assertEqual(r.rc, 0, r.errtext)
        self.assertEqual(r.out.decode().split(), ["3"] * n)
        self.assertIn(f"drover: {n} jobs, {n} ok, 0 failed", r.errtext)
        self.assertIn(f"sum {3 * n} ", r.errtext)
        b = json.loads(self.d.client(["batches", "--json"]).out)
        self.assertEqual([(x["id"], x["state"], x["done"]) for x in b],
                         [(batch, "complete", n)])


if __name__ == "__main__":
    unittest.main()
