#!/usr/bin/env python3
"""Every endpoint of `roost serve` under a covering set of the documented switch matrix.

Usage: test_matrix.py PATH/TO/roost

The six two-valued switches (resume, run-on, wake, affinity, recv, speculative) are
covered pairwise by an 8-row orthogonal array: every value of every switch meets every
value of every other switch in at least one row, and the all-defaults row is included.
Each row starts its own server (2 reactors, ephemeral port) and asks for every endpoint,
on fresh connections and on one keep-alive connection where /offload comes before /delay
(with affinity off the task has then moved to a pool worker, and must still sleep).
"""
import os
import sys
import unittest

import e2e_support
from e2e_support import Server
from test_serve import read_responses

SWITCHES = [
    ("resume", ("inline", "posted")),
    ("run-on", ("reactor", "pool")),
    ("wake", ("coalesced", "per-item")),
    ("affinity", ("on", "off")),
    ("recv", ("multishot", "oneshot")),
    ("speculative", ("on", "off")),
]

# The first six columns of the two-level orthogonal array L8(2^7).
ROWS = [
    "000000",
    "000111",
    "011001",
    "011110",
    "101010",
    "101101",
    "110011",
    "110100",
]

ENDPOINTS = [
    ("/", 200, b"roost serve"),
    ("/plaintext", 200, b"Hello, World!"),
    ("/json", 200, b'{"message":"Hello, World!"}'),
    ("/delay/5", 200, b"slept 5 ms"),
    ("/offload", 200, None),
    ("/metrics", 200, b"roost_ticks"),
]


def row_flags(row):
    flags = []
    for (name, values), bit in zip(SWITCHES, row):
        flags += ["--" + name, values[int(bit)]]
    return flags


class MatrixTest(unittest.TestCase):
    def check(self, path, status, body, got):
        self.assertEqual(got[0], status, path)
        if body is not None:
            self.assertIn(body, got[2], path)
        if path in ("/delay/5", "/offload"):
            self.assertIn(got[1].get("x-roost-reactor"), ("0", "1"), path)

    def test_pairwise_covering_set_is_complete(self):
        for i in range(len(SWITCHES)):
            for j in range(i + 1, len(SWITCHES)):
                seen = {(r[i], r[j]) for r in ROWS}
                self.assertEqual(seen, {("0", "0"), ("0", "1"), ("1", "0"), ("1", "1")})

    def test_every_endpoint_under_every_row(self):
        for row in ROWS:
            flags = row_flags(row)
            with self.subTest(flags=" ".join(flags)):
                server = Server(*flags)
                try:
                    for path, status, body in ENDPOINTS:
                        s = server.raw()
                        s.sendall(b"GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % path.encode())
                        out, _ = read_responses(s, 1, deadline=30.0)
                        s.close()
                        self.assertEqual(len(out), 1, path)
                        self.check(path, status, body, out[0])
                    # One keep-alive connection: every endpoint in turn, /offload first.
                    s = server.raw()
                    order = [ENDPOINTS[4], ENDPOINTS[3]] + ENDPOINTS[:3] + ENDPOINTS[5:]
                    for path, status, body in order:
                        s.sendall(b"GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % path.encode())
                        out, _ = read_responses(s, 1, deadline=30.0)
                        self.assertEqual(len(out), 1, path)
                        self.check(path, status, body, out[0])
                    # And pipelined, all at once, answered in order.
                    s.sendall(b"".join(b"GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % p.encode()
                                       for p, _, _ in order))
                    out, _ = read_responses(s, len(order), deadline=30.0)
                    self.assertEqual(len(out), len(order))
                    for (path, status, body), got in zip(order, out):
                        self.check(path, status, body, got)
                    s.close()
                finally:
                    rc = server.stop()
                self.assertEqual(rc, 0, "server exit status")


if __name__ == "__main__":
    e2e_support.ROOST = os.path.abspath(sys.argv.pop(1))
    import warnings
    warnings.simplefilter("ignore", ResourceWarning)
    unittest.main(verbosity=2)
