#!/usr/bin/env python3
"""Write the seed corpora of the fuzz targets (tests/fuzz/corpus/NAME/).

A handful of small, valid or nearly valid inputs per target, each in the
layout its harness reads (the first bytes are the harness's mode, see the
comment at the top of each fuzz_*.c).  Run it again after changing a
harness's layout: it replaces the corpus directories.

    python3 tests/fuzz/make_seeds.py
"""
import json
import os
import shutil
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "corpus")


def hdr(length, typ, status=0, flags=0, ident=0):
    """A 16-byte frame or control header (common/frame.h, common/ctl.h)."""
    return struct.pack("<IBBBBQ", length, typ, status, flags, 0, ident)


def frame(typ, payload=b"", status=0, flags=0, ident=0):
    return hdr(len(payload), typ, status, flags, ident) + payload


def section(b):
    return struct.pack("<I", len(b)) + b


def field_int(name, v):
    return bytes([len(name)]) + name + b"\x01" + struct.pack("<q", v)


def field_str(name, s):
    return bytes([len(name)]) + name + b"\x02" + section(s)


HELLO, JOB, RESULT = 1, 2, 3
OK, FAIL = 0, 1


def frame_seeds():
    caps = b"drover-worker 0.1.0 exec\njob-meta result-stderr " \
        b"result-output result-fields max-result=1024"
    fields = field_int(b"http_status", 404) + field_str(b"body", b"\xffx")
    v2 = frame(HELLO, caps, ident=2)
    return {
        # max_result_bytes 4096 (index 5), read-size seed 7
        "v1": b"\x05\x07" + frame(HELLO, b"drover-worker 0.1.0 square",
                                  ident=1) +
        frame(RESULT, b"49", ident=42) +
        frame(RESULT, b"not an integer", FAIL, ident=3),
        "v2-stderr": b"\x05\x03" + v2 +
        frame(RESULT, section(b"oops") + b"exit status 1", FAIL,
              0x01, ident=42),
        "v2-all": b"\x07\x01" + v2 +
        frame(RESULT, section(b"oops") + section(b"hi") + section(fields) +
              b"exit status 1", FAIL, 0x07, ident=42) +
        frame(RESULT, section(field_int(b"n", 1)) + b"ok", OK, 0x04,
              ident=1),
        "v2-nocaps": b"\x02\x09" + frame(HELLO, b"w\n", ident=2) +
        frame(RESULT, b"x", ident=0),
        "bad-cap": b"\x05\x05" + frame(HELLO, b"w\nmax-result=0 job-meta",
                                       ident=2),
        "second-hello": b"\x04\x02" + frame(HELLO, b"a", ident=1) +
        frame(HELLO, b"b", ident=1),
        "v2-batch": b"\x05\x06" +
        frame(HELLO, b"w\nresult-typed job-batch result-batch", ident=2) +
        frame(RESULT, struct.pack("<qq", 49, 100), OK, 0x50, ident=3) +
        frame(RESULT, struct.pack("<d", 0.5), OK, 0x60, ident=5) +
        frame(RESULT, struct.pack("<q", 1), OK, 0x50, ident=3),
    }


def lines_seeds():
    return {
        # byte 0: limit index | 8 = NUL | 16 = window 1; byte 1: seed
        "line": b"\x05\x03" + b"1\n4\n!not a number\n!!bang\nlast",
        "tagged": b"\x06\x05" + b"1\t49\n2\t!failed\n3\t!!lit\n07\tx\ty\n",
        "crlf": b"\x04\x07" + b"a\r\nb\r\n\r\n\n",
        "toolong": b"\x03\x0b" + b"short\nthis line is too long\nok\n" +
        b"x" * 40,
        "nul": b"\x0d\x01" + b"a\x00bb\x00\x00ccc\x00with\nnewline",
        "ids": b"\x17\x03" + b"18446744073709551615\tmax\n" +
        b"18446744073709551616\tover\n\tnoid\n",
    }


def json_seeds():
    return {
        "ascii": b"hello, world",
        "escapes": b"\"\\/\b\f\n\r\t\x01\x1f\x7f",
        "utf8": "h\u00e9llo \u20ac \U0001f600".encode(),
        "bad": b"\xff\xfe\x80\xc0\xaf\xe0\x80\xaf",
        "surrogate": b"\xed\xa0\x80\xed\xbf\xbf\xf4\x90\x80\x80",
        "nul": b"a\x00b\x00",
        "cut": b"ok \xe2\x82",
    }


