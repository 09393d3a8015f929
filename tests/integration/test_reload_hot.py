#!/usr/bin/env python3
"""Hot settings reach running workers at once (droverd.conf(5), RELOAD).

A hot change applies to the settings of every worker, the old workers of a
rolling replacement included, and runs its step: a new job_timeout re-arms
the timer of a job that is already running.  Each test holds a 20 s job
and shows that a reload ends it in about a second."""

import json
import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import DroverTestCase, Droverd, lines, wait_for  # noqa: E402


def pool_text(timeout, extra=""):
    return (f'name = "s"; handler = "sleep"; workers = 1; '
            f'job_timeout = {timeout}; stop_timeout = 30; {extra}')


class TestHotTimeout(DroverTestCase):
    def setUp(self):
        self.d = Droverd([pool_text(0)]).start()

    def tearDown(self):
        self.d.stop()

    def reload(self, timeout, extra=""):
        self.d.write([pool_text(timeout, extra)])
        r = self.d.client(["reload"])
        self.assertEqual(r.rc, 0, r.errtext)
        return r

    def hold_job(self):
        """A 20 s job, in flight on the pool's one worker."""
        p = self.d.start_submit("s", "--json")
        p.stdin.write(lines(20000))
        p.stdin.close()
        wait_for(lambda: self.d.pool("s")["inflight"] == 1,
                 what="the job in flight")
        return p

    def finish(self, p, t0):
        out = p.stdout.read()
        err = p.stderr.read()
        p.wait(timeout=30)
        p.stdout.close()
        p.stderr.close()
        rec = json.loads(out.decode().splitlines()[0])
        return rec, time.monotonic() - t0, err.decode()

    def test_running_job_takes_a_new_timeout(self):
        p = self.hold_job()
        t0 = time.monotonic()
        self.reload(1)
        rec, took, err = self.finish(p, t0)
        self.assertEqual(rec["status"], "timeout", err)
        self.assertLess(took, 10, "the running job kept the old timeout")

    def test_old_worker_of_a_rolling_replacement_too(self):
        p = self.hold_job()
        # A change that needs new workers: the old one keeps its job and
        # its settings until the job is done...
        r = self.reload(0, 'max_result_bytes = 65536;')
        self.assertIn("replacing workers", r.text)
        # ...and a hot change that comes meanwhile reaches it as well.
        t0 = time.monotonic()
        self.reload(1, 'max_result_bytes = 65536;')
        rec, took, err = self.finish(p, t0)
        self.assertEqual(rec["status"], "timeout", err)
        self.assertLess(took, 10, "the old worker kept its old timeout")


if __name__ == "__main__":
    unittest.main()
