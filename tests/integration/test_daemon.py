#!/usr/bin/env python3
"""droverd end to end: config checking, the control socket, concurrent
clients, access control, signals (drain, stop, reload, resize, log reopen)
and reloads under load.  A real droverd on a private socket each time."""
import fcntl
import json
import os
import shutil
import pwd
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from harness import (CTL_BYE, CTL_END, CTL_INPUT, CTL_JOB,  # noqa
                     CTL_READ, CTL_RECORDS, CTL_REPLY, CTL_RESULT, DROVER,
                     DROVERD, TW, Droverd, DroverTestCase, conf_check,
                     cpu_seconds, ctl_connect, ctl_frame, ctl_read_all,
                     ctl_read_one, ctl_request,
                     feed_and_wait, lines, observe_quiet, sum_squares,
                     tagged_pids, unread, wait_for)

SQUARE = 'name = "square"; workers = 2; handler = "square";'
SLOW = 'name = "slow"; workers = 2; handler = "sleep";'


class TestConfigCheck(DroverTestCase):
    GOOD = ('socket = "/tmp/x.sock";\npools = (\n'
            '  { name = "a"; workers = 2; handler = "square"; },\n'
            '  { name = "b"; command = [ "/bin/cat" ]; protocol = "line";'
            ' job_timeout = 60; rate = 100.0; },\n'
            '  { name = "c"; handler = "exec"; exec = "gzip -9 {}"; }\n);\n')

    def test_good(self):
        rc, err, _ = conf_check(self.GOOD)
        self.assertEqual(rc, 0, err)

    def assertProblem(self, text, line, *needles):
        rc, err, path = conf_check(text)
        self.assertEqual(rc, 2, err)
        hits = [e for e in err if e.startswith(f"{path}:{line}: ")]
        self.assertTrue(hits, f"no {path}:{line}: in {err}")
        for n in needles:
            self.assertTrue(any(n in e for e in hits), (n, err))
        return err

    def test_directories_that_do_not_exist(self):
        # Each would fail only at start (bind, listen, open): -t says so.
        pools = '\npools = ( { name = "a"; handler = "square"; } );\n'
        self.assertProblem('socket = "/nonexistent-dir/d.sock";' + pools, 1,
                           "socket: directory /nonexistent-dir: No such "
                           "file")
        self.assertProblem('socket = "/tmp/x.sock";\n'
                           'metrics = "unix:/nonexistent-dir/m.sock";' +
                           pools, 2, "metrics: directory /nonexistent-dir")
        self.assertProblem('socket = "/tmp/x.sock";\n'
                           'log_file = "/nonexistent-dir/d.log";' + pools,
                           2, "log_file: directory /nonexistent-dir")
        self.assertProblem('socket = "/etc/passwd/d.sock";' + pools, 1,
                           "socket: /etc/passwd is not a directory")

    def test_includes_libconfig_cannot_be_trusted_with(self):
        # tests/fuzz findings: a file that includes itself (libconfig
        # would read it k^10 times, seconds to minutes with the loop
        # blocked), includes that fan out past 1000 reads, a NUL byte
        # (libconfig opened the directory and exit()ed).
        d = tempfile.mkdtemp(prefix="drover-inc-")
        pools = 'pools = ( { name = "a"; handler = "square"; } );\n'

        def put(name, text):
            with open(os.path.join(d, name), "w") as f:
                f.write(text)
            return os.path.join(d, name)

        def droverd_t(path):
            t0 = time.monotonic()
            p = subprocess.run([DROVERD, "-t", "-c", path],
                               capture_output=True, text=True, timeout=30)
            self.assertLess(time.monotonic() - t0, 5)
            return p.returncode, p.stderr

        try:
            put("self.conf", '@include "self.conf"\n' * 5)
            rc, err = droverd_t(put("a.conf", pools +
                                    '@include "self.conf"\n'))
            self.assertEqual(rc, 2, err)
            self.assertIn('self.conf:1: @include "' + d + '/self.conf" '
                          'includes itself', err)
            for i in range(9):
                put(f"d{i}.conf", f'@include "d{i + 1}.conf"\n' * 5)
            put("d9.conf", "x = 1;\n")
            rc, err = droverd_t(put("b.conf", pools +
                                    '@include "d0.conf"\n'))
            self.assertEqual(rc, 2, err)
            self.assertIn("b.conf:0: its @include lines would have over "
                          "1000 files read", err)
            rc, err = droverd_t(put("c.conf", 'socket = "/tmp/x";\n'
                                    '@include "\0"\n' + pools))
            self.assertEqual(rc, 2, err)
            self.assertIn("c.conf:2: a NUL byte", err)
            # A file included twice (not a cycle) is fine.
            put("p.conf", 'shutdown_timeout = 3.0;\n')
            rc, err = droverd_t(put("e.conf", pools +
                                    '@include "p.conf"\n'))
            self.assertEqual(rc, 0, err)
        finally:
            shutil.rmtree(d)

    def test_syntax_error(self):
        self.assertProblem('socket = "/tmp/x.sock";\n\npools = ( { name = '
                           '"a"; workers = ; } );\n', 3, "syntax")

    def test_unknown_key(self):
        self.assertProblem('socket = "/tmp/x";\nsokcet = "/y";\n', 2,
                           "unknown key 'sokcet'")
        self.assertProblem('pools = (\n { name = "a"; handler = "square";\n'
                           '   wrkers = 3; }\n);\n', 3,
                           "unknown key 'wrkers' in pool 'a'")

    def test_wrong_type(self):
        self.assertProblem('pools = (\n { name = "a"; handler = "square";\n'
                           '   workers = "many"; }\n);\n', 3, "workers",
                           "expected an integer")
        self.assertProblem('shutdown_timeout = "soon";\n', 1,
                           "shutdown_timeout", "expected a number")

    def test_impossible_values(self):
        self.assertProblem('pools = (\n { name = "a"; handler = "square";\n'
                           '   workers = 0; }\n);\n', 3, "out of range")
        self.assertProblem('pools = (\n { name = "a"; handler = "nope"; }\n'
                           ');\n', 2, "unknown handler 'nope'")
        self.assertProblem('socket_mode = "0999";\n', 1, "octal")
        self.assertProblem('pools = ( { name = "bad name"; handler = '
                           '"square"; } );\n', 1, "name")
        self.assertProblem('pools = (\n { name = "a"; command = "x";\n'
                           '   user = "no-such-user-here"; }\n);\n', 3,
                           "unknown user")

    def test_duplicate_pool(self):
        self.assertProblem('pools = (\n { name = "a"; handler = "square"; },'
                           '\n { name = "a"; handler = "sleep"; }\n);\n', 3,
                           "duplicate pool 'a'", "line 2")

    def test_neither_or_both(self):
        self.assertProblem('pools = (\n { name = "a"; workers = 2; }\n);\n',
                           2, "neither handler nor command")
        self.assertProblem('pools = (\n { name = "a"; handler = "square"; '
                           'command = "cat"; }\n);\n', 2, "both")

    def test_every_problem_at_once(self):
        rc, err, path = conf_check('pools = (\n { name = "a"; workers = -1; '
                              'handler = "square"; },\n { name = "b"; },\n'
                              ' { name = "c"; handler = "sleep"; '
                              'colour = 1; }\n);\n')
        self.assertEqual(rc, 2)
        self.assertEqual(len(err), 3, err)
        self.assertEqual([e.split(":")[1] for e in err], ["2", "3", "4"])

    def test_missing_file(self):
        p = subprocess.run([DROVERD, "-t", "-c", "/nonexistent/d.conf"],
                           capture_output=True, text=True)
        self.assertEqual(p.returncode, 2)
        self.assertIn("/nonexistent/d.conf:0: unable to read", p.stderr)


