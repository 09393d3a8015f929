#!/usr/bin/env python3
"""Every job accounted for, and droverd bounded, whatever clients, signals
and stdout do (docs/protocol.md, drover(1), droverd(8)).

- drover submit reports every job it read exactly once, with the reason
  when droverd took no more (drain, pool removed) or went away (SIGQUIT,
  SIGKILL), and an exit status that says so;
- a client that never reads its results costs droverd a few MiB;
- idle connections neither lock out `drover status` nor stay forever, and
  the client commands do not wait forever for an answer;
- drover run and drover submit react to signals whatever their stdout
  does, and the first signal waits at most --shutdown-timeout.
Each test fails on the code before these fixes."""
import json
import os
import resource
import select
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from harness import (DROVER, TW, DroverTestCase, Droverd, ctl_connect,  # noqa
                     ctl_frame, ctl_request, CTL_END, CTL_JOB, lines,
                     observe, pipe_full, rss_kb, start, sum_squares,
                     tagged_env, tagged_pids, wait_for)

SQUARE = 'name = "square"; workers = 2; handler = "square";'
SLOW = 'name = "slow"; workers = 2; handler = "sleep";'


def records(out):
    objs = [json.loads(x) for x in out.decode().splitlines()]
    assert objs and "summary" in objs[-1], out[-500:]
    return objs[:-1], objs[-1]["summary"]


def check_once(test, jobs, summary, n=None):
    """Ids contiguous from 0 (n of them if given), each once, and the
    summary counting exactly the records."""
    ids = sorted(j["id"] for j in jobs)
    test.assertEqual(ids, list(range(len(ids))))
    if n is not None:
        test.assertEqual(len(ids), n)
    test.assertEqual(summary["jobs"], len(jobs))
    test.assertEqual(summary["ok"],
                     sum(1 for j in jobs if j["status"] == "ok"))


def jobfile(d, values):
    path = os.path.join(d.dir, "jobs.txt")
    with open(path, "wb") as f:
        f.write(lines(*values))
    return path


class TestSubmitAccountsForEveryJob(DroverTestCase):
    def drained_mid_batch(self, stop):
        d = Droverd([SLOW], shutdown_timeout=30).start()
        try:
            path = jobfile(d, [2] * 5000)
            p = d.start_submit("slow", "--json", "-i", path)
            wait_for(lambda: d.pool("slow")["jobs"].get("ok", 0) > 200,
                     what="some jobs done")
            stop(d)
            out, err = p.communicate(timeout=60)
            jobs, summary = records(out)
            check_once(self, jobs, summary, 5000)
            st = {}
            for j in jobs:
                st[j["status"]] = st.get(j["status"], 0) + 1
            self.assertEqual(set(st), {"ok", "cancelled"}, st)
            self.assertGreater(st["cancelled"], 0)
            self.assertEqual(summary["ok"], st["ok"])
            self.assertEqual(summary["sum"], 2 * st["ok"])
            for j in jobs:
                if j["status"] == "cancelled" and j["attempts"] == 0:
                    self.assertIn("droverd took no more jobs", j["error"])
            self.assertEqual(p.returncode, 1, err)
            return d, err
        finally:
            d.kill()

    def test_sigterm_drain_cancels_what_droverd_never_took(self):
        def stop(d):
            d.signal(signal.SIGTERM)
        d, err = self.drained_mid_batch(stop)
        self.assertIn(b"shutting down", err)

    def test_removing_the_pool_cancels_what_it_never_took(self):
        def stop(d):
            d.write([SQUARE])
            r = d.client(["reload"])
            self.assertEqual(r.rc, 0, r.errtext)
        d, err = self.drained_mid_batch(stop)
        self.assertIn(b"pool was removed", err)

    def lost_mid_batch(self, sig, *opts):
        d = Droverd([SQUARE]).start()
        try:
            path = jobfile(d, range(1, 2000001))
            p = d.start_submit("square", "--json", "-i", path, *opts)
            # Its output is read as it comes, so that it goes on sending
            # (a full stdout would stop its input, and droverd would have
            # answered every job sent by the time the signal comes).
            chunks = []
            reader = threading.Thread(target=lambda: chunks.extend(
                iter(lambda: p.stdout.read(1 << 16), b"")), daemon=True)
            reader.start()
            wait_for(lambda: d.pool("square")["jobs"].get("ok", 0) > 20000,
                     what="some jobs done")
            d.signal(sig)
            err = p.stderr.read()
            p.wait(timeout=60)
            reader.join(60)
            out = b"".join(chunks)
            jobs, summary = records(out)
            check_once(self, jobs, summary)
            self.assertLess(len(jobs), 2000000)
            ok = [j for j in jobs if j["status"] == "ok"]
            self.assertEqual(summary["sum"],
                             sum(int(j["output"]) for j in ok))
            rest = [j for j in jobs if j["status"] != "ok"]
            self.assertTrue(all(j["status"] == "cancelled" for j in rest))
            return p.returncode, rest, err
        finally:
            d.kill()

    def test_sigkill_of_droverd_reports_every_outstanding_job(self):
        rc, rest, err = self.lost_mid_batch(signal.SIGKILL)
        self.assertEqual(rc, 3, err)
        self.assertTrue(rest)	# some were sent and never answered
        self.assertTrue(all(j["error"] == "lost the connection to droverd"
                            for j in rest), rest[:3])

    def test_sigkill_of_droverd_ordered(self):
        rc, rest, err = self.lost_mid_batch(signal.SIGKILL, "--ordered")
        self.assertEqual(rc, 3, err)

    def test_sigquit_of_droverd_reports_every_outstanding_job(self):
        rc, rest, err = self.lost_mid_batch(signal.SIGQUIT)
        self.assertIn(rc, (1, 3), err)


