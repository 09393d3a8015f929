#!/usr/bin/env python3
"""drover run --journal FILE, end to end with real processes: a second run
skips what the first finished and prints it as stored; a SIGKILLed run
resumed prints every job exactly once with an exact sum; a changed input
runs again; another command is refused; --retry-failed; file errors.  An
--exec that appends to a marker file counts what really ran."""
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from harness import (DroverTestCase, lines, run, start,  # noqa: E402
                     sum_squares, tagged_pids, wait_for)


class JournalCase(DroverTestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="drover-journal-")
        self.db = os.path.join(self.dir, "j.db")
        self.marker = os.path.join(self.dir, "ran")

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def marked(self):
        """The inputs the marker file says ran, one per run."""
        try:
            with open(self.marker) as f:
                return [int(x) for x in f.read().split()]
        except FileNotFoundError:
            return []

    def square_exec(self, sleep=""):
        return ["--exec", f"echo {{}} >> {self.marker}; {sleep}"
                "echo $(({} * {}))"]


class TestResume(JournalCase):
    def test_second_run_runs_nothing(self):
        args = ["-w", "3", "--journal", self.db] + self.square_exec()
        first = run(args, lines(*range(1, 101)))
        self.assertEqual(first.rc, 0, first.errtext)
        self.assertEqual(sorted(self.marked()), list(range(1, 101)))
        second = run(args, lines(*range(1, 101)))
        self.assertEqual(second.rc, 0, second.errtext)
        self.assertEqual(len(self.marked()), 100, "a job ran again")
        self.assertEqual(sorted(second.text.split()),
                         sorted(first.text.split()))
        s = self.assertSummary(second, jobs=100, ok=100, failed=0)
        self.assertEqual(s["sum"], str(sum_squares(100)))

    def test_handler_ordered_output_identical(self):
        args = ["-w", "2", "--ordered", "--journal", self.db, "square"]
        first = run(args, lines(*range(1, 101)))
        second = run(args, lines(*range(1, 101)))
        self.assertEqual((first.rc, second.rc), (0, 0), second.errtext)
        self.assertEqual(second.out, first.out)
        self.assertEqual(second.summary()["sum"], "338350")

    def test_more_input_runs_only_the_new_jobs(self):
        args = ["-w", "2", "--journal", self.db] + self.square_exec()
        run(args, lines(*range(1, 51)))
        res = run(args, lines(*range(1, 101)))
        self.assertEqual(res.rc, 0, res.errtext)
        self.assertEqual(sorted(self.marked()), list(range(1, 101)))
        self.assertEqual(sorted(int(x) for x in res.text.split()),
                         [i * i for i in range(1, 101)])
        self.assertEqual(res.summary()["sum"], str(sum_squares(100)))

    def test_sigkill_midway_then_resume(self):
        n = 200
        args = ["-w", "4", "--journal", self.db] + \
            self.square_exec("sleep 0.05; ")
        p = start(args)
        p.stdin.write(lines(*range(1, n + 1)))
        p.stdin.close()
        wait_for(lambda: len(self.marked()) >= 40, timeout=30,
                 what="40 jobs to start")
        p.kill()
        p.wait(timeout=10)
        p.stdout.close()
        p.stderr.close()
        self.assertEqual(p.returncode, -signal.SIGKILL)
        # Its workers see their parent gone and leave.
        wait_for(lambda: not tagged_pids(p.tag), timeout=10,
                 what="the killed run's workers to exit")
        before = len(self.marked())
        self.assertLess(before, n, "the run finished before the kill")
        res = run(args, lines(*range(1, n + 1)))
        self.assertEqual(res.rc, 0, res.errtext)
        ran = self.marked()
        self.assertEqual(sorted(set(ran)), list(range(1, n + 1)),
                         "some job never ran")
        self.assertLess(len(ran), 2 * n - 30, "the resume ran everything")
        outs = [int(x) for x in res.text.split()]
        self.assertEqual(sorted(outs), [i * i for i in range(1, n + 1)])
        s = self.assertSummary(res, jobs=n, ok=n, failed=0)
        self.assertEqual(s["sum"], str(sum_squares(n)))

    def test_json_records_equal_as_stored(self):
        args = ["-w", "2", "--json", "--journal", self.db, "--exec",
                f"echo {{}} >> {self.marker}; echo out{{}}; "
                "echo err{} >&2; [ {} -ne 3 ]"]
        first = run(args, lines(1, 2, 3, 4, 5))
        second = run(args, lines(1, 2, 3, 4, 5))
        self.assertEqual((first.rc, second.rc), (1, 1), second.errtext)
        self.assertEqual(len(self.marked()), 5)
        jobs1, sum1 = first.jobs_and_summary()
        jobs2, sum2 = second.jobs_and_summary()
        key = lambda o: o["id"]  # noqa: E731
        self.assertEqual(sorted(jobs2, key=key), sorted(jobs1, key=key))
        failed = [o for o in jobs2 if o["status"] != "ok"]
        self.assertEqual(failed, [o for o in jobs1 if o["status"] != "ok"])
        self.assertEqual(failed[0]["stderr"], "err3\n")
        self.assertEqual(failed[0]["output"], "out3")
        for k in ("jobs", "ok", "failed", "statuses"):
            self.assertEqual(sum2[k], sum1[k], k)

    def test_changed_input_at_an_index_runs_again(self):
        args = ["-w", "2", "--journal", self.db] + self.square_exec()
        run(args, lines(1, 2, 3, 4, 5))
        res = run(args, lines(1, 2, 30, 4, 5))
        self.assertEqual(res.rc, 0, res.errtext)
        self.assertEqual(sorted(self.marked()), [1, 2, 3, 4, 5, 30])
        self.assertEqual(sorted(int(x) for x in res.text.split()),
                         [1, 4, 16, 25, 900])
        # The new result replaced the old one: a third run runs nothing.
        third = run(args, lines(1, 2, 30, 4, 5))
        self.assertEqual(len(self.marked()), 6)
        self.assertEqual(third.summary()["sum"], str(1 + 4 + 16 + 25 + 900))
        # And the old bytes at that index run again in their turn.
        run(args, lines(1, 2, 3, 4, 5))
        self.assertEqual(sorted(self.marked()), [1, 2, 3, 3, 4, 5, 30])