class DaemonCase(DroverTestCase):
    pools = [SQUARE, SLOW]
    shutdown_timeout = 5.0

    def setUp(self):
        self.d = Droverd(self.pools, shutdown_timeout=self.shutdown_timeout)
        self.d.start()
        wait_for(lambda: all(len(p["workers"]) == p["workers_target"]
                             for p in self.d.status()["pools"]),
                 what="the workers")

    def tearDown(self):
        rc = self.d.stop()
        self.assertEqual(rc, 0, self.d.logtext()[-3000:])


class TestSubmit(DaemonCase):
    def test_batch_exact_aggregate(self):
        n = 10001
        r = self.d.submit("square", lines(*range(1, n + 1)), "--json")
        self.assertEqual(r.rc, 0, r.errtext)
        jobs, summary = r.jobs_and_summary()
        self.assertEqual(sorted(j["id"] for j in jobs), list(range(n)))
        for j in jobs:
            self.assertEqual(j["output"], str((j["id"] + 1) ** 2))
        self.assertEqual(summary["sum"], sum_squares(n))
        self.assertEqual(summary["ok"], n)
        r = self.d.submit("square", lines(*range(1, 101)))
        self.assertEqual(r.rc, 0)
        self.assertEqual(r.summary()["sum"], "338350")

    def test_same_output_as_run(self):
        data = lines(3, "x", 4)
        r = self.d.submit("square", data, "--ordered")
        self.assertEqual(r.rc, 1)
        self.assertEqual(r.text, "9\n16\n")
        self.assertIn("drover: job 1 failed: not an integer: 'x'",
                      r.errtext)

    def test_two_clients_get_only_their_own_results(self):
        a = self.d.start_submit("square", "--json")
        b = self.d.start_submit("square", "--json")
        box = {}
        ta = threading.Thread(target=lambda: box.__setitem__(
            "a", feed_and_wait(a, lines(*range(1, 20001)))))
        tb = threading.Thread(target=lambda: box.__setitem__(
            "b", feed_and_wait(b, lines(*range(100001, 120001)))))
        ta.start()
        tb.start()
        ta.join()
        tb.join()
        self.assertEqual((a.returncode, b.returncode), (0, 0))
        for name, base in (("a", 1), ("b", 100001)):
            objs = [json.loads(x) for x in box[name][0].splitlines()]
            jobs, summary = objs[:-1], objs[-1]["summary"]
            self.assertEqual(sorted(j["id"] for j in jobs),
                             list(range(20000)))
            for j in jobs:
                self.assertEqual(int(j["output"]), (base + j["id"]) ** 2)
            self.assertEqual(summary["sum"], sum((base + i) ** 2
                                                 for i in range(20000)))

    def test_unknown_pool(self):
        r = self.d.submit("nope", b"1\n")
        self.assertEqual(r.rc, 2)
        self.assertIn("unknown pool 'nope'", r.errtext)

    def test_no_daemon(self):
        r = self.d.client(["status", "--socket", "/nonexistent/s"])
        self.assertEqual(r.rc, 3)
        self.assertIn("unable to connect to droverd at /nonexistent/s",
                      r.errtext)

    def test_client_gone_mid_batch_cancels_its_queue(self):
        p = self.d.start_submit("slow")
        p.stdin.write(lines(*([200] * 40)))
        p.stdin.flush()
        wait_for(lambda: self.d.pool("slow")["inflight"] == 2,
                 what="jobs in flight")
        self.assertGreater(self.d.pool("slow")["queued"], 0)
        p.kill()
        p.wait()
        wait_for(lambda: self.d.pool("slow")["queued"] == 0 and
                 self.d.pool("slow")["inflight"] == 0,
                 what="the queue to be cancelled")
        jobs = self.d.pool("slow")["jobs"]
        self.assertGreater(jobs["cancelled"], 0)
        self.assertEqual(jobs["ok"] + jobs["cancelled"], 40)
        wait_for(lambda: self.d.status()["clients"] == 0,
                 what="the gone client to be freed")

    def test_sigint_on_submit_cancels_queue_finishes_in_flight(self):
        p = self.d.start_submit("slow", "--json")
        p.stdin.write(lines(*([300] * 30)))
        p.stdin.flush()
        wait_for(lambda: self.d.pool("slow")["inflight"] == 2,
                 what="jobs in flight")
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=30)
        self.assertEqual(p.returncode, 1, err)
        objs = [json.loads(x) for x in out.decode().splitlines()]
        jobs = objs[:-1]
        self.assertEqual(sorted(j["id"] for j in jobs), list(range(30)))
        st = [j["status"] for j in jobs]
        self.assertEqual(set(st), {"ok", "cancelled"})
        self.assertGreaterEqual(st.count("ok"), 2)

    def test_oversized_job_rejected(self):
        self.d.write([SQUARE.replace("workers = 2;", "workers = 2; "
                                     "max_job_bytes = 64;"), SLOW])
        r = self.d.client(["reload"])
        self.assertEqual(r.rc, 0, r.errtext)
        r = self.d.submit("square", b"5\n" + b"9" * 100 + b"\n6\n",
                          "--json")
        jobs, summary = r.jobs_and_summary()
        by = {j["id"]: j for j in jobs}
        self.assertEqual(by[1]["status"], "rejected")
        self.assertEqual((by[0]["output"], by[2]["output"]), ("25", "36"))