def config_seeds():
    with open(os.path.join(HERE, "..", "..", "config", "droverd.conf"),
              "rb") as f:
        example = f.read()
    a = b"""socket = "/tmp/d.sock";
socket_mode = "0600";
log_level = "debug";
pools = (
  { name = "sq"; handler = "square"; workers = 2; window = 8; },
  { name = "ln"; command = ["/bin/cat"]; protocol = "line";
    job_timeout = 1.5; max_result_bytes = 4096; rlimit_nofile = 64; }
);
"""
    b = a.replace(b"workers = 2", b"workers = 3").replace(
        b"1.5", b"2.5").replace(b'"debug"', b'"info"')
    return {
        "example": example,
        "reload": a + b"\x00" + b,
        "same": a + b"\x00" + a,
        "bad": b"pools = ( { name = 1; workers = -1; } );\x00socket = ;",
        "empty": b"\x00",
        "include": b'@include "b.conf"\nlog_level = "warning";\x00' +
        b'pools = ({ name = "x"; handler = "sleep"; rate = 10.0; ' +
        b'burst = 5.0; });',
    }


REQUEST, REPLY, CJOB, END, CRESULT, BYE, CANCEL = range(1, 8)
RECORDS = 9
SUMS = 10
INPUT, READ = 11, 12


def req(obj, version=1):
    return frame(REQUEST, json.dumps(obj, separators=(",", ":")).encode(),
                 ident=version)


def control_server_seeds():
    # byte 0: 1 pool p | 2 draining | 4 reload fails | 8 small jobs |
    # (end << 4) | 64 flood; byte 1: seed
    submit = req({"op": "submit", "pool": "p"})
    rsubmit = req({"op": "submit", "pool": "p", "records": 10})
    jobs = b"".join(frame(CJOB, str(i).encode(), ident=i) for i in range(4))
    return {
        "status": b"\x00\x03" + req({"op": "status"}),
        "submit": b"\x01\x05" + submit + jobs + frame(END),
        "submit-shut": b"\x11\x07" + submit + jobs + frame(END),
        "submit-cancel": b"\x01\x09" + submit + jobs + frame(CANCEL),
        "submit-stop": b"\x31\x0b" + submit + jobs,
        "toolong": b"\x09\x01" + submit + frame(CJOB, b"x" * 40, ident=7) +
        frame(CJOB, b"ok", ident=8) + frame(END),
        "unknown-pool": b"\x00\x01" + req({"op": "submit", "pool": "q"}),
        "reload": b"\x04\x03" + req({"op": "reload"}),
        "scale": b"\x01\x03" + req({"op": "scale", "pool": "p",
                                    "workers": 3}),
        "garbage": b"\x21\x05" + submit + frame(REPLY, b"{}") + jobs,
        "version": b"\x00\x02" + req({"op": "status"}, version=2),
        "flood-stop": b"\x71\x00" + jobs + frame(END),
        "flood-hangup": b"\x61\x05" + jobs,
        "flood-stay": b"\x41\x07" + frame(CANCEL),
        "records": b"\x01\x05" + rsubmit + frame(RECORDS, b"1\n2\n\n3\n",
                                                 ident=0) +
        frame(CJOB, b"4", ident=4) + frame(RECORDS, b"5\n", ident=5) +
        frame(END),
        "records-toolong": b"\x09\x03" + rsubmit +
        frame(RECORDS, b"1\n" + b"x" * 40 + b"\n3\n", ident=9) + frame(END),
        "records-unended": b"\x01\x07" + rsubmit +
        frame(RECORDS, b"1\n2", ident=0) + frame(END),
        "records-many": b"\x01\x00" + rsubmit +
        frame(RECORDS, b"a" * 15 + b"\n" * 1026, ident=0) + frame(END),
        "records-nul": b"\x21\x09" + req({"op": "submit", "pool": "p",
                                           "records": 0}) +
        frame(RECORDS, b"a\x00b\x00", ident=2**64 - 2) + frame(END),
        # INPUT offered, then sent without its fd, or after a JOB.
        "input-nofd": b"\x01\x05" + req({"op": "submit", "pool": "p",
                                          "records": 10,
                                          "pass_input": True}) +
        frame(INPUT) + frame(CJOB, b"1", ident=0),
        "input-late": b"\x01\x03" + req({"op": "submit", "pool": "p",
                                          "records": 10,
                                          "pass_input": True}) +
        frame(CJOB, b"1", ident=0) + frame(INPUT) + frame(END),
    }


def meta(pid, attempts, latency):
    return struct.pack("<IIQ", pid, attempts, latency)


