"""A fake droverd for the tests of the clients' side of durable batches.

It speaks the control protocol of docs/protocol.md ("The control socket",
"Durable batches") on a Unix socket, from threads of the test process, and
is scripted per test: how it commits (ACCEPTED every N jobs, at the end of
each read, or only when the test says), where it drops a connection (after
K jobs or K results, as a droverd killed with -9 would), whether it then
stays away, what next_id it answers a resume with, whether it sends
results again on a resume.  It records every message a client sent, per
connection, for the test to check.

It runs no worker: a pool's jobs are computed at once, as the square
handler would (the output of n is n*n; a job that is not an integer fails
with "not an integer: 'x'"), or by a function of the test's.

The header is 16 bytes, little-endian: u32 len, u8 type, u8 status, u8
flags, u8 zero, u64 id; a RESULT's payload starts with 16 bytes of
metadata (u32 pid, u32 attempts, u64 latency_us), then its sections (a u32
length and the bytes each, in flag order), then the output or reason.
"""
import json
import os
import socket
import struct
import threading
import time
import uuid

HDR = struct.Struct("<IBBBBQ")
META = struct.Struct("<IIQ")
(REQUEST, REPLY, JOB, END, RESULT, BYE, CANCEL, ACCEPTED,
 RECORDS) = range(1, 10)
ACC_ENDED = 1
F_STDERR, F_OUTPUT, F_FIELDS, F_INPUT = 0x01, 0x02, 0x04, 0x08
SECTIONS = {"stderr": F_STDERR, "output": F_OUTPUT, "fields": F_FIELDS,
            "input": F_INPUT}
STATUSES = ("ok", "failed", "timeout", "crashed", "cancelled", "rejected")
PID = 4242


def square(job):
    """(status, output or reason) as the square handler answers job."""
    try:
        n = int(job)
    except ValueError:
        return 1, b"not an integer: '" + job + b"'"
    return 0, str(n * n).encode()


def frame(typ, payload=b"", ident=0, status=0, flags=0):
    return HDR.pack(len(payload), typ, status, flags, 0, ident) + payload


class Batch:
    """A durable batch as the fake's journal holds it."""

    def __init__(self, pool):
        self.id = uuid.uuid4().hex
        self.pool = pool
        self.jobs = {}          # id -> bytes, committed
        self.next_id = 0        # above every id held
        self.results = {}       # id -> (status, output or reason, input)
        self.order = []         # ids in the order results were recorded
        self.delivered = set()  # ids whose RESULT a submitter was sent
        self.ended = False      # the END is committed
        self.created = int(time.time())
        self.completed = 0
        self.conn = None        # the connection submitting, if any
        self.detach = False

    @property
    def complete(self):
        return self.ended and len(self.results) == len(self.jobs)

    @property
    def state(self):
        return "complete" if self.complete else \
            "ended" if self.ended else "open"

    def record(self, ident, status, body, job):
        self.results[ident] = (status, body, job[:64])
        self.order.append(ident)
        if self.complete and not self.completed:
            self.completed = int(time.time())


class Conn:
    """One client connection, as the fake saw it."""

    def __init__(self, fake, sock, n):
        self.fake = fake
        self.sock = sock
        self.n = n              # 0 for the first connection
        self.request = None     # the REQUEST's JSON
        self.got = []           # (type, id) of every message after it
        self.jobs = 0           # JOBs read
        self.records = 0        # RECORDS messages read
        self.record_ids = []    # the ids of the jobs they held
        self.results = 0        # RESULTs sent
        self.pending = []       # (id, bytes) read, not committed
        self.batch = None
        self.reply = None       # the REPLY's JSON
        self.sections = 0
        self.closed = False
        self.send_lock = threading.Lock()

    @property
    def job_ids(self):
        return [i for t, i in self.got if t == JOB]

    def send(self, data):
        with self.send_lock:
            if self.closed:
                return False
            try:
                self.sock.sendall(data)
            except OSError:
                self.closed = True
                return False
            return True

    def close(self):
        with self.send_lock:
            if not self.closed:
                self.closed = True
                try:
                    self.sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
            self.sock.close()


