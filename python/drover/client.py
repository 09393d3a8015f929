"""drover.Client: droverd's control socket from Python.

The control protocol is in docs/protocol.md ("The control socket") and
common/ctl.h.  Client.submit() follows ``drover submit``: it streams jobs
and reads results at the same time on one non-blocking socket, takes jobs
from the caller's iterable only as fast as droverd accepts them, and
reports every job it took exactly once, however the batch ends.
Client.results() and Client.batches() read the durable batches droverd
keeps in its journal.
"""
import collections
import json
import logging
import math
import os
import re
import selectors
import socket as _socket
import time
from dataclasses import dataclass, field
from typing import (Any, Deque, Dict, Iterable, Iterator, List, Optional,
                    Set, Tuple, Union)

from . import _wire as w

DEFAULT_SOCKET = "/run/drover/droverd.sock"
Job = Union[bytes, bytearray, memoryview, str]

log = logging.getLogger("drover")

# Stop taking jobs from the iterable above this much unsent output.
_OUT_HIGH = 1024 * 1024
_READ_SIZE = 256 * 1024
_INT_RE = re.compile(rb"[+-]?[0-9]+")
_DBL_RE = re.compile(rb"[-+.eE0-9]*[0-9][-+.eE0-9]*")


class DroverError(Exception):
    """Base class of the errors of this package."""


class ConnectError(DroverError):
    """droverd cannot be reached on its socket."""