class TestAccess(DroverTestCase):
    def _as_nobody(self, d):
        nobody = pwd.getpwnam("nobody")

        def drop():
            os.setgid(nobody.pw_gid)
            os.setuid(nobody.pw_uid)
        env = dict(d.env, DROVER_SOCKET=d.sock)
        return subprocess.run(
            [os.path.join(os.path.dirname(DROVERD), "drover"), "submit",
             "--pool", "square"], input=b"3\n", capture_output=True,
            env=env, preexec_fn=drop, timeout=30)

    @unittest.skipUnless(os.geteuid() == 0, "needs root to switch users")
    def test_peercred_against_allow(self):
        os.chmod(os.path.dirname(DROVERD), 0o755)
        for who, ok in (('"root"', False), ('"nobody"', True),
                        ('"@nogroup"', True)):
            d = Droverd([SQUARE], extra=f'socket_mode = "0666";\n'
                        f'allow = [ {who} ];\n')
            os.chmod(d.dir, 0o755)
            d.start()
            try:
                r = self._as_nobody(d)
                if ok:
                    self.assertEqual(r.returncode, 0, (who, r.stderr))
                    self.assertIn(b"sum 9 ", r.stderr)
                else:
                    self.assertEqual(r.returncode, 3, (who, r.stderr))
                    self.assertIn(b"permission denied", r.stderr)
            finally:
                self.assertEqual(d.stop(), 0)


class TestPrivileges(DroverTestCase):
    @unittest.skipUnless(os.geteuid() == 0, "needs root to switch users")
    def test_user_group_and_rlimits_reach_the_workers(self):
        nobody = pwd.getpwnam("nobody")
        d = Droverd(['name = "who"; workers = 1; handler = "exec"; '
                     'exec = "sh -c \'echo $(id -u) $(id -g) $(ulimit -n)'
                     ' {}\'"; user = "nobody"; group = "nogroup"; '
                     'rlimit_nofile = 123;',
                     'name = "me"; workers = 1; handler = "exec"; '
                     'exec = "id -u";'])
        os.chmod(d.dir, 0o755)
        d.start()
        try:
            r = d.submit("who", lines("x"))
            self.assertEqual(r.rc, 0, r.errtext)
            import grp
            self.assertEqual(r.text.split(),
                             [str(nobody.pw_uid),
                              str(grp.getgrnam("nogroup").gr_gid), "123",
                              "x"])
            r = d.submit("me", lines("x"))
            self.assertEqual(r.text.split(), ["0"])
        finally:
            self.assertEqual(d.stop(), 0)


class TestDrain(DroverTestCase):
    def test_sigterm_mid_batch_finishes_queued_and_in_flight(self):
        d = Droverd([SLOW], shutdown_timeout=30).start()
        p = d.start_submit("slow", "--json")
        p.stdin.write(lines(*([250] * 10)))
        p.stdin.flush()
        p.stdin.close()
        p.stdin = None
        wait_for(lambda: d.pool("slow")["inflight"] == 2, what="in flight")
        d.signal(signal.SIGTERM)
        wait_for(lambda: "draining" in d.logtext(), what="the drain")
        r = d.submit("slow", b"1\n")
        self.assertEqual(r.rc, 3)
        self.assertIn("shutting down", r.errtext)
        out, err = p.communicate(timeout=30)
        self.assertEqual(p.returncode, 0, err)
        objs = [json.loads(x) for x in out.decode().splitlines()]
        self.assertEqual(objs[-1]["summary"]["ok"], 10)
        self.assertEqual(objs[-1]["summary"]["sum"], 2500)
        self.assertEqual(d.proc.wait(timeout=30), 0)
        wait_for(lambda: not tagged_pids(d.tag), timeout=5,
                 what="no process left")

    def test_short_shutdown_timeout_cancels_the_rest(self):
        d = Droverd([SLOW], shutdown_timeout=0.5).start()
        p = d.start_submit("slow", "--json")
        p.stdin.write(lines(*([1000] * 20)))
        p.stdin.flush()
        p.stdin.close()
        p.stdin = None
        wait_for(lambda: d.pool("slow")["inflight"] == 2, what="in flight")
        t0 = time.monotonic()
        d.signal(signal.SIGTERM)
        out, err = p.communicate(timeout=30)
        self.assertEqual(d.proc.wait(timeout=30), 0)
        self.assertLess(time.monotonic() - t0, 5)
        objs = [json.loads(x) for x in out.decode().splitlines()]
        jobs = objs[:-1]
        self.assertEqual(sorted(j["id"] for j in jobs), list(range(20)))
        self.assertEqual(p.returncode, 1)
        st = [j["status"] for j in jobs]
        self.assertGreater(st.count("cancelled"), 10)
        self.assertEqual(set(st) - {"ok", "cancelled"}, set())
        wait_for(lambda: not tagged_pids(d.tag), timeout=5,
                 what="no process left")

    def test_second_sigterm_and_sigquit_stop_at_once(self):
        for sigs in ((signal.SIGTERM, signal.SIGTERM), (signal.SIGQUIT,)):
            d = Droverd([SLOW], shutdown_timeout=60).start()
            p = d.start_submit("slow")
            p.stdin.write(lines(*([30000] * 4)))
            p.stdin.flush()
            p.stdin.close()
            p.stdin = None
            wait_for(lambda: d.pool("slow")["inflight"] == 2,
                     what="in flight")
            t0 = time.monotonic()
            for n, s in enumerate(sigs, 1):
                d.signal(s)
                # Taken before the next one: each says so in the log.
                wait_for(lambda: d.logtext().count("draining:") +
                         d.logtext().count("stopping:") >= n,
                         what=f"droverd to take signal {n}")
            self.assertEqual(d.proc.wait(timeout=20), 0, d.logtext())
            self.assertLess(time.monotonic() - t0, 10)
            p.communicate(timeout=10)
            wait_for(lambda: not tagged_pids(d.tag), timeout=5,
                     what="no process left")


