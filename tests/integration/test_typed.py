#!/usr/bin/env python3
"""Typed results (docs/protocol.md, "result-typed"): a worker that answers
with binary integers (up to 128 bits) and doubles, and a version 1 worker
that answers the same values as text, must give the same output, the same
sum, min, max and mean, through drover run and through drover submit; a
client that did not ask for typed results gets the text it always had.
`tw echo` answers each job with its bytes (a version 1 HELLO, text);
`tw echo-typed` answers the number the job reads as, in binary;
`tw echo-batch` does the same with job-batch and result-batch, jobs many
to a frame and typed answers to consecutive jobs many to a frame."""
import json
import os
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from harness import (CTL_BYE, CTL_END, CTL_JOB, CTL_READ,  # noqa
                     CTL_RECORDS, CTL_REPLY, CTL_RESULT, CTL_SUMS, DROVER,
                     TW, Droverd, DroverTestCase, Result, ctl_connect,
                     ctl_frame, ctl_read_all, ctl_read_one, ctl_request,
                     run)

I128_MAX = (1 << 127) - 1
I128_MIN = -(1 << 127)
I64_MAX = (1 << 63) - 1
I64_MIN = -(1 << 63)

# Integers near every limit, negatives; their sum is exact in 128 bits
# in this order (-w 1: the order of completion is the input's).
INTS = [I128_MAX, I128_MIN, I128_MAX - 1, I128_MIN + 1, -1, 0, 1, I64_MAX,
        I64_MAX + 1, I64_MIN, I64_MIN - 1, 1 << 64, -(1 << 64), -49,
        10 ** 38, -(10 ** 38), 123456789012345678901234567890]
# Doubles as their shortest text reads back (what drover prints), and
# things that are not numbers.
MIXED = ["0.5", "-2.5", "1e+300", "0.1", "-1.5e-07", "123.25", "7", "-8",
         "1e+15", "4.5e-320", "abc", "1.0000000000000002",
         str(I128_MAX), "9007199254740993"]
SUMMARY_KEYS = ("jobs", "ok", "failed", "sum", "min", "max", "mean",
                "sum_overflow")


def data(items):
    return "".join(f"{x}\n" for x in items).encode()


def summary_of(res):
    """The summary object's numbers (not its times) and the output lines."""
    objs = res.json_lines()
    s = objs[-1]["summary"]
    return ({k: s.get(k) for k in SUMMARY_KEYS},
            [o.get("output") for o in objs[:-1]])


def text_summary(res):
    """The text summary line from "; sum" on (the totals)."""
    line = [x for x in res.errtext.splitlines() if " jobs, " in x][-1]
    return line[line.index("; sum"):] if "; sum" in line else ""


