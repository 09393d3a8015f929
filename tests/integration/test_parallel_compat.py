#!/usr/bin/env python3
"""drover run and drover submit as comfortable as GNU parallel (drover(1),
docs/parallel.md): --joblog rows field by field, --halt now/soon on
fail=N, fail=P% and success=N with every job still reported once, --tag,
failure lines folded in either direction, and the warning about a line
worker whose output sits in its buffer.  Waiting is by polling."""
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from harness import (DROVER, DroverTestCase, Droverd, lines, run,  # noqa
                     tagged_env, tagged_pids, wait_for)

HEADER = ["Seq", "Host", "Starttime", "JobRuntime", "Send", "Receive",
          "Exitval", "Signal", "Command"]

# A line worker that holds its answers in a 64 KiB buffer whatever
# PYTHONUNBUFFERED says: it answers only when its stdin ends.
BUFFERED_PY = (
    "import io, sys\n"
    "sys.stdout = io.TextIOWrapper(open(sys.stdout.fileno(), 'wb', "
    "buffering=65536, closefd=False), line_buffering=False)\n"
    "for line in sys.stdin:\n"
    "    print(line.strip() + '!')\n")


def read_joblog(test, path):
    """The rows of a --joblog file as dicts, the header checked."""
    with open(path) as f:
        text = f.read()
    rows = text.split("\n")
    test.assertEqual(rows[-1], "", "the log ends with a newline")
    test.assertEqual(rows[0].split("\t"), HEADER)
    out = []
    for r in rows[1:-1]:
        fields = r.split("\t")
        test.assertEqual(len(fields), 9, r)
        out.append(dict(zip(HEADER, fields)))
    return out


def check_times(test, row, t0, t1):
    """Starttime and JobRuntime: 3 decimals, within the run."""
    for k in ("Starttime", "JobRuntime"):
        test.assertRegex(row[k], r"^\d+\.\d{3}$", k)
    start, rt = float(row["Starttime"]), float(row["JobRuntime"])
    test.assertGreaterEqual(start, t0 - 0.01)
    test.assertLessEqual(start + rt, t1 + 0.01)


def json_jobs(res):
    jobs = [json.loads(x) for x in res.text.splitlines()]
    return [j for j in jobs if "summary" not in j]


class TestJoblogRun(DroverTestCase):
    def test_rows_field_by_field(self):
        # Exit statuses 0..4 (0 prints "x0"), and a job killed on timeout.
        inputs = ["0", "1", "2", "3", "4", "sleep"]
        with tempfile.TemporaryDirectory() as d:
            log = os.path.join(d, "jobs.log")
            t0 = time.time()
            res = run(["-w", "3", "--timeout", "2", "--joblog", log,
                       "--exec", 'if [ {} = sleep ]; then sleep 30; fi; '
                       'test {} = 0 && echo x{}; exit {}'],
                      lines(*inputs))
            t1 = time.time()
            rows = read_joblog(self, log)
        self.assertEqual(res.rc, 1, res.errtext)
        self.assertEqual(sorted(int(r["Seq"]) for r in rows),
                         list(range(1, len(inputs) + 1)))
        for r in rows:
            inp = inputs[int(r["Seq"]) - 1]
            self.assertEqual(r["Host"], ":")
            self.assertEqual(r["Command"], inp)
            self.assertEqual(int(r["Send"]), len(inp))
            check_times(self, r, t0, t1)
            if inp == "sleep":
                self.assertEqual((r["Exitval"], r["Signal"]), ("-1", "9"))
                self.assertEqual(r["Receive"], "0")
                self.assertGreaterEqual(float(r["JobRuntime"]), 1.9)
            elif inp == "0":
                self.assertEqual((r["Exitval"], r["Signal"]), ("0", "0"))
                self.assertEqual(r["Receive"], str(len("x0")))
            else:
                self.assertEqual((r["Exitval"], r["Signal"]), (inp, "0"))
                self.assertEqual(r["Receive"], "0")

    def test_every_job_one_row_in_finishing_order(self):
        n = 500
        with tempfile.TemporaryDirectory() as d:
            log = os.path.join(d, "jobs.log")
            res = run(["-w", "2", "--quiet", "--joblog", log, "square"],
                      lines(*range(1, n + 1)))
            rows = read_joblog(self, log)
        self.assertEqual(res.rc, 0, res.errtext)
        self.assertEqual(sorted(int(r["Seq"]) for r in rows),
                         list(range(1, n + 1)))
        for r in rows:
            v = int(r["Command"])
            self.assertEqual(v, int(r["Seq"]))
            self.assertEqual(r["Receive"], str(len(str(v * v))))
            self.assertEqual(r["Exitval"], "0")

    def test_unwritable_joblog_is_a_usage_error(self):
        res = run(["--joblog", "/nonexistent/dir/log", "square"], b"1\n")
        self.assertEqual(res.rc, 2)
        self.assertIn("--joblog", res.errtext)


