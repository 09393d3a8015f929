#!/usr/bin/env python3
"""Failure handling (docs/architecture.md, "When a worker dies"): workers that
crash, hang, babble, refuse to start, or get killed from outside; the
supervisor itself killed; leaks over many restarts.  Each test asserts the
exact aggregate and that every job is reported exactly once, and that no
process of the run survives it."""
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from harness import (TW, DroverTestCase, bytes_written, children,  # noqa
                     fd_count, feed_and_wait, lines, rss_kb, run, start,
                     sum_squares, tagged_env, tagged_pids, wait_for)


def check_every_id_once(test, jobs, n):
    test.assertEqual(sorted(j["id"] for j in jobs), list(range(n)))


def comm(pid):
    """The process's name (/proc/PID/comm), or "" once it is gone."""
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip()
    except OSError:
        return ""


class TestCrashes(DroverTestCase):
    def test_worker_that_kills_itself_on_some_jobs(self):
        n = 20000
        res = run(["-w", "4", "--json", "--attempts", "10",
                   "--restart-limit", "0", "--worker", f"{TW} crash-pct 3"],
                  lines(*range(1, n + 1)), timeout=300)
        self.assertEqual(res.rc, 0, res.errtext[-3000:])
        jobs, summary = res.jobs_and_summary()
        check_every_id_once(self, jobs, n)
        for j in jobs:
            self.assertEqual(j["output"], str((j["id"] + 1) ** 2))
        self.assertEqual(summary["sum"], sum_squares(n))
        self.assertGreater(summary["restarts"], 0)
        self.assertGreater(summary["retried"], 0)
        self.assertEqual(summary["ok"], n)
        self.assertGreater(sum(1 for j in jobs if j["attempts"] > 1), 0)

    def test_chaos_sigkill_random_workers(self):
        n = 300000
        env = tagged_env()
        tag = env["DROVER_TEST_TAG"]
        p = start(["-w", "4", "--json", "--rate", "100000",
                   "--restart-limit", "0", "--attempts", "20", "square"],
                  env=env, stdin=subprocess.PIPE)
        kills, zombies = [], []
        stop = threading.Event()

        def written():
            try:
                return bytes_written(p.pid)
            except OSError:
                return None     # gone

        def chaos():
            # A kill each time drover has written another 128 to 768 KiB
            # (results, jobs to workers), some 60 kills in this run: paced
            # by its progress, not by the clock, so that a slow machine
            # (ASan) sees the same chaos and the run always gets on.
            while not stop.is_set():
                now = written()
                if now is None:
                    return
                target = now + random.randint(128, 768) * 1024

                def got_on():
                    now = written()
                    return stop.is_set() or now is None or now >= target
                wait_for(got_on, timeout=300, interval=0.005,
                         what="drover to get on")
                # Workers only: at exit, ASan's leak check runs a tracer
                # as a child of drover, and a kill of it hangs the check.
                kids = [c for c, st in children(p.pid)
                        if comm(c) == "drover-worker"]
                zombies.extend(c for c, st in children(p.pid) if st == "Z")
                if kids:
                    victim = random.choice(kids)
                    try:
                        os.kill(victim, signal.SIGKILL)
                        kills.append(victim)
                    except ProcessLookupError:
                        pass

        t = threading.Thread(target=chaos)
        t.start()
        out, err = feed_and_wait(p, lines(*range(1, n + 1)))
        stop.set()
        t.join()
        self.assertEqual(p.returncode, 0, err.decode()[-3000:])
        objs = [json.loads(x) for x in out.decode().splitlines()]
        jobs, summary = objs[:-1], objs[-1]["summary"]
        check_every_id_once(self, jobs, n)
        self.assertEqual(summary["sum"], sum_squares(n))
        self.assertEqual(summary["ok"], n)
        self.assertGreater(len(kills), 20, "the chaos loop should have hit")
        self.assertGreater(summary["restarts"], 0)
        # A zombie may exist for an instant before SIGCHLD is handled; one
        # that lingers is a leak.  Sample again: none may persist.
        lingering = [z for z in set(zombies) if os.path.exists(f"/proc/{z}")]
        self.assertEqual(lingering, [])
        wait_for(lambda: not tagged_pids(tag), timeout=5,
                 what="no process of the run to remain")

    def test_restarts_and_retries_counted_in_text_summary(self):
        res = run(["-w", "2", "--restart-limit", "0", "--worker",
                   f"{TW} crash-nth 50"], lines(*range(1, 1001)))
        self.assertEqual(res.rc, 0, res.errtext[-2000:])
        s = res.summary()
        self.assertEqual(s["sum"], str(sum_squares(1000)))
        self.assertGreater(s["restarts"], 10)
        self.assertGreater(s["retried"], 0)

    def test_poison_job_ends_crashed_after_attempts(self):
        # A job that kills every worker that runs it: crashed after 3 tries,
        # the others unaffected and not charged.
        res = run(["-w", "2", "--json", "--exec",
                   "sh -c 'test {} = 7 && kill -9 $PPID; echo {}'"],
                  lines(*range(1, 11)))
        self.assertEqual(res.rc, 1, res.errtext)
        jobs, summary = res.jobs_and_summary()
        check_every_id_once(self, jobs, 10)
        by = {j["id"]: j for j in jobs}
        self.assertEqual(by[6]["status"], "crashed")
        self.assertIn("SIGKILL", by[6]["error"])
        self.assertEqual(by[6]["attempts"], 3)
        for i in range(10):
            if i != 6:
                self.assertEqual(by[i]["status"], "ok", by[i])
        self.assertEqual(summary["sum"], sum(range(1, 11)) - 7)


