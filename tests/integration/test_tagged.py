#!/usr/bin/env python3
"""Text workers and job ids (docs/protocol.md).  A line worker's results
carry no job id, so one that answers a job twice would shift every later
result onto the wrong job: by default a line worker holds one job at a
time, and a line that arrives while it holds none is a protocol error.
The tagged protocol ("ID<TAB>job" both ways) names the job in every
result: answers in any order, pipelined by the adaptive window, and a
result for an id not held, a line without a tab or a non-decimal id is a
protocol error.  Each test checks the exact sum and that every job is
reported once."""
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from harness import (DROVERD, SOURCE, TW, Droverd, DroverTestCase,  # noqa
                     lines, run, sum_squares, wait_for)

TEXTW = os.path.join(SOURCE, "tests", "workers", "textw.py")


def textw(*args):
    """The --worker command of the Python text worker with these args."""
    return " ".join(shlex.quote(a) for a in
                    [sys.executable, TEXTW] + [str(a) for a in args])


def check_every_id_once(test, jobs, n):
    test.assertEqual(sorted(j["id"] for j in jobs), list(range(n)))


def check_squares(test, res, n):
    """Every job 1..n reported once, ok, with its square: the exact sum."""
    jobs, summary = res.jobs_and_summary()
    check_every_id_once(test, jobs, n)
    for j in jobs:
        test.assertEqual(j.get("output"), str((j["id"] + 1) ** 2),
                         f"job {j}: {res.errtext[-2000:]}")
    test.assertEqual(summary["ok"], n)
    test.assertEqual(summary["sum"], sum_squares(n))
    return jobs, summary


class StatsCase(DroverTestCase):
    """A temporary directory for the workers' STATS files."""

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="drover-tagged-")
        self.stats = os.path.join(self.dir, "stats")

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def read_stats(self):
        """[(swapped, held)] of every worker that exited."""
        with open(self.stats) as f:
            out = []
            for ln in f:
                w = ln.split()
                out.append((int(w[1]), int(w[3])))
            return out


class TestLineExtraResult(StatsCase):
    """An extra result line with the default window: caught, not a wrong
    sum (with a window over 1 it would be taken as the next job's)."""

    def check_extra(self, res, n):
        self.assertEqual(res.rc, 0, res.errtext[-2000:])
        jobs, summary = check_squares(self, res, n)
        self.assertIn("protocol error: extra result line", res.errtext)
        self.assertGreaterEqual(summary["restarts"], 1)

    def test_tw_answering_job_77_twice(self):
        n = 200
        for w in ("1", "2"):
            with self.subTest(workers=w):
                res = run(["-w", w, "--json", "--worker", f"{TW} extra-on 77"],
                          lines(*range(1, n + 1)))
                self.check_extra(res, n)
                self.assertRegex(res.errtext, r"tw\[\d+\] \(pid \d+\): "
                                 r"protocol error: extra result line")

    def test_python_worker_answering_job_77_twice(self):
        n = 200
        res = run(["-w", "2", "--json", "--worker", textw("twice", 77)],
                  lines(*range(1, n + 1)))
        self.check_extra(res, n)

    def test_default_window_is_one_explicit_window_wins(self):
        # The worker records the most jobs it was ever sent before a result
        # came back: one by default, whatever the timing; more when asked.
        n = 300
        res = run(["-w", "1", "--quiet", "--worker",
                   textw("square", self.stats)], lines(*range(1, n + 1)))
        self.assertEqual(res.rc, 0, res.errtext[-2000:])
        self.assertEqual(res.summary()["sum"], str(sum_squares(n)))
        self.assertEqual(self.read_stats(), [(0, 1)])
        os.unlink(self.stats)
        res = run(["-w", "1", "--quiet", "--window", "8", "--worker",
                   textw("square", self.stats)], lines(*range(1, n + 1)))
        self.assertEqual(res.summary()["sum"], str(sum_squares(n)))
        [(_, held)] = self.read_stats()
        self.assertGreater(held, 1)
        self.assertLessEqual(held, 8)