# A line worker answering each job with 1 MiB.
BIG = ("import sys\n"
       "for line in sys.stdin:\n"
       "    sys.stdout.write('x' * 1048576 + '\\n')\n"
       "    sys.stdout.flush()\n")


class TestClientsThatDoNotRead(DroverTestCase):
    def stuck_clients(self, n):
        tmp = tempfile.mkdtemp(prefix="drover-big-")
        script = os.path.join(tmp, "big.py")
        with open(script, "w") as f:
            f.write(BIG)
        big = (f'name = "big"; workers = 2; protocol = "line"; '
               f'command = [ "{sys.executable}", "{script}" ];')
        env = tagged_env()
        # ASan's quarantine keeps freed results for a while: measure what
        # droverd holds, not what ASan holds back.  Set whatever the build
        # (meson test sets no ASAN_OPTIONS, so this once never applied
        # there; a build without ASan ignores it).
        opts = env.get("ASAN_OPTIONS")
        env["ASAN_OPTIONS"] = (opts + ":" if opts else "") + \
            "quarantine_size_mb=0"
        d = Droverd([big, SQUARE], env=env).start()
        socks = []
        try:
            base = rss_kb(d.proc.pid)
            for _ in range(n):
                s = ctl_connect(d.sock)
                s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
                s.sendall(ctl_request({"op": "submit", "pool": "big"}))
                s.sendall(b"".join(ctl_frame(CTL_JOB, b"1", id=i)
                                   for i in range(1500)) +
                          ctl_frame(CTL_END))
                socks.append(s)
            # Held: nothing runs for them any more, the rest stays queued.
            wait_for(lambda: d.pool("big")["inflight"] == 0 and
                     d.pool("big")["queued"] > 0, timeout=60,
                     what="the stuck clients' batches to be held")
            # Held, it should stay so: its size over a second of that.
            peak = max(observe(1.0, lambda: rss_kb(d.proc.pid)))
            # A client that reads still gets through, on the same pool too.
            r = d.submit("square", lines(*range(1, 101)))
            self.assertEqual(r.rc, 0, r.errtext)
            self.assertEqual(int(r.summary()["sum"]), sum_squares(100))
            return base, peak, d
        finally:
            for s in socks:
                s.close()
            d.kill()

    def test_one_client_that_never_reads_is_bounded(self):
        base, peak, d = self.stuck_clients(1)
        sys.stderr.write(f"droverd RSS: {base} KiB at start, peak {peak} "
                         f"KiB with 1 non-reading client of 1 MiB results\n")
        self.assertLess(peak - base, 24 * 1024)

    def test_three_clients_that_never_read_are_bounded(self):
        base, peak, d = self.stuck_clients(3)
        sys.stderr.write(f"droverd RSS: {base} KiB at start, peak {peak} "
                         f"KiB with 3 non-reading clients of 1 MiB "
                         f"results\n")
        self.assertLess(peak - base, 3 * 24 * 1024)


