#!/usr/bin/env python3
"""The clients' side of durable batches (docs/protocol.md, "Durable
batches"), against a fake droverd (fakedroverd.py) scripted per test:
`drover submit` prints the batch id, keeps what droverd has not
acknowledged (bounded), reconnects after a lost connection or a durable
BYE and resends exactly the jobs droverd does not hold, counts each result
once, and exits 3 naming the batch when it cannot get back; --detach
leaves once the END is accepted; `drover results` and `drover batches`
print what the journal holds; a batch that is not durable is as before.
Then the same through the Python client."""
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from fakedroverd import (CANCEL, END, REQUEST, FakeDroverd,  # noqa: E402
                         frame)
from harness import (DROVER, SOURCE, DroverTestCase, Result,  # noqa: E402
                     lines, observe_quiet, read_until, sum_squares,
                     tagged_env, wait_for)

sys.path.insert(0, os.path.join(SOURCE, "python"))
import drover  # noqa: E402

BATCH_RE = re.compile(r"^drover: batch ([0-9a-f]{32})$", re.M)
POOLS = {
    "square": {"durable": True},
    "plain": {},
    "big": {"durable": True, "max_job_bytes": 2 << 20},
    "lax": {"lax": True},
    "records": {"records": True},
}


class FakeCase(DroverTestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="fakedroverd-")
        self.sock = os.path.join(self.dir, "droverd.sock")
        self.fake = FakeDroverd(self.sock, {k: dict(v)
                                            for k, v in POOLS.items()})
        self.env = tagged_env({"DROVER_SOCKET": self.sock})

    def tearDown(self):
        self.fake.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def drover(self, args, stdin=b"", timeout=60):
        p = subprocess.run([DROVER] + list(args), input=stdin,
                           capture_output=True, timeout=timeout,
                           env=self.env)
        return Result(p.returncode, p.stdout, p.stderr, None)

    def submit(self, pool, n, *opts, **kw):
        return self.drover(["submit", "--pool", pool] + list(opts),
                           lines(*range(1, n + 1)), **kw)

    def start(self, args):
        return subprocess.Popen([DROVER] + list(args),
                                stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, env=self.env)

    def collect(self, p, timeout=60, err=b""):
        """Wait for p (its stdin closed already); its Result."""
        p.stdin = None
        out, rest = p.communicate(timeout=timeout)
        return Result(p.returncode, out, err + rest, None)

    def batch_of(self, res):
        """The id of the one `drover: batch ID` line."""
        ids = BATCH_RE.findall(res.errtext)
        self.assertEqual(len(ids), 1, res.errtext)
        return ids[0]

    def assertSquares(self, res, n):
        """Every square of 1..n on stdout exactly once, the exact sum in
        the summary, exit 0."""
        self.assertEqual(res.rc, 0, res.errtext)
        got = sorted(int(x) for x in res.text.split())
        self.assertEqual(got, [k * k for k in range(1, n + 1)])
        s = self.assertSummary(res, jobs=n, ok=n, failed=0)
        self.assertEqual(s["sum"], str(sum_squares(n)))
        self.assertNotIn("ignored", res.errtext)


