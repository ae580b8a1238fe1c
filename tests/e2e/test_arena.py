#!/usr/bin/env python3
"""End-to-end tests of `roost serve`'s HttpArena routes: /pipeline, /baseline11, /json/N.

Usage: test_arena.py PATH/TO/roost
Each test class starts its own server on 127.0.0.1 with an ephemeral port; every wait is bounded.
"""
import http.client
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import unittest

import e2e_support
from e2e_support import Server, scaled

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DATASET = os.path.join(REPO, "data", "arena-items.json")


class ArenaTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = Server("--dataset", DATASET)
        cls.port = cls.server.port
        with open(DATASET) as f:
            cls.items = json.load(f)

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def request(self, method, target, body=None, headers=None):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=scaled(10))
        try:
            c.request(method, target, body=body, headers=headers or {})
            r = c.getresponse()
            return r.status, r.getheader("Content-Type"), r.read()
        finally:
            c.close()

    def test_pipeline_answers_ok(self):
        self.assertEqual(self.request("GET", "/pipeline"), (200, "text/plain", b"ok"))

    def test_pipelined_requests_are_answered_in_order(self):
        s = socket.create_connection(("127.0.0.1", self.port), timeout=scaled(10))
        s.sendall(b"GET /pipeline HTTP/1.1\r\nHost: x\r\n\r\n" * 16)
        buf, end = b"", time.time() + scaled(10)
        while buf.count(b"\r\n\r\nok") < 16 and time.time() < end:
            chunk = s.recv(65536)
            if not chunk:
                break
            buf += chunk
        s.close()
        self.assertEqual(buf.count(b"HTTP/1.1 200 OK\r\n"), 16)

    def test_baseline_get_sums_the_query(self):
        self.assertEqual(self.request("GET", "/baseline11?a=13&b=29")[::2], (200, b"42"))
        self.assertEqual(self.request("GET", "/baseline11?b=-5&a=2")[::2], (200, b"-3"))

    def test_baseline_post_adds_the_body(self):
        self.assertEqual(self.request("POST", "/baseline11?a=1&b=2", body=b"39")[::2],
                         (200, b"42"))

    def test_baseline_post_chunked_body(self):
        s = socket.create_connection(("127.0.0.1", self.port), timeout=scaled(10))
        s.sendall(b"POST /baseline11?a=1&b=2 HTTP/1.1\r\nHost: x\r\n"
                  b"Transfer-Encoding: chunked\r\n\r\n1\r\n1\r\n2\r\n00\r\n0\r\n\r\n")
        buf, end = b"", time.time() + scaled(10)
        while not buf.endswith(b"\r\n\r\n103") and time.time() < end:
            chunk = s.recv(65536)
            if not chunk:
                break
            buf += chunk
        s.close()
        self.assertTrue(buf.startswith(b"HTTP/1.1 200 OK\r\n"), buf)
        self.assertTrue(buf.endswith(b"\r\n\r\n103"), buf)

    def test_baseline_bad_input_is_400(self):
        for method, target, body in (("GET", "/baseline11?a=1", None),
                                     ("GET", "/baseline11?a=x&b=2", None),
                                     ("GET", "/baseline11?a=1&b=2x", None),
                                     ("GET", "/baseline11?a=9223372036854775807&b=1", None),
                                     ("POST", "/baseline11?a=1&b=2", b"seven"),
                                     ("POST", "/baseline11?a=1&b=2", b"")):
            st, typ, text = self.request(method, target, body=body)
            self.assertEqual(st, 400, (method, target, body))
            self.assertTrue(text, (method, target, body))

    def test_json_answers_count_items_with_total(self):
        for count, m in ((1, 1), (7, 3), (50, 2)):
            st, typ, body = self.request("GET", "/json/%d?m=%d" % (count, m))
            self.assertEqual((st, typ), (200, "application/json"))
            doc = json.loads(body)
            self.assertEqual(doc["count"], count)
            self.assertEqual(len(doc["items"]), count)
            for got, want in zip(doc["items"], self.items):
                self.assertEqual(got["total"], want["price"] * want["quantity"] * m)
                del got["total"]
                self.assertEqual(got, want)

    def test_json_without_m_multiplies_by_one(self):
        doc = json.loads(self.request("GET", "/json/3")[2])
        self.assertEqual([i["total"] for i in doc["items"]],
                         [i["price"] * i["quantity"] for i in self.items[:3]])

    def test_json_bad_input_is_400(self):
        for target in ("/json/0", "/json/51", "/json/x", "/json/-1", "/json/2?m=q",
                       "/json/2?m="):
            st, _, text = self.request("GET", target)
            self.assertEqual(st, 400, target)
            self.assertTrue(text, target)

    def test_dataset_file_is_what_the_generator_writes(self):
        with tempfile.TemporaryDirectory() as d:
            out = os.path.join(d, "items.json")
            subprocess.run([sys.executable, os.path.join(REPO, "data", "gen-arena-items.py"), out],
                           check=True, timeout=scaled(30))
            with open(out) as a, open(DATASET) as b:
                self.assertEqual(a.read(), b.read())


if __name__ == "__main__":
    e2e_support.ROOST = os.path.abspath(sys.argv.pop(1))
    import warnings
    warnings.simplefilter("ignore", ResourceWarning)
    unittest.main(verbosity=2)