class TestReload(DaemonCase):
    def test_broken_config_changes_nothing(self):
        before = self.d.status()
        good = open(self.d.conf).read()
        with open(self.d.conf, "a") as f:
            f.write("\nbogus_key = 1;\n")
        lines_ = good.count("\n") + 2
        r = self.d.client(["reload"])
        self.assertEqual(r.rc, 2)
        self.assertIn(f"{self.d.conf}:{lines_}: unknown key 'bogus_key'",
                      r.errtext)
        self.d.signal(signal.SIGHUP)
        wait_for(lambda: self.d.logtext().count("unknown key 'bogus_key'")
                 >= 2, what="the SIGHUP reload error in the log")
        after = self.d.status()
        self.assertEqual([p["name"] for p in after["pools"]],
                         [p["name"] for p in before["pools"]])
        self.assertEqual([sorted(w["pid"] for w in p["workers"])
                          for p in after["pools"]],
                         [sorted(w["pid"] for w in p["workers"])
                          for p in before["pools"]])
        self.assertEqual(after["reloads"]["failed"], 2)
        r = self.d.submit("square", lines(*range(1, 101)))
        self.assertEqual(r.summary()["sum"], "338350")

    def test_reload_turning_max_rss_off(self):
        # 0 means no limit: no worker may be "over" it after the reload.
        # The control: any worker is over tiny's 1 MiB, so tiny's workers
        # are replaced at each RSS check (every second, from the same
        # reload as square's): two of those after the second reload and
        # square's check would have run too.
        tiny = 'name = "tiny"; workers = 1; handler = "square"; ' \
            'max_rss_mb = 1;'

        def over(pool):
            return sum(1 for ln in self.d.logtext().splitlines()
                       if f" {pool}[" in ln and "over max_rss_mb" in ln)
        self.d.write([SQUARE + " max_rss_mb = 512;", SLOW, tiny])
        self.assertEqual(self.d.client(["reload"]).rc, 0)
        before = sorted(w["pid"] for w in self.d.pool("square")["workers"])
        self.d.write([SQUARE, SLOW, tiny])
        self.assertEqual(self.d.client(["reload"]).rc, 0)
        checks = over("tiny")
        wait_for(lambda: over("tiny") >= checks + 2, what="two RSS checks "
                 "after the reload")
        after = sorted(w["pid"] for w in self.d.pool("square")["workers"])
        self.assertEqual(after, before)
        self.assertEqual(over("square"), 0, self.d.logtext()[-2000:])

    def test_reload_error_with_invalid_utf8(self):
        # The error quotes the value; the REPLY must still be valid JSON.
        good = open(self.d.conf).read()
        with open(self.d.conf, "ab") as f:
            f.write(b'\nbad\xff = 1;\n')
        r = self.d.client(["reload"])
        self.assertEqual(r.rc, 2, r.errtext)
        self.assertIn(f"{self.d.conf}:", r.errtext)
        self.assertIsNone(self.d.proc.poll(), self.d.logtext()[-2000:])
        with open(self.d.conf, "w") as f:
            f.write(good)
        r = self.d.submit("square", lines(*range(1, 101)))
        self.assertEqual(r.summary()["sum"], "338350")

    def _under_load(self, change, check):
        n = 60000
        p = self.d.start_submit("square", "--json")
        box = {}
        t = threading.Thread(target=lambda: box.__setitem__(
            "r", feed_and_wait(p, lines(*range(1, n + 1)))))
        # Slow the stream a little so the reload lands mid-batch.
        t.start()
        wait_for(lambda: self.d.pool("square")["jobs"]["ok"] > 0,
                 what="the batch to start")
        change()
        r = self.d.client(["reload"])
        self.assertEqual(r.rc, 0, r.errtext)
        check()
        t.join()
        self.assertEqual(p.returncode, 0, box["r"][1][-2000:])
        objs = [json.loads(x) for x in box["r"][0].splitlines()]
        jobs, summary = objs[:-1], objs[-1]["summary"]
        self.assertEqual(sorted(j["id"] for j in jobs), list(range(n)))
        self.assertEqual(summary["sum"], sum_squares(n))

    def test_resize_under_load(self):
        def change():
            self.d.write([SQUARE.replace("workers = 2", "workers = 4"),
                          SLOW])

        def check():
            wait_for(lambda: len(self.d.pool("square")["workers"]) == 4,
                     what="4 workers in status")
            self.assertEqual(self.d.pool("square")["workers_target"], 4)
        self._under_load(change, check)

    def test_changed_command_replaces_workers_one_by_one(self):
        old = {w["pid"] for w in self.d.pool("square")["workers"]}

        def change():
            self.d.write([SQUARE + " max_result_bytes = 4096;", SLOW])

        def check():
            wait_for(lambda: not old & {w["pid"] for w in
                                        self.d.pool("square")["workers"]},
                     timeout=20, what="every old worker to be replaced")
        self._under_load(change, check)
        self.assertIn("replacing it to apply new settings", self.d.logtext())

    def test_pools_added_and_removed(self):
        self.d.write([SQUARE, 'name = "echo"; workers = 1; handler = '
                      '"exec"; exec = "echo {}";'])
        r = self.d.client(["reload"])
        self.assertEqual(r.rc, 0, r.errtext)
        self.assertIn("pool echo: added", r.text)
        self.assertIn("pool slow: removed", r.text)
        r = self.d.submit("echo", lines("hi"))
        self.assertEqual(r.text, "hi\n")
        wait_for(lambda: "slow" not in [p["name"] for p in
                                        self.d.status()["pools"]],
                 what="the removed pool to go")
        r = self.d.submit("slow", b"1\n")
        self.assertEqual(r.rc, 2)


class TestRecords(DaemonCase):
    """RECORDS (docs/protocol.md): a client that asked with "records"
    and was told yes sends jobs as delimited records, many to a message,
    beside JOBs; each job is answered once, as its JOB would be."""
    pools = [SQUARE, SLOW,
             'name = "small"; workers = 1; handler = "square"; '
             'max_job_bytes = 4;']

    def exchange(self, pool, records, frames):
        s = ctl_connect(self.d.sock)
        s.sendall(ctl_request({"op": "submit", "pool": pool,
                               "records": records}) + frames +
                  ctl_frame(CTL_END))
        msgs = ctl_read_all(s)
        s.close()
        self.assertTrue(json.loads(msgs[0][3]).get("records"))
        self.assertEqual(msgs[-1][0], CTL_BYE)
        got = {}
        for typ, st, id_, p in msgs[1:-1]:
            self.assertEqual(typ, CTL_RESULT)
            got.setdefault(id_, []).append((st, p[16:].decode()))
        return got

    def test_each_job_once(self):
        def recs(lo, hi):
            return b"".join(b"%d\n" % k for k in range(lo, hi))
        got = self.exchange("square", 10,
                            ctl_frame(CTL_RECORDS, recs(1, 1001), id=0) +
                            ctl_frame(CTL_JOB, b"1001", id=1000) +
                            ctl_frame(CTL_RECORDS, recs(1002, 2001),
                                      id=1001) +
                            ctl_frame(CTL_RECORDS, b"\n7\n", id=5000))
        want = {i: [(0, str((i + 1) ** 2))] for i in range(2000)}
        want[5001] = [(0, "49")]
        self.assertEqual(got.pop(5000)[0][0], 1)   # "": not an integer
        self.assertEqual(got, want)

    def test_nul_records_and_max_job_bytes(self):
        got = self.exchange("small", 0, ctl_frame(
            CTL_RECORDS, b"1\x0022222\x003\x00", id=7))
        self.assertEqual(got[7], [(0, "1")])
        self.assertEqual(got[9], [(0, "9")])
        (st, why), = got[8]
        self.assertEqual(st, 5)                     # rejected
        self.assertIn("over max_job_bytes 4", why)
        self.assertEqual(len(got), 3)


