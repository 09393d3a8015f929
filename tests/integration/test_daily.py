#!/usr/bin/env python3
"""drover run as a daily tool, as users of GNU parallel and xargs expect it
(drover(1)): quiet in pipelines, no line for an empty output, messages that
say "drover:", counts in the singular and plural, rates below 10 a second
with a decimal, failure lines that say why."""
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import unittest
import uuid

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
        out = p.stdout.split()		# in completion order: any square
        self.assertEqual(len(out), 1, p.stdout)
        self.assertEqual(round(int(out[0]) ** 0.5) ** 2, int(out[0]))
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
                         r"by SIGTERM before it ran \(inputs 300 \.\.\. "
                         r"300\)\n")
        self.assertNotIn("cancelled: cancelled", text)


class TestProgress(DroverTestCase):
    """The progress line in a real terminal (tmux): jobs finished of the
    total, drawn a few times a second, erased before every output line that
    goes to the same terminal."""

    def tmux(self, *args):
        return subprocess.run(["tmux", "-L", self.server] + list(args),
                              capture_output=True, timeout=10)

    def setUp(self):
        if shutil.which("tmux") is None:
            self.fail("tmux is needed for this test (.ci/packages)")
        self.server = "drover-test-" + uuid.uuid4().hex
        self.dir = tempfile.mkdtemp(prefix="drover-progress-")

    def tearDown(self):
        self.tmux("kill-server")

    def screen(self):
        return self.tmux("capture-pane", "-p", "-t", "t").stdout.decode()

    def run_in_terminal(self, cmd):
        self.tmux("-f", "/dev/null", "new-session", "-d", "-s", "t",
                  "-x", "150", "-y", "50")
        wait_for(lambda: self.tmux("has-session", "-t", "t").returncode == 0,
                 what="the tmux session")
        self.tmux("set-option", "-t", "t", "remain-on-exit", "on")
        env = tagged_env()
        self.tmux("send-keys", "-t", "t",
                  f"export DROVER_TEST_TAG={env['DROVER_TEST_TAG']}; "
                  f"{cmd}; printf 'E%sT=%s\\n' XI $?", "Enter")

    def test_progress_counts_finished_jobs_and_stays_off_the_output(self):
        path = os.path.join(self.dir, "jobs")
        with open(path, "wb") as f:
            f.write(lines(*([150] * 24)))
        self.run_in_terminal(f"{DROVER} run -w 2 -i {path} sleep")
        seen = []

        def progress_until_exit():
            text = self.screen()
            seen.extend(re.findall(r"drover: (\d+)/24 jobs \((\d+)%\), 0 "
                                   r"failed, [\d.]+ jobs/s, 0:00:\d\d "
                                   r"elapsed, ETA (?:0:00:\d\d|-)", text))
            return "EXIT=" in text
        wait_for(progress_until_exit, timeout=30, interval=0.05,
                 what="the run to end")
        text = self.screen()
        self.assertIn("EXIT=0", text)
        # While it ran, the line said how many of the 24 were finished,
        # not how much input was read (all of it, at once).
        partial = [int(d) for d, _ in seen if 0 < int(d) < 24]
        self.assertTrue(partial, seen)
        for d, pct in seen:
            self.assertEqual(int(pct), round(100 * int(d) / 24))
        # Every output line is clean: no progress text left between them.
        start = text.rindex("XI $?\n") + len("XI $?\n")
        body = [ln for ln in text[start:text.index("EXIT=")].splitlines()
                if ln]
        outs = [ln for ln in body if not ln.startswith("drover: ")]
        self.assertEqual(outs, ["150"] * 24, text)
        self.assertRegex(body[-1], r"^drover: 24 jobs, 24 ok")

    def test_total_for_a_pipe(self):
        self.run_in_terminal(f"yes 100 | head -12 | {DROVER} run -w 1 "
                             f"--total 12 sleep")
        seen = []

        def progress_until_exit():
            text = self.screen()
            seen.extend(re.findall(r"drover: (\d+)/12 jobs", text))
            return "EXIT=" in text
        wait_for(progress_until_exit, timeout=30, interval=0.05,
                 what="the run to end")
        self.assertIn("EXIT=0", self.screen())
        self.assertTrue([d for d in seen if 0 < int(d) < 12], seen)


if __name__ == "__main__":
    unittest.main()
