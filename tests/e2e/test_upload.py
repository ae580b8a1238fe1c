#!/usr/bin/env python3
"""End-to-end tests of `roost serve`'s POST /upload (a streamed request body) and --dataset.

Usage: test_upload.py PATH/TO/roost
Each test class starts its own server on 127.0.0.1 with an ephemeral port; every wait is bounded.
"""
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import unittest

import e2e_support
from e2e_support import Server, scaled
from test_serve import read_responses

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DATASET = os.path.join(REPO, "data", "arena-items.json")
MB20 = 20000000

# Sanitizer builds keep freed memory in quarantine and shadow it: RSS says nothing there.
SANITIZED = bool(os.environ.get("ROOST_SANITIZE"))


def kib(pid, field):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(field)


PIECE = bytes(range(256)) * 256  # 64 KiB


def read_response(s):
    """Reads one response from socket s: (status, body)."""
    out, _ = read_responses(s, 1, deadline=60.0)
    if not out:
        raise ConnectionError("closed before a response")
    return out[0][0], out[0][2]


def upload(port, size, chunked=False):
    """POSTs size bytes to /upload (Content-Length or chunked); returns (status, body)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=scaled(60))
    try:
        if chunked:
            s.sendall(b"POST /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
        else:
            s.sendall(b"POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % size)
        left = size
        while left:
            piece = PIECE[:min(left, len(PIECE))]
            s.sendall(b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece)
            left -= len(piece)
        if chunked:
            s.sendall(b"0\r\n\r\n")
        return read_response(s)
    finally:
        s.close()


class UploadTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        # One reactor: its provided-buffer ring (buf-count x buf-size, 4 MiB by default) is
        # touched in full by the first large body; the warm-up below pays that once, so the
        # growth measured after it is what bodies cost.
        cls.server = Server(reactors="1", env=dict(os.environ, ROOST_SERVE_DATASET=DATASET))
        cls.proc, cls.port = cls.server.proc, cls.server.port
        status, body = upload(cls.port, MB20)
        assert (status, body) == (200, b"20000000"), (status, body)

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def test_content_length_20mb_counts_every_byte(self):
        self.assertEqual(upload(self.port, MB20), (200, b"20000000"))

    def test_chunked_20mb_counts_every_byte(self):
        self.assertEqual(upload(self.port, MB20, chunked=True), (200, b"20000000"))

    def test_http_client_upload_with_expect_continue(self):
        c = self.server.conn(timeout=60)
        try:
            c.request("POST", "/upload", body=b"x" * 3000000, headers={"Expect": "100-continue"})
            r = c.getresponse()
            self.assertEqual((r.status, r.getheader("Content-Type"), r.read()),
                             (200, "text/plain", b"3000000"))
        finally:
            c.close()

    def test_empty_upload_is_zero(self):
        self.assertEqual(upload(self.port, 0), (200, b"0"))
        self.assertEqual(upload(self.port, 0, chunked=True), (200, b"0"))

    def test_20mb_bodies_do_not_grow_the_server(self):
        if SANITIZED:
            self.skipTest("RSS under a sanitizer measures the sanitizer")
        before = kib(self.proc.pid, "VmHWM")
        self.assertEqual(upload(self.port, MB20), (200, b"20000000"))
        self.assertEqual(upload(self.port, MB20, chunked=True), (200, b"20000000"))
        growth = kib(self.proc.pid, "VmHWM") - before
        self.assertLess(growth, 4096, "peak RSS grew %d KiB over two 20 MB uploads" % growth)

    def test_concurrent_uploads(self):
        results = [None] * 6

        def run(i):
            try:
                results[i] = upload(self.port, 5000000 + i, chunked=bool(i % 2))
            except Exception as e:  # reported by the assertion below
                results[i] = e

        before = kib(self.proc.pid, "VmHWM")
        threads = [threading.Thread(target=run, args=(i,)) for i in range(len(results))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(scaled(120))
        for i, r in enumerate(results):
            self.assertEqual(r, (200, b"%d" % (5000000 + i)))
        growth = kib(self.proc.pid, "VmHWM") - before
        if not SANITIZED:
            self.assertLess(growth, 4096, "peak RSS grew %d KiB over 6 uploads" % growth)

    def test_malformed_chunk_mid_upload_is_400(self):
        s = socket.create_connection(("127.0.0.1", self.port), timeout=scaled(10))
        try:
            s.sendall(b"POST /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                      b"4\r\nabcd\r\nnot-hex\r\n")
            self.assertEqual(read_response(s)[0], 400)
            self.assertEqual(s.recv(100), b"")  # and the connection is closed
        finally:
            s.close()

    def test_get_upload_is_405(self):
        c = self.server.conn()
        try:
            c.request("GET", "/upload")
            self.assertEqual(c.getresponse().status, 405)
        finally:
            c.close()

    def test_index_lists_upload(self):
        c = self.server.conn()
        try:
            c.request("GET", "/")
            self.assertIn(b"POST /upload", c.getresponse().read())
        finally:
            c.close()


class StreamLimitTest(unittest.TestCase):
    def test_max_stream_body_bytes_answers_413_before_reading(self):
        server = Server("--max-stream-body-bytes", "1m")
        try:
            self.assertEqual(upload(server.port, 1 << 20), (200, b"1048576"))
            s = server.raw()
            try:
                # the head alone: the verdict comes before any body byte is read
                s.sendall(b"POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n"
                          % ((1 << 20) + 1))
                self.assertEqual(read_response(s)[0], 413)
            finally:
                s.close()
        finally:
            server.stop()


class DatasetFlagTest(unittest.TestCase):
    def json3(self, server):
        c = server.conn()
        try:
            c.request("GET", "/json/3")
            r = c.getresponse()
            return r.status, r.read()
        finally:
            c.close()

    def refused(self, args, env=None):
        """Runs a serve that must refuse to start: returns its stderr."""
        p = subprocess.run([e2e_support.ROOST, "serve", "--port", "0"] + args, capture_output=True,
                           text=True, timeout=scaled(30), env=env)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertNotIn("listening", p.stdout)
        return p.stderr

    def test_good_file_serves_json(self):
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "items.json")
            with open(DATASET) as f:
                items = json.load(f)
            items[0]["name"] = "Renamed"
            with open(path, "w") as f:
                f.write("[\n" + ",\n".join(json.dumps(i, separators=(",", ":")) for i in items)
                        + "\n]\n")
            # the flag wins over the environment variable, which names a missing file
            env = dict(os.environ, ROOST_SERVE_DATASET=os.path.join(d, "missing.json"))
            server = Server("--dataset", path, env=env)
            try:
                status, body = self.json3(server)
                self.assertEqual(status, 200)
                self.assertEqual(json.loads(body)["items"][0]["name"], "Renamed")
            finally:
                server.stop()

    def test_environment_variable_is_the_fallback(self):
        server = Server(env=dict(os.environ, ROOST_SERVE_DATASET=DATASET))
        try:
            self.assertEqual(self.json3(server)[0], 200)
        finally:
            server.stop()

    def test_missing_file_exits_1(self):
        err = self.refused(["--dataset", "/nonexistent/items.json"])
        self.assertIn("/nonexistent/items.json", err)
        self.assertIn("No such file", err)

    def test_missing_file_from_the_environment_exits_1(self):
        err = self.refused([], env=dict(os.environ, ROOST_SERVE_DATASET="/nonexistent/x.json"))
        self.assertIn("/nonexistent/x.json", err)

    def test_malformed_file_exits_1(self):
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "bad.json")
            with open(DATASET) as f:
                lines = f.readlines()
            lines[3] = '{"id":3,"name":oops}\n'
            with open(path, "w") as f:
                f.writelines(lines)
            err = self.refused(["--dataset", path])
            self.assertIn(path, err)
            self.assertIn("line 4", err)
            with open(path, "w") as f:
                f.writelines(lines[:3] + ["]\n"])
            self.assertIn("fewer than 50 items", self.refused(["--dataset", path]))


if __name__ == "__main__":
    e2e_support.ROOST = os.path.abspath(sys.argv.pop(1))
    import warnings
    warnings.simplefilter("ignore", ResourceWarning)
    unittest.main(verbosity=2)