class TestPassInput(DaemonCase):
    """INPUT (docs/protocol.md): drover submit --quiet hands droverd its
    input, a pipe or a local file, and droverd reads the jobs itself,
    with READs before their results: every job once, the exact totals,
    the descriptor closed when the batch ends however it ends."""
    pools = [SQUARE, SLOW,
             'name = "small"; workers = 1; handler = "square"; '
             'max_job_bytes = 4;']

    def droverd_fds(self):
        """What droverd's descriptors point at."""
        d = f"/proc/{self.d.proc.pid}/fd"
        out = []
        for f in os.listdir(d):
            try:
                out.append(os.readlink(os.path.join(d, f)))
            except OSError:
                pass
        return out

    def start_piped(self, pool, *opts, keep=False):
        """drover submit reading a pipe we hold: (process, write end,
        the pipe's name in /proc), and the read end if keep."""
        r, w = os.pipe()
        env = dict(self.d.env)
        env["DROVER_SOCKET"] = self.d.sock
        p = subprocess.Popen([DROVER, "submit", "--pool", pool] +
                             list(opts), stdin=r, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, env=env)
        name = f"pipe:[{os.fstat(r).st_ino}]"
        if keep:
            return p, w, name, r
        os.close(r)
        return p, w, name

    def test_pipe_read_by_droverd(self):
        """droverd holds the pipe while the batch runs (reopened: its own
        description, which stays blocking for us), and lets it go at the
        end; jobs written after it took the pipe are read too."""
        base = len(self.droverd_fds())
        p, w, name, r = self.start_piped("square", "--quiet", keep=True)
        os.write(w, lines(*range(1, 50001)))
        wait_for(lambda: name in self.droverd_fds(), what="droverd to "
                 "hold the pipe", detail=self.d.logtext)
        os.write(w, lines(*range(50001, 100001)))
        os.close(w)
        out, err = p.communicate(timeout=60)
        # droverd read it non-blocking, from a description not ours.
        self.assertEqual(fcntl.fcntl(r, fcntl.F_GETFL) & os.O_NONBLOCK, 0)
        os.close(r)
        self.assertEqual(p.returncode, 0, err)
        self.assertEqual(out, b"")
        self.assertIn(b"100000 jobs, 100000 ok, 0 failed", err)
        self.assertIn(f"sum {sum_squares(100000)} ".encode(), err)
        wait_for(lambda: name not in self.droverd_fds(), what="droverd to "
                 "close the pipe", detail=self.d.logtext)
        wait_for(lambda: len(self.droverd_fds()) <= base, what="no fd "
                 "left behind", detail=lambda: str(self.droverd_fds()))

    def test_file_from_its_offset(self):
        """A file is read from where the client's offset is (the shell
        read a line of it first), by droverd: it holds the file while a
        slow batch runs."""
        d = tempfile.mkdtemp(prefix="drover-pass-")
        path = os.path.join(d, "jobs")
        with open(path, "wb") as f:
            f.write(b"skipped\n" + lines(*range(1, 1001)))
        env = dict(self.d.env)
        env["DROVER_SOCKET"] = self.d.sock
        with open(path, "rb") as f:
            r = subprocess.run(["bash", "-c", 'read -r first && exec "$0" '
                                'submit --pool square --quiet', DROVER],
                               stdin=f, capture_output=True, env=env,
                               timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(b"1000 jobs, 1000 ok, 0 failed", r.stderr)
        self.assertIn(f"sum {sum_squares(1000)} ".encode(), r.stderr)
        with open(path, "wb") as f:
            f.write(lines(*[20] * 100))
        with open(path, "rb") as f:
            p = subprocess.Popen([DROVER, "submit", "--pool", "slow",
                                  "--quiet"], stdin=f, env=env,
                                 stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE)
            wait_for(lambda: path in self.droverd_fds(), what="droverd "
                     "to hold the file", detail=self.d.logtext)
            out, err = p.communicate(timeout=60)
        self.assertEqual(p.returncode, 0, err)
        self.assertIn(b"100 jobs, 100 ok, 0 failed", err)
        self.assertIn(b"sum 2000 ", err)
        wait_for(lambda: path not in self.droverd_fds(), what="droverd to "
                 "close the file", detail=self.d.logtext)
        shutil.rmtree(d)

    def test_over_max_job_bytes_and_unended(self):
        """A record over max_job_bytes is rejected by its id; the last
        one, without its newline, is a job."""
        r = self.d.submit("small", b"1\n22222\n3\n\n4", "--quiet")
        self.assertEqual(r.rc, 1, r.errtext)
        self.assertIn("5 jobs, 3 ok, 2 failed", r.errtext)
        self.assertIn("job 1 rejected: job is 5 bytes, over max_job_bytes",
                      r.errtext)
        self.assertIn("sum 26 ", r.errtext)

    def test_client_killed(self):
        """A client killed while droverd reads its pipe: droverd stops
        reading, cancels what is queued, lets the pipe go, and serves."""
        base = len(self.droverd_fds())
        p, w, name = self.start_piped("slow", "--quiet")
        os.write(w, lines(*[50] * 2000))
        wait_for(lambda: name in self.droverd_fds(), what="droverd to "
                 "hold the pipe", detail=self.d.logtext)
        p.kill()
        p.communicate()
        wait_for(lambda: name not in self.droverd_fds(), timeout=20,
                 what="droverd to close the pipe", detail=self.d.logtext)
        os.close(w)
        wait_for(lambda: len(self.droverd_fds()) <= base, timeout=20,
                 what="no fd left behind",
                 detail=lambda: str(self.droverd_fds()))
        r = self.d.submit("square", lines(*range(1, 101)), "--quiet")
        self.assertIn("sum 338350 ", r.errtext)

    def test_interrupted(self):
        """SIGINT: the client says CANCEL; droverd reads no more of the
        pipe, the jobs read are each reported once (ok or cancelled)."""
        p, w, name = self.start_piped("slow", "--quiet")
        os.write(w, lines(*[30] * 3000))
        wait_for(lambda: name in self.droverd_fds(), what="droverd to "
                 "hold the pipe", detail=self.d.logtext)
        time.sleep(0.2)
        t0 = time.monotonic()
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=30)
        os.close(w)
        err = err.decode()
        self.assertEqual(p.returncode, 1, err)
        # At once, not after the shutdown timeout (5 s): droverd read
        # the CANCEL though its pool had no room for more of the input.
        self.assertLess(time.monotonic() - t0, 3, err)
        m = re.search(r"(\d+) jobs, (\d+) ok, (\d+) failed \((\d+) "
                      r"cancelled\)", err)
        self.assertIsNotNone(m, err)
        jobs, ok, failed, cancelled = map(int, m.groups())
        self.assertLess(jobs, 3000)
        self.assertEqual((failed, cancelled), (jobs - ok, jobs - ok))
        self.assertIn("cancelled by the client", err)
        wait_for(lambda: name not in self.droverd_fds(), what="droverd to "
                 "close the pipe", detail=self.d.logtext)

    def raw_input(self, fds, then=b""):
        """A raw client that offers its input and sends INPUT with fds
        (maybe none), then what follows; what droverd says back."""
        s = ctl_connect(self.d.sock)
        s.sendall(ctl_request({"op": "submit", "pool": "square",
                               "records": 10, "pass_input": True}))
        buf = b""
        while len(buf) < 16 or len(buf) < 16 + int.from_bytes(buf[:4],
                                                             "little"):
            buf += s.recv(65536)
        reply = json.loads(buf[16:])
        self.assertEqual(reply.get("input"), "fd")
        socket.send_fds(s, [ctl_frame(CTL_INPUT)], fds)
        if then:
            s.sendall(then)
        msgs = ctl_read_all(s)
        s.close()
        return msgs

    def pipe_flags(self, name):
        """The flags of droverd's descriptor of the pipe name."""
        d = f"/proc/{self.d.proc.pid}/fd"
        for f in os.listdir(d):
            try:
                if os.readlink(os.path.join(d, f)) == name:
                    with open(f"/proc/{self.d.proc.pid}/fdinfo/{f}") as fi:
                        for line in fi:
                            if line.startswith("flags:"):
                                return int(line.split()[1], 8)
            except OSError:
                pass
        return None

    def test_pipe_of_its_own(self):
        """droverd reads a passed pipe through a description of its own,
        non-blocking: a client that makes its own blocking again (the
        one it passed) cannot make droverd's read wait."""
        r, w = os.pipe()
        name = f"pipe:[{os.fstat(r).st_ino}]"
        s = self.offered()
        socket.send_fds(s, [ctl_frame(CTL_INPUT)], [r])
        wait_for(lambda: self.pipe_flags(name) is not None, what="droverd "
                 "to hold the pipe", detail=self.d.logtext)
        fcntl.fcntl(r, fcntl.F_SETFL, 0)
        self.assertTrue(self.pipe_flags(name) & os.O_NONBLOCK)
        os.write(w, lines(1, 2, 3))
        os.close(w)
        msgs = ctl_read_all(s)
        s.close()
        os.close(r)
        self.assertEqual(msgs[-1][0], CTL_BYE, msgs)
        self.assertEqual(sorted(int(m[3][16:]) for m in msgs
                                if m[0] == CTL_RESULT), [1, 4, 9])
        r = self.d.submit("square", lines(*range(1, 101)), "--quiet")
        self.assertIn("sum 338350 ", r.errtext)

    def offered(self):
        """A raw client's connection whose submit offered its input, and
        whose REPLY took it."""
        s = ctl_connect(self.d.sock)
        s.sendall(ctl_request({"op": "submit", "pool": "square",
                               "records": 10, "pass_input": True}))
        self.assertEqual(json.loads(ctl_read_one(s)[3]).get("input"),
                         "fd")
        return s

    def raw_input(self, fds, then=b""):
        """A raw client that offers its input and sends INPUT with fds
        (maybe none), then what follows; what droverd says back."""
        s = self.offered()
        socket.send_fds(s, [ctl_frame(CTL_INPUT)], fds)
        if then:
            s.sendall(then)
        msgs = ctl_read_all(s)
        s.close()
        return msgs

    def test_hostile_inputs(self):
        """INPUT without a descriptor or with a socket is declined (a
        READ of status 2) and the jobs come on the socket; with two, the
        second is closed; after a JOB, not offered, or with a JOB after
        it, the connection ends.  droverd keeps no descriptor of any."""
        base = len(self.droverd_fds())
        a, b = socket.socketpair()
        for fds in ([], [a.fileno()]):
            msgs = self.raw_input(fds, ctl_frame(CTL_RECORDS, b"5\n", id=0)
                                  + ctl_frame(CTL_END))
            self.assertEqual([(m[0], m[1], m[2]) for m in msgs],
                             [(CTL_READ, 2, 0), (CTL_RESULT, 0, 0),
                              (CTL_BYE, 0, 0)], msgs)
            self.assertEqual(msgs[1][3][16:], b"25")
        a.close()
        b.close()
        r1, w1 = os.pipe()
        r2, w2 = os.pipe()
        os.write(w1, lines(1, 2, 3))
        os.close(w1)
        msgs = self.raw_input([r1, r2])
        kinds = [m[0] for m in msgs]
        self.assertEqual((kinds[0], kinds[-1], kinds.count(CTL_RESULT)),
                         (CTL_READ, CTL_BYE, 3), msgs)
        reads = [(st, id_) for typ, st, id_, p in msgs if typ == CTL_READ]
        self.assertEqual(reads[-1], (1, 3))
        self.assertEqual(sorted(int(p[16:]) for typ, st, id_, p in msgs
                                if typ == CTL_RESULT), [1, 4, 9])
        for fd in (r1, r2, w2):
            os.close(fd)
        # INPUT after a JOB (also one over max_job_bytes), INPUT not
        # offered, a JOB after INPUT: the connection ends, no BYE.
        r, w = os.pipe()
        for req, frames in (
                ({"records": 10, "pass_input": True},
                 ctl_frame(CTL_JOB, b"2", id=0)),
                ({"records": 10, "pass_input": True},
                 ctl_frame(CTL_JOB, b"2" * 2000000, id=0)),
                ({}, b"")):
            s = ctl_connect(self.d.sock)
            s.sendall(ctl_request(dict({"op": "submit", "pool": "square"},
                                       **req)) + frames)
            time.sleep(0.1)
            socket.send_fds(s, [ctl_frame(CTL_INPUT)], [r])
            msgs = ctl_read_all(s)
            s.close()
            self.assertNotIn(CTL_BYE, [m[0] for m in msgs], msgs)
        msgs = self.raw_input([r], ctl_frame(CTL_JOB, b"2", id=0))
        self.assertNotIn(CTL_BYE, [m[0] for m in msgs], msgs)
        os.close(r)
        os.close(w)
        wait_for(lambda: len(self.droverd_fds()) <= base, what="no fd "
                 "left behind", detail=lambda: str(self.droverd_fds()))
        self.assertIsNone(self.d.proc.poll())
        r = self.d.submit("square", lines(*range(1, 101)), "--quiet")
        self.assertIn("sum 338350 ", r.errtext)