class RequestError(DroverError):
    """droverd refused a request; message is droverd's own words."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ReloadError(RequestError):
    """A reload failed; droverd keeps its running configuration."""


class PoolsFailed(RequestError):
    """A reload was applied, but a pool it started or changed did not start.

    message names each such pool and why (one a line); changes is what the
    reload changed, as reload() would have returned it.
    """

    def __init__(self, message: str, changes: str) -> None:
        super().__init__(message)
        self.changes = changes


class ProtocolError(DroverError):
    """droverd sent something the control protocol does not allow."""


class Unsupported(DroverError, NotImplementedError):
    """The operation needs a droverd capability that does not exist yet.

    capability names it.  Nothing raises it now (results() and batches()
    are built); it stays so that code that catches it still runs.
    """

    def __init__(self, what: str, capability: str) -> None:
        super().__init__(f"{what} needs droverd's {capability!r} "
                         "capability (durable batches, docs/python.md), "
                         "which droverd does not have yet")
        self.capability = capability


@dataclass(frozen=True)
class Result:
    """The outcome of one job.

    id is the job's 0-based index in the submitted iterable.  status is
    ``ok``, ``failed``, ``timeout``, ``crashed``, ``cancelled`` or
    ``rejected``.  output is the worker's bytes when ok; error the reason
    otherwise.  worker (pid) and latency_us (dispatch to result, of the
    last run) are None for a job that never ran.
    """

    id: int
    status: str
    output: bytes = b""
    error: Optional[str] = None
    attempts: int = 0
    worker: Optional[int] = None
    latency_us: Optional[int] = None

    @property
    def ok(self) -> bool:
        """Whether the job succeeded."""
        return self.status == "ok"

    @property
    def text(self) -> str:
        """output decoded as UTF-8 (invalid bytes become U+FFFD)."""
        return self.output.decode("utf-8", "replace")


@dataclass
class Summary:
    """The aggregate of a batch, as ``drover submit`` prints it.

    failed counts every job not ok; statuses breaks them down.  sum, min,
    max and mean are over the outputs that are numbers (an int when every
    one is an integer, exactly; else a float), None when there is none.
    stopped is why droverd took no more jobs (or the connection was lost),
    None when the whole batch ran.
    """

    jobs: int = 0
    ok: int = 0
    failed: int = 0
    statuses: Dict[str, int] = field(default_factory=dict)
    retried: int = 0
    restarts: int = 0
    sum: Union[int, float, None] = None
    min: Union[int, float, None] = None
    max: Union[int, float, None] = None
    mean: Optional[float] = None
    wall_s: float = 0.0
    jobs_per_s: float = 0.0
    stopped: Optional[str] = None


class _Aggregate:
    """Counts and numbers, as common/agg.c makes them."""

    def __init__(self) -> None:
        self.summary = Summary()
        self.isum = 0
        self.nint = 0
        self.doubles: List[float] = []
        self.lo: Union[int, float, None] = None
        self.hi: Union[int, float, None] = None

    def add(self, r: Result) -> None:
        s = self.summary
        s.jobs += 1
        if r.attempts > 1:
            s.retried += 1
        if r.status != "ok":
            s.failed += 1
            s.statuses[r.status] = s.statuses.get(r.status, 0) + 1
            return
        s.ok += 1
        out = r.output
        v: Union[int, float]
        if _INT_RE.fullmatch(out):
            v = int(out)
            self.isum += v
            self.nint += 1
        elif len(out) < 64 and _DBL_RE.fullmatch(out):
            try:
                v = float(out)
            except ValueError:
                return
            if not math.isfinite(v):
                return
            self.doubles.append(v)
        else:
            return
        if self.lo is None or v < self.lo:
            self.lo = v
        if self.hi is None or v > self.hi:
            self.hi = v

    def finish(self, wall: float, restarts: int,
               stopped: Optional[str]) -> Summary:
        s = self.summary
        s.wall_s = wall
        s.jobs_per_s = s.jobs / wall if wall > 0 else 0.0
        s.restarts = restarts
        s.stopped = stopped
        n = self.nint + len(self.doubles)
        if n:
            if self.doubles:
                s.sum = math.fsum(self.doubles + [self.isum])
            else:
                s.sum = self.isum
            s.min, s.max = self.lo, self.hi
            s.mean = s.sum / n
        return s


def _as_bytes(job: Job) -> bytes:
    if isinstance(job, bytes):
        return job
    if isinstance(job, str):
        return job.encode("utf-8", "surrogateescape")
    if isinstance(job, (bytearray, memoryview)):
        return bytes(job)
    raise TypeError(f"a job is bytes or str, not {type(job).__name__}")


class Submission:
    """A batch being streamed to a pool: iterate over it for its results.

    Results come in completion order, each job exactly once.  When the
    iteration ends, summary holds the aggregate.  Jobs are taken from the
    iterable only while droverd keeps up (at most about 1 MiB of them
    unsent), so an endless generator is fine; while the caller's loop body
    runs, nothing is read from droverd, which holds the batch back in turn.

    Made by Client.submit(); use it as a context manager, or call close(),
    to hang up early (droverd then cancels the jobs still queued, unless
    the batch is durable).  batch is the id of a durable batch (the pool
    is durable, droverd has a journal), for Client.results() later; None
    otherwise.
    """

    def __init__(self, sock: _socket.socket, jobs: Iterable[Job],
                 max_job_bytes: int, start: float,
                 batch: Optional[str] = None) -> None:
        self._batch = batch
        self._sock = sock
        self._jobs: Optional[Iterator[Job]] = iter(jobs)
        self._max = max_job_bytes
        self._start = start
        self._out = bytearray()
        # (offset in the whole stream, id) of each job in _out not yet
        # begun on the wire: cancel() can take those back.
        self._unsent: Deque[Tuple[int, int]] = collections.deque()
        self._sent = 0      # bytes of the stream written so far
        self._in = bytearray()
        self._open: Set[int] = set()
        self._ready: Deque[Result] = collections.deque()
        self._agg = _Aggregate()
        self._next_id = 0
        self._cancelled = False
        self._write_broken = False
        self._restarts = 0
        self._stopped: Optional[str] = None
        self._done = False
        self._summary: Optional[Summary] = None
        self._sel = selectors.DefaultSelector()
        self._sel.register(sock, selectors.EVENT_READ)
        self._events = selectors.EVENT_READ

    # The iterator protocol.

    def __iter__(self) -> "Submission":
        return self

    def __next__(self) -> Result:
        while not self._ready:
            if self._done:
                self._finish()
                raise StopIteration
            self._turn()
        r = self._ready.popleft()
        self._agg.add(r)
        return r

    def __enter__(self) -> "Submission":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:
            pass

    @property
    def batch(self) -> Optional[str]:
        """The durable batch's id (32 hex digits), or None."""
        return self._batch

    @property
    def summary(self) -> Summary:
        """The aggregate; only once every result has been taken."""
        if self._summary is None:
            raise RuntimeError("the batch is not over: iterate over its "
                               "results first")
        return self._summary

    def wait(self) -> Summary:
        """Take (and drop) every remaining result; return the summary."""
        for _ in self:
            pass
        return self.summary

    def cancel(self) -> None:
        """Cancel the jobs still queued in droverd and send no more.

        Jobs already running finish and their results still come; the
        others come as ``cancelled``: at once for those still in this
        client's buffer, with droverd's reason for the rest (droverd reads
        the CANCEL after the jobs already in the socket).
        """
        if self._cancelled or self._done:
            return
        self._jobs = None
        self._cancelled = True
        if self._unsent:
            del self._out[self._unsent[0][0] - self._sent:]
            for _, ident in self._unsent:
                self._open.discard(ident)
                self._ready.append(Result(ident, "cancelled",
                                          error="cancelled before it was "
                                          "sent"))
            self._unsent.clear()
        self._out += w.pack(w.CTL_CANCEL)

    def close(self) -> None:
        """Hang up.  droverd cancels what is queued; no more results."""
        if self._sock is not None:
            self._sel.close()
            self._sock.close()
            self._sock = None  # type: ignore
            self._done = True
            self._ready.clear()

    # The event loop.

    def _fill(self) -> None:
        """Take jobs from the iterable while the output is short."""
        while self._jobs is not None and len(self._out) < _OUT_HIGH:
            try:
                job = next(self._jobs)
            except StopIteration:
                self._jobs = None
                self._out += w.pack(w.CTL_END)
                return
            data = _as_bytes(job)
            ident = self._next_id
            self._next_id += 1
            if len(data) > self._max:
                self._ready.append(Result(
                    ident, "rejected", error=f"job is {len(data)} bytes, "
                    "over the pool's max_job_bytes"))
                continue
            self._open.add(ident)
            self._unsent.append((self._sent + len(self._out), ident))
            self._out += w.HEADER.pack(len(data), w.CTL_JOB, 0, 0, ident)
            self._out += data

    def _turn(self) -> None:
        """One round: send what we can, read what is there."""
        if not self._write_broken:
            self._fill()
        want = selectors.EVENT_READ
        if self._out and not self._write_broken:
            want |= selectors.EVENT_WRITE
        if want != self._events:
            self._sel.modify(self._sock, want)
            self._events = want
        if self._ready:
            return  # rejected jobs to report before waiting
        for _, ev in self._sel.select():
            if ev & selectors.EVENT_WRITE:
                self._send()
            if ev & selectors.EVENT_READ:
                self._recv()

    def _send(self) -> None:
        try:
            n = self._sock.send(self._out)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            # What droverd said before it hung up is still to be read.
            self._write_broken = True
            self._jobs = None
            return
        del self._out[:n]
        self._sent += n
        unsent = self._unsent
        while unsent and unsent[0][0] < self._sent:
            unsent.popleft()

    def _recv(self) -> None:
        try:
            data = self._sock.recv(_READ_SIZE)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:
            self._end("lost the connection to droverd")
            return
        self._in += data
        self._messages()

    def _messages(self) -> None:
        buf = self._in
        off = 0
        try:
            while not self._done:
                got = w.parse(buf, off, w.CTL_JSON_MAX)
                if got is None:
                    break
                (n, typ, status, ident), start = got
                off = start + n
                if typ == w.CTL_RESULT:
                    self._result(status, ident, bytes(buf[start:off]))
                elif typ == w.CTL_BYE:
                    self._bye(bytes(buf[start:off]))
                elif typ == w.CTL_ACCEPTED:
                    # A durable batch's jobs are committed.  We keep no
                    # copy to send again (we do not reconnect), so there
                    # is nothing to let go.
                    pass
                else:
                    raise ProtocolError(f"unexpected message type {typ} "
                                        "from droverd")
        except ValueError as e:
            self.close()
            raise ProtocolError(f"bad message from droverd: {e}")
        except ProtocolError:
            self.close()
            raise
        del buf[:off]

    def _result(self, status: int, ident: int, p: bytes) -> None:
        if len(p) < w.CTL_META.size or status >= len(w.JOB_STATUSES):
            raise ProtocolError("bad RESULT from droverd")
        if ident not in self._open:
            log.warning("droverd sent a result for job %d, which has one "
                        "already or was never sent: ignored", ident)
            return
        self._open.discard(ident)
        pid, attempts, lat = w.CTL_META.unpack_from(p)
        body = p[w.CTL_META.size:]
        st = w.JOB_STATUSES[status]
        ran = pid != 0
        if st == "ok":
            r = Result(ident, st, body, None, attempts,
                       pid if ran else None, lat if ran else None)
        else:
            r = Result(ident, st, b"", body.decode("utf-8", "replace"),
                       attempts, pid if ran else None, lat if ran else None)
        self._ready.append(r)

    def _bye(self, p: bytes) -> None:
        try:
            o = json.loads(p) if p else {}
        except ValueError:
            o = {}
        if not isinstance(o, dict):
            o = {}
        self._restarts = int(o.get("restarts", 0) or 0)
        stopped = o.get("stopped")
        self._end(f"droverd took no more jobs: {stopped}"
                  if stopped is not None else None)

    def _end(self, why: Optional[str]) -> None:
        """The batch is over: what has no result is cancelled (why)."""
        reason = why or "droverd sent no result for it"
        for ident in sorted(self._open):
            self._ready.append(Result(ident, "cancelled", error=reason))
        self._open.clear()
        self._stopped = why
        self._jobs = None
        self._done = True
        if self._sock is not None:
            self._sel.close()
            self._sock.close()
            self._sock = None  # type: ignore

    def _finish(self) -> None:
        if self._summary is None:
            self._summary = self._agg.finish(
                time.monotonic() - self._start, self._restarts,
                self._stopped)