class TestTimeouts(DroverTestCase):
    def test_hung_job_is_killed_at_its_timeout(self):
        t0 = time.monotonic()
        res = run(["-w", "2", "--json", "--timeout", "0.5", "--worker",
                   f"{TW} hang-on 7"], lines(*range(1, 21)))
        self.assertLess(time.monotonic() - t0, 10)
        self.assertEqual(res.rc, 1, res.errtext)
        jobs, summary = res.jobs_and_summary()
        check_every_id_once(self, jobs, 20)
        by = {j["id"]: j for j in jobs}
        self.assertEqual(by[6]["status"], "timeout")
        self.assertIn("timed out after 0.5s", by[6]["error"])
        self.assertEqual(by[6]["attempts"], 1)
        self.assertGreaterEqual(by[6]["latency_us"], 500000)
        for i in range(20):
            if i != 6:
                self.assertEqual(by[i]["status"], "ok")
        self.assertEqual(summary["sum"], sum_squares(20) - 49)
        self.assertEqual(summary["statuses"], {"timeout": 1})

    def test_retry_timeouts(self):
        res = run(["-w", "1", "--json", "--timeout", "0.2", "--attempts",
                   "2", "--retry-timeouts", "--worker", f"{TW} hang-on 3"],
                  lines(1, 2, 3, 4))
        jobs, _ = res.jobs_and_summary()
        by = {j["id"]: j for j in jobs}
        self.assertEqual(by[2]["status"], "timeout")
        self.assertEqual(by[2]["attempts"], 2)

    def test_exec_timeout_leaves_no_grandchild(self):
        env = tagged_env()
        res = run(["-w", "2", "--json", "--timeout", "0.5", "--exec",
                   "sh -c 'sleep 60 & sleep 60; echo {}'"], lines("a", "b"),
                  env=env)
        self.assertEqual(res.rc, 1)
        jobs, _ = res.jobs_and_summary()
        self.assertEqual({j["status"] for j in jobs}, {"timeout"})
        # run() already waited for every tagged process (the sleeps too).
        self.assertEqual(tagged_pids(env["DROVER_TEST_TAG"]), [])


