#!/usr/bin/env python3
"""droverd as a real systemd service (droverd(8), SYSTEMD): boot systemd as
PID 1 of a private PID, mount and cgroup namespace, `meson install` drover
into it, and drive droverd.service with systemctl: Type=notify start, the
sandbox the unit promises (user, read-only /usr, hidden /home, private /tmp,
no new privileges, the capability bounding set), ExecReload with a good and
a broken config, a drain on `systemctl stop`, Restart=on-failure after
SIGKILL, and the watchdog restarting a droverd that stopped answering.

Nothing of the host is touched: /etc and /var are copy-on-write overlays
in a scratch directory, /tmp and /run are fresh tmpfs, /usr/local is the
DESTDIR, and the cgroup trees are fresh mounts of a child cgroup of ours.
Where the machine cannot do that (not root, no unshare, no overlayfs, no
systemd), the whole class is skipped and says why."""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import unittest
import uuid

sys.path.insert(0, os.path.dirname(__file__))
from harness import BUILD, children, sum_squares, wait_for  # noqa: E402

SYSTEMD = "/lib/systemd/systemd"
UNIT = "droverd.service"
CONF = "/usr/local/etc/drover/droverd.conf"

# Runs on the host side as the namespace's first process.  Any set-up step
# that fails means "this machine cannot do it": exit 77, the test skips.
BOOT = r"""
set -u
fail() { echo "sdboot: $*" >&2; exit 77; }
D=$1; W=$2
mount --make-rprivate / || fail "make / private"
mount -t proc proc /proc || fail "mount /proc"
for d in etc var; do
	mkdir -p "$W/$d-up" "$W/$d-work"
	mount -t overlay overlay \
	    -o "lowerdir=/$d,upperdir=$W/$d-up,workdir=$W/$d-work" /$d ||
	    fail "overlayfs on /$d"
done
mount --bind "$D/usr/local" /usr/local || fail "bind /usr/local"
# The scratch directory may be under /tmp (a build under /tmp), which the
# fresh /tmp below hides: what is read from it later is copied into our
# /var overlay first.
mkdir -p /var/lib/drover-sdboot &&
    cp "$W/cgroups" "$W/droverd.service" "$W/sysusers.conf" \
    "$W/tmpfiles.conf" /var/lib/drover-sdboot/ || fail "copy scratch files"
W=/var/lib/drover-sdboot
mount -t tmpfs -o mode=1777 tmpfs /tmp || fail "tmpfs /tmp"
mount -t tmpfs -o mode=755 tmpfs /run || fail "tmpfs /run"
# Fresh cgroup mounts in our cgroup namespace: rooted at the child cgroup
# the test made, on a tmpfs of our own (systemd remounts it read-only).
mount -t tmpfs -o mode=755 tmpfs /sys/fs/cgroup || fail "tmpfs cgroup"
while read -r dir type opts; do
	mkdir -p "$dir"
	mount -t "$type" -o "$opts" cgroup "$dir" || fail "cgroup $dir"
done < "$W/cgroups"
mkdir -p /run/systemd/system/droverd.service.d /run/sysusers.d \
    /run/tmpfiles.d
cp "$W/droverd.service" /run/systemd/system/ &&
cp "$W/sysusers.conf" /run/sysusers.d/drover.conf &&
cp "$W/tmpfiles.conf" /run/tmpfiles.d/drover.conf || fail "copy units"
# Only for this boot: droverd.service without sysinit.target, which would
# apply the host's sysctls, tmpfiles and mounts.  The unit is otherwise
# the installed one.
cat > /run/systemd/system/droverd.service.d/boot-test.conf <<EOF
[Unit]
DefaultDependencies=no
After=systemd-journald.socket systemd-sysusers.service drover-tmpfiles.service
EOF
cat > /run/systemd/system/drover-tmpfiles.service <<EOF
[Unit]
DefaultDependencies=no
After=systemd-sysusers.service
[Service]
Type=oneshot
ExecStart=systemd-tmpfiles --create /run/tmpfiles.d/drover.conf
EOF
cat > /run/systemd/system/drover-test.target <<EOF
[Unit]
DefaultDependencies=no
Wants=systemd-journald.socket systemd-journald.service
Wants=systemd-sysusers.service drover-tmpfiles.service
EOF
export container=drover-test
exec "$3" --system --unit=drover-test.target --log-target=journal \
    --log-level=info --show-status=no
"""

