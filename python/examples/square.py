#!/usr/bin/env python3
"""The seed example as a Python worker: integers in, squares out.

    seq 100 | drover run -w 4 --protocol frame --worker 'python3 square.py'

gives the sum 338350, as ``drover run square`` does.  A job that is not an
integer fails with int()'s message.
"""
import drover


def square(job: bytes) -> int:
    """The square of the integer in job."""
    n = int(job)
    return n * n


if __name__ == "__main__":
    drover.serve(square)
