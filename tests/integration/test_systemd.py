#!/usr/bin/env python3
"""systemd integration (droverd(8), SYSTEMD): the generated unit passes
`systemd-analyze verify`, the sysusers.d and tmpfiles.d files apply, and
droverd speaks sd_notify: READY=1 once its workers are up, STATUS= every
second, RELOADING=1 (with MONOTONIC_USEC=) then READY=1 around a reload,
WATCHDOG=1 at half of WATCHDOG_USEC, STOPPING=1 on SIGTERM.  The notify
socket is one the test binds, as systemd would."""
import json
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from harness import (BUILD, DROVER, DROVERD, SOURCE,  # noqa
                     DroverTestCase, children, tagged_env, tagged_pids,
                     wait_for)

UNIT = os.path.join(BUILD, "systemd", "droverd.service")
EXEC_RE = re.compile(r"^(Exec[A-Za-z]+=)([-@:+!]*)(\S+)(.*)$")
# What systemd-analyze says about a unit it does not fully accept.
WARN_RE = re.compile(r"unknown|ignoring|invalid|deprecated|obsolete|"
                     r"not executable|failed|error", re.I)
SQUARE = 'name = "square"; workers = {n}; handler = "square";'


def need(prog):
    """The path of prog; a missing tool fails the test (CI installs it)."""
    path = shutil.which(prog)
    if path is None:
        raise AssertionError(f"{prog} not found: install the `systemd` "
                             "package (listed in .ci/packages)")
    return path


def unit_lines():
    if not os.path.exists(UNIT):
        raise AssertionError(f"{UNIT} was not generated: is systemd/"
                             "meson.build in the build?")
    with open(UNIT) as f:
        return f.read().splitlines()


def unit_values(lines):
    """{key: [values]} of every Key=value line, in order."""
    out = {}
    for line in lines:
        if "=" in line and not line.startswith(("#", ";", "[")):
            k, v = line.split("=", 1)
            out.setdefault(k.strip(), []).append(v.strip())
    return out


