#!/usr/bin/env python3
"""droverd's log as a machine reads it and a person trusts it (droverd(8)):
every record is one line with its timestamp, pid and level; an error that
ends droverd is logged as an error; a reload's changes are one record
each; a failed pool that a reload restarted is not said to be removed."""
import os
import re
import signal
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from harness import (DROVERD, TW, DroverTestCase, Droverd, lines,  # noqa
                     sum_squares, wait_for)

RECORD = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3} droverd\[\d+\]: "
                    r"(emerg|alert|crit|error|warning|notice|info|debug): "
                    r"\S")
SQUARE = 'name = "square"; workers = 2; handler = "square";'


def check_records(test, text):
    test.assertTrue(text)
    for line in text.splitlines():
        test.assertRegex(line, RECORD)


class TestStartErrors(DroverTestCase):
    def test_unable_to_bind_is_an_error(self):
        d = Droverd([SQUARE])
        d.sock = "/nonexistent-dir/droverd.sock"
        d.write([SQUARE])
        with open(d.conf) as f:
            text = f.read().replace(os.path.join(d.dir, "droverd.sock"),
                                    d.sock)
        with open(d.conf, "w") as f:
            f.write(text)
        p = subprocess.run([DROVERD, "-c", d.conf], capture_output=True,
                           timeout=30, env=d.env)
        self.assertEqual(p.returncode, 1)
        err = p.stderr.decode()
        check_records(self, err)
        self.assertRegex(err, r"error: unable to bind /nonexistent-dir/")
        self.assertNotIn("warning: unable to bind", err)

    def test_config_errors_at_start_are_error_records(self):
        d = Droverd(['name = "a"; workers = "x"; handler = "square";',
                     'name = "b"; workers = 1; handler = "nope";'])
        p = subprocess.run([DROVERD, "-c", d.conf], capture_output=True,
                           timeout=30, env=d.env)
        self.assertEqual(p.returncode, 2)
        err = p.stderr.decode()
        check_records(self, err)
        self.assertEqual(len(re.findall(r"error: .*droverd\.conf:\d+: ",
                                        err)), 2, err)


class TestRunningLog(DroverTestCase):
    def test_every_record_is_one_line_and_reload_lists_changes(self):
        d = Droverd([SQUARE, 'name = "old"; workers = 1; handler = '
                     '"square";']).start()
        try:
            r = d.submit("square", lines(*range(1, 101)))
            self.assertEqual(int(r.summary()["sum"]), sum_squares(100))
            d.write(['name = "square"; workers = 3; handler = "square";',
                     'name = "new"; workers = 1; handler = "square";'])
            r = d.client(["reload"])
            self.assertEqual(r.rc, 0, r.errtext)
            wait_for(lambda: "pool old: removed" in d.logtext(),
                     what="the removed pool to go")
            self.assertEqual(d.stop(), 0)
            text = d.logtext()
            check_records(self, text)
            changes = [ln.split("info: ", 1)[1] for ln in text.splitlines()
                       if "info: reload: " in ln]
            self.assertIn("reload: pool new: added", changes)
            self.assertIn("reload: pool old: removed (draining)", changes)
            self.assertTrue(any(c.startswith("reload: pool square: workers "
                                             "changed") for c in changes),
                            changes)
        finally:
            d.kill()

    def test_a_restarted_failed_pool_is_not_said_removed(self):
        d = Droverd([SQUARE, f'name = "broken"; workers = 1; protocol = '
                     f'"frame"; command = [ "{TW}", "exit125" ];']).start()
        try:
            wait_for(lambda: d.pool("broken")["state"] == "failed",
                     what="the pool to fail")
            d.write([SQUARE, 'name = "broken"; workers = 1; handler = '
                     '"square";'])
            r = d.client(["reload"])
            self.assertEqual(r.rc, 0, r.errtext)
            self.assertIn("restarted", r.text)
            wait_for(lambda: len([p for p in d.status()["pools"]
                                  if p["name"] == "broken"]) == 1 and
                     d.pool("broken")["state"] == "running",
                     what="one running pool 'broken'")
            r = d.submit("broken", lines(1, 2, 3))
            self.assertEqual(r.rc, 0, r.errtext)
            self.assertEqual(d.stop(), 0)
            text = d.logtext()
            check_records(self, text)
            self.assertNotIn("pool broken: removed", text)
        finally:
            d.kill()


if __name__ == "__main__":
    unittest.main()
