"""drover.serve(): a frame-protocol worker around one Python function.

The supervisor (``drover run`` or droverd) starts the worker with jobs on
its stdin and takes results from its stdout (docs/protocol.md, "The frame
protocol").  serve() speaks that protocol: HELLO both ways, then one RESULT
for every JOB, with the job's tag, until EOF on stdin.

It takes the protocol's descriptors for itself before calling the handler:
what the handler (or a library, or a child process) prints goes to stderr,
which the supervisor logs, and cannot corrupt the result stream; what it
reads from stdin is /dev/null, not someone else's jobs.
"""
import os
import sys
import time
from typing import Any, Callable, List, Optional, Union

from . import __version__
from . import _wire as w

Handler = Callable[[Any], Any]
Output = Union[bytes, bytearray, memoryview, str, int, float, None]

READ_SIZE = 256 * 1024
FLUSH_BYTES = 256 * 1024
# Results wait in the buffer at most this long while more jobs are at hand:
# micro-jobs go out in bulk, a slow job's result goes out when it is ready.
FLUSH_SECS = 0.002
EXIT_NORESPAWN = 125


class ProtocolError(Exception):
    """The supervisor broke the frame protocol; the worker cannot go on."""


def _output(value: Output) -> bytes:
    """A handler's return value as the bytes of a result."""
    if isinstance(value, bytes):
        return value
    if isinstance(value, (bytearray, memoryview)):
        return bytes(value)
    if isinstance(value, str):
        return value.encode("utf-8", "surrogateescape")
    if value is None:
        return b""
    if isinstance(value, bool):
        raise TypeError("the handler returned a bool, not bytes, str, int "
                        "or float")
    if isinstance(value, int):
        return str(value).encode()
    if isinstance(value, float):
        return repr(value).encode()
    raise TypeError(f"the handler returned {type(value).__name__}, not "
                    "bytes, str, int or float")


def _reason(exc: BaseException) -> bytes:
    """The reason of a failed job: the exception's message."""
    msg = str(exc) or type(exc).__name__
    return msg.encode("utf-8", "surrogateescape")


def _describe(description: Optional[str]) -> bytes:
    """The HELLO payload: at most 256 bytes, cut on a character boundary."""
    if description is None:
        prog = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] \
            else "python"
        description = f"python-drover {__version__} {prog}"
    b = description.encode("utf-8", "replace")
    while len(b) > w.FRAME_HELLO_MAX:
        b = b[:w.FRAME_HELLO_MAX].decode("utf-8", "ignore").encode()
    return b