class TypedRun(DroverTestCase):
    def both(self, items, *opts):
        """Text and typed runs; the batched one must equal the typed."""
        out = []
        for mode in ("echo", "echo-typed", "echo-batch"):
            r = run(["-w", "1", "--ordered", "--protocol", "frame", *opts,
                     "--worker", f"{TW} {mode}"], data(items))
            self.assertEqual(r.rc, 0, r.errtext)
            out.append(r)
        if "--json" in opts:	# pids and latencies differ
            self.assertEqual(summary_of(out[2]), summary_of(out[1]))
        else:
            self.assertEqual(out[2].out, out[1].out)
        self.assertEqual(text_summary(out[2]), text_summary(out[1]))
        return out[:2]

    def test_batches_break_and_join(self):
        """Runs of i64s broken by i128s, doubles and text, -w 2, in
        many frames each way: the same as text, every job once."""
        items = []
        for i in range(30000):
            k = i % 97
            items.append(I128_MAX - i if k == 5 else f"{i}.5" if k == 9
                         else f"x{i}" if k == 11 else i * (-1) ** i)
        v1 = run(["-w", "2", "--ordered", "--protocol", "frame", "--worker",
                  f"{TW} echo"], data(items))
        b = run(["-w", "2", "--ordered", "--protocol", "frame", "--worker",
                 f"{TW} echo-batch"], data(items))
        self.assertEqual(v1.rc, 0, v1.errtext)
        self.assertEqual(b.rc, 0, b.errtext)
        self.assertEqual(b.out, data(items))
        self.assertEqual(text_summary(b), text_summary(v1))
        self.assertIn("30000 jobs, 30000 ok", b.errtext)

    def test_batched_to_a_worker_that_asks_for_cwd(self):
        """A worker that asks for job-cwd as well as job-batch gets the
        jobs of a batch without a directory batched (drover run's): the
        same output as without job-cwd, long jobs between short ones."""
        items = [chr(ord("a") + i % 26) * 65530 if i % 40 == 3 else
                 str(i * 3) for i in range(4000)]
        r = run(["-w", "2", "--ordered", "--protocol", "frame", "--worker",
                 f"{TW} echo-batch-cwd"], data(items))
        self.assertEqual(r.rc, 0, r.errtext)
        self.assertEqual(r.out, data(items))

    def test_long_jobs_between_batched_ones(self):
        """Jobs around the longest a batched JOB carries (65515 bytes),
        between short ones, -w 2: the long ones go in frames of their
        own, the batch before each is closed and the one after opened
        right; every output is its input, in order."""
        items = []
        for i in range(3000):
            if i % 50 == 7:
                items.append(chr(ord("a") + i % 26) * (65500 + i % 37))
            else:
                items.append(str(i))
        r = run(["-w", "2", "--ordered", "--protocol", "frame", "--worker",
                 f"{TW} echo-batch"], data(items))
        self.assertEqual(r.rc, 0, r.errtext)
        self.assertEqual(r.out, data(items))
        self.assertIn("3000 jobs, 3000 ok", r.errtext)

    def test_batched_result_for_unknown_tag(self):
        """A batched RESULT naming a tag not held is a protocol error:
        the worker is replaced, the others' jobs run again, once each."""
        items = list(range(1, 51)) + ["bad"] + list(range(52, 101))
        r = run(["-w", "1", "--attempts", "2", "--protocol", "frame",
                 "--worker", f"{TW} echo-batch-badtag"], data(items))
        self.assertEqual(r.rc, 1, r.errtext)
        self.assertIn("protocol error: result for unknown job tag",
                      r.errtext)
        got = sorted(int(x) for x in r.out.split())
        self.assertEqual(got, [x for x in items if x != "bad"])
        self.assertIn("100 jobs, 99 ok, 1 failed", r.errtext)

    def test_ints_near_the_limits(self):
        v1, typed = self.both(INTS)
        self.assertEqual(v1.out, data(INTS))
        self.assertEqual(typed.out, v1.out)
        self.assertEqual(text_summary(typed), text_summary(v1))
        self.assertIn(f"; sum {sum(INTS)} min {I128_MIN} max {I128_MAX}",
                      text_summary(typed))

    def test_json_mixed(self):
        v1, typed = self.both(MIXED, "--json")
        sv, ov = summary_of(v1)
        st, ot = summary_of(typed)
        self.assertEqual(ov, MIXED)
        self.assertEqual(ot, ov)
        self.assertEqual(st, sv)
        self.assertEqual(st["ok"], len(MIXED))

    def test_overflow_folds_alike(self):
        items = [I128_MAX, I128_MAX, -5, "0.25"]
        v1, typed = self.both(items)
        self.assertEqual(typed.out, v1.out)
        self.assertEqual(text_summary(typed), text_summary(v1))

    def test_square_many(self):
        """drover-worker square answers typed: the exact sum of 10^4."""
        n = 10000
        r = run(["-w", "2", "--quiet", "square"], data(range(-n, n + 1)))
        self.assertEqual(r.rc, 0, r.errtext)
        want = 2 * n * (n + 1) * (2 * n + 1) // 6
        self.assertIn(f"; sum {want} min 0 max {n * n}", text_summary(r))


