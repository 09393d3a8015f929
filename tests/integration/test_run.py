#!/usr/bin/env python3
"""drover run, end to end: output, JSON, handlers, quoting, ordering, bad
input, signals.  Every assertion is on exact outcomes."""
import hashlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from harness import (DroverTestCase, SCORE_PY, children, in_nanosleep,  # noqa
                     lines, read_until, run, start, sum_squares, tagged_pids,
                     wait_for)


class TestReference(DroverTestCase):
    def test_seq_100_square(self):
        res = run(["-w", "5", "square"], lines(*range(1, 101)))
        self.assertEqual(res.rc, 0, res.errtext)
        got = sorted(int(x) for x in res.text.split())
        self.assertEqual(got, [i * i for i in range(1, 101)])
        s = self.assertSummary(res, jobs=100, ok=100, failed=0, retried=0)
        self.assertEqual(s["sum"], "338350")
        self.assertEqual((s["min"], s["max"], s["mean"]),
                         ("1", "10000", "3383.5"))

    def test_sum_is_exact_beyond_64_bits(self):
        # Squares of 3e9 overflow int64 sums quickly: 1000 of them = 9e21.
        res = run(["-w", "2", "--quiet", "square"],
                  lines(*([3000000000] * 1000)))
        self.assertEqual(res.rc, 0, res.errtext)
        self.assertEqual(res.text, "")
        self.assertEqual(res.summary()["sum"], str(1000 * 3000000000 ** 2))

    def test_json_odd_n_every_id_once(self):
        n = 999
        res = run(["-w", "4", "--json", "square"], lines(*range(1, n + 1)))
        self.assertEqual(res.rc, 0, res.errtext)
        jobs, summary = res.jobs_and_summary()
        self.assertEqual(sorted(j["id"] for j in jobs), list(range(n)))
        pids = set()
        for j in jobs:
            self.assertEqual(j["status"], "ok")
            self.assertEqual(j["output"], str((j["id"] + 1) ** 2))
            self.assertEqual(j["attempts"], 1)
            self.assertIsInstance(j["latency_us"], int)
            self.assertNotIn("error", j)
            pids.add(j["worker"])
        self.assertLessEqual(len(pids), 4)
        self.assertEqual(summary["jobs"], n)
        self.assertEqual(summary["ok"], n)
        self.assertEqual(summary["failed"], 0)
        self.assertEqual(summary["retried"], 0)
        self.assertEqual(summary["restarts"], 0)
        self.assertEqual(summary["sum"], sum_squares(n))
        self.assertEqual(summary["min"], 1)
        self.assertEqual(summary["max"], n * n)
        self.assertEqual(summary["mean"], sum_squares(n) / n)
        lat = summary["latency_us"]
        self.assertLessEqual(lat["p50"], lat["p90"])
        self.assertLessEqual(lat["p90"], lat["p99"])
        self.assertLessEqual(lat["p99"], lat["max"])
        self.assertEqual(lat["max"], max(j["latency_us"] for j in jobs))

    def test_ordered_output_is_input_order(self):
        res = run(["-w", "3", "--ordered", "square"],
                  lines(*range(5000, 0, -1)))
        self.assertEqual(res.rc, 0, res.errtext)
        self.assertEqual(res.text.split(),
                         [str(i * i) for i in range(5000, 0, -1)])

    def test_null_separated_input(self):
        res = run(["-0", "--ordered", "square"], b"3\x004\x005")
        self.assertEqual(res.rc, 0, res.errtext)
        self.assertEqual(res.text, "9\n16\n25\n")

    def test_runs_of_empty_lines(self):
        """Empty lines are jobs too (the square handler fails them); many
        in a row once made the record splitter write past its array."""
        for blanks in (16, 255, 256, 270, 600, 5000):
            data = b"1\n2\n3\n" + b"\n" * blanks + b"4\n"
            res = run(["--quiet", "square"], data)
            self.assertEqual(res.rc, 1, res.errtext)
            self.assertSummary(res, jobs=blanks + 4, ok=4, failed=blanks)
            self.assertEqual(res.summary()["sum"], "30")

    def test_input_file_and_progress(self):
        with tempfile.NamedTemporaryFile("wb") as f:
            f.write(lines(*range(1, 2001)))
            f.flush()
            res = run(["-i", f.name, "--progress", "--quiet", "square"])
        self.assertEqual(res.rc, 0, res.errtext)
        self.assertEqual(res.summary()["sum"], str(sum_squares(2000)))

    def test_empty_input(self):
        res = run(["-w", "3", "square"], b"")
        self.assertEqual(res.rc, 0, res.errtext)
        self.assertEqual(res.text, "")
        self.assertSummary(res, jobs=0, ok=0, failed=0)
        self.assertIsNone(res.summary()["sum"])

    def test_empty_input_json_has_no_numbers(self):
        res = run(["--json", "square"], b"")
        self.assertEqual(res.rc, 0, res.errtext)
        (_, summary) = res.jobs_and_summary()
        self.assertEqual(summary["jobs"], 0)
        for k in ("sum", "min", "max", "mean", "latency_us"):
            self.assertNotIn(k, summary)

    def test_stats_interval(self):
        res = run(["-w", "2", "--quiet", "--stats-interval", "0.1",
                   "sleep"], lines(*([30] * 20)))
        self.assertEqual(res.rc, 0, res.errtext)
        stats = [ln for ln in res.errtext.splitlines()
                 if ln.startswith("drover: stats: ")]
        self.assertGreaterEqual(len(stats), 2, res.errtext)
        self.assertRegex(stats[-1], r"^drover: stats: \d+ jobs \(\+\d+ in "
                         r"[\d.]+ s, \d+ jobs/s\), 0 failed \(\+0\); latency "
                         r"p50 \d+us p90 \d+us p99 \d+us max \d+us$")

    def test_sleep_handler(self):
        res = run(["-w", "4", "--json", "sleep"], lines(*([20] * 8)))
        self.assertEqual(res.rc, 0, res.errtext)
        jobs, summary = res.jobs_and_summary()
        self.assertEqual(summary["sum"], 160)
        for j in jobs:
            self.assertGreaterEqual(j["latency_us"], 20000)