class TestUnitFiles(DroverTestCase):
    def test_systemd_analyze_verify(self):
        """The unit, with its droverd paths pointed at the build tree (verify
        wants the binaries to exist), verifies without a warning."""
        analyze = need("systemd-analyze")
        out, rewritten = [], 0
        for line in unit_lines():
            self.assertNotRegex(line, r"@[A-Z_]+@", "unsubstituted")
            m = EXEC_RE.match(line)
            if m:
                key, flags, path, rest = m.groups()
                self.assertTrue(os.path.isabs(path), line)
                if os.path.basename(path) == "droverd":
                    line = key + flags + os.path.abspath(DROVERD) + rest
                    rewritten += 1
            out.append(line)
        self.assertEqual(rewritten, 3, "ExecStartPre, ExecStart and the "
                         "first ExecReload run droverd")
        with tempfile.TemporaryDirectory(prefix="drover-unit-") as d:
            path = os.path.join(d, "droverd.service")
            with open(path, "w") as f:
                f.write("\n".join(out) + "\n")
            p = subprocess.run([analyze, "verify", "--man=no", path],
                               capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        bad = [ln for ln in p.stderr.splitlines()
               if "droverd.service" in ln or WARN_RE.search(ln)]
        self.assertEqual(bad, [], p.stderr)

    def test_unit_settings(self):
        """The settings droverd's behaviour depends on."""
        v = unit_values(unit_lines())
        for key, want in [("Type", "notify"), ("NotifyAccess", "main"),
                          ("KillMode", "mixed"), ("KillSignal", "SIGTERM"),
                          ("Restart", "on-failure"),
                          ("RuntimeDirectory", "drover"),
                          ("NoNewPrivileges", "yes"),
                          ("ProtectSystem", "strict")]:
            self.assertEqual(v.get(key), [want], key)
        start = v["ExecStart"][0].split()
        self.assertEqual(start[1:2], ["-c"])
        conf = start[2]
        self.assertEqual(v["ExecStartPre"],
                         [f"{start[0]} -t -c {conf}"])
        self.assertEqual(v["ExecReload"], [f"{start[0]} -t -c {conf}",
                                           "/bin/kill -HUP $MAINPID"])
        # Longer than the default drain (shutdown_timeout = 30).
        self.assertGreater(int(v["TimeoutStopSec"][0]), 30)
        self.assertNotIn("MemoryDenyWriteExecute", v)
        caps = set(v["CapabilityBoundingSet"][0].split())
        self.assertEqual(caps, {"CAP_SETUID", "CAP_SETGID", "CAP_KILL",
                                "CAP_CHOWN"})

    def test_sysusers_and_tmpfiles_apply(self):
        """Both files parse and do what they say, in a scratch root."""
        sysusers = need("systemd-sysusers")
        tmpfiles = need("systemd-tmpfiles")
        src = os.path.join(SOURCE, "systemd")
        with tempfile.TemporaryDirectory(prefix="drover-root-") as root:
            for kind in ("sysusers", "tmpfiles"):
                os.makedirs(os.path.join(root, "etc", kind + ".d"))
                shutil.copy(os.path.join(src, "drover." + kind),
                            os.path.join(root, "etc", kind + ".d",
                                         "drover.conf"))
            p = subprocess.run([sysusers, "--root", root, "drover.conf"],
                               capture_output=True, text=True, timeout=60)
            self.assertEqual(p.returncode, 0, p.stderr)
            with open(os.path.join(root, "etc", "passwd")) as f:
                users = {ln.split(":")[0]: ln.split(":")
                         for ln in f.read().splitlines()}
            with open(os.path.join(root, "etc", "group")) as f:
                groups = {ln.split(":")[0]: ln.split(":")
                          for ln in f.read().splitlines()}
            self.assertIn("drover", groups)
            self.assertEqual(users["drover"][3], groups["drover"][2])
            self.assertRegex(users["drover"][6], r"/nologin$")
            p = subprocess.run([tmpfiles, "--root", root, "--create",
                                "drover.conf"],
                               capture_output=True, text=True, timeout=60)
            self.assertEqual(p.returncode, 0, p.stderr)
            st = os.stat(os.path.join(root, "var", "log", "drover"))
            self.assertEqual(st.st_mode & 0o7777, 0o750)


class Notifier:
    """The systemd end of NOTIFY_SOCKET: a datagram socket that records
    every message with its sender's pid and the time it arrived."""

    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
        self.sock.bind(path)
        self.msgs = []          # (arrival, sender pid, {field: value})
        self.pos = 0            # the next message expect() looks at

    def close(self):
        self.sock.close()

    def _recv(self, timeout):
        self.sock.settimeout(max(timeout, 0.001))
        try:
            data, anc, _, _ = self.sock.recvmsg(
                4096, socket.CMSG_SPACE(struct.calcsize("3i")))
        except socket.timeout:
            return
        pid = None
        for level, kind, cdata in anc:
            if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
                pid = struct.unpack("3i", cdata[:struct.calcsize("3i")])[0]
        fields = dict(ln.split("=", 1) for ln in
                      data.decode("utf-8", "replace").split("\n") if ln)
        self.msgs.append((time.monotonic(), pid, fields))

    def expect(self, pred, what, timeout=10.0):
        """The first message from the cursor on that satisfies pred; the
        cursor moves past it.  Fails the test after timeout."""
        deadline = time.monotonic() + timeout
        while True:
            while self.pos < len(self.msgs):
                m = self.msgs[self.pos]
                self.pos += 1
                if pred(m[2]):
                    return m
            left = deadline - time.monotonic()
            if left <= 0:
                seen = [sorted(f) for _, _, f in self.msgs[-20:]]
                raise AssertionError(f"timed out after {timeout}s waiting "
                                     f"for {what}; last messages: {seen}")
            self._recv(left)

    def flush(self):
        """Take what has arrived so far; move the cursor past it."""
        self._recv(0)
        while len(self.msgs) > self.pos:
            self.pos = len(self.msgs)
            self._recv(0)


def has(key, value=None):
    return lambda f: key in f and (value is None or f[key] == value)


class TestNotify(DroverTestCase):
    """A droverd on a private config, socket, log and notify socket."""

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="drover-notify-")
        self.conf = os.path.join(self.dir, "droverd.conf")
        self.sock = os.path.join(self.dir, "droverd.sock")
        self.log = os.path.join(self.dir, "droverd.log")
        self.env = tagged_env()
        self.tag = self.env["DROVER_TEST_TAG"]
        self.write_conf(2)
        self.notifier = Notifier(os.path.join(self.dir, "notify.sock"))
        self.proc = self.logf = None

    def tearDown(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if self.logf is not None:
            self.logf.close()
        self.notifier.close()
        wait_for(lambda: not tagged_pids(self.tag), timeout=5,
                 what="every process of droverd to exit")
        shutil.rmtree(self.dir, ignore_errors=True)

    def write_conf(self, workers, extra=""):
        with open(self.conf, "w") as f:
            f.write(f'socket = "{self.sock}";\n'
                    'shutdown_timeout = 2.0;\n'
                    f'pools = ( {{ {SQUARE.format(n=workers)} }} );\n'
                    + extra)

    def logtext(self):
        with open(self.log, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def status(self):
        env = dict(self.env, DROVER_SOCKET=self.sock)
        p = subprocess.run([DROVER, "status", "--json"], env=env,
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(p.returncode, 0, p.stderr)
        return json.loads(p.stdout)

    def start(self, watchdog_pid_of_droverd=True):
        """Start droverd as systemd would, with NOTIFY_SOCKET and a 200 ms
        watchdog.  WATCHDOG_PID must be droverd's own pid, hence the exec
        from a shell that knows its pid (or, to test the check, ours)."""
        env = dict(self.env)
        env["NOTIFY_SOCKET"] = self.notifier.sock.getsockname()
        env["WATCHDOG_USEC"] = "200000"
        if watchdog_pid_of_droverd:
            script = 'WATCHDOG_PID=$$ exec "$0" -c "$1"'
        else:
            script = f'WATCHDOG_PID={os.getpid()} exec "$0" -c "$1"'
        self.logf = open(self.log, "wb")
        self.proc = subprocess.Popen(
            ["sh", "-c", script, os.path.abspath(DROVERD), self.conf],
            stdout=self.logf, stderr=self.logf, env=env)
        return self.proc.pid

    def expect(self, pred, what, timeout=10.0):
        try:
            m = self.notifier.expect(pred, what, timeout)
        except AssertionError as e:
            raise AssertionError(f"{e}\ndroverd log:\n"
                                 f"{self.logtext()[-3000:]}") from None
        self.assertEqual(m[1], self.proc.pid,
                         f"{what} was not sent by droverd itself")
        return m

    def live_workers(self, pid):
        return [c for c, st in children(pid) if st != "Z"]

    def test_ready_status_watchdog_reload_stopping(self):
        pid = self.start()
        self.expect(has("READY", "1"), "READY=1", timeout=30)
        # Workers up before READY=1, and the socket answers.
        self.assertEqual(len(self.live_workers(pid)), 2)
        (pool,) = self.status()["pools"]
        workers = pool["workers"]
        self.assertEqual([w["state"] for w in workers], ["ready", "ready"])

        _, _, f = self.expect(has("STATUS"), "STATUS=", timeout=5)
        self.assertRegex(f["STATUS"], r"^1 pools, 2 workers, 0 queued, ")

        # 200 ms watchdog: a ping every 100 ms, so two within a second.
        self.notifier.flush()
        t0 = time.monotonic()
        for n in (1, 2):
            left = t0 + 1.0 - time.monotonic()
            self.expect(has("WATCHDOG", "1"), f"WATCHDOG=1 #{n} within "
                        "1 s", timeout=max(left, 0.001))

        # A good reload: RELOADING=1 stamped with CLOCK_MONOTONIC, then
        # READY=1, and the change applied.
        self.write_conf(3)
        self.notifier.flush()
        before = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
        os.kill(pid, signal.SIGHUP)
        _, _, f = self.expect(has("RELOADING", "1"), "RELOADING=1")
        after = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
        self.assertIn("MONOTONIC_USEC", f)
        self.assertTrue(before <= int(f["MONOTONIC_USEC"]) <= after,
                        (before, f["MONOTONIC_USEC"], after))
        self.expect(has("READY", "1"), "READY=1 after the reload")
        self.expect(lambda f: "STATUS" in f and
                    f["STATUS"].startswith("1 pools, 3 workers"),
                    "STATUS= with 3 workers", timeout=10)

        # A broken config changes nothing but still ends the reload.
        self.write_conf(3, "no_such_key = 1;\n")
        self.notifier.flush()
        os.kill(pid, signal.SIGHUP)
        self.expect(has("RELOADING", "1"), "RELOADING=1 (broken config)")
        self.expect(has("READY", "1"), "READY=1 after the failed reload")
        self.assertIsNone(self.proc.poll())

        # The watchdog still runs after the reloads.
        self.notifier.flush()
        self.expect(has("WATCHDOG", "1"), "WATCHDOG=1 after the reloads",
                    timeout=1.0)

        self.notifier.flush()
        os.kill(pid, signal.SIGTERM)
        self.expect(has("STOPPING", "1"), "STOPPING=1")
        self.assertEqual(self.proc.wait(timeout=10), 0, self.logtext())
        wait_for(lambda: not tagged_pids(self.tag), timeout=5,
                 what="every worker to exit")
        senders = {m[1] for m in self.notifier.msgs}
        self.assertEqual(senders, {pid}, "only droverd notifies")

    def test_watchdog_only_for_its_own_pid(self):
        """sd_watchdog_enabled(3): WATCHDOG_PID naming another process
        means the watchdog is not droverd's to feed."""
        pid = self.start(watchdog_pid_of_droverd=False)
        self.expect(has("READY", "1"), "READY=1", timeout=30)
        # Two STATUS= ticks: a second or more, ten pings' worth.
        self.expect(has("STATUS"), "STATUS= #1", timeout=5)
        self.expect(has("STATUS"), "STATUS= #2", timeout=5)
        self.assertFalse([m for m in self.notifier.msgs
                          if "WATCHDOG" in m[2]])
        os.kill(pid, signal.SIGTERM)
        self.expect(has("STOPPING", "1"), "STOPPING=1")
        self.assertEqual(self.proc.wait(timeout=10), 0, self.logtext())


if __name__ == "__main__":
    unittest.main()
