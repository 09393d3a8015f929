#!/usr/bin/env python3
"""Configurations droverd must refuse, and limits it must live with.

A file with no pools (empty, no `pools` key, `pools = ();`) is an error at
start, for -t and on reload, where it changes nothing: a file caught while
it is being rewritten looks just like that.  A low RLIMIT_NOFILE makes a
pool run with the workers it can have, retry the others with backoff and
grow back to its target once fds are free, under droverd and drover run
alike; only a pool that cannot start any worker fails (docs/droverd.8)."""
import os
import resource
import signal
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from harness import (DROVER, DROVERD, Droverd, DroverTestCase,  # noqa
                     Result, lines, sum_squares, tagged_env, tagged_pids,
                     wait_for)

SQUARE = 'name = "square"; workers = 2; handler = "square";'
SLOW = 'name = "slow"; workers = 1; handler = "sleep";'
FD_WARNING = "Too many open files"


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


class LimitedDroverd(Droverd):
    """A droverd whose RLIMIT_NOFILE has a soft limit below its hard one,
    so that a test can raise it later without privileges."""

    def start(self, nofile=None, hard=None):
        def limit():
            resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, hard))
        self.logf = open(self.log, "wb")
        self.proc = subprocess.Popen([DROVERD, "-c", self.conf],
                                     stdout=self.logf, stderr=self.logf,
                                     env=self.env, preexec_fn=limit)
        wait_for(lambda: os.path.exists(self.sock) or
                 self.proc.poll() is not None, what="the control socket")
        if self.proc.poll() is not None:
            raise AssertionError("droverd exited: " + self.logtext())
        return self


def settled(d, name):
    """The pool once every worker it has is ready (none starting)."""
    def check():
        p = d.pool(name)
        return p if p["workers"] and all(w["state"] == "ready"
                                         for w in p["workers"]) else None
    return wait_for(check, what=f"pool {name}'s workers")


class TestDroverdLowFdLimit(DroverTestCase):
    POOL = 'name = "sq"; workers = 20; handler = "square";'

    def test_pool_runs_with_the_workers_it_can_have(self):
        # At debug level, each retry of the missing workers is logged.
        d = Droverd([self.POOL + " restart_backoff_max = 0.2;"],
                    log_level="debug")
        d.start(nofile=40)
        try:
            p = settled(d, "sq")
            self.assertEqual(p["state"], "running")
            self.assertEqual(p["workers_target"], 20)
            self.assertGreaterEqual(len(p["workers"]), 1)
            self.assertLess(len(p["workers"]), 20)
            self.assertIn(FD_WARNING, p["shortage"])
            for _ in range(2):
                r = d.submit("sq", lines(*range(1, 2001)))
                self.assertEqual(r.rc, 0, r.errtext[-2000:])
                self.assertEqual(r.summary()["sum"], str(sum_squares(2000)),
                                 r.errtext[-2000:])
            # The missing workers are retried meanwhile, and again.
            tries = d.logtext().count("next try in")
            wait_for(lambda: d.logtext().count("next try in") >= tries + 3,
                     what="three more tries at the missing workers")
            p = d.pool("sq")
            self.assertEqual(p["state"], "running")
            self.assertLess(len(p["workers"]), 20)
            log = d.logtext()
            warnings = [ln for ln in log.splitlines() if "warning:" in ln]
            self.assertEqual(sum(FD_WARNING in ln for ln in warnings), 1,
                             log[-3000:])
            self.assertIn("running with", log)
            self.assertNotIn("failed", log)
            self.assertEqual(p["restarts"]["start"], 0)
        finally:
            self.assertEqual(d.stop(), 0, d.logtext()[-2000:])

    def test_pool_grows_back_once_fds_are_free(self):
        d = LimitedDroverd([self.POOL + " restart_backoff_max = 0.5;"])
        d.start(nofile=40, hard=4096)
        try:
            short = len(settled(d, "sq")["workers"])
            self.assertLess(short, 20)
            resource.prlimit(d.proc.pid, resource.RLIMIT_NOFILE,
                             (4096, 4096))
            wait_for(lambda: sum(w["state"] == "ready" for w in
                                 d.pool("sq")["workers"]) == 20,
                     timeout=15, what="the pool back to 20 workers")
            p = d.pool("sq")
            self.assertNotIn("shortage", p)
            self.assertEqual(p["state"], "running")
            r = d.submit("sq", lines(*range(1, 2001)))
            self.assertEqual(r.summary()["sum"], str(sum_squares(2000)))
            log = d.logtext()
            self.assertEqual(log.count(FD_WARNING), 1, log[-3000:])
            self.assertIn("sq: all 20 workers running again", log)
        finally:
            self.assertEqual(d.stop(), 0, d.logtext()[-2000:])

    def test_a_pool_with_no_worker_at_all_fails(self):
        # 14 fds: room for droverd, none for a worker (8 at its spawn).
        d = Droverd(['name = "sq"; workers = 2; handler = "square";'])
        d.start(nofile=14)
        try:
            line = wait_for(lambda: [ln for ln in d.logtext().splitlines()
                                     if "pool sq failed:" in ln],
                            what="the pool to fail")[0]
            self.assertIn("could not be spawned at start", line)
            self.assertIn(FD_WARNING, line)
            r = d.submit("sq", b"1\n")
            self.assertNotEqual(r.rc, 0)
        finally:
            self.assertEqual(d.stop(), 0, d.logtext()[-2000:])


def run_limited(args, stdin, nofile, timeout=120):
    """`drover run ARGS` under RLIMIT_NOFILE nofile (`ulimit -n`)."""
    env = tagged_env()

    def limit():
        resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))
    p = subprocess.run([DROVER, "run"] + list(args), input=stdin,
                       capture_output=True, timeout=timeout, env=env,
                       preexec_fn=limit)
    wait_for(lambda: not tagged_pids(env["DROVER_TEST_TAG"]), timeout=5,
             what="every process of the run to exit")
    return Result(p.returncode, p.stdout, p.stderr, env["DROVER_TEST_TAG"])


class TestRunLowFdLimit(DroverTestCase):
    def test_short_run_is_exact_with_fewer_workers(self):
        res = run_limited(["-w", "64", "square"], lines(*range(1, 2001)),
                          nofile=64)
        self.assertEqual(res.rc, 0, res.errtext[-2000:])
        self.assertSummary(res, jobs=2000, ok=2000, failed=0,
                           sum=str(sum_squares(2000)))
        self.assertEqual(res.errtext.count(FD_WARNING), 1, res.errtext)

    def test_long_run_keeps_its_pool(self):
        # Well past start_retries' backoff: the pool must not fail.
        res = run_limited(["-w", "64", "sleep"], lines(*([10] * 3000)),
                          nofile=64)
        self.assertEqual(res.rc, 0, res.errtext[-2000:])
        self.assertSummary(res, jobs=3000, ok=3000, failed=0, sum="30000")
        self.assertGreater(float(res.summary()["wall"]), 1.0)
        self.assertEqual(res.errtext.count(FD_WARNING), 1, res.errtext)
        self.assertNotIn("failed:", res.errtext)


if __name__ == "__main__":
    unittest.main()