class TestSubmit(FakeCase):
    def test_not_durable_is_unchanged(self):
        res = self.submit("plain", 1000)
        self.assertSquares(res, 1000)
        self.assertEqual(BATCH_RE.findall(res.errtext), [])
        self.assertNotIn("reconnect", res.errtext)
        (c,) = self.fake.submits()
        self.assertEqual(set(c.request),
                         {"op", "pool", "sections", "cwd", "records"})
        # It may send RECORDS (newline-ended), but this droverd's REPLY
        # did not take them, as one from before them: JOBs, one by one.
        self.assertEqual(c.request["records"], 10)
        self.assertEqual(c.job_ids, list(range(1000)))
        self.assertEqual(c.got[-1], (END, 0))

    def test_records_to_a_droverd_that_takes_them(self):
        """A REPLY with "records":true: the jobs go in RECORDS, a read's
        worth of records to a message, each job once with its id."""
        res = self.submit("records", 5000)
        self.assertSquares(res, 5000)
        (c,) = self.fake.submits()
        self.assertEqual(c.request["records"], 10)
        self.assertEqual(c.job_ids, list(range(5000)))
        self.assertGreater(c.records, 0)
        self.assertLess(c.records, 5000 // 50)   # not a message a job
        self.assertEqual(c.got[-1], (END, 0))

    def test_records_of_every_kind(self):
        """-0 names NUL as the delimiter; a last record without its
        delimiter, and one too long for a RECORDS (64 KiB), go as JOBs
        among the RECORDS; the empty record is a job too."""
        long = b" " * 70000 + b"7"     # int() takes the spaces
        items = [b"3", b"", b"4", long, b"5", b"6"]
        for delim, opts in ((b"\n", ()), (b"\0", ("-0",))):
            self.fake.conns.clear()
            data = delim.join(items)        # the last one unended
            res = self.drover(["submit", "--pool", "records", "--json"] +
                              list(opts), data)
            (c,) = self.fake.submits()
            self.assertEqual(c.request["records"], delim[0])
            self.assertEqual(c.job_ids, list(range(6)))
            self.assertGreater(c.records, 0)
            self.assertNotIn(3, c.record_ids)       # too long for one
            self.assertNotIn(5, c.record_ids)       # no delimiter
            jobs, summary = res.jobs_and_summary()
            out = {j["id"]: j.get("output") for j in jobs}
            self.assertEqual(out, {0: "9", 2: "16", 3: "49", 4: "25",
                                   5: "36", 1: None})
            self.assertEqual(summary["ok"], 5, res.errtext)
            self.assertEqual(summary["failed"], 1)

    def test_durable_says_its_batch_once(self):
        self.fake.accept_every = 7
        res = self.submit("square", 1000)
        self.assertSquares(res, 1000)
        (c,) = self.fake.submits()
        self.assertEqual(self.batch_of(res), c.batch.id)
        self.assertNotIn("batch", c.request)
        self.assertNotIn("detach", c.request)

    def test_reconnect_resends_exactly_the_unacknowledged(self):
        # Commits (ACCEPTED) every 100 jobs; dies after reading 550: it
        # holds 0..499, the client must send 500.. again, and no other.
        self.fake.accept_every = 100
        self.fake.drops = [{"after_jobs": 550}]
        res = self.submit("square", 1000)
        self.assertSquares(res, 1000)
        first, second = self.fake.submits()
        bid = self.batch_of(res)
        self.assertEqual(second.reply["next_id"], 500)
        self.assertEqual(second.job_ids, list(range(500, 1000)))
        self.assertEqual(second.got[-1], (END, 0))
        self.assertEqual(first.job_ids[:550], list(range(550)))
        req = dict(first.request, batch=bid)
        self.assertEqual(second.request, req)
        self.assertIn("drover: lost droverd (", res.errtext)
        self.assertIn("reconnecting for up to 60 s", res.errtext)
        k = int(re.search(r"reconnected; resending (\d+) jobs",
                          res.errtext).group(1))
        # At least what it read and lost; at most all it had not held.
        self.assertGreaterEqual(k, 50)
        self.assertLessEqual(k, 500)

    def test_resend_starts_at_next_id_when_accepted_was_lost(self):
        # The 50 jobs read last were committed, but their ACCEPTED never
        # went out: the REPLY's next_id says so, and they are not resent.
        self.fake.accept_every = 100
        self.fake.drops = [{"after_jobs": 550, "commit_lost": True}]
        res = self.submit("square", 1000)
        self.assertSquares(res, 1000)
        second = self.fake.submits()[1]
        self.assertEqual(second.reply["next_id"], 550)
        self.assertEqual(second.job_ids, list(range(550, 1000)))

    def test_resend_follows_the_next_id_of_the_reply(self):
        self.fake.accept_every = 100
        self.fake.drops = [{"after_jobs": 550}]
        self.fake.resume_next_id = 530
        res = self.submit("square", 1000)
        self.assertSquares(res, 1000)
        second = self.fake.submits()[1]
        self.assertEqual(second.reply["next_id"], 530)
        self.assertEqual(second.job_ids, list(range(530, 1000)))

    def test_results_sent_again_are_counted_once(self):
        # Lost after 300 results; on the resume droverd sends every
        # result again, and several times over three connections.
        self.fake.accept_every = 50
        self.fake.drops = [{"after_results": 300}, {"after_results": 700}]
        self.fake.dup_on_resume = True
        res = self.submit("square", 1000)
        self.assertSquares(res, 1000)
        self.assertEqual(len(self.fake.submits()), 3)
        self.assertEqual(res.errtext.count("reconnected; resending"), 2)

    def test_durable_bye_that_stopped_reconnects(self):
        self.fake.accept_every = 10
        self.fake.drops = [{"stop_after_jobs": 300, "stopped": "draining"}]
        res = self.submit("square", 1000)
        self.assertSquares(res, 1000)
        self.assertIn("lost droverd (droverd took no more jobs: draining)",
                      res.errtext)
        self.assertEqual(self.fake.submits()[1].job_ids,
                         list(range(300, 1000)))

    def test_refused_tries_back_off_then_succeed(self):
        self.fake.accept_every = 100
        self.fake.drops = [{"after_jobs": 550, "refuse": 3}]
        res = self.submit("square", 1000)
        self.assertSquares(res, 1000)
        # The 3 closed at once, then the one that went on.
        self.assertEqual(len(self.fake.conns), 5)
        self.assertEqual(len(self.fake.submits()), 2)

    def test_batch_complete_while_away_takes_its_results(self):
        # Every job and the END are in, then the connection drops after
        # 300 results: the batch completes without us, so droverd refuses
        # to go on with it, and the rest come from a "results" request.
        self.fake.hold()
        p = self.start(["submit", "--pool", "square"])
        p.stdin.write(lines(*range(1, 1001)))
        p.stdin.close()
        self.fake.wait(lambda: self.fake.submits() and
                       (END, 0) in self.fake.submits()[0].got,
                       what="the END")
        self.fake.submits()[0].drop = {"after_results": 300}
        self.fake.release()
        res = self.collect(p)
        self.assertSquares(res, 1000)
        ops = [(c.request or {}).get("op") for c in self.fake.conns]
        self.assertEqual(ops, ["submit", "submit", "results"])
        self.assertIn("is complete", self.fake.conns[1].reply["error"])
        self.assertEqual(self.fake.conns[2].request["batch"],
                         self.batch_of(res))

    def test_refused_resumes_are_tried_again(self):
        self.fake.accept_every = 100
        self.fake.drops = [{"after_jobs": 550}]
        self.fake.refuse_resumes = 2
        res = self.submit("square", 1000)
        self.assertSquares(res, 1000)
        resumes = [c for c in self.fake.submits() if "batch" in c.request]
        self.assertEqual([c.reply["ok"] for c in resumes],
                         [False, False, True])
        self.assertEqual(resumes[-1].job_ids, list(range(500, 1000)))

    def test_droverd_away_then_back(self):
        self.fake.accept_every = 100
        self.fake.drops = [{"after_jobs": 550, "away": True}]
        p = self.start(["submit", "--pool", "square"])
        p.stdin.write(lines(*range(1, 1001)))
        p.stdin.close()
        err = read_until(p.stderr, b"reconnecting for up to 60 s",
                         timeout=30)
        self.assertIsNone(p.poll())
        self.fake.up()
        res = self.collect(p, err=err)
        self.assertSquares(res, 1000)
        self.assertEqual(self.fake.submits()[1].job_ids,
                         list(range(500, 1000)))

    def test_signal_while_reconnecting_leaves_naming_the_batch(self):
        self.fake.accept_every = 100
        self.fake.drops = [{"after_jobs": 550, "away": True}]
        p = self.start(["submit", "--pool", "square"])
        p.stdin.write(lines(*range(1, 1001)))
        p.stdin.close()
        err = read_until(p.stderr, b"reconnecting for up to 60 s",
                         timeout=30)
        p.send_signal(signal.SIGINT)
        res = self.collect(p, err=err)
        self.assertEqual(res.rc, 1, res.errtext)
        bid = self.batch_of(res)
        self.assertIn(f"batch {bid}: interrupted while reconnecting",
                      res.errtext)
        self.assertSummary(res, jobs=1000)

    def test_halt_now_cancels_a_durable_batch(self):
        # droverd does not cancel a durable batch whose client leaves:
        # --halt now says CANCEL before it goes.
        p = self.start(["submit", "--pool", "square", "--halt",
                        "now,fail=1"])
        p.stdin.write(lines(1, 2, "x", 4))
        p.stdin.flush()         # and more to come: the batch goes on
        self.assertEqual(p.wait(timeout=30), 1)
        p.stdin.close()
        res = self.collect(p)
        self.assertIn("halted: 1 job failed", res.errtext)
        (c,) = self.fake.submits()
        self.fake.wait(lambda: c.closed, what="the connection closed")
        self.assertIn((CANCEL, 0), c.got)
        res = self.submit("plain", 3, "--halt", "now,fail=1")
        self.assertNotIn((CANCEL, 0), self.fake.submits()[-1].got)

    def test_reconnect_0_exits_3_naming_the_batch(self):
        self.fake.accept_every = 100
        self.fake.drops = [{"after_jobs": 550}]
        res = self.submit("square", 1000, "--reconnect", "0")
        self.assertEqual(res.rc, 3, res.errtext)
        bid = self.batch_of(res)
        self.assertIn(f"drover: batch {bid}: ", res.errtext)
        self.assertIn(f"drover results {bid}", res.errtext)
        self.assertIn("lost the connection to droverd", res.errtext)
        self.assertNotIn("reconnect", res.errtext)
        self.assertEqual(len(self.fake.submits()), 1)
        # Every job once, those without a result cancelled.
        s = self.assertSummary(res, jobs=1000)
        self.assertGreater(s["failed"], 0)

    def test_window_running_out_exits_3_naming_the_batch(self):
        self.fake.accept_every = 100
        self.fake.drops = [{"after_jobs": 550, "away": True}]
        t = time.monotonic()
        res = self.submit("square", 1000, "--reconnect", "1.5")
        took = time.monotonic() - t
        self.assertEqual(res.rc, 3, res.errtext)
        bid = self.batch_of(res)
        self.assertIn("reconnecting for up to 1.5 s", res.errtext)
        self.assertRegex(res.errtext, f"drover: batch {bid}: lost droverd "
                         r"\(.*\), and could not reconnect within 1.5 s")
        self.assertIn(f"see 'drover results {bid}' later", res.errtext)
        self.assertNotIn("reconnected", res.errtext)
        self.assertGreaterEqual(took, 1.5)
        self.assertLess(took, 15)
        self.assertSummary(res, jobs=1000)

    def test_taken_batch_is_not_fought_over(self):
        # Another connection takes the batch: no reconnect (that would
        # take it back, and so on).
        self.fake.hold()
        p = self.start(["submit", "--pool", "square"])
        p.stdin.write(lines(*range(1, 101)))
        p.stdin.close()
        self.fake.wait(lambda: self.fake.submits() and
                       (END, 0) in self.fake.submits()[0].got,
                       what="the END")
        bid = self.fake.submits()[0].batch.id
        with socket.socket(socket.AF_UNIX) as s:
            s.connect(self.sock)
            s.sendall(frame(REQUEST, json.dumps({
                "op": "submit", "pool": "square", "batch": bid}).encode(),
                1))
            res = self.collect(p)
        self.assertEqual(res.rc, 1, res.errtext)
        self.assertIn("another connection took the batch", res.errtext)
        self.assertIn(f"drover results {bid}", res.errtext)
        self.assertEqual(len(self.fake.submits()), 2)

    def test_unacknowledged_bytes_are_bounded(self):
        # 1 MB jobs, nothing committed: the client stops at 64 MiB held
        # (68 jobs of 1,000,016 bytes with their headers) and goes on as
        # the ACCEPTEDs come.
        job = b"7" + b" " * 999999      # 7, padded
        self.fake.hold()
        p = self.start(["submit", "--pool", "big", "--quiet"])
        t = threading.Thread(target=lambda: (p.stdin.write(
            (job + b"\n") * 100), p.stdin.close()))
        t.start()
        self.fake.wait(lambda: self.fake.jobs_read() >= 68, timeout=30,
                       what="68 jobs")
        observe_quiet(0.5, lambda: self.fake.jobs_read() == 68,
                      what="no more than 68 jobs unacknowledged")
        self.fake.release()
        t.join()
        res = self.collect(p)
        self.assertEqual(res.rc, 0, res.errtext)
        s = self.assertSummary(res, jobs=100, ok=100)
        self.assertEqual(s["sum"], "4900")
        self.assertEqual(self.fake.jobs_read(), 100)

    def test_unacknowledged_jobs_are_bounded(self):
        n = 1000100
        self.fake.hold()
        p = self.start(["submit", "--pool", "square", "--quiet"])
        t = threading.Thread(target=lambda: (p.stdin.write(
            lines(*range(1, n + 1))), p.stdin.close()))
        t.start()
        self.fake.wait(lambda: self.fake.jobs_read() >= 1000000,
                       timeout=120, what="10^6 jobs")
        observe_quiet(0.5, lambda: self.fake.jobs_read() == 1000000,
                      what="no more than 10^6 jobs unacknowledged")
        self.fake.release()
        t.join()
        res = self.collect(p, timeout=120)
        self.assertEqual(res.rc, 0, res.errtext)
        s = self.assertSummary(res, jobs=n, ok=n)
        self.assertEqual(s["sum"], str(sum_squares(n)))


class TestDetach(FakeCase):
    def test_prints_the_id_once_the_end_is_accepted(self):
        self.fake.hold()
        p = self.start(["submit", "--pool", "square", "--detach"])
        p.stdin.write(lines(*range(1, 1001)))
        p.stdin.close()
        self.fake.wait(lambda: self.fake.submits() and
                       (END, 0) in self.fake.submits()[0].got,
                       what="the END")
        (c,) = self.fake.submits()
        self.assertIs(c.request.get("detach"), True)
        observe_quiet(0.3, lambda: p.poll() is None,
                      what="no exit before the END is accepted")
        self.fake.release()
        res = self.collect(p)
        self.assertEqual(res.rc, 0, res.errtext)
        self.assertEqual(res.text, c.batch.id + "\n")
        self.assertNotIn("jobs, ", res.errtext)        # no summary
        self.assertEqual(c.job_ids, list(range(1000)))

    def test_reconnects_before_the_end(self):
        self.fake.accept_every = 100
        self.fake.drops = [{"after_jobs": 550}]
        res = self.submit("square", 1000, "--detach")
        self.assertEqual(res.rc, 0, res.errtext)
        first, second = self.fake.submits()
        self.assertEqual(res.text, first.batch.id + "\n")
        self.assertIs(second.request.get("detach"), True)
        self.assertEqual(second.request.get("batch"), first.batch.id)
        self.assertEqual(second.job_ids, list(range(500, 1000)))
        self.assertEqual(second.got[-1], (END, 0))
        self.assertTrue(second.batch.ended)

    def test_needs_a_durable_pool(self):
        res = self.submit("plain", 10, "--detach")
        self.assertEqual(res.rc, 3)
        self.assertIn("pool 'plain' is not durable", res.errtext)
        self.assertEqual(res.text, "")
        # A droverd that took it without a batch: refused here.
        res = self.submit("lax", 10, "--detach")
        self.assertEqual(res.rc, 3)
        self.assertIn("--detach needs a durable batch", res.errtext)
        self.assertEqual(res.text, "")

    def test_takes_no_result_options(self):
        for opt in (["--ordered"], ["--tag"], ["--halt", "now,fail=1"],
                    ["--joblog", os.path.join(self.dir, "jl")]):
            res = self.submit("square", 1, "--detach", *opt)
            self.assertEqual(res.rc, 2, opt)
            self.assertIn("--detach takes no results", res.errtext)


JOBS = [b"1", b"2", b"x", b"4", b"5", b"y z", b"7"]


class TestResults(FakeCase):
    def add(self, jobs=JOBS, **kw):
        return self.fake.add_batch("square", list(jobs), **kw)

    def test_text_like_submit(self):
        b = self.add()
        res = self.drover(["results", b.id])
        ref = self.drover(["submit", "--pool", "plain"],
                          b"\n".join(JOBS) + b"\n")
        self.assertEqual(res.rc, 1, res.errtext)
        self.assertEqual(sorted(res.text.split()),
                         sorted(["1", "4", "16", "25", "49"]))
        self.assertEqual(sorted(res.text.split()), sorted(ref.text.split()))
        self.assertIn("drover: job 2 failed: not an integer: 'x' "
                      "(input x)", res.errtext)
        self.assertIn("drover: job 5 failed: not an integer: 'y z' "
                      "(input 'y z')", res.errtext)
        s = self.assertSummary(res, jobs=7, ok=5, failed=2)
        self.assertEqual(s["sum"], "95")
        self.assertEqual(ref.summary()["sum"], "95")
        (c,) = [c for c in self.fake.conns if c.request["op"] == "results"]
        self.assertEqual(c.request, {
            "op": "results", "batch": b.id, "wait": False,
            "sections": ["stderr", "output", "fields", "input"]})

    def test_all_ok_exits_0(self):
        b = self.add([b"3", b"4"])
        res = self.drover(["results", b.id])
        self.assertEqual(res.rc, 0, res.errtext)
        self.assertEqual(sorted(res.text.split()), ["16", "9"])

    def test_json_like_submit(self):
        b = self.add()
        res = self.drover(["results", "--json", b.id])
        ref = self.drover(["submit", "--pool", "plain", "--json"],
                          b"\n".join(JOBS) + b"\n")
        self.assertEqual(res.rc, 1)
        jobs, summary = res.jobs_and_summary()
        rjobs, rsummary = ref.jobs_and_summary()
        self.assertEqual(sorted(jobs, key=lambda j: j["id"]),
                         sorted(rjobs, key=lambda j: j["id"]))
        self.assertEqual(jobs[2], {"id": 2, "status": "failed",
                                   "error": "not an integer: 'x'",
                                   "attempts": 1, "worker": 4242,
                                   "latency_us": 7})
        for k in ("jobs", "ok", "failed", "sum", "min", "max", "statuses"):
            self.assertEqual(summary.get(k), rsummary.get(k), k)

    def test_failed_only(self):
        b = self.add()
        res = self.drover(["results", "--failed", b.id])
        self.assertEqual(res.rc, 1)
        self.assertEqual(res.text, "")
        self.assertIn("drover: job 2 failed", res.errtext)
        self.assertSummary(res, jobs=7, ok=5, failed=2)
        res = self.drover(["results", "--failed", "--json", b.id])
        jobs, summary = res.jobs_and_summary()
        self.assertEqual([j["id"] for j in jobs], [2, 5])
        self.assertEqual((summary["jobs"], summary["failed"],
                          summary["sum"]), (7, 2, 95))

    def test_not_complete_without_wait(self):
        b = self.add(ended=False, done=3)
        res = self.drover(["results", b.id])
        self.assertEqual(res.rc, 1)
        self.assertEqual(sorted(res.text.split()), ["1", "4"])
        self.assertIn(f"batch {b.id} is open: 3 of 7 jobs have a result",
                      res.errtext)
        self.assertSummary(res, jobs=3)

    def test_wait_waits_past_the_timeout(self):
        b = self.add(ended=False, done=0)
        p = self.start(["results", "--wait", "--timeout", "0.2", b.id])
        p.stdin.close()
        self.fake.wait(lambda: any(c.reply for c in self.fake.conns),
                       what="the REPLY")
        observe_quiet(0.6, lambda: p.poll() is None,
                      what="--wait waiting past --timeout")
        self.fake.complete(b)
        res = self.collect(p)
        self.assertEqual(res.rc, 1)
        self.assertSummary(res, jobs=7, ok=5, failed=2)
        self.assertNotIn("is open", res.errtext)

    def test_a_result_sent_twice_counts_once(self):
        b = self.add()
        self.fake.results_twice = True
        res = self.drover(["results", b.id])
        self.assertEqual(len(res.text.split()), 5)
        self.assertSummary(res, jobs=7, ok=5, failed=2)
        self.assertIn("twice: ignored", res.errtext)

    def test_unknown_batch_and_no_journal(self):
        res = self.drover(["results", "0" * 32])
        self.assertEqual(res.rc, 2)
        self.assertIn(f"unknown batch '{'0' * 32}'", res.errtext)
        self.fake.no_journal = True
        res = self.drover(["results", "0" * 32])
        self.assertEqual(res.rc, 3)
        self.assertIn("no journal", res.errtext)
        res = self.drover(["batches"])
        self.assertEqual(res.rc, 3)
        self.assertIn("no journal", res.errtext)

    def test_after_detach(self):
        res = self.submit("square", 100, "--detach")
        self.assertEqual(res.rc, 0, res.errtext)
        res = self.drover(["results", "--wait", res.text.strip()])
        self.assertSquares(res, 100)


class TestBatches(FakeCase):
    def test_table_and_json(self):
        a = self.fake.add_batch("square", JOBS)
        b = self.fake.add_batch("big", [b"1", b"2"], ended=False, done=1)
        res = self.drover(["batches"])
        self.assertEqual(res.rc, 0, res.errtext)
        rows = res.text.splitlines()
        self.assertEqual(rows[0].split(), ["ID", "POOL", "STATE", "JOBS",
                                           "DONE", "FAILED", "CREATED",
                                           "COMPLETED"])

        def when(t):
            return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(t))
        self.assertEqual(rows[1].split(), [
            a.id, "square", "complete", "7", "7", "2"] +
            when(a.created).split() + when(a.completed).split())
        self.assertEqual(rows[2].split(), [
            b.id, "big", "open", "2", "1", "0"] + when(b.created).split() +
            ["-"])
        self.assertEqual(len(rows), 3)
        res = self.drover(["batches", "--json"])
        self.assertEqual(res.rc, 0)
        got = json.loads(res.text)
        c = [c for c in self.fake.conns
             if c.request == {"op": "batches"}][-1]
        self.assertEqual(got, c.reply["batches"])
        self.assertEqual([x["id"] for x in got], [a.id, b.id])


