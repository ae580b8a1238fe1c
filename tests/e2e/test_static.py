#!/usr/bin/env python3
"""End-to-end tests of `roost serve --static-dir`: GET /static/{file}.

Usage: test_static.py PATH/TO/roost
Headers (Content-Type, ETag, Last-Modified, conditional requests, Range, If-Range,
precompressed siblings with Vary), HEAD and 405, escape attempts that must never reach a
file outside the directory, a file changed on disk, a 64 MiB sparse file downloaded
byte-exact with the server's RSS staying small, and a client that stops reading during a big
file: the reactor keeps serving others and the send timeout ends that connection.
Run three times: with the defaults (small files copied with the head, larger ones sent with
sendfile(2) from the page cache), with speculation off (larger files spliced on the ring)
and with one-shot receives.
Servers listen on 127.0.0.1, ephemeral ports, one reactor (so a stalled connection and the
others share it); every wait is bounded.
"""
import hashlib
import os
import re
import shutil
import socket
import sys
import tempfile
import time
import unittest

import e2e_support
from e2e_support import Server, scaled

SECRET = b"SECRET-OUTSIDE-THE-DIRECTORY\n"
BIG = 64 * 1024 * 1024
# bytes written into the sparse file at these offsets, so a wrong offset cannot pass
MARKS = [(0, b"start"), (12345678, b"middle"), (BIG - 3, b"end")]
SEND_TIMEOUT_MS = int(scaled(1500))


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