def control_client_seeds():
    # byte 0: jobs (0-7) | 8 --json | 16 --ordered | 32 --tag |
    # 64 --halt now,fail=1 | 128 --joblog; byte 1: seed | 128 --quiet
    ok = frame(REPLY, b'{"ok":true,"pool":"p","max_job_bytes":1048576}')
    res = b"".join(frame(CRESULT, meta(100, 1, 9) + str(i * i).encode(),
                         ident=i) for i in range(3))
    bye = frame(BYE, b'{"restarts":0}')
    return {
        "ok": b"\x03\x05" + ok + res + bye,
        "json": b"\x0b\x07" + ok + res +
        frame(CRESULT, meta(100, 2, 5) + b"boom", 1, ident=2) + bye,
        "refused": b"\x02\x03" + frame(REPLY,
                                       b'{"ok":false,"error":"unknown '
                                       b'pool \'p\'"}'),
        "stopped": b"\x14\x09" + ok + res[:33] +
        frame(BYE, b'{"restarts":2,"stopped":"draining"}'),
        "dup": b"\x23\x01" + ok + res + res + bye,
        "bad": b"\x01\x03" + ok + frame(CRESULT, b"short", ident=0),
        "halt": b"\x45\x05" + ok +
        frame(CRESULT, meta(1, 1, 1) + b"why", 1, ident=0) + res + bye,
        "joblog": b"\x86\x03" + ok + res + bye,
        "runs": b"\x2d\x05" + ok +
        frame(CRESULT, struct.pack("<IIqQqQ", 7, 1, 1, 3, 4, 5), 0,
              0x50, ident=0) +
        frame(CRESULT, struct.pack("<IIdQ", 9, 2, 16.0, 1), 0, 0x60,
              ident=3) +
        frame(CRESULT, struct.pack("<IIqQ", 7, 1, 4, 3), 0, 0x50,
              ident=1) + bye,
        "runlat": b"\x2d\x07" + ok +
        frame(CRESULT, struct.pack("<IIQqq", 7, 1, 12, 1, 4), 0, 0xd0,
              ident=0) +
        frame(CRESULT, struct.pack("<IIQd", 9, 2, 3, 9.5), 0, 0xe0,
              ident=2) +
        frame(CRESULT, struct.pack("<IIQq", 7, 1, 12, 4), 0, 0xd0,
              ident=1) + bye,
        # SUMS (type 10) to --quiet, among RESULTs; then a bad one.
        "sums": b"\x05\x87" + ok +
        frame(SUMS, struct.pack("<IIQQ", 7, 1, 12, 2) +
              (5).to_bytes(16, "little", signed=True) +
              struct.pack("<qq", 1, 4), ident=0) +
        frame(CRESULT, meta(9, 2, 3) + b"oops", 1, ident=2) +
        frame(SUMS, struct.pack("<IIQQ", 7, 2, 12, 2) +
              (25).to_bytes(16, "little", signed=True) +
              struct.pack("<qq", 9, 16), ident=3) + bye,
        # droverd offers to read the input: the client passes it, READs.
        "input": b"\x03\x87" + frame(REPLY, b'{"ok":true,"pool":"p",'
                                      b'"max_job_bytes":16,"records":true,'
                                      b'"input":"fd"}') +
        frame(READ, ident=2) + frame(SUMS, struct.pack("<IIQQ", 7, 1, 12, 2) +
                                     (5).to_bytes(16, "little", signed=True) +
                                     struct.pack("<qq", 1, 4), ident=0) +
        frame(READ, ident=3, status=1) +
        frame(CRESULT, meta(9, 1, 3) + b"9", ident=2) + bye,
        "sums-bad": b"\x03\x85" + ok +
        frame(SUMS, struct.pack("<IIQQ", 7, 1, 12, 2) +
              (9).to_bytes(16, "little", signed=True) +
              struct.pack("<qq", 1, 4), ident=0) + bye,
    }


def main():
    targets = {
        "frame": frame_seeds(),
        "lines": lines_seeds(),
        "json": json_seeds(),
        "config": config_seeds(),
        "control_server": control_server_seeds(),
        "control_client": control_client_seeds(),
    }
    for name, seeds in targets.items():
        d = os.path.join(OUT, name)
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)
        for seed, data in seeds.items():
            with open(os.path.join(d, seed), "wb") as f:
                f.write(data)
        print("%s: %d seeds, %d bytes" % (name, len(seeds),
                                           sum(map(len, seeds.values()))))


if __name__ == "__main__":
    main()
