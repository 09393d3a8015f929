#!/usr/bin/env python3
"""Dynamic pools (droverd.conf(5), max_workers): a pool of min_workers that
grows by one while jobs wait and every worker is busy, up to max_workers,
and retires workers that idle for idle_timeout, back to min_workers; every
job reported once with an exact aggregate throughout."""

import os
import sys
import threading
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (DroverTestCase, Droverd, conf_check,  # noqa: E402
                     lines, sum_squares, wait_for)

DYN = ('name = "dyn"; handler = "sleep"; min_workers = 1; '
       'max_workers = 4; idle_timeout = 0.5; spawn_rate = 100; '
       'window = 1;')
POOLS = 'socket = "/tmp/x.sock";\npools = (\n  { %s }\n);\n'
SQUARE = ('name = "sq"; handler = "square"; min_workers = 2; '
          'max_workers = 3;')


class TestDynamicPool(DroverTestCase):
    def setUp(self):
        self.d = Droverd([DYN, SQUARE]).start()

    def tearDown(self):
        self.assertEqual(self.d.stop(), 0)

    def sizes(self, name):
        p = self.d.pool(name)
        return p["workers_target"], len(p["workers"])

    def test_grows_to_max_and_shrinks_to_min(self):
        wait_for(lambda: self.sizes("dyn") == (1, 1), what="one worker")
        seen = []
        done = threading.Event()

        def watch():
            while not done.is_set():
                seen.append(self.sizes("dyn"))
                done.wait(0.05)
        t = threading.Thread(target=watch)
        t.start()
        try:
            r = self.d.submit("dyn", lines(*([200] * 40)))
        finally:
            done.set()
            t.join()
        self.assertEqual(r.rc, 0, r.errtext)
        self.assertSummary(r, jobs=40, ok=40, failed=0)
        self.assertEqual(max(t for t, _ in seen), 4, seen)
        self.assertLessEqual(max(n for _, n in seen), 4, seen)
        # Idle for 0.5 s: back to one worker, and no restart counted.
        wait_for(lambda: self.sizes("dyn") == (1, 1), timeout=15,
                 what="the pool back at min_workers")
        p = self.d.pool("dyn")
        self.assertEqual(sum(p["restarts"].values()), 0, p["restarts"])
        self.assertEqual((p["workers_min"], p["workers_max"]), (1, 4))

    def test_exact_under_growth(self):
        n = 200000
        r = self.d.submit("sq", lines(*range(1, n + 1)), "--quiet")
        self.assertEqual(r.rc, 0, r.errtext)
        self.assertEqual(r.summary()["sum"], str(sum_squares(n)))
        target, _ = self.sizes("sq")
        self.assertTrue(2 <= target <= 3, target)

    def test_scale_refuses_a_dynamic_pool(self):
        r = self.d.client(["scale", "dyn", "3"])
        self.assertNotEqual(r.rc, 0)
        self.assertIn("pool dyn is dynamic (1 to 4 workers)", r.errtext)

    def test_status_shows_the_range(self):
        p = self.d.pool("sq")
        self.assertEqual((p["workers_min"], p["workers_max"]), (2, 3))
        self.assertEqual(p["workers_target"], 2)


class TestDynamicConfig(DroverTestCase):
    def test_combinations(self):
        base = 'name = "a"; handler = "square"; '
        for text, want in [
                ("workers = 2; max_workers = 4;", "workers, or min_workers "
                 "and max_workers: not both"),
                ("min_workers = 5; max_workers = 4;", "min_workers (5) is "
                 "above max_workers (4)"),
                ("min_workers = 2;", "go with max_workers"),
                ("idle_timeout = 3;", "go with max_workers")]:
            rc, err, _ = conf_check(POOLS % (base + text))
            self.assertEqual(rc, 2, (text, err))
            self.assertIn(want, "\n".join(err), text)
        rc, err, _ = conf_check(POOLS % (base + "max_workers = 4;"))
        self.assertEqual(rc, 0, err)


if __name__ == "__main__":
    unittest.main()