class TestPython(FakeCase):
    def setUp(self):
        super().setUp()
        self.c = drover.Client(self.sock)

    def test_submission_batch(self):
        self.fake.accept_every = 3     # many ACCEPTEDs, to be ignored
        sub = self.c.submit("square", (str(i) for i in range(1, 1001)))
        got = {r.id: int(r.output) for r in sub}
        self.assertEqual(got, {i: (i + 1) ** 2 for i in range(1000)})
        self.assertEqual(sub.summary.sum, sum_squares(1000))
        (c,) = self.fake.submits()
        self.assertEqual(sub.batch, c.batch.id)
        sub = self.c.submit("plain", ["1", "2"])
        self.assertIsNone(sub.batch)
        self.assertEqual(sub.wait().sum, 5)

    def test_results(self):
        b = self.fake.add_batch("square", JOBS)
        r = self.c.results(b.id)
        got = list(r)
        self.assertEqual(sorted(x.id for x in got), list(range(7)))
        self.assertEqual({x.id: x.status for x in got if not x.ok},
                         {2: "failed", 5: "failed"})
        self.assertEqual(got[2].error, "not an integer: 'x'")
        s = r.summary
        self.assertEqual((s.jobs, s.ok, s.failed, s.sum), (7, 5, 2, 95))
        self.assertEqual((r.batch, r.state, r.jobs, r.done),
                         (b.id, "complete", 7, 7))
        (c,) = [c for c in self.fake.conns if c.request["op"] == "results"]
        self.assertEqual(c.request, {"op": "results", "batch": b.id,
                                     "wait": False})

    def test_results_not_complete_and_wait(self):
        b = self.fake.add_batch("square", JOBS, ended=False, done=3)
        r = self.c.results(b.id)
        self.assertEqual(len(list(r)), 3)
        self.assertEqual((r.state, r.done), ("open", 3))
        r = self.c.results(b.id, wait=True)
        self.fake.wait(lambda: any(c.request.get("wait") for c in
                                   self.fake.conns if c.request),
                       what="the waiting request")
        self.fake.complete(b)
        self.assertEqual(len(list(r)), 7)
        self.assertEqual((r.state, r.summary.jobs), ("complete", 7))

    def test_results_sent_twice_count_once(self):
        b = self.fake.add_batch("square", JOBS)
        self.fake.results_twice = True
        with self.assertLogs("drover", "WARNING") as cm:
            r = self.c.results(b.id)
            ids = [x.id for x in r]
        self.assertEqual(sorted(ids), list(range(7)))
        self.assertIn("twice", cm.output[0])

    def test_batches_and_refusals(self):
        a = self.fake.add_batch("square", JOBS)
        got = self.c.batches()
        self.assertEqual([x["id"] for x in got], [a.id])
        self.assertEqual((got[0]["jobs"], got[0]["failed"],
                          got[0]["state"]), (7, 2, "complete"))
        with self.assertRaises(drover.RequestError) as cm:
            self.c.results("nope")
        self.assertEqual(cm.exception.message, "unknown batch 'nope'")
        self.fake.no_journal = True
        for call in (lambda: self.c.results(a.id), self.c.batches):
            with self.assertRaises(drover.RequestError) as cm:
                call()
            self.assertIn("no journal", cm.exception.message)

    def test_lost_durable_batch_results_later(self):
        # The Python client does not reconnect: what it did not get is
        # cancelled, and results(batch) has the rest.
        self.fake.accept_every = 100
        self.fake.drops = [{"after_jobs": 550, "commit_lost": True}]
        sub = self.c.submit("square", (str(i) for i in range(1, 1001)))
        got = {r.id: r for r in sub}
        self.assertEqual(sub.summary.stopped,
                         "lost the connection to droverd")
        self.assertEqual(len(got), 1000)
        b = self.fake.batches[sub.batch]
        self.fake.complete(b)
        later = {r.id: r for r in self.c.results(sub.batch)}
        self.assertEqual(sorted(later), list(range(550)))
        for i, r in later.items():
            self.assertEqual(int(r.output), (i + 1) ** 2)


if __name__ == "__main__":
    res = unittest.main(exit=False).result
    sys.exit(0 if res.wasSuccessful() and res.testsRun > 0 else 1)
