#!/usr/bin/env python3
"""The exec handler as GNU parallel users expect it: replacement strings
({} {.} {/} {//} {/.} {#} {%}), --dry-run, a failed command's stderr; and
the frame protocol's version 2 (HELLO capabilities, job-meta,
result-stderr) next to version 1 workers and supervisors."""
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from harness import (DroverTestCase, Droverd, WORKER, conf_check,  # noqa
                     ctl_connect, ctl_read_all, ctl_request, lines, run,
                     tagged_env)

# Paths with dirs, dots, no extension, spaces and quotes, and the edge cases
# of GNU parallel's definitions.
INPUTS = ["foo.jpg", "subdir/foo.jpg", "sub.dir/foo.jpg", "sub.dir/bar",
          "a.b.c", ".bashrc", "foo.", "dir/", "/", "/b", "b",
          "a b/c'd.e f", "dir//x.y", "a//b//", "//b", "./x", "a/.b",
          "a/b.c/", "..", ".", "x.tar.gz", 'q"uo"te $HOME `id` *.c',
          "semi;colon|pipe/&amp.x", ""]


def p_noext(s):
    """{.}: parallel's s:\\.[^/\\.]*$::"""
    return re.sub(r"\.[^/.]*$", "", s)


def p_base(s):
    """{/}: parallel's s:^.*/::"""
    return re.sub(r"^.*/", "", s)


def p_dir(s):
    """{//}: File::Basename's dirname, which is POSIX dirname(1)."""
    if s and s.strip("/") == "":
        return "/"
    s = s.rstrip("/")
    if "/" not in s:
        return "."
    s = s[:s.rindex("/")].rstrip("/")
    return s or "/"


def expected(s):
    return "|".join([s, p_noext(s), p_base(s), p_dir(s),
                     p_noext(p_base(s))])


def by_id(res):
    jobs, summary = res.jobs_and_summary()
    return {j["id"]: j for j in jobs}, summary


