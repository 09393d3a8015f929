#!/usr/bin/env python3
"""Per-pool control (droverd(8), drover(1)): `drover scale POOL N`,
`drover stop POOL`, `drover start POOL`, `drover restart POOL`, under load,
with exact aggregates and every job reported once; a runtime scale or stop
lasts until a reload changes the pool's settings."""
import json
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from harness import (DroverTestCase, Droverd, lines, sum_squares,  # noqa
                     tagged_pids, wait_for)

SQUARE = 'name = "square"; workers = 2; handler = "square";'
SLOW = 'name = "slow"; workers = 2; handler = "sleep";'


class TestPoolControl(DroverTestCase):
    def setUp(self):
        self.d = Droverd([SQUARE, SLOW]).start()

    def tearDown(self):
        self.assertEqual(self.d.stop(), 0)

    def nworkers(self, pool):
        p = self.d.pool(pool)
        return len([w for w in p["workers"] if w["state"] == "ready"])

    def test_scale_one_pool_under_load(self):
        n = 300000
        p = self.d.start_submit("square", "--quiet")
        p.stdin.write(lines(*range(1, n + 1)))
        p.stdin.close()
        p.stdin = None
        r = self.d.client(["scale", "square", "4"])
        self.assertEqual(r.rc, 0, r.errtext)
        self.assertIn("pool square: 4 workers", r.text)
        wait_for(lambda: self.nworkers("square") == 4, what="4 workers")
        self.assertEqual(self.d.pool("slow")["workers_target"], 2)
        r2 = self.d.client(["scale", "square", "1"])
        self.assertEqual(r2.rc, 0, r2.errtext)
        out, err = p.communicate(timeout=120)
        self.assertEqual(p.returncode, 0, err)
        self.assertIn(f"sum {sum_squares(n)} ".encode(), err)
        wait_for(lambda: self.nworkers("square") == 1, what="1 worker")
        self.assertEqual(self.d.pool("square")["workers_target"], 1)

    def test_restart_rolls_every_worker_with_no_job_lost(self):
        old = {w["pid"] for w in self.d.pool("square")["workers"]}
        n = 300000
        p = self.d.start_submit("square", "--quiet")
        p.stdin.write(lines(*range(1, n + 1)))
        p.stdin.close()
        p.stdin = None
        r = self.d.client(["restart", "square"])
        self.assertEqual(r.rc, 0, r.errtext)
        out, err = p.communicate(timeout=120)
        self.assertEqual(p.returncode, 0, err)
        self.assertIn(f"sum {sum_squares(n)} ".encode(), err)
        wait_for(lambda: not old & {w["pid"] for w in
                                    self.d.pool("square")["workers"]} and
                 self.nworkers("square") == 2, what="new workers")

    def test_stop_refuses_submits_and_start_brings_it_back(self):
        p = self.d.start_submit("slow", "--json")
        p.stdin.write(lines(*([100] * 200)))
        p.stdin.close()
        p.stdin = None
        wait_for(lambda: self.d.pool("slow")["inflight"] > 0,
                 what="jobs running")
        r = self.d.client(["stop", "slow"])
        self.assertEqual(r.rc, 0, r.errtext)
        out, err = p.communicate(timeout=60)
        objs = [json.loads(x) for x in out.decode().splitlines()]
        jobs, summary = objs[:-1], objs[-1]["summary"]
        self.assertEqual(sorted(j["id"] for j in jobs), list(range(200)))
        self.assertEqual(summary["jobs"], 200)
        st = {j["status"] for j in jobs}
        self.assertLessEqual(st, {"ok", "cancelled"})
        self.assertEqual(summary["sum"], 100 * summary["ok"])
        wait_for(lambda: self.d.pool("slow")["state"] == "stopped",
                 what="the pool stopped")
        r = self.d.submit("slow", lines(5))
        self.assertEqual(r.rc, 3)
        self.assertIn("pool 'slow' is stopped (drover start slow)",
                      r.errtext)
        # Other pools are untouched.
        r = self.d.submit("square", lines(1, 2, 3))
        self.assertEqual(int(r.summary()["sum"]), 14)
        # A reload that changes nothing of it keeps it stopped...
        self.d.write([SQUARE.replace("workers = 2", "workers = 3"), SLOW])
        r = self.d.client(["reload"])
        self.assertEqual(r.rc, 0, r.errtext)
        self.assertEqual(self.d.pool("slow")["state"], "stopped")
        r = self.d.client(["start", "slow"])
        self.assertEqual(r.rc, 0, r.errtext)
        wait_for(lambda: self.d.pool("slow")["state"] == "running" and
                 self.nworkers("slow") == 2, what="the pool back")
        r = self.d.submit("slow", lines(5, 6))
        self.assertEqual(r.rc, 0, r.errtext)
        self.assertEqual(int(r.summary()["sum"]), 11)

    def test_a_reload_that_changes_a_stopped_pool_starts_it(self):
        r = self.d.client(["stop", "slow"])
        self.assertEqual(r.rc, 0, r.errtext)
        wait_for(lambda: self.d.pool("slow")["state"] == "stopped",
                 what="the pool stopped")
        self.d.write([SQUARE, SLOW.replace("workers = 2", "workers = 1")])
        r = self.d.client(["reload"])
        self.assertEqual(r.rc, 0, r.errtext)
        self.assertIn("pool slow: restarted (it had been stopped)", r.text)
        wait_for(lambda: self.d.pool("slow")["state"] == "running",
                 what="the pool running")
        self.assertEqual(self.d.pool("slow")["workers_target"], 1)

    def test_errors(self):
        r = self.d.client(["scale", "nope", "3"])
        self.assertEqual(r.rc, 2)
        self.assertIn("unknown pool 'nope'", r.errtext)
        r = self.d.client(["scale", "square", "0"])
        self.assertEqual(r.rc, 2)
        r = self.d.client(["scale", "square"])
        self.assertEqual(r.rc, 2)
        r = self.d.client(["start", "square"])
        self.assertEqual(r.rc, 0)
        self.assertIn("running already", r.text)
        self.d.client(["stop", "slow"])
        r = self.d.client(["scale", "slow", "3"])
        self.assertEqual(r.rc, 3)
        self.assertIn("stopped", r.errtext)