class TestHaltRun(DroverTestCase):
    def assertEachOnce(self, res, n):
        jobs = json_jobs(res)
        self.assertEqual(sorted(j["id"] for j in jobs), list(range(n)))
        return jobs

    def test_soon_fail_n(self):
        n = 50
        res = run(["-w", "1", "--window", "1", "--json", "--halt",
                   "soon,fail=2", "--exec", "exit 1"], lines(*range(n)))
        self.assertEqual(res.rc, 1, res.errtext)
        self.assertIn("halted: 2 jobs failed", res.errtext)
        jobs = self.assertEachOnce(res, n)
        failed = [j for j in jobs if j["status"] == "failed"]
        cancelled = [j for j in jobs if j["status"] == "cancelled"]
        self.assertEqual(len(failed), 2)
        self.assertEqual(len(cancelled), n - 2)
        for j in cancelled:
            self.assertEqual(j["error"], "halted: 2 jobs failed")

    def test_soon_fail_n_text_folds_the_cancelled(self):
        res = run(["-w", "1", "--window", "1", "--halt", "soon,fail=1",
                   "--exec", "exit 1"], lines(*range(20)))
        self.assertEqual(res.rc, 1, res.errtext)
        self.assertIn("drover: job 0 failed: exit status 1 (input 0)\n",
                      res.errtext)
        self.assertIn("drover: jobs 1-19 cancelled: halted: 1 job failed "
                      "(inputs 1 ... 19)\n", res.errtext)

    def test_now_kills_the_running(self):
        # Job 0 fails at once; job 1 would sleep 60 s: now kills it.
        t0 = time.monotonic()
        res = run(["-w", "2", "--window", "1", "--json", "--halt",
                   "now,fail=1", "--exec", "sleep {}; exit 1"],
                  lines(0, 60, 60, 60))
        self.assertLess(time.monotonic() - t0, 30)
        self.assertEqual(res.rc, 1, res.errtext)
        jobs = self.assertEachOnce(res, 4)
        by = {j["id"]: j for j in jobs}
        self.assertEqual(by[0]["status"], "failed")
        for i in (1, 2, 3):
            self.assertEqual(by[i]["status"], "cancelled", by[i])
            self.assertEqual(by[i]["error"], "halted: 1 job failed")

    def test_fail_percent_of_the_known_total(self):
        # 10 jobs in a regular file: 30% is 3 failures (as GNU parallel).
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "in")
            with open(path, "wb") as f:
                f.write(lines(0, 0, 0, 0, 1, 1, 1, 1, 1, 1))
            res = run(["-w", "1", "--window", "1", "--json", "-i", path,
                       "--halt", "soon,fail=30%", "--exec", "exit {}"])
        self.assertEqual(res.rc, 1, res.errtext)
        jobs = self.assertEachOnce(res, 10)
        st = [j["status"] for j in sorted(jobs, key=lambda j: j["id"])]
        self.assertEqual(st, ["ok"] * 4 + ["failed"] * 3 +
                         ["cancelled"] * 3)
        self.assertIn("halted: 3 jobs failed", res.errtext)

    def test_fail_percent_of_those_finished(self):
        # From a pipe the total is not known: 2 of 6 finished is 33%.
        res = run(["-w", "1", "--window", "1", "--json", "--halt",
                   "soon,fail=30%", "--exec", "exit {}"],
                  lines(0, 0, 0, 0, 1, 1, 1, 1, 1, 1))
        self.assertEqual(res.rc, 1, res.errtext)
        jobs = self.assertEachOnce(res, 10)
        st = [j["status"] for j in sorted(jobs, key=lambda j: j["id"])]
        self.assertEqual(st, ["ok"] * 4 + ["failed"] * 2 +
                         ["cancelled"] * 4)
        self.assertIn("halted: 2 jobs failed", res.errtext)

    def test_soon_success_n_exits_0(self):
        res = run(["-w", "1", "--window", "1", "--json", "--halt",
                   "soon,success=2", "--exec", "echo {}"], lines(*range(9)))
        self.assertEqual(res.rc, 0, res.errtext)
        jobs = self.assertEachOnce(res, 9)
        st = [j["status"] for j in sorted(jobs, key=lambda j: j["id"])]
        self.assertEqual(st, ["ok"] * 2 + ["cancelled"] * 7)
        self.assertIn("halted: 2 jobs succeeded", res.errtext)

    def test_bad_halt_is_a_usage_error(self):
        for bad in ("later,fail=1", "now,fail=0", "now,fail=x", "soon,",
                    "now,fail=101%", "now,oops=1"):
            res = run(["--halt", bad, "square"], b"1\n")
            self.assertEqual(res.rc, 2, bad)
            self.assertIn("--halt", res.errtext)