class TestHostileClients(DaemonCase):
    """Clients that break the protocol at the worst moments: each is
    dropped, droverd goes on, and the next batch is exact.  (Under ASan in
    CI these also catch a client freed while still in use.)"""

    def assert_still_serving(self):
        self.assertIsNone(self.d.proc.poll(), self.d.logtext()[-3000:])
        self.assertNotIn("Sanitizer", self.d.logtext())
        r = self.d.submit("square", lines(*range(1, 101)))
        self.assertEqual(r.summary()["sum"], "338350", r.errtext)

    def test_violation_right_after_submit(self):
        sub = ctl_request({"op": "submit", "pool": "square"})
        for tail in (sub,                               # a second REQUEST
                     ctl_frame(CTL_END, status=1),      # a bad frame
                     b"\xff" * 16,                      # junk
                     ctl_frame(9, b"1\n"),              # RECORDS unasked
                     ctl_frame(10)):                    # an unknown type
            s = ctl_connect(self.d.sock)
            s.sendall(sub + tail)
            ctl_read_all(s)         # droverd hangs up
            s.close()
            self.assert_still_serving()

    def test_broken_records_hang_up(self):
        """RECORDS the REPLY did not take, not ended by the delimiter, of
        more than 1024 jobs, or with ids past 2^64 - 1: droverd hangs up
        and runs none of their jobs.  The REPLY is read first: it says
        whether RECORDS were taken."""
        import socket
        many = b"".join(b"%d\n" % i for i in range(1025))
        # 16 delimiters in a row where 1025 records fill up: once wrote
        # past the splitter's array and killed droverd.
        blanks = b"x" * 15 + b"\n" * 65521
        for records, frame in (
                (None, ctl_frame(CTL_RECORDS, b"1\n")),
                (300, ctl_frame(CTL_RECORDS, b"1\n")),
                ("\n", ctl_frame(CTL_RECORDS, b"1\n")),
                (10, ctl_frame(CTL_RECORDS, b"1\n2")),
                (10, ctl_frame(CTL_RECORDS, b"1\x002\x00")),
                (10, ctl_frame(CTL_RECORDS, many)),
                (10, ctl_frame(CTL_RECORDS, blanks)),
                (10, ctl_frame(CTL_RECORDS, b"1\n2\n", id=(1 << 64) - 1))):
            req = {"op": "submit", "pool": "square"}
            if records is not None:
                req["records"] = records
            s = ctl_connect(self.d.sock)
            s.sendall(ctl_request(req))
            head = b""
            while len(head) < 16 or len(head) < 16 + int.from_bytes(
                    head[:4], "little"):
                chunk = s.recv(1 << 16)
                self.assertTrue(chunk, "no REPLY")
                head += chunk
            reply = json.loads(head[16:])
            self.assertTrue(reply["ok"])
            self.assertEqual(reply.get("records"), records == 10 or None)
            try:
                s.sendall(frame + ctl_frame(CTL_END))
            except OSError:
                pass
            s.settimeout(10)
            msgs = ctl_read_all(s)      # no RESULT, no BYE: hung up
            s.close()
            self.assertEqual(msgs, [], (records, frame[:40]))
            self.assert_still_serving()

    def test_errors_quoting_invalid_utf8_stay_valid_json(self):
        # jansson's error text cuts a long token mid-character; an unknown
        # pool name is quoted back: both must make a valid REPLY.
        for req in (b'{"op":"' + "\u00e9".encode() * 200 + b'\x01"}',
                    b'{"op":"a' + "\u00e9".encode() * 200 + b'\x01"}',
                    json.dumps({"op": "submit", "pool": "\u00e9" * 400},
                               ensure_ascii=False).encode()):
            s = ctl_connect(self.d.sock)
            s.sendall(ctl_frame(1, req, id=1))
            msgs = ctl_read_all(s)
            s.close()
            self.assertEqual(len(msgs), 1, req[:40])
            reply = json.loads(msgs[0][3])
            self.assertFalse(reply["ok"])
            self.assertTrue(reply["error"])
        self.assert_still_serving()

    def test_pool_name_with_a_nul_is_not_a_prefix(self):
        s = ctl_connect(self.d.sock)
        s.sendall(ctl_request({"op": "submit", "pool": "square\u0000x"}))
        msgs = ctl_read_all(s)
        s.close()
        reply = json.loads(msgs[0][3])
        self.assertFalse(reply["ok"])       # jansson refuses \u0000
        self.assertIn("\\u0000", reply["error"])

    def test_writes_fail_while_results_pile_up(self):
        # 1 MiB jobs of "0" to the sleep handler: 0 ms each, echoed back.
        # The client stops reading, then its socket refuses writes: the
        # error comes while droverd flushes a full output buffer inline.
        import socket
        big = b"0" * (1 << 20)
        s = ctl_connect(self.d.sock)
        s.sendall(ctl_request({"op": "submit", "pool": "slow"}))
        s.sendall(ctl_frame(CTL_JOB, big, id=0))
        # Job 0's result is coming (more than a REPLY is waiting).
        wait_for(lambda: unread(s.fileno()) > 4096, what="job 0's result")
        s.shutdown(socket.SHUT_RD)
        try:
            for i in range(1, 6):
                s.sendall(ctl_frame(CTL_JOB, big, id=i))
            s.sendall(ctl_frame(CTL_END))
        except OSError:
            pass
        wait_for(lambda: self.d.pool("slow")["inflight"] == 0 and
                 self.d.pool("slow")["queued"] == 0, what="slow to settle")
        s.close()
        self.assert_still_serving()

    def test_headers_are_judged_before_their_payload(self):
        # A JOB announcing 1 GiB before any REQUEST, and a REQUEST over
        # 64 KiB: refused on the header, nothing of it buffered.
        from harness import rss_kb
        before = rss_kb(self.d.proc.pid)
        for head in (bytes.fromhex("00000040") + bytes([CTL_JOB, 0, 0, 0]) +
                     bytes(8),
                     (70000).to_bytes(4, "little") + bytes([1, 0, 0, 0]) +
                     (1).to_bytes(8, "little")):
            s = ctl_connect(self.d.sock)
            s.sendall(head)
            try:
                for _ in range(64):
                    s.sendall(b"x" * (1 << 17))
            except OSError:
                pass            # hung up on: what we want
            ctl_read_all(s)
            s.close()
        self.assertLess(rss_kb(self.d.proc.pid) - before, 4096)
        self.assert_still_serving()

    def test_oversized_job_after_end_is_ignored_like_any_other(self):
        # Job 1 sleeps 300 ms, so all of this is read while it runs.
        s = ctl_connect(self.d.sock)
        s.sendall(ctl_request({"op": "submit", "pool": "slow"}) +
                  ctl_frame(CTL_JOB, "300", id=1) + ctl_frame(CTL_END) +
                  ctl_frame(CTL_JOB, "8", id=2) +
                  ctl_frame(CTL_JOB, b"9" * (2 << 20), id=3))
        msgs = ctl_read_all(s)
        s.close()
        self.assertEqual([(m[2], m[3][16:]) for m in msgs
                          if m[0] == CTL_RESULT], [(1, b"300")])

    def test_half_close_after_end_still_gets_results(self):
        # nc -N and socat end their input with shutdown(SHUT_WR).
        import socket
        s = ctl_connect(self.d.sock)
        s.sendall(ctl_request({"op": "submit", "pool": "square"}) +
                  b"".join(ctl_frame(CTL_JOB, str(i), id=i)
                           for i in range(1, 1001)) + ctl_frame(CTL_END))
        s.shutdown(socket.SHUT_WR)
        msgs = ctl_read_all(s)
        s.close()
        results = [m for m in msgs if m[0] == CTL_RESULT]
        self.assertEqual(sorted(m[2] for m in results),
                         list(range(1, 1001)))
        self.assertEqual(sum(int(m[3][16:]) for m in results),
                         sum_squares(1000))
        self.assertEqual(msgs[-1][0], 6)    # BYE

    def test_jobs_of_one_write_around_a_skipped_one(self):
        # One write: small jobs, one over max_job_bytes, small jobs, END.
        # droverd takes the small ones many at a time (control.c's
        # client_frames()) and the big one on its header, skipped.
        s = ctl_connect(self.d.sock)
        s.sendall(ctl_request({"op": "submit", "pool": "square"}) +
                  b"".join(ctl_frame(CTL_JOB, str(i), id=i)
                           for i in range(1, 501)) +
                  ctl_frame(CTL_JOB, b"9" * (2 << 20), id=501) +
                  b"".join(ctl_frame(CTL_JOB, str(i), id=i)
                           for i in range(502, 1001)) + ctl_frame(CTL_END))
        msgs = ctl_read_all(s)
        s.close()
        results = {m[2]: m for m in msgs if m[0] == CTL_RESULT}
        self.assertEqual(len(results), len([m for m in msgs
                                            if m[0] == CTL_RESULT]))
        self.assertEqual(sorted(results), list(range(1, 1001)))
        self.assertEqual(results[501][1], 5)        # rejected
        self.assertEqual(sum(int(m[3][16:]) for i, m in results.items()
                             if i != 501), sum_squares(1000) - 501 ** 2)
        self.assertEqual(msgs[-1][0], CTL_BYE)

    def test_a_bad_header_among_jobs_hangs_up(self):
        # A JOB with a flags byte set, amid good ones of the same write:
        # the jobs before it may run, none after it, and no BYE comes.
        bad = bytearray(ctl_frame(CTL_JOB, "7", id=300))
        bad[6] = 1
        s = ctl_connect(self.d.sock)
        s.sendall(ctl_request({"op": "submit", "pool": "square"}) +
                  b"".join(ctl_frame(CTL_JOB, str(i), id=i)
                           for i in range(1, 300)) + bytes(bad) +
                  b"".join(ctl_frame(CTL_JOB, str(i), id=i)
                           for i in range(301, 401)) + ctl_frame(CTL_END))
        msgs = ctl_read_all(s)
        s.close()
        self.assertNotIn(CTL_BYE, [m[0] for m in msgs])
        self.assertTrue(all(m[2] < 300 for m in msgs
                            if m[0] == CTL_RESULT))
        self.assert_still_serving()