class TestTagged(StatsCase):
    def test_libdw_worker(self):
        n = 20000
        res = run(["-w", "3", "--json", "--protocol", "tagged", "--worker",
                   f"{TW} square"], lines(*range(1, n + 1)))
        self.assertEqual(res.rc, 0, res.errtext[-2000:])
        _, summary = check_squares(self, res, n)
        self.assertEqual(summary["restarts"], 0)

    def test_out_of_order_answers_pipelined_by_default(self):
        # Each worker holds a job while the next is already read and
        # answers that one first: only possible with more than one job in
        # flight, which the default (adaptive) window gives.
        n = 5000
        res = run(["-w", "2", "--json", "--protocol", "tagged", "--worker",
                   textw("swap", self.stats)], lines(*range(1, n + 1)))
        self.assertEqual(res.rc, 0, res.errtext[-2000:])
        _, summary = check_squares(self, res, n)
        self.assertEqual(summary["restarts"], 0)
        stats = self.read_stats()
        self.assertEqual(len(stats), 2)
        self.assertGreater(sum(s for s, _ in stats), 0, stats)
        self.assertGreater(max(h for _, h in stats), 1, stats)

    def test_same_id_twice(self):
        for worker in (textw("twice", 77), f"{TW} extra-on 77"):
            with self.subTest(worker=worker):
                self.check_violation(worker, r"protocol error: result for "
                                     r"job id \d+, which is not outstanding")

    def test_unknown_id(self):
        self.check_violation(textw("unknown", 77), "protocol error: result "
                             "for job id 987654321, which is not "
                             "outstanding")

    def test_line_without_a_tab(self):
        self.check_violation(textw("notab", 77), "protocol error: result "
                             "line: no tab after the job id")

    def test_non_decimal_id(self):
        self.check_violation(textw("nondecimal", 77), "protocol error: "
                             "result line: the job id is not a decimal "
                             "number")

    def check_violation(self, worker, message):
        """The worker is killed and replaced, its jobs retried: every job
        once, the exact sum, a warning naming the worker."""
        n = 300
        for w in ("1", "2"):
            with self.subTest(workers=w):
                res = run(["-w", w, "--json", "--protocol", "tagged",
                           "--worker", worker], lines(*range(1, n + 1)))
                self.assertEqual(res.rc, 0, res.errtext[-2000:])
                _, summary = check_squares(self, res, n)
                self.assertGreaterEqual(summary["restarts"], 1)
                self.assertRegex(res.errtext, r"\[\d+\] \(pid \d+\): " +
                                 message)

    def test_failures_and_escapes(self):
        data = lines(1, "bad", "bang", 4, "not-a-number-at-all") + b"!x\n"
        res = run(["-w", "1", "--json", "--protocol", "tagged", "--worker",
                   textw("square")], data)
        self.assertEqual(res.rc, 1, res.errtext[-2000:])
        jobs, summary = res.jobs_and_summary()
        check_every_id_once(self, jobs, 6)
        by = {j["id"]: j for j in jobs}
        self.assertEqual(by[0]["output"], "1")
        self.assertEqual(by[1]["status"], "failed")
        self.assertEqual(by[1]["error"], "cannot square 'bad'")
        self.assertEqual(by[2]["status"], "ok")
        self.assertEqual(by[2]["output"], "!bang")
        self.assertEqual(by[3]["output"], "16")
        self.assertEqual(by[4]["status"], "failed")
        self.assertEqual(by[4]["error"], "not-a-number-at-all")
        self.assertEqual(by[5]["status"], "failed")
        self.assertEqual(by[5]["error"], "cannot square '!x'")
        self.assertEqual(summary["sum"], 17)
        self.assertEqual(summary["restarts"], 0)
        self.assertEqual([j["attempts"] for j in jobs], [1] * 6)

    def test_limits_as_for_line(self):
        # A job with a newline never reaches the worker; an over-long
        # result is a protocol error charged to its job.
        res = run(["-w", "1", "--json", "-0", "--protocol", "tagged",
                   "--max-result-bytes", "100", "--worker",
                   textw("long", 3)], b"1\x002\x00a\nb\x003\x004\x00")
        self.assertEqual(res.rc, 1)
        jobs, summary = res.jobs_and_summary()
        check_every_id_once(self, jobs, 5)
        by = {j["id"]: j for j in jobs}
        self.assertEqual(by[2]["status"], "rejected")
        self.assertIn("the tagged protocol cannot carry it", by[2]["error"])
        self.assertEqual(by[2]["attempts"], 0)
        self.assertEqual(by[3]["status"], "crashed")
        self.assertIn("result line over 100 bytes", by[3]["error"])
        self.assertEqual([by[i]["output"] for i in (0, 1, 4)],
                         ["1", "4", "16"])

    def test_protocol_in_environment_and_usage(self):
        # textw fails every job unless DROVER_PROTOCOL is line or tagged.
        res = run(["-w", "1", "--protocol", "tagged", "--worker",
                   textw("square")], lines(5))
        self.assertEqual(res.rc, 0, res.errtext)
        self.assertEqual(res.text, "25\n")
        res = run(["--protocol", "tagged", "square"], lines(5))
        self.assertEqual(res.rc, 2)
        self.assertIn("--protocol goes with --worker", res.errtext)
        res = run(["--protocol", "nope", "--worker", "cat"], lines(5))
        self.assertEqual(res.rc, 2)
        self.assertIn("is not line, tagged or frame", res.errtext)