class TestUnstartable(DroverTestCase):
    def test_missing_program_is_one_fast_clear_error(self):
        t0 = time.monotonic()
        res = run(["-w", "4", "--worker", "/nonexistent/prog --flag"],
                  lines(1, 2, 3))
        self.assertLess(time.monotonic() - t0, 2)
        self.assertEqual(res.rc, 3)
        self.assertIn("/nonexistent/prog", res.errtext)
        # One line, before any input is read: no job lines, no summary.
        self.assertEqual(res.errtext, "drover: unable to exec "
                         "/nonexistent/prog: No such file or directory\n")

    def test_not_executable(self):
        res = run(["--worker", "/etc/passwd"], lines(1))
        self.assertEqual(res.rc, 3)
        self.assertEqual(res.errtext, "drover: unable to exec /etc/passwd: "
                         "not executable\n")

    def test_worker_that_exits_at_start(self):
        t0 = time.monotonic()
        res = run(["-w", "2", "--worker", f"{TW} exit-at-start"],
                  lines(*range(100)))
        self.assertLess(time.monotonic() - t0, 5)
        self.assertEqual(res.rc, 3, res.errtext)
        self.assertIn("boom: cannot start", res.errtext)
        self.assertIn("exited with status 1", res.errtext)
        self.assertLess(len(res.errtext.splitlines()), 40, res.errtext)
        s = res.summary()
        self.assertEqual(s["ok"], 0)

    def test_exit_125_means_do_not_respawn(self):
        t0 = time.monotonic()
        res = run(["-w", "2", "--worker", f"{TW} exit125"], lines(1, 2))
        self.assertLess(time.monotonic() - t0, 2)
        self.assertEqual(res.rc, 3)
        self.assertIn("do not respawn", res.errtext)
        self.assertIn("bad configuration", res.errtext)


class TestMisbehaving(DroverTestCase):
    def test_junk_bytes_line_protocol(self):
        # In the line protocol a junk line is an answer (its bytes reach the
        # JSON escaped); the second one, with nothing in flight, is an extra
        # line: the worker is replaced and the rest go on.  One worker, so
        # that the rest need the replacement (with two, the other could
        # finish them all first, and nothing would be restarted).
        res = run(["-w", "1", "--json", "--window", "1", "--worker",
                   f"{TW} junk-on 5"], lines(*range(1, 51)))
        jobs, summary = res.jobs_and_summary()   # every line is JSON
        check_every_id_once(self, jobs, 50)
        self.assertGreater(summary["restarts"], 0)
        self.assertIn("extra result line", res.errtext)
        by = {j["id"]: j for j in jobs}
        self.assertTrue(by[4]["output"].startswith("\ufffd\ufffd garbage"))
        for i in range(50):
            if i != 4:
                self.assertEqual(by[i]["output"], str((i + 1) ** 2))

    def test_junk_bytes_frame_protocol(self):
        res = run(["-w", "2", "--json", "--protocol", "frame", "--worker",
                   f"{TW} junk-on 5"], lines(*range(1, 51)))
        jobs, summary = res.jobs_and_summary()
        check_every_id_once(self, jobs, 50)
        self.assertIn("protocol error", res.errtext)
        self.assertGreater(summary["restarts"], 0)
        self.assertEqual(summary["ok"], 49)
        by = {j["id"]: j for j in jobs}
        self.assertEqual(by[4]["status"], "crashed")
        self.assertIn("protocol error", by[4]["error"])
        self.assertEqual(by[4]["attempts"], 3)

    def test_extra_result_line(self):
        res = run(["-w", "1", "--json", "--window", "1", "--worker",
                   f"{TW} extra-on 3"], lines(1, 2, 3, 4, 5))
        jobs, summary = res.jobs_and_summary()
        check_every_id_once(self, jobs, 5)
        self.assertIn("extra result line", res.errtext)
        self.assertEqual(summary["ok"], 5)
        self.assertEqual([j["output"] for j in sorted(jobs,
                          key=lambda j: j["id"])], ["1", "4", "9", "16", "25"])

    def test_worker_closing_stdout_is_replaced(self):
        res = run(["-w", "1", "--json", "--window", "1", "--worker",
                   f"{TW} close-stdout"], lines(*range(1, 6)))
        jobs, summary = res.jobs_and_summary()
        check_every_id_once(self, jobs, 5)
        self.assertEqual(summary["ok"], 5)
        self.assertIn("closed its stdout", res.errtext)

    def test_stderr_flood_is_rate_limited(self):
        res = run(["-w", "2", "--quiet", "--worker",
                   f"{TW} stderr-flood 50"], lines(*range(1, 2001)))
        self.assertEqual(res.rc, 0)
        self.assertEqual(res.summary()["sum"], str(sum_squares(2000)))
        self.assertLess(res.errtext.count("noise line"), 2000)
        self.assertIn("lines of stderr dropped", res.errtext)


