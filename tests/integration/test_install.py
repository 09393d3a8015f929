#!/usr/bin/env python3
"""What `meson install` puts where, checked in a DESTDIR install: the C
worker library builds a worker outside the tree through pkg-config
(drover-worker.pc, <drover/worker.h>, -ldrover-worker, never -ldw, which is
elfutils' library), and the Python package lands in site-packages and
imports from there."""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from harness import (BUILD, SOURCE, DroverTestCase, lines, run,  # noqa
                     tagged_env)


def build_options():
    """The build's options (meson introspect), by name."""
    r = subprocess.run(["meson", "introspect", "--buildoptions", BUILD],
                       capture_output=True, text=True, check=True)
    return {o["name"]: o["value"] for o in json.loads(r.stdout)}


class TestDestdirInstall(DroverTestCase):
    @classmethod
    def setUpClass(cls):
        if shutil.which("meson") is None or shutil.which("pkg-config") is None:
            raise unittest.SkipTest("needs meson and pkg-config")
        cls.opts = build_options()
        cls.dest = tempfile.mkdtemp(prefix="install-", dir=BUILD)
        r = subprocess.run(["meson", "install", "-C", BUILD, "--no-rebuild",
                            "--quiet", "--destdir", cls.dest],
                           capture_output=True, text=True)
        if r.returncode != 0:
            raise AssertionError("meson install: " + r.stdout + r.stderr)
        cls.prefix = cls.dest + cls.opts["prefix"]

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dest, ignore_errors=True)

    def installed(self):
        """Every installed file, relative to DESTDIR."""
        out = []
        for root, _, files in os.walk(self.dest):
            out += [os.path.relpath(os.path.join(root, f), self.dest)
                    for f in files]
        return sorted(out)

    def test_systemd_files_go_where_systemd_looks(self):
        """The unit, sysusers.d and tmpfiles.d files: where the options
        say, else where systemd's pkg-config says, whatever the prefix."""
        files = self.installed()
        for opt, var, name in (
                ("systemdunitdir", "systemdsystemunitdir", "droverd.service"),
                ("sysusersdir", "sysusersdir", "drover.conf"),
                ("tmpfilesdir", "tmpfilesdir", "drover.conf")):
            where = self.opts.get(opt) or subprocess.run(
                ["pkg-config", "--variable", var, "systemd"],
                capture_output=True, text=True).stdout.strip()
            if not where:
                self.fail(f"no -D{opt} and no systemd pkg-config {var}")
            with self.subTest(file=name, dir=where):
                self.assertIn(os.path.join(where, name).lstrip("/"), files)

    def test_library_header_and_pc_not_libdw(self):
        files = self.installed()
        libdir = os.path.join(self.opts["prefix"], self.opts["libdir"])
        incdir = os.path.join(self.opts["prefix"], self.opts["includedir"])
        for want in (os.path.join(libdir, "libdrover-worker.a"),
                     os.path.join(libdir, "pkgconfig", "drover-worker.pc"),
                     os.path.join(incdir, "drover", "worker.h")):
            self.assertIn(want.lstrip("/"), files)
        self.assertFalse([f for f in files if os.path.basename(f) in
                          ("libdw.a", "dw.h", "libdw.pc")], files)

    def test_example_builds_through_pkg_config_and_runs(self):
        libdir = os.path.join(self.prefix, self.opts["libdir"])
        env = dict(os.environ,
                   PKG_CONFIG_LIBDIR=os.path.join(libdir, "pkgconfig"),
                   PKG_CONFIG_SYSROOT_DIR=self.dest)
        r = subprocess.run(["pkg-config", "--cflags", "--libs",
                            "drover-worker"], capture_output=True,
                           text=True, env=env)
        self.assertEqual(r.returncode, 0, r.stderr)
        flags = r.stdout.split()
        self.assertIn("-ldrover-worker", flags)
        self.assertNotIn("-ldw", flags)
        # An instrumented build installs an instrumented library.
        san = self.opts.get("b_sanitize", "none")
        if san != "none":
            flags.append("-fsanitize=" + san)
        exe = os.path.join(self.dest, "dw-example")
        cc = os.environ.get("CC", "cc")
        # Only the installed header: nothing from the source tree.
        r = subprocess.run([cc, "-Wall", "-Werror", "-o", exe,
                            os.path.join(SOURCE, "worker", "example",
                                         "dw-example.c")] + flags,
                           capture_output=True, text=True, env=env)
        self.assertEqual(r.returncode, 0, r.stderr)
        res = run(["-w", "2", "--protocol", "frame", "--worker", exe],
                  lines("one", "two words", "three words here", ""))
        self.assertEqual(res.rc, 1, res.errtext)
        s = self.assertSummary(res, jobs=4, ok=3, failed=1)
        self.assertEqual(s["sum"], "6")


    def test_python_package_in_site_packages(self):
        found = [f for f in self.installed()
                 if f.endswith(os.path.join("drover", "__init__.py"))]
        self.assertEqual(len(found), 1, self.installed())
        site = os.path.dirname(os.path.dirname(os.path.join(self.dest,
                                                            found[0])))
        self.assertIn(os.path.join(self.opts["prefix"], "lib").lstrip("/"),
                      found[0])
        env = tagged_env({"PYTHONPATH": site})
        r = subprocess.run([sys.executable, "-c",
                            "import drover; print(drover.__file__, "
                            "drover.__version__)"],
                           capture_output=True, text=True, env=env,
                           cwd=self.dest)
        self.assertEqual(r.returncode, 0, r.stderr)
        path, version = r.stdout.split()
        self.assertTrue(path.startswith(site), path)
        self.assertEqual(version, "0.1.0")

if __name__ == "__main__":
    res = unittest.main(exit=False).result
    # Not one test run is a failure, not a pass.
    sys.exit(0 if res.wasSuccessful() and res.testsRun > 0 else 1)