# What a worker of the probe pool sees of its sandbox, one key=value a line.
PROBE = r"""#!/bin/sh
echo "user=$(id -un)"
if touch /usr/drover-probe 2>/dev/null; then echo usr=rw; else echo usr=ro; fi
# Run as root, /root has files; ProtectHome=yes leaves it empty.
if [ -n "$(ls -A /root 2>/dev/null)" ]; then echo home=visible
else echo home=hidden; fi
if [ -e /tmp/host-marker ]; then echo tmp=shared; else echo tmp=private; fi
sed -n 's/^NoNewPrivs:[[:space:]]*/nnp=/p; s/^CapBnd:[[:space:]]*/capbnd=/p' \
    /proc/self/status
"""

CONFIG = """\
socket = "/run/drover/droverd.sock";
socket_mode = "0660";
allow = [ "root", "@drover" ];
shutdown_timeout = 10.0;
pools = (
  { name = "square"; handler = "square"; workers = %(square)d; },
  { name = "slow"; handler = "sleep"; workers = 2; window = 1; },
  { name = "probe"; handler = "exec"; user = "drover"; workers = 1;
    exec = "/usr/local/libexec/drover-probe {}"; },
  { name = "rootprobe"; handler = "exec"; workers = 1;
    exec = "/usr/local/libexec/drover-probe {}"; }
);
"""

# CAP_CHOWN (0), CAP_KILL (5), CAP_SETGID (6), CAP_SETUID (7).
CAPBND = (1 << 0) | (1 << 5) | (1 << 6) | (1 << 7)


def cgroup_mounts():
    """(mountpoint, type, options) of the mounted cgroup hierarchies."""
    out = []
    with open("/proc/self/mounts") as f:
        for line in f:
            _, mnt, typ, opts = line.split()[:4]
            if typ in ("cgroup", "cgroup2"):
                keep = [o for o in opts.split(",")
                        if o not in ("rw", "ro", "relatime", "noatime",
                                     "nosuid", "nodev", "noexec")]
                out.append((mnt, typ, ",".join(keep) or "defaults"))
    return out


def own_cgroup(typ, opts):
    """Our cgroup path in the hierarchy with these mount options."""
    want = set(opts.split(",")) - {"defaults"}
    with open("/proc/self/cgroup") as f:
        for line in f:
            _, ctrls, path = line.rstrip("\n").split(":", 2)
            if typ == "cgroup2" and ctrls == "":
                return path
            if typ == "cgroup" and ctrls and set(ctrls.split(",")) <= want:
                return path
    return None


