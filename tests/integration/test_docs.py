#!/usr/bin/env python3
"""The documentation against the programs: every key `droverd --settings`
prints is an item of droverd.conf(5) with the same default and reload mode,
every option of `drover COMMAND --help` and `droverd --help` is in the man
pages, every handler of drover-worker is in drover-worker(7), and the example
configuration passes `droverd -t`.  The programs are the truth; a failure
here means a page (or config/droverd.conf) fell behind."""
import os
import re
import shutil
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from harness import DROVER, DROVERD, SOURCE, WORKER  # noqa: E402

DOCS = os.path.join(SOURCE, "docs")
PAGES = ["drover.1", "droverd.conf.5", "drover-worker.7", "droverd.8"]
EXAMPLE_CONF = os.path.join(SOURCE, "config", "droverd.conf")


def page(name):
    """The mdoc source of a page, with \\- escapes turned into hyphens."""
    with open(os.path.join(DOCS, name), encoding="utf-8") as f:
        return f.read().replace("\\-", "-")


def section(text, start, end=None):
    """The lines of text from the macro line `start` to the next `end` (or
    the next section or subsection header)."""
    lines = text.splitlines()
    try:
        i = lines.index(start)
    except ValueError:
        raise AssertionError(f"no {start!r} line") from None
    out = []
    for ln in lines[i + 1:]:
        if ln == end or (end is None and ln.startswith((".Sh ", ".Ss "))):
            break
        out.append(ln)
    return out


def item(lines, key):
    """The body of the `.It Ic key` item in lines, or None."""
    pat = re.compile(r"^\.It Ic " + re.escape(key) + r"(\s|$)")
    for i, ln in enumerate(lines):
        if pat.match(ln):
            body = []
            for b in lines[i + 1:]:
                if b.startswith((".It ", ".El")):
                    break
                body.append(b)
            return body
    return None


def settings():
    """`droverd --settings` as (scope, key, default, apply, doc) tuples."""
    out = subprocess.run([DROVERD, "--settings"], capture_output=True,
                         text=True, timeout=30, check=True).stdout
    rows = [ln.split("\t") for ln in out.splitlines() if ln]
    for r in rows:
        assert len(r) == 5, f"bad --settings line: {r!r}"
    return rows


def long_options(helptext):
    """Long options named in a --help text, without the leading dashes."""
    return sorted(set(re.findall(r"(?<![\w-])--([a-z0-9][a-z0-9-]*)",
                                 helptext)))


def help_of(*argv):
    p = subprocess.run(list(argv) + ["--help"], capture_output=True,
                       text=True, timeout=30)
    assert p.returncode == 0, f"{argv} --help: {p.returncode} {p.stderr}"
    return p.stdout


def has_flag(lines, name, items_only=False):
    """Is --name (or -n for a one-letter name) a Fl in lines?"""
    dash = "" if len(name) == 1 else "-"
    pat = re.compile(r"\bFl " + dash + re.escape(name) + r"(?![\w-])")
    return any(pat.search(ln) for ln in lines
               if not items_only or ln.startswith(".It "))


class TestConfPage(unittest.TestCase):
    """droverd.conf(5) against `droverd --settings`."""

    @classmethod
    def setUpClass(cls):
        cls.rows = settings()
        text = page("droverd.conf.5")
        cls.sections = {
            "global": section(text, ".Sh GLOBAL SETTINGS"),
            "pool": section(text, ".Sh POOL SETTINGS", ".Sh RESTART POLICY"),
        }

    def test_settings_are_listed(self):
        self.assertGreater(len(self.rows), 30)
        scopes = {r[0] for r in self.rows}
        self.assertEqual(scopes, {"global", "pool"})

    def test_every_key_is_an_item_in_its_section(self):
        for scope, key, _, _, _ in self.rows:
            with self.subTest(key=key):
                self.assertIsNotNone(
                    item(self.sections[scope], key),
                    f"{scope} key {key!r} has no '.It Ic {key}' item in the "
                    f"{scope.upper()} section of docs/droverd.conf.5")

    def test_no_item_for_a_key_that_does_not_exist(self):
        for scope, lines in self.sections.items():
            known = {r[1] for r in self.rows if r[0] == scope}
            documented = {m.group(1) for ln in lines
                          for m in [re.match(r"^\.It Ic (\S+)", ln)] if m}
            self.assertEqual(documented - known, set(),
                             f"{scope} items not in droverd --settings")

    def test_reload_mode_matches(self):
        for scope, key, _, apply, _ in self.rows:
            body = item(self.sections[scope], key)
            if body is None:
                continue    # reported by the test above
            with self.subTest(key=key):
                modes = re.findall(r"^Reload: (\w+)\.$", "\n".join(body),
                                   re.M)
                self.assertEqual(modes, [apply],
                                 f"{key}: 'Reload: {apply}.' expected")

    def test_default_matches(self):
        for scope, key, default, _, _ in self.rows:
            body = item(self.sections[scope], key)
            if body is None:
                continue
            text = "\n".join(body).replace("\\(dq", '"')
            m = re.search(r"^Default:(.*?)^Reload:", text, re.M | re.S)
            with self.subTest(key=key):
                self.assertIsNotNone(m, f"{key}: no 'Default:' line")
                want = expected_default(default)
                if want is None:
                    continue
                pat = r"(?<![\w.])" + re.escape(want) + r"(?!\w|\.\d)"
                self.assertRegex(m.group(1), pat,
                                 f"{key}: default {default!r} not stated")