class BatchResults(Submission):
    """The results of a durable batch, from Client.results().

    Iterate over it for a Result per job, in the order droverd recorded
    them, each job once; then summary is the batch's Summary (what
    ``drover results`` prints), and state, jobs and done are the batch's:
    ``complete``, or ``ended`` or ``open`` when it was asked for without
    waiting and is not yet, and how many jobs it holds and how many of
    those have a result.
    """

    def __init__(self, sock: _socket.socket, batch: str,
                 reply: Dict[str, Any], pending: bytes,
                 start: float) -> None:
        super().__init__(sock, (), 1 << 20, start, batch)
        self._jobs = None       # a results request sends nothing more
        self._seen: Set[int] = set()
        self.state: Optional[str] = reply.get("state")
        self.jobs: Optional[int] = reply.get("jobs")
        self.done: Optional[int] = reply.get("done")
        if pending:
            self._in += pending
            self._messages()

    def _result(self, status: int, ident: int, p: bytes) -> None:
        # Any id may come, once.
        if ident in self._seen:
            log.warning("droverd sent a result for job %d twice: "
                        "ignored", ident)
            return
        self._seen.add(ident)
        self._open.add(ident)
        super()._result(status, ident, p)

    def _bye(self, p: bytes) -> None:
        try:
            o = json.loads(p) if p else {}
        except ValueError:
            o = {}
        if isinstance(o, dict):
            for k in ("state", "jobs", "done"):
                if k in o:
                    setattr(self, k, o[k])
        super()._bye(p)