class FakeDroverd:
    """The fake, listening on path until stop().

    pools: name -> {"durable": bool, "max_job_bytes": int}.  The script
    (attributes a test may set before or while a client runs):

    - accept_every: commit (and send ACCEPTED for) every N jobs; 0
      commits what each read brought, at its end; hold() stops commits
      until release().
    - drops: one entry per submitting connection, in order, each a dict:
      {"after_jobs": K} drops the connection once K JOBs are read (the
      jobs read and not committed are lost, unless "commit_lost": True:
      then they are committed, but their ACCEPTED never sent, as when
      droverd dies between its commit and its write), {"after_results":
      K} once K RESULTs are sent, {"stop_after_jobs": K} sends BYE with
      "stopped" and "durable":true instead; "away": True stops listening
      after the drop, until up(); "refuse": N closes the next N
      connections at once, without a REPLY.  None: no drop on that one.
    - resume_next_id: answer a resume with this next_id (and hold every
      job below it, as droverd would have committed them).
    - dup_on_resume: on a resume, send every result of the batch, those
      sent before too.
    - refuse_resumes: refuse the next N submits that go on with a batch,
      as a droverd shutting down does.
    - results_twice: a "results" request gets every RESULT twice.
    - no_journal: "results" and "batches" are refused, as by a droverd
      without a journal.
    - result: the function of a job's bytes to (status, bytes).

    A pool {"durable": False, "lax": True} takes "detach" as a droverd
    that does not know it would (it ignores it); {"durable": False,
    "records": True} takes RECORDS from a client that asks, each record
    seen as a JOB of its id.
    """

    def __init__(self, path, pools=None, result=square):
        self.path = path
        self.pools = pools or {"square": {"durable": True}}
        self.result = result
        self.accept_every = 0
        self.drops = []
        self.resume_next_id = None
        self.dup_on_resume = False
        self.results_twice = False
        self.no_journal = False
        self.refuse_resumes = 0
        self.batches = {}
        self.conns = []
        self.refuse = 0
        self.lock = threading.RLock()
        self.changed = threading.Condition(self.lock)
        self.held = False
        self.lsock = None
        self.up()

    # The listening socket.

    def up(self):
        """Listen (again) on path."""
        with self.lock:
            if self.lsock is not None:
                return
            if os.path.exists(self.path):
                os.unlink(self.path)
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.bind(self.path)
            s.listen(64)
            self.lsock = s
        threading.Thread(target=self._accept_loop, args=(s,),
                         daemon=True).start()

    def away(self):
        """Stop listening, as a droverd that is gone: connects fail."""
        with self.lock:
            s, self.lsock = self.lsock, None
        if s is not None:
            try:
                os.unlink(self.path)
            except OSError:
                pass
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()

    def stop(self):
        self.away()
        for c in list(self.conns):
            c.close()

    def _accept_loop(self, ls):
        while True:
            try:
                s, _ = ls.accept()
            except OSError:
                return
            with self.lock:
                if self.lsock is not ls:
                    s.close()
                    return
                c = Conn(self, s, len(self.conns))
                self.conns.append(c)
                refuse = self.refuse > 0
                if refuse:
                    self.refuse -= 1
                self.changed.notify_all()
            if refuse:
                c.close()
                continue
            threading.Thread(target=self._serve, args=(c,),
                             daemon=True).start()

    # Scripting and inspection.

    def hold(self):
        """Commit nothing (no ACCEPTED, no RESULT) until release()."""
        with self.lock:
            self.held = True

    def release(self):
        with self.lock:
            self.held = False
            conns = [c for c in self.conns if c.pending]
        for c in conns:
            self._commit(c)

    def submits(self):
        """The connections that submitted, in order."""
        with self.lock:
            return [c for c in self.conns if c.request is not None and
                    c.request.get("op") == "submit"]

    def jobs_read(self):
        with self.lock:
            return sum(c.jobs for c in self.conns)

    def add_batch(self, pool, jobs, ended=True, done=None):
        """A batch in the journal, as a submit left it: jobs (bytes) with
        ids 0..n-1, the first done of them with a result."""
        b = Batch(pool)
        for i, job in enumerate(jobs):
            b.jobs[i] = job
        b.next_id = len(jobs)
        b.ended = ended
        for i in range(len(jobs) if done is None else done):
            st, body = self.result(jobs[i])
            b.record(i, st, body, jobs[i])
        with self.lock:
            self.batches[b.id] = b
        return b

    def complete(self, b):
        """Give every job of b its result and commit its END, as a batch
        that ran to its end while no client was there."""
        with self.lock:
            for i in sorted(b.jobs):
                if i not in b.results:
                    st, body = self.result(b.jobs[i])
                    b.record(i, st, body, b.jobs[i])
            b.ended = True
            if not b.completed:
                b.completed = int(time.time())
            self.changed.notify_all()

    # The protocol.

    def _serve(self, c):
        buf = b""
        try:
            while not c.closed:
                try:
                    data = c.sock.recv(1 << 20)
                except OSError:
                    break
                if not data:
                    break
                buf += data
                off = 0
                while len(buf) - off >= HDR.size and not c.closed:
                    n, typ, st, fl, z, ident = HDR.unpack_from(buf, off)
                    if len(buf) - off - HDR.size < n:
                        break
                    p = buf[off + HDR.size:off + HDR.size + n]
                    off += HDR.size + n
                    self._message(c, typ, ident, p)
                buf = buf[off:]
                if not c.closed and c.batch is not None and \
                        self.accept_every == 0:
                    self._commit(c)
        finally:
            with self.lock:
                if c.batch is not None and c.batch.conn is c:
                    c.batch.conn = None
                self.changed.notify_all()
            c.close()

    def _message(self, c, typ, ident, p):
        if c.request is None:
            if typ != REQUEST:
                c.close()
                return
            c.request = json.loads(p)
            with self.lock:
                self.changed.notify_all()
            self._request(c, c.request)
            return
        with self.lock:
            c.got.append((typ, ident))
            self.changed.notify_all()
        if typ == JOB:
            self._job(c, ident, p)
        elif typ == RECORDS and c.reply.get("records"):
            self._records(c, ident, p)
        elif typ == END:
            self._end(c)
        elif typ == CANCEL:
            if c.batch is not None:
                self._commit(c)
            self._bye(c, {"stopped": "cancelled by the client"})
        else:
            c.close()

    def _reply(self, c, obj):
        c.reply = obj
        c.send(frame(REPLY, json.dumps(obj).encode()))

    def _refuse(self, c, why):
        self._reply(c, {"ok": False, "error": why})
        c.close()

    def _request(self, c, req):
        op = req.get("op")
        c.sections = 0
        for name in req.get("sections", []):
            c.sections |= SECTIONS.get(name, 0)
        if op in ("results", "batches") and self.no_journal:
            self._refuse(c, "droverd has no journal (durable batches "
                         "need one)")
        elif op == "submit":
            self._submit(c, req)
        elif op == "results":
            self._results(c, req)
        elif op == "batches":
            with self.lock:
                bs = [{"id": b.id, "pool": b.pool, "state": b.state,
                       "jobs": len(b.jobs), "done": len(b.results),
                       "failed": sum(1 for r in b.results.values()
                                     if r[0] != 0),
                       "created": b.created, "completed": b.completed}
                      for b in self.batches.values()]
            self._reply(c, {"ok": True, "batches": bs})
            c.close()
        else:
            self._refuse(c, f"unknown op '{op}'")

    def _submit(self, c, req):
        name = req.get("pool")
        pool = self.pools.get(name)
        if pool is None:
            return self._refuse(c, f"unknown pool '{name}'")
        mjb = pool.get("max_job_bytes", 1 << 20)
        c.drop = None
        if not pool.get("durable"):
            if (req.get("detach") and not pool.get("lax")) or \
                    req.get("batch"):
                return self._refuse(c, f"pool '{name}' is not durable")
            c.durable = False
            reply = {"ok": True, "pool": name, "max_job_bytes": mjb}
            if pool.get("records") and "records" in req:
                reply["records"] = True
            return self._reply(c, reply)
        with self.lock:
            if self.drops:
                c.drop = self.drops.pop(0)
            bid = req.get("batch")
            if bid is None:
                b = Batch(name)
                self.batches[b.id] = b
                resume = False
            else:
                b = self.batches.get(bid)
                if b is None:
                    return self._refuse(c, f"unknown batch '{bid}'")
                if b.pool != name:
                    return self._refuse(c, f"batch '{bid}' is of pool "
                                        f"'{b.pool}'")
                if b.complete:
                    return self._refuse(c, f"batch '{bid}' is complete")
                if self.refuse_resumes > 0:
                    self.refuse_resumes -= 1
                    return self._refuse(c, "droverd is shutting down; "
                                        "not accepting jobs")
                resume = True
            old, b.conn = b.conn, c
            b.detach = bool(req.get("detach"))
            c.batch = b
            c.durable = True
            if resume and self.resume_next_id is not None:
                self._commit_to(b, self.resume_next_id)
        if old is not None and not old.closed:
            self._bye(old, {"stopped": "another connection took the "
                            "batch", "durable": True, "taken": True})
        self._reply(c, {"ok": True, "pool": name, "max_job_bytes": mjb,
                        "batch": b.id, "durable": True,
                        "next_id": b.next_id, "jobs": len(b.jobs),
                        "done": len(b.results)})
        if resume:
            with self.lock:
                ids = [i for i in b.order if self.dup_on_resume or
                       i not in b.delivered]
            if not self._send_results(c, b, ids):
                return
        self._maybe_bye(c)

    def _commit_to(self, b, next_id):
        """resume_next_id: the batch holds every job below next_id (those
        the connection read, committed without an ACCEPTED)."""
        for c in self.conns:
            if c.batch is b and c.pending:
                keep = [(i, j) for i, j in c.pending if i >= next_id]
                for i, j in c.pending:
                    if i < next_id:
                        self._hold_job(b, i, j)
                c.pending = keep
        b.next_id = max(b.next_id, next_id)

    def _hold_job(self, b, ident, job):
        b.jobs[ident] = job
        b.next_id = max(b.next_id, ident + 1)
        st, body = self.result(job)
        b.record(ident, st, body, job)

    def _job(self, c, ident, p):
        c.jobs += 1
        if c.batch is None:
            st, body = self.result(p)
            c.send(self._result_frame(c, ident, st, body, p))
            c.results += 1
            return
        b = c.batch
        if ident < b.next_id:
            return      # a resend of a job held: ignored
        c.pending.append((ident, p))
        d = c.drop
        if d and "after_jobs" in d and c.jobs >= d["after_jobs"]:
            if d.get("commit_lost"):
                with self.lock:
                    for i, j in c.pending:
                        self._hold_job(b, i, j)
                    c.pending = []
            return self._drop(c)
        if d and "stop_after_jobs" in d and c.jobs >= d["stop_after_jobs"]:
            self._commit(c)
            return self._bye(c, {"stopped": d.get("stopped", "draining"),
                                 "durable": True})
        if self.accept_every and len(c.pending) >= self.accept_every:
            self._commit(c)

    def _records(self, c, ident, p):
        """Each record of a RECORDS, as a JOB of its id; a RECORDS not
        ended by the delimiter the REQUEST named closes the connection,
        as droverd does."""
        delim = bytes([c.request["records"]])
        if not p.endswith(delim):
            return c.close()
        c.records += 1
        for k, rec in enumerate(p[:-1].split(delim)):
            with self.lock:
                c.got.append((JOB, ident + k))
                c.record_ids.append(ident + k)
            self._job(c, ident + k, rec)

    def _end(self, c):
        if c.batch is None:
            c.ended = True
            return self._maybe_bye(c)
        c.end_pending = True
        self._commit(c)

    def _commit(self, c):
        b = c.batch
        with self.lock:
            if self.held:
                return
            if c.closed:
                return
            new = c.pending
            c.pending = []
            for i, j in new:
                b.jobs[i] = j
                b.next_id = max(b.next_id, i + 1)
            ended = getattr(c, "end_pending", False) and not b.ended
            if ended:
                b.ended = True
        if new or ended:
            top = max([i for i, _ in new], default=b.next_id - 1)
            if top < 0:
                top = 0
            c.send(frame(ACCEPTED, ident=top,
                         status=ACC_ENDED if b.ended else 0))
        with self.lock:
            for i, j in new:
                st, body = self.result(j)
                b.record(i, st, body, j)
        if self._send_results(c, b, [i for i, _ in new]):
            self._maybe_bye(c)

    def _result_frame(self, c, ident, st, body, job):
        """A RESULT with the sections c asked for (input, when not ok)."""
        flags = 0
        secs = b""
        if st != 0 and c.sections & F_INPUT:
            flags |= F_INPUT
            secs += struct.pack("<I", len(job[:64])) + job[:64]
        return frame(RESULT, META.pack(PID, 1, 7) + secs + body, ident, st,
                     flags)

    def _send_results(self, c, b, ids, submitter=True):
        """The RESULTs of these ids of batch b, in one write (up to where
        the script drops the connection); False once it is gone."""
        d = getattr(c, "drop", None)
        cut = None
        if d and "after_results" in d:
            cut = max(d["after_results"] - c.results, 0)
            ids = ids[:cut]
        out = []
        for i in ids:
            st, body, job = b.results[i]
            out.append(self._result_frame(c, i, st, body, job))
            if self.results_twice and not submitter:
                out.append(out[-1])
        if out and not c.send(b"".join(out)):
            return False
        c.results += len(ids)
        if submitter:
            with self.lock:
                b.delivered.update(ids)
                self.changed.notify_all()
        if cut is not None and c.results >= d["after_results"]:
            self._drop(c)
            return False
        return True

    def _maybe_bye(self, c):
        if c.closed:
            return
        b = c.batch
        if b is None:
            if getattr(c, "ended", False):
                self._bye(c, {})
            return
        if b.complete and all(i in b.delivered for i in b.jobs):
            self._bye(c, {"batch": b.id})

    def _bye(self, c, extra):
        obj = {"restarts": 0}
        obj.update(extra)
        c.send(frame(BYE, json.dumps(obj).encode()))
        c.close()

    def _drop(self, c):
        d = c.drop or {}
        if d.get("away"):
            self.away()
        with self.lock:
            self.refuse += d.get("refuse", 0)
        c.close()

    def _results(self, c, req):
        with self.lock:
            b = self.batches.get(req.get("batch"))
        if b is None:
            return self._refuse(c, f"unknown batch '{req.get('batch')}'")
        c.batch_read = b
        self._reply(c, {"ok": True, "batch": b.id, "pool": b.pool,
                        "state": b.state, "jobs": len(b.jobs),
                        "done": len(b.results)})
        if req.get("wait"):
            with self.lock:
                while not b.complete and not c.closed:
                    self.changed.wait(1)
        with self.lock:
            ids = list(b.order)
        if not self._send_results(c, b, ids, submitter=False):
            return
        self._bye(c, {"batch": b.id, "state": b.state,
                      "jobs": len(b.jobs), "done": len(b.results)})

    def wait(self, pred, timeout=20.0, what="condition"):
        """Wait until pred() holds (checked on every change)."""
        deadline = time.monotonic() + timeout
        with self.lock:
            while not pred():
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"timed out after {timeout}s "
                                         f"waiting for {what}")
                self.changed.wait(min(left, 0.05))