EXITS = ('name = "bad"; command = ["/bin/sh", "-c", "exit 3"]; '
         'start_retries = 1; restart_backoff = 0.01;')


class TestReloadSaysWhatStarted(DroverTestCase):
    """`drover reload` answers once the pools it added or changed are up,
    and exits 1 when one of them does not start (droverd(8), drover(1))."""

    def setUp(self):
        self.d = Droverd([SQUARE]).start()

    def tearDown(self):
        self.d.stop()

    def test_an_added_pool_is_up_when_reload_answers(self):
        self.d.write([SQUARE, 'name = "four"; workers = 4; '
                      'handler = "square";'])
        r = self.d.client(["reload"])
        self.assertEqual(r.rc, 0, r.errtext)
        self.assertIn("pool four: added", r.text)
        # No wait here: the answer came once the workers were up.
        p = self.d.pool("four")
        self.assertEqual(len([w for w in p["workers"]
                              if w["state"] == "ready"]), 4, p)

    def test_an_added_pool_that_cannot_start_fails_the_reload(self):
        self.d.write([SQUARE, EXITS])
        r = self.d.client(["reload"])
        self.assertEqual(r.rc, 1, r.text + r.errtext)
        self.assertIn("pool bad: added", r.text)
        self.assertRegex(r.errtext, r"^drover: pool bad failed to start: ")
        # Applied all the same: the pool is there, failed.
        self.assertEqual(self.d.pool("bad")["state"], "failed")
        self.assertEqual(self.d.pool("square")["state"], "running")

    def test_a_changed_pool_whose_new_workers_fail(self):
        self.d.write(['name = "square"; workers = 2; '
                      'command = ["/bin/sh", "-c", "exit 3"]; '
                      'start_retries = 1; restart_backoff = 0.01;'])
        r = self.d.client(["reload"])
        self.assertEqual(r.rc, 1, r.text + r.errtext)
        self.assertIn("pool square: ", r.text)
        self.assertRegex(r.errtext, r"^drover: pool square failed to "
                         r"start: ")

    def test_python_client_raises_pools_failed(self):
        sys.path.insert(0, os.path.join(os.environ["DROVER_SOURCE"],
                                        "python"))
        import drover
        self.d.write([SQUARE, EXITS])
        with self.assertRaises(drover.PoolsFailed) as cm:
            drover.Client(self.d.sock).reload()
        self.assertIn("pool bad failed to start", cm.exception.message)
        self.assertIn("pool bad: added", cm.exception.changes)

if __name__ == "__main__":
    unittest.main()