class TestOutOfFds(DroverTestCase):
    def test_accept_pauses_instead_of_spinning(self):
        # 48 fds: a few dozen idle clients use them up.  accept() then
        # fails with EMFILE while connections wait in the backlog; droverd
        # must not spin on it, nor log a line per try, and must recover.
        import socket
        d = Droverd([SQUARE])
        d.start(nofile=48)
        try:
            wait_for(lambda: len(d.status()["pools"][0]["workers"]) == 2,
                     what="the workers")
            socks = []
            for _ in range(80):
                s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                s.setblocking(False)
                try:
                    s.connect(d.sock)
                except BlockingIOError:
                    pass
                socks.append(s)
            wait_for(lambda: "accept: Too many open files" in d.logtext(),
                     what="accept to run out of fds")
            # Nothing to wait for: not spinning is a CPU time that does
            # not grow while the backlog stays there.
            t0 = cpu_seconds(d.proc.pid)
            observe_quiet(2, lambda: cpu_seconds(d.proc.pid) - t0 < 0.5,
                          what="droverd not spinning on accept")
            log = d.logtext()
            self.assertIn("accept: Too many open files", log)
            self.assertLess(log.count("accept:"), 5, log[-2000:])
            for s in socks:
                s.close()
            r = d.submit("square", lines(*range(1, 101)))
            self.assertEqual(r.summary()["sum"], "338350", r.errtext)
        finally:
            self.assertEqual(d.stop(), 0, d.logtext()[-2000:])