class TestFailed(JournalCase):
    def fail_exec(self, flag):
        return ["--exec", f"echo {{}} >> {self.marker}; "
                f"if [ {{}} -eq 2 ] && [ ! -e {flag} ]; then exit 1; fi; "
                "echo $(({} * {}))"]

    def test_failed_not_rerun_unless_retry_failed(self):
        flag = os.path.join(self.dir, "fixed")
        args = ["-w", "2", "--journal", self.db] + self.fail_exec(flag)
        first = run(args, lines(1, 2, 3))
        self.assertEqual(first.rc, 1, first.errtext)
        self.assertSummary(first, jobs=3, ok=2, failed=1)
        # Resumed: the failure is finished, printed and counted again.
        again = run(args, lines(1, 2, 3))
        self.assertEqual(again.rc, 1, again.errtext)
        self.assertEqual(len(self.marked()), 3)
        self.assertSummary(again, jobs=3, ok=2, failed=1)
        self.assertIn("job 1 failed: exit status 1", again.errtext)
        # Fixed, --retry-failed runs that one only.
        open(flag, "w").close()
        retry = run(args + ["--retry-failed"], lines(1, 2, 3))
        self.assertEqual(retry.rc, 0, retry.errtext)
        self.assertEqual(sorted(self.marked()), [1, 2, 2, 3])
        s = self.assertSummary(retry, jobs=3, ok=3, failed=0)
        self.assertEqual(s["sum"], "14")
        final = run(args, lines(1, 2, 3))
        self.assertEqual(final.rc, 0, final.errtext)
        self.assertEqual(len(self.marked()), 4)

    def test_interrupted_jobs_run_again(self):
        args = ["-w", "1", "--journal", self.db, "--shutdown-timeout",
                "10"] + self.square_exec("sleep 0.2; ")
        p = start(args)
        p.stdin.write(lines(*range(1, 21)))
        p.stdin.close()
        wait_for(lambda: len(self.marked()) >= 2, timeout=30,
                 what="two jobs to start")
        p.send_signal(signal.SIGINT)
        p.stdin = None  # closed: communicate() only reads
        out, err = p.communicate(timeout=30)
        self.assertEqual(p.returncode, 1, err.decode())
        self.assertIn(b"cancelled", err)
        done = len(out.split())
        self.assertLess(done, 20)
        res = run(args, lines(*range(1, 21)))
        self.assertEqual(res.rc, 0, res.errtext)
        self.assertEqual(sorted(set(self.marked())), list(range(1, 21)))
        self.assertEqual(len(self.marked()), 20, "a finished job ran again")
        self.assertEqual(res.summary()["sum"], str(sum_squares(20)))


class TestRefusals(JournalCase):
    def test_another_command_is_refused(self):
        run(["--journal", self.db, "square"], lines(1, 2))
        res = run(["--journal", self.db] + self.square_exec(), lines(1, 2))
        self.assertEqual(res.rc, 2, res.errtext)
        self.assertIn(self.db, res.errtext)
        self.assertIn("(drover run square)", res.errtext)
        self.assertIn("(drover run --exec 'echo {} >> ", res.errtext)
        self.assertEqual(self.marked(), [])
        self.assertEqual(res.out, b"")
        # -o options are part of the command; -w and --json are not.
        same = run(["--journal", self.db, "-w", "1", "--json", "square"],
                   lines(1, 2))
        self.assertEqual(same.rc, 0, same.errtext)

    def test_retry_failed_needs_journal(self):
        res = run(["--retry-failed", "square"], lines(1))
        self.assertEqual(res.rc, 2)
        self.assertIn("--retry-failed goes with --journal", res.errtext)

    def test_unwritable_paths(self):
        for path in ("/etc/passwd/x.db", os.path.join(self.dir, "no", "x.db")):
            res = run(["--journal", path] + self.square_exec(), lines(1, 2))
            self.assertEqual(res.rc, 3, res.errtext)
            self.assertIn(f"journal {path}: cannot open", res.errtext)
            self.assertEqual(self.marked(), [], "a job ran without journal")

    def test_garbage_file(self):
        with open(self.db, "wb") as f:
            f.write(os.urandom(8192))
        res = run(["--journal", self.db, "square"], lines(1, 2))
        self.assertEqual(res.rc, 3, res.errtext)
        self.assertIn(f"journal {self.db}: ", res.errtext)
        self.assertIn("not a database", res.errtext)

    def test_full_disk(self):
        mnt = os.path.join(self.dir, "mnt")
        os.mkdir(mnt)
        if os.geteuid() != 0 or subprocess.run(
                ["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", mnt],
                capture_output=True).returncode != 0:
            self.skipTest("cannot mount a small tmpfs")
        try:
            db = os.path.join(mnt, "j.db")
            res = run(["-w", "2", "--quiet", "--journal", db, "--exec",
                       "printf '%0500d\\n' {}"], lines(*range(1, 5001)))
            self.assertEqual(res.rc, 3, res.errtext)
            self.assertIn(f"journal {db}: cannot ", res.errtext)
            self.assertIn("disk is full", res.errtext)
            self.assertIn("not in the journal", res.errtext)
        finally:
            subprocess.run(["umount", mnt])


if __name__ == "__main__":
    unittest.main()
