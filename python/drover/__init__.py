"""drover: workers and clients for the drover process supervisor.

- serve(handler): a frame-protocol worker around one function, for
  ``drover run --protocol frame --worker 'python3 w.py'`` or a droverd pool
  with ``protocol = "frame"``.
- Client: droverd's control socket: submit() a stream of jobs and iterate
  over their results, status(), reload(); results() and batches() of the
  durable batches droverd journals.

Pure standard library, Python 3.9 or later.  docs/python.md in the drover
sources is the guide; docs/protocol.md specifies the bytes.
"""
__version__ = "0.1.0"

from .client import (BatchResults, Client, ConnectError,  # noqa: E402
                     DroverError, PoolsFailed, ProtocolError, ReloadError,
                     RequestError, Result,
                     Submission, Summary, Unsupported)
from .worker import serve  # noqa: E402

__all__ = [
    "BatchResults",
    "Client",
    "ConnectError",
    "DroverError",
    "PoolsFailed",
    "ProtocolError",
    "ReloadError",
    "RequestError",
    "Result",
    "Submission",
    "Summary",
    "Unsupported",
    "serve",
    "__version__",
]