class Client:
    """A client of droverd on its control socket.

    socket is the socket's path: by default ``$DROVER_SOCKET``, else
    /run/drover/droverd.sock.  timeout bounds the wait for droverd to
    answer a request (as ``drover submit --timeout``), not a batch.
    """

    def __init__(self, socket: Optional[str] = None,
                 timeout: float = 10.0) -> None:
        self.socket = socket or os.environ.get("DROVER_SOCKET") or \
            DEFAULT_SOCKET
        self.timeout = timeout

    def _connect(self) -> _socket.socket:
        s = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
        s.settimeout(self.timeout)
        try:
            s.connect(self.socket)
        except OSError as e:
            s.close()
            raise ConnectError(f"unable to connect to droverd at "
                               f"{self.socket}: {e.strerror or e}") from e
        return s

    def _ask(self, s: _socket.socket, req: Dict[str, Any]) -> Dict[str, Any]:
        """Send one REQUEST on s and read its REPLY (blocking, timeout)."""
        o, rest = self._ask_more(s, req)
        if rest:
            raise ProtocolError("unexpected bytes after droverd's reply")
        return o

    def _ask_more(self, s: _socket.socket,
                  req: Dict[str, Any]) -> Tuple[Dict[str, Any], bytes]:
        """_ask(), for a request whose REPLY other messages follow: the
        REPLY and the bytes read past it."""
        body = json.dumps(req).encode()
        buf = bytearray()
        try:
            s.sendall(w.pack(w.CTL_REQUEST, body, w.CTL_VERSION))
        except OSError:
            pass  # a refusal may close before reading: read its REPLY
        try:
            while True:
                try:
                    got = w.parse(buf, 0, w.CTL_JSON_MAX)
                except ValueError as e:
                    raise ProtocolError(f"bad reply from droverd: {e}")
                if got is not None:
                    break
                data = s.recv(65536)
                if not data:
                    raise DroverError("droverd closed the connection "
                                      "without answering")
                buf += data
        except _socket.timeout:
            raise DroverError(f"droverd at {self.socket} did not answer "
                              f"within {self.timeout:g} s") from None
        except OSError as e:
            raise DroverError(f"droverd closed the connection without "
                              f"answering: {e}") from e
        (n, typ, _, _), start = got
        if typ != w.CTL_REPLY:
            raise ProtocolError(f"unexpected message type {typ} from "
                                "droverd")
        try:
            o = json.loads(bytes(buf[start:start + n]))
        except ValueError as e:
            raise ProtocolError(f"bad JSON from droverd: {e}") from e
        if not isinstance(o, dict):
            raise ProtocolError("bad reply from droverd")
        del buf[:start + n]
        return o, bytes(buf)

    def status(self) -> Dict[str, Any]:
        """droverd's status object (as ``drover status --json``)."""
        with self._connect() as s:
            o = self._ask(s, {"op": "status"})
        if o.get("ok") is False:
            raise RequestError(str(o.get("error", "refused")))
        return o

    def reload(self) -> str:
        """Reload droverd's configuration; return the changes (one a line).

        Raises ReloadError with droverd's ``file:line: message`` lines when
        the new configuration is refused; the running one is unchanged.
        Raises PoolsFailed when it was applied but a pool it started or
        changed did not start.
        """
        with self._connect() as s:
            o = self._ask(s, {"op": "reload"})
        if not o.get("ok"):
            raise ReloadError(str(o.get("error", "refused")))
        if o.get("failed"):
            raise PoolsFailed(str(o["failed"]), str(o.get("changes", "")))
        return str(o.get("changes", ""))

    def submit(self, pool: str, jobs: Iterable[Job]) -> Submission:
        """Stream jobs (bytes or str, one job each) to pool.

        Returns once droverd has accepted the batch; iterate over the
        Submission for the results as they come.  To a durable pool, the
        batch is durable, and Submission.batch its id.  Raises RequestError
        with
        droverd's message when it refuses (``unknown pool 'P'``, a failed
        pool, shutting down), ConnectError when it cannot be reached.
        """
        start = time.monotonic()
        s = self._connect()
        try:
            o = self._ask_submit(s, pool)
        except BaseException:
            s.close()
            raise
        s.setblocking(False)
        batch = o.get("batch")
        return Submission(s, jobs, int(o.get("max_job_bytes") or 1 << 20),
                          start, batch if isinstance(batch, str) else None)

    def _ask_submit(self, s: _socket.socket, pool: str) -> Dict[str, Any]:
        # No result can come before the REPLY, so the blocking _ask() is
        # enough; but it must not read past the REPLY: droverd sends
        # nothing else until jobs arrive.
        req = {"op": "submit", "pool": pool}
        try:
            # Where a pool with exec_cwd = "client" runs our jobs.
            req["cwd"] = os.getcwd()
        except OSError:
            pass                # our directory is gone: no cwd to give
        o = self._ask(s, req)
        if not o.get("ok"):
            raise RequestError(str(o.get("error", "refused")))
        return o

    # Durable batches (docs/protocol.md, "Durable batches").

    def results(self, batch: str, wait: bool = False) -> BatchResults:
        """The results of the durable batch whose id is batch.

        Returns once droverd has answered; iterate over the BatchResults
        for the results, then read its summary, as for a Submission.  With
        wait, the results come once the batch is complete (every job it
        holds has its result and its END is in), however long that takes;
        without, what it has now.  Raises RequestError with droverd's
        message (``unknown batch 'ID'``, no journal), ConnectError when it
        cannot be reached.
        """
        start = time.monotonic()
        s = self._connect()
        try:
            # No "sections": a Result has no room for them, and the
            # RESULTs then carry none, as a submit's do.
            o, rest = self._ask_more(s, {
                "op": "results", "batch": batch, "wait": bool(wait)})
            if not o.get("ok"):
                raise RequestError(str(o.get("error", "refused")))
            s.setblocking(False)
            return BatchResults(s, batch, o, rest, start)
        except BaseException:
            s.close()
            raise

    def batches(self) -> List[Dict[str, Any]]:
        """The durable batches droverd holds, oldest first.

        Each is a dict: id, pool, state (``open``: taking jobs; ``ended``:
        its END is in, results still owed; ``complete``), jobs, done,
        failed (results not ok), created and completed (Unix times;
        completed is 0 until then).  Raises RequestError when droverd
        refuses (no journal).
        """
        with self._connect() as s:
            o = self._ask(s, {"op": "batches"})
        if not o.get("ok"):
            raise RequestError(str(o.get("error", "refused")))
        b = o.get("batches")
        if not isinstance(b, list):
            raise ProtocolError("bad reply from droverd: no batches")
        return b