def connect_retrying(path, timeout=10):
    """Connect, waiting while droverd's listen queue is full."""
    def connect():
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.connect(path)
            return s
        except BlockingIOError:
            s.close()
            return None
    return wait_for(connect, timeout=timeout, interval=0.001,
                    what="room in droverd's listen queue")


class TestIdleConnections(DroverTestCase):
    def test_idle_flood_does_not_lock_out_status(self):
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if hard != resource.RLIM_INFINITY and hard < 4096:
            self.skipTest(f"this test opens 2,000 sockets; the hard fd "
                          f"limit is {hard}")
        resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, 4096), hard))
        d = Droverd([SQUARE]).start(nofile=1024)
        conns = []
        try:
            for _ in range(2000):
                conns.append(connect_retrying(d.sock))
            t0 = time.monotonic()
            st = d.client(["status", "--json"], timeout=30)
            took = time.monotonic() - t0
            self.assertEqual(st.rc, 0, st.errtext)
            sys.stderr.write(f"drover status answered in {took:.3f} s with "
                             f"2,000 idle connections open\n")
            self.assertLess(took, 5)
            r = d.submit("square", lines(*range(1, 101)), timeout=30)
            self.assertEqual(r.rc, 0, r.errtext)
            self.assertEqual(int(r.summary()["sum"]), sum_squares(100))
            r = d.client(["reload"], timeout=30)
            self.assertEqual(r.rc, 0, r.errtext)
            self.assertIn("fds left", d.logtext())
            self.assertEqual(d.proc.poll(), None)
        finally:
            for c in conns:
                c.close()
            d.kill()

    def test_idle_and_stuck_connections_are_closed_after_10s(self):
        d = Droverd([SQUARE]).start()
        try:
            idle = ctl_connect(d.sock, timeout=20)
            half = ctl_connect(d.sock, timeout=20)
            half.sendall(ctl_request({"op": "submit", "pool": "square"}))
            half.sendall(ctl_frame(CTL_JOB, b"7", id=0) +
                         ctl_frame(CTL_JOB, b"8", id=1)[:9])
            t0 = time.monotonic()
            self.assertEqual(idle.recv(100), b"")
            t_idle = time.monotonic() - t0
            got = b""
            while True:
                chunk = half.recv(1 << 16)
                if not chunk:
                    break
                got += chunk
            t_half = time.monotonic() - t0
            self.assertGreater(t_idle, 8)
            self.assertLess(t_idle, 15)
            self.assertGreater(t_half, 8)
            self.assertLess(t_half, 15)
            self.assertIn(b"49", got)		# job 0's result came first
            r = d.submit("square", lines(1, 2, 3))
            self.assertEqual(r.rc, 0, r.errtext)
        finally:
            d.kill()

    def test_client_commands_time_out(self):
        tmp = tempfile.mkdtemp(prefix="drover-mute-")
        path = os.path.join(tmp, "mute.sock")
        lst = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        lst.bind(path)
        lst.listen(16)
        try:
            for args in (["status"], ["reload"],
                         ["submit", "--pool", "square"]):
                t0 = time.monotonic()
                p = subprocess.run([DROVER] + args + ["--socket", path,
                                                      "--timeout", "1"],
                                   input=b"1\n", capture_output=True,
                                   timeout=20)
                took = time.monotonic() - t0
                self.assertEqual(p.returncode, 3, p.stderr)
                self.assertIn(b"within 1 s", p.stderr)
                self.assertLess(took, 5)
        finally:
            lst.close()