class SystemdBoot:
    def __init__(self):
        self.scratch = tempfile.mkdtemp(prefix="sdboot-", dir=BUILD)
        self.dest = os.path.join(self.scratch, "dest")
        self.work = os.path.join(self.scratch, "work")
        os.makedirs(self.work)
        self.cgroups = []
        self.proc = None
        self.pid1 = None
        self.console = os.path.join(self.scratch, "console.log")

    def install(self):
        r = subprocess.run(["meson", "install", "-C", BUILD, "--no-rebuild",
                            "--quiet", "--destdir", self.dest],
                           capture_output=True, text=True)
        if r.returncode != 0:
            raise AssertionError("meson install: " + r.stdout + r.stderr)

        def find(name, parent):
            for root, _, files in os.walk(self.dest):
                if name in files and (parent is None or
                                      os.path.basename(root) == parent):
                    return os.path.join(root, name)
            raise AssertionError(f"meson install put no {parent}/{name}")
        shutil.copy(find(UNIT, None), os.path.join(self.work, UNIT))
        for kind in ("sysusers", "tmpfiles"):
            shutil.copy(find("drover.conf", f"{kind}.d"),
                        os.path.join(self.work, f"{kind}.conf"))
        probe = os.path.join(self.dest, "usr/local/libexec/drover-probe")
        with open(probe, "w") as f:
            f.write(PROBE)
        os.chmod(probe, 0o755)
        self.write_config(CONFIG % {"square": 2})

    def write_config(self, text):
        with open(os.path.join(self.dest, CONF.lstrip("/")), "w") as f:
            f.write(text)

    def make_cgroups(self):
        """A child of our cgroup in every hierarchy, for the namespace."""
        lines = []
        name = "drover-sdboot-" + uuid.uuid4().hex[:8]
        for mnt, typ, opts in cgroup_mounts():
            path = own_cgroup(typ, opts)
            if path is None:
                continue
            d = os.path.join(mnt, path.lstrip("/"), name)
            try:
                os.mkdir(d)
            except OSError as e:
                raise unittest.SkipTest(f"cannot make cgroup {d}: {e}")
            self.cgroups.append(d)
            # A new v1 cpuset has no CPUs or memory nodes: inherit them.
            for knob in ("cpuset.cpus", "cpuset.mems"):
                if os.path.exists(os.path.join(d, knob)):
                    with open(os.path.join(os.path.dirname(d), knob)) as f:
                        val = f.read()
                    with open(os.path.join(d, knob), "w") as f:
                        f.write(val)
            lines.append(f"{mnt} {typ} {opts}\n")
        with open(os.path.join(self.work, "cgroups"), "w") as f:
            f.writelines(lines)

    def boot(self):
        self.make_cgroups()
        cgs = list(self.cgroups)

        def enter():
            for d in cgs:
                with open(os.path.join(d, "cgroup.procs"), "w") as f:
                    f.write(str(os.getpid()))
        log = open(self.console, "wb")
        self.proc = subprocess.Popen(
            ["unshare", "--pid", "--fork", "--mount", "--cgroup",
             "--propagation", "private", "sh", "-c", BOOT, "sdboot",
             self.dest, self.work, SYSTEMD],
            stdin=subprocess.DEVNULL, stdout=log, stderr=log,
            preexec_fn=enter, start_new_session=True)
        log.close()

        def up():
            if self.proc.poll() is not None:
                text = self.console_text()
                if self.proc.returncode == 77:
                    raise unittest.SkipTest(text.strip()[-300:])
                raise AssertionError("systemd did not boot: " + text)
            if self.pid1 is None:
                self.pid1 = self.find_pid1()
            if self.pid1 is None:
                return False
            r = self.ns(["systemctl", "is-system-running"], check=False)
            return r.stdout.strip() in ("running", "degraded")
        wait_for(up, timeout=30, interval=0.1, what="systemd to come up",
                 detail=self.console_text)

    def find_pid1(self):
        """The namespace's PID 1: unshare's child, once it is systemd."""
        for pid, _ in children(self.proc.pid):
            try:
                with open(f"/proc/{pid}/comm") as f:
                    if f.read().strip() == "systemd":
                        return pid
            except OSError:
                pass
        return None

    def console_text(self):
        with open(self.console, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def ns(self, args, input=None, check=True, timeout=60):
        r = subprocess.run(["nsenter", "-t", str(self.pid1), "-m", "-p",
                            "--"] + args, input=input, capture_output=True,
                           text=True, timeout=timeout)
        if check and r.returncode != 0:
            raise AssertionError(f"{args}: exit {r.returncode}\n"
                                 f"{r.stdout}{r.stderr}")
        return r

    def show(self, *props):
        r = self.ns(["systemctl", "show", UNIT] +
                    [f"--property={p}" for p in props])
        return dict(line.split("=", 1) for line in r.stdout.splitlines())

    def shutdown(self):
        if self.proc is not None and self.proc.poll() is None:
            # Killing PID 1 of a PID namespace kills everything in it.
            if self.pid1 is not None:
                try:
                    os.kill(self.pid1, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            else:
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=30)
        for d in self.cgroups:
            # Children first; they are empty once the namespace is gone.
            for root, dirs, _ in sorted(os.walk(d), key=lambda t: -len(
                    t[0])):
                def removed():
                    try:
                        os.rmdir(root)
                    except FileNotFoundError:
                        pass
                    except OSError:
                        return False    # busy a moment longer
                    return True
                try:
                    wait_for(removed, timeout=5, interval=0.1,
                             what=f"{root} to be removed")
                except AssertionError:
                    pass                # best effort, as a cleanup
        shutil.rmtree(self.scratch, ignore_errors=True)


class TestSystemdBoot(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if os.geteuid() != 0:
            raise unittest.SkipTest("needs root to boot systemd")
        for prog in ("unshare", "nsenter", "meson"):
            if shutil.which(prog) is None:
                raise unittest.SkipTest(f"no {prog}")
        if not os.access(SYSTEMD, os.X_OK):
            raise unittest.SkipTest(f"no {SYSTEMD}")
        # The install is bind-mounted over /usr/local: another prefix (a
        # Debian package build's /usr) cannot be.
        r = subprocess.run(["meson", "introspect", "--buildoptions", BUILD],
                           capture_output=True, text=True)
        prefix = {o["name"]: o["value"] for o in
                  json.loads(r.stdout or "[]")}.get("prefix")
        if prefix != "/usr/local":
            raise unittest.SkipTest(f"built for prefix {prefix}, not "
                                    "/usr/local")
        cls.b = SystemdBoot()
        try:
            cls.b.install()
            cls.b.boot()
        except BaseException:
            cls.b.shutdown()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.b.shutdown()

    def setUp(self):
        self.b.write_config(CONFIG % {"square": 2})
        self.b.ns(["systemctl", "reset-failed", UNIT], check=False)
        self.b.ns(["systemctl", "start", UNIT])

    def tearDown(self):
        self.b.ns(["systemctl", "stop", UNIT], check=False)
        self.b.ns(["rm", "-rf", "/run/systemd/system/droverd.service.d/"
                   "watchdog.conf"])
        self.b.ns(["systemctl", "daemon-reload"])

    def journal(self):
        return self.b.ns(["journalctl", "-u", UNIT, "--no-pager",
                          "-o", "cat"]).stdout

    def wait_journal(self, regex, what):
        """journald takes the unit's output asynchronously: poll."""
        return wait_for(lambda: re.search(regex, self.journal()),
                        interval=0.1, what=what)

    def submit(self, pool, stdin, *opts):
        return self.b.ns(["drover", "submit", "--pool", pool] + list(opts),
                         input=stdin, check=False)

    def unit_pids(self):
        r = self.b.ns(["systemctl", "show", UNIT, "--property=ControlGroup",
                       "--value"])
        cg = r.stdout.strip()
        r = self.b.ns(["sh", "-c", f"cat /sys/fs/cgroup/systemd{cg}/"
                       "cgroup.procs 2>/dev/null || true"])
        return sorted(int(p) for p in r.stdout.split())

    def test_start_is_ready_serves_and_sandboxes(self):
        s = self.b.show("ActiveState", "SubState", "Type", "StatusText",
                        "NotifyAccess")
        # `systemctl start` of a Type=notify unit returns after READY=1.
        self.assertEqual((s["ActiveState"], s["SubState"], s["Type"]),
                         ("active", "running", "notify"))
        self.assertEqual(s["NotifyAccess"], "main")
        wait_for(lambda: self.b.show("StatusText")["StatusText"]
                 .startswith("4 pools, 6 workers"), what="STATUS=")
        r = self.submit("square", "".join(f"{i}\n" for i in
                                          range(1, 1001)), "--quiet")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(f"sum {sum_squares(1000)} ", r.stderr)
        # The worker's sandbox is the unit's, plus the pool's user.
        self.b.ns(["touch", "/tmp/host-marker"])
        r = self.submit("probe", "x\n", "--json")
        self.assertEqual(r.returncode, 0, r.stderr)
        out = json.loads(r.stdout.splitlines()[0])["output"]
        seen = dict(line.split("=", 1) for line in out.splitlines())
        self.assertEqual(seen["user"], "drover")
        self.assertEqual(seen["usr"], "ro")
        self.assertEqual(seen["tmp"], "private")
        self.assertEqual(seen["nnp"], "1")
        self.assertEqual(int(seen["capbnd"], 16), CAPBND)
        # Root outside the unit sees its home; a root worker does not.
        self.assertNotEqual(self.b.ns(["ls", "-A", "/root"]).stdout, "")
        r = self.submit("rootprobe", "x\n", "--json")
        out = json.loads(r.stdout.splitlines()[0])["output"]
        seen = dict(line.split("=", 1) for line in out.splitlines())
        self.assertEqual(seen["user"], "root")
        self.assertEqual(seen["home"], "hidden")
        self.assertEqual(seen["usr"], "ro")
        # The control socket has the configured mode.
        r = self.b.ns(["stat", "-c", "%a %F", "/run/drover/droverd.sock"])
        self.assertEqual(r.stdout.strip(), "660 socket")

    def test_reload_good_then_broken(self):
        main = self.b.show("MainPID")["MainPID"]
        self.b.write_config(CONFIG % {"square": 3})
        self.b.ns(["systemctl", "reload", UNIT])
        wait_for(lambda: '"square"' in self.b.ns(
            ["drover", "status", "--json"]).stdout and len(self.pool(
                "square")["workers"]) == 3, what="square at 3 workers")
        # ExecReload checks first: a broken config fails the reload,
        # droverd keeps running on the old one.
        self.b.write_config(CONFIG % {"square": 3} +
                            "pools = ( { name = \"x\"; } );\n")
        r = self.b.ns(["systemctl", "reload", UNIT], check=False)
        self.assertNotEqual(r.returncode, 0)
        s = self.b.show("ActiveState", "MainPID")
        self.assertEqual((s["ActiveState"], s["MainPID"]), ("active", main))
        self.wait_journal(re.escape(CONF) + r":\d+: ", "file:line of the "
                          "broken config in the journal")
        self.assertEqual(len(self.pool("square")["workers"]), 3)
        r = self.submit("square", "1\n2\n3\n", "--quiet")
        self.assertIn("sum 14 ", r.stderr)

    def pool(self, name):
        st = json.loads(self.b.ns(["drover", "status", "--json"]).stdout)
        return next(p for p in st["pools"] if p["name"] == name)

    def test_stop_drains_then_exits_cleanly(self):
        # 40 jobs of 50 ms on 2 workers: about a second of work, most of
        # it still queued when the stop comes.
        sub = subprocess.Popen(["nsenter", "-t", str(self.b.pid1), "-m",
                                "-p", "--", "drover", "submit", "--pool",
                                "slow", "--quiet"], stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
        sub.stdin.write("50\n" * 40)
        sub.stdin.close()
        wait_for(lambda: self.pool("slow")["queued"] > 0,
                 what="jobs queued in the slow pool")
        self.b.ns(["systemctl", "stop", UNIT])
        with sub:
            sub.stdout.read()
            err = sub.stderr.read()
            sub.wait(timeout=30)
        self.assertEqual(sub.returncode, 0, err)
        self.assertRegex(err, r"drover: 40 jobs, 40 ok, 0 failed")
        s = self.b.show("ActiveState", "Result", "ExecMainStatus")
        self.assertEqual((s["ActiveState"], s["Result"],
                          s["ExecMainStatus"]), ("inactive", "success", "0"))
        self.assertEqual(self.unit_pids(), [])
        self.wait_journal("draining", "the drain in the journal")

    def test_sigkill_is_restarted_without_orphans(self):
        s = self.b.show("MainPID", "NRestarts")
        old = set(self.unit_pids())
        self.assertEqual(len(old), 7, old)	# droverd and 6 workers
        self.b.ns(["kill", "-KILL", s["MainPID"]])
        # RestartSec=2, then READY=1 again.
        wait_for(lambda: self.b.show("NRestarts")["NRestarts"] ==
                 str(int(s["NRestarts"]) + 1) and
                 self.b.show("ActiveState")["ActiveState"] == "active",
                 timeout=15, what="the restart")
        new = set(self.unit_pids())
        self.assertEqual(len(new), 7, new)
        self.assertEqual(old & new, set(), "a process of the killed "
                         "droverd survived")
        r = self.submit("square", "3\n4\n", "--quiet")
        self.assertIn("sum 25 ", r.stderr)

    def test_watchdog_restarts_a_stopped_droverd(self):
        self.b.ns(["sh", "-c", "printf '[Service]\\nWatchdogSec=2\\n' > "
                   "/run/systemd/system/droverd.service.d/watchdog.conf && "
                   "systemctl daemon-reload && systemctl restart droverd"])
        s = self.b.show("MainPID", "NRestarts", "WatchdogUSec")
        self.assertEqual(s["WatchdogUSec"], "2s")
        # Fed every second: the same droverd is still there once its
        # pings (systemd keeps the last one's time) span more than the
        # watchdog's 2 s, which it would not survive unfed.
        pings = []

        def fed_past_the_watchdog():
            now = self.b.show("MainPID", "NRestarts",
                              "WatchdogTimestampMonotonic")
            self.assertEqual((now["MainPID"], now["NRestarts"]),
                             (s["MainPID"], s["NRestarts"]))
            t = int(now["WatchdogTimestampMonotonic"])
            if t and (not pings or t != pings[-1]):
                pings.append(t)
            return pings and pings[-1] - pings[0] > 2000000
        wait_for(fed_past_the_watchdog, timeout=15, interval=0.1,
                 what="watchdog pings over more than 2 s")
        # A droverd that stops answering is killed and started again.
        self.b.ns(["kill", "-STOP", s["MainPID"]])
        wait_for(lambda: self.b.show("NRestarts")["NRestarts"] ==
                 str(int(s["NRestarts"]) + 1) and
                 self.b.show("ActiveState")["ActiveState"] == "active",
                 timeout=15, what="the watchdog restart")
        self.wait_journal("Watchdog timeout", "systemd's watchdog message")


if __name__ == "__main__":
    # All skipped (the machine cannot boot systemd here): tell meson SKIP.
    res = unittest.main(exit=False).result
    if not res.wasSuccessful():
        sys.exit(1)
    sys.exit(77 if res.skipped and res.testsRun <= len(res.skipped) else 0)
