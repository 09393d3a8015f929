"""The 16-byte message header shared by the frame and control protocols.

Every message, both ways, is a header followed by ``len`` bytes of payload;
all integers are little-endian (docs/protocol.md, common/frame.h)::

    offset  size  field
    0       4     len     payload bytes after the header
    4       1     type
    5       1     status
    6       2     reserved, must be 0
    8       8     id      HELLO/REQUEST: protocol version; else a job id
"""
import struct
from typing import Optional, Tuple

HEADER = struct.Struct("<IBBHQ")
HDRLEN = HEADER.size  # 16

# The frame protocol (worker side).
FRAME_VERSION = 1
FRAME_HELLO = 1
FRAME_JOB = 2
FRAME_RESULT = 3
FRAME_OK = 0
FRAME_FAIL = 1
FRAME_HELLO_MAX = 256
FRAME_MAXLEN = 1 << 30

# The control protocol (client side, common/ctl.h).
CTL_VERSION = 1
CTL_REQUEST = 1
CTL_REPLY = 2
CTL_JOB = 3
CTL_END = 4
CTL_RESULT = 5
CTL_BYE = 6
CTL_CANCEL = 7
CTL_ACCEPTED = 8  # a durable batch's jobs up to id are committed
CTL_ACC_ENDED = 1  # ACCEPTED's status once the END is committed too
CTL_META = struct.Struct("<IIQ")  # worker pid, attempts, latency in us
CTL_JSON_MAX = 16 * 1024 * 1024
CTL_REQUEST_MAX = 64 * 1024

# A RESULT's status is the job's: these names, in this order.
JOB_STATUSES = ("ok", "failed", "timeout", "crashed", "cancelled",
                "rejected")

Header = Tuple[int, int, int, int]  # (len, type, status, id)


def pack(typ: int, payload: bytes = b"", ident: int = 0,
         status: int = 0) -> bytes:
    """One message: its header, then payload."""
    return HEADER.pack(len(payload), typ, status, 0, ident) + payload


def parse(buf: bytes, off: int,
          maxlen: int) -> Optional[Tuple[Header, int]]:
    """The message at buf[off:], if it is whole.

    Returns ((len, type, status, id), payload offset), or None when more
    bytes are needed.  Raises ValueError for a header that breaks the
    protocol: non-zero reserved bytes, or a payload over maxlen.
    """
    if len(buf) - off < HDRLEN:
        return None
    n, typ, status, zero, ident = HEADER.unpack_from(buf, off)
    if zero != 0:
        raise ValueError("reserved header bytes are not zero")
    if n > maxlen:
        raise ValueError(f"a {n}-byte payload is over the limit of "
                         f"{maxlen}")
    if len(buf) - off - HDRLEN < n:
        return None
    return (n, typ, status, ident), off + HDRLEN