class TestSlowReader(DroverTestCase):
    """A stdout that is read, slowly: input stops while output is behind,
    and must go on once it is written, however the writes were cut."""

    def slow_read(self, argv, env, n):
        p = subprocess.Popen(argv, stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             env=env)
        feeder = threading.Thread(target=lambda: (
            p.stdin.write(lines(*range(1, n + 1))), p.stdin.close()))
        feeder.start()
        got, chunks = [], 0
        fd = p.stdout.fileno()
        try:
            while True:
                ready, _, _ = select.select([fd], [], [], 10)
                if not ready:
                    self.fail(f"output stalled after {chunks} reads")
                chunk = os.read(fd, 65536)
                if not chunk:
                    break
                got.append(chunk)
                chunks += 1
                if chunks % 8 == 0:
                    # A reader that falls behind: let the pipe fill up.
                    wait_for(lambda: pipe_full(p.pid, 1) or
                             p.poll() is not None,
                             what="drover's stdout to fill up")
        finally:
            p.kill()			# no-op once it has exited
        feeder.join(timeout=10)
        rc = p.wait(timeout=30)
        p.stderr.read()
        return rc, b"".join(got)

    def check(self, rc, out, n):
        jobs, summary = records(out)
        check_once(self, jobs, summary, n)
        self.assertEqual(summary["sum"], sum_squares(n))
        self.assertEqual(rc, 0)

    def test_run_goes_on_after_stdout_catches_up(self):
        n = 300000
        rc, out = self.slow_read([DROVER, "run", "-w", "2", "--json",
                                  "square"], tagged_env(), n)
        self.check(rc, out, n)

    def test_submit_goes_on_after_stdout_catches_up(self):
        d = Droverd([SQUARE]).start()
        try:
            n = 200000
            env = dict(d.env, DROVER_SOCKET=d.sock)
            rc, out = self.slow_read([DROVER, "submit", "--pool", "square",
                                      "--json"], env, n)
            self.check(rc, out, n)
        finally:
            d.kill()


class TestRefusals(DroverTestCase):
    def test_a_refusal_is_read_even_when_our_request_cannot_be_sent(self):
        """droverd refuses (permission denied) at accept and closes: the
        client's write of its request fails (EPIPE), the REPLY is still
        waiting to be read and must be what it reports."""
        tmp = tempfile.mkdtemp(prefix="drover-refuse-")
        path = os.path.join(tmp, "refuse.sock")
        lst = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        lst.bind(path)
        lst.listen(64)
        reply = ctl_frame(2, json.dumps({"ok": False, "error":
                                         "permission denied: test"}))
        stop = threading.Event()

        def serve():
            lst.settimeout(0.1)
            while not stop.is_set():
                try:
                    c, _ = lst.accept()
                except socket.timeout:
                    continue
                c.sendall(reply)
                c.close()
        t = threading.Thread(target=serve)
        t.start()
        try:
            for _ in range(40):
                p = subprocess.run([DROVER, "submit", "--pool", "square",
                                    "--socket", path], input=b"3\n",
                                   capture_output=True, timeout=20)
                self.assertEqual(p.returncode, 3, p.stderr)
                self.assertIn(b"permission denied: test", p.stderr)
        finally:
            stop.set()
            t.join()
            lst.close()