class TestStatusWatch(DaemonCase):
    def test_watch_refreshes(self):
        env = dict(self.d.env, DROVER_SOCKET=self.d.sock)
        p = subprocess.Popen([os.path.join(os.path.dirname(DROVERD),
                                           "drover"), "status",
                              "--watch=0.1"], stdout=subprocess.PIPE,
                             env=env)
        out, deadline = "", time.monotonic() + 10
        while out.count("pool square: running") < 3:
            self.assertLess(time.monotonic(), deadline, out)
            out += p.stdout.readline().decode()
        p.terminate()
        p.communicate(timeout=10)
        self.assertIn("\033[H\033[2J", out)


class TestSignalsMisc(DaemonCase):
    def test_ttin_ttou(self):
        self.d.signal(signal.SIGTTIN)
        wait_for(lambda: len(self.d.pool("square")["workers"]) == 3,
                 what="3 workers")
        # Signals of one kind coalesce: wait for each to land.
        self.d.signal(signal.SIGTTOU)
        wait_for(lambda: self.d.pool("square")["workers_target"] == 2,
                 what="target 2")
        self.d.signal(signal.SIGTTOU)
        wait_for(lambda: len(self.d.pool("square")["workers"]) == 1,
                 what="1 worker")
        r = self.d.submit("square", lines(*range(1, 101)))
        self.assertEqual(r.summary()["sum"], "338350")

    def test_sigusr1_reopens_the_log_file(self):
        logfile = os.path.join(self.d.dir, "file.log")
        self.d.write(self.pools, extra=f'log_file = "{logfile}";\n')
        self.assertEqual(self.d.client(["reload"]).rc, 0)
        wait_for(lambda: os.path.exists(logfile), what="the log file")
        os.rename(logfile, logfile + ".1")
        self.d.signal(signal.SIGUSR1)
        wait_for(lambda: os.path.exists(logfile), what="a new log file")
        self.d.signal(signal.SIGTTIN)
        wait_for(lambda: "3 workers" in open(logfile).read(),
                 what="new lines in the new file")


if __name__ == "__main__":
    unittest.main()