class TestSha256(DroverTestCase):
    def test_agrees_with_sha256sum(self):
        with tempfile.TemporaryDirectory() as d:
            paths = []
            for i in range(300):
                name = f"file {i} with  spaces.txt" if i % 3 else f"f{i}"
                p = os.path.join(d, name)
                with open(p, "wb") as f:
                    f.write(os.urandom(i * 37))
                paths.append(p)
            odd = os.path.join(d, "back\\slash")
            with open(odd, "wb") as f:
                f.write(b"x")
            paths.append(odd)
            res = run(["-w", "4", "--ordered", "sha256"],
                      "".join(p + "\n" for p in paths).encode())
            self.assertEqual(res.rc, 0, res.errtext)
            ref = subprocess.run(["sha256sum", "--"] + paths,
                                 capture_output=True, check=True).stdout
        self.assertEqual(res.out, ref)
        self.assertSummary(res, jobs=301, ok=301, failed=0)

    def test_missing_path_fails_that_job_only(self):
        with tempfile.NamedTemporaryFile() as f:
            res = run(["--json", "sha256"],
                      lines("/nonexistent/x", f.name))
        self.assertEqual(res.rc, 1)
        jobs, summary = res.jobs_and_summary()
        by = {j["id"]: j for j in jobs}
        self.assertEqual(by[0]["status"], "failed")
        self.assertIn("No such file or directory", by[0]["error"])
        self.assertEqual(by[1]["status"], "ok")
        self.assertTrue(by[1]["output"].startswith(
            hashlib.sha256(b"").hexdigest()))
        self.assertEqual((summary["ok"], summary["failed"]), (1, 1))


