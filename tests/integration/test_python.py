#!/usr/bin/env python3
"""The Python package (python/drover, docs/python.md) end to end, from the
source tree (PYTHONPATH=python): drover.serve() workers under drover run and
droverd (exact sums, failed jobs with the exception's message, binary-safe
jobs, stray prints kept off the result stream), and drover.Client against
a real droverd (10^5 jobs with every result once and the same summary as
drover submit, backpressure, refusals, reload errors, a drain, a lost
connection)."""
import os
import signal
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from harness import (SOURCE, Droverd, DroverTestCase, lines,  # noqa
                     observe_quiet, run, sum_squares, tagged_env, wait_for)

PYDIR = os.path.join(SOURCE, "python")
sys.path.insert(0, PYDIR)
import drover  # noqa: E402

PY = sys.executable
SQUARE = os.path.join(PYDIR, "examples", "square.py")
WORKERS = {
    # Fails every job divisible by 7, with a message that names it.
    "picky": """
import drover
def h(job):
    n = int(job)
    if n % 7 == 0:
        raise ValueError(f"{n} is a multiple of seven")
    return n * n
drover.serve(h)
""",
    # Any bytes in, their hex out; prints on the way (to stderr).
    "hexer": """
import drover, sys
def h(job):
    print("noise on stdout", job[:4])
    sys.stdout.write("more noise\\n")
    return job.hex()
drover.serve(h, description="hexer 1")
""",
    # Slow: for backpressure and drain.
    "slow": """
import drover, time
def h(job):
    time.sleep(0.01)
    return int(job)
drover.serve(h)
""",
    # Text mode, and every return type.
    "types": """
import drover
def h(job):
    kind, _, v = job.partition(" ")
    return {"int": lambda: int(v), "float": lambda: float(v),
            "str": lambda: v.upper(), "none": lambda: None,
            "bytes": lambda: v.encode()[::-1],
            "bool": lambda: True, "list": lambda: [v]}[kind]()
drover.serve(h, text=True)
""",
}


def env(extra=None):
    e = tagged_env(extra)
    e["PYTHONPATH"] = PYDIR + (os.pathsep + e["PYTHONPATH"]
                               if e.get("PYTHONPATH") else "")
    return e


class PyCase(DroverTestCase):
    @classmethod
    def setUpClass(cls):
        import tempfile
        cls.dir = tempfile.mkdtemp(prefix="pyworkers-")
        cls.w = {}
        for name, text in WORKERS.items():
            path = os.path.join(cls.dir, name + ".py")
            with open(path, "w") as f:
                f.write(text)
            cls.w[name] = f"{PY} {path}"
        cls.w["square"] = f"{PY} {SQUARE}"

    @classmethod
    def tearDownClass(cls):
        import shutil
        shutil.rmtree(cls.dir, ignore_errors=True)