class StaticTest(unittest.TestCase):
    FLAGS = []  # extra `roost serve` flags

    @classmethod
    def setUpClass(cls):
        cls.top = tempfile.mkdtemp(prefix="roost-static-")
        cls.root = os.path.join(cls.top, "www")
        d = cls.root
        os.mkdir(d)
        with open(os.path.join(cls.top, "secret.txt"), "wb") as f:
            f.write(SECRET)
        os.mkdir(os.path.join(cls.top, "outside"))
        with open(os.path.join(cls.top, "outside", "secret.txt"), "wb") as f:
            f.write(SECRET)
        with open(os.path.join(d, "hello.txt"), "wb") as f:
            f.write(b"hello, static world\n")
        with open(os.path.join(d, "index.html"), "wb") as f:
            f.write(b"<!doctype html><title>x</title>\n")
        with open(os.path.join(d, "app.js"), "wb") as f:
            f.write(b"console.log('identity');\n")
        with open(os.path.join(d, "app.js.gz"), "wb") as f:
            f.write(b"GZ-BYTES")
        with open(os.path.join(d, "app.js.br"), "wb") as f:
            f.write(b"BR-BYTES!")
        with open(os.path.join(d, "digits.bin"), "wb") as f:
            f.write(b"0123456789")
        os.mkdir(os.path.join(d, "sub"))
        with open(os.path.join(d, "sub", "site.css"), "wb") as f:
            f.write(b"body{}\n")
        os.symlink("/etc/passwd", os.path.join(d, "passwd"))
        os.symlink(os.path.join(cls.top, "secret.txt"), os.path.join(d, "secret-link"))
        os.symlink(os.path.join(cls.top, "outside"), os.path.join(d, "outdir"))
        os.symlink("hello.txt", os.path.join(d, "inside-link.txt"))
        os.mkfifo(os.path.join(d, "fifo"))
        with open(os.path.join(d, "big.bin"), "wb") as f:
            f.truncate(BIG)
            for off, data in MARKS:
                f.seek(off)
                f.write(data)
        cls.srv = Server("--static-dir", d, "--send-timeout-ms", str(SEND_TIMEOUT_MS), *cls.FLAGS,
                         reactors=1)
        cls.proc = cls.srv.proc

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()
        shutil.rmtree(cls.top)

    def get(self, target, headers=None, method="GET"):
        c = self.srv.conn()
        try:
            c.request(method, target, headers=headers or {})
            r = c.getresponse()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
        finally:
            c.close()

    def raw(self, target):
        """Sends target as is (no client-side normalisation); returns (status, body)."""
        s = self.srv.raw()
        s.sendall(b"GET " + target + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        buf = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            buf += chunk
        s.close()
        m = re.match(rb"HTTP/1\.1 (\d+)", buf)
        self.assertIsNotNone(m, buf[:100])
        return int(m.group(1)), buf

    # ---- headers -------------------------------------------------------------------------

    def test_get_has_type_validators_and_length(self):
        st, h, body = self.get("/static/hello.txt")
        self.assertEqual(st, 200)
        self.assertEqual(body, b"hello, static world\n")
        self.assertEqual(h["content-type"], "text/plain; charset=utf-8")
        self.assertEqual(h["content-length"], str(len(body)))
        self.assertRegex(h["etag"], r'^"[0-9a-f]+-[0-9a-f]+-[0-9a-f]+"$')
        self.assertRegex(h["last-modified"], r"^\w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d GMT$")
        self.assertEqual(h["accept-ranges"], "bytes")
        self.assertNotIn("vary", h)  # no .br/.gz sibling
        st, h, body = self.get("/static/sub/site.css")
        self.assertEqual((st, h["content-type"], body), (200, "text/css; charset=utf-8", b"body{}\n"))
        st, h, _ = self.get("/static/index.html")
        self.assertEqual(h["content-type"], "text/html; charset=utf-8")
        st, h, _ = self.get("/static/digits.bin")
        self.assertEqual(h["content-type"], "application/octet-stream")

    def test_head_has_the_get_headers_and_no_body(self):
        _, g, _ = self.get("/static/hello.txt")
        st, h, body = self.get("/static/hello.txt", method="HEAD")
        self.assertEqual((st, body), (200, b""))
        for k in ("content-length", "etag", "last-modified", "content-type"):
            self.assertEqual(h[k], g[k])

    def test_other_methods_are_405(self):
        st, h, _ = self.get("/static/hello.txt", method="POST")
        self.assertEqual(st, 405)
        self.assertIn("GET", h["allow"])

    def test_if_none_match_gives_304_and_wins_over_if_modified_since(self):
        _, h, _ = self.get("/static/hello.txt")
        etag, lm = h["etag"], h["last-modified"]
        st, h2, body = self.get("/static/hello.txt", {"If-None-Match": etag})
        self.assertEqual((st, body), (304, b""))
        self.assertEqual(h2["etag"], etag)
        self.assertNotIn("content-length", h2)
        st, _, _ = self.get("/static/hello.txt", {"If-None-Match": '"x", W/' + etag})
        self.assertEqual(st, 304)
        # a non-matching If-None-Match decides, whatever If-Modified-Since says
        st, _, body = self.get("/static/hello.txt",
                               {"If-None-Match": '"other"', "If-Modified-Since": lm})
        self.assertEqual((st, body), (200, b"hello, static world\n"))

    def test_if_modified_since(self):
        _, h, _ = self.get("/static/hello.txt")
        st, _, _ = self.get("/static/hello.txt", {"If-Modified-Since": h["last-modified"]})
        self.assertEqual(st, 304)
        st, _, _ = self.get("/static/hello.txt",
                            {"If-Modified-Since": "Sun, 06 Nov 1994 08:49:37 GMT"})
        self.assertEqual(st, 200)
        st, _, _ = self.get("/static/hello.txt", {"If-Modified-Since": "garbage"})
        self.assertEqual(st, 200)

    def test_ranges(self):
        cases = [("bytes=2-5", 206, b"2345", "bytes 2-5/10"),
                 ("bytes=7-", 206, b"789", "bytes 7-9/10"),
                 ("bytes=-3", 206, b"789", "bytes 7-9/10"),
                 ("bytes=8-100", 206, b"89", "bytes 8-9/10"),
                 ("bytes=0-1,4-5", 200, b"0123456789", None),
                 ("bytes=10-", 416, b"", "bytes */10"),
                 ("bytes=-0", 416, b"", "bytes */10")]
        for value, want, body, cr in cases:
            st, h, got = self.get("/static/digits.bin", {"Range": value})
            self.assertEqual((st, got), (want, body), value)
            self.assertEqual(h.get("content-range"), cr, value)
            self.assertEqual(h["content-length"], str(len(body)), value)

    def test_ranges_of_a_large_file_start_at_their_offset(self):
        # above --file-copy-max: sent with sendfile(2) or a splice from the range's offset
        off = MARKS[1][0] - 40000
        want = bytearray(100000)
        want[40000:40000 + len(MARKS[1][1])] = MARKS[1][1]
        st, h, body = self.get("/static/big.bin", {"Range": "bytes=%d-%d" % (off, off + 99999)})
        self.assertEqual(st, 206)
        self.assertEqual(h["content-range"], "bytes %d-%d/%d" % (off, off + 99999, BIG))
        self.assertEqual(body, bytes(want))
        st, _, body = self.get("/static/big.bin", {"Range": "bytes=-50000"})
        self.assertEqual((st, len(body)), (206, 50000))
        self.assertEqual(body[-3:], MARKS[2][1])

    def test_if_range(self):
        _, h, _ = self.get("/static/digits.bin")
        st, _, body = self.get("/static/digits.bin", {"Range": "bytes=0-1", "If-Range": h["etag"]})
        self.assertEqual((st, body), (206, b"01"))
        st, _, body = self.get("/static/digits.bin", {"Range": "bytes=0-1", "If-Range": '"old"'})
        self.assertEqual((st, body), (200, b"0123456789"))
        st, _, body = self.get("/static/digits.bin",
                               {"Range": "bytes=0-1", "If-Range": h["last-modified"]})
        self.assertEqual((st, body), (206, b"01"))

    def test_precompressed_siblings_by_accept_encoding(self):
        cases = [(None, None, b"console.log('identity');\n"),
                 ("gzip", "gzip", b"GZ-BYTES"),
                 ("gzip, br", "br", b"BR-BYTES!"),
                 ("br;q=0.5, gzip;q=0.9", "gzip", b"GZ-BYTES"),
                 ("br;q=0, gzip", "gzip", b"GZ-BYTES"),
                 ("br;q=0, gzip;q=0", None, b"console.log('identity');\n"),
                 ("deflate", None, b"console.log('identity');\n"),
                 ("*", "br", b"BR-BYTES!")]
        etags = set()
        for ae, coding, body in cases:
            st, h, got = self.get("/static/app.js", {"Accept-Encoding": ae} if ae else {})
            self.assertEqual((st, got), (200, body), ae)
            self.assertEqual(h.get("content-encoding"), coding, ae)
            self.assertEqual(h["vary"], "Accept-Encoding", ae)  # also on identity
            self.assertEqual(h["content-type"], "text/javascript; charset=utf-8", ae)
            etags.add((coding, h["etag"]))
        self.assertEqual(len({e for _, e in etags}), 3)  # one ETag per representation

    def test_directories_fifos_and_missing_files_are_404(self):
        for target in ("/static/sub", "/static/sub/", "/static/fifo", "/static/nope.txt",
                       "/static/hello.txt/x"):
            st, _, _ = self.get(target)
            self.assertEqual(st, 404, target)

    def test_symlink_inside_the_directory_is_served(self):
        st, _, body = self.get("/static/inside-link.txt")
        self.assertEqual((st, body), (200, b"hello, static world\n"))

    def test_escape_attempts_never_serve_outside_content(self):
        targets = [b"/static/../secret.txt", b"/static/%2e%2e/secret.txt",
                   b"/static/..%2fsecret.txt", b"/static/%2e%2e%2fsecret.txt",
                   b"/static/%2F..%2Fsecret.txt", b"/static/sub/..%2F..%2Fsecret.txt",
                   b"/static/hello.txt%00.js", b"/static/%00", b"/static//etc/passwd",
                   b"/static/%2Fetc%2Fpasswd", b"/static/passwd", b"/static/secret-link",
                   b"/static/outdir/secret.txt", b"/static/outdir", b"/static/sub/../../secret.txt",
                   b"/static/./../secret.txt", b"/secret.txt", b"/static/secret.txt"]
        with open("/etc/passwd", "rb") as f:
            passwd = f.read()[:16]
        for t in targets:
            st, buf = self.raw(t)
            self.assertIn(st, (400, 404), t)
            self.assertNotIn(SECRET, buf, t)
            self.assertNotIn(passwd, buf, t)

    def test_without_the_flag_static_is_404_and_unlisted(self):
        plain = Server(reactors=1)
        try:
            c = plain.conn()
            c.request("GET", "/static/hello.txt")
            self.assertEqual(c.getresponse().status, 404)
            c.close()
            c = plain.conn()
            c.request("GET", "/")
            self.assertNotIn(b"/static", c.getresponse().read())
            c.close()
        finally:
            plain.stop()
        _, _, index = self.get("/")
        self.assertIn(b"GET /static/{file}", index)

    def test_changed_file_gets_a_new_etag(self):
        path = os.path.join(self.root, "changing.txt")
        with open(path, "wb") as f:
            f.write(b"one")
        st, h1, body = self.get("/static/changing.txt")
        self.assertEqual((st, body), (200, b"one"))
        with open(path, "wb") as f:  # same size, same inode: only the mtime differs
            f.write(b"two")
        os.utime(path, ns=(time.time_ns(), os.stat(path).st_mtime_ns + 1000))
        st, h2, body = self.get("/static/changing.txt", {"If-None-Match": h1["etag"]})
        self.assertEqual((st, body), (200, b"two"))
        self.assertNotEqual(h1["etag"], h2["etag"])
        tmp = path + ".new"
        with open(tmp, "wb") as f:  # replaced by rename: a new inode
            f.write(b"333")
        os.rename(tmp, path)
        st, h3, body = self.get("/static/changing.txt")
        self.assertEqual((st, body), (200, b"333"))
        self.assertNotEqual(h3["etag"], h2["etag"])

    def test_descriptors_are_not_kept(self):
        # the per-tick cache of open files is swept: a burst of pipelined requests leaves the
        # server with the descriptors it had before
        fds = lambda: len(os.listdir("/proc/%d/fd" % self.proc.pid))
        s = self.srv.raw()
        s.sendall(b"GET /static/app.js HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\n\r\n"
                  b"GET /static/hello.txt HTTP/1.1\r\nHost: x\r\n\r\n" * 20)
        buf, end = b"", time.monotonic() + scaled(10)
        while buf.count(b"HTTP/1.1 200") < 40 and time.monotonic() < end:
            buf += s.recv(65536)
        self.assertEqual(buf.count(b"HTTP/1.1 200"), 40)
        before = fds()
        s.close()
        end = time.monotonic() + scaled(5)
        while fds() >= before and time.monotonic() < end:
            time.sleep(0.05)
        after = fds()
        self.assertLess(after, before)  # the connection's socket went
        st, _, _ = self.get("/static/hello.txt")  # another tick: the sweep ran
        time.sleep(scaled(0.2))
        self.assertLessEqual(fds(), after)

    def test_large_sparse_file_is_byte_exact_and_rss_stays_small(self):
        expect = bytearray(BIG)
        for off, data in MARKS:
            expect[off:off + len(data)] = data
        want = hashlib.sha256(expect).hexdigest()
        del expect
        before = rss_kib(self.proc.pid)
        c = self.srv.conn(timeout=30)
        c.request("GET", "/static/big.bin")
        r = c.getresponse()
        self.assertEqual(r.status, 200)
        self.assertEqual(r.getheader("Content-Length"), str(BIG))
        h, n, peak = hashlib.sha256(), 0, before
        while True:
            chunk = r.read(1 << 20)
            if not chunk:
                break
            h.update(chunk)
            n += len(chunk)
            peak = max(peak, rss_kib(self.proc.pid))
        # the connection stays usable: a later request on it waits for its answer
        time.sleep(scaled(0.3))
        c.request("GET", "/static/hello.txt")
        r = c.getresponse()
        self.assertEqual((r.status, r.read()), (200, b"hello, static world\n"))
        c.close()
        self.assertEqual(n, BIG)
        self.assertEqual(h.hexdigest(), want)
        # spliced from the page cache: the file never passes through the server's memory
        self.assertLess(peak - before, 16 * 1024, "RSS grew by %d KiB" % (peak - before))

    def test_client_that_stops_reading_does_not_stall_the_reactor_and_times_out(self):
        stalled = socket.socket()
        stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        stalled.settimeout(scaled(30))
        stalled.connect(("127.0.0.1", self.srv.port))
        stalled.sendall(b"GET /static/big.bin HTTP/1.1\r\nHost: x\r\n\r\n")
        got = stalled.recv(1024)  # the head has come: the big body is on its way
        self.assertTrue(got.startswith(b"HTTP/1.1 200"))
        # one reactor: its other connections are served while this one is stuck
        t0 = time.monotonic()
        for _ in range(20):
            st, _, body = self.get("/static/hello.txt")
            self.assertEqual((st, body), (200, b"hello, static world\n"))
        self.assertLess(time.monotonic() - t0, scaled(5))
        # the send timeout (no progress for SEND_TIMEOUT_MS) closes the stalled connection
        time.sleep(SEND_TIMEOUT_MS / 1000.0 + scaled(1))
        total, end = len(got), time.monotonic() + scaled(20)
        closed = False
        while time.monotonic() < end:
            try:
                chunk = stalled.recv(1 << 20)
            except ConnectionResetError:
                closed = True
                break
            if not chunk:
                closed = True
                break
            total += len(chunk)
        stalled.close()
        self.assertTrue(closed, "the stalled connection was not closed")
        self.assertLess(total, BIG)


class StaticSpliceTest(StaticTest):
    """The same with speculation off: no sendfile(2), files above 32 KiB spliced on the ring."""
    FLAGS = ["--speculative", "off"]


class StaticOneshotTest(StaticTest):
    """The same with one-shot receives: the socket sendfile(2) made non-blocking still waits
    for requests on the ring."""
    FLAGS = ["--recv", "oneshot"]


if __name__ == "__main__":
    if len(sys.argv) < 2:
        print("usage: test_static.py PATH/TO/roost", file=sys.stderr)
        sys.exit(2)
    e2e_support.ROOST = os.path.abspath(sys.argv.pop(1))
    unittest.main(verbosity=2)