class TestSignalsWhateverStdoutDoes(DroverTestCase):
    def blocked_stdout(self, args, cmd="run"):
        """drover ARGS with stdout a FIFO that is opened and never read."""
        tmp = tempfile.mkdtemp(prefix="drover-fifo-")
        fifo = os.path.join(tmp, "out")
        os.mkfifo(fifo)
        holder = {}
        t = threading.Thread(target=lambda: holder.setdefault(
            "fd", os.open(fifo, os.O_RDONLY)))
        t.start()
        env = tagged_env()
        if "ASAN_OPTIONS" in env:
            # Measure drover, not ASan's quarantine of freed output.
            env["ASAN_OPTIONS"] += ":quarantine_size_mb=0"
        out = open(fifo, "wb")
        t.join()
        yes = subprocess.Popen(["yes", "3"], stdout=subprocess.PIPE)
        p = subprocess.Popen([DROVER, cmd] + args, stdin=yes.stdout,
                             stdout=out, stderr=subprocess.PIPE, env=env)
        yes.stdout.close()
        out.close()
        p.tag = env["DROVER_TEST_TAG"]
        p.yes = yes
        p.reader = holder["fd"]
        return p

    def finish(self, p):
        p.yes.kill()
        p.yes.wait()
        os.close(p.reader)

    def wait_full(self, p):
        """Until drover has stopped making progress: its stdout is full,
        and so is its stdin, which it stopped reading."""
        wait_for(lambda: pipe_full(p.pid, 1) and pipe_full(p.pid, 0),
                 timeout=20, what="drover's stdout and stdin to fill up")

    def second_signal_stops_at_once(self, p):
        """With p's stdout full: two SIGTERMs, and p is gone at once,
        with its summary, its output bounded meanwhile."""
        try:
            self.wait_full(p)
            # ASan's shadow memory and allocator caches need room too.
            limit = 64 * 1024 * (2 if "ASAN_OPTIONS" in os.environ else 1)
            self.assertLess(rss_kb(p.pid), limit, "output not bounded")
            p.send_signal(signal.SIGTERM)
            wait_for(lambda: b"again" in p.stderr.peek(),
                     what="the first signal's warning")
            t0 = time.monotonic()
            p.send_signal(signal.SIGTERM)
            rc = p.wait(timeout=5)
            self.assertLess(time.monotonic() - t0, 3)
            err = p.stderr.read()
            self.assertEqual(rc, 1, err)
            self.assertRegex(err, rb"drover: \d+ jobs, \d+ ok")
            wait_for(lambda: not tagged_pids(p.tag), timeout=5,
                     what="no worker left")
        finally:
            p.kill()
            self.finish(p)

    def test_second_signal_stops_at_once_with_stdout_blocked(self):
        self.second_signal_stops_at_once(
            self.blocked_stdout(["-w", "2", "square"]))

    def test_first_signal_waits_at_most_the_shutdown_timeout(self):
        p = self.blocked_stdout(["-w", "2", "--shutdown-timeout", "1",
                                 "square"])
        try:
            self.wait_full(p)
            t0 = time.monotonic()
            p.send_signal(signal.SIGINT)
            rc = p.wait(timeout=10)
            self.assertLess(time.monotonic() - t0, 4)
            err = p.stderr.read()
            self.assertEqual(rc, 1, err)
            self.assertIn(b"not written", err)
        finally:
            p.kill()
            self.finish(p)

    def test_hung_job_cancelled_at_the_shutdown_timeout(self):
        # Job 0 hangs; once another job is out, it was dispatched (FIFO).
        p = start(["-w", "2", "--json", "--shutdown-timeout", "1",
                   "--worker", f"{TW} hang-on 1", "--protocol", "frame"])
        p.stdin.write(lines(*range(1, 11)))
        p.stdin.flush()
        first = b""
        while b"\n" not in first:	# unbuffered: communicate() reads on
            first += os.read(p.stdout.fileno(), 65536)
        t0 = time.monotonic()
        p.send_signal(signal.SIGTERM)
        out, err = p.communicate(timeout=20)
        self.assertLess(time.monotonic() - t0, 5)
        self.assertEqual(p.returncode, 1, err)
        jobs, summary = records(first + out)
        check_once(self, jobs, summary, 10)
        by = {j["id"]: j for j in jobs}
        self.assertEqual(by[0]["status"], "cancelled")
        self.assertIn(b"shutdown timeout", err)
        wait_for(lambda: not tagged_pids(p.tag), timeout=5,
                 what="no worker left")

    def test_submit_hung_job_cancelled_at_the_shutdown_timeout(self):
        hang = (f'name = "hang"; workers = 2; protocol = "frame"; '
                f'command = [ "{TW}", "hang-on", "1" ];')
        d = Droverd([hang]).start()
        try:
            p = d.start_submit("hang", "--json", "--shutdown-timeout", "1")
            p.stdin.write(lines(*range(1, 11)))
            p.stdin.close()
            p.stdin = None
            # Job 0 hangs; once another is done, it was dispatched (FIFO).
            wait_for(lambda: d.pool("hang")["jobs"].get("ok", 0) >= 1,
                     what="some jobs done")
            t0 = time.monotonic()
            p.send_signal(signal.SIGTERM)
            out, err = p.communicate(timeout=20)
            self.assertLess(time.monotonic() - t0, 4)
            self.assertEqual(p.returncode, 1, err)
            jobs, summary = records(out)
            check_once(self, jobs, summary, 10)
            by = {j["id"]: j for j in jobs}
            self.assertEqual(by[0]["status"], "cancelled")
            self.assertIn("shutdown timeout", by[0]["error"])
        finally:
            d.kill()

    def test_submit_second_signal_with_stdout_blocked(self):
        d = Droverd([SQUARE]).start()
        os.environ["DROVER_SOCKET"] = d.sock
        try:
            self.second_signal_stops_at_once(
                self.blocked_stdout(["--pool", "square"], cmd="submit"))
        finally:
            del os.environ["DROVER_SOCKET"]
            d.kill()

if __name__ == "__main__":
    unittest.main()
