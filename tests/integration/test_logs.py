#!/usr/bin/env python3
"""droverd for sysadmins (droverd(8)): the log as a machine reads it and a
person trusts it (every record one line with its timestamp, pid and level;
an error that ends droverd logged as an error; a reload's changes one
record each; a failed pool that a reload restarted not said to be
removed), `droverd -t` catching a command that cannot run, and the shipped
example configuration starting healthy."""
import os
import re
import socket
import tempfile
import urllib.request
import signal
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from harness import (DROVERD, SOURCE, TW, DroverTestCase, Droverd,  # noqa
                     lines, sum_squares, tagged_env, tagged_pids, wait_for)

RECORD = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3} droverd\[\d+\]: "
                    r"(emerg|alert|crit|error|warning|notice|info|debug): "
                    r"\S")
SQUARE = 'name = "square"; workers = 2; handler = "square";'


def check_records(test, text):
    test.assertTrue(text)
    for line in text.splitlines():
        test.assertRegex(line, RECORD)


class TestStartErrors(DroverTestCase):
    def start_with_socket(self, make_path):
        d = Droverd([SQUARE])
        path = make_path(d)
        with open(d.conf) as f:
            text = f.read().replace(os.path.join(d.dir, "droverd.sock"),
                                    path)
        with open(d.conf, "w") as f:
            f.write(text)
        p = subprocess.run([DROVERD, "-c", d.conf], capture_output=True,
                           timeout=30, env=d.env)
        return d, p.returncode, p.stderr.decode()

    def test_unable_to_listen_is_an_error(self):
        # The path is taken by a directory: the socket cannot go there.
        def taken(d):
            path = os.path.join(d.dir, "taken")
            os.mkdir(path)
            return path
        _, rc, err = self.start_with_socket(taken)
        self.assertEqual(rc, 1, err)
        check_records(self, err)
        self.assertRegex(err, r"error: .*/taken exists and is not a socket")
        self.assertNotIn("warning:", err)

    def test_missing_socket_directory_is_a_config_error(self):
        # Caught when the file is read, before anything starts (exit 2).
        _, rc, err = self.start_with_socket(
            lambda d: "/nonexistent-dir/d.sock")
        self.assertEqual(rc, 2, err)
        check_records(self, err)
        self.assertRegex(err, r"error: .*droverd\.conf:\d+: socket: "
                         r"directory /nonexistent-dir: No such file")

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


class TestCheck(DroverTestCase):
    """droverd -t refuses what would fail at the first spawn."""

    def test_commands_that_cannot_run(self):
        tmp = tempfile.mkdtemp(prefix="drover-check-")
        noexec = os.path.join(tmp, "noexec.sh")
        with open(noexec, "w") as f:
            f.write("#!/bin/sh\n")
        os.chmod(noexec, 0o644)
        d = Droverd([SQUARE,
                     'name = "a"; command = [ "/nonexistent/score" ];',
                     f'name = "b"; command = [ "{noexec}" ];',
                     'name = "c"; command = "no-such-program-here -x";',
                     f'name = "d"; command = [ "{tmp}" ];',
                     'name = "e"; command = "python3 -c 1";'])
        p = subprocess.run([DROVERD, "-t", "-c", d.conf],
                           capture_output=True, timeout=30, env=d.env)
        self.assertEqual(p.returncode, 2)
        err = p.stderr.decode().splitlines()
        want = [r":\d+: command: /nonexistent/score: No such file",
                r":\d+: command: .*noexec\.sh: not executable",
                r":\d+: command: no-such-program-here: not found in PATH",
                r":\d+: command: .*: not a regular file"]
        self.assertEqual(len(err), len(want), err)
        for line, pat in zip(err, want):
            self.assertRegex(line, "^" + re.escape(d.conf) + pat)
        # At start too, and droverd leaves at once.
        p = subprocess.run([DROVERD, "-c", d.conf], capture_output=True,
                           timeout=30, env=d.env)
        self.assertEqual(p.returncode, 2)

    def test_reload_with_a_missing_program_changes_nothing(self):
        d = Droverd([SQUARE]).start()
        try:
            d.write([SQUARE, 'name = "x"; command = [ "/nonexistent/x" ];'])
            r = d.client(["reload"])
            self.assertEqual(r.rc, 2)
            self.assertIn("/nonexistent/x: No such file", r.errtext)
            self.assertEqual([p["name"] for p in d.status()["pools"]],
                             ["square"])
            r = d.submit("square", lines(1, 2, 3))
            self.assertEqual(int(r.summary()["sum"]), 14)
        finally:
            d.kill()


class TestExampleConfig(DroverTestCase):
    def test_the_shipped_example_starts_healthy(self):
        """config/droverd.conf (installed as /etc/drover/droverd.conf),
        on a private socket and port: every pool starts, /healthz is
        200, and its square pool answers."""
        tmp = tempfile.mkdtemp(prefix="drover-example-")
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        with open(os.path.join(SOURCE, "config", "droverd.conf")) as f:
            text = f.read()
        sock = os.path.join(tmp, "droverd.sock")
        text = text.replace('"/run/drover/droverd.sock"', f'"{sock}"')
        text = text.replace('"127.0.0.1:9464"', f'"127.0.0.1:{port}"')
        journal = os.path.join(tmp, "journal.db")
        self.assertIn('"/var/lib/drover/journal.db"', text)
        text = text.replace('"/var/lib/drover/journal.db"', f'"{journal}"')
        conf = os.path.join(tmp, "droverd.conf")
        with open(conf, "w") as f:
            f.write(text)
        env = tagged_env()
        log = open(os.path.join(tmp, "log"), "wb")
        p = subprocess.Popen([DROVERD, "-c", conf], stdout=log, stderr=log,
                             env=env)
        try:
            wait_for(lambda: os.path.exists(sock), what="the socket")

            def healthz():
                try:
                    with urllib.request.urlopen(
                            f"http://127.0.0.1:{port}/healthz",
                            timeout=5) as r:
                        return r.status == 200
                except OSError:
                    return False
            wait_for(healthz, what="/healthz 200")
            env["DROVER_SOCKET"] = sock
            st = subprocess.run([DROVERD.replace("droverd", "drover"),
                                 "status", "--json"], capture_output=True,
                                env=env, timeout=30)
            pools = __import__("json").loads(st.stdout)["pools"]
            self.assertTrue(pools)
            for pl in pools:
                self.assertEqual(pl["state"], "running", pl)
            r = subprocess.run([DROVERD.replace("droverd", "drover"),
                                "submit", "--pool", "square"],
                               input=lines(*range(1, 101)),
                               capture_output=True, env=env, timeout=30)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn(b"sum 338350 ", r.stderr)
        finally:
            p.send_signal(signal.SIGTERM)
            self.assertEqual(p.wait(timeout=60), 0)
            log.close()
            wait_for(lambda: not tagged_pids(env["DROVER_TEST_TAG"]),
                     timeout=5, what="no worker left")


if __name__ == "__main__":
    unittest.main()