class TypedSubmit(DroverTestCase):
    @classmethod
    def setUpClass(cls):
        cls.d = Droverd([
            f'name = "v1"; workers = 1; command = "{TW} echo"; '
            'protocol = "frame";',
            f'name = "typed"; workers = 1; command = "{TW} echo-typed"; '
            'protocol = "frame";',
            f'name = "batch"; workers = 2; command = "{TW} echo-batch"; '
            'protocol = "frame";',
            'name = "square"; workers = 2; handler = "square";',
        ]).start()

    @classmethod
    def tearDownClass(cls):
        rc = cls.d.stop()
        assert rc == 0, cls.d.logtext()

    def test_submit_same_as_run(self):
        for items in (INTS, MIXED):
            got = []
            for pool in ("v1", "typed"):
                r = self.d.submit(pool, data(items), "--ordered", "--json")
                self.assertEqual(r.rc, 0, r.errtext)
                got.append(summary_of(r))
            self.assertEqual(got[1], got[0])
            self.assertEqual(got[0][1], [str(x) for x in items])
            local = run(["-w", "1", "--ordered", "--json", "--worker",
                         f"{TW} echo-typed"], data(items))
            self.assertEqual(summary_of(local), got[1])

    def raw(self, sections):
        """One JOB, the largest i128, to the typed pool, raw."""
        s = ctl_connect(self.d.sock)
        req = {"op": "submit", "pool": "typed"}
        if sections is not None:
            req["sections"] = sections
        s.sendall(ctl_request(req) + ctl_frame(CTL_JOB, str(I128_MAX), 0)
                  + ctl_frame(CTL_END))
        msgs = ctl_read_all(s)
        s.close()
        self.assertEqual(msgs[-1][0], CTL_BYE)
        res = [m for m in msgs if m[0] == CTL_RESULT]
        self.assertEqual(len(res), 1)
        return res[0]

    def test_client_without_typed_gets_text(self):
        for sections in (None, ["stderr", "output", "fields", "input"]):
            typ, st, id_, payload = self.raw(sections)
            self.assertEqual(st, 0)
            self.assertEqual(payload[16:], str(I128_MAX).encode())

    def test_client_with_typed_gets_binary(self):
        got = {id_: (flags, p[16:]) for typ, st, flags, id_, p in
               self.raw_frames(["typed"], [str(I128_MAX), "-2", "0.5"])
               if typ == CTL_RESULT}
        self.assertEqual(got[0], (0x10, I128_MAX.to_bytes(16, "little",
                                                          signed=True)))
        self.assertEqual(got[1], (0x10, (-2).to_bytes(8, "little",
                                                      signed=True)))
        self.assertEqual(got[2], (0x20, struct.pack("<d", 0.5)))

    def decoded(self, frames, run_flags):
        """Each job's values in frames, and how many runs: the runs
        (all with run_flags: 0x50, a pid, attempts and 16 bytes a job;
        0xd0, a latency too and 8 bytes a job), typed results and text,
        every one ok and of a first attempt."""
        got, runs = {}, 0
        for typ, st, flags, id_, p in frames:
            if typ != CTL_RESULT:
                continue
            self.assertEqual(st, 0)
            if flags & 0x40:
                self.assertEqual(flags, run_flags)
                head, item = (16, 8) if flags & 0x80 else (8, 16)
                pid, attempts = struct.unpack_from("<II", p)
                self.assertEqual(attempts, 1)
                if flags & 0x80:        # a latency of a job that ran
                    self.assertLess(struct.unpack_from("<Q", p, 8)[0],
                                    60 * 10**6)
                self.assertGreater(len(p), head)
                self.assertEqual((len(p) - head) % item, 0)
                for k in range((len(p) - head) // item):
                    v, = struct.unpack_from("<q", p, head + item * k)
                    got.setdefault(id_ + k, []).append(str(v))
                runs += 1
            elif flags == 0x10:
                got.setdefault(id_, []).append(str(int.from_bytes(
                    p[16:], "little", signed=True)))
            else:
                got.setdefault(id_, []).append(p[16:].decode())
        return got, runs

    def test_client_with_batch_gets_runs(self):
        """A client that asks for "typed" and "batch" gets the ok 8-byte
        outputs of consecutive jobs in runs (docs/protocol.md), the
        others alone; every job once, with its value."""
        items = [str(I128_MAX) if i == 700 else "x" if i == 1400
                 else str(i * 3 - 1000) for i in range(3000)]
        got, runs = self.decoded(self.raw_frames(["typed", "batch"], items),
                                 0x50)
        self.assertEqual(got, {i: [x] for i, x in enumerate(items)})
        self.assertLess(runs, 300)      # runs, not a frame a job
        # Without "batch", no run.
        for typ, st, flags, id_, p in self.raw_frames(["typed"], items):
            self.assertFalse(flags & 0x40)

    def test_client_with_runlat_gets_runs_of_one_latency(self):
        """"runlat" too: the runs carry one latency in their head (16
        bytes: pid, attempts, latency) and 8 bytes a job; jobs of
        another latency start another run.  Every job once, with its
        value; the latencies are those of a job that ran."""
        items = [str(I128_MAX) if i == 700 else "x" if i == 1400
                 else str(i * 3 - 1000) for i in range(3000)]
        got, runs = self.decoded(self.raw_frames(
            ["typed", "batch", "runlat"], items, pool="batch"), 0xd0)
        self.assertEqual(got, {i: [x] for i, x in enumerate(items)})
        self.assertGreater(runs, 0)
        self.assertLess(runs, 1000)     # runs, not a frame a job

    def test_client_with_sums_gets_sums(self):
        """"sums" too: the ok 8-byte integer outputs of consecutive jobs
        come as SUMS (docs/protocol.md): how many, their sum, least and
        greatest, with the worker, attempts and latency they share; the
        others (an i128, a text, the doubles) as before.  Every job
        once, and each SUMS the exact totals of its jobs."""
        items = [str(I128_MAX) if i == 700 else "x" if i == 1400
                 else f"{i}.5" if i % 997 == 3 else str(i * 3 - 1000)
                 if i % 2 else str(I64_MIN + i) for i in range(3000)]
        seen, sums = {}, 0
        for typ, st, flags, id_, p in self.raw_frames(
                ["typed", "batch", "runlat", "sums"], items, pool="batch"):
            if typ == CTL_SUMS:
                self.assertEqual((st, flags, len(p)), (0, 0, 56))
                pid, attempts, lat, n = struct.unpack_from("<IIQQ", p)
                total = int.from_bytes(p[24:40], "little", signed=True)
                lo, hi = struct.unpack_from("<qq", p, 40)
                vals = [int(x) for x in items[id_:id_ + n]]
                self.assertEqual((total, lo, hi),
                                 (sum(vals), min(vals), max(vals)))
                self.assertEqual(attempts, 1)
                self.assertLess(lat, 60 * 10**6)
                for k in range(n):
                    seen.setdefault(id_ + k, []).append(typ)
                sums += 1
            elif typ == CTL_RESULT:
                self.assertEqual(st, 0)
                # No run of integers: those are SUMS now.
                self.assertNotEqual(flags & 0x50, 0x50)
                k = (len(p) - 16) // 8 if flags & 0x80 else 1
                for i in range(k):
                    seen.setdefault(id_ + i, []).append(typ)
        self.assertEqual(sorted(seen), list(range(3000)))
        self.assertEqual({i for i, v in seen.items() if v != [CTL_SUMS]},
                         {i for i, x in enumerate(items) if i in
                          (700, 1400) or "." in x})
        self.assertGreater(sums, 0)
        self.assertLess(sums, 1000)     # runs, not a frame a job
        # Without "typed" and "batch", "sums" changes nothing.
        for sections in (["sums"], ["typed", "sums"]):
            frames = self.raw_frames(sections, items, pool="batch")
            self.assertEqual(len([f for f in frames if f[0] == CTL_RESULT]),
                             3000)

    def test_submit_quiet_sums_exact(self):
        """drover submit --quiet asks for "sums"; its summary is the one
        --json gives (which takes every value) and the exact one: jobs
        that fail between the runs, the sum of squares past 64 bits."""
        items = ["x" if i % 1001 == 5 else str(i * 9973 % 3037000499)
                 for i in range(200000)]
        want = sum(int(x) ** 2 for x in items if x != "x")
        q = self.d.submit("square", data(items), "--quiet")
        j = self.d.submit("square", data(items), "--json")
        self.assertEqual((q.rc, j.rc), (1, 1), q.errtext + j.errtext)
        self.assertEqual(q.out, b"")
        failed = items.count("x")
        self.assertIn(f"200000 jobs, {200000 - failed} ok, {failed} "
                      "failed, 0 retried", q.errtext)
        local = run(["-w", "2", "--quiet", "square"], data(items))
        self.assertEqual(text_summary(q), text_summary(local))
        self.assertIn(f"; sum {want} min 0 ", q.errtext)
        s = j.jobs_and_summary()[1]
        self.assertEqual(str(s["sum"]), str(want))
        self.assertEqual((s["ok"], s["failed"]), (200000 - failed, failed))
        self.assertEqual(q.errtext.count("failed: not an integer"), failed)

    def test_clients_share_a_batched_pool(self):
        """Four clients at once on one pool whose workers answer in
        batched RESULTs: two raw ones that take runs, one that takes
        typed results but no runs, and drover submit.  droverd takes
        each worker's runs in bulk for the clients that take runs and
        one by one for the other, in one read: each client gets its own
        jobs, once each, with their values."""
        def items(k):
            return [f"x{k}.{i}" if i % 501 == 500 else f"{i}.5"
                    if i % 307 == 306 else str(i * 7 + k)
                    for i in range(20000)]

        def values(frames):
            got = {}
            for typ, st, flags, id_, p in frames:
                if typ != CTL_RESULT:
                    continue
                self.assertEqual(st, 0)
                if flags & 0x40:
                    for k in range((len(p) - 8) // 16):
                        v = p[8 + 16 * k:16 + 16 * k]
                        got.setdefault(id_ + k, []).append(
                            str(struct.unpack("<q", v)[0]) if flags == 0x50
                            else repr(struct.unpack("<d", v)[0]))
                elif flags == 0x10:
                    got.setdefault(id_, []).append(str(int.from_bytes(
                        p[16:], "little", signed=True)))
                elif flags == 0x20:
                    got.setdefault(id_, []).append(
                        repr(struct.unpack("<d", p[16:])[0]))
                else:
                    got.setdefault(id_, []).append(p[16:].decode())
            return got

        out = {}

        def raw(k, sections):
            out[k] = self.raw_frames(sections, items(k), pool="batch")

        threads = [threading.Thread(target=raw, args=(k, sec)) for k, sec in
                   ((0, ["typed", "batch"]), (1, ["typed", "batch"]),
                    (2, ["typed"]))]
        for t in threads:
            t.start()
        sub = self.d.submit("batch", data(items(3)), "--ordered")
        for t in threads:
            t.join()
        self.assertEqual(sub.rc, 0, sub.errtext)
        self.assertEqual(sub.out, data(items(3)))
        for k in range(3):
            self.assertEqual(values(out[k]),
                             {i: [x] for i, x in enumerate(items(k))})
            self.assertEqual(any(f & 0x40 for _, _, f, _, _ in out[k]),
                             k < 2)

    def raw_frames(self, sections, items, pool="typed"):
        s = ctl_connect(self.d.sock)
        s.sendall(ctl_request({"op": "submit", "pool": pool,
                               "sections": sections}) +
                  b"".join(ctl_frame(CTL_JOB, x, i)
                           for i, x in enumerate(items)) +
                  ctl_frame(CTL_END))
        buf = b""
        while True:
            chunk = s.recv(1 << 16)
            if not chunk:
                break
            buf += chunk
        s.close()
        out = []
        while buf:
            n, typ, st, flags, zero, id_ = struct.unpack_from("<IBBBBQ",
                                                              buf)
            out.append((typ, st, flags, id_, buf[16:16 + n]))
            buf = buf[16 + n:]
        return out


def run_of(id_, values, flags=0x50, pid=4242, attempts=1):
    """A batched RESULT (a run): pid, attempts, then value, latency."""
    fmt = "<q" if flags == 0x50 else "<d"
    body = struct.pack("<II", pid, attempts) + b"".join(
        struct.pack(fmt, v) + struct.pack("<Q", 7 + i)
        for i, v in enumerate(values))
    return struct.pack("<IBBBBQ", len(body), CTL_RESULT, 0, flags, 0,
                       id_) + body


def runlat_of(id_, values, flags=0xd0, pid=4242, attempts=1, lat=7):
    """A run of one latency ("runlat"): pid, attempts, latency, values."""
    fmt = "<q" if flags == 0xd0 else "<d"
    body = struct.pack("<IIQ", pid, attempts, lat) + b"".join(
        struct.pack(fmt, v) for v in values)
    return struct.pack("<IBBBBQ", len(body), CTL_RESULT, 0, flags, 0,
                       id_) + body


def client_messages(c):
    """The messages (type, payload) a client sends on c, until it
    closes."""
    buf = b""
    while True:
        chunk = c.recv(1 << 16)
        if not chunk:
            return
        buf += chunk
        while len(buf) >= 16:
            n, typ = struct.unpack_from("<IB", buf)
            if len(buf) < 16 + n:
                break
            yield typ, buf[16:16 + n]
            buf = buf[16 + n:]


def sums_of(id_, n, total, lo, hi, pid=4242, attempts=1, lat=7):
    """A SUMS ("sums"): pid, attempts, latency, jobs, sum, least,
    greatest."""
    body = (struct.pack("<IIQQ", pid, attempts, lat, n) +
            total.to_bytes(16, "little", signed=True) +
            struct.pack("<qq", lo, hi))
    return struct.pack("<IBBBBQ", len(body), CTL_SUMS, 0, 0, 0, id_) + body


def result(id_, out, flags=0, status=0):
    """A RESULT as droverd builds it: meta (pid, attempts, latency), out."""
    return struct.pack("<IBBBBQ", 16 + len(out), CTL_RESULT, status, flags,
                       0, id_) + struct.pack("<IIQ", 4242, 1, 7) + out


class ResultsOfOneRead(DroverTestCase):
    """drover submit takes the ok RESULTs of a read in one loop
    (cli/client.c's submit_frames()) and the others one by one: a scripted
    droverd sends every kind in one write, a repeat among them."""

    RESULTS = (result(0, struct.pack("<q", 1), 0x10) +
               result(1, b"4") +
               result(0, struct.pack("<q", 1), 0x10) +       # a repeat
               result(2, (9).to_bytes(16, "little", signed=True), 0x10) +
               result(3, struct.pack("<d", 16.0), 0x20) +
               result(4, b"boom", status=1) +
               result(5, struct.pack("<q", 25), 0x10))

    def serve(self, ls):
        c, _ = ls.accept()
        for typ, body in client_messages(c):
            if typ == 1:
                self.request = json.loads(body)
                c.sendall(ctl_frame(CTL_REPLY, json.dumps(
                    {"ok": True, "pool": "p", "max_job_bytes": 1 << 20})))
            if typ == CTL_END:
                c.sendall(self.results +
                          ctl_frame(CTL_BYE, '{"restarts":0}'))
                c.close()
                return

    def submit(self, *opts, results=None, stdin=b"a\nb\nc\nd\ne\nf\n",
               stdout=subprocess.PIPE):
        self.results = self.RESULTS if results is None else results
        d = tempfile.mkdtemp(prefix="drover-results-")
        path = os.path.join(d, "s.sock")
        ls = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        ls.bind(path)
        ls.listen(1)
        t = threading.Thread(target=self.serve, args=(ls,), daemon=True)
        t.start()
        p = subprocess.run([DROVER, "submit", "--pool", "p", "--socket",
                            path] + list(opts), input=stdin, stdout=stdout,
                           stderr=subprocess.PIPE, timeout=60)
        r = Result(p.returncode, p.stdout, p.stderr, None)
        t.join(10)
        ls.close()
        os.unlink(path)
        os.rmdir(d)
        return r

    def test_every_kind_in_one_read(self):
        r = self.submit("--json")
        self.assertEqual(r.rc, 1, r.errtext)        # job 4 failed
        jobs, summary = r.jobs_and_summary()
        self.assertEqual(sorted(j["id"] for j in jobs), list(range(6)))
        self.assertEqual({j["id"]: j.get("output") for j in jobs
                          if j["status"] == "ok"},
                         {0: "1", 1: "4", 2: "9", 3: "16", 5: "25"})
        self.assertEqual([(j["id"], j["error"]) for j in jobs
                          if j["status"] != "ok"], [(4, "boom")])
        self.assertEqual((summary["ok"], summary["failed"]), (5, 1))
        self.assertEqual(str(summary["sum"]), "55")
        self.assertEqual(r.errtext.count("job 0, which has one already"),
                         1, r.errtext)

    # Runs (batched RESULTs) among single ones, repeats inside a run.
    RUNS = (run_of(0, [1, 4]) + result(2, struct.pack("<q", 9), 0x10) +
            run_of(1, [4, 9]) +                    # two repeats
            run_of(3, [16.0], 0x60) + result(4, b"boom", status=1) +
            run_of(5, [25, 36, 49], pid=99, attempts=2))

    def runs_json(self, results):
        """drover submit --json on results (8 jobs, job 4 failed, jobs 1
        and 2 repeated): every job once, the values, the repeats named;
        the ok jobs' records."""
        r = self.submit("--json", results=results,
                        stdin=b"a\nb\nc\nd\ne\nf\ng\nh\n")
        self.assertEqual(r.rc, 1, r.errtext)        # job 4 failed
        jobs, summary = r.jobs_and_summary()
        self.assertEqual(sorted(j["id"] for j in jobs), list(range(8)))
        ok = {j["id"]: j for j in jobs if j["status"] == "ok"}
        self.assertEqual({i: j["output"] for i, j in ok.items()},
                         {0: "1", 1: "4", 2: "9", 3: "16", 5: "25",
                          6: "36", 7: "49"})
        self.assertEqual((ok[6]["worker"], ok[6]["attempts"]), (99, 2))
        self.assertEqual((summary["ok"], summary["failed"]), (7, 1))
        self.assertEqual(str(summary["sum"]), "140")
        for k in (1, 2):
            self.assertEqual(r.errtext.count(f"job {k}, which has one "
                                             "already"), 1, r.errtext)
        return ok

    def test_runs_in_one_read(self):
        ok = self.runs_json(self.RUNS)
        self.assertEqual(ok[6]["latency_us"], 8)

    def test_runs_of_one_latency_in_one_read(self):
        """The same results in runs of one latency (flags 0xd0, 0xe0):
        the same jobs, values, repeats named, and each job the latency
        of its run."""
        runs = (runlat_of(0, [1, 4]) + result(2, struct.pack("<q", 9),
                                              0x10) +
                runlat_of(1, [4, 9]) +
                runlat_of(3, [16.0], 0xe0) + result(4, b"boom", status=1) +
                runlat_of(5, [25, 36, 49], pid=99, attempts=2, lat=8))
        ok = self.runs_json(runs)
        self.assertEqual({i: j["latency_us"] for i, j in ok.items()},
                         {0: 7, 1: 7, 2: 7, 3: 7, 5: 8, 6: 8, 7: 8})
        r = self.submit("--quiet", results=runs,
                        stdin=b"a\nb\nc\nd\ne\nf\ng\nh\n")
        self.assertIn("8 jobs, 7 ok, 1 failed, 3 retried", r.errtext)
        self.assertIn("; sum 140 min 1 max 49", r.errtext)

    # SUMS among RESULTs and runs: jobs 0-1 (1, 4), 5-7 (25, 36, 49).
    SUMS = (sums_of(0, 2, 5, 1, 4) + result(2, struct.pack("<q", 9), 0x10) +
            runlat_of(3, [16.0], 0xe0) + result(4, b"boom", status=1) +
            sums_of(5, 3, 110, 25, 49, pid=99, attempts=2, lat=8))

    def test_sums_in_one_read(self):
        """drover submit --quiet asks for "sums" (and only it: it prints
        no ok output) and counts each SUMS as its jobs: the same totals
        as for their values, the retried ones too."""
        stdin = b"a\nb\nc\nd\ne\nf\ng\nh\n"
        r = self.submit("--quiet", results=self.SUMS, stdin=stdin)
        self.assertIn("sums", self.request["sections"])
        self.assertEqual((r.rc, r.out), (1, b""), r.errtext)
        self.assertIn("8 jobs, 7 ok, 1 failed, 3 retried", r.errtext)
        self.assertIn("; sum 140 min 1 max 49", r.errtext)
        log = os.path.join(tempfile.mkdtemp(prefix="drover-sums-"), "log")
        for opts in ((), ("--json",), ("--ordered", "--quiet"),
                     ("--quiet", "--joblog", log)):
            r = self.submit(*opts, results=self.RUNS, stdin=stdin)
            self.assertEqual(r.rc, 1, r.errtext)
            self.assertNotIn("sums", self.request["sections"], opts)
        os.unlink(log)
        os.rmdir(os.path.dirname(log))

    def test_bad_sums(self):
        """A SUMS that cannot be its jobs', or for jobs that have their
        result or were never sent, or to a client that did not ask for
        it, ends the batch (exit 3) with the reason, and the jobs left
        are reported, each once."""
        stdin = b"a\nb\nc\nd\n"
        for opts, results, why in (
                (("--quiet",), sums_of(0, 2, 9, 1, 4),
                 "bad SUMS from droverd: SUMS whose sum is not of its "
                 "least and greatest"),
                (("--quiet",), sums_of(0, 0, 0, 0, 0),
                 "bad SUMS from droverd: SUMS of no jobs"),
                (("--quiet",), result(1, b"4") + sums_of(0, 2, 5, 1, 4),
                 "droverd sent SUMS for jobs 0 to 1, not all waiting"),
                (("--quiet",), sums_of(2, 3, 3, 1, 1),
                 "droverd sent SUMS for jobs 2 to 4, not all waiting"),
                (("--json",), sums_of(0, 2, 5, 1, 4),
                 "droverd sent SUMS for jobs 0 to 1, not all waiting")):
            r = self.submit(*opts, results=results, stdin=stdin)
            self.assertEqual(r.rc, 3, (opts, r.errtext))
            self.assertIn(why, r.errtext)
            if opts == ("--json",):
                jobs, summary = r.jobs_and_summary()
                self.assertEqual(sorted(j["id"] for j in jobs),
                                 list(range(4)))
            else:
                self.assertIn("4 jobs, ", r.errtext)

    def serve_input(self, ls, answer):
        """A droverd that offers to read the input (INPUT), reads the fd
        it is passed itself, and answers answer(records)."""
        c, _ = ls.accept()
        self.request = json.loads(ctl_read_one(c)[3])
        c.sendall(ctl_frame(CTL_REPLY, json.dumps(
            {"ok": True, "pool": "p", "max_job_bytes": 1 << 20,
             "records": True, "input": "fd"})))
        msg, fds, _, _ = socket.recv_fds(c, 16, 4)
        self.got = (struct.unpack_from("<IB", msg), len(fds))
        if answer is not None:
            with os.fdopen(fds[0], "rb") as f:
                data = f.read()
            c.sendall(answer(data.splitlines()))
            c.close()
            return
        # Declined: the client sends its jobs, as RECORDS, then END.
        for fd in fds:
            os.close(fd)
        c.sendall(ctl_frame(CTL_READ, b"", 0, status=2))
        recs = []
        for typ, body in client_messages(c):
            if typ == CTL_RECORDS:
                recs += body.splitlines()
            if typ == CTL_END:
                vals = [int(x) ** 2 for x in recs]
                c.sendall(sums_of(0, len(vals), sum(vals), min(vals),
                                  max(vals)) +
                          ctl_frame(CTL_BYE, '{"restarts":0}'))
                c.close()
                return

    def submit_input(self, answer, stdin):
        d = tempfile.mkdtemp(prefix="drover-input-")
        path = os.path.join(d, "s.sock")
        ls = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        ls.bind(path)
        ls.listen(1)
        t = threading.Thread(target=self.serve_input, args=(ls, answer),
                             daemon=True)
        t.start()
        p = subprocess.run([DROVER, "submit", "--pool", "p", "--socket",
                            path, "--quiet"], input=stdin,
                           capture_output=True, timeout=60)
        t.join(10)
        ls.close()
        os.unlink(path)
        os.rmdir(d)
        return Result(p.returncode, p.stdout, p.stderr, None)

    def test_input_passed(self):
        """drover submit --quiet offers droverd its input, passes the fd
        with INPUT when told to, reads none of it, and takes READs
        before the results: the jobs READ are the ones waited for."""
        def answer(recs):
            vals = [int(x) ** 2 for x in recs]
            return (ctl_frame(CTL_READ, b"", 2) +
                    sums_of(0, 2, sum(vals[:2]), min(vals[:2]),
                            max(vals[:2])) +
                    ctl_frame(CTL_READ, b"", 5, status=1) +
                    result(2, struct.pack("<q", vals[2]), 0x10) +
                    result(3, b"boom", status=1) +
                    sums_of(4, 1, vals[4], vals[4], vals[4]) +
                    ctl_frame(CTL_BYE, '{"restarts":0}'))
        r = self.submit_input(answer, b"1\n2\n3\n4\n5\n")
        self.assertTrue(self.request.get("pass_input"), self.request)
        self.assertEqual(self.got, ((0, 11), 1))    # INPUT, one fd
        self.assertEqual(r.rc, 1, r.errtext)
        self.assertIn("5 jobs, 4 ok, 1 failed", r.errtext)
        self.assertIn("; sum 39 min 1 max 25", r.errtext)
        self.assertIn("job 3 failed: boom", r.errtext)

    def test_input_declined(self):
        """droverd declines the INPUT (a READ of status 2, before reading
        any of it): the client reads its input itself and sends the
        jobs, all of them, from the start."""
        r = self.submit_input(None, b"1\n2\n3\n4\n5\n")
        self.assertEqual(self.got, ((0, 11), 1))
        self.assertEqual(r.rc, 0, r.errtext)
        self.assertIn("5 jobs, 5 ok, 0 failed", r.errtext)
        self.assertIn("; sum 55 min 1 max 25", r.errtext)

    def test_input_bad_read(self):
        """A READ that goes back, or announces too many at once, or a
        result for a job not READ, ends the batch with the reason;
        the jobs READ and without a result are reported, each once."""
        for frames, why in (
                (ctl_frame(CTL_READ, b"", 3) + ctl_frame(CTL_READ, b"", 2),
                 "bad READ from droverd: jobs below 2, after 3"),
                (ctl_frame(CTL_READ, b"", 70000),
                 "bad READ from droverd: jobs below 70000, after 0"),
                (ctl_frame(CTL_READ, b"", 1) +
                 result(1, struct.pack("<q", 4), 0x10),
                 "which has one already or was never sent"),
                (ctl_frame(CTL_READ, b"", 1) +
                 ctl_frame(CTL_READ, b"", 0, status=2),
                 "bad READ from droverd: jobs below 0, after 1")):
            r = self.submit_input(lambda recs: frames + ctl_frame(
                CTL_BYE, '{"restarts":0}'), b"1\n2\n3\n")
            self.assertIn(why, r.errtext)
            self.assertNotEqual(r.rc, 0, r.errtext)

    def test_runs_in_one_read_plain(self):
        """Plain output and --quiet, which take a run whose jobs are all
        open in bulk: the runs with repeats go one by one (each repeat
        said once), the others whole; the same lines and totals."""
        for opts in ((), ("--quiet",)):
            r = self.submit(*opts, results=self.RUNS,
                            stdin=b"a\nb\nc\nd\ne\nf\ng\nh\n")
            self.assertEqual(r.rc, 1, r.errtext)
            self.assertEqual(sorted(r.text.splitlines()), [] if opts else
                             sorted(["1", "4", "9", "16", "25", "36", "49"]))
            self.assertIn("8 jobs, 7 ok, 1 failed, 3 retried", r.errtext)
            self.assertIn("; sum 140 min 1 max 49", r.errtext)
            for k in (1, 2):
                self.assertEqual(r.errtext.count(f"job {k}, which has "
                                                 "one already"), 1)

    def test_broken_stdout_in_a_long_run(self):
        """A run of 4000 results whose output finds stdout gone (its
        reader left) partway: drover submit leaves as SIGPIPE would, and
        the rest of the run, which it has just reported cancelled, is no
        news (it said, once for each, that droverd sent a result for a
        job that had one)."""
        n = 4000
        rfd, wfd = os.pipe()
        os.close(rfd)
        try:
            r = self.submit(results=run_of(0, [10 ** 18 + i
                                               for i in range(n)]),
                            stdin=data(range(n)), stdout=wfd)
        finally:
            os.close(wfd)
        self.assertEqual(r.rc, -signal.SIGPIPE, r.errtext[-2000:])
        self.assertNotIn("has one already", r.errtext)

    def test_runs_in_one_read_tagged(self):
        r = self.submit("--tag", results=self.RUNS,
                        stdin=b"a\nb\nc\nd\ne\nf\ng\nh\n")
        self.assertEqual(r.rc, 1, r.errtext)
        self.assertEqual(sorted(r.text.splitlines()),
                         ["a\t1", "b\t4", "c\t9", "d\t16", "f\t25",
                          "g\t36", "h\t49"])

    def test_every_kind_in_one_read_tagged(self):
        r = self.submit("--tag")
        self.assertEqual(r.rc, 1, r.errtext)
        self.assertEqual(sorted(r.text.splitlines()),
                         ["a\t1", "b\t4", "c\t9", "d\t16", "f\t25"])


if __name__ == "__main__":
    unittest.main()
