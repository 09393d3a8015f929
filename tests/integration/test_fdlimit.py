#!/usr/bin/env python3
"""Configurations droverd must refuse, and limits it must live with.

A file with no pools (empty, no `pools` key, `pools = ();`) is an error at
start, for -t and on reload, where it changes nothing: a file caught while
it is being rewritten looks just like that (docs/droverd.8)."""
import os
import signal
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from harness import (DROVERD, Droverd, DroverTestCase, lines,  # noqa
                     sum_squares, tagged_env, tagged_pids, wait_for)

SQUARE = 'name = "square"; workers = 2; handler = "square";'
SLOW = 'name = "slow"; workers = 1; handler = "sleep";'


def no_pools_cases(sock):
    """(text, line of the error or None) for configs without pools."""
    return [("", None),
            ("# being rewritten\n", None),
            (f'socket = "{sock}";\n', None),
            (f'socket = "{sock}";\nlog_level = "info";\npools = ();\n', 3)]


def no_pools_error(path, line):
    return f"{path}{'' if line is None else f':{line}'}: no pools defined"


class TestNoPools(DroverTestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="droverd-nopools-")
        self.conf = os.path.join(self.dir, "droverd.conf")
        self.sock = os.path.join(self.dir, "droverd.sock")

    def write(self, text):
        with open(self.conf, "w") as f:
            f.write(text)

    def test_check_refuses_a_config_without_pools(self):
        for text, line in no_pools_cases(self.sock):
            with self.subTest(text=text):
                self.write(text)
                p = subprocess.run([DROVERD, "-t", "-c", self.conf],
                                   capture_output=True, text=True,
                                   timeout=30)
                self.assertEqual(p.returncode, 2, p.stdout + p.stderr)
                self.assertEqual(p.stderr.splitlines(),
                                 [no_pools_error(self.conf, line)])
                self.assertNotIn("configuration ok", p.stdout)

    def test_start_refuses_a_config_without_pools(self):
        for text, line in no_pools_cases(self.sock):
            with self.subTest(text=text):
                self.write(text)
                env = tagged_env()
                p = subprocess.run([DROVERD, "-c", self.conf],
                                   capture_output=True, text=True,
                                   timeout=30, env=env)
                self.assertEqual(p.returncode, 2, p.stderr)
                self.assertIn(no_pools_error(self.conf, line), p.stderr)
                self.assertFalse(os.path.exists(self.sock))
                self.assertEqual(tagged_pids(env["DROVER_TEST_TAG"]), [])


class TestNoPoolsReload(DroverTestCase):
    """A running droverd keeps its pools through reloads of pool-less
    files, by `drover reload` and by SIGHUP, and they still take jobs."""

    def setUp(self):
        self.d = Droverd([SQUARE, SLOW]).start()
        wait_for(lambda: all(len(p["workers"]) == p["workers_target"]
                             for p in self.d.status()["pools"]),
                 what="every worker")
        with open(self.d.conf) as f:
            self.good = f.read()

    def tearDown(self):
        self.assertEqual(self.d.stop(), 0, self.d.logtext()[-2000:])

    def snapshot(self):
        return {p["name"]: (p["state"], sorted(w["pid"] for w in
                                               p["workers"]))
                for p in self.d.status()["pools"]}

    def assert_unchanged(self, before):
        self.assertEqual(self.snapshot(), before)
        r = self.d.submit("square", lines(*range(1, 501)))
        self.assertEqual(r.rc, 0, r.errtext)
        self.assertEqual(r.summary()["sum"], str(sum_squares(500)))
        r = self.d.submit("slow", lines(1, 2, 3))
        self.assertEqual(r.summary()["ok"], 3, r.errtext)

    def test_drover_reload_refuses_and_changes_nothing(self):
        before = self.snapshot()
        for n, (text, line) in enumerate(no_pools_cases(self.d.sock), 1):
            with self.subTest(text=text):
                with open(self.d.conf, "w") as f:
                    f.write(text)
                r = self.d.client(["reload"])
                self.assertNotEqual(r.rc, 0, r.text)
                self.assertIn("reload failed", r.errtext)
                self.assertIn(no_pools_error(self.d.conf, line), r.errtext)
                self.assertEqual(self.d.status()["reloads"],
                                 {"ok": 0, "failed": n})
                self.assert_unchanged(before)
        self.assertNotIn("removed", self.d.logtext())
        # The file rewritten whole: a reload works again.
        with open(self.d.conf, "w") as f:
            f.write(self.good)
        r = self.d.client(["reload"])
        self.assertEqual(r.rc, 0, r.errtext)
        self.assert_unchanged(before)

    def test_sighup_refuses_and_changes_nothing(self):
        before = self.snapshot()
        for n, (text, line) in enumerate(no_pools_cases(self.d.sock), 1):
            with self.subTest(text=text):
                with open(self.d.conf, "w") as f:
                    f.write(text)
                self.d.signal(signal.SIGHUP)
                wait_for(lambda: self.d.status()["reloads"]["failed"] == n,
                         what="the reload to fail")
                log = self.d.logtext()
                self.assertIn("reload: " + no_pools_error(self.d.conf, line),
                              log)
                self.assertEqual(log.count("reload failed; the running "
                                           "configuration is unchanged"), n)
                self.assert_unchanged(before)
        self.assertNotIn("removed", self.d.logtext())


if __name__ == "__main__":
    unittest.main()