class TestTagAndFolding(DroverTestCase):
    def test_failed_command_stdout_and_input(self):
        # A failed command's stdout is printed like any output (in input
        # order with --ordered), and its line names the job's input, with
        # or without stderr.
        res = run(["-w", "2", "--ordered", "--exec",
                   "echo out-{}; if [ {} = 2 ]; then exit 4; fi; "
                   "if [ {} = 3 ]; then echo oops >&2; exit 5; fi"],
                  lines(1, 2, 3, 4))
        self.assertEqual(res.rc, 1, res.errtext)
        self.assertEqual(res.text, "out-1\nout-2\nout-3\nout-4\n")
        self.assertIn("drover: job 1 failed: exit status 4 (input 2)\n",
                      res.errtext)
        self.assertIn("drover: job 2 failed: exit status 5 (input 3): "
                      "oops\n", res.errtext)

    def test_failure_line_input_quoted_and_cut(self):
        long = "y" * 100
        res = run(["--exec", "exit 1"], lines("it's", long))
        self.assertEqual(res.rc, 1, res.errtext)
        self.assertIn("drover: jobs 0-1 failed: exit status 1 (inputs "
                      "'it'\\''s' ... " + "y" * 60 + "...)\n", res.errtext)

    def test_tag(self):
        res = run(["-w", "2", "--ordered", "--tag", "--exec", "echo o{}"],
                  lines("a", "b c", "d"))
        self.assertEqual(res.rc, 0, res.errtext)
        self.assertEqual(res.text, "a\toa\nb c\tob c\nd\tod\n")

    def test_tag_every_line_of_a_multiline_output(self):
        res = run(["-w", "1", "--tag", "--exec", "printf '1\\n2\\n'; : {}"],
                  lines("x"))
        self.assertEqual(res.rc, 0, res.errtext)
        self.assertEqual(res.text, "x\t1\nx\t2\n")

    def test_failures_folded_in_decreasing_order(self):
        # Job i sleeps (3 - i) * 0.2 s: they fail in the order 3, 2, 1, 0,
        # each in a loop turn of its own, within the second a run waits.
        res = run(["-w", "4", "--window", "1", "--exec",
                   "n={}; sleep 0.$((2 * (3 - n))); exit 3"],
                  lines(0, 1, 2, 3))
        self.assertEqual(res.rc, 1, res.errtext)
        fails = [x for x in res.errtext.splitlines() if " failed: " in x]
        # The run names the inputs of its first and last jobs.
        self.assertEqual(fails, ["drover: jobs 0-3 failed: exit status 3 "
                                 "(inputs 0 ... 3)"], res.errtext)

    def test_reason_equal_to_status_left_out(self):
        res = run(["-w", "1", "--worker",
                   "sh -c 'while read l; do echo !failed; done'"],
                  lines(1, 2, 3))
        self.assertEqual(res.rc, 1, res.errtext)
        self.assertIn("drover: jobs 0-2 failed (inputs 1 ... 3)\n",
                      res.errtext)
        self.assertNotIn("failed: failed", res.errtext)