class TestDaemon(StatsCase):
    def test_tagged_pool_and_default_windows(self):
        cmd = f'["{sys.executable}", "{TEXTW}", "swap", "{self.stats}"]'
        line = f'["{sys.executable}", "{TEXTW}", "square"]'
        d = Droverd([f'name = "t"; workers = 2; protocol = "tagged"; '
                     f'command = {cmd};',
                     f'name = "l"; workers = 1; command = {line};',
                     f'name = "l8"; workers = 1; window = 8; '
                     f'command = {line};']).start()
        try:
            wait_for(lambda: all(len(p["workers"]) == p["workers_target"]
                                 for p in d.status()["pools"]),
                     what="the workers")
            n = 5000
            r = d.submit("t", lines(*range(1, n + 1)), "--json")
            self.assertEqual(r.rc, 0, r.errtext + d.logtext()[-2000:])
            check_squares(self, r, n)
            pools = {p["name"]: p for p in d.status()["pools"]}
            self.assertEqual(pools["t"]["protocol"], "tagged")
            # Tagged: the window adapts (how far depends on the host's
            # speed); line: 1, fixed, unless given.
            self.assertTrue(pools["t"]["window_adaptive"])
            self.assertGreaterEqual(pools["t"]["window"], 1)
            self.assertEqual(pools["l"]["protocol"], "line")
            self.assertEqual(pools["l"]["window"], 1)
            self.assertFalse(pools["l"]["window_adaptive"])
            self.assertEqual(pools["l8"]["window"], 8)
            self.assertFalse(pools["l8"]["window_adaptive"])
            r = d.submit("l", lines(*range(1, 101)))
            self.assertEqual(r.rc, 0, r.errtext)
            self.assertEqual(r.summary()["sum"], str(sum_squares(100)))
        finally:
            self.assertEqual(d.stop(), 0, d.logtext()[-3000:])
        stats = self.read_stats()
        self.assertEqual(len(stats), 2)
        self.assertGreater(sum(s for s, _ in stats), 0, stats)

    def test_config_check(self):
        conf = os.path.join(self.dir, "d.conf")
        with open(conf, "w") as f:
            f.write('socket = "/tmp/x.sock";\npools = ( { name = "a"; '
                    'command = "/bin/cat"; protocol = "tagged"; },\n'
                    '  { name = "b"; handler = "square"; '
                    'protocol = "tagged"; },\n'
                    '  { name = "c"; command = "/bin/cat"; '
                    'protocol = "taggd"; } );\n')
        p = subprocess.run([DROVERD, "-t", "-c", conf], capture_output=True,
                           text=True, timeout=30)
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn(f"{conf}:3: pool 'b': handlers speak the frame "
                      "protocol", p.stderr)
        self.assertIn(f"{conf}:4: protocol: 'taggd' is not frame, line or "
                      "tagged", p.stderr)
        self.assertNotIn("'a'", p.stderr)


if __name__ == "__main__":
    unittest.main()