class TestExec(DroverTestCase):
    HOSTILE = ["a b", "it's", "$HOME", "x;y", "`id`", "*", "-n", "a\\b",
               "\"q\"", "  lead", "back tick ` and $(echo hi)"]

    def test_direct_exec_passes_items_verbatim(self):
        res = run(["-w", "3", "--ordered", "--exec", "printf \"%s|\" {}"],
                  lines(*self.HOSTILE))
        self.assertEqual(res.rc, 0, res.errtext)
        self.assertEqual(res.text, "".join(h + "|\n" for h in self.HOSTILE))

    def test_shell_exec_quotes_items(self):
        res = run(["-w", "3", "--ordered", "--exec",
                   "printf '%s|' {} | cat"], lines(*self.HOSTILE))
        self.assertEqual(res.rc, 0, res.errtext)
        self.assertEqual(res.text, "".join(h + "|\n" for h in self.HOSTILE))

    def test_job_on_stdin_without_placeholder(self):
        res = run(["--ordered", "--exec", "wc -c"], lines("abc", "hello"))
        self.assertEqual(res.rc, 0, res.errtext)
        self.assertEqual(res.text.split(), ["4", "6"])

    def test_nonzero_exit_is_a_failed_job(self):
        res = run(["-w", "2", "--json", "--exec", "test {} = ok"],
                  lines("ok", "bad", "ok"))
        self.assertEqual(res.rc, 1)
        jobs, summary = res.jobs_and_summary()
        by = {j["id"]: j for j in jobs}
        self.assertEqual(by[1]["status"], "failed")
        self.assertEqual(by[1]["error"], "exit status 1")
        self.assertEqual([by[0]["status"], by[2]["status"]], ["ok", "ok"])
        self.assertEqual((summary["ok"], summary["failed"]), (2, 1))

    def test_missing_command_fails_jobs_not_the_run(self):
        res = run(["--json", "--exec", "/nonexistent/cmd {}"], lines("x"))
        self.assertEqual(res.rc, 1)
        jobs, _ = res.jobs_and_summary()
        self.assertEqual(jobs[0]["status"], "failed")
        self.assertIn("No such file or directory", jobs[0]["error"])


class TestCustomWorker(DroverTestCase):
    def test_python_line_worker_ordered_from_all_workers(self):
        n, w = 2000, 4
        res = run(["-w", str(w), "--ordered", "--worker",
                   f"{sys.executable} {SCORE_PY}"], lines(*range(n)))
        self.assertEqual(res.rc, 0, res.errtext)
        out = [line.split() for line in res.text.splitlines()]
        self.assertEqual([int(o[0]) for o in out], [2 * i for i in range(n)])
        self.assertEqual(len({o[1] for o in out}), w,
                         "every worker process should have served jobs")
        self.assertSummary(res, jobs=n, ok=n, failed=0)

    def test_frame_protocol_custom_worker(self):
        from harness import BUILD
        example = os.path.join(BUILD, "worker", "dw-example")
        res = run(["-w", "2", "--protocol", "frame", "--worker", example,
                   "--json"], lines("one two three", "four", ""))
        self.assertEqual(res.rc, 1, res.errtext)
        jobs, summary = res.jobs_and_summary()
        by = {j["id"]: j for j in jobs}
        self.assertEqual((by[0]["output"], by[1]["output"]), ("3", "1"))
        self.assertEqual(by[2]["status"], "failed")
        self.assertEqual(summary["sum"], 4)


