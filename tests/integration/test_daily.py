#!/usr/bin/env python3
"""drover run as a daily tool, as users of GNU parallel and xargs expect it
(drover(1)): quiet in pipelines, no line for an empty output, messages that
say "drover:", counts in the singular and plural, rates below 10 a second
with a decimal, failure lines that say why."""
import os
import signal
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from harness import (DROVER, DroverTestCase, lines, run, start,  # noqa
                     tagged_env, tagged_pids, wait_for)


class TestPipelines(DroverTestCase):
    def test_head_closes_the_pipe_quietly(self):
        env = tagged_env()
        p = subprocess.run(
            ["bash", "-c", f"seq 1000000 | {DROVER} run -w 2 square | "
             "head -1; echo \"rc=${PIPESTATUS[1]}\" >&2"],
            capture_output=True, env=env, timeout=60)
        self.assertEqual(p.stdout, b"1\n")
        # Nothing but the exit status: no "Broken pipe", no cancellation
        # lines, no summary; and died of SIGPIPE, as a filter does.
        self.assertEqual(p.stderr, b"rc=141\n")
        wait_for(lambda: not tagged_pids(env["DROVER_TEST_TAG"]),
                 timeout=5, what="no worker left")

    def test_empty_output_prints_no_line(self):
        res = run(["-w", "2", "--exec", "true {}"], lines(*range(1, 21)))
        self.assertEqual(res.out, b"")
        self.assertEqual(res.summary()["ok"], 20)
        res = run(["-w", "2", "--exec", "printf ''"], lines(1, 2, 3))
        self.assertEqual(res.out, b"")
        # --json still has a record per job.
        res = run(["-w", "2", "--json", "--exec", "true {}"], lines(1, 2))
        jobs, summary = res.jobs_and_summary()
        self.assertEqual(sorted(j["output"] for j in jobs), ["", ""])


class TestMessages(DroverTestCase):
    def test_option_errors_say_drover(self):
        for cmd in ("run", "submit", "status", "reload"):
            p = subprocess.run([DROVER, cmd, "--no-such-option"],
                               capture_output=True, timeout=10)
            self.assertEqual(p.returncode, 2, p.stderr)
            first = p.stderr.splitlines()[0]
            self.assertTrue(first.startswith(b"drover: "), first)

    def test_singular_and_plural(self):
        res = run(["-w", "1", "square"], lines(3))
        self.assertIn("drover: 1 job, 1 ok, 0 failed", res.errtext)
        res = run(["-w", "1", "square"], lines(3, 4))
        self.assertIn("drover: 2 jobs, 2 ok", res.errtext)

    def test_slow_rates_have_a_decimal(self):
        res = run(["-w", "1", "sleep"], lines(300))
        self.assertRegex(res.errtext, r"\(\d\.\d jobs/s\)")
        self.assertEqual(res.summary()["jobs"], 1)

    def test_cancelled_jobs_say_why(self):
        p = start(["-w", "1", "sleep"])
        p.stdin.write(lines(*([300] * 30)))
        p.stdin.flush()
        wait_for(lambda: len(tagged_pids(p.tag)) >= 2, what="the worker")
        p.send_signal(signal.SIGTERM)
        out, err = p.communicate(timeout=30)
        self.assertEqual(p.returncode, 1)
        text = err.decode()
        self.assertRegex(text, r"drover: jobs \d+-29 cancelled: interrupted "
                         r"by SIGTERM before it ran\n")
        self.assertNotIn("cancelled: cancelled", text)


if __name__ == "__main__":
    unittest.main()