class TestLimits(DroverTestCase):
    def test_hello_is_not_held_to_the_result_limit(self):
        # drover-worker's HELLO is longer than these results may be.
        res = run(["-w", "1", "--max-result-bytes", "10", "square"],
                  lines(1, 2, 3))
        self.assertEqual(res.rc, 0, res.errtext)
        self.assertIn("sum 14 ", res.errtext)

    def test_long_line_in_one_read_is_still_over_the_limit(self):
        worker = ("python3 -c 'import sys\nfor l in sys.stdin: "
                  "print(\"x\" * 10000, flush=True)'")
        res = run(["-w", "1", "--json", "--max-result-bytes", "4096",
                   "--worker", worker], lines(1, 2, 3))
        # Never a good first answer: failed starts, then the pool fails.
        self.assertEqual(res.rc, 3, res.errtext)
        jobs, _ = res.jobs_and_summary()
        self.assertEqual({j["status"] for j in jobs}, {"crashed"})
        self.assertIn("result line over 4096 bytes", res.errtext)

    def test_line_worker_start_up_is_not_the_jobs_time(self):
        # 0.5 s to start (imports, a model), then instant answers; the
        # first job's clock allows start_secs more.
        worker = ("python3 -c 'import sys, time\ntime.sleep(0.5)\n"
                  "for l in sys.stdin: print(int(l) ** 2, flush=True)'")
        res = run(["-w", "1", "--timeout", "0.3", "--worker", worker],
                  lines(1, 2, 3))
        self.assertEqual(res.rc, 0, res.errtext)
        self.assertIn("sum 14 ", res.errtext)


class TestRecycling(DroverTestCase):
    def test_max_jobs_per_worker(self):
        res = run(["-w", "2", "--json", "--max-jobs-per-worker", "100",
                   "--window", "4", "square"], lines(*range(1, 2001)))
        self.assertEqual(res.rc, 0, res.errtext)
        jobs, summary = res.jobs_and_summary()
        check_every_id_once(self, jobs, 2000)
        self.assertEqual(summary["sum"], sum_squares(2000))
        self.assertGreaterEqual(len({j["worker"] for j in jobs}), 12)
        self.assertEqual(summary["restarts"], 0, "recycling is planned")
        self.assertEqual(summary["retried"], 0)

    def test_max_rss(self):
        res = run(["-w", "1", "--json", "--max-rss-mb", "40", "--worker",
                   f"{TW} leak 2048", "--rate", "50"], lines(*range(1, 101)),
                  timeout=60)
        self.assertEqual(res.rc, 0, res.errtext)
        jobs, summary = res.jobs_and_summary()
        check_every_id_once(self, jobs, 100)
        self.assertGreaterEqual(len({j["worker"] for j in jobs}), 2)
        self.assertEqual(summary["retried"], 0)


class TestSupervisorDeath(DroverTestCase):
    def test_sigkill_supervisor_takes_workers_down(self):
        p = start(["-w", "3", "--exec", "sleep 30"])
        p.stdin.write(lines(*range(10)))
        p.stdin.flush()
        wait_for(lambda: len(tagged_pids(p.tag)) >= 7, what="3 workers and "
                 "their sleeps")
        p.kill()
        p.wait()
        wait_for(lambda: not tagged_pids(p.tag), timeout=2,
                 what="every worker and command to die with the supervisor")

    def test_sigkill_supervisor_line_worker(self):
        p = start(["-w", "2", "--worker", f"{TW} hang-on 1"])
        p.stdin.write(lines(1, 1))
        p.stdin.flush()
        wait_for(lambda: len(tagged_pids(p.tag)) >= 3, what="workers")
        p.kill()
        p.wait()
        wait_for(lambda: not tagged_pids(p.tag), timeout=2,
                 what="workers to die with the supervisor")