class TestBadInput(DroverTestCase):
    def test_non_integer_is_failed_others_unaffected(self):
        res = run(["-w", "2", "--json", "square"],
                  lines(2, "abc", 3, "4.5", "", " 7", "99999999999999999999"))
        self.assertEqual(res.rc, 1)
        jobs, summary = res.jobs_and_summary()
        by = {j["id"]: j for j in jobs}
        self.assertEqual(sorted(by), list(range(7)))
        self.assertEqual(by[0]["output"], "4")
        self.assertEqual(by[2]["output"], "9")
        for i in (1, 3, 4, 5):
            self.assertEqual(by[i]["status"], "failed")
            self.assertIn("not an integer", by[i]["error"])
        self.assertIn("out of 64-bit range", by[6]["error"])
        self.assertEqual(summary["sum"], 13)
        self.assertEqual((summary["ok"], summary["failed"]), (2, 5))

    def test_text_failures_go_to_stderr_with_the_job_index(self):
        res = run(["square"], lines(1, "x", 2))
        self.assertEqual(res.rc, 1)
        self.assertEqual(sorted(res.text.split()), ["1", "4"])
        self.assertIn("drover: job 1 failed: not an integer: 'x'",
                      res.errtext)

    def test_line_over_max_job_bytes_is_rejected(self):
        big = "9" * 5000
        res = run(["--json", "--max-job-bytes", "100", "square"],
                  (f"5\n{big}\n6\n").encode())
        self.assertEqual(res.rc, 1)
        jobs, summary = res.jobs_and_summary()
        by = {j["id"]: j for j in jobs}
        self.assertEqual(by[1]["status"], "rejected")
        self.assertIn("5000 bytes", by[1]["error"])
        self.assertEqual(by[1]["attempts"], 0)
        self.assertNotIn("worker", by[1])
        self.assertEqual((by[0]["output"], by[2]["output"]), ("25", "36"))
        self.assertEqual(summary["statuses"], {"rejected": 1})

    def test_invalid_utf8_keeps_json_valid(self):
        res = run(["--json", "--exec", "printf %s {}"],
                  b"caf\xc3\xa9\n\xff\xfe bad\n")
        self.assertEqual(res.rc, 0, res.errtext)
        jobs, _ = res.jobs_and_summary()
        by = {j["id"]: j for j in jobs}
        self.assertEqual(by[0]["output"], "caf\u00e9")
        self.assertEqual(by[1]["output"], "\ufffd\ufffd bad")

    def test_usage_errors_exit_2(self):
        for args, msg in [(["-w", "0", "square"], "-w"),
                          (["-w", "x", "square"], "-w"),
                          (["nosuch"], "unknown handler 'nosuch'"),
                          ([], "exactly one"),
                          (["square", "--exec", "x"], "exactly one"),
                          (["--timeout", "-1", "square"], "--timeout"),
                          (["--burst", "5", "square"], "--burst"),
                          (["-i", "/nonexistent/in", "square"],
                           "/nonexistent/in")]:
            res = run(args, b"1\n")
            self.assertEqual(res.rc, 2, (args, res.errtext))
            self.assertIn(msg, res.errtext, args)

    def test_rate_limit_paces_dispatch(self):
        t0 = time.monotonic()
        res = run(["-w", "2", "--rate", "100", "--burst", "1", "--quiet",
                   "square"], lines(*range(60)))
        took = time.monotonic() - t0
        self.assertEqual(res.rc, 0, res.errtext)
        self.assertGreaterEqual(took, 0.55)
        self.assertLess(took, 5)


class TestOptionBounds(DroverTestCase):
    """drover run's pool options take the bounds of droverd.conf's keys."""

    def test_window_zero_adapts_even_for_a_line_worker(self):
        res = run(["--window", "0", "-w", "1", "--worker",
                   "sh -c 'while read l; do echo $((l * l)); done'"],
                  lines(*range(1, 101)))
        self.assertEqual(res.rc, 0, res.errtext)
        self.assertEqual(res.summary()["sum"], "338350")

    def test_bounds_are_the_tables(self):
        for opt, arg, bounds in [
                ("--window", "65537", "from 0 to 65536"),
                ("-w", "0", "from 1 to 1024"),
                ("--attempts", "256", "from 1 to 255"),
                ("--timeout", "-1", "from 0 to 31536000"),
                ("--burst", "0.5", "from 1 to 1000000000"),
                ("--max-job-bytes", "2G", "from 1 to 1073741824"),
                ("--start-retries", "1001", "from 0 to 1000")]:
            res = run([opt, arg, "square"], lines(1))
            self.assertEqual(res.rc, 2, (opt, res.errtext))
            self.assertIn(f"drover: {opt}: '{arg}' is not a ", res.errtext)
            self.assertIn(bounds, res.errtext, opt)
        # 0 means "none" in the table, so here too.
        res = run(["--timeout", "0", "--max-rss-mb", "0", "square"],
                  lines(3))
        self.assertEqual(res.rc, 0, res.errtext)