class TestBufferedWorker(DroverTestCase):
    def test_warns_once_naming_the_worker(self):
        env = tagged_env()
        env.pop("PYTHONUNBUFFERED", None)
        with tempfile.TemporaryDirectory() as d:
            prog = os.path.join(d, "buffered.py")
            with open(prog, "w") as f:
                f.write(BUFFERED_PY)
            errpath = os.path.join(d, "err")
            with open(errpath, "wb") as errf:
                p = subprocess.Popen(
                    [DROVER, "run", "-w", "1", "--shutdown-timeout", "0",
                     "--worker",
                     f"{sys.executable} {prog}"], stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE, stderr=errf, env=env)
                p.stdin.write(b"a\n")
                p.stdin.flush()

                def warned():
                    with open(errpath, "rb") as f:
                        t = f.read().decode()
                    return "probably buffered" in t and t
                try:
                    wait_for(warned, timeout=20,
                             what="the buffered-output warning")
                    pids = [pid for pid in tagged_pids(env["DROVER_TEST_TAG"])
                            if pid != p.pid]
                finally:
                    # It would wait for ever (the answer is in its buffer
                    # and it waits for more input): stop the run.
                    p.stdin.close()
                    p.send_signal(signal.SIGTERM)
                out = p.stdout.read()
                p.stdout.close()
                rc = p.wait(timeout=30)
            with open(errpath, "rb") as f:
                text = f.read().decode()
        # Stopping closes its stdin first: it may still flush and answer.
        self.assertTrue(out == b"a!\n" or "drover: job 0 cancelled" in text,
                        text)
        self.assertIn(rc, (0, 1), text)
        warn = [x for x in text.splitlines() if "probably buffered" in x]
        self.assertEqual(len(warn), 1, text)
        self.assertEqual(len(pids), 1, pids)
        self.assertRegex(warn[0], rf"^drover: python[\d.]*\[1\] \(pid "
                         rf"{pids[0]}\): ")
        self.assertIn("flush", warn[0])


FAIL = 'name = "fail"; workers = 1; window = 1; exec = "false {}";'
SQUARE = 'name = "square"; workers = 2; handler = "square";'


class TestSubmit(DroverTestCase):
    @classmethod
    def setUpClass(cls):
        cls.d = Droverd([FAIL, SQUARE])
        cls.d.start()
        wait_for(lambda: all(len(p["workers"]) == p["workers_target"]
                             for p in cls.d.status()["pools"]),
                 what="the workers")

    @classmethod
    def tearDownClass(cls):
        rc = cls.d.stop()
        assert rc == 0, cls.d.logtext()[-3000:]

    def test_joblog_and_tag(self):
        n = 300
        with tempfile.TemporaryDirectory() as d:
            log = os.path.join(d, "jobs.log")
            t0 = time.time()
            r = self.d.submit("square", lines(*range(1, n + 1)), "--tag",
                              "--joblog", log)
            t1 = time.time()
            rows = read_joblog(self, log)
        self.assertEqual(r.rc, 0, r.errtext)
        got = sorted(tuple(x.split("\t")) for x in r.text.splitlines())
        self.assertEqual(got, sorted((str(i), str(i * i))
                                     for i in range(1, n + 1)))
        self.assertEqual(sorted(int(x["Seq"]) for x in rows),
                         list(range(1, n + 1)))
        for x in rows:
            v = int(x["Seq"])
            self.assertEqual(x["Command"], str(v))
            self.assertEqual(x["Host"], ":")
            self.assertEqual(x["Send"], str(len(str(v))))
            self.assertEqual(x["Receive"], str(len(str(v * v))))
            self.assertEqual((x["Exitval"], x["Signal"]), ("0", "0"))
            check_times(self, x, t0, t1)

    def test_halt_soon_fail_n(self):
        n = 40
        r = self.d.submit("fail", lines(*range(n)), "--json", "--halt",
                          "soon,fail=2")
        self.assertEqual(r.rc, 1, r.errtext)
        jobs = json_jobs(r)
        self.assertEqual(sorted(j["id"] for j in jobs), list(range(n)))
        failed = [j for j in jobs if j["status"] == "failed"]
        cancelled = [j for j in jobs if j["status"] == "cancelled"]
        self.assertGreaterEqual(len(failed), 2)
        self.assertEqual(len(failed) + len(cancelled), n)
        self.assertGreater(len(cancelled), 0)
        for j in cancelled:
            self.assertEqual(j["error"], "halted: 2 jobs failed")
        self.assertIn("halted: 2 jobs failed", r.errtext)

    def test_halt_now_success(self):
        n = 40
        r = self.d.submit("square", lines(*range(1, n + 1)), "--json",
                          "--halt", "now,success=1")
        self.assertEqual(r.rc, 0, r.errtext)
        jobs = json_jobs(r)
        self.assertEqual(sorted(j["id"] for j in jobs), list(range(n)))
        for j in jobs:
            if j["status"] != "ok":
                self.assertEqual(j["status"], "cancelled")
                self.assertEqual(j["error"], "halted: 1 job succeeded")
        self.assertIn("halted: 1 job succeeded", r.errtext)


if __name__ == "__main__":
    unittest.main()