class TestStragglers(DroverTestCase):
    def test_a_workers_forked_child_goes_with_it(self):
        # Each worker leaves a child in its process group holding its
        # stdout; run() fails unless no process of the run survives it.
        res = run(["-w", "3", "--quiet", "--worker", f"{TW} fork-child"],
                  lines(*range(1, 301)))
        self.assertEqual(res.rc, 0, res.errtext)
        self.assertIn(f"sum {sum_squares(300)} ", res.errtext)

    def test_a_worker_that_left_its_group_is_still_killed(self):
        t0 = time.monotonic()
        res = run(["-w", "1", "--json", "--timeout", "1", "--worker",
                   f"{TW} escape-hang-on 3"], lines(1, 2, 3, 4, 5))
        self.assertLess(time.monotonic() - t0, 10)
        self.assertEqual(res.rc, 1, res.errtext)
        jobs, _ = res.jobs_and_summary()
        self.assertEqual({j["id"]: j["status"] for j in jobs},
                         {0: "ok", 1: "ok", 2: "timeout", 3: "ok", 4: "ok"})

    def test_a_crashed_workers_child_goes_too(self):
        res = run(["-w", "1", "--quiet", "--worker",
                   f"{TW} fork-child", "--max-jobs-per-worker", "5"],
                  lines(*range(1, 51)))
        self.assertEqual(res.rc, 0, res.errtext)
        self.assertIn(f"sum {sum_squares(50)} ", res.errtext)


class TestLeaks(DroverTestCase):
    def test_worker_holds_only_stdin_stdout_stderr(self):
        res = run(["-w", "3", "--json", "--worker", f"{TW} fds"],
                  lines(*range(1, 31)))
        self.assertEqual(res.rc, 0, res.errtext)
        jobs, _ = res.jobs_and_summary()
        self.assertEqual({",".join(sorted(j["output"].split(",")))
                          for j in jobs}, {"0,1,2"})

    def test_fds_and_memory_flat_over_a_thousand_restarts(self):
        # Measure at quiet points, not while workers come and go: feed a
        # first lot, wait until every one is answered (the worker that
        # answered the last is alive and idle, nothing is being replaced),
        # let the counts settle, measure; then a thousand crashes more and
        # the same again.  Both points are the same state, so the fd count
        # must be equal, not merely close.  Under ASan, freed memory sits
        # in a quarantine that looks like growth; without it, RSS measures
        # what we actually hold.
        env = tagged_env({"ASAN_OPTIONS": os.environ.get("ASAN_OPTIONS", "") +
                          ":quarantine_size_mb=0:thread_local_quarantine_"
                          "size_kb=0"})
        p = start(["-w", "1", "--json", "--window", "1", "--restart-limit",
                   "0", "--worker", f"{TW} crash-nth 2"], env=env)
        answered = [0]
        ids = []
        err = []
        summary = {}

        def read_out():
            for line in p.stdout:
                rec = json.loads(line)
                if "id" in rec:
                    ids.append(rec["id"])
                    answered[0] += 1
                else:
                    summary.update(rec["summary"])

        readers = [threading.Thread(target=read_out),
                   threading.Thread(target=lambda: err.append(
                       p.stderr.read()))]
        for t in readers:
            t.start()

        def quiet_point(upto):
            wait_for(lambda: answered[0] >= upto, timeout=120,
                     what=f"{upto} answers")
            last = [None]

            def settled():
                now = (fd_count(p.pid), rss_kb(p.pid))
                same, last[0] = now == last[0], now
                return same
            wait_for(settled, interval=0.2, what="fd and RSS to settle")
            return last[0]

        n0, n = 300, 2700
        p.stdin.write(lines(*range(1, n0 + 1)))
        p.stdin.flush()
        fds0, rss0 = quiet_point(n0)
        p.stdin.write(lines(*range(n0 + 1, n + 1)))
        p.stdin.flush()
        fds1, rss1 = quiet_point(n)
        p.stdin.close()
        p.wait(timeout=60)
        for t in readers:
            t.join()
        err = err[0].decode()
        self.assertEqual(p.returncode, 0, err[-2000:])
        self.assertEqual(sorted(ids), list(range(n)))
        # Every job but the first is some worker's second: one crash each.
        self.assertEqual(summary["restarts"], n - 1, summary)
        self.assertEqual(summary["ok"], n)
        self.assertEqual(summary["sum"], sum_squares(n))
        self.assertEqual(fds1, fds0, "fds leaked over the restarts")
        self.assertLess(rss1 - rss0, 512, "RSS grew over the restarts")

if __name__ == "__main__":
    unittest.main()