class TestSignals(DroverTestCase):
    def _start_sleepers(self, n=100, ms=300, workers=2):
        p = start(["-w", str(workers), "--json", "sleep"])
        p.stdin.write(lines(*([ms] * n)))
        p.stdin.flush()
        # Wait until the workers are busy: each asleep in a job.
        wait_for(lambda: sum(in_nanosleep(c) for c, _ in children(p.pid))
                 >= workers, what="every worker busy with a job")
        return p

    def test_sigint_finishes_in_flight_and_cancels_the_rest(self):
        p = self._start_sleepers()
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=30)
        self.assertEqual(p.returncode, 1, err)
        objs = [json.loads(x) for x in out.decode().splitlines()]
        jobs, summary = objs[:-1], objs[-1]["summary"]
        ids = sorted(j["id"] for j in jobs)
        self.assertEqual(ids, list(range(len(ids))), "each id exactly once")
        st = [j["status"] for j in jobs]
        self.assertGreaterEqual(st.count("ok"), 2)
        self.assertGreater(st.count("cancelled"), 0)
        self.assertEqual(set(st), {"ok", "cancelled"})
        self.assertEqual(summary["jobs"], len(jobs))
        wait_for(lambda: not tagged_pids(p.tag), timeout=5,
                 what="workers to exit")

    def test_second_signal_stops_at_once(self):
        p = self._start_sleepers(n=20, ms=20000)
        t0 = time.monotonic()
        p.send_signal(signal.SIGTERM)
        # The second signal only once the first one has been taken.
        first = read_until(p.stderr, b"again", what="the first signal's "
                           "warning")
        p.send_signal(signal.SIGTERM)
        out, err = p.communicate(timeout=10)
        err = first + err
        self.assertLess(time.monotonic() - t0, 5)
        self.assertEqual(p.returncode, 1, err)
        objs = [json.loads(x) for x in out.decode().splitlines()]
        jobs = objs[:-1]
        self.assertTrue(jobs)
        self.assertEqual({j["status"] for j in jobs}, {"cancelled"})
        self.assertEqual(sorted(j["id"] for j in jobs),
                         list(range(len(jobs))))
        wait_for(lambda: not tagged_pids(p.tag), timeout=5,
                 what="workers to exit")

    def test_stdout_closed_early_stops_the_run(self):
        env = None
        p = start(["-w", "2", "square"], stdin=subprocess.PIPE, env=env)
        head = subprocess.Popen(["head", "-n", "5"], stdin=p.stdout,
                                stdout=subprocess.PIPE)
        p.stdout.close()
        try:
            p.stdin.write(lines(*range(1, 2000001)))
        except BrokenPipeError:
            pass
        p.stdin.close()
        out = head.communicate(timeout=30)[0]
        p.wait(timeout=30)
        self.assertEqual(len(out.split()), 5)
        # Quiet, and gone as a filter whose reader left: by SIGPIPE.
        self.assertEqual(p.returncode, -signal.SIGPIPE)
        self.assertEqual(p.stderr.read(), b"")
        wait_for(lambda: not tagged_pids(p.tag), timeout=5,
                 what="workers to exit")


if __name__ == "__main__":
    unittest.main()