class TestReplacementStrings(DroverTestCase):
    FMT = "%s|%s|%s|%s|%s"

    def check(self, cmd):
        res = run(["-w", "3", "--json", "--exec", cmd], lines(*INPUTS))
        self.assertEqual(res.rc, 0, res.errtext)
        jobs, _ = by_id(res)
        self.assertEqual(len(jobs), len(INPUTS))
        for i, s in enumerate(INPUTS):
            self.assertEqual(jobs[i]["output"], expected(s), repr(s))

    def test_direct_mode(self):
        # Words only: run without a shell, replacements as raw bytes.
        self.check(f"printf '{self.FMT}' {{}} {{.}} {{/}} {{//}} {{/.}}")

    def test_shell_mode_quotes_each_replacement(self):
        # A pipe: /bin/sh -c, every replacement shell-quoted.
        self.check(f"printf '{self.FMT}' {{}} {{.}} {{/}} {{//}} {{/.}} "
                   "| cat")

    def test_inside_a_word(self):
        res = run(["-w", "1", "--ordered", "--exec", "echo x{/.}y{#}z"],
                  lines("d/a b.c", "e.f"))
        self.assertEqual(res.rc, 0, res.errtext)
        self.assertEqual(res.text, "xa by1z\nxey2z\n")

    @unittest.skipUnless(shutil.which("parallel"), "GNU parallel not here")
    def test_same_as_gnu_parallel(self):
        inp = lines(*[s for s in INPUTS if s])
        tmpl = "echo [{}] [{.}] [{/}] [{//}] [{/.}] [{#}]"
        ref = subprocess.run(["parallel", "--will-cite", "-k", "-j1", tmpl],
                             input=inp, capture_output=True, check=True)
        res = run(["-w", "2", "--ordered", "--exec", tmpl], inp)
        self.assertEqual(res.rc, 0, res.errtext)
        self.assertEqual(res.text, ref.stdout.decode())

    def test_seq_is_id_plus_one(self):
        n = 200
        res = run(["-w", "4", "--json", "--exec", "echo {#}"],
                  lines(*range(n)))
        jobs, _ = by_id(res)
        self.assertEqual(sorted(jobs), list(range(n)))
        for i, j in jobs.items():
            self.assertEqual(j["output"], str(i + 1))

    def test_seq_and_slot_after_a_crashed_worker(self):
        # The first run of every third job kills its worker: the retry
        # still sees {#} = id + 1, and every {%} is a slot 1..-w.
        d = tempfile.mkdtemp()
        try:
            cmd = (f"sh -c 'if [ $(({{}} % 3)) = 0 ] && [ ! -e {d}/{{}} ]; "
                   f"then touch {d}/{{}}; kill -9 $PPID; sleep 5; fi; "
                   "echo {#} {%}'")
            n = 30
            res = run(["-w", "3", "--json", "--exec", cmd],
                      lines(*range(n)))
            self.assertEqual(res.rc, 0, res.errtext)
            jobs, summary = by_id(res)
            self.assertGreaterEqual(summary["restarts"], n // 3)
            slots_of = {}
            for i, j in jobs.items():
                seq, slot = j["output"].split()
                self.assertEqual(int(seq), i + 1, j)
                self.assertIn(int(slot), (1, 2, 3), j)
                slots_of.setdefault(j["worker"], set()).add(int(slot))
                if i % 3 == 0:
                    self.assertGreaterEqual(j["attempts"], 2, j)
            # Each worker process has one slot.
            for pid, slots in slots_of.items():
                self.assertEqual(len(slots), 1, (pid, slots))
        finally:
            shutil.rmtree(d)

    def test_slot_within_workers(self):
        res = run(["-w", "3", "--json", "--exec", "echo {%}"],
                  lines(*range(60)))
        jobs, _ = by_id(res)
        seen = {int(j["output"]) for j in jobs.values()}
        self.assertTrue(seen <= {1, 2, 3}, seen)
        for j in jobs.values():
            others = [k for k in jobs.values() if k["worker"] == j["worker"]]
            self.assertEqual({k["output"] for k in others}, {j["output"]})

    def test_no_replacement_string_means_stdin(self):
        res = run(["-w", "1", "--ordered", "--exec", "wc -c"],
                  lines("abc", "{x}"))
        self.assertEqual(res.text.split(), ["4", "4"])


class TestDryRun(DroverTestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp()

    def tearDown(self):
        shutil.rmtree(self.dir)

    def test_direct_exact_and_runs_nothing(self):
        d = self.dir
        res = run(["-w", "2", "--dry-run", "--exec",
                   f"touch {d}/{{/.}}.{{#}}.{{%}}"],
                  lines("a b/c.txt", "it's", "x"))
        self.assertEqual(res.rc, 0, res.errtext)
        self.assertEqual(res.text,
                         f"touch {d}/c.1.1\n"
                         f"touch '{d}/it'\\''s.2.2'\n"
                         f"touch {d}/x.3.1\n")
        self.assertEqual(res.errtext, "")
        self.assertEqual(os.listdir(d), [])

    def test_shell_mode_exact_and_runs_nothing(self):
        d = self.dir
        res = run(["-w", "3", "--dry-run", "--exec",
                   f"echo {{}} {{#}} > {d}/{{%}}"],
                  lines("a b", "$x", "ok"))
        self.assertEqual(res.rc, 0, res.errtext)
        self.assertEqual(res.text,
                         f"echo 'a b' 1 > {d}/1\n"
                         f"echo '$x' 2 > {d}/2\n"
                         f"echo ok 3 > {d}/3\n")
        self.assertEqual(os.listdir(d), [])

    def test_stdin_mode(self):
        res = run(["--dry-run", "--exec", "wc -c"], lines("a b"))
        self.assertEqual(res.text, "printf '%s\\n' 'a b' | wc -c\n")
        res = run(["--dry-run", "--exec", "sort | uniq"], lines("x"))
        self.assertEqual(res.text, "printf '%s\\n' x | (sort | uniq)\n")

    def test_the_lines_do_what_a_run_does(self):
        inputs = ["d/a b.txt", "it's", "$HOME", "x.y.z", "`id`"]
        for cmd in ("printf '[%s] ' {} {.} {/} {//} {/.} {#}",
                    "printf '[%s] ' {} {.} {/} {//} {/.} {#}; echo"):
            dry = run(["-w", "2", "--dry-run", "--exec", cmd],
                      lines(*inputs))
            real = run(["-w", "2", "--json", "--exec", cmd], lines(*inputs))
            jobs, _ = by_id(real)
            for i, line in enumerate(dry.text.splitlines()):
                out = subprocess.run(["/bin/sh", "-c", line],
                                     capture_output=True).stdout.decode()
                self.assertEqual(out.rstrip("\n"), jobs[i]["output"], line)

    def test_dry_run_needs_exec(self):
        res = run(["--dry-run", "square"], lines(1))
        self.assertEqual(res.rc, 2)
        self.assertIn("--dry-run goes with --exec", res.errtext)


class TestStderr(DroverTestCase):
    FAIL = "sh -c 'echo out-{}; echo err-{} >&2; echo more >&2; exit 3'"

    def test_json_stderr_of_a_failed_command(self):
        res = run(["-w", "2", "--json", "--exec", self.FAIL],
                  lines("a b", "c"))
        self.assertEqual(res.rc, 1)
        jobs, summary = by_id(res)
        self.assertEqual(jobs[0]["status"], "failed")
        self.assertEqual(jobs[0]["error"], "exit status 3")
        self.assertEqual(jobs[0]["stderr"], "err-a b\nmore\n")
        self.assertEqual(jobs[1]["stderr"], "err-c\nmore\n")
        self.assertEqual(summary["restarts"], 0)
        # Nothing of it went to the log.
        self.assertNotIn("err-", res.errtext)

    def test_text_failure_line_has_id_input_and_stderr(self):
        res = run(["-w", "2", "--exec", self.FAIL], lines("ok", "a b"))
        self.assertEqual(res.rc, 1)
        self.assertIn("drover: job 1 failed: exit status 3 (input 'a b'): "
                      "err-a b more\n", res.errtext)
        self.assertIn("drover: job 0 failed: exit status 3 (input ok): "
                      "err-ok more\n", res.errtext)
        self.assertNotIn("pid", res.errtext)

    def test_long_stderr_is_cut_on_the_text_line(self):
        res = run(["--exec", "sh -c 'printf %0500d 0 >&2; exit 1'"],
                  lines("x"))
        line = [x for x in res.errtext.splitlines() if "job 0" in x][0]
        self.assertTrue(line.endswith("0" * 200 + "..."), line)

    def test_no_stderr_no_field(self):
        res = run(["--json", "--exec", "false"], lines("x"))
        jobs, _ = by_id(res)
        self.assertNotIn("stderr", jobs[0])
        self.assertEqual(jobs[0]["error"], "exit status 1")

    def test_stderr_over_max_result_bytes_is_cut(self):
        res = run(["-w", "1", "--json", "--max-result-bytes", "100",
                   "--exec", "sh -c 'printf %01000d 7 >&2; exit 1'"],
                  lines("x", "y"))
        jobs, summary = by_id(res)
        for j in jobs.values():
            self.assertEqual(j["status"], "failed", j)
            self.assertEqual(j["stderr"], ("0" * 999 + "7")[:100])
        self.assertEqual(summary["restarts"], 0)

    def test_output_over_max_result_bytes_fails_the_job(self):
        res = run(["-w", "1", "--json", "--max-result-bytes", "100",
                   "--exec", "sh -c 'printf %0200d {}'"], lines(1, 2))
        jobs, summary = by_id(res)
        for j in jobs.values():
            self.assertEqual(j["error"], "output over 100 bytes", j)
        self.assertEqual(summary["restarts"], 0)

    def test_json_failed_command_keeps_its_stdout(self):
        res = run(["-w", "2", "--json", "--exec", self.FAIL],
                  lines("a b", "c"))
        jobs, _ = by_id(res)
        self.assertEqual(jobs[0]["output"], "out-a b")
        self.assertEqual(jobs[0]["error"], "exit status 3")
        self.assertEqual(jobs[0]["stderr"], "err-a b\nmore\n")
        self.assertEqual(jobs[1]["output"], "out-c")

    def test_failed_command_without_stdout_has_no_output(self):
        res = run(["--json", "--exec", "sh -c 'echo e >&2; kill -9 $$'"],
                  lines("x"))
        jobs, _ = by_id(res)
        self.assertNotIn("output", jobs[0])
        self.assertEqual(jobs[0]["error"], "killed by signal 9 (SIGKILL)")

    def test_failed_stdout_over_max_result_bytes_is_cut(self):
        res = run(["-w", "1", "--json", "--max-result-bytes", "100",
                   "--exec", "sh -c 'printf %0100d 5; exit 2'"], lines("x"))
        jobs, summary = by_id(res)
        self.assertEqual(jobs[0]["output"], "0" * 99 + "5")
        self.assertEqual(summary["restarts"], 0)

    def test_ok_command_stderr_is_logged_not_kept(self):
        res = run(["-w", "1", "--json", "--exec",
                   "sh -c 'echo note-{} >&2; echo {}'"], lines("a"))
        self.assertEqual(res.rc, 0, res.errtext)
        jobs, _ = by_id(res)
        self.assertEqual(jobs[0]["output"], "a")
        self.assertNotIn("stderr", jobs[0])
        self.assertIn("note-a", res.errtext)


HDR = struct.Struct("<IBBBBQ")

V1_WORKER = r'''
import os, struct, sys
H = struct.Struct("<IBBBBQ")
out, inp = sys.stdout.buffer, sys.stdin.buffer
out.write(H.pack(6, 1, 0, 0, 0, 1) + b"v1 say"); out.flush()
def read(n):
    b = b""
    while len(b) < n:
        c = inp.read(n - len(b))
        if not c:
            sys.exit(0)
        b += c
    return b
hello = True
while True:
    ln, ty, st, f, z, i = H.unpack(read(16))
    p = read(ln)
    if hello:
        assert ty == 1 and i == 1 and f == 0 and z == 0, (ty, i)
        hello = False
        continue
    assert ty == 2 and f == 0 and z == 0
    out.write(H.pack(len(p) + 3, 3, 0, 0, 0, i) + b"v1:" + p); out.flush()
'''

V2_WORKER = r'''
import os, struct, sys
H = struct.Struct("<IBBBBQ")
out, inp = sys.stdout.buffer, sys.stdin.buffer
def read(n):
    b = b""
    while len(b) < n:
        c = inp.read(n - len(b))
        if not c:
            sys.exit(0)
        b += c
    return b
ln, ty, st, f, z, i = H.unpack(read(16))
p = read(ln)
assert ty == 1 and i == 1, (ty, i)
desc, caps = p.split(b"\n", 1)
caps = caps.split()
assert b"job-meta" in caps and b"result-stderr" in caps, caps
hello = b"py-v2\nresult-stderr job-meta future-thing"
out.write(H.pack(len(hello), 1, 0, 0, 0, 2) + hello); out.flush()
while True:
    ln, ty, st, f, z, tag = H.unpack(read(16))
    p = read(ln)
    jid, att, res = struct.unpack("<QII", p[:16])
    assert res == 0
    job = p[16:]
    if job.startswith(b"fail"):
        err = b"stderr of " + job
        body = struct.pack("<I", len(err)) + err + b"failed " + job
        out.write(H.pack(len(body), 3, 1, 1, 0, tag) + body)
    else:
        r = b"%d:%d:%s" % (jid, att, job)
        out.write(H.pack(len(r), 3, 0, 0, 0, tag) + r)
    out.flush()
'''


# A version 2 worker that asks for result-stderr only, then sends flags it
# did not ask for: FLAG in the environment.
V2_UNASKED = r'''
import os, struct, sys
H = struct.Struct("<IBBBBQ")
out, inp = sys.stdout.buffer, sys.stdin.buffer
def read(n):
    b = b""
    while len(b) < n:
        c = inp.read(n - len(b))
        if not c:
            sys.exit(0)
        b += c
    return b
ln, ty, st, f, z, i = H.unpack(read(16))
read(ln)
hello = b"py-v2\nresult-stderr"
out.write(H.pack(len(hello), 1, 0, 0, 0, 2) + hello); out.flush()
flag = int(os.environ["FLAG"])
while True:
    ln, ty, st, f, z, tag = H.unpack(read(16))
    job = read(ln)
    fields = b"\x01x\x01" + struct.pack("<q", 7)
    body = struct.pack("<I", len(fields)) + fields + b"why"
    out.write(H.pack(len(body), 3, 1, flag, 0, tag) + body); out.flush()
'''


# A version 2 worker with result-output and result-fields, in the layout
# of docs/protocol.md.
V2_FIELDS = r'''
import os, struct, sys
H = struct.Struct("<IBBBBQ")
out, inp = sys.stdout.buffer, sys.stdin.buffer
def read(n):
    b = b""
    while len(b) < n:
        c = inp.read(n - len(b))
        if not c:
            sys.exit(0)
        b += c
    return b
def sect(b):
    return struct.pack("<I", len(b)) + b
def fint(name, v):
    return bytes([len(name)]) + name + b"\x01" + struct.pack("<q", v)
def fstr(name, v):
    return bytes([len(name)]) + name + b"\x02" + sect(v)
ln, ty, st, f, z, i = H.unpack(read(16))
caps = read(ln).split(b"\n")[1].split()
assert b"result-fields" in caps and b"result-output" in caps, caps
hello = b"py-v2\nresult-fields result-output"
out.write(H.pack(len(hello), 1, 0, 0, 0, 2) + hello); out.flush()
while True:
    ln, ty, st, f, z, tag = H.unpack(read(16))
    job = read(ln)
    fl = fint(b"n", -5) + fstr(b"s_1", b"h\xffi")
    if job == b"ok":
        body, st, f = sect(fl) + b"fine", 0, 4
    elif job == b"fail":
        body, st, f = sect(b"the stdout") + sect(fl) + b"why", 1, 6
    else:
        body, st, f = sect(fint(b"status", 1)) + b"x", 0, 4
    out.write(H.pack(len(body), 3, st, f, 0, tag) + body); out.flush()
'''


class TestSubmitSections(DroverTestCase):
    """drover submit shows what drover run does: a failed command's stderr
    and stdout, its fields, and every failed job's input (RESULT sections,
    docs/protocol.md)."""

    def setUp(self):
        self.d = Droverd([
            'name = "e"; handler = "exec"; workers = 2; '
            'exec = "echo out-{}; echo err-{} >&2; exit 3";',
            'name = "sq"; handler = "square";']).start()

    def tearDown(self):
        self.assertEqual(self.d.stop(), 0)

    def test_text(self):
        r = self.d.submit("e", lines("a b", "c"), "--ordered")
        self.assertEqual(r.rc, 1, r.errtext)
        self.assertEqual(r.text, "out-a b\nout-c\n")
        self.assertIn("drover: job 0 failed: exit status 3 (input 'a b'): "
                      "err-a b\n", r.errtext)
        self.assertIn("drover: job 1 failed: exit status 3 (input c): "
                      "err-c\n", r.errtext)

    def test_json(self):
        r = self.d.submit("e", lines("z"), "--json")
        rec = r.json_lines()[0]
        self.assertEqual((rec["status"], rec["error"], rec["output"],
                          rec["stderr"]),
                         ("failed", "exit status 3", "out-z", "err-z\n"))

    def test_input_of_any_failure_cut_short(self):
        long = "q" * 100
        r = self.d.submit("sq", lines(4, long))
        self.assertEqual(r.rc, 1, r.errtext)
        self.assertEqual(r.text, "16\n")
        # droverd sends back the first 64 bytes; the line shows 60.
        self.assertIn("(input " + "q" * 60 + "...)", r.errtext)


class TestExecCwd(DroverTestCase):
    """exec_cwd = "client": a job of drover submit runs in the submitting
    client's directory, so a relative path means what it means to the
    user (droverd.conf(5); frame job-cwd, docs/protocol.md)."""

    def setUp(self):
        self.d = Droverd([
            'name = "c"; handler = "exec"; exec = "cat {}"; '
            'exec_cwd = "client";',
            'name = "d"; handler = "exec"; exec = "cat {}";']).start()
        self.tmp = tempfile.mkdtemp(prefix="drover-cwd-")
        with open(os.path.join(self.tmp, "f.txt"), "w") as f:
            f.write("hello\n")

    def tearDown(self):
        shutil.rmtree(self.tmp)
        self.assertEqual(self.d.stop(), 0)

    def submit_from(self, cwd, pool, *jobs):
        r = self.d.client(["submit", "--pool", pool], lines(*jobs),
                          timeout=60, cwd=cwd)
        return r.rc, r.text, r.errtext

    def test_relative_paths_are_the_clients(self):
        rc, out, err = self.submit_from(self.tmp, "c", "f.txt", "./f.txt")
        self.assertEqual(rc, 0, err)
        self.assertEqual(out, "hello\nhello\n")
        # Without exec_cwd, droverd's directory: not there.
        rc, out, err = self.submit_from(self.tmp, "d", "f.txt")
        self.assertEqual(rc, 1, err)
        self.assertIn("cat: f.txt: No such file or directory", err)

    def test_python_client_sends_its_directory(self):
        sys.path.insert(0, os.path.join(os.environ["DROVER_SOURCE"],
                                        "python"))
        import drover
        here = os.getcwd()
        os.chdir(self.tmp)
        try:
            outs = [r.output for r in
                    drover.Client(self.d.sock).submit("c", ["f.txt"])]
        finally:
            os.chdir(here)
        self.assertEqual(outs, [b"hello"])

    def test_a_request_without_cwd_is_refused(self):
        s = ctl_connect(self.d.sock)
        s.sendall(ctl_request({"op": "submit", "pool": "c"}))
        msgs = ctl_read_all(s)
        s.close()
        self.assertIn(b"runs jobs in the client's directory", msgs[0][3])
        self.assertIn(b'"ok":false', msgs[0][3].replace(b" ", b""))

    def test_config_checks(self):
        for pool, want in [
                ('handler = "square"; exec_cwd = "client";',
                 'exec_cwd goes with handler "exec"'),
                ('handler = "exec"; exec = "cat {}"; exec_cwd = "here";',
                 "exec_cwd: 'here' is not"),
        ]:
            rc, err, _ = conf_check('socket = "/tmp/x.sock";\npools = ( '
                                    '{ name = "a"; ' + pool + " } );\n")
            self.assertEqual(rc, 2, err)
            self.assertIn(want, "\n".join(err))


class TestFrameVersions(DroverTestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp()

    def tearDown(self):
        shutil.rmtree(self.dir)

    def worker(self, name, text):
        path = os.path.join(self.dir, name)
        with open(path, "w") as f:
            f.write(text)
        return f"{sys.executable} {path}"

    def test_v1_worker_gets_no_meta(self):
        w = self.worker("v1.py", V1_WORKER)
        res = run(["-w", "2", "--json", "--protocol", "frame", "--worker", w],
                  lines(*range(50)))
        self.assertEqual(res.rc, 0, res.errtext)
        jobs, summary = by_id(res)
        for i, j in jobs.items():
            self.assertEqual(j["output"], f"v1:{i}")
        self.assertEqual(summary["restarts"], 0)

    def test_v2_worker_in_python(self):
        # The layout as docs/protocol.md gives it, from another language:
        # job-meta before each JOB, a stderr section in a FAIL result, an
        # unknown capability ignored.
        w = self.worker("v2.py", V2_WORKER)
        res = run(["-w", "1", "--json", "--protocol", "frame", "--worker", w],
                  lines("a", "fail-b", "c"))
        jobs, summary = by_id(res)
        self.assertEqual(jobs[0]["output"], "0:1:a")
        self.assertEqual(jobs[2]["output"], "2:1:c")
        self.assertEqual(jobs[1]["error"], "failed fail-b")
        self.assertEqual(jobs[1]["stderr"], "stderr of fail-b")
        self.assertEqual(summary["restarts"], 0)

    def test_v2_worker_sending_flags_it_did_not_ask_for(self):
        w = self.worker("v2u.py", V2_UNASKED)
        for flag in (2, 4):
            env = tagged_env({"FLAG": str(flag)})
            res = run(["-w", "1", "--json", "--attempts", "1", "--protocol",
                       "frame", "--worker", w], lines("a"), env=env)
            jobs, summary = by_id(res)
            self.assertEqual(jobs[0]["status"], "crashed", jobs[0])
            self.assertIn("protocol error: non-zero reserved header bytes",
                          res.errtext)
            self.assertGreaterEqual(summary["restarts"], 1)

    def test_v2_worker_with_fields_and_output(self):
        w = self.worker("v2f.py", V2_FIELDS)
        res = run(["-w", "1", "--json", "--ordered", "--protocol", "frame",
                   "--worker", w], lines("ok", "fail"))
        jobs, summary = by_id(res)
        self.assertEqual(jobs[0], dict(jobs[0], output="fine", n=-5,
                                       s_1="h\ufffdi"))
        self.assertEqual(jobs[1], dict(jobs[1], status="failed",
                                       error="why", output="the stdout",
                                       n=-5, s_1="h\ufffdi"))
        self.assertEqual(summary["restarts"], 0)
        # The members come after the record's own, in the worker's order.
        line = res.text.splitlines()[0]
        self.assertTrue(line.endswith(',"n":-5,"s_1":"h\ufffdi"}'), line)

    def test_v2_field_named_as_a_member_is_a_protocol_error(self):
        w = self.worker("v2f.py", V2_FIELDS)
        res = run(["-w", "1", "--json", "--attempts", "1", "--protocol",
                   "frame", "--worker", w], lines("clash"))
        jobs, _ = by_id(res)
        self.assertEqual(jobs[0]["status"], "crashed", jobs[0])
        self.assertIn("protocol error: bad field name", res.errtext)

    def supervise_v1(self, cmd, jobs):
        """Be a version 1 supervisor (empty HELLO, id 1) to drover-worker
        exec CMD: return its HELLO and the RESULTs, by tag."""
        env = tagged_env({"DROVER_PROTOCOL": "frame"})
        data = HDR.pack(0, 1, 0, 0, 0, 1)
        for i, j in enumerate(jobs):
            data += HDR.pack(len(j), 2, 0, 0, 0, 100 + i) + j
        p = subprocess.run([WORKER, "exec", cmd], input=data,
                           capture_output=True, env=env, timeout=30)
        self.assertEqual(p.returncode, 0, p.stderr)
        out, frames = p.stdout, []
        while out:
            ln, ty, st, f, z, i = HDR.unpack(out[:16])
            self.assertEqual((f, z), (0, 0))
            frames.append((ty, st, i, out[16:16 + ln]))
            out = out[16 + ln:]
        return frames[0], {i: (st, p) for ty, st, i, p in frames[1:]}

    def test_v2_worker_with_a_v1_supervisor(self):
        hello, res = self.supervise_v1("sh -c 'echo {/.}; echo e >&2; "
                                       "exit {}'", [b"0", b"1"])
        self.assertEqual(hello[0], 1)
        self.assertEqual(hello[2], 1)            # it answers version 1
        self.assertNotIn(b"\n", hello[3])        # with a plain description
        self.assertEqual(res[100], (0, b"0"))
        self.assertEqual(res[101], (1, b"exit status 1"))  # no stderr section

    def test_seq_needs_job_meta(self):
        _, res = self.supervise_v1("echo {#}", [b"x"])
        self.assertEqual(res[100][0], 1)
        self.assertIn(b"job-meta", res[100][1])


if __name__ == "__main__":
    unittest.main()