def expected_default(default):
    """What the man page must say for a --settings default (None: free)."""
    if re.fullmatch(r"-?\d+(\.\d+)?(e[+-]?\d+)?", default):
        return default
    if default.startswith('""'):
        return "off"
    if default.startswith('"') and default.endswith('"'):
        return default[1:-1]
    if default == "inherited":
        return default
    return None     # none, see text, a build-time path: worded freely


class TestCommandPages(unittest.TestCase):
    """drover(1), droverd(8) and drover-worker(7) against --help."""

    def test_every_run_option_is_an_item(self):
        lines = section(page("drover.1"), ".Ss drover run")
        opts = long_options(help_of(DROVER, "run"))
        self.assertIn("timeout", opts)
        for opt in opts:
            with self.subTest(option=opt):
                self.assertTrue(has_flag(lines, opt, items_only=True),
                                f"--{opt} of drover run --help has no "
                                f"'.It Fl \\-{opt}' in docs/drover.1")

    def test_client_options_are_documented(self):
        text = page("drover.1")
        everywhere = text.splitlines()
        for cmd in ("submit", "results", "batches", "status", "reload"):
            lines = section(text, ".Ss drover " + cmd)
            for opt in long_options(help_of(DROVER, cmd)):
                with self.subTest(command=cmd, option=opt):
                    where = everywhere if opt == "help" else lines
                    self.assertTrue(has_flag(where, opt),
                                    f"drover {cmd} --{opt} not in "
                                    f"docs/drover.1")

    def test_droverd_options_are_items(self):
        usage = help_of(DROVERD)
        lines = page("droverd.8").splitlines()
        opts = re.findall(r"^\s+-(\w)\b", usage, re.M)
        opts += long_options(usage)
        self.assertIn("t", opts)
        self.assertIn("settings", opts)
        for opt in opts:
            with self.subTest(option=opt):
                self.assertTrue(has_flag(lines, opt, items_only=True),
                                f"droverd -{opt} not an item in "
                                f"docs/droverd.8")

    def test_every_handler_is_documented(self):
        p = subprocess.run([WORKER], capture_output=True, text=True,
                           timeout=30)
        self.assertEqual(p.returncode, 125)
        usage = p.stderr.split("handlers:", 1)[1]
        handlers = re.findall(r"^\s+(\w+)", usage, re.M)
        self.assertIn("square", handlers)
        lines = section(page("drover-worker.7"), ".Sh HANDLERS")
        for h in handlers:
            with self.subTest(handler=h):
                self.assertTrue(any(re.match(r"^\.It Cm " + h + r"\b", ln)
                                    for ln in lines),
                                f"handler {h} not in docs/drover-worker.7")


class TestExampleConfig(unittest.TestCase):
    def test_it_passes_droverd_t(self):
        p = subprocess.run([DROVERD, "-t", "-c", EXAMPLE_CONF],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("configuration ok", p.stdout)

    def test_it_shows_every_global_key(self):
        with open(EXAMPLE_CONF, encoding="utf-8") as f:
            conf = f.read()
        for scope, key, _, _, _ in settings():
            if scope != "global":
                continue
            with self.subTest(key=key):
                self.assertRegex(conf, r"(?m)^#?" + re.escape(key) + r" =",
                                 f"{key} not shown in config/droverd.conf")


class TestPagesBuild(unittest.TestCase):
    def test_meson_installs_every_page(self):
        with open(os.path.join(DOCS, "meson.build"), encoding="utf-8") as f:
            build = f.read()
        for name in PAGES:
            self.assertIn(f"'{name}'", build)

    @unittest.skipUnless(shutil.which("mandoc"), "mandoc is not installed")
    def test_mandoc_lint_is_clean(self):
        for name in PAGES:
            with self.subTest(page=name):
                p = subprocess.run(
                    ["mandoc", "-T", "lint", "-W", "warning",
                     os.path.join(DOCS, name)],
                    capture_output=True, text=True, timeout=30)
                msgs = [ln for ln in (p.stdout + p.stderr).splitlines()
                        if "mandoc.db" not in ln]
                self.assertEqual(msgs, [], f"mandoc -T lint {name}")


if __name__ == "__main__":
    unittest.main()