class TestServe(PyCase):
    def frame(self, worker, stdin, *opts):
        return run(["--protocol", "frame", "--worker", self.w[worker]] +
                   list(opts), stdin, env=env())

    def test_seed_example_exact_sum(self):
        res = self.frame("square", lines(*range(1, 101)), "-w", "5")
        self.assertEqual(res.rc, 0, res.errtext)
        self.assertSummary(res, jobs=100, ok=100, failed=0)
        self.assertEqual(res.summary()["sum"], "338350")

    def test_many_jobs_pipelined(self):
        n = 200000
        res = self.frame("square", lines(*range(1, n + 1)), "-w", "3",
                         "--quiet")
        self.assertEqual(res.rc, 0, res.errtext)
        s = self.assertSummary(res, jobs=n, ok=n, failed=0, restarts=0)
        self.assertEqual(s["sum"], str(sum_squares(n)))

    def test_exception_fails_the_job_with_its_message(self):
        n = 100
        res = self.frame("picky", lines(*range(1, n + 1)), "-w", "2",
                         "--json")
        self.assertEqual(res.rc, 1)
        jobs, summary = res.jobs_and_summary()
        self.assertEqual(len(jobs), n)
        for j in jobs:
            k = j["id"] + 1
            if k % 7 == 0:
                self.assertEqual(j["status"], "failed", j)
                self.assertEqual(j["error"], f"{k} is a multiple of seven")
                self.assertEqual(j["attempts"], 1)
            else:
                self.assertEqual((j["status"], j["output"]),
                                 ("ok", str(k * k)))
        self.assertEqual(summary["failed"], n // 7)
        self.assertEqual(summary["restarts"], 0)
        self.assertEqual(summary["sum"], sum(k * k for k in range(1, n + 1)
                                             if k % 7))

    def test_binary_safe_and_prints_stay_off_the_stream(self):
        jobs = [b"a\nb", b"\x01\xff\t", b"", b"\r\n\r\n", bytes(range(1, 256))]
        res = self.frame("hexer", b"\0".join(jobs) + b"\0", "-0", "-w", "2",
                         "--json")
        self.assertEqual(res.rc, 0, res.errtext)
        got, summary = res.jobs_and_summary()
        self.assertEqual({j["id"]: j["output"] for j in got},
                         {i: b.hex() for i, b in enumerate(jobs)})
        self.assertEqual(summary["restarts"], 0)
        self.assertIn("noise on stdout", res.errtext)
        self.assertIn("more noise", res.errtext)

    def test_return_types(self):
        res = self.frame("types", lines("int 41", "float 0.5", "str abc",
                                        "none x", "bytes xyz", "bool 1",
                                        "list 1"), "-w", "1", "--json")
        got, summary = res.jobs_and_summary()
        by = {j["id"]: j for j in got}
        self.assertEqual([by[i].get("output") for i in range(5)],
                         ["41", "0.5", "ABC", "", "zyx"])
        self.assertIn("bool", by[5]["error"])
        self.assertIn("list", by[6]["error"])
        self.assertEqual(summary["sum"], 41.5)

    def test_wrong_protocol_is_a_permanent_error(self):
        res = run(["--worker", self.w["square"]], lines(1, 2), env=env())
        self.assertEqual(res.rc, 3)
        self.assertIn("drover.serve speaks the frame protocol, not 'line'",
                      res.errtext)
        self.assertIn("status 125", res.errtext)


class DaemonPyCase(PyCase):
    def setUp(self):
        self.d = Droverd([
            'name = "square"; workers = 2; handler = "square";',
            f'name = "py"; workers = 2; protocol = "frame"; '
            f'command = "{self.w["square"]}";',
            f'name = "picky"; workers = 2; protocol = "frame"; '
            f'command = "{self.w["picky"]}";',
            f'name = "slow"; workers = 2; protocol = "frame"; '
            f'command = "{self.w["slow"]}"; max_job_bytes = 64;',
        ], env=env())
        self.d.start()
        wait_for(lambda: all(len(p["workers"]) == 2
                             for p in self.d.status()["pools"]),
                 timeout=20, what="every pool's workers")
        self.c = drover.Client(self.d.sock)

    def tearDown(self):
        self.d.stop()
        self.d.kill()


class TestUnderDroverd(DaemonPyCase):
    def test_python_worker_pool_exact_sum(self):
        res = self.d.submit("py", lines(*range(1, 101)))
        self.assertEqual(res.rc, 0, res.errtext)
        self.assertEqual(res.summary()["sum"], "338350")
        sub = self.c.submit("picky", (str(i) for i in range(1, 101)))
        got = {r.id: r for r in sub}
        self.assertEqual(len(got), 100)
        for i, r in got.items():
            if (i + 1) % 7 == 0:
                self.assertEqual((r.status, r.error), (
                    "failed", f"{i + 1} is a multiple of seven"))
            else:
                self.assertEqual((r.status, r.output),
                                 ("ok", str((i + 1) ** 2).encode()))
        self.assertEqual(sub.summary.failed, 100 // 7)
        self.assertEqual(sub.summary.statuses, {"failed": 100 // 7})

    def test_client_1e5_jobs_every_result_and_the_summary(self):
        n = 100000
        t = time.monotonic()
        # --quiet: the reference numbers without 10^5 lines on a pipe.
        res = self.d.submit("square", lines(*range(1, n + 1)), "--quiet")
        t_cli = time.monotonic() - t
        self.assertEqual(res.rc, 0, res.errtext)
        want = res.summary()
        for pool in ("square", "py"):
            t = time.monotonic()
            sub = self.c.submit(pool, (str(i) for i in range(1, n + 1)))
            seen = set()
            for r in sub:
                self.assertNotIn(r.id, seen)
                seen.add(r.id)
                self.assertEqual(r.status, "ok", r)
                self.assertEqual(int(r.output), (r.id + 1) ** 2)
            t_py = time.monotonic() - t
            self.assertEqual(len(seen), n)
            s = sub.summary
            for k in ("jobs", "ok", "failed"):
                self.assertEqual(getattr(s, k), want[k], k)
            for k in ("sum", "min", "max"):
                self.assertEqual(str(getattr(s, k)), want[k], k)
            self.assertEqual(s.mean, float(want["mean"]))
            self.assertIsNone(s.stopped)
            print(f"\n{pool}: 10^5 jobs: drover.Client {n / t_py:.0f} "
                  f"jobs/s, drover submit (square) {n / t_cli:.0f} jobs/s",
                  file=sys.stderr)

    def test_backpressure_takes_jobs_only_as_needed(self):
        taken = [0]

        def endless():
            while True:
                taken[0] += 1
                yield b"1"
        with self.c.submit("slow", endless()) as sub:
            got = [next(sub) for _ in range(20)]
            self.assertTrue(all(r.ok for r in got))
            # What it took for 20 results is bounded by its output buffer,
            # and not reading, it takes none, whatever the generator has
            # (it has no thread of its own: nothing to wait for).
            before = taken[0]
            self.assertLess(before, 600000)
            observe_quiet(0.5, lambda: taken[0] == before,
                          what="no job taken while no result is read")
        # Hung up: droverd cancels the queue and forgets the client.
        wait_for(lambda: self.d.status()["clients"] == 0 and
                 self.d.pool("slow")["queued"] == 0, timeout=20,
                 what="the client's queue cancelled")

    def test_rejected_locally_and_cancel_before_sending(self):
        sub = self.c.submit("slow", [b"x" * 65, b"2"] + [b"3"] * 2000)
        first = next(sub)
        self.assertEqual((first.id, first.status), (0, "rejected"))
        self.assertIn("65 bytes, over the pool's max_job_bytes", first.error)
        # Nothing was written yet: every job is taken back at once.
        sub.cancel()
        rest = list(sub)
        self.assertEqual(sorted(r.id for r in rest), list(range(1, 2002)))
        self.assertEqual({(r.status, r.error) for r in rest},
                         {("cancelled", "cancelled before it was sent")})
        s = sub.summary
        self.assertEqual((s.jobs, s.statuses), (2002, {
            "rejected": 1, "cancelled": 2001}))
        self.assertEqual(s.stopped,
                         "droverd took no more jobs: cancelled by the client")

    def test_cancel_in_flight(self):
        sub = self.c.submit("slow", [b"3"] * 600)
        got = [next(sub) for _ in range(4)]
        sub.cancel()
        got += list(sub)
        self.assertEqual(sorted(r.id for r in got), list(range(600)))
        st = [r.status for r in got]
        self.assertLessEqual(set(st), {"ok", "cancelled"})
        self.assertGreater(st.count("cancelled"), 400)
        self.assertIn("cancelled", sub.summary.stopped)

    def test_refusals_and_errors_carry_droverds_message(self):
        with self.assertRaises(drover.RequestError) as cm:
            self.c.submit("nope", [b"1"])
        self.assertEqual(cm.exception.message, "unknown pool 'nope'")
        with self.assertRaises(drover.ConnectError):
            drover.Client(self.d.sock + ".absent").status()
        st = self.c.status()
        self.assertEqual(sorted(p["name"] for p in st["pools"]),
                         ["picky", "py", "slow", "square"])
        self.assertEqual(self.c.reload(), "")
        with open(self.d.conf, "a") as f:
            f.write("bogus = ;\n")
        with self.assertRaises(drover.ReloadError) as cm:
            self.c.reload()
        self.assertIn(self.d.conf + ":", cm.exception.message)
        # Durable batches need a droverd that has them (this one has no
        # journal): its refusal, in its words (test_durable_client.py has
        # the rest).
        for call in (lambda: self.c.results("b1"), self.c.batches):
            with self.assertRaises(drover.RequestError) as cm:
                call()
            self.assertNotIsInstance(cm.exception, drover.Unsupported)
            self.assertTrue(cm.exception.message)
        sub = self.c.submit("square", ["3"])
        self.assertIsNone(sub.batch)
        self.assertEqual(sub.wait().sum, 9)

    def test_drain_reports_every_job_once(self):
        n = 3000

        def jobs():
            for i in range(n):
                if i == 200:
                    self.d.signal(signal.SIGTERM)
                yield str(i)
        sub = self.c.submit("slow", jobs())
        ids = [r.id for r in sub]
        self.assertEqual(len(ids), len(set(ids)))
        s = sub.summary
        self.assertEqual(s.jobs, len(ids))
        self.assertGreaterEqual(s.jobs, 200)
        self.assertLess(s.ok, n)
        self.assertIn("droverd took no more jobs", s.stopped)
        self.assertEqual(self.d.proc.wait(timeout=30), 0)

    def test_lost_connection_cancels_what_has_no_result(self):
        sub = self.c.submit("slow", (b"1" for _ in range(5000)))
        first = next(sub)
        self.assertTrue(first.ok)
        self.d.proc.kill()
        rest = list(sub)
        ids = [first.id] + [r.id for r in rest]
        self.assertEqual(len(ids), len(set(ids)))
        lost = [r for r in rest if r.status == "cancelled"]
        self.assertTrue(lost)
        self.assertTrue(all(r.error == "lost the connection to droverd"
                            for r in lost))
        self.assertEqual(sub.summary.stopped,
                         "lost the connection to droverd")
        self.assertEqual(sub.summary.jobs, len(ids))


if __name__ == "__main__":
    res = unittest.main(exit=False).result
    # Not one test run is a failure, not a pass.
    sys.exit(0 if res.wasSuccessful() and res.testsRun > 0 else 1)