class _Session:
    """One frame session on a pair of descriptors."""

    def __init__(self, handler: Handler, infd: int, outfd: int,
                 text: bool) -> None:
        self.handler = handler
        self.infd = infd
        self.outfd = outfd
        self.text = text
        self.out: List[bytes] = []
        self.outlen = 0
        self.since = 0.0
        self.hello = False

    def write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            n = os.write(self.outfd, view)
            view = view[n:]

    def flush(self) -> None:
        if self.out:
            data = b"".join(self.out)
            self.out.clear()
            self.outlen = 0
            self.write(data)

    def answer(self, tag: int, status: int, payload: bytes) -> None:
        if not self.out:
            self.since = time.monotonic()
        self.out.append(w.HEADER.pack(len(payload), w.FRAME_RESULT, status,
                                      0, tag))
        self.out.append(payload)
        self.outlen += w.HDRLEN + len(payload)

    def job(self, tag: int, data: bytes) -> None:
        try:
            arg: Any = data
            if self.text:
                arg = data.decode("utf-8", "surrogateescape")
            out = _output(self.handler(arg))
        except Exception as exc:  # the job's failure, not the worker's
            self.answer(tag, w.FRAME_FAIL, _reason(exc))
            return
        self.answer(tag, w.FRAME_OK, out)

    def frames(self, buf: bytearray) -> int:
        """Handle every whole frame in buf; return the bytes used."""
        off = 0
        while True:
            try:
                got = w.parse(buf, off, w.FRAME_MAXLEN)
            except ValueError as e:
                raise ProtocolError(f"bad frame from the supervisor: {e}")
            if got is None:
                return off
            (n, typ, status, ident), start = got
            off = start + n
            if typ == w.FRAME_HELLO:
                if self.hello:
                    raise ProtocolError("a second HELLO from the "
                                        "supervisor")
                if ident != w.FRAME_VERSION:
                    raise ProtocolError(f"frame protocol version {ident}, "
                                        f"not {w.FRAME_VERSION}")
                self.hello = True
            elif typ == w.FRAME_JOB and self.hello:
                t0 = time.monotonic()
                self.job(ident, bytes(buf[start:off]))
                now = time.monotonic()
                # A slow job's result goes at once; quick ones in bulk.
                if (self.outlen >= FLUSH_BYTES or now - t0 >= FLUSH_SECS or
                        now - self.since >= FLUSH_SECS):
                    self.flush()
            elif typ == w.FRAME_JOB:
                raise ProtocolError("a JOB before the supervisor's HELLO")
            else:
                raise ProtocolError(f"unexpected frame type {typ} from the "
                                    "supervisor")

    def run(self, description: bytes) -> None:
        self.write(w.pack(w.FRAME_HELLO, description, w.FRAME_VERSION))
        buf = bytearray()
        try:
            while True:
                data = os.read(self.infd, READ_SIZE)
                if not data:
                    break
                buf += data
                used = self.frames(buf)
                if used:
                    del buf[:used]
                # Nothing whole is left: we are about to wait.
                self.flush()
        finally:
            try:
                self.flush()
            except OSError:
                pass
        if buf:
            raise ProtocolError(f"EOF in the middle of a frame "
                                f"({len(buf)} bytes)")


def serve(handler: Handler, *, description: Optional[str] = None,
          text: bool = False) -> None:
    """Run handler on every job the supervisor sends, until EOF.

    handler gets the job's bytes (a str decoded from UTF-8 with
    ``text=True``; undecodable bytes become lone surrogates, as with
    ``surrogateescape``) and returns its output: bytes, a str (encoded as
    UTF-8), an int or a float (written in decimal, so the summary sums them
    exactly), or None for an empty output.  An exception it raises makes
    the job ``failed`` with the exception's message as the reason (its type
    name when the message is empty); the worker goes on with the next job.
    KeyboardInterrupt and SystemExit are not jobs' failures: they end the
    worker, after the results already computed are written.

    description is the HELLO text shown in droverd's log (default:
    ``python-drover VERSION SCRIPT``).

    Start it with ``drover run --protocol frame --worker 'python3 w.py'`` or
    a pool with ``protocol = "frame"``; started for another protocol, it
    says so on stderr and exits 125 (do not restart).  serve() returns at
    EOF, once every job read is answered; a broken stream raises
    ProtocolError.
    """
    proto = os.environ.get("DROVER_PROTOCOL") or "frame"
    if proto != "frame":
        sys.stderr.write(f"drover.serve speaks the frame protocol, not "
                         f"{proto!r}: start this worker with --protocol "
                         f"frame (or protocol = \"frame\" in its pool)\n")
        sys.stderr.flush()
        sys.exit(EXIT_NORESPAWN)
    infd = os.dup(0)
    outfd = os.dup(1)
    # From here on stdout is stderr and stdin is empty, for the handler
    # and for anything it starts.
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    os.dup2(2, 1)
    try:
        sys.stdout.flush()
        sys.stdout.reconfigure(line_buffering=True)  # type: ignore
    except (AttributeError, OSError, ValueError):
        pass
    try:
        _Session(handler, infd, outfd, text).run(_describe(description))
    except BrokenPipeError:
        pass  # the supervisor is gone: nobody to answer
    finally:
        os.close(infd)
        os.close(outfd)
